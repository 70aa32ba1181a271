/* SPDX-License-Identifier: Apache-2.0 */
/*
 * initdata_boot.h - initdata at start, in the parent, as upstream's
 * initialize_initdata (src/agent/src/initdata.rs) does it before the guest
 * components are launched:
 *
 *   - the device: the path given with --initdata (a file or a block device:
 *     stand-alone use and tests), else the first vd* / sd* block device of
 *     /dev that starts with the "initdata" magic (initdata_find_device, as
 *     upstream's detect_initdata_device, whatever the mode: PID 1 or not);
 *   - no device: logged (INFO) and nothing else happens;
 *   - found: read, checked and hashed (common/initdata.h), then
 *     INITDATA_DIR/initdata.toml, aa.toml and cdh.toml written (no symlink
 *     followed) and data."policy.rego" kept in a sealed memfd for the
 *     policy (never written to a file; upstream keeps it in memory);
 *     one INFO line with the device, version, algorithm and base64 digest;
 *   - malformed, oversized, unreadable or unwritable: an error; the caller
 *     stops the agent, as upstream's real_main fails (and as PID 1 powers
 *     the guest off).
 *
 * The digest itself is not handed to anyone: upstream passes the attestation
 * agent the path of initdata.toml (--initdata-toml) and the attestation
 * agent hashes it (guest_components.h).
 *
 * Offers: struct initdata_boot, initdata_boot(), initdata_boot_release().
 */
#ifndef KATA_PARENT_INITDATA_BOOT_H
#define KATA_PARENT_INITDATA_BOOT_H

#include <stdbool.h>

#include "err.h"

struct initdata_boot {
	bool present;  /* a device was found (or given) and read */
	int policy_fd; /* sealed memfd of data."policy.rego", or -1 */
};

/* given: --initdata, or NULL to scan dev_dir ("/dev"). out->policy_fd is
 * -1 unless the data has a policy. Returns 0 (out->present tells whether
 * there was initdata) or a negative errno with err set. */
int initdata_boot(const char *given, const char *dev_dir, struct initdata_boot *out,
		  struct kerr *err);
void initdata_boot_release(struct initdata_boot *b);

#endif
