/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroups_values.h - pure conversions and checks for OCI linux.resources
 * values (no file access), shared by cgroups_resources.c and the unit tests.
 *
 * Offers: cg_shares_to_weight(), cg_blkio_to_io_weight(),
 *         cg_hugepage_size_parse(), cg_hugepage_size_name(),
 *         cg_ifname_valid(), CG_BLKIO_WEIGHT_MIN/MAX.
 */
#ifndef KATA_EXECUTOR_CGROUPS_VALUES_H
#define KATA_EXECUTOR_CGROUPS_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* OCI's range for blockIO weights (v1 blkio.weight's range). */
#define CG_BLKIO_WEIGHT_MIN 10
#define CG_BLKIO_WEIGHT_MAX 1000

/* runc's mapping of cpu.shares (2..262144, clamped) onto cpu.weight
 * (1..10000). */
uint64_t cg_shares_to_weight(uint64_t shares);

/* runc's mapping of a blkio weight (10..1000) onto io.weight (1..10000):
 * 10 -> 1, 500 -> 4950 (rounded down), 1000 -> 10000; 0 stays 0 (unset).
 * Values outside 10..1000 are clamped first. */
uint64_t cg_blkio_to_io_weight(uint64_t w);

/* "2MB", "1GB", "64KB" (also "kB"/"Kb"... any case of the unit letters,
 * and "B" alone for bytes): the size in bytes. -EINVAL for anything else
 * (no digits, unknown unit, overflow, 0). */
int cg_hugepage_size_parse(const char *s, uint64_t *bytes);

/* The kernel's name for a huge page size, as in hugetlb.<name>.max:
 * "1GB" from 1 GiB on, "2MB" from 1 MiB on, else "64KB" (mm/hugetlb_cgroup.c
 * mem_fmt). */
void cg_hugepage_size_name(uint64_t bytes, char *buf, size_t n);

/* A name the kernel could have given a network interface (dev_valid_name):
 * 1..15 bytes, not "." or "..", no '/', ':' or white space. */
bool cg_ifname_valid(const char *name);

#endif
