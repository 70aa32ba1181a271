/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ttrpc.c - event loop, transports, ttRPC framing, server and client.
 *
 * Server tests run the loop in this process and the client in a forked
 * child, which reports through its exit status (and "# " lines on stdout).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "tap.h"
#include "testutil.h"
#include "grpc_status.h"
#include "log.h"
#include "agent.pb-c.h"
#include "loop.h"
#include "pbwire.h"
#include "quota.h"
#include "transport.h"
#include "ttrpc.h"
#include "ttrpc.pb-c.h"

/* ---------------------------------------------------------------- loop */

static int order[8], norder;

static void rec_timer(struct loop *l, void *data)
{
	order[norder++] = (int)(intptr_t)data;
	if (norder == 3)
		loop_quit(l);
}

TEST(loop_timers_fire_in_deadline_order)
{
	struct loop *l;
	REQUIRE(loop_new(&l, NULL) == 0);
	uint64_t now = loop_now_ns();
	norder = 0;
	loop_timer_add(l, now + 30000000, rec_timer, (void *)3);
	loop_timer_add(l, now + 10000000, rec_timer, (void *)1);
	struct loop_timer *x = loop_timer_add(l, now + 15000000, rec_timer, (void *)9);
	loop_timer_add(l, now + 20000000, rec_timer, (void *)2);
	loop_timer_cancel(l, x);
	CHECK(loop_run(l, NULL) == 0);
	CHECK(loop_now_ns() - now >= 30000000);
	CHECK_EQ_INT(norder, 3);
	CHECK_EQ_INT(order[0], 1);
	CHECK_EQ_INT(order[1], 2);
	CHECK_EQ_INT(order[2], 3);
	loop_free(l);
}

static int pipes[2][2], fired[2];

static void del_other_cb(struct loop *l, int fd, uint32_t events, void *data)
{
	int me = (int)(intptr_t)data;
	fired[me]++;
	loop_del(l, pipes[!me][0]);
	loop_del(l, fd);
}

static void quit_cb(struct loop *l, void *data)
{
	loop_quit(l);
}

TEST(loop_watch_removed_in_callback_does_not_fire)
{
	struct loop *l;
	REQUIRE(loop_new(&l, NULL) == 0);
	for (int i = 0; i < 2; i++) {
		REQUIRE(pipe2(pipes[i], O_CLOEXEC) == 0);
		REQUIRE(write(pipes[i][1], "x", 1) == 1);
		REQUIRE(loop_add(l, pipes[i][0], EPOLLIN, del_other_cb, (void *)(intptr_t)i,
				 NULL) == 0);
		fired[i] = 0;
	}
	struct kerr err;
	CHECK(loop_add(l, pipes[0][0], EPOLLIN, del_other_cb, NULL, &err) == -EEXIST);
	loop_timer_add(l, loop_now_ns() + 20000000, quit_cb, NULL);
	CHECK(loop_run(l, NULL) == 0);
	CHECK_EQ_INT(fired[0] + fired[1], 1);
	loop_del(l, 12345); /* unwatched: harmless */
	for (int i = 0; i < 2; i++) {
		close(pipes[i][0]);
		close(pipes[i][1]);
	}
	loop_free(l);
}

/* ------------------------------------------------------------- framing */

TEST(header_encode_decode)
{
	struct ttrpc_frame_header h = { .length = 0x01020304,
					.stream_id = 0xa0b0c0d1,
					.type = 2,
					.flags = 5 },
				  d;
	uint8_t b[TTRPC_HEADER_LEN];
	ttrpc_header_encode(b, &h);
	static const uint8_t want[] = { 1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd1, 2, 5 };
	CHECK(memcmp(b, want, sizeof(want)) == 0);
	ttrpc_header_decode(b, &d);
	CHECK_EQ_INT(d.length, h.length);
	CHECK_EQ_INT(d.stream_id, h.stream_id);
	CHECK_EQ_INT(d.type, 2);
	CHECK_EQ_INT(d.flags, 5);
}

TEST(header_check_request)
{
	struct kerr err;
	struct ttrpc_frame_header h = { .length = 10, .stream_id = 1, .type = 1 };
	CHECK(ttrpc_header_check_request(&h, &err) == 0);
	h.length = TTRPC_MAX_PAYLOAD;
	CHECK(ttrpc_header_check_request(&h, &err) == 0);
	h.length = TTRPC_MAX_PAYLOAD + 1;
	CHECK(ttrpc_header_check_request(&h, &err) < 0);
	h.length = 10;
	h.stream_id = 2;
	CHECK(ttrpc_header_check_request(&h, &err) < 0);
	h.stream_id = 0;
	CHECK(ttrpc_header_check_request(&h, &err) < 0);
	h.stream_id = 3;
	h.type = 2;
	CHECK(ttrpc_header_check_request(&h, &err) < 0);
	h.type = 3;
	CHECK(ttrpc_header_check_request(&h, &err) < 0);
	CHECK(strstr(err.msg, "data frame") != NULL);
	h.type = 2;
	CHECK(ttrpc_header_check_response(&h, &err) == 0);
}

static size_t make_request(uint8_t *buf, uint32_t sid, const char *svc, const char *method,
			   int64_t timeout)
{
	Ttrpc__Request r = TTRPC__REQUEST__INIT;
	r.service = (char *)svc;
	r.method = (char *)method;
	r.timeout_nano = timeout;
	size_t n = ttrpc__request__pack(&r, buf + TTRPC_HEADER_LEN);
	struct ttrpc_frame_header h = { .length = (uint32_t)n, .stream_id = sid, .type = 1 };
	ttrpc_header_encode(buf, &h);
	return n + TTRPC_HEADER_LEN;
}

TEST(parse_request_partial_full_bad)
{
	uint8_t buf[256];
	size_t n = make_request(buf, 7, "svc", "M", 0);
	struct ttrpc_frame_header h;
	Ttrpc__Request *req;
	size_t used;
	struct kerr err;
	for (size_t i = 0; i < n; i++) {
		CHECK(ttrpc_parse_request(buf, i, &used, &h, &req, &err) == 0);
		CHECK_EQ_INT(used, 0);
	}
	REQUIRE(ttrpc_parse_request(buf, n, &used, &h, &req, &err) == 1);
	CHECK_EQ_INT(used, n);
	CHECK_EQ_INT(h.stream_id, 7);
	CHECK_EQ_STR(req->service, "svc");
	CHECK_EQ_STR(req->method, "M");
	ttrpc__request__free_unpacked(req, NULL);
	/* An oversized frame fails on its header alone. */
	struct ttrpc_frame_header big = { .length = 5u << 20, .stream_id = 1, .type = 1 };
	ttrpc_header_encode(buf, &big);
	CHECK(ttrpc_parse_request(buf, TTRPC_HEADER_LEN, &used, &h, &req, &err) < 0);
	/* Garbage protobuf: a length-delimited field running past the end. */
	static const uint8_t junk[] = { 0x0a, 0x50, 'a' };
	struct ttrpc_frame_header jh = { .length = sizeof(junk), .stream_id = 1, .type = 1 };
	ttrpc_header_encode(buf, &jh);
	memcpy(buf + TTRPC_HEADER_LEN, junk, sizeof(junk));
	CHECK(ttrpc_parse_request(buf, TTRPC_HEADER_LEN + sizeof(junk), &used, &h, &req, &err) < 0);
	CHECK(strstr(err.msg, "undecodable") != NULL);
}

/* ----------------------------------------------------------- transport */

TEST(addr_parse_good_forms)
{
	struct addr a;
	struct kerr err;
	char buf[160];
	REQUIRE(addr_parse("vsock://-1:1024", &a, &err) == 0);
	CHECK_EQ_INT(a.kind, ADDR_VSOCK);
	CHECK_EQ_INT(a.cid, VMADDR_CID_ANY);
	CHECK_EQ_INT(a.port, 1024);
	CHECK_EQ_STR(addr_format(&a, buf, sizeof(buf)), "vsock://-1:1024");
	REQUIRE(addr_parse("vsock://3:4294967295", &a, &err) == 0);
	CHECK_EQ_INT(a.cid, 3);
	CHECK_EQ_INT(a.port, 4294967295u);
	REQUIRE(addr_parse("unix:///run/kata/agent.sock", &a, &err) == 0);
	CHECK_EQ_INT(a.kind, ADDR_UNIX);
	CHECK(!a.abstract);
	CHECK_EQ_STR(a.path, "/run/kata/agent.sock");
	CHECK_EQ_STR(addr_format(&a, buf, sizeof(buf)), "unix:///run/kata/agent.sock");
	REQUIRE(addr_parse("unix://@kata-agent", &a, &err) == 0);
	CHECK(a.abstract);
	CHECK_EQ_STR(a.path, "kata-agent");
	CHECK_EQ_STR(addr_format(&a, buf, sizeof(buf)), "unix://@kata-agent");
	REQUIRE(addr_parse("hvsock:///run/vc/kata.hvsock:1024", &a, &err) == 0);
	CHECK_EQ_INT(a.kind, ADDR_HVSOCK);
	CHECK_EQ_STR(a.path, "/run/vc/kata.hvsock");
	CHECK_EQ_INT(a.port, 1024);
	CHECK_EQ_STR(addr_format(&a, buf, sizeof(buf)), "hvsock:///run/vc/kata.hvsock:1024");
}

TEST(addr_parse_bad_forms)
{
	static const char *bad[] = {
		"",
		"tcp://1.2.3.4:5",
		"vsock://",
		"vsock://3",
		"vsock://x:1",
		"vsock://-2:1",
		"vsock://3:",
		"vsock://3:99999999999",
		"vsock://3:-1",
		"vsock://3:1x",
		"unix://",
		"unix://relative",
		"unix://@",
		"hvsock://",
		"hvsock:///p",
		"hvsock:///p:",
		"hvsock:///p:x",
		"hvsock://rel:1",
		"vsock:/3:1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct addr a;
		struct kerr err = { 0 };
		int r = addr_parse(bad[i], &a, &err);
		if (r != -EINVAL)
			printf("# '%s' parsed (r=%d)\n", bad[i], r);
		CHECK_EQ_INT(r, -EINVAL);
		CHECK(strstr(err.msg, bad[i]) != NULL);
	}
	char longp[300] = "unix:///";
	memset(longp + 8, 'a', 200);
	struct addr a;
	struct kerr err;
	CHECK_EQ_INT(addr_parse(longp, &a, &err), -EINVAL);
	CHECK(strstr(err.msg, "longer") != NULL);
}

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
	static char p[128];
	if (!tmpdir[0]) {
		strcpy(tmpdir, "/tmp/test-ttrpc.XXXXXX");
		if (!mkdtemp(tmpdir))
			abort();
	}
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	return p;
}

TEST(unix_listen_connect_and_stale_socket)
{
	char addr[160];
	snprintf(addr, sizeof(addr), "unix://%s", tmp_path("l.sock"));
	struct addr a;
	struct kerr err;
	REQUIRE(addr_parse(addr, &a, &err) == 0);
	int l1 = addr_listen(&a, &err);
	REQUIRE(l1 >= 0);
	CHECK(fcntl(l1, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(l1, F_GETFD) & FD_CLOEXEC);
	close(l1);
	/* The file is left behind: the next listen replaces it. */
	int l2 = addr_listen(&a, &err);
	if (l2 < 0)
		printf("# %s\n", err.msg);
	REQUIRE(l2 >= 0);
	int c = addr_connect(&a, 1000000000, &err);
	CHECK(c >= 0);
	CHECK(!(fcntl(c, F_GETFL) & O_NONBLOCK));
	close(c);
	close(l2);
	/* A regular file is not clobbered. */
	int f = open(tmp_path("file"), O_CREAT | O_WRONLY, 0600);
	close(f);
	snprintf(addr, sizeof(addr), "unix://%s", tmp_path("file"));
	REQUIRE(addr_parse(addr, &a, &err) == 0);
	CHECK(addr_listen(&a, &err) < 0);
	unlink(tmp_path("file"));
	/* Abstract namespace. */
	snprintf(addr, sizeof(addr), "unix://@test-ttrpc-%d", getpid());
	REQUIRE(addr_parse(addr, &a, &err) == 0);
	int l3 = addr_listen(&a, &err);
	REQUIRE(l3 >= 0);
	c = addr_connect(&a, 0, &err);
	CHECK(c >= 0);
	close(c);
	close(l3);
	CHECK(addr_connect(&a, 0, &err) == -ECONNREFUSED);
	CHECK(strstr(err.msg, "test-ttrpc") != NULL);
	/* hvsock cannot listen */
	snprintf(addr, sizeof(addr), "hvsock://%s:5", tmp_path("h"));
	REQUIRE(addr_parse(addr, &a, &err) == 0);
	CHECK_EQ_INT(addr_listen(&a, &err), -EINVAL);
}

/* A fake hybrid-vsock multiplexer: answers CONNECT and sends stream bytes
 * right behind the OK line, which the client must not swallow. */
static void hv_mux(int lfd, const char *reply)
{
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		_exit(1);
	char line[64];
	size_t n = 0;
	while (n < sizeof(line) - 1 && read(fd, line + n, 1) == 1 && line[n] != '\n')
		n++;
	line[n] = 0;
	if (strcmp(line, "CONNECT 1024") != 0)
		_exit(2);
	if (write(fd, reply, strlen(reply)) < 0)
		_exit(3);
	char b[16];
	while (read(fd, b, sizeof(b)) > 0)
		;
	_exit(0);
}

TEST(hvsock_handshake)
{
	struct addr la, ha;
	struct kerr err;
	char addr[160];
	snprintf(addr, sizeof(addr), "unix://%s", tmp_path("hv.sock"));
	REQUIRE(addr_parse(addr, &la, &err) == 0);
	snprintf(addr, sizeof(addr), "hvsock://%s:1024", tmp_path("hv.sock"));
	REQUIRE(addr_parse(addr, &ha, &err) == 0);
	static const char *replies[] = { "OK 1073741824\nTTRPC", "NO\n" };
	for (int i = 0; i < 2; i++) {
		int lfd = addr_listen(&la, &err);
		REQUIRE(lfd >= 0);
		fflush(stdout);
		pid_t pid = fork();
		REQUIRE(pid >= 0);
		if (pid == 0) {
			int fl = fcntl(lfd, F_GETFL);
			fcntl(lfd, F_SETFL, fl & ~O_NONBLOCK);
			hv_mux(lfd, replies[i]);
		}
		close(lfd);
		int fd = addr_connect(&ha, 2000000000ull, &err);
		if (i == 0) {
			CHECK(fd >= 0);
			char b[5] = { 0 };
			CHECK(fd >= 0 && read(fd, b, 5) == 5);
			CHECK(memcmp(b, "TTRPC", 5) == 0);
		} else {
			CHECK(fd < 0);
			CHECK(strstr(err.msg, "refused") != NULL);
		}
		if (fd >= 0)
			close(fd);
		int st;
		waitpid(pid, &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
}

TEST(quota_reserve_limit_pool)
{
	struct quota_pool pool = { .limit = 100 };
	struct quota a, b;
	quota_init(&a, &pool, 10, 80);
	quota_init(&b, &pool, 10, 80);
	CHECK_EQ_INT(quota_take(&a, 10), 0); /* the reserve: the pool is untouched */
	CHECK_EQ_INT(pool.used, 0);
	CHECK_EQ_INT(quota_take(&a, 71), -ENOSPC); /* past a's own limit */
	CHECK_EQ_INT(quota_take(&a, 70), 0);
	CHECK_EQ_INT(pool.used, 70);
	CHECK_EQ_INT(quota_take(&b, 45), -EAGAIN); /* 10 reserved + 35 > 30 left */
	CHECK_EQ_INT(quota_take(&b, 40), 0);
	CHECK_EQ_INT(pool.used, 100);
	CHECK_EQ_INT(quota_take(&b, 1), -EAGAIN);
	quota_give(&a, 75); /* a keeps 5, inside its reserve */
	CHECK_EQ_INT(pool.used, 30);
	quota_force(&b, 80); /* past b's limit and the pool: granted, and counted */
	CHECK_EQ_INT(pool.used, 110);
	CHECK_EQ_INT(quota_take(&a, 5), 0);       /* a's reserve still holds */
	CHECK_EQ_INT(quota_take(&a, 1), -EAGAIN); /* beyond it, the pool is spent */
	quota_give(&b, 80);
	CHECK_EQ_INT(pool.used, 30);
	quota_give(&a, 5);
	quota_detach(&b); /* b's pool share goes back; its later gives are its own */
	CHECK_EQ_INT(pool.used, 0);
	CHECK_EQ_INT(quota_take(&b, 1), -EAGAIN);
	quota_give(&b, 40);
	CHECK_EQ_INT(b.used, 0);
	CHECK_EQ_INT(pool.used, 0);
}

/* -------------------------------------------------------------- server */

struct fx {
	struct loop *l;
	struct ttrpc_server *s;
	char addr[160];
	struct deferred *held[128];
	int nheld;
	int cancels;
	int dispatched;
	int big_dispatched_early;
	/* server_backpressure_...: the client says "all sent" on sent[1], the
	 * server "counted" on counted[1] once dispatching stopped */
	int sent[2], counted[2];
	bool all_sent;
	int last_dispatched, still;
	int late_replies;
	/* ttrpc_call_reply_iov's notifications: told while it ran (the frame
	 * went out whole at once), told later (the rest waited in the queue),
	 * and told "not sent" */
	int sent_inline, sent_later, sent_false;
	/* ttrpc_call_wait_room: waits begun, and answers refused with
	 * nothing to wait for */
	int room_waits, room_refused;
	bool in_reply;
	pid_t child;
	int child_status;
	bool child_done;
	uint64_t give_up;
};

static struct fx *fx_cur;

/* A reply given later, echoing the payload: the payload is only readable
 * inside dispatch, so it is copied there. */
struct deferred {
	struct ttrpc_call *c;
	size_t n;
	uint8_t p[64];
};

static struct deferred *defer(struct ttrpc_call *c, bool in_dispatch)
{
	struct deferred *d = calloc(1, sizeof(*d));
	d->c = c;
	if (in_dispatch) {
		const uint8_t *p = ttrpc_call_payload(c, &d->n);
		d->n = d->n < sizeof(d->p) ? d->n : sizeof(d->p);
		memcpy(d->p, p, d->n);
	}
	return d;
}

static void reply_timer(struct loop *l, void *data)
{
	struct deferred *d = data;
	ttrpc_call_reply_raw(d->c, d->p, d->n);
	free(d);
}

static void hang_cancel(struct ttrpc_call *c, void *data)
{
	struct fx *f = data;
	f->cancels++;
	if (ttrpc_call_deadline(c) && ttrpc_call_cancelled(c)) {
		ttrpc_call_release(c);
		return;
	}
	/* Disconnected: answer later anyway; the answer must be dropped safely. */
	f->late_replies++;
	loop_timer_add(f->l, loop_now_ns() + 5000000, reply_timer, defer(c, false));
}

static void on_iov_sent(void *data, bool sent)
{
	struct fx *f = data;
	if (!sent)
		f->sent_false++;
	else if (f->in_reply)
		f->sent_inline++;
	else
		f->sent_later++;
}

/* The bytes a ReadStream-shaped answer of n bytes carries for seed. */
static void read_pattern(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seed + (i >> 12));
}

/* Answer c with a ReadStreamResponse of n pattern bytes: packed by
 * protobuf-c (ttrpc_call_reply_notify), or as the front-end's deliver()
 * does, sent from the caller's bytes (ttrpc_call_reply_iov), which are
 * scribbled over once the call returned: the server keeps no reference. */
static void reply_read(struct fx *f, struct ttrpc_call *c, bool iov, size_t n, unsigned seed)
{
	uint8_t *b = malloc(n ? n : 1);
	if (!b) {
		ttrpc_call_fail(c, GRPC_INTERNAL, "test: out of memory");
		return;
	}
	read_pattern(b, n, seed);
	if (iov) {
		uint8_t key[PBWIRE_LEN_PREFIX_MAX];
		struct iovec v[2] = { { key, pbwire_bytes_field(key, 1, n) }, { b, n } };
		f->in_reply = true;
		ttrpc_call_reply_iov(c, v, n ? 2 : 0, on_iov_sent, f);
		f->in_reply = false;
		memset(key, 0xee, sizeof(key));
	} else {
		Grpc__ReadStreamResponse rs = GRPC__READ_STREAM_RESPONSE__INIT;
		rs.data.data = b;
		rs.data.len = n;
		ttrpc_call_reply_notify(c, &rs.base, on_iov_sent, f);
	}
	memset(b, 0xee, n);
	free(b);
}

/* "Read" payload: "<p|i> <n> <seed>" (p: packed, i: in pieces). */
static void dispatch_read(struct fx *f, struct ttrpc_call *c, const uint8_t *p, size_t n)
{
	char arg[64];
	snprintf(arg, sizeof(arg), "%.*s", (int)(n < 63 ? n : 63), (const char *)p);
	char how;
	size_t len;
	unsigned seed;
	if (sscanf(arg, "%c %zu %u", &how, &len, &seed) != 3) {
		ttrpc_call_fail(c, GRPC_INVALID_ARGUMENT, "test: bad Read argument");
		return;
	}
	reply_read(f, c, how == 'i', len, seed);
}

#define ROOM_N (TTRPC_MAX_PAYLOAD - 16)

/* Answer c with ROOM_N bytes in pieces once they fit, as the front-end's
 * deliver() does: never refused for want of room while answers can drain. */
static void reply_when_room(struct fx *f, struct ttrpc_call *c);

static void on_room(struct ttrpc_call *c, void *data)
{
	reply_when_room(data, c);
}

static void reply_when_room(struct fx *f, struct ttrpc_call *c)
{
	if (ttrpc_call_reply_fits(c, 1 + pbwire_varint_len(ROOM_N) + ROOM_N)) {
		reply_read(f, c, true, ROOM_N, 0);
	} else if (ttrpc_call_wait_room(c, on_room, f) == 0) {
		f->room_waits++;
	} else {
		f->room_refused++;
		ttrpc_call_fail(c, GRPC_RESOURCE_EXHAUSTED, "test: no room, nothing to wait for");
	}
}

static void dispatch(struct ttrpc_call *c, void *data)
{
	struct fx *f = data;
	const char *m = ttrpc_call_method(c);
	size_t n;
	const uint8_t *p = ttrpc_call_payload(c, &n);
	f->dispatched++;
	if (strcmp(ttrpc_call_service(c), "test.Svc") != 0) {
		ttrpc_call_fail(c, GRPC_UNIMPLEMENTED, "unknown service %s", ttrpc_call_service(c));
	} else if (strcmp(m, "Echo") == 0) {
		ttrpc_call_reply_raw(c, p, n);
	} else if (strcmp(m, "Decode") == 0) {
		/* hold the call with its decoded request, as a parked call does */
		struct kerr err;
		ProtobufCMessage *req = ttrpc_call_unpack(c, &ttrpc__request__descriptor, &err);
		if (!req) {
			ttrpc_call_fail_err(c, &err);
			return;
		}
		protobuf_c_message_free_unpacked(req, NULL);
		if (f->nheld < 128)
			f->held[f->nheld++] = defer(c, false);
		else
			ttrpc_call_fail(c, GRPC_INTERNAL, "test holds 128 calls already");
	} else if (strcmp(m, "Release") == 0) {
		for (int i = 0; i < f->nheld; i++)
			reply_timer(f->l, f->held[i]);
		f->nheld = 0;
		ttrpc_call_reply_raw(c, NULL, 0);
	} else if (strcmp(m, "Rev") == 0) {
		f->held[f->nheld++] = defer(c, true);
		if (f->nheld == 64) {
			uint64_t now = loop_now_ns();
			for (int i = 0; i < 64; i++)
				loop_timer_add(f->l, now + (uint64_t)(64 - i) * 300000, reply_timer,
					       f->held[i]);
			f->nheld = 0;
		}
	} else if (strcmp(m, "Hang") == 0) {
		ttrpc_call_set_cancel(c, hang_cancel, f);
	} else if (strcmp(m, "Slow") == 0) {
		loop_timer_add(f->l, loop_now_ns() + 50000000, reply_timer, defer(c, true));
	} else if (strcmp(m, "Fail") == 0) {
		ttrpc_call_fail(c, GRPC_NOT_FOUND, "no such thing: %.*s", (int)n, (const char *)p);
	} else if (strcmp(m, "Big") == 0) {
		static uint8_t big[1 << 20];
		ttrpc_call_reply_raw(c, big, sizeof(big));
	} else if (strcmp(m, "Read") == 0) {
		dispatch_read(f, c, p, n);
	} else if (strcmp(m, "Park") == 0) {
		if (f->nheld < 128)
			f->held[f->nheld++] = defer(c, false);
		else
			ttrpc_call_fail(c, GRPC_INTERNAL, "test holds 128 calls already");
	} else if (strcmp(m, "ReleaseIov") == 0) {
		/* every parked call gets 4 MiB less 16 bytes, in pieces, at once */
		for (int i = 0; i < f->nheld; i++) {
			reply_read(f, f->held[i]->c, true, TTRPC_MAX_PAYLOAD - 16, (unsigned)i);
			free(f->held[i]);
		}
		f->nheld = 0;
		ttrpc_call_reply_raw(c, NULL, 0);
	} else if (strcmp(m, "ReleaseRoom") == 0) {
		for (int i = 0; i < f->nheld; i++) {
			reply_when_room(f, f->held[i]->c);
			free(f->held[i]);
		}
		f->nheld = 0;
		ttrpc_call_reply_raw(c, NULL, 0);
	} else if (strcmp(m, "Count") == 0) {
		char out[32];
		snprintf(out, sizeof(out), "%d", f->big_dispatched_early);
		ttrpc_call_reply_raw(c, (const uint8_t *)out, strlen(out));
	} else {
		ttrpc_call_fail(c, GRPC_UNIMPLEMENTED, "unknown method %s", m);
	}
}

static int fx_start(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	struct kerr err;
	if (loop_new(&f->l, &err) < 0)
		return -1;
	snprintf(f->addr, sizeof(f->addr), "unix://%s", tmp_path("srv.sock"));
	struct addr a;
	if (addr_parse(f->addr, &a, &err) < 0)
		return -1;
	int lfd = addr_listen(&a, &err);
	if (lfd < 0)
		return -1;
	if (ttrpc_server_new(&f->s, f->l, lfd, dispatch, f, &err) < 0)
		return -1;
	fx_cur = f;
	return 0;
}

static void settle_cb(struct loop *l, void *data);

static void fx_stop(struct fx *f)
{
	/* let handler timers (late replies) run so every call is released */
	loop_timer_add(f->l, loop_now_ns() + 30000000, settle_cb, NULL);
	loop_run(f->l, NULL);
	ttrpc_server_free(f->s);
	loop_free(f->l);
}

static void child_poll(struct loop *l, void *data)
{
	struct fx *f = data;
	int st;
	if (!f->child_done && waitpid(f->child, &st, WNOHANG) == f->child) {
		f->child_done = true;
		f->child_status = st;
	}
	if (f->child_done && ttrpc_server_connections(f->s) == 0) {
		loop_quit(l);
		return;
	}
	if (loop_now_ns() > f->give_up) {
		printf("# timed out waiting for the client (done=%d, connections=%u)\n",
		       f->child_done, ttrpc_server_connections(f->s));
		if (!f->child_done) {
			kill(f->child, SIGKILL);
			waitpid(f->child, &f->child_status, 0);
			f->child_done = true;
		}
		loop_quit(l);
		return;
	}
	loop_timer_add(l, loop_now_ns() + 2000000, child_poll, f);
}

/* Fork the client, serve until it exited and every connection closed.
 * Returns the client's exit code (or 99 on a signal/timeout). */
static int fx_run_client(struct fx *f, int (*client)(struct fx *))
{
	fflush(stdout);
	f->child = fork();
	if (f->child == 0) {
		signal(SIGPIPE, SIG_IGN);
		int rc = client(f);
		fflush(stdout);
		_exit(rc);
	}
	f->child_done = false;
	f->give_up = loop_now_ns() + 20000000000ull;
	loop_timer_add(f->l, loop_now_ns() + 1000000, child_poll, f);
	loop_run(f->l, NULL);
	/* drop pending helper timers by running until idle is not possible;
	 * they are freed with the loop */
	if (!WIFEXITED(f->child_status))
		return 99;
	return WEXITSTATUS(f->child_status);
}

#define CCHECK(cond)                                                                     \
	do {                                                                             \
		if (!(cond)) {                                                           \
			printf("# child %s:%d: %s failed\n", __FILE__, __LINE__, #cond); \
			fflush(stdout);                                                  \
			return 1;                                                        \
		}                                                                        \
	} while (0)

static struct ttrpc_client *cconnect(struct fx *f)
{
	struct ttrpc_client *c;
	struct kerr err;
	if (ttrpc_client_connect(&c, f->addr, 2000000000ull, &err) < 0) {
		printf("# child: %s\n", err.msg);
		return NULL;
	}
	return c;
}

static int client_unary(struct fx *f)
{
	struct ttrpc_client *c = cconnect(f);
	CCHECK(c);
	struct kerr err = { 0 };
	uint8_t *out = NULL;
	size_t n = 0;
	int r = ttrpc_client_call_raw(c, "test.Svc", "Echo", (const uint8_t *)"hello", 5, 0, &out,
				      &n, &err);
	CCHECK(r == 0);
	CCHECK(n == 5 && memcmp(out, "hello", 5) == 0);
	free(out);
	/* empty payload both ways */
	r = ttrpc_client_call_raw(c, "test.Svc", "Echo", NULL, 0, 0, &out, &n, &err);
	CCHECK(r == 0 && n == 0 && out == NULL);
	/* error mapping */
	r = ttrpc_client_call_raw(c, "test.Svc", "Fail", (const uint8_t *)"x", 1, 0, &out, &n,
				  &err);
	CCHECK(r == -ENOENT);
	CCHECK(err.status == GRPC_NOT_FOUND);
	CCHECK(strcmp(err.msg, "no such thing: x") == 0);
	r = ttrpc_client_call_raw(c, "other.Svc", "X", NULL, 0, 0, &out, &n, &err);
	CCHECK(r < 0 && err.status == GRPC_UNIMPLEMENTED);
	/* typed call: a Status message as a stand-in request/response type */
	Ttrpc__Status st = TTRPC__STATUS__INIT;
	st.code = 7;
	st.message = "typed";
	ProtobufCMessage *resp = NULL;
	r = ttrpc_client_call(c, "test.Svc", "Echo", &st.base, &ttrpc__status__descriptor, &resp, 0,
			      &err);
	CCHECK(r == 0);
	Ttrpc__Status *rs = (Ttrpc__Status *)resp;
	CCHECK(rs->code == 7 && strcmp(rs->message, "typed") == 0);
	protobuf_c_message_free_unpacked(resp, NULL);
	/* call waits for its own stream, buffering an earlier one for recv */
	uint32_t id;
	CCHECK(ttrpc_client_send(c, "test.Svc", "Echo", (const uint8_t *)"first", 5, 0, NULL, 0,
				 &id, &err) == 0);
	r = ttrpc_client_call_raw(c, "test.Svc", "Slow", (const uint8_t *)"second", 6, 0, &out, &n,
				  &err);
	CCHECK(r == 0 && n == 6 && memcmp(out, "second", 6) == 0);
	free(out);
	uint32_t rid;
	int status;
	char *msg = NULL;
	CCHECK(ttrpc_client_recv(c, &rid, &status, &msg, &out, &n, &err) == 0);
	CCHECK(rid == id && status == 0 && msg == NULL);
	CCHECK(n == 5 && memcmp(out, "first", 5) == 0);
	free(out);
	ttrpc_client_free(c);
	/* transport failure maps to UNAVAILABLE */
	int sv[2];
	CCHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	close(sv[1]);
	CCHECK(ttrpc_client_from_fd(&c, sv[0], &err) == 0);
	r = ttrpc_client_call_raw(c, "test.Svc", "Echo", NULL, 0, 0, &out, &n, &err);
	CCHECK(r < 0 && err.status == GRPC_UNAVAILABLE);
	r = ttrpc_client_call_raw(c, "test.Svc", "Echo", NULL, 0, 0, &out, &n, &err);
	CCHECK(r < 0 && err.status == GRPC_UNAVAILABLE);
	ttrpc_client_free(c);
	return 0;
}

TEST(server_unary_and_client_errors)
{
	struct fx f;
	REQUIRE(fx_start(&f) == 0);
	CHECK_EQ_INT(fx_run_client(&f, client_unary), 0);
	fx_stop(&f);
}

static int client_64(struct fx *f)
{
	struct ttrpc_client *c = cconnect(f);
	CCHECK(c);
	struct kerr err;
	uint32_t ids[64];
	for (int i = 0; i < 64; i++) {
		char p[16];
		int n = snprintf(p, sizeof(p), "%d", i);
		CCHECK(ttrpc_client_send(c, "test.Svc", "Rev", (const uint8_t *)p, (size_t)n, 0,
					 NULL, 0, &ids[i], &err) == 0);
		CCHECK(ids[i] == (uint32_t)(2 * i + 1));
	}
	for (int k = 0; k < 64; k++) {
		uint32_t id;
		int status;
		char *msg = NULL;
		uint8_t *out = NULL;
		size_t n;
		CCHECK(ttrpc_client_recv(c, &id, &status, &msg, &out, &n, &err) == 0);
		int want = 63 - k;
		char p[16];
		snprintf(p, sizeof(p), "%d", want);
		if (id != ids[want])
			printf("# child: response %d was stream %u, expected %u\n", k, id,
			       ids[want]);
		CCHECK(id == ids[want]);
		CCHECK(status == 0 && n == strlen(p) && memcmp(out, p, n) == 0);
		free(out);
		free(msg);
	}
	ttrpc_client_free(c);
	return 0;
}

TEST(server_64_in_flight_answered_in_reverse)
{
	struct fx f;
	REQUIRE(fx_start(&f) == 0);
	CHECK_EQ_INT(fx_run_client(&f, client_64), 0);
	CHECK_EQ_INT(f.dispatched, 64);
	fx_stop(&f);
}

/* Move exactly len bytes (write, or read when reading): 0, or -1. */
/* A request envelope (service, method) followed by n empty metadata
 * entries, two bytes each on the wire: what made a 64 MiB flood cost the
 * front-end 1.9 GB when envelopes were kept decoded. Returns its length. */
static size_t metadata_envelope(uint8_t *buf, const char *method, size_t n)
{
	size_t off = 0;
	buf[off++] = 0x0a;
	buf[off++] = (uint8_t)strlen("test.Svc");
	memcpy(buf + off, "test.Svc", strlen("test.Svc"));
	off += strlen("test.Svc");
	buf[off++] = 0x12;
	buf[off++] = (uint8_t)strlen(method);
	memcpy(buf + off, method, strlen(method));
	off += strlen(method);
	for (size_t i = 0; i < n; i++) {
		buf[off++] = 0x2a;
		buf[off++] = 0x00;
	}
	return off;
}

/* One whole response frame from fd (a client that only sent so far):
 * malloc'd, *len its size with the header; NULL on a read failure. */
static uint8_t *read_frame(int fd, size_t *len)
{
	uint8_t h[TTRPC_HEADER_LEN];
	if (tu_read_all(fd, h, sizeof(h)) < 0)
		return NULL;
	struct ttrpc_frame_header fh;
	ttrpc_header_decode(h, &fh);
	if (fh.length > TTRPC_MAX_PAYLOAD)
		return NULL;
	uint8_t *b = malloc(TTRPC_HEADER_LEN + fh.length);
	if (!b)
		return NULL;
	memcpy(b, h, sizeof(h));
	if (tu_read_all(fd, b + TTRPC_HEADER_LEN, fh.length) < 0) {
		free(b);
		return NULL;
	}
	*len = TTRPC_HEADER_LEN + fh.length;
	return b;
}

/* Send one raw request frame and read one response: its gRPC status, or -1. */
static int raw_call(int fd, uint32_t sid, const uint8_t *env, size_t len)
{
	uint8_t h[TTRPC_HEADER_LEN];
	struct ttrpc_frame_header fh = { .length = (uint32_t)len, .stream_id = sid, .type = 1 };
	ttrpc_header_encode(h, &fh);
	if (tu_write_all(fd, h, sizeof(h)) < 0 || tu_write_all(fd, (void *)env, len) < 0)
		return -1;
	size_t n;
	uint8_t *resp = read_frame(fd, &n);
	int status = -1;
	if (resp)
		ttrpc_header_decode(resp, &fh);
	if (resp && fh.stream_id == sid) {
		Ttrpc__Response *r = ttrpc__response__unpack(NULL, n - TTRPC_HEADER_LEN,
							     resp + TTRPC_HEADER_LEN);
		if (r) {
			status = r->status ? r->status->code : 0;
			ttrpc__response__free_unpacked(r, NULL);
		}
	}
	free(resp);
	return status;
}

static int client_meta(struct fx *f)
{
	struct ttrpc_client *c = cconnect(f);
	CCHECK(c);
	struct kerr err;
	/* metadata as the Go shim forwards it: accepted (and not kept) */
	struct ttrpc_md md[] = { { "containerd-namespace-ttrpc", "k8s.io" }, { "k", "v" } };
	uint32_t id;
	CCHECK(ttrpc_client_send(c, "test.Svc", "Echo", (const uint8_t *)"m", 1, 0, md, 2, &id,
				 &err) == 0);
	int status;
	char *msg = NULL;
	uint8_t *out = NULL;
	size_t n;
	CCHECK(ttrpc_client_recv(c, &id, &status, &msg, &out, &n, &err) == 0);
	CCHECK(status == 0 && n == 1 && out[0] == 'm');
	free(out);
	ttrpc_client_free(c);

	/* a 4 MiB envelope of empty entries decodes into ~60x its size: refused
	 * while decoding, and the connection goes on serving */
	struct addr a;
	CCHECK(addr_parse(f->addr, &a, &err) == 0);
	int fd = addr_connect(&a, 2000000000ull, &err);
	CCHECK(fd >= 0);
	size_t cap = TTRPC_MAX_PAYLOAD;
	uint8_t *env = malloc(cap);
	CCHECK(env);
	size_t len = metadata_envelope(env, "Echo", (cap - 32) / 2);
	CCHECK(raw_call(fd, 1, env, len) == GRPC_RESOURCE_EXHAUSTED);
	len = metadata_envelope(env, "Echo", 100);
	CCHECK(raw_call(fd, 3, env, len) == 0);
	free(env);
	close(fd);
	return 0;
}

TEST(server_metadata_accepted_and_flood_refused)
{
	struct fx f;
	REQUIRE(fx_start(&f) == 0);
	CHECK_EQ_INT(fx_run_client(&f, client_meta), 0);
	fx_stop(&f);
}

/* Decode requests held parked until Release: each holds a decoded request
 * of ~6 MiB (96 Ki empty metadata entries in its payload). */
#define HOLD_ENTRIES (96u << 10)
#define HOLD_CONNS 8

static int send_hold(struct ttrpc_client *c, const uint8_t *payload, size_t len, uint32_t *ids)
{
	struct kerr err;
	for (int k = 0; k < 2; k++)
		if (ttrpc_client_send(c, "test.Svc", "Decode", payload, len, 0, NULL, 0, &ids[k],
				      &err) < 0)
			return -1;
	return 0;
}

/* Wait for stream want's answer on c; answers of other streams are counted
 * by status into ok/exhausted. */
static int recv_until(struct ttrpc_client *c, uint32_t want, int *ok, int *exhausted)
{
	for (;;) {
		uint32_t id;
		int status;
		char *msg = NULL;
		uint8_t *out = NULL;
		size_t n;
		struct kerr err;
		if (ttrpc_client_recv(c, &id, &status, &msg, &out, &n, &err) < 0)
			return -1;
		free(msg);
		free(out);
		if (id == want)
			return status;
		if (status == 0)
			(*ok)++;
		else if (status == GRPC_RESOURCE_EXHAUSTED)
			(*exhausted)++;
		else
			return -1;
	}
}

static int client_pool(struct fx *f)
{
	struct ttrpc_client *c[HOLD_CONNS];
	uint32_t ids[HOLD_CONNS][2];
	uint8_t *payload = malloc(HOLD_ENTRIES * 2 + 64);
	CCHECK(payload);
	size_t plen = metadata_envelope(payload, "x", HOLD_ENTRIES);
	int ok = 0, exhausted = 0;
	struct kerr err;
	for (int i = 0; i < HOLD_CONNS; i++) {
		c[i] = cconnect(f);
		CCHECK(c[i] && send_hold(c[i], payload, plen, ids[i]) == 0);
		uint32_t echo;
		CCHECK(ttrpc_client_send(c[i], "test.Svc", "Echo", NULL, 0, 0, NULL, 0, &echo,
					 &err) == 0);
		int st = recv_until(c[i], echo, &ok, &exhausted);
		CCHECK(st == 0 || st == GRPC_RESOURCE_EXHAUSTED);
	}
	printf("# refused while the pool was spent: %d of %d\n", exhausted, 2 * HOLD_CONNS);
	CCHECK(exhausted > 0);
	/* a new connection still gets its reserve: small calls pass; a 4 MiB
	 * request does not fit and is skipped unread, the connection goes on */
	struct ttrpc_client *fresh = cconnect(f);
	CCHECK(fresh);
	uint8_t *out = NULL;
	size_t n;
	CCHECK(ttrpc_client_call_raw(fresh, "test.Svc", "Echo", (const uint8_t *)"r", 1, 0, &out,
				     &n, &err) == 0);
	free(out);
	size_t bigsz = (4u << 20) - 256;
	uint8_t *big = calloc(1, bigsz);
	CCHECK(big);
	int r = ttrpc_client_call_raw(fresh, "test.Svc", "Echo", big, bigsz, 0, &out, &n, &err);
	CCHECK(r < 0 && err.status == GRPC_RESOURCE_EXHAUSTED);
	CCHECK(ttrpc_client_call_raw(fresh, "test.Svc", "Release", NULL, 0, 0, &out, &n, &err) == 0);
	for (int i = 0; i < HOLD_CONNS; i++) {
		uint32_t echo;
		CCHECK(ttrpc_client_send(c[i], "test.Svc", "Echo", NULL, 0, 0, NULL, 0, &echo,
					 &err) == 0);
		CCHECK(recv_until(c[i], echo, &ok, &exhausted) == 0);
		ttrpc_client_free(c[i]);
	}
	CCHECK(ok + exhausted == 2 * HOLD_CONNS && ok >= 8);
	/* all given back: the big request passes now */
	r = ttrpc_client_call_raw(fresh, "test.Svc", "Echo", big, bigsz, 0, &out, &n, &err);
	CCHECK(r == 0 && n == bigsz);
	free(out);
	free(big);
	free(payload);
	ttrpc_client_free(fresh);
	return 0;
}

TEST(server_memory_pool_refuses_then_recovers)
{
	struct fx f;
	REQUIRE(fx_start(&f) == 0);
	CHECK_EQ_INT(fx_run_client(&f, client_pool), 0);
	fx_stop(&f);
}

/* MAX_CONNS in ttrpc_server.c */
#define SERVER_MAX_CONNS 64

static int client_conn_limit(struct fx *f)
{
	struct ttrpc_client *c[SERVER_MAX_CONNS + 1];
	struct kerr err;
	uint8_t *out;
	size_t n;
	for (int i = 0; i <= SERVER_MAX_CONNS; i++) {
		c[i] = cconnect(f);
		CCHECK(c[i]);
		int r = ttrpc_client_call_raw(c[i], "test.Svc", "Echo", NULL, 0, 0, &out, &n, &err);
		if (i < SERVER_MAX_CONNS)
			CCHECK(r == 0);
		else
			CCHECK(r < 0 && err.status == GRPC_UNAVAILABLE);
	}
	ttrpc_client_free(c[SERVER_MAX_CONNS]);
	ttrpc_client_free(c[0]);
	/* a slot is free once the server saw the close: retry a bounded time */
	int r = -1;
	for (int tries = 0; tries < 200 && r != 0; tries++) {
		struct ttrpc_client *again = cconnect(f);
		CCHECK(again);
		r = ttrpc_client_call_raw(again, "test.Svc", "Echo", NULL, 0, 0, &out, &n, &err);
		ttrpc_client_free(again);
		if (r != 0)
			usleep(10000);
	}
	CCHECK(r == 0);
	for (int i = 1; i < SERVER_MAX_CONNS; i++)
		ttrpc_client_free(c[i]);
	return 0;
}

TEST(server_connection_limit)
{
	struct fx f;
	REQUIRE(fx_start(&f) == 0);
	CHECK_EQ_INT(fx_run_client(&f, client_conn_limit), 0);
	fx_stop(&f);
}

static int client_deadline(struct fx *f)
{
	struct ttrpc_client *c = cconnect(f);
	CCHECK(c);
	struct kerr err;
	uint8_t *out = NULL;
	size_t n;
	int r = ttrpc_client_call_raw(c, "test.Svc", "Hang", NULL, 0, 1, &out, &n, &err);
	CCHECK(r == -ETIMEDOUT && err.status == GRPC_DEADLINE_EXCEEDED);
	r = ttrpc_client_call_raw(c, "test.Svc", "Hang", NULL, 0, 20000000, &out, &n, &err);
	CCHECK(r < 0 && err.status == GRPC_DEADLINE_EXCEEDED);
	/* the connection still serves */
	r = ttrpc_client_call_raw(c, "test.Svc", "Echo", (const uint8_t *)"ok", 2, 1000000000, &out,
				  &n, &err);
	CCHECK(r == 0 && n == 2);
	free(out);
	ttrpc_client_free(c);
	return 0;
}

TEST(server_deadline_exceeded_keeps_connection)
{
	struct fx f;
	REQUIRE(fx_start(&f) == 0);
	CHECK_EQ_INT(fx_run_client(&f, client_deadline), 0);
	CHECK_EQ_INT(f.cancels, 2);
	CHECK_EQ_INT(f.late_replies, 0);
	fx_stop(&f);
}

/* Send raw bytes on a fresh connection and expect the server to close it,
 * while a good connection keeps working. */
static int bad_conn(struct fx *f, struct ttrpc_client *good, const char *what, const uint8_t *b,
		    size_t n, bool shut)
{
	struct addr a;
	struct kerr err;
	if (addr_parse(f->addr, &a, &err) < 0)
		return 1;
	int fd = addr_connect(&a, 1000000000, &err);
	CCHECK(fd >= 0);
	size_t off = 0;
	while (off < n) {
		ssize_t w = send(fd, b + off, n - off, MSG_NOSIGNAL);
		if (w <= 0)
			break; /* the server may close before taking it all */
		off += (size_t)w;
	}
	if (shut)
		shutdown(fd, SHUT_WR);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	bool closed = false;
	uint64_t end = loop_now_ns() + 3000000000ull;
	while (loop_now_ns() < end && poll(&p, 1, 3000) == 1) {
		char buf[4096];
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r <= 0) {
			closed = true;
			break;
		}
	}
	close(fd);
	if (!closed)
		printf("# child: %s: connection not closed\n", what);
	CCHECK(closed);
	uint8_t *out = NULL;
	size_t on;
	int r = ttrpc_client_call_raw(good, "test.Svc", "Echo", (const uint8_t *)"alive", 5, 0,
				      &out, &on, &err);
	if (r < 0)
		printf("# child: after %s: %s\n", what, err.msg);
	CCHECK(r == 0 && on == 5);
	free(out);
	return 0;
}

static int client_bad_frames(struct fx *f)
{
	struct ttrpc_client *good = cconnect(f);
	CCHECK(good);
	uint8_t b[512];
	size_t n;
	struct ttrpc_frame_header h;

	memcpy(b, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
	CCHECK(bad_conn(f, good, "garbage", b, 27, false) == 0);

	/* truncated protobuf inside a complete frame */
	n = make_request(b, 1, "test.Svc", "Echo", 0);
	h = (struct ttrpc_frame_header){ .length = (uint32_t)(n - TTRPC_HEADER_LEN - 4),
					 .stream_id = 1,
					 .type = 1 };
	ttrpc_header_encode(b, &h);
	CCHECK(bad_conn(f, good, "truncated request", b, n - 4, false) == 0);

	/* truncated frame: the peer stops half way */
	n = make_request(b, 1, "test.Svc", "Echo", 0);
	CCHECK(bad_conn(f, good, "half frame", b, n - 3, true) == 0);

	/* 5 MiB frame */
	size_t bign = TTRPC_HEADER_LEN + (5u << 20);
	uint8_t *big = calloc(1, bign);
	CCHECK(big);
	h = (struct ttrpc_frame_header){ .length = 5u << 20, .stream_id = 1, .type = 1 };
	ttrpc_header_encode(big, &h);
	CCHECK(bad_conn(f, good, "5 MiB frame", big, bign, false) == 0);
	free(big);

	n = make_request(b, 2, "test.Svc", "Echo", 0);
	CCHECK(bad_conn(f, good, "even stream id", b, n, false) == 0);
	n = make_request(b, 0, "test.Svc", "Echo", 0);
	CCHECK(bad_conn(f, good, "stream id 0", b, n, false) == 0);
	n = make_request(b, 1, "test.Svc", "Echo", 0);
	b[8] = TTRPC_TYPE_DATA;
	CCHECK(bad_conn(f, good, "data frame", b, n, false) == 0);
	n = make_request(b, 1, "test.Svc", "Echo", 0);
	b[8] = TTRPC_TYPE_RESPONSE;
	CCHECK(bad_conn(f, good, "response frame", b, n, false) == 0);
	/* duplicate in-flight stream id */
	n = make_request(b, 5, "test.Svc", "Hang", 0);
	memcpy(b + n, b, n);
	CCHECK(bad_conn(f, good, "duplicate stream", b, 2 * n, false) == 0);

	ttrpc_client_free(good);
	return 0;
}

TEST(server_bad_frames_close_only_that_connection)
{
	struct fx f;
	REQUIRE(fx_start(&f) == 0);
	CHECK_EQ_INT(fx_run_client(&f, client_bad_frames), 0);
	/* the Hang call of the duplicate-stream connection got cancelled */
	CHECK_EQ_INT(f.cancels, 1);
	fx_stop(&f);
}

static int client_disconnect(struct fx *f)
{
	struct ttrpc_client *c = cconnect(f);
	CCHECK(c);
	struct kerr err;
	uint32_t id;
	CCHECK(ttrpc_client_send(c, "test.Svc", "Hang", NULL, 0, 0, NULL, 0, &id, &err) == 0);
	CCHECK(ttrpc_client_send(c, "test.Svc", "Hang", NULL, 0, 0, NULL, 0, &id, &err) == 0);
	/* make sure both arrived before going away */
	uint8_t *out;
	size_t n;
	CCHECK(ttrpc_client_call_raw(c, "test.Svc", "Echo", NULL, 0, 0, &out, &n, &err) == 0);
	ttrpc_client_free(c);
	return 0;
}

static void settle_cb(struct loop *l, void *data)
{
	loop_quit(l);
}

TEST(server_cancel_on_disconnect_and_late_reply)
{
	struct fx f;
	REQUIRE(fx_start(&f) == 0);
	CHECK_EQ_INT(fx_run_client(&f, client_disconnect), 0);
	CHECK_EQ_INT(f.cancels, 2);
	CHECK_EQ_INT(f.late_replies, 2);
	/* let the late replies go to the closed connection */
	loop_timer_add(f.l, loop_now_ns() + 30000000, settle_cb, NULL);
	loop_run(f.l, NULL);
	CHECK_EQ_INT(ttrpc_server_connections(f.s), 0);
	fx_stop(&f);
}

/* Count the dispatched requests once the client sent all 100 and the
 * server took no more for 100 ms of its own loop, then let the client read
 * (a count taken at a fixed time came before a client slow to start had
 * sent anything: 0). */
static void backpressure_probe(struct loop *l, void *data)
{
	struct fx *f = data;
	char b;
	if (!f->all_sent && read(f->sent[0], &b, 1) == 1)
		f->all_sent = true;
	f->still = f->all_sent && f->dispatched == f->last_dispatched ? f->still + 1 : 0;
	f->last_dispatched = f->dispatched;
	if (f->still < 5 && loop_now_ns() < f->give_up) {
		loop_timer_add(l, loop_now_ns() + 20000000, backpressure_probe, f);
		return;
	}
	f->big_dispatched_early = f->dispatched;
	if (write(f->counted[1], "c", 1) != 1)
		printf("# could not tell the client: %m\n");
}

static int client_backpressure(struct fx *f)
{
	struct ttrpc_client *c = cconnect(f);
	CCHECK(c);
	struct kerr err;
	for (int i = 0; i < 100; i++) {
		uint32_t id;
		CCHECK(ttrpc_client_send(c, "test.Svc", "Big", NULL, 0, 0, NULL, 0, &id, &err) == 0);
	}
	/* not reading until the server counted: it must stop taking requests */
	CCHECK(write(f->sent[1], "s", 1) == 1);
	CCHECK(tu_wait_readable(f->counted[0], 30000) > 0);
	for (int i = 0; i < 100; i++) {
		uint32_t id;
		int status;
		char *msg = NULL;
		uint8_t *out = NULL;
		size_t n;
		CCHECK(ttrpc_client_recv(c, &id, &status, &msg, &out, &n, &err) == 0);
		CCHECK(status == 0 && n == (1u << 20));
		free(out);
	}
	ttrpc_client_free(c);
	return 0;
}

TEST(server_backpressure_when_client_does_not_read)
{
	struct fx f;
	REQUIRE(fx_start(&f) == 0);
	REQUIRE(pipe2(f.sent, O_CLOEXEC | O_NONBLOCK) == 0 && pipe2(f.counted, O_CLOEXEC) == 0);
	loop_timer_add(f.l, loop_now_ns() + 20000000, backpressure_probe, &f);
	CHECK_EQ_INT(fx_run_client(&f, client_backpressure), 0);
	printf("# dispatched before the client read: %d of 100\n", f.big_dispatched_early);
	CHECK(f.big_dispatched_early > 0 && f.big_dispatched_early < 20);
	CHECK_EQ_INT(f.dispatched, 100);
	fx_stop(&f);
	for (int i = 0; i < 2; i++) {
		close(f.sent[i]);
		close(f.counted[i]);
	}
}

static int client_many_conns(struct fx *f)
{
	struct ttrpc_client *c[20];
	struct kerr err;
	for (int i = 0; i < 20; i++) {
		c[i] = cconnect(f);
		CCHECK(c[i]);
	}
	for (int i = 19; i >= 0; i--) {
		uint8_t *out;
		size_t n;
		CCHECK(ttrpc_client_call_raw(c[i], "test.Svc", "Echo", (const uint8_t *)"z", 1, 0,
					     &out, &n, &err) == 0);
		free(out);
		ttrpc_client_free(c[i]);
	}
	return 0;
}

TEST(server_many_connections)
{
	struct fx f;
	REQUIRE(fx_start(&f) == 0);
	CHECK_EQ_INT(fx_run_client(&f, client_many_conns), 0);
	CHECK_EQ_INT(f.dispatched, 20);
	fx_stop(&f);
}

static void free_with_pending(struct loop *l, void *data)
{
	struct fx *f = data;
	if (f->dispatched < 1) {
		loop_timer_add(l, loop_now_ns() + 2000000, free_with_pending, f);
		return;
	}
	ttrpc_server_free(f->s);
	f->s = NULL;
	loop_quit(l);
}

TEST(server_free_cancels_pending_calls)
{
	struct fx f;
	REQUIRE(fx_start(&f) == 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct ttrpc_client *c = cconnect(&f);
		struct kerr err;
		uint8_t *out;
		size_t n;
		int r = c ? ttrpc_client_call_raw(c, "test.Svc", "Hang", NULL, 0, 0, &out, &n, &err)
			  : 0;
		_exit(r < 0 && err.status == GRPC_UNAVAILABLE ? 0 : 1);
	}
	loop_timer_add(f.l, loop_now_ns() + 2000000, free_with_pending, &f);
	loop_run(f.l, NULL);
	int st;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_EQ_INT(f.cancels, 1);
	/* the late reply timer still references the call: run it */
	loop_timer_add(f.l, loop_now_ns() + 20000000, settle_cb, NULL);
	loop_run(f.l, NULL);
	loop_free(f.l);
}

/* ------------------------------- server: replies from the caller's bytes */

/* Whether frame (len bytes) is an OK response carrying a ReadStreamResponse
 * of n pattern bytes for seed. */
static bool frame_has_read(const uint8_t *frame, size_t len, size_t n, unsigned seed)
{
	Ttrpc__Response *r = ttrpc__response__unpack(NULL, len - TTRPC_HEADER_LEN,
						     frame + TTRPC_HEADER_LEN);
	if (!r)
		return false;
	bool ok = false;
	Grpc__ReadStreamResponse *rs = NULL;
	uint8_t *want = malloc(n ? n : 1);
	if (want && (!r->status || r->status->code == 0))
		rs = grpc__read_stream_response__unpack(NULL, r->payload.len, r->payload.data);
	if (rs && rs->data.len == n) {
		read_pattern(want, n, seed);
		ok = n == 0 || memcmp(rs->data.data, want, n) == 0;
	}
	free(want);
	grpc__read_stream_response__free_unpacked(rs, NULL);
	ttrpc__response__free_unpacked(r, NULL);
	return ok;
}

/* The largest data a ReadStreamResponse carries in one frame (as
 * test_pbwire.c computes it from protobuf-c's sizes). */
#define LARGEST_READ (TTRPC_MAX_PAYLOAD - 12)

static int client_iov_bytes(struct fx *f)
{
	static const size_t sizes[] = { 0,     1,     127,   128,          16383,
					16384, 32768, 65536, LARGEST_READ, LARGEST_READ + 1 };
	struct ttrpc_client *c = cconnect(f);
	CCHECK(c);
	int fd = ttrpc_client_fd(c);
	struct kerr err;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *frame[2];
		size_t len[2];
		uint32_t id[2];
		for (int k = 0; k < 2; k++) {
			char arg[64];
			int an = snprintf(arg, sizeof(arg), "%c %zu %zu", k ? 'i' : 'p', sizes[i],
					  i);
			CCHECK(ttrpc_client_send(c, "test.Svc", "Read", (const uint8_t *)arg,
						 (size_t)an, 0, NULL, 0, &id[k], &err) == 0);
			frame[k] = read_frame(fd, &len[k]);
			CCHECK(frame[k]);
		}
		/* the same frame but for the stream id */
		struct ttrpc_frame_header h0, h1;
		ttrpc_header_decode(frame[0], &h0);
		ttrpc_header_decode(frame[1], &h1);
		CCHECK(h0.stream_id == id[0] && h1.stream_id == id[1]);
		memset(frame[0] + 4, 0, 4);
		memset(frame[1] + 4, 0, 4);
		if (len[0] != len[1] || memcmp(frame[0], frame[1], len[0]) != 0)
			printf("# child: %zu bytes: the frames differ (%zu, %zu bytes)\n", sizes[i],
			       len[0], len[1]);
		CCHECK(len[0] == len[1] && memcmp(frame[0], frame[1], len[0]) == 0);
		if (sizes[i] <= LARGEST_READ) {
			CCHECK(frame_has_read(frame[1], len[1], sizes[i], (unsigned)i));
		} else {
			/* past the frame limit: the same refusal both ways */
			Ttrpc__Response *r = ttrpc__response__unpack(NULL,
								     len[1] - TTRPC_HEADER_LEN,
								     frame[1] + TTRPC_HEADER_LEN);
			CCHECK(r && r->status && r->status->code == GRPC_RESOURCE_EXHAUSTED);
			CCHECK(strstr(r->status->message, "exceeds the 4194304 byte frame limit"));
			ttrpc__response__free_unpacked(r, NULL);
		}
		free(frame[0]);
		free(frame[1]);
	}
	ttrpc_client_free(c);
	return 0;
}

TEST(server_iov_reply_is_the_packed_reply_byte_for_byte)
{
	struct fx f;
	REQUIRE(fx_start(&f) == 0);
	CHECK_EQ_INT(fx_run_client(&f, client_iov_bytes), 0);
	/* both ways, each answer told once: "sent" (the refused size's error
	 * frame went out in its place, as for a packed reply) */
	CHECK_EQ_INT(f.sent_inline + f.sent_later, 20);
	CHECK(f.sent_inline > 0); /* the small ones went whole at once */
	CHECK_EQ_INT(f.sent_false, 0);
	fx_stop(&f);
}

#define SLOW_READS 8
#define SLOW_READ_LEN (1u << 20)

/* Ask for SLOW_READS answers of 1 MiB, all at once, then read them 4 KiB
 * at a time with pauses: the server's socket takes a part of the first,
 * the rest of it must wait in the queue, and the others behind it. */
static int client_iov_slow(struct fx *f)
{
	struct ttrpc_client *c = cconnect(f);
	CCHECK(c);
	int fd = ttrpc_client_fd(c);
	struct kerr err;
	uint32_t id[SLOW_READS];
	for (unsigned i = 0; i < SLOW_READS; i++) {
		char arg[64];
		int an = snprintf(arg, sizeof(arg), "i %u %u", SLOW_READ_LEN, i + 1);
		CCHECK(ttrpc_client_send(c, "test.Svc", "Read", (const uint8_t *)arg, (size_t)an, 0,
					 NULL, 0, &id[i], &err) == 0);
	}
	usleep(100000);
	size_t cap = SLOW_READS * (SLOW_READ_LEN + 64), have = 0;
	uint8_t *all = malloc(cap);
	CCHECK(all);
	size_t want = SLOW_READS * (TTRPC_HEADER_LEN + 2 + 1 + 3 + 1 + 3 + SLOW_READ_LEN);
	while (have < want) {
		ssize_t r = read(fd, all + have, want - have < 4096 ? want - have : 4096);
		CCHECK(r > 0);
		have += (size_t)r;
		if (have % (64u << 10) < 4096)
			usleep(2000);
	}
	size_t off = 0;
	for (unsigned i = 0; i < SLOW_READS; i++) {
		struct ttrpc_frame_header h;
		ttrpc_header_decode(all + off, &h);
		size_t len = TTRPC_HEADER_LEN + h.length;
		CCHECK(off + len <= have);
		/* one at a time, a slow reader gets them in order */
		CCHECK(h.stream_id == id[i]);
		CCHECK(frame_has_read(all + off, len, SLOW_READ_LEN, i + 1));
		off += len;
	}
	CCHECK(off == have);
	free(all);
	ttrpc_client_free(c);
	return 0;
}

TEST(server_iov_reply_to_a_slow_reader_queues_the_rest)
{
	struct fx f;
	REQUIRE(fx_start(&f) == 0);
	CHECK_EQ_INT(fx_run_client(&f, client_iov_slow), 0);
	printf("# sent whole at once: %d, after waiting in the queue: %d\n", f.sent_inline,
	       f.sent_later);
	CHECK_EQ_INT(f.sent_inline + f.sent_later, SLOW_READS);
	/* 8 MiB are more than a socket holds: some had to wait */
	CHECK(f.sent_later > 0);
	CHECK_EQ_INT(f.sent_false, 0);
	fx_stop(&f);
}

#define NEVER_PARKED 12

/* Park NEVER_PARKED calls, have release answer them all at once with
 * ~4 MiB each, read nothing for a while, then read: *ok answers whole,
 * *exhausted refused for the memory bound (32 MiB). */
static int client_never_reads(struct fx *f, const char *release, int *ok, int *exhausted)
{
	struct ttrpc_client *c = cconnect(f);
	CCHECK(c);
	struct kerr err;
	uint32_t id, rel;
	for (int i = 0; i < NEVER_PARKED; i++)
		CCHECK(ttrpc_client_send(c, "test.Svc", "Park", NULL, 0, 0, NULL, 0, &id, &err) ==
		       0);
	CCHECK(ttrpc_client_send(c, "test.Svc", release, NULL, 0, 0, NULL, 0, &rel, &err) == 0);
	usleep(300000);
	bool released = false;
	for (int k = 0; k < NEVER_PARKED + 1; k++) {
		int status;
		char *msg = NULL;
		uint8_t *out = NULL;
		size_t n = 0;
		CCHECK(ttrpc_client_recv(c, &id, &status, &msg, &out, &n, &err) == 0);
		if (id == rel) {
			released = status == 0;
		} else if (status == 0) {
			CCHECK(n == TTRPC_MAX_PAYLOAD - 16 + 1 + 4);
			(*ok)++;
		} else {
			printf("# answer: %s: %s\n", grpc_status_name(status), msg);
			CCHECK(status == GRPC_RESOURCE_EXHAUSTED);
			CCHECK(msg && strstr(msg, "memory bound for unread responses"));
			(*exhausted)++;
		}
		free(msg);
		free(out);
	}
	CCHECK(released);
	/* all given back: the connection serves as before */
	uint8_t *out = NULL;
	size_t n;
	CCHECK(ttrpc_client_call_raw(c, "test.Svc", "Echo", (const uint8_t *)"after", 5, 0, &out,
				     &n, &err) == 0);
	CCHECK(n == 5);
	free(out);
	ttrpc_client_free(c);
	return 0;
}

/* Answered at once, the answers that do not fit become RESOURCE_EXHAUSTED. */
static int client_iov_never_reads(struct fx *f)
{
	int ok = 0, exhausted = 0;
	CCHECK(client_never_reads(f, "ReleaseIov", &ok, &exhausted) == 0);
	printf("# answered: %d, refused: %d\n", ok, exhausted);
	CCHECK(ok > 0 && exhausted > 0);
	return 0;
}

TEST(server_iov_reply_memory_bound_refuses_a_reader_that_never_reads)
{
	struct fx f;
	REQUIRE(fx_start(&f) == 0);
	CHECK_EQ_INT(fx_run_client(&f, client_iov_never_reads), 0);
	/* every answer told once, refused ones included (their error frame
	 * left in their place) */
	CHECK_EQ_INT(f.sent_inline + f.sent_later + f.sent_false, NEVER_PARKED);
	fx_stop(&f);
}

/* Answered by a handler that waits for room (ttrpc_call_reply_fits,
 * ttrpc_call_wait_room): every answer arrives whole, none is refused. */
static int client_room_never_reads(struct fx *f)
{
	int ok = 0, exhausted = 0;
	CCHECK(client_never_reads(f, "ReleaseRoom", &ok, &exhausted) == 0);
	CCHECK(ok == NEVER_PARKED && exhausted == 0);
	return 0;
}

TEST(server_wait_room_answers_a_reader_that_never_reads_in_full)
{
	struct fx f;
	REQUIRE(fx_start(&f) == 0);
	CHECK_EQ_INT(fx_run_client(&f, client_room_never_reads), 0);
	printf("# waits for room: %d\n", f.room_waits);
	CHECK(f.room_waits > 0); /* 48 MiB do not fit in the 32 MiB bound at once */
	CHECK_EQ_INT(f.room_refused, 0);
	CHECK_EQ_INT(f.sent_inline + f.sent_later, NEVER_PARKED);
	CHECK_EQ_INT(f.sent_false, 0);
	fx_stop(&f);
}

/* ------------------------------------------- client: bounded calls */

/* A response frame for stream sid with status code (0: OK) and payload. */
static size_t make_response(uint8_t *buf, uint32_t sid, int code, const char *payload)
{
	Ttrpc__Status st = TTRPC__STATUS__INIT;
	st.code = code;
	Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
	if (code)
		resp.status = &st;
	resp.payload.data = (uint8_t *)payload;
	resp.payload.len = payload ? strlen(payload) : 0;
	size_t n = ttrpc__response__get_packed_size(&resp);
	struct ttrpc_frame_header h = { .length = (uint32_t)n, .stream_id = sid, .type = 2 };
	ttrpc_header_encode(buf, &h);
	ttrpc__response__pack(&resp, buf + TTRPC_HEADER_LEN);
	return TTRPC_HEADER_LEN + n;
}

/* The peer is the other end of a socketpair that reads nothing unless told
 * to: only the client's own deadline can end a call. */
TEST(client_bounded_call_gives_up_and_drops_the_late_answer)
{
	int sv[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	struct ttrpc_client *c;
	struct kerr err;
	REQUIRE(ttrpc_client_from_fd(&c, sv[0], &err) == 0);
	Ttrpc__Status req = TTRPC__STATUS__INIT;
	ProtobufCMessage *resp = NULL;
	int r = ttrpc_client_call_bounded(c, "test.Svc", "Hang", &req.base,
					  &ttrpc__status__descriptor, &resp, 20000000, &err);
	CHECK_EQ_INT(r, -ETIMEDOUT);
	CHECK_EQ_INT(err.status, GRPC_DEADLINE_EXCEEDED);
	CHECK(strstr(err.msg, "test.Svc/Hang: no answer within 0.020 s") != NULL);
	/* The late answer to stream 1 arrives before the answer to stream 3,
	 * which the second call must get. */
	uint8_t buf[256];
	size_t n = make_response(buf, 1, 0, "late");
	n += make_response(buf + n, 3, 0, "\x08\x05"); /* Status{code: 5} */
	REQUIRE(write(sv[1], buf, n) == (ssize_t)n);
	r = ttrpc_client_call_bounded(c, "test.Svc", "Echo", &req.base, &ttrpc__status__descriptor,
				      &resp, 1000000000, &err);
	CHECK_EQ_INT(r, 0);
	if (r == 0) {
		CHECK_EQ_INT(((Ttrpc__Status *)resp)->code, 5);
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	/* Stream 1's answer was dropped, not queued: the next answer recv()
	 * hands out is one that comes after it. */
	n = make_response(buf, 99, 0, NULL);
	REQUIRE(write(sv[1], buf, n) == (ssize_t)n);
	uint32_t sid = 0;
	int st;
	char *msg = NULL;
	uint8_t *pl = NULL;
	size_t pl_len;
	CHECK_EQ_INT(ttrpc_client_recv(c, &sid, &st, &msg, &pl, &pl_len, &err), 0);
	CHECK_EQ_INT(sid, 99);
	free(msg);
	free(pl);
	ttrpc_client_free(c);
	close(sv[1]);
}

TEST(client_bounded_call_breaks_on_a_frame_cut_short)
{
	int sv[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	struct ttrpc_client *c;
	struct kerr err;
	REQUIRE(ttrpc_client_from_fd(&c, sv[0], &err) == 0);
	uint8_t buf[256];
	size_t n = make_response(buf, 1, 0, "cut short");
	REQUIRE(write(sv[1], buf, n - 3) == (ssize_t)(n - 3));
	ProtobufCMessage *resp = NULL;
	int r = ttrpc_client_call_bounded(c, "test.Svc", "Echo", NULL, &ttrpc__status__descriptor,
					  &resp, 20000000, &err);
	CHECK_EQ_INT(r, -ETIMEDOUT);
	CHECK(strstr(err.msg, "in the middle of a frame") != NULL);
	/* the rest of the frame may come now: the client no longer trusts the
	 * stream */
	REQUIRE(write(sv[1], buf + n - 3, 3) == 3);
	r = ttrpc_client_call_bounded(c, "test.Svc", "Echo", NULL, &ttrpc__status__descriptor,
				      &resp, 20000000, &err);
	CHECK_EQ_INT(err.status, GRPC_UNAVAILABLE);
	CHECK(r < 0 && strstr(err.msg, "unusable") != NULL);
	ttrpc_client_free(c);
	close(sv[1]);
}

/* A server that reads nothing cannot hold a bounded call in send either. */
TEST(client_bounded_call_bounds_the_send)
{
	int sv[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	int small = 4096;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	struct ttrpc_client *c;
	struct kerr err;
	REQUIRE(ttrpc_client_from_fd(&c, sv[0], &err) == 0);
	static char big[1 << 20];
	memset(big, 'x', sizeof(big) - 1);
	Ttrpc__Status req = TTRPC__STATUS__INIT;
	req.message = big;
	ProtobufCMessage *resp = NULL;
	int r = ttrpc_client_call_bounded(c, "test.Svc", "Echo", &req.base,
					  &ttrpc__status__descriptor, &resp, 20000000, &err);
	CHECK_EQ_INT(r, -ETIMEDOUT);
	CHECK_EQ_INT(err.status, GRPC_DEADLINE_EXCEEDED);
	ttrpc_client_free(c);
	close(sv[1]);
}

int main(void)
{
	log_init("test", 2, getenv("TEST_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_WARN);
	signal(SIGPIPE, SIG_IGN);
	int r = tap_run();
	if (tmpdir[0] && tu_rm_rf(tmpdir) < 0)
		r = 1;
	return r;
}
