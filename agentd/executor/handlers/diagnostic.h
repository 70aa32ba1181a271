/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diagnostic.h - GetDiagnosticData, executor side (diagnostic.c): a
 * container's termination log, read for the host.
 */
#ifndef KATA_EXECUTOR_DIAGNOSTIC_H
#define KATA_EXECUTOR_DIAGNOSTIC_H

#include "executor.h"

/* IPC_GET_DIAGNOSTIC_DATA_REQ -> IPC_GET_DIAGNOSTIC_DATA_REPLY: the first
 * IPC_DIAG_DATA_MAX bytes of the file the runtime copied for the
 * container's terminationMessagePath (empty when it is missing). */
int on_get_diagnostic_data(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);

#endif
