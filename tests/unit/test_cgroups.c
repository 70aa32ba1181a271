/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cgroups.c - agentd/executor/cgroups/cgroups.c on the real hierarchies (needs
 * root): layout detection, creation under a private parent, placing and
 * killing a process, path validation, and the v2 half against a cgroup2
 * mount (the hybrid host's /sys/fs/cgroup/unified, or /sys/fs/cgroup on a
 * unified host). Every parent is removed at the end, even after a failure.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>

#include "cgroups.h"
#include "grpc_status.h"
#include "linux_compat.h"
#include "tap.h"
#include "testutil.h"

static char parent[64];
static const char *v2_root; /* a cgroup2 mount to test the v2 half, or NULL */

static bool is_cgroup2(const char *p)
{
	struct statfs sf;
	return statfs(p, &sf) == 0 &&
	       (unsigned long)sf.f_type == (unsigned long)CGROUP2_SUPER_MAGIC;
}

/* The v1 controller hierarchies mounted at /sys/fs/cgroup/<x> (not
 * name=systemd, not the cgroup2). */
static int v1_mounts(char out[][256], int max)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return 0;
	char line[4096];
	int n = 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		char mp[256], fstype[64], sopts[512];
		char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %*s %255s", mp) != 1 ||
		    sscanf(sep + 3, "%63s %*s %511s", fstype, sopts) != 2)
			continue;
		if (strcmp(fstype, "cgroup") || strncmp(mp, "/sys/fs/cgroup/", 15))
			continue;
		if (!strcmp(mp, "/sys/fs/cgroup/systemd"))
			continue;
		snprintf(out[n++], 256, "%s", mp);
	}
	fclose(f);
	return n;
}

static bool has_pid(const char *procs_file, pid_t pid)
{
	char *s = tu_read_file(procs_file);
	bool found = false;
	for (char *p = s; p && *p;) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (v == pid)
			found = true;
		p = end + (*end == '\n');
	}
	free(s);
	return found;
}

/* Depth-first: kill what is inside and rmdir (test cleanup, whatever state). */
static void rm_cgroup_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char sub[PATH_MAX + 260];
		snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		rm_cgroup_tree(sub);
	}
	closedir(d);
	char procs[PATH_MAX + 16];
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	for (int i = 0; i < 100 && rmdir(dir) < 0 && errno == EBUSY; i++) {
		char *s = tu_read_file(procs);
		for (char *p = s; p && *p;) {
			char *end;
			long v = strtol(p, &end, 10);
			if (end == p)
				break;
			kill((pid_t)v, SIGKILL);
			p = end + (*end == '\n');
		}
		free(s);
		usleep(10000);
	}
}

static void cleanup_parents(void)
{
	char m[32][256];
	int n = v1_mounts(m, 32);
	char p[PATH_MAX];
	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%.255s/%.300s", m[i], parent);
		rm_cgroup_tree(p);
	}
	if (v2_root) {
		snprintf(p, sizeof(p), "%s/%s", v2_root, parent);
		rm_cgroup_tree(p);
	}
	if (is_cgroup2("/sys/fs/cgroup")) {
		snprintf(p, sizeof(p), "/sys/fs/cgroup/%s", parent);
		rm_cgroup_tree(p);
	}
}

static pid_t spawn_sleeper(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

TEST(detect_host_layout)
{
	struct cg_config cfg = { .parent = parent };
	enum cg_layout l = 0;
	struct kerr err = { 0 };
	REQUIRE(cg_detect(&cfg, &l, &err) == 0);
	if (is_cgroup2("/sys/fs/cgroup")) {
		CHECK_EQ_INT(l, CG_V2);
	} else {
		/* v1 or hybrid (this CI host: v1 controllers + cgroup2 at unified). */
		CHECK_EQ_INT(l, CG_V1);
	}
	if (v2_root) {
		struct cg_config c2 = { .parent = parent, .root_override = v2_root };
		CHECK(cg_detect(&c2, &l, &err) == 0);
		CHECK_EQ_INT(l, CG_V2);
	}
	struct cg_config bad = { .parent = parent, .root_override = "/nonexistent-cgroup-root" };
	CHECK(cg_detect(&bad, &l, &err) < 0);
}

TEST(create_add_destroy_host)
{
	struct cg_config cfg = { .parent = parent };
	struct kerr err = { 0 };
	struct cgroup *cg = NULL;
	int r = cg_create(&cfg, "", "c1", &cg, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	REQUIRE(r == 0);
	char want[128];
	snprintf(want, sizeof(want), "%s/c1", parent);
	CHECK_EQ_STR(cg_path(cg), want);
	enum cg_layout l = cg_layout_of(cg);
	char m[32][256];
	int n = l == CG_V1 ? v1_mounts(m, 32) : 0;
	if (l == CG_V1) {
		CHECK(n > 0);
		CHECK_EQ_INT(cg_v2_fd(cg), -1);
	} else {
		snprintf(m[0], sizeof(m[0]), "/sys/fs/cgroup");
		n = 1;
		CHECK(cg_v2_fd(cg) >= 0);
	}
	char p[PATH_MAX];
	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%.255s/%.300s", m[i], want);
		if (!tu_is_dir(p)) {
			printf("# missing %s\n", p);
			CHECK(0);
		}
	}
	if (l == CG_V1 && tu_is_dir("/sys/fs/cgroup/cpuset")) {
		snprintf(p, sizeof(p), "/sys/fs/cgroup/cpuset/%s/cpuset.cpus", want);
		char *c = tu_read_file(p);
		CHECK(c && c[0] && c[0] != '\n');
		free(c);
	}
	pid_t pid = spawn_sleeper();
	REQUIRE(pid > 0);
	r = cg_add_pid(cg, pid, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	CHECK(r == 0);
	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%.255s/%.300s/cgroup.procs", m[i], want);
		if (!has_pid(p, pid)) {
			printf("# pid %d not in %s\n", (int)pid, p);
			CHECK(0);
		}
	}
	/* The executor reaps its own children; here the test does, after
	 * cg_destroy killed the child (SIGCHLD is default: no zombie reaping
	 * needed for rmdir). */
	r = cg_destroy(cg, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	CHECK(r == 0);
	int st = 0;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%.255s/%.300s", m[i], want);
		CHECK(!tu_is_dir(p));
		/* The parent (made by cg_create) stays for the next container. */
		snprintf(p, sizeof(p), "%.255s/%.300s", m[i], parent);
		CHECK(tu_is_dir(p));
	}
	CHECK(cg_parent_remove(&cfg, &err) == 0);
	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%.255s/%.300s", m[i], parent);
		CHECK(!tu_is_dir(p));
	}
}

TEST(nested_path_removed_deepest_first)
{
	struct cg_config cfg = { .parent = parent };
	struct kerr err = { 0 };
	struct cgroup *cg = NULL;
	int r = cg_create(&cfg, "/kubepods/pod1/ctr", "ignored", &cg, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	REQUIRE(r == 0);
	char want[256];
	snprintf(want, sizeof(want), "%s/kubepods/pod1/ctr", parent);
	CHECK_EQ_STR(cg_path(cg), want);
	/* A sibling made by another owner keeps kubepods alive. */
	struct cgroup *cg2 = NULL;
	REQUIRE(cg_create(&cfg, "kubepods/pod2", "x", &cg2, &err) == 0);
	CHECK(cg_destroy(cg, &err) == 0);
	char p[PATH_MAX];
	const char *m0 = cg_layout_of(cg2) == CG_V1 ? "/sys/fs/cgroup/pids" : "/sys/fs/cgroup";
	if (tu_is_dir(m0)) {
		snprintf(p, sizeof(p), "%s/%s/kubepods/pod1", m0, parent);
		CHECK(!tu_is_dir(p));
		snprintf(p, sizeof(p), "%s/%s/kubepods/pod2", m0, parent);
		CHECK(tu_is_dir(p));
	}
	CHECK(cg_destroy(cg2, &err) == 0);
	if (tu_is_dir(m0)) {
		snprintf(p, sizeof(p), "%s/%s/kubepods", m0, parent);
		/* Empty now: removed with the last cgroup below it. */
		CHECK(!tu_is_dir(p));
		snprintf(p, sizeof(p), "%s/%s", m0, parent);
		CHECK(tu_is_dir(p));
	}
	cleanup_parents();
}

/* Review finding 3: the systemd form becomes a cgroupfs path as upstream's
 * agent makes it when it is the guest's init: every ':' turned into '/'. */
TEST(systemd_paths)
{
	struct cg_config cfg = { .parent = parent };
	struct kerr err = { 0 };
	const struct {
		const char *in, *out;
	} cases[] = {
		{ "system.slice:kata:abc", "system.slice/kata/abc" },
		{ "a-b.slice:p:n", "a-b.slice/p/n" },
		{ "kubepods.slice::c1", "kubepods.slice/c1" },
		{ ":p:n", "p/n" },
		{ "a:b:", "a/b" },
		{ "/kubepods:x:y", "kubepods/x/y" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cgroup *cg = NULL;
		kerr_clear(&err);
		int r = cg_create(&cfg, cases[i].in, "x", &cg, &err);
		if (r < 0)
			printf("# %s: %s\n", cases[i].in, err.msg);
		CHECK(r == 0);
		if (r < 0)
			continue;
		char want[256];
		snprintf(want, sizeof(want), "%s/%s", parent, cases[i].out);
		CHECK_EQ_STR(cg_path(cg), want);
		CHECK(cg_destroy(cg, &err) == 0);
	}
	cleanup_parents();
}

TEST(bad_paths_refused)
{
	struct cg_config cfg = { .parent = parent };
	struct kerr err = { 0 };
	struct cgroup *cg = NULL;
	static char longp[2100];
	memset(longp, 'a', sizeof(longp) - 1);
	for (size_t i = 100; i < sizeof(longp) - 1; i += 100)
		longp[i] = '/';
	const char *bad[] = { "../escape", "a/../../b", "/..", "x/..",   longp,   "bad\nname",
			      "/",         ".",         "::",  "a:..:b", "..:x:y" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kerr_clear(&err);
		cg = NULL;
		int r = cg_create(&cfg, bad[i], "c", &cg, &err);
		if (r >= 0) {
			printf("# accepted: %s -> %s\n", bad[i], cg_path(cg));
			cg_destroy(cg, &err);
		}
		CHECK(r < 0);
		CHECK_EQ_INT(kerr_status(&err), GRPC_INVALID_ARGUMENT);
	}
	printf("# %s\n", err.msg);
	const char *bad_ids[] = { "", "..", "a/b" };
	for (size_t i = 0; i < 3; i++) {
		kerr_clear(&err);
		CHECK(cg_create(&cfg, "", bad_ids[i], &cg, &err) < 0);
		CHECK_EQ_INT(kerr_status(&err), GRPC_INVALID_ARGUMENT);
	}
	struct cg_config badparent = { .parent = "../up" };
	CHECK(cg_create(&badparent, "", "c", &cg, &err) < 0);
	CHECK_EQ_INT(kerr_status(&err), GRPC_INVALID_ARGUMENT);
	cleanup_parents();
}

TEST(v2_on_cgroup2_mount)
{
	if (!v2_root)
		SKIP_KERNEL("no cgroup2 mount to test");
	struct cg_config cfg = { .parent = parent, .root_override = v2_root };
	struct kerr err = { 0 };
	struct cgroup *cg = NULL;
	int r = cg_create(&cfg, NULL, "v2c", &cg, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	REQUIRE(r == 0);
	CHECK_EQ_INT(cg_layout_of(cg), CG_V2);
	int fd = cg_v2_fd(cg);
	CHECK(fd >= 0);
	char dir[PATH_MAX], procs[PATH_MAX + 16];
	snprintf(dir, sizeof(dir), "%s/%s/v2c", v2_root, parent);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	CHECK(tu_is_dir(dir));
	pid_t pid = spawn_sleeper();
	REQUIRE(pid > 0);
	CHECK(cg_add_pid(cg, pid, &err) == 0);
	CHECK(has_pid(procs, pid));
	/* The fd is good for CLONE_INTO_CGROUP. */
	struct kclone_args ca = { .flags = CLONE_INTO_CGROUP,
				  .exit_signal = SIGCHLD,
				  .cgroup = (uint64_t)fd };
	pid_t c2 = sys_clone3(&ca);
	if (c2 == 0) {
		for (;;)
			pause();
	}
	if (c2 < 0)
		printf("# clone3 CLONE_INTO_CGROUP: %s\n", strerror(errno));
	CHECK(c2 > 0);
	if (c2 > 0)
		CHECK(has_pid(procs, c2));
	r = cg_destroy(cg, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	CHECK(r == 0);
	int st = 0;
	CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	if (c2 > 0)
		CHECK(waitpid(c2, &st, 0) == c2 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	CHECK(!tu_is_dir(dir));
	CHECK(cg_parent_remove(&cfg, &err) == 0);
	snprintf(dir, sizeof(dir), "%s/%s", v2_root, parent);
	CHECK(!tu_is_dir(dir));
}

/* The file below the container's cgroup in the v1 hierarchy of ctrl. */
static char *v1_file(const char *ctrl, const char *id, const char *file)
{
	static char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "/sys/fs/cgroup/%s/%s/%s/%s", ctrl, parent, id, file);
	char *s = tu_read_file(buf);
	if (!s)
		return strdup("(missing)");
	s[strcspn(s, "\n")] = '\0';
	return s;
}

#define CHECK_FILE(ctrl, id, file, want)                                    \
	do {                                                                \
		char *got_ = v1_file(ctrl, id, file);                       \
		if (strcmp(got_, want))                                     \
			printf("# %s: got %s want %s\n", file, got_, want); \
		CHECK(!strcmp(got_, want));                                 \
		free(got_);                                                 \
	} while (0)

TEST(v1_apply_resources)
{
	struct cg_config cfg = { .parent = parent };
	enum cg_layout l = 0;
	struct kerr err = { 0 };
	if (cg_detect(&cfg, &l, &err) < 0 || l != CG_V1 || !tu_is_dir("/sys/fs/cgroup/memory") ||
	    !tu_is_dir("/sys/fs/cgroup/pids") || !tu_is_dir("/sys/fs/cgroup/cpu") ||
	    !tu_is_dir("/sys/fs/cgroup/cpuset")) {
		SKIP_KERNEL("not a v1 host with memory, cpu, cpuset and pids");
	}
	struct cgroup *cg = NULL;
	REQUIRE(cg_create(&cfg, NULL, "res", &cg, &err) == 0);
	Grpc__LinuxMemory mem = GRPC__LINUX_MEMORY__INIT;
	Grpc__LinuxCPU cpu = GRPC__LINUX_CPU__INIT;
	Grpc__LinuxPids pids = GRPC__LINUX_PIDS__INIT;
	Grpc__LinuxResources res = GRPC__LINUX_RESOURCES__INIT;
	mem.limit = 64 << 20;
	mem.reservation = 32 << 20;
	mem.swappiness = 30;
	mem.disableoomkiller = true;
	bool memsw = access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0;
	if (memsw)
		mem.swap = 128 << 20;
	cpu.shares = 512;
	cpu.quota = 50000;
	cpu.period = 100000;
	cpu.cpus = (char *)"0";
	cpu.mems = (char *)"0";
	pids.limit = 50;
	res.memory = &mem;
	res.cpu = &cpu;
	res.pids = &pids;
	int r = cg_apply_resources(cg, &res, CG_APPLY_ALL, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	CHECK(r == 0);
	CHECK_FILE("memory", "res", "memory.limit_in_bytes", "67108864");
	CHECK_FILE("memory", "res", "memory.soft_limit_in_bytes", "33554432");
	if (memsw)
		CHECK_FILE("memory", "res", "memory.memsw.limit_in_bytes", "134217728");
	CHECK_FILE("memory", "res", "memory.swappiness", "30");
	CHECK_FILE("memory", "res", "memory.oom_control", "oom_kill_disable 1");
	CHECK_FILE("cpu", "res", "cpu.shares", "512");
	CHECK_FILE("cpu", "res", "cpu.cfs_quota_us", "50000");
	CHECK_FILE("cpu", "res", "cpu.cfs_period_us", "100000");
	CHECK_FILE("cpuset", "res", "cpuset.cpus", "0");
	CHECK_FILE("pids", "res", "pids.max", "50");

	/* Unset fields stay: only pids changes. */
	Grpc__LinuxResources only_pids = GRPC__LINUX_RESOURCES__INIT;
	Grpc__LinuxPids p2 = GRPC__LINUX_PIDS__INIT;
	p2.limit = -1;
	only_pids.pids = &p2;
	CHECK(cg_apply_resources(cg, &only_pids, CG_APPLY_ALL, &err) == 0);
	CHECK_FILE("pids", "res", "pids.max", "max");
	CHECK_FILE("memory", "res", "memory.limit_in_bytes", "67108864");
	CHECK_FILE("cpu", "res", "cpu.shares", "512");

	/* Growing memory+swap writes memsw first: both succeed. */
	Grpc__LinuxResources grow = GRPC__LINUX_RESOURCES__INIT;
	Grpc__LinuxMemory m2 = GRPC__LINUX_MEMORY__INIT;
	m2.limit = 256 << 20;
	if (memsw)
		m2.swap = 512 << 20;
	grow.memory = &m2;
	r = cg_apply_resources(cg, &grow, CG_APPLY_ALL, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	CHECK(r == 0);
	CHECK_FILE("memory", "res", "memory.limit_in_bytes", "268435456");

	/* A refused value: INVALID_ARGUMENT naming file and value; what was
	 * written before it (memory, then pids) is restored. */
	Grpc__LinuxResources bad = GRPC__LINUX_RESOURCES__INIT;
	Grpc__LinuxMemory m3 = GRPC__LINUX_MEMORY__INIT;
	Grpc__LinuxCPU c3 = GRPC__LINUX_CPU__INIT;
	Grpc__LinuxPids p3 = GRPC__LINUX_PIDS__INIT;
	m3.limit = 32 << 20;
	c3.shares = 1024;
	c3.cpus = (char *)"4095";
	p3.limit = 7;
	bad.memory = &m3;
	bad.cpu = &c3;
	bad.pids = &p3;
	kerr_clear(&err);
	r = cg_apply_resources(cg, &bad, CG_APPLY_ALL, &err);
	printf("# %s\n", err.msg);
	CHECK(r < 0);
	CHECK_EQ_INT(kerr_status(&err), GRPC_INVALID_ARGUMENT);
	CHECK(strstr(err.msg, "cpuset.cpus") && strstr(err.msg, "4095"));
	CHECK_FILE("memory", "res", "memory.limit_in_bytes", "268435456");
	CHECK_FILE("cpu", "res", "cpu.shares", "512");
	CHECK_FILE("cpuset", "res", "cpuset.cpus", "0");
	CHECK_FILE("pids", "res", "pids.max", "max");

	/* Checked before any write. */
	Grpc__LinuxResources bad2 = GRPC__LINUX_RESOURCES__INIT;
	Grpc__LinuxMemory m4 = GRPC__LINUX_MEMORY__INIT;
	m4.swappiness = 101;
	bad2.memory = &m4;
	CHECK(cg_apply_resources(cg, &bad2, CG_APPLY_ALL, &err) < 0);
	CHECK_EQ_INT(kerr_status(&err), GRPC_INVALID_ARGUMENT);
	CHECK(cg_apply_resources(cg, NULL, CG_APPLY_ALL, &err) == 0);
	CHECK(cg_destroy(cg, &err) == 0);
	cleanup_parents();
}

/* This host's cgroup2 (unified) has only hugetlb: memory/cpu/pids writes
 * cannot be exercised there, only that a missing controller file is
 * FAILED_PRECONDITION and that nothing is written. */
TEST(v2_apply_resources_missing_controller)
{
	if (!v2_root)
		SKIP_KERNEL("no cgroup2 mount to test");
	struct cg_config cfg = { .parent = parent, .root_override = v2_root };
	struct kerr err = { 0 };
	struct cgroup *cg = NULL;
	REQUIRE(cg_create(&cfg, NULL, "v2r", &cg, &err) == 0);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s/v2r/memory.max", v2_root, parent);
	Grpc__LinuxResources res = GRPC__LINUX_RESOURCES__INIT;
	Grpc__LinuxPids pids = GRPC__LINUX_PIDS__INIT;
	pids.limit = 5;
	res.pids = &pids;
	snprintf(path, sizeof(path), "%s/%s/v2r/pids.max", v2_root, parent);
	int r = cg_apply_resources(cg, &res, CG_APPLY_ALL, &err);
	if (access(path, F_OK) == 0) {
		printf("# pids controller present in %s: writes tested\n", v2_root);
		CHECK(r == 0);
		char *s = tu_read_file(path);
		CHECK(s && !strncmp(s, "5", 1));
		free(s);
	} else {
		printf("# %s\n", err.msg);
		CHECK(r < 0);
		CHECK_EQ_INT(kerr_status(&err), GRPC_FAILED_PRECONDITION);
	}
	CHECK(cg_destroy(cg, &err) == 0);
	cleanup_parents();
}

/* hugetlb is the one controller this host's cgroup2 has: the v2 hugetlb
 * writer is tested for real; realtime and network on v2 are refused /
 * ignored before any write. */
TEST(v2_apply_hugetlb_rt_network)
{
	if (!v2_root)
		SKIP_KERNEL("no cgroup2 mount to test");
	struct cg_config cfg = { .parent = parent, .root_override = v2_root };
	struct kerr err = { 0 };
	struct cgroup *cg = NULL;
	REQUIRE(cg_create(&cfg, NULL, "v2h", &cg, &err) == 0);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s/v2h/hugetlb.2MB.max", v2_root, parent);
	Grpc__LinuxResources res = GRPC__LINUX_RESOURCES__INIT;
	Grpc__LinuxHugepageLimit hl = GRPC__LINUX_HUGEPAGE_LIMIT__INIT;
	Grpc__LinuxHugepageLimit *hls[] = { &hl };
	hl.pagesize = "2MB";
	hl.limit = 4194304;
	res.n_hugepagelimits = 1;
	res.hugepagelimits = hls;
	int r = cg_apply_resources(cg, &res, CG_APPLY_ALL, &err);
	if (access(path, F_OK) == 0) {
		CHECK(r == 0);
		char *s = tu_read_file(path);
		CHECK(s && !strncmp(s, "4194304\n", 8));
		free(s);
	} else {
		printf("# no %s (no 2 MB pages or no hugetlb in the cgroup2): %s\n", path, err.msg);
		CHECK(r < 0);
	}
	/* A size the kernel lacks: refused before any write. */
	hl.pagesize = "3MB";
	hl.limit = 0;
	CHECK(cg_apply_resources(cg, &res, CG_APPLY_ALL, &err) < 0);
	CHECK_EQ_INT(kerr_status(&err), GRPC_INVALID_ARGUMENT);
	CHECK(strstr(err.msg, "3MB") != NULL);

	/* Realtime on v2: INVALID_ARGUMENT, and the hugetlb limit of the same
	 * request is not written. */
	hl.pagesize = "2MB";
	hl.limit = 2097152;
	Grpc__LinuxCPU cpu = GRPC__LINUX_CPU__INIT;
	cpu.realtimeruntime = 1000;
	res.cpu = &cpu;
	CHECK(cg_apply_resources(cg, &res, CG_APPLY_ALL, &err) < 0);
	CHECK_EQ_INT(kerr_status(&err), GRPC_INVALID_ARGUMENT);
	CHECK(strstr(err.msg, "realtime") != NULL);
	if (access(path, F_OK) == 0) {
		char *s = tu_read_file(path);
		CHECK(s && !strncmp(s, "4194304\n", 8));
		free(s);
	}
	/* Network on v2: no controller, ignored with a warning. */
	Grpc__LinuxResources net_only = GRPC__LINUX_RESOURCES__INIT;
	Grpc__LinuxNetwork net = GRPC__LINUX_NETWORK__INIT;
	net.classid = 42;
	net_only.network = &net;
	CHECK(cg_apply_resources(cg, &net_only, CG_APPLY_ALL, &err) == 0);
	CHECK(cg_destroy(cg, &err) == 0);
	cleanup_parents();
}

/* Freeze, wait for it (bounded), thaw; the sleeper is stopped meanwhile. */
static void freeze_cycle(int *tap_failed, const struct cg_config *cfg, const char *id)
{
	struct kerr err = { 0 };
	struct cgroup *cg = NULL;
	REQUIRE(cg_create(cfg, NULL, id, &cg, &err) == 0);
	pid_t pid = spawn_sleeper();
	REQUIRE(pid > 0);
	CHECK(cg_add_pid(cg, pid, &err) == 0);
	int r = cg_freeze(cg, true, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	CHECK(r == 0);
	int reached = 0;
	for (int i = 0; i < 200 && (reached = cg_freeze_reached(cg, true, &err)) == 0; i++)
		usleep(10000);
	CHECK(reached == 1);
	CHECK(cg_freeze_reached(cg, false, &err) == 0);
	CHECK(cg_freeze(cg, false, &err) == 0);
	for (int i = 0; i < 200 && (reached = cg_freeze_reached(cg, false, &err)) == 0; i++)
		usleep(10000);
	CHECK(reached == 1);
	/* Destroying a frozen cgroup still kills and removes it. */
	CHECK(cg_freeze(cg, true, &err) == 0);
	r = cg_destroy(cg, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	CHECK(r == 0);
	int st = 0;
	CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st));
}

TEST(freeze_thaw_host)
{
	struct cg_config cfg = { .parent = parent };
	enum cg_layout l = 0;
	struct kerr err = { 0 };
	REQUIRE(cg_detect(&cfg, &l, &err) == 0);
	if (l == CG_V1 && !tu_is_dir("/sys/fs/cgroup/freezer"))
		SKIP_KERNEL("no v1 freezer");
	freeze_cycle(tap_failed, &cfg, "frz");
	cleanup_parents();
}

TEST(freeze_thaw_v2)
{
	if (!v2_root)
		SKIP_KERNEL("no cgroup2 mount to test");
	struct cg_config cfg = { .parent = parent, .root_override = v2_root };
	freeze_cycle(tap_failed, &cfg, "frz2");
	cleanup_parents();
}

/* Whether the cgroup id below parent exists in cfg's layout (every v1
 * controller hierarchy, or the cgroup2 root). */
static bool cgroup_exists(const struct cg_config *cfg, const char *id)
{
	char m[32][256], p[PATH_MAX];
	int n = 0;
	if (cfg->root_override)
		snprintf(m[n++], sizeof(m[0]), "%s", cfg->root_override);
	else if (is_cgroup2("/sys/fs/cgroup"))
		snprintf(m[n++], sizeof(m[0]), "/sys/fs/cgroup");
	else
		n = v1_mounts(m, 32);
	bool any = false;
	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%.255s/%.60s/%.60s", m[i], parent, id);
		any |= tu_is_dir(p);
	}
	return any;
}

/* cg_open (the spawner's and the launch workers' way in) finds what
 * cg_create made: the same path and layout, the v2 fd, a pid placed in
 * every hierarchy; and it makes nothing: a missing cgroup stays missing
 * (v2: refused; v1: placing a pid fails). */
static void open_cycle(int *tap_failed, const struct cg_config *cfg, const char *id)
{
	struct kerr err = { 0 };
	struct cgroup *cg = NULL, *found = NULL;
	REQUIRE(cg_create(cfg, NULL, id, &cg, &err) == 0);
	int r = cg_open(cfg, NULL, id, &found, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	REQUIRE(r == 0);
	CHECK_EQ_STR(cg_path(found), cg_path(cg));
	CHECK_EQ_INT(cg_layout_of(found), cg_layout_of(cg));
	CHECK_EQ_INT(cg_v2_fd(found) >= 0, cg_layout_of(cg) == CG_V2);
	pid_t pid = spawn_sleeper();
	REQUIRE(pid > 0);
	CHECK(cg_add_pid(found, pid, &err) == 0);
	cg_forget(found);
	CHECK(cgroup_exists(cfg, id));
	/* The pid is in the cgroup: removal kills it (EBUSY, then the kill). */
	CHECK(cg_destroy(cg, &err) == 0);
	int st = 0;
	CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	CHECK(!cgroup_exists(cfg, id));

	char missing[64];
	snprintf(missing, sizeof(missing), "%s-missing", id);
	struct cgroup *none = NULL;
	kerr_clear(&err);
	r = cg_open(cfg, NULL, missing, &none, &err);
	if (r == 0) {
		CHECK_EQ_INT(cg_layout_of(none), CG_V1);
		pid_t p2 = spawn_sleeper();
		REQUIRE(p2 > 0);
		CHECK(cg_add_pid(none, p2, &err) < 0);
		kill(p2, SIGKILL);
		waitpid(p2, NULL, 0);
		cg_forget(none);
	}
	CHECK(!cgroup_exists(cfg, missing));
}

TEST(open_finds_what_create_made)
{
	struct cg_config cfg = { .parent = parent };
	open_cycle(tap_failed, &cfg, "opn");
	cleanup_parents();
}

TEST(open_finds_what_create_made_v2)
{
	if (!v2_root)
		SKIP_KERNEL("no cgroup2 mount to test");
	struct cg_config cfg = { .parent = parent, .root_override = v2_root };
	open_cycle(tap_failed, &cfg, "opn2");
	cleanup_parents();
}

int main(void)
{
	if (tu_main_root_mount_ns() < 0)
		return 0;
	if (!tu_is_dir("/sys/fs/cgroup")) {
		printf("1..0 # SKIP kernel: no /sys/fs/cgroup\n");
		return 0;
	}
	snprintf(parent, sizeof(parent), "kata-test-cg-%d", (int)getpid());
	if (is_cgroup2("/sys/fs/cgroup/unified"))
		v2_root = "/sys/fs/cgroup/unified";
	else if (is_cgroup2("/sys/fs/cgroup"))
		v2_root = "/sys/fs/cgroup";
	atexit(cleanup_parents);
	int r = tap_run();
	cleanup_parents();
	return r;
}
