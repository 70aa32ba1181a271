/* SPDX-License-Identifier: Apache-2.0 */
/*
 * network.h - the guest network RPCs over rtnetlink (network.c,
 * doc/network.md).
 */
#ifndef KATA_EXECUTOR_NETWORK_H
#define KATA_EXECUTOR_NETWORK_H

#include "executor.h"

int on_update_interface(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_update_routes(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_list_interfaces(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_list_routes(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_add_arp_neighbors(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);

#endif
