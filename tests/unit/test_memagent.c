/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_memagent.c - the mem-agent (agentd/executor/memagent/,
 * common/memagent_cfg.c): its settings and their ranges, its parsers of
 * the kernel's texts (PSI, meminfo, pagetypeinfo, lru_gen), its decisions
 * (eviction steps, swappiness, when to compact), and one run of both parts
 * over a fake /proc, sysfs, debugfs and cgroup tree: the lru_gen commands
 * written, and none for a memcg a container forged (a cgroup named with a
 * newline) or reached through a symlink.
 */
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "grpc_status.h"
#include "loop.h"
#include "ma_compact.h"
#include "ma_memcg.h"
#include "ma_read.h"
#include "memagent.h"
#include "memagent_cfg.h"
#include "tap.h"
#include "testutil.h"

/* ---- settings ---- */

TEST(defaults_are_upstreams)
{
	struct memagent_cfg c;
	memagent_cfg_defaults(&c);
	CHECK(!c.enable && !c.memcg.disabled && !c.memcg.swap);
	CHECK_EQ_INT(c.memcg.swappiness_max, 50);
	CHECK_EQ_INT(c.memcg.period_secs, 600);
	CHECK_EQ_INT(c.memcg.period_psi_percent_limit, 1);
	CHECK_EQ_INT(c.memcg.eviction_psi_percent_limit, 1);
	CHECK_EQ_INT(c.memcg.eviction_run_aging_count_min, 3);
	CHECK_EQ_INT(c.compact.period_secs, 600);
	CHECK_EQ_INT(c.compact.period_psi_percent_limit, 1);
	CHECK_EQ_INT(c.compact.compact_psi_percent_limit, 5);
	CHECK_EQ_INT(c.compact.compact_sec_max, 300);
	CHECK_EQ_INT(c.compact.compact_order, 9);
	CHECK_EQ_INT(c.compact.compact_threshold, 1024);
	CHECK(c.compact.compact_force_times == (uint64_t)INT64_MAX);
}

TEST(text_values_and_ranges)
{
	struct memagent_cfg c;
	memagent_cfg_defaults(&c);
	CHECK(memagent_cfg_set_text(&c, "enable", NULL) == NULL && c.enable);
	CHECK(memagent_cfg_set_text(&c, "memcg_swap", "1") == NULL && c.memcg.swap);
	CHECK(memagent_cfg_set_text(&c, "memcg_swap", "false") == NULL && !c.memcg.swap);
	CHECK(memagent_cfg_set_text(&c, "memcg_swap", "yes") != NULL);
	CHECK(memagent_cfg_set_text(&c, "compact_order", "10") == NULL);
	CHECK_EQ_STR(memagent_cfg_set_text(&c, "compact_order", "11"), "out of range (0 to 10)");
	CHECK_EQ_INT(c.compact.compact_order, 10);
	CHECK(memagent_cfg_set_text(&c, "compact_period_psi_percent_limit", "101") != NULL);
	CHECK(memagent_cfg_set_text(&c, "memcg_period_secs", "0") != NULL);
	CHECK(memagent_cfg_set_text(&c, "memcg_period_secs", "31622401") != NULL);
	CHECK(memagent_cfg_set_text(&c, "memcg_period_secs", NULL) != NULL);
	CHECK(memagent_cfg_set_text(&c, "compact_sec_max", "-1") != NULL);
	CHECK(memagent_cfg_set_text(&c, "compact_sec_max", "86400") == NULL);
	CHECK(memagent_cfg_set_text(&c, "compact_threshold", "99999999999999999999") != NULL);
	CHECK(memagent_cfg_set_text(&c, "compact_force_times", "18446744073709551615") == NULL);
	CHECK(memagent_cfg_set_text(&c, "memcg_swappiness_max", "0x10") != NULL);
	CHECK_EQ_STR(memagent_cfg_set_text(&c, "nosuch", "1"), "unknown");
	CHECK(memagent_cfg_set_value(&c, "enable", false, 1) != NULL); /* an integer for a bool */
	CHECK(memagent_cfg_set_value(&c, "compact_order", true, 1) != NULL);
	CHECK(memagent_cfg_set_value(&c, "compact_order", false, -3) != NULL);
	CHECK(memagent_cfg_set_value(&c, "compact_order", false, 3) == NULL);
}

TEST(format_and_parse_round_trip)
{
	struct memagent_cfg a, b;
	memagent_cfg_defaults(&a);
	memagent_cfg_defaults(&b);
	a.enable = true;
	a.compact.compact_sec_max = 7;
	a.memcg.swap = true;
	char buf[1024];
	REQUIRE(memagent_cfg_format(&a, buf, sizeof(buf)) == 0);
	struct kerr e = { 0 };
	REQUIRE(memagent_cfg_parse(&b, buf, &e) == 0);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	CHECK(memagent_cfg_format(&a, buf, 16) == -ENOSPC);
	/* every item checked; one bad one changes nothing */
	CHECK(memagent_cfg_parse(&b, "enable=0,compact_order=11", &e) == -EINVAL);
	CHECK(strstr(e.msg, "compact_order=11") != NULL);
	CHECK(b.enable);
	CHECK(memagent_cfg_parse(&b, "enable=1,enable=0", &e) == -EINVAL);
	CHECK(memagent_cfg_parse(&b, "enable", &e) == -EINVAL);
	CHECK(memagent_cfg_parse(&b, "bogus=1", &e) == -EINVAL);
	CHECK(memagent_cfg_parse(&b, ",", &e) == -EINVAL);
}

TEST(requests_checked_whole)
{
	struct memagent_cfg c;
	memagent_cfg_defaults(&c);
	Grpc__MemAgentCompactConfig q = GRPC__MEM_AGENT_COMPACT_CONFIG__INIT;
	q._disabled_case = GRPC__MEM_AGENT_COMPACT_CONFIG___DISABLED_DISABLED;
	q.disabled = 1;
	q._compact_order_case = GRPC__MEM_AGENT_COMPACT_CONFIG___COMPACT_ORDER_COMPACT_ORDER;
	q.compact_order = 11;
	struct kerr e = { 0 };
	CHECK(memagent_cfg_apply_request(&c, &q.base, &e) < 0);
	CHECK_EQ_INT(kerr_status(&e), GRPC_INVALID_ARGUMENT);
	CHECK_EQ_STR(e.msg, "MemAgentCompactSet: compact_order 11 is out of range (0 to 10)");
	CHECK(!c.compact.disabled); /* nothing applied */
	q.compact_order = 3;
	q._compact_sec_max_case = GRPC__MEM_AGENT_COMPACT_CONFIG___COMPACT_SEC_MAX_COMPACT_SEC_MAX;
	q.compact_sec_max = 60;
	e = (struct kerr){ 0 };
	CHECK(memagent_cfg_apply_request(&c, &q.base, &e) == 0);
	CHECK(c.compact.disabled && c.compact.compact_order == 3 && c.compact.compact_sec_max == 60);
	CHECK_EQ_INT(c.compact.period_secs, 600); /* absent: unchanged */
	q.compact_sec_max = INT64_MIN;
	CHECK(memagent_cfg_apply_request(&c, &q.base, &e) < 0);
	CHECK(strstr(e.msg, "compact_sec_max -9223372036854775808") != NULL);
	/* the memcg message sets the memcg's fields, never the compaction's */
	Grpc__MemAgentMemcgConfig m = GRPC__MEM_AGENT_MEMCG_CONFIG__INIT;
	m._period_secs_case = GRPC__MEM_AGENT_MEMCG_CONFIG___PERIOD_SECS_PERIOD_SECS;
	m.period_secs = 30;
	m._disabled_case = GRPC__MEM_AGENT_MEMCG_CONFIG___DISABLED_DISABLED;
	m.disabled = 0;
	CHECK(memagent_cfg_apply_request(&c, &m.base, &e) == 0);
	CHECK(c.memcg.period_secs == 30 && c.compact.period_secs == 600 && c.compact.disabled);
	m._swappiness_max_case = GRPC__MEM_AGENT_MEMCG_CONFIG___SWAPPINESS_MAX_SWAPPINESS_MAX;
	m.swappiness_max = 201;
	CHECK(memagent_cfg_apply_request(&c, &m.base, &e) < 0);
	Grpc__GuestDetailsRequest other = GRPC__GUEST_DETAILS_REQUEST__INIT;
	CHECK(memagent_cfg_apply_request(&c, &other.base, &e) < 0);
}

/* ---- parsers ---- */

TEST(psi)
{
	uint64_t t = 0;
	CHECK(psi_some_total("some avg10=0.00 avg60=0.00 avg300=0.00 total=37820\n"
			     "full avg10=0.00 avg60=0.00 avg300=0.00 total=28881\n",
			     &t) == 0);
	CHECK_EQ_INT(t, 37820);
	CHECK(psi_some_total("full avg10=0.00 total=1\n", &t) < 0);
	CHECK(psi_some_total("some avg10=0.00\nfull total=5\n", &t) < 0);
	CHECK(psi_some_total("some total=x\n", &t) < 0);
	struct psi_period p = { 0 };
	CHECK_EQ_INT(psi_percent(&p, 1000, 1000000000ull), 0); /* the first reading */
	/* 50 ms of stall in 1 s: 5 % */
	CHECK_EQ_INT(psi_percent(&p, 51000, 2000000000ull), 5);
	CHECK_EQ_INT(psi_percent(&p, 51000, 3000000000ull), 0); /* no new stall */
	CHECK_EQ_INT(psi_percent(&p, 60000, 3000000000ull), 0); /* no time passed */
	CHECK_EQ_INT(psi_percent(&p, 60000 + 2000000, 4000000000ull), 200);
}

TEST(meminfo_and_pagetypeinfo)
{
	uint64_t kb = 0, pages = 0;
	const char *mi = "MemTotal:       24683424 kB\nMemFree:        22925520 kB\n"
			 "SwapFree:              0 kB\n";
	CHECK(meminfo_kb(mi, "MemFree:", &kb) == 0 && kb == 22925520);
	CHECK(meminfo_kb(mi, "SwapFree:", &kb) == 0 && kb == 0);
	CHECK(meminfo_kb(mi, "Nope:", &kb) == -ENOENT);
	const char *pt = "Page block order: 9\nPages per block:  512\n\n"
			 "Free pages count per migrate type at order       0      1      2      3\n"
			 "Node    0, zone      DMA, type    Unmovable      5      0      0      0\n"
			 "Node    0, zone      DMA, type      Movable      1      1      1      1\n"
			 "Node    0, zone   Normal, type      Movable     10      2      0      4\n"
			 "Node    0, zone   Normal, type  Reclaimable      7      7      7      7\n\n"
			 "Number of blocks type     Unmovable      Movable  Reclaimable\n"
			 "Node 0, zone      DMA            1            7            0\n";
	CHECK(pagetypeinfo_free_movable(pt, 9, &pages) == 0);
	/* DMA 1+2+4+8 = 15, Normal 10+4+0+32 = 46 */
	CHECK_EQ_INT(pages, 61);
	CHECK(pagetypeinfo_free_movable(pt, 2, &pages) == 0);
	CHECK_EQ_INT(pages, 3 + 14);
	CHECK(pagetypeinfo_free_movable("nothing\n", 9, &pages) < 0);
}

#define GENS(a, b, c, d)                                   \
	"  node     0\n"                                   \
	"          " #a "     90000       100       200\n" \
	"          " #b "     80000       -5         20\n" \
	"          " #c "     70000        10        20\n" \
	"          " #d "     65000        10        20\n"

TEST(lru_gen_text)
{
	struct lru_gen_memcg v[8];
	const char *text = "memcg     1 /\n" GENS(4, 5, 6, 7) "memcg     2 /kata/c1\n" GENS(
		10, 11, 12, 13) "  node     1\n          3      1000         0         7\n";
	int n = lru_gen_parse(text, v, 8);
	REQUIRE(n == 2);
	CHECK_EQ_INT(v[0].id, 1);
	CHECK_EQ_STR(v[0].path, "/");
	CHECK_EQ_INT(v[0].n_nodes, 1);
	CHECK(v[0].nodes[0].min_seq == 4 && v[0].nodes[0].max_seq == 7);
	CHECK(v[0].nodes[0].min_anon == 100 && v[0].nodes[0].min_file == 200);
	CHECK_EQ_INT(v[0].nodes[0].youngest_ms, 65000);
	CHECK_EQ_STR(v[1].path, "/kata/c1");
	CHECK_EQ_INT(v[1].n_nodes, 2);
	CHECK(v[1].nodes[1].node == 1 && v[1].nodes[1].min_seq == 3 && v[1].nodes[1].max_seq == 3 &&
	      v[1].nodes[1].min_file == 7);
	/* a cgroup name may hold spaces: the path is the rest of the line */
	CHECK(lru_gen_parse("memcg 8 /kata/a b /c\n" GENS(4, 5, 6, 7), v, 8) == 1);
	CHECK_EQ_STR(v[0].path, "/kata/a b /c");
	CHECK(lru_gen_parse("not lru_gen\n", v, 8) == -EINVAL);
	CHECK(lru_gen_parse("", v, 8) == 0);
	/* bounded by max */
	CHECK(lru_gen_parse(text, v, 1) == 1);
}

/* A cgroup named "x\nmemcg 2 /kata/c1" (a container may mkdir one below its
 * own) prints a forged header: both records of the id or path seen twice
 * are left out. */
TEST(lru_gen_forged_lines_dropped)
{
	struct lru_gen_memcg v[8];
	const char *text = "memcg     1 /\n" GENS(4, 5, 6, 7) "memcg     2 /kata/c1\n" GENS(
		4, 5, 6, 7) "memcg     3 /kata/c1/x\n"
			    "memcg     2 /kata/c1\n" GENS(1, 2, 3, 4) "memcg     4 /kata/c2\n"
								      "memcg     5 /kata/c2\n";
	int n = lru_gen_parse(text, v, 8);
	REQUIRE(n == 2);
	CHECK_EQ_STR(v[0].path, "/");
	CHECK_EQ_STR(v[1].path, "/kata/c1/x");
	CHECK(lru_gen_parse("memcg 70000 /x\nmemcg 1 relative\nmemcg 2\n", v, 8) == 0);
}

/* ---- decisions ---- */

TEST(swappiness)
{
	CHECK_EQ_INT(ma_swappiness(100, 100, 200), 100);
	CHECK_EQ_INT(ma_swappiness(100, 100, 50), 50);
	CHECK_EQ_INT(ma_swappiness(1, 3, 200), 50);
	CHECK_EQ_INT(ma_swappiness(1, 2, 200), 67); /* div_round */
	CHECK_EQ_INT(ma_swappiness(0, 5, 200), 0);
	CHECK_EQ_INT(ma_swappiness(UINT64_MAX / 2, UINT64_MAX / 2, 200), 100);
}

TEST(eviction_steps)
{
	struct memagent_memcg_cfg c = { .swappiness_max = 50, .eviction_psi_percent_limit = 5 };
	struct lru_gen_node n = { .min_seq = 4, .max_seq = 7, .min_anon = 100, .min_file = 300 };
	struct ma_evict_state e = { 0 };
	uint32_t swp = 99;
	CHECK_EQ_INT(ma_evict_step(&e, &n, &c, true, 0, &swp), MA_EVICT_STEP);
	CHECK_EQ_INT(swp, 0); /* swap off */
	n.min_file = 200;
	n.min_anon = 90;
	CHECK_EQ_INT(ma_evict_step(&e, &n, &c, true, 3, &swp), MA_EVICT_STEP);
	CHECK(e.file_pages == 100 && e.anon_pages == 10);
	CHECK_EQ_INT(ma_evict_step(&e, &n, &c, true, 3, &swp), MA_EVICT_STOP_LRU_INC);
	n.min_file = 100;
	CHECK_EQ_INT(ma_evict_step(&e, &n, &c, true, 6, &swp), MA_EVICT_STOP_PSI);
	n.min_file = 0;
	CHECK_EQ_INT(ma_evict_step(&e, &n, &c, true, 0, &swp), MA_EVICT_STOP_NO_LRU);
	/* not four generations */
	e = (struct ma_evict_state){ 0 };
	n = (struct lru_gen_node){ .min_seq = 5, .max_seq = 7, .min_anon = 1, .min_file = 1 };
	CHECK_EQ_INT(ma_evict_step(&e, &n, &c, true, 0, &swp), MA_EVICT_STOP_GENS);
	n.max_seq = 3; /* nonsense from the kernel: no underflow */
	CHECK_EQ_INT(ma_evict_step(&e, &n, &c, true, 0, &swp), MA_EVICT_STOP_GENS);
	/* no file pages: anon only with swap, at swappiness 200 */
	n = (struct lru_gen_node){ .min_seq = 4, .max_seq = 7, .min_anon = 50 };
	CHECK_EQ_INT(ma_evict_step(&e, &n, &c, true, 0, &swp), MA_EVICT_STOP_NO_LRU);
	c.swap = true;
	e = (struct ma_evict_state){ 0 };
	CHECK_EQ_INT(ma_evict_step(&e, &n, &c, true, 0, &swp), MA_EVICT_STEP);
	CHECK(e.only_swap && swp == 200);
	n.min_anon = 40;
	CHECK_EQ_INT(ma_evict_step(&e, &n, &c, false, 0, &swp), MA_EVICT_STOP_NO_LRU);
	/* both kinds with swap: the ratio, capped */
	e = (struct ma_evict_state){ 0 };
	n = (struct lru_gen_node){ .min_seq = 4, .max_seq = 7, .min_anon = 300, .min_file = 100 };
	CHECK_EQ_INT(ma_evict_step(&e, &n, &c, true, 0, &swp), MA_EVICT_STEP);
	CHECK_EQ_INT(swp, 50);
	e = (struct ma_evict_state){ 0 };
	CHECK_EQ_INT(ma_evict_step(&e, &n, &c, false, 0, &swp), MA_EVICT_STEP);
	CHECK_EQ_INT(swp, 0); /* swap full */
}

TEST(when_to_compact)
{
	struct memagent_compact_cfg c = { .compact_threshold = 1024,
					  .compact_force_times = (uint64_t)INT64_MAX };
	struct ma_compact_state s = { 0 };
	CHECK(ma_compact_threshold(&s, &c, 1000000, 2000));
	CHECK(!ma_compact_threshold(&s, &c, 1000000, 1024));
	s.prev_free_movable = 1500;
	CHECK(!ma_compact_threshold(&s, &c, 1000000, 2000));
	s.prev_memfree_kb = 1000000 + 4096 + 1; /* MemFree fell by more than 1024 pages */
	CHECK(ma_compact_threshold(&s, &c, 1000000, 0));
	s.force_counter = 1000;
	CHECK(!ma_compact_forced(&s, &c));
	c.compact_force_times = 0;
	s.force_counter = 0;
	CHECK(ma_compact_forced(&s, &c));
	c.compact_force_times = 3;
	s.force_counter = 2;
	CHECK(!ma_compact_forced(&s, &c));
	s.force_counter = 3;
	CHECK(ma_compact_forced(&s, &c));
}

/* ---- both parts over a fake tree ---- */

static char root[64];

static void put(const char *rel, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s%s", root, rel);
	char *slash = strrchr(p, '/');
	*slash = '\0';
	tu_mkdirs(p);
	*slash = '/';
	tu_write_file(p, text, 0644);
}

static void cgroup_dir(const char *rel)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/memory.pressure", rel);
	put(p, "some avg10=0.00 avg60=0.00 avg300=0.00 total=100\n"
	       "full avg10=0.00 avg60=0.00 avg300=0.00 total=50\n");
	snprintf(p, sizeof(p), "%s/io.pressure", rel);
	put(p, "some avg10=0.00 avg60=0.00 avg300=0.00 total=100\n"
	       "full avg10=0.00 avg60=0.00 avg300=0.00 total=50\n");
}

#define OLD_GENS(a, b, c, d)                               \
	"  node     0\n"                                   \
	"          " #a "    900000       100       200\n" \
	"          " #b "    800000        10        20\n" \
	"          " #c "    700000        10        20\n" \
	"          " #d "     65000        10        20\n"

static bool make_tree(void)
{
	snprintf(root, sizeof(root), "/tmp/kata-test-memagent-XXXXXX");
	if (!mkdtemp(root))
		return false;
	put("/sys/kernel/mm/lru_gen/enabled", "0x0000\n");
	/* /evil's name holds a newline: "evil\nmemcg 9 /a" forges a second /a */
	put("/sys/kernel/debug/lru_gen",
	    "memcg     1 /\n" OLD_GENS(4, 5, 6, 7) "memcg     2 /a\n" OLD_GENS(
		    4, 5, 6,
		    7) "memcg     3 /b\n" OLD_GENS(14, 15, 16,
						   17) "memcg     6 /b/fresh\n"
						       "  node     0\n"
						       "          1      9000        10        20\n"
						       "          2      5000        10        20\n"
						       "          3      3000        10        20\n"
						       "          4      1000        10        20\n"
						       "memcg     4 /evil\n"
						       "memcg     9 /a\n" OLD_GENS(
							       4, 5, 6,
							       7) "memcg     5 /link\n" OLD_GENS(4,
												 5,
												 6,
												 7));
	cgroup_dir("/sys/fs/cgroup");
	cgroup_dir("/sys/fs/cgroup/a");
	cgroup_dir("/sys/fs/cgroup/b");
	cgroup_dir("/sys/fs/cgroup/b/fresh");
	cgroup_dir("/sys/fs/cgroup/evil\nmemcg 9 ");
	cgroup_dir("/outside");
	char t[256], l[256];
	snprintf(t, sizeof(t), "%s/outside", root);
	snprintf(l, sizeof(l), "%s/sys/fs/cgroup/link", root);
	if (symlink(t, l) < 0)
		return false;
	put("/proc/pressure/memory", "some avg10=0.00 avg60=0.00 avg300=0.00 total=10\n");
	put("/proc/pressure/io", "some avg10=0.00 avg60=0.00 avg300=0.00 total=10\n");
	put("/proc/meminfo", "MemFree:        2000000 kB\nSwapFree:       0 kB\n");
	put("/proc/pagetypeinfo",
	    "Node    0, zone   Normal, type      Movable   5000      0      0      0\n");
	put("/proc/sys/vm/compact_memory", "");
	return true;
}

struct run {
	struct memagent *ma;
	struct loop *l;
	int polls;
};

static void on_poll(struct loop *l, void *data)
{
	struct run *r = data;
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		memagent_reaped(r->ma, pid, st);
	if ((memagent_compactions(r->ma) >= 1 && memagent_memcg_rounds(r->ma) >= 1) ||
	    ++r->polls > 1000) {
		loop_quit(l);
		return;
	}
	loop_timer_add(l, loop_now_ns() + 10000000ull, on_poll, r);
}

TEST(one_round_over_a_fake_tree)
{
	REQUIRE(make_tree());
	struct memagent_cfg c;
	memagent_cfg_defaults(&c);
	c.enable = true;
	c.memcg.eviction_run_aging_count_min = 1; /* evict in the first round */
	c.compact.compact_force_times = 0;
	struct run r = { 0 };
	struct kerr e = { 0 };
	REQUIRE(loop_new(&r.l, &e) == 0);
	struct memagent_env env = { .root = root, .cgroup_v2 = 1 };
	REQUIRE(memagent_start(&r.ma, r.l, &c, &env, &e) == 0);
	CHECK(memagent_memcg_available(r.ma) && memagent_compact_available(r.ma));
	loop_timer_add(r.l, loop_now_ns(), on_poll, &r);
	REQUIRE(loop_run(r.l, &e) == 0);
	CHECK_EQ_INT(memagent_compactions(r.ma), 1);
	CHECK_EQ_INT(memagent_memcg_rounds(r.ma), 1);
	char p[256];
	snprintf(p, sizeof(p), "%s/sys/kernel/mm/lru_gen/enabled", root);
	char *en = tu_read_file(p);
	CHECK(en && en[0] == '7'); /* written over "0x0000" at offset 0, as sysfs takes it */
	free(en);
	snprintf(p, sizeof(p), "%s/proc/sys/vm/compact_memory", root);
	char *cm = tu_read_file(p);
	CHECK(cm && strcmp(cm, "1") == 0);
	free(cm);
	snprintf(p, sizeof(p), "%s/sys/kernel/debug/lru_gen", root);
	char *lg = tu_read_file(p);
	REQUIRE(lg != NULL);
	const char *cmds = strstr(lg, "\n+ ");
	REQUIRE(cmds != NULL);
	cmds++;
	/* / and /b aged and evicted once (the fake's counts never move: the
	 * second step sees no progress); /a (forged twin), /evil (a name with
	 * a newline), /link (a symlink) and /b/fresh (a minute old) never */
	CHECK_EQ_STR(cmds, "+ 1 0 7 0 1\n+ 3 0 17 0 1\n- 1 0 4 0 1\n- 3 0 14 0 1\n");
	free(lg);
	/* a setting changed: applied, checked */
	Grpc__MemAgentCompactConfig q = GRPC__MEM_AGENT_COMPACT_CONFIG__INIT;
	q._disabled_case = GRPC__MEM_AGENT_COMPACT_CONFIG___DISABLED_DISABLED;
	q.disabled = 1;
	CHECK(memagent_set(r.ma, &q.base, &e) == 0);
	CHECK(memagent_cfg(r.ma)->compact.disabled);
	q._period_secs_case = GRPC__MEM_AGENT_COMPACT_CONFIG___PERIOD_SECS_PERIOD_SECS;
	q.period_secs = 0;
	q.disabled = 0;
	CHECK(memagent_set(r.ma, &q.base, &e) < 0);
	CHECK(memagent_cfg(r.ma)->compact.disabled);
	memagent_free(r.ma);
	loop_free(r.l);
	tu_rm_rf(root);
}

/* A compaction that does not end by itself: compact_memory is a fifo
 * nobody reads, so the child's open blocks as a long compaction's write
 * would. The loop goes on; the child is killed by the bound under test. */
struct slow {
	struct memagent *ma;
	struct loop *l;
	int polls, status;
	uint64_t psi; /* > 0: the fake pressure grows by this each poll */
	bool reaped;
};

static void on_slow_poll(struct loop *l, void *data)
{
	struct slow *r = data;
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		if (memagent_reaped(r->ma, pid, st)) {
			r->status = st;
			r->reaped = true;
		}
	if (r->psi) {
		char text[128];
		snprintf(text, sizeof(text), "some avg10=0.00 avg60=0.00 avg300=0.00 total=%llu\n",
			 (unsigned long long)(r->psi * (uint64_t)(r->polls + 1)));
		put("/proc/pressure/memory", text);
	}
	if (r->reaped || ++r->polls > 3000) {
		loop_quit(l);
		return;
	}
	loop_timer_add(l, loop_now_ns() + 10000000ull, on_slow_poll, r);
}

/* Run a compaction against the fifo; true when it was SIGKILLed. */
static bool slow_compaction(int *tap_failed, int64_t sec_max, uint32_t psi_limit, uint64_t psi)
{
	snprintf(root, sizeof(root), "/tmp/kata-test-memagent-XXXXXX");
	if (!mkdtemp(root))
		return false;
	put("/proc/pressure/memory", "some avg10=0.00 avg60=0.00 avg300=0.00 total=10\n");
	put("/proc/pressure/io", "some avg10=0.00 avg60=0.00 avg300=0.00 total=10\n");
	put("/proc/meminfo", "MemFree:        2000000 kB\n");
	put("/proc/pagetypeinfo", "Node    0, zone   Normal, type      Movable   5000\n");
	char p[256];
	snprintf(p, sizeof(p), "%s/proc/sys/vm/compact_memory", root);
	tu_mkdirs(dirname(strdupa(p)));
	if (mkfifo(p, 0600) < 0)
		return false;
	struct memagent_cfg c;
	memagent_cfg_defaults(&c);
	c.enable = true;
	c.compact.compact_force_times = 0;
	c.compact.compact_sec_max = sec_max;
	c.compact.compact_psi_percent_limit = psi_limit;
	struct slow r = { .psi = psi };
	struct kerr e = { 0 };
	struct memagent_env env = { .root = root, .cgroup_v2 = 1 };
	if (loop_new(&r.l, &e) < 0 || memagent_start(&r.ma, r.l, &c, &env, &e) < 0)
		return false;
	loop_timer_add(r.l, loop_now_ns(), on_slow_poll, &r);
	loop_run(r.l, &e);
	CHECK_EQ_INT(memagent_compactions(r.ma), 1);
	memagent_free(r.ma);
	loop_free(r.l);
	tu_rm_rf(root);
	return r.reaped && WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL;
}

TEST(compaction_stopped_at_compact_sec_max)
{
	CHECK(slow_compaction(tap_failed, 1, 100, 0));
}

TEST(compaction_stopped_when_the_pressure_passes_its_limit)
{
	/* 0.5 s of stall added per 10 ms poll: far above 5 %; a day allowed */
	CHECK(slow_compaction(tap_failed, 86400, 5, 500000));
}

TEST(what_the_kernel_lacks_is_left_off)
{
	snprintf(root, sizeof(root), "/tmp/kata-test-memagent-XXXXXX");
	REQUIRE(mkdtemp(root) != NULL);
	struct memagent_cfg c;
	memagent_cfg_defaults(&c);
	c.enable = true;
	struct loop *l;
	struct kerr e = { 0 };
	REQUIRE(loop_new(&l, &e) == 0);
	struct memagent *ma;
	struct memagent_env env = { .root = root, .cgroup_v2 = 0 };
	CHECK(memagent_start(&ma, l, &c, &env, &e) == 0);
	CHECK(!memagent_memcg_available(ma) && !memagent_compact_available(ma));
	Grpc__MemAgentMemcgConfig m = GRPC__MEM_AGENT_MEMCG_CONFIG__INIT;
	m._swap_case = GRPC__MEM_AGENT_MEMCG_CONFIG___SWAP_SWAP;
	m.swap = 1;
	CHECK(memagent_set(ma, &m.base, &e) == 0); /* the settings are kept */
	CHECK(memagent_cfg(ma)->memcg.swap);
	memagent_free(ma);
	loop_free(l);
	tu_rm_rf(root);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return tap_run();
}
