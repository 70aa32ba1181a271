/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_ttrpc.c - libFuzzer target for the bytes a ttRPC server reads from an
 * untrusted peer: frames are parsed with ttrpc_parse_request(), the function
 * the server itself runs on its read buffer, one after another as they would
 * sit in a connection's buffer; decoded requests are walked like the server
 * accessors do. The client's response decoding gets the same bytes too.
 *
 * With byte 0's top bit set, the rest is instead what a host writes on one
 * connection of the real server (common/ttrpc_server.c: buffering, frame
 * checks, calls, responses, closing), whose calls are answered at once (the
 * payload echoed, or a failure quoting it). Checked: every frame the server
 * writes is a response on an odd stream with a decodable envelope and a
 * gRPC code; the connection is gone once the host closed its side; no fd
 * leaked.
 *
 * Seeds (-write_seeds=DIR, fuzz.h): requests as the Kata runtime frames them
 * (containerd/ttrpc client: odd increasing stream ids, metadata, timeout),
 * two frames in one buffer, a data frame, an even stream id, a response.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fuzz.h"
#include "grpc_status.h"
#include "ttrpc.h"
#include "ttrpc.pb-c.h"

static volatile size_t sink;

static void walk_request(const Ttrpc__Request *r)
{
	size_t n = strlen(r->service ? r->service : "") + strlen(r->method ? r->method : "");
	n += r->payload.len;
	if (r->payload.len)
		n += r->payload.data[r->payload.len - 1];
	for (size_t i = 0; i < r->n_metadata; i++) {
		const Ttrpc__KeyValue *kv = r->metadata[i];
		n += strlen(kv->key ? kv->key : "") + strlen(kv->value ? kv->value : "");
	}
	sink += n + (size_t)r->timeout_nano;
}

static void parse(const uint8_t *data, size_t size)
{
	size_t off = 0;
	while (off < size) {
		struct ttrpc_frame_header h;
		Ttrpc__Request *req = NULL;
		size_t used = 0;
		struct kerr err;
		int r = ttrpc_parse_request(data + off, size - off, &used, &h, &req, &err);
		if (r <= 0)
			break;
		if (used < TTRPC_HEADER_LEN || used > size - off)
			__builtin_trap();
		walk_request(req);
		ttrpc__request__free_unpacked(req, NULL);
		off += used;
	}
	Ttrpc__Response *resp = ttrpc__response__unpack(NULL, size, data);
	if (resp) {
		if (resp->status)
			sink += strlen(resp->status->message ? resp->status->message : "");
		ttrpc__response__free_unpacked(resp, NULL);
	}
}

/* ---- a connection of the real server ---- */

static struct {
	bool ready;
	struct loop *loop;
	struct ttrpc_server *srv;
	struct sockaddr_un sa;
	socklen_t sl;
	struct fuzz_buf r; /* what the server wrote */
	bool eof;
} S;

static void dispatch(struct ttrpc_call *call, void *data)
{
	size_t len;
	const uint8_t *p = ttrpc_call_payload(call, &len);
	if (len && p[0] & 1)
		ttrpc_call_fail(call, GRPC_NOT_FOUND, "%.*s", (int)len, (const char *)p);
	else
		ttrpc_call_reply_raw(call, p, len);
}

static void check_frames(bool all)
{
	size_t off = 0;
	while (S.r.len - off >= TTRPC_HEADER_LEN) {
		struct ttrpc_frame_header h;
		ttrpc_header_decode(S.r.p + off, &h);
		if (S.r.len - off - TTRPC_HEADER_LEN < h.length)
			break;
		FUZZ_ASSERT(h.type == TTRPC_TYPE_RESPONSE && h.stream_id % 2 == 1,
			    "frame type %u on stream %u", h.type, h.stream_id);
		Ttrpc__Response *r = ttrpc__response__unpack(NULL, h.length,
							     S.r.p + off + TTRPC_HEADER_LEN);
		FUZZ_ASSERT(r, "a response envelope that does not decode");
		FUZZ_ASSERT(!r->status || (r->status->code >= 0 && r->status->code <= 16),
			    "status %d", r->status->code);
		ttrpc__response__free_unpacked(r, NULL);
		off += TTRPC_HEADER_LEN + h.length;
	}
	FUZZ_ASSERT(!all || off == S.r.len, "%zu bytes of a cut frame", S.r.len - off);
	memmove(S.r.p, S.r.p + off, S.r.len - off);
	S.r.len -= off;
}

static void on_client(struct loop *l, int fd, uint32_t events, void *data)
{
	if (!fuzz_read_avail(fd, &S.r)) {
		S.eof = true;
		loop_quit(l);
	}
	check_frames(false);
}

static void on_watchdog(struct loop *l, void *data)
{
	FUZZ_ASSERT(0, "the server kept the connection of a host that closed its side");
}

static void server_setup(void)
{
	struct kerr e = { 0 };
	signal(SIGPIPE, SIG_IGN);
	FUZZ_ASSERT(loop_new(&S.loop, &e) == 0, "%s", e.msg);
	int lfd = fuzz_listen("kata-fuzz-ttrpc", &S.sa, &S.sl);
	FUZZ_ASSERT(ttrpc_server_new(&S.srv, S.loop, lfd, dispatch, NULL, &e) == 0, "%s", e.msg);
	S.ready = true;
}

static void serve(const uint8_t *data, size_t size)
{
	if (!S.ready)
		server_setup();
	unsigned base = fuzz_open_fds();
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int big = 8 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	FUZZ_ASSERT(connect(fd, (struct sockaddr *)&S.sa, S.sl) == 0, "connect: %s",
		    strerror(errno));
	FUZZ_ASSERT(size == 0 || write(fd, data, size) == (ssize_t)size, "write: %s",
		    strerror(errno));
	shutdown(fd, SHUT_WR);
	struct kerr e = { 0 };
	FUZZ_ASSERT(loop_add(S.loop, fd, EPOLLIN, on_client, NULL, &e) == 0, "%s", e.msg);
	S.r.len = 0;
	S.eof = false;
	struct loop_timer *t = loop_timer_add(S.loop, loop_now_ns() + FUZZ_WATCHDOG_NS, on_watchdog,
					      NULL);
	FUZZ_ASSERT(t && loop_run(S.loop, &e) == 0, "loop: %s", e.msg);
	loop_timer_cancel(S.loop, t);
	loop_del(S.loop, fd);
	close(fd);
	check_frames(true);
	FUZZ_ASSERT(ttrpc_server_connections(S.srv) == 0, "%u connections left",
		    ttrpc_server_connections(S.srv));
	unsigned now = fuzz_open_fds();
	FUZZ_ASSERT(now == base, "%u fds open, %u before: %s", now, base, fuzz_fd_list());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size && (data[0] & 0x80))
		serve(data + 1, size - 1);
	else if (size)
		parse(data + 1, size - 1);
	return 0;
}

static size_t frame(uint8_t *out, uint32_t sid, uint8_t type, const char *svc, const char *m,
		    const char *payload, int64_t timeout, int nmd)
{
	Ttrpc__KeyValue kv[2] = { TTRPC__KEY_VALUE__INIT, TTRPC__KEY_VALUE__INIT };
	Ttrpc__KeyValue *kvp[2] = { &kv[0], &kv[1] };
	kv[0].key = "k";
	kv[0].value = "v";
	kv[1].key = "trace";
	kv[1].value = "0123";
	Ttrpc__Request r = TTRPC__REQUEST__INIT;
	r.service = (char *)svc;
	r.method = (char *)m;
	r.payload.data = (uint8_t *)payload;
	r.payload.len = strlen(payload);
	r.timeout_nano = timeout;
	r.n_metadata = (size_t)nmd;
	r.metadata = kvp;
	size_t n = ttrpc__request__pack(&r, out + TTRPC_HEADER_LEN);
	struct ttrpc_frame_header h = { .length = (uint32_t)n, .stream_id = sid, .type = type };
	ttrpc_header_encode(out, &h);
	return n + TTRPC_HEADER_LEN;
}

/* Each seed twice: parsed (byte 0: 0) and served (0x80). */
static void seed2(const char *name, const uint8_t *b, size_t n)
{
	uint8_t out[4097];
	char nm[64];
	for (int mode = 0; mode < 2; mode++) {
		out[0] = mode ? 0x80 : 0;
		memcpy(out + 1, b, n);
		snprintf(nm, sizeof(nm), "%s-%s", name, mode ? "served" : "parsed");
		fuzz_seed(nm, out, n + 1);
	}
}

void fuzz_write_seeds(void)
{
	uint8_t b[4096];
	size_t n = frame(b, 1, 1, "grpc.AgentService", "CreateContainer",
			 "\x0a\x03"
			 "abc",
			 1000000000, 2);
	seed2("unary", b, n);
	size_t m = frame(b + n, 3, 1, "grpc.Health", "Check", "", 0, 0);
	seed2("two-frames", b, n + m);
	m = frame(b + n, 5, 1, "grpc.AgentService", "WaitProcess", "\x0b", 0, 0);
	seed2("fail", b + n, m);
	n = frame(b, 5, 3, "x", "y", "", 0, 1);
	seed2("data-frame", b, n);
	n = frame(b, 2, 1, "x", "y", "zz", -1, 1);
	seed2("even-id", b, n);
	n = frame(b, 7, 1, "grpc.AgentService", "ReadStdout",
		  "\x12\x02"
		  "c1",
		  0, 0);
	seed2("cut-frame", b, n - 3);
	static const uint8_t resp[] = { 0x0a, 0x05, 0x08, 0x05, 0x12, 0x01, 'x', 0x12, 0x01, 'p' };
	seed2("response", resp, sizeof(resp));
}
