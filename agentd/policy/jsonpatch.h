/* SPDX-License-Identifier: Apache-2.0 */
/*
 * jsonpatch.h - JSON patch (RFC 6902) on jansson values, for the `ops` a
 * policy result carries (upstream: the json_patch crate's `patch`, applied
 * by AgentPolicy::apply_patch_to_state to the engine's data).
 *
 * Offers: jsonpatch_apply().
 */
#ifndef KATA_POLICY_JSONPATCH_H
#define KATA_POLICY_JSONPATCH_H

#include <jansson.h>

#include "err.h"

/* Apply ops (an array of {op, path, value|from}) to *doc: all of them or
 * none (as the crate: a failing operation leaves *doc as it was). On
 * success *doc is replaced by the patched copy. Operations: add, remove,
 * replace, move, copy, test. -EINVAL with err for a malformed operation, a
 * path that does not resolve, or a failed test. */
int jsonpatch_apply(json_t **doc, const json_t *ops, struct kerr *err);

#endif
