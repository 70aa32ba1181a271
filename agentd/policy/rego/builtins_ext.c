/* SPDX-License-Identifier: Apache-2.0 */
/*
 * builtins_ext.c - builtins added after the first table (builtins.c) when the
 * evaluator was measured against OPA's whole conformance suite: more string,
 * array, object and set builtins a policy author reaches for.  Same rules as
 * builtins.c: OPA's names, argument checks and results.
 */
#include <stdlib.h>
#include <string.h>

#include "builtins.h"
#include "sbuf.h"

#define A (c->a)

/* ---- strings ---- */

/* A string, or an array or set of strings, as a list of string values. */
static int str_list(struct ectx *c, const char *name, const struct rv **args, int i,
		    const struct rv *const **v, size_t *n, const struct rv **one)
{
	const struct rv *a = args[i];
	if (a->t == RV_STR) {
		*one = a;
		*v = one;
		*n = 1;
		return 0;
	}
	if (a->t != RV_ARR && a->t != RV_SET)
		return type_err(c, name, i, "one of {string, set, array}", a);
	for (size_t k = 0; k < a->arr.n; k++)
		if (a->arr.v[k]->t != RV_STR)
			return builtin_error(c, name, "operand %d must be array of strings but got "
					     "array containing %s", i + 1,
					     rv_type_name(a->arr.v[k]));
	*v = a->arr.v;
	*n = a->arr.n;
	return 0;
}

static bool has_prefix(const struct rv *s, const struct rv *p)
{
	return p->str.len <= s->str.len && !memcmp(s->str.s, p->str.s, p->str.len);
}

static bool has_suffix(const struct rv *s, const struct rv *p)
{
	size_t n = s->str.len, m = p->str.len;
	return m <= n && !memcmp(s->str.s + n - m, p->str.s, m);
}

static int any_match(struct ectx *c, const char *name, const struct rv **args,
		     bool (*match)(const struct rv *, const struct rv *), const struct rv **out)
{
	const struct rv *const *s, *const *p;
	const struct rv *s1, *p1;
	size_t ns, np;
	int r = str_list(c, name, args, 0, &s, &ns, &s1);
	if (r < 0 || (r = str_list(c, name, args, 1, &p, &np, &p1)) < 0)
		return r;
	bool hit = false;
	for (size_t i = 0; i < ns && !hit; i++)
		for (size_t j = 0; j < np && !hit; j++)
			hit = match(s[i], p[j]);
	*out = rv_bool(hit);
	return 0;
}

static int bi_any_prefix_match(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return any_match(c, "strings.any_prefix_match", args, has_prefix, out);
}

static int bi_any_suffix_match(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return any_match(c, "strings.any_suffix_match", args, has_suffix, out);
}

/* strings.count: non-overlapping occurrences (Go's strings.Count: an empty
 * needle counts code points + 1). */
static int bi_str_count(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "strings.count";
	NEED(0, RV_STR, "string");
	NEED(1, RV_STR, "string");
	const struct rv *s = args[0], *d = args[1];
	int64_t n = 0;
	if (!d->str.len) {
		n = (int64_t)utf8_len(s->str.s, s->str.len) + 1;
	} else {
		const char *hit;
		size_t from = 0;
		while ((hit = memmem_s(s, from, d))) {
			n++;
			from = (size_t)(hit - s->str.s) + d->str.len;
		}
	}
	*out = rv_int(A, n);
	return 0;
}

/* strings.split_n: split as split() does, then keep the first n parts
 * (n > 0), the last -n (n < 0), or none (0). */
static int bi_split_n(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "strings.split_n";
	NEED(0, RV_STR, "string");
	NEED(1, RV_STR, "string");
	NEED(2, RV_NUM, "number");
	int64_t n;
	if (!rv_as_int(args[2], &n))
		return builtin_error(c, NAME, "operand 3 must be integer number but got "
				     "floating-point number");
	const struct builtin *split = builtin_find("split");
	const struct rv *all;
	int r = split->fn(c, args, &all);
	if (r < 0)
		return r;
	size_t total = all->arr.n, from = 0, k = total;
	if (n >= 0 && (uint64_t)n < total)
		k = (size_t)n;
	else if (n < 0 && (uint64_t)-(n + 1) + 1 < total) {
		k = (size_t)-(n + 1) + 1;
		from = total - k;
	}
	*out = rv_arr(A, ar_dup(A, all->arr.v + from, (k ? k : 1) * sizeof(*all->arr.v)), k);
	return 0;
}

/* ---- arrays ---- */

/* array.flatten: one level of nesting. */
static int bi_array_flatten(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "array.flatten";
	NEED(0, RV_ARR, "array");
	struct rvlist l = { 0 };
	for (size_t i = 0; i < args[0]->arr.n; i++) {
		const struct rv *e = args[0]->arr.v[i];
		if (e->t != RV_ARR) {
			rvl_push(A, &l, e);
			continue;
		}
		for (size_t j = 0; j < e->arr.n; j++)
			rvl_push(A, &l, e->arr.v[j]);
	}
	*out = rv_arr(A, l.v, l.n);
	return 0;
}

static const struct builtin table[] = {
	{ "strings.any_prefix_match", 2, bi_any_prefix_match },
	{ "strings.any_suffix_match", 2, bi_any_suffix_match },
	{ "strings.count", 2, bi_str_count },
	{ "strings.split_n", 3, bi_split_n },
	{ "array.flatten", 1, bi_array_flatten },
};

const struct builtin *builtin_find_ext(const char *name)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i].name, name))
			return &table[i];
	return NULL;
}
