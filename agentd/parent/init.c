/* SPDX-License-Identifier: Apache-2.0 */
/*
 * init.c - PID 1 duties (see init.h). The mount table, options and the v1
 * controller list follow the upstream agent (mount.rs INIT_ROOTFS_MOUNTS,
 * get_cgroup_mounts, cgroups_mount; main.rs init_agent_as_init), so a guest
 * image that works with the upstream agent sees the same layout with this one.
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include "libc_compat.h"
#include "cleanup.h"
#include "log.h"

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CGROUP_ROOT "/sys/fs/cgroup"
#define INIT_PATH "/bin:/sbin:/usr/bin:/usr/sbin"

struct init_mount {
	const char *fstype;
	const char *source;
	const char *target;
	unsigned long flags;
	const char *data;
	unsigned long magic; /* statfs f_type of a mount already in place */
	bool optional;       /* failure is logged, not fatal */
};

/*
 * Upstream's table. devpts gets ptmxmode=0666 because /dev/ptmx becomes a
 * link to /dev/pts/ptmx, whose default mode 0000 would leave only root able to
 * allocate a pty; mode=0620 is the usual mode of the slaves. A missing
 * devtmpfs is tolerated as upstream does (a kernel without it still boots
 * with a static /dev in the image).
 */
static const struct init_mount early_mounts[] = {
	{ "proc", "proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, PROC_SUPER_MAGIC, false },
	{ "sysfs", "sysfs", "/sys", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, SYSFS_MAGIC, false },
	{ "devtmpfs", "dev", "/dev", MS_NOSUID, NULL, TMPFS_MAGIC, true },
	{ "tmpfs", "tmpfs", "/dev/shm", MS_NOSUID | MS_NODEV, "mode=1777", TMPFS_MAGIC, false },
	{ "devpts", "devpts", "/dev/pts", MS_NOSUID | MS_NOEXEC, "ptmxmode=0666,mode=0620",
	  DEVPTS_SUPER_MAGIC, false },
	{ "tmpfs", "tmpfs", "/run", MS_NOSUID | MS_NODEV, "mode=0755", TMPFS_MAGIC, false },
};

/* The v1 controllers upstream mounts, each on a hierarchy of its own (no
 * cpu,cpuacct co-mount, no name=systemd hierarchy: upstream has neither, and
 * rustjail-compatible cgroup paths expect /sys/fs/cgroup/<controller>). */
static const char *const v1_controllers[] = {
	"cpu",     "cpuacct",    "blkio",    "cpuset",  "memory", "devices", "freezer",
	"net_cls", "perf_event", "net_prio", "hugetlb", "pids",   "rdma",
};

static int mkdir_p(const char *path, mode_t mode, struct kerr *err)
{
	char buf[256];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return kerr_set(err, -ENAMETOOLONG, "mkdir %s: path too long", path);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return kerr_set(err, -errno, "mkdir %s: %s", buf, strerror(errno));
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

/* True when path is the root of a mount of the filesystem type `magic`.
 * statx and statfs need no /proc, so this works before /proc is mounted.
 * Without STATX_ATTR_MOUNT_ROOT (kernels before 5.8) a differing st_dev from
 * the parent directory tells the same for the mounts made here. */
static bool mounted_as(const char *path, unsigned long magic)
{
	struct statfs sfs;
	struct statx stx;

	if (statfs(path, &sfs) < 0 || (unsigned long)sfs.f_type != magic)
		return false;
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
		return false;
	if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
		return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;

	char parent[256];
	struct stat self, up;
	if (snprintf(parent, sizeof(parent), "%s/..", path) >= (int)sizeof(parent))
		return false;
	if (stat(path, &self) < 0 || stat(parent, &up) < 0)
		return false;
	return self.st_dev != up.st_dev;
}

static int mount_one(const struct init_mount *m, struct kerr *err)
{
	int r = mkdir_p(m->target, 0755, err);
	if (r < 0)
		return r;
	if (mounted_as(m->target, m->magic)) {
		log_debug("init: %s already mounted (%s)", m->target, m->fstype);
		return 0;
	}
	if (mount(m->source, m->target, m->fstype, m->flags, m->data) < 0)
		return kerr_set(err, -errno, "mount %s on %s: %s", m->fstype, m->target,
				strerror(errno));
	log_debug("init: mounted %s on %s", m->fstype, m->target);
	return 0;
}

static int write_file(const char *path, const char *value)
{
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t n = strlen(value);
	ssize_t w = write(fd, value, n);
	if (w < 0)
		return -errno;
	return (size_t)w == n ? 0 : -EIO;
}

/* Make /dev/ptmx the multiplexer of the /dev/pts instance mounted above, as
 * upstream does, rather than devtmpfs's node that would open the initial
 * devpts instance. */
static int link_ptmx(struct kerr *err)
{
	char target[64];
	ssize_t n = readlink("/dev/ptmx", target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		if (strcmp(target, "/dev/pts/ptmx") == 0 || strcmp(target, "pts/ptmx") == 0)
			return 0;
	}
	if (unlink("/dev/ptmx") < 0 && errno != ENOENT)
		return kerr_set(err, -errno, "unlink /dev/ptmx: %s", strerror(errno));
	if (symlink("/dev/pts/ptmx", "/dev/ptmx") < 0)
		return kerr_set(err, -errno, "symlink /dev/ptmx -> /dev/pts/ptmx: %s",
				strerror(errno));
	return 0;
}

/* The status main() returns, for the power-off's log line (atexit hands
 * none, and musl has no on_exit). */
static int exit_status = -1;

void init_note_exit(int status)
{
	exit_status = status;
}

/* PID 1 must never exit. */
static void poweroff_at_exit(void)
{
	char why[64];

	/* a forked child that calls exit() just exits */
	if (getpid() != 1)
		return;
	if (exit_status >= 0)
		snprintf(why, sizeof(why), "kata-agent exited with status %d", exit_status);
	else
		snprintf(why, sizeof(why), "kata-agent exited");
	init_poweroff(why);
}

int init_early(struct kerr *err)
{
	int r;

	if (atexit(poweroff_at_exit) != 0)
		log_warn("init: atexit: cannot make exit power off");

	for (size_t i = 0; i < sizeof(early_mounts) / sizeof(early_mounts[0]); i++) {
		r = mount_one(&early_mounts[i], err);
		if (r < 0 && early_mounts[i].optional) {
			log_warn("init: %s (continuing with the image's /dev)", err->msg);
			kerr_clear(err);
		} else if (r < 0) {
			return r;
		}
	}
	r = link_ptmx(err);
	if (r < 0)
		return r;

	/* The kernel starts init in no session and without a controlling
	 * terminal; upstream makes the console (stdin) its controlling tty so
	 * the debug console and ^C on it behave. Neither is fatal. */
	if (setsid() < 0)
		log_debug("init: setsid: %s", strerror(errno));
	else if (ioctl(STDIN_FILENO, TIOCSCTTY, 1) < 0)
		log_debug("init: TIOCSCTTY on stdin: %s", strerror(errno));

	/* The kernel hands init only HOME and TERM; children (executor,
	 * hooks, debug console) look programs up in PATH. */
	if (setenv("PATH", INIT_PATH, 1) < 0)
		return kerr_set(err, -errno, "setenv PATH: %s", strerror(errno));
	return 0;
}

static bool is_v1_controller(const char *name)
{
	for (size_t i = 0; i < sizeof(v1_controllers) / sizeof(v1_controllers[0]); i++) {
		if (strcmp(v1_controllers[i], name) == 0)
			return true;
	}
	return false;
}

/* Enabled controllers of /proc/cgroups that upstream mounts, in file order.
 * Returns how many were stored in names (each at most 31 chars). */
static int v1_enabled_controllers(char names[][32], size_t max, bool *has_devices, struct kerr *err)
{
	cleanup_fclose FILE *f = fopen("/proc/cgroups", "re");
	if (!f)
		return kerr_set(err, -errno, "open /proc/cgroups: %s", strerror(errno));

	char line[256];
	size_t n = 0;
	*has_devices = false;
	while (fgets(line, sizeof(line), f)) {
		char name[32];
		unsigned long hier, num, enabled;
		if (line[0] == '#')
			continue;
		if (sscanf(line, "%31s %lu %lu %lu", name, &hier, &num, &enabled) != 4)
			continue;
		if (enabled == 0 || !is_v1_controller(name))
			continue;
		if (strcmp(name, "devices") == 0)
			*has_devices = true;
		if (n < max)
			snprintf(names[n++], sizeof(names[0]), "%s", name);
	}
	return (int)n;
}

static int cgroups_v1(struct kerr *err)
{
	const unsigned long fl = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	char names[32][32];
	bool has_devices = false;
	int r;

	if (mounted_as(CGROUP_ROOT, TMPFS_MAGIC)) {
		log_debug("init: %s already set up", CGROUP_ROOT);
		return 0;
	}
	int n = v1_enabled_controllers(names, sizeof(names) / sizeof(names[0]), &has_devices, err);
	if (n < 0)
		return n;
	/* As upstream: without the devices controller containers could open
	 * any device node, so no cgroups at all rather than a false sense of
	 * confinement. */
	if (!has_devices) {
		log_warn("init: the kernel has no devices cgroup controller; "
			 "starting without cgroup support");
		return 0;
	}

	struct init_mount root = {
		"tmpfs", "tmpfs", CGROUP_ROOT, fl, "mode=755", TMPFS_MAGIC, false
	};
	r = mount_one(&root, err);
	if (r < 0)
		return r;
	for (int i = 0; i < n; i++) {
		char target[64];
		snprintf(target, sizeof(target), CGROUP_ROOT "/%.31s", names[i]);
		struct init_mount m = { "cgroup", "cgroup",           target, fl | MS_RELATIME,
					names[i], CGROUP_SUPER_MAGIC, false };
		r = mount_one(&m, err);
		if (r < 0)
			return r;
	}
	/* Nothing may add hierarchies under /sys/fs/cgroup later. */
	if (mount("tmpfs", CGROUP_ROOT, "tmpfs", MS_REMOUNT | MS_RDONLY | fl, "mode=755") < 0)
		return kerr_set(err, -errno, "remount %s read-only: %s", CGROUP_ROOT,
				strerror(errno));

	/* Hierarchical memory accounting, as upstream (a no-op on kernels
	 * where it is always on, an error only on a kernel that refuses it). */
	r = write_file(CGROUP_ROOT "/memory/memory.use_hierarchy", "1");
	if (r < 0 && r != -ENOENT)
		return kerr_set(err, r, "write %s/memory/memory.use_hierarchy: %s", CGROUP_ROOT,
				strerror(-r));
	/* A new v1 cpuset cgroup starts with empty cpus and mems and accepts no
	 * task until both are set; clone_children makes children inherit the
	 * parent's, so the executor's container cgroups work on creation. */
	r = write_file(CGROUP_ROOT "/cpuset/cgroup.clone_children", "1");
	if (r < 0 && r != -ENOENT)
		log_warn("init: write %s/cpuset/cgroup.clone_children: %s", CGROUP_ROOT,
			 strerror(-r));
	return 0;
}

/* Let child cgroups use every controller the root has: in v2 a controller
 * must be enabled in each ancestor's cgroup.subtree_control. The root is
 * exempt from the no-internal-processes rule, so this cannot fail because the
 * agent itself lives there. Failures (e.g. an RT task blocking "cpu") only
 * cost that controller, so they are logged, not fatal. */
static void v2_enable_controllers(void)
{
	char buf[512];
	cleanup_close int fd = open(CGROUP_ROOT "/cgroup.controllers", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return;
	buf[n] = '\0';

	char *save = NULL;
	for (char *c = strtok_r(buf, " \n", &save); c; c = strtok_r(NULL, " \n", &save)) {
		char req[64];
		snprintf(req, sizeof(req), "+%s", c);
		int r = write_file(CGROUP_ROOT "/cgroup.subtree_control", req);
		if (r < 0)
			log_warn("init: enable cgroup controller %s: %s", c, strerror(-r));
	}
}

static int cgroups_v2(struct kerr *err)
{
	struct init_mount m = { "cgroup2",    "cgroup2",
				CGROUP_ROOT,  MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME,
				"nsdelegate", CGROUP2_SUPER_MAGIC,
				false };
	int r = mount_one(&m, err);
	if (r < 0)
		return r;
	v2_enable_controllers();
	return 0;
}

static int init_cgroups(bool unified, struct kerr *err)
{
	int r = unified ? cgroups_v2(err) : cgroups_v1(err);
	if (r < 0)
		return kerr_prefix(err, "cgroups (%s)", unified ? "v2" : "v1");
	log_debug("init: cgroups %s ready", unified ? "v2" : "v1");
	return 0;
}

static int init_loopback(struct kerr *err)
{
	cleanup_close int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return kerr_set(err, -errno, "socket for lo: %s", strerror(errno));

	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return kerr_set(err, -errno, "get flags of lo: %s", strerror(errno));
	if (ifr.ifr_flags & IFF_UP)
		return 0;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return kerr_set(err, -errno, "bring lo up: %s", strerror(errno));
	return 0;
}

static int init_set_hostname(struct kerr *err)
{
	char name[HOST_NAME_MAX + 1] = "";
	cleanup_close int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, name, sizeof(name) - 1);
		name[n > 0 ? n : 0] = '\0';
		/* the first word, as upstream */
		name[strcspn(name, " \t\r\n")] = '\0';
	}
	if (name[0] == '\0')
		snprintf(name, sizeof(name), "localhost");
	if (sethostname(name, strlen(name)) < 0)
		return kerr_set(err, -errno, "sethostname %s: %s", name, strerror(errno));
	return 0;
}

int init_late(bool unified_cgroup_hierarchy, struct kerr *err)
{
	struct kerr soft = { 0 };
	int r = init_cgroups(unified_cgroup_hierarchy, err);
	if (r < 0)
		return r;
	/* Containers without network, or with a fixed hostname, still run. */
	if (init_loopback(&soft) < 0)
		log_warn("init: %s", soft.msg);
	if (init_set_hostname(&soft) < 0)
		log_warn("init: %s", soft.msg);
	return 0;
}

/* Reap every child until none is left or the deadline (ms from now) passes. */
static void reap_all(long ms)
{
	struct timespec nap = { 0, 10 * 1000 * 1000 };

	for (long waited = 0; waited <= ms; waited += 10) {
		for (;;) {
			pid_t p = waitpid(-1, NULL, WNOHANG);
			if (p > 0)
				continue;
			if (p < 0 && errno == ECHILD)
				return;
			break;
		}
		nanosleep(&nap, NULL);
	}
}

void init_poweroff(const char *why)
{
	sigset_t all;

	/* Nothing may interrupt the shutdown: a handler running now would run
	 * agent code on a half-stopped system. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);

	/* Outside of PID 1 (stand-alone, or a test) powering off would take the
	 * host down, or at best kill a PID namespace by surprise. */
	if (getpid() != 1) {
		log_error("init_poweroff (%s) called outside of PID 1; exiting instead",
			  why ? why : "no reason given");
		_exit(1);
	}
	log_msg(LOG_LVL_INFO, "kata-agent: powering off: %s", why ? why : "(no reason given)");

	/* kill(-1) spares PID 1 itself. Container processes get a moment to
	 * flush what they write to shared storage before the hard stop. */
	kill(-1, SIGTERM);
	reap_all(1000);
	kill(-1, SIGKILL);
	reap_all(500);

	sync();
	reboot(RB_POWER_OFF);
	/* Still here: no ACPI/PSCI power-off. Halting at least stops the
	 * guest without the panic an exiting init would cause. */
	log_error("kata-agent: power off failed (%s); halting", strerror(errno));
	reboot(RB_HALT_SYSTEM);
	for (;;)
		pause();
}
