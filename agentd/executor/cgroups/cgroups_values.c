/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroups_values.c - pure conversions and checks for OCI linux.resources
 * values (see cgroups_values.h); kept apart from the file writes so the unit
 * tests can cover them without a cgroup.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cgroups_values.h"

#define IFNAME_MAX 15 /* IFNAMSIZ - 1 */

uint64_t cg_shares_to_weight(uint64_t shares)
{
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t cg_blkio_to_io_weight(uint64_t w)
{
	if (w == 0)
		return 0;
	if (w < CG_BLKIO_WEIGHT_MIN)
		w = CG_BLKIO_WEIGHT_MIN;
	if (w > CG_BLKIO_WEIGHT_MAX)
		w = CG_BLKIO_WEIGHT_MAX;
	return 1 + (w - CG_BLKIO_WEIGHT_MIN) * 9999 / (CG_BLKIO_WEIGHT_MAX - CG_BLKIO_WEIGHT_MIN);
}

int cg_hugepage_size_parse(const char *s, uint64_t *bytes)
{
	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	uint64_t v = 0;
	const char *p = s;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	unsigned shift;
	if (!strcasecmp(p, "B"))
		shift = 0;
	else if (!strcasecmp(p, "KB"))
		shift = 10;
	else if (!strcasecmp(p, "MB"))
		shift = 20;
	else if (!strcasecmp(p, "GB"))
		shift = 30;
	else
		return -EINVAL;
	if (v == 0 || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*bytes = v << shift;
	return 0;
}

void cg_hugepage_size_name(uint64_t bytes, char *buf, size_t n)
{
	if (bytes >= (1ULL << 30))
		snprintf(buf, n, "%lluGB", (unsigned long long)(bytes >> 30));
	else if (bytes >= (1ULL << 20))
		snprintf(buf, n, "%lluMB", (unsigned long long)(bytes >> 20));
	else
		snprintf(buf, n, "%lluKB", (unsigned long long)(bytes >> 10));
}

bool cg_ifname_valid(const char *name)
{
	if (!name || !name[0] || strnlen(name, IFNAME_MAX + 1) > IFNAME_MAX)
		return false;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (const char *c = name; *c; c++)
		if (*c == '/' || *c == ':' || isspace((unsigned char)*c))
			return false;
	return true;
}
