/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroups.h - the container's cgroup: layout detection, creation below the
 * configured parent, placing pids, and removal.
 *
 * Offers: struct cg_config, enum cg_layout, cg_detect(), struct cgroup,
 *         cg_create(), cg_open(), cg_v2_fd(), cg_add_pid(), cg_destroy(), cg_path(),
 *         cg_layout_of(), cg_forget(), cg_parent_remove(),
 *         cg_apply_resources(), cg_freeze(), cg_freeze_reached(),
 *         cg_stats(), net_dev_stats(), cg_controller_dir(),
 *         cg_cpuset_refresh().
 *
 * Layouts: v2 unified (/sys/fs/cgroup is cgroup2) -> CG_V2; v1 (controllers
 * mounted under /sys/fs/cgroup/<ctrl>) and hybrid (v1 controllers plus a
 * cgroup2 at /sys/fs/cgroup/unified) -> CG_V1, using the v1 controllers.
 *
 * cgroups_path (linux.cgroupsPath of the spec) is always placed below
 * cfg->parent: an absolute path is taken relative to the parent, never to the
 * real root; ".." components, NUL and paths over CG_PATH_MAX are refused with
 * GRPC_INVALID_ARGUMENT.  The systemd form "slice:prefix:name" becomes
 * "slice/prefix/name" below the parent, as upstream's agent turns every ':'
 * into '/' when it is the guest's init (see doc/storage-cgroups.md).
 * Resource limits (OCI linux.resources): cg_apply_resources, in
 * cgroups_resources.c.
 */
#ifndef KATA_EXECUTOR_CGROUPS_H
#define KATA_EXECUTOR_CGROUPS_H

#include <stdbool.h>
#include <sys/types.h>

#include "agent.pb-c.h"
#include "err.h"
#include "oci.pb-c.h"

#define CG_PATH_MAX 1024

struct cg_config {
	/* e.g. "kata-test-123", relative to each hierarchy root; "" or NULL =
	 * the root. */
	const char *parent;
	/* Tests: NULL = /sys/fs/cgroup.  When set, it is the mount of one
	 * hierarchy: a cgroup2 mount -> CG_V2 rooted there; otherwise a dir of
	 * v1 controller mounts. */
	const char *root_override;
};

enum cg_layout { CG_V1 = 1, CG_V2 };

int cg_detect(const struct cg_config *cfg, enum cg_layout *out, struct kerr *err);

struct cgroup;

/* Create (mkdir -p) the cgroup. Empty/NULL cgroups_path: "<parent>/<container_id>".
 * An already existing directory is reused (upstream does the same); such a
 * reused cgroup is removed by cg_destroy only if empty, never emptied by
 * force. Missing directories of cfg->parent are created and kept. */
int cg_create(const struct cg_config *cfg, const char *cgroups_path, const char *container_id,
	      struct cgroup **out, struct kerr *err);

/* The cgroup cg_create made for the same arguments, found without
 * creating or writing anything (the spawner and the launch workers, for
 * cg_add_pid and the v2 fd); missing on v2: an error. cg_forget releases
 * it. */
int cg_open(const struct cg_config *cfg, const char *cgroups_path, const char *container_id,
	    struct cgroup **out, struct kerr *err);

/* O_PATH|O_DIRECTORY fd for CLONE_INTO_CGROUP (owned by cg), -1 on v1. */
int cg_v2_fd(const struct cgroup *cg);

/* v1: every controller's cgroup.procs; v2: the one cgroup.procs. */
int cg_add_pid(struct cgroup *cg, pid_t pid, struct kerr *err);

/* rmdir what cg_create made, deepest first; a leaf we made that is still
 * in use (EBUSY) has its leftovers killed (v2 cgroup.kill; v1 freeze +
 * SIGKILL every pid, repeated) and is tried again, with a short bounded
 * retry (at most ~0.5 s of waiting in all: it runs in the executor loop);
 * frees cg even on error (the error says what is left behind). NULL is
 * allowed. */
int cg_destroy(struct cgroup *cg, struct kerr *err);

/* SIGKILL every process of the cgroup, now (v2 cgroup.kill; v1 freeze,
 * SIGKILL every pid, thaw, a few rounds): SignalProcess's "kill all". The
 * cgroup stays. Returns the first error; a v1 cgroup is thawed after. */
int cg_kill_all(struct cgroup *cg, struct kerr *err);

/* The cgroup path relative to each hierarchy root (no leading '/'). */
const char *cg_path(const struct cgroup *cg);
enum cg_layout cg_layout_of(const struct cgroup *cg);

/* Release the handle without touching the cgroup (e.g. in a forked child). */
void cg_forget(struct cgroup *cg);

/* rmdir cfg->parent (its last component) in every hierarchy, if empty;
 * missing is fine. For the executor's shutdown and for tests. */
int cg_parent_remove(const struct cg_config *cfg, struct kerr *err);

/* Write OCI linux.resources to the cgroup: memory (limit, reservation,
 * memory+swap; swappiness and disable_oom_killer on v1 only), cpu (shares,
 * as cpu.weight on v2 by runc's formula; quota and period; realtime period
 * and runtime on v1 only, refused on v2; cpus, mems), pids, block IO
 * (weights, per-device weights, throttles; v2 io.weight/io.bfq.weight and
 * io.max), hugetlb limits, network classid/priorities (v1 only, ignored
 * with a warning on v2), and device rules (defaults + the spec's on the
 * first call, appended on later ones; cgroups_devices.c,
 * doc/storage-cgroups.md). v2 "unified" keys are not written.  A field
 * that is 0 or "" (proto3: unset) leaves its file untouched; -1 means
 * unlimited.  Every value is checked before the first write (bad weight,
 * device number, page size, interface name, device rule, too many list
 * entries -> GRPC_INVALID_ARGUMENT naming the field).  Writes go in a fixed
 * order; on failure the files already written get back the values read
 * just before writing them (for list files, the one device's or
 * interface's line; device rules: the previous list).  A value the kernel
 * refuses -> GRPC_INVALID_ARGUMENT naming file and value; a missing
 * controller or file -> GRPC_FAILED_PRECONDITION.  NULL res: no-op. */
enum cg_apply {
	CG_APPLY_LIMITS = 1u << 0,  /* everything but the device rules */
	CG_APPLY_DEVICES = 1u << 1, /* the device rules */
	CG_APPLY_ALL = CG_APPLY_LIMITS | CG_APPLY_DEVICES,
};
/* what: CG_APPLY_* bits. CreateContainer writes the limits before the init
 * exists and the device rules once the init has set up its rootfs (its
 * mknods must not be refused by the spec's own rules; runc too applies them
 * when the init reports ready); LIMITS alone still validates the device
 * rules. UpdateContainer writes both. */
int cg_apply_resources(struct cgroup *cg, const Grpc__LinuxResources *res, unsigned what,
		       struct kerr *err);

/* Ask the kernel to freeze (true) or thaw (false) every task of the
 * cgroup: v1 freezer.state FROZEN/THAWED, v2 cgroup.freeze 1/0. Returns at
 * once; the state is reached asynchronously (cg_freeze_reached). No v1
 * freezer -> GRPC_FAILED_PRECONDITION. */
int cg_freeze(struct cgroup *cg, bool frozen, struct kerr *err);
/* 1 when the cgroup is (frozen ? FROZEN : THAWED), 0 while in transition
 * (v1 FREEZING, v2 cgroup.events "frozen" not yet matching). */
int cg_freeze_reached(struct cgroup *cg, bool frozen, struct kerr *err);

/* StatsContainer (cgroups_stats.c): the cgroup's cpu, memory, pids, blkio
 * and hugetlb statistics in upstream's CgroupStats shape, v1 or v2. A
 * missing controller or file leaves its fields 0; unreadable or unexpected
 * content -> GRPC_INTERNAL naming the file. *out is freed with
 * protobuf_c_message_free_unpacked(&(*out)->base, NULL). */
int cg_stats(const struct cgroup *cg, Grpc__CgroupStats **out, struct kerr *err);
/* The interfaces of pid's network namespace (/proc/<pid>/net/dev), every
 * one (lo included); none, without error, when pid is gone. *v is an array
 * of malloc'd messages (free each with protobuf_c_message_free_unpacked). */
int net_dev_stats(pid_t pid, Grpc__NetworkStats ***v, size_t *n, struct kerr *err);
/* The cgroup's absolute directory in the hierarchy holding controller ctrl
 * ("memory"): v1 the one mounted with it, v2 the unified one. malloc'd in
 * *out. No such hierarchy -> GRPC_FAILED_PRECONDITION. */
int cg_controller_dir(const struct cgroup *cg, const char *ctrl, char **out, struct kerr *err);

/* After CPUs came online (OnlineCPUMem): v1 copies the root's cpuset.cpus
 * to every level of the cgroup below the root, the leaf too when leaf (the
 * spec set no cpus of its own), as upstream's update_cpuset_path; a new
 * cpuset cgroup got its parent's cpus when it was made, and would
 * otherwise never see the new ones. v2: nothing to do. */
int cg_cpuset_refresh(struct cgroup *cg, bool leaf, struct kerr *err);

#endif
