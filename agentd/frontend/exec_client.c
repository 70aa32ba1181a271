/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exec_client.c - the front-end's side of its channel to the executor: send
 * a request with a fresh id, keep it (and the ttRPC call waiting for it)
 * until the reply with that id arrives, fail everything still pending with
 * UNAVAILABLE when the channel dies.
 *
 * A reply whose id matches nothing, or whose type is neither the expected
 * one nor ERROR, is a protocol violation: the channel is closed. A request
 * whose ttRPC call was cancelled (deadline, connection closed) stays in the
 * table without a call, so its late reply is still recognised and dropped.
 */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "frontend.h"
#include "grpc_status.h"
#include "log.h"

struct exec_pending {
	struct exec_pending *next;
	uint32_t id;
	uint32_t reply_type;
	struct ttrpc_call *call;
	exec_reply_fn fn;
	struct frontend *fe;
	bool internal; /* no ttRPC call behind it (e.g. the startup ping) */
};

static void pending_unlink(struct frontend *fe, struct exec_pending *p)
{
	for (struct exec_pending **pp = &fe->pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			fe->n_pending--;
			return;
		}
	}
}

static void on_call_cancel(struct ttrpc_call *call, void *data)
{
	struct exec_pending *p = data;
	log_debug("executor request %u: ttRPC call cancelled, its reply will be dropped", p->id);
	p->call = NULL;
	ttrpc_call_release(call);
}

static int on_reply(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct frontend *fe = data;
	struct exec_pending *p = fe->pending;
	while (p && p->id != m->hdr.id)
		p = p->next;
	if (!p)
		return kerr_set(err, -EPROTO, "%s with id %u matches no request",
				ipc_type_name(m->hdr.type), m->hdr.id);
	if (m->hdr.type != p->reply_type && m->hdr.type != IPC_ERROR)
		return kerr_set(err, -EPROTO, "%s with id %u answers a request expecting %s",
				ipc_type_name(m->hdr.type), m->hdr.id, ipc_type_name(p->reply_type));
	pending_unlink(fe, p);

	struct ttrpc_call *call = p->call;
	if (call)
		ttrpc_call_set_cancel(call, NULL, NULL);
	if (call || p->internal) {
		if (m->hdr.type == IPC_ERROR) {
			struct ipc_error e;
			memcpy(&e, m->payload, sizeof(e));
			struct kerr failure = { 0 };
			kerr_set_status(&failure, e.grpc_status, e.errno_code ? e.errno_code : -EIO,
					"%s", (const char *)m->payload + sizeof(e));
			p->fn(fe, call, NULL, &failure);
		} else {
			p->fn(fe, call, m, NULL);
		}
	}
	free(p);
	return 0;
}

/* Not a reply: the executor hands over a container's monitor channel
 * (before its OK to CREATE, and at our start for every live container). */
static int on_monitor_attach(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct frontend *fe = data;
	struct ipc_container_ref r;
	memcpy(&r, m->payload, sizeof(r));
	struct kerr e = { 0 };
	if (monitors_attach(fe, r.container_id, ipc_msg_take_fd(m), &e) < 0)
		log_error("MONITOR_ATTACH: %s", e.msg);
	return 0;
}

static const struct ipc_dispatch executor_table[] = {
	{ IPC_PONG, on_reply },
	{ IPC_GET_GUEST_DETAILS_REPLY, on_reply },
	{ IPC_GET_METRICS_REPLY, on_reply },
	{ IPC_OK, on_reply },
	{ IPC_STATS_CONTAINER_REPLY, on_reply },
	{ IPC_GET_OOM_EVENT_REPLY, on_reply },
	{ IPC_GET_VOLUME_STATS_REPLY, on_reply },
	{ IPC_UPDATE_INTERFACE_REPLY, on_reply },
	{ IPC_ROUTES_REPLY, on_reply },
	{ IPC_LIST_INTERFACES_REPLY, on_reply },
	{ IPC_ERROR, on_reply },
	{ IPC_MONITOR_ATTACH, on_monitor_attach },
	{ 0, NULL },
};

static void fail_all_pending(struct frontend *fe)
{
	struct kerr failure = { 0 };
	kerr_set_status(&failure, GRPC_UNAVAILABLE, -EPIPE, "executor channel closed: %s",
			fe->exec_gone_reason);
	while (fe->pending) {
		struct exec_pending *p = fe->pending;
		fe->pending = p->next;
		fe->n_pending--;
		if (p->call)
			ttrpc_call_set_cancel(p->call, NULL, NULL);
		if (p->call || p->internal)
			p->fn(fe, p->call, NULL, &failure);
		free(p);
	}
}

static void on_exec_close(struct ipc_chan *c, const char *reason, void *data)
{
	struct frontend *fe = data;
	snprintf(fe->exec_gone_reason, sizeof(fe->exec_gone_reason), "%s",
		 reason ? reason : "executor closed it");
	/* On shutdown the executor may well go first: expected, not an error. */
	if (fe->stopping)
		log_info("executor channel closed while stopping (%s); %zu pending request(s) "
			 "fail with UNAVAILABLE", fe->exec_gone_reason, fe->n_pending);
	else
		log_error("executor channel closed (%s); %zu pending request(s) fail with "
			  "UNAVAILABLE", fe->exec_gone_reason, fe->n_pending);
	fe->exec = NULL;
	fail_all_pending(fe);
}

int exec_request(struct frontend *fe, struct ttrpc_call *call, uint32_t type, const void *payload,
		 size_t len, uint32_t reply_type, exec_reply_fn fn, struct kerr *err)
{
	if (!fe->exec)
		return kerr_set_status(err, GRPC_UNAVAILABLE, -EPIPE, "executor channel closed: %s",
				       fe->exec_gone_reason);
	if (fe->n_pending >= EXEC_MAX_PENDING)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -EBUSY,
				       "%u requests already wait for the executor",
				       EXEC_MAX_PENDING);
	struct exec_pending *p = calloc(1, sizeof(*p));
	if (!p)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	p->id = ipc_chan_next_id(fe->exec);
	p->reply_type = reply_type;
	p->call = call;
	p->fn = fn;
	p->fe = fe;
	p->internal = call == NULL;
	int r = ipc_chan_send(fe->exec, type, p->id, payload, len, -1, err);
	if (r < 0) {
		free(p);
		if (kerr_status(err) != GRPC_INVALID_ARGUMENT)
			err->status = GRPC_UNAVAILABLE;
		return r;
	}
	/* The send may have found the channel broken and closed it (on_close
	 * already ran): answer like any other failed-while-pending request. */
	if (!fe->exec) {
		free(p);
		return kerr_set_status(err, GRPC_UNAVAILABLE, -EPIPE, "executor channel closed: %s",
				       fe->exec_gone_reason);
	}
	p->next = fe->pending;
	fe->pending = p;
	fe->n_pending++;
	if (call)
		ttrpc_call_set_cancel(call, on_call_cancel, p);
	return 0;
}

static void on_startup_pong(struct frontend *fe, struct ttrpc_call *call,
			    const struct ipc_msg *reply, const struct kerr *failure)
{
	if (!reply) {
		log_error("executor did not answer the startup ping: %s", failure->msg);
		return;
	}
	struct ipc_ping p;
	memcpy(&p, reply->payload, sizeof(p));
	log_info("executor answered ping (cookie %" PRIu64 ")", p.cookie);
}

int exec_client_start(struct frontend *fe, int sock, struct kerr *err)
{
	char name[32];
	snprintf(name, sizeof(name), "executor");
	int r = ipc_chan_new(&fe->exec, fe->loop, sock, name, IPC_ROLE_EXECUTOR, executor_table,
			     on_exec_close, fe, err);
	if (r < 0)
		return r;
	/* A round trip at start makes a broken channel visible in the logs
	 * before the first real request depends on it. */
	struct ipc_ping ping = { .cookie = fe->generation };
	return exec_request(fe, NULL, IPC_PING, &ping, sizeof(ping), IPC_PONG, on_startup_pong,
			    err);
}

void exec_client_stop(struct frontend *fe)
{
	monitors_stop(fe);
	if (fe->exec)
		ipc_chan_close(fe->exec, "front-end shutting down");
}

void exec_reply_decoded(struct ttrpc_call *call, const struct ipc_msg *reply,
			const struct kerr *failure, const ProtobufCMessageDescriptor *d)
{
	if (!reply) {
		ttrpc_call_fail_err(call, failure);
		return;
	}
	ProtobufCMessage *msg = protobuf_c_message_unpack(d, NULL, reply->len, reply->payload);
	if (!msg) {
		log_error("the executor's %s of %zu bytes does not decode", d->short_name,
			  reply->len);
		ttrpc_call_fail(call, GRPC_INTERNAL, "the executor's %s (%zu bytes) does not decode",
				d->short_name, reply->len);
		return;
	}
	ttrpc_call_reply(call, msg);
	protobuf_c_message_free_unpacked(msg, NULL);
}
