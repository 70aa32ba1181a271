/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_utf8.c - common/utf8.h: utf8_lossy() against the replacements Rust's
 * String::from_utf8_lossy makes (upstream's agent answers GetDiagnosticData
 * with it): one U+FFFD per maximal invalid subpart, for overlong forms,
 * surrogates, code points above U+10FFFF and truncated sequences; its
 * output is always valid UTF-8 (utf8_valid) and a valid input comes back
 * unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "utf8.h"

#define R "\xef\xbf\xbd" /* U+FFFD */

/* in (n bytes) made lossy equals want (NUL-terminated, no NUL inside). */
static bool lossy_is(const char *in, size_t n, const char *want)
{
	char out[UTF8_LOSSY_SIZE(64)];
	if (n > 64)
		return false;
	size_t len = utf8_lossy(in, n, out, sizeof(out));
	bool ok = len == strlen(want) && memcmp(out, want, len) == 0 && out[len] == '\0';
	if (!ok) {
		printf("# lossy of");
		for (size_t i = 0; i < n; i++)
			printf(" %02x", (unsigned char)in[i]);
		printf(": %zu bytes:", len);
		for (size_t i = 0; i < len; i++)
			printf(" %02x", (unsigned char)out[i]);
		printf("\n");
	}
	return ok;
}
#define LOSSY(lit, want) lossy_is(lit, sizeof(lit) - 1, want)

TEST(valid_text_is_copied)
{
	CHECK(LOSSY("", ""));
	CHECK(LOSSY("plain ascii\n", "plain ascii\n"));
	CHECK(LOSSY("\xc2\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		    "\xc2\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
	/* the extremes of each length */
	CHECK(LOSSY("\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
		    "\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"));
	/* U+D7FF and U+E000, on either side of the surrogates */
	CHECK(LOSSY("\xed\x9f\xbf\xee\x80\x80", "\xed\x9f\xbf\xee\x80\x80"));
}

TEST(overlong_forms_are_replaced_byte_by_byte)
{
	/* C0 and C1 lead nothing; E0 80 and F0 80 are not prefixes of any
	 * well-formed sequence: each byte is its own subpart. */
	CHECK(LOSSY("\xc0\x80", R R));
	CHECK(LOSSY("\xc1\xbf", R R));
	CHECK(LOSSY("\xe0\x80\xaf", R R R));
	CHECK(LOSSY("\xe0\x9f\xbf", R R R));
	CHECK(LOSSY("\xf0\x80\x80\xaf", R R R R));
	CHECK(LOSSY("\xf0\x8f\xbf\xbf", R R R R));
}

TEST(surrogates_and_code_points_above_10ffff_are_replaced)
{
	CHECK(LOSSY("\xed\xa0\x80", R R R));
	CHECK(LOSSY("\xed\xbf\xbf", R R R));
	CHECK(LOSSY("\xed\xa0\x80\xed\xb0\x80", R R R R R R)); /* a CESU-8 pair */
	CHECK(LOSSY("\xf4\x90\x80\x80", R R R R));
	CHECK(LOSSY("\xf5\x80\x80\x80", R R R R));
	CHECK(LOSSY("\xf8\x88\x80\x80\x80", R R R R R));
	CHECK(LOSSY("\xfe\xff", R R));
}

TEST(truncated_sequences_are_one_replacement_each)
{
	/* Rust's own documentation example */
	CHECK(LOSSY("Hello \xf0\x90\x80World", "Hello " R "World"));
	CHECK(LOSSY("\xe2\x82", R));
	CHECK(LOSSY("\xe2\x82\x41", R "A"));     /* \x41: "A" */
	CHECK(LOSSY("\xf0\x9f\x98\x78", R "x")); /* \x78: "x" */
	CHECK(LOSSY("\xf0\x9f", R));
	CHECK(LOSSY("\xc3", R));
	/* a lead byte cut short by another lead byte */
	CHECK(LOSSY("\xe2\xc3\xa9", R "\xc3\xa9"));
	/* stray continuation bytes */
	CHECK(LOSSY("a\x80\xbf"
		    "b",
		    "a" R R "b"));
}

TEST(a_nul_byte_is_kept_and_counted)
{
	char out[UTF8_LOSSY_SIZE(3)];
	CHECK_EQ_INT(utf8_lossy("a\0b", 3, out, sizeof(out)), 3);
	CHECK(memcmp(out, "a\0b", 4) == 0);
}

TEST(too_small_an_output_writes_nothing)
{
	char out[8] = "xxxxxxx";
	CHECK_EQ_INT(utf8_lossy("abc", 3, out, UTF8_LOSSY_SIZE(3) - 1), 0);
	CHECK_EQ_STR(out, "");
}

TEST(the_worst_case_fills_the_bound_exactly)
{
	enum { N = 4096 };
	unsigned char in[N];
	memset(in, 0xff, sizeof(in));
	char *out = malloc(UTF8_LOSSY_SIZE(N));
	REQUIRE(out);
	size_t len = utf8_lossy(in, N, out, UTF8_LOSSY_SIZE(N));
	CHECK_EQ_INT(len, 3 * N);
	CHECK(utf8_valid(out, len));
	free(out);
}

/* Every output is valid UTF-8; an input comes back unchanged exactly when
 * it was valid. Deterministic pseudo-random bytes, biased towards the
 * bytes that start and continue sequences. */
TEST(random_inputs_give_valid_output)
{
	static const unsigned char pick[] = { 0x41, 0x00, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2,
					      0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff };
	unsigned seed = 12345, bad = 0, same_when_valid = 0, valid_inputs = 0;
	for (int round = 0; round < 20000; round++) {
		unsigned char in[12];
		size_t n = (size_t)(round % 12) + 1;
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = pick[(seed >> 16) % sizeof(pick)];
		}
		char out[UTF8_LOSSY_SIZE(12)];
		size_t len = utf8_lossy(in, n, out, sizeof(out));
		bool valid_in = utf8_valid((const char *)in, n);
		if (!utf8_valid(out, len))
			bad++;
		bool same = len == n && memcmp(in, out, n) == 0;
		if (same != valid_in)
			bad++;
		valid_inputs += valid_in;
		same_when_valid += valid_in && same;
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(valid_inputs > 100);
	CHECK_EQ_INT(same_when_valid, valid_inputs);
}

int main(void)
{
	return tap_run();
}
