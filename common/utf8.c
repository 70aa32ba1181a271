/* SPDX-License-Identifier: Apache-2.0 */
/*
 * utf8.c - see utf8.h.
 */
#include <string.h>

#include "utf8.h"

size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned int min, cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, cp = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
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
