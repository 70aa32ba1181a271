/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spec_devices.h - the container spec rewritten for the guest's devices.
 *
 * The runtime writes the spec on the host: its linux.devices entries and
 * device cgroup rules carry the host's major:minor, which mean nothing (or
 * another device) in the guest. As upstream's add_devices /
 * update_spec_devices: each device the request resolved rewrites the spec
 * entry at its container path to the guest's numbers (and path, for a VFIO
 * group whose number differs in the guest), the cgroup rules that named
 * the host's numbers name the guest's, and an allow rule (type, guest
 * major:minor, rwm) is appended for it. Unlike upstream, the rules are
 * rewritten before the new ones are appended, so an appended rule is never
 * rewritten again when a guest number equals another device's host number.
 * PCIDEVICE_* variables (SR-IOV device plugins) get the guest's PCI
 * addresses for the host's (upstream update_env_pci).
 *
 * Offers: struct dev_update, spec_devices_update(), spec_devices_add(),
 *         struct pci_map, spec_env_pci_update().
 */
#ifndef KATA_DEVICES_SPEC_DEVICES_H
#define KATA_DEVICES_SPEC_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#include "agent.pb-c.h"
#include "err.h"
#include "pci.h"

struct dev_update {
	const char *container_path; /* the spec's linux.devices[].path */
	char type;                  /* the guest node's: 'b' or 'c' */
	int64_t major, minor;       /* the guest's */
	const char *final_path;     /* NULL: the path stays */
};

/* Apply n updates to spec (allocating linux, resources, as needed). Two
 * updates for one container path, one without a spec entry, or two entries
 * of one host device: INVALID_ARGUMENT, spec unchanged. */
int spec_devices_update(Grpc__Spec *spec, const struct dev_update *u, size_t n, struct kerr *err);

/* A guest device the spec did not list (upstream
 * expose_guest_infiniband_devices): a linux.devices entry at path (none
 * added if one exists there) and its allow rule rwm. */
int spec_devices_add(Grpc__Spec *spec, const struct dev_update *u, uint32_t mode, uint32_t uid,
		     uint32_t gid, struct kerr *err);

struct pci_map {
	struct pci_addr host, guest;
};

/* Rewrite PCIDEVICE_<name>=<host addresses> and PCIDEVICE_<name>_INFO in
 * spec's process env; a variable naming an address without a mapping is
 * left as it is (no half translation), one that is not a list of
 * addresses too. */
int spec_env_pci_update(Grpc__Spec *spec, const struct pci_map *m, size_t n, struct kerr *err);

#endif
