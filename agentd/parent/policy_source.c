/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_source.c - the agent policy in force at start (policy_source.h).
 */
#include "policy_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "digest.h"

int policy_source_set(struct policy_source *s, const char *source, const char *text, size_t len,
		      struct kerr *err)
{
	if (len == 0 || len > IPC_POLICY_TEXT_MAX)
		return kerr_set(err, -EFBIG, "policy %s: %zu bytes (1..%u)", source, len,
				IPC_POLICY_TEXT_MAX);
	struct ipc_policy_text h;
	memset(&h, 0, sizeof(h));
	snprintf(h.source, sizeof(h.source), "%s", source);
	char *msg = malloc(sizeof(h) + len);
	if (!msg)
		return kerr_set(err, -ENOMEM, "policy %s: out of memory", source);
	memcpy(msg, &h, sizeof(h));
	memcpy(msg + sizeof(h), text, len);
	policy_source_free(s);
	digest_sha256_hex(text, len, s->sha256);
	s->msg = msg;
	s->msg_len = sizeof(h) + len;
	return 0;
}

/* The whole of fd (a file, or initdata's sealed memfd, from offset 0). */
static int read_fd(struct policy_source *s, int fd, const char *path, struct kerr *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return kerr_set(err, -EINVAL, "policy file %s: not a regular file", path);
	if (st.st_size <= 0 || st.st_size > IPC_POLICY_TEXT_MAX)
		return kerr_set(err, -EFBIG, "policy file %s: %lld bytes (1..%u)", path,
				(long long)st.st_size, IPC_POLICY_TEXT_MAX);
	size_t len = (size_t)st.st_size, got = 0;
	cleanup_free char *text = malloc(len);
	if (!text)
		return kerr_set(err, -ENOMEM, "policy file %s: out of memory", path);
	while (got < len) {
		ssize_t r = pread(fd, text + got, len - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return kerr_set(err, r < 0 ? -errno : -EIO, "policy file %s: short read",
					path);
		got += (size_t)r;
	}
	return policy_source_set(s, path, text, len, err);
}

static int read_file(struct policy_source *s, const char *path, struct kerr *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kerr_set(err, -errno, "policy file %s: %s", path, strerror(errno));
	return read_fd(s, fd, path, err);
}

int policy_source_initdata(struct policy_source *s, int fd, struct kerr *err)
{
	return read_fd(s, fd, "initdata", err);
}

int policy_source_read(struct policy_source *s, const struct agent_options *o, struct kerr *err)
{
	memset(s, 0, sizeof(*s));
	if (o->policy_file)
		return read_file(s, o->policy_file, err);
	if (access(POLICY_DEFAULT_FILE, F_OK) == 0)
		return read_file(s, POLICY_DEFAULT_FILE, err);
	return 0;
}

json_t *policy_source_json(const struct policy_source *s)
{
	if (!s->msg_len)
		return json_string("none (every request allowed)");
	const struct ipc_policy_text *h = (const struct ipc_policy_text *)s->msg;
	return json_pack("{s:s,s:s,s:I}", "source", h->source, "sha256", s->sha256, "bytes",
			 (json_int_t)(s->msg_len - sizeof(*h)));
}

void policy_source_free(struct policy_source *s)
{
	free(s->msg);
	s->msg = NULL;
	s->msg_len = 0;
	s->sha256[0] = '\0';
}
