/* SPDX-License-Identifier: Apache-2.0 */
/*
 * network.c - the guest network RPCs, front-end side: UpdateInterface,
 * UpdateRoutes, ListInterfaces, ListRoutes, AddARPNeighbors, GetIPTables,
 * SetIPTables. The requests
 * are re-encoded and forwarded; the executor checks every field and acts
 * (agentd/executor/handlers/network.c, iptables.c; doc/network.md). Its answers are decoded
 * (executor_forward, with the descriptor the declaration gives the reply)
 * before they go back, so the host only ever gets a well-formed message of
 * the declared type.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.pb-c.h"
#include "frontend.h"
#include "grpc_status.h"
#include "log.h"

/* Counts checked here too, so an oversized list never crosses over. */
#define NET_MAX_ADDRS 256u
#define NET_MAX_ROUTES 1024u
#define NET_MAX_NEIGH 1024u

RPC_HANDLER(rpc_update_interface)
{
	const Grpc__UpdateInterfaceRequest *r = (const Grpc__UpdateInterfaceRequest *)req;
	if (!r->interface || r->interface->n_ipaddresses > NET_MAX_ADDRS) {
		ttrpc_call_fail(call, GRPC_INVALID_ARGUMENT,
				"UpdateInterface: no interface, or more than %u addresses",
				NET_MAX_ADDRS);
		return;
	}
	executor_forward_message(fe, call, IPC_UPDATE_INTERFACE_REQ, req);
}

RPC_HANDLER(rpc_update_routes)
{
	const Grpc__UpdateRoutesRequest *r = (const Grpc__UpdateRoutesRequest *)req;
	if (r->routes && r->routes->n_routes > NET_MAX_ROUTES) {
		ttrpc_call_fail(call, GRPC_INVALID_ARGUMENT, "UpdateRoutes: more than %u routes",
				NET_MAX_ROUTES);
		return;
	}
	executor_forward_message(fe, call, IPC_UPDATE_ROUTES_REQ, req);
}

RPC_HANDLER(rpc_list_interfaces)
{
	executor_forward(fe, call, IPC_LIST_INTERFACES_REQ, NULL, 0);
}

RPC_HANDLER(rpc_list_routes)
{
	executor_forward(fe, call, IPC_LIST_ROUTES_REQ, NULL, 0);
}

RPC_HANDLER(rpc_add_arp_neighbors)
{
	const Grpc__AddARPNeighborsRequest *r = (const Grpc__AddARPNeighborsRequest *)req;
	if (r->neighbors && r->neighbors->n_arpneighbors > NET_MAX_NEIGH) {
		ttrpc_call_fail(call, GRPC_INVALID_ARGUMENT,
				"AddARPNeighbors: more than %u neighbours", NET_MAX_NEIGH);
		return;
	}
	executor_forward_message(fe, call, IPC_ADD_ARP_NEIGHBORS_REQ, req);
}

/* The executor runs the guest's iptables-save (its stdout answers). */
RPC_HANDLER(rpc_get_iptables)
{
	executor_forward_message(fe, call, IPC_GET_IPTABLES_REQ, req);
}

/* data goes to iptables-restore's stdin as it is: the tool is its parser. */
RPC_HANDLER(rpc_set_iptables)
{
	const Grpc__SetIPTablesRequest *r = (const Grpc__SetIPTablesRequest *)req;
	if (r->data.len > IPC_IPTABLES_DATA_MAX) {
		ttrpc_call_fail(call, GRPC_INVALID_ARGUMENT,
				"SetIPTables: %zu bytes of data (at most %u)", r->data.len,
				IPC_IPTABLES_DATA_MAX);
		return;
	}
	executor_forward_message(fe, call, IPC_SET_IPTABLES_REQ, req);
}
