/* SPDX-License-Identifier: Apache-2.0 */
/*
 * endpoints.c - the [endpoints] allowed list below the front-end (endpoints.h).
 */
#include "endpoints.h"

#include <errno.h>
#include <stdio.h>

#include "grpc_status.h"
#include "rpc_catalog.h"

/* The request type (as [endpoints] allowed lists it) of a method the
 * declaration names. */
static const char *request_type(const char *method)
{
	const struct rpc_method *m = rpc_catalog_find("grpc.AgentService", method);
	return m ? m->input->short_name : NULL;
}

int ipc_endpoint_check(const struct agent_options *policy, uint32_t type, struct kerr *err)
{
	const struct ipc_type_desc *d = ipc_type_info(type);
	const char *first = d && ipc_type_rpc(d, 0) ? request_type(ipc_type_rpc(d, 0)) : NULL;
	if (!d || (!first && !d->internal))
		return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EACCES,
				       "%s is blocked by policy: it serves no known endpoint",
				       ipc_type_name(type));
	if (d->internal || !policy->endpoints_restricted)
		return 0;
	for (size_t i = 0; ipc_type_rpc(d, i); i++) {
		const char *req = request_type(ipc_type_rpc(d, i));
		if (req && options_endpoint_allowed(policy, req))
			return 0;
	}
	return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EACCES,
			       "%s is blocked by policy: not in the [endpoints] allowed list",
			       first);
}

int ipc_endpoint_gate(struct ipc_chan *c, const struct ipc_msg *m, void *data, struct kerr *err)
{
	return ipc_endpoint_check(data, m->hdr.type, err);
}

int endpoints_blocked_types(const struct agent_options *policy, enum ipc_role to, char *buf,
			    size_t len)
{
	size_t n = 0;
	if (!len)
		return -ENOSPC;
	buf[0] = '\0';
	for (const struct ipc_type_desc *d = NULL; (d = ipc_type_next(d));) {
		struct kerr e = { 0 };
		if (!(d->from & IPC_ROLE_BIT(IPC_ROLE_FRONTEND)) || !(d->to & IPC_ROLE_BIT(to)) ||
		    ipc_endpoint_check(policy, d->type, &e) == 0)
			continue;
		int w = snprintf(buf + n, len - n, "%s%u", n ? "," : "", d->type);
		if (w < 0 || (size_t)w >= len - n)
			return -ENOSPC;
		n += (size_t)w;
	}
	return 0;
}
