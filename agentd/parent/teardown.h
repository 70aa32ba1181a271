/* SPDX-License-Identifier: Apache-2.0 */
/*
 * teardown.h - stand-alone, once the executor died: nothing of the agent may
 * outlive it. In a VM the power-off that follows the parent's exit ends
 * every process and mount; on a host nothing would: the monitors, the
 * containers, the pod's namespace holder would run on under PID 1 with
 * their cgroups and the storages' mounts left behind.
 *
 * Offers: teardown_after_executor().
 */
#ifndef KATA_PARENT_TEARDOWN_H
#define KATA_PARENT_TEARDOWN_H

/* In order: kill the containers through their cgroups (found from the
 * cgroup files of the parent's descendants that live in other pid
 * namespaces, below cgroup_parent), SIGKILL every descendant of the
 * parent and reap them until none is left, remove those container
 * cgroups (and their empty parents below cgroup_parent), and unmount
 * (detach) everything mounted below shared_dir in the parent's mount
 * namespace. Bounded (a few seconds); every step is logged. */
void teardown_after_executor(const char *shared_dir, const char *cgroup_parent);

#endif
