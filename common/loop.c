/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loop.c - epoll event loop with one-shot monotonic timers (see loop.h).
 *
 * Watches live in a table indexed by fd; epoll carries a pointer to the watch
 * object, not the fd, so a watch removed (and possibly re-added for a reused
 * fd) during a batch is recognised as dead by its pointer. Removed watches go
 * to a graveyard freed only after the batch, so stale pointers in the epoll
 * result array never dangle.
 *
 * Timers are a binary min-heap on the deadline; the next deadline bounds the
 * epoll_wait timeout (rounded up to whole milliseconds, so a timer never
 * fires early).
 */
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define LOOP_MAX_EVENTS 64

struct watch {
	int fd;
	bool dead;
	uint32_t events;
	loop_fd_cb cb;
	void *data;
	struct watch *next_dead;
};

enum timer_state { TIMER_PENDING, TIMER_FIRING };

struct loop_timer {
	uint64_t deadline;
	uint64_t seq; /* ties broken by insertion order */
	size_t idx;   /* position in the heap while pending */
	enum timer_state state;
	loop_timer_cb cb;
	void *data;
};

struct loop {
	int epfd;
	bool quit;
	struct watch **by_fd;
	size_t nfd;
	struct watch *graveyard;
	struct loop_timer **heap;
	size_t nheap, capheap;
	uint64_t seq;
};

uint64_t loop_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int loop_new(struct loop **out, struct kerr *err)
{
	struct loop *l = calloc(1, sizeof(*l));
	if (!l)
		return kerr_set(err, -ENOMEM, "loop: out of memory");
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int e = errno;
		free(l);
		return kerr_set(err, -e, "epoll_create1: %s", strerror(e));
	}
	*out = l;
	return 0;
}

static void reap_graveyard(struct loop *l)
{
	while (l->graveyard) {
		struct watch *w = l->graveyard;
		l->graveyard = w->next_dead;
		free(w);
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nfd; i++)
		free(l->by_fd[i]);
	free(l->by_fd);
	reap_graveyard(l);
	for (size_t i = 0; i < l->nheap; i++)
		free(l->heap[i]);
	free(l->heap);
	close(l->epfd);
	free(l);
}

int loop_add(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *data, struct kerr *err)
{
	if (fd < 0)
		return kerr_set(err, -EBADF, "loop_add: invalid fd %d", fd);
	if ((size_t)fd < l->nfd && l->by_fd[fd])
		return kerr_set(err, -EEXIST, "loop_add: fd %d is already watched", fd);
	if ((size_t)fd >= l->nfd) {
		size_t n = l->nfd ? l->nfd : 64;
		while (n <= (size_t)fd)
			n *= 2;
		struct watch **t = realloc(l->by_fd, n * sizeof(*t));
		if (!t)
			return kerr_set(err, -ENOMEM, "loop_add: out of memory");
		memset(t + l->nfd, 0, (n - l->nfd) * sizeof(*t));
		l->by_fd = t;
		l->nfd = n;
	}
	struct watch *w = calloc(1, sizeof(*w));
	if (!w)
		return kerr_set(err, -ENOMEM, "loop_add: out of memory");
	w->fd = fd;
	w->events = events;
	w->cb = cb;
	w->data = data;
	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;
		free(w);
		return kerr_set(err, -e, "epoll_ctl add fd %d: %s", fd, strerror(e));
	}
	l->by_fd[fd] = w;
	return 0;
}

int loop_mod(struct loop *l, int fd, uint32_t events, struct kerr *err)
{
	if (fd < 0 || (size_t)fd >= l->nfd || !l->by_fd[fd])
		return kerr_set(err, -ENOENT, "loop_mod: fd %d is not watched", fd);
	struct watch *w = l->by_fd[fd];
	if (w->events == events)
		return 0;
	struct epoll_event ev = { .events = events, .data.ptr = w };
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return kerr_set(err, -errno, "epoll_ctl mod fd %d: %s", fd, strerror(errno));
	w->events = events;
	return 0;
}

void loop_del(struct loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->nfd || !l->by_fd[fd])
		return;
	struct watch *w = l->by_fd[fd];
	l->by_fd[fd] = NULL;
	/* The fd may already be closed by the caller; then epoll dropped it. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	w->dead = true;
	w->next_dead = l->graveyard;
	l->graveyard = w;
}

/* ---- timer heap ---- */

static bool timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	if (a->deadline != b->deadline)
		return a->deadline < b->deadline;
	return a->seq < b->seq;
}

static void heap_set(struct loop *l, size_t i, struct loop_timer *t)
{
	l->heap[i] = t;
	t->idx = i;
}

static void heap_up(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!timer_before(t, l->heap[p]))
			break;
		heap_set(l, i, l->heap[p]);
		i = p;
	}
	heap_set(l, i, t);
}

static void heap_down(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && timer_before(l->heap[c + 1], l->heap[c]))
			c++;
		if (!timer_before(l->heap[c], t))
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

static void heap_remove(struct loop *l, size_t i)
{
	l->nheap--;
	if (i == l->nheap)
		return;
	struct loop_timer *moved = l->heap[l->nheap];
	heap_set(l, i, moved);
	heap_down(l, i);
	heap_up(l, moved->idx);
}

struct loop_timer *loop_timer_add(struct loop *l, uint64_t deadline_ns, loop_timer_cb cb,
				  void *data)
{
	if (l->nheap == l->capheap) {
		size_t n = l->capheap ? l->capheap * 2 : 16;
		struct loop_timer **h = realloc(l->heap, n * sizeof(*h));
		if (!h)
			return NULL;
		l->heap = h;
		l->capheap = n;
	}
	struct loop_timer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->deadline = deadline_ns;
	t->seq = l->seq++;
	t->cb = cb;
	t->data = data;
	t->state = TIMER_PENDING;
	heap_set(l, l->nheap++, t);
	heap_up(l, l->nheap - 1);
	return t;
}

void loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
	if (!t)
		return;
	/* Cancelling from inside its own callback: the loop frees it after. */
	if (t->state == TIMER_FIRING)
		return;
	heap_remove(l, t->idx);
	free(t);
}

/* Fire every timer due at `now`; timers added meanwhile with a past deadline
 * wait for the next round so a callback re-arming itself cannot starve fds. */
static void run_timers(struct loop *l)
{
	uint64_t now = loop_now_ns();
	uint64_t limit = l->seq;
	while (!l->quit && l->nheap > 0) {
		struct loop_timer *t = l->heap[0];
		if (t->deadline > now || t->seq >= limit)
			break;
		heap_remove(l, 0);
		t->state = TIMER_FIRING;
		t->cb(l, t->data);
		free(t);
	}
}

static int next_timeout_ms(struct loop *l)
{
	if (l->nheap == 0)
		return -1;
	uint64_t now = loop_now_ns();
	uint64_t d = l->heap[0]->deadline;
	if (d <= now)
		return 0;
	uint64_t ms = (d - now + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

int loop_run(struct loop *l, struct kerr *err)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	l->quit = false;
	while (!l->quit) {
		int n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, next_timeout_ms(l));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return kerr_set(err, -errno, "epoll_wait: %s", strerror(errno));
		}
		for (int i = 0; i < n && !l->quit; i++) {
			struct watch *w = evs[i].data.ptr;
			if (w->dead)
				continue;
			w->cb(l, w->fd, evs[i].events, w->data);
		}
		reap_graveyard(l);
		run_timers(l);
		reap_graveyard(l);
	}
	return 0;
}

void loop_quit(struct loop *l)
{
	l->quit = true;
}

int loop_signalfd(const int *signals, size_t n, struct kerr *err)
{
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < n; i++)
		sigaddset(&set, signals[i]);
	int fd = -1;
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		return kerr_set(err, -errno, "signalfd: %s", strerror(errno));
	return fd;
}

void loop_signals_unblock(void)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}
