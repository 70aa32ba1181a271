/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hotplug.c - uevents in the executor's loop, and batches of devices waited
 * for until agent.hotplug_timeout (hotplug.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "grpc_status.h"
#include "hotplug.h"
#include "log.h"

/* Without a uevent socket, missing devices are looked for this often. */
#define POLL_MS 100

struct dev_item {
	struct dev_query q;
	struct dev_found f;
	bool done;
};

struct dev_batch {
	struct hotplug *h;
	struct dev_item *items;
	size_t n;
	bool running;
	uint64_t started_ns;
	uint64_t mark; /* the last uevent round that looked at it */
	struct loop_timer *deadline;
	struct loop_timer *kick; /* a result known at once, delivered from the loop */
	struct kerr failure;
	bool failed;
	dev_batch_cb cb;
	void *data;
	struct dev_batch *next; /* running batches */
};

struct hotplug {
	struct loop *loop;
	struct dev_env env;
	int fd;
	uint64_t timeout_ms;
	uint64_t round;
	struct dev_batch *running;
	struct loop_timer *poll;
};

static void batch_unlink(struct dev_batch *b)
{
	for (struct dev_batch **pp = &b->h->running; *pp; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	b->next = NULL;
	b->running = false;
	if (b->deadline)
		loop_timer_cancel(b->h->loop, b->deadline);
	b->deadline = NULL;
}

/* Done: the callback may free b. */
static void batch_finish(struct dev_batch *b)
{
	batch_unlink(b);
	if (!b->failed)
		log_debug("devices: %zu found after %llu ms", b->n,
			  (unsigned long long)((loop_now_ns() - b->started_ns) / 1000000));
	b->cb(b, b->failed ? &b->failure : NULL, b->data);
}

/* Look for the missing devices of b (those ev concerns; all if ev is
 * NULL). Returns true when b is finished (failed or complete). */
static bool batch_probe(struct dev_batch *b, const struct uevent *ev)
{
	bool all = true;
	for (size_t i = 0; i < b->n; i++) {
		struct dev_item *it = &b->items[i];
		if (it->done)
			continue;
		if (ev && !dev_uevent_concerns(&it->q, ev)) {
			all = false;
			continue;
		}
		struct kerr e = { 0 };
		int r = dev_probe(&b->h->env, &it->q, &it->f, &e);
		if (r < 0) {
			b->failure = e;
			b->failed = true;
			return true;
		}
		if (r == 0) {
			all = false;
			continue;
		}
		it->done = true;
		unsigned long long ms = (loop_now_ns() - b->started_ns) / 1000000;
		if (it->f.devname[0])
			log_info("%s is /dev/%s (%u:%u) after %llu ms", it->q.label, it->f.devname,
				 major(it->f.rdev), minor(it->f.rdev), ms);
		else
			log_info("%s: its %u PCI functions are there after %llu ms", it->q.label,
				 it->f.n_fn, ms);
	}
	return all;
}

/* Offer ev (NULL: "look at everything") to every running batch; a batch
 * may be freed by its callback, so the walk restarts after each finish. */
static void offer(struct hotplug *h, const struct uevent *ev)
{
	uint64_t round = ++h->round;
again:
	for (struct dev_batch *b = h->running; b; b = b->next) {
		if (b->mark == round)
			continue;
		b->mark = round;
		if (batch_probe(b, ev)) {
			batch_finish(b);
			goto again;
		}
	}
}

void hotplug_on_uevent(struct hotplug *h, const struct uevent *ev)
{
	struct kerr e = { 0 };
	int r = dev_memory_online(&h->env, ev, &e);
	if (r > 0)
		log_info("memory block %s onlined (uevent %llu)", strrchr(ev->devpath, '/') + 1,
			 (unsigned long long)ev->seqnum);
	else if (r < 0)
		log_warn("hot-added memory: %s", e.msg);
	offer(h, ev);
}

static void on_uevent_fd(struct loop *l, int fd, uint32_t events, void *data)
{
	(void)l;
	(void)events;
	struct hotplug *h = data;
	/* A bounded number per wake-up: the loop stays fair to requests. */
	for (int i = 0; i < 256; i++) {
		struct uevent ev;
		struct kerr e = { 0 };
		int r = uevent_read(fd, &ev, &e);
		if (r == 0)
			return;
		if (r == -ENOBUFS) {
			log_warn("%s: looking at every waiting device again", e.msg);
			offer(h, NULL);
			continue;
		}
		if (r < 0) {
			log_error("%s", e.msg);
			return;
		}
		log_debug("uevent %s %s (%s%s%s)", ev.action, ev.devpath, ev.subsystem,
			  ev.devname[0] ? ", " : "", ev.devname);
		hotplug_on_uevent(h, &ev);
	}
}

static void poll_arm(struct hotplug *h);

static void on_poll(struct loop *l, void *data)
{
	(void)l;
	struct hotplug *h = data;
	h->poll = NULL;
	offer(h, NULL);
	poll_arm(h);
}

static void poll_arm(struct hotplug *h)
{
	if (h->fd >= 0 || h->poll || !h->running)
		return;
	h->poll = loop_timer_add(h->loop, loop_now_ns() + POLL_MS * 1000000ull, on_poll, h);
}

int hotplug_start(struct hotplug **out, struct loop *l, const struct dev_env *env,
		  uint64_t timeout_ms, struct kerr *err)
{
	struct hotplug *h = calloc(1, sizeof(*h));
	if (!h)
		return kerr_set(err, -ENOMEM, "out of memory");
	h->loop = l;
	h->env = *env;
	h->timeout_ms = timeout_ms;
	struct kerr e = { 0 };
	h->fd = uevent_open(&e);
	if (h->fd >= 0 && loop_add(l, h->fd, EPOLLIN, on_uevent_fd, h, &e) < 0) {
		close(h->fd);
		h->fd = -1;
	}
	if (h->fd < 0)
		log_warn("no uevents (%s): devices are looked for every %d ms instead", e.msg,
			 POLL_MS);
	*out = h;
	return 0;
}

void hotplug_stop(struct hotplug *h)
{
	if (!h)
		return;
	while (h->running) {
		struct dev_batch *b = h->running;
		batch_unlink(b);
		if (b->kick)
			loop_timer_cancel(h->loop, b->kick);
		free(b->items);
		free(b);
	}
	if (h->poll)
		loop_timer_cancel(h->loop, h->poll);
	if (h->fd >= 0) {
		loop_del(h->loop, h->fd);
		close(h->fd);
	}
	free(h);
}

const struct dev_env *hotplug_env(const struct hotplug *h)
{
	return &h->env;
}

int dev_batch_new(struct hotplug *h, struct dev_batch **out, struct kerr *err)
{
	struct dev_batch *b = calloc(1, sizeof(*b));
	if (!b)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	b->h = h;
	*out = b;
	return 0;
}

int dev_batch_add(struct dev_batch *b, const struct dev_query *q, struct kerr *err)
{
	for (size_t i = 0; i < b->n; i++)
		if (dev_query_same(&b->items[i].q, q))
			return (int)i;
	if (b->n >= DEV_BATCH_MAX)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -E2BIG,
				       "more than %d devices in one request", DEV_BATCH_MAX);
	struct dev_item *ni = realloc(b->items, (b->n + 1) * sizeof(*ni));
	if (!ni)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	b->items = ni;
	memset(&ni[b->n], 0, sizeof(ni[b->n]));
	ni[b->n].q = *q;
	return (int)b->n++;
}

size_t dev_batch_count(const struct dev_batch *b)
{
	return b ? b->n : 0;
}

static void on_kick(struct loop *l, void *data)
{
	(void)l;
	struct dev_batch *b = data;
	b->kick = NULL;
	b->cb(b, b->failed ? &b->failure : NULL, b->data);
}

static void on_deadline(struct loop *l, void *data)
{
	(void)l;
	struct dev_batch *b = data;
	b->deadline = NULL;
	/* A last look (a uevent may be queued behind this timer). */
	if (!batch_probe(b, NULL)) {
		size_t missing = 0, first = 0;
		for (size_t i = b->n; i-- > 0;)
			if (!b->items[i].done) {
				missing++;
				first = i;
			}
		kerr_set_status(&b->failure, GRPC_DEADLINE_EXCEEDED, -ETIMEDOUT,
				"timed out after %llu ms (agent.hotplug_timeout) waiting for %s%s",
				(unsigned long long)b->h->timeout_ms, b->items[first].q.label,
				missing > 1 ? " and other devices" : "");
		b->failed = true;
	}
	batch_finish(b);
}

int dev_batch_run(struct dev_batch *b, dev_batch_cb cb, void *data, struct kerr *err)
{
	b->cb = cb;
	b->data = data;
	b->started_ns = loop_now_ns();
	if (batch_probe(b, NULL)) {
		if (!(b->kick = loop_timer_add(b->h->loop, 0, on_kick, b)))
			return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM,
					       "out of memory");
		return 0;
	}
	b->deadline = loop_timer_add(b->h->loop, b->started_ns + b->h->timeout_ms * 1000000ull,
				     on_deadline, b);
	if (!b->deadline)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	for (size_t i = 0; i < b->n; i++)
		if (!b->items[i].done)
			log_info("waiting up to %llu ms for %s",
				 (unsigned long long)b->h->timeout_ms, b->items[i].q.label);
	b->running = true;
	b->next = b->h->running;
	b->h->running = b;
	poll_arm(b->h);
	return 0;
}

const struct dev_found *dev_batch_found(const struct dev_batch *b, size_t i)
{
	return b && i < b->n && b->items[i].done ? &b->items[i].f : NULL;
}

const struct dev_found *dev_batch_lookup(const struct dev_batch *b, const struct dev_query *q)
{
	for (size_t i = 0; b && i < b->n; i++)
		if (dev_query_same(&b->items[i].q, q))
			return dev_batch_found(b, i);
	return NULL;
}

void dev_batch_free(struct dev_batch *b)
{
	if (!b)
		return;
	if (b->running)
		batch_unlink(b);
	if (b->kick)
		loop_timer_cancel(b->h->loop, b->kick);
	free(b->items);
	free(b);
}
