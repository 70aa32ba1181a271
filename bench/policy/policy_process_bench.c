/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_process_bench - the cost of one check as the executor pays it: the
 * POLICY_CHECK round trip to the real kata-agent-policy (framing, memfd
 * when big, the policy process's JSON parse, the evaluation, the verdict
 * with the prints) with the request's input as the executor sends it.
 * Prints median and p99 (wall and this process's + the policy process's
 * CPU are not separable here: wall only) and the policy process's peak RSS.
 *
 *   policy_process_bench POLICY_BIN POLICY.rego DATA.json INPUT.json ENDPOINT N
 * Needs root (the policy process confines itself).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc.h"
#include "testutil.h"

static char *slurp(const char *path, size_t *len)
{
	char *s = tu_read_file_len(path, len);
	if (!s)
		fprintf(stderr, "cannot read %s\n", path);
	return s;
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr,
			"usage: %s POLICY_BIN POLICY.rego DATA.json INPUT.json ENDPOINT N\n",
			argv[0]);
		return 2;
	}
	size_t nt, nd, ni;
	char *text = slurp(argv[2], &nt), *data = slurp(argv[3], &nd), *input = slurp(argv[4], &ni);
	int n = atoi(argv[6]);
	if (!text || !data || !input || n < 1)
		return 2;
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return 1;
	char *pargv[] = { (char *)"kata-agent-policy", (char *)"--log-level", (char *)"error",
			  NULL };
	pid_t pid = tu_spawn(argv[1], pargv, &sp[1], 1);
	close(sp[1]);
	struct ipc_msg m;
	struct ipc_policy_load lh = { .text_len = (uint32_t)nt, .data_len = (uint32_t)nd };
	char *load = malloc(sizeof(lh) + nt + nd);
	memcpy(load, &lh, sizeof(lh));
	memcpy(load + sizeof(lh), text, nt);
	memcpy(load + sizeof(lh) + nt, data, nd);
	double t0 = now_ms();
	if (tu_ipc_ask(sp[0], IPC_POLICY_LOAD, 1, load, sizeof(lh) + nt + nd, 60000, NULL, NULL,
		       &m) != 1 ||
	    m.hdr.type != IPC_OK) {
		fprintf(stderr, "the policy does not load\n");
		return 1;
	}
	ipc_msg_release(&m);
	printf("load: %.2f ms (%zu bytes of policy)\n", now_ms() - t0, nt);
	struct ipc_policy_check ch = { .dry_run = 1 };
	snprintf(ch.endpoint, sizeof(ch.endpoint), "%s", argv[5]);
	char *q = malloc(sizeof(ch) + ni);
	memcpy(q, &ch, sizeof(ch));
	memcpy(q + sizeof(ch), input, ni);
	double *ms = calloc((size_t)n, sizeof(double));
	int allowed = -1;
	for (int i = 0; i < n; i++) {
		double a = now_ms();
		if (tu_ipc_ask(sp[0], IPC_POLICY_CHECK, (uint32_t)i + 2, q, sizeof(ch) + ni, 60000,
			       NULL, NULL, &m) != 1 ||
		    m.hdr.type != IPC_POLICY_VERDICT) {
			fprintf(stderr, "check %d failed\n", i);
			return 1;
		}
		ms[i] = now_ms() - a;
		allowed = ((const struct ipc_policy_verdict *)m.in)->allowed;
		ipc_msg_release(&m);
	}
	qsort(ms, (size_t)n, sizeof(double), cmp);
	char hwm[64] = "", rss[64] = "";
	tu_proc_status(pid, "VmHWM", hwm, sizeof(hwm));
	tu_proc_status(pid, "VmRSS", rss, sizeof(rss));
	printf("%s round trip (wall): median=%.3f p99=%.3f max=%.3f ms over %d checks, %s\n",
	       argv[5], ms[n / 2], ms[(size_t)(n * 0.99)], ms[n - 1], n,
	       allowed == 1 ? "allowed" : "denied");
	printf("input: %zu bytes; policy process: VmHWM %s, VmRSS %s\n", ni, hwm, rss);
	close(sp[0]);
	waitpid(pid, NULL, 0);
	return 0;
}
