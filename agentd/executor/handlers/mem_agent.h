/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mem_agent.h - MemAgentMemcgSet and MemAgentCompactSet, the executor's side
 * (mem_agent.c): the request's fields checked again (the front-end may be
 * compromised), then applied to the running mem-agent
 * (agentd/executor/memagent/). Upstream rpc.rs mem_agent_memcg_set,
 * mem_agent_compact_set: INTERNAL "mem-agent is disabled" when
 * agent.mem_agent_enable was not set; the policy has been asked before
 * (policy.h), as upstream's is_allowed comes first.
 *
 * Offers: on_mem_agent_memcg_set(), on_mem_agent_compact_set(),
 * memagent_boot() (main.c, at start), and memagent_child_reaped() (SIGCHLD).
 */
#ifndef KATA_EXECUTOR_MEM_AGENT_H
#define KATA_EXECUTOR_MEM_AGENT_H

#include <stdbool.h>
#include <sys/types.h>

#include "executor.h"

int on_mem_agent_memcg_set(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_mem_agent_compact_set(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);

/* Start the mem-agent when x->o.mem_agent.enable (never fails the start:
 * what the kernel lacks is logged and left off). */
void memagent_boot(struct executor *x);
bool memagent_child_reaped(struct executor *x, pid_t pid, int status);
void memagent_shutdown(struct executor *x);

#endif
