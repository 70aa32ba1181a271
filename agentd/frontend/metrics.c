/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c - grpc.AgentService/GetMetrics, front-end side. The front-end
 * has no /proc (empty root), so the executor collects and formats
 * (agentd/executor/readers/metrics.c); here the text is checked before it goes to
 * the host: a proto3 string must be UTF-8, and Prometheus text is lines of
 * printable characters, each ending in '\n'.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.pb-c.h"
#include "frontend.h"
#include "grpc_status.h"
#include "log.h"
#include "utf8.h"

int metrics_text_check(const uint8_t *p, size_t len, struct kerr *err)
{
	if (len == 0 || len > IPC_METRICS_TEXT_MAX)
		return kerr_set_status(err, GRPC_INTERNAL, -EPROTO,
				       "metrics text of %zu bytes, expected 1..%u", len,
				       IPC_METRICS_TEXT_MAX);
	for (size_t i = 0; i < len;) {
		if (p[i] < 0x20 && p[i] != '\n' && p[i] != '\t')
			return kerr_set_status(err, GRPC_INTERNAL, -EPROTO,
					       "metrics text: control byte 0x%02x at offset %zu",
					       p[i], i);
		if (p[i] == 0x7f)
			return kerr_set_status(err, GRPC_INTERNAL, -EPROTO,
					       "metrics text: DEL at offset %zu", i);
		size_t k = utf8_seq_len(p + i, len - i);
		if (!k)
			return kerr_set_status(err, GRPC_INTERNAL, -EPROTO,
					       "metrics text: invalid UTF-8 at offset %zu", i);
		i += k;
	}
	if (p[len - 1] != '\n')
		return kerr_set_status(err, GRPC_INTERNAL, -EPROTO,
				       "metrics text does not end with a newline");
	return 0;
}

static void get_metrics_reply(struct frontend *fe, struct ttrpc_call *call,
			      const struct ipc_msg *reply, const struct kerr *failure)
{
	if (!reply) {
		ttrpc_call_fail_err(call, failure);
		return;
	}
	struct kerr err = { 0 };
	if (metrics_text_check(reply->payload, reply->len, &err) < 0) {
		log_error("GetMetrics: the executor's answer is refused: %s", err.msg);
		ttrpc_call_fail_err(call, &err);
		return;
	}
	/* The payload is not NUL-terminated; protobuf-c wants a C string. */
	char *text = malloc(reply->len + 1);
	if (!text) {
		ttrpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "GetMetrics: out of memory");
		return;
	}
	memcpy(text, reply->payload, reply->len);
	text[reply->len] = '\0';
	Grpc__Metrics resp = GRPC__METRICS__INIT;
	resp.metrics = text;
	ttrpc_call_reply(call, &resp.base);
	free(text);
}

/* GetMetricsRequest has no fields. */
RPC_HANDLER(rpc_get_metrics)
{
	struct kerr err = { 0 };
	if (executor_request(fe, call, IPC_GET_METRICS_REQ, NULL, 0, get_metrics_reply, &err) < 0)
		ttrpc_call_fail_err(call, &err);
}
