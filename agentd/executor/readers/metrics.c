/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c - the Prometheus text of GetMetrics (see metrics.h): per
 * process kata_agent_* families labelled by process (and container_id), the
 * guest's kata_guest_* families from /proc/{loadavg,stat,meminfo,vmstat,
 * diskstats,net/dev}. Item names and label keys are upstream's
 * (src/agent/src/metrics.rs); what differs is in doc/protocol.md.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "log.h"
#include "metrics.h"

/* ---- the output buffer ---- */

struct mbuf {
	char *p;
	size_t len, cap, limit;
	bool over; /* a write did not fit under limit */
	bool nomem;
};

__attribute__((format(printf, 2, 3))) static void mb_printf(struct mbuf *b, const char *fmt, ...)
{
	if (b->over || b->nomem)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->nomem = true;
			return;
		}
		if (b->len + (size_t)n > b->limit) {
			b->p[b->len] = '\0';
			b->over = true;
			return;
		}
		if (b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap * 2;
		if (cap > b->limit + 1)
			cap = b->limit + 1;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->p[b->len] = '\0';
			b->nomem = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
}

static void family(struct mbuf *b, const char *name, const char *type, const char *help)
{
	mb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* ---- small readers ---- */

static FILE *open_in(const char *root, const char *rel)
{
	char path[4096];
	int n = snprintf(path, sizeof(path), "%s/%s", root, rel);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return fopen(path, "re");
}

static bool parse_u64(const char *s, uint64_t *out, const char **end)
{
	char *e;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &e, 10);
	if (errno)
		return false;
	*out = v;
	if (end)
		*end = e;
	return true;
}

size_t metrics_escape_label(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	if (!outlen)
		return 0;
	for (; in && *in; in++) {
		unsigned char c = (unsigned char)*in;
		const char *rep = NULL;
		char one[2] = { (char)c, '\0' };
		if (c == '\\')
			rep = "\\\\";
		else if (c == '"')
			rep = "\\\"";
		else if (c == '\n')
			rep = "\\n";
		else if (c < 0x20 || c > 0x7e)
			rep = "?";
		else
			rep = one;
		size_t k = strlen(rep);
		if (o + k >= outlen)
			break;
		memcpy(out + o, rep, k);
		o += k;
	}
	out[o] = '\0';
	return o;
}

/* ---- one process ---- */

static const char *const status_keys[METRICS_STATUS_ITEMS][2] = {
	{ "VmPeak", "vmpeak" },
	{ "VmSize", "vmsize" },
	{ "VmLck", "vmlck" },
	{ "VmPin", "vmpin" },
	{ "VmHWM", "vmhwm" },
	{ "VmRSS", "vmrss" },
	{ "RssAnon", "rssanon" },
	{ "RssFile", "rssfile" },
	{ "RssShmem", "rssshmem" },
	{ "VmData", "vmdata" },
	{ "VmStk", "vmstk" },
	{ "VmExe", "vmexe" },
	{ "VmLib", "vmlib" },
	{ "VmPTE", "vmpte" },
	{ "VmSwap", "vmswap" },
	{ "HugetlbPages", "hugetlbpages" },
	{ "voluntary_ctxt_switches", "voluntary_ctxt_switches" },
	{ "nonvoluntary_ctxt_switches", "nonvoluntary_ctxt_switches" },
};

static const char *const io_keys[METRICS_IO_ITEMS] = {
	"rchar", "wchar", "syscr", "syscw", "read_bytes", "write_bytes", "cancelled_write_bytes",
};

static bool gone(int e)
{
	return e == ENOENT || e == ESRCH;
}

static int read_stat(const struct metrics_env *env, pid_t pid, struct metrics_proc *out,
		     struct kerr *err)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "%d/stat", (int)pid);
	cleanup_fclose FILE *f = open_in(env->proc_root, rel);
	if (!f)
		return kerr_set(err, gone(errno) ? -ESRCH : -errno, "open %s/%s: %s",
				env->proc_root, rel, strerror(errno));
	char line[2048];
	if (!fgets(line, sizeof(line), f))
		return kerr_set(err, ferror(f) && gone(errno) ? -ESRCH : -EIO,
				"read %s/%s: empty or unreadable", env->proc_root, rel);
	/* comm may hold spaces and ')': the fields start after the last ')'. */
	char *p = strrchr(line, ')');
	if (!p)
		return kerr_set(err, -EINVAL, "%s/%s: no ')' after the command name",
				env->proc_root, rel);
	p++;
	uint64_t v[25] = { 0 };
	int field = 3; /* state */
	char *save = NULL;
	for (char *tok = strtok_r(p, " \n", &save); tok && field <= 24;
	     tok = strtok_r(NULL, " \n", &save), field++) {
		if (field == 3)
			continue;
		/* Some fields (priority, nice) may be negative; none we use is. */
		if (!parse_u64(tok, &v[field], NULL))
			v[field] = 0;
	}
	if (field <= 24)
		return kerr_set(err, -EINVAL, "%s/%s: %d fields, at least 24 expected",
				env->proc_root, rel, field - 1);
	out->utime = v[14];
	out->stime = v[15];
	out->cutime = v[16];
	out->cstime = v[17];
	out->threads = v[20];
	out->start_ticks = v[22];
	out->vsize_bytes = v[23];
	out->rss_bytes = v[24] * (uint64_t)env->page_size;
	return 0;
}

static int read_status(const struct metrics_env *env, pid_t pid, struct metrics_proc *out,
		       struct kerr *err)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "%d/status", (int)pid);
	cleanup_fclose FILE *f = open_in(env->proc_root, rel);
	if (!f)
		return kerr_set(err, gone(errno) ? -ESRCH : -errno, "open %s/%s: %s",
				env->proc_root, rel, strerror(errno));
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		for (size_t i = 0; i < METRICS_STATUS_ITEMS; i++) {
			if (strcmp(line, status_keys[i][0]) == 0) {
				out->has_status[i] = parse_u64(colon + 1, &out->status[i], NULL);
				break;
			}
		}
	}
	return 0;
}

/* The optional parts: each left out when unreadable. */
static void read_io(const struct metrics_env *env, pid_t pid, struct metrics_proc *out)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "%d/io", (int)pid);
	cleanup_fclose FILE *f = open_in(env->proc_root, rel);
	if (!f)
		return;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		for (size_t i = 0; i < METRICS_IO_ITEMS; i++)
			if (strcmp(line, io_keys[i]) == 0)
				out->has_io[i] = parse_u64(colon + 1, &out->io[i], NULL);
	}
}

static void read_limits(const struct metrics_env *env, pid_t pid, struct metrics_proc *out)
{
	static const char key[] = "Max open files";
	char rel[64];
	snprintf(rel, sizeof(rel), "%d/limits", (int)pid);
	cleanup_fclose FILE *f = open_in(env->proc_root, rel);
	if (!f)
		return;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, sizeof(key) - 1) != 0)
			continue;
		const char *s = line + sizeof(key) - 1;
		while (*s == ' ')
			s++;
		if (strncmp(s, "unlimited", 9) == 0) {
			out->has_max_fds = out->max_fds_unlimited = true;
		} else if (parse_u64(s, &out->max_fds, NULL)) {
			out->has_max_fds = true;
		}
		return;
	}
}

static void count_fds(const struct metrics_env *env, pid_t pid, struct metrics_proc *out)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%d/fd", env->proc_root, (int)pid);
	cleanup_closedir DIR *d = opendir(path);
	if (!d)
		return;
	uint64_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	out->open_fds = n;
	out->has_fds = true;
}

int metrics_read_proc(const struct metrics_env *env, pid_t pid, struct metrics_proc *out,
		      struct kerr *err)
{
	memset(out, 0, sizeof(*out));
	if (pid <= 0)
		return kerr_set(err, -ESRCH, "pid %d is not a process", (int)pid);
	int r = read_stat(env, pid, out, err);
	if (r < 0)
		return r;
	r = read_status(env, pid, out, err);
	if (r < 0)
		return r;
	read_io(env, pid, out);
	read_limits(env, pid, out);
	count_fds(env, pid, out);
	return 0;
}

pid_t metrics_find_launcher(const char *proc_root, const char *exe, pid_t monitor,
			    const pid_t *skip, size_t n_skip)
{
	char path[4096];
	struct stat self, other;
	snprintf(path, sizeof(path), "%s/self/exe", proc_root);
	if (monitor <= 0 || stat(path, &self) < 0)
		return 0;
	if (!exe || stat(exe, &other) < 0)
		other = self;
	char rel[96];
	snprintf(rel, sizeof(rel), "%d/task/%d/children", (int)monitor, (int)monitor);
	cleanup_fclose FILE *f = open_in(proc_root, rel);
	if (!f)
		return 0;
	char buf[4096];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	const char *s = buf;
	uint64_t v;
	/* A clone not yet known as an exec also runs our binary, briefly; the
	 * launcher was forked before any of them, so the lowest pid wins
	 * (pids wrapping around between the two is not worth handling). */
	pid_t best = 0;
	while (parse_u64(s, &v, &s)) {
		pid_t c = (pid_t)v;
		bool skipped = false;
		for (size_t i = 0; i < n_skip; i++)
			skipped |= skip[i] == c;
		struct stat st;
		snprintf(path, sizeof(path), "%s/%d/exe", proc_root, (int)c);
		if (!skipped && c > 0 && (!best || c < best) && stat(path, &st) == 0 &&
		    ((st.st_dev == self.st_dev && st.st_ino == self.st_ino) ||
		     (st.st_dev == other.st_dev && st.st_ino == other.st_ino)))
			best = c;
	}
	return best;
}

/* ---- agent families ---- */

struct proc_row {
	char labels[400]; /* process="..",container_id=".." (escaped) */
	struct metrics_proc p;
};

static void proc_family_u64(struct mbuf *b, const struct proc_row *rows, size_t n, const char *name,
			    const char *help, size_t off_has, size_t off_val)
{
	family(b, name, "gauge", help);
	for (size_t i = 0; i < n; i++) {
		const char *base = (const char *)&rows[i].p;
		if (off_has != (size_t)-1 && !*(const bool *)(const void *)(base + off_has))
			continue;
		uint64_t v;
		memcpy(&v, base + off_val, sizeof(v));
		mb_printf(b, "%s{%s} %" PRIu64 "\n", name, rows[i].labels, v);
	}
}

#define NO_FLAG ((size_t)-1)
#define FIELD(f) offsetof(struct metrics_proc, f)

static void agent_families(struct mbuf *b, const struct metrics_env *env,
			   const struct proc_row *rows, size_t n, uint64_t btime, bool has_btime,
			   uint64_t scrape_count, size_t *mark, const char **stopped_at)
{
	double tps = (double)env->ticks_per_sec;
#define STEP(label)                          \
	do {                                 \
		if (b->over || b->nomem) {   \
			b->len = *mark;      \
			*stopped_at = label; \
			return;              \
		}                            \
		*mark = b->len;              \
	} while (0)

	*mark = b->len;
	family(b, "kata_agent_scrape_count", "counter", "Metrics scrape count");
	mb_printf(b, "kata_agent_scrape_count %" PRIu64 "\n", scrape_count);
	STEP("kata_agent_scrape_count");

	proc_family_u64(b, rows, n, "kata_agent_threads", "Agent process threads", NO_FLAG,
			FIELD(threads));
	STEP("kata_agent_threads");

	family(b, "kata_agent_total_time", "gauge",
	       "Agent process total time (user + system CPU seconds)");
	for (size_t i = 0; i < n; i++)
		mb_printf(b, "kata_agent_total_time{%s} %.2f\n", rows[i].labels,
			  (double)(rows[i].p.utime + rows[i].p.stime) / tps);
	STEP("kata_agent_total_time");

	proc_family_u64(b, rows, n, "kata_agent_total_vm", "Agent process total VM size (bytes)",
			NO_FLAG, FIELD(vsize_bytes));
	STEP("kata_agent_total_vm");
	proc_family_u64(b, rows, n, "kata_agent_total_rss", "Agent process total RSS size (bytes)",
			NO_FLAG, FIELD(rss_bytes));
	STEP("kata_agent_total_rss");
	proc_family_u64(b, rows, n, "kata_agent_open_fds", "Agent process open file descriptors",
			FIELD(has_fds), FIELD(open_fds));
	STEP("kata_agent_open_fds");

	family(b, "kata_agent_max_fds", "gauge",
	       "Agent process file descriptor limit (soft RLIMIT_NOFILE)");
	for (size_t i = 0; i < n; i++) {
		if (!rows[i].p.has_max_fds)
			continue;
		if (rows[i].p.max_fds_unlimited)
			mb_printf(b, "kata_agent_max_fds{%s} +Inf\n", rows[i].labels);
		else
			mb_printf(b, "kata_agent_max_fds{%s} %" PRIu64 "\n", rows[i].labels,
				  rows[i].p.max_fds);
	}
	STEP("kata_agent_max_fds");

	if (has_btime) {
		family(b, "kata_agent_start_time_seconds", "gauge",
		       "Agent process start time since the Unix epoch (seconds)");
		for (size_t i = 0; i < n; i++)
			mb_printf(b, "kata_agent_start_time_seconds{%s} %.2f\n", rows[i].labels,
				  (double)btime + (double)rows[i].p.start_ticks / tps);
		STEP("kata_agent_start_time_seconds");
	}

	family(b, "kata_agent_proc_status", "gauge", "Agent process status.");
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < METRICS_STATUS_ITEMS; k++)
			if (rows[i].p.has_status[k])
				mb_printf(b, "kata_agent_proc_status{%s,item=\"%s\"} %" PRIu64 "\n",
					  rows[i].labels, status_keys[k][1], rows[i].p.status[k]);
	STEP("kata_agent_proc_status");

	family(b, "kata_agent_proc_stat", "gauge", "Agent process statistics.");
	for (size_t i = 0; i < n; i++) {
		const struct metrics_proc *p = &rows[i].p;
		const uint64_t v[4] = { p->utime, p->stime, p->cutime, p->cstime };
		static const char *const item[4] = { "utime", "stime", "cutime", "cstime" };
		for (size_t k = 0; k < 4; k++)
			mb_printf(b, "kata_agent_proc_stat{%s,item=\"%s\"} %" PRIu64 "\n",
				  rows[i].labels, item[k], v[k]);
	}
	STEP("kata_agent_proc_stat");

	family(b, "kata_agent_io_stat", "gauge", "Agent process IO statistics.");
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < METRICS_IO_ITEMS; k++)
			if (rows[i].p.has_io[k])
				mb_printf(b, "kata_agent_io_stat{%s,item=\"%s\"} %" PRIu64 "\n",
					  rows[i].labels, io_keys[k], rows[i].p.io[k]);
	STEP("kata_agent_io_stat");
#undef STEP
}

/* ---- guest families: each returns false if its file is unreadable ---- */

static bool guest_load(struct mbuf *b, const struct metrics_env *env)
{
	cleanup_fclose FILE *f = open_in(env->proc_root, "loadavg");
	double l1, l5, l15;
	unsigned long long cur, max;
	if (!f || fscanf(f, "%lf %lf %lf %llu/%llu", &l1, &l5, &l15, &cur, &max) != 5)
		return false;
	family(b, "kata_guest_load", "gauge", "Guest system load.");
	mb_printf(b, "kata_guest_load{item=\"load1\"} %.2f\n", l1);
	mb_printf(b, "kata_guest_load{item=\"load5\"} %.2f\n", l5);
	mb_printf(b, "kata_guest_load{item=\"load15\"} %.2f\n", l15);
	family(b, "kata_guest_tasks", "gauge", "Guest system tasks.");
	mb_printf(b, "kata_guest_tasks{item=\"cur\"} %llu\n", cur);
	mb_printf(b, "kata_guest_tasks{item=\"max\"} %llu\n", max);
	return true;
}

static bool guest_cpu_time(struct mbuf *b, const struct metrics_env *env)
{
	static const char *const item[] = { "user", "nice",    "system", "idle",  "iowait",
					    "irq",  "softirq", "steal",  "guest", "guest_nice" };
	cleanup_fclose FILE *f = open_in(env->proc_root, "stat");
	if (!f)
		return false;
	family(b, "kata_guest_cpu_time", "gauge", "Guest CPU statistics (milliseconds).");
	char line[1024];
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "cpu", 3) != 0)
			continue;
		char cpu[32];
		const char *s = line + 3;
		if (*s == ' ') {
			snprintf(cpu, sizeof(cpu), "total");
		} else {
			size_t k = 0;
			while (*s >= '0' && *s <= '9' && k + 1 < sizeof(cpu))
				cpu[k++] = *s++;
			cpu[k] = '\0';
			if (!k || *s != ' ')
				continue;
		}
		uint64_t v;
		for (size_t k = 0; k < sizeof(item) / sizeof(item[0]) && parse_u64(s, &v, &s); k++)
			mb_printf(b, "kata_guest_cpu_time{cpu=\"%s\",item=\"%s\"} %" PRIu64 "\n",
				  cpu, item[k], v * 1000u / (uint64_t)env->ticks_per_sec);
	}
	return true;
}

static const char *const meminfo_keys[][2] = {
	{ "MemTotal", "mem_total" },
	{ "MemFree", "mem_free" },
	{ "MemAvailable", "mem_available" },
	{ "Buffers", "buffers" },
	{ "Cached", "cached" },
	{ "SwapCached", "swap_cached" },
	{ "Active", "active" },
	{ "Inactive", "inactive" },
	{ "Active(anon)", "active_anon" },
	{ "Inactive(anon)", "inactive_anon" },
	{ "Active(file)", "active_file" },
	{ "Inactive(file)", "inactive_file" },
	{ "Unevictable", "unevictable" },
	{ "Mlocked", "mlocked" },
	{ "HighTotal", "high_total" },
	{ "HighFree", "high_free" },
	{ "LowTotal", "low_total" },
	{ "LowFree", "low_free" },
	{ "MmapCopy", "mmap_copy" },
	{ "SwapTotal", "swap_total" },
	{ "SwapFree", "swap_free" },
	{ "Dirty", "dirty" },
	{ "Writeback", "writeback" },
	{ "AnonPages", "anon_pages" },
	{ "Mapped", "mapped" },
	{ "Shmem", "shmem" },
	{ "Slab", "slab" },
	{ "SReclaimable", "s_reclaimable" },
	{ "SUnreclaim", "s_unreclaim" },
	{ "KernelStack", "kernel_stack" },
	{ "PageTables", "page_tables" },
	{ "Quicklists", "quicklists" },
	{ "NFS_Unstable", "nfs_unstable" },
	{ "Bounce", "bounce" },
	{ "WritebackTmp", "writeback_tmp" },
	{ "CommitLimit", "commit_limit" },
	{ "Committed_AS", "committed_as" },
	{ "VmallocTotal", "vmalloc_total" },
	{ "VmallocUsed", "vmalloc_used" },
	{ "VmallocChunk", "vmalloc_chunk" },
	{ "HardwareCorrupted", "hardware_corrupted" },
	{ "AnonHugePages", "anon_hugepages" },
	{ "ShmemHugePages", "shmem_hugepages" },
	{ "ShmemPmdMapped", "shmem_pmd_mapped" },
	{ "CmaTotal", "cma_total" },
	{ "CmaFree", "cma_free" },
	{ "HugePages_Total", "hugepages_total" },
	{ "HugePages_Free", "hugepages_free" },
	{ "HugePages_Rsvd", "hugepages_rsvd" },
	{ "HugePages_Surp", "hugepages_surp" },
	{ "Hugepagesize", "hugepagesize" },
	{ "DirectMap4k", "direct_map_4k" },
	{ "DirectMap4M", "direct_map_4M" },
	{ "DirectMap2M", "direct_map_2M" },
	{ "DirectMap1G", "direct_map_1G" },
	{ "Hugetlb", "hugetlb" },
	{ "Percpu", "per_cpu" },
	{ "KReclaimable", "k_reclaimable" },
};

static bool guest_meminfo(struct mbuf *b, const struct metrics_env *env)
{
	cleanup_fclose FILE *f = open_in(env->proc_root, "meminfo");
	if (!f)
		return false;
	family(b, "kata_guest_meminfo", "gauge",
	       "Statistics about memory usage in the system (bytes, or counts for hugepages_*).");
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		const char *s;
		uint64_t v;
		if (!parse_u64(colon + 1, &v, &s))
			continue;
		while (*s == ' ')
			s++;
		/* Upstream (procfs) reports kB fields in bytes. */
		if (strncmp(s, "kB", 2) == 0)
			v *= 1024u;
		for (size_t i = 0; i < sizeof(meminfo_keys) / sizeof(meminfo_keys[0]); i++) {
			if (strcmp(line, meminfo_keys[i][0]) == 0) {
				mb_printf(b, "kata_guest_meminfo{item=\"%s\"} %" PRIu64 "\n",
					  meminfo_keys[i][1], v);
				break;
			}
		}
	}
	return true;
}

static bool guest_vmstat(struct mbuf *b, const struct metrics_env *env)
{
	cleanup_fclose FILE *f = open_in(env->proc_root, "vmstat");
	if (!f)
		return false;
	family(b, "kata_guest_vm_stat", "gauge", "Guest virtual memory statistics.");
	char line[256], name[128], esc[256];
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;
		if (sscanf(line, "%127s %llu", name, &v) != 2)
			continue;
		metrics_escape_label(name, esc, sizeof(esc));
		mb_printf(b, "kata_guest_vm_stat{item=\"%s\"} %llu\n", esc, v);
	}
	return true;
}

static bool guest_diskstats(struct mbuf *b, const struct metrics_env *env)
{
	static const char *const item[] = {
		"reads",
		"merged",
		"sectors_read",
		"time_reading",
		"writes",
		"writes_merged",
		"sectors_written",
		"time_writing",
		"in_progress",
		"time_in_progress",
		"weighted_time_in_progress",
		"discards",
		"discards_merged",
		"sectors_discarded",
		"time_discarding",
		"flushes",
		"time_flushing",
	};
	cleanup_fclose FILE *f = open_in(env->proc_root, "diskstats");
	if (!f)
		return false;
	family(b, "kata_guest_diskstat", "gauge", "Disks statistics in system.");
	char line[1024], name[128], esc[256];
	while (fgets(line, sizeof(line), f)) {
		unsigned major, minor;
		int off = 0;
		if (sscanf(line, " %u %u %127s %n", &major, &minor, name, &off) != 3 || !off)
			continue;
		metrics_escape_label(name, esc, sizeof(esc));
		const char *s = line + off;
		uint64_t v;
		for (size_t k = 0; k < sizeof(item) / sizeof(item[0]) && parse_u64(s, &v, &s); k++)
			mb_printf(b, "kata_guest_diskstat{disk=\"%s\",item=\"%s\"} %" PRIu64 "\n",
				  esc, item[k], v);
	}
	return true;
}

static bool guest_netdev(struct mbuf *b, const struct metrics_env *env)
{
	static const char *const item[] = {
		"recv_bytes", "recv_packets", "recv_errs",       "recv_drop",
		"recv_fifo",  "recv_frame",   "recv_compressed", "recv_multicast",
		"sent_bytes", "sent_packets", "sent_errs",       "sent_drop",
		"sent_fifo",  "sent_colls",   "sent_carrier",    "sent_compressed",
	};
	cleanup_fclose FILE *f = open_in(env->proc_root, "net/dev");
	if (!f)
		return false;
	family(b, "kata_guest_netdev_stat", "gauge", "Guest net devices statistics.");
	char line[1024], esc[256];
	while (fgets(line, sizeof(line), f)) {
		/* The two header lines have a '|' and no ':' before it. */
		char *colon = strrchr(line, ':');
		if (!colon || strchr(line, '|'))
			continue;
		*colon = '\0';
		char *name = line;
		while (*name == ' ')
			name++;
		metrics_escape_label(name, esc, sizeof(esc));
		const char *s = colon + 1;
		uint64_t v;
		for (size_t k = 0; k < sizeof(item) / sizeof(item[0]) && parse_u64(s, &v, &s); k++)
			mb_printf(b,
				  "kata_guest_netdev_stat{interface=\"%s\",item=\"%s\"} %" PRIu64
				  "\n",
				  esc, item[k], v);
	}
	return true;
}

static bool read_btime(const struct metrics_env *env, uint64_t *btime)
{
	cleanup_fclose FILE *f = open_in(env->proc_root, "stat");
	char line[1024];
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "btime ", 6) == 0)
			return parse_u64(line + 6, btime, NULL);
	return false;
}

/* ---- the whole text ---- */

/* Room kept for the truncation comment. */
#define TRUNC_NOTE_MAX 256u

int metrics_render(const struct metrics_env *env, const struct metrics_target *t, size_t n,
		   uint64_t scrape_count, char **text, size_t *len, struct kerr *err)
{
	if (env->limit < 2 * TRUNC_NOTE_MAX || env->limit > METRICS_MAX_TEXT ||
	    env->ticks_per_sec <= 0 || env->page_size <= 0)
		return kerr_set(err, -EINVAL, "metrics: limit %zu out of %u..%u or bad clock/page",
				env->limit, 2 * TRUNC_NOTE_MAX, METRICS_MAX_TEXT);
	cleanup_free struct proc_row *rows = calloc(n ? n : 1, sizeof(*rows));
	if (!rows)
		return kerr_set(err, -ENOMEM, "metrics: out of memory for %zu processes", n);
	size_t nrows = 0;
	for (size_t i = 0; i < n; i++) {
		struct kerr e = { 0 };
		struct proc_row *row = &rows[nrows];
		int r = metrics_read_proc(env, t[i].pid, &row->p, &e);
		if (r == -ESRCH)
			continue; /* exited since it was listed */
		if (r < 0) {
			log_warn("metrics: %s pid %d left out: %s", t[i].process, (int)t[i].pid,
				 e.msg);
			continue;
		}
		char p[64], c[260];
		metrics_escape_label(t[i].process, p, sizeof(p));
		if (t[i].container_id) {
			metrics_escape_label(t[i].container_id, c, sizeof(c));
			snprintf(row->labels, sizeof(row->labels),
				 "process=\"%s\",container_id=\"%s\"", p, c);
		} else {
			snprintf(row->labels, sizeof(row->labels), "process=\"%s\"", p);
		}
		nrows++;
	}

	struct mbuf b = { .limit = env->limit - TRUNC_NOTE_MAX, .cap = 64 * 1024 };
	if (b.cap > b.limit + 1)
		b.cap = b.limit + 1;
	b.p = malloc(b.cap);
	if (!b.p)
		return kerr_set(err, -ENOMEM, "metrics: out of memory");
	b.p[0] = '\0';

	uint64_t btime = 0;
	bool has_btime = read_btime(env, &btime);
	size_t mark = 0;
	const char *stopped_at = NULL;
	agent_families(&b, env, rows, nrows, btime, has_btime, scrape_count, &mark, &stopped_at);

	static const struct {
		const char *name;
		bool (*fn)(struct mbuf *, const struct metrics_env *);
	} guest[] = {
		{ "kata_guest_load", guest_load },
		{ "kata_guest_meminfo", guest_meminfo },
		{ "kata_guest_cpu_time", guest_cpu_time },
		{ "kata_guest_netdev_stat", guest_netdev },
		{ "kata_guest_diskstat", guest_diskstats },
		{ "kata_guest_vm_stat", guest_vmstat },
	};
	for (size_t i = 0; !stopped_at && i < sizeof(guest) / sizeof(guest[0]); i++) {
		mark = b.len;
		guest[i].fn(&b, env);
		if (b.over || b.nomem) {
			b.len = mark;
			stopped_at = guest[i].name;
		}
	}
	if (b.nomem) {
		free(b.p);
		return kerr_set(err, -ENOMEM, "metrics: out of memory formatting the text");
	}
	if (stopped_at) {
		/* The note has its own reserve: lift the limit for it. */
		b.over = false;
		b.limit += TRUNC_NOTE_MAX;
		mb_printf(&b,
			  "# kata-agent: output limit of %zu bytes reached: %s and the "
			  "families after it are left out\n",
			  env->limit, stopped_at);
		if (b.nomem || b.over) {
			free(b.p);
			return kerr_set(err, -ENOMEM, "metrics: out of memory formatting the text");
		}
	}
	b.p[b.len] = '\0';
	*text = b.p;
	*len = b.len;
	return 0;
}
