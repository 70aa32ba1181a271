/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_monitor.c - libFuzzer target for the per-container monitor
 * (agentd/monitor) where bytes it does not control reach it: the front-end's
 * requests (stdio reads, ACKs, stdin writes, close, resize, wait: the
 * front-end faces the host), the container's output and its stdin reading,
 * process exits, and a front-end restart in the middle of it all.
 *
 * The monitor's handlers are static in main.c, proc.c and passfd.c: all
 * are compiled into this file (main() renamed), so the fuzzer drives exactly
 * the functions its event loop calls, with the real dispatch tables. Nothing is
 * confined and no signal is sent: this program plays the executor, the
 * launcher (it announces processes with MON_PROCESS_ADD: pipes or a pty and
 * a pidfd of a sleeping child of its own), the front-end and the
 * containers' processes (the other ends of their stdio). A process exit is
 * what mon_reap does once waitid saw it: proc_exited().
 *
 * Input: u8 set-up (bit 0: the init has a terminal; bit 1: an exec "e1"
 * too; bit 2: its terminal), then actions until the input ends (see act()).
 *
 * Checked against a model of what the containers wrote and the front-end
 * asked:
 *  - every message to the front-end passes ipc_recv and answers a request
 *    still waiting (ids), with the type that request expects or ERROR;
 *  - output is exact: each READ_STREAM_REPLY's bytes are the bytes the process
 *    wrote at that offset, at most the read's max_len, never before the last
 *    ACK; EOF only once the process's end is closed and everything came,
 *    or once it exited and what it wrote until then came;
 *  - stdin is exact: what the process reads is, in order, the data of the
 *    writes not refused, and a WRITE_STDIN_REPLY's len is its write's;
 *  - no fd is left open once the monitor is torn down.
 *
 * Seeds: a session as the runtime drives one through the front-end
 * (kata_agent.go readStdout / writeStdin / closeStdin / winsizeProcess /
 * waitProcess: read 32 KiB, ACK, write, wait, exit), with a tty, and with a
 * front-end restart between a read and its ACK.
 */
#define main kata_monitor_main
#include "main.c"
#undef main
#include "proc.c"
#include "passfd.c"

#include <sys/prctl.h>
#include <termios.h>

#include "fuzz.h"

#define CID "c1"
#define MAX_ACTIONS 96
#define MAX_REQS 256
#define STREAM_BUF 4096 /* the monitor's smallest: wraps and backpressure */

struct model_stream {
	uint8_t *written; /* what the process wrote */
	size_t n, cap;
	bool closed;    /* the process closed its end */
	uint64_t acked; /* the front-end's last accepted ACK */
	uint64_t sent;  /* the end of what reached this front-end */
	size_t at_exit; /* what was written when the process exited */
	bool eof_seen;
};

struct model_proc {
	const char *exec_id;
	bool terminal;
	int out[2]; /* the process's ends: stdout, stderr (the pty slave twice) */
	int in;     /* the process's end of stdin (the slave with a pty) */
	struct model_stream s[2];
	uint8_t *wq; /* data of the writes not refused, in order */
	size_t wq_n, wq_cap, stdin_read;
	bool in_closed;
	bool exited;
};

struct req {
	uint32_t id;
	uint32_t type;
	int proc; /* -1: an exec id the monitor does not know */
	unsigned stream;
	uint32_t max_len;
	size_t wq_off, wlen; /* STDIO_WRITE: where its data sits in wq */
};

static struct {
	bool ready;
	struct monitor m;
	pid_t child;
	int ex, la, fe; /* our ends: executor, launcher, front-end */
	struct model_proc p[2];
	unsigned nprocs;
	struct req reqs[MAX_REQS];
	unsigned nreqs;
	bool raw_seen; /* a datagram of any bytes reached the monitor */
	uint32_t next_id;
	struct fuzz_in in;
} F;

static void quit_loop(struct loop *l, void *data)
{
	loop_quit(l);
}

/* Let the monitor handle what is waiting for it. */
static void turn(void)
{
	struct kerr e = { 0 };
	for (int i = 0; i < 3; i++) {
		FUZZ_ASSERT(loop_timer_add(F.m.loop, 0, quit_loop, NULL), "timer");
		FUZZ_ASSERT(loop_run(F.m.loop, &e) == 0, "loop: %s", e.msg);
	}
}

static void append(uint8_t **b, size_t *n, size_t *cap, const uint8_t *d, size_t len)
{
	if (*n + len > *cap) {
		*cap = (*n + len) * 2 + 64;
		*b = realloc(*b, *cap);
		FUZZ_ASSERT(*b, "out of memory");
	}
	memcpy(*b + *n, d, len);
	*n += len;
}

/* ---- the front-end's side ---- */

static struct req *req_find(uint32_t id)
{
	for (unsigned i = 0; i < F.nreqs; i++)
		if (F.reqs[i].id == id)
			return &F.reqs[i];
	return NULL;
}

static void req_drop(struct req *r)
{
	*r = F.reqs[--F.nreqs];
}

static void check_data(struct req *r, const struct ipc_msg *msg)
{
	struct ipc_stdio_data h;
	memcpy(&h, msg->payload, sizeof(h));
	size_t n = msg->len - sizeof(h);
	FUZZ_ASSERT(r->proc >= 0, "data for an exec id the monitor does not know");
	struct model_stream *s = &F.p[r->proc].s[r->stream - 1];
	log_debug("fuzz: %zu bytes at %llu (acked %llu, written %zu)", n,
		  (unsigned long long)h.offset, (unsigned long long)s->acked, s->n);
	FUZZ_ASSERT(n <= r->max_len, "%zu bytes for a read of %u", n, r->max_len);
	FUZZ_ASSERT(h.offset == s->sent, "offset %llu, %llu expected (ACKed %llu)",
		    (unsigned long long)h.offset, (unsigned long long)s->sent,
		    (unsigned long long)s->acked);
	FUZZ_ASSERT(h.offset + n <= s->n, "bytes [%llu, +%zu) beyond the %zu written",
		    (unsigned long long)h.offset, n, s->n);
	FUZZ_ASSERT(n == 0 || memcmp(msg->payload + sizeof(h), s->written + h.offset, n) == 0,
		    "%s %s: bytes at %llu differ from what the process wrote",
		    F.p[r->proc].exec_id[0] ? F.p[r->proc].exec_id : "init",
		    r->stream == 1 ? "stdout" : "stderr", (unsigned long long)h.offset);
	if (n == 0) {
		/* The end: the process closed its end and all it wrote came; or it
		 * exited and what it had written by then came (a background child
		 * may hold the pipe); a terminal has no stderr, and hangs up when
		 * stdin is closed. */
		const struct model_proc *p = &F.p[r->proc];
		bool closed = s->closed && h.offset == s->n;
		bool exited = p->exited && h.offset >= s->at_exit;
		bool tty_stderr = p->terminal && r->stream == 2;
		bool tty_hup = p->terminal && (p->in_closed || F.raw_seen);
		FUZZ_ASSERT(closed || exited || tty_stderr || tty_hup,
			    "EOF at %llu, %zu written (%zu at exit), end %s, process %s",
			    (unsigned long long)h.offset, s->n, s->at_exit,
			    s->closed ? "closed" : "open", p->exited ? "exited" : "running");
		s->eof_seen = true;
	}
	s->sent += n;
}

/* Read and check everything the monitor sent the front-end. */
static void frontend_read(void)
{
	for (;;) {
		struct ipc_msg msg;
		struct kerr e = { 0 };
		int r = ipc_recv(F.fe, &msg, &e);
		if (r == -EAGAIN || r == 0)
			return;
		FUZZ_ASSERT(r > 0, "the monitor sent the front-end a message it refuses: %s",
			    e.msg);
		struct req *q = req_find(msg.hdr.id);
		FUZZ_ASSERT(q, "%s with id %u answers nothing waiting", ipc_type_name(msg.hdr.type),
			    msg.hdr.id);
		uint32_t want = q->type == IPC_READ_STREAM_REQ    ? IPC_READ_STREAM_REPLY
				: q->type == IPC_WRITE_STDIN_REQ  ? IPC_WRITE_STDIN_REPLY
				: q->type == IPC_WAIT_PROCESS_REQ ? IPC_WAIT_PROCESS_REPLY
								  : IPC_OK;
		FUZZ_ASSERT(msg.hdr.type == want || msg.hdr.type == IPC_ERROR, "%s answers a %s",
			    ipc_type_name(msg.hdr.type), ipc_type_name(q->type));
		if (msg.hdr.type == IPC_READ_STREAM_REPLY)
			check_data(q, &msg);
		if (msg.hdr.type == IPC_WRITE_STDIN_REPLY) {
			struct ipc_stdio_written w;
			memcpy(&w, msg.payload, sizeof(w));
			FUZZ_ASSERT(w.len == q->wlen, "WRITTEN %llu for a write of %zu",
				    (unsigned long long)w.len, q->wlen);
		}
		if (msg.hdr.type == IPC_ERROR && q->type == IPC_WRITE_STDIN_REQ && q->proc >= 0 &&
		    q->wq_off != SIZE_MAX) {
			/* Refused or failed: its data is not (all) in the pipe; the
			 * model stops comparing stdin there. */
			struct model_proc *p = &F.p[q->proc];
			if (q->wq_off < p->wq_n)
				p->wq_n = q->wq_off;
		}
		ipc_msg_release(&msg);
		req_drop(q);
	}
}

static void fe_send(uint32_t type, const void *p, size_t len, int proc, unsigned stream,
		    uint32_t max_len, size_t wq_off, size_t wlen)
{
	uint32_t id = type == IPC_READ_STREAM_ACK ? 0 : ++F.next_id;
	struct kerr e = { 0 };
	if (ipc_send_fd(F.fe, type, id, p, len, -1, &e) < 0)
		return; /* a malformed request the fuzzer made: ipc_send refuses it */
	if (id && F.nreqs < MAX_REQS)
		F.reqs[F.nreqs++] = (struct req){ id, type, proc, stream, max_len, wq_off, wlen };
	else if (id)
		FUZZ_ASSERT(0, "more requests than the model tracks");
}

/* ---- the set-up ---- */

static int make_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	FUZZ_ASSERT(fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0, "O_NONBLOCK");
	return fd;
}

static void pair(int sv[2])
{
	FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0,
		    "socketpair: %s", strerror(errno));
}

/* Announce a process as the launcher does; the monitor must take it. */
static void add_process(unsigned i, const char *exec_id, bool terminal)
{
	struct model_proc *p = &F.p[i];
	memset(p, 0, sizeof(*p));
	p->exec_id = exec_id;
	p->terminal = terminal;
	int fds[4], nfds;
	fds[0] = (int)syscall(SYS_pidfd_open, F.child, 0);
	FUZZ_ASSERT(fds[0] >= 0, "pidfd_open: %s", strerror(errno));
	if (terminal) {
		int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		FUZZ_ASSERT(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0, "pty");
		int slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
		FUZZ_ASSERT(slave >= 0, "pty slave: %s", strerror(errno));
		struct termios t;
		tcgetattr(slave, &t);
		cfmakeraw(&t); /* bytes pass as they are: the model compares them */
		tcsetattr(slave, TCSANOW, &t);
		p->out[0] = p->in = make_nonblock(slave);
		p->out[1] = -1;
		p->s[1].closed = true;
		fds[1] = master;
		nfds = 2;
	} else {
		int in[2], out[2], err[2];
		FUZZ_ASSERT(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 &&
				    pipe2(err, O_CLOEXEC) == 0,
			    "pipes");
		p->in = make_nonblock(in[0]);
		p->out[0] = make_nonblock(out[1]);
		p->out[1] = make_nonblock(err[1]);
		fds[1] = in[1];
		fds[2] = out[0];
		fds[3] = err[0];
		nfds = 4;
	}
	struct ipc_process_add a = { .pid = F.child, .terminal = terminal };
	snprintf(a.exec_id, sizeof(a.exec_id), "%s", exec_id);
	struct kerr e = { 0 };
	FUZZ_ASSERT(ipc_send_fds(F.la, IPC_MON_PROCESS_ADD, 1, &a, sizeof(a), fds, (unsigned)nfds,
				 &e) == 0,
		    "%s", e.msg);
	for (int k = 0; k < nfds; k++)
		close(fds[k]);
	turn();
	struct ipc_msg msg = { 0 };
	FUZZ_ASSERT(ipc_recv(F.la, &msg, &e) == 1 && msg.hdr.type == IPC_OK,
		    "the monitor refused the process: %s",
		    msg.hdr.type == IPC_ERROR ? (const char *)msg.payload + 8 : e.msg);
	ipc_msg_release(&msg);
}

static void setup_once(void)
{
	struct kerr e = { 0 };
	signal(SIGPIPE, SIG_IGN);
	/* The processes' pid: a child of ours that waits to be killed. */
	F.child = fork();
	FUZZ_ASSERT(F.child >= 0, "fork");
	if (F.child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	FUZZ_ASSERT(loop_new(&F.m.loop, &e) == 0, "%s", e.msg);
	F.ready = true;
}

static void start(uint8_t flags)
{
	struct monitor *m = &F.m;
	struct kerr e = { 0 };
	snprintf(m->container_id, sizeof(m->container_id), CID);
	m->stream_buf = STREAM_BUF;
	m->sigfd = -1;
	m->shutting_down = false;
	m->live = 0;
	int ex[2], la[2], fe[2];
	pair(ex);
	pair(la);
	pair(fe);
	FUZZ_ASSERT(ipc_chan_new(&m->exec, m->loop, ex[0], "executor", IPC_ROLE_EXECUTOR,
				 executor_table, executor_closed, m, &e) == 0 &&
			    ipc_chan_new(&m->launcher, m->loop, la[0], "launcher", IPC_ROLE_LAUNCHER,
					 launcher_table, launcher_closed, m, &e) == 0 &&
			    frontend_attach(m, fe[0], &e) == 0,
		    "%s", e.msg);
	F.ex = make_nonblock(ex[1]);
	F.la = make_nonblock(la[1]);
	F.fe = make_nonblock(fe[1]);
	F.nreqs = 0;
	F.nprocs = 1;
	add_process(0, "", flags & 1);
	if (flags & 2) {
		add_process(1, "e1", flags & 4);
		F.nprocs = 2;
	}
}

static void stop(void)
{
	struct monitor *m = &F.m;
	mon_free_all(m);
	if (m->frontend)
		ipc_chan_free(m->frontend);
	if (m->launcher)
		ipc_chan_free(m->launcher);
	if (m->exec)
		ipc_chan_free(m->exec);
	m->frontend = m->launcher = m->exec = NULL;
	close(F.ex);
	close(F.la);
	close(F.fe);
	for (unsigned i = 0; i < F.nprocs; i++) {
		struct model_proc *p = &F.p[i];
		if (p->out[0] >= 0 && p->out[0] != p->in)
			close(p->out[0]);
		if (p->out[1] >= 0)
			close(p->out[1]);
		if (p->in >= 0)
			close(p->in);
		for (int k = 0; k < 2; k++)
			free(p->s[k].written);
		free(p->wq);
	}
}

/* ---- the actions ---- */

static int pick_proc(uint8_t b, const char **exec_id)
{
	unsigned i = b % 4;
	if (i < F.nprocs) {
		*exec_id = F.p[i].exec_id;
		return (int)i;
	}
	*exec_id = i == 3 ? "zz" : "e1";
	return F.nprocs > 1 && i == 2 ? 1 : -1;
}

/* An ACK offset for a stream of proc: mostly what a front-end sends, up
 * to what it received (0: all of it); else anything from the last ACK on. */
static uint64_t ack_offset(int proc, unsigned stream)
{
	uint8_t how = fuzz_u8(&F.in);
	uint16_t k = fuzz_u16(&F.in);
	if (proc < 0)
		return k;
	struct model_stream *s = &F.p[proc].s[stream - 1];
	uint64_t span = s->sent - s->acked;
	if (how & 0x80)
		return s->acked + k;
	return span ? s->acked + 1 + (k ? k % span : span - 1) : s->acked;
}

/* Taken when within what the monitor sent (proc.c mon_stream_ack): the
 * model's floor moves the same way. */
static void model_ack(int proc, unsigned stream, uint64_t offset)
{
	if (proc < 0)
		return;
	struct model_stream *s = &F.p[proc].s[stream - 1];
	if (offset > s->acked && offset <= s->sent)
		s->acked = offset;
}

/* A read, carrying an ACK half of the time (as the front-end's read-ahead
 * does; the monitor applies it first). */
static void act_read(void)
{
	struct ipc_stdio_read r = { 0 };
	const char *eid;
	int proc = pick_proc(fuzz_u8(&F.in), &eid);
	snprintf(r.exec_id, sizeof(r.exec_id), "%s", eid);
	r.stream = 1 + fuzz_u8(&F.in) % 2;
	r.max_len = 1 + fuzz_u16(&F.in) % IPC_STDIO_CHUNK;
	if (fuzz_u8(&F.in) & 1)
		r.ack = ack_offset(proc, r.stream);
	fe_send(IPC_READ_STREAM_REQ, &r, sizeof(r), proc, r.stream, r.max_len, 0, 0);
	model_ack(proc, r.stream, r.ack);
}

static void act_ack(void)
{
	struct ipc_stdio_ack a = { 0 };
	const char *eid;
	int proc = pick_proc(fuzz_u8(&F.in), &eid);
	snprintf(a.exec_id, sizeof(a.exec_id), "%s", eid);
	a.stream = 1 + fuzz_u8(&F.in) % 2;
	a.offset = ack_offset(proc, a.stream);
	fe_send(IPC_READ_STREAM_ACK, &a, sizeof(a), proc, a.stream, 0, 0, 0);
	model_ack(proc, a.stream, a.offset);
}

static void act_write(void)
{
	uint8_t buf[sizeof(struct ipc_stdio_write) + IPC_STDIO_CHUNK] = { 0 };
	const char *eid;
	int proc = pick_proc(fuzz_u8(&F.in), &eid);
	size_t n;
	const uint8_t *d = fuzz_bytes(&F.in, IPC_STDIO_CHUNK, &n);
	if (n == 0)
		return; /* the front-end never sends an empty write */
	snprintf((char *)buf, IPC_ID_MAX, "%s", eid);
	memcpy(buf + sizeof(struct ipc_stdio_write), d, n);
	size_t off = SIZE_MAX;
	if (proc >= 0) {
		struct model_proc *p = &F.p[proc];
		off = p->wq_n;
		append(&p->wq, &p->wq_n, &p->wq_cap, d, n);
	}
	fe_send(IPC_WRITE_STDIN_REQ, buf, sizeof(struct ipc_stdio_write) + n, proc, 0, 0, off, n);
}

static void act_exec_ref(uint32_t type)
{
	struct ipc_exec_ref x = { .container_id = CID };
	const char *eid;
	int proc = pick_proc(fuzz_u8(&F.in), &eid);
	if (fuzz_u8(&F.in) == 0xff)
		snprintf(x.container_id, sizeof(x.container_id), "other");
	snprintf(x.exec_id, sizeof(x.exec_id), "%s", eid);
	fe_send(type, &x, sizeof(x), proc, 0, 0, 0, 0);
	if (type == IPC_CLOSE_STDIN_REQ && proc >= 0 && !strcmp(x.container_id, CID)) {
		/* Writes still queued fail, and a terminal hangs up. */
		F.p[proc].in_closed = true;
	}
}

static void act_resize(void)
{
	struct ipc_tty_resize t = { 0 };
	const char *eid;
	int proc = pick_proc(fuzz_u8(&F.in), &eid);
	snprintf(t.exec_id, sizeof(t.exec_id), "%s", eid);
	t.rows = fuzz_u16(&F.in);
	t.cols = fuzz_u16(&F.in);
	fe_send(IPC_TTY_WIN_RESIZE_REQ, &t, sizeof(t), proc, 0, 0, 0, 0);
}

/* What the process writes: into the pipe (or the pty slave) as far as it
 * takes, the model gets what went in. */
static void act_output(void)
{
	struct model_proc *p = &F.p[fuzz_u8(&F.in) % F.nprocs];
	unsigned i = fuzz_u8(&F.in) % 2;
	size_t n;
	const uint8_t *d = fuzz_bytes(&F.in, 65536, &n);
	if (p->out[i] < 0 || p->s[i].closed || n == 0)
		return;
	ssize_t w = write(p->out[i], d, n);
	if (w > 0)
		append(&p->s[i].written, &p->s[i].n, &p->s[i].cap, d, (size_t)w);
}

static void act_close_output(void)
{
	struct model_proc *p = &F.p[fuzz_u8(&F.in) % F.nprocs];
	unsigned i = fuzz_u8(&F.in) % 2;
	if (p->terminal || p->out[i] < 0)
		return; /* a pty's slave is also its stdin: closed by act_hangup */
	close(p->out[i]);
	p->out[i] = -1;
	p->s[i].closed = true;
}

/* The process reads its stdin: in order, the data of the writes. */
static void act_read_stdin(void)
{
	struct model_proc *p = &F.p[fuzz_u8(&F.in) % F.nprocs];
	uint8_t buf[65536];
	if (p->in < 0)
		return;
	ssize_t r = read(p->in, buf, 1 + fuzz_u16(&F.in) % sizeof(buf));
	if (r <= 0 || F.raw_seen)
		return; /* a raw datagram may have written too */
	FUZZ_ASSERT(p->stdin_read + (size_t)r <= p->wq_n &&
			    memcmp(buf, p->wq + p->stdin_read, (size_t)r) == 0,
		    "stdin of %s: bytes at %zu are not what the front-end wrote",
		    p->exec_id[0] ? p->exec_id : "init", p->stdin_read);
	p->stdin_read += (size_t)r;
}

/* The process closes every end it has (exits, from its stdio's view). */
static void act_hangup(void)
{
	struct model_proc *p = &F.p[fuzz_u8(&F.in) % F.nprocs];
	for (unsigned i = 0; i < 2; i++)
		if (p->out[i] >= 0 && p->out[i] != p->in) {
			close(p->out[i]);
			p->out[i] = -1;
		}
	if (p->in >= 0)
		close(p->in);
	p->in = p->out[0] = p->out[1] = -1;
	p->s[0].closed = p->s[1].closed = true;
	p->in_closed = true; /* writes after this fail (EPIPE) */
}

/* What mon_reap does once waitid reports the process. */
static void act_exit(void)
{
	struct model_proc *p = &F.p[fuzz_u8(&F.in) % F.nprocs];
	struct mon_proc *mp = mon_proc_find(&F.m, p->exec_id);
	int status = fuzz_u8(&F.in);
	if (mp && !mp->exited) {
		p->exited = true;
		for (unsigned i = 0; i < 2; i++)
			p->s[i].at_exit = p->s[i].n;
		proc_exited(mp, status);
	}
}

/* The front-end restarts: the executor hands over a new channel; what was
 * not ACKed comes again, requests of the old one are forgotten. */
static void act_new_frontend(void)
{
	int fe[2];
	pair(fe);
	struct kerr e = { 0 };
	FUZZ_ASSERT(ipc_send_fd(F.ex, IPC_MON_NEW_FRONTEND, 0, NULL, 0, fe[0], &e) == 0, "%s",
		    e.msg);
	close(fe[0]);
	close(F.fe);
	F.fe = make_nonblock(fe[1]);
	F.nreqs = 0;
	for (unsigned i = 0; i < F.nprocs; i++)
		for (unsigned k = 0; k < 2; k++)
			F.p[i].s[k].sent = F.p[i].s[k].acked;
}

/* A datagram of any bytes from the front-end. A malformed one closes the
 * channel; a well-formed one may ACK, read, write or close what the model
 * does not know of. Either way the executor then hands over a new channel
 * (as after a front-end restart) and the model takes the ACKed offsets the
 * monitor has: what it sends from there on is checked as before; stdin and
 * a terminal's hang-up are no longer modelled. */
static void act_raw(void)
{
	size_t n;
	const uint8_t *b = fuzz_bytes(&F.in, IPC_HDR_LEN + IPC_STDIO_CHUNK + 256, &n);
	(void)send(F.fe, b, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	F.raw_seen = true;
	turn();
	for (unsigned i = 0; i < F.nprocs; i++) {
		struct mon_proc *mp = mon_proc_find(&F.m, F.p[i].exec_id);
		for (unsigned k = 0; mp && k < 2; k++)
			F.p[i].s[k].acked = mp->out[k].acked;
	}
	act_new_frontend();
}

static void act(uint8_t op)
{
	switch (op % 14) {
	case 0:
		act_read();
		break;
	case 1:
		act_ack();
		break;
	case 2:
		act_write();
		break;
	case 3:
		act_exec_ref(IPC_CLOSE_STDIN_REQ);
		break;
	case 4:
		act_resize();
		break;
	case 5:
		act_exec_ref(IPC_WAIT_PROCESS_REQ);
		break;
	case 6:
	case 7:
		act_output();
		break;
	case 8:
		act_close_output();
		break;
	case 9:
		act_read_stdin();
		break;
	case 10:
		act_hangup();
		break;
	case 11:
		act_exit();
		break;
	case 12:
		act_new_frontend();
		break;
	default:
		act_raw();
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!F.ready)
		setup_once();
	unsigned base = fuzz_open_fds();
	F.in = (struct fuzz_in){ data, size };
	F.raw_seen = false;
	start(fuzz_u8(&F.in));
	for (unsigned i = 0; i < MAX_ACTIONS && F.in.n; i++) {
		frontend_read();
		act(fuzz_u8(&F.in));
		turn();
	}
	frontend_read();
	stop();
	unsigned now = fuzz_open_fds();
	FUZZ_ASSERT(now == base, "%u fds open, %u before: a leak: %s", now, base, fuzz_fd_list());
	return 0;
}

/* ---- seeds ---- */

void fuzz_write_seeds(void)
{
	/* Ops: 0 read (proc, stream, u16 max_len-1), 1 ack (proc, stream, how,
	 * u16: how 0 and 0 = everything received), 2 write (proc, u16 len,
	 * bytes), 3 close stdin, 4 resize, 5 wait, 6 output (proc, stream, u16
	 * len, bytes), 8 close output, 9 read stdin, 10 hang up, 11 exit,
	 * 12 new front-end, 13 raw datagram. A read of 32 KiB as the runtime's
	 * readStdout asks (kata_agent.go: Len 32768) is 0xff 0x7f. */
	static const uint8_t pipes[] = {
		0x02, /* init (pipes) and e1 (pipes) */
		6,    0,   0,   12,   0,    'h', 'e',  'l', 'l',  'o',  ' ', 'w',
		'o',  'r', 'l', 'd',  '\n', 0,   0,    0,   0xff, 0x7f, /* read init stdout */
		1,    0,   0,   0,    0,    0,                          /* ACK all */
		2,    1,   3,   0,    'l',  's', '\n',                  /* write e1 stdin */
		9,    1,   0,   1,                                      /* e1 reads its stdin */
		6,    1,   1,   4,    0,    'e', 'r',  'r', '\n',       /* e1 stderr */
		0,    1,   1,   0xff, 0x0f,                             /* read e1 stderr */
		5,    1,   0,                                           /* wait e1 */
		8,    1,   1,                                           /* e1 closes stderr */
		0,    1,   1,   0xff, 0x0f,                             /* read: EOF */
		11,   1,   0,                                           /* e1 exits 0 */
		3,    0,   0,                                           /* close init stdin */
	};
	fuzz_seed("pipes", pipes, sizeof(pipes));
	static const uint8_t tty[] = {
		0x01,                                    /* init with a terminal */
		4,    0,    24,   0,    80,   0,         /* resize 24x80 */
		2,    0,    3,    0,    'i',  'd', '\r', /* write */
		9,    0,    0,    1,                     /* read stdin */
		6,    0,    0,    4,    0,    'u', 'i',  'd',  '\n', 0, 0,
		0,    0xff, 0x7f, 0,    0,    1,   0xff, 0x7f, /* stderr of a tty: EOF */
		10,   0,                                       /* hang up */
		0,    0,    0,    0xff, 0x7f, 5,   0,    0,    11,   0, 0, /* wait, exit 0 */
	};
	fuzz_seed("tty", tty, sizeof(tty));
	/* 3000 bytes, read 5, front-end restarts, read again from 0, ACK 1000,
	 * 3000 more (the 4 KiB ring wraps), read, ACK, then 8 KiB: more than
	 * the ring holds (backpressure), read what fits. */
	static uint8_t b[16384];
	size_t n = 0;
	static const uint8_t head[] = { 0x00, 6, 0, 0, 0xb8, 0x0b };
	memcpy(b, head, sizeof(head));
	n = sizeof(head);
	for (int i = 0; i < 3000; i++)
		b[n++] = (uint8_t)('a' + i % 26);
	static const uint8_t mid[] = { 0, 0, 0, 4, 0,    12,   0, 0, 0, 0xff, 0x7f,
				       1, 0, 0, 0, 0xe7, 0x03, 6, 0, 0, 0xb8, 0x0b };
	memcpy(b + n, mid, sizeof(mid));
	n += sizeof(mid);
	for (int i = 0; i < 3000; i++)
		b[n++] = (uint8_t)('A' + i % 26);
	static const uint8_t mid2[] = { 0, 0, 0, 0xff, 0x7f, 1, 0, 0, 0, 0, 0, 6, 0, 0, 0x00, 0x20 };
	memcpy(b + n, mid2, sizeof(mid2));
	n += sizeof(mid2);
	for (int i = 0; i < 8192; i++)
		b[n++] = (uint8_t)('0' + i % 10);
	static const uint8_t tail[] = { 0, 0, 0, 0xff, 0x7f, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0x7f };
	memcpy(b + n, tail, sizeof(tail));
	n += sizeof(tail);
	fuzz_seed("restart-wrap-backpressure", b, n);
	/* 3000 bytes read, 1000 ACKed, the front-end restarts: the new one
	 * gets them again from 1000. */
	n = sizeof(head) + 3000;
	static const uint8_t again[] = { 0, 0, 0, 0xff, 0x7f, 1, 0, 0, 0, 0xe7, 0x03, 12,
					 0, 0, 0, 0xff, 0x7f, 1, 0, 0, 0, 0,    0 };
	memcpy(b + n, again, sizeof(again));
	fuzz_seed("ack-then-restart", b, n + sizeof(again));
}
