/* SPDX-License-Identifier: Apache-2.0 */
/*
 * enosys - run a program as on a kernel without some system calls:
 *
 *   enosys NAME[,NAME...] PROGRAM [ARGS...]
 *
 * loads a seccomp filter that answers each named call ENOSYS (what an
 * older kernel answers, and what Docker's default profile answers for
 * clone3) and allows everything else, then executes PROGRAM. The filter
 * is inherited by every child and kept across exec, so a whole agent runs
 * under it. Tests only, never installed.
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: enosys NAME[,NAME...] PROGRAM [ARGS...]\n");
		return 2;
	}
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx) {
		fprintf(stderr, "enosys: seccomp_init failed\n");
		return 1;
	}
	char *names = strdup(argv[1]), *save = NULL;
	for (char *n = strtok_r(names, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
		int nr = seccomp_syscall_resolve_name(n);
		if (nr == __NR_SCMP_ERROR) {
			fprintf(stderr, "enosys: unknown system call %s\n", n);
			return 2;
		}
		int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
		if (r < 0) {
			fprintf(stderr, "enosys: rule for %s: %s\n", n, strerror(-r));
			return 1;
		}
	}
	free(names);
	/* Root loads it without no_new_privs: the agent keeps what it may do. */
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (r == 0)
		r = seccomp_load(ctx);
	if (r < 0) {
		fprintf(stderr, "enosys: load the filter: %s\n", strerror(-r));
		return 1;
	}
	seccomp_release(ctx);
	execvp(argv[2], argv + 2);
	fprintf(stderr, "enosys: %s: %s\n", argv[2], strerror(errno));
	return 127;
}
