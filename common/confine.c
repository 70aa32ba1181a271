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
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/wait.h>

#include "caps.h"
#include "libc_compat.h"
#include "cleanup.h"
#include "confine.h"
#include "log.h"

/* The new mount API: glibc (2.36) wraps it in <sys/mount.h>, musl (the
 * monitor may be built on it: agentd/monitor/meson.build) does not. */
#ifndef __GLIBC__
#include <linux/mount.h>
#define fsopen(name, flags) ((int)syscall(SYS_fsopen, name, flags))
#define fsconfig(fd, cmd, key, value, aux) ((int)syscall(SYS_fsconfig, fd, cmd, key, value, aux))
#define fsmount(fd, flags, attrs) ((int)syscall(SYS_fsmount, fd, flags, attrs))
#endif

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
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return kerr_set(err, -errno, "clear ambient capabilities: %s", strerror(errno));
	for (unsigned long c = 0;; c++) {
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) < 0)
			break; /* beyond the last capability this kernel knows */
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			return kerr_set(err, -errno,
					"drop capability %lu from the bounding set: %s", c,
					strerror(errno));
	}
	return 0;
}

/* What the profile asks for: its capabilities in permitted and effective,
 * nothing inheritable (through the syscalls, caps.h: a process confined
 * here links no libcap). */
static void wanted_caps(const struct confine_profile *p, struct caps_sets *c)
{
	*c = (struct caps_sets){ 0 };
	for (unsigned i = 0; i < p->nkeep; i++) {
		unsigned v = (unsigned)p->keep_caps[i];
		if (v >= 64)
			continue; /* not a capability: verify() then fails */
		c->permitted |= 1ull << v;
		c->effective |= 1ull << v;
	}
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
	struct caps_sets want;
	wanted_caps(p, &want);
	if (caps_set(&want) < 0)
		return kerr_set(err, -errno, "set capabilities: %s", strerror(errno));
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
	struct caps_sets now, want;
	wanted_caps(p, &want);
	if (caps_get(&now) < 0 || now.effective != want.effective ||
	    now.permitted != want.permitted || now.inheritable != want.inheritable)
		return kerr_set(err, -EPERM,
				"the effective, permitted or inheritable set differs "
				"from the %s's",
				p->who);
	for (unsigned long c = 0;; c++) {
		int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (r < 0)
			break;
		if (r > 0)
			return kerr_set(err, -EPERM, "capability %lu remains in the bounding set",
					c);
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) > 0)
			return kerr_set(err, -EPERM, "capability %lu remains in the ambient set",
					c);
	}
	return 0;
}

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

int confine_load_bpf(const struct confine_bpf *bpf, struct kerr *err)
{
	if (!bpf->len || bpf->len > BPF_MAXINSNS)
		return kerr_set(err, -EINVAL, "seccomp: a program of %u instructions", bpf->len);
	cleanup_free struct sock_filter *ins = malloc(bpf->len * sizeof(*ins));
	if (!ins)
		return kerr_set(err, -ENOMEM, "seccomp: out of memory");
	memcpy(ins, bpf->ins, bpf->len * sizeof(*ins));
	pid_t self = getpid();
	for (unsigned i = 0; i < bpf->npid; i++) {
		if (bpf->pid_at[i] >= bpf->len || ins[bpf->pid_at[i]].k != CONFINE_BPF_PID_MARK)
			return kerr_set(err, -EINVAL, "seccomp: no pid mark at instruction %u",
					bpf->pid_at[i]);
		ins[bpf->pid_at[i]].k = (uint32_t)self;
	}
	struct sock_fprog prog = { .len = bpf->len, .filter = ins };
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return kerr_set(err, -errno, "seccomp: load the filter: %s", strerror(errno));
	return 0;
}

int confine_self_bpf(const struct confine_profile *p, const struct confine_bpf *bpf, uid_t uid,
		     gid_t gid, pid_t parent_pid, struct kerr *err)
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
	if ((r = confine_load_bpf(bpf, err)) < 0)
		return kerr_prefix(err, "confine %s", p->who);
	return 0;
}
