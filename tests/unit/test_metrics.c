/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_metrics.c - GetMetrics without an agent: the executor's readers and
 * Prometheus formatting (agentd/executor/readers/metrics.c) on a fixture proc tree
 * written to a temporary directory, and the front-end's check of the text
 * (agentd/frontend/metrics.c).
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend.h"
#include "grpc_status.h"
#include "metrics.h"
#include "tap.h"
#include "testutil.h"

/* agentd/frontend/metrics.c is linked for metrics_text_check; its RPC
 * handler needs the executor client, which these tests never call. */
int executor_request(struct frontend *fe, struct ttrpc_call *call, uint32_t type,
		     const void *payload, size_t len, executor_reply_fn fn, struct kerr *err)
{
	return kerr_set(err, -ENOSYS, "not in this test");
}

static char root[] = "/tmp/test_metrics.XXXXXX";

static void put(const char *rel, const char *text)
{
	tu_put_file(root, rel, text);
}

static void link_to(const char *rel, const char *target)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	*slash = '/';
	for (char *s = dir + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(dir, 0755);
		*s = '/';
	}
	mkdir(dir, 0755);
	if (symlink(target, path) < 0)
		printf("# symlink %s: %s\n", path, strerror(errno));
}

static void fixtures(void)
{
	put("stat", "cpu  100 2 30 4000 5 0 6 0 0 0\n"
		    "cpu0 50 1 15 2000 2 0 3 0 0 0\n"
		    "cpu1 50 1 15 2000 3 0 3 0 0 0\n"
		    "intr 12345 0 0\n"
		    "ctxt 999\n"
		    "btime 1700000000\n"
		    "processes 100\n");
	put("loadavg", "0.50 0.25 0.10 2/345 6789\n");
	put("meminfo", "MemTotal:        2048000 kB\n"
		       "MemFree:            1024 kB\n"
		       "Active(anon):         10 kB\n"
		       "HugePages_Total:       2\n"
		       "Zswap:                 5 kB\n");
	put("vmstat", "nr_free_pages 1234\npgfault 99\n");
	put("diskstats", "   8       0 vda 10 1 200 30 40 2 300 50 0 60 70 0 0 0 0 1 2\n"
			 "   7       0 loop\"0\\x 1 2 3 4 5 6 7 8 9 10 11\n");
	put("net/dev",
	    "Inter-|   Receive                                                |  Transmit\n"
	    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
	    "errs drop fifo colls carrier compressed\n"
	    "    lo:    1000      10    0    0    0     0          0         0     1000      10"
	    "    0    0    0     0       0          0\n"
	    "  eth0: 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20\n");
	/* pid 100: everything readable; comm with a space and a ')' */
	put("100/stat", "100 (kata agent) x) S 1 100 100 0 -1 4194560 10 0 0 0 250 150 7 3 20 0 4 "
			"0 12345 104857600 512 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 "
			"0 0 0 0 0 0\n");
	put("100/status", "Name:\tkata agent\nVmPeak:\t    2000 kB\nVmRSS:\t    2048 kB\n"
			  "Threads:\t4\nvoluntary_ctxt_switches:\t17\n"
			  "nonvoluntary_ctxt_switches:\t2\n");
	put("100/io", "rchar: 11\nwchar: 22\nsyscr: 3\nsyscw: 4\nread_bytes: 0\n"
		      "write_bytes: 4096\ncancelled_write_bytes: 0\n");
	put("100/limits",
	    "Limit                     Soft Limit           Hard Limit           Units     \n"
	    "Max cpu time              unlimited            unlimited            seconds   \n"
	    "Max open files            1024                 524288               files     \n");
	put("100/fd/0", "");
	put("100/fd/1", "");
	put("100/fd/2", "");
	/* pid 200: only stat and status (io, limits, fd unreadable) */
	put("200/stat", "200 (kata-agent-mon) S 100 200 200 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 500 "
			"2000000 100 0\n");
	put("200/status", "Name:\tmon\nVmRSS:\t 400 kB\n");
	/* pid 300 is not there: it exited after being listed */

	/* launcher lookup: monitor 50 with children 51 52 53 */
	link_to("self/exe", "/proc/self/exe");
	put("50/task/50/children", "51 52 53 ");
	link_to("51/exe", "/");
	link_to("52/exe", "/proc/self/exe");
	link_to("53/exe", "/proc/self/exe");
}

static struct metrics_env env_of(size_t limit)
{
	return (struct metrics_env){ .proc_root = root,
				     .ticks_per_sec = 100,
				     .page_size = 4096,
				     .limit = limit };
}

static const struct metrics_target targets[] = {
	{ "parent", NULL, 100 },
	{ "monitor", "ctr-1", 200 },
	{ "launcher", "ctr-1", 300 },
};

static char *render(size_t limit, size_t *len)
{
	struct metrics_env env = env_of(limit);
	char *text = NULL;
	struct kerr e = { 0 };
	if (metrics_render(&env, targets, 3, 7, &text, len, &e) < 0) {
		printf("# metrics_render: %s\n", e.msg);
		return NULL;
	}
	return text;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

static int count_prefix(const char *text, const char *prefix)
{
	int n = 0;
	size_t k = strlen(prefix);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, k) == 0)
			n++;
	return n;
}

/* Every line is a comment, or a sample in the 0.0.4 syntax; every family
 * has one TYPE line, before its samples. */
static int check_syntax(const char *text)
{
	regex_t re;
	const char *sample = "^[a-zA-Z_:][a-zA-Z0-9_:]*"
			     "(\\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\[\\\\\"n])*\""
			     "(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\[\\\\\"n])*\")*)?\\})?"
			     " ([-+]?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?|[-+]Inf|NaN)$";
	if (regcomp(&re, sample, REG_EXTENDED | REG_NOSUB) != 0)
		return -1;
	int bad = 0;
	char *copy = strdup(text), *save = NULL;
	char types[64][64];
	int ntypes = 0;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char name[64];
			if (sscanf(line + 7, "%63s", name) != 1)
				bad++;
			for (int i = 0; i < ntypes; i++)
				if (strcmp(types[i], name) == 0) {
					printf("# two TYPE lines for %s\n", name);
					bad++;
				}
			if (ntypes < 64)
				snprintf(types[ntypes++], 64, "%s", name);
			continue;
		}
		if (line[0] == '#')
			continue;
		if (regexec(&re, line, 0, NULL, 0) != 0) {
			printf("# not a sample: %s\n", line);
			bad++;
			continue;
		}
		/* its family (the name up to '{' or ' ') was typed */
		size_t k = strcspn(line, "{ ");
		bool typed = false;
		for (int i = 0; i < ntypes; i++)
			typed |= strlen(types[i]) == k && strncmp(types[i], line, k) == 0;
		if (!typed) {
			printf("# sample before its TYPE: %s\n", line);
			bad++;
		}
	}
	free(copy);
	regfree(&re);
	return bad;
}

TEST(setup)
{
	REQUIRE(mkdtemp(root) != NULL);
	fixtures();
}

TEST(escape_label)
{
	char out[64];
	CHECK_EQ_INT(metrics_escape_label("eth0", out, sizeof(out)), 4);
	CHECK_EQ_STR(out, "eth0");
	metrics_escape_label("a\\b\"c\nd\x01\xc3\xa9", out, sizeof(out));
	CHECK_EQ_STR(out, "a\\\\b\\\"c\\nd???");
	/* truncated at a whole escape, always NUL-terminated */
	CHECK_EQ_INT(metrics_escape_label("ab\"", out, 4), 2);
	CHECK_EQ_STR(out, "ab");
	CHECK_EQ_INT(metrics_escape_label(NULL, out, sizeof(out)), 0);
	CHECK_EQ_STR(out, "");
}

TEST(read_proc)
{
	struct metrics_env env = env_of(METRICS_MAX_TEXT);
	struct metrics_proc p;
	struct kerr e = { 0 };
	CHECK_EQ_INT(metrics_read_proc(&env, 100, &p, &e), 0);
	CHECK_EQ_INT(p.utime, 250);
	CHECK_EQ_INT(p.stime, 150);
	CHECK_EQ_INT(p.cutime, 7);
	CHECK_EQ_INT(p.cstime, 3);
	CHECK_EQ_INT(p.threads, 4);
	CHECK_EQ_INT(p.start_ticks, 12345);
	CHECK_EQ_INT(p.vsize_bytes, 104857600);
	CHECK_EQ_INT(p.rss_bytes, 512 * 4096);
	CHECK(p.has_fds);
	CHECK_EQ_INT(p.open_fds, 3);
	CHECK(p.has_max_fds && !p.max_fds_unlimited);
	CHECK_EQ_INT(p.max_fds, 1024);
	CHECK(p.has_io[1]);
	CHECK_EQ_INT(p.io[1], 22);

	CHECK_EQ_INT(metrics_read_proc(&env, 200, &p, &e), 0);
	CHECK(!p.has_fds && !p.has_max_fds && !p.has_io[0]);

	/* vanished: -ESRCH, which the renderer skips */
	CHECK_EQ_INT(metrics_read_proc(&env, 300, &p, &e), -ESRCH);
	CHECK_EQ_INT(metrics_read_proc(&env, 0, &p, &e), -ESRCH);
	/* a stat line that is cut short is an error, not zeros */
	put("400/stat", "400 (x) S 1 2\n");
	put("400/status", "Name:\tx\n");
	CHECK_EQ_INT(metrics_read_proc(&env, 400, &p, &e), -EINVAL);
}

TEST(render_agent_families)
{
	size_t len = 0;
	char *t = render(METRICS_MAX_TEXT, &len);
	REQUIRE(t != NULL);
	CHECK_EQ_INT(strlen(t), len);
	CHECK(has_line(t, "# TYPE kata_agent_scrape_count counter"));
	CHECK(has_line(t, "kata_agent_scrape_count 7"));
	CHECK(has_line(t, "kata_agent_threads{process=\"parent\"} 4"));
	CHECK(has_line(t, "kata_agent_threads{process=\"monitor\",container_id=\"ctr-1\"} 1"));
	CHECK(has_line(t, "kata_agent_total_time{process=\"parent\"} 4.00"));
	CHECK(has_line(t, "kata_agent_total_time{process=\"monitor\",container_id=\"ctr-1\"} 0.03"));
	CHECK(has_line(t, "kata_agent_total_vm{process=\"parent\"} 104857600"));
	CHECK(has_line(t, "kata_agent_total_rss{process=\"parent\"} 2097152"));
	CHECK(has_line(t, "kata_agent_open_fds{process=\"parent\"} 3"));
	CHECK(has_line(t, "kata_agent_max_fds{process=\"parent\"} 1024"));
	CHECK(has_line(t, "kata_agent_start_time_seconds{process=\"parent\"} 1700000123.45"));
	CHECK(has_line(t, "kata_agent_proc_status{process=\"parent\",item=\"vmrss\"} 2048"));
	CHECK(has_line(
		t,
		"kata_agent_proc_status{process=\"parent\",item=\"voluntary_ctxt_switches\"} 17"));
	CHECK(has_line(t, "kata_agent_proc_stat{process=\"parent\",item=\"cutime\"} 7"));
	CHECK(has_line(t, "kata_agent_io_stat{process=\"parent\",item=\"write_bytes\"} 4096"));
	/* what the monitor does not let us read is left out, not zero */
	CHECK(!strstr(t, "kata_agent_open_fds{process=\"monitor\""));
	CHECK(!strstr(t, "kata_agent_io_stat{process=\"monitor\""));
	/* the vanished launcher has no line at all */
	CHECK(!strstr(t, "process=\"launcher\""));
	CHECK_EQ_INT(check_syntax(t), 0);
	free(t);
}

TEST(render_guest_families)
{
	size_t len = 0;
	char *t = render(METRICS_MAX_TEXT, &len);
	REQUIRE(t != NULL);
	CHECK(has_line(t, "kata_guest_load{item=\"load1\"} 0.50"));
	CHECK(has_line(t, "kata_guest_load{item=\"load15\"} 0.10"));
	CHECK(has_line(t, "kata_guest_tasks{item=\"cur\"} 2"));
	CHECK(has_line(t, "kata_guest_tasks{item=\"max\"} 345"));
	CHECK(has_line(t, "kata_guest_cpu_time{cpu=\"total\",item=\"user\"} 1000"));
	CHECK(has_line(t, "kata_guest_cpu_time{cpu=\"1\",item=\"iowait\"} 30"));
	CHECK(has_line(t, "kata_guest_cpu_time{cpu=\"0\",item=\"guest_nice\"} 0"));
	CHECK_EQ_INT(count_prefix(t, "kata_guest_cpu_time{"), 30);
	CHECK(has_line(t, "kata_guest_meminfo{item=\"mem_total\"} 2097152000"));
	CHECK(has_line(t, "kata_guest_meminfo{item=\"active_anon\"} 10240"));
	CHECK(has_line(t, "kata_guest_meminfo{item=\"hugepages_total\"} 2"));
	CHECK(!strstr(t, "Zswap") && !strstr(t, "zswap"));
	CHECK(has_line(t, "kata_guest_vm_stat{item=\"pgfault\"} 99"));
	CHECK(has_line(t, "kata_guest_diskstat{disk=\"vda\",item=\"reads\"} 10"));
	CHECK(has_line(t, "kata_guest_diskstat{disk=\"vda\",item=\"time_flushing\"} 2"));
	CHECK_EQ_INT(count_prefix(t, "kata_guest_diskstat{disk=\"vda\""), 17);
	/* an older kernel's 11 fields; the name escaped */
	CHECK(has_line(
		t,
		"kata_guest_diskstat{disk=\"loop\\\"0\\\\x\",item=\"weighted_time_in_progress\"} 11"));
	CHECK_EQ_INT(count_prefix(t, "kata_guest_diskstat{disk=\"loop"), 11);
	CHECK(has_line(t, "kata_guest_netdev_stat{interface=\"lo\",item=\"recv_bytes\"} 1000"));
	CHECK(has_line(t, "kata_guest_netdev_stat{interface=\"eth0\",item=\"sent_compressed\"} 20"));
	CHECK_EQ_INT(count_prefix(t, "kata_guest_netdev_stat{"), 32);
	CHECK(!strstr(t, "output limit"));
	CHECK_EQ_INT(check_syntax(t), 0);
	/* and the front-end takes it */
	struct kerr e = { 0 };
	CHECK_EQ_INT(metrics_text_check((const uint8_t *)t, len, &e), 0);
	free(t);
}

TEST(render_bounded)
{
	size_t full = 0;
	char *all = render(METRICS_MAX_TEXT, &full);
	REQUIRE(all != NULL);
	/* A limit that cuts inside the guest families: the text stays under
	 * it, whole families only, and says where it stopped. */
	const char *cut = strstr(all, "# HELP kata_guest_netdev_stat");
	REQUIRE(cut != NULL);
	size_t limit = (size_t)(cut - all) + 256 + 100;
	size_t len = 0;
	char *t = render(limit, &len);
	REQUIRE(t != NULL);
	CHECK(len <= limit);
	CHECK(strstr(t, "kata_guest_load{") != NULL);
	CHECK(!strstr(t, "kata_guest_netdev_stat{"));
	CHECK(!strstr(t, "kata_guest_vm_stat{"));
	char note[160];
	snprintf(note, sizeof(note),
		 "# kata-agent: output limit of %zu bytes reached: "
		 "kata_guest_netdev_stat and the families after it are left out",
		 limit);
	CHECK(has_line(t, note));
	CHECK_EQ_INT(check_syntax(t), 0);
	CHECK_EQ_INT(memcmp(t, all, (size_t)(cut - all)), 0);
	free(t);

	/* Tiny: even the agent families stop early, still valid. */
	t = render(600, &len);
	REQUIRE(t != NULL);
	CHECK(len <= 600);
	CHECK(has_line(t, "kata_agent_scrape_count 7"));
	CHECK(strstr(t, "output limit of 600 bytes reached") != NULL);
	CHECK_EQ_INT(check_syntax(t), 0);
	free(t);
	free(all);

	struct metrics_env env = env_of(100);
	struct kerr e = { 0 };
	char *x = NULL;
	CHECK_EQ_INT(metrics_render(&env, targets, 3, 1, &x, &len, &e), -EINVAL);
	env = env_of(METRICS_MAX_TEXT + 1);
	CHECK_EQ_INT(metrics_render(&env, targets, 3, 1, &x, &len, &e), -EINVAL);
}

TEST(render_without_proc_files)
{
	/* An empty proc root: no process, no guest file; the scrape count
	 * still makes a valid, non-empty text. */
	char empty[] = "/tmp/test_metrics_empty.XXXXXX";
	REQUIRE(mkdtemp(empty) != NULL);
	struct metrics_env env = { .proc_root = empty,
				   .ticks_per_sec = 100,
				   .page_size = 4096,
				   .limit = METRICS_MAX_TEXT };
	char *t = NULL;
	size_t len = 0;
	struct kerr e = { 0 };
	CHECK_EQ_INT(metrics_render(&env, targets, 3, 1, &t, &len, &e), 0);
	CHECK(t && has_line(t, "kata_agent_scrape_count 1"));
	CHECK(t && !strstr(t, "kata_guest_"));
	CHECK(t && check_syntax(t) == 0);
	free(t);
	rmdir(empty);
}

TEST(find_launcher)
{
	pid_t skip[1] = { 52 };
	CHECK_EQ_INT(metrics_find_launcher(root, NULL, 50, NULL, 0), 52);
	CHECK_EQ_INT(metrics_find_launcher(root, NULL, 50, skip, 1), 53);
	CHECK_EQ_INT(metrics_find_launcher(root, NULL, 51, NULL, 0), 0);
	CHECK_EQ_INT(metrics_find_launcher(root, NULL, 0, NULL, 0), 0);
}

TEST(frontend_text_check)
{
	struct kerr e = { 0 };
#define OK(s) metrics_text_check((const uint8_t *)(s), sizeof(s) - 1, &e)
	CHECK_EQ_INT(OK("a 1\n"), 0);
	CHECK_EQ_INT(OK("# HELP x caf\xc3\xa9\nx{a=\"\xe2\x82\xac\"} 1\n"), 0);
	CHECK_EQ_INT(OK("x\t1\n"), 0);
	CHECK(OK("a 1") < 0); /* no final newline */
	CHECK(strstr(e.msg, "newline") != NULL);
	CHECK_EQ_INT(kerr_status(&e), GRPC_INTERNAL);
	CHECK(OK("a\0 1\n") < 0); /* NUL */
	CHECK(OK("a\r1\n") < 0);  /* control */
	CHECK(OK("a\x7f"
		 "1\n") < 0);       /* DEL */
	CHECK(OK("a\xc3 1\n") < 0); /* truncated sequence */
	CHECK(strstr(e.msg, "invalid UTF-8 at offset 1") != NULL);
	CHECK(OK("a\xc0\xaf\n") < 0);         /* overlong '/' */
	CHECK(OK("a\xed\xa0\x80\n") < 0);     /* surrogate */
	CHECK(OK("a\xf4\x90\x80\x80\n") < 0); /* above U+10FFFF */
	CHECK(OK("a\xff\n") < 0);
	CHECK(metrics_text_check((const uint8_t *)"", 0, &e) < 0);
#undef OK
}

TEST(cleanup)
{
	CHECK_EQ_INT(tu_rm_rf(root), 0);
}

int main(void)
{
	return tap_run();
}
