/* SPDX-License-Identifier: Apache-2.0 */
/*
 * helper_path.h - where the agent's helper binaries are
 * (kata-agent-executor, -frontend, -monitor, -policy), for the parent that
 * starts them and the executor that starts the monitors; the lookup order
 * is doc/architecture.md "Finding the helpers".
 *
 * Offers: helper_path_find(), helper_path_is_exec().
 */
#ifndef KATA_COMMON_HELPER_PATH_H
#define KATA_COMMON_HELPER_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* path is a regular file we may execute. */
bool helper_path_is_exec(const char *path);

/* The helper name into out: next to the running binary (an installed
 * libexec layout, or a copy), then in the build tree's layout
 * (agentd/<this>/<binary> next to agentd/<subdir>/<name>), then in
 * KATA_LIBEXECDIR. A path that does not fit out is not tried. 0, or
 * -ENOENT. */
int helper_path_find(const char *name, const char *subdir, char *out, size_t len);

#endif
