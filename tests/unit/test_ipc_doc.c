/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ipc_doc - the docs against the declaration (common/ipc_messages.def),
 * so they cannot drift:
 *
 *  - doc/ipc.md's message table has one row per declared message, with its
 *    number, its senders and receivers, its payload (the struct and its
 *    size, the protobuf message, bytes, or none; "big" when a memfd may
 *    carry it), its fds and its reply;
 *  - doc/security.md's "what it accepts" lists, one per receiving process
 *    and sending peer (marked <!-- ipc-accepts RECEIVER SENDER -->), name
 *    exactly the messages that flow that way: a request from its sender to
 *    its receiver, a reply back the way its requests came (ERROR: back on
 *    every request's way).
 *
 * Usage: test_ipc_doc TOP (the source tree: its doc/ipc.md, doc/security.md)
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "tap.h"

static char ipc_md[4096], security_md[4096];

/* The docs' names of the roles. */
static const char *const role_doc[IPC_ROLE_COUNT] = {
	[IPC_ROLE_PARENT] = "parent",     [IPC_ROLE_FRONTEND] = "front-end",
	[IPC_ROLE_EXECUTOR] = "executor", [IPC_ROLE_MONITOR] = "monitor",
	[IPC_ROLE_LAUNCHER] = "launcher", [IPC_ROLE_SPAWNER] = "spawner",
	[IPC_ROLE_POLICY] = "policy",     [IPC_ROLE_TEST] = "tests",
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len < 2) {
			char *b = realloc(buf, cap *= 2);
			if (!b) {
				free(buf);
				buf = NULL;
			}
			buf = b;
		}
	}
	fclose(f);
	if (buf)
		buf[len] = '\0';
	return buf;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* A role mask from "a / b / c" (a parenthesised note is ignored). */
static int roles_of(char *text, unsigned *mask)
{
	char *paren = strchr(text, '(');
	if (paren)
		*paren = '\0';
	*mask = 0;
	char *save = NULL;
	for (char *tok = strtok_r(text, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		tok = trim(tok);
		int r = -1;
		for (int i = 0; i < IPC_ROLE_COUNT; i++)
			if (role_doc[i] && strcmp(tok, role_doc[i]) == 0)
				r = i;
		if (r < 0) {
			printf("# unknown role \"%s\"\n", tok);
			return -1;
		}
		*mask |= IPC_ROLE_BIT(r);
	}
	return 0;
}

static int contains(const char *cell, const char *what, const char *name, const char *col)
{
	if (strstr(cell, what))
		return 1;
	printf("# %s: the %s cell \"%s\" lacks \"%s\"\n", name, col, cell, what);
	return 0;
}

/* The payload cell says what the declaration says. */
static int payload_ok(const struct ipc_type_desc *d, const char *cell)
{
	char want[160];
	int ok = 1;
	switch (d->kind) {
	case IPC_PAYLOAD_NONE:
		return contains(cell, "none (0)", d->name, "payload");
	case IPC_PAYLOAD_FIXED:
	case IPC_PAYLOAD_FIXED_TAIL:
		/* `struct ipc_x` or `struct ipc_x { fields }` */
		snprintf(want, sizeof(want), "`struct %s", d->struct_name);
		const char *at = strstr(cell, want);
		if (!at || (at[strlen(want)] != '`' && at[strlen(want)] != ' ')) {
			printf("# %s: the payload cell \"%s\" lacks \"%s`\"\n", d->name, cell,
			       want);
			ok = 0;
		}
		if (d->kind == IPC_PAYLOAD_FIXED_TAIL)
			break;
		/* its size: "(8)", or "(8; a note)" */
		char size[2][24];
		snprintf(size[0], sizeof(size[0]), "(%u)", d->min_len);
		snprintf(size[1], sizeof(size[1]), "(%u;", d->min_len);
		if (!strstr(cell, size[0]) && !strstr(cell, size[1])) {
			printf("# %s: the payload cell \"%s\" lacks its size %s\n", d->name, cell,
			       size[0]);
			ok = 0;
		}
		break;
	case IPC_PAYLOAD_BYTES:
		ok &= contains(cell, "bytes", d->name, "payload");
		break;
	case IPC_PAYLOAD_PROTOBUF:
		snprintf(want, sizeof(want), "protobuf `%s`", ipc_type_pb(d)->name);
		ok &= contains(cell, want, d->name, "payload");
		break;
	}
	if (d->big != (strstr(cell, "big") != NULL)) {
		printf("# %s: the payload cell says%s big, the declaration%s\n", d->name,
		       d->big ? " not" : "", d->big ? " does" : " does not");
		ok = 0;
	}
	return ok;
}

static int fds_ok(const struct ipc_type_desc *d, const char *cell)
{
	static const char *const want[] = {
		[IPC_FD_NONE] = "none",
		[IPC_FD_REQUIRED] = "**1**",
		[IPC_FD_PROCESS] = "**2 to 4**",
		[IPC_FD_THREE] = "**3**",
	};
	if (strncmp(cell, want[d->fd], strlen(want[d->fd])) == 0)
		return 1;
	printf("# %s: the fd cell \"%s\" does not start with \"%s\"\n", d->name, cell, want[d->fd]);
	return 0;
}

static int reply_ok(const struct ipc_type_desc *d, const char *cell)
{
	if (d->reply == IPC_NONE) {
		if (strcmp(cell, "—") == 0)
			return 1;
		printf("# %s is no request, its reply cell says \"%s\"\n", d->name, cell);
		return 0;
	}
	char want[96];
	snprintf(want, sizeof(want), "`%s`", ipc_type_name(d->reply));
	return contains(cell, want, d->name, "reply");
}

/* One row: | `NAME` | # | from → to | payload | fd | checks | reply | */
static int check_row(char *line, unsigned char *seen)
{
	char *cell[8];
	int n = 0;
	for (char *p = line + 1; n < 8 && p && *p;) {
		char *bar = strchr(p, '|');
		if (!bar)
			break;
		*bar = '\0';
		cell[n++] = trim(p);
		p = bar + 1;
	}
	if (n != 7) {
		printf("# a message row has %d cells, not 7: %.60s\n", n, line);
		return 0;
	}
	size_t nl = strlen(cell[0]);
	if (nl < 3 || cell[0][0] != '`' || cell[0][nl - 1] != '`') {
		printf("# a message row's type is not `NAME`: %s\n", cell[0]);
		return 0;
	}
	cell[0][nl - 1] = '\0';
	const char *name = cell[0] + 1;
	const struct ipc_type_desc *d = NULL;
	for (const struct ipc_type_desc *t = NULL; (t = ipc_type_next(t));)
		if (strcmp(t->name, name) == 0)
			d = t;
	if (!d) {
		printf("# doc/ipc.md lists %s, which is not declared\n", name);
		return 0;
	}
	if (seen[d->type]++) {
		printf("# doc/ipc.md lists %s twice\n", name);
		return 0;
	}
	int ok = 1;
	if (strtoul(cell[1], NULL, 10) != d->type) {
		printf("# %s: number %s, declared %u\n", name, cell[1], d->type);
		ok = 0;
	}
	char *arrow = strstr(cell[2], "→");
	unsigned from = 0, to = 0;
	if (!arrow) {
		printf("# %s: no \"sender → receiver\" in \"%s\"\n", name, cell[2]);
		return 0;
	}
	*arrow = '\0';
	if (roles_of(cell[2], &from) < 0 || roles_of(arrow + strlen("→"), &to) < 0)
		return 0;
	if (from != d->from || to != d->to) {
		printf("# %s: roles %#x -> %#x in the doc, %#x -> %#x declared\n", name, from, to,
		       d->from, d->to);
		ok = 0;
	}
	ok &= payload_ok(d, cell[3]);
	ok &= fds_ok(d, cell[4]);
	ok &= reply_ok(d, cell[6]);
	return ok;
}

TEST(ipc_md_lists_every_message_as_declared)
{
	char *doc = slurp(ipc_md);
	REQUIRE(doc != NULL);
	unsigned char seen[IPC_TYPE_LIMIT] = { 0 };
	unsigned rows = 0;
	char *save = NULL;
	for (char *line = strtok_r(doc, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "| `", 3) != 0)
			continue;
		/* Only the message tables have a number in the second cell. */
		char *second = strchr(line + 1, '|');
		char num[16] = { 0 };
		if (second)
			snprintf(num, sizeof(num), "%.15s", second + 1);
		if (!isdigit((unsigned char)*trim(num)))
			continue;
		rows++;
		if (!check_row(line, seen))
			*tap_failed = 1;
	}
	for (const struct ipc_type_desc *d = NULL; (d = ipc_type_next(d));)
		if (!seen[d->type]) {
			printf("# doc/ipc.md does not list %s\n", d->name);
			*tap_failed = 1;
		}
	CHECK(rows > 50);
	free(doc);
}

/* Whether d flows from sender to receiver. */
static bool flows(const struct ipc_type_desc *d, enum ipc_role sender, enum ipc_role receiver)
{
	unsigned s = IPC_ROLE_BIT(sender), r = IPC_ROLE_BIT(receiver);
	bool reply = false, way = false;
	for (const struct ipc_type_desc *q = NULL; (q = ipc_type_next(q));) {
		if (q->reply == IPC_NONE || (q->reply != d->type && d->type != IPC_ERROR))
			continue;
		reply = true;
		way |= (q->to & s) && (q->from & r);
	}
	return reply ? way : (d->from & s) && (d->to & r);
}

static bool is_type_shaped(const char *tok)
{
	if (!isupper((unsigned char)tok[0]))
		return false;
	for (const char *c = tok; *c; c++)
		if (!isupper((unsigned char)*c) && !isdigit((unsigned char)*c) && *c != '_')
			return false;
	size_t n = strlen(tok);
	return (n > 4 && strcmp(tok + n - 4, "_REQ") == 0) ||
	       (n > 6 && strcmp(tok + n - 6, "_REPLY") == 0) || strncmp(tok, "MON_", 4) == 0 ||
	       strncmp(tok, "LAUNCH", 6) == 0 || strncmp(tok, "SPAWN", 5) == 0 ||
	       strncmp(tok, "CTL_", 4) == 0;
}

static const struct ipc_type_desc *by_name(const char *name)
{
	for (const struct ipc_type_desc *t = NULL; (t = ipc_type_next(t));)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

/* The list item after a marker: its first line and the lines indented
 * deeper, up to an empty line or the next marker. */
static void check_list(const char *text, enum ipc_role receiver, enum ipc_role sender,
		       int *tap_failed)
{
	const char *start = strchr(text, '\n');
	start = start ? start + 1 : text;
	size_t indent = strspn(start, " ");
	const char *end = start;
	for (const char *l = strchr(start, '\n'); l; l = strchr(l + 1, '\n')) {
		const char *next = l + 1;
		size_t in = strspn(next, " ");
		end = l;
		if (next[in] == '\n' || next[in] == '\0' || strncmp(next + in, "<!--", 4) == 0 ||
		    in <= indent)
			break;
	}
	bool listed[IPC_TYPE_LIMIT] = { false };
	for (const char *p = start; p < end; p++) {
		if (*p != '`')
			continue;
		const char *q = memchr(p + 1, '`', (size_t)(end - p - 1));
		if (!q)
			break;
		char tok[96];
		snprintf(tok, sizeof(tok), "%.*s", (int)(q - p - 1), p + 1);
		p = q;
		const struct ipc_type_desc *d = by_name(tok);
		if (!d && is_type_shaped(tok)) {
			printf("# security.md: %s accepts %s from the %s, which is not declared\n",
			       role_doc[receiver], tok, role_doc[sender]);
			*tap_failed = 1;
		}
		if (d)
			listed[d->type] = true;
	}
	for (const struct ipc_type_desc *d = NULL; (d = ipc_type_next(d));) {
		bool want = flows(d, sender, receiver);
		if (want != listed[d->type]) {
			printf("# security.md: the %s's list from the %s %s %s\n",
			       role_doc[receiver], role_doc[sender], want ? "lacks" : "has",
			       d->name);
			*tap_failed = 1;
		}
	}
}

static int role_by_doc(const char *s)
{
	for (int i = 0; i < IPC_ROLE_COUNT; i++)
		if (role_doc[i] && strcmp(s, role_doc[i]) == 0)
			return i;
	return -1;
}

TEST(security_md_accepts_what_flows)
{
	char *doc = slurp(security_md);
	REQUIRE(doc != NULL);
	bool marked[IPC_ROLE_COUNT][IPC_ROLE_COUNT] = { { false } };
	const char *tag = "<!-- ipc-accepts ";
	for (const char *p = strstr(doc, tag); p; p = strstr(p + 1, tag)) {
		char rec[32], snd[32];
		if (sscanf(p + strlen(tag), "%31s %31s", rec, snd) != 2) {
			printf("# a malformed marker: %.60s\n", p);
			*tap_failed = 1;
			continue;
		}
		int r = role_by_doc(rec), s = role_by_doc(snd);
		if (r < 0 || s < 0 || marked[r][s]) {
			printf("# marker %s %s: unknown role or twice\n", rec, snd);
			*tap_failed = 1;
			continue;
		}
		marked[r][s] = true;
		check_list(p, r, s, tap_failed);
	}
	/* Every way a message flows has its list. */
	for (int r = 0; r < IPC_ROLE_COUNT; r++)
		for (int s = 0; s < IPC_ROLE_COUNT; s++) {
			if (r == IPC_ROLE_TEST || marked[r][s])
				continue;
			for (const struct ipc_type_desc *d = NULL; (d = ipc_type_next(d));)
				if (flows(d, s, r)) {
					printf("# security.md: no list of what the %s accepts from "
					       "the %s (%s)\n",
					       role_doc[r], role_doc[s], d->name);
					*tap_failed = 1;
					break;
				}
		}
	free(doc);
}

int main(int argc, char **argv)
{
	/* The tree, not the two files: tap-summary takes a meson argument
	 * below the tree for a script that must be executable. */
	if (argc != 2) {
		fprintf(stderr, "usage: test_ipc_doc TOP\n");
		return 2;
	}
	int n = snprintf(ipc_md, sizeof(ipc_md), "%s/doc/ipc.md", argv[1]);
	int m = snprintf(security_md, sizeof(security_md), "%s/doc/security.md", argv[1]);
	if (n < 0 || m < 0 || (size_t)n >= sizeof(ipc_md) || (size_t)m >= sizeof(security_md)) {
		fprintf(stderr, "test_ipc_doc: %s: path too long\n", argv[1]);
		return 2;
	}
	return tap_run();
}
