/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cgroups_values.c - agentd/executor/cgroups/cgroups_values.c: the weight
 * conversions runc uses (cpu.shares -> cpu.weight, blkio weight ->
 * io.weight), huge page size strings, interface names. No cgroup needed.
 */
#include <errno.h>
#include <stdint.h>

#include "cgroups_values.h"
#include "tap.h"

TEST(shares_to_weight)
{
	CHECK_EQ_INT(cg_shares_to_weight(2), 1);
	CHECK_EQ_INT(cg_shares_to_weight(0), 1);     /* clamped up to 2 */
	CHECK_EQ_INT(cg_shares_to_weight(1024), 39); /* runc: 1 + 1022*9999/262142 */
	CHECK_EQ_INT(cg_shares_to_weight(262144), 10000);
	CHECK_EQ_INT(cg_shares_to_weight(1000000), 10000);
}

TEST(blkio_to_io_weight)
{
	CHECK_EQ_INT(cg_blkio_to_io_weight(0), 0); /* unset stays unset */
	CHECK_EQ_INT(cg_blkio_to_io_weight(10), 1);
	CHECK_EQ_INT(cg_blkio_to_io_weight(100), 910); /* 1 + 90*9999/990 */
	CHECK_EQ_INT(cg_blkio_to_io_weight(500), 4950);
	CHECK_EQ_INT(cg_blkio_to_io_weight(1000), 10000);
	CHECK_EQ_INT(cg_blkio_to_io_weight(5), 1); /* clamped */
	CHECK_EQ_INT(cg_blkio_to_io_weight(5000), 10000);
}

TEST(hugepage_size_parse)
{
	uint64_t b = 0;
	CHECK_EQ_INT(cg_hugepage_size_parse("2MB", &b), 0);
	CHECK_EQ_INT(b, 2ULL << 20);
	CHECK_EQ_INT(cg_hugepage_size_parse("1GB", &b), 0);
	CHECK_EQ_INT(b, 1ULL << 30);
	CHECK_EQ_INT(cg_hugepage_size_parse("64KB", &b), 0);
	CHECK_EQ_INT(b, 64ULL << 10);
	CHECK_EQ_INT(cg_hugepage_size_parse("2048kB", &b), 0);
	CHECK_EQ_INT(b, 2ULL << 20);
	CHECK_EQ_INT(cg_hugepage_size_parse("3MB", &b), 0); /* a size; sysfs decides if it exists */
	CHECK_EQ_INT(b, 3ULL << 20);
	CHECK_EQ_INT(cg_hugepage_size_parse("", &b), -EINVAL);
	CHECK_EQ_INT(cg_hugepage_size_parse(NULL, &b), -EINVAL);
	CHECK_EQ_INT(cg_hugepage_size_parse("MB", &b), -EINVAL);
	CHECK_EQ_INT(cg_hugepage_size_parse("2", &b), -EINVAL);
	CHECK_EQ_INT(cg_hugepage_size_parse("2TB", &b), -EINVAL);
	CHECK_EQ_INT(cg_hugepage_size_parse("2 MB", &b), -EINVAL);
	CHECK_EQ_INT(cg_hugepage_size_parse("-2MB", &b), -EINVAL);
	CHECK_EQ_INT(cg_hugepage_size_parse("0MB", &b), -EINVAL);
	CHECK_EQ_INT(cg_hugepage_size_parse("2MB/../x", &b), -EINVAL);
	CHECK_EQ_INT(cg_hugepage_size_parse("99999999999999999999GB", &b), -EINVAL);
	CHECK_EQ_INT(cg_hugepage_size_parse("17179869184GB", &b), -EINVAL); /* 2^34 GB overflows */
}

TEST(hugepage_size_name)
{
	char n[32];
	cg_hugepage_size_name(2ULL << 20, n, sizeof(n));
	CHECK_EQ_STR(n, "2MB");
	cg_hugepage_size_name(1ULL << 30, n, sizeof(n));
	CHECK_EQ_STR(n, "1GB");
	cg_hugepage_size_name(16ULL << 30, n, sizeof(n));
	CHECK_EQ_STR(n, "16GB");
	cg_hugepage_size_name(64ULL << 10, n, sizeof(n));
	CHECK_EQ_STR(n, "64KB");
	cg_hugepage_size_name(32ULL << 20, n, sizeof(n));
	CHECK_EQ_STR(n, "32MB");
}

TEST(ifname_valid)
{
	CHECK(cg_ifname_valid("lo"));
	CHECK(cg_ifname_valid("eth0"));
	CHECK(cg_ifname_valid("123456789012345")); /* 15 bytes */
	CHECK(!cg_ifname_valid("1234567890123456"));
	CHECK(!cg_ifname_valid(""));
	CHECK(!cg_ifname_valid(NULL));
	CHECK(!cg_ifname_valid("."));
	CHECK(!cg_ifname_valid(".."));
	CHECK(!cg_ifname_valid("a/b"));
	CHECK(!cg_ifname_valid("eth0:1"));
	CHECK(!cg_ifname_valid("a b"));
	CHECK(!cg_ifname_valid("a\nb"));
}

int main(void)
{
	return tap_run();
}
