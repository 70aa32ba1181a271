/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vm-init-stub: a PID 1 that does only what agentd/parent/init.c offers, in
 * the order the parent calls it, then waits for SIGTERM and powers off.
 *
 * tests/vm/run boots it instead of kata-agent with VM_AGENT=stub, to test
 * the init duties and the harness itself when the agent proper does not
 * build or run; it serves no RPC, so the guest's RPC checks fail there.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "init.h"
#include "log.h"
#include "options.h"

extern char **environ;

static void warn_option(const char *option, const char *value, const char *why, void *data)
{
	log_warn("option %s=%s: %s", option, value ? value : "", why);
}

int main(void)
{
	struct kerr err = { 0 };
	struct agent_options o;
	sigset_t set;

	log_init("vm-init-stub", STDERR_FILENO, LOG_LVL_DEBUG);
	if (getpid() != 1) {
		log_error("vm-init-stub must run as PID 1");
		return 1;
	}
	/* Block first: PID 1 ignores signals it has no handler for, and the
	 * test runner's SIGTERM must not be lost while we set up. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);

	if (init_early(&err) < 0) {
		log_error("%s", err.msg);
		init_poweroff("init_early failed");
	}
	if (options_load(&o, NULL, NULL, environ, warn_option, NULL, &err) < 0) {
		log_error("%s", err.msg);
		return 1;
	}
	log_set_level(o.log_level);
	log_announce(options_to_json(&o));
	if (init_late(o.unified_cgroup_hierarchy, &err) < 0) {
		log_error("%s", err.msg);
		return 1; /* init_early made exit power off */
	}

	for (;;) {
		int sig = 0;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGTERM)
			break;
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	options_free(&o);
	log_info("vm-init-stub: SIGTERM");
	return 0;
}
