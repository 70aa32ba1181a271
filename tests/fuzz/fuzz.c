/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz.c - see fuzz.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <jansson.h>

#include "err.h"
#include "fuzz.h"
#include "log.h"
#include "pbjson.h"

static const char *seed_dir;
static int seed_failures;

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "FUZZ INVARIANT BROKEN at %s:%d: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

void fuzz_seed(const char *name, const void *data, size_t len)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", seed_dir, name);
	FILE *f = fopen(p, "wb");
	if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
		perror(p);
		seed_failures++;
	}
}

void fuzz_seed_message(const char *name, const void *prefix, size_t prefix_len,
		       const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *b = malloc(prefix_len + n + 1);
	if (!b)
		abort();
	if (prefix_len)
		memcpy(b, prefix, prefix_len);
	protobuf_c_message_pack(m, b + prefix_len);
	fuzz_seed(name, b, prefix_len + n);
	free(b);
}

void fuzz_seed_texts(const struct fuzz_text_seed *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fuzz_seed(s[i].name, s[i].text, strlen(s[i].text));
}

uint8_t *fuzz_pack_json(const ProtobufCMessageDescriptor *d, const char *json, size_t *len)
{
	ProtobufCMessage *m = NULL;
	struct kerr err = { 0 };
	if (pbjson_from_string(d, json, &m, &err) < 0) {
		fprintf(stderr, "seed of %s does not convert: %s\n", d->name, err.msg);
		abort();
	}
	*len = protobuf_c_message_get_packed_size(m);
	uint8_t *b = malloc(*len + 1);
	if (!b)
		abort();
	protobuf_c_message_pack(m, b);
	protobuf_c_message_free_unpacked(m, NULL);
	return b;
}

/* Every log line of the agent is one JSON object and one line, whatever
 * hostile text went into it (log injection would forge lines). */
static void check_log_line(const char *line, size_t len, void *data)
{
	FUZZ_ASSERT(len > 1 && line[len - 1] == '\n', "log line not ending with a newline");
	FUZZ_ASSERT(!memchr(line, '\n', len - 1), "log line with an embedded newline: %.*s",
		    (int)len, line);
	json_error_t je;
	json_t *j = json_loadb(line, len - 1, 0, &je);
	FUZZ_ASSERT(j && json_is_object(j), "log line is not a JSON object (%s): %.*s", je.text,
		    (int)len, line);
	json_decref(j);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	bool print_funcs = false;
	for (int i = 1; i < *argc; i++) {
		const char *a = (*argv)[i];
		if (strncmp(a, "-write_seeds=", 13) == 0) {
			seed_dir = a + 13;
			fuzz_write_seeds();
			exit(seed_failures ? 1 : 0);
		}
		print_funcs |= strncmp(a, "-print_funcs=", 13) == 0;
	}
	/* libFuzzer starts a symbolizer (pipes, /dev/null) to print the
	 * functions new coverage reaches: fds that are not the code's would
	 * blur the targets' fd leak checks. Off unless asked for. */
	static char *args[256];
	if (!print_funcs && *argc < 255) {
		memcpy(args, *argv, sizeof(char *) * (size_t)*argc);
		args[(*argc)++] = "-print_funcs=0";
		args[*argc] = NULL;
		*argv = args;
	}
	const char *show = getenv("FUZZ_LOG");
	log_init("fuzz", STDERR_FILENO, LOG_LVL_DEBUG);
	if (!show || strcmp(show, "1") != 0)
		log_set_writer(check_log_line, NULL);
	return 0;
}

uint8_t fuzz_u8(struct fuzz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

uint16_t fuzz_u16(struct fuzz_in *in)
{
	return (uint16_t)(fuzz_u8(in) | fuzz_u8(in) << 8);
}

uint32_t fuzz_u32(struct fuzz_in *in)
{
	return (uint32_t)fuzz_u16(in) | (uint32_t)fuzz_u16(in) << 16;
}

const uint8_t *fuzz_bytes(struct fuzz_in *in, size_t max, size_t *len)
{
	size_t n = fuzz_u16(in);
	if (n > max)
		n = max;
	if (n > in->n)
		n = in->n;
	static const uint8_t none[1];
	*len = n;
	if (!n)
		return none; /* never NULL: callers memcpy from it */
	const uint8_t *p = in->p;
	in->p += n;
	in->n -= n;
	return p;
}

unsigned fuzz_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	FUZZ_ASSERT(d, "/proc/self/fd: %s", strerror(errno));
	unsigned n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

const char *fuzz_fd_list(void)
{
	static char buf[4096];
	size_t o = 0;
	buf[0] = '\0';
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return buf;
	for (struct dirent *e; (e = readdir(d)) && o + 256 < sizeof(buf);) {
		if (e->d_name[0] == '.')
			continue;
		char path[64], target[128];
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s=%s ", e->d_name, target);
	}
	closedir(d);
	return buf;
}

bool fuzz_read_avail(int fd, struct fuzz_buf *b)
{
	for (;;) {
		if (b->cap - b->len < 65536) {
			b->cap = b->cap * 2 + 65536;
			b->p = realloc(b->p, b->cap);
			FUZZ_ASSERT(b->p, "out of memory");
		}
		ssize_t n = recv(fd, b->p + b->len, b->cap - b->len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (n <= 0)
			return false;
		b->len += (size_t)n;
	}
}

int fuzz_listen(const char *name, struct sockaddr_un *sa, socklen_t *sl)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	int len = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "%s-%d", name,
			   (int)getpid());
	*sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
	FUZZ_ASSERT(fd >= 0 && bind(fd, (struct sockaddr *)sa, *sl) == 0 && listen(fd, 4) == 0,
		    "listen on @%s: %s", sa->sun_path + 1, strerror(errno));
	return fd;
}

int fuzz_memfd(const void *data, size_t len, bool seal)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	if ((len && write(fd, data, len) != (ssize_t)len) ||
	    (seal && fcntl(fd, F_ADD_SEALS,
			   F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}
