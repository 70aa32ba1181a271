/* SPDX-License-Identifier: Apache-2.0 */
/* cli.c - see cli.h. */
#include "cli.h"

#include "config.h"

int cli_other_option(int o, const char *prog, void (*usage)(FILE *))
{
	if (o == 'V') {
		printf("%s %s\n", prog, KATA_AGENT_VERSION);
		return 0;
	}
	if (o == 'h') {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}

int cli_bad_value(const char *prog, const char *value)
{
	fprintf(stderr, "%s: invalid option value: %s\n", prog, value ? value : "");
	return 2;
}
