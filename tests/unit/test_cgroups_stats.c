/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cgroups_stats.c - the StatsContainer parsers (cgroups_stats.h) on
 * fixture texts as the kernel writes them (v1, v2, /proc/net/dev), and on
 * malformed ones: an error naming the file, never a crash.
 */
#include <stdlib.h>
#include <string.h>

#include "cgroups_stats.h"
#include "grpc_status.h"
#include "tap.h"

static void free_entries(Grpc__BlkioStatsEntry **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		protobuf_c_message_free_unpacked(&v[i]->base, NULL);
	free(v);
}

TEST(u64_and_max)
{
	struct kerr e = { 0 };
	uint64_t v = 7;
	CHECK_EQ_INT(cgs_parse_u64("123\n", "f", &v, &e), 0);
	CHECK(v == 123);
	CHECK_EQ_INT(cgs_parse_u64("18446744073709551615\n", "f", &v, &e), 0);
	CHECK(v == UINT64_MAX);
	CHECK(cgs_parse_u64("18446744073709551616\n", "f", &v, &e) < 0);
	CHECK(cgs_parse_u64("", "f", &v, &e) < 0);
	CHECK(cgs_parse_u64("12 3\n", "f", &v, &e) < 0);
	CHECK(cgs_parse_u64("-1\n", "/x/pids.current", &v, &e) < 0);
	CHECK_EQ_INT(kerr_status(&e), GRPC_INTERNAL);
	CHECK(strstr(e.msg, "/x/pids.current") != NULL);
	CHECK_EQ_INT(cgs_parse_u64_or_max("max\n", "f", 0, &v, &e), 0);
	CHECK(v == 0);
	CHECK_EQ_INT(cgs_parse_u64_or_max("max\n", "f", UINT64_MAX, &v, &e), 0);
	CHECK(v == UINT64_MAX);
	CHECK_EQ_INT(cgs_parse_u64_or_max("50\n", "f", 0, &v, &e), 0);
	CHECK(v == 50);
	CHECK(cgs_parse_u64_or_max("maximum\n", "f", 0, &v, &e) < 0);
}

TEST(percpu_list)
{
	struct kerr e = { 0 };
	uint64_t *v = NULL;
	size_t n = 0;
	CHECK_EQ_INT(cgs_parse_u64_list("3716155071 4168370245 0 12 \n", "f", &v, &n, &e), 0);
	REQUIRE(n == 4 && v);
	CHECK(v[0] == 3716155071ull && v[1] == 4168370245ull && v[2] == 0 && v[3] == 12);
	free(v);
	CHECK_EQ_INT(cgs_parse_u64_list("\n", "f", &v, &n, &e), 0);
	CHECK(n == 0 && v == NULL);
	CHECK(cgs_parse_u64_list("1 2x 3\n", "/c/cpuacct.usage_percpu", &v, &n, &e) < 0);
	CHECK(strstr(e.msg, "cpuacct.usage_percpu") != NULL);
}

TEST(flat_keyed)
{
	struct kerr e = { 0 };
	struct cgs_kv *kv = NULL;
	size_t n = 0;
	const char *cpu_v2 = "usage_usec 1200\nuser_usec 1000\nsystem_usec 200\nnr_periods 5\n"
			     "nr_throttled 1\nthrottled_usec 77\n";
	CHECK_EQ_INT(cgs_parse_flat(cpu_v2, "cpu.stat", &kv, &n, &e), 0);
	CHECK_EQ_INT(n, 6);
	uint64_t x = 0;
	CHECK(cgs_kv_get(kv, n, "throttled_usec", &x) && x == 77);
	CHECK(!cgs_kv_get(kv, n, "throttled_time", &x));
	cgs_kv_free(kv, n);
	/* memory.stat on v1, with a transiently negative counter */
	CHECK_EQ_INT(cgs_parse_flat("cache 4096\nrss 8192\ntotal_dirty -4\n\n", "memory.stat", &kv,
				    &n, &e),
		     0);
	CHECK_EQ_INT(n, 3);
	CHECK(cgs_kv_get(kv, n, "total_dirty", &x) && x == 0);
	CHECK(cgs_kv_get(kv, n, "cache", &x) && x == 4096);
	cgs_kv_free(kv, n);
	CHECK(cgs_parse_flat("cache\n", "/m/memory.stat", &kv, &n, &e) < 0);
	CHECK(strstr(e.msg, "/m/memory.stat") != NULL);
	CHECK(cgs_parse_flat("cache 1 2\n", "memory.stat", &kv, &n, &e) < 0);
	CHECK(cgs_parse_flat("cache abc\n", "memory.stat", &kv, &n, &e) < 0);
}

TEST(ticks_to_ns)
{
	CHECK(cgs_ticks_to_ns(150, 100) == 1500000000ull);
	CHECK(cgs_ticks_to_ns(1, 300) == 3333333ull);
	CHECK(cgs_ticks_to_ns(0, 100) == 0);
	/* no overflow for a year of ticks on 1024 cpus */
	CHECK(cgs_ticks_to_ns(100ull * 86400 * 365 * 1024, 100) ==
	      86400ull * 365 * 1024 * 1000000000ull);
}

TEST(blkio_v1)
{
	struct kerr e = { 0 };
	Grpc__BlkioStatsEntry **v = NULL;
	size_t n = 0;
	const char *t = "8:0 Read 1282048\n8:0 Write 2195456\n8:0 Sync 2195456\n8:0 Async 1282048\n"
			"8:0 Discard 0\n8:0 Total 3477504\nTotal 3477504\n";
	CHECK_EQ_INT(cgs_parse_blkio_v1(t, "f", &v, &n, &e), 0);
	REQUIRE(n == 6);
	CHECK(v[0]->major == 8 && v[0]->minor == 0 && v[0]->value == 1282048);
	CHECK_EQ_STR(v[0]->op, "read");
	CHECK_EQ_STR(v[5]->op, "total");
	CHECK(v[5]->value == 3477504);
	/* appended to what is there */
	CHECK_EQ_INT(cgs_parse_blkio_v1("253:1 6792\n", "blkio.sectors_recursive", &v, &n, &e), 0);
	REQUIRE(n == 7);
	CHECK(v[6]->major == 253 && v[6]->minor == 1 && v[6]->value == 6792);
	CHECK_EQ_STR(v[6]->op, "");
	free_entries(v, n);
	v = NULL;
	n = 0;
	CHECK_EQ_INT(cgs_parse_blkio_v1("Total 0\n", "f", &v, &n, &e), 0);
	CHECK_EQ_INT(n, 0);
	CHECK(cgs_parse_blkio_v1("8-0 Read 1\n", "blkio.x", &v, &n, &e) < 0);
	CHECK(strstr(e.msg, "blkio.x") != NULL);
	CHECK(cgs_parse_blkio_v1("8:0 Read\n", "f", &v, &n, &e) < 0);
	CHECK(cgs_parse_blkio_v1("8:0 Read 1 2\n", "f", &v, &n, &e) < 0);
	free_entries(v, n);
}

TEST(io_stat_v2)
{
	struct kerr e = { 0 };
	Grpc__BlkioStatsEntry **v = NULL;
	size_t n = 0;
	const char *t = "8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n"
			"253:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=3 dios=4 cost.vrate=135.00\n";
	CHECK_EQ_INT(cgs_parse_io_stat(t, "io.stat", &v, &n, &e), 0);
	REQUIRE(n == 12);
	CHECK(v[0]->major == 8 && v[0]->minor == 16 && v[0]->value == 1459200);
	CHECK_EQ_STR(v[0]->op, "read");
	CHECK_EQ_STR(v[1]->op, "write");
	CHECK_EQ_STR(v[2]->op, "rios");
	CHECK(v[11]->major == 253 && v[11]->value == 4);
	CHECK_EQ_STR(v[11]->op, "dios");
	free_entries(v, n);
	v = NULL;
	n = 0;
	CHECK(cgs_parse_io_stat("8:16 rbytes=x\n", "/c/io.stat", &v, &n, &e) < 0);
	CHECK(strstr(e.msg, "/c/io.stat") != NULL);
	CHECK(cgs_parse_io_stat("8:16 rbytes\n", "io.stat", &v, &n, &e) < 0);
	CHECK(cgs_parse_io_stat("sda rbytes=1\n", "io.stat", &v, &n, &e) < 0);
	free_entries(v, n);
}

TEST(net_dev)
{
	struct kerr e = { 0 };
	Grpc__NetworkStats **v = NULL;
	size_t n = 0;
	const char *t =
		"Inter-|   Receive                                                |  Transmit\n"
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
		"    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0\n"
		"  eth0: 1234567   890    1    2    0     0          0         0  7654321     432    3    4    0     0       0          0\n";
	CHECK_EQ_INT(cgs_parse_net_dev(t, "net/dev", &v, &n, &e), 0);
	REQUIRE(n == 2);
	CHECK_EQ_STR(v[0]->name, "lo");
	CHECK(v[0]->rx_bytes == 100 && v[0]->tx_packets == 2);
	CHECK_EQ_STR(v[1]->name, "eth0");
	CHECK(v[1]->rx_bytes == 1234567 && v[1]->rx_packets == 890 && v[1]->rx_errors == 1 &&
	      v[1]->rx_dropped == 2);
	CHECK(v[1]->tx_bytes == 7654321 && v[1]->tx_packets == 432 && v[1]->tx_errors == 3 &&
	      v[1]->tx_dropped == 4);
	for (size_t i = 0; i < n; i++)
		protobuf_c_message_free_unpacked(&v[i]->base, NULL);
	free(v);
	v = NULL;
	n = 0;
	CHECK(cgs_parse_net_dev("lo: 1 2\n", "/proc/1/net/dev", &v, &n, &e) < 0);
	CHECK(strstr(e.msg, "/proc/1/net/dev") != NULL);
	const char *short_line = "a|b\nc|d\n lo: 1 2 3\n";
	CHECK(cgs_parse_net_dev(short_line, "dev", &v, &n, &e) < 0);
	CHECK_EQ_INT(n, 0);
	free(v);
}

TEST(hugetlb_size)
{
	char *s = cgs_hugetlb_size("hugetlb.2MB.usage_in_bytes", ".usage_in_bytes");
	CHECK_EQ_STR(s, "2MB");
	free(s);
	s = cgs_hugetlb_size("hugetlb.1GB.current", ".current");
	CHECK_EQ_STR(s, "1GB");
	free(s);
	CHECK(cgs_hugetlb_size("hugetlb.2MB.rsvd.current", ".current") == NULL);
	CHECK(cgs_hugetlb_size("hugetlb.2MB.max", ".current") == NULL);
	CHECK(cgs_hugetlb_size("hugetlb..current", ".current") == NULL);
	CHECK(cgs_hugetlb_size("memory.current", ".current") == NULL);
}

int main(void)
{
	return tap_run();
}
