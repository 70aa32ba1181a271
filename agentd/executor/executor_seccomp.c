/* SPDX-License-Identifier: Apache-2.0 */
#include "executor_seccomp.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "confine.h"
#include "log.h"

const char *const executor_seccomp_denied[] = {
	/* replacing or extending the kernel (modprobe runs from the spawner) */
	"kexec_load",
	"kexec_file_load",
	"init_module",
	"finit_module",
	"delete_module",
	"create_module",
	"query_module",
	"get_kernel_syms",
	"uselib",
	"nfsservctl",
	/* looking into or driving other processes: the executor reads /proc
	 * only, and signals through pidfds */
	"ptrace",
	"process_vm_readv",
	"process_vm_writev",
	"process_madvise",
	"pidfd_getfd",
	"kcmp",
	/* kernel surfaces it never uses, and exploits like */
	"userfaultfd",
	"perf_event_open",
	"io_uring_setup",
	"io_uring_enter",
	"io_uring_register",
	"add_key",
	"request_key",
	"keyctl",
	"fanotify_init",
	"lookup_dcookie",
	"open_by_handle_at",
	"iopl",
	"ioperm",
	"syslog",
	"acct",
	"quotactl",
	"quotactl_fd",
	"vm86",
	"vm86old",
	/* the guest's root and power: the parent's business, or nobody's */
	"reboot",
	"swapoff",
	"pivot_root",
};
const size_t executor_seccomp_n_denied = sizeof(executor_seccomp_denied) /
					 sizeof(executor_seccomp_denied[0]);

/* bpf(2) commands the v2 device program uses (cgroups_devices.c). */
#define BPF_CMD_PROG_LOAD 5
#define BPF_CMD_PROG_ATTACH 8
#define BPF_CMD_PROG_DETACH 9

static int deny_bpf_others(scmp_filter_ctx ctx)
{
	int nr = seccomp_syscall_resolve_name("bpf");
	const uint32_t act = SCMP_ACT_ERRNO(EPERM);
	int r = seccomp_rule_add(ctx, act, nr, 1, SCMP_A0(SCMP_CMP_LT, BPF_CMD_PROG_LOAD));
	if (!r)
		r = seccomp_rule_add(ctx, act, nr, 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu,
					     BPF_CMD_PROG_LOAD + 1));
	if (!r)
		r = seccomp_rule_add(ctx, act, nr, 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu,
					     BPF_CMD_PROG_LOAD + 2));
	if (!r)
		r = seccomp_rule_add(ctx, act, nr, 1, SCMP_A0(SCMP_CMP_GT, BPF_CMD_PROG_DETACH));
	return r;
}

/* The 32-bit flavours of the native architecture too: without them a
 * denied call made through the compat entry (int 0x80) would not match. */
static void add_compat_arches(scmp_filter_ctx ctx)
{
	uint32_t native = seccomp_arch_native();
	if (native == SCMP_ARCH_X86_64) {
		seccomp_arch_add(ctx, SCMP_ARCH_X86);
		seccomp_arch_add(ctx, SCMP_ARCH_X32);
	} else if (native == SCMP_ARCH_AARCH64) {
		seccomp_arch_add(ctx, SCMP_ARCH_ARM);
	}
}

/* Sanitizer builds only (KATA_SANITIZE, doc/testing.md "Sanitizers"):
 * LeakSanitizer's check at exit stops the world from a tracer that shares
 * the executor's memory, and so its filter, and ptraces the executor's
 * threads (it has one: its pid). ptrace of any other pid stays denied; a
 * normal build denies ptrace whole. */
static int deny_one(scmp_filter_ctx ctx, const char *name, int nr, pid_t self)
{
#ifdef KATA_SANITIZE
	if (strcmp(name, "ptrace") == 0)
		return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 1,
					SCMP_A1(SCMP_CMP_NE, (scmp_datum_t)self));
#else
	(void)name;
	(void)self;
#endif
	return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
}

/* The filter of the executor whose pid is *self, as BPF into fd (in the
 * child confine_load_built_filter forks). */
static int build(const void *self, int fd, struct kerr *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return kerr_set(err, -ENOMEM, "seccomp_init: out of memory");
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	add_compat_arches(ctx);
	for (size_t i = 0; r == 0 && i < executor_seccomp_n_denied; i++) {
		int nr = seccomp_syscall_resolve_name(executor_seccomp_denied[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;
		r = deny_one(ctx, executor_seccomp_denied[i], nr, *(const pid_t *)self);
		if (r == -EDOM || r == -EFAULT)
			r = 0; /* not on one of the compat arches: nothing to deny there */
	}
	if (r == 0)
		r = deny_bpf_others(ctx);
	if (r == 0)
		r = seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	if (r < 0)
		return kerr_set(err, r, "the executor's seccomp filter: %s", strerror(-r));
	return 0;
}

int executor_seccomp_load(struct kerr *err)
{
	pid_t self = getpid();
	int r = confine_load_built_filter(build, &self, err);
	if (r < 0)
		return r;
	log_debug("seccomp: %zu syscalls denied to the executor, bpf limited to the device "
		  "program's commands",
		  executor_seccomp_n_denied);
	return 0;
}
