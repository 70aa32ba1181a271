/* SPDX-License-Identifier: Apache-2.0 */
/*
 * monitors.c - the front-end's side of the per-container monitor channels
 * (doc/ipc.md, "Container path"): stdio reads and writes, stdin close, tty
 * resize and waits go straight to the container's kata-agent-monitor, never
 * through the executor.
 *
 * The executor hands over one channel per container with MONITOR_ATTACH; a
 * second ATTACH for the same container id replaces the first (its pending
 * calls fail UNAVAILABLE), and a channel that closes takes its container
 * out of the table (later calls: NOT_FOUND).
 *
 * Every request sent is kept with its id until the reply with that id
 * arrives; a reply that matches nothing is a protocol violation and closes
 * the channel. A ttRPC call cancelled meanwhile (deadline, host gone) leaves
 * its request in the table without the call, so the late reply is
 * recognised and dropped.
 *
 * Output is exactly-once towards the host: the monitor keeps bytes until we
 * ACK them, and we ACK only once the response frame carrying them is in the
 * host's socket (ttrpc_call_reply_iov): if we die while it still waits
 * in our output queue (host not reading), the monitor has the bytes and
 * sends them to the next front-end. A frame dropped because the host's
 * connection closed is ACKed too: that reader is gone. An answer that
 * would not fit in the host's connection's bound for unread answers (it
 * would be replaced by RESOURCE_EXHAUSTED) is not given yet: its read
 * stays parked, the bytes stay stashed and unacknowledged, and the stream
 * is pumped again when answers queued on that connection leave
 * (ttrpc_call_wait_room, on_read_room). The
 * monitor queues at most IPC_STDIO_READS_MAX reads per stream; the host's
 * reads of one stream queue here (as upstream serialises them on the
 * stream's lock) and go one at a time, only the read-ahead has several in
 * flight. Bytes that
 * arrive with nobody to take them (read ahead, or for a read whose call was
 * cancelled meanwhile) are kept in the stream's "stash" and given to the
 * next reads before anything new is asked for.
 *
 * Read-ahead: once a read of a container's init was answered with data
 * that went into the host's socket at once (a host that keeps up), full
 * chunks are asked for, READ_AHEAD_BATCH at once when nothing is in flight
 * and the stash has room for them within READ_AHEAD_WINDOW, so that the
 * host's next reads (the Kata shim has one in flight per stream) are
 * answered without a round trip to the monitor, which works meanwhile. Stashed bytes are not acknowledged, so a
 * front-end restart loses none; the ACK of a read answered from the stash
 * rides on the next READ_STREAM_REQ: the one in flight's successor, or,
 * while the stash is above the refill line (no read goes out now), the
 * refill that the host's next reads bring about (at most ACK_HOLD_MAX
 * bytes held so); else it goes alone. Holding an ACK only widens what a
 * front-end killed meanwhile has the monitor send again (bytes the host
 * already got, replayed), never the reverse. Only the init: the
 * monitor never releases it, so an EOF that arrives for a read-ahead
 * nobody waits for is simply dropped and answered again to the next read
 * (an exec is released once drained, and a later read would be
 * NOT_FOUND). At most READ_AHEAD_BUDGET bytes are held across all streams;
 * beyond, reads go to the monitor one by one as before.
 *
 * Writes larger than IPC_STDIO_CHUNK go out as consecutive chunks, one in
 * flight at a time; the call is answered when the last one is written.
 */
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libc_compat.h"
#include "agent.pb-c.h"
#include "cleanup.h"
#include "frontend.h"
#include "grpc_status.h"
#include "log.h"
#include "pbwire.h"

/* Requests one monitor channel may have in flight; more fail
 * RESOURCE_EXHAUSTED (a host has no reason to keep more open). */
#define MON_MAX_REQS 512u
/* Read calls queued on one stream behind the one in flight. */
#define MON_MAX_READ_WAITERS 64u
/* Stashed output across all streams past which nothing is read ahead. */
#define READ_AHEAD_BUDGET (4u << 20)
/* Chunks the read-ahead asks for at once (as many as the monitor queues
 * per stream): a refill costs the monitor one wake-up and us about one
 * for the batch instead of one per chunk (doc/benchmarks.md: "stdio
 * part, round 4"). */
#define READ_AHEAD_BATCH IPC_STDIO_READS_MAX
/* Read-ahead per stream: a batch is asked for when the stash has room
 * for it within this, i.e. with two chunks still stashed: the Kata shim's
 * next three or four 32 KiB reads take those while the batch comes (with
 * less, its next read came while the chunk for it was still on its way in
 * two reads of three: bench/stdio, "Issue 14, stdio part"). */
#define READ_AHEAD_WINDOW ((READ_AHEAD_BATCH + 2u) * IPC_STDIO_CHUNK)
/* Delivered bytes whose ACK may wait for the next refill while the stash
 * is above the refill line: with the Kata shim's 32 KiB reads, the seven
 * or eight reads between one refill and the next. A lone ACK each cost
 * the monitor a wake-up per host read (doc/benchmarks.md: "stdio part,
 * round 3"). */
#define ACK_HOLD_MAX READ_AHEAD_WINDOW
/* How long a held ACK waits for the refill before it goes alone. */
#define ACK_HOLD_NS (100ull * 1000000ull)

enum req_kind { REQ_SIMPLE, REQ_WAIT, REQ_READ, REQ_WRITE, REQ_PASSFD };

struct fe_read_wait {
	struct fe_read_wait *next;
	struct fe_reader *rd;
	struct ttrpc_call *call;
	uint32_t len;
};

/* One (exec id, stream) of one container. */
struct fe_reader {
	struct fe_reader *next;
	struct fe_mon *mon;
	char exec_id[IPC_ID_MAX];
	unsigned stream;
	unsigned inflight; /* READ_STREAM_REQs in flight, at most READ_AHEAD_BATCH */
	struct fe_read_wait *waiters, **waiters_tail;
	unsigned nwaiters;
	/* Bytes received and not yet given to a read (read ahead, or for a
	 * read whose call went away): not acknowledged, given to the next
	 * reads first. They are stash[stash_head .. stash_head + stash_len)
	 * of stash_cap bytes; stash_off is the stream offset of the first. */
	uint8_t *stash;
	size_t stash_head, stash_len, stash_cap;
	uint64_t stash_off;
	/* Read-ahead length: the len of the last read, if its data went into
	 * the host's socket at once; else (and after EOF) 0: no read-ahead. */
	uint32_t ahead_len;
	/* An ACK due now, kept for the READ_STREAM_REQ that may follow
	 * (reader_pump decides when it goes alone); 0: none. acked: the last
	 * offset this reader acknowledged, in a read or alone. */
	uint64_t ack_due, acked;
	/* Armed while an ACK is held for a refill (ack_may_wait): a host that
	 * stops reading gets what it read acknowledged ACK_HOLD_NS later. */
	struct loop_timer *ack_timer;
};

struct fe_write {
	struct fe_mon *mon;
	struct ttrpc_call *call; /* NULL once cancelled */
	char exec_id[IPC_ID_MAX];
	size_t off, len;
	uint8_t data[]; /* the request's, copied: the call outlives it */
};

/* The host streams of one CreateContainer/ExecProcess on their way to the
 * monitor: the call is answered when the last MON_PASSFD_ATTACH is. */
struct fe_attach {
	struct ttrpc_call *call; /* NULL once cancelled */
	unsigned left;
	bool failed;
	struct kerr failure; /* the first refusal */
};

struct mon_req {
	struct ipc_pending req;
	enum req_kind kind;
	struct fe_mon *mon;
	struct ttrpc_call *call; /* SIMPLE, WAIT: NULL once cancelled */
	struct fe_reader *rd;    /* READ */
	struct fe_write *w;      /* WRITE */
	struct fe_attach *at;    /* PASSFD */
};

struct fe_mon {
	struct fe_mon *next;
	struct frontend *fe;
	char container_id[IPC_ID_MAX];
	struct ipc_chan *chan; /* NULL once closed */
	char gone_reason[128];
	struct ipc_pending_list reqs;
	struct fe_reader *readers;
	/* >0 while a function of this file uses the struct: a channel that
	 * closes meanwhile (a send found the peer gone) leaves the freeing to
	 * the outermost user. */
	unsigned busy;
	bool dead;
	/* Tells this channel from a later one of the same container id, for
	 * ACKs that wait for the host's socket (struct pending_ack). */
	uint64_t serial;
	struct hnode by_id; /* in fe->mon_ids while listed */
};

/* An ACK waiting until the reply carrying the bytes has left. */
struct pending_ack {
	struct frontend *fe;
	uint64_t mon_serial;
	char container_id[IPC_ID_MAX];
	struct ipc_stdio_ack ack;
};

static const char *stream_name(unsigned s)
{
	return s == IPC_STREAM_STDERR ? "stderr" : "stdout";
}

/* ---- table of containers ---- */

static void mon_unlink(struct frontend *fe, struct fe_mon *m)
{
	for (struct fe_mon **pp = &fe->mons; *pp; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			fe->n_mons--;
			htab_del(&fe->mon_ids, &m->by_id);
			return;
		}
}

/* The listed channel of container cid: a channel leaves the list (and the
 * table) when it closes, so at most one is listed per id. */
static struct fe_mon *mon_find(struct frontend *fe, const char *cid)
{
	struct hnode *n = htab_find_str(&fe->mon_ids, cid);
	struct fe_mon *m = n ? htab_entry(n, struct fe_mon, by_id) : NULL;
	return m && !m->dead ? m : NULL;
}

static void reader_free(struct fe_reader *rd)
{
	struct fe_mon *m = rd->mon;
	for (struct fe_reader **pp = &m->readers; *pp; pp = &(*pp)->next)
		if (*pp == rd) {
			*pp = rd->next;
			break;
		}
	m->fe->stash_bytes -= rd->stash_len;
	if (rd->ack_timer)
		loop_timer_cancel(m->fe->loop, rd->ack_timer);
	free(rd->stash);
	free(rd);
}

static void reader_maybe_free(struct fe_reader *rd)
{
	if (!rd->inflight && !rd->waiters && rd->stash_len == 0)
		reader_free(rd);
}

static void mon_free(struct fe_mon *m)
{
	while (m->readers) {
		struct fe_reader *rd = m->readers;
		while (rd->waiters) {
			struct fe_read_wait *w = rd->waiters;
			rd->waiters = w->next;
			free(w);
		}
		reader_free(rd);
	}
	struct frontend *fe = m->fe;
	free(m);
	/* The last container gone: give back what the channels and their
	 * stashes took (the front-end kept ~650 KiB after 1000, bench/scale). */
	if (!fe->n_mons)
		malloc_trim(0);
}

static void mon_release(struct fe_mon *m)
{
	if (--m->busy == 0 && m->dead)
		mon_free(m);
}

/* ---- failing everything when the channel goes ---- */

static void fail_call(struct ttrpc_call *call, const struct kerr *failure)
{
	ttrpc_call_set_cancel(call, NULL, NULL);
	ttrpc_call_fail_err(call, failure);
}

static void write_finish(struct fe_write *w, const struct kerr *failure, uint64_t len)
{
	if (w->call) {
		if (failure) {
			fail_call(w->call, failure);
		} else {
			Grpc__WriteStreamResponse resp = GRPC__WRITE_STREAM_RESPONSE__INIT;
			resp.len = (uint32_t)len;
			ttrpc_call_set_cancel(w->call, NULL, NULL);
			ttrpc_call_reply(w->call, &resp.base);
		}
	}
	free(w);
}

static void attach_settle(struct fe_attach *at, const struct kerr *failure)
{
	if (failure && !at->failed) {
		at->failure = *failure;
		at->failed = true;
	}
	if (--at->left)
		return;
	if (at->call) {
		ttrpc_call_set_cancel(at->call, NULL, NULL);
		if (at->failed)
			ttrpc_call_fail_err(at->call, &at->failure);
		else
			ttrpc_call_reply(at->call, NULL);
	}
	free(at);
}

static void on_mon_close(struct ipc_chan *c, const char *reason, void *data)
{
	struct fe_mon *m = data;
	struct frontend *fe = m->fe;
	snprintf(m->gone_reason, sizeof(m->gone_reason), "%s",
		 reason ? reason : "the monitor closed it");
	if (reason)
		log_warn("container %s: monitor channel closed (%s); %zu pending request(s) fail",
			 m->container_id, m->gone_reason, m->reqs.n);
	else
		log_debug("container %s: monitor channel closed", m->container_id);
	m->chan = NULL;
	m->dead = true;
	mon_unlink(fe, m);

	struct kerr failure = { 0 };
	kerr_set_status(&failure, GRPC_UNAVAILABLE, -EPIPE,
			"container %s: monitor channel closed: %s", m->container_id,
			m->gone_reason);
	m->busy++;
	struct ipc_pending *q;
	while ((q = ipc_pending_pop(&m->reqs))) {
		struct mon_req *r = ipc_pending_entry(q, struct mon_req, req);
		if ((r->kind == REQ_SIMPLE || r->kind == REQ_WAIT) && r->call)
			fail_call(r->call, &failure);
		else if (r->kind == REQ_WRITE)
			write_finish(r->w, &failure, 0);
		else if (r->kind == REQ_PASSFD)
			attach_settle(r->at, &failure);
		free(r);
	}
	for (struct fe_reader *rd = m->readers; rd; rd = rd->next) {
		rd->inflight = 0;
		while (rd->waiters) {
			struct fe_read_wait *w = rd->waiters;
			rd->waiters = w->next;
			rd->nwaiters--;
			fail_call(w->call, &failure);
			free(w);
		}
	}
	mon_release(m);
}

/* ---- sending ---- */

/*
 * Register r and send its message. Returns 0 when the request is in flight
 * or the channel closed during the send (then on_mon_close already failed
 * what r carried); negative when nothing was sent and r was freed: the
 * caller answers with err. The caller holds m->busy.
 */
static int mon_send(struct fe_mon *m, struct mon_req *r, uint32_t type, const void *payload,
		    size_t len, int fd, struct kerr *err)
{
	if (!m->chan) {
		free(r);
		return kerr_set_status(err, GRPC_UNAVAILABLE, -EPIPE,
				       "container %s: monitor channel closed: %s", m->container_id,
				       m->gone_reason);
	}
	if (m->reqs.n >= MON_MAX_REQS) {
		free(r);
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -EBUSY,
				       "container %s: %u requests already wait for its monitor",
				       m->container_id, MON_MAX_REQS);
	}
	r->mon = m;
	/* Pending before the send: a send that finds the channel broken
	 * closes it, and on_mon_close fails what is pending. */
	ipc_pending_add(&m->reqs, &r->req, type, ipc_chan_next_id(m->chan));
	int rc = ipc_chan_send(m->chan, type, r->req.id, payload, len, fd, err);
	if (rc < 0) {
		if (m->dead)
			return 0; /* on_mon_close failed r's call and freed r */
		ipc_pending_remove(&m->reqs, &r->req);
		free(r);
		if (kerr_status(err) != GRPC_INVALID_ARGUMENT)
			err->status = GRPC_UNAVAILABLE;
		return rc;
	}
	return 0;
}

static struct mon_req *req_new(enum req_kind kind, struct kerr *err)
{
	struct mon_req *r = calloc(1, sizeof(*r));
	if (!r)
		kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	else
		r->kind = kind;
	return r;
}

static void on_req_cancel(struct ttrpc_call *call, void *data)
{
	struct mon_req *r = data;
	log_debug("container %s: ttRPC call cancelled; the monitor's reply %u will be dropped",
		  r->mon->container_id, r->req.id);
	r->call = NULL;
	ttrpc_call_release(call);
}

/* Lookup for a handler: INVALID_ARGUMENT when the container has no
 * monitor (upstream sandbox_err_to_ttrpc: "Invalid container id"). */
static struct fe_mon *mon_get(struct frontend *fe, const char *cid, struct kerr *err)
{
	struct fe_mon *m = mon_find(fe, cid);
	if (!m)
		kerr_set_status(err, GRPC_INVALID_ARGUMENT, -ENOENT, "Invalid container id %s",
				cid);
	return m;
}

/* SIMPLE and WAIT requests: the call waits for one reply. */
static void call_request(struct frontend *fe, struct ttrpc_call *call, const char *cid,
			 enum req_kind kind, uint32_t type, const void *payload, size_t len)
{
	struct kerr err = { 0 };
	struct fe_mon *m = mon_get(fe, cid, &err);
	struct mon_req *r = m ? req_new(kind, &err) : NULL;
	if (!r) {
		ttrpc_call_fail_err(call, &err);
		return;
	}
	r->call = call;
	ttrpc_call_set_cancel(call, on_req_cancel, r);
	m->busy++;
	if (mon_send(m, r, type, payload, len, -1, &err) < 0) {
		ttrpc_call_set_cancel(call, NULL, NULL);
		ttrpc_call_fail_err(call, &err);
	}
	mon_release(m);
}

/* ---- reads ---- */

static struct fe_reader *reader_get(struct fe_mon *m, const char *eid, unsigned stream)
{
	for (struct fe_reader *rd = m->readers; rd; rd = rd->next)
		if (rd->stream == stream && strcmp(rd->exec_id, eid) == 0)
			return rd;
	struct fe_reader *rd = calloc(1, sizeof(*rd));
	if (!rd)
		return NULL;
	rd->mon = m;
	snprintf(rd->exec_id, sizeof(rd->exec_id), "%s", eid);
	rd->stream = stream;
	rd->waiters_tail = &rd->waiters;
	rd->next = m->readers;
	m->readers = rd;
	return rd;
}

static void waiter_unlink(struct fe_reader *rd, struct fe_read_wait *w)
{
	for (struct fe_read_wait **pp = &rd->waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			if (rd->waiters_tail == &w->next)
				rd->waiters_tail = pp;
			rd->nwaiters--;
			return;
		}
}

static void on_read_cancel(struct ttrpc_call *call, void *data)
{
	struct fe_read_wait *w = data;
	struct fe_reader *rd = w->rd;
	waiter_unlink(rd, w);
	free(w);
	ttrpc_call_release(call);
	reader_maybe_free(rd);
}

static void send_ack(struct fe_mon *m, const struct ipc_stdio_ack *a)
{
	if (!m->chan)
		return;
	struct kerr err = { 0 };
	if (ipc_chan_send(m->chan, IPC_READ_STREAM_ACK, 0, a, sizeof(*a), -1, &err) < 0 && !m->dead)
		log_warn("container %s: READ_STREAM_ACK: %s", m->container_id, err.msg);
}

/* Set by on_reply_sent: deliver() tells whether its reply went out at
 * once (the front-end is single-threaded). */
static bool reply_went_out;
/* deliver()'s reader and ACK while it hands a reply over: a reply that
 * leaves at once leaves its ACK in the reader for the next read to carry.
 * (Replies queued earlier may leave in the same write: theirs go alone.) */
static struct fe_reader *delivering;
static struct pending_ack *delivering_pa;

/* The reply left (or was dropped with its connection): release the bytes,
 * unless the monitor channel they came from is gone meanwhile. */
static void on_reply_sent(void *data, bool sent)
{
	struct pending_ack *pa = data;
	if (pa == delivering_pa) {
		reply_went_out = sent;
		delivering->ack_due = pa->ack.offset;
		free(pa);
		return;
	}
	struct fe_mon *m = mon_find(pa->fe, pa->container_id);
	if (m && m->serial == pa->mon_serial) {
		m->busy++;
		send_ack(m, &pa->ack);
		mon_release(m);
	}
	free(pa);
}

/* The ACK kept for a read that did not follow: alone. */
static void reader_flush_ack(struct fe_reader *rd)
{
	if (!rd->ack_due)
		return;
	struct ipc_stdio_ack a = { .stream = rd->stream, .offset = rd->ack_due };
	memcpy(a.exec_id, rd->exec_id, sizeof(a.exec_id));
	rd->acked = rd->ack_due;
	rd->ack_due = 0;
	send_ack(rd->mon, &a);
}

void monitors_reply_read(struct ttrpc_call *call, const uint8_t *data, size_t n, ttrpc_sent_fn fn,
			 void *fn_data)
{
	/* A ReadStreamResponse is its data field alone (proto3: absent when
	 * empty): the field's key and length, then the bytes. */
	uint8_t key[PBWIRE_LEN_PREFIX_MAX];
	struct iovec resp[2] = {
		{ key, pbwire_bytes_field(key, 1, n) },
		{ (void *)data, n },
	};
	ttrpc_call_reply_iov(call, resp, n ? 2 : 0, fn, fn_data);
}

static void reader_pump(struct fe_reader *rd);

/* The host's connection drained some of its queued answers: try the
 * parked read again (deliver). */
static void on_read_room(struct ttrpc_call *call, void *data)
{
	(void)call;
	struct fe_read_wait *w = data;
	struct fe_reader *rd = w->rd;
	struct fe_mon *m = rd->mon;
	m->busy++;
	reader_pump(rd);
	if (!m->dead)
		reader_maybe_free(rd);
	mon_release(m);
}

/* Hand up to the first waiter's len bytes to it; they are acknowledged
 * once the reply is in the host's socket. Sets rd->ahead_len: the
 * waiter's len if data went into the host's socket at once (the host keeps
 * up: worth reading ahead), else 0. Returns 1 when answered; 0 when the
 * answer finds no room on the host's connection (a host not reading its
 * answers): the waiter stays parked until answers leave (on_read_room);
 * -1 when there is nothing to wait for (no answer queued there): the
 * waiter is answered RESOURCE_EXHAUSTED. Either way short of 1, the bytes
 * are not taken: the caller keeps them (stash), unacknowledged. */
static int deliver(struct fe_reader *rd, const uint8_t *data, size_t n, uint64_t offset)
{
	struct fe_read_wait *w = rd->waiters;
	struct fe_mon *m = rd->mon;
	uint32_t len = w->len;
	if (n && !ttrpc_call_reply_fits(w->call, pbwire_bytes_field_size(1, n))) {
		rd->ahead_len = 0; /* the host does not keep up */
		if (ttrpc_call_wait_room(w->call, on_read_room, w) == 0)
			return 0;
		waiter_unlink(rd, w);
		struct kerr err = { 0 };
		kerr_set_status(&err, GRPC_RESOURCE_EXHAUSTED, -ENOBUFS,
				"container %s: no room for a %s answer in the agent's memory bound; "
				"the output is kept for the next read",
				m->container_id, stream_name(rd->stream));
		fail_call(w->call, &err);
		free(w);
		return -1;
	}
	waiter_unlink(rd, w);
	reply_went_out = false;
	ttrpc_call_set_cancel(w->call, NULL, NULL);
	struct pending_ack *pa = n ? calloc(1, sizeof(*pa)) : NULL;
	if (pa) {
		pa->fe = m->fe;
		pa->mon_serial = m->serial;
		memcpy(pa->container_id, m->container_id, sizeof(pa->container_id));
		pa->ack = (struct ipc_stdio_ack){ .stream = rd->stream, .offset = offset + n };
		memcpy(pa->ack.exec_id, rd->exec_id, sizeof(pa->ack.exec_id));
		delivering = rd;
		delivering_pa = pa;
		monitors_reply_read(w->call, data, n, on_reply_sent, pa);
		delivering = NULL;
		delivering_pa = NULL;
	} else {
		monitors_reply_read(w->call, data, n, NULL, NULL);
		if (n) {
			/* No memory to wait: acknowledge now, as before the
			 * host has it (the one case a front-end crash could
			 * still lose these bytes). */
			struct ipc_stdio_ack a = { .stream = rd->stream, .offset = offset + n };
			memcpy(a.exec_id, rd->exec_id, sizeof(a.exec_id));
			send_ack(m, &a);
		}
	}
	rd->ahead_len = n && reply_went_out ? len : 0;
	free(w);
	return 1;
}

/* Send one READ_STREAM_REQ for rd carrying the ACK due. The caller holds
 * m->busy. */
static int reader_send_read(struct fe_reader *rd, uint32_t max_len, struct kerr *err)
{
	struct mon_req *r = req_new(REQ_READ, err);
	if (!r)
		return err->code;
	r->rd = rd;
	struct ipc_stdio_read q = { .stream = rd->stream, .max_len = max_len, .ack = rd->ack_due };
	memcpy(q.exec_id, rd->exec_id, sizeof(q.exec_id));
	rd->inflight++;
	int rc = mon_send(rd->mon, r, IPC_READ_STREAM_REQ, &q, sizeof(q), -1, err);
	if (rc < 0) {
		rd->inflight--;
		return rc;
	}
	if (rd->ack_due)
		rd->acked = rd->ack_due;
	rd->ack_due = 0;
	return 0;
}

/* How many full chunks the init's read-ahead asks for now: a batch of
 * READ_AHEAD_BATCH once the stash has room for it and nothing is in
 * flight (one wake-up of the monitor and one of ours move the batch),
 * or one when the stash is empty and only the budget stops a batch. */
static unsigned reader_ahead_count(const struct fe_reader *rd)
{
	const struct frontend *fe = rd->mon->fe;
	if (rd->exec_id[0] != '\0' || !rd->ahead_len || rd->inflight)
		return 0;
	size_t room = READ_AHEAD_WINDOW -
		      (rd->stash_len < READ_AHEAD_WINDOW ? rd->stash_len : READ_AHEAD_WINDOW);
	size_t budget = fe->stash_bytes < READ_AHEAD_BUDGET ? READ_AHEAD_BUDGET - fe->stash_bytes
							    : 0;
	size_t n = (room < budget ? room : budget) / IPC_STDIO_CHUNK;
	if (n >= READ_AHEAD_BATCH)
		return READ_AHEAD_BATCH;
	return n && !rd->stash_len ? 1 : 0;
}

/* Serve waiters from the stash, then ask the monitor for more if someone
 * still waits or the stream reads ahead; the first request carries the
 * ACK of what was just delivered. Returns whether it sent one. The caller
 * holds m->busy. */
static bool reader_pump_read(struct fe_reader *rd)
{
	struct fe_mon *m = rd->mon;
	while (rd->waiters && rd->stash_len && m->chan) {
		size_t n = rd->stash_len < rd->waiters->len ? rd->stash_len : rd->waiters->len;
		/* The stash's bytes are sent, or copied to wait, before deliver
		 * returns, and nothing it calls frees the reader (the caller
		 * holds m->busy). */
		int r = deliver(rd, rd->stash + rd->stash_head, n, rd->stash_off);
		if (r == 0)
			break; /* parked: on_read_room pumps again */
		if (r < 0)
			continue;
		rd->stash_head += n;
		rd->stash_len -= n;
		rd->stash_off += n;
		m->fe->stash_bytes -= n;
		if (!rd->stash_len)
			rd->stash_head = 0;
	}
	if (!m->chan || m->dead)
		return false;
	/* A waiter with nothing stashed: one read of its size, unless one in
	 * flight answers it. Else the read-ahead's full chunks, which the
	 * reads take in their sizes. */
	unsigned count;
	uint32_t max_len = IPC_STDIO_CHUNK;
	if (rd->waiters && !rd->stash_len) {
		count = rd->inflight ? 0 : 1;
		max_len = rd->waiters->len;
	} else {
		count = reader_ahead_count(rd);
	}
	struct kerr err = { 0 };
	for (unsigned i = 0; i < count; i++) {
		if (!m->chan || m->dead)
			return i > 0;
		if (reader_send_read(rd, max_len, &err) == 0)
			continue;
		if (i > 0)
			return true; /* the first is on its way: the waiters wait for it */
		while (rd->waiters) {
			struct fe_read_wait *w = rd->waiters;
			waiter_unlink(rd, w);
			fail_call(w->call, &err);
			free(w);
		}
		return false;
	}
	return count > 0;
}

/* Whether the ACK due may wait for a refill that has not gone out yet:
 * an init's stream that reads ahead and whose stash still holds bytes, so
 * the host's next reads take the stash below the refill line and that
 * read carries it (an EOF, an empty stash, ACK_HOLD_NS or a closed channel
 * flush it). An exec's goes at once: its monitor releases it on the last
 * ACK. */
static bool ack_may_wait(const struct fe_reader *rd)
{
	return rd->exec_id[0] == '\0' && rd->ahead_len && rd->stash_len &&
	       rd->ack_due > rd->acked && rd->ack_due - rd->acked <= ACK_HOLD_MAX;
}

/* An ACK due while a read is in flight waits for the read that follows
 * its reply (at most one monitor round trip, which the monitor is busy
 * with anyway), and one due above the refill line for the refill: one
 * message, and one monitor wake-up, less per host read served from the
 * stash. */
static void on_ack_timer(struct loop *l, void *data)
{
	struct fe_reader *rd = data;
	rd->ack_timer = NULL;
	if (!rd->inflight) {
		struct fe_mon *m = rd->mon;
		m->busy++;
		reader_flush_ack(rd);
		mon_release(m);
	}
}

static void reader_pump(struct fe_reader *rd)
{
	if (reader_pump_read(rd) || rd->inflight)
		return;
	if (!ack_may_wait(rd)) {
		reader_flush_ack(rd);
		return;
	}
	if (!rd->ack_timer)
		rd->ack_timer = loop_timer_add(rd->mon->fe->loop, loop_now_ns() + ACK_HOLD_NS,
					       on_ack_timer, rd);
	if (!rd->ack_timer)
		reader_flush_ack(rd); /* no memory for a timer: alone, now */
}

/* Append n bytes at stream offset off to the stash; -ENOMEM. */
static int stash_append(struct fe_reader *rd, const uint8_t *data, size_t n, uint64_t off)
{
	if (rd->stash_head + rd->stash_len + n > rd->stash_cap) {
		if (rd->stash_head) {
			memmove(rd->stash, rd->stash + rd->stash_head, rd->stash_len);
			rd->stash_head = 0;
		}
		if (rd->stash_len + n > rd->stash_cap) {
			uint8_t *b = realloc(rd->stash, rd->stash_len + n);
			if (!b)
				return -ENOMEM;
			rd->stash = b;
			rd->stash_cap = rd->stash_len + n;
		}
	}
	if (!rd->stash_len)
		rd->stash_off = off;
	memcpy(rd->stash + rd->stash_head + rd->stash_len, data, n);
	rd->stash_len += n;
	rd->mon->fe->stash_bytes += n;
	return 0;
}

static void on_read_reply(struct fe_mon *m, struct mon_req *r, const struct ipc_msg *msg,
			  const struct kerr *failure)
{
	struct fe_reader *rd = r->rd;
	if (rd->inflight)
		rd->inflight--;
	if (failure) {
		/* The monitor refused the read (unknown exec, ...): every queued
		 * read of this stream would get the same answer. */
		reader_flush_ack(rd);
		while (rd->waiters) {
			struct fe_read_wait *w = rd->waiters;
			waiter_unlink(rd, w);
			fail_call(w->call, failure);
			free(w);
		}
		reader_maybe_free(rd);
		return;
	}
	const struct ipc_stdio_data *h = msg->in;
	uint64_t offset = h->offset;
	const uint8_t *data = h->data;
	size_t n = msg->len - sizeof(*h);
	if (n == 0) {
		/* EOF. Upstream answers a read at EOF with an empty ReadStreamResponse
		 * (the pipe read returns 0 bytes) and the Kata runtime maps empty
		 * data to io.EOF: do the same, for every read waiting now. */
		while (rd->waiters && !rd->stash_len)
			deliver(rd, NULL, 0, 0);
		rd->ahead_len = 0;
		reader_flush_ack(rd);
		reader_maybe_free(rd);
		return;
	}
	if (rd->stash_len && offset != rd->stash_off + rd->stash_len) {
		/* The monitor sends each stream in order from what we ACKed. */
		log_error("container %s: %s data at offset %llu after %llu stashed bytes at %llu",
			  m->container_id, stream_name(rd->stream), (unsigned long long)offset,
			  (unsigned long long)rd->stash_len, (unsigned long long)rd->stash_off);
		reader_flush_ack(rd);
		if (m->chan)
			ipc_chan_close(m->chan, "stdio data out of order");
		return;
	}
	if (rd->waiters && !rd->stash_len) {
		size_t give = n < rd->waiters->len ? n : rd->waiters->len;
		/* Not taken (the host's connection has no room): all of it is
		 * stashed, unacknowledged, for when the reader is pumped again. */
		if (deliver(rd, data, give, offset) > 0) {
			data += give;
			n -= give;
			offset += give;
		}
	}
	if (n && stash_append(rd, data, n, offset) < 0) {
		/* Not acknowledged: the monitor re-sends it to the next
		 * front-end; this one closes the channel to get there (after
		 * acknowledging what the host got). */
		reader_flush_ack(rd);
		if (m->chan)
			ipc_chan_close(m->chan, "out of memory for stdio data");
		return;
	}
	reader_pump(rd);
	if (!m->dead)
		reader_maybe_free(rd);
}

void monitors_read_stream(struct frontend *fe, struct ttrpc_call *call, const char *cid,
			  const char *eid, unsigned stream, uint32_t len)
{
	struct kerr err = { 0 };
	struct fe_mon *m = mon_get(fe, cid, &err);
	if (!m) {
		ttrpc_call_fail_err(call, &err);
		return;
	}
	struct fe_reader *rd = reader_get(m, eid, stream);
	if (!rd) {
		ttrpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	if (rd->nwaiters >= MON_MAX_READ_WAITERS) {
		ttrpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED,
				"container %s exec \"%s\": %u reads of %s already wait", cid, eid,
				MON_MAX_READ_WAITERS, stream_name(stream));
		return;
	}
	struct fe_read_wait *w = calloc(1, sizeof(*w));
	if (!w) {
		reader_maybe_free(rd);
		ttrpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	w->rd = rd;
	w->call = call;
	w->len = len;
	*rd->waiters_tail = w;
	rd->waiters_tail = &w->next;
	rd->nwaiters++;
	ttrpc_call_set_cancel(call, on_read_cancel, w);
	m->busy++;
	reader_pump(rd);
	if (!m->dead)
		reader_maybe_free(rd);
	mon_release(m);
}

/* ---- writes ---- */

static void on_write_cancel(struct ttrpc_call *call, void *data)
{
	struct fe_write *w = data;
	w->call = NULL;
	ttrpc_call_release(call);
}

/* Send the next chunk of w; on failure w is finished (and freed). The
 * caller holds m->busy. */
static void write_next(struct fe_write *w)
{
	struct fe_mon *m = w->mon;
	size_t left = w->len - w->off;
	size_t n = left < IPC_STDIO_CHUNK ? left : IPC_STDIO_CHUNK;
	static uint8_t buf[sizeof(struct ipc_stdio_write) + IPC_STDIO_CHUNK];
	struct kerr err = { 0 };
	struct mon_req *r = req_new(REQ_WRITE, &err);
	if (!r) {
		write_finish(w, &err, 0);
		return;
	}
	r->w = w;
	memcpy(buf, w->exec_id, IPC_ID_MAX);
	memcpy(buf + sizeof(struct ipc_stdio_write), w->data + w->off, n);
	if (mon_send(m, r, IPC_WRITE_STDIN_REQ, buf, sizeof(struct ipc_stdio_write) + n, -1, &err) <
	    0)
		write_finish(w, &err, 0);
}

static void on_write_reply(struct fe_mon *m, struct mon_req *r, const struct ipc_msg *msg,
			   const struct kerr *failure)
{
	struct fe_write *w = r->w;
	if (failure) {
		write_finish(w, failure, 0);
		return;
	}
	const struct ipc_stdio_written *d = msg->in;
	size_t left = w->len - w->off;
	if (d->len > left || d->len > IPC_STDIO_CHUNK) {
		struct kerr e = { 0 };
		kerr_set_status(&e, GRPC_INTERNAL, -EPROTO,
				"monitor reports %llu bytes written of %zu",
				(unsigned long long)d->len, left);
		write_finish(w, &e, 0);
		if (m->chan)
			ipc_chan_close(m->chan, "WRITE_STDIN_REPLY beyond the request");
		return;
	}
	w->off += d->len;
	if (w->off == w->len || !w->call) {
		/* Done, or nobody is waiting for the rest any more. */
		write_finish(w, NULL, w->off);
		return;
	}
	write_next(w);
}

void monitors_write_stdin(struct frontend *fe, struct ttrpc_call *call,
			  const Grpc__WriteStreamRequest *req)
{
	struct kerr err = { 0 };
	struct fe_mon *m = mon_get(fe, req->container_id, &err);
	if (!m) {
		ttrpc_call_fail_err(call, &err);
		return;
	}
	struct fe_write *w = malloc(sizeof(*w) + req->data.len);
	if (!w) {
		ttrpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	*w = (struct fe_write){ .mon = m, .call = call, .len = req->data.len };
	memcpy(w->data, req->data.data, req->data.len);
	snprintf(w->exec_id, sizeof(w->exec_id), "%s",
		 ipc_exec_name(req->container_id, req->exec_id));
	ttrpc_call_set_cancel(call, on_write_cancel, w);
	m->busy++;
	write_next(w);
	mon_release(m);
}

/* ---- the other requests ---- */

void monitors_close_stdin(struct frontend *fe, struct ttrpc_call *call, const char *cid,
			  const char *eid)
{
	struct ipc_exec_ref q = { 0 };
	snprintf(q.container_id, sizeof(q.container_id), "%s", cid);
	snprintf(q.exec_id, sizeof(q.exec_id), "%s", eid);
	call_request(fe, call, cid, REQ_SIMPLE, IPC_CLOSE_STDIN_REQ, &q, sizeof(q));
}

void monitors_tty_win_resize(struct frontend *fe, struct ttrpc_call *call, const char *cid,
			     const char *eid, uint16_t rows, uint16_t cols)
{
	struct ipc_tty_resize q = { .rows = rows, .cols = cols };
	snprintf(q.exec_id, sizeof(q.exec_id), "%s", eid);
	call_request(fe, call, cid, REQ_SIMPLE, IPC_TTY_WIN_RESIZE_REQ, &q, sizeof(q));
}

void monitors_wait_process(struct frontend *fe, struct ttrpc_call *call, const char *cid,
			   const char *eid)
{
	struct ipc_exec_ref q = { 0 };
	snprintf(q.container_id, sizeof(q.container_id), "%s", cid);
	snprintf(q.exec_id, sizeof(q.exec_id), "%s", eid);
	call_request(fe, call, cid, REQ_WAIT, IPC_WAIT_PROCESS_REQ, &q, sizeof(q));
}

/* ---- host streams (passfd.c) ---- */

static void on_attach_cancel(struct ttrpc_call *call, void *data)
{
	struct fe_attach *at = data;
	at->call = NULL;
	ttrpc_call_release(call);
}

/* One MON_PASSFD_ATTACH; fd is closed here (the channel sent a copy).
 * The caller holds m->busy and a count in at->left. */
static int attach_one(struct fe_mon *m, struct fe_attach *at, const char *eid, unsigned stream,
		      int fd, struct kerr *err)
{
	cleanup_close int sock = fd;
	struct mon_req *r = req_new(REQ_PASSFD, err);
	if (!r)
		return err->code;
	r->at = at;
	struct ipc_passfd_attach q = { .stream = stream };
	snprintf(q.exec_id, sizeof(q.exec_id), "%s", eid);
	at->left++;
	int rc = mon_send(m, r, IPC_MON_PASSFD_ATTACH, &q, sizeof(q), sock, err);
	if (rc < 0)
		at->left--; /* r is freed, nothing was sent */
	return rc;
}

void monitors_passfd_attach(struct frontend *fe, struct ttrpc_call *call, const char *cid,
			    const char *eid, int fds[3])
{
	struct kerr err = { 0 };
	struct fe_mon *m = mon_get(fe, cid, &err);
	struct fe_attach *at = m ? calloc(1, sizeof(*at)) : NULL;
	if (!at) {
		if (m)
			kerr_set_status(&err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
		ttrpc_call_fail_err(call, &err);
		return;
	}
	at->call = call;
	at->left = 1; /* ours, until every attach is sent */
	ttrpc_call_set_cancel(call, on_attach_cancel, at);
	m->busy++;
	for (unsigned i = 0; i < 3; i++) {
		if (fds[i] < 0)
			continue;
		int fd = fds[i];
		fds[i] = -1;
		if (attach_one(m, at, eid, i, fd, &err) < 0) {
			/* the rest close with the caller's op */
			at->failure = at->failed ? at->failure : err;
			at->failed = true;
			break;
		}
	}
	attach_settle(at, NULL);
	mon_release(m);
}

/* ---- replies ---- */

static int on_reply(struct ipc_chan *c, struct ipc_msg *msg, void *data, struct kerr *err)
{
	struct fe_mon *m = data;
	struct ipc_pending *q = ipc_pending_match(&m->reqs, msg, err);
	if (!q)
		return err->code;
	struct mon_req *r = ipc_pending_entry(q, struct mon_req, req);
	struct kerr failure = { 0 };
	const struct kerr *fp = ipc_error_decode(msg, &failure) ? &failure : NULL;
	m->busy++;
	switch (r->kind) {
	case REQ_SIMPLE:
		if (r->call) {
			ttrpc_call_set_cancel(r->call, NULL, NULL);
			if (fp)
				ttrpc_call_fail_err(r->call, fp);
			else
				ttrpc_call_reply(r->call, NULL);
		}
		break;
	case REQ_WAIT:
		if (r->call) {
			ttrpc_call_set_cancel(r->call, NULL, NULL);
			if (fp) {
				ttrpc_call_fail_err(r->call, fp);
			} else {
				const struct ipc_wait_reply *w = msg->in;
				Grpc__WaitProcessResponse resp = GRPC__WAIT_PROCESS_RESPONSE__INIT;
				resp.status = w->status;
				ttrpc_call_reply(r->call, &resp.base);
			}
		}
		break;
	case REQ_READ:
		on_read_reply(m, r, fp ? NULL : msg, fp);
		break;
	case REQ_WRITE:
		on_write_reply(m, r, fp ? NULL : msg, fp);
		break;
	case REQ_PASSFD:
		attach_settle(r->at, fp);
		break;
	}
	free(r);
	mon_release(m);
	return 0;
}

static const struct ipc_dispatch monitor_table[] = {
	{ IPC_REPLIES, on_reply },
	{ 0, NULL },
};

/* ---- attach ---- */

int monitors_attach(struct frontend *fe, const char *cid, int fd, struct kerr *err)
{
	cleanup_close int sock = fd;
	if (!ipc_id_valid(cid, false))
		return kerr_set(err, -EINVAL, "MONITOR_ATTACH for an invalid container id");
	struct hnode *n = htab_find_str(&fe->mon_ids, cid);
	struct fe_mon *old = n ? htab_entry(n, struct fe_mon, by_id) : NULL;
	if (old && old->chan) {
		log_info("container %s: new monitor channel replaces the old one", cid);
		ipc_chan_close(old->chan, "replaced by a new MONITOR_ATTACH");
	} else if (old) {
		mon_unlink(fe, old); /* keeps the ids in the table unique */
	}
	struct fe_mon *m = calloc(1, sizeof(*m));
	if (!m)
		return kerr_set(err, -ENOMEM, "container %s: out of memory", cid);
	m->fe = fe;
	m->serial = ++fe->mon_serial;
	snprintf(m->container_id, sizeof(m->container_id), "%s", cid);
	char name[64];
	snprintf(name, sizeof(name), "monitor:%.40s", cid);
	if (htab_add_str(&fe->mon_ids, &m->by_id, m->container_id) < 0) {
		free(m);
		return kerr_set(err, -ENOMEM, "container %s: out of memory", cid);
	}
	if (ipc_chan_new(&m->chan, fe->loop, take_fd(&sock), name, IPC_ROLE_MONITOR, monitor_table,
			 on_mon_close, m, err) < 0) {
		htab_del(&fe->mon_ids, &m->by_id);
		free(m);
		return err->code;
	}
	m->next = fe->mons;
	fe->mons = m;
	fe->n_mons++;
	log_debug("container %s: monitor channel attached", cid);
	return 0;
}

bool monitors_known(struct frontend *fe, const char *cid)
{
	return mon_find(fe, cid) != NULL;
}

void monitors_stop(struct frontend *fe)
{
	while (fe->mons) {
		struct fe_mon *m = fe->mons;
		if (m->chan)
			ipc_chan_close(m->chan, "front-end shutting down");
		else
			mon_unlink(fe, m);
	}
	htab_free(&fe->mon_ids);
}
