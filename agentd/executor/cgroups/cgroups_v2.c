/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroups_v2.c - the v2 half: one directory, controllers enabled down the
 * ancestors' cgroup.subtree_control, an O_PATH fd for CLONE_INTO_CGROUP,
 * kill through cgroup.kill.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroups_internal.h"
#include "cleanup.h"
#include "log.h"

/* Enable in dir's subtree_control every controller dir has: the children
 * get them all. Best effort per controller (a busy ancestor with processes
 * of its own cannot delegate; the root can always). */
static void enable_controllers(const char *dir)
{
	cleanup_free char *avail = NULL;
	struct kerr e = { 0 };
	if (cg_read_file(dir, "cgroup.controllers", &avail, &e) < 0) {
		log_warn("cgroup2 %s: %s", dir, e.msg);
		return;
	}
	char *save = NULL;
	for (char *c = strtok_r(avail, " \n", &save); c; c = strtok_r(NULL, " \n", &save)) {
		char val[64];
		snprintf(val, sizeof(val), "+%s", c);
		if (cg_write_file(dir, "cgroup.subtree_control", val, &e) < 0)
			log_warn("cgroup2 %s: enable %s: %s", dir, c, e.msg);
	}
}

int cg_v2_create(struct cgroup *cg, struct kerr *err)
{
	struct cg_hier *h = &cg->hier[0];
	/* Ancestors first, so each new level inherits the controllers. */
	for (size_t d = 0; d < cg->depth; d++) {
		cleanup_free char *rel = cg_path_prefix(cg->path, d);
		cleanup_free char *dir = NULL;
		if (!rel || asprintf(&dir, "%s%s%s", h->mount, rel[0] ? "/" : "", rel) < 0)
			return kerr_set(err, -ENOMEM, "out of memory");
		if (d > 0 && access(dir, F_OK) < 0) {
			/* mkdir the level now; cg_mkdir_path records it below. */
			break;
		}
		enable_controllers(dir);
	}
	int r = cg_mkdir_path(cg, h, NULL, err);
	if (r < 0)
		return kerr_prefix(err, "cgroup2");
	/* Levels made just now (prefixes first_created+1 .. depth-1). */
	for (size_t d = h->first_created + 1; d < cg->depth; d++) {
		cleanup_free char *rel = cg_path_prefix(cg->path, d);
		cleanup_free char *dir = NULL;
		if (!rel || asprintf(&dir, "%s/%s", h->mount, rel) < 0)
			return kerr_set(err, -ENOMEM, "out of memory");
		enable_controllers(dir);
	}
	cleanup_free char *leaf = NULL;
	if (asprintf(&leaf, "%s/%s", h->mount, cg->path) < 0)
		return kerr_set(err, -ENOMEM, "out of memory");
	cg->v2fd = open(leaf, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cg->v2fd < 0)
		return kerr_set(err, -errno, "open cgroup2 %s: %s", leaf, strerror(errno));
	return 0;
}

int cg_v2_kill(struct cgroup *cg, struct kerr *err)
{
	struct cg_hier *h = &cg->hier[0];
	if (!h->present)
		return 0;
	cleanup_free char *dir = NULL;
	if (asprintf(&dir, "%s/%s", h->mount, cg->path) < 0)
		return kerr_set(err, -ENOMEM, "out of memory");
	struct kerr e = { 0 };
	if (cg_write_file(dir, "cgroup.kill", "1", &e) == 0)
		return 0;
	/* Kernels before 5.14 have no cgroup.kill. */
	int n = cg_kill_procs(dir, err);
	return n < 0 ? n : 0;
}
