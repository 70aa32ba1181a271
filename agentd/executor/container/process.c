/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "caps.h"
#include "cleanup.h"
#include "grpc_status.h"
#include "linux_compat.h"
#include "log.h"
#include "process.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const struct {
	const char *name;
	int res;
} rlimits[] = {
	{ "RLIMIT_AS", RLIMIT_AS },
	{ "RLIMIT_CORE", RLIMIT_CORE },
	{ "RLIMIT_CPU", RLIMIT_CPU },
	{ "RLIMIT_DATA", RLIMIT_DATA },
	{ "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "RLIMIT_LOCKS", RLIMIT_LOCKS },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
	{ "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },
	{ "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
	{ "RLIMIT_RTTIME", RLIMIT_RTTIME },
	{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_STACK", RLIMIT_STACK },
};

int process_rlimit_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(rlimits) / sizeof(rlimits[0]); i++)
		if (strcmp(name, rlimits[i].name) == 0)
			return rlimits[i].res;
	return -1;
}

int process_cap_from_name(const char *name)
{
	char low[64];
	size_t n = strlen(name);
	if (n == 0 || n >= sizeof(low))
		return -1;
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	return caps_from_name(low);
}

bool process_sysctl_allowed(const char *key, int ns_flags)
{
	static const char *const ipc_keys[] = {
		"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
		"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
	};
	char k[256];
	size_t n = strlen(key);

	if (n == 0 || n >= sizeof(k) || key[0] == '/' || key[0] == '.' || strstr(key, ".."))
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = key[i];
		if (c && !isalnum((unsigned char)c) && c != '_' && c != '-' && c != '.' && c != '/')
			return false;
		k[i] = c == '/' ? '.' : c;
	}
	if (ns_flags & CLONE_NEWIPC) {
		for (size_t i = 0; i < sizeof(ipc_keys) / sizeof(ipc_keys[0]); i++)
			if (strcmp(k, ipc_keys[i]) == 0)
				return true;
		if (strncmp(k, "fs.mqueue.", 10) == 0)
			return true;
	}
	if (strncmp(k, "net.", 4) == 0)
		return true;
	if ((ns_flags & CLONE_NEWUTS) &&
	    (strcmp(k, "kernel.hostname") == 0 || strcmp(k, "kernel.domainname") == 0))
		return true;
	return false;
}

int process_set_hostname(const char *hostname, struct kerr *err)
{
	if (sethostname(hostname, strlen(hostname)) < 0)
		return kerr_set(err, -errno, "sethostname %s: %s", hostname, strerror(errno));
	return 0;
}

int process_apply_sysctl(const Grpc__Linux *lx, int root_fd, struct kerr *err)
{
	if (!lx || lx->n_sysctl == 0)
		return 0;
	cleanup_close int dir = sys_openat2(root_fd, "proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC,
					    RESOLVE_CONTAINER | RESOLVE_NO_SYMLINKS);
	if (dir < 0)
		return kerr_set(err, -errno,
				"open /proc/sys (is /proc mounted in the container?): %s",
				strerror(errno));
	struct statfs sfs;
	if (fstatfs(dir, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
		return kerr_set(err, -EINVAL, "/proc/sys in the container is not procfs");
	for (size_t i = 0; i < lx->n_sysctl; i++) {
		const char *key = lx->sysctl[i]->key, *val = lx->sysctl[i]->value;
		char rel[256];
		size_t n = strlen(key);
		if (n >= sizeof(rel))
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "Linux.Sysctl: key too long");
		for (size_t j = 0; j <= n; j++)
			rel[j] = key[j] == '.' ? '/' : key[j];
		cleanup_close int fd = sys_openat2(dir, rel, O_WRONLY | O_CLOEXEC,
						   RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
							   RESOLVE_NO_MAGICLINKS);
		if (fd < 0)
			return kerr_set(err, -errno, "sysctl %s: open /proc/sys/%s: %s", key, rel,
					strerror(errno));
		if (write(fd, val, strlen(val)) < 0)
			return kerr_set(err, -errno, "sysctl %s=%s: %s", key, val, strerror(errno));
	}
	return 0;
}

int process_set_oom_score_adj(int64_t adj, struct kerr *err)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%lld", (long long)adj);
	cleanup_close int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return kerr_set(err, -errno, "open /proc/self/oom_score_adj: %s", strerror(errno));
	if (write(fd, buf, (size_t)n) < 0)
		return kerr_set(err, -errno, "set oom_score_adj %s: %s", buf, strerror(errno));
	return 0;
}

int process_set_rlimits(const Grpc__Process *p, struct kerr *err)
{
	for (size_t i = 0; i < p->n_rlimits; i++) {
		const Grpc__POSIXRlimit *rl = p->rlimits[i];
		int res = process_rlimit_from_name(rl->type);
		if (res < 0)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "Process.Rlimits[%zu]: unknown type %.64s", i,
					       rl->type);
		struct rlimit lim = { .rlim_cur = rl->soft, .rlim_max = rl->hard };
		if (setrlimit(res, &lim) < 0)
			return kerr_set(err, -errno, "setrlimit %s soft %llu hard %llu: %s",
					rl->type, (unsigned long long)rl->soft,
					(unsigned long long)rl->hard, strerror(errno));
	}
	return 0;
}

static bool in_list(char *const *names, size_t n, int cap)
{
	for (size_t i = 0; i < n; i++)
		if (process_cap_from_name(names[i]) == cap)
			return true;
	return false;
}

int process_drop_bounding(const Grpc__LinuxCapabilities *caps, struct kerr *err)
{
	int last = caps_count();
	for (int c = 0; c < last; c++) {
		if (caps && in_list(caps->bounding, caps->n_bounding, c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return kerr_set(err, -errno, "drop capability %d from the bounding set: %s",
					c, strerror(errno));
	}
	return 0;
}

int process_set_user(const Grpc__User *user, struct kerr *err)
{
	uid_t uid = user ? user->uid : 0;
	gid_t gid = user ? user->gid : 0;

	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return kerr_set(err, -errno, "PR_SET_KEEPCAPS: %s", strerror(errno));
	size_t n = user ? user->n_additionalgids : 0;
	if (setgroups(n, n ? (const gid_t *)user->additionalgids : NULL) < 0)
		return kerr_set(err, -errno, "setgroups (%zu groups): %s", n, strerror(errno));
	if (setresgid(gid, gid, gid) < 0)
		return kerr_set(err, -errno, "setresgid %u: %s", gid, strerror(errno));
	if (setresuid(uid, uid, uid) < 0)
		return kerr_set(err, -errno, "setresuid %u: %s", uid, strerror(errno));
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return kerr_set(err, -errno, "PR_SET_KEEPCAPS: %s", strerror(errno));
	return 0;
}

/* The set named `set` of the spec as a bitmask; capabilities this kernel
 * does not know are left out with a warning, as runc does. */
static int fill(uint64_t *mask, char *const *names, size_t n, const char *set, int last,
		struct kerr *err)
{
	for (size_t i = 0; i < n; i++) {
		int v = process_cap_from_name(names[i]);
		if (v < 0)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "Process.Capabilities.%s[%zu]: unknown %.64s", set,
					       i, names[i]);
		if (v >= last) {
			log_warn("capability %s is unknown to this kernel, ignored", names[i]);
			continue;
		}
		*mask |= 1ull << v;
	}
	return 0;
}

int process_set_caps(const Grpc__LinuxCapabilities *caps, struct kerr *err)
{
	struct caps_sets s = { 0 };
	int last = caps_count();
	int r = 0;
	if (caps)
		r = fill(&s.effective, caps->effective, caps->n_effective, "Effective", last, err);
	if (caps && r == 0)
		r = fill(&s.permitted, caps->permitted, caps->n_permitted, "Permitted", last, err);
	if (caps && r == 0)
		r = fill(&s.inheritable, caps->inheritable, caps->n_inheritable, "Inheritable",
			 last, err);
	if (r < 0)
		return r;
	if (caps_set(&s) < 0)
		return kerr_set(err, -errno, "set capabilities: %s", strerror(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return kerr_set(err, -errno, "reset ambient capabilities: %s", strerror(errno));
	for (size_t i = 0; caps && i < caps->n_ambient; i++) {
		int v = process_cap_from_name(caps->ambient[i]);
		if (v < 0 || v >= last)
			continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)v, 0, 0) < 0)
			return kerr_set(err, -errno, "raise ambient %s: %s", caps->ambient[i],
					strerror(errno));
	}
	return 0;
}

static bool executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0;
}

int process_lookup(const Grpc__Process *p, char **out, struct kerr *err)
{
	const char *arg0 = p->args[0];
	*out = NULL;
	if (strchr(arg0, '/')) {
		if (!executable(arg0))
			return kerr_set(err, -ENOENT, "executable %s: not found or not executable",
					arg0);
		*out = strdup(arg0);
		return *out ? 0 : kerr_set(err, -ENOMEM, "out of memory");
	}
	const char *path = DEFAULT_PATH;
	for (size_t i = 0; i < p->n_env; i++)
		if (strncmp(p->env[i], "PATH=", 5) == 0)
			path = p->env[i] + 5;
	cleanup_free char *copy = strdup(path);
	if (!copy)
		return kerr_set(err, -ENOMEM, "out of memory");
	char *save = NULL;
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		char *cand = NULL;
		if (asprintf(&cand, "%s/%s", *dir ? dir : ".", arg0) < 0)
			return kerr_set(err, -ENOMEM, "out of memory");
		if (executable(cand)) {
			*out = cand;
			return 0;
		}
		free(cand);
	}
	return kerr_set(err, -ENOENT, "executable file %s not found in $PATH", arg0);
}

int process_exec(const char *path, const Grpc__Process *p, char **env, struct kerr *err)
{
	cleanup_free char **argv = calloc(p->n_args + 1, sizeof(char *));
	if (!argv)
		return kerr_set(err, -ENOMEM, "out of memory");
	memcpy(argv, p->args, p->n_args * sizeof(char *));
	execve(path, argv, env);
	return kerr_set(err, -errno, "exec %s: %s", path, strerror(errno));
}

void process_exec_inherit(Grpc__Process *out, const Grpc__Process *exec,
			  const Grpc__Process *container)
{
	*out = *exec;
	if (!container)
		return;
	if (!out->capabilities)
		out->capabilities = container->capabilities;
	if (out->n_rlimits == 0) {
		out->n_rlimits = container->n_rlimits;
		out->rlimits = container->rlimits;
	}
	if (out->oomscoreadj == 0)
		out->oomscoreadj = container->oomscoreadj;
	out->nonewprivileges = out->nonewprivileges || container->nonewprivileges;
}

/* ---- environment ---- */

#define PASSWD_MAX (1u << 20)

void process_env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/* Rust's str::trim on the ASCII white space. */
static void trim(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)(*s)[0])) {
		(*s)++;
		(*n)--;
	}
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* The home directory of uid in the container's /etc/passwd, or NULL. */
static char *passwd_home(uid_t uid)
{
	cleanup_close int fd = open("/etc/passwd", O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return NULL;
	cleanup_free char *buf = malloc(PASSWD_MAX + 1);
	size_t len = 0;
	if (!buf)
		return NULL;
	while (len < PASSWD_MAX) {
		ssize_t r = read(fd, buf + len, PASSWD_MAX - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* name:password:uid:gid:gecos:home:shell */
		char *f[7] = { 0 };
		size_t k = 0;
		for (char *c = line; k < 7; k++) {
			f[k] = c;
			c = strchr(c, ':');
			if (!c)
				break;
			*c++ = '\0';
		}
		if (k < 6 || !f[2][0] || !f[5][0])
			continue;
		char *end;
		errno = 0;
		unsigned long v = strtoul(f[2], &end, 10);
		if (!errno && !*end && v == uid)
			return strdup(f[5]);
	}
	return NULL;
}

static int env_set(char **env, size_t *n, const char *key, size_t klen, const char *val,
		   size_t vlen, struct kerr *err)
{
	char *e = NULL;
	if (asprintf(&e, "%.*s=%.*s", (int)klen, key, (int)vlen, val) < 0)
		return kerr_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < *n; i++)
		if (strncmp(env[i], e, klen + 1) == 0) {
			free(env[i]);
			env[i] = e;
			return 0;
		}
	env[(*n)++] = e;
	return 0;
}

int process_env(const Grpc__Process *p, char ***out, struct kerr *err)
{
	char **env = calloc(p->n_env + 2, sizeof(char *));
	size_t n = 0;
	bool home = false;
	int r = 0;
	if (!env)
		return kerr_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < p->n_env && r == 0; i++) {
		const char *eq = strchr(p->env[i], '=');
		if (!eq) {
			log_info("Env[%zu] has no '=': left out (as upstream)", i);
			continue;
		}
		const char *k = p->env[i], *v = eq + 1;
		size_t kl = (size_t)(eq - k), vl = strlen(v);
		trim(&k, &kl);
		trim(&v, &vl);
		if (kl == 0) {
			log_info("Env[%zu] has an empty name: left out (as upstream)", i);
			continue;
		}
		home = home || (kl == 4 && memcmp(k, "HOME", 4) == 0);
		r = env_set(env, &n, k, kl, v, vl, err);
	}
	if (r == 0 && !home) {
		cleanup_free char *h = passwd_home(p->user ? p->user->uid : 0);
		r = env_set(env, &n, "HOME", 4, h ? h : "/", strlen(h ? h : "/"), err);
	}
	if (r < 0) {
		process_env_free(env);
		return r;
	}
	*out = env;
	return 0;
}
