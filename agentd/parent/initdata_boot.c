/* SPDX-License-Identifier: Apache-2.0 */
/* initdata_boot.c - see initdata_boot.h. */
#include "initdata_boot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base64.h"
#include "cleanup.h"
#include "initdata.h"
#include "log.h"

/* The device to read: the given path, or the one found in dev_dir.
 * Returns an open fd, -ENOENT when there is none, or an error. */
static int open_device(const char *given, const char *dev_dir, char *path, size_t len,
		       struct kerr *err)
{
	/* O_NONBLOCK: a fifo given by mistake is refused below, not waited on */
	int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
	if (given) {
		snprintf(path, len, "%s", given);
	} else {
		int r = initdata_find_device(dev_dir, path, len, err);
		if (r <= 0)
			return r < 0 ? r : -ENOENT;
		flags |= O_NOFOLLOW; /* the scan looked at this entry, not a link */
	}
	cleanup_close int fd = open(path, flags);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return kerr_set(err, -errno, "initdata: %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return kerr_set(err, -EINVAL, "initdata: %s is neither a block device nor a file",
				path);
	return take_fd(&fd);
}

static void log_read(const char *path, const struct initdata *d, int policy_fd)
{
	cleanup_free char *digest = base64_encode(d->digest, d->digest_len);
	char files[128];
	snprintf(files, sizeof(files), INITDATA_TOML_NAME "%s%s",
		 initdata_get(d, INITDATA_AA_NAME) ? ", " INITDATA_AA_NAME : "",
		 initdata_get(d, INITDATA_CDH_NAME) ? ", " INITDATA_CDH_NAME : "");
	json_t *f = json_pack("{s:s,s:s,s:s,s:s}", "initdata-device", path, "version", d->version,
			      "algorithm", d->algorithm, "digest", digest ? digest : "");
	log_fields(LOG_LVL_INFO, f,
		   "initdata from %s (version %s, %s): wrote %s in " INITDATA_DIR "%s", path,
		   d->version, d->algorithm, files,
		   policy_fd >= 0 ? "; policy.rego kept in memory for the policy" : "");
}

/* "initdata: X" becomes "initdata: PATH: X", so the line names the device. */
static int name_device(struct kerr *err, const char *path)
{
	char msg[KERR_MSG_MAX];
	const char *rest = err->msg;
	if (strncmp(rest, "initdata: ", 10) == 0)
		rest += 10;
	snprintf(msg, sizeof(msg), "%s", rest);
	return kerr_set(err, err->code, "initdata: %s: %s", path, msg);
}

int initdata_boot(const char *given, const char *dev_dir, struct initdata_boot *out,
		  struct kerr *err)
{
	*out = (struct initdata_boot){ .present = false, .policy_fd = -1 };
	char path[PATH_MAX];
	cleanup_close int fd = open_device(given, dev_dir, path, sizeof(path), err);
	if (fd == -ENOENT && !given) {
		log_info("no initdata device in %s: nothing to set up from initdata", dev_dir);
		return 0;
	}
	if (fd < 0)
		return fd;
	struct initdata *d = NULL;
	int r = initdata_read_fd(fd, &d, err);
	if (r < 0)
		return name_device(err, path);
	r = initdata_write(d, INITDATA_DIR, err);
	int policy_fd = r < 0 ? r : initdata_policy_memfd(d, err);
	if (r >= 0 && policy_fd < 0 && policy_fd != -ENOENT)
		r = policy_fd;
	if (r >= 0) {
		log_read(path, d, policy_fd);
		out->present = true;
		out->policy_fd = policy_fd < 0 ? -1 : policy_fd;
	}
	initdata_free(d);
	return r < 0 ? r : 0;
}

void initdata_boot_release(struct initdata_boot *b)
{
	if (b->policy_fd >= 0)
		close(b->policy_fd);
	b->policy_fd = -1;
}
