/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent_client_test.c - integration tests against the real agent: the
 * kata-agent parent with its executor and front-end, reached over a unix
 * socket with our ttRPC client (common/ttrpc.h) or with raw bytes.
 *
 * Every test starts its own agent (agent_harness.h) and stops it on every
 * path; most end by checking that the agent still serves a new connection,
 * because "one bad peer cannot take the agent down" is the property that
 * matters for an agent facing an untrusted host.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.pb-c.h"
#include "agent_harness.h"
#include "cleanup.h"
#include "config.h"
#include "grpc_status.h"
#include "health.pb-c.h"
#include "tap.h"
#include "testutil.h"
#include "ttrpc.h"

static void free_client(struct ttrpc_client **c)
{
	if (*c)
		ttrpc_client_free(*c);
	*c = NULL;
}
#define CLIENT_SCOPED __attribute__((cleanup(free_client))) struct ttrpc_client *

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(*len ? *len : 1);
	if (buf)
		protobuf_c_message_pack(m, buf);
	return buf;
}

/* Send one raw call and return its gRPC status (or -1 on transport failure). */
static int call_status(struct ttrpc_client *c, const char *service, const char *method,
		       const ProtobufCMessage *req, int64_t timeout_ns, char *msg, size_t msglen)
{
	size_t len = 0;
	cleanup_free uint8_t *buf = req ? pack(req, &len) : NULL;
	cleanup_free uint8_t *resp = NULL;
	size_t resp_len = 0;
	struct kerr err = { 0 };
	if (msglen)
		msg[0] = '\0';
	int r = ttrpc_client_call_raw(c, service, method, buf, len, timeout_ns, &resp, &resp_len,
				      &err);
	if (r >= 0)
		return GRPC_OK;
	if (msglen)
		snprintf(msg, msglen, "%s", err.msg);
	/* A status the server sent vs. a local transport failure. */
	if (err.status == GRPC_UNAVAILABLE || err.status == 0)
		printf("# %s/%s: %s (status %s)\n", service, method, err.msg,
		       grpc_status_name(err.status));
	return err.status ? err.status : -1;
}

/* Read until EOF/error or one full response frame arrives. Returns 1 if the
 * server closed the connection, 0 if a response came (code in *status), -1 on
 * a timeout. */
static int raw_outcome(int fd, int *status)
{
	uint8_t hdr[TTRPC_HEADER_LEN];
	size_t got = 0;
	while (got < sizeof(hdr)) {
		ssize_t n = recv(fd, hdr + got, sizeof(hdr) - got, 0);
		if (n == 0)
			return 1;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return -1;
		if (n < 0)
			return 1; /* ECONNRESET: closed */
		got += (size_t)n;
	}
	struct ttrpc_frame_header h;
	ttrpc_header_decode(hdr, &h);
	if (h.length > TTRPC_MAX_PAYLOAD)
		return -1;
	cleanup_free uint8_t *body = malloc(h.length ? h.length : 1);
	if (!body)
		return -1;
	got = 0;
	while (got < h.length) {
		ssize_t n = recv(fd, body + got, h.length - got, 0);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return 1;
		}
		got += (size_t)n;
	}
	/* Response { status = 1 { code = 1 } }: find the code by hand. */
	*status = GRPC_OK;
	if (h.length >= 4 && body[0] == 0x0a && body[2] == 0x08)
		*status = body[3];
	return 0;
}

/* ---- basic calls ---- */

TEST(health_check_over_unix_socket)
{
	AGENT_SCOPED a;
	REQUIRE(agent_start(&a, NULL) == 0);
	CHECK(agent_health(&a) == 0);
}

TEST(version)
{
	AGENT_SCOPED a;
	REQUIRE(agent_start(&a, NULL) == 0);
	CLIENT_SCOPED c = agent_connect(&a);
	REQUIRE(c);
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	struct kerr err = { 0 };
	int r = ttrpc_client_call(c, "grpc.Health", "Version", &req.base,
				  &grpc__version_check_response__descriptor, &resp, 0, &err);
	if (r < 0)
		printf("# Version: %s\n", err.msg);
	REQUIRE(r >= 0 && resp);
	Grpc__VersionCheckResponse *v = (Grpc__VersionCheckResponse *)resp;
	CHECK_EQ_STR(v->agent_version, KATA_AGENT_VERSION);
	CHECK_EQ_STR(v->grpc_version, KATA_AGENT_API_VERSION);
	protobuf_c_message_free_unpacked(resp, NULL);
}

TEST(guest_details_round_trip_through_executor)
{
	AGENT_SCOPED a;
	REQUIRE(agent_start(&a, NULL) == 0);
	CLIENT_SCOPED c = agent_connect(&a);
	REQUIRE(c);
	Grpc__GuestDetailsRequest req = GRPC__GUEST_DETAILS_REQUEST__INIT;
	req.mem_block_size = 1;
	req.mem_hotplug_probe = 1;
	ProtobufCMessage *resp = NULL;
	struct kerr err = { 0 };
	int r = ttrpc_client_call(c, "grpc.AgentService", "GetGuestDetails", &req.base,
				  &grpc__guest_details_response__descriptor, &resp, 0, &err);
	if (r < 0)
		printf("# GetGuestDetails: %s (%s)\n", err.msg, grpc_status_name(err.status));
	REQUIRE(r >= 0 && resp);
	Grpc__GuestDetailsResponse *g = (Grpc__GuestDetailsResponse *)resp;
	printf("# mem_block_size_bytes=%llu support_mem_hotplug_probe=%d agent_details=%s\n",
	       (unsigned long long)g->mem_block_size_bytes, g->support_mem_hotplug_probe,
	       g->agent_details && g->agent_details->version ? g->agent_details->version : "-");
	/* Every Linux with memory hotplug reports a block size; this host has it
	 * when the sysfs file exists. */
	if (access("/sys/devices/system/memory/block_size_bytes", R_OK) == 0)
		CHECK(g->mem_block_size_bytes > 0);
	protobuf_c_message_free_unpacked(resp, NULL);
	CHECK(client_health(c) == 0);
}

/* ---- concurrency ---- */

TEST(pipelined_64_requests_on_one_connection)
{
	AGENT_SCOPED a;
	REQUIRE(agent_start(&a, NULL) == 0);
	CLIENT_SCOPED c = agent_connect(&a);
	REQUIRE(c);
	enum { N = 64 };
	uint32_t ids[N];
	int answered[N] = { 0 };
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	size_t len;
	cleanup_free uint8_t *buf = pack(&req.base, &len);
	struct kerr err = { 0 };
	/* Alternate Check and Version so a response matched to the wrong stream
	 * shows up as a payload of the wrong type. */
	for (int i = 0; i < N; i++) {
		int r = ttrpc_client_send(c, "grpc.Health", i % 2 ? "Version" : "Check", buf, len,
					  0, NULL, 0, &ids[i], &err);
		if (r < 0)
			printf("# send %d: %s\n", i, err.msg);
		REQUIRE(r >= 0);
		REQUIRE(ids[i] % 2 == 1);
		if (i)
			REQUIRE(ids[i] > ids[i - 1]);
	}
	int good = 0;
	for (int k = 0; k < N; k++) {
		uint32_t sid;
		int status = -1;
		cleanup_free char *message = NULL;
		cleanup_free uint8_t *payload = NULL;
		size_t plen = 0;
		int r = ttrpc_client_recv(c, &sid, &status, &message, &payload, &plen, &err);
		if (r < 0)
			printf("# recv %d: %s\n", k, err.msg);
		REQUIRE(r >= 0);
		int i = -1;
		for (int j = 0; j < N; j++)
			if (ids[j] == sid)
				i = j;
		if (i < 0 || answered[i]) {
			printf("# response for unexpected or repeated stream %u\n", sid);
			CHECK(0);
			continue;
		}
		answered[i] = 1;
		if (status != GRPC_OK) {
			printf("# stream %u: %s %s\n", sid, grpc_status_name(status), message);
			CHECK(0);
			continue;
		}
		if (i % 2) {
			Grpc__VersionCheckResponse
				*v = grpc__version_check_response__unpack(NULL, plen, payload);
			CHECK(v && v->agent_version &&
			      !strcmp(v->agent_version, KATA_AGENT_VERSION));
			good += v && v->agent_version &&
				!strcmp(v->agent_version, KATA_AGENT_VERSION);
			if (v)
				grpc__version_check_response__free_unpacked(v, NULL);
		} else {
			Grpc__HealthCheckResponse *h = grpc__health_check_response__unpack(NULL,
											   plen,
											   payload);
			int ok = h &&
				 h->status == GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
			CHECK(ok);
			good += ok;
			if (h)
				grpc__health_check_response__free_unpacked(h, NULL);
		}
	}
	CHECK_EQ_INT(good, N);
}

TEST(thirty_two_connections_at_once)
{
	AGENT_SCOPED a;
	REQUIRE(agent_start(&a, NULL) == 0);
	enum { N = 32 };
	struct ttrpc_client *cs[N] = { 0 };
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	size_t len;
	cleanup_free uint8_t *buf = pack(&req.base, &len);
	struct kerr err = { 0 };
	int opened = 0, sent = 0, good = 0;
	for (int i = 0; i < N; i++) {
		cs[i] = agent_connect(&a);
		if (!cs[i])
			continue;
		opened++;
		uint32_t sid;
		if (ttrpc_client_send(cs[i], "grpc.Health", "Check", buf, len, 0, NULL, 0, &sid,
				      &err) >= 0)
			sent++;
		else
			printf("# send on connection %d: %s\n", i, err.msg);
	}
	/* Every connection is open with a request in flight before any answer
	 * is read. */
	for (int i = 0; i < N; i++) {
		if (!cs[i])
			continue;
		uint32_t sid;
		int status = -1;
		cleanup_free char *message = NULL;
		cleanup_free uint8_t *payload = NULL;
		size_t plen = 0;
		if (ttrpc_client_recv(cs[i], &sid, &status, &message, &payload, &plen, &err) < 0) {
			printf("# recv on connection %d: %s\n", i, err.msg);
			continue;
		}
		Grpc__HealthCheckResponse *h = status == GRPC_OK
						       ? grpc__health_check_response__unpack(NULL,
											     plen,
											     payload)
						       : NULL;
		if (h && h->status == GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING)
			good++;
		if (h)
			grpc__health_check_response__free_unpacked(h, NULL);
	}
	for (int i = 0; i < N; i++)
		if (cs[i])
			ttrpc_client_free(cs[i]);
	CHECK_EQ_INT(opened, N);
	CHECK_EQ_INT(sent, N);
	CHECK_EQ_INT(good, N);
}

/* ---- hostile and broken peers ---- */

TEST(garbage_frame_closes_only_that_connection)
{
	AGENT_SCOPED a;
	REQUIRE(agent_start(&a, NULL) == 0);
	CLIENT_SCOPED bystander = agent_connect(&a);
	REQUIRE(bystander);

	/* A request frame whose payload is not a protobuf Request. */
	{
		cleanup_close int fd = agent_connect_raw(&a);
		REQUIRE(fd >= 0);
		uint8_t frame[TTRPC_HEADER_LEN + 16];
		struct ttrpc_frame_header h = { .length = 16,
						.stream_id = 1,
						.type = TTRPC_TYPE_REQUEST };
		ttrpc_header_encode(frame, &h);
		memset(frame + TTRPC_HEADER_LEN, 0xff, 16);
		REQUIRE(tu_write_all(fd, frame, sizeof(frame)) == 0);
		int status = -1, o = raw_outcome(fd, &status);
		if (o == 0)
			printf("# undecodable request answered with %s\n",
			       grpc_status_name(status));
		/* Closed, or at least refused with an error status; never OK. */
		CHECK(o == 1 || (o == 0 && status != GRPC_OK));
	}
	/* Pure noise, not even a plausible header (even stream id, bad type). */
	{
		cleanup_close int fd = agent_connect_raw(&a);
		REQUIRE(fd >= 0);
		static const char noise[] = "GET / HTTP/1.1\r\nHost: agent\r\n\r\n";
		REQUIRE(tu_write_all(fd, noise, sizeof(noise) - 1) == 0);
		int status = -1, o = raw_outcome(fd, &status);
		CHECK(o == 1 || (o == 0 && status != GRPC_OK));
	}
	CHECK(client_health(bystander) == 0);
	CHECK(agent_health(&a) == 0);
}

TEST(truncated_frame_then_close)
{
	AGENT_SCOPED a;
	REQUIRE(agent_start(&a, NULL) == 0);
	{
		cleanup_close int fd = agent_connect_raw(&a);
		REQUIRE(fd >= 0);
		uint8_t frame[TTRPC_HEADER_LEN + 10];
		struct ttrpc_frame_header h = { .length = 100,
						.stream_id = 1,
						.type = TTRPC_TYPE_REQUEST };
		ttrpc_header_encode(frame, &h);
		memset(frame + TTRPC_HEADER_LEN, 0x0a, 10);
		REQUIRE(tu_write_all(fd, frame, sizeof(frame)) == 0);
	}
	/* And one that stalls mid-frame while another connection works. */
	cleanup_close int stalled = agent_connect_raw(&a);
	REQUIRE(stalled >= 0);
	uint8_t hdr[TTRPC_HEADER_LEN];
	struct ttrpc_frame_header h = { .length = 100, .stream_id = 1, .type = TTRPC_TYPE_REQUEST };
	ttrpc_header_encode(hdr, &h);
	REQUIRE(tu_write_all(stalled, hdr, sizeof(hdr)) == 0);
	CHECK(agent_health(&a) == 0);
	CHECK(agent_health(&a) == 0);
}

TEST(five_mib_frame_is_refused)
{
	AGENT_SCOPED a;
	REQUIRE(agent_start(&a, NULL) == 0);
	CLIENT_SCOPED bystander = agent_connect(&a);
	REQUIRE(bystander);
	{
		cleanup_close int fd = agent_connect_raw(&a);
		REQUIRE(fd >= 0);
		size_t big = 5u << 20;
		cleanup_free uint8_t *frame = calloc(1, TTRPC_HEADER_LEN + big);
		REQUIRE(frame);
		struct ttrpc_frame_header h = { .length = (uint32_t)big,
						.stream_id = 1,
						.type = TTRPC_TYPE_REQUEST };
		ttrpc_header_encode(frame, &h);
		/* The server may hang up after the header: EPIPE/ECONNRESET is fine. */
		int s = tu_write_all(fd, frame, TTRPC_HEADER_LEN + big);
		if (s < 0)
			printf("# sending stopped: %s (expected when the server hangs up)\n",
			       strerror(-s));
		int status = -1, o = raw_outcome(fd, &status);
		if (o == 0)
			printf("# oversize frame answered with %s\n", grpc_status_name(status));
		/* Upstream answers RESOURCE_EXHAUSTED; ours may close instead. */
		CHECK(o == 1 || (o == 0 && status == GRPC_RESOURCE_EXHAUSTED));
	}
	CHECK(client_health(bystander) == 0);
	CHECK(agent_health(&a) == 0);
}

TEST(unknown_method_is_unimplemented)
{
	AGENT_SCOPED a;
	REQUIRE(agent_start(&a, NULL) == 0);
	CLIENT_SCOPED c = agent_connect(&a);
	REQUIRE(c);
	char msg[KERR_MSG_MAX];
	CHECK_EQ_INT(call_status(c, "grpc.AgentService", "NoSuchMethod", NULL, 0, msg, sizeof(msg)),
		     GRPC_UNIMPLEMENTED);
	printf("# message: %s\n", msg);
	CHECK_EQ_INT(call_status(c, "grpc.Health", "Nope", NULL, 0, msg, sizeof(msg)),
		     GRPC_UNIMPLEMENTED);
	CHECK(client_health(c) == 0);
	CHECK(agent_health(&a) == 0);
}

TEST(unknown_service_is_unimplemented)
{
	AGENT_SCOPED a;
	REQUIRE(agent_start(&a, NULL) == 0);
	CLIENT_SCOPED c = agent_connect(&a);
	REQUIRE(c);
	char msg[KERR_MSG_MAX];
	CHECK_EQ_INT(call_status(c, "grpc.NoSuchService", "Check", NULL, 0, msg, sizeof(msg)),
		     GRPC_UNIMPLEMENTED);
	printf("# message: %s\n", msg);
	CHECK_EQ_INT(call_status(c, "", "", NULL, 0, msg, sizeof(msg)), GRPC_UNIMPLEMENTED);
	CHECK(client_health(c) == 0);
	CHECK(agent_health(&a) == 0);
}

/*
 * common/ttrpc_server.c arms the deadline timer when it decodes the request
 * and then dispatches at once; the timer can only fire on a later loop turn.
 * So:
 *  - a handler that answers synchronously (grpc.Health/Check) answers OK even
 *    with a 1 ns timeout: the deadline never overtakes an immediate answer;
 *  - a handler that answers later (GetGuestDetails waits for the executor)
 *    always loses to the timer: common/loop.c runs the due timers right after
 *    the batch of fd events that dispatched the call, and the executor's
 *    reply can only be read from a later epoll_wait, so the client sees
 *    DEADLINE_EXCEEDED.
 * In both cases exactly one response arrives per stream (the executor's late
 * reply is discarded), and the connection keeps serving.
 */
TEST(one_nanosecond_timeout)
{
	AGENT_SCOPED a;
	REQUIRE(agent_start(&a, NULL) == 0);
	CLIENT_SCOPED c = agent_connect(&a);
	REQUIRE(c);
	struct kerr err = { 0 };

	Grpc__CheckRequest creq = GRPC__CHECK_REQUEST__INIT;
	size_t clen;
	cleanup_free uint8_t *cbuf = pack(&creq.base, &clen);
	Grpc__GuestDetailsRequest greq = GRPC__GUEST_DETAILS_REQUEST__INIT;
	greq.mem_block_size = 1;
	size_t glen;
	cleanup_free uint8_t *gbuf = pack(&greq.base, &glen);

	uint32_t sid_g, sid_h;
	REQUIRE(ttrpc_client_send(c, "grpc.AgentService", "GetGuestDetails", gbuf, glen, 1, NULL, 0,
				  &sid_g, &err) >= 0);
	REQUIRE(ttrpc_client_send(c, "grpc.Health", "Check", cbuf, clen, 1, NULL, 0, &sid_h,
				  &err) >= 0);
	int st_g = -1, st_h = -1;
	for (int k = 0; k < 2; k++) {
		uint32_t sid;
		int status = -1;
		cleanup_free char *message = NULL;
		cleanup_free uint8_t *payload = NULL;
		size_t plen = 0;
		int r = ttrpc_client_recv(c, &sid, &status, &message, &payload, &plen, &err);
		if (r < 0)
			printf("# recv: %s\n", err.msg);
		REQUIRE(r >= 0);
		if (sid == sid_g && st_g == -1)
			st_g = status;
		else if (sid == sid_h && st_h == -1)
			st_h = status;
		else {
			printf("# unexpected or duplicate response on stream %u\n", sid);
			CHECK(0);
		}
	}
	printf("# GetGuestDetails with 1 ns: %s; Health/Check with 1 ns: %s\n",
	       grpc_status_name(st_g), grpc_status_name(st_h));
	CHECK_EQ_INT(st_g, GRPC_DEADLINE_EXCEEDED);
	CHECK_EQ_INT(st_h, GRPC_OK);

	/* Let the executor's late answer come back and be dropped, then make sure
	 * no stray second response for sid_g precedes the next answer. */
	usleep(300 * 1000);
	uint32_t sid_n;
	REQUIRE(ttrpc_client_send(c, "grpc.Health", "Check", cbuf, clen, 0, NULL, 0, &sid_n,
				  &err) >= 0);
	uint32_t sid;
	int status = -1;
	cleanup_free char *message = NULL;
	cleanup_free uint8_t *payload = NULL;
	size_t plen = 0;
	REQUIRE(ttrpc_client_recv(c, &sid, &status, &message, &payload, &plen, &err) >= 0);
	CHECK_EQ_INT(sid, sid_n);
	CHECK_EQ_INT(status, GRPC_OK);
	CHECK(agent_health(&a) == 0);
}

/* ---- privilege separation ---- */

TEST(frontend_is_confined)
{
	AGENT_SCOPED a;
	REQUIRE(agent_start(&a, NULL) == 0);
	pid_t fe = agent_frontend_pid(&a);
	if (fe < 0) {
		printf("# no front-end process found among the agent's descendants:");
		for (size_t i = 0; i < a.nseen; i++)
			printf(" %d(%s)", (int)a.seen[i].pid, a.seen[i].comm);
		printf("\n");
	}
	REQUIRE(fe > 0);
	char v[128];
	REQUIRE(tu_proc_status(fe, "Uid", v, sizeof(v)) == 0);
	printf("# front-end pid %d Uid: %s\n", (int)fe, v);
	unsigned ruid, euid, suid, fsuid;
	REQUIRE(sscanf(v, "%u %u %u %u", &ruid, &euid, &suid, &fsuid) == 4);
	CHECK(ruid != 0 && euid != 0 && suid != 0 && fsuid != 0);
	REQUIRE(tu_proc_status(fe, "Gid", v, sizeof(v)) == 0);
	unsigned rgid, egid, sgid, fsgid;
	REQUIRE(sscanf(v, "%u %u %u %u", &rgid, &egid, &sgid, &fsgid) == 4);
	CHECK(rgid != 0 && egid != 0 && sgid != 0 && fsgid != 0);
	REQUIRE(tu_proc_status(fe, "CapEff", v, sizeof(v)) == 0);
	CHECK_EQ_STR(v, "0000000000000000");
	REQUIRE(tu_proc_status(fe, "CapPrm", v, sizeof(v)) == 0);
	CHECK_EQ_STR(v, "0000000000000000");
	REQUIRE(tu_proc_status(fe, "Seccomp", v, sizeof(v)) == 0);
	CHECK_EQ_STR(v, "2");
	REQUIRE(tu_proc_status(fe, "NoNewPrivs", v, sizeof(v)) == 0);
	CHECK_EQ_STR(v, "1");
}

TEST(killed_frontend_is_restarted)
{
	AGENT_SCOPED a;
	REQUIRE(agent_start(&a, NULL) == 0);
	pid_t fe = agent_frontend_pid(&a);
	REQUIRE(fe > 0);
	REQUIRE(kill(fe, SIGKILL) == 0);
	uint64_t t0 = tu_now_ms(), end = t0 + 15000;
	pid_t fe2 = -1;
	int healthy = 0;
	while (tu_now_ms() < end) {
		fe2 = agent_frontend_pid(&a);
		if (fe2 > 0 && fe2 != fe) {
			/* agent_health prints on failure; probe quietly first. */
			struct ttrpc_client *c = agent_connect(&a);
			if (c) {
				healthy = client_health(c) == 0;
				ttrpc_client_free(c);
			}
			if (healthy)
				break;
		}
		usleep(50 * 1000);
	}
	printf("# old front-end %d, new %d, answered after %llu ms\n", (int)fe, (int)fe2,
	       (unsigned long long)(tu_now_ms() - t0));
	CHECK(fe2 > 0 && fe2 != fe);
	CHECK(healthy);
	if (!healthy)
		agent_dump_log(&a, 15);
	/* The parent is still the same process. */
	CHECK(agent_wait_exit(&a, 0) < 0);
}

/* ---- configuration ---- */

TEST(endpoint_not_allowed_is_permission_denied)
{
	AGENT_SCOPED a;
	static const char cfg[] = "# written by agent_client_test\n"
				  "server_addr = \"@SOCK@\"\n"
				  "log_level = \"debug\"\n"
				  "\n"
				  "[endpoints]\n"
				  "allowed = [\"GuestDetailsRequest\", \"CheckRequest\"]\n";
	struct agent_opts o = { .config = cfg };
	REQUIRE(agent_start(&a, &o) == 0);
	CLIENT_SCOPED c = agent_connect(&a);
	REQUIRE(c);
	char msg[KERR_MSG_MAX];
	Grpc__CreateContainerRequest cc = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	int st = call_status(c, "grpc.AgentService", "CreateContainer", &cc.base, 0, msg,
			     sizeof(msg));
	printf("# CreateContainer: %s: %s\n", grpc_status_name(st), msg);
	CHECK_EQ_INT(st, GRPC_PERMISSION_DENIED);
	Grpc__GuestDetailsRequest g = GRPC__GUEST_DETAILS_REQUEST__INIT;
	st = call_status(c, "grpc.AgentService", "GetGuestDetails", &g.base, 0, msg, sizeof(msg));
	printf("# GetGuestDetails (allowed): %s %s\n", grpc_status_name(st), msg);
	CHECK_EQ_INT(st, GRPC_OK);
	CHECK(client_health(c) == 0);
}

TEST(malformed_config_file_refuses_to_start)
{
	AGENT_SCOPED a;
	static const char cfg[] = "server_addr = \"@SOCK@\"\n"
				  "log_level = \"debug\"\n"
				  "this line = = is not toml\n";
	struct agent_opts o = { .config = cfg, .no_wait = true };
	REQUIRE(agent_start(&a, &o) == 0);
	int st = agent_wait_exit(&a, 10000);
	CHECK(st >= 0);
	if (st < 0) {
		printf("# kata-agent still running with a malformed config file\n");
		return;
	}
	CHECK(!(WIFEXITED(st) && WEXITSTATUS(st) == 0));
	printf("# exit status 0x%x\n", st);
	cleanup_free char *log = agent_read_log(&a);
	REQUIRE(log);
	/* The error names the file and the line (3). */
	CHECK(strstr(log, a.config) != NULL);
	char l1[160];
	snprintf(l1, sizeof(l1), "%s:3", a.config);
	CHECK(strstr(log, l1) || strstr(log, "line 3") || strstr(log, "line\":3") ||
	      strstr(log, "line\": 3"));
	if (*tap_failed)
		agent_dump_log(&a, 10);
	CHECK(access(a.sock, F_OK) != 0);
}

TEST(missing_config_file_refuses_to_start)
{
	AGENT_SCOPED a;
	struct agent_opts o = { .cmdline_extra = "agent.config_file=/nonexistent/kata-agent.toml",
				.no_wait = true };
	REQUIRE(agent_start(&a, &o) == 0);
	int st = agent_wait_exit(&a, 10000);
	CHECK(st >= 0);
	if (st < 0)
		return;
	CHECK(!(WIFEXITED(st) && WEXITSTATUS(st) == 0));
	cleanup_free char *log = agent_read_log(&a);
	REQUIRE(log);
	CHECK(strstr(log, "/nonexistent/kata-agent.toml") != NULL);
}

TEST(malformed_option_is_logged_and_agent_starts)
{
	AGENT_SCOPED a;
	struct agent_opts o = { .cmdline_extra = "agent.hotplug_timeout=soon agent.log_vport=-3" };
	REQUIRE(agent_start(&a, &o) == 0);
	CHECK(agent_health(&a) == 0);
	cleanup_free char *log = agent_read_log(&a);
	REQUIRE(log);
	CHECK(strstr(log, "agent.hotplug_timeout") != NULL);
	CHECK(strstr(log, "agent.log_vport") != NULL);
	if (*tap_failed)
		agent_dump_log(&a, 10);
}

/* The announce line: one JSON object with msg "announce", the version and
 * the effective configuration carrying what the command line said. */
TEST(announce_line_is_json_with_cmdline_options)
{
	AGENT_SCOPED a;
	struct agent_opts o = {
		.cmdline_extra = "agent.container_pipe_size=131072 agent.hotplug_timeout=7"
	};
	REQUIRE(agent_start(&a, &o) == 0);
	cleanup_free char *log = agent_read_log(&a);
	REQUIRE(log);
	json_t *announce = NULL;
	int lines = 0, json_lines = 0;
	for (char *save = NULL, *line = strtok_r(log, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		lines++;
		json_t *j = json_loads(line, 0, NULL);
		if (!j)
			continue;
		json_lines++;
		const char *m = json_string_value(json_object_get(j, "msg"));
		if (!announce && m && !strcmp(m, "announce")) {
			announce = j;
			continue;
		}
		json_decref(j);
	}
	printf("# %d log lines, %d of them JSON\n", lines, json_lines);
	REQUIRE(announce);
	CHECK_EQ_INT(json_lines, lines);
	CHECK_EQ_STR(json_string_value(json_object_get(announce, "agent-version")),
		     KATA_AGENT_VERSION);
	CHECK(json_object_get(announce, "api-version") != NULL);
	json_t *cfg = json_object_get(announce, "config");
	CHECK(cfg != NULL);
	cleanup_free char *text = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
	if (text)
		printf("# config: %.600s\n", text);
	CHECK(text && strstr(text, a.sock));
	CHECK(text && strstr(text, "131072"));
	CHECK(text && strstr(text, "debug"));
	json_decref(announce);
}

/* ---- teardown ---- */

TEST(no_leftover_processes_after_stop)
{
	AGENT_SCOPED a;
	REQUIRE(agent_start(&a, NULL) == 0);
	/* Exercise the executor so whatever it keeps around exists. */
	{
		CLIENT_SCOPED c = agent_connect(&a);
		if (c) {
			Grpc__GuestDetailsRequest g = GRPC__GUEST_DETAILS_REQUEST__INIT;
			char msg[KERR_MSG_MAX];
			call_status(c, "grpc.AgentService", "GetGuestDetails", &g.base, 0, msg,
				    sizeof(msg));
		}
	}
	agent_frontend_pid(&a); /* refresh the list of descendants */
	printf("# processes under the agent:");
	for (size_t i = 0; i < a.nseen; i++)
		printf(" %d(%s)", (int)a.seen[i].pid, a.seen[i].comm);
	printf("\n");
	CHECK(a.nseen >= 3); /* parent, executor, front-end */
	pid_t pgid = a.pid;
	int left = agent_stop(&a);
	char desc[512];
	if (left > 0) {
		agent_leftovers(&a, desc, sizeof(desc));
		printf("# left running after SIGTERM and agent_stop's waits:%s\n", desc);
	}
	CHECK_EQ_INT(left, 0);
	CHECK(kill(-pgid, 0) < 0 && errno == ESRCH);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return tap_run();
}
