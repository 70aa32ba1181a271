/* SPDX-License-Identifier: Apache-2.0 */
/* value.c - arenas, value constructors, OPA's order of values, JSON in/out. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rv.h"
#include "sbuf.h"

struct arena_chunk {
	struct arena_chunk *next;
	size_t size, off;
	max_align_t data[];
};

#define CHUNK_MIN (64 * 1024)

void *ar_alloc(struct arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	struct arena_chunk *c = a->head;
	if (!c || c->size - c->off < n) {
		size_t sz = n > CHUNK_MIN ? n : CHUNK_MIN;
		if (a->limit && a->used + sz > a->limit + CHUNK_MIN)
			goto over;
		c = malloc(sizeof(*c) + sz);
		if (!c)
			goto over;
		c->size = sz;
		c->off = 0;
		c->next = a->head;
		a->head = c;
	}
	if (a->limit && a->used + n > a->limit)
		goto over;
	void *p = (char *)c->data + c->off;
	c->off += n;
	a->used += n;
	return p;
over:
	if (a->oom)
		longjmp(*a->oom, 1);
	abort(); /* an arena without a limit handler never has a limit */
}

void *ar_dup(struct arena *a, const void *p, size_t n)
{
	void *q = ar_alloc(a, n ? n : 1);
	if (n)
		memcpy(q, p, n);
	return q;
}

char *ar_strndup(struct arena *a, const char *s, size_t n)
{
	char *q = ar_alloc(a, n + 1);
	memcpy(q, s, n);
	q[n] = 0;
	return q;
}

void ar_free(struct arena *a)
{
	struct arena_chunk *c = a->head;
	while (c) {
		struct arena_chunk *n = c->next;
		free(c);
		c = n;
	}
	a->head = NULL;
	a->used = 0;
}

const struct rv rv_null = { .t = RV_NULL };
const struct rv rv_true = { .t = RV_BOOL, .b = true };
const struct rv rv_false = { .t = RV_BOOL, .b = false };
const struct rv rv_empty_arr = { .t = RV_ARR };
const struct rv rv_empty_obj = { .t = RV_OBJ };
const struct rv rv_empty_set = { .t = RV_SET };

static struct rv *rv_new(struct arena *a, enum rv_type t)
{
	struct rv *v = ar_alloc(a, sizeof(*v));
	memset(v, 0, sizeof(*v));
	v->t = t;
	return v;
}

const struct rv *rv_int(struct arena *a, int64_t i)
{
	struct rv *v = rv_new(a, RV_NUM);
	v->num.is_int = true;
	v->num.i = i;
	return v;
}

const struct rv *rv_num(struct arena *a, double d)
{
	if (isfinite(d) && d == trunc(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
		return rv_int(a, (int64_t)d);
	struct rv *v = rv_new(a, RV_NUM);
	v->num.d = d;
	return v;
}

bool rv_as_int(const struct rv *v, int64_t *out)
{
	if (v->t != RV_NUM || !v->num.is_int)
		return false;
	*out = v->num.i;
	return true;
}

const struct rv *rv_str(struct arena *a, const char *s, size_t len)
{
	struct rv *v = rv_new(a, RV_STR);
	v->str.s = ar_strndup(a, s, len);
	v->str.len = len;
	return v;
}

const struct rv *rv_cstr(struct arena *a, const char *s)
{
	return rv_str(a, s, strlen(s));
}

const struct rv *rv_arr(struct arena *a, const struct rv **items, size_t n)
{
	if (!n)
		return &rv_empty_arr;
	struct rv *v = rv_new(a, RV_ARR);
	v->arr.v = items;
	v->arr.n = n;
	return v;
}

static int cmp_pp(const void *x, const void *y)
{
	return rv_cmp(*(const struct rv *const *)x, *(const struct rv *const *)y);
}

const struct rv *rv_set(struct arena *a, const struct rv **items, size_t n)
{
	if (!n)
		return &rv_empty_set;
	qsort(items, n, sizeof(*items), cmp_pp);
	size_t m = 1;
	for (size_t i = 1; i < n; i++)
		if (rv_cmp(items[m - 1], items[i]) != 0)
			items[m++] = items[i];
	struct rv *v = rv_new(a, RV_SET);
	v->arr.v = items;
	v->arr.n = m;
	return v;
}

struct kv {
	const struct rv *k, *v;
};

static int cmp_kv(const void *x, const void *y)
{
	return rv_cmp(((const struct kv *)x)->k, ((const struct kv *)y)->k);
}

const struct rv *rv_obj(struct arena *a, const struct rv **keys, const struct rv **vals, size_t n,
			const struct rv **dup_key)
{
	if (!n)
		return &rv_empty_obj;
	struct kv *kv = ar_alloc(a, n * sizeof(*kv));
	for (size_t i = 0; i < n; i++)
		kv[i] = (struct kv){ keys[i], vals[i] };
	qsort(kv, n, sizeof(*kv), cmp_kv);
	const struct rv **k = ar_alloc(a, n * sizeof(*k)), **v = ar_alloc(a, n * sizeof(*v));
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && rv_cmp(k[m - 1], kv[i].k) == 0) {
			if (!rv_eq(v[m - 1], kv[i].v)) {
				if (dup_key)
					*dup_key = kv[i].k;
				return NULL;
			}
			continue;
		}
		k[m] = kv[i].k;
		v[m++] = kv[i].v;
	}
	struct rv *o = rv_new(a, RV_OBJ);
	o->obj.k = k;
	o->obj.v = v;
	o->obj.n = m;
	return o;
}

static int cmp_num(const struct rv *a, const struct rv *b)
{
	if (a->num.is_int && b->num.is_int)
		return a->num.i < b->num.i ? -1 : a->num.i > b->num.i;
	double x = rv_numd(a), y = rv_numd(b);
	return x < y ? -1 : x > y;
}

int rv_cmp(const struct rv *a, const struct rv *b)
{
	if (a == b)
		return 0;
	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	switch (a->t) {
	case RV_NULL:
		return 0;
	case RV_BOOL:
		return (int)a->b - (int)b->b;
	case RV_NUM:
		return cmp_num(a, b);
	case RV_STR: {
		size_t n = a->str.len < b->str.len ? a->str.len : b->str.len;
		int c = memcmp(a->str.s, b->str.s, n);
		if (c)
			return c < 0 ? -1 : 1;
		return a->str.len < b->str.len ? -1 : a->str.len > b->str.len;
	}
	case RV_ARR:
	case RV_SET: {
		size_t n = a->arr.n < b->arr.n ? a->arr.n : b->arr.n;
		for (size_t i = 0; i < n; i++) {
			int c = rv_cmp(a->arr.v[i], b->arr.v[i]);
			if (c)
				return c;
		}
		return a->arr.n < b->arr.n ? -1 : a->arr.n > b->arr.n;
	}
	case RV_OBJ: {
		size_t n = a->obj.n < b->obj.n ? a->obj.n : b->obj.n;
		for (size_t i = 0; i < n; i++) {
			int c = rv_cmp(a->obj.k[i], b->obj.k[i]);
			if (c)
				return c;
			c = rv_cmp(a->obj.v[i], b->obj.v[i]);
			if (c)
				return c;
		}
		return a->obj.n < b->obj.n ? -1 : a->obj.n > b->obj.n;
	}
	}
	return 0;
}

static ssize_t bsearch_idx(const struct rv **items, size_t n, const struct rv *key)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = rv_cmp(items[mid], key);
		if (!c)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

bool rv_set_has(const struct rv *set, const struct rv *v)
{
	return bsearch_idx(set->arr.v, set->arr.n, v) >= 0;
}

const struct rv *rv_get(const struct rv *coll, const struct rv *key)
{
	switch (coll->t) {
	case RV_OBJ: {
		ssize_t i = bsearch_idx(coll->obj.k, coll->obj.n, key);
		return i < 0 ? NULL : coll->obj.v[i];
	}
	case RV_SET: {
		ssize_t i = bsearch_idx(coll->arr.v, coll->arr.n, key);
		return i < 0 ? NULL : coll->arr.v[i];
	}
	case RV_ARR: {
		int64_t i;
		if (!rv_as_int(key, &i) || i < 0 || (uint64_t)i >= coll->arr.n)
			return NULL;
		return coll->arr.v[i];
	}
	default:
		return NULL;
	}
}

void rvl_push(struct arena *a, struct rvlist *l, const struct rv *v)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		const struct rv **nv = ar_alloc(a, cap * sizeof(*nv));
		if (l->n)
			memcpy(nv, l->v, l->n * sizeof(*nv));
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = v;
}

struct jin {
	struct arena *a;
	size_t nodes, max_nodes;
};

static int from_json(struct jin *in, const json_t *j, int depth, const struct rv **out)
{
	if (++in->nodes > in->max_nodes || depth > 256)
		return -E2BIG;
	struct arena *a = in->a;
	switch (json_typeof(j)) {
	case JSON_NULL:
		*out = &rv_null;
		return 0;
	case JSON_TRUE:
		*out = &rv_true;
		return 0;
	case JSON_FALSE:
		*out = &rv_false;
		return 0;
	case JSON_INTEGER:
		*out = rv_int(a, json_integer_value(j));
		return 0;
	case JSON_REAL:
		*out = rv_num(a, json_real_value(j));
		return 0;
	case JSON_STRING:
		*out = rv_str(a, json_string_value(j), json_string_length(j));
		return 0;
	case JSON_ARRAY: {
		size_t n = json_array_size(j);
		const struct rv **items = n ? ar_alloc(a, n * sizeof(*items)) : NULL;
		for (size_t i = 0; i < n; i++) {
			int r = from_json(in, json_array_get(j, i), depth + 1, &items[i]);
			if (r < 0)
				return r;
		}
		*out = rv_arr(a, items, n);
		return 0;
	}
	case JSON_OBJECT: {
		size_t n = json_object_size(j), i = 0;
		const struct rv **k = n ? ar_alloc(a, n * sizeof(*k)) : NULL;
		const struct rv **v = n ? ar_alloc(a, n * sizeof(*v)) : NULL;
		const char *key;
		size_t klen;
		json_t *val;
		json_object_keylen_foreach((json_t *)j, key, klen, val) {
			k[i] = rv_str(a, key, klen);
			int r = from_json(in, val, depth + 1, &v[i]);
			if (r < 0)
				return r;
			i++;
		}
		*out = rv_obj(a, k, v, n, NULL);
		return 0;
	}
	}
	return -EINVAL;
}

int rv_from_json(struct arena *a, const json_t *j, size_t max_nodes, const struct rv **out)
{
	struct jin in = { a, 0, max_nodes ? max_nodes : SIZE_MAX };
	return from_json(&in, j, 0, out);
}

/* Shortest text of a number that reads back the same. */
static void rv_num_text(const struct rv *v, char *buf, size_t len)
{
	if (v->num.is_int) {
		snprintf(buf, len, "%lld", (long long)v->num.i);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v->num.d);
		if (strtod(buf, NULL) == v->num.d)
			break;
	}
	/* OPA prints big numbers in plain notation where Go's big.Float would
	 * ("1e+21" stays as is: both read back the same) */
}

json_t *rv_to_json(const struct rv *v)
{
	switch (v->t) {
	case RV_NULL:
		return json_null();
	case RV_BOOL:
		return json_boolean(v->b);
	case RV_NUM:
		return v->num.is_int ? json_integer(v->num.i) : json_real(v->num.d);
	case RV_STR:
		return json_stringn(v->str.s, v->str.len);
	case RV_ARR:
	case RV_SET: {
		json_t *a = json_array();
		for (size_t i = 0; i < v->arr.n; i++)
			json_array_append_new(a, rv_to_json(v->arr.v[i]));
		return a;
	}
	case RV_OBJ: {
		json_t *o = json_object();
		for (size_t i = 0; i < v->obj.n; i++) {
			const struct rv *k = v->obj.k[i];
			if (k->t == RV_STR) {
				json_object_setn_new(o, k->str.s, k->str.len,
						     rv_to_json(v->obj.v[i]));
			} else {
				json_t *kj = rv_to_json(k);
				char *ks = json_dumps(kj, JSON_COMPACT | JSON_ENCODE_ANY);
				json_decref(kj);
				if (ks)
					json_object_set_new(o, ks, rv_to_json(v->obj.v[i]));
				free(ks);
			}
		}
		return o;
	}
	}
	return json_null();
}

static void sb_json_str(struct sbuf *b, const char *s, size_t n)
{
	sb_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		switch (c) {
		case '"':
			sb_puts(b, "\\\"");
			break;
		case '\\':
			sb_puts(b, "\\\\");
			break;
		case '\n':
			sb_puts(b, "\\n");
			break;
		case '\t':
			sb_puts(b, "\\t");
			break;
		case '\r':
			sb_puts(b, "\\r");
			break;
		default:
			if (c < 0x20)
				sb_printf(b, "\\u%04x", c);
			else
				sb_putc(b, (char)c);
		}
	}
	sb_putc(b, '"');
}

void sb_json(struct sbuf *b, const struct rv *v)
{
	char num[64];
	switch (v->t) {
	case RV_NULL:
		sb_puts(b, "null");
		break;
	case RV_BOOL:
		sb_puts(b, v->b ? "true" : "false");
		break;
	case RV_NUM:
		rv_num_text(v, num, sizeof(num));
		sb_puts(b, num);
		break;
	case RV_STR:
		sb_json_str(b, v->str.s, v->str.len);
		break;
	case RV_ARR:
	case RV_SET:
		sb_putc(b, '[');
		for (size_t i = 0; i < v->arr.n; i++) {
			if (i)
				sb_putc(b, ',');
			sb_json(b, v->arr.v[i]);
		}
		sb_putc(b, ']');
		break;
	case RV_OBJ:
		sb_putc(b, '{');
		for (size_t i = 0; i < v->obj.n; i++) {
			if (i)
				sb_putc(b, ',');
			if (v->obj.k[i]->t == RV_STR) {
				sb_json(b, v->obj.k[i]);
			} else {
				struct sbuf kb = { .a = b->a };
				sb_json(&kb, v->obj.k[i]);
				sb_json_str(b, kb.s ? kb.s : "", kb.n);
			}
			sb_putc(b, ':');
			sb_json(b, v->obj.v[i]);
		}
		sb_putc(b, '}');
		break;
	}
}

char *rv_json_text(struct arena *a, const struct rv *v)
{
	struct sbuf b = { .a = a };
	sb_json(&b, v);
	return sb_str(&b);
}

const char *rv_type_name(const struct rv *v)
{
	static const char *const names[] = { "null",  "boolean", "number", "string",
					     "array", "object",  "set" };
	return names[v->t];
}
