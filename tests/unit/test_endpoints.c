/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_endpoints - the [endpoints] gate below the front-end
 * (common/endpoints.c) knows every request type the executor and the
 * monitors take: a request type missing from its table is refused as
 * "serves no known endpoint", so a new RPC forgotten there would be
 * blocked for every host.
 */
#include <string.h>

#include "endpoints.h"
#include "ipc.h"
#include "tap.h"

TEST(every_request_type_serves_an_endpoint)
{
	unsigned seen = 0;
	for (uint32_t t = 1; t < 4096; t++) {
		const struct ipc_type_desc *d = ipc_type_info(t);
		if (!d)
			continue;
		size_t n = strlen(d->name);
		bool req = (n > 4 && !strcmp(d->name + n - 4, "_REQ")) || !strcmp(d->name, "STDIO_ACK");
		if (!req)
			continue;
		seen++;
		if (!ipc_endpoint_find(t)) {
			printf("# %s (type %u) is in no endpoint's row\n", d->name, t);
			*tap_failed = 1;
		}
	}
	CHECK(seen > 30);
}

int main(void)
{
	return tap_run();
}
