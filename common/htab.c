/* SPDX-License-Identifier: Apache-2.0 */
/*
 * htab.c - the hash table of htab.h: separate chaining, a power-of-two
 * slot array doubled when the table holds more entries than slots (so a
 * chain stays about one entry long), each node's hash kept so that growing
 * rehashes nothing. Strings hash with FNV-1a, integers with splitmix64's
 * finaliser (pids are dense: their low bits alone would do, ids are not).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"

#define HTAB_MIN_CAP 16u

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static uint64_t hash_int(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void link_node(struct hnode **slot, size_t cap, struct hnode *n)
{
	struct hnode **head = &slot[n->hash & (cap - 1)];
	n->next = *head;
	*head = n;
}

/* Double the slot array (or make the first); on ENOMEM keep the old one. */
static int grow(struct htab *t)
{
	size_t cap = t->cap ? t->cap * 2 : HTAB_MIN_CAP;
	struct hnode **slot = calloc(cap, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		for (struct hnode *n = t->slot[i], *next; n; n = next) {
			next = n->next;
			link_node(slot, cap, n);
		}
	free(t->slot);
	t->slot = slot;
	t->cap = cap;
	return 0;
}

static int add(struct htab *t, struct hnode *n)
{
	if (t->n >= t->cap && grow(t) < 0 && !t->cap)
		return -ENOMEM;
	link_node(t->slot, t->cap, n);
	t->n++;
	return 0;
}

int htab_add_str(struct htab *t, struct hnode *n, const char *key)
{
	n->skey = key;
	n->ikey = 0;
	n->hash = hash_str(key);
	return add(t, n);
}

int htab_add_int(struct htab *t, struct hnode *n, uint64_t key)
{
	n->skey = NULL;
	n->ikey = key;
	n->hash = hash_int(key);
	return add(t, n);
}

struct hnode *htab_find_str(const struct htab *t, const char *key)
{
	if (!t->cap)
		return NULL;
	uint64_t h = hash_str(key);
	for (struct hnode *n = t->slot[h & (t->cap - 1)]; n; n = n->next)
		if (n->hash == h && n->skey && strcmp(n->skey, key) == 0)
			return n;
	return NULL;
}

struct hnode *htab_find_int(const struct htab *t, uint64_t key)
{
	if (!t->cap)
		return NULL;
	uint64_t h = hash_int(key);
	for (struct hnode *n = t->slot[h & (t->cap - 1)]; n; n = n->next)
		if (n->hash == h && !n->skey && n->ikey == key)
			return n;
	return NULL;
}

void htab_del(struct htab *t, struct hnode *n)
{
	if (!t->cap)
		return;
	for (struct hnode **pp = &t->slot[n->hash & (t->cap - 1)]; *pp; pp = &(*pp)->next)
		if (*pp == n) {
			*pp = n->next;
			n->next = NULL;
			t->n--;
			return;
		}
}

void htab_free(struct htab *t)
{
	free(t->slot);
	*t = (struct htab){ 0 };
}
