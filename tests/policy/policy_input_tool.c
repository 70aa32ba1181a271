/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy-input REQUEST_NAME < request.json: decode an AgentService request
 * from JSON (proto3 JSON or .proto field names, common/pbjson.c) as the
 * front-end decodes it from the wire, and print the policy input
 * agentd/policy/policy_input.c makes of it.  tests/policy/genpolicy-check
 * feeds its requests through this, so upstream's rules.rego sees what our
 * agent will give it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.pb-c.h"
#include "pbjson.h"
#include "policy_input.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: policy-input REQUEST_NAME < request.json\n");
		return 2;
	}
	const ProtobufCMessageDescriptor *d = NULL;
	const ProtobufCServiceDescriptor *s = &grpc__agent_service__descriptor;
	for (unsigned i = 0; i < s->n_methods && !d; i++)
		if (!strcmp(s->methods[i].input->short_name, argv[1]))
			d = s->methods[i].input;
	if (!d) {
		fprintf(stderr, "policy-input: no AgentService request %s\n", argv[1]);
		return 2;
	}
	json_error_t je;
	json_t *j = json_loadf(stdin, 0, &je);
	struct kerr err;
	ProtobufCMessage *m = NULL;
	if (!j || pbjson_from_json(d, j, &m, &err) < 0) {
		fprintf(stderr, "policy-input: %s\n", j ? err.msg : je.text);
		return 1;
	}
	json_t *in = policy_input(m, &err);
	if (!in) {
		fprintf(stderr, "policy-input: %s\n", err.msg);
		return 1;
	}
	char *out = json_dumps(in, JSON_COMPACT);
	puts(out);
	free(out);
	json_decref(in);
	json_decref(j);
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}
