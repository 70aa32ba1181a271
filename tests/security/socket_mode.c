/* SPDX-License-Identifier: Apache-2.0 */
/*
 * socket_mode.c - attack: reach a stand-alone agent's unix socket as
 * another user (issue 10).
 *
 * bind(2) makes a filesystem socket 0777 & ~umask, and connecting needs
 * only write permission on it: an agent started under a permissive umask
 * (000) used to leave its socket open to every local user. The agent runs
 * here under umask 000; the socket must be 0600 and owned by root, and an
 * unprivileged process (uid/gid 65534) in a directory it may traverse must
 * fail to connect, while root is still served.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_harness.h"
#include "tap.h"

static struct agent ag;
static bool started;

TEST(agent_started_under_umask_000)
{
	mode_t old = umask(0);
	struct agent_opts o = { 0 };
	int r = agent_start(&ag, &o);
	umask(old);
	REQUIRE(r == 0);
	started = true;
}

TEST(socket_is_0600_and_root_owned)
{
	REQUIRE(started);
	struct stat st;
	REQUIRE(lstat(ag.sock, &st) == 0);
	printf("# %s: mode %04o uid %u\n", ag.sock, st.st_mode & 07777, st.st_uid);
	CHECK(S_ISSOCK(st.st_mode));
	CHECK_EQ_INT(st.st_mode & 07777, 0600);
	CHECK_EQ_INT(st.st_uid, 0);
}

/* connect(2) as uid/gid 65534: the errno, or 0 when it got through. */
static int connect_as_nobody(const char *path)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(100);
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0)
			_exit(101);
		_exit(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? (errno & 0x7f) : 0);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

TEST(another_user_cannot_connect)
{
	REQUIRE(started);
	/* let the user reach the socket: only its own mode stands in the way */
	REQUIRE(chmod(ag.dir, 0755) == 0);
	int r = connect_as_nobody(ag.sock);
	printf("# connect as 65534: %s\n", r > 0 && r < 100 ? strerror(r)
					   : r              ? "setup failed"
							    : "connected");
	CHECK_EQ_INT(r, EACCES);
}

TEST(root_is_still_served)
{
	REQUIRE(started);
	CHECK_EQ_INT(agent_health(&ag), 0);
	agent_cleanup(&ag);
}

int main(void)
{
	return tap_run();
}
