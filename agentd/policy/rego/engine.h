/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine.h - the compiled policy and the evaluation context (internal to
 * agentd/policy/rego): what compile.c builds, eval.c walks, builtins*.c use.
 */
#ifndef KATA_REGO_ENGINE_H
#define KATA_REGO_ENGINE_H

#include "ast.h"
#include "rego.h"

/* The tree of data paths that rules define (packages, then rule paths). */
struct pnode {
	const char *name;
	struct pnode **kids;
	size_t nkids, cap;
	struct rgroup *rg;
};

struct regex_cache;

struct rego_policy {
	struct rego_limits lim;
	struct arena ar; /* modules, compiled rules, constants */
	struct module **mods;
	size_t nmods, capmods;
	struct pnode root;
	struct rgroup **groups;
	size_t ngroups, capgroups;
	bool compiled;
	struct arena data_ar;
	const struct rv *data;
	struct regex_cache *rx; /* compiled patterns, kept across queries */
};

struct pnode *pnode_child(const struct pnode *n, const char *name);

struct qvar {
	const char *name;
	int slot;
};

/* Compile a query body against the policy: resolves names; fills the
 * query's named variables and its frame size. */
int rego_compile_query(struct rego_policy *p, struct arena *a, struct body *b, struct qvar **vars,
		       size_t *nvars, int *nslots, struct kerr *err);

/* ---- evaluation ---- */

struct frame {
	const struct rv **slot;
	int n;
};

struct override {
	bool input;
	const struct rv **path; /* data: path below data */
	size_t npath;
	const struct rv *value;
	struct rgroup *fn_from; /* with f as g (functions) */
	const struct builtin *bi_from;
	struct term *fn_to;
};

struct cache;

struct ectx {
	struct rego_policy *pol;
	struct arena *a;
	jmp_buf *bail; /* bounds: longjmp here */
	int bail_code;
	uint64_t steps, max_steps;
	const char *stack_base;
	size_t max_stack;
	const struct rv *input; /* NULL: undefined */
	struct override *ov;
	size_t nov, capov;
	struct cache *cache;
	unsigned char *active; /* per group: being evaluated (recursion check) */
	struct sbuf *prints;
	struct kerr *err;
	bool strict;
	size_t mock_floor; /* in a `with f as mock` replacement: ov[0..floor) are off */
};

/* Builtins: fill *out (NULL: undefined) and return 0, or return <0 with
 * c->err set (a builtin error: undefined unless strict). */
struct builtin {
	const char *name;
	int arity;
	int (*fn)(struct ectx *c, const struct rv **args, const struct rv **out);
};

const struct builtin *builtin_find(const char *name);
/* An OPA builtin deliberately left out (compile error "unsupported builtin"). */
bool builtin_unsupported(const char *name);
int builtin_error(struct ectx *c, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* One evaluation step: abandons the query past the step or stack bound. */
void eval_step(struct ectx *c);
/* A bound was reached: abandon the query. */
__attribute__((noreturn)) void eval_bail(struct ectx *c, int code, const char *what);

/* regex.c: patterns with RE2 syntax checks, compiled once per policy. */
int rx_match(struct ectx *c, const struct rv *pat, const struct rv *s, bool *out);
int rx_find_all(struct ectx *c, const struct rv *pat, const struct rv *s, int64_t n, bool submatch,
		const struct rv **out);
int rx_replace(struct ectx *c, const struct rv *pat, const struct rv *s, const struct rv *with,
	       const struct rv **out);
int rx_split(struct ectx *c, const struct rv *pat, const struct rv *s, const struct rv **out);
void rx_cache_free(struct regex_cache *rc);

#endif
