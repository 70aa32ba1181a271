/* SPDX-License-Identifier: Apache-2.0 */
/*
 * caps.h - capabilities by name and the process's sets, through the
 * kernel's own interface (capget/capset version 3, prctl): what the
 * container setup and the executor's workers needed from libcap, without
 * a library that Debian builds for glibc only (the daemons are static
 * PIEs on musl: agentd/meson.build).
 *
 * Offers: caps_from_name(), caps_name(), caps_count(), caps_set().
 */
#ifndef KATA_COMMON_CAPS_H
#define KATA_COMMON_CAPS_H

#include <stdint.h>

/* "cap_chown" ... "cap_checkpoint_restore", lower case, to its number;
 * -1 for a name this agent does not know. */
int caps_from_name(const char *name);

/* The name of capability v ("cap_chown"), or NULL beyond the table. */
const char *caps_name(int v);

/* How many capabilities the running kernel knows (the bounding set's
 * size: PR_CAPBSET_READ fails past the last one). */
int caps_count(void);

/* The three sets as bitmasks of capability numbers. */
struct caps_sets {
	uint64_t effective, permitted, inheritable;
};

/* capset(2) for this process. 0, or -1 with errno. */
int caps_set(const struct caps_sets *s);

#endif
