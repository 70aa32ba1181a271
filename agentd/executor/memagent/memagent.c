/* SPDX-License-Identifier: Apache-2.0 */
/*
 * memagent.c - the mem-agent: its probes, its settings, its two parts
 * (ma_memcg.c, ma_compact.c) on the executor's loop (memagent.h).
 */
#include "memagent.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "log.h"
#include "ma_compact.h"
#include "ma_io.h"
#include "ma_memcg.h"

struct memagent {
	struct memagent_cfg cfg;
	char *root;
	struct ma_memcg *memcg;     /* NULL: the kernel lacks what it needs */
	struct ma_compact *compact; /* NULL: likewise */
};

static bool cgroup_v2(const struct memagent_env *env)
{
	if (env->cgroup_v2 >= 0)
		return env->cgroup_v2;
	char p[4096];
	struct statfs st;
	return ma_path(p, sizeof(p), env->root, "/sys/fs/cgroup") == 0 && statfs(p, &st) == 0 &&
	       st.f_type == CGROUP2_SUPER_MAGIC;
}

/* MGLRU on, all of it (upstream mglru::check: 7 unless it is already). */
static int mglru_enable(const char *root, struct kerr *err)
{
	char *text = NULL;
	int r = ma_read_text(root, MA_LRU_GEN_ENABLED, 64, &text);
	if (r < 0)
		return kerr_set(err, r, "no MGLRU (%s: %s)", MA_LRU_GEN_ENABLED, strerror(-r));
	unsigned long v = strtoul(text, NULL, 0);
	free(text);
	if (v == 7)
		return 0;
	r = ma_write_text(root, MA_LRU_GEN_ENABLED, "7");
	return r < 0 ? kerr_set(err, r, "%s: write 7: %s", MA_LRU_GEN_ENABLED, strerror(-r)) : 0;
}

static void start_memcg(struct memagent *ma, struct loop *l, const struct memagent_env *env)
{
	struct kerr e = { 0 };
	if (mglru_enable(ma->root, &e) < 0 ||
	    ma_memcg_new(&ma->memcg, l, ma->root, cgroup_v2(env), &ma->cfg.memcg, &e) < 0)
		log_warn("mem-agent: memcg reclaim disabled: kernel: %s", e.msg);
}

static void start_compact(struct memagent *ma, struct loop *l)
{
	static const char *const need[] = { MA_COMPACT_MEMORY, MA_PRESSURE_MEMORY, MA_PRESSURE_IO,
					    "/proc/pagetypeinfo" };
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		char p[4096];
		if (ma_path(p, sizeof(p), ma->root, need[i]) < 0 || access(p, F_OK) < 0) {
			log_warn("mem-agent: compaction disabled: kernel: no %s", need[i]);
			return;
		}
	}
	struct kerr e = { 0 };
	if (ma_compact_new(&ma->compact, l, ma->root, &ma->cfg.compact, &e) < 0)
		log_warn("mem-agent: compaction disabled: %s", e.msg);
}

int memagent_start(struct memagent **out, struct loop *l, const struct memagent_cfg *cfg,
		   const struct memagent_env *env, struct kerr *err)
{
	struct memagent *ma = calloc(1, sizeof(*ma));
	if (!ma || !(ma->root = strdup(env->root))) {
		free(ma);
		return kerr_set(err, -ENOMEM, "mem-agent: out of memory");
	}
	ma->cfg = *cfg;
	start_memcg(ma, l, env);
	start_compact(ma, l);
	log_info("mem-agent started: memcg reclaim %s, compaction %s",
		 !ma->memcg               ? "unavailable"
		 : ma->cfg.memcg.disabled ? "disabled"
					  : "on",
		 !ma->compact               ? "unavailable"
		 : ma->cfg.compact.disabled ? "disabled"
					    : "on");
	*out = ma;
	return 0;
}

int memagent_set(struct memagent *ma, const ProtobufCMessage *req, struct kerr *err)
{
	struct memagent_cfg old = ma->cfg;
	int r = memagent_cfg_apply_request(&ma->cfg, req, err);
	if (r < 0)
		return r;
	ma_memcg_reconfigured(ma->memcg, old.memcg.disabled, old.memcg.period_secs);
	ma_compact_reconfigured(ma->compact, old.compact.disabled, old.compact.period_secs);
	return 0;
}

bool memagent_reaped(struct memagent *ma, pid_t pid, int status)
{
	return ma && ma_compact_reaped(ma->compact, pid, status);
}

bool memagent_memcg_available(const struct memagent *ma)
{
	return ma && ma->memcg;
}

bool memagent_compact_available(const struct memagent *ma)
{
	return ma && ma->compact;
}

uint64_t memagent_compactions(const struct memagent *ma)
{
	return ma ? ma_compact_runs(ma->compact) : 0;
}

uint64_t memagent_memcg_rounds(const struct memagent *ma)
{
	return ma ? ma_memcg_rounds(ma->memcg) : 0;
}

const struct memagent_cfg *memagent_cfg(const struct memagent *ma)
{
	return &ma->cfg;
}

void memagent_free(struct memagent *ma)
{
	if (!ma)
		return;
	ma_memcg_free(ma->memcg);
	ma_compact_free(ma->compact);
	free(ma->root);
	free(ma);
}
