/* SPDX-License-Identifier: Apache-2.0 */
/*
 * volumes.h - AddSwap and ResizeVolume (volumes.c).
 */
#ifndef KATA_EXECUTOR_VOLUMES_H
#define KATA_EXECUTOR_VOLUMES_H

#include "executor.h"

int on_add_swap(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_resize_volume(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
/* Exit: AddSwap requests still waiting for their disk are dropped. */
void swap_ops_free(struct executor *x);

#endif
