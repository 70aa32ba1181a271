/* SPDX-License-Identifier: Apache-2.0 */
/*
 * memagent.h - the mem-agent: upstream's mem-agent crate (memory cgroup
 * reclaim through MGLRU, memory compaction, both gated by PSI) as timers on
 * the executor's loop. Started at boot when agent.mem_agent_enable is set
 * (--mem-agent), reconfigured by MemAgentMemcgSet / MemAgentCompactSet
 * (handlers/memagent.c).
 *
 * Probed at start, never assumed (what is missing disables that part, with
 * one log line saying why; the other part runs):
 *   memcg    /sys/kernel/mm/lru_gen/enabled (set to 7, all of MGLRU, as
 *            upstream), /sys/kernel/debug/lru_gen (debugfs) open for
 *            writing, memory.pressure and io.pressure in the memory cgroup
 *            root (cgroup v2 /sys/fs/cgroup; v1 /sys/fs/cgroup/memory)
 *   compact  /proc/sys/vm/compact_memory, /proc/pressure/{memory,io},
 *            /proc/meminfo, /proc/pagetypeinfo
 *
 * What it writes, and only there (fixed paths below env->root; nothing of
 * a request names a path): "7" to lru_gen/enabled; "+ ID NODE SEQ SWAP 1"
 * and "- ID NODE SEQ SWAPPINESS 1" to debugfs lru_gen, IDs and sequence
 * numbers read from lru_gen itself for memcgs whose path the walk of the
 * cgroup fs found (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS from the
 * cgroup root, names with control characters skipped); "1" to
 * compact_memory, from a child (below).
 *
 * Never long on the loop: compaction (a write that lasts as long as the
 * kernel compacts) runs in a forked child that only does that write; it is
 * killed (SIGKILL stops the kernel's compaction) after compact_sec_max or
 * as soon as the pressure during it exceeds compact_psi_percent_limit
 * (checked every second, as upstream). Aging and eviction are one
 * lru_gen write per memcg and node per loop turn (MA_WRITES_PER_TURN at
 * most), the turns queued as timers at once, so every request waiting on
 * the loop goes between two turns; at most MA_EVICT_TURNS_MAX turns per
 * period.
 */
#ifndef KATA_EXECUTOR_MEMAGENT_H
#define KATA_EXECUTOR_MEMAGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <protobuf-c/protobuf-c.h>

#include "err.h"
#include "loop.h"
#include "memagent_cfg.h"

#define MA_WRITES_PER_TURN 16
#define MA_EVICT_TURNS_MAX 4096
/* upstream IDLE_FRESH_IGNORE_SECS: a memcg aged less than this ago is left */
#define MA_IDLE_FRESH_IGNORE_MS 60000
/* upstream swap_not_available: SwapFree at or below 256 pages of 4 KiB */
#define MA_SWAP_FREE_MIN_KB 1024
#define MA_LRU_GEN_READ_MAX (8u << 20)

struct memagent;

struct memagent_env {
	const char *root; /* "" in the agent; a fake tree in the unit tests */
	int cgroup_v2;    /* -1: statfs(/sys/fs/cgroup) decides */
};

/* Start with cfg (cfg->enable must be set). Parts the kernel lacks are
 * disabled (logged); 0 even then. */
int memagent_start(struct memagent **out, struct loop *l, const struct memagent_cfg *cfg,
		   const struct memagent_env *env, struct kerr *err);
void memagent_free(struct memagent *ma);

/* A MemAgentMemcgConfig or MemAgentCompactConfig: checked (INVALID_ARGUMENT
 * naming the field) and applied; the timers follow the new periods. */
int memagent_set(struct memagent *ma, const ProtobufCMessage *req, struct kerr *err);

/* SIGCHLD: true when pid was this mem-agent's compaction child. */
bool memagent_reaped(struct memagent *ma, pid_t pid, int status);

/* For the tests: which parts run, how many compactions ended, the
 * current settings. */
bool memagent_memcg_available(const struct memagent *ma);
bool memagent_compact_available(const struct memagent *ma);
uint64_t memagent_compactions(const struct memagent *ma);
uint64_t memagent_memcg_rounds(const struct memagent *ma);
const struct memagent_cfg *memagent_cfg(const struct memagent *ma);

#endif
