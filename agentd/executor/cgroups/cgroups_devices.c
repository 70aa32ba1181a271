/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroups_devices.c - device access control of a container (OCI
 * linux.resources.devices): rule validation and the effective rule list,
 * written as v1 devices.allow/devices.deny lines or compiled into a cgroup v2
 * BPF_PROG_TYPE_CGROUP_DEVICE program (raw bpf(2), no libbpf).
 *
 * Offers (cgroups_internal.h): cg_dev_rules_merge(), cg_dev_rule_line(),
 * cg_dev_bpf_build(), cg_dev_bpf_attach(), cg_apply_devices(),
 * cg_devices_revert(), cg_devices_release(). Semantics and limits:
 * doc/storage-cgroups.md "Devices".
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroups_internal.h"
#include "cleanup.h"
#include "grpc_status.h"
#include "log.h"

/* Linux device numbers: 12-bit major, 20-bit minor. */
#define DEV_MAJOR_MAX 0xfff
#define DEV_MINOR_MAX 0xfffff
#define RWM (CG_DEV_R | CG_DEV_W | CG_DEV_M)

const struct cg_dev_rule cg_dev_defaults[] = {
	/* DEFAULT_DEVICES: the nodes the agent creates in every /dev. */
	{ true, 'c', 1, 3, RWM }, /* null */
	{ true, 'c', 1, 5, RWM }, /* zero */
	{ true, 'c', 1, 7, RWM }, /* full */
	{ true, 'c', 5, 0, RWM }, /* tty */
	{ true, 'c', 1, 9, RWM }, /* urandom */
	{ true, 'c', 1, 8, RWM }, /* random */
	/* DEFAULT_ALLOWED_DEVICES. */
	{ true, 'c', CG_DEV_ANY, CG_DEV_ANY, CG_DEV_M },
	{ true, 'b', CG_DEV_ANY, CG_DEV_ANY, CG_DEV_M },
	{ true, 'c', 5, 1, RWM },            /* console */
	{ true, 'c', 136, CG_DEV_ANY, RWM }, /* pts */
	{ true, 'c', 5, 2, RWM },            /* ptmx */
	{ true, 'c', 10, 200, RWM },         /* net/tun */
};
const size_t cg_dev_n_defaults = sizeof(cg_dev_defaults) / sizeof(cg_dev_defaults[0]);

/* ---- rules ---------------------------------------------------------------- */

static int parse_num(int64_t v, int64_t max, const char *what, size_t idx, int64_t *out,
		     struct kerr *err)
{
	/* proto3 cannot tell an absent number from 0: 0 is the real 0 (never
	 * wider than asked), -1 is "any". */
	if (v == -1) {
		*out = CG_DEV_ANY;
		return 0;
	}
	if (v < 0 || v > max)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "linux.resources.devices[%zu]: %s %" PRId64
				       " is not -1 (any) or 0..%" PRId64,
				       idx, what, v, max);
	*out = v;
	return 0;
}

static int parse_access(const char *s, size_t idx, unsigned *out, struct kerr *err)
{
	unsigned a = 0;
	if (!s || !*s) {
		/* OCI leaves access optional; absent means every access. */
		*out = RWM;
		return 0;
	}
	if (strlen(s) > 3)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "linux.resources.devices[%zu]: access \"%.16s\" is longer "
				       "than \"rwm\"",
				       idx, s);
	for (const char *c = s; *c; c++) {
		unsigned bit = *c == 'r'   ? CG_DEV_R
			       : *c == 'w' ? CG_DEV_W
			       : *c == 'm' ? CG_DEV_M
					   : 0;
		if (!bit || (a & bit))
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "linux.resources.devices[%zu]: access \"%s\" is not "
					       "a subset of \"rwm\"",
					       idx, s);
		a |= bit;
	}
	*out = a;
	return 0;
}

static bool same_device(const struct cg_dev_rule *a, const struct cg_dev_rule *b)
{
	return a->type == b->type && a->major == b->major && a->minor == b->minor;
}

static int push(struct cg_dev_rule *v, size_t *n, const struct cg_dev_rule *r, struct kerr *err)
{
	/* An earlier rule for the same device whose bits this one all decides
	 * can never be the last match again: drop it, so repeated updates do
	 * not grow the list. */
	size_t w = 0;
	for (size_t i = 0; i < *n; i++)
		if (!(same_device(&v[i], r) && (v[i].access & ~r->access) == 0))
			v[w++] = v[i];
	*n = w;
	if (*n >= CG_DEV_EFFECTIVE_MAX)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -E2BIG,
				       "linux.resources.devices: more than %d device rules in "
				       "force",
				       CG_DEV_EFFECTIVE_MAX);
	v[(*n)++] = *r;
	return 0;
}

int cg_dev_rules_merge(const struct cg_dev_rule *base, size_t n_base,
		       Grpc__LinuxDeviceCgroup *const *spec, size_t n_spec,
		       struct cg_dev_rule **out, size_t *n_out, struct kerr *err)
{
	if (n_spec > CG_DEV_SPEC_MAX)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -E2BIG,
				       "linux.resources.devices: %zu rules, at most %d", n_spec,
				       CG_DEV_SPEC_MAX);
	if (n_base > CG_DEV_EFFECTIVE_MAX)
		return kerr_set(err, -E2BIG, "device rules: base list too long");
	struct cg_dev_rule *v = calloc(CG_DEV_EFFECTIVE_MAX, sizeof(*v));
	if (!v)
		return kerr_set(err, -ENOMEM, "out of memory");
	size_t n = 0;
	int r = 0;
	for (size_t i = 0; i < n_base && r >= 0; i++)
		r = push(v, &n, &base[i], err);
	for (size_t i = 0; i < n_spec && r >= 0; i++) {
		const Grpc__LinuxDeviceCgroup *d = spec[i];
		if (!d) {
			r = kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					    "linux.resources.devices[%zu]: empty", i);
			break;
		}
		const char *t = d->type ? d->type : "";
		char type;
		if (!t[0] || !strcmp(t, "a"))
			type = 'a';
		else if (!strcmp(t, "b") || !strcmp(t, "c"))
			type = t[0];
		else {
			r = kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					    "linux.resources.devices[%zu]: type \"%.16s\" is not "
					    "\"a\", \"b\", \"c\" or empty",
					    i, t);
			break;
		}
		struct cg_dev_rule rule = { .allow = d->allow, .type = type };
		r = parse_access(d->access, i, &rule.access, err);
		if (r >= 0)
			r = parse_num(d->major, DEV_MAJOR_MAX, "major", i, &rule.major, err);
		if (r >= 0)
			r = parse_num(d->minor, DEV_MINOR_MAX, "minor", i, &rule.minor, err);
		if (r < 0)
			break;
		if (type == 'a') {
			/* Upstream skips "deny all" (the runtime's usual first
			 * rule): the defaults stay. The kernel ignores the
			 * numbers of an "a" rule. */
			if (!rule.allow && rule.access == RWM)
				continue;
			rule.major = rule.minor = CG_DEV_ANY;
			rule.type = 'b';
			r = push(v, &n, &rule, err);
			rule.type = 'c';
		}
		if (r >= 0)
			r = push(v, &n, &rule, err);
	}
	if (r < 0) {
		free(v);
		return r;
	}
	*out = v;
	*n_out = n;
	return 0;
}

void cg_dev_rule_line(const struct cg_dev_rule *r, char *buf, size_t len)
{
	char ma[24] = "*", mi[24] = "*", acc[4];
	size_t k = 0;
	if (r->major != CG_DEV_ANY)
		snprintf(ma, sizeof(ma), "%" PRId64, r->major);
	if (r->minor != CG_DEV_ANY)
		snprintf(mi, sizeof(mi), "%" PRId64, r->minor);
	if (r->access & CG_DEV_R)
		acc[k++] = 'r';
	if (r->access & CG_DEV_W)
		acc[k++] = 'w';
	if (r->access & CG_DEV_M)
		acc[k++] = 'm';
	acc[k] = '\0';
	snprintf(buf, len, "%c %s:%s %s", r->type, ma, mi, acc);
}

/* ---- BPF program ---------------------------------------------------------- */

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	return (struct bpf_insn){ .code = code,
				  .dst_reg = dst,
				  .src_reg = src,
				  .off = off,
				  .imm = imm };
}

/* Registers after the prologue: r2 device type, r3 requested access,
 * r4 major, r5 minor (struct bpf_cgroup_dev_ctx). */
enum { R0, R1, R2, R3, R4, R5 };

#define INSNS_PER_RULE 5 /* three compares, then ja or mov+exit */

size_t cg_dev_bpf_max_insns(size_t n)
{
	/* prologue 6; per bit: jset+ja, rules, mov+exit; epilogue 2 */
	return 6 + 3 * (2 + INSNS_PER_RULE * n + 2) + 2;
}

int cg_dev_bpf_build(const struct cg_dev_rule *rules, size_t n, struct bpf_insn *out, size_t max)
{
	if (max < cg_dev_bpf_max_insns(n) || cg_dev_bpf_max_insns(n) > 32767)
		return -E2BIG;
	size_t pc = 0;
	out[pc++] = insn(BPF_LDX | BPF_MEM | BPF_W, R2, R1, 0, 0);
	out[pc++] = insn(BPF_ALU64 | BPF_MOV | BPF_X, R3, R2, 0, 0);
	out[pc++] = insn(BPF_ALU64 | BPF_AND | BPF_K, R2, 0, 0, 0xffff);
	out[pc++] = insn(BPF_ALU64 | BPF_RSH | BPF_K, R3, 0, 0, 16);
	out[pc++] = insn(BPF_LDX | BPF_MEM | BPF_W, R4, R1, 4, 0);
	out[pc++] = insn(BPF_LDX | BPF_MEM | BPF_W, R5, R1, 8, 0);
	static const unsigned bits[] = { CG_DEV_M, CG_DEV_R, CG_DEV_W };
	for (size_t b = 0; b < 3; b++) {
		/* Jumps to the end of this bit's section, patched below. */
		size_t fix[CG_DEV_EFFECTIVE_MAX + 1], nfix = 0;
		out[pc++] = insn(BPF_JMP | BPF_JSET | BPF_K, R3, 0, 1, (int32_t)bits[b]);
		fix[nfix++] = pc;
		out[pc++] = insn(BPF_JMP | BPF_JA, 0, 0, 0, 0);
		/* Last match wins: the rules from the end. */
		for (size_t i = n; i-- > 0;) {
			const struct cg_dev_rule *r = &rules[i];
			if (!(r->access & bits[b]))
				continue;
			if (nfix > CG_DEV_EFFECTIVE_MAX)
				return -E2BIG;
			int cmp = 1 + (r->major != CG_DEV_ANY) + (r->minor != CG_DEV_ANY);
			int len = cmp + (r->allow ? 1 : 2);
			int k = 0;
			int32_t type = r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
			out[pc++] = insn(BPF_JMP | BPF_JNE | BPF_K, R2, 0, (int16_t)(len - ++k),
					 type);
			if (r->major != CG_DEV_ANY)
				out[pc++] = insn(BPF_JMP | BPF_JNE | BPF_K, R4, 0,
						 (int16_t)(len - ++k), (int32_t)r->major);
			if (r->minor != CG_DEV_ANY)
				out[pc++] = insn(BPF_JMP | BPF_JNE | BPF_K, R5, 0,
						 (int16_t)(len - ++k), (int32_t)r->minor);
			if (r->allow) {
				fix[nfix++] = pc;
				out[pc++] = insn(BPF_JMP | BPF_JA, 0, 0, 0, 0);
			} else {
				out[pc++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, 0);
				out[pc++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
			}
		}
		/* No rule decides this bit: the default is deny. */
		out[pc++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, 0);
		out[pc++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
		for (size_t f = 0; f < nfix; f++)
			out[fix[f]].off = (int16_t)(pc - fix[f] - 1);
	}
	out[pc++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, 1);
	out[pc++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return (int)pc;
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int prog_load(const struct cg_dev_rule *rules, size_t n, int *prog, struct kerr *err)
{
	size_t max = cg_dev_bpf_max_insns(n);
	cleanup_free struct bpf_insn *code = calloc(max, sizeof(*code));
	if (!code)
		return kerr_set(err, -ENOMEM, "out of memory");
	int cnt = cg_dev_bpf_build(rules, n, code, max);
	if (cnt < 0)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, cnt,
				       "device program for %zu rules is too long", n);
	static const char license[] = "Apache-2.0";
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = (uint64_t)(uintptr_t)code;
	a.insn_cnt = (uint32_t)cnt;
	a.license = (uint64_t)(uintptr_t)license;
	int fd = sys_bpf(BPF_PROG_LOAD, &a);
	if (fd < 0) {
		int e = errno;
		/* Again with the verifier's log, for the error message. */
		char log[512] = "";
		a.log_buf = (uint64_t)(uintptr_t)log;
		a.log_size = sizeof(log);
		a.log_level = 1;
		int fd2 = sys_bpf(BPF_PROG_LOAD, &a);
		if (fd2 >= 0)
			close(fd2);
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -e,
				       "load device BPF program (%d insns): %s%s%.200s", cnt,
				       strerror(e), log[0] ? ": " : "", log);
	}
	*prog = fd;
	return 0;
}

int cg_dev_bpf_attach(int dirfd, const struct cg_dev_rule *rules, size_t n, int old_prog, int *prog,
		      struct kerr *err)
{
	int fd = -1;
	int r = prog_load(rules, n, &fd, err);
	if (r < 0)
		return r;
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)dirfd;
	a.attach_bpf_fd = (uint32_t)fd;
	a.attach_type = BPF_CGROUP_DEVICE;
	a.attach_flags = BPF_F_ALLOW_MULTI;
	if (sys_bpf(BPF_PROG_ATTACH, &a) < 0) {
		int e = errno;
		close(fd);
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -e,
				       "attach device BPF program: %s", strerror(e));
	}
	/* Both programs are in force until here; the kernel ANDs them, so the
	 * switch never grants more than either list. */
	if (old_prog >= 0) {
		memset(&a, 0, sizeof(a));
		a.target_fd = (uint32_t)dirfd;
		a.attach_bpf_fd = (uint32_t)old_prog;
		a.attach_type = BPF_CGROUP_DEVICE;
		if (sys_bpf(BPF_PROG_DETACH, &a) < 0) {
			int e = errno;
			/* Undo: the old program alone stays in force. */
			a.attach_bpf_fd = (uint32_t)fd;
			if (sys_bpf(BPF_PROG_DETACH, &a) < 0)
				log_warn("detach new device BPF program: %s", strerror(errno));
			close(fd);
			return kerr_set_status(err, GRPC_INTERNAL, -e,
					       "detach the previous device BPF program: %s",
					       strerror(e));
		}
		close(old_prog);
	}
	*prog = fd;
	return 0;
}

/* ---- applying ------------------------------------------------------------- */

static bool has_devices(const char *ctrls)
{
	for (const char *c = ctrls; *c;) {
		const char *e = strchrnul(c, ',');
		if (e - c == 7 && !strncmp(c, "devices", 7))
			return true;
		c = *e ? e + 1 : e;
	}
	return false;
}

/* The cgroup's directory in the devices hierarchy (v1) or the one (v2);
 * *out NULL when v1 has no devices controller. */
static int dev_dir(struct cgroup *cg, char **out, struct kerr *err)
{
	*out = NULL;
	for (size_t i = 0; i < cg->n_hier; i++) {
		if (cg->layout == CG_V1 && !has_devices(cg->hier[i].ctrls))
			continue;
		if (asprintf(out, "%s/%s", cg->hier[i].mount, cg->path) < 0)
			return kerr_set(err, -ENOMEM, "out of memory");
		return 0;
	}
	return 0;
}

static int v1_write(const char *dir, const struct cg_dev_rule *rules, size_t n, struct kerr *err)
{
	/* "a" to devices.deny: default deny, every exception gone. */
	int r = cg_write_file(dir, "devices.deny", "a", err);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		char line[64];
		cg_dev_rule_line(&rules[i], line, sizeof(line));
		r = cg_write_file(dir, rules[i].allow ? "devices.allow" : "devices.deny", line,
				  err);
	}
	return r;
}

static int write_rules(struct cgroup *cg, const struct cg_dev_rule *rules, size_t n,
		       struct kerr *err)
{
	cleanup_free char *dir = NULL;
	int r = dev_dir(cg, &dir, err);
	if (r < 0)
		return r;
	if (!dir)
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -ENOENT,
				       "no devices controller is mounted");
	if (cg->layout == CG_V1)
		return v1_write(dir, rules, n, err);
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return kerr_set(err, -errno, "open %s: %s", dir, strerror(errno));
	int prog = -1;
	r = cg_dev_bpf_attach(dfd, rules, n, cg->dev_prog_fd, &prog, err);
	if (r >= 0)
		cg->dev_prog_fd = prog;
	return r;
}

int cg_devices_check(const Grpc__LinuxResources *res, struct kerr *err)
{
	struct cg_dev_rule *next = NULL;
	size_t n_next = 0;
	int r = cg_dev_rules_merge(cg_dev_defaults, cg_dev_n_defaults, res ? res->devices : NULL,
				   res ? res->n_devices : 0, &next, &n_next, err);
	free(next);
	return r < 0 ? kerr_prefix(err, "devices") : 0;
}

int cg_apply_devices(struct cgroup *cg, const Grpc__LinuxResources *res, struct kerr *err)
{
	size_t n_spec = res ? res->n_devices : 0;
	cg->dev_prev_set = false;
	if (cg->dev_applied && n_spec == 0)
		return 0;
	if (!cg->dev_applied && cg->layout == CG_V1) {
		cleanup_free char *dir = NULL;
		int r = dev_dir(cg, &dir, err);
		if (r < 0)
			return r;
		if (!dir && n_spec == 0) {
			log_warn("cgroup %s: no devices controller: device access is not "
				 "restricted",
				 cg->path);
			return 0;
		}
	}
	struct cg_dev_rule *next = NULL;
	size_t n_next = 0;
	const struct cg_dev_rule *base = cg->dev_applied ? cg->dev_rules : cg_dev_defaults;
	size_t n_base = cg->dev_applied ? cg->n_dev_rules : cg_dev_n_defaults;
	int r = cg_dev_rules_merge(base, n_base, res ? res->devices : NULL, n_spec, &next, &n_next,
				   err);
	if (r < 0)
		return r;
	r = write_rules(cg, next, n_next, err);
	if (r < 0) {
		/* v1: the reset went through, replay what was in force (v2:
		 * the old program was never detached). */
		if (cg->dev_applied && cg->layout == CG_V1) {
			struct kerr e2 = { 0 };
			if (write_rules(cg, cg->dev_rules, cg->n_dev_rules, &e2) < 0)
				log_warn("cgroup %s: restoring device rules: %s", cg->path, e2.msg);
		}
		free(next);
		return kerr_prefix(err, "devices");
	}
	free(cg->dev_prev);
	cg->dev_prev = cg->dev_rules;
	cg->n_dev_prev = cg->n_dev_rules;
	cg->dev_prev_set = cg->dev_applied;
	cg->dev_rules = next;
	cg->n_dev_rules = n_next;
	cg->dev_applied = true;
	log_debug("cgroup %s: %zu device rules in force", cg->path, n_next);
	return 0;
}

void cg_devices_revert(struct cgroup *cg)
{
	if (!cg || !cg->dev_prev_set)
		return;
	struct kerr e = { 0 };
	if (write_rules(cg, cg->dev_prev, cg->n_dev_prev, &e) < 0) {
		log_warn("cgroup %s: restoring device rules: %s", cg->path, e.msg);
		return;
	}
	free(cg->dev_rules);
	cg->dev_rules = cg->dev_prev;
	cg->n_dev_rules = cg->n_dev_prev;
	cg->dev_prev = NULL;
	cg->n_dev_prev = 0;
	cg->dev_prev_set = false;
}

void cg_devices_release(struct cgroup *cg)
{
	free(cg->dev_rules);
	free(cg->dev_prev);
	cg->dev_rules = cg->dev_prev = NULL;
	cg->n_dev_rules = cg->n_dev_prev = 0;
	cg->dev_applied = cg->dev_prev_set = false;
	if (cg->dev_prog_fd >= 0)
		close(cg->dev_prog_fd);
	cg->dev_prog_fd = -1;
}
