/* SPDX-License-Identifier: Apache-2.0 */
/*
 * guest.h - guest-wide requests (guest.c, doc/guest-ops.md).
 */
#ifndef KATA_EXECUTOR_GUEST_H
#define KATA_EXECUTOR_GUEST_H

#include "executor.h"

int on_set_guest_date_time(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_reseed_random_dev(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_get_volume_stats(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_copy_file(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_online_cpu_mem(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_mem_hotplug_by_probe(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_add_swap_path(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
/* mkswap's work on fd, a regular file or a disk (AddSwapPath, AddSwap). */
int swap_header_write(int fd, size_t page_size, struct kerr *err);

#endif
