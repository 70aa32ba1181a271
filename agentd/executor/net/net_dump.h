/* SPDX-License-Identifier: Apache-2.0 */
/*
 * net_dump.h - the rtnetlink dump parsers of the network RPCs (network.c):
 * each is an nl_dump_fn (netlink.h) that turns one RTM_NEWLINK, RTM_NEWADDR
 * or RTM_NEWROUTE message into the executor's own records. Pure: they read
 * only the message, so tests/fuzz (fuzz_netlink) runs them on any bytes.
 *
 * Offers: struct link(s), struct addr(s), struct route_ctx, net_dump_link(),
 *         net_dump_addr(), net_dump_route(), net_text_dup(),
 *         net_link_by_name().
 */
#ifndef KATA_EXECUTOR_NET_DUMP_H
#define KATA_EXECUTOR_NET_DUMP_H

#include <linux/if.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.pb-c.h"
#include "netlink.h"

#define NET_MAX_LINKS 4096u

struct link {
	int index;
	char name[IFNAMSIZ];
	uint8_t mac[32];
	size_t mac_len;
	unsigned flags;
	unsigned mtu;
	char kind[32];
};

struct links {
	struct link *v;
	size_t n;
};

struct addr {
	int index;
	int family;
	unsigned prefix;
	uint8_t ip[16];
};

struct addrs {
	struct addr *v;
	size_t n;
};

struct route_ctx {
	struct links links;
	Grpc__Routes *out;
};

/* ctx: struct links (links are appended; at most NET_MAX_LINKS). */
int net_dump_link(const struct nlmsghdr *h, void *ctx, struct kerr *err);
/* ctx: struct addrs. */
int net_dump_addr(const struct nlmsghdr *h, void *ctx, struct kerr *err);
/* ctx: struct route_ctx, whose links name the routes' devices; unicast
 * routes of the main table are appended to out. */
int net_dump_route(const struct nlmsghdr *h, void *ctx, struct kerr *err);

/* A name the kernel gave (a link's name or kind, which whoever shares the
 * network namespace may choose) as a proto3 string for the host: a malloc'd
 * copy with bytes that are not UTF-8 replaced ('?'); NULL when out of
 * memory. Lookups keep using the name as it is. */
char *net_text_dup(const char *s);

const struct link *net_link_by_name(const struct links *l, const char *name);

#endif
