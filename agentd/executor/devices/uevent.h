/* SPDX-License-Identifier: Apache-2.0 */
/*
 * uevent.h - the kernel's device events (NETLINK_KOBJECT_UEVENT), read by
 * the executor.
 *
 * Only the kernel's own multicast group (1) is joined, and a message is
 * taken only from the kernel (sender port 0): udev's rebroadcasts (group 2)
 * and any process's datagrams are dropped. uevents are netns-local, so a
 * container in its own network namespace cannot reach this socket at all.
 * A message is parsed into fixed fields with bounds; one with a path that
 * is not a plain absolute path below /devices or /module, a DEVNAME that is
 * absolute or has a ".." component, or fields over their bounds, is
 * dropped as a whole.
 *
 * Offers: struct uevent, uevent_parse(), uevent_open(), uevent_read().
 */
#ifndef KATA_DEVICES_UEVENT_H
#define KATA_DEVICES_UEVENT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define UEVENT_PATH_MAX 512
/* The kernel's buffer is 2048 bytes of environment plus the header. */
#define UEVENT_MSG_MAX 8192

struct uevent {
	char action[16]; /* add, remove, change, bind, unbind, move, online, offline */
	char devpath[UEVENT_PATH_MAX]; /* "/devices/..." */
	char subsystem[64];
	char devname[128]; /* relative to /dev ("vda", "vfio/12"); "" when none */
	char devtype[32];
	int major, minor; /* -1 when absent */
	uint64_t seqnum;
};

/* Parse one kernel message ("ACTION@DEVPATH\0KEY=VALUE\0..."): 0, or
 * -EINVAL with err saying what is wrong. */
int uevent_parse(const void *buf, size_t len, struct uevent *ev, struct kerr *err);

/* A non-blocking NETLINK_KOBJECT_UEVENT socket bound to the kernel's
 * group, with a large receive buffer (a burst of memory blocks coming
 * online is hundreds of events). Returns the fd. */
int uevent_open(struct kerr *err);

/* Read the next message: 1 with *ev filled, 0 when nothing is queued,
 * -ENOBUFS when the kernel dropped events (the socket overflowed: callers
 * look at sysfs again), another negative code on a socket error. A message
 * that is not from the kernel or does not parse is skipped (logged at
 * debug). */
int uevent_read(int fd, struct uevent *ev, struct kerr *err);

#endif
