/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cdh_job.c - CDH calls in a confined worker, answered in the executor's
 * loop (cdh_job.h). The jobs in flight are a list of this module: the
 * executor is single-threaded and has one loop.
 */
#include "cdh_job.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "libc_compat.h"
#include "caps.h"
#include "cleanup.h"
#include "executor.h"
#include "grpc_status.h"
#include "loop.h"
#include "worker_ns.h"

/* What the worker writes: one message, below PIPE_BUF, so it is atomic. */
struct cdh_job_result {
	int32_t code, status;
	char msg[KERR_MSG_MAX];
};
_Static_assert(sizeof(struct cdh_job_result) <= 4096, "a result is one atomic pipe write");

struct cdh_job {
	struct loop *loop;
	pid_t pid;
	int rfd;
	struct loop_timer *timer;
	cdh_job_done done;
	void *data;
	char what[96];
	uint64_t timeout_ms;
	bool finished, reaped;
	struct cdh_job *next;
};

static struct cdh_job *jobs;

static void job_free(struct cdh_job *j)
{
	for (struct cdh_job **pp = &jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	free(j);
}

/* The answer is in (or will never come): stop watching; done unless
 * cancelled. The record lives on until the worker is reaped. */
static void job_finish(struct cdh_job *j, bool call, const struct kerr *failure)
{
	if (j->finished)
		return;
	j->finished = true;
	if (j->rfd >= 0) {
		loop_del(j->loop, j->rfd);
		close(j->rfd);
		j->rfd = -1;
	}
	if (j->timer)
		loop_timer_cancel(j->loop, j->timer);
	j->timer = NULL;
	cdh_job_done done = j->done;
	void *data = j->data;
	if (j->reaped)
		job_free(j);
	if (call)
		done(data, failure);
}

static void on_result(struct loop *l, int fd, uint32_t events, void *data)
{
	struct cdh_job *j = data;
	struct cdh_job_result res;
	ssize_t n;
	do
		n = read(fd, &res, sizeof(res));
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	struct kerr e = { 0 };
	if (n != (ssize_t)sizeof(res)) {
		kerr_set_status(&e, GRPC_INTERNAL, -EPIPE,
				"%s: the CDH worker (pid %d) ended without an answer", j->what,
				(int)j->pid);
		job_finish(j, true, &e);
		return;
	}
	if (res.code == 0) {
		job_finish(j, true, NULL);
		return;
	}
	res.msg[sizeof(res.msg) - 1] = '\0';
	kerr_set_status(&e, res.status, res.code < 0 ? res.code : -EIO, "%s", res.msg);
	job_finish(j, true, &e);
}

static void on_deadline(struct loop *l, void *data)
{
	struct cdh_job *j = data;
	j->timer = NULL;
	kill(j->pid, SIGKILL);
	struct kerr e = { 0 };
	kerr_set_status(&e, GRPC_DEADLINE_EXCEEDED, -ETIME,
			"%s: the CDH worker (pid %d) was still running %llu ms after its call's "
			"timeout: killed",
			j->what, (int)j->pid, (unsigned long long)CDH_JOB_GRACE_MS);
	job_finish(j, true, &e);
}

int cdh_job_confine(struct kerr *err)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return kerr_set(err, -errno, "PR_SET_DUMPABLE: %s", strerror(errno));
	for (int c = 0, n = caps_count(); c < n; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return kerr_set(err, -errno, "PR_CAPBSET_DROP %d: %s", c, strerror(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return kerr_set(err, -errno, "clear the ambient set: %s", strerror(errno));
	if (caps_set(&(struct caps_sets){ 0 }) < 0)
		return kerr_set(err, -errno, "drop every capability: %s", strerror(errno));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return kerr_set(err, -errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	return 0;
}

/* What a worker with a mount namespace of its own (mkfs.ext4, on a device
 * the host controls) sees of the guest: every mount read-only, /dev and
 * /run empty but for /dev/null and the one device node it works on
 * (worker_ns.h). It stays uid 0 (the node is reopened through
 * /proc/self/fd): uid 0 without a capability still owns root's files,
 * which the read-only mounts keep it from writing, and root's device nodes
 * and sockets, which it cannot reach but for its own device.
 *
 * Namespaces of its own (ns: CLONE_NEWNS, CLONE_NEWNET), taken while the
 * worker still has CAP_SYS_ADMIN. */
static int unshare_private(int ns, const char *node, struct kerr *err)
{
	const char *kept[] = { "/dev/null", node };
	if ((ns & CLONE_NEWNET) && unshare(CLONE_NEWNET) < 0)
		return kerr_set(err, -errno, "unshare a network namespace: %s", strerror(errno));
	if (ns & CLONE_NEWNS)
		return worker_ns_readonly(kept, node ? 2 : 1, err);
	return 0;
}

static __attribute__((noreturn)) void worker_main(pid_t parent, int wfd, int ns, const char *node,
						  cdh_job_fn fn, void *arg)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	if (wfd != 3 && dup2(wfd, 3) < 0)
		_exit(1);
	close_range(4, ~0u, 0);
	loop_signals_unblock();
	struct kerr e = { 0 };
	struct cdh_job_result res = { 0 };
	int r = unshare_private(ns, node, &e);
	if (r == 0)
		r = cdh_job_confine(&e);
	if (r == 0)
		r = fn(arg, &e);
	res.code = r;
	res.status = r < 0 ? kerr_status(&e) : 0;
	snprintf(res.msg, sizeof(res.msg), "%s", r < 0 ? e.msg : "");
	ssize_t n;
	do
		n = write(3, &res, sizeof(res));
	while (n < 0 && errno == EINTR);
	_exit(n == (ssize_t)sizeof(res) ? 0 : 1);
}

int cdh_job_start(struct executor *x, const char *what, uint64_t timeout_ms, cdh_job_fn fn,
		  void *arg, cdh_job_done done, void *data, struct cdh_job **out, struct kerr *err)
{
	return cdh_job_start_ns(x, what, timeout_ms, 0, NULL, fn, arg, done, data, out, err);
}

int cdh_job_start_ns(struct executor *x, const char *what, uint64_t timeout_ms, int ns,
		     const char *node, cdh_job_fn fn, void *arg, cdh_job_done done, void *data,
		     struct cdh_job **out, struct kerr *err)
{
	struct cdh_job *j = calloc(1, sizeof(*j));
	if (!j)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	int p[2];
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		free(j);
		return kerr_set(err, -errno, "%s: pipe: %s", what, strerror(errno));
	}
	j->loop = x->loop;
	j->rfd = p[0];
	j->done = done;
	j->data = data;
	j->timeout_ms = timeout_ms;
	snprintf(j->what, sizeof(j->what), "%s", what);
	pid_t self = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		free(j);
		return kerr_set(err, -e, "%s: fork the CDH worker: %s", what, strerror(e));
	}
	if (pid == 0)
		worker_main(self, p[1], ns, node, fn, arg);
	close(p[1]);
	j->pid = pid;
	j->next = jobs;
	jobs = j;
	if (loop_add(x->loop, j->rfd, EPOLLIN, on_result, j, err) < 0) {
		cdh_job_cancel(j);
		return err->code;
	}
	j->timer = loop_timer_add(x->loop,
				  loop_now_ns() + (timeout_ms + CDH_JOB_GRACE_MS) * 1000000ull,
				  on_deadline, j);
	if (!j->timer) {
		cdh_job_cancel(j);
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	}
	log_info("%s: %s worker pid %d (at most %llu ms)", what, ns ? "confined" : "CDH", (int)pid,
		 (unsigned long long)timeout_ms);
	if (out)
		*out = j;
	return 0;
}

void cdh_job_cancel(struct cdh_job *j)
{
	if (!j || j->finished)
		return;
	kill(j->pid, SIGKILL);
	job_finish(j, false, NULL);
}

bool cdh_job_reaped(struct executor *x, pid_t pid, int status)
{
	(void)x;
	for (struct cdh_job *j = jobs; j; j = j->next) {
		if (j->pid != pid || j->reaped)
			continue;
		log_debug("%s: CDH worker pid %d ended (wait status 0x%x)", j->what, (int)pid,
			  status);
		j->reaped = true;
		if (j->finished)
			job_free(j);
		return true;
	}
	return false;
}
