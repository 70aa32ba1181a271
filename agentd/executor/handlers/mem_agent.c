/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mem_agent.c - the mem-agent's requests, executor side (mem_agent.h).
 */
#include "mem_agent.h"

#include <errno.h>

#include "memagent.h"
#include "answer.h"
#include "grpc_status.h"
#include "log.h"

void memagent_boot(struct executor *x)
{
	if (!x->o.mem_agent.enable)
		return;
	struct memagent_env env = { .root = "", .cgroup_v2 = -1 };
	struct kerr e = { 0 };
	if (memagent_start(&x->ma, x->loop, &x->o.mem_agent, &env, &e) < 0)
		log_error("mem-agent not started: %s", e.msg);
}

static int set(struct ipc_chan *c, struct ipc_msg *m, struct executor *x, struct kerr *err)
{
	struct kerr e = { 0 };
	if (!x->ma) {
		kerr_set_status(&e, GRPC_INTERNAL, -ENOTSUP, "mem-agent is disabled");
		return answer_fail(c, m->hdr.id, &e, err);
	}
	if (memagent_set(x->ma, m->in, &e) < 0)
		return answer_fail(c, m->hdr.id, &e, err);
	log_info("%s applied", ipc_type_name(m->hdr.type));
	return ipc_chan_send(c, IPC_OK, m->hdr.id, NULL, 0, -1, err);
}

int on_mem_agent_memcg_set(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	return set(c, m, data, err);
}

int on_mem_agent_compact_set(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	return set(c, m, data, err);
}

bool memagent_child_reaped(struct executor *x, pid_t pid, int status)
{
	return memagent_reaped(x->ma, pid, status);
}

void memagent_shutdown(struct executor *x)
{
	memagent_free(x->ma);
	x->ma = NULL;
}
