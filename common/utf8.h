/* SPDX-License-Identifier: Apache-2.0 */
/*
 * utf8.h - UTF-8 checks for text that leaves the agent where UTF-8 is
 * required: proto3 strings (a gRPC status message: the Go client refuses to
 * decode a response whose strings are not UTF-8) and JSON (log lines, the
 * announce line). Text that quotes bytes from the host or a container, or
 * that a bounded format cut in the middle of a character, may not be.
 *
 * Offers: utf8_seq_len(), utf8_valid(), utf8_scrub(), utf8_lossy().
 */
#ifndef KATA_COMMON_UTF8_H
#define KATA_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF included). */
size_t utf8_seq_len(const unsigned char *s, size_t n);
bool utf8_valid(const char *s, size_t n);
/* Replace, in place, every byte of s (NUL-terminated) that does not belong
 * to a valid sequence with '?'. */
void utf8_scrub(char *s);

/* The room utf8_lossy needs for n bytes: each may become U+FFFD (3 bytes),
 * plus the NUL. */
#define UTF8_LOSSY_SIZE(n) (3 * (size_t)(n) + 1)
/* in[0..n) as valid UTF-8 in out (NUL-terminated; out_size at least
 * UTF8_LOSSY_SIZE(n)), as Rust's String::from_utf8_lossy makes it: valid
 * sequences are copied, each maximal invalid subpart (a lead byte and the
 * continuation bytes that could still follow it; a lone byte otherwise)
 * becomes one U+FFFD. A NUL byte is valid UTF-8 and is copied. Returns the
 * length written (without the NUL), or 0 with out "" when out_size is too
 * small. */
size_t utf8_lossy(const void *in, size_t n, char *out, size_t out_size);

#endif
