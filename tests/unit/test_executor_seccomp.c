/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_executor_seccomp.c - the executor's seccomp deny-list (agentd/executor/
 * executor_seccomp.c), loaded for real in forked children: every listed call
 * fails with EPERM, bpf only for the device program's commands, what the
 * executor does (mount, unshare, settimeofday's neighbours, fork, execve)
 * still works, and the filter reaches whatever such a child starts: the
 * reason container processes and modprobe come from the spawner, forked
 * before the filter (needs root for mount/unshare).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <seccomp.h>

#include "executor_seccomp.h"
#include "tap.h"
#include "testutil.h"

/* Run fn in a child with the filter loaded; its exit status. */
static int in_filtered_child(int (*fn)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		struct kerr e = { 0 };
		if (executor_seccomp_load(&e) < 0) {
			printf("# %s\n", e.msg);
			_exit(100);
		}
		int r = fn();
		fflush(stdout);
		_exit(r);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 200 + WTERMSIG(st);
}

/* 0 when every listed syscall this architecture has fails with EPERM. */
static int denied_all(void)
{
	int bad = 0;
	for (size_t i = 0; i < executor_seccomp_n_denied; i++) {
		int nr = seccomp_syscall_resolve_name(executor_seccomp_denied[i]);
		/* Negative: not a native syscall here (libseccomp's pseudo
		 * numbers, e.g. vm86 on x86_64, denied on the compat arch). */
		if (nr < 0)
			continue;
		/* All-zero arguments: harmless for each of them (reboot with a
		 * zero magic is EINVAL, never a reboot). */
		errno = 0;
		long r = syscall(nr, 0, 0, 0, 0, 0, 0);
		if (r != -1 || errno != EPERM) {
			printf("# %s: %ld, %s\n", executor_seccomp_denied[i], r, strerror(errno));
			bad = 1;
		}
	}
	return bad;
}

TEST(every_listed_call_fails_with_eperm)
{
	CHECK(executor_seccomp_n_denied >= 30);
	CHECK_EQ_INT(in_filtered_child(denied_all), 0);
}

/* A process the executor could trace without the filter (same uid, root):
 * its child, stopped in pause(). */
static pid_t ptrace_target;

static int trace_target(void)
{
	errno = 0;
	long r = ptrace(PTRACE_SEIZE, ptrace_target, 0, 0);
	if (r == 0)
		return 1;
	return errno == EPERM ? 0 : 2;
}

static int trace_target_unfiltered(void)
{
	if (ptrace(PTRACE_SEIZE, ptrace_target, 0, 0) < 0) {
		printf("# control PTRACE_SEIZE: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

/* Sanitizer builds let ptrace name the executor's own pid (LeakSanitizer's
 * tracer at exit, executor_seccomp.c): any other pid is still refused. */
TEST(ptrace_of_another_process_refused)
{
	ptrace_target = fork();
	if (ptrace_target == 0) {
		pause();
		_exit(0);
	}
	REQUIRE(ptrace_target > 0);
	pid_t control = fork();
	if (control == 0)
		_exit(trace_target_unfiltered());
	int st = -1;
	waitpid(control, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_EQ_INT(in_filtered_child(trace_target), 0);
	kill(ptrace_target, SIGKILL);
	waitpid(ptrace_target, NULL, 0);
}

static int bpf_cmds(void)
{
	char attr[128] = { 0 };
	/* BPF_MAP_CREATE (0), BPF_PROG_QUERY (16): denied. */
	if (syscall(SYS_bpf, 0, attr, sizeof(attr)) != -1 || errno != EPERM)
		return 1;
	if (syscall(SYS_bpf, 16, attr, sizeof(attr)) != -1 || errno != EPERM)
		return 2;
	/* BPF_PROG_LOAD of nothing: the kernel's own error, not ours. */
	if (syscall(SYS_bpf, 5, attr, sizeof(attr)) != -1 || errno == EPERM)
		return 3;
	return 0;
}

TEST(bpf_only_for_the_device_program)
{
	CHECK_EQ_INT(in_filtered_child(bpf_cmds), 0);
}

static int executor_work(void)
{
	if (tu_private_mount_ns() < 0)
		return 1;
	char dir[] = "/tmp/kexecsc-XXXXXX";
	if (!mkdtemp(dir) || mount("tmpfs", dir, "tmpfs", 0, "size=64k") < 0)
		return 2;
	if (umount2(dir, MNT_DETACH) < 0 || rmdir(dir) < 0)
		return 3;
	pid_t p = fork();
	if (p == 0)
		_exit(7);
	int st;
	if (p < 0 || waitpid(p, &st, 0) != p || WEXITSTATUS(st) != 7)
		return 4;
	return 0;
}

TEST(what_the_executor_does_still_works)
{
	if (geteuid() != 0)
		SKIP("needs root");
	CHECK_EQ_INT(in_filtered_child(executor_work), 0);
}

/* A child, exec'd: does it still carry the filter? (Yes: hence the
 * spawner.) */
static int exec_child_inherits(void)
{
	int p[2];
	if (pipe(p) < 0)
		return 1;
	pid_t c = fork();
	if (c == 0) {
		dup2(p[1], 1);
		execl("/bin/grep", "grep", "^Seccomp:", "/proc/self/status", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char buf[128] = "";
	ssize_t n = read(p[0], buf, sizeof(buf) - 1);
	waitpid(c, NULL, 0);
	buf[n > 0 ? n : 0] = '\0';
	printf("# exec'd child: %s", buf);
	return strstr(buf, "Seccomp:\t2") ? 0 : 2;
}

TEST(the_filter_reaches_exec_d_children)
{
	CHECK_EQ_INT(in_filtered_child(exec_child_inherits), 0);
}

int main(void)
{
	return tap_run();
}
