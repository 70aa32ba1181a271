/* SPDX-License-Identifier: Apache-2.0 */
/*
 * endpoints.c - which RPC each front-end IPC request serves (endpoints.h).
 */
#include "endpoints.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "grpc_status.h"

/* Every request the front-end may send the executor or a monitor. The
 * names are the RPCs' request message types (protos/agent.proto), as
 * [endpoints] allowed lists them. */
static const struct ipc_endpoint endpoints[] = {
	/* to the executor */
	{ IPC_PING, { NULL } }, /* the front-end's start-up check */
	{ IPC_GUEST_DETAILS_REQ, { "GuestDetailsRequest" } },
	{ IPC_SANDBOX_CREATE_REQ, { "CreateSandboxRequest" } },
	{ IPC_SANDBOX_DESTROY_REQ, { "DestroySandboxRequest" } },
	{ IPC_CONTAINER_CREATE_REQ, { "CreateContainerRequest" } },
	{ IPC_CONTAINER_START_REQ, { "StartContainerRequest" } },
	{ IPC_CONTAINER_REMOVE_REQ, { "RemoveContainerRequest" } },
	{ IPC_PROCESS_EXEC_REQ, { "ExecProcessRequest" } },
	{ IPC_PROCESS_SIGNAL_REQ, { "SignalProcessRequest" } },
	{ IPC_CONTAINER_UPDATE_REQ, { "UpdateContainerRequest" } },
	{ IPC_CONTAINER_PAUSE_REQ, { "PauseContainerRequest" } },
	{ IPC_CONTAINER_RESUME_REQ, { "ResumeContainerRequest" } },
	{ IPC_CONTAINER_STATS_REQ, { "StatsContainerRequest" } },
	{ IPC_OOM_EVENT_REQ, { "GetOOMEventRequest" } },
	{ IPC_METRICS_REQ, { "GetMetricsRequest" } },
	{ IPC_NET_UPDATE_INTERFACE_REQ, { "UpdateInterfaceRequest" } },
	{ IPC_NET_UPDATE_ROUTES_REQ, { "UpdateRoutesRequest" } },
	{ IPC_NET_LIST_INTERFACES_REQ, { "ListInterfacesRequest" } },
	{ IPC_NET_LIST_ROUTES_REQ, { "ListRoutesRequest" } },
	{ IPC_NET_ADD_ARP_REQ, { "AddARPNeighborsRequest" } },
	{ IPC_GUEST_SET_TIME_REQ, { "SetGuestDateTimeRequest" } },
	{ IPC_GUEST_RESEED_REQ, { "ReseedRandomDevRequest" } },
	{ IPC_VOLUME_STATS_REQ, { "VolumeStatsRequest" } },
	{ IPC_COPY_FILE_REQ, { "CopyFileRequest" } },
	{ IPC_ONLINE_CPU_MEM_REQ, { "OnlineCPUMemRequest" } },
	{ IPC_MEM_PROBE_REQ, { "MemHotplugByProbeRequest" } },
	{ IPC_ADD_SWAP_REQ, { "AddSwapPathRequest" } },
	{ IPC_EPHEMERAL_UPDATE_REQ, { "UpdateEphemeralMountsRequest" } },
	{ IPC_STALE_SHARES_REQ, { "RemoveStaleVirtiofsShareMountsRequest" } },
	{ IPC_ADD_SWAP_DEVICE_REQ, { "AddSwapRequest" } },
	{ IPC_RESIZE_VOLUME_REQ, { "ResizeVolumeRequest" } },
	/* to a monitor (ReadStdout and ReadStderr share one request type) */
	{ IPC_STDIO_READ_REQ, { "ReadStreamRequest" } },
	{ IPC_STDIO_ACK, { "ReadStreamRequest" } },
	{ IPC_STDIO_WRITE_REQ, { "WriteStreamRequest" } },
	/* CloseStdin, and an empty WriteStdin (the end of stdin) */
	{ IPC_STDIO_CLOSE_REQ, { "CloseStdinRequest", "WriteStreamRequest" } },
	{ IPC_TTY_RESIZE_REQ, { "TtyWinResizeRequest" } },
	{ IPC_WAIT_REQ, { "WaitProcessRequest" } },
};

const struct ipc_endpoint *ipc_endpoint_find(uint32_t type)
{
	for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++)
		if (endpoints[i].type == type)
			return &endpoints[i];
	return NULL;
}

int ipc_endpoint_check(const struct agent_options *policy, uint32_t type, struct kerr *err)
{
	const struct ipc_endpoint *e = ipc_endpoint_find(type);
	if (!e)
		return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EACCES,
				       "%s is blocked by policy: it serves no known endpoint",
				       ipc_type_name(type));
	if (!e->rpcs[0] || !policy->endpoints_restricted)
		return 0;
	for (size_t i = 0; e->rpcs[i]; i++)
		if (options_endpoint_allowed(policy, e->rpcs[i]))
			return 0;
	return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EACCES,
			       "%s is blocked by policy: not in the [endpoints] allowed list",
			       e->rpcs[0]);
}

int ipc_endpoint_gate(struct ipc_chan *c, const struct ipc_msg *m, void *data, struct kerr *err)
{
	return ipc_endpoint_check(data, m->hdr.type, err);
}

bool endpoints_name_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

int endpoints_parse_list(struct agent_options *o, const char *list)
{
	o->endpoints_restricted = true;
	if (!*list)
		return 0;
	size_t n = 1;
	for (const char *c = list; *c; c++)
		n += *c == ',';
	char **names = calloc(n, sizeof(char *));
	cleanup_free char *copy = strdup(list);
	if (!names || !copy) {
		free(names);
		return -ENOMEM;
	}
	size_t k = 0;
	int r = 0;
	char *p = copy;
	for (char *tok = strsep(&p, ","); tok && r == 0; tok = strsep(&p, ",")) {
		if (!endpoints_name_valid(tok))
			r = -EINVAL;
		else if (!(names[k] = strdup(tok)))
			r = -ENOMEM;
		else
			k++;
	}
	if (r < 0) {
		for (size_t i = 0; i < k; i++)
			free(names[i]);
		free(names);
		return r;
	}
	o->allowed_endpoints = names;
	o->n_allowed_endpoints = k;
	return 0;
}
