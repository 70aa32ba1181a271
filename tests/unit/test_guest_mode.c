/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest-mode pieces of the parent, stand-alone on unix sockets (the guest
 * uses vsock; tests/vm/run covers that): the log sink of agent.log_vport
 * (late reader, drops and the notice, pipe input), the debug console of
 * agent.debug_console (a shell on a pty per connection) and the RPC span of
 * agent.trace in the ttRPC server.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"
#include "debug_console.h"
#include "log.h"
#include "log_sink.h"
#include "loop.h"
#include "transport.h"
#include "ttrpc.h"

static void quit_cb(struct loop *l, void *data)
{
	loop_quit(l);
}

static void run_for_ms(struct loop *l, unsigned ms)
{
	loop_timer_add(l, loop_now_ns() + (uint64_t)ms * 1000000ull, quit_cb, NULL);
	loop_run(l, NULL);
}

static int listener(const char *tag, char *name, size_t len)
{
	struct addr a;
	struct kerr err;
	snprintf(name, len, "unix://@kata-test-%s-%d", tag, (int)getpid());
	if (addr_parse(name, &a, &err) < 0)
		return -1;
	return addr_listen(&a, &err);
}

static int dial(const char *name)
{
	struct addr a;
	struct kerr err;
	if (addr_parse(name, &a, &err) < 0)
		return -1;
	return addr_connect(&a, 1000000000ull, &err);
}

/* Everything readable on fd now (non-blocking), appended to buf. */
static size_t drain(int fd, char *buf, size_t cap, size_t have)
{
	for (;;) {
		if (have + 1 >= cap)
			break;
		ssize_t n = recv(fd, buf + have, cap - 1 - have, MSG_DONTWAIT);
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	buf[have] = '\0';
	return have;
}

TEST(log_sink_keeps_lines_for_a_late_reader)
{
	struct loop *l;
	struct log_sink *s;
	struct kerr err;
	char name[108];
	CHECK(loop_new(&l, &err) == 0);
	int lfd = listener("logsink", name, sizeof(name));
	CHECK(lfd >= 0);
	CHECK(log_sink_new(&s, lfd, 0, &err) == 0);
	/* before the loop exists: the parent's announce line */
	log_sink_write("{\"msg\":\"announce\"}\n", 19, s);
	CHECK(log_sink_attach(s, l, &err) == 0);
	for (int i = 1; i <= 5; i++) {
		char b[32];
		int n = snprintf(b, sizeof(b), "parent %d", i); /* no newline: one is added */
		log_sink_write(b, (size_t)n, s);
	}
	/* a child's stderr, written in pieces */
	int w = log_sink_child_fd(s);
	CHECK(write(w, "child 1\nchi", 11) == 11);
	CHECK(write(w, "ld 2\n", 5) == 5);
	run_for_ms(l, 20);
	CHECK(log_sink_queued(s) > 0);

	int c = dial(name);
	CHECK(c >= 0);
	run_for_ms(l, 50);
	static char buf[4096];
	drain(c, buf, sizeof(buf), 0);
	CHECK_EQ_STR(buf, "{\"msg\":\"announce\"}\nparent 1\nparent 2\nparent 3\nparent 4\n"
			  "parent 5\nchild 1\nchild 2\n");
	CHECK_EQ_INT(log_sink_queued(s), 0);
	/* connected: a new line goes straight out */
	log_sink_write("later\n", 6, s);
	drain(c, buf, sizeof(buf), 0);
	CHECK_EQ_STR(buf, "later\n");
	CHECK_EQ_INT(log_sink_dropped(s), 0);
	close(c);
	log_sink_free(s);
	loop_free(l);
}

TEST(log_sink_drops_oldest_and_says_how_many)
{
	struct loop *l;
	struct log_sink *s;
	struct kerr err;
	char name[108];
	CHECK(loop_new(&l, &err) == 0);
	int lfd = listener("logdrop", name, sizeof(name));
	CHECK(log_sink_new(&s, lfd, 4096, &err) == 0);
	CHECK(log_sink_attach(s, l, &err) == 0);
	char line[100];
	int line_len = 0;
	for (int i = 0; i < 200; i++) {
		int n = snprintf(line, sizeof(line), "%04d %080d", i, 0);
		line_len = n;
		log_sink_write(line, (size_t)n, s);
		CHECK(log_sink_queued(s) <= 4096);
	}
	uint64_t dropped = log_sink_dropped(s);
	CHECK(dropped > 0);
	CHECK(dropped < 200);
	int c = dial(name);
	run_for_ms(l, 50);
	static char buf[16384];
	drain(c, buf, sizeof(buf), 0);
	/* first the notice, with the count */
	char *nl = strchr(buf, '\n');
	CHECK(nl != NULL);
	if (nl) {
		*nl = '\0';
		json_error_t je;
		json_t *o = json_loads(buf, 0, &je);
		CHECK(o != NULL);
		CHECK_EQ_STR(json_string_value(json_object_get(o, "level")), "WARN");
		CHECK_EQ_STR(json_string_value(json_object_get(o, "subsystem")), "log-sink");
		CHECK_EQ_INT(json_integer_value(json_object_get(o, "dropped-lines")), dropped);
		json_decref(o);
		/* then the newest lines, whole and in order, up to the last one */
		int expect = (int)dropped, bad = 0;
		for (char *p = nl + 1; *p; expect++) {
			char *e = strchr(p, '\n');
			if (!e || atoi(p) != expect || e - p != line_len)
				bad++;
			if (!e)
				break;
			p = e + 1;
		}
		CHECK_EQ_INT(bad, 0);
		CHECK_EQ_INT(expect, 200);
	}
	close(c);
	log_sink_free(s);
	loop_free(l);
}

struct dc_test {
	struct debug_console *dc;
	int c;
	char out[8192];
	size_t len;
	bool eof;
};

static void dc_reap(struct loop *l, void *data)
{
	struct dc_test *t = data;
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		debug_console_reaped(t->dc, pid, st);
	if (!t->eof)
		loop_timer_add(l, loop_now_ns() + 5000000, dc_reap, t);
}

static void dc_read(struct loop *l, int fd, uint32_t ev, void *data)
{
	struct dc_test *t = data;
	ssize_t n = recv(fd, t->out + t->len, sizeof(t->out) - 1 - t->len, MSG_DONTWAIT);
	if (n > 0) {
		t->len += (size_t)n;
		t->out[t->len] = '\0';
	} else if (n == 0 || errno != EAGAIN) {
		t->eof = true;
		loop_del(l, fd);
		loop_quit(l);
	}
}

TEST(debug_console_runs_a_shell_on_a_pty_per_connection)
{
	char shell[256];
	struct kerr err;
	if (debug_console_find_shell(shell, sizeof(shell), &err) < 0) {
		printf("# %s\n", err.msg);
		SKIP("no shell for the debug console");
	}
	struct loop *l;
	char name[108];
	struct dc_test t = { 0 };
	CHECK(loop_new(&l, &err) == 0);
	int lfd = listener("dbgcon", name, sizeof(name));
	CHECK(debug_console_listen(&t.dc, l, lfd, shell, &err) == 0);
	t.c = dial(name);
	CHECK(t.c >= 0);
	const char *cmd = "test -t 0 && echo tty-yes; echo $((6*7)); exit\n";
	CHECK(write(t.c, cmd, strlen(cmd)) == (ssize_t)strlen(cmd));
	CHECK(loop_add(l, t.c, EPOLLIN, dc_read, &t, &err) == 0);
	loop_timer_add(l, loop_now_ns() + 5000000, dc_reap, &t);
	loop_timer_add(l, loop_now_ns() + 10000000000ull, quit_cb, NULL);
	loop_run(l, NULL);
	CHECK(t.eof); /* the shell exiting closed the connection */
	CHECK(strstr(t.out, "\n42\r\n") != NULL || strstr(t.out, "\r\n42\r") != NULL);
	CHECK(strstr(t.out, "tty-yes") != NULL);
	if (!strstr(t.out, "42"))
		tap_diag("output: ", t.out);
	/* reaped and gone */
	t.eof = false;
	dc_reap(l, &t);
	t.eof = true;
	run_for_ms(l, 50);
	dc_reap(l, &t);
	CHECK_EQ_INT(debug_console_sessions(t.dc), 0);
	close(t.c);
	debug_console_free(t.dc);
	loop_free(l);
}

static char captured[8192];
static size_t captured_len;

static void capture(const char *line, size_t len, void *data)
{
	if (captured_len + len < sizeof(captured)) {
		memcpy(captured + captured_len, line, len);
		captured_len += len;
		captured[captured_len] = '\0';
	}
}

static void answer(struct ttrpc_call *call, void *data)
{
	if (!strcmp(ttrpc_call_method(call), "Check"))
		ttrpc_call_reply_raw(call, NULL, 0);
	else
		ttrpc_call_fail(call, 12, "no such method");
}

TEST(trace_logs_a_span_per_rpc)
{
	struct loop *l;
	struct ttrpc_server *srv;
	struct ttrpc_client *cl;
	struct kerr err;
	char name[108];
	CHECK(loop_new(&l, &err) == 0);
	int lfd = listener("trace", name, sizeof(name));
	CHECK(ttrpc_server_new(&srv, l, lfd, answer, NULL, &err) == 0);
	CHECK(ttrpc_client_connect(&cl, name, 1000000000ull, &err) == 0);
	log_init("test", STDERR_FILENO, LOG_LVL_INFO);
	log_set_writer(capture, NULL);

	uint32_t id;
	/* off by default: no span */
	CHECK(ttrpc_client_send(cl, "grpc.Health", "Check", NULL, 0, 0, NULL, 0, &id, &err) == 0);
	run_for_ms(l, 30);
	CHECK(strstr(captured, "\"span\"") == NULL);

	ttrpc_server_set_trace(srv, true);
	CHECK(ttrpc_client_send(cl, "grpc.Health", "Check", NULL, 0, 0, NULL, 0, &id, &err) == 0);
	CHECK(ttrpc_client_send(cl, "grpc.Health", "Nope", NULL, 0, 0, NULL, 0, &id, &err) == 0);
	run_for_ms(l, 30);
	log_set_writer(NULL, NULL);
	int spans = 0;
	for (char *p = captured; *p;) {
		char *e = strchr(p, '\n');
		if (!e)
			break;
		*e = '\0';
		json_t *o = json_loads(p, 0, NULL);
		if (o && !strcmp(json_string_value(json_object_get(o, "msg")) ?: "", "span")) {
			spans++;
			const char *m = json_string_value(json_object_get(o, "method"));
			CHECK_EQ_STR(json_string_value(json_object_get(o, "service")),
				     "grpc.Health");
			CHECK(json_integer_value(json_object_get(o, "duration-ns")) >= 0);
			CHECK(json_string_value(json_object_get(o, "start")) != NULL);
			CHECK(json_string_value(json_object_get(o, "end")) != NULL);
			if (m && !strcmp(m, "Check")) {
				CHECK_EQ_INT(json_integer_value(json_object_get(o, "status-code")),
					     0);
				CHECK_EQ_STR(json_string_value(json_object_get(o, "status")), "OK");
			} else {
				CHECK_EQ_STR(m, "Nope");
				CHECK_EQ_INT(json_integer_value(json_object_get(o, "status-code")),
					     12);
			}
		}
		json_decref(o);
		p = e + 1;
	}
	CHECK_EQ_INT(spans, 2);
	ttrpc_client_free(cl);
	ttrpc_server_free(srv);
	loop_free(l);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return tap_run();
}
