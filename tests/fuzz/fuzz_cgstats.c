/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_cgstats.c - libFuzzer target for the parsers behind StatsContainer
 * (agentd/executor/cgroups/cgroups_stats.c, pure: cgroups_stats.h) on any text:
 * single values, "max", per-cpu lists, flat keyed files (memory.stat,
 * cpu.stat, memory.events), v1 blkio files, v2 io.stat, hugetlb file names,
 * and /proc/<pid>/net/dev of the container's init, whose interface names
 * the container chooses when it has its own network namespace.
 *
 * Input: u8 which parser, then the file's text.
 *
 * Checked: a refusal is INTERNAL naming the file; a value list or entry
 * list is what was counted; every string that goes into the
 * StatsContainerResponse (blkio ops, interface names) is UTF-8, as a proto3
 * string must be for the runtime to decode the answer, and the response
 * packs.
 *
 * Seeds: files as the kernel writes them (v1 and v2, from a busy guest).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cgroups_stats.h"
#include "fuzz.h"
#include "grpc_status.h"
#include "utf8.h"

#define FILE_NAME "fuzz-file"

static void check_refusal(int r, const struct kerr *e)
{
	FUZZ_ASSERT(r == -ENOMEM || kerr_status(e) == GRPC_INTERNAL, "refused with status %d: %s",
		    kerr_status(e), e->msg);
	FUZZ_ASSERT(strstr(e->msg, FILE_NAME), "the refusal does not name the file: %s", e->msg);
}

static void check_string(const char *s, const char *what)
{
	FUZZ_ASSERT(s && utf8_valid(s, strlen(s)), "%s is not UTF-8", what);
}

static void blkio(int v2, const char *text)
{
	Grpc__BlkioStatsEntry **v = NULL;
	size_t n = 0;
	struct kerr e = { 0 };
	int r = v2 ? cgs_parse_io_stat(text, FILE_NAME, &v, &n, &e)
		   : cgs_parse_blkio_v1(text, FILE_NAME, &v, &n, &e);
	if (r < 0)
		check_refusal(r, &e);
	/* Entries appended before a refusal stay the caller's to free. */
	Grpc__BlkioStats bs = GRPC__BLKIO_STATS__INIT;
	bs.io_service_bytes_recursive = v;
	bs.n_io_service_bytes_recursive = n;
	for (size_t i = 0; i < n; i++)
		check_string(v[i]->op, "a blkio op");
	size_t len = grpc__blkio_stats__get_packed_size(&bs);
	uint8_t *b = malloc(len + 1);
	FUZZ_ASSERT(b && grpc__blkio_stats__pack(&bs, b) == len, "pack");
	free(b);
	for (size_t i = 0; i < n; i++)
		grpc__blkio_stats_entry__free_unpacked(v[i], NULL);
	free(v);
}

static void net_dev(const char *text)
{
	Grpc__NetworkStats **v = NULL;
	size_t n = 0;
	struct kerr e = { 0 };
	int r = cgs_parse_net_dev(text, FILE_NAME, &v, &n, &e);
	if (r < 0)
		check_refusal(r, &e);
	for (size_t i = 0; i < n; i++) {
		check_string(v[i]->name, "an interface name");
		FUZZ_ASSERT(*v[i]->name && !strchr(v[i]->name, ':'), "interface name \"%s\"",
			    v[i]->name);
		grpc__network_stats__free_unpacked(v[i], NULL);
	}
	free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *text = malloc(size);
	FUZZ_ASSERT(text, "out of memory");
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	struct kerr e = { 0 };
	uint64_t u;
	int r;
	switch (data[0] % 8) {
	case 0:
		if ((r = cgs_parse_u64(text, FILE_NAME, &u, &e)) < 0)
			check_refusal(r, &e);
		break;
	case 1:
		if ((r = cgs_parse_u64_or_max(text, FILE_NAME, UINT64_MAX - 1, &u, &e)) < 0)
			check_refusal(r, &e);
		else
			FUZZ_ASSERT(strncmp(text, "max", 3) != 0 || u == UINT64_MAX - 1,
				    "max is %llu", (unsigned long long)u);
		break;
	case 2: {
		uint64_t *v = NULL;
		size_t n = 7;
		if ((r = cgs_parse_u64_list(text, FILE_NAME, &v, &n, &e)) < 0)
			check_refusal(r, &e);
		else
			FUZZ_ASSERT((n == 0) == (v == NULL), "%zu values at %p", n, (void *)v);
		free(v);
		break;
	}
	case 3: {
		struct cgs_kv *kv = NULL;
		size_t n = 0;
		if ((r = cgs_parse_flat(text, FILE_NAME, &kv, &n, &e)) < 0) {
			check_refusal(r, &e);
		} else {
			for (size_t i = 0; i < n; i++) {
				FUZZ_ASSERT(kv[i].key && *kv[i].key, "empty key");
				uint64_t got;
				FUZZ_ASSERT(cgs_kv_get(kv, n, kv[i].key, &got),
					    "a key not found again");
			}
			cgs_kv_free(kv, n);
		}
		break;
	}
	case 4:
		blkio(0, text);
		break;
	case 5:
		blkio(1, text);
		break;
	case 6:
		net_dev(text);
		break;
	default: {
		static const char *const sfx[] = {
			".usage_in_bytes", ".max_usage_in_bytes", ".failcnt", ".current", ".max",
			".events"
		};
		char *s = cgs_hugetlb_size(text, sfx[size % 6]);
		FUZZ_ASSERT(!s || (*s && !strchr(s, '.')), "page size \"%s\"", s);
		free(s);
		(void)cgs_ticks_to_ns(strtoull(text, NULL, 10), 100);
	}
	}
	free(text);
	return 0;
}

void fuzz_write_seeds(void)
{
	static const struct {
		const char *name;
		uint8_t which;
		const char *text;
	} seeds[] = {
		{ "u64", 0, "268435456\n" },
		{ "max", 1, "max\n" },
		{ "percpu", 2, "123456789 98765432 0 17 \n" },
		{ "memory.stat-v1", 3,
		  "cache 4096\nrss 1310720\nrss_huge 0\nshmem 0\nmapped_file 0\ndirty 0\n"
		  "writeback 0\npgpgin 1084\npgpgout 730\npgfault 1750\npgmajfault 0\n"
		  "inactive_anon 1314816\nactive_anon 0\ninactive_file 4096\nactive_file 0\n"
		  "unevictable 0\nhierarchical_memory_limit 268435456\ntotal_cache 4096\n" },
		{ "cpu.stat-v2", 3,
		  "usage_usec 14620\nuser_usec 7140\nsystem_usec 7480\nnr_periods 0\n"
		  "nr_throttled 0\nthrottled_usec 0\n" },
		{ "blkio-v1", 4,
		  "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 12288\n8:0 Async 0\n8:0 Discard 0\n"
		  "8:0 Total 12288\nTotal 12288\n" },
		{ "blkio-time", 4, "8:0 1234567\n253:1 42\n" },
		{ "io.stat", 5,
		  "8:0 rbytes=90112 wbytes=4096 rios=12 wios=1 dbytes=0 dios=0\n"
		  "253:0 rbytes=0 wbytes=0 rios=0 wios=0 dbytes=0 dios=0 cost.vrate=100.00\n" },
		{ "net-dev", 6,
		  "Inter-|   Receive                                                |  Transmit\n"
		  " face |bytes    packets errs drop fifo frame compressed multicast|bytes    "
		  "packets errs drop fifo colls carrier compressed\n"
		  "    lo:    1234      12    0    0    0     0          0         0     1234      "
		  "12    0    0    0     0       0          0\n"
		  "  eth0: 9876543    7654    0    1    0     0          0        12  1234567     "
		  "3456    0    0    0     0       0          0\n" },
		{ "hugetlb-name", 7, "hugetlb.2MB.usage_in_bytes" },
	};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		size_t n = strlen(seeds[i].text);
		uint8_t *b = malloc(n + 1);
		if (!b)
			abort();
		b[0] = seeds[i].which;
		memcpy(b + 1, seeds[i].text, n);
		fuzz_seed(seeds[i].name, b, n + 1);
		free(b);
	}
}
