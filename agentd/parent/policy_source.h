/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_source.h - which agent policy is in force at start, read by the
 * parent (root, before any child): the policy_file option
 * (KATA_AGENT_POLICY_FILE), else upstream's default
 * /etc/kata-opa/default-policy.rego when it exists, else none (everything
 * allowed, as without the agent-policy feature). initdata's policy.rego
 * replaces it (upstream main.rs: set_policy after initialize_policy). The
 * executor gets it in CTL_POLICY and keeps it (doc/policy.md).
 *
 * Offers: struct policy_source, policy_source_read(), policy_source_initdata(),
 *         policy_source_json().
 */
#ifndef KATA_PARENT_POLICY_SOURCE_H
#define KATA_PARENT_POLICY_SOURCE_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"
#include "ipc.h"
#include "options.h"

#define POLICY_DEFAULT_FILE "/etc/kata-opa/default-policy.rego"

struct policy_source {
	char *msg;      /* the CTL_POLICY payload: struct ipc_policy_text, then the text */
	size_t msg_len; /* 0: no policy */
	char sha256[65];
};

/* Read the policy the options name (a named file that cannot be read, is
 * empty or too big fails the start, as upstream's initialize_policy
 * aborts the agent); *s is zeroed when there is none. */
int policy_source_read(struct policy_source *s, const struct agent_options *o, struct kerr *err);
/* Replace it with initdata's policy.rego (its sealed memfd). */
int policy_source_initdata(struct policy_source *s, int fd, struct kerr *err);
/* Replace it with text from source. */
int policy_source_set(struct policy_source *s, const char *source, const char *text, size_t len,
		      struct kerr *err);
/* {"source": ..., "sha256": ...}, or "none (every request allowed)", for the
 * announce line. */
json_t *policy_source_json(const struct policy_source *s);
void policy_source_free(struct policy_source *s);

#endif
