/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_initdata.c - libFuzzer target for the initdata block device, which
 * the host writes and the agent reads as root before anything else runs:
 * the first input byte chooses what the rest is, an initdata document for
 * initdata_parse() (TOML reader, field checks, digest) when it is even, or
 * a whole device for initdata_read_fd() (header, length bound, gzip) when
 * it is odd; a parsed result is walked and sized for every TEE.
 *
 * Built with -DFUZZ_WRITE_SEEDS it is instead a program writing a small seed
 * corpus into the directory given as argv[1] (tests/fuzz/run.sh does both).
 */
#include <endian.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "initdata.h"

static volatile size_t sink;

static void walk(const struct initdata *d)
{
	uint8_t out[256];
	for (int p = INITDATA_NO_TEE; p <= INITDATA_SE; p++)
		sink += initdata_digest_for(d, (enum initdata_platform)p, out, sizeof(out));
	for (size_t i = 0; i < d->n_data; i++)
		sink += strlen(d->data[i].key) + strlen(d->data[i].value);
	sink += initdata_get(d, "aa.toml") != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct initdata *d = NULL;
	struct kerr err;
	if (!(data[0] & 1)) {
		if (initdata_parse((const char *)data + 1, size - 1, &d, &err) == 0)
			walk(d);
		initdata_free(d);
		return 0;
	}
	int fd = memfd_create("initdata", MFD_CLOEXEC);
	if (fd < 0)
		__builtin_trap();
	if (size > 1 && write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
		__builtin_trap();
	if (initdata_read_fd(fd, &d, &err) == 0)
		walk(d);
	initdata_free(d);
	close(fd);
	return 0;
}

#ifdef FUZZ_WRITE_SEEDS
#include "seeds.h"

static const char
	doc[] = "algorithm = \"sha384\"\nversion = \"0.1.0\"\n\n[data]\n"
		"\"aa.toml\" = '''\n[token_configs.kbs]\nurl = 'http://kbs.example:8080'\n'''\n"
		"\"cdh.toml\" = \"\"\"\nsocket = \\\"unix:///x\\\" \\\n  # folded\n\"\"\"\n"
		"\"policy.rego\" = '''package agent_policy'''\n";

/* The kind byte, then the bytes. */
static int put(const char *dir, const char *name, uint8_t kind, const void *b, size_t n)
{
	uint8_t buf[8192];
	if (n + 1 > sizeof(buf))
		return 1;
	buf[0] = kind;
	memcpy(buf + 1, b, n);
	return seed_put(dir, name, buf, n + 1);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	int bad = put(argv[1], "document", 0, doc, strlen(doc));
	uint8_t dev[4096] = "initdata";
	z_stream zs = { 0 };
	if (deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return 1;
	zs.next_in = (Bytef *)doc;
	zs.avail_in = (uInt)strlen(doc);
	zs.next_out = dev + 16;
	zs.avail_out = sizeof(dev) - 16;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		return 1;
	uint64_t len = htole64(zs.total_out);
	memcpy(dev + 8, &len, 8);
	bad |= put(argv[1], "device", 1, dev, 16 + zs.total_out);
	deflateEnd(&zs);
	return bad;
}
#endif
