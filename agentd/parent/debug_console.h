/* SPDX-License-Identifier: Apache-2.0 */
/*
 * debug_console.h - agent.debug_console: the one deliberate root shell of
 * the agent, off unless the option is given (doc/security.md).
 *
 *   - with agent.debug_console_vport=N, a shell per connection to vsock
 *     port N (any CID), each on its own pty: the shell leads a new session
 *     with the pty slave as its controlling terminal, and the parent relays
 *     bytes between the connection and the pty master from its event loop,
 *     through bounded buffers (a side that does not read stops the other
 *     side from being read, nothing grows). The session ends when either
 *     side does: the connection closing kills the shell (as upstream); the
 *     shell exiting closes the connection once its output is delivered.
 *   - without a port, one interactive shell ("-i") on the console
 *     (/dev/console) as stdin, stdout and stderr, as upstream.
 *
 * The shell is the first of /bin/bash, /bin/sh that exists (upstream's
 * list). Shells are children of the parent: its SIGCHLD handling must hand
 * every reaped pid to debug_console_reaped().
 */
#ifndef KATA_PARENT_DEBUG_CONSOLE_H
#define KATA_PARENT_DEBUG_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"
#include "loop.h"

#define DEBUG_CONSOLE_PATH "/dev/console"
/* Per direction, per session. */
#define DEBUG_CONSOLE_BUF (16u << 10)

struct debug_console;

/* The shell to run: /bin/bash, else /bin/sh; -ENOENT if neither exists. */
int debug_console_find_shell(char *out, size_t len, struct kerr *err);

/* Serve shells on listen_fd (a listening stream socket, owned from here on,
 * even on error): vsock in the guest, a unix socket in tests. */
int debug_console_listen(struct debug_console **out, struct loop *l, int listen_fd,
			 const char *shell, struct kerr *err);
/* One interactive shell on the terminal at tty_path (DEBUG_CONSOLE_PATH). */
int debug_console_serial(struct debug_console **out, struct loop *l, const char *tty_path,
			 const char *shell, struct kerr *err);

/* True if pid was one of its shells (then it is accounted for and logged). */
bool debug_console_reaped(struct debug_console *dc, pid_t pid, int status);
/* Sessions open now (tests). */
unsigned debug_console_sessions(const struct debug_console *dc);
/* Stop listening, end every session, SIGKILL the shells (not reaped here). */
void debug_console_free(struct debug_console *dc);

#endif
