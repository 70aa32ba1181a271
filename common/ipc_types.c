/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ipc_types.c - the declaration (ipc_messages.def) as a table, and the
 * protobuf decode of the payloads it types (ipc.h).
 *
 * Built twice (common/meson.build): as is, for every process that decodes
 * protobuf, and with IPC_TYPES_NO_PROTOBUF for the monitor and the parent,
 * which decode none (every message they send or receive is a fixed struct or
 * bytes): their rows then name no descriptor and no RPC, so they link neither
 * the agent API's descriptors (~48 KiB of pointers a PIE relocates at every
 * start) nor libprotobuf-c, and the whole table is read-only data (shared
 * by every monitor; doc/benchmarks.md "Issue 14, memory part, round
 * 2"). Same rows, same numbers, bounds, fd rules and checks in both.
 *
 * The rows are dense (in the file's order) behind a byte index by number,
 * so that the table is a few pages, not IPC_TYPE_LIMIT rows.
 */
#include <errno.h>
#include <stddef.h>

#include "grpc_status.h"
#include "ipc.h"

#ifndef IPC_TYPES_NO_PROTOBUF
#include "agent.pb-c.h"
#include "pbwire.h"
#include "types.pb-c.h"
#endif

/* One row per declared message, in the file's order. */
enum ipc_row {
#define IPC_MSG(name, ...) ROW_##name,
#include "ipc_messages.def"
#undef IPC_MSG
	ROWS,
};
_Static_assert(ROWS < 255, "the row index is a byte");

#define PARENT IPC_ROLE_BIT(IPC_ROLE_PARENT)
#define FRONTEND IPC_ROLE_BIT(IPC_ROLE_FRONTEND)
#define EXECUTOR IPC_ROLE_BIT(IPC_ROLE_EXECUTOR)
#define MONITOR IPC_ROLE_BIT(IPC_ROLE_MONITOR)
#define LAUNCHER IPC_ROLE_BIT(IPC_ROLE_LAUNCHER)
#define SPAWNER IPC_ROLE_BIT(IPC_ROLE_SPAWNER)
#define POLICY IPC_ROLE_BIT(IPC_ROLE_POLICY)
#define TEST IPC_ROLE_BIT(IPC_ROLE_TEST)
#define NO_PAYLOAD .kind = IPC_PAYLOAD_NONE
#define FIXED(T)                                                                   \
	.kind = IPC_PAYLOAD_FIXED, .struct_name = #T, .min_len = sizeof(struct T), \
	.max_len = sizeof(struct T)
#define FIXED_TAIL(T, lo, hi)                                                                  \
	.kind = IPC_PAYLOAD_FIXED_TAIL, .struct_name = #T, .min_len = sizeof(struct T) + (lo), \
	.max_len = sizeof(struct T) + (hi)
#define BYTES(lo, hi) .kind = IPC_PAYLOAD_BYTES, .min_len = (lo), .max_len = (hi)
#ifdef IPC_TYPES_NO_PROTOBUF
#define PROTOBUF_MAX(d, hi) .kind = IPC_PAYLOAD_PROTOBUF, .min_len = 0, .max_len = (hi)
#define RPC(m) .internal = false
#define RPCS(a, b) .internal = false
#else
#define PROTOBUF_MAX(d, hi) .kind = IPC_PAYLOAD_PROTOBUF, .min_len = 0, .max_len = (hi)
#define RPC(m) .rpc_names = { #m }
#define RPCS(a, b) .rpc_names = { #a, #b }
#endif
#define PROTOBUF(d) PROTOBUF_MAX(d, IPC_MAX_PAYLOAD)
#define NO_FD IPC_FD_NONE
#define ONE_FD IPC_FD_REQUIRED
#define PROCESS_FDS IPC_FD_PROCESS
#define THREE_FDS IPC_FD_THREE
#define BIG true
#define INTERNAL .internal = true
#define NO_RPC .internal = false
#define CHECK(x) ipc_check_##x
#define NO_CHECK NULL

#define IPC_MSG(n, num, f, t, payload, fds, flags, rep, rpcs_, chk) \
	[ROW_##n] = { .type = num,                                  \
		      .name = #n,                                   \
		      .from = (f),                                  \
		      .to = (t),                                    \
		      payload,                                      \
		      .fd = fds,                                    \
		      .big = (flags),                               \
		      .reply = IPC_##rep,                           \
		      rpcs_ },
static const struct ipc_type_desc types[ROWS] = {
#include "ipc_messages.def"
};
#undef IPC_MSG

/* The checks and the descriptors apart: pointers, relocated at start, a
 * page or two; the rows above stay read-only data no process copies. */
#define IPC_MSG(n, num, f, t, payload, fds, flags, rep, rpcs_, chk) [ROW_##n] = chk,
static const ipc_check_fn checks[ROWS] = {
#include "ipc_messages.def"
};
#undef IPC_MSG

#ifndef IPC_TYPES_NO_PROTOBUF
#undef NO_PAYLOAD
#undef FIXED
#undef FIXED_TAIL
#undef BYTES
#undef PROTOBUF_MAX
#define NO_PAYLOAD NULL
#define FIXED(T) NULL
#define FIXED_TAIL(T, lo, hi) NULL
#define BYTES(lo, hi) NULL
#define PROTOBUF_MAX(d, hi) &d##__descriptor
#define IPC_MSG(n, num, f, t, payload, ...) [ROW_##n] = payload,
static const ProtobufCMessageDescriptor *const pbs[ROWS] = {
#include "ipc_messages.def"
};
#undef IPC_MSG
#endif

/* Row + 1 by number; 0: no such type. */
#define IPC_MSG(n, num, ...) [num] = ROW_##n + 1,
static const uint8_t row_of[IPC_TYPE_LIMIT] = {
#include "ipc_messages.def"
};
#undef IPC_MSG

/* What can be checked of a row at build time. */
#undef RPC
#undef RPCS
#undef INTERNAL
#undef NO_RPC
#define RPC(m) 1
#define RPCS(a, b) 1
#define INTERNAL 1
#define NO_RPC 0
#define IPC_MSG(n, num, f, t, payload, fds, flags, rep, rpcs_, chk)                        \
	_Static_assert((num) > 0 && (num) < IPC_TYPE_LIMIT, #n ": number out of range");   \
	_Static_assert(!((f)&FRONTEND) == !(rpcs_),                                        \
		       #n ": a front-end request names the RPCs it serves (or INTERNAL), " \
			  "nothing else does");                                            \
	_Static_assert((f) && (t), #n ": no sender or no receiver");                       \
	_Static_assert(sizeof(#n) <= IPC_TYPE_NAME_MAX, #n ": name too long");
#include "ipc_messages.def"
#undef IPC_MSG
#undef RPC
#undef RPCS
#undef INTERNAL
#undef NO_RPC
#define RPC(m) _Static_assert(sizeof(#m) <= IPC_RPC_NAME_MAX, #m ": method name too long");
#define RPCS(a, b) RPC(a) RPC(b)
#define INTERNAL
#define NO_RPC
#define IPC_MSG(n, num, f, t, payload, fds, flags, rep, rpcs_, chk) rpcs_
#include "ipc_messages.def"
#undef IPC_MSG

const struct ipc_type_desc *ipc_type_info(uint32_t type)
{
	return type < IPC_TYPE_LIMIT && row_of[type] ? &types[row_of[type] - 1] : NULL;
}

const struct ipc_type_desc *ipc_type_next(const struct ipc_type_desc *prev)
{
	for (uint32_t t = prev ? prev->type + 1 : 0; t < IPC_TYPE_LIMIT; t++)
		if (row_of[t])
			return &types[row_of[t] - 1];
	return NULL;
}

ipc_check_fn ipc_type_check(const struct ipc_type_desc *d)
{
	return checks[d - types];
}

const char *ipc_type_rpc(const struct ipc_type_desc *d, size_t i)
{
	return i < IPC_MAX_RPCS && d->rpc_names[i][0] ? d->rpc_names[i] : NULL;
}

#ifdef IPC_TYPES_NO_PROTOBUF

/* No row names a descriptor: nothing is ever decoded. */
const ProtobufCMessageDescriptor *ipc_type_pb(const struct ipc_type_desc *d)
{
	return NULL;
}

int ipc_msg_decode(struct ipc_msg *m, struct kerr *err)
{
	return 0;
}

void ipc_msg_free_decoded(void *in)
{
}

#else

const ProtobufCMessageDescriptor *ipc_type_pb(const struct ipc_type_desc *d)
{
	return pbs[d - types];
}

int ipc_msg_decode(struct ipc_msg *m, struct kerr *err)
{
	const struct ipc_type_desc *d = ipc_type_info(m->hdr.type);
	const ProtobufCMessageDescriptor *pb = d ? ipc_type_pb(d) : NULL;
	if (m->in_decoded || !pb)
		return 0;
	const char *what = ipc_type_rpc(d, 0) ? ipc_type_rpc(d, 0) : d->name;
	ProtobufCMessage *msg = protobuf_c_message_unpack(pb, NULL, m->len, m->payload);
	if (!msg)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "%s: the request is not a valid %s", what, pb->short_name);
	if (pbwire_check(msg, err) < 0) {
		protobuf_c_message_free_unpacked(msg, NULL);
		return kerr_prefix(err, "%s", what);
	}
	m->in = msg;
	m->in_decoded = true;
	return 0;
}

void ipc_msg_free_decoded(void *in)
{
	protobuf_c_message_free_unpacked(in, NULL);
}

#endif
