/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pbwire.h - what protobuf-c's decoder lets through that no encoder makes:
 * a field numbered 0, spelled as a longer varint ("80 00"). protobuf-c keeps
 * it as an unknown field and packs it again as "00", which its own decoder
 * (and Go's protobuf, and prost) refuses. The front-end forwards what it
 * decoded, so such a message would decode in the front-end and not in the
 * executor (found by fuzz_frontend): it is refused where it is first
 * decoded, as Go and Rust refuse it ("invalid field number").
 *
 * Offers: pbwire_check().
 */
#ifndef KATA_COMMON_PBWIRE_H
#define KATA_COMMON_PBWIRE_H

#include <protobuf-c/protobuf-c.h>

#include "err.h"

/* 0 when m and every message inside it hold no field numbered 0; else
 * -EBADMSG, err set (INVALID_ARGUMENT) naming the message type. */
int pbwire_check(const ProtobufCMessage *m, struct kerr *err);

#endif
