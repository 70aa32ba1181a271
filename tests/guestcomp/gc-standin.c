/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gc-standin.c - a stand-in guest component for tests (never installed),
 * installed under the names the agent launches: attestation-agent,
 * confidential-data-hub, api-server-rest. It records how it was started
 * and then behaves as its name and its mode say.
 *
 * Records (in $GC_STANDIN_DIR, default /tmp/gc-standin):
 *   NAME.record  "argv ARG" per argument, "env NAME=VALUE" per variable,
 *                "uid R E S", "gid R E S", "capeff HEX", "fd N TARGET" per
 *                open fd, "ppid N"
 *   events       one line appended per event, in the order they happen
 *                across the stand-ins: "NAME start", "NAME listening PATH",
 *                "NAME exit N", "NAME sigterm"
 *
 * Socket: attestation-agent: --attestation_sock unix://PATH (as the real
 * one); confidential-data-hub: `socket` of the -c config file, else
 * unix:///run/confidential-containers/cdh.sock (as the real one);
 * api-server-rest: none. The directory is made when missing.
 *
 * Mode: $GC_STANDIN_AA, $GC_STANDIN_CDH, $GC_STANDIN_API (by name):
 *   listen (default)  create the socket at once
 *   delay:MS          create it after MS milliseconds
 *   never             run, never create it
 *   exit:N            exit with status N at start
 *   die:MS            create it, then exit with status 7 after MS ms
 * Then it runs until SIGTERM (recorded), accepting and closing connections.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char dir[PATH_MAX / 2];
static const char *name;

static void event(const char *fmt, const char *arg)
{
	char path[PATH_MAX], line[PATH_MAX];
	snprintf(path, sizeof(path), "%s/events", dir);
	int n = snprintf(line, sizeof(line), "%s ", name);
	n += snprintf(line + n, sizeof(line) - (size_t)n, fmt, arg);
	n += snprintf(line + n, sizeof(line) - (size_t)n, "\n");
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write(fd, line, (size_t)n) != n)
			perror("gc-standin: events");
		close(fd);
	}
}

static void status_line(FILE *out, const char *key, const char *as)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0) {
			char a[32] = "", b[32] = "", c[32] = "";
			sscanf(line + strlen(key), "%31s %31s %31s", a, b, c);
			fprintf(out, "%s %s%s%s%s%s\n", as, a, *b ? " " : "", b, *c ? " " : "", c);
		}
	if (f)
		fclose(f);
}

static void record(int argc, char **argv)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s.record", dir, name);
	/* the fds first, before this function opens any */
	char fds[4096] = "";
	size_t used = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char link[PATH_MAX], target[PATH_MAX] = "";
		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		used += (size_t)snprintf(fds + used, sizeof(fds) - used, "fd %s %s\n", e->d_name,
					 target);
		if (used >= sizeof(fds))
			break;
	}
	if (d)
		closedir(d);
	FILE *out = fopen(path, "we");
	if (!out) {
		perror("gc-standin: record");
		return;
	}
	for (int i = 0; i < argc; i++)
		fprintf(out, "argv %s\n", argv[i]);
	for (char **v = environ; *v; v++)
		fprintf(out, "env %s\n", *v);
	status_line(out, "Uid:", "uid");
	status_line(out, "Gid:", "gid");
	status_line(out, "CapEff:", "capeff");
	fputs(fds, out);
	fprintf(out, "ppid %d\n", (int)getppid());
	fclose(out);
}

/* `socket = '...'` or "..." of a CDH config file */
static const char *config_socket(const char *config, char *buf, size_t len)
{
	FILE *f = fopen(config, "re");
	char line[PATH_MAX];
	const char *found = NULL;
	while (f && !found && fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");
		if (strncmp(p, "socket", 6) != 0)
			continue;
		p = strpbrk(p, "'\"");
		char *q = p ? strchr(p + 1, *p) : NULL;
		if (q) {
			*q = '\0';
			snprintf(buf, len, "%s", p + 1);
			found = buf;
		}
	}
	if (f)
		fclose(f);
	return found;
}

static const char *socket_path(int argc, char **argv, char *buf, size_t len)
{
	const char *uri = NULL;
	for (int i = 1; i + 1 < argc; i++) {
		if (strcmp(name, "attestation-agent") == 0 &&
		    strcmp(argv[i], "--attestation_sock") == 0)
			uri = argv[i + 1];
		if (strcmp(name, "confidential-data-hub") == 0 && strcmp(argv[i], "-c") == 0)
			uri = config_socket(argv[i + 1], buf, len);
	}
	if (!uri && strcmp(name, "confidential-data-hub") == 0)
		uri = "unix:///run/confidential-containers/cdh.sock";
	if (!uri)
		return NULL;
	return strncmp(uri, "unix://", 7) == 0 ? uri + 7 : uri;
}

static int listen_at(const char *path)
{
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", path);
	for (char *s = strchr(parent + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(parent, 0755);
		*s = '/';
	}
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path))
		return -1;
	strcpy(a.sun_path, path);
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0) {
		perror("gc-standin: listen");
		return -1;
	}
	return fd;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static volatile sig_atomic_t terminated;
static void on_term(int sig)
{
	terminated = 1;
}

static const char *mode_of(void)
{
	const char *var = strcmp(name, "attestation-agent") == 0       ? "GC_STANDIN_AA"
			  : strcmp(name, "confidential-data-hub") == 0 ? "GC_STANDIN_CDH"
								       : "GC_STANDIN_API";
	const char *m = getenv(var);
	return m && *m ? m : "listen";
}

int main(int argc, char **argv)
{
	const char *slash = strrchr(argv[0], '/');
	name = slash ? slash + 1 : argv[0];
	const char *d = getenv("GC_STANDIN_DIR");
	snprintf(dir, sizeof(dir), "%s", d && *d ? d : "/tmp/gc-standin");
	mkdir(dir, 0755);
	record(argc, argv);
	event("start%s", "");
	const char *mode = mode_of();
	if (strncmp(mode, "exit:", 5) == 0) {
		event("exit %s", mode + 5);
		return atoi(mode + 5);
	}
	struct sigaction sa = { .sa_handler = on_term };
	sigaction(SIGTERM, &sa, NULL);
	char buf[PATH_MAX];
	const char *sock = socket_path(argc, argv, buf, sizeof(buf));
	long die_ms = strncmp(mode, "die:", 4) == 0 ? atol(mode + 4) : -1;
	if (strncmp(mode, "delay:", 6) == 0)
		sleep_ms(atol(mode + 6));
	int lfd = -1;
	if (sock && strcmp(mode, "never") != 0) {
		lfd = listen_at(sock);
		if (lfd < 0)
			return 1;
		event("listening %s", sock);
	}
	if (die_ms >= 0) {
		sleep_ms(die_ms);
		event("exit %s", "7");
		return 7;
	}
	while (!terminated) {
		if (lfd < 0) {
			pause();
			continue;
		}
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0)
			close(c);
	}
	event("sigterm%s", "");
	return 0;
}
