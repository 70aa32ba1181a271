/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroups_stats.c - StatsContainer's numbers: a container's cgroup
 * statistics (cg_stats, v1 and v2) and its network namespace's interface
 * counters (net_dev_stats), in the shape of upstream's agent
 * (rustjail/src/cgroups/fs/mod.rs get_stats over cgroups-rs); see
 * doc/storage-cgroups.md "Statistics" for where each field comes from.
 *
 * Reading is split from parsing: the parsers (cgroups_stats.h) are pure
 * functions of a file's text. A file that does not exist (controller not
 * mounted, kernel without kmem or swap accounting, memory.peak before 5.19)
 * leaves its fields 0; a file whose text is not what the kernel writes is an
 * error (GRPC_INTERNAL) naming the file.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroups_internal.h"
#include "cgroups_stats.h"
#include "cleanup.h"
#include "grpc_status.h"
#include "log.h"
#include "utf8.h"

#define NS_PER_US 1000ull
#define NS_PER_S 1000000000ull

static int bad(struct kerr *err, const char *file, const char *what)
{
	return kerr_set_status(err, GRPC_INTERNAL, -EBADMSG, "%s: unexpected content: %s", file,
			       what);
}

/* ---- parsers ------------------------------------------------------------- */

/* Decimal digits at *p into *v (no sign); false without a digit or on
 * overflow. */
static bool dec(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;
	if (!isdigit((unsigned char)*s))
		return false;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (x > (UINT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*p = s;
	*v = x;
	return true;
}

static const char *skip_blank(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static bool only_space(const char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	return !*s;
}

int cgs_parse_u64(const char *text, const char *file, uint64_t *out, struct kerr *err)
{
	const char *p = text;
	uint64_t v;
	if (!dec(&p, &v) || !only_space(p))
		return bad(err, file, "not a decimal number");
	*out = v;
	return 0;
}

int cgs_parse_u64_or_max(const char *text, const char *file, uint64_t max_value, uint64_t *out,
			 struct kerr *err)
{
	if (!strncmp(text, "max", 3) && only_space(text + 3)) {
		*out = max_value;
		return 0;
	}
	return cgs_parse_u64(text, file, out, err);
}

int cgs_parse_u64_list(const char *text, const char *file, uint64_t **out, size_t *n,
		       struct kerr *err)
{
	cleanup_free uint64_t *v = NULL;
	size_t cnt = 0, cap = 0;
	const char *p = text;
	for (;;) {
		while (*p && isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		uint64_t x;
		if (!dec(&p, &x) || (*p && !isspace((unsigned char)*p)))
			return bad(err, file, "not a list of decimal numbers");
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			uint64_t *nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				return kerr_set(err, -ENOMEM, "out of memory");
			v = nv;
		}
		v[cnt++] = x;
	}
	*out = cnt ? take_ptr(&v) : NULL;
	*n = cnt;
	return 0;
}

void cgs_kv_free(struct cgs_kv *kv, size_t n)
{
	for (size_t i = 0; kv && i < n; i++)
		free(kv[i].key);
	free(kv);
}

int cgs_parse_flat(const char *text, const char *file, struct cgs_kv **out, size_t *n,
		   struct kerr *err)
{
	struct cgs_kv *kv = NULL;
	size_t cnt = 0, cap = 0;
	int r = 0;
	for (const char *l = text; *l;) {
		const char *eol = strchrnul(l, '\n');
		const char *p = skip_blank(l);
		if (p == eol) { /* empty line */
			l = *eol ? eol + 1 : eol;
			continue;
		}
		const char *k = p;
		while (p < eol && *p != ' ' && *p != '\t')
			p++;
		size_t kl = (size_t)(p - k);
		p = skip_blank(p);
		/* memory.stat counters are per-cpu sums that can read slightly
		 * negative for a moment on v1: such a value counts as 0. */
		bool neg = *p == '-';
		if (neg)
			p++;
		uint64_t v;
		if (p >= eol || !dec(&p, &v) || skip_blank(p) != eol) {
			r = bad(err, file, "a line is not \"key value\"");
			goto out;
		}
		if (cnt == cap) {
			cap = cap ? cap * 2 : 32;
			struct cgs_kv *nkv = realloc(kv, cap * sizeof(*kv));
			if (!nkv) {
				r = kerr_set(err, -ENOMEM, "out of memory");
				goto out;
			}
			kv = nkv;
		}
		kv[cnt].key = strndup(k, kl);
		if (!kv[cnt].key) {
			r = kerr_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		kv[cnt++].value = neg ? 0 : v;
		l = *eol ? eol + 1 : eol;
	}
out:
	if (r < 0) {
		cgs_kv_free(kv, cnt);
		return r;
	}
	*out = kv;
	*n = cnt;
	return 0;
}

bool cgs_kv_get(const struct cgs_kv *kv, size_t n, const char *key, uint64_t *v)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(kv[i].key, key)) {
			*v = kv[i].value;
			return true;
		}
	}
	return false;
}

uint64_t cgs_ticks_to_ns(uint64_t ticks, long clk_tck)
{
	uint64_t hz = clk_tck > 0 ? (uint64_t)clk_tck : 100;
	return (ticks / hz) * NS_PER_S + (ticks % hz) * NS_PER_S / hz;
}

static int push_entry(Grpc__BlkioStatsEntry ***v, size_t *n, uint64_t maj, uint64_t min,
		      const char *op, size_t op_len, uint64_t value, struct kerr *err)
{
	Grpc__BlkioStatsEntry **nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv)
		return kerr_set(err, -ENOMEM, "out of memory");
	*v = nv;
	Grpc__BlkioStatsEntry *e = malloc(sizeof(*e));
	char *o = op_len ? strndup(op, op_len) : NULL;
	if (!e || (op_len && !o)) {
		free(e);
		free(o);
		return kerr_set(err, -ENOMEM, "out of memory");
	}
	grpc__blkio_stats_entry__init(e);
	e->major = maj;
	e->minor = min;
	if (o) {
		for (char *c = o; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		e->op = o;
	}
	e->value = value;
	nv[(*n)++] = e;
	return 0;
}

/* "MAJ:MIN" at *p. */
static bool devno(const char **p, uint64_t *maj, uint64_t *min)
{
	const char *s = *p;
	if (!dec(&s, maj) || *s != ':')
		return false;
	s++;
	if (!dec(&s, min))
		return false;
	*p = s;
	return true;
}

int cgs_parse_blkio_v1(const char *text, const char *file, Grpc__BlkioStatsEntry ***v, size_t *n,
		       struct kerr *err)
{
	for (const char *l = text; *l;) {
		const char *eol = strchrnul(l, '\n');
		const char *p = skip_blank(l);
		uint64_t maj, min, val;
		if (p == eol) {
			/* empty line */
		} else if (!strncmp(p, "Total ", 6)) {
			/* the sum over devices: not an entry (as runc, upstream) */
		} else {
			if (!devno(&p, &maj, &min) || (*p != ' ' && *p != '\t'))
				return bad(err, file, "a line does not start with MAJ:MIN");
			p = skip_blank(p);
			const char *op = p;
			size_t op_len = 0;
			if (!isdigit((unsigned char)*p)) {
				while (p < eol && isalpha((unsigned char)*p))
					p++;
				op_len = (size_t)(p - op);
				if (!op_len || (*p != ' ' && *p != '\t'))
					return bad(err, file, "a line has no operation");
				p = skip_blank(p);
			}
			if (!dec(&p, &val) || skip_blank(p) != eol)
				return bad(err, file, "a line has no value");
			int r = push_entry(v, n, maj, min, op, op_len, val, err);
			if (r < 0)
				return r;
		}
		l = *eol ? eol + 1 : eol;
	}
	return 0;
}

int cgs_parse_io_stat(const char *text, const char *file, Grpc__BlkioStatsEntry ***v, size_t *n,
		      struct kerr *err)
{
	static const struct {
		const char *key, *op;
	} keys[] = {
		{ "rbytes", "read" }, { "wbytes", "write" },  { "rios", "rios" },
		{ "wios", "wios" },   { "dbytes", "dbytes" }, { "dios", "dios" },
	};
	for (const char *l = text; *l;) {
		const char *eol = strchrnul(l, '\n');
		const char *p = skip_blank(l);
		uint64_t maj, min;
		if (p != eol) {
			if (!devno(&p, &maj, &min))
				return bad(err, file, "a line does not start with MAJ:MIN");
			while (p < eol) {
				p = skip_blank(p);
				if (p >= eol)
					break;
				const char *k = p;
				while (p < eol && *p != '=' && *p != ' ')
					p++;
				if (p >= eol || *p != '=')
					return bad(err, file, "a field is not key=value");
				size_t kl = (size_t)(p - k);
				p++;
				const char *val_start = p;
				while (p < eol && *p != ' ' && *p != '\t')
					p++;
				for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
					if (strlen(keys[i].key) != kl ||
					    strncmp(keys[i].key, k, kl))
						continue;
					const char *q = val_start;
					uint64_t val;
					if (!dec(&q, &val) || q != p)
						return bad(err, file, "a counter is not a number");
					int r = push_entry(v, n, maj, min, keys[i].op,
							   strlen(keys[i].op), val, err);
					if (r < 0)
						return r;
				}
			}
		}
		l = *eol ? eol + 1 : eol;
	}
	return 0;
}

int cgs_parse_net_dev(const char *text, const char *file, Grpc__NetworkStats ***v, size_t *n,
		      struct kerr *err)
{
	const char *l = text;
	for (int i = 0; i < 2; i++) {
		const char *eol = strchrnul(l, '\n');
		if (!memchr(l, '|', (size_t)(eol - l)))
			return bad(err, file, "no header");
		l = *eol ? eol + 1 : eol;
	}
	while (*l) {
		const char *eol = strchrnul(l, '\n');
		const char *p = skip_blank(l);
		if (p != eol) {
			const char *colon = memchr(p, ':', (size_t)(eol - p));
			/* Interface names have no ':' (dev_valid_name); the
			 * counters follow the first one. */
			if (!colon || colon == p)
				return bad(err, file, "a line has no \"name:\"");
			uint64_t c[16];
			const char *q = colon + 1;
			for (int i = 0; i < 16; i++) {
				q = skip_blank(q);
				if (!dec(&q, &c[i]))
					return bad(err, file, "a line has fewer than 16 counters");
			}
			Grpc__NetworkStats **nv = realloc(*v, (*n + 1) * sizeof(**v));
			if (!nv)
				return kerr_set(err, -ENOMEM, "out of memory");
			*v = nv;
			Grpc__NetworkStats *s = malloc(sizeof(*s));
			char *name = strndup(p, (size_t)(colon - p));
			if (!s || !name) {
				free(s);
				free(name);
				return kerr_set(err, -ENOMEM, "out of memory");
			}
			grpc__network_stats__init(s);
			/* The container names its interfaces: any bytes but
			 * '/', ':' and blanks; the host needs UTF-8. */
			utf8_scrub(name);
			s->name = name;
			s->rx_bytes = c[0];
			s->rx_packets = c[1];
			s->rx_errors = c[2];
			s->rx_dropped = c[3];
			s->tx_bytes = c[8];
			s->tx_packets = c[9];
			s->tx_errors = c[10];
			s->tx_dropped = c[11];
			nv[(*n)++] = s;
		}
		l = *eol ? eol + 1 : eol;
	}
	return 0;
}

char *cgs_hugetlb_size(const char *name, const char *suffix)
{
	size_t nl = strlen(name), sl = strlen(suffix);
	if (strncmp(name, "hugetlb.", 8) || nl <= 8 + sl || strcmp(name + nl - sl, suffix))
		return NULL;
	size_t len = nl - 8 - sl;
	if (memchr(name + 8, '.', len))
		return NULL;
	return strndup(name + 8, len);
}

/* ---- reading ------------------------------------------------------------- */

/* The cgroup's directory holding ctrl's files (v1), or the one directory
 * (v2); *dir NULL when that controller is not mounted. */
static int ctrl_dir(const struct cgroup *cg, const char *ctrl, char **dir, struct kerr *err)
{
	struct kerr e = { 0 };
	*dir = NULL;
	int r = cg_controller_dir(cg, ctrl, dir, &e);
	if (r < 0)
		*dir = NULL;
	if (r == -ENOENT) /* that controller is not mounted */
		return 0;
	if (r < 0)
		*err = e;
	return r;
}

/* dir/file's text into *text, or NULL when it (or dir) does not exist;
 * *path names it for parse errors. */
static int read_opt(const char *dir, const char *file, char **text, char **path, struct kerr *err)
{
	*text = NULL;
	*path = NULL;
	if (!dir)
		return 0;
	if (asprintf(path, "%s/%s", dir, file) < 0) {
		*path = NULL;
		return kerr_set(err, -ENOMEM, "out of memory");
	}
	int r = cg_read_file(dir, file, text, err);
	if (r == -ENOENT || r == -EOPNOTSUPP || r == -ENODEV) {
		kerr_clear(err);
		*text = NULL;
		return 0;
	}
	if (r < 0)
		err->status = GRPC_INTERNAL;
	return r;
}

/* A single-value file; *out untouched when missing. "max" gives max_value
 * when allow_max. */
static int opt_u64(const char *dir, const char *file, bool allow_max, uint64_t max_value,
		   uint64_t *out, struct kerr *err)
{
	cleanup_free char *text = NULL, *path = NULL;
	int r = read_opt(dir, file, &text, &path, err);
	if (r < 0 || !text)
		return r;
	return allow_max ? cgs_parse_u64_or_max(text, path, max_value, out, err)
			 : cgs_parse_u64(text, path, out, err);
}

/* A flat keyed file; *kv NULL and *n 0 when missing. */
static int opt_flat(const char *dir, const char *file, struct cgs_kv **kv, size_t *n,
		    struct kerr *err)
{
	cleanup_free char *text = NULL, *path = NULL;
	*kv = NULL;
	*n = 0;
	int r = read_opt(dir, file, &text, &path, err);
	if (r < 0 || !text)
		return r;
	return cgs_parse_flat(text, path, kv, n, err);
}

static int opt_blkio(const char *dir, const char *file, bool v2, Grpc__BlkioStatsEntry ***v,
		     size_t *n, struct kerr *err)
{
	cleanup_free char *text = NULL, *path = NULL;
	int r = read_opt(dir, file, &text, &path, err);
	if (r < 0 || !text)
		return r;
	return v2 ? cgs_parse_io_stat(text, path, v, n, err)
		  : cgs_parse_blkio_v1(text, path, v, n, err);
}

#define NEW_MSG(T, init_fn)                \
	({                                 \
		T *m_ = malloc(sizeof(T)); \
		if (m_)                    \
			init_fn(m_);       \
		m_;                        \
	})

static int cpu_stats(const struct cgroup *cg, Grpc__CpuStats *cs, struct kerr *err)
{
	Grpc__CpuUsage *u = cs->cpu_usage;
	Grpc__ThrottlingData *t = cs->throttling_data;
	bool v2 = cg->layout == CG_V2;
	cleanup_free char *cpu = NULL, *acct = NULL;
	int r = ctrl_dir(cg, "cpu", &cpu, err);
	if (r >= 0 && !v2)
		r = ctrl_dir(cg, "cpuacct", &acct, err);
	if (r < 0)
		return r;
	struct cgs_kv *kv = NULL;
	size_t n = 0;
	if ((r = opt_flat(cpu, "cpu.stat", &kv, &n, err)) < 0)
		return r;
	uint64_t x;
	if (cgs_kv_get(kv, n, "nr_periods", &x))
		t->periods = x;
	if (cgs_kv_get(kv, n, "nr_throttled", &x))
		t->throttled_periods = x;
	if (v2) {
		/* cgroup v2 counts in microseconds; the message in nanoseconds. */
		if (cgs_kv_get(kv, n, "throttled_usec", &x))
			t->throttled_time = x * NS_PER_US;
		if (cgs_kv_get(kv, n, "usage_usec", &x))
			u->total_usage = x * NS_PER_US;
		if (cgs_kv_get(kv, n, "user_usec", &x))
			u->usage_in_usermode = x * NS_PER_US;
		if (cgs_kv_get(kv, n, "system_usec", &x))
			u->usage_in_kernelmode = x * NS_PER_US;
	} else if (cgs_kv_get(kv, n, "throttled_time", &x)) {
		t->throttled_time = x;
	}
	cgs_kv_free(kv, n);
	if (v2)
		return 0;
	if ((r = opt_u64(acct, "cpuacct.usage", false, 0, &u->total_usage, err)) < 0)
		return r;
	{
		cleanup_free char *text = NULL, *path = NULL;
		if ((r = read_opt(acct, "cpuacct.usage_percpu", &text, &path, err)) < 0)
			return r;
		if (text && (r = cgs_parse_u64_list(text, path, &u->percpu_usage,
						    &u->n_percpu_usage, err)) < 0)
			return r;
	}
	if ((r = opt_flat(acct, "cpuacct.stat", &kv, &n, err)) < 0)
		return r;
	long hz = sysconf(_SC_CLK_TCK);
	if (cgs_kv_get(kv, n, "user", &x))
		u->usage_in_usermode = cgs_ticks_to_ns(x, hz);
	if (cgs_kv_get(kv, n, "system", &x))
		u->usage_in_kernelmode = cgs_ticks_to_ns(x, hz);
	cgs_kv_free(kv, n);
	return 0;
}

/* Four files of one MemoryData; NULL names are skipped. */
static int mem_data(const char *dir, Grpc__MemoryData *d, const char *usage, const char *max_usage,
		    const char *failcnt, const char *limit, struct kerr *err)
{
	int r = 0;
	if (usage && (r = opt_u64(dir, usage, false, 0, &d->usage, err)) < 0)
		return r;
	if (max_usage && (r = opt_u64(dir, max_usage, false, 0, &d->max_usage, err)) < 0)
		return r;
	if (failcnt && (r = opt_u64(dir, failcnt, false, 0, &d->failcnt, err)) < 0)
		return r;
	return limit ? opt_u64(dir, limit, true, UINT64_MAX, &d->limit, err) : 0;
}

static int memory_stats(const struct cgroup *cg, Grpc__MemoryStats *ms, struct kerr *err)
{
	bool v2 = cg->layout == CG_V2;
	cleanup_free char *dir = NULL;
	int r = ctrl_dir(cg, "memory", &dir, err);
	if (r < 0)
		return r;
	if (!v2) {
		if ((r = mem_data(dir, ms->usage, "memory.usage_in_bytes",
				  "memory.max_usage_in_bytes", "memory.failcnt",
				  "memory.limit_in_bytes", err)) < 0 ||
		    (r = mem_data(dir, ms->swap_usage, "memory.memsw.usage_in_bytes",
				  "memory.memsw.max_usage_in_bytes", "memory.memsw.failcnt",
				  "memory.memsw.limit_in_bytes", err)) < 0 ||
		    (r = mem_data(dir, ms->kernel_usage, "memory.kmem.usage_in_bytes",
				  "memory.kmem.max_usage_in_bytes", "memory.kmem.failcnt",
				  "memory.kmem.limit_in_bytes", err)) < 0)
			return r;
		uint64_t h = 0;
		if ((r = opt_u64(dir, "memory.use_hierarchy", false, 0, &h, err)) < 0)
			return r;
		ms->use_hierarchy = h == 1;
	} else {
		/* As cgroups-rs: no failcnt for memory (0), memory.max "max" as
		 * u64 max, memory.swap.max "max" as 0, swap failcnt from
		 * memory.swap.events "fail"; no kernel memory files on v2. */
		if ((r = mem_data(dir, ms->usage, "memory.current", "memory.peak", NULL,
				  "memory.max", err)) < 0 ||
		    (r = mem_data(dir, ms->swap_usage, "memory.swap.current", "memory.swap.peak",
				  NULL, NULL, err)) < 0 ||
		    (r = opt_u64(dir, "memory.swap.max", true, 0, &ms->swap_usage->limit, err)) < 0)
			return r;
		struct cgs_kv *ev = NULL;
		size_t nev = 0;
		if ((r = opt_flat(dir, "memory.swap.events", &ev, &nev, err)) < 0)
			return r;
		uint64_t f;
		if (cgs_kv_get(ev, nev, "fail", &f))
			ms->swap_usage->failcnt = f;
		cgs_kv_free(ev, nev);
	}
	struct cgs_kv *kv = NULL;
	size_t n = 0;
	if ((r = opt_flat(dir, "memory.stat", &kv, &n, err)) < 0)
		return r;
	uint64_t c;
	/* v1 calls the page cache "cache", v2 "file" (runc reads the same). */
	if (cgs_kv_get(kv, n, v2 ? "file" : "cache", &c))
		ms->cache = c;
	if (n) {
		ms->stats = calloc(n, sizeof(*ms->stats));
		if (!ms->stats) {
			cgs_kv_free(kv, n);
			return kerr_set(err, -ENOMEM, "out of memory");
		}
	}
	for (size_t i = 0; i < n; i++) {
		Grpc__MemoryStats__StatsEntry *e = NEW_MSG(Grpc__MemoryStats__StatsEntry,
							   grpc__memory_stats__stats_entry__init);
		if (!e) {
			cgs_kv_free(kv, n);
			return kerr_set(err, -ENOMEM, "out of memory");
		}
		e->key = take_ptr(&kv[i].key);
		e->value = kv[i].value;
		ms->stats[ms->n_stats++] = e;
	}
	cgs_kv_free(kv, n);
	return 0;
}

static int pids_stats(const struct cgroup *cg, Grpc__PidsStats *ps, struct kerr *err)
{
	cleanup_free char *dir = NULL;
	int r = ctrl_dir(cg, "pids", &dir, err);
	if (r < 0 || (r = opt_u64(dir, "pids.current", false, 0, &ps->current, err)) < 0)
		return r;
	/* "max" (no limit) reads as 0, as upstream. */
	return opt_u64(dir, "pids.max", true, 0, &ps->limit, err);
}

static int blkio_stats(const struct cgroup *cg, Grpc__BlkioStats *bs, struct kerr *err)
{
	cleanup_free char *dir = NULL;
	int r = ctrl_dir(cg, cg->layout == CG_V2 ? "io" : "blkio", &dir, err);
	if (r < 0)
		return r;
	if (cg->layout == CG_V2)
		return opt_blkio(dir, "io.stat", true, &bs->io_service_bytes_recursive,
				 &bs->n_io_service_bytes_recursive, err);
	if ((r = opt_blkio(dir, "blkio.io_serviced_recursive", false, &bs->io_serviced_recursive,
			   &bs->n_io_serviced_recursive, err)) < 0)
		return r;
	if (bs->n_io_serviced_recursive == 0) {
		/* No CFQ/BFQ statistics (blk-mq without bfq): the throttle
		 * layer's counters, as upstream and runc. */
		if ((r = opt_blkio(dir, "blkio.throttle.io_service_bytes", false,
				   &bs->io_service_bytes_recursive,
				   &bs->n_io_service_bytes_recursive, err)) < 0)
			return r;
		return opt_blkio(dir, "blkio.throttle.io_serviced", false,
				 &bs->io_serviced_recursive, &bs->n_io_serviced_recursive, err);
	}
	static const struct {
		const char *file;
		size_t off_v, off_n;
	} more[] = {
#define F(file, field) \
	{ file, offsetof(Grpc__BlkioStats, field), offsetof(Grpc__BlkioStats, n_##field) }
		F("blkio.io_service_bytes_recursive", io_service_bytes_recursive),
		F("blkio.io_queued_recursive", io_queued_recursive),
		F("blkio.io_service_time_recursive", io_service_time_recursive),
		F("blkio.io_wait_time_recursive", io_wait_time_recursive),
		F("blkio.io_merged_recursive", io_merged_recursive),
		F("blkio.time_recursive", io_time_recursive),
		F("blkio.sectors_recursive", sectors_recursive),
#undef F
	};
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
		Grpc__BlkioStatsEntry ***v = (Grpc__BlkioStatsEntry ***)((char *)bs + more[i].off_v);
		size_t *n = (size_t *)((char *)bs + more[i].off_n);
		if ((r = opt_blkio(dir, more[i].file, false, v, n, err)) < 0)
			return r;
	}
	return 0;
}

static int hugetlb_stats(const struct cgroup *cg, Grpc__CgroupStats *st, struct kerr *err)
{
	bool v2 = cg->layout == CG_V2;
	cleanup_free char *dir = NULL;
	int r = ctrl_dir(cg, "hugetlb", &dir, err);
	if (r < 0 || !dir)
		return r;
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return kerr_set_status(err, GRPC_INTERNAL, -errno, "open cgroup %s: %s", dir,
				       strerror(errno));
	}
	struct dirent *de;
	while (r >= 0 && (de = readdir(d))) {
		cleanup_free char *size = cgs_hugetlb_size(de->d_name,
							   v2 ? ".current" : ".usage_in_bytes");
		if (!size)
			continue;
		Grpc__CgroupStats__HugetlbStatsEntry **nv = realloc(st->hugetlb_stats,
								    (st->n_hugetlb_stats + 1) *
									    sizeof(*nv));
		if (!nv) {
			r = kerr_set(err, -ENOMEM, "out of memory");
			break;
		}
		st->hugetlb_stats = nv;
		Grpc__CgroupStats__HugetlbStatsEntry
			*e = NEW_MSG(Grpc__CgroupStats__HugetlbStatsEntry,
				     grpc__cgroup_stats__hugetlb_stats_entry__init);
		Grpc__HugetlbStats *h = NEW_MSG(Grpc__HugetlbStats, grpc__hugetlb_stats__init);
		if (!e || !h) {
			free(e);
			free(h);
			r = kerr_set(err, -ENOMEM, "out of memory");
			break;
		}
		e->key = take_ptr(&size);
		e->value = h;
		nv[st->n_hugetlb_stats++] = e;
		cleanup_free char *f_use = NULL, *f_max = NULL, *f_fail = NULL;
		if (asprintf(&f_use, "hugetlb.%s.%s", e->key, v2 ? "current" : "usage_in_bytes") <
			    0 ||
		    asprintf(&f_max, "hugetlb.%s.max_usage_in_bytes", e->key) < 0 ||
		    asprintf(&f_fail, "hugetlb.%s.%s", e->key, v2 ? "events" : "failcnt") < 0) {
			r = kerr_set(err, -ENOMEM, "out of memory");
			break;
		}
		if ((r = opt_u64(dir, f_use, false, 0, &h->usage, err)) < 0)
			break;
		if (!v2) {
			if ((r = opt_u64(dir, f_max, false, 0, &h->max_usage, err)) < 0 ||
			    (r = opt_u64(dir, f_fail, false, 0, &h->failcnt, err)) < 0)
				break;
			continue;
		}
		/* v2 keeps no peak; the limit hits are hugetlb.<size>.events "max". */
		struct cgs_kv *kv = NULL;
		size_t n = 0;
		if ((r = opt_flat(dir, f_fail, &kv, &n, err)) < 0)
			break;
		uint64_t x;
		if (cgs_kv_get(kv, n, "max", &x))
			h->failcnt = x;
		cgs_kv_free(kv, n);
	}
	closedir(d);
	return r < 0 ? r : 0;
}

int cg_stats(const struct cgroup *cg, Grpc__CgroupStats **out, struct kerr *err)
{
	Grpc__CgroupStats *st = NEW_MSG(Grpc__CgroupStats, grpc__cgroup_stats__init);
	if (!st)
		return kerr_set(err, -ENOMEM, "out of memory");
	int r = -ENOMEM;
	if (!(st->cpu_stats = NEW_MSG(Grpc__CpuStats, grpc__cpu_stats__init)) ||
	    !(st->cpu_stats->cpu_usage = NEW_MSG(Grpc__CpuUsage, grpc__cpu_usage__init)) ||
	    !(st->cpu_stats->throttling_data = NEW_MSG(Grpc__ThrottlingData,
						       grpc__throttling_data__init)) ||
	    !(st->memory_stats = NEW_MSG(Grpc__MemoryStats, grpc__memory_stats__init)) ||
	    !(st->memory_stats->usage = NEW_MSG(Grpc__MemoryData, grpc__memory_data__init)) ||
	    !(st->memory_stats->swap_usage = NEW_MSG(Grpc__MemoryData, grpc__memory_data__init)) ||
	    !(st->memory_stats->kernel_usage = NEW_MSG(Grpc__MemoryData, grpc__memory_data__init)) ||
	    !(st->pids_stats = NEW_MSG(Grpc__PidsStats, grpc__pids_stats__init)) ||
	    !(st->blkio_stats = NEW_MSG(Grpc__BlkioStats, grpc__blkio_stats__init))) {
		kerr_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	if ((r = cpu_stats(cg, st->cpu_stats, err)) < 0 ||
	    (r = memory_stats(cg, st->memory_stats, err)) < 0 ||
	    (r = pids_stats(cg, st->pids_stats, err)) < 0 ||
	    (r = blkio_stats(cg, st->blkio_stats, err)) < 0 || (r = hugetlb_stats(cg, st, err)) < 0)
		goto fail;
	*out = st;
	return 0;
fail:
	protobuf_c_message_free_unpacked(&st->base, NULL);
	if (!err->status)
		err->status = GRPC_INTERNAL;
	return kerr_prefix(err, "cgroup %s statistics", cg->path);
}

int net_dev_stats(pid_t pid, Grpc__NetworkStats ***v, size_t *n, struct kerr *err)
{
	*v = NULL;
	*n = 0;
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/net", (int)pid);
	cleanup_free char *text = NULL;
	int r = cg_read_file(dir, "dev", &text, err);
	if (r == -ENOENT || r == -ESRCH || r == -EINVAL) {
		/* The process is gone (or a zombie without namespaces). */
		kerr_clear(err);
		return 0;
	}
	if (r < 0) {
		err->status = GRPC_INTERNAL;
		return r;
	}
	char path[80];
	snprintf(path, sizeof(path), "%s/dev", dir);
	r = cgs_parse_net_dev(text, path, v, n, err);
	if (r < 0) {
		for (size_t i = 0; i < *n; i++)
			protobuf_c_message_free_unpacked(&(*v)[i]->base, NULL);
		free(*v);
		*v = NULL;
		*n = 0;
	}
	return r;
}
