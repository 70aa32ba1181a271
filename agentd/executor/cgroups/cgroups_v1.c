/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroups_v1.c - the v1 half: one directory per mounted controller
 * hierarchy, cpuset values seeded from the parent, kill through the freezer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgroups_internal.h"
#include "cleanup.h"
#include "log.h"

#define V1_KILL_ROUNDS 50

static bool blank(const char *s)
{
	for (; *s; s++)
		if (*s != ' ' && *s != '\n' && *s != '\t')
			return false;
	return true;
}

/* A new cpuset cgroup starts with empty cpus and mems, in which no task may
 * run: give it its parent's. */
static int cpuset_seed(struct cgroup *cg, struct cg_hier *h, const char *dir, const char *parent,
		       struct kerr *err)
{
	(void)cg;
	if (!h->cpuset)
		return 0;
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	for (size_t i = 0; i < 2; i++) {
		cleanup_free char *cur = NULL, *pv = NULL;
		int r = cg_read_file(dir, files[i], &cur, err);
		if (r < 0)
			return r;
		if (!blank(cur))
			continue;
		r = cg_read_file(parent, files[i], &pv, err);
		if (r < 0)
			return r;
		if (blank(pv))
			continue;
		r = cg_write_file(dir, files[i], pv, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int cg_v1_create(struct cgroup *cg, struct kerr *err)
{
	for (size_t i = 0; i < cg->n_hier; i++) {
		struct cg_hier *h = &cg->hier[i];
		int r = cg_mkdir_path(cg, h, cpuset_seed, err);
		if (r < 0)
			return kerr_prefix(err, "cgroup v1 %s", h->ctrls);
		if (h->cpuset) {
			/* Levels that existed already may be empty too (created by
			 * someone else without seeding). */
			for (size_t d = 1; d <= cg->depth; d++) {
				cleanup_free char *dir = NULL, *pdir = NULL;
				if (cg_level_dirs(cg, h, d, &dir, &pdir, err) < 0)
					return err->code;
				r = cpuset_seed(cg, h, dir, pdir, err);
				if (r < 0)
					return kerr_prefix(err, "cgroup v1 cpuset");
			}
		}
	}
	return 0;
}

static struct cg_hier *freezer_of(struct cgroup *cg)
{
	for (size_t i = 0; i < cg->n_hier; i++)
		if (cg->hier[i].freezer && cg->hier[i].present)
			return &cg->hier[i];
	return NULL;
}

/* Freeze (so nothing forks while we read cgroup.procs), SIGKILL every pid
 * of every hierarchy, thaw so the signals are delivered; repeat until
 * nothing was left to signal. */
int cg_v1_kill(struct cgroup *cg, struct kerr *err)
{
	struct cg_hier *fz = freezer_of(cg);
	cleanup_free char *fzdir = NULL;
	if (fz && asprintf(&fzdir, "%s/%s", fz->mount, cg->path) < 0)
		return kerr_set(err, -ENOMEM, "out of memory");
	int ret = 0;
	for (int round = 0; round < V1_KILL_ROUNDS; round++) {
		if (fzdir) {
			struct kerr e2 = { 0 };
			if (cg_write_file(fzdir, "freezer.state", "FROZEN", &e2) < 0 && round == 0)
				log_debug("cgroup %s: freeze: %s", cg->path, e2.msg);
		}
		int total = 0;
		for (size_t i = 0; i < cg->n_hier; i++) {
			if (!cg->hier[i].present)
				continue;
			cleanup_free char *dir = NULL;
			if (asprintf(&dir, "%s/%s", cg->hier[i].mount, cg->path) < 0)
				return kerr_set(err, -ENOMEM, "out of memory");
			int n = cg_kill_procs(dir, err);
			if (n < 0)
				ret = n;
			else
				total += n;
		}
		if (fzdir) {
			struct kerr e2 = { 0 };
			if (cg_write_file(fzdir, "freezer.state", "THAWED", &e2) < 0)
				log_warn("cgroup %s: thaw: %s", cg->path, e2.msg);
		}
		/* Further rounds draw on cg_destroy's retry budget, so a
		 * process that will not die cannot stall the executor loop. */
		if (total == 0 || cg->retries_left == 0)
			break;
		cg->retries_left--;
		struct timespec ts = { 0, 5 * 1000000L };
		nanosleep(&ts, NULL);
	}
	return ret;
}
