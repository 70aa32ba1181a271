/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Rego evaluator (agentd/policy/rego): language features, undefined vs
 * false, errors, builtins and bounds, on policies written for these tests.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "rego.h"

/* Evaluate query over one module; returns "undefined", the value's JSON (of
 * a one-expression query, else of the variable x in the first solution), or
 * "error: <message>" (static buffer, valid until the next call). */
static char out[8192];
static int last_code;
static char last_prints[4096];

static const char *evalx(const struct rego_limits *lim, const char *module, const char *data,
			 const char *input, const char *query)
{
	struct kerr err;
	struct rego_policy *p;
	last_code = 0;
	last_prints[0] = 0;
	if (rego_policy_new(&p, lim, &err) < 0)
		return "error: new";
	if (module && rego_policy_add_module(p, "t.rego", module, strlen(module), &err) < 0)
		goto fail;
	if (rego_policy_compile(p, &err) < 0)
		goto fail;
	if (data) {
		json_t *d = json_loads(data, 0, NULL);
		int r = rego_policy_set_data(p, d, &err);
		json_decref(d);
		if (r < 0)
			goto fail;
	}
	json_t *in = input ? json_loads(input, JSON_DECODE_ANY, NULL) : NULL;
	struct rego_result res;
	int r = rego_eval(p, query, in, &res, &err);
	json_decref(in);
	if (res.prints)
		snprintf(last_prints, sizeof(last_prints), "%s", res.prints);
	if (r < 0) {
		rego_result_clear(&res);
		goto fail;
	}
	json_t *x = json_object_get(json_array_get(res.bindings, 0), "x");
	if (res.value || x) {
		char *s = json_dumps(res.value ? res.value : x,
				     JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		snprintf(out, sizeof(out), "%s", s);
		free(s);
	} else {
		snprintf(out, sizeof(out), "undefined");
	}
	rego_result_clear(&res);
	rego_policy_free(p);
	return out;
fail:
	last_code = err.code;
	snprintf(out, sizeof(out), "error: %s", err.msg);
	rego_policy_free(p);
	return out;
}

static const char *eval(const char *module, const char *input, const char *query)
{
	return evalx(NULL, module, NULL, input, query);
}

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

#define CHECK_ERR(expr, prefix)                                                            \
	do {                                                                               \
		tap_checks++;                                                              \
		const char *_r = (expr);                                                   \
		if (!starts(_r, prefix)) {                                                 \
			printf("# %s:%d: %s\n#   gave %s\n#   expected %s...\n", __FILE__, \
			       __LINE__, #expr, _r, prefix);                               \
			*tap_failed = 1;                                                   \
		}                                                                          \
	} while (0)

TEST(undefined_vs_false_and_default)
{
	const char *m = "package t\n"
			"p if { input.x == 1 }\n"
			"q := false\n"
			"default d := \"dflt\"\n"
			"d := \"set\" if { input.x == 2 }\n"
			"r := x if { x := input.missing }\n"
			"not_p if { not p }\n"
			"not_q if { not q }\n";
	CHECK_EQ_STR(eval(m, "{\"x\":1}", "data.t.p"), "true");
	CHECK_EQ_STR(eval(m, "{\"x\":2}", "data.t.p"), "undefined");
	CHECK_EQ_STR(eval(m, NULL, "data.t.p"), "undefined");
	CHECK_EQ_STR(eval(m, NULL, "data.t.q"), "false");
	CHECK_EQ_STR(eval(m, "{\"x\":1}", "data.t.d"), "\"dflt\"");
	CHECK_EQ_STR(eval(m, "{\"x\":2}", "data.t.d"), "\"set\"");
	CHECK_EQ_STR(eval(m, "{}", "data.t.r"), "undefined");
	/* not of undefined is true; not of false is true too */
	CHECK_EQ_STR(eval(m, "{}", "data.t.not_p"), "true");
	CHECK_EQ_STR(eval(m, "{\"x\":1}", "data.t.not_p"), "undefined");
	CHECK_EQ_STR(eval(m, "{}", "data.t.not_q"), "true");
	/* a false expression in a body makes the rule undefined, not false */
	CHECK_EQ_STR(eval("package t\np if { false }\n", NULL, "data.t.p"), "undefined");
	/* the whole package: undefined rules are left out */
	CHECK_EQ_STR(eval(m, "{\"x\":3}", "data.t"),
		     "{\"d\":\"dflt\",\"not_p\":true,\"not_q\":true,\"q\":false}");
}

TEST(else_chains)
{
	const char *m = "package t\n"
			"import rego.v1\n"
			"size := \"big\" if { input.n > 100 }\n"
			"else := \"medium\" if { input.n > 10 }\n"
			"else := \"small\"\n"
			"f(x) := \"neg\" if { x < 0 } else := \"zero\" if { x == 0 } else := \"pos\"\n"
			"g(x) := 1 if { x == 1 } else := 2 if { x == 2 }\n";
	CHECK_EQ_STR(eval(m, "{\"n\":500}", "data.t.size"), "\"big\"");
	CHECK_EQ_STR(eval(m, "{\"n\":50}", "data.t.size"), "\"medium\"");
	CHECK_EQ_STR(eval(m, "{\"n\":5}", "data.t.size"), "\"small\"");
	CHECK_EQ_STR(eval(m, NULL, "data.t.f(-3)"), "\"neg\"");
	CHECK_EQ_STR(eval(m, NULL, "data.t.f(0)"), "\"zero\"");
	CHECK_EQ_STR(eval(m, NULL, "data.t.f(7)"), "\"pos\"");
	CHECK_EQ_STR(eval(m, NULL, "data.t.g(3)"), "undefined");
	CHECK_EQ_STR(eval(m, NULL, "x := data.t.g(2)"), "2");
}

TEST(functions)
{
	const char *m = "package t\n"
			"double(x) := x * 2\n"
			"is_admin(u) if { u.role == \"admin\" }\n"
			"is_admin(u) if { u.name == \"root\" }\n"
			"first([a, _]) := a\n"
			"kind(1) := \"one\"\n"
			"kind(x) := \"many\" if { x > 1 }\n"
			"conflict(x) := 1\n"
			"conflict(x) := 2\n"
			"default dflt(_) := \"none\"\n"
			"dflt(x) := \"some\" if { x > 0 }\n"
			"local := y if { double(4, y) }\n";
	CHECK_EQ_STR(eval(m, NULL, "data.t.double(21)"), "42");
	CHECK_EQ_STR(eval(m, NULL, "data.t.is_admin({\"role\": \"admin\"})"), "true");
	CHECK_EQ_STR(eval(m, NULL, "data.t.is_admin({\"name\": \"root\"})"), "true");
	/* two definitions both true for the same input agree: no conflict */
	CHECK_EQ_STR(eval(m, NULL, "data.t.is_admin({\"name\": \"root\", \"role\": \"admin\"})"),
		     "true");
	CHECK_EQ_STR(eval(m, NULL, "data.t.is_admin({\"name\": \"bob\"})"), "undefined");
	CHECK_EQ_STR(eval(m, NULL, "data.t.first([\"a\", \"b\"])"), "\"a\"");
	CHECK_EQ_STR(eval(m, NULL, "data.t.first([\"a\"])"), "undefined");
	CHECK_EQ_STR(eval(m, NULL, "data.t.kind(1)"), "\"one\"");
	CHECK_EQ_STR(eval(m, NULL, "data.t.kind(5)"), "\"many\"");
	CHECK_ERR(eval(m, NULL, "data.t.conflict(1)"), "error: t.rego:");
	CHECK(strstr(out, "functions must not produce multiple outputs") != NULL);
	CHECK_EQ_INT(last_code, -EINVAL);
	CHECK_EQ_STR(eval(m, NULL, "data.t.dflt(0)"), "\"none\"");
	CHECK_EQ_STR(eval(m, NULL, "data.t.dflt(3)"), "\"some\"");
	CHECK_EQ_STR(eval(m, NULL, "data.t.local"), "8");
}

TEST(partial_sets_and_objects)
{
	const char *m = "package t\n"
			"import future.keywords.contains\n"
			"import future.keywords.if\n"
			"names contains n if { some u in input.users; n := u.name }\n"
			"names contains \"admin\"\n"
			"by_name[u.name] := u.age if { some u in input.users }\n"
			"old[n] { by_name[n] > 40 }\n"
			"bad[k] := v if { some v in [1, 2]; k := \"same\" }\n";
	const char *in = "{\"users\":[{\"name\":\"ann\",\"age\":50},{\"name\":\"bob\",\"age\":30},"
			 "{\"name\":\"ann\",\"age\":50}]}";
	CHECK_EQ_STR(eval(m, in, "data.t.names"), "[\"admin\",\"ann\",\"bob\"]");
	CHECK_EQ_STR(eval(m, in, "data.t.by_name"), "{\"ann\":50,\"bob\":30}");
	CHECK_EQ_STR(eval(m, in, "data.t.old"), "[\"ann\"]");
	CHECK_EQ_STR(eval(m, in, "data.t.names[\"bob\"]"), "\"bob\"");
	CHECK_EQ_STR(eval(m, in, "data.t.names[\"eve\"]"), "undefined");
	CHECK_ERR(eval(m, in, "data.t.bad"), "error: ");
	CHECK(strstr(out, "object keys must be unique") != NULL);
	/* an empty partial set is defined: the empty set */
	CHECK_EQ_STR(eval(m, "{\"users\":[]}", "data.t.old"), "[]");
}

TEST(complete_rule_conflict)
{
	const char *m = "package t\n"
			"p := 1 if { input.a }\n"
			"p := 2 if { input.b }\n"
			"q := x if { some x in [1, 2] }\n"
			"same := 1 if { input.a }\n"
			"same := 1 if { input.b }\n";
	CHECK_EQ_STR(eval(m, "{\"a\":true}", "data.t.p"), "1");
	CHECK_ERR(eval(m, "{\"a\":true,\"b\":true}", "data.t.p"), "error: ");
	CHECK(strstr(out, "complete rules must not produce multiple outputs") != NULL);
	CHECK_ERR(eval(m, NULL, "data.t.q"), "error: ");
	CHECK_EQ_STR(eval(m, "{\"a\":true,\"b\":true}", "data.t.same"), "1");
}

TEST(with_modifier)
{
	const char *
		m = "package t\n"
		    "allow if { input.user == \"alice\" }\n"
		    "role := data.roles[input.user]\n"
		    "check_bob if { allow with input as {\"user\": \"bob\"} }\n"
		    "check_alice if { allow with input.user as \"alice\" }\n"
		    "admin_role := r if { r := role with data.roles as {\"x\": \"admin\"} with input.user as \"x\" }\n"
		    "mocked if { allow with allow as true }\n"
		    "after if { allow with input.user as \"alice\"; input.user == \"bob\" }\n";
	const char *data = "{\"roles\":{\"alice\":\"dev\"}}";
	CHECK_EQ_STR(evalx(NULL, m, data, "{\"user\":\"bob\"}", "data.t.check_bob"), "undefined");
	CHECK_EQ_STR(evalx(NULL, m, data, "{\"user\":\"bob\"}", "data.t.check_alice"), "true");
	CHECK_EQ_STR(evalx(NULL, m, data, "{\"user\":\"alice\"}", "data.t.role"), "\"dev\"");
	CHECK_EQ_STR(evalx(NULL, m, data, "{\"user\":\"alice\"}", "data.t.admin_role"),
		     "\"admin\"");
	CHECK_EQ_STR(evalx(NULL, m, data, "{\"user\":\"bob\"}", "data.t.mocked"), "true");
	/* the with applies to its own expression only, not to the next one */
	CHECK_EQ_STR(evalx(NULL, m, data, "{\"user\":\"bob\"}", "data.t.after"), "true");
	/* a query can use with, and the value cached under it does not leak out */
	CHECK_EQ_STR(evalx(NULL, m, data, "{\"user\":\"bob\"}",
			   "x := data.t.allow with input.user as \"alice\"; not data.t.allow"),
		     "true");
}

TEST(every_and_some)
{
	const char *m = "package t\n"
			"import future.keywords\n"
			"all_pos if { every x in input.xs { x > 0 } }\n"
			"all_kv if { every k, v in input.o { startswith(k, \"a\"); v == true } }\n"
			"some_big if { some x in input.xs; x > 10 }\n"
			"pairs contains [k, v] if { some k, v in input.o }\n"
			"idx contains i if { some i, x in input.xs; x == 5 }\n"
			"decl := c if { some i; input.xs[i] == 5; c := i }\n";
	CHECK_EQ_STR(eval(m, "{\"xs\":[1,5,20]}", "data.t.all_pos"), "true");
	CHECK_EQ_STR(eval(m, "{\"xs\":[1,-5]}", "data.t.all_pos"), "undefined");
	/* every over an empty collection is true */
	CHECK_EQ_STR(eval(m, "{\"xs\":[]}", "data.t.all_pos"), "true");
	CHECK_EQ_STR(eval(m, "{\"o\":{\"a1\":true,\"a2\":true}}", "data.t.all_kv"), "true");
	CHECK_EQ_STR(eval(m, "{\"o\":{\"a1\":true,\"b\":true}}", "data.t.all_kv"), "undefined");
	CHECK_EQ_STR(eval(m, "{\"xs\":[1,5,20]}", "data.t.some_big"), "true");
	CHECK_EQ_STR(eval(m, "{\"xs\":[1,5]}", "data.t.some_big"), "undefined");
	CHECK_EQ_STR(eval(m, "{\"o\":{\"a\":1,\"b\":2}}", "data.t.pairs"), "[[\"a\",1],[\"b\",2]]");
	CHECK_EQ_STR(eval(m, "{\"xs\":[5,1,5]}", "data.t.idx"), "[0,2]");
	CHECK_EQ_STR(eval(m, "{\"xs\":[1,5]}", "data.t.decl"), "1");
}

TEST(comprehensions)
{
	const char *m = "package t\n"
			"sq := [y | some x in input.xs; y := x * x]\n"
			"evens := {x | some x in input.xs; x % 2 == 0}\n"
			"index := {name: i | some i, name in input.names}\n"
			"nested := [[x, y] | x := input.xs[_]; y := [z | z := input.xs[_]; z > x]]\n"
			"dup_keys := {k: v | some v in input.xs; k := \"k\"}\n"
			"empty := [x | x := input.xs[_]; x > 100]\n";
	const char *in = "{\"xs\":[1,2,3,4],\"names\":[\"a\",\"b\"]}";
	CHECK_EQ_STR(eval(m, in, "data.t.sq"), "[1,4,9,16]");
	CHECK_EQ_STR(eval(m, in, "data.t.evens"), "[2,4]");
	CHECK_EQ_STR(eval(m, in, "data.t.index"), "{\"a\":0,\"b\":1}");
	CHECK_EQ_STR(eval(m, "{\"xs\":[1,2]}", "data.t.nested"), "[[1,[2]],[2,[]]]");
	CHECK_ERR(eval(m, in, "data.t.dup_keys"), "error: ");
	CHECK_EQ_STR(eval(m, in, "data.t.empty"), "[]");
}

TEST(unification_and_assignment)
{
	const char *m = "package t\n"
			"a := x if { [x, \"b\"] = input.pair }\n"
			"b := [x, y] if { [x, y] := input.pair }\n"
			"c := v if { {\"k\": v} = input.obj }\n"
			"d if { x = 1; x == 1 }\n"
			"e := k if { input.obj[k] == 2 }\n"
			"f := y if { [1, y] = [x, 2]; x = 1 }\n";
	const char *in = "{\"pair\":[\"a\",\"b\"],\"obj\":{\"k\":2}}";
	CHECK_EQ_STR(eval(m, in, "data.t.a"), "\"a\"");
	CHECK_EQ_STR(eval(m, in, "data.t.b"), "[\"a\",\"b\"]");
	CHECK_EQ_STR(eval(m, in, "data.t.c"), "2");
	CHECK_EQ_STR(eval(m, in, "data.t.d"), "true");
	CHECK_EQ_STR(eval(m, in, "data.t.e"), "\"k\"");
	CHECK_EQ_STR(eval(m, in, "data.t.f"), "2");
	/* := twice for one name is a compile error */
	CHECK_ERR(eval("package t\np if { x := 1; x := 2 }\n", NULL, "data.t.p"),
		  "error: t.rego:2: var x assigned above");
}

TEST(references_and_data)
{
	const char *m = "package t\n"
			"servers := data.servers\n"
			"ports contains p if { p := data.servers[_].ports[_] }\n"
			"pkg := data.t.servers[0].name\n";
	const char *data = "{\"servers\":[{\"name\":\"s1\",\"ports\":[80,443]},{\"name\":\"s2\","
			   "\"ports\":[22]}],\"cfg\":{\"x\":42}}";
	CHECK_EQ_STR(evalx(NULL, m, data, NULL, "data.t.ports"), "[22,80,443]");
	CHECK_EQ_STR(evalx(NULL, m, data, "{\"root\":\"cfg\",\"key\":\"x\"}",
			   "x := data[input.root][input.key]"),
		     "42");
	/* a rule that reads all of data reads itself: OPA's recursion error */
	CHECK_ERR(evalx(NULL, "package t\nall := data\n", data, NULL, "data.t.all"),
		  "error: rego_recursion_error");
	CHECK_EQ_STR(evalx(NULL, m, data, NULL, "data.t.pkg"), "\"s1\"");
	CHECK_EQ_STR(evalx(NULL, m, data, NULL, "data.cfg"), "{\"x\":42}");
	CHECK_EQ_STR(evalx(NULL, m, data, NULL, "data.servers[1].ports[0]"), "22");
	CHECK_EQ_STR(evalx(NULL, m, data, NULL, "data.servers[5]"), "undefined");
}

TEST(operators)
{
	CHECK_EQ_STR(eval(NULL, NULL, "x := 7 / 2"), "3.5");
	CHECK_EQ_STR(eval(NULL, NULL, "x := 8 / 2"), "4");
	CHECK_EQ_STR(eval(NULL, NULL, "x := 7 % 3"), "1");
	CHECK_EQ_STR(eval(NULL, NULL, "x := (1 + 2) * 3 - -1"), "10");
	CHECK_EQ_STR(eval(NULL, NULL, "x := {1, 2, 3} & {2, 3, 4}"), "[2,3]");
	CHECK_EQ_STR(eval(NULL, NULL, "x := {1, 2} | {3}"), "[1,2,3]");
	CHECK_EQ_STR(eval(NULL, NULL, "x := {1, 2, 3} - {2}"), "[1,3]");
	CHECK_EQ_STR(eval(NULL, NULL, "x := 2 in [1, 2]"), "true");
	CHECK_EQ_STR(eval(NULL, NULL, "x := 3 in {\"a\": 3}"), "true");
	CHECK_EQ_STR(eval(NULL, NULL, "x := \"a\" in {\"a\": 3}"), "false");
	/* OPA's order of types: null < boolean < number < string < array < object < set */
	CHECK_EQ_STR(eval(NULL, NULL,
			  "x := [null < false, false < 0, 0 < \"\", \"\" < [], [] < {}, {} < set()]"),
		     "[true,true,true,true,true,true]");
	CHECK_EQ_STR(eval(NULL, NULL, "x := 1 == 1.0"), "true");
	/* past int64 (OPA: arbitrary precision): refused, never a rounded answer;
	 * in non-strict mode too, so `not` cannot turn it into a yes */
	CHECK_ERR(eval(NULL, NULL, "x := 9223372036854775807 * 2 > 9223372036854775807"),
		  "error: rego: mul: integer overflow (numbers past int64 are not supported)");
	CHECK_EQ_INT(last_code, -ERANGE);
	CHECK_ERR(eval("package t\np if { not sum([9223372036854775807, 1]) > 0 }\n", NULL,
		       "data.t.p"),
		  "error: rego: sum: integer overflow");
	CHECK_ERR(eval(NULL, NULL, "x := abs(-9223372036854775807 - 1)"),
		  "error: rego: abs: integer overflow");
	CHECK_ERR(eval(NULL, NULL, "x := bits.lsh(9223372036854775807, 1)"),
		  "error: rego: bits.lsh: integer overflow");
	CHECK_ERR(eval(NULL, NULL, "x := bits.lsh(1, 64)"),
		  "error: rego: bits.lsh: integer overflow");
	CHECK_EQ_STR(eval(NULL, NULL, "x := bits.lsh(-1, 62)"), "-4611686018427387904");
	CHECK_EQ_STR(eval(NULL, NULL, "x := bits.lsh(0, 100)"), "0");
	CHECK_EQ_STR(eval(NULL, NULL, "x := 9223372036854775806 + 1"), "9223372036854775807");
	CHECK_EQ_STR(eval(NULL, NULL, "x := 9223372036854775807 + 0.5 > 0"), "true"); /* a double */
	CHECK_ERR(eval("package t\np := 18446744073709551615\n", NULL, "data.t.p"),
		  "error: t.rego:2:6: integer 18446744073709551615 is out of range");
	CHECK_ERR(eval("package t\np := 1e400\n", NULL, "data.t.p"),
		  "error: t.rego:2:6: number 1e400 is out of range");
	/* a builtin error is undefined (non-strict, as the agent runs) ... */
	CHECK_EQ_STR(eval(NULL, NULL, "x := 1 / 0"), "undefined");
	/* ... and an error in strict mode */
	struct rego_limits strict = { .strict_builtin_errors = true };
	CHECK_ERR(evalx(&strict, NULL, NULL, NULL, "x := 1 / 0"), "error: div: eval_builtin_error");
}

TEST(string_builtins)
{
	CHECK_EQ_STR(eval(NULL, NULL, "x := concat(\"/\", [\"a\", \"b\"])"), "\"a/b\"");
	CHECK_EQ_STR(eval(NULL, NULL, "x := split(\"a:b::c\", \":\")"), "[\"a\",\"b\",\"\",\"c\"]");
	CHECK_EQ_STR(eval(NULL, NULL, "x := replace(\"$(x)-$(x)\", \"$(x)\", \"y\")"), "\"y-y\"");
	CHECK_EQ_STR(eval(NULL, NULL, "x := trim_prefix(\"CAP_KILL\", \"CAP_\")"), "\"KILL\"");
	CHECK_EQ_STR(eval(NULL, NULL, "x := trim_suffix(\"a.rego\", \".rego\")"), "\"a\"");
	CHECK_EQ_STR(eval(NULL, NULL, "x := trim(\"xxhixx\", \"x\")"), "\"hi\"");
	CHECK_EQ_STR(eval(NULL, NULL, "x := trim_left(\"  hi \", \" \")"), "\"hi \"");
	CHECK_EQ_STR(eval(NULL, NULL, "x := trim_right(\"  hi \", \" \")"), "\"  hi\"");
	CHECK_EQ_STR(eval(NULL, NULL, "x := trim_space(\"\\t hi \\n\")"), "\"hi\"");
	CHECK_EQ_STR(eval(NULL, NULL, "x := substring(\"h\u00e9llo\", 1, 3)"), "\"\u00e9ll\"");
	CHECK_EQ_STR(eval(NULL, NULL, "x := substring(\"hello\", 2, -1)"), "\"llo\"");
	CHECK_EQ_STR(eval(NULL, NULL, "x := count(\"h\u00e9llo\")"), "5");
	CHECK_EQ_STR(eval(NULL, NULL, "x := [lower(\"AbC\"), upper(\"AbC\")]"),
		     "[\"abc\",\"ABC\"]");
	CHECK_EQ_STR(eval(NULL, NULL,
			  "x := [startswith(\"abc\", \"ab\"), endswith(\"abc\", \"bc\"), contains(\"abc\", \"d\")]"),
		     "[true,true,false]");
	CHECK_EQ_STR(eval(NULL, NULL, "x := [indexof(\"abcb\", \"b\"), indexof(\"abc\", \"z\")]"),
		     "[1,-1]");
	CHECK_EQ_STR(eval(NULL, NULL,
			  "x := sprintf(\"%s=%d %v %.2f\", [\"a\", 3, [1, \"b\"], 1.5])"),
		     "\"a=3 [1, \\\"b\\\"] 1.50\"");
	CHECK_EQ_STR(eval(NULL, NULL,
			  "x := [to_number(\"42\"), to_number(\"1.5\"), to_number(true)]"),
		     "[42,1.5,1]");
	CHECK_EQ_STR(eval(NULL, NULL, "x := to_number(\"4x\")"), "undefined");
	CHECK_EQ_STR(eval(NULL, NULL, "x := format_int(255, 16)"), "\"ff\"");
	CHECK_EQ_STR(eval(NULL, NULL,
			  "x := strings.replace_n({\"a\": \"1\", \"b\": \"2\"}, \"abc\")"),
		     "\"12c\"");
}

TEST(collection_builtins)
{
	CHECK_EQ_STR(eval(NULL, NULL, "x := array.concat([1], [2, 3])"), "[1,2,3]");
	CHECK_EQ_STR(eval(NULL, NULL, "x := array.slice([1, 2, 3, 4], 1, 3)"), "[2,3]");
	CHECK_EQ_STR(eval(NULL, NULL, "x := object.get({\"a\": {\"b\": 1}}, [\"a\", \"b\"], 0)"),
		     "1");
	CHECK_EQ_STR(eval(NULL, NULL, "x := object.get({\"a\": 1}, \"z\", \"dflt\")"), "\"dflt\"");
	CHECK_EQ_STR(eval(NULL, NULL,
			  "x := object.union({\"a\": {\"b\": 1}, \"c\": 1}, {\"a\": {\"d\": 2}, \"c\": 2})"),
		     "{\"a\":{\"b\":1,\"d\":2},\"c\":2}");
	CHECK_EQ_STR(eval(NULL, NULL, "x := object.remove({\"a\": 1, \"b\": 2}, [\"a\"])"),
		     "{\"b\":2}");
	CHECK_EQ_STR(eval(NULL, NULL, "x := [count([1, 2]), count({\"a\": 1}), count(set())]"),
		     "[2,1,0]");
	CHECK_EQ_STR(eval(NULL, NULL, "x := [sum([1, 2.5]), max([3, 1]), min({4, 2}), abs(-3)]"),
		     "[3.5,3,2,3]");
	CHECK_EQ_STR(eval(NULL, NULL, "x := sort([3, \"a\", null, 1])"), "[null,1,3,\"a\"]");
	CHECK_EQ_STR(eval(NULL, NULL, "x := union({{1}, {2, 3}})"), "[1,2,3]");
	CHECK_EQ_STR(eval(NULL, NULL, "x := intersection({{1, 2}, {2, 3}})"), "[2]");
	CHECK_EQ_STR(eval(NULL, NULL,
			  "x := [is_null(null), is_string(1), is_array([]), is_object({}), is_set(set()), is_number(1.5), is_boolean(false)]"),
		     "[true,false,true,true,true,true,true]");
	CHECK_EQ_STR(eval(NULL, NULL, "x := is_null(input.nothing)"), "undefined");
	CHECK_EQ_STR(eval(NULL, NULL, "x := json.marshal({\"b\": [1, true], \"a\": null})"),
		     "\"{\\\"a\\\":null,\\\"b\\\":[1,true]}\"");
	CHECK_EQ_STR(eval(NULL, NULL, "x := json.unmarshal(\"{\\\"a\\\": [1, 2.5]}\")"),
		     "{\"a\":[1,2.5]}");
	CHECK_EQ_STR(eval(NULL, NULL,
			  "x := [base64.encode(\"hi!?\"), base64url.encode(\"hi!?\"), base64.decode(\"aGkhPw==\")]"),
		     "[\"aGkhPw==\",\"aGkhPw==\",\"hi!?\"]");
	CHECK_EQ_STR(eval(NULL, NULL, "x := base64url.encode(\"\\u00ff\\u00fe\")"), "\"w7_Dvg==\"");
	CHECK_EQ_STR(eval(NULL, NULL, "x := [bits.or(5, 2), bits.and(6, 3), bits.negate(0)]"),
		     "[7,2,-1]");
}

TEST(regex)
{
	CHECK_EQ_STR(eval(NULL, NULL, "x := regex.match(\"^[a-z]+$\", \"abc\")"), "true");
	CHECK_EQ_STR(eval(NULL, NULL, "x := regex.match(\"^[a-z]+$\", \"abc1\")"), "false");
	/* unanchored, as RE2 */
	CHECK_EQ_STR(eval(NULL, NULL, "x := regex.match(\"b\", \"abc\")"), "true");
	/* '$' is the end of the text, not before a final newline (RE2) */
	CHECK_EQ_STR(eval(NULL, NULL, "x := regex.match(\"^a$\", \"a\\n\")"), "false");
	/* \\d is ASCII only (RE2) */
	CHECK_EQ_STR(eval(NULL, NULL, "x := regex.match(\"^\\\\d$\", \"\\u0663\")"), "false");
	CHECK_EQ_STR(eval(NULL, NULL, "x := regex.match(\"^.$\", \"\\u00e9\")"), "true");
	CHECK_EQ_STR(eval(NULL, NULL,
			  "x := regex.find_all_string_submatch_n(\"([a-z]+)=([0-9]*)\", \"a=1 b= c=3\", -1)"),
		     "[[\"a=1\",\"a\",\"1\"],[\"b=\",\"b\",\"\"],[\"c=3\",\"c\",\"3\"]]");
	CHECK_EQ_STR(eval(NULL, NULL,
			  "x := regex.find_all_string_submatch_n(\"[a-z]\", \"abc\", 2)"),
		     "[[\"a\"],[\"b\"]]");
	/* Go skips an empty match right after a match */
	CHECK_EQ_STR(eval(NULL, NULL, "x := regex.find_n(\"a*\", \"baaac\", -1)"),
		     "[\"\",\"aaa\",\"\"]");
	CHECK_EQ_STR(eval(NULL, NULL, "x := regex.replace(\"a1b22\", \"[0-9]+\", \"<$0>\")"),
		     "\"a<1>b<22>\"");
	CHECK_EQ_STR(eval(NULL, NULL, "x := regex.split(\",+\", \"a,,b,c\")"),
		     "[\"a\",\"b\",\"c\"]");
	/* what RE2 lacks is refused, not given PCRE's meaning */
	struct rego_limits strict = { .strict_builtin_errors = true };
	CHECK_ERR(evalx(&strict, NULL, NULL, NULL, "x := regex.match(\"a(?=b)\", \"ab\")"),
		  "error: regex: eval_builtin_error: error parsing regexp: look-ahead are not supported");
	CHECK_ERR(evalx(&strict, NULL, NULL, NULL, "x := regex.match(\"(a)\\\\1\", \"aa\")"),
		  "error: regex: eval_builtin_error: error parsing regexp: back-references");
	CHECK_ERR(evalx(&strict, NULL, NULL, NULL, "x := regex.match(\"a++\", \"aa\")"),
		  "error: regex: eval_builtin_error: error parsing regexp: possessive");
	CHECK_ERR(evalx(&strict, NULL, NULL, NULL, "x := regex.match(\"(\", \"\")"),
		  "error: regex: eval_builtin_error: error parsing regexp: missing closing parenthesis");
	/* non-strict (the agent): an invalid pattern is undefined, never a match */
	CHECK_EQ_STR(eval(NULL, NULL, "x := regex.match(\"a(?=b)\", \"ab\")"), "undefined");
	/* catastrophic backtracking is cut by PCRE2's match limit */
	CHECK_ERR(evalx(&strict, NULL, NULL, NULL,
			"x := regex.match(\"^(a+)+$\", \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\")"),
		  "error: regex: eval_builtin_error: matching failed");
}

TEST(membership_and_negation)
{
	const char *m = "package t\n"
			"kv if { \"b\", 2 in {\"a\": 1, \"b\": 2} }\n"
			"idx if { 1, \"y\" in [\"x\", \"y\"] }\n"
			"not_unify if { not input.a = 1 }\n"
			"pat := v if { some {\"k\": v} in input.objs }\n";
	CHECK_EQ_STR(eval(m, NULL, "data.t.kv"), "true");
	CHECK_EQ_STR(eval(m, NULL, "data.t.idx"), "true");
	CHECK_EQ_STR(eval(m, "{\"a\":2}", "data.t.not_unify"), "true");
	CHECK_EQ_STR(eval(m, "{\"a\":1}", "data.t.not_unify"), "undefined");
	CHECK_EQ_STR(eval(m, "{\"objs\":[{\"j\":0},{\"k\":7}]}", "data.t.pat"), "7");
}

TEST(with_function_mocks)
{
	const char *m = "package t\n"
			"mock_count(x) := 100 if { x == \"big\" }\n"
			"mock_count(x) := count(x) if { x != \"big\" }\n"
			"p := [count(\"big\"), count(\"abc\")] if { true } \n"
			"q := r if { r := p with count as mock_count }\n"
			"two(a, b) := 1\n";
	/* the mock calls the original builtin, not itself */
	CHECK_EQ_STR(eval(m, NULL, "data.t.q"), "[100,3]");
	CHECK_EQ_STR(eval(m, NULL, "data.t.p"), "[3,3]");
	/* a replacement with another arity is refused when compiling */
	CHECK_ERR(eval("package t\ntwo(a, b) := 1\np if { count([]) with count as two }\n", NULL,
		       "data.t.p"),
		  "error: t.rego:3: with: count takes 1 arguments, its replacement 2");
	/* a builtin's name as a value is not a function reference (found by fuzzing) */
	CHECK_ERR(eval("package t\np if { not input.z with input.z as gt }\n", NULL, "data.t.p"),
		  "error: 2:");
}

TEST(parse_nesting_bound)
{
	/* hostile text nests deeper than the parser allows: an error, no crash */
	size_t n = 100000;
	char *m = malloc(2 * n + 32);
	REQUIRE(m != NULL);
	char *w = m + sprintf(m, "package t\np := ");
	memset(w, '[', n);
	memset(w + n, ']', n);
	w[2 * n] = 0;
	CHECK_ERR(eval(m, NULL, "data.t.p"), "error: t.rego:2:");
	CHECK(strstr(out, "nesting deeper than") != NULL);
	free(m);
	/* a nesting real policies use is fine */
	CHECK_EQ_STR(eval("package t\np := [[[[[[[[[[1]]]]]]]]]]\n", NULL, "data.t.p"),
		     "[[[[[[[[[[1]]]]]]]]]]");
}

TEST(print_output)
{
	const char *m = "package t\n"
			"p if { print(\"hello\", input.x, input.missing, {\"a\": [1]}); true }\n";
	CHECK_EQ_STR(eval(m, "{\"x\":3}", "data.t.p"), "true");
	CHECK_EQ_STR(last_prints, "hello 3 <undefined> {\"a\":[1]}");
}

TEST(parse_errors_have_positions)
{
	CHECK_ERR(eval("package t\n\np if {\n  x := \n}\n", NULL, "data.t.p"),
		  "error: t.rego:5:1: unexpected '}'");
	CHECK_ERR(eval("package t\np := \"abc\n", NULL, "data.t.p"),
		  "error: t.rego:2:6: unterminated string");
	CHECK_ERR(eval("p := 1\n", NULL, "data.t.p"), "error: t.rego:1:1: expected 'package'");
	CHECK_ERR(eval("package t\np if { undefined_fn(1) }\n", NULL, "data.t.p"),
		  "error: t.rego:2: undefined function undefined_fn");
	CHECK_ERR(eval(NULL, NULL, "x := [1,"), "error: query:1:9: unexpected 'end'");
	CHECK_EQ_INT(last_code, -EINVAL);
	CHECK_ERR(eval("package t\np if { q }\nq if { p }\n", NULL, "data.t.p"),
		  "error: rego_recursion_error");
	/* else on a multi-value rule: refused (found by fuzzing: it crashed) */
	CHECK_ERR(eval("package t\ns contains 1 if { false } else\n", NULL, "data.t.s"),
		  "error: t.rego:2:27: 'else' on a partial set or object rule");
}

TEST(parse_once_evaluate_many_with_pstate)
{
	/* the agent's pattern: one compiled policy, data.pstate changing */
	const char *
		m = "package agent_policy\n"
		    "CreateContainerRequest := {\"ops\": ops, \"allowed\": true} if {\n"
		    "  not data.pstate[input.container_id]\n"
		    "  ops := [{\"op\": \"add\", \"path\": concat(\"/\", [\"/pstate\", input.container_id]), \"value\": 0}]\n"
		    "}\n";
	struct kerr err;
	struct rego_policy *p;
	REQUIRE(rego_policy_new(&p, NULL, &err) == 0);
	REQUIRE(rego_policy_add_module(p, "m.rego", m, strlen(m), &err) == 0);
	REQUIRE(rego_policy_compile(p, &err) == 0);
	json_t *in = json_pack("{s:s}", "container_id", "c1");
	struct rego_result res;
	for (int i = 0; i < 3; i++) {
		json_t *d = json_loads(i == 2 ? "{\"pstate\":{\"c1\":0}}" : "{\"pstate\":{}}", 0,
				       NULL);
		CHECK(rego_policy_set_data(p, d, &err) == 0);
		json_decref(d);
		CHECK_EQ_INT(rego_eval(p, "data.agent_policy.CreateContainerRequest", in, &res,
				       &err),
			     0);
		if (i < 2) {
			CHECK(json_is_object(res.value));
			CHECK(json_is_true(json_object_get(res.value, "allowed")));
		} else {
			CHECK(res.value == NULL);
		}
		rego_result_clear(&res);
	}
	json_decref(in);
	rego_policy_free(p);
}

TEST(bound_steps)
{
	/* a policy that loops: stopped with DEADLINE_EXCEEDED's code */
	struct rego_limits lim = { .max_steps = 100000 };
	const char *
		m = "package t\n"
		    "p := count([x | some x in numbers.range(1, 100000); some y in numbers.range(1, 100000); x == y])\n";
	CHECK_ERR(evalx(&lim, m, NULL, NULL, "data.t.p"),
		  "error: rego: evaluation step bound reached");
	CHECK_EQ_INT(last_code, -ETIME);
}

TEST(bound_memory)
{
	/* a policy that allocates without bound: RESOURCE_EXHAUSTED's code */
	struct rego_limits lim = { .max_memory = 8 << 20 };
	const char *
		m = "package t\n"
		    "p := [[x, y, sprintf(\"%d-%d\", [x, y])] | some x in numbers.range(1, 5000); some y in numbers.range(1, 5000)]\n";
	CHECK_ERR(evalx(&lim, m, NULL, NULL, "data.t.p"),
		  "error: rego: evaluation memory bound reached");
	CHECK_EQ_INT(last_code, -ENOMEM);
}

TEST(bound_stack)
{
	/* a body nested deeper than the stack bound: refused, no crash */
	struct rego_limits lim = { .max_stack = 256 << 10 };
	size_t n = 20000;
	char *m = malloc(n * 24 + 64);
	REQUIRE(m != NULL);
	char *w = m + sprintf(m, "package t\np if {\n x0 := 0\n");
	for (size_t i = 1; i < n; i++)
		w += sprintf(w, " x%zu := x%zu\n", i, i - 1);
	sprintf(w, "}\n");
	CHECK_ERR(evalx(&lim, m, NULL, NULL, "data.t.p"),
		  "error: rego: evaluation nesting (stack) bound reached");
	CHECK_EQ_INT(last_code, -ELOOP);
	/* within the bound the same shape evaluates */
	sprintf(m, "package t\np if {\n x0 := 0\n x1 := x0\n}\n");
	CHECK_EQ_STR(evalx(&lim, m, NULL, NULL, "data.t.p"), "true");
	free(m);
}

TEST(bound_input_size)
{
	struct rego_limits lim = { .max_input_nodes = 100 };
	char in[4096];
	char *w = in + sprintf(in, "[0");
	for (int i = 1; i < 200; i++)
		w += sprintf(w, ",%d", i);
	sprintf(w, "]");
	CHECK_ERR(evalx(&lim, NULL, NULL, in, "x := count(input)"),
		  "error: rego: input is over the size bound");
	CHECK_EQ_INT(last_code, -E2BIG);
	CHECK_EQ_STR(evalx(NULL, NULL, NULL, in, "x := count(input)"), "200");
}

TEST(kata_opa_style_policies)
{
	/* the shape of src/kata-opa's stock policies (written here) */
	const char *m = "package agent_policy\n\n"
			"default CreateContainerRequest := true\n"
			"default ExecProcessRequest := false\n"
			"default SetPolicyRequest := true\n";
	CHECK_EQ_STR(eval(m, "{}", "data.agent_policy.CreateContainerRequest"), "true");
	CHECK_EQ_STR(eval(m, "{}", "data.agent_policy.ExecProcessRequest"), "false");
	/* a request the policy does not name is undefined (the agent denies it) */
	CHECK_EQ_STR(eval(m, "{}", "data.agent_policy.ReadStreamRequest"), "undefined");
}

TEST(base_and_virtual_documents_merge)
{
	/* a base document and rules in a package below it: one merged tree */
	const char *m = "package t\n"
			"keys := sort([k | data.cfg[k].kind])\n"
			"all := data.cfg\n";
	const char *rules = "package cfg.pod\nextra := 1\n";
	struct kerr err;
	struct rego_policy *p;
	REQUIRE(rego_policy_new(&p, NULL, &err) == 0);
	REQUIRE(rego_policy_add_module(p, "a.rego", m, strlen(m), &err) == 0);
	REQUIRE(rego_policy_add_module(p, "b.rego", rules, strlen(rules), &err) == 0);
	REQUIRE(rego_policy_compile(p, &err) == 0);
	json_t *d = json_loads("{\"cfg\":{\"pod\":{\"kind\":\"a\"},\"vol\":{\"kind\":\"b\"}}}", 0,
			       NULL);
	REQUIRE(rego_policy_set_data(p, d, &err) == 0);
	json_decref(d);
	struct rego_result res;
	REQUIRE(rego_eval(p, "data.t.keys", NULL, &res, &err) == 0);
	char *s = json_dumps(res.value, JSON_COMPACT | JSON_ENCODE_ANY);
	CHECK_EQ_STR(s, "[\"pod\",\"vol\"]"); /* "pod" once, not a conflict */
	free(s);
	rego_result_clear(&res);
	REQUIRE(rego_eval(p, "data.t.all.pod", NULL, &res, &err) == 0);
	s = json_dumps(res.value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	CHECK_EQ_STR(s, "{\"extra\":1,\"kind\":\"a\"}");
	free(s);
	rego_result_clear(&res);
	rego_policy_free(p);
}

TEST(builtins_strings_more)
{
	CHECK_EQ_STR(eval(NULL, NULL,
			  "x := strings.any_prefix_match([\"/run/a\", \"/x\"], \"/run/\")"),
		     "true");
	CHECK_EQ_STR(eval(NULL, NULL,
			  "x := strings.any_prefix_match(\"/etc/x\", {\"/run/\", \"/proc\"})"),
		     "false");
	CHECK_EQ_STR(eval(NULL, NULL,
			  "x := strings.any_suffix_match({\"a.conf\"}, [\".yaml\", \".conf\"])"),
		     "true");
	struct rego_limits strict = { .strict_builtin_errors = true };
	CHECK_ERR(evalx(&strict, NULL, NULL, NULL, "x := strings.any_prefix_match([1], \"a\")"),
		  "error: strings.any_prefix_match: eval_builtin_error: operand 1 must be array of strings");
	CHECK_EQ_STR(eval(NULL, NULL, "x := strings.count(\"a-b-c\", \"-\")"), "2");
	CHECK_EQ_STR(eval(NULL, NULL, "x := strings.count(\"aaaa\", \"aa\")"),
		     "2"); /* non-overlapping */
	CHECK_EQ_STR(eval(NULL, NULL, "x := strings.count(\"h\xc3\xa9\", \"\")"),
		     "3"); /* code points + 1 */
	CHECK_EQ_STR(eval(NULL, NULL, "x := strings.split_n(\"k=v=w\", \"=\", 2)"),
		     "[\"k\",\"v\"]");
	CHECK_EQ_STR(eval(NULL, NULL, "x := strings.split_n(\"a/b/c\", \"/\", -1)"), "[\"c\"]");
	CHECK_EQ_STR(eval(NULL, NULL, "x := strings.split_n(\"a/b/c\", \"/\", 0)"), "[]");
	CHECK_EQ_STR(eval(NULL, NULL, "x := strings.split_n(\"a/b/c\", \"/\", -9)"),
		     "[\"a\",\"b\",\"c\"]");
	CHECK_EQ_STR(eval(NULL, NULL, "x := strings.split_n(\"a/b\", \"/\", 1.5)"), "undefined");
	CHECK_EQ_STR(eval(NULL, NULL, "x := array.flatten([[1, [2]], 3, []])"), "[1,[2],3]");
}

TEST(with_more)
{
	/* modifiers on the following lines belong to the literal */
	const char *m = "package t\n"
			"p if {\n"
			"  q\n"
			"    with input.a as 1\n"
			"    with data.cfg.b as 2\n"
			"}\n"
			"q if { input.a == 1; data.cfg.b == 2 }\n";
	CHECK_EQ_STR(eval(m, "{}", "data.t.p"), "true");
	/* a data path with neither base document nor rule: the override is it */
	const char *s = "package t\n"
			"allowed contains x if { data.extra[x] }\n"
			"p if { allowed[\"a\"] with data.extra as {\"a\"} }\n"
			"v := x if { x := data.extra with data.extra as [1] }\n";
	CHECK_EQ_STR(eval(s, NULL, "data.t.p"), "true");
	CHECK_EQ_STR(eval(s, NULL, "data.t.v"), "[1]");
	/* inside a mock the mocks around it are off, the ones set up inside on */
	const char *n = "package t\n"
			"wrap(x) := 7 if { count(x) == 2; inner with upper as lower }\n"
			"inner if upper(\"A\") == \"a\"\n"
			"p if { count([1, 2]) == 7 with count as wrap }\n";
	CHECK_EQ_STR(eval(n, NULL, "data.t.p"), "true");
}

TEST(if_brace_not_a_body)
{
	/* after `if`, braces that are no body are one literal (a comprehension) */
	const char *m = "package t\n"
			"p if {k: v | some k, v in input}\n"
			"q if { input.a }\n";
	CHECK_EQ_STR(eval(m, "{\"a\": 1}", "data.t.p"), "true");
	CHECK_EQ_STR(eval(m, "{\"a\": 1}", "data.t.q"), "true");
	/* a real syntax error in the braces is still an error */
	CHECK_ERR(eval("package t\np if { 1 + }\n", NULL, "data.t.p"), "error: t.rego:");
}

TEST(unify_object_patterns_both_sides)
{
	/* variables on both sides of = in object patterns with constant keys */
	CHECK_EQ_STR(eval(NULL, NULL, "{\"a\": a, \"b\": 2} = {\"b\": b, \"a\": 1}; x := [a, b]"),
		     "[1,2]");
	CHECK_EQ_STR(eval(NULL, NULL, "{\"a\": a} = {\"c\": c}; x := 1"), "undefined");
	CHECK_EQ_STR(eval(NULL, NULL, "{\"a\": a, \"b\": 1} = {\"a\": 3, \"b\": b}; x := a + b"),
		     "4");
}

TEST(builtins_json_filter_remove)
{
	const char *
		doc = "{\"spec\": {\"env\": [{\"n\": 1, \"v\": 2}, {\"n\": 3}], \"a/b\": 1}, \"k\": 0}";
	char q[512];
	snprintf(q, sizeof(q), "x := json.filter(%s, [\"spec/env/0/n\", \"spec/a~1b\"])", doc);
	CHECK_EQ_STR(eval(NULL, NULL, q), "{\"spec\":{\"a/b\":1,\"env\":[{\"n\":1}]}}");
	snprintf(q, sizeof(q), "x := json.remove(%s, {[\"spec\", \"env\", 1], \"k\"})", doc);
	CHECK_EQ_STR(eval(NULL, NULL, q), "{\"spec\":{\"a/b\":1,\"env\":[{\"n\":1,\"v\":2}]}}");
	CHECK_EQ_STR(eval(NULL, NULL, "x := json.remove({\"a\": 1}, set())"), "{\"a\":1}");
	CHECK_EQ_STR(eval(NULL, NULL, "x := json.filter({\"a\": 1}, [])"), "{}");
	struct rego_limits strict = { .strict_builtin_errors = true };
	CHECK_ERR(evalx(&strict, NULL, NULL, NULL, "x := json.remove({\"a\": 1}, [{\"a\": 1}])"),
		  "error: json.remove: eval_builtin_error: operand 2 must be one of {set, array} containing");
	CHECK_ERR(evalx(&strict, NULL, NULL, NULL, "x := json.filter([1], [\"a\"])"),
		  "error: json.filter: eval_builtin_error: operand 1 must be object but got array");
}

TEST(unsupported_builtins_refused_at_compile_time)
{
	/* an OPA builtin left out fails the policy load, never a wrong answer */
	CHECK_ERR(eval("package t\np if { time.now_ns() > 0 }\n", NULL, "data.t.p"),
		  "error: t.rego:2: unsupported builtin time.now_ns (not implemented by this evaluator)");
	CHECK_ERR(eval("package t\np if { http.send({}) }\n", NULL, "data.t.p"),
		  "error: t.rego:2: unsupported builtin http.send");
	CHECK_ERR(eval("package t\np if { net.lookup_ip_addr(input.host) }\n", NULL, "data.t.p"),
		  "error: t.rego:2: unsupported builtin net.lookup_ip_addr");
	CHECK_ERR(eval("package t\nf(_) := 1\np if { f(1) with crypto.sha256 as f }\n", NULL,
		       "data.t.p"),
		  "error: t.rego:3: with: unsupported builtin crypto.sha256");
	/* a name OPA does not have either stays an undefined function */
	CHECK_ERR(eval("package t\np if { nosuch.fn(1) }\n", NULL, "data.t.p"),
		  "error: t.rego:2: undefined function nosuch.fn");
}

TEST(strings_replace_n_one_pass)
{
	/* Go's strings.NewReplacer over the keys in order: one pass, no rescans */
	CHECK_EQ_STR(eval(NULL, NULL,
			  "x := strings.replace_n({\"a\": \"b\", \"b\": \"a\"}, \"abba\")"),
		     "\"baab\"");
	CHECK_EQ_STR(eval(NULL, NULL,
			  "x := strings.replace_n({\"a\": \"1\", \"ab\": \"2\"}, \"abc\")"),
		     "\"1bc\"");
	CHECK_EQ_STR(eval(NULL, NULL, "x := strings.replace_n({\"\": \"-\"}, \"h\xc3\xa9\")"),
		     "\"-h-\xc3\xa9-\"");
	CHECK_EQ_STR(eval(NULL, NULL, "x := strings.replace_n({}, \"abc\")"), "\"abc\"");
	struct rego_limits strict = { .strict_builtin_errors = true };
	CHECK_ERR(evalx(&strict, NULL, NULL, NULL, "x := strings.replace_n({\"a\": 1}, \"abc\")"),
		  "error: strings.replace_n: eval_builtin_error: operand 1 non-string value found in pattern object");
}

TEST(net_cidr_contains)
{
	/* address arithmetic only (UpdateRoutes/UpdateInterface checks) */
	CHECK_EQ_STR(eval(NULL, NULL, "x := net.cidr_contains(\"10.0.0.0/8\", \"10.1.2.3\")"),
		     "true");
	CHECK_EQ_STR(eval(NULL, NULL, "x := net.cidr_contains(\"10.0.0.0/8\", \"11.0.0.1\")"),
		     "false");
	CHECK_EQ_STR(eval(NULL, NULL,
			  "x := net.cidr_contains(\"192.168.0.0/23\", \"192.168.1.0/24\")"),
		     "true");
	CHECK_EQ_STR(eval(NULL, NULL,
			  "x := net.cidr_contains(\"192.168.1.0/24\", \"192.168.0.0/23\")"),
		     "false");
	CHECK_EQ_STR(eval(NULL, NULL,
			  "x := net.cidr_contains(\"192.168.1.0/25\", \"192.168.1.200\")"),
		     "false");
	CHECK_EQ_STR(eval(NULL, NULL, "x := net.cidr_contains(\"fd00::/8\", \"fd12::1\")"), "true");
	CHECK_EQ_STR(eval(NULL, NULL, "x := net.cidr_contains(\"0.0.0.0/0\", \"::1\")"),
		     "false"); /* families differ */
	CHECK_EQ_STR(eval(NULL, NULL, "x := net.cidr_contains(\"10.0.0.0/33\", \"10.0.0.1\")"),
		     "undefined");
	struct rego_limits strict = { .strict_builtin_errors = true };
	CHECK_ERR(evalx(&strict, NULL, NULL, NULL,
			"x := net.cidr_contains(\"10.0.0.1\", \"10.0.0.1\")"),
		  "error: net.cidr_contains: eval_builtin_error: invalid CIDR 10.0.0.1");
}

int main(void)
{
	return tap_run();
}
