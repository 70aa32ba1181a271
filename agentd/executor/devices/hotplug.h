/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hotplug.h - waiting for devices in the executor's event loop.
 *
 * The executor listens to kernel uevents (uevent.h) on its loop. A request
 * that needs devices (CreateContainer's devices and block storages, AddSwap)
 * puts them in a batch: each is looked for in sysfs at once (a device
 * present before the agent started, or before the request, is found
 * without waiting); the missing ones are looked for again when a uevent of
 * their kind arrives (or every 100 ms when no uevent socket could be
 * opened), until the batch's deadline, agent.hotplug_timeout after it
 * started: then the batch fails DEADLINE_EXCEEDED naming the first device
 * still missing. The loop never blocks on a wait: a batch is a set of
 * records and one timer, other requests are served meanwhile. sysfs is
 * the truth, uevents only say when to look again, so a lost uevent (a
 * full socket buffer) costs a look at every waiting device, not a device.
 *
 * Memory blocks are onlined from their add uevents (upstream uevent.rs
 * process_add), whether or not anything waits.
 *
 * Offers: struct hotplug, hotplug_start(), hotplug_stop(), struct dev_batch,
 *         dev_batch_new(), dev_batch_add(), dev_batch_run(),
 *         dev_batch_found(), dev_batch_lookup(), dev_batch_free(),
 *         hotplug_on_uevent() (tests).
 */
#ifndef KATA_DEVICES_HOTPLUG_H
#define KATA_DEVICES_HOTPLUG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "loop.h"
#include "probe.h"

/* Devices one batch may wait for (a request's devices and storages). */
#define DEV_BATCH_MAX 128

struct hotplug;
struct dev_batch;

/* Listen to uevents on l (a socket that cannot be opened is logged, and
 * waits fall back to polling sysfs); env: where sysfs and /dev are;
 * timeout_ms: agent.hotplug_timeout. */
int hotplug_start(struct hotplug **out, struct loop *l, const struct dev_env *env,
		  uint64_t timeout_ms, struct kerr *err);
/* Stop listening; running batches are freed without their callbacks. */
void hotplug_stop(struct hotplug *h);
/* What the uevent socket delivers, handed in directly (tests). */
void hotplug_on_uevent(struct hotplug *h, const struct uevent *ev);

/* The batch is done: failure NULL when every device was found (then
 * dev_batch_found() has them), else why not. Runs from the loop, never
 * inside dev_batch_run; the batch may be freed inside it. */
typedef void (*dev_batch_cb)(struct dev_batch *b, const struct kerr *failure, void *data);

int dev_batch_new(struct hotplug *h, struct dev_batch **out, struct kerr *err);
/* Add q (a query already in the batch is not added twice); returns its
 * index. */
int dev_batch_add(struct dev_batch *b, const struct dev_query *q, struct kerr *err);
size_t dev_batch_count(const struct dev_batch *b);
/* Look for every device now and wait for the missing ones. */
int dev_batch_run(struct dev_batch *b, dev_batch_cb cb, void *data, struct kerr *err);
/* After success: what device i is. */
const struct dev_found *dev_batch_found(const struct dev_batch *b, size_t i);
/* The found device of a query equal to q, or NULL (b may be NULL). */
const struct dev_found *dev_batch_lookup(const struct dev_batch *b, const struct dev_query *q);
/* Free b; a running batch is cancelled (its callback never runs). */
void dev_batch_free(struct dev_batch *b);

/* The env the hotplug listener uses (storages open nodes with it). */
const struct dev_env *hotplug_env(const struct hotplug *h);

#endif
