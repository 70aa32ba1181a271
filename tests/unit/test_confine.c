/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_confine.c - common/confine.c in forked children, with the front-end's
 * and the monitor's profiles: what the kernel reports for a confined
 * process, that the work each does (front-end: IPC with sealed memfds,
 * epoll, logging; monitor: signalfd, waitid, pidfd signals, TIOCSWINSZ)
 * passes its seccomp filter, and that what it must not do kills it with
 * SIGSYS. Needs root.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <linux/wait.h>

#include "tap.h"
#include "testutil.h"
#include "confine.h"
#include "ipc.h"
#include "log.h"
#include "loop.h"

#define UID 65534

/* Confine this process with p as the agent does: the monitor with its
 * program built with the agent (confine_monitor_bpf), the others with
 * their filter built at run time. */
static int confine_as(const struct confine_profile *p, pid_t parent, struct kerr *e)
{
	if (p == &confine_monitor)
		return confine_self_bpf(p, &confine_monitor_bpf, UID, UID, parent, e);
	return confine_self(p, UID, UID, parent, e);
}

/* Run fn confined with profile p in a child; return its wait status. */
static int run_confined_as(const struct confine_profile *p, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct kerr e = { 0 };
		if (confine_as(p, getppid(), &e) < 0) {
			printf("# confine: %s\n", e.msg);
			fflush(stdout);
			_exit(100);
		}
		_exit(fn(arg));
	}
	int st = -1;
	waitpid(pid, &st, 0);
	return st;
}

static int run_confined(int (*fn)(void *), void *arg)
{
	return run_confined_as(&confine_frontend, fn, arg);
}

static int exits_with(int st, int code)
{
	if (WIFEXITED(st) && WEXITSTATUS(st) == code)
		return 1;
	if (WIFSIGNALED(st))
		printf("# child killed by signal %d (%s)\n", WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		printf("# child exited %d, expected %d\n", WEXITSTATUS(st), code);
	return 0;
}

static int killed_by_sigsys(int st)
{
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		return 1;
	printf("# child status 0x%x, expected death by SIGSYS\n", st);
	return 0;
}

/* ---- what /proc says about a confined process ---- */

static int wait_on_pipe(void *arg)
{
	int *fds = arg;
	char c = 'r';
	if (write(fds[1], &c, 1) != 1)
		return 1;
	return read(fds[0], &c, 1) == 1 ? 0 : 2;
}

/* signal 0: the checks of a signal, none sent */
static int do_tgkill_self(void *arg)
{
	return syscall(SYS_tgkill, getpid(), getpid(), 0) == 0 ? 0 : 3;
}

static int do_tgkill_parent(void *arg)
{
	syscall(SYS_tgkill, getppid(), getppid(), 0);
	return 4;
}

static void proc_status_check(int *tap_failed, const struct confine_profile *p,
			      const char *capprm_eff)
{
	if (geteuid() != 0)
		SKIP("needs root");
	int to_child[2], from_child[2];
	REQUIRE(pipe(to_child) == 0 && pipe(from_child) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		struct kerr e = { 0 };
		if (confine_as(p, getppid(), &e) < 0)
			_exit(100);
		int fds[2] = { to_child[0], from_child[1] };
		_exit(wait_on_pipe(fds));
	}
	char c;
	REQUIRE(read(from_child[0], &c, 1) == 1);
	char v[128];
	tu_proc_status(pid, "Uid", v, sizeof(v));
	CHECK_EQ_STR(v, "65534\t65534\t65534\t65534");
	tu_proc_status(pid, "Gid", v, sizeof(v));
	CHECK_EQ_STR(v, "65534\t65534\t65534\t65534");
	tu_proc_status(pid, "Groups", v, sizeof(v));
	CHECK_EQ_STR(v, "");
	const char *caps[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
	for (size_t i = 0; i < 5; i++) {
		tu_proc_status(pid, caps[i], v, sizeof(v));
		CHECK_EQ_STR(v, (i == 1 || i == 2) ? capprm_eff : "0000000000000000");
	}
	tu_proc_status(pid, "NoNewPrivs", v, sizeof(v));
	CHECK_EQ_STR(v, "1");
	tu_proc_status(pid, "Seccomp", v, sizeof(v));
	CHECK_EQ_STR(v, "2");
	/* Its root is the empty tmpfs. */
	char root[64];
	snprintf(root, sizeof(root), "/proc/%d/root/etc", (int)pid);
	CHECK(access(root, F_OK) < 0);
	CHECK(write(to_child[1], "x", 1) == 1);
	int st;
	waitpid(pid, &st, 0);
	CHECK(exits_with(st, 0));
	close(to_child[0]);
	close(to_child[1]);
	close(from_child[0]);
	close(from_child[1]);
}

/* The monitor's program, built with the agent (confine-gen), is the one
 * its profile builds at run time, instruction for instruction, once this
 * process's pid is written where the program holds the mark. */
TEST(monitor_program_is_its_profile_s)
{
	int fd = memfd_create("test-bpf", MFD_CLOEXEC);
	REQUIRE(fd >= 0);
	struct kerr e = { 0 };
	pid_t self = getpid();
	REQUIRE(confine_filter_export(&confine_monitor, self, fd, &e) == 0);
	static struct sock_filter ins[BPF_MAXINSNS];
	ssize_t n = pread(fd, ins, sizeof(ins), 0);
	close(fd);
	CHECK_EQ_INT(n, (ssize_t)(confine_monitor_bpf.len * sizeof(ins[0])));
	REQUIRE(confine_monitor_bpf.npid >= 1);
	unsigned differ = 0, marks = 0;
	for (unsigned i = 0; n > 0 && i < confine_monitor_bpf.len; i++) {
		struct sock_filter want = confine_monitor_bpf.ins[i];
		for (unsigned j = 0; j < confine_monitor_bpf.npid; j++)
			if (confine_monitor_bpf.pid_at[j] == i && want.k == CONFINE_BPF_PID_MARK) {
				want.k = (uint32_t)self;
				marks++;
			}
		differ += memcmp(&want, &ins[i], sizeof(want)) != 0;
	}
	CHECK_EQ_INT(differ, 0);
	CHECK_EQ_INT(marks, confine_monitor_bpf.npid);
}

TEST(proc_status_of_confined_process)
{
	proc_status_check(tap_failed, &confine_frontend, "0000000000000000");
}

TEST(proc_status_of_confined_monitor)
{
	/* CAP_KILL (5) alone. */
	proc_status_check(tap_failed, &confine_monitor, "0000000000000020");
}

/* ---- the front-end's real work passes the filter ---- */

static int on_blob(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	int *got = data;
	*got = (int)m->len;
	for (size_t i = 0; i < m->len; i++)
		if (m->payload[i] != (uint8_t)i)
			*got = -1;
	return 0;
}

static const struct ipc_dispatch blob_table[] = {
	{ IPC_TEST_BLOB, on_blob },
	{ 0, NULL },
};

static void quit_cb(struct ipc_chan *c, const char *reason, void *data)
{
}

static void on_timer(struct loop *l, void *data)
{
	loop_quit(l);
}

static int frontend_work(void *arg)
{
	int *sv = arg;
	struct kerr e = { 0 };
	/* Files: refused softly, not fatal (libc looks up time zones etc.). A
	 * coverage build allows open for libgcov (common/confine.c): the empty
	 * root still has no file to open. */
#ifdef KATA_COVERAGE
	if (open("/etc/passwd", O_RDONLY) >= 0 || errno != ENOENT)
		return 10;
#else
	if (open("/etc/passwd", O_RDONLY) >= 0 || errno != EACCES)
		return 10;
#endif
	log_info("a log line from the confined process");
	struct loop *l;
	if (loop_new(&l, &e) < 0)
		return 11;
	/* A big payload both ways: memfd_create, seals, fstat, mmap. */
	size_t len = 2u << 20;
	uint8_t *blob = malloc(len);
	for (size_t i = 0; i < len; i++)
		blob[i] = (uint8_t)i;
	if (ipc_send_fd(sv[0], IPC_TEST_BLOB, 1, blob, len, -1, &e) < 0)
		return 12;
	int got = 0;
	struct ipc_chan *c;
	if (ipc_chan_new(&c, l, sv[1], "test", IPC_ROLE_TEST, blob_table, quit_cb, &got, &e) < 0)
		return 13;
	struct loop_timer *t = loop_timer_add(l, loop_now_ns() + 20000000ull, on_timer, NULL);
	if (loop_run(l, &e) < 0)
		return 14;
	(void)t;
	if (got != (int)len)
		return 15;
	if (ipc_chan_send(c, IPC_TEST_BLOB, 2, blob, len, -1, &e) < 0)
		return 16;
	free(blob);
	ipc_chan_free(c);
	loop_free(l);
	return 0;
}

TEST(frontend_work_passes_the_filter)
{
	if (geteuid() != 0)
		SKIP("needs root");
	int sv[2];
	REQUIRE(tu_seqpacket_pair(sv) == 0);
	CHECK(exits_with(run_confined(frontend_work, sv), 0));
	close(sv[0]);
	close(sv[1]);
}

/* ---- and what it must not do is fatal ---- */

static int do_fork(void *arg)
{
	return fork() < 0 ? 1 : 0;
}

static int do_exec_mmap(void *arg)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? 1 : 0;
}

static int do_socket(void *arg)
{
	return socket(AF_INET, SOCK_STREAM, 0) < 0 ? 1 : 0;
}

static int do_kill_parent(void *arg)
{
	return kill(getppid(), 0) < 0 ? 1 : 0;
}

static int do_prctl(void *arg)
{
	return prctl(PR_SET_DUMPABLE, 1) < 0 ? 1 : 0;
}

TEST(forbidden_syscalls_kill)
{
	if (geteuid() != 0)
		SKIP("needs root");
	CHECK(killed_by_sigsys(run_confined(do_fork, NULL)));
	CHECK(killed_by_sigsys(run_confined(do_exec_mmap, NULL)));
	CHECK(killed_by_sigsys(run_confined(do_socket, NULL)));
	CHECK(killed_by_sigsys(run_confined(do_kill_parent, NULL)));
	CHECK(killed_by_sigsys(run_confined(do_prctl, NULL)));
}

/* ---- the monitor's profile ---- */

/* The monitor's work: SIGCHLD by signalfd, a pidfd signal to a process of
 * another uid (root: needs CAP_KILL), reap it by waitid(P_PIDFD), resize a
 * pty master, and probe ioctls fail softly; widen a host stream's send
 * buffer (fd-passthrough stdio). arg: [pidfd of a root child, pty master,
 * a stream socket]. */
static int monitor_work(void *arg)
{
	int *fds = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return 10;
	int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return 11;
	if (syscall(SYS_pidfd_send_signal, fds[0], SIGKILL, NULL, 0) < 0)
		return 12;
	siginfo_t si = { 0 };
	/* Our child: forked before confinement. */
	if (waitid((idtype_t)P_PIDFD, (id_t)fds[0], &si, WEXITED) < 0)
		return 13;
	if (si.si_code != CLD_KILLED || si.si_status != SIGKILL)
		return 14;
	struct winsize ws = { .ws_row = 33, .ws_col = 99 };
	if (ioctl(fds[1], TIOCSWINSZ, &ws) < 0)
		return 15;
	struct winsize got;
	if (ioctl(fds[1], TIOCGWINSZ, &got) == 0 || errno != ENOTTY)
		return 16;
	if (isatty(fds[1]))
		return 17;
	int sndbuf = 1 << 20;
	if (setsockopt(fds[2], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) < 0)
		return 19;
	/* Reaping "anything": nothing left, ECHILD, not SIGSYS. */
	if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG) == 0 && si.si_pid != 0)
		return 18;
	close(sfd);
	return 0;
}

static int do_kill_child(void *arg)
{
	return kill(1, 0) < 0 ? 1 : 0; /* kill(2) is not in the list: SIGSYS */
}

static int do_pidfd_open(void *arg)
{
	return syscall(SYS_pidfd_open, 1, 0) < 0 ? 1 : 0;
}

/* Only SO_SNDBUF is listed: another SOL_SOCKET option, the forcing
 * variant (CAP_NET_ADMIN, not held anyway) or another level kill. */
static int do_sockopt_rcvbuf(void *arg)
{
	int v = 1 << 20;
	return setsockopt(*(int *)arg, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)) < 0 ? 1 : 0;
}

static int do_sockopt_sndbufforce(void *arg)
{
	int v = 1 << 20;
	return setsockopt(*(int *)arg, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0 ? 1 : 0;
}

static int do_sockopt_other_level(void *arg)
{
	int v = 1;
	return setsockopt(*(int *)arg, IPPROTO_TCP, SO_SNDBUF, &v, sizeof(v)) < 0 ? 1 : 0;
}

TEST(monitor_work_passes_its_filter)
{
	if (geteuid() != 0)
		SKIP("needs root");
	/* The confined process must be the parent of what it reaps: it forks
	 * the victim (still root) before confining itself. */
	pid_t pid = fork();
	if (pid == 0) {
		int fds[3];
		pid_t victim = fork();
		if (victim == 0) {
			pause();
			_exit(0);
		}
		fds[0] = (int)syscall(SYS_pidfd_open, victim, 0);
		fds[1] = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		fds[2] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0)
			_exit(90);
		struct kerr e = { 0 };
		if (confine_as(&confine_monitor, getppid(), &e) < 0) {
			printf("# confine: %s\n", e.msg);
			fflush(stdout);
			_exit(100);
		}
		_exit(monitor_work(fds));
	}
	int st = -1;
	waitpid(pid, &st, 0);
	CHECK(exits_with(st, 0));
	CHECK(killed_by_sigsys(run_confined_as(&confine_monitor, do_kill_child, NULL)));
	/* tgkill names its own pid only: the pid written into the program
	 * built with the agent is the process's */
	CHECK(exits_with(run_confined_as(&confine_monitor, do_tgkill_self, NULL), 0));
	CHECK(killed_by_sigsys(run_confined_as(&confine_monitor, do_tgkill_parent, NULL)));
	CHECK(killed_by_sigsys(run_confined_as(&confine_monitor, do_pidfd_open, NULL)));
	CHECK(killed_by_sigsys(run_confined_as(&confine_monitor, do_fork, NULL)));
	CHECK(killed_by_sigsys(run_confined_as(&confine_monitor, do_socket, NULL)));
	int sv[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(killed_by_sigsys(run_confined_as(&confine_monitor, do_sockopt_rcvbuf, &sv[0])));
	CHECK(killed_by_sigsys(run_confined_as(&confine_monitor, do_sockopt_sndbufforce, &sv[0])));
	CHECK(killed_by_sigsys(run_confined_as(&confine_monitor, do_sockopt_other_level, &sv[0])));
	/* and the front-end cannot do what the monitor may */
	CHECK(killed_by_sigsys(run_confined(do_pidfd_open, NULL)));
	CHECK(killed_by_sigsys(run_confined(do_sockopt_rcvbuf, &sv[0])));
	close(sv[0]);
	close(sv[1]);
}

/* A refusal reads "confine <who>: <cause>": kerr_prefix adds the one
 * separator itself (it used to be doubled, "confine frontend: : ..."). */
TEST(refusal_message_has_one_separator)
{
	int pfd[2];
	REQUIRE(pipe(pfd) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		struct kerr e = { 0 };
		int r = confine_self(&confine_frontend, 0, 0, 0, &e);
		if (write(pfd[1], e.msg, strlen(e.msg)) < 0)
			_exit(2);
		_exit(r < 0 ? 0 : 1);
	}
	close(pfd[1]);
	char msg[KERR_MSG_MAX] = "";
	ssize_t n = read(pfd[0], msg, sizeof(msg) - 1);
	close(pfd[0]);
	msg[n > 0 ? n : 0] = '\0';
	int st = -1;
	waitpid(pid, &st, 0);
	CHECK(exits_with(st, 0));
	CHECK_EQ_STR(msg, "confine front-end: refusing to run the front-end as uid 0 gid 0");
}

/* confine_load_built_filter (the executor's and the profiles' filters are
 * built in a child): what the builder reports, or a BPF that is not whole
 * instructions, fails the load and loads nothing. */
static int build_fails(const void *arg, int fd, struct kerr *err)
{
	return kerr_set(err, -ENOSYS, "builder: %s", (const char *)arg);
}

static int build_writes(const void *arg, int fd, struct kerr *err)
{
	const char *bytes = arg;
	return write(fd, bytes, strlen(bytes)) < 0 ? kerr_set(err, -errno, "write") : 0;
}

/* The Seccomp: line of /proc/self/status (mode 0, or 2 when this test
 * already runs under a container's filter) */
static void seccomp_mode(char *out, size_t cap)
{
	const char *l = strstr(tu_peek_file("/proc/self/status"), "Seccomp:");
	snprintf(out, cap, "%.*s", l ? (int)strcspn(l, "\n") : 0, l ? l : "");
}

static int bad_builders(void *arg)
{
	struct kerr e = { 0 };
	char before[32], after[32];
	seccomp_mode(before, sizeof(before));
	if (confine_load_built_filter(build_fails, "no", &e) != -ENOSYS ||
	    strcmp(e.msg, "builder: no") != 0)
		return 1;
	if (confine_load_built_filter(build_writes, "", &e) != -EPROTO)
		return 2; /* an empty program */
	if (confine_load_built_filter(build_writes, "12345", &e) != -EPROTO)
		return 3; /* not a whole instruction (8 bytes) */
	/* nothing loaded: the mode has not changed */
	seccomp_mode(after, sizeof(after));
	return before[0] && strcmp(before, after) == 0 ? 0 : 4;
}

TEST(a_built_filter_is_whole_or_not_loaded)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(bad_builders(NULL));
	int st = -1;
	REQUIRE(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECK(exits_with(st, 0));
}

int main(void)
{
	log_init("test", STDERR_FILENO, LOG_LVL_INFO);
	return tap_run();
}
