/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pbwire.h - the protobuf wire format where protobuf-c does not fit.
 *
 * Encoding: the key and length that precede a length-delimited field, so a
 * message whose bytes live elsewhere (a stdio read's data) is sent as a
 * small prefix and the caller's bytes, byte for byte what protobuf-c packs
 * (tests/unit/test_pbwire.c compares both).
 *
 * Checking: what protobuf-c's decoder lets through that no encoder makes:
 * a field numbered 0, spelled as a longer varint ("80 00"). protobuf-c keeps
 * it as an unknown field and packs it again as "00", which its own decoder
 * (and Go's protobuf, and prost) refuses. The front-end forwards what it
 * decoded, so such a message would decode in the front-end and not in the
 * executor (found by fuzz_frontend): it is refused where it is first
 * decoded, as Go and Rust refuse it ("invalid field number").
 *
 * Offers: pbwire_varint_len(), pbwire_varint_put(), pbwire_len_field(),
 * pbwire_bytes_field(), pbwire_bytes_field_size(), pbwire_check().
 */
#ifndef KATA_COMMON_PBWIRE_H
#define KATA_COMMON_PBWIRE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "err.h"

/* The most bytes pbwire_len_field writes: a key of a field number below
 * 2^29 (5 bytes) and a 64-bit length (10). */
#define PBWIRE_LEN_PREFIX_MAX 15

/* Bytes of v as a varint (1 to 10). */
size_t pbwire_varint_len(uint64_t v);
/* Write v as a varint at p; returns the byte after it. */
uint8_t *pbwire_varint_put(uint8_t *p, uint64_t v);
/* Write the key (field, wire type 2) and len of a length-delimited field
 * present on the wire (an embedded message, even an empty one, or a
 * non-empty bytes/string) at out (PBWIRE_LEN_PREFIX_MAX bytes of room);
 * returns how many bytes it wrote. */
size_t pbwire_len_field(uint8_t *out, uint32_t field, size_t len);
/* The same for a proto3 bytes/string field, which is not packed at all
 * when empty: 0 bytes then. */
size_t pbwire_bytes_field(uint8_t *out, uint32_t field, size_t len);
/* The bytes such a field takes on the wire, its len bytes included (0 when
 * empty): what pbwire_bytes_field writes, plus len. */
size_t pbwire_bytes_field_size(uint32_t field, size_t len);

/* 0 when m and every message inside it hold no field numbered 0; else
 * -EBADMSG, err set (INVALID_ARGUMENT) naming the message type. */
int pbwire_check(const ProtobufCMessage *m, struct kerr *err);

#endif
