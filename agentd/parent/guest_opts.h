/* SPDX-License-Identifier: Apache-2.0 */
/*
 * guest_opts.h - the guest-mode options that only change the parent's own
 * process state or start a helper, done once at start-up:
 *
 *   guest_opts_apply()       agent.devmode: RLIMIT_CORE unlimited (soft and
 *                            hard) for the parent, so for every process it
 *                            starts; agent.https_proxy / agent.no_proxy:
 *                            HTTPS_PROXY / NO_PROXY in the parent's
 *                            environment, unless already set there (as
 *                            upstream), so helpers and the executor inherit
 *                            them. Failures are logged, never fatal.
 *   guest_components_start() agent.guest_components_procs=api-server-rest
 *                            (the default): start API_SERVER_REST_PATH
 *                            --features <agent.guest_components_rest_api>
 *                            if the image has it, else log that it is absent.
 *   guest_components_reaped() true if the pid was that helper (logged).
 */
#ifndef KATA_PARENT_GUEST_OPTS_H
#define KATA_PARENT_GUEST_OPTS_H

#include <stdbool.h>
#include <sys/types.h>

#include "options.h"

#define API_SERVER_REST_PATH "/usr/local/bin/api-server-rest"

void guest_opts_apply(const struct agent_options *o);
/* Returns the helper's pid, 0 when not started. */
pid_t guest_components_start(const struct agent_options *o);
bool guest_components_reaped(pid_t pid, int status);

#endif
