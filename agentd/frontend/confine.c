/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confine.c - the front-end gives up everything before it reads a byte from
 * the untrusted socket. The order matters: steps that need privileges
 * (mounting, securebits, the bounding set) come before the uid change, and
 * seccomp comes last so the set-up syscalls need not be allowed.
 *
 *  1. Root: a fresh tmpfs made with the new mount API (fsopen/fsmount),
 *     read-only, empty, never attached anywhere; fchdir into it and chroot.
 *     The process then sees no file at all; nothing to unmount or clean up,
 *     it vanishes with the process.
 *  2. securebits: no root magic, no keep-caps, no ambient raise, all locked.
 *  3. Capabilities: bounding set and ambient set emptied (needs CAP_SETPCAP,
 *     so before the uid change).
 *  4. setgroups(0), setresgid, setresuid to the unprivileged ids; then the
 *     permitted, effective and inheritable sets cleared, and all of it
 *     verified.
 *  5. Parent-death signal re-armed (a credential change clears it), not
 *     dumpable (no ptrace by other processes of the same uid, no core),
 *     no_new_privs.
 *  6. seccomp allow-list, default action KILL_PROCESS (see seccomp_allow
 *     below and doc/security.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/securebits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grp.h>
#include <seccomp.h>

#include "cleanup.h"
#include "frontend.h"
#include "log.h"

static int empty_root(struct kerr *err)
{
	cleanup_close int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0)
		return kerr_set(err, -errno, "fsopen tmpfs: %s", strerror(errno));
	/* The smallest tmpfs: one page, the root inode only, no access for
	 * anyone but root (and the front-end is not root afterwards). */
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

static int drop_bounding_and_ambient(struct kerr *err)
{
	if (prctl(PR_SET_SECUREBITS,
		  SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
			  SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
			  SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED) < 0)
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

static int change_ids(uid_t uid, gid_t gid, struct kerr *err)
{
	if (uid == 0 || gid == 0)
		return kerr_set(err, -EINVAL, "refusing to run the front-end as uid %u gid %u",
				(unsigned)uid, (unsigned)gid);
	if (setgroups(0, NULL) < 0)
		return kerr_set(err, -errno, "setgroups: %s", strerror(errno));
	if (setresgid(gid, gid, gid) < 0)
		return kerr_set(err, -errno, "setresgid %u: %s", (unsigned)gid, strerror(errno));
	if (setresuid(uid, uid, uid) < 0)
		return kerr_set(err, -errno, "setresuid %u: %s", (unsigned)uid, strerror(errno));
	cap_t none = cap_init();
	if (!none)
		return kerr_set(err, -errno, "cap_init: %s", strerror(errno));
	int r = cap_set_proc(none);
	int e = errno;
	cap_free(none);
	if (r < 0)
		return kerr_set(err, -e, "clear capabilities: %s", strerror(e));
	return 0;
}

/* Trust, but verify: any capability left in any set is a failure. */
static int verify(uid_t uid, gid_t gid, struct kerr *err)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return kerr_set(err, -errno, "getresuid: %s", strerror(errno));
	if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
		return kerr_set(err, -EPERM, "ids not fully changed");
	if (getgroups(0, NULL) != 0)
		return kerr_set(err, -EPERM, "supplementary groups remain");
	cap_t now = cap_get_proc(), none = cap_init();
	int diff = (!now || !none) ? -1 : cap_compare(now, none);
	cap_free(now);
	cap_free(none);
	if (diff != 0)
		return kerr_set(err, -EPERM, "capabilities remain in the effective, permitted or "
					     "inheritable set");
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

/* Syscalls an epoll loop serving ttRPC and IPC needs, and nothing else.
 * Found by reading the code paths and confirmed with strace -f under load
 * (tests). Names missing on an architecture are skipped. */
static const char *const allowed[] = {
	/* I/O on fds the front-end already holds */
	"read", "readv", "write", "writev", "pread64", "close", "lseek",
	/* sockets: the listener, ttRPC connections, the executor channel */
	"accept", "accept4", "recvmsg", "sendmsg", "recvfrom", "sendto", "shutdown",
	"getsockopt", "getsockname", "getpeername",
	/* the event loop */
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
	"timerfd_create", "timerfd_settime", "timerfd_gettime", "eventfd2",
	"clock_gettime", "clock_getres", "gettimeofday", "time",
	/* memory (mmap/mprotect: see the PROT_EXEC rule below) */
	"brk", "munmap", "mremap", "madvise",
	/* large IPC payloads in sealed memfds (sent and received) */
	"memfd_create", "ftruncate", "fstat",
	/* process */
	"exit", "exit_group", "rt_sigreturn", "rt_sigprocmask", "restart_syscall", "getpid",
	"gettid", "futex", "getrandom",
};

/* Syscalls that fail softly instead of killing: libc may look at files
 * (time zone, locale) on paths the empty root does not have anyway. */
static const char *const denied_eacces[] = { "open", "openat", "stat", "lstat", "access",
					     "faccessat", "faccessat2", "readlink", "readlinkat",
					     "statx" };

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

static int seccomp_allow(struct kerr *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return kerr_set(err, -ENOMEM, "seccomp_init failed");
	int r = 0;
	for (size_t i = 0; r == 0 && i < sizeof(allowed) / sizeof(allowed[0]); i++)
		r = rule(ctx, SCMP_ACT_ALLOW, allowed[i], 0, NULL, err);
	for (size_t i = 0; r == 0 && i < sizeof(denied_eacces) / sizeof(denied_eacces[0]); i++)
		r = rule(ctx, SCMP_ACT_ERRNO(EACCES), denied_eacces[i], 0, NULL, err);
	if (r < 0)
		goto out;

	/* No new executable memory: shellcode needs PROT_EXEC somewhere. */
	struct scmp_arg_cmp noexec = arg_cmp(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	if ((r = rule(ctx, SCMP_ACT_ALLOW, "mmap", 1, &noexec, err)) < 0 ||
	    (r = rule(ctx, SCMP_ACT_ALLOW, "mprotect", 1, &noexec, err)) < 0)
		goto out;
	/* fstat is newfstatat(fd, "", AT_EMPTY_PATH) in glibc: allow only that
	 * form; a path lookup fails softly. */
	struct scmp_arg_cmp empty_path = arg_cmp(3, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH);
	struct scmp_arg_cmp with_path = arg_cmp(3, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0);
	if ((r = rule(ctx, SCMP_ACT_ALLOW, "newfstatat", 1, &empty_path, err)) < 0 ||
	    (r = rule(ctx, SCMP_ACT_ERRNO(EACCES), "newfstatat", 1, &with_path, err)) < 0)
		goto out;
	/* fcntl: flags, close-on-exec, seals, dup for fd passing. Nothing else
	 * (no F_SETOWN/F_SETSIG games, no locks). */
	static const int fcntl_cmds[] = { F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC,
					  F_ADD_SEALS, F_GET_SEALS };
	for (size_t i = 0; i < sizeof(fcntl_cmds) / sizeof(fcntl_cmds[0]); i++) {
		struct scmp_arg_cmp c = arg_cmp(1, SCMP_CMP_EQ, (scmp_datum_t)fcntl_cmds[i], 0);
		if ((r = rule(ctx, SCMP_ACT_ALLOW, "fcntl", 1, &c, err)) < 0)
			goto out;
	}
	/* Signals only to itself: abort() and the stack protector use tgkill,
	 * so a crash reports SIGABRT rather than SIGSYS. */
	struct scmp_arg_cmp self = arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0);
	if ((r = rule(ctx, SCMP_ACT_ALLOW, "tgkill", 1, &self, err)) < 0)
		goto out;
	/* isatty() probes: answer "not a terminal". */
	if ((r = rule(ctx, SCMP_ACT_ERRNO(ENOTTY), "ioctl", 0, NULL, err)) < 0)
		goto out;

	r = seccomp_load(ctx);
	if (r < 0)
		kerr_set(err, r, "seccomp_load: %s", strerror(-r));
out:
	seccomp_release(ctx);
	return r;
}

int confine_self(uid_t uid, gid_t gid, pid_t parent_pid, struct kerr *err)
{
	int r;
	if ((r = empty_root(err)) < 0)
		return kerr_prefix(err, "confine: ");
	if ((r = drop_bounding_and_ambient(err)) < 0)
		return kerr_prefix(err, "confine: ");
	if ((r = change_ids(uid, gid, err)) < 0)
		return kerr_prefix(err, "confine: ");
	if ((r = verify(uid, gid, err)) < 0)
		return kerr_prefix(err, "confine: ");
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return kerr_set(err, -errno, "confine: PR_SET_PDEATHSIG: %s", strerror(errno));
	if (parent_pid > 0 && getppid() != parent_pid)
		return kerr_set(err, -ESRCH, "confine: parent %d went away", (int)parent_pid);
	struct rlimit zero = { 0, 0 };
	if (setrlimit(RLIMIT_CORE, &zero) < 0)
		return kerr_set(err, -errno, "confine: RLIMIT_CORE: %s", strerror(errno));
	if (prctl(PR_SET_DUMPABLE, 0) < 0)
		return kerr_set(err, -errno, "confine: PR_SET_DUMPABLE: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return kerr_set(err, -errno, "confine: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	if ((r = seccomp_allow(err)) < 0)
		return kerr_prefix(err, "confine: ");
	return 0;
}
