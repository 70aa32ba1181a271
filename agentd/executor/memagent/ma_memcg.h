/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ma_memcg.h - the mem-agent's memory cgroup reclaim (upstream memcg.rs
 * with the one default configuration the RPC sets): every period, for each
 * memcg and NUMA node whose own pressure (memory + io, less its children's)
 * over the last period is within period_psi_percent_limit and whose
 * youngest generation is older than a minute, MGLRU aging (a new
 * generation); after eviction_run_aging_count_min agings, eviction of the
 * oldest generation step by step until it stops paying (ma_evict_step).
 */
#ifndef KATA_EXECUTOR_MA_MEMCG_H
#define KATA_EXECUTOR_MA_MEMCG_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "loop.h"
#include "ma_read.h"
#include "memagent_cfg.h"

#define MA_LRU_GEN_ENABLED "/sys/kernel/mm/lru_gen/enabled"
#define MA_LRU_GEN "/sys/kernel/debug/lru_gen"

enum ma_evict {
	MA_EVICT_STEP,         /* evict with *swappiness */
	MA_EVICT_STOP_GENS,    /* not all four generations */
	MA_EVICT_STOP_NO_LRU,  /* nothing (left) to evict */
	MA_EVICT_STOP_LRU_INC, /* the oldest generation grew: no progress */
	MA_EVICT_STOP_PSI,     /* pressure above eviction_psi_percent_limit */
};

/* One memcg's node during an eviction (memcg.rs EvictionInfo). */
struct ma_evict_state {
	bool started, only_swap;
	uint64_t last_file, last_anon;
	uint64_t file_pages, anon_pages; /* evicted so far */
};

/* The next step for node n: psi_percent is the pressure since the previous
 * step; swap: the configuration's swap; swap_ok: SwapFree above
 * MA_SWAP_FREE_MIN_KB. */
enum ma_evict ma_evict_step(struct ma_evict_state *e, const struct lru_gen_node *n,
			    const struct memagent_memcg_cfg *c, bool swap_ok, uint64_t psi_percent,
			    uint32_t *swappiness);
const char *ma_evict_name(enum ma_evict v);

struct ma_memcg;

/* The cgroup root is root + /sys/fs/cgroup (v2) or + /sys/fs/cgroup/memory. */
int ma_memcg_new(struct ma_memcg **out, struct loop *l, const char *root, bool cgroup_v2,
		 struct memagent_memcg_cfg *cfg, struct kerr *err);
void ma_memcg_free(struct ma_memcg *m);
void ma_memcg_reconfigured(struct ma_memcg *m, bool was_disabled, uint64_t old_period);
uint64_t ma_memcg_rounds(const struct ma_memcg *m);

#endif
