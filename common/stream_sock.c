/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "grpc_status.h"
#include "stream_sock.h"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static const char *family_name(int f)
{
	return f == AF_VSOCK ? "vsock" : f == AF_UNIX ? "unix" : "vsock or unix";
}

static int opt(int fd, int name, int *v)
{
	socklen_t len = sizeof(*v);
	return getsockopt(fd, SOL_SOCKET, name, v, &len);
}

int stream_sock_check(int fd, int family, struct kerr *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -errno, "the stream: fstat: %s",
				       strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -ENOTSOCK,
				       "the stream is not a socket (file mode 0%o)",
				       (unsigned)(st.st_mode & S_IFMT));
	int type = 0, domain = 0, listening = 1;
	if (opt(fd, SO_TYPE, &type) < 0 || opt(fd, SO_DOMAIN, &domain) < 0 ||
	    opt(fd, SO_ACCEPTCONN, &listening) < 0)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -errno,
				       "the stream's socket options: %s", strerror(errno));
	bool family_ok = family ? domain == family : domain == AF_VSOCK || domain == AF_UNIX;
	if (type != SOCK_STREAM || !family_ok || listening)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EPROTOTYPE,
				       "the stream is not a connected %s stream socket "
				       "(type %d, family %d%s)",
				       family_name(family), type, domain,
				       listening ? ", listening" : "");
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -errno,
				       "the stream is not connected: %s", strerror(errno));
	return 0;
}
