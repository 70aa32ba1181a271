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

static void reply_as(struct ttrpc_call *call, const struct ipc_msg *reply,
		     const struct kerr *failure, const ProtobufCMessageDescriptor *d)
{
	if (!reply) {
		ttrpc_call_fail_err(call, failure);
		return;
	}
	ProtobufCMessage *msg = protobuf_c_message_unpack(d, NULL, reply->len, reply->payload);
	if (!msg) {
		log_error("the executor's %s of %zu bytes does not decode", d->short_name,
			  reply->len);
		ttrpc_call_fail(call, GRPC_INTERNAL, "the executor's %s (%zu bytes) does not decode",
				d->short_name, reply->len);
		return;
	}
	ttrpc_call_reply(call, msg);
	protobuf_c_message_free_unpacked(msg, NULL);
}

static void interface_reply(struct frontend *fe, struct ttrpc_call *call,
			    const struct ipc_msg *reply, const struct kerr *failure)
{
	reply_as(call, reply, failure, &types__interface__descriptor);
}

static void routes_reply(struct frontend *fe, struct ttrpc_call *call, const struct ipc_msg *reply,
			 const struct kerr *failure)
{
	reply_as(call, reply, failure, &grpc__routes__descriptor);
}

static void interfaces_reply(struct frontend *fe, struct ttrpc_call *call,
			     const struct ipc_msg *reply, const struct kerr *failure)
{
	reply_as(call, reply, failure, &grpc__interfaces__descriptor);
}

/* Re-encode req and send it; the answer goes through fn. Takes req. */
static void ask(struct frontend *fe, struct ttrpc_call *call, uint32_t type, ProtobufCMessage *req,
		uint32_t reply_type, exec_reply_fn fn)
{
	size_t len = req ? protobuf_c_message_get_packed_size(req) : 0;
	uint8_t *buf = NULL;
	struct kerr err = { 0 };
	if (len > IPC_MAX_PAYLOAD) {
		kerr_set_status(&err, GRPC_INVALID_ARGUMENT, -E2BIG, "%s of %zu bytes is too large",
				req->descriptor->short_name, len);
	} else if (req && !(buf = malloc(len ? len : 1))) {
		kerr_set_status(&err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	} else {
		if (req)
			protobuf_c_message_pack(req, buf);
		exec_request(fe, call, type, buf, len, reply_type, fn, &err);
	}
	free(buf);
	if (req)
		protobuf_c_message_free_unpacked(req, NULL);
	if (err.msg[0])
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
	ask(fe, call, IPC_NET_UPDATE_INTERFACE_REQ, req, IPC_NET_INTERFACE_REPLY, interface_reply);
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
	ask(fe, call, IPC_NET_UPDATE_ROUTES_REQ, req, IPC_NET_ROUTES_REPLY, routes_reply);
}

void rpc_list_interfaces(struct frontend *fe, struct ttrpc_call *call, ProtobufCMessage *req)
{
	protobuf_c_message_free_unpacked(req, NULL);
	ask(fe, call, IPC_NET_LIST_INTERFACES_REQ, NULL, IPC_NET_INTERFACES_REPLY,
	    interfaces_reply);
}

void rpc_list_routes(struct frontend *fe, struct ttrpc_call *call, ProtobufCMessage *req)
{
	protobuf_c_message_free_unpacked(req, NULL);
	ask(fe, call, IPC_NET_LIST_ROUTES_REQ, NULL, IPC_NET_ROUTES_REPLY, routes_reply);
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
	fe_forward_message(fe, call, IPC_NET_ADD_ARP_REQ, req);
}
