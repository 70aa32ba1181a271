/* SPDX-License-Identifier: Apache-2.0 */
/*
 * network.c - the guest network RPCs, front-end side: UpdateInterface,
 * UpdateRoutes, ListInterfaces, ListRoutes, AddARPNeighbors. The requests
 * are re-encoded and forwarded; the executor checks every field and acts
 * (agentd/executor/network.c, doc/network.md). Its answers are decoded
 * here before they go back, so the host only ever gets a well-formed
 * message of the declared type.
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


static void interface_reply(struct frontend *fe, struct ttrpc_call *call,
			    const struct ipc_msg *reply, const struct kerr *failure)
{
	exec_reply_decoded(call, reply, failure, &types__interface__descriptor);
}

static void routes_reply(struct frontend *fe, struct ttrpc_call *call, const struct ipc_msg *reply,
			 const struct kerr *failure)
{
	exec_reply_decoded(call, reply, failure, &grpc__routes__descriptor);
}

static void interfaces_reply(struct frontend *fe, struct ttrpc_call *call,
			     const struct ipc_msg *reply, const struct kerr *failure)
{
	exec_reply_decoded(call, reply, failure, &grpc__interfaces__descriptor);
}

/* A request with no payload; the answer goes through fn. Takes req. */
static void ask_list(struct frontend *fe, struct ttrpc_call *call, ProtobufCMessage *req,
		     uint32_t type, uint32_t reply_type, exec_reply_fn fn)
{
	protobuf_c_message_free_unpacked(req, NULL);
	struct kerr err = { 0 };
	if (exec_request(fe, call, type, NULL, 0, reply_type, fn, &err) < 0)
		ttrpc_call_fail_err(call, &err);
}

void rpc_update_interface(struct frontend *fe, struct ttrpc_call *call, ProtobufCMessage *req)
{
	Grpc__UpdateInterfaceRequest *r = (Grpc__UpdateInterfaceRequest *)req;
	if (!r->interface || r->interface->n_ipaddresses > NET_MAX_ADDRS) {
		protobuf_c_message_free_unpacked(req, NULL);
		ttrpc_call_fail(call, GRPC_INVALID_ARGUMENT,
				"UpdateInterface: no interface, or more than %u addresses",
				NET_MAX_ADDRS);
		return;
	}
	fe_forward_message_to(fe, call, IPC_UPDATE_INTERFACE_REQ, req, IPC_UPDATE_INTERFACE_REPLY,
			      interface_reply);
}

void rpc_update_routes(struct frontend *fe, struct ttrpc_call *call, ProtobufCMessage *req)
{
	Grpc__UpdateRoutesRequest *r = (Grpc__UpdateRoutesRequest *)req;
	if (r->routes && r->routes->n_routes > NET_MAX_ROUTES) {
		protobuf_c_message_free_unpacked(req, NULL);
		ttrpc_call_fail(call, GRPC_INVALID_ARGUMENT, "UpdateRoutes: more than %u routes",
				NET_MAX_ROUTES);
		return;
	}
	fe_forward_message_to(fe, call, IPC_UPDATE_ROUTES_REQ, req, IPC_ROUTES_REPLY,
			      routes_reply);
}

void rpc_list_interfaces(struct frontend *fe, struct ttrpc_call *call, ProtobufCMessage *req)
{
	ask_list(fe, call, req, IPC_LIST_INTERFACES_REQ, IPC_LIST_INTERFACES_REPLY,
		 interfaces_reply);
}

void rpc_list_routes(struct frontend *fe, struct ttrpc_call *call, ProtobufCMessage *req)
{
	ask_list(fe, call, req, IPC_LIST_ROUTES_REQ, IPC_ROUTES_REPLY, routes_reply);
}

void rpc_add_arp_neighbors(struct frontend *fe, struct ttrpc_call *call, ProtobufCMessage *req)
{
	Grpc__AddARPNeighborsRequest *r = (Grpc__AddARPNeighborsRequest *)req;
	if (r->neighbors && r->neighbors->n_arpneighbors > NET_MAX_NEIGH) {
		protobuf_c_message_free_unpacked(req, NULL);
		ttrpc_call_fail(call, GRPC_INVALID_ARGUMENT,
				"AddARPNeighbors: more than %u neighbours", NET_MAX_NEIGH);
		return;
	}
	fe_forward_message(fe, call, IPC_ADD_ARP_NEIGHBORS_REQ, req);
}
