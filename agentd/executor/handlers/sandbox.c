/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox.c - CreateSandbox in the executor: the sandbox's id, hostname
 * and storages (mounted with storage.c into the sandbox's own set); the
 * end of DestroySandbox once its containers are gone (containers.c
 * on_destroy_sandbox removes them).
 *
 * As upstream (rpc.rs create_sandbox), a second CreateSandbox is not an
 * error: it replaces the hostname and id and adds its storages.
 *
 * Shared namespaces (upstream setup_shared_namespaces, sandbox_pidns): at
 * CreateSandbox a holder process is made in new IPC, UTS (named by the
 * sandbox's hostname) and pid namespaces, whose pid 1 it is. Every
 * container's IPC and UTS namespaces are the holder's, as upstream shares
 * them across the pod. A container whose CreateContainer asks for
 * sandbox_pidns (the Go runtime does for the app containers of a
 * shareProcessNamespace pod) joins the pod's pid namespace: the holder's
 * when CreateSandbox asked for it too (older runtimes), else, as upstream
 * (update_shared_pidns), the one of the pod's first container, the pause
 * container; every other container gets a new one. The holder reaps what is
 * orphaned in its pid namespace and goes with the sandbox.
 *
 * Kernel modules (load_kernel_module upstream): modprobe -v NAME PARAMS...,
 * one at a time, waited for (bounded), its output in the error.
 *
 * DNS (setup_guest_dns upstream): the lines (trimmed; the empty ones the Go
 * runtime's split leaves skipped) go to <shared>/sandbox/resolv.conf,
 * written through common/beneath.h (no symlink on the way, no special
 * file or hard link written through) and bind-mounted, from the fd that
 * was written, over /etc/resolv.conf when the agent is the guest's init
 * (stand-alone on a host, the host's file is left alone: the file is
 * written, the mount skipped with a log line).
 *
 * DestroySandbox (upstream destroy_sandbox): every container is removed,
 * the answer goes out, then the parent is told (CTL_SANDBOX_DESTROYED) and
 * stops the agent, which powers the guest off as PID 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libc_compat.h"
#include "beneath.h"
#include "cleanup.h"
#include "confine.h"
#include "executor.h"
#include "answer.h"
#include "procfs.h"
#include "sandbox.h"
#include "guest_hooks.h"
#include "secure_storage.h"
#include "spawner.h"
#include "watcher.h"
#include "grpc_status.h"

#define DNS_MAX_LINES 256u
#define DNS_LINE_MAX 1024u
#define GUEST_DNS_FILE "/etc/resolv.conf"
#define MODULES_MAX 64u
#define MODULE_PARAMS_MAX 32u
#define MODPROBE_TIMEOUT_MS 10000
#define MODPROBE_OUTPUT_MAX 1024

/* A pipe (both ends close-on-exec) and a fork: *pid is 0 in the child;
 * on failure nothing is left open. */
static int fork_piped(int p[2], pid_t *pid, struct kerr *err)
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return kerr_set_status(err, GRPC_INTERNAL, -errno, "pipe: %s", strerror(errno));
	*pid = fork();
	if (*pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return kerr_set_status(err, GRPC_INTERNAL, -e, "fork: %s", strerror(e));
	}
	return 0;
}

static bool module_name_ok(const char *s)
{
	size_t l = strlen(s);
	if (l == 0 || l > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

/* key=value, printable, no blank (modprobe takes each as one argument; a
 * leading '-' would be an option of modprobe's own). */
static bool module_param_ok(const char *s)
{
	size_t l = strlen(s);
	if (l == 0 || l > 512 || s[0] == '-' || !strchr(s, '='))
		return false;
	for (; *s; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			return false;
	return true;
}

static int modules_check(Grpc__KernelModule **mods, size_t n, struct kerr *err)
{
	if (n > MODULES_MAX)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -E2BIG,
				       "CreateSandbox: %zu kernel modules is more than %u", n,
				       MODULES_MAX);
	for (size_t i = 0; i < n; i++) {
		if (!module_name_ok(mods[i]->name))
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "CreateSandbox: kernel_modules[%zu] name \"%.64s\" is not "
					       "a module name ([A-Za-z0-9_-], 1..64)",
					       i, mods[i]->name);
		if (mods[i]->n_parameters > MODULE_PARAMS_MAX)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -E2BIG,
					       "CreateSandbox: kernel_modules[%zu]: more than %u "
					       "parameters",
					       i, MODULE_PARAMS_MAX);
		for (size_t j = 0; j < mods[i]->n_parameters; j++)
			if (!module_param_ok(mods[i]->parameters[j]))
				return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
						       "CreateSandbox: kernel_modules[%zu] parameter "
						       "%zu is not key=value (printable, no blank)",
						       i, j);
	}
	return 0;
}

static const char *modprobe_path(void)
{
	static const char *const paths[] = { "/sbin/modprobe", "/usr/sbin/modprobe",
					     "/bin/modprobe", "/usr/bin/modprobe" };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* Run modprobe for one module and wait for it (the executor's loop waits:
 * module loading is short; bounded by MODPROBE_TIMEOUT_MS, then killed).
 * The spawner starts it: the executor's seccomp filter denies
 * finit_module, and modprobe would inherit it. */
static int modprobe(struct executor *x, const Grpc__KernelModule *mod, struct kerr *err)
{
	const char *mp = modprobe_path();
	if (!mp)
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -ENOENT,
				       "kernel module %s: no modprobe in this guest", mod->name);
	const char *argv[4 + MODULE_PARAMS_MAX + 1];
	size_t a = 0;
	argv[a++] = mp;
	argv[a++] = "modprobe";
	argv[a++] = "-v";
	argv[a++] = mod->name;
	for (size_t j = 0; j < mod->n_parameters; j++)
		argv[a++] = mod->parameters[j];
	argv[a] = NULL;
	int p[2];
	pid_t pid;
	if (pipe2(p, O_CLOEXEC) < 0)
		return kerr_set_status(err, GRPC_INTERNAL, -errno, "pipe: %s", strerror(errno));
	int r = spawner_modprobe(x, argv, p[1], &pid, err);
	close(p[1]);
	if (r < 0) {
		close(p[0]);
		return kerr_prefix(err, "kernel module %s", mod->name);
	}
	cleanup_close int rfd = p[0];
	char out[MODPROBE_OUTPUT_MAX + 1];
	size_t got = 0;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = MODPROBE_TIMEOUT_MS - ((now.tv_sec - t0.tv_sec) * 1000 +
						   (now.tv_nsec - t0.tv_nsec) / 1000000);
		struct pollfd pf = { .fd = rfd, .events = POLLIN };
		if (left <= 0 || poll(&pf, 1, (int)left) == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return kerr_set_status(err, GRPC_DEADLINE_EXCEEDED, -ETIME,
					       "kernel module %s: modprobe took more than %d ms",
					       mod->name, MODPROBE_TIMEOUT_MS);
		}
		char buf[256];
		ssize_t n = read(rfd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* EOF: modprobe is done (or closed its output) */
		size_t keep = (size_t)n < MODPROBE_OUTPUT_MAX - got ? (size_t)n
								    : MODPROBE_OUTPUT_MAX - got;
		memcpy(out + got, buf, keep);
		got += keep;
	}
	out[got] = '\0';
	for (size_t i = 0; i < got; i++)
		if (out[i] == '\n' || out[i] < 0x20 || out[i] >= 0x7f)
			out[i] = ' ';
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return kerr_set_status(err, GRPC_INTERNAL, -EIO,
				       "kernel module %s: modprobe exited with %d: %s", mod->name,
				       WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), out);
	log_info("kernel module %s loaded%s%s", mod->name, got ? ": " : "", out);
	return 0;
}

/* dns[i] without its leading and trailing blanks (upstream trims each). */
static const char *dns_trim(const char *s, size_t *len)
{
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n' || *s == '\v' || *s == '\f')
		s++;
	size_t n = strlen(s);
	while (n && strchr(" \t\r\n\v\f", s[n - 1]))
		n--;
	*len = n;
	return s;
}

/* Each line, trimmed, printable on one line; bounded (upstream takes them
 * as they come). Empty ones are fine: the Go runtime's getDNS splits the
 * host's resolv.conf on "\n", so its list ends with one. */
static int dns_check(char **dns, size_t n, struct kerr *err)
{
	if (n > DNS_MAX_LINES)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -E2BIG,
				       "CreateSandbox: %zu dns lines is more than %u", n,
				       DNS_MAX_LINES);
	for (size_t i = 0; i < n; i++) {
		size_t l;
		const char *p = dns_trim(dns[i], &l);
		bool ok = l <= DNS_LINE_MAX;
		for (size_t k = 0; ok && k < l; k++)
			ok = (p[k] >= 0x20 && p[k] < 0x7f) || p[k] == '\t';
		if (!ok)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "CreateSandbox: dns[%zu] must be at most %u printable "
					       "bytes on one line",
					       i, DNS_LINE_MAX);
	}
	return 0;
}

/* Pid 1 of the shared namespace: reap whatever is orphaned there, forever
 * (SIGKILL from the executor ends it, and with it the namespace). */
__attribute__((noreturn)) static void pidns_holder(void)
{
	sigset_t all, chld;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	prctl(PR_SET_NAME, "kata-pidns", 0, 0, 0);
	/* Its /proc/1/root and cwd, which a container of the pod that may
	 * ptrace (CAP_SYS_PTRACE) could follow, lead to an empty tmpfs, not
	 * to the guest's root. */
	struct kerr e = { 0 };
	if (confine_empty_root(&e) < 0)
		_exit(1);
	/* Reaping needs no privilege: drop to nobody (all capabilities go with
	 * uid 0) before containers can see this process. */
	if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
	    setresuid(65534, 65534, 65534) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		_exit(1);
	for (;;) {
		siginfo_t si;
		if (sigwaitinfo(&chld, &si) < 0 && errno != EINTR)
			pause();
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}

/* Fork H1, which unshares IPC, UTS (and sets the hostname) and pid
 * namespaces and forks the holder H2 (pid 1 there), tells us H2's pid and
 * exits; H2 is then our child (the executor is a child subreaper). */
static int pidns_start(struct executor *x, const char *hostname, struct kerr *err)
{
	int p[2];
	pid_t h1 = -1;
	int r = fork_piped(p, &h1, err);
	if (r < 0)
		return r;
	if (h1 == 0) {
		close(p[0]);
		int32_t pid = -1;
		if (unshare(CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS) == 0 &&
		    (!hostname[0] || sethostname(hostname, strlen(hostname)) == 0)) {
			pid_t h2 = fork();
			if (h2 == 0) {
				close(p[1]);
				close_range(0, ~0U, 0);
				pidns_holder();
			}
			pid = h2;
		}
		if (write(p[1], &pid, sizeof(pid)) != sizeof(pid))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	int32_t pid = -1;
	ssize_t n = read(p[0], &pid, sizeof(pid));
	close(p[0]);
	while (waitpid(h1, NULL, 0) < 0 && errno == EINTR)
		;
	if (n != sizeof(pid) || pid <= 0)
		return kerr_set_status(err, GRPC_INTERNAL, -ECHILD,
				       "sandbox namespaces: the holder did not start");
	x->sb.pidns_pid = pid;
	log_info("sandbox namespaces (ipc, uts, pid) held by pid %d", (int)pid);
	return 0;
}

static void pidns_stop(struct executor *x)
{
	if (x->sb.pidns_pid <= 0)
		return;
	kill(x->sb.pidns_pid, SIGKILL);
	while (waitpid(x->sb.pidns_pid, NULL, 0) < 0 && errno == EINTR)
		;
	x->sb.pidns_pid = 0;
}

bool sandbox_reaped(struct executor *x, pid_t pid)
{
	if (pid <= 0 || pid != x->sb.pidns_pid)
		return false;
	log_error("the sandbox pid namespace's holder (pid %d) exited", (int)pid);
	x->sb.pidns_pid = 0;
	return true;
}

/* Remember the pid namespace of ct's init as the pod's (upstream
 * update_shared_pidns: the first container's). Its identity (device and
 * inode of /proc/PID/ns/pid) is checked on every later use, and the
 * process is checked to be a child of the container's monitor after the
 * namespace was looked at, so a reused pid cannot stand in for it. */
static int pidns_pin(struct executor *x, struct container *ct, struct kerr *err)
{
	if (ct->removing || ct->init_pid <= 0 || ct->init_exited)
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -ESRCH,
				       "Sandbox does not have sandbox_pidns: the pod's first "
				       "container %s has no running init",
				       ct->id);
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)ct->init_pid);
	if (stat(path, &st) < 0 || procfs_ppid(ct->init_pid) != ct->x_pid)
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -ESRCH,
				       "Sandbox does not have sandbox_pidns: the init of the pod's "
				       "first container %s is gone",
				       ct->id);
	snprintf(x->sb.pidns_ctr, sizeof(x->sb.pidns_ctr), "%s", ct->id);
	x->sb.pidns_dev = st.st_dev;
	x->sb.pidns_ino = st.st_ino;
	log_info("the pod's pid namespace is container %s's (init pid %d)", ct->id,
		 (int)ct->init_pid);
	return 0;
}

/* Where a container asking for sandbox_pidns finds the pod's pid namespace
 * (into path; "" = a new one). The holder's when CreateSandbox asked for
 * sharing it (older runtimes). Otherwise the first container's, as upstream:
 * the Go runtime never sets CreateSandbox.sandbox_pidns, and sets
 * CreateContainer.sandbox_pidns on the app containers of a
 * shareProcessNamespace pod, which must see its pause container. With no
 * container yet, this one is the first: a new namespace, which later ones
 * join. */
static int shared_pidns_path(struct executor *x, char *path, size_t len, struct kerr *err)
{
	if (x->sb.share_pid && x->sb.pidns_pid > 0) {
		snprintf(path, len, "/proc/%d/ns/pid", (int)x->sb.pidns_pid);
		return 0;
	}
	if (!x->sb.pidns_ctr[0]) {
		struct container *first = x->ctrs;
		while (first && first->next)
			first = first->next; /* the list is newest first */
		if (!first) {
			path[0] = '\0';
			return 0;
		}
		int r = pidns_pin(x, first, err);
		if (r < 0)
			return r;
	}
	struct container *ct = executor_container(x, x->sb.pidns_ctr);
	struct stat st;
	char p[64] = "";
	if (ct && !ct->removing && ct->init_pid > 0 && !ct->init_exited)
		snprintf(p, sizeof(p), "/proc/%d/ns/pid", (int)ct->init_pid);
	if (!p[0] || stat(p, &st) < 0 || st.st_dev != x->sb.pidns_dev ||
	    st.st_ino != x->sb.pidns_ino)
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -ESRCH,
				       "the pod's pid namespace is gone with the init of its first "
				       "container %s",
				       x->sb.pidns_ctr);
	snprintf(path, len, "%s", p);
	return 0;
}

int sandbox_set_pidns(struct executor *x, Grpc__CreateContainerRequest *req, struct kerr *err)
{
	Grpc__Linux *lx = req->oci ? req->oci->linux : NULL;
	if (!lx)
		return 0;
	/* IPC and UTS: the pod's, whatever the spec says (as upstream). */
	for (size_t i = 0; x->sb.pidns_pid > 0 && i < lx->n_namespaces; i++) {
		Grpc__LinuxNamespace *ns = lx->namespaces[i];
		bool ipc = !strcmp(ns->type, "ipc"), uts = !strcmp(ns->type, "uts");
		if (!ipc && !uts)
			continue;
		char p[64];
		snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)x->sb.pidns_pid, ipc ? "ipc" : "uts");
		char *np = strdup(p);
		if (!np)
			return kerr_set(err, -ENOMEM, "out of memory");
		/* An unset proto3 string is protobuf-c's shared empty one. */
		if (ns->path != protobuf_c_empty_string)
			free(ns->path);
		ns->path = np;
	}
	char path[64] = "";
	if (req->sandbox_pidns && shared_pidns_path(x, path, sizeof(path), err) < 0)
		return kerr_prefix(err, "container %s: sandbox_pidns", req->container_id);
	/* Drop every pid entry, then append ours (the spec's own path, a
	 * host pid namespace, is never used: upstream resets it too). */
	size_t k = 0;
	for (size_t i = 0; i < lx->n_namespaces; i++) {
		if (!strcmp(lx->namespaces[i]->type, "pid"))
			protobuf_c_message_free_unpacked(&lx->namespaces[i]->base, NULL);
		else
			lx->namespaces[k++] = lx->namespaces[i];
	}
	lx->n_namespaces = k;
	Grpc__LinuxNamespace **nv = realloc(lx->namespaces, (k + 1) * sizeof(*nv));
	Grpc__LinuxNamespace *ns = malloc(sizeof(*ns));
	if (nv)
		lx->namespaces = nv;
	if (!nv || !ns) {
		free(ns);
		return kerr_set(err, -ENOMEM, "out of memory");
	}
	grpc__linux_namespace__init(ns);
	ns->type = strdup("pid");
	ns->path = strdup(path);
	if (!ns->type || !ns->path) {
		protobuf_c_message_free_unpacked(&ns->base, NULL);
		return kerr_set(err, -ENOMEM, "out of memory");
	}
	nv[lx->n_namespaces++] = ns;
	return 0;
}

/* Bind the file fd (what dns_setup wrote) over the guest's
 * /etc/resolv.conf. The fd, not a path, is mounted (open_tree), so nothing
 * swapped in after the write can be bound instead. */
static int dns_bind(struct executor *x, int fd, struct kerr *err)
{
	struct stat st, fst;
	/* As upstream: no /etc/resolv.conf in the image, nothing to cover; a
	 * symlink there is replaced by an empty file to mount over. */
	if (lstat(GUEST_DNS_FILE, &st) < 0)
		return 0;
	if (S_ISDIR(st.st_mode))
		return kerr_set_status(err, GRPC_INTERNAL, -EISDIR, "%s is a directory",
				       GUEST_DNS_FILE);
	if (fstat(fd, &fst) < 0)
		return kerr_set_status(err, GRPC_INTERNAL, -errno, "fstat: %s", strerror(errno));
	/* A second CreateSandbox rewrote the file already bound in place. */
	if (x->sb.dns_bound && fst.st_dev == x->sb.dns_dev && fst.st_ino == x->sb.dns_ino)
		return 0;
	if (S_ISLNK(st.st_mode)) {
		if (unlink(GUEST_DNS_FILE) < 0)
			return kerr_set_status(err, GRPC_INTERNAL, -errno, "unlink %s: %s",
					       GUEST_DNS_FILE, strerror(errno));
		int f = open(GUEST_DNS_FILE, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (f < 0)
			return kerr_set_status(err, GRPC_INTERNAL, -errno, "create %s: %s",
					       GUEST_DNS_FILE, strerror(errno));
		close(f);
	}
	cleanup_close int tree = open_tree(fd, "",
					   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (tree < 0 || move_mount(tree, "", AT_FDCWD, GUEST_DNS_FILE, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return kerr_set_status(err, GRPC_INTERNAL, -errno, "bind the DNS file over %s: %s",
				       GUEST_DNS_FILE, strerror(errno));
	x->sb.dns_bound = true;
	x->sb.dns_dev = fst.st_dev;
	x->sb.dns_ino = fst.st_ino;
	return 0;
}

static int dns_setup(struct executor *x, char **dns, size_t n, struct kerr *err)
{
	if (n == 0)
		return 0;
	size_t total = 1;
	for (size_t i = 0; i < n; i++)
		total += strlen(dns[i]) + 1;
	cleanup_free char *text = malloc(total);
	if (!text)
		return kerr_set(err, -ENOMEM, "out of memory");
	size_t len = 0, lines = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l;
		const char *p = dns_trim(dns[i], &l);
		if (!l)
			continue;
		memcpy(text + len, p, l);
		len += l;
		text[len++] = '\n';
		lines++;
	}
	/* <shared>/sandbox/resolv.conf, from an fd of the shared directory:
	 * a symlink planted as "sandbox" or "resolv.conf" (by a container
	 * that can write there) fails the request, and a fifo, device or hard
	 * link there is not written through. */
	cleanup_close int shared = beneath_open_root(x->o.shared_dir, err);
	if (shared < 0)
		return shared;
	cleanup_close int dir = beneath_open_dir(shared, "sandbox", true, 0755, err);
	if (dir < 0)
		return dir;
	cleanup_close int fd = beneath_write_file(dir, "resolv.conf", text, len, 0644, err);
	if (fd < 0)
		return kerr_prefix(err, "%s/sandbox", x->o.shared_dir);
	if (!x->init_daemon) {
		log_info("DNS: %zu lines written to %s/sandbox/resolv.conf; not the guest's init: "
			 "%s left alone",
			 lines, x->o.shared_dir, GUEST_DNS_FILE);
		return 0;
	}
	int r = dns_bind(x, fd, err);
	if (r < 0)
		return r;
	log_info("DNS: %zu lines, %s/sandbox/resolv.conf bound over %s", lines, x->o.shared_dir,
		 GUEST_DNS_FILE);
	return 0;
}

/* The watchable-bind poll (watcher.h): a one-shot timer re-armed while
 * some storage is polled. */
static struct loop_timer *watch_timer;

static void on_watch_timer(struct loop *l, void *data)
{
	watch_timer = NULL;
	if (watch_tick() > 0)
		watch_timer = loop_timer_add(l, loop_now_ns() + WATCH_INTERVAL_MS * 1000000ull,
					     on_watch_timer, data);
}

void storage_watch_schedule(struct executor *x)
{
	if (!watch_timer && watch_count() > 0)
		watch_timer = loop_timer_add(x->loop,
					     loop_now_ns() + WATCH_INTERVAL_MS * 1000000ull,
					     on_watch_timer, x);
}

int on_create_sandbox(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	const Grpc__CreateSandboxRequest *req = m->in;
	struct kerr e = { 0 };
	if (req->sandbox_id[0] && !ipc_id_valid(req->sandbox_id, false)) {
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -EINVAL,
				"CreateSandbox: invalid sandbox id");
		goto out;
	}
	if (strlen(req->hostname) >= sizeof(x->sb.hostname)) {
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -EINVAL,
				"CreateSandbox: hostname of %zu bytes is too long",
				strlen(req->hostname));
		goto out;
	}
	if (x->sb.destroying) {
		kerr_set_status(&e, GRPC_FAILED_PRECONDITION, -ESHUTDOWN,
				"CreateSandbox: the sandbox is being destroyed");
		goto out;
	}
	if (dns_check(req->dns, req->n_dns, &e) < 0 ||
	    modules_check(req->kernel_modules, req->n_kernel_modules, &e) < 0)
		goto out;
	if (!x->sb.storages && storage_set_new(&x->sb.storages, &e) < 0)
		goto out;
	struct storage_policy pol;
	const char *roots[1];
	executor_storage_policy(x, &pol, roots);
	for (size_t i = 0; i < req->n_storages; i++)
		if (storage_sandbox_check(req->storages[i], &e) < 0) {
			kerr_prefix(&e, "CreateSandbox: storage %zu", i);
			goto out;
		}
	for (size_t i = 0; i < req->n_storages; i++)
		if (storage_add(x->sb.storages, req->storages[i], &pol, &e) < 0) {
			kerr_prefix(&e, "CreateSandbox: storage %zu", i);
			goto out;
		}
	storage_watch_schedule(x);
	if (x->sb.pidns_pid <= 0 && pidns_start(x, req->hostname, &e) < 0) {
		kerr_prefix(&e, "CreateSandbox");
		goto out;
	}
	if (req->sandbox_pidns)
		x->sb.share_pid = true;
	/* Problems with the path are logged, as upstream; only running out of
	 * memory fails. */
	if (req->guest_hook_path[0] && guest_hooks_load(x, req->guest_hook_path, &e) < 0) {
		kerr_prefix(&e, "CreateSandbox: guest hooks");
		goto out;
	}
	for (size_t i = 0; i < req->n_kernel_modules; i++)
		if (modprobe(x, req->kernel_modules[i], &e) < 0) {
			kerr_prefix(&e, "CreateSandbox");
			goto out;
		}
	if (dns_setup(x, req->dns, req->n_dns, &e) < 0) {
		kerr_prefix(&e, "CreateSandbox: dns");
		goto out;
	}
	snprintf(x->sb.hostname, sizeof(x->sb.hostname), "%s", req->hostname);
	if (req->sandbox_id[0])
		snprintf(x->sb.id, sizeof(x->sb.id), "%s", req->sandbox_id);
	x->sb.created = true;
	log_info("sandbox %s created (hostname %s, %zu storages)", x->sb.id, x->sb.hostname,
		 req->n_storages);
out:
	if (e.msg[0])
		return answer_fail(c, m->hdr.id, &e, err);
	return ipc_chan_send(c, IPC_OK, m->hdr.id, NULL, 0, -1, err);
}

static void destroy_done(struct executor *x)
{
	secure_storage_release("DestroySandbox");
	storage_set_free(x->sb.trusted);
	x->sb.trusted = NULL;
	storage_set_free(x->sb.storages);
	x->sb.storages = NULL;
	x->sb.created = false;
	x->sb.destroying = false;
	x->sb.id[0] = x->sb.hostname[0] = '\0';
	if (x->sb.guest_hooks)
		protobuf_c_message_free_unpacked(&x->sb.guest_hooks->base, NULL);
	x->sb.guest_hooks = NULL;
	pidns_stop(x);
	x->sb.share_pid = false;
	x->sb.pidns_ctr[0] = '\0';
	log_info("sandbox destroyed: the agent stops (as upstream's)");
	answer_fe_ok(x, x->sb.destroy_fe_gen, x->sb.destroy_fe_id);
	/* The answer is on its way to the front-end; the parent then stops
	 * the agent (as PID 1: the guest powers off), which the runtime waits
	 * for when tracing. */
	struct kerr e = { 0 };
	if (!x->ctl || ipc_chan_send(x->ctl, IPC_CTL_SANDBOX_DESTROYED, 0, NULL, 0, -1, &e) < 0)
		log_error("DestroySandbox: cannot tell the parent: %s",
			  e.msg[0] ? e.msg : "no control channel");
}

/* The sandbox is destroyed once its containers are gone and so is every
 * SecureMount they left to the CDH (secure_storage.h): its mount undone
 * before the agent stops. */
void sandbox_container_gone(struct executor *x)
{
	if (x->sb.destroying && !x->ctrs && !secure_storage_orphans())
		destroy_done(x);
}

void sandbox_free(struct executor *x)
{
	storage_set_free(x->sb.trusted);
	x->sb.trusted = NULL;
	pidns_stop(x);
	if (x->sb.guest_hooks)
		protobuf_c_message_free_unpacked(&x->sb.guest_hooks->base, NULL);
	x->sb.guest_hooks = NULL;
	storage_set_free(x->sb.storages);
	x->sb.storages = NULL;
}

/* RemoveStaleVirtiofsShareMounts (upstream remove_stale_virtiofs_share_mounts):
 * look up every mount below <shared>/shared/containers, so virtiofsd drops
 * what the host removed; nothing to fail on, as upstream. */
int on_remove_stale_virtiofs_share_mounts(struct ipc_chan *c, struct ipc_msg *m, void *data,
					  struct kerr *err)
{
	struct executor *x = data;
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/shared/containers", x->o.shared_dir);
	storage_revalidate_shares(dir);
	return ipc_chan_send(c, IPC_OK, m->hdr.id, NULL, 0, -1, err);
}

/* UpdateEphemeralMounts (upstream update_ephemeral_mounts): new options
 * for ephemeral storages already mounted; one after the other, the first
 * failure ends the call (those before it stay updated, as upstream). */
int on_update_ephemeral_mounts(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	const Grpc__UpdateEphemeralMountsRequest *req = m->in;
	struct kerr e = { 0 };
	if (req->n_storages > 64) {
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -E2BIG,
				"UpdateEphemeralMounts: %zu storages is more than 64",
				req->n_storages);
		goto out;
	}
	struct storage_policy pol;
	const char *roots[1];
	executor_storage_policy(x, &pol, roots);
	for (size_t i = 0; i < req->n_storages; i++)
		if (storage_update_ephemeral(req->storages[i], &pol, &e) < 0) {
			kerr_prefix(&e, "UpdateEphemeralMounts: storage %zu", i);
			goto out;
		}
out:
	if (e.msg[0])
		return answer_fail(c, m->hdr.id, &e, err);
	return ipc_chan_send(c, IPC_OK, m->hdr.id, NULL, 0, -1, err);
}
