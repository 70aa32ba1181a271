/* SPDX-License-Identifier: Apache-2.0 */
/*
 * endpoints.h - the [endpoints] allowed list enforced below the front-end.
 *
 * The front-end refuses a blocked RPC first (agentd/frontend/rpc.c), but a
 * compromised front-end would simply not. So the executor and each monitor
 * check every request the front-end sends them against the same list (the
 * parent hands it to the executor on argv, the executor to each monitor):
 * the declaration (ipc_messages.def) names, for each message the front-end
 * sends, the grpc.AgentService method(s) it serves; their request types
 * (rpc_catalog) are what the allowed list names. A request is let through
 * when one of them is allowed, or when it is declared INTERNAL (PING); any
 * other type is refused. A refusal is ERROR PERMISSION_DENIED with the
 * front-end's wording, and the channel stays open (ipc_chan_set_gate).
 * A monitor gets the list resolved to its request types by the executor
 * (endpoints_blocked_types) and gives the same refusal itself.
 */
#ifndef KATA_COMMON_ENDPOINTS_H
#define KATA_COMMON_ENDPOINTS_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "ipc.h"
#include "options.h"

/* 0 when policy lets a request of this type through; -EACCES with err
 * (PERMISSION_DENIED, "<Request> is blocked by policy: ...") otherwise. */
int ipc_endpoint_check(const struct agent_options *policy, uint32_t type, struct kerr *err);
/* An ipc_gate_fn: data is the const struct agent_options *. */
int ipc_endpoint_gate(struct ipc_chan *c, const struct ipc_msg *m, void *data, struct kerr *err);

/* The types the front-end sends to a process of role `to` that policy
 * blocks, as comma-separated numbers ("" for none): what the executor
 * hands each monitor (--endpoints-blocked), which then needs neither the
 * list nor the API's catalog to refuse them. -ENOSPC when len is short. */
int endpoints_blocked_types(const struct agent_options *policy, enum ipc_role to, char *buf,
			    size_t len);

/* A request type name fit for argv: [A-Za-z0-9_]+. */
bool endpoints_name_valid(const char *s);
/* The allowed list as the processes pass it on argv: comma-separated
 * request type names ([A-Za-z0-9_], no empty item), "" for an empty list.
 * Sets endpoints_restricted. -EINVAL on a bad name, -ENOMEM. */
int endpoints_parse_list(struct agent_options *o, const char *list);

#endif
