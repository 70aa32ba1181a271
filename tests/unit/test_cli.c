/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cli.c - common/cli.h, the end of every agent binary's option
 * switch: --version and --help exit 0 (the version on stdout, the usage on
 * stdout), anything else 2 with the usage on stderr; a refused value is
 * named on stderr, 2.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "tap.h"

static FILE *usage_to;

static void usage(FILE *f)
{
	usage_to = f;
}

/* What fn wrote to fd (1 or 2) while it ran, into buf. */
static void capture(int fd, void (*fn)(void *), void *arg, char *buf, size_t cap)
{
	FILE *tmp = tmpfile();
	fflush(NULL);
	int saved = dup(fd);
	dup2(fileno(tmp), fd);
	fn(arg);
	fflush(NULL);
	dup2(saved, fd);
	close(saved);
	rewind(tmp);
	size_t n = fread(buf, 1, cap - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
}

static int status;
static void run_version(void *arg)
{
	status = cli_other_option('V', (const char *)arg, usage);
}
static void run_bad_value(void *arg)
{
	status = cli_bad_value("kata-agent-monitor", (const char *)arg);
}

TEST(version_prints_prog_and_version_exit_0)
{
	char out[128], want[128];
	usage_to = NULL;
	capture(STDOUT_FILENO, run_version, "kata-agent-monitor", out, sizeof(out));
	snprintf(want, sizeof(want), "kata-agent-monitor %s\n", KATA_AGENT_VERSION);
	CHECK_EQ_INT(status, 0);
	CHECK_EQ_STR(out, want);
	CHECK(usage_to == NULL);
}

TEST(help_usage_on_stdout_exit_0_anything_else_on_stderr_exit_2)
{
	usage_to = NULL;
	CHECK_EQ_INT(cli_other_option('h', "p", usage), 0);
	CHECK(usage_to == stdout);
	usage_to = NULL;
	CHECK_EQ_INT(cli_other_option('?', "p", usage), 2);
	CHECK(usage_to == stderr);
	CHECK_EQ_INT(cli_other_option('x', "p", usage), 2);
}

TEST(bad_value_named_on_stderr_exit_2)
{
	char err[128];
	capture(STDERR_FILENO, run_bad_value, "x", err, sizeof(err));
	CHECK_EQ_INT(status, 2);
	CHECK_EQ_STR(err, "kata-agent-monitor: invalid option value: x\n");
}

int main(void)
{
	return tap_run();
}
