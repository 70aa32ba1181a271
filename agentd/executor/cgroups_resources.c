/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroups_resources.c - OCI linux.resources (memory, cpu, cpuset, pids)
 * written to a container's cgroup, v1 or v2 (see cg_apply_resources in
 * cgroups.h).
 *
 * The request becomes a plan: a fixed-order list of (controller, file,
 * value) writes. Each file's current value is read just before it is
 * written; when a write fails, the files already written get their previous
 * values back, in reverse order, so a failed call leaves the cgroup as it
 * was (best effort: a restore the kernel refuses is logged).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroups_internal.h"
#include "cleanup.h"
#include "grpc_status.h"
#include "log.h"
#include "oci.pb-c.h"

#define PLAN_MAX 16

struct cg_write {
	const char *ctrl; /* v1 controller holding the file; ignored on v2 */
	const char *file;
	char *val;
	char *old;        /* read before writing; NULL until then */
	const char *dir;  /* the cgroup directory in that hierarchy */
	char *dir_owned;
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

static bool has_ctrl(const char *ctrls, const char *want)
{
	size_t l = strlen(want);
	for (const char *c = ctrls; *c;) {
		const char *e = strchrnul(c, ',');
		if ((size_t)(e - c) == l && !strncmp(c, want, l))
			return true;
		c = *e ? e + 1 : e;
	}
	return false;
}

/* The cgroup's directory in the hierarchy that has ctrl (v1), or the one
 * directory (v2). */
static int dir_of(struct cgroup *cg, const char *ctrl, char **out, struct kerr *err)
{
	for (size_t i = 0; i < cg->n_hier; i++) {
		if (cg->layout == CG_V1 && !has_ctrl(cg->hier[i].ctrls, ctrl))
			continue;
		if (asprintf(out, "%s/%s", cg->hier[i].mount, cg->path) < 0)
			return kerr_set(err, -ENOMEM, "out of memory");
		return 0;
	}
	return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -ENOENT,
			       "cgroup %s: no %s controller is mounted", cg->path, ctrl);
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
		int r = dir_of(cg, w->ctrl, &w->dir_owned, err);
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
	if (dir_of(cg, "memory", &dir, &e) < 0 || cg_read_file(dir, "memory.limit_in_bytes", &v, &e) < 0)
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
			r = plan_add(p, "memory", "memory.memsw.limit_in_bytes", err, "%" PRId64, m->swap);
			if (r >= 0)
				r = plan_add(p, "memory", "memory.limit_in_bytes", err, "%" PRId64, m->limit);
		} else {
			r = plan_add(p, "memory", "memory.limit_in_bytes", err, "%" PRId64, m->limit);
			if (r >= 0)
				r = plan_add(p, "memory", "memory.memsw.limit_in_bytes", err, "%" PRId64,
					     m->swap);
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
					       "cgroup %s: memory+swap %" PRId64 " needs a memory limit "
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
			 "file: ignored", cg->path);
	return r;
}

/* runc's mapping of cpu.shares (2..262144) onto cpu.weight (1..10000). */
static uint64_t shares_to_weight(uint64_t shares)
{
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

static int plan_cpu(struct cgroup *cg, const Grpc__LinuxCPU *c, struct plan *p, struct kerr *err)
{
	int r = 0;
	bool v1 = cg->layout == CG_V1;
	if (c->shares)
		r = v1 ? plan_add(p, "cpu", "cpu.shares", err, "%" PRIu64, c->shares)
		       : plan_add(p, "cpu", "cpu.weight", err, "%" PRIu64, shares_to_weight(c->shares));
	if (r >= 0 && (c->quota || c->period)) {
		if (v1) {
			if (c->period)
				r = plan_add(p, "cpu", "cpu.cfs_period_us", err, "%" PRIu64, c->period);
			if (r >= 0 && c->quota)
				r = plan_add(p, "cpu", "cpu.cfs_quota_us", err, "%" PRId64,
					     c->quota < 0 ? -1 : c->quota);
		} else {
			/* cpu.max holds both: an unset half keeps its value. */
			cleanup_free char *dir = NULL, *cur = NULL;
			char q[32] = "max";
			uint64_t per = c->period;
			if (!c->quota || !c->period) {
				r = dir_of(cg, "cpu", &dir, err);
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
	if (r >= 0 && c->cpus && c->cpus[0])
		r = plan_add(p, "cpuset", "cpuset.cpus", err, "%s", c->cpus);
	if (r >= 0 && c->mems && c->mems[0])
		r = plan_add(p, "cpuset", "cpuset.mems", err, "%s", c->mems);
	return r;
}

int cg_apply_resources(struct cgroup *cg, const Grpc__LinuxResources *res, struct kerr *err)
{
	if (!cg || !res)
		return 0;
	struct plan p = { 0 };
	int r = 0;
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
		r = cg_apply_devices(cg, res, err);
	if (r >= 0 && (r = run_plan(cg, &p, err)) < 0)
		cg_devices_revert(cg);
	plan_free(&p);
	if (r < 0)
		return kerr_prefix(err, "cgroup %s: apply resources", cg->path);
	return 0;
}
