/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compile.c - from parsed modules to a policy ready to evaluate: rules grouped
 * by their data path, each name resolved once (local variable slot, rule,
 * import, input/data root, builtin or user function), so evaluation never
 * looks a name up.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "grpc_status.h"
#include "sbuf.h"

/* ---- the policy object ---- */

#define DEF_STEPS 50000000ULL
#define DEF_MEMORY (256u << 20)
#define DEF_STACK (2u << 20)
#define DEF_NODES 1000000u

int rego_policy_new(struct rego_policy **out, const struct rego_limits *limits, struct kerr *err)
{
	struct rego_policy *p = calloc(1, sizeof(*p));
	if (!p)
		return kerr_set(err, -ENOMEM, "rego: out of memory");
	if (limits)
		p->lim = *limits;
	if (!p->lim.max_steps)
		p->lim.max_steps = DEF_STEPS;
	if (!p->lim.max_memory)
		p->lim.max_memory = DEF_MEMORY;
	if (!p->lim.max_stack)
		p->lim.max_stack = DEF_STACK;
	if (!p->lim.max_input_nodes)
		p->lim.max_input_nodes = DEF_NODES;
	/* the policy text is bounded by the memory bound too */
	p->ar.limit = p->lim.max_memory;
	p->data_ar.limit = p->lim.max_memory;
	p->data = &rv_empty_obj;
	p->root.name = "data";
	*out = p;
	return 0;
}

void rego_policy_free(struct rego_policy *p)
{
	if (!p)
		return;
	ar_free(&p->ar);
	ar_free(&p->data_ar);
	rx_cache_free(p->rx);
	free(p->mods);
	free(p->groups);
	free(p);
}

int rego_policy_add_module(struct rego_policy *p, const char *name, const char *text, size_t len,
			   struct kerr *err)
{
	if (p->compiled)
		return kerr_set(err, -EINVAL, "rego: modules must be added before compiling");
	struct module *m;
	int r = rego_parse_module(&p->ar, name, text, len, &m, err);
	if (r < 0)
		return r;
	if (p->nmods == p->capmods) {
		size_t cap = p->capmods ? 2 * p->capmods : 4;
		struct module **nm = realloc(p->mods, cap * sizeof(*nm));
		if (!nm)
			return kerr_set(err, -ENOMEM, "rego: out of memory");
		p->mods = nm;
		p->capmods = cap;
	}
	p->mods[p->nmods++] = m;
	return 0;
}

int rego_policy_set_data(struct rego_policy *p, const json_t *data, struct kerr *err)
{
	if (!json_is_object(data))
		return kerr_set(err, -EINVAL, "rego: data must be a JSON object");
	struct arena na = { .limit = p->lim.max_memory };
	jmp_buf oom;
	if (setjmp(oom)) {
		ar_free(&na);
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM,
				       "rego: data is over the memory bound");
	}
	na.oom = &oom;
	const struct rv *v;
	int r = rv_from_json(&na, data, p->lim.max_input_nodes, &v);
	if (r < 0) {
		ar_free(&na);
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, r,
				       "rego: data is over the size bound (%zu nodes, depth 256)",
				       p->lim.max_input_nodes);
	}
	na.oom = NULL;
	ar_free(&p->data_ar);
	p->data_ar = na;
	p->data = v;
	return 0;
}

/* ---- the tree of rule paths ---- */

struct pnode *pnode_child(const struct pnode *n, const char *name)
{
	for (size_t i = 0; i < n->nkids; i++)
		if (!strcmp(n->kids[i]->name, name))
			return n->kids[i];
	return NULL;
}

static struct pnode *pnode_add(struct rego_policy *p, struct pnode *n, const char *name)
{
	struct pnode *k = pnode_child(n, name);
	if (k)
		return k;
	if (n->nkids == n->cap) {
		size_t cap = n->cap ? 2 * n->cap : 8;
		struct pnode **nk = ar_alloc(&p->ar, cap * sizeof(*nk));
		if (n->nkids)
			memcpy(nk, n->kids, n->nkids * sizeof(*nk));
		n->kids = nk;
		n->cap = cap;
	}
	k = ar_alloc(&p->ar, sizeof(*k));
	memset(k, 0, sizeof(*k));
	k->name = name;
	n->kids[n->nkids++] = k;
	return k;
}

struct cstate {
	struct rego_policy *p;
	struct arena *ar; /* where resolved terms go: the policy's, or a query's */
	struct module *m;
	struct kerr *err;
	jmp_buf fail;
	/* scope: a stack of names and their slots */
	struct sc {
		const char *name;
		int slot;
	} * sc;
	size_t nsc, capsc;
	size_t mark; /* start of the innermost body's names */
	int nslots;
	bool query;
};

static __attribute__((noreturn, format(printf, 3, 4))) void cerr(struct cstate *s, int line,
								 const char *fmt, ...)
{
	char msg[KERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kerr_set(s->err, -EINVAL, "%s:%d: %s", s->m ? s->m->file : "query", line, msg);
	longjmp(s->fail, 3);
}

static struct rgroup *group_at(struct rego_policy *p, const char **path, size_t n)
{
	const struct pnode *node = &p->root;
	for (size_t i = 0; i < n && node; i++)
		node = pnode_child(node, path[i]);
	return node ? node->rg : NULL;
}

static void add_group_rule(struct cstate *s, struct module *m, size_t i)
{
	struct rego_policy *p = s->p;
	struct rule *r = m->rules[i];
	struct pnode *node = &p->root;
	for (size_t k = 0; k < m->npkg; k++)
		node = pnode_add(p, node, m->pkg[k]);
	for (size_t k = 0; k < m->nrpath[i]; k++) {
		if (node->rg)
			cerr(s, r->line, "rule %s conflicts with a rule above it in data",
			     m->rpath[i][k]);
		node = pnode_add(p, node, m->rpath[i][k]);
	}
	if (node->nkids)
		cerr(s, r->line, "rule %s conflicts with rules below it in data",
		     m->rpath[i][m->nrpath[i] - 1]);
	struct rgroup *g = node->rg;
	enum rule_kind kind = m->kinds[i];
	int arity = kind == RK_FUNC ? (int)r->nargs : -1;
	if (!g) {
		g = ar_alloc(&p->ar, sizeof(*g));
		memset(g, 0, sizeof(*g));
		size_t np = m->npkg + m->nrpath[i];
		g->path = ar_alloc(&p->ar, np * sizeof(*g->path));
		memcpy(g->path, m->pkg, m->npkg * sizeof(*g->path));
		memcpy(g->path + m->npkg, m->rpath[i], m->nrpath[i] * sizeof(*g->path));
		g->npath = np;
		g->kind = kind;
		g->arity = arity;
		g->defs = NULL;
		g->id = (int)p->ngroups;
		node->rg = g;
		if (p->ngroups == p->capgroups) {
			size_t cap = p->capgroups ? 2 * p->capgroups : 32;
			struct rgroup **ng = realloc(p->groups, cap * sizeof(*ng));
			if (!ng)
				longjmp(s->fail, 2);
			p->groups = ng;
			p->capgroups = cap;
		}
		p->groups[p->ngroups++] = g;
	} else if (g->kind != kind) {
		cerr(s, r->line, "rule %s: conflicting kinds of definitions",
		     m->rpath[i][m->nrpath[i] - 1]);
	} else if (kind == RK_FUNC && g->arity != arity) {
		cerr(s, r->line, "function %s: definitions with different numbers of arguments",
		     m->rpath[i][m->nrpath[i] - 1]);
	}
	if (r->is_default) {
		if (g->deflt)
			cerr(s, r->line, "multiple default rules %s",
			     m->rpath[i][m->nrpath[i] - 1]);
		g->deflt = r;
		return;
	}
	struct rule **nd = ar_alloc(&p->ar, (g->ndefs + 1) * sizeof(*nd));
	if (g->ndefs)
		memcpy(nd, g->defs, g->ndefs * sizeof(*nd));
	nd[g->ndefs++] = r;
	g->defs = nd;
}

/* ---- name resolution ---- */

static int sc_find(struct cstate *s, const char *name, size_t from)
{
	for (size_t i = s->nsc; i > from; i--)
		if (!strcmp(s->sc[i - 1].name, name))
			return s->sc[i - 1].slot;
	return -1;
}

static int sc_declare(struct cstate *s, const char *name)
{
	if (s->nsc == s->capsc) {
		size_t cap = s->capsc ? 2 * s->capsc : 32;
		struct sc *n = realloc(s->sc, cap * sizeof(*n));
		if (!n)
			longjmp(s->fail, 2);
		s->sc = n;
		s->capsc = cap;
	}
	int slot = s->nslots++;
	s->sc[s->nsc++] = (struct sc){ name, slot };
	return slot;
}

static struct term *mk_term(struct cstate *s, enum term_kind k, const struct term *at)
{
	return term_new(s->ar, k, at->line, at->col);
}

/* A data ref for path (strings) as a TM_REF term. */
static struct term *data_ref(struct cstate *s, const struct term *at, const char **path, size_t n)
{
	struct term *r = mk_term(s, TM_REF, at);
	r->n = n + 1;
	r->items = ar_alloc(s->ar, r->n * sizeof(*r->items));
	r->items[0] = mk_term(s, TM_DATA, at);
	for (size_t i = 0; i < n; i++) {
		struct term *c = mk_term(s, TM_CONST, at);
		c->v = rv_cstr(s->ar, path[i]);
		r->items[i + 1] = c;
	}
	return r;
}

static const struct imp *find_import(struct cstate *s, const char *name)
{
	if (!s->m)
		return NULL;
	for (size_t i = 0; i < s->m->nimports; i++) {
		const struct imp *im = &s->m->imports[i];
		const char *alias = im->alias;
		if (!alias) {
			const struct term *pt = im->path;
			if (pt->k != TM_REF)
				continue;
			const struct term *last = pt->items[pt->n - 1];
			if (last->k != TM_CONST || last->v->t != RV_STR)
				continue;
			alias = last->v->str.s;
		}
		if (!strcmp(alias, name)) {
			const struct term *head = im->path->k == TM_REF ? im->path->items[0]
									: im->path;
			if (head->k == TM_VAR &&
			    (!strcmp(head->name, "data") || !strcmp(head->name, "input")))
				return im;
		}
	}
	return NULL;
}

/* The import's path as a resolved ref (a fresh copy). */
static struct term *import_ref(struct cstate *s, const struct imp *im, const struct term *at)
{
	const struct term *pt = im->path;
	struct term *r = mk_term(s, TM_REF, at);
	r->n = pt->n;
	r->items = ar_alloc(s->ar, r->n * sizeof(*r->items));
	r->items[0] = mk_term(s, strcmp(pt->items[0]->name, "data") ? TM_INPUT : TM_DATA, at);
	for (size_t i = 1; i < pt->n; i++)
		r->items[i] = pt->items[i];
	return r;
}

static void resolve_term(struct cstate *s, struct term *t);
static void resolve_body(struct cstate *s, struct body *b);

static void resolve_var(struct cstate *s, struct term *t)
{
	if (!strcmp(t->name, "_")) {
		t->slot = s->nslots++;
		return;
	}
	int slot = sc_find(s, t->name, 0);
	if (slot >= 0) {
		t->slot = slot;
		return;
	}
	if (!strcmp(t->name, "input")) {
		t->k = TM_INPUT;
		return;
	}
	if (!strcmp(t->name, "data")) {
		t->k = TM_DATA;
		return;
	}
	const struct imp *im = find_import(s, t->name);
	if (im) {
		*t = *import_ref(s, im, t);
		if (t->n == 1)
			*t = *t->items[0];
		return;
	}
	if (s->m) {
		const struct pnode *node = &s->p->root;
		for (size_t i = 0; i < s->m->npkg && node; i++)
			node = pnode_child(node, s->m->pkg[i]);
		if (node && pnode_child(node, t->name)) {
			const char **path = ar_alloc(s->ar, (s->m->npkg + 1) * sizeof(*path));
			memcpy(path, s->m->pkg, s->m->npkg * sizeof(*path));
			path[s->m->npkg] = t->name;
			*t = *data_ref(s, t, path, s->m->npkg + 1);
			return;
		}
	}
	t->slot = sc_declare(s, t->name);
}

/* Declare the variables of a pattern (:=, some, function parameters). */
static void declare_pattern(struct cstate *s, struct term *t, bool fresh, bool check_dup)
{
	switch (t->k) {
	case TM_VAR:
		if (!strcmp(t->name, "_")) {
			t->slot = s->nslots++;
		} else {
			int slot = fresh ? -1 : sc_find(s, t->name, 0);
			if (check_dup && sc_find(s, t->name, s->mark) >= 0)
				cerr(s, t->line, "var %s assigned above", t->name);
			t->slot = slot >= 0 ? slot : sc_declare(s, t->name);
		}
		break;
	case TM_ARRAY:
	case TM_SET:
		for (size_t i = 0; i < t->n; i++)
			declare_pattern(s, t->items[i], fresh, check_dup);
		break;
	case TM_OBJECT:
		for (size_t i = 0; i < t->n; i++) {
			resolve_term(s, t->items[i]);
			declare_pattern(s, t->vals[i], fresh, check_dup);
		}
		break;
	default:
		resolve_term(s, t);
	}
}

static struct rgroup *find_function(struct cstate *s, const char *name)
{
	char buf[512];
	const char *path[64];
	size_t n = 0;
	if (strlen(name) >= sizeof(buf))
		return NULL;
	strcpy(buf, name);
	for (char *tok = strtok(buf, "."); tok && n < 60; tok = strtok(NULL, "."))
		path[n++] = tok;
	if (!n)
		return NULL;
	if (!strcmp(path[0], "data"))
		return group_at(s->p, path + 1, n - 1);
	const struct imp *im = find_import(s, path[0]);
	if (im && im->path->k == TM_REF) {
		const char *full[128];
		size_t k = 0;
		for (size_t i = 1; i < im->path->n && k < 60; i++) {
			const struct term *e = im->path->items[i];
			if (e->k != TM_CONST || e->v->t != RV_STR)
				return NULL;
			full[k++] = e->v->str.s;
		}
		for (size_t i = 1; i < n; i++)
			full[k++] = path[i];
		return group_at(s->p, full, k);
	}
	if (s->m) {
		const char *full[128];
		size_t k = 0;
		for (size_t i = 0; i < s->m->npkg && k < 60; i++)
			full[k++] = s->m->pkg[i];
		for (size_t i = 0; i < n; i++)
			full[k++] = path[i];
		return group_at(s->p, full, k);
	}
	return NULL;
}

static void resolve_call(struct cstate *s, struct term *t)
{
	struct rgroup *g = find_function(s, t->name);
	if (g) {
		if (g->kind != RK_FUNC)
			cerr(s, t->line, "%s is not a function", t->name);
		if (g->arity != (int)t->n && g->arity + 1 != (int)t->n)
			cerr(s, t->line, "function %s takes %d arguments, called with %zu", t->name,
			     g->arity, t->n);
		t->fn = g;
	} else {
		t->bi = builtin_find(t->name);
		if (!t->bi && builtin_unsupported(t->name))
			cerr(s, t->line,
			     "unsupported builtin %s (not implemented by this evaluator)", t->name);
		if (!t->bi)
			cerr(s, t->line, "undefined function %s", t->name);
		/* a builtin with one more argument: the last is the output */
		if (t->bi->arity >= 0 && t->bi->arity != (int)t->n && t->bi->arity + 1 != (int)t->n)
			cerr(s, t->line, "%s takes %d arguments, called with %zu", t->name,
			     t->bi->arity, t->n);
	}
	for (size_t i = 0; i < t->n; i++)
		resolve_term(s, t->items[i]);
}

static void resolve_ref(struct cstate *s, struct term *t)
{
	resolve_term(s, t->items[0]);
	struct term *h = t->items[0];
	if (h->k == TM_REF) {
		/* a rule or import name expanded to a ref: flatten */
		size_t n = h->n + t->n - 1;
		struct term **items = ar_alloc(s->ar, n * sizeof(*items));
		memcpy(items, h->items, h->n * sizeof(*items));
		memcpy(items + h->n, t->items + 1, (t->n - 1) * sizeof(*items));
		t->items = items;
		t->n = n;
		for (size_t i = h->n; i < n; i++)
			resolve_term(s, t->items[i]);
		return;
	}
	for (size_t i = 1; i < t->n; i++)
		resolve_term(s, t->items[i]);
}

static void resolve_comp(struct cstate *s, struct term *t)
{
	size_t nsc = s->nsc, mark = s->mark;
	s->mark = s->nsc;
	resolve_body(s, t->body);
	resolve_term(s, t->head);
	if (t->head2)
		resolve_term(s, t->head2);
	s->nsc = nsc;
	s->mark = mark;
}

static void resolve_term(struct cstate *s, struct term *t)
{
	switch (t->k) {
	case TM_CONST:
	case TM_INPUT:
	case TM_DATA:
		break;
	case TM_VAR:
		if (t->slot < 0)
			resolve_var(s, t);
		break;
	case TM_REF:
		resolve_ref(s, t);
		break;
	case TM_CALL:
		resolve_call(s, t);
		break;
	case TM_ARRAY:
	case TM_SET:
		for (size_t i = 0; i < t->n; i++)
			resolve_term(s, t->items[i]);
		break;
	case TM_OBJECT:
		for (size_t i = 0; i < t->n; i++) {
			resolve_term(s, t->items[i]);
			resolve_term(s, t->vals[i]);
		}
		break;
	case TM_ACOMP:
	case TM_SCOMP:
	case TM_OCOMP:
		resolve_comp(s, t);
		break;
	}
}

/* a.b.c as "a.b.c" when t is a plain (unresolved) dotted name, else NULL */
static const char *dotted_name(struct cstate *s, const struct term *t)
{
	struct sbuf name = { .a = s->ar };
	if (t->k == TM_VAR && t->slot < 0)
		return t->name;
	if (t->k != TM_REF || t->items[0]->k != TM_VAR || t->items[0]->slot >= 0)
		return NULL;
	sb_puts(&name, t->items[0]->name);
	for (size_t i = 1; i < t->n; i++) {
		if (t->items[i]->k != TM_CONST || t->items[i]->v->t != RV_STR)
			return NULL;
		sb_putc(&name, '.');
		sb_puts(&name, t->items[i]->v->str.s);
	}
	return sb_str(&name);
}

static void resolve_with(struct cstate *s, struct with *w)
{
	struct term *t = w->target;
	const struct term *root = t->k == TM_REF ? t->items[0] : t;
	if (root->k == TM_VAR && (!strcmp(root->name, "input") || !strcmp(root->name, "data"))) {
		resolve_term(s, t);
		resolve_term(s, w->value);
		return;
	}
	/* a function or builtin name, or a rule of this package */
	const char *name = dotted_name(s, t);
	if (!name)
		cerr(s, t->line, "with: invalid target");
	struct rgroup *g = find_function(s, name);
	if (g && g->kind != RK_FUNC) {
		resolve_term(s, t); /* a rule: a data ref */
		resolve_term(s, w->value);
		return;
	}
	struct term *c = mk_term(s, TM_CALL, t);
	c->name = name;
	c->fn = g;
	c->bi = g ? NULL : builtin_find(name);
	if (!g && !c->bi && builtin_unsupported(name))
		cerr(s, t->line, "with: unsupported builtin %s (not implemented by this evaluator)",
		     name);
	if (!g && !c->bi)
		cerr(s, t->line, "with: undefined function %s", name);
	w->target = c;
	/* the replacement: a builtin name, a function name, or a value */
	struct term *v = w->value;
	const char *bname = dotted_name(s, v);
	const struct builtin *bi = bname && sc_find(s, v->k == TM_VAR ? v->name : v->items[0]->name,
						    0) < 0
					   ? builtin_find(bname)
					   : NULL;
	int arity = g ? g->arity : c->bi->arity;
	if (bi) {
		if (bi->arity != arity || arity < 0)
			cerr(s, t->line, "with: %s takes %d arguments, %s %d", name, arity, bname,
			     bi->arity);
		struct term *vc = mk_term(s, TM_CALL, v);
		vc->bi = bi;
		vc->name = bname;
		w->value = vc;
		return;
	}
	resolve_term(s, v);
	if (v->k == TM_REF && v->items[0]->k == TM_DATA) {
		const char *path[64];
		size_t n = 0;
		for (size_t i = 1; i < v->n && n < 64; i++)
			if (v->items[i]->k == TM_CONST && v->items[i]->v->t == RV_STR)
				path[n++] = v->items[i]->v->str.s;
		struct rgroup *vg = n == v->n - 1 ? group_at(s->p, path, n) : NULL;
		if (vg && vg->kind == RK_FUNC) {
			if (vg->arity != arity)
				cerr(s, t->line, "with: %s takes %d arguments, its replacement %d",
				     name, arity, vg->arity);
			struct term *vc = mk_term(s, TM_CALL, v);
			vc->fn = vg;
			w->value = vc;
		}
	}
}

static void resolve_lit(struct cstate *s, struct lit *l)
{
	size_t nsc = s->nsc, mark = s->mark;
	for (size_t i = 0; i < l->nw; i++)
		resolve_with(s, &l->w[i]);
	if (l->neg)
		s->mark = s->nsc; /* what `not` binds stays inside it */
	switch (l->k) {
	case LI_EXPR:
		resolve_term(s, l->a);
		break;
	case LI_UNIFY:
		resolve_term(s, l->a);
		resolve_term(s, l->b);
		break;
	case LI_ASSIGN:
		resolve_term(s, l->b);
		declare_pattern(s, l->a, true, true);
		break;
	case LI_SOME:
		for (size_t i = 0; i < l->ndecl; i++)
			declare_pattern(s, l->decl[i], true, false);
		break;
	case LI_SOMEIN:
		resolve_term(s, l->c);
		if (l->a)
			declare_pattern(s, l->a, true, false);
		declare_pattern(s, l->b, true, false);
		break;
	case LI_EVERY:
		resolve_term(s, l->c);
		s->mark = s->nsc;
		if (l->a)
			declare_pattern(s, l->a, true, false);
		declare_pattern(s, l->b, true, false);
		resolve_body(s, l->body);
		s->nsc = nsc;
		s->mark = mark;
		break;
	}
	if (l->neg) {
		s->nsc = nsc;
		s->mark = mark;
	}
}

static void resolve_body(struct cstate *s, struct body *b)
{
	for (size_t i = 0; i < b->n; i++)
		resolve_lit(s, b->l[i]);
}

static void resolve_rule(struct cstate *s, struct rule *r)
{
	s->nsc = 0;
	s->mark = 0;
	s->nslots = 0;
	for (size_t i = 0; i < r->nargs; i++)
		declare_pattern(s, r->args[i], false, false);
	size_t nargs_sc = s->nsc;
	for (struct rule *e = r; e; e = e->els) {
		s->nsc = nargs_sc;
		s->mark = nargs_sc;
		if (e->body)
			resolve_body(s, e->body);
		if (e->key)
			resolve_term(s, e->key);
		if (e->value)
			resolve_term(s, e->value);
	}
	r->nslots = s->nslots;
}

static int compile_run(struct cstate *s, void (*fn)(struct cstate *, void *), void *arg)
{
	struct arena *a = s->ar;
	jmp_buf *saved = a->oom;
	int r = setjmp(s->fail);
	if (r) {
		a->oom = saved;
		free(s->sc);
		if (r == 3)
			return -EINVAL;
		return kerr_set_status(s->err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM,
				       "rego: out of memory while compiling");
	}
	a->oom = &s->fail;
	fn(s, arg);
	a->oom = saved;
	free(s->sc);
	return 0;
}

static void compile_all(struct cstate *s, void *arg)
{
	struct rego_policy *p = s->p;
	for (size_t i = 0; i < p->nmods; i++) {
		s->m = p->mods[i];
		for (size_t k = 0; k < s->m->nrules; k++)
			add_group_rule(s, s->m, k);
	}
	for (size_t i = 0; i < p->nmods; i++) {
		s->m = p->mods[i];
		for (size_t k = 0; k < s->m->nimports; k++) {
			const struct imp *im = &s->m->imports[k];
			const struct term *h = im->path->k == TM_REF ? im->path->items[0]
								     : im->path;
			if (h->k != TM_VAR ||
			    (strcmp(h->name, "data") && strcmp(h->name, "input") &&
			     strcmp(h->name, "future") && strcmp(h->name, "rego")))
				cerr(s, im->line, "invalid import path");
		}
		for (size_t k = 0; k < s->m->nrules; k++)
			resolve_rule(s, s->m->rules[k]);
	}
}

int rego_policy_compile(struct rego_policy *p, struct kerr *err)
{
	if (p->compiled)
		return kerr_set(err, -EINVAL, "rego: policy already compiled");
	struct cstate s = { .p = p, .ar = &p->ar, .err = err };
	int r = compile_run(&s, compile_all, NULL);
	if (r < 0)
		return r;
	p->compiled = true;
	return 0;
}

struct qargs {
	struct body *b;
	struct qvar **vars;
	size_t *nvars;
	int *nslots;
	struct arena *qa;
};

static void compile_query(struct cstate *s, void *arg)
{
	struct qargs *q = arg;
	s->m = NULL;
	resolve_body(s, q->b);
	*q->nslots = s->nslots;
	struct qvar *v = ar_alloc(q->qa, (s->nsc + 1) * sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < s->nsc; i++)
		if (strncmp(s->sc[i].name, "__", 2))
			v[n++] = (struct qvar){ s->sc[i].name, s->sc[i].slot };
	*q->vars = v;
	*q->nvars = n;
}

int rego_compile_query(struct rego_policy *p, struct arena *a, struct body *b, struct qvar **vars,
		       size_t *nvars, int *nslots, struct kerr *err)
{
	struct cstate s = { .p = p, .ar = a, .err = err, .query = true };
	struct qargs q = { b, vars, nvars, nslots, a };
	return compile_run(&s, compile_query, &q);
}
