/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cdh_job.h - a call to the guest's Confidential Data Hub made for the
 * executor by a worker process, so that the executor's loop never waits
 * for it (a PullImage may take agent.image_pull_timeout, 20 minutes).
 *
 * The worker is a fork of the executor (its seccomp filter inherited) that
 * gives up what a CDH client does not need before it calls anything: every
 * fd but its result pipe, every capability (it stays uid 0 so that it may
 * connect to the CDH's root-owned socket), no_new_privs, not dumpable, and
 * it dies with the executor (PR_SET_PDEATHSIG). It runs fn, writes one
 * fixed-size result (status, errno, message) to the pipe and exits. The
 * executor reads the result in its loop and calls done; a worker that ends
 * without a result, or is still running at the job's deadline (the call's
 * own timeout + CDH_JOB_GRACE_MS: the client enforces the timeout itself,
 * this only bounds a stuck worker), fails the job.
 *
 * The same worker runs other work that must stay out of the loop and be
 * confined (storage.h's mkfs): cdh_job_start_ns() first gives it
 * namespaces of its own (a private, read-only mount namespace with /dev
 * and /run hidden: worker_ns.h; no network).
 *
 * Offers: cdh_job_start(), cdh_job_start_ns(), cdh_job_cancel(),
 *         cdh_job_reaped().
 */
#ifndef KATA_EXECUTOR_CDH_JOB_H
#define KATA_EXECUTOR_CDH_JOB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define CDH_JOB_GRACE_MS 5000

struct executor;
struct cdh_job;

/* In the worker: the CDH work; 0 or a negative errno with err filled. */
typedef int (*cdh_job_fn)(void *arg, struct kerr *err);
/* In the executor's loop: failure NULL on success. The job is gone after
 * this returns. */
typedef void (*cdh_job_done)(void *data, const struct kerr *failure);

/* Fork the worker for fn(arg) (arg is the executor's memory, copied by the
 * fork); what names the job in messages. *out (may be NULL) is the job,
 * valid until done is called or it is cancelled. */
int cdh_job_start(struct executor *x, const char *what, uint64_t timeout_ms, cdh_job_fn fn,
		  void *arg, cdh_job_done done, void *data, struct cdh_job **out, struct kerr *err);

/* cdh_job_start with the worker in new namespaces (ns: CLONE_NEWNS,
 * CLONE_NEWNET; unshared before its capabilities are dropped; the mount
 * namespace private and read-only, /dev and /run hidden but for /dev/null
 * and node, a device node directly in /dev, or NULL: worker_ns.h). */
int cdh_job_start_ns(struct executor *x, const char *what, uint64_t timeout_ms, int ns,
		     const char *node, cdh_job_fn fn, void *arg, cdh_job_done done, void *data,
		     struct cdh_job **out, struct kerr *err);

/* SIGKILL the worker; done is never called. NULL is allowed. */
void cdh_job_cancel(struct cdh_job *j);

/* SIGCHLD: true when pid was a worker (its record is freed once both its
 * exit and its result are in). */
bool cdh_job_reaped(struct executor *x, pid_t pid, int status);

/* The worker's own confinement (used by cdh_job_start; tests call it). */
int cdh_job_confine(struct kerr *err);

#endif
