/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_ipc.c - libFuzzer target for what every process of the agent runs on
 * the datagrams a peer sends it (common/ipc.c): ipc_recv (framing, control
 * messages, fd counts, sealed memfd payloads, ipc_check_payload's field
 * rules) inside an ipc_chan (dispatch table, sender role, closing the
 * channel on a violation), for each receiving end of doc/ipc.md "Who accepts
 * what": the executor's control, front-end, launcher and monitor channels,
 * the front-end's executor and monitor channels, the monitor's executor,
 * launcher and front-end channels, the parent's control channel; and the
 * launcher's plain ipc_recv loop (it runs no channel).
 *
 * The tables here are doc/ipc.md's (the processes' own are static in their
 * main files); the handlers check what a handler may rely on, so the real
 * ones (agentd/frontend, agentd/monitor: fuzz_frontend, fuzz_monitor) can.
 *
 * Input: u8 receiving end (a few values give it a peer of the wrong role),
 * then datagrams until the input ends: u8 kind (low 3 bits: the fds to
 * attach: none, an eventfd, a sealed memfd holding the bytes after the
 * header, the same unsealed, 2 fds, 4 fds, 5 fds, a socket; bit 3: the
 * handler declares this message a violation; bit 4: a memfd is zero-filled
 * up to the header's len), u16 length, the bytes.
 *
 * Checked: a handler sees only a type its table lists from the channel's
 * peer role, whose payload passes ipc_check_payload, of exactly hdr.len
 * bytes (a memfd only above IPC_MAX_INLINE, for a type that may use one),
 * with the fds its type's rule says, each open and close-on-exec; nothing is
 * handled after the channel closed; on_close runs once; no fd is left open.
 *
 * Seeds: one valid datagram of every type as its sender builds it
 * (ipc_send_fd's bytes), memfd payloads above 64 KiB, and classic bad ones
 * (short, wrong len, unknown type and flags, an fd where none belongs).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "ipc.h"

#define MAX_DGRAMS 24

static int handle(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);

/* Handlers only: who may send a type comes from the declaration
 * (ipc_messages.def), and ipc_chan_new refuses a table that lists what its
 * peer never sends. A requester's replies are one IPC_REPLIES entry, as the
 * processes' tables have them. */
#define E(type)                    \
	{                          \
		IPC_##type, handle \
	}
#define REPLIES                     \
	{                           \
		IPC_REPLIES, handle \
	}
#define END             \
	{               \
		0, NULL \
	}

static const struct ipc_dispatch exec_ctl[] = { E(CTL_NEW_FRONTEND), END };
static const struct ipc_dispatch exec_fe[] = { E(PING),
					       E(GET_GUEST_DETAILS_REQ),
					       E(CREATE_SANDBOX_REQ),
					       E(DESTROY_SANDBOX_REQ),
					       E(CREATE_CONTAINER_REQ),
					       E(START_CONTAINER_REQ),
					       E(REMOVE_CONTAINER_REQ),
					       E(EXEC_PROCESS_REQ),
					       E(SIGNAL_PROCESS_REQ),
					       E(UPDATE_CONTAINER_REQ),
					       E(PAUSE_CONTAINER_REQ),
					       E(RESUME_CONTAINER_REQ),
					       E(STATS_CONTAINER_REQ),
					       E(GET_DIAGNOSTIC_DATA_REQ),
					       E(GET_OOM_EVENT_REQ),
					       E(GET_METRICS_REQ),
					       E(SET_GUEST_DATE_TIME_REQ),
					       E(RESEED_RANDOM_DEV_REQ),
					       E(GET_VOLUME_STATS_REQ),
					       E(COPY_FILE_REQ),
					       E(ONLINE_CPU_MEM_REQ),
					       E(MEM_HOTPLUG_BY_PROBE_REQ),
					       E(ADD_SWAP_PATH_REQ),
					       E(UPDATE_EPHEMERAL_MOUNTS_REQ),
					       E(REMOVE_STALE_VIRTIOFS_SHARE_MOUNTS_REQ),
					       E(ADD_SWAP_REQ),
					       E(RESIZE_VOLUME_REQ),
					       E(UPDATE_INTERFACE_REQ),
					       E(UPDATE_ROUTES_REQ),
					       E(LIST_INTERFACES_REQ),
					       E(LIST_ROUTES_REQ),
					       E(ADD_ARP_NEIGHBORS_REQ),
					       END };
static const struct ipc_dispatch exec_launcher[] = { REPLIES, END };
static const struct ipc_dispatch exec_monitor[] = { E(MON_EXITED), E(MON_RELEASED), REPLIES, END };
static const struct ipc_dispatch fe_exec[] = { E(MONITOR_ATTACH), REPLIES, END };
static const struct ipc_dispatch fe_monitor[] = { REPLIES, END };
static const struct ipc_dispatch mon_exec[] = { E(MON_NEW_FRONTEND), E(MON_SIGNAL), E(MON_SHUTDOWN),
						END };
static const struct ipc_dispatch mon_launcher[] = { E(MON_PROCESS_ADD), END };
static const struct ipc_dispatch mon_fe[] = { E(READ_STREAM_REQ),
					      E(READ_STREAM_ACK),
					      E(WRITE_STDIN_REQ),
					      E(CLOSE_STDIN_REQ),
					      E(TTY_WIN_RESIZE_REQ),
					      E(WAIT_PROCESS_REQ),
					      END };
static const struct ipc_dispatch parent_ctl[] = { E(CTL_SANDBOX_DESTROYED), END };

static const struct end {
	const char *name;
	const struct ipc_dispatch *table; /* NULL: the launcher's plain loop */
	enum ipc_role peer;
} ends[] = {
	{ "executor<-parent", exec_ctl, IPC_ROLE_PARENT },
	{ "executor<-frontend", exec_fe, IPC_ROLE_FRONTEND },
	{ "executor<-launcher", exec_launcher, IPC_ROLE_LAUNCHER },
	{ "executor<-monitor", exec_monitor, IPC_ROLE_MONITOR },
	{ "frontend<-executor", fe_exec, IPC_ROLE_EXECUTOR },
	{ "frontend<-monitor", fe_monitor, IPC_ROLE_MONITOR },
	{ "monitor<-executor", mon_exec, IPC_ROLE_EXECUTOR },
	{ "monitor<-launcher", mon_launcher, IPC_ROLE_LAUNCHER },
	{ "monitor<-frontend", mon_fe, IPC_ROLE_FRONTEND },
	{ "parent<-executor", parent_ctl, IPC_ROLE_EXECUTOR },
	{ "launcher<-executor", NULL, IPC_ROLE_EXECUTOR },
	/* No end serves a table to a peer of another role: ipc_chan_new
	 * refuses it (test_ipc). A peer sending what its role does not is
	 * the bytes on an end above (a monitor's START_CONTAINER_REQ on the
	 * executor's monitor channel). */
};
#define N_ENDS (sizeof(ends) / sizeof(ends[0]))

static volatile unsigned sink;

static struct {
	bool ready;
	struct loop *loop;
	const struct end *end;
	bool violation[MAX_DGRAMS]; /* the handler refuses the nth message */
	unsigned handled, closes;
	bool closed;
	unsigned fd_base;
} S;

/* What any handler may rely on about a message ipc_recv gave it. */
static void check_msg(const struct ipc_msg *m)
{
	const struct ipc_type_desc *d = ipc_type_info(m->hdr.type);
	struct kerr e = { 0 };
	FUZZ_ASSERT(d, "unknown type %u handed out", m->hdr.type);
	FUZZ_ASSERT(m->len == m->hdr.len, "%s: %zu payload bytes, header says %u", d->name, m->len,
		    m->hdr.len);
	FUZZ_ASSERT(!(m->hdr.flags & ~IPC_F_KNOWN), "%s: flags 0x%x", d->name, m->hdr.flags);
	FUZZ_ASSERT(!(m->hdr.flags & IPC_F_MEMFD) ||
			    (d->big && m->len > IPC_MAX_INLINE && m->nfds == 0),
		    "%s: a memfd payload where none belongs", d->name);
	FUZZ_ASSERT(ipc_check_payload(m->hdr.type, m->payload, m->len, &e) == 0,
		    "%s handed out with a payload its rules refuse: %s", d->name, e.msg);
	unsigned want = d->fd == IPC_FD_REQUIRED ? 1 : 0;
	if (d->fd == IPC_FD_PROCESS) {
		const struct ipc_process_add *a = (const void *)m->payload;
		want = ipc_process_nfds(a->terminal, a->direct);
	}
	FUZZ_ASSERT(m->nfds == want, "%s with %u fds, its rule says %u", d->name, m->nfds, want);
	FUZZ_ASSERT(m->fd == (m->nfds ? m->fds[0] : -1), "%s: fd is not fds[0]", d->name);
	for (unsigned i = 0; i < m->nfds; i++) {
		int fl = fcntl(m->fds[i], F_GETFD);
		FUZZ_ASSERT(fl >= 0 && (fl & FD_CLOEXEC), "%s: fd #%u %s", d->name, i,
			    fl < 0 ? "is not open" : "is not close-on-exec");
	}
	for (unsigned i = m->nfds; i < IPC_MAX_FDS; i++)
		FUZZ_ASSERT(m->fds[i] == -1, "%s: fds[%u] set beyond nfds", d->name, i);
	uint8_t sum = 0; /* every payload byte is readable (ASan) */
	for (size_t i = 0; i < m->len; i++)
		sum += m->payload[i];
	sink += sum;
}

static int handle(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	FUZZ_ASSERT(!S.closed, "a message handled after the channel closed");
	const struct ipc_dispatch *t = S.end->table;
	while (t->fn && t->type != m->hdr.type &&
	       !(t->type == IPC_REPLIES && ipc_type_is_reply(m->hdr.type)))
		t++;
	FUZZ_ASSERT(t->fn, "%s handled on %s, not in its table", ipc_type_name(m->hdr.type),
		    S.end->name);
	const struct ipc_type_desc *d = ipc_type_info(m->hdr.type);
	FUZZ_ASSERT(d->from & IPC_ROLE_BIT(ipc_chan_peer(c)), "%s handled from a %s", d->name,
		    ipc_role_name(ipc_chan_peer(c)));
	/* A request came with an id and, when it is protobuf, decoded. */
	FUZZ_ASSERT(d->reply == IPC_NONE || m->hdr.id, "%s handled without an id", d->name);
	FUZZ_ASSERT(!ipc_type_pb(d) || d->reply == IPC_NONE || m->in, "%s handled undecoded",
		    d->name);
	check_msg(m);
	unsigned n = S.handled++;
	if (m->nfds && (n & 1))
		close(ipc_msg_take_fd(m)); /* a handler that keeps the fd */
	if (n < MAX_DGRAMS && S.violation[n])
		return kerr_set(err, -EPROTO, "this handler refuses message #%u", n);
	return 0;
}

static void on_close(struct ipc_chan *c, const char *reason, void *data)
{
	S.closes++;
	S.closed = true;
	loop_quit(S.loop);
}

static void on_watchdog(struct loop *l, void *data)
{
	FUZZ_ASSERT(0, "the channel neither closed nor reached EOF");
}

/* The launcher reads its channel with plain ipc_recv (launcher.c) and
 * exits on anything but LAUNCH_START / LAUNCH_EXEC. */
static void launcher(int fd)
{
	for (;;) {
		struct ipc_msg m;
		struct kerr e = { 0 };
		if (ipc_recv(fd, &m, &e) <= 0)
			break;
		check_msg(&m);
		bool ours = m.hdr.type == IPC_LAUNCH_START || m.hdr.type == IPC_LAUNCH_EXEC;
		ipc_msg_release(&m);
		if (!ours)
			break;
	}
	close(fd);
}

/* ---- sending ---- */

/* An fd to pass: an eventfd, which fuzz_open_fds counts (a leak of it
 * shows). */
static int some_fd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);
	FUZZ_ASSERT(fd >= 0, "eventfd: %s", strerror(errno));
	return fd;
}

/* Send one datagram (kind: see the file's comment); fds are ours to close. */
static void send_dgram(int tx, uint8_t kind, const uint8_t *b, size_t n)
{
	int fds[5];
	unsigned nfds = 0;
	size_t dlen = n;
	switch (kind & 7) {
	case 1:
		fds[nfds++] = some_fd();
		break;
	case 2:
	case 3: {
		/* The header in the datagram, the rest in the memfd, zero-filled
		 * to the header's len with bit 4 (payloads above 64 KiB). */
		size_t h = n < IPC_HDR_LEN ? n : IPC_HDR_LEN;
		struct ipc_hdr hdr = { 0 };
		memcpy(&hdr, b, h);
		int fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		FUZZ_ASSERT(fd >= 0, "memfd: %s", strerror(errno));
		FUZZ_ASSERT(n == h || write(fd, b + h, n - h) == (ssize_t)(n - h), "write memfd");
		if ((kind & 0x10) && hdr.len <= IPC_MAX_PAYLOAD + 1 && hdr.len > n - h)
			FUZZ_ASSERT(ftruncate(fd, hdr.len) == 0, "ftruncate");
		if ((kind & 7) == 2)
			FUZZ_ASSERT(fcntl(fd, F_ADD_SEALS,
					  F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW |
						  F_SEAL_WRITE) == 0,
				    "seal");
		fds[nfds++] = fd;
		dlen = h;
		break;
	}
	case 4:
	case 5:
	case 6: {
		unsigned k = (kind & 7) == 4 ? 2 : (kind & 7) == 5 ? 4 : 5;
		while (nfds < k)
			fds[nfds++] = some_fd();
		break;
	}
	case 7: {
		int sv[2];
		FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0,
			    "socketpair");
		close(sv[1]);
		fds[nfds++] = sv[0];
		break;
	}
	default:
		break;
	}
	struct iovec iov = { .iov_base = (void *)b, .iov_len = dlen };
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} cm;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
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
	/* A full socket drops the datagram: the receiver never sees it. */
	(void)sendmsg(tx, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kerr e = { 0 };
	if (!S.ready) {
		signal(SIGPIPE, SIG_IGN);
		FUZZ_ASSERT(loop_new(&S.loop, &e) == 0, "%s", e.msg);
		S.ready = true;
	}
	struct fuzz_in in = { data, size };
	S.end = &ends[fuzz_u8(&in) % N_ENDS];
	S.handled = S.closes = 0;
	S.closed = false;
	memset(S.violation, 0, sizeof(S.violation));
	unsigned base = fuzz_open_fds();

	int sv[2];
	FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
	int big = 4 << 20;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	for (unsigned i = 0; i < MAX_DGRAMS && in.n; i++) {
		uint8_t kind = fuzz_u8(&in);
		size_t n;
		const uint8_t *b = fuzz_bytes(&in, IPC_HDR_LEN + IPC_MAX_INLINE + 1, &n);
		S.violation[i] = kind & 8;
		send_dgram(sv[1], kind, b, n);
	}
	close(sv[1]); /* then EOF */

	if (!S.end->table) {
		launcher(sv[0]);
	} else {
		struct ipc_chan *c;
		FUZZ_ASSERT(ipc_chan_new(&c, S.loop, sv[0], S.end->name, S.end->peer, S.end->table,
					 on_close, NULL, &e) == 0,
			    "%s", e.msg);
		struct loop_timer *t = loop_timer_add(S.loop, loop_now_ns() + FUZZ_WATCHDOG_NS,
						      on_watchdog, NULL);
		FUZZ_ASSERT(t && loop_run(S.loop, &e) == 0, "loop: %s", e.msg);
		loop_timer_cancel(S.loop, t);
		FUZZ_ASSERT(S.closes == 1, "on_close ran %u times", S.closes);
	}
	unsigned now = fuzz_open_fds();
	FUZZ_ASSERT(now == base, "%u fds open, %u before: a leak: %s", now, base, fuzz_fd_list());
	return 0;
}

/* ---- seeds ---- */

static unsigned end_of(const char *name)
{
	for (unsigned i = 0; i < N_ENDS; i++)
		if (strcmp(ends[i].name, name) == 0)
			return i;
	abort();
}

struct seedbuf {
	uint8_t b[16 * (IPC_HDR_LEN + 3 + 1024)];
	size_t n;
};

static void put(struct seedbuf *s, uint8_t kind, uint32_t type, uint32_t id, uint32_t flags,
		uint32_t len, const void *payload, size_t plen)
{
	struct ipc_hdr h = { .type = type, .len = len, .id = id, .flags = flags };
	size_t n = IPC_HDR_LEN + plen;
	s->b[s->n++] = kind;
	s->b[s->n++] = (uint8_t)n;
	s->b[s->n++] = (uint8_t)(n >> 8);
	memcpy(s->b + s->n, &h, sizeof(h));
	if (plen)
		memcpy(s->b + s->n + IPC_HDR_LEN, payload, plen);
	s->n += n;
}

static void msg(struct seedbuf *s, uint8_t kind, uint32_t type, uint32_t id, const void *p,
		size_t len)
{
	put(s, kind, type, id, 0, (uint32_t)len, p, len);
}

static void emit(const char *name, const char *end, struct seedbuf *s)
{
	static uint8_t out[sizeof(s->b) + 1];
	out[0] = (uint8_t)end_of(end);
	memcpy(out + 1, s->b, s->n);
	fuzz_seed(name, out, s->n + 1);
	s->n = 0;
}

void fuzz_write_seeds(void)
{
	static struct seedbuf s;
	uint8_t err[sizeof(struct ipc_error) + IPC_ERROR_MSG_MAX];
	size_t elen = ipc_error_build(err, 5, -2, "container c1 not found");
	struct ipc_container_ref ref = { .container_id = "c1" };
	struct ipc_exec_ref xref = { .container_id = "c1", .exec_id = "e1" };

	struct ipc_ctl_new_frontend nf = { .generation = 1, .frontend_pid = 4242 };
	msg(&s, 7, IPC_CTL_NEW_FRONTEND, 0, &nf, sizeof(nf));
	emit("ctl-new-frontend", "executor<-parent", &s);

	struct ipc_ping ping = { .cookie = 1 };
	struct ipc_guest_details_req gd = { .mem_block_size = 1, .mem_hotplug_probe = 1 };
	struct ipc_container_remove rm = { .container_id = "c1", .timeout_s = 10 };
	struct ipc_process_signal sig = { .container_id = "c1", .signal = 15 };
	struct ipc_guest_time gt = { .sec = 1717171717, .usec = 5 };
	struct ipc_online_cpu_mem oc = { .nb_cpus = 2, .wait = 1 };
	uint64_t probe[2] = { 0x100000000ull, 0x108000000ull };
	msg(&s, 0, IPC_PING, 1, &ping, sizeof(ping));
	msg(&s, 0, IPC_GET_GUEST_DETAILS_REQ, 2, &gd, sizeof(gd));
	msg(&s, 0, IPC_START_CONTAINER_REQ, 3, &ref, sizeof(ref));
	msg(&s, 0, IPC_REMOVE_CONTAINER_REQ, 4, &rm, sizeof(rm));
	msg(&s, 0, IPC_SIGNAL_PROCESS_REQ, 5, &sig, sizeof(sig));
	msg(&s, 0, IPC_SET_GUEST_DATE_TIME_REQ, 6, &gt, sizeof(gt));
	msg(&s, 0, IPC_ONLINE_CPU_MEM_REQ, 7, &oc, sizeof(oc));
	msg(&s, 0, IPC_MEM_HOTPLUG_BY_PROBE_REQ, 8, probe, sizeof(probe));
	msg(&s, 0, IPC_GET_VOLUME_STATS_REQ, 9, "/run/kata-containers/shared/v", 29);
	msg(&s, 0, IPC_GET_OOM_EVENT_REQ, 10, NULL, 0);
	msg(&s, 0, IPC_DESTROY_SANDBOX_REQ, 11, NULL, 0);
	emit("frontend-requests", "executor<-frontend", &s);

	/* A CreateContainer request above 64 KiB: in a sealed memfd. */
	static const char spec[] = "\x0a\x02"
				   "c1"
				   "\x2a\x00";
	put(&s, 0x12, IPC_CREATE_CONTAINER_REQ, 12, IPC_F_MEMFD, 70000, spec, sizeof(spec) - 1);
	put(&s, 0x13, IPC_EXEC_PROCESS_REQ, 13, IPC_F_MEMFD, 70000, spec, sizeof(spec) - 1);
	emit("memfd-sealed-then-unsealed", "executor<-frontend", &s);

	struct ipc_launched la = { .pid = 4243 };
	msg(&s, 0, IPC_LAUNCHED, 1, &la, sizeof(la));
	msg(&s, 0, IPC_OK, 2, NULL, 0);
	msg(&s, 0, IPC_ERROR, 3, err, elen);
	emit("launcher-replies", "executor<-launcher", &s);

	struct ipc_exited ex = { .exec_id = "e1", .status = 137 };
	msg(&s, 0, IPC_MON_EXITED, 0, &ex, sizeof(ex));
	msg(&s, 0, IPC_OK, 5, NULL, 0);
	emit("monitor-exited", "executor<-monitor", &s);

	struct ipc_guest_details_reply gr = { .mem_block_size_bytes = 128 << 20 };
	msg(&s, 0, IPC_PONG, 1, &ping, sizeof(ping));
	msg(&s, 0, IPC_GET_GUEST_DETAILS_REPLY, 2, &gr, sizeof(gr));
	msg(&s, 7, IPC_MONITOR_ATTACH, 0, &ref, sizeof(ref));
	msg(&s, 0, IPC_GET_METRICS_REPLY, 3, "kata_agent_scrape_count 1\n", 26);
	msg(&s, 0, IPC_ERROR, 4, err, elen);
	emit("executor-replies", "frontend<-executor", &s);

	uint8_t data[sizeof(struct ipc_stdio_data) + 6] = { 0 };
	memcpy(data + sizeof(struct ipc_stdio_data), "hello\n", 6);
	struct ipc_stdio_written wr = { .len = 6 };
	struct ipc_wait_reply wt = { .status = 0 };
	msg(&s, 0, IPC_READ_STREAM_REPLY, 1, data, sizeof(data));
	msg(&s, 0, IPC_WRITE_STDIN_REPLY, 2, &wr, sizeof(wr));
	msg(&s, 0, IPC_WAIT_PROCESS_REPLY, 3, &wt, sizeof(wt));
	emit("monitor-replies", "frontend<-monitor", &s);

	struct ipc_process_signal ms = { .container_id = "c1", .exec_id = "e1", .signal = 9 };
	msg(&s, 7, IPC_MON_NEW_FRONTEND, 0, NULL, 0);
	msg(&s, 0, IPC_MON_SIGNAL, 1, &ms, sizeof(ms));
	msg(&s, 0, IPC_MON_SHUTDOWN, 0, NULL, 0);
	emit("executor-to-monitor", "monitor<-executor", &s);

	struct ipc_process_add pa = { .exec_id = "e1", .pid = 4244, .terminal = 0 };
	msg(&s, 5, IPC_MON_PROCESS_ADD, 1, &pa, sizeof(pa));
	pa.terminal = 1;
	msg(&s, 4, IPC_MON_PROCESS_ADD, 2, &pa, sizeof(pa));
	emit("process-add", "monitor<-launcher", &s);

	struct ipc_stdio_read rd = { .exec_id = "e1",
				     .stream = IPC_STREAM_STDOUT,
				     .max_len = 32768 };
	struct ipc_stdio_ack ack = { .exec_id = "e1", .stream = IPC_STREAM_STDOUT, .offset = 6 };
	uint8_t w[sizeof(struct ipc_stdio_write) + 3] = "e1";
	memcpy(w + sizeof(struct ipc_stdio_write), "ls\n", 3);
	struct ipc_tty_resize tr = { .exec_id = "e1", .rows = 24, .cols = 80 };
	msg(&s, 0, IPC_READ_STREAM_REQ, 1, &rd, sizeof(rd));
	msg(&s, 0, IPC_READ_STREAM_ACK, 0, &ack, sizeof(ack));
	msg(&s, 0, IPC_WRITE_STDIN_REQ, 2, w, sizeof(w));
	msg(&s, 0, IPC_CLOSE_STDIN_REQ, 3, &xref, sizeof(xref));
	msg(&s, 0, IPC_TTY_WIN_RESIZE_REQ, 4, &tr, sizeof(tr));
	msg(&s, 8, IPC_WAIT_PROCESS_REQ, 5, &xref, sizeof(xref));
	emit("frontend-to-monitor", "monitor<-frontend", &s);

	msg(&s, 0, IPC_LAUNCH_EXEC, 1,
	    "\x0a\x02"
	    "c1",
	    4);
	msg(&s, 0, IPC_LAUNCH_START, 2, NULL, 0);
	emit("launch", "launcher<-executor", &s);

	/* Bad ones: short, a length that lies, unknown type and flags, an fd
	 * where none belongs, too many fds. */
	s.b[s.n++] = 0;
	s.b[s.n++] = 3;
	s.b[s.n++] = 0;
	memcpy(s.b + s.n, "\x01\x00\x00", 3);
	s.n += 3;
	emit("short", "executor<-frontend", &s);
	put(&s, 0, IPC_PING, 1, 0, 9, &ping, sizeof(ping));
	emit("bad-len", "executor<-frontend", &s);
	put(&s, 0, 9999, 1, 0, 0, NULL, 0);
	emit("bad-type", "executor<-frontend", &s);
	put(&s, 0, IPC_OK, 1, 0x80, 0, NULL, 0);
	emit("bad-flags", "frontend<-monitor", &s);
	msg(&s, 1, IPC_PING, 1, &ping, sizeof(ping));
	emit("unexpected-fd", "executor<-frontend", &s);
	msg(&s, 6, IPC_MON_PROCESS_ADD, 1, &pa, sizeof(pa));
	emit("too-many-fds", "monitor<-launcher", &s);
	put(&s, 4, IPC_MON_PROCESS_ADD, 1, IPC_F_MEMFD, sizeof(pa), &pa, sizeof(pa));
	emit("memfd-flag-with-fds", "monitor<-launcher", &s);
	msg(&s, 0, IPC_START_CONTAINER_REQ, 1, &ref, sizeof(ref));
	emit("wrong-role", "executor<-monitor", &s);
}
