/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mem_agent_ipc.c - attack: a compromised front-end sends the mem-agent's
 * settings out of range (MEM_AGENT_MEMCG_SET_REQ, MEM_AGENT_COMPACT_SET_REQ,
 * doc/ipc.md), values the real front-end refuses: a percent of 1000, an
 * order of 200, a period of 0 or 2^64-1, a negative compaction time, a
 * threshold whose << 2 overflows, a swappiness of 300.
 *
 * This test is that front-end: it starts the real kata-agent-executor as the
 * parent does with the mem-agent on (--mem-agent enable=1, both parts
 * disabled, so nothing reclaims or compacts this machine) and sends the
 * requests directly. Each must be refused ERROR INVALID_ARGUMENT naming the
 * field, with the channel still serving, and a request in range answered
 * OK. Then the executor refuses to start with an out-of-range --mem-agent
 * (it does not trust the parent's checks either).
 *
 * Needs root (the executor makes its cgroup parent). Runs in a private
 * mount namespace with a private --cgroup-parent.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "grpc_status.h"
#include "ipc.h"
#include "pbjson.h"
#include "tap.h"
#include "testutil.h"

static char tmp[64], cgparent[64];
static pid_t epid = -1;
static int ctl = -1, fe = -1;
static uint32_t next_id = 1;

/* m sent as type: the reply type, *st and msg filled on ERROR. */
static int send_pb(uint32_t type, const ProtobufCMessage *m, int *st, char *msg, size_t len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n + 1);
	protobuf_c_message_pack(m, buf);
	int r = tu_ipc_call(fe, type, &next_id, buf, n, st, msg, len);
	free(buf);
	return r;
}

static bool served(void)
{
	int st;
	char msg[IPC_ERROR_MSG_MAX];
	struct ipc_ping ping = { .cookie = 7 };
	return tu_ipc_call(fe, IPC_PING, &next_id, &ping, sizeof(ping), &st, msg, sizeof(msg)) ==
	       IPC_PONG;
}

TEST(executor_started_with_the_mem_agent)
{
	const char *exe = getenv("KATA_EXECUTOR");
	REQUIRE(exe != NULL);
	if (geteuid() != 0)
		SKIP("needs root");
	REQUIRE(tu_private_mount_ns() == 0);
	snprintf(tmp, sizeof(tmp), "/tmp/kata-sec-ma-XXXXXX");
	REQUIRE(mkdtemp(tmp) != NULL);
	snprintf(cgparent, sizeof(cgparent), "kata-sec-ma-%d", (int)getpid());
	char *argv[] = { (char *)"kata-agent-executor",
			 (char *)"--ctl-fd",
			 (char *)"3",
			 (char *)"--shared-dir",
			 tmp,
			 (char *)"--cgroup-parent",
			 cgparent,
			 (char *)"--mem-agent",
			 (char *)"enable=1,memcg_disable=1,compact_disable=1",
			 NULL };
	epid = tu_executor_start(exe, argv, &ctl, &fe);
	REQUIRE(epid > 0);
	CHECK(served());
}

/* What the real front-end refuses, sent anyway: the message's JSON (as
 * kata-agent-ctl takes it), and what the refusal must name. */
static const struct {
	uint32_t type;
	const char *json, *want;
} hostile[] = {
	{ IPC_MEM_AGENT_COMPACT_SET_REQ, "{\"compact_order\": 200}",
	  "compact_order 200 is out of range (0 to 10)" },
	{ IPC_MEM_AGENT_COMPACT_SET_REQ, "{\"period_psi_percent_limit\": 1000}",
	  "period_psi_percent_limit 1000 is out of range (0 to 100)" },
	{ IPC_MEM_AGENT_COMPACT_SET_REQ, "{\"period_secs\": 0}", "period_secs 0 is out of range" },
	{ IPC_MEM_AGENT_COMPACT_SET_REQ, "{\"period_secs\": \"18446744073709551615\"}",
	  "period_secs 18446744073709551615 is out of range" },
	{ IPC_MEM_AGENT_COMPACT_SET_REQ, "{\"compact_sec_max\": \"-5\"}",
	  "compact_sec_max -5 is out of range" },
	{ IPC_MEM_AGENT_COMPACT_SET_REQ, "{\"compact_threshold\": \"9223372036854775807\"}",
	  "compact_threshold 9223372036854775807 is out of range" },
	{ IPC_MEM_AGENT_COMPACT_SET_REQ, "{\"disabled\": true, \"compact_order\": 11}",
	  "compact_order 11" },
	{ IPC_MEM_AGENT_MEMCG_SET_REQ, "{\"swappiness_max\": 300}",
	  "swappiness_max 300 is out of range (0 to 200)" },
	/* a -1 through the varint, truncated to the uint32 field */
	{ IPC_MEM_AGENT_MEMCG_SET_REQ, "{\"eviction_psi_percent_limit\": 4294967295}",
	  "eviction_psi_percent_limit 4294967295 is out of range" },
	{ IPC_MEM_AGENT_MEMCG_SET_REQ, "{\"period_secs\": 0}", "period_secs 0 is out of range" },
};

/* The message type serves MemAgentMemcgSet or MemAgentCompactSet. */
static const ProtobufCMessageDescriptor *desc(uint32_t type)
{
	return type == IPC_MEM_AGENT_MEMCG_SET_REQ ? &grpc__mem_agent_memcg_config__descriptor
						   : &grpc__mem_agent_compact_config__descriptor;
}

/* json as a message of type's request: the reply type; st, msg on ERROR. */
static int send_json(uint32_t type, const char *json, int *st, char *msg, size_t len)
{
	ProtobufCMessage *m = NULL;
	struct kerr e = { 0 };
	if (pbjson_from_string(desc(type), json, &m, &e) < 0) {
		snprintf(msg, len, "%s", e.msg);
		return -1;
	}
	int r = send_pb(type, m, st, msg, len);
	protobuf_c_message_free_unpacked(m, NULL);
	return r;
}

TEST(settings_out_of_range_refused)
{
	REQUIRE(fe >= 0);
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		int st = 0;
		char msg[IPC_ERROR_MSG_MAX] = "";
		int r = send_json(hostile[i].type, hostile[i].json, &st, msg, sizeof(msg));
		bool ok = r == IPC_ERROR && st == GRPC_INVALID_ARGUMENT &&
			  strstr(msg, hostile[i].want);
		CHECK(ok);
		if (!ok) {
			char d[IPC_ERROR_MSG_MAX + 256];
			snprintf(d, sizeof(d), "%s: reply %d status %d: %s", hostile[i].json, r, st,
				 msg);
			tap_diag("refused", d);
		}
	}
	CHECK(served());
}

TEST(settings_in_range_applied)
{
	REQUIRE(fe >= 0);
	int st = 0;
	char msg[IPC_ERROR_MSG_MAX] = "";
	CHECK_EQ_INT(send_json(IPC_MEM_AGENT_MEMCG_SET_REQ, "{\"period_secs\": 3600}", &st, msg,
			       sizeof(msg)),
		     IPC_OK);
	CHECK_EQ_INT(send_json(IPC_MEM_AGENT_COMPACT_SET_REQ, "{\"compact_order\": 10}", &st, msg,
			       sizeof(msg)),
		     IPC_OK);
}

/* The parent's --mem-agent is checked again: an order of 99 stops it. */
TEST(executor_refuses_settings_out_of_range_at_start)
{
	const char *exe = getenv("KATA_EXECUTOR");
	REQUIRE(exe != NULL);
	if (geteuid() != 0)
		SKIP("needs root");
	char out[128], cmd[512];
	snprintf(out, sizeof(out), "%s/bad-start.log", tmp);
	snprintf(cmd, sizeof(cmd),
		 "'%s' --mem-agent enable=1,compact_order=99 3</dev/null >%s 2>&1", exe, out);
	int r = system(cmd);
	CHECK(WIFEXITED(r) && WEXITSTATUS(r) == 2);
	char buf[512] = "";
	FILE *f = fopen(out, "r");
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		fclose(f);
	}
	CHECK(strstr(buf, "compact_order=99: out of range (0 to 10)") != NULL);
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
