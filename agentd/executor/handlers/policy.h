/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.h - the executor's side of the agent policy (doc/policy.md): the
 * policy in force and its state, the channel to the policy process, and the
 * check every front-end request passes before its handler runs, so that a
 * compromised front-end cannot skip it.
 *
 *  - policy.c: CTL_POLICY (the policy at start) and CTL_NEW_POLICY (a new
 *    policy process: loaded with the policy and the last state it
 *    reported), the defer hook of the front-end channel (policy_defer:
 *    POLICY_CHECK, then the handler or PERMISSION_DENIED "<Request> is
 *    blocked by policy: <prints>"), SetPolicy, and the verdicts the
 *    monitors enforce (MON_POLICY);
 *  - policy_requests.c: the policy input of a front-end request.
 *
 * Without a policy (none at start, no SetPolicy yet) every request is let
 * through, as before, and no policy process runs: the first SetPolicy asks
 * the parent for one (CTL_START_POLICY) and waits for it. With a policy and
 * no policy process (it died, it is being restarted), every request fails
 * UNAVAILABLE: closed, never open.
 */
#ifndef KATA_EXECUTOR_POLICY_H
#define KATA_EXECUTOR_POLICY_H

#include <jansson.h>
#include <stdint.h>

#include "err.h"
#include "ipc.h"

struct executor;
struct container;

/* ---- policy.c ---- */
/* Control channel: the policy at start; a new policy process. */
int on_ctl_policy(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_ctl_new_policy(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
/* The front-end channel's defer hook (ipc_chan_set_defer, data: the
 * executor). */
int policy_defer(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
/* SET_POLICY_REQ, once the policy in force allowed it. */
int on_set_policy(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
/* A monitor's channel is up: it gets the verdicts in force, before the
 * front-end learns of it. */
void policy_monitor_started(struct container *ct);
void policy_free(struct executor *x);

/* ---- policy_requests.c ---- */
/* The request type the policy names a front-end message by
 * ("StartContainerRequest"), NULL when it serves no RPC. */
const char *policy_request_endpoint(uint32_t type);
/* The policy input of m (a front-end request, checked and decoded): a new
 * JSON object, or NULL with err. */
json_t *policy_request_input(const struct ipc_msg *m, struct kerr *err);

#endif
