/* SPDX-License-Identifier: Apache-2.0 */
/*
 * builtins.c - the operators and the builtin functions upstream's policies
 * call (and their neighbours), with OPA's argument checks and results.
 * Strings are UTF-8 and indexed by code point, as in OPA.  The regex
 * builtins are in regex.c (PCRE2).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"
#include "sbuf.h"

#define A (c->a)

static const char *const ordinal[] = { "operand 1", "operand 2", "operand 3", "operand 4" };

int type_err(struct ectx *c, const char *name, int i, const char *want, const struct rv *got)
{
	return builtin_error(c, name, "%s must be %s but got %s", ordinal[i < 4 ? i : 3], want,
			     rv_type_name(got));
}

/* args[i] as an exact integer, or a builtin error. */
static int need_int(struct ectx *c, const char *name, const struct rv **args, int i, int64_t *out)
{
	if (args[i]->t != RV_NUM)
		return type_err(c, name, i, "number", args[i]);
	if (!rv_as_int(args[i], out))
		return builtin_error(c, name, "%s must be an integer", ordinal[i]);
	return 0;
}

/* OPA computes exactly on integers of any size; here they are int64, so a
 * result past it fails the query rather than come out rounded (a policy
 * deciding on a wrong number is worse than one that cannot decide). */
__attribute__((noreturn)) static void int_overflow(struct ectx *c, const char *name)
{
	char what[128];
	snprintf(what, sizeof(what), "%s: integer overflow (numbers past int64 are not supported)",
		 name);
	eval_bail(c, -ERANGE, what);
}

/* ---- UTF-8 ---- */

size_t utf8_len(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			k++;
	return k;
}

/* Byte offset of code point idx (n if past the end). */
static size_t utf8_off(const char *s, size_t n, size_t idx)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			if (k == idx)
				return i;
			k++;
		}
	}
	return n;
}

/* ---- comparison and arithmetic ---- */

#define CMP_FN(fname, expr)                                                             \
	static int fname(struct ectx *c, const struct rv **args, const struct rv **out) \
	{                                                                               \
		int r = rv_cmp(args[0], args[1]);                                       \
		*out = rv_bool(expr);                                                   \
		return 0;                                                               \
	}
CMP_FN(bi_equal, r == 0)
CMP_FN(bi_neq, r != 0)
CMP_FN(bi_lt, r < 0)
CMP_FN(bi_lte, r <= 0)
CMP_FN(bi_gt, r > 0)
CMP_FN(bi_gte, r >= 0)

static const struct rv *set_op(struct ectx *c, const struct rv *a, const struct rv *b, int op)
{
	/* op: 0 union, 1 intersection, 2 difference */
	struct rvlist l = { 0 };
	for (size_t i = 0; i < a->arr.n; i++) {
		bool in_b = rv_set_has(b, a->arr.v[i]);
		if (op == 0 || (op == 1 && in_b) || (op == 2 && !in_b))
			rvl_push(A, &l, a->arr.v[i]);
	}
	if (op == 0)
		for (size_t i = 0; i < b->arr.n; i++)
			rvl_push(A, &l, b->arr.v[i]);
	return rv_set(A, l.v, l.n);
}

static int arith(struct ectx *c, const char *NAME, const struct rv **args, const struct rv **out,
		 char op)
{
	if (op == '-' && args[0]->t == RV_SET && args[1]->t == RV_SET) {
		*out = set_op(c, args[0], args[1], 2);
		return 0;
	}
	NEED(0, RV_NUM, "number");
	NEED(1, RV_NUM, "number");
	const struct rv *x = args[0], *y = args[1];
	if (x->num.is_int && y->num.is_int) {
		int64_t a = x->num.i, b = y->num.i, r = 0;
		bool ovf = false;
		switch (op) {
		case '+':
			ovf = __builtin_add_overflow(a, b, &r);
			break;
		case '-':
			ovf = __builtin_sub_overflow(a, b, &r);
			break;
		case '*':
			ovf = __builtin_mul_overflow(a, b, &r);
			break;
		case '/':
			if (!b)
				return builtin_error(c, NAME, "divide by zero");
			if (a % b == 0 && !(a == INT64_MIN && b == -1)) {
				*out = rv_int(A, a / b);
				return 0;
			}
			*out = rv_num(A, (double)a / (double)b);
			return 0;
		case '%':
			if (!b)
				return builtin_error(c, NAME, "modulo by zero");
			*out = rv_int(A, b == -1 ? 0 : a % b);
			return 0;
		}
		if (ovf)
			int_overflow(c, NAME);
		*out = rv_int(A, r);
		return 0;
	}
	double a = rv_numd(x), b = rv_numd(y), r = 0;
	switch (op) {
	case '+':
		r = a + b;
		break;
	case '-':
		r = a - b;
		break;
	case '*':
		r = a * b;
		break;
	case '/':
		if (b == 0)
			return builtin_error(c, NAME, "divide by zero");
		r = a / b;
		break;
	case '%':
		return builtin_error(c, NAME, "modulo on floating-point number");
	}
	*out = rv_num(A, r);
	return 0;
}

#define ARITH_FN(fname, name, op)                                                       \
	static int fname(struct ectx *c, const struct rv **args, const struct rv **out) \
	{                                                                               \
		return arith(c, name, args, out, op);                                   \
	}
ARITH_FN(bi_plus, "plus", '+')
ARITH_FN(bi_minus, "minus", '-')
ARITH_FN(bi_mul, "mul", '*')
ARITH_FN(bi_div, "div", '/')
ARITH_FN(bi_rem, "rem", '%')

static int bi_and(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "and";
	NEED(0, RV_SET, "set");
	NEED(1, RV_SET, "set");
	*out = set_op(c, args[0], args[1], 1);
	return 0;
}

static int bi_or(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "or";
	NEED(0, RV_SET, "set");
	NEED(1, RV_SET, "set");
	*out = set_op(c, args[0], args[1], 0);
	return 0;
}

static int bi_member(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const struct rv *x = args[0], *coll = args[1];
	bool found = false;
	if (coll->t == RV_SET) {
		found = rv_set_has(coll, x);
	} else if (coll->t == RV_ARR) {
		for (size_t i = 0; i < coll->arr.n && !found; i++)
			found = rv_eq(coll->arr.v[i], x);
	} else if (coll->t == RV_OBJ) {
		for (size_t i = 0; i < coll->obj.n && !found; i++)
			found = rv_eq(coll->obj.v[i], x);
	}
	*out = rv_bool(found);
	return 0;
}

static int bi_member3(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const struct rv *v = rv_get(args[2], args[0]);
	*out = rv_bool(v && args[2]->t != RV_SET && rv_eq(v, args[1]));
	return 0;
}

/* ---- aggregates ---- */

static int bi_count(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const struct rv *x = args[0];
	switch (x->t) {
	case RV_STR:
		*out = rv_int(A, (int64_t)utf8_len(x->str.s, x->str.len));
		return 0;
	case RV_ARR:
	case RV_SET:
		*out = rv_int(A, (int64_t)x->arr.n);
		return 0;
	case RV_OBJ:
		*out = rv_int(A, (int64_t)x->obj.n);
		return 0;
	default:
		return type_err(c, "count", 0, "one of {array, object, set, string}", x);
	}
}

static int num_items(struct ectx *c, const char *name, const struct rv *x)
{
	if (x->t != RV_ARR && x->t != RV_SET)
		return type_err(c, name, 0, "one of {array, set}", x);
	for (size_t i = 0; i < x->arr.n; i++)
		if (x->arr.v[i]->t != RV_NUM)
			return builtin_error(c, name, "operand 1 must be a collection of numbers");
	return 0;
}

static int fold_nums(struct ectx *c, const char *name, const struct rv **args,
		     const struct rv **out, char op)
{
	int r = num_items(c, name, args[0]);
	if (r < 0)
		return r;
	const struct rv *acc = rv_int(A, op == '*' ? 1 : 0);
	for (size_t i = 0; i < args[0]->arr.n; i++) {
		const struct rv *ab[2] = { acc, args[0]->arr.v[i] };
		r = arith(c, name, ab, &acc, op);
		if (r < 0)
			return r;
	}
	*out = acc;
	return 0;
}

static int bi_sum(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return fold_nums(c, "sum", args, out, '+');
}

static int bi_product(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return fold_nums(c, "product", args, out, '*');
}

static int extreme(struct ectx *c, const char *name, const struct rv **args, const struct rv **out,
		   int sign)
{
	const struct rv *x = args[0];
	if (x->t != RV_ARR && x->t != RV_SET)
		return type_err(c, name, 0, "one of {array, set}", x);
	*out = NULL;
	for (size_t i = 0; i < x->arr.n; i++)
		if (!*out || rv_cmp(x->arr.v[i], *out) * sign > 0)
			*out = x->arr.v[i];
	return 0;
}

static int bi_max(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return extreme(c, "max", args, out, 1);
}

static int bi_min(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return extreme(c, "min", args, out, -1);
}

static int cmp_rvp(const void *a, const void *b)
{
	return rv_cmp(*(const struct rv *const *)a, *(const struct rv *const *)b);
}

static int bi_sort(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const struct rv *x = args[0];
	if (x->t != RV_ARR && x->t != RV_SET)
		return type_err(c, "sort", 0, "one of {array, set}", x);
	const struct rv **v = ar_dup(A, x->arr.v, (x->arr.n ? x->arr.n : 1) * sizeof(*v));
	qsort(v, x->arr.n, sizeof(*v), cmp_rvp);
	*out = rv_arr(A, v, x->arr.n);
	return 0;
}

static int bi_abs(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "abs";
	NEED(0, RV_NUM, "number");
	if (args[0]->num.is_int && args[0]->num.i == INT64_MIN)
		int_overflow(c, NAME);
	if (args[0]->num.is_int)
		*out = rv_int(A, args[0]->num.i < 0 ? -args[0]->num.i : args[0]->num.i);
	else
		*out = rv_num(A, fabs(rv_numd(args[0])));
	return 0;
}

static int round_fn(struct ectx *c, const char *NAME, const struct rv **args, const struct rv **out,
		    double (*f)(double))
{
	NEED(0, RV_NUM, "number");
	*out = args[0]->num.is_int ? args[0] : rv_num(A, f(args[0]->num.d));
	return 0;
}

static int bi_round(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return round_fn(c, "round", args, out, round);
}

static int bi_ceil(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return round_fn(c, "ceil", args, out, ceil);
}

static int bi_floor(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return round_fn(c, "floor", args, out, floor);
}

static int bi_range(struct ectx *c, const struct rv **args, const struct rv **out)
{
	int64_t a, b;
	int r = need_int(c, "numbers.range", args, 0, &a);
	if (r < 0 || (r = need_int(c, "numbers.range", args, 1, &b)) < 0)
		return r;
	uint64_t n = (uint64_t)(a < b ? b - a : a - b) + 1;
	if (n > 10000000)
		return builtin_error(c, "numbers.range", "range too large");
	const struct rv **v = ar_alloc(A, n * sizeof(*v));
	for (uint64_t i = 0; i < n; i++)
		v[i] = rv_int(A, a < b ? a + (int64_t)i : a - (int64_t)i);
	*out = rv_arr(A, v, n);
	return 0;
}

/* ---- types ---- */

#define IS_FN(fname, type)                                                              \
	static int fname(struct ectx *c, const struct rv **args, const struct rv **out) \
	{                                                                               \
		*out = rv_bool(args[0]->t == (type));                                   \
		return 0;                                                               \
	}
IS_FN(bi_is_number, RV_NUM)
IS_FN(bi_is_string, RV_STR)
IS_FN(bi_is_boolean, RV_BOOL)
IS_FN(bi_is_array, RV_ARR)
IS_FN(bi_is_set, RV_SET)
IS_FN(bi_is_object, RV_OBJ)
IS_FN(bi_is_null, RV_NULL)

static int bi_type_name(struct ectx *c, const struct rv **args, const struct rv **out)
{
	*out = rv_cstr(A, rv_type_name(args[0]));
	return 0;
}

static int bi_to_number(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const struct rv *x = args[0];
	switch (x->t) {
	case RV_NULL:
		*out = rv_int(A, 0);
		return 0;
	case RV_BOOL:
		*out = rv_int(A, x->b);
		return 0;
	case RV_NUM:
		*out = x;
		return 0;
	case RV_STR: {
		const char *s = x->str.s;
		char *end;
		if (!x->str.len || strlen(s) != x->str.len || s[0] == ' ' || s[0] == '+' ||
		    !strncasecmp(s, "0x", 2) || strpbrk(s, "iInN"))
			goto bad;
		errno = 0;
		long long i = strtoll(s, &end, 10);
		if (!*end && !errno) {
			*out = rv_int(A, i);
			return 0;
		}
		double d = strtod(s, &end);
		if (*end)
			goto bad;
		*out = rv_num(A, d);
		return 0;
bad:
		return builtin_error(c, "to_number",
				     "strconv.ParseFloat: parsing %s: invalid syntax",
				     rv_json_text(A, x));
	}
	default:
		return type_err(c, "to_number", 0, "one of {boolean, null, number, string}", x);
	}
}

/* ---- strings ---- */

static int bi_concat(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "concat";
	NEED(0, RV_STR, "string");
	if (args[1]->t != RV_ARR && args[1]->t != RV_SET)
		return type_err(c, NAME, 1, "one of {array, set}", args[1]);
	struct sbuf b = { .a = A };
	for (size_t i = 0; i < args[1]->arr.n; i++) {
		const struct rv *e = args[1]->arr.v[i];
		if (e->t != RV_STR)
			return type_err(c, NAME, 1, "array of strings", e);
		if (i)
			sb_putn(&b, args[0]->str.s, args[0]->str.len);
		sb_putn(&b, e->str.s, e->str.len);
	}
	*out = rv_str(A, sb_str(&b), b.n);
	return 0;
}

const char *memmem_s(const struct rv *hay, size_t from, const struct rv *needle)
{
	if (from > hay->str.len)
		return NULL;
	return memmem(hay->str.s + from, hay->str.len - from, needle->str.s, needle->str.len);
}

static int bi_split(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "split";
	NEED(0, RV_STR, "string");
	NEED(1, RV_STR, "string");
	const struct rv *s = args[0], *d = args[1];
	struct rvlist l = { 0 };
	if (!d->str.len) {
		/* Go's strings.Split with "": one element per code point */
		size_t i = 0;
		while (i < s->str.len) {
			size_t j = i + 1;
			while (j < s->str.len && ((unsigned char)s->str.s[j] & 0xC0) == 0x80)
				j++;
			rvl_push(A, &l, rv_str(A, s->str.s + i, j - i));
			i = j;
		}
		*out = rv_arr(A, l.v, l.n);
		return 0;
	}
	size_t from = 0;
	const char *hit;
	while ((hit = memmem_s(s, from, d))) {
		rvl_push(A, &l, rv_str(A, s->str.s + from, (size_t)(hit - s->str.s) - from));
		from = (size_t)(hit - s->str.s) + d->str.len;
	}
	rvl_push(A, &l, rv_str(A, s->str.s + from, s->str.len - from));
	*out = rv_arr(A, l.v, l.n);
	return 0;
}

static const struct rv *replace_n(struct ectx *c, const struct rv *s, const struct rv *old,
				  const struct rv *new, int64_t n)
{
	struct sbuf b = { .a = A };
	size_t from = 0;
	const char *hit;
	if (!old->str.len) {
		/* Go: insert new before every code point and at the end */
		for (size_t i = 0; i <= s->str.len; i++) {
			if (i == s->str.len || ((unsigned char)s->str.s[i] & 0xC0) != 0x80) {
				if (n-- == 0) {
					sb_putn(&b, s->str.s + i, s->str.len - i);
					break;
				}
				sb_putn(&b, new->str.s, new->str.len);
			}
			if (i < s->str.len)
				sb_putc(&b, s->str.s[i]);
		}
		return rv_str(A, sb_str(&b), b.n);
	}
	while (n != 0 && (hit = memmem_s(s, from, old))) {
		sb_putn(&b, s->str.s + from, (size_t)(hit - s->str.s) - from);
		sb_putn(&b, new->str.s, new->str.len);
		from = (size_t)(hit - s->str.s) + old->str.len;
		n--;
	}
	sb_putn(&b, s->str.s + from, s->str.len - from);
	return rv_str(A, sb_str(&b), b.n);
}

static int bi_replace(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "replace";
	NEED(0, RV_STR, "string");
	NEED(1, RV_STR, "string");
	NEED(2, RV_STR, "string");
	*out = replace_n(c, args[0], args[1], args[2], -1);
	return 0;
}

static size_t cp_len_at(const char *s, size_t n, size_t i)
{
	size_t j = i + 1;
	while (j < n && ((unsigned char)s[j] & 0xC0) == 0x80)
		j++;
	return j - i;
}

/* Highest-priority pattern (first in key order) that s+i starts with; the
 * empty one skipped right after an empty match (Go's genericReplacer). */
static const struct rv *replace_n_lookup(const struct rv *pats, const struct rv *s, size_t i,
					 bool skip_empty, size_t *key)
{
	for (size_t k = 0; k < pats->obj.n; k++) {
		const struct rv *p = pats->obj.k[k];
		if (skip_empty && !p->str.len)
			continue;
		if (p->str.len <= s->str.len - i && !memcmp(s->str.s + i, p->str.s, p->str.len)) {
			*key = p->str.len;
			return pats->obj.v[k];
		}
	}
	return NULL;
}

/* strings.replace_n: OPA builds Go's strings.NewReplacer from the patterns
 * in key order: one pass, the first pattern in that order matching at a
 * position wins, replaced text is not scanned again. */
static int bi_replace_n(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "strings.replace_n";
	NEED(0, RV_OBJ, "object");
	NEED(1, RV_STR, "string");
	const struct rv *pats = args[0], *s = args[1];
	for (size_t i = 0; i < pats->obj.n; i++) {
		if (pats->obj.k[i]->t != RV_STR)
			return builtin_error(c, NAME,
					     "operand 1 non-string key found in pattern object");
		if (pats->obj.v[i]->t != RV_STR)
			return builtin_error(c, NAME,
					     "operand 1 non-string value found in pattern object");
	}
	struct sbuf b = { .a = A };
	bool prev_empty = false;
	for (size_t i = 0; i <= s->str.len;) {
		eval_step(c);
		size_t keylen = 0;
		const struct rv *v = replace_n_lookup(pats, s, i, prev_empty, &keylen);
		prev_empty = v && !keylen;
		if (v) {
			sb_putn(&b, v->str.s, v->str.len);
			i += keylen;
			continue;
		}
		if (i == s->str.len)
			break;
		size_t n = cp_len_at(s->str.s, s->str.len, i); /* whole code points */
		sb_putn(&b, s->str.s + i, n);
		i += n;
	}
	*out = rv_str(A, sb_str(&b), b.n);
	return 0;
}

static bool in_cutset(const struct rv *cut, const char *p, size_t len)
{
	for (size_t i = 0; i < cut->str.len;) {
		size_t j = i + 1;
		while (j < cut->str.len && ((unsigned char)cut->str.s[j] & 0xC0) == 0x80)
			j++;
		if (j - i == len && !memcmp(cut->str.s + i, p, len))
			return true;
		i = j;
	}
	return false;
}

static size_t cp_start_before(const char *s, size_t i)
{
	size_t j = i - 1;
	while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80)
		j--;
	return j;
}

static const struct rv *trim_cut(struct ectx *c, const struct rv *s, const struct rv *cut,
				 bool left, bool right)
{
	size_t b = 0, e = s->str.len;
	while (left && b < e) {
		size_t l = cp_len_at(s->str.s, e, b);
		if (!in_cutset(cut, s->str.s + b, l))
			break;
		b += l;
	}
	while (right && e > b) {
		size_t st = cp_start_before(s->str.s, e);
		if (st < b || !in_cutset(cut, s->str.s + st, e - st))
			break;
		e = st;
	}
	return rv_str(A, s->str.s + b, e - b);
}

#define TRIM_FN(fname, name, l, r)                                                      \
	static int fname(struct ectx *c, const struct rv **args, const struct rv **out) \
	{                                                                               \
		const char *NAME = name;                                                \
		NEED(0, RV_STR, "string");                                              \
		NEED(1, RV_STR, "string");                                              \
		*out = trim_cut(c, args[0], args[1], l, r);                             \
		return 0;                                                               \
	}
TRIM_FN(bi_trim, "trim", true, true)
TRIM_FN(bi_trim_left, "trim_left", true, false)
TRIM_FN(bi_trim_right, "trim_right", false, true)

static int bi_trim_space(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "trim_space";
	NEED(0, RV_STR, "string");
	static const struct rv ws = { .t = RV_STR, .str = { 6, " \t\n\r\v\f" } };
	*out = trim_cut(c, args[0], &ws, true, true);
	return 0;
}

static int bi_trim_prefix(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "trim_prefix";
	NEED(0, RV_STR, "string");
	NEED(1, RV_STR, "string");
	const struct rv *s = args[0], *p = args[1];
	if (p->str.len <= s->str.len && !memcmp(s->str.s, p->str.s, p->str.len))
		*out = rv_str(A, s->str.s + p->str.len, s->str.len - p->str.len);
	else
		*out = s;
	return 0;
}

static int bi_trim_suffix(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "trim_suffix";
	NEED(0, RV_STR, "string");
	NEED(1, RV_STR, "string");
	const struct rv *s = args[0], *p = args[1];
	size_t n = s->str.len, m = p->str.len;
	if (m <= n && !memcmp(s->str.s + n - m, p->str.s, m))
		*out = rv_str(A, s->str.s, n - m);
	else
		*out = s;
	return 0;
}

static int bi_startswith(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "startswith";
	NEED(0, RV_STR, "string");
	NEED(1, RV_STR, "string");
	const struct rv *s = args[0], *p = args[1];
	*out = rv_bool(p->str.len <= s->str.len && !memcmp(s->str.s, p->str.s, p->str.len));
	return 0;
}

static int bi_endswith(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "endswith";
	NEED(0, RV_STR, "string");
	NEED(1, RV_STR, "string");
	const struct rv *s = args[0], *p = args[1];
	size_t n = s->str.len, m = p->str.len;
	*out = rv_bool(m <= n && !memcmp(s->str.s + n - m, p->str.s, m));
	return 0;
}

static int bi_contains(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "contains";
	NEED(0, RV_STR, "string");
	NEED(1, RV_STR, "string");
	*out = rv_bool(!args[1]->str.len || memmem_s(args[0], 0, args[1]));
	return 0;
}

static int bi_indexof(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "indexof";
	NEED(0, RV_STR, "string");
	NEED(1, RV_STR, "string");
	const char *hit = args[1]->str.len ? memmem_s(args[0], 0, args[1]) : args[0]->str.s;
	*out = rv_int(A,
		      hit ? (int64_t)utf8_len(args[0]->str.s, (size_t)(hit - args[0]->str.s)) : -1);
	return 0;
}

static int bi_indexof_n(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "indexof_n";
	NEED(0, RV_STR, "string");
	NEED(1, RV_STR, "string");
	struct rvlist l = { 0 };
	size_t from = 0;
	const char *hit;
	if (args[1]->str.len)
		while ((hit = memmem_s(args[0], from, args[1]))) {
			size_t off = (size_t)(hit - args[0]->str.s);
			rvl_push(A, &l, rv_int(A, (int64_t)utf8_len(args[0]->str.s, off)));
			from = off + 1;
		}
	*out = rv_arr(A, l.v, l.n);
	return 0;
}

static int bi_substring(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "substring";
	int64_t start, len;
	NEED(0, RV_STR, "string");
	int r = need_int(c, NAME, args, 1, &start);
	if (r < 0 || (r = need_int(c, NAME, args, 2, &len)) < 0)
		return r;
	if (start < 0)
		return builtin_error(c, NAME, "negative offset");
	const struct rv *s = args[0];
	size_t b = utf8_off(s->str.s, s->str.len, (size_t)start);
	size_t e = len < 0 ? s->str.len : utf8_off(s->str.s + b, s->str.len - b, (size_t)len) + b;
	*out = rv_str(A, s->str.s + b, e - b);
	return 0;
}

static int case_fn(struct ectx *c, const char *NAME, const struct rv **args, const struct rv **out,
		   bool up)
{
	NEED(0, RV_STR, "string");
	char *s = ar_strndup(A, args[0]->str.s, args[0]->str.len);
	for (size_t i = 0; i < args[0]->str.len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (up && ch >= 'a' && ch <= 'z')
			s[i] = (char)(ch - 32);
		else if (!up && ch >= 'A' && ch <= 'Z')
			s[i] = (char)(ch + 32);
	}
	*out = rv_str(A, s, args[0]->str.len);
	return 0;
}

static int bi_lower(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return case_fn(c, "lower", args, out, false);
}

static int bi_upper(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return case_fn(c, "upper", args, out, true);
}

static int bi_reverse(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "strings.reverse";
	NEED(0, RV_STR, "string");
	const struct rv *s = args[0];
	char *o = ar_alloc(A, s->str.len + 1);
	size_t w = s->str.len;
	for (size_t i = 0; i < s->str.len;) {
		size_t l = cp_len_at(s->str.s, s->str.len, i);
		w -= l;
		memcpy(o + w, s->str.s + i, l);
		i += l;
	}
	*out = rv_str(A, o, s->str.len);
	return 0;
}

static int bi_format_int(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "format_int";
	NEED(0, RV_NUM, "number");
	int64_t base;
	int r = need_int(c, NAME, args, 1, &base);
	if (r < 0)
		return r;
	if (base != 2 && base != 8 && base != 10 && base != 16)
		return builtin_error(c, NAME, "operand 2 must be one of {2, 8, 10, 16}");
	double d = rv_numd(args[0]);
	int64_t v = args[0]->num.is_int ? args[0]->num.i : (int64_t)trunc(d);
	char buf[80], *p = buf + sizeof(buf) - 1;
	*p = 0;
	uint64_t u = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
	do {
		*--p = "0123456789abcdef"[u % (uint64_t)base];
		u /= (uint64_t)base;
	} while (u);
	if (v < 0)
		*--p = '-';
	*out = rv_cstr(A, p);
	return 0;
}

/* OPA's text of a value (sprintf %v, print): sets as {..}, ", " between items. */
static void opa_text(struct sbuf *b, const struct rv *v, bool top)
{
	switch (v->t) {
	case RV_STR:
		if (top)
			sb_putn(b, v->str.s, v->str.len);
		else
			sb_json(b, v);
		return;
	case RV_ARR:
		sb_putc(b, '[');
		for (size_t i = 0; i < v->arr.n; i++) {
			if (i)
				sb_puts(b, ", ");
			opa_text(b, v->arr.v[i], false);
		}
		sb_putc(b, ']');
		return;
	case RV_SET:
		if (!v->arr.n) {
			sb_puts(b, "set()");
			return;
		}
		sb_putc(b, '{');
		for (size_t i = 0; i < v->arr.n; i++) {
			if (i)
				sb_puts(b, ", ");
			opa_text(b, v->arr.v[i], false);
		}
		sb_putc(b, '}');
		return;
	case RV_OBJ:
		sb_putc(b, '{');
		for (size_t i = 0; i < v->obj.n; i++) {
			if (i)
				sb_puts(b, ", ");
			opa_text(b, v->obj.k[i], false);
			sb_puts(b, ": ");
			opa_text(b, v->obj.v[i], false);
		}
		sb_putc(b, '}');
		return;
	default:
		sb_json(b, v);
	}
}

static int sprintf_one(struct ectx *c, struct sbuf *b, const char *spec, char verb,
		       const struct rv *v)
{
	char fmt[64], buf[512];
	switch (verb) {
	case 'v':
	case 's':
		opa_text(b, v, true);
		return 0;
	case 'q':
		if (v->t == RV_STR)
			sb_json(b, v);
		else
			opa_text(b, v, true);
		return 0;
	case 't':
		opa_text(b, v, true);
		return 0;
	case 'd':
	case 'x':
	case 'X':
	case 'o':
	case 'b':
	case 'c':
		if (v->t == RV_NUM && v->num.is_int) {
			if (verb == 'b') {
				uint64_t u = (uint64_t)(v->num.i < 0 ? -v->num.i : v->num.i);
				char bits[70], *p = bits + sizeof(bits) - 1;
				*p = 0;
				do {
					*--p = (char)('0' + (u & 1));
					u >>= 1;
				} while (u);
				if (v->num.i < 0)
					sb_putc(b, '-');
				sb_puts(b, p);
				return 0;
			}
			if (verb == 'c') {
				sb_putc(b, (char)v->num.i);
				return 0;
			}
			snprintf(fmt, sizeof(fmt), "%%%sll%c", spec, verb);
			snprintf(buf, sizeof(buf), fmt, (long long)v->num.i);
			sb_puts(b, buf);
			return 0;
		}
		if (v->t == RV_STR && (verb == 'x' || verb == 'X')) {
			for (size_t i = 0; i < v->str.len; i++)
				sb_printf(b, verb == 'x' ? "%02x" : "%02X",
					  (unsigned char)v->str.s[i]);
			return 0;
		}
		if (v->t == RV_NUM) {
			/* Go prints %d of a float as %!d(big.Float=...) : keep the number */
			opa_text(b, v, true);
			return 0;
		}
		sb_printf(b, "%%!%c(", verb);
		opa_text(b, v, true);
		sb_putc(b, ')');
		return 0;
	case 'f':
	case 'e':
	case 'E':
	case 'g':
	case 'G':
		if (v->t != RV_NUM) {
			sb_printf(b, "%%!%c(", verb);
			opa_text(b, v, true);
			sb_putc(b, ')');
			return 0;
		}
		snprintf(fmt, sizeof(fmt), "%%%s%c", spec, verb);
		snprintf(buf, sizeof(buf), fmt, rv_numd(v));
		sb_puts(b, buf);
		return 0;
	default:
		sb_printf(b, "%%!%c(", verb);
		opa_text(b, v, true);
		sb_putc(b, ')');
		return 0;
	}
}

static int bi_sprintf(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "sprintf";
	NEED(0, RV_STR, "string");
	NEED(1, RV_ARR, "array");
	const char *f = args[0]->str.s, *end = f + args[0]->str.len;
	size_t argi = 0;
	struct sbuf b = { .a = A };
	while (f < end) {
		if (*f != '%') {
			sb_putc(&b, *f++);
			continue;
		}
		f++;
		if (f < end && *f == '%') {
			sb_putc(&b, '%');
			f++;
			continue;
		}
		char spec[32];
		size_t sn = 0;
		while (f < end && strchr("+-# 0123456789.", *f) && sn < sizeof(spec) - 1)
			spec[sn++] = *f++;
		spec[sn] = 0;
		if (f >= end) {
			sb_puts(&b, "%!(NOVERB)");
			break;
		}
		char verb = *f++;
		if (argi >= args[1]->arr.n) {
			sb_printf(&b, "%%!%c(MISSING)", verb);
			continue;
		}
		sprintf_one(c, &b, spec, verb, args[1]->arr.v[argi++]);
	}
	if (argi < args[1]->arr.n) {
		sb_puts(&b, "%!(EXTRA ");
		for (size_t i = argi; i < args[1]->arr.n; i++) {
			if (i > argi)
				sb_puts(&b, ", ");
			opa_text(&b, args[1]->arr.v[i], true);
		}
		sb_putc(&b, ')');
	}
	*out = rv_str(A, sb_str(&b), b.n);
	return 0;
}

/* ---- arrays and objects ---- */

static int bi_array_concat(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "array.concat";
	NEED(0, RV_ARR, "array");
	NEED(1, RV_ARR, "array");
	size_t n = args[0]->arr.n + args[1]->arr.n;
	const struct rv **v = ar_alloc(A, (n ? n : 1) * sizeof(*v));
	if (args[0]->arr.n)
		memcpy(v, args[0]->arr.v, args[0]->arr.n * sizeof(*v));
	if (args[1]->arr.n)
		memcpy(v + args[0]->arr.n, args[1]->arr.v, args[1]->arr.n * sizeof(*v));
	*out = rv_arr(A, v, n);
	return 0;
}

static int bi_array_slice(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "array.slice";
	NEED(0, RV_ARR, "array");
	int64_t s, e, n = (int64_t)args[0]->arr.n;
	int r = need_int(c, NAME, args, 1, &s);
	if (r < 0 || (r = need_int(c, NAME, args, 2, &e)) < 0)
		return r;
	if (s < 0)
		s = 0;
	if (e > n)
		e = n;
	if (s >= e) {
		*out = &rv_empty_arr;
		return 0;
	}
	*out = rv_arr(A, args[0]->arr.v + s, (size_t)(e - s));
	return 0;
}

static int bi_array_reverse(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "array.reverse";
	NEED(0, RV_ARR, "array");
	size_t n = args[0]->arr.n;
	const struct rv **v = ar_alloc(A, (n ? n : 1) * sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = args[0]->arr.v[n - 1 - i];
	*out = rv_arr(A, v, n);
	return 0;
}

static int bi_object_get(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "object.get";
	NEED(0, RV_OBJ, "object");
	const struct rv *v = args[0];
	if (args[1]->t == RV_ARR) {
		for (size_t i = 0; i < args[1]->arr.n && v; i++)
			v = v->t == RV_OBJ || v->t == RV_ARR || v->t == RV_SET
				    ? rv_get(v, args[1]->arr.v[i])
				    : NULL;
	} else {
		v = rv_get(v, args[1]);
	}
	*out = v ? v : args[2];
	return 0;
}

static const struct rv *obj_union(struct ectx *c, const struct rv *a, const struct rv *b)
{
	struct rvlist k = { 0 }, v = { 0 };
	for (size_t i = 0; i < a->obj.n; i++) {
		const struct rv *bv = rv_get(b, a->obj.k[i]);
		if (bv)
			continue;
		rvl_push(A, &k, a->obj.k[i]);
		rvl_push(A, &v, a->obj.v[i]);
	}
	for (size_t i = 0; i < b->obj.n; i++) {
		const struct rv *av = rv_get(a, b->obj.k[i]), *bv = b->obj.v[i];
		rvl_push(A, &k, b->obj.k[i]);
		if (av && av->t == RV_OBJ && bv->t == RV_OBJ)
			bv = obj_union(c, av, bv);
		rvl_push(A, &v, bv);
	}
	return rv_obj(A, k.v, v.v, k.n, NULL);
}

static int bi_object_union(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "object.union";
	NEED(0, RV_OBJ, "object");
	NEED(1, RV_OBJ, "object");
	*out = obj_union(c, args[0], args[1]);
	return 0;
}

static int bi_object_union_n(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "object.union_n";
	NEED(0, RV_ARR, "array");
	const struct rv *acc = &rv_empty_obj;
	for (size_t i = 0; i < args[0]->arr.n; i++) {
		if (args[0]->arr.v[i]->t != RV_OBJ)
			return type_err(c, NAME, 0, "array of objects", args[0]->arr.v[i]);
		acc = obj_union(c, acc, args[0]->arr.v[i]);
	}
	*out = acc;
	return 0;
}

static bool key_in(const struct rv *keys, const struct rv *k)
{
	if (keys->t == RV_SET)
		return rv_set_has(keys, k);
	if (keys->t == RV_ARR) {
		for (size_t i = 0; i < keys->arr.n; i++)
			if (rv_eq(keys->arr.v[i], k))
				return true;
		return false;
	}
	return rv_get(keys, k) != NULL;
}

static int obj_filter(struct ectx *c, const char *NAME, const struct rv **args,
		      const struct rv **out, bool keep)
{
	NEED(0, RV_OBJ, "object");
	if (args[1]->t != RV_ARR && args[1]->t != RV_SET && args[1]->t != RV_OBJ)
		return type_err(c, NAME, 1, "one of {array, object, set}", args[1]);
	struct rvlist k = { 0 }, v = { 0 };
	for (size_t i = 0; i < args[0]->obj.n; i++) {
		if (key_in(args[1], args[0]->obj.k[i]) != keep)
			continue;
		rvl_push(A, &k, args[0]->obj.k[i]);
		rvl_push(A, &v, args[0]->obj.v[i]);
	}
	*out = rv_obj(A, k.v, v.v, k.n, NULL);
	return 0;
}

static int bi_object_remove(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return obj_filter(c, "object.remove", args, out, false);
}

static int bi_object_filter(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return obj_filter(c, "object.filter", args, out, true);
}

static int bi_object_keys(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "object.keys";
	NEED(0, RV_OBJ, "object");
	const struct rv **v = ar_dup(A, args[0]->obj.k, (args[0]->obj.n + 1) * sizeof(*v));
	*out = rv_set(A, v, args[0]->obj.n);
	return 0;
}

static int set_fold(struct ectx *c, const char *NAME, const struct rv **args, const struct rv **out,
		    int op)
{
	NEED(0, RV_SET, "set");
	const struct rv *acc = op == 0 ? &rv_empty_set : NULL;
	for (size_t i = 0; i < args[0]->arr.n; i++) {
		const struct rv *s = args[0]->arr.v[i];
		if (s->t != RV_SET)
			return type_err(c, NAME, 0, "set of sets", s);
		acc = acc ? set_op(c, acc, s, op) : s;
	}
	*out = acc ? acc : &rv_empty_set;
	return 0;
}

static int bi_union(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return set_fold(c, "union", args, out, 0);
}

static int bi_intersection(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return set_fold(c, "intersection", args, out, 1);
}

static int bool_fold(struct ectx *c, const char *NAME, const struct rv **args,
		     const struct rv **out, bool all)
{
	if (args[0]->t != RV_ARR && args[0]->t != RV_SET)
		return type_err(c, NAME, 0, "one of {array, set}", args[0]);
	bool r = all;
	for (size_t i = 0; i < args[0]->arr.n; i++) {
		bool t = args[0]->arr.v[i]->t == RV_BOOL && args[0]->arr.v[i]->b;
		r = all ? r && t : r || t;
	}
	*out = rv_bool(r);
	return 0;
}

static int bi_all(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return bool_fold(c, "all", args, out, true);
}

static int bi_any(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return bool_fold(c, "any", args, out, false);
}

/* ---- bits ---- */

static int bits(struct ectx *c, const char *name, const struct rv **args, const struct rv **out,
		char op)
{
	int64_t a, b = 0;
	int r = need_int(c, name, args, 0, &a);
	if (r < 0 || (op != '~' && (r = need_int(c, name, args, 1, &b)) < 0))
		return r;
	int64_t v = 0;
	switch (op) {
	case '|':
		v = a | b;
		break;
	case '&':
		v = a & b;
		break;
	case '^':
		v = a ^ b;
		break;
	case '~':
		v = ~a;
		break;
	case '<':
		if (b < 0)
			return builtin_error(c, name,
					     "operand 2 must be an unsigned integer number");
		/* OPA shifts exactly into big integers: past int64, refuse */
		if (a && (b >= 63 || ((int64_t)((uint64_t)a << b) >> b) != a))
			int_overflow(c, name);
		v = a ? (int64_t)((uint64_t)a << b) : 0;
		break;
	case '>':
		if (b < 0)
			return builtin_error(c, name,
					     "operand 2 must be an unsigned integer number");
		v = b >= 64 ? (a < 0 ? -1 : 0) : a >> b;
		break;
	}
	*out = rv_int(A, v);
	return 0;
}

#define BITS_FN(fname, name, op)                                                        \
	static int fname(struct ectx *c, const struct rv **args, const struct rv **out) \
	{                                                                               \
		return bits(c, name, args, out, op);                                    \
	}
BITS_FN(bi_bits_or, "bits.or", '|')
BITS_FN(bi_bits_and, "bits.and", '&')
BITS_FN(bi_bits_xor, "bits.xor", '^')
BITS_FN(bi_bits_negate, "bits.negate", '~')
BITS_FN(bi_bits_lsh, "bits.lsh", '<')
BITS_FN(bi_bits_rsh, "bits.rsh", '>')

/* ---- encodings ---- */

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static const struct rv *b64_encode(struct ectx *c, const struct rv *s, const char *alpha, bool pad)
{
	struct sbuf b = { .a = A };
	const unsigned char *p = (const unsigned char *)s->str.s;
	size_t n = s->str.len;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		sb_putc(&b, alpha[(v >> 18) & 63]);
		sb_putc(&b, alpha[(v >> 12) & 63]);
		if (i + 1 < n)
			sb_putc(&b, alpha[(v >> 6) & 63]);
		else if (pad)
			sb_putc(&b, '=');
		if (i + 2 < n)
			sb_putc(&b, alpha[v & 63]);
		else if (pad)
			sb_putc(&b, '=');
	}
	return rv_str(A, sb_str(&b), b.n);
}

/* Decode; padding optional when !strict_pad. NULL when invalid. */
static const struct rv *b64_decode(struct ectx *c, const struct rv *s, const char *alpha,
				   bool need_pad)
{
	struct sbuf b = { .a = A };
	size_t n = s->str.len;
	while (n && s->str.s[n - 1] == '=')
		n--;
	if (need_pad && s->str.len % 4)
		return NULL;
	if (s->str.len - n > 2 || n % 4 == 1)
		return NULL;
	uint32_t acc = 0;
	int bitsn = 0;
	for (size_t i = 0; i < n; i++) {
		const char *q = memchr(alpha, s->str.s[i], 64);
		if (!q || !s->str.s[i])
			return NULL;
		acc = acc << 6 | (uint32_t)(q - alpha);
		bitsn += 6;
		if (bitsn >= 8) {
			bitsn -= 8;
			sb_putc(&b, (char)((acc >> bitsn) & 0xFF));
		}
	}
	return rv_str(A, sb_str(&b), b.n);
}

#define B64E_FN(fname, name, alpha, pad)                                                \
	static int fname(struct ectx *c, const struct rv **args, const struct rv **out) \
	{                                                                               \
		const char *NAME = name;                                                \
		NEED(0, RV_STR, "string");                                              \
		*out = b64_encode(c, args[0], alpha, pad);                              \
		return 0;                                                               \
	}
B64E_FN(bi_b64_enc, "base64.encode", b64std, true)
B64E_FN(bi_b64url_enc, "base64url.encode", b64url, true)
B64E_FN(bi_b64url_enc_np, "base64url.encode_no_pad", b64url, false)

#define B64D_FN(fname, name, alpha, pad)                                                \
	static int fname(struct ectx *c, const struct rv **args, const struct rv **out) \
	{                                                                               \
		const char *NAME = name;                                                \
		NEED(0, RV_STR, "string");                                              \
		*out = b64_decode(c, args[0], alpha, pad);                              \
		if (!*out)                                                              \
			return builtin_error(c, NAME, "illegal base64 data");           \
		return 0;                                                               \
	}
B64D_FN(bi_b64_dec, "base64.decode", b64std, true)
B64D_FN(bi_b64url_dec, "base64url.decode", b64url, false)

static int bi_b64_valid(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "base64.is_valid";
	NEED(0, RV_STR, "string");
	*out = rv_bool(b64_decode(c, args[0], b64std, true) != NULL);
	return 0;
}

static int bi_json_marshal(struct ectx *c, const struct rv **args, const struct rv **out)
{
	char *s = rv_json_text(A, args[0]);
	*out = rv_cstr(A, s);
	return 0;
}

static int json_parse(struct ectx *c, const struct rv *s, const struct rv **out)
{
	json_error_t je;
	json_t *j = json_loadb(s->str.s, s->str.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!j)
		return -EINVAL;
	int r = rv_from_json(A, j, c->pol->lim.max_input_nodes, out);
	json_decref(j);
	return r;
}

static int bi_json_unmarshal(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "json.unmarshal";
	NEED(0, RV_STR, "string");
	if (json_parse(c, args[0], out) < 0)
		return builtin_error(c, NAME, "invalid JSON");
	return 0;
}

static int bi_json_is_valid(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const struct rv *v;
	*out = rv_bool(args[0]->t == RV_STR && json_parse(c, args[0], &v) == 0);
	return 0;
}

/* ---- regex (regex.c) ---- */

static int bi_regex_match(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "regex.match";
	NEED(0, RV_STR, "string");
	NEED(1, RV_STR, "string");
	bool m;
	int r = rx_match(c, args[0], args[1], &m);
	if (r < 0)
		return r;
	*out = rv_bool(m);
	return 0;
}

static int bi_regex_is_valid(struct ectx *c, const struct rv **args, const struct rv **out)
{
	bool m;
	static const struct rv empty = { .t = RV_STR, .str = { 0, "" } };
	*out = rv_bool(args[0]->t == RV_STR && rx_match(c, args[0], &empty, &m) == 0);
	return 0;
}

static int find_fn(struct ectx *c, const char *NAME, const struct rv **args, const struct rv **out,
		   bool sub)
{
	NEED(0, RV_STR, "string");
	NEED(1, RV_STR, "string");
	int64_t n;
	int r = need_int(c, NAME, args, 2, &n);
	if (r < 0)
		return r;
	return rx_find_all(c, args[0], args[1], n, sub, out);
}

static int bi_regex_find_sub(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return find_fn(c, "regex.find_all_string_submatch_n", args, out, true);
}

static int bi_regex_find_n(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return find_fn(c, "regex.find_n", args, out, false);
}

static int bi_regex_replace(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "regex.replace";
	NEED(0, RV_STR, "string");
	NEED(1, RV_STR, "string");
	NEED(2, RV_STR, "string");
	return rx_replace(c, args[1], args[0], args[2], out);
}

static int bi_regex_split(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "regex.split";
	NEED(0, RV_STR, "string");
	NEED(1, RV_STR, "string");
	return rx_split(c, args[0], args[1], out);
}

static int bi_print(struct ectx *c, const struct rv **args, const struct rv **out)
{
	*out = &rv_true; /* evaluated in eval.c (undefined arguments print) */
	return 0;
}

static const struct builtin table[] = {
	{ "equal", 2, bi_equal },
	{ "neq", 2, bi_neq },
	{ "lt", 2, bi_lt },
	{ "lte", 2, bi_lte },
	{ "gt", 2, bi_gt },
	{ "gte", 2, bi_gte },
	{ "plus", 2, bi_plus },
	{ "minus", 2, bi_minus },
	{ "mul", 2, bi_mul },
	{ "div", 2, bi_div },
	{ "rem", 2, bi_rem },
	{ "and", 2, bi_and },
	{ "or", 2, bi_or },
	{ "internal.member_2", 2, bi_member },
	{ "internal.member_3", 3, bi_member3 },
	{ "count", 1, bi_count },
	{ "sum", 1, bi_sum },
	{ "product", 1, bi_product },
	{ "max", 1, bi_max },
	{ "min", 1, bi_min },
	{ "sort", 1, bi_sort },
	{ "abs", 1, bi_abs },
	{ "round", 1, bi_round },
	{ "ceil", 1, bi_ceil },
	{ "floor", 1, bi_floor },
	{ "numbers.range", 2, bi_range },
	{ "is_number", 1, bi_is_number },
	{ "is_string", 1, bi_is_string },
	{ "is_boolean", 1, bi_is_boolean },
	{ "is_array", 1, bi_is_array },
	{ "is_set", 1, bi_is_set },
	{ "is_object", 1, bi_is_object },
	{ "is_null", 1, bi_is_null },
	{ "type_name", 1, bi_type_name },
	{ "to_number", 1, bi_to_number },
	{ "concat", 2, bi_concat },
	{ "split", 2, bi_split },
	{ "replace", 3, bi_replace },
	{ "strings.replace_n", 2, bi_replace_n },
	{ "strings.reverse", 1, bi_reverse },
	{ "trim", 2, bi_trim },
	{ "trim_left", 2, bi_trim_left },
	{ "trim_right", 2, bi_trim_right },
	{ "trim_prefix", 2, bi_trim_prefix },
	{ "trim_suffix", 2, bi_trim_suffix },
	{ "trim_space", 1, bi_trim_space },
	{ "startswith", 2, bi_startswith },
	{ "endswith", 2, bi_endswith },
	{ "contains", 2, bi_contains },
	{ "indexof", 2, bi_indexof },
	{ "indexof_n", 2, bi_indexof_n },
	{ "substring", 3, bi_substring },
	{ "lower", 1, bi_lower },
	{ "upper", 1, bi_upper },
	{ "format_int", 2, bi_format_int },
	{ "sprintf", 2, bi_sprintf },
	{ "array.concat", 2, bi_array_concat },
	{ "array.slice", 3, bi_array_slice },
	{ "array.reverse", 1, bi_array_reverse },
	{ "object.get", 3, bi_object_get },
	{ "object.union", 2, bi_object_union },
	{ "object.union_n", 1, bi_object_union_n },
	{ "object.remove", 2, bi_object_remove },
	{ "object.filter", 2, bi_object_filter },
	{ "object.keys", 1, bi_object_keys },
	{ "union", 1, bi_union },
	{ "intersection", 1, bi_intersection },
	{ "all", 1, bi_all },
	{ "any", 1, bi_any },
	{ "bits.or", 2, bi_bits_or },
	{ "bits.and", 2, bi_bits_and },
	{ "bits.xor", 2, bi_bits_xor },
	{ "bits.negate", 1, bi_bits_negate },
	{ "bits.lsh", 2, bi_bits_lsh },
	{ "bits.rsh", 2, bi_bits_rsh },
	{ "base64.encode", 1, bi_b64_enc },
	{ "base64.decode", 1, bi_b64_dec },
	{ "base64.is_valid", 1, bi_b64_valid },
	{ "base64url.encode", 1, bi_b64url_enc },
	{ "base64url.encode_no_pad", 1, bi_b64url_enc_np },
	{ "base64url.decode", 1, bi_b64url_dec },
	{ "json.marshal", 1, bi_json_marshal },
	{ "json.unmarshal", 1, bi_json_unmarshal },
	{ "json.is_valid", 1, bi_json_is_valid },
	{ "regex.match", 2, bi_regex_match },
	{ "re_match", 2, bi_regex_match },
	{ "regex.is_valid", 1, bi_regex_is_valid },
	{ "regex.find_all_string_submatch_n", 3, bi_regex_find_sub },
	{ "regex.find_n", 3, bi_regex_find_n },
	{ "regex.replace", 3, bi_regex_replace },
	{ "regex.split", 2, bi_regex_split },
	{ "print", -1, bi_print },
};

const struct builtin *builtin_find(const char *name)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i].name, name))
			return &table[i];
	return builtin_find_ext(name);
}
