/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kata-agent-policy, the real binary, with this test as its executor: the
 * protocol (POLICY_LOAD, POLICY_CHECK, POLICY_VERDICT, ERROR), upstream's
 * reading of a result (boolean, {allowed, ops}, undefined,
 * AllowRequestsFailingPolicy), ops applied to the base document across
 * checks (and not in a dry run), a policy that does not compile leaving the
 * old one in force, runaway policies stopped at their bounds with the
 * process still serving, and its confinement seen from /proc. Needs root
 * (the process confines itself). Path of the binary: $KATA_POLICY.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../tap.h"
#include "grpc_status.h"
#include "ipc.h"
#include "testutil.h"

struct proc {
	pid_t pid;
	int sock;
	uint32_t id;
};

static int start(struct proc *p, const char *extra)
{
	const char *bin = getenv("KATA_POLICY");
	int sp[2];
	if (!bin || geteuid() != 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;
	char *argv[] = { (char *)"kata-agent-policy", (char *)"--log-level",
			 (char *)(getenv("POLICY_TEST_LOG") ? "debug" : "critical"), (char *)extra,
			 NULL };
	p->pid = tu_spawn(bin, argv, &sp[1], 1);
	close(sp[1]);
	p->sock = sp[0];
	p->id = 0;
	struct timeval tv = { .tv_sec = 30 };
	setsockopt(p->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return p->pid > 0 ? 0 : -1;
}

static void stop(struct proc *p)
{
	close(p->sock);
	int st;
	if (waitpid(p->pid, &st, 0) < 0)
		kill(p->pid, SIGKILL);
}

/* Send type with payload, wait for the answer; returns its type (with
 * *m filled) or -1. */
static int ask(struct proc *p, uint32_t type, const void *payload, size_t len, struct ipc_msg *m)
{
	struct kerr err = { 0 };
	uint32_t id = ++p->id;
	if (ipc_send_fd(p->sock, type, id, payload, len, -1, &err) < 0) {
		printf("# send: %s\n", err.msg);
		return -1;
	}
	int r = ipc_recv(p->sock, m, &err);
	if (r <= 0) {
		printf("# recv: %d %s\n", r, err.msg);
		return -1;
	}
	if (m->hdr.id != id)
		return -1;
	return (int)m->hdr.type;
}

/* POLICY_LOAD text with base document base; 0, or the ERROR's status. */
static int load(struct proc *p, const char *text, const char *base, char *why, size_t wlen)
{
	size_t nt = strlen(text), nb = strlen(base);
	struct ipc_policy_load h = { .text_len = (uint32_t)nt, .data_len = (uint32_t)nb };
	char *buf = malloc(sizeof(h) + nt + nb);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), text, nt);
	memcpy(buf + sizeof(h) + nt, base, nb);
	struct ipc_msg m;
	int t = ask(p, IPC_POLICY_LOAD, buf, sizeof(h) + nt + nb, &m);
	free(buf);
	int r = -1;
	struct kerr f = { 0 };
	if (t == IPC_OK)
		r = 0;
	else if (t == IPC_ERROR && ipc_error_decode(&m, &f)) {
		r = f.status;
		if (why)
			snprintf(why, wlen, "%s", f.msg);
	}
	if (t >= 0)
		ipc_msg_release(&m);
	return r;
}

struct verdict {
	int status; /* 0: a verdict; else the ERROR's status */
	bool allowed;
	char prints[4096];
	char data[4096]; /* the new base document, "" when unchanged */
	char why[512];
};

static void check(struct proc *p, const char *ep, const char *input, bool dry, struct verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->status = -1;
	size_t ni = strlen(input);
	struct ipc_policy_check h = { .dry_run = dry };
	snprintf(h.endpoint, sizeof(h.endpoint), "%s", ep);
	char *buf = malloc(sizeof(h) + ni);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), input, ni);
	struct ipc_msg m;
	int t = ask(p, IPC_POLICY_CHECK, buf, sizeof(h) + ni, &m);
	free(buf);
	struct kerr f = { 0 };
	if (t == IPC_POLICY_VERDICT) {
		const struct ipc_policy_verdict *r = m.in;
		const char *tail = (const char *)(r + 1);
		v->status = 0;
		v->allowed = r->allowed;
		snprintf(v->prints, sizeof(v->prints), "%.*s", (int)r->prints_len, tail);
		snprintf(v->data, sizeof(v->data), "%.*s",
			 (int)(m.len - sizeof(*r) - r->prints_len), tail + r->prints_len);
	} else if (t == IPC_ERROR && ipc_error_decode(&m, &f)) {
		v->status = f.status;
		snprintf(v->why, sizeof(v->why), "%s", f.msg);
	}
	if (t >= 0)
		ipc_msg_release(&m);
}

#define BASE "{\"pstate\":{}}"

/* src/kata-opa/allow-all-except-exec-process.rego, in its shape (written here). */
static const char *no_exec = "package agent_policy\n"
			     "default CreateContainerRequest := true\n"
			     "default ExecProcessRequest := false\n"
			     "ExecProcessRequest if {\n"
			     "  print(\"exec of\", input.process.Args)\n"
			     "  input.process.Args[0] == \"/bin/true\"\n"
			     "}\n";

#define START(p)                                      \
	struct proc p;                                \
	if (!getenv("KATA_POLICY") || geteuid() != 0) \
		SKIP("needs root and $KATA_POLICY");  \
	REQUIRE(start(&p, "--max-steps=2000000") == 0)

TEST(a_boolean_result_allows_or_denies_with_the_prints)
{
	START(p);
	CHECK_EQ_INT(load(&p, no_exec, BASE, NULL, 0), 0);
	struct verdict v;
	check(&p, "CreateContainerRequest", "{}", false, &v);
	CHECK_EQ_INT(v.status, 0);
	CHECK(v.allowed);
	check(&p, "ExecProcessRequest", "{\"process\":{\"Args\":[\"/bin/sh\"]}}", false, &v);
	CHECK_EQ_INT(v.status, 0);
	CHECK(!v.allowed);
	CHECK_EQ_STR(v.prints, "exec of [\"/bin/sh\"]");
	CHECK_EQ_STR(v.data, "");
	check(&p, "ExecProcessRequest", "{\"process\":{\"Args\":[\"/bin/true\"]}}", false, &v);
	CHECK(v.allowed);
	stop(&p);
}

TEST(a_check_before_any_policy_is_failed_precondition)
{
	START(p);
	struct verdict v;
	check(&p, "CreateContainerRequest", "{}", false, &v);
	CHECK_EQ_INT(v.status, GRPC_FAILED_PRECONDITION);
	stop(&p);
}

TEST(a_policy_that_does_not_compile_leaves_the_old_one)
{
	START(p);
	char why[512] = "";
	CHECK_EQ_INT(load(&p, no_exec, BASE, NULL, 0), 0);
	CHECK_EQ_INT(load(&p, "package agent_policy\nx := {", BASE, why, sizeof(why)),
		     GRPC_INVALID_ARGUMENT);
	CHECK(strstr(why, "policy.rego:") != NULL);
	CHECK_EQ_INT(load(&p, no_exec, "[1]", why, sizeof(why)), GRPC_INVALID_ARGUMENT);
	struct verdict v;
	check(&p, "ExecProcessRequest", "{\"process\":{\"Args\":[\"/bin/sh\"]}}", false, &v);
	CHECK_EQ_INT(v.status, 0);
	CHECK(!v.allowed);
	stop(&p);
}

/* genpolicy's state_allows / concat_op_if_not_null, in small. */
static const char *stateful =
	"package agent_policy\n"
	"default CreateContainerRequest := {\"allowed\": false}\n"
	"CreateContainerRequest := {\"allowed\": true, \"ops\": ops} if {\n"
	"  not data.pstate[input.container_id]\n"
	"  ops := [{\"op\": \"add\", \"path\": concat(\"/\", [\"/pstate\", input.container_id]),\n"
	"           \"value\": input.sandbox_pidns}]\n"
	"}\n"
	"RemoveContainerRequest := {\"allowed\": true, \"ops\": ops} if {\n"
	"  data.pstate[input.container_id]\n"
	"  ops := [{\"op\": \"remove\", \"path\": concat(\"/\", [\"/pstate\", input.container_id])}]\n"
	"}\n"
	"default RemoveContainerRequest := false\n"
	"Broken := {\"allowed\": true, \"ops\": [{\"op\": \"remove\", \"path\": \"/nowhere\"}]}\n"
	"Odd := 3\n";

TEST(ops_update_the_state_across_checks_and_come_back)
{
	START(p);
	CHECK_EQ_INT(load(&p, stateful, BASE, NULL, 0), 0);
	struct verdict v;
	check(&p, "CreateContainerRequest", "{\"container_id\":\"a\",\"sandbox_pidns\":true}",
	      false, &v);
	CHECK(v.allowed);
	CHECK_EQ_STR(v.data, "{\"pstate\":{\"a\":true}}");
	/* the second create of "a" sees the state: denied, nothing changes */
	check(&p, "CreateContainerRequest", "{\"container_id\":\"a\",\"sandbox_pidns\":true}",
	      false, &v);
	CHECK(!v.allowed);
	CHECK_EQ_STR(v.data, "");
	/* a dry run reads the state and leaves it */
	check(&p, "RemoveContainerRequest", "{\"container_id\":\"a\"}", true, &v);
	CHECK(v.allowed);
	CHECK_EQ_STR(v.data, "");
	check(&p, "RemoveContainerRequest", "{\"container_id\":\"a\"}", false, &v);
	CHECK(v.allowed);
	CHECK_EQ_STR(v.data, "{\"pstate\":{}}");
	check(&p, "RemoveContainerRequest", "{\"container_id\":\"a\"}", false, &v);
	CHECK(!v.allowed);
	stop(&p);
}

TEST(a_loaded_base_document_is_the_state)
{
	START(p);
	CHECK_EQ_INT(load(&p, stateful, "{\"pstate\":{\"b\":1}}", NULL, 0), 0);
	struct verdict v;
	check(&p, "CreateContainerRequest", "{\"container_id\":\"b\"}", false, &v);
	CHECK(!v.allowed);
	check(&p, "RemoveContainerRequest", "{\"container_id\":\"b\"}", false, &v);
	CHECK(v.allowed);
	stop(&p);
}

TEST(results_upstream_cannot_read_are_internal_errors)
{
	START(p);
	CHECK_EQ_INT(load(&p, stateful, BASE, NULL, 0), 0);
	struct verdict v;
	check(&p, "Undefined", "{}", false, &v);
	CHECK_EQ_INT(v.status, GRPC_INTERNAL);
	check(&p, "Odd", "{}", false, &v);
	CHECK_EQ_INT(v.status, GRPC_INTERNAL);
	check(&p, "Broken", "{}", false, &v);
	CHECK_EQ_INT(v.status, GRPC_INTERNAL);
	CHECK(strstr(v.why, "/nowhere") != NULL);
	/* the failed patch changed nothing */
	check(&p, "CreateContainerRequest", "{\"container_id\":\"c\",\"sandbox_pidns\":false}",
	      false, &v);
	CHECK_EQ_STR(v.data, "{\"pstate\":{\"c\":false}}");
	check(&p, "CreateContainerRequest", "not json", false, &v);
	CHECK_EQ_INT(v.status, GRPC_INVALID_ARGUMENT);
	stop(&p);
}

TEST(allow_requests_failing_policy_allows_denials_and_undefined)
{
	START(p);
	CHECK_EQ_INT(load(&p,
			  "package agent_policy\n"
			  "default AllowRequestsFailingPolicy := true\n"
			  "default ExecProcessRequest := false\n",
			  BASE, NULL, 0),
		     0);
	struct verdict v;
	check(&p, "ExecProcessRequest", "{}", false, &v);
	CHECK(v.status == 0 && v.allowed);
	check(&p, "CreateContainerRequest", "{}", false, &v);
	CHECK(v.status == 0 && v.allowed);
	stop(&p);
}

TEST(a_runaway_policy_stops_at_its_bound_and_the_next_check_runs)
{
	START(p);
	CHECK_EQ_INT(load(&p,
			  "package agent_policy\n"
			  "default CreateContainerRequest := true\n"
			  "ExecProcessRequest if {\n"
			  "  xs := numbers.range(1, 1000)\n"
			  "  some a in xs\n"
			  "  some b in xs\n"
			  "  some c in xs\n"
			  "  a + b + c < 0\n"
			  "}\n",
			  BASE, NULL, 0),
		     0);
	struct verdict v;
	check(&p, "ExecProcessRequest", "{}", false, &v);
	CHECK_EQ_INT(v.status, GRPC_DEADLINE_EXCEEDED);
	check(&p, "CreateContainerRequest", "{}", false, &v);
	CHECK(v.status == 0 && v.allowed);
	stop(&p);
	/* allocation: the query's memory bound, not the process's death */
	REQUIRE(start(&p, "--max-query-memory=16777216") == 0);
	CHECK_EQ_INT(load(&p,
			  "package agent_policy\n"
			  "default CreateContainerRequest := true\n"
			  "ReadStreamRequest if {\n"
			  "  s := concat(\"\", [y | some x in numbers.range(1, 100000); "
			  "y := sprintf(\"%d%0100d\", [x, 0])])\n"
			  "  t := [s | some x in numbers.range(1, 100000)]\n"
			  "  u := concat(\"\", t)\n"
			  "  count(u) > 0\n"
			  "}\n",
			  BASE, NULL, 0),
		     0);
	check(&p, "ReadStreamRequest", "{}", false, &v);
	CHECK_EQ_INT(v.status, GRPC_RESOURCE_EXHAUSTED);
	check(&p, "CreateContainerRequest", "{}", false, &v);
	CHECK(v.status == 0 && v.allowed);
	stop(&p);
}

static char *status_field(pid_t pid, const char *key, char *out, size_t len)
{
	tu_proc_status(pid, key, out, len);
	return out;
}

TEST(it_is_confined_before_it_reads_a_message)
{
	START(p);
	/* a round trip: the process is past its confinement */
	CHECK_EQ_INT(load(&p, no_exec, BASE, NULL, 0), 0);
	char v[128];
	CHECK_EQ_STR(status_field(p.pid, "Uid", v, sizeof(v)), "65534\t65534\t65534\t65534");
	CHECK_EQ_STR(status_field(p.pid, "CapEff", v, sizeof(v)), "0000000000000000");
	CHECK_EQ_STR(status_field(p.pid, "CapPrm", v, sizeof(v)), "0000000000000000");
	CHECK_EQ_STR(status_field(p.pid, "CapBnd", v, sizeof(v)), "0000000000000000");
	CHECK_EQ_STR(status_field(p.pid, "NoNewPrivs", v, sizeof(v)), "1");
	CHECK_EQ_STR(status_field(p.pid, "Seccomp", v, sizeof(v)), "2");
	/* its root is the empty tmpfs, not ours */
	char root[64];
	snprintf(root, sizeof(root), "/proc/%d/root/", (int)p.pid);
	struct stat theirs, ours;
	CHECK(stat(root, &theirs) == 0 && stat("/", &ours) == 0);
	CHECK(theirs.st_dev != ours.st_dev);
	CHECK(theirs.st_nlink <= 2);
	stop(&p);
}

TEST(a_message_it_does_not_take_closes_the_channel)
{
	START(p);
	struct kerr err = { 0 };
	struct ipc_ping ping = { 1 };
	/* PING is the front-end's: not in the policy process's table */
	CHECK(ipc_send_fd(p.sock, IPC_PING, 1, &ping, sizeof(ping), -1, &err) == 0);
	struct ipc_msg m;
	CHECK_EQ_INT(ipc_recv(p.sock, &m, &err), 0); /* EOF: it closed and exited */
	int st = 0;
	CHECK(waitpid(p.pid, &st, 0) == p.pid);
	close(p.sock);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return tap_run();
}
