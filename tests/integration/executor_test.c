/* SPDX-License-Identifier: Apache-2.0 */
/*
 * executor_test.c - the executor's container path end to end with the real
 * binaries (kata-agent-executor, kata-agent-monitor): this test plays the
 * parent (control channel) and the front-end (IPC channel, then the
 * per-container monitor channels received in MONITOR_ATTACH).
 *
 * Needs root. Runs in a private mount namespace (the executor inherits it),
 * with a busybox rootfs under a mkdtemp dir that is also --shared-dir, and
 * a private --cgroup-parent removed at the end. After removal: no process,
 * mount, cgroup dir or executor fd may be left over.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
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

#include <dirent.h>
#include <jansson.h>

#include "agent.pb-c.h"
#include "grpc_status.h"
#include "ipc.h"
#include "pbjson.h"
#include "tap.h"
#include "testutil.h"

/* How long a state that follows an answer (an exec id freed, a launcher
 * or a removal's leftovers gone) is waited for: generous, for ASan x4 on a
 * loaded machine; a wait ends as soon as the state is there. */
#define POLL_MS 15000

static char tmp[64], rootfs[128], cgparent[64];
static pid_t epid = -1;
static int ctl = -1, fe = -1;
static uint32_t next_id = 1;
static bool ready;
/* MONITOR_ATTACH fds received, by container id. */
static struct {
	char id[IPC_ID_MAX];
	int fd;
} att[8];
static char *mounts_before;
static int fds_before = -1;
/* An GET_OOM_EVENT_REQ left parked until teardown's SIGTERM. */
static uint32_t oom_poll_id;

/* ---- fixture ------------------------------------------------------------- */

static int build_rootfs(void)
{
	static const char *const applets[] = { "sh",   "cat", "id",   "echo", "sleep",
					       "true", "ls",  "test", NULL };
	char c1[128];
	snprintf(c1, sizeof(c1), "%s/c1", tmp);
	if (mkdir(c1, 0755) < 0)
		return -errno;
	snprintf(rootfs, sizeof(rootfs), "%s/c1/rootfs", tmp);
	return tu_build_rootfs(rootfs, applets);
}

static char *executor_children(void)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/task/%d/children", (int)epid, (int)epid);
	return tu_read_file(p);
}

/* The executor's children once it serves: the spawner, forked at start and
 * kept (spawner.c); none of a container's may be left beside it. */
static char *children_at_start;

static bool children_of_executor_empty(void)
{
	char *s = executor_children();
	bool empty = s && children_at_start && strcmp(s, children_at_start) == 0;
	if (!empty)
		printf("# executor children: %s (at start: %s)\n", s ? s : "?",
		       children_at_start ? children_at_start : "?");
	free(s);
	return empty;
}

/* Directories named pattern under /sys/fs/cgroup/<any>/ */
static size_t cgroup_dirs(const char *rel)
{
	char pat[256];
	glob_t g;
	size_t n = 0;
	snprintf(pat, sizeof(pat), "/sys/fs/cgroup/*/%s", rel);
	if (glob(pat, GLOB_ONLYDIR, NULL, &g) == 0)
		n += g.gl_pathc;
	globfree(&g);
	snprintf(pat, sizeof(pat), "/sys/fs/cgroup/%s", rel);
	struct stat st;
	if (stat(pat, &st) == 0)
		n++;
	return n;
}

/* ---- messages ------------------------------------------------------------ */

static void keep_attach(struct ipc_msg *m)
{
	const struct ipc_container_ref *r = (const void *)m->payload;
	for (size_t i = 0; i < 8; i++)
		if (att[i].fd < 0 || strcmp(att[i].id, r->container_id) == 0) {
			if (att[i].fd >= 0)
				close(att[i].fd);
			snprintf(att[i].id, sizeof(att[i].id), "%s", r->container_id);
			att[i].fd = ipc_msg_take_fd(m);
			return;
		}
}

static int attached(const char *id)
{
	for (size_t i = 0; i < 8; i++)
		if (att[i].fd >= 0 && strcmp(att[i].id, id) == 0)
			return att[i].fd;
	return -1;
}

/* Messages beside the reply: the MONITOR_ATTACHes are kept, anything else
 * is a protocol error the request reports. */
static void not_the_reply(struct ipc_msg *m, void *data)
{
	if (m->hdr.type == IPC_MONITOR_ATTACH) {
		keep_attach(m);
		return;
	}
	printf("# unexpected %s, id %u\n", ipc_type_name(m->hdr.type), m->hdr.id);
	*(bool *)data = true;
}

/* Send a request to the executor and wait for its reply: returns 0 for
 * OK, the gRPC status for ERROR, -1 on a transport failure. */
static int request(uint32_t type, const void *p, size_t len, char *msg, size_t msglen)
{
	struct ipc_msg m;
	bool unexpected = false;
	if (tu_ipc_ask(fe, type, next_id++, p, len, 60000, not_the_reply, &unexpected, &m) < 0)
		return -1;
	int r = -1;
	if (!unexpected && m.hdr.type == IPC_OK)
		r = 0;
	else if (!unexpected && m.hdr.type == IPC_ERROR) {
		const struct ipc_error *er = (const void *)m.payload;
		r = er->grpc_status;
		printf("# %s -> %d: %s\n", ipc_type_name(type), r, er->msg);
		if (msg)
			snprintf(msg, msglen, "%s", er->msg);
	}
	ipc_msg_release(&m);
	return r;
}

static int send_pb(uint32_t type, const ProtobufCMessage *pm)
{
	size_t len = protobuf_c_message_get_packed_size(pm);
	uint8_t *buf = malloc(len + 1);
	protobuf_c_message_pack(pm, buf);
	int r = request(type, buf, len, NULL, 0);
	free(buf);
	return r;
}

static json_t *caps_json(void)
{
	return json_pack("[ss]", "CAP_KILL", "CAP_CHOWN");
}

static json_t *process_json(const char *cmd)
{
	json_t *caps = json_pack("{s:o,s:o,s:o}", "Bounding", caps_json(), "Effective", caps_json(),
				 "Permitted", caps_json());
	return json_pack("{s:[sss],s:[s],s:s,s:{s:i,s:i},s:o}", "Args", "sh", "-c", cmd, "Env",
			 "PATH=/bin", "Cwd", "/", "User", "UID", 0, "GID", 0, "Capabilities", caps);
}

static bool with_terminal;

static int create(const char *id, const char *root, const char *cmd)
{
	json_t *mounts = json_pack("[{s:s,s:s,s:s},{s:s,s:s,s:s}]", "destination", "/proc", "type",
				   "proc", "source", "proc", "destination", "/tmp", "type", "tmpfs",
				   "source", "tmpfs");
	json_t *lx = json_pack("{s:[{s:s},{s:s},{s:s},{s:s}],s:s}", "Namespaces", "Type", "pid",
			       "Type", "mount", "Type", "uts", "Type", "ipc", "CgroupsPath", id);
	json_t *spec = json_pack("{s:s,s:{s:s},s:o,s:s,s:o,s:o}", "Version", "1.0.2", "Root",
				 "Path", root, "Process", process_json(cmd), "Hostname", "ctr",
				 "Mounts", mounts, "Linux", lx);
	if (with_terminal)
		json_object_set_new(json_object_get(spec, "Process"), "Terminal", json_true());
	json_t *req = json_pack("{s:s,s:o}", "container_id", id, "OCI", spec);
	ProtobufCMessage *pm = NULL;
	struct kerr e = { 0 };
	char *text = json_dumps(req, 0);
	json_decref(req);
	if (pbjson_from_string(&grpc__create_container_request__descriptor, text, &pm, &e) < 0) {
		printf("# request JSON: %s\n", e.msg);
		free(text);
		return -1;
	}
	free(text);
	int r = send_pb(IPC_CREATE_CONTAINER_REQ, pm);
	protobuf_c_message_free_unpacked(pm, NULL);
	return r;
}

static int exec_proc(const char *cid, const char *eid, const char *cmd)
{
	json_t *req = json_pack("{s:s,s:s,s:o}", "container_id", cid, "exec_id", eid, "process",
				process_json(cmd));
	ProtobufCMessage *pm = NULL;
	struct kerr e = { 0 };
	char *text = json_dumps(req, 0);
	json_decref(req);
	int r = pbjson_from_string(&grpc__exec_process_request__descriptor, text, &pm, &e);
	free(text);
	if (r < 0) {
		printf("# exec JSON: %s\n", e.msg);
		return -1;
	}
	r = send_pb(IPC_EXEC_PROCESS_REQ, pm);
	protobuf_c_message_free_unpacked(pm, NULL);
	return r;
}

static int ref_req(uint32_t type, const char *cid)
{
	struct ipc_container_ref q = { 0 };
	snprintf(q.container_id, sizeof(q.container_id), "%s", cid);
	return request(type, &q, sizeof(q), NULL, 0);
}

static int remove_ctr(const char *cid, uint32_t timeout)
{
	struct ipc_container_remove q = { .timeout_s = timeout };
	snprintf(q.container_id, sizeof(q.container_id), "%s", cid);
	return request(IPC_REMOVE_CONTAINER_REQ, &q, sizeof(q), NULL, 0);
}

static int signal_proc(const char *cid, const char *eid, int sig)
{
	struct ipc_process_signal q = { .signal = (uint32_t)sig };
	snprintf(q.container_id, sizeof(q.container_id), "%s", cid);
	snprintf(q.exec_id, sizeof(q.exec_id), "%s", eid);
	return request(IPC_SIGNAL_PROCESS_REQ, &q, sizeof(q), NULL, 0);
}

/* Read a stream from the monitor until EOF, or until want appears. */
static void read_stream(int mfd, const char *eid, uint32_t stream, char *out, size_t size,
			const char *want)
{
	size_t len = 0;
	out[0] = '\0';
	for (int i = 0; i < 200; i++) {
		struct ipc_stdio_read q = { .stream = stream, .max_len = 4096 };
		snprintf(q.exec_id, sizeof(q.exec_id), "%s", eid);
		struct kerr e = { 0 };
		uint32_t id = next_id++;
		if (ipc_send_fd(mfd, IPC_READ_STREAM_REQ, id, &q, sizeof(q), -1, &e) < 0)
			return;
		struct ipc_msg m;
		if (tu_ipc_recv(mfd, &m, 30000) <= 0)
			return;
		if (m.hdr.type != IPC_READ_STREAM_REPLY) {
			printf("# read: %s\n", ipc_type_name(m.hdr.type));
			ipc_msg_release(&m);
			return;
		}
		const struct ipc_stdio_data *d = (const void *)m.payload;
		size_t n = m.len - sizeof(*d);
		if (n == 0) {
			ipc_msg_release(&m);
			return;
		}
		if (len + n < size) {
			memcpy(out + len, d->data, n);
			len += n;
			out[len] = '\0';
		}
		struct ipc_stdio_ack a = { .stream = stream, .offset = d->offset + n };
		snprintf(a.exec_id, sizeof(a.exec_id), "%s", eid);
		ipc_send_fd(mfd, IPC_READ_STREAM_ACK, 0, &a, sizeof(a), -1, &e);
		ipc_msg_release(&m);
		if (want && strstr(out, want))
			return;
	}
}

static int wait_proc(int mfd, const char *cid, const char *eid)
{
	struct ipc_exec_ref q = { 0 };
	snprintf(q.container_id, sizeof(q.container_id), "%s", cid);
	snprintf(q.exec_id, sizeof(q.exec_id), "%s", eid);
	struct kerr e = { 0 };
	if (ipc_send_fd(mfd, IPC_WAIT_PROCESS_REQ, next_id++, &q, sizeof(q), -1, &e) < 0)
		return -1000;
	struct ipc_msg m;
	if (tu_ipc_recv(mfd, &m, 30000) <= 0)
		return -1001;
	int st = -1002;
	if (m.hdr.type == IPC_WAIT_PROCESS_REPLY)
		st = ((const struct ipc_wait_reply *)m.payload)->status;
	ipc_msg_release(&m);
	return st;
}

static int new_frontend(void)
{
	int sp[2];
	if (tu_seqpacket_pair(sp) < 0)
		return -1;
	static uint32_t gen = 1;
	struct ipc_ctl_new_frontend n = { .generation = gen++, .frontend_pid = getpid() };
	struct kerr e = { 0 };
	if (ipc_send_fd(ctl, IPC_CTL_NEW_FRONTEND, 0, &n, sizeof(n), sp[1], &e) < 0) {
		printf("# CTL_NEW_FRONTEND: %s\n", e.msg);
		return -1;
	}
	close(sp[1]);
	if (fe >= 0)
		close(fe);
	fe = sp[0];
	return 0;
}

/* ---- tests --------------------------------------------------------------- */

TEST(setup)
{
	for (size_t i = 0; i < 8; i++)
		att[i].fd = -1;
	const char *exe = getenv("KATA_EXECUTOR"), *mon = getenv("KATA_MONITOR");
	REQUIRE(exe && mon);
	REQUIRE(tu_private_mount_ns() == 0);
	snprintf(tmp, sizeof(tmp), "/tmp/kexec-XXXXXX");
	REQUIRE(mkdtemp(tmp) != NULL);
	REQUIRE(build_rootfs() == 0);
	snprintf(cgparent, sizeof(cgparent), "kata-test-exec-%d", (int)getpid());
	int sp[2];
	REQUIRE(tu_seqpacket_pair(sp) == 0);
	char *argv[] = { (char *)"kata-agent-executor",
			 (char *)"--ctl-fd",
			 (char *)"3",
			 (char *)"--shared-dir",
			 tmp,
			 (char *)"--cgroup-parent",
			 cgparent,
			 (char *)"--monitor-path",
			 (char *)mon,
			 (char *)"--log-level",
			 (char *)"debug",
			 NULL };
	epid = tu_spawn(exe, argv, &sp[1], 1);
	REQUIRE(epid > 0);
	close(sp[1]);
	ctl = sp[0];
	REQUIRE(new_frontend() == 0);
	struct ipc_ping p = { .cookie = 7 };
	struct kerr e = { 0 };
	REQUIRE(ipc_send_fd(fe, IPC_PING, next_id++, &p, sizeof(p), -1, &e) == 0);
	struct ipc_msg m;
	REQUIRE(tu_ipc_recv(fe, &m, 10000) == 1);
	CHECK_EQ_INT(m.hdr.type, IPC_PONG);
	ipc_msg_release(&m);
	children_at_start = executor_children();
	/* the spawner, and nothing else */
	CHECK(children_at_start &&
	      strchr(children_at_start, ' ') == strrchr(children_at_start, ' '));
	mounts_before = tu_read_file("/proc/self/mountinfo");
	fds_before = tu_fd_count(epid);
	ready = true;
}

TEST(create_start_read_wait)
{
	REQUIRE(ready);
	CHECK_EQ_INT(request(IPC_CREATE_SANDBOX_REQ, NULL, 0, NULL, 0), 0);
	REQUIRE(create("c1", rootfs, "echo hello-from-init; exec sleep 1000") == 0);
	int mfd = attached("c1");
	REQUIRE(mfd >= 0);
	CHECK(cgroup_dirs("kata-test-exec-*/c1") > 0);
	CHECK_EQ_INT(ref_req(IPC_START_CONTAINER_REQ, "c1"), 0);
	char out[4096];
	read_stream(mfd, "", IPC_STREAM_STDOUT, out, sizeof(out), "hello-from-init\n");
	CHECK_EQ_STR(out, "hello-from-init\n");
}

TEST(errors)
{
	REQUIRE(ready);
	CHECK_EQ_INT(ref_req(IPC_START_CONTAINER_REQ, "nosuch"), GRPC_NOT_FOUND);
	CHECK_EQ_INT(remove_ctr("nosuch", 0), GRPC_NOT_FOUND);
	CHECK_EQ_INT(create("c1", rootfs, "true"), GRPC_ALREADY_EXISTS);
	CHECK_EQ_INT(ref_req(IPC_START_CONTAINER_REQ, "c1"), GRPC_FAILED_PRECONDITION);
	CHECK_EQ_INT(create(".bad", rootfs, "true"), GRPC_INVALID_ARGUMENT);
	CHECK_EQ_INT(create("c9", "/bin", "true"), GRPC_INVALID_ARGUMENT);
	CHECK_EQ_INT(signal_proc("c1", "nosuch", 15), GRPC_NOT_FOUND);
	/* upstream sandbox_err_to_ttrpc: an unknown container is "Invalid
	 * container id", INVALID_ARGUMENT */
	CHECK_EQ_INT(signal_proc("nosuch", "", 15), GRPC_INVALID_ARGUMENT);
	CHECK_EQ_INT(exec_proc("nosuch", "e1", "true"), GRPC_INVALID_ARGUMENT);
	/* the container id names the init: no exec may take it */
	CHECK_EQ_INT(exec_proc("c1", "c1", "true"), GRPC_ALREADY_EXISTS);
	/* a compromised front-end's SetIPTables with a byte more data than the
	 * front-end lets through (still within the message's bound): refused
	 * by the executor before any tool runs (this executor shares the
	 * test's network namespace: nothing may be applied) */
	static uint8_t rules[IPC_IPTABLES_DATA_MAX + 1];
	memset(rules, '#', sizeof(rules));
	Grpc__SetIPTablesRequest ipt = GRPC__SET_IPTABLES_REQUEST__INIT;
	ipt.data = (ProtobufCBinaryData){ .len = sizeof(rules), .data = rules };
	CHECK_EQ_INT(send_pb(IPC_SET_IPTABLES_REQ, &ipt.base), GRPC_INVALID_ARGUMENT);
}

TEST(exec_and_signal)
{
	REQUIRE(ready);
	int mfd = attached("c1");
	REQUIRE(mfd >= 0);
	CHECK_EQ_INT(exec_proc("c1", "e1", "echo exec-out; id -u"), 0);
	char out[4096];
	read_stream(mfd, "e1", IPC_STREAM_STDOUT, out, sizeof(out), NULL);
	CHECK_EQ_STR(out, "exec-out\n0\n");
	CHECK_EQ_INT(exec_proc("c1", "e1", "true"), GRPC_ALREADY_EXISTS); /* not waited yet */
	read_stream(mfd, "e1", IPC_STREAM_STDERR, out, sizeof(out), NULL);
	CHECK_EQ_INT(wait_proc(mfd, "c1", "e1"), 0);
	/* waited and drained: released; its id is free again once the executor
	 * hears of it (MON_RELEASED) */
	int r = GRPC_ALREADY_EXISTS;
	for (uint64_t end = tu_now_ms() + POLL_MS; r == GRPC_ALREADY_EXISTS && tu_now_ms() < end;) {
		r = exec_proc("c1", "e1", "true");
		if (r == GRPC_ALREADY_EXISTS)
			usleep(50000);
	}
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(exec_proc("c1", "e2", "exec sleep 1000"), 0);
	CHECK_EQ_INT(signal_proc("c1", "e2", SIGTERM), 0);
	CHECK_EQ_INT(wait_proc(mfd, "c1", "e2"), 128 + SIGTERM);
}

/* GetMetrics' text, or NULL (no reply, or not the reply to this request). */
static char *metrics_text(void)
{
	struct kerr e = { 0 };
	if (ipc_send_fd(fe, IPC_GET_METRICS_REQ, next_id, NULL, 0, -1, &e) < 0)
		return NULL;
	struct ipc_msg m;
	if (tu_ipc_recv(fe, &m, 10000) != 1)
		return NULL;
	bool ok = m.hdr.type == IPC_GET_METRICS_REPLY && m.hdr.id == next_id;
	next_id++;
	char *t = ok ? strndup((const char *)m.payload, m.len) : NULL;
	ipc_msg_release(&m);
	return t;
}

TEST(metrics)
{
	REQUIRE(ready);
	char *t = metrics_text();
	REQUIRE(t != NULL);
	/* This test is the executor's parent and (by CTL_NEW_FRONTEND) its
	 * front-end; c1 runs, with its monitor and launcher. */
	CHECK(strstr(t, "\nkata_agent_scrape_count 1\n") != NULL);
	CHECK(strstr(t, "\nkata_agent_threads{process=\"parent\"} 1\n") != NULL);
	CHECK(strstr(t, "\nkata_agent_threads{process=\"frontend\"} 1\n") != NULL);
	CHECK(strstr(t, "\nkata_agent_threads{process=\"executor\"} 1\n") != NULL);
	CHECK(strstr(t, "\nkata_agent_threads{process=\"monitor\",container_id=\"c1\"} 1\n") !=
	      NULL);
	CHECK(strstr(t, "\nkata_agent_threads{process=\"launcher\",container_id=\"c1\"} 1\n") !=
	      NULL);
	CHECK(strstr(t, "\nkata_guest_meminfo{item=\"mem_total\"} ") != NULL);
	CHECK(t[strlen(t) - 1] == '\n');
	free(t);
}

/* Once the init exited nothing more is launched in the container, so its
 * launcher goes then (the executor closes EL), not during RemoveContainer;
 * the monitor stays until the removal, and starts and execs are refused. */
TEST(launcher_goes_with_the_init)
{
	REQUIRE(ready);
	REQUIRE(create("c2", rootfs, "exit 3") == 0);
	int mfd = attached("c2");
	REQUIRE(mfd >= 0);
	CHECK_EQ_INT(ref_req(IPC_START_CONTAINER_REQ, "c2"), 0);
	CHECK_EQ_INT(wait_proc(mfd, "c2", ""), 3);
	const char *launcher = "\nkata_agent_threads{process=\"launcher\",container_id=\"c2\"} ";
	const char *monitor = "\nkata_agent_threads{process=\"monitor\",container_id=\"c2\"} 1\n";
	bool gone = false, monitor_stays = false;
	for (uint64_t end = tu_now_ms() + POLL_MS; !gone && tu_now_ms() < end;) {
		char *t = metrics_text();
		if (!t)
			break;
		gone = !strstr(t, launcher);
		monitor_stays = strstr(t, monitor) != NULL;
		free(t);
		if (!gone)
			usleep(20000);
	}
	CHECK(gone);
	CHECK(monitor_stays);
	CHECK_EQ_INT(ref_req(IPC_START_CONTAINER_REQ, "c2"), GRPC_FAILED_PRECONDITION);
	CHECK_EQ_INT(exec_proc("c2", "e1", "true"), GRPC_FAILED_PRECONDITION);
	CHECK_EQ_INT(remove_ctr("c2", 0), 0);
	CHECK_EQ_INT(cgroup_dirs("kata-test-exec-*/c2"), 0);
}

TEST(frontend_restart)
{
	REQUIRE(ready);
	for (size_t i = 0; i < 8; i++)
		if (att[i].fd >= 0) {
			close(att[i].fd);
			att[i].fd = -1;
		}
	REQUIRE(new_frontend() == 0);
	/* The new front-end gets a channel to c1's monitor first thing. */
	struct ipc_msg m;
	REQUIRE(tu_ipc_recv(fe, &m, 10000) == 1);
	CHECK_EQ_INT(m.hdr.type, IPC_MONITOR_ATTACH);
	if (m.hdr.type == IPC_MONITOR_ATTACH)
		keep_attach(&m);
	ipc_msg_release(&m);
	int mfd = attached("c1");
	REQUIRE(mfd >= 0);
	CHECK_EQ_INT(wait_proc(mfd, "c1", "e1"), 0);     /* the second e1, not waited yet */
	CHECK_EQ_INT(wait_proc(mfd, "c1", "e1"), -1002); /* waited: NOT_FOUND */
	/* SIGTERM to an init without a handler (sleep, pid 1 of its namespace,
	 * would never see it): SIGKILL, as upstream is_signal_handled */
	CHECK_EQ_INT(signal_proc("c1", "c1", SIGTERM), 0);
	CHECK_EQ_INT(wait_proc(mfd, "c1", "c1"), 128 + SIGKILL);
	CHECK_EQ_INT(wait_proc(mfd, "c1", ""), 128 + SIGKILL); /* the init stays waitable */
	CHECK_EQ_INT(signal_proc("c1", "", SIGTERM), 0);       /* exited: OK */
	CHECK_EQ_INT(signal_proc("c1", "", SIGKILL), 0);       /* kill all: OK */
	CHECK_EQ_INT(exec_proc("c1", "e3", "true"), GRPC_FAILED_PRECONDITION);
}

TEST(terminal)
{
	REQUIRE(ready);
	with_terminal = true;
	int r = create("t1", rootfs, "test -t 0 && echo tty-ok");
	with_terminal = false;
	REQUIRE(r == 0);
	int mfd = attached("t1");
	REQUIRE(mfd >= 0);
	CHECK_EQ_INT(ref_req(IPC_START_CONTAINER_REQ, "t1"), 0);
	char out[4096];
	read_stream(mfd, "", IPC_STREAM_STDOUT, out, sizeof(out), "tty-ok");
	CHECK(strstr(out, "tty-ok") != NULL);
	CHECK_EQ_INT(wait_proc(mfd, "t1", ""), 0);
	CHECK_EQ_INT(remove_ctr("t1", 0), 0);
}

/* Real OOM kills are in containers_test.sh (group oom); here the poll
 * protocol: parked while there is no event, one poll at a time. Every
 * container has a watch: remove_and_leftovers' fd count shows that removal
 * closes them. */
TEST(oom_poll)
{
	REQUIRE(ready);
	struct kerr e = { 0 };
	oom_poll_id = next_id++;
	REQUIRE(ipc_send_fd(fe, IPC_GET_OOM_EVENT_REQ, oom_poll_id, NULL, 0, -1, &e) == 0);
	struct ipc_msg m;
	int r = tu_ipc_recv(fe, &m, 300);
	CHECK_EQ_INT(r, -ETIMEDOUT);
	if (r == 1)
		ipc_msg_release(&m);
	CHECK_EQ_INT(request(IPC_GET_OOM_EVENT_REQ, NULL, 0, NULL, 0), GRPC_FAILED_PRECONDITION);
}

TEST(remove_and_leftovers)
{
	REQUIRE(ready);
	CHECK_EQ_INT(remove_ctr("c1", 0), 0);
	CHECK_EQ_INT(ref_req(IPC_START_CONTAINER_REQ, "c1"), GRPC_NOT_FOUND);
	/* A running container: removal kills it (upstream destroy). */
	REQUIRE(create("c1", rootfs, "exec sleep 1000") == 0);
	CHECK_EQ_INT(ref_req(IPC_START_CONTAINER_REQ, "c1"), 0);
	CHECK_EQ_INT(exec_proc("c1", "e1", "exec sleep 1000"), 0);
	CHECK_EQ_INT(remove_ctr("c1", 10), 0);
	/* Created, never started. */
	REQUIRE(create("c1", rootfs, "true") == 0);
	CHECK_EQ_INT(remove_ctr("c1", 0), 0);
	CHECK_EQ_INT(request(IPC_DESTROY_SANDBOX_REQ, NULL, 0, NULL, 0), 0);
	/* Answered, then the parent (this test) is told to stop the agent. */
	struct ipc_msg cm;
	int cr = tu_ipc_recv(ctl, &cm, POLL_MS);
	CHECK(cr == 1 && cm.hdr.type == IPC_CTL_SANDBOX_DESTROYED && cm.len == 0);
	if (cr == 1)
		ipc_msg_release(&cm);
	for (size_t i = 0; i < 8; i++)
		if (att[i].fd >= 0) {
			close(att[i].fd);
			att[i].fd = -1;
		}
	/* What the removals and the closed channels let go, polled. */
	for (uint64_t end = tu_now_ms() + POLL_MS; tu_now_ms() < end; usleep(100000)) {
		char *s = executor_children(), *m = tu_read_file("/proc/self/mountinfo");
		bool settled = s && children_at_start && strcmp(s, children_at_start) == 0 &&
			       cgroup_dirs("kata-test-exec-*/c1") == 0 && m && mounts_before &&
			       strcmp(m, mounts_before) == 0 && tu_fd_count(epid) == fds_before;
		free(s);
		free(m);
		if (settled)
			break;
	}
	CHECK(children_of_executor_empty());
	CHECK_EQ_INT(cgroup_dirs("kata-test-exec-*/c1"), 0);
	char *after = tu_read_file("/proc/self/mountinfo");
	CHECK(after && mounts_before && strcmp(after, mounts_before) == 0);
	free(after);
	CHECK_EQ_INT(tu_fd_count(epid), fds_before);
}

TEST(teardown)
{
	if (epid > 0 && oom_poll_id) {
		/* Shutdown answers the parked poll at once. */
		kill(epid, SIGTERM);
		struct ipc_msg m;
		int r = tu_ipc_recv(fe, &m, 5000);
		CHECK(r == 1 && m.hdr.type == IPC_ERROR && m.hdr.id == oom_poll_id &&
		      ((const struct ipc_error *)m.payload)->grpc_status == GRPC_UNAVAILABLE);
		if (r == 1)
			ipc_msg_release(&m);
	}
	if (epid > 0) {
		close(ctl);
		int st = 0;
		CHECK(waitpid(epid, &st, 0) == epid);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	if (cgparent[0]) {
		char pat[256];
		glob_t g;
		snprintf(pat, sizeof(pat), "/sys/fs/cgroup/*/%s", cgparent);
		if (glob(pat, GLOB_ONLYDIR, NULL, &g) == 0)
			for (size_t i = 0; i < g.gl_pathc; i++)
				rmdir(g.gl_pathv[i]);
		globfree(&g);
		CHECK_EQ_INT(cgroup_dirs(cgparent), 0);
	}
	if (tmp[0])
		tu_rm_rf(tmp);
	free(mounts_before);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 0;
	}
	return tap_run();
}
