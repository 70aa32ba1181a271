/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kata-agent-monitor - the per-container monitor (owns stdio, collects exit
 * codes, survives a front-end restart). Only the command line exists so far:
 * the executor will start one per container with a launch channel; started
 * any other way it refuses to run.
 */
#include <getopt.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kata-agent-monitor [OPTIONS]\n"
		"The per-container monitor of kata-agent; started by the executor with a\n"
		"launch channel on fd 3, not by hand.\n\n"
		"  --version   print the version and exit\n"
		"  --help      print this help and exit\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int o;
	while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (o) {
		case 'V':
			printf("kata-agent-monitor %s\n", KATA_AGENT_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("monitor", STDERR_FILENO, LOG_LVL_INFO);
	log_error("started without a launch channel: kata-agent-monitor is started by "
		  "kata-agent-executor, one per container (not implemented yet)");
	return 1;
}
