/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ttrpc_server.c - the ttRPC server half of ttrpc.h, driven by a loop.
 *
 * Ownership: the server owns its open connections; every call holds a
 * reference on its connection, so a handler may answer long after the peer
 * went away (the answer is then dropped). A call itself is referenced by its
 * handler (until reply/fail/release) and, briefly, by the server while the
 * cancel callback runs, so a cancel callback may release the call.
 *
 * Flow control: a connection stops reading requests while its queued output,
 * its number of in-flight calls or the memory its calls hold exceed a bound,
 * and resumes when they drain. Frames already buffered wait too; a
 * zero-delay timer picks them up on resume (epoll would not report them).
 *
 * Bounds (doc/security.md, "front-end bounds"): at most MAX_CONNS
 * connections (more are accepted and closed at once); calls in flight and
 * memory are counted per connection (common/quota.h: a reserve of its own,
 * a limit, and a pool shared by all connections). Memory counts everything a
 * peer makes us hold: the read buffer, each decoded envelope (decoded with a
 * counting protobuf-c allocator, so a frame that decodes into far more than
 * its size is stopped while decoding), each call, its decoded request
 * (ttrpc_call_unpack) and the queued responses. Metadata is dropped as soon
 * as the envelope is decoded (nothing here reads it) and the payload once
 * dispatch returned. Over a connection's own bound the connection pauses
 * (backpressure); when the shared pool is spent the request is refused with
 * RESOURCE_EXHAUSTED (or skipped unread if even its bytes do not fit), and a
 * response that finds no room becomes a RESOURCE_EXHAUSTED error; a
 * connection where not even that fits is closed.
 *
 * Output: a response packed here (ttrpc_call_reply, errors) is built in an
 * outbuf and queued; one given already packed, in pieces (reply_iov,
 * reply_raw), is written straight from the caller's bytes when nothing is
 * queued before it, and only what the socket did not take is copied into
 * an outbuf (call_send_direct). Either way the memory bound is checked for
 * the whole frame, and the write queue holds outbufs only.
 *
 * Reentrancy: handlers may reply from inside dispatch. A write failure there
 * never closes the connection under the caller's feet; it schedules the close
 * through a zero-delay timer.
 */
#include "ttrpc.h"

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "grpc_status.h"
#include "iovec.h"
#include "log.h"
#include "pbwire.h"
#include "quota.h"
#include "ttrpc.pb-c.h"
#include "utf8.h"

#define RBUF_CHUNK (16u << 10)
#define RBUF_KEEP (64u << 10)
#define READ_BUDGET (256u << 10)
#define WQ_HIGH (4u << 20)
#define WQ_LOW (1u << 20)
/* The Kata Go runtime keeps one connection per sandbox (LongLiveConn) and
 * parks three calls per process (ReadStdout, ReadStderr, WaitProcess) plus
 * one GetOOMEvent; runtime-rs the same. The bounds leave a wide margin. */
#define MAX_CONNS 64u
#define CONN_CALLS_RESERVE 16u
#define CONN_CALLS_MAX 1024u
#define CALLS_POOL 4096u
#define CONN_MEM_RESERVE (256u << 10)
#define CONN_MEM_PAUSE (16u << 20)
#define CONN_MEM_MAX (32u << 20)
#define MEM_POOL (64u << 20)
#define REFUSAL_LOG_NS (1000ull * 1000000ull)
#define SKIP_CHUNK (64u << 10)
/* Error answers (refusals) are queued even past the bounds while less than
 * this is queued on the connection: at most 64 x 64 KiB in all, and it
 * keeps a connection that is over its share (the runtime's, while others
 * flood) answered instead of closed. */
#define REFUSAL_QUEUE_MAX (64u << 10)
#define ACCEPT_BATCH 64
#define ACCEPT_BACKOFF_NS (100ull * 1000000ull)
#define ERRMSG_MAX 1024

struct outbuf {
	struct outbuf *next;
	size_t len, off;
	size_t charged; /* memory counted against the connection */
	/* ttrpc_call_reply_notify: told once, when the last byte went to the
	 * socket or when the buffer is dropped unsent. */
	ttrpc_sent_fn sent_fn;
	void *sent_data;
	uint8_t data[];
};

static void outbuf_free(struct outbuf *ob, bool sent)
{
	if (ob->sent_fn)
		ob->sent_fn(ob->sent_data, sent);
	free(ob);
}

/* What a heap block costs: its usable size and malloc's header. */
static size_t block_cost(void *p)
{
	return malloc_usable_size(p) + sizeof(size_t);
}

/* A protobuf-c allocator that counts what it hands out against a quota, and
 * fails (refused = true) when the quota has no room: a decode stops there. */
struct charge {
	struct quota *q;
	size_t bytes;
	bool refused;
};

static void *charge_alloc(void *data, size_t size)
{
	struct charge *ch = data;
	void *p = malloc(size ? size : 1);
	if (!p)
		return NULL;
	size_t cost = block_cost(p);
	if (quota_take(ch->q, cost) < 0) {
		free(p);
		ch->refused = true;
		return NULL;
	}
	ch->bytes += cost;
	return p;
}

static void charge_free(void *data, void *p)
{
	struct charge *ch = data;
	if (!p)
		return;
	size_t cost = block_cost(p);
	quota_give(ch->q, cost);
	ch->bytes -= cost < ch->bytes ? cost : ch->bytes;
	free(p);
}

static ProtobufCAllocator charge_allocator(struct charge *ch)
{
	return (ProtobufCAllocator){ .alloc = charge_alloc,
				     .free = charge_free,
				     .allocator_data = ch };
}

struct conn {
	struct ttrpc_server *srv; /* NULL once closed */
	struct loop *loop;
	unsigned long id;
	int fd;
	unsigned refs;
	bool closed;
	bool close_pending;
	bool wq_paused; /* hysteresis between WQ_HIGH and WQ_LOW */
	uint32_t events;
	uint8_t *rbuf;
	size_t rlen, rcap;
	struct outbuf *wq_head, *wq_tail;
	size_t wq_bytes;
	struct ttrpc_call *calls;
	size_t ncalls;
	struct quota mem, ncalls_q; /* detached (pool NULL) once closed */
	size_t skip;                /* bytes of a refused frame still to read and drop */
	bool refusal_logged;
	struct loop_timer *close_timer, *resume_timer;
	/* ttrpc_call_wait_room: calls waiting, and the zero-delay timer that
	 * tells them once a queued response left (fired from the loop, not
	 * from inside conn_flush, which their answers would re-enter). */
	size_t room_waiters;
	struct loop_timer *room_timer;
	struct conn *prev, *next;
};

struct ttrpc_call {
	struct conn *conn;
	Ttrpc__Request *req;
	struct charge env;     /* the envelope's memory (freed through it) */
	struct charge decoded; /* ttrpc_call_unpack's, held until the call ends */
	size_t self_cost;      /* this struct */
	uint32_t stream_id;
	uint64_t deadline;
	struct loop_timer *timer;
	unsigned refs;
	bool cancelled, answered, cancel_notified;
	bool trace;          /* the server's agent.trace when the call began */
	uint64_t start_mono; /* CLOCK_MONOTONIC ns, for the span's duration */
	struct timespec start_wall;
	ttrpc_cancel_fn cancel_fn;
	void *cancel_data;
	ttrpc_room_fn room_fn; /* ttrpc_call_wait_room, until it fires */
	void *room_data;
	struct ttrpc_call *room_next; /* room_timer_cb's list of those to tell */
	struct ttrpc_call *prev, *next;
};

struct ttrpc_server {
	struct loop *loop;
	int listen_fd;
	ttrpc_dispatch_fn dispatch;
	void *data;
	struct conn *conns;
	unsigned nconns;
	unsigned long next_id;
	struct loop_timer *accept_timer;
	bool trace;
	struct quota_pool mem_pool, calls_pool;
	ttrpc_peer_fn peer_ok;
	void *peer_data;
	/* Connections refused for the MAX_CONNS bound: logged at most once a
	 * second, with the count since the last line. */
	unsigned long refused;
	uint64_t refused_logged;
};

static void conn_close(struct conn *c);
/* Drop every queued buffer (their notifications say "not sent"). */
static void wq_drop(struct conn *c);
static void conn_update_events(struct conn *c);
static void conn_process(struct conn *c);
static int rbuf_resize(struct conn *c, size_t want);

/* ---- references ---- */

static void conn_unref(struct conn *c)
{
	if (--c->refs)
		return;
	free(c->rbuf);
	free(c);
}

static void request_free(Ttrpc__Request *req, struct charge *env)
{
	ProtobufCAllocator a = charge_allocator(env);
	ttrpc__request__free_unpacked(req, &a);
}

/* Forget a call's room wait (it fires, or the call ends without it). */
static void call_room_clear(struct ttrpc_call *call)
{
	if (!call->room_fn)
		return;
	call->room_fn = NULL;
	call->room_data = NULL;
	call->conn->room_waiters--;
}

static void call_unref(struct ttrpc_call *call)
{
	if (--call->refs)
		return;
	struct conn *c = call->conn;
	call_room_clear(call);
	if (call->timer)
		loop_timer_cancel(c->loop, call->timer);
	if (call->prev)
		call->prev->next = call->next;
	else
		c->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	c->ncalls--;
	request_free(call->req, &call->env);
	quota_give(&c->mem, call->decoded.bytes + call->self_cost);
	quota_give(&c->ncalls_q, 1);
	free(call);
	conn_update_events(c);
	conn_unref(c);
}

static void call_notify_cancel(struct ttrpc_call *call)
{
	call_room_clear(call); /* the cancel callback tells the owner instead */
	if (call->cancel_notified)
		return;
	call->cancel_notified = true;
	if (!call->cancel_fn)
		return;
	call->refs++;
	call->cancel_fn(call, call->cancel_data);
	call_unref(call);
}

/* ---- output ---- */

/* A Response envelope's size: status (packed in stlen bytes, always there)
 * and payload (n bytes, absent when empty). */
static size_t response_len(size_t stlen, size_t n)
{
	size_t total = 1 + pbwire_varint_len(stlen) + stlen;
	if (n)
		total += 1 + pbwire_varint_len(n) + n;
	return total;
}

/* The frame up to the payload's own bytes: header, status, the payload's
 * key and length. out has TTRPC_HEADER_LEN + 2 * PBWIRE_LEN_PREFIX_MAX +
 * stlen bytes of room; the frame's size was checked. Returns its length. */
static size_t response_head(uint8_t *out, uint32_t stream_id, const Ttrpc__Status *st, size_t stlen,
			    size_t n)
{
	struct ttrpc_frame_header h = {
		.length = (uint32_t)response_len(stlen, n),
		.stream_id = stream_id,
		.type = TTRPC_TYPE_RESPONSE,
	};
	ttrpc_header_encode(out, &h);
	uint8_t *p = out + TTRPC_HEADER_LEN;
	p += pbwire_len_field(p, 1, stlen);
	p += ttrpc__status__pack(st, p);
	p += pbwire_bytes_field(p, 2, n);
	return (size_t)(p - out);
}

/* Encode a whole response frame in one buffer. The Response envelope is
 * written by hand so the handler's message is packed once, in place (or
 * its bytes, given in pieces, copied in). */
static int build_response(uint32_t stream_id, int code, const char *msg, const ProtobufCMessage *m,
			  const struct iovec *iov, unsigned niov, struct outbuf **out)
{
	Ttrpc__Status st = TTRPC__STATUS__INIT;
	st.code = code;
	st.message = (char *)(msg ? msg : "");
	size_t stlen = ttrpc__status__get_packed_size(&st);
	size_t n = m ? protobuf_c_message_get_packed_size(m) : iovec_total(iov, niov);
	size_t total = response_len(stlen, n);
	if (total > TTRPC_MAX_PAYLOAD)
		return -EMSGSIZE;
	struct outbuf *ob = malloc(sizeof(*ob) + TTRPC_HEADER_LEN + total);
	if (!ob)
		return -ENOMEM;
	ob->next = NULL;
	ob->off = 0;
	ob->len = TTRPC_HEADER_LEN + total;
	ob->sent_fn = NULL;
	ob->sent_data = NULL;
	uint8_t *p = ob->data + response_head(ob->data, stream_id, &st, stlen, n);
	if (m)
		protobuf_c_message_pack(m, p);
	else
		iovec_copy(p, iov, niov, 0, SIZE_MAX);
	*out = ob;
	return 0;
}

static void close_timer_cb(struct loop *l, void *data)
{
	struct conn *c = data;
	c->close_timer = NULL;
	conn_close(c);
}

/* Close soon, from the loop, not from whatever call chain noticed the error. */
static void conn_fail_later(struct conn *c)
{
	if (c->closed || c->close_pending)
		return;
	c->close_pending = true;
	wq_drop(c);
	c->close_timer = loop_timer_add(c->loop, 0, close_timer_cb, c);
	if (!c->close_timer) {
		/* No memory for a timer: shut the socket so epoll reports HUP. */
		shutdown(c->fd, SHUT_RDWR);
	}
	conn_update_events(c);
}

static void room_timer_cb(struct loop *l, void *data);

static void conn_flush(struct conn *c)
{
	bool freed = false;
	while (c->wq_head && !c->closed && !c->close_pending) {
		struct outbuf *ob = c->wq_head;
		ssize_t n = send(c->fd, ob->data + ob->off, ob->len - ob->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			log_debug("ttrpc connection %lu: write: %s", c->id, strerror(errno));
			conn_fail_later(c);
			return;
		}
		ob->off += (size_t)n;
		c->wq_bytes -= (size_t)n;
		if (ob->off == ob->len) {
			c->wq_head = ob->next;
			if (!c->wq_head)
				c->wq_tail = NULL;
			quota_give(&c->mem, ob->charged);
			outbuf_free(ob, true);
			freed = true;
		}
	}
	if (freed && c->room_waiters && !c->room_timer)
		c->room_timer = loop_timer_add(c->loop, 0, room_timer_cb, c);
	conn_update_events(c);
}

static void wq_drop(struct conn *c)
{
	while (c->wq_head) {
		struct outbuf *ob = c->wq_head;
		c->wq_head = ob->next;
		quota_give(&c->mem, ob->charged);
		outbuf_free(ob, false);
	}
	c->wq_tail = NULL;
	c->wq_bytes = 0;
}

/* Count a response against the connection's memory before it is queued. */
static int ob_charge(struct conn *c, struct outbuf *ob)
{
	size_t cost = block_cost(ob);
	int r = quota_take(&c->mem, cost);
	if (r == 0)
		ob->charged = cost;
	return r;
}

/* The same for an error answer, forced while little is queued. */
static int ob_charge_error(struct conn *c, struct outbuf *ob)
{
	if (ob_charge(c, ob) == 0)
		return 0;
	if (c->wq_bytes >= REFUSAL_QUEUE_MAX)
		return -ENOBUFS;
	ob->charged = block_cost(ob);
	quota_force(&c->mem, ob->charged);
	return 0;
}

static void wq_append(struct conn *c, struct outbuf *ob)
{
	if (c->wq_tail)
		c->wq_tail->next = ob;
	else
		c->wq_head = ob;
	c->wq_tail = ob;
	c->wq_bytes += ob->len;
}

static void conn_enqueue(struct conn *c, struct outbuf *ob)
{
	bool was_empty = !c->wq_head;
	wq_append(c, ob);
	if (was_empty)
		conn_flush(c);
	else
		conn_update_events(c);
}

static void format_wall(char *buf, size_t len, const struct timespec *ts)
{
	struct tm tm;
	gmtime_r(&ts->tv_sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%09ldZ", ts->tv_nsec);
}

/* The one place a call ends, answered or not: the span of agent.trace. */
static void call_trace(const struct ttrpc_call *call, int code, const char *why)
{
	if (!call->trace)
		return;
	struct timespec end;
	clock_gettime(CLOCK_REALTIME, &end);
	uint64_t dur = loop_now_ns() - call->start_mono;
	char start_s[48], end_s[48];
	format_wall(start_s, sizeof(start_s), &call->start_wall);
	format_wall(end_s, sizeof(end_s), &end);
	const char *svc = call->req->service ? call->req->service : "";
	const char *mth = call->req->method ? call->req->method : "";
	json_t *f = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:I,s:i,s:s}", "span-kind", "rpc",
			      "service", svc, "method", mth, "stream-id",
			      (json_int_t)call->stream_id, "start", start_s, "end", end_s,
			      "duration-ns", (json_int_t)dur, "status-code", code, "status",
			      grpc_status_name(code));
	if (f && why)
		json_object_set_new(f, "note", json_string(why));
	log_fields(LOG_LVL_INFO, f, "span");
}

/* The answer is being given: mark the call answered, end its span and
 * timer. False (sent_fn told "not sent") when there is nothing to send:
 * answered already, or its connection is gone. */
static bool call_answer_begins(struct ttrpc_call *call, int code, ttrpc_sent_fn sent_fn,
			       void *sent_data)
{
	struct conn *c = call->conn;
	if (call->answered) {
		if (sent_fn)
			sent_fn(sent_data, false);
		return false;
	}
	call->answered = true;
	call_room_clear(call);
	call_trace(call, code,
		   c->closed || c->close_pending ? "connection closed, answer dropped" : NULL);
	if (call->timer) {
		loop_timer_cancel(c->loop, call->timer);
		call->timer = NULL;
	}
	if (c->closed || c->close_pending) {
		if (sent_fn)
			sent_fn(sent_data, false);
		return false;
	}
	return true;
}

/* What the socket did not take of a frame sent straight (v, frame bytes in
 * all, sent of them gone): copied to wait in the queue. */
static int queue_rest(struct conn *c, const struct iovec *v, unsigned nv, size_t frame, size_t sent,
		      ttrpc_sent_fn sent_fn, void *sent_data)
{
	struct outbuf *ob = malloc(sizeof(*ob) + frame - sent);
	if (!ob)
		return -ENOMEM;
	*ob = (struct outbuf){ .len = frame - sent, .sent_fn = sent_fn, .sent_data = sent_data };
	iovec_copy(ob->data, v, nv, sent, SIZE_MAX);
	/* Within the reservation call_send_direct just gave back (give or
	 * take malloc's rounding of the block, at most a page): forced so a
	 * frame begun on the wire is always finished. */
	ob->charged = block_cost(ob);
	quota_force(&c->mem, ob->charged);
	wq_append(c, ob);
	conn_update_events(c);
	return 0;
}

/* Pieces of a payload that call_send_direct sends as they are; more go
 * through a copy. */
#define DIRECT_IOV_MAX 7

/* An OK answer whose payload is iov, sent from the caller's bytes: the
 * frame's head in a small buffer and the pieces, in one sendmsg, since
 * nothing is queued before it; only what the socket did not take is
 * copied into the queue. Charged against the connection's memory as if
 * queued whole (the same bound as a built response), for what is queued
 * only once sent. 0: answered (sent_fn told or attached); -EAGAIN: not
 * tried (too big, too many pieces, no room: a built response says why). */
static int call_send_direct(struct ttrpc_call *call, const struct iovec *iov, unsigned niov,
			    ttrpc_sent_fn sent_fn, void *sent_data)
{
	struct conn *c = call->conn;
	size_t n = iovec_total(iov, niov);
	if (niov > DIRECT_IOV_MAX || response_len(0, n) > TTRPC_MAX_PAYLOAD)
		return -EAGAIN;
	size_t frame = TTRPC_HEADER_LEN + response_len(0, n);
	size_t reserve = sizeof(struct outbuf) + frame + sizeof(size_t);
	if (quota_take(&c->mem, reserve) < 0)
		return -EAGAIN;
	Ttrpc__Status st = TTRPC__STATUS__INIT; /* packs into nothing */
	uint8_t head[TTRPC_HEADER_LEN + 2 * PBWIRE_LEN_PREFIX_MAX];
	struct iovec v[1 + DIRECT_IOV_MAX];
	v[0] = (struct iovec){ head, response_head(head, call->stream_id, &st, 0, n) };
	if (niov) /* ttrpc_call_reply(c, NULL) comes with no pieces at all */
		memcpy(v + 1, iov, niov * sizeof(*iov));
	struct msghdr mh = { .msg_iov = v, .msg_iovlen = 1 + niov };
	ssize_t w;
	do
		w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	int e = errno;
	size_t sent = w < 0 ? 0 : (size_t)w;
	quota_give(&c->mem, reserve);
	if (w < 0 && e != EAGAIN && e != EWOULDBLOCK) {
		log_debug("ttrpc connection %lu: write: %s", c->id, strerror(e));
	} else if (sent == frame) {
		if (sent_fn)
			sent_fn(sent_data, true);
		return 0;
	} else if (queue_rest(c, v, 1 + niov, frame, sent, sent_fn, sent_data) == 0) {
		return 0;
	} else {
		/* Part of the frame may be on the wire: the stream cannot go on. */
		log_warn("ttrpc connection %lu: out of memory for the rest of stream %u's response, closing",
			 c->id, call->stream_id);
	}
	if (sent_fn)
		sent_fn(sent_data, false);
	conn_fail_later(c);
	return 0;
}

/* Queue the answer for a call, unless it was answered already or its
 * connection is gone. A payload given in pieces (m NULL) goes out from
 * them directly when nothing waits before it. */
static void call_send(struct ttrpc_call *call, int code, const char *msg, const ProtobufCMessage *m,
		      const struct iovec *iov, unsigned niov, ttrpc_sent_fn sent_fn,
		      void *sent_data)
{
	struct conn *c = call->conn;
	if (!call_answer_begins(call, code, sent_fn, sent_data))
		return;
	if (!m && code == GRPC_OK && !c->wq_head &&
	    call_send_direct(call, iov, niov, sent_fn, sent_data) == 0)
		return;
	struct outbuf *ob = NULL;
	int r = build_response(call->stream_id, code, msg, m, iov, niov, &ob);
	if (r == -EMSGSIZE) {
		char buf[160];
		snprintf(buf, sizeof(buf), "response to %s/%s exceeds the %u byte frame limit",
			 call->req->service, call->req->method, TTRPC_MAX_PAYLOAD);
		log_warn("ttrpc connection %lu: %s", c->id, buf);
		r = build_response(call->stream_id, GRPC_RESOURCE_EXHAUSTED, buf, NULL, NULL, 0,
				   &ob);
	}
	if (r == 0 && ob_charge(c, ob) < 0) {
		char buf[200];
		snprintf(buf, sizeof(buf),
			 "response to %s/%s (%zu bytes) exceeds the agent's memory bound for "
			 "unread responses",
			 call->req->service, call->req->method, ob->len);
		log_warn("ttrpc connection %lu: %s", c->id, buf);
		free(ob);
		ob = NULL;
		r = build_response(call->stream_id, GRPC_RESOURCE_EXHAUSTED, buf, NULL, NULL, 0,
				   &ob);
		if (r == 0 && ob_charge_error(c, ob) < 0) {
			free(ob);
			r = -ENOBUFS;
		}
	}
	if (r < 0) {
		log_warn("ttrpc connection %lu: cannot build response for stream %u: %s", c->id,
			 call->stream_id, strerror(-r));
		if (sent_fn)
			sent_fn(sent_data, false);
		conn_fail_later(c);
		return;
	}
	ob->sent_fn = sent_fn;
	ob->sent_data = sent_data;
	conn_enqueue(c, ob);
}

/* ---- room for an answer (ttrpc_call_reply_fits, ttrpc_call_wait_room) ---- */

/* What an OK answer of n payload bytes may be charged, whichever way
 * call_send takes: the frame, its outbuf and malloc's header, plus a page
 * for malloc's rounding of a large block (block_cost). */
static size_t reply_cost(size_t n)
{
	return sizeof(struct outbuf) + TTRPC_HEADER_LEN + response_len(0, n) + sizeof(size_t) +
	       4096;
}

bool ttrpc_call_reply_fits(struct ttrpc_call *call, size_t n)
{
	struct conn *c = call->conn;
	if (call->answered || c->closed || c->close_pending)
		return true; /* nothing will be sent: nothing to refuse */
	if (response_len(0, n) > TTRPC_MAX_PAYLOAD)
		return true; /* refused whatever the room: waiting would not help */
	size_t cost = reply_cost(n);
	if (quota_take(&c->mem, cost) < 0)
		return false;
	quota_give(&c->mem, cost);
	return true;
}

int ttrpc_call_wait_room(struct ttrpc_call *call, ttrpc_room_fn fn, void *data)
{
	struct conn *c = call->conn;
	if (call->answered || call->cancelled || c->closed || c->close_pending || !c->wq_head)
		return -EAGAIN;
	if (!call->room_fn)
		c->room_waiters++;
	call->room_fn = fn;
	call->room_data = data;
	return 0;
}

/* Tell every call that waits for room now, once each (one that waits
 * again from its callback waits for the next response to leave). A
 * callback may answer or release any call: each is held until its turn,
 * and one answered meanwhile is not told. */
static void room_timer_cb(struct loop *l, void *data)
{
	(void)l;
	struct conn *c = data;
	c->room_timer = NULL;
	struct ttrpc_call *tell = NULL;
	for (struct ttrpc_call *call = c->calls; call; call = call->next) {
		if (!call->room_fn)
			continue;
		call->refs++;
		call->room_next = tell;
		tell = call;
	}
	while (tell) {
		struct ttrpc_call *call = tell;
		tell = call->room_next;
		ttrpc_room_fn fn = call->room_fn;
		void *fn_data = call->room_data;
		call_room_clear(call);
		if (fn && !call->answered && !call->cancelled && !c->closed && !c->close_pending)
			fn(call, fn_data);
		call_unref(call);
	}
}

/* ---- flow control ---- */

static bool conn_can_read(struct conn *c)
{
	if (c->closed || c->close_pending)
		return false;
	if (c->wq_paused) {
		if (c->wq_bytes > WQ_LOW)
			return false;
		c->wq_paused = false;
	} else if (c->wq_bytes > WQ_HIGH) {
		c->wq_paused = true;
		log_debug("ttrpc connection %lu: %zu bytes of responses unread, pausing requests",
			  c->id, c->wq_bytes);
		return false;
	}
	return !quota_above(&c->ncalls_q, CONN_CALLS_MAX) && !quota_above(&c->mem, CONN_MEM_PAUSE);
}

static void resume_timer_cb(struct loop *l, void *data)
{
	struct conn *c = data;
	c->resume_timer = NULL;
	c->refs++;
	conn_process(c);
	conn_update_events(c);
	conn_unref(c);
}

static void conn_update_events(struct conn *c)
{
	if (c->closed)
		return;
	bool readable = conn_can_read(c);
	uint32_t ev = EPOLLRDHUP;
	if (readable)
		ev |= EPOLLIN;
	if (c->wq_head)
		ev |= EPOLLOUT;
	if (ev != c->events) {
		struct kerr err;
		if (loop_mod(c->loop, c->fd, ev, &err) < 0)
			log_warn("ttrpc connection %lu: %s", c->id, err.msg);
		else {
			bool resumed = (ev & EPOLLIN) && !(c->events & EPOLLIN);
			c->events = ev;
			if (resumed && c->rlen >= TTRPC_HEADER_LEN && !c->resume_timer)
				c->resume_timer = loop_timer_add(c->loop, 0, resume_timer_cb, c);
		}
	}
}

/* ---- input ---- */

static void call_deadline_cb(struct loop *l, void *data)
{
	struct ttrpc_call *call = data;
	call->timer = NULL;
	if (call->answered)
		return;
	call->cancelled = true;
	call_send(call, GRPC_DEADLINE_EXCEEDED, "deadline exceeded", NULL, NULL, 0, NULL, NULL);
	call_notify_cancel(call);
}

/* Answer a request that gets no call: over a bound. A connection where not
 * even this answer fits is closed. */
static void conn_refuse(struct conn *c, uint32_t stream_id, const char *why)
{
	if (!c->refusal_logged) {
		c->refusal_logged = true;
		log_warn("ttrpc connection %lu: stream %u refused: %s (further refusals on this "
			 "connection are logged at debug level)",
			 c->id, stream_id, why);
	} else {
		log_debug("ttrpc connection %lu: stream %u refused: %s", c->id, stream_id, why);
	}
	struct outbuf *ob = NULL;
	if (build_response(stream_id, GRPC_RESOURCE_EXHAUSTED, why, NULL, NULL, 0, &ob) < 0 ||
	    ob_charge_error(c, ob) < 0) {
		free(ob);
		log_warn("ttrpc connection %lu: no room left even for a refusal, closing", c->id);
		conn_fail_later(c);
		return;
	}
	conn_enqueue(c, ob);
}

/* Metadata is not used by any handler (upstream reads it only to propagate
 * trace spans): free it now rather than hold it while the call is parked. */
static void drop_metadata(Ttrpc__Request *req, struct charge *env)
{
	ProtobufCAllocator a = charge_allocator(env);
	for (size_t i = 0; i < req->n_metadata; i++)
		protobuf_c_message_free_unpacked(&req->metadata[i]->base, &a);
	charge_free(env, req->metadata);
	req->metadata = NULL;
	req->n_metadata = 0;
}

/* The payload is read by dispatch only (the handler decodes it there). */
static void drop_payload(Ttrpc__Request *req, struct charge *env)
{
	charge_free(env, req->payload.data);
	req->payload.data = NULL;
	req->payload.len = 0;
}

static struct ttrpc_call *call_new(struct conn *c, const struct ttrpc_frame_header *h,
				   Ttrpc__Request *req, const struct charge *env)
{
	if (quota_take(&c->ncalls_q, 1) < 0) {
		conn_refuse(c, h->stream_id, "too many calls in flight in the agent");
		return NULL;
	}
	struct ttrpc_call *call = calloc(1, sizeof(*call));
	size_t cost = call ? block_cost(call) : 0;
	if (!call || quota_take(&c->mem, cost) < 0) {
		quota_give(&c->ncalls_q, 1);
		free(call);
		conn_refuse(c, h->stream_id, "the agent's memory bound for requests is reached");
		return NULL;
	}
	call->self_cost = cost;
	call->env = *env;
	call->decoded.q = &c->mem;
	call->conn = c;
	call->req = req;
	call->stream_id = h->stream_id;
	call->refs = 1;
	return call;
}

static void conn_handle_request(struct conn *c, const struct ttrpc_frame_header *h,
				Ttrpc__Request *req, struct charge *env)
{
	for (struct ttrpc_call *o = c->calls; o; o = o->next) {
		if (o->stream_id == h->stream_id) {
			log_warn("ttrpc connection %lu: stream id %u is already in flight, closing",
				 c->id, h->stream_id);
			request_free(req, env);
			conn_close(c);
			return;
		}
	}
	drop_metadata(req, env);
	struct ttrpc_call *call = call_new(c, h, req, env);
	if (!call) {
		request_free(req, env);
		return;
	}
	call->trace = c->srv->trace;
	if (call->trace) {
		call->start_mono = loop_now_ns();
		clock_gettime(CLOCK_REALTIME, &call->start_wall);
	}
	call->next = c->calls;
	if (c->calls)
		c->calls->prev = call;
	c->calls = call;
	c->ncalls++;
	c->refs++;
	if (req->timeout_nano > 0) {
		uint64_t now = loop_now_ns();
		uint64_t t = (uint64_t)req->timeout_nano;
		call->deadline = t > UINT64_MAX - now ? UINT64_MAX : now + t;
		call->timer = loop_timer_add(c->loop, call->deadline, call_deadline_cb, call);
		if (!call->timer)
			log_warn("ttrpc connection %lu: no memory for the deadline of stream %u",
				 c->id, call->stream_id);
	}
	log_debug("ttrpc connection %lu: stream %u: %s/%s (%zu bytes)", c->id, call->stream_id,
		  req->service, req->method, req->payload.len);
	call->refs++;
	c->srv->dispatch(call, c->srv->data);
	drop_payload(call->req, &call->env);
	call_unref(call);
}

/* Parse and dispatch every complete frame in the read buffer, as long as the
 * connection may take requests. */
static void conn_process(struct conn *c)
{
	size_t off = 0;
	/* off < rlen also keeps a freed (NULL) buffer out of the arithmetic. */
	while (!c->closed && off < c->rlen && conn_can_read(c)) {
		struct ttrpc_frame_header h;
		Ttrpc__Request *req;
		size_t used;
		struct kerr err;
		struct charge env = { .q = &c->mem };
		ProtobufCAllocator a = charge_allocator(&env);
		int r = ttrpc_parse_request_alloc(c->rbuf + off, c->rlen - off, &a, &used, &h, &req,
						  &err);
		if (r < 0 && env.refused) {
			off += TTRPC_HEADER_LEN + (size_t)h.length;
			conn_refuse(c, h.stream_id,
				    "the request decodes into more memory than the agent's bound allows");
			continue;
		}
		if (r < 0) {
			log_warn("ttrpc connection %lu: protocol error, closing: %s", c->id,
				 err.msg);
			conn_close(c);
			return;
		}
		if (r == 0)
			break;
		off += used;
		conn_handle_request(c, &h, req, &env);
	}
	if (c->closed)
		return;
	if (off) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
	if (c->rlen == 0 && c->rcap > RBUF_KEEP)
		rbuf_resize(c, 0);
	else if (c->rcap > RBUF_KEEP && c->rlen <= RBUF_CHUNK)
		rbuf_resize(c, RBUF_CHUNK);
}

/* Grow or shrink the read buffer, its capacity counted as the connection's
 * memory. -EAGAIN: no room in the bounds; -ENOMEM: no memory at all. */
static int rbuf_resize(struct conn *c, size_t want)
{
	/* The first chunk is always granted (64 x 16 KiB in all): without it
	 * a connection over its share could not even read its next request
	 * to be told RESOURCE_EXHAUSTED. */
	if (want > c->rcap && want <= RBUF_CHUNK)
		quota_force(&c->mem, want - c->rcap);
	else if (want > c->rcap && quota_take(&c->mem, want - c->rcap) < 0)
		return -EAGAIN;
	uint8_t *nb = NULL;
	if (want) {
		nb = realloc(c->rbuf, want);
		if (!nb) {
			if (want > c->rcap)
				quota_give(&c->mem, want - c->rcap);
			return -ENOMEM;
		}
	} else {
		free(c->rbuf);
	}
	if (want < c->rcap)
		quota_give(&c->mem, c->rcap - want);
	c->rbuf = nb;
	c->rcap = want;
	return 0;
}

/* A frame whose bytes do not fit in the bounds: refuse it, and read its
 * remaining bytes into nothing (conn_read). Its header was checked by
 * conn_process already. */
static void conn_skip_frame(struct conn *c, const struct ttrpc_frame_header *h)
{
	c->skip = TTRPC_HEADER_LEN + (size_t)h->length - c->rlen;
	c->rlen = 0;
	conn_refuse(c, h->stream_id,
		    "no room for the request's bytes within the agent's memory bound");
}

/* Make room to read into: a chunk at least, the whole pending frame when its
 * header is in (conn_process checked that header, so its length is bounded). */
static int conn_reserve(struct conn *c)
{
	size_t frame = 0;
	struct ttrpc_frame_header h;
	if (c->rlen >= TTRPC_HEADER_LEN) {
		ttrpc_header_decode(c->rbuf, &h);
		if (h.length <= TTRPC_MAX_PAYLOAD)
			frame = TTRPC_HEADER_LEN + (size_t)h.length;
	}
	if (c->rcap - c->rlen >= RBUF_CHUNK / 4 && c->rcap >= frame)
		return 0;
	size_t want = c->rlen + RBUF_CHUNK;
	if (frame > want)
		want = frame;
	int r = rbuf_resize(c, want);
	if (r == -EAGAIN && frame) {
		conn_skip_frame(c, &h);
		return 0;
	}
	return r;
}

/* Read and drop the rest of a refused frame (at most *asked bytes).
 * Returns the read's result. */
static ssize_t conn_read_skip(struct conn *c, size_t *asked)
{
	static uint8_t junk[SKIP_CHUNK];
	*asked = c->skip < sizeof(junk) ? c->skip : sizeof(junk);
	ssize_t n = read(c->fd, junk, *asked);
	if (n > 0)
		c->skip -= (size_t)n;
	return n;
}

/* One read of at most *asked bytes: into the buffer, or into nothing while
 * a refused frame is skipped (*skipped). -2: the connection was closed or
 * refused. */
static ssize_t conn_read_once(struct conn *c, bool *skipped, size_t *asked)
{
	*skipped = c->skip != 0;
	if (*skipped)
		return conn_read_skip(c, asked);
	int r = conn_reserve(c);
	if (r < 0) {
		log_warn("ttrpc connection %lu: out of memory for the read buffer, closing", c->id);
		conn_close(c);
		return -2;
	}
	if (c->close_pending)
		return -2;
	*skipped = c->skip != 0; /* conn_reserve refused the pending frame */
	if (*skipped)
		return conn_read_skip(c, asked);
	*asked = c->rcap - c->rlen;
	return read(c->fd, c->rbuf + c->rlen, *asked);
}

static void conn_read(struct conn *c)
{
	size_t budget = READ_BUDGET;
	/* Frames left over from a pause go first, and get their header checked. */
	conn_process(c);
	while (budget && !c->closed && conn_can_read(c)) {
		bool skipped;
		size_t asked = 0;
		ssize_t n = conn_read_once(c, &skipped, &asked);
		if (n == -2)
			return;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			log_debug("ttrpc connection %lu: read: %s", c->id, strerror(errno));
			conn_close(c);
			return;
		}
		if (n == 0) {
			if (c->rlen || c->skip)
				log_warn("ttrpc connection %lu: peer closed in the middle of a frame (%zu bytes pending)",
					 c->id, c->rlen + c->skip);
			else
				log_debug("ttrpc connection %lu: peer closed", c->id);
			conn_close(c);
			return;
		}
		budget = (size_t)n >= budget ? 0 : budget - (size_t)n;
		if (!skipped) {
			c->rlen += (size_t)n;
			conn_process(c);
		}
		/* A short read emptied the stream socket: the next read would
		 * be EAGAIN. The loop's epoll is level-triggered, so what comes
		 * later wakes us again (one read per readiness: a system call
		 * less per request). */
		if ((size_t)n < asked)
			return;
	}
}

static void conn_io(struct loop *l, int fd, uint32_t events, void *data)
{
	struct conn *c = data;
	c->refs++;
	if (events & EPOLLOUT)
		conn_flush(c);
	if (!c->closed && (events & EPOLLIN))
		conn_read(c);
	if (!c->closed && (events & EPOLLERR)) {
		log_debug("ttrpc connection %lu: socket error", c->id);
		conn_close(c);
	}
	/* With reading on, the read itself sees EOF after the last request. */
	if (!c->closed && (events & (EPOLLHUP | EPOLLRDHUP)) && !(c->events & EPOLLIN)) {
		log_debug("ttrpc connection %lu: peer hung up", c->id);
		conn_close(c);
	}
	if (!c->closed)
		conn_update_events(c);
	conn_unref(c);
}

static void conn_close(struct conn *c)
{
	if (c->closed)
		return;
	c->refs++;
	c->closed = true;
	struct ttrpc_server *s = c->srv;
	loop_del(c->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	if (c->close_timer)
		loop_timer_cancel(c->loop, c->close_timer);
	if (c->resume_timer)
		loop_timer_cancel(c->loop, c->resume_timer);
	if (c->room_timer)
		loop_timer_cancel(c->loop, c->room_timer);
	c->close_timer = c->resume_timer = c->room_timer = NULL;
	wq_drop(c);
	rbuf_resize(c, 0);
	c->rlen = c->skip = 0;
	quota_detach(&c->mem);
	quota_detach(&c->ncalls_q);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	c->srv = NULL;

	/* Cancel every call; a cancel callback may release any call, so hold
	 * each one while walking a snapshot. */
	size_t n = c->ncalls, i = 0;
	struct ttrpc_call **snap = n ? calloc(n, sizeof(*snap)) : NULL;
	for (struct ttrpc_call *call = c->calls; call; call = call->next) {
		call->cancelled = true;
		if (!call->answered)
			call_trace(call, GRPC_CANCELLED, "connection closed before the answer");
		call->answered = true;
		if (call->timer) {
			loop_timer_cancel(c->loop, call->timer);
			call->timer = NULL;
		}
		if (snap) {
			call->refs++;
			snap[i++] = call;
		}
	}
	if (snap) {
		for (size_t k = 0; k < i; k++) {
			call_notify_cancel(snap[k]);
			call_unref(snap[k]);
		}
		free(snap);
	} else {
		/* Out of memory for the snapshot: notify one at a time from the
		 * head, restarting after each callback, since it may have freed
		 * neighbours. */
		bool again = true;
		while (again) {
			again = false;
			for (struct ttrpc_call *call = c->calls; call; call = call->next) {
				if (!call->cancel_notified) {
					call->refs++;
					call_notify_cancel(call);
					call_unref(call);
					again = true;
					break;
				}
			}
		}
	}
	c->refs--; /* the server's; ours, taken above, keeps c alive */
	conn_unref(c);
}

/* ---- listener ---- */

static void accept_cb(struct loop *l, int fd, uint32_t events, void *data);

static void accept_resume_cb(struct loop *l, void *data)
{
	struct ttrpc_server *s = data;
	s->accept_timer = NULL;
	struct kerr err;
	if (loop_mod(l, s->listen_fd, EPOLLIN, &err) < 0)
		log_warn("ttrpc: resume accepting: %s", err.msg);
}

/* Over MAX_CONNS: closed at once, logged at most once a second. */
static void refuse_conn(struct ttrpc_server *s, int cfd)
{
	close(cfd);
	s->refused++;
	uint64_t now = loop_now_ns();
	if (s->refused_logged && now - s->refused_logged < REFUSAL_LOG_NS)
		return;
	log_warn("ttrpc: %lu connection(s) refused: %u connections are open, the most allowed",
		 s->refused, s->nconns);
	s->refused = 0;
	s->refused_logged = now;
}

static void accept_cb(struct loop *l, int fd, uint32_t events, void *data)
{
	struct ttrpc_server *s = data;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t peer_len = sizeof(peer);
		int cfd = accept4(fd, (struct sockaddr *)&peer, &peer_len,
				  SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			log_warn("ttrpc: accept: %s", strerror(errno));
			/* Out of fds or memory: the listener stays readable, so
			 * back off instead of spinning. */
			struct kerr err;
			if (!s->accept_timer && loop_mod(l, fd, 0, &err) == 0)
				s->accept_timer = loop_timer_add(l,
								 loop_now_ns() + ACCEPT_BACKOFF_NS,
								 accept_resume_cb, s);
			return;
		}
		if (s->peer_ok &&
		    !s->peer_ok((const struct sockaddr *)&peer, peer_len, s->peer_data)) {
			close(cfd);
			continue;
		}
		if (s->nconns >= MAX_CONNS) {
			refuse_conn(s, cfd);
			continue;
		}
		struct conn *c = calloc(1, sizeof(*c));
		if (!c) {
			log_warn("ttrpc: out of memory for a connection");
			close(cfd);
			continue;
		}
		quota_init(&c->mem, &s->mem_pool, CONN_MEM_RESERVE, CONN_MEM_MAX);
		quota_init(&c->ncalls_q, &s->calls_pool, CONN_CALLS_RESERVE, CONN_CALLS_MAX);
		c->srv = s;
		c->loop = l;
		c->fd = cfd;
		c->id = ++s->next_id;
		c->refs = 1;
		c->events = EPOLLIN | EPOLLRDHUP;
		struct kerr err;
		if (loop_add(l, cfd, c->events, conn_io, c, &err) < 0) {
			log_warn("ttrpc: %s", err.msg);
			close(cfd);
			free(c);
			continue;
		}
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->nconns++;
		log_debug("ttrpc connection %lu: accepted", c->id);
	}
}

/* ---- public ---- */

int ttrpc_server_new(struct ttrpc_server **out, struct loop *l, int listen_fd,
		     ttrpc_dispatch_fn dispatch, void *data, struct kerr *err)
{
	struct ttrpc_server *s = calloc(1, sizeof(*s));
	if (!s) {
		close(listen_fd);
		return kerr_set(err, -ENOMEM, "ttrpc server: out of memory");
	}
	s->loop = l;
	s->listen_fd = listen_fd;
	s->mem_pool.limit = MEM_POOL;
	s->calls_pool.limit = CALLS_POOL;
	s->dispatch = dispatch;
	s->data = data;
	int r = loop_add(l, listen_fd, EPOLLIN, accept_cb, s, err);
	if (r < 0) {
		close(listen_fd);
		free(s);
		return kerr_prefix(err, "ttrpc server");
	}
	*out = s;
	return 0;
}

void ttrpc_server_free(struct ttrpc_server *s)
{
	if (!s)
		return;
	if (s->accept_timer)
		loop_timer_cancel(s->loop, s->accept_timer);
	loop_del(s->loop, s->listen_fd);
	close(s->listen_fd);
	while (s->conns)
		conn_close(s->conns);
	free(s);
}

unsigned ttrpc_server_connections(const struct ttrpc_server *s)
{
	return s->nconns;
}

void ttrpc_server_set_trace(struct ttrpc_server *s, bool on)
{
	s->trace = on;
}

void ttrpc_server_set_peer_filter(struct ttrpc_server *s, ttrpc_peer_fn fn, void *data)
{
	s->peer_ok = fn;
	s->peer_data = data;
}

const char *ttrpc_call_service(const struct ttrpc_call *c)
{
	return c->req->service ? c->req->service : "";
}

const char *ttrpc_call_method(const struct ttrpc_call *c)
{
	return c->req->method ? c->req->method : "";
}

const uint8_t *ttrpc_call_payload(const struct ttrpc_call *c, size_t *len)
{
	*len = c->req->payload.len;
	return c->req->payload.data;
}

ProtobufCMessage *ttrpc_call_unpack(struct ttrpc_call *c, const ProtobufCMessageDescriptor *d,
				    struct kerr *err)
{
	size_t len = c->req->payload.len;
	c->decoded.refused = false;
	ProtobufCAllocator a = charge_allocator(&c->decoded);
	ProtobufCMessage *m = protobuf_c_message_unpack(d, &a, len, c->req->payload.data);
	if (m && pbwire_check(m, err) < 0) {
		protobuf_c_message_free_unpacked(m, &a);
		return NULL;
	}
	if (m)
		return m;
	if (c->decoded.refused)
		kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOBUFS,
				"%s of %zu bytes decodes into more memory than the agent's bound allows",
				d->short_name, len);
	else
		kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EBADMSG,
				"cannot decode %s (%zu bytes)", d->short_name, len);
	return NULL;
}

uint64_t ttrpc_call_deadline(const struct ttrpc_call *c)
{
	return c->deadline;
}

int ttrpc_call_cancelled(const struct ttrpc_call *c)
{
	return c->cancelled;
}

void ttrpc_call_set_cancel(struct ttrpc_call *c, ttrpc_cancel_fn fn, void *data)
{
	c->cancel_fn = fn;
	c->cancel_data = data;
}

void ttrpc_call_reply(struct ttrpc_call *c, const ProtobufCMessage *resp)
{
	call_send(c, GRPC_OK, NULL, resp, NULL, 0, NULL, NULL);
	call_unref(c);
}

void ttrpc_call_reply_notify(struct ttrpc_call *c, const ProtobufCMessage *resp, ttrpc_sent_fn fn,
			     void *data)
{
	call_send(c, GRPC_OK, NULL, resp, NULL, 0, fn, data);
	call_unref(c);
}

void ttrpc_call_reply_raw(struct ttrpc_call *c, const uint8_t *payload, size_t len)
{
	struct iovec iov = { .iov_base = (void *)payload, .iov_len = len };
	call_send(c, GRPC_OK, NULL, NULL, &iov, 1, NULL, NULL);
	call_unref(c);
}

void ttrpc_call_reply_iov(struct ttrpc_call *c, const struct iovec *iov, unsigned niov,
			  ttrpc_sent_fn fn, void *data)
{
	call_send(c, GRPC_OK, NULL, NULL, iov, niov, fn, data);
	call_unref(c);
}

static void call_vfail(struct ttrpc_call *c, int status, const char *fmt, va_list ap)
{
	char msg[ERRMSG_MAX];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* A proto3 string: the message may quote the host's or a container's
	 * bytes, or be cut inside a character. */
	utf8_scrub(msg);
	call_send(c, status, msg, NULL, NULL, 0, NULL, NULL);
	call_unref(c);
}

void ttrpc_call_fail(struct ttrpc_call *c, int grpc_status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	call_vfail(c, grpc_status, fmt, ap);
	va_end(ap);
}

void ttrpc_call_fail_err(struct ttrpc_call *c, const struct kerr *err)
{
	int st = kerr_status(err);
	if (st == GRPC_OK)
		st = GRPC_UNKNOWN;
	ttrpc_call_fail(c, st, "%s", err && err->msg[0] ? err->msg : grpc_status_name(st));
}

void ttrpc_call_release(struct ttrpc_call *c)
{
	if (!c->answered) {
		/* A handler bug; the client must not wait forever for it. */
		log_warn("ttrpc: %s/%s on stream %u released without an answer",
			 ttrpc_call_service(c), ttrpc_call_method(c), c->stream_id);
		call_send(c, GRPC_INTERNAL, "call dropped without an answer", NULL, NULL, 0, NULL,
			  NULL);
	}
	call_unref(c);
}
