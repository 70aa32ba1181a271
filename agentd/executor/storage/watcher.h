/* SPDX-License-Identifier: Apache-2.0 */
/*
 * watcher.h - the sync behind "watchable-bind" storages (upstream
 * src/agent/src/watcher.rs): virtio-fs has no inotify, so a ConfigMap or
 * Secret volume is copied into a tmpfs the container binds, and the copy is
 * brought up to date by polling.
 *
 * As upstream: at most WATCH_MAX_ENTRIES entries (files, directories,
 * symlinks) and WATCH_MAX_BYTES bytes per storage; a source over either
 * limit is bound instead (a plain bind of the source over the copy) and no
 * longer polled. Symlinks are copied as symlinks (what they point to is
 * never read), special files are skipped, every path is opened below the
 * source's or the target's fd without following a symlink.
 *
 * The executor calls watch_tick() from a timer every WATCH_INTERVAL_MS; one
 * tick looks at no more than WATCH_PER_TICK storages (round robin), each at
 * most WATCH_MAX_ENTRIES stats and WATCH_MAX_BYTES copied, so the loop is
 * never held long.
 *
 * Offers: watch_start(), watch_stop(), watch_tick(), watch_count().
 */
#ifndef KATA_EXECUTOR_WATCHER_H
#define KATA_EXECUTOR_WATCHER_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define WATCH_MAX_ENTRIES 16
#define WATCH_MAX_BYTES (1024 * 1024)
#define WATCH_INTERVAL_MS 2000
#define WATCH_PER_TICK 8

struct watch;

/* Keep dst (O_PATH fd of the target: a directory, or a file when the
 * source is one) in sync with the source, src_name in the directory
 * src_parent (an O_PATH fd); both fds are taken. The first copy is made
 * here; over the limits, the source is bound over dst at once. name is for
 * logs. */
int watch_start(int *src_parent, const char *src_name, int *dst, const char *name,
		struct watch **out, struct kerr *err);
/* Stop polling, undo the bind if there is one, empty the target. NULL ok. */
void watch_stop(struct watch *w);
/* One round of polling (see above). Returns the number of storages still
 * polled (0: the caller may stop its timer). */
size_t watch_tick(void);
/* Storages being polled. */
size_t watch_count(void);

#endif
