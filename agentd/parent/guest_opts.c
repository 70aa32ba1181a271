/* SPDX-License-Identifier: Apache-2.0 */
#include "guest_opts.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

static pid_t rest_pid;

static void set_proxy(const char *var, const char *value)
{
	const char *have = getenv(var);
	if (have) {
		/* upstream keeps what the environment already says */
		log_info("%s is already set in the environment (%s): agent option ignored", var,
			 have);
		return;
	}
	if (!value || !*value)
		return;
	if (setenv(var, value, 1) < 0)
		log_warn("setenv %s: %s", var, strerror(errno));
	else
		log_info("%s set to %s for the agent's helpers and containers", var, value);
}

void guest_opts_apply(const struct agent_options *o)
{
	if (o->dev_mode) {
		struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
		if (setrlimit(RLIMIT_CORE, &rl) < 0)
			log_warn("agent.devmode: setrlimit(RLIMIT_CORE, unlimited): %s",
				 strerror(errno));
		else
			log_info("agent.devmode: core dumps allowed (RLIMIT_CORE unlimited)");
	}
	set_proxy("HTTPS_PROXY", o->https_proxy);
	set_proxy("NO_PROXY", o->no_proxy);
}

pid_t guest_components_start(const struct agent_options *o)
{
	if (!o->guest_components_procs || strcmp(o->guest_components_procs, "api-server-rest"))
		return 0;
	struct stat st;
	if (stat(API_SERVER_REST_PATH, &st) < 0 || !S_ISREG(st.st_mode) ||
	    access(API_SERVER_REST_PATH, X_OK) < 0) {
		log_info("%s not found: the guest components' REST API is not started",
			 API_SERVER_REST_PATH);
		return 0;
	}
	const char *features = o->guest_components_rest_api ? o->guest_components_rest_api
							     : "resource";
	pid_t pid = fork();
	if (pid < 0) {
		log_error("fork for %s: %s", API_SERVER_REST_PATH, strerror(errno));
		return 0;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		close_range(3, ~0U, 0);
		char *argv[] = { (char *)API_SERVER_REST_PATH, (char *)"--features",
				 (char *)features, NULL };
		execv(argv[0], argv);
		_exit(127);
	}
	rest_pid = pid;
	json_t *f = json_pack("{s:s,s:i,s:s}", "child", "api-server-rest", "child-pid", (int)pid,
			      "features", features);
	log_fields(LOG_LVL_INFO, f, "%s --features %s started (pid %d)", API_SERVER_REST_PATH,
		   features, (int)pid);
	return pid;
}

bool guest_components_reaped(pid_t pid, int status)
{
	if (!rest_pid || pid != rest_pid)
		return false;
	rest_pid = 0;
	log_warn("%s (pid %d) ended, wait status 0x%x", API_SERVER_REST_PATH, (int)pid, status);
	return true;
}
