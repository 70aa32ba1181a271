/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oci_image.h - the test CDH's PullImage: a local OCI image layout
 * (image-spec image-layout.md: oci-layout, index.json, blobs/sha256/...)
 * unpacked into a bundle, as the real CDH (image-rs) leaves a pulled image:
 * bundle/rootfs and bundle/config.json.
 *
 * Every blob is checked against its digest (sha256, OpenSSL) and size before
 * use. Layers (tar, tar+gzip, tar+zstd, read with libarchive) are applied in
 * order, whiteouts first (image-spec layer.md: ".wh.NAME" removes NAME,
 * ".wh..wh..opq" empties its directory, both only for what lower layers
 * left), then the other entries. An entry whose name is absolute or has a
 * ".." component, or whose directory (or hard link target) would be reached
 * through a symlink leading out of the rootfs, fails the whole pull: every
 * path is resolved with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
 * below the rootfs and the last component is never followed.
 *
 * Tests only; never installed.
 */
#ifndef KATA_TESTS_CDH_OCI_IMAGE_H
#define KATA_TESTS_CDH_OCI_IMAGE_H

#include "err.h"

/* "sha256:" + 64 hex digits + NUL */
#define OCI_DIGEST_LEN 72

/* Unpack the image of the layout directory layout_dir that ref names (the
 * manifest whose org.opencontainers.image.ref.name is ref or its tag, or
 * the only one) into bundle_dir/rootfs (created if missing) and write
 * bundle_dir/config.json. manifest_digest receives the manifest's digest. */
int oci_image_unpack(const char *layout_dir, const char *ref, const char *bundle_dir,
		     char manifest_digest[OCI_DIGEST_LEN], struct kerr *err);

#endif
