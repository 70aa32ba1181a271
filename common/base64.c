/* SPDX-License-Identifier: Apache-2.0 */
/* base64.c - see base64.h. */
#include "base64.h"

#include <stdlib.h>

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *base64_encode(const uint8_t *in, size_t len)
{
	char *out = malloc(((len + 2) / 3) * 4 + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64_alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static int b64_value(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

size_t base64_decode(const char *in, size_t len, uint8_t **out, size_t *out_len)
{
	size_t n = len;
	while (n > 0 && in[n - 1] == '=' && len - n < 2)
		n--;
	for (size_t i = 0; i < n; i++)
		if (b64_value(in[i]) < 0)
			return i + 1;
	if (n % 4 == 1 || (n != len && len % 4 != 0))
		return len + 1;

	size_t cap = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	uint8_t *buf = malloc(cap ? cap : 1);
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (!buf)
		return (size_t)-1;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 6) | (uint32_t)b64_value(in[i]);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (o == 0) {
		free(buf);
		buf = NULL;
	}
	*out = buf;
	*out_len = o;
	return 0;
}
