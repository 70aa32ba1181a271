/* SPDX-License-Identifier: Apache-2.0 */
/*
 * answer.h - the executor's answers to a request (answer.c): an ERROR
 * (answer_error, answer_fail: logged too), a packed protobuf reply
 * (answer_msg), and answers to a front-end generation that may have gone
 * away meanwhile (answer_fe, answer_fe_error, answer_fe_ok: dropped then).
 */
#ifndef KATA_EXECUTOR_ANSWER_H
#define KATA_EXECUTOR_ANSWER_H

#include "executor.h"

int answer_error(struct ipc_chan *c, uint32_t id, const struct kerr *e, struct kerr *err);
/* Reply to the front-end generation gen if it is still the current one;
 * a reply for a front-end that went away is dropped. */
void answer_fe(struct executor *x, uint32_t gen, uint32_t type, uint32_t id, const void *p,
	       size_t len, int fd);
void answer_fe_error(struct executor *x, uint32_t gen, uint32_t id, const struct kerr *e);
void answer_fe_ok(struct executor *x, uint32_t gen, uint32_t id);
/* Answer request id with e (logged as a warning). */
int answer_fail(struct ipc_chan *c, uint32_t id, struct kerr *e, struct kerr *err);
/* Answer m with msg packed as a message of type (RESOURCE_EXHAUSTED if it
 * does not fit an IPC payload). */
int answer_msg(struct ipc_chan *c, const struct ipc_msg *m, uint32_t type,
	       const ProtobufCMessage *msg, struct kerr *err);

#endif
