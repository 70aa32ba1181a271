/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kata-agent-launch-worker - one request of a container's launcher
 * (launcher.c "L and its workers"): started by kata-agent-launcher, with
 * CLONE_PARENT so that it is the monitor's child, for each request the
 * executor sends after the container started (LAUNCH_EXEC, a late
 * LAUNCH_START). It serves that one request with the launcher's code and
 * ends. A binary of its own rather than the executor's: it links only what
 * a launch needs (no libcrypto, none of the executor's request handlers),
 * so it starts in about half the time, on every ExecProcess.
 *
 * Fds (from kata-agent-launcher): 3 EL, 4 LM, 5 this binary (O_PATH), 6 its
 * verdict socket, 7 the packed CreateContainerRequest, 8 the init's pidfd.
 * Options: the executor's that a launch reads, and the container's.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "executor.h"
#include "launcher.h"
#include "log.h"
#include "number.h"

int main(int argc, char **argv)
{
	enum {
		O_LEVEL = 1,
		O_SHARED,
		O_CGPARENT,
		O_PIPE,
		O_CDH,
		O_ID,
		O_BUNDLE,
		O_CGPATH,
		O_PHASE
	};
	static const struct option longopts[] = {
		{ "log-level", required_argument, NULL, O_LEVEL },
		{ "shared-dir", required_argument, NULL, O_SHARED },
		{ "cgroup-parent", required_argument, NULL, O_CGPARENT },
		{ "container-pipe-size", required_argument, NULL, O_PIPE },
		{ "cdh-api-timeout-ms", required_argument, NULL, O_CDH },
		{ "launch-id", required_argument, NULL, O_ID },
		{ "launch-bundle", required_argument, NULL, O_BUNDLE },
		{ "launch-cgroups-path", required_argument, NULL, O_CGPATH },
		{ "launch-worker", required_argument, NULL, O_PHASE },
		{ NULL, 0, NULL, 0 },
	};
	static struct executor x;
	const char *phase = "", *id = "", *bundle = "", *cgpath = "";
	x.o.cgroup_parent = "";
	x.o.shared_dir = "/run/kata-containers";
	x.o.cdh_api_timeout_ms = 50000;
	x.o.level = LOG_LVL_INFO;
	unsigned long ul;
	int o, bad = 0;
	while (!bad && (o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (o) {
		case O_LEVEL:
			bad = log_level_parse(optarg, &x.o.level);
			break;
		case O_SHARED:
			x.o.shared_dir = optarg;
			break;
		case O_CGPARENT:
			x.o.cgroup_parent = optarg;
			break;
		case O_PIPE:
			bad = number_parse_ulong(optarg, 1u << 30, &ul);
			x.o.pipe_size = (uint32_t)ul;
			break;
		case O_CDH:
			bad = number_parse_ulong(optarg, 86400000ul * 7, &ul) || ul == 0;
			x.o.cdh_api_timeout_ms = ul;
			break;
		case O_ID:
			id = optarg;
			break;
		case O_BUNDLE:
			bundle = optarg;
			break;
		case O_CGPATH:
			cgpath = optarg;
			break;
		case O_PHASE:
			phase = optarg;
			break;
		default:
			bad = 1;
		}
	}
	if (bad || optind != argc) {
		fprintf(stderr, "kata-agent-launch-worker: started by kata-agent-launcher only\n");
		return 2;
	}
	return launcher_worker(&x, phase, id, bundle, cgpath);
}
