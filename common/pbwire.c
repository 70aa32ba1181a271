/* SPDX-License-Identifier: Apache-2.0 */
/* pbwire.c - see pbwire.h. */
#include "pbwire.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "grpc_status.h"

size_t pbwire_varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

uint8_t *pbwire_varint_put(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

size_t pbwire_len_field(uint8_t *out, uint32_t field, size_t len)
{
	uint8_t *p = pbwire_varint_put(out,
				       (uint64_t)field << 3 | PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
	return (size_t)(pbwire_varint_put(p, len) - out);
}

size_t pbwire_bytes_field(uint8_t *out, uint32_t field, size_t len)
{
	return len ? pbwire_len_field(out, field, len) : 0;
}

size_t pbwire_bytes_field_size(uint32_t field, size_t len)
{
	if (!len)
		return 0;
	return pbwire_varint_len((uint64_t)field << 3 | PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED) +
	       pbwire_varint_len(len) + len;
}

/* Our protos nest a few levels (oci.Spec is the deepest); a message nested
 * deeper than this was not made by any of them. */
#define PBWIRE_MAX_DEPTH 64

static bool field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
		return true;
	const uint32_t *which = (const uint32_t *)((const char *)m + f->quantifier_offset);
	return *which == f->id;
}

static const ProtobufCMessageDescriptor *bad_in(const ProtobufCMessage *m, unsigned depth)
{
	if (!m)
		return NULL;
	if (depth > PBWIRE_MAX_DEPTH)
		return m->descriptor;
	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return m->descriptor;
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE || !field_present(m, f))
			continue;
		const char *at = (const char *)m + f->offset;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
			ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)at;
			for (size_t k = 0; k < n; k++) {
				const ProtobufCMessageDescriptor *b = bad_in(v[k], depth + 1);
				if (b)
					return b;
			}
		} else {
			const ProtobufCMessageDescriptor *b = bad_in(*(ProtobufCMessage *const *)at,
								     depth + 1);
			if (b)
				return b;
		}
	}
	return NULL;
}

int pbwire_check(const ProtobufCMessage *m, struct kerr *err)
{
	const ProtobufCMessageDescriptor *b = bad_in(m, 0);
	if (!b)
		return 0;
	return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EBADMSG,
			       "%s: a field numbered 0 (invalid protobuf)", b->short_name);
}
