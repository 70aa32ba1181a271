/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confine.c - confinement of the agent's unprivileged processes (see
 * confine.h). The order matters: steps that need privileges (mounting,
 * securebits, the bounding set) come before the uid change, and seccomp
 * comes last so the set-up syscalls need not be allowed.
 *
 *  1. Root: a fresh tmpfs made with the new mount API (fsopen/fsmount),
 *     read-only, empty, never attached anywhere; fchdir into it and chroot.
 *     The process then sees no file at all; nothing to unmount or clean up,
 *     it vanishes with the process.
 *  2. securebits: no root magic, no ambient raise, all locked; keep-caps
 *     only for a profile that keeps capabilities (so that the permitted set
 *     survives the uid change), locked too.
 *  3. Capabilities: bounding set and ambient set emptied (needs CAP_SETPCAP,
 *     so before the uid change). An empty bounding set costs nothing kept:
 *     it only limits what an execve could gain, and none may happen.
 *  4. setgroups(0), setresgid, setresuid to the unprivileged ids; then the
 *     permitted and effective sets set to the profile's capabilities, the
 *     inheritable set cleared, and all of it verified.
 *  5. Parent-death signal re-armed (a credential change clears it) when the
 *     caller names its parent, not dumpable (no ptrace by other processes of
 *     the same uid, no core), no_new_privs.
 *  6. seccomp allow-list, default action KILL_PROCESS: a common base (what an
 *     epoll loop speaking IPC needs) plus the profile's syscalls (see
 *     doc/security.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/securebits.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/wait.h>
#include <seccomp.h>

#include "cleanup.h"
#include "confine.h"
#include "log.h"

#ifdef KATA_SANITIZE
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#endif

int confine_empty_root(struct kerr *err)
{
	cleanup_close int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0)
		return kerr_set(err, -errno, "fsopen tmpfs: %s", strerror(errno));
	/* The smallest tmpfs: one page, the root inode only, no access for
	 * anyone but root (and the confined process is not root afterwards). */
	if (fsconfig(fs, FSCONFIG_SET_STRING, "size", "4k", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "nr_inodes", "1", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0111", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return kerr_set(err, -errno, "configure tmpfs: %s", strerror(errno));
	cleanup_close int mnt = fsmount(fs, FSMOUNT_CLOEXEC,
					MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
						MOUNT_ATTR_NOEXEC);
	if (mnt < 0)
		return kerr_set(err, -errno, "fsmount tmpfs: %s", strerror(errno));
	if (fchdir(mnt) < 0)
		return kerr_set(err, -errno, "fchdir into empty root: %s", strerror(errno));
	if (chroot(".") < 0)
		return kerr_set(err, -errno, "chroot into empty root: %s", strerror(errno));
	if (chdir("/") < 0)
		return kerr_set(err, -errno, "chdir /: %s", strerror(errno));
	return 0;
}

static int drop_bounding_and_ambient(bool keep_caps, struct kerr *err)
{
	if (prctl(PR_SET_SECUREBITS,
		  SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
			  (keep_caps ? SECBIT_KEEP_CAPS : 0) | SECBIT_KEEP_CAPS_LOCKED |
			  SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED) < 0)
		return kerr_set(err, -errno, "set securebits: %s", strerror(errno));
	if (cap_reset_ambient() < 0)
		return kerr_set(err, -errno, "clear ambient capabilities: %s", strerror(errno));
	for (cap_value_t c = 0;; c++) {
		if (prctl(PR_CAPBSET_READ, c) < 0)
			break; /* beyond the last capability this kernel knows */
		if (cap_drop_bound(c) < 0)
			return kerr_set(err, -errno, "drop capability %d from the bounding set: %s",
					(int)c, strerror(errno));
	}
	return 0;
}

/* The capability state the profile asks for: its capabilities in permitted
 * and effective, nothing inheritable. */
static cap_t wanted_caps(const struct confine_profile *p)
{
	cap_t c = cap_init();
	if (!c)
		return NULL;
	if (p->nkeep) {
		cap_value_t v[16];
		unsigned n = p->nkeep < 16 ? p->nkeep : 16;
		for (unsigned i = 0; i < n; i++)
			v[i] = (cap_value_t)p->keep_caps[i];
		if (cap_set_flag(c, CAP_PERMITTED, (int)n, v, CAP_SET) < 0 ||
		    cap_set_flag(c, CAP_EFFECTIVE, (int)n, v, CAP_SET) < 0) {
			cap_free(c);
			return NULL;
		}
	}
	return c;
}

static int change_ids(const struct confine_profile *p, uid_t uid, gid_t gid, struct kerr *err)
{
	if (uid == 0 || gid == 0)
		return kerr_set(err, -EINVAL, "refusing to run the %s as uid %u gid %u", p->who,
				(unsigned)uid, (unsigned)gid);
	if (setgroups(0, NULL) < 0)
		return kerr_set(err, -errno, "setgroups: %s", strerror(errno));
	if (setresgid(gid, gid, gid) < 0)
		return kerr_set(err, -errno, "setresgid %u: %s", (unsigned)gid, strerror(errno));
	if (setresuid(uid, uid, uid) < 0)
		return kerr_set(err, -errno, "setresuid %u: %s", (unsigned)uid, strerror(errno));
	cap_t want = wanted_caps(p);
	if (!want)
		return kerr_set(err, -errno, "build capability set: %s", strerror(errno));
	int r = cap_set_proc(want);
	int e = errno;
	cap_free(want);
	if (r < 0)
		return kerr_set(err, -e, "set capabilities: %s", strerror(e));
	return 0;
}

/* Trust, but verify: any capability beyond the profile's in any set is a
 * failure. */
static int verify(const struct confine_profile *p, uid_t uid, gid_t gid, struct kerr *err)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return kerr_set(err, -errno, "getresuid: %s", strerror(errno));
	if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
		return kerr_set(err, -EPERM, "ids not fully changed");
	if (getgroups(0, NULL) != 0)
		return kerr_set(err, -EPERM, "supplementary groups remain");
	cap_t now = cap_get_proc(), want = wanted_caps(p);
	int diff = (!now || !want) ? -1 : cap_compare(now, want);
	cap_free(now);
	cap_free(want);
	if (diff != 0)
		return kerr_set(err, -EPERM,
				"the effective, permitted or inheritable set differs "
				"from the %s's",
				p->who);
	for (cap_value_t c = 0;; c++) {
		int r = prctl(PR_CAPBSET_READ, c);
		if (r < 0)
			break;
		if (r > 0)
			return kerr_set(err, -EPERM, "capability %d remains in the bounding set",
					(int)c);
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) > 0)
			return kerr_set(err, -EPERM, "capability %d remains in the ambient set",
					(int)c);
	}
	return 0;
}

/* The base: syscalls an epoll loop exchanging IPC messages needs, and
 * nothing else. Found by reading the code paths and confirmed with strace -f
 * under load (tests). Names missing on an architecture are skipped. */
static const char *const base_allowed[] = {
	/* I/O on fds the process already holds */
	"read",
	"readv",
	"write",
	"writev",
	"close",
	"lseek",
	/* IPC channels (SOCK_SEQPACKET, fd passing) */
	"recvmsg",
	"sendmsg",
	/* the event loop */
	"epoll_create1",
	"epoll_ctl",
	"epoll_wait",
	"epoll_pwait",
	"epoll_pwait2",
	"timerfd_create",
	"timerfd_settime",
	"timerfd_gettime",
	"eventfd2",
	"clock_gettime",
	"clock_getres",
	"gettimeofday",
	"time",
	/* memory (mmap/mprotect: see the PROT_EXEC rule below) */
	"brk",
	"munmap",
	"mremap",
	"madvise",
	/* a received memfd payload is checked (fstat) before it is mapped */
	"fstat",
	/* process */
	"exit",
	"exit_group",
	"rt_sigreturn",
	"rt_sigprocmask",
	"restart_syscall",
	"getpid",
	"gettid",
	"futex",
	"getrandom",
};

/*
 * Measurement builds only, never a normal build (doc/testing.md): what the
 * sanitizer runtime (KATA_SANITIZE, meson -Db_sanitize=...) and libgcov
 * (KATA_COVERAGE, meson -Db_coverage=true) need from a confined process.
 * In a normal build the lists are empty and the two hooks do nothing.
 *
 * Sanitizers: the leak check stops the world with ptrace and lists
 * /proc/self/task, so it runs before confinement, once, which turns the
 * end-of-process check off (a confined process's later leaks go unseen,
 * its memory errors do not); the report file (KATA_SANITIZER_LOG, set by
 * ./scripts/test) is opened before confinement and handed to the runtime,
 * which would open log_path= at the first report, in the empty root; the
 * runtime removes its signal stack at exit (sigaltstack).
 *
 * Coverage: at exit libgcov writes each object's counters to a file named
 * after the object's absolute build path, which the empty root does not
 * have. The process opens KATA_COVERAGE_DIR (scripts/coverage makes it
 * writable for the confined uid) before confinement and keeps it as its
 * working directory; GCOV_PREFIX "." puts the files below it, and
 * scripts/coverage merges them with the other processes' counters. libgcov
 * opens and creates files and directories there, and locks them.
 */
static const char *const build_extra_syscalls[] = {
#ifdef KATA_SANITIZE
	"sigaltstack",
#endif
#ifdef KATA_COVERAGE
	"open",        "openat", "mkdir", "mkdirat",
#endif
	NULL,
};
static const int build_extra_fcntl[] = {
#ifdef KATA_COVERAGE
	F_SETLKW,
	F_SETLK,
	F_GETLK,
#endif
	-1,
};
#ifdef KATA_COVERAGE
static int coverage_fd = -1;
#endif

static void build_before_confinement(void)
{
#ifdef KATA_SANITIZE
	__lsan_do_leak_check();
	const char *path = getenv("KATA_SANITIZER_LOG");
	int fd = path && *path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
	if (fd >= 0)
		__sanitizer_set_report_fd((void *)(intptr_t)fd);
#endif
#ifdef KATA_COVERAGE
	coverage_fd = open(KATA_COVERAGE_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (coverage_fd < 0)
		log_warn("coverage build: %s: %s (no counters from this process)",
			 KATA_COVERAGE_DIR, strerror(errno));
#endif
}

/* Called once the process is in its empty root. */
static void build_after_root(void)
{
#ifdef KATA_COVERAGE
	if (coverage_fd >= 0 && fchdir(coverage_fd) == 0)
		setenv("GCOV_PREFIX", ".", 1);
#endif
}

static bool build_allows(const char *name)
{
	for (size_t i = 0; build_extra_syscalls[i]; i++)
		if (!strcmp(build_extra_syscalls[i], name))
			return true;
	return false;
}

static const char *const frontend_syscalls[] = {
	"pread64",
	/* the listener and ttRPC connections */
	"accept",
	"accept4",
	"recvfrom",
	"sendto",
	"shutdown",
	"getsockopt",
	"getsockname",
	"getpeername",
	/* big IPC payloads it sends (sealed memfds) */
	"memfd_create",
	"ftruncate",
	NULL,
};

const struct confine_profile confine_frontend = {
	.who = "front-end",
	.syscalls = frontend_syscalls,
};

static const int monitor_caps[] = { CAP_KILL };

static const char *const monitor_syscalls[] = {
	/* SIGCHLD through a signalfd; reaping by pidfd and of orphans */
	"signalfd4",
	"waitid",
	/* signals to container processes, only through pidfds it was handed
	 * (no kill(2), no pidfd_open: a pid is not enough) */
	"pidfd_send_signal",
	/* fd-passthrough stdio (agentd/monitor/passfd.c): the type of a host
	 * stream it is handed and that it is connected, and output spliced from
	 * a container's pipe into the socket */
	"getsockopt",
	"getpeername",
	"splice",
	NULL,
};

const struct confine_profile confine_monitor = {
	.who = "monitor",
	.keep_caps = monitor_caps,
	.nkeep = sizeof(monitor_caps) / sizeof(monitor_caps[0]),
	.syscalls = monitor_syscalls,
	/* TtyWinResize on the pty master; FIONREAD: how much output an exited
	 * process left in its pipe (proc.c drains that much, then EOF). */
	.ioctl_allow = (const unsigned long[]){ TIOCSWINSZ, FIONREAD, 0 },
	/* A host stream's send buffer (agentd/monitor/passfd.c): more output
	 * moved per wake-up. Bounded by net.core.wmem_max, as for any
	 * process; SO_SNDBUFFORCE (CAP_NET_ADMIN) is not listed. */
	.sockopt_allow = (const int[]){ SO_SNDBUF, 0 },
};

static const char *const policy_syscalls[] = {
	/* big verdicts (the policy state) travel in sealed memfds */
	"memfd_create",
	"ftruncate",
	NULL,
};

const struct confine_profile confine_policy = {
	.who = "policy process",
	.syscalls = policy_syscalls,
};

/* Syscalls that fail softly instead of killing: libc may look at files
 * (time zone, locale) on paths the empty root does not have anyway. */
static const char *const denied_eacces[] = { "open",       "openat",    "stat",       "lstat",
					     "access",     "faccessat", "faccessat2", "readlink",
					     "readlinkat", "statx" };

static int rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
		const struct scmp_arg_cmp *cmp, struct kerr *err)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return 0;
	int r = seccomp_rule_add_array(ctx, action, nr, n, cmp);
	if (r < 0)
		return kerr_set(err, r, "seccomp rule for %s: %s", name, strerror(-r));
	return 0;
}

/* Spelled out: the SCMP_Ax() macros leave fields to C's implicit zero,
 * which -Wmissing-field-initializers (clang) rejects. */
static struct scmp_arg_cmp arg_cmp(unsigned arg, enum scmp_compare op, scmp_datum_t a,
				   scmp_datum_t b)
{
	return (struct scmp_arg_cmp){ .arg = arg, .op = op, .datum_a = a, .datum_b = b };
}

/* ALLOW for each request of allow[] (ascending, 0-terminated); ENOTTY for
 * every other value: below the first, above the last, and each value in
 * between, one rule apiece (one comparison per argument and rule). */
static int ioctl_rules(scmp_filter_ctx ctx, const unsigned long *allow, struct kerr *err)
{
	int r;
	if (!allow || !allow[0])
		return rule(ctx, SCMP_ACT_ERRNO(ENOTTY), "ioctl", 0, NULL, err);
	size_t n = 0;
	while (allow[n])
		n++;
	struct scmp_arg_cmp lo = arg_cmp(1, SCMP_CMP_LT, allow[0], 0);
	struct scmp_arg_cmp hi = arg_cmp(1, SCMP_CMP_GT, allow[n - 1], 0);
	if ((r = rule(ctx, SCMP_ACT_ERRNO(ENOTTY), "ioctl", 1, &lo, err)) < 0 ||
	    (r = rule(ctx, SCMP_ACT_ERRNO(ENOTTY), "ioctl", 1, &hi, err)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct scmp_arg_cmp is = arg_cmp(1, SCMP_CMP_EQ, allow[i], 0);
		if ((r = rule(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &is, err)) < 0)
			return r;
		if (i + 1 == n)
			break;
		if (allow[i + 1] <= allow[i] || allow[i + 1] - allow[i] > CONFINE_IOCTL_GAP)
			return kerr_set(err, -EINVAL,
					"ioctl allow-list not ascending or too sparse");
		for (unsigned long v = allow[i] + 1; v < allow[i + 1]; v++) {
			struct scmp_arg_cmp gap = arg_cmp(1, SCMP_CMP_EQ, v, 0);
			if ((r = rule(ctx, SCMP_ACT_ERRNO(ENOTTY), "ioctl", 1, &gap, err)) < 0)
				return r;
		}
	}
	return 0;
}

/* The filter for p, written as BPF to fd (seccomp_export_bpf), for a
 * process whose pid is self. */
static int build_filter(const struct confine_profile *p, pid_t self, int fd, struct kerr *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return kerr_set(err, -ENOMEM, "seccomp_init failed");
	int r = 0;
	for (size_t i = 0; r == 0 && i < sizeof(base_allowed) / sizeof(base_allowed[0]); i++)
		r = rule(ctx, SCMP_ACT_ALLOW, base_allowed[i], 0, NULL, err);
	for (size_t i = 0; r == 0 && p->syscalls && p->syscalls[i]; i++)
		r = rule(ctx, SCMP_ACT_ALLOW, p->syscalls[i], 0, NULL, err);
	/* (a syscall a measurement build allows is not denied softly too) */
	for (size_t i = 0; r == 0 && i < sizeof(denied_eacces) / sizeof(denied_eacces[0]); i++)
		if (!build_allows(denied_eacces[i]))
			r = rule(ctx, SCMP_ACT_ERRNO(EACCES), denied_eacces[i], 0, NULL, err);
	for (size_t i = 0; r == 0 && build_extra_syscalls[i]; i++)
		r = rule(ctx, SCMP_ACT_ALLOW, build_extra_syscalls[i], 0, NULL, err);
	for (size_t i = 0; r == 0 && build_extra_fcntl[i] >= 0; i++) {
		struct scmp_arg_cmp c = arg_cmp(1, SCMP_CMP_EQ, (scmp_datum_t)build_extra_fcntl[i],
						0);
		r = rule(ctx, SCMP_ACT_ALLOW, "fcntl", 1, &c, err);
	}
	if (r < 0)
		goto out;

	/* No new executable memory: shellcode needs PROT_EXEC somewhere. */
	struct scmp_arg_cmp noexec = arg_cmp(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	if ((r = rule(ctx, SCMP_ACT_ALLOW, "mmap", 1, &noexec, err)) < 0 ||
	    (r = rule(ctx, SCMP_ACT_ALLOW, "mprotect", 1, &noexec, err)) < 0)
		goto out;
	/* fstat is newfstatat(fd, "", AT_EMPTY_PATH) in glibc: allow only that
	 * form; a path lookup fails softly. */
	struct scmp_arg_cmp empty_path = arg_cmp(3, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH,
						 AT_EMPTY_PATH);
	struct scmp_arg_cmp with_path = arg_cmp(3, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0);
	if ((r = rule(ctx, SCMP_ACT_ALLOW, "newfstatat", 1, &empty_path, err)) < 0 ||
	    (r = rule(ctx, SCMP_ACT_ERRNO(EACCES), "newfstatat", 1, &with_path, err)) < 0)
		goto out;
	/* fcntl: flags, close-on-exec, seals, dup for fd passing. Nothing else
	 * (no F_SETOWN/F_SETSIG games, no locks). */
	/* F_SETPIPE_SZ: the monitor widens a container's output pipe whose
	 * bytes it splices into a host stream (agentd/monitor/passfd.c). */
	static const int fcntl_cmds[] = { F_GETFD,         F_SETFD,     F_GETFL,     F_SETFL,
					  F_DUPFD_CLOEXEC, F_ADD_SEALS, F_GET_SEALS, F_SETPIPE_SZ };
	for (size_t i = 0; i < sizeof(fcntl_cmds) / sizeof(fcntl_cmds[0]); i++) {
		struct scmp_arg_cmp c = arg_cmp(1, SCMP_CMP_EQ, (scmp_datum_t)fcntl_cmds[i], 0);
		if ((r = rule(ctx, SCMP_ACT_ALLOW, "fcntl", 1, &c, err)) < 0)
			goto out;
	}
	/* Signals only to itself: abort() and the stack protector use tgkill,
	 * so a crash reports SIGABRT rather than SIGSYS. */
	struct scmp_arg_cmp me = arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)self, 0);
	if ((r = rule(ctx, SCMP_ACT_ALLOW, "tgkill", 1, &me, err)) < 0)
		goto out;
	/* isatty() probes: answer "not a terminal"; the profile's requests are
	 * allowed (ioctl_rules). */
	if ((r = ioctl_rules(ctx, p->ioctl_allow, err)) < 0)
		goto out;
	for (size_t i = 0; p->sockopt_allow && p->sockopt_allow[i]; i++) {
		struct scmp_arg_cmp c[2] = {
			arg_cmp(1, SCMP_CMP_EQ, SOL_SOCKET, 0),
			arg_cmp(2, SCMP_CMP_EQ, (scmp_datum_t)p->sockopt_allow[i], 0),
		};
		if ((r = rule(ctx, SCMP_ACT_ALLOW, "setsockopt", 2, c, err)) < 0)
			goto out;
	}

	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		kerr_set(err, r, "seccomp_export_bpf: %s", strerror(-r));
out:
	seccomp_release(ctx);
	return r;
}

/* Built in a child, loaded here: libseccomp's rule database (about 100 KiB
 * of small blocks) never enters this process's heap, where its freed holes
 * would be where every later allocation lands, a page each (one monitor per
 * container pays that; doc/benchmarks.md "Issue 14, memory part"). Loaded
 * as seccomp_load would: no flags, no_new_privs already set. */
static int seccomp_allow(const struct confine_profile *p, struct kerr *err)
{
	pid_t self = getpid();
	cleanup_close int bpf = memfd_create("confine-bpf", MFD_CLOEXEC);
	int ep[2];
	if (bpf < 0 || pipe2(ep, O_CLOEXEC) < 0)
		return kerr_set(err, -errno, "seccomp filter: %s", strerror(errno));
	pid_t pid = fork();
	if (pid == 0) {
		close(ep[0]);
		struct kerr e = { 0 };
		if (build_filter(p, self, bpf, &e) < 0) {
			(void)!write(ep[1], &e, sizeof(e));
			_exit(1);
		}
		_exit(0);
	}
	close(ep[1]);
	int st = 0;
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	struct kerr ce = { 0 };
	ssize_t n = pid > 0 ? read(ep[0], &ce, sizeof(ce)) : -1;
	close(ep[0]);
	if (pid < 0)
		return kerr_set(err, -errno, "seccomp filter: fork: %s", strerror(errno));
	if (n == (ssize_t)sizeof(ce) && ce.code < 0) {
		*err = ce;
		return err->code;
	}
	off_t len = lseek(bpf, 0, SEEK_END);
	if (!WIFEXITED(st) || WEXITSTATUS(st) || len <= 0 ||
	    len % (off_t)sizeof(struct sock_filter) ||
	    len > (off_t)(BPF_MAXINSNS * sizeof(struct sock_filter)))
		return kerr_set(err, -EPROTO, "seccomp filter: builder status 0x%x, %lld bytes", st,
				(long long)len);
	cleanup_free struct sock_filter *ins = malloc((size_t)len);
	if (!ins || pread(bpf, ins, (size_t)len, 0) != len)
		return kerr_set(err, -EIO, "seccomp filter: read it back");
	struct sock_fprog prog = { .len = (unsigned short)(len / (off_t)sizeof(struct sock_filter)),
				   .filter = ins };
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return kerr_set(err, -errno, "seccomp: load the filter: %s", strerror(errno));
	return 0;
}

int confine_self(const struct confine_profile *p, uid_t uid, gid_t gid, pid_t parent_pid,
		 struct kerr *err)
{
	int r;
	build_before_confinement();
	if ((r = confine_empty_root(err)) < 0)
		return kerr_prefix(err, "confine %s", p->who);
	build_after_root();
	if ((r = drop_bounding_and_ambient(p->nkeep > 0, err)) < 0)
		return kerr_prefix(err, "confine %s", p->who);
	if ((r = change_ids(p, uid, gid, err)) < 0)
		return kerr_prefix(err, "confine %s", p->who);
	if ((r = verify(p, uid, gid, err)) < 0)
		return kerr_prefix(err, "confine %s", p->who);
	if (parent_pid > 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			return kerr_set(err, -errno, "confine %s: PR_SET_PDEATHSIG: %s", p->who,
					strerror(errno));
		if (getppid() != parent_pid)
			return kerr_set(err, -ESRCH, "confine %s: parent %d went away", p->who,
					(int)parent_pid);
	}
	struct rlimit zero = { 0, 0 };
	if (setrlimit(RLIMIT_CORE, &zero) < 0)
		return kerr_set(err, -errno, "confine %s: RLIMIT_CORE: %s", p->who,
				strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0) < 0)
		return kerr_set(err, -errno, "confine %s: PR_SET_DUMPABLE: %s", p->who,
				strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return kerr_set(err, -errno, "confine %s: PR_SET_NO_NEW_PRIVS: %s", p->who,
				strerror(errno));
	if ((r = seccomp_allow(p, err)) < 0)
		return kerr_prefix(err, "confine %s", p->who);
	return 0;
}
