/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_requests.c - the policy input of a request the front-end sent the
 * executor: the RPC request as the host sent it, serialized as upstream's
 * agent feeds its policy (agentd/policy/policy_input.c). A protobuf payload
 * is the request itself (decoded by the dispatcher); a fixed IPC struct is
 * turned back into the request of the RPC the declaration says it serves,
 * field by field (the strings point into the payload: nothing to free).
 * Upstream: src/agent/src/rpc.rs, is_allowed(&req) at the top of each
 * method.
 */
#include <errno.h>
#include <string.h>

#include "agent.pb-c.h"
#include "grpc_status.h"
#include "policy.h"
#include "policy_input.h"
#include "rpc_catalog.h"

/* The RPC the front-end message type serves, or NULL. */
static const struct rpc_method *method_of(uint32_t type)
{
	const struct ipc_type_desc *d = ipc_type_info(type);
	const char *rpc = d ? ipc_type_rpc(d, 0) : NULL;
	return rpc ? rpc_catalog_find("grpc.AgentService", rpc) : NULL;
}

const char *policy_request_endpoint(uint32_t type)
{
	const struct rpc_method *rm = method_of(type);
	return rm ? rm->input->short_name : NULL;
}

/* The payload as its text: GET_VOLUME_STATS_REQ and ADD_SWAP_PATH_REQ carry
 * a path without its NUL. */
static char *payload_text(const struct ipc_msg *m, char *buf, size_t len)
{
	size_t n = m->len < len - 1 ? m->len : len - 1;
	memcpy(buf, m->payload, n);
	buf[n] = '\0';
	return buf;
}

/* The requests a fixed IPC struct stands for. */
union request {
	ProtobufCMessage base;
	Grpc__GuestDetailsRequest details;
	Grpc__StartContainerRequest start;
	Grpc__RemoveContainerRequest remove;
	Grpc__SignalProcessRequest signal;
	Grpc__PauseContainerRequest pause;
	Grpc__ResumeContainerRequest resume;
	Grpc__StatsContainerRequest stats;
	Grpc__SetGuestDateTimeRequest time;
	Grpc__ReseedRandomDevRequest reseed;
	Grpc__VolumeStatsRequest volume;
	Grpc__OnlineCPUMemRequest online;
	Grpc__MemHotplugByProbeRequest probe;
	Grpc__AddSwapPathRequest swap;
	Grpc__GetDiagnosticDataRequest diag;
	uint8_t room[256];
};

/* u (holding the request's defaults) filled field by field from m's fixed
 * struct or bytes; a path is copied into path. */
static int fill_request(const struct ipc_msg *m, const struct ipc_type_desc *d, union request *u,
			char path[IPC_PATH_MAX], struct kerr *err)
{
	const void *p = m->in;
	switch (m->hdr.type) {
	case IPC_GET_GUEST_DETAILS_REQ: {
		const struct ipc_guest_details_req *q = p;
		u->details.mem_block_size = q->mem_block_size;
		u->details.mem_hotplug_probe = q->mem_hotplug_probe;
		break;
	}
	case IPC_START_CONTAINER_REQ:
	case IPC_PAUSE_CONTAINER_REQ:
	case IPC_RESUME_CONTAINER_REQ:
	case IPC_STATS_CONTAINER_REQ:
		/* each of these requests is { string container_id = 1; } */
		u->start.container_id = (char *)((const struct ipc_container_ref *)p)->container_id;
		break;
	case IPC_REMOVE_CONTAINER_REQ: {
		const struct ipc_container_remove *q = p;
		u->remove.container_id = (char *)q->container_id;
		u->remove.timeout = q->timeout_s;
		break;
	}
	case IPC_SIGNAL_PROCESS_REQ: {
		const struct ipc_process_signal *q = p;
		u->signal.container_id = (char *)q->container_id;
		u->signal.exec_id = (char *)q->exec_id;
		u->signal.signal = q->signal;
		break;
	}
	case IPC_GET_DIAGNOSTIC_DATA_REQ: {
		/* the log type checked known (ipc_check_diagnostic_req) */
		const struct ipc_diagnostic_req *q = p;
		u->diag.container_id = (char *)q->container_id;
		u->diag.log_type = (char *)ipc_diag_log_name(q->log_type);
		break;
	}
	case IPC_SET_GUEST_DATE_TIME_REQ: {
		const struct ipc_guest_time *q = p;
		u->time.sec = q->sec;
		u->time.usec = q->usec;
		break;
	}
	case IPC_RESEED_RANDOM_DEV_REQ:
		u->reseed.data.data = (uint8_t *)m->payload;
		u->reseed.data.len = m->len;
		break;
	case IPC_GET_VOLUME_STATS_REQ:
		u->volume.volume_guest_path = payload_text(m, path, IPC_PATH_MAX);
		break;
	case IPC_ADD_SWAP_PATH_REQ:
		u->swap.path = payload_text(m, path, IPC_PATH_MAX);
		break;
	case IPC_ONLINE_CPU_MEM_REQ: {
		const struct ipc_online_cpu_mem *q = p;
		u->online.wait = q->wait;
		u->online.nb_cpus = q->nb_cpus;
		u->online.cpu_only = q->cpu_only;
		break;
	}
	case IPC_MEM_HOTPLUG_BY_PROBE_REQ:
		/* u64 addresses, aligned in the received buffer */
		u->probe.n_memhotplugprobeaddr = m->len / sizeof(uint64_t);
		u->probe.memhotplugprobeaddr = (uint64_t *)m->payload;
		break;
	default:
		if (d->kind != IPC_PAYLOAD_NONE) {
			kerr_set_status(err, GRPC_INTERNAL, -EINVAL,
					"%s: no policy input for its payload", d->name);
			return err->code;
		}
		break;
	}
	return 0;
}

json_t *policy_request_input(const struct ipc_msg *m, struct kerr *err)
{
	const struct ipc_type_desc *d = ipc_type_info(m->hdr.type);
	const struct rpc_method *rm = method_of(m->hdr.type);
	if (!rm) {
		kerr_set_status(err, GRPC_INTERNAL, -EINVAL, "%s serves no RPC",
				ipc_type_name(m->hdr.type));
		return NULL;
	}
	if (ipc_type_pb(d))
		return policy_input(m->in, err);
	union request u;
	char path[IPC_PATH_MAX];
	if (rm->input->sizeof_message > sizeof(u)) {
		kerr_set_status(err, GRPC_INTERNAL, -E2BIG, "%s: no room", rm->input->short_name);
		return NULL;
	}
	/* The request's defaults (a request without payload is just that:
	 * DestroySandbox, GetOOMEvent, GetMetrics, ListInterfaces, ...). */
	protobuf_c_message_init(rm->input, &u);
	if (fill_request(m, d, &u, path, err) < 0)
		return NULL;
	return policy_input(&u.base, err);
}
