/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_htab.c - the hash table of common/htab.h: every entry found by its
 * key across the table's growth, none found after its removal, neighbours
 * of a removed entry still found (chains relinked), ids that differ in
 * their last byte told apart, and an emptied, freed table usable again.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "tap.h"

#define N 5000

struct ent {
	char id[32];
	int pid;
	struct hnode by_id, by_pid;
};

static struct ent *make(void)
{
	struct ent *e = calloc(N, sizeof(*e));
	for (int i = 0; e && i < N; i++) {
		snprintf(e[i].id, sizeof(e[i].id), "container-%d", i);
		e[i].pid = 1000 + 7 * i;
	}
	return e;
}

static struct ent *by_id(struct htab *t, const char *id)
{
	struct hnode *n = htab_find_str(t, id);
	return n ? htab_entry(n, struct ent, by_id) : NULL;
}

static struct ent *by_pid(struct htab *t, int pid)
{
	struct hnode *n = htab_find_int(t, (uint64_t)pid);
	return n ? htab_entry(n, struct ent, by_pid) : NULL;
}

TEST(empty_table_finds_nothing)
{
	struct htab t = { 0 };
	CHECK(htab_find_str(&t, "x") == NULL);
	CHECK(htab_find_int(&t, 1) == NULL);
	struct hnode n = { 0 };
	htab_del(&t, &n); /* not there: nothing happens */
	CHECK_EQ_INT(t.n, 0);
	htab_free(&t);
}

TEST(every_entry_found_across_growth)
{
	struct ent *e = make();
	REQUIRE(e != NULL);
	struct htab ids = { 0 }, pids = { 0 };
	int added = 0;
	for (int i = 0; i < N; i++)
		added += htab_add_str(&ids, &e[i].by_id, e[i].id) == 0 &&
			 htab_add_int(&pids, &e[i].by_pid, (uint64_t)e[i].pid) == 0;
	CHECK_EQ_INT(added, N);
	CHECK_EQ_INT(ids.n, N);
	/* Grown so that chains stay short: at least as many slots as entries. */
	CHECK(ids.cap >= N && (ids.cap & (ids.cap - 1)) == 0);
	int found = 0;
	for (int i = 0; i < N; i++)
		found += by_id(&ids, e[i].id) == &e[i] && by_pid(&pids, e[i].pid) == &e[i];
	CHECK_EQ_INT(found, N);
	CHECK(by_id(&ids, "container-") == NULL);
	CHECK(by_id(&ids, "container-50000") == NULL);
	CHECK(by_pid(&pids, 1001) == NULL); /* between two keys */
	htab_free(&ids);
	htab_free(&pids);
	free(e);
}

TEST(removed_entries_gone_the_rest_found)
{
	struct ent *e = make();
	REQUIRE(e != NULL);
	struct htab ids = { 0 }, pids = { 0 };
	for (int i = 0; i < N; i++) {
		htab_add_str(&ids, &e[i].by_id, e[i].id);
		htab_add_int(&pids, &e[i].by_pid, (uint64_t)e[i].pid);
	}
	for (int i = 0; i < N; i += 2) {
		htab_del(&ids, &e[i].by_id);
		htab_del(&pids, &e[i].by_pid);
	}
	CHECK_EQ_INT(ids.n, N / 2);
	CHECK_EQ_INT(pids.n, N / 2);
	int right = 0;
	for (int i = 0; i < N; i++) {
		bool kept = i % 2;
		right += (by_id(&ids, e[i].id) == (kept ? &e[i] : NULL)) &&
			 (by_pid(&pids, e[i].pid) == (kept ? &e[i] : NULL));
	}
	CHECK_EQ_INT(right, N);
	/* Removing twice changes nothing. */
	htab_del(&ids, &e[0].by_id);
	CHECK_EQ_INT(ids.n, N / 2);
	htab_free(&ids);
	htab_free(&pids);
	free(e);
}

TEST(keys_that_differ_in_one_byte)
{
	struct ent a = { .id = "abc" }, b = { .id = "abd" }, c = { .id = "ab" };
	struct htab t = { 0 };
	CHECK_EQ_INT(htab_add_str(&t, &a.by_id, a.id), 0);
	CHECK_EQ_INT(htab_add_str(&t, &b.by_id, b.id), 0);
	CHECK_EQ_INT(htab_add_str(&t, &c.by_id, c.id), 0);
	CHECK(by_id(&t, "abc") == &a);
	CHECK(by_id(&t, "abd") == &b);
	CHECK(by_id(&t, "ab") == &c);
	CHECK(by_id(&t, "a") == NULL);
	CHECK(by_id(&t, "abcd") == NULL);
	htab_free(&t);
}

TEST(freed_table_is_usable_again)
{
	struct ent a = { .id = "x", .pid = 42 };
	struct htab t = { 0 };
	htab_add_int(&t, &a.by_pid, 42);
	htab_free(&t);
	CHECK(t.cap == 0 && t.n == 0 && t.slot == NULL);
	CHECK(by_pid(&t, 42) == NULL);
	CHECK_EQ_INT(htab_add_int(&t, &a.by_pid, 42), 0);
	CHECK(by_pid(&t, 42) == &a);
	htab_free(&t);
}

int main(void)
{
	return tap_run();
}
