/* SPDX-License-Identifier: Apache-2.0 */
/*
 * caps.h - capabilities by name and the process's sets, through the
 * kernel's own interface (capget/capset version 3, prctl): what the
 * container setup and the executor's workers needed from libcap, without
 * a library that Debian builds for glibc only (the daemons are static
 * PIEs on musl: agentd/meson.build).
 *
 * Offers: caps_from_name(), caps_name(), caps_count() (caps.c); caps_set(),
 * caps_get() (here, inline: the monitor uses them without caps.c's table).
 */
#ifndef KATA_COMMON_CAPS_H
#define KATA_COMMON_CAPS_H

#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

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

/* capset(2) / capget(2) of this process, version 3 (two 32-bit words per
 * set). 0, or -1 with errno. */
static inline int caps_set(const struct caps_sets *s)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
		d[i].effective = (uint32_t)(s->effective >> (32 * i));
		d[i].permitted = (uint32_t)(s->permitted >> (32 * i));
		d[i].inheritable = (uint32_t)(s->inheritable >> (32 * i));
	}
	return (int)syscall(SYS_capset, &h, d);
}

static inline int caps_get(struct caps_sets *s)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	*s = (struct caps_sets){ 0 };
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
		s->effective |= (uint64_t)d[i].effective << (32 * i);
		s->permitted |= (uint64_t)d[i].permitted << (32 * i);
		s->inheritable |= (uint64_t)d[i].inheritable << (32 * i);
	}
	return 0;
}

#endif
