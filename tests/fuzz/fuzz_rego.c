/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the Rego evaluator: the input is a module and a query
 * (split at the first "\n---\n"), both host-controlled in the agent.  Any
 * text must end in a result or an error, within small bounds, without a
 * crash, a leak or undefined behaviour (ASan/UBSan).
 *
 * Built with -DFUZZ_WRITE_SEEDS it writes seed files into argv[1] instead.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rego.h"

#ifdef FUZZ_WRITE_SEEDS
static const char *const seeds[] = {
	"package t\nimport future.keywords\ndefault p := false\np if { some x in input.a; x == 1 }\n"
	"---\ndata.t.p",
	"package t\nf(x) := y if { y := x * 2 } else := 0\ns contains v if { v := input.a[_] }\n"
	"o[k] := v if { some k, v in {\"a\": 1} }\n---\nx := data.t.f(3); y := data.t.s",
	"package t\np := [y | some x in input.a; y := sprintf(\"%v\", [x])]\n"
	"q if { every x in input.a { x != null } }\nr := regex.find_all_string_submatch_n(\"(a+)(b*)\", \"aab ab\", -1)\n"
	"---\ndata.t",
	"package t\np if { not input.z with input.z as 1 }\nq := {x: 1 | x := input.a[_]; is_number(x)}\n"
	"---\ndata.t.q",
	"package t\nw(x) := 7 if { count(x) == 2; q with upper as lower }\nq if upper(\"A\") == \"a\"\n"
	"p if {k: v | some k, v in input}\nr if { count([1, 2]) == 7\n  with count as w\n  with data.x as {1} }\n"
	"---\ndata.t",
	"package t\np := json.filter({\"a\": [{\"b\": 1}, 2]}, [\"a/0/b\", [\"a\", 1]])\n"
	"q := json.remove({\"a\": {\"b\": 1}}, {\"a/b\"})\nr := strings.split_n(\"a.b.c\", \".\", -2)\n"
	"s := {\"x\": x, \"y\": 2} = {\"x\": 1, \"y\": y}\n---\ndata.t",
};

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/seed%zu", argv[1], i);
		FILE *f = fopen(path, "w");
		if (!f)
			return 1;
		fputs(seeds[i], f);
		fclose(f);
	}
	return 0;
}
#else
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	const char *query = "data";
	char *sep = strstr(text, "\n---\n");
	if (sep) {
		*sep = 0;
		query = sep + 5;
	}
	struct rego_limits lim = { .max_steps = 200000,
				   .max_memory = 32 << 20,
				   .max_stack = 512 << 10,
				   .max_input_nodes = 1000 };
	struct kerr err;
	struct rego_policy *p;
	if (rego_policy_new(&p, &lim, &err) == 0) {
		if (rego_policy_add_module(p, "f.rego", text, strlen(text), &err) == 0 &&
		    rego_policy_compile(p, &err) == 0) {
			json_t *in = json_loads("{\"a\": [1, 2, \"x\", {\"b\": [null, true]}]}", 0,
						NULL);
			struct rego_result res;
			rego_eval(p, query, in, &res, &err);
			rego_result_clear(&res);
			/* a second query on the same policy: nothing left over */
			rego_eval(p, "data", in, &res, &err);
			rego_result_clear(&res);
			json_decref(in);
		}
		rego_policy_free(p);
	}
	free(text);
	return 0;
}
#endif
