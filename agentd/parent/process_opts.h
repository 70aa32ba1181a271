/* SPDX-License-Identifier: Apache-2.0 */
/*
 * process_opts.h - the guest-mode options that only change the parent's own
 * process state, done once at start-up:
 *
 *   process_opts_apply()       agent.devmode: RLIMIT_CORE unlimited (soft and
 *                            hard) for the parent, so for every process it
 *                            starts; agent.https_proxy / agent.no_proxy:
 *                            HTTPS_PROXY / NO_PROXY in the parent's
 *                            environment, unless already set there (as
 *                            upstream), so helpers and the executor inherit
 *                            them. Failures are logged, never fatal.
 *
 * The guest components (agent.guest_components_procs) are started by
 * guest_components.h.
 */
#ifndef KATA_PARENT_PROCESS_OPTS_H
#define KATA_PARENT_PROCESS_OPTS_H

#include "options.h"

void process_opts_apply(const struct agent_options *o);

#endif
