/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ma_compact.c - the mem-agent's compaction: its period timer, its
 * decision, its child and that child's bounds (ma_compact.h).
 */
#include "ma_compact.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "libc_compat.h"
#include "log.h"
#include "ma_io.h"

#define NS_PER_S 1000000000ull

struct ma_compact {
	struct loop *loop;
	const char *root;
	struct memagent_compact_cfg *cfg; /* the mem-agent's, updated by the RPC */
	struct ma_compact_state st;
	struct psi_period period_psi;
	struct loop_timer *timer; /* the next period, or the next check of a child */
	uint64_t period_start_ns; /* upstream Timeout's start_wait_time */
	/* A compaction going on */
	pid_t pid;
	int64_t rest_s;
	bool killed;
	struct psi_period run_psi;
	uint64_t runs;
};

bool ma_compact_threshold(const struct ma_compact_state *s, const struct memagent_compact_cfg *c,
			  uint64_t memfree_kb, uint64_t free_movable)
{
	if (s->prev_memfree_kb > memfree_kb + (c->compact_threshold << 2))
		return true;
	return free_movable > c->compact_threshold + s->prev_free_movable;
}

bool ma_compact_forced(const struct ma_compact_state *s, const struct memagent_compact_cfg *c)
{
	if (c->compact_force_times >= MEMAGENT_FORCE_NEVER)
		return false;
	return s->force_counter >= c->compact_force_times;
}

/* The system's memory + io "some" pressure total (us). */
static int system_psi(const char *root, uint64_t *total)
{
	static const char *const files[] = { MA_PRESSURE_MEMORY, MA_PRESSURE_IO };
	uint64_t sum = 0;
	for (size_t i = 0; i < 2; i++) {
		char *text = NULL;
		uint64_t t;
		int r = ma_read_text(root, files[i], 4096, &text);
		if (r == 0)
			r = psi_some_total(text, &t);
		free(text);
		if (r < 0)
			return r;
		sum += t;
	}
	*total = sum;
	return 0;
}

/* MemFree and the free movable pages below the order, now. */
static int memory_now(struct ma_compact *mc, uint64_t *memfree_kb, uint64_t *movable)
{
	char *mi = NULL, *pt = NULL;
	int r = ma_read_text(mc->root, "/proc/meminfo", 1u << 16, &mi);
	if (r == 0)
		r = meminfo_kb(mi, "MemFree:", memfree_kb);
	if (r == 0)
		r = ma_read_text(mc->root, "/proc/pagetypeinfo", 1u << 20, &pt);
	if (r == 0)
		r = pagetypeinfo_free_movable(pt, mc->cfg->compact_order, movable);
	free(mi);
	free(pt);
	return r;
}

static void on_period(struct loop *l, void *data);

static void schedule(struct ma_compact *mc, uint64_t at_ns)
{
	if (mc->timer)
		loop_timer_cancel(mc->loop, mc->timer);
	mc->timer = NULL;
	if (mc->cfg->disabled || mc->pid > 0)
		return;
	mc->timer = loop_timer_add(mc->loop, at_ns, on_period, mc);
	if (!mc->timer)
		log_error("mem-agent: compaction timer: out of memory; compaction stops");
}

/* A period ended (or the first one, at start): upstream Timeout::reset,
 * the next one counted from now. */
static void next_period(struct ma_compact *mc)
{
	mc->period_start_ns = loop_now_ns();
	schedule(mc, mc->period_start_ns + mc->cfg->period_secs * NS_PER_S);
}

/* In the child: no capability in any set, no_new_privs. uid 0 is what
 * the write needs (compact_memory is root's, mode 0200; proc's sysctl
 * check is the mode's owner bits for uid 0, no capability). */
static int drop_all(void)
{
	for (int c = 0, n = caps_count(); c < n; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return -1;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -1;
	if (caps_set(&(struct caps_sets){ 0 }) < 0)
		return -1;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

static __attribute__((noreturn)) void compact_child(const char *path)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	close_range(3, ~0U, 0);
	loop_signals_unblock();
	if (drop_all() < 0)
		_exit(3);
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		_exit(2);
	_exit(write(fd, "1", 1) == 1 ? 0 : 1);
}

static void on_check(struct loop *l, void *data);

static int start_child(struct ma_compact *mc)
{
	char path[4096];
	int r = ma_path(path, sizeof(path), mc->root, MA_COMPACT_MEMORY);
	if (r < 0)
		return r;
	pid_t pid = fork();
	if (pid == 0)
		compact_child(path);
	if (pid < 0)
		return -errno;
	mc->pid = pid;
	mc->rest_s = mc->cfg->compact_sec_max;
	mc->killed = false;
	mc->run_psi = (struct psi_period){ 0 };
	uint64_t t;
	if (system_psi(mc->root, &t) == 0)
		psi_percent(&mc->run_psi, t, loop_now_ns());
	mc->timer = loop_timer_add(mc->loop, loop_now_ns() + NS_PER_S, on_check, mc);
	log_info("mem-agent: compaction started (pid %d, at most %lld s)", (int)pid,
		 (long long)mc->rest_s);
	return 0;
}

static void kill_child(struct ma_compact *mc, const char *why)
{
	if (!mc->killed)
		log_info("mem-agent: compaction stopped: %s", why);
	kill(mc->pid, SIGKILL);
	mc->killed = true;
}

/* Every second of a compaction: its time, and the pressure it causes. */
static void on_check(struct loop *l, void *data)
{
	struct ma_compact *mc = data;
	mc->timer = NULL;
	if (mc->pid <= 0)
		return;
	mc->rest_s--;
	uint64_t t;
	if (mc->rest_s <= 0)
		kill_child(mc, "compact_sec_max reached");
	else if (system_psi(mc->root, &t) < 0)
		kill_child(mc, "pressure unreadable");
	else if (psi_percent(&mc->run_psi, t, loop_now_ns()) > mc->cfg->compact_psi_percent_limit)
		kill_child(mc, "pressure above compact_psi_percent_limit");
	mc->timer = loop_timer_add(l, loop_now_ns() + NS_PER_S, on_check, mc);
}

/* Upstream Compact::work, up to the compaction itself. */
static bool want_compaction(struct ma_compact *mc)
{
	uint64_t t;
	if (system_psi(mc->root, &t) < 0)
		return false;
	uint64_t pct = psi_percent(&mc->period_psi, t, loop_now_ns());
	if (pct > mc->cfg->period_psi_percent_limit) {
		log_info("mem-agent: no compaction: pressure %llu%% above the limit",
			 (unsigned long long)pct);
		return false;
	}
	if (ma_compact_forced(&mc->st, mc->cfg))
		return true;
	uint64_t memfree, movable;
	if (memory_now(mc, &memfree, &movable) < 0)
		return false;
	if (!ma_compact_threshold(&mc->st, mc->cfg, memfree, movable)) {
		log_debug("mem-agent: no compaction: %llu free movable pages, %llu kB free",
			  (unsigned long long)movable, (unsigned long long)memfree);
		return false;
	}
	return true;
}

static void on_period(struct loop *l, void *data)
{
	struct ma_compact *mc = data;
	(void)l;
	mc->timer = NULL;
	if (mc->cfg->disabled)
		return;
	if (want_compaction(mc)) {
		int r = start_child(mc);
		if (r == 0)
			return;
		log_warn("mem-agent: compaction child: %s", strerror(-r));
	}
	mc->st.force_counter++;
	next_period(mc);
}

bool ma_compact_reaped(struct ma_compact *mc, pid_t pid, int status)
{
	if (!mc || pid != mc->pid || pid <= 0)
		return false;
	mc->pid = 0;
	if (mc->timer)
		loop_timer_cancel(mc->loop, mc->timer);
	mc->timer = NULL;
	mc->runs++;
	log_info("mem-agent: compaction ended (%s)", WIFEXITED(status) && WEXITSTATUS(status) == 0
							     ? "done"
						     : mc->killed ? "stopped"
								  : "failed");
	uint64_t memfree, movable;
	if (memory_now(mc, &memfree, &movable) == 0) {
		mc->st.prev_memfree_kb = memfree;
		mc->st.prev_free_movable = movable;
	}
	mc->st.force_counter = 0;
	next_period(mc);
	return true;
}

int ma_compact_new(struct ma_compact **out, struct loop *l, const char *root,
		   struct memagent_compact_cfg *cfg, struct kerr *err)
{
	struct ma_compact *mc = calloc(1, sizeof(*mc));
	if (!mc)
		return kerr_set(err, -ENOMEM, "mem-agent: out of memory");
	mc->loop = l;
	mc->root = root;
	mc->cfg = cfg;
	/* upstream's first period is due at once */
	mc->period_start_ns = loop_now_ns();
	schedule(mc, mc->period_start_ns);
	*out = mc;
	return 0;
}

void ma_compact_reconfigured(struct ma_compact *mc, bool was_disabled, uint64_t old_period)
{
	if (!mc || mc->pid > 0)
		return; /* the period after the running compaction uses them */
	if (mc->cfg->disabled) {
		schedule(mc, 0);
		return;
	}
	if (was_disabled) { /* set_disabled(false): timeout.reset() */
		next_period(mc);
		return;
	}
	if (old_period != mc->cfg->period_secs) /* set_sleep_duration */
		schedule(mc, mc->period_start_ns + mc->cfg->period_secs * NS_PER_S);
}

uint64_t ma_compact_runs(const struct ma_compact *mc)
{
	return mc ? mc->runs : 0;
}

void ma_compact_free(struct ma_compact *mc)
{
	if (!mc)
		return;
	if (mc->timer)
		loop_timer_cancel(mc->loop, mc->timer);
	if (mc->pid > 0) {
		kill(mc->pid, SIGKILL);
		waitpid(mc->pid, NULL, 0);
	}
	free(mc);
}
