/* SPDX-License-Identifier: Apache-2.0 */
/*
 * run.c - `kata-agent-ctl run BUNDLE` and `kata-agent-ctl exec ID -- CMD`:
 * what a shim does for one process, on one connection, single-threaded.
 *
 * After the process is started, ReadStdout, ReadStderr and WaitProcess stay
 * in flight together (plus at most one WriteStdin, CloseStdin, TtyWinResize
 * or SignalProcess), and poll() watches our stdin, the agent connection and
 * a signalfd. Responses are matched to requests by stream id. The session
 * ends when both output streams reached EOF (an empty ReadStream answer, or
 * an error) and WaitProcess answered; the exit status is the process's.
 *
 * With a terminal (--tty or process.terminal in the spec) the local
 * terminal is put in raw mode for the session, its size goes into
 * Process.ConsoleSize and every SIGWINCH becomes a TtyWinResize; stderr is
 * not read then (upstream serves ReadStderr from the same pty).
 * Without one, SIGINT/SIGTERM/SIGHUP are forwarded as SignalProcess.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "cleanup.h"
#include "ctl.h"
#include "grpc_status.h"
#include "pbjson.h"

#define SERVICE "grpc.AgentService"
/* Bytes asked for per ReadStdout/ReadStderr and sent per WriteStdin. */
#define IO_CHUNK (32u * 1024u)
/* After a lost connection: attempts, and the pause before each. */
#define RECONNECT_TRIES 100
#define RECONNECT_PAUSE_US 100000
#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct session {
	const struct opts *o;
	struct ttrpc_client *c;
	const char *cid;
	const char *eid; /* "" = the init process */
	bool tty;
	/* Stream ids of requests in flight, 0 = none. */
	uint32_t sid_out, sid_err, sid_wait, sid_in, sid_resize, sid_signal;
	bool out_eof, err_eof, exited, stdin_eof;
	bool resize_pending;
	int pending_signal;
	int status;
	bool stdout_broken, stderr_broken;
};

/* ---- requests ---- */

static int send_req(struct session *s, const char *method, const ProtobufCMessage *req,
		    uint32_t *sid)
{
	struct kerr err = { 0 };
	/* After a failed reconnect there is no client: the agent is gone, so
	 * the clean-up requests (RemoveContainer) fail here, not in a NULL. */
	if (!s->c) {
		fprintf(stderr, "kata-agent-ctl: sending %s: not connected to %s\n", method,
			s->o->addr);
		return -ENOTCONN;
	}
	size_t len = protobuf_c_message_get_packed_size(req);
	cleanup_free uint8_t *buf = malloc(len ? len : 1);
	if (!buf) {
		fprintf(stderr, "kata-agent-ctl: out of memory\n");
		return -ENOMEM;
	}
	protobuf_c_message_pack(req, buf);
	if (ttrpc_client_send(s->c, SERVICE, method, buf, len, 0, NULL, 0, sid, &err) < 0) {
		fprintf(stderr, "kata-agent-ctl: sending %s: %s\n", method, err.msg);
		return err.code;
	}
	return 0;
}

/*
 * One request and its answer; answers to other streams arriving meanwhile
 * are dropped (only used when nothing else matters any more, or nothing
 * else is in flight). Returns 0 and *resp (may be NULL for an Empty), or the
 * gRPC status (>0) with the message printed unless quiet_status matches, or
 * -1 on a transport failure.
 */
static int call_sync(struct session *s, const char *method, const ProtobufCMessage *req,
		     const ProtobufCMessageDescriptor *out, ProtobufCMessage **resp,
		     int quiet_status)
{
	struct kerr err = { 0 };
	uint32_t sid, got;
	if (resp)
		*resp = NULL;
	if (send_req(s, method, req, &sid) < 0)
		return -1;
	for (;;) {
		int status = 0;
		cleanup_free char *message = NULL;
		cleanup_free uint8_t *payload = NULL;
		size_t len = 0;
		if (ttrpc_client_recv(s->c, &got, &status, &message, &payload, &len, &err) < 0) {
			fprintf(stderr, "kata-agent-ctl: waiting for %s: %s\n", method, err.msg);
			return -1;
		}
		if (got != sid)
			continue;
		if (status != GRPC_OK) {
			if (status != quiet_status)
				fprintf(stderr, "kata-agent-ctl: %s: %s: %s\n", method,
					grpc_status_name(status), message ? message : "");
			return status;
		}
		if (resp && out) {
			*resp = protobuf_c_message_unpack(out, NULL, len, payload);
			if (!*resp) {
				fprintf(stderr, "kata-agent-ctl: %s: undecodable answer\n", method);
				return GRPC_INTERNAL;
			}
		}
		return 0;
	}
}

static int send_read(struct session *s, bool err_stream)
{
	Grpc__ReadStreamRequest r = GRPC__READ_STREAM_REQUEST__INIT;
	r.container_id = (char *)s->cid;
	r.exec_id = (char *)s->eid;
	r.len = IO_CHUNK;
	return send_req(s, err_stream ? "ReadStderr" : "ReadStdout", &r.base,
			err_stream ? &s->sid_err : &s->sid_out);
}

static int send_resize(struct session *s)
{
	struct winsize ws;
	s->resize_pending = false;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0)
		return 0;
	Grpc__TtyWinResizeRequest r = GRPC__TTY_WIN_RESIZE_REQUEST__INIT;
	r.container_id = (char *)s->cid;
	r.exec_id = (char *)s->eid;
	r.row = ws.ws_row;
	r.column = ws.ws_col;
	return send_req(s, "TtyWinResize", &r.base, &s->sid_resize);
}

static int send_signal(struct session *s)
{
	Grpc__SignalProcessRequest r = GRPC__SIGNAL_PROCESS_REQUEST__INIT;
	r.container_id = (char *)s->cid;
	r.exec_id = (char *)s->eid;
	r.signal = (uint32_t)s->pending_signal;
	s->pending_signal = 0;
	return send_req(s, "SignalProcess", &r.base, &s->sid_signal);
}

/* ---- the pump ---- */

static void write_all(int fd, const uint8_t *p, size_t n, bool *broken)
{
	while (n && !*broken) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			/* Keep draining the container so that it can finish. */
			*broken = true;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Our stdin is readable: forward a chunk, or announce its end. */
static int pump_stdin(struct session *s)
{
	uint8_t buf[IO_CHUNK];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		s->stdin_eof = true;
		Grpc__CloseStdinRequest r = GRPC__CLOSE_STDIN_REQUEST__INIT;
		r.container_id = (char *)s->cid;
		r.exec_id = (char *)s->eid;
		return send_req(s, "CloseStdin", &r.base, &s->sid_in);
	}
	Grpc__WriteStreamRequest r = GRPC__WRITE_STREAM_REQUEST__INIT;
	r.container_id = (char *)s->cid;
	r.exec_id = (char *)s->eid;
	r.data.data = buf;
	r.data.len = (size_t)n;
	return send_req(s, "WriteStdin", &r.base, &s->sid_in);
}

/* One answer from the agent. */
static int pump_response(struct session *s)
{
	struct kerr err = { 0 };
	uint32_t sid;
	int status = 0;
	cleanup_free char *message = NULL;
	cleanup_free uint8_t *payload = NULL;
	size_t len = 0;
	if (ttrpc_client_recv(s->c, &sid, &status, &message, &payload, &len, &err) < 0) {
		fprintf(stderr, "kata-agent-ctl: connection to the agent: %s\n", err.msg);
		return -1;
	}
	if (sid == s->sid_out || sid == s->sid_err) {
		bool is_err = sid == s->sid_err;
		*(is_err ? &s->sid_err : &s->sid_out) = 0;
		Grpc__ReadStreamResponse *r = NULL;
		if (status == GRPC_OK)
			r = grpc__read_stream_response__unpack(NULL, len, payload);
		if (!r || r->data.len == 0) {
			/* Empty data is EOF (as the Kata runtime reads it); an error
			 * ends the stream too, with a word if it is not "gone". */
			if (status != GRPC_OK && status != GRPC_NOT_FOUND)
				fprintf(stderr, "kata-agent-ctl: %s: %s: %s\n",
					is_err ? "ReadStderr" : "ReadStdout",
					grpc_status_name(status), message ? message : "");
			*(is_err ? &s->err_eof : &s->out_eof) = true;
		} else {
			write_all(is_err ? STDERR_FILENO : STDOUT_FILENO, r->data.data, r->data.len,
				  is_err ? &s->stderr_broken : &s->stdout_broken);
			if (send_read(s, is_err) < 0) {
				grpc__read_stream_response__free_unpacked(r, NULL);
				return -1;
			}
		}
		if (r)
			grpc__read_stream_response__free_unpacked(r, NULL);
	} else if (sid == s->sid_wait) {
		s->sid_wait = 0;
		s->exited = true;
		if (status != GRPC_OK) {
			fprintf(stderr, "kata-agent-ctl: WaitProcess: %s: %s\n",
				grpc_status_name(status), message ? message : "");
			s->status = EXIT_RUN_FAILED;
			return 0;
		}
		Grpc__WaitProcessResponse *w = grpc__wait_process_response__unpack(NULL, len,
										   payload);
		s->status = w ? w->status : EXIT_RUN_FAILED;
		if (w)
			grpc__wait_process_response__free_unpacked(w, NULL);
	} else if (sid == s->sid_in) {
		s->sid_in = 0;
		if (status != GRPC_OK) {
			/* The process closed its stdin or is gone: stop forwarding. */
			if (!s->exited && status != GRPC_NOT_FOUND)
				fprintf(stderr, "kata-agent-ctl: stdin: %s: %s\n",
					grpc_status_name(status), message ? message : "");
			s->stdin_eof = true;
		}
	} else if (sid == s->sid_resize) {
		s->sid_resize = 0;
		if (s->resize_pending)
			return send_resize(s);
	} else if (sid == s->sid_signal) {
		s->sid_signal = 0;
		if (status != GRPC_OK && status != GRPC_NOT_FOUND)
			fprintf(stderr, "kata-agent-ctl: SignalProcess: %s: %s\n",
				grpc_status_name(status), message ? message : "");
		if (s->pending_signal)
			return send_signal(s);
	}
	return 0;
}

static int pump_signal(struct session *s, int sigfd)
{
	struct signalfd_siginfo si;
	if (read(sigfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	if (si.ssi_signo == SIGWINCH) {
		s->resize_pending = true;
		return s->sid_resize ? 0 : send_resize(s);
	}
	s->pending_signal = (int)si.ssi_signo;
	return s->sid_signal ? 0 : send_signal(s);
}

/* (Re-)issue the long-lived requests: reads of the streams not at EOF yet
 * and the wait, unless already answered. */
static int pump_begin(struct session *s)
{
	Grpc__WaitProcessRequest w = GRPC__WAIT_PROCESS_REQUEST__INIT;
	w.container_id = (char *)s->cid;
	w.exec_id = (char *)s->eid;
	if (!s->out_eof && send_read(s, false) < 0)
		return -1;
	if (!s->err_eof && send_read(s, true) < 0)
		return -1;
	if (!s->exited && send_req(s, "WaitProcess", &w.base, &s->sid_wait) < 0)
		return -1;
	return 0;
}

/*
 * The connection broke (the agent's front-end restarts when it dies, and the
 * monitor keeps every byte the host did not receive): connect again for a
 * while and carry on. Output is exactly-once; a stdin chunk whose answer
 * was lost is not sent again (it may or may not have arrived).
 */
static int reconnect(struct session *s)
{
	ttrpc_client_free(s->c);
	s->c = NULL;
	s->sid_out = s->sid_err = s->sid_wait = s->sid_in = s->sid_resize = s->sid_signal = 0;
	for (int i = 0; i < RECONNECT_TRIES; i++) {
		struct kerr err = { 0 };
		usleep(RECONNECT_PAUSE_US);
		if (ttrpc_client_connect(&s->c, s->o->addr, 2000000000ull, &err) == 0) {
			fprintf(stderr, "kata-agent-ctl: reconnected to %s\n", s->o->addr);
			return pump_begin(s);
		}
	}
	fprintf(stderr, "kata-agent-ctl: could not reconnect to %s\n", s->o->addr);
	return -1;
}

/* Returns 0 once the process exited and its output is drained, -1 when the
 * connection failed for good. */
static int pump(struct session *s, int sigfd)
{
	if (s->tty)
		s->err_eof = true;
	if (pump_begin(s) < 0 || (s->tty && send_resize(s) < 0))
		return -1;

	while (!(s->out_eof && s->err_eof && s->exited)) {
		struct pollfd p[3] = {
			{ .fd = ttrpc_client_fd(s->c), .events = POLLIN },
			{ .fd = sigfd, .events = POLLIN },
			{ .fd = STDIN_FILENO, .events = POLLIN },
		};
		/* One stdin request at a time keeps the bytes in order and
		 * lets the container's pace hold back our reads. */
		nfds_t n = (!s->stdin_eof && !s->sid_in && !s->exited) ? 3 : 2;
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "kata-agent-ctl: poll: %s\n", strerror(errno));
			return -1;
		}
		/* Every failure here is the connection's. */
		if ((p[0].revents && pump_response(s) < 0) ||
		    (p[1].revents && pump_signal(s, sigfd) < 0) ||
		    (n == 3 && p[2].revents && pump_stdin(s) < 0)) {
			if (reconnect(s) < 0)
				return -1;
		}
	}
	return 0;
}

/* ---- terminal and signals ---- */

struct term {
	bool raw;
	struct termios saved;
	int sigfd;
	sigset_t oldmask;
};

static int term_setup(struct term *t, bool tty)
{
	sigset_t set;
	sigemptyset(&set);
	if (tty) {
		sigaddset(&set, SIGWINCH);
	} else {
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGHUP);
	}
	sigprocmask(SIG_BLOCK, &set, &t->oldmask);
	t->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (t->sigfd < 0) {
		fprintf(stderr, "kata-agent-ctl: signalfd: %s\n", strerror(errno));
		return -1;
	}
	if (tty && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &t->saved) == 0) {
		struct termios raw = t->saved;
		cfmakeraw(&raw);
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
			t->raw = true;
	}
	return 0;
}

static void term_restore(struct term *t)
{
	if (t->raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
	if (t->sigfd >= 0)
		close(t->sigfd);
	sigprocmask(SIG_SETMASK, &t->oldmask, NULL);
}

static void console_size(Grpc__Process *p, Grpc__Box *box)
{
	struct winsize ws;
	if (!isatty(STDIN_FILENO) || ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 || !ws.ws_row)
		return;
	box->height = ws.ws_row;
	box->width = ws.ws_col;
	if (!p->consolesize)
		p->consolesize = box;
}

/* Run the session of a started process; the exit code of the command. */
static int session_run(struct session *s)
{
	struct term t = { .sigfd = -1 };
	signal(SIGPIPE, SIG_IGN);
	if (term_setup(&t, s->tty) < 0) {
		term_restore(&t);
		return EXIT_RUN_FAILED;
	}
	int r = pump(s, t.sigfd);
	term_restore(&t);
	if (r < 0)
		return EXIT_RUN_FAILED;
	return s->status & 0xff;
}

static void make_id(char *buf, size_t size, const char *prefix)
{
	uint8_t rnd[6] = { 0 };
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		pid_t pid = getpid();
		memcpy(rnd, &pid, sizeof(pid));
	}
	snprintf(buf, size, "%s-%02x%02x%02x%02x%02x%02x", prefix, rnd[0], rnd[1], rnd[2], rnd[3],
		 rnd[4], rnd[5]);
}

/* ---- run ---- */

static int load_spec(const char *bundle, bool tty, Grpc__Spec **out)
{
	char path[PATH_MAX];
	json_error_t je;
	struct kerr err = { 0 };
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	json_t *j = json_load_file(path, 0, &je);
	if (!j) {
		fprintf(stderr, "kata-agent-ctl: %s: line %d: %s\n", path, je.line, je.text);
		return -1;
	}
	int r = oci_json_to_spec(j, out, &err);
	json_decref(j);
	if (r < 0) {
		fprintf(stderr, "kata-agent-ctl: %s: %s\n", path, err.msg);
		return -1;
	}
	Grpc__Spec *spec = *out;
	if (!spec->process) {
		fprintf(stderr, "kata-agent-ctl: %s: no \"process\"\n", path);
		return -1;
	}
	if (tty)
		spec->process->terminal = true;

	/* The agent resolves nothing relative to a bundle: give it the root
	 * as an absolute, resolved path. */
	if (!spec->root) {
		spec->root = malloc(sizeof(*spec->root));
		if (!spec->root)
			return -1;
		grpc__root__init(spec->root);
	}
	const char *rel = *spec->root->path ? spec->root->path : "rootfs";
	char joined[PATH_MAX], abs[PATH_MAX];
	if (rel[0] == '/')
		snprintf(joined, sizeof(joined), "%s", rel);
	else
		snprintf(joined, sizeof(joined), "%s/%s", bundle, rel);
	if (!realpath(joined, abs)) {
		fprintf(stderr, "kata-agent-ctl: root %s: %s\n", joined, strerror(errno));
		return -1;
	}
	char *dup = strdup(abs);
	if (!dup)
		return -1;
	if (spec->root->path != protobuf_c_empty_string)
		free(spec->root->path);
	spec->root->path = dup;
	return 0;
}

static void usage_run(void)
{
	fprintf(stderr, "Usage: kata-agent-ctl run BUNDLE [--id ID] [--tty] [--dry-run]\n");
}

struct run_opts {
	const char *id;
	bool tty, dry;
};

/* run's options up to the next operand: 0, or -1 on a bad one. */
static int run_options(int argc, char **argv, struct run_opts *r)
{
	static const struct option longopts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "tty", no_argument, NULL, 't' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "+i:tn", longopts, NULL)) != -1) {
		switch (ch) {
		case 'i':
			r->id = optarg;
			break;
		case 't':
			r->tty = true;
			break;
		case 'n':
			r->dry = true;
			break;
		default:
			return -1;
		}
	}
	return 0;
}

int cmd_run(const struct opts *o, int argc, char **argv)
{
	struct run_opts ro = { 0 };
	optind = 0;
	if (run_options(argc, argv, &ro) < 0 || optind >= argc) {
		usage_run();
		return EXIT_USAGE;
	}
	const char *bundle = argv[optind++];
	/* Options may follow BUNDLE too. */
	if (run_options(argc, argv, &ro) < 0) {
		usage_run();
		return EXIT_USAGE;
	}
	const char *id = ro.id;
	bool tty = ro.tty, dry = ro.dry;
	if (optind != argc) {
		usage_run();
		return EXIT_USAGE;
	}
	char idbuf[64];
	if (!id) {
		make_id(idbuf, sizeof(idbuf), "ctl");
		id = idbuf;
	}

	Grpc__Spec *spec = NULL;
	if (load_spec(bundle, tty, &spec) < 0) {
		if (spec)
			grpc__spec__free_unpacked(spec, NULL);
		return EXIT_RUN_FAILED;
	}
	Grpc__Box box = GRPC__BOX__INIT;
	if (spec->process->terminal)
		console_size(spec->process, &box);

	if (dry) {
		/* Show what would be sent, for checking a bundle's conversion. */
		Grpc__CreateContainerRequest cc = GRPC__CREATE_CONTAINER_REQUEST__INIT;
		cc.container_id = (char *)id;
		cc.exec_id = (char *)id;
		cc.oci = spec;
		struct kerr err = { 0 };
		json_t *j = pbjson_to_json(&cc.base, &err);
		char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
		if (text)
			puts(text);
		else
			fprintf(stderr, "kata-agent-ctl: %s\n", err.msg);
		free(text);
		json_decref(j);
		if (spec->process->consolesize == &box)
			spec->process->consolesize = NULL;
		grpc__spec__free_unpacked(spec, NULL);
		return text ? 0 : EXIT_RUN_FAILED;
	}

	/* The init goes by the container id, as the Kata runtime names it. */
	struct session s = { .o = o, .cid = id, .eid = id, .tty = spec->process->terminal };
	int ret = connect_agent(o, &s.c);
	if (ret) {
		if (spec->process->consolesize == &box)
			spec->process->consolesize = NULL;
		grpc__spec__free_unpacked(spec, NULL);
		return ret;
	}

	Grpc__CreateSandboxRequest sb = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	int st = call_sync(&s, "CreateSandbox", &sb.base, NULL, NULL, GRPC_ALREADY_EXISTS);
	Grpc__CreateContainerRequest cc = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	cc.container_id = (char *)id;
	cc.exec_id = (char *)id;
	cc.oci = spec;
	if (st == 0 || st == GRPC_ALREADY_EXISTS)
		st = call_sync(&s, "CreateContainer", &cc.base, NULL, NULL, -1);
	if (spec->process->consolesize == &box)
		spec->process->consolesize = NULL;
	grpc__spec__free_unpacked(spec, NULL);
	if (st != 0) {
		ttrpc_client_free(s.c);
		return EXIT_RUN_FAILED;
	}

	Grpc__StartContainerRequest sc = GRPC__START_CONTAINER_REQUEST__INIT;
	sc.container_id = (char *)id;
	if (call_sync(&s, "StartContainer", &sc.base, NULL, NULL, -1) != 0)
		ret = EXIT_RUN_FAILED;
	else
		ret = session_run(&s);

	/* The process has exited (or never started): nothing to kill. */
	Grpc__RemoveContainerRequest rc = GRPC__REMOVE_CONTAINER_REQUEST__INIT;
	rc.container_id = (char *)id;
	if (call_sync(&s, "RemoveContainer", &rc.base, NULL, NULL, -1) != 0 && ret == 0)
		ret = EXIT_RUN_FAILED;
	ttrpc_client_free(s.c);
	return ret;
}

/* ---- exec ---- */

static void usage_exec(void)
{
	fprintf(stderr, "Usage: kata-agent-ctl exec ID [--tty] -- CMD [ARG...]\n");
}

int cmd_exec(const struct opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tty", no_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	bool tty = false;
	int ch;
	optind = 0;
	/* Permuting: ID may come before or after --tty; "--" ends options. */
	while ((ch = getopt_long(argc, argv, "t", longopts, NULL)) != -1) {
		if (ch != 't') {
			usage_exec();
			return EXIT_USAGE;
		}
		tty = true;
	}
	if (argc - optind < 2) {
		usage_exec();
		return EXIT_USAGE;
	}
	const char *cid = argv[optind++];
	char eid[64];
	make_id(eid, sizeof(eid), "exec");

	char *env[] = { (char *)DEFAULT_PATH };
	Grpc__User user = GRPC__USER__INIT;
	Grpc__Box box = GRPC__BOX__INIT;
	Grpc__Process p = GRPC__PROCESS__INIT;
	p.terminal = tty;
	p.user = &user;
	p.n_args = (size_t)(argc - optind);
	p.args = argv + optind;
	p.n_env = 1;
	p.env = env;
	p.cwd = (char *)"/";
	if (tty)
		console_size(&p, &box);

	struct session s = { .o = o, .cid = cid, .eid = eid, .tty = tty };
	int ret = connect_agent(o, &s.c);
	if (ret)
		return ret;
	Grpc__ExecProcessRequest req = GRPC__EXEC_PROCESS_REQUEST__INIT;
	req.container_id = (char *)cid;
	req.exec_id = eid;
	req.process = &p;
	if (call_sync(&s, "ExecProcess", &req.base, NULL, NULL, -1) != 0)
		ret = EXIT_RUN_FAILED;
	else
		ret = session_run(&s);
	ttrpc_client_free(s.c);
	return ret;
}
