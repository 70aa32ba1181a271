/* SPDX-License-Identifier: Apache-2.0 */
/*
 * net_dump.c - see net_dump.h. The kernel's answers are checked before
 * they are used: attribute lengths, address sizes per family.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_status.h"
#include "net_dump.h"
#include "utf8.h"

char *net_text_dup(const char *s)
{
	char *t = strdup(s);
	if (t)
		utf8_scrub(t);
	return t;
}

int net_dump_link(const struct nlmsghdr *h, void *ctx, struct kerr *err)
{
	struct links *l = ctx;
	/* Too short for its family header: not a link (nl_attrs sees no
	 * attributes in it either). */
	if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
		return 0;
	if (l->n >= NET_MAX_LINKS)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -E2BIG, "more than %u links",
				       NET_MAX_LINKS);
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	const struct rtattr *tb[IFLA_MAX + 1];
	nl_attrs(h, sizeof(*ifi), tb, IFLA_MAX);
	struct link *nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv)
		return kerr_set(err, -ENOMEM, "out of memory");
	l->v = nv;
	struct link *k = &nv[l->n++];
	memset(k, 0, sizeof(*k));
	k->index = ifi->ifi_index;
	k->flags = ifi->ifi_flags;
	if (tb[IFLA_IFNAME])
		snprintf(k->name, sizeof(k->name), "%.*s", (int)RTA_PAYLOAD(tb[IFLA_IFNAME]),
			 (const char *)RTA_DATA(tb[IFLA_IFNAME]));
	if (tb[IFLA_ADDRESS] && RTA_PAYLOAD(tb[IFLA_ADDRESS]) <= sizeof(k->mac)) {
		k->mac_len = RTA_PAYLOAD(tb[IFLA_ADDRESS]);
		memcpy(k->mac, RTA_DATA(tb[IFLA_ADDRESS]), k->mac_len);
	}
	if (tb[IFLA_MTU] && RTA_PAYLOAD(tb[IFLA_MTU]) >= 4)
		memcpy(&k->mtu, RTA_DATA(tb[IFLA_MTU]), 4);
	if (tb[IFLA_LINKINFO]) {
		const struct rtattr *a = RTA_DATA(tb[IFLA_LINKINFO]);
		int len = (int)RTA_PAYLOAD(tb[IFLA_LINKINFO]);
		for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
			if (a->rta_type == IFLA_INFO_KIND)
				snprintf(k->kind, sizeof(k->kind), "%.*s", (int)RTA_PAYLOAD(a),
					 (const char *)RTA_DATA(a));
	}
	return 0;
}

const struct link *net_link_by_name(const struct links *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

static const struct link *net_link_by_index(const struct links *l, int index)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].index == index)
			return &l->v[i];
	return NULL;
}

int net_dump_addr(const struct nlmsghdr *h, void *ctx, struct kerr *err)
{
	struct addrs *l = ctx;
	if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifaddrmsg)))
		return 0;
	const struct ifaddrmsg *ifa = NLMSG_DATA(h);
	const struct rtattr *tb[IFA_MAX + 1];
	nl_attrs(h, sizeof(*ifa), tb, IFA_MAX);
	const struct rtattr *a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	size_t want = ifa->ifa_family == AF_INET ? 4 : 16;
	if (!a || RTA_PAYLOAD(a) != want)
		return 0;
	struct addr *nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv)
		return kerr_set(err, -ENOMEM, "out of memory");
	l->v = nv;
	struct addr *x = &nv[l->n++];
	memset(x, 0, sizeof(*x));
	x->index = (int)ifa->ifa_index;
	x->family = ifa->ifa_family;
	x->prefix = ifa->ifa_prefixlen;
	memcpy(x->ip, RTA_DATA(a), want);
	return 0;
}

int net_dump_route(const struct nlmsghdr *h, void *ctx, struct kerr *err)
{
	struct route_ctx *rc = ctx;
	if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
		return 0;
	const struct rtmsg *rt = NLMSG_DATA(h);
	if (rt->rtm_table != RT_TABLE_MAIN || rt->rtm_type != RTN_UNICAST)
		return 0;
	const struct rtattr *tb[RTA_MAX + 1];
	nl_attrs(h, sizeof(*rt), tb, RTA_MAX);
	size_t alen = rt->rtm_family == AF_INET ? 4 : 16;
	char buf[INET6_ADDRSTRLEN], tmp[INET6_ADDRSTRLEN + 8];
	Types__Route *r = malloc(sizeof(*r));
	if (!r)
		return kerr_set(err, -ENOMEM, "out of memory");
	types__route__init(r);
	r->family = rt->rtm_family == AF_INET6 ? TYPES__IPFAMILY__v6 : TYPES__IPFAMILY__v4;
	r->scope = rt->rtm_scope;
	r->flags = rt->rtm_flags;
	/* Strings as upstream lists them: "dest/len", "" for the default. */
	char *dest = NULL, *gw = NULL, *src = NULL, *dev = NULL;
	if (tb[RTA_DST] && RTA_PAYLOAD(tb[RTA_DST]) == alen &&
	    inet_ntop(rt->rtm_family, RTA_DATA(tb[RTA_DST]), buf, sizeof(buf))) {
		snprintf(tmp, sizeof(tmp), "%s/%u", buf, rt->rtm_dst_len);
		dest = strdup(tmp);
	}
	if (tb[RTA_GATEWAY] && RTA_PAYLOAD(tb[RTA_GATEWAY]) == alen &&
	    inet_ntop(rt->rtm_family, RTA_DATA(tb[RTA_GATEWAY]), buf, sizeof(buf)))
		gw = strdup(buf);
	if (tb[RTA_PREFSRC] && RTA_PAYLOAD(tb[RTA_PREFSRC]) == alen &&
	    inet_ntop(rt->rtm_family, RTA_DATA(tb[RTA_PREFSRC]), buf, sizeof(buf)))
		src = strdup(buf);
	if (tb[RTA_OIF] && RTA_PAYLOAD(tb[RTA_OIF]) == 4) {
		int oif;
		memcpy(&oif, RTA_DATA(tb[RTA_OIF]), 4);
		const struct link *k = net_link_by_index(&rc->links, oif);
		if (k)
			dev = net_text_dup(k->name);
	}
	if (tb[RTA_METRICS]) {
		const struct rtattr *a = RTA_DATA(tb[RTA_METRICS]);
		int len = (int)RTA_PAYLOAD(tb[RTA_METRICS]);
		for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
			if (a->rta_type == RTAX_MTU && RTA_PAYLOAD(a) == 4)
				memcpy(&r->mtu, RTA_DATA(a), 4);
	}
	if (dest)
		r->dest = dest;
	if (gw)
		r->gateway = gw;
	if (src)
		r->source = src;
	if (dev)
		r->device = dev;
	Types__Route **nv = realloc(rc->out->routes, (rc->out->n_routes + 1) * sizeof(*nv));
	if (!nv) {
		protobuf_c_message_free_unpacked(&r->base, NULL);
		return kerr_set(err, -ENOMEM, "out of memory");
	}
	rc->out->routes = nv;
	nv[rc->out->n_routes++] = r;
	return 0;
}
