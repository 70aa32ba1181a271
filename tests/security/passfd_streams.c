/* SPDX-License-Identifier: Apache-2.0 */
/*
 * passfd_streams.c - attack: a compromised front-end hands the executor,
 * as the host stream that is to BE a container process's stdout
 * (PASSFD_STREAM, fd-passthrough stdio), an fd that is not a connected
 * stream socket of the passfd listener's family.
 *
 * Given a regular file, a directory, a pipe, a listener, a datagram
 * socket, an unconnected socket or a TCP connection, a process would write
 * its output where the front-end chose (a file it could not open itself),
 * or hold a listener of the agent. This test is that front-end: it starts
 * the real kata-agent-executor as the parent does (control channel on fd
 * 3, --passfd-unix: the stand-alone unix listener) with a stand-in monitor
 * that records that it was started, and sends each bad fd ahead of a
 * CreateContainer or ExecProcess naming it. Each request must be refused
 * INVALID_ARGUMENT with what the fd is, nothing started (the stand-in
 * monitor never runs) and no fd kept by the executor; the same request
 * with a connected unix stream socket gets past the check and starts the
 * monitor (so the refusals are the check's).
 *
 * First, the default mode (no --passfd-direct: the process keeps pipes,
 * the monitor splices them into the streams): there the executor takes no
 * stream at all. A compromised front-end that sends even a good one (a
 * connected unix stream socket) to make it a process's own stdout has its
 * request refused INVALID_ARGUMENT, nothing started, no fd kept; the same
 * request against the executor in direct mode, below, goes on.
 *
 * Needs root (the executor makes cgroups). Runs in a private mount
 * namespace with a private --cgroup-parent.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.pb-c.h"
#include "grpc_status.h"
#include "ipc.h"
#include "pbjson.h"
#include "tap.h"
#include "testutil.h"

static char tmp[64], cgparent[64], started_file[128];
static pid_t epid = -1;
static int ctl = -1, fe = -1;
static uint32_t next_id = 1;

static int ask(uint32_t type, const void *p, size_t len, int *status, char *msg, size_t msglen)
{
	return tu_ipc_call(fe, type, &next_id, p, len, status, msg, msglen);
}

/* The CreateContainerRequest the runtime sends, packed; terminal: its
 * process has one. */
static size_t create_request(const char *cid, bool terminal, uint8_t **out)
{
	char root[128];
	snprintf(root, sizeof(root), "%s/%s", tmp, cid);
	mkdir(root, 0755);
	json_t *req = json_pack("{s:s,s:s,s:{s:s,s:{s:s},s:{s:b,s:[s],s:s,s:{s:i,s:i}},s:{s:[{s:s}],s:s}}}",
				"container_id", cid, "exec_id", "", "OCI", "Version", "1.0.2",
				"Root", "Path", root, "Process", "Terminal", terminal, "Args",
				"true", "Cwd", "/", "User", "UID", 0, "GID", 0, "Linux",
				"Namespaces", "Type", "mount", "CgroupsPath", cid);
	char *text = json_dumps(req, 0);
	json_decref(req);
	ProtobufCMessage *pm = NULL;
	struct kerr e = { 0 };
	int r = pbjson_from_string(&grpc__create_container_request__descriptor, text, &pm, &e);
	free(text);
	if (r < 0)
		return 0;
	size_t n = protobuf_c_message_get_packed_size(pm);
	*out = malloc(n + 1);
	protobuf_c_message_pack(pm, *out);
	protobuf_c_message_free_unpacked(pm, NULL);
	return n;
}

/* PASSFD_STREAM {cid, eid, stream} + fd (closed here), as the front-end sends it. */
static int send_stream(const char *cid, const char *eid, unsigned stream, int fd)
{
	struct ipc_passfd_stream q = { .stream = stream };
	snprintf(q.container_id, sizeof(q.container_id), "%s", cid);
	snprintf(q.exec_id, sizeof(q.exec_id), "%s", eid);
	struct kerr e = { 0 };
	int r = ipc_send_fd(fe, IPC_PASSFD_STREAM, 0, &q, sizeof(q), fd, &e);
	if (r < 0)
		printf("# PASSFD_STREAM: %s\n", e.msg);
	close(fd);
	return r;
}

/* fd as the stdout of container cid's init: the request's answer. */
static int create_with(const char *cid, int fd, bool terminal, int *status, char *msg,
		       size_t msglen)
{
	uint8_t *buf = NULL;
	size_t n = create_request(cid, terminal, &buf);
	if (!n || send_stream(cid, "", IPC_STREAM_STDOUT, fd) < 0) {
		free(buf);
		return -1;
	}
	int t = ask(IPC_CREATE_CONTAINER_REQ, buf, n, status, msg, msglen);
	free(buf);
	return t;
}

/* Refused INVALID_ARGUMENT naming the stdout stream and want, nothing
 * started, no fd kept. */
static bool refused(const char *cid, int fd, bool terminal, const char *want)
{
	int before = tu_fd_count(epid), st;
	char msg[IPC_ERROR_MSG_MAX];
	int t = create_with(cid, fd, terminal, &st, msg, sizeof(msg));
	bool ok = t == IPC_ERROR && st == GRPC_INVALID_ARGUMENT && strstr(msg, want) &&
		  (terminal || strstr(msg, "the stdout stream"));
	bool nothing = access(started_file, F_OK) < 0;
	int after = tu_fd_count(epid);
	if (!nothing)
		printf("# the monitor was started\n");
	if (after != before)
		printf("# executor fds %d -> %d\n", before, after);
	return ok && nothing && after == before;
}

static char fake[128];

/* The real executor as the parent starts it with the stand-alone unix
 * listener; direct: agent.passfd_direct (--passfd-direct). */
static bool executor_start(bool direct)
{
	char *argv[] = { (char *)"kata-agent-executor",
			 (char *)"--ctl-fd",
			 (char *)"3",
			 (char *)"--shared-dir",
			 tmp,
			 (char *)"--cgroup-parent",
			 cgparent,
			 (char *)"--monitor-path",
			 fake,
			 (char *)"--passfd-unix",
			 direct ? (char *)"--passfd-direct" : NULL,
			 NULL };
	epid = tu_executor_start(getenv("KATA_EXECUTOR"), argv, &ctl, &fe);
	if (epid <= 0)
		return false;
	int st;
	char msg[IPC_ERROR_MSG_MAX];
	struct ipc_ping ping = { .cookie = 1 };
	return ask(IPC_PING, &ping, sizeof(ping), &st, msg, sizeof(msg)) == IPC_PONG;
}

TEST(pipe_mode_executor_started)
{
	REQUIRE(getenv("KATA_EXECUTOR") != NULL);
	if (geteuid() != 0)
		SKIP("needs root");
	REQUIRE(tu_private_mount_ns() == 0);
	snprintf(tmp, sizeof(tmp), "/tmp/kata-sec-pf-XXXXXX");
	REQUIRE(mkdtemp(tmp) != NULL);
	snprintf(cgparent, sizeof(cgparent), "kata-sec-pf-%d", (int)getpid());
	char script[512];
	snprintf(fake, sizeof(fake), "%s/fake-monitor", tmp);
	snprintf(started_file, sizeof(started_file), "%s/monitor-started", tmp);
	snprintf(script, sizeof(script), "#!/bin/sh\ntouch %s\nexit 1\n", started_file);
	REQUIRE(tu_write_file(fake, script, 0755) == 0);
	CHECK(executor_start(false));
}

TEST(pipe_mode_refuses_even_a_good_stream)
{
	REQUIRE(fe >= 0);
	/* what the direct-mode executor accepts (the control below) */
	int sv[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(refused("c-pipemode", sv[0], false, "agent.passfd_direct is off"));
	/* nothing of the stream is left with the executor: the peer sees EOF */
	char c;
	CHECK(recv(sv[1], &c, 1, MSG_DONTWAIT) == 0);
	close(sv[1]);
	CHECK(tu_executor_stop(epid, fe, ctl));
	epid = -1;
	fe = ctl = -1;
}

TEST(executor_started)
{
	if (!tmp[0])
		SKIP("needs root");
	REQUIRE(executor_start(true));
}

TEST(a_file_a_directory_or_a_pipe_is_not_a_stream)
{
	REQUIRE(fe >= 0);
	char path[128];
	snprintf(path, sizeof(path), "%s/victim-log", tmp);
	int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	REQUIRE(f >= 0);
	CHECK(refused("c-file", f, false, "not a socket"));
	struct stat st;
	CHECK(stat(path, &st) == 0 && st.st_size == 0);
	int d = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	REQUIRE(d >= 0);
	CHECK(refused("c-dir", d, false, "not a socket"));
	int p[2];
	REQUIRE(pipe2(p, O_CLOEXEC) == 0);
	close(p[0]);
	CHECK(refused("c-pipe", p[1], false, "not a socket"));
}

TEST(a_listener_a_datagram_or_an_unconnected_socket_is_not_a_stream)
{
	REQUIRE(fe >= 0);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	snprintf(un.sun_path, sizeof(un.sun_path), "%s/listener", tmp);
	REQUIRE(l >= 0 && bind(l, (struct sockaddr *)&un, sizeof(un)) == 0 && listen(l, 4) == 0);
	CHECK(refused("c-listen", l, false, "listening"));
	int dg[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, dg) == 0);
	close(dg[1]);
	CHECK(refused("c-dgram", dg[0], false, "type 2"));
	int u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	REQUIRE(u >= 0);
	CHECK(refused("c-unconnected", u, false, "not connected"));
}

TEST(a_stream_of_another_family_is_refused)
{
	REQUIRE(fe >= 0);
	/* a TCP connection over loopback: connected, a stream, not the
	 * listener's family */
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in in = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(in);
	if (l < 0 || bind(l, (struct sockaddr *)&in, sizeof(in)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&in, &len) < 0) {
		if (l >= 0)
			close(l);
		SKIP("no loopback TCP in this network namespace");
	}
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	REQUIRE(c >= 0 && connect(c, (struct sockaddr *)&in, sizeof(in)) == 0);
	CHECK(refused("c-tcp", c, false, "not a connected unix stream socket"));
	close(l);
}

TEST(an_exec_with_a_bad_stream_is_refused_before_anything)
{
	REQUIRE(fe >= 0);
	int p[2];
	REQUIRE(pipe2(p, O_CLOEXEC) == 0);
	close(p[0]);
	int before = tu_fd_count(epid);
	REQUIRE(send_stream("nosuch", "x1", IPC_STREAM_STDERR, p[1]) == 0);
	Grpc__ExecProcessRequest x = GRPC__EXEC_PROCESS_REQUEST__INIT;
	Grpc__Process proc = GRPC__PROCESS__INIT;
	char *args[] = { (char *)"true" };
	proc.n_args = 1;
	proc.args = args;
	proc.cwd = (char *)"/";
	x.container_id = (char *)"nosuch";
	x.exec_id = (char *)"x1";
	x.process = &proc;
	size_t n = protobuf_c_message_get_packed_size(&x.base);
	uint8_t *buf = malloc(n + 1);
	protobuf_c_message_pack(&x.base, buf);
	int st;
	char msg[IPC_ERROR_MSG_MAX];
	int t = ask(IPC_EXEC_PROCESS_REQ, buf, n, &st, msg, sizeof(msg));
	free(buf);
	CHECK(t == IPC_ERROR && st == GRPC_INVALID_ARGUMENT && strstr(msg, "the stderr stream") &&
	      strstr(msg, "not a socket"));
	CHECK_EQ_INT(tu_fd_count(epid), before);
}

TEST(a_stream_for_a_terminal_process_is_refused)
{
	REQUIRE(fe >= 0);
	int sv[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	close(sv[1]);
	CHECK(refused("c-tty", sv[0], true, "terminal"));
}

TEST(a_connected_unix_stream_gets_past_the_check)
{
	REQUIRE(fe >= 0);
	/* the control: the same request with what the stand-alone listener
	 * accepts goes on and starts the (stand-in) monitor */
	int sv[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	int st;
	char msg[IPC_ERROR_MSG_MAX];
	create_with("c-good", sv[0], false, &st, msg, sizeof(msg));
	/* The stand-in monitor is started before the create fails (no
	 * rootfs here): its touch may come after the answer. Polled, up to
	 * 15 s. */
	bool started = false;
	for (int i = 0; i < 1500 && !(started = access(started_file, F_OK) == 0); i++)
		usleep(10000);
	CHECK(started);
	CHECK(strstr(msg, "stream") == NULL);
	close(sv[1]);
}

TEST(teardown)
{
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
