/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_input.h - a decoded agent request as the JSON upstream's agent feeds
 * its policy (the `input` of data.agent_policy.<Request>).
 *
 * Upstream serializes the request with serde_json (src/agent/src/policy.rs
 * is_allowed / is_allowed_with_entrypoint), i.e. the rust-protobuf structs
 * generated from the same .proto files with serde derives
 * (src/libs/protocols/build.rs GenSerde, src/libs/protocols/src/serde_config.rs):
 *   - every field present, under its .proto name (Rust keywords escaped:
 *     `type` -> `type_`); special fields (unknown fields, cached size) left out;
 *   - numbers as JSON numbers, 64-bit ones included; bool; string;
 *   - bytes as an array of numbers (Vec<u8>);
 *   - repeated as arrays, maps as objects;
 *   - an unset singular message as null (serialize_message_field);
 *   - an enum as its number (serialize_enum_or_unknown);
 *   - proto3 `optional` (a synthetic oneof here, see agent.proto) as null or
 *     the value (Option<T>); a real oneof as null or {"member": value} under
 *     the oneof's name (serde's externally tagged enum).
 * CopyFileRequest is first translated as upstream's rpc.rs copy_file does
 * (src/agent/policy/src/policy.rs PolicyCopyFileRequest::try_from): path,
 * file_type from the mode's S_IFMT, symlink_target from the data of a
 * symlink, the numeric fields, and never the data itself.
 *
 * Offers: policy_input(), policy_input_endpoint().
 */
#ifndef KATA_POLICY_INPUT_H
#define KATA_POLICY_INPUT_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "err.h"

/* New JSON object for req (caller owns the reference), or NULL with err set:
 * -EILSEQ (INVALID_ARGUMENT) for a string, or a symlink target, that is not
 * UTF-8 (Rust's String cannot hold it: upstream rejects such a request);
 * -E2BIG (RESOURCE_EXHAUSTED) for a bytes field above POLICY_INPUT_BYTES_MAX
 * (upstream has no bound; its JSON array of numbers costs ~40 bytes of
 * memory per byte here); -ENOMEM. */
#define POLICY_INPUT_BYTES_MAX (256u << 10)
json_t *policy_input(const ProtobufCMessage *req, struct kerr *err);

/* The policy entry point of req: its message name ("CreateContainerRequest"),
 * as upstream's req.descriptor_dyn().name(). */
const char *policy_input_endpoint(const ProtobufCMessage *req);

#endif
