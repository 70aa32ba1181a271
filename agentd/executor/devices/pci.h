/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pci.h - PCI addresses and the runtime's PCI paths, and where a PCI path
 * leads in sysfs.
 *
 * A PCI path (the runtime's types.PciPath, "02/00") names a device by the
 * slot of each bridge from the root bus down: "02/00" is slot 0 behind the
 * bridge in slot 2 of the root bus. Upstream's "root/bridge/device" form
 * ("20/00/02", first element >= 0x20) names a pxb-pcie root complex first.
 * The path only ever holds hex numbers: it cannot name a sysfs entry of its
 * own choosing (no "..", no "/"), and each step is looked up below
 * <sysfs>/devices without following a symlink.
 *
 * Offers: struct pci_addr, struct pci_path, pci_addr_parse(),
 *         pci_addr_format(), pci_path_parse(), pci_path_from_slots(),
 *         pci_path_format(), pci_addr_eq(), pci_path_eq(), pci_path_to_sysfs().
 */
#ifndef KATA_DEVICES_PCI_H
#define KATA_DEVICES_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Bridges a path may go through, device included (upstream has no bound;
 * real topologies nest a few levels). */
#define PCI_PATH_MAX 16
/* "devices/pci0000:00/0000:00:02.0/..." */
#define PCI_SYSFS_MAX (24 + PCI_PATH_MAX * 13)

struct pci_addr {
	uint16_t domain;
	uint8_t bus;
	uint8_t slot; /* 0..31 */
	uint8_t fn;   /* 0..7 */
};

struct pci_path {
	uint8_t root; /* root complex (its bus number): 0, or a pxb-pcie's >= 0x20 */
	unsigned n;   /* 1..PCI_PATH_MAX */
	uint8_t slot[PCI_PATH_MAX];
	uint8_t fn[PCI_PATH_MAX];
};

/* "DDDD:BB:SS.F" (hex; the function may be left out: ".0"). */
int pci_addr_parse(const char *s, struct pci_addr *a, struct kerr *err);
/* "0000:01:02.3" into out (at least 13 bytes). */
void pci_addr_format(const struct pci_addr *a, char *out, size_t len);

/* The runtime's form: "SS[.F]/SS[.F]/...", optionally led by a pxb-pcie
 * root complex (upstream pcipath_from_dev_tree_path). INVALID_ARGUMENT
 * naming s when it is anything else. */
int pci_path_parse(const char *s, struct pci_path *p, struct kerr *err);
/* AddSwap's repeated uint32 PCIPath: slots only, function 0, root bus 0. */
int pci_path_from_slots(const uint32_t *slots, size_t n, struct pci_path *p, struct kerr *err);
/* "02/00" (the root complex first when it is not 0). */
void pci_path_format(const struct pci_path *p, char *out, size_t len);

bool pci_addr_eq(const struct pci_addr *a, const struct pci_addr *b);
bool pci_path_eq(const struct pci_path *a, const struct pci_path *b);

/* Resolve p below sysdevs (an fd of <sysfs>/devices): out becomes the
 * device's directory relative to the sysfs root ("devices/pci0000:00/
 * 0000:00:02.0/0000:01:00.0") and *addr its guest address. Each bridge's
 * secondary bus is read from its pci_bus directory (or, without one, from
 * the addresses of its children, as upstream). Returns 0; -ENOENT when a
 * step is not there (yet: a hot-plugged device or bridge may appear
 * later), err saying which; another negative code for a tree that cannot
 * be read or makes no sense. */
int pci_path_to_sysfs(int sysdevs, const struct pci_path *p, char *out, size_t len,
		      struct pci_addr *addr, struct kerr *err);

#endif
