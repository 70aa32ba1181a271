/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kata-agent-executor - the privileged half of the agent. It runs as root and
 * does what the front-end asks, but only what its dispatch tables list, and
 * it checks every field again: the front-end faces the untrusted host and is
 * treated as possibly compromised.
 *
 * Channels:
 *   fd 3 (--ctl-fd): control channel from the parent; accepts only
 *        CTL_NEW_FRONTEND, whose fd becomes the front-end channel.
 *   front-end channel: accepts what frontend_table lists: PING,
 *        GET_GUEST_DETAILS_REQ, GET_METRICS_REQ (here), the sandbox and
 *        container requests (sandbox.c, containers.c), GET_OOM_EVENT_REQ
 *        (oom.c), the guest-wide requests (guest.c), the device
 *        requests ADD_SWAP_REQ and RESIZE_VOLUME_REQ
 *        (volumes.c), the network requests (network.c) and
 *        GET_IPTABLES_REQ, SET_IPTABLES_REQ (iptables.c),
 *        MEM_AGENT_MEMCG_SET_REQ, MEM_AGENT_COMPACT_SET_REQ (mem_agent.c;
 *        the mem-agent itself runs on the loop: memagent/).
 *        uevents are read on the same loop (devices/hotplug.c).
 * Only the newest front-end channel is served: the parent starts a new
 * front-end only after the previous one died; a new one gets a fresh
 * channel to every container's monitor.
 * Per container, a launcher and a monitor channel (containers.c); the
 * monitors (our children X after exec) are reaped through a SIGCHLD signalfd.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <linux/seccomp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "config.h"
#include "endpoints.h"
#include "policy.h"
#include "executor_seccomp.h"
#include "executor.h"
#include "answer.h"
#include "sandbox.h"
#include "containers.h"
#include "diagnostic.h"
#include "passfd.h"
#include "oom.h"
#include "relro.h"
#include "network.h"
#include "iptables.h"
#include "mem_agent.h"
#include "guest.h"
#include "volumes.h"
#include "secure_storage.h"
#include "spawner.h"
#include "fds.h"
#include "helper_path.h"
#include "grpc_status.h"
#include "guest_pull.h"
#include "ipc.h"
#include "log.h"
#include "loop.h"
#include "number.h"
#include "hotplug.h"
#include "metrics.h"

#define SYSFS_MEMORY_BLOCK_SIZE_PATH "/sys/devices/system/memory/block_size_bytes"
#define SYSFS_MEMORY_HOTPLUG_PROBE_PATH "/sys/devices/system/memory/probe"

static int on_ping(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	const struct ipc_ping *p = m->in;
	log_debug("ping %" PRIu64 " from %s", p->cookie, ipc_chan_name(c));
	return ipc_chan_send(c, IPC_PONG, m->hdr.id, p, sizeof(*p), -1, err);
}

/* Memory block size as upstream reports it: the sysfs file holds hex
 * without a 0x prefix; a missing file means 0 (no memory hotplug). */
static int read_block_size(uint64_t *out, struct kerr *err)
{
	*out = 0;
	cleanup_fclose FILE *f = fopen(SYSFS_MEMORY_BLOCK_SIZE_PATH, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		return kerr_set_status(err, GRPC_INTERNAL, -errno, "open %s: %s",
				       SYSFS_MEMORY_BLOCK_SIZE_PATH, strerror(errno));
	}
	char buf[64];
	if (!fgets(buf, sizeof(buf), f) || buf[0] == '\0' || buf[0] == '\n')
		return kerr_set_status(err, GRPC_INTERNAL, -EINVAL,
				       "Invalid block size: %s is empty",
				       SYSFS_MEMORY_BLOCK_SIZE_PATH);
	char *end;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 16);
	while (*end == '\n' || *end == ' ')
		end++;
	if (errno || end == buf || *end != '\0')
		return kerr_set_status(err, GRPC_INTERNAL, -EINVAL,
				       "Invalid block size: %s holds %.32s",
				       SYSFS_MEMORY_BLOCK_SIZE_PATH, buf);
	*out = v;
	return 0;
}

static int probe_exists(bool *out, struct kerr *err)
{
	struct stat st;
	*out = false;
	if (stat(SYSFS_MEMORY_HOTPLUG_PROBE_PATH, &st) == 0) {
		*out = true;
		return 0;
	}
	if (errno == ENOENT)
		return 0;
	return kerr_set_status(err, GRPC_INTERNAL, -errno, "stat %s: %s",
			       SYSFS_MEMORY_HOTPLUG_PROBE_PATH, strerror(errno));
}

/* Container seccomp filters work when the kernel has seccomp filter mode
 * (upstream reports its build feature; the filters are built with
 * libseccomp, always linked here, so the kernel is the question). */
static bool seccomp_filters_work(void)
{
	uint32_t action = SECCOMP_RET_ERRNO;
	return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

/* upstream get_agent_details' storage_handlers: the drivers storage.c
 * handles, and image_guest_pull (guest_pull.c, upstream's ImagePullHandler),
 * as bits of ipc_storage_driver_name(). */
static uint32_t storage_handler_bits(void)
{
	uint32_t bits = 0;
	const char *name;
	for (unsigned b = 0; (name = ipc_storage_driver_name(b)); b++)
		if (storage_driver_known(name) || !strcmp(name, GUEST_PULL_DRIVER))
			bits |= 1u << b;
	return bits;
}

static int on_get_guest_details(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	/* ipc_recv checked the booleans and the padding; the request is a
	 * fixed struct, nothing else to re-validate. */
	const struct ipc_guest_details_req *req = m->in;

	struct ipc_guest_details_reply rep = {
		.init_daemon = x->init_daemon,
		.supports_seccomp = seccomp_filters_work(),
		.storage_handlers = storage_handler_bits(),
	};
	struct kerr e = { 0 };
	uint64_t bs = 0;
	bool probe = false;
	if (req->mem_block_size && read_block_size(&bs, &e) < 0) {
		log_warn("guest details: %s", e.msg);
		return answer_error(c, m->hdr.id, &e, err);
	}
	if (req->mem_hotplug_probe && probe_exists(&probe, &e) < 0) {
		log_warn("guest details: %s", e.msg);
		return answer_error(c, m->hdr.id, &e, err);
	}
	rep.mem_block_size_bytes = bs;
	rep.support_mem_hotplug_probe = probe;
	log_debug("guest details: block size %" PRIu64 ", hotplug probe %d", bs, probe);
	return ipc_chan_send(c, IPC_GET_GUEST_DETAILS_REPLY, m->hdr.id, &rep, sizeof(rep), -1, err);
}

/* GetMetrics: every process of the agent we can name, then the guest. */
static int on_get_metrics(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	size_t max = 3 + 2 * (size_t)x->n_ctrs;
	cleanup_free struct metrics_target *t = calloc(max, sizeof(*t));
	cleanup_free pid_t *skip = calloc(1 + EXEC_MAX_EXECS, sizeof(*skip));
	struct kerr e = { 0 };
	if (!t || !skip) {
		kerr_set_status(&e, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "metrics: out of memory");
		return answer_error(c, m->hdr.id, &e, err);
	}
	size_t n = 0;
	t[n++] = (struct metrics_target){ "parent", NULL, getppid() };
	if (x->fe_pid > 0)
		t[n++] = (struct metrics_target){ "frontend", NULL, x->fe_pid };
	t[n++] = (struct metrics_target){ "executor", NULL, getpid() };
	for (struct container *ct = x->ctrs; ct && n + 2 <= max; ct = ct->next) {
		/* x_pid is X until it execs the monitor: then it is the monitor. */
		if (ct->x_pid <= 0)
			continue;
		t[n++] = (struct metrics_target){ "monitor", ct->id, ct->x_pid };
		size_t ns = 0;
		if (ct->init_pid > 0)
			skip[ns++] = ct->init_pid;
		for (struct ctr_exec *ex = ct->execs; ex && ns < 1 + EXEC_MAX_EXECS; ex = ex->next)
			if (ex->pid > 0)
				skip[ns++] = ex->pid;
		pid_t l = metrics_find_launcher("/proc", x->o.launcher_path, ct->x_pid, skip, ns);
		if (l > 0)
			t[n++] = (struct metrics_target){ "launcher", ct->id, l };
	}
	struct metrics_env env = {
		.proc_root = "/proc",
		.ticks_per_sec = sysconf(_SC_CLK_TCK),
		.page_size = sysconf(_SC_PAGESIZE),
		.limit = METRICS_MAX_TEXT,
	};
	cleanup_free char *text = NULL;
	size_t len = 0;
	if (metrics_render(&env, t, n, x->metrics_scrapes + 1, &text, &len, &e) < 0) {
		log_warn("GetMetrics: %s", e.msg);
		return answer_error(c, m->hdr.id, &e, err);
	}
	x->metrics_scrapes++;
	log_debug("GetMetrics: %zu processes, %zu bytes", n, len);
	return ipc_chan_send(c, IPC_GET_METRICS_REPLY, m->hdr.id, text, len, -1, err);
}

static const struct ipc_dispatch frontend_table[] = {
	{ IPC_PING, on_ping },
	{ IPC_GET_GUEST_DETAILS_REQ, on_get_guest_details },
	{ IPC_CREATE_SANDBOX_REQ, on_create_sandbox },
	{ IPC_DESTROY_SANDBOX_REQ, on_destroy_sandbox },
	{ IPC_CREATE_CONTAINER_REQ, on_create_container },
	{ IPC_START_CONTAINER_REQ, on_start_container },
	{ IPC_REMOVE_CONTAINER_REQ, on_remove_container },
	{ IPC_EXEC_PROCESS_REQ, on_exec_process },
	{ IPC_PASSFD_STREAM, on_passfd_stream },
	{ IPC_SIGNAL_PROCESS_REQ, on_signal_process },
	{ IPC_UPDATE_CONTAINER_REQ, on_update_container },
	{ IPC_PAUSE_CONTAINER_REQ, on_pause_container },
	{ IPC_RESUME_CONTAINER_REQ, on_resume_container },
	{ IPC_STATS_CONTAINER_REQ, on_stats_container },
	{ IPC_GET_DIAGNOSTIC_DATA_REQ, on_get_diagnostic_data },
	{ IPC_GET_METRICS_REQ, on_get_metrics },
	{ IPC_GET_OOM_EVENT_REQ, on_get_oom_event },
	{ IPC_UPDATE_INTERFACE_REQ, on_update_interface },
	{ IPC_UPDATE_ROUTES_REQ, on_update_routes },
	{ IPC_LIST_INTERFACES_REQ, on_list_interfaces },
	{ IPC_LIST_ROUTES_REQ, on_list_routes },
	{ IPC_ADD_ARP_NEIGHBORS_REQ, on_add_arp_neighbors },
	{ IPC_GET_IPTABLES_REQ, on_get_iptables },
	{ IPC_SET_IPTABLES_REQ, on_set_iptables },
	{ IPC_MEM_AGENT_MEMCG_SET_REQ, on_mem_agent_memcg_set },
	{ IPC_MEM_AGENT_COMPACT_SET_REQ, on_mem_agent_compact_set },
	{ IPC_SET_GUEST_DATE_TIME_REQ, on_set_guest_date_time },
	{ IPC_RESEED_RANDOM_DEV_REQ, on_reseed_random_dev },
	{ IPC_GET_VOLUME_STATS_REQ, on_get_volume_stats },
	{ IPC_COPY_FILE_REQ, on_copy_file },
	{ IPC_ONLINE_CPU_MEM_REQ, on_online_cpu_mem },
	{ IPC_MEM_HOTPLUG_BY_PROBE_REQ, on_mem_hotplug_by_probe },
	{ IPC_ADD_SWAP_PATH_REQ, on_add_swap_path },
	{ IPC_UPDATE_EPHEMERAL_MOUNTS_REQ, on_update_ephemeral_mounts },
	{ IPC_REMOVE_STALE_VIRTIOFS_SHARE_MOUNTS_REQ, on_remove_stale_virtiofs_share_mounts },
	{ IPC_SET_POLICY_REQ, on_set_policy },
	{ IPC_ADD_SWAP_REQ, on_add_swap },
	{ IPC_RESIZE_VOLUME_REQ, on_resize_volume },
	{ 0, NULL },
};

static void on_frontend_close(struct ipc_chan *c, const char *reason, void *data)
{
	struct executor *x = data;
	if (reason)
		log_warn("front-end channel %s closed: %s", ipc_chan_name(c), reason);
	else
		log_info("front-end channel %s closed", ipc_chan_name(c));
	if (x->fe == c) {
		x->fe = NULL;
		oom_frontend_gone(x);
	}
}

static int check_seqpacket(int fd, struct kerr *err)
{
	int type = 0, domain = 0;
	socklen_t len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return kerr_set(err, -errno, "front-end channel fd is not a socket: %s",
				strerror(errno));
	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
		return kerr_set(err, -errno, "SO_DOMAIN: %s", strerror(errno));
	if (type != SOCK_SEQPACKET || domain != AF_UNIX)
		return kerr_set(err, -EPROTO,
				"front-end channel fd is not an AF_UNIX SOCK_SEQPACKET socket");
	return 0;
}

static int on_ctl_new_frontend(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	const struct ipc_ctl_new_frontend *n = m->in;
	cleanup_close int fd = ipc_msg_take_fd(m);
	int r = check_seqpacket(fd, err);
	if (r < 0)
		return r;
	if (x->fe) {
		log_info("front-end channel %s replaced by generation %u", ipc_chan_name(x->fe),
			 n->generation);
		ipc_chan_close(x->fe, "replaced by a newer front-end");
	}
	char name[32];
	snprintf(name, sizeof(name), "frontend#%u", n->generation);
	r = ipc_chan_new(&x->fe, x->loop, take_fd(&fd), name, IPC_ROLE_FRONTEND, frontend_table,
			 on_frontend_close, x, err);
	if (r < 0)
		return r;
	/* The front-end already refuses blocked endpoints; a compromised one
	 * would not, so every request passes the policy here too. */
	ipc_chan_set_gate(x->fe, ipc_endpoint_gate, &x->o.policy);
	/* And the agent policy: every request waits for its verdict (policy.h). */
	ipc_chan_set_defer(x->fe, policy_defer, x);
	/* Our own count, not the parent's: replies are matched to the
	 * front-end that asked by it. */
	x->fe_generation++;
	x->fe_pid = n->frontend_pid;
	passfd_forget(x);
	log_info("serving front-end channel %s", name);
	containers_new_frontend(x);
	return 0;
}

static const struct ipc_dispatch ctl_table[] = {
	{ IPC_CTL_NEW_FRONTEND, on_ctl_new_frontend },
	{ IPC_CTL_POLICY, on_ctl_policy },
	{ IPC_CTL_NEW_POLICY, on_ctl_new_policy },
	{ 0, NULL },
};

static void on_ctl_close(struct ipc_chan *c, const char *reason, void *data)
{
	struct executor *x = data;
	x->ctl = NULL;
	if (reason) {
		log_error("control channel from the parent broken: %s; exiting", reason);
		x->exit_code = 1;
	} else {
		log_info("parent closed the control channel; exiting");
	}
	loop_quit(x->loop);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kata-agent-executor [OPTIONS]\n"
		"The privileged executor of kata-agent; started by kata-agent, not by hand.\n\n"
		"  --ctl-fd N          control channel from the parent (default 3)\n"
		"  --log-level LEVEL   critical|error|warn|info|debug (default info)\n"
		"  --init-daemon       the agent runs as PID 1 (reported in guest details)\n"
		"  --shared-dir DIR    container rootfs, bind sources and storages must be\n"
		"                      below DIR (default /run/kata-containers)\n"
		"  --cgroup-parent P   container cgroups go below P (default: the root)\n"
		"  --monitor-path F    kata-agent-monitor (default: next to this binary,\n"
		"                      the build tree, or the libexec dir)\n"
		"  --monitor-uid N     uid of the monitors (default 65534, never 0)\n"
		"  --monitor-gid N     gid of the monitors (default 65534, never 0)\n"
		"  --container-pipe-size N  size of the containers' stdio pipes (0 = default)\n"
		"  --hotplug-timeout-ms N   agent.hotplug_timeout, for device waits\n"
		"  --passfd-listener-port N agent.passfd_listener_port (0 = none)\n"
		"  --passfd-unix        the passfd listener is a unix socket (stand-alone)\n"
		"  --passfd-direct      agent.passfd_direct: accept host streams as a\n"
		"                       process's own stdout/stderr (else refused)\n"
		"  --endpoints LIST    [endpoints] allowed, comma-separated request types\n"
		"                      (absent: all; empty: none), enforced on the front-end's\n"
		"                      requests here and passed on to every monitor\n"
		"  --allow-host-hooks  run the spec's prestart, createRuntime, createContainer,\n"
		"                      poststart and poststop hooks (default: refused)\n"
		"  --cdh-api-timeout-ms N    agent.cdh_api_timeout (default 50000)\n"
		"  --image-pull-timeout-ms N agent.image_pull_timeout (default 1200000)\n"
		"  --no-secure-storage-integrity  agent.secure_storage_integrity=false\n"
		"  --pause-bundle DIR  the guest image's pause bundle (default /pause_bundle)\n"
		"  --mem-agent SETTINGS  agent.mem_agent_*: name=value,... (memagent_cfg.h);\n"
		"                      enable=1 starts the mem-agent\n"
		"  --version           print the version and exit\n"
		"  --help              print this help and exit\n");
}

/* helper_path_find into out (PATH_MAX), logged when missing: the agent
 * stops at start rather than at the first container. */
static const char *need_helper(const char *name, const char *subdir, char *out)
{
	if (helper_path_find(name, subdir, out, PATH_MAX) == 0)
		return out;
	log_error("%s not found next to the executor, in the build tree, or in %s", name,
		  KATA_LIBEXECDIR);
	return NULL;
}

static void on_signal(struct loop *l, int fd, uint32_t events, void *data)
{
	struct executor *x = data;
	struct signalfd_siginfo si[8];
	ssize_t n;
	bool stop = false;
	while ((n = read(fd, si, sizeof(si))) > 0)
		for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++)
			if (si[i].ssi_signo == SIGTERM || si[i].ssi_signo == SIGINT)
				stop = true;
	containers_reap(x);
	if (stop) {
		/* The parent stops us on shutdown: leave the loop so every
		 * container is torn down (cgroup killed, mounts released)
		 * instead of dying with their processes still running. */
		log_info("asked to stop: removing every container");
		/* A GetOOMEvent waiting here would otherwise last until the
		 * host's deadline. */
		oom_shutdown(x);
		loop_quit(x->loop);
	}
}

static const struct option longopts[] = {
	{ "ctl-fd", required_argument, NULL, 'c' },
	{ "log-level", required_argument, NULL, 'l' },
	{ "init-daemon", no_argument, NULL, 'i' },
	{ "shared-dir", required_argument, NULL, 's' },
	{ "cgroup-parent", required_argument, NULL, 'C' },
	{ "monitor-path", required_argument, NULL, 'm' },
	{ "monitor-uid", required_argument, NULL, 'u' },
	{ "monitor-gid", required_argument, NULL, 'g' },
	{ "container-pipe-size", required_argument, NULL, 'p' },
	{ "hotplug-timeout-ms", required_argument, NULL, 'H' },
	{ "passfd-listener-port", required_argument, NULL, 'P' },
	{ "passfd-unix", no_argument, NULL, 'U' },
	{ "passfd-direct", no_argument, NULL, 'D' },
	{ "endpoints", required_argument, NULL, 'e' },
	{ "allow-host-hooks", no_argument, NULL, 'A' },
	{ "cdh-api-timeout-ms", required_argument, NULL, 'T' },
	{ "image-pull-timeout-ms", required_argument, NULL, 'I' },
	{ "no-secure-storage-integrity", no_argument, NULL, 'N' },
	{ "pause-bundle", required_argument, NULL, 'B' },
	{ "mem-agent", required_argument, NULL, 'M' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The command line's settings that are not the executor's options. */
struct start {
	int ctl_fd;
	enum log_level level;
	const char *shared, *monitor;
};

static void executor_defaults(struct executor *x)
{
	x->spawner_fd = -1;
	x->sigfd = -1;
	x->o.cgroup_parent = "";
	x->o.monitor_uid = x->o.monitor_gid = 65534;
	x->o.cdh_api_timeout_ms = 50000;
	x->o.image_pull_timeout_ms = 1200000;
	x->o.secure_storage_integrity = true;
	x->o.pause_bundle = "/pause_bundle";
	memagent_cfg_defaults(&x->o.mem_agent);
}

/* --name's value as a number in [min, max], or -1 (said on stderr). */
static int opt_number(const char *name, const char *arg, unsigned long min, unsigned long max,
		      unsigned long *out)
{
	if (number_parse_ulong(arg, max, out) < 0 || *out < min) {
		fprintf(stderr, "kata-agent-executor: invalid --%s %s\n", name, arg);
		return -1;
	}
	return 0;
}

/* Option o with value arg into x or s: 0, or -1 when arg is invalid (said
 * on stderr). */
static int set_option(int o, const char *arg, struct executor *x, struct start *s)
{
	unsigned long ul = 0;
	int r = 0;
	switch (o) {
	case 'c':
		r = opt_number("ctl-fd", arg, 0, 1024, &ul);
		s->ctl_fd = (int)ul;
		return r;
	case 'l':
		if (log_level_parse(arg, &s->level) < 0) {
			fprintf(stderr, "kata-agent-executor: invalid --log-level %s\n", arg);
			return -1;
		}
		return 0;
	case 'i':
		x->init_daemon = true;
		return 0;
	case 'A':
		x->o.allow_host_hooks = true;
		return 0;
	case 'T': /* upstream's config refuses 0 for both */
		r = opt_number("cdh-api-timeout-ms", arg, 1, 86400000ul * 7, &ul);
		x->o.cdh_api_timeout_ms = ul;
		return r;
	case 'I':
		r = opt_number("image-pull-timeout-ms", arg, 1, 86400000ul * 7, &ul);
		x->o.image_pull_timeout_ms = ul;
		return r;
	case 'N':
		x->o.secure_storage_integrity = false;
		return 0;
	case 'B':
		if (arg[0] != '/') {
			fprintf(stderr, "kata-agent-executor: --pause-bundle %s: not absolute\n",
				arg);
			return -1;
		}
		x->o.pause_bundle = arg;
		return 0;
	case 'M': { /* checked again: argv is the parent's, the ranges are ours */
		struct kerr e = { 0 };
		if (memagent_cfg_parse(&x->o.mem_agent, arg, &e) < 0) {
			fprintf(stderr, "kata-agent-executor: invalid --mem-agent: %s\n", e.msg);
			return -1;
		}
		return 0;
	}
	case 's':
		s->shared = arg;
		return 0;
	case 'C':
		x->o.cgroup_parent = arg;
		return 0;
	case 'm':
		s->monitor = arg;
		return 0;
	case 'u':
		return opt_number("monitor-uid", arg, 1, 0xfffffffe, &x->o.monitor_uid);
	case 'g':
		return opt_number("monitor-gid", arg, 1, 0xfffffffe, &x->o.monitor_gid);
	case 'p':
		r = opt_number("container-pipe-size", arg, 0, 1u << 30, &ul);
		x->o.pipe_size = (uint32_t)ul;
		return r;
	case 'H': /* device waits (devices/hotplug.h) */
		r = opt_number("hotplug-timeout-ms", arg, 0, 86400000ul, &ul);
		x->o.hotplug_timeout_ms = ul;
		return r;
	case 'P':
		r = opt_number("passfd-listener-port", arg, 0, 0x7fffffff, &ul);
		x->o.passfd_listener_port = (uint32_t)ul;
		return r;
	case 'U':
		x->o.passfd_unix = true;
		return 0;
	case 'D':
		x->o.passfd_direct = true;
		return 0;
	case 'e':
		if (endpoints_parse_list(&x->o.policy, arg) < 0 ||
		    endpoints_blocked_types(&x->o.policy, IPC_ROLE_MONITOR, x->o.monitor_blocked,
					    sizeof(x->o.monitor_blocked)) < 0) {
			fprintf(stderr, "kata-agent-executor: invalid --endpoints %s\n", arg);
			return -1;
		}
		return 0;
	}
	return -1;
}

/* The command line into x and s: -1 to go on, else the status to exit
 * with (0 after --version or --help, 2 on a bad option). */
static int parse_options(int argc, char **argv, struct executor *x, struct start *s)
{
	int o;
	while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (o == 'V' || o == 'h' || o == '?')
			return cli_other_option(o, "kata-agent-executor", usage);
		if (set_option(o, optarg, x, s) < 0)
			return 2;
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/* --shared-dir (made when missing: the runtime shares into it later) and
 * the monitor's binary, as absolute paths in x->o. */
static int resolve_paths(struct executor *x, const struct start *s)
{
	static char shared_real[PATH_MAX], monitor_path[PATH_MAX];
	if (!realpath(s->shared, shared_real) && ((mkdir(s->shared, 0755) < 0 && errno != EEXIST) ||
						  !realpath(s->shared, shared_real))) {
		log_error("--shared-dir %s: %s", s->shared, strerror(errno));
		return -1;
	}
	x->o.shared_dir = shared_real;
	if (s->monitor) {
		if (!helper_path_is_exec(s->monitor) || !realpath(s->monitor, monitor_path)) {
			log_error("--monitor-path %s is not an executable file", s->monitor);
			return -1;
		}
	} else if (helper_path_find("kata-agent-monitor", "monitor", monitor_path,
				    sizeof(monitor_path)) < 0) {
		log_error("kata-agent-monitor not found next to the executor, in the build tree, "
			  "or in %s (use --monitor-path)",
			  KATA_LIBEXECDIR);
		return -1;
	}
	x->o.monitor_path = monitor_path;
	static char launcher_path[PATH_MAX], worker_path[PATH_MAX];
	if (!(x->o.launcher_path = need_helper("kata-agent-launcher", "launcher", launcher_path)) ||
	    !(x->o.worker_path = need_helper("kata-agent-launch-worker", "executor", worker_path)))
		return -1;
	return 0;
}

/* Child subreaper (launchers whose monitor died first are reparented to
 * us, not to the parent, so we reap them), and SIGCHLD, SIGTERM and SIGINT
 * through a signalfd. */
static int take_signals(struct executor *x)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		log_error("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
		return -1;
	}
	static const int signals[] = { SIGCHLD, SIGTERM, SIGINT };
	struct kerr err = { 0 };
	if ((x->sigfd = loop_signalfd(signals, 3, &err)) < 0) {
		log_error("%s", err.msg);
		return -1;
	}
	return 0;
}

/* The control channel's fd: an AF_UNIX SOCK_SEQPACKET socket, made
 * close-on-exec. */
static int check_ctl_fd(int fd)
{
	struct kerr err = { 0 };
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		log_error("started without a control channel on fd %d (run kata-agent instead)",
			  fd);
		return -1;
	}
	if (check_seqpacket(fd, &err) < 0) {
		log_error("control channel fd %d: %s", fd, err.msg);
		return -1;
	}
	/* It arrives without close-on-exec (the parent's dup2): nothing the
	 * executor execs (modprobe, hooks) may hold it. Every other fd of the
	 * executor is opened close-on-exec. */
	int r = fd_set_cloexec(fd);
	if (r < 0) {
		log_error("control channel fd %d: FD_CLOEXEC: %s", fd, strerror(-r));
		return -1;
	}
	return 0;
}

/* The spawner, then the seccomp filter, then the loop: signals, uevents and
 * the control channel. */
static int start_loop(struct executor *x, int ctl_fd)
{
	struct kerr err = { 0 };
	/* What must not inherit the filter (container processes, modprobe)
	 * is started by the spawner, forked before it. */
	if (spawner_start(x, &err) < 0 || executor_seccomp_load(&err) < 0 ||
	    loop_new(&x->loop, &err) < 0 ||
	    loop_add(x->loop, x->sigfd, EPOLLIN, on_signal, x, &err) < 0 ||
	    /* Devices (uevents, hot-plug waits): devices/hotplug.h. */
	    hotplug_start(&x->hp, x->loop, &dev_env_real,
			  x->o.hotplug_timeout_ms ? x->o.hotplug_timeout_ms : 3000, &err) < 0 ||
	    ipc_chan_new(&x->ctl, x->loop, ctl_fd, "control", IPC_ROLE_PARENT, ctl_table,
			 on_ctl_close, x, &err) < 0) {
		log_error("%s", err.msg);
		return -1;
	}
	return 0;
}

static void executor_free(struct executor *x)
{
	memagent_shutdown(x);
	policy_free(x);
	secure_storage_shutdown();
	containers_free_all(x);
	passfd_forget(x);
	swap_ops_free(x);
	hotplug_stop(x->hp);
	oom_free(x);
	sandbox_free(x);
	spawner_stop(x);
	ipc_chan_free(x->fe);
	ipc_chan_free(x->ctl);
	loop_del(x->loop, x->sigfd);
	close(x->sigfd);
	loop_free(x->loop);
}

int main(int argc, char **argv)
{
	static struct executor x;
	struct start s = { .ctl_fd = 3, .level = LOG_LVL_INFO, .shared = "/run/kata-containers" };
	/* On musl (-Dmusl_daemons) a static PIE: its relocated data is
	 * writable until sealed (relro.h); a no-op on glibc. */
	if (relro_seal() < 0) {
		perror("kata-agent-executor: make the relocated data read-only");
		return 1;
	}
	executor_defaults(&x);
	secure_storage_set_orphan_hook(sandbox_container_gone);
	int r = parse_options(argc, argv, &x, &s);
	if (r >= 0)
		return r;
	log_init("executor", STDERR_FILENO, s.level);
	signal(SIGPIPE, SIG_IGN);
	x.o.level = s.level;
	x.cgc.parent = x.o.cgroup_parent;
	x.cgc.root_override = NULL;
	if (resolve_paths(&x, &s) < 0 || take_signals(&x) < 0 || check_ctl_fd(s.ctl_fd) < 0 ||
	    start_loop(&x, s.ctl_fd) < 0)
		return 1;
	log_info("executor started (uid %u, init daemon %s)", (unsigned)getuid(),
		 x.init_daemon ? "yes" : "no");
	memagent_boot(&x);
	struct kerr err = { 0 };
	if (loop_run(x.loop, &err) < 0) {
		log_error("event loop: %s", err.msg);
		x.exit_code = 1;
	}
	executor_free(&x);
	log_info("executor exiting with status %d", x.exit_code);
	return x.exit_code;
}
