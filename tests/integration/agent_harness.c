/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent_harness.c - see agent_harness.h. Test-only code: failures are printed
 * as TAP comments ("# ...") so they show next to the failing test point.
 */
#include "agent_harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "health.pb-c.h"
#include "testutil.h"

/* text with every "@SOCK@" replaced by sock (malloc'd). */
static char *subst_sock(const char *text, const char *sock)
{
	size_t n = 0;
	for (const char *p = text; (p = strstr(p, "@SOCK@")); p += 6)
		n++;
	char *out = malloc(strlen(text) + n * strlen(sock) + 1);
	if (!out)
		return NULL;
	char *o = out;
	for (const char *p = text; *p;) {
		if (strncmp(p, "@SOCK@", 6) == 0) {
			o = stpcpy(o, sock);
			p += 6;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

/* Parse /proc/PID/stat: ppid, pgrp, state and starttime. */
static int proc_stat(pid_t pid, pid_t *ppid, pid_t *pgrp, char *state, unsigned long long *start,
		     char *comm, size_t commlen)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
	if (!lp || !rp || rp < lp)
		return -1;
	if (comm) {
		size_t cl = (size_t)(rp - lp - 1);
		if (cl >= commlen)
			cl = commlen - 1;
		memcpy(comm, lp + 1, cl);
		comm[cl] = '\0';
	}
	/* After ") ": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime cutime cstime priority nice threads
	 * itrealvalue starttime */
	char st;
	int pp, pg;
	unsigned long long s = 0;
	if (sscanf(rp + 2,
		   "%c %d %d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		   &st, &pp, &pg, &s) != 4)
		return -1;
	if (ppid)
		*ppid = pp;
	if (pgrp)
		*pgrp = pg;
	if (state)
		*state = st;
	if (start)
		*start = s;
	return 0;
}

static void remember(struct agent *a, pid_t pid, unsigned long long start, const char *comm)
{
	for (size_t i = 0; i < a->nseen; i++) {
		if (a->seen[i].pid == pid && a->seen[i].start == start) {
			/* First seen between fork and exec: keep the newer name. */
			snprintf(a->seen[i].comm, sizeof(a->seen[i].comm), "%s", comm);
			return;
		}
	}
	if (a->nseen == HARNESS_MAX_PROCS)
		return;
	struct agent_proc *p = &a->seen[a->nseen++];
	p->pid = pid;
	p->start = start;
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
}

/* Walk /proc for the descendants of a->pid and processes in its group. */
static void scan_descendants(struct agent *a)
{
	if (a->pid <= 0)
		return;
	struct {
		pid_t pid, ppid, pgrp;
		unsigned long long start;
		char comm[32];
	} procs[4096];
	size_t n = 0;
	cleanup_closedir DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) && n < sizeof(procs) / sizeof(procs[0])) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		char st;
		if (proc_stat((pid_t)pid, &procs[n].ppid, &procs[n].pgrp, &st, &procs[n].start,
			      procs[n].comm, sizeof(procs[n].comm)) < 0 ||
		    st == 'Z')
			continue;
		procs[n].pid = (pid_t)pid;
		n++;
	}
	/* Transitive closure of "child of something known"; few passes suffice. */
	pid_t known[HARNESS_MAX_PROCS];
	size_t nk = 0;
	known[nk++] = a->pid;
	for (int pass = 0; pass < 8; pass++) {
		bool grew = false;
		for (size_t i = 0; i < n; i++) {
			bool in = procs[i].pgrp == a->pid;
			bool have = false;
			for (size_t k = 0; k < nk; k++) {
				if (known[k] == procs[i].ppid)
					in = true;
				if (known[k] == procs[i].pid)
					have = true;
			}
			if (in && !have && nk < HARNESS_MAX_PROCS) {
				known[nk++] = procs[i].pid;
				grew = true;
			}
			if (in || procs[i].pid == a->pid)
				remember(a, procs[i].pid, procs[i].start, procs[i].comm);
		}
		if (!grew)
			break;
	}
}

static bool is_frontend(const struct agent_proc *p)
{
	if (strstr(p->comm, "front"))
		return true;
	char path[64], exe[256];
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)p->pid);
	ssize_t n = readlink(path, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		const char *base = strrchr(exe, '/');
		if (strstr(base ? base : exe, "frontend"))
			return true;
	}
	return false;
}

pid_t agent_frontend_pid(struct agent *a)
{
	scan_descendants(a);
	pid_t found = -1;
	for (size_t i = 0; i < a->nseen; i++) {
		char st;
		unsigned long long start;
		if (proc_stat(a->seen[i].pid, NULL, NULL, &st, &start, NULL, 0) < 0 || st == 'Z' ||
		    start != a->seen[i].start)
			continue;
		if (is_frontend(&a->seen[i]))
			found = a->seen[i].pid; /* the last one seen is the newest */
	}
	return found;
}

int agent_leftovers(const struct agent *a, char *desc, size_t desclen)
{
	int n = 0;
	size_t off = 0;
	if (desclen)
		desc[0] = '\0';
	for (size_t i = 0; i < a->nseen; i++) {
		char st;
		unsigned long long start;
		if (proc_stat(a->seen[i].pid, NULL, NULL, &st, &start, NULL, 0) < 0 || st == 'Z' ||
		    start != a->seen[i].start)
			continue;
		n++;
		if (off < desclen) {
			int w = snprintf(desc + off, desclen - off, " %d(%s)", (int)a->seen[i].pid,
					 a->seen[i].comm);
			if (w > 0)
				off += (size_t)w;
		}
	}
	return n;
}

int agent_wait_exit(struct agent *a, int timeout_ms)
{
	if (a->exit_status >= 0)
		return a->exit_status;
	if (a->pid <= 0)
		return -1;
	uint64_t end = tu_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		int st;
		pid_t r = waitpid(a->pid, &st, WNOHANG);
		if (r == a->pid) {
			a->exit_status = st;
			return st;
		}
		if (r < 0 && errno != EINTR)
			return -1;
		if (tu_now_ms() >= end)
			return -1;
		tu_sleep_ms(20);
	}
}

char *agent_read_log(const struct agent *a)
{
	if (!a->log[0])
		return NULL;
	cleanup_fclose FILE *f = fopen(a->log, "re");
	if (!f)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	size_t n;
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 1024) {
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	buf[len] = '\0';
	return buf;
}

void agent_dump_log(const struct agent *a, int last_lines)
{
	cleanup_free char *log = agent_read_log(a);
	if (!log) {
		printf("# (no agent log)\n");
		return;
	}
	const char *start = log + strlen(log);
	int lines = 0;
	while (start > log && lines <= last_lines) {
		start--;
		if (*start == '\n')
			lines++;
	}
	if (*start == '\n')
		start++;
	printf("# agent log (%s), last lines:\n", a->log);
	for (const char *p = start; *p;) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		printf("#   %.*s\n", len > 400 ? 400 : len, p);
		p += len + (nl ? 1 : 0);
	}
}

struct ttrpc_client *agent_connect(const struct agent *a)
{
	struct ttrpc_client *c = NULL;
	struct kerr err = { 0 };
	if (ttrpc_client_connect(&c, a->addr, 5000000000ull, &err) < 0) {
		printf("# connect %s: %s\n", a->addr, err.msg);
		return NULL;
	}
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(ttrpc_client_fd(c), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(ttrpc_client_fd(c), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return c;
}

int agent_connect_raw(const struct agent *a)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", a->sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("# connect %s: %s\n", a->sock, strerror(errno));
		close(fd);
		return -1;
	}
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

int client_health(struct ttrpc_client *c)
{
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	struct kerr err = { 0 };
	if (ttrpc_client_call(c, "grpc.Health", "Check", &req.base,
			      &grpc__health_check_response__descriptor, &resp, 0, &err) < 0) {
		printf("# grpc.Health/Check: %s (status %d)\n", err.msg, err.status);
		return -1;
	}
	Grpc__HealthCheckResponse *h = (Grpc__HealthCheckResponse *)resp;
	int ok = h->status == GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	if (!ok)
		printf("# grpc.Health/Check: status %d, expected SERVING\n", h->status);
	protobuf_c_message_free_unpacked(resp, NULL);
	return ok ? 0 : -1;
}

int agent_health(const struct agent *a)
{
	struct ttrpc_client *c = agent_connect(a);
	if (!c)
		return -1;
	int r = client_health(c);
	ttrpc_client_free(c);
	return r;
}

/* Quietly: is the agent answering yet? */
static bool agent_ready(const struct agent *a)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", a->sock);
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return false;
	struct ttrpc_client *c = NULL;
	struct kerr err = { 0 };
	if (ttrpc_client_from_fd(&c, take_fd(&fd), &err) < 0)
		return false;
	struct timeval tv = { .tv_sec = 2 };
	setsockopt(ttrpc_client_fd(c), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	int r = ttrpc_client_call(c, "grpc.Health", "Check", &req.base,
				  &grpc__health_check_response__descriptor, &resp, 0, &err);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	ttrpc_client_free(c);
	return r >= 0;
}

/* Agents currently running, so a fatal signal (meson's timeout sends
 * SIGTERM) still takes them and their directories down. */
#define MAX_ACTIVE 8
static struct agent *volatile active[MAX_ACTIVE];

static void on_fatal_signal(int sig)
{
	for (int i = 0; i < MAX_ACTIVE; i++) {
		struct agent *a = active[i];
		if (!a)
			continue;
		if (a->pid > 0)
			kill(-a->pid, SIGKILL);
		for (size_t k = 0; k < a->nseen; k++)
			kill(a->seen[k].pid, SIGKILL);
		/* unlink and rmdir are async-signal-safe. */
		unlink(a->sock);
		unlink(a->log);
		if (a->config[0])
			unlink(a->config);
		char cmdline[128];
		size_t n = strlen(a->dir);
		if (n + sizeof("/cmdline") <= sizeof(cmdline)) {
			memcpy(cmdline, a->dir, n);
			memcpy(cmdline + n, "/cmdline", sizeof("/cmdline"));
			unlink(cmdline);
		}
		rmdir(a->dir);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void track(struct agent *a, bool on)
{
	static bool installed;
	if (!installed) {
		struct sigaction sa = { .sa_handler = on_fatal_signal };
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		installed = true;
	}
	for (int i = 0; i < MAX_ACTIVE; i++) {
		if (on && !active[i]) {
			active[i] = a;
			return;
		}
		if (!on && active[i] == a)
			active[i] = NULL;
	}
}

int agent_start(struct agent *a, const struct agent_opts *opts)
{
	static const struct agent_opts none = { 0 };
	if (!opts)
		opts = &none;
	memset(a, 0, sizeof(*a));
	a->pid = -1;
	a->exit_status = -1;
	const char *bin = getenv("KATA_AGENT");
	if (!bin || !*bin) {
		printf("# KATA_AGENT is not set (path of the kata-agent binary)\n");
		return -1;
	}
	snprintf(a->dir, sizeof(a->dir), "/tmp/kata-itest.XXXXXX");
	if (!mkdtemp(a->dir)) {
		printf("# mkdtemp: %s\n", strerror(errno));
		a->dir[0] = '\0';
		return -1;
	}
	track(a, true);
	snprintf(a->sock, sizeof(a->sock), "%s/agent.sock", a->dir);
	snprintf(a->addr, sizeof(a->addr), "unix://%s", a->sock);
	snprintf(a->log, sizeof(a->log), "%s/agent.log", a->dir);

	char cmdline_path[128], cmdline[1024];
	snprintf(cmdline_path, sizeof(cmdline_path), "%s/cmdline", a->dir);
	snprintf(cmdline, sizeof(cmdline), "agent.server_addr=%s agent.log=debug %s\n", a->addr,
		 opts->cmdline_extra ? opts->cmdline_extra : "");
	if (tu_write_file(cmdline_path, cmdline, 0600) < 0) {
		printf("# write %s: %s\n", cmdline_path, strerror(errno));
		return -1;
	}
	if (opts->config) {
		snprintf(a->config, sizeof(a->config), "%s/agent.toml", a->dir);
		cleanup_free char *text = subst_sock(opts->config, a->addr);
		if (!text || tu_write_file(a->config, text, 0600) < 0) {
			printf("# write %s failed\n", a->config);
			return -1;
		}
	}

	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		printf("# fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		/* If the test program dies, the agent goes too. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int lfd = open(a->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int nfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (lfd < 0 || nfd < 0)
			_exit(127);
		dup2(nfd, 0);
		dup2(lfd, 1);
		dup2(lfd, 2);
		signal(SIGPIPE, SIG_DFL);
		const char *argv[6] = { bin, "--cmdline", cmdline_path, NULL, NULL, NULL };
		if (a->config[0]) {
			argv[3] = "--config";
			argv[4] = a->config;
		}
		execv(bin, (char *const *)argv);
		dprintf(2, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid); /* no race with the child's own setpgid */
	a->pid = pid;
	if (opts->no_wait)
		return 0;

	uint64_t end = tu_now_ms() + 15000;
	while (tu_now_ms() < end) {
		scan_descendants(a);
		if (agent_wait_exit(a, 0) >= 0) {
			printf("# kata-agent exited early (wait status 0x%x)\n", a->exit_status);
			agent_dump_log(a, 15);
			return -1;
		}
		if (agent_ready(a)) {
			scan_descendants(a);
			return 0;
		}
		tu_sleep_ms(20);
	}
	printf("# kata-agent did not answer grpc.Health/Check on %s within 15 s\n", a->addr);
	agent_dump_log(a, 15);
	return -1;
}

int agent_stop(struct agent *a)
{
	if (a->pid <= 0)
		return 0;
	scan_descendants(a);
	if (a->exit_status < 0)
		kill(-a->pid, SIGTERM);
	/* Bounds for ASan x4 on a loaded machine; the waits end as soon as
	 * the agent is gone. */
	if (agent_wait_exit(a, 15000) < 0) {
		printf("# kata-agent did not exit within 15 s of SIGTERM; killing its group\n");
		kill(-a->pid, SIGKILL);
		agent_wait_exit(a, 5000);
	}
	/* Give processes that left the group a moment, then force them. */
	char desc[512];
	uint64_t end = tu_now_ms() + 10000;
	int n;
	while ((n = agent_leftovers(a, desc, sizeof(desc))) > 0 && tu_now_ms() < end)
		tu_sleep_ms(20);
	if (n > 0) {
		for (size_t i = 0; i < a->nseen; i++) {
			unsigned long long start;
			char st;
			if (proc_stat(a->seen[i].pid, NULL, NULL, &st, &start, NULL, 0) == 0 &&
			    start == a->seen[i].start && st != 'Z')
				kill(a->seen[i].pid, SIGKILL);
		}
	}
	kill(-a->pid, SIGKILL); /* harmless when the group is gone */
	a->pid = -1;
	return n;
}

void agent_cleanup(struct agent *a)
{
	if (a->pid > 0) {
		char desc[512];
		int n = agent_stop(a);
		if (n > 0) {
			agent_leftovers(a, desc, sizeof(desc));
			printf("# leftover processes after stop:%s\n", desc);
		}
	}
	if (!a->dir[0])
		return;
	cleanup_closedir DIR *d = opendir(a->dir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			unlinkat(dirfd(d), de->d_name, 0);
		}
	}
	if (rmdir(a->dir) < 0 && errno != ENOENT)
		printf("# rmdir %s: %s\n", a->dir, strerror(errno));
	a->dir[0] = '\0';
	track(a, false);
}
