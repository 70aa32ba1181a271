/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe.h - which guest device a runtime reference names, found in sysfs,
 * and its node opened safely.
 *
 * The runtime names a device by where it sits (a PCI path, a SCSI
 * target:lun, a virtio-mmio or pmem disk name, the PCI functions of a VFIO
 * group); sysfs is the truth about what is there: a probe looks for the
 * device now and says "found", "not yet" or why it cannot be. The device's
 * name and number come from the kernel (sysfs "dev", the name of its sysfs
 * directory), never from a path the host sent: a host's /dev path (an
 * mmioblk or nvdimm source) must equal the kernel's name of a device of
 * that kind. The node is then opened below /dev without following a
 * symlink and checked to be that block (or char) device, major:minor.
 *
 * Offers: struct dev_env, dev_env_real, enum dev_kind, struct dev_query,
 *         struct dev_found, dev_query_from_storage(), dev_query_same(),
 *         dev_probe(), dev_uevent_concerns(), dev_node_open(),
 *         dev_memory_online().
 */
#ifndef KATA_DEVICES_PROBE_H
#define KATA_DEVICES_PROBE_H

#include <stdbool.h>
#include <sys/types.h>

#include "err.h"
#include "pci.h"
#include "uevent.h"

/* Where sysfs and /dev are (tests use fake trees). */
struct dev_env {
	const char *sysfs;
	const char *dev;
};
extern const struct dev_env dev_env_real; /* "/sys", "/dev" */

enum dev_kind {
	DEV_BLK_PCI = 1, /* "blk": virtio-blk by PCI path */
	DEV_BLK_MMIO,    /* "mmioblk": a virtio disk by its kernel name */
	DEV_SCSI,        /* "scsi": a SCSI disk by target:lun, channel 0 */
	DEV_PMEM,        /* "nvdimm": an ACPI NFIT pmem disk by its kernel name */
	DEV_VFIO,        /* "vfio-pci": PCI functions of one IOMMU group, bound to
			  * vfio-pci; the group's /dev/vfio/N */
	DEV_PCI_GK,      /* "vfio-pci-gk": PCI functions left to guest drivers */
};

/* PCI functions one VFIO device entry may list. */
#define DEV_VFIO_MAX 16

struct dev_query {
	enum dev_kind kind;
	char label[128];     /* names the device in every error: "blk 02/00" */
	struct pci_path pci; /* DEV_BLK_PCI */
	char name[32];       /* DEV_BLK_MMIO, DEV_PMEM: "vda", "pmem0" */
	unsigned scsi_id, scsi_lun;
	unsigned n_fn; /* DEV_VFIO, DEV_PCI_GK */
	struct pci_addr host[DEV_VFIO_MAX];
	struct pci_path guest[DEV_VFIO_MAX];
};

struct dev_found {
	char devname[64]; /* relative to /dev: "vda", "vfio/12"; "" for DEV_PCI_GK */
	dev_t rdev;
	bool block;        /* a block device; a char device otherwise */
	char syspath[256]; /* below the sysfs root: "devices/.../block/vda" */
	unsigned n_fn;     /* DEV_VFIO, DEV_PCI_GK: guest addresses, in query order */
	struct pci_addr guest[DEV_VFIO_MAX];
	/* Work a probe does once (state kept between probes of one query). */
	bool scsi_scanned;
	bool vfio_bound;
};

/* The device a storage of driver blk, mmioblk, scsi or nvdimm needs:
 * 1 with q filled, 0 for any other driver, or INVALID_ARGUMENT /
 * PERMISSION_DENIED for a source that is not the runtime's form (a blk
 * storage named by a /dev path: the host does not choose guest nodes). */
int dev_query_from_storage(const char *driver, const char *source, struct dev_query *q,
			   struct kerr *err);
/* Parse the runtime's references: a PCI path, "target:lun", "/dev/<name>"
 * of a virtio (mmio) or pmem disk. INVALID_ARGUMENT naming what. */
int dev_query_blk_pci(const char *pcipath, struct dev_query *q, struct kerr *err);
int dev_query_scsi(const char *addr, struct dev_query *q, struct kerr *err);
int dev_query_named(enum dev_kind kind, const char *devpath, struct dev_query *q, struct kerr *err);
/* "DDDD:BB:SS.F=<guest PCI path>", one function of a VFIO entry. */
int dev_query_add_vfio_fn(struct dev_query *q, const char *option, struct kerr *err);

bool dev_query_same(const struct dev_query *a, const struct dev_query *b);

/* Look for q now: 1 found (*f filled), 0 not there yet, negative with err
 * for a device that is there but cannot be used (no IOMMU group, two SCSI
 * disks at one address, ...). f keeps the work done between calls (zero it
 * before the first). SCSI hosts are asked to scan for the address at the
 * first call; VFIO functions are handed to vfio-pci once all are there. */
int dev_probe(const struct dev_env *env, const struct dev_query *q, struct dev_found *f,
	      struct kerr *err);

/* Whether ev may have brought q (worth probing again). */
bool dev_uevent_concerns(const struct dev_query *q, const struct uevent *ev);

/* An O_PATH fd of f's node below env->dev: opened without following any
 * symlink, and checked to be the block (char) device f->rdev. A node
 * missing, of another type or number: FAILED_PRECONDITION naming it. */
int dev_node_open(const struct dev_env *env, const struct dev_found *f, struct kerr *err);

/* A memory block's add uevent: write 1 to its "online" when it reads 0
 * (upstream onlines hot-added memory from uevents). 1 onlined, 0 nothing
 * to do (not a memory block, already online), negative on failure. */
int dev_memory_online(const struct dev_env *env, const struct uevent *ev, struct kerr *err);

#endif
