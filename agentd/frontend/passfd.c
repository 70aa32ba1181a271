/* SPDX-License-Identifier: Apache-2.0 */
/*
 * passfd.c - fd-passthrough stdio, front-end side (agent.passfd_listener_port;
 * upstream src/agent/src/passfd_io.rs).
 *
 * The host (runtime-rs passfd_io.rs: the VMM's hybrid vsock "passfd"
 * handshake) opens one vsock connection to the listener per stdio stream
 * before CreateContainer/ExecProcess, and names each in the request by its
 * own (host-side) port: stdin_port, stdout_port, stderr_port. Nothing is
 * written on the connection first: the peer's port is the key, as upstream
 * keys its HVSOCK_STREAMS map. Stand-alone (a unix listener, kata-agent
 * --passfd-addr), the key is the number at the end of the name the client
 * bound its socket to ("@anything/5001").
 *
 * The parent owns the listening socket (fd 5, like the ttRPC one: a
 * restarted front-end serves the same backlog). We accept at once (the peer
 * filter of agent.vsock_peer_cids applies, as on the ttRPC listener) and
 * keep each stream, unread, until a request names its port. By default
 * (upstream's semantics) every stream goes to the container's monitor
 * (MON_PASSFD_ATTACH, monitors.c) once the executor has created the
 * process, and the call is answered after the monitor took them: the
 * process keeps its pipes (/dev/stdout opens), the monitor splices them
 * into the streams. With agent.passfd_direct (ours), the stdout and
 * stderr streams of a process without a terminal go to the executor just
 * before the request instead (PASSFD_STREAM, send_direct): they become the
 * process's own fds 1 and 2, and no agent process sees its output; stdin
 * and a terminal's streams still go to the monitor. Either way a
 * front-end restart does not touch a stream once it is handed over.
 *
 * A request may come before a stream it names was accepted (upstream:
 * "the stream is accepted but not yet inserted into the mapping", which
 * take_stream covers by trying 3 times 100 ms apart). Here such a request
 * waits, packed, up to PASSFD_WAIT_MS: each stream accepted meanwhile is
 * matched at once, and when the time is up it goes on with what it has
 * (those stdio stay on their pipes, as upstream). The loop never sleeps:
 * other calls are served while it waits.
 *
 * Bounds: at most PASSFD_MAX_PENDING streams wait (a new connection beyond
 * closes the oldest), each at most PASSFD_PENDING_MS (then closed); a second
 * connection from the same port replaces the first (upstream's map
 * insert). A hostile host that connects and never names the stream, or
 * sends bytes on it, costs one fd for 30 s, never a read. At most
 * PASSFD_MAX_WAITING requests wait for streams, each 300 ms at most.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "agent.pb-c.h"
#include "cleanup.h"
#include "frontend.h"
#include "grpc_status.h"
#include "log.h"

struct fe_stream {
	struct fe_stream *next;
	uint32_t port;
	int fd;
	uint64_t deadline;
};

/* A CreateContainer/ExecProcess whose streams wait for the executor (or,
 * first, for a stream it names to be accepted). */
struct passfd_op {
	char container_id[IPC_ID_MAX];
	char exec_id[IPC_ID_MAX]; /* "" for the init */
	int fds[3];               /* stdin, stdout, stderr; -1 none */
	bool terminal;            /* the process has one: every stream is relayed */
	/* while it waits for a stream (on fe->passfd_waiting) */
	struct passfd_op *next;
	struct frontend *fe;
	struct ttrpc_call *call;
	uint32_t type;
	const ProtobufCMessageDescriptor *desc;
	uint8_t *packed; /* the request, re-decoded when it goes on */
	size_t packed_len;
	uint32_t ports[3]; /* still missing: nonzero */
	struct loop_timer *timer;
};

static bool waiting_take(struct frontend *fe, int fd, uint32_t port);
static void op_free(struct passfd_op *op);

#define REFUSAL_LOG_NS (1000ull * 1000 * 1000)

static const char *const stdio_names[3] = { "stdin", "stdout", "stderr" };

static void stream_free(struct fe_stream *s)
{
	close(s->fd);
	free(s);
}

static void on_sweep(struct loop *l, void *data);

static void sweep_arm(struct frontend *fe)
{
	if (fe->streams_timer || !fe->streams)
		return;
	uint64_t next = fe->streams->deadline;
	for (struct fe_stream *s = fe->streams; s; s = s->next)
		if (s->deadline < next)
			next = s->deadline;
	fe->streams_timer = loop_timer_add(fe->loop, next, on_sweep, fe);
}

static void on_sweep(struct loop *l, void *data)
{
	struct frontend *fe = data;
	uint64_t now = loop_now_ns();
	fe->streams_timer = NULL;
	for (struct fe_stream **pp = &fe->streams; *pp;) {
		struct fe_stream *s = *pp;
		if (s->deadline > now) {
			pp = &s->next;
			continue;
		}
		log_warn("passfd stream from port %u was not named by any request within %u ms; "
			 "closed",
			 s->port, PASSFD_PENDING_MS);
		*pp = s->next;
		fe->n_streams--;
		stream_free(s);
	}
	sweep_arm(fe);
}

/* Refusals are logged at most once a second, with the count since. */
static void refused(struct frontend *fe, const char *msg)
{
	fe->streams_refused++;
	uint64_t now = loop_now_ns();
	if (fe->streams_refusal_logged && now - fe->streams_refusal_logged < REFUSAL_LOG_NS)
		return;
	json_t *f = json_pack("{s:I}", "refused", (json_int_t)fe->streams_refused);
	log_fields(LOG_LVL_WARN, f,
		   "passfd connection refused: %s; %lu refused since the last "
		   "such line",
		   msg, fe->streams_refused);
	fe->streams_refused = 0;
	fe->streams_refusal_logged = now;
}

/* The trailing decimal number of a bound unix name: its port. */
static bool unix_port(const struct sockaddr_un *un, socklen_t len, uint32_t *port)
{
	size_t n = len > offsetof(struct sockaddr_un, sun_path)
			   ? len - offsetof(struct sockaddr_un, sun_path)
			   : 0;
	const char *p = un->sun_path;
	while (n && p[n - 1] == '\0' && p[0] != '\0')
		n--; /* a path name's terminator */
	size_t i = n;
	while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9' && n - i < 10)
		i--;
	if (i == n || i == 0 || n - i > 9)
		return false;
	unsigned long v = strtoul(p + i, NULL, 10);
	if (v == 0)
		return false;
	*port = (uint32_t)v;
	return true;
}

/* The key of an accepted stream, or false when its peer may not connect. */
static bool stream_key(struct frontend *fe, int fd, uint32_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	char msg[160];
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0) {
		snprintf(msg, sizeof(msg), "getpeername: %s", strerror(errno));
		refused(fe, msg);
		return false;
	}
	if (ss.ss_family == AF_VSOCK) {
		const struct sockaddr_vm *vm = (const struct sockaddr_vm *)&ss;
		if (!options_peer_cid_allowed(&fe->policy, vm->svm_cid)) {
			snprintf(msg, sizeof(msg),
				 "CID %u (port %u) may not connect (agent.vsock_peer_cids)",
				 vm->svm_cid, vm->svm_port);
			refused(fe, msg);
			return false;
		}
		*port = vm->svm_port;
		return true;
	}
	if (ss.ss_family == AF_UNIX && unix_port((const struct sockaddr_un *)&ss, len, port))
		return true;
	snprintf(msg, sizeof(msg),
		 "peer of family %u without a port (a unix peer binds a name "
		 "ending in its port)",
		 ss.ss_family);
	refused(fe, msg);
	return false;
}

static void stream_add(struct frontend *fe, int fd, uint32_t port)
{
	if (waiting_take(fe, fd, port))
		return;
	for (struct fe_stream **pp = &fe->streams; *pp; pp = &(*pp)->next)
		if ((*pp)->port == port) {
			struct fe_stream *old = *pp;
			log_info("passfd stream from port %u replaces an earlier one", port);
			*pp = old->next;
			fe->n_streams--;
			stream_free(old);
			break;
		}
	if (fe->n_streams >= PASSFD_MAX_PENDING) {
		/* The oldest goes: the next request names the newest ones. */
		struct fe_stream **oldest = &fe->streams;
		for (struct fe_stream **pp = &fe->streams; *pp; pp = &(*pp)->next)
			if ((*pp)->deadline < (*oldest)->deadline)
				oldest = pp;
		struct fe_stream *o = *oldest;
		char msg[128];
		snprintf(msg, sizeof(msg),
			 "%u streams already wait for a request: the oldest (port %u) is closed",
			 PASSFD_MAX_PENDING, o->port);
		refused(fe, msg);
		*oldest = o->next;
		fe->n_streams--;
		stream_free(o);
	}
	struct fe_stream *s = malloc(sizeof(*s));
	if (!s) {
		close(fd);
		return;
	}
	*s = (struct fe_stream){ .next = fe->streams,
				 .port = port,
				 .fd = fd,
				 .deadline = loop_now_ns() + PASSFD_PENDING_MS * 1000000ull };
	fe->streams = s;
	fe->n_streams++;
	log_debug("passfd stream from port %u accepted", port);
	sweep_arm(fe);
}

/* Take every connection in the backlog. */
static void accept_all(struct frontend *fe)
{
	for (;;) {
		int fd = accept4(fe->passfd_listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("passfd listener: accept: %s", strerror(errno));
			return;
		}
		uint32_t port;
		if (stream_key(fe, fd, &port))
			stream_add(fe, fd, port);
		else
			close(fd);
	}
}

static void on_listen(struct loop *l, int fd, uint32_t events, void *data)
{
	accept_all(data);
}

int passfd_start(struct frontend *fe, int fd, struct kerr *err)
{
	struct stat st;
	int v = 0;
	socklen_t len = sizeof(v);
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || !v)
		return kerr_set(err, -EBADF, "fd %d is not the passfd listening socket", fd);
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return kerr_set(err, -errno, "passfd listener: %s", strerror(errno));
	fe->passfd_listen = fd;
	return loop_add(fe->loop, fd, EPOLLIN, on_listen, fe, err);
}

void passfd_stop(struct frontend *fe)
{
	if (fe->streams_timer)
		loop_timer_cancel(fe->loop, fe->streams_timer);
	fe->streams_timer = NULL;
	while (fe->streams) {
		struct fe_stream *s = fe->streams;
		fe->streams = s->next;
		stream_free(s);
	}
	fe->n_streams = 0;
	/* The server was freed first: it cancelled every call, and each
	 * waiting request left the list through on_wait_cancel. */
	while (fe->passfd_waiting) {
		struct passfd_op *op = fe->passfd_waiting;
		fe->passfd_waiting = op->next;
		if (op->timer)
			loop_timer_cancel(fe->loop, op->timer);
		op_free(op);
	}
	fe->n_passfd_waiting = 0;
	if (fe->passfd_listen >= 0)
		loop_del(fe->loop, fe->passfd_listen);
}

/* The stream of port, taken out of the table; -1 when none waits. */
static int take(struct frontend *fe, uint32_t port)
{
	if (!port)
		return -1;
	/* The host connected before it sent the request: a connection in
	 * the backlog that our loop has not accepted yet is already there. */
	accept_all(fe);
	for (struct fe_stream **pp = &fe->streams; *pp; pp = &(*pp)->next)
		if ((*pp)->port == port) {
			struct fe_stream *s = *pp;
			int fd = s->fd;
			*pp = s->next;
			fe->n_streams--;
			free(s);
			return fd;
		}
	return -1;
}

static void op_free(struct passfd_op *op)
{
	for (unsigned i = 0; i < 3; i++)
		if (op->fds[i] >= 0)
			close(op->fds[i]);
	free(op->packed);
	free(op);
}

static void on_created(struct frontend *fe, struct ttrpc_call *call, const struct ipc_msg *reply,
		       const struct kerr *failure, void *ctx)
{
	struct passfd_op *op = ctx;
	if (call && failure)
		ttrpc_call_fail_err(call, failure);
	else if (call && (op->fds[0] >= 0 || op->fds[1] >= 0 || op->fds[2] >= 0))
		monitors_passfd_attach(fe, call, op->container_id, op->exec_id, op->fds);
	else if (call)
		ttrpc_call_reply(call, NULL); /* every stream went with the request */
	/* cancelled: the host gave up on the call; its streams close */
	op_free(op);
}

/* With agent.passfd_direct, the output streams of a process without a
 * terminal go to the executor ahead of its request: they become the
 * process's own stdout and stderr (the executor checks them; the launcher
 * hands them over), so no agent process ever copies its output. Ours are
 * closed: the channel sent a copy. */
static int send_direct(struct frontend *fe, struct passfd_op *op, struct kerr *err)
{
	if (!fe->passfd_direct || op->terminal || !fe->exec)
		return 0;
	for (unsigned i = IPC_STREAM_STDOUT; i <= IPC_STREAM_STDERR; i++) {
		if (op->fds[i] < 0)
			continue;
		struct ipc_passfd_stream q = { .stream = i };
		snprintf(q.container_id, sizeof(q.container_id), "%s", op->container_id);
		snprintf(q.exec_id, sizeof(q.exec_id), "%s", op->exec_id);
		int r = ipc_chan_send(fe->exec, IPC_PASSFD_STREAM, 0, &q, sizeof(q), op->fds[i],
				      err);
		close(op->fds[i]);
		op->fds[i] = -1;
		if (r < 0) {
			err->status = GRPC_UNAVAILABLE;
			return r;
		}
	}
	return 0;
}

static void op_send(struct frontend *fe, struct ttrpc_call *call, uint32_t type,
		    const ProtobufCMessage *req, struct passfd_op *op)
{
	struct kerr err = { 0 };
	if (send_direct(fe, op, &err) < 0 ||
	    executor_request_message(fe, call, type, req, on_created, op, &err) < 0) {
		op_free(op);
		ttrpc_call_fail_err(call, &err);
	}
}

/* Off the waiting list (its timer and cancel hook with it). */
static void waiting_unlink(struct passfd_op *op)
{
	struct frontend *fe = op->fe;
	for (struct passfd_op **pp = &fe->passfd_waiting; *pp; pp = &(*pp)->next)
		if (*pp == op) {
			*pp = op->next;
			fe->n_passfd_waiting--;
			break;
		}
	if (op->timer)
		loop_timer_cancel(fe->loop, op->timer);
	op->timer = NULL;
	ttrpc_call_set_cancel(op->call, NULL, NULL);
}

/* The wait is over (every stream came, or the time is up): on to the
 * executor with what it has. */
static void waiting_done(struct passfd_op *op)
{
	struct frontend *fe = op->fe;
	waiting_unlink(op);
	for (unsigned i = 0; i < 3; i++)
		if (op->ports[i])
			log_warn("no passfd stream from port %u for %s of %s%s%s within %u ms: it "
				 "stays on its pipe",
				 op->ports[i], stdio_names[i], op->container_id,
				 op->exec_id[0] ? "/" : "", op->exec_id, PASSFD_WAIT_MS);
	ProtobufCMessage *req = protobuf_c_message_unpack(op->desc, NULL, op->packed_len,
							  op->packed);
	free(op->packed);
	op->packed = NULL;
	struct ttrpc_call *call = op->call;
	if (!req) {
		op_free(op);
		ttrpc_call_fail(call, GRPC_INTERNAL, "the waiting request does not decode again");
		return;
	}
	op_send(fe, call, op->type, req, op);
	protobuf_c_message_free_unpacked(req, NULL);
}

static void on_wait_timeout(struct loop *l, void *data)
{
	struct passfd_op *op = data;
	op->timer = NULL;
	waiting_done(op);
}

/* The host gave up on the call while it waited: its streams close. */
static void on_wait_cancel(struct ttrpc_call *call, void *data)
{
	struct passfd_op *op = data;
	waiting_unlink(op);
	op_free(op);
	ttrpc_call_release(call);
}

/* A stream just accepted: the first waiting request that names its port
 * takes it. */
static bool waiting_take(struct frontend *fe, int fd, uint32_t port)
{
	for (struct passfd_op *op = fe->passfd_waiting; op; op = op->next)
		for (unsigned i = 0; i < 3; i++) {
			if (op->ports[i] != port)
				continue;
			log_debug("passfd stream from port %u arrived for a waiting request", port);
			op->fds[i] = fd;
			op->ports[i] = 0;
			if (!(op->ports[0] | op->ports[1] | op->ports[2]))
				waiting_done(op);
			return true;
		}
	return false;
}

/* Park the request until its missing streams come or PASSFD_WAIT_MS pass;
 * false when it cannot wait (too many wait, no memory): it goes on now. */
static bool waiting_add(struct frontend *fe, struct ttrpc_call *call, uint32_t type,
			const ProtobufCMessage *req, struct passfd_op *op,
			const uint32_t missing[3])
{
	if (fe->n_passfd_waiting >= PASSFD_MAX_WAITING)
		return false;
	size_t len = protobuf_c_message_get_packed_size(req);
	op->packed = malloc(len ? len : 1);
	if (!op->packed)
		return false;
	op->packed_len = protobuf_c_message_pack(req, op->packed);
	op->desc = req->descriptor;
	op->fe = fe;
	op->call = call;
	op->type = type;
	memcpy(op->ports, missing, sizeof(op->ports));
	op->timer = loop_timer_add(fe->loop, loop_now_ns() + PASSFD_WAIT_MS * 1000000ull,
				   on_wait_timeout, op);
	if (!op->timer) {
		free(op->packed);
		op->packed = NULL;
		return false;
	}
	op->next = fe->passfd_waiting;
	fe->passfd_waiting = op;
	fe->n_passfd_waiting++;
	ttrpc_call_set_cancel(call, on_wait_cancel, op);
	log_info("%s%s%s waits up to %u ms for its passfd streams", op->container_id,
		 op->exec_id[0] ? "/" : "", op->exec_id, PASSFD_WAIT_MS);
	return true;
}

void passfd_forward(struct frontend *fe, struct ttrpc_call *call, uint32_t type,
		    const ProtobufCMessage *req, const char *cid, const char *eid, bool terminal,
		    const uint32_t ports[3])
{
	if (fe->passfd_listen < 0 || !(ports[0] | ports[1] | ports[2])) {
		executor_forward_message(fe, call, type, req);
		return;
	}
	struct passfd_op *op = calloc(1, sizeof(*op));
	if (!op) {
		ttrpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	snprintf(op->container_id, sizeof(op->container_id), "%s", cid);
	snprintf(op->exec_id, sizeof(op->exec_id), "%s", ipc_exec_name(cid, eid));
	op->terminal = terminal;
	uint32_t missing[3] = { 0, 0, 0 };
	for (unsigned i = 0; i < 3; i++) {
		op->fds[i] = take(fe, ports[i]);
		if (ports[i] && op->fds[i] < 0)
			missing[i] = ports[i];
	}
	if ((missing[0] | missing[1] | missing[2]) && waiting_add(fe, call, type, req, op, missing))
		return;
	for (unsigned i = 0; i < 3; i++)
		if (missing[i])
			log_warn("no passfd stream from port %u for %s of %s%s%s: it stays on its "
				 "pipe (%u requests already wait for streams)",
				 missing[i], stdio_names[i], cid, op->exec_id[0] ? "/" : "",
				 op->exec_id, fe->n_passfd_waiting);
	op_send(fe, call, type, req, op);
}
