/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "libc_compat.h"
#include "cleanup.h"
#include "hooks.h"
#include "linux_compat.h"

const char *hook_stage_name(enum hook_stage stage)
{
	switch (stage) {
	case HOOK_PRESTART:
		return "prestart";
	case HOOK_CREATE_RUNTIME:
		return "createRuntime";
	case HOOK_CREATE_CONTAINER:
		return "createContainer";
	case HOOK_START_CONTAINER:
		return "startContainer";
	case HOOK_POSTSTART:
		return "poststart";
	case HOOK_POSTSTOP:
		return "poststop";
	}
	return "?";
}

Grpc__Hook **hooks_of_stage(const Grpc__Hooks *h, enum hook_stage stage, size_t *n)
{
	*n = 0;
	if (!h)
		return NULL;
	switch (stage) {
	case HOOK_PRESTART:
		*n = h->n_prestart;
		return h->prestart;
	case HOOK_CREATE_RUNTIME:
		*n = h->n_createruntime;
		return h->createruntime;
	case HOOK_CREATE_CONTAINER:
		*n = h->n_createcontainer;
		return h->createcontainer;
	case HOOK_START_CONTAINER:
		*n = h->n_startcontainer;
		return h->startcontainer;
	case HOOK_POSTSTART:
		*n = h->n_poststart;
		return h->poststart;
	case HOOK_POSTSTOP:
		*n = h->n_poststop;
		return h->poststop;
	}
	return NULL;
}

char *hooks_state_json(const Grpc__Spec *spec, const char *id, const char *status, pid_t pid,
		       const char *bundle)
{
	json_t *ann = json_object();
	json_t *st = json_object();
	if (!ann || !st) {
		json_decref(ann);
		json_decref(st);
		return NULL;
	}
	for (size_t i = 0; spec && i < spec->n_annotations; i++)
		json_object_set_new(ann, spec->annotations[i]->key,
				    json_string(spec->annotations[i]->value));
	const char *ver = spec && spec->version && spec->version[0] ? spec->version : "1.0.2";
	json_object_set_new(st, "ociVersion", json_string(ver));
	json_object_set_new(st, "id", json_string(id ? id : ""));
	json_object_set_new(st, "status", json_string(status));
	if (pid > 0)
		json_object_set_new(st, "pid", json_integer(pid));
	json_object_set_new(st, "bundle", json_string(bundle ? bundle : ""));
	json_object_set_new(st, "annotations", ann);
	char *s = json_dumps(st, JSON_COMPACT);
	json_decref(st);
	return s;
}

int64_t hook_timeout_sec(const Grpc__Hook *h)
{
	if (h->timeout <= 0)
		return HOOK_DEFAULT_TIMEOUT_SEC;
	return h->timeout < HOOK_MAX_TIMEOUT_SEC ? h->timeout : HOOK_MAX_TIMEOUT_SEC;
}

/* Wait for the hook with a deadline; at the deadline its process group
 * (the hook and whatever it started without leaving the group) is
 * killed. Without a pidfd (a seccomp filter refused both clone3 and
 * pidfd_open: startContainer hooks run under the container's) the wait
 * polls every 10 ms. */
static int wait_hook(pid_t pid, int pidfd, int64_t timeout_sec, int *status, bool *timed_out)
{
	*timed_out = false;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		int64_t left_ms = timeout_sec * 1000 - ((now.tv_sec - start.tv_sec) * 1000 +
							(now.tv_nsec - start.tv_nsec) / 1000000);
		if (left_ms <= 0) {
			*timed_out = true;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			break;
		}
		int r;
		if (pidfd >= 0) {
			struct pollfd p = { .fd = pidfd, .events = POLLIN };
			r = poll(&p, 1, left_ms > 60000 ? 60000 : (int)left_ms);
		} else {
			r = waitpid(pid, status, WNOHANG);
			if (r == pid)
				return 0;
			struct timespec tick = { 0, 10 * 1000 * 1000 };
			nanosleep(&tick, NULL);
			r = 0;
		}
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0)
			break;
	}
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* The hook's child side: its own process group (killed whole at the
 * deadline), the state on stdin, the default signal mask. */
static __attribute__((noreturn)) void hook_child(const Grpc__Hook *h, int in, char **argv,
						 char **envp)
{
	setpgid(0, 0);
	if (dup2(in, 0) < 0)
		_exit(126);
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	execve(h->path, argv, envp);
	_exit(127);
}

static int run_one(const Grpc__Hook *h, const char *state, int *status, bool *timed_out,
		   struct kerr *err)
{
	int in[2];
	if (pipe2(in, O_CLOEXEC) < 0)
		return kerr_set(err, -errno, "pipe: %s", strerror(errno));

	/* argv/envp are built before fork so the child only calls async-safe
	 * functions. */
	const char *argv0 = h->path;
	size_t na = h->n_args ? h->n_args : 1;
	cleanup_free char **argv = calloc(na + 1, sizeof(char *));
	cleanup_free char **envp = calloc(h->n_env + 1, sizeof(char *));
	if (!argv || !envp) {
		close(in[0]);
		close(in[1]);
		return kerr_set(err, -ENOMEM, "out of memory");
	}
	if (h->n_args)
		for (size_t i = 0; i < h->n_args; i++)
			argv[i] = h->args[i];
	else
		argv[0] = (char *)argv0;
	for (size_t i = 0; i < h->n_env; i++)
		envp[i] = h->env[i];

	int pidfd = -1;
	struct kclone_args ca = { .flags = CLONE_PIDFD,
				  .pidfd = (uint64_t)(uintptr_t)&pidfd,
				  .exit_signal = SIGCHLD };
	pid_t pid = sys_clone3(&ca);
	if (pid < 0 && (errno == ENOSYS || errno == EPERM)) {
		/* startContainer hooks run under the container's seccomp
		 * filter, which may refuse clone3: a plain fork. */
		pid = fork();
		if (pid > 0)
			pidfd = pidfd_open(pid, 0);
	}
	if (pid < 0) {
		int e = errno;
		close(in[0]);
		close(in[1]);
		return kerr_set(err, -e, "start the hook: %s", strerror(e));
	}
	if (pid == 0)
		hook_child(h, in[0], argv, envp);
	close(in[0]);
	/* The hook may not read its stdin: ignore EPIPE, and never block on a
	 * full pipe longer than the hook lives (the state is small). */
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	sigaction(SIGPIPE, &ign, &old);
	size_t len = strlen(state), off = 0;
	while (off < len) {
		ssize_t w = write(in[1], state + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(in[1]);
	sigaction(SIGPIPE, &old, NULL);

	int r = wait_hook(pid, pidfd, hook_timeout_sec(h), status, timed_out);
	if (pidfd >= 0)
		close(pidfd);
	if (r < 0)
		return kerr_set(err, r, "wait: %s", strerror(-r));
	return 0;
}

int hooks_run(const Grpc__Hooks *hooks, enum hook_stage stage, const char *state, struct kerr *err)
{
	size_t n;
	Grpc__Hook **list = hooks_of_stage(hooks, stage, &n);

	for (size_t i = 0; i < n; i++) {
		int status = 0;
		bool timed_out = false;
		int r = run_one(list[i], state, &status, &timed_out, err);
		if (r < 0)
			return kerr_prefix(err, "%s hook %zu (%s)", hook_stage_name(stage), i,
					   list[i]->path);
		if (timed_out)
			return kerr_set(err, -ETIMEDOUT, "%s hook %zu (%s): timed out",
					hook_stage_name(stage), i, list[i]->path);
		if (WIFSIGNALED(status))
			return kerr_set(err, -ECANCELED, "%s hook %zu (%s): killed by signal %d",
					hook_stage_name(stage), i, list[i]->path, WTERMSIG(status));
		if (WEXITSTATUS(status) == 127)
			return kerr_set(err, -ENOEXEC, "%s hook %zu (%s): could not be executed",
					hook_stage_name(stage), i, list[i]->path);
		if (WEXITSTATUS(status) != 0)
			return kerr_set(err, -ECANCELED, "%s hook %zu (%s): exit status %d",
					hook_stage_name(stage), i, list[i]->path,
					WEXITSTATUS(status));
	}
	return 0;
}
