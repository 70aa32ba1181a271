/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ipc_pending.c - requests awaiting their replies (ipc_pending.h).
 */
#include "ipc_pending.h"

#include <errno.h>

void ipc_pending_add(struct ipc_pending_list *l, struct ipc_pending *p, uint32_t type, uint32_t id)
{
	p->next = NULL;
	p->id = id;
	p->type = type;
	if (!l->tail)
		l->tail = &l->head;
	*l->tail = p;
	l->tail = &p->next;
	l->n++;
}

static void unlink_at(struct ipc_pending_list *l, struct ipc_pending **pp)
{
	struct ipc_pending *p = *pp;
	*pp = p->next;
	if (l->tail == &p->next)
		l->tail = pp;
	l->n--;
	p->next = NULL;
}

struct ipc_pending *ipc_pending_match(struct ipc_pending_list *l, const struct ipc_msg *reply,
				      struct kerr *err)
{
	struct ipc_pending **pp = &l->head;
	while (*pp && (*pp)->id != reply->hdr.id)
		pp = &(*pp)->next;
	if (!*pp) {
		kerr_set(err, -EPROTO, "%s with id %u matches no request",
			 ipc_type_name(reply->hdr.type), reply->hdr.id);
		return NULL;
	}
	const struct ipc_type_desc *req = ipc_type_info((*pp)->type);
	uint32_t want = req ? req->reply : IPC_NONE;
	if (reply->hdr.type != want && reply->hdr.type != IPC_ERROR) {
		kerr_set(err, -EPROTO, "%s with id %u answers %s, which expects %s",
			 ipc_type_name(reply->hdr.type), reply->hdr.id, ipc_type_name((*pp)->type),
			 ipc_type_name(want));
		return NULL;
	}
	struct ipc_pending *p = *pp;
	unlink_at(l, pp);
	return p;
}

void ipc_pending_remove(struct ipc_pending_list *l, struct ipc_pending *p)
{
	for (struct ipc_pending **pp = &l->head; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			unlink_at(l, pp);
			return;
		}
}

struct ipc_pending *ipc_pending_pop(struct ipc_pending_list *l)
{
	struct ipc_pending *p = l->head;
	if (p)
		unlink_at(l, &l->head);
	return p;
}

bool ipc_pending_has(const struct ipc_pending_list *l, uint32_t type)
{
	for (const struct ipc_pending *p = l->head; p; p = p->next)
		if (p->type == type)
			return true;
	return false;
}
