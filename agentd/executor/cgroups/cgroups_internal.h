/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroups_internal.h - what cgroups.c shares with its v1 and v2 halves
 * (cgroups_v1.c, cgroups_v2.c); not for other modules.
 */
#ifndef KATA_EXECUTOR_CGROUPS_INTERNAL_H
#define KATA_EXECUTOR_CGROUPS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroups.h"

#define CG_MAX_HIER 16

/* One mounted hierarchy (v1: one per distinct controller set; v2: one). */
struct cg_hier {
	char *mount; /* where the hierarchy is mounted */
	char *ctrls; /* "cpu,cpuacct"; "" for v2 */
	bool cpuset; /* needs cpuset.cpus/mems copied down */
	bool freezer;
	/* Index (in path components) of the first directory cg_create made in
	 * this hierarchy; components from there on are removed on destroy. */
	size_t first_created;
	bool present; /* the leaf directory exists (made or reused) */
};

struct cgroup {
	enum cg_layout layout;
	char *path;          /* relative to each hierarchy root, no leading '/' */
	size_t parent_depth; /* components of path that belong to cfg->parent */
	size_t depth;        /* components of path */
	struct cg_hier hier[CG_MAX_HIER];
	size_t n_hier;
	int v2fd;
	/* Device rules in force (cgroups_devices.c): the effective list, and
	 * the one before the last cg_apply_devices, for cg_devices_revert. */
	struct cg_dev_rule *dev_rules;
	size_t n_dev_rules;
	struct cg_dev_rule *dev_prev;
	size_t n_dev_prev;
	bool dev_applied;  /* dev_rules has been written at least once */
	bool dev_prev_set; /* dev_prev is the state to go back to */
	/* v2: the BPF_PROG_TYPE_CGROUP_DEVICE program attached to the
	 * directory (-1: none), detached when its successor is attached. */
	int dev_prog_fd;
	/* EBUSY retries cg_rmdir_path may still make, shared by every
	 * hierarchy of one cg_destroy (0 outside it: no retry). */
	unsigned retries_left;
};

/* The first n components of path, as a malloc'd string. */
char *cg_path_prefix(const char *path, size_t n);

/* Write a string to dir/file (opened O_WRONLY, no O_CREAT). */
int cg_write_file(const char *dir, const char *file, const char *val, struct kerr *err);
/* Read a small file into a malloc'd, NUL-terminated buffer. */
int cg_read_file(const char *dir, const char *file, char **out, struct kerr *err);

/* Level d (1..depth) of cg->path in h: its directory and its parent's
 * (malloc'd; both NULL on error). */
int cg_level_dirs(const struct cgroup *cg, const struct cg_hier *h, size_t d, char **dir,
		  char **pdir, struct kerr *err);
/* mkdir -p of cg->path in h, recording what was made; the common part. */
int cg_mkdir_path(struct cgroup *cg, struct cg_hier *h,
		  int (*on_created)(struct cgroup *, struct cg_hier *, const char *dir,
				    const char *parent, struct kerr *),
		  struct kerr *err);
/* SIGKILL every pid listed in dir/cgroup.procs; returns how many were signalled. */
int cg_kill_procs(const char *dir, struct kerr *err);

/* ---- device rules (cgroups_devices.c) ---------------------------------- */

/* Access bits, the kernel's BPF_DEVCG_ACC_* values. */
#define CG_DEV_M 1u
#define CG_DEV_R 2u
#define CG_DEV_W 4u
#define CG_DEV_ANY (-1)
/* At most this many rules in one linux.resources.devices; the effective
 * list (defaults + every request since create) is bounded by
 * CG_DEV_EFFECTIVE_MAX, which keeps the BPF program under BPF_MAXINSNS. */
#define CG_DEV_SPEC_MAX 128
#define CG_DEV_EFFECTIVE_MAX 256

/* One normalised rule: type 'b' or 'c' (an OCI "a" rule becomes one of each),
 * major/minor a number or CG_DEV_ANY, access a non-empty CG_DEV_* set. */
struct cg_dev_rule {
	bool allow;
	char type;
	int64_t major;
	int64_t minor;
	unsigned access;
};

/* The upstream agent's default rules (its DEFAULT_DEVICES then
 * DEFAULT_ALLOWED_DEVICES), which every container starts with. */
extern const struct cg_dev_rule cg_dev_defaults[];
extern const size_t cg_dev_n_defaults;

/* Validate linux.resources.devices and append it to base (n_base rules),
 * dropping "deny all" rules as upstream does and rules shadowed by a later
 * one; *out is malloc'd. A bad rule -> GRPC_INVALID_ARGUMENT naming its
 * index; too many -> GRPC_RESOURCE_EXHAUSTED. */
int cg_dev_rules_merge(const struct cg_dev_rule *base, size_t n_base,
		       Grpc__LinuxDeviceCgroup *const *spec, size_t n_spec,
		       struct cg_dev_rule **out, size_t *n_out, struct kerr *err);

/* v1 line for a rule, "c 1:3 rwm" ('*' for CG_DEV_ANY); buf >= 48 bytes. */
void cg_dev_rule_line(const struct cg_dev_rule *r, char *buf, size_t len);

/* Upper bound of cg_dev_bpf_build's output for n rules. */
size_t cg_dev_bpf_max_insns(size_t n);
/* The BPF_PROG_TYPE_CGROUP_DEVICE program for a rule list (pure): default
 * deny; for each requested access bit the last rule that matches the device
 * and holds the bit decides, and the access is allowed only if every
 * requested bit is. Returns the instruction count, or -E2BIG when max is too
 * small. */
struct bpf_insn;
int cg_dev_bpf_build(const struct cg_dev_rule *rules, size_t n, struct bpf_insn *out, size_t max);
/* Load the program for rules and attach it (BPF_F_ALLOW_MULTI) to the
 * cgroup2 directory dirfd, then detach old_prog (when >= 0). On success
 * *prog is the new program's fd and old_prog is closed; on failure the old
 * program stays attached. */
int cg_dev_bpf_attach(int dirfd, const struct cg_dev_rule *rules, size_t n, int old_prog, int *prog,
		      struct kerr *err);

/* Write res->devices (plus the defaults on the first call) to the cgroup:
 * v1 devices.deny "a" then one devices.allow/deny line per rule, v2 a new
 * device program. An empty list after the first call changes nothing. On
 * failure the previous rules are put back. */
int cg_apply_devices(struct cgroup *cg, const Grpc__LinuxResources *res, struct kerr *err);
/* Validate the spec's rules (merged with the defaults) without writing. */
int cg_devices_check(const Grpc__LinuxResources *res, struct kerr *err);
/* Put back the rules in force before the last successful cg_apply_devices
 * (a later part of the same request failed). */
void cg_devices_revert(struct cgroup *cg);
/* Free the rule lists and close the program fd (the attachment stays with
 * the cgroup directory until it is removed). */
void cg_devices_release(struct cgroup *cg);

int cg_v1_create(struct cgroup *cg, struct kerr *err);
int cg_v1_kill(struct cgroup *cg, struct kerr *err);
int cg_v2_create(struct cgroup *cg, struct kerr *err);
int cg_v2_kill(struct cgroup *cg, struct kerr *err);

#endif
