/* SPDX-License-Identifier: Apache-2.0 */
/*
 * process.h - the container process's own settings, applied in the setup
 * child: hostname, sysctls, oom_score_adj, rlimits, user and groups, the five
 * capability sets, no_new_privs, and finding args[0] on the container's PATH.
 *
 * Name tables (rlimits, capabilities, sysctl keys) live here so spec_check
 * validates against exactly what is applied.
 */
#ifndef KATA_CONTAINER_PROCESS_H
#define KATA_CONTAINER_PROCESS_H

#include <stdbool.h>

#include "err.h"
#include "oci.pb-c.h"

/* RLIMIT_* value for "RLIMIT_NOFILE" etc., -1 when unknown. */
int process_rlimit_from_name(const char *name);
/* Capability number for "CAP_CHOWN" etc. (case-insensitive), -1 unknown. */
int process_cap_from_name(const char *name);

/* May the container set the sysctl key, given the namespaces it gets (new
 * or joined, CLONE_NEW* flags)? IPC keys with an ipc namespace and
 * kernel.hostname/domainname with a uts namespace, as runc; net.* always,
 * as upstream's validator: the runtime strips the network namespace from
 * every spec (the guest's is the pod's), so a container without one sets
 * the pod's network sysctls (containerd puts
 * net.ipv4.ip_unprivileged_port_start and net.ipv4.ping_group_range in
 * every pause container). */
bool process_sysctl_allowed(const char *key, int ns_flags);

int process_set_hostname(const char *hostname, struct kerr *err);
/* Writes proc/sys/<key> for each entry, below root_fd (the container's
 * rootfs, its /proc mounted; resolved inside it). Called before the
 * readonly paths are applied, as upstream sets sysctls before
 * finish_rootfs: containerd makes /proc/sys read-only in every spec. */
int process_apply_sysctl(const Grpc__Linux *lx, int root_fd, struct kerr *err);
int process_set_oom_score_adj(int64_t adj, struct kerr *err);
int process_set_rlimits(const Grpc__Process *p, struct kerr *err);

/* Drop every capability not in the bounding set (before changing user). */
int process_drop_bounding(const Grpc__LinuxCapabilities *caps, struct kerr *err);
/* setgroups, setresgid, setresuid, keeping the permitted set across the
 * change so process_set_caps can still set the spec's sets. */
int process_set_user(const Grpc__User *user, struct kerr *err);
/* Effective, permitted, inheritable, then ambient. NULL caps: none at all. */
int process_set_caps(const Grpc__LinuxCapabilities *caps, struct kerr *err);

/* Path of args[0]: itself if it has a '/', else the first executable match
 * on the PATH of the process env (the usual default PATH when it has none).
 * Caller frees *out. */
int process_lookup(const Grpc__Process *p, char **out, struct kerr *err);

/* The environment the process gets, as upstream builds it (rustjail
 * do_init_child with kata-sys-util valid_env): entries without '=' or with
 * an empty key are dropped, key and value trimmed of white space, a key
 * given twice keeps its first place and its last value; HOME, when absent,
 * is the user's home in the container's /etc/passwd (a regular file, read
 * without NSS, at most 1 MiB), else "/". Runs in the container, as its
 * user. *out is NULL-terminated; free with process_env_free. */
int process_env(const Grpc__Process *p, char ***out, struct kerr *err);
void process_env_free(char **env);

/* An exec's process as upstream runs it: what the Kata runtime leaves out
 * of ExecProcess (kata_agent.go cmdToKataProcess sends args, env, cwd,
 * user and terminal only) comes from the container's process: the
 * capabilities (rustjail LinuxContainer::start), the rlimits and
 * oom_score_adj (do_init_child reads those from the container's spec), and
 * NoNewPrivileges (ours: an exec must not escape the container's
 * no_new_privs; upstream leaves it off). out is a shallow copy pointing
 * into both; nothing to free. */
void process_exec_inherit(Grpc__Process *out, const Grpc__Process *exec,
			  const Grpc__Process *container);

/* execve(path, args, env); returns only on failure. */
int process_exec(const char *path, const Grpc__Process *p, char **env, struct kerr *err);

#endif
