/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroups_resources.c - OCI linux.resources (memory, cpu, cpuset, pids,
 * block IO, hugetlb, network, cpu realtime) written to a container's cgroup,
 * v1 or v2 (see cg_apply_resources in cgroups.h; the OCI -> file table is in
 * doc/storage-cgroups.md).
 *
 * The request becomes a plan: a fixed-order list of (controller, file,
 * value) writes, every value checked before the first write. Each file's
 * current value is read just before it is written; when a write fails, the
 * files already written get their previous values back, in reverse order,
 * so a failed call leaves the cgroup as it was (best effort: a restore the
 * kernel refuses is logged). Per-device and per-interface files
 * (blkio.throttle.*_device, io.max, io.weight, net_prio.ifpriomap) hold a
 * list: their "previous value" is the line of the one device or interface
 * written (a key), or a value that removes the entry when there was none.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "cgroups_internal.h"
#include "cgroups_values.h"
#include "cleanup.h"
#include "grpc_status.h"
#include "log.h"
#include "oci.pb-c.h"

/* Bounds on the lists of a request (more -> INVALID_ARGUMENT), so that the
 * plan has a fixed worst case. */
#define CG_BLKIO_DEV_MAX 16 /* entries in each blockIO device list */
#define CG_HUGEPAGE_MAX 8   /* hugepageLimits entries (kernels have 1..3 sizes) */
#define CG_IFPRIO_MAX 16    /* network.priorities entries */

/* Worst case: memory 5 (v1: memsw, limit, soft, swappiness, oom), cpu 7
 * (shares, period, quota, rt period, rt runtime, cpus, mems), pids 1, blkio
 * 2 + 2 per weight device + 1 per throttle entry, hugetlb, net_cls 1,
 * net_prio. */
#define PLAN_MAX                                                                             \
	(5 + 7 + 1 + 2 + 2 * CG_BLKIO_DEV_MAX + 4 * CG_BLKIO_DEV_MAX + CG_HUGEPAGE_MAX + 1 + \
	 CG_IFPRIO_MAX)

struct cg_write {
	const char *ctrl; /* v1 controller holding the file; ignored on v2 */
	const char *file;
	char *val;
	char *old;       /* read before writing; NULL until then */
	const char *dir; /* the cgroup directory in that hierarchy */
	char *dir_owned;
	char *file_owned; /* file, when built (hugetlb.<size>.*) */
	/* List files: the first word of the line this write changes ("8:0",
	 * "default", "eth0"), and what to write after it to remove the entry
	 * when the file had no line for it. NULL key: a one-value file. */
	char *key;
	const char *absent;
};

struct plan {
	struct cg_write w[PLAN_MAX];
	size_t n;
};

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->w[i].val);
		free(p->w[i].old);
		free(p->w[i].dir_owned);
		free(p->w[i].file_owned);
		free(p->w[i].key);
	}
	p->n = 0;
}

static int plan_add(struct plan *p, const char *ctrl, const char *file, struct kerr *err,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int plan_add(struct plan *p, const char *ctrl, const char *file, struct kerr *err,
		    const char *fmt, ...)
{
	if (p->n >= PLAN_MAX)
		return kerr_set(err, -E2BIG, "too many cgroup writes");
	va_list ap;
	va_start(ap, fmt);
	char *v = NULL;
	int r = vasprintf(&v, fmt, ap);
	va_end(ap);
	if (r < 0)
		return kerr_set(err, -ENOMEM, "out of memory");
	p->w[p->n++] = (struct cg_write){ .ctrl = ctrl, .file = file, .val = v };
	return 0;
}

/* A write to a list file: val is "<key> <rest>"; absent is what follows the
 * key to remove the entry on rollback when the file had none. */
static int plan_add_keyed(struct plan *p, const char *ctrl, const char *file, const char *key,
			  const char *absent, struct kerr *err, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
static int plan_add_keyed(struct plan *p, const char *ctrl, const char *file, const char *key,
			  const char *absent, struct kerr *err, const char *fmt, ...)
{
	if (p->n >= PLAN_MAX)
		return kerr_set(err, -E2BIG, "too many cgroup writes");
	va_list ap;
	va_start(ap, fmt);
	char *rest = NULL;
	int r = vasprintf(&rest, fmt, ap);
	va_end(ap);
	if (r < 0)
		return kerr_set(err, -ENOMEM, "out of memory");
	char *v = NULL, *k = strdup(key);
	if (!k || asprintf(&v, "%s %s", key, rest) < 0) {
		free(rest);
		free(k);
		return kerr_set(err, -ENOMEM, "out of memory");
	}
	free(rest);
	p->w[p->n++] = (struct cg_write){ .ctrl = ctrl,
					  .file = file,
					  .val = v,
					  .key = k,
					  .absent = absent };
	return 0;
}
/* Whether the cgroup's directory for ctrl has file (to pick between
 * alternatives such as blkio.weight and blkio.bfq.weight). */
static bool has_file(struct cgroup *cg, const char *ctrl, const char *file)
{
	cleanup_free char *dir = NULL, *path = NULL;
	struct kerr e = { 0 };
	if (cg_controller_dir(cg, ctrl, &dir, &e) < 0 || asprintf(&path, "%s/%s", dir, file) < 0)
		return false;
	return access(path, F_OK) == 0;
}

static void trim(char *s)
{
	size_t l = strlen(s);
	while (l && (s[l - 1] == '\n' || s[l - 1] == ' '))
		s[--l] = '\0';
}

/* What to write back to restore a file: its content, except that
 * memory.oom_control reads as "oom_kill_disable N\nunder_oom M\n...". */
static int read_old(struct cg_write *w, struct kerr *err)
{
	char *v = NULL;
	int r = cg_read_file(w->dir, w->file, &v, err);
	if (r < 0) {
		if (r == -ENOENT)
			err->status = GRPC_FAILED_PRECONDITION;
		return r;
	}
	if (w->key) {
		/* The line for this key, if the file lists one. */
		size_t kl = strlen(w->key);
		char *line = NULL;
		for (char *l = v; l && *l;) {
			char *nl = strchr(l, '\n');
			if (nl)
				*nl = '\0';
			if (!strncmp(l, w->key, kl) && l[kl] == ' ') {
				line = l;
				break;
			}
			l = nl ? nl + 1 : NULL;
		}
		char *old = NULL;
		int ar = line ? asprintf(&old, "%s", line)
			      : asprintf(&old, "%s %s", w->key, w->absent);
		free(v);
		if (ar < 0)
			return kerr_set(err, -ENOMEM, "out of memory");
		trim(old);
		w->old = old;
		return 0;
	}
	if (!strcmp(w->file, "memory.oom_control")) {
		const char *k = strstr(v, "oom_kill_disable ");
		char b = k ? k[strlen("oom_kill_disable ")] : '0';
		v[0] = b == '1' ? '1' : '0';
		v[1] = '\0';
	}
	trim(v);
	w->old = v;
	return 0;
}

static int run_plan(struct cgroup *cg, struct plan *p, struct kerr *err)
{
	for (size_t i = 0; i < p->n; i++) {
		struct cg_write *w = &p->w[i];
		int r = cg_controller_dir(cg, w->ctrl, &w->dir_owned, err);
		if (r >= 0) {
			w->dir = w->dir_owned;
			r = read_old(w, err);
		}
		if (r >= 0) {
			r = cg_write_file(w->dir, w->file, w->val, err);
			if (r < 0)
				/* The open succeeded (read_old), so the kernel
				 * refused this value. */
				err->status = r == -ENOENT ? GRPC_FAILED_PRECONDITION
							   : GRPC_INVALID_ARGUMENT;
		}
		if (r < 0) {
			for (size_t j = i; j-- > 0;) {
				struct kerr e2 = { 0 };
				if (cg_write_file(p->w[j].dir, p->w[j].file, p->w[j].old, &e2) < 0)
					log_warn("cgroup %s: restoring %s: %s", cg->path,
						 p->w[j].file, e2.msg);
			}
			return r;
		}
		log_debug("cgroup %s: %s = %s (was %s)", cg->path, w->file, w->val, w->old);
	}
	return 0;
}

/* The current memory limit (v1), to order the limit and memsw writes. */
static int64_t v1_cur_limit(struct cgroup *cg)
{
	cleanup_free char *dir = NULL, *v = NULL;
	struct kerr e = { 0 };
	if (cg_controller_dir(cg, "memory", &dir, &e) < 0 ||
	    cg_read_file(dir, "memory.limit_in_bytes", &v, &e) < 0)
		return -1;
	return strtoll(v, NULL, 10);
}

static int plan_memory_v1(struct cgroup *cg, const Grpc__LinuxMemory *m, struct plan *p,
			  struct kerr *err)
{
	int r = 0;
	if (m->limit && m->swap) {
		/* memsw may never be below the limit: raise memsw first when
		 * the limit grows, lower the limit first when it shrinks. */
		int64_t cur = v1_cur_limit(cg);
		bool grow = m->limit == -1 || (cur >= 0 && m->limit > cur);
		if (grow) {
			r = plan_add(p, "memory", "memory.memsw.limit_in_bytes", err, "%" PRId64,
				     m->swap);
			if (r >= 0)
				r = plan_add(p, "memory", "memory.limit_in_bytes", err, "%" PRId64,
					     m->limit);
		} else {
			r = plan_add(p, "memory", "memory.limit_in_bytes", err, "%" PRId64,
				     m->limit);
			if (r >= 0)
				r = plan_add(p, "memory", "memory.memsw.limit_in_bytes", err,
					     "%" PRId64, m->swap);
		}
	} else if (m->limit) {
		r = plan_add(p, "memory", "memory.limit_in_bytes", err, "%" PRId64, m->limit);
	} else if (m->swap) {
		r = plan_add(p, "memory", "memory.memsw.limit_in_bytes", err, "%" PRId64, m->swap);
	}
	if (r >= 0 && m->reservation)
		r = plan_add(p, "memory", "memory.soft_limit_in_bytes", err, "%" PRId64,
			     m->reservation);
	if (r >= 0 && m->swappiness) {
		if (m->swappiness > 100)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "memory swappiness %" PRIu64 " is not in 0..100",
					       m->swappiness);
		r = plan_add(p, "memory", "memory.swappiness", err, "%" PRIu64, m->swappiness);
	}
	if (r >= 0 && m->disableoomkiller)
		r = plan_add(p, "memory", "memory.oom_control", err, "1");
	return r;
}

static int plan_memory_v2(struct cgroup *cg, const Grpc__LinuxMemory *m, struct plan *p,
			  struct kerr *err)
{
	int r = 0;
	if (m->limit)
		r = m->limit < 0 ? plan_add(p, "memory", "memory.max", err, "max")
				 : plan_add(p, "memory", "memory.max", err, "%" PRId64, m->limit);
	if (r >= 0 && m->swap) {
		/* OCI's swap is memory+swap; memory.swap.max is the swap alone. */
		if (m->swap < 0)
			r = plan_add(p, "memory", "memory.swap.max", err, "max");
		else if (m->limit <= 0 || m->swap < m->limit)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "cgroup %s: memory+swap %" PRId64
					       " needs a memory limit "
					       "not above it on cgroup v2 (limit %" PRId64 ")",
					       cg->path, m->swap, m->limit);
		else
			r = plan_add(p, "memory", "memory.swap.max", err, "%" PRId64,
				     m->swap - m->limit);
	}
	if (r >= 0 && m->reservation)
		r = m->reservation < 0
			    ? plan_add(p, "memory", "memory.low", err, "max")
			    : plan_add(p, "memory", "memory.low", err, "%" PRId64, m->reservation);
	if (m->swappiness || m->disableoomkiller)
		log_warn("cgroup %s: memory swappiness and disable_oom_killer have no cgroup v2 "
			 "file: ignored",
			 cg->path);
	return r;
}

static int plan_cpu(struct cgroup *cg, const Grpc__LinuxCPU *c, struct plan *p, struct kerr *err)
{
	int r = 0;
	bool v1 = cg->layout == CG_V1;
	if (c->shares)
		r = v1 ? plan_add(p, "cpu", "cpu.shares", err, "%" PRIu64, c->shares)
		       : plan_add(p, "cpu", "cpu.weight", err, "%" PRIu64,
				  cg_shares_to_weight(c->shares));
	if (r >= 0 && (c->quota || c->period)) {
		if (v1) {
			if (c->period)
				r = plan_add(p, "cpu", "cpu.cfs_period_us", err, "%" PRIu64,
					     c->period);
			if (r >= 0 && c->quota)
				r = plan_add(p, "cpu", "cpu.cfs_quota_us", err, "%" PRId64,
					     c->quota < 0 ? -1 : c->quota);
		} else {
			/* cpu.max holds both: an unset half keeps its value. */
			cleanup_free char *dir = NULL, *cur = NULL;
			char q[32] = "max";
			uint64_t per = c->period;
			if (!c->quota || !c->period) {
				r = cg_controller_dir(cg, "cpu", &dir, err);
				if (r >= 0)
					r = cg_read_file(dir, "cpu.max", &cur, err);
				if (r < 0)
					return r;
				char cq[32] = "max";
				unsigned long long cp = 100000;
				sscanf(cur, "%31s %llu", cq, &cp);
				if (!c->quota)
					snprintf(q, sizeof(q), "%s", cq);
				if (!per)
					per = cp;
			}
			if (c->quota > 0)
				snprintf(q, sizeof(q), "%" PRId64, c->quota);
			r = plan_add(p, "cpu", "cpu.max", err, "%s %" PRIu64, q, per);
		}
	}
	if (r >= 0 && (c->realtimeperiod || c->realtimeruntime)) {
		/* cgroup v2 has no realtime budget (runc refuses it too). */
		if (!v1)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "cgroup %s: cpu realtimePeriod/realtimeRuntime: cgroup v2 "
					       "has no realtime scheduling budget",
					       cg->path);
		/* The period first: a runtime is checked against the period in
		 * place when it is written. */
		if (c->realtimeperiod)
			r = plan_add(p, "cpu", "cpu.rt_period_us", err, "%" PRIu64,
				     c->realtimeperiod);
		if (r >= 0 && c->realtimeruntime)
			r = plan_add(p, "cpu", "cpu.rt_runtime_us", err, "%" PRId64,
				     c->realtimeruntime < 0 ? -1 : c->realtimeruntime);
	}
	if (r >= 0 && c->cpus && c->cpus[0])
		r = plan_add(p, "cpuset", "cpuset.cpus", err, "%s", c->cpus);
	if (r >= 0 && c->mems && c->mems[0])
		r = plan_add(p, "cpuset", "cpuset.mems", err, "%s", c->mems);
	return r;
}

/* ---- block IO ----------------------------------------------------------- */

static int check_weight(const char *field, uint32_t w, struct kerr *err)
{
	if (w && (w < CG_BLKIO_WEIGHT_MIN || w > CG_BLKIO_WEIGHT_MAX))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "blockIO %s %u is not in %d..%d", field, w,
				       CG_BLKIO_WEIGHT_MIN, CG_BLKIO_WEIGHT_MAX);
	return 0;
}

/* "maj:min" of a device entry; the kernel's limits are 12 and 20 bits. */
static int dev_key(const char *field, size_t i, int64_t maj, int64_t min, char *key, size_t n,
		   struct kerr *err)
{
	if (maj < 0 || maj >= (1 << 12) || min < 0 || min >= (1 << 20))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "blockIO %s[%zu]: device %" PRId64 ":%" PRId64 " is not a "
				       "valid major:minor",
				       field, i, maj, min);
	snprintf(key, n, "%" PRId64 ":%" PRId64, maj, min);
	return 0;
}

/* Which file takes a block IO weight, as runc picks it: v1 blkio.weight
 * (CFQ) else blkio.bfq.weight (BFQ); v2 io.bfq.weight (BFQ) else io.weight
 * (blk-iocost). A kernel with neither scheduler has no weight file at all:
 * a weight request then fails FAILED_PRECONDITION (the request is valid,
 * this kernel cannot honour it; upstream's cgroups-rs drops the write
 * silently, doc/protocol.md says why we do not). Only called when the
 * request carries a weight. */
static int weight_file(struct cgroup *cg, const char **file, struct kerr *err)
{
	bool v1 = cg->layout == CG_V1;
	const char *ctrl = v1 ? "blkio" : "io";
	const char *cand[2] = { v1 ? "blkio.weight" : "io.bfq.weight",
				v1 ? "blkio.bfq.weight" : "io.weight" };
	cleanup_free char *dir = NULL;
	int r = cg_controller_dir(cg, ctrl, &dir, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < 2; i++) {
		if (has_file(cg, ctrl, cand[i])) {
			*file = cand[i];
			return 0;
		}
	}
	return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -EOPNOTSUPP,
			       "blockIO weight: the kernel has no block IO weight support (no %s or "
			       "%s in %s: neither %s nor BFQ)",
			       cand[0], cand[1], dir, v1 ? "CFQ" : "blk-iocost");
}

static bool wants_weight(const Grpc__LinuxBlockIO *b)
{
	if (b->weight || b->leafweight)
		return true;
	for (size_t i = 0; i < b->n_weightdevice; i++)
		if (b->weightdevice[i]->weight || b->weightdevice[i]->leafweight)
			return true;
	return false;
}

struct throttle_list {
	const char *field; /* OCI name, for messages */
	const char *v1_file;
	const char *v2_name; /* io.max key */
	size_t n;
	Grpc__LinuxThrottleDevice **d;
};

/* The four throttle lists of b, in a fixed order. */
static void throttle_lists(const Grpc__LinuxBlockIO *b, struct throttle_list tl[4])
{
	tl[0] = (struct throttle_list){ "throttleReadBpsDevice", "blkio.throttle.read_bps_device",
					"rbps", b->n_throttlereadbpsdevice,
					b->throttlereadbpsdevice };
	tl[1] = (struct throttle_list){ "throttleWriteBpsDevice", "blkio.throttle.write_bps_device",
					"wbps", b->n_throttlewritebpsdevice,
					b->throttlewritebpsdevice };
	tl[2] = (struct throttle_list){ "throttleReadIOPSDevice", "blkio.throttle.read_iops_device",
					"riops", b->n_throttlereadiopsdevice,
					b->throttlereadiopsdevice };
	tl[3] = (struct throttle_list){ "throttleWriteIOPSDevice",
					"blkio.throttle.write_iops_device", "wiops",
					b->n_throttlewriteiopsdevice, b->throttlewriteiopsdevice };
}

/* Every value of b checked before anything is planned. */
static int check_blkio(const Grpc__LinuxBlockIO *b, const struct throttle_list tl[4],
		       struct kerr *err)
{
	char key[32];
	int r = check_weight("weight", b->weight, err);
	if (r >= 0)
		r = check_weight("leafWeight", b->leafweight, err);
	if (r < 0)
		return r;
	if (b->n_weightdevice > CG_BLKIO_DEV_MAX)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -E2BIG,
				       "blockIO weightDevice: %zu entries, at most %d",
				       b->n_weightdevice, CG_BLKIO_DEV_MAX);
	for (size_t i = 0; i < b->n_weightdevice; i++) {
		const Grpc__LinuxWeightDevice *d = b->weightdevice[i];
		if ((r = dev_key("weightDevice", i, d->major, d->minor, key, sizeof(key), err)) <
			    0 ||
		    (r = check_weight("weightDevice weight", d->weight, err)) < 0 ||
		    (r = check_weight("weightDevice leafWeight", d->leafweight, err)) < 0)
			return r;
	}
	for (size_t t = 0; t < 4; t++) {
		if (tl[t].n > CG_BLKIO_DEV_MAX)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -E2BIG,
					       "blockIO %s: %zu entries, at most %d", tl[t].field,
					       tl[t].n, CG_BLKIO_DEV_MAX);
		for (size_t i = 0; i < tl[t].n; i++) {
			r = dev_key(tl[t].field, i, tl[t].d[i]->major, tl[t].d[i]->minor, key,
				    sizeof(key), err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* v1: the weight file wf (CFQ's or BFQ's), the per-device weights and the
 * throttle files. */
static int plan_blkio_v1(const Grpc__LinuxBlockIO *b, const struct throttle_list tl[4],
			 const char *wf, struct plan *p, struct kerr *err)
{
	int r = 0;
	bool cfq = wf && !strcmp(wf, "blkio.weight");
	const char *wdf = cfq ? "blkio.weight_device" : "blkio.bfq.weight_device";
	/* CFQ drops a device's weight on 0; BFQ wants "default". */
	const char *wd_absent = cfq ? "0" : "default";
	if (b->weight)
		r = plan_add(p, "blkio", wf, err, "%u", b->weight);
	if (r >= 0 && b->leafweight)
		r = plan_add(p, "blkio", "blkio.leaf_weight", err, "%u", b->leafweight);
	for (size_t i = 0; r >= 0 && i < b->n_weightdevice; i++) {
		const Grpc__LinuxWeightDevice *d = b->weightdevice[i];
		char key[32];
		snprintf(key, sizeof(key), "%" PRId64 ":%" PRId64, d->major, d->minor);
		if (d->weight)
			r = plan_add_keyed(p, "blkio", wdf, key, wd_absent, err, "%u", d->weight);
		if (r >= 0 && d->leafweight)
			r = plan_add_keyed(p, "blkio", "blkio.leaf_weight_device", key, "0", err,
					   "%u", d->leafweight);
	}
	for (size_t t = 0; r >= 0 && t < 4; t++)
		for (size_t i = 0; r >= 0 && i < tl[t].n; i++) {
			const Grpc__LinuxThrottleDevice *d = tl[t].d[i];
			char key[32];
			snprintf(key, sizeof(key), "%" PRId64 ":%" PRId64, d->major, d->minor);
			/* 0 removes the device's rule. */
			r = plan_add_keyed(p, "blkio", tl[t].v1_file, key, "0", err, "%" PRIu64,
					   d->rate);
		}
	return r;
}

/* v2 (runc's fs2): BFQ's io.bfq.weight takes the blkio weight as it is;
 * io.weight (1..10000) takes it converted; the throttles go to io.max. */
static int plan_blkio_v2(struct cgroup *cg, const Grpc__LinuxBlockIO *b,
			 const struct throttle_list tl[4], const char *wf, struct plan *p,
			 struct kerr *err)
{
	int r = 0;
	bool bfq = wf && !strcmp(wf, "io.bfq.weight");
	if (b->leafweight)
		log_warn("cgroup %s: blockIO leafWeight has no cgroup v2 file: ignored", cg->path);
	if (b->weight)
		r = plan_add_keyed(p, "io", wf, "default", "100", err, "%" PRIu64,
				   bfq ? b->weight : cg_blkio_to_io_weight(b->weight));
	for (size_t i = 0; r >= 0 && i < b->n_weightdevice; i++) {
		const Grpc__LinuxWeightDevice *d = b->weightdevice[i];
		char key[32];
		snprintf(key, sizeof(key), "%" PRId64 ":%" PRId64, d->major, d->minor);
		if (d->leafweight)
			log_warn("cgroup %s: blockIO weightDevice %s leafWeight has no cgroup v2 "
				 "file: ignored",
				 cg->path, key);
		if (d->weight)
			r = plan_add_keyed(p, "io", wf, key, "default", err, "%" PRIu64,
					   bfq ? d->weight : cg_blkio_to_io_weight(d->weight));
	}
	for (size_t t = 0; r >= 0 && t < 4; t++)
		for (size_t i = 0; r >= 0 && i < tl[t].n; i++) {
			const Grpc__LinuxThrottleDevice *d = tl[t].d[i];
			char key[32], rate[32] = "max";
			snprintf(key, sizeof(key), "%" PRId64 ":%" PRId64, d->major, d->minor);
			/* v1's 0 (no rule) is io.max's "max". */
			if (d->rate)
				snprintf(rate, sizeof(rate), "%" PRIu64, d->rate);
			r = plan_add_keyed(p, "io", "io.max", key,
					   "rbps=max wbps=max riops=max wiops=max", err, "%s=%s",
					   tl[t].v2_name, rate);
		}
	return r;
}

static int plan_blkio(struct cgroup *cg, const Grpc__LinuxBlockIO *b, struct plan *p,
		      struct kerr *err)
{
	struct throttle_list tl[4];
	throttle_lists(b, tl);
	int r = check_blkio(b, tl, err);
	if (r < 0)
		return r;
	const char *wf = NULL;
	if (wants_weight(b) && (r = weight_file(cg, &wf, err)) < 0)
		return r;
	return cg->layout == CG_V1 ? plan_blkio_v1(b, tl, wf, p, err)
				   : plan_blkio_v2(cg, b, tl, wf, p, err);
}

/* ---- hugetlb ------------------------------------------------------------- */

#define HUGEPAGES_SYSFS "/sys/kernel/mm/hugepages"

static int plan_hugetlb(struct cgroup *cg, Grpc__LinuxHugepageLimit *const *h, size_t n,
			struct plan *p, struct kerr *err)
{
	if (n > CG_HUGEPAGE_MAX)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -E2BIG,
				       "hugepageLimits: %zu entries, at most %d", n,
				       CG_HUGEPAGE_MAX);
	/* Names first, all of them, so a bad one plans nothing. */
	char names[CG_HUGEPAGE_MAX][32];
	for (size_t i = 0; i < n; i++) {
		const char *ps = h[i]->pagesize ? h[i]->pagesize : "";
		uint64_t bytes;
		if (cg_hugepage_size_parse(ps, &bytes) < 0)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "hugepageLimits[%zu]: page size \"%.32s\" is not a size "
					       "like 2MB or 1GB",
					       i, ps);
		char sys[96];
		snprintf(sys, sizeof(sys), HUGEPAGES_SYSFS "/hugepages-%llukB",
			 (unsigned long long)(bytes >> 10));
		if ((bytes & 1023) || access(sys, F_OK) < 0)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "hugepageLimits[%zu]: page size \"%.32s\": the kernel has "
					       "no such huge page size (see " HUGEPAGES_SYSFS ")",
					       i, ps);
		cg_hugepage_size_name(bytes, names[i], sizeof(names[i]));
	}
	for (size_t i = 0; i < n; i++) {
		char *file = NULL;
		if (asprintf(&file, "hugetlb.%s.%s", names[i],
			     cg->layout == CG_V1 ? "limit_in_bytes" : "max") < 0)
			return kerr_set(err, -ENOMEM, "out of memory");
		int r = plan_add(p, "hugetlb", file, err, "%" PRIu64, h[i]->limit);
		if (r < 0) {
			free(file);
			return r;
		}
		p->w[p->n - 1].file_owned = file;
	}
	return 0;
}

/* ---- network ------------------------------------------------------------- */

static int plan_network(struct cgroup *cg, const Grpc__LinuxNetwork *net, struct plan *p,
			struct kerr *err)
{
	if (net->n_priorities > CG_IFPRIO_MAX)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -E2BIG,
				       "network priorities: %zu entries, at most %d",
				       net->n_priorities, CG_IFPRIO_MAX);
	for (size_t i = 0; i < net->n_priorities; i++) {
		const char *name = net->priorities[i]->name ? net->priorities[i]->name : "";
		if (!cg_ifname_valid(name))
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "network priorities[%zu]: \"%.32s\" is not an interface "
					       "name",
					       i, name);
	}
	if (cg->layout != CG_V1) {
		/* net_cls and net_prio have no v2 controller; runc ignores them. */
		if (net->classid || net->n_priorities)
			log_warn("cgroup %s: network classID and priorities have no cgroup v2 "
				 "controller: ignored",
				 cg->path);
		return 0;
	}
	int r = 0;
	if (net->classid)
		r = plan_add(p, "net_cls", "net_cls.classid", err, "%u", net->classid);
	for (size_t i = 0; r >= 0 && i < net->n_priorities; i++)
		r = plan_add_keyed(p, "net_prio", "net_prio.ifpriomap", net->priorities[i]->name,
				   "0", err, "%u", net->priorities[i]->priority);
	return r;
}

/* Block IO, hugetlb and network, in that order (after memory, cpu, pids). */
static int plan_io_hugetlb_net(struct cgroup *cg, const Grpc__LinuxResources *res, struct plan *p,
			       struct kerr *err)
{
	int r = 0;
	if (res->blockio)
		r = plan_blkio(cg, res->blockio, p, err);
	if (r >= 0 && res->n_hugepagelimits)
		r = plan_hugetlb(cg, res->hugepagelimits, res->n_hugepagelimits, p, err);
	if (r >= 0 && res->network)
		r = plan_network(cg, res->network, p, err);
	return r;
}

int cg_apply_resources(struct cgroup *cg, const Grpc__LinuxResources *res, unsigned what,
		       struct kerr *err)
{
	if (!cg || !res)
		return 0;
	struct plan p = { 0 };
	int r = 0;
	if (!(what & CG_APPLY_LIMITS))
		goto devices;
	if (res->memory)
		r = cg->layout == CG_V1 ? plan_memory_v1(cg, res->memory, &p, err)
					: plan_memory_v2(cg, res->memory, &p, err);
	if (r >= 0 && res->cpu)
		r = plan_cpu(cg, res->cpu, &p, err);
	if (r >= 0 && res->pids && res->pids->limit)
		r = res->pids->limit < 0
			    ? plan_add(&p, "pids", "pids.max", err, "max")
			    : plan_add(&p, "pids", "pids.max", err, "%" PRId64, res->pids->limit);
	if (r >= 0)
		r = plan_io_hugetlb_net(cg, res, &p, err);
	if (r >= 0 && !(what & CG_APPLY_DEVICES))
		r = cg_devices_check(res, err);
devices:
	/* Every value is checked (planned) before the devices are written. */
	if (r >= 0 && (what & CG_APPLY_DEVICES))
		r = cg_apply_devices(cg, res, err);
	if (r >= 0 && (r = run_plan(cg, &p, err)) < 0 && (what & CG_APPLY_DEVICES))
		cg_devices_revert(cg);
	plan_free(&p);
	if (r < 0)
		return kerr_prefix(err, "cgroup %s: apply resources", cg->path);
	return 0;
}
