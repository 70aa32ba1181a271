/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ipc.c - common/ipc.c: framing, fd passing, sealed memfd payloads,
 * every receiver check, and the loop-driven channel with its dispatch table.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"
#include "grpc_status.h"
#include "agent.pb-c.h"
#include "ipc.h"
#include "ipc_pending.h"
#include "log.h"
#include "loop.h"

/* A raw datagram, to craft what a well-behaved sender never produces. */
static int raw_send(int sock, const struct ipc_hdr *h, const void *p, size_t len, const int *fds,
		    int nfds)
{
	struct iovec iov[2] = { { (void *)h, sizeof(*h) }, { (void *)p, len } };
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} cm;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	if (nfds) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	return sendmsg(sock, &mh, 0) < 0 ? -errno : 0;
}

static int open_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/* Expect ipc_recv to reject the next message, mentioning what. */
static int rejects(int sock, const char *what)
{
	struct ipc_msg m;
	struct kerr e = { 0 };
	int r = ipc_recv(sock, &m, &e);
	if (r >= 0) {
		if (r == 1)
			ipc_msg_release(&m);
		printf("# accepted, expected rejection for %s\n", what);
		return 0;
	}
	if (!strstr(e.msg, what)) {
		printf("# error \"%s\" does not mention \"%s\"\n", e.msg, what);
		return 0;
	}
	return 1;
}

TEST(ping_round_trip)
{
	int sv[2];
	REQUIRE(tu_seqpacket_pair(sv) == 0);
	struct kerr e = { 0 };
	struct ipc_ping p = { .cookie = 42 };
	CHECK_EQ_INT(ipc_send_fd(sv[0], IPC_PING, 7, &p, sizeof(p), -1, &e), 0);
	struct ipc_msg m;
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1);
	CHECK_EQ_INT(m.hdr.type, IPC_PING);
	CHECK_EQ_INT(m.hdr.id, 7);
	CHECK_EQ_INT(m.len, sizeof(p));
	CHECK_EQ_INT(m.fd, -1);
	struct ipc_ping q;
	memcpy(&q, m.payload, sizeof(q));
	CHECK_EQ_INT(q.cookie, 42);
	ipc_msg_release(&m);
	close(sv[0]);
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 0); /* EOF */
	close(sv[1]);
}

TEST(fd_passing)
{
	int sv[2], inner[2];
	REQUIRE(tu_seqpacket_pair(sv) == 0 && tu_seqpacket_pair(inner) == 0);
	struct kerr e = { 0 };
	struct ipc_ctl_new_frontend n = { .generation = 3, .frontend_pid = 42 };
	CHECK_EQ_INT(ipc_send_fd(sv[0], IPC_CTL_NEW_FRONTEND, 0, &n, sizeof(n), inner[1], &e), 0);
	struct ipc_msg m;
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1);
	int fd = ipc_msg_take_fd(&m);
	CHECK(fd >= 0);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ipc_msg_release(&m);
	/* The passed fd is the same socket: a message through it arrives. */
	struct ipc_ping p = { 1 };
	CHECK_EQ_INT(ipc_send_fd(fd, IPC_PING, 1, &p, sizeof(p), -1, &e), 0);
	CHECK_EQ_INT(ipc_recv(inner[0], &m, &e), 1);
	ipc_msg_release(&m);
	close(fd);
	tu_close_pair(inner);
	tu_close_pair(sv);
}

TEST(sender_checks)
{
	int sv[2];
	REQUIRE(tu_seqpacket_pair(sv) == 0);
	struct kerr e = { 0 };
	struct ipc_ping p = { 1 };
	CHECK(ipc_send_fd(sv[0], 999, 1, &p, sizeof(p), -1, &e) < 0);
	CHECK(ipc_send_fd(sv[0], IPC_PING, 1, &p, 4, -1, &e) < 0);
	CHECK(ipc_send_fd(sv[0], IPC_PING, 1, &p, sizeof(p), sv[0], &e) < 0);
	struct ipc_ctl_new_frontend n = { .generation = 1, .frontend_pid = 42 };
	CHECK(ipc_send_fd(sv[0], IPC_CTL_NEW_FRONTEND, 0, &n, sizeof(n), -1, &e) < 0);
	char *big = calloc(1, IPC_MAX_INLINE + 1);
	CHECK(ipc_send_fd(sv[0], IPC_PING, 1, big, IPC_MAX_INLINE + 1, -1, &e) < 0);
	free(big);
	tu_close_pair(sv);
}

TEST(receiver_rejects_malformed)
{
	int sv[2], other[2];
	REQUIRE(tu_seqpacket_pair(sv) == 0 && tu_seqpacket_pair(other) == 0);
	int before = open_fds();
	struct ipc_ping p = { 1 };
	struct ipc_hdr h = { IPC_PING, sizeof(p), 1, 0 };

	h.type = 99;
	raw_send(sv[0], &h, &p, sizeof(p), NULL, 0);
	CHECK(rejects(sv[1], "unknown message type"));

	h = (struct ipc_hdr){ IPC_PING, 4, 1, 0 };
	raw_send(sv[0], &h, &p, 4, NULL, 0);
	CHECK(rejects(sv[1], "payload of 4 bytes"));

	h = (struct ipc_hdr){ IPC_PING, 16, 1, 0 };
	raw_send(sv[0], &h, &p, sizeof(p), NULL, 0);
	CHECK(rejects(sv[1], "header length 16"));

	h = (struct ipc_hdr){ IPC_PING, sizeof(p), 1, 0x80 };
	raw_send(sv[0], &h, &p, sizeof(p), NULL, 0);
	CHECK(rejects(sv[1], "unknown flags"));

	raw_send(sv[0], &h, NULL, 0, NULL, 0);
	h = (struct ipc_hdr){ 0 };
	send(sv[0], "abc", 3, 0);
	CHECK(rejects(sv[1], "unknown flags")); /* the previous, header-only one */
	CHECK(rejects(sv[1], "short message"));

	/* An fd where none belongs is closed, not leaked. */
	h = (struct ipc_hdr){ IPC_PING, sizeof(p), 1, 0 };
	raw_send(sv[0], &h, &p, sizeof(p), &other[0], 1);
	CHECK(rejects(sv[1], "unexpected fd"));

	int two[2] = { other[0], other[1] };
	struct ipc_ctl_new_frontend n = { .generation = 1, .frontend_pid = 42 };
	h = (struct ipc_hdr){ IPC_CTL_NEW_FRONTEND, sizeof(n), 0, 0 };
	raw_send(sv[0], &h, &n, sizeof(n), two, 2);
	CHECK(rejects(sv[1], "2 fds"));

	raw_send(sv[0], &h, &n, sizeof(n), NULL, 0);
	CHECK(rejects(sv[1], "required fd missing"));

	n.frontend_pid = 0;
	raw_send(sv[0], &h, &n, sizeof(n), &other[0], 1);
	CHECK(rejects(sv[1], "front-end pid 0 is not a pid"));
	n.frontend_pid = -5;
	raw_send(sv[0], &h, &n, sizeof(n), &other[0], 1);
	CHECK(rejects(sv[1], "front-end pid -5 is not a pid"));

	/* More than fits in one receive: MSG_TRUNC. */
	size_t huge = IPC_MAX_INLINE + 100;
	int sz = (int)(huge * 2 + 4096);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	char *buf = calloc(1, huge);
	h = (struct ipc_hdr){ IPC_TEST_BLOB, (uint32_t)huge, 1, 0 };
	CHECK_EQ_INT(raw_send(sv[0], &h, buf, huge, NULL, 0), 0);
	CHECK(rejects(sv[1], "larger than"));
	free(buf);

	CHECK_EQ_INT(open_fds(), before);
	tu_close_pair(sv);
	tu_close_pair(other);
}

TEST(payload_field_checks)
{
	struct kerr e = { 0 };
	struct ipc_guest_details_req r = { .mem_block_size = 2 };
	CHECK(ipc_check_payload(IPC_GET_GUEST_DETAILS_REQ, (uint8_t *)&r, sizeof(r), &e) < 0);
	r = (struct ipc_guest_details_req){ .mem_block_size = 1, .pad = { 0, 1 } };
	CHECK(ipc_check_payload(IPC_GET_GUEST_DETAILS_REQ, (uint8_t *)&r, sizeof(r), &e) < 0);
	r = (struct ipc_guest_details_req){ .mem_block_size = 1, .mem_hotplug_probe = 1 };
	CHECK_EQ_INT(ipc_check_payload(IPC_GET_GUEST_DETAILS_REQ, (uint8_t *)&r, sizeof(r), &e), 0);

	/* the reply: booleans 0/1, storage driver bits only for known names */
	struct ipc_guest_details_reply g = { .supports_seccomp = 1,
					     .init_daemon = 1,
					     .storage_handlers = 0x1f };
	CHECK_EQ_INT(ipc_check_payload(IPC_GET_GUEST_DETAILS_REPLY, (uint8_t *)&g, sizeof(g), &e),
		     0);
	CHECK_EQ_STR(ipc_storage_driver_name(0), "9p");
	CHECK_EQ_STR(ipc_storage_driver_name(1), "virtio-fs");
	CHECK(ipc_storage_driver_name(IPC_STORAGE_DRIVERS_MAX - 1) == NULL);
	g.supports_seccomp = 2;
	CHECK(ipc_check_payload(IPC_GET_GUEST_DETAILS_REPLY, (uint8_t *)&g, sizeof(g), &e) < 0);
	g.supports_seccomp = 1;
	g.pad = 1;
	CHECK(ipc_check_payload(IPC_GET_GUEST_DETAILS_REPLY, (uint8_t *)&g, sizeof(g), &e) < 0);
	g.pad = 0;
	g.storage_handlers = 1u << (IPC_STORAGE_DRIVERS_MAX - 1);
	CHECK(ipc_check_payload(IPC_GET_GUEST_DETAILS_REPLY, (uint8_t *)&g, sizeof(g), &e) < 0);
	/* DestroySandbox's notice to the parent carries nothing */
	CHECK_EQ_INT(ipc_check_payload(IPC_CTL_SANDBOX_DESTROYED, NULL, 0, &e), 0);

	uint8_t buf[sizeof(struct ipc_error) + IPC_ERROR_MSG_MAX + 8];
	size_t n = ipc_error_build(buf, GRPC_NOT_FOUND, -ENOENT, "no such thing");
	CHECK_EQ_INT(n, sizeof(struct ipc_error) + strlen("no such thing") + 1);
	CHECK_EQ_INT(ipc_check_payload(IPC_ERROR, buf, n, &e), 0);
	CHECK(ipc_check_payload(IPC_ERROR, buf, n - 1, &e) < 0); /* NUL cut off */
	buf[sizeof(struct ipc_error) + 2] = '\0';                /* NUL inside */
	CHECK(ipc_check_payload(IPC_ERROR, buf, n, &e) < 0);
	n = ipc_error_build(buf, 0, 0, "x");
	CHECK(ipc_check_payload(IPC_ERROR, buf, n, &e) < 0); /* status OK */
	n = ipc_error_build(buf, GRPC_INTERNAL, 5, "x");
	CHECK(ipc_check_payload(IPC_ERROR, buf, n, &e) < 0); /* positive errno */
	char longmsg[IPC_ERROR_MSG_MAX * 2];
	memset(longmsg, 'a', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = '\0';
	n = ipc_error_build(buf, GRPC_INTERNAL, -EIO, longmsg);
	CHECK_EQ_INT(n, sizeof(struct ipc_error) + IPC_ERROR_MSG_MAX);
	CHECK_EQ_INT(ipc_check_payload(IPC_ERROR, buf, n, &e), 0);
}

TEST(memfd_payload)
{
	int sv[2];
	REQUIRE(tu_seqpacket_pair(sv) == 0);
	struct kerr e = { 0 };
	size_t len = 3u << 20;
	uint8_t *blob = malloc(len);
	for (size_t i = 0; i < len; i++)
		blob[i] = (uint8_t)(i * 7 + 3);
	CHECK_EQ_INT(ipc_send_fd(sv[0], IPC_TEST_BLOB, 5, blob, len, -1, &e), 0);
	struct ipc_msg m;
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1);
	CHECK_EQ_INT(m.hdr.flags, IPC_F_MEMFD);
	CHECK_EQ_INT(m.len, len);
	CHECK_EQ_INT(m.fd, -1);
	CHECK(m.payload && memcmp(m.payload, blob, len) == 0);
	ipc_msg_release(&m);

	/* Exactly the inline limit stays inline. */
	CHECK_EQ_INT(ipc_send_fd(sv[0], IPC_TEST_BLOB, 6, blob, IPC_MAX_INLINE, -1, &e), 0);
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1);
	CHECK_EQ_INT(m.hdr.flags, 0);
	CHECK_EQ_INT(m.len, IPC_MAX_INLINE);
	ipc_msg_release(&m);

	CHECK(ipc_send_fd(sv[0], IPC_TEST_BLOB, 6, blob, IPC_MAX_PAYLOAD + 1, -1, &e) < 0);
	free(blob);

	/* Hand-made memfds: unsealed, wrong size, not a memfd at all. */
	struct ipc_hdr h = { IPC_TEST_BLOB, IPC_MAX_INLINE + 10, 1, IPC_F_MEMFD };
	int mfd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CHECK_EQ_INT(ftruncate(mfd, IPC_MAX_INLINE + 10), 0);
	raw_send(sv[0], &h, NULL, 0, &mfd, 1);
	CHECK(rejects(sv[1], "not fully sealed"));
	fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
	h.len = IPC_MAX_INLINE + 11;
	raw_send(sv[0], &h, NULL, 0, &mfd, 1);
	CHECK(rejects(sv[1], "header says"));
	h.len = IPC_MAX_INLINE + 10;
	raw_send(sv[0], &h, NULL, 0, &mfd, 1);
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1);
	ipc_msg_release(&m);
	h.len = 100; /* small payloads must be inline */
	raw_send(sv[0], &h, NULL, 0, &mfd, 1);
	CHECK(rejects(sv[1], "memfd payload of 100"));
	raw_send(sv[0], &h, NULL, 0, NULL, 0);
	CHECK(rejects(sv[1], "without an fd"));
	h.len = IPC_MAX_INLINE + 10;
	raw_send(sv[0], &h, NULL, 0, &sv[0], 1);
	CHECK(rejects(sv[1], "not a sealable memfd"));
	struct ipc_hdr hp = { IPC_PING, IPC_MAX_INLINE + 10, 1, IPC_F_MEMFD };
	raw_send(sv[0], &hp, NULL, 0, &mfd, 1);
	CHECK(rejects(sv[1], "memfd payload not allowed"));
	close(mfd);
	tu_close_pair(sv);
}

/* ---- the loop-driven channel ---- */

struct chan_test {
	struct loop *loop;
	int pongs;
	int closed;
	char reason[256];
	struct ipc_chan *server;
};

static int srv_ping(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	return ipc_chan_send(c, IPC_PONG, m->hdr.id, m->payload, m->len, -1, err);
}

static int cli_pong(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct chan_test *t = data;
	if (++t->pongs == 100)
		loop_quit(t->loop);
	return 0;
}

static const struct ipc_dispatch server_table[] = {
	{ IPC_PING, srv_ping },
	{ 0, NULL },
};

static const struct ipc_dispatch client_table[] = {
	{ IPC_PONG, cli_pong },
	{ 0, NULL },
};

static void on_close(struct ipc_chan *c, const char *reason, void *data)
{
	struct chan_test *t = data;
	t->closed++;
	snprintf(t->reason, sizeof(t->reason), "%s", reason ? reason : "(eof)");
	if (c == t->server)
		t->server = NULL;
	loop_quit(t->loop);
}

static void on_timeout(struct loop *l, void *data)
{
	loop_quit(l);
}

TEST(channel_ping_pong)
{
	struct chan_test t = { 0 };
	struct kerr e = { 0 };
	int sv[2];
	REQUIRE(tu_seqpacket_pair(sv) == 0 && loop_new(&t.loop, &e) == 0);
	struct ipc_chan *cli = NULL;
	CHECK_EQ_INT(ipc_chan_new(&t.server, t.loop, sv[0], "exec", IPC_ROLE_FRONTEND, server_table,
				  on_close, &t, &e),
		     0);
	CHECK_EQ_INT(ipc_chan_new(&cli, t.loop, sv[1], "fe", IPC_ROLE_EXECUTOR, client_table,
				  on_close, &t, &e),
		     0);
	for (int i = 0; i < 100; i++) {
		struct ipc_ping p = { (uint64_t)i };
		CHECK_EQ_INT(ipc_chan_send(cli, IPC_PING, ipc_chan_next_id(cli), &p, sizeof(p), -1,
					   &e),
			     0);
	}
	struct loop_timer *tm = loop_timer_add(t.loop, loop_now_ns() + 5000000000ull, on_timeout,
					       NULL);
	loop_run(t.loop, &e);
	CHECK_EQ_INT(t.pongs, 100);
	CHECK_EQ_INT(t.closed, 0);
	loop_timer_cancel(t.loop, tm);
	ipc_chan_free(cli);
	ipc_chan_free(t.server);
	loop_free(t.loop);
}

/* Not in the table: the channel closes with a reason naming the message. */
static void violation(int *tap_failed, uint32_t type, const char *expect)
{
	struct chan_test t = { 0 };
	struct kerr e = { 0 };
	int sv[2];
	REQUIRE(tu_seqpacket_pair(sv) == 0 && loop_new(&t.loop, &e) == 0);
	CHECK_EQ_INT(ipc_chan_new(&t.server, t.loop, sv[0], "exec", IPC_ROLE_FRONTEND, server_table,
				  on_close, &t, &e),
		     0);
	struct ipc_ping p = { 0 };
	ipc_send_fd(sv[1], type, 1, &p, sizeof(p), -1, &e);
	struct loop_timer *tm = loop_timer_add(t.loop, loop_now_ns() + 5000000000ull, on_timeout,
					       NULL);
	loop_run(t.loop, &e);
	CHECK_EQ_INT(t.closed, 1);
	CHECK(t.server == NULL);
	if (!strstr(t.reason, expect))
		printf("# reason \"%s\" lacks \"%s\"\n", t.reason, expect);
	CHECK(strstr(t.reason, expect) != NULL);
	loop_timer_cancel(t.loop, tm);
	close(sv[1]);
	loop_free(t.loop);
}

TEST(channel_rejects_unlisted_type)
{
	violation(tap_failed, IPC_PONG, "PONG (id 1) not accepted here");
}

/* Who may send a type is the declaration's: a table listing what its peer
 * never sends is refused when the channel opens, and the socket closed. */
TEST(table_lists_only_what_the_peer_sends)
{
	static const struct ipc_dispatch wrong[] = {
		{ IPC_PING, srv_ping },
		{ IPC_PONG, srv_ping },
		{ 0, NULL },
	};
	struct loop *l = NULL;
	struct kerr e = { 0 };
	int sv[2];
	REQUIRE(tu_seqpacket_pair(sv) == 0 && loop_new(&l, &e) == 0);
	struct ipc_chan *c = NULL;
	CHECK_EQ_INT(ipc_chan_new(&c, l, sv[0], "exec", IPC_ROLE_FRONTEND, wrong, on_close, NULL,
				  &e),
		     -EINVAL);
	CHECK(c == NULL);
	CHECK_EQ_STR(e.msg, "ipc channel exec: its table lists PONG, which a frontend never sends");
	CHECK(fcntl(sv[0], F_GETFD) < 0 && errno == EBADF);
	/* The same table serves the executor's side: it sends PONG. */
	CHECK_EQ_INT(ipc_chan_new(&c, l, sv[1], "fe", IPC_ROLE_EXECUTOR, client_table, on_close,
				  NULL, &e),
		     0);
	ipc_chan_free(c);
	loop_free(l);
}

TEST(channel_eof_and_send_after_close)
{
	struct chan_test t = { 0 };
	struct kerr e = { 0 };
	int sv[2];
	REQUIRE(tu_seqpacket_pair(sv) == 0 && loop_new(&t.loop, &e) == 0);
	CHECK_EQ_INT(ipc_chan_new(&t.server, t.loop, sv[0], "exec", IPC_ROLE_FRONTEND, server_table,
				  on_close, &t, &e),
		     0);
	close(sv[1]);
	struct loop_timer *tm = loop_timer_add(t.loop, loop_now_ns() + 5000000000ull, on_timeout,
					       NULL);
	loop_run(t.loop, &e);
	CHECK_EQ_INT(t.closed, 1);
	CHECK_EQ_STR(t.reason, "(eof)");
	loop_timer_cancel(t.loop, tm);
	loop_free(t.loop);
}

/* IPC_REPLIES in a table: every reply the peer may send, nothing else. */
static const struct ipc_dispatch replies_table[] = {
	{ IPC_REPLIES, cli_pong },
	{ 0, NULL },
};

TEST(table_replies_entry_takes_the_peers_replies_only)
{
	CHECK(ipc_type_is_reply(IPC_PONG));
	CHECK(ipc_type_is_reply(IPC_ERROR));
	CHECK(ipc_type_is_reply(IPC_LAUNCHED));
	CHECK(!ipc_type_is_reply(IPC_MONITOR_ATTACH));
	CHECK(!ipc_type_is_reply(IPC_PING));
	/* A reply the executor sends reaches the handler (it quits at 100). */
	struct chan_test t = { .pongs = 99 };
	struct kerr e = { 0 };
	int sv[2];
	REQUIRE(tu_seqpacket_pair(sv) == 0 && loop_new(&t.loop, &e) == 0);
	struct ipc_chan *c = NULL;
	REQUIRE(ipc_chan_new(&c, t.loop, sv[0], "fe", IPC_ROLE_EXECUTOR, replies_table, on_close,
			     &t, &e) == 0);
	struct ipc_ping p = { 1 };
	CHECK_EQ_INT(ipc_send_fd(sv[1], IPC_PONG, 1, &p, sizeof(p), -1, &e), 0);
	struct loop_timer *tm = loop_timer_add(t.loop, loop_now_ns() + 5000000000ull, on_timeout,
					       NULL);
	loop_run(t.loop, &e);
	loop_timer_cancel(t.loop, tm);
	CHECK_EQ_INT(t.pongs, 100);
	CHECK_EQ_INT(t.closed, 0);
	ipc_chan_free(c);
	close(sv[1]);
	loop_free(t.loop);
	/* A reply of another role's, or no reply at all: not accepted. */
	static const struct {
		uint32_t type;
		const char *reason;
	} refused[] = {
		{ IPC_LAUNCHED, "message LAUNCHED (id 1) not accepted here" },
		{ IPC_MON_SHUTDOWN, "message MON_SHUTDOWN (id 1) not accepted here" },
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct chan_test u = { 0 };
		REQUIRE(tu_seqpacket_pair(sv) == 0 && loop_new(&u.loop, &e) == 0);
		REQUIRE(ipc_chan_new(&u.server, u.loop, sv[0], "fe", IPC_ROLE_EXECUTOR,
				     replies_table, on_close, &u, &e) == 0);
		struct ipc_launched l = { .pid = 1 };
		if (refused[i].type == IPC_LAUNCHED)
			ipc_send_fd(sv[1], IPC_LAUNCHED, 1, &l, sizeof(l), -1, &e);
		else
			ipc_send_fd(sv[1], refused[i].type, 1, NULL, 0, -1, &e);
		tm = loop_timer_add(u.loop, loop_now_ns() + 5000000000ull, on_timeout, NULL);
		loop_run(u.loop, &e);
		loop_timer_cancel(u.loop, tm);
		CHECK_EQ_INT(u.closed, 1);
		CHECK_EQ_STR(u.reason, refused[i].reason);
		close(sv[1]);
		loop_free(u.loop);
	}
}

/* ---- container path messages ---- */

TEST(id_rule)
{
	CHECK(ipc_id_valid("abc", false));
	CHECK(ipc_id_valid("A0_.-z", false));
	CHECK(ipc_id_valid("", true));
	CHECK(!ipc_id_valid("", false));
	CHECK(!ipc_id_valid(".", false));
	CHECK(!ipc_id_valid("..", false));
	CHECK(!ipc_id_valid("-x", false));
	CHECK(!ipc_id_valid("_x", false));
	CHECK(!ipc_id_valid("a/b", false));
	CHECK(!ipc_id_valid("a b", false));
	CHECK(!ipc_id_valid("a\n", false));
	CHECK(!ipc_id_valid(NULL, true));
	char longid[IPC_ID_MAX + 1];
	memset(longid, 'a', sizeof(longid));
	longid[IPC_ID_MAX - 1] = '\0';
	CHECK(ipc_id_valid(longid, false)); /* IPC_ID_MAX-1 bytes */
	longid[IPC_ID_MAX - 1] = 'a';
	longid[IPC_ID_MAX] = '\0';
	CHECK(!ipc_id_valid(longid, false));

	struct kerr e = { 0 };
	char f[IPC_ID_MAX] = "abc";
	CHECK_EQ_INT(ipc_id_field_check(f, false, "container id", &e), 0);
	f[10] = 'x'; /* hidden byte after the NUL */
	CHECK(ipc_id_field_check(f, false, "container id", &e) < 0);
	CHECK(strstr(e.msg, "after its terminating NUL") != NULL);
	memset(f, 'a', sizeof(f)); /* no NUL */
	CHECK(ipc_id_field_check(f, false, "container id", &e) < 0);
	CHECK(strstr(e.msg, "not NUL-terminated") != NULL);
	memset(f, 0, sizeof(f));
	CHECK(ipc_id_field_check(f, false, "container id", &e) < 0);
	CHECK_EQ_INT(ipc_id_field_check(f, true, "exec id", &e), 0);
}

static int payload_ok(uint32_t type, const void *p, size_t len)
{
	struct kerr e = { 0 };
	int r = ipc_check_payload(type, p, len, &e);
	if (r < 0)
		printf("# %s rejected: %s\n", ipc_type_name(type), e.msg);
	return r == 0;
}

static int payload_bad(uint32_t type, const void *p, size_t len, const char *what)
{
	struct kerr e = { 0 };
	if (ipc_check_payload(type, p, len, &e) == 0) {
		printf("# %s accepted, expected rejection for %s\n", ipc_type_name(type), what);
		return 0;
	}
	if (!strstr(e.msg, what)) {
		printf("# error \"%s\" does not mention \"%s\"\n", e.msg, what);
		return 0;
	}
	return 1;
}

TEST(container_path_bounds)
{
	static const struct {
		uint32_t type;
		size_t min, max;
		bool big;
	} want[] = {
		{ IPC_CREATE_SANDBOX_REQ, 0, IPC_MAX_PAYLOAD, true },
		{ IPC_DESTROY_SANDBOX_REQ, 0, 0, false },
		{ IPC_CREATE_CONTAINER_REQ, 0, IPC_MAX_PAYLOAD, true },
		{ IPC_START_CONTAINER_REQ, IPC_ID_MAX, IPC_ID_MAX, false },
		{ IPC_REMOVE_CONTAINER_REQ, IPC_ID_MAX + 8, IPC_ID_MAX + 8, false },
		{ IPC_EXEC_PROCESS_REQ, 0, IPC_MAX_PAYLOAD, true },
		{ IPC_SIGNAL_PROCESS_REQ, 2 * IPC_ID_MAX + 8, 2 * IPC_ID_MAX + 8, false },
		{ IPC_OK, 0, 0, false },
		{ IPC_MONITOR_ATTACH, IPC_ID_MAX, IPC_ID_MAX, false },
		{ IPC_READ_STREAM_REQ, IPC_ID_MAX + 16, IPC_ID_MAX + 16, false },
		{ IPC_READ_STREAM_REPLY, 8, 8 + IPC_STDIO_CHUNK, false },
		{ IPC_READ_STREAM_ACK, IPC_ID_MAX + 16, IPC_ID_MAX + 16, false },
		{ IPC_WRITE_STDIN_REQ, IPC_ID_MAX + 1, IPC_ID_MAX + IPC_STDIO_CHUNK, false },
		{ IPC_WRITE_STDIN_REPLY, 8, 8, false },
		{ IPC_CLOSE_STDIN_REQ, 2 * IPC_ID_MAX, 2 * IPC_ID_MAX, false },
		{ IPC_TTY_WIN_RESIZE_REQ, IPC_ID_MAX + 8, IPC_ID_MAX + 8, false },
		{ IPC_WAIT_PROCESS_REQ, 2 * IPC_ID_MAX, 2 * IPC_ID_MAX, false },
		{ IPC_WAIT_PROCESS_REPLY, 8, 8, false },
		{ IPC_MON_NEW_FRONTEND, 0, 0, false },
		{ IPC_MON_SIGNAL, 2 * IPC_ID_MAX + 8, 2 * IPC_ID_MAX + 8, false },
		{ IPC_MON_EXITED, IPC_ID_MAX + 8, IPC_ID_MAX + 8, false },
		{ IPC_MON_SHUTDOWN, 0, 0, false },
		{ IPC_LAUNCH_START, 0, 0, false },
		{ IPC_LAUNCH_EXEC, 0, IPC_MAX_PAYLOAD, true },
		{ IPC_LAUNCHED, 8, 8, false },
		{ IPC_MON_PROCESS_ADD, IPC_ID_MAX + 8, IPC_ID_MAX + 8, false },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct ipc_type_desc *d = ipc_type_info(want[i].type);
		CHECK(d != NULL);
		if (!d)
			continue;
		CHECK_EQ_INT(d->min_len, want[i].min);
		CHECK_EQ_INT(d->max_len, want[i].max);
		CHECK_EQ_INT(d->big, want[i].big);
		CHECK(strncmp(ipc_type_name(want[i].type), "type#", 5) != 0);
	}
	CHECK(IPC_STDIO_CHUNK + IPC_ID_MAX <= IPC_MAX_INLINE);
	CHECK_EQ_INT(ipc_type_info(IPC_MON_PROCESS_ADD)->fd, IPC_FD_PROCESS);
	CHECK_EQ_INT(ipc_type_info(IPC_MONITOR_ATTACH)->fd, IPC_FD_REQUIRED);
	CHECK_EQ_INT(ipc_type_info(IPC_MON_NEW_FRONTEND)->fd, IPC_FD_REQUIRED);
	CHECK_EQ_STR(ipc_role_name(IPC_ROLE_MONITOR), "monitor");
	CHECK_EQ_STR(ipc_role_name(IPC_ROLE_LAUNCHER), "launcher");
}

TEST(oom_event_messages)
{
	const struct ipc_type_desc *req = ipc_type_info(IPC_GET_OOM_EVENT_REQ);
	const struct ipc_type_desc *rep = ipc_type_info(IPC_GET_OOM_EVENT_REPLY);
	CHECK(req && rep);
	if (!req || !rep)
		return;
	CHECK_EQ_INT(IPC_GET_OOM_EVENT_REQ, 34);
	CHECK_EQ_INT(IPC_GET_OOM_EVENT_REPLY, 35);
	CHECK_EQ_INT(req->min_len, 0);
	CHECK_EQ_INT(req->max_len, 0);
	CHECK_EQ_INT(rep->min_len, sizeof(struct ipc_container_ref));
	CHECK_EQ_INT(rep->max_len, sizeof(struct ipc_container_ref));
	CHECK_EQ_INT(req->fd, IPC_FD_NONE);
	CHECK_EQ_INT(rep->fd, IPC_FD_NONE);
	CHECK(!req->big && !rep->big);
	CHECK_EQ_STR(ipc_type_name(IPC_GET_OOM_EVENT_REQ), "GET_OOM_EVENT_REQ");
	CHECK_EQ_STR(ipc_type_name(IPC_GET_OOM_EVENT_REPLY), "GET_OOM_EVENT_REPLY");

	uint8_t one = 0;
	CHECK(payload_ok(IPC_GET_OOM_EVENT_REQ, NULL, 0));
	CHECK(payload_bad(IPC_GET_OOM_EVENT_REQ, &one, 1, "payload of 1 bytes"));
	struct ipc_container_ref cr = { "oom-1" };
	CHECK(payload_ok(IPC_GET_OOM_EVENT_REPLY, &cr, sizeof(cr)));
	memset(&cr, 0, sizeof(cr));
	CHECK(payload_bad(IPC_GET_OOM_EVENT_REPLY, &cr, sizeof(cr), "container id is empty"));
	strcpy(cr.container_id, "../x");
	CHECK(payload_bad(IPC_GET_OOM_EVENT_REPLY, &cr, sizeof(cr), "is not [A-Za-z0-9]"));
	strcpy(cr.container_id, "ok");
	cr.container_id[100] = 'x'; /* a byte hidden after the NUL */
	CHECK(payload_bad(IPC_GET_OOM_EVENT_REPLY, &cr, sizeof(cr), "after its terminating NUL"));
}

TEST(container_path_field_checks)
{
	struct ipc_container_ref cr = { "ctr1" };
	CHECK(payload_ok(IPC_START_CONTAINER_REQ, &cr, sizeof(cr)));
	CHECK(payload_ok(IPC_MONITOR_ATTACH, &cr, sizeof(cr)));
	memset(&cr, 0, sizeof(cr));
	CHECK(payload_bad(IPC_START_CONTAINER_REQ, &cr, sizeof(cr), "container id is empty"));
	strcpy(cr.container_id, "../x");
	CHECK(payload_bad(IPC_MONITOR_ATTACH, &cr, sizeof(cr), "is not [A-Za-z0-9]"));

	struct ipc_container_remove rm = { "c", 10, 0 };
	CHECK(payload_ok(IPC_REMOVE_CONTAINER_REQ, &rm, sizeof(rm)));
	rm.pad = 1;
	CHECK(payload_bad(IPC_REMOVE_CONTAINER_REQ, &rm, sizeof(rm), "padding"));

	struct ipc_diagnostic_req dg = { "c", IPC_DIAG_TERMINATION_LOG, 0 };
	CHECK(payload_ok(IPC_GET_DIAGNOSTIC_DATA_REQ, &dg, sizeof(dg)));
	dg.log_type = 2;
	CHECK(payload_bad(IPC_GET_DIAGNOSTIC_DATA_REQ, &dg, sizeof(dg), "log type 2"));
	dg.log_type = 0;
	CHECK(payload_bad(IPC_GET_DIAGNOSTIC_DATA_REQ, &dg, sizeof(dg), "log type 0"));
	dg.log_type = IPC_DIAG_TERMINATION_LOG;
	dg.pad = 1;
	CHECK(payload_bad(IPC_GET_DIAGNOSTIC_DATA_REQ, &dg, sizeof(dg), "padding"));
	memset(&dg, 0, sizeof(dg));
	dg.log_type = IPC_DIAG_TERMINATION_LOG;
	CHECK(payload_bad(IPC_GET_DIAGNOSTIC_DATA_REQ, &dg, sizeof(dg), "container id is empty"));
	CHECK(payload_ok(IPC_GET_DIAGNOSTIC_DATA_REPLY, NULL, 0));
	uint8_t log[IPC_DIAG_DATA_MAX + 1] = { 0 };
	CHECK(payload_ok(IPC_GET_DIAGNOSTIC_DATA_REPLY, log, IPC_DIAG_DATA_MAX));
	CHECK(payload_bad(IPC_GET_DIAGNOSTIC_DATA_REPLY, log, sizeof(log), "4097"));

	struct ipc_process_signal sg = { "c", "", 9, 0 };
	CHECK(payload_ok(IPC_SIGNAL_PROCESS_REQ, &sg, sizeof(sg)));
	CHECK(payload_ok(IPC_MON_SIGNAL, &sg, sizeof(sg)));
	sg.signal = 0;
	CHECK(payload_bad(IPC_MON_SIGNAL, &sg, sizeof(sg), "signal 0"));
	sg.signal = 65;
	CHECK(payload_bad(IPC_SIGNAL_PROCESS_REQ, &sg, sizeof(sg), "signal 65"));
	sg.signal = 64;
	strcpy(sg.exec_id, "e x");
	CHECK(payload_bad(IPC_SIGNAL_PROCESS_REQ, &sg, sizeof(sg), "exec id"));

	struct ipc_stdio_read rd = { "", IPC_STREAM_STDERR, IPC_STDIO_CHUNK, 0 };
	CHECK(payload_ok(IPC_READ_STREAM_REQ, &rd, sizeof(rd)));
	rd.stream = 3;
	CHECK(payload_bad(IPC_READ_STREAM_REQ, &rd, sizeof(rd), "stream 3"));
	rd.stream = 1;
	rd.max_len = 0;
	CHECK(payload_bad(IPC_READ_STREAM_REQ, &rd, sizeof(rd), "max_len 0"));
	rd.max_len = IPC_STDIO_CHUNK + 1;
	CHECK(payload_bad(IPC_READ_STREAM_REQ, &rd, sizeof(rd), "max_len"));
	/* Any carried ACK passes the check: the monitor weighs it against
	 * what it sent (monitor_test). */
	rd.max_len = 1;
	rd.ack = UINT64_MAX;
	CHECK(payload_ok(IPC_READ_STREAM_REQ, &rd, sizeof(rd)));

	uint8_t data[8 + 4] = { 0 };
	CHECK(payload_ok(IPC_READ_STREAM_REPLY, data, sizeof(data)));
	memset(data, 0xff, 8);
	CHECK(payload_bad(IPC_READ_STREAM_REPLY, data, sizeof(data), "overflows"));

	struct ipc_stdio_ack ack = { "e1", 2, 0, 1234 };
	CHECK(payload_ok(IPC_READ_STREAM_ACK, &ack, sizeof(ack)));
	ack.pad = 7;
	CHECK(payload_bad(IPC_READ_STREAM_ACK, &ack, sizeof(ack), "padding"));
	ack.pad = 0;
	ack.stream = 0;
	CHECK(payload_bad(IPC_READ_STREAM_ACK, &ack, sizeof(ack), "stream 0"));

	uint8_t wr[IPC_ID_MAX + 3] = { 'e', 0 };
	memcpy(wr + IPC_ID_MAX, "abc", 3);
	CHECK(payload_ok(IPC_WRITE_STDIN_REQ, wr, sizeof(wr)));
	wr[0] = '.';
	CHECK(payload_bad(IPC_WRITE_STDIN_REQ, wr, sizeof(wr), "exec id"));

	struct ipc_stdio_written wn = { 5 };
	CHECK(payload_ok(IPC_WRITE_STDIN_REPLY, &wn, sizeof(wn)));
	wn.len = IPC_STDIO_CHUNK + 1;
	CHECK(payload_bad(IPC_WRITE_STDIN_REPLY, &wn, sizeof(wn), "len"));

	struct ipc_exec_ref xr = { "c", "" };
	CHECK(payload_ok(IPC_WAIT_PROCESS_REQ, &xr, sizeof(xr)));
	CHECK(payload_ok(IPC_CLOSE_STDIN_REQ, &xr, sizeof(xr)));
	memset(xr.container_id, 0, sizeof(xr.container_id));
	CHECK(payload_bad(IPC_WAIT_PROCESS_REQ, &xr, sizeof(xr), "container id is empty"));

	struct ipc_tty_resize tr = { "", 24, 80, 0 };
	CHECK(payload_ok(IPC_TTY_WIN_RESIZE_REQ, &tr, sizeof(tr)));
	tr.pad = 1;
	CHECK(payload_bad(IPC_TTY_WIN_RESIZE_REQ, &tr, sizeof(tr), "padding"));

	struct ipc_wait_reply wrp = { 137, 0 };
	CHECK(payload_ok(IPC_WAIT_PROCESS_REPLY, &wrp, sizeof(wrp)));
	wrp.status = -1;
	CHECK(payload_bad(IPC_WAIT_PROCESS_REPLY, &wrp, sizeof(wrp), "status -1"));
	wrp.status = 256;
	CHECK(payload_bad(IPC_WAIT_PROCESS_REPLY, &wrp, sizeof(wrp), "status 256"));

	struct ipc_exited ex = { "x", 0, 0 };
	CHECK(payload_ok(IPC_MON_EXITED, &ex, sizeof(ex)));
	ex.pad = 1;
	CHECK(payload_bad(IPC_MON_EXITED, &ex, sizeof(ex), "padding"));

	struct ipc_launched la = { 42, 0 };
	CHECK(payload_ok(IPC_LAUNCHED, &la, sizeof(la)));
	la.pid = 0;
	CHECK(payload_bad(IPC_LAUNCHED, &la, sizeof(la), "pid 0"));

	struct ipc_process_add pa = { "", 7, 1, 0, { 0 } };
	CHECK(payload_ok(IPC_MON_PROCESS_ADD, &pa, sizeof(pa)));
	pa.terminal = 2;
	CHECK(payload_bad(IPC_MON_PROCESS_ADD, &pa, sizeof(pa), "boolean"));
	pa.terminal = 1;
	pa.direct = IPC_DIRECT_STDOUT;
	CHECK(payload_bad(IPC_MON_PROCESS_ADD, &pa, sizeof(pa), "with a terminal"));
	pa.terminal = 0;
	CHECK(payload_ok(IPC_MON_PROCESS_ADD, &pa, sizeof(pa)));
	pa.direct = 1; /* stdin is never direct */
	CHECK(payload_bad(IPC_MON_PROCESS_ADD, &pa, sizeof(pa), "direct outputs 0x1"));
	pa.direct = 0;
	pa.pad[1] = 1;
	CHECK(payload_bad(IPC_MON_PROCESS_ADD, &pa, sizeof(pa), "padding"));
	pa.pad[1] = 0;
	pa.pid = -3;
	CHECK(payload_bad(IPC_MON_PROCESS_ADD, &pa, sizeof(pa), "pid -3"));
}

TEST(process_add_fds)
{
	int sv[2], p1[2], p2[2];
	REQUIRE(tu_seqpacket_pair(sv) == 0 && pipe(p1) == 0 && pipe(p2) == 0);
	int before = open_fds();
	struct kerr e = { 0 };
	struct ipc_process_add pa = { "e1", 123, 0, 0, { 0 } };
	int four[4] = { p1[0], p1[1], p2[0], p2[1] };

	/* Sender: the count must match terminal. */
	CHECK(ipc_send_fds(sv[0], IPC_MON_PROCESS_ADD, 1, &pa, sizeof(pa), four, 2, &e) < 0);
	CHECK(strstr(e.msg, "2 fds given, 4 required") != NULL);
	CHECK(ipc_send_fd(sv[0], IPC_MON_PROCESS_ADD, 1, &pa, sizeof(pa), -1, &e) < 0);
	CHECK_EQ_INT(ipc_send_fds(sv[0], IPC_MON_PROCESS_ADD, 1, &pa, sizeof(pa), four, 4, &e), 0);
	struct ipc_msg m;
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1);
	CHECK_EQ_INT(m.nfds, 4);
	CHECK_EQ_INT(m.fd, m.fds[0]);
	/* The fds are the same pipes: write into fds[1], read from fds[0]. */
	int w = ipc_msg_take_fd_at(&m, 1);
	CHECK(w >= 0 && m.fds[1] == -1);
	CHECK_EQ_INT(ipc_msg_take_fd_at(&m, 1), -1);
	CHECK_EQ_INT(ipc_msg_take_fd_at(&m, 7), -1);
	CHECK_EQ_INT(write(w, "hi", 2), 2);
	char b[4] = { 0 };
	CHECK_EQ_INT(read(m.fds[0], b, sizeof(b)), 2);
	CHECK_EQ_STR(b, "hi");
	int f0 = ipc_msg_take_fd(&m);
	CHECK(f0 >= 0 && m.fd == -1 && m.fds[0] == -1);
	close(f0);
	close(w);
	ipc_msg_release(&m); /* closes fds 2 and 3 */

	pa.terminal = 1;
	CHECK_EQ_INT(ipc_send_fds(sv[0], IPC_MON_PROCESS_ADD, 1, &pa, sizeof(pa), four, 2, &e), 0);
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1);
	CHECK_EQ_INT(m.nfds, 2);
	ipc_msg_release(&m);
	/* A direct output has no read end here: one fd less per such output. */
	pa.terminal = 0;
	pa.direct = IPC_DIRECT_STDERR;
	CHECK(ipc_send_fds(sv[0], IPC_MON_PROCESS_ADD, 1, &pa, sizeof(pa), four, 4, &e) < 0);
	CHECK(strstr(e.msg, "4 fds given, 3 required") != NULL);
	CHECK_EQ_INT(ipc_send_fds(sv[0], IPC_MON_PROCESS_ADD, 1, &pa, sizeof(pa), four, 3, &e), 0);
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1);
	CHECK_EQ_INT(m.nfds, 3);
	ipc_msg_release(&m);
	pa.direct = IPC_DIRECT_STDOUT | IPC_DIRECT_STDERR;
	CHECK_EQ_INT(ipc_send_fds(sv[0], IPC_MON_PROCESS_ADD, 1, &pa, sizeof(pa), four, 2, &e), 0);
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1);
	CHECK_EQ_INT(m.nfds, 2);
	ipc_msg_release(&m);
	pa.direct = 0;
	pa.terminal = 1;
	CHECK_EQ_INT(open_fds(), before);

	/* Receiver: a count that does not match terminal, and no fds at all. */
	struct ipc_hdr h = { IPC_MON_PROCESS_ADD, sizeof(pa), 1, 0 };
	raw_send(sv[0], &h, &pa, sizeof(pa), four, 4);
	CHECK(rejects(sv[1], "4 fds, 2 required"));
	pa.terminal = 0;
	raw_send(sv[0], &h, &pa, sizeof(pa), four, 3);
	CHECK(rejects(sv[1], "3 fds, 4 required"));
	raw_send(sv[0], &h, &pa, sizeof(pa), NULL, 0);
	CHECK(rejects(sv[1], "required fds missing"));
	/* More than any message may carry: all received fds are closed. */
	int five[5] = { p1[0], p1[1], p2[0], p2[1], sv[0] };
	raw_send(sv[0], &h, &pa, sizeof(pa), five, 4);
	memcpy(five, four, sizeof(four));
	{
		/* raw_send has room for 4; craft 5 by hand */
		union {
			char buf[CMSG_SPACE(sizeof(int) * 5)];
			struct cmsghdr align;
		} cm;
		struct iovec iov[2] = { { &h, sizeof(h) }, { &pa, sizeof(pa) } };
		struct msghdr mh = { .msg_iov = iov,
				     .msg_iovlen = 2,
				     .msg_control = cm.buf,
				     .msg_controllen = sizeof(cm.buf) };
		memset(&cm, 0, sizeof(cm));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * 5);
		memcpy(CMSG_DATA(c), five, sizeof(int) * 5);
		CHECK(sendmsg(sv[0], &mh, 0) > 0);
	}
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1); /* the 4-fd one above is valid */
	ipc_msg_release(&m);
	CHECK(rejects(sv[1], "5 fds"));
	/* Other types still take at most one. */
	struct ipc_container_ref cr = { "c1" };
	h = (struct ipc_hdr){ IPC_MONITOR_ATTACH, sizeof(cr), 2, 0 };
	raw_send(sv[0], &h, &cr, sizeof(cr), four, 2);
	CHECK(rejects(sv[1], "2 fds"));
	CHECK_EQ_INT(open_fds(), before);

	/* Sender-side field checks catch bugs where they are made. */
	cr.container_id[0] = '-';
	CHECK(ipc_send_fd(sv[0], IPC_MONITOR_ATTACH, 1, &cr, sizeof(cr), p1[0], &e) < 0);
	CHECK(strstr(e.msg, "container id") != NULL);
	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	close(p2[1]);
	tu_close_pair(sv);
}

TEST(stdio_messages_round_trip)
{
	int sv[2];
	REQUIRE(tu_seqpacket_pair(sv) == 0);
	struct kerr e = { 0 };
	size_t len = sizeof(struct ipc_stdio_data) + IPC_STDIO_CHUNK;
	uint8_t *buf = calloc(1, len);
	for (size_t i = 8; i < len; i++)
		buf[i] = (uint8_t)i;
	CHECK_EQ_INT(ipc_send_fd(sv[0], IPC_READ_STREAM_REPLY, 9, buf, len, -1, &e), 0);
	struct ipc_msg m;
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1);
	CHECK_EQ_INT(m.len, len);
	CHECK_EQ_INT(m.hdr.flags, 0); /* inline, never a memfd */
	CHECK(memcmp(m.payload, buf, len) == 0);
	ipc_msg_release(&m);
	CHECK(ipc_send_fd(sv[0], IPC_READ_STREAM_REPLY, 9, buf, len + 1, -1, &e) < 0);
	/* EOF: the header alone */
	CHECK_EQ_INT(ipc_send_fd(sv[0], IPC_READ_STREAM_REPLY, 9, buf, 8, -1, &e), 0);
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1);
	CHECK_EQ_INT(m.len, 8);
	ipc_msg_release(&m);
	/* A 0-byte write is not a message. */
	CHECK(ipc_send_fd(sv[0], IPC_WRITE_STDIN_REQ, 9, buf, IPC_ID_MAX, -1, &e) < 0);
	free(buf);
	tu_close_pair(sv);
}

TEST(metrics_messages)
{
	int sv[2];
	REQUIRE(tu_seqpacket_pair(sv) == 0);
	struct kerr e = { 0 };
	struct ipc_msg m;
	int sz = 4 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	/* GET_METRICS_REQ: nothing but the header */
	CHECK(ipc_send_fd(sv[0], IPC_GET_METRICS_REQ, 1, "x", 1, -1, &e) < 0);
	CHECK_EQ_INT(ipc_send_fd(sv[0], IPC_GET_METRICS_REQ, 1, NULL, 0, -1, &e), 0);
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1);
	CHECK_EQ_INT(m.hdr.type, IPC_GET_METRICS_REQ);
	ipc_msg_release(&m);
	/* GET_METRICS_REPLY: 1..IPC_METRICS_TEXT_MAX, a memfd above 64 KiB */
	CHECK(ipc_send_fd(sv[0], IPC_GET_METRICS_REPLY, 1, NULL, 0, -1, &e) < 0);
	char *text = malloc(IPC_METRICS_TEXT_MAX + 1);
	REQUIRE(text != NULL);
	memset(text, 'a', IPC_METRICS_TEXT_MAX + 1);
	CHECK(ipc_send_fd(sv[0], IPC_GET_METRICS_REPLY, 1, text, IPC_METRICS_TEXT_MAX + 1, -1, &e) <
	      0);
	CHECK_EQ_INT(ipc_send_fd(sv[0], IPC_GET_METRICS_REPLY, 2, text, IPC_METRICS_TEXT_MAX, -1,
				 &e),
		     0);
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1);
	CHECK_EQ_INT(m.hdr.flags, IPC_F_MEMFD);
	CHECK_EQ_INT(m.len, IPC_METRICS_TEXT_MAX);
	CHECK(m.payload && memcmp(m.payload, text, m.len) == 0);
	ipc_msg_release(&m);
	free(text);
	tu_close_pair(sv);
}

/* ---- the dispatcher owns a request's input ---- */

struct owner_test {
	struct loop *loop;
	int handled, closed;
	char hostname[64];
	char reason[256];
	bool take;
	void *taken;
};

static int own_sandbox(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct owner_test *t = data;
	const Grpc__CreateSandboxRequest *q = m->in;
	snprintf(t->hostname, sizeof(t->hostname), "%s", q->hostname);
	t->handled++;
	if (t->take)
		t->taken = ipc_msg_take_in(m);
	loop_quit(t->loop);
	return ipc_chan_send(c, IPC_OK, m->hdr.id, NULL, 0, -1, err);
}

static int own_start(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct owner_test *t = data;
	t->handled++;
	return 0;
}

static void own_close(struct ipc_chan *c, const char *reason, void *data)
{
	struct owner_test *t = data;
	t->closed++;
	snprintf(t->reason, sizeof(t->reason), "%s", reason ? reason : "(eof)");
	loop_quit(t->loop);
}

static const struct ipc_dispatch owner_table[] = {
	{ IPC_CREATE_SANDBOX_REQ, own_sandbox },
	{ IPC_START_CONTAINER_REQ, own_start },
	{ 0, NULL },
};

/* Run the loop until the handler or the close quits it (5 s at most). */
static void spin(struct loop *l)
{
	struct kerr e = { 0 };
	struct loop_timer *tm = loop_timer_add(l, loop_now_ns() + 5000000000ull, on_timeout, NULL);
	loop_run(l, &e);
	loop_timer_cancel(l, tm);
}

/* A channel serving owner_table to a front-end; sv[1] is the front-end. */
static int owner_open(struct owner_test *t, int sv[2], struct ipc_chan **c)
{
	struct kerr e = { 0 };
	if (tu_seqpacket_pair(sv) < 0 || loop_new(&t->loop, &e) < 0)
		return -1;
	return ipc_chan_new(c, t->loop, sv[0], "exec", IPC_ROLE_FRONTEND, owner_table, own_close, t,
			    &e);
}

TEST(dispatcher_decodes_and_frees_a_request)
{
	struct owner_test t = { 0 };
	struct kerr e = { 0 };
	int sv[2];
	struct ipc_chan *c = NULL;
	REQUIRE(owner_open(&t, sv, &c) == 0);
	/* Bytes that are no CreateSandboxRequest are answered without the
	 * handler; a real one after them is decoded for the handler, and
	 * freed after it. */
	static const uint8_t junk[] = { 0xff, 0xff, 0xff };
	CHECK_EQ_INT(ipc_send_fd(sv[1], IPC_CREATE_SANDBOX_REQ, 7, junk, sizeof(junk), -1, &e), 0);
	Grpc__CreateSandboxRequest req = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	req.hostname = (char *)"pod-7";
	uint8_t buf[64];
	size_t n = protobuf_c_message_pack(&req.base, buf);
	CHECK_EQ_INT(ipc_send_fd(sv[1], IPC_CREATE_SANDBOX_REQ, 8, buf, n, -1, &e), 0);
	spin(t.loop);
	CHECK_EQ_INT(t.handled, 1);
	CHECK_EQ_INT(t.closed, 0);
	CHECK_EQ_STR(t.hostname, "pod-7");
	struct ipc_msg m;
	REQUIRE(ipc_recv(sv[1], &m, &e) == 1);
	CHECK_EQ_INT(m.hdr.type, IPC_ERROR);
	CHECK_EQ_INT(m.hdr.id, 7);
	struct kerr failure = { 0 };
	CHECK(ipc_error_decode(&m, &failure));
	CHECK_EQ_INT(kerr_status(&failure), GRPC_INVALID_ARGUMENT);
	CHECK_EQ_STR(failure.msg, "CreateSandbox: the request is not a valid CreateSandboxRequest");
	ipc_msg_release(&m);
	REQUIRE(ipc_recv(sv[1], &m, &e) == 1);
	CHECK_EQ_INT(m.hdr.type, IPC_OK);
	CHECK_EQ_INT(m.hdr.id, 8);
	ipc_msg_release(&m);
	/* A handler may keep it. */
	t.take = true;
	CHECK_EQ_INT(ipc_send_fd(sv[1], IPC_CREATE_SANDBOX_REQ, 9, buf, n, -1, &e), 0);
	spin(t.loop);
	REQUIRE(t.taken != NULL);
	CHECK_EQ_STR(((Grpc__CreateSandboxRequest *)t.taken)->hostname, "pod-7");
	protobuf_c_message_free_unpacked(t.taken, NULL);
	ipc_chan_free(c);
	close(sv[1]);
	loop_free(t.loop);
}

TEST(dispatcher_refuses_a_request_without_an_id)
{
	struct owner_test t = { 0 };
	struct kerr e = { 0 };
	int sv[2];
	struct ipc_chan *c = NULL;
	REQUIRE(owner_open(&t, sv, &c) == 0);
	struct ipc_container_ref r = { .container_id = "c1" };
	CHECK_EQ_INT(ipc_send_fd(sv[1], IPC_START_CONTAINER_REQ, 0, &r, sizeof(r), -1, &e), 0);
	spin(t.loop);
	CHECK_EQ_INT(t.handled, 0);
	CHECK_EQ_INT(t.closed, 1);
	CHECK_EQ_STR(t.reason, "START_CONTAINER_REQ without a request id");
	close(sv[1]);
	loop_free(t.loop);
}

/* ---- the registry of pending requests, and ERROR ---- */

static struct ipc_msg reply_of(uint32_t type, uint32_t id)
{
	return (struct ipc_msg){ .hdr = { .type = type, .id = id }, .fd = -1 };
}

TEST(pending_matches_replies_to_their_requests)
{
	struct ipc_pending_list l = { 0 };
	struct ipc_pending a, b, c;
	ipc_pending_add(&l, &a, IPC_STATS_CONTAINER_REQ, 1);
	ipc_pending_add(&l, &b, IPC_START_CONTAINER_REQ, 2);
	ipc_pending_add(&l, &c, IPC_LAUNCH_INIT, 3);
	CHECK_EQ_INT(l.n, 3);
	CHECK(ipc_pending_has(&l, IPC_LAUNCH_INIT));
	CHECK(!ipc_pending_has(&l, IPC_LAUNCH_EXEC));
	struct kerr e = { 0 };
	struct ipc_msg m = reply_of(IPC_OK, 9);
	CHECK(ipc_pending_match(&l, &m, &e) == NULL);
	CHECK_EQ_STR(e.msg, "OK with id 9 matches no request");
	CHECK_EQ_INT(e.code, -EPROTO);
	/* The declared reply of STATS_CONTAINER_REQ is not OK. */
	m = reply_of(IPC_OK, 1);
	CHECK(ipc_pending_match(&l, &m, &e) == NULL);
	CHECK_EQ_STR(e.msg, "OK with id 1 answers STATS_CONTAINER_REQ, which expects "
			    "STATS_CONTAINER_REPLY");
	CHECK_EQ_INT(l.n, 3);
	m = reply_of(IPC_OK, 2);
	CHECK(ipc_pending_match(&l, &m, &e) == &b);
	m = reply_of(IPC_ERROR, 3);
	CHECK(ipc_pending_match(&l, &m, &e) == &c);
	CHECK(!ipc_pending_has(&l, IPC_LAUNCH_INIT));
	/* What is left goes oldest first; then the list is empty and usable. */
	CHECK(ipc_pending_pop(&l) == &a);
	CHECK(ipc_pending_pop(&l) == NULL);
	CHECK_EQ_INT(l.n, 0);
	ipc_pending_add(&l, &b, IPC_START_CONTAINER_REQ, 4);
	ipc_pending_remove(&l, &b);
	CHECK(ipc_pending_pop(&l) == NULL);
}

TEST(error_built_and_read_in_one_place)
{
	int sv[2];
	REQUIRE(tu_seqpacket_pair(sv) == 0);
	struct kerr e = { 0 }, cause = { 0 };
	/* No status of its own: the default; an errno out of range: none. */
	kerr_set(&cause, -ENOENT, "gone");
	CHECK_EQ_INT(ipc_send_error(sv[0], 4, &cause, GRPC_INTERNAL, &e), 0);
	struct ipc_msg m;
	REQUIRE(ipc_recv(sv[1], &m, &e) == 1);
	struct kerr got = { 0 };
	CHECK(ipc_error_decode(&m, &got));
	CHECK_EQ_INT(kerr_status(&got), kerr_status(&cause));
	CHECK_EQ_INT(got.code, -ENOENT);
	CHECK_EQ_STR(got.msg, "gone");
	ipc_msg_release(&m);
	/* A cause without an error status: the default; no errno: -EIO. */
	kerr_clear(&cause);
	snprintf(cause.msg, sizeof(cause.msg), "odd");
	uint8_t buf[IPC_ERROR_PAYLOAD_MAX];
	size_t n = ipc_error_payload(buf, &cause, GRPC_UNAVAILABLE);
	CHECK_EQ_INT(ipc_send_fd(sv[0], IPC_ERROR, 5, buf, n, -1, &e), 0);
	REQUIRE(ipc_recv(sv[1], &m, &e) == 1);
	CHECK(ipc_error_decode(&m, &got));
	CHECK_EQ_INT(kerr_status(&got), GRPC_UNAVAILABLE);
	CHECK_EQ_INT(got.code, -EIO);
	CHECK_EQ_STR(got.msg, "odd");
	ipc_msg_release(&m);
	/* An errno out of range is not carried; the status is. */
	kerr_set_status(&cause, GRPC_ABORTED, -100000, "far");
	n = ipc_error_payload(buf, &cause, GRPC_UNAVAILABLE);
	CHECK_EQ_INT(ipc_send_fd(sv[0], IPC_ERROR, 6, buf, n, -1, &e), 0);
	REQUIRE(ipc_recv(sv[1], &m, &e) == 1);
	CHECK(ipc_error_decode(&m, &got));
	CHECK_EQ_INT(kerr_status(&got), GRPC_ABORTED);
	CHECK_EQ_INT(got.code, -EIO);
	ipc_msg_release(&m);
	/* Anything else is no failure. */
	m = reply_of(IPC_OK, 1);
	kerr_clear(&got);
	CHECK(!ipc_error_decode(&m, &got));
	CHECK_EQ_INT(got.code, 0);
	tu_close_pair(sv);
}

/* AddSwap and ResizeVolume (the front-end's shapes, re-checked by the
 * receiver): a PCI path of 1..16 slots of 0..31, zero beyond; a path with
 * no NUL after the size. */
TEST(device_messages)
{
	struct kerr e = { 0 };
	struct ipc_add_swap_device a = { .n = 2, .slot = { 3, 0 } };
	CHECK_EQ_INT(ipc_check_payload(IPC_ADD_SWAP_REQ, (uint8_t *)&a, sizeof(a), &e), 0);
	a.n = 0;
	CHECK(ipc_check_payload(IPC_ADD_SWAP_REQ, (uint8_t *)&a, sizeof(a), &e) < 0);
	a.n = IPC_PCI_PATH_MAX + 1;
	CHECK(ipc_check_payload(IPC_ADD_SWAP_REQ, (uint8_t *)&a, sizeof(a), &e) < 0);
	a.n = 2;
	a.slot[1] = 32;
	CHECK(ipc_check_payload(IPC_ADD_SWAP_REQ, (uint8_t *)&a, sizeof(a), &e) < 0);
	a.slot[1] = 0;
	a.slot[5] = 1; /* beyond n */
	CHECK(ipc_check_payload(IPC_ADD_SWAP_REQ, (uint8_t *)&a, sizeof(a), &e) < 0);
	CHECK(ipc_check_payload(IPC_ADD_SWAP_REQ, (uint8_t *)&a, sizeof(a) - 4, &e) < 0);
	struct {
		struct ipc_resize_volume h;
		char path[16];
	} r = { .h.size = 1 << 20, .path = "/run/x" };
	size_t len = sizeof(r.h) + strlen(r.path);
	CHECK_EQ_INT(ipc_check_payload(IPC_RESIZE_VOLUME_REQ, (uint8_t *)&r, len, &e), 0);
	r.path[2] = '\0';
	CHECK(ipc_check_payload(IPC_RESIZE_VOLUME_REQ, (uint8_t *)&r, len, &e) < 0);
	CHECK(ipc_check_payload(IPC_RESIZE_VOLUME_REQ, (uint8_t *)&r, sizeof(r.h), &e) < 0);
}

/* A payload of len bytes of value v, received as exactly that. */
static int got_blob(struct ipc_msg *m, size_t len, uint8_t v)
{
	if (m->hdr.type != IPC_TEST_BLOB || m->len != len || m->nfds != 0 || m->fd != -1)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (m->payload[i] != v)
			return 0;
	return 1;
}

static int send_blob(int sock, uint32_t id, size_t len, uint8_t v)
{
	struct kerr e = { 0 };
	uint8_t *b = malloc(len ? len : 1);
	memset(b, v, len);
	int r = ipc_send_fd(sock, IPC_TEST_BLOB, id, b, len, -1, &e);
	free(b);
	return r;
}

/* ipc_recv reuses its receive buffers (a hostile peer's bytes stay in
 * them): each message's length and bytes are its own, long then short,
 * short then long, several held at once, the empty one. */
TEST(recv_buffers_reused)
{
	int sv[2];
	REQUIRE(tu_seqpacket_pair(sv) == 0);
	/* A message that was not sent fails the check, not hang it. */
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	int sz = 4 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	struct kerr e = { 0 };
	struct ipc_msg m, held[4];
	/* Sizes around the copy-out threshold (4 KiB) and the limit. */
	static const size_t sizes[] = { IPC_MAX_INLINE, 10, 5000, 4096, 4097, 0, 60000, 1 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		CHECK_EQ_INT(send_blob(sv[0], (uint32_t)i + 1, sizes[i], (uint8_t)(0x11 * (i + 1))),
			     0);
		CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1);
		CHECK(got_blob(&m, sizes[i], (uint8_t)(0x11 * (i + 1))));
		CHECK_EQ_INT(m.hdr.id, i + 1);
		ipc_msg_release(&m);
	}
	/* More held at once than the process keeps spare. */
	for (unsigned i = 0; i < 4; i++) {
		CHECK_EQ_INT(send_blob(sv[0], 100 + i, 50000 - i * 1000, (uint8_t)(0xa0 + i)), 0);
		CHECK_EQ_INT(ipc_recv(sv[1], &held[i], &e), 1);
	}
	for (unsigned i = 0; i < 4; i++)
		CHECK(got_blob(&held[i], 50000 - i * 1000, (uint8_t)(0xa0 + i)));
	ipc_msg_release(&held[2]);
	ipc_msg_release(&held[0]);
	CHECK_EQ_INT(send_blob(sv[0], 200, 5001, 0x5a), 0);
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1);
	CHECK(got_blob(&held[1], 49000, 0xa1) && got_blob(&held[3], 47000, 0xa3));
	CHECK(got_blob(&m, 5001, 0x5a));
	ipc_msg_release(&m);
	ipc_msg_release(&held[1]);
	ipc_msg_release(&held[3]);
	tu_close_pair(sv);
}

/* A hostile peer after a message with fds: one byte over the limit, then
 * an fd on a type that takes none. Both are rejected with their fds
 * closed, and the message after them carries no fd of theirs. */
TEST(recv_rejects_leave_nothing)
{
	int sv[2], other[2];
	REQUIRE(tu_seqpacket_pair(sv) == 0 && tu_seqpacket_pair(other) == 0);
	/* A message that was not sent fails the check, not hang it. */
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	int sz = 4 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	int before = open_fds();
	struct kerr e = { 0 };
	struct ipc_msg m;
	struct ipc_ctl_new_frontend n = { 1, 42 };
	CHECK_EQ_INT(ipc_send_fd(sv[0], IPC_CTL_NEW_FRONTEND, 0, &n, sizeof(n), other[0], &e), 0);
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1);
	CHECK(m.fd >= 0 && m.nfds == 1);
	ipc_msg_release(&m);

	size_t over = IPC_MAX_INLINE + 1;
	uint8_t *buf = calloc(1, over);
	struct ipc_hdr h = { IPC_TEST_BLOB, (uint32_t)over, 1, 0 };
	CHECK_EQ_INT(raw_send(sv[0], &h, buf, over, &other[0], 1), 0);
	CHECK(rejects(sv[1], "larger than"));
	h.len = 100;
	CHECK_EQ_INT(raw_send(sv[0], &h, buf, 100, &other[1], 1), 0);
	CHECK(rejects(sv[1], "unexpected fd"));
	/* Exactly at the limit, after them: whole, no fd. */
	memset(buf, 0x77, IPC_MAX_INLINE);
	h.len = IPC_MAX_INLINE;
	CHECK_EQ_INT(raw_send(sv[0], &h, buf, IPC_MAX_INLINE, NULL, 0), 0);
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1);
	CHECK(got_blob(&m, IPC_MAX_INLINE, 0x77));
	ipc_msg_release(&m);
	free(buf);
	CHECK_EQ_INT(open_fds(), before);
	tu_close_pair(sv);
	tu_close_pair(other);
}

/* A payload in pieces (the monitor's ring) arrives as one, with the same
 * sender checks as in one piece. */
TEST(send_in_pieces)
{
	int sv[2];
	REQUIRE(tu_seqpacket_pair(sv) == 0);
	/* A message that was not sent fails the check, not hang it. */
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	struct kerr e = { 0 };
	struct ipc_msg m;
	struct ipc_stdio_data h = { .offset = 1000 };
	char ring[] = "worldhello ";
	/* "hello world": the ring's tail, then its head. */
	struct iovec iov[3] = { { &h, sizeof(h) }, { ring + 5, 6 }, { ring, 5 } };
	CHECK_EQ_INT(ipc_sendv(sv[0], IPC_READ_STREAM_REPLY, 9, iov, 3, NULL, 0, &e), 0);
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1);
	CHECK_EQ_INT(m.len, sizeof(h) + 11);
	CHECK(memcmp(m.payload + sizeof(h), "hello world", 11) == 0);
	CHECK_EQ_INT(((const struct ipc_stdio_data *)(const void *)m.payload)->offset, 1000);
	ipc_msg_release(&m);
	/* The field rule sees the whole length: an offset that overflows. */
	h.offset = UINT64_MAX - 5;
	CHECK(ipc_sendv(sv[0], IPC_READ_STREAM_REPLY, 9, iov, 3, NULL, 0, &e) < 0);
	CHECK(strstr(e.msg, "overflows") != NULL);
	/* A rule that reads the tail, on pieces: an ERROR's text. */
	char ebuf[IPC_ERROR_PAYLOAD_MAX];
	size_t en = ipc_error_build(ebuf, GRPC_INTERNAL, -EIO, "split text");
	struct iovec ev[2] = { { ebuf, 12 }, { ebuf + 12, en - 12 } };
	CHECK_EQ_INT(ipc_sendv(sv[0], IPC_ERROR, 3, ev, 2, NULL, 0, &e), 0);
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1);
	struct kerr got = { 0 };
	CHECK(ipc_error_decode(&m, &got) && strcmp(got.msg, "split text") == 0);
	ipc_msg_release(&m);
	ebuf[en - 1] = 'x';
	CHECK(ipc_sendv(sv[0], IPC_ERROR, 3, ev, 2, NULL, 0, &e) < 0);
	/* MON_PROCESS_ADD's struct split: its fd rule still applies. */
	struct ipc_process_add pa = { "e1", 123, 0, 0, { 0 } };
	struct iovec pv[2] = { { &pa, 10 }, { (char *)&pa + 10, sizeof(pa) - 10 } };
	int four[4] = { 0, 1, 2, 2 };
	CHECK(ipc_sendv(sv[0], IPC_MON_PROCESS_ADD, 4, pv, 2, four, 3, &e) < 0);
	CHECK_EQ_INT(ipc_sendv(sv[0], IPC_MON_PROCESS_ADD, 4, pv, 2, four, 4, &e), 0);
	CHECK_EQ_INT(ipc_recv(sv[1], &m, &e), 1);
	CHECK_EQ_INT(m.nfds, 4);
	ipc_msg_release(&m);
	/* Too many pieces. */
	struct iovec many[IPC_SEND_IOV_MAX + 1];
	for (unsigned i = 0; i <= IPC_SEND_IOV_MAX; i++)
		many[i] = (struct iovec){ ring, 1 };
	CHECK(ipc_sendv(sv[0], IPC_TEST_BLOB, 1, many, IPC_SEND_IOV_MAX + 1, NULL, 0, &e) < 0);
	tu_close_pair(sv);
}

static void chan_closed(struct ipc_chan *c, const char *reason, void *data)
{
	*(int *)data += 1;
}

/* A channel whose peer does not read: what the socket takes goes straight
 * from the caller's bytes, what waits is a copy (the caller reuses its
 * buffer at once, as the monitor does its ring), and the order is kept. */
TEST(channel_queue_copies)
{
	int sv[2];
	REQUIRE(tu_seqpacket_pair(sv) == 0);
	struct kerr e = { 0 };
	struct loop *l = NULL;
	REQUIRE(loop_new(&l, &e) == 0);
	static const struct ipc_dispatch none[] = { { 0, NULL } };
	struct ipc_chan *c = NULL;
	int closed = 0;
	REQUIRE(ipc_chan_new(&c, l, sv[0], "t", IPC_ROLE_TEST, none, chan_closed, &closed, &e) == 0);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	uint8_t buf[3000];
	unsigned sent = 0, got = 0, bad = 0;
	/* Fill the socket until some wait, then keep a few more waiting. */
	for (unsigned extra = 0; extra < 5 && sent < 5000; sent++) {
		memset(buf, sent & 0xff, sizeof(buf));
		struct iovec iov[2] = { { buf, 1000 }, { buf + 1000, sizeof(buf) - 1000 } };
		CHECK_EQ_INT(ipc_chan_sendv(c, IPC_TEST_BLOB, sent + 1, iov, 2, NULL, 0, &e), 0);
		memset(buf, 0xee, sizeof(buf));
		if (ipc_chan_queued(c) > 0)
			extra++;
	}
	CHECK(ipc_chan_queued(c) == 5);
	/* Drain; each further send flushes what waits first. */
	for (int round = 0; round < 10000 && got < sent; round++) {
		struct ipc_msg m;
		int r = ipc_recv(sv[1], &m, &e);
		if (r == 1) {
			if (m.hdr.id != got + 1 || !got_blob(&m, sizeof(buf), got & 0xff))
				bad++;
			got++;
			ipc_msg_release(&m);
			continue;
		}
		if (r != -EAGAIN || got + ipc_chan_queued(c) != sent)
			break;
		memset(buf, sent & 0xff, sizeof(buf));
		CHECK_EQ_INT(ipc_chan_send(c, IPC_TEST_BLOB, sent + 1, buf, sizeof(buf), -1, &e),
			     0);
		sent++;
	}
	CHECK_EQ_INT(got, sent);
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(closed, 0);
	ipc_chan_free(c);
	loop_free(l);
	close(sv[1]);
}

int main(void)
{
	log_init("test", STDERR_FILENO, LOG_LVL_CRITICAL);
	return tap_run();
}
