/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confine_filter.c - the seccomp allow-lists of confine.h's profiles, built
 * with libseccomp: at run time (confine_self, in a forked child) for the
 * front-end and the policy process, at build time (confine_gen.c) for the
 * monitor, which then loads a program built with the agent and links no
 * libseccomp (doc/benchmarks.md "Issue 14, memory part, round 2"). The
 * profiles' own lists are in confine.c; the measurement builds' additions
 * (KATA_SANITIZE, KATA_COVERAGE) are explained there.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "confine.h"

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
static bool build_allows(const char *name)
{
	for (size_t i = 0; build_extra_syscalls[i]; i++)
		if (!strcmp(build_extra_syscalls[i], name))
			return true;
	return false;
}

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

int confine_filter_export(const struct confine_profile *p, pid_t self, int fd, struct kerr *err)
{
	return build_filter(p, self, fd, err);
}

/* Built in a child: libseccomp's rule database (about 100 KiB of small
 * blocks) never enters this process's heap, where its freed holes would be
 * where every later allocation lands, a page each (doc/benchmarks.md
 * "Issue 14, memory part"). *ins is the program, malloc'd. */
static int build_in_child(confine_filter_builder *build, const void *arg, struct sock_filter **ins,
			  unsigned short *count, struct kerr *err)
{
	cleanup_close int bpf = memfd_create("confine-bpf", MFD_CLOEXEC);
	int ep[2];
	if (bpf < 0 || pipe2(ep, O_CLOEXEC) < 0)
		return kerr_set(err, -errno, "seccomp filter: %s", strerror(errno));
	pid_t pid = fork();
	if (pid == 0) {
		close(ep[0]);
		struct kerr e = { 0 };
		if (build(arg, bpf, &e) < 0) {
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
	cleanup_free struct sock_filter *got = malloc((size_t)len);
	if (!got || pread(bpf, got, (size_t)len, 0) != len)
		return kerr_set(err, -EIO, "seccomp filter: read it back");
	*count = (unsigned short)(len / (off_t)sizeof(struct sock_filter));
	*ins = got;
	got = NULL;
	return 0;
}

int confine_load_built_filter(confine_filter_builder *build, const void *arg, struct kerr *err)
{
	cleanup_free struct sock_filter *ins = NULL;
	struct confine_bpf bpf = { 0 };
	int r = build_in_child(build, arg, &ins, &bpf.len, err);
	if (r < 0)
		return r;
	bpf.ins = ins;
	return confine_load_bpf(&bpf, err);
}

struct profile_filter {
	const struct confine_profile *p;
	pid_t self;
};

static int build_profile_filter(const void *arg, int fd, struct kerr *err)
{
	const struct profile_filter *f = arg;
	return build_filter(f->p, f->self, fd, err);
}

int confine_self(const struct confine_profile *p, uid_t uid, gid_t gid, pid_t parent_pid,
		 struct kerr *err)
{
	cleanup_free struct sock_filter *ins = NULL;
	struct confine_bpf bpf = { 0 };
	struct profile_filter f = { p, getpid() };
	if (build_in_child(build_profile_filter, &f, &ins, &bpf.len, err) < 0)
		return kerr_prefix(err, "confine %s", p->who);
	bpf.ins = ins;
	return confine_self_bpf(p, &bpf, uid, gid, parent_pid, err);
}
