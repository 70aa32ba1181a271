/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diagnostic.c - GetDiagnosticData, front-end side: the container's
 * termination log, which runtime-rs copy_termination_log asks for with
 * shared_fs none (log_type "termination_log", container_id) and writes to
 * the kubelet's file when the data is not empty. The log type and the id
 * are checked here and go to the executor as a number and a fixed field
 * (handlers/diagnostic.c picks the file); its raw bytes come back and are
 * made UTF-8 here, without privileges. Upstream: rpc.rs
 * get_diagnostic_data, do_read_termination_log; the statuses that differ
 * are in doc/protocol.md.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/uio.h>

#include "agent.pb-c.h"
#include "frontend.h"
#include "grpc_status.h"
#include "pbwire.h"
#include "utf8.h"

/* The log's bytes as the executor read them (at most IPC_DIAG_DATA_MAX),
 * made UTF-8 here, in the process without privileges, as upstream's
 * String::from_utf8_lossy makes them: GetDiagnosticDataResponse.data is a
 * proto3 string, which the runtime's decoder refuses unless it is UTF-8.
 * Packed by hand (pbwire): a NUL byte is valid UTF-8 and upstream sends it,
 * where protobuf-c's NUL-terminated strings would cut the text there. */
static void get_diagnostic_data_reply(struct frontend *fe, struct ttrpc_call *call,
				      const struct ipc_msg *reply, const struct kerr *failure)
{
	if (!reply) {
		ttrpc_call_fail_err(call, failure);
		return;
	}
	char text[UTF8_LOSSY_SIZE(IPC_DIAG_DATA_MAX)];
	size_t len = utf8_lossy(reply->payload, reply->len, text, sizeof(text));
	/* GetDiagnosticDataResponse is { string data = 1; } (absent when
	 * empty): the field's key and length, then the text. */
	uint8_t key[PBWIRE_LEN_PREFIX_MAX];
	struct iovec iov[2] = {
		{ key, pbwire_bytes_field(key, 1, len) },
		{ text, len },
	};
	ttrpc_call_reply_iov(call, iov, len ? 2 : 0, NULL, NULL);
}

/* runtime-rs copy_termination_log: log_type "termination_log" and the
 * container's id. An unknown log type is INVALID_ARGUMENT with upstream's
 * text. */
RPC_HANDLER(rpc_get_diagnostic_data)
{
	const Grpc__GetDiagnosticDataRequest *r = (const Grpc__GetDiagnosticDataRequest *)req;
	struct kerr err = { 0 };
	struct ipc_diagnostic_req q = { .log_type = ipc_diag_log_type(r->log_type) };
	if (!q.log_type) {
		char b[80];
		kerr_set_status(&err, GRPC_INVALID_ARGUMENT, -EINVAL,
				"unsupported diagnostic log_type: %s",
				containers_show(r->log_type, b, sizeof(b)));
		goto fail;
	}
	if (containers_check_id(r->container_id, false, "container id", &err) < 0)
		goto fail;
	snprintf(q.container_id, sizeof(q.container_id), "%s", r->container_id);
	if (executor_request(fe, call, IPC_GET_DIAGNOSTIC_DATA_REQ, &q, sizeof(q),
			     get_diagnostic_data_reply, &err) < 0)
		goto fail;
	return;
fail:
	ttrpc_call_fail_err(call, &err);
}
