/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kata-agent-frontend - the only process that touches the untrusted socket.
 *
 * Started by kata-agent (as root, so that it can confine itself) with:
 *   fd 3  the listening socket (the parent keeps it across restarts)
 *   fd 4  its SOCK_SEQPACKET channel to the executor
 *   fd 5  with --passfd-fd 5: the fd-passthrough stdio listener
 *         (agent.passfd_listener_port; passfd.c)
 * and everything else it needs on argv (ids, log level, allowed endpoints):
 * after confinement it cannot open a file.
 *
 * Sequence: parse argv, check the fds, confine (common/confine.c), then one event
 * loop with the ttRPC server (rpc.c) and the executor channel
 * (executor.c).
 *
 * SIGTERM/SIGINT (the parent stopping the agent) arrive through a signalfd
 * made before confinement: calls that would wait indefinitely (GetOOMEvent)
 * fail UNAVAILABLE "the agent is shutting down" at once, and the process
 * exits shortly after, once those answers are written.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "cleanup.h"
#include "cli.h"
#include "config.h"
#include "confine.h"
#include "endpoints.h"
#include "frontend.h"
#include "log.h"
#include "number.h"
#include "relro.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kata-agent-frontend [OPTIONS]\n"
		"The unprivileged ttRPC front-end of kata-agent; started by kata-agent, not by hand.\n\n"
		"  --listen-fd N       listening socket (default 3)\n"
		"  --executor-fd N     SOCK_SEQPACKET channel to the executor (default 4)\n"
		"  --passfd-fd N       fd-passthrough stdio listener (default: none)\n"
		"  --passfd-direct     agent.passfd_direct: a process without a terminal gets\n"
		"                      its stdout/stderr streams as its own fds (executor)\n"
		"  --uid N, --gid N    ids to run as after confinement (default 65534, not 0)\n"
		"  --log-level LEVEL   critical|error|warn|info|debug (default info)\n"
		"  --endpoints LIST    comma-separated request types allowed on\n"
		"                      grpc.AgentService (absent: all; empty: none)\n"
		"  --generation N      start count given by the parent, for logs\n"
		"  --vsock-peer-cids L vsock peers served: \"any\" or CIDs \"2,1\" (default 2,\n"
		"                      the host; agent.vsock_peer_cids)\n"
		"  --trace             log a \"span\" line per RPC (agent.trace)\n"
		"  --version           print the version and exit\n"
		"  --help              print this help and exit\n");
}

/* Log vsock refusals at most once a second, with the count since. */
#define PEER_LOG_NS (1000ull * 1000 * 1000)

/* The ttRPC server's peer filter: vsock peers must have an allowed CID (by
 * default only the host: a container or any other guest process reaching
 * vsock is refused). Unix peers pass: the socket's mode (0600) decides. */
static bool peer_allowed(const struct sockaddr *sa, socklen_t len, void *data)
{
	struct frontend *fe = data;
	if (sa->sa_family != AF_VSOCK || len < sizeof(struct sockaddr_vm))
		return sa->sa_family != AF_VSOCK;
	const struct sockaddr_vm *vm = (const struct sockaddr_vm *)sa;
	if (options_peer_cid_allowed(&fe->policy, vm->svm_cid))
		return true;
	fe->peers_refused++;
	uint64_t now = loop_now_ns();
	if (!fe->peer_refusal_logged || now - fe->peer_refusal_logged >= PEER_LOG_NS) {
		char cids[AGENT_MAX_PEER_CIDS * 12];
		options_format_peer_cids(&fe->policy, cids, sizeof(cids));
		json_t *f = json_pack("{s:I,s:I,s:I}", "peer-cid", (json_int_t)vm->svm_cid,
				      "peer-port", (json_int_t)vm->svm_port, "refused",
				      (json_int_t)fe->peers_refused);
		log_fields(LOG_LVL_WARN, f,
			   "vsock connection from CID %u refused: only CID %s may connect "
			   "(agent.vsock_peer_cids); %lu refused since the last such line",
			   vm->svm_cid, cids, fe->peers_refused);
		fe->peers_refused = 0;
		fe->peer_refusal_logged = now;
	}
	return false;
}

/* Time the failed calls get to reach their clients before we exit. */
#define STOP_FLUSH_NS (200 * 1000 * 1000ull)

static void on_stop_timer(struct loop *l, void *data)
{
	loop_quit(l);
}

static void on_signal(struct loop *l, int fd, uint32_t events, void *data)
{
	struct frontend *fe = data;
	struct signalfd_siginfo si;
	bool stop = false;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		stop |= si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT;
	if (!stop || fe->stopping)
		return;
	fe->stopping = true;
	log_info("asked to stop: failing waiting calls");
	oom_client_stop(fe, "the agent is shutting down");
	if (!loop_timer_add(l, loop_now_ns() + STOP_FLUSH_NS, on_stop_timer, fe))
		loop_quit(l);
}

static int check_fds(int listen_fd, int executor_fd, struct kerr *err)
{
	struct stat st;
	int v = 0;
	socklen_t len = sizeof(v);
	if (fstat(listen_fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return kerr_set(err, -EBADF,
				"no listening socket on fd %d (run kata-agent instead)", listen_fd);
	if (getsockopt(listen_fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || !v)
		return kerr_set(err, -EINVAL, "fd %d is not a listening socket", listen_fd);
	int fl = fcntl(listen_fd, F_GETFL);
	if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return kerr_set(err, -errno, "listening socket: O_NONBLOCK: %s", strerror(errno));
	len = sizeof(v);
	if (fstat(executor_fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(executor_fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0 || v != SOCK_SEQPACKET)
		return kerr_set(err, -EBADF, "no SOCK_SEQPACKET executor channel on fd %d",
				executor_fd);
	if (fcntl(listen_fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(executor_fd, F_SETFD, FD_CLOEXEC) < 0)
		return kerr_set(err, -errno, "FD_CLOEXEC: %s", strerror(errno));
	return 0;
}

static const struct option longopts[] = {
	{ "listen-fd", required_argument, NULL, 'L' },
	{ "executor-fd", required_argument, NULL, 'E' },
	{ "passfd-fd", required_argument, NULL, 'P' },
	{ "passfd-direct", no_argument, NULL, 'D' },
	{ "uid", required_argument, NULL, 'u' },
	{ "gid", required_argument, NULL, 'g' },
	{ "log-level", required_argument, NULL, 'l' },
	{ "endpoints", required_argument, NULL, 'e' },
	{ "trace", no_argument, NULL, 'T' },
	{ "generation", required_argument, NULL, 'G' },
	{ "vsock-peer-cids", required_argument, NULL, 'C' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The command line's settings that are not in struct frontend. */
struct start {
	unsigned long listen_fd, executor_fd, passfd_fd, uid, gid;
	enum log_level level;
	bool trace; /* agent.trace: a span line per RPC */
};

/* The command line into fe and s: -1 to go on, else the status to exit
 * with (0 after --version or --help, 2 on a bad option). */
static int parse_options(int argc, char **argv, struct frontend *fe, struct start *s)
{
	unsigned long gen = 0;
	int o, bad = 0;
	while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (o) {
		case 'L':
			bad = number_parse_ulong(optarg, 1024, &s->listen_fd);
			break;
		case 'E':
			bad = number_parse_ulong(optarg, 1024, &s->executor_fd);
			break;
		case 'P':
			bad = number_parse_ulong(optarg, 1024, &s->passfd_fd);
			break;
		case 'u':
			bad = number_parse_ulong(optarg, 0xfffffffe, &s->uid);
			break;
		case 'g':
			bad = number_parse_ulong(optarg, 0xfffffffe, &s->gid);
			break;
		case 'G':
			bad = number_parse_ulong(optarg, 0xffffffff, &gen);
			break;
		case 'l':
			bad = log_level_parse(optarg, &s->level);
			break;
		case 'e':
			bad = endpoints_parse_list(&fe->policy, optarg);
			break;
		case 'C':
			bad = options_parse_peer_cids(&fe->policy, optarg) ? -EINVAL : 0;
			break;
		case 'T':
			s->trace = true;
			break;
		case 'D':
			fe->passfd_direct = true;
			break;
		default:
			return cli_other_option(o, "kata-agent-frontend", usage);
		}
		if (bad) {
			return cli_bad_value("kata-agent-frontend", optarg);
		}
	}
	if (optind != argc || s->listen_fd == s->executor_fd ||
	    (s->passfd_fd && (s->passfd_fd < 3 || s->passfd_fd == s->listen_fd ||
			      s->passfd_fd == s->executor_fd))) {
		usage(stderr);
		return 2;
	}
	fe->generation = (unsigned)gen;
	return -1;
}

/* SIGTERM and SIGINT through a signalfd, before confinement: signalfd4 is
 * not in the seccomp allow-list. */
static int take_signals(int *sigfd)
{
	static const int signals[] = { SIGTERM, SIGINT };
	struct kerr err = { 0 };
	if ((*sigfd = loop_signalfd(signals, 2, &err)) < 0) {
		log_error("%s", err.msg);
		return -1;
	}
	return 0;
}

/* The loop with the signals, the executor's channel, the passfd listener
 * and the ttRPC server. */
static int start_serving(struct frontend *fe, const struct start *s, int sigfd)
{
	struct kerr err = { 0 };
	if (loop_new(&fe->loop, &err) < 0 ||
	    loop_add(fe->loop, sigfd, EPOLLIN, on_signal, fe, &err) < 0 ||
	    executor_start(fe, (int)s->executor_fd, &err) < 0 ||
	    (s->passfd_fd && passfd_start(fe, (int)s->passfd_fd, &err) < 0) ||
	    ttrpc_server_new(&fe->server, fe->loop, (int)s->listen_fd, rpc_dispatch, fe, &err) < 0) {
		log_error("front-end start: %s", err.msg);
		return -1;
	}
	ttrpc_server_set_trace(fe->server, s->trace);
	ttrpc_server_set_peer_filter(fe->server, peer_allowed, fe);
	return 0;
}

static void frontend_free(struct frontend *fe, int sigfd)
{
	ttrpc_server_free(fe->server);
	passfd_stop(fe);
	executor_stop(fe);
	loop_del(fe->loop, sigfd);
	close(sigfd);
	loop_free(fe->loop);
	options_free(&fe->policy);
}

int main(int argc, char **argv)
{
	struct start s = { .listen_fd = 3,
			   .executor_fd = 4,
			   .uid = 65534,
			   .gid = 65534,
			   .level = LOG_LVL_INFO };
	struct frontend fe = { 0 };
	/* On musl (-Dmusl_daemons) a static PIE: its relocated data is
	 * writable until sealed (relro.h); a no-op on glibc. */
	if (relro_seal() < 0) {
		perror("kata-agent-frontend: make the relocated data read-only");
		return 1;
	}
	options_init_defaults(&fe.policy);
	int r = parse_options(argc, argv, &fe, &s);
	if (r >= 0)
		return r;
	fe.passfd_listen = -1;
	log_init("frontend", STDERR_FILENO, s.level);
	signal(SIGPIPE, SIG_IGN);
	pid_t parent = getppid();

	struct kerr err = { 0 };
	int sigfd = -1;
	if (check_fds((int)s.listen_fd, (int)s.executor_fd, &err) < 0) {
		log_error("%s", err.msg);
		return 1;
	}
	if (take_signals(&sigfd) < 0)
		return 1;
	/* Nothing untrusted has been read yet; from here on nothing privileged
	 * can be done. */
	if (confine_self(&confine_frontend, (uid_t)s.uid, (gid_t)s.gid, parent, &err) < 0) {
		log_error("%s", err.msg);
		return 1;
	}
	log_info("front-end #%u confined: uid %lu gid %lu, no capabilities, empty root, "
		 "seccomp allow-list",
		 fe.generation, s.uid, s.gid);
	if (start_serving(&fe, &s, sigfd) < 0)
		return 1;
	log_info("front-end #%u serving ttRPC", fe.generation);
	r = loop_run(fe.loop, &err);
	if (r < 0)
		log_error("event loop: %s", err.msg);
	frontend_free(&fe, sigfd);
	return r < 0 ? 1 : 0;
}
