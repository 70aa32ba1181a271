/* SPDX-License-Identifier: Apache-2.0 */
/*
 * guest_online.c - see guest_online.h. Upstream (sandbox.rs
 * online_resources) does the same scan: cpu<N>/online and
 * memory<N>/online, "0" -> "1".
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "grpc_status.h"
#include "guest_online.h"
#include "log.h"

static bool matches(const char *name, const char *prefix)
{
	size_t l = strlen(prefix);
	if (strncmp(name, prefix, l) != 0 || !name[l])
		return false;
	for (const char *p = name + l; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

int guest_online_dir(const char *dir, const char *prefix, int max, struct kerr *err)
{
	DIR *d = opendir(dir);
	if (!d)
		return kerr_set_status(err, GRPC_INTERNAL, -errno, "open %s: %s", dir,
				       strerror(errno));
	int n = 0;
	struct dirent *de;
	while ((max < 0 || n < max) && (de = readdir(d))) {
		if (!matches(de->d_name, prefix))
			continue;
		char path[512];
		snprintf(path, sizeof(path), "%s/%s/online", dir, de->d_name);
		cleanup_close int fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue; /* e.g. cpu0, which cannot go offline */
		char c = 0;
		if (pread(fd, &c, 1, 0) != 1 || c != '0')
			continue;
		if (pwrite(fd, "1", 1, 0) != 1) {
			log_warn("online %s: %s", path, strerror(errno));
			continue;
		}
		log_info("%s/%s is online", dir, de->d_name);
		n++;
	}
	closedir(d);
	return n;
}
