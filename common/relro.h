/* SPDX-License-Identifier: Apache-2.0 */
/*
 * relro.h - -z relro for a static PIE on musl (the per-container binaries,
 * kata-agent-monitor and kata-agent-launcher: agentd/meson.build). glibc's
 * ld.so makes the relocated data (GOT, .init_array, .dynamic) read-only
 * once it relocated it; musl's start code of a static binary relocates and
 * leaves it writable. relro_seal() does what ld.so would: mprotect the
 * pages wholly inside PT_GNU_RELRO. A no-op where ld.so already did.
 */
#ifndef KATA_COMMON_RELRO_H
#define KATA_COMMON_RELRO_H

/* 0, or -1 with errno. Call first thing in main. */
int relro_seal(void);

#endif
