/* SPDX-License-Identifier: Apache-2.0 */
/*
 * x.h - X, the first process of a container (x.c), run by the spawner.
 */
#ifndef KATA_EXECUTOR_X_H
#define KATA_EXECUTOR_X_H

#include "executor.h"

/* X, in the spawner's clone: fork L, exec the monitor. Never returns. */
__attribute__((noreturn)) void x_main(const struct launch_ctx *c, int el_l, int em_m, int fm_m);

#endif
