/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ttrpc_client.c - the blocking ttRPC client half of ttrpc.h.
 *
 * Responses for streams nobody is waiting on yet are kept in arrival order,
 * so ttrpc_client_call() (which waits for its own stream) can be mixed with
 * ttrpc_client_send()/ttrpc_client_recv() on one connection. After a
 * transport or framing failure the client is unusable and says so.
 *
 * A bounded call (ttrpc_client_call_bounded) polls before every read and
 * write. When its deadline passes between frames, its stream id is
 * remembered as abandoned and the answer, if it ever comes, is dropped as
 * it is read; when it passes inside a frame the byte stream is out of step
 * and the client breaks.
 */
#include "ttrpc.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "grpc_status.h"
#include "transport.h"
#include "ttrpc.pb-c.h"

struct pending {
	struct pending *next;
	uint32_t stream_id;
	int status;
	char *message;
	uint8_t *payload;
	size_t len;
};

struct ttrpc_client {
	int fd;
	uint32_t next_id;
	bool broken;
	char broken_msg[KERR_MSG_MAX];
	struct pending *head, *tail;
	uint32_t *abandoned; /* streams whose bounded call gave up */
	size_t n_abandoned, cap_abandoned;
};

/* Mark the client dead and record why, for this and every later call. */
static int client_break(struct ttrpc_client *c, int status, int code, const char *msg,
			struct kerr *err)
{
	if (!c->broken) {
		c->broken = true;
		snprintf(c->broken_msg, sizeof(c->broken_msg), "%s", msg);
	}
	return kerr_set_status(err, status, code, "ttrpc client: %s", msg);
}

static int client_check(struct ttrpc_client *c, struct kerr *err)
{
	if (c->broken)
		return kerr_set_status(err, GRPC_UNAVAILABLE, -ENOTCONN,
				       "ttrpc client: connection unusable after: %s",
				       c->broken_msg);
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wait for events on the socket until deadline (CLOCK_MONOTONIC ns; 0: no
 * deadline, return at once). Returns 0 when ready, -ETIMEDOUT when the
 * deadline passed first (err not set: the caller knows what timed out). */
static int wait_ready(struct ttrpc_client *c, short events, uint64_t deadline, struct kerr *err)
{
	if (!deadline)
		return 0;
	for (;;) {
		uint64_t now = now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		uint64_t left = deadline - now;
		struct timespec ts = { .tv_sec = (time_t)(left / 1000000000u),
				       .tv_nsec = (long)(left % 1000000000u) };
		struct pollfd pfd = { .fd = c->fd, .events = events };
		int r = ppoll(&pfd, 1, &ts, NULL);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR) {
			char msg[128];
			int e = errno;
			snprintf(msg, sizeof(msg), "poll: %s", strerror(e));
			return client_break(c, GRPC_UNAVAILABLE, -e, msg, err);
		}
	}
}

/* A deadline struck: harmless between frames (the caller's stream is
 * abandoned), fatal inside one (what follows on the socket is mid-frame). */
static int timed_out(struct ttrpc_client *c, bool mid_frame, struct kerr *err)
{
	if (mid_frame)
		return client_break(c, GRPC_DEADLINE_EXCEEDED, -ETIMEDOUT,
				    "deadline exceeded in the middle of a frame", err);
	return kerr_set_status(err, GRPC_DEADLINE_EXCEEDED, -ETIMEDOUT,
			       "ttrpc client: deadline exceeded");
}

static int write_full(struct ttrpc_client *c, const uint8_t *p, size_t n, uint64_t deadline,
		      struct kerr *err)
{
	bool started = false;
	while (n) {
		int r = wait_ready(c, POLLOUT, deadline, err);
		if (r == -ETIMEDOUT)
			return timed_out(c, started, err);
		if (r < 0)
			return r;
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL | (deadline ? MSG_DONTWAIT : 0));
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0) {
			char msg[128];
			int e = errno;
			snprintf(msg, sizeof(msg), "send: %s", strerror(e));
			return client_break(c, GRPC_UNAVAILABLE, -e, msg, err);
		}
		started = true;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* mid_frame: the bytes asked for continue a frame already begun. */
static int read_full(struct ttrpc_client *c, uint8_t *p, size_t n, uint64_t deadline,
		     bool mid_frame, struct kerr *err)
{
	while (n) {
		int r = wait_ready(c, POLLIN, deadline, err);
		if (r == -ETIMEDOUT)
			return timed_out(c, mid_frame, err);
		if (r < 0)
			return r;
		ssize_t got = recv(c->fd, p, n, deadline ? MSG_DONTWAIT : 0);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0) {
			char msg[128];
			int e = errno;
			snprintf(msg, sizeof(msg), "read: %s", strerror(e));
			return client_break(c, GRPC_UNAVAILABLE, -e, msg, err);
		}
		if (got == 0)
			return client_break(c, GRPC_UNAVAILABLE, -ECONNRESET,
					    "connection closed by the server", err);
		mid_frame = true;
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

int ttrpc_client_from_fd(struct ttrpc_client **out, int fd, struct kerr *err)
{
	struct ttrpc_client *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return kerr_set(err, -ENOMEM, "ttrpc client: out of memory");
	}
	c->fd = fd;
	c->next_id = 1;
	*out = c;
	return 0;
}

int ttrpc_client_connect(struct ttrpc_client **out, const char *addr, uint64_t timeout_ns,
			 struct kerr *err)
{
	struct addr a;
	int r = addr_parse(addr, &a, err);
	if (r < 0)
		return r;
	int fd = addr_connect(&a, timeout_ns, err);
	if (fd < 0) {
		if (err)
			err->status = GRPC_UNAVAILABLE;
		return fd;
	}
	return ttrpc_client_from_fd(out, fd, err);
}

static void pending_free(struct pending *p)
{
	free(p->message);
	free(p->payload);
	free(p);
}

void ttrpc_client_free(struct ttrpc_client *c)
{
	if (!c)
		return;
	while (c->head) {
		struct pending *p = c->head;
		c->head = p->next;
		pending_free(p);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c->abandoned);
	free(c);
}

int ttrpc_client_fd(const struct ttrpc_client *c)
{
	return c->fd;
}

bool ttrpc_client_broken(const struct ttrpc_client *c)
{
	return c->broken;
}

static int send_request(struct ttrpc_client *c, const char *service, const char *method,
			const uint8_t *payload, size_t len, int64_t timeout_ns,
			const struct ttrpc_md *md, size_t nmd, uint64_t deadline,
			uint32_t *stream_id, struct kerr *err)
{
	int r = client_check(c, err);
	if (r < 0)
		return r;
	if (c->next_id > UINT32_MAX - 2)
		return client_break(c, GRPC_RESOURCE_EXHAUSTED, -EOVERFLOW, "stream ids exhausted",
				    err);
	cleanup_free Ttrpc__KeyValue *kvs = NULL;
	cleanup_free Ttrpc__KeyValue **kvp = NULL;
	if (nmd) {
		kvs = calloc(nmd, sizeof(*kvs));
		kvp = calloc(nmd, sizeof(*kvp));
		if (!kvs || !kvp)
			return kerr_set(err, -ENOMEM, "ttrpc client: out of memory");
		for (size_t i = 0; i < nmd; i++) {
			ttrpc__key_value__init(&kvs[i]);
			kvs[i].key = (char *)md[i].key;
			kvs[i].value = (char *)md[i].value;
			kvp[i] = &kvs[i];
		}
	}
	Ttrpc__Request req = TTRPC__REQUEST__INIT;
	req.service = (char *)service;
	req.method = (char *)method;
	req.payload.data = (uint8_t *)payload;
	req.payload.len = payload ? len : 0;
	req.timeout_nano = timeout_ns;
	req.n_metadata = nmd;
	req.metadata = kvp;
	size_t n = ttrpc__request__get_packed_size(&req);
	if (n > TTRPC_MAX_PAYLOAD)
		return kerr_set_status(
			err, GRPC_RESOURCE_EXHAUSTED, -EMSGSIZE,
			"ttrpc client: request to %s/%s of %zu bytes exceeds the %u byte limit",
			service, method, n, TTRPC_MAX_PAYLOAD);
	cleanup_free uint8_t *buf = malloc(TTRPC_HEADER_LEN + n);
	if (!buf)
		return kerr_set(err, -ENOMEM, "ttrpc client: out of memory");
	uint32_t id = c->next_id;
	struct ttrpc_frame_header h = {
		.length = (uint32_t)n,
		.stream_id = id,
		.type = TTRPC_TYPE_REQUEST,
	};
	ttrpc_header_encode(buf, &h);
	ttrpc__request__pack(&req, buf + TTRPC_HEADER_LEN);
	r = write_full(c, buf, TTRPC_HEADER_LEN + n, deadline, err);
	if (r < 0)
		return r;
	c->next_id += 2;
	if (stream_id)
		*stream_id = id;
	return 0;
}

int ttrpc_client_send(struct ttrpc_client *c, const char *service, const char *method,
		      const uint8_t *payload, size_t len, int64_t timeout_ns,
		      const struct ttrpc_md *md, size_t nmd, uint32_t *stream_id, struct kerr *err)
{
	return send_request(c, service, method, payload, len, timeout_ns, md, nmd, 0, stream_id,
			    err);
}

/* Read one response frame off the socket into a pending record. */
static int read_frame(struct ttrpc_client *c, uint64_t deadline, struct pending **out,
		      struct kerr *err)
{
	uint8_t hb[TTRPC_HEADER_LEN];
	int r = read_full(c, hb, sizeof(hb), deadline, false, err);
	if (r < 0)
		return r;
	struct ttrpc_frame_header h;
	ttrpc_header_decode(hb, &h);
	struct kerr ferr;
	if (ttrpc_header_check_response(&h, &ferr) < 0)
		return client_break(c, GRPC_INTERNAL, ferr.code, ferr.msg, err);
	cleanup_free uint8_t *body = malloc(h.length ? h.length : 1);
	if (!body)
		return kerr_set(err, -ENOMEM, "ttrpc client: out of memory");
	r = read_full(c, body, h.length, deadline, true, err);
	if (r < 0)
		return r;
	Ttrpc__Response *resp = ttrpc__response__unpack(NULL, h.length, body);
	if (!resp) {
		char msg[96];
		snprintf(msg, sizeof(msg), "stream %u: undecodable response (%u bytes)",
			 h.stream_id, h.length);
		return client_break(c, GRPC_INTERNAL, -EBADMSG, msg, err);
	}
	struct pending *p = calloc(1, sizeof(*p));
	if (!p)
		goto nomem;
	p->stream_id = h.stream_id;
	if (resp->status) {
		p->status = resp->status->code;
		if (resp->status->message && resp->status->message[0]) {
			p->message = strdup(resp->status->message);
			if (!p->message)
				goto nomem;
		}
	}
	if (resp->payload.len) {
		p->payload = malloc(resp->payload.len);
		if (!p->payload)
			goto nomem;
		memcpy(p->payload, resp->payload.data, resp->payload.len);
		p->len = resp->payload.len;
	}
	ttrpc__response__free_unpacked(resp, NULL);
	*out = p;
	return 0;
nomem:
	if (p)
		pending_free(p);
	ttrpc__response__free_unpacked(resp, NULL);
	return kerr_set(err, -ENOMEM, "ttrpc client: out of memory");
}

/* Forget stream id if a bounded call gave up on it; true if it had. */
static bool take_abandoned(struct ttrpc_client *c, uint32_t id)
{
	for (size_t i = 0; i < c->n_abandoned; i++) {
		if (c->abandoned[i] == id) {
			c->abandoned[i] = c->abandoned[--c->n_abandoned];
			return true;
		}
	}
	return false;
}

static int abandon(struct ttrpc_client *c, uint32_t id, struct kerr *err)
{
	if (c->n_abandoned == c->cap_abandoned) {
		size_t cap = c->cap_abandoned ? c->cap_abandoned * 2 : 8;
		uint32_t *a = realloc(c->abandoned, cap * sizeof(*a));
		if (!a)
			return client_break(c, GRPC_RESOURCE_EXHAUSTED, -ENOMEM,
					    "out of memory for an abandoned stream", err);
		c->abandoned = a;
		c->cap_abandoned = cap;
	}
	c->abandoned[c->n_abandoned++] = id;
	return 0;
}

/* The next response somebody may still want: late answers to abandoned
 * streams are dropped here. */
static int read_response(struct ttrpc_client *c, uint64_t deadline, struct pending **out,
			 struct kerr *err)
{
	for (;;) {
		struct pending *p;
		int r = read_frame(c, deadline, &p, err);
		if (r < 0)
			return r;
		if (!take_abandoned(c, p->stream_id)) {
			*out = p;
			return 0;
		}
		pending_free(p);
	}
}

static void hand_out(struct pending *p, uint32_t *stream_id, int *status, char **message,
		     uint8_t **payload, size_t *len)
{
	if (stream_id)
		*stream_id = p->stream_id;
	if (status)
		*status = p->status;
	if (message)
		*message = take_ptr(&p->message);
	if (payload)
		*payload = take_ptr(&p->payload);
	if (len)
		*len = p->len;
	pending_free(p);
}

int ttrpc_client_recv(struct ttrpc_client *c, uint32_t *stream_id, int *status, char **message,
		      uint8_t **payload, size_t *len, struct kerr *err)
{
	struct pending *p = c->head;
	if (p) {
		c->head = p->next;
		if (!c->head)
			c->tail = NULL;
	} else {
		int r = client_check(c, err);
		if (r < 0)
			return r;
		r = read_response(c, 0, &p, err);
		if (r < 0)
			return r;
	}
	hand_out(p, stream_id, status, message, payload, len);
	return 0;
}

/* Wait for the response to one stream, keeping others for later recv(). */
static int wait_for(struct ttrpc_client *c, uint32_t id, uint64_t deadline, struct pending **out,
		    struct kerr *err)
{
	for (struct pending **pp = &c->head; *pp; pp = &(*pp)->next) {
		if ((*pp)->stream_id == id) {
			struct pending *p = *pp;
			*pp = p->next;
			if (c->tail == p) {
				c->tail = NULL;
				for (struct pending *q = c->head; q; q = q->next)
					c->tail = q;
			}
			*out = p;
			return 0;
		}
	}
	for (;;) {
		int r = client_check(c, err);
		if (r < 0)
			return r;
		struct pending *p;
		r = read_response(c, deadline, &p, err);
		if (r < 0)
			return r;
		if (p->stream_id == id) {
			*out = p;
			return 0;
		}
		if (c->tail)
			c->tail->next = p;
		else
			c->head = p;
		c->tail = p;
	}
}

static int errno_from_status(int status)
{
	switch (status) {
	case GRPC_CANCELLED:
		return -ECANCELED;
	case GRPC_INVALID_ARGUMENT:
		return -EINVAL;
	case GRPC_DEADLINE_EXCEEDED:
		return -ETIMEDOUT;
	case GRPC_NOT_FOUND:
		return -ENOENT;
	case GRPC_ALREADY_EXISTS:
		return -EEXIST;
	case GRPC_PERMISSION_DENIED:
		return -EPERM;
	case GRPC_RESOURCE_EXHAUSTED:
		return -ENOSPC;
	case GRPC_FAILED_PRECONDITION:
		return -EBUSY;
	case GRPC_OUT_OF_RANGE:
		return -ERANGE;
	case GRPC_UNIMPLEMENTED:
		return -ENOSYS;
	case GRPC_UNAVAILABLE:
		return -ENOTCONN;
	case GRPC_UNAUTHENTICATED:
		return -EACCES;
	default:
		return -EREMOTEIO;
	}
}

/* One request and its answer; with bounded, the whole of it within
 * timeout_ns from now. */
static int call_raw(struct ttrpc_client *c, const char *service, const char *method,
		    const uint8_t *req, size_t req_len, int64_t timeout_ns, bool bounded,
		    uint8_t **resp, size_t *resp_len, struct kerr *err)
{
	uint64_t deadline = bounded && timeout_ns > 0 ? now_ns() + (uint64_t)timeout_ns : 0;
	uint32_t id;
	int r = send_request(c, service, method, req, req_len, timeout_ns, NULL, 0, deadline, &id,
			     err);
	if (r < 0)
		return r;
	struct pending *p;
	r = wait_for(c, id, deadline, &p, err);
	if (r == -ETIMEDOUT && !c->broken) {
		int a = abandon(c, id, err);
		if (a < 0)
			return a;
		return kerr_set_status(err, GRPC_DEADLINE_EXCEEDED, -ETIMEDOUT,
				       "%s/%s: no answer within %.3f s", service, method,
				       (double)timeout_ns / 1e9);
	}
	if (r < 0)
		return r;
	if (p->status != GRPC_OK) {
		r = kerr_set_status(err, p->status, errno_from_status(p->status), "%s",
				    p->message ? p->message : grpc_status_name(p->status));
		pending_free(p);
		return r;
	}
	hand_out(p, NULL, NULL, NULL, resp, resp_len);
	return 0;
}

int ttrpc_client_call_raw(struct ttrpc_client *c, const char *service, const char *method,
			  const uint8_t *req, size_t req_len, int64_t timeout_ns, uint8_t **resp,
			  size_t *resp_len, struct kerr *err)
{
	return call_raw(c, service, method, req, req_len, timeout_ns, false, resp, resp_len, err);
}

static int call_typed(struct ttrpc_client *c, const char *service, const char *method,
		      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
		      ProtobufCMessage **resp, int64_t timeout_ns, bool bounded, struct kerr *err)
{
	size_t n = req ? protobuf_c_message_get_packed_size(req) : 0;
	cleanup_free uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		return kerr_set(err, -ENOMEM, "ttrpc client: out of memory");
	if (req)
		protobuf_c_message_pack(req, buf);
	cleanup_free uint8_t *out = NULL;
	size_t outlen = 0;
	int r = call_raw(c, service, method, buf, n, timeout_ns, bounded, &out, &outlen, err);
	if (r < 0)
		return r;
	static const uint8_t empty[1];
	ProtobufCMessage *m = protobuf_c_message_unpack(resp_desc, NULL, outlen, out ? out : empty);
	if (!m)
		return kerr_set_status(err, GRPC_INTERNAL, -EBADMSG,
				       "%s/%s: undecodable %s response (%zu bytes)", service,
				       method, resp_desc->name, outlen);
	*resp = m;
	return 0;
}

int ttrpc_client_call(struct ttrpc_client *c, const char *service, const char *method,
		      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
		      ProtobufCMessage **resp, int64_t timeout_ns, struct kerr *err)
{
	return call_typed(c, service, method, req, resp_desc, resp, timeout_ns, false, err);
}

int ttrpc_client_call_bounded(struct ttrpc_client *c, const char *service, const char *method,
			      const ProtobufCMessage *req,
			      const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
			      int64_t timeout_ns, struct kerr *err)
{
	return call_typed(c, service, method, req, resp_desc, resp, timeout_ns, true, err);
}
