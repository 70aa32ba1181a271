/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oom.c - GetOOMEvent in the front-end: the waiting calls and the one long
 * poll (GET_OOM_EVENT_REQ) they share to the executor, which owns the event
 * queue (agentd/executor/handlers/oom.c; the protocol is doc/ipc.md "OOM events").
 *
 * At most one poll is outstanding. Its reply goes to the oldest waiting
 * call; if none waits any more (its deadline passed, its connection
 * closed), the event is kept here as the "spare" and the next call gets it
 * at once. The executor drops an event only when our next GET_OOM_EVENT_REQ
 * acknowledges it, and we send that only once the event reached a ttRPC
 * reply: a cancelled call consumes nothing, and a spare still held when the
 * front-end dies is delivered again to its successor.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.pb-c.h"
#include "frontend.h"
#include "grpc_status.h"
#include "log.h"

struct oom_waiter {
	struct oom_waiter *next;
	struct ttrpc_call *call;
	struct frontend *fe;
};

static void on_poll_reply(struct frontend *fe, struct ttrpc_call *call, const struct ipc_msg *reply,
			  const struct kerr *failure);

/* Ask the executor for the next event; also acknowledges the previous one. */
static int send_poll(struct frontend *fe, struct kerr *err)
{
	int r = executor_request(fe, NULL, IPC_GET_OOM_EVENT_REQ, NULL, 0, on_poll_reply, err);
	if (r == 0)
		fe->oom_polling = true;
	return r;
}

static void answer(struct ttrpc_call *call, const char *cid)
{
	Grpc__OOMEvent resp = GRPC__OOMEVENT__INIT;
	resp.container_id = (char *)cid;
	log_info("GetOOMEvent: container %s", cid);
	ttrpc_call_reply(call, &resp.base);
}

static void waiter_unlink(struct frontend *fe, struct oom_waiter *w)
{
	for (struct oom_waiter **pp = &fe->oom_waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			fe->n_oom_waiters--;
			return;
		}
}

static struct oom_waiter *waiter_pop(struct frontend *fe)
{
	struct oom_waiter *w = fe->oom_waiters;
	if (w) {
		fe->oom_waiters = w->next;
		fe->n_oom_waiters--;
		ttrpc_call_set_cancel(w->call, NULL, NULL);
	}
	return w;
}

static void on_waiter_cancel(struct ttrpc_call *call, void *data)
{
	struct oom_waiter *w = data;
	/* The poll stays: its event will wait here for the next call. */
	log_debug("GetOOMEvent cancelled (deadline or connection closed)");
	waiter_unlink(w->fe, w);
	free(w);
	ttrpc_call_release(call);
}

static void fail_waiters(struct frontend *fe, const struct kerr *why)
{
	struct oom_waiter *w;
	while ((w = waiter_pop(fe))) {
		ttrpc_call_fail_err(w->call, why);
		free(w);
	}
}

static void on_poll_reply(struct frontend *fe, struct ttrpc_call *call, const struct ipc_msg *reply,
			  const struct kerr *failure)
{
	fe->oom_polling = false;
	if (!reply) {
		if (fe->n_oom_waiters)
			log_warn("OOM event poll failed: %s", failure->msg);
		fail_waiters(fe, failure);
		return;
	}
	const struct ipc_container_ref *r = reply->in;
	struct oom_waiter *w = waiter_pop(fe);
	if (!w) {
		log_debug("OOM event for %s kept: no GetOOMEvent waits any more", r->container_id);
		memcpy(fe->oom_spare, r->container_id, sizeof(fe->oom_spare));
		fe->oom_have_spare = true;
		return;
	}
	answer(w->call, r->container_id);
	free(w);
	struct kerr err = { 0 };
	if (send_poll(fe, &err) < 0)
		log_warn("OOM event for %s not acknowledged (it may be delivered twice): %s",
			 r->container_id, err.msg);
}

RPC_HANDLER(rpc_get_oom_event)
{
	if (fe->stopping) {
		ttrpc_call_fail(call, GRPC_UNAVAILABLE, "the agent is shutting down");
		return;
	}
	struct kerr err = { 0 };
	if (fe->oom_have_spare) {
		fe->oom_have_spare = false;
		answer(call, fe->oom_spare);
		if (send_poll(fe, &err) < 0)
			log_warn("OOM event for %s not acknowledged (it may be delivered twice): %s",
				 fe->oom_spare, err.msg);
		return;
	}
	if (fe->n_oom_waiters >= OOM_MAX_WAITERS) {
		ttrpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "%u GetOOMEvent calls already wait",
				OOM_MAX_WAITERS);
		return;
	}
	struct oom_waiter *w = calloc(1, sizeof(*w));
	if (!w) {
		ttrpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	if (!fe->oom_polling && send_poll(fe, &err) < 0) {
		free(w);
		ttrpc_call_fail_err(call, &err);
		return;
	}
	w->call = call;
	w->fe = fe;
	struct oom_waiter **pp = &fe->oom_waiters;
	while (*pp)
		pp = &(*pp)->next;
	*pp = w;
	fe->n_oom_waiters++;
	ttrpc_call_set_cancel(call, on_waiter_cancel, w);
}

void oom_client_stop(struct frontend *fe, const char *why)
{
	struct kerr e = { 0 };
	kerr_set_status(&e, GRPC_UNAVAILABLE, -ESHUTDOWN, "%s", why);
	if (fe->n_oom_waiters)
		log_info("%zu GetOOMEvent call(s) fail: %s", fe->n_oom_waiters, why);
	fail_waiters(fe, &e);
}
