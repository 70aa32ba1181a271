/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log_fields.c - log lines with extra fields, and the announce line
 * (log.h): built with jansson, apart from log.c so that a process that
 * logs none (the monitor) does not link jansson.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"
#include "utf8.h"

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

	if (!log_enabled(level))
		goto out;
	if (vasprintf(&msg, fmt, ap) < 0) {
		msg = NULL;
		goto out;
	}

	char ts[64], pid[24];
	log_timestamp(ts, sizeof(ts));
	snprintf(pid, sizeof(pid), "%d", (int)getpid());

	line = json_object();
	if (!line)
		goto out;
	/* upstream's field names and types: pid is a string there too */
	json_object_set_new(line, "msg", json_string_lossy(msg));
	json_object_set_new(line, "level", json_string(log_level_tag(level)));
	json_object_set_new(line, "ts", json_string(ts));
	json_object_set_new(line, "pid", json_string(pid));
	json_object_set_new(line, "subsystem", json_string_lossy(log_subsystem()));
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
	log_emit(text, len + 1);
out:
	free(text);
	free(msg);
	json_decref(line);
	json_decref(fields);
	errno = saved_errno;
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
