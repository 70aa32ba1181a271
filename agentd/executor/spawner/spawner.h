/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spawner.h - the spawner, the executor's fork without its seccomp
 * filter (spawner.c).
 */
#ifndef KATA_EXECUTOR_SPAWNER_H
#define KATA_EXECUTOR_SPAWNER_H

#include "executor.h"

/* Fork the spawner; before the executor's seccomp filter is loaded. */
int spawner_start(struct executor *x, struct kerr *err);
/* SPAWN_X for ct: the spawner clones X (-> L + exec M) as our child;
 * *pid is X, and the executor's ends of EL and EM and the front-end's end
 * of FM are returned. */
int spawner_x(struct container *ct, pid_t *pid, int *el, int *em, int *fm, struct kerr *err);
/* SPAWN_MODPROBE: argv[0] is the path, argv[1..] modprobe's argv (NULL
 * ended); out_fd becomes its stdout and stderr; *pid a child of ours. */
int spawner_modprobe(struct executor *x, const char *const *argv, int out_fd, pid_t *pid,
		     struct kerr *err);
/* SIGCHLD: true when pid was the spawner (fatal: the loop quits). */
bool spawner_reaped(struct executor *x, pid_t pid, int status);
void spawner_stop(struct executor *x);

#endif
