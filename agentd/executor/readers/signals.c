/* SPDX-License-Identifier: Apache-2.0 */
/*
 * signals.c - see signals.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "signals.h"

/* A status file is about 1.5 KiB; its Groups line can take 700 KiB (65536
 * groups) before the signal masks: lines are taken one by one, the long
 * ones skipped, at most this much read in all. */
#define STATUS_READ_MAX (4u << 20)
#define LINE_MAX_LEN 256u

enum { HAVE_PPID = 1, HAVE_BLK = 2, HAVE_IGN = 4, HAVE_CGT = 8, HAVE_ALL = 15 };

static int parse_hex(const char *s, uint64_t *out)
{
	char *end;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 16);
	if (errno || end == s || (*end && *end != '\n'))
		return -1;
	*out = v;
	return 0;
}

static int parse_pid(const char *s, pid_t *out)
{
	char *end;
	while (*s == ' ' || *s == '\t')
		s++;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || (*end && *end != '\n') || v < 0 || v > INT32_MAX)
		return -1;
	*out = (pid_t)v;
	return 0;
}

/* One line (NUL-terminated, without its newline): 0, or -1 if a line we
 * want is malformed. */
static int take_line(const char *line, struct proc_sigmask *m, unsigned *have)
{
	static const struct {
		const char *key;
		unsigned bit;
	} keys[] = { { "PPid:", HAVE_PPID },
		     { "SigBlk:", HAVE_BLK },
		     { "SigIgn:", HAVE_IGN },
		     { "SigCgt:", HAVE_CGT } };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		size_t n = strlen(keys[i].key);
		if (strncmp(line, keys[i].key, n) != 0)
			continue;
		int r;
		switch (keys[i].bit) {
		case HAVE_PPID:
			r = parse_pid(line + n, &m->ppid);
			break;
		case HAVE_BLK:
			r = parse_hex(line + n, &m->blk);
			break;
		case HAVE_IGN:
			r = parse_hex(line + n, &m->ign);
			break;
		default:
			r = parse_hex(line + n, &m->cgt);
			break;
		}
		if (r < 0)
			return -1;
		*have |= keys[i].bit;
	}
	return 0;
}

/* A status text read line by line, in chunks of any size: the lines too
 * long to matter (Groups) are skipped. */
struct status_reader {
	struct proc_sigmask m;
	unsigned have;
	char line[LINE_MAX_LEN];
	size_t cur;
	bool skipping;
};

/* The line gathered so far is complete: -1 when it is one we want and it
 * is malformed (it stays in r->line). */
static int line_done(struct status_reader *r)
{
	r->line[r->cur] = '\0';
	bool bad = !r->skipping && take_line(r->line, &r->m, &r->have) < 0;
	r->cur = 0;
	r->skipping = false;
	return bad ? -1 : 0;
}

static int status_feed(struct status_reader *r, const char *p, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		if (p[k] == '\n') {
			if (line_done(r) < 0)
				return -1;
		} else if (r->cur + 1 < sizeof(r->line)) {
			r->line[r->cur++] = p[k];
		} else {
			r->skipping = true;
		}
	}
	return 0;
}

/* The end of the text: its last line counts without a newline too. */
static int status_end(struct status_reader *r)
{
	return r->cur || r->skipping ? line_done(r) : 0;
}

int proc_sigmask_parse(const char *text, size_t len, struct proc_sigmask *out)
{
	struct status_reader r = { 0 };
	if (status_feed(&r, text, len) < 0 || status_end(&r) < 0 || r.have != HAVE_ALL)
		return -EINVAL;
	*out = r.m;
	return 0;
}

/* Read pid's status (at most STATUS_READ_MAX bytes). */
static int read_status(const char *proc_root, pid_t pid, struct proc_sigmask *m, struct kerr *err)
{
	char path[64];
	snprintf(path, sizeof(path), "%s/%d/status", proc_root, (int)pid);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return kerr_set(err, -errno, "open %s: %s", path, strerror(errno));
	char buf[4096];
	size_t total = 0;
	struct status_reader sr = { 0 };
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return kerr_set(err, -errno, "read %s: %s", path, strerror(errno));
		if (r == 0)
			break;
		total += (size_t)r;
		if (total > STATUS_READ_MAX)
			return kerr_set(err, -EFBIG, "%s: longer than %u bytes", path,
					STATUS_READ_MAX);
		if (status_feed(&sr, buf, (size_t)r) < 0)
			return kerr_set(err, -EINVAL, "%s: malformed line \"%.40s\"", path,
					sr.line);
	}
	if (status_end(&sr) < 0)
		return kerr_set(err, -EINVAL, "%s: malformed line \"%.40s\"", path, sr.line);
	if (sr.have != HAVE_ALL)
		return kerr_set(err, -EINVAL, "%s: no PPid/SigBlk/SigIgn/SigCgt lines", path);
	*m = sr.m;
	return 0;
}

int proc_signal_handled(const char *proc_root, pid_t pid, pid_t parent, unsigned sig,
			struct kerr *err)
{
	struct proc_sigmask m;
	if (sig < 1 || sig > 64)
		return kerr_set(err, -EINVAL, "signal %u out of 1..64", sig);
	int r = read_status(proc_root, pid, &m, err);
	if (r < 0)
		return r;
	if (m.ppid != parent)
		return kerr_set(err, -ESRCH,
				"pid %d is no longer the container's process (its parent is %d, "
				"not the monitor %d)",
				(int)pid, (int)m.ppid, (int)parent);
	uint64_t bit = 1ull << (sig - 1);
	return ((m.blk | m.ign | m.cgt) & bit) ? 1 : 0;
}
