/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sealed_env.h - sealed secrets in a process's environment, unsealed
 * through the guest's Confidential Data Hub before the process starts
 * (upstream rpc.rs cdh_handler_sealed_secrets -> unseal_env).
 *
 * Runs in the container's launcher (launcher.c), which may block: each
 * UnsealSecret call waits up to agent.cdh_api_timeout, and only this
 * container's CreateContainer or ExecProcess waits with it, never the
 * executor's loop.
 *
 * Offers: sealed_env_unseal(), sealed_env_cdh_present(),
 * sealed_env_free_secret().
 */
#ifndef KATA_EXECUTOR_SEALED_ENV_H
#define KATA_EXECUTOR_SEALED_ENV_H

#include <stdbool.h>
#include <stdint.h>

#include "agent.pb-c.h"
#include "err.h"

/* The CDH's fixed socket (CDH_SOCKET_PATH) exists and is a socket: as
 * upstream, which makes its CDH client only when it finds that socket. */
bool sealed_env_cdh_present(void);

/* Every Env entry "KEY=sealed.<...>" of p becomes "KEY=<plaintext>", the
 * value unsealed by the CDH at CDH_SOCKET_ADDR. No sealed value: nothing is
 * done and the CDH is not asked. No CDH (sealed_env_cdh_present false):
 * the values stay as they are, as upstream. A value the CDH cannot unseal,
 * or whose plaintext is not UTF-8 without NUL bytes, fails the whole call
 * with the CDH's status and reason and the variable's name (never a
 * plaintext); p is then partly unsealed and must not be run. *n_unsealed
 * (may be NULL): how many were replaced. */
int sealed_env_unseal(Grpc__Process *p, uint64_t api_timeout_ms, size_t *n_unsealed,
		      struct kerr *err);

/* An unsealed secret's n bytes wiped, then freed (NULL is fine). */
void sealed_env_free_secret(uint8_t *p, size_t n);

#endif
