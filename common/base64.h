/* SPDX-License-Identifier: Apache-2.0 */
/*
 * base64.h - base64 (RFC 4648), for protobuf's JSON mapping (pbjson.c) and
 * the test CDH's sealed-secret format (tests/cdh).
 *
 * Offers: base64_encode(), base64_decode().
 */
#ifndef KATA_COMMON_BASE64_H
#define KATA_COMMON_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Standard alphabet, padded; malloc'd, NUL-terminated; NULL when out of
 * memory. */
char *base64_encode(const uint8_t *in, size_t len);

/* Standard or URL-safe alphabet, padding optional. Returns 0 with *out
 * (malloc'd; NULL when the result is empty) and *out_len; the 1-based offset
 * of the first offending character; len + 1 for an impossible length; or
 * (size_t)-1 when out of memory. */
size_t base64_decode(const char *in, size_t len, uint8_t **out, size_t *out_len);

#endif
