/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_bench - the cost of one policy check with the Rego evaluator:
 * compile the modules once, then evaluate QUERY N times against the same
 * input and data (as the agent does per request), and report the median,
 * p99 and max latency, the steps and bytes one query takes, the compile time
 * and the process's peak RSS.
 *
 *   policy_bench -m policy.rego [-d data.json] -i input.json [-n N] QUERY
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "rego.h"

static double clock_ms(clockid_t id)
{
	struct timespec t;
	clock_gettime(id, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static double now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

static double p99(const double *v, int n)
{
	size_t i = (size_t)(n * 0.99);
	return v[i < (size_t)n ? i : (size_t)n - 1];
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	fclose(f);
	if (b) {
		b[n] = 0;
		*len = (size_t)n;
	}
	return b;
}

int main(int argc, char **argv)
{
	const char *mod = NULL, *data = NULL, *input = NULL;
	int n = 1000, c;
	while ((c = getopt(argc, argv, "m:d:i:n:")) != -1) {
		switch (c) {
		case 'm':
			mod = optarg;
			break;
		case 'd':
			data = optarg;
			break;
		case 'i':
			input = optarg;
			break;
		case 'n':
			n = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (!mod || !input || optind + 1 != argc || n < 1) {
		fprintf(stderr,
			"usage: policy_bench -m policy.rego [-d data.json] -i input.json [-n N] QUERY\n");
		return 2;
	}
	struct kerr err;
	struct rego_policy *p;
	size_t len;
	char *text = slurp(mod, &len);
	if (!text || rego_policy_new(&p, NULL, &err) < 0)
		return 1;
	double t0 = now_ms();
	if (rego_policy_add_module(p, mod, text, len, &err) < 0 ||
	    rego_policy_compile(p, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	double compile_ms = now_ms() - t0;
	free(text);
	json_t *in = json_load_file(input, 0, NULL),
	       *d = data ? json_load_file(data, 0, NULL) : NULL;
	if (!in || (data && !d) || (d && rego_policy_set_data(p, d, &err) < 0))
		return 1;
	double *ms = calloc((size_t)n, sizeof(*ms)), *cpu = calloc((size_t)n, sizeof(*cpu));
	struct rego_result res = { 0 };
	char *verdict = NULL;
	for (int i = 0; i < n; i++) {
		t0 = now_ms();
		double c0 = clock_ms(CLOCK_THREAD_CPUTIME_ID);
		int r = rego_eval(p, argv[optind], in, &res, &err);
		cpu[i] = clock_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
		ms[i] = now_ms() - t0;
		if (r < 0) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		if (i == n - 1)
			verdict = res.value ? json_dumps(res.value, JSON_COMPACT | JSON_ENCODE_ANY)
					    : strdup("undefined");
		if (i < n - 1)
			rego_result_clear(&res);
	}
	qsort(ms, (size_t)n, sizeof(*ms), cmp_d);
	qsort(cpu, (size_t)n, sizeof(*cpu), cmp_d);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("query: %s\nresult: %.100s%s\n", argv[optind], verdict,
	       strlen(verdict) > 100 ? "..." : "");
	printf("compile: %.2f ms (once)\n", compile_ms);
	printf("check (wall): n=%d median=%.3f ms p99=%.3f ms max=%.3f ms\n", n, ms[n / 2],
	       p99(ms, n), ms[n - 1]);
	/* CPU time is what the evaluator costs; wall time adds the machine's load */
	printf("check (cpu):  n=%d median=%.3f ms p99=%.3f ms max=%.3f ms\n", n, cpu[n / 2],
	       p99(cpu, n), cpu[n - 1]);
	printf("per query: %llu steps, %zu bytes allocated (freed after the query)\n",
	       (unsigned long long)res.steps, res.memory);
	printf("peak RSS: %ld KiB\n", ru.ru_maxrss);
	rego_result_clear(&res);
	free(verdict);
	free(ms);
	free(cpu);
	json_decref(in);
	json_decref(d);
	rego_policy_free(p);
	return 0;
}
