/* SPDX-License-Identifier: Apache-2.0 */
/*
 * frontend_containers_test - the real kata-agent-frontend's container RPCs
 * against a scripted executor and monitor played by this program.
 *
 * The front-end runs as the parent starts it (fd 3 listening socket, fd 4
 * executor channel; it confines itself, so this needs root). The test is
 * its executor (answers PING, receives the lifecycle requests, hands over
 * monitor channels with MONITOR_ATTACH) and the containers' monitors, and a
 * ttRPC client. Everything is sequential: send a call, see what the
 * front-end forwards, answer it, read the call's answer. This pins down the
 * front-end's side of doc/ipc.md ("Container path") independently of the
 * executor and monitor implementations.
 *
 * The binary comes from $KATA_AGENT_FRONTEND.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "cleanup.h"
#include "grpc_status.h"
#include "ipc.h"
#include "tap.h"
#include "testutil.h"
#include "ttrpc.h"

struct fx {
	char dir[64];
	char sock[100];
	pid_t pid;
	int exec; /* our end of the executor channel */
	struct ttrpc_client *c;
};

static void fx_stop(struct fx *f)
{
	if (f->c)
		ttrpc_client_free(f->c);
	f->c = NULL;
	if (f->pid > 0) {
		kill(f->pid, SIGKILL);
		waitpid(f->pid, NULL, 0);
		f->pid = 0;
	}
	if (f->exec >= 0)
		close(f->exec);
	f->exec = -1;
	if (f->dir[0]) {
		unlink(f->sock);
		rmdir(f->dir);
		f->dir[0] = '\0';
	}
}
#define FX_SCOPED __attribute__((cleanup(fx_stop))) struct fx

static void set_timeout(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* Receive one message on a blocking channel end (5 s limit). */
static int expect(int fd, uint32_t type, struct ipc_msg *m)
{
	struct kerr err = { 0 };
	int r = ipc_recv(fd, m, &err);
	if (r <= 0) {
		printf("# expected %s: %s\n", ipc_type_name(type), r == 0 ? "EOF" : err.msg);
		return -1;
	}
	if (m->hdr.type != type) {
		printf("# expected %s, got %s\n", ipc_type_name(type), ipc_type_name(m->hdr.type));
		ipc_msg_release(m);
		return -1;
	}
	return 0;
}

/* Nothing arrives on fd within ms. */
static bool quiet(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, ms) == 0;
}

static int fx_start(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->exec = -1;
	const char *bin = getenv("KATA_AGENT_FRONTEND");
	if (!bin) {
		printf("# KATA_AGENT_FRONTEND is not set\n");
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "/tmp/fe-test.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->sock, sizeof(f->sock), "%s/fe.sock", f->dir);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->sock);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 16) < 0)
		return -1;
	int sp[2];
	if (tu_seqpacket_pair(sp) < 0)
		return -1;
	char *argv[] = { (char *)"kata-agent-frontend", (char *)"--log-level", (char *)"debug",
			 NULL };
	int fds[] = { l, sp[1] }; /* listening socket, executor channel */
	f->pid = tu_spawn(bin, argv, fds, 2);
	close(l);
	close(sp[1]);
	f->exec = sp[0];
	set_timeout(f->exec, 5000);
	struct ipc_msg m;
	if (expect(f->exec, IPC_PING, &m) < 0)
		return -1;
	struct kerr err = { 0 };
	int r = ipc_send_fd(f->exec, IPC_PONG, m.hdr.id, m.payload, m.len, -1, &err);
	ipc_msg_release(&m);
	if (r < 0)
		return -1;
	char addr[128];
	snprintf(addr, sizeof(addr), "unix://%s", f->sock);
	if (ttrpc_client_connect(&f->c, addr, 5000000000ull, &err) < 0) {
		printf("# connect: %s\n", err.msg);
		return -1;
	}
	set_timeout(ttrpc_client_fd(f->c), 5000);
	return 0;
}

/* ---- the client side ---- */

static uint32_t call(struct fx *f, const char *method, const ProtobufCMessage *req,
		     int64_t timeout_ns)
{
	size_t len = protobuf_c_message_get_packed_size(req);
	cleanup_free uint8_t *buf = malloc(len + 1);
	protobuf_c_message_pack(req, buf);
	uint32_t sid = 0;
	struct kerr err = { 0 };
	if (ttrpc_client_send(f->c, "grpc.AgentService", method, buf, len, timeout_ns, NULL, 0,
			      &sid, &err) < 0)
		printf("# send %s: %s\n", method, err.msg);
	return sid;
}

struct answer {
	uint32_t sid;
	int status;
	char *message;
	uint8_t *payload;
	size_t len;
};

static void answer_free(struct answer *a)
{
	free(a->message);
	free(a->payload);
	memset(a, 0, sizeof(*a));
}

static int answer(struct fx *f, struct answer *a)
{
	struct kerr err = { 0 };
	memset(a, 0, sizeof(*a));
	int r = ttrpc_client_recv(f->c, &a->sid, &a->status, &a->message, &a->payload, &a->len,
				  &err);
	if (r < 0)
		printf("# no answer: %s\n", err.msg);
	else if (a->status)
		printf("# answer: %s: %s\n", grpc_status_name(a->status), a->message);
	return r;
}

/* ---- the executor and monitor side ---- */

static int attach(struct fx *f, const char *cid)
{
	int sp[2];
	if (tu_seqpacket_pair(sp) < 0)
		return -1;
	struct ipc_container_ref ref = { 0 };
	snprintf(ref.container_id, sizeof(ref.container_id), "%s", cid);
	struct kerr err = { 0 };
	int r = ipc_send_fd(f->exec, IPC_MONITOR_ATTACH, 0, &ref, sizeof(ref), sp[1], &err);
	close(sp[1]);
	if (r < 0) {
		close(sp[0]);
		return -1;
	}
	set_timeout(sp[0], 5000);
	return sp[0];
}

static void reply(int fd, uint32_t type, uint32_t id, const void *p, size_t len)
{
	struct kerr err = { 0 };
	if (ipc_send_fd(fd, type, id, p, len, -1, &err) < 0)
		printf("# reply %s: %s\n", ipc_type_name(type), err.msg);
}

static void reply_error(int fd, uint32_t id, int status, const char *msg)
{
	uint8_t buf[sizeof(struct ipc_error) + IPC_ERROR_MSG_MAX];
	size_t n = ipc_error_build(buf, status, -ENOENT, msg);
	reply(fd, IPC_ERROR, id, buf, n);
}

static void data(int fd, uint32_t id, uint64_t off, const char *bytes, size_t n)
{
	uint8_t buf[sizeof(struct ipc_stdio_data) + 256];
	struct ipc_stdio_data h = { .offset = off };
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), bytes, n);
	reply(fd, IPC_READ_STREAM_REPLY, id, buf, sizeof(h) + n);
}

/* The answer to read id: a full chunk of 'x' at stream offset off. */
static void full_chunk(int fd, uint32_t id, uint64_t off)
{
	static uint8_t buf[sizeof(struct ipc_stdio_data) + IPC_STDIO_CHUNK];
	struct ipc_stdio_data h = { .offset = off };
	memcpy(buf, &h, sizeof(h));
	memset(buf + sizeof(h), 'x', IPC_STDIO_CHUNK);
	reply(fd, IPC_READ_STREAM_REPLY, id, buf, sizeof(buf));
}

/* A container "c" with its monitor channel: CreateContainer through. */
static int create(struct fx *f, const char *cid)
{
	Grpc__Process p = GRPC__PROCESS__INIT;
	char *args[] = { (char *)"sh" };
	p.n_args = 1;
	p.args = args;
	Grpc__Root root = GRPC__ROOT__INIT;
	root.path = (char *)"/run/kata-containers/x/rootfs";
	Grpc__Spec spec = GRPC__SPEC__INIT;
	spec.process = &p;
	spec.root = &root;
	Grpc__CreateContainerRequest req = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	req.container_id = (char *)cid;
	req.oci = &spec;
	uint32_t sid = call(f, "CreateContainer", &req.base, 0);
	struct ipc_msg m;
	if (expect(f->exec, IPC_CREATE_CONTAINER_REQ, &m) < 0)
		return -1;
	Grpc__CreateContainerRequest *got = grpc__create_container_request__unpack(NULL, m.len,
										   m.payload);
	bool ok = got && strcmp(got->container_id, cid) == 0 && got->oci && got->oci->process &&
		  got->oci->process->n_args == 1;
	if (got)
		grpc__create_container_request__free_unpacked(got, NULL);
	uint32_t id = m.hdr.id;
	ipc_msg_release(&m);
	if (!ok) {
		printf("# CREATE payload does not carry the request\n");
		return -1;
	}
	int mon = attach(f, cid);
	reply(f->exec, IPC_OK, id, NULL, 0);
	struct answer a;
	if (answer(f, &a) < 0 || a.sid != sid || a.status != 0) {
		answer_free(&a);
		if (mon >= 0)
			close(mon);
		return -1;
	}
	answer_free(&a);
	return mon;
}

static Grpc__ReadStreamResponse *read_answer(struct fx *f, uint32_t sid)
{
	struct answer a;
	if (answer(f, &a) < 0 || a.sid != sid || a.status != 0) {
		answer_free(&a);
		return NULL;
	}
	Grpc__ReadStreamResponse *r = grpc__read_stream_response__unpack(NULL, a.len, a.payload);
	answer_free(&a);
	return r;
}

static uint32_t read_exec_call(struct fx *f, const char *cid, const char *eid, uint32_t len,
			       int64_t timeout_ns)
{
	Grpc__ReadStreamRequest r = GRPC__READ_STREAM_REQUEST__INIT;
	r.container_id = (char *)cid;
	r.exec_id = (char *)eid;
	r.len = len;
	return call(f, "ReadStdout", &r.base, timeout_ns);
}

static uint32_t read_call(struct fx *f, const char *cid, uint32_t len, int64_t timeout_ns)
{
	return read_exec_call(f, cid, "", len, timeout_ns);
}

/* The next message on mon is a READ_STREAM_REQ for exec eid asking for
 * max_len bytes and carrying the ACK ack (0: none); its id, or 0. */
static uint32_t expect_read_acking(int mon, const char *eid, uint32_t max_len, uint64_t ack)
{
	struct ipc_msg m;
	if (expect(mon, IPC_READ_STREAM_REQ, &m) < 0)
		return 0;
	struct ipc_stdio_read rq;
	memcpy(&rq, m.payload, sizeof(rq));
	uint32_t id = m.hdr.id;
	ipc_msg_release(&m);
	if (rq.max_len != max_len || strcmp(rq.exec_id, eid) != 0 || rq.ack != ack) {
		printf("# READ_STREAM_REQ for \"%s\" max_len %u ack %llu, expected \"%s\" %u %llu\n",
		       rq.exec_id, rq.max_len, (unsigned long long)rq.ack, eid, max_len,
		       (unsigned long long)ack);
		return 0;
	}
	return id;
}

static uint32_t expect_read(int mon, const char *eid, uint32_t max_len)
{
	return expect_read_acking(mon, eid, max_len, 0);
}

/* The init's read-ahead batch: IPC_STDIO_READS_MAX full-chunk reads (as
 * many as the monitor queues), the first carrying ack; their ids in ids. */
static bool expect_batch(int mon, uint64_t ack, uint32_t ids[IPC_STDIO_READS_MAX])
{
	for (unsigned i = 0; i < IPC_STDIO_READS_MAX; i++) {
		ids[i] = expect_read_acking(mon, "", IPC_STDIO_CHUNK, i ? 0 : ack);
		if (!ids[i])
			return false;
	}
	return true;
}

/* The call sid is answered with exactly these bytes. */
static bool read_gets(struct fx *f, uint32_t sid, const char *want, size_t n)
{
	Grpc__ReadStreamResponse *r = read_answer(f, sid);
	bool ok = r && r->data.len == n && memcmp(r->data.data, want, n) == 0;
	if (r)
		grpc__read_stream_response__free_unpacked(r, NULL);
	return ok;
}

/* The next message on mon is a READ_STREAM_ACK up to offset. */
static bool expect_ack(int mon, uint64_t offset)
{
	struct ipc_msg m;
	if (expect(mon, IPC_READ_STREAM_ACK, &m) < 0)
		return false;
	struct ipc_stdio_ack a;
	memcpy(&a, m.payload, sizeof(a));
	ipc_msg_release(&m);
	if (a.offset != offset)
		printf("# READ_STREAM_ACK %llu, expected %llu\n", (unsigned long long)a.offset,
		       (unsigned long long)offset);
	return a.offset == offset;
}

/* ---- tests ---- */

TEST(create_forwards_the_request_and_attaches)
{
	FX_SCOPED f;
	REQUIRE(fx_start(&f) == 0);
	cleanup_close int mon = create(&f, "c1");
	CHECK(mon >= 0);
}

TEST(bad_ids_never_reach_the_executor)
{
	FX_SCOPED f;
	REQUIRE(fx_start(&f) == 0);
	const char *ids[] = { "../x", "a/b", "..", ".", "", "x\n" };
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		Grpc__StartContainerRequest r = GRPC__START_CONTAINER_REQUEST__INIT;
		r.container_id = (char *)ids[i];
		uint32_t sid = call(&f, "StartContainer", &r.base, 0);
		struct answer a;
		CHECK(answer(&f, &a) == 0 && a.sid == sid);
		CHECK_EQ_INT(a.status, GRPC_INVALID_ARGUMENT);
		answer_free(&a);
	}
	Grpc__ReadStreamRequest rs = GRPC__READ_STREAM_REQUEST__INIT;
	rs.container_id = (char *)"c1";
	rs.exec_id = (char *)"../../etc";
	rs.len = 10;
	call(&f, "ReadStdout", &rs.base, 0);
	struct answer a;
	CHECK(answer(&f, &a) == 0);
	CHECK_EQ_INT(a.status, GRPC_INVALID_ARGUMENT);
	answer_free(&a);
	CHECK(quiet(f.exec, 100));
}

TEST(read_data_ack_then_eof_is_empty)
{
	FX_SCOPED f;
	REQUIRE(fx_start(&f) == 0);
	cleanup_close int mon = create(&f, "c1");
	REQUIRE(mon >= 0);
	uint32_t sid = read_call(&f, "c1", 1000000, 0);
	struct ipc_msg m;
	REQUIRE(expect(mon, IPC_READ_STREAM_REQ, &m) == 0);
	struct ipc_stdio_read rq;
	memcpy(&rq, m.payload, sizeof(rq));
	CHECK_EQ_INT(rq.max_len, IPC_STDIO_CHUNK);
	CHECK_EQ_INT(rq.stream, IPC_STREAM_STDOUT);
	CHECK_EQ_STR(rq.exec_id, "");
	data(mon, m.hdr.id, 0, "hello", 5);
	ipc_msg_release(&m);
	Grpc__ReadStreamResponse *r = read_answer(&f, sid);
	REQUIRE(r);
	CHECK(r->data.len == 5 && memcmp(r->data.data, "hello", 5) == 0);
	grpc__read_stream_response__free_unpacked(r, NULL);
	/* The init's next chunks are read ahead, a batch at once (the reply
	 * went out at once), and the first read carries the ACK (no
	 * READ_STREAM_ACK of its own); the EOFs they get are dropped, nobody
	 * waits for them... */
	uint32_t ahead[IPC_STDIO_READS_MAX];
	REQUIRE(expect_batch(mon, 5, ahead));
	for (unsigned i = 0; i < IPC_STDIO_READS_MAX; i++)
		data(mon, ahead[i], 5, "", 0);
	CHECK(quiet(mon, 100));
	/* ...and the next read asks again. */
	sid = read_call(&f, "c1", 10, 0);
	uint32_t id = expect_read(mon, "", 10);
	REQUIRE(id);
	data(mon, id, 5, "", 0);
	r = read_answer(&f, sid);
	REQUIRE(r);
	CHECK_EQ_INT(r->data.len, 0);
	grpc__read_stream_response__free_unpacked(r, NULL);
	CHECK(quiet(mon, 100)); /* no ACK for EOF */
}

/* The host's first read of c1's init, answered "abcd" by the monitor at
 * once: the reply goes out at once, so the front-end reads ahead. */
static bool init_reads_abcd(struct fx *f, int mon)
{
	uint32_t sid = read_call(f, "c1", 4, 0);
	uint32_t id = expect_read(mon, "", 4);
	if (!id)
		return false;
	data(mon, id, 0, "abcd", 4);
	return read_gets(f, sid, "abcd", 4);
}

/* The acknowledged offset a READ_STREAM_ACK or READ_STREAM_REQ carries;
 * 0: none (or another message). */
static uint64_t msg_ack(const struct ipc_msg *m)
{
	if (m->hdr.type == IPC_READ_STREAM_ACK) {
		struct ipc_stdio_ack k;
		memcpy(&k, m->payload, sizeof(k));
		return k.offset;
	}
	if (m->hdr.type == IPC_READ_STREAM_REQ) {
		struct ipc_stdio_read q;
		memcpy(&q, m->payload, sizeof(q));
		return q.ack;
	}
	return 0;
}

/* A front-end with container c1 whose init the host read once ("abcd"):
 * the monitor channel, or -1. */
static int reading_c1(struct fx *f)
{
	if (fx_start(f) != 0)
		return -1;
	int mon = create(f, "c1");
	if (mon >= 0 && !init_reads_abcd(f, mon)) {
		close(mon);
		return -1;
	}
	return mon;
}

TEST(init_output_is_read_ahead_while_the_host_keeps_up)
{
	FX_SCOPED f;
	cleanup_close int mon = reading_c1(&f);
	REQUIRE(mon >= 0);
	/* The next chunks (full ones: the host's reads take them in their
	 * sizes) are asked for before the host asks, a batch at once, by
	 * reads the first of which acknowledges the first answer (one
	 * message, not an ACK and a read)... */
	uint32_t ids[IPC_STDIO_READS_MAX];
	REQUIRE(expect_batch(mon, 4, ids));
	CHECK(quiet(mon, 100)); /* at most a batch at a time at the monitor */
	data(mon, ids[0], 4, "efghijkl", 8);
	CHECK(quiet(mon, 100)); /* nothing acknowledged: nobody has these yet */
	/* The host's next reads are answered from the stash with no monitor
	 * round trip (this monitor answers nothing meanwhile); their ACK waits
	 * for the read that follows those in flight... */
	uint32_t sid = read_call(&f, "c1", 4, 0);
	CHECK(read_gets(&f, sid, "efgh", 4));
	sid = read_call(&f, "c1", 4, 0);
	CHECK(read_gets(&f, sid, "ijkl", 4));
	CHECK(quiet(mon, 100));
	static const char rest[] = "mnopqrstuvwxyz0123456789";
	_Static_assert(sizeof(rest) > 4 * (IPC_STDIO_READS_MAX - 1), "enough text");
	for (unsigned i = 1; i < IPC_STDIO_READS_MAX; i++)
		data(mon, ids[i], 12 + 4 * (i - 1), rest + 4 * (i - 1), 4);
	CHECK(expect_batch(mon, 12, ids));
	/* ...and the stash goes to the next read first. */
	sid = read_call(&f, "c1", 100, 0);
	CHECK(read_gets(&f, sid, rest, 4 * (IPC_STDIO_READS_MAX - 1)));
}

TEST(read_ahead_stops_at_the_window)
{
	FX_SCOPED f;
	cleanup_close int mon = reading_c1(&f);
	REQUIRE(mon >= 0);
	/* Full chunks for every read ahead, until the front-end stops: the
	 * host that read once does not make it hold more than a window. */
	uint64_t off = 4, ack = 4;
	unsigned reads = 0;
	while (reads < 64) {
		struct ipc_msg m;
		if (quiet(mon, 200))
			break;
		REQUIRE(expect(mon, IPC_READ_STREAM_REQ, &m) == 0);
		struct ipc_stdio_read q;
		memcpy(&q, m.payload, sizeof(q));
		uint32_t rid = m.hdr.id;
		ipc_msg_release(&m);
		CHECK_EQ_INT(q.max_len, IPC_STDIO_CHUNK);
		CHECK_EQ_INT(q.ack, ack);
		ack = 0;
		full_chunk(mon, rid, off);
		off += IPC_STDIO_CHUNK;
		reads++;
	}
	printf("# %u chunks read ahead for one host read\n", reads);
	CHECK(reads >= 2 && reads <= 8);
}

/* The stash above the refill line (no refill due), host reads served from
 * it send no ACK of their own: it waits for the refill their reads bring about,
 * which carries it; the bytes still in the stash stay unacknowledged. (A
 * held ACK goes alone after ACK_HOLD_NS, 100 ms, if no refill comes: the
 * host's four reads here would each have to take that long for this test
 * to see three lone ACKs, as it did before.) */
TEST(ack_rides_on_the_refill_while_the_window_is_full)
{
	FX_SCOPED f;
	cleanup_close int mon = reading_c1(&f);
	REQUIRE(mon >= 0);
	uint64_t off = 4;
	unsigned chunks = 0;
	while (!quiet(mon, 200) && chunks < 16) {
		struct ipc_msg m;
		REQUIRE(expect(mon, IPC_READ_STREAM_REQ, &m) == 0);
		uint32_t rid = m.hdr.id;
		ipc_msg_release(&m);
		full_chunk(mon, rid, off);
		off += IPC_STDIO_CHUNK;
		chunks++;
	}
	REQUIRE(chunks == IPC_STDIO_READS_MAX);
	/* The shim's 32 KiB reads, back to back: a refill asks for a batch
	 * (4 chunks) once the stash has room for it in the window (6), so the
	 * fourth read brings the stash below the refill line (2 chunks). */
	uint64_t got = 4;
	for (int i = 0; i < 4; i++) {
		uint32_t sid = read_call(&f, "c1", 32768, 0);
		Grpc__ReadStreamResponse *r = read_answer(&f, sid);
		REQUIRE(r);
		CHECK_EQ_INT(r->data.len, 32768);
		grpc__read_stream_response__free_unpacked(r, NULL);
		got += 32768;
	}
	unsigned lone = 0, reqs = 0;
	uint64_t acked = 4;
	while (!quiet(mon, 300)) {
		struct ipc_msg m;
		REQUIRE(ipc_recv(mon, &m, &(struct kerr){ 0 }) > 0);
		REQUIRE(m.hdr.type == IPC_READ_STREAM_ACK || m.hdr.type == IPC_READ_STREAM_REQ);
		uint64_t a = msg_ack(&m);
		if (m.hdr.type == IPC_READ_STREAM_ACK) {
			lone++;
		} else {
			struct ipc_stdio_read q;
			memcpy(&q, m.payload, sizeof(q));
			CHECK_EQ_INT(q.max_len, IPC_STDIO_CHUNK);
			reqs++;
		}
		ipc_msg_release(&m);
		CHECK(a == 0 || (a > acked && a <= got)); /* never what the host lacks */
		if (a)
			acked = a;
	}
	printf("# 4 host reads from a stash above the refill line: %u READ_STREAM_REQ, %u lone ACK(s), ACKed %llu of "
	       "%llu\n",
	       reqs, lone, (unsigned long long)acked, (unsigned long long)got);
	CHECK_EQ_INT(reqs, IPC_STDIO_READS_MAX);
	CHECK(lone < 3);
	CHECK_EQ_INT(acked, got); /* all the host got, none of the stash */
}

TEST(exec_output_is_not_read_ahead)
{
	/* A drained exec is released by its monitor; a read-ahead's dropped
	 * EOF could leave the host's next read NOT_FOUND. */
	FX_SCOPED f;
	REQUIRE(fx_start(&f) == 0);
	cleanup_close int mon = create(&f, "c1");
	REQUIRE(mon >= 0);
	uint32_t sid = read_exec_call(&f, "c1", "e1", 4, 0);
	uint32_t id = expect_read(mon, "e1", 4);
	REQUIRE(id);
	data(mon, id, 0, "abcd", 4);
	CHECK(read_gets(&f, sid, "abcd", 4));
	CHECK(expect_ack(mon, 4));
	CHECK(quiet(mon, 200));
}

TEST(reads_of_one_stream_are_serialised)
{
	FX_SCOPED f;
	REQUIRE(fx_start(&f) == 0);
	cleanup_close int mon = create(&f, "c1");
	REQUIRE(mon >= 0);
	uint32_t s1 = read_call(&f, "c1", 100, 0);
	uint32_t s2 = read_call(&f, "c1", 100, 0);
	struct ipc_msg m;
	REQUIRE(expect(mon, IPC_READ_STREAM_REQ, &m) == 0);
	CHECK(quiet(mon, 100)); /* one read per stream at the monitor */
	data(mon, m.hdr.id, 0, "one", 3);
	ipc_msg_release(&m);
	Grpc__ReadStreamResponse *r = read_answer(&f, s1);
	CHECK(r && r->data.len == 3);
	if (r)
		grpc__read_stream_response__free_unpacked(r, NULL);
	/* The queued read carries the ACK. */
	uint32_t id = expect_read_acking(mon, "", 100, 3);
	REQUIRE(id);
	data(mon, id, 3, "two", 3);
	r = read_answer(&f, s2);
	CHECK(r && r->data.len == 3 && memcmp(r->data.data, "two", 3) == 0);
	if (r)
		grpc__read_stream_response__free_unpacked(r, NULL);
}

TEST(data_for_a_cancelled_read_goes_to_the_next_read)
{
	FX_SCOPED f;
	REQUIRE(fx_start(&f) == 0);
	cleanup_close int mon = create(&f, "c1");
	REQUIRE(mon >= 0);
	uint32_t sid = read_call(&f, "c1", 100, 200000000); /* 200 ms */
	struct ipc_msg m;
	REQUIRE(expect(mon, IPC_READ_STREAM_REQ, &m) == 0);
	uint32_t late_id = m.hdr.id;
	ipc_msg_release(&m);
	struct answer a;
	CHECK(answer(&f, &a) == 0 && a.sid == sid);
	CHECK_EQ_INT(a.status, GRPC_DEADLINE_EXCEEDED);
	answer_free(&a);
	data(mon, late_id, 0, "late", 4);
	CHECK(quiet(mon, 100)); /* not acknowledged: nobody got it */

	sid = read_call(&f, "c1", 2, 0);
	Grpc__ReadStreamResponse *r = read_answer(&f, sid);
	CHECK(r && r->data.len == 2 && memcmp(r->data.data, "la", 2) == 0);
	if (r)
		grpc__read_stream_response__free_unpacked(r, NULL);
	/* The host keeps up: a batch of chunks read ahead, the first read
	 * carrying the ACK of what it got. */
	uint32_t ids[IPC_STDIO_READS_MAX];
	REQUIRE(expect_batch(mon, 2, ids));
	sid = read_call(&f, "c1", 100, 0);
	r = read_answer(&f, sid);
	CHECK(r && r->data.len == 2 && memcmp(r->data.data, "te", 2) == 0);
	if (r)
		grpc__read_stream_response__free_unpacked(r, NULL);
	/* Its ACK waits for the reads in flight: at their EOF, alone. */
	CHECK(quiet(mon, 100));
	data(mon, ids[0], 4, "", 0);
	CHECK(expect_ack(mon, 4));
	for (unsigned i = 1; i < IPC_STDIO_READS_MAX; i++)
		data(mon, ids[i], 4, "", 0);
	CHECK(quiet(mon, 100));
}

TEST(write_stdin_is_split_into_chunks)
{
	FX_SCOPED f;
	REQUIRE(fx_start(&f) == 0);
	cleanup_close int mon = create(&f, "c1");
	REQUIRE(mon >= 0);
	size_t total = 150000;
	cleanup_free uint8_t *buf = malloc(total);
	cleanup_free uint8_t *got = malloc(total);
	for (size_t i = 0; i < total; i++)
		buf[i] = (uint8_t)(i * 31 + 7);
	Grpc__WriteStreamRequest w = GRPC__WRITE_STREAM_REQUEST__INIT;
	w.container_id = (char *)"c1";
	w.exec_id = (char *)"e1";
	w.data.data = buf;
	w.data.len = total;
	uint32_t sid = call(&f, "WriteStdin", &w.base, 0);
	size_t off = 0;
	unsigned chunks = 0;
	while (off < total) {
		struct ipc_msg m;
		REQUIRE(expect(mon, IPC_WRITE_STDIN_REQ, &m) == 0);
		CHECK_EQ_STR((const char *)m.payload, "e1");
		size_t n = m.len - sizeof(struct ipc_stdio_write);
		CHECK(n <= IPC_STDIO_CHUNK && off + n <= total);
		memcpy(got + off, m.payload + sizeof(struct ipc_stdio_write), n);
		off += n;
		chunks++;
		struct ipc_stdio_written done = { .len = n };
		reply(mon, IPC_WRITE_STDIN_REPLY, m.hdr.id, &done, sizeof(done));
		ipc_msg_release(&m);
	}
	CHECK_EQ_INT(chunks, 3);
	CHECK(memcmp(buf, got, total) == 0);
	struct answer a;
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid && a.status == 0);
	Grpc__WriteStreamResponse *r = grpc__write_stream_response__unpack(NULL, a.len, a.payload);
	CHECK(r && r->len == total);
	if (r)
		grpc__write_stream_response__free_unpacked(r, NULL);
	answer_free(&a);
}

TEST(empty_write_closes_stdin_and_answers_len_0)
{
	FX_SCOPED f;
	REQUIRE(fx_start(&f) == 0);
	cleanup_close int mon = create(&f, "c1");
	REQUIRE(mon >= 0);
	Grpc__WriteStreamRequest w = GRPC__WRITE_STREAM_REQUEST__INIT;
	w.container_id = (char *)"c1";
	uint32_t sid = call(&f, "WriteStdin", &w.base, 0);
	struct ipc_msg m;
	REQUIRE(expect(mon, IPC_CLOSE_STDIN_REQ, &m) == 0);
	struct ipc_exec_ref ref;
	memcpy(&ref, m.payload, sizeof(ref));
	CHECK_EQ_STR(ref.container_id, "c1");
	CHECK_EQ_STR(ref.exec_id, "");
	reply(mon, IPC_OK, m.hdr.id, NULL, 0);
	ipc_msg_release(&m);
	struct answer a;
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid);
	CHECK_EQ_INT(a.status, 0);
	Grpc__WriteStreamResponse *r = grpc__write_stream_response__unpack(NULL, a.len, a.payload);
	CHECK(r && r->len == 0);
	if (r)
		grpc__write_stream_response__free_unpacked(r, NULL);
	answer_free(&a);
}

TEST(wait_answers_status_and_monitor_errors_pass_through)
{
	FX_SCOPED f;
	REQUIRE(fx_start(&f) == 0);
	cleanup_close int mon = create(&f, "c1");
	REQUIRE(mon >= 0);
	Grpc__WaitProcessRequest w = GRPC__WAIT_PROCESS_REQUEST__INIT;
	w.container_id = (char *)"c1";
	uint32_t sid = call(&f, "WaitProcess", &w.base, 0);
	struct ipc_msg m;
	REQUIRE(expect(mon, IPC_WAIT_PROCESS_REQ, &m) == 0);
	struct ipc_wait_reply st = { .status = 137 };
	reply(mon, IPC_WAIT_PROCESS_REPLY, m.hdr.id, &st, sizeof(st));
	ipc_msg_release(&m);
	struct answer a;
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid && a.status == 0);
	Grpc__WaitProcessResponse *r = grpc__wait_process_response__unpack(NULL, a.len, a.payload);
	CHECK(r && r->status == 137);
	if (r)
		grpc__wait_process_response__free_unpacked(r, NULL);
	answer_free(&a);

	Grpc__TtyWinResizeRequest t = GRPC__TTY_WIN_RESIZE_REQUEST__INIT;
	t.container_id = (char *)"c1";
	t.exec_id = (char *)"nope";
	t.row = 24;
	t.column = 80;
	sid = call(&f, "TtyWinResize", &t.base, 0);
	REQUIRE(expect(mon, IPC_TTY_WIN_RESIZE_REQ, &m) == 0);
	struct ipc_tty_resize rz;
	memcpy(&rz, m.payload, sizeof(rz));
	CHECK(rz.rows == 24 && rz.cols == 80);
	reply_error(mon, m.hdr.id, GRPC_NOT_FOUND, "process nope not found");
	ipc_msg_release(&m);
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid);
	CHECK_EQ_INT(a.status, GRPC_NOT_FOUND);
	CHECK(a.message && strstr(a.message, "process nope not found"));
	answer_free(&a);
}

TEST(monitor_gone_fails_pending_calls_unavailable_then_invalid_container)
{
	FX_SCOPED f;
	REQUIRE(fx_start(&f) == 0);
	int mon = create(&f, "c1");
	REQUIRE(mon >= 0);
	Grpc__WaitProcessRequest w = GRPC__WAIT_PROCESS_REQUEST__INIT;
	w.container_id = (char *)"c1";
	uint32_t sid = call(&f, "WaitProcess", &w.base, 0);
	struct ipc_msg m;
	REQUIRE(expect(mon, IPC_WAIT_PROCESS_REQ, &m) == 0);
	ipc_msg_release(&m);
	close(mon);
	struct answer a;
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid);
	CHECK_EQ_INT(a.status, GRPC_UNAVAILABLE);
	answer_free(&a);
	/* then an unknown container: upstream's "Invalid container id" */
	sid = call(&f, "WaitProcess", &w.base, 0);
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid);
	CHECK_EQ_INT(a.status, GRPC_INVALID_ARGUMENT);
	CHECK(a.message && strstr(a.message, "Invalid container id"));
	answer_free(&a);
}

/* kata_agent.go createContainer: exec_id = container id; every later call
 * on the init (ReadStdout/ReadStderr/WriteStdin/CloseStdin/WaitProcess/
 * TtyWinResize) carries that exec id. The monitor sees "" for both names,
 * so reads of the init by either name share one reader. SignalProcess goes
 * to the executor as sent: "" with SIGKILL means every process. */
TEST(init_is_named_by_the_container_id)
{
	FX_SCOPED f;
	REQUIRE(fx_start(&f) == 0);
	cleanup_close int mon = create(&f, "c1");
	REQUIRE(mon >= 0);
	struct ipc_msg m;
	struct answer a;
	Grpc__ReadStreamRequest r = GRPC__READ_STREAM_REQUEST__INIT;
	r.container_id = (char *)"c1";
	r.exec_id = (char *)"c1";
	r.len = 1024;
	uint32_t sid = call(&f, "ReadStdout", &r.base, 0);
	REQUIRE(expect(mon, IPC_READ_STREAM_REQ, &m) == 0);
	struct ipc_stdio_read rd;
	memcpy(&rd, m.payload, sizeof(rd));
	CHECK_EQ_STR(rd.exec_id, "");
	uint32_t rid = m.hdr.id;
	ipc_msg_release(&m);
	/* the same stream by "": queued behind the first, not a second read */
	r.exec_id = (char *)"";
	uint32_t sid2 = call(&f, "ReadStdout", &r.base, 0);
	CHECK(quiet(mon, 200));
	data(mon, rid, 0, "hi", 2);
	Grpc__ReadStreamResponse *rr = read_answer(&f, sid);
	CHECK(rr && rr->data.len == 2 && memcmp(rr->data.data, "hi", 2) == 0);
	if (rr)
		grpc__read_stream_response__free_unpacked(rr, NULL);
	/* The queued read, for the init (""), carries the ACK. */
	uint32_t id2 = expect_read_acking(mon, "", 1024, 2);
	REQUIRE(id2);
	data(mon, id2, 2, "", 0);
	rr = read_answer(&f, sid2);
	CHECK(rr && rr->data.len == 0);
	if (rr)
		grpc__read_stream_response__free_unpacked(rr, NULL);

	Grpc__WaitProcessRequest w = GRPC__WAIT_PROCESS_REQUEST__INIT;
	w.container_id = (char *)"c1";
	w.exec_id = (char *)"c1";
	sid = call(&f, "WaitProcess", &w.base, 0);
	REQUIRE(expect(mon, IPC_WAIT_PROCESS_REQ, &m) == 0);
	struct ipc_exec_ref ref;
	memcpy(&ref, m.payload, sizeof(ref));
	CHECK_EQ_STR(ref.exec_id, "");
	struct ipc_wait_reply st = { .status = 0 };
	reply(mon, IPC_WAIT_PROCESS_REPLY, m.hdr.id, &st, sizeof(st));
	ipc_msg_release(&m);
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid);
	CHECK_EQ_INT(a.status, 0);
	answer_free(&a);

	Grpc__TtyWinResizeRequest t = GRPC__TTY_WIN_RESIZE_REQUEST__INIT;
	t.container_id = (char *)"c1";
	t.exec_id = (char *)"c1";
	t.row = 10;
	t.column = 20;
	sid = call(&f, "TtyWinResize", &t.base, 0);
	REQUIRE(expect(mon, IPC_TTY_WIN_RESIZE_REQ, &m) == 0);
	struct ipc_tty_resize rz;
	memcpy(&rz, m.payload, sizeof(rz));
	CHECK_EQ_STR(rz.exec_id, "");
	reply_error(mon, m.hdr.id, GRPC_UNAVAILABLE, "no tty");
	ipc_msg_release(&m);
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid);
	CHECK_EQ_INT(a.status, GRPC_UNAVAILABLE);
	answer_free(&a);

	Grpc__SignalProcessRequest sg = GRPC__SIGNAL_PROCESS_REQUEST__INIT;
	sg.container_id = (char *)"c1";
	sg.exec_id = (char *)"c1";
	sg.signal = 9;
	sid = call(&f, "SignalProcess", &sg.base, 0);
	REQUIRE(expect(f.exec, IPC_SIGNAL_PROCESS_REQ, &m) == 0);
	struct ipc_process_signal ps;
	memcpy(&ps, m.payload, sizeof(ps));
	CHECK_EQ_STR(ps.exec_id, "c1"); /* the executor tells "c1" from "" */
	reply(f.exec, IPC_OK, m.hdr.id, NULL, 0);
	ipc_msg_release(&m);
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid);
	CHECK_EQ_INT(a.status, 0);
	answer_free(&a);

	/* an unknown container: INVALID_ARGUMENT, also for len 0 */
	r.container_id = (char *)"c2";
	r.len = 0;
	sid = call(&f, "ReadStdout", &r.base, 0);
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid);
	CHECK_EQ_INT(a.status, GRPC_INVALID_ARGUMENT);
	answer_free(&a);
}

TEST(second_attach_replaces_the_channel)
{
	FX_SCOPED f;
	REQUIRE(fx_start(&f) == 0);
	cleanup_close int old = create(&f, "c1");
	REQUIRE(old >= 0);
	uint32_t sid = read_call(&f, "c1", 10, 0);
	struct ipc_msg m;
	REQUIRE(expect(old, IPC_READ_STREAM_REQ, &m) == 0);
	ipc_msg_release(&m);
	cleanup_close int mon = attach(&f, "c1");
	REQUIRE(mon >= 0);
	struct answer a;
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid);
	CHECK_EQ_INT(a.status, GRPC_UNAVAILABLE);
	answer_free(&a);
	struct kerr err = { 0 };
	CHECK(ipc_recv(old, &m, &err) == 0); /* the old channel is closed */
	sid = read_call(&f, "c1", 10, 0);
	REQUIRE(expect(mon, IPC_READ_STREAM_REQ, &m) == 0);
	data(mon, m.hdr.id, 0, "new", 3);
	ipc_msg_release(&m);
	Grpc__ReadStreamResponse *r = read_answer(&f, sid);
	CHECK(r && r->data.len == 3);
	if (r)
		grpc__read_stream_response__free_unpacked(r, NULL);
}

TEST(host_disconnect_cancels_wait_and_the_late_reply_is_dropped)
{
	FX_SCOPED f;
	REQUIRE(fx_start(&f) == 0);
	cleanup_close int mon = create(&f, "c1");
	REQUIRE(mon >= 0);
	Grpc__WaitProcessRequest w = GRPC__WAIT_PROCESS_REQUEST__INIT;
	w.container_id = (char *)"c1";
	call(&f, "WaitProcess", &w.base, 0);
	struct ipc_msg m;
	REQUIRE(expect(mon, IPC_WAIT_PROCESS_REQ, &m) == 0);
	uint32_t id = m.hdr.id;
	ipc_msg_release(&m);
	ttrpc_client_free(f.c);
	f.c = NULL;
	usleep(100000);
	struct ipc_wait_reply st = { .status = 0 };
	reply(mon, IPC_WAIT_PROCESS_REPLY, id, &st, sizeof(st));
	char addr[128];
	snprintf(addr, sizeof(addr), "unix://%s", f.sock);
	struct kerr err = { 0 };
	REQUIRE(ttrpc_client_connect(&f.c, addr, 5000000000ull, &err) == 0);
	set_timeout(ttrpc_client_fd(f.c), 5000);
	/* The channel survived the late reply: a new wait goes through. */
	uint32_t sid = call(&f, "WaitProcess", &w.base, 0);
	REQUIRE(expect(mon, IPC_WAIT_PROCESS_REQ, &m) == 0);
	st.status = 3;
	reply(mon, IPC_WAIT_PROCESS_REPLY, m.hdr.id, &st, sizeof(st));
	ipc_msg_release(&m);
	struct answer a;
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid && a.status == 0);
	Grpc__WaitProcessResponse *r = grpc__wait_process_response__unpack(NULL, a.len, a.payload);
	CHECK(r && r->status == 3);
	if (r)
		grpc__wait_process_response__free_unpacked(r, NULL);
	answer_free(&a);
}

TEST(lifecycle_requests_reach_the_executor)
{
	FX_SCOPED f;
	REQUIRE(fx_start(&f) == 0);
	struct ipc_msg m;
	struct answer a;

	Grpc__SignalProcessRequest s = GRPC__SIGNAL_PROCESS_REQUEST__INIT;
	s.container_id = (char *)"c1";
	s.signal = 0;
	uint32_t sid = call(&f, "SignalProcess", &s.base, 0);
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid);
	CHECK_EQ_INT(a.status, GRPC_INVALID_ARGUMENT);
	answer_free(&a);
	s.signal = 9;
	s.exec_id = (char *)"e1";
	sid = call(&f, "SignalProcess", &s.base, 0);
	REQUIRE(expect(f.exec, IPC_SIGNAL_PROCESS_REQ, &m) == 0);
	struct ipc_process_signal ps;
	memcpy(&ps, m.payload, sizeof(ps));
	CHECK(strcmp(ps.container_id, "c1") == 0 && strcmp(ps.exec_id, "e1") == 0 && ps.signal == 9);
	reply_error(f.exec, m.hdr.id, GRPC_NOT_FOUND, "container c1 not found");
	ipc_msg_release(&m);
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid);
	CHECK_EQ_INT(a.status, GRPC_NOT_FOUND);
	answer_free(&a);

	Grpc__RemoveContainerRequest r = GRPC__REMOVE_CONTAINER_REQUEST__INIT;
	r.container_id = (char *)"c1";
	r.timeout = 7;
	sid = call(&f, "RemoveContainer", &r.base, 0);
	REQUIRE(expect(f.exec, IPC_REMOVE_CONTAINER_REQ, &m) == 0);
	struct ipc_container_remove rm;
	memcpy(&rm, m.payload, sizeof(rm));
	CHECK(strcmp(rm.container_id, "c1") == 0 && rm.timeout_s == 7);
	reply(f.exec, IPC_OK, m.hdr.id, NULL, 0);
	ipc_msg_release(&m);
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid);
	CHECK_EQ_INT(a.status, 0);
	answer_free(&a);

	Grpc__ExecProcessRequest e = GRPC__EXEC_PROCESS_REQUEST__INIT;
	e.container_id = (char *)"c1";
	e.exec_id = (char *)"e2";
	sid = call(&f, "ExecProcess", &e.base, 0); /* no process */
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid);
	CHECK_EQ_INT(a.status, GRPC_INVALID_ARGUMENT);
	answer_free(&a);

	/* A big CreateSandbox goes through the memfd path intact. */
	Grpc__CreateSandboxRequest sb = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	char *dns[2000];
	for (int i = 0; i < 2000; i++)
		dns[i] = (char *)"nameserver 10.0.0.1 # padding padding padding padding";
	sb.n_dns = 2000;
	sb.dns = dns;
	sid = call(&f, "CreateSandbox", &sb.base, 0);
	REQUIRE(expect(f.exec, IPC_CREATE_SANDBOX_REQ, &m) == 0);
	CHECK(m.len > IPC_MAX_INLINE);
	Grpc__CreateSandboxRequest *got = grpc__create_sandbox_request__unpack(NULL, m.len,
									       m.payload);
	CHECK(got && got->n_dns == 2000);
	if (got)
		grpc__create_sandbox_request__free_unpacked(got, NULL);
	reply(f.exec, IPC_OK, m.hdr.id, NULL, 0);
	ipc_msg_release(&m);
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid);
	CHECK_EQ_INT(a.status, 0);
	answer_free(&a);
}

/* GetDiagnosticData as runtime-rs copy_termination_log sends it: an unknown
 * log type never reaches the executor; the executor's bytes come back as
 * GetDiagnosticDataResponse.data made UTF-8 (one U+FFFD per invalid
 * subpart) with a NUL byte kept, as upstream's String does; empty bytes are
 * an empty response; an executor error passes through. */
static uint32_t diag_call(struct fx *f, const char *log_type)
{
	Grpc__GetDiagnosticDataRequest q = GRPC__GET_DIAGNOSTIC_DATA_REQUEST__INIT;
	q.log_type = (char *)log_type;
	q.container_id = (char *)"c1";
	return call(f, "GetDiagnosticData", &q.base, 0);
}

TEST(diagnostic_data_made_utf8_with_its_nul_bytes)
{
	FX_SCOPED f;
	REQUIRE(fx_start(&f) == 0);
	struct ipc_msg m;
	struct answer a;

	uint32_t sid = diag_call(&f, "kernel_log");
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid);
	CHECK_EQ_INT(a.status, GRPC_INVALID_ARGUMENT);
	CHECK(a.message && strstr(a.message, "unsupported diagnostic log_type: kernel_log"));
	CHECK(quiet(f.exec, 200));
	answer_free(&a);

	sid = diag_call(&f, "termination_log");
	REQUIRE(expect(f.exec, IPC_GET_DIAGNOSTIC_DATA_REQ, &m) == 0);
	struct ipc_diagnostic_req q;
	memcpy(&q, m.payload, sizeof(q));
	CHECK(strcmp(q.container_id, "c1") == 0 && q.log_type == IPC_DIAG_TERMINATION_LOG);
	static const char raw[] = "bye\0\xff\xc0\xaf end";
	reply(f.exec, IPC_GET_DIAGNOSTIC_DATA_REPLY, m.hdr.id, raw, sizeof(raw) - 1);
	ipc_msg_release(&m);
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid);
	CHECK_EQ_INT(a.status, 0);
	static const char want[] = "\x0a\x11"
				   "bye\0\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd end";
	CHECK_EQ_INT(a.len, sizeof(want) - 1);
	CHECK(a.len == sizeof(want) - 1 && memcmp(a.payload, want, a.len) == 0);
	Grpc__GetDiagnosticDataResponse *r = grpc__get_diagnostic_data_response__unpack(NULL, a.len,
											a.payload);
	CHECK(r && strcmp(r->data, "bye") == 0); /* protobuf-c's string stops at the NUL */
	if (r)
		grpc__get_diagnostic_data_response__free_unpacked(r, NULL);
	answer_free(&a);

	sid = diag_call(&f, "termination_log");
	REQUIRE(expect(f.exec, IPC_GET_DIAGNOSTIC_DATA_REQ, &m) == 0);
	reply(f.exec, IPC_GET_DIAGNOSTIC_DATA_REPLY, m.hdr.id, NULL, 0);
	ipc_msg_release(&m);
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid);
	CHECK_EQ_INT(a.status, 0);
	CHECK_EQ_INT(a.len, 0);
	answer_free(&a);

	sid = diag_call(&f, "termination_log");
	REQUIRE(expect(f.exec, IPC_GET_DIAGNOSTIC_DATA_REQ, &m) == 0);
	reply_error(f.exec, m.hdr.id, GRPC_NOT_FOUND, "Invalid container id: c1");
	ipc_msg_release(&m);
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid);
	CHECK_EQ_INT(a.status, GRPC_NOT_FOUND);
	answer_free(&a);
}

TEST(a_reply_matching_nothing_closes_that_monitor_channel_only)
{
	FX_SCOPED f;
	REQUIRE(fx_start(&f) == 0);
	cleanup_close int mon = create(&f, "c1");
	REQUIRE(mon >= 0);
	reply(mon, IPC_OK, 4242, NULL, 0);
	struct ipc_msg m;
	struct kerr err = { 0 };
	CHECK(ipc_recv(mon, &m, &err) == 0); /* closed by the front-end */
	Grpc__WaitProcessRequest w = GRPC__WAIT_PROCESS_REQUEST__INIT;
	w.container_id = (char *)"c1";
	uint32_t sid = call(&f, "WaitProcess", &w.base, 0);
	struct answer a;
	REQUIRE(answer(&f, &a) == 0 && a.sid == sid);
	CHECK_EQ_INT(a.status, GRPC_INVALID_ARGUMENT);
	answer_free(&a);
	CHECK(kill(f.pid, 0) == 0);
}

/* The host stops reading: replies pile up in the front-end's output queue.
 * Their bytes must stay unacknowledged (the monitor keeps them, so a
 * front-end killed now loses nothing) until the host's socket has them. */
TEST(ack_waits_until_the_reply_is_in_the_hosts_socket)
{
	FX_SCOPED f;
	REQUIRE(fx_start(&f) == 0);
	cleanup_close int mon = create(&f, "c1");
	REQUIRE(mon >= 0);
	uint64_t off = 0, acked = 0;
	uint32_t sids[256];
	int n = 0;
	bool held = false;
	/* The host asks, one read at a time, and never takes an answer; the
	 * monitor answers every read (the host's and the read-ahead's) with a
	 * full chunk. Once all is quiet, the ACKs (in reads or alone) must
	 * stop short of what the host asked for: the replies behind a full
	 * socket are not acknowledged. ("Quiet" outlasts ACK_HOLD_NS, so an
	 * ACK held for a refill is in before the count.) */
	while (n < 256 && !held) {
		sids[n++] = read_call(&f, "c1", IPC_STDIO_CHUNK, 0);
		struct ipc_msg m;
		while (!quiet(mon, 300)) {
			REQUIRE(ipc_recv(mon, &m, &(struct kerr){ 0 }) > 0);
			if (m.hdr.type == IPC_READ_STREAM_ACK) {
				struct ipc_stdio_ack a;
				memcpy(&a, m.payload, sizeof(a));
				CHECK(a.offset > acked);
				acked = a.offset;
				ipc_msg_release(&m);
				continue;
			}
			REQUIRE(m.hdr.type == IPC_READ_STREAM_REQ);
			struct ipc_stdio_read q;
			memcpy(&q, m.payload, sizeof(q));
			uint32_t rid = m.hdr.id;
			ipc_msg_release(&m);
			if (q.ack) {
				CHECK(q.ack > acked);
				acked = q.ack;
			}
			full_chunk(mon, rid, off);
			off += IPC_STDIO_CHUNK;
		}
		/* every answer is a full chunk; ACKed: what went out */
		CHECK(acked <= (uint64_t)n * IPC_STDIO_CHUNK);
		held = acked < (uint64_t)n * IPC_STDIO_CHUNK;
	}
	CHECK(held);
	uint64_t asked = (uint64_t)n * IPC_STDIO_CHUNK;
	printf("# %d replies, %llu of %llu bytes acknowledged while the host does not read\n", n,
	       (unsigned long long)acked, (unsigned long long)asked);
	/* The host reads everything: what it got is acknowledged, and nothing
	 * more (the read-ahead's stash is not the host's). */
	for (int i = 0; i < n; i++) {
		Grpc__ReadStreamResponse *r = read_answer(&f, sids[i]);
		REQUIRE(r);
		CHECK_EQ_INT(r->data.len, IPC_STDIO_CHUNK);
		grpc__read_stream_response__free_unpacked(r, NULL);
	}
	while (acked < asked) {
		struct ipc_msg m;
		REQUIRE(ipc_recv(mon, &m, &(struct kerr){ 0 }) > 0);
		uint64_t a = msg_ack(&m); /* a read-ahead is left unanswered */
		ipc_msg_release(&m);
		CHECK(a == 0 || a > acked);
		if (a)
			acked = a;
	}
	CHECK_EQ_INT(acked, asked);
}

/* ---- a host that does not read its answers ---- */

#define HOG_CONTAINERS 6
#define HOG_STREAMS (2 * HOG_CONTAINERS) /* each init's stdout and stderr */
/* Reads the host leaves parked per stream (MON_MAX_READ_WAITERS): in all,
 * 768 answers of a full chunk, 45 MiB, past the connection's 32 MiB bound
 * for unread answers (doc/protocol.md, bounds table). */
#define HOG_READS 64
#define HOG_SIDS 4096

struct hog {
	struct fx *f;
	int mon[HOG_CONTAINERS];
	uint64_t produced[HOG_STREAMS]; /* the monitor's read pointer */
	uint64_t acked[HOG_STREAMS];
	uint64_t got[HOG_STREAMS];  /* what the host received, in order */
	int8_t stream_of[HOG_SIDS]; /* by stream id / 2: the read's stream */
	unsigned answered, refused, wrong, ack_backwards;
	bool host_broken;
};

static uint8_t hog_byte(unsigned k, uint64_t off)
{
	return (uint8_t)(off * 31u + k * 7u);
}

/* One message from container ci's monitor channel: READ_STREAM_REQs are
 * answered with the stream's next bytes, ACKs (alone or in a read) noted. */
static int hog_monitor(struct hog *h, unsigned ci)
{
	struct ipc_msg m;
	if (ipc_recv(h->mon[ci], &m, &(struct kerr){ 0 }) <= 0)
		return -1;
	unsigned stream = 0;
	uint64_t ack = 0;
	uint32_t max_len = 0, id = m.hdr.id;
	if (m.hdr.type == IPC_READ_STREAM_ACK) {
		struct ipc_stdio_ack a;
		memcpy(&a, m.payload, sizeof(a));
		stream = a.stream;
		ack = a.offset;
	} else if (m.hdr.type == IPC_READ_STREAM_REQ) {
		struct ipc_stdio_read q;
		memcpy(&q, m.payload, sizeof(q));
		stream = q.stream;
		ack = q.ack;
		max_len = q.max_len;
	}
	ipc_msg_release(&m);
	if (stream != IPC_STREAM_STDOUT && stream != IPC_STREAM_STDERR)
		return -1;
	unsigned k = 2 * ci + (stream == IPC_STREAM_STDERR);
	if (ack) {
		if (ack < h->acked[k])
			h->ack_backwards++;
		h->acked[k] = ack;
	}
	if (!max_len)
		return 0;
	size_t n = max_len < IPC_STDIO_CHUNK ? max_len : IPC_STDIO_CHUNK;
	static uint8_t buf[sizeof(struct ipc_stdio_data) + IPC_STDIO_CHUNK];
	struct ipc_stdio_data d = { .offset = h->produced[k] };
	memcpy(buf, &d, sizeof(d));
	for (size_t i = 0; i < n; i++)
		buf[sizeof(d) + i] = hog_byte(k, h->produced[k] + i);
	reply(h->mon[ci], IPC_READ_STREAM_REPLY, id, buf, sizeof(d) + n);
	h->produced[k] += n;
	return 0;
}

/* One answer from the front-end: OK, with the stream's next bytes. */
static void hog_host(struct hog *h)
{
	struct answer a;
	struct kerr err = { 0 };
	memset(&a, 0, sizeof(a));
	if (ttrpc_client_recv(h->f->c, &a.sid, &a.status, &a.message, &a.payload, &a.len, &err) <
	    0) {
		printf("# host: %s\n", err.msg);
		h->host_broken = true;
		return;
	}
	h->answered++;
	int k = a.sid / 2 < HOG_SIDS ? h->stream_of[a.sid / 2] : -1;
	Grpc__ReadStreamResponse *r = a.status ? NULL
					       : grpc__read_stream_response__unpack(NULL, a.len,
										    a.payload);
	if (a.status) {
		if (h->refused++ == 0)
			printf("# read answered %s: %s\n", grpc_status_name(a.status), a.message);
	} else if (k < 0 || !r || r->data.len == 0) {
		h->wrong++;
	} else {
		for (size_t i = 0; i < r->data.len; i++)
			if (r->data.data[i] != hog_byte((unsigned)k, h->got[k] + i)) {
				if (h->wrong++ == 0)
					printf("# stream %d: wrong byte at offset %llu (lost or "
					       "repeated output)\n",
					       k, (unsigned long long)(h->got[k] + i));
				break;
			}
		h->got[k] += r->data.len;
	}
	if (r)
		grpc__read_stream_response__free_unpacked(r, NULL);
	answer_free(&a);
}

/* Serve the monitors (and take the host's answers, if host) until nothing
 * has moved for quiet_ms, or the host has all its answers. */
static void hog_run(struct hog *h, bool host, int quiet_ms, unsigned want)
{
	struct pollfd p[HOG_CONTAINERS + 1];
	for (unsigned i = 0; i < HOG_CONTAINERS; i++)
		p[i] = (struct pollfd){ .fd = h->mon[i], .events = POLLIN };
	p[HOG_CONTAINERS] = (struct pollfd){ .fd = host ? ttrpc_client_fd(h->f->c) : -1,
					     .events = POLLIN };
	while (!(host && (h->answered >= want || h->host_broken))) {
		if (poll(p, HOG_CONTAINERS + 1, quiet_ms) <= 0)
			return;
		for (unsigned i = 0; i < HOG_CONTAINERS; i++)
			if (p[i].revents && hog_monitor(h, i) < 0)
				p[i].fd = -1;
		if (p[HOG_CONTAINERS].revents)
			hog_host(h);
	}
}

/* A hostile host (doc/protocol.md, "unread responses"): it parks many
 * ReadStdout/ReadStderr calls (sent as the Kata runtime's
 * kataAgent.readProcessStream sends them: container id, exec id "" for the
 * init, len) and reads none of the answers until the front-end has stopped
 * answering. Then it reads everything: every byte the containers wrote
 * arrives, in order, exactly once, no read is refused, and what the
 * monitors had acknowledged is exactly what the host got. */
TEST(host_that_does_not_read_loses_no_output)
{
	FX_SCOPED f;
	REQUIRE(fx_start(&f) == 0);
	struct hog *h = calloc(1, sizeof(*h));
	REQUIRE(h);
	h->f = &f;
	memset(h->stream_of, -1, sizeof(h->stream_of));
	for (unsigned i = 0; i < HOG_CONTAINERS; i++)
		h->mon[i] = -1;
	bool created = true;
	for (unsigned i = 0; i < HOG_CONTAINERS && created; i++) {
		char cid[16];
		snprintf(cid, sizeof(cid), "c%u", i);
		h->mon[i] = create(&f, cid);
		created = h->mon[i] >= 0;
	}
	CHECK(created);
	bool sids_ok = true;
	for (unsigned j = 0; created && j < HOG_READS; j++)
		for (unsigned k = 0; k < HOG_STREAMS; k++) {
			char cid[16];
			snprintf(cid, sizeof(cid), "c%u", k / 2);
			Grpc__ReadStreamRequest r = GRPC__READ_STREAM_REQUEST__INIT;
			r.container_id = cid;
			r.exec_id = (char *)"";
			r.len = IPC_STDIO_CHUNK;
			uint32_t sid = call(&f, k % 2 ? "ReadStderr" : "ReadStdout", &r.base, 0);
			if (!sid || sid / 2 >= HOG_SIDS)
				sids_ok = false;
			else
				h->stream_of[sid / 2] = (int8_t)k;
		}
	CHECK(sids_ok);
	if (created && sids_ok) {
		/* Every read is parked once a read of an unknown container is refused
		 * (the front-end takes a connection's requests in order). */
		Grpc__ReadStreamRequest r = GRPC__READ_STREAM_REQUEST__INIT;
		r.container_id = (char *)"nope";
		r.exec_id = (char *)"";
		r.len = 1;
		uint32_t sid = call(&f, "ReadStdout", &r.base, 0);
		struct answer a;
		CHECK(answer(&f, &a) == 0 && a.sid == sid && a.status != 0);
		answer_free(&a);
		/* The monitors answer until the front-end asks no more. */
		hog_run(h, false, 500, 0);
		uint64_t produced = 0;
		for (unsigned k = 0; k < HOG_STREAMS; k++)
			produced += h->produced[k];
		printf("# %llu bytes produced while the host did not read\n",
		       (unsigned long long)produced);
		/* The host reads all, the monitors serving on. */
		unsigned want = HOG_STREAMS * HOG_READS;
		hog_run(h, true, 5000, want);
		hog_run(h, false, 500, 0); /* the last ACKs (ACK_HOLD_NS) */
		CHECK_EQ_INT(h->answered, want);
		CHECK(!h->host_broken);
		CHECK_EQ_INT(h->refused, 0);
		CHECK_EQ_INT(h->wrong, 0);
		CHECK_EQ_INT(h->ack_backwards, 0);
		uint64_t got = 0;
		bool acks_match = true;
		for (unsigned k = 0; k < HOG_STREAMS; k++) {
			got += h->got[k];
			if (h->acked[k] != h->got[k]) {
				printf("# stream %u: %llu bytes acknowledged, %llu received\n", k,
				       (unsigned long long)h->acked[k],
				       (unsigned long long)h->got[k]);
				acks_match = false;
			}
		}
		CHECK(acks_match);
		/* More than the bound for unread answers was asked for and got. */
		CHECK(got > (32u << 20));
		printf("# %llu bytes received, %u answers\n", (unsigned long long)got, h->answered);
	}
	for (unsigned i = 0; i < HOG_CONTAINERS; i++)
		if (h->mon[i] >= 0)
			close(h->mon[i]);
	free(h);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (geteuid() != 0) {
		printf("1..0 # SKIP the front-end confines itself: needs root\n");
		return 0;
	}
	return tap_run();
}
