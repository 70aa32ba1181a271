/* SPDX-License-Identifier: Apache-2.0 */
/*
 * memagent_cfg.h - the mem-agent's settings (upstream's mem-agent crate,
 * memcg::SingleConfig and compact::Config), their defaults, ranges and
 * names, declared once for every process that reads them:
 *
 *   the parent      agent.mem_agent_* on the kernel command line and the
 *                   mem_agent_* keys of the config file (options.c), passed
 *                   to the executor as --mem-agent NAME=VALUE,...
 *   the front-end   MemAgentMemcgSet / MemAgentCompactSet: each present
 *                   field checked against the same ranges (INVALID_ARGUMENT
 *                   naming the field)
 *   the executor    both again (it trusts neither argv's producer's checks
 *                   nor the front-end's), then applies them
 *                   (agentd/executor/memagent/)
 *
 * Ranges: upstream stores the RPC's uint32 fields as u8 (`as u8`, so 300
 * becomes 44) and checks nothing; here a value outside what the setting
 * means is refused: a percent above 100, a period of 0 or above a year, a
 * swappiness above 200 (MGLRU's eviction takes 0..200), an order above
 * MEMAGENT_ORDER_MAX, a compaction time below 1 s or above a day, a
 * threshold whose << 2 (upstream's KiB comparison) would overflow.
 */
#ifndef KATA_COMMON_MEMAGENT_CFG_H
#define KATA_COMMON_MEMAGENT_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "err.h"

/* MAX_PAGE_ORDER of x86 and of arm64 with 4 KiB pages (orders 0..10, the
 * columns of /proc/pagetypeinfo); upstream's default order is 9. */
#define MEMAGENT_ORDER_MAX 10
#define MEMAGENT_PERIOD_MAX_S (366ull * 86400)
#define MEMAGENT_COMPACT_SEC_MAX 86400
#define MEMAGENT_THRESHOLD_MAX (1ull << 40)
/* compact_force_times at or above this: never force (upstream i64::MAX) */
#define MEMAGENT_FORCE_NEVER ((uint64_t)INT64_MAX)

struct memagent_memcg_cfg {
	bool disabled;
	bool swap;
	uint32_t swappiness_max;
	uint64_t period_secs;
	uint32_t period_psi_percent_limit;
	uint32_t eviction_psi_percent_limit;
	uint64_t eviction_run_aging_count_min;
};

struct memagent_compact_cfg {
	bool disabled;
	uint64_t period_secs;
	uint32_t period_psi_percent_limit;
	uint32_t compact_psi_percent_limit;
	int64_t compact_sec_max;
	uint32_t compact_order;
	uint64_t compact_threshold;
	uint64_t compact_force_times;
};

struct memagent_cfg {
	bool enable; /* agent.mem_agent_enable */
	struct memagent_memcg_cfg memcg;
	struct memagent_compact_cfg compact;
};

/* Upstream's defaults (memcg::SingleConfig::default, compact::Config::default). */
void memagent_cfg_defaults(struct memagent_cfg *c);

/* Set the setting NAME (the option without "agent.mem_agent_":
 * "enable", "memcg_period_secs", "compact_order", ...) from text: a bool
 * as options.c's (true, false, or a number, 0 false; NULL: true), a
 * number in decimal. NULL, or why the value is refused (c unchanged);
 * "unknown" when NAME is none of them. */
const char *memagent_cfg_set_text(struct memagent_cfg *c, const char *name, const char *value);
/* The same from a config file value: is_bool says the TOML type. */
const char *memagent_cfg_set_value(struct memagent_cfg *c, const char *name, bool is_bool,
				   int64_t value);
/* Whether NAME is one of the settings (for the option tables). */
bool memagent_cfg_known(const char *name);

/* The whole configuration as "enable=1,memcg_disable=0,..." (the
 * executor's --mem-agent), and back: every name once at most, each value
 * checked; -EINVAL with err naming the first bad item. */
int memagent_cfg_format(const struct memagent_cfg *c, char *buf, size_t len);
int memagent_cfg_parse(struct memagent_cfg *c, const char *text, struct kerr *err);

/* MemAgentMemcgConfig or MemAgentCompactConfig (told apart by the
 * descriptor's name): each present field checked, and applied to c when
 * every one passes. INVALID_ARGUMENT naming the first bad field
 * ("MemAgentCompactSet: compact_order 11 is out of range (0 to 10)"). */
int memagent_cfg_apply_request(struct memagent_cfg *c, const ProtobufCMessage *m, struct kerr *err);

#endif
