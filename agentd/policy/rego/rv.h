/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rv.h - the evaluator's values and the arena they live in (internal to
 * agentd/policy/rego).
 *
 * Values are immutable once built and are never freed one by one: each lives
 * in an arena (the compiled policy's, the data's or one query's), released
 * whole.  So sharing a value between documents is free and an evaluation can
 * be abandoned at any point (a bound reached) without leaking.
 *
 * Numbers: int64 when the value is an exact integer in range, else a double
 * (OPA uses arbitrary precision; policies compare small integers).  Objects
 * and sets are arrays sorted by rv_cmp, which is OPA's order of values:
 * null < boolean < number < string < array < object < set.
 *
 * An arena over its limit longjmps to the jmp_buf the entry point set (the
 * query or the parse fails with RESOURCE_EXHAUSTED), so callers never check
 * for NULL.
 */
#ifndef KATA_REGO_RV_H
#define KATA_REGO_RV_H

#include <jansson.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena_chunk;
struct arena {
	struct arena_chunk *head;
	size_t used;  /* bytes handed out, all chunks */
	size_t limit; /* 0: unlimited */
	jmp_buf *oom; /* where to go over the limit (set by the entry point) */
};

void *ar_alloc(struct arena *a, size_t n);
void *ar_dup(struct arena *a, const void *p, size_t n);
char *ar_strndup(struct arena *a, const char *s, size_t n);
void ar_free(struct arena *a);

enum rv_type { RV_NULL, RV_BOOL, RV_NUM, RV_STR, RV_ARR, RV_OBJ, RV_SET };

struct rv {
	enum rv_type t;
	union {
		bool b;
		struct {
			bool is_int;
			int64_t i;
			double d;
		} num;
		struct {
			size_t len;
			const char *s; /* NUL-terminated too */
		} str;
		struct {
			size_t n;
			const struct rv **v; /* array items; set members (sorted, unique) */
		} arr;
		struct {
			size_t n;
			const struct rv **k; /* sorted, unique */
			const struct rv **v;
		} obj;
	};
};

extern const struct rv rv_null, rv_true, rv_false, rv_empty_arr, rv_empty_obj, rv_empty_set;

static inline const struct rv *rv_bool(bool b)
{
	return b ? &rv_true : &rv_false;
}
const struct rv *rv_int(struct arena *a, int64_t i);
/* A double; integral values in int64 range become ints. */
const struct rv *rv_num(struct arena *a, double d);
const struct rv *rv_str(struct arena *a, const char *s, size_t len);
const struct rv *rv_cstr(struct arena *a, const char *s);
/* Takes ownership of items (arena memory). */
const struct rv *rv_arr(struct arena *a, const struct rv **items, size_t n);
/* Sorts and removes duplicates in items (arena memory, reused). */
const struct rv *rv_set(struct arena *a, const struct rv **items, size_t n);
/* Sorts by key; returns NULL when a key repeats with a different value
 * (*dup_key gets the key); equal duplicates are folded. */
const struct rv *rv_obj(struct arena *a, const struct rv **keys, const struct rv **vals, size_t n,
			const struct rv **dup_key);

int rv_cmp(const struct rv *a, const struct rv *b);
static inline bool rv_eq(const struct rv *a, const struct rv *b)
{
	return a == b || rv_cmp(a, b) == 0;
}
static inline double rv_numd(const struct rv *v)
{
	return v->num.is_int ? (double)v->num.i : v->num.d;
}
/* A number that is an exact integer (int64). */
bool rv_as_int(const struct rv *v, int64_t *out);

/* Object field / set member / array element; NULL when absent. */
const struct rv *rv_get(const struct rv *coll, const struct rv *key);
bool rv_set_has(const struct rv *set, const struct rv *v);

/* Growable list of values in an arena (builders for arrays, sets, objects). */
struct rvlist {
	const struct rv **v;
	size_t n, cap;
};
void rvl_push(struct arena *a, struct rvlist *l, const struct rv *v);

/* JSON in and out.  Input limits: nodes and depth; over them -> -E2BIG. */
int rv_from_json(struct arena *a, const json_t *j, size_t max_nodes, const struct rv **out);
/* Sets become sorted arrays; non-string object keys their JSON text. */
json_t *rv_to_json(const struct rv *v);
/* Compact JSON text of v (arena string); sets print as arrays. */
char *rv_json_text(struct arena *a, const struct rv *v);
const char *rv_type_name(const struct rv *v);

#endif
