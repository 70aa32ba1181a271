/* SPDX-License-Identifier: Apache-2.0 */
/*
 * guest_pull.h - the "image_guest_pull" storage of CreateContainer: the
 * container's image pulled and unpacked in the guest by the Confidential
 * Data Hub, never by the host (upstream storage/image_pull_handler.rs and
 * confidential_data_hub/image.rs).
 *
 * What the Go runtime sends (kata_agent.go handleImageGuestPullBlockVolume,
 * fs_share_linux.go forceGuestPull / shareRootFilesystemWithVirtualVolume):
 * a storage with driver "image_guest_pull", source = the image reference
 * ("pause" for the pod's sandbox container), fstype "overlay", driver
 * option "image_guest_pull=<JSON {"metadata": {...}}>" (the container's
 * annotations merged in), mount point /run/kata-containers/<cid>/rootfs,
 * and the spec's Root.Path the same.
 *
 * Here: the bundle is <shared dir>/<container id>, made fresh by the
 * executor (it must not exist: no other container's bundle, no directory of
 * the shared dir, no mount point, is ever reused); the storage's mount
 * point must be <bundle>/rootfs; the reference must be a well-formed image
 * reference (distribution/reference grammar: no "..", no absolute path);
 * the metadata a JSON object of strings. Then, as upstream:
 *  - a sandbox container (metadata io.kubernetes.cri.container-type or
 *    io.kubernetes.cri-o.ContainerType = "sandbox"): the pause bundle of the
 *    guest image (--pause-bundle, upstream /pause_bundle) is unpacked into
 *    the bundle (its config.json and its process's args[0]), in the
 *    executor's loop (one small local copy), and the spec's process becomes
 *    the pause bundle's (args, env, cwd, user; upstream get_process);
 *  - any other: the CDH's PullImage(reference, bundle) runs in a CDH worker
 *    (cdh_job.h), bounded by agent.image_pull_timeout; the create goes on
 *    when it answers.
 * Afterwards <bundle>/rootfs must be a directory reached without a symlink,
 * and Root.Path becomes it (upstream setup_bundle puts the bundle's rootfs
 * in the spec whatever Root.Path said). RemoveContainer (and a failed
 * create) unmounts <bundle>/rootfs if the CDH mounted it and removes the
 * bundle, never following a symlink or crossing into another filesystem.
 *
 * Offers: guest_pull_is_storage(), guest_pull_ref_valid(),
 * guest_pull_metadata(), guest_pull_pause_process(), guest_pull_begin(),
 * guest_pull_abort(), guest_pull_cleanup().
 */
#ifndef KATA_EXECUTOR_GUEST_PULL_H
#define KATA_EXECUTOR_GUEST_PULL_H

#include <stdbool.h>

#include "agent.pb-c.h"
#include "err.h"

#define GUEST_PULL_DRIVER "image_guest_pull"
#define GUEST_PULL_REF_MAX 4096

struct container;

bool guest_pull_is_storage(const Grpc__Storage *s);

/* ref is an image reference: [host[:port]/]path[:tag][@digest], each path
 * component lower-case alphanumerics joined by '.', '_', '__' or '-'s. */
bool guest_pull_ref_valid(const char *ref);

/* The storage's "image_guest_pull=<json>" option: a JSON object whose
 * "metadata" (optional) is an object of strings. *sandbox: its container
 * type is "sandbox" (upstream is_sandbox). INVALID_ARGUMENT otherwise. */
int guest_pull_metadata(const Grpc__Storage *s, bool *sandbox, struct kerr *err);

/* The pause bundle's config.json (text, len bytes) as a process: args
 * (at least one, args[0] absolute), env, cwd, user.uid and user.gid
 * replace p's. *arg0 (malloc'd): args[0]. */
int guest_pull_pause_process(const char *json, size_t len, Grpc__Process *p, char **arg0,
			     struct kerr *err);

/* CreateContainer, before its storages: 0 when ct has no guest pull or it
 * is done (and the spec updated); 1 when a pull was started: resume(ct,
 * failure) runs from the loop when the CDH answers; < 0 on error. */
typedef void (*guest_pull_resume)(struct container *ct, const struct kerr *failure);
int guest_pull_begin(struct container *ct, guest_pull_resume resume, struct kerr *err);

/* The container goes while its pull runs: the worker is killed, resume is
 * never called. False when no pull runs. */
bool guest_pull_abort(struct container *ct);

/* ctr_free: the bundle made for ct unmounted and removed; ct->gp freed. */
void guest_pull_cleanup(struct container *ct);

#endif
