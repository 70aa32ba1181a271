/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parse.c - Rego text to the AST of ast.h: a tokenizer over the whole text,
 * then a recursive-descent parser.  Accepts v1 syntax (if, contains, in,
 * every always keywords) and the v0 forms upstream's policies still use
 * (`p { }`, `p[x] { }`, `f(x) = y { }`).  Composite literals whose parts are
 * all constant become one constant value here, so a large generated
 * policy_data costs nothing per query.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "sbuf.h"

enum tk { TK_EOF, TK_IDENT, TK_STRING, TK_NUMBER, TK_PUNCT };

struct token {
	enum tk k;
	const char *s; /* source text */
	size_t len;
	int line, col;
	bool nl_before, ws_before;
	const char *str; /* TK_STRING: decoded */
	size_t slen;
};

/* parse depth (each bracket level costs about 7): a bound for hostile text */
#define MAX_NESTING 1500

struct parser {
	struct arena *a;
	const char *file;
	struct token *t;
	size_t nt, i;
	bool nl_sig; /* newlines end literals here */
	bool no_bar; /* '|' ends the term (comprehension heads) */
	int depth;
	struct kerr *err;
	jmp_buf fail;
};

static __attribute__((noreturn, format(printf, 3, 4))) void perr(struct parser *p,
								 const struct token *t,
								 const char *fmt, ...)
{
	char msg[KERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kerr_set(p->err, -EINVAL, "%s:%d:%d: %s", p->file, t->line, t->col, msg);
	longjmp(p->fail, 3);
}

/* ---- tokenizer ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void put_utf8(struct sbuf *b, unsigned cp)
{
	char o[4];
	if (cp < 0x80) {
		sb_putc(b, (char)cp);
	} else if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		sb_putn(b, o, 2);
	} else if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		sb_putn(b, o, 3);
	} else {
		o[0] = (char)(0xF0 | (cp >> 18));
		o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[3] = (char)(0x80 | (cp & 0x3F));
		sb_putn(b, o, 4);
	}
}

static int read_u4(const char *s, size_t n, size_t i, unsigned *cp)
{
	if (i + 4 > n)
		return -1;
	unsigned v = 0;
	for (int k = 0; k < 4; k++) {
		int h = hexval(s[i + k]);
		if (h < 0)
			return -1;
		v = v * 16 + (unsigned)h;
	}
	*cp = v;
	return 0;
}

/* A "..." string from s[*i] (the quote); decoded into t. */
static void lex_string(struct parser *p, struct token *t, const char *s, size_t n, size_t *i)
{
	struct sbuf b = { .a = p->a };
	size_t j = *i + 1;
	for (;;) {
		if (j >= n || s[j] == '\n')
			perr(p, t, "unterminated string");
		char c = s[j];
		if (c == '"')
			break;
		if (c != '\\') {
			sb_putc(&b, c);
			j++;
			continue;
		}
		if (j + 1 >= n)
			perr(p, t, "unterminated string");
		char e = s[j + 1];
		j += 2;
		switch (e) {
		case '"':
			sb_putc(&b, '"');
			break;
		case '\\':
			sb_putc(&b, '\\');
			break;
		case '/':
			sb_putc(&b, '/');
			break;
		case 'b':
			sb_putc(&b, '\b');
			break;
		case 'f':
			sb_putc(&b, '\f');
			break;
		case 'n':
			sb_putc(&b, '\n');
			break;
		case 'r':
			sb_putc(&b, '\r');
			break;
		case 't':
			sb_putc(&b, '\t');
			break;
		case 'u': {
			unsigned cp, lo;
			if (read_u4(s, n, j, &cp) < 0)
				perr(p, t, "invalid \\u escape in string");
			j += 4;
			if (cp >= 0xD800 && cp < 0xDC00 && j + 6 <= n && s[j] == '\\' &&
			    s[j + 1] == 'u' && read_u4(s, n, j + 2, &lo) == 0 && lo >= 0xDC00 &&
			    lo < 0xE000) {
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				j += 6;
			}
			put_utf8(&b, cp);
			break;
		}
		default:
			perr(p, t, "invalid escape sequence '\\%c' in string", e);
		}
	}
	t->str = sb_str(&b);
	t->slen = b.n;
	*i = j + 1;
}

static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void lex_number(const char *s, size_t n, size_t *i)
{
	size_t j = *i;
	while (j < n && is_digit(s[j]))
		j++;
	if (j + 1 < n && s[j] == '.' && is_digit(s[j + 1])) {
		j++;
		while (j < n && is_digit(s[j]))
			j++;
	}
	if (j < n && (s[j] == 'e' || s[j] == 'E')) {
		size_t k = j + 1;
		if (k < n && (s[k] == '+' || s[k] == '-'))
			k++;
		if (k < n && is_digit(s[k])) {
			j = k;
			while (j < n && is_digit(s[j]))
				j++;
		}
	}
	*i = j;
}

static const char *const puncts[] = { ":=", "==", "!=", "<=", ">=", "{", "}", "[", "]",
				      "(",  ")",  ".",  ",",  ";",  ":", "=", "<", ">",
				      "+",  "-",  "*",  "/",  "%",  "|", "&", NULL };

static void tokenize(struct parser *p, const char *s, size_t n)
{
	size_t cap = 64, nt = 0, i = 0;
	struct token *ts = malloc(cap * sizeof(*ts));
	int line = 1;
	size_t line_start = 0;
	bool nl = false, ws = false;
	if (!ts)
		longjmp(p->fail, 2);
	p->t = ts; /* run() frees it, also after an error */
	for (;;) {
		while (i < n) {
			char c = s[i];
			if (c == '\n') {
				nl = ws = true;
				line++;
				line_start = ++i;
			} else if (c == ' ' || c == '\t' || c == '\r') {
				ws = true;
				i++;
			} else if (c == '#') {
				while (i < n && s[i] != '\n')
					i++;
			} else {
				break;
			}
		}
		if (nt + 1 >= cap) {
			cap *= 2;
			struct token *nts = realloc(ts, cap * sizeof(*ts));
			if (!nts)
				longjmp(p->fail, 2);
			ts = nts;
			p->t = ts;
		}
		struct token *t = &ts[nt];
		memset(t, 0, sizeof(*t));
		t->line = line;
		t->col = (int)(i - line_start) + 1;
		t->nl_before = nl;
		t->ws_before = ws;
		t->s = s + i;
		nl = ws = false;
		if (i >= n) {
			t->k = TK_EOF;
			nt++;
			break;
		}
		size_t st = i;
		char c = s[i];
		if (is_ident_start(c)) {
			while (i < n && (is_ident_start(s[i]) || is_digit(s[i])))
				i++;
			t->k = TK_IDENT;
		} else if (is_digit(c)) {
			lex_number(s, n, &i);
			t->k = TK_NUMBER;
		} else if (c == '"') {
			lex_string(p, t, s, n, &i);
			t->k = TK_STRING;
		} else if (c == '`') {
			size_t j = i + 1;
			while (j < n && s[j] != '`')
				j++;
			if (j >= n) {
				perr(p, t, "unterminated raw string");
			}
			t->str = ar_strndup(p->a, s + i + 1, j - i - 1);
			t->slen = j - i - 1;
			for (size_t k = i; k < j; k++)
				if (s[k] == '\n') {
					line++;
					line_start = k + 1;
				}
			i = j + 1;
			t->k = TK_STRING;
		} else {
			const char *const *pp;
			for (pp = puncts; *pp; pp++)
				if (!strncmp(s + i, *pp, strlen(*pp)))
					break;
			if (!*pp) {
				perr(p, t, "unexpected character '%c'", c);
			}
			i += strlen(*pp);
			t->k = TK_PUNCT;
		}
		t->len = i - st;
		nt++;
	}
	p->t = ts;
	p->nt = nt;
}

/* ---- token helpers ---- */

static struct token *cur(struct parser *p)
{
	return &p->t[p->i];
}

static struct token *peek(struct parser *p, size_t k)
{
	size_t i = p->i + k;
	return &p->t[i < p->nt ? i : p->nt - 1];
}

static bool tok_is(const struct token *t, const char *s)
{
	return (t->k == TK_PUNCT || t->k == TK_IDENT) && t->len == strlen(s) &&
	       !memcmp(t->s, s, t->len);
}

static bool is(struct parser *p, const char *s)
{
	return tok_is(cur(p), s);
}

/* The current token starts a new literal (newline where newlines count). */
static bool at_break(struct parser *p)
{
	return p->nl_sig && cur(p)->nl_before;
}

static bool accept(struct parser *p, const char *s)
{
	if (is(p, s) && !at_break(p)) {
		p->i++;
		return true;
	}
	return false;
}

/* A token that starts a construct (a newline before it is fine). */
static bool take(struct parser *p, const char *s)
{
	if (is(p, s)) {
		p->i++;
		return true;
	}
	return false;
}

static void expect(struct parser *p, const char *s)
{
	if (!is(p, s))
		perr(p, cur(p), "expected '%s', found '%.*s'", s, (int)cur(p)->len, cur(p)->s);
	p->i++;
}

static const char *tok_text(struct parser *p, const struct token *t)
{
	return ar_strndup(p->a, t->s, t->len);
}

static const char *const keywords[] = { "package", "import",   "default", "else", "not",
					"some",    "every",    "in",      "with", "as",
					"if",      "contains", NULL };

static bool is_keyword(const struct token *t)
{
	for (const char *const *k = keywords; *k; k++)
		if (tok_is(t, *k))
			return true;
	return false;
}

static const char *expect_ident(struct parser *p)
{
	struct token *t = cur(p);
	if (t->k != TK_IDENT || is_keyword(t))
		perr(p, t, "expected a name, found '%.*s'", (int)t->len, t->s);
	p->i++;
	return tok_text(p, t);
}

/* ---- terms ---- */

struct term *term_new(struct arena *a, enum term_kind k, int line, int col)
{
	struct term *t = ar_alloc(a, sizeof(*t));
	memset(t, 0, sizeof(*t));
	t->k = k;
	t->slot = -1;
	t->line = line;
	t->col = col;
	return t;
}

static struct term *new_term(struct parser *p, enum term_kind k, const struct token *at)
{
	return term_new(p->a, k, at->line, at->col);
}

static struct term *const_term(struct parser *p, const struct rv *v, const struct token *at)
{
	struct term *t = new_term(p, TM_CONST, at);
	t->v = v;
	return t;
}

static struct term *call_term(struct parser *p, const char *name, const struct token *at,
			      struct term *x, struct term *y)
{
	struct term *t = new_term(p, TM_CALL, at);
	t->name = name;
	t->n = y ? 2 : 1;
	t->items = ar_alloc(p->a, 2 * sizeof(*t->items));
	t->items[0] = x;
	t->items[1] = y;
	return t;
}

static struct term *parse_in(struct parser *p);
static struct term *parse_expr_kv(struct parser *p);
static struct body *parse_body(struct parser *p, const char *end);
static struct body *parse_braced_body(struct parser *p);

static void enter(struct parser *p)
{
	if (++p->depth > MAX_NESTING)
		perr(p, cur(p), "nesting deeper than %d", MAX_NESTING);
}

/* Fold a composite whose parts are all constant into one constant. */
static struct term *fold(struct parser *p, struct term *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->items[i]->k != TM_CONST || (t->vals && t->vals[i]->k != TM_CONST))
			return t;
	const struct rv **v = t->n ? ar_alloc(p->a, t->n * sizeof(*v)) : NULL;
	for (size_t i = 0; i < t->n; i++)
		v[i] = t->items[i]->v;
	if (t->k == TM_ARRAY) {
		t->v = rv_arr(p->a, v, t->n);
	} else if (t->k == TM_SET) {
		t->v = rv_set(p->a, v, t->n);
	} else {
		const struct rv **vals = t->n ? ar_alloc(p->a, t->n * sizeof(*vals)) : NULL;
		for (size_t i = 0; i < t->n; i++)
			vals[i] = t->vals[i]->v;
		const struct rv *dup = NULL;
		t->v = rv_obj(p->a, v, vals, t->n, &dup);
		if (!t->v)
			return t; /* conflicting duplicate keys: an error when evaluated */
	}
	t->k = TM_CONST;
	return t;
}

struct tlist {
	struct term **v;
	size_t n, cap;
};

static void tl_push(struct parser *p, struct tlist *l, struct term *t)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 4;
		struct term **nv = ar_alloc(p->a, cap * sizeof(*nv));
		if (l->n)
			memcpy(nv, l->v, l->n * sizeof(*nv));
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = t;
}

/* Term in a collection: '|' is not union here (comprehension bar). */
static struct term *parse_item(struct parser *p)
{
	bool nb = p->no_bar;
	p->no_bar = true;
	struct term *t = parse_in(p);
	p->no_bar = nb;
	return t;
}

static struct body *parse_comp_body(struct parser *p, const char *end)
{
	bool sig = p->nl_sig;
	p->nl_sig = true;
	struct body *b = parse_body(p, end);
	p->nl_sig = sig;
	expect(p, end);
	return b;
}

static struct term *parse_array(struct parser *p, const struct token *at)
{
	struct tlist l = { 0 };
	if (!is(p, "]")) {
		struct term *first = parse_item(p);
		if (is(p, "|")) {
			p->i++;
			struct term *t = new_term(p, TM_ACOMP, at);
			t->head = first;
			t->body = parse_comp_body(p, "]");
			return t;
		}
		tl_push(p, &l, first);
		while (accept(p, ",")) {
			if (is(p, "]"))
				break;
			tl_push(p, &l, parse_item(p));
		}
	}
	expect(p, "]");
	struct term *t = new_term(p, TM_ARRAY, at);
	t->items = l.v;
	t->n = l.n;
	return fold(p, t);
}

static struct term *parse_braces(struct parser *p, const struct token *at)
{
	struct tlist k = { 0 }, v = { 0 };
	if (is(p, "}")) {
		p->i++;
		return const_term(p, &rv_empty_obj, at);
	}
	struct term *first = parse_item(p);
	if (is(p, "|")) {
		p->i++;
		struct term *t = new_term(p, TM_SCOMP, at);
		t->head = first;
		t->body = parse_comp_body(p, "}");
		return t;
	}
	if (accept(p, ":")) {
		struct term *val = parse_item(p);
		if (is(p, "|")) {
			p->i++;
			struct term *t = new_term(p, TM_OCOMP, at);
			t->head = first;
			t->head2 = val;
			t->body = parse_comp_body(p, "}");
			return t;
		}
		tl_push(p, &k, first);
		tl_push(p, &v, val);
		while (accept(p, ",")) {
			if (is(p, "}"))
				break;
			tl_push(p, &k, parse_item(p));
			expect(p, ":");
			tl_push(p, &v, parse_item(p));
		}
		expect(p, "}");
		struct term *t = new_term(p, TM_OBJECT, at);
		t->items = k.v;
		t->vals = v.v;
		t->n = k.n;
		return fold(p, t);
	}
	tl_push(p, &k, first);
	while (accept(p, ",")) {
		if (is(p, "}"))
			break;
		tl_push(p, &k, parse_item(p));
	}
	expect(p, "}");
	struct term *t = new_term(p, TM_SET, at);
	t->items = k.v;
	t->n = k.n;
	return fold(p, t);
}

static const struct rv *number_value(struct parser *p, const struct token *t, bool neg)
{
	char buf[128];
	if (t->len >= sizeof(buf) - 1)
		perr(p, t, "number too long");
	buf[0] = '-';
	memcpy(buf + 1, t->s, t->len);
	buf[t->len + 1] = 0;
	char *txt = neg ? buf : buf + 1;
	if (!memchr(t->s, '.', t->len) && !memchr(t->s, 'e', t->len) && !memchr(t->s, 'E', t->len)) {
		errno = 0;
		char *end;
		long long v = strtoll(txt, &end, 10);
		if (errno == ERANGE)
			perr(p, t,
			     "integer %s is out of range (numbers past int64 are not "
			     "supported)",
			     txt);
		if (!errno && !*end)
			return rv_int(p->a, v);
	}
	errno = 0;
	double d = strtod(txt, NULL);
	if (errno == ERANGE || isinf(d))
		perr(p, t, "number %s is out of range (numbers past a double are not supported)",
		     txt);
	return rv_num(p->a, d);
}

/* Parenthesised or bracketed terms ignore newlines. */
static struct term *parse_nested(struct parser *p,
				 struct term *(*fn)(struct parser *, const struct token *),
				 const struct token *at)
{
	bool sig = p->nl_sig, nb = p->no_bar;
	p->nl_sig = false;
	p->no_bar = false;
	struct term *t = fn(p, at);
	p->nl_sig = sig;
	p->no_bar = nb;
	return t;
}

static struct term *parse_paren(struct parser *p, const struct token *at)
{
	struct term *t = parse_expr_kv(p);
	expect(p, ")");
	return t;
}

static struct term *parse_args(struct parser *p, struct term *call)
{
	struct tlist l = { 0 };
	bool sig = p->nl_sig, nb = p->no_bar;
	p->nl_sig = false;
	p->no_bar = false;
	if (!is(p, ")")) {
		tl_push(p, &l, parse_in(p));
		while (accept(p, ",")) {
			if (is(p, ")"))
				break;
			tl_push(p, &l, parse_in(p));
		}
	}
	expect(p, ")");
	p->nl_sig = sig;
	p->no_bar = nb;
	call->items = l.v;
	call->n = l.n;
	return call;
}

static struct term *parse_primary(struct parser *p)
{
	struct token *t = cur(p);
	switch (t->k) {
	case TK_NUMBER:
		p->i++;
		return const_term(p, number_value(p, t, false), t);
	case TK_STRING:
		p->i++;
		return const_term(p, rv_str(p->a, t->str, t->slen), t);
	case TK_IDENT:
		if (tok_is(t, "true") || tok_is(t, "false") || tok_is(t, "null")) {
			p->i++;
			return const_term(p,
					  tok_is(t, "null") ? &rv_null : rv_bool(tok_is(t, "true")),
					  t);
		}
		if (tok_is(t, "set") && tok_is(peek(p, 1), "(") && tok_is(peek(p, 2), ")")) {
			p->i += 3;
			return const_term(p, &rv_empty_set, t);
		}
		/* contains(s, x) is the builtin, not the keyword */
		if (is_keyword(t) &&
		    !(tok_is(t, "contains") && tok_is(peek(p, 1), "(") && !peek(p, 1)->ws_before))
			perr(p, t, "unexpected keyword '%.*s'", (int)t->len, t->s);
		p->i++;
		struct term *v = new_term(p, TM_VAR, t);
		v->name = tok_text(p, t);
		return v;
	case TK_PUNCT:
		p->i++;
		if (tok_is(t, "("))
			return parse_nested(p, parse_paren, t);
		if (tok_is(t, "["))
			return parse_nested(p, parse_array, t);
		if (tok_is(t, "{"))
			return parse_nested(p, parse_braces, t);
		p->i--;
		/* fallthrough */
	default:
		perr(p, t, "unexpected '%.*s'", t->k == TK_EOF ? 3 : (int)t->len,
		     t->k == TK_EOF ? "end" : t->s);
	}
}

/* a.b[c].d, and calls f(x), a.b.c(x) */
static struct term *parse_postfix(struct parser *p)
{
	struct token *at = cur(p);
	struct term *t = parse_primary(p);
	struct tlist l = { 0 };
	tl_push(p, &l, t);
	for (;;) {
		struct token *c = cur(p);
		if (c->ws_before)
			break;
		if (tok_is(c, ".")) {
			p->i++;
			struct token *nt = cur(p);
			if (nt->k != TK_IDENT || nt->ws_before)
				perr(p, nt, "expected a name after '.'");
			p->i++;
			tl_push(p, &l, const_term(p, rv_str(p->a, nt->s, nt->len), nt));
		} else if (tok_is(c, "[")) {
			p->i++;
			bool sig = p->nl_sig, nb = p->no_bar;
			p->nl_sig = false;
			p->no_bar = false;
			tl_push(p, &l, parse_in(p));
			p->nl_sig = sig;
			p->no_bar = nb;
			expect(p, "]");
		} else if (tok_is(c, "(")) {
			/* only a plain dotted name can be called */
			struct sbuf name = { .a = p->a };
			if (t->k != TM_VAR)
				perr(p, c, "only a name can be called");
			sb_puts(&name, t->name);
			for (size_t i = 1; i < l.n; i++) {
				if (l.v[i]->k != TM_CONST || l.v[i]->v->t != RV_STR)
					perr(p, c, "only a name can be called");
				sb_putc(&name, '.');
				sb_puts(&name, l.v[i]->v->str.s);
			}
			p->i++;
			struct term *call = new_term(p, TM_CALL, at);
			call->name = sb_str(&name);
			t = parse_args(p, call);
			l.n = 0;
			tl_push(p, &l, t);
		} else {
			break;
		}
	}
	if (l.n == 1)
		return t;
	struct term *r = new_term(p, TM_REF, at);
	r->items = l.v;
	r->n = l.n;
	return r;
}

static struct term *parse_unary(struct parser *p)
{
	struct token *t = cur(p);
	if (tok_is(t, "-") && peek(p, 1)->k == TK_NUMBER && !peek(p, 1)->ws_before) {
		p->i += 2;
		return const_term(p, number_value(p, peek(p, -1), true), t);
	}
	if (tok_is(t, "-")) {
		p->i++;
		return call_term(p, "minus", t, const_term(p, rv_int(p->a, 0), t), parse_unary(p));
	}
	return parse_postfix(p);
}

struct binop {
	const char *tok, *fn;
};

static struct term *parse_level(struct parser *p, int level);

static const struct binop levels[][7] = {
	{ { "==", "equal" },
	  { "!=", "neq" },
	  { "<=", "lte" },
	  { ">=", "gte" },
	  { "<", "lt" },
	  { ">", "gt" },
	  { NULL, NULL } },
	{ { "|", "or" }, { NULL, NULL } },
	{ { "&", "and" }, { NULL, NULL } },
	{ { "+", "plus" }, { "-", "minus" }, { NULL, NULL } },
	{ { "*", "mul" }, { "/", "div" }, { "%", "rem" }, { NULL, NULL } },
};
#define NLEVELS 5

static struct term *parse_level(struct parser *p, int level)
{
	if (level == NLEVELS)
		return parse_unary(p);
	enter(p);
	struct term *lhs = parse_level(p, level + 1);
	for (;;) {
		if (at_break(p))
			break;
		const struct binop *op = NULL;
		for (const struct binop *b = levels[level]; b->tok; b++)
			if (is(p, b->tok))
				op = b;
		if (!op || (p->no_bar && !strcmp(op->tok, "|")))
			break;
		struct token *at = cur(p);
		p->i++;
		lhs = call_term(p, op->fn, at, lhs, parse_level(p, level + 1));
	}
	p->depth--;
	return lhs;
}

static struct term *parse_in_from(struct parser *p, struct term *lhs);

/* x in xs (lowest binary precedence) */
static struct term *parse_in(struct parser *p)
{
	return parse_in_from(p, parse_level(p, 0));
}

/* An expression that may be `k, v in xs` (a literal, or in parentheses). */
static struct term *parse_expr_kv(struct parser *p)
{
	struct term *first = parse_level(p, 0);
	if (at_break(p) || !is(p, ","))
		return parse_in_from(p, first);
	struct token *at = cur(p);
	size_t save = p->i;
	p->i++;
	struct term *v = parse_level(p, 0);
	if (!is(p, "in")) {
		p->i = save; /* not a membership: let the caller see the ',' */
		return parse_in_from(p, first);
	}
	p->i++;
	struct term *coll = parse_level(p, 0);
	struct term *t = new_term(p, TM_CALL, at);
	t->name = "internal.member_3";
	t->n = 3;
	t->items = ar_alloc(p->a, 3 * sizeof(*t->items));
	t->items[0] = first;
	t->items[1] = v;
	t->items[2] = coll;
	return parse_in_from(p, t);
}

static struct term *parse_in_from(struct parser *p, struct term *lhs)
{
	enter(p);
	while (!at_break(p) && is(p, "in")) {
		struct token *at = cur(p);
		p->i++;
		lhs = call_term(p, "internal.member_2", at, lhs, parse_level(p, 0));
	}
	p->depth--;
	return lhs;
}

/* ---- literals and bodies ---- */

static struct lit *new_lit(struct parser *p, enum lit_kind k, const struct token *at)
{
	struct lit *l = ar_alloc(p->a, sizeof(*l));
	memset(l, 0, sizeof(*l));
	l->k = k;
	l->line = at->line;
	l->col = at->col;
	return l;
}

/* [k,] v in coll: for some and every */
static void parse_in_clause(struct parser *p, struct lit *l)
{
	struct term *first = parse_level(p, 0);
	if (accept(p, ",")) {
		l->a = first;
		l->b = parse_level(p, 0);
	} else {
		l->b = first;
	}
	if (!accept(p, "in"))
		perr(p, cur(p), "expected 'in'");
	l->c = parse_level(p, 0);
}

static struct lit *parse_some(struct parser *p, const struct token *at)
{
	/* some x, y  |  some x in xs  |  some k, v in xs */
	size_t save = p->i;
	struct lit *l = new_lit(p, LI_SOMEIN, at);
	/* look for 'in' before the end of the literal */
	bool has_in = false;
	int depth = 0;
	for (size_t i = p->i; i < p->nt; i++) {
		struct token *t = &p->t[i];
		if (t->k == TK_EOF || (depth == 0 && i > p->i && p->nl_sig && t->nl_before) ||
		    (depth == 0 && tok_is(t, ";")))
			break;
		if (tok_is(t, "{") || tok_is(t, "[") || tok_is(t, "("))
			depth++;
		if (tok_is(t, "}") || tok_is(t, "]") || tok_is(t, ")")) {
			if (depth-- == 0)
				break;
		}
		if (depth == 0 && tok_is(t, "in")) {
			has_in = true;
			break;
		}
	}
	if (has_in) {
		parse_in_clause(p, l);
		return l;
	}
	p->i = save;
	l->k = LI_SOME;
	struct tlist vars = { 0 };
	do {
		struct token *t = cur(p);
		struct term *v = new_term(p, TM_VAR, t);
		v->name = expect_ident(p);
		tl_push(p, &vars, v);
	} while (accept(p, ","));
	l->decl = vars.v;
	l->ndecl = vars.n;
	return l;
}

static struct lit *parse_literal(struct parser *p)
{
	struct token *at = cur(p);
	struct lit *l;
	enter(p);
	if (take(p, "some")) {
		l = parse_some(p, at);
	} else if (take(p, "every")) {
		l = new_lit(p, LI_EVERY, at);
		parse_in_clause(p, l);
		l->body = parse_braced_body(p);
	} else {
		bool neg = take(p, "not");
		struct term *a = parse_expr_kv(p);
		if (!at_break(p) && (is(p, ":=") || is(p, "="))) {
			l = new_lit(p, is(p, ":=") ? LI_ASSIGN : LI_UNIFY, at);
			p->i++;
			l->a = a;
			l->b = parse_in(p);
		} else {
			l = new_lit(p, LI_EXPR, at);
			l->a = a;
		}
		l->neg = neg;
	}
	struct with *w = NULL;
	size_t nw = 0;
	/* `with` is a keyword, so one on the next line still modifies this
	 * literal (OPA accepts a list of modifiers over several lines) */
	while (is(p, "with")) {
		p->i++;
		w = w ? w : ar_alloc(p->a, 16 * sizeof(*w));
		if (nw == 16)
			perr(p, cur(p), "too many 'with' modifiers");
		w[nw].target = parse_postfix(p);
		expect(p, "as");
		w[nw].value = parse_level(p, 0);
		nw++;
	}
	l->w = w;
	l->nw = nw;
	p->depth--;
	return l;
}

static bool at_end(struct parser *p, const char *end)
{
	return *end ? is(p, end) : cur(p)->k == TK_EOF;
}

/* Literals up to (not including) the token end ("" for the end of text). */
static struct body *parse_body(struct parser *p, const char *end)
{
	struct body *b = ar_alloc(p->a, sizeof(*b));
	size_t cap = 4;
	b->l = ar_alloc(p->a, cap * sizeof(*b->l));
	b->n = 0;
	while (!at_end(p, end)) {
		if (cur(p)->k == TK_EOF)
			perr(p, cur(p), "expected '%s' before end of text", end);
		if (accept(p, ";"))
			continue;
		if (b->n == cap) {
			struct lit **nl = ar_alloc(p->a, 2 * cap * sizeof(*nl));
			memcpy(nl, b->l, cap * sizeof(*nl));
			b->l = nl;
			cap *= 2;
		}
		b->l[b->n++] = parse_literal(p);
		if (!at_end(p, end) && !is(p, ";") && !cur(p)->nl_before)
			perr(p, cur(p), "unexpected '%.*s' after expression", (int)cur(p)->len,
			     cur(p)->s);
	}
	if (!b->n)
		perr(p, cur(p), "empty body");
	return b;
}

static struct body *parse_braced_body(struct parser *p)
{
	expect(p, "{");
	bool sig = p->nl_sig, nb = p->no_bar;
	p->nl_sig = true;
	p->no_bar = false;
	struct body *b = parse_body(p, "}");
	expect(p, "}");
	p->nl_sig = sig;
	p->no_bar = nb;
	return b;
}

/* ---- rules and modules ---- */

struct rlist {
	struct module *m;
	size_t cap;
};

static void add_rule(struct parser *p, struct rlist *rl, struct rule *r, const char **path,
		     size_t npath, enum rule_kind kind)
{
	struct module *m = rl->m;
	if (m->nrules == rl->cap) {
		size_t cap = rl->cap ? 2 * rl->cap : 16;
		struct rule **nr = ar_alloc(p->a, cap * sizeof(*nr));
		const char ***np = ar_alloc(p->a, cap * sizeof(*np));
		size_t *nn = ar_alloc(p->a, cap * sizeof(*nn));
		enum rule_kind *nk = ar_alloc(p->a, cap * sizeof(*nk));
		if (m->nrules) {
			memcpy(nr, m->rules, m->nrules * sizeof(*nr));
			memcpy(np, m->rpath, m->nrules * sizeof(*np));
			memcpy(nn, m->nrpath, m->nrules * sizeof(*nn));
			memcpy(nk, m->kinds, m->nrules * sizeof(*nk));
		}
		m->rules = nr;
		m->rpath = np;
		m->nrpath = nn;
		m->kinds = nk;
		rl->cap = cap;
	}
	m->rules[m->nrules] = r;
	m->rpath[m->nrules] = path;
	m->nrpath[m->nrules] = npath;
	m->kinds[m->nrules] = kind;
	m->nrules++;
}

static struct rule *new_rule(struct parser *p, const struct token *at)
{
	struct rule *r = ar_alloc(p->a, sizeof(*r));
	memset(r, 0, sizeof(*r));
	r->line = at->line;
	r->file = p->file;
	return r;
}

/* Runs fn; on a syntax error returns NULL with the position restored and the
 * error left in p->err (out of memory still abandons the parse). */
static void *try_parse(struct parser *p, void *(*fn)(struct parser *))
{
	size_t save = p->i;
	int depth = p->depth;
	jmp_buf outer;
	memcpy(&outer, &p->fail, sizeof(outer));
	void *volatile res = NULL;
	int r = setjmp(p->fail);
	if (!r)
		res = fn(p);
	memcpy(&p->fail, &outer, sizeof(outer));
	if (r && r != 3)
		longjmp(p->fail, r);
	if (r) {
		p->i = save;
		p->depth = depth;
	}
	return res;
}

static void *braced_body_fn(struct parser *p)
{
	return parse_braced_body(p);
}

static void *literal_fn(struct parser *p)
{
	return parse_literal(p);
}

/* After `if`, a `{` starts a body or, as OPA reads it when the text is no
 * body, one literal that is an object or set (`if {k: v | ...}`). */
static struct body *parse_if_braces(struct parser *p)
{
	struct body *b = try_parse(p, braced_body_fn);
	if (b)
		return b;
	struct kerr body_err;
	if (p->err)
		body_err = *p->err;
	struct lit *l = try_parse(p, literal_fn);
	if (!l) {
		if (p->err)
			*p->err = body_err; /* report what is wrong with it as a body */
		longjmp(p->fail, 3);
	}
	if (p->err)
		kerr_clear(p->err);
	b = ar_alloc(p->a, sizeof(*b));
	b->l = ar_alloc(p->a, sizeof(*b->l));
	b->l[0] = l;
	b->n = 1;
	return b;
}

/* `if body`, `if { body }`, `{ body }`, or nothing. */
static struct body *parse_rule_body(struct parser *p)
{
	if (accept(p, "if")) {
		if (is(p, "{"))
			return parse_if_braces(p);
		struct body *b = ar_alloc(p->a, sizeof(*b));
		b->l = ar_alloc(p->a, sizeof(*b->l));
		b->l[0] = parse_literal(p);
		b->n = 1;
		return b;
	}
	if (is(p, "{") && !at_break(p))
		return parse_braced_body(p);
	return NULL;
}

static void parse_else(struct parser *p, struct rule *r)
{
	struct rule *last = r;
	while (is(p, "else")) {
		struct token *at = cur(p);
		p->i++;
		struct rule *e = new_rule(p, at);
		e->args = r->args;
		e->nargs = r->nargs;
		if (accept(p, ":=") || accept(p, "="))
			e->value = parse_in(p);
		e->body = parse_rule_body(p);
		last->els = e;
		last = e;
	}
}

/* The rule head's reference after its first name: ".name" and "[term]"
 * parts into path, but the last bracket, which is returned (NULL: none). */
static struct term *parse_head_ref(struct parser *p, struct token *at, struct tlist *path)
{
	struct term *bracket = NULL;
	for (;;) {
		if (is(p, ".") && !cur(p)->ws_before) {
			p->i++;
			struct token *t = cur(p);
			tl_push(p, path, const_term(p, rv_cstr(p->a, expect_ident(p)), t));
		} else if (is(p, "[") && !cur(p)->ws_before) {
			p->i++;
			bool sig = p->nl_sig;
			p->nl_sig = false;
			struct term *k = parse_in(p);
			p->nl_sig = sig;
			expect(p, "]");
			if (bracket) {
				if (bracket->k != TM_CONST || bracket->v->t != RV_STR)
					perr(p, at,
					     "rule heads with variables inside the path are not supported");
				tl_push(p, path, bracket);
			}
			bracket = k;
		} else {
			return bracket;
		}
	}
}

/* A function's parameters, "(" already seen. */
static void parse_func_args(struct parser *p, struct rule *r)
{
	p->i++;
	bool sig = p->nl_sig;
	p->nl_sig = false;
	struct tlist args = { 0 };
	if (!is(p, ")")) {
		do
			tl_push(p, &args, parse_in(p));
		while (accept(p, ","));
	}
	expect(p, ")");
	p->nl_sig = sig;
	r->args = args.v;
	r->nargs = args.n;
}

static void parse_rule(struct parser *p, struct rlist *rl)
{
	struct token *at = cur(p);
	bool deflt = take(p, "default");
	struct tlist path = { 0 };
	const char *first = expect_ident(p);
	tl_push(p, &path, const_term(p, rv_cstr(p->a, first), at));
	struct rule *r = new_rule(p, at);
	r->is_default = deflt;
	enum rule_kind kind = RK_COMPLETE;
	struct term *bracket = parse_head_ref(p, at, &path);
	if (is(p, "(") && !bracket) {
		parse_func_args(p, r);
		kind = RK_FUNC;
	}
	if (accept(p, "contains")) {
		if (bracket)
			perr(p, at, "'contains' after a bracketed rule head");
		r->key = parse_in(p);
		kind = RK_SET;
	} else if (bracket) {
		r->key = bracket;
		kind = RK_SET;
	}
	if (!at_break(p) && (is(p, ":=") || is(p, "="))) {
		p->i++;
		r->value = parse_in(p);
		if (kind == RK_SET)
			kind = RK_OBJ;
	}
	if (deflt) {
		if (!r->value)
			perr(p, at, "default rules need a value");
		if (is(p, "if") || (is(p, "{") && !at_break(p)))
			perr(p, cur(p), "default rules have no body");
	} else {
		r->body = parse_rule_body(p);
		if (is(p, "else") && (kind == RK_SET || kind == RK_OBJ))
			perr(p, cur(p), "'else' on a partial set or object rule");
		parse_else(p, r);
	}
	const char **pp = ar_alloc(p->a, path.n * sizeof(*pp));
	for (size_t i = 0; i < path.n; i++)
		pp[i] = path.v[i]->v->str.s;
	add_rule(p, rl, r, pp, path.n, kind);
}

static struct term *parse_import_path(struct parser *p)
{
	struct term *t = parse_postfix(p);
	return t;
}

static int do_parse_module(struct parser *p, struct module **out)
{
	struct module *m = ar_alloc(p->a, sizeof(*m));
	memset(m, 0, sizeof(*m));
	m->file = p->file;
	p->nl_sig = true;
	if (!is(p, "package"))
		perr(p, cur(p), "expected 'package'");
	p->i++;
	struct tlist pkg = { 0 };
	struct token *t = cur(p);
	tl_push(p, &pkg, const_term(p, rv_cstr(p->a, expect_ident(p)), t));
	while (is(p, ".") || is(p, "[")) {
		if (accept(p, ".")) {
			t = cur(p);
			tl_push(p, &pkg, const_term(p, rv_cstr(p->a, expect_ident(p)), t));
		} else {
			p->i++;
			t = cur(p);
			if (t->k != TK_STRING)
				perr(p, t, "expected a string in the package path");
			p->i++;
			tl_push(p, &pkg, const_term(p, rv_str(p->a, t->str, t->slen), t));
			expect(p, "]");
		}
	}
	m->pkg = ar_alloc(p->a, pkg.n * sizeof(*m->pkg));
	for (size_t i = 0; i < pkg.n; i++)
		m->pkg[i] = pkg.v[i]->v->str.s;
	m->npkg = pkg.n;
	size_t icap = 0;
	while (is(p, "import")) {
		struct token *it = cur(p);
		p->i++;
		struct term *path = parse_import_path(p);
		const char *alias = NULL;
		if (accept(p, "as"))
			alias = expect_ident(p);
		if (m->nimports == icap) {
			icap = icap ? 2 * icap : 8;
			struct imp *ni = ar_alloc(p->a, icap * sizeof(*ni));
			if (m->nimports)
				memcpy(ni, m->imports, m->nimports * sizeof(*ni));
			m->imports = ni;
		}
		m->imports[m->nimports++] = (struct imp){ alias, path, it->line };
	}
	struct rlist rl = { m, 0 };
	while (cur(p)->k != TK_EOF) {
		if (!cur(p)->nl_before && p->i > 0)
			perr(p, cur(p), "unexpected '%.*s'", (int)cur(p)->len, cur(p)->s);
		if (is(p, "import"))
			perr(p, cur(p), "imports must come before the rules");
		parse_rule(p, &rl);
	}
	*out = m;
	return 0;
}

static int run(struct arena *a, const char *file, const char *text, size_t len, struct kerr *err,
	       int (*fn)(struct parser *, void *), void *out)
{
	struct parser p = { .a = a, .file = file, .err = err };
	jmp_buf *saved = a->oom;
	int r = setjmp(p.fail);
	if (r) {
		a->oom = saved;
		free(p.t);
		if (r != 3)
			return kerr_set_status(err, 8 /* RESOURCE_EXHAUSTED */, -ENOMEM,
					       "%s: out of memory while parsing", file);
		return -EINVAL;
	}
	if (err)
		kerr_clear(err);
	a->oom = &p.fail;
	p.file = ar_strndup(a, file, strlen(file));
	tokenize(&p, text, len);
	r = fn(&p, out);
	a->oom = saved;
	free(p.t);
	return r;
}

static int parse_module_cb(struct parser *p, void *out)
{
	return do_parse_module(p, out);
}

static int parse_query_cb(struct parser *p, void *out)
{
	p->nl_sig = true;
	struct body *b = parse_body(p, "");
	*(struct body **)out = b;
	return 0;
}

int rego_parse_module(struct arena *a, const char *file, const char *text, size_t len,
		      struct module **out, struct kerr *err)
{
	return run(a, file, text, len, err, parse_module_cb, out);
}

int rego_parse_query(struct arena *a, const char *text, size_t len, struct body **out,
		     struct kerr *err)
{
	return run(a, "query", text, len, err, parse_query_cb, out);
}
