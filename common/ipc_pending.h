/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ipc_pending.h - requests sent on a channel and not answered yet: the one
 * registry that matches a reply to its request, for every requester that
 * keeps several in flight (the front-end towards the executor and towards
 * each monitor, the executor towards each launcher and monitor).
 *
 * A requester embeds struct ipc_pending in what it keeps per request, adds
 * it with the id it sent, and hands every reply to ipc_pending_match: a
 * reply must carry the id of a pending request and be of the type the
 * declaration (ipc_messages.def) gives that request's reply, or ERROR
 * (read with ipc_error_decode); anything else is a protocol violation and
 * the requester closes the channel. When the channel dies the requester
 * takes what is left, oldest first (ipc_pending_pop), and fails it with
 * its own words. What each requester keeps beside the entry (a ttRPC call,
 * a stdio reader, the front-end request an executor request serves) stays
 * its own: the three differ there, not in the matching.
 *
 * The blocking requesters (the launcher asking its monitor, the executor
 * asking its spawner) have one request at a time and need no registry.
 */
#ifndef KATA_COMMON_IPC_PENDING_H
#define KATA_COMMON_IPC_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ipc.h"

struct ipc_pending {
	struct ipc_pending *next;
	uint32_t id;   /* as sent */
	uint32_t type; /* the request's type */
};

/* Oldest first; all zeros is an empty list. Not to be moved once used. */
struct ipc_pending_list {
	struct ipc_pending *head, **tail;
	size_t n;
};
/* The struct an entry is embedded in, as member. */
#define ipc_pending_entry(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

/* Remember p, a request of type (a request in the declaration) sent as id. */
void ipc_pending_add(struct ipc_pending_list *l, struct ipc_pending *p, uint32_t type, uint32_t id);
/* The request reply answers, taken off the list; NULL with -EPROTO in err
 * when it answers none, or is neither ERROR nor the request's reply type. */
struct ipc_pending *ipc_pending_match(struct ipc_pending_list *l, const struct ipc_msg *reply,
				      struct kerr *err);
/* Take p off the list (a request that could not be sent). */
void ipc_pending_remove(struct ipc_pending_list *l, struct ipc_pending *p);
/* The oldest request, taken off the list; NULL when none is left. */
struct ipc_pending *ipc_pending_pop(struct ipc_pending_list *l);
/* Whether a request of type waits. */
bool ipc_pending_has(const struct ipc_pending_list *l, uint32_t type);

#endif
