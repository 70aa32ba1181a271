/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ma_read.h - the mem-agent's pure readers: the kernel's texts it decides
 * from, parsed from a buffer (the unit tests feed crafted ones), and the
 * arithmetic of its decisions (upstream's mem-agent crate: psi.rs,
 * mglru.rs, proc.rs, compact.rs, memcg.rs). No I/O here.
 *
 *   psi_some_total()      "some avg10=.. avg60=.. avg300=.. total=N": N (us)
 *   psi_percent()         the pressure's share of the time since the last
 *                         reading, in percent (psi.rs Period::get_percent:
 *                         0 at the first reading and when time or total did
 *                         not advance)
 *   meminfo_kb()          a /proc/meminfo line's value ("MemFree:")
 *   pagetypeinfo_free_movable()  the free Movable pages of the orders below
 *                         an order, every zone (compact.rs)
 *   lru_gen_parse()       the debugfs lru_gen text: per memcg (id, path) and
 *                         node, the oldest and youngest generation, the
 *                         oldest one's anon and file pages, the youngest's
 *                         age (mglru.rs). Hostile input: a cgroup name can
 *                         hold a newline (a container can mkdir one in its
 *                         own cgroup) and so forge lines; every memcg id or
 *                         path that appears twice is dropped with both its
 *                         records, and the caller keeps only paths it found
 *                         by walking the cgroup fs itself.
 *   ma_swappiness()       eviction swappiness from the oldest generation's
 *                         anon and file pages (memcg.rs get_swappiness,
 *                         div_round(200 * anon, anon + file)), capped
 */
#ifndef KATA_EXECUTOR_MA_READ_H
#define KATA_EXECUTOR_MA_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LRU_GEN_NODES_MAX 64
#define LRU_GEN_MEMCGS_MAX 4096
#define LRU_GEN_PATH_MAX 512
/* MGLRU's MAX_NR_GENS: eviction runs only with all four generations */
#define LRU_GEN_MAX_NR_GENS 4

struct lru_gen_node {
	uint32_t node;
	uint64_t min_seq, max_seq;
	uint64_t min_anon, min_file; /* pages of the oldest generation */
	uint64_t youngest_ms;        /* age of the youngest generation */
};

struct lru_gen_memcg {
	uint32_t id;
	char path[LRU_GEN_PATH_MAX];
	size_t n_nodes;
	struct lru_gen_node nodes[LRU_GEN_NODES_MAX];
};

int psi_some_total(const char *text, uint64_t *total_us);

struct psi_period {
	uint64_t last_total, last_ns;
};
uint64_t psi_percent(struct psi_period *p, uint64_t total_us, uint64_t now_ns);

int meminfo_kb(const char *text, const char *key, uint64_t *kb);
int pagetypeinfo_free_movable(const char *text, uint32_t order_limit, uint64_t *pages);

/* Parse text (NUL-terminated) into out (at most max records); returns how
 * many, or -EINVAL for a text that is not lru_gen's at all. Records with a
 * duplicated id or path are left out (see above). */
int lru_gen_parse(const char *text, struct lru_gen_memcg *out, size_t max);

uint32_t ma_swappiness(uint64_t anon, uint64_t file, uint32_t max);

#endif
