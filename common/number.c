/* SPDX-License-Identifier: Apache-2.0 */
/*
 * number.c - see number.h.
 */
#include "number.h"

#include <errno.h>
#include <stdlib.h>

int number_parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	if (*s < '0' || *s > '9')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}
