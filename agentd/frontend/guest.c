/* SPDX-License-Identifier: Apache-2.0 */
/*
 * guest.c - the guest-wide RPCs, front-end side: SetGuestDateTime,
 * ReseedRandomDev, GetVolumeStats, CopyFile, OnlineCPUMem, SetPolicy,
 * MemHotplugByProbe, AddSwapPath, MemAgentMemcgSet, MemAgentCompactSet.
 * What needs no privilege is
 * checked here (ranges, sizes, an absolute path); the executor checks it all
 * again and acts (agentd/executor/handlers/guest.c, doc/guest-ops.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "agent.pb-c.h"
#include "frontend.h"
#include "grpc_status.h"
#include "log.h"
#include "memagent_cfg.h"

RPC_HANDLER(rpc_set_guest_date_time)
{
	const Grpc__SetGuestDateTimeRequest *r = (const Grpc__SetGuestDateTimeRequest *)req;
	struct ipc_guest_time t = { .sec = r->sec, .usec = r->usec };
	if (t.sec < 0 || t.usec < 0 || t.usec > 999999) {
		ttrpc_call_fail(call, GRPC_INVALID_ARGUMENT,
				"SetGuestDateTime: %" PRId64 " s %" PRId64 " us is not a time "
				"(seconds >= 0, microseconds 0..999999)",
				t.sec, t.usec);
		return;
	}
	log_info("SetGuestDateTime %" PRId64 ".%06" PRId64, t.sec, t.usec);
	executor_forward(fe, call, IPC_SET_GUEST_DATE_TIME_REQ, &t, sizeof(t));
}

RPC_HANDLER(rpc_reseed_random_dev)
{
	const Grpc__ReseedRandomDevRequest *r = (const Grpc__ReseedRandomDevRequest *)req;
	if (r->data.len > IPC_RESEED_MAX) {
		ttrpc_call_fail(call, GRPC_INVALID_ARGUMENT,
				"ReseedRandomDev: %zu bytes is more than %u", r->data.len,
				IPC_RESEED_MAX);
		return;
	}
	if (r->data.len == 0) {
		/* As upstream ("missing entropy data"). */
		ttrpc_call_fail(call, GRPC_INVALID_ARGUMENT,
				"ReseedRandomDev: missing entropy data");
		return;
	}
	executor_forward(fe, call, IPC_RESEED_RANDOM_DEV_REQ, r->data.data, r->data.len);
}

/* A host path the executor will resolve below the shared directory. */
static const char *path_problem(const char *p)
{
	if (p[0] != '/')
		return "is not an absolute path";
	if (strlen(p) >= IPC_PATH_MAX)
		return "is too long";
	return NULL;
}

RPC_HANDLER(rpc_get_volume_stats)
{
	const Grpc__VolumeStatsRequest *r = (const Grpc__VolumeStatsRequest *)req;
	const char *why = path_problem(r->volume_guest_path);
	if (why) {
		char msg[160];
		snprintf(msg, sizeof(msg), "GetVolumeStats: volume_guest_path %s", why);
		ttrpc_call_fail(call, GRPC_INVALID_ARGUMENT, "%s", msg);
		return;
	}
	/* The answer, a VolumeStatsResponse, is decoded before it goes back. */
	executor_forward(fe, call, IPC_GET_VOLUME_STATS_REQ, r->volume_guest_path,
			 strlen(r->volume_guest_path));
}

RPC_HANDLER(rpc_copy_file)
{
	const Grpc__CopyFileRequest *r = (const Grpc__CopyFileRequest *)req;
	const char *why = path_problem(r->path);
	if (why) {
		char msg[160];
		snprintf(msg, sizeof(msg), "CopyFile: path %s", why);
		ttrpc_call_fail(call, GRPC_INVALID_ARGUMENT, "%s", msg);
		return;
	}
	if (r->offset < 0 || r->file_size < 0) {
		ttrpc_call_fail(call, GRPC_INVALID_ARGUMENT,
				"CopyFile: negative offset or file_size");
		return;
	}
	log_debug("CopyFile %zu bytes at %" PRId64, r->data.len, r->offset);
	executor_forward_message(fe, call, IPC_COPY_FILE_REQ, req);
}

RPC_HANDLER(rpc_online_cpu_mem)
{
	const Grpc__OnlineCPUMemRequest *r = (const Grpc__OnlineCPUMemRequest *)req;
	struct ipc_online_cpu_mem q = {
		.nb_cpus = r->nb_cpus,
		.wait = r->wait ? 1 : 0,
		.cpu_only = r->cpu_only ? 1 : 0,
	};
	log_info("OnlineCPUMem %u CPUs%s%s", q.nb_cpus, q.cpu_only ? ", CPUs only" : "",
		 q.wait ? ", waiting" : "");
	executor_forward(fe, call, IPC_ONLINE_CPU_MEM_REQ, &q, sizeof(q));
}

RPC_HANDLER(rpc_mem_hotplug_by_probe)
{
	const Grpc__MemHotplugByProbeRequest *r = (const Grpc__MemHotplugByProbeRequest *)req;
	size_t n = r->n_memhotplugprobeaddr;
	if (n == 0) {
		ttrpc_call_reply(call, NULL);
		return;
	}
	if (n > IPC_MEM_PROBE_MAX) {
		ttrpc_call_fail(call, GRPC_INVALID_ARGUMENT,
				"MemHotplugByProbe: %zu addresses is more than %u", n,
				IPC_MEM_PROBE_MAX);
		return;
	}
	/* uint64_t[] already: the addresses as they are. */
	executor_forward(fe, call, IPC_MEM_HOTPLUG_BY_PROBE_REQ, r->memhotplugprobeaddr,
			 n * sizeof(uint64_t));
}

RPC_HANDLER(rpc_add_swap_path)
{
	const Grpc__AddSwapPathRequest *r = (const Grpc__AddSwapPathRequest *)req;
	const char *why = path_problem(r->path);
	if (why) {
		char msg[160];
		snprintf(msg, sizeof(msg), "AddSwapPath: path %s", why);
		ttrpc_call_fail(call, GRPC_INVALID_ARGUMENT, "%s", msg);
		return;
	}
	log_info("AddSwapPath %s", r->path);
	executor_forward(fe, call, IPC_ADD_SWAP_PATH_REQ, r->path, strlen(r->path));
}

/* The executor checks it against the policy in force (its SetPolicyRequest
 * rule, as upstream's do_set_policy) and has the policy process load it:
 * nothing here decides, a compromised front-end included. */
RPC_HANDLER(rpc_set_policy)
{
	log_info("SetPolicy: %zu bytes of policy",
		 strlen(((const Grpc__SetPolicyRequest *)req)->policy));
	executor_forward_message(fe, call, IPC_SET_POLICY_REQ, req);
}

/* The mem-agent's settings: each present field within its range
 * (memagent_cfg.h), INVALID_ARGUMENT naming the first that is not; the
 * executor checks them again, asks the policy, and answers INTERNAL
 * "mem-agent is disabled" when agent.mem_agent_enable was not set, as
 * upstream (its is_allowed comes first). */
static void mem_agent_set(struct frontend *fe, struct ttrpc_call *call, const ProtobufCMessage *req,
			  uint32_t type)
{
	struct memagent_cfg scratch;
	struct kerr err = { 0 };
	memagent_cfg_defaults(&scratch);
	if (memagent_cfg_apply_request(&scratch, req, &err) < 0) {
		ttrpc_call_fail_err(call, &err);
		return;
	}
	executor_forward_message(fe, call, type, req);
}

RPC_HANDLER(rpc_mem_agent_memcg_set)
{
	mem_agent_set(fe, call, req, IPC_MEM_AGENT_MEMCG_SET_REQ);
}

RPC_HANDLER(rpc_mem_agent_compact_set)
{
	mem_agent_set(fe, call, req, IPC_MEM_AGENT_COMPACT_SET_REQ);
}
