/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ast.h - the parsed and resolved form of Rego modules and queries (internal
 * to agentd/policy/rego).  parse.c builds it, compile.c resolves names (local
 * slots, rules, builtins), eval.c walks it.  Everything lives in the
 * policy's arena.
 */
#ifndef KATA_REGO_AST_H
#define KATA_REGO_AST_H

#include "rv.h"
#include "err.h"

struct builtin;
struct rgroup;
struct body;

enum term_kind {
	TM_CONST,  /* v: a ground value */
	TM_VAR,    /* name; slot after resolution (locals) */
	TM_REF,    /* items[0] head, items[1..n) keys */
	TM_CALL,   /* name, items = args; fn or bi after resolution */
	TM_ARRAY,  /* items */
	TM_SET,    /* items */
	TM_OBJECT, /* items = keys, vals */
	TM_ACOMP,  /* head, body */
	TM_SCOMP,  /* head, body */
	TM_OCOMP,  /* head (key), head2 (value), body */
	TM_INPUT,  /* the root of input */
	TM_DATA,   /* the root of data */
};

struct term {
	enum term_kind k;
	int line, col;
	const struct rv *v;
	const char *name;
	int slot; /* TM_VAR: local slot, -1 before resolution */
	struct term **items, **vals;
	size_t n;
	struct term *head, *head2;
	struct body *body;
	struct rgroup *fn;
	const struct builtin *bi;
};

struct with {
	struct term *target, *value;
};

enum lit_kind {
	LI_EXPR,   /* a */
	LI_UNIFY,  /* a = b */
	LI_ASSIGN, /* a := b */
	LI_SOME,   /* some x, y (declaration only) */
	LI_SOMEIN, /* some [a,] b in c */
	LI_EVERY,  /* every [a,] b in c { body } */
};

struct lit {
	enum lit_kind k;
	bool neg;
	int line, col;
	struct term *a, *b, *c;
	struct term **decl; /* LI_SOME: the declared vars */
	size_t ndecl;
	struct body *body;
	struct with *w;
	size_t nw;
};

struct body {
	struct lit **l;
	size_t n;
};

enum rule_kind { RK_COMPLETE, RK_SET, RK_OBJ, RK_FUNC };

/* One definition: head terms and body, with its else chain. */
struct rule {
	struct term **args; /* RK_FUNC parameters */
	size_t nargs;
	struct term *key;   /* RK_SET member / RK_OBJ key */
	struct term *value; /* NULL: true */
	struct body *body;  /* NULL: no body (always) */
	struct rule *els;
	int nslots; /* frame size (set on the first of a chain) */
	int line;
	const char *file;
	bool is_default;
};

/* All definitions of one path in data (package path + rule name path). */
struct rgroup {
	const char **path;
	size_t npath;
	enum rule_kind kind;
	int arity;
	struct rule **defs;
	size_t ndefs;
	struct rule *deflt;
	int id;
};

struct module {
	const char *file;
	const char **pkg;
	size_t npkg;
	struct imp {
		const char *alias;
		struct term *path; /* TM_REF rooted at input or data */
		int line;
	} * imports;
	size_t nimports;
	struct rule **rules; /* in order; rule path = pkg + rpath */
	const char ***rpath;
	size_t *nrpath;
	enum rule_kind *kinds;
	size_t nrules;
};

/* A new term (slot -1) at line:col. */
struct term *term_new(struct arena *a, enum term_kind k, int line, int col);

/* Parse a module; errors say "file:line:col: what". */
int rego_parse_module(struct arena *a, const char *file, const char *text, size_t len,
		      struct module **out, struct kerr *err);
/* Parse a query (a body); errors as above, file "query". */
int rego_parse_query(struct arena *a, const char *text, size_t len, struct body **out,
		     struct kerr *err);

#endif
