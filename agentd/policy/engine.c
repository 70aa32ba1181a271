/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine.c - AgentPolicy (upstream src/agent/policy/src/policy.rs) on the
 * Rego evaluator (engine.h).
 */
#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_status.h"
#include "jsonpatch.h"
#include "log.h"

/* upstream joins the gathered prints with " "; the evaluator with "\n". */
static char *join_prints(char *p)
{
	for (char *c = p; c && *c; c++)
		if (*c == '\n')
			*c = ' ';
	return p;
}

/* The value of data.agent_policy.<endpoint> read as upstream does. */
static int read_result(struct policy_engine *e, const char *endpoint, const json_t *value,
		       bool dry_run, struct policy_verdict *v, struct kerr *err)
{
	if (!value) {
		/* Undefined: upstream's "unexpected eval_query result len". */
		if (e->allow_failures) {
			v->allowed = true;
			return 0;
		}
		return kerr_set_status(err, GRPC_INTERNAL, -EINVAL,
				       "policy check: no result for data.agent_policy.%s",
				       endpoint);
	}
	if (json_is_boolean(value)) {
		v->allowed = json_is_true(value);
	} else if (json_is_object(value)) {
		/* MetadataResponse { allowed: bool, ops: Option<Patch> } */
		const json_t *allowed = json_object_get(value, "allowed");
		const json_t *ops = json_object_get(value, "ops");
		if (!json_is_boolean(allowed) || (ops && !json_is_null(ops) && !json_is_array(ops)))
			return kerr_set_status(err, GRPC_INTERNAL, -EINVAL,
					       "policy check: %s: the result is not {allowed, ops}",
					       endpoint);
		v->allowed = json_is_true(allowed);
		if (v->allowed && json_is_array(ops) && !dry_run) {
			if (jsonpatch_apply(&e->data, ops, err) < 0) {
				err->status = GRPC_INTERNAL;
				return kerr_prefix(err, "policy check: %s: ops", endpoint);
			}
			struct kerr se = { 0 };
			if (rego_policy_set_data(e->policy, e->data, &se) < 0)
				return kerr_set_status(err, kerr_status(&se), se.code,
						       "policy check: %s: %s", endpoint, se.msg);
			v->data_changed = true;
		}
	} else {
		return kerr_set_status(err, GRPC_INTERNAL, -EINVAL,
				       "policy check: unexpected result type for %s", endpoint);
	}
	if (!v->allowed && e->allow_failures) {
		log_warn("policy: ignoring error for %s", endpoint);
		v->allowed = true;
	}
	return 0;
}

int policy_engine_check(struct policy_engine *e, const char *endpoint, const json_t *input,
			bool dry_run, struct policy_verdict *v, struct kerr *err)
{
	memset(v, 0, sizeof(*v));
	if (!e->policy)
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -ENOENT, "no policy loaded");
	char query[96];
	snprintf(query, sizeof(query), "data.agent_policy.%s", endpoint);
	struct rego_result res = { 0 };
	int r = rego_eval(e->policy, query, input, &res, err);
	v->prints = join_prints(res.prints);
	res.prints = NULL;
	if (r == 0)
		r = read_result(e, endpoint, res.value, dry_run, v, err);
	rego_result_clear(&res);
	return r;
}

void policy_verdict_clear(struct policy_verdict *v)
{
	free(v->prints);
	v->prints = NULL;
}

/* upstream update_allow_failures_flag: an error reads as false. */
static bool allows_failures(struct policy_engine *e)
{
	bool saved = e->allow_failures;
	e->allow_failures = false;
	struct policy_verdict v;
	struct kerr err = { 0 };
	json_t *empty = json_object();
	bool on = policy_engine_check(e, "AllowRequestsFailingPolicy", empty, true, &v, &err) ==
			  0 &&
		  v.allowed;
	json_decref(empty);
	policy_verdict_clear(&v);
	e->allow_failures = saved;
	return on;
}

int policy_engine_load(struct policy_engine *e, const char *text, size_t len, const json_t *data,
		       struct kerr *err)
{
	if (!json_is_object(data))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "the base document is not an object");
	struct rego_policy *p = NULL;
	int r;
	if ((r = rego_policy_new(&p, &e->limits, err)) < 0 ||
	    (r = rego_policy_add_module(p, "policy.rego", text, len, err)) < 0 ||
	    (r = rego_policy_compile(p, err)) < 0 || (r = rego_policy_set_data(p, data, err)) < 0) {
		rego_policy_free(p);
		if (r == -EINVAL)
			err->status = GRPC_INVALID_ARGUMENT;
		return r;
	}
	json_t *copy = json_deep_copy(data);
	if (!copy) {
		rego_policy_free(p);
		return kerr_set(err, -ENOMEM, "out of memory");
	}
	rego_policy_free(e->policy);
	json_decref(e->data);
	e->policy = p;
	e->data = copy;
	e->allow_failures = allows_failures(e);
	if (e->allow_failures)
		log_warn("policy: AllowRequestsFailingPolicy is enabled - will ignore errors");
	return 0;
}

void policy_engine_free(struct policy_engine *e)
{
	rego_policy_free(e->policy);
	json_decref(e->data);
	e->policy = NULL;
	e->data = NULL;
}
