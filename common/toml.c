/* SPDX-License-Identifier: Apache-2.0 */
#include "toml.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

struct parser {
	const char *s;
	size_t len;
	size_t pos;
	int line;
	const char *name;
	struct kerr *err;
};

__attribute__((format(printf, 2, 3))) static int perr(struct parser *p, const char *fmt, ...)
{
	char buf[KERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return kerr_set(p->err, -EINVAL, "%s:%d: %s", p->name, p->line, buf);
}

static int oom(struct parser *p)
{
	return kerr_set(p->err, -ENOMEM, "%s:%d: out of memory", p->name, p->line);
}

const char *toml_type_name(enum toml_type type)
{
	switch (type) {
	case TOML_STRING:
		return "string";
	case TOML_INTEGER:
		return "integer";
	case TOML_BOOLEAN:
		return "boolean";
	case TOML_ARRAY:
		return "array";
	case TOML_TABLE:
		return "table";
	}
	return "unknown";
}

void toml_free(struct toml_value *v)
{
	if (!v)
		return;
	switch (v->type) {
	case TOML_STRING:
		free(v->str.s);
		break;
	case TOML_ARRAY:
		for (size_t i = 0; i < v->arr.n; i++)
			toml_free(v->arr.items[i]);
		free(v->arr.items);
		break;
	case TOML_TABLE:
		for (size_t i = 0; i < v->tab.n; i++) {
			free(v->tab.kv[i].key);
			toml_free(v->tab.kv[i].value);
		}
		free(v->tab.kv);
		break;
	default:
		break;
	}
	free(v);
}

static struct toml_value *value_new(enum toml_type type, int line)
{
	struct toml_value *v = calloc(1, sizeof(*v));
	if (v) {
		v->type = type;
		v->line = line;
	}
	return v;
}

const struct toml_value *toml_table_get(const struct toml_value *t, const char *key)
{
	if (!t || t->type != TOML_TABLE)
		return NULL;
	for (size_t i = 0; i < t->tab.n; i++) {
		if (strcmp(t->tab.kv[i].key, key) == 0)
			return t->tab.kv[i].value;
	}
	return NULL;
}

/* Takes ownership of key and value on success only. */
static int table_add(struct parser *p, struct toml_value *t, char *key, struct toml_value *value)
{
	if (toml_table_get(t, key))
		return perr(p, "duplicate key \"%s\"", key);
	struct toml_kv *kv = realloc(t->tab.kv, (t->tab.n + 1) * sizeof(*kv));
	if (!kv)
		return oom(p);
	t->tab.kv = kv;
	kv[t->tab.n].key = key;
	kv[t->tab.n].value = value;
	t->tab.n++;
	return 0;
}

static int array_add(struct parser *p, struct toml_value *a, struct toml_value *value)
{
	struct toml_value **items = realloc(a->arr.items, (a->arr.n + 1) * sizeof(*items));
	if (!items)
		return oom(p);
	a->arr.items = items;
	items[a->arr.n++] = value;
	return 0;
}

static int peek(const struct parser *p)
{
	return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static int peek_at(const struct parser *p, size_t off)
{
	return p->pos + off < p->len ? (unsigned char)p->s[p->pos + off] : -1;
}

static bool at_eol(const struct parser *p)
{
	int c = peek(p);
	return c == -1 || c == '\n' || (c == '\r' && peek_at(p, 1) == '\n');
}

static void skip_ws(struct parser *p)
{
	while (peek(p) == ' ' || peek(p) == '\t')
		p->pos++;
}

/* TOML forbids control characters other than tab in comments and strings. */
static bool is_forbidden_control(int c)
{
	return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

static int skip_comment(struct parser *p)
{
	if (peek(p) != '#')
		return 0;
	while (!at_eol(p)) {
		if (is_forbidden_control(peek(p)))
			return perr(p, "control character 0x%02x in comment", peek(p));
		p->pos++;
	}
	return 0;
}

/* Consume a newline (LF or CRLF) if there is one. */
static bool eat_newline(struct parser *p)
{
	if (peek(p) == '\n') {
		p->pos++;
		p->line++;
		return true;
	}
	if (peek(p) == '\r' && peek_at(p, 1) == '\n') {
		p->pos += 2;
		p->line++;
		return true;
	}
	return false;
}

/* Whitespace, comments and newlines, as allowed between array elements. */
static int skip_ws_nl(struct parser *p)
{
	for (;;) {
		skip_ws(p);
		int r = skip_comment(p);
		if (r < 0)
			return r;
		if (!eat_newline(p))
			return 0;
	}
}

static int expect_eol(struct parser *p, const char *after)
{
	skip_ws(p);
	int r = skip_comment(p);
	if (r < 0)
		return r;
	if (peek(p) == -1 || eat_newline(p))
		return 0;
	if (peek(p) == '\r')
		return perr(p, "carriage return not followed by a newline");
	return perr(p, "expected end of line after %s, found '%c'", after, peek(p));
}

static bool is_bare_key_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

struct strbuf {
	char *s;
	size_t len, cap;
};

static int sb_put(struct strbuf *b, const char *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 32;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *s = realloc(b->s, cap);
		if (!s)
			return -ENOMEM;
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->len, data, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

static int sb_put_utf8(struct strbuf *b, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return sb_put(b, u, n);
}

/* One escape sequence of a basic string, p at the backslash. */
static int parse_escape(struct parser *p, struct strbuf *b)
{
	int e = peek_at(p, 1);
	const char *rep = NULL;
	int digits = 0;
	switch (e) {
	case 'b':
		rep = "\b";
		break;
	case 't':
		rep = "\t";
		break;
	case 'n':
		rep = "\n";
		break;
	case 'f':
		rep = "\f";
		break;
	case 'r':
		rep = "\r";
		break;
	case '"':
		rep = "\"";
		break;
	case '\\':
		rep = "\\";
		break;
	case 'u':
		digits = 4;
		break;
	case 'U':
		digits = 8;
		break;
	default:
		if (e == -1 || e == '\n' || e == '\r')
			return perr(p, "unterminated string");
		return perr(p, "invalid escape sequence '\\%c' in string", e);
	}
	if (rep) {
		p->pos += 2;
		return sb_put(b, rep, 1) < 0 ? oom(p) : 0;
	}
	uint32_t cp = 0;
	for (int i = 0; i < digits; i++) {
		int h = hexval(peek_at(p, 2 + (size_t)i));
		if (h < 0)
			return perr(p, "\\%c escape needs %d hex digits", e, digits);
		cp = (cp << 4) | (uint32_t)h;
	}
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return perr(p, "escape \\%c%0*X is not a Unicode scalar value", e, digits, cp);
	if (cp == 0)
		return perr(p, "NUL character (\\%c escape) in string", e);
	p->pos += 2 + (size_t)digits;
	return sb_put_utf8(b, cp) < 0 ? oom(p) : 0;
}

/* In a multi-line basic string, p at a backslash: if only whitespace
 * follows it on its line, skip it, the newline and all whitespace and
 * newlines after it (a "line ending backslash") and return 1. */
static int skip_line_ending_backslash(struct parser *p)
{
	size_t k = 1;
	while (peek_at(p, k) == ' ' || peek_at(p, k) == '\t')
		k++;
	if (peek_at(p, k) != '\n' && !(peek_at(p, k) == '\r' && peek_at(p, k + 1) == '\n'))
		return 0;
	p->pos += k;
	while (eat_newline(p) || peek(p) == ' ' || peek(p) == '\t') {
		if (peek(p) == ' ' || peek(p) == '\t')
			p->pos++;
	}
	return 1;
}

/* A multi-line basic (""" ... """) or literal (''' ... ''') string, p at
 * the first quote. A newline right after the opening quotes is dropped;
 * newlines inside are kept as LF (CRLF too); one or two quotes may end the
 * content right before the closing three. */
static int parse_ml_string(struct parser *p, char **out, size_t *out_len)
{
	int quote = peek(p), start = p->line;
	struct strbuf b = { 0 };
	int r = 0;

	p->pos += 3;
	eat_newline(p);
	if (sb_put(&b, "", 0) < 0)
		return oom(p);
	for (;;) {
		int c = peek(p);
		if (c == -1) {
			r = perr(p, "unterminated multi-line string (started on line %d)", start);
			break;
		}
		if (c == quote && peek_at(p, 1) == quote && peek_at(p, 2) == quote) {
			size_t run = 3;
			while (peek_at(p, run) == quote)
				run++;
			if (run > 5) {
				r = perr(p, "%zu quotes in a row in a multi-line string", run);
				break;
			}
			if (run > 3 && sb_put(&b, p->s + p->pos, run - 3) < 0)
				r = oom(p);
			p->pos += run;
			break;
		}
		if (eat_newline(p)) {
			r = sb_put(&b, "\n", 1) < 0 ? oom(p) : 0;
		} else if (c == '\r') {
			r = perr(p, "carriage return not followed by a newline");
		} else if (is_forbidden_control(c)) {
			r = perr(p, "control character 0x%02x in string", c);
		} else if (c == '\\' && quote == '"') {
			if (!skip_line_ending_backslash(p))
				r = parse_escape(p, &b);
		} else {
			r = sb_put(&b, p->s + p->pos, 1) < 0 ? oom(p) : 0;
			p->pos++;
		}
		if (r < 0)
			break;
	}
	if (r < 0) {
		free(b.s);
		return r;
	}
	*out = b.s;
	if (out_len)
		*out_len = b.len;
	return 0;
}

/* A basic ("...") or literal ('...') string, p at the quote; multi-line
 * ones only where a value may be (keys are single-line). */
static int parse_string(struct parser *p, bool multi_line_ok, char **out, size_t *out_len)
{
	int quote = peek(p);
	struct strbuf b = { 0 };
	int r = 0;

	if (peek_at(p, 1) == quote && peek_at(p, 2) == quote) {
		if (multi_line_ok)
			return parse_ml_string(p, out, out_len);
		return perr(p, "a key cannot be a multi-line string");
	}
	p->pos++;
	if (sb_put(&b, "", 0) < 0)
		return oom(p);
	for (;;) {
		int c = peek(p);
		if (c == -1 || c == '\n' || c == '\r') {
			r = perr(p, "unterminated string");
			break;
		}
		if (c == quote) {
			p->pos++;
			break;
		}
		if (is_forbidden_control(c)) {
			r = perr(p, "control character 0x%02x in string", c);
			break;
		}
		if (c == '\\' && quote == '"') {
			if ((r = parse_escape(p, &b)) < 0)
				break;
			continue;
		}
		if (sb_put(&b, p->s + p->pos, 1) < 0) {
			r = oom(p);
			break;
		}
		p->pos++;
	}
	if (r < 0) {
		free(b.s);
		return r;
	}
	*out = b.s;
	if (out_len)
		*out_len = b.len;
	return 0;
}

static int parse_key(struct parser *p, char **out)
{
	int c = peek(p);

	if (c == '"' || c == '\'')
		return parse_string(p, false, out, NULL);
	size_t start = p->pos;
	while (is_bare_key_char(peek(p)))
		p->pos++;
	if (p->pos == start) {
		if (c == -1 || at_eol(p))
			return perr(p, "expected a key");
		return perr(p, "expected a key, found '%c'", c);
	}
	*out = strndup(p->s + start, p->pos - start);
	return *out ? 0 : oom(p);
}

/* Key followed by '=' (with the value left to the caller). */
static int parse_key_eq(struct parser *p, char **out)
{
	cleanup_free char *key = NULL;
	int r = parse_key(p, &key);
	if (r < 0)
		return r;
	skip_ws(p);
	if (peek(p) == '.')
		return perr(p, "dotted keys are not supported (key \"%s\")", key);
	if (peek(p) != '=')
		return perr(p, "expected '=' after key \"%s\"", key);
	p->pos++;
	skip_ws(p);
	*out = take_ptr(&key);
	return 0;
}

static bool is_value_end(int c)
{
	return c == -1 || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ']' ||
	       c == '}' || c == '#';
}

static int parse_integer_token(struct parser *p, const char *tok, int64_t *out)
{
	const char *s = tok;
	bool neg = false;
	int base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
		base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
		s += 2;
	} else {
		if (*s == '+' || *s == '-')
			neg = *s++ == '-';
		if (s[0] == '0' && s[1] != '\0')
			return perr(p, "invalid integer \"%s\": leading zeros are not allowed",
				    tok);
	}
	if (*s == '\0')
		return perr(p, "invalid integer \"%s\"", tok);

	/* Accumulate as a negative number so INT64_MIN fits. */
	int64_t v = 0;
	bool prev_digit = false;
	for (; *s; s++) {
		if (*s == '_') {
			if (!prev_digit || !s[1] || s[1] == '_')
				return perr(p, "invalid integer \"%s\": '_' must be between digits",
					    tok);
			prev_digit = false;
			continue;
		}
		int d = hexval(*s);
		if (d < 0 || d >= base)
			return perr(p, "invalid integer \"%s\"", tok);
		if (v < (INT64_MIN + d) / base)
			return perr(p, "integer \"%s\" is out of range", tok);
		v = v * base - d;
		prev_digit = true;
	}
	if (!neg) {
		if (v == INT64_MIN)
			return perr(p, "integer \"%s\" is out of range", tok);
		v = -v;
	}
	*out = v;
	return 0;
}

static int parse_value(struct parser *p, struct toml_value **out, int depth);

static int parse_array(struct parser *p, struct toml_value **out, int depth)
{
	struct toml_value *a = value_new(TOML_ARRAY, p->line);
	int r;

	if (!a)
		return oom(p);
	p->pos++; /* '[' */
	for (;;) {
		if ((r = skip_ws_nl(p)) < 0)
			goto fail;
		if (peek(p) == ']') {
			p->pos++;
			break;
		}
		if (peek(p) == -1) {
			r = perr(p, "unterminated array (started on line %d)", a->line);
			goto fail;
		}
		struct toml_value *item = NULL;
		if ((r = parse_value(p, &item, depth + 1)) < 0)
			goto fail;
		if ((r = array_add(p, a, item)) < 0) {
			toml_free(item);
			goto fail;
		}
		if ((r = skip_ws_nl(p)) < 0)
			goto fail;
		if (peek(p) == ',') {
			p->pos++;
			continue;
		}
		if (peek(p) == ']') {
			p->pos++;
			break;
		}
		if (peek(p) == -1)
			r = perr(p, "unterminated array (started on line %d)", a->line);
		else
			r = perr(p, "expected ',' or ']' in array, found '%c'", peek(p));
		goto fail;
	}
	*out = a;
	return 0;
fail:
	toml_free(a);
	return r;
}

static int parse_inline_table(struct parser *p, struct toml_value **out, int depth)
{
	struct toml_value *t = value_new(TOML_TABLE, p->line);
	int r;

	if (!t)
		return oom(p);
	t->inline_table = true;
	p->pos++; /* '{' */
	skip_ws(p);
	if (peek(p) == '}') {
		p->pos++;
		*out = t;
		return 0;
	}
	for (;;) {
		skip_ws(p);
		if (at_eol(p)) {
			r = perr(p, "inline tables must be on one line");
			goto fail;
		}
		char *key = NULL;
		if ((r = parse_key_eq(p, &key)) < 0)
			goto fail;
		struct toml_value *v = NULL;
		if ((r = parse_value(p, &v, depth + 1)) < 0) {
			free(key);
			goto fail;
		}
		if ((r = table_add(p, t, key, v)) < 0) {
			free(key);
			toml_free(v);
			goto fail;
		}
		skip_ws(p);
		if (peek(p) == ',') {
			p->pos++;
			skip_ws(p);
			if (peek(p) == '}') {
				r = perr(p, "trailing ',' is not allowed in an inline table");
				goto fail;
			}
			continue;
		}
		if (peek(p) == '}') {
			p->pos++;
			break;
		}
		if (at_eol(p))
			r = perr(p, "inline tables must be on one line");
		else
			r = perr(p, "expected ',' or '}' in inline table, found '%c'", peek(p));
		goto fail;
	}
	*out = t;
	return 0;
fail:
	toml_free(t);
	return r;
}

static int parse_value(struct parser *p, struct toml_value **out, int depth)
{
	int c = peek(p);
	struct toml_value *v;
	int r;

	/* Bounded nesting: a hostile file must not exhaust the stack. */
	if (depth > 32)
		return perr(p, "values nested too deeply");
	if (c == -1 || at_eol(p) || c == '#')
		return perr(p, "expected a value");
	if (c == '"' || c == '\'') {
		v = value_new(TOML_STRING, p->line);
		if (!v)
			return oom(p);
		if ((r = parse_string(p, true, &v->str.s, &v->str.len)) < 0) {
			free(v);
			return r;
		}
		*out = v;
		return 0;
	}
	if (c == '[')
		return parse_array(p, out, depth);
	if (c == '{')
		return parse_inline_table(p, out, depth);

	/* A bare token: boolean or number (or something we refuse). */
	size_t start = p->pos;
	while (!is_value_end(peek(p)))
		p->pos++;
	size_t n = p->pos - start;
	cleanup_free char *tok = strndup(p->s + start, n);
	if (!tok)
		return oom(p);

	if (strcmp(tok, "true") == 0 || strcmp(tok, "false") == 0) {
		v = value_new(TOML_BOOLEAN, p->line);
		if (!v)
			return oom(p);
		v->b = tok[0] == 't';
		*out = v;
		return 0;
	}
	if (n == 0)
		return perr(p, "expected a value, found '%c'", c);
	const char *num = tok + (tok[0] == '+' || tok[0] == '-');
	if (strcmp(num, "inf") == 0 || strcmp(num, "nan") == 0)
		return perr(p, "floats are not supported (\"%s\")", tok);
	if (!((c >= '0' && c <= '9') || c == '+' || c == '-'))
		return perr(p, "invalid value \"%s\" (strings must be quoted)", tok);
	if (!(num[0] == '0' && (num[1] == 'x' || num[1] == 'o' || num[1] == 'b'))) {
		if (strchr(tok, ':'))
			return perr(p, "dates and times are not supported (\"%s\")", tok);
		for (const char *q = tok + 1; *q; q++) {
			if (*q == '-' && q[-1] != 'e' && q[-1] != 'E')
				return perr(p, "dates and times are not supported (\"%s\")", tok);
		}
		if (strpbrk(tok, ".eE"))
			return perr(p, "floats are not supported (\"%s\")", tok);
	}
	int64_t i = 0;
	if ((r = parse_integer_token(p, tok, &i)) < 0)
		return r;
	v = value_new(TOML_INTEGER, p->line);
	if (!v)
		return oom(p);
	v->i = i;
	*out = v;
	return 0;
}

static int parse_table_header(struct parser *p, struct toml_value *root, struct toml_value **cur)
{
	int line = p->line;
	int r;

	p->pos++; /* '[' */
	if (peek(p) == '[')
		return perr(p, "arrays of tables ([[...]]) are not supported");
	skip_ws(p);
	cleanup_free char *name = NULL;
	if ((r = parse_key(p, &name)) < 0)
		return r;
	skip_ws(p);
	if (peek(p) == '.')
		return perr(p, "dotted table names are not supported ([%s...])", name);
	if (peek(p) != ']')
		return perr(p, "expected ']' after table name \"%s\"", name);
	p->pos++;

	const struct toml_value *old = toml_table_get(root, name);
	if (old) {
		if (old->type == TOML_TABLE && old->header_defined)
			return perr(p, "table [%s] defined twice (first on line %d)", name,
				    old->line);
		return perr(p, "table [%s] redefines key \"%s\" from line %d", name, name,
			    old->line);
	}
	struct toml_value *t = value_new(TOML_TABLE, line);
	if (!t)
		return oom(p);
	t->header_defined = true;
	if ((r = table_add(p, root, name, t)) < 0) {
		toml_free(t);
		return r;
	}
	name = NULL; /* owned by root now */
	*cur = t;
	return expect_eol(p, "table header");
}

static int parse_keyval(struct parser *p, struct toml_value *table)
{
	char *key = NULL;
	struct toml_value *v = NULL;
	int r;

	if ((r = parse_key_eq(p, &key)) < 0)
		return r;
	if ((r = parse_value(p, &v, 0)) < 0) {
		free(key);
		return r;
	}
	if ((r = table_add(p, table, key, v)) < 0) {
		free(key);
		toml_free(v);
		return r;
	}
	return expect_eol(p, "value");
}

/* TOML documents must be valid UTF-8; checking up front keeps the rest of
 * the parser byte-oriented. Also rejects NUL, which C strings cannot hold. */
static int check_utf8(struct parser *p)
{
	const unsigned char *s = (const unsigned char *)p->s;
	size_t i = 0;

	p->line = 1;
	while (i < p->len) {
		unsigned char c = s[i];
		if (c == '\n')
			p->line++;
		if (c == 0)
			return perr(p, "NUL byte in file");
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len;
		uint32_t cp, min;
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, cp = c & 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, cp = c & 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, cp = c & 0x07, min = 0x10000;
		else
			return perr(p, "invalid UTF-8");
		if (i + len > p->len)
			return perr(p, "invalid UTF-8");
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return perr(p, "invalid UTF-8");
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return perr(p, "invalid UTF-8");
		i += len;
	}
	p->line = 1;
	return 0;
}

int toml_parse(const char *text, size_t len, const char *name, struct toml_value **out,
	       struct kerr *err)
{
	struct parser p = { .s = text,
			    .len = len,
			    .line = 1,
			    .name = name ? name : "<toml>",
			    .err = err };
	int r;

	*out = NULL;
	if ((r = check_utf8(&p)) < 0)
		return r;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		p.pos = 3;

	struct toml_value *root = value_new(TOML_TABLE, 1);
	if (!root)
		return oom(&p);
	struct toml_value *cur = root;
	while (p.pos < p.len) {
		skip_ws(&p);
		if ((r = skip_comment(&p)) < 0)
			goto fail;
		if (eat_newline(&p))
			continue;
		if (peek(&p) == -1)
			break;
		if (peek(&p) == '\r') {
			r = perr(&p, "carriage return not followed by a newline");
			goto fail;
		}
		if (peek(&p) == '[')
			r = parse_table_header(&p, root, &cur);
		else
			r = parse_keyval(&p, cur);
		if (r < 0)
			goto fail;
	}
	*out = root;
	return 0;
fail:
	toml_free(root);
	return r;
}

int toml_parse_file(const char *path, struct toml_value **out, struct kerr *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;

	*out = NULL;
	if (fd < 0)
		return kerr_set(err, -errno, "open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		return kerr_set(err, -errno, "stat %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return kerr_set(err, -EINVAL, "%s: not a regular file", path);
	if (st.st_size > TOML_MAX_FILE_SIZE)
		return kerr_set(err, -EFBIG, "%s: larger than %d bytes", path, TOML_MAX_FILE_SIZE);

	cleanup_free char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return kerr_set(err, -ENOMEM, "%s: out of memory", path);
	size_t n = 0;
	for (;;) {
		/* read one byte past the size seen by fstat to notice growth */
		if (n > (size_t)st.st_size)
			return kerr_set(err, -EFBIG, "%s: changed while being read", path);
		ssize_t r = read(fd, buf + n, (size_t)st.st_size + 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return kerr_set(err, -errno, "read %s: %s", path, strerror(errno));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	return toml_parse(buf, n, path, out, err);
}

json_t *toml_to_json(const struct toml_value *v)
{
	json_t *j = NULL;

	switch (v->type) {
	case TOML_STRING:
		return json_stringn(v->str.s, v->str.len);
	case TOML_INTEGER:
		return json_integer(v->i);
	case TOML_BOOLEAN:
		return json_boolean(v->b);
	case TOML_ARRAY:
		j = json_array();
		for (size_t i = 0; j && i < v->arr.n; i++) {
			json_t *item = toml_to_json(v->arr.items[i]);
			if (!item || json_array_append_new(j, item) < 0) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	case TOML_TABLE:
		j = json_object();
		for (size_t i = 0; j && i < v->tab.n; i++) {
			json_t *item = toml_to_json(v->tab.kv[i].value);
			if (!item || json_object_set_new(j, v->tab.kv[i].key, item) < 0) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	}
	return NULL;
}
