/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kata-agent - the small privileged parent. It reads the options, creates
 * the listening socket and the socketpairs, starts kata-agent-executor and
 * kata-agent-frontend, and supervises them:
 *
 *  - a front-end that dies is logged and replaced by a new one on the SAME
 *    listening socket, with a fresh socketpair whose executor end goes to
 *    the running executor over the control channel (CTL_NEW_FRONTEND);
 *    restarts back off when the front-end keeps dying;
 *  - an executor that dies ends the agent (on_executor_death());
 *  - the policy process (kata-agent-policy) starts at boot only when a
 *    policy is in force (the policy file, initdata's policy.rego);
 *    otherwise when the executor asks for one (CTL_START_POLICY: the first
 *    SetPolicy). Once started it is restarted whenever it dies;
 *  - SIGTERM/SIGINT, and the executor's CTL_SANDBOX_DESTROYED (DestroySandbox
 *    answered), stop both children and exit 0;
 *  - as child subreaper it reaps every orphan that lands on it;
 *  - before any of them serves, it reads initdata (initdata_boot.h) and
 *    launches the confidential guest components (guest_components.h): the
 *    front-end starts once they are up, as upstream's ttRPC server does.
 *
 * It never reads from the untrusted socket: it only creates it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libc_compat.h"
#include "cleanup.h"
#include "cli.h"
#include "config.h"
#include "debug_console.h"
#include "endpoints.h"
#include "guest_components.h"
#include "helper_path.h"
#include "number.h"
#include "process_opts.h"
#include "initdata_boot.h"
#include "kernel_check.h"
#include "ipc.h"
#include "log.h"
#include "loop.h"
#include "log_sink.h"
#include "init.h"
#include "options.h"
#include "policy_source.h"
#include "relro.h"
#include "teardown.h"
#include "transport.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull

/* More than RESTART_BURST front-end deaths within RESTART_WINDOW: wait
 * before the next start, doubling from BACKOFF_MIN up to BACKOFF_MAX. A
 * broken front-end then costs a log line per BACKOFF_MAX, not a busy loop. */
#define RESTART_BURST 5
#define RESTART_WINDOW_NS (10 * NS_PER_S)
#define BACKOFF_MIN_NS (1 * NS_PER_S)
#define BACKOFF_MAX_NS (30 * NS_PER_S)
/* Grace between SIGTERM and SIGKILL at shutdown. */
#define STOP_GRACE_NS (5 * NS_PER_S)

#define DEFAULT_FRONTEND_ID 65534

struct parent {
	struct loop *loop;
	struct agent_options opts;
	/* The helpers' binaries, malloc'd: four PATH_MAX arrays here were 16
	 * KiB of the stack PID 1 keeps for the pod's life (main's frame). */
	char *executor_path, *frontend_path, *monitor_path, *policy_path;
	/* Passed to the executor for the container path. */
	const char *shared_dir, *cgroup_parent;
	const char *pause_bundle; /* the guest image's pause bundle (guest pull) */
	unsigned long mon_uid, mon_gid;
	char *endpoints; /* comma-joined allowed list, NULL = unrestricted */
	unsigned long fe_uid, fe_gid;
	bool pid1;
	pid_t self;
	int listen_fd;
	int sigfd;
	struct addr addr;
	/* fd-passthrough stdio listener (agent.passfd_listener_port, or
	 * --passfd-addr stand-alone), -1 when none: each front-end's fd 5 */
	int passfd_fd;
	const char *passfd_addr_arg;
	struct addr passfd_addr;

	pid_t executor_pid;
	bool executor_unclean; /* it died, or had to be killed: teardown.h */
	struct ipc_chan *ctl;  /* control channel to the executor */

	pid_t frontend_pid;
	unsigned generation;
	uint64_t frontend_started;
	uint64_t deaths[RESTART_BURST]; /* ring of recent death times */
	unsigned n_deaths;
	uint64_t backoff;
	struct loop_timer *restart_timer;

	bool stopping;
	int exit_code;
	struct loop_timer *kill_timer;

	/* The policy process: started at boot with a policy in force, else
	 * on the executor's CTL_START_POLICY; then restarted whenever it dies
	 * (its state is the executor's). The policy in force at start. */
	pid_t policy_pid;
	unsigned policy_gen;
	uint64_t policy_started;
	struct loop_timer *policy_timer;
	struct policy_source policy;

	struct log_sink *sink;    /* agent.log_vport, else NULL */
	struct debug_console *dc; /* agent.debug_console, else NULL */

	struct initdata_boot initdata; /* what initdata gave at start */
	struct guest_components *gc;   /* launched components, else NULL */
	bool served;                   /* it got as far as its event loop */
};

/* ---- helpers ---- */

static const char *signame(int sig)
{
	const char *s = sigabbrev_np(sig);
	return s ? s : "?";
}

/* Log how a child ended, as one line with machine-readable fields. */
static void log_exit(enum log_level lvl, const char *role, pid_t pid, int status, uint64_t lived_ns,
		     unsigned generation)
{
	json_t *f = json_object();
	/* The field uses the process names of the start lines ("frontend"). */
	json_object_set_new(f, "child", json_string(strcmp(role, "front-end") ? role : "frontend"));
	json_object_set_new(f, "child-pid", json_integer(pid));
	if (generation)
		json_object_set_new(f, "generation", json_integer(generation));
	json_object_set_new(f, "uptime-ms", json_integer((json_int_t)(lived_ns / NS_PER_MS)));
	if (WIFEXITED(status)) {
		json_object_set_new(f, "exit-status", json_integer(WEXITSTATUS(status)));
		log_fields(lvl, f, "%s (pid %d) exited with status %d", role, (int)pid,
			   WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		json_object_set_new(f, "signal", json_integer(WTERMSIG(status)));
		log_fields(lvl, f, "%s (pid %d) killed by signal %d (SIG%s)%s", role, (int)pid,
			   WTERMSIG(status), signame(WTERMSIG(status)),
			   WCOREDUMP(status) ? ", core dumped" : "");
	} else {
		log_fields(lvl, f, "%s (pid %d) ended with wait status 0x%x", role, (int)pid,
			   status);
	}
}

/*
 * fork + exec path with src[i] as fd 3+i (close-on-exec cleared on those
 * only) and every other fd above 2 closed. The child gets the default
 * signal mask and dispositions back, and dies with the parent.
 */
static pid_t spawn(struct parent *p, const char *path, char *const argv[], const int *src, int n,
		   struct kerr *err)
{
	pid_t pid = fork();
	if (pid < 0)
		return kerr_set(err, -errno, "fork for %s: %s", path, strerror(errno));
	if (pid > 0)
		return pid;

	loop_signals_unblock();
	signal(SIGPIPE, SIG_DFL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != p->self)
		_exit(127);
	/* agent.log_vport: every line a child writes goes through the sink. */
	if (p->sink && (dup2(log_sink_child_fd(p->sink), STDOUT_FILENO) < 0 ||
			dup2(log_sink_child_fd(p->sink), STDERR_FILENO) < 0))
		_exit(127);
	int tmp[8];
	/* Move the sources above the targets first so no dup2 clobbers a
	 * source that happens to sit on a target number. */
	for (int i = 0; i < n; i++) {
		tmp[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3 + n);
		if (tmp[i] < 0)
			_exit(127);
	}
	for (int i = 0; i < n; i++)
		if (dup2(tmp[i], 3 + i) < 0)
			_exit(127);
	close_range(3 + n, ~0U, 0);
	execv(path, argv);
	dprintf(STDERR_FILENO, "kata-agent: exec %s: %s\n", path, strerror(errno));
	_exit(127);
}

/* ---- shutdown ---- */

static void maybe_done(struct parent *p)
{
	if (p->stopping && !p->executor_pid && !p->frontend_pid && !p->policy_pid &&
	    !guest_components_alive(p->gc))
		loop_quit(p->loop);
}

static void on_kill_timer(struct loop *l, void *data)
{
	struct parent *p = data;
	p->kill_timer = NULL;
	if (p->frontend_pid) {
		log_warn("front-end (pid %d) still alive after SIGTERM: SIGKILL",
			 (int)p->frontend_pid);
		kill(p->frontend_pid, SIGKILL);
	}
	if (p->executor_pid) {
		log_warn("executor (pid %d) still alive after SIGTERM: SIGKILL",
			 (int)p->executor_pid);
		kill(p->executor_pid, SIGKILL);
	}
	if (p->policy_pid)
		kill(p->policy_pid, SIGKILL);
	if (guest_components_alive(p->gc)) {
		log_warn("guest components still alive after SIGTERM: SIGKILL");
		guest_components_kill(p->gc);
	}
}

static void begin_shutdown(struct parent *p, int code, const char *why)
{
	if (p->stopping)
		return;
	p->stopping = true;
	p->exit_code = code;
	log_info("shutting down: %s", why);
	if (p->restart_timer) {
		loop_timer_cancel(p->loop, p->restart_timer);
		p->restart_timer = NULL;
	}
	if (p->policy_timer) {
		loop_timer_cancel(p->loop, p->policy_timer);
		p->policy_timer = NULL;
	}
	if (p->frontend_pid)
		kill(p->frontend_pid, SIGTERM);
	if (p->executor_pid)
		kill(p->executor_pid, SIGTERM);
	if (p->policy_pid)
		kill(p->policy_pid, SIGTERM);
	guest_components_stop(p->gc);
	if (p->frontend_pid || p->executor_pid || p->policy_pid || guest_components_alive(p->gc))
		p->kill_timer = loop_timer_add(p->loop, loop_now_ns() + STOP_GRACE_NS,
					       on_kill_timer, p);
	maybe_done(p);
}

/*
 * The executor is gone: nothing can be executed any more, so the agent
 * stops with status 1. Stand-alone its supervisor decides what next; as
 * PID 1, main's return goes through the exit hook init_early() registered,
 * which syncs and powers the VM off (a PID 1 that exits panics the kernel).
 */
static void on_executor_death(struct parent *p)
{
	begin_shutdown(p, 1, "the executor died");
}

/* ---- the front-end ---- */

static void start_frontend(struct parent *p);

static void on_restart_timer(struct loop *l, void *data)
{
	struct parent *p = data;
	p->restart_timer = NULL;
	start_frontend(p);
}

/* Start again now, or later if it keeps dying. */
static void schedule_frontend(struct parent *p)
{
	uint64_t now = loop_now_ns();
	unsigned slot = p->n_deaths % RESTART_BURST;
	uint64_t oldest = p->deaths[slot]; /* the death RESTART_BURST ago */
	p->deaths[slot] = now;
	p->n_deaths++;
	uint64_t delay = 0;
	if (p->n_deaths > RESTART_BURST && now - oldest < RESTART_WINDOW_NS) {
		delay = p->backoff;
		p->backoff = p->backoff * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : p->backoff * 2;
	} else {
		p->backoff = BACKOFF_MIN_NS;
	}
	if (!delay) {
		log_info("restarting the front-end");
		start_frontend(p);
		return;
	}
	log_warn("front-end died %d times within %llu s: next start in %llu ms", RESTART_BURST + 1,
		 (unsigned long long)(RESTART_WINDOW_NS / NS_PER_S),
		 (unsigned long long)(delay / NS_PER_MS));
	p->restart_timer = loop_timer_add(p->loop, now + delay, on_restart_timer, p);
}

static void start_frontend(struct parent *p)
{
	struct kerr err = { 0 };
	if (p->stopping)
		return;
	if (!p->ctl) {
		log_error("cannot start a front-end: no control channel to the executor");
		return;
	}
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		log_error("front-end socketpair: %s", strerror(errno));
		schedule_frontend(p);
		return;
	}
	cleanup_close int fe_end = sp[0];
	cleanup_close int ex_end = sp[1];
	unsigned gen = p->generation + 1;

	char uid[16], gid[16], genbuf[16];
	snprintf(uid, sizeof(uid), "%lu", p->fe_uid);
	snprintf(gid, sizeof(gid), "%lu", p->fe_gid);
	snprintf(genbuf, sizeof(genbuf), "%u", gen);
	char cids[AGENT_MAX_PEER_CIDS * 12];
	options_format_peer_cids(&p->opts, cids, sizeof(cids));
	char *argv[26];
	int a = 0;
	argv[a++] = (char *)"kata-agent-frontend";
	argv[a++] = (char *)"--listen-fd";
	argv[a++] = (char *)"3";
	argv[a++] = (char *)"--executor-fd";
	argv[a++] = (char *)"4";
	argv[a++] = (char *)"--uid";
	argv[a++] = uid;
	argv[a++] = (char *)"--gid";
	argv[a++] = gid;
	argv[a++] = (char *)"--log-level";
	argv[a++] = (char *)log_level_name(p->opts.log_level);
	argv[a++] = (char *)"--generation";
	argv[a++] = genbuf;
	argv[a++] = (char *)"--vsock-peer-cids";
	argv[a++] = cids;
	if (p->endpoints) {
		argv[a++] = (char *)"--endpoints";
		argv[a++] = p->endpoints;
	}
	if (p->opts.tracing)
		argv[a++] = (char *)"--trace";
	if (p->passfd_fd >= 0) {
		argv[a++] = (char *)"--passfd-fd";
		argv[a++] = (char *)"5";
		if (p->opts.passfd_direct)
			argv[a++] = (char *)"--passfd-direct";
	}
	argv[a] = NULL;

	int fds[3] = { p->listen_fd, fe_end, p->passfd_fd };
	pid_t pid = spawn(p, p->frontend_path, argv, fds, p->passfd_fd >= 0 ? 3 : 2, &err);
	if (pid < 0) {
		log_error("starting the front-end: %s", err.msg);
		schedule_frontend(p);
		return;
	}
	p->generation = gen;
	p->frontend_pid = pid;
	p->frontend_started = loop_now_ns();
	/* Handed over after the fork, so that it can carry the front-end's pid
	 * (GetMetrics); what the front-end sends meanwhile waits in the
	 * socket. Its end closes when we return: a front-end whose channel
	 * never reached the executor sees EOF and exits, and is restarted. */
	struct ipc_ctl_new_frontend n = { .generation = gen, .frontend_pid = pid };
	if (ipc_chan_send(p->ctl, IPC_CTL_NEW_FRONTEND, 0, &n, sizeof(n), ex_end, &err) < 0) {
		log_error("handing the executor its front-end channel: %s", err.msg);
		kill(pid, SIGKILL);
		return;
	}
	if (!p->ctl)
		return; /* the channel broke while sending; executor death follows */
	json_t *f = json_pack("{s:s,s:i,s:i}", "child", "frontend", "child-pid", (int)pid,
			      "generation", (int)gen);
	log_fields(LOG_LVL_INFO, f, "front-end started (pid %d, generation %u)", (int)pid, gen);
}

/* ---- the policy process ---- */

static void start_policy(struct parent *p);

static void on_policy_timer(struct loop *l, void *data)
{
	struct parent *p = data;
	p->policy_timer = NULL;
	start_policy(p);
}

/* Checks fail (closed) while it is away: back at once, unless it dies as
 * soon as it starts (then once a second). */
static void schedule_policy(struct parent *p, uint64_t lived_ns)
{
	if (lived_ns >= NS_PER_S) {
		start_policy(p);
		return;
	}
	if (!p->policy_timer)
		p->policy_timer = loop_timer_add(p->loop, loop_now_ns() + NS_PER_S, on_policy_timer,
						 p);
}

static void start_policy(struct parent *p)
{
	struct kerr err = { 0 };
	if (p->stopping || !p->ctl)
		return;
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		log_error("policy process socketpair: %s", strerror(errno));
		schedule_policy(p, 0);
		return;
	}
	cleanup_close int child_end = sp[0];
	cleanup_close int ex_end = sp[1];
	char uid[16], gid[16];
	snprintf(uid, sizeof(uid), "%lu", p->fe_uid);
	snprintf(gid, sizeof(gid), "%lu", p->fe_gid);
	char *argv[] = {
		(char *)"kata-agent-policy",
		(char *)"--uid",
		uid,
		(char *)"--gid",
		gid,
		(char *)"--log-level",
		(char *)log_level_name(p->opts.log_level),
		NULL,
	};
	pid_t pid = spawn(p, p->policy_path, argv, &child_end, 1, &err);
	if (pid < 0) {
		log_error("starting the policy process: %s", err.msg);
		schedule_policy(p, 0);
		return;
	}
	p->policy_pid = pid;
	p->policy_started = loop_now_ns();
	struct ipc_ctl_new_frontend n = { .generation = ++p->policy_gen, .frontend_pid = pid };
	if (ipc_chan_send(p->ctl, IPC_CTL_NEW_POLICY, 0, &n, sizeof(n), ex_end, &err) < 0) {
		log_error("handing the executor its policy channel: %s", err.msg);
		kill(pid, SIGKILL);
		return;
	}
	json_t *f = json_pack("{s:s,s:i,s:i}", "child", "policy", "child-pid", (int)pid,
			      "generation", (int)p->policy_gen);
	log_fields(LOG_LVL_INFO, f, "policy process started (pid %d, generation %u)", (int)pid,
		   p->policy_gen);
}

/* The policy in force at start, to the executor, which keeps it. */
static int send_policy(struct parent *p, struct kerr *err)
{
	if (!p->policy.msg_len)
		return 0;
	return ipc_chan_send(p->ctl, IPC_CTL_POLICY, 0, p->policy.msg, p->policy.msg_len, -1, err);
}

/* ---- the executor ---- */

/* DestroySandbox was answered: the agent stops, as upstream's does once its
 * sandbox is destroyed (as PID 1 the guest then powers off, which the
 * runtime waits for when tracing). The front-end's SIGTERM grace lets it
 * write that answer first. */
static int on_ctl_sandbox_destroyed(struct ipc_chan *c, struct ipc_msg *m, void *data,
				    struct kerr *err)
{
	begin_shutdown(data, 0, "the sandbox was destroyed (DestroySandbox)");
	return 0;
}

/* A SetPolicy waits for a policy process (none ran: no policy was in
 * force at boot). Nothing to do when one runs or its throttled restart is
 * due: the executor gets CTL_NEW_POLICY either way, so asking again, or
 * asking in a loop, never starts a second one or hurries the throttle. */
static int on_ctl_start_policy(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct parent *p = data;
	if (p->policy_pid || p->policy_timer || p->stopping) {
		log_debug("the executor asks for a policy process: %s",
			  p->stopping ? "stopping" : "one runs or is due");
		return 0;
	}
	log_info("the executor asks for a policy process (SetPolicy)");
	start_policy(p);
	return 0;
}

static const struct ipc_dispatch ctl_table[] = {
	/* The messages the executor sends on the control channel; any other
	 * is a protocol violation and closes it. */
	{ IPC_CTL_SANDBOX_DESTROYED, on_ctl_sandbox_destroyed },
	{ IPC_CTL_START_POLICY, on_ctl_start_policy },
	{ 0, NULL },
};

static void on_ctl_close(struct ipc_chan *c, const char *reason, void *data)
{
	struct parent *p = data;
	p->ctl = NULL;
	if (p->stopping)
		return;
	if (reason && p->executor_pid) {
		log_error("control channel to the executor broken (%s): killing the executor",
			  reason);
		kill(p->executor_pid, SIGKILL);
	} else {
		log_debug("control channel to the executor closed");
	}
}

static int start_executor(struct parent *p, struct kerr *err)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return kerr_set(err, -errno, "control socketpair: %s", strerror(errno));
	cleanup_close int child_end = sp[1];
	char muid[24], mgid[24], pipesz[24], hotplug[24], passfd[24], cdh_api[24], pull[24];
	snprintf(cdh_api, sizeof(cdh_api), "%llu", (unsigned long long)p->opts.cdh_api_timeout_ms);
	snprintf(pull, sizeof(pull), "%llu", (unsigned long long)p->opts.image_pull_timeout_ms);
	snprintf(hotplug, sizeof(hotplug), "%llu", (unsigned long long)p->opts.hotplug_timeout_ms);
	snprintf(passfd, sizeof(passfd), "%u", p->opts.passfd_listener_port);
	snprintf(muid, sizeof(muid), "%lu", p->mon_uid);
	snprintf(mgid, sizeof(mgid), "%lu", p->mon_gid);
	snprintf(pipesz, sizeof(pipesz), "%u", p->opts.container_pipe_size);
	char mem_agent[1024];
	char *argv[37] = {
		(char *)"kata-agent-executor",
		(char *)"--ctl-fd",
		(char *)"3",
		(char *)"--log-level",
		(char *)log_level_name(p->opts.log_level),
		(char *)"--monitor-path",
		p->monitor_path,
		(char *)"--shared-dir",
		(char *)p->shared_dir,
		(char *)"--cgroup-parent",
		(char *)p->cgroup_parent,
		(char *)"--monitor-uid",
		muid,
		(char *)"--monitor-gid",
		mgid,
		(char *)"--container-pipe-size",
		pipesz,
		(char *)"--hotplug-timeout-ms",
		hotplug,
		(char *)"--passfd-listener-port",
		passfd,
		(char *)"--cdh-api-timeout-ms",
		cdh_api,
		(char *)"--image-pull-timeout-ms",
		pull,
		(char *)"--pause-bundle",
		(char *)p->pause_bundle,
		NULL,
		NULL,
		NULL,
		NULL,
		NULL,
		NULL,
		NULL,
		NULL,
		NULL,
		NULL,
	};
	/* Optional flags fill the NULL slots. */
	size_t a = sizeof(argv) / sizeof(argv[0]) - 10;
	if (p->opts.mem_agent.enable &&
	    memagent_cfg_format(&p->opts.mem_agent, mem_agent, sizeof(mem_agent)) == 0) {
		argv[a++] = (char *)"--mem-agent"; /* agent.mem_agent_*: the executor runs it */
		argv[a++] = mem_agent;
	}
	if (p->endpoints) {
		/* [endpoints] is enforced below the front-end too */
		argv[a++] = (char *)"--endpoints";
		argv[a++] = p->endpoints;
	}
	if (p->pid1)
		argv[a++] = (char *)"--init-daemon";
	if (p->opts.allow_host_hooks)
		argv[a++] = (char *)"--allow-host-hooks";
	if (!p->opts.secure_storage_integrity)
		argv[a++] = (char *)"--no-secure-storage-integrity";
	if (p->passfd_fd >= 0 && p->passfd_addr.kind == ADDR_UNIX)
		argv[a++] = (char *)"--passfd-unix"; /* which streams the executor accepts */
	if (p->passfd_fd >= 0 && p->opts.passfd_direct)
		argv[a++] = (char *)"--passfd-direct"; /* whether it accepts any */
	pid_t pid = spawn(p, p->executor_path, argv, &child_end, 1, err);
	if (pid < 0) {
		close(sp[0]);
		return pid;
	}
	p->executor_pid = pid;
	json_t *f = json_pack("{s:s,s:i}", "child", "executor", "child-pid", (int)pid);
	log_fields(LOG_LVL_INFO, f, "executor started (pid %d)", (int)pid);
	return ipc_chan_new(&p->ctl, p->loop, sp[0], "control", IPC_ROLE_EXECUTOR, ctl_table,
			    on_ctl_close, p, err);
}

/* ---- signals and reaping ---- */

static void reap(struct parent *p)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		uint64_t now = loop_now_ns();
		if (pid == p->frontend_pid) {
			p->frontend_pid = 0;
			log_exit(p->stopping ? LOG_LVL_INFO : LOG_LVL_WARN, "front-end", pid,
				 status, now - p->frontend_started, p->generation);
			if (!p->stopping)
				schedule_frontend(p);
		} else if (pid == p->policy_pid) {
			p->policy_pid = 0;
			log_exit(p->stopping ? LOG_LVL_INFO : LOG_LVL_WARN, "policy process", pid,
				 status, now - p->policy_started, p->policy_gen);
			if (!p->stopping)
				schedule_policy(p, now - p->policy_started);
		} else if (pid == p->executor_pid) {
			p->executor_pid = 0;
			p->executor_unclean = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
			log_exit(p->stopping ? LOG_LVL_INFO : LOG_LVL_ERROR, "executor", pid,
				 status, 0, 0);
			if (!p->stopping)
				on_executor_death(p);
		} else if (!debug_console_reaped(p->dc, pid, status) &&
			   !guest_components_reaped(p->gc, pid, status)) {
			log_debug("reaped orphan pid %d (wait status 0x%x)", (int)pid, status);
		}
	}
	maybe_done(p);
}

static void on_signal(struct loop *l, int fd, uint32_t events, void *data)
{
	struct parent *p = data;
	struct signalfd_siginfo si;
	bool chld = false;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			chld = true;
		} else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			char why[64];
			snprintf(why, sizeof(why), "received SIG%s", signame((int)si.ssi_signo));
			begin_shutdown(p, 0, why);
		}
	}
	if (chld)
		reap(p);
}

/* ---- start-up ---- */

static void on_option_warning(const char *option, const char *value, const char *why, void *data)
{
	json_t *f = json_pack("{s:s,s:s}", "option", option, "value", value ? value : "");
	log_fields(LOG_LVL_WARN, f, "option %s ignored: %s", option, why);
}

/* Where a helper binary is: --libexec-dir when given (only there), else
 * helper_path_find's places. */
static int find_helper(const char *libexec_dir, const char *name, const char *subdir, char **out,
		       struct kerr *err)
{
	char path[PATH_MAX];
	if (libexec_dir) {
		int n = snprintf(path, sizeof(path), "%s/%s", libexec_dir, name);
		if (n <= 0 || (size_t)n >= sizeof(path) || !helper_path_is_exec(path))
			return kerr_set(err, -ENOENT,
					"%s not found or not executable in --libexec-dir %s", name,
					libexec_dir);
	} else if (helper_path_find(name, subdir, path, sizeof(path)) < 0) {
		return kerr_set(err, -ENOENT,
				"%s not found next to kata-agent, in the build tree, or in %s "
				"(use --libexec-dir)",
				name, KATA_LIBEXECDIR);
	}
	if (!(*out = strdup(path)))
		return kerr_set(err, -ENOMEM, "out of memory");
	return 0;
}

/* The allowed list travels on the front-end's argv, comma-joined. */
static int join_endpoints(struct parent *p, struct kerr *err)
{
	if (!p->opts.endpoints_restricted)
		return 0;
	size_t total = 1;
	for (size_t i = 0; i < p->opts.n_allowed_endpoints; i++) {
		if (!endpoints_name_valid(p->opts.allowed_endpoints[i]))
			return kerr_set(err, -EINVAL, "invalid endpoint name \"%s\" in [endpoints]",
					p->opts.allowed_endpoints[i]);
		total += strlen(p->opts.allowed_endpoints[i]) + 1;
	}
	p->endpoints = calloc(1, total);
	if (!p->endpoints)
		return kerr_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < p->opts.n_allowed_endpoints; i++) {
		if (i)
			strcat(p->endpoints, ",");
		strcat(p->endpoints, p->opts.allowed_endpoints[i]);
	}
	return 0;
}

/* A listener on vsock port N of any CID, for agent.log_vport and
 * agent.debug_console_vport. */
static int listen_vport(uint32_t port, struct kerr *err)
{
	char s[48];
	struct addr a;
	snprintf(s, sizeof(s), "vsock://-1:%u", port);
	int r = addr_parse(s, &a, err);
	return r < 0 ? r : addr_listen(&a, err);
}

/* agent.log_vport, before the announce line so a late reader still gets it. */
static void open_log_sink(struct parent *p)
{
	struct kerr err = { 0 };
	if (!p->opts.log_vport)
		return;
	int fd = listen_vport(p->opts.log_vport, &err);
	if (fd < 0 || log_sink_new(&p->sink, fd, 0, &err) < 0) {
		log_error("agent.log_vport=%u: %s; logging to stderr", p->opts.log_vport, err.msg);
		p->sink = NULL;
		return;
	}
	log_set_writer(log_sink_write, p->sink);
}

/* What runs next to the agent in guest mode, once the loop exists; each is
 * optional and none is fatal. */
static void start_guest_extras(struct parent *p)
{
	struct kerr err = { 0 };
	if (p->sink && log_sink_attach(p->sink, p->loop, &err) < 0)
		log_error("agent.log_vport: %s", err.msg);
	if (p->opts.debug_console) {
		char shell[256];
		int r = debug_console_find_shell(shell, sizeof(shell), &err);
		if (r >= 0 && p->opts.debug_console_vport) {
			int fd = listen_vport(p->opts.debug_console_vport, &err);
			r = fd < 0 ? fd : debug_console_listen(&p->dc, p->loop, fd, shell, &err);
			if (r >= 0)
				log_warn("debug console: a root shell %s for each connection to vsock "
					 "port %u",
					 shell, p->opts.debug_console_vport);
		} else if (r >= 0) {
			r = debug_console_serial(&p->dc, p->loop, DEBUG_CONSOLE_PATH, shell, &err);
		}
		if (r < 0) {
			p->dc = NULL;
			log_warn("failed to set up the debug console: %s", err.msg);
		}
	}
}

/* The launch is over: serve now, or stop as upstream's agent does when a
 * component it launched does not come up. */
static void on_components_done(bool ok, void *data)
{
	struct parent *p = data;
	if (ok)
		start_frontend(p);
	else
		begin_shutdown(p, 1,
			       "a guest component did not start (upstream's agent does not "
			       "start then either)");
}

/* The guest components (agent.guest_components_procs) come up before the
 * front-end serves: upstream starts its ttRPC server after them, so the
 * first request that needs the CDH finds it. The loop runs meanwhile. */
static void start_components_then_frontend(struct parent *p)
{
	struct kerr err = { 0 };
	int stdio_fd = p->sink ? log_sink_child_fd(p->sink) : -1;
	int r = guest_components_start(&p->gc, p->loop, &p->opts, p->initdata.present, stdio_fd,
				       on_components_done, p, &err);
	if (r < 0)
		begin_shutdown(p, 1, err.msg);
	else if (r == 0)
		start_frontend(p);
}

/* The fd-passthrough listener, made here for the same reasons as the
 * ttRPC one: the front-end cannot bind, and a restarted front-end serves
 * the same backlog. Upstream fails to start when it cannot listen. */
static int passfd_listen(struct parent *p, struct kerr *err)
{
	char spec[64], abuf[160];
	const char *a = p->passfd_addr_arg;
	if (!a && !p->opts.passfd_listener_port)
		return 0;
	if (!a) {
		snprintf(spec, sizeof(spec), "vsock://-1:%u", p->opts.passfd_listener_port);
		a = spec;
	}
	if (addr_parse(a, &p->passfd_addr, err) < 0)
		return kerr_prefix(err, "fd-passthrough listener %s", a);
	if (p->passfd_addr.kind == ADDR_HVSOCK)
		return kerr_set(err, -EINVAL, "fd-passthrough listener %s: not a listening address",
				a);
	if ((p->passfd_fd = addr_listen(&p->passfd_addr, err)) < 0)
		return kerr_prefix(err, "fd-passthrough listener %s", a);
	log_info("fd-passthrough stdio: listening on %s",
		 addr_format(&p->passfd_addr, abuf, sizeof(abuf)));
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kata-agent [OPTIONS]\n"
		"The Kata Containers guest agent (privilege-separated C implementation).\n\n"
		"  --cmdline FILE       kernel command line to read agent.* options from\n"
		"                       (default /proc/cmdline)\n"
		"  --config FILE        TOML config file (replaces the command-line options)\n"
		"  --libexec-dir DIR    where kata-agent-executor and kata-agent-frontend are\n"
		"                       (default: next to kata-agent, the build tree, or\n"
		"                       %s)\n"
		"  --frontend-uid N     uid of the front-end (default %d, never 0)\n"
		"  --frontend-gid N     gid of the front-end (default %d, never 0)\n"
		"  --shared-dir DIR     containers' rootfs and storages must be below DIR\n"
		"                       (default /run/kata-containers)\n"
		"  --cgroup-parent P    container cgroups go below P (default: the root)\n"
		"  --monitor-uid N      uid of the per-container monitors (default 65534)\n"
		"  --monitor-gid N      gid of the per-container monitors (default 65534)\n"
		"  --passfd-addr ADDR   fd-passthrough stdio listener instead of\n"
		"                       vsock://-1:<agent.passfd_listener_port> (stand-alone:\n"
		"                       unix:///path; doc/options.md)\n"
		"  --initdata PATH      read initdata from this file or block device instead\n"
		"                       of looking for its device in /dev\n"
		"  --pause-bundle DIR   the guest image's pause bundle, for guest-pulled pods\n"
		"                       (default /pause_bundle, as upstream)\n"
		"  --version            print the version and exit\n"
		"  --help               print this help and exit\n",
		KATA_LIBEXECDIR, DEFAULT_FRONTEND_ID, DEFAULT_FRONTEND_ID);
}

/* A uid or gid for an unprivileged process: never 0 (root). */
static int parse_id(const char *s, unsigned long *out)
{
	unsigned long v;
	if (number_parse_ulong(s, 0xfffffffe, &v) < 0 || v == 0)
		return -EINVAL;
	*out = v;
	return 0;
}

extern char **environ;

/* The log, the policy, the announce line, init's late duties, the
 * process-wide options and initdata: everything children inherit or read. */
static int parent_prepare(struct parent *p, const char *initdata, struct kerr *err)
{
	log_set_level(p->opts.log_level);
	open_log_sink(p);
	if (policy_source_read(&p->policy, &p->opts, err) < 0) {
		log_error("%s", err->msg);
		return -1;
	}
	json_t *announce = options_to_json(&p->opts);
	json_object_set_new(announce, "policy", policy_source_json(&p->policy));
	log_announce(announce);
	/* Not fatal: as PID 1 an exit is a guest panic that leaves the host only
	 * the console; serving, the host gets this line on the log channel and
	 * each request that needs a missing call fails with its name. */
	char missing[128];
	if (kernel_check(missing, sizeof(missing)) > 0)
		log_error("this kernel lacks %s (ENOSYS): the agent needs Linux 5.12 or later "
			  "with them; it serves, and requests that need them fail",
			  missing);
	if (p->pid1 && init_late(p->opts.unified_cgroup_hierarchy, err) < 0) {
		log_error("%s", err->msg);
		return -1;
	}
	/* Before any child: they inherit the rlimit and the environment. */
	process_opts_apply(&p->opts);
	/* Before any child too: the components read what it writes, and the
	 * policy will be in force before anything is served. A device that is
	 * there but unusable stops the agent, as upstream's. */
	if (initdata_boot(initdata, "/dev", &p->initdata, err) < 0) {
		log_error("%s: the agent does not start", err->msg);
		return -1;
	}
	/* initdata's policy replaces the default one (upstream main.rs:
	 * set_policy after initialize_policy); the executor logs which. */
	if (p->initdata.policy_fd >= 0 &&
	    policy_source_initdata(&p->policy, p->initdata.policy_fd, err) < 0) {
		log_error("%s: the agent does not start", err->msg);
		return -1;
	}
	return 0;
}

/* The helpers' binaries, and the endpoints list they are given. */
static int find_helpers(struct parent *p, const char *libexec, struct kerr *err)
{
	if (join_endpoints(p, err) < 0 ||
	    find_helper(libexec, "kata-agent-executor", "executor", &p->executor_path, err) < 0 ||
	    find_helper(libexec, "kata-agent-frontend", "frontend", &p->frontend_path, err) < 0 ||
	    find_helper(libexec, "kata-agent-monitor", "monitor", &p->monitor_path, err) < 0 ||
	    find_helper(libexec, "kata-agent-policy", "policy", &p->policy_path, err) < 0) {
		log_error("%s", err->msg);
		return -1;
	}
	log_debug("executor %s, front-end %s", p->executor_path, p->frontend_path);
	return 0;
}

/* Child subreaper, and SIGCHLD, SIGTERM and SIGINT through a signalfd,
 * blocked before any child exists, so no SIGCHLD is lost. */
static int take_signals(struct parent *p)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		log_error("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
		return -1;
	}
	static const int signals[] = { SIGCHLD, SIGTERM, SIGINT };
	struct kerr err = { 0 };
	if ((p->sigfd = loop_signalfd(signals, 3, &err)) < 0) {
		log_error("%s", err.msg);
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* The ttRPC socket (agent.server_addr) and the passfd listener. */
static int open_listeners(struct parent *p, struct kerr *err)
{
	char abuf[160];
	if (addr_parse(p->opts.server_addr, &p->addr, err) < 0 ||
	    (p->listen_fd = addr_listen(&p->addr, err)) < 0) {
		log_error("agent.server_addr %s: %s", p->opts.server_addr, err->msg);
		return -1;
	}
	log_info("listening on %s", addr_format(&p->addr, abuf, sizeof(abuf)));
	if (passfd_listen(p, err) < 0) {
		log_error("%s", err->msg);
		return -1;
	}
	return 0;
}

/* Everything after the options: the log, init's late duties, the guest
 * extras, the socket, the executor and the front-end, then the loop until
 * the agent stops. Returns the exit status; whatever it set up is released
 * by parent_release, on every path. */
static int parent_serve(struct parent *p, const char *libexec, const char *initdata,
			struct kerr *err)
{
	if (parent_prepare(p, initdata, err) < 0 || find_helpers(p, libexec, err) < 0 ||
	    take_signals(p) < 0 || open_listeners(p, err) < 0)
		return 1;
	if (loop_new(&p->loop, err) < 0 ||
	    loop_add(p->loop, p->sigfd, EPOLLIN, on_signal, p, err) < 0 ||
	    start_executor(p, err) < 0 || send_policy(p, err) < 0) {
		log_error("%s", err->msg);
		if (p->executor_pid)
			kill(p->executor_pid, SIGKILL);
		return 1;
	}
	/* Before the front-end: its first requests find the policy loaded.
	 * Without a policy none is needed until a SetPolicy (issue 14: it is
	 * the largest agent process in the guest). */
	if (p->policy.msg_len)
		start_policy(p);
	start_guest_extras(p);
	start_components_then_frontend(p);

	p->served = true;
	if (loop_run(p->loop, err) < 0) {
		log_error("event loop: %s", err->msg);
		p->exit_code = 1;
	}
	/* The executor did not remove the containers itself. As PID 1 the
	 * power-off does it; on a host nothing else would. */
	if (p->executor_unclean && !p->pid1)
		teardown_after_executor(p->shared_dir, p->cgroup_parent);
	return p->exit_code;
}

/* Undo parent_serve, from wherever it stopped (everything here copes with
 * what was never set up). */
static void parent_release(struct parent *p)
{
	if (p->restart_timer)
		loop_timer_cancel(p->loop, p->restart_timer);
	if (p->kill_timer)
		loop_timer_cancel(p->loop, p->kill_timer);
	if (p->policy_timer)
		loop_timer_cancel(p->loop, p->policy_timer);
	policy_source_free(&p->policy);
	ipc_chan_free(p->ctl);
	guest_components_free(p->gc);
	initdata_boot_release(&p->initdata);
	/* both keep loop watches: gone before the loop */
	debug_console_free(p->dc);
	log_set_writer(NULL, NULL);
	log_sink_free(p->sink);
	loop_free(p->loop);
	if (p->sigfd >= 0)
		close(p->sigfd);
	if (p->listen_fd >= 0) {
		close(p->listen_fd);
		/* ours only once we listen on it (not when it was in use) */
		if (p->addr.kind == ADDR_UNIX && !p->addr.abstract)
			unlink(p->addr.path);
	}
	if (p->passfd_fd >= 0) {
		close(p->passfd_fd);
		if (p->passfd_addr.kind == ADDR_UNIX && !p->passfd_addr.abstract)
			unlink(p->passfd_addr.path);
	}
	free(p->endpoints);
	free(p->executor_path);
	free(p->frontend_path);
	free(p->monitor_path);
	free(p->policy_path);
	options_free(&p->opts);
}

static const struct option longopts[] = {
	{ "cmdline", required_argument, NULL, 'c' },
	{ "config", required_argument, NULL, 'f' },
	{ "libexec-dir", required_argument, NULL, 'x' },
	{ "frontend-uid", required_argument, NULL, 'u' },
	{ "frontend-gid", required_argument, NULL, 'g' },
	{ "shared-dir", required_argument, NULL, 'S' },
	{ "cgroup-parent", required_argument, NULL, 'C' },
	{ "monitor-uid", required_argument, NULL, 'U' },
	{ "monitor-gid", required_argument, NULL, 'G' },
	{ "passfd-addr", required_argument, NULL, 'P' },
	{ "initdata", required_argument, NULL, 'I' },
	{ "pause-bundle", required_argument, NULL, 'B' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The command line's files, not kept in struct parent. */
struct start {
	const char *cmdline, *config, *libexec, *initdata;
};

/* --{monitor,frontend}-{uid,gid}: a non-zero id, or -1 (said on stderr). */
static int set_id(const char *who, const char *which, const char *arg, unsigned long *out)
{
	if (parse_id(arg, out) < 0) {
		fprintf(stderr, "kata-agent: invalid --%s-%s %s (a non-zero id)\n", who, which,
			arg);
		return -1;
	}
	return 0;
}

/* The command line into p and s: -1 to go on, else the status to exit
 * with (0 after --version or --help, 2 on a bad option). */
static int parse_options(int argc, char **argv, struct parent *p, struct start *s)
{
	int o, bad = 0;
	while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (o) {
		case 'c':
			s->cmdline = optarg;
			break;
		case 'f':
			s->config = optarg;
			break;
		case 'x':
			s->libexec = optarg;
			break;
		case 'S':
			p->shared_dir = optarg;
			break;
		case 'C':
			p->cgroup_parent = optarg;
			break;
		case 'P':
			p->passfd_addr_arg = optarg;
			break;
		case 'I':
			s->initdata = optarg;
			break;
		case 'B':
			p->pause_bundle = optarg;
			break;
		case 'U':
			bad = set_id("monitor", "uid", optarg, &p->mon_uid);
			break;
		case 'G':
			bad = set_id("monitor", "gid", optarg, &p->mon_gid);
			break;
		case 'u':
			bad = set_id("frontend", "uid", optarg, &p->fe_uid);
			break;
		case 'g':
			bad = set_id("frontend", "gid", optarg, &p->fe_gid);
			break;
		default:
			return cli_other_option(o, "kata-agent", usage);
		}
		if (bad)
			return 2;
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct start s = { .cmdline = "/proc/cmdline" };
	struct parent p = { .listen_fd = -1,
			    .sigfd = -1,
			    .passfd_fd = -1,
			    .fe_uid = DEFAULT_FRONTEND_ID,
			    .fe_gid = DEFAULT_FRONTEND_ID,
			    .backoff = BACKOFF_MIN_NS,
			    .shared_dir = "/run/kata-containers",
			    .cgroup_parent = "",
			    .pause_bundle = "/pause_bundle",
			    .mon_uid = 65534,
			    .mon_gid = 65534,
			    .initdata = { .policy_fd = -1 } };
	/* On musl (-Dmusl_daemons) a static PIE: its relocated data is
	 * writable until sealed (relro.h); a no-op on glibc. */
	if (relro_seal() < 0) {
		perror("kata-agent: make the relocated data read-only");
		return 1;
	}
	int rc = parse_options(argc, argv, &p, &s);
	if (rc >= 0)
		return rc;

	log_init("parent", STDERR_FILENO, LOG_LVL_INFO);
	/* Whatever started us may have left fds open: none of them is ours to
	 * pass on (the children get only their listed fds anyway). */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	struct kerr err = { 0 };
	p.self = getpid();
	p.pid1 = p.self == 1;
	if (geteuid() != 0) {
		log_error("kata-agent must run as root: it starts the executor as root and the "
			  "front-end confines itself from root");
		return 1;
	}
	/* As PID 1: mount /proc (options_load reads /proc/cmdline) and the rest
	 * first; from here on every exit path powers the guest off (init.h). */
	if (p.pid1 && init_early(&err) < 0) {
		log_error("%s", err.msg);
		return 1;
	}
	/* options_load starts from the defaults itself. */
	if (options_load(&p.opts, s.cmdline, s.config, environ, on_option_warning, NULL, &err) < 0) {
		log_error("%s", err.msg);
		options_free(&p.opts); /* it holds the defaults */
		init_note_exit(1);
		return 1;
	}
	rc = parent_serve(&p, s.libexec, s.initdata, &err);
	parent_release(&p);
	if (p.served)
		log_info("kata-agent exiting with status %d", rc);
	init_note_exit(rc);
	return rc;
}
