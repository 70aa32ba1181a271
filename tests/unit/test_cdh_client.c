/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cdh_client.c - common/cdh_client.c against a fake CDH.
 *
 * The fake CDH is a forked child on a unix socket that parses each request
 * frame with ttrpc_parse_request(), hands the whole frame to this process
 * through a pipe (so the checks see exactly what went on the wire, including
 * timeout_nano), and answers as the test scripted: OK with a payload, an
 * error status, nothing at all, a closed connection or an undecodable
 * payload. The requests are the ones upstream's agent makes
 * (src/agent/src/confidential_data_hub/mod.rs, CDHClient::*), and the
 * answers the ones the CDH gives (guest-components
 * confidential-data-hub/hub/src/bin/ttrpc_server/mod.rs: INTERNAL,
 * "[CDH] [ERROR]: ...", and PullImage's manifest_digest = 1).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"
#include "cdh_client.h"
#include "cleanup.h"
#include "confidential_data_hub.pb-c.h"
#include "grpc_status.h"
#include "transport.h"
#include "ttrpc.h"
#include "ttrpc.pb-c.h"

#define S_NS 1000000000LL

enum step_kind { STEP_OK, STEP_STATUS, STEP_SILENT, STEP_CLOSE, STEP_GARBAGE };

struct step {
	enum step_kind kind;
	int code;
	const char *message;
	const uint8_t *payload;
	size_t len;
};

struct fake {
	pid_t pid;
	int report; /* read end: one frame per request, u32 length first */
	char dir[64];
	char addr[128];
	struct cdh_client *c; /* the client under test, on addr */
};

static void answer(int fd, uint32_t sid, const struct step *st)
{
	Ttrpc__Status status = TTRPC__STATUS__INIT;
	Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
	if (st->kind == STEP_STATUS) {
		status.code = st->code;
		status.message = (char *)st->message;
		resp.status = &status;
	}
	resp.payload.data = (uint8_t *)st->payload;
	resp.payload.len = st->len;
	size_t n = ttrpc__response__get_packed_size(&resp);
	cleanup_free uint8_t *buf = malloc(TTRPC_HEADER_LEN + n);
	struct ttrpc_frame_header h = { .length = (uint32_t)n,
					.stream_id = sid,
					.type = TTRPC_TYPE_RESPONSE };
	ttrpc_header_encode(buf, &h);
	ttrpc__response__pack(&resp, buf + TTRPC_HEADER_LEN);
	tu_write_all(fd, buf, TTRPC_HEADER_LEN + n);
}

/* Serve one connection until it closes or a step closes it; returns the
 * next step index. */
static size_t serve_conn(int fd, int report, const struct step *steps, size_t nsteps, size_t i)
{
	static uint8_t buf[1 << 20];
	size_t have = 0;
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof(buf) - have);
		if (r <= 0)
			return i;
		have += (size_t)r;
		for (;;) {
			size_t used = 0;
			struct ttrpc_frame_header h;
			Ttrpc__Request *req = NULL;
			struct kerr err;
			if (ttrpc_parse_request(buf, have, &used, &h, &req, &err) <= 0)
				break;
			ttrpc__request__free_unpacked(req, NULL);
			uint32_t len = (uint32_t)used;
			tu_write_all(report, &len, sizeof(len));
			tu_write_all(report, buf, used);
			static const struct step ok = { STEP_OK, 0, NULL, NULL, 0 };
			const struct step *st = i < nsteps ? &steps[i] : &ok;
			i++;
			static const uint8_t garbage[] = { 0xff, 0xff, 0xff };
			struct step g = { STEP_OK, 0, NULL, garbage, sizeof(garbage) };
			switch (st->kind) {
			case STEP_SILENT:
				break;
			case STEP_CLOSE:
				return i;
			case STEP_GARBAGE:
				answer(fd, h.stream_id, &g);
				break;
			default:
				answer(fd, h.stream_id, st);
			}
			memmove(buf, buf + used, have - used);
			have -= used;
		}
	}
}

/* The fake CDH in a child, answering as steps says, and a client of it
 * with the given timeouts (ms). */
static int fake_start_t(struct fake *f, const struct step *steps, size_t nsteps, uint64_t api_ms,
			uint64_t pull_ms)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-cdh-client.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->addr, sizeof(f->addr), "unix://%s/cdh.sock", f->dir);
	struct addr a;
	struct kerr err;
	if (addr_parse(f->addr, &a, &err) < 0)
		return -1;
	int lfd = addr_listen(&a, &err);
	if (lfd < 0)
		return -1;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	fflush(stdout);
	f->pid = fork();
	if (f->pid == 0) {
		close(p[0]);
		size_t i = 0;
		for (;;) {
			struct pollfd pfd = { .fd = lfd, .events = POLLIN };
			poll(&pfd, 1, -1);
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			/* the listener is non-blocking; the connection need not be */
			fcntl(fd, F_SETFL, 0);
			i = serve_conn(fd, p[1], steps, nsteps, i);
			close(fd);
		}
	}
	close(p[1]);
	close(lfd);
	f->report = p[0];
	if (f->pid < 0)
		return -1;
	return cdh_client_new_at(&f->c, f->addr, api_ms, pull_ms, &err);
}

/* With the agent's default timeouts: cdh_api_timeout 50 s,
 * image_pull_timeout 1200 s. */
static int fake_start(struct fake *f, const struct step *steps, size_t nsteps)
{
	return fake_start_t(f, steps, nsteps, 50000, 1200000);
}

static void fake_stop(struct fake *f)
{
	cdh_client_free(f->c);
	kill(f->pid, SIGKILL);
	waitpid(f->pid, NULL, 0);
	close(f->report);
	char path[128];
	snprintf(path, sizeof(path), "%s/cdh.sock", f->dir);
	unlink(path);
	rmdir(f->dir);
}

/* The next request the fake saw (NULL when none came within 5 s). */
static Ttrpc__Request *next_request(struct fake *f)
{
	struct pollfd pfd = { .fd = f->report, .events = POLLIN };
	if (poll(&pfd, 1, 5000) != 1)
		return NULL;
	uint32_t len;
	if (read(f->report, &len, sizeof(len)) != sizeof(len))
		return NULL;
	cleanup_free uint8_t *buf = malloc(len);
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(f->report, buf + got, len - got);
		if (r <= 0)
			return NULL;
		got += (size_t)r;
	}
	size_t used;
	struct ttrpc_frame_header h;
	Ttrpc__Request *req = NULL;
	struct kerr err;
	if (ttrpc_parse_request(buf, len, &used, &h, &req, &err) != 1)
		return NULL;
	return req;
}

/* The next request the fake saw must be service/method with timeout_nano
 * (ns); its payload decoded as d, or NULL (a failed check) when it is not. */
static ProtobufCMessage *expect_request(struct fake *f, const char *service, const char *method,
					int64_t timeout, const ProtobufCMessageDescriptor *d,
					int *tap_failed)
{
	Ttrpc__Request *req = next_request(f);
	if (!req) {
		CHECK(!"a request reached the fake CDH");
		return NULL;
	}
	CHECK_EQ_STR(req->service, service);
	CHECK_EQ_STR(req->method, method);
	CHECK_EQ_INT(req->timeout_nano, timeout);
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, req->payload.len,
							req->payload.data);
	CHECK(m != NULL);
	ttrpc__request__free_unpacked(req, NULL);
	return m;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	uint8_t *b = malloc(*len ? *len : 1);
	protobuf_c_message_pack(m, b);
	return b;
}

/* ---------------------------------------------------------------- */

TEST(proto_matches_upstream_names_and_numbers)
{
	/* kata 3.32.0 confidential_data_hub.proto; the full check is
	 * scripts/proto-compat (doc/confidential.md). */
	const ProtobufCServiceDescriptor *svcs[] = {
		&api__sealed_secret_service__descriptor,
		&api__secure_mount_service__descriptor,
		&api__get_resource_service__descriptor,
		&api__image_pull_service__descriptor,
	};
	const char *names[][3] = {
		{ "api.SealedSecretService", "UnsealSecret", "api.UnsealSecretInput" },
		{ "api.SecureMountService", "SecureMount", "api.SecureMountRequest" },
		{ "api.GetResourceService", "GetResource", "api.GetResourceRequest" },
		{ "api.ImagePullService", "PullImage", "api.ImagePullRequest" },
	};
	for (size_t i = 0; i < 4; i++) {
		CHECK_EQ_STR(svcs[i]->name, names[i][0]);
		CHECK_EQ_INT(svcs[i]->n_methods, 1);
		CHECK_EQ_STR(svcs[i]->methods[0].name, names[i][1]);
		CHECK_EQ_STR(svcs[i]->methods[0].input->name, names[i][2]);
	}
	const ProtobufCMessageDescriptor *m = &api__secure_mount_request__descriptor;
	CHECK_EQ_INT(protobuf_c_message_descriptor_get_field_by_name(m, "volume_type")->id, 1);
	CHECK_EQ_INT(protobuf_c_message_descriptor_get_field_by_name(m, "options")->id, 2);
	CHECK_EQ_INT(protobuf_c_message_descriptor_get_field_by_name(m, "flags")->id, 3);
	CHECK_EQ_INT(protobuf_c_message_descriptor_get_field_by_name(m, "mount_point")->id, 4);
	m = &api__image_pull_request__descriptor;
	CHECK_EQ_INT(protobuf_c_message_descriptor_get_field_by_name(m, "image_url")->id, 1);
	CHECK_EQ_INT(protobuf_c_message_descriptor_get_field_by_name(m, "bundle_path")->id, 2);
	const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field_by_name(
		&api__get_resource_request__descriptor, "ResourcePath");
	CHECK(fd && fd->id == 1 && fd->type == PROTOBUF_C_TYPE_STRING);
	fd = protobuf_c_message_descriptor_get_field_by_name(&api__get_resource_response__descriptor,
							     "Resource");
	CHECK(fd && fd->id == 1 && fd->type == PROTOBUF_C_TYPE_BYTES);
	CHECK_EQ_STR(CDH_SOCKET_ADDR, "unix:///run/confidential-containers/cdh.sock");
}

TEST(unseal_secret_as_upstream_sends_it)
{
	Api__UnsealSecretOutput out = API__UNSEAL_SECRET_OUTPUT__INIT;
	out.plaintext.data = (uint8_t *)"s3cr\0t";
	out.plaintext.len = 6;
	size_t len;
	cleanup_free uint8_t *payload = pack(&out.base, &len);
	struct step steps[] = { { STEP_OK, 0, NULL, payload, len } };
	struct fake f;
	REQUIRE(fake_start(&f, steps, 1) == 0);
	struct cdh_client *c = f.c;
	struct kerr err;
	/* unseal_env passes the whole value after "KEY=" */
	const char *sealed = "sealed.fakeheader.eyJrZXkiOiJ2YWx1ZSJ9.fakesignature";
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	CHECK_EQ_INT(cdh_unseal_secret(c, (const uint8_t *)sealed, strlen(sealed), &plain,
				       &plain_len, &err),
		     0);
	CHECK_EQ_INT(plain_len, 6);
	CHECK(plain && memcmp(plain, "s3cr\0t", 7) == 0);
	free(plain);
	Api__UnsealSecretInput *in = (Api__UnsealSecretInput *)
		expect_request(&f, "api.SealedSecretService", "UnsealSecret", 50 * S_NS,
			       &api__unseal_secret_input__descriptor, tap_failed);
	CHECK(in && in->secret.len == strlen(sealed) &&
	      memcmp(in->secret.data, sealed, in->secret.len) == 0);
	api__unseal_secret_input__free_unpacked(in, NULL);
	fake_stop(&f);
}

TEST(secure_mount_as_upstream_sends_it)
{
	struct fake f;
	REQUIRE(fake_start(&f, NULL, 0) == 0);
	struct cdh_client *c = f.c;
	struct kerr err;
	/* The driver options of an encrypted emptyDir as genpolicy's tests
	 * carry them, as upstream's handler hands them on. */
	struct cdh_option opts[] = {
		{ "deviceId", "/dev/vdb" },
		{ "encryptType", "LUKS" },
		{ "dataIntegrity", "true" },
	};
	const char *flags[] = { "ro", "nodev" };
	CHECK_EQ_INT(cdh_secure_mount(c, "block-device", opts, 3, flags, 2,
				      "/run/kata-containers/sandbox/storage/x", &err),
		     0);
	Api__SecureMountRequest *in = (Api__SecureMountRequest *)
		expect_request(&f, "api.SecureMountService", "SecureMount", 50 * S_NS,
			       &api__secure_mount_request__descriptor, tap_failed);
	REQUIRE(in);
	CHECK_EQ_STR(in->volume_type, "block-device");
	CHECK_EQ_INT(in->n_options, 3);
	if (in->n_options == 3) {
		CHECK_EQ_STR(in->options[0]->key, "deviceId");
		CHECK_EQ_STR(in->options[0]->value, "/dev/vdb");
		CHECK_EQ_STR(in->options[2]->key, "dataIntegrity");
		CHECK_EQ_STR(in->options[2]->value, "true");
	}
	CHECK_EQ_INT(in->n_flags, 2);
	if (in->n_flags == 2)
		CHECK_EQ_STR(in->flags[1], "nodev");
	CHECK_EQ_STR(in->mount_point, "/run/kata-containers/sandbox/storage/x");
	api__secure_mount_request__free_unpacked(in, NULL);
	fake_stop(&f);
}

TEST(get_resource_as_upstream_sends_it)
{
	Api__GetResourceResponse out = API__GET_RESOURCE_RESPONSE__INIT;
	out.resource.data = (uint8_t *)"key material";
	out.resource.len = 12;
	size_t len;
	cleanup_free uint8_t *payload = pack(&out.base, &len);
	struct step steps[] = { { STEP_OK, 0, NULL, payload, len } };
	struct fake f;
	/* agent.cdh_api_timeout=7 */
	REQUIRE(fake_start_t(&f, steps, 1, 7000, 1200000) == 0);
	struct cdh_client *c = f.c;
	struct kerr err;
	uint8_t *data = NULL;
	size_t n = 0;
	CHECK_EQ_INT(cdh_get_resource(c, "kbs:///default/key/1", &data, &n, &err), 0);
	CHECK(n == 12 && data && strcmp((char *)data, "key material") == 0);
	free(data);
	Api__GetResourceRequest *in = (Api__GetResourceRequest *)
		expect_request(&f, "api.GetResourceService", "GetResource", 7 * S_NS,
			       &api__get_resource_request__descriptor, tap_failed);
	CHECK(in && strcmp(in->resourcepath, "kbs:///default/key/1") == 0);
	api__get_resource_request__free_unpacked(in, NULL);
	fake_stop(&f);
}

TEST(pull_image_with_its_own_timeout_and_the_cdh_manifest_digest)
{
	/* The CDH answers ImagePullResponse{manifest_digest = 1}, a field our
	 * proto (like upstream's agent's) does not declare. */
	static const char digest[] = "sha256:0123456789abcdef";
	uint8_t payload[64];
	payload[0] = (1 << 3) | 2;
	payload[1] = (uint8_t)strlen(digest);
	memcpy(payload + 2, digest, strlen(digest));
	struct step steps[] = { { STEP_OK, 0, NULL, payload, 2 + strlen(digest) } };
	struct fake f;
	REQUIRE(fake_start(&f, steps, 1) == 0);
	struct cdh_client *c = f.c;
	struct kerr err;
	/* as upstream's image_pull_handler: the image from the storage's
	 * source, the bundle under CONTAINER_BASE */
	CHECK_EQ_INT(cdh_pull_image(c, "quay.io/prometheus/busybox:latest",
				    "/run/kata-containers/cb0b47276ea6", &err),
		     0);
	Api__ImagePullRequest *in = (Api__ImagePullRequest *)
		expect_request(&f, "api.ImagePullService", "PullImage", 1200 * S_NS,
			       &api__image_pull_request__descriptor, tap_failed);
	REQUIRE(in);
	CHECK_EQ_STR(in->image_url, "quay.io/prometheus/busybox:latest");
	CHECK_EQ_STR(in->bundle_path, "/run/kata-containers/cb0b47276ea6");
	api__image_pull_request__free_unpacked(in, NULL);
	fake_stop(&f);
}

TEST(cdh_error_keeps_its_status_and_message)
{
	struct step steps[] = {
		{ STEP_STATUS, GRPC_INTERNAL, "[CDH] [ERROR]: unseal: kbs unreachable", NULL, 0 },
		{ STEP_STATUS, GRPC_INTERNAL, "[CDH] [ERROR]: Image pull: manifest unknown", NULL,
		  0 },
	};
	struct fake f;
	REQUIRE(fake_start(&f, steps, 2) == 0);
	struct cdh_client *c = f.c;
	struct kerr err;
	uint8_t *plain = NULL;
	size_t n;
	int r = cdh_unseal_secret(c, (const uint8_t *)"sealed.x", 8, &plain, &n, &err);
	CHECK(r < 0);
	CHECK_EQ_INT(err.status, GRPC_INTERNAL);
	CHECK_EQ_STR(err.msg, "CDH UnsealSecret: [CDH] [ERROR]: unseal: kbs unreachable");
	CHECK(plain == NULL);
	r = cdh_pull_image(c, "registry.example/app:1", "/run/kata-containers/c1", &err);
	CHECK(r < 0);
	CHECK_EQ_INT(err.status, GRPC_INTERNAL);
	CHECK_EQ_STR(err.msg, "CDH PullImage: [CDH] [ERROR]: Image pull: manifest unknown");
	fake_stop(&f);
}

TEST(cdh_that_never_answers_times_out_and_the_next_call_works)
{
	Api__UnsealSecretOutput out = API__UNSEAL_SECRET_OUTPUT__INIT;
	out.plaintext.data = (uint8_t *)"later";
	out.plaintext.len = 5;
	size_t len;
	cleanup_free uint8_t *payload = pack(&out.base, &len);
	struct step steps[] = {
		{ STEP_SILENT, 0, NULL, NULL, 0 },
		{ STEP_SILENT, 0, NULL, NULL, 0 },
		{ STEP_OK, 0, NULL, payload, len },
	};
	struct fake f;
	/* short timeouts, so the test does not wait 50 s */
	REQUIRE(fake_start_t(&f, steps, 3, 100, 150) == 0);
	struct cdh_client *c = f.c;
	struct kerr err;
	uint8_t *plain = NULL;
	size_t n;
	int r = cdh_unseal_secret(c, (const uint8_t *)"sealed.x", 8, &plain, &n, &err);
	CHECK_EQ_INT(r, -ETIMEDOUT);
	CHECK_EQ_INT(err.status, GRPC_DEADLINE_EXCEEDED);
	CHECK_EQ_STR(err.msg, "CDH UnsealSecret: api.SealedSecretService/UnsealSecret: no answer "
			      "within 0.100 s");
	r = cdh_pull_image(c, "img", "/b", &err);
	CHECK_EQ_INT(err.status, GRPC_DEADLINE_EXCEEDED);
	CHECK(r < 0 && strstr(err.msg, "CDH PullImage:") && strstr(err.msg, "within 0.150 s"));
	Ttrpc__Request *req = next_request(&f);
	CHECK(req && req->timeout_nano == 100000000);
	if (req)
		ttrpc__request__free_unpacked(req, NULL);
	req = next_request(&f);
	CHECK(req && req->timeout_nano == 150000000);
	if (req)
		ttrpc__request__free_unpacked(req, NULL);
	CHECK_EQ_INT(cdh_unseal_secret(c, (const uint8_t *)"sealed.y", 8, &plain, &n, &err), 0);
	CHECK(n == 5 && plain && strcmp((char *)plain, "later") == 0);
	free(plain);
	fake_stop(&f);
}

TEST(cdh_that_goes_away_is_unavailable_and_found_again)
{
	struct step steps[] = { { STEP_CLOSE, 0, NULL, NULL, 0 } };
	struct fake f;
	REQUIRE(fake_start(&f, steps, 1) == 0);
	struct cdh_client *c = f.c;
	struct kerr err;
	int r = cdh_secure_mount(c, "block-device", NULL, 0, NULL, 0, "/m", &err);
	CHECK(r < 0);
	CHECK_EQ_INT(err.status, GRPC_UNAVAILABLE);
	CHECK(strstr(err.msg, "CDH SecureMount: ttrpc client: connection closed by the server"));
	/* the fake accepts a new connection: the client makes one */
	CHECK_EQ_INT(cdh_secure_mount(c, "block-device", NULL, 0, NULL, 0, "/m", &err), 0);
	fake_stop(&f);
}

TEST(undecodable_answer_is_internal)
{
	struct step steps[] = { { STEP_GARBAGE, 0, NULL, NULL, 0 } };
	struct fake f;
	REQUIRE(fake_start(&f, steps, 1) == 0);
	struct cdh_client *c = f.c;
	struct kerr err;
	uint8_t *data = NULL;
	size_t n;
	int r = cdh_get_resource(c, "kbs:///a/b/c", &data, &n, &err);
	CHECK(r < 0);
	CHECK_EQ_INT(err.status, GRPC_INTERNAL);
	CHECK(strstr(err.msg, "undecodable api.GetResourceResponse response"));
	fake_stop(&f);
}

TEST(no_cdh_is_unavailable_and_named)
{
	struct cdh_client *c;
	struct kerr err;
	REQUIRE(cdh_client_new_at(&c, "unix:///nonexistent-dir/cdh.sock", 50000, 1200000, &err) ==
		0);
	uint8_t *plain = NULL;
	size_t n;
	int r = cdh_unseal_secret(c, (const uint8_t *)"sealed.x", 8, &plain, &n, &err);
	CHECK(r < 0);
	CHECK_EQ_INT(err.status, GRPC_UNAVAILABLE);
	CHECK(strstr(err.msg, "CDH UnsealSecret: ") == err.msg);
	CHECK(strstr(err.msg, "/nonexistent-dir/cdh.sock") != NULL);
	cdh_client_free(c);
}

TEST(the_agent_client_uses_the_fixed_socket)
{
	struct stat st;
	if (stat(CDH_SOCKET_PATH, &st) == 0)
		SKIP("a CDH socket exists on this machine at " CDH_SOCKET_PATH);
	struct cdh_client *c;
	struct kerr err;
	REQUIRE(cdh_client_new(&c, 50000, 1200000, &err) == 0);
	uint8_t *data = NULL;
	size_t n;
	CHECK(cdh_get_resource(c, "kbs:///x", &data, &n, &err) < 0);
	CHECK(strstr(err.msg, CDH_SOCKET_PATH) != NULL);
	cdh_client_free(c);
}

TEST(timeouts_must_be_positive)
{
	struct cdh_client *c = NULL;
	struct kerr err;
	CHECK_EQ_INT(cdh_client_new(&c, 0, 1200000, &err), -EINVAL);
	CHECK_EQ_INT(cdh_client_new(&c, 50000, 0, &err), -EINVAL);
	CHECK(strstr(err.msg, "timeouts must be > 0") != NULL);
	CHECK(c == NULL);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return tap_run();
}
