/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "grpc_status.h"
#include "linux_compat.h"
#include "namespaces.h"

static const struct {
	const char *name;
	int flag;
} ns_names[] = {
	{ "pid", CLONE_NEWPID },       { "network", CLONE_NEWNET }, { "mount", CLONE_NEWNS },
	{ "ipc", CLONE_NEWIPC },       { "uts", CLONE_NEWUTS },     { "user", CLONE_NEWUSER },
	{ "cgroup", CLONE_NEWCGROUP }, { "time", CLONE_NEWTIME },
};

int ns_flag_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(ns_names) / sizeof(ns_names[0]); i++)
		if (strcmp(name, ns_names[i].name) == 0)
			return ns_names[i].flag;
	return 0;
}

static const char *ns_name_from_flag(int flag)
{
	for (size_t i = 0; i < sizeof(ns_names) / sizeof(ns_names[0]); i++)
		if (ns_names[i].flag == flag)
			return ns_names[i].name;
	return "?";
}

void ns_plan_close(struct ns_plan *plan)
{
	for (int i = 0; i < plan->n_join; i++)
		if (plan->join_fd[i] >= 0)
			close(plan->join_fd[i]);
	plan->n_join = 0;
	if (plan->pid_join_fd >= 0)
		close(plan->pid_join_fd);
	plan->pid_join_fd = -1;
}

int ns_plan_open(const Grpc__Linux *lx, struct ns_plan *plan, struct kerr *err)
{
	memset(plan, 0, sizeof(*plan));
	plan->pid_join_fd = -1;
	if (!lx)
		return 0;
	for (size_t i = 0; i < lx->n_namespaces; i++) {
		const Grpc__LinuxNamespace *ns = lx->namespaces[i];
		int flag = ns_flag_from_name(ns->type);
		if (!flag) {
			ns_plan_close(plan);
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "Linux.Namespaces[%zu]: unknown type \"%s\"", i,
					       ns->type);
		}
		if ((plan->clone_flags | plan->join_flags) & flag) {
			ns_plan_close(plan);
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "Linux.Namespaces[%zu]: %s given twice", i,
					       ns->type);
		}
		if (!ns->path || !ns->path[0]) {
			plan->clone_flags |= flag;
			continue;
		}
		int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			ns_plan_close(plan);
			return kerr_set(err, -e, "open %s namespace %s: %s", ns->type, ns->path,
					strerror(e));
		}
		plan->join_flags |= flag;
		if (flag == CLONE_NEWPID) {
			plan->pid_join_fd = fd;
			continue;
		}
		/* The user namespace goes first: joining it is what gives the
		 * rights over the namespaces it owns. */
		int at = plan->n_join;
		if (flag == CLONE_NEWUSER && at > 0) {
			memmove(&plan->join_fd[1], &plan->join_fd[0], at * sizeof(int));
			memmove(&plan->join_type[1], &plan->join_type[0], at * sizeof(int));
			at = 0;
		}
		plan->join_fd[at] = fd;
		plan->join_type[at] = flag;
		plan->n_join++;
	}
	return 0;
}

int ns_join(const struct ns_plan *plan, struct kerr *err)
{
	for (int i = 0; i < plan->n_join; i++)
		if (setns(plan->join_fd[i], plan->join_type[i]) < 0)
			return kerr_set(err, -errno, "join %s namespace: %s",
					ns_name_from_flag(plan->join_type[i]), strerror(errno));
	/* Last: it only decides where the children go. */
	if (plan->pid_join_fd >= 0 && setns(plan->pid_join_fd, CLONE_NEWPID) < 0)
		return kerr_set(err, -errno, "join pid namespace (for the container process): %s",
				strerror(errno));
	return 0;
}

static int write_map(pid_t pid, const char *file, Grpc__LinuxIDMapping *const *m, size_t n,
		     struct kerr *err)
{
	char path[64];
	/* One write, as the kernel requires; 340 lines of three u32 fit. */
	char buf[340 * 36];
	size_t len = 0;

	if (n > 340)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "%s: %zu mappings, the kernel takes at most 340", file, n);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%u %u %u\n",
					m[i]->containerid, m[i]->hostid, m[i]->size);
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return kerr_set(err, -errno, "open %s: %s", path, strerror(errno));
	ssize_t w = write(fd, buf, len);
	if (w < 0)
		return kerr_set(err, -errno, "write %s: %s", path, strerror(errno));
	if ((size_t)w != len)
		return kerr_set(err, -EIO, "write %s: short write", path);
	return 0;
}

int ns_write_id_maps(pid_t pid, const Grpc__Linux *lx, struct kerr *err)
{
	int r;
	if (lx->n_uidmappings) {
		r = write_map(pid, "uid_map", lx->uidmappings, lx->n_uidmappings, err);
		if (r < 0)
			return r;
	}
	if (lx->n_gidmappings) {
		r = write_map(pid, "gid_map", lx->gidmappings, lx->n_gidmappings, err);
		if (r < 0)
			return r;
	}
	return 0;
}
