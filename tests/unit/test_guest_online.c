/* SPDX-License-Identifier: Apache-2.0 */
/* guest_online_dir on a fake sysfs tree: which entries are brought online. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest_online.h"
#include "tap.h"
#include "testutil.h"

static char root[64];

static void put(const char *entry, const char *val)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", root, entry);
	mkdir(p, 0755);
	if (val) {
		snprintf(p, sizeof(p), "%s/online", entry);
		tu_put_file(root, p, val);
	}
}

static char get(const char *entry)
{
	char p[256], c = '?';
	snprintf(p, sizeof(p), "%s/%s/online", root, entry);
	FILE *f = fopen(p, "r");
	if (f) {
		c = (char)fgetc(f);
		fclose(f);
	}
	return c;
}

static void cleanup(void)
{
	if (tu_rm_rf(root) < 0)
		fprintf(stderr, "cleanup of %s failed\n", root);
}

static void make_tree(void)
{
	cleanup();
	snprintf(root, sizeof(root), "/tmp/guest-online.XXXXXX");
	if (!mkdtemp(root))
		abort();
	put("cpu0", NULL); /* no online file: cannot go offline */
	put("cpu1", "0\n");
	put("cpu2", "1\n");
	put("cpu3", "0\n");
	put("cpufreq", "0\n"); /* not cpu<digits> */
	put("cpux1", "0\n");
}

TEST(offline_entries_come_online)
{
	make_tree();
	struct kerr err = { 0 };
	CHECK_EQ_INT(guest_online_dir(root, "cpu", -1, &err), 2);
	CHECK(get("cpu1") == '1' && get("cpu3") == '1' && get("cpu2") == '1');
	CHECK(get("cpufreq") == '0' && get("cpux1") == '0');
	CHECK_EQ_INT(guest_online_dir(root, "cpu", -1, &err), 0);
	cleanup();
}

TEST(at_most_max)
{
	make_tree();
	struct kerr err = { 0 };
	CHECK_EQ_INT(guest_online_dir(root, "cpu", 1, &err), 1);
	CHECK((get("cpu1") == '1') != (get("cpu3") == '1'));
	CHECK_EQ_INT(guest_online_dir(root, "cpu", 0, &err), 0);
	cleanup();
}

TEST(missing_dir_is_an_error)
{
	struct kerr err = { 0 };
	CHECK(guest_online_dir("/nonexistent/sysfs", "cpu", -1, &err) < 0);
	CHECK(strstr(err.msg, "/nonexistent/sysfs") != NULL);
}

int main(void)
{
	atexit(cleanup);
	return tap_run();
}
