/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rego-eval - evaluate a Rego query against modules, data and input: the
 * evaluator's command-line front for tests and debugging.
 *
 *   rego-eval [-m module.rego]... [-d data.json] [-i input.json]
 *             [--bindings] [--strict] [--max-steps N] [--max-memory BYTES]
 *             [--repeat N] QUERY
 *
 * Prints the value of a one-expression query as JSON, or "undefined"; with
 * --bindings, the JSON array of the solutions' variable bindings.  print()
 * output goes to stderr.  Exit status: 0 evaluated, 1 error (the message on
 * stderr, with the gRPC status name the agent would use), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "grpc_status.h"
#include "rego.h"

static char *read_file(const char *path, size_t *len)
{
	cleanup_fclose FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n < cap)
			break;
		char *nb = realloc(buf, cap *= 2);
		if (!nb) {
			free(buf);
			return NULL;
		}
		buf = nb;
	}
	if (buf) {
		buf[n < cap ? n : cap - 1] = 0;
		*len = n;
	}
	return buf;
}

static json_t *load_json(const char *path)
{
	json_error_t je;
	json_t *j = json_load_file(path, JSON_DECODE_ANY, &je);
	if (!j)
		fprintf(stderr, "rego-eval: %s:%d: %s\n", path, je.line, je.text);
	return j;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: rego-eval [-m module.rego]... [-d data.json] [-i input.json]\n"
		"                 [--bindings] [--strict] [--max-steps N] [--max-memory BYTES]\n"
		"                 [--repeat N] QUERY\n");
	return 2;
}

static int fail(struct kerr *err)
{
	fprintf(stderr, "error: %s (%s)\n", err->msg, grpc_status_name(kerr_status(err)));
	return 1;
}

static const struct option opts[] = {
	{ "module", required_argument, NULL, 'm' },
	{ "data", required_argument, NULL, 'd' },
	{ "input", required_argument, NULL, 'i' },
	{ "bindings", no_argument, NULL, 'b' },
	{ "strict", no_argument, NULL, 's' },
	{ "max-steps", required_argument, NULL, 'S' },
	{ "max-memory", required_argument, NULL, 'M' },
	{ "repeat", required_argument, NULL, 'r' },
	{ NULL, 0, NULL, 0 },
};

struct args {
	const char *mods[256];
	int nmods;
	const char *data_path, *input_path, *query;
	bool bindings;
	long repeat;
	struct rego_limits lim;
};

/* The command line into a: 0, or 2 (usage said). */
static int parse_args(int argc, char **argv, struct args *a)
{
	int c;
	while ((c = getopt_long(argc, argv, "m:d:i:", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (a->nmods == 256)
				return usage();
			a->mods[a->nmods++] = optarg;
			break;
		case 'd':
			a->data_path = optarg;
			break;
		case 'i':
			a->input_path = optarg;
			break;
		case 'b':
			a->bindings = true;
			break;
		case 's':
			a->lim.strict_builtin_errors = true;
			break;
		case 'S':
			a->lim.max_steps = strtoull(optarg, NULL, 10);
			break;
		case 'M':
			a->lim.max_memory = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			a->repeat = strtol(optarg, NULL, 10);
			break;
		default:
			return usage();
		}
	}
	if (optind + 1 != argc || a->repeat < 1)
		return usage();
	a->query = argv[optind];
	return 0;
}

/* The modules compiled and the data set into p: 0, or the exit status. */
static int load_policy(const struct args *a, struct rego_policy *p, struct kerr *err)
{
	for (int i = 0; i < a->nmods; i++) {
		size_t len;
		char *text = read_file(a->mods[i], &len);
		if (!text) {
			fprintf(stderr, "rego-eval: %s: %s\n", a->mods[i], strerror(errno));
			return 1;
		}
		int r = rego_policy_add_module(p, a->mods[i], text, len, err);
		free(text);
		if (r < 0)
			return fail(err);
	}
	if (rego_policy_compile(p, err) < 0)
		return fail(err);
	if (a->data_path) {
		json_t *data = load_json(a->data_path);
		if (!data)
			return 1;
		int r = rego_policy_set_data(p, data, err);
		json_decref(data);
		if (r < 0)
			return fail(err);
	}
	return 0;
}

/* The query, a->repeat times (each timed on stderr when more than one);
 * the last result in res. */
static int eval_repeated(const struct args *a, struct rego_policy *p, json_t *input,
			 struct rego_result *res, struct kerr *err)
{
	int r = 0;
	for (long i = 0; i < a->repeat; i++) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		r = rego_eval(p, a->query, input, res, err);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (a->repeat > 1)
			fprintf(stderr, "run %ld: %.3f ms, %llu steps, %zu bytes\n", i,
				(t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6,
				(unsigned long long)res->steps, res->memory);
		if (i + 1 < a->repeat)
			rego_result_clear(res);
	}
	return r;
}

int main(int argc, char **argv)
{
	struct args a = { .repeat = 1 };
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc;
	struct kerr err;
	struct rego_policy *p;
	if (rego_policy_new(&p, &a.lim, &err) < 0)
		return fail(&err);
	if ((rc = load_policy(&a, p, &err)))
		return rc;
	json_t *input = NULL;
	if (a.input_path && !(input = load_json(a.input_path)))
		return 1;
	struct rego_result res;
	int r = eval_repeated(&a, p, input, &res, &err);
	if (res.prints)
		fprintf(stderr, "%s\n", res.prints);
	if (r < 0) {
		rego_result_clear(&res);
		return fail(&err);
	}
	json_t *out = a.bindings ? res.bindings : res.value;
	if (out) {
		char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		printf("%s\n", s);
		free(s);
	} else {
		printf("undefined\n");
	}
	rego_result_clear(&res);
	json_decref(input);
	rego_policy_free(p);
	return 0;
}
