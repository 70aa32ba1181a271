/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pbjson.h - any protobuf-c message <-> JSON (jansson), driven only by the
 * message descriptors, following the proto3 JSON mapping:
 *
 *   - keys: the field's JSON name on output (protoc's json_name: underscores
 *     removed, next letter upper-cased; "container_id" -> "containerId",
 *     "OCI" stays "OCI"); input accepts the JSON name or the .proto name;
 *   - int64/uint64 (and fixed/sfixed/sint variants) as decimal strings on
 *     output, number or string on input; 32-bit integers as numbers (a
 *     decimal string is accepted on input);
 *   - bytes as base64 (standard alphabet, padded) on output; standard or
 *     URL-safe, padded or not, on input;
 *   - enums by value name on output (the number when it has no name); name or
 *     number on input;
 *   - map<K,V> (protobuf-c: repeated *Entry messages) as JSON objects;
 *   - a set oneof member is written even when it holds its zero value;
 *   - proto3 fields with their default value are omitted on output; JSON
 *     null on input means "default".
 *
 * Input is strict: an unknown key, a value of the wrong JSON type, an out of
 * range number, bad base64, an unknown enum name, a field given twice (under
 * both of its names) or two members of one oneof are errors naming the field
 * path and the message type.
 *
 * Messages built by pbjson_from_json are allocated with malloc in the layout
 * protobuf-c expects: release them with
 * protobuf_c_message_free_unpacked(msg, NULL).
 */
#ifndef KATA_COMMON_PBJSON_H
#define KATA_COMMON_PBJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <protobuf-c/protobuf-c.h>

#include "err.h"

/* Build a message of type d from the JSON object j into *out.
 * Errors: -EINVAL (status INVALID_ARGUMENT) with a message naming the field
 * path, the message type and what is wrong; -ENOMEM. */
int pbjson_from_json(const ProtobufCMessageDescriptor *d, json_t *j, ProtobufCMessage **out,
		     struct kerr *err);

/* Same from JSON text (NUL-terminated); a syntax error names line and column. */
int pbjson_from_string(const ProtobufCMessageDescriptor *d, const char *text,
		       ProtobufCMessage **out, struct kerr *err);

/* New JSON object for m (caller owns the reference), or NULL with err set:
 * -EILSEQ when a string field is not valid UTF-8 (JSON cannot carry it),
 * -ENOMEM. */
json_t *pbjson_to_json(const ProtobufCMessage *m, struct kerr *err);

/* Whether f (a field of parent) is a map<K,V>: protobuf-c has no map type,
 * it is a repeated nested "<Name>Entry" message holding key=1, value=2. */
bool pbjson_is_map_field(const ProtobufCMessageDescriptor *parent,
			 const ProtobufCFieldDescriptor *f);

/* The size of one element of a repeated field of type t in protobuf-c's
 * layout. */
size_t pbjson_elem_size(ProtobufCType t);

/* The JSON name of a field (see above), written into buf. */
const char *pbjson_field_json_name(const ProtobufCFieldDescriptor *f, char *buf, size_t size);

#endif
