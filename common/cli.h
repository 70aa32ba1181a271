/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.h - the command-line conventions every agent binary shares (parent,
 * executor, front-end, monitor, policy): --version prints "PROG VERSION",
 * --help the usage on stdout, anything else the usage on stderr and
 * status 2; a value an option refuses is named on stderr, status 2.
 *
 * Offers: cli_other_option(), cli_bad_value().
 */
#ifndef KATA_COMMON_CLI_H
#define KATA_COMMON_CLI_H

#include <stdio.h>

/* The option switch's default: o is getopt's 'V' (--version), 'h'
 * (--help) or anything else (a usage error). The status to exit with. */
int cli_other_option(int o, const char *prog, void (*usage)(FILE *));

/* "PROG: invalid option value: VALUE" on stderr; 2. */
int cli_bad_value(const char *prog, const char *value);

#endif
