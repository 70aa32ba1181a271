/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"
#include "utf8.h"

static struct {
	char subsystem[64];
	int fd;
	enum log_level level;
	log_writer_fn writer;
	void *writer_data;
} log_state = {
	/* upstream's logging crate calls the subsystem of unnamed loggers "root" */
	.subsystem = "root",
	.fd = STDERR_FILENO,
	.level = LOG_LVL_INFO,
};

void log_init(const char *subsystem, int fd, enum log_level level)
{
	snprintf(log_state.subsystem, sizeof(log_state.subsystem), "%s",
		 subsystem ? subsystem : "root");
	log_state.fd = fd;
	log_state.level = level;
}

void log_set_level(enum log_level level)
{
	log_state.level = level;
}

void log_set_writer(log_writer_fn fn, void *data)
{
	log_state.writer = fn;
	log_state.writer_data = data;
}

enum log_level log_get_level(void)
{
	return log_state.level;
}

static const struct {
	const char *name;
	enum log_level level;
} level_names[] = {
	/* logrus spellings, as upstream's agent.log accepts them; fatal and
	 * panic only log (upstream maps them to critical and does not panic) */
	{ "critical", LOG_LVL_CRITICAL },
	{ "fatal", LOG_LVL_CRITICAL },
	{ "panic", LOG_LVL_CRITICAL },
	{ "error", LOG_LVL_ERROR },
	{ "warn", LOG_LVL_WARN },
	{ "warning", LOG_LVL_WARN },
	{ "info", LOG_LVL_INFO },
	{ "debug", LOG_LVL_DEBUG },
	/* upstream has a trace level below debug; we have nothing finer */
	{ "trace", LOG_LVL_DEBUG },
};

int log_level_parse(const char *s, enum log_level *out)
{
	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i].name) == 0) {
			*out = level_names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
	switch (level) {
	case LOG_LVL_CRITICAL:
		return "critical";
	case LOG_LVL_ERROR:
		return "error";
	case LOG_LVL_WARN:
		return "warn";
	case LOG_LVL_INFO:
		return "info";
	case LOG_LVL_DEBUG:
		return "debug";
	}
	return "unknown";
}

const char *log_level_tag(enum log_level level)
{
	/* slog's short level names, which upstream's JSON lines carry and
	 * the runtime's log forwarder matches on */
	switch (level) {
	case LOG_LVL_CRITICAL:
		return "CRIT";
	case LOG_LVL_ERROR:
		return "ERRO";
	case LOG_LVL_WARN:
		return "WARN";
	case LOG_LVL_INFO:
		return "INFO";
	case LOG_LVL_DEBUG:
		return "DEBG";
	}
	return "INFO";
}

/* Messages may quote untrusted bytes (paths, ids from the host); jansson
 * refuses invalid UTF-8, so replace bad bytes instead of losing the line. */
static json_t *json_string_lossy(const char *s)
{
	size_t n = strlen(s);

	if (utf8_valid(s, n))
		return json_stringn(s, n);

	cleanup_free char *out = malloc(n * 3 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_seq_len((const unsigned char *)s + i, n - i);
		if (l == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3); /* U+FFFD */
			o += 3;
			i++;
		} else {
			memcpy(out + o, s + i, l);
			o += l;
			i += l;
		}
	}
	return json_stringn(out, o);
}

static void format_ts(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%09ldZ", ts.tv_nsec);
}

/* One write(2) per line: lines of several processes sharing the fd stay
 * whole (atomic for pipes up to PIPE_BUF; longer lines may be split by the
 * kernel, so finish them rather than drop the tail). */
static void write_line(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += w;
		len -= (size_t)w;
	}
}

static bool reserved_key(const char *key)
{
	return strcmp(key, "msg") == 0 || strcmp(key, "level") == 0 || strcmp(key, "ts") == 0;
}

static void log_vfields(enum log_level level, json_t *fields, const char *fmt, va_list ap)
{
	int saved_errno = errno;
	json_t *line = NULL;
	char *msg = NULL;
	char *text = NULL;

	if (level > log_state.level || (log_state.fd < 0 && !log_state.writer))
		goto out;
	if (vasprintf(&msg, fmt, ap) < 0) {
		msg = NULL;
		goto out;
	}

	char ts[64], pid[24];
	format_ts(ts, sizeof(ts));
	snprintf(pid, sizeof(pid), "%d", (int)getpid());

	line = json_object();
	if (!line)
		goto out;
	/* upstream's field names and types: pid is a string there too */
	json_object_set_new(line, "msg", json_string_lossy(msg));
	json_object_set_new(line, "level", json_string(log_level_tag(level)));
	json_object_set_new(line, "ts", json_string(ts));
	json_object_set_new(line, "pid", json_string(pid));
	json_object_set_new(line, "subsystem", json_string_lossy(log_state.subsystem));
	json_object_set_new(line, "name", json_string("kata-agent"));
	json_object_set_new(line, "source", json_string("agent"));
	json_object_set_new(line, "version", json_string(KATA_AGENT_VERSION));
	if (fields && json_is_object(fields)) {
		const char *key;
		json_t *value;
		json_object_foreach(fields, key, value) {
			if (!reserved_key(key))
				json_object_set(line, key, value);
		}
	}

	text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!text)
		goto out;
	size_t len = strlen(text);
	char *nl = realloc(text, len + 2);
	if (!nl)
		goto out;
	text = nl;
	text[len] = '\n';
	text[len + 1] = '\0';
	if (log_state.writer)
		log_state.writer(text, len + 1, log_state.writer_data);
	else
		write_line(log_state.fd, text, len + 1);
out:
	free(text);
	free(msg);
	json_decref(line);
	json_decref(fields);
	errno = saved_errno;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vfields(level, NULL, fmt, ap);
	va_end(ap);
}

void log_fields(enum log_level level, json_t *fields, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vfields(level, fields, fmt, ap);
	va_end(ap);
}

void log_announce(json_t *config)
{
	json_t *fields = json_pack("{s:s, s:s, s:o}", "agent-version", KATA_AGENT_VERSION,
				   "api-version", KATA_AGENT_API_VERSION, "config",
				   config ? config : json_object());
	/* announce is INFO upstream, so agent.log=error hides it there too */
	log_fields(LOG_LVL_INFO, fields, "announce");
}
