/* SPDX-License-Identifier: Apache-2.0 */
/*
 * toml.h - a small, strict TOML reader for the agent's config file
 * (the upstream agent's AgentConfig format) and the initdata document
 * (common/initdata.h), which the host supplies: bounded nesting, no
 * recursion on string content.
 *
 * Supported: comments, bare and quoted keys, basic strings (with escapes)
 * and literal strings, multi-line basic (""" with line-ending backslashes)
 * and literal (''') strings, integers (decimal, 0x, 0o, 0b, with '_'),
 * booleans, arrays (multi-line, trailing comma, comments inside), one-line
 * inline tables ({ secs = 3, nanos = 0 }, the serde form of a duration) and
 * [table] headers.
 *
 * Refused with "<file>:<line>: <problem>": floats, dates and times, dotted
 * keys, dotted table names, arrays of tables, duplicate keys, redefined
 * tables, invalid UTF-8, and anything else that is not in the list above. Every value remembers its line so callers can
 * report semantic errors (wrong type, bad value) at the right place.
 *
 * Offers: struct toml_value, toml_parse(), toml_parse_file(), toml_free(),
 *         toml_table_get(), toml_type_name(), toml_to_json().
 */
#ifndef KATA_COMMON_TOML_H
#define KATA_COMMON_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"

/* The largest config file we read; the agent's is a few hundred bytes. */
#define TOML_MAX_FILE_SIZE (1024 * 1024)

enum toml_type {
	TOML_STRING = 1,
	TOML_INTEGER,
	TOML_BOOLEAN,
	TOML_ARRAY,
	TOML_TABLE,
};

struct toml_value;

struct toml_kv {
	char *key;
	struct toml_value *value;
};

struct toml_value {
	enum toml_type type;
	int line;            /* 1-based line where the value (or table header) starts */
	bool inline_table;   /* TOML_TABLE written as { ... } */
	bool header_defined; /* TOML_TABLE opened by a [header] */
	union {
		struct {
			char *s; /* NUL-terminated, valid UTF-8, no NUL inside */
			size_t len;
		} str;
		int64_t i;
		bool b;
		struct {
			struct toml_value **items;
			size_t n;
		} arr;
		struct {
			struct toml_kv *kv; /* in file order */
			size_t n;
		} tab;
	};
};

/* Parse text (len bytes, need not be NUL-terminated). name is used in error
 * messages ("<name>:<line>: ..."). On success *out is the root table. */
int toml_parse(const char *text, size_t len, const char *name, struct toml_value **out,
	       struct kerr *err);
/* Read path (at most TOML_MAX_FILE_SIZE bytes) and parse it. */
int toml_parse_file(const char *path, struct toml_value **out, struct kerr *err);
void toml_free(struct toml_value *v);

/* The value for key in table t, or NULL. */
const struct toml_value *toml_table_get(const struct toml_value *t, const char *key);
/* "string", "integer", "boolean", "array", "table". */
const char *toml_type_name(enum toml_type type);
/* The same tree as JSON (objects keep file order); NULL on allocation failure. */
json_t *toml_to_json(const struct toml_value *v);

#endif
