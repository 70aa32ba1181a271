/* SPDX-License-Identifier: Apache-2.0 */
/* The strict TOML reader: what it accepts, and the file:line of what it refuses. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "toml.h"

static struct toml_value *parse(const char *text, struct kerr *err)
{
	struct toml_value *v = NULL;
	kerr_clear(err);
	if (toml_parse(text, strlen(text), "t.toml", &v, err) < 0)
		return NULL;
	return v;
}

/* Parsing must fail with exactly this message. */
#define CHECK_FAILS(text, expected)                       \
	do {                                              \
		struct kerr _e;                           \
		struct toml_value *_v = parse(text, &_e); \
		CHECK(_v == NULL);                        \
		toml_free(_v);                            \
		CHECK_EQ_STR(_e.msg, expected);           \
		CHECK_EQ_INT(_e.code, -EINVAL);           \
	} while (0)

TEST(upstream_sample)
{
	const char *text = "# This is an agent configuration file example.\n"
			   "dev_mode = true\n"
			   "server_addr = 'vsock://8:2048'\n"
			   "\n"
			   "[endpoints]\n"
			   "# All endpoints are allowed\n"
			   "allowed = [\n"
			   "        \"AddARPNeighborsRequest\",\n"
			   "        \"AddSwapRequest\",   # trailing comment\n"
			   "        \"WriteStreamRequest\"\n"
			   "]\n";
	struct kerr e;
	struct toml_value *root = parse(text, &e);
	REQUIRE(root != NULL);
	CHECK_EQ_INT(root->tab.n, 3);
	const struct toml_value *v = toml_table_get(root, "dev_mode");
	REQUIRE(v && v->type == TOML_BOOLEAN);
	CHECK(v->b);
	CHECK_EQ_INT(v->line, 2);
	v = toml_table_get(root, "server_addr");
	REQUIRE(v && v->type == TOML_STRING);
	CHECK_EQ_STR(v->str.s, "vsock://8:2048");
	const struct toml_value *ep = toml_table_get(root, "endpoints");
	REQUIRE(ep && ep->type == TOML_TABLE);
	CHECK(ep->header_defined);
	CHECK_EQ_INT(ep->line, 5);
	v = toml_table_get(ep, "allowed");
	REQUIRE(v && v->type == TOML_ARRAY);
	CHECK_EQ_INT(v->arr.n, 3);
	CHECK_EQ_STR(v->arr.items[1]->str.s, "AddSwapRequest");
	CHECK_EQ_INT(v->arr.items[1]->line, 9);
	CHECK_EQ_STR(v->arr.items[2]->str.s, "WriteStreamRequest");
	toml_free(root);
}

TEST(strings_and_escapes)
{
	struct kerr e;
	struct toml_value *root = parse("a = \"tab\\there \\\"q\\\" \\\\ \\u00e9\\U0001F600\"\n"
					"b = 'C:\\no\\escapes'\n"
					"c = \"\"\n"
					"\"quoted key\" = 1\n"
					"'lit key' = 2\n"
					"d = \"caf\xc3\xa9\"\r\n",
					&e);
	REQUIRE(root != NULL);
	CHECK_EQ_STR(toml_table_get(root, "a")->str.s,
		     "tab\there \"q\" \\ \xc3\xa9\xf0\x9f\x98\x80");
	CHECK_EQ_STR(toml_table_get(root, "b")->str.s, "C:\\no\\escapes");
	CHECK_EQ_STR(toml_table_get(root, "c")->str.s, "");
	CHECK_EQ_INT(toml_table_get(root, "quoted key")->i, 1);
	CHECK_EQ_INT(toml_table_get(root, "lit key")->i, 2);
	CHECK_EQ_STR(toml_table_get(root, "d")->str.s, "caf\xc3\xa9");
	toml_free(root);
}

TEST(integers_booleans)
{
	struct kerr e;
	struct toml_value *root = parse("a = 0\nb = -17\nc = +42\nd = 1_000\ne = 0x_ff\n"
					"f = 0xff\ng = 0o17\nh = 0b101\ni = 9223372036854775807\n"
					"j = -9223372036854775808\nk = true\nl = false\n",
					&e);
	/* 0x_ff is not valid TOML ('_' must sit between digits) */
	CHECK(root == NULL);
	CHECK_EQ_STR(e.msg, "t.toml:5: invalid integer \"0x_ff\": '_' must be between digits");
	toml_free(root);

	root = parse("a = 0\nb = -17\nc = +42\nd = 1_000\n"
		     "f = 0xff\ng = 0o17\nh = 0b101\ni = 9223372036854775807\n"
		     "j = -9223372036854775808\nk = true\nl = false\n",
		     &e);
	if (!root)
		printf("# %s\n", e.msg);
	REQUIRE(root != NULL);
	CHECK_EQ_INT(toml_table_get(root, "a")->i, 0);
	CHECK_EQ_INT(toml_table_get(root, "b")->i, -17);
	CHECK_EQ_INT(toml_table_get(root, "c")->i, 42);
	CHECK_EQ_INT(toml_table_get(root, "d")->i, 1000);
	CHECK_EQ_INT(toml_table_get(root, "f")->i, 255);
	CHECK_EQ_INT(toml_table_get(root, "g")->i, 15);
	CHECK_EQ_INT(toml_table_get(root, "h")->i, 5);
	CHECK(toml_table_get(root, "i")->i == INT64_MAX);
	CHECK(toml_table_get(root, "j")->i == INT64_MIN);
	CHECK(toml_table_get(root, "k")->b == true);
	CHECK(toml_table_get(root, "l")->b == false);
	toml_free(root);
}

TEST(arrays_and_inline_tables)
{
	struct kerr e;
	struct toml_value *root = parse("a = []\n"
					"b = [ 1, 2, 3, ]\n"
					"c = [\n  [\"x\"],\n  # comment\n  ['y', \"z\"],\n]\n"
					"d = { secs = 3, nanos = 500 }\n"
					"e = {}\n"
					"f = [1, \"mixed\", true]\n",
					&e);
	if (!root)
		printf("# %s\n", e.msg);
	REQUIRE(root != NULL);
	CHECK_EQ_INT(toml_table_get(root, "a")->arr.n, 0);
	CHECK_EQ_INT(toml_table_get(root, "b")->arr.n, 3);
	const struct toml_value *c = toml_table_get(root, "c");
	CHECK_EQ_INT(c->arr.n, 2);
	CHECK_EQ_STR(c->arr.items[1]->arr.items[1]->str.s, "z");
	CHECK_EQ_INT(c->arr.items[1]->line, 6);
	const struct toml_value *d = toml_table_get(root, "d");
	CHECK(d->type == TOML_TABLE && d->inline_table);
	CHECK_EQ_INT(toml_table_get(d, "secs")->i, 3);
	CHECK_EQ_INT(toml_table_get(d, "nanos")->i, 500);
	CHECK_EQ_INT(toml_table_get(root, "e")->tab.n, 0);
	CHECK_EQ_INT(toml_table_get(root, "f")->arr.n, 3);
	/* the key after a multi-line array is on the right line */
	CHECK_EQ_INT(d->line, 8);
	toml_free(root);
}

TEST(to_json)
{
	struct kerr e;
	struct toml_value *root = parse("x = 1\ny = \"s\"\n[t]\nz = [true, false]\n", &e);
	REQUIRE(root != NULL);
	json_t *j = toml_to_json(root);
	REQUIRE(j != NULL);
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	CHECK_EQ_STR(s, "{\"x\":1,\"y\":\"s\",\"t\":{\"z\":[true,false]}}");
	free(s);
	json_decref(j);
	toml_free(root);
}

TEST(errors_with_line_numbers)
{
	CHECK_FAILS("a = 1\n\nlog_level \"debug\"\n",
		    "t.toml:3: expected '=' after key \"log_level\"");
	CHECK_FAILS("a = 1\na = 2\n", "t.toml:2: duplicate key \"a\"");
	CHECK_FAILS("x = 1.5\n", "t.toml:1: floats are not supported (\"1.5\")");
	CHECK_FAILS("x = 1e3\n", "t.toml:1: floats are not supported (\"1e3\")");
	CHECK_FAILS("x = inf\n", "t.toml:1: floats are not supported (\"inf\")");
	CHECK_FAILS("x = -nan\n", "t.toml:1: floats are not supported (\"-nan\")");
	CHECK_FAILS("\nx = 1979-05-27\n",
		    "t.toml:2: dates and times are not supported (\"1979-05-27\")");
	CHECK_FAILS("x = 07:32:00\n", "t.toml:1: dates and times are not supported (\"07:32:00\")");
	CHECK_FAILS("x = \"\"\"multi\n\nline\n",
		    "t.toml:4: unterminated multi-line string (started on line 1)");
	CHECK_FAILS("\"\"\"k\"\"\" = 1\n", "t.toml:1: a key cannot be a multi-line string");
	CHECK_FAILS("a.b = 1\n", "t.toml:1: dotted keys are not supported (key \"a\")");
	CHECK_FAILS("[a.b]\n", "t.toml:1: dotted table names are not supported ([a...])");
	CHECK_FAILS("[[a]]\n", "t.toml:1: arrays of tables ([[...]]) are not supported");
	CHECK_FAILS("[a]\nx=1\n[a]\n", "t.toml:3: table [a] defined twice (first on line 1)");
	CHECK_FAILS("a = 1\n[a]\n", "t.toml:2: table [a] redefines key \"a\" from line 1");
	CHECK_FAILS("x = \"abc\n", "t.toml:1: unterminated string");
	CHECK_FAILS("x = \"a\\qb\"\n", "t.toml:1: invalid escape sequence '\\q' in string");
	CHECK_FAILS("x = \"\\u00\"\n", "t.toml:1: \\u escape needs 4 hex digits");
	CHECK_FAILS("x = \"\\uD800\"\n", "t.toml:1: escape \\uD800 is not a Unicode scalar value");
	CHECK_FAILS("x = \"\\u0000\"\n", "t.toml:1: NUL character (\\u escape) in string");
	CHECK_FAILS("x = yes\n", "t.toml:1: invalid value \"yes\" (strings must be quoted)");
	CHECK_FAILS("x =\n", "t.toml:1: expected a value");
	CHECK_FAILS("x = 1 2\n", "t.toml:1: expected end of line after value, found '2'");
	CHECK_FAILS("[t] x = 1\n", "t.toml:1: expected end of line after table header, found 'x'");
	CHECK_FAILS("x = 0123\n",
		    "t.toml:1: invalid integer \"0123\": leading zeros are not allowed");
	CHECK_FAILS("x = 1__0\n", "t.toml:1: invalid integer \"1__0\": '_' must be between digits");
	CHECK_FAILS("x = 9223372036854775808\n",
		    "t.toml:1: integer \"9223372036854775808\" is out of range");
	CHECK_FAILS("x = 12abc\n", "t.toml:1: invalid integer \"12abc\"");
	CHECK_FAILS("x = [1,\n2\n", "t.toml:3: unterminated array (started on line 1)");
	CHECK_FAILS("x = [1 2]\n", "t.toml:1: expected ',' or ']' in array, found '2'");
	CHECK_FAILS("x = [,]\n", "t.toml:1: expected a value, found ','");
	CHECK_FAILS("x = { a = 1,\n b = 2 }\n", "t.toml:1: inline tables must be on one line");
	CHECK_FAILS("x = { a = 1, }\n", "t.toml:1: trailing ',' is not allowed in an inline table");
	CHECK_FAILS("x = { a = 1, a = 2 }\n", "t.toml:1: duplicate key \"a\"");
	CHECK_FAILS("= 1\n", "t.toml:1: expected a key, found '='");
	CHECK_FAILS("a = 1\n\xff = 2\n", "t.toml:2: invalid UTF-8");
	CHECK_FAILS("a = \"\xc0\xaf\"\n", "t.toml:1: invalid UTF-8");
	CHECK_FAILS("a = \"x\ty\x01\"\n", "t.toml:1: control character 0x01 in string");
	CHECK_FAILS("a = 1\rb = 2\n", "t.toml:1: carriage return not followed by a newline");
}

TEST(nul_byte_and_nesting)
{
	struct kerr e;
	struct toml_value *v = NULL;
	CHECK(toml_parse("a = 1\n\0b = 2\n", 12, "n.toml", &v, &e) == -EINVAL);
	CHECK_EQ_STR(e.msg, "n.toml:2: NUL byte in file");

	char deep[80];
	strcpy(deep, "x = ");
	memset(deep + 4, '[', 60);
	strcpy(deep + 64, "\n");
	CHECK(toml_parse(deep, strlen(deep), "n.toml", &v, &e) == -EINVAL);
	CHECK_EQ_STR(e.msg, "n.toml:1: values nested too deeply");
}

TEST(empty_and_comments_only)
{
	struct kerr e;
	struct toml_value *root = parse("", &e);
	REQUIRE(root != NULL);
	CHECK_EQ_INT(root->tab.n, 0);
	toml_free(root);
	root = parse("# nothing\n   \n\t# more\n", &e);
	REQUIRE(root != NULL);
	CHECK_EQ_INT(root->tab.n, 0);
	toml_free(root);
	/* no final newline */
	root = parse("a = 'x'", &e);
	REQUIRE(root != NULL);
	CHECK_EQ_STR(toml_table_get(root, "a")->str.s, "x");
	toml_free(root);
}

TEST(parse_file)
{
	char dir[] = "/tmp/test_toml.XXXXXX";
	REQUIRE(mkdtemp(dir) != NULL);
	char path[256];
	snprintf(path, sizeof(path), "%s/agent.toml", dir);

	struct kerr e;
	struct toml_value *v = NULL;
	CHECK(toml_parse_file(path, &v, &e) == -ENOENT);
	char expected[300];
	snprintf(expected, sizeof(expected), "open %s: No such file or directory", path);
	CHECK_EQ_STR(e.msg, expected);

	FILE *f = fopen(path, "w");
	REQUIRE(f != NULL);
	fputs("a = 1\nb = [\n", f);
	fclose(f);
	CHECK(toml_parse_file(path, &v, &e) == -EINVAL);
	snprintf(expected, sizeof(expected), "%s:3: unterminated array (started on line 2)", path);
	CHECK_EQ_STR(e.msg, expected);

	CHECK(toml_parse_file(dir, &v, &e) == -EINVAL);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	return tap_run();
}
