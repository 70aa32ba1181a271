/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cdh-call.c - one CDH call through common/cdh_client.c, for tests (never
 * installed): the VM suite asks the CDH the agent launched whether it
 * serves on its fixed socket with the configuration initdata gave it.
 *
 *   cdh-call [--addr unix://PATH] get-resource kbs:///PATH
 *   cdh-call [--addr unix://PATH] unseal SECRET
 *
 * Prints the answer on stdout (exit 0), or the error with its gRPC status
 * on stderr (exit 1). Default address: the CDH's, CDH_SOCKET_ADDR.
 */
#include <stdio.h>
#include <string.h>

#include "cdh_client.h"
#include "cleanup.h"
#include "grpc_status.h"

#define TIMEOUT_MS 10000

static int usage(void)
{
	fprintf(stderr, "usage: cdh-call [--addr unix://PATH] get-resource URI | unseal SECRET\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *addr = CDH_SOCKET_ADDR;
	int i = 1;
	if (i + 1 < argc && strcmp(argv[i], "--addr") == 0) {
		addr = argv[i + 1];
		i += 2;
	}
	if (argc - i != 2)
		return usage();
	struct kerr err = { 0 };
	struct cdh_client *c = NULL;
	if (cdh_client_new_at(&c, addr, TIMEOUT_MS, TIMEOUT_MS, &err) < 0) {
		fprintf(stderr, "cdh-call: %s\n", err.msg);
		return 1;
	}
	cleanup_free uint8_t *out = NULL;
	size_t len = 0;
	int r;
	if (strcmp(argv[i], "get-resource") == 0)
		r = cdh_get_resource(c, argv[i + 1], &out, &len, &err);
	else if (strcmp(argv[i], "unseal") == 0)
		r = cdh_unseal_secret(c, (const uint8_t *)argv[i + 1], strlen(argv[i + 1]), &out,
				      &len, &err);
	else
		r = -1, err.msg[0] = '\0';
	cdh_client_free(c);
	if (r < 0 && !err.msg[0])
		return usage();
	if (r < 0) {
		fprintf(stderr, "cdh-call: %s (%s)\n", err.msg,
			grpc_status_name(kerr_status(&err)));
		return 1;
	}
	if (len && fwrite(out, 1, len, stdout) != len)
		return 1;
	return 0;
}
