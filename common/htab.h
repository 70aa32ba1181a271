/* SPDX-License-Identifier: Apache-2.0 */
/*
 * htab.h - a small hash table of caller-owned entries, keyed by a string
 * or by an integer, for the lookups a request makes by container id or a
 * reaped pid (the executor's containers, the front-end's monitor
 * channels): O(1) where a list walk was O(n) at 1000 containers.
 *
 * Intrusive: an entry embeds a struct hnode and is found back with
 * htab_entry(); the table never allocates or frees entries, only its slot
 * array. Keys are unique per table (the caller checks before adding); a
 * string key is the caller's (usually a field of the entry) and must not
 * change while the entry is in the table. One table holds one key kind.
 *
 * Offers: htab_add_str(), htab_add_int(), htab_find_str(), htab_find_int(),
 * htab_del(), htab_free().
 */
#ifndef KATA_COMMON_HTAB_H
#define KATA_COMMON_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct hnode {
	struct hnode *next;
	const char *skey; /* NULL: the key is ikey */
	uint64_t ikey;
	uint64_t hash;
};

/* Zero-initialised: empty (no slots until the first add). */
struct htab {
	struct hnode **slot;
	size_t cap; /* a power of two, or 0 */
	size_t n;
};

#define htab_entry(node, type, member) ((type *)((char *)(node)-offsetof(type, member)))

/* Add n under key (the table keeps the pointer, not a copy). 0, or -ENOMEM
 * when the table has no slots at all; a table that cannot grow keeps
 * working with longer chains. */
int htab_add_str(struct htab *t, struct hnode *n, const char *key);
int htab_add_int(struct htab *t, struct hnode *n, uint64_t key);

/* The entry with that key, or NULL. */
struct hnode *htab_find_str(const struct htab *t, const char *key);
struct hnode *htab_find_int(const struct htab *t, uint64_t key);

/* Take n out of t; nothing if it is not there. */
void htab_del(struct htab *t, struct hnode *n);

/* Free the slot array (not the entries); t is empty again. */
void htab_free(struct htab *t);

#endif
