/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_signals.c - SignalProcess's look at /proc/PID/status
 * (agentd/executor/readers/signals.c) on fixture proc trees, and the exec's
 * inherited process and environment (container/process.c, pure parts).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"
#include "log.h"
#include "process.h"
#include "signals.h"

static char root[64];

/* A fixture /proc/PID/status made of lines. */
static void put_status(int pid, const char *text)
{
	char rel[32];
	snprintf(rel, sizeof(rel), "%d/status", pid);
	tu_put_file(root, rel, text);
}

#define STATUS(name, ppid, blk, ign, cgt)                                          \
	"Name:\t" name "\nState:\tS (sleeping)\nPPid:\t" ppid "\nSigQ:\t0/1\n"     \
	"SigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t" blk "\n" \
	"SigIgn:\t" ign "\nSigCgt:\t" cgt "\nCapInh:\t0000000000000000\n"

TEST(parse)
{
	struct proc_sigmask m;
	const char *t = STATUS("sleep", "42", "0000000000000000", "0000000000000004",
			       "0000000000004002");
	REQUIRE(proc_sigmask_parse(t, strlen(t), &m) == 0);
	CHECK_EQ_INT(m.ppid, 42);
	CHECK(m.blk == 0 && m.ign == 4 && m.cgt == 0x4002);
	const char *broken = "PPid:\t1\nSigBlk:\tzz\nSigIgn:\t0\nSigCgt:\t0\n";
	CHECK_EQ_INT(proc_sigmask_parse(broken, strlen(broken), &m), -EINVAL);
	const char *missing = "PPid:\t1\nSigBlk:\t0\nSigIgn:\t0\n";
	CHECK_EQ_INT(proc_sigmask_parse(missing, strlen(missing), &m), -EINVAL);
}

TEST(handled_or_not)
{
	struct kerr e = { 0 };
	/* SIGTERM (15) is bit 14 = 0x4000 */
	put_status(100, STATUS("sleep", "7", "0000000000000000", "0000000000000000",
			       "0000000000000000"));
	CHECK_EQ_INT(proc_signal_handled(root, 100, 7, SIGTERM, &e), 0);
	put_status(101,
		   STATUS("sh", "7", "0000000000000000", "0000000000000000", "0000000000004000"));
	CHECK_EQ_INT(proc_signal_handled(root, 101, 7, SIGTERM, &e), 1);
	put_status(102,
		   STATUS("sh", "7", "0000000000004000", "0000000000000000", "0000000000000000"));
	CHECK_EQ_INT(proc_signal_handled(root, 102, 7, SIGTERM, &e), 1); /* blocked */
	put_status(103,
		   STATUS("sh", "7", "0000000000000000", "0000000000004000", "0000000000000000"));
	CHECK_EQ_INT(proc_signal_handled(root, 103, 7, SIGTERM, &e), 1); /* ignored */
	/* signal 64: the top bit */
	put_status(104,
		   STATUS("sh", "7", "0000000000000000", "0000000000000000", "8000000000000000"));
	CHECK_EQ_INT(proc_signal_handled(root, 104, 7, 64, &e), 1);
	CHECK(proc_signal_handled(root, 104, 7, 65, &e) < 0);
	CHECK(proc_signal_handled(root, 999, 7, SIGTERM, &e) < 0); /* gone */
}

/* Attack: pid reuse. The pid now belongs to a process whose parent is not
 * the monitor: "cannot tell", so the SIGTERM is left as asked. */
TEST(another_parent_cannot_tell)
{
	struct kerr e = { 0 };
	put_status(200, STATUS("victim", "1", "0000000000000000", "0000000000000000",
			       "0000000000000000"));
	CHECK(proc_signal_handled(root, 200, 7, SIGTERM, &e) < 0);
	CHECK(strstr(e.msg, "no longer the container's process") != NULL);
}

/* Attack: a process name cannot forge the masks (the kernel escapes it;
 * even unescaped, the real lines come after Name and the last one wins),
 * and a Groups line of 700 KiB does not hide them. */
TEST(forged_name_and_huge_groups)
{
	struct kerr e = { 0 };
	char *t = NULL;
	char *groups = malloc(800000);
	REQUIRE(groups != NULL);
	memset(groups, '1', 799999);
	groups[799999] = '\0';
	REQUIRE(asprintf(&t, "Name:\tx\nSigCgt:\tffffffffffffffff\nGroups:\t%s\n%s", groups,
			 STATUS("y", "7", "0000000000000000", "0000000000000000",
				"0000000000000000")) > 0);
	put_status(300, t);
	CHECK_EQ_INT(proc_signal_handled(root, 300, 7, SIGTERM, &e), 0);
	free(t);
	free(groups);
}

/* kata_agent.go cmdToKataProcess sends no Capabilities, Rlimits,
 * OOMScoreAdj or NoNewPrivileges: the exec gets the container's. */
TEST(exec_inherits_what_the_runtime_leaves_out)
{
	char *eff[] = { (char *)"CAP_CHOWN" };
	Grpc__LinuxCapabilities caps = GRPC__LINUX_CAPABILITIES__INIT;
	caps.n_effective = 1;
	caps.effective = eff;
	Grpc__POSIXRlimit rl = GRPC__POSIXRLIMIT__INIT;
	Grpc__POSIXRlimit *rls[] = { &rl };
	Grpc__Process ctr = GRPC__PROCESS__INIT;
	ctr.capabilities = &caps;
	ctr.n_rlimits = 1;
	ctr.rlimits = rls;
	ctr.oomscoreadj = 500;
	ctr.nonewprivileges = true;
	Grpc__Process ex = GRPC__PROCESS__INIT, out;
	process_exec_inherit(&out, &ex, &ctr);
	CHECK(out.capabilities == &caps && out.n_rlimits == 1 && out.rlimits == rls);
	CHECK(out.oomscoreadj == 500 && out.nonewprivileges);
	/* what the exec does carry stays its own */
	Grpc__LinuxCapabilities mine = GRPC__LINUX_CAPABILITIES__INIT;
	ex.capabilities = &mine;
	ex.oomscoreadj = -5;
	process_exec_inherit(&out, &ex, &ctr);
	CHECK(out.capabilities == &mine && out.oomscoreadj == -5);
}

TEST(env_as_upstream)
{
	char *env[] = { (char *)"A=1", (char *)"BROKEN", (char *)"=x", (char *)" B = two words ",
			(char *)"A=3", (char *)"HOME=/h" };
	Grpc__Process p = GRPC__PROCESS__INIT;
	p.n_env = 6;
	p.env = env;
	char **out = NULL;
	struct kerr e = { 0 };
	REQUIRE(process_env(&p, &out, &e) == 0);
	CHECK_EQ_STR(out[0], "A=3"); /* first place, last value */
	CHECK_EQ_STR(out[1], "B=two words");
	CHECK_EQ_STR(out[2], "HOME=/h");
	CHECK(out[3] == NULL);
	process_env_free(out);
}

int main(void)
{
	log_init("test", STDERR_FILENO, LOG_LVL_CRITICAL);
	snprintf(root, sizeof(root), "/tmp/test-signals.XXXXXX");
	if (!mkdtemp(root))
		return 1;
	int r = tap_run();
	if (tu_rm_rf(root) < 0)
		r = 1;
	return r;
}
