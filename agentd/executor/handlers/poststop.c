/* SPDX-License-Identifier: Apache-2.0 */
/*
 * poststop.c - a removed container's poststop hooks (the guest's from
 * guest_hook_path, and the host's when allow_host_hooks), run by a runner
 * process forked for them, never in the executor's loop: a hook that
 * sleeps delays only the RemoveContainer that waits for it (as upstream,
 * whose destroy() runs them in the call's own task), while every other
 * request is served.
 *
 * The runner keeps only fds 0-2, is its own process group, runs the hooks
 * one after the other (each killed with its group at its own deadline,
 * hooks.c) and exits; the executor kills the runner's whole group at the
 * sum of the hooks' deadlines (plus a grace), whatever happens inside.
 * Failures are logged; the removal goes on (runtime spec: poststop errors
 * are warnings).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libc_compat.h"
#include "cleanup.h"
#include "executor.h"
#include "loop.h"
#include "poststop.h"
#include "hooks.h"

#define POSTSTOP_GRACE_S 2

static __attribute__((noreturn)) void runner_main(struct container *ct, const char *state)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setpgid(0, 0);
	close_range(3, ~0u, 0);
	loop_signals_unblock();
	struct kerr e = { 0 };
	if (hooks_run(ct->req->oci->hooks, HOOK_POSTSTOP, state, &e) < 0) {
		log_warn("container %s: %s", ct->id, e.msg);
		_exit(1);
	}
	_exit(0);
}

static void on_deadline(struct loop *l, void *data)
{
	struct container *ct = data;
	ct->poststop_timer = NULL;
	log_warn("container %s: poststop hooks still running at their deadline: killed", ct->id);
	kill(-ct->poststop_pid, SIGKILL);
	kill(ct->poststop_pid, SIGKILL);
}

bool poststop_start(struct container *ct)
{
	size_t n;
	Grpc__Hook **h = hooks_of_stage(ct->req && ct->req->oci ? ct->req->oci->hooks : NULL,
					HOOK_POSTSTOP, &n);
	if (!n || ct->init_pid <= 0)
		return false;
	int64_t total = POSTSTOP_GRACE_S;
	for (size_t i = 0; i < n; i++)
		total += hook_timeout_sec(h[i]);
	cleanup_free char *state = hooks_state_json(ct->req->oci, ct->id, "stopped", 0,
						    ct->bundle ? ct->bundle : "");
	if (!state) {
		log_error("container %s: poststop hooks not run: out of memory", ct->id);
		return false;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_error("container %s: poststop hooks not run: fork: %s", ct->id,
			  strerror(errno));
		return false;
	}
	if (pid == 0)
		runner_main(ct, state);
	setpgid(pid, pid);
	ct->poststop_pid = pid;
	ct->poststop_timer = loop_timer_add(ct->x->loop,
					    loop_now_ns() + (uint64_t)total * 1000000000ull,
					    on_deadline, ct);
	if (!ct->poststop_timer)
		log_error("container %s: no deadline for the poststop hooks (out of memory)",
			  ct->id);
	log_info("container %s: %zu poststop hook(s) running (pid %d, at most %lld s)", ct->id, n,
		 (int)pid, (long long)total);
	return true;
}

struct container *poststop_reaped(struct executor *x, pid_t pid, int status)
{
	for (struct container *ct = x->ctrs; ct; ct = ct->next) {
		if (ct->poststop_pid != pid)
			continue;
		ct->poststop_pid = 0;
		if (ct->poststop_timer) {
			loop_timer_cancel(x->loop, ct->poststop_timer);
			ct->poststop_timer = NULL;
		}
		/* What is left of the group (a hook's child) goes too. */
		kill(-pid, SIGKILL);
		log_info("container %s: poststop hooks done (wait status 0x%x)", ct->id, status);
		return ct;
	}
	return NULL;
}

void poststop_kill(struct container *ct)
{
	if (ct->poststop_timer)
		loop_timer_cancel(ct->x->loop, ct->poststop_timer);
	ct->poststop_timer = NULL;
	if (ct->poststop_pid > 0) {
		kill(-ct->poststop_pid, SIGKILL);
		kill(ct->poststop_pid, SIGKILL);
	}
}
