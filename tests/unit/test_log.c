/* SPDX-License-Identifier: Apache-2.0 */
/* Log lines: one JSON object per line in upstream's shape, level filtering,
 * whole lines from several processes on one fd. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "tap.h"

/* Everything written to the pipe so far (the write end stays open). */
static char *drain(int rfd)
{
	static char buf[1 << 16];
	size_t n = 0;
	for (;;) {
		ssize_t r = read(rfd, buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return buf;
}

static int make_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

TEST(line_shape)
{
	int p[2];
	REQUIRE(make_pipe(p) == 0);
	log_init("frontend", p[1], LOG_LVL_INFO);
	log_fields(LOG_LVL_INFO, json_pack("{s:s, s:i}", "container", "c1", "n", 7), "started %s",
		   "ok");
	char *out = drain(p[0]);
	size_t len = strlen(out);
	REQUIRE(len > 0);
	CHECK(out[len - 1] == '\n');
	CHECK(strchr(out, '\n') == out + len - 1); /* exactly one line */

	json_error_t jerr;
	json_t *j = json_loads(out, 0, &jerr);
	REQUIRE(j != NULL);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "msg")), "started ok");
	CHECK_EQ_STR(json_string_value(json_object_get(j, "level")), "INFO");
	CHECK_EQ_STR(json_string_value(json_object_get(j, "subsystem")), "frontend");
	CHECK_EQ_STR(json_string_value(json_object_get(j, "name")), "kata-agent");
	CHECK_EQ_STR(json_string_value(json_object_get(j, "source")), "agent");
	CHECK_EQ_STR(json_string_value(json_object_get(j, "version")), KATA_AGENT_VERSION);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "container")), "c1");
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "n")), 7);
	char pid[24];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	CHECK_EQ_STR(json_string_value(json_object_get(j, "pid")), pid); /* a string, as upstream */
	const char *ts = json_string_value(json_object_get(j, "ts"));
	REQUIRE(ts != NULL);
	/* RFC 3339, UTC: 2024-01-02T03:04:05.123456789Z */
	CHECK_EQ_INT(strlen(ts), 30);
	CHECK(ts[4] == '-' && ts[10] == 'T' && ts[19] == '.' && ts[29] == 'Z');
	/* upstream's order: msg and level first */
	CHECK(strncmp(out, "{\"msg\":\"started ok\",\"level\":\"INFO\",\"ts\":", 40) == 0);
	json_decref(j);
	close(p[0]);
	close(p[1]);
}

TEST(level_tags_and_filtering)
{
	int p[2];
	REQUIRE(make_pipe(p) == 0);
	log_init("root", p[1], LOG_LVL_WARN);
	CHECK(log_get_level() == LOG_LVL_WARN);
	log_debug("d");
	log_info("i");
	CHECK_EQ_STR(drain(p[0]), "");
	log_warn("w");
	log_error("e");
	log_msg(LOG_LVL_CRITICAL, "c");
	/* filtered lines still release their fields */
	log_fields(LOG_LVL_DEBUG, json_pack("{s:s}", "k", "v"), "dropped");
	char *out = drain(p[0]);
	CHECK(strstr(out, "\"msg\":\"w\",\"level\":\"WARN\"") != NULL);
	CHECK(strstr(out, "\"msg\":\"e\",\"level\":\"ERRO\"") != NULL);
	CHECK(strstr(out, "\"msg\":\"c\",\"level\":\"CRIT\"") != NULL);
	CHECK(strstr(out, "dropped") == NULL);

	log_set_level(LOG_LVL_DEBUG);
	log_debug("now %d", 1);
	out = drain(p[0]);
	CHECK(strstr(out, "\"msg\":\"now 1\",\"level\":\"DEBG\"") != NULL);

	CHECK_EQ_STR(log_level_tag(LOG_LVL_INFO), "INFO");
	CHECK_EQ_STR(log_level_tag(LOG_LVL_DEBUG), "DEBG");
	close(p[0]);
	close(p[1]);
}

TEST(level_parse)
{
	static const struct {
		const char *s;
		enum log_level l;
	} ok[] = {
		{ "critical", LOG_LVL_CRITICAL }, { "fatal", LOG_LVL_CRITICAL },
		{ "panic", LOG_LVL_CRITICAL },    { "error", LOG_LVL_ERROR },
		{ "warn", LOG_LVL_WARN },         { "warning", LOG_LVL_WARN },
		{ "info", LOG_LVL_INFO },         { "debug", LOG_LVL_DEBUG },
		{ "trace", LOG_LVL_DEBUG },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		enum log_level l = LOG_LVL_INFO;
		CHECK_EQ_INT(log_level_parse(ok[i].s, &l), 0);
		CHECK_EQ_INT(l, ok[i].l);
	}
	enum log_level l;
	CHECK_EQ_INT(log_level_parse("INFO", &l), -EINVAL);
	CHECK_EQ_INT(log_level_parse("", &l), -EINVAL);
	CHECK_EQ_INT(log_level_parse("verbose", &l), -EINVAL);
	CHECK_EQ_STR(log_level_name(LOG_LVL_WARN), "warn");
}

TEST(escaping_and_invalid_utf8)
{
	int p[2];
	REQUIRE(make_pipe(p) == 0);
	log_init("root", p[1], LOG_LVL_INFO);
	log_info("quote \" newline \n bad \xff\xfe end");
	/* caller fields cannot replace msg/level/ts */
	log_fields(LOG_LVL_INFO, json_pack("{s:s, s:s}", "msg", "evil", "level", "CRIT"), "real");
	char *out = drain(p[0]);
	char *nl = strchr(out, '\n');
	REQUIRE(nl != NULL);
	*nl = '\0';
	json_t *j = json_loads(out, 0, NULL);
	REQUIRE(j != NULL);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "msg")),
		     "quote \" newline \n bad \xef\xbf\xbd\xef\xbf\xbd end");
	json_decref(j);
	j = json_loads(nl + 1, 0, NULL);
	REQUIRE(j != NULL);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "msg")), "real");
	CHECK_EQ_STR(json_string_value(json_object_get(j, "level")), "INFO");
	json_decref(j);
	close(p[0]);
	close(p[1]);
}

/* The line of log_msg (log.c, written by hand, no jansson) byte for byte
 * the one jansson makes of the same message with no fields (log_fields),
 * timestamps aside: every ASCII byte, escapes, UTF-8, invalid UTF-8, in
 * the message and in the subsystem. */
static char *capture;
static void capture_line(const char *line, size_t len, void *data)
{
	free(capture);
	capture = strndup(line, len);
}

/* The line with the timestamp's value cut out. */
static char *without_ts(const char *line)
{
	char *c = strdup(line), *ts = c ? strstr(c, "\"ts\":\"") : NULL;
	char *end = ts ? strchr(ts + 6, '"') : NULL;
	if (end)
		memmove(ts + 6, end, strlen(end) + 1);
	return c;
}

TEST(plain_lines_are_jansson_s_bytes)
{
	char all[128];
	for (int i = 1; i < 128; i++)
		all[i - 1] = (char)i;
	all[127] = '\0';
	const char *msgs[] = { all, "d\xc3\xa9j\xc3\xa0 \xe2\x82\xac \xf0\x9f\x90\xb3",
			       "bad \xff\xc3 \xed\xa0\x80 end", "", "/path/with\\back\"slash" };
	const char *subsystems[] = { "monitor", "sub\"sys\n\xff" };
	unsigned differ = 0, compared = 0;
	log_set_writer(capture_line, NULL);
	for (size_t s = 0; s < 2; s++) {
		log_init(subsystems[s], STDERR_FILENO, LOG_LVL_INFO);
		for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
			log_msg(LOG_LVL_WARN, "%s", msgs[i]);
			char *mine = capture ? without_ts(capture) : NULL;
			log_fields(LOG_LVL_WARN, NULL, "%s", msgs[i]);
			char *theirs = capture ? without_ts(capture) : NULL;
			if (!mine || !theirs || strcmp(mine, theirs) != 0) {
				printf("# message %zu, subsystem %zu:\n# log_msg    %s# log_fields %s",
				       i, s, mine ? mine : "(none)\n",
				       theirs ? theirs : "(none)\n");
				differ++;
			}
			compared++;
			free(mine);
			free(theirs);
		}
	}
	log_set_writer(NULL, NULL);
	free(capture);
	capture = NULL;
	CHECK_EQ_INT(compared, 10);
	CHECK_EQ_INT(differ, 0);
}

TEST(announce)
{
	int p[2];
	REQUIRE(make_pipe(p) == 0);
	log_init("root", p[1], LOG_LVL_INFO);
	log_announce(json_pack("{s:b, s:s}", "debug_console", 1, "server_addr", "vsock://-1:1024"));
	json_t *j = json_loads(drain(p[0]), 0, NULL);
	REQUIRE(j != NULL);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "msg")), "announce");
	CHECK_EQ_STR(json_string_value(json_object_get(j, "level")), "INFO");
	CHECK_EQ_STR(json_string_value(json_object_get(j, "agent-version")), KATA_AGENT_VERSION);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "api-version")), KATA_AGENT_API_VERSION);
	json_t *cfg = json_object_get(j, "config");
	CHECK(json_is_true(json_object_get(cfg, "debug_console")));
	CHECK_EQ_STR(json_string_value(json_object_get(cfg, "server_addr")), "vsock://-1:1024");
	json_decref(j);
	close(p[0]);
	close(p[1]);
}

/* Lines from several processes writing to one pipe never interleave. */
TEST(concurrent_writers_whole_lines)
{
	int p[2];
	REQUIRE(pipe2(p, O_CLOEXEC) == 0);
	enum { WRITERS = 4, LINES = 200 };
	for (int w = 0; w < WRITERS; w++) {
		pid_t pid = fork();
		REQUIRE(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			log_init("writer", p[1], LOG_LVL_INFO);
			char pad[1500];
			memset(pad, 'a' + w, sizeof(pad) - 1);
			pad[sizeof(pad) - 1] = '\0';
			for (int i = 0; i < LINES; i++)
				log_info("%d %s", i, pad);
			_exit(0);
		}
	}
	close(p[1]);
	FILE *f = fdopen(p[0], "r");
	REQUIRE(f != NULL);
	char *line = NULL;
	size_t cap = 0;
	int lines = 0, bad = 0;
	while (getline(&line, &cap, f) > 0) {
		lines++;
		json_t *j = json_loads(line, 0, NULL);
		if (!j)
			bad++;
		json_decref(j);
	}
	free(line);
	fclose(f);
	for (int w = 0; w < WRITERS; w++)
		wait(NULL);
	CHECK_EQ_INT(lines, WRITERS * LINES);
	CHECK_EQ_INT(bad, 0);
}

TEST(write_errors_are_ignored)
{
	log_init("root", -1, LOG_LVL_INFO);
	errno = 1234;
	log_info("nowhere");
	CHECK_EQ_INT(errno, 1234);
	int p[2];
	REQUIRE(make_pipe(p) == 0);
	close(p[0]);
	log_init("root", p[1], LOG_LVL_INFO);
	signal(SIGPIPE, SIG_IGN);
	log_info("broken pipe");
	close(p[1]);
}

int main(void)
{
	return tap_run();
}
