/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rego.h - a Rego evaluator for the Kata agent policy.
 *
 * Evaluates upstream Kata's policies unchanged (genpolicy's rules.rego with
 * its policy_data, the rego files of src/kata-opa): modules are parsed and compiled once
 * into a struct rego_policy, then queried many times against changing input
 * and data (data.pstate).  doc/policy.md lists what the language subset and
 * the builtins cover and how the results compare with OPA's conformance cases.
 *
 * The policy text and the input come from the untrusted host, so every query
 * runs under bounds (struct rego_limits): evaluation steps, memory, C stack,
 * input size.  A query over a bound fails with its own error code (below)
 * and leaves the policy usable.  There is no global state: a process can
 * free a policy and start over.  Not thread-safe per policy (one query at a
 * time); distinct policies are independent.
 *
 * Errors (struct kerr, negative errno):
 *   -EINVAL    parse or compile error ("file:line:col: ..."), or an
 *              evaluation error (conflicting rule values, a builtin error in
 *              strict mode, an unsafe variable): INVALID_ARGUMENT
 *   -ETIME     the step bound was reached: DEADLINE_EXCEEDED
 *   -ENOMEM    the memory bound was reached: RESOURCE_EXHAUSTED
 *   -ELOOP     the stack (nesting) bound was reached: RESOURCE_EXHAUSTED
 *   -E2BIG     the input or data is over its size bound: RESOURCE_EXHAUSTED
 */
#ifndef KATA_REGO_H
#define KATA_REGO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct rego_limits {
	uint64_t max_steps;         /* per query; 0: default (50 million) */
	size_t max_memory;          /* bytes per query; 0: default (256 MiB) */
	size_t max_stack;           /* bytes of C stack per query; 0: default (2 MiB) */
	size_t max_input_nodes;     /* JSON nodes of input, and of data; 0: default (1 million) */
	bool strict_builtin_errors; /* OPA's strict mode: builtin errors fail the query */
};

struct rego_policy;

/* A policy with no modules and data {}.  limits may be NULL (defaults). */
int rego_policy_new(struct rego_policy **out, const struct rego_limits *limits, struct kerr *err);
void rego_policy_free(struct rego_policy *p);

/* Add a module (parsed now; name is used in error positions).  Then
 * rego_policy_compile() once all are added. */
int rego_policy_add_module(struct rego_policy *p, const char *name, const char *text, size_t len,
			   struct kerr *err);
int rego_policy_compile(struct rego_policy *p, struct kerr *err);

/* Replace the base document data (an object; copied). */
int rego_policy_set_data(struct rego_policy *p, const json_t *data, struct kerr *err);

struct rego_result {
	/* One object per solution, mapping the query's named variables to
	 * their values (OPA's "bindings"); empty when the query is undefined. */
	json_t *bindings;
	/* For a query of one expression: its value in the first solution (a
	 * plain term's value, false included), NULL when undefined. */
	json_t *value;
	/* Lines of print() output, joined by "\n" (NULL when none). */
	char *prints;
	uint64_t steps; /* steps the query took */
	size_t memory;  /* bytes the query allocated */
};

/* Evaluate query (Rego text, e.g. "data.agent_policy.CreateContainerRequest")
 * with input (NULL: undefined).  res is filled on success and on an
 * evaluation error (prints so far); free it with rego_result_clear. */
int rego_eval(struct rego_policy *p, const char *query, const json_t *input,
	      struct rego_result *res, struct kerr *err);
void rego_result_clear(struct rego_result *res);

#endif
