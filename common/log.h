/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h - structured logs: one JSON object per line, in the upstream agent's
 * shape: {"msg":..,"level":"INFO","ts":..,"pid":"..","subsystem":..,
 * "name":"kata-agent","source":"agent","version":..,<extra fields>}.
 *
 * Each process calls log_init() once with its own subsystem name; the level
 * comes from agent.log. Logging never fails the caller: a write error drops
 * the line.
 */
#ifndef KATA_COMMON_LOG_H
#define KATA_COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

enum log_level {
	LOG_LVL_CRITICAL = 0,
	LOG_LVL_ERROR,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

/* fd: where lines go (stderr by default). subsystem: e.g. "frontend". */
void log_init(const char *subsystem, int fd, enum log_level level);
void log_set_level(enum log_level level);
/* Hand every formatted line (JSON + '\n') to fn instead of writing it to the
 * fd; NULL restores the fd. The parent uses this to feed its own lines into
 * its log sink (agent.log_vport) without writing to a pipe it reads itself.
 * fn must not log. */
typedef void (*log_writer_fn)(const char *line, size_t len, void *data);
void log_set_writer(log_writer_fn fn, void *data);
enum log_level log_get_level(void);
/* Parse an agent.log value: critical|fatal|panic, error, warn|warning, info,
 * debug (and trace, as debug). Returns -EINVAL on anything else. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level); /* "info", ... */
/* The level as the JSON "level" field carries it, slog's short names as
 * upstream prints them: "CRIT", "ERRO", "WARN", "INFO", "DEBG". */
const char *log_level_tag(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Log with extra fields; steals the reference to fields (may be NULL). */
void log_fields(enum log_level level, json_t *fields, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The start-up line, as upstream: msg "announce" at INFO with "agent-version",
 * "api-version" and "config" (the effective configuration, e.g. from
 * options_to_json(); the reference is stolen, NULL logs an empty object). */
void log_announce(json_t *config);

/* For log_fields.c (the lines with fields, jansson's): whether a line of
 * level goes anywhere, the subsystem, the timestamp ("2006-01-02T15:04:05
 * .999999999Z"), and where a whole line (JSON + '\n') goes. */
bool log_enabled(enum log_level level);
const char *log_subsystem(void);
void log_timestamp(char *buf, size_t len);
void log_emit(const char *line, size_t len);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
