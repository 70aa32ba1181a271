/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_number.c - the command-line numbers of the agent's processes
 * (common/number.h): what every main() accepts and refuses for an fd, an
 * id or a bound.
 */
#include <errno.h>

#include "number.h"
#include "tap.h"

TEST(accepts_decimal_digits_up_to_the_bound)
{
	unsigned long v = 7;
	CHECK_EQ_INT(number_parse_ulong("0", 10, &v), 0);
	CHECK_EQ_INT(v, 0);
	CHECK_EQ_INT(number_parse_ulong("1024", 1024, &v), 0);
	CHECK_EQ_INT(v, 1024);
	CHECK_EQ_INT(number_parse_ulong("4294967294", 0xfffffffe, &v), 0);
	CHECK_EQ_INT(v, 0xfffffffe);
	CHECK_EQ_INT(number_parse_ulong("007", 10, &v), 0);
	CHECK_EQ_INT(v, 7);
}

TEST(refuses_everything_else_and_leaves_out_alone)
{
	static const char *const bad[] = {
		"", "-1", "+1", " 1", "1 ", "1x", "0x10", "1025", "99999999999999999999999",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned long v = 42;
		CHECK_EQ_INT(number_parse_ulong(bad[i], 1024, &v), -EINVAL);
		CHECK_EQ_INT(v, 42);
	}
}

int main(void)
{
	return tap_run();
}
