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

void log_timestamp(char *buf, size_t len)
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

bool log_enabled(enum log_level level)
{
	return level <= log_state.level && (log_state.fd >= 0 || log_state.writer);
}

const char *log_subsystem(void)
{
	return log_state.subsystem;
}

void log_emit(const char *line, size_t len)
{
	if (log_state.writer)
		log_state.writer(line, len, log_state.writer_data);
	else
		write_line(log_state.fd, line, len);
}

/* The letter of c's two-character escape in JSON, 0 for none. */
static char json_escape(unsigned char c)
{
	switch (c) {
	case '"':
		return '"';
	case '\\':
		return '\\';
	case '\b':
		return 'b';
	case '\f':
		return 'f';
	case '\n':
		return 'n';
	case '\r':
		return 'r';
	case '\t':
		return 't';
	default:
		return 0;
	}
}

/* s as a JSON string, quotes included, as jansson's compact dump writes
 * the string json_string_lossy (log_fields.c) makes of it: an invalid
 * UTF-8 byte becomes U+FFFD (messages may quote untrusted bytes), '"' and
 * '\\' are escaped, control characters as \\b \\f \\n \\r \\t or \\u00XX,
 * the rest as is. out has room for 6 bytes per byte of s, plus 2. */
static size_t json_quote(char *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0, n = strlen(s);
	out[o++] = '"';
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t l = c < 0x80 ? 1 : utf8_seq_len((const unsigned char *)s + i, n - i);
		if (l == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3); /* U+FFFD */
			o += 3;
			i++;
			continue;
		}
		if (l > 1 || (c >= 0x20 && c != '"' && c != '\\')) {
			memcpy(out + o, s + i, l);
			o += l;
			i += l;
			continue;
		}
		char esc = json_escape(c);
		if (esc) {
			out[o++] = '\\';
			out[o++] = esc;
		} else {
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[c >> 4];
			out[o + 5] = hex[c & 15];
			o += 6;
		}
		i++;
	}
	out[o++] = '"';
	return o;
}

/* The line without extra fields, written here rather than by jansson, so
 * that a process that logs only these (the monitor) links no jansson; the
 * same bytes as log_fields with no fields (tests/unit/test_log.c). */
static void log_vline(enum log_level level, const char *fmt, va_list ap)
{
	int saved_errno = errno;
	cleanup_free char *msg = NULL, *line = NULL;
	if (!log_enabled(level) || vasprintf(&msg, fmt, ap) < 0) {
		errno = saved_errno;
		return;
	}
	char ts[64];
	log_timestamp(ts, sizeof(ts));
	size_t cap = 6 * (strlen(msg) + strlen(log_state.subsystem)) + sizeof(ts) + 256;
	line = malloc(cap);
	if (line) {
		size_t n = 0;
		n += (size_t)snprintf(line + n, cap - n, "{\"msg\":");
		n += json_quote(line + n, msg);
		n += (size_t)
			snprintf(line + n, cap - n,
				 ",\"level\":\"%s\",\"ts\":\"%s\",\"pid\":\"%d\",\"subsystem\":",
				 log_level_tag(level), ts, (int)getpid());
		n += json_quote(line + n, log_state.subsystem);
		n += (size_t)snprintf(line + n, cap - n,
				      ",\"name\":\"kata-agent\",\"source\":\"agent\",\"version\":"
				      "\"%s\"}\n",
				      KATA_AGENT_VERSION);
		log_emit(line, n);
	}
	errno = saved_errno;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vline(level, fmt, ap);
	va_end(ap);
}
