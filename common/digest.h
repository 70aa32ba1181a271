/* SPDX-License-Identifier: Apache-2.0 */
/*
 * digest.h - SHA-2 digests of a buffer (Nettle's sha2), for initdata's
 * digest (common/initdata.c) and the agent policy's sha256 in the log (the
 * parent's policy_source.c, the executor's handlers/policy.c).
 *
 * Built apart (kdigest, common/meson.build) so that only its users link
 * Nettle, statically: the three hashes are all the agent needs of a crypto
 * library, and a shared libcrypto cost the guest about 1.6 MiB of mapped
 * pages in the parent and the executor (doc/benchmarks.md, "Issue 14,
 * memory part").
 *
 * Offers: digest_of(), digest_sha256_hex().
 */
#ifndef KATA_COMMON_DIGEST_H
#define KATA_COMMON_DIGEST_H

#include <stddef.h>
#include <stdint.h>

/* The largest digest (sha512), in bytes. */
#define DIGEST_MAX 64

/* The digest of p[0..len) with algorithm "sha256", "sha384" or "sha512"
 * into out (DIGEST_MAX bytes): its length, or 0 for another algorithm. */
size_t digest_of(const char *algorithm, const void *p, size_t len, uint8_t out[DIGEST_MAX]);

/* The sha256 of p[0..len) as 64 lower-case hex digits and a NUL. */
void digest_sha256_hex(const void *p, size_t len, char hex[65]);

#endif
