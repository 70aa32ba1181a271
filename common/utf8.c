/* SPDX-License-Identifier: Apache-2.0 */
/*
 * utf8.c - see utf8.h.
 */
#include <string.h>

#include "utf8.h"

/* The continuation bytes a sequence led by c needs, and the range of the
 * first of them (the others are 80..BF): Unicode's table 3-7 of well-formed
 * sequences, which leaves out overlong forms, surrogates and code points
 * above U+10FFFF. 0 for a byte that leads nothing. */
static size_t lead_need(unsigned char c, unsigned char *lo, unsigned char *hi)
{
	*lo = 0x80, *hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf)
		return 1;
	if (c >= 0xe0 && c <= 0xef) {
		if (c == 0xe0)
			*lo = 0xa0;
		else if (c == 0xed)
			*hi = 0x9f;
		return 2;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (c == 0xf0)
			*lo = 0x90;
		else if (c == 0xf4)
			*hi = 0x8f;
		return 3;
	}
	return 0;
}

/* How many bytes at s (n > 0 of them) form a valid sequence (*valid) or
 * the maximal invalid subpart to replace (!*valid). */
static size_t lossy_step(const unsigned char *s, size_t n, bool *valid)
{
	if (s[0] < 0x80) {
		*valid = true;
		return 1;
	}
	unsigned char lo, hi;
	size_t need = lead_need(s[0], &lo, &hi), k = 1;
	while (k <= need && k < n && s[k] >= lo && s[k] <= hi) {
		k++;
		lo = 0x80, hi = 0xbf;
	}
	*valid = need && k == need + 1;
	return k;
}

/* One table of well-formed sequences for both readers: a sequence is
 * valid exactly when lossy_step says so. */
size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	bool valid;
	size_t k = lossy_step(s, n, &valid);
	return valid ? k : 0;
}

bool utf8_valid(const char *s, size_t n)
{
	for (size_t i = 0, l; i < n; i += l)
		if (!(l = utf8_seq_len((const unsigned char *)s + i, n - i)))
			return false;
	return true;
}

void utf8_scrub(char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0, l; i < n; i += l)
		if (!(l = utf8_seq_len((unsigned char *)s + i, n - i))) {
			s[i] = '?';
			l = 1;
		}
}

size_t utf8_lossy(const void *in, size_t n, char *out, size_t out_size)
{
	static const char fffd[] = "\xef\xbf\xbd";
	const unsigned char *s = in;
	if (out_size < UTF8_LOSSY_SIZE(n)) {
		if (out_size)
			out[0] = '\0';
		return 0;
	}
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		bool valid;
		size_t k = lossy_step(s + i, n - i, &valid);
		if (valid) {
			memcpy(out + o, s + i, k);
			o += k;
		} else {
			memcpy(out + o, fffd, 3);
			o += 3;
		}
		i += k;
	}
	out[o] = '\0';
	return o;
}
