/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test-cdh.c - a stand-in Confidential Data Hub for tests (never installed):
 * the four CDH services over ttRPC (common/ttrpc_server.c) on a unix socket,
 * answering as the real CDH does (guest-components
 * confidential-data-hub/hub/src/bin/ttrpc_server/mod.rs: errors are INTERNAL
 * with "[CDH] [ERROR]: ...", PullImage answers manifest_digest = 1).
 *
 *   test-cdh [--socket PATH] [-c CONFIG] [--image REF=LAYOUT_DIR]...
 *            [--resources DIR] [--mount-log FILE] [--fail-secure-mount]
 *            [--secure-mount-tmpfs] [--slow-secure-mount SECONDS] [--secure-mount-gate FILE]
 *            [--rootfs-symlink DIR] [--ready-fd N] [--never-answer | --exit-on-request | --exit-at-start |
 *             --hostile-answer huge|malformed]
 *
 * As the agent launches the real CDH (guest_components.h) it gets no
 * argument at all, or -c with the initdata's cdh.toml: then, as the real
 * one, it listens on the config's `socket` (default
 * unix:///run/confidential-containers/cdh.sock), making the directory and
 * removing an old socket first. What it read from -c (the socket, [kbc]
 * name and url, [test_cdh] resources and mount_log, which stand for the
 * options of the same name) is written on stderr in one line.
 *
 * PullImage      unpacks the OCI image layout mapped to image_url by --image
 *                into bundle_path/rootfs and writes bundle_path/config.json
 *                (tests/cdh/oci_image.h). --rootfs-symlink DIR: a
 *                hostile answer instead: bundle_path/rootfs is made a
 *                symlink to DIR and the call succeeds.
 * UnsealSecret   "sealed." + base64("test:" + plaintext) -> plaintext;
 *                anything else is an error naming the secret.
 * SecureMount    appends {"volume_type", "options", "flags", "mount_point"}
 *                as one JSON line to --mount-log, creates mount_point, and
 *                succeeds (fails with --fail-secure-mount); with
 *                --secure-mount-tmpfs it mounts a tmpfs there, as the real
 *                CDH mounts the encrypted device (run it in a private mount
 *                namespace). --slow-secure-mount N: the call is recorded at
 *                once, the directory made and the tmpfs mounted N seconds
 *                later, whether the client is still there or not (the real
 *                CDH finishes a call whose client went), then answered;
 *                with --secure-mount-gate FILE, not before FILE exists
 *                either (the test opens the gate when its checks of the
 *                pending call are done: no race with a loaded machine).
 * GetResource    kbs://[HOST]/PATH -> the file --resources/PATH.
 *
 * test-cdh-lite is this without PullImage (answered with an error), so
 * without libarchive and what it loads (ICU: 30 MiB): the VM suite's
 * image carries it.
 *
 * --never-answer accepts connections and reads requests but never answers
 * (for timeout tests); --exit-on-request exits (status 3) when the first
 * request arrives, without answering; --exit-at-start exits (status 3)
 * before listening. --hostile-answer answers every request with a frame
 * no ttRPC peer may send: "huge" announces a 4 GiB payload (then sends
 * 64 KiB and keeps the connection open), "malformed" a response whose
 * payload is not protobuf. --ready-fd N: "ready\n" is written to fd N once the
 * socket listens.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base64.h"
#include "cdh_client.h"
#include "cleanup.h"
#include "confidential_data_hub.pb-c.h"
#include "grpc_status.h"
#include "log.h"
#include "loop.h"
#include "oci_image.h"
#include "openat2.h"
#include "toml.h"
#include "transport.h"
#include "ttrpc.h"

#define MAX_IMAGES 32
#define SECRET_PREFIX "sealed."
#define SECRET_MAGIC "test:"
/* below ttRPC's 4 MiB frame limit with room for the envelope */
#define MAX_RESOURCE (3 << 20)

struct image {
	const char *ref;
	const char *dir;
};

struct cdh {
	struct loop *loop;
	struct ttrpc_server *server;
	struct image images[MAX_IMAGES];
	size_t n_images;
	const char *resources;
	const char *mount_log;
	bool fail_secure_mount;
	bool secure_mount_tmpfs;
	unsigned slow_secure_mount;    /* seconds */
	const char *secure_mount_gate; /* with it: the slow mount waits for this file too */
	const char *rootfs_symlink;
	bool exit_on_request;
};

__attribute__((format(printf, 2, 3))) static void cdh_fail(struct ttrpc_call *c, const char *fmt,
							   ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "test-cdh: %s/%s: %s\n", ttrpc_call_service(c), ttrpc_call_method(c), msg);
	ttrpc_call_fail(c, GRPC_INTERNAL, "[CDH] [ERROR]: test-cdh: %s", msg);
}

/* At most 64 bytes of an untrusted value, non-printable bytes as '?'. */
static const char *shown(const uint8_t *p, size_t len, char out[72])
{
	size_t n = len < 64 ? len : 64;
	for (size_t i = 0; i < n; i++)
		out[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	snprintf(out + n, 8, "%s", len > n ? "..." : "");
	return out;
}

/* ---- UnsealSecret ---- */

static void on_unseal_secret(struct cdh *d, struct ttrpc_call *c, ProtobufCMessage *m)
{
	Api__UnsealSecretInput *in = (Api__UnsealSecretInput *)m;
	const uint8_t *s = in->secret.data;
	size_t len = in->secret.len, plen = strlen(SECRET_PREFIX);
	char show[72];
	if (len < plen || memcmp(s, SECRET_PREFIX, plen) != 0)
		return cdh_fail(c, "secret \"%s\" does not start with \"" SECRET_PREFIX "\"",
				shown(s, len, show));
	cleanup_free uint8_t *raw = NULL;
	size_t raw_len = 0;
	size_t bad = base64_decode((const char *)s + plen, len - plen, &raw, &raw_len);
	if (bad)
		return cdh_fail(c, "secret \"%s\" is not \"" SECRET_PREFIX "\" + base64",
				shown(s, len, show));
	size_t mlen = strlen(SECRET_MAGIC);
	if (raw_len < mlen || memcmp(raw, SECRET_MAGIC, mlen) != 0)
		return cdh_fail(c,
				"secret \"%s\" is not a test-cdh secret (no \"" SECRET_MAGIC
				"\" inside)",
				shown(s, len, show));
	Api__UnsealSecretOutput out = API__UNSEAL_SECRET_OUTPUT__INIT;
	out.plaintext.data = raw + mlen;
	out.plaintext.len = raw_len - mlen;
	ttrpc_call_reply(c, &out.base);
}

/* ---- SecureMount ---- */

static int log_mount(const char *path, const Api__SecureMountRequest *in)
{
	json_t *opts = json_object(), *flags = json_array();
	for (size_t i = 0; i < in->n_options; i++)
		json_object_set_new(opts, in->options[i]->key, json_string(in->options[i]->value));
	for (size_t i = 0; i < in->n_flags; i++)
		json_array_append_new(flags, json_string(in->flags[i]));
	json_t *rec = json_pack("{s:s, s:o, s:o, s:s}", "volume_type", in->volume_type, "options",
				opts, "flags", flags, "mount_point", in->mount_point);
	cleanup_free char *line = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
	json_decref(rec);
	cleanup_close int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (!line || fd < 0)
		return -1;
	size_t n = strlen(line);
	line[n] = '\n';
	return write(fd, line, n + 1) == (ssize_t)(n + 1) ? 0 : -1;
}

/* mkdir -p of an absolute path. */
static int make_dirs(const char *path)
{
	char p[PATH_MAX];
	if (path[0] != '/' || snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
		return -EINVAL;
	for (char *s = p + 1;; s++) {
		if (*s == '/' || !*s) {
			char saved = *s;
			*s = '\0';
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				return -errno;
			if (!saved)
				return 0;
			*s = saved;
		}
	}
}

static void secure_mount_now(struct cdh *d, struct ttrpc_call *c, const char *mount_point)
{
	int r = make_dirs(mount_point);
	if (r < 0)
		return cdh_fail(c, "mount point \"%s\": %s", mount_point, strerror(-r));
	if (d->secure_mount_tmpfs &&
	    mount("test-cdh-secure", mount_point, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m") < 0)
		return cdh_fail(c, "mount a tmpfs on %s: %s", mount_point, strerror(errno));
	Api__SecureMountResponse out = API__SECURE_MOUNT_RESPONSE__INIT;
	ttrpc_call_reply(c, &out.base);
}

struct slow_mount {
	struct cdh *d;
	struct ttrpc_call *c;
	bool gone;
	unsigned waited; /* tenths of a second spent waiting for the gate */
	char mount_point[PATH_MAX];
};

static void on_slow_cancel(struct ttrpc_call *c, void *data)
{
	((struct slow_mount *)data)->gone = true;
}

/* The gate waited for at most a minute: a test that forgot to open it
 * still ends. */
#define GATE_MAX_TENTHS 600

static void on_slow_mount(struct loop *l, void *data)
{
	struct slow_mount *sm = data;
	if (sm->d->secure_mount_gate && access(sm->d->secure_mount_gate, F_OK) < 0 &&
	    sm->waited++ < GATE_MAX_TENTHS &&
	    loop_timer_add(l, loop_now_ns() + 100000000ull, on_slow_mount, sm))
		return;
	fprintf(stderr, "test-cdh: SecureMount of %s now (%s)\n", sm->mount_point,
		sm->gone ? "its client went" : "its client waits");
	secure_mount_now(sm->d, sm->c, sm->mount_point); /* dropped if the client went */
	free(sm);
}

static void on_secure_mount(struct cdh *d, struct ttrpc_call *c, ProtobufCMessage *m)
{
	Api__SecureMountRequest *in = (Api__SecureMountRequest *)m;
	if (d->mount_log && log_mount(d->mount_log, in) < 0)
		return cdh_fail(c, "cannot record the call in %s: %s", d->mount_log,
				strerror(errno));
	if (d->fail_secure_mount)
		return cdh_fail(c, "secure mount of %s refused (--fail-secure-mount)",
				in->mount_point);
	if (!d->slow_secure_mount)
		return secure_mount_now(d, c, in->mount_point);
	struct slow_mount *sm = calloc(1, sizeof(*sm));
	if (!sm || snprintf(sm->mount_point, sizeof(sm->mount_point), "%s", in->mount_point) >=
			   (int)sizeof(sm->mount_point)) {
		free(sm);
		return cdh_fail(c, "slow mount of %s: out of memory or too long", in->mount_point);
	}
	sm->d = d;
	sm->c = c;
	ttrpc_call_set_cancel(c, on_slow_cancel, sm);
	if (!loop_timer_add(d->loop, loop_now_ns() + d->slow_secure_mount * 1000000000ull,
			    on_slow_mount, sm)) {
		free(sm);
		return cdh_fail(c, "slow mount of %s: out of memory", in->mount_point);
	}
}

/* ---- GetResource ---- */

static void on_get_resource(struct cdh *d, struct ttrpc_call *c, ProtobufCMessage *m)
{
	const char *uri = ((Api__GetResourceRequest *)m)->resourcepath;
	if (!d->resources)
		return cdh_fail(c, "resource %s: no --resources directory", uri);
	if (strncmp(uri, "kbs://", 6) != 0 || !strchr(uri + 6, '/'))
		return cdh_fail(c, "resource \"%s\" is not kbs://[HOST]/PATH", uri);
	const char *rel = strchr(uri + 6, '/') + 1;
	cleanup_close int dir = open(d->resources, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int fd = dir < 0 ? -1
				       : sys_openat2(dir, rel, O_RDONLY | O_CLOEXEC,
						     RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
	if (fd < 0)
		return cdh_fail(c, "resource %s: %s", uri,
				errno == ENOENT ? "not found" : strerror(errno));
	cleanup_free uint8_t *buf = malloc(MAX_RESOURCE + 1);
	size_t n = 0;
	ssize_t r = 1;
	while (buf && n <= MAX_RESOURCE && (r = read(fd, buf + n, MAX_RESOURCE + 1 - n)) > 0)
		n += (size_t)r;
	if (!buf || r < 0)
		return cdh_fail(c, "resource %s: %s", uri, buf ? strerror(errno) : "out of memory");
	if (n > MAX_RESOURCE)
		return cdh_fail(c, "resource %s: larger than %d bytes", uri, MAX_RESOURCE);
	Api__GetResourceResponse out = API__GET_RESOURCE_RESPONSE__INIT;
	out.resource.data = buf;
	out.resource.len = n;
	ttrpc_call_reply(c, &out.base);
}

/* ---- PullImage ---- */

static void on_pull_image(struct cdh *d, struct ttrpc_call *c, ProtobufCMessage *m)
{
	Api__ImagePullRequest *in = (Api__ImagePullRequest *)m;
	const struct image *img = NULL;
	for (size_t i = 0; i < d->n_images && !img; i++)
		if (strcmp(d->images[i].ref, in->image_url) == 0)
			img = &d->images[i];
	if (!img)
		return cdh_fail(c, "no image is mapped to reference \"%s\" (--image REF=DIR)",
				in->image_url);
	if (d->rootfs_symlink) {
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/rootfs", in->bundle_path);
		if (make_dirs(in->bundle_path) < 0 || symlink(d->rootfs_symlink, p) < 0)
			return cdh_fail(c, "--rootfs-symlink: %s: %s", p, strerror(errno));
		Api__ImagePullResponse out = API__IMAGE_PULL_RESPONSE__INIT;
		return ttrpc_call_reply(c, &out.base);
	}
#ifdef TEST_CDH_LITE
	return cdh_fail(c, "pull %s: test-cdh-lite has no image support", in->image_url);
#else
	char digest[OCI_DIGEST_LEN];
	struct kerr err = { 0 };
	if (oci_image_unpack(img->dir, in->image_url, in->bundle_path, digest, &err) < 0)
		return cdh_fail(c, "pull %s into %s: %s", in->image_url, in->bundle_path, err.msg);
	/* ImagePullResponse{manifest_digest = 1}, as the CDH's own proto has it */
	uint8_t out[2 + OCI_DIGEST_LEN];
	size_t n = strlen(digest);
	out[0] = (1 << 3) | 2;
	out[1] = (uint8_t)n;
	memcpy(out + 2, digest, n);
	ttrpc_call_reply_raw(c, out, 2 + n);
#endif
}

/* ---- dispatch ---- */

typedef void (*handler_fn)(struct cdh *d, struct ttrpc_call *c, ProtobufCMessage *m);

static const struct {
	const char *service, *method;
	const ProtobufCMessageDescriptor *req;
	handler_fn fn;
} methods[] = {
	{ "api.SealedSecretService", "UnsealSecret", &api__unseal_secret_input__descriptor,
	  on_unseal_secret },
	{ "api.SecureMountService", "SecureMount", &api__secure_mount_request__descriptor,
	  on_secure_mount },
	{ "api.GetResourceService", "GetResource", &api__get_resource_request__descriptor,
	  on_get_resource },
	{ "api.ImagePullService", "PullImage", &api__image_pull_request__descriptor, on_pull_image },
};

static void dispatch(struct ttrpc_call *c, void *data)
{
	struct cdh *d = data;
	if (d->exit_on_request) {
		fprintf(stderr, "test-cdh: exiting on request %s/%s (--exit-on-request)\n",
			ttrpc_call_service(c), ttrpc_call_method(c));
		_exit(3);
	}
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strcmp(methods[i].service, ttrpc_call_service(c)) != 0 ||
		    strcmp(methods[i].method, ttrpc_call_method(c)) != 0)
			continue;
		size_t len;
		const uint8_t *p = ttrpc_call_payload(c, &len);
		static const uint8_t empty[1];
		ProtobufCMessage *m = protobuf_c_message_unpack(methods[i].req, NULL, len,
								p ? p : empty);
		if (!m)
			return ttrpc_call_fail(c, GRPC_INVALID_ARGUMENT, "undecodable %s",
					       methods[i].req->name);
		methods[i].fn(d, c, m);
		protobuf_c_message_free_unpacked(m, NULL);
		return;
	}
	ttrpc_call_fail(c, GRPC_UNIMPLEMENTED, "%s/%s is not a CDH method", ttrpc_call_service(c),
			ttrpc_call_method(c));
}

/* ---- --never-answer: read and discard, never write ---- */

static void silent_conn(struct loop *l, int fd, uint32_t events, void *data)
{
	char buf[65536];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		loop_del(l, fd);
		close(fd);
	}
}

static void silent_accept(struct loop *l, int lfd, uint32_t events, void *data)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0 && loop_add(l, fd, EPOLLIN, silent_conn, NULL, NULL) < 0)
		close(fd);
}

/* ---- --hostile-answer: frames no ttRPC peer may send ---- */

static const char *hostile_mode;

static void hostile_conn(struct loop *l, int fd, uint32_t events, void *data)
{
	uint8_t hdr[10];
	ssize_t n = recv(fd, hdr, sizeof(hdr), MSG_PEEK);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		loop_del(l, fd);
		close(fd);
		return;
	}
	if (n < (ssize_t)sizeof(hdr))
		return;
	uint32_t len = (uint32_t)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
	char sink[65536];
	size_t want = sizeof(hdr) + len;
	while (want > 0 && (n = read(fd, sink, want < sizeof(sink) ? want : sizeof(sink))) > 0)
		want -= (size_t)n;
	/* the request's stream id, answered with a response frame */
	uint8_t out[10 + 8] = { 0, 0, 0, 8, hdr[4], hdr[5], hdr[6], hdr[7], 2, 0 };
	if (!strcmp(hostile_mode, "huge")) {
		out[0] = out[1] = out[2] = out[3] = 0xff;
		if (write(fd, out, 10) != 10)
			return;
		memset(sink, 'A', sizeof(sink));
		if (write(fd, sink, sizeof(sink)) < 0)
			return;
		return;
	}
	memset(out + 10, 0xff, 8); /* a field number 0 wire type 7: not protobuf */
	if (write(fd, out, sizeof(out)) < 0)
		return;
}

static void hostile_accept(struct loop *l, int lfd, uint32_t events, void *data)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0 && loop_add(l, fd, EPOLLIN, hostile_conn, NULL, NULL) < 0)
		close(fd);
}

/* ---- -c CONFIG, as the real CDH's config file ---- */

static const char *toml_str(const struct toml_value *t, const char *key)
{
	const struct toml_value *v = t ? toml_table_get(t, key) : NULL;
	return v && v->type == TOML_STRING ? v->str.s : NULL;
}

/* Fills what the file sets; the strings live as long as *root. */
static int read_config(const char *path, struct toml_value **root, const char **socket_uri,
		       struct cdh *d)
{
	struct kerr err = { 0 };
	if (toml_parse_file(path, root, &err) < 0) {
		fprintf(stderr, "test-cdh: failed to read config: %s\n", err.msg);
		return -1;
	}
	const char *sock = toml_str(*root, "socket");
	const struct toml_value *kbc = toml_table_get(*root, "kbc");
	const struct toml_value *mine = toml_table_get(*root, "test_cdh");
	if (sock)
		*socket_uri = sock;
	if (!d->resources)
		d->resources = toml_str(mine, "resources");
	if (!d->mount_log)
		d->mount_log = toml_str(mine, "mount_log");
	const char *ocicrypt = getenv("OCICRYPT_KEYPROVIDER_CONFIG");
	fprintf(stderr,
		"test-cdh: config %s: socket %s, kbc %s %s, resources %s, "
		"OCICRYPT_KEYPROVIDER_CONFIG=%s\n",
		path, *socket_uri, toml_str(kbc, "name") ? toml_str(kbc, "name") : "-",
		toml_str(kbc, "url") ? toml_str(kbc, "url") : "-",
		d->resources ? d->resources : "-", ocicrypt ? ocicrypt : "-");
	return 0;
}

/* The real CDH's create_socket_parent_directory and clean_previous_sock_file. */
static void prepare_socket_path(const char *path)
{
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", path);
	for (char *s = strchr(parent + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(parent, 0755);
		*s = '/';
	}
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr,
		"usage: test-cdh [--socket PATH] [-c CONFIG] [--image REF=DIR]...\n"
		"                [--resources DIR] [--mount-log FILE] [--fail-secure-mount]\n"
		"                [--secure-mount-tmpfs] [--slow-secure-mount SECONDS]\n"
		"                [--secure-mount-gate FILE]\n"
		"                [--rootfs-symlink DIR] [--ready-fd N]\n"
		"                [--never-answer | --exit-on-request | --exit-at-start |\n"
		"                 --hostile-answer huge|malformed]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "image", required_argument, NULL, 'i' },
		{ "resources", required_argument, NULL, 'r' },
		{ "mount-log", required_argument, NULL, 'm' },
		{ "fail-secure-mount", no_argument, NULL, 'f' },
		{ "ready-fd", required_argument, NULL, 'R' },
		{ "never-answer", no_argument, NULL, 'n' },
		{ "exit-on-request", no_argument, NULL, 'x' },
		{ "exit-at-start", no_argument, NULL, 'X' },
		{ "secure-mount-tmpfs", no_argument, NULL, 'T' },
		{ "slow-secure-mount", required_argument, NULL, 'S' },
		{ "secure-mount-gate", required_argument, NULL, 'G' },
		{ "rootfs-symlink", required_argument, NULL, 'L' },
		{ "hostile-answer", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	struct cdh d = { 0 };
	const char *socket_path = NULL, *config = NULL;
	int ready_fd = -1, opt;
	bool never_answer = false, exit_at_start = false;
	while ((opt = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			socket_path = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'i': {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg || d.n_images == MAX_IMAGES)
				usage();
			*eq = '\0';
			d.images[d.n_images++] = (struct image){ optarg, eq + 1 };
			break;
		}
		case 'r':
			d.resources = optarg;
			break;
		case 'm':
			d.mount_log = optarg;
			break;
		case 'f':
			d.fail_secure_mount = true;
			break;
		case 'R':
			ready_fd = atoi(optarg);
			break;
		case 'n':
			never_answer = true;
			break;
		case 'x':
			d.exit_on_request = true;
			break;
		case 'X':
			exit_at_start = true;
			break;
		case 'T':
			d.secure_mount_tmpfs = true;
			break;
		case 'S':
			d.slow_secure_mount = (unsigned)atoi(optarg);
			break;
		case 'G':
			d.secure_mount_gate = optarg;
			break;
		case 'L':
			d.rootfs_symlink = optarg;
			break;
		case 'H':
			if (strcmp(optarg, "huge") && strcmp(optarg, "malformed"))
				usage();
			hostile_mode = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (exit_at_start) {
		fprintf(stderr, "test-cdh: exiting at start (--exit-at-start)\n");
		return 3;
	}
	struct toml_value *conf = NULL;
	const char *socket_uri = CDH_SOCKET_ADDR;
	if (config && read_config(config, &conf, &socket_uri, &d) < 0)
		return 1;
	if (!socket_path) {
		if (strncmp(socket_uri, "unix://", 7) != 0) {
			fprintf(stderr, "test-cdh: socket address scheme is not expected: %s\n",
				socket_uri);
			return 1;
		}
		socket_path = socket_uri + 7;
		prepare_socket_path(socket_path);
	}
	signal(SIGPIPE, SIG_IGN);
	log_init("test-cdh", 2, LOG_LVL_WARN);
	char addr_text[PATH_MAX + 8];
	snprintf(addr_text, sizeof(addr_text), "unix://%s", socket_path);
	struct addr a;
	struct kerr err = { 0 };
	int lfd;
	if (addr_parse(addr_text, &a, &err) < 0 || (lfd = addr_listen(&a, &err)) < 0 ||
	    loop_new(&d.loop, &err) < 0) {
		fprintf(stderr, "test-cdh: %s\n", err.msg);
		return 1;
	}
	int r = never_answer   ? loop_add(d.loop, lfd, EPOLLIN, silent_accept, NULL, &err)
		: hostile_mode ? loop_add(d.loop, lfd, EPOLLIN, hostile_accept, NULL, &err)
			       : ttrpc_server_new(&d.server, d.loop, lfd, dispatch, &d, &err);
	if (r < 0) {
		fprintf(stderr, "test-cdh: %s\n", err.msg);
		return 1;
	}
	if (ready_fd >= 0) {
		if (write(ready_fd, "ready\n", 6) != 6)
			return 1;
		close(ready_fd);
	}
	r = loop_run(d.loop, &err);
	ttrpc_server_free(d.server);
	loop_free(d.loop);
	toml_free(conf);
	return r < 0 ? 1 : 0;
}
