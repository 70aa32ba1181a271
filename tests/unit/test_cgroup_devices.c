/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cgroup_devices.c - device rules (agentd/executor/cgroups/cgroups_devices.c):
 * validation and merging of linux.resources.devices, the v1 lines, the BPF
 * program checked by a small interpreter against a direct evaluation of the
 * rules, and (root, a cgroup2 mount at /sys/fs/cgroup/unified) the real
 * program attached to a temporary cgroup with a child process opening
 * /dev/null and /dev/zero.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "devcg_bpf_run.h"
#include "tap.h"
#include "cgroups_internal.h"
#include "grpc_status.h"

#define CG2 "/sys/fs/cgroup/unified"

static Grpc__LinuxDeviceCgroup dev(bool allow, const char *type, int64_t major, int64_t minor,
				   const char *access)
{
	Grpc__LinuxDeviceCgroup d = GRPC__LINUX_DEVICE_CGROUP__INIT;
	d.allow = allow;
	d.type = (char *)type;
	d.major = major;
	d.minor = minor;
	d.access = (char *)access;
	return d;
}

static int merge(Grpc__LinuxDeviceCgroup *d, size_t n, struct cg_dev_rule **out, size_t *n_out,
		 struct kerr *err)
{
	Grpc__LinuxDeviceCgroup *p[8];
	for (size_t i = 0; i < n; i++)
		p[i] = &d[i];
	return cg_dev_rules_merge(NULL, 0, p, n, out, n_out, err);
}

TEST(merge_validates_each_rule_naming_its_index)
{
	struct {
		Grpc__LinuxDeviceCgroup d;
		const char *want;
	} bad[] = {
		{ dev(true, "x", 1, 3, "rwm"), "devices[1]: type \"x\"" },
		{ dev(true, "c", 1, 3, "q"), "devices[1]: access \"q\"" },
		{ dev(true, "c", 1, 3, "rr"), "devices[1]: access \"rr\"" },
		{ dev(true, "c", 1, 3, "rwmr"), "devices[1]: access" },
		{ dev(true, "c", -2, 3, "rw"), "devices[1]: major -2" },
		{ dev(true, "c", 4096, 3, "rw"), "devices[1]: major 4096" },
		{ dev(true, "c", 1, 1 << 20, "rw"), "devices[1]: minor 1048576" },
		{ dev(true, "cc", 1, 3, "rw"), "devices[1]: type \"cc\"" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		Grpc__LinuxDeviceCgroup d[2] = { dev(true, "c", 1, 3, "rwm"), bad[i].d };
		struct cg_dev_rule *out = NULL;
		size_t n = 0;
		struct kerr err = { 0 };
		CHECK(merge(d, 2, &out, &n, &err) < 0);
		CHECK_EQ_INT(err.status, GRPC_INVALID_ARGUMENT);
		if (!strstr(err.msg, bad[i].want))
			printf("# case %zu: \"%s\" lacks \"%s\"\n", i, err.msg, bad[i].want),
				*tap_failed = 1;
		CHECK(out == NULL);
	}
	/* Too many rules. */
	Grpc__LinuxDeviceCgroup one = dev(true, "c", 1, 3, "r");
	Grpc__LinuxDeviceCgroup *many[CG_DEV_SPEC_MAX + 1];
	for (size_t i = 0; i <= CG_DEV_SPEC_MAX; i++)
		many[i] = &one;
	struct cg_dev_rule *out = NULL;
	size_t n = 0;
	struct kerr err = { 0 };
	CHECK(cg_dev_rules_merge(NULL, 0, many, CG_DEV_SPEC_MAX + 1, &out, &n, &err) < 0);
	CHECK_EQ_INT(err.status, GRPC_INVALID_ARGUMENT);
}

TEST(merge_drops_deny_all_expands_a_and_keeps_zero)
{
	Grpc__LinuxDeviceCgroup d[] = {
		dev(false, "", 0, 0, "rwm"),    /* the runtime's deny all: dropped */
		dev(false, "a", -1, -1, "rwm"), /* likewise */
		dev(true, "c", 1, 3, ""),       /* empty access = rwm */
		dev(true, "b", 0, 0, "r"),      /* 0 is a real 0 */
		dev(false, "a", 7, 7, "w"),     /* a partial "a": b and c, any */
	};
	struct cg_dev_rule *out = NULL;
	size_t n = 0;
	struct kerr err = { 0 };
	REQUIRE(merge(d, 5, &out, &n, &err) == 0);
	REQUIRE(n == 4);
	char line[64];
	const char *want[] = { "c 1:3 rwm", "b 0:0 r", "b *:* w", "c *:* w" };
	for (size_t i = 0; i < 4; i++) {
		cg_dev_rule_line(&out[i], line, sizeof(line));
		CHECK_EQ_STR(line, want[i]);
	}
	CHECK(out[0].allow && !out[2].allow && !out[3].allow);
	free(out);
}

TEST(merge_appends_to_base_and_drops_shadowed_rules)
{
	Grpc__LinuxDeviceCgroup d[] = { dev(false, "c", 1, 5, "rwm"), dev(true, "c", 1, 9, "r") };
	Grpc__LinuxDeviceCgroup *p[] = { &d[0], &d[1] };
	struct cg_dev_rule *out = NULL;
	size_t n = 0;
	struct kerr err = { 0 };
	REQUIRE(cg_dev_rules_merge(cg_dev_defaults, cg_dev_n_defaults, p, 2, &out, &n, &err) == 0);
	/* c 1:5 rwm of the defaults is fully decided by the deny: gone; the
	 * default c 1:9 rwm stays (the new rule decides only r). */
	CHECK_EQ_INT(n, cg_dev_n_defaults - 1 + 2);
	char line[64];
	cg_dev_rule_line(&out[n - 2], line, sizeof(line));
	CHECK_EQ_STR(line, "c 1:5 rwm");
	CHECK(!out[n - 2].allow);
	for (size_t i = 0; i + 2 < n; i++)
		CHECK(!(out[i].major == 1 && out[i].minor == 5));
	/* Merging the same update again does not grow the list. */
	struct cg_dev_rule *again = NULL;
	size_t n2 = 0;
	REQUIRE(cg_dev_rules_merge(out, n, p, 2, &again, &n2, &err) == 0);
	CHECK_EQ_INT(n2, n);
	free(out);
	free(again);
}

/* ---- the BPF program, interpreted ------------------------------------------ */

/* The semantics, directly: each requested bit decided by the last rule that
 * matches the device and holds it; default deny. */
static int eval_rules(const struct cg_dev_rule *rules, size_t n, char type, unsigned access,
		      int64_t major, int64_t minor)
{
	for (unsigned bit = 1; bit <= 4; bit <<= 1) {
		if (!(access & bit))
			continue;
		int ok = 0;
		for (size_t i = n; i-- > 0;) {
			const struct cg_dev_rule *r = &rules[i];
			if (!(r->access & bit) || r->type != type ||
			    (r->major != CG_DEV_ANY && r->major != major) ||
			    (r->minor != CG_DEV_ANY && r->minor != minor))
				continue;
			ok = r->allow;
			break;
		}
		if (!ok)
			return 0;
	}
	return 1;
}

static int run_rules(const struct cg_dev_rule *rules, size_t n, char type, unsigned access,
		     unsigned major, unsigned minor)
{
	size_t max = cg_dev_bpf_max_insns(n);
	struct bpf_insn *p = calloc(max, sizeof(*p));
	int cnt = cg_dev_bpf_build(rules, n, p, max);
	int v = cnt < 0 ? -2
			: devcg_bpf_run(p, cnt,
					type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR,
					access, major, minor);
	free(p);
	return v;
}

TEST(bpf_program_deny_all_then_allow_null)
{
	const struct cg_dev_rule rules[] = { { true, 'c', 1, 3, CG_DEV_R | CG_DEV_W } };
	CHECK_EQ_INT(run_rules(rules, 1, 'c', CG_DEV_R | CG_DEV_W, 1, 3), 1);
	CHECK_EQ_INT(run_rules(rules, 1, 'c', CG_DEV_R, 1, 3), 1);
	CHECK_EQ_INT(run_rules(rules, 1, 'c', CG_DEV_M, 1, 3), 0);
	CHECK_EQ_INT(run_rules(rules, 1, 'c', CG_DEV_R, 1, 5), 0);
	CHECK_EQ_INT(run_rules(rules, 1, 'b', CG_DEV_R, 1, 3), 0);
	CHECK_EQ_INT(run_rules(NULL, 0, 'c', CG_DEV_R, 1, 3), 0);
	/* Last match wins. */
	const struct cg_dev_rule two[] = { { true, 'c', 1, CG_DEV_ANY, 7 },
					   { false, 'c', 1, 5, CG_DEV_W } };
	CHECK_EQ_INT(run_rules(two, 2, 'c', CG_DEV_R, 1, 5), 1);
	CHECK_EQ_INT(run_rules(two, 2, 'c', CG_DEV_R | CG_DEV_W, 1, 5), 0);
	CHECK_EQ_INT(run_rules(two, 2, 'c', CG_DEV_W, 1, 7), 1);
	const struct cg_dev_rule rev[] = { { false, 'c', 1, 5, CG_DEV_W },
					   { true, 'c', 1, CG_DEV_ANY, 7 } };
	CHECK_EQ_INT(run_rules(rev, 2, 'c', CG_DEV_W, 1, 5), 1);
}

TEST(bpf_program_matches_the_rules_on_random_lists)
{
	srand(12345);
	int mismatches = 0, cases = 0;
	for (int round = 0; round < 300; round++) {
		struct cg_dev_rule rules[24];
		size_t n = (size_t)(rand() % 24);
		for (size_t i = 0; i < n; i++) {
			rules[i] = (struct cg_dev_rule){
				.allow = rand() % 3 != 0,
				.type = rand() % 2 ? 'b' : 'c',
				.major = rand() % 4 == 0 ? CG_DEV_ANY : rand() % 3,
				.minor = rand() % 4 == 0 ? CG_DEV_ANY : rand() % 3,
				.access = 1 + (unsigned)(rand() % 7),
			};
		}
		for (int q = 0; q < 40; q++, cases++) {
			char t = rand() % 2 ? 'b' : 'c';
			unsigned acc = 1 + (unsigned)(rand() % 7), ma = (unsigned)(rand() % 3),
				 mi = (unsigned)(rand() % 3);
			if (run_rules(rules, n, t, acc, ma, mi) !=
			    eval_rules(rules, n, t, acc, ma, mi))
				mismatches++;
		}
	}
	CHECK_EQ_INT(mismatches, 0);
	CHECK(cases == 12000);
}

TEST(bpf_program_fits_the_largest_list)
{
	struct cg_dev_rule *rules = calloc(CG_DEV_EFFECTIVE_MAX, sizeof(*rules));
	for (size_t i = 0; i < CG_DEV_EFFECTIVE_MAX; i++)
		rules[i] = (struct cg_dev_rule){ i % 2, 'c', (int64_t)i, (int64_t)i, 7 };
	size_t max = cg_dev_bpf_max_insns(CG_DEV_EFFECTIVE_MAX);
	CHECK(max <= BPF_MAXINSNS);
	struct bpf_insn *p = calloc(max, sizeof(*p));
	CHECK(cg_dev_bpf_build(rules, CG_DEV_EFFECTIVE_MAX, p, max) > 0);
	CHECK_EQ_INT(cg_dev_bpf_build(rules, CG_DEV_EFFECTIVE_MAX, p, max - 1), -E2BIG);
	free(p);
	free(rules);
}

/* ---- the real program on this host's cgroup2 ------------------------------- */

/* In a child moved into dir: 0 when open(/dev/null, O_RDWR) works and
 * open(/dev/zero, O_RDONLY) gives zero_errno (0 = works). */
static int child_opens(const char *dir, int zero_errno)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char path[512], val[32];
		snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
		snprintf(val, sizeof(val), "%d", (int)getpid());
		int fd = open(path, O_WRONLY);
		if (fd < 0 || write(fd, val, strlen(val)) < 0)
			_exit(10);
		close(fd);
		int n = open("/dev/null", O_RDWR);
		if (n < 0)
			_exit(11);
		close(n);
		int z = open("/dev/zero", O_RDONLY);
		int e = z < 0 ? errno : 0;
		if (z >= 0)
			close(z);
		_exit(e == zero_errno ? 0 : 12);
	}
	int st = 0;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
}

TEST(bpf_program_attached_to_a_cgroup2_directory)
{
	if (geteuid() != 0)
		SKIP("needs root");
	struct stat st;
	if (stat(CG2 "/cgroup.procs", &st) < 0)
		SKIP_KERNEL("no cgroup2 mount at " CG2);
	char dir[256];
	snprintf(dir, sizeof(dir), CG2 "/kata-devtest-%d-%ld", (int)getpid(), (long)time(NULL));
	if (mkdir(dir, 0755) < 0)
		SKIP_KERNEL("cannot mkdir a cgroup under " CG2);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int prog = -1, prog2 = -1;
	struct kerr err = { 0 };
	const struct cg_dev_rule r1[] = { { true, 'c', 1, 3, CG_DEV_R | CG_DEV_W } };
	int r = dfd < 0 ? -1 : cg_dev_bpf_attach(dfd, r1, 1, -1, &prog, &err);
	if (r < 0 && (err.code == -EPERM || err.code == -ENOSYS)) {
		if (dfd >= 0)
			close(dfd);
		rmdir(dir);
		printf("# %s\n", err.msg);
		if (err.code == -ENOSYS)
			SKIP_KERNEL("no bpf(2) cgroup device programs in this kernel");
		SKIP_KERNEL("bpf(2) may not load/attach a cgroup device program here");
	}
	CHECK(r == 0);
	if (r == 0) {
		CHECK_EQ_INT(child_opens(dir, EPERM), 0);
		/* The update: the new program first, then the old one off. */
		const struct cg_dev_rule r2[] = { { true, 'c', 1, 3, CG_DEV_R | CG_DEV_W },
						  { true, 'c', 1, 5, CG_DEV_R | CG_DEV_W } };
		r = cg_dev_bpf_attach(dfd, r2, 2, prog, &prog2, &err);
		CHECK(r == 0);
		if (r == 0) {
			prog = -1; /* closed by the attach */
			CHECK_EQ_INT(child_opens(dir, 0), 0);
		} else {
			printf("# %s\n", err.msg);
		}
	} else {
		printf("# %s\n", err.msg);
	}
	if (prog >= 0)
		close(prog);
	if (prog2 >= 0)
		close(prog2);
	if (dfd >= 0)
		close(dfd);
	/* The children have exited: the directory is empty. */
	CHECK(rmdir(dir) == 0);
}

int main(void)
{
	return tap_run();
}
