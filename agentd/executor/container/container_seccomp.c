/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "container_seccomp.h"
#include "grpc_status.h"
#include "log.h"

/* Bounds on what an untrusted spec may ask libseccomp to build. */
#define SECCOMP_MAX_RULES 4096
#define SECCOMP_MAX_NAMES 16384
#define SECCOMP_MAX_ARGS 6
#define SECCOMP_MAX_NAME_LEN 64

static int action_parse(const char *name, uint32_t errno_ret, bool has_errno, uint32_t *out)
{
	uint32_t e = has_errno ? errno_ret : EPERM;
	if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
		*out = SCMP_ACT_KILL_THREAD;
	else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
		*out = SCMP_ACT_KILL_PROCESS;
	else if (strcmp(name, "SCMP_ACT_TRAP") == 0)
		*out = SCMP_ACT_TRAP;
	else if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
		*out = SCMP_ACT_ERRNO(e);
	else if (strcmp(name, "SCMP_ACT_TRACE") == 0)
		*out = SCMP_ACT_TRACE(e);
	else if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
		*out = SCMP_ACT_ALLOW;
	else if (strcmp(name, "SCMP_ACT_LOG") == 0)
		*out = SCMP_ACT_LOG;
	else
		return -EINVAL; /* SCMP_ACT_NOTIFY too: there is no listener to hand the fd to */
	return 0;
}

static int op_parse(const char *name, enum scmp_compare *out)
{
	static const struct {
		const char *name;
		enum scmp_compare op;
	} ops[] = {
		{ "SCMP_CMP_NE", SCMP_CMP_NE },
		{ "SCMP_CMP_LT", SCMP_CMP_LT },
		{ "SCMP_CMP_LE", SCMP_CMP_LE },
		{ "SCMP_CMP_EQ", SCMP_CMP_EQ },
		{ "SCMP_CMP_GE", SCMP_CMP_GE },
		{ "SCMP_CMP_GT", SCMP_CMP_GT },
		{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
	};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(name, ops[i].name) == 0) {
			*out = ops[i].op;
			return 0;
		}
	return -EINVAL;
}

/* "SCMP_ARCH_X86_64" -> libseccomp's token for "x86_64". */
static int arch_parse(const char *name, uint32_t *out)
{
	char low[32];
	const char *p = name;
	if (strncmp(p, "SCMP_ARCH_", 10) == 0)
		p += 10;
	size_t n = strlen(p);
	if (n == 0 || n >= sizeof(low))
		return -EINVAL;
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)tolower((unsigned char)p[i]);
	uint32_t a = seccomp_arch_resolve_name(low);
	if (a == 0)
		return -EINVAL;
	*out = a;
	return 0;
}

static int flag_check(const char *f)
{
	if (strcmp(f, "SECCOMP_FILTER_FLAG_TSYNC") == 0 ||
	    strcmp(f, "SECCOMP_FILTER_FLAG_LOG") == 0 ||
	    strcmp(f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
		return 0;
	return -EINVAL;
}

int container_seccomp_check(const Grpc__LinuxSeccomp *sc, struct kerr *err)
{
	uint32_t act, arch;
	enum scmp_compare op;
	size_t names = 0;

	if (action_parse(sc->defaultaction, 0, false, &act) < 0)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "Linux.Seccomp.DefaultAction: unknown action \"%.64s\"",
				       sc->defaultaction);
	for (size_t i = 0; i < sc->n_architectures; i++)
		if (arch_parse(sc->architectures[i], &arch) < 0)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "Linux.Seccomp.Architectures[%zu]: unknown \"%.64s\"",
					       i, sc->architectures[i]);
	for (size_t i = 0; i < sc->n_flags; i++)
		if (flag_check(sc->flags[i]) < 0)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "Linux.Seccomp.Flags[%zu]: unknown \"%.64s\"", i,
					       sc->flags[i]);
	if (sc->n_syscalls > SECCOMP_MAX_RULES)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "Linux.Seccomp.Syscalls: %zu rules, at most %d",
				       sc->n_syscalls, SECCOMP_MAX_RULES);
	for (size_t i = 0; i < sc->n_syscalls; i++) {
		const Grpc__LinuxSyscall *s = sc->syscalls[i];
		if (action_parse(s->action, 0, false, &act) < 0)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "Linux.Seccomp.Syscalls[%zu].Action: unknown \"%.64s\"",
					       i, s->action);
		names += s->n_names;
		if (names > SECCOMP_MAX_NAMES)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "Linux.Seccomp.Syscalls: more than %d names in all",
					       SECCOMP_MAX_NAMES);
		for (size_t j = 0; j < s->n_names; j++)
			if (!s->names[j][0] || strlen(s->names[j]) > SECCOMP_MAX_NAME_LEN)
				return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
						       "Linux.Seccomp.Syscalls[%zu].Names[%zu]: empty or "
						       "longer than %d",
						       i, j, SECCOMP_MAX_NAME_LEN);
		if (s->n_args > SECCOMP_MAX_ARGS)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "Linux.Seccomp.Syscalls[%zu].Args: %zu, at most %d",
					       i, s->n_args, SECCOMP_MAX_ARGS);
		for (size_t j = 0; j < s->n_args; j++) {
			if (s->args[j]->index >= SECCOMP_MAX_ARGS)
				return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
						       "Linux.Seccomp.Syscalls[%zu].Args[%zu].Index: %llu "
						       "out of range 0..5",
						       i, j, (unsigned long long)s->args[j]->index);
			if (op_parse(s->args[j]->op, &op) < 0)
				return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
						       "Linux.Seccomp.Syscalls[%zu].Args[%zu].Op: unknown "
						       "\"%.64s\"",
						       i, j, s->args[j]->op);
		}
	}
	return 0;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t act, int nr, const char *name,
		    const Grpc__LinuxSyscall *s, struct kerr *err)
{
	struct scmp_arg_cmp cmp[SECCOMP_MAX_ARGS];
	bool same_index = false;
	int r;

	for (size_t j = 0; j < s->n_args; j++) {
		enum scmp_compare op = SCMP_CMP_EQ;
		op_parse(s->args[j]->op, &op);
		cmp[j] = (struct scmp_arg_cmp){ .arg = (unsigned)s->args[j]->index,
						.op = op,
						.datum_a = s->args[j]->value,
						.datum_b = s->args[j]->valuetwo };
		for (size_t k = 0; k < j; k++)
			if (cmp[k].arg == cmp[j].arg)
				same_index = true;
	}
	/* Conditions within one rule are ANDed and libseccomp refuses two on the
	 * same argument; runc turns such a list into one rule per condition (OR),
	 * which is what specs using it (e.g. personality) mean. */
	if (same_index) {
		for (size_t j = 0; j < s->n_args; j++) {
			r = seccomp_rule_add_array(ctx, act, nr, 1, &cmp[j]);
			if (r < 0)
				return kerr_set(err, r, "seccomp rule for %s: %s", name,
						strerror(-r));
		}
		return 0;
	}
	r = seccomp_rule_add_array(ctx, act, nr, (unsigned)s->n_args, cmp);
	if (r < 0)
		return kerr_set(err, r, "seccomp rule for %s: %s", name, strerror(-r));
	return 0;
}

int container_seccomp_build(const Grpc__LinuxSeccomp *sc, scmp_filter_ctx *out, struct kerr *err)
{
	uint32_t def, act, arch;
	int r = container_seccomp_check(sc, err);
	if (r < 0)
		return r;

	*out = NULL;
	action_parse(sc->defaultaction, 0, false, &def);
	scmp_filter_ctx ctx = seccomp_init(def);
	if (!ctx)
		return kerr_set(err, -ENOMEM, "seccomp_init failed");
	/* no_new_privs is the spec's decision (Process.NoNewPrivileges), not
	 * libseccomp's default. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (r < 0)
		goto fail_r;
	for (size_t i = 0; i < sc->n_flags; i++) {
		if (strcmp(sc->flags[i], "SECCOMP_FILTER_FLAG_LOG") == 0)
			r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
		else if (strcmp(sc->flags[i], "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
			r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1);
		else
			r = 0; /* TSYNC: the process has a single thread */
		if (r < 0) {
			kerr_set(err, r, "seccomp flag %s: %s", sc->flags[i], strerror(-r));
			goto fail;
		}
	}
	for (size_t i = 0; i < sc->n_architectures; i++) {
		arch_parse(sc->architectures[i], &arch);
		r = seccomp_arch_add(ctx, arch);
		if (r < 0 && r != -EEXIST) {
			kerr_set(err, r, "seccomp architecture %s: %s", sc->architectures[i],
				 strerror(-r));
			goto fail;
		}
	}
	for (size_t i = 0; i < sc->n_syscalls; i++) {
		const Grpc__LinuxSyscall *s = sc->syscalls[i];
		bool has_errno = s->errno_ret_case == GRPC__LINUX_SYSCALL__ERRNO_RET_ERRNORET;
		action_parse(s->action, has_errno ? s->errnoret : 0, has_errno, &act);
		if (act == def)
			continue; /* libseccomp refuses rules that repeat the default */
		for (size_t j = 0; j < s->n_names; j++) {
			int nr = seccomp_syscall_resolve_name(s->names[j]);
			if (nr == __NR_SCMP_ERROR) {
				log_debug("seccomp: syscall %s unknown here, rule skipped",
					  s->names[j]);
				continue;
			}
			r = add_rule(ctx, act, nr, s->names[j], s, err);
			if (r < 0)
				goto fail;
		}
	}
	*out = ctx;
	return 0;
fail_r:
	kerr_set(err, r, "seccomp: %s", strerror(-r));
fail:
	seccomp_release(ctx);
	return r;
}

int container_seccomp_load(scmp_filter_ctx ctx, struct kerr *err)
{
	int r = seccomp_load(ctx);
	if (r < 0)
		return kerr_set(err, r, "load seccomp filter: %s", strerror(-r));
	return 0;
}
