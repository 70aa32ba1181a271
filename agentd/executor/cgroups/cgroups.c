/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroups.c - layout detection, cgroups_path validation and the parts of the
 * cgroup lifecycle common to v1 and v2 (see cgroups.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include "cgroups_internal.h"
#include "cleanup.h"
#include "grpc_status.h"
#include "log.h"

#define CG_DEFAULT_ROOT "/sys/fs/cgroup"
/* rmdir of a cgroup whose last task is still exiting fails with EBUSY for a
 * short while: retry, CG_RETRY_MS apart, at most CG_RETRIES times in all
 * for one cg_destroy (every hierarchy together). cg_destroy runs in the
 * executor's event loop, so this bounds how long one destroy can stall
 * every other request (~0.5 s plus the kill rounds). */
#define CG_RETRIES 50
#define CG_RETRY_MS 10

static const char *const v1_controllers[] = {
	"cpu",   "cpuacct", "cpuset",   "memory",  "pids",       "devices", "freezer",
	"blkio", "net_cls", "net_prio", "hugetlb", "perf_event", "rdma",    "misc",
};

static const char *cfg_root(const struct cg_config *cfg)
{
	return cfg && cfg->root_override ? cfg->root_override : CG_DEFAULT_ROOT;
}

static bool is_cgroup2(const char *path)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 &&
	       (unsigned long)sf.f_type == (unsigned long)CGROUP2_SUPER_MAGIC;
}

/* ---- mountinfo ----------------------------------------------------------- */

/* Undo mountinfo's octal escapes (\040 for space, ...) in place. */
static void unescape(char *s)
{
	char *o = s;
	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

static bool is_v1_controller(const char *name)
{
	for (size_t i = 0; i < sizeof(v1_controllers) / sizeof(v1_controllers[0]); i++)
		if (!strcmp(name, v1_controllers[i]))
			return true;
	return false;
}

static void hier_clear(struct cgroup *cg)
{
	for (size_t i = 0; i < cg->n_hier; i++) {
		free(cg->hier[i].mount);
		free(cg->hier[i].ctrls);
	}
	memset(cg->hier, 0, sizeof(cg->hier));
	cg->n_hier = 0;
}

/* v1 hierarchies mounted directly below root: one entry per distinct
 * superblock (comounts like cpu,cpuacct and bind-mounted duplicates count
 * once); named hierarchies without a controller (name=systemd) are skipped. */
static int list_v1(const char *root, struct cgroup *cg, struct kerr *err)
{
	cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return kerr_set(err, -errno, "open /proc/self/mountinfo: %s", strerror(errno));
	size_t rl = strlen(root);
	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	char devs[CG_MAX_HIER][32];
	cleanup_free char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		/* id parent maj:min root mountpoint opts ... - fstype source superopts */
		char *sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		char *post = sep + 3;
		char *save = NULL;
		char *fstype = strtok_r(post, " \n", &save);
		strtok_r(NULL, " \n", &save);
		char *superopts = strtok_r(NULL, " \n", &save);
		if (!fstype || !superopts || strcmp(fstype, "cgroup"))
			continue;
		char *save2 = NULL;
		strtok_r(line, " ", &save2);
		strtok_r(NULL, " ", &save2);
		char *dev = strtok_r(NULL, " ", &save2);
		char *mroot = strtok_r(NULL, " ", &save2);
		char *mpoint = strtok_r(NULL, " ", &save2);
		if (!dev || !mroot || !mpoint || strcmp(mroot, "/"))
			continue;
		unescape(mpoint);
		if (strncmp(mpoint, root, rl) || mpoint[rl] != '/' || strchr(mpoint + rl + 1, '/'))
			continue;
		bool dup = false;
		for (size_t i = 0; i < cg->n_hier; i++)
			if (!strcmp(devs[i], dev))
				dup = true;
		if (dup)
			continue;
		char ctrls[256] = "";
		bool cpuset = false, freezer = false;
		char *save3 = NULL;
		for (char *o = strtok_r(superopts, ",", &save3); o;
		     o = strtok_r(NULL, ",", &save3)) {
			if (!is_v1_controller(o))
				continue;
			if (strlen(ctrls) + strlen(o) + 2 > sizeof(ctrls))
				continue;
			if (ctrls[0])
				strcat(ctrls, ",");
			strcat(ctrls, o);
			cpuset |= !strcmp(o, "cpuset");
			freezer |= !strcmp(o, "freezer");
		}
		if (!ctrls[0])
			continue;
		if (cg->n_hier >= CG_MAX_HIER)
			return kerr_set(err, -E2BIG, "more than %d cgroup v1 hierarchies",
					CG_MAX_HIER);
		struct cg_hier *h = &cg->hier[cg->n_hier];
		h->mount = strdup(mpoint);
		h->ctrls = strdup(ctrls);
		if (!h->mount || !h->ctrls)
			return kerr_set(err, -ENOMEM, "out of memory");
		h->cpuset = cpuset;
		h->freezer = freezer;
		snprintf(devs[cg->n_hier], sizeof(devs[0]), "%s", dev);
		cg->n_hier++;
	}
	return 0;
}

/* Where the v2 hierarchy is for this config: root itself, or root/unified
 * on a host with nothing but a cgroup2 there. NULL if none. */
static char *v2_mount(const char *root)
{
	if (is_cgroup2(root))
		return strdup(root);
	return NULL;
}

/* Hierarchies of a layout, filled into cg->hier. */
static int cg_list_hierarchies(const struct cg_config *cfg, enum cg_layout layout,
			       struct cgroup *cg, struct kerr *err)
{
	const char *root = cfg_root(cfg);
	if (layout == CG_V2) {
		cg->hier[0].mount = v2_mount(root);
		cg->hier[0].ctrls = strdup("");
		if (!cg->hier[0].mount || !cg->hier[0].ctrls) {
			free(cg->hier[0].mount);
			free(cg->hier[0].ctrls);
			return kerr_set(err, -ENOENT, "no cgroup2 at %s", root);
		}
		cg->n_hier = 1;
		return 0;
	}
	int r = list_v1(root, cg, err);
	if (r >= 0 && cg->n_hier == 0)
		r = kerr_set(err, -ENOENT, "no cgroup v1 controller mounted below %s", root);
	return r;
}

/* The layout at cfg's root and its hierarchies, into cg->hier: on v1 one
 * read of mountinfo serves both. */
static int detect_hierarchies(const struct cg_config *cfg, enum cg_layout *out, struct cgroup *cg,
			      struct kerr *err)
{
	const char *root = cfg_root(cfg);
	struct stat st;
	if (stat(root, &st) < 0)
		return kerr_set(err, -errno, "cgroup root %s: %s", root, strerror(errno));
	if (is_cgroup2(root)) {
		*out = CG_V2;
		return cg_list_hierarchies(cfg, CG_V2, cg, err);
	}
	/* v1 or hybrid: the v1 controllers decide; the cgroup2 of a hybrid
	 * (root/unified) holds no controller we could use. */
	int r = list_v1(root, cg, err);
	if (r < 0)
		return r;
	if (cg->n_hier == 0)
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -ENOENT,
				       "no cgroup hierarchy found at %s (neither cgroup2 nor v1 "
				       "controllers)",
				       root);
	*out = CG_V1;
	return 0;
}

int cg_detect(const struct cg_config *cfg, enum cg_layout *out, struct kerr *err)
{
	struct cgroup tmp = { 0 };
	int r = detect_hierarchies(cfg, out, &tmp, err);
	hier_clear(&tmp);
	return r;
}

/* ---- paths --------------------------------------------------------------- */

static int path_append(char *buf, size_t *len, const char *comp, size_t cl, size_t *depth,
		       struct kerr *err)
{
	if (*len + cl + 2 > CG_PATH_MAX)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -ENAMETOOLONG,
				       "cgroup path longer than %d bytes", CG_PATH_MAX);
	if (*len)
		buf[(*len)++] = '/';
	memcpy(buf + *len, comp, cl);
	*len += cl;
	buf[*len] = '\0';
	(*depth)++;
	return 0;
}

/* Append the components of a '/'-separated path: "." and empty ones
 * skipped, "..", control characters and over-long names refused. */
static int append_plain(char *buf, size_t *len, const char *what, const char *in, size_t *depth,
			struct kerr *err)
{
	if (strlen(in) > CG_PATH_MAX)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -ENAMETOOLONG,
				       "%s is longer than %d bytes", what, CG_PATH_MAX);
	for (const char *c = in; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "%s \"%s\" contains a control character", what, in);
	const char *p = in;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = strchrnul(p, '/');
		size_t cl = (size_t)(e - p);
		if (cl == 2 && p[0] == '.' && p[1] == '.')
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "%s \"%s\" contains \"..\"", what, in);
		if (cl > 255)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -ENAMETOOLONG,
					       "%s \"%s\" has a component over 255 bytes", what,
					       in);
		if (!(cl == 1 && p[0] == '.')) {
			int r = path_append(buf, len, p, cl, depth, err);
			if (r < 0)
				return r;
		}
		p = e;
	}
	return 0;
}

static int build_path(const struct cg_config *cfg, const char *cgroups_path, const char *id,
		      struct cgroup *cg, struct kerr *err)
{
	char buf[CG_PATH_MAX + 1] = "";
	size_t len = 0, depth = 0;
	int r = append_plain(buf, &len, "cgroup parent", cfg && cfg->parent ? cfg->parent : "",
			     &depth, err);
	if (r < 0)
		return r;
	cg->parent_depth = depth;
	if (!cgroups_path || !cgroups_path[0]) {
		if (!id || !id[0] || strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, ".."))
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "container id \"%s\" cannot name a cgroup",
					       id ? id : "");
		r = append_plain(buf, &len, "container id", id, &depth, err);
	} else {
		/* The systemd form "slice:prefix:name": upstream's agent, as the
		 * guest's init, drives cgroupfs itself and only turns every ':'
		 * into '/' ("system.slice:kata:c" -> "system.slice/kata/c");
		 * there is no systemd in the guest to place a scope. Same here,
		 * so a path lands where upstream's would. */
		cleanup_free char *fs_path = strdup(cgroups_path);
		if (!fs_path)
			return kerr_set(err, -ENOMEM, "out of memory");
		for (char *c = fs_path; (c = strchr(c, ':')); c++)
			*c = '/';
		r = append_plain(buf, &len, "cgroups path", fs_path, &depth, err);
	}
	if (r < 0)
		return r;
	if (depth == cg->parent_depth)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "cgroups path \"%s\" names the cgroup parent itself",
				       cgroups_path ? cgroups_path : "");
	cg->path = strdup(buf);
	if (!cg->path)
		return kerr_set(err, -ENOMEM, "out of memory");
	cg->depth = depth;
	return 0;
}

char *cg_path_prefix(const char *path, size_t n)
{
	const char *p = path;
	for (size_t i = 0; i < n && *p; i++) {
		const char *e = strchrnul(p, '/');
		p = *e ? e + 1 : e;
	}
	size_t l = (size_t)(p - path);
	if (l && path[l - 1] == '/')
		l--;
	return strndup(path, l);
}

/* ---- files --------------------------------------------------------------- */

int cg_write_file(const char *dir, const char *file, const char *val, struct kerr *err)
{
	cleanup_free char *p = NULL;
	if (asprintf(&p, "%s/%s", dir, file) < 0)
		return kerr_set(err, -ENOMEM, "out of memory");
	cleanup_close int fd = open(p, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return kerr_set(err, -errno, "open %s: %s", p, strerror(errno));
	size_t l = strlen(val);
	ssize_t w = write(fd, val, l);
	if (w < 0)
		return kerr_set(err, -errno, "write \"%s\" to %s: %s", val, p, strerror(errno));
	if ((size_t)w != l)
		return kerr_set(err, -EIO, "short write to %s", p);
	return 0;
}

int cg_read_file(const char *dir, const char *file, char **out, struct kerr *err)
{
	cleanup_free char *p = NULL;
	if (asprintf(&p, "%s/%s", dir, file) < 0)
		return kerr_set(err, -ENOMEM, "out of memory");
	cleanup_close int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return kerr_set(err, -errno, "open %s: %s", p, strerror(errno));
	size_t cap = 4096, len = 0;
	cleanup_free char *buf = malloc(cap);
	if (!buf)
		return kerr_set(err, -ENOMEM, "out of memory");
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= (1u << 24))
				return kerr_set(err, -EFBIG, "%s is too large", p);
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				return kerr_set(err, -ENOMEM, "out of memory");
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return kerr_set(err, -errno, "read %s: %s", p, strerror(errno));
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = take_ptr(&buf);
	return 0;
}

int cg_kill_procs(const char *dir, struct kerr *err)
{
	cleanup_free char *procs = NULL;
	int r = cg_read_file(dir, "cgroup.procs", &procs, err);
	if (r == -ENOENT) {
		kerr_clear(err);
		return 0;
	}
	if (r < 0)
		return r;
	int n = 0;
	for (char *p = procs; *p;) {
		char *end;
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
			n++;
		p = end;
		while (*p == '\n')
			p++;
	}
	return n;
}

/* ---- mkdir / rmdir --------------------------------------------------------- */

int cg_level_dirs(const struct cgroup *cg, const struct cg_hier *h, size_t d, char **dir,
		  char **pdir, struct kerr *err)
{
	cleanup_free char *rel = cg_path_prefix(cg->path, d);
	cleanup_free char *prel = cg_path_prefix(cg->path, d - 1);
	*dir = *pdir = NULL;
	if (!rel || !prel || asprintf(dir, "%s/%s", h->mount, rel) < 0) {
		*dir = NULL; /* asprintf leaves it undefined on failure */
		return kerr_set(err, -ENOMEM, "out of memory");
	}
	if (asprintf(pdir, "%s%s%s", h->mount, prel[0] ? "/" : "", prel) < 0) {
		free(*dir);
		*dir = *pdir = NULL;
		return kerr_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

int cg_mkdir_path(struct cgroup *cg, struct cg_hier *h,
		  int (*on_created)(struct cgroup *, struct cg_hier *, const char *dir,
				    const char *parent, struct kerr *),
		  struct kerr *err)
{
	h->first_created = cg->depth; /* nothing created yet */
	for (size_t i = 1; i <= cg->depth; i++) {
		cleanup_free char *dir = NULL, *pdir = NULL;
		if (cg_level_dirs(cg, h, i, &dir, &pdir, err) < 0)
			return err->code;
		struct stat st;
		if (lstat(dir, &st) == 0) {
			if (!S_ISDIR(st.st_mode))
				return kerr_set(err, -ENOTDIR,
						"cgroup %s exists and is not a directory", dir);
			continue;
		}
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return kerr_set(err, -errno, "mkdir cgroup %s: %s", dir, strerror(errno));
		if (i - 1 < h->first_created)
			h->first_created = i - 1;
		if (on_created) {
			int r = on_created(cg, h, dir, pdir, err);
			if (r < 0)
				return r;
		}
	}
	h->present = true;
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* rmdir deepest first down to h->first_created, retrying EBUSY on the leaf
 * while cg->retries_left lasts; kill(pids) is called between retries. */
static int cg_rmdir_path(struct cgroup *cg, struct cg_hier *h,
			 int (*kill_all)(struct cgroup *, struct kerr *), struct kerr *err)
{
	if (!h->present && h->first_created >= cg->depth)
		return 0;
	/* The leaf is removed if it is empty (and, when we made it, after
	 * killing what is left); then every ancestor below cfg->parent that is
	 * empty now, whoever made it (only containers' cgroups live below the
	 * parent, and cg_create makes missing levels again). A leaf that
	 * existed before (a cgroups_path shared with another container) is
	 * never emptied by force. */
	bool own_leaf = h->first_created < cg->depth;
	size_t stop = cg->parent_depth;
	for (size_t i = cg->depth; i > stop; i--) {
		cleanup_free char *rel = cg_path_prefix(cg->path, i);
		cleanup_free char *dir = NULL;
		if (!rel || asprintf(&dir, "%s/%s", h->mount, rel) < 0)
			return kerr_set(err, -ENOMEM, "out of memory");
		bool strict = i == cg->depth && own_leaf, killed = false;
		for (;;) {
			if (rmdir(dir) == 0 || errno == ENOENT)
				break;
			int e = errno;
			if (!strict && (e == EBUSY || e == ENOTEMPTY)) {
				/* Shared with another container's cgroup: keep it. */
				log_debug("cgroup %s kept: still in use", dir);
				return 0;
			}
			if (e != EBUSY || cg->retries_left == 0)
				return kerr_set(err, -e, "rmdir cgroup %s: %s%s", dir, strerror(e),
						e == EBUSY ? " (processes left after kill)" : "");
			cg->retries_left--;
			/* The first kill is tried again at once (v1's kill returns
			 * once no pid is listed any more); later ones after a
			 * pause, for processes still on their way out. */
			if (killed || !kill_all)
				sleep_ms(CG_RETRY_MS);
			if (kill_all) {
				struct kerr kerr_tmp = { 0 };
				(void)kill_all(cg, &kerr_tmp);
				killed = true;
			}
		}
	}
	h->present = false;
	return 0;
}

/* ---- API ----------------------------------------------------------------- */

static void cg_free(struct cgroup *cg)
{
	if (!cg)
		return;
	hier_clear(cg);
	if (cg->v2fd >= 0)
		close(cg->v2fd);
	cg_devices_release(cg);
	free(cg->path);
	free(cg);
}

/* A handle on cgroups_path below cfg's parent: its hierarchies and path,
 * nothing on disk touched; NULL with err filled on error. */
static struct cgroup *cg_handle(const struct cg_config *cfg, const char *cgroups_path,
				const char *container_id, struct kerr *err)
{
	struct cgroup *cg = calloc(1, sizeof(*cg));
	if (!cg) {
		kerr_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	cg->v2fd = -1;
	cg->dev_prog_fd = -1;
	if (detect_hierarchies(cfg, &cg->layout, cg, err) < 0 ||
	    build_path(cfg, cgroups_path, container_id, cg, err) < 0) {
		cg_free(cg);
		return NULL;
	}
	for (size_t i = 0; i < cg->n_hier; i++)
		cg->hier[i].first_created = cg->depth; /* nothing made (yet) */
	return cg;
}

int cg_create(const struct cg_config *cfg, const char *cgroups_path, const char *container_id,
	      struct cgroup **out, struct kerr *err)
{
	struct cgroup *cg = cg_handle(cfg, cgroups_path, container_id, err);
	if (!cg)
		return err->code;
	int r = cg->layout == CG_V1 ? cg_v1_create(cg, err) : cg_v2_create(cg, err);
	if (r < 0) {
		/* Undo what was made; the original error is what the caller needs. */
		struct kerr e2 = { 0 };
		for (size_t i = cg->n_hier; i-- > 0;) {
			if (cg_rmdir_path(cg, &cg->hier[i], NULL, &e2) < 0)
				log_warn("cgroup cleanup after failed create: %s", e2.msg);
		}
		cg_free(cg);
		return r;
	}
	log_debug("cgroup %s created (%s, %zu hierarchies)", cg->path,
		  cg->layout == CG_V1 ? "v1" : "v2", cg->n_hier);
	*out = cg;
	return 0;
}

int cg_open(const struct cg_config *cfg, const char *cgroups_path, const char *container_id,
	    struct cgroup **out, struct kerr *err)
{
	struct cgroup *cg = cg_handle(cfg, cgroups_path, container_id, err);
	if (!cg)
		return err->code;
	for (size_t i = 0; i < cg->n_hier; i++)
		cg->hier[i].present = true;
	if (cg->layout == CG_V2) {
		cleanup_free char *leaf = NULL;
		if (asprintf(&leaf, "%s/%s", cg->hier[0].mount, cg->path) < 0) {
			cg_free(cg);
			return kerr_set(err, -ENOMEM, "out of memory");
		}
		cg->v2fd = open(leaf, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (cg->v2fd < 0) {
			int e = errno;
			cg_free(cg);
			return kerr_set(err, -e, "open cgroup2 %s: %s", leaf, strerror(e));
		}
	}
	*out = cg;
	return 0;
}

int cg_v2_fd(const struct cgroup *cg)
{
	return cg && cg->layout == CG_V2 ? cg->v2fd : -1;
}

const char *cg_path(const struct cgroup *cg)
{
	return cg->path;
}

enum cg_layout cg_layout_of(const struct cgroup *cg)
{
	return cg->layout;
}

int cg_add_pid(struct cgroup *cg, pid_t pid, struct kerr *err)
{
	char val[32];
	snprintf(val, sizeof(val), "%d", (int)pid);
	for (size_t i = 0; i < cg->n_hier; i++) {
		cleanup_free char *dir = NULL;
		if (asprintf(&dir, "%s/%s", cg->hier[i].mount, cg->path) < 0)
			return kerr_set(err, -ENOMEM, "out of memory");
		int r = cg_write_file(dir, "cgroup.procs", val, err);
		if (r < 0)
			return kerr_prefix(err, "add pid %d to cgroup", (int)pid);
	}
	return 0;
}

int cg_destroy(struct cgroup *cg, struct kerr *err)
{
	if (!cg)
		return 0;
	int ret = 0;
	struct kerr e2 = { 0 };
	cg->retries_left = CG_RETRIES;
	int r = 0;
	/* No kill first: a removed container's cgroup is empty (the monitor
	 * reaped every process of it), and finding that out by freezing and
	 * reading every hierarchy cost more than the rmdirs themselves. The
	 * leaf's rmdir is the check: EBUSY kills what is left
	 * (cg_rmdir_path). */
	if (cg->v2fd >= 0) {
		close(cg->v2fd);
		cg->v2fd = -1;
	}
	for (size_t i = cg->n_hier; i-- > 0;) {
		r = cg_rmdir_path(cg, &cg->hier[i], cg->layout == CG_V1 ? cg_v1_kill : cg_v2_kill,
				  &e2);
		if (r < 0) {
			log_error("cgroup %s left behind: %s", cg->path, e2.msg);
			if (ret == 0)
				ret = kerr_set(err, r, "%s", e2.msg);
		}
	}
	cg_free(cg);
	return ret;
}

int cg_kill_all(struct cgroup *cg, struct kerr *err)
{
	if (!cg)
		return 0;
	/* The kill rounds draw on this budget (one stall of the loop each). */
	cg->retries_left = 5;
	return cg->layout == CG_V1 ? cg_v1_kill(cg, err) : cg_v2_kill(cg, err);
}

void cg_forget(struct cgroup *cg)
{
	cg_free(cg);
}

int cg_parent_remove(const struct cg_config *cfg, struct kerr *err)
{
	if (!cfg || !cfg->parent)
		return 0;
	char buf[CG_PATH_MAX + 1] = "";
	size_t len = 0, depth = 0;
	int r = append_plain(buf, &len, "cgroup parent", cfg->parent, &depth, err);
	if (r < 0 || depth == 0)
		return r;
	enum cg_layout layout;
	struct cgroup tmp = { .v2fd = -1, .dev_prog_fd = -1 };
	r = detect_hierarchies(cfg, &layout, &tmp, err);
	for (size_t i = 0; r >= 0 && i < tmp.n_hier; i++) {
		cleanup_free char *dir = NULL;
		if (asprintf(&dir, "%s/%s", tmp.hier[i].mount, buf) < 0) {
			r = kerr_set(err, -ENOMEM, "out of memory");
			break;
		}
		if (rmdir(dir) < 0 && errno != ENOENT)
			r = kerr_set(err, -errno, "rmdir cgroup parent %s: %s", dir,
				     strerror(errno));
	}
	hier_clear(&tmp);
	return r;
}

/* ---- freezer ------------------------------------------------------------- */

/* The directory holding the freeze files, and which file. */
static int freeze_dir(struct cgroup *cg, char **dir, struct kerr *err)
{
	for (size_t i = 0; i < cg->n_hier; i++) {
		if (cg->layout == CG_V1 && !cg->hier[i].freezer)
			continue;
		if (asprintf(dir, "%s/%s", cg->hier[i].mount, cg->path) < 0)
			return kerr_set(err, -ENOMEM, "out of memory");
		return 0;
	}
	return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -ENOTSUP,
			       "cgroup %s: no freezer controller is mounted", cg->path);
}

int cg_freeze(struct cgroup *cg, bool frozen, struct kerr *err)
{
	cleanup_free char *dir = NULL;
	int r = freeze_dir(cg, &dir, err);
	if (r < 0)
		return r;
	if (cg->layout == CG_V1)
		r = cg_write_file(dir, "freezer.state", frozen ? "FROZEN" : "THAWED", err);
	else
		r = cg_write_file(dir, "cgroup.freeze", frozen ? "1" : "0", err);
	if (r == -ENOENT)
		err->status = GRPC_FAILED_PRECONDITION; /* v2 before 5.2: no cgroup.freeze */
	return r;
}

int cg_freeze_reached(struct cgroup *cg, bool frozen, struct kerr *err)
{
	cleanup_free char *dir = NULL, *v = NULL;
	int r = freeze_dir(cg, &dir, err);
	if (r < 0)
		return r;
	if (cg->layout == CG_V1) {
		r = cg_read_file(dir, "freezer.state", &v, err);
		if (r < 0)
			return r;
		return !strncmp(v, frozen ? "FROZEN" : "THAWED", 6);
	}
	r = cg_read_file(dir, "cgroup.events", &v, err);
	if (r < 0)
		return r;
	const char *f = strstr(v, "frozen ");
	return f && f[7] == (frozen ? '1' : '0');
}

/* ---- controller directories ----------------------------------------------- */

int cg_controller_dir(const struct cgroup *cg, const char *ctrl, char **out, struct kerr *err)
{
	size_t l = strlen(ctrl);
	for (size_t i = 0; i < cg->n_hier; i++) {
		bool match = cg->layout == CG_V2;
		/* v1: ctrls is a comma-separated set ("cpu,cpuacct"). */
		for (const char *c = cg->hier[i].ctrls; !match && *c;) {
			const char *e = strchrnul(c, ',');
			match = (size_t)(e - c) == l && !strncmp(c, ctrl, l);
			c = *e ? e + 1 : e;
		}
		if (!match)
			continue;
		if (asprintf(out, "%s/%s", cg->hier[i].mount, cg->path) < 0)
			return kerr_set(err, -ENOMEM, "out of memory");
		return 0;
	}
	return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -ENOENT,
			       "cgroup %s: no %s controller is mounted", cg->path, ctrl);
}

int cg_cpuset_refresh(struct cgroup *cg, bool leaf, struct kerr *err)
{
	/* v2: an empty cpuset.cpus follows the parent's effective set, and
	 * the agent never writes one it was not asked for. */
	if (!cg || cg->layout != CG_V1)
		return 0;
	for (size_t i = 0; i < cg->n_hier; i++) {
		struct cg_hier *h = &cg->hier[i];
		if (!h->cpuset || !h->present)
			continue;
		cleanup_free char *cpus = NULL;
		int r = cg_read_file(h->mount, "cpuset.cpus", &cpus, err);
		if (r < 0)
			return r;
		cpus[strcspn(cpus, "\n")] = '\0';
		/* Ancestors first: a child may only widen within its parent. */
		for (size_t d = 1; d <= cg->depth; d++) {
			if (d == cg->depth && !leaf)
				break;
			cleanup_free char *rel = cg_path_prefix(cg->path, d);
			cleanup_free char *dir = NULL;
			if (!rel || asprintf(&dir, "%s/%s", h->mount, rel) < 0)
				return kerr_set(err, -ENOMEM, "out of memory");
			r = cg_write_file(dir, "cpuset.cpus", cpus, err);
			if (r < 0)
				return kerr_prefix(err, "cgroup %s: widen cpuset to %s", cg->path,
						   cpus);
		}
	}
	return 0;
}
