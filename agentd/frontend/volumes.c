/* SPDX-License-Identifier: Apache-2.0 */
/*
 * volumes.c - the device RPCs, front-end side: AddSwap and ResizeVolume.
 * Their shapes are checked here (a PCI path of slots 0..31, an absolute
 * path); the executor checks them again, finds the disk and acts
 * (agentd/executor/handlers/volumes.c, doc/storage-cgroups.md
 * "Devices").
 */
#include <string.h>

#include "agent.pb-c.h"
#include "frontend.h"
#include "grpc_status.h"
#include "log.h"

/* kata_agent.go addSwap: AddSwapRequest{PCIPath: PCIPath.ToArray()}. */
RPC_HANDLER(rpc_add_swap)
{
	const Grpc__AddSwapRequest *r = (const Grpc__AddSwapRequest *)req;
	struct ipc_add_swap_device a = { .n = (uint32_t)r->n_pcipath };
	bool ok = r->n_pcipath >= 1 && r->n_pcipath <= IPC_PCI_PATH_MAX;
	for (size_t i = 0; ok && i < r->n_pcipath; i++) {
		ok = r->pcipath[i] <= 31;
		a.slot[i] = r->pcipath[i];
	}
	if (!ok) {
		ttrpc_call_fail(call, GRPC_INVALID_ARGUMENT,
				"AddSwap: PCIPath of %zu slots: 1..%u slots of 0..31 expected",
				r->n_pcipath, IPC_PCI_PATH_MAX);
		return;
	}
	executor_forward(fe, call, IPC_ADD_SWAP_REQ, &a, sizeof(a));
}

/* kata_agent.go resizeGuestVolume: the volume's guest mount path and the
 * new size in bytes. */
RPC_HANDLER(rpc_resize_volume)
{
	const Grpc__ResizeVolumeRequest *r = (const Grpc__ResizeVolumeRequest *)req;
	size_t len = strlen(r->volume_guest_path);
	if (r->volume_guest_path[0] != '/' || len >= IPC_PATH_MAX) {
		ttrpc_call_fail(call, GRPC_INVALID_ARGUMENT,
				"ResizeVolume: volume_guest_path is not an absolute path of fewer "
				"than %u bytes",
				IPC_PATH_MAX);
		return;
	}
	/* The header, then the path: a byte buffer, as a struct holding the
	 * header's flexible path[] before another member is a GNU extension
	 * clang refuses (the fuzz build). */
	_Alignas(struct ipc_resize_volume) char m[sizeof(struct ipc_resize_volume) + IPC_PATH_MAX];
	struct ipc_resize_volume *h = (struct ipc_resize_volume *)m;
	h->size = r->size;
	memcpy(h->path, r->volume_guest_path, len);
	log_info("ResizeVolume %s to %llu bytes", r->volume_guest_path,
		 (unsigned long long)r->size);
	executor_forward(fe, call, IPC_RESIZE_VOLUME_REQ, m, sizeof(*h) + len);
}
