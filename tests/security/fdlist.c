/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fdlist.c - what a hook or helper of the agent inherits: writes the fds
 * this process holds, "N TARGET" per line (its own /proc/self/fd
 * directory left out), to OUT. Built by tests/security/hooks.sh and used
 * as a hook and as a fake modprobe; a shell would add fds of its own
 * (dash keeps a saved copy of a redirected fd).
 *
 *   fdlist OUT [ARGS...]      (ARGS ignored: modprobe's)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char lines[64][320];
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (argc < 2 || !d)
		return 2;
	for (struct dirent *e; (e = readdir(d)) && n < 64;) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		char p[300], t[256] = "";
		snprintf(p, sizeof(p), "/proc/self/fd/%s", e->d_name);
		ssize_t l = readlink(p, t, sizeof(t) - 1);
		t[l > 0 ? l : 0] = '\0';
		snprintf(lines[n++], sizeof(lines[0]), "%s %s", e->d_name, t);
	}
	closedir(d);
	FILE *o = fopen(argv[1], "we");
	if (!o)
		return 3;
	for (int i = 0; i < n; i++)
		fprintf(o, "%s\n", lines[i]);
	return fclose(o) ? 4 : 0;
}
