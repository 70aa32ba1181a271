/* SPDX-License-Identifier: Apache-2.0 */
/*
 * regex.c - the regex builtins on PCRE2, with RE2's (Go's) semantics where
 * they differ: constructs RE2 does not have (look-around, back-references,
 * atomic groups, possessive quantifiers, recursion, conditionals, callouts,
 * \C) are refused with a clear error instead of being given a meaning; '$'
 * matches only at the end of the text (PCRE2_DOLLAR_ENDONLY); \d \w \s \b
 * stay ASCII (no PCRE2_UCP), '.' is one code point (PCRE2_UTF); iteration
 * over matches follows Go's regexp.allMatches (an empty match right after
 * the previous match is skipped).  Backtracking is bounded by PCRE2's match,
 * depth and heap limits, so a hostile pattern fails instead of hanging.
 *
 * Compiled patterns are cached in the policy (not per query): genpolicy's
 * rules match the same few patterns over and over.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "sbuf.h"

#define RX_CACHE_MAX 512
#define RX_CACHE_BYTES (1 << 20) /* pattern text kept compiled, all entries */
#define RX_PATTERN_MAX 65536
#define RX_MATCH_LIMIT 1000000
#define RX_DEPTH_LIMIT 10000
#define RX_HEAP_LIMIT_KB 16384

struct rx_entry {
	char *pat;
	size_t len;
	pcre2_code *code;
	uint32_t ncap;
};

struct regex_cache {
	struct rx_entry e[RX_CACHE_MAX];
	size_t n;
	size_t bytes;
	pcre2_match_context *mctx;
	pcre2_match_data *md;
	uint32_t md_pairs;
};

void rx_cache_free(struct regex_cache *rc)
{
	if (!rc)
		return;
	for (size_t i = 0; i < rc->n; i++) {
		free(rc->e[i].pat);
		pcre2_code_free(rc->e[i].code);
	}
	pcre2_match_context_free(rc->mctx);
	pcre2_match_data_free(rc->md);
	free(rc);
}

/* NULL when the pattern uses only what RE2 has, else what it uses. */
static const char *re2_unsupported(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		if (ch == '\\') {
			if (i + 1 >= n)
				return NULL;
			char e = p[++i];
			if (e >= '1' && e <= '9')
				return "back-references";
			if (e == 'g' || e == 'k')
				return "back-references";
			if (e == 'C')
				return "\\C";
			if (e == 'Z')
				return "\\Z";
			if (e == 'K')
				return "\\K";
			continue;
		}
		if (ch == '[') {
			size_t j = i + 1;
			if (j < n && p[j] == '^')
				j++;
			if (j < n && p[j] == ']')
				j++;
			for (; j < n && p[j] != ']'; j++) {
				if (p[j] == '\\')
					j++;
				else if (p[j] == '[' && j + 1 < n && p[j + 1] == ':') {
					const char *end = strstr(p + j + 2, ":]");
					if (end && (size_t)(end - p) < n)
						j = (size_t)(end - p) + 1;
				}
			}
			i = j;
			continue;
		}
		if (ch == '(' && i + 1 < n && p[i + 1] == '?') {
			const char *r = p + i + 2;
			size_t left = n - i - 2;
			if (left && (r[0] == '=' || r[0] == '!'))
				return "look-ahead";
			if (left > 1 && r[0] == '<' && (r[1] == '=' || r[1] == '!'))
				return "look-behind";
			if (left && r[0] == '>')
				return "atomic groups";
			if (left && (r[0] == 'R' || (r[0] >= '0' && r[0] <= '9') || r[0] == '&' ||
				     r[0] == '+' || r[0] == '-'))
				return "recursion";
			if (left > 1 && r[0] == 'P' && r[1] == '>')
				return "recursion";
			if (left && r[0] == '(')
				return "conditionals";
			if (left && r[0] == 'C')
				return "callouts";
			if (left && r[0] == '|')
				return "branch reset groups";
			if (left && r[0] == '#')
				return "comments";
			continue;
		}
		if ((ch == '*' || ch == '+' || ch == '?' || ch == '}') && i + 1 < n &&
		    p[i + 1] == '+')
			return "possessive quantifiers";
		if (ch == '(' && i + 1 < n && p[i + 1] == '*')
			return "verbs";
	}
	return NULL;
}

static int rx_get(struct ectx *c, const struct rv *pat, struct rx_entry **out)
{
	struct rego_policy *pol = c->pol;
	if (!pol->rx) {
		pol->rx = calloc(1, sizeof(*pol->rx));
		if (!pol->rx)
			eval_bail(c, -ENOMEM, "out of memory (regex cache)");
		pol->rx->mctx = pcre2_match_context_create(NULL);
		if (!pol->rx->mctx)
			eval_bail(c, -ENOMEM, "out of memory (regex cache)");
		pcre2_set_match_limit(pol->rx->mctx, RX_MATCH_LIMIT);
		pcre2_set_depth_limit(pol->rx->mctx, RX_DEPTH_LIMIT);
		pcre2_set_heap_limit(pol->rx->mctx, RX_HEAP_LIMIT_KB);
	}
	struct regex_cache *rc = pol->rx;
	for (size_t i = 0; i < rc->n; i++)
		if (rc->e[i].len == pat->str.len &&
		    !memcmp(rc->e[i].pat, pat->str.s, pat->str.len)) {
			*out = &rc->e[i];
			return 0;
		}
	if (pat->str.len > RX_PATTERN_MAX)
		return builtin_error(c, "regex", "pattern longer than %d bytes", RX_PATTERN_MAX);
	const char *bad = re2_unsupported(pat->str.s, pat->str.len);
	if (bad)
		return builtin_error(c, "regex",
				     "error parsing regexp: %s are not supported (RE2 syntax): `%s`",
				     bad, pat->str.s);
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)pat->str.s, pat->str.len,
					 PCRE2_UTF | PCRE2_DOLLAR_ENDONLY |
						 PCRE2_NEVER_BACKSLASH_C | PCRE2_MATCH_INVALID_UTF,
					 &ec, &eo, NULL);
	if (!code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		return builtin_error(c, "regex", "error parsing regexp: %s at offset %zu: `%s`",
				     (char *)msg, (size_t)eo, pat->str.s);
	}
	if (rc->n == RX_CACHE_MAX || rc->bytes + pat->str.len > RX_CACHE_BYTES) {
		/* a policy with this many patterns: start over */
		for (size_t i = 0; i < rc->n; i++) {
			free(rc->e[i].pat);
			pcre2_code_free(rc->e[i].code);
		}
		rc->n = 0;
		rc->bytes = 0;
	}
	struct rx_entry *e = &rc->e[rc->n];
	e->pat = malloc(pat->str.len + 1);
	if (!e->pat) {
		pcre2_code_free(code);
		eval_bail(c, -ENOMEM, "out of memory (regex cache)");
	}
	memcpy(e->pat, pat->str.s, pat->str.len + 1);
	e->len = pat->str.len;
	e->code = code;
	pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &e->ncap);
	if (!rc->md || rc->md_pairs < e->ncap + 1) {
		pcre2_match_data_free(rc->md);
		rc->md_pairs = e->ncap + 1 > 16 ? e->ncap + 1 : 16;
		rc->md = pcre2_match_data_create(rc->md_pairs, NULL);
		if (!rc->md)
			eval_bail(c, -ENOMEM, "out of memory (regex)");
	}
	rc->n++;
	rc->bytes += pat->str.len;
	*out = e;
	return 0;
}

/* Match at or after byte pos: 1 matched (ovector in rc->md), 0 no match. */
static int rx_exec(struct ectx *c, struct rx_entry *e, const struct rv *s, size_t pos)
{
	struct regex_cache *rc = c->pol->rx;
	if (++c->steps > c->max_steps)
		eval_bail(c, -ETIME, "evaluation step bound reached");
	int r = pcre2_match(e->code, (PCRE2_SPTR)s->str.s, s->str.len, pos, 0, rc->md, rc->mctx);
	if (r >= 0)
		return 1;
	if (r == PCRE2_ERROR_NOMATCH)
		return 0;
	PCRE2_UCHAR msg[256];
	pcre2_get_error_message(r, msg, sizeof(msg));
	return builtin_error(c, "regex", "matching failed: %s", (char *)msg);
}

int rx_match(struct ectx *c, const struct rv *pat, const struct rv *s, bool *out)
{
	struct rx_entry *e;
	int r = rx_get(c, pat, &e);
	if (r < 0)
		return r;
	r = rx_exec(c, e, s, 0);
	if (r < 0)
		return r;
	*out = r == 1;
	return 0;
}

/* Go's allMatches: calls fn(ovector) for each accepted match. */
static int each_match(struct ectx *c, struct rx_entry *e, const struct rv *s, int64_t n,
		      int (*fn)(struct ectx *, struct rx_entry *, const struct rv *, PCRE2_SIZE *,
				void *),
		      void *arg)
{
	size_t pos = 0;
	int64_t i = 0;
	ssize_t prev_end = -1;
	while ((n < 0 || i < n) && pos <= s->str.len) {
		int r = rx_exec(c, e, s, pos);
		if (r <= 0)
			return r;
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->pol->rx->md);
		bool accept = true;
		if (ov[1] == pos) {
			if ((ssize_t)ov[0] == prev_end)
				accept = false;
			size_t w = 1;
			while (pos + w < s->str.len &&
			       ((unsigned char)s->str.s[pos + w] & 0xC0) == 0x80)
				w++;
			pos += w;
		} else {
			pos = ov[1];
		}
		prev_end = (ssize_t)ov[1];
		if (accept) {
			r = fn(c, e, s, ov, arg);
			if (r < 0)
				return r;
			i++;
		}
	}
	return 0;
}

struct findk {
	struct rvlist l;
	bool sub;
};

static int find_cb(struct ectx *c, struct rx_entry *e, const struct rv *s, PCRE2_SIZE *ov,
		   void *arg)
{
	struct findk *fk = arg;
	if (!fk->sub) {
		rvl_push(c->a, &fk->l, rv_str(c->a, s->str.s + ov[0], ov[1] - ov[0]));
		return 0;
	}
	size_t n = e->ncap + 1;
	const struct rv **v = ar_alloc(c->a, n * sizeof(*v));
	for (size_t g = 0; g < n; g++) {
		PCRE2_SIZE a = ov[2 * g], b = ov[2 * g + 1];
		v[g] = a == PCRE2_UNSET ? rv_str(c->a, "", 0) : rv_str(c->a, s->str.s + a, b - a);
	}
	rvl_push(c->a, &fk->l, rv_arr(c->a, v, n));
	return 0;
}

int rx_find_all(struct ectx *c, const struct rv *pat, const struct rv *s, int64_t n, bool submatch,
		const struct rv **out)
{
	struct rx_entry *e;
	int r = rx_get(c, pat, &e);
	if (r < 0)
		return r;
	struct findk fk = { .sub = submatch };
	r = each_match(c, e, s, n, find_cb, &fk);
	if (r < 0)
		return r;
	*out = rv_arr(c->a, fk.l.v, fk.l.n);
	return 0;
}

struct splitk {
	struct rvlist l;
	size_t beg;
};

static int split_cb(struct ectx *c, struct rx_entry *e, const struct rv *s, PCRE2_SIZE *ov,
		    void *arg)
{
	struct splitk *sk = arg;
	if (ov[1] == 0)
		return 0; /* Go: an empty match at the start splits nothing */
	rvl_push(c->a, &sk->l, rv_str(c->a, s->str.s + sk->beg, ov[0] - sk->beg));
	sk->beg = ov[1];
	return 0;
}

int rx_split(struct ectx *c, const struct rv *pat, const struct rv *s, const struct rv **out)
{
	struct rx_entry *e;
	int r = rx_get(c, pat, &e);
	if (r < 0)
		return r;
	if (!s->str.len) {
		const struct rv **v = ar_alloc(c->a, sizeof(*v));
		v[0] = s;
		*out = rv_arr(c->a, v, 1);
		return 0;
	}
	struct splitk sk = { 0 };
	r = each_match(c, e, s, -1, split_cb, &sk);
	if (r < 0)
		return r;
	rvl_push(c->a, &sk.l, rv_str(c->a, s->str.s + sk.beg, s->str.len - sk.beg));
	*out = rv_arr(c->a, sk.l.v, sk.l.n);
	return 0;
}

struct replk {
	struct sbuf b;
	const struct rv *with;
	size_t last;
};

/* Go's Regexp.Expand for $1, ${1}, $$ (named groups by name too). */
static void expand(struct ectx *c, struct replk *rk, struct rx_entry *e, const struct rv *s,
		   PCRE2_SIZE *ov)
{
	const char *t = rk->with->str.s;
	size_t n = rk->with->str.len;
	for (size_t i = 0; i < n; i++) {
		if (t[i] != '$' || i + 1 >= n) {
			sb_putc(&rk->b, t[i]);
			continue;
		}
		if (t[i + 1] == '$') {
			sb_putc(&rk->b, '$');
			i++;
			continue;
		}
		size_t st = i + 1, en;
		bool brace = t[st] == '{';
		if (brace)
			st++;
		en = st;
		while (en < n && (t[en] == '_' || (t[en] >= '0' && t[en] <= '9') ||
				  (t[en] >= 'a' && t[en] <= 'z') || (t[en] >= 'A' && t[en] <= 'Z')))
			en++;
		if (en == st || (brace && (en >= n || t[en] != '}'))) {
			sb_putc(&rk->b, '$');
			continue;
		}
		char name[64];
		size_t ln = en - st < sizeof(name) - 1 ? en - st : sizeof(name) - 1;
		memcpy(name, t + st, ln);
		name[ln] = 0;
		char *endp;
		long g = strtol(name, &endp, 10);
		if (*endp)
			g = pcre2_substring_number_from_name(e->code, (PCRE2_SPTR)name);
		if (g >= 0 && (uint32_t)g <= e->ncap && ov[2 * g] != PCRE2_UNSET)
			sb_putn(&rk->b, s->str.s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
		i = brace ? en : en - 1;
	}
}

static int repl_cb(struct ectx *c, struct rx_entry *e, const struct rv *s, PCRE2_SIZE *ov,
		   void *arg)
{
	struct replk *rk = arg;
	sb_putn(&rk->b, s->str.s + rk->last, ov[0] - rk->last);
	expand(c, rk, e, s, ov);
	rk->last = ov[1];
	return 0;
}

int rx_replace(struct ectx *c, const struct rv *pat, const struct rv *s, const struct rv *with,
	       const struct rv **out)
{
	struct rx_entry *e;
	int r = rx_get(c, pat, &e);
	if (r < 0)
		return r;
	struct replk rk = { .b = { .a = c->a }, .with = with };
	r = each_match(c, e, s, -1, repl_cb, &rk);
	if (r < 0)
		return r;
	sb_putn(&rk.b, s->str.s + rk.last, s->str.len - rk.last);
	*out = rv_str(c->a, sb_str(&rk.b), rk.b.n);
	return 0;
}
