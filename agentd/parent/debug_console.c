/* SPDX-License-Identifier: Apache-2.0 */
/*
 * debug_console.c - see debug_console.h.
 *
 * A session lives until both its I/O has ended and its shell was reaped, so
 * a late SIGCHLD still finds it, and no pid of ours is mistaken for an
 * orphan.
 */
#include "debug_console.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "libc_compat.h"
#include "log.h"
#include "loop.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

struct session {
	struct debug_console *dc;
	struct session *next;
	unsigned id;
	pid_t pid;
	bool reaped, ended;
	int conn, master; /* -1 once closed */
	bool conn_eof, master_eof;
	uint32_t conn_ev, master_ev;
	size_t to_pty_len, to_conn_len;
	uint8_t to_pty[DEBUG_CONSOLE_BUF];  /* from the connection */
	uint8_t to_conn[DEBUG_CONSOLE_BUF]; /* from the shell */
};

struct debug_console {
	struct loop *loop;
	int listen_fd; /* -1 in serial mode */
	char shell[256];
	struct session *sessions;
	unsigned next_id, open;
	pid_t serial_pid;
};

int debug_console_find_shell(char *out, size_t len, struct kerr *err)
{
	static const char *const shells[] = { "/bin/bash", "/bin/sh" };
	for (size_t i = 0; i < sizeof(shells) / sizeof(shells[0]); i++) {
		struct stat st;
		if (stat(shells[i], &st) == 0 && S_ISREG(st.st_mode) &&
		    access(shells[i], X_OK) == 0) {
			snprintf(out, len, "%s", shells[i]);
			return 0;
		}
	}
	return kerr_set(err, -ENOENT,
			"no shell found to launch the debug console "
			"(tried /bin/bash, /bin/sh)");
}

/* In the child: a new session on tty (made the controlling terminal when it
 * can be), tty as stdio, everything else closed, then the shell. */
static void __attribute__((noreturn)) execve_shell(int tty, const char *shell, bool interactive)
{
	loop_signals_unblock();
	/* The parent ignores SIGPIPE, and ignored signals survive exec. */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	if (setsid() < 0)
		_exit(126);
	/* Without force: on the console this fails while PID 1's session holds
	 * it, and the shell simply runs without job control (as upstream). */
	(void)ioctl(tty, TIOCSCTTY, 0);
	if (dup2(tty, 0) < 0 || dup2(tty, 1) < 0 || dup2(tty, 2) < 0)
		_exit(126);
	close_range(3, ~0U, 0);
	char *argv[] = { (char *)shell, interactive ? (char *)"-i" : NULL, NULL };
	execv(shell, argv);
	dprintf(2, "debug console: exec %s: %s\n", shell, strerror(errno));
	_exit(127);
}

/* ---- sessions ---- */

static void session_update(struct session *s);

static void session_end(struct session *s, const char *why)
{
	if (s->ended)
		return;
	s->ended = true;
	struct loop *l = s->dc->loop;
	if (s->conn >= 0) {
		loop_del(l, s->conn);
		close(s->conn);
		s->conn = -1;
	}
	if (s->master >= 0) {
		/* Closing the master hangs the terminal up: the shell's session
		 * gets SIGHUP. */
		loop_del(l, s->master);
		close(s->master);
		s->master = -1;
	}
	if (!s->reaped && s->pid > 0)
		kill(s->pid, SIGKILL);
	s->dc->open--;
	json_t *f = json_pack("{s:i,s:i}", "session", (int)s->id, "shell-pid", (int)s->pid);
	log_fields(LOG_LVL_INFO, f, "debug console session %u ended: %s", s->id, why);
}

static void session_free_if_done(struct session *s)
{
	if (!s->ended || !s->reaped)
		return;
	struct session **pp = &s->dc->sessions;
	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	free(s);
}

static void set_events(struct session *s, int fd, uint32_t *cur, uint32_t want)
{
	struct kerr err;
	if (fd >= 0 && want != *cur && loop_mod(s->dc->loop, fd, want, &err) == 0)
		*cur = want;
}

static void session_update(struct session *s)
{
	if (s->ended)
		return;
	/* The shell is gone and everything it wrote was delivered. */
	if (s->master_eof && !s->to_conn_len) {
		session_end(s, "the shell closed its terminal");
		session_free_if_done(s);
		return;
	}
	uint32_t c = EPOLLRDHUP, m = 0;
	if (!s->conn_eof && s->to_pty_len < DEBUG_CONSOLE_BUF)
		c |= EPOLLIN;
	if (s->to_conn_len)
		c |= EPOLLOUT;
	if (!s->master_eof && s->to_conn_len < DEBUG_CONSOLE_BUF)
		m |= EPOLLIN;
	if (s->to_pty_len)
		m |= EPOLLOUT;
	set_events(s, s->conn, &s->conn_ev, c);
	if (!s->master_eof)
		set_events(s, s->master, &s->master_ev, m);
}

static void master_gone(struct session *s)
{
	s->master_eof = true;
	s->to_pty_len = 0;
	/* Keep the fd (closing it would hang up a shell that may linger) but
	 * stop watching it: a pty master with no slave reports HUP forever. */
	loop_del(s->dc->loop, s->master);
	s->master_ev = 0;
}

static void on_master(struct loop *l, int fd, uint32_t events, void *data)
{
	struct session *s = data;
	if (s->ended || s->master_eof)
		return;
	if (events & EPOLLOUT) {
		ssize_t w = write(fd, s->to_pty, s->to_pty_len);
		if (w > 0) {
			memmove(s->to_pty, s->to_pty + w, s->to_pty_len - (size_t)w);
			s->to_pty_len -= (size_t)w;
		} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
			master_gone(s);
		}
	}
	if (!s->master_eof && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		size_t room = DEBUG_CONSOLE_BUF - s->to_conn_len;
		ssize_t n = room ? read(fd, s->to_conn + s->to_conn_len, room) : 0;
		if (n > 0)
			s->to_conn_len += (size_t)n;
		else if (room && (n == 0 || (errno != EAGAIN && errno != EINTR)))
			master_gone(s); /* EIO: the last slave fd closed */
	}
	session_update(s);
}

static void on_conn(struct loop *l, int fd, uint32_t events, void *data)
{
	struct session *s = data;
	if (s->ended)
		return;
	if (events & EPOLLOUT) {
		ssize_t w = send(fd, s->to_conn, s->to_conn_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			memmove(s->to_conn, s->to_conn + w, s->to_conn_len - (size_t)w);
			s->to_conn_len -= (size_t)w;
		} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
			session_end(s, "the connection failed");
			session_free_if_done(s);
			return;
		}
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		size_t room = DEBUG_CONSOLE_BUF - s->to_pty_len;
		ssize_t n = room ? recv(fd, s->to_pty + s->to_pty_len, room, MSG_DONTWAIT) : -1;
		if (n > 0) {
			s->to_pty_len += (size_t)n;
		} else if (n == 0 || (room && errno != EAGAIN && errno != EINTR) ||
			   (events & (EPOLLHUP | EPOLLERR))) {
			/* The client left: the shell goes too (upstream kills it). */
			s->conn_eof = true;
			session_end(s, "the client closed the connection");
			session_free_if_done(s);
			return;
		}
	}
	session_update(s);
}

static int open_pty(int *master, int *slave, struct kerr *err)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return kerr_set(err, -errno, "debug console: open /dev/ptmx: %s", strerror(errno));
	if (unlockpt(m) < 0) {
		int e = errno;
		close(m);
		return kerr_set(err, -e, "debug console: unlockpt: %s", strerror(e));
	}
	/* The peer by fd, not by name: no window for another pts to appear
	 * under the name (kernel >= 4.13); by name otherwise. */
	int sl = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (sl < 0) {
		char name[64];
		if (ptsname_r(m, name, sizeof(name)) == 0)
			sl = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	}
	if (sl < 0) {
		int e = errno;
		close(m);
		return kerr_set(err, -e, "debug console: open the pty slave: %s", strerror(e));
	}
	int fl = fcntl(m, F_GETFL);
	if (fl < 0 || fcntl(m, F_SETFL, fl | O_NONBLOCK) < 0) {
		int e = errno;
		close(m);
		close(sl);
		return kerr_set(err, -e, "debug console: O_NONBLOCK: %s", strerror(e));
	}
	*master = m;
	*slave = sl;
	return 0;
}

static void start_session(struct debug_console *dc, int conn)
{
	struct kerr err = { 0 };
	int master = -1, slave = -1;
	if (open_pty(&master, &slave, &err) < 0) {
		log_error("%s", err.msg);
		close(conn);
		return;
	}
	struct session *s = calloc(1, sizeof(*s));
	if (!s) {
		log_error("debug console: out of memory for a session");
		close(master);
		close(slave);
		close(conn);
		return;
	}
	s->dc = dc;
	s->id = ++dc->next_id;
	s->conn = conn;
	s->master = master;
	pid_t pid = fork();
	if (pid == 0)
		execve_shell(slave, dc->shell, false);
	int fork_errno = errno;
	close(slave);
	if (pid < 0) {
		log_error("debug console: fork: %s", strerror(fork_errno));
		close(master);
		close(conn);
		free(s);
		return;
	}
	s->pid = pid;
	s->next = dc->sessions;
	dc->sessions = s;
	dc->open++;
	s->conn_ev = EPOLLIN | EPOLLRDHUP;
	s->master_ev = EPOLLIN;
	if (loop_add(dc->loop, conn, s->conn_ev, on_conn, s, &err) < 0 ||
	    loop_add(dc->loop, master, s->master_ev, on_master, s, &err) < 0) {
		log_error("debug console: %s", err.msg);
		session_end(s, "cannot watch its descriptors");
		return;
	}
	json_t *f = json_pack("{s:i,s:i,s:s}", "session", (int)s->id, "shell-pid", (int)pid,
			      "shell", dc->shell);
	log_fields(LOG_LVL_WARN, f, "debug console session %u: root shell %s (pid %d) on a pty",
		   s->id, dc->shell, (int)pid);
}

static void on_listen(struct loop *l, int fd, uint32_t events, void *data)
{
	struct debug_console *dc = data;
	for (int i = 0; i < 16; i++) {
		int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("debug console: accept: %s", strerror(errno));
			return;
		}
		start_session(dc, c);
	}
}

/* ---- public ---- */

int debug_console_listen(struct debug_console **out, struct loop *l, int listen_fd,
			 const char *shell, struct kerr *err)
{
	struct debug_console *dc = calloc(1, sizeof(*dc));
	if (!dc) {
		close(listen_fd);
		return kerr_set(err, -ENOMEM, "debug console: out of memory");
	}
	dc->loop = l;
	dc->listen_fd = listen_fd;
	snprintf(dc->shell, sizeof(dc->shell), "%s", shell);
	int fl = fcntl(listen_fd, F_GETFL);
	if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int e = errno;
		close(listen_fd);
		free(dc);
		return kerr_set(err, -e, "debug console: O_NONBLOCK: %s", strerror(e));
	}
	if (loop_add(l, listen_fd, EPOLLIN, on_listen, dc, err) < 0) {
		close(listen_fd);
		free(dc);
		return kerr_prefix(err, "debug console");
	}
	*out = dc;
	return 0;
}

int debug_console_serial(struct debug_console **out, struct loop *l, const char *tty_path,
			 const char *shell, struct kerr *err)
{
	int tty = open(tty_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (tty < 0)
		return kerr_set(err, -errno, "debug console: open %s: %s", tty_path,
				strerror(errno));
	struct debug_console *dc = calloc(1, sizeof(*dc));
	if (!dc) {
		close(tty);
		return kerr_set(err, -ENOMEM, "debug console: out of memory");
	}
	dc->loop = l;
	dc->listen_fd = -1;
	snprintf(dc->shell, sizeof(dc->shell), "%s", shell);
	pid_t pid = fork();
	if (pid == 0)
		execve_shell(tty, dc->shell, true);
	int e = errno;
	close(tty);
	if (pid < 0) {
		free(dc);
		return kerr_set(err, -e, "debug console: fork: %s", strerror(e));
	}
	dc->serial_pid = pid;
	json_t *f = json_pack("{s:i,s:s,s:s}", "shell-pid", (int)pid, "shell", dc->shell, "tty",
			      tty_path);
	log_fields(LOG_LVL_WARN, f, "debug console: root shell %s (pid %d) on %s", dc->shell,
		   (int)pid, tty_path);
	*out = dc;
	return 0;
}

bool debug_console_reaped(struct debug_console *dc, pid_t pid, int status)
{
	if (!dc || pid <= 0)
		return false;
	if (pid == dc->serial_pid) {
		dc->serial_pid = 0;
		log_info("debug console: the shell on the console (pid %d) ended, wait status 0x%x",
			 (int)pid, status);
		return true;
	}
	for (struct session *s = dc->sessions; s; s = s->next) {
		if (s->pid != pid || s->reaped)
			continue;
		s->reaped = true;
		log_debug("debug console session %u: shell (pid %d) reaped, wait status 0x%x",
			  s->id, (int)pid, status);
		/* The output it left in the pty is still delivered first. */
		if (!s->ended && s->master_eof && !s->to_conn_len)
			session_update(s);
		session_free_if_done(s);
		return true;
	}
	return false;
}

unsigned debug_console_sessions(const struct debug_console *dc)
{
	return dc ? dc->open : 0;
}

void debug_console_free(struct debug_console *dc)
{
	if (!dc)
		return;
	if (dc->listen_fd >= 0) {
		loop_del(dc->loop, dc->listen_fd);
		close(dc->listen_fd);
	}
	if (dc->serial_pid > 0)
		kill(dc->serial_pid, SIGKILL);
	while (dc->sessions) {
		struct session *s = dc->sessions;
		session_end(s, "the agent is stopping");
		dc->sessions = s->next;
		free(s);
	}
	free(dc);
}
