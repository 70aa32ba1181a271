/* SPDX-License-Identifier: Apache-2.0 */
/* sbuf.h - a growable string in an arena (internal to agentd/policy/rego). */
#ifndef KATA_REGO_SBUF_H
#define KATA_REGO_SBUF_H

#include <stdarg.h>
#include <string.h>

#include "rv.h"

struct sbuf {
	struct arena *a;
	char *s;
	size_t n, cap;
};

void sb_putn(struct sbuf *b, const char *s, size_t n);
static inline void sb_puts(struct sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}
static inline void sb_putc(struct sbuf *b, char c)
{
	sb_putn(b, &c, 1);
}
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The NUL-terminated text (never NULL). */
char *sb_str(struct sbuf *b);
/* Compact JSON of v (sets as arrays, as OPA prints them). */
void sb_json(struct sbuf *b, const struct rv *v);

#endif
