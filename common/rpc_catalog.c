/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rpc_catalog.c - the method table, built once from the protobuf-c service
 * descriptors generated from protos/agent.proto and protos/health.proto.
 */
#include <string.h>

#include "rpc_catalog.h"

#include "agent.pb-c.h"
#include "health.pb-c.h"

static const ProtobufCServiceDescriptor *const services[] = {
	&grpc__agent_service__descriptor,
	&grpc__health__descriptor,
};

/* Room for growth; init() stops at the bound rather than overflow, and the
 * unit test checks the count against the protos. */
#define CATALOG_MAX 128

static struct rpc_method table[CATALOG_MAX];
static size_t table_len;
static int table_ready;

static void init(void)
{
	if (table_ready)
		return;
	for (size_t s = 0; s < sizeof(services) / sizeof(services[0]); s++) {
		const ProtobufCServiceDescriptor *sd = services[s];
		for (unsigned m = 0; m < sd->n_methods && table_len < CATALOG_MAX; m++) {
			table[table_len++] = (struct rpc_method){
				.service = sd->name,
				.method = sd->methods[m].name,
				.input = sd->methods[m].input,
				.output = sd->methods[m].output,
			};
		}
	}
	table_ready = 1;
}

const struct rpc_method *rpc_catalog_find(const char *service, const char *method)
{
	if (!service || !method)
		return NULL;
	init();
	for (size_t i = 0; i < table_len; i++)
		if (strcmp(table[i].service, service) == 0 && strcmp(table[i].method, method) == 0)
			return &table[i];
	return NULL;
}

size_t rpc_catalog_count(void)
{
	init();
	return table_len;
}

const struct rpc_method *rpc_catalog_at(size_t i)
{
	init();
	return i < table_len ? &table[i] : NULL;
}
