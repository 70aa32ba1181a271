/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_bypass.c - attack: a compromised front-end sends requests the agent
 * policy denies straight to the executor and to a monitor (issue 11).
 *
 * This test is that front-end, and the parent: it starts the real
 * kata-agent-executor (control channel on fd 3), the real kata-agent-policy
 * (its channel handed to the executor with CTL_NEW_POLICY), gives the
 * executor a policy (CTL_POLICY: tests/policy/agent/no-exec.rego's shape,
 * with SetGuestDateTime, CopyFile and SetPolicy denied too) and a front-end
 * channel, and sends denied requests as IPC: each must be refused ERROR
 * PERMISSION_DENIED "<Request> is blocked by policy: <prints>" before its
 * handler runs (the clock is not set, no file is written). Then it kills
 * the policy process with -9 (requests fail UNAVAILABLE: closed, not open)
 * and starts another (the same answers as before). Last, the real
 * kata-agent-monitor with MON_POLICY denying WaitProcess and WriteStdin:
 * those requests sent straight to it are refused, and one sent before any
 * MON_POLICY waits for it (then refused).
 *
 * And a second executor started without a policy (no policy process: the
 * parent starts one only on the executor's CTL_START_POLICY, issue 14),
 * to which the compromised front-end sends SetPolicy: unanswered, the ask
 * ends in UNAVAILABLE within its bound; then a burst of SetPolicy calls
 * makes the executor ask its parent (this test) once, not once per call,
 * and all go through once a policy process is handed over.
 *
 * Needs root (the processes confine themselves; the executor makes
 * cgroups). Runs in a private mount namespace with a private
 * --cgroup-parent.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "grpc_status.h"
#include "ipc.h"
#include "tap.h"
#include "testutil.h"

static const char
	policy_text[] = "package agent_policy\n"
			"default CreateContainerRequest := true\n"
			"default GuestDetailsRequest := true\n"
			"default SetPolicyRequest := false\n"
			"default CopyFileRequest := false\n"
			"default ExecProcessRequest := false\n"
			"SetGuestDateTimeRequest := false if { print(\"no clock changes\") }\n";

/* What the burst of SetPolicy sets: it allows SetPolicy, so that each of
 * the burst goes through whether it comes before or after the first is in
 * force, and denies SetGuestDateTime, to show it is. */
static const char
	burst_policy[] = "package agent_policy\n"
			 "default SetPolicyRequest := true\n"
			 "SetGuestDateTimeRequest := false if { print(\"no clock changes\") }\n";

static char tmp[64], cgparent[64], cglazy[64];
static pid_t epid = -1, ppid_ = -1, mpid = -1, lazy_epid = -1, lazy_ppid = -1;
static int ctl = -1, fe = -1, mfe = -1, mex = -1, mla = -1, lazy_ctl = -1, lazy_fe = -1;
static uint32_t next_id = 1;
static unsigned policy_gen;

/* Send a request, wait for its answer: the reply's type, with the ERROR's
 * status and text. */
static int ask(int fd, uint32_t type, const void *p, size_t len, int *status, char *msg,
	       size_t msglen)
{
	struct ipc_msg m;
	*status = 0;
	msg[0] = '\0';
	if (tu_ipc_ask(fd, type, next_id++, p, len, 30000, NULL, NULL, &m) != 1)
		return -1;
	int t = (int)m.hdr.type;
	struct kerr f = { 0 };
	if (ipc_error_decode(&m, &f)) {
		*status = f.status;
		snprintf(msg, msglen, "%s", f.msg);
		printf("# %s -> %s: %s\n", ipc_type_name(type), grpc_status_name(f.status), f.msg);
	}
	ipc_msg_release(&m);
	return t;
}

static bool refused_with(int fd, uint32_t type, const void *p, size_t len, int want_status,
			 const char *want_text)
{
	int st;
	char msg[IPC_ERROR_MSG_MAX];
	return ask(fd, type, p, len, &st, msg, sizeof(msg)) == IPC_ERROR && st == want_status &&
	       strstr(msg, want_text) != NULL;
}

static int pack(const ProtobufCMessage *m, uint8_t **out)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	*out = malloc(n + 1);
	protobuf_c_message_pack(m, *out);
	return (int)n;
}

/* A policy process, its channel handed to the executor at ctl_fd. */
static int start_policy_on(int ctl_fd, pid_t *pid)
{
	const char *bin = getenv("KATA_POLICY");
	int sp[2];
	if (!bin || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;
	char *argv[] = { (char *)"kata-agent-policy", NULL };
	*pid = tu_spawn(bin, argv, &sp[0], 1);
	close(sp[0]);
	struct ipc_ctl_new_frontend n = { .generation = ++policy_gen, .frontend_pid = *pid };
	struct kerr e = { 0 };
	int r = ipc_send_fd(ctl_fd, IPC_CTL_NEW_POLICY, 0, &n, sizeof(n), sp[1], &e);
	close(sp[1]);
	return *pid > 0 && r == 0 ? 0 : -1;
}

static int start_policy(void)
{
	return start_policy_on(ctl, &ppid_);
}

/* The executor's argv, as the parent gives it, with --cgroup-parent cg
 * (no monitor is started: /bin/false stands in). */
#define EXECUTOR_ARGC 10
static void executor_argv(char *argv[EXECUTOR_ARGC], char *cg)
{
	char *const a[EXECUTOR_ARGC] = {
		(char *)"kata-agent-executor",
		(char *)"--ctl-fd",
		(char *)"3",
		(char *)"--shared-dir",
		tmp,
		(char *)"--cgroup-parent",
		cg,
		(char *)"--monitor-path",
		(char *)"/bin/false",
		NULL,
	};
	memcpy(argv, a, sizeof(a));
}

TEST(executor_and_policy_process_started_with_a_policy)
{
	const char *exe = getenv("KATA_EXECUTOR");
	REQUIRE(exe != NULL && getenv("KATA_POLICY") != NULL);
	if (geteuid() != 0)
		SKIP("needs root");
	REQUIRE(unshare(CLONE_NEWNS) == 0);
	REQUIRE(mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	snprintf(tmp, sizeof(tmp), "/tmp/kata-sec-pol-XXXXXX");
	REQUIRE(mkdtemp(tmp) != NULL);
	snprintf(cgparent, sizeof(cgparent), "kata-sec-pol-%d", (int)getpid());
	int sp[2], fp[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == 0);
	REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fp) == 0);
	char *argv[EXECUTOR_ARGC];
	executor_argv(argv, cgparent);
	epid = tu_spawn(exe, argv, &sp[1], 1);
	REQUIRE(epid > 0);
	close(sp[1]);
	ctl = sp[0];
	/* as the parent: the policy, its process, the front-end */
	size_t n = sizeof(struct ipc_policy_text) + strlen(policy_text);
	char *msg = calloc(1, n);
	snprintf(((struct ipc_policy_text *)msg)->source, 256, "policy_bypass.c");
	memcpy(msg + sizeof(struct ipc_policy_text), policy_text, strlen(policy_text));
	struct kerr e = { 0 };
	REQUIRE(ipc_send_fd(ctl, IPC_CTL_POLICY, 0, msg, n, -1, &e) == 0);
	free(msg);
	REQUIRE(start_policy() == 0);
	struct ipc_ctl_new_frontend nf = { .generation = 1, .frontend_pid = getpid() };
	REQUIRE(ipc_send_fd(ctl, IPC_CTL_NEW_FRONTEND, 0, &nf, sizeof(nf), fp[1], &e) == 0);
	close(fp[1]);
	fe = fp[0];
	struct ipc_guest_details_req q = { 0 };
	int st;
	char m[IPC_ERROR_MSG_MAX];
	CHECK_EQ_INT(ask(fe, IPC_GET_GUEST_DETAILS_REQ, &q, sizeof(q), &st, m, sizeof(m)),
		     IPC_GET_GUEST_DETAILS_REPLY);
}

/* The requests the policy denies, sent as a compromised front-end would. */
static void denied_requests(int *tap_failed)
{
	struct ipc_guest_time t = { .sec = 0, .usec = 0 };
	CHECK(refused_with(fe, IPC_SET_GUEST_DATE_TIME_REQ, &t, sizeof(t), GRPC_PERMISSION_DENIED,
			   "SetGuestDateTimeRequest is blocked by policy: no clock changes"));
	CHECK(time(NULL) > 1700000000);
	Grpc__CopyFileRequest cf = GRPC__COPY_FILE_REQUEST__INIT;
	char path[160];
	snprintf(path, sizeof(path), "%s/planted", tmp);
	cf.path = path;
	cf.file_size = 2;
	cf.file_mode = 0100644;
	cf.data.data = (uint8_t *)"x\n";
	cf.data.len = 2;
	uint8_t *buf;
	int n = pack(&cf.base, &buf);
	CHECK(refused_with(fe, IPC_COPY_FILE_REQ, buf, (size_t)n, GRPC_PERMISSION_DENIED,
			   "CopyFileRequest is blocked by policy"));
	free(buf);
	CHECK(access(path, F_OK) < 0);
	Grpc__ExecProcessRequest ex = GRPC__EXEC_PROCESS_REQUEST__INIT;
	Grpc__Process proc = GRPC__PROCESS__INIT;
	char *args[] = { (char *)"/bin/sh" };
	proc.n_args = 1;
	proc.args = args;
	ex.container_id = (char *)"c1";
	ex.exec_id = (char *)"e1";
	ex.process = &proc;
	n = pack(&ex.base, &buf);
	CHECK(refused_with(fe, IPC_EXEC_PROCESS_REQ, buf, (size_t)n, GRPC_PERMISSION_DENIED,
			   "ExecProcessRequest is blocked by policy"));
	free(buf);
	/* and the policy cannot be replaced by one that allows all that */
	Grpc__SetPolicyRequest sp = GRPC__SET_POLICY_REQUEST__INIT;
	sp.policy = (char *)"package agent_policy\ndefault ExecProcessRequest := true\n";
	n = pack(&sp.base, &buf);
	CHECK(refused_with(fe, IPC_SET_POLICY_REQ, buf, (size_t)n, GRPC_PERMISSION_DENIED,
			   "SetPolicyRequest is blocked by policy"));
	free(buf);
}

TEST(executor_refuses_what_the_policy_denies_before_its_handler)
{
	REQUIRE(fe >= 0);
	denied_requests(tap_failed);
}

TEST(policy_process_killed_requests_fail_closed_until_it_is_back)
{
	REQUIRE(fe >= 0 && ppid_ > 0);
	kill(ppid_, SIGKILL);
	waitpid(ppid_, NULL, 0);
	ppid_ = -1;
	/* allowed before: now UNAVAILABLE, not let through */
	struct ipc_guest_details_req q = { 0 };
	bool closed = false;
	for (int i = 0; i < 50 && !closed; i++) {
		closed = refused_with(fe, IPC_GET_GUEST_DETAILS_REQ, &q, sizeof(q),
				      GRPC_UNAVAILABLE, "policy process");
		if (!closed)
			usleep(20000); /* the executor sees the channel close */
	}
	CHECK(closed);
	struct ipc_guest_time t = { .sec = 0, .usec = 0 };
	CHECK(refused_with(fe, IPC_SET_GUEST_DATE_TIME_REQ, &t, sizeof(t), GRPC_UNAVAILABLE,
			   "policy process"));
	CHECK(time(NULL) > 1700000000);
	/* a new one: the policy in force is loaded into it (the executor
	 * reads the control channel and ours in no set order: retry) */
	REQUIRE(start_policy() == 0);
	int st, got = -1;
	char m[IPC_ERROR_MSG_MAX];
	for (int i = 0; i < 50 && got != IPC_GET_GUEST_DETAILS_REPLY; i++) {
		got = ask(fe, IPC_GET_GUEST_DETAILS_REQ, &q, sizeof(q), &st, m, sizeof(m));
		if (got != IPC_GET_GUEST_DETAILS_REPLY)
			usleep(20000);
	}
	CHECK_EQ_INT(got, IPC_GET_GUEST_DETAILS_REPLY);
	denied_requests(tap_failed);
}

/* ---- the monitor ---- */

TEST(monitor_refuses_before_its_verdicts_and_what_they_deny)
{
	const char *bin = getenv("KATA_MONITOR");
	REQUIRE(bin != NULL);
	if (geteuid() != 0)
		SKIP("needs root");
	int em[2], lm[2], fm[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, em) == 0);
	REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, lm) == 0);
	REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fm) == 0);
	char *argv[] = { (char *)"kata-agent-monitor", (char *)"--container-id", (char *)"c1",
			 NULL };
	int fds[3] = { em[1], lm[1], fm[1] };
	mpid = tu_spawn(bin, argv, fds, 3);
	REQUIRE(mpid > 0);
	close(em[1]);
	close(lm[1]);
	close(fm[1]);
	mex = em[0];
	mla = lm[0];
	mfe = fm[0];
	struct ipc_exec_ref ref = { 0 };
	snprintf(ref.container_id, sizeof(ref.container_id), "c1");
	/* no verdicts yet: the request waits for them, then is refused */
	struct kerr e = { 0 };
	uint32_t early = next_id++;
	REQUIRE(ipc_send_fd(mfe, IPC_WAIT_PROCESS_REQ, early, &ref, sizeof(ref), -1, &e) == 0);
	struct ipc_msg m;
	CHECK_EQ_INT(tu_ipc_recv(mfe, &m, 300), -ETIMEDOUT);
	struct ipc_mon_policy mp = { .deny = IPC_MON_DENY_WAIT_PROCESS | IPC_MON_DENY_WRITE_STREAM };
	REQUIRE(ipc_send_fd(mex, IPC_MON_POLICY, 0, &mp, sizeof(mp), -1, &e) == 0);
	REQUIRE(tu_ipc_recv(mfe, &m, 30000) > 0);
	struct kerr f = { 0 };
	CHECK(m.hdr.id == early && ipc_error_decode(&m, &f) && f.status == GRPC_PERMISSION_DENIED);
	ipc_msg_release(&m);
	CHECK(refused_with(mfe, IPC_WAIT_PROCESS_REQ, &ref, sizeof(ref), GRPC_PERMISSION_DENIED,
			   "WaitProcessRequest is blocked by policy"));
	uint8_t w[sizeof(struct ipc_stdio_write) + 4] = { 0 };
	memcpy(w + sizeof(struct ipc_stdio_write), "data", 4);
	CHECK(refused_with(mfe, IPC_WRITE_STDIN_REQ, w, sizeof(w), GRPC_PERMISSION_DENIED,
			   "WriteStreamRequest is blocked by policy"));
	/* what the policy allows passes and meets the real check */
	struct ipc_tty_resize rs = { .rows = 10, .cols = 10 };
	snprintf(rs.exec_id, sizeof(rs.exec_id), "nosuch");
	CHECK(refused_with(mfe, IPC_TTY_WIN_RESIZE_REQ, &rs, sizeof(rs), GRPC_NOT_FOUND, ""));
}

/* ---- no policy at start: the policy process on demand ---- */

/* A SET_POLICY_REQ with this policy's text, sent without waiting. */
static int send_set_policy(int fd, uint32_t id, const char *text)
{
	Grpc__SetPolicyRequest sp = GRPC__SET_POLICY_REQUEST__INIT;
	sp.policy = (char *)text;
	uint8_t *buf;
	int n = pack(&sp.base, &buf);
	struct kerr e = { 0 };
	int r = ipc_send_fd(fd, IPC_SET_POLICY_REQ, id, buf, (size_t)n, -1, &e);
	free(buf);
	return r;
}

/* The control messages the executor sent us (its parent), read until none
 * is queued: how many were CTL_START_POLICY, -1 for any other. */
static int start_asks_queued(int fd)
{
	int n = 0;
	struct ipc_msg m;
	while (tu_ipc_recv(fd, &m, 0) == 1) {
		n = n < 0 || m.hdr.type != IPC_CTL_START_POLICY ? -1 : n + 1;
		ipc_msg_release(&m);
	}
	return n;
}

TEST(no_policy_an_unanswered_ask_fails_setpolicy_unavailable_in_bounds)
{
	const char *exe = getenv("KATA_EXECUTOR");
	if (geteuid() != 0)
		SKIP("needs root");
	REQUIRE(exe != NULL && tmp[0]);
	snprintf(cglazy, sizeof(cglazy), "kata-sec-pol-lazy-%d", (int)getpid());
	char *argv[EXECUTOR_ARGC];
	executor_argv(argv, cglazy);
	lazy_epid = tu_executor_start(exe, argv, &lazy_ctl, &lazy_fe);
	REQUIRE(lazy_epid > 0);
	/* no policy: everything goes, and nothing is asked of the parent */
	int st;
	char m[IPC_ERROR_MSG_MAX];
	struct ipc_guest_details_req q = { 0 };
	CHECK_EQ_INT(ask(lazy_fe, IPC_GET_GUEST_DETAILS_REQ, &q, sizeof(q), &st, m, sizeof(m)),
		     IPC_GET_GUEST_DETAILS_REPLY);
	CHECK_EQ_INT(start_asks_queued(lazy_ctl), 0);
	/* a SetPolicy: the executor asks; we (the parent) never answer */
	uint64_t t0 = tu_now_ms();
	CHECK(refused_with(lazy_fe, IPC_SET_POLICY_REQ, NULL, 0, GRPC_INVALID_ARGUMENT,
			   "a policy of 0 bytes"));
	uint32_t id = next_id++;
	REQUIRE(send_set_policy(lazy_fe, id, policy_text) == 0);
	struct ipc_msg r;
	REQUIRE(tu_ipc_recv(lazy_fe, &r, 30000) == 1);
	struct kerr f = { 0 };
	CHECK(r.hdr.id == id && ipc_error_decode(&r, &f) && f.status == GRPC_UNAVAILABLE &&
	      strstr(f.msg, "no policy process came up within 10 s"));
	printf("# answered after %llu ms: %s\n", (unsigned long long)(tu_now_ms() - t0), f.msg);
	ipc_msg_release(&r);
	CHECK_EQ_INT(start_asks_queued(lazy_ctl), 1);
}

TEST(compromised_frontend_setpolicy_burst_asks_for_one_policy_process)
{
	if (geteuid() != 0)
		SKIP("needs root");
	REQUIRE(lazy_epid > 0);
	enum { N = 32 };
	uint32_t first = next_id;
	for (int i = 0; i < N; i++)
		REQUIRE(send_set_policy(lazy_fe, next_id++, burst_policy) == 0);
	/* one ask for all of them: it comes, then the calls wait */
	struct ipc_msg a;
	REQUIRE(tu_ipc_recv(lazy_ctl, &a, 30000) == 1);
	CHECK_EQ_INT((int)a.hdr.type, IPC_CTL_START_POLICY);
	ipc_msg_release(&a);
	/* as the parent: one policy process; every call then goes through */
	REQUIRE(start_policy_on(lazy_ctl, &lazy_ppid) == 0);
	int ok = 0;
	for (int i = 0; i < N; i++) {
		struct ipc_msg r;
		if (tu_ipc_recv(lazy_fe, &r, 30000) != 1)
			break;
		ok += r.hdr.type == IPC_OK && r.hdr.id >= first && r.hdr.id < first + N;
		ipc_msg_release(&r);
	}
	CHECK_EQ_INT(ok, N);
	/* each call was handled before its answer: a second ask would be
	 * queued by now */
	CHECK_EQ_INT(start_asks_queued(lazy_ctl), 0);
	/* the policy they set is in force (each installed policy asks the
	 * monitors' verdicts, 5 dry checks: until those are answered a
	 * request may find MAX_WAITING checks queued, RESOURCE_EXHAUSTED) */
	struct ipc_guest_time t = { .sec = 0, .usec = 0 };
	int st = GRPC_RESOURCE_EXHAUSTED, got = -1;
	char m[IPC_ERROR_MSG_MAX];
	for (int i = 0; i < 600 && st == GRPC_RESOURCE_EXHAUSTED; i++) {
		got = ask(lazy_fe, IPC_SET_GUEST_DATE_TIME_REQ, &t, sizeof(t), &st, m, sizeof(m));
		if (st == GRPC_RESOURCE_EXHAUSTED)
			tu_sleep_ms(50);
	}
	CHECK(got == IPC_ERROR && st == GRPC_PERMISSION_DENIED && strstr(m, "no clock changes"));
	CHECK(time(NULL) > 1700000000);
}

static void kill_reap(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

TEST(teardown)
{
	kill_reap(lazy_ppid);
	size_t lazy_left = 0;
	bool lazy_exited = lazy_epid <= 0 || tu_executor_teardown(lazy_epid, lazy_fe, lazy_ctl,
								  cglazy, NULL, &lazy_left);
	CHECK(lazy_exited);
	CHECK_EQ_INT(lazy_left, 0);
	kill_reap(mpid);
	kill_reap(ppid_);
	size_t left;
	bool exited = tu_executor_teardown(epid, fe, ctl, cgparent, tmp, &left);
	CHECK(exited);
	CHECK_EQ_INT(left, 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return tap_run();
}
