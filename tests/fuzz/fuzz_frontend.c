/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_frontend.c - libFuzzer target for the front-end's whole request path
 * as the host drives it: a ttRPC request for any method of the API, with
 * the fuzz input as its payload, goes through the real ttRPC server
 * (common/ttrpc_server.c) into rpc_dispatch (agentd/frontend/rpc.c: catalog,
 * endpoint policy, decode) and the method's handler (containers.c,
 * guest.c, network.c, metrics.c, oom.c: the checks), up to what it forwards
 * to the executor (executor.c) or to the container's monitor
 * (monitors.c). This program plays both peers on socketpairs, in the same
 * event loop, and answers each forwarded message as the rest of the input
 * says: an ERROR, the expected reply, that type with fuzzed bytes, any
 * datagram, or the channel closing.
 *
 * Input: u8 method (index into common/rpc_catalog.c), u8 flags (bit 0: an
 * [endpoints] policy allowing only this method; bit 1: allowing nothing;
 * bit 2: the call has a 2 ms deadline, and answers may come after it; bit 3:
 * the call is made twice at once, on streams 1 and 3), u16 payload length,
 * the payload (the request message), then the replies script (answer()).
 *
 * Checked, every input:
 *  - each call is answered exactly once, within 8 s, on its stream; the
 *    status is a gRPC code with a UTF-8 message (the Go client refuses
 *    anything else), and an OK answer decodes as the method's response type,
 *    with UTF-8 strings unless a peer answered with fuzzed bytes;
 *  - everything the front-end sends the executor or a monitor passes that
 *    receiver's checks (ipc_recv), is a type the receiver's dispatch table
 *    takes from a front-end (doc/ipc.md: the executor, PING and requests
 *    but the monitor's; the monitor, the stdio, resize and wait requests),
 *    carries a request id, and a protobuf payload decodes as its request
 *    type: a front-end bug can never be what closes a privileged channel;
 *  - afterwards nothing waits (no pending executor request, no parked
 *    GetOOMEvent) and no fd leaked.
 *
 * Seeds: requests of every implemented method, shaped as the Kata runtime
 * sends them (virtcontainers/kata_agent.go), each with an answer script
 * that lets the call succeed and one that fails it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "frontend.h"
#include "fuzz.h"
#include "grpc_status.h"
#include "health.pb-c.h"
#include "log.h"
#include "pbjson.h"
#include "rpc_catalog.h"
#include "runtime_requests.h"
#include "ttrpc.pb-c.h"

#define CID "c1"
#define DEADLINE_NS (2ull * 1000 * 1000)

static struct {
	bool ready;
	struct loop *loop;
	struct frontend fe;
	int cl;  /* the host's ttRPC connection */
	int ex;  /* our end of the executor channel, -1 when closed */
	int mon; /* our end of c1's monitor channel, -1 when closed */
	unsigned fd_base;
	/* this input */
	const struct rpc_method *rm;
	struct fuzz_in script;
	unsigned calls, answered; /* calls sent (streams 1, 3), answers seen */
	bool answered_stream[2];
	bool deadline;   /* the calls carry a short timeout */
	bool peer_bytes; /* a peer answered with fuzzed bytes */
	/* Requests whose answer the script holds back until the calls are
	 * answered (with a deadline: the late reply of a cancelled call). */
	struct held {
		bool executor;
		uint32_t type, id;
		uint8_t payload[256]; /* the fixed part of any request */
		size_t len;
	} held[16];
	unsigned nheld;
	struct fuzz_buf r; /* from the front-end, towards the host */
} H;

/* ---- what each receiver accepts from a front-end (doc/ipc.md) ---- */

static bool monitor_accepts(uint32_t type);

/* The executor's front-end table takes PING and requests (*_REQ) but those
 * of the monitor; the descriptor of those that carry protobuf, NULL for the
 * fixed structs (and for request types newer than this list). */
static const ProtobufCMessageDescriptor *executor_accepts(uint32_t type, bool *ok)
{
	const char *name = ipc_type_name(type);
	size_t n = strlen(name);
	*ok = type == IPC_PING ||
	      (n > 4 && strcmp(name + n - 4, "_REQ") == 0 && !monitor_accepts(type));
	switch (type) {
	case IPC_CREATE_SANDBOX_REQ:
		return &grpc__create_sandbox_request__descriptor;
	case IPC_CREATE_CONTAINER_REQ:
		return &grpc__create_container_request__descriptor;
	case IPC_EXEC_PROCESS_REQ:
		return &grpc__exec_process_request__descriptor;
	case IPC_UPDATE_CONTAINER_REQ:
		return &grpc__update_container_request__descriptor;
	case IPC_UPDATE_EPHEMERAL_MOUNTS_REQ:
		return &grpc__update_ephemeral_mounts_request__descriptor;
	case IPC_COPY_FILE_REQ:
		return &grpc__copy_file_request__descriptor;
	case IPC_UPDATE_INTERFACE_REQ:
		return &grpc__update_interface_request__descriptor;
	case IPC_UPDATE_ROUTES_REQ:
		return &grpc__update_routes_request__descriptor;
	case IPC_ADD_ARP_NEIGHBORS_REQ:
		return &grpc__add_arpneighbors_request__descriptor;
	default:
		return NULL;
	}
}

static bool monitor_accepts(uint32_t type)
{
	switch (type) {
	case IPC_READ_STREAM_REQ:
	case IPC_READ_STREAM_ACK:
	case IPC_WRITE_STDIN_REQ:
	case IPC_CLOSE_STDIN_REQ:
	case IPC_TTY_WIN_RESIZE_REQ:
	case IPC_WAIT_PROCESS_REQ:
		return true;
	default:
		return false;
	}
}

/* The declared answer of a request (ipc_messages.def). */
static uint32_t reply_type_of(uint32_t type)
{
	const struct ipc_type_desc *d = ipc_type_info(type);
	return d && d->reply != IPC_NONE ? d->reply : IPC_OK;
}

/* ---- our ends of the channels ---- */

static void send_raw(int fd, const void *buf, size_t len)
{
	/* A full socket or a peer that closed: the front-end's problem to
	 * notice, not ours. */
	(void)send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void send_msg(int fd, uint32_t type, uint32_t id, const void *p, size_t len)
{
	uint8_t buf[IPC_HDR_LEN + IPC_MAX_INLINE];
	struct ipc_hdr h = { .type = type, .len = (uint32_t)len, .id = id };
	if (len > IPC_MAX_INLINE)
		len = IPC_MAX_INLINE;
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + IPC_HDR_LEN, p, len);
	send_raw(fd, buf, IPC_HDR_LEN + len);
}

/* A reply that passes every check, as a working peer sends it. */
static void answer_good(int fd, const struct ipc_msg *m, uint32_t rt)
{
	uint32_t id = m->hdr.id;
	switch (rt) {
	case IPC_PONG:
		send_msg(fd, rt, id, m->payload, m->len);
		return;
	case IPC_GET_GUEST_DETAILS_REPLY: {
		struct ipc_guest_details_reply r = { .mem_block_size_bytes = 128u << 20,
						     .support_mem_hotplug_probe = 1 };
		send_msg(fd, rt, id, &r, sizeof(r));
		return;
	}
	case IPC_GET_OOM_EVENT_REPLY: {
		struct ipc_container_ref r = { .container_id = CID };
		send_msg(fd, rt, id, &r, sizeof(r));
		return;
	}
	case IPC_GET_METRICS_REPLY: {
		static const char text[] = "# TYPE kata_agent_scrape_count counter\n"
					   "kata_agent_scrape_count 1\n";
		send_msg(fd, rt, id, text, sizeof(text) - 1);
		return;
	}
	case IPC_READ_STREAM_REPLY: {
		struct ipc_stdio_read q;
		memcpy(&q, m->payload, sizeof(q));
		uint8_t buf[sizeof(struct ipc_stdio_data) + 8];
		struct ipc_stdio_data h = { .offset = 0 };
		size_t n = q.max_len < 8 ? q.max_len : 8;
		memcpy(buf, &h, sizeof(h));
		memcpy(buf + sizeof(h), "output\r\n", n);
		send_msg(fd, rt, id, buf, sizeof(h) + n);
		return;
	}
	case IPC_WRITE_STDIN_REPLY: {
		struct ipc_stdio_written w = { .len = m->len - sizeof(struct ipc_stdio_write) };
		send_msg(fd, rt, id, &w, sizeof(w));
		return;
	}
	case IPC_WAIT_PROCESS_REPLY: {
		struct ipc_wait_reply w = { .status = 137 };
		send_msg(fd, rt, id, &w, sizeof(w));
		return;
	}
	case IPC_GET_DIAGNOSTIC_DATA_REPLY: {
		/* a container's bytes: not all UTF-8 */
		static const char log[] = "exit: disk full \xff\xc0\xaf\xe2\x82";
		send_msg(fd, rt, id, log, sizeof(log) - 1);
		return;
	}
	default: /* OK, and the protobuf replies: an all-default message */
		send_msg(fd, rt, id, NULL, 0);
	}
}

static void close_end(int *fd)
{
	loop_del(H.loop, *fd);
	close(*fd);
	*fd = -1;
}

/* One action of the script per forwarded request: 0 an ERROR, 1 the good
 * reply, 2 the reply type with fuzzed payload, 3 any datagram, 4 the peer
 * closes the channel, 5 the good reply later (when the calls carry a
 * deadline: after it). An empty script answers ERROR: every call ends. */
static void answer(int *fd, const struct ipc_msg *m)
{
	uint32_t rt = reply_type_of(m->hdr.type);
	size_t n;
	const uint8_t *b;
	uint8_t action = fuzz_u8(&H.script) % 6;
	if (action == 5 && H.deadline && H.nheld < 16) {
		struct held *h = &H.held[H.nheld++];
		h->executor = fd == &H.ex;
		h->type = m->hdr.type;
		h->id = m->hdr.id;
		h->len = m->len; /* the fixed part is what a good reply needs */
		memcpy(h->payload, m->payload,
		       m->len < sizeof(h->payload) ? m->len : sizeof(h->payload));
		return;
	}
	switch (action % 5) {
	case 0: {
		uint8_t buf[sizeof(struct ipc_error) + IPC_ERROR_MSG_MAX];
		int status = 1 + fuzz_u8(&H.script) % 16;
		int code = -(int)(fuzz_u8(&H.script) % 140);
		b = fuzz_bytes(&H.script, IPC_ERROR_MSG_MAX - 1, &n);
		char msg[IPC_ERROR_MSG_MAX];
		memcpy(msg, b, n);
		msg[n] = '\0';
		size_t len = ipc_error_build(buf, status, code, msg);
		send_msg(*fd, IPC_ERROR, m->hdr.id, buf, len);
		return;
	}
	case 1:
		answer_good(*fd, m, rt);
		return;
	case 2:
		b = fuzz_bytes(&H.script, IPC_MAX_INLINE, &n);
		send_msg(*fd, rt, m->hdr.id, b, n);
		H.peer_bytes = true;
		return;
	case 3:
		b = fuzz_bytes(&H.script, IPC_HDR_LEN + IPC_MAX_INLINE, &n);
		send_raw(*fd, b, n);
		H.peer_bytes = true;
		return;
	default:
		close_end(fd);
	}
}

static void on_peer(int *fd, bool executor)
{
	while (*fd >= 0) {
		struct ipc_msg m;
		struct kerr e = { 0 };
		int r = ipc_recv(*fd, &m, &e);
		if (r == -EAGAIN)
			return;
		if (r == 0 || r == -ECONNRESET) {
			/* The front-end closed it (our bad reply), maybe with our
			 * answers still unread on its side. */
			close_end(fd);
			return;
		}
		FUZZ_ASSERT(r > 0, "the front-end sent the %s a message it refuses: %s",
			    executor ? "executor" : "monitor", e.msg);
		bool ok = monitor_accepts(m.hdr.type);
		const ProtobufCMessageDescriptor *d = NULL;
		if (executor)
			d = executor_accepts(m.hdr.type, &ok);
		FUZZ_ASSERT(ok, "the front-end sent the %s a %s, not in its table",
			    executor ? "executor" : "monitor", ipc_type_name(m.hdr.type));
		FUZZ_ASSERT(m.hdr.id != 0 || m.hdr.type == IPC_READ_STREAM_ACK,
			    "%s without a request id", ipc_type_name(m.hdr.type));
		if (d) {
			ProtobufCMessage *q = protobuf_c_message_unpack(d, NULL, m.len, m.payload);
			FUZZ_ASSERT(q, "the front-end's %s (%zu bytes) does not decode as %s",
				    ipc_type_name(m.hdr.type), m.len, d->name);
			protobuf_c_message_free_unpacked(q, NULL);
		}
		if (m.hdr.type == IPC_PING)
			answer_good(*fd, &m, IPC_PONG); /* the channel's own start */
		else if (m.hdr.type != IPC_READ_STREAM_ACK)
			answer(fd, &m);
		ipc_msg_release(&m);
	}
}

static void on_exec(struct loop *l, int fd, uint32_t events, void *data)
{
	on_peer(&H.ex, true);
}

static void on_mon(struct loop *l, int fd, uint32_t events, void *data)
{
	on_peer(&H.mon, false);
}

/* ---- the host ---- */

static bool utf8(const char *s)
{
	json_t *j = json_string(s);
	bool ok = j != NULL;
	json_decref(j);
	return ok;
}

static void check_response(const uint8_t *p, size_t n)
{
	Ttrpc__Response *resp = ttrpc__response__unpack(NULL, n, p);
	FUZZ_ASSERT(resp, "the response envelope does not decode");
	int code = resp->status ? resp->status->code : 0;
	const char *msg = resp->status && resp->status->message ? resp->status->message : "";
	FUZZ_ASSERT(code >= 0 && code <= 16, "status %d is no gRPC code", code);
	FUZZ_ASSERT(utf8(msg), "status message not UTF-8");
	FUZZ_ASSERT(code == 0 || *msg, "status %d without a message", code);
	log_debug("fuzz: %s/%s answered %d %s", H.rm->service, H.rm->method, code, msg);
	if (code == 0) {
		ProtobufCMessage *out = protobuf_c_message_unpack(H.rm->output, NULL,
								  resp->payload.len,
								  resp->payload.data);
		FUZZ_ASSERT(out, "%s/%s answered OK with an undecodable %s", H.rm->service,
			    H.rm->method, H.rm->output->name);
		/* The executor and the monitor are trusted to answer UTF-8 (they
		 * make what they pass on from containers so: net_text_dup,
		 * cgroups_stats); with their own good answers so must the
		 * front-end's be. */
		struct kerr e = { 0 };
		json_t *j = pbjson_to_json(out, &e);
		FUZZ_ASSERT(j || H.peer_bytes, "%s/%s answer: %s", H.rm->service, H.rm->method,
			    e.msg);
		json_decref(j);
		protobuf_c_message_free_unpacked(out, NULL);
	}
	ttrpc__response__free_unpacked(resp, NULL);
}

static void on_client(struct loop *l, int fd, uint32_t events, void *data)
{
	FUZZ_ASSERT(fuzz_read_avail(fd, &H.r), "the front-end closed the host's connection");
	while (H.r.len >= TTRPC_HEADER_LEN) {
		struct ttrpc_frame_header h;
		ttrpc_header_decode(H.r.p, &h);
		if (H.r.len < TTRPC_HEADER_LEN + h.length)
			return;
		unsigned k = (h.stream_id - 1) / 2;
		FUZZ_ASSERT(h.type == TTRPC_TYPE_RESPONSE && h.stream_id % 2 && k < H.calls,
			    "frame type %u on stream %u", h.type, h.stream_id);
		FUZZ_ASSERT(!H.answered_stream[k], "stream %u answered twice", h.stream_id);
		check_response(H.r.p + TTRPC_HEADER_LEN, h.length);
		H.answered_stream[k] = true;
		size_t used = TTRPC_HEADER_LEN + h.length;
		memmove(H.r.p, H.r.p + used, H.r.len - used);
		H.r.len -= used;
		if (++H.answered == H.calls)
			loop_quit(l);
	}
}

static void quit_loop(struct loop *l, void *data)
{
	loop_quit(l);
}

static void on_watchdog(struct loop *l, void *data)
{
	FUZZ_ASSERT(0, "%s/%s never answered", H.rm->service, H.rm->method);
}

/* ---- set-up, once; the channels again whenever a script closed one ---- */

static int add_end(int fd, loop_fd_cb cb)
{
	struct kerr e = { 0 };
	int fl = fcntl(fd, F_GETFL);
	FUZZ_ASSERT(fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0, "O_NONBLOCK");
	FUZZ_ASSERT(loop_add(H.loop, fd, EPOLLIN, cb, NULL, &e) == 0, "%s", e.msg);
	return fd;
}

static void executor_channel(void)
{
	int sv[2];
	struct kerr e = { 0 };
	FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
	H.ex = add_end(sv[1], on_exec);
	FUZZ_ASSERT(executor_start(&H.fe, sv[0], &e) == 0, "%s", e.msg);
}

/* A fresh channel to c1's monitor for every input: MONITOR_ATTACH replaces
 * the previous one, so no stdio state carries over between inputs. */
static void monitor_channel(void)
{
	int sv[2];
	FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
	struct ipc_container_ref r = { .container_id = CID };
	struct kerr e = { 0 };
	FUZZ_ASSERT(ipc_send_fd(H.ex, IPC_MONITOR_ATTACH, 0, &r, sizeof(r), sv[0], &e) == 0, "%s",
		    e.msg);
	close(sv[0]);
	if (H.mon >= 0)
		close_end(&H.mon);
	H.mon = add_end(sv[1], on_mon);
}

static void setup(void)
{
	struct kerr e = { 0 };
	signal(SIGPIPE, SIG_IGN);
	FUZZ_ASSERT(loop_new(&H.loop, &e) == 0, "%s", e.msg);
	H.fe.loop = H.loop;
	options_init_defaults(&H.fe.policy);
	H.ex = H.mon = -1;
	executor_channel();

	struct sockaddr_un sa;
	socklen_t sl;
	int lfd = fuzz_listen("kata-fuzz-frontend", &sa, &sl);
	FUZZ_ASSERT(ttrpc_server_new(&H.fe.server, H.loop, lfd, rpc_dispatch, &H.fe, &e) == 0, "%s",
		    e.msg);
	H.cl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int big = 8 << 20;
	setsockopt(H.cl, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	FUZZ_ASSERT(connect(H.cl, (struct sockaddr *)&sa, sl) == 0, "connect: %s", strerror(errno));
	add_end(H.cl, on_client);
	H.ready = true;
}

static void set_policy(uint8_t flags)
{
	struct agent_options *p = &H.fe.policy;
	for (size_t i = 0; i < p->n_allowed_endpoints; i++)
		free(p->allowed_endpoints[i]);
	free(p->allowed_endpoints);
	p->allowed_endpoints = NULL;
	p->n_allowed_endpoints = 0;
	p->endpoints_restricted = flags & 3;
	if (flags & 1) {
		p->allowed_endpoints = calloc(1, sizeof(char *));
		FUZZ_ASSERT(p->allowed_endpoints, "out of memory");
		p->allowed_endpoints[0] = strdup(H.rm->input->short_name);
		p->n_allowed_endpoints = 1;
	}
}

static void send_request(uint32_t stream_id, const uint8_t *payload, size_t len)
{
	Ttrpc__Request r = TTRPC__REQUEST__INIT;
	r.service = (char *)H.rm->service;
	r.method = (char *)H.rm->method;
	r.payload.data = (uint8_t *)payload;
	r.payload.len = len;
	r.timeout_nano = H.deadline ? (int64_t)DEADLINE_NS : 0;
	size_t n = ttrpc__request__get_packed_size(&r);
	uint8_t *b = malloc(TTRPC_HEADER_LEN + n);
	FUZZ_ASSERT(b, "out of memory");
	struct ttrpc_frame_header h = { .length = (uint32_t)n,
					.stream_id = stream_id,
					.type = TTRPC_TYPE_REQUEST };
	ttrpc_header_encode(b, &h);
	ttrpc__request__pack(&r, b + TTRPC_HEADER_LEN);
	FUZZ_ASSERT(write(H.cl, b, TTRPC_HEADER_LEN + n) == (ssize_t)(TTRPC_HEADER_LEN + n),
		    "write the request: %s", strerror(errno));
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!H.ready)
		setup();
	struct fuzz_in in = { data, size };
	H.rm = rpc_catalog_at(fuzz_u8(&in) % rpc_catalog_count());
	uint8_t flags = fuzz_u8(&in);
	set_policy(flags);
	H.deadline = flags & 4;
	H.calls = flags & 8 ? 2 : 1;
	size_t plen;
	const uint8_t *payload = fuzz_bytes(&in, TTRPC_MAX_PAYLOAD, &plen);
	H.script = in;
	H.answered = 0;
	H.answered_stream[0] = H.answered_stream[1] = false;
	H.peer_bytes = false;
	H.nheld = 0;
	H.fe.oom_have_spare = false;

	if (!H.fe.exec) {
		if (H.ex >= 0)
			close_end(&H.ex);
		executor_channel();
	}
	monitor_channel();

	for (unsigned k = 0; k < H.calls; k++)
		send_request(1 + 2 * k, payload, plen);
	struct loop_timer *t = loop_timer_add(H.loop, loop_now_ns() + FUZZ_WATCHDOG_NS, on_watchdog,
					      NULL);
	struct kerr e = { 0 };
	FUZZ_ASSERT(t && loop_run(H.loop, &e) == 0, "loop: %s", e.msg);
	loop_timer_cancel(H.loop, t);
	FUZZ_ASSERT(H.answered == H.calls, "the loop stopped without the answers");

	/* The replies held back come now, late (their calls timed out): the
	 * front-end must recognise and drop them, or keep read bytes. */
	for (unsigned i = 0; i < H.nheld; i++) {
		struct held *h = &H.held[i];
		int *fd = h->executor ? &H.ex : &H.mon;
		struct ipc_msg m = {
			.hdr = { .type = h->type, .id = h->id, .len = (uint32_t)h->len },
			.payload = h->payload,
			.len = h->len
		};
		if (*fd >= 0)
			answer_good(*fd, &m, reply_type_of(h->type));
	}
	/* What is still on its way (READ_STREAM_ACKs, a new OOM poll, reads asked
	 * again for a stash) is taken, and any request answered with an ERROR. */
	H.script = (struct fuzz_in){ NULL, 0 };
	for (int i = 0; i < 4; i++) {
		if (H.ex >= 0)
			on_peer(&H.ex, true);
		if (H.mon >= 0)
			on_peer(&H.mon, false);
		/* One more turn of the loop for the front-end to read them. */
		struct loop_timer *q = loop_timer_add(H.loop, 0, quit_loop, NULL);
		FUZZ_ASSERT(q && loop_run(H.loop, &e) == 0, "loop: %s", e.msg);
	}
	FUZZ_ASSERT(H.fe.pending.n == 0, "%zu executor requests still wait", H.fe.pending.n);
	FUZZ_ASSERT(H.fe.n_oom_waiters == 0, "%zu GetOOMEvent calls still wait",
		    H.fe.n_oom_waiters);
	FUZZ_ASSERT(H.r.len == 0, "%zu stray bytes towards the host", H.r.len);
	/* Both channels up: the fds of the first such input are the measure. */
	if (H.fe.exec && H.ex >= 0 && H.mon >= 0 && monitors_known(&H.fe, CID)) {
		unsigned now = fuzz_open_fds();
		if (!H.fd_base)
			H.fd_base = now;
		FUZZ_ASSERT(now == H.fd_base, "%u fds open, %u before: a leak: %s", now, H.fd_base,
			    fuzz_fd_list());
	}
	return 0;
}

/* ---- seeds ---- */

static void seed_flags(const char *name, const char *service, const char *method, const char *json,
		       uint8_t flags, const uint8_t *script, size_t slen);

static void seed(const char *name, const char *service, const char *method, const char *json,
		 const uint8_t *script, size_t slen)
{
	seed_flags(name, service, method, json, 0, script, slen);
}

static void seed_flags(const char *name, const char *service, const char *method, const char *json,
		       uint8_t flags, const uint8_t *script, size_t slen)
{
	size_t i = 0;
	while (i < rpc_catalog_count() && (strcmp(rpc_catalog_at(i)->service, service) ||
					   strcmp(rpc_catalog_at(i)->method, method)))
		i++;
	if (i == rpc_catalog_count())
		abort();
	size_t n;
	uint8_t *p = fuzz_pack_json(rpc_catalog_at(i)->input, json, &n);
	uint8_t *b = malloc(4 + n + slen);
	if (!b || n > 0xffff)
		abort();
	b[0] = (uint8_t)i;
	b[1] = flags;
	b[2] = (uint8_t)n;
	b[3] = (uint8_t)(n >> 8);
	memcpy(b + 4, p, n);
	if (slen)
		memcpy(b + 4 + n, script, slen);
	fuzz_seed(name, b, 4 + n + slen);
	free(p);
	free(b);
}

void fuzz_write_seeds(void)
{
	static const struct {
		const char *name, *method, *json;
	} reqs[] = {
		{ "create-sandbox", "CreateSandbox", RT_CREATE_SANDBOX },
		{ "create-container", "CreateContainer", RT_CREATE_CONTAINER },
		{ "create-container-seccomp", "CreateContainer",
		  RT_CREATE_CONTAINER_DEVICES_SECCOMP },
		{ "start", "StartContainer", RT_CONTAINER },
		{ "exec", "ExecProcess", RT_EXEC_TTY },
		{ "signal", "SignalProcess", RT_SIGNAL },
		{ "wait", "WaitProcess", RT_WAIT },
		{ "write-stdin", "WriteStdin", RT_WRITE_STDIN },
		{ "read-stdout", "ReadStdout", RT_READ_STDOUT },
		{ "read-stderr", "ReadStderr", RT_READ_STDOUT },
		{ "close-stdin", "CloseStdin", RT_WAIT },
		{ "resize", "TtyWinResize", RT_TTY_RESIZE },
		{ "update", "UpdateContainer", RT_UPDATE_CONTAINER },
		{ "stats", "StatsContainer", RT_CONTAINER },
		{ "diagnostic", "GetDiagnosticData", RT_DIAGNOSTIC },
		{ "pause", "PauseContainer", RT_CONTAINER },
		{ "resume", "ResumeContainer", RT_CONTAINER },
		{ "remove", "RemoveContainer", RT_REMOVE },
		{ "destroy-sandbox", "DestroySandbox", "{}" },
		{ "update-interface", "UpdateInterface", RT_UPDATE_INTERFACE },
		{ "update-routes", "UpdateRoutes", RT_UPDATE_ROUTES },
		{ "list-interfaces", "ListInterfaces", "{}" },
		{ "list-routes", "ListRoutes", "{}" },
		{ "arp", "AddARPNeighbors", RT_ADD_ARP_NEIGHBORS },
		{ "guest-details", "GetGuestDetails", RT_GUEST_DETAILS },
		{ "online-cpu-mem", "OnlineCPUMem", RT_ONLINE_CPU_MEM },
		{ "mem-probe", "MemHotplugByProbe", RT_MEM_PROBE },
		{ "set-time", "SetGuestDateTime", RT_SET_TIME },
		{ "reseed", "ReseedRandomDev", RT_RESEED },
		{ "copy-file", "CopyFile", RT_COPY_FILE },
		{ "volume-stats", "GetVolumeStats", RT_VOLUME_STATS },
		{ "swap-path", "AddSwapPath", RT_SWAP_PATH },
		{ "ephemeral", "UpdateEphemeralMounts", RT_EPHEMERAL },
		{ "oom-event", "GetOOMEvent", "{}" },
		{ "metrics", "GetMetrics", "{}" },
		{ "set-policy", "SetPolicy", "{\"policy\": \"package agent_policy\"}" },
	};
	/* Every forwarded request answered as a working peer would; or the
	 * first one failing NOT_FOUND "no such container". */
	static const uint8_t good[] = { 1, 1, 1, 1, 1, 1, 1, 1 };
	static const uint8_t fail[] = { 0,   4,   2,   19,  0,   'n', 'o', ' ', 's', 'u', 'c',
					'h', ' ', 'c', 'o', 'n', 't', 'a', 'i', 'n', 'e', 'r' };
	char name[96];
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		snprintf(name, sizeof(name), "%s-ok", reqs[i].name);
		seed(name, "grpc.AgentService", reqs[i].method, reqs[i].json, good, sizeof(good));
		snprintf(name, sizeof(name), "%s-error", reqs[i].name);
		seed(name, "grpc.AgentService", reqs[i].method, reqs[i].json, fail, sizeof(fail));
	}
	/* The runtime's reads carry its context's deadline; one answered after
	 * it (the bytes are kept for the next read), two reads at once. */
	static const uint8_t late[] = { 5, 5 };
	seed_flags("read-stdout-late", "grpc.AgentService", "ReadStdout", RT_READ_STDOUT, 4, late,
		   sizeof(late));
	seed_flags("write-stdin-late", "grpc.AgentService", "WriteStdin", RT_WRITE_STDIN, 4, late,
		   sizeof(late));
	seed_flags("wait-late", "grpc.AgentService", "WaitProcess", RT_WAIT, 4, late, sizeof(late));
	seed_flags("stats-late", "grpc.AgentService", "StatsContainer", RT_CONTAINER, 4, late,
		   sizeof(late));
	seed_flags("read-stdout-twice", "grpc.AgentService", "ReadStdout", RT_READ_STDOUT, 8, good,
		   sizeof(good));
	seed_flags("oom-twice", "grpc.AgentService", "GetOOMEvent", "{}", 8, good, sizeof(good));
	seed("health-check", "grpc.Health", "Check", "{\"service\": \"\"}", NULL, 0);
	seed("health-version", "grpc.Health", "Version", "{}", NULL, 0);
}
