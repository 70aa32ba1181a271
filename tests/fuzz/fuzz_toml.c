/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_toml.c - libFuzzer target for the TOML reader of the config file
 * (common/toml.c): toml_parse() on the input, then what its users do with a
 * tree (toml_table_get, toml_to_json), checking what toml.h promises of
 * every accepted tree: strings are NUL-free UTF-8 of their recorded
 * length, keys are unique per table, lines are positive, and a failure
 * always says where ("<name>:<line>: ...") and leaves no tree.
 *
 * Seeds: upstream's sample config (src/agent/samples/
 * configuration-all-endpoints.toml, shortened as in doc/options.md), every
 * construct toml.h lists, and refused ones.
 */
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "runtime_requests.h"
#include "toml.h"

static bool utf8_valid(const char *s, size_t n)
{
	json_t *j = json_stringn(s, n); /* jansson checks UTF-8 */
	bool ok = j != NULL;
	json_decref(j);
	return ok;
}

static void walk(const struct toml_value *v, int depth)
{
	FUZZ_ASSERT(v->line >= 1, "value without a line (%d)", v->line);
	FUZZ_ASSERT(depth < 10000, "tree deeper than any input could make");
	switch (v->type) {
	case TOML_STRING:
		FUZZ_ASSERT(strlen(v->str.s) == v->str.len, "string with a NUL inside");
		FUZZ_ASSERT(utf8_valid(v->str.s, v->str.len), "string not UTF-8");
		break;
	case TOML_INTEGER:
	case TOML_BOOLEAN:
		break;
	case TOML_ARRAY:
		for (size_t i = 0; i < v->arr.n; i++)
			walk(v->arr.items[i], depth + 1);
		break;
	case TOML_TABLE:
		for (size_t i = 0; i < v->tab.n; i++) {
			const struct toml_kv *kv = &v->tab.kv[i];
			FUZZ_ASSERT(utf8_valid(kv->key, strlen(kv->key)), "key not UTF-8");
			FUZZ_ASSERT(toml_table_get(v, kv->key) == kv->value,
				    "key \"%s\" twice in one table", kv->key);
			walk(kv->value, depth + 1);
		}
		break;
	default:
		FUZZ_ASSERT(0, "unknown value type %d", v->type);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toml_value *root = (void *)1;
	struct kerr err = { 0 };
	int r = toml_parse((const char *)data, size, "fuzz.toml", &root, &err);
	if (r < 0) {
		FUZZ_ASSERT(root == NULL, "a failed parse left a tree");
		FUZZ_ASSERT(strncmp(err.msg, "fuzz.toml:", 10) == 0,
			    "error without file and line: %s", err.msg);
		return 0;
	}
	FUZZ_ASSERT(root && root->type == TOML_TABLE, "root is not a table");
	walk(root, 0);
	json_t *j = toml_to_json(root);
	FUZZ_ASSERT(j && json_is_object(j), "toml_to_json failed");
	char *text = json_dumps(j, JSON_COMPACT);
	FUZZ_ASSERT(text, "the JSON of the tree does not serialise");
	free(text);
	json_decref(j);
	toml_free(root);
	return 0;
}

void fuzz_write_seeds(void)
{
	static const struct fuzz_text_seed seeds[] = {
		{ "upstream-sample", UPSTREAM_CONFIG_SAMPLE },
		{ "integers",
		  "a = 1_000\nb = 0x7fff_ffff\nc = 0o755\nd = 0b1010\ne = -9223372036854775808\n"
		  "f = +12\n" },
		{ "strings", "\"quoted key\" = \"tab\\t nl\\n u\\u00e9 U\\U0001F600 q\\\" bs\\\\\"\n"
			     "'lit key' = 'C:\\no\\escape'\nbare-key_1 = \"\"\n" },
		{ "arrays",
		  "a = [ 1, 2, [ \"x\", 'y' ], [], { k = true } ]\nb = [\n# c\n  1,\n  2,\n]\n" },
		{ "tables",
		  "top = 1\n[one]\nx = 1\n[\"two words\"]\ny = { a = 1, b = { c = 2 } }\n" },
		{ "refused-float", "a = 1.5\n" },
		{ "refused-dotted", "a.b = 1\n[x.y]\n" },
		{ "refused-dup", "a = 1\na = 2\n[t]\n[t]\n" },
		{ "refused-multiline", "a = \"\"\"\nx\"\"\"\n" },
		{ "refused-table-array", "[[a]]\nb = 1\n" },
		{ "refused-date", "d = 1979-05-27T07:32:00Z\n" },
		{ "crlf", "a = 1\r\nb = 'x'\r\n" },
	};
	fuzz_seed_texts(seeds, sizeof(seeds) / sizeof(seeds[0]));
}
