/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pci.c - PCI addresses, PCI paths and their sysfs directories (pci.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "grpc_status.h"
#include "linux_compat.h"
#include "pci.h"
#include "sysfs.h"

/* Exactly 1..max hex digits from s up to end; -1 otherwise. */
static long hexnum(const char *s, const char *end, int max)
{
	char buf[8];
	size_t n = (size_t)(end - s);
	if (end <= s || n > (size_t)max || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (strspn(buf, "0123456789abcdefABCDEF") != n)
		return -1;
	return strtol(buf, NULL, 16);
}

/* "SS" or "SS.F" between s and end. */
static bool slotfn_parse(const char *s, const char *end, uint8_t *slot, uint8_t *fn)
{
	const char *dot = memchr(s, '.', (size_t)(end - s));
	long sl = hexnum(s, dot ? dot : end, 2);
	long f = dot ? hexnum(dot + 1, end, 1) : 0;
	if (sl < 0 || sl > 31 || f < 0 || f > 7)
		return false;
	*slot = (uint8_t)sl;
	*fn = (uint8_t)f;
	return true;
}

int pci_addr_parse(const char *s, struct pci_addr *a, struct kerr *err)
{
	const char *c1 = s ? strchr(s, ':') : NULL;
	const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	long dom = c1 ? hexnum(s, c1, 4) : -1;
	long bus = c2 ? hexnum(c1 + 1, c2, 2) : -1;
	if (dom < 0 || bus < 0 || strchr(c2 + 1, ':') ||
	    !slotfn_parse(c2 + 1, c2 + 1 + strlen(c2 + 1), &a->slot, &a->fn))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "PCI address \"%.64s\" is not DDDD:BB:SS.F", s ? s : "");
	a->domain = (uint16_t)dom;
	a->bus = (uint8_t)bus;
	return 0;
}

bool pci_addr_eq(const struct pci_addr *a, const struct pci_addr *b)
{
	return a->domain == b->domain && a->bus == b->bus && a->slot == b->slot && a->fn == b->fn;
}

bool pci_path_eq(const struct pci_path *a, const struct pci_path *b)
{
	return a->root == b->root && a->n == b->n && !memcmp(a->slot, b->slot, a->n) &&
	       !memcmp(a->fn, b->fn, a->n);
}

void pci_addr_format(const struct pci_addr *a, char *out, size_t len)
{
	snprintf(out, len, "%04x:%02x:%02x.%x", a->domain, a->bus, a->slot, a->fn);
}

static int path_error(const char *s, const char *why, struct kerr *err)
{
	return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
			       "PCI path \"%.64s\" %s (expected slots in hex, \"02/00\")", s, why);
}

int pci_path_parse(const char *s, struct pci_path *p, struct kerr *err)
{
	memset(p, 0, sizeof(*p));
	if (!s || !*s)
		return path_error("", "is empty", err);
	const char *tok[PCI_PATH_MAX + 2], *end[PCI_PATH_MAX + 2];
	unsigned n = 0;
	for (const char *c = s;; c++) {
		if (n == PCI_PATH_MAX + 2)
			return path_error(s, "is too deep", err);
		tok[n] = c;
		c = strchrnul(c, '/');
		end[n++] = c;
		if (!*c)
			break;
	}
	/* As upstream (pcipath_from_dev_tree_path): a first element >= 0x20
	 * followed by at least two more names a pxb-pcie root complex (its
	 * bus number); any other path is on root bus 0. */
	long first = hexnum(tok[0], end[0], 2);
	unsigned skip = n >= 3 && first >= 0x20 ? 1 : 0;
	if (n - skip > PCI_PATH_MAX)
		return path_error(s, "is too deep", err);
	for (unsigned i = skip; i < n; i++)
		if (!slotfn_parse(tok[i], end[i], &p->slot[i - skip], &p->fn[i - skip]))
			return path_error(s, "has an element that is not a slot", err);
	p->root = skip ? (uint8_t)first : 0;
	p->n = n - skip;
	return 0;
}

int pci_path_from_slots(const uint32_t *slots, size_t n, struct pci_path *p, struct kerr *err)
{
	memset(p, 0, sizeof(*p));
	if (n == 0 || n > PCI_PATH_MAX)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "PCI path of %zu slots (1..%d)", n, PCI_PATH_MAX);
	for (size_t i = 0; i < n; i++) {
		if (slots[i] > 31)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
					       "PCI path slot %u is above 31", slots[i]);
		p->slot[i] = (uint8_t)slots[i];
	}
	p->n = (unsigned)n;
	return 0;
}

void pci_path_format(const struct pci_path *p, char *out, size_t len)
{
	size_t o = 0;
	out[0] = '\0';
	if (p->root) {
		int k = snprintf(out, len, "%02x", p->root);
		o = k > 0 ? (size_t)k : 0;
	}
	for (unsigned i = 0; i < p->n && o < len; i++) {
		int k = p->fn[i] ? snprintf(out + o, len - o, "%s%02x.%x", o ? "/" : "", p->slot[i],
					    p->fn[i])
				 : snprintf(out + o, len - o, "%s%02x", o ? "/" : "", p->slot[i]);
		if (k < 0)
			return;
		o += (size_t)k;
	}
}

/* "DDDD:BB" (a pci_bus entry). */
static bool bus_name(const char *s, unsigned *domain, unsigned *bus)
{
	long d = strlen(s) == 7 && s[4] == ':' ? hexnum(s, s + 4, 4) : -1;
	long b = d >= 0 ? hexnum(s + 5, s + 7, 2) : -1;
	if (b < 0)
		return false;
	*domain = (unsigned)d;
	*bus = (unsigned)b;
	return true;
}

/* The bus behind the bridge at dirfd: the one entry of its pci_bus
 * directory, or else the bus all its child devices share (upstream
 * get_next_bus_from_bridge). */
static int next_bus(int dirfd, const char *where, unsigned *domain, unsigned *bus, struct kerr *err)
{
	int fd = sys_openat2(dirfd, "pci_bus", O_RDONLY | O_DIRECTORY | O_CLOEXEC, RESOLVE_SYSDEV);
	bool from_children = fd < 0;
	if (fd < 0 && errno != ENOENT)
		return kerr_set(err, -errno, "%s/pci_bus: %s", where, strerror(errno));
	if (fd < 0 &&
	    (fd = sys_openat2(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, RESOLVE_SYSDEV)) < 0)
		return kerr_set(err, -errno, "%s: %s", where, strerror(errno));
	cleanup_closedir DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return kerr_set(err, -errno, "%s: %s", where, strerror(errno));
	}
	int found = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		unsigned dm, b;
		struct pci_addr a;
		if (from_children ? pci_addr_parse(de->d_name, &a, NULL) < 0
				  : !bus_name(de->d_name, &dm, &b))
			continue;
		if (from_children) {
			dm = a.domain;
			b = a.bus;
		}
		if (found && (dm != *domain || b != *bus))
			return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -EINVAL,
					       "%s: more than one bus behind the bridge", where);
		*domain = dm;
		*bus = b;
		found = 1;
	}
	if (!found)
		return kerr_set_status(err, GRPC_NOT_FOUND, -ENOENT,
				       "%s: no bus behind the bridge (yet)", where);
	return 0;
}

int pci_path_to_sysfs(int sysdevs, const struct pci_path *p, char *out, size_t len,
		      struct pci_addr *addr, struct kerr *err)
{
	char root[16];
	snprintf(root, sizeof(root), "pci0000:%02x", p->root);
	int o = snprintf(out, len, "devices/%s", root);
	if (o < 0 || (size_t)o >= len)
		return kerr_set(err, -ENAMETOOLONG, "PCI sysfs path too long");
	cleanup_close int cur = sys_openat2(sysdevs, root, O_PATH | O_DIRECTORY | O_CLOEXEC,
					    RESOLVE_SYSDEV);
	if (cur < 0)
		return kerr_set_status(err, errno == ENOENT ? GRPC_NOT_FOUND : GRPC_INTERNAL,
				       -errno, "/sys/%s: %s", out, strerror(errno));
	struct pci_addr a = { .domain = 0, .bus = p->root };
	for (unsigned i = 0; i < p->n; i++) {
		a.slot = p->slot[i];
		a.fn = p->fn[i];
		char name[16];
		pci_addr_format(&a, name, sizeof(name));
		int k = snprintf(out + o, len - (size_t)o, "/%s", name);
		if (k < 0 || (size_t)k >= len - (size_t)o)
			return kerr_set(err, -ENAMETOOLONG, "PCI sysfs path too long");
		o += k;
		int nfd = sys_openat2(cur, name, O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_SYSDEV);
		if (nfd < 0)
			return kerr_set_status(err,
					       errno == ENOENT ? GRPC_NOT_FOUND : GRPC_INTERNAL,
					       -errno, "/sys/%s: %s", out, strerror(errno));
		close(cur);
		cur = nfd;
		if (i + 1 == p->n)
			break;
		unsigned dm = 0, b = 0;
		int r = next_bus(cur, out, &dm, &b, err);
		if (r < 0)
			return r;
		a.domain = (uint16_t)dm;
		a.bus = (uint8_t)b;
	}
	if (addr)
		*addr = a;
	return 0;
}
