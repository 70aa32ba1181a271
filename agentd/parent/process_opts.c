/* SPDX-License-Identifier: Apache-2.0 */
#include "process_opts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "log.h"

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

void process_opts_apply(const struct agent_options *o)
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
