/* SPDX-License-Identifier: Apache-2.0 */
/* guest_components.c - see guest_components.h. */
#include "guest_components.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libc_compat.h"
#include "cdh_client.h"
#include "cleanup.h"
#include "initdata.h"
#include "log.h"
#include "loop.h"
#include "openat2.h"

#define NS_PER_MS 1000000ull

#define AA_CONFIG INITDATA_DIR "/" INITDATA_AA_NAME
#define CDH_CONFIG INITDATA_DIR "/" INITDATA_CDH_NAME
#define INITDATA_TOML INITDATA_DIR "/" INITDATA_TOML_NAME

/* ---- the plan (upstream builtin_coco_plan) ---- */

/* upstream guest_components_max_level */
static int max_level(const char *procs)
{
	static const char *const levels[] = { "none", "attestation-agent", "confidential-data-hub",
					      "api-server-rest" };
	for (int i = 0; i < 4; i++)
		if (procs && strcmp(procs, levels[i]) == 0)
			return i;
	return 0;
}

static void push_arg(struct gc_spec *s, const char *a)
{
	size_t n = 0;
	while (s->argv[n])
		n++;
	if (n + 1 < GC_MAX_ARGV)
		s->argv[n] = a;
}

/* upstream launch_process: "-c CONFIG" when the file is there */
static void push_config(struct gc_spec *s, const char *config, gc_exists_fn exists)
{
	if (exists(config)) {
		push_arg(s, "-c");
		push_arg(s, config);
	}
}

size_t gc_plan(const struct agent_options *o, bool have_initdata, gc_exists_fn exists,
	       struct gc_spec plan[GC_MAX])
{
	int level = max_level(o->guest_components_procs);
	size_t n = 0;
	memset(plan, 0, GC_MAX * sizeof(*plan));
	if (level >= 1) {
		struct gc_spec *s = &plan[n++];
		*s = (struct gc_spec){ .id = "attestation-agent",
				       .path = GC_AA_PATH,
				       .socket = GC_AA_SOCKET };
		push_arg(s, GC_AA_PATH);
		push_arg(s, "--attestation_sock");
		push_arg(s, "unix://" GC_AA_SOCKET);
		if (have_initdata) {
			push_arg(s, "--initdata-toml");
			push_arg(s, INITDATA_TOML);
		}
		push_config(s, AA_CONFIG, exists);
	}
	if (level >= 2) {
		struct gc_spec *s = &plan[n++];
		*s = (struct gc_spec){ .id = "confidential-data-hub",
				       .path = GC_CDH_PATH,
				       .socket = CDH_SOCKET_PATH,
				       .env = "OCICRYPT_KEYPROVIDER_CONFIG=" GC_OCICRYPT_CONFIG };
		push_arg(s, GC_CDH_PATH);
		push_config(s, CDH_CONFIG, exists);
	}
	if (level >= 3) {
		struct gc_spec *s = &plan[n++];
		*s = (struct gc_spec){ .id = "api-server-rest", .path = GC_API_SERVER_PATH };
		push_arg(s, GC_API_SERVER_PATH);
		push_arg(s, "--features");
		push_arg(s,
			 o->guest_components_rest_api ? o->guest_components_rest_api : "resource");
	}
	return n;
}

/* ---- may root run it? ---- */

static bool writable_by_others(const struct stat *st)
{
	if (S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX))
		return false; /* others cannot rename or remove root's entries */
	return (st->st_mode & S_IWOTH) || ((st->st_mode & S_IWGRP) && st->st_gid != 0);
}

/* Every directory above path (following links, as exec will): root's and
 * not writable by anyone else. */
static int check_dirs(const char *path, char *why, size_t len)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *slash = strrchr(buf, '/'); slash; slash = strrchr(buf, '/')) {
		*slash = '\0';
		const char *dir = slash == buf ? "/" : buf;
		struct stat st;
		if (stat(dir, &st) < 0) {
			snprintf(why, len, "%s: %s", dir, strerror(errno));
			return -errno;
		}
		if (st.st_uid != 0 || writable_by_others(&st)) {
			snprintf(why, len,
				 "its directory %s may be changed by others than root "
				 "(owner %u, group %u, mode %04o)",
				 dir, (unsigned)st.st_uid, (unsigned)st.st_gid,
				 (unsigned)(st.st_mode & 07777));
			return -EPERM;
		}
		if (slash == buf)
			break;
	}
	return 0;
}

/* 0, -ENOENT (missing), or another negative errno with why filled. */
static int check_binary(const char *path, char *why, size_t len)
{
	char real[PATH_MAX];
	if (!realpath(path, real)) {
		if (errno == ENOENT || errno == ENOTDIR)
			return -ENOENT;
		snprintf(why, len, "%s", strerror(errno));
		return -errno;
	}
	struct stat st;
	if (stat(real, &st) < 0) {
		snprintf(why, len, "%s: %s", real, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR)) {
		snprintf(why, len, "%s is not an executable file", real);
		return -EACCES;
	}
	if (st.st_uid != 0 || writable_by_others(&st)) {
		snprintf(why, len,
			 "%s may be changed by others than root (owner %u, group %u, "
			 "mode %04o)",
			 real, (unsigned)st.st_uid, (unsigned)st.st_gid,
			 (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	int r = check_dirs(path, why, len);
	return r < 0 ? r : check_dirs(real, why, len);
}

/* upstream attestation_components_available: all or nothing. */
static bool plan_available(const struct gc_spec *plan, size_t n, const char *procs)
{
	for (size_t i = 0; i < n; i++) {
		char why[PATH_MAX + 128] = "";
		int r = check_binary(plan[i].path, why, sizeof(why));
		if (r == -ENOENT) {
			log_info("%s not found: no guest component is started "
				 "(agent.guest_components_procs=%s)",
				 plan[i].path, procs);
			return false;
		}
		if (r < 0) {
			json_t *f = json_pack("{s:s,s:s}", "component", plan[i].id, "path",
					      plan[i].path);
			log_fields(LOG_LVL_ERROR, f,
				   "refusing to run %s as root: %s; no guest "
				   "component is started",
				   plan[i].path, why);
			return false;
		}
	}
	return true;
}

/* ---- sockets ---- */

static void split(const char *path, char *dir, size_t len, const char **name)
{
	snprintf(dir, len, "%s", path);
	char *slash = strrchr(dir, '/');
	*name = path + (slash - dir) + 1;
	*slash = '\0';
}

/* upstream removes what is at the socket path before the launch, so that a
 * stale socket is not taken for the new one's; never through a symlink. */
static void remove_stale(const char *sock)
{
	char dir[PATH_MAX];
	const char *name;
	split(sock, dir, sizeof(dir), &name);
	cleanup_close int d = sys_openat2(AT_FDCWD, dir, O_PATH | O_DIRECTORY | O_CLOEXEC,
					  RESOLVE_NO_SYMLINKS);
	struct stat st;
	if (d < 0 || fstatat(d, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode))
		return;
	if (unlinkat(d, name, 0) < 0)
		log_warn("removing the old %s: %s", sock, strerror(errno));
	else
		log_debug("removed the old %s before the launch", sock);
}

static bool socket_ready(const char *sock)
{
	cleanup_close int fd = sys_openat2(AT_FDCWD, sock, O_PATH | O_CLOEXEC, RESOLVE_NO_SYMLINKS);
	struct stat st;
	return fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* ---- the launch ---- */

struct gc_proc {
	struct gc_spec spec;
	pid_t pid;
	uint64_t started;
};

struct guest_components {
	struct loop *loop;
	struct gc_proc procs[GC_MAX];
	size_t n, next;
	uint64_t timeout_s; /* whole seconds, as upstream's as_secs() */
	uint64_t deadline;
	struct loop_timer *timer;
	int stdio_fd;
	gc_done_fn done;
	void *data;
	bool waiting;  /* procs[next] runs and its socket is awaited */
	bool finished; /* done was called */
	bool stopping;
	pid_t self;
};

/* The parent's environment with add ("NAME=VALUE") replacing or joining
 * its NAME, as Command::env does. */
static char **environment_with(const char *add)
{
	extern char **environ;
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	size_t k = 0, name_len = add ? strcspn(add, "=") + 1 : 0;
	for (size_t i = 0; i < n; i++)
		if (!add || strncmp(environ[i], add, name_len) != 0)
			env[k++] = environ[i];
	if (add)
		env[k++] = (char *)add;
	return env;
}

static void __attribute__((noreturn))
execve_component(const struct gc_spec *s, char **env, int stdio_fd, pid_t parent)
{
	loop_signals_unblock();
	/* the parent ignores SIGPIPE, and ignored signals survive exec */
	signal(SIGPIPE, SIG_DFL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	if (stdio_fd >= 0 &&
	    (dup2(stdio_fd, STDOUT_FILENO) < 0 || dup2(stdio_fd, STDERR_FILENO) < 0))
		_exit(127);
	close_range(3, ~0U, 0);
	execve(s->path, (char *const *)s->argv, env);
	dprintf(STDERR_FILENO, "kata-agent: exec %s: %s\n", s->path, strerror(errno));
	_exit(127);
}

static void log_started(const struct gc_proc *p)
{
	char line[1024] = "";
	size_t used = 0;
	for (size_t i = 0; p->spec.argv[i] && used < sizeof(line); i++)
		used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%s", i ? " " : "",
					 p->spec.argv[i]);
	json_t *f = json_pack("{s:s,s:s,s:i}", "component", p->spec.id, "path", p->spec.path,
			      "child-pid", (int)p->pid);
	log_fields(LOG_LVL_INFO, f, "guest component %s started (pid %d): %s%s%s", p->spec.id,
		   (int)p->pid, p->spec.env ? p->spec.env : "", p->spec.env ? " " : "", line);
}

static void finish(struct guest_components *gc, bool ok)
{
	if (gc->timer)
		loop_timer_cancel(gc->loop, gc->timer);
	gc->timer = NULL;
	gc->waiting = false;
	if (gc->finished)
		return;
	gc->finished = true;
	gc->done(ok, gc->data);
}

static void step(struct guest_components *gc);

static void on_poll(struct loop *l, void *data)
{
	struct guest_components *gc = data;
	struct gc_proc *p = &gc->procs[gc->next];
	gc->timer = NULL;
	uint64_t now = loop_now_ns();
	if (socket_ready(p->spec.socket)) {
		json_t *f = json_pack("{s:s,s:s,s:I}", "component", p->spec.id, "socket",
				      p->spec.socket, "wait-ms",
				      (json_int_t)((now - p->started) / NS_PER_MS));
		log_fields(LOG_LVL_INFO, f, "guest component %s is ready: %s exists", p->spec.id,
			   p->spec.socket);
		gc->waiting = false;
		gc->next++;
		step(gc);
		return;
	}
	if (now >= gc->deadline) {
		json_t *f = json_pack("{s:s,s:s,s:i,s:s}", "component", p->spec.id, "path",
				      p->spec.path, "child-pid", (int)p->pid, "socket",
				      p->spec.socket);
		log_fields(LOG_LVL_ERROR, f,
			   "guest component %s (%s, pid %d) did not create %s "
			   "within %llu s (agent.launch_process_timeout + 1 s, as upstream)",
			   p->spec.id, p->spec.path, (int)p->pid, p->spec.socket,
			   (unsigned long long)gc->timeout_s + 1);
		finish(gc, false);
		return;
	}
	uint64_t at = now + GC_POLL_MS * NS_PER_MS;
	gc->timer = loop_timer_add(gc->loop, at < gc->deadline ? at : gc->deadline, on_poll, gc);
	if (!gc->timer) {
		log_error("guest components: out of memory while waiting for %s", p->spec.socket);
		finish(gc, false);
	}
}

/* Launch procs[next], or finish when there is none left. */
static void step(struct guest_components *gc)
{
	if (gc->stopping)
		return;
	if (gc->next == gc->n) {
		log_info("guest components started: %zu", gc->n);
		finish(gc, true);
		return;
	}
	struct gc_proc *p = &gc->procs[gc->next];
	if (p->spec.socket)
		remove_stale(p->spec.socket);
	cleanup_free char **env = environment_with(p->spec.env);
	pid_t pid = env ? fork() : -1;
	if (pid == 0)
		execve_component(&p->spec, env, gc->stdio_fd, gc->self);
	if (pid < 0) {
		log_error("guest component %s: cannot start %s: %s", p->spec.id, p->spec.path,
			  env ? strerror(errno) : "out of memory");
		finish(gc, false);
		return;
	}
	p->pid = pid;
	p->started = loop_now_ns();
	log_started(p);
	/* upstream waits only for a socket, and only with a timeout > 0 s */
	if (!p->spec.socket || !gc->timeout_s) {
		gc->next++;
		step(gc);
		return;
	}
	gc->waiting = true;
	gc->deadline = p->started + (gc->timeout_s + 1) * 1000 * NS_PER_MS;
	on_poll(gc->loop, gc);
}

static void on_begin(struct loop *l, void *data)
{
	struct guest_components *gc = data;
	gc->timer = NULL;
	step(gc);
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

int guest_components_start(struct guest_components **out, struct loop *loop,
			   const struct agent_options *o, bool have_initdata, int stdio_fd,
			   gc_done_fn done, void *data, struct kerr *err)
{
	*out = NULL;
	struct gc_spec plan[GC_MAX];
	size_t n = gc_plan(o, have_initdata, file_exists, plan);
	if (!n) {
		log_debug("agent.guest_components_procs=none: no guest component is started");
		return 0;
	}
	if (!plan_available(plan, n, o->guest_components_procs))
		return 0;
	struct guest_components *gc = calloc(1, sizeof(*gc));
	if (!gc)
		return kerr_set(err, -ENOMEM, "guest components: out of memory");
	*gc = (struct guest_components){ .loop = loop,
					 .n = n,
					 .stdio_fd = stdio_fd,
					 .timeout_s = o->launch_process_timeout_ms / 1000,
					 .done = done,
					 .data = data,
					 .self = getpid() };
	for (size_t i = 0; i < n; i++)
		gc->procs[i].spec = plan[i];
	/* from the loop, so done is never called from inside this function */
	gc->timer = loop_timer_add(loop, 0, on_begin, gc);
	if (!gc->timer) {
		free(gc);
		return kerr_set(err, -ENOMEM, "guest components: out of memory");
	}
	*out = gc;
	return 1;
}

static void log_end(const struct gc_spec *s, pid_t pid, int status, enum log_level lvl,
		    const char *what)
{
	json_t *f = json_pack("{s:s,s:s,s:i}", "component", s->id, "path", s->path, "child-pid",
			      (int)pid);
	char how[64];
	if (WIFEXITED(status)) {
		json_object_set_new(f, "exit-status", json_integer(WEXITSTATUS(status)));
		snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		json_object_set_new(f, "signal", json_integer(WTERMSIG(status)));
		const char *abbrev = sigabbrev_np(WTERMSIG(status));
		snprintf(how, sizeof(how), "was killed by signal %d (SIG%s)", WTERMSIG(status),
			 abbrev ? abbrev : "?");
	} else {
		snprintf(how, sizeof(how), "ended (wait status 0x%x)", status);
	}
	log_fields(lvl, f, "guest component %s (%s, pid %d) %s%s", s->id, s->path, (int)pid, how,
		   what);
}

bool guest_components_reaped(struct guest_components *gc, pid_t pid, int status)
{
	if (!gc || pid <= 0)
		return false;
	for (size_t i = 0; i < gc->n; i++) {
		struct gc_proc *p = &gc->procs[i];
		if (p->pid != pid)
			continue;
		p->pid = 0;
		if (gc->stopping) {
			log_end(&p->spec, pid, status, LOG_LVL_INFO, "");
		} else if (gc->waiting && i == gc->next) {
			char what[PATH_MAX + 64];
			snprintf(what, sizeof(what), " before creating %s", p->spec.socket);
			log_end(&p->spec, pid, status, LOG_LVL_ERROR, what);
			finish(gc, false);
		} else {
			log_end(&p->spec, pid, status, LOG_LVL_ERROR,
				"; it is not restarted (as upstream)");
		}
		return true;
	}
	return false;
}

static void signal_all(struct guest_components *gc, int sig)
{
	for (size_t i = 0; gc && i < gc->n; i++)
		if (gc->procs[i].pid > 0)
			kill(gc->procs[i].pid, sig);
}

void guest_components_stop(struct guest_components *gc)
{
	if (!gc)
		return;
	gc->stopping = true;
	if (gc->timer)
		loop_timer_cancel(gc->loop, gc->timer);
	gc->timer = NULL;
	gc->waiting = false;
	signal_all(gc, SIGTERM);
}

void guest_components_kill(struct guest_components *gc)
{
	signal_all(gc, SIGKILL);
}

bool guest_components_alive(const struct guest_components *gc)
{
	for (size_t i = 0; gc && i < gc->n; i++)
		if (gc->procs[i].pid > 0)
			return true;
	return false;
}

void guest_components_free(struct guest_components *gc)
{
	if (!gc)
		return;
	if (gc->timer)
		loop_timer_cancel(gc->loop, gc->timer);
	free(gc);
}
