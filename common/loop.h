/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loop.h - a single-threaded epoll event loop with fd watches, monotonic
 * timers and deferred callbacks. Every process of the agent runs exactly one.
 *
 * Callbacks run on the loop's thread; a callback may add or remove any watch
 * or timer, including its own, and removal takes effect immediately (no
 * callback fires for a removed watch afterwards, even later in the same
 * epoll batch).
 */
#ifndef KATA_COMMON_LOOP_H
#define KATA_COMMON_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "err.h"

struct loop;
struct loop_timer;

typedef void (*loop_fd_cb)(struct loop *l, int fd, uint32_t events, void *data);
typedef void (*loop_timer_cb)(struct loop *l, void *data);

int loop_new(struct loop **out, struct kerr *err);
void loop_free(struct loop *l);

/* Watch fd for events (EPOLLIN/EPOLLOUT/...). One watch per fd. */
int loop_add(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *data, struct kerr *err);
int loop_mod(struct loop *l, int fd, uint32_t events, struct kerr *err);
/* Stop watching fd (does not close it). Safe to call for an unwatched fd. */
void loop_del(struct loop *l, int fd);

/* One-shot timer at an absolute CLOCK_MONOTONIC deadline (ns); NULL when out
 * of memory. A deadline of 0 (or any past one) is a deferred callback: it
 * runs after the current batch of fd callbacks. The timer is freed after its
 * callback returns. */
struct loop_timer *loop_timer_add(struct loop *l, uint64_t deadline_ns, loop_timer_cb cb,
				  void *data);
/* Cancel a pending timer; it is freed. Must not be called after it fired
 * (from inside its own callback it is a no-op). */
void loop_timer_cancel(struct loop *l, struct loop_timer *t);

/* Run until loop_quit(); returns 0, or negative on an epoll failure. */
int loop_run(struct loop *l, struct kerr *err);
void loop_quit(struct loop *l);

uint64_t loop_now_ns(void);

/* The n signals, blocked and read through a new signalfd (close-on-exec,
 * non-blocking) that the caller watches in its loop: the fd, or a negative
 * errno with err set. */
int loop_signalfd(const int *signals, size_t n, struct kerr *err);

/* In a new child, before it runs anything else: every signal unblocked
 * again (the mask loop_signalfd set is inherited across fork and exec). */
void loop_signals_unblock(void);

#endif
