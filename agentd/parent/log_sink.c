/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log_sink.c - see log_sink.h. The sink never logs: every line it would log
 * would come back into its own queue (log_set_writer), possibly while the
 * queue is being changed. What it has to say goes into the drop notice.
 */
#include "log_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"

struct line {
	struct line *next;
	size_t len, off; /* off: bytes already sent to the current reader */
	uint64_t notice; /* a drop notice: the count it reports, else 0 */
	char data[];
};

struct log_sink {
	struct loop *loop;
	int listen_fd;
	int pipe_r, pipe_w;
	int conn; /* the reader, -1 when none */
	uint32_t conn_events;
	struct line *head, *tail;
	size_t queued, max;
	uint64_t dropped;     /* total */
	uint64_t to_announce; /* dropped since the last notice */
	char *part;           /* an incomplete line read from the pipe */
	size_t part_len;
};

static void free_line_list(struct line *l)
{
	while (l) {
		struct line *n = l->next;
		free(l);
		l = n;
	}
}

/* Unlink prev->next (or the head when prev is NULL). */
static void unlink_after(struct log_sink *s, struct line *prev)
{
	struct line *v = prev ? prev->next : s->head;
	if (prev)
		prev->next = v->next;
	else
		s->head = v->next;
	if (s->tail == v)
		s->tail = prev;
	s->queued -= v->len;
	free(v);
}

/* Make room for n more bytes by dropping the oldest lines nobody has
 * started to read; a line half sent stays, or the reader would get half
 * a line. The gap is then always right after what was sent, which is where
 * the notice goes (flush). */
static void make_room(struct log_sink *s, size_t n)
{
	while (s->head && s->queued + n > s->max) {
		struct line *prev = s->head->off ? s->head : NULL;
		if (prev && !prev->next)
			break;
		struct line *v = prev ? prev->next : s->head;
		/* An unsent notice dropped in turn hands its count on. */
		uint64_t lost = v->notice ? v->notice : 1;
		if (!v->notice)
			s->dropped++;
		s->to_announce += lost;
		unlink_after(s, prev);
	}
}

static struct line *new_line(const char *data, size_t len)
{
	bool nl = len && data[len - 1] == '\n';
	struct line *l = malloc(sizeof(*l) + len + (nl ? 0 : 1));
	if (!l)
		return NULL;
	l->next = NULL;
	l->off = 0;
	l->notice = 0;
	memcpy(l->data, data, len);
	if (!nl)
		l->data[len++] = '\n';
	l->len = len;
	return l;
}

static void push_line(struct log_sink *s, struct line *l)
{
	if (s->tail)
		s->tail->next = l;
	else
		s->head = l;
	s->tail = l;
	s->queued += l->len;
}

static struct line *notice_line(uint64_t n)
{
	struct timespec ts;
	struct tm tm;
	char tsbuf[64], msg[160], pid[24];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t k = strftime(tsbuf, sizeof(tsbuf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(tsbuf + k, sizeof(tsbuf) - k, ".%09ldZ", ts.tv_nsec);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(msg, sizeof(msg),
		 "%llu log lines dropped here: more than %u KiB queued with no reader "
		 "keeping up",
		 (unsigned long long)n, LOG_SINK_MAX_BYTES >> 10);
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "msg", msg, "level", "WARN",
			      "ts", tsbuf, "pid", pid, "subsystem", "log-sink", "name",
			      "kata-agent", "source", "agent", "version", KATA_AGENT_VERSION,
			      "dropped-lines", (json_int_t)n);
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	if (!text)
		return NULL;
	struct line *l = new_line(text, strlen(text));
	free(text);
	if (l)
		l->notice = n;
	return l;
}

static void conn_drop(struct log_sink *s)
{
	if (s->conn < 0)
		return;
	if (s->loop)
		loop_del(s->loop, s->conn);
	close(s->conn);
	s->conn = -1;
	/* The next reader gets the interrupted line whole, from its start. */
	if (s->head)
		s->head->off = 0;
	struct kerr err;
	if (s->loop)
		loop_mod(s->loop, s->listen_fd, EPOLLIN, &err);
}

static void conn_want(struct log_sink *s, uint32_t ev)
{
	struct kerr err;
	if (s->conn >= 0 && ev != s->conn_events && loop_mod(s->loop, s->conn, ev, &err) == 0)
		s->conn_events = ev;
}

static void flush(struct log_sink *s)
{
	if (s->conn < 0)
		return;
	for (;;) {
		if (s->to_announce && (!s->head || !s->head->off)) {
			struct line *n = notice_line(s->to_announce);
			if (n) {
				n->next = s->head;
				s->head = n;
				if (!s->tail)
					s->tail = n;
				s->queued += n->len;
				s->to_announce = 0;
			}
		}
		struct line *l = s->head;
		if (!l)
			break;
		ssize_t w = send(s->conn, l->data + l->off, l->len - l->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			conn_want(s, EPOLLIN | EPOLLRDHUP | EPOLLOUT);
			return;
		}
		if (w < 0) {
			conn_drop(s);
			return;
		}
		l->off += (size_t)w;
		if (l->off == l->len)
			unlink_after(s, NULL);
	}
	conn_want(s, EPOLLIN | EPOLLRDHUP);
}

void log_sink_write(const char *data, size_t len, void *sink)
{
	struct log_sink *s = sink;
	if (!len)
		return;
	if (len > LOG_SINK_MAX_LINE)
		len = LOG_SINK_MAX_LINE;
	struct line *l = new_line(data, len);
	if (!l) {
		s->dropped++;
		s->to_announce++;
		return;
	}
	make_room(s, l->len);
	push_line(s, l);
	flush(s);
}

/* ---- loop callbacks ---- */

static void on_conn(struct loop *l, int fd, uint32_t events, void *data)
{
	struct log_sink *s = data;
	if (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
		conn_drop(s);
		return;
	}
	if (events & EPOLLIN) {
		/* A reader has nothing to say; what it sends is discarded, and
		 * its end of stream ends the session. */
		char buf[256];
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_drop(s);
			return;
		}
	}
	if (events & EPOLLOUT)
		flush(s);
}

static void on_listen(struct loop *l, int fd, uint32_t events, void *data)
{
	struct log_sink *s = data;
	if (s->conn >= 0)
		return;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0)
		return;
	struct kerr err;
	if (loop_add(l, c, EPOLLIN | EPOLLRDHUP, on_conn, s, &err) < 0) {
		close(c);
		return;
	}
	s->conn = c;
	s->conn_events = EPOLLIN | EPOLLRDHUP;
	/* One reader at a time: the next one waits in the backlog. */
	loop_mod(l, fd, 0, &err);
	flush(s);
}

static void on_pipe(struct loop *l, int fd, uint32_t events, void *data)
{
	struct log_sink *s = data;
	for (int round = 0; round < 64; round++) {
		ssize_t n = read(fd, s->part + s->part_len, LOG_SINK_MAX_LINE - s->part_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* EAGAIN; EOF cannot happen: the sink holds a write end */
		s->part_len += (size_t)n;
		size_t start = 0;
		for (size_t i = s->part_len - (size_t)n; i < s->part_len; i++) {
			if (s->part[i] == '\n') {
				log_sink_write(s->part + start, i + 1 - start, s);
				start = i + 1;
			}
		}
		if (start == 0 && s->part_len == LOG_SINK_MAX_LINE) {
			/* no newline in a whole buffer: cut it into a line of its own */
			log_sink_write(s->part, s->part_len, s);
			start = s->part_len;
		}
		memmove(s->part, s->part + start, s->part_len - start);
		s->part_len -= start;
	}
}

/* ---- public ---- */

int log_sink_new(struct log_sink **out, int listen_fd, size_t max_bytes, struct kerr *err)
{
	struct log_sink *s = calloc(1, sizeof(*s));
	int p[2];
	if (!s) {
		close(listen_fd);
		return kerr_set(err, -ENOMEM, "log sink: out of memory");
	}
	s->listen_fd = listen_fd;
	s->conn = -1;
	s->pipe_r = s->pipe_w = -1;
	s->max = max_bytes ? max_bytes : LOG_SINK_MAX_BYTES;
	s->part = malloc(LOG_SINK_MAX_LINE);
	if (!s->part) {
		log_sink_free(s);
		return kerr_set(err, -ENOMEM, "log sink: out of memory");
	}
	/* The read end is ours alone; the write end is inherited as stderr
	 * (dup2 clears close-on-exec on the copy). */
	if (pipe2(p, O_CLOEXEC) < 0) {
		int e = errno;
		log_sink_free(s);
		return kerr_set(err, -e, "log sink: pipe: %s", strerror(e));
	}
	s->pipe_r = p[0];
	s->pipe_w = p[1];
	int fl = fcntl(s->pipe_r, F_GETFL);
	int lfl = fcntl(listen_fd, F_GETFL);
	if (fl < 0 || fcntl(s->pipe_r, F_SETFL, fl | O_NONBLOCK) < 0 || lfl < 0 ||
	    fcntl(listen_fd, F_SETFL, lfl | O_NONBLOCK) < 0) {
		int e = errno;
		log_sink_free(s);
		return kerr_set(err, -e, "log sink: O_NONBLOCK: %s", strerror(e));
	}
	*out = s;
	return 0;
}

int log_sink_attach(struct log_sink *s, struct loop *l, struct kerr *err)
{
	s->loop = l;
	if (loop_add(l, s->pipe_r, EPOLLIN, on_pipe, s, err) < 0)
		return kerr_prefix(err, "log sink");
	if (loop_add(l, s->listen_fd, EPOLLIN, on_listen, s, err) < 0) {
		loop_del(l, s->pipe_r);
		return kerr_prefix(err, "log sink");
	}
	return 0;
}

int log_sink_child_fd(const struct log_sink *s)
{
	return s->pipe_w;
}

uint64_t log_sink_dropped(const struct log_sink *s)
{
	return s->dropped;
}

size_t log_sink_queued(const struct log_sink *s)
{
	return s->queued;
}

void log_sink_free(struct log_sink *s)
{
	if (!s)
		return;
	if (s->loop) {
		loop_del(s->loop, s->pipe_r);
		loop_del(s->loop, s->listen_fd);
	}
	if (s->conn >= 0) {
		if (s->loop)
			loop_del(s->loop, s->conn);
		close(s->conn);
	}
	if (s->pipe_r >= 0)
		close(s->pipe_r);
	if (s->pipe_w >= 0)
		close(s->pipe_w);
	close(s->listen_fd);
	free_line_list(s->head);
	free(s->part);
	free(s);
}
