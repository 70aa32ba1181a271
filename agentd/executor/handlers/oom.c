/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oom.c - OOM watches on container cgroups and the OOM event queue that
 * GetOOMEvent drains (see executor.h "oom.c" and doc/ipc.md "OOM events").
 *
 * A watch is registered when a container's cgroup exists (before its init
 * runs) and removed before the cgroup is:
 *   v1: an eventfd registered with "<efd> <fd of memory.oom_control>" in
 *       cgroup.event_control;
 *   v2: inotify IN_MODIFY on memory.events.
 * Either wake-up only counts when the oom_kill counter (v1 memory.oom_control
 * since Linux 4.13, v2 memory.events) went up since the last look: one event
 * per look that saw an increase, as upstream (cgroups-rs) does. So a v1
 * eventfd signalled because the cgroup went away, or an under_oom that
 * ended without a kill, or a v2 modification of another counter, queues
 * nothing. The v1 eventfd fires when the cgroup enters OOM, before the
 * victim is chosen and counted, so a v1 wake-up that saw no increase looks
 * again every 20 ms for up to 1 s.
 *
 * The queue is bounded (OOM_QUEUE_MAX); when full the oldest event is
 * dropped with a warning. The front-end long-polls with GET_OOM_EVENT_REQ; the
 * executor answers the parked poll with the oldest event and removes that
 * event only when the same front-end sends its next GET_OOM_EVENT_REQ (the
 * acknowledgement): an event handed to a front-end that dies first is
 * delivered again to the next one, never lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cleanup.h"
#include "executor.h"
#include "answer.h"
#include "oom.h"
#include "grpc_status.h"

struct oom_watch {
	struct executor *x;
	char cid[IPC_ID_MAX];
	char *dir; /* the cgroup's memory directory */
	bool v2;
	int fd;         /* v1 eventfd, v2 inotify; -1 once stopped */
	uint64_t kills; /* oom_kill count at the last look */
	/* v1: the eventfd fires when the cgroup enters OOM, before the kill
	 * is counted: the counter is looked at again for a while. */
	struct loop_timer *recheck;
	unsigned rechecks;
};

#define RECHECK_NS (20ull * 1000 * 1000)
#define RECHECK_MAX 50 /* 1 s; the kill follows the notification within ms */

/* ---- the queue ---- */

static struct oom_event *head_event(struct oom_state *o)
{
	return o->count ? &o->ring[o->head] : NULL;
}

static void pop_head(struct oom_state *o)
{
	o->head = (o->head + 1) % OOM_QUEUE_MAX;
	o->count--;
}

/* Hand the oldest event to the parked poll, if both exist. */
static void deliver(struct executor *x)
{
	struct oom_state *o = &x->oom;
	struct oom_event *ev = head_event(o);
	if (!o->poll_id || !ev || o->inflight_seq || !x->fe || o->gen != x->fe_generation)
		return;
	struct ipc_container_ref r = { 0 };
	snprintf(r.container_id, sizeof(r.container_id), "%s", ev->container_id);
	uint32_t id = o->poll_id;
	/* Before the send: a failing send closes the channel, and
	 * oom_frontend_gone then resets both. */
	o->inflight_seq = ev->seq;
	o->poll_id = 0;
	log_info("OOM event %" PRIu64 " (container %s) handed to the front-end", ev->seq,
		 ev->container_id);
	answer_fe(x, o->gen, IPC_GET_OOM_EVENT_REPLY, id, &r, sizeof(r), -1);
}

/* Queue an OOM event for container id (oldest dropped when full). */
static void oom_event_push(struct executor *x, const char *container_id)
{
	struct oom_state *o = &x->oom;
	if (!o->ring) {
		o->ring = calloc(OOM_QUEUE_MAX, sizeof(*o->ring));
		if (!o->ring) {
			log_error("OOM event for container %s lost: out of memory", container_id);
			return;
		}
	}
	if (o->count == OOM_QUEUE_MAX) {
		struct oom_event *old = head_event(o);
		o->dropped++;
		log_warn("OOM event queue full (%u events): dropping the oldest, for container %s "
			 "(%" PRIu64 " dropped so far)",
			 OOM_QUEUE_MAX, old->container_id, o->dropped);
		/* The front-end may hold it already; its acknowledgement must
		 * not remove the next one instead. */
		if (old->seq == o->inflight_seq)
			o->inflight_seq = 0;
		pop_head(o);
	}
	struct oom_event *ev = &o->ring[(o->head + o->count) % OOM_QUEUE_MAX];
	ev->seq = ++o->next_seq;
	snprintf(ev->container_id, sizeof(ev->container_id), "%s", container_id);
	o->count++;
	log_info("container %s: OOM kill recorded (event %" PRIu64 ", %u queued)", container_id,
		 ev->seq, o->count);
	deliver(x);
}

int on_get_oom_event(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	struct oom_state *o = &x->oom;
	if (o->gen != x->fe_generation) {
		o->gen = x->fe_generation;
		o->poll_id = 0;
		o->inflight_seq = 0;
	}
	if (o->poll_id) {
		struct kerr e = { 0 };
		kerr_set_status(&e, GRPC_FAILED_PRECONDITION, -EBUSY,
				"an OOM event poll (request %u) is already pending", o->poll_id);
		log_warn("%s", e.msg);
		return answer_error(c, m->hdr.id, &e, err);
	}
	/* The acknowledgement of the event handed out last. */
	struct oom_event *ev = head_event(o);
	if (o->inflight_seq && ev && ev->seq == o->inflight_seq) {
		log_debug("OOM event %" PRIu64 " acknowledged", ev->seq);
		pop_head(o);
	}
	o->inflight_seq = 0;
	o->poll_id = m->hdr.id;
	deliver(x);
	return 0;
}

void oom_frontend_gone(struct executor *x)
{
	struct oom_state *o = &x->oom;
	if (o->inflight_seq)
		log_info("OOM event %" PRIu64 " was not acknowledged: it will be delivered again",
			 o->inflight_seq);
	o->poll_id = 0;
	o->inflight_seq = 0;
}

void oom_shutdown(struct executor *x)
{
	struct oom_state *o = &x->oom;
	if (!o->poll_id || !x->fe || o->gen != x->fe_generation)
		return;
	struct kerr e = { 0 };
	kerr_set_status(&e, GRPC_UNAVAILABLE, -ESHUTDOWN, "the agent is shutting down");
	uint32_t id = o->poll_id;
	o->poll_id = 0;
	answer_fe_error(x, o->gen, id, &e);
}

void oom_free(struct executor *x)
{
	free(x->oom.ring);
	memset(&x->oom, 0, sizeof(x->oom));
}

/* ---- watches ---- */

/* The "oom_kill N" line of v1 memory.oom_control or v2 memory.events:
 * 1 with *n set, 0 when the kernel has no such counter, negative when the
 * file cannot be read (the cgroup is gone). */
static int read_kills(const struct oom_watch *w, uint64_t *n, struct kerr *err)
{
	cleanup_free char *p = NULL;
	if (asprintf(&p, "%s/%s", w->dir, w->v2 ? "memory.events" : "memory.oom_control") < 0)
		return kerr_set(err, -ENOMEM, "out of memory");
	cleanup_close int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return kerr_set(err, -errno, "open %s: %s", p, strerror(errno));
	char buf[1024];
	ssize_t len = read(fd, buf, sizeof(buf) - 1);
	if (len < 0)
		return kerr_set(err, -errno, "read %s: %s", p, strerror(errno));
	buf[len] = '\0';
	/* At a line start, with the space: not "oom_kill_disable". */
	for (const char *l = buf; *l;) {
		if (strncmp(l, "oom_kill ", 9) != 0) {
			const char *nl = strchr(l, '\n');
			if (!nl)
				break;
			l = nl + 1;
			continue;
		}
		char *end;
		errno = 0;
		unsigned long long v = strtoull(l + 9, &end, 10);
		if (errno || end == l + 9)
			return kerr_set(err, -EPROTO, "%s: unreadable oom_kill count", p);
		*n = v;
		return 1;
	}
	return 0;
}

static void watch_stop(struct oom_watch *w)
{
	if (w->recheck) {
		loop_timer_cancel(w->x->loop, w->recheck);
		w->recheck = NULL;
	}
	if (w->fd < 0)
		return;
	loop_del(w->x->loop, w->fd);
	/* v1: closing the eventfd is what unregisters the event in the kernel. */
	close(w->fd);
	w->fd = -1;
}

/* Look at the counter: 1 an event was queued, 0 nothing new, -1 the
 * cgroup is gone (v1 signals the eventfd at removal: that is no OOM). */
static int look(struct oom_watch *w)
{
	uint64_t kills = 0;
	struct kerr e = { 0 };
	int r = read_kills(w, &kills, &e);
	if (r < 0) {
		log_debug("container %s: OOM watch ends: %s", w->cid, e.msg);
		return -1;
	}
	if (r == 1 && kills > w->kills) {
		log_info("container %s: oom_kill %" PRIu64 " -> %" PRIu64, w->cid, w->kills, kills);
		w->kills = kills;
		oom_event_push(w->x, w->cid);
		return 1;
	}
	if (r == 0 && !w->v2) {
		/* v1 before Linux 4.13 has no counter: the eventfd itself is the
		 * event, as upstream takes it (the cgroup still exists). */
		oom_event_push(w->x, w->cid);
		return 1;
	}
	return 0;
}

static void on_recheck(struct loop *l, void *data)
{
	struct oom_watch *w = data;
	w->recheck = NULL;
	int r = look(w);
	if (r < 0)
		watch_stop(w);
	else if (r == 0 && ++w->rechecks < RECHECK_MAX)
		w->recheck = loop_timer_add(l, loop_now_ns() + RECHECK_NS, on_recheck, w);
}

static void on_watch_ready(struct loop *l, int fd, uint32_t events, void *data)
{
	struct oom_watch *w = data;
	bool gone = (events & (EPOLLHUP | EPOLLERR)) != 0;
	if (w->v2) {
		char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
		ssize_t n;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			for (char *p = buf; p < buf + n;) {
				struct inotify_event *ie = (struct inotify_event *)p;
				if (ie->mask & IN_IGNORED)
					gone = true;
				p += sizeof(*ie) + ie->len;
			}
	} else {
		uint64_t v;
		if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			gone = true;
	}
	int r = look(w);
	if (r < 0 || gone) {
		watch_stop(w);
		return;
	}
	if (r == 0 && !w->v2 && !w->recheck) {
		w->rechecks = 0;
		w->recheck = loop_timer_add(l, loop_now_ns() + RECHECK_NS, on_recheck, w);
	}
}

static int watch_v1(struct oom_watch *w, struct kerr *err)
{
	cleanup_close int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		return kerr_set(err, -errno, "eventfd: %s", strerror(errno));
	cleanup_free char *ctl = NULL;
	if (asprintf(&ctl, "%s/memory.oom_control", w->dir) < 0)
		return kerr_set(err, -ENOMEM, "out of memory");
	/* Only needed for the registration: the kernel keeps its own
	 * reference to the cgroup. */
	cleanup_close int cfd = open(ctl, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (cfd < 0)
		return kerr_set(err, -errno, "open %s: %s", ctl, strerror(errno));
	char line[32];
	snprintf(line, sizeof(line), "%d %d", efd, cfd);
	cleanup_free char *ev = NULL;
	if (asprintf(&ev, "%s/cgroup.event_control", w->dir) < 0)
		return kerr_set(err, -ENOMEM, "out of memory");
	cleanup_close int vfd = open(ev, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (vfd < 0)
		return kerr_set(err, -errno, "open %s: %s", ev, strerror(errno));
	if (write(vfd, line, strlen(line)) < 0)
		return kerr_set(err, -errno, "register with %s: %s", ev, strerror(errno));
	w->fd = take_fd(&efd);
	return 0;
}

static int watch_v2(struct oom_watch *w, struct kerr *err)
{
	cleanup_close int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd < 0)
		return kerr_set(err, -errno, "inotify_init1: %s", strerror(errno));
	cleanup_free char *p = NULL;
	if (asprintf(&p, "%s/memory.events", w->dir) < 0)
		return kerr_set(err, -ENOMEM, "out of memory");
	if (inotify_add_watch(ifd, p, IN_MODIFY) < 0)
		return kerr_set(err, -errno, "inotify on %s: %s", p, strerror(errno));
	w->fd = take_fd(&ifd);
	return 0;
}

int oom_watch_add(struct container *ct, struct kerr *err)
{
	struct oom_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return kerr_set(err, -ENOMEM, "out of memory");
	w->x = ct->x;
	w->fd = -1;
	w->v2 = cg_layout_of(ct->cg) == CG_V2;
	snprintf(w->cid, sizeof(w->cid), "%s", ct->id);
	int r = cg_controller_dir(ct->cg, "memory", &w->dir, err);
	/* A reused cgroup may have counted kills already: only new ones count. */
	if (r >= 0)
		r = read_kills(w, &w->kills, err);
	if (r >= 0)
		r = w->v2 ? watch_v2(w, err) : watch_v1(w, err);
	if (r >= 0)
		r = loop_add(ct->x->loop, w->fd, EPOLLIN, on_watch_ready, w, err);
	if (r < 0) {
		if (w->fd >= 0)
			close(w->fd);
		free(w->dir);
		free(w);
		return r;
	}
	ct->oom = w;
	log_debug("container %s: watching %s for OOM kills (%s)", ct->id, w->dir,
		  w->v2 ? "memory.events" : "eventfd");
	return 0;
}

void oom_watch_remove(struct container *ct)
{
	struct oom_watch *w = ct->oom;
	if (!w)
		return;
	/* A kill counted but not yet read (the eventfd was not served before
	 * the removal) is still reported: the container did OOM. */
	uint64_t kills = 0;
	struct kerr e = { 0 };
	if (w->fd >= 0 && read_kills(w, &kills, &e) == 1 && kills > w->kills) {
		log_info("container %s: oom_kill %" PRIu64 " -> %" PRIu64 " (seen at removal)",
			 w->cid, w->kills, kills);
		oom_event_push(w->x, w->cid);
	}
	watch_stop(w);
	free(w->dir);
	free(w);
	ct->oom = NULL;
}
