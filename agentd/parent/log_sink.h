/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log_sink.h - agent.log_vport: the parent owns the agent's log stream and
 * serves it to the first reader on a vsock port.
 *
 * Every process of the agent writes whole JSON lines to its stderr. With a
 * sink, the children's stderr is the write end of a pipe (log_sink_child_fd)
 * that the parent reads, and the parent's own lines arrive through
 * log_set_writer(); both become whole lines in one queue. The queue goes to
 * the connected reader, one reader at a time; with no reader (before the
 * host connects, or after it went away) it is kept, up to LOG_SINK_MAX_BYTES.
 * Past that the oldest lines are dropped, and the next line the reader gets
 * is a WARN line from subsystem "log-sink" saying how many.
 *
 * Writes to the reader are non-blocking: a slow reader fills the queue and
 * costs old lines, never blocks the agent.
 */
#ifndef KATA_PARENT_LOG_SINK_H
#define KATA_PARENT_LOG_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "loop.h"

#define LOG_SINK_MAX_BYTES (1u << 20)
/* A line longer than this is cut there (and ends with a newline). */
#define LOG_SINK_MAX_LINE (64u << 10)

struct log_sink;

/* listen_fd: a listening stream socket (vsock in the guest; tests use a unix
 * socket), owned by the sink from here on, even on error. max_bytes 0 means
 * LOG_SINK_MAX_BYTES. Nothing is read or served before log_sink_attach. */
int log_sink_new(struct log_sink **out, int listen_fd, size_t max_bytes, struct kerr *err);
/* Start serving on l: the pipe and the listener become loop watches. */
int log_sink_attach(struct log_sink *s, struct loop *l, struct kerr *err);
/* Give this to children as their stderr. */
int log_sink_child_fd(const struct log_sink *s);
/* Queue one line (need not end with '\n'); a log_writer_fn for log.h. */
void log_sink_write(const char *line, size_t len, void *sink);
/* Lines dropped so far (tests, metrics). */
uint64_t log_sink_dropped(const struct log_sink *s);
/* Bytes queued and not yet sent. */
size_t log_sink_queued(const struct log_sink *s);
void log_sink_free(struct log_sink *s);

#endif
