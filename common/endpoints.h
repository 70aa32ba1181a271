/* SPDX-License-Identifier: Apache-2.0 */
/*
 * endpoints.h - the [endpoints] allowed list enforced below the front-end.
 *
 * The front-end refuses a blocked RPC first (agentd/frontend/rpc.c), but a
 * compromised front-end would simply not. So the executor and each monitor
 * check every request the front-end sends them against the same list (the
 * parent hands it to the executor on argv, the executor to each monitor):
 * each IPC request type is mapped, in one declared table (endpoints.c), to
 * the RPC request type(s) it serves, spelled as the allowed list spells
 * them. A request is let through when one of its RPCs is allowed, or when
 * it serves none (an internal message such as PING); an IPC type missing
 * from the table is refused. A refusal is ERROR PERMISSION_DENIED with the
 * front-end's wording, and the channel stays open (ipc_chan_set_gate).
 *
 * The table is kept apart from the message definitions so that it can move
 * into the one declaration the IPC tables will be generated from.
 */
#ifndef KATA_COMMON_ENDPOINTS_H
#define KATA_COMMON_ENDPOINTS_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "ipc.h"
#include "options.h"

#define IPC_ENDPOINT_MAX_RPCS 2

struct ipc_endpoint {
	uint32_t type;
	/* RPC request types served, NULL-terminated; none: internal */
	const char *rpcs[IPC_ENDPOINT_MAX_RPCS + 1];
};

/* The table's entry for an IPC type, or NULL. */
const struct ipc_endpoint *ipc_endpoint_find(uint32_t type);
/* 0 when policy lets a request of this type through; -EACCES with err
 * (PERMISSION_DENIED, "<Request> is blocked by policy: ...") otherwise. */
int ipc_endpoint_check(const struct agent_options *policy, uint32_t type, struct kerr *err);
/* An ipc_gate_fn: data is the const struct agent_options *. */
int ipc_endpoint_gate(struct ipc_chan *c, const struct ipc_msg *m, void *data, struct kerr *err);

/* A request type name fit for argv: [A-Za-z0-9_]+. */
bool endpoints_name_valid(const char *s);
/* The allowed list as the processes pass it on argv: comma-separated
 * request type names ([A-Za-z0-9_], no empty item), "" for an empty list.
 * Sets endpoints_restricted. -EINVAL on a bad name, -ENOMEM. */
int endpoints_parse_list(struct agent_options *o, const char *list);

#endif
