/* SPDX-License-Identifier: Apache-2.0 */
/*
 * passfd_probe.c - run inside a container whose stdout is the host's
 * fd-passthrough stream (tests/integration/containers/passfd.sh builds it
 * static into the bundle): what can a container process do with that
 * socket? It writes one "name=result" line per attempt to its stdout (the
 * stream itself), then "probe-done", then waits to be killed, holding the
 * stream, so the test can look for other holders of the socket.
 *
 *   fd1     what /proc/self/fd/1 links to (socket:[INODE])
 *   fds     the fds it holds, its own /proc/self/fd directory left out
 *   connect connect(1) to a listener that exists (its own, on a unix
 *           stream; the host's CID over vsock): refused (EISCONN, or
 *           ECONNREFUSED where the kernel looks at the target first)
 *   peer    whether getpeername(1) is the same after: it stays the host's
 *           connection
 *   accept  accept(1): EINVAL (not a listener)
 *   listen  listen(1): EINVAL (a connected stream cannot listen)
 *   open    open("/proc/self/fd/1"): ENXIO, as for any socket (the known
 *           cost of a socket as stdout: doc/architecture.md)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>
#include <unistd.h>

static const char *err_name(int r)
{
	if (r == 0)
		return "OK";
	switch (errno) {
	case EISCONN:
		return "EISCONN";
	case ECONNREFUSED:
		return "ECONNREFUSED";
	case EINVAL:
		return "EINVAL";
	case ENXIO:
		return "ENXIO";
	case EOPNOTSUPP:
		return "EOPNOTSUPP";
	default:
		return strerrorname_np(errno) ? strerrorname_np(errno) : "E?";
	}
}

int main(void)
{
	char target[256] = "";
	ssize_t n = readlink("/proc/self/fd/1", target, sizeof(target) - 1);
	printf("fd1=%s\n", n > 0 ? target : "?");

	char fds[512] = "";
	DIR *d = opendir("/proc/self/fd");
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		size_t l = strlen(fds);
		snprintf(fds + l, sizeof(fds) - l, "%s%s", l ? "," : "", e->d_name);
	}
	if (d)
		closedir(d);
	printf("fds=%s\n", fds);

	struct sockaddr_storage before, after;
	socklen_t blen = sizeof(before), alen = sizeof(after);
	memset(&before, 0, sizeof(before));
	memset(&after, 0, sizeof(after));
	getpeername(1, (struct sockaddr *)&before, &blen);
	int family = 0;
	socklen_t flen = sizeof(family);
	getsockopt(1, SOL_SOCKET, SO_DOMAIN, &family, &flen);
	if (family == AF_VSOCK) {
		struct sockaddr_vm vm = { .svm_family = AF_VSOCK,
					  .svm_cid = VMADDR_CID_HOST,
					  .svm_port = 1024 };
		printf("connect=%s\n", err_name(connect(1, (struct sockaddr *)&vm, sizeof(vm))));
	} else {
		/* a name that exists, so the kernel gets as far as our state */
		struct sockaddr_un un = { .sun_family = AF_UNIX };
		socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1 +
				(socklen_t)snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1,
						    "passfd-probe-%d", (int)getpid());
		int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (l < 0 || bind(l, (struct sockaddr *)&un, len) < 0 || listen(l, 1) < 0)
			printf("connect=no-listener\n");
		else
			printf("connect=%s\n", err_name(connect(1, (struct sockaddr *)&un, len)));
		if (l >= 0)
			close(l);
	}
	getpeername(1, (struct sockaddr *)&after, &alen);
	printf("peer=%s\n",
	       blen == alen && !memcmp(&before, &after, blen) ? "unchanged" : "changed");
	printf("accept=%s\n", err_name(accept(1, NULL, NULL)));
	printf("listen=%s\n", err_name(listen(1, 1)));
	int fd = open("/proc/self/fd/1", O_WRONLY);
	printf("open=%s\n", err_name(fd < 0 ? -1 : 0));
	printf("probe-done\n");
	fflush(stdout);
	for (;;)
		pause();
}
