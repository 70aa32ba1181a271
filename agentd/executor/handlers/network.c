/* SPDX-License-Identifier: Apache-2.0 */
/*
 * network.c - the guest network RPCs in the executor's network namespace
 * (inside a Kata guest: the pod's): UpdateInterface, UpdateRoutes,
 * ListInterfaces, ListRoutes, AddARPNeighbors, over rtnetlink (netlink.c).
 * Semantics follow upstream src/agent/src/netlink.rs; the rules and the
 * differences are in doc/network.md.
 *
 * Every field from the host is checked before anything is changed: names
 * by the kernel's rules, MAC and IP addresses parsed (inet_pton), prefix
 * lengths, MTU, counts. A kernel refusal answers with its errno text and
 * the object it was about.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/neighbour.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "executor.h"
#include "answer.h"
#include "network.h"
#include "grpc_status.h"
#include "net_dump.h"
#include "netlink.h"

#define NET_MAX_ADDRS 256u
#define NET_MAX_ROUTES 1024u
#define NET_MAX_NEIGH 1024u

/* ---- checks ---- */

static int net_check_ifname(const char *n, const char *what, struct kerr *err)
{
	size_t l = strlen(n);
	bool ok = l > 0 && l < IFNAMSIZ && strcmp(n, ".") && strcmp(n, "..");
	for (const char *p = n; ok && *p; p++)
		ok = *p > 0x20 && *p < 0x7f && *p != '/' && *p != ':';
	if (!ok)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "%s \"%.32s\" is not an interface name (1..%d printable "
				       "bytes, no '/', ':' or blank)",
				       what, n, IFNAMSIZ - 1);
	return 0;
}

static int net_parse_mac(const char *s, uint8_t mac[6], const char *what, struct kerr *err)
{
	unsigned v[6];
	char end;
	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3],
				      &v[4], &v[5], &end) != 6)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "%s \"%.32s\" is not a MAC address (aa:bb:cc:dd:ee:ff)",
				       what, s);
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

/* An address of family fam (0: either); *out_fam tells which. */
static int net_parse_ip(const char *s, int fam, uint8_t out[16], int *out_fam, const char *what,
			struct kerr *err)
{
	if ((fam == 0 || fam == AF_INET) && inet_pton(AF_INET, s, out) == 1) {
		*out_fam = AF_INET;
		return 0;
	}
	if ((fam == 0 || fam == AF_INET6) && inet_pton(AF_INET6, s, out) == 1) {
		*out_fam = AF_INET6;
		return 0;
	}
	return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL, "%s \"%.64s\" is not an %s",
			       what, s,
			       fam == AF_INET    ? "IPv4 address"
			       : fam == AF_INET6 ? "IPv6 address"
						 : "IP address");
}

static int parse_prefix(const char *s, int fam, unsigned *out, const char *what, struct kerr *err)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	unsigned max = fam == AF_INET ? 32 : 128;
	if (!*s || *end || errno || v > max || s[0] == '-' || s[0] == '+')
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "%s \"%.16s\" is not a prefix length 0..%u", what, s, max);
	*out = (unsigned)v;
	return 0;
}

/* "addr/len", or "addr" (a host route), or "" (default, when allow_empty). */
static int parse_net(const char *s, int fam, uint8_t addr[16], unsigned *len, int *out_fam,
		     const char *what, struct kerr *err)
{
	char buf[INET6_ADDRSTRLEN + 8];
	if (strlen(s) >= sizeof(buf))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL, "%s is too long", what);
	snprintf(buf, sizeof(buf), "%s", s);
	char *slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	int r = net_parse_ip(buf, fam, addr, out_fam, what, err);
	if (r < 0)
		return r;
	if (!slash) {
		*len = *out_fam == AF_INET ? 32 : 128;
		return 0;
	}
	return parse_prefix(slash + 1, *out_fam, len, what, err);
}

/* ---- links ---- */

static int list_links(struct nl *nl, struct links *out, struct kerr *err)
{
	struct nl_msg m;
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	nl_msg_init(&m, RTM_GETLINK, 0, &ifi, sizeof(ifi));
	return nl_dump(nl, &m, net_dump_link, out, err);
}

static void mac_string(const uint8_t *mac, size_t len, char *out, size_t size)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < len && o + 3 < size; i++)
		o += (size_t)snprintf(out + o, size - o, "%s%02x", i ? ":" : "", mac[i]);
}

/* ---- addresses ---- */

static int list_addrs(struct nl *nl, struct addrs *out, struct kerr *err)
{
	struct nl_msg m;
	struct ifaddrmsg ifa = { .ifa_family = AF_UNSPEC };
	nl_msg_init(&m, RTM_GETADDR, 0, &ifa, sizeof(ifa));
	return nl_dump(nl, &m, net_dump_addr, out, err);
}

/* ---- building the answers ---- */

static Types__IPAddress *ip_msg(int family, const uint8_t *ip, unsigned prefix)
{
	Types__IPAddress *a = malloc(sizeof(*a));
	char buf[INET6_ADDRSTRLEN], mask[8];
	if (!a || !inet_ntop(family, ip, buf, sizeof(buf))) {
		free(a);
		return NULL;
	}
	types__ipaddress__init(a);
	a->family = family == AF_INET6 ? TYPES__IPFAMILY__v6 : TYPES__IPFAMILY__v4;
	snprintf(mask, sizeof(mask), "%u", prefix);
	a->address = strdup(buf);
	a->mask = strdup(mask);
	if (!a->address || !a->mask) {
		protobuf_c_message_free_unpacked(&a->base, NULL);
		return NULL;
	}
	return a;
}

static Types__Interface *iface_msg(const struct link *k, const struct addrs *as)
{
	Types__Interface *i = malloc(sizeof(*i));
	if (!i)
		return NULL;
	types__interface__init(i);
	char mac[3 * sizeof(k->mac)];
	mac_string(k->mac, k->mac_len, mac, sizeof(mac));
	i->device = net_text_dup(k->name);
	i->name = net_text_dup(k->name);
	i->hwaddr = strdup(mac);
	i->type = net_text_dup(k->kind);
	i->mtu = k->mtu;
	i->raw_flags = k->flags;
	bool ok = i->device && i->name && i->hwaddr && i->type;
	for (size_t j = 0; ok && j < as->n; j++) {
		if (as->v[j].index != k->index)
			continue;
		Types__IPAddress **nv = realloc(i->ipaddresses,
						(i->n_ipaddresses + 1) * sizeof(*nv));
		if (!nv) {
			ok = false;
			break;
		}
		i->ipaddresses = nv;
		if (!(nv[i->n_ipaddresses] = ip_msg(as->v[j].family, as->v[j].ip, as->v[j].prefix)))
			ok = false;
		else
			i->n_ipaddresses++;
	}
	if (!ok) {
		protobuf_c_message_free_unpacked(&i->base, NULL);
		return NULL;
	}
	return i;
}

/* The interface list as the host sees it: every link with its addresses. */
static int interfaces(struct nl *nl, Grpc__Interfaces *out, struct kerr *err)
{
	struct links ls = { 0 };
	struct addrs as = { 0 };
	int r = list_links(nl, &ls, err);
	if (r >= 0)
		r = list_addrs(nl, &as, err);
	if (r >= 0 && ls.n && !(out->interfaces = calloc(ls.n, sizeof(*out->interfaces))))
		r = kerr_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; r >= 0 && i < ls.n; i++) {
		if (!(out->interfaces[i] = iface_msg(&ls.v[i], &as)))
			r = kerr_set(err, -ENOMEM, "out of memory");
		else
			out->n_interfaces++;
	}
	free(ls.v);
	free(as.v);
	return r;
}

static void free_interfaces(Grpc__Interfaces *l)
{
	for (size_t i = 0; i < l->n_interfaces; i++)
		protobuf_c_message_free_unpacked(&l->interfaces[i]->base, NULL);
	free(l->interfaces);
}

int on_list_interfaces(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	int r;
	struct kerr e = { 0 };
	struct nl nl = { .fd = -1 };
	Grpc__Interfaces out = GRPC__INTERFACES__INIT;
	if (nl_open(&nl, &e) < 0 || interfaces(&nl, &out, &e) < 0) {
		nl_close(&nl);
		free_interfaces(&out);
		kerr_prefix(&e, "ListInterfaces");
		return answer_fail(c, m->hdr.id, &e, err);
	}
	nl_close(&nl);
	r = answer_msg(c, m, IPC_LIST_INTERFACES_REPLY, &out.base, err);
	free_interfaces(&out);
	return r;
}

/* ---- UpdateInterface ---- */

static int set_link(struct nl *nl, int index, const char *name, unsigned mtu, int up, int noarp,
		    struct kerr *err)
{
	struct nl_msg m;
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = index };
	if (up >= 0) {
		ifi.ifi_change |= IFF_UP;
		ifi.ifi_flags |= up ? IFF_UP : 0;
	}
	if (noarp >= 0) {
		ifi.ifi_change |= IFF_NOARP;
		ifi.ifi_flags |= noarp ? IFF_NOARP : 0;
	}
	nl_msg_init(&m, RTM_NEWLINK, 0, &ifi, sizeof(ifi));
	if ((name && nl_attr_put_str(&m, IFLA_IFNAME, name) < 0) ||
	    (mtu && nl_attr_put_u32(&m, IFLA_MTU, mtu) < 0))
		return kerr_set(err, -EMSGSIZE, "netlink message too large");
	return nl_ack(nl, &m, err);
}

static int add_addr(struct nl *nl, int index, int family, const uint8_t *ip, unsigned prefix,
		    struct kerr *err)
{
	struct nl_msg m;
	struct ifaddrmsg ifa = { .ifa_family = (uint8_t)family,
				 .ifa_prefixlen = (uint8_t)prefix,
				 .ifa_index = (unsigned)index };
	nl_msg_init(&m, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, &ifa, sizeof(ifa));
	size_t l = family == AF_INET ? 4 : 16;
	if (nl_attr_put(&m, IFA_LOCAL, ip, l) < 0 || nl_attr_put(&m, IFA_ADDRESS, ip, l) < 0)
		return kerr_set(err, -EMSGSIZE, "netlink message too large");
	return nl_ack(nl, &m, err);
}

struct want_addr {
	int family;
	uint8_t ip[16];
	unsigned prefix;
};

static bool ipv6_enabled(void)
{
	/* As upstream: an IPv6 address is skipped when the stack has it off,
	 * not an error (the pod would fail to start for an address it cannot
	 * use anyway). */
	for (int i = 0; i < 2; i++) {
		cleanup_fclose FILE *f = fopen(i ? "/proc/sys/net/ipv6/conf/default/disable_ipv6"
						 : "/proc/sys/net/ipv6/conf/all/disable_ipv6",
					       "re");
		int v = 1;
		if (f && fscanf(f, "%d", &v) == 1 && v == 0)
			return true;
	}
	return false;
}

/* UpdateInterface's request, checked before anything changes: the
 * interface's hardware address in mac, its addresses in *want (malloc'd,
 * one per IPAddresses entry). */
static int check_interface(const Types__Interface *in, uint8_t mac[6], struct want_addr **want,
			   struct kerr *e)
{
	if (!in)
		return kerr_set_status(e, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "UpdateInterface: no interface in the request");
	if (net_parse_mac(in->hwaddr, mac, "UpdateInterface: hwAddr", e) < 0)
		return e->code;
	if (*in->name && net_check_ifname(in->name, "UpdateInterface: name", e) < 0)
		return e->code;
	if (in->mtu && (in->mtu < 68 || in->mtu > 65535))
		return kerr_set_status(e, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "UpdateInterface: mtu %" PRIu64 " is not in 68..65535",
				       in->mtu);
	if (in->n_ipaddresses > NET_MAX_ADDRS)
		return kerr_set_status(e, GRPC_INVALID_ARGUMENT, -E2BIG,
				       "UpdateInterface: %zu addresses is more than %u",
				       in->n_ipaddresses, NET_MAX_ADDRS);
	if (in->n_ipaddresses && !(*want = calloc(in->n_ipaddresses, sizeof(**want))))
		return kerr_set(e, -ENOMEM, "out of memory");
	for (size_t i = 0; i < in->n_ipaddresses; i++) {
		const Types__IPAddress *a = in->ipaddresses[i];
		struct want_addr *w = &(*want)[i];
		char what[64];
		snprintf(what, sizeof(what), "UpdateInterface: IPAddresses[%zu]", i);
		/* The address says its family (upstream parses it the same way). */
		if (net_parse_ip(a->address, 0, w->ip, &w->family, what, e) < 0 ||
		    parse_prefix(a->mask, w->family, &w->prefix, what, e) < 0)
			return e->code;
	}
	return 0;
}

/* The link with hardware address mac, or NULL (e says why). */
static const struct link *link_by_mac(const struct links *ls, const uint8_t mac[6],
				      const char *hwaddr, struct kerr *e)
{
	for (size_t i = 0; i < ls->n; i++)
		if (ls->v[i].mac_len == 6 && !memcmp(ls->v[i].mac, mac, 6))
			return &ls->v[i];
	/* The Go runtime retries a hot-plugged NIC while the error holds
	 * "Link not found" (kata_agent.go updateInterface), upstream's
	 * find_link text: "Link not found (Address: <mac>)". */
	kerr_set_status(e, GRPC_NOT_FOUND, -ENODEV,
			"UpdateInterface: Link not found (Address: %s): no link has this "
			"hardware address",
			hwaddr);
	return NULL;
}

/* Link k (named old_name) down, its addresses added (IPv6 ones skipped
 * while the stack has IPv6 off). */
static int add_addresses(struct nl *nl, const struct link *k, const char *old_name,
			 const Types__Interface *in, const struct want_addr *want, struct kerr *e)
{
	/* Down while it changes (as upstream). */
	if ((k->flags & IFF_UP) && set_link(nl, k->index, NULL, 0, 0, -1, e) < 0)
		return kerr_prefix(e, "UpdateInterface %s: set down", old_name);
	bool v6 = ipv6_enabled();
	for (size_t i = 0; i < in->n_ipaddresses; i++) {
		if (want[i].family == AF_INET6 && !v6) {
			log_warn("UpdateInterface %s: IPv6 is disabled: %s skipped", old_name,
				 in->ipaddresses[i]->address);
			continue;
		}
		if (add_addr(nl, k->index, want[i].family, want[i].ip, want[i].prefix, e) < 0)
			return kerr_prefix(e, "UpdateInterface %s: add %s/%u", old_name,
					   in->ipaddresses[i]->address, want[i].prefix);
	}
	return 0;
}

/* Link index (named old_name) renamed as asked, its MTU and NOARP set, up.
 * A link already named as asked gets out of the way first (upstream
 * renames it "<name>_temp" and gives it our old name afterwards). */
static int rename_link(struct nl *nl, const struct links *ls, int index, const char *old_name,
		       const Types__Interface *in, struct kerr *e)
{
	const struct link *other = *in->name && strcmp(old_name, in->name)
					   ? net_link_by_name(ls, in->name)
					   : NULL;
	int other_index = other ? other->index : 0;
	if (other_index) {
		char tmp[IFNAMSIZ];
		snprintf(tmp, sizeof(tmp), "%.9s_temp", in->name);
		if (set_link(nl, other_index, tmp, 0, 0, -1, e) < 0)
			return kerr_prefix(e, "UpdateInterface: move %s aside", in->name);
	}
	if (set_link(nl, index, *in->name ? in->name : NULL, (unsigned)in->mtu, 1,
		     (in->raw_flags & IFF_NOARP) ? 1 : 0, e) < 0)
		return kerr_prefix(e, "UpdateInterface %s", old_name);
	if (other_index && set_link(nl, other_index, old_name, 0, 1, -1, e) < 0)
		return kerr_prefix(e, "UpdateInterface: rename the other %s to %s", in->name,
				   old_name);
	return 0;
}

/* The answer: the interface as it is now (the request's when it cannot be
 * found again). */
static int answer_interface(struct ipc_chan *c, const struct ipc_msg *m, struct nl *nl,
			    const char *old_name, Types__Interface *in, struct kerr *e,
			    struct kerr *err)
{
	Grpc__Interfaces all = GRPC__INTERFACES__INIT;
	if (interfaces(nl, &all, e) < 0) {
		free_interfaces(&all);
		return answer_fail(c, m->hdr.id, e, err);
	}
	Types__Interface *now = NULL;
	for (size_t i = 0; i < all.n_interfaces && !now; i++)
		if (!strcasecmp(all.interfaces[i]->hwaddr, in->hwaddr))
			now = all.interfaces[i];
	log_info("UpdateInterface %s -> %s: %zu addresses, mtu %" PRIu64, old_name,
		 now ? now->name : "?", in->n_ipaddresses, in->mtu);
	int r = answer_msg(c, m, IPC_UPDATE_INTERFACE_REPLY, now ? &now->base : &in->base, err);
	free_interfaces(&all);
	return r;
}

int on_update_interface(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	int r;
	struct kerr e = { 0 };
	struct nl nl = { .fd = -1 };
	struct links ls = { 0 };
	cleanup_free struct want_addr *want = NULL;
	const Grpc__UpdateInterfaceRequest *q = m->in;
	Types__Interface *in = q->interface;
	uint8_t mac[6];
	const struct link *k;
	char old_name[IFNAMSIZ];
	if (check_interface(in, mac, &want, &e) < 0 || nl_open(&nl, &e) < 0 ||
	    list_links(&nl, &ls, &e) < 0 || !(k = link_by_mac(&ls, mac, in->hwaddr, &e))) {
		r = answer_fail(c, m->hdr.id, &e, err);
		goto out;
	}
	snprintf(old_name, sizeof(old_name), "%s", k->name);
	if (add_addresses(&nl, k, old_name, in, want, &e) < 0 ||
	    rename_link(&nl, &ls, k->index, old_name, in, &e) < 0)
		r = answer_fail(c, m->hdr.id, &e, err);
	else
		r = answer_interface(c, m, &nl, old_name, in, &e, err);
out:
	free(ls.v);
	nl_close(&nl);
	return r;
}

/* ---- routes ---- */

static void free_routes(Grpc__Routes *l)
{
	for (size_t i = 0; i < l->n_routes; i++)
		protobuf_c_message_free_unpacked(&l->routes[i]->base, NULL);
	free(l->routes);
	l->routes = NULL;
	l->n_routes = 0;
}

static int routes(struct nl *nl, Grpc__Routes *out, struct kerr *err)
{
	struct route_ctx rc = { .out = out };
	int r = list_links(nl, &rc.links, err);
	/* One family at a time, as upstream (concurrent dumps are EBUSY). */
	for (int f = 0; r >= 0 && f < 2; f++) {
		struct nl_msg m;
		struct rtmsg rt = { .rtm_family = f ? AF_INET6 : AF_INET };
		nl_msg_init(&m, RTM_GETROUTE, 0, &rt, sizeof(rt));
		r = nl_dump(nl, &m, net_dump_route, &rc, err);
	}
	free(rc.links.v);
	return r;
}

static int send_routes(struct ipc_chan *c, const struct ipc_msg *m, struct nl *nl, const char *what,
		       struct kerr *err)
{
	struct kerr e = { 0 };
	Grpc__Routes out = GRPC__ROUTES__INIT;
	if (routes(nl, &out, &e) < 0) {
		free_routes(&out);
		kerr_prefix(&e, "%s", what);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	int r = answer_msg(c, m, IPC_ROUTES_REPLY, &out.base, err);
	free_routes(&out);
	return r;
}

int on_list_routes(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	int r;
	struct kerr e = { 0 };
	struct nl nl = { .fd = -1 };
	if (nl_open(&nl, &e) < 0)
		return answer_fail(c, m->hdr.id, &e, err);
	r = send_routes(c, m, &nl, "ListRoutes", err);
	nl_close(&nl);
	return r;
}

struct want_route {
	const Types__Route *in;
	int family;
	uint8_t dst[16], gw[16], src[16];
	unsigned dst_len, src_len;
	bool has_gw, has_src;
	int oif;
};

static int check_route(const Types__Route *in, size_t i, const struct links *ls,
		       struct want_route *w, struct kerr *err)
{
	char what[48];
	snprintf(what, sizeof(what), "UpdateRoutes: Routes[%zu]", i);
	w->in = in;
	int fam = in->family == TYPES__IPFAMILY__v6 ? AF_INET6 : AF_INET;
	w->family = fam;
	if (*in->dest && parse_net(in->dest, fam, w->dst, &w->dst_len, &w->family, what, err) < 0)
		return err->code;
	if (!*in->dest)
		w->dst_len = 0;
	if (*in->gateway) {
		int gf;
		if (net_parse_ip(in->gateway, fam, w->gw, &gf, what, err) < 0)
			return err->code;
		w->has_gw = true;
	}
	if (*in->source) {
		int sf;
		if (parse_net(in->source, fam, w->src, &w->src_len, &sf, what, err) < 0)
			return err->code;
		/* "addr" alone is the preferred source (RTA_PREFSRC), as
		 * upstream does for a prefix of 0. */
		if (!strchr(in->source, '/'))
			w->src_len = 0;
		w->has_src = true;
	}
	if (in->scope > 255)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL, "%s: scope %u", what,
				       in->scope);
	if (net_check_ifname(in->device, what, err) < 0)
		return err->code;
	const struct link *k = net_link_by_name(ls, in->device);
	if (!k)
		return kerr_set_status(err, GRPC_NOT_FOUND, -ENODEV, "%s: no link named %s", what,
				       in->device);
	w->oif = k->index;
	return 0;
}

static int add_route(struct nl *nl, const struct want_route *w, struct kerr *err)
{
	struct nl_msg m;
	struct rtmsg rt = {
		.rtm_family = (uint8_t)w->family,
		.rtm_dst_len = (uint8_t)w->dst_len,
		.rtm_table = RT_TABLE_MAIN,
		.rtm_protocol = RTPROT_BOOT,
		.rtm_scope = (uint8_t)w->in->scope,
		.rtm_type = RTN_UNICAST,
		.rtm_flags = w->in->flags,
	};
	size_t l = w->family == AF_INET ? 4 : 16;
	nl_msg_init(&m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, &rt, sizeof(rt));
	int r = 0;
	if (w->dst_len || *w->in->dest)
		r |= nl_attr_put(&m, RTA_DST, w->dst, l);
	if (w->has_gw)
		r |= nl_attr_put(&m, RTA_GATEWAY, w->gw, l);
	if (w->has_src) {
		if (w->src_len) {
			struct rtmsg *h = NLMSG_DATA(&m.u.h);
			h->rtm_src_len = (uint8_t)w->src_len;
			r |= nl_attr_put(&m, RTA_SRC, w->src, l);
		} else {
			r |= nl_attr_put(&m, RTA_PREFSRC, w->src, l);
		}
	}
	r |= nl_attr_put_u32(&m, RTA_OIF, (uint32_t)w->oif);
	if (w->in->mtu) {
		int nest = nl_attr_nest_begin(&m, RTA_METRICS);
		if (nest < 0 || nl_attr_put_u32(&m, RTAX_MTU, w->in->mtu) < 0)
			r = -1;
		else
			nl_attr_nest_end(&m, nest);
	}
	if (r)
		return kerr_set(err, -EMSGSIZE, "netlink message too large");
	return nl_ack(nl, &m, err);
}

int on_update_routes(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	int r;
	struct kerr e = { 0 };
	struct nl nl = { .fd = -1 };
	struct links ls = { 0 };
	cleanup_free struct want_route *w = NULL;
	const Grpc__UpdateRoutesRequest *q = m->in;
	size_t n = q->routes ? q->routes->n_routes : 0;
	if (n > NET_MAX_ROUTES) {
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -E2BIG,
				"UpdateRoutes: %zu routes is more than %u", n, NET_MAX_ROUTES);
		goto bad;
	}
	if (nl_open(&nl, &e) < 0 || list_links(&nl, &ls, &e) < 0)
		goto bad;
	if (n && !(w = calloc(n, sizeof(*w)))) {
		kerr_set(&e, -ENOMEM, "out of memory");
		goto bad;
	}
	for (size_t i = 0; i < n; i++)
		if (check_route(q->routes->routes[i], i, &ls, &w[i], &e) < 0)
			goto bad;
	/* Routes without a gateway first: they make the gateways reachable. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			if (w[i].has_gw != (pass == 1))
				continue;
			if (add_route(&nl, &w[i], &e) < 0) {
				kerr_prefix(&e, "UpdateRoutes: route %s via %s dev %s",
					    *w[i].in->dest ? w[i].in->dest : "default",
					    *w[i].in->gateway ? w[i].in->gateway : "-",
					    w[i].in->device);
				goto bad;
			}
		}
	log_info("UpdateRoutes: %zu routes", n);
	r = send_routes(c, m, &nl, "UpdateRoutes", err);
	free(ls.v);
	nl_close(&nl);
	return r;
bad:
	free(ls.v);
	nl_close(&nl);
	return answer_fail(c, m->hdr.id, &e, err);
}

/* ---- AddARPNeighbors ---- */

int on_add_arp_neighbors(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct kerr e = { 0 };
	struct nl nl = { .fd = -1 };
	struct links ls = { 0 };
	const Grpc__AddARPNeighborsRequest *q = m->in;
	size_t n = q->neighbors ? q->neighbors->n_arpneighbors : 0;
	if (n > NET_MAX_NEIGH) {
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -E2BIG,
				"AddARPNeighbors: %zu neighbours is more than %u", n,
				NET_MAX_NEIGH);
		goto bad;
	}
	if (nl_open(&nl, &e) < 0 || list_links(&nl, &ls, &e) < 0)
		goto bad;
	/* Two passes: every entry is checked before the first is added. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			const Types__ARPNeighbor *a = q->neighbors->arpneighbors[i];
			char what[48];
			snprintf(what, sizeof(what), "AddARPNeighbors: ARPNeighbors[%zu]", i);
			uint8_t ip[16], mac[6];
			int fam;
			if (!a->toipaddress) {
				kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -EINVAL,
						"%s: no toIPAddress", what);
				goto bad;
			}
			if (net_parse_ip(a->toipaddress->address, 0, ip, &fam, what, &e) < 0 ||
			    net_check_ifname(a->device, what, &e) < 0 ||
			    (*a->lladdr && net_parse_mac(a->lladdr, mac, what, &e) < 0))
				goto bad;
			if (a->state < 0 || a->state > 0xffff || a->flags < 0 || a->flags > 0xff) {
				kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -EINVAL,
						"%s: state %d / flags %d out of range", what,
						a->state, a->flags);
				goto bad;
			}
			const struct link *k = net_link_by_name(&ls, a->device);
			if (!k) {
				kerr_set_status(&e, GRPC_NOT_FOUND, -ENODEV, "%s: no link named %s",
						what, a->device);
				goto bad;
			}
			if (pass == 0)
				continue;
			struct nl_msg msg;
			struct ndmsg nd = {
				.ndm_family = (uint8_t)fam,
				.ndm_ifindex = k->index,
				/* Upstream's default: a permanent entry. */
				.ndm_state = (uint16_t)(a->state ? a->state : NUD_PERMANENT),
				.ndm_flags = (uint8_t)a->flags,
			};
			nl_msg_init(&msg, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, &nd,
				    sizeof(nd));
			if (nl_attr_put(&msg, NDA_DST, ip, fam == AF_INET ? 4 : 16) < 0 ||
			    (*a->lladdr && nl_attr_put(&msg, NDA_LLADDR, mac, 6) < 0)) {
				kerr_set(&e, -EMSGSIZE, "netlink message too large");
				goto bad;
			}
			if (nl_ack(&nl, &msg, &e) < 0) {
				kerr_prefix(&e, "%s: %s lladdr %s dev %s", what,
					    a->toipaddress->address, a->lladdr, a->device);
				goto bad;
			}
		}
	log_info("AddARPNeighbors: %zu neighbours", n);
	free(ls.v);
	nl_close(&nl);
	return ipc_chan_send(c, IPC_OK, m->hdr.id, NULL, 0, -1, err);
bad:
	free(ls.v);
	nl_close(&nl);
	return answer_fail(c, m->hdr.id, &e, err);
}
