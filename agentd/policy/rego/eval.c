/* SPDX-License-Identifier: Apache-2.0 */
/*
 * eval.c - top-down evaluation of compiled Rego with backtracking, written in
 * continuation-passing style: each evaluator produces its solutions one at a
 * time by calling a continuation, and undoes its variable bindings when the
 * continuation returns.  Return values: 0 = go on (look for more solutions),
 * STOP = a search asked to stop (one solution is enough: not, every, else),
 * < 0 = an evaluation error (c->err says which).
 *
 * Undefined is the absence of solutions; false is a value.  A rule is
 * evaluated once per query (cached per group) unless a `with` modifier is in
 * effect, which gives the evaluation a cache of its own.  Bounds (steps,
 * stack, memory) abandon the query with longjmp to rego_eval; all memory of
 * a query is in its arena, so nothing leaks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "grpc_status.h"
#include "sbuf.h"

#define STOP 1

typedef int (*kfn)(struct ectx *c, void *arg);
typedef int (*vkfn)(struct ectx *c, const struct rv *v, void *arg);

struct cache {
	const struct rv **v; /* per group; NOT_DONE, UNDEF or a value */
};

static const struct rv not_done, undef;

__attribute__((noreturn)) void eval_bail(struct ectx *c, int code, const char *what)
{
	c->bail_code = code;
	int status = code == -ETIME    ? GRPC_DEADLINE_EXCEEDED
		     : code == -ERANGE ? GRPC_INVALID_ARGUMENT
				       : GRPC_RESOURCE_EXHAUSTED;
	kerr_set_status(c->err, status, code, "rego: %s", what);
	longjmp(*c->bail, 1);
}

/* eval.c's own calls inline it: one per expression, term and iteration */
static inline __attribute__((always_inline)) void step(struct ectx *c)
{
	char probe;
	if (++c->steps > c->max_steps)
		eval_bail(c, -ETIME, "evaluation step bound reached");
	if ((size_t)(c->stack_base - &probe) > c->max_stack)
		eval_bail(c, -ELOOP, "evaluation nesting (stack) bound reached");
}

void eval_step(struct ectx *c)
{
	step(c);
}

static int eval_error(struct ectx *c, const struct term *t, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int eval_error(struct ectx *c, const struct term *t, const char *fmt, ...)
{
	char msg[KERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (t)
		return kerr_set(c->err, -EINVAL, "%d:%d: eval_conflict_error: %s", t->line, t->col,
				msg);
	return kerr_set(c->err, -EINVAL, "eval_error: %s", msg);
}

int builtin_error(struct ectx *c, const char *name, const char *fmt, ...)
{
	char msg[KERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return kerr_set(c->err, -EINVAL, "%s: eval_builtin_error: %s", name, msg);
}

static int eval_term(struct ectx *c, struct frame *fr, struct term *t, vkfn vk, void *arg);
static int eval_body(struct ectx *c, struct frame *fr, struct body *b, size_t i, kfn k, void *arg);
static int eval_group(struct ectx *c, struct rgroup *g, const struct rv **out);
static int eval_func(struct ectx *c, struct rgroup *g, const struct rv **args,
		     const struct rv **out);
static int unify_val(struct ectx *c, struct frame *fr, struct term *t, const struct rv *v, kfn k,
		     void *arg);
static int ref_after_unify(struct ectx *c, void *arg);
static int somein_value(struct ectx *c, void *arg);

/* ---- helpers ---- */

static bool has_unbound(const struct frame *fr, const struct term *t)
{
	switch (t->k) {
	case TM_VAR:
		return !fr->slot[t->slot];
	case TM_ARRAY:
	case TM_SET:
		for (size_t i = 0; i < t->n; i++)
			if (has_unbound(fr, t->items[i]))
				return true;
		return false;
	case TM_OBJECT:
		for (size_t i = 0; i < t->n; i++)
			if (has_unbound(fr, t->vals[i]))
				return true;
		return false;
	default:
		return false;
	}
}

static struct frame *new_frame(struct ectx *c, int n)
{
	struct frame *fr = ar_alloc(c->a, sizeof(*fr));
	fr->n = n;
	fr->slot = ar_alloc(c->a, (n ? n : 1) * sizeof(*fr->slot));
	memset(fr->slot, 0, (n ? n : 1) * sizeof(*fr->slot));
	return fr;
}

/* Each (key, value) of a collection; none for scalars. */
static int each_member(struct ectx *c, const struct rv *coll,
		       int (*fn)(struct ectx *, const struct rv *, const struct rv *, void *),
		       void *arg)
{
	int r = 0;
	switch (coll->t) {
	case RV_ARR:
		for (size_t i = 0; i < coll->arr.n && !r; i++) {
			step(c);
			r = fn(c, rv_int(c->a, (int64_t)i), coll->arr.v[i], arg);
		}
		break;
	case RV_SET:
		for (size_t i = 0; i < coll->arr.n && !r; i++) {
			step(c);
			r = fn(c, coll->arr.v[i], coll->arr.v[i], arg);
		}
		break;
	case RV_OBJ:
		for (size_t i = 0; i < coll->obj.n && !r; i++) {
			step(c);
			r = fn(c, coll->obj.k[i], coll->obj.v[i], arg);
		}
		break;
	default:
		break;
	}
	return r;
}

/* Set path (values) in doc to v, creating objects on the way. */
static const struct rv *patch(struct ectx *c, const struct rv *doc, const struct rv *const *path,
			      size_t n, const struct rv *v)
{
	if (!n)
		return v;
	const struct rv *base = doc && doc->t == RV_OBJ ? doc : &rv_empty_obj;
	const struct rv *child = rv_get(base, path[0]);
	const struct rv *nv = patch(c, child, path + 1, n - 1, v);
	size_t m = base->obj.n;
	const struct rv **k = ar_alloc(c->a, (m + 1) * sizeof(*k));
	const struct rv **vals = ar_alloc(c->a, (m + 1) * sizeof(*vals));
	size_t j = 0;
	for (size_t i = 0; i < m; i++) {
		if (rv_eq(base->obj.k[i], path[0]))
			continue;
		k[j] = base->obj.k[i];
		vals[j++] = base->obj.v[i];
	}
	k[j] = path[0];
	vals[j++] = nv;
	return rv_obj(c->a, k, vals, j, NULL);
}

/* ---- references ---- */

struct refk {
	struct frame *fr;
	struct term *t;
	size_t i;
	const struct rv *v;
	vkfn vk;
	void *arg;
};

static int ref_walk(struct ectx *c, struct frame *fr, struct term *t, size_t i, const struct rv *v,
		    vkfn vk, void *arg);

static int ref_iter_cb(struct ectx *c, const struct rv *k, const struct rv *v, void *arg)
{
	struct refk *rk = arg;
	struct term *e = rk->t->items[rk->i];
	if (e->k == TM_VAR) {
		rk->fr->slot[e->slot] = k;
		int r = ref_walk(c, rk->fr, rk->t, rk->i + 1, v, rk->vk, rk->arg);
		rk->fr->slot[e->slot] = NULL;
		return r;
	}
	struct refk next = *rk;
	next.v = v;
	return unify_val(c, rk->fr, e, k, ref_after_unify, &next);
}

static int ref_after_unify(struct ectx *c, void *arg)
{
	struct refk *rk = arg;
	return ref_walk(c, rk->fr, rk->t, rk->i + 1, rk->v, rk->vk, rk->arg);
}

static int ref_key_cb(struct ectx *c, const struct rv *key, void *arg)
{
	struct refk *rk = arg;
	const struct rv *child = rv_get(rk->v, key);
	if (!child)
		return 0;
	return ref_walk(c, rk->fr, rk->t, rk->i + 1, child, rk->vk, rk->arg);
}

static int ref_walk(struct ectx *c, struct frame *fr, struct term *t, size_t i, const struct rv *v,
		    vkfn vk, void *arg)
{
	step(c);
	while (i < t->n && t->items[i]->k == TM_CONST) {
		v = rv_get(v, t->items[i]->v);
		if (!v)
			return 0;
		i++;
	}
	if (i == t->n)
		return vk(c, v, arg);
	struct term *e = t->items[i];
	struct refk rk = { fr, t, i, v, vk, arg };
	if (has_unbound(fr, e))
		return each_member(c, v, ref_iter_cb, &rk);
	return eval_term(c, fr, e, ref_key_cb, &rk);
}

/* data: the tree of rules merged with the base document */

static bool path_is_prefix(const struct rv *const *p, size_t np, const struct term *t, size_t i)
{
	/* t->items[1..i) are constants; is p (np elements) a prefix of it? */
	if (np > i - 1)
		return false;
	for (size_t k = 0; k < np; k++)
		if (!rv_eq(p[k], t->items[k + 1]->v))
			return false;
	return true;
}

/* Overrides of data at or below the constant prefix t->items[1..i). */
static const struct rv *apply_data_overrides(struct ectx *c, const struct term *t, size_t i,
					     const struct rv *v)
{
	for (size_t k = 0; k < c->nov; k++) {
		const struct override *o = &c->ov[k];
		if (o->input || o->fn_from || o->bi_from || o->npath < i - 1)
			continue;
		bool under = true;
		for (size_t j = 0; j + 1 < i && under; j++)
			under = rv_eq(o->path[j], t->items[j + 1]->v);
		if (under)
			v = patch(c, v, o->path + (i - 1), o->npath - (i - 1), o->value);
	}
	return v;
}

static int materialize(struct ectx *c, const struct pnode *node, const struct rv *base,
		       const struct rv **out)
{
	if (node->rg) {
		if (node->rg->kind == RK_FUNC) {
			*out = NULL;
			return 0;
		}
		return eval_group(c, node->rg, out);
	}
	struct rvlist k = { 0 }, v = { 0 };
	if (base && base->t == RV_OBJ)
		for (size_t i = 0; i < base->obj.n; i++) {
			const struct rv *key = base->obj.k[i];
			if (key->t == RV_STR && pnode_child(node, key->str.s))
				continue; /* merged with the rules below */
			rvl_push(c->a, &k, key);
			rvl_push(c->a, &v, base->obj.v[i]);
		}
	for (size_t i = 0; i < node->nkids; i++) {
		const struct rv *key = rv_cstr(c->a, node->kids[i]->name);
		const struct rv *bv = base ? rv_get(base, key) : NULL;
		const struct rv *val = bv;
		/* a rule and a base document at one path: OPA reads the base one
		 * when it enumerates (test-baseandvirtualdocs "conflicts") */
		if (!(bv && node->kids[i]->rg)) {
			int r = materialize(c, node->kids[i], bv, &val);
			if (r < 0)
				return r;
		}
		if (!val)
			continue;
		rvl_push(c->a, &k, key);
		rvl_push(c->a, &v, val);
	}
	const struct rv *dup = NULL;
	*out = rv_obj(c->a, k.v, v.v, k.n, &dup);
	if (!*out)
		return eval_error(c, NULL, "conflicting values in data at key %s",
				  rv_json_text(c->a, dup));
	return 0;
}

static int eval_data(struct ectx *c, struct frame *fr, struct term *t, vkfn vk, void *arg)
{
	const struct pnode *node = &c->pol->root;
	const struct rv *base = c->pol->data;
	size_t i = 1;
	for (;;) {
		for (size_t k = 0; k < c->nov; k++) {
			const struct override *o = &c->ov[k];
			if (!o->input && !o->fn_from && !o->bi_from && o->npath == i - 1 &&
			    path_is_prefix(o->path, o->npath, t, i))
				return ref_walk(c, fr, t, i,
						apply_data_overrides(c, t, i, o->value), vk, arg);
		}
		struct term *e = i < t->n ? t->items[i] : NULL;
		const struct pnode *child = NULL;
		if (!node->rg && e && e->k == TM_CONST && e->v->t == RV_STR)
			child = pnode_child(node, e->v->str.s);
		if (child) {
			node = child;
			base = base ? rv_get(base, e->v) : NULL;
			i++;
			continue;
		}
		if (!node->rg && e && e->k == TM_CONST) {
			/* no rule below this key: base data only from here */
			base = apply_data_overrides(c, t, i + 1, base ? rv_get(base, e->v) : NULL);
			if (!base)
				return 0;
			return ref_walk(c, fr, t, i + 1, base, vk, arg);
		}
		const struct rv *v;
		if (!node->rg && !node->nkids) {
			v = base; /* base data only from here */
		} else {
			int r = materialize(c, node, base, &v);
			if (r < 0)
				return r;
			if (node->rg && node->rg->kind == RK_FUNC)
				return eval_error(c, t, "function %s referenced without a call",
						  node->name);
		}
		v = apply_data_overrides(c, t, i, v);
		if (!v)
			return 0;
		return ref_walk(c, fr, t, i, v, vk, arg);
	}
}

static int ref_head_cb(struct ectx *c, const struct rv *v, void *arg)
{
	struct refk *rk = arg;
	return ref_walk(c, rk->fr, rk->t, 1, v, rk->vk, rk->arg);
}

static int eval_ref(struct ectx *c, struct frame *fr, struct term *t, vkfn vk, void *arg)
{
	if (t->items[0]->k == TM_DATA)
		return eval_data(c, fr, t, vk, arg);
	struct refk rk = { fr, t, 0, NULL, vk, arg };
	return eval_term(c, fr, t->items[0], ref_head_cb, &rk);
}

/* ---- composite terms ---- */

struct itemsk {
	struct frame *fr;
	struct term *t;
	size_t i;
	const struct rv **vals; /* items then (objects) values */
	vkfn vk;
	void *arg;
};

static int items_next(struct ectx *c, struct itemsk *ik);

static int items_cb(struct ectx *c, const struct rv *v, void *arg)
{
	struct itemsk *ik = arg;
	ik->vals[ik->i] = v;
	struct itemsk next = *ik;
	next.i++;
	return items_next(c, &next);
}

static int items_next(struct ectx *c, struct itemsk *ik)
{
	struct term *t = ik->t;
	size_t total = t->k == TM_OBJECT ? 2 * t->n : t->n;
	if (ik->i == total) {
		const struct rv **vals = ar_dup(c->a, ik->vals,
						(total ? total : 1) * sizeof(*vals));
		const struct rv *v;
		if (t->k == TM_ARRAY) {
			v = rv_arr(c->a, vals, t->n);
		} else if (t->k == TM_SET) {
			v = rv_set(c->a, vals, t->n);
		} else {
			const struct rv *dup = NULL;
			v = rv_obj(c->a, vals, vals + t->n, t->n, &dup);
			if (!v)
				return eval_error(c, t, "object keys must be unique (%s)",
						  rv_json_text(c->a, dup));
		}
		return ik->vk(c, v, ik->arg);
	}
	struct term *e = ik->i < t->n ? t->items[ik->i] : t->vals[ik->i - t->n];
	return eval_term(c, ik->fr, e, items_cb, ik);
}

/* comprehensions */

struct compk {
	struct frame *fr;
	struct term *t;
	struct rvlist k, v;
	const struct rv *key;
};

static int comp_val_cb(struct ectx *c, const struct rv *v, void *arg)
{
	struct compk *ck = arg;
	if (ck->t->k == TM_OCOMP)
		rvl_push(c->a, &ck->k, ck->key);
	rvl_push(c->a, &ck->v, v);
	return 0;
}

static int comp_key_cb(struct ectx *c, const struct rv *key, void *arg)
{
	struct compk *ck = arg;
	ck->key = key;
	return eval_term(c, ck->fr, ck->t->head2, comp_val_cb, ck);
}

static int comp_solution(struct ectx *c, void *arg)
{
	struct compk *ck = arg;
	return eval_term(c, ck->fr, ck->t->head, ck->t->k == TM_OCOMP ? comp_key_cb : comp_val_cb,
			 ck);
}

static int eval_comp(struct ectx *c, struct frame *fr, struct term *t, vkfn vk, void *arg)
{
	struct compk ck = { .fr = fr, .t = t };
	int r = eval_body(c, fr, t->body, 0, comp_solution, &ck);
	if (r < 0)
		return r;
	const struct rv *v;
	if (t->k == TM_ACOMP) {
		v = rv_arr(c->a, ck.v.v, ck.v.n);
	} else if (t->k == TM_SCOMP) {
		v = rv_set(c->a, ck.v.v, ck.v.n);
	} else {
		const struct rv *dup = NULL;
		v = rv_obj(c->a, ck.k.v, ck.v.v, ck.k.n, &dup);
		if (!v)
			return eval_error(c, t, "object keys must be unique (%s)",
					  rv_json_text(c->a, dup));
	}
	return vk(c, v, arg);
}

/* ---- calls ---- */

struct callk {
	struct frame *fr;
	struct term *t;
	size_t i, nin;
	const struct rv **args;
	vkfn vk;
	void *arg;
	const struct rv *result;
};

/* The innermost mock of t's function; inside a mock only the mocks set up
 * inside it count (OPA: a mock calls the originals, never another mock). */
static const struct override *find_fn_override(struct ectx *c, const struct term *t)
{
	for (size_t k = c->nov; k > c->mock_floor; k--) {
		const struct override *o = &c->ov[k - 1];
		if ((o->fn_from && o->fn_from == t->fn) || (o->bi_from && o->bi_from == t->bi))
			return o;
	}
	return NULL;
}

static int call_output_cb(struct ectx *c, void *arg)
{
	struct callk *ck = arg;
	return ck->vk(c, &rv_true, ck->arg);
}

static int call_apply(struct ectx *c, struct callk *ck)
{
	struct term *t = ck->t;
	const struct rv *out = NULL;
	int r;
	const struct override *o = c->nov > c->mock_floor ? find_fn_override(c, t) : NULL;
	if (o && o->value) {
		out = o->value;
	} else if (o && o->fn_to) {
		size_t floor = c->mock_floor;
		c->mock_floor = c->nov;
		if (o->fn_to->fn)
			r = eval_func(c, o->fn_to->fn, ck->args, &out);
		else
			r = o->fn_to->bi->fn(c, ck->args, &out);
		c->mock_floor = floor;
		if (r < 0) {
			if (o->fn_to->fn || c->strict || c->bail_code)
				return r;
			kerr_clear(c->err);
			return 0;
		}
	} else if (t->fn) {
		r = eval_func(c, t->fn, ck->args, &out);
		if (r < 0)
			return r;
	} else {
		r = t->bi->fn(c, ck->args, &out);
		if (r < 0) {
			if (c->strict || c->bail_code)
				return r;
			kerr_clear(c->err);
			return 0;
		}
	}
	if (!out)
		return 0;
	if (ck->nin < t->n) /* the last argument is the output */
		return unify_val(c, ck->fr, t->items[t->n - 1], out, call_output_cb, ck);
	return ck->vk(c, out, ck->arg);
}

static int call_arg_cb(struct ectx *c, const struct rv *v, void *arg)
{
	struct callk *ck = arg;
	ck->args[ck->i] = v;
	struct callk next = *ck;
	next.i++;
	if (next.i == next.nin)
		return call_apply(c, &next);
	return eval_term(c, next.fr, next.t->items[next.i], call_arg_cb, &next);
}

static int print_first_cb(struct ectx *c, const struct rv *v, void *arg)
{
	*(const struct rv **)arg = v;
	return STOP;
}

static void print_value(struct sbuf *b, const struct rv *v)
{
	if (v->t == RV_STR)
		sb_putn(b, v->str.s, v->str.len);
	else
		sb_json(b, v);
}

static int eval_print(struct ectx *c, struct frame *fr, struct term *t, vkfn vk, void *arg)
{
	struct sbuf line = { .a = c->a };
	for (size_t i = 0; i < t->n; i++) {
		const struct rv *v = NULL;
		int r = eval_term(c, fr, t->items[i], print_first_cb, &v);
		if (r < 0) {
			if (c->bail_code)
				return r;
			kerr_clear(c->err);
			v = NULL;
		}
		if (i)
			sb_putc(&line, ' ');
		if (v)
			print_value(&line, v);
		else
			sb_puts(&line, "<undefined>");
	}
	if (c->prints) {
		if (c->prints->n)
			sb_putc(c->prints, '\n');
		sb_puts(c->prints, sb_str(&line));
	}
	return vk(c, &rv_true, arg);
}

static int eval_call(struct ectx *c, struct frame *fr, struct term *t, vkfn vk, void *arg)
{
	if (t->bi && !strcmp(t->bi->name, "print"))
		return eval_print(c, fr, t, vk, arg);
	size_t nin = t->n;
	if ((t->bi && t->bi->arity >= 0 && (int)t->n == t->bi->arity + 1) ||
	    (t->fn && (int)t->n == t->fn->arity + 1))
		nin = t->n - 1;
	struct callk ck = { fr, t, 0, nin, NULL, vk, arg, NULL };
	ck.args = ar_alloc(c->a, (nin ? nin : 1) * sizeof(*ck.args));
	if (!nin)
		return call_apply(c, &ck);
	return eval_term(c, fr, t->items[0], call_arg_cb, &ck);
}

/* ---- terms ---- */

static int eval_term(struct ectx *c, struct frame *fr, struct term *t, vkfn vk, void *arg)
{
	step(c);
	switch (t->k) {
	case TM_CONST:
		return vk(c, t->v, arg);
	case TM_VAR: {
		const struct rv *v = fr->slot[t->slot];
		if (!v)
			return kerr_set(c->err, -EINVAL,
					"%d:%d: rego_unsafe_var_error: var %s is unsafe", t->line,
					t->col, t->name);
		return vk(c, v, arg);
	}
	case TM_INPUT:
		return c->input ? vk(c, c->input, arg) : 0;
	case TM_DATA: {
		struct term ref = *t;
		struct term *items[1] = { t };
		ref.k = TM_REF;
		ref.items = items;
		ref.n = 1;
		return eval_data(c, fr, &ref, vk, arg);
	}
	case TM_REF:
		return eval_ref(c, fr, t, vk, arg);
	case TM_CALL:
		return eval_call(c, fr, t, vk, arg);
	case TM_ARRAY:
	case TM_SET:
	case TM_OBJECT: {
		size_t total = t->k == TM_OBJECT ? 2 * t->n : t->n;
		struct itemsk ik = { fr, t,
				     0,  ar_alloc(c->a, (total ? total : 1) * sizeof(void *)),
				     vk, arg };
		return items_next(c, &ik);
	}
	case TM_ACOMP:
	case TM_SCOMP:
	case TM_OCOMP:
		return eval_comp(c, fr, t, vk, arg);
	}
	return -EINVAL;
}

/* ---- unification ---- */

struct unk {
	struct frame *fr;
	struct term *t; /* pattern */
	struct term *other;
	const struct rv *v;
	size_t i;
	kfn k;
	void *arg;
};

static int unify_items(struct ectx *c, struct unk *u);

static int unify_items_next(struct ectx *c, void *arg)
{
	struct unk *u = arg;
	struct unk next = *u;
	next.i++;
	return unify_items(c, &next);
}

static int unify_obj_key_cb(struct ectx *c, const struct rv *key, void *arg)
{
	struct unk *u = arg;
	const struct rv *val = rv_get(u->v, key);
	if (!val)
		return 0;
	return unify_val(c, u->fr, u->t->vals[u->i], val, unify_items_next, u);
}

/* items i.. of pattern array/object u->t against value u->v */
static int unify_items(struct ectx *c, struct unk *u)
{
	if (u->i == u->t->n)
		return u->k(c, u->arg);
	if (u->t->k == TM_ARRAY)
		return unify_val(c, u->fr, u->t->items[u->i], u->v->arr.v[u->i], unify_items_next,
				 u);
	return eval_term(c, u->fr, u->t->items[u->i], unify_obj_key_cb, u);
}

static int unify_eq_cb(struct ectx *c, const struct rv *v, void *arg)
{
	struct unk *u = arg;
	return rv_eq(v, u->v) ? u->k(c, u->arg) : 0;
}

/* Unify pattern term t with value v (binding t's unbound variables). */
static int unify_val(struct ectx *c, struct frame *fr, struct term *t, const struct rv *v, kfn k,
		     void *arg)
{
	step(c);
	if (t->k == TM_VAR) {
		const struct rv *cur = fr->slot[t->slot];
		if (cur)
			return rv_eq(cur, v) ? k(c, arg) : 0;
		fr->slot[t->slot] = v;
		int r = k(c, arg);
		fr->slot[t->slot] = NULL;
		return r;
	}
	if (t->k == TM_CONST)
		return rv_eq(t->v, v) ? k(c, arg) : 0;
	struct unk u = { fr, t, NULL, v, 0, k, arg };
	if (t->k == TM_ARRAY && has_unbound(fr, t)) {
		if (v->t != RV_ARR || v->arr.n != t->n)
			return 0;
		return unify_items(c, &u);
	}
	if (t->k == TM_OBJECT && has_unbound(fr, t)) {
		if (v->t != RV_OBJ || v->obj.n != t->n)
			return 0;
		return unify_items(c, &u);
	}
	return eval_term(c, fr, t, unify_eq_cb, &u);
}

static int unify_other_cb(struct ectx *c, const struct rv *v, void *arg)
{
	struct unk *u = arg;
	return unify_val(c, u->fr, u->t, v, u->k, u->arg);
}

struct pairk {
	struct frame *fr;
	struct term *a, *b;
	size_t i;
	kfn k;
	void *arg;
};

static int unify_terms(struct ectx *c, struct frame *fr, struct term *a, struct term *b, kfn k,
		       void *arg);

static int unify_pairs(struct ectx *c, void *arg)
{
	struct pairk *pk = arg;
	if (pk->i == pk->a->n)
		return pk->k(c, pk->arg);
	struct pairk next = *pk;
	next.i++;
	return unify_terms(c, pk->fr, pk->a->items[pk->i], pk->b->items[pk->i], unify_pairs, &next);
}

static bool const_keys(const struct term *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->items[i]->k != TM_CONST)
			return false;
	return true;
}

/* Two object patterns with constant keys: the values of equal keys pair up
 * (b's reordered to a's keys); false when the key sets differ. */
static bool pair_object_values(struct term *a, struct term *b, struct term **va, struct term **vb)
{
	for (size_t i = 0; i < a->n; i++) {
		va[i] = a->vals[i];
		vb[i] = NULL;
		for (size_t j = 0; j < b->n && !vb[i]; j++)
			if (rv_eq(a->items[i]->v, b->items[j]->v))
				vb[i] = b->vals[j];
		if (!vb[i])
			return false;
	}
	return true;
}

static int unify_terms(struct ectx *c, struct frame *fr, struct term *a, struct term *b, kfn k,
		       void *arg)
{
	bool ua = has_unbound(fr, a), ub = has_unbound(fr, b);
	if (ua && ub && a->k == TM_ARRAY && b->k == TM_ARRAY) {
		if (a->n != b->n)
			return 0;
		struct pairk pk = { fr, a, b, 0, k, arg };
		return unify_pairs(c, &pk);
	}
	if (ua && ub && a->k == TM_OBJECT && b->k == TM_OBJECT && const_keys(a) && const_keys(b)) {
		/* {"x": x, "y": 2} = {"x": 1, "y": y}: the values pair up as arrays */
		if (a->n != b->n)
			return 0;
		struct term *va = ar_alloc(c->a, sizeof(*va)), *vb = ar_alloc(c->a, sizeof(*vb));
		*va = *a;
		*vb = *b;
		va->k = vb->k = TM_ARRAY;
		va->items = ar_alloc(c->a, a->n * sizeof(*va->items));
		vb->items = ar_alloc(c->a, a->n * sizeof(*vb->items));
		if (!pair_object_values(a, b, va->items, vb->items))
			return 0;
		struct pairk pk = { fr, va, vb, 0, k, arg };
		return unify_pairs(c, &pk);
	}
	if (ub && !ua) {
		struct term *t = a;
		a = b;
		b = t;
	} else if (!ua && !ub && b->k == TM_VAR) {
		struct term *t = a;
		a = b;
		b = t;
	}
	/* a is the pattern (or a plain term compared by value) */
	struct unk u = { fr, a, b, NULL, 0, k, arg };
	return eval_term(c, fr, b, unify_other_cb, &u);
}

/* ---- literals ---- */

struct litk {
	struct frame *fr;
	struct lit *l;
	kfn k;
	void *arg;
	const struct rv *coll;
	bool failed;
};

static int expr_cb(struct ectx *c, const struct rv *v, void *arg)
{
	struct litk *lk = arg;
	if (v->t == RV_BOOL && !v->b)
		return 0;
	return lk->k(c, lk->arg);
}

static int found_k(struct ectx *c, void *arg)
{
	return STOP;
}

static int somein_member(struct ectx *c, const struct rv *key, const struct rv *val, void *arg)
{
	struct litk *lk = arg;
	if (!lk->l->a)
		return unify_val(c, lk->fr, lk->l->b, val, lk->k, lk->arg);
	struct litk *vk = ar_alloc(c->a, sizeof(*vk));
	*vk = *lk;
	vk->coll = val;
	return unify_val(c, lk->fr, lk->l->a, key, somein_value, vk);
}

static int somein_value(struct ectx *c, void *arg)
{
	struct litk *lk = arg;
	return unify_val(c, lk->fr, lk->l->b, lk->coll, lk->k, lk->arg);
}

static int somein_coll(struct ectx *c, const struct rv *coll, void *arg)
{
	return each_member(c, coll, somein_member, arg);
}

static int every_body(struct ectx *c, void *arg)
{
	struct litk *lk = arg;
	return eval_body(c, lk->fr, lk->l->body, 0, found_k, NULL);
}

static int every_member(struct ectx *c, const struct rv *key, const struct rv *val, void *arg)
{
	struct litk *lk = arg;
	struct litk inner = *lk;
	inner.k = every_body;
	inner.arg = &inner;
	int r = somein_member(c, key, val, &inner);
	if (r < 0)
		return r;
	if (r != STOP) {
		lk->failed = true;
		return STOP; /* no need to look further */
	}
	return 0;
}

static int every_coll(struct ectx *c, const struct rv *coll, void *arg)
{
	struct litk *lk = arg;
	lk->failed = false;
	int r = each_member(c, coll, every_member, lk);
	if (r < 0)
		return r;
	if (lk->failed)
		return 0;
	return lk->k(c, lk->arg);
}

static int eval_lit_pos(struct ectx *c, struct frame *fr, struct lit *l, kfn k, void *arg)
{
	struct litk lk = { fr, l, k, arg, NULL, false };
	switch (l->k) {
	case LI_EXPR:
		return eval_term(c, fr, l->a, expr_cb, &lk);
	case LI_UNIFY:
	case LI_ASSIGN:
		return unify_terms(c, fr, l->a, l->b, k, arg);
	case LI_SOME:
		return k(c, arg);
	case LI_SOMEIN:
		return eval_term(c, fr, l->c, somein_coll, &lk);
	case LI_EVERY:
		return eval_term(c, fr, l->c, every_coll, &lk);
	}
	return -EINVAL;
}

/* not L: true when L has no solution (its bindings do not leave it) */
static int eval_lit_core(struct ectx *c, struct frame *fr, struct lit *l, kfn k, void *arg)
{
	if (!l->neg)
		return eval_lit_pos(c, fr, l, k, arg);
	int r = eval_lit_pos(c, fr, l, found_k, NULL);
	if (r < 0)
		return r;
	return r == STOP ? 0 : k(c, arg);
}

/* with: set the overrides for the literal, and lift them around its
 * continuation (which is the rest of the body, outside the `with`). */
struct withk {
	size_t nov;
	struct override *saved_ov;
	size_t saved_nov;
	const struct rv *saved_input, *new_input;
	struct cache *saved_cache, *new_cache;
	struct override *new_ov;
	size_t new_nov;
	kfn k;
	void *arg;
};

static int with_first_cb(struct ectx *c, const struct rv *v, void *arg)
{
	*(const struct rv **)arg = v;
	return STOP;
}

static struct cache *new_cache(struct ectx *c)
{
	struct cache *ca = ar_alloc(c->a, sizeof(*ca));
	size_t n = c->pol->ngroups ? c->pol->ngroups : 1;
	ca->v = ar_alloc(c->a, n * sizeof(*ca->v));
	for (size_t i = 0; i < n; i++)
		ca->v[i] = &not_done;
	return ca;
}

static void with_set(struct ectx *c, struct withk *w, bool on)
{
	if (on) {
		c->ov = w->new_ov;
		c->nov = w->new_nov;
		c->input = w->new_input;
		c->cache = w->new_cache;
	} else {
		c->ov = w->saved_ov;
		c->nov = w->saved_nov;
		c->input = w->saved_input;
		c->cache = w->saved_cache;
	}
}

static int with_cont(struct ectx *c, void *arg)
{
	struct withk *w = arg;
	with_set(c, w, false);
	int r = w->k(c, w->arg);
	with_set(c, w, true);
	return r;
}

static int const_path(const struct term *t, const struct rv ***path, size_t *n, struct ectx *c)
{
	*n = t->k == TM_REF ? t->n - 1 : 0;
	*path = ar_alloc(c->a, (*n ? *n : 1) * sizeof(**path));
	for (size_t i = 0; i < *n; i++) {
		if (t->items[i + 1]->k != TM_CONST)
			return -EINVAL;
		(*path)[i] = t->items[i + 1]->v;
	}
	return 0;
}

static int eval_lit(struct ectx *c, struct frame *fr, struct lit *l, kfn k, void *arg)
{
	step(c);
	if (!l->nw)
		return eval_lit_core(c, fr, l, k, arg);
	struct withk w = { .saved_ov = c->ov,
			   .saved_nov = c->nov,
			   .saved_input = c->input,
			   .saved_cache = c->cache,
			   .k = k,
			   .arg = arg };
	w.new_ov = ar_alloc(c->a, (c->nov + l->nw) * sizeof(*w.new_ov));
	if (c->nov)
		memcpy(w.new_ov, c->ov, c->nov * sizeof(*w.new_ov));
	w.new_nov = c->nov;
	w.new_input = c->input;
	for (size_t i = 0; i < l->nw; i++) {
		struct with *wi = &l->w[i];
		struct override o = { 0 };
		const struct rv *v = NULL;
		if (wi->target->k == TM_CALL && wi->value->k == TM_CALL && !wi->value->n) {
			o.fn_to = wi->value; /* a function or builtin replaces a function */
		} else {
			int r = eval_term(c, fr, wi->value, with_first_cb, &v);
			if (r < 0)
				return r;
			if (!v)
				return 0; /* an undefined replacement: the literal is undefined */
		}
		o.value = v;
		struct term *t = wi->target;
		if (t->k == TM_CALL) {
			o.fn_from = t->fn;
			o.bi_from = t->fn ? NULL : t->bi;
			if (!o.value && !o.fn_to && wi->value->k == TM_VAR)
				return eval_error(c, t, "with: invalid replacement for %s",
						  t->name);
		} else {
			const struct term *root = t->k == TM_REF ? t->items[0] : t;
			const struct rv **path;
			size_t n;
			if (const_path(t, &path, &n, c) < 0)
				return eval_error(c, t, "with: the target path must be constant");
			if (root->k == TM_INPUT) {
				o.input = true;
				w.new_input = patch(c, n ? w.new_input : NULL, path, n, v);
				continue;
			}
			o.path = path;
			o.npath = n;
		}
		w.new_ov[w.new_nov++] = o;
	}
	w.new_cache = new_cache(c);
	with_set(c, &w, true);
	int r = eval_lit_core(c, fr, l, with_cont, &w);
	with_set(c, &w, false);
	return r;
}

struct bodyk {
	struct frame *fr;
	struct body *b;
	size_t i;
	kfn k;
	void *arg;
};

static int body_next(struct ectx *c, void *arg)
{
	struct bodyk *bk = arg;
	return eval_body(c, bk->fr, bk->b, bk->i, bk->k, bk->arg);
}

static int eval_body(struct ectx *c, struct frame *fr, struct body *b, size_t i, kfn k, void *arg)
{
	if (i == b->n)
		return k(c, arg);
	struct bodyk bk = { fr, b, i + 1, k, arg };
	return eval_lit(c, fr, b->l[i], body_next, &bk);
}

/* ---- rules ---- */

struct rulek {
	struct rgroup *g;
	struct rule *r; /* the branch being evaluated */
	struct frame *fr;
	const struct rv *val; /* complete rules, functions */
	struct rvlist keys, vals;
	const struct rv *key;
	size_t nsol;
};

static int rule_conflict(struct ectx *c, struct rulek *rk)
{
	struct rgroup *g = rk->g;
	return kerr_set(c->err, -EINVAL,
			"%s:%d: eval_conflict_error: %s must not produce multiple outputs",
			rk->r->file, rk->r->line,
			g->kind == RK_FUNC ? "functions" : "complete rules");
}

static int rule_val_cb(struct ectx *c, const struct rv *v, void *arg)
{
	struct rulek *rk = arg;
	rk->nsol++;
	switch (rk->g->kind) {
	case RK_COMPLETE:
	case RK_FUNC:
		if (rk->val && !rv_eq(rk->val, v))
			return rule_conflict(c, rk);
		rk->val = v;
		return 0;
	case RK_SET:
		rvl_push(c->a, &rk->keys, v);
		return 0;
	case RK_OBJ:
		rvl_push(c->a, &rk->keys, rk->key);
		rvl_push(c->a, &rk->vals, v);
		return 0;
	}
	return 0;
}

static int rule_key_cb(struct ectx *c, const struct rv *k, void *arg)
{
	struct rulek *rk = arg;
	rk->key = k;
	return eval_term(c, rk->fr, rk->r->value, rule_val_cb, rk);
}

static int rule_solution(struct ectx *c, void *arg)
{
	struct rulek *rk = arg;
	struct rule *r = rk->r;
	if (rk->g->kind == RK_SET)
		return eval_term(c, rk->fr, r->key, rule_val_cb, rk);
	if (rk->g->kind == RK_OBJ)
		return eval_term(c, rk->fr, r->key, rule_key_cb, rk);
	if (!r->value)
		return rule_val_cb(c, &rv_true, rk);
	return eval_term(c, rk->fr, r->value, rule_val_cb, rk);
}

/* One definition with its else chain, in frame rk->fr (arguments bound):
 * the first branch with a solution gives the value. */
static int eval_chain(struct ectx *c, void *arg)
{
	struct rulek *rk = arg;
	struct rule *first = rk->r;
	for (struct rule *e = first; e; e = e->els) {
		size_t before = rk->nsol;
		rk->r = e;
		int r = e->body ? eval_body(c, rk->fr, e->body, 0, rule_solution, rk)
				: rule_solution(c, rk);
		if (r < 0) {
			rk->r = first;
			return r;
		}
		if (rk->nsol != before)
			break;
	}
	rk->r = first;
	return 0;
}

struct argk {
	struct rulek *rk;
	struct rule *r;
	const struct rv **args;
	size_t i;
};

static int func_args(struct ectx *c, void *arg)
{
	struct argk *ak = arg;
	if (ak->i == ak->r->nargs)
		return eval_chain(c, ak->rk);
	struct argk next = *ak;
	next.i++;
	return unify_val(c, ak->rk->fr, ak->r->args[ak->i], ak->args[ak->i], func_args, &next);
}

static int eval_func(struct ectx *c, struct rgroup *g, const struct rv **args,
		     const struct rv **out)
{
	struct rulek rk = { .g = g };
	for (size_t i = 0; i < g->ndefs; i++) {
		struct rule *r = g->defs[i];
		rk.r = r;
		rk.fr = new_frame(c, r->nslots);
		/* a definition's own solutions may repeat; different
		 * definitions must agree */
		const struct rv *prev = rk.val;
		rk.val = NULL;
		struct argk ak = { &rk, r, args, 0 };
		int res = func_args(c, &ak);
		if (res < 0)
			return res;
		if (prev && rk.val && !rv_eq(prev, rk.val))
			return rule_conflict(c, &rk);
		if (!rk.val)
			rk.val = prev;
	}
	if (!rk.val && g->deflt) {
		struct frame *fr = new_frame(c, g->deflt->nslots);
		rk.r = g->deflt;
		rk.fr = fr;
		struct argk ak = { &rk, g->deflt, args, 0 };
		int res = func_args(c, &ak);
		if (res < 0)
			return res;
	}
	*out = rk.val;
	return 0;
}

static int eval_group_uncached(struct ectx *c, struct rgroup *g, const struct rv **out)
{
	struct rulek rk = { .g = g };
	for (size_t i = 0; i < g->ndefs; i++) {
		struct rule *r = g->defs[i];
		rk.r = r;
		rk.fr = new_frame(c, r->nslots);
		const struct rv *prev = rk.val;
		rk.val = NULL;
		int res = eval_chain(c, &rk);
		if (res < 0)
			return res;
		if (prev && rk.val && !rv_eq(prev, rk.val))
			return rule_conflict(c, &rk);
		if (!rk.val)
			rk.val = prev;
	}
	switch (g->kind) {
	case RK_SET:
		*out = rv_set(c->a, rk.keys.v, rk.keys.n);
		return 0;
	case RK_OBJ: {
		const struct rv *dup = NULL;
		*out = rv_obj(c->a, rk.keys.v, rk.vals.v, rk.keys.n, &dup);
		if (!*out)
			return kerr_set(c->err, -EINVAL,
					"eval_conflict_error: object keys must be unique (%s in %s)",
					rv_json_text(c->a, dup), g->path[g->npath - 1]);
		return 0;
	}
	default:
		break;
	}
	if (!rk.val && g->deflt) {
		rk.r = g->deflt;
		rk.fr = new_frame(c, g->deflt->nslots);
		int res = eval_term(c, rk.fr, g->deflt->value, rule_val_cb, &rk);
		if (res < 0)
			return res;
	}
	*out = rk.val;
	return 0;
}

static int eval_group(struct ectx *c, struct rgroup *g, const struct rv **out)
{
	const struct rv *cv = c->cache->v[g->id];
	if (cv != &not_done) {
		*out = cv == &undef ? NULL : cv;
		return 0;
	}
	if (c->active[g->id])
		return kerr_set(c->err, -EINVAL, "rego_recursion_error: rule %s is recursive",
				g->path[g->npath - 1]);
	c->active[g->id] = 1;
	struct cache *ca = c->cache;
	int r = eval_group_uncached(c, g, out);
	c->active[g->id] = 0;
	if (r < 0)
		return r;
	ca->v[g->id] = *out ? *out : &undef;
	return 0;
}

/* ---- queries ---- */

struct queryk {
	struct frame *fr;
	struct qvar *vars;
	size_t nvars;
	struct rvlist sols;
	const struct rv *value;
	bool single;
};

static int query_solution(struct ectx *c, void *arg)
{
	struct queryk *q = arg;
	const struct rv **k = ar_alloc(c->a, (q->nvars + 1) * sizeof(*k));
	const struct rv **v = ar_alloc(c->a, (q->nvars + 1) * sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < q->nvars; i++) {
		if (!q->fr->slot[q->vars[i].slot])
			continue;
		k[n] = rv_cstr(c->a, q->vars[i].name);
		v[n++] = q->fr->slot[q->vars[i].slot];
	}
	rvl_push(c->a, &q->sols, rv_obj(c->a, k, v, n, NULL));
	return 0;
}

static int query_value_cb(struct ectx *c, const struct rv *v, void *arg)
{
	struct queryk *q = arg;
	if (!q->value)
		q->value = v;
	return query_solution(c, q);
}

struct run {
	const char *query;
	const json_t *input;
	struct rego_result *res;
};

static int eval_query(struct ectx *c, struct run *run)
{
	struct body *b;
	int r = rego_parse_query(c->a, run->query, strlen(run->query), &b, c->err);
	if (r < 0)
		return r;
	struct queryk q = { 0 };
	int nslots;
	r = rego_compile_query(c->pol, c->a, b, &q.vars, &q.nvars, &nslots, c->err);
	if (r < 0)
		return r;
	if (run->input) {
		r = rv_from_json(c->a, run->input, c->pol->lim.max_input_nodes, &c->input);
		if (r < 0)
			return kerr_set_status(c->err, GRPC_RESOURCE_EXHAUSTED, -E2BIG,
					       "rego: input is over the size bound (%zu nodes, depth 256)",
					       c->pol->lim.max_input_nodes);
	}
	q.fr = new_frame(c, nslots);
	struct lit *l0 = b->l[0];
	if (b->n == 1 && l0->k == LI_EXPR && !l0->neg && !l0->nw)
		r = eval_term(c, q.fr, l0->a, query_value_cb, &q);
	else
		r = eval_body(c, q.fr, b, 0, query_solution, &q);
	if (r < 0)
		return r;
	json_t *sols = json_array();
	for (size_t i = 0; i < q.sols.n; i++)
		json_array_append_new(sols, rv_to_json(q.sols.v[i]));
	run->res->bindings = sols;
	run->res->value = q.value ? rv_to_json(q.value) : NULL;
	return 0;
}

int rego_eval(struct rego_policy *p, const char *query, const json_t *input,
	      struct rego_result *res, struct kerr *err)
{
	memset(res, 0, sizeof(*res));
	kerr_clear(err);
	if (!p->compiled)
		return kerr_set(err, -EINVAL, "rego: policy not compiled");
	struct arena a = { .limit = p->lim.max_memory };
	struct sbuf prints = { .a = &a };
	jmp_buf bail;
	char base;
	struct ectx c = { .pol = p,
			  .a = &a,
			  .bail = &bail,
			  .max_steps = p->lim.max_steps,
			  .stack_base = &base,
			  .max_stack = p->lim.max_stack,
			  .prints = &prints,
			  .err = err,
			  .strict = p->lim.strict_builtin_errors };
	struct kerr local;
	if (!err)
		c.err = &local;
	struct run run = { query, input, res };
	volatile int r;
	if (setjmp(bail)) {
		if (!c.bail_code) {
			c.bail_code = -ENOMEM;
			kerr_set_status(c.err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM,
					"rego: evaluation memory bound reached (%zu bytes)",
					p->lim.max_memory);
		}
		r = c.bail_code;
	} else {
		a.oom = &bail;
		c.cache = new_cache(&c);
		c.active = ar_alloc(&a, p->ngroups ? p->ngroups : 1);
		memset(c.active, 0, p->ngroups ? p->ngroups : 1);
		r = eval_query(&c, &run);
	}
	res->steps = c.steps;
	res->memory = a.used;
	a.oom = NULL;
	if (prints.n)
		res->prints = strdup(prints.s);
	ar_free(&a);
	if (r < 0) {
		json_decref(res->bindings);
		json_decref(res->value);
		res->bindings = res->value = NULL;
	}
	return r;
}

void rego_result_clear(struct rego_result *res)
{
	json_decref(res->bindings);
	json_decref(res->value);
	free(res->prints);
	memset(res, 0, sizeof(*res));
}
