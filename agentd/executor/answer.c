/* SPDX-License-Identifier: Apache-2.0 */
/*
 * answer.c - the executor's answers to requests (answer.h).
 */
#include "answer.h"

#include <errno.h>
#include <stdlib.h>

#include "cleanup.h"
#include "grpc_status.h"
#include "log.h"

int answer_error(struct ipc_chan *c, uint32_t id, const struct kerr *e, struct kerr *err)
{
	return ipc_chan_send_error(c, id, e, GRPC_INTERNAL, err);
}

void answer_fe(struct executor *x, uint32_t gen, uint32_t type, uint32_t id, const void *p,
	       size_t len, int fd)
{
	if (!x->fe || x->fe_generation != gen) {
		log_debug("dropping %s for front-end generation %u", ipc_type_name(type), gen);
		return;
	}
	struct kerr e = { 0 };
	if (ipc_chan_send(x->fe, type, id, p, len, fd, &e) < 0)
		log_error("front-end channel: send %s: %s", ipc_type_name(type), e.msg);
}

void answer_fe_error(struct executor *x, uint32_t gen, uint32_t id, const struct kerr *e)
{
	if (!x->fe || x->fe_generation != gen)
		return;
	struct kerr e2 = { 0 };
	if (answer_error(x->fe, id, e, &e2) < 0)
		log_error("front-end channel: send ERROR: %s", e2.msg);
}

void answer_fe_ok(struct executor *x, uint32_t gen, uint32_t id)
{
	answer_fe(x, gen, IPC_OK, id, NULL, 0, -1);
}

int answer_fail(struct ipc_chan *c, uint32_t id, struct kerr *e, struct kerr *err)
{
	log_warn("%s", e->msg);
	return answer_error(c, id, e, err);
}

int answer_msg(struct ipc_chan *c, const struct ipc_msg *m, uint32_t type,
	       const ProtobufCMessage *msg, struct kerr *err)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	if (len > IPC_MAX_PAYLOAD) {
		struct kerr e = { 0 };
		kerr_set_status(&e, GRPC_RESOURCE_EXHAUSTED, -E2BIG, "%s of %zu bytes is too large",
				msg->descriptor->short_name, len);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	cleanup_free uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return kerr_set(err, -ENOMEM, "out of memory");
	protobuf_c_message_pack(msg, buf);
	return ipc_chan_send(c, type, m->hdr.id, buf, len, -1, err);
}
