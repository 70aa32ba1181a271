/* SPDX-License-Identifier: Apache-2.0 */
/*
 * guest_online.h - bringing hotplugged CPUs and memory blocks online
 * (OnlineCPUMem), over a sysfs directory so tests can use a fake tree.
 *
 * Offers: guest_online_dir().
 */
#ifndef KATA_EXECUTOR_GUEST_ONLINE_H
#define KATA_EXECUTOR_GUEST_ONLINE_H

#include "err.h"

#define SYSFS_CPU_DIR "/sys/devices/system/cpu"
#define SYSFS_MEMORY_DIR "/sys/devices/system/memory"

/* For each entry <prefix><digits> of dir whose "online" file reads 0,
 * write 1 to it; stop after max (max < 0: no limit). Returns how many came
 * online (>= 0), or a negative errno when dir cannot be read. An entry the
 * kernel refuses to online is logged and not counted. */
int guest_online_dir(const char *dir, const char *prefix, int max, struct kerr *err);

#endif
