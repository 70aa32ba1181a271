/* SPDX-License-Identifier: Apache-2.0 */
/*
 * builtins_ext.c - builtins added after the first table (builtins.c) when the
 * evaluator was measured against OPA's whole conformance suite: more string,
 * array, object and set builtins a policy author reaches for.  Same rules as
 * builtins.c: OPA's names, argument checks and results.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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
			return builtin_error(c, name,
					     "operand %d must be array of strings but got "
					     "array containing %s",
					     i + 1, rv_type_name(a->arr.v[k]));
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
		return builtin_error(c, NAME,
				     "operand 3 must be integer number but got "
				     "floating-point number");
	const struct builtin *split = builtin_find("split");
	const struct rv *all;
	int r = split->fn(c, args, &all);
	if (r < 0)
		return r;
	size_t total = all->arr.n, from = 0, k = total;
	if (n >= 0 && (uint64_t)n < total)
		k = (size_t)n;
	else if (n < 0 && (uint64_t) - (n + 1) + 1 < total) {
		k = (size_t) - (n + 1) + 1;
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

/* ---- json.filter, json.remove ---- */

/* The paths as a tree: each node a path segment; "end" where a path stops. */
struct ptree {
	const struct rv *seg;
	bool end;
	struct ptree *kids, *next;
};

static struct ptree *pt_child(struct ectx *c, struct ptree *n, const struct rv *seg)
{
	for (struct ptree *k = n->kids; k; k = k->next)
		if (rv_eq(k->seg, seg))
			return k;
	struct ptree *k = ar_alloc(A, sizeof(*k));
	*k = (struct ptree){ .seg = seg, .next = n->kids };
	n->kids = k;
	return k;
}

/* "a/b/~1c" (JSON pointer escapes) or ["a", 0, ...]. */
static int pt_add(struct ectx *c, const char *name, struct ptree *root, const struct rv *p)
{
	struct ptree *n = root;
	if (p->t == RV_ARR) {
		for (size_t i = 0; i < p->arr.n; i++)
			n = pt_child(c, n, p->arr.v[i]);
	} else if (p->t == RV_STR) {
		const char *s = p->str.s, *e = s + p->str.len;
		while (s < e && *s == '/')
			s++;
		while (e > s && e[-1] == '/')
			e--;
		while (s < e) {
			const char *slash = memchr(s, '/', (size_t)(e - s));
			const char *end = slash ? slash : e;
			struct sbuf b = { .a = A };
			for (const char *q = s; q < end; q++) {
				if (*q == '~' && q + 1 < end && (q[1] == '0' || q[1] == '1')) {
					sb_putc(&b, q[1] == '0' ? '~' : '/');
					q++;
				} else {
					sb_putc(&b, *q);
				}
			}
			n = pt_child(c, n, rv_str(A, sb_str(&b), b.n));
			s = slash ? slash + 1 : e;
		}
	} else {
		return builtin_error(c, name,
				     "operand 2 must be one of {set, array} containing "
				     "string paths or array of path segments but got %s",
				     rv_type_name(p));
	}
	n->end = true;
	return 0;
}

/* The node for key k of a document: object keys as they are, array
 * indices as numbers or their decimal text. */
static struct ptree *pt_find(struct ptree *n, const struct rv *key, bool index)
{
	for (struct ptree *k = n->kids; k; k = k->next) {
		if (rv_eq(k->seg, key))
			return k;
		if (index && k->seg->t == RV_STR) {
			char buf[32];
			snprintf(buf, sizeof(buf), "%" PRId64, key->num.i);
			if (!strcmp(buf, k->seg->str.s))
				return k;
		}
	}
	return NULL;
}

/* keep: json.filter (only the paths) or json.remove (all but them). */
static const struct rv *pt_apply(struct ectx *c, const struct rv *doc, struct ptree *n, bool keep)
{
	if (n->end)
		return keep ? doc : NULL;
	if (doc->t != RV_OBJ && doc->t != RV_ARR)
		return keep ? NULL : doc;
	struct rvlist k = { 0 }, v = { 0 };
	size_t len = doc->t == RV_OBJ ? doc->obj.n : doc->arr.n;
	for (size_t i = 0; i < len; i++) {
		eval_step(c);
		const struct rv *key = doc->t == RV_OBJ ? doc->obj.k[i] : rv_int(A, (int64_t)i);
		const struct rv *val = doc->t == RV_OBJ ? doc->obj.v[i] : doc->arr.v[i];
		struct ptree *sub = pt_find(n, key, doc->t == RV_ARR);
		const struct rv *nv = sub ? pt_apply(c, val, sub, keep) : keep ? NULL : val;
		if (!nv)
			continue;
		rvl_push(A, &k, key);
		rvl_push(A, &v, nv);
	}
	if (doc->t == RV_ARR)
		return rv_arr(A, v.v, v.n);
	return rv_obj(A, k.v, v.v, k.n, NULL);
}

static int json_paths(struct ectx *c, const char *name, const struct rv **args, bool keep,
		      const struct rv **out)
{
	const char *NAME = name;
	NEED(0, RV_OBJ, "object");
	if (args[1]->t != RV_SET && args[1]->t != RV_ARR)
		return type_err(c, name, 1, "one of {set, array}", args[1]);
	struct ptree root = { 0 };
	for (size_t i = 0; i < args[1]->arr.n; i++) {
		int r = pt_add(c, name, &root, args[1]->arr.v[i]);
		if (r < 0)
			return r;
	}
	if (!args[1]->arr.n) {
		*out = keep ? &rv_empty_obj : args[0];
		return 0;
	}
	*out = pt_apply(c, args[0], &root, keep);
	if (!*out)
		*out = &rv_empty_obj;
	return 0;
}

static int bi_json_filter(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return json_paths(c, "json.filter", args, true, out);
}

static int bi_json_remove(struct ectx *c, const struct rv **args, const struct rv **out)
{
	return json_paths(c, "json.remove", args, false, out);
}

/* ---- net.cidr_contains ---- */

struct cidr {
	int family;
	unsigned char addr[16];
	int bits; /* prefix length; the address length for a plain address */
};

/* "a.b.c.d/n", "x::y/n", or (allow_ip) a plain address. */
static bool cidr_parse(const struct rv *v, bool allow_ip, struct cidr *out)
{
	char buf[64];
	if (v->t != RV_STR || v->str.len >= sizeof(buf))
		return false;
	memcpy(buf, v->str.s, v->str.len + 1);
	char *slash = strchr(buf, '/');
	if (!slash && !allow_ip)
		return false;
	if (slash)
		*slash = 0;
	out->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	int max = out->family == AF_INET6 ? 128 : 32;
	if (inet_pton(out->family, buf, out->addr) != 1)
		return false;
	out->bits = max;
	if (slash) {
		char *end;
		long n = strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || n < 0 || n > max)
			return false;
		out->bits = (int)n;
	}
	return true;
}

static bool prefix_equal(const unsigned char *a, const unsigned char *b, int bits)
{
	int full = bits / 8, rest = bits % 8;
	if (memcmp(a, b, (size_t)full))
		return false;
	if (!rest)
		return true;
	unsigned char mask = (unsigned char)(0xFF << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

/* net.cidr_contains(cidr, cidr_or_ip): pure arithmetic on addresses, no
 * lookups (the rest of net.* stays refused). */
static int bi_cidr_contains(struct ectx *c, const struct rv **args, const struct rv **out)
{
	const char *NAME = "net.cidr_contains";
	NEED(0, RV_STR, "string");
	NEED(1, RV_STR, "string");
	struct cidr a, b;
	if (!cidr_parse(args[0], false, &a))
		return builtin_error(c, NAME, "invalid CIDR %s", args[0]->str.s);
	if (!cidr_parse(args[1], true, &b))
		return builtin_error(c, NAME, "invalid CIDR or IP %s", args[1]->str.s);
	*out = rv_bool(a.family == b.family && a.bits <= b.bits &&
		       prefix_equal(a.addr, b.addr, a.bits));
	return 0;
}

static const struct builtin table[] = {
	{ "strings.any_prefix_match", 2, bi_any_prefix_match },
	{ "strings.any_suffix_match", 2, bi_any_suffix_match },
	{ "strings.count", 2, bi_str_count },
	{ "strings.split_n", 3, bi_split_n },
	{ "array.flatten", 1, bi_array_flatten },
	{ "json.filter", 2, bi_json_filter },
	{ "json.remove", 2, bi_json_remove },
	{ "net.cidr_contains", 2, bi_cidr_contains },
};

/* OPA builtins this evaluator does not implement, refused at compile time so
 * that a policy using one fails to load instead of being read differently
 * (doc/policy.md says why each family is left out). */
static const char *const unsupported[] = {
	"time.",
	"http.send",
	"net.",
	"crypto.",
	"io.jwt.",
	"glob.",
	"units.",
	"graph.",
	"graphql.",
	"yaml.",
	"uuid.",
	"opa.runtime",
	"rand.",
	"rego.",
	"providers.",
	"semver.",
	"urlquery.",
	"hex.",
	"json.patch",
	"json.match_schema",
	"json.verify_schema",
	"json.marshal_with_options",
	"strings.render_template",
	"regex.template_match",
	"regex.globs_match",
	"walk",
	"trace",
	"object.subset",
	"numbers.range_step",
	"cast_array",
	"cast_set",
	"cast_string",
	"cast_boolean",
	"cast_null",
	"cast_object",
	"set_diff",
};

bool builtin_unsupported(const char *name)
{
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		const char *u = unsupported[i];
		size_t n = strlen(u);
		if (u[n - 1] == '.' ? !strncmp(name, u, n) : !strcmp(name, u))
			return true;
	}
	return false;
}

const struct builtin *builtin_find_ext(const char *name)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i].name, name))
			return &table[i];
	return NULL;
}
