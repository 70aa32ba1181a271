/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_digest.c - common/digest.c against the FIPS 180-2 example vectors
 * (one block, empty, two blocks, a million 'a') for sha256, sha384 and
 * sha512; the algorithms it refuses; and the parent's policy hash
 * (policy_source_set, the sha256 in the announce line) on a known text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "policy_source.h"
#include "tap.h"

/* FIPS 180-2's two-block messages: 448 bits for sha256, 896 for sha384/512 */
#define M448 "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
#define M896                                                                       \
	"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnop" \
	"jklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
#define MILLION_A NULL

static const struct {
	const char *algorithm, *message, *hex;
} vectors[] = {
	{ "sha256", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ "sha256", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "sha256", M448, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	{ "sha256", MILLION_A, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
	{ "sha384", "abc",
	  "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163"
	  "1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7" },
	{ "sha384", "",
	  "38b060a751ac96384cd9327eb1b1e36a21fdb71114be0743"
	  "4c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b" },
	{ "sha384", M896,
	  "09330c33f71147e83d192fc782cd1b4753111b173b3b05d2"
	  "2fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039" },
	{ "sha384", MILLION_A,
	  "9d0e1809716474cb086e834e310a4a1ced149e9c00f24852"
	  "7972cec5704c2a5b07b8b3dc38ecc4ebae97ddd87f3d8985" },
	{ "sha512", "abc",
	  "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	  "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f" },
	{ "sha512", "",
	  "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
	  "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e" },
	{ "sha512", M896,
	  "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
	  "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909" },
	{ "sha512", MILLION_A,
	  "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
	  "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b" },
};

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
	out[2 * n] = '\0';
}

TEST(fips_180_2_vectors)
{
	static char million[1000000];
	memset(million, 'a', sizeof(million));
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const char *m = vectors[i].message ? vectors[i].message : million;
		size_t len = vectors[i].message ? strlen(m) : sizeof(million);
		uint8_t md[DIGEST_MAX];
		char h[2 * DIGEST_MAX + 1];
		size_t n = digest_of(vectors[i].algorithm, m, len, md);
		CHECK_EQ_INT(n, strlen(vectors[i].hex) / 2);
		hex(md, n, h);
		CHECK_EQ_STR(h, vectors[i].hex);
		if (strcmp(vectors[i].algorithm, "sha256") == 0) {
			char h256[65];
			digest_sha256_hex(m, len, h256);
			CHECK_EQ_STR(h256, vectors[i].hex);
		}
	}
}

TEST(other_algorithms_are_refused)
{
	/* initdata's algorithm field names one of the three, spelt so */
	static const char *const bad[] = { "md5", "sha1", "sha224", "SHA256", "sha256 ", "", "sha" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t md[DIGEST_MAX];
		CHECK_EQ_INT(digest_of(bad[i], "abc", 3, md), 0);
	}
}

TEST(the_policy_hash_in_the_announce_line)
{
	struct policy_source s = { 0 };
	struct kerr err = { 0 };
	CHECK_EQ_INT(policy_source_set(&s, "test", "abc", 3, &err), 0);
	CHECK_EQ_STR(s.sha256, vectors[0].hex);
	policy_source_free(&s);
}

int main(void)
{
	return tap_run();
}
