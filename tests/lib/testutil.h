/* SPDX-License-Identifier: Apache-2.0 */
/*
 * testutil.h - helpers every C test program may use (tests/lib/testutil.c),
 * so that no test carries its own copy. Prefix tu_ (testutil). Linked as
 * testutil_dep (tests/lib/meson.build).
 *
 * Offers:
 *   files     tu_read_file, tu_read_file_len, tu_peek_file, tu_write_file,
 *             tu_mkdirs, tu_put_path, tu_put_file, tu_copy_file, tu_exists,
 *             tu_is_dir, tu_rm_rf (fake sysfs, /proc and /dev trees: these)
 *   rootfs    tu_build_rootfs: a busybox container root in one call
 *   /proc     tu_proc_status (a /proc/PID/status field), tu_fd_count
 *   fds       tu_write_all, tu_read_all, tu_seqpacket_pair, tu_close_pair,
 *             tu_wait_readable
 *   mounts    tu_private_mount_ns: what a test mounts stays its own;
 *             tu_main_root_mount_ns: the same for a main() that needs root
 *   processes tu_spawn: an agent binary with its channels at fds 3, 4, ...
 *   IPC       tu_ipc_recv: common/ipc.h's ipc_recv with a deadline;
 *             tu_ipc_ask: a request and the reply with its id
 *   time      tu_now_ms, tu_sleep_ms
 *   (TAP comments of a multi-line text: tap_diag in tests/tap.h)
 *
 * Test-only code: failures return -1 (or a negative errno where said) or
 * NULL; what went wrong is printed as a TAP comment ("# ...") where the
 * caller could not tell it otherwise.
 */
#ifndef KATA_TESTS_TESTUTIL_H
#define KATA_TESTS_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ipc_msg;

/* ---- files ---- */

/* The whole file, NUL-terminated (malloc'd), or NULL. */
char *tu_read_file(const char *path);
/* The same, with its length (the file may hold NUL bytes). */
char *tu_read_file_len(const char *path, size_t *len);
/* Create or truncate path with text, then set mode (umask does not apply).
 * 0 or -errno. */
int tu_write_file(const char *path, const char *text, mode_t mode);
/* The first 4 KiB of path as text, "" when it cannot be read: for a CHECK
 * on a small file of a fake tree. A static buffer, overwritten by the next
 * call (copy it to keep it). */
const char *tu_peek_file(const char *path);
/* mkdir -p: path and the directories above it that are missing (0755).
 * 0 or -errno. */
int tu_mkdirs(const char *path);
/* Write text to path (0644), making the directories above it (0755): one
 * file of a fixture tree (a fake /proc, /sys or /dev). 0 or -errno, printed. */
int tu_put_path(const char *path, const char *text);
/* The same for root/rel. */
int tu_put_file(const char *root, const char *rel, const char *text);
/* Copy from's bytes to to (created or truncated) and set mode. 0 or -errno. */
int tu_copy_file(const char *from, const char *to, mode_t mode);
/* Whether path exists (lstat: a dangling symlink exists). */
bool tu_exists(const char *path);
/* Whether path is a directory (stat: follows a final symlink). */
bool tu_is_dir(const char *path);
/* Remove path and everything below it, without following symlinks and
 * without crossing into other mounts (a mount a test leaked is left, not
 * emptied: its content may be the host's). 0, or -1 if anything is left. */
int tu_rm_rf(const char *path);

/* ---- a busybox rootfs ---- */

/* Make rootfs (a new directory) a container root: bin, dev, etc, mnt, proc,
 * sys, tmp; /bin/busybox copied to bin/busybox and bin/<applet> symlinks for
 * each name of the NULL-terminated applets. 0 or -errno. */
int tu_build_rootfs(const char *rootfs, const char *const *applets);

/* ---- /proc ---- */

/* The value of field ("VmRSS", "CapEff", ...) in /proc/PID/status, with
 * leading blanks and the newline stripped. 0, or -1 (out set to "") when the
 * process or the field is missing. */
int tu_proc_status(pid_t pid, const char *field, char *out, size_t len);
/* How many fds pid has open (/proc/PID/fd), or -1. */
int tu_fd_count(pid_t pid);

/* ---- fds ---- */

/* All len bytes, resumed after EINTR and short writes; on a socket without
 * SIGPIPE (MSG_NOSIGNAL). 0 or -errno. */
int tu_write_all(int fd, const void *buf, size_t len);
/* Exactly len bytes: 0, or -1 on EOF or error. */
int tu_read_all(int fd, void *buf, size_t len);
/* socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC): the IPC channel type. */
int tu_seqpacket_pair(int sv[2]);
/* Close both ends of a pair (those still open: -1 is skipped) and mark
 * them -1. */
void tu_close_pair(int sv[2]);
/* poll(POLLIN) for up to ms, retried on EINTR: >0 readable, 0 timeout, <0. */
int tu_wait_readable(int fd, int ms);

/* ---- namespaces ---- */

/* unshare(CLONE_NEWNS) and make every mount private: the mounts this
 * process (and what it starts) makes or removes never reach the host's
 * table, even when a test fails. Needs root. 0 or -errno. */
int tu_private_mount_ns(void);
/* For a main() whose tests all need root and their own mount namespace:
 * 0 in one; else the plan "1..0 # SKIP why" is printed and -1 returned
 * (main then returns 0). */
int tu_main_root_mount_ns(void);

/* ---- processes ---- */

/* Fork and execv(path, argv) with fds[i] at fd 3 + i and no other fd above
 * 2, as the agent's processes start each other; killed if this process
 * dies (PR_SET_PDEATHSIG). The caller closes its copies of fds. The pid,
 * or -1; an exec that fails exits 127. */
pid_t tu_spawn(const char *path, char *const argv[], const int *fds, unsigned nfds);

/* The real kata-agent-executor as the parent starts it: argv (with
 * "--ctl-fd", "3") run with the control channel at fd 3, then
 * CTL_NEW_FRONTEND {generation 1, our pid} handing it a front-end channel.
 * The pid (-1 on failure), our ends in *ctl and *fe. */
pid_t tu_executor_start(const char *path, char *const argv[], int *ctl, int *fe);
/* Close fe and ctl (the executor exits when its parent's channel closes),
 * wait up to 5 s, then SIGKILL: whether it exited by itself. */
bool tu_executor_stop(pid_t pid, int fe, int ctl);
/* rmdir what a test's --cgroup-parent left (its children, then itself,
 * v1 hierarchies and v2): how many directories could not go. */
size_t tu_cgroup_parent_remove(const char *parent);
/* The end of a test that started an executor with a temp shared dir and a
 * cgroup parent: tu_executor_stop, tu_cgroup_parent_remove (*left: what
 * could not go), then the dir removed when set. Whether it exited by
 * itself. */
bool tu_executor_teardown(pid_t pid, int fe, int ctl, const char *cgparent, const char *dir,
			  size_t *left);

/* ---- IPC ---- */

/* ipc_recv (common/ipc.h) once fd is readable within ms: 1 with *m, 0 on
 * EOF, -ETIMEDOUT, or ipc_recv's error (its message printed as "# recv: "). */
int tu_ipc_recv(int fd, struct ipc_msg *m, int ms);
/* Send a request of type with id on fd, then receive until the message
 * with that id comes (up to ms for each message): 1 with *reply (release
 * it), -1 on a send error, a timeout or EOF (said as a TAP comment). Other
 * messages go to other(m, data) when given (which must not release m),
 * and are released. */
int tu_ipc_ask(int fd, uint32_t type, uint32_t id, const void *payload, size_t len, int ms,
	       void (*other)(struct ipc_msg *m, void *data), void *data, struct ipc_msg *reply);

/* tu_ipc_ask with id (*next_id)++ and 30 s per message, for a request
 * whose answer is OK, ERROR or a reply: the answer's type (-1 on a
 * transport failure), an ERROR's status and text in *status and msg (0 and
 * "" otherwise; printed as a TAP comment). */
int tu_ipc_call(int fd, uint32_t type, uint32_t *next_id, const void *payload, size_t len,
		int *status, char *msg, size_t msglen);

/* ---- time ---- */

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t tu_now_ms(void);
/* Sleep ms, resumed after signals. */
void tu_sleep_ms(unsigned ms);

#endif
