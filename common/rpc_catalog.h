/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc_catalog.h - every ttRPC method the agent API declares
 * (grpc.AgentService, grpc.Health), with its request and response message
 * descriptors, taken from the generated protobuf-c service descriptors so
 * the list cannot drift from protos/.
 *
 * Used by the front-end (decode a request by name), the control tool
 * (JSON <-> protobuf for any method) and tests.
 */
#ifndef KATA_COMMON_RPC_CATALOG_H
#define KATA_COMMON_RPC_CATALOG_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

struct rpc_method {
	const char *service; /* "grpc.AgentService" */
	const char *method;  /* "CreateContainer" */
	const ProtobufCMessageDescriptor *input;
	const ProtobufCMessageDescriptor *output;
};

/* NULL when the service or method is not part of the API. */
const struct rpc_method *rpc_catalog_find(const char *service, const char *method);
size_t rpc_catalog_count(void);
const struct rpc_method *rpc_catalog_at(size_t i);

#endif
