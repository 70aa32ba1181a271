/* SPDX-License-Identifier: Apache-2.0 */
/*
 * poststop.h - the runner of a removed container's poststop hooks
 * (poststop.c).
 */
#ifndef KATA_EXECUTOR_POSTSTOP_H
#define KATA_EXECUTOR_POSTSTOP_H

#include "executor.h"

/* Fork the runner of ct's poststop hooks; false when there is nothing to
 * run (or it could not start: logged), and the removal goes on at once. */
bool poststop_start(struct container *ct);
/* SIGCHLD: the container whose runner pid was (its removal goes on:
 * container_finish_removal), or NULL. */
struct container *poststop_reaped(struct executor *x, pid_t pid, int status);
/* Kill ct's runner (executor exit). */
void poststop_kill(struct container *ct);

#endif
