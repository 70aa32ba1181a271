/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine.h - the agent policy as upstream's AgentPolicy
 * (src/agent/policy/src/policy.rs) runs it, on our Rego evaluator: one
 * compiled policy, its base document {"pstate": {...}}, and the
 * AllowRequestsFailingPolicy flag. The policy process (main.c) holds one.
 *
 * Offers: struct policy_engine, policy_engine_load(), policy_engine_check().
 */
#ifndef KATA_POLICY_ENGINE_H
#define KATA_POLICY_ENGINE_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"
#include "rego.h"

struct policy_engine {
	struct rego_limits limits;
	struct rego_policy *policy; /* NULL before the first load */
	json_t *data;               /* the base document: {"pstate": {...}} */
	bool allow_failures;        /* AllowRequestsFailingPolicy */
};

struct policy_verdict {
	bool allowed;
	bool data_changed; /* ops were applied: e->data is new */
	char *prints;      /* print() lines joined by " " (upstream), or NULL */
};

/* Replace the policy by text with data as its base document (upstream
 * set_policy: a new engine, then AllowRequestsFailingPolicy). On failure
 * (a parse or compile error: -EINVAL) the engine keeps its old policy. */
int policy_engine_load(struct policy_engine *e, const char *text, size_t len, const json_t *data,
		       struct kerr *err);

/* upstream allow_request: query data.agent_policy.<endpoint> with input; a
 * boolean, or an object {allowed, ops} whose ops patch the base document
 * when allowed (not when dry_run); no result, or a denial, is allowed with
 * AllowRequestsFailingPolicy. Errors: no result without that flag, a
 * result of another shape, a patch that does not apply (-EINVAL,
 * INTERNAL), and the evaluator's bounds (-ETIME DEADLINE_EXCEEDED, -ENOMEM,
 * -ELOOP, -E2BIG RESOURCE_EXHAUSTED). v->prints is filled on errors too. */
int policy_engine_check(struct policy_engine *e, const char *endpoint, const json_t *input,
			bool dry_run, struct policy_verdict *v, struct kerr *err);
void policy_verdict_clear(struct policy_verdict *v);

void policy_engine_free(struct policy_engine *e);

#endif
