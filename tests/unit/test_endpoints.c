/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_endpoints - the declaration (common/ipc_messages.def) against the
 * API it serves, and the [endpoints] gate below the front-end that reads it
 * (common/endpoints.c).
 *
 * That every front-end request names its RPCs is a build-time check (a row
 * without one does not compile); here: the names are real methods, the
 * protobuf payloads are the messages those methods take and give, replies
 * go back the way their requests came, and the gate lets through exactly
 * what the allowed list names.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "endpoints.h"
#include "grpc_status.h"
#include "ipc.h"
#include "rpc_catalog.h"
#include "tap.h"

static const struct rpc_method *method(const char *name)
{
	return rpc_catalog_find("grpc.AgentService", name);
}

TEST(every_declared_rpc_is_a_method)
{
	unsigned seen = 0;
	for (const struct ipc_type_desc *d = NULL; (d = ipc_type_next(d));) {
		for (size_t i = 0; ipc_type_rpc(d, i); i++) {
			seen++;
			if (!method(ipc_type_rpc(d, i))) {
				printf("# %s serves %s, which grpc.AgentService lacks\n", d->name,
				       ipc_type_rpc(d, i));
				*tap_failed = 1;
			}
		}
	}
	CHECK(seen > 30);
}

/* A protobuf request carries its RPC's request message, and the protobuf
 * answer of a request its RPC's response message. */
TEST(protobuf_payloads_are_the_rpcs_messages)
{
	unsigned seen = 0;
	for (const struct ipc_type_desc *d = NULL; (d = ipc_type_next(d));) {
		const struct ipc_type_desc *rep = ipc_type_info(d->reply);
		const ProtobufCMessageDescriptor *in = ipc_type_pb(d);
		const ProtobufCMessageDescriptor *out = rep ? ipc_type_pb(rep) : NULL;
		for (size_t i = 0; ipc_type_rpc(d, i); i++) {
			const struct rpc_method *m = method(ipc_type_rpc(d, i));
			if (!m)
				continue;
			if (in && in != m->input) {
				printf("# %s carries %s, %s takes %s\n", d->name, in->name,
				       ipc_type_rpc(d, i), m->input->name);
				*tap_failed = 1;
			}
			if (out && out != m->output) {
				printf("# %s answers %s with %s, the RPC answers %s\n", rep->name,
				       d->name, out->name, m->output->name);
				*tap_failed = 1;
			}
			seen += in != NULL || out != NULL;
		}
	}
	CHECK(seen >= 12);
}

/* Whoever receives a request may send its reply, and whoever sends it may
 * receive it (ERROR too). */
TEST(replies_go_back_the_way_requests_came)
{
	const struct ipc_type_desc *error = ipc_type_info(IPC_ERROR);
	REQUIRE(error != NULL);
	unsigned seen = 0;
	for (const struct ipc_type_desc *d = NULL; (d = ipc_type_next(d));) {
		if (d->reply == IPC_NONE)
			continue;
		seen++;
		const struct ipc_type_desc *rep = ipc_type_info(d->reply);
		REQUIRE(rep != NULL);
		if ((d->to & ~rep->from) || (d->from & ~rep->to)) {
			printf("# %s (%#x -> %#x) answered by %s (%#x -> %#x)\n", d->name, d->from,
			       d->to, rep->name, rep->from, rep->to);
			*tap_failed = 1;
		}
		if (rep->reply != IPC_NONE) {
			printf("# the reply %s is a request itself\n", rep->name);
			*tap_failed = 1;
		}
		/* The spawner is the executor's fork; it answers on a socket of its
		 * own, ERROR included. */
		if ((d->to & ~error->from) || (d->from & ~error->to)) {
			printf("# %s cannot be answered ERROR both ways\n", d->name);
			*tap_failed = 1;
		}
	}
	CHECK(seen > 40);
}

TEST(gate_follows_the_allowed_list)
{
	struct agent_options all = { 0 }, some = { 0 };
	REQUIRE(endpoints_parse_list(&some, "StartContainerRequest,WriteStreamRequest") == 0);
	struct kerr e = { 0 };
	/* No list: everything the front-end may send. */
	CHECK_EQ_INT(ipc_endpoint_check(&all, IPC_CREATE_CONTAINER_REQ, &e), 0);
	/* Allowed by name; an internal message always. */
	CHECK_EQ_INT(ipc_endpoint_check(&some, IPC_START_CONTAINER_REQ, &e), 0);
	CHECK_EQ_INT(ipc_endpoint_check(&some, IPC_PING, &e), 0);
	/* CLOSE_STDIN_REQ also serves WriteStdin (an empty write). */
	CHECK_EQ_INT(ipc_endpoint_check(&some, IPC_CLOSE_STDIN_REQ, &e), 0);
	CHECK(ipc_endpoint_check(&some, IPC_CREATE_CONTAINER_REQ, &e) < 0);
	CHECK_EQ_INT(kerr_status(&e), GRPC_PERMISSION_DENIED);
	CHECK_EQ_STR(e.msg, "CreateContainerRequest is blocked by policy: not in the [endpoints] "
			    "allowed list");
	/* Not a front-end request at all: refused even without a list. */
	CHECK(ipc_endpoint_check(&all, IPC_MON_SIGNAL, &e) < 0);
	CHECK(strstr(e.msg, "MON_SIGNAL is blocked by policy: it serves no known endpoint") != NULL);
	CHECK(ipc_endpoint_check(&all, 250, &e) < 0);
	options_free(&some);
}

/* What the executor hands a monitor (--endpoints-blocked): the front-end's
 * requests to it the list blocks, by number; CLOSE_STDIN_REQ passes when
 * WriteStdin is allowed, MON_PASSFD_ATTACH when ExecProcess is. */
TEST(a_monitor_gets_what_the_list_blocks_of_its_requests)
{
	struct agent_options all = { 0 }, some = { 0 };
	REQUIRE(endpoints_parse_list(&some, "WriteStreamRequest,ExecProcessRequest") == 0);
	char buf[128], want[128];
	CHECK_EQ_INT(endpoints_blocked_types(&all, IPC_ROLE_MONITOR, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, "");
	CHECK_EQ_INT(endpoints_blocked_types(&some, IPC_ROLE_MONITOR, buf, sizeof(buf)), 0);
	snprintf(want, sizeof(want), "%u,%u,%u,%u", IPC_READ_STREAM_REQ, IPC_READ_STREAM_ACK,
		 IPC_TTY_WIN_RESIZE_REQ, IPC_WAIT_PROCESS_REQ);
	CHECK_EQ_STR(buf, want);
	CHECK_EQ_INT(endpoints_blocked_types(&some, IPC_ROLE_MONITOR, buf, 8), -ENOSPC);
	options_free(&some);
}

int main(void)
{
	return tap_run();
}
