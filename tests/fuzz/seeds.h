/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seeds.h - for the fuzz targets' seed writers (-DFUZZ_WRITE_SEEDS):
 * seed_put() writes one seed file.
 */
#ifndef KATA_TESTS_FUZZ_SEEDS_H
#define KATA_TESTS_FUZZ_SEEDS_H

#include <stdio.h>

/* dir/name = the n bytes at b; 0, or 1 after saying why not. */
static inline int seed_put(const char *dir, const char *name, const void *b, size_t n)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	if (!f || fwrite(b, 1, n, f) != n) {
		perror(p);
		if (f)
			fclose(f);
		return 1;
	}
	return fclose(f) != 0;
}

#endif
