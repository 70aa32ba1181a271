/* SPDX-License-Identifier: Apache-2.0 */
/*
 * whole_strings.c - string fields shown whole: protobuf-c keeps a string
 * as a C string, so one that holds a NUL byte (a termination log, a
 * container's output a test echoes back) reaches pbjson cut at the NUL.
 * The answer's wire bytes still have it whole: each singular string field
 * is read from them again and set into the JSON, in full (a NUL is the
 * JSON escape \u0000), recursively through singular message fields. A
 * repeated or map field is left as pbjson made it.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "ctl.h"

static bool wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (unsigned s = 0; s < 64 && *p < end; s += 7) {
		uint8_t b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << s;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

/* Past a value of wire type wt (no groups: proto3 has none). */
static bool wire_skip(const uint8_t **p, const uint8_t *end, unsigned wt)
{
	uint64_t v;
	size_t n = wt == 1 ? 8 : 4;
	switch (wt) {
	case 0:
		return wire_varint(p, end, &v);
	case 2:
		if (!wire_varint(p, end, &v) || v > (uint64_t)(end - *p))
			return false;
		*p += v;
		return true;
	case 1:
	case 5:
		if ((size_t)(end - *p) < n)
			return false;
		*p += n;
		return true;
	default:
		return false;
	}
}

/* One occurrence of string field f (as decoders do, the last one counts):
 * set whole, or dropped when empty and not a oneof member (pbjson omits
 * the default). A oneof member pbjson did not write lost to a later one. */
static int set_string(json_t *j, const ProtobufCFieldDescriptor *f, const char *key,
		      const uint8_t *v, size_t n, struct kerr *err)
{
	bool oneof = f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF;
	if (oneof && !json_object_get(j, key))
		return 0;
	if (n == 0 && !oneof) {
		json_object_del(j, key);
		return 0;
	}
	json_t *s = json_stringn((const char *)v, n);
	if (!s)
		return kerr_set(err, -EILSEQ, "%s: string is not valid UTF-8, JSON cannot carry it",
				key);
	return json_object_set_new(j, key, s) < 0 ? kerr_set(err, -ENOMEM, "out of memory") : 0;
}

int ctl_whole_strings(json_t *j, const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len,
		      struct kerr *err)
{
	const uint8_t *end = p + len;
	while (p < end) {
		uint64_t k, n;
		if (!wire_varint(&p, end, &k))
			return kerr_set(err, -EBADMSG, "%s: a bad field key", d->name);
		unsigned wt = k & 7;
		const ProtobufCFieldDescriptor
			*f = k >> 3 > UINT32_MAX
				     ? NULL
				     : protobuf_c_message_descriptor_get_field(d,
									       (unsigned)(k >> 3));
		if (wt != 2 || !f || f->label == PROTOBUF_C_LABEL_REPEATED ||
		    (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)) {
			if (!wire_skip(&p, end, wt))
				return kerr_set(err, -EBADMSG, "%s: a field runs past the end",
						d->name);
			continue;
		}
		if (!wire_varint(&p, end, &n) || n > (uint64_t)(end - p))
			return kerr_set(err, -EBADMSG, "%s: a field runs past the end", d->name);
		const uint8_t *v = p;
		p += n;
		char key[256];
		pbjson_field_json_name(f, key, sizeof(key));
		int r = 0;
		if (f->type == PROTOBUF_C_TYPE_STRING)
			r = set_string(j, f, key, v, n, err);
		else if (json_is_object(json_object_get(j, key)))
			r = ctl_whole_strings(json_object_get(j, key), f->descriptor, v, n, err);
		if (r < 0)
			return r;
	}
	return 0;
}
