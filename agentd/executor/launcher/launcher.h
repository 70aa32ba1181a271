/* SPDX-License-Identifier: Apache-2.0 */
/*
 * launcher.h - the launcher L of one container (launcher.c).
 */
#ifndef KATA_EXECUTOR_LAUNCHER_H
#define KATA_EXECUTOR_LAUNCHER_H

#include "executor.h"

/* The launcher L: el and lm are its channels (blocking); waits for
 * LAUNCH_INIT, spawns the init, answers it with LAUNCHED, then serves
 * START/EXEC until el closes. Never returns. */
__attribute__((noreturn)) void launcher_main(const struct launch_ctx *c, int el, int lm);
/* kata-agent-launch-worker (launch_worker.c, --launch-worker serve): serve
 * one request on the fds kata-agent-launcher placed; returns an exit status
 * on bad use. */
int launcher_worker(struct executor *x, const char *phase, const char *id, const char *bundle,
		    const char *cgroups_path);

#endif
