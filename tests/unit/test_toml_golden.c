/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_toml_golden.c - common/toml.c on golden files: for every NAME.toml
 * in the directory given as argv[1], the parse must give exactly NAME.json
 * (toml_to_json, indented by 2, file order kept) or, for NAME.toml files
 * whose name starts with "err-", fail with exactly the message in NAME.err
 * (the file name in it is "NAME.toml"). One TAP test per file, the plan
 * first.
 *
 * With TOML_GOLDEN_WRITE=1 the expected files are written from what the
 * parser does now instead (review them before committing).
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "testutil.h"
#include "toml.h"

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What the parser makes of one file: the JSON text or the error line. */
static char *outcome(const char *dir, const char *name, int *failed)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	size_t len;
	cleanup_free char *text = tu_read_file_len(path, &len);
	if (!text)
		return strdup("cannot read the file\n");
	struct toml_value *v = NULL;
	struct kerr err = { 0 };
	char *out = NULL;
	*failed = toml_parse(text, len, name, &v, &err) < 0;
	if (*failed) {
		if (asprintf(&out, "%s\n", err.msg) < 0)
			out = NULL;
		return out;
	}
	json_t *j = toml_to_json(v);
	toml_free(v);
	char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	json_decref(j);
	if (s && asprintf(&out, "%s\n", s) < 0)
		out = NULL;
	free(s);
	return out;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: test_toml_golden DIR\n");
		return 2;
	}
	const char *dir = argv[1];
	cleanup_closedir DIR *d = opendir(dir);
	if (!d) {
		printf("1..0 # SKIP %s: %s\n", dir, strerror(errno));
		return 1;
	}
	char *names[256];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < 256) {
		size_t l = strlen(de->d_name);
		if (l > 5 && strcmp(de->d_name + l - 5, ".toml") == 0)
			names[n++] = strdup(de->d_name);
	}
	qsort(names, n, sizeof(names[0]), cmp_names);
	printf("1..%zu\n", n);
	bool write = getenv("TOML_GOLDEN_WRITE") != NULL;
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		bool want_error = strncmp(names[i], "err-", 4) == 0;
		char expected[4096];
		snprintf(expected, sizeof(expected), "%s/%.*s.%s", dir, (int)(strlen(names[i]) - 5),
			 names[i], want_error ? "err" : "json");
		int failed = 0;
		cleanup_free char *got = outcome(dir, names[i], &failed);
		if (write && got)
			tu_write_file(expected, got, 0644);
		cleanup_free char *want = tu_read_file(expected);
		bool ok = got && want && failed == want_error && strcmp(got, want) == 0;
		if (!ok) {
			printf("# %s: expected %s (%s)\n# got: %s", names[i],
			       want_error ? "an error" : "a document", want ? want : "no file\n",
			       got ? got : "(nothing)\n");
			bad++;
		}
		printf("%s %zu - %s\n", ok ? "ok" : "not ok", i + 1, names[i]);
		free(names[i]);
	}
	return bad ? 1 : 0;
}
