/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroups_stats.h - the pure parsers behind cg_stats() (cgroups.h) and
 * net_dev_stats(), exposed for the unit tests (tests/unit/test_cgroups_stats.c).
 *
 * Each takes the text of one kernel file and the file's name (for the error
 * message), and fails with GRPC_INTERNAL naming the file when the text is
 * not what the kernel writes there. None touches the filesystem.
 *
 * Offers: cgs_parse_u64(), cgs_parse_u64_or_max(), cgs_parse_u64_list(),
 *         struct cgs_kv, cgs_parse_flat(), cgs_kv_get(), cgs_kv_free(),
 *         cgs_parse_blkio_v1(), cgs_parse_io_stat(), cgs_parse_net_dev(),
 *         cgs_ticks_to_ns(), cgs_hugetlb_size().
 */
#ifndef KATA_EXECUTOR_CGROUPS_STATS_H
#define KATA_EXECUTOR_CGROUPS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.pb-c.h"
#include "err.h"

/* One decimal value, optional trailing newline ("123\n"). */
int cgs_parse_u64(const char *text, const char *file, uint64_t *out, struct kerr *err);
/* The same, or the word "max", which gives max_value. */
int cgs_parse_u64_or_max(const char *text, const char *file, uint64_t max_value, uint64_t *out,
			 struct kerr *err);
/* Space separated values (cpuacct.usage_percpu); *out malloc'd (NULL when
 * *n is 0). */
int cgs_parse_u64_list(const char *text, const char *file, uint64_t **out, size_t *n,
		       struct kerr *err);

/* A flat keyed file: "key value" per line (memory.stat, cpu.stat,
 * cpuacct.stat, memory.events). */
struct cgs_kv {
	char *key;
	uint64_t value;
};
int cgs_parse_flat(const char *text, const char *file, struct cgs_kv **out, size_t *n,
		   struct kerr *err);
/* false (and *v untouched) when key is absent. */
bool cgs_kv_get(const struct cgs_kv *kv, size_t n, const char *key, uint64_t *v);
void cgs_kv_free(struct cgs_kv *kv, size_t n);

/* USER_HZ ticks (cpuacct.stat) to nanoseconds, without overflow for any
 * realistic value. */
uint64_t cgs_ticks_to_ns(uint64_t ticks, long clk_tck);

/* v1 blkio files: "MAJ:MIN Op value" lines (ops lowercased, as upstream:
 * "read", "write", "sync", "async", "discard", "total"), the summary line
 * "Total N" skipped; or "MAJ:MIN value" lines (blkio.time_recursive,
 * blkio.sectors_recursive), op "". Entries appended to *v / *n. */
int cgs_parse_blkio_v1(const char *text, const char *file, Grpc__BlkioStatsEntry ***v, size_t *n,
		       struct kerr *err);
/* v2 io.stat: "MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=.."
 * per device; one entry per known key, ops named as upstream ("read",
 * "write", "rios", "wios", "dbytes", "dios"); other keys (io.cost's) are
 * skipped. */
int cgs_parse_io_stat(const char *text, const char *file, Grpc__BlkioStatsEntry ***v, size_t *n,
		      struct kerr *err);

/* /proc/<pid>/net/dev: two header lines, then one line per interface. */
int cgs_parse_net_dev(const char *text, const char *file, Grpc__NetworkStats ***v, size_t *n,
		      struct kerr *err);

/* The size part of a hugetlb file name: "hugetlb.2MB.usage_in_bytes" with
 * suffix ".usage_in_bytes" -> "2MB" (malloc'd); NULL if the name does not
 * match (or the size contains a '.', like "2MB.rsvd"). */
char *cgs_hugetlb_size(const char *name, const char *suffix);

#endif
