/* SPDX-License-Identifier: Apache-2.0 */
/*
 * x.h - the processes of one container (x.c): the executor's request to
 * the spawner for X, and X itself.
 */
#ifndef KATA_EXECUTOR_X_H
#define KATA_EXECUTOR_X_H

#include "executor.h"

/* Have the spawner clone X (-> L + exec M) for ct as our child; sets
 * ct->x_pid and returns the executor's ends of EL and EM and the
 * front-end's end of FM. */
int x_spawn(struct container *ct, int *el, int *em, int *fm, struct kerr *err);
/* X, in the spawner's clone: fork L, exec the monitor. Never returns. */
__attribute__((noreturn)) void x_main(const struct launch_ctx *c, int el_l, int em_m, int fm_m);

#endif
