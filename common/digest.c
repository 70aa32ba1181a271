/* SPDX-License-Identifier: Apache-2.0 */
/* digest.c - see digest.h. */
#include "digest.h"

#include <nettle/nettle-meta.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <string.h>

/* Nettle names them as initdata's algorithm field does. */
static const struct nettle_hash *const algorithms[] = { &nettle_sha256, &nettle_sha384,
							&nettle_sha512 };

size_t digest_of(const char *algorithm, const void *p, size_t len, uint8_t out[DIGEST_MAX])
{
	for (size_t i = 0; i < sizeof(algorithms) / sizeof(algorithms[0]); i++) {
		const struct nettle_hash *h = algorithms[i];
		if (strcmp(algorithm, h->name) != 0)
			continue;
		/* the largest of the three contexts (sha384's is sha512's) */
		struct sha512_ctx ctx;
		h->init(&ctx);
		h->update(&ctx, len, p);
		h->digest(&ctx, h->digest_size, out);
		return h->digest_size;
	}
	return 0;
}

void digest_sha256_hex(const void *p, size_t len, char hex[65])
{
	struct sha256_ctx ctx;
	uint8_t md[SHA256_DIGEST_SIZE];
	sha256_init(&ctx);
	sha256_update(&ctx, len, p);
	sha256_digest(&ctx, sizeof(md), md);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}
