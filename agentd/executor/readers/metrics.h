/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.h - GetMetrics, executor side: read the agent's processes and the
 * guest from a proc root and format them as Prometheus text (exposition
 * format 0.0.4), in the upstream agent's kata_agent_* / kata_guest_* names.
 *
 * Everything here reads files below env->proc_root ("/proc" in the agent, a
 * fixture directory in tests/unit/test_metrics.c) and holds no state: the
 * executor passes the list of processes it knows (parent, front-end,
 * itself, every monitor and launcher) and the scrape count.
 *
 * Bounds: the text never exceeds env->limit bytes; families that would not
 * fit are left out, from the first one that overflows on, and a comment line
 * says so. A process that vanished between listing and reading is skipped.
 */
#ifndef KATA_EXECUTOR_METRICS_H
#define KATA_EXECUTOR_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "ipc.h"

/* The largest text: what one GET_METRICS_REPLY carries (ipc.h). */
#define METRICS_MAX_TEXT IPC_METRICS_TEXT_MAX

struct metrics_env {
	const char *proc_root; /* "/proc" */
	long ticks_per_sec;    /* sysconf(_SC_CLK_TCK) */
	long page_size;        /* sysconf(_SC_PAGESIZE) */
	size_t limit;          /* at most METRICS_MAX_TEXT; at least 512 */
};

/* One process of the agent. process: "parent", "frontend", "executor",
 * "monitor", "launcher"; container_id only for the per-container ones. */
struct metrics_target {
	const char *process;
	const char *container_id; /* NULL: no container_id label */
	pid_t pid;
};

enum { METRICS_STATUS_ITEMS = 18, METRICS_IO_ITEMS = 7 };

/* What /proc/<pid>/{stat,status,io,limits,fd} say about one process. */
struct metrics_proc {
	uint64_t utime, stime, cutime, cstime; /* clock ticks */
	uint64_t threads;
	uint64_t vsize_bytes, rss_bytes;
	uint64_t start_ticks; /* after boot */
	bool has_fds;         /* fd/ was readable */
	uint64_t open_fds;
	bool has_max_fds;
	bool max_fds_unlimited;
	uint64_t max_fds; /* soft limit */
	bool has_status[METRICS_STATUS_ITEMS];
	uint64_t status[METRICS_STATUS_ITEMS]; /* kB or counts, as the file says */
	bool has_io[METRICS_IO_ITEMS];
	uint64_t io[METRICS_IO_ITEMS];
};

/* Read one process. -ESRCH (err set) when it does not exist (any more);
 * the parts only some readers may see (io, fd, limits) are left out when
 * unreadable, not an error. */
int metrics_read_proc(const struct metrics_env *env, pid_t pid, struct metrics_proc *out,
		      struct kerr *err);

/* Escape a label value for the text format (backslash, double quote,
 * newline) into out (NUL-terminated, truncated to outlen); bytes that are
 * not printable ASCII become '?', so the text stays valid UTF-8 whatever a
 * device or interface is called. Returns the length written. */
size_t metrics_escape_label(const char *in, char *out, size_t outlen);

/* The whole text: agent families for the n targets, then the guest
 * families. *text is malloc'd, not NUL-terminated beyond *len (it is, in
 * fact, but *len excludes the NUL). Fails only on a bad env or ENOMEM. */
int metrics_render(const struct metrics_env *env, const struct metrics_target *t, size_t n,
		   uint64_t scrape_count, char **text, size_t *len, struct kerr *err);

/* The launcher of a container: the child of its monitor that runs the
 * executor's binary (same inode as <proc_root>/self/exe: until the init
 * started and it was idle a moment) or exe (kata-agent-launcher; may be
 * NULL), and is none of the container's processes in skip[] (the init and
 * the execs; they and the launcher's workers are clones of the launcher
 * until they exec); the lowest such pid, 0 if none. */
pid_t metrics_find_launcher(const char *proc_root, const char *exe, pid_t monitor,
			    const pid_t *skip, size_t n_skip);

#endif
