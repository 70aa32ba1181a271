/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_coco_exec.c - the pure parts of the executor's confidential-guest
 * code (agentd/executor/coco/guest_pull.c): image references as the runtime
 * sends them (and hostile ones), the image_guest_pull driver option as
 * handleImageGuestPullBlockVolume marshals it, the pause bundle's process;
 * and the CDH worker's confinement (cdh_job.c) checked from /proc in a
 * forked child.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cdh_job.h"
#include "grpc_status.h"
#include "guest_pull.h"
#include "sealed_file.h"
#include "secure_storage.h"
#include "tap.h"
#include "testutil.h"

TEST(references)
{
	/* What kata_agent.go sends: "pause" for the sandbox, else the CRI's
	 * io.kubernetes.cri.image-name. */
	static const char *const good[] = {
		"pause",
		"quay.io/prometheus/busybox:latest",
		"docker.io/library/nginx:1.25",
		"localhost:5000/a/b-c__d.e:tag_1",
		"registry.k8s.io/pause:3.9",
		"ghcr.io/x/y@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"[::1]:5000/img:v1",
	};
	static const char *const bad[] = {
		"",     "..",  "../../etc", "a/../b",         "/etc/passwd",
		"a//b", "./a", "UPPER",     "host/Upper",     "a:tag:tag",
		"a\nb", "a b", "a/b/",      "a@sha256:short", "-a",
		"a..b",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(guest_pull_ref_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(!guest_pull_ref_valid(bad[i]));
	char *huge = malloc(GUEST_PULL_REF_MAX + 2);
	REQUIRE(huge);
	memset(huge, 'a', GUEST_PULL_REF_MAX + 1);
	huge[GUEST_PULL_REF_MAX + 1] = '\0';
	CHECK(!guest_pull_ref_valid(huge));
	free(huge);
}

static int metadata(const char *opt, bool *sandbox, struct kerr *e)
{
	char *opts[2] = { (char *)"other=1", (char *)opt };
	Grpc__Storage s = GRPC__STORAGE__INIT;
	s.driver = (char *)GUEST_PULL_DRIVER;
	s.driver_options = opts;
	s.n_driver_options = opt ? 2 : 1;
	kerr_clear(e);
	return guest_pull_metadata(&s, sandbox, e);
}

TEST(metadata_option)
{
	struct kerr e = { 0 };
	bool sb = true;
	/* json.Marshal(ImagePullVolume) with the container's annotations merged */
	CHECK_EQ_INT(metadata("image_guest_pull={\"metadata\":{\"io.kubernetes.cri.container-type\":"
			      "\"sandbox\",\"io.kubernetes.cri.sandbox-id\":\"x\"}}",
			      &sb, &e),
		     0);
	CHECK(sb);
	CHECK_EQ_INT(metadata("image_guest_pull={\"metadata\":{\"io.kubernetes.cri-o.ContainerType\":"
			      "\"sandbox\"}}",
			      &sb, &e),
		     0);
	CHECK(sb);
	CHECK_EQ_INT(metadata("image_guest_pull={\"metadata\":{\"io.kubernetes.cri.container-type\":"
			      "\"container\",\"io.kubernetes.cri.image-name\":\"busybox\"}}",
			      &sb, &e),
		     0);
	CHECK(!sb);
	CHECK_EQ_INT(metadata("image_guest_pull={\"metadata\":{}}", &sb, &e), 0);
	CHECK_EQ_INT(metadata(NULL, &sb, &e), -EINVAL);
	CHECK(strstr(e.msg, "missing Image information for ImagePull volume"));
	CHECK_EQ_INT(metadata("image_guest_pull=[1]", &sb, &e), -EINVAL);
	CHECK_EQ_INT(metadata("image_guest_pull={\"metadata\":[]}", &sb, &e), -EINVAL);
	CHECK_EQ_INT(metadata("image_guest_pull={\"metadata\":{\"a\":1}}", &sb, &e), -EINVAL);
	CHECK_EQ_INT(metadata("image_guest_pull={\"metadata\":{\"a\":\"x\",\"a\":\"y\"}}", &sb, &e),
		     -EINVAL);
	CHECK_EQ_INT(metadata("image_guest_pull={", &sb, &e), -EINVAL);
	CHECK_EQ_INT(e.status, GRPC_INVALID_ARGUMENT);
}

TEST(pause_process)
{
	struct kerr e = { 0 };
	Grpc__Process *p = malloc(sizeof(*p));
	REQUIRE(p);
	grpc__process__init(p);
	char *arg0 = NULL;
	/* what umoci writes for the pause image */
	const char *cfg = "{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":false,"
			  "\"user\":{\"uid\":65535,\"gid\":65535},\"args\":[\"/pause\"],"
			  "\"env\":[\"PATH=/bin\"],\"cwd\":\"/\"},\"root\":{\"path\":\"rootfs\"}}";
	REQUIRE(guest_pull_pause_process(cfg, strlen(cfg), p, &arg0, &e) == 0);
	CHECK_EQ_STR(arg0, "/pause");
	CHECK(p->n_args == 1 && !strcmp(p->args[0], "/pause"));
	CHECK(p->n_env == 1 && !strcmp(p->env[0], "PATH=/bin"));
	CHECK_EQ_STR(p->cwd, "/");
	CHECK(p->user && p->user->uid == 65535 && p->user->gid == 65535);
	free(arg0);
	static const char *const bad[] = {
		"{}",
		"{\"process\":{\"args\":[]}}",
		"{\"process\":{\"args\":[\"pause\"]}}",
		"{\"process\":{\"args\":[1]}}",
		"{\"process\":{\"args\":[\"/p\"],\"env\":\"x\"}}",
		"{\"process\":{\"args\":[\"/p\"],\"user\":{\"uid\":-1}}}",
		"not json",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kerr_clear(&e);
		CHECK(guest_pull_pause_process(bad[i], strlen(bad[i]), p, &arg0, &e) < 0);
	}
	/* a refused document leaves the process as it was */
	CHECK(p->n_args == 1 && !strcmp(p->args[0], "/pause"));
	protobuf_c_message_free_unpacked(&p->base, NULL);
}

static unsigned long long status_hex(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long v = ~0ull;
	size_t n = strlen(key);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n))
			v = strtoull(line + n, NULL, 16);
	if (f)
		fclose(f);
	return v;
}

TEST(worker_confinement)
{
	if (geteuid() != 0) {
		SKIP("needs root (a worker has capabilities to drop)");
		return;
	}
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		struct kerr e = { 0 };
		if (cdh_job_confine(&e) < 0)
			_exit(10);
		bool ok = status_hex("CapEff:") == 0 && status_hex("CapPrm:") == 0 &&
			  status_hex("CapBnd:") == 0 && status_hex("CapAmb:") == 0;
		FILE *f = fopen("/proc/self/status", "r");
		char line[256];
		bool nnp = false;
		while (f && fgets(line, sizeof(line), f))
			if (!strcmp(line, "NoNewPrivs:\t1\n"))
				nnp = true;
		if (f)
			fclose(f);
		/* what a capability guarded: giving a file away (CAP_CHOWN) */
		FILE *t = tmpfile();
		bool denied = t && fchown(fileno(t), 1, 1) < 0 && errno == EPERM;
		_exit(ok && nnp && denied ? 0 : 11);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* upstream rpc.rs cdh_secure_mount: the options map for a block emptyDir
 * (block_handler.rs mkfs options), dataIntegrity from
 * agent.secure_storage_integrity. */
TEST(secure_mount_options)
{
	struct cdh_option o[SECURE_STORAGE_N_OPTIONS];
	static const char *const keys[] = { "deviceId",       "sourceType", "targetType",
					    "filesystemType", "mkfsOpts",   "encryptionType",
					    "dataIntegrity" };
	secure_storage_options("254:16", true, SECURE_STORAGE_MKFS_OPTS, o);
	for (size_t i = 0; i < SECURE_STORAGE_N_OPTIONS; i++)
		CHECK_EQ_STR(o[i].key, keys[i]);
	CHECK_EQ_STR(o[0].value, "254:16");
	CHECK_EQ_STR(o[1].value, "empty");
	CHECK_EQ_STR(o[2].value, "fileSystem");
	CHECK_EQ_STR(o[3].value, "ext4");
	CHECK_EQ_STR(o[4].value, "-O ^has_journal -m 0 -i 163840 -I 128");
	CHECK_EQ_STR(o[5].value, "luks2");
	CHECK_EQ_STR(o[6].value, "true");
	secure_storage_options("254:16", false, SECURE_STORAGE_MKFS_OPTS, o);
	CHECK_EQ_STR(o[6].value, "false");
	/* the trusted image storage (rpc.rs cdh_handler_trusted_storage) */
	secure_storage_options("8:0", true, SECURE_STORAGE_TRUSTED_MKFS_OPTS, o);
	CHECK_EQ_STR(o[0].value, "8:0");
	CHECK_EQ_STR(o[4].value, "-E lazy_journal_init");
	CHECK_EQ_STR(o[5].value, "luks2");
}

/* upstream is_sealed_secret_path, by components (not a string prefix). */
TEST(sealed_file_paths)
{
	const char *dir = "/run/kata-containers/shared/containers", *rel = NULL;
	CHECK(sealed_file_wanted(dir,
				 "/run/kata-containers/shared/containers/"
				 "21bb-5063be11b6800f96-sealed-secret-target",
				 &rel));
	CHECK_EQ_STR(rel, "21bb-5063be11b6800f96-sealed-secret-target");
	static const char *const no[] = {
		"/run/kata-containers/shared/containers",
		"/run/kata-containers/shared/containersX/a",
		"/run/kata-containers/shared/containers/../../../etc",
		"/run/kata-containers/shared/containers/a/../../x",
		"/run/kata-containers/shared/containers//a",
		"/run/kata-containers/shared/containers/c1-resolv.conf",
		"/run/kata-containers/shared/containers/c1-hostname",
		"/run/kata-containers/shared/containers/c1-hosts",
		"/run/kata-containers/shared/containers/c1-termination-log",
		"/run/kata-containers/shared/containers/c1-serviceaccount",
		"/etc",
		NULL,
	};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		CHECK(!sealed_file_wanted(dir, no[i], &rel));
}

int main(void)
{
	return tap_run();
}
