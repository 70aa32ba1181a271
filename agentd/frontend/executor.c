/* SPDX-License-Identifier: Apache-2.0 */
/*
 * executor.c - the front-end's side of its channel to the executor: send
 * a request with a fresh id, keep it (and the ttRPC call waiting for it)
 * until the reply with that id arrives, fail everything still pending with
 * UNAVAILABLE when the channel dies.
 *
 * Replies are matched by the common registry (ipc_pending.h): one whose id
 * matches nothing, or whose type is neither the request's declared reply
 * nor ERROR, is a protocol violation: the channel is closed. They are read
 * in one place (on_reply): ERROR becomes the failure, a protobuf reply is
 * decoded with the declaration's descriptor (INTERNAL when it does not
 * decode), then the request's callback runs, or, for a forwarded request
 * (executor_forward), the call is answered with what came. A request whose
 * ttRPC call was cancelled (deadline, connection closed) stays pending
 * without a call, so its late reply is still recognised and dropped.
 */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "frontend.h"
#include "grpc_status.h"
#include "ipc_pending.h"
#include "log.h"

struct executor_pending {
	struct ipc_pending req;
	struct ttrpc_call *call;
	executor_reply_fn fn; /* NULL: the reply answers the call as it is */
	executor_ctx_fn cfn;  /* or this, with ctx, even for a cancelled call */
	void *ctx;
	bool internal; /* no ttRPC call behind it (e.g. the startup ping) */
};

static void on_call_cancel(struct ttrpc_call *call, void *data)
{
	struct executor_pending *p = data;
	log_debug("executor request %u: ttRPC call cancelled, its reply will be dropped",
		  p->req.id);
	p->call = NULL;
	ttrpc_call_release(call);
}

/* What a reply means: the failure it carries (ERROR, or a protobuf reply
 * that does not decode), else NULL with the reply decoded in m->in. */
static const struct kerr *reply_failure(struct ipc_msg *m, struct kerr *failure)
{
	if (ipc_error_decode(m, failure))
		return failure;
	struct kerr why = { 0 };
	if (ipc_msg_decode(m, &why) < 0) {
		const struct ipc_type_desc *d = ipc_type_info(m->hdr.type);
		log_error("the executor's %s of %zu bytes does not decode",
			  ipc_type_pb(d)->short_name, m->len);
		kerr_set_status(failure, GRPC_INTERNAL, -EPROTO,
				"the executor's %s (%zu bytes) does not decode",
				ipc_type_pb(d)->short_name, m->len);
		return failure;
	}
	return NULL;
}

/* A request ends: its callback, or for a forward the call answered with
 * the reply as it is. reply is NULL when failure is set. */
static void finish(struct frontend *fe, struct executor_pending *p, const struct ipc_msg *reply,
		   const struct kerr *failure)
{
	if (p->call)
		ttrpc_call_set_cancel(p->call, NULL, NULL);
	if (p->cfn) {
		p->cfn(fe, p->call, p->call ? reply : NULL, p->call ? failure : NULL, p->ctx);
		return;
	}
	if (!p->call && !p->internal)
		return;
	if (p->fn)
		p->fn(fe, p->call, reply, failure);
	else if (failure)
		ttrpc_call_fail_err(p->call, failure);
	else
		ttrpc_call_reply(p->call, reply->in_decoded ? reply->in : NULL);
}

/* The one place a reply from the executor is matched and read. */
static int on_reply(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct frontend *fe = data;
	struct ipc_pending *q = ipc_pending_match(&fe->pending, m, err);
	if (!q)
		return err->code;
	struct executor_pending *p = ipc_pending_entry(q, struct executor_pending, req);
	struct kerr failure = { 0 };
	const struct kerr *fp = p->call || p->internal ? reply_failure(m, &failure) : NULL;
	finish(fe, p, fp ? NULL : m, fp);
	free(p);
	return 0;
}

/* Not a reply: the executor hands over a container's monitor channel
 * (before its OK to CREATE, and at our start for every live container). */
static int on_monitor_attach(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct frontend *fe = data;
	const struct ipc_container_ref *r = m->in;
	struct kerr e = { 0 };
	if (monitors_attach(fe, r->container_id, ipc_msg_take_fd(m), &e) < 0)
		log_error("MONITOR_ATTACH: %s", e.msg);
	return 0;
}

static const struct ipc_dispatch executor_table[] = {
	{ IPC_REPLIES, on_reply },
	{ IPC_MONITOR_ATTACH, on_monitor_attach },
	{ 0, NULL },
};

static void fail_all_pending(struct frontend *fe)
{
	struct kerr failure = { 0 };
	kerr_set_status(&failure, GRPC_UNAVAILABLE, -EPIPE, "executor channel closed: %s",
			fe->executor_gone_reason);
	struct ipc_pending *q;
	while ((q = ipc_pending_pop(&fe->pending))) {
		struct executor_pending *p = ipc_pending_entry(q, struct executor_pending, req);
		finish(fe, p, NULL, &failure);
		free(p);
	}
}

static void on_exec_close(struct ipc_chan *c, const char *reason, void *data)
{
	struct frontend *fe = data;
	snprintf(fe->executor_gone_reason, sizeof(fe->executor_gone_reason), "%s",
		 reason ? reason : "executor closed it");
	/* On shutdown the executor may well go first: expected, not an error. */
	if (fe->stopping)
		log_info("executor channel closed while stopping (%s); %zu pending request(s) "
			 "fail with UNAVAILABLE",
			 fe->executor_gone_reason, fe->pending.n);
	else
		log_error("executor channel closed (%s); %zu pending request(s) fail with "
			  "UNAVAILABLE",
			  fe->executor_gone_reason, fe->pending.n);
	fe->exec = NULL;
	fail_all_pending(fe);
}

static int executor_send(struct frontend *fe, struct ttrpc_call *call, uint32_t type,
			 const void *payload, size_t len, executor_reply_fn fn, executor_ctx_fn cfn,
			 void *ctx, struct kerr *err)
{
	const struct ipc_type_desc *d = ipc_type_info(type);
	/* A forward answers with the reply as it is: OK or a message. */
	const struct ipc_type_desc *rep = d ? ipc_type_info(d->reply) : NULL;
	if (!rep || (!fn && !cfn && rep->type != IPC_OK && !ipc_type_pb(rep)))
		return kerr_set_status(err, GRPC_INTERNAL, -EINVAL, "%s cannot be forwarded",
				       ipc_type_name(type));
	if (!fe->exec)
		return kerr_set_status(err, GRPC_UNAVAILABLE, -EPIPE, "executor channel closed: %s",
				       fe->executor_gone_reason);
	if (fe->pending.n >= EXEC_MAX_PENDING)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -EBUSY,
				       "%u requests already wait for the executor",
				       EXEC_MAX_PENDING);
	struct executor_pending *p = calloc(1, sizeof(*p));
	if (!p)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	uint32_t id = ipc_chan_next_id(fe->exec);
	p->call = call;
	p->fn = fn;
	p->cfn = cfn;
	p->ctx = ctx;
	p->internal = call == NULL;
	int r = ipc_chan_send(fe->exec, type, id, payload, len, -1, err);
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
				       fe->executor_gone_reason);
	}
	ipc_pending_add(&fe->pending, &p->req, type, id);
	if (call)
		ttrpc_call_set_cancel(call, on_call_cancel, p);
	return 0;
}

int executor_request(struct frontend *fe, struct ttrpc_call *call, uint32_t type,
		     const void *payload, size_t len, executor_reply_fn fn, struct kerr *err)
{
	return executor_send(fe, call, type, payload, len, fn, NULL, NULL, err);
}

static void on_startup_pong(struct frontend *fe, struct ttrpc_call *call,
			    const struct ipc_msg *reply, const struct kerr *failure)
{
	if (!reply) {
		log_error("executor did not answer the startup ping: %s", failure->msg);
		return;
	}
	const struct ipc_ping *p = reply->in;
	log_info("executor answered ping (cookie %" PRIu64 ")", p->cookie);
}

int executor_start(struct frontend *fe, int sock, struct kerr *err)
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
	return executor_request(fe, NULL, IPC_PING, &ping, sizeof(ping), on_startup_pong, err);
}

void executor_stop(struct frontend *fe)
{
	monitors_stop(fe);
	if (fe->exec)
		ipc_chan_close(fe->exec, "front-end shutting down");
}

void executor_forward(struct frontend *fe, struct ttrpc_call *call, uint32_t type,
		      const void *payload, size_t len)
{
	struct kerr err = { 0 };
	if (executor_request(fe, call, type, payload, len, NULL, &err) < 0)
		ttrpc_call_fail_err(call, &err);
}

/* Re-encode the decoded request: the executor gets exactly the fields we
 * understood and checked, never the host's raw bytes. */
static int send_message(struct frontend *fe, struct ttrpc_call *call, uint32_t type,
			const ProtobufCMessage *req, executor_ctx_fn cfn, void *ctx,
			struct kerr *err)
{
	size_t len = protobuf_c_message_get_packed_size(req);
	if (len > IPC_MAX_PAYLOAD)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -E2BIG,
				       "%s of %zu bytes is too large", req->descriptor->short_name,
				       len);
	cleanup_free uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	protobuf_c_message_pack(req, buf);
	return executor_send(fe, call, type, buf, len, NULL, cfn, ctx, err);
}

void executor_forward_message(struct frontend *fe, struct ttrpc_call *call, uint32_t type,
			      const ProtobufCMessage *req)
{
	struct kerr err = { 0 };
	if (send_message(fe, call, type, req, NULL, NULL, &err) < 0)
		ttrpc_call_fail_err(call, &err);
}

int executor_request_message(struct frontend *fe, struct ttrpc_call *call, uint32_t type,
			     const ProtobufCMessage *req, executor_ctx_fn fn, void *ctx,
			     struct kerr *err)
{
	return send_message(fe, call, type, req, fn, ctx, err);
}
