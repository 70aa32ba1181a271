/* SPDX-License-Identifier: Apache-2.0 */
/*
 * builtins.h - helpers shared by the builtin files (internal to
 * agentd/policy/rego): OPA's argument errors, UTF-8 indexing, and the
 * second table (builtins_ext.c) builtin_find falls back to.
 */
#ifndef KATA_REGO_BUILTINS_H
#define KATA_REGO_BUILTINS_H

#include "engine.h"

/* "<name>: eval_builtin_error: operand <i+1> must be <want> but got <type>" */
int type_err(struct ectx *c, const char *name, int i, const char *want, const struct rv *got);

#define NEED(i, type, want)                                         \
	do {                                                        \
		if (args[i]->t != (type))                           \
			return type_err(c, NAME, i, want, args[i]); \
	} while (0)

/* Code points of s[0..n). */
size_t utf8_len(const char *s, size_t n);
/* First occurrence of needle in hay at or after byte from; NULL if none. */
const char *memmem_s(const struct rv *hay, size_t from, const struct rv *needle);

const struct builtin *builtin_find_ext(const char *name);

#endif
