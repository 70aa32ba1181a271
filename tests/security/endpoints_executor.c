/* SPDX-License-Identifier: Apache-2.0 */
/*
 * endpoints_executor.c - attack: a compromised front-end calls endpoints
 * that [endpoints] allowed blocks (issue 10).
 *
 * The front-end refuses blocked RPCs, but one an attacker controls sends
 * whatever IPC it likes. This test is that front-end: it starts the real
 * kata-agent-executor as the parent does (control channel on fd 3,
 * --endpoints, then CTL_NEW_FRONTEND with its own end of the front-end
 * channel) and the real kata-agent-monitor as the executor does (fds 3, 4,
 * 5, --endpoints-blocked: the list resolved to the monitor's request
 * types), and sends requests of blocked endpoints directly. Each must be
 * refused ERROR PERMISSION_DENIED, before any handler runs (the clock is
 * not set, no file is written), with the channel still serving; allowed
 * requests pass. Then it checks that the executor hands the monitors it
 * starts what the list blocks of theirs (a stand-in monitor records its
 * argv), and that a monitor refuses a blocked list naming anything but the
 * front-end's requests to it.
 *
 * Needs root (the monitor confines itself; the executor makes cgroups).
 * Runs in a private mount namespace with a private --cgroup-parent.
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

#include <jansson.h>

#include "agent.pb-c.h"
#include "grpc_status.h"
#include "ipc.h"
#include "pbjson.h"
#include "tap.h"
#include "testutil.h"

/* What the config file allowed, as the parent passes it on. */
#define ALLOWED "GuestDetailsRequest,CreateContainerRequest,ReadStreamRequest"
/* What it blocks of the front-end's requests to a monitor, in number
 * order (READ_STREAM_REQ, READ_STREAM_ACK and MON_PASSFD_ATTACH serve
 * ReadStdout, ReadStderr, CreateContainer: allowed). */
static char *monitor_blocked(void)
{
	static char blocked[64];
	snprintf(blocked, sizeof(blocked), "%u,%u,%u,%u", IPC_WRITE_STDIN_REQ, IPC_CLOSE_STDIN_REQ,
		 IPC_TTY_WIN_RESIZE_REQ, IPC_WAIT_PROCESS_REQ);
	return blocked;
}

static char tmp[64], cgparent[64], argv_file[128];
static pid_t epid = -1, mpid = -1;
static int ctl = -1, fe = -1;            /* parent and front-end ends, executor */
static int mfe = -1, mex = -1, mla = -1; /* front-end, executor, launcher ends, monitor */
static uint32_t next_id = 1;

static int ask(int fd, uint32_t type, const void *p, size_t len, int *status, char *msg,
	       size_t msglen)
{
	return tu_ipc_call(fd, type, &next_id, p, len, status, msg, msglen);
}

/* A blocked request: ERROR PERMISSION_DENIED naming want_rpc. */
static bool refused(int fd, uint32_t type, const void *p, size_t len, const char *want_rpc)
{
	int st;
	char msg[IPC_ERROR_MSG_MAX], want[160];
	snprintf(want, sizeof(want), "%s is blocked by policy", want_rpc);
	return ask(fd, type, p, len, &st, msg, sizeof(msg)) == IPC_ERROR &&
	       st == GRPC_PERMISSION_DENIED && strstr(msg, want) != NULL;
}

static int pack(const ProtobufCMessage *m, uint8_t **out)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	*out = malloc(n + 1);
	protobuf_c_message_pack(m, *out);
	return (int)n;
}

/* ---- the executor -------------------------------------------------------- */

TEST(executor_started_with_an_allowed_list)
{
	const char *exe = getenv("KATA_EXECUTOR");
	REQUIRE(exe != NULL);
	if (geteuid() != 0)
		SKIP("needs root");
	REQUIRE(tu_private_mount_ns() == 0);
	snprintf(tmp, sizeof(tmp), "/tmp/kata-sec-ep-XXXXXX");
	REQUIRE(mkdtemp(tmp) != NULL);
	snprintf(cgparent, sizeof(cgparent), "kata-sec-ep-%d", (int)getpid());
	/* a stand-in monitor: records how the executor starts monitors */
	char fake[128], script[512];
	snprintf(fake, sizeof(fake), "%s/fake-monitor", tmp);
	snprintf(argv_file, sizeof(argv_file), "%s/monitor-argv", tmp);
	snprintf(script, sizeof(script), "#!/bin/sh\nprintf '%%s\\n' \"$@\" > %s\nexit 1\n",
		 argv_file);
	REQUIRE(tu_write_file(fake, script, 0755) == 0);
	char *argv[] = { (char *)"kata-agent-executor",
			 (char *)"--ctl-fd",
			 (char *)"3",
			 (char *)"--shared-dir",
			 tmp,
			 (char *)"--cgroup-parent",
			 cgparent,
			 (char *)"--monitor-path",
			 fake,
			 (char *)"--endpoints",
			 (char *)ALLOWED,
			 NULL };
	epid = tu_executor_start(exe, argv, &ctl, &fe);
	REQUIRE(epid > 0);
	int st;
	char msg[IPC_ERROR_MSG_MAX];
	struct ipc_ping ping = { .cookie = 1 };
	/* an internal message (no endpoint): always served */
	CHECK_EQ_INT(ask(fe, IPC_PING, &ping, sizeof(ping), &st, msg, sizeof(msg)), IPC_PONG);
}

TEST(executor_serves_an_allowed_endpoint)
{
	REQUIRE(fe >= 0);
	int st;
	char msg[IPC_ERROR_MSG_MAX];
	struct ipc_guest_details_req q = { 0 };
	CHECK_EQ_INT(ask(fe, IPC_GET_GUEST_DETAILS_REQ, &q, sizeof(q), &st, msg, sizeof(msg)),
		     IPC_GET_GUEST_DETAILS_REPLY);
}

TEST(executor_refuses_blocked_endpoints_before_their_handler)
{
	REQUIRE(fe >= 0);
	/* SetGuestDateTime to the epoch: refused, so the clock stays */
	struct ipc_guest_time t = { .sec = 0, .usec = 0 };
	CHECK(refused(fe, IPC_SET_GUEST_DATE_TIME_REQ, &t, sizeof(t), "SetGuestDateTimeRequest"));
	CHECK(time(NULL) > 1700000000);
	/* CopyFile of a file below the shared dir: refused, nothing written */
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
	CHECK(refused(fe, IPC_COPY_FILE_REQ, buf, (size_t)n, "CopyFileRequest"));
	free(buf);
	CHECK(access(path, F_OK) < 0);
	/* lifecycle requests that are not on the list */
	struct ipc_container_ref ref = { 0 };
	snprintf(ref.container_id, sizeof(ref.container_id), "c1");
	CHECK(refused(fe, IPC_START_CONTAINER_REQ, &ref, sizeof(ref), "StartContainerRequest"));
	struct ipc_process_signal sig = { .signal = 9 };
	snprintf(sig.container_id, sizeof(sig.container_id), "c1");
	CHECK(refused(fe, IPC_SIGNAL_PROCESS_REQ, &sig, sizeof(sig), "SignalProcessRequest"));
	CHECK(refused(fe, IPC_GET_METRICS_REQ, NULL, 0, "GetMetricsRequest"));
	CHECK(refused(fe, IPC_DESTROY_SANDBOX_REQ, NULL, 0, "DestroySandboxRequest"));
	/* the channel is still served */
	int st;
	char msg[IPC_ERROR_MSG_MAX];
	struct ipc_ping ping = { .cookie = 2 };
	CHECK_EQ_INT(ask(fe, IPC_PING, &ping, sizeof(ping), &st, msg, sizeof(msg)), IPC_PONG);
}

TEST(executor_hands_the_list_to_its_monitors)
{
	REQUIRE(fe >= 0);
	char root[128];
	snprintf(root, sizeof(root), "%s/c1", tmp);
	REQUIRE(mkdir(root, 0755) == 0);
	json_t *req = json_pack("{s:s,s:{s:s,s:{s:s},s:{s:[s],s:s,s:{s:i,s:i}},s:{s:[{s:s}],s:s}}}",
				"container_id", "c1", "OCI", "Version", "1.0.2", "Root", "Path",
				root, "Process", "Args", "true", "Cwd", "/", "User", "UID", 0,
				"GID", 0, "Linux", "Namespaces", "Type", "mount", "CgroupsPath",
				"c1");
	char *text = json_dumps(req, 0);
	json_decref(req);
	ProtobufCMessage *pm = NULL;
	struct kerr e = { 0 };
	int r = pbjson_from_string(&grpc__create_container_request__descriptor, text, &pm, &e);
	free(text);
	REQUIRE(r == 0);
	uint8_t *buf;
	int n = pack(pm, &buf);
	protobuf_c_message_free_unpacked(pm, NULL);
	int st;
	char msg[IPC_ERROR_MSG_MAX];
	/* the stand-in monitor exits at once: the create fails, its argv stays */
	ask(fe, IPC_CREATE_CONTAINER_REQ, buf, (size_t)n, &st, msg, sizeof(msg));
	free(buf);
	FILE *f = fopen(argv_file, "re");
	char line[512], prev[512] = "";
	bool found = false;
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(prev, "--endpoints-blocked") == 0 && strcmp(line, monitor_blocked()) == 0)
			found = true;
		snprintf(prev, sizeof(prev), "%s", line);
	}
	if (f)
		fclose(f);
	else
		printf("# the executor did not start the monitor (%s)\n", argv_file);
	CHECK(found);
}

/* ---- a monitor ----------------------------------------------------------- */

TEST(monitor_started_with_an_allowed_list)
{
	const char *bin = getenv("KATA_MONITOR");
	REQUIRE(bin != NULL);
	if (geteuid() != 0)
		SKIP("needs root");
	int em[2], lm[2], fm[2];
	REQUIRE(tu_seqpacket_pair(em) == 0);
	REQUIRE(tu_seqpacket_pair(lm) == 0);
	REQUIRE(tu_seqpacket_pair(fm) == 0);
	char *argv[] = { (char *)"kata-agent-monitor",
			 (char *)"--container-id",
			 (char *)"c1",
			 (char *)"--uid",
			 (char *)"65534",
			 (char *)"--gid",
			 (char *)"65534",
			 (char *)"--endpoints-blocked",
			 monitor_blocked(),
			 NULL };
	int fds[] = { em[1], lm[1], fm[1] }; /* executor, launcher, front-end */
	mpid = tu_spawn(bin, argv, fds, 3);
	REQUIRE(mpid > 0);
	close(em[1]);
	close(lm[1]);
	close(fm[1]);
	mex = em[0];
	mla = lm[0];
	mfe = fm[0];
}

TEST(monitor_refuses_blocked_endpoints)
{
	REQUIRE(mfe >= 0);
	struct ipc_exec_ref ref = { 0 };
	snprintf(ref.container_id, sizeof(ref.container_id), "c1");
	CHECK(refused(mfe, IPC_WAIT_PROCESS_REQ, &ref, sizeof(ref), "WaitProcessRequest"));
	CHECK(refused(mfe, IPC_CLOSE_STDIN_REQ, &ref, sizeof(ref), "CloseStdinRequest"));
	struct ipc_tty_resize rs = { .rows = 10, .cols = 10 };
	CHECK(refused(mfe, IPC_TTY_WIN_RESIZE_REQ, &rs, sizeof(rs), "TtyWinResizeRequest"));
	uint8_t w[sizeof(struct ipc_stdio_write) + 4] = { 0 };
	memcpy(w + sizeof(struct ipc_stdio_write), "data", 4);
	CHECK(refused(mfe, IPC_WRITE_STDIN_REQ, w, sizeof(w), "WriteStreamRequest"));
}

TEST(monitor_serves_an_allowed_endpoint)
{
	REQUIRE(mfe >= 0);
	/* ReadStdout is allowed: it passes the policy and meets the real
	 * check (no such process) */
	struct ipc_stdio_read rd = { .stream = IPC_STREAM_STDOUT, .max_len = 16 };
	snprintf(rd.exec_id, sizeof(rd.exec_id), "nosuch");
	int st;
	char msg[IPC_ERROR_MSG_MAX];
	CHECK_EQ_INT(ask(mfe, IPC_READ_STREAM_REQ, &rd, sizeof(rd), &st, msg, sizeof(msg)),
		     IPC_ERROR);
	CHECK_EQ_INT(st, GRPC_NOT_FOUND);
}

/* The blocked list names the front-end's requests to a monitor, by
 * number, nothing else: a monitor given another type (one the executor
 * sends it, one it never receives) or a word does not start. */
TEST(monitor_refuses_a_list_of_other_types)
{
	const char *bin = getenv("KATA_MONITOR");
	REQUIRE(bin != NULL);
	char other[3][16];
	snprintf(other[0], sizeof(other[0]), "%u", IPC_MON_SIGNAL);
	snprintf(other[1], sizeof(other[1]), "%u,%u", IPC_WAIT_PROCESS_REQ,
		 IPC_CREATE_CONTAINER_REQ);
	snprintf(other[2], sizeof(other[2]), "WaitProcess");
	for (int i = 0; i < 3; i++) {
		char *argv[] = { (char *)"kata-agent-monitor",
				 (char *)"--container-id",
				 (char *)"c9",
				 (char *)"--endpoints-blocked",
				 other[i],
				 NULL };
		pid_t p = tu_spawn(bin, argv, NULL, 0);
		int st = -1;
		REQUIRE(p > 0 && waitpid(p, &st, 0) == p);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 2) {
			printf("# --endpoints-blocked %s: status 0x%x, not exit 2\n", other[i], st);
			CHECK(0);
		}
	}
}

TEST(teardown)
{
	if (mpid > 0) {
		kill(mpid, SIGKILL);
		waitpid(mpid, NULL, 0);
	}
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
