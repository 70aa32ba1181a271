/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroups_internal.h - what cgroups.c shares with its v1 and v2 halves
 * (cgroups_v1.c, cgroups_v2.c); not for other modules.
 */
#ifndef KATA_EXECUTOR_CGROUPS_INTERNAL_H
#define KATA_EXECUTOR_CGROUPS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "cgroups.h"

#define CG_MAX_HIER 16

/* One mounted hierarchy (v1: one per distinct controller set; v2: one). */
struct cg_hier {
	char *mount;    /* where the hierarchy is mounted */
	char *ctrls;    /* "cpu,cpuacct"; "" for v2 */
	bool cpuset;    /* needs cpuset.cpus/mems copied down */
	bool freezer;
	/* Index (in path components) of the first directory cg_create made in
	 * this hierarchy; components from there on are removed on destroy. */
	size_t first_created;
	bool present;   /* the leaf directory exists (made or reused) */
};

struct cgroup {
	enum cg_layout layout;
	char *path;        /* relative to each hierarchy root, no leading '/' */
	size_t parent_depth; /* components of path that belong to cfg->parent */
	size_t depth;      /* components of path */
	struct cg_hier hier[CG_MAX_HIER];
	size_t n_hier;
	int v2fd;
	/* EBUSY retries cg_rmdir_path may still make, shared by every
	 * hierarchy of one cg_destroy (0 outside it: no retry). */
	unsigned retries_left;
};

/* Hierarchies of a layout, filled into cg->hier (cgroups.c). */
int cg_list_hierarchies(const struct cg_config *cfg, enum cg_layout layout, struct cgroup *cg,
			struct kerr *err);

/* The first n components of path, as a malloc'd string. */
char *cg_path_prefix(const char *path, size_t n);

/* Write a string to dir/file (opened O_WRONLY, no O_CREAT). */
int cg_write_file(const char *dir, const char *file, const char *val, struct kerr *err);
/* Read a small file into a malloc'd, NUL-terminated buffer. */
int cg_read_file(const char *dir, const char *file, char **out, struct kerr *err);

/* mkdir -p of cg->path in h, recording what was made; the common part. */
int cg_mkdir_path(struct cgroup *cg, struct cg_hier *h,
		  int (*on_created)(struct cgroup *, struct cg_hier *, const char *dir,
				    const char *parent, struct kerr *),
		  struct kerr *err);
/* rmdir deepest first down to h->first_created, retrying EBUSY on the leaf
 * while cg->retries_left lasts; kill(pids) is called between retries. */
int cg_rmdir_path(struct cgroup *cg, struct cg_hier *h, int (*kill_all)(struct cgroup *, struct kerr *),
		  struct kerr *err);
/* SIGKILL every pid listed in dir/cgroup.procs; returns how many were signalled. */
int cg_kill_procs(const char *dir, struct kerr *err);

int cg_v1_create(struct cgroup *cg, struct kerr *err);
int cg_v1_kill(struct cgroup *cg, struct kerr *err);
int cg_v2_create(struct cgroup *cg, struct kerr *err);
int cg_v2_kill(struct cgroup *cg, struct kerr *err);

#endif
