/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc.c - the front-end's ttRPC dispatch. Every request goes through the
 * same four steps, in this order, before any handler runs:
 *
 *   1. rpc_catalog_find: the service and method exist in the API
 *      (else UNIMPLEMENTED "unknown method <service>/<method>");
 *   2. grpc.AgentService only: the endpoint is allowed by the config file's
 *      [endpoints] list (else PERMISSION_DENIED "<RequestType> is blocked
 *      ..."); grpc.Health is always allowed, as upstream never filtered it;
 *   3. the payload decodes as the method's request message
 *      (else INVALID_ARGUMENT; RESOURCE_EXHAUSTED when the decoded form
 *      would pass the connection's memory bound, common/ttrpc_server.c);
 *   4. the handler table below: a method not listed is UNIMPLEMENTED
 *      "<service>/<method> is not implemented yet".
 *
 * A handler reads the decoded request, which rpc_dispatch frees when the
 * handler returns, and answers the call exactly once, now or later
 * (requests forwarded to the executor answer when its reply comes).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.pb-c.h"
#include "config.h"
#include "frontend.h"
#include "grpc_status.h"
#include "health.pb-c.h"
#include "log.h"
#include "rpc_catalog.h"

typedef void (*rpc_handler_fn)(struct frontend *fe, struct ttrpc_call *call,
			       const ProtobufCMessage *req);

struct rpc_handler {
	const char *service;
	const char *method;
	rpc_handler_fn fn;
};

/* ---- grpc.Health ---- */

static RPC_HANDLER(health_check)
{
	Grpc__HealthCheckResponse resp = GRPC__HEALTH_CHECK_RESPONSE__INIT;
	resp.status = GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	ttrpc_call_reply(call, &resp.base);
}

static RPC_HANDLER(health_version)
{
	Grpc__VersionCheckResponse resp = GRPC__VERSION_CHECK_RESPONSE__INIT;
	resp.grpc_version = (char *)KATA_AGENT_API_VERSION;
	resp.agent_version = (char *)KATA_AGENT_VERSION;
	ttrpc_call_reply(call, &resp.base);
}

/* ---- grpc.AgentService/GetGuestDetails: a round trip to the executor ---- */

static void get_guest_details_reply(struct frontend *fe, struct ttrpc_call *call,
				    const struct ipc_msg *reply, const struct kerr *failure)
{
	if (!reply) {
		ttrpc_call_fail_err(call, failure);
		return;
	}
	const struct ipc_guest_details_reply *r = reply->in;

	/* As upstream get_agent_details: the runtime refuses every
	 * CreateContainer with guest seccomp on unless supports_seccomp. No
	 * device handlers (upstream's list is empty too); the storage drivers
	 * the executor handles; the build features (upstream's names): container
	 * seccomp is always built in here, agent-policy is not. */
	Grpc__AgentDetails details = GRPC__AGENT_DETAILS__INIT;
	details.version = (char *)KATA_AGENT_VERSION;
	details.init_daemon = r->init_daemon;
	details.supports_seccomp = r->supports_seccomp;
	char *handlers[IPC_STORAGE_DRIVERS_MAX];
	size_t n = 0;
	const char *name;
	for (unsigned b = 0; (name = ipc_storage_driver_name(b)); b++)
		if (r->storage_handlers & (1u << b))
			handlers[n++] = (char *)name;
	details.storage_handlers = handlers;
	details.n_storage_handlers = n;
	char *features[] = { (char *)"seccomp" };
	details.extra_features = features;
	details.n_extra_features = 1;

	Grpc__GuestDetailsResponse resp = GRPC__GUEST_DETAILS_RESPONSE__INIT;
	resp.mem_block_size_bytes = r->mem_block_size_bytes;
	resp.support_mem_hotplug_probe = r->support_mem_hotplug_probe;
	resp.agent_details = &details;
	ttrpc_call_reply(call, &resp.base);
}

RPC_HANDLER(rpc_get_guest_details)
{
	const Grpc__GuestDetailsRequest *r = (const Grpc__GuestDetailsRequest *)req;
	struct ipc_guest_details_req ir = {
		.mem_block_size = r->mem_block_size ? 1 : 0,
		.mem_hotplug_probe = r->mem_hotplug_probe ? 1 : 0,
	};
	struct kerr err = { 0 };
	if (executor_request(fe, call, IPC_GET_GUEST_DETAILS_REQ, &ir, sizeof(ir),
			     get_guest_details_reply, &err) < 0)
		ttrpc_call_fail_err(call, &err);
}

/* ---- the table ---- */

static const struct rpc_handler handlers[] = {
	{ "grpc.Health", "Check", health_check },
	{ "grpc.Health", "Version", health_version },
	{ "grpc.AgentService", "GetGuestDetails", rpc_get_guest_details },
	{ "grpc.AgentService", "CreateSandbox", rpc_create_sandbox },
	{ "grpc.AgentService", "DestroySandbox", rpc_destroy_sandbox },
	{ "grpc.AgentService", "CreateContainer", rpc_create_container },
	{ "grpc.AgentService", "StartContainer", rpc_start_container },
	{ "grpc.AgentService", "RemoveContainer", rpc_remove_container },
	{ "grpc.AgentService", "UpdateContainer", rpc_update_container },
	{ "grpc.AgentService", "PauseContainer", rpc_pause_container },
	{ "grpc.AgentService", "ResumeContainer", rpc_resume_container },
	{ "grpc.AgentService", "StatsContainer", rpc_stats_container },
	{ "grpc.AgentService", "GetDiagnosticData", rpc_get_diagnostic_data },
	{ "grpc.AgentService", "UpdateEphemeralMounts", rpc_update_ephemeral_mounts },
	{ "grpc.AgentService", "RemoveStaleVirtiofsShareMounts",
	  rpc_remove_stale_virtiofs_share_mounts },
	{ "grpc.AgentService", "ExecProcess", rpc_exec_process },
	{ "grpc.AgentService", "SignalProcess", rpc_signal_process },
	{ "grpc.AgentService", "WaitProcess", rpc_wait_process },
	{ "grpc.AgentService", "WriteStdin", rpc_write_stdin },
	{ "grpc.AgentService", "ReadStdout", rpc_read_stdout },
	{ "grpc.AgentService", "ReadStderr", rpc_read_stderr },
	{ "grpc.AgentService", "CloseStdin", rpc_close_stdin },
	{ "grpc.AgentService", "TtyWinResize", rpc_tty_win_resize },
	{ "grpc.AgentService", "GetMetrics", rpc_get_metrics },
	{ "grpc.AgentService", "UpdateInterface", rpc_update_interface },
	{ "grpc.AgentService", "UpdateRoutes", rpc_update_routes },
	{ "grpc.AgentService", "ListInterfaces", rpc_list_interfaces },
	{ "grpc.AgentService", "ListRoutes", rpc_list_routes },
	{ "grpc.AgentService", "AddARPNeighbors", rpc_add_arp_neighbors },
	{ "grpc.AgentService", "GetIPTables", rpc_get_iptables },
	{ "grpc.AgentService", "SetIPTables", rpc_set_iptables },
	{ "grpc.AgentService", "SetGuestDateTime", rpc_set_guest_date_time },
	{ "grpc.AgentService", "ReseedRandomDev", rpc_reseed_random_dev },
	{ "grpc.AgentService", "GetVolumeStats", rpc_get_volume_stats },
	{ "grpc.AgentService", "CopyFile", rpc_copy_file },
	{ "grpc.AgentService", "OnlineCPUMem", rpc_online_cpu_mem },
	{ "grpc.AgentService", "MemHotplugByProbe", rpc_mem_hotplug_by_probe },
	{ "grpc.AgentService", "AddSwapPath", rpc_add_swap_path },
	{ "grpc.AgentService", "MemAgentMemcgSet", rpc_mem_agent_memcg_set },
	{ "grpc.AgentService", "MemAgentCompactSet", rpc_mem_agent_compact_set },
	{ "grpc.AgentService", "SetPolicy", rpc_set_policy },
	{ "grpc.AgentService", "AddSwap", rpc_add_swap },
	{ "grpc.AgentService", "ResizeVolume", rpc_resize_volume },
	{ "grpc.AgentService", "GetOOMEvent", rpc_get_oom_event },
	{ NULL, NULL, NULL },
};

static const struct rpc_handler *find_handler(const char *service, const char *method)
{
	for (const struct rpc_handler *h = handlers; h->fn; h++)
		if (strcmp(h->service, service) == 0 && strcmp(h->method, method) == 0)
			return h;
	return NULL;
}

/* Names come from the untrusted peer and go back into error messages (a
 * proto3 string, which must be UTF-8) and into logs: keep them short and
 * printable ASCII. */
static const char *safe_name(const char *s, char *buf, size_t len)
{
	size_t i = 0;
	for (; s && s[i] && i + 1 < len; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
	if (s && s[i] && len > 4)
		memcpy(buf + len - 4, "...", 4);
	return buf;
}

void rpc_dispatch(struct ttrpc_call *call, void *data)
{
	struct frontend *fe = data;
	const char *service = ttrpc_call_service(call);
	const char *method = ttrpc_call_method(call);
	char sbuf[96], mbuf[96];

	const struct rpc_method *rm = rpc_catalog_find(service ? service : "",
						       method ? method : "");
	if (!rm) {
		safe_name(service, sbuf, sizeof(sbuf));
		safe_name(method, mbuf, sizeof(mbuf));
		log_debug("unknown method %s/%s", sbuf, mbuf);
		ttrpc_call_fail(call, GRPC_UNIMPLEMENTED, "unknown method %s/%s", sbuf, mbuf);
		return;
	}
	/* From here on service and method are the catalog's own strings. */
	if (strcmp(rm->service, "grpc.AgentService") == 0 &&
	    !options_endpoint_allowed(&fe->policy, rm->input->short_name)) {
		log_info("%s/%s refused: %s not in the allowed endpoints", rm->service, rm->method,
			 rm->input->short_name);
		ttrpc_call_fail(call, GRPC_PERMISSION_DENIED,
				"%s is blocked by policy: not in the [endpoints] allowed list",
				rm->input->short_name);
		return;
	}
	struct kerr err = { 0 };
	ProtobufCMessage *req = ttrpc_call_unpack(call, rm->input, &err);
	if (!req) {
		log_debug("%s/%s: %s", rm->service, rm->method, err.msg);
		ttrpc_call_fail(call, kerr_status(&err), "%s/%s: %s", rm->service, rm->method,
				err.msg);
		return;
	}
	const struct rpc_handler *h = find_handler(rm->service, rm->method);
	if (!h) {
		protobuf_c_message_free_unpacked(req, NULL);
		ttrpc_call_fail(call, GRPC_UNIMPLEMENTED, "%s/%s is not implemented yet",
				rm->service, rm->method);
		return;
	}
	log_debug("%s/%s", rm->service, rm->method);
	/* The handler reads req; what it keeps past its return it copies
	 * (its memory stays counted against the connection until the call
	 * ends, whenever it is freed). */
	h->fn(fe, call, req);
	protobuf_c_message_free_unpacked(req, NULL);
}
