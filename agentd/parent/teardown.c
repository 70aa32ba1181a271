/* SPDX-License-Identifier: Apache-2.0 */
/*
 * teardown.c - see teardown.h.
 *
 * The parent is a child subreaper: every process of the agent (front-end,
 * monitors, launchers, the pod's namespace holder, container processes,
 * even a daemon that double-forked out of its container's monitor) is a
 * descendant of it, directly or after being reparented. That tree is what
 * is killed. The container cgroups are killed first (v2 cgroup.kill, else
 * each pid of cgroup.procs, repeated) so that a container that forks fast
 * cannot outrun the tree walk.
 */
#include "procfs.h"
#include "teardown.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"

#define MAX_PIDS 65536
#define MAX_CGROUPS 4096
#define MAX_MOUNTS 4096
#define KILL_ROUNDS 500 /* 10 ms apart: 5 s */

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static void reap_all(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/* Every live descendant of the calling process; count in *n. */
static pid_t *descendants(size_t *n)
{
	*n = 0;
	pid_t *pid = calloc(MAX_PIDS, sizeof(*pid)), *ppid = calloc(MAX_PIDS, sizeof(*ppid));
	pid_t *out = calloc(MAX_PIDS, sizeof(*out));
	cleanup_closedir DIR *d = opendir("/proc");
	if (!pid || !ppid || !out || !d) {
		free(pid), free(ppid), free(out);
		return NULL;
	}
	size_t all = 0;
	for (struct dirent *e; (e = readdir(d)) && all < MAX_PIDS;) {
		pid_t p = atoi(e->d_name);
		if (p > 0 && (ppid[all] = procfs_ppid(p)) > 0)
			pid[all++] = p;
	}
	out[(*n)++] = getpid();
	for (size_t head = 0; head < *n; head++)
		for (size_t i = 0; i < all && *n < MAX_PIDS; i++)
			if (ppid[i] == out[head])
				out[(*n)++] = pid[i];
	free(pid), free(ppid);
	/* Drop ourselves (first). */
	memmove(out, out + 1, (*n - 1) * sizeof(*out));
	(*n)--;
	return out;
}

/* ---- container cgroups ---- */

struct hier {
	char mount[PATH_MAX];
	char opts[300]; /* v1 super options ("rw,cpu,cpuacct"); "" for cgroup2 */
	bool v2;
};

static size_t cgroup_mounts(struct hier *h, size_t max)
{
	cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	size_t n = 0;
	while (f && n < max && fgets(line, sizeof(line), f)) {
		char mp[PATH_MAX], fstype[64], src[256], sopts[256];
		char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
		    sscanf(sep + 3, "%63s %255s %255s", fstype, src, sopts) != 3)
			continue;
		if (strcmp(fstype, "cgroup2") && strcmp(fstype, "cgroup"))
			continue;
		h[n].v2 = !strcmp(fstype, "cgroup2");
		snprintf(h[n].mount, sizeof(h[n].mount), "%s", mp);
		snprintf(h[n].opts, sizeof(h[n].opts), ",%s,", h[n].v2 ? "" : sopts);
		n++;
	}
	return n;
}

/* The hierarchy of a /proc/PID/cgroup line's controller list. */
static const struct hier *hier_of(const struct hier *h, size_t nh, const char *ctrls)
{
	for (size_t i = 0; i < nh; i++) {
		if (!ctrls[0]) {
			if (h[i].v2)
				return &h[i];
			continue;
		}
		if (h[i].v2)
			continue;
		char copy[256], *save = NULL;
		snprintf(copy, sizeof(copy), "%s", ctrls);
		bool all = true;
		for (char *c = strtok_r(copy, ",", &save); c && all;
		     c = strtok_r(NULL, ",", &save)) {
			char want[280];
			snprintf(want, sizeof(want), ",%s,", c);
			all = strstr(h[i].opts, want) != NULL;
		}
		if (all)
			return &h[i];
	}
	return NULL;
}

static bool in_list(char **list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], s))
			return true;
	return false;
}

/* The cgroup directories of the container processes among pids (those in
 * a pid namespace below ours), below /<cgroup_parent>. */
static size_t container_cgroups(const pid_t *pids, size_t np, const char *parent, char **out,
				size_t max)
{
	static struct hier h[64];
	size_t nh = cgroup_mounts(h, 64), n = 0;
	char prefix[PATH_MAX];
	snprintf(prefix, sizeof(prefix), "/%s/", parent + strspn(parent, "/"));
	for (size_t i = 0; i < np; i++) {
		char p[64], line[4096];
		snprintf(p, sizeof(p), "/proc/%d/status", (int)pids[i]);
		cleanup_fclose FILE *st = fopen(p, "re");
		bool nested = false;
		while (st && fgets(line, sizeof(line), st))
			if (!strncmp(line, "NSpid:", 6))
				nested = strchr(line + 6, '\t') != strrchr(line + 6, '\t');
		if (!nested)
			continue;
		snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pids[i]);
		cleanup_fclose FILE *cg = fopen(p, "re");
		while (cg && n < max && fgets(line, sizeof(line), cg)) {
			line[strcspn(line, "\n")] = '\0';
			char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
			if (!c2)
				continue;
			*c2 = '\0';
			const char *path = c2 + 1;
			/* Only what lies below the agent's cgroup parent; with
			 * none, anything but the root. */
			if (parent[strspn(parent, "/")] ? strncmp(path, prefix, strlen(prefix))
							: !strcmp(path, "/"))
				continue;
			const struct hier *hh = hier_of(h, nh, c1 + 1);
			char dir[PATH_MAX * 2];
			if (!hh || snprintf(dir, sizeof(dir), "%s%s", hh->mount, path) >= PATH_MAX)
				continue;
			if (!in_list(out, n, dir) && (out[n] = strdup(dir)))
				n++;
		}
	}
	return n;
}

static void write_file(const char *dir, const char *file, const char *val)
{
	char p[PATH_MAX + 64];
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	cleanup_close int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd >= 0 && write(fd, val, strlen(val)) < 0)
		log_debug("teardown: write %s: %s", p, strerror(errno));
}

/* Kill what the cgroup holds: cgroup.kill (v2, Linux 5.14), else each pid
 * of cgroup.procs, frozen first where the freezer is. */
static void kill_cgroup(const char *dir)
{
	char p[PATH_MAX + 64];
	snprintf(p, sizeof(p), "%s/cgroup.kill", dir);
	if (access(p, F_OK) == 0) {
		write_file(dir, "cgroup.kill", "1");
		return;
	}
	write_file(dir, "freezer.state", "FROZEN");
	snprintf(p, sizeof(p), "%s/cgroup.procs", dir);
	cleanup_fclose FILE *f = fopen(p, "re");
	int pid;
	while (f && fscanf(f, "%d", &pid) == 1)
		if (pid > 0)
			kill(pid, SIGKILL);
	write_file(dir, "freezer.state", "THAWED");
}

static int by_length_desc(const void *a, const void *b)
{
	size_t x = strlen(*(char *const *)a), y = strlen(*(char *const *)b);
	return (x < y) - (x > y);
}

/* rmdir each (deepest first), then its parents up to the cgroup parent
 * while they are empty. */
static void remove_cgroups(char **dirs, size_t n, const char *parent)
{
	qsort(dirs, n, sizeof(*dirs), by_length_desc);
	bool below_parent = parent[strspn(parent, "/")] != '\0';
	for (size_t i = 0; i < n; i++) {
		int tries = 0;
		while (rmdir(dirs[i]) < 0 && errno == EBUSY && tries++ < 100) {
			reap_all();
			nap_ms(10);
		}
		if (access(dirs[i], F_OK) == 0)
			log_warn("teardown: cgroup %s left behind: %s", dirs[i], strerror(errno));
		char up[PATH_MAX];
		snprintf(up, sizeof(up), "%s", dirs[i]);
		for (char *s = strrchr(up, '/'); below_parent && s && s != up;
		     s = strrchr(up, '/')) {
			*s = '\0';
			const char *rel = strstr(up, parent + strspn(parent, "/"));
			if (!rel || strlen(rel) <= strlen(parent + strspn(parent, "/")) ||
			    rmdir(up) < 0)
				break;
		}
	}
}

/* ---- mounts ---- */

/* mountinfo escapes blanks and backslashes as \ooo. */
static void unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* Mount points below dir, newest first (the order that unmounts nested
 * ones before what they sit on). */
static size_t mounts_below(const char *dir, char **out, size_t max)
{
	cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192];
	size_t n = 0, dl = strlen(dir);
	while (f && n < max && fgets(line, sizeof(line), f)) {
		char mp[PATH_MAX];
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		unescape(mp);
		if (strncmp(mp, dir, dl) || mp[dl] != '/')
			continue;
		if ((out[n] = strdup(mp)))
			n++;
	}
	for (size_t i = 0; i < n / 2; i++) {
		char *t = out[i];
		out[i] = out[n - 1 - i];
		out[n - 1 - i] = t;
	}
	return n;
}

static void unmount_below(const char *shared)
{
	char real[PATH_MAX];
	if (!realpath(shared, real))
		return;
	static char *mps[MAX_MOUNTS];
	size_t total = 0;
	for (int pass = 0; pass < 3; pass++) {
		size_t n = mounts_below(real, mps, MAX_MOUNTS);
		for (size_t i = 0; i < n; i++) {
			if (umount2(mps[i], MNT_DETACH) == 0)
				total++;
			else if (errno != EINVAL && errno != ENOENT)
				log_warn("teardown: umount %s: %s", mps[i], strerror(errno));
			free(mps[i]);
		}
		if (!n)
			break;
	}
	if (total)
		log_warn("teardown: %zu mount(s) below %s released", total, real);
}

void teardown_after_executor(const char *shared_dir, const char *cgroup_parent)
{
	static char *cgs[MAX_CGROUPS];
	size_t np = 0, ncg = 0;
	cleanup_free pid_t *pids = descendants(&np);
	if (pids)
		ncg = container_cgroups(pids, np, cgroup_parent, cgs, MAX_CGROUPS);
	log_warn("teardown: %zu process(es) and %zu container cgroup(s) left by the agent", np,
		 ncg);
	for (size_t i = 0; i < ncg; i++)
		kill_cgroup(cgs[i]);
	int round;
	for (round = 0; round < KILL_ROUNDS; round++) {
		free(pids);
		pids = descendants(&np);
		if (!pids || !np)
			break;
		for (size_t i = 0; i < np; i++)
			kill(pids[i], SIGKILL);
		/* Containers on v1 without a freezer may fork meanwhile. */
		for (size_t i = 0; round % 10 == 9 && i < ncg; i++)
			kill_cgroup(cgs[i]);
		reap_all();
		nap_ms(10);
	}
	reap_all();
	if (np)
		log_error("teardown: %zu process(es) still alive after %d rounds", np, round);
	remove_cgroups(cgs, ncg, cgroup_parent);
	for (size_t i = 0; i < ncg; i++)
		free(cgs[i]);
	unmount_below(shared_dir);
}
