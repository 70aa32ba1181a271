/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_netlink.c - libFuzzer target for the executor's reading of rtnetlink
 * answers (agentd/executor/net/netlink.c nl_walk: the message walk, ACK and
 * extended-ACK errors; net_dump.c: the link, address and route dump
 * parsers of the network RPCs), on buffers as recv() would return them.
 * The kernel is the peer here, but the network namespace is the pod's: a
 * container sharing it can name interfaces and add routes and addresses.
 *
 * Input: u8 what (0 links, 1 addresses, 2 routes after a links dump, 3 an
 * ACK), then receive buffers: u16 length, the bytes; answers are for
 * sequence number 7 (others are skipped, as on the socket).
 *
 * Checked: the walk ends (DONE or ACK) with 0 or a negative errno and a
 * message; links have NUL-terminated names and kinds and MACs within their
 * buffer; what the executor puts in its answers (names and kinds through
 * net_text_dup, route devices, route strings) is UTF-8, as a proto3 string
 * must be.
 *
 * Seeds: dumps as the kernel answers RTM_GETLINK / RTM_GETADDR /
 * RTM_GETROUTE for a pod's namespace (lo, eth0 veth with IPv4 and IPv6,
 * the main table's routes), split over two buffers, an extended ACK error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_arp.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "net_dump.h"
#include "netlink.h"
#include "utf8.h"

#define SEQ 7u

static void check_text(const char *s, size_t max, const char *what)
{
	FUZZ_ASSERT(memchr(s, '\0', max), "%s not NUL-terminated", what);
	FUZZ_ASSERT(utf8_valid(s, strlen(s)), "%s is not UTF-8", what);
}

static void check_links(const struct links *l)
{
	for (size_t i = 0; i < l->n; i++) {
		/* Kept as the kernel has them (lookups by name); what goes out
		 * is net_text_dup's. */
		FUZZ_ASSERT(memchr(l->v[i].name, '\0', sizeof(l->v[i].name)) &&
				    memchr(l->v[i].kind, '\0', sizeof(l->v[i].kind)),
			    "link name or kind not NUL-terminated");
		char *t = net_text_dup(l->v[i].name);
		FUZZ_ASSERT(t && utf8_valid(t, strlen(t)) && strlen(t) == strlen(l->v[i].name),
			    "net_text_dup did not give UTF-8 of the same length");
		free(t);
		FUZZ_ASSERT(l->v[i].mac_len <= sizeof(l->v[i].mac), "MAC of %zu bytes",
			    l->v[i].mac_len);
	}
}

static void check_routes(const Grpc__Routes *r)
{
	for (size_t i = 0; i < r->n_routes; i++) {
		const Types__Route *t = r->routes[i];
		const char *s[] = { t->dest, t->gateway, t->device, t->source };
		for (size_t k = 0; k < 4; k++)
			check_text(s[k], strlen(s[k]) + 1, "route string");
	}
}

/* Walk the buffers of the input through fn; returns the walk's result, or
 * 1 when the input ended first. */
static int walk(struct fuzz_in *in, nl_dump_fn fn, void *ctx)
{
	struct nl_walk w = { 0 };
	struct kerr e = { 0 };
	while (in->n) {
		size_t n;
		const uint8_t *b = fuzz_bytes(in, 65536, &n);
		/* The exact length in a buffer of its own: ASan sees any read
		 * past what recv() returned. */
		uint8_t *buf = malloc(n ? n : 1);
		FUZZ_ASSERT(buf, "out of memory");
		memcpy(buf, b, n);
		int done = nl_walk(buf, n, SEQ, fn, ctx, &w, &e);
		free(buf);
		if (done) {
			FUZZ_ASSERT(w.result <= 0, "result %d", w.result);
			FUZZ_ASSERT(w.result == 0 || e.msg[0], "failure without a message");
			return w.result;
		}
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	switch (fuzz_u8(&in) % 4) {
	case 0: {
		struct links l = { 0 };
		walk(&in, net_dump_link, &l);
		check_links(&l);
		free(l.v);
		break;
	}
	case 1: {
		struct addrs a = { 0 };
		walk(&in, net_dump_addr, &a);
		for (size_t i = 0; i < a.n; i++)
			FUZZ_ASSERT(a.v[i].family == AF_INET || a.v[i].family == AF_INET6 ||
					    a.v[i].prefix <= 255,
				    "address record out of shape");
		free(a.v);
		break;
	}
	case 2: {
		/* As network.c routes(): the links first, then the routes. */
		Grpc__Routes out = GRPC__ROUTES__INIT;
		struct route_ctx rc = { .out = &out };
		if (walk(&in, net_dump_link, &rc.links) == 0) {
			check_links(&rc.links);
			walk(&in, net_dump_route, &rc);
			check_routes(&out);
		}
		for (size_t i = 0; i < out.n_routes; i++)
			protobuf_c_message_free_unpacked(&out.routes[i]->base, NULL);
		free(out.routes);
		free(rc.links.v);
		break;
	}
	default:
		walk(&in, NULL, NULL);
	}
	return 0;
}

/* ---- seeds: what the kernel answers ---- */

struct buf {
	uint8_t b[8192];
	size_t n;
};

static struct nlmsghdr *msg_begin(struct buf *b, uint16_t type, const void *hdr, size_t len)
{
	struct nlmsghdr *h = (struct nlmsghdr *)(b->b + b->n);
	memset(h, 0, NLMSG_SPACE(len));
	h->nlmsg_type = type;
	h->nlmsg_flags = NLM_F_MULTI;
	h->nlmsg_seq = SEQ;
	h->nlmsg_len = (uint32_t)NLMSG_LENGTH(len);
	memcpy(NLMSG_DATA(h), hdr, len);
	return h;
}

static void attr(struct nlmsghdr *h, uint16_t type, const void *d, size_t len)
{
	struct rtattr *a = (struct rtattr *)((uint8_t *)h + NLMSG_ALIGN(h->nlmsg_len));
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), d, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

static void msg_end(struct buf *b, struct nlmsghdr *h)
{
	b->n += NLMSG_ALIGN(h->nlmsg_len);
}

static void done(struct buf *b)
{
	int zero = 0;
	msg_end(b, msg_begin(b, NLMSG_DONE, &zero, sizeof(zero)));
}

static void link_msg(struct buf *b, int index, const char *name, unsigned flags,
		     const uint8_t mac[6], unsigned mtu, const char *kind)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC,
				 .ifi_index = index,
				 .ifi_type = mac ? ARPHRD_ETHER : ARPHRD_LOOPBACK,
				 .ifi_flags = flags };
	struct nlmsghdr *h = msg_begin(b, RTM_NEWLINK, &ifi, sizeof(ifi));
	attr(h, IFLA_IFNAME, name, strlen(name) + 1);
	attr(h, IFLA_MTU, &mtu, 4);
	if (mac)
		attr(h, IFLA_ADDRESS, mac, 6);
	if (kind) {
		/* IFLA_LINKINFO { IFLA_INFO_KIND } */
		uint8_t nest[64];
		struct rtattr *k = (struct rtattr *)nest;
		k->rta_type = IFLA_INFO_KIND;
		k->rta_len = (unsigned short)RTA_LENGTH(strlen(kind) + 1);
		memcpy(RTA_DATA(k), kind, strlen(kind) + 1);
		attr(h, IFLA_LINKINFO, nest, RTA_ALIGN(k->rta_len));
	}
	msg_end(b, h);
}

static void links(struct buf *b)
{
	static const uint8_t mac[6] = { 0x0a, 0x58, 0x0a, 0xf4, 0x00, 0x07 };
	link_msg(b, 1, "lo", IFF_UP | IFF_LOOPBACK | IFF_RUNNING, NULL, 65536, NULL);
	link_msg(b, 2, "eth0", IFF_UP | IFF_BROADCAST | IFF_MULTICAST | IFF_RUNNING, mac, 1450,
		 "veth");
}

static void addr_msg(struct buf *b, int family, int index, unsigned prefix, const char *ip)
{
	struct ifaddrmsg ifa = { .ifa_family = (uint8_t)family,
				 .ifa_prefixlen = (uint8_t)prefix,
				 .ifa_index = (unsigned)index };
	uint8_t a[16];
	inet_pton(family, ip, a);
	struct nlmsghdr *h = msg_begin(b, RTM_NEWADDR, &ifa, sizeof(ifa));
	attr(h, IFA_ADDRESS, a, family == AF_INET ? 4 : 16);
	if (family == AF_INET)
		attr(h, IFA_LOCAL, a, 4);
	msg_end(b, h);
}

static void route_msg(struct buf *b, const char *dst, unsigned dst_len, const char *gw, int oif,
		      unsigned scope, unsigned mtu)
{
	struct rtmsg rt = { .rtm_family = AF_INET,
			    .rtm_dst_len = (uint8_t)dst_len,
			    .rtm_table = RT_TABLE_MAIN,
			    .rtm_protocol = RTPROT_BOOT,
			    .rtm_scope = (uint8_t)scope,
			    .rtm_type = RTN_UNICAST };
	struct nlmsghdr *h = msg_begin(b, RTM_NEWROUTE, &rt, sizeof(rt));
	uint8_t a[4];
	uint32_t table = RT_TABLE_MAIN;
	attr(h, RTA_TABLE, &table, 4);
	if (dst) {
		inet_pton(AF_INET, dst, a);
		attr(h, RTA_DST, a, 4);
	}
	if (gw) {
		inet_pton(AF_INET, gw, a);
		attr(h, RTA_GATEWAY, a, 4);
	}
	attr(h, RTA_OIF, &oif, 4);
	if (mtu) {
		uint8_t nest[8];
		struct rtattr *m = (struct rtattr *)nest;
		m->rta_type = RTAX_MTU;
		m->rta_len = RTA_LENGTH(4);
		memcpy(RTA_DATA(m), &mtu, 4);
		attr(h, RTA_METRICS, nest, sizeof(nest));
	}
	msg_end(b, h);
}

/* The input: what, then each buffer with its u16 length. */
static void emit(const char *name, uint8_t what, struct buf *parts, size_t nparts)
{
	static uint8_t out[1 + 4 * (2 + sizeof(parts->b))];
	size_t n = 0;
	out[n++] = what;
	for (size_t i = 0; i < nparts; i++) {
		out[n++] = (uint8_t)parts[i].n;
		out[n++] = (uint8_t)(parts[i].n >> 8);
		memcpy(out + n, parts[i].b, parts[i].n);
		n += parts[i].n;
		parts[i].n = 0;
	}
	fuzz_seed(name, out, n);
}

void fuzz_write_seeds(void)
{
	static struct buf p[3];
	links(&p[0]);
	done(&p[0]);
	emit("links", 0, p, 1);

	/* A dump split over two receive buffers. */
	link_msg(&p[0], 1, "lo", IFF_UP | IFF_LOOPBACK, NULL, 65536, NULL);
	link_msg(&p[1], 2, "eth0", IFF_UP, NULL, 1500, "veth");
	done(&p[1]);
	emit("links-two-buffers", 0, p, 2);

	addr_msg(&p[0], AF_INET, 1, 8, "127.0.0.1");
	addr_msg(&p[0], AF_INET, 2, 24, "10.244.0.7");
	addr_msg(&p[0], AF_INET6, 2, 64, "fd00::7");
	done(&p[0]);
	emit("addresses", 1, p, 1);

	links(&p[0]);
	done(&p[0]);
	route_msg(&p[1], NULL, 0, "10.244.0.1", 2, RT_SCOPE_UNIVERSE, 0);
	route_msg(&p[1], "10.244.0.0", 24, NULL, 2, RT_SCOPE_LINK, 1450);
	done(&p[1]);
	emit("routes", 2, p, 2);

	/* An error with the kernel's text (NETLINK_EXT_ACK). */
	struct nlmsgerr e = { .error = -EEXIST };
	e.msg.nlmsg_len = NLMSG_HDRLEN;
	e.msg.nlmsg_seq = SEQ;
	struct nlmsghdr *h = msg_begin(&p[0], NLMSG_ERROR, &e, sizeof(e));
	h->nlmsg_flags = NLM_F_ACK_TLVS | NLM_F_CAPPED;
	attr(h, NLMSGERR_ATTR_MSG, "File exists", 12);
	msg_end(&p[0], h);
	emit("ack-error", 3, p, 1);
	e.error = 0;
	msg_end(&p[0], msg_begin(&p[0], NLMSG_ERROR, &e, sizeof(e)));
	emit("ack", 3, p, 1);
}
