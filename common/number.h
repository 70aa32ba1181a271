/* SPDX-License-Identifier: Apache-2.0 */
/*
 * number.h - numbers from the command line of the agent's processes
 * (their main()s: fds, ids, bounds), parsed one way.
 *
 * Offers: number_parse_ulong().
 */
#ifndef KATA_COMMON_NUMBER_H
#define KATA_COMMON_NUMBER_H

/* s as a decimal number at most max: digits only (no sign, space or
 * suffix), no overflow. 0 with *out set, or -EINVAL (*out untouched). */
int number_parse_ulong(const char *s, unsigned long max, unsigned long *out);

#endif
