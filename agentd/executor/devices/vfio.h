/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vfio.h - PCI functions passed through with VFIO, inside the guest.
 *
 * "vfio-pci" (upstream VfioPciDeviceHandler, vfio_in_guest): every function
 * of the entry is found by its guest PCI path, must be in one IOMMU group
 * (read from its iommu_group link), is then handed to vfio-pci
 * (driver_override, unbind from its current driver, drivers_probe), and the
 * group's node /dev/vfio/<group> is what the container gets. Unlike
 * upstream, the groups are checked before any driver is touched, so a
 * function that cannot be used is never unbound from its driver.
 * "vfio-pci-gk": the functions stay with the guest's own drivers; only their
 * guest addresses are wanted (PCIDEVICE_* variables).
 *
 * Offers: vfio_probe(), vfio_iommu_group().
 */
#ifndef KATA_DEVICES_VFIO_H
#define KATA_DEVICES_VFIO_H

#include "probe.h"

/* Look for q's functions below sysfd (the sysfs root): 0 with f filled
 * (f->syspath: the group's "devices/virtual/vfio/<N>" for DEV_VFIO),
 * -ENOENT while something is missing, another negative code with err. */
int vfio_probe(const struct dev_env *env, int sysfd, const struct dev_query *q, struct dev_found *f,
	       struct kerr *err);

/* The IOMMU group of the PCI function at dir (below sysfd): 0 with *group,
 * -ENOENT when it has none. */
int vfio_iommu_group(int sysfd, const char *dir, unsigned *group, struct kerr *err);

#endif
