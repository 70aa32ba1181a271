/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ma_compact.h - the mem-agent's compaction (upstream compact.rs): every
 * period, if the pressure of the last period is within
 * period_psi_percent_limit and either compaction is forced (no compaction
 * for compact_force_times periods) or the memory looks fragmented enough
 * (ma_compact_wanted), a child writes 1 to /proc/sys/vm/compact_memory
 * (memagent.h says how it is bounded).
 */
#ifndef KATA_EXECUTOR_MA_COMPACT_H
#define KATA_EXECUTOR_MA_COMPACT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "loop.h"
#include "ma_read.h"
#include "memagent_cfg.h"

#define MA_COMPACT_MEMORY "/proc/sys/vm/compact_memory"
#define MA_PRESSURE_MEMORY "/proc/pressure/memory"
#define MA_PRESSURE_IO "/proc/pressure/io"

/* What the decision remembers between periods (compact.rs CompactCore). */
struct ma_compact_state {
	uint64_t force_counter;
	uint64_t prev_free_movable;
	uint64_t prev_memfree_kb;
};

/* Upstream's check_compact_threshold: MemFree fell by more than
 * threshold * 4 KiB since the last compaction, or the free movable pages
 * of the orders below compact_order exceed threshold plus what was free
 * after it. */
bool ma_compact_threshold(const struct ma_compact_state *s, const struct memagent_compact_cfg *c,
			  uint64_t memfree_kb, uint64_t free_movable);
/* Forced this period (compact_force_times reached; never at or above
 * MEMAGENT_FORCE_NEVER). */
bool ma_compact_forced(const struct ma_compact_state *s, const struct memagent_compact_cfg *c);

struct ma_compact;

int ma_compact_new(struct ma_compact **out, struct loop *l, const char *root,
		   struct memagent_compact_cfg *cfg, struct kerr *err);
void ma_compact_free(struct ma_compact *mc);
/* The settings changed (cfg already holds the new ones): was_disabled and
 * old_period say what they were, for upstream's timer rules. */
void ma_compact_reconfigured(struct ma_compact *mc, bool was_disabled, uint64_t old_period);
bool ma_compact_reaped(struct ma_compact *mc, pid_t pid, int status);
uint64_t ma_compact_runs(const struct ma_compact *mc);

#endif
