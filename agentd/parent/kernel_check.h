/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kernel_check.h - at start, whether this kernel has the system calls the
 * agent cannot work without (doc/guest-image.md "Kernel"): a guest kernel
 * older than Linux 5.12, or one whose configuration or a seccomp filter
 * around the agent answers ENOSYS, gets one error line naming each missing
 * call and the kernel the agent needs, instead of an ENOSYS first seen in
 * the middle of a CreateContainer.
 *
 * Offers: kernel_check().
 */
#ifndef KATA_PARENT_KERNEL_CHECK_H
#define KATA_PARENT_KERNEL_CHECK_H

#include <stddef.h>

/* Calls each with arguments it must refuse (a bad fd, an empty range):
 * only ENOSYS means it is missing. The names of the missing calls go to
 * missing (comma-separated, truncated to len); returns how many. Changes
 * nothing: no fd, no process, no mount. */
int kernel_check(char *missing, size_t len);

#endif
