/* SPDX-License-Identifier: Apache-2.0 */
/*
 * initdata.h - the initdata a confidential pod boots with: read from its
 * block device, checked, hashed, and written out for the guest components,
 * as upstream's agent does (src/agent/src/initdata.rs, kata-types
 * src/initdata.rs) with what the runtime writes
 * (virtcontainers/hypervisor.go prepareInitdataImage).
 *
 * Device: "initdata" (8 bytes), the length of what follows as a
 * little-endian u64, a gzip stream of that length holding the document,
 * zero padding to a 512-byte sector. Document (TOML, common/toml.h):
 *
 *     algorithm = "sha384"          # sha256 | sha384 | sha512
 *     version = "0.1.0"             # the only version
 *     [data]                        # strings only; other top-level keys
 *     "aa.toml" = '''...'''         # are ignored, as serde ignores them
 *     "cdh.toml" = '''...'''
 *     "policy.rego" = '''...'''
 *
 * Digest: the algorithm over the document's bytes exactly as decompressed
 * (what the runtime hashes into the TEE's host data); for a TEE field it is
 * cut or zero-padded to the field's size (kata-types adjust_digest: TDX
 * mrconfigid 48, SNP host data 32, CCA personalization value 64, SE 256).
 *
 * The device is host input: the compressed length is bounded by
 * INITDATA_MAX_COMPRESSED and the document by INITDATA_MAX_DOCUMENT (a
 * Kubernetes pod's annotations, where initdata comes from, hold at most
 * 256 KiB in all), trailing bytes inside the stated length are refused, and
 * every failure says what was wrong (magic, truncated, oversized, gzip,
 * TOML with its line, version, algorithm, a non-string data value).
 *
 * The code is here, not in one process's folder, because it is pure: bytes
 * in, a checked struct and files out; which process reads the device (the
 * parent, at start, before the policy and the guest components need it) is
 * decided where it is called.
 *
 * Offers: INITDATA_DIR, struct initdata, initdata_find_device(),
 *         initdata_read_fd(), initdata_parse(), initdata_get(),
 *         initdata_digest_for(), initdata_write(), initdata_policy_memfd(),
 *         initdata_free().
 */
#ifndef KATA_COMMON_INITDATA_H
#define KATA_COMMON_INITDATA_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* upstream INITDATA_PATH; the files written there, as upstream names them */
#define INITDATA_DIR "/run/confidential-containers/initdata"
#define INITDATA_TOML_NAME "initdata.toml"
#define INITDATA_AA_NAME "aa.toml"
#define INITDATA_CDH_NAME "cdh.toml"
#define INITDATA_POLICY_KEY "policy.rego"
#define INITDATA_POLICY_MEMFD_NAME "initdata-policy.rego"

#define INITDATA_MAGIC "initdata"
#define INITDATA_HEADER_LEN 16
#define INITDATA_MAX_COMPRESSED (1u << 20)
#define INITDATA_MAX_DOCUMENT (4u << 20)
#define INITDATA_MAX_DIGEST 64

struct initdata_entry {
	char *key;
	char *value;
};

struct initdata {
	char *document; /* the TOML as decompressed (NUL after document_len) */
	size_t document_len;
	char *version;
	char *algorithm;
	uint8_t digest[INITDATA_MAX_DIGEST];
	size_t digest_len;
	struct initdata_entry *data; /* [data], in document order */
	size_t n_data;
};

/* Where the digest goes (kata-types ProtectedPlatform). */
enum initdata_platform {
	INITDATA_NO_TEE, /* the digest as it is */
	INITDATA_TDX,    /* 48 bytes */
	INITDATA_SNP,    /* 32 bytes */
	INITDATA_CCA,    /* 64 bytes */
	INITDATA_SE,     /* 256 bytes */
};

/* Upstream's detect_initdata_device: the first entry of dev_dir (sorted by
 * name) called vd* or sd* that is a block device starting with the magic.
 * Returns 1 with its path in path, 0 when there is none. */
int initdata_find_device(const char *dev_dir, char *path, size_t path_len, struct kerr *err);

/* Read the device (or a regular file standing for it) from offset 0:
 * header, bounded gzip stream, then initdata_parse. */
int initdata_read_fd(int fd, struct initdata **out, struct kerr *err);

/* Check a decompressed document and compute its digest. */
int initdata_parse(const char *document, size_t len, struct initdata **out, struct kerr *err);

/* The value of data.key, or NULL. */
const char *initdata_get(const struct initdata *d, const char *key);

/* The digest cut or zero-padded for platform into out (cap bytes, at least
 * 256); returns its length. */
size_t initdata_digest_for(const struct initdata *d, enum initdata_platform platform, uint8_t *out,
			   size_t cap);

/* Write INITDATA_TOML_NAME (the document) and, when the data has them,
 * INITDATA_AA_NAME and INITDATA_CDH_NAME into the absolute directory dir
 * (INITDATA_DIR in the agent), creating it and its missing parents (0755).
 * No component of dir may be a symlink; each file is written under a
 * temporary name and renamed over whatever was there (mode 0644), so a
 * planted symlink is replaced, never followed. */
int initdata_write(const struct initdata *d, const char *dir, struct kerr *err);

/* data."policy.rego" in a sealed memfd (INITDATA_POLICY_MEMFD_NAME; no
 * write, grow, shrink or further seal), close-on-exec: the policy as
 * upstream keeps it, in memory and never on a filesystem, in a form that
 * can be handed to another process as an fd and read by it but changed by
 * nobody. Returns the fd, -ENOENT when the data has no policy, or another
 * negative errno. */
int initdata_policy_memfd(const struct initdata *d, struct kerr *err);

void initdata_free(struct initdata *d);

#endif
