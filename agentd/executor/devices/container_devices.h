/* SPDX-License-Identifier: Apache-2.0 */
/*
 * container_devices.h - CreateContainer's devices: what the request needs
 * found before the container can be made, and its spec rewritten once they
 * are (upstream add_devices, with add_storages' device waits).
 *
 * The runtime's devices (kata_agent.go appendDevices): "blk" (id = PCI
 * path), "mmioblk" (vm_path = /dev/vdX), "scsi" (id = target:lun),
 * "nvdimm" (vm_path = /dev/pmemN), "vfio-pci" and "vfio-pci-gk" (options
 * "<host BDF>=<guest PCI path>", one per function of the group); "vfio-ap"
 * and "blk-ccw" exist only on s390x (FAILED_PRECONDITION here); any other
 * type is INVALID_ARGUMENT naming it. Its block storages (blk, mmioblk,
 * scsi, nvdimm: handleDeviceBlockVolume, ShareRootFilesystem for a block
 * rootfs) wait in the same batch.
 *
 * Offers: ctr_devices_batch(), ctr_devices_apply(), ctr_devices_find().
 */
#ifndef KATA_DEVICES_CONTAINER_DEVICES_H
#define KATA_DEVICES_CONTAINER_DEVICES_H

#include "agent.pb-c.h"
#include "err.h"
#include "hotplug.h"

/* The batch of every device req needs (its devices, its block storages),
 * not yet run; *out stays NULL when it needs none. Every device entry is
 * checked here (type, id, paths). */
int ctr_devices_batch(struct hotplug *h, const Grpc__CreateContainerRequest *req,
		      struct dev_batch **out, struct kerr *err);

/* After b succeeded: req's spec rewritten to the guest's devices
 * (spec_devices.h); with a VFIO device, the guest's RDMA char devices
 * (the char devices in env's /dev/infiniband) added too, as upstream's
 * expose_guest_infiniband_devices. */
int ctr_devices_apply(Grpc__CreateContainerRequest *req, const struct dev_batch *b,
		      const struct dev_env *env, struct kerr *err);

/* The device the kernel announced for req's device entry whose container
 * path is container_path (b: the batch that found req's devices): 1 with
 * *f and its label ("mmioblk device /dev/vdb"), 0 when no entry has that
 * path; the first such entry counts. */
int ctr_devices_find(const Grpc__CreateContainerRequest *req, const struct dev_batch *b,
		     const char *container_path, struct dev_found *f, char *label, size_t len,
		     struct kerr *err);

#endif
