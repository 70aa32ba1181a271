/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netlink.c - see netlink.h. Answers are matched by sequence number and
 * our port id; anything else on the socket (there is no multicast group)
 * is skipped.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "grpc_status.h"
#include "netlink.h"

#define NL_RECV_BUF (64u * 1024u)

int nl_open(struct nl *nl, struct kerr *err)
{
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl->fd < 0)
		return kerr_set_status(err, GRPC_INTERNAL, -errno, "netlink socket: %s",
				       strerror(errno));
	int one = 1;
	/* Extended ACKs carry the kernel's reason text; best effort. */
	(void)setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	struct timeval tv = { .tv_sec = 5 };
	(void)setsockopt(nl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(nl->fd);
		nl->fd = -1;
		return kerr_set_status(err, GRPC_INTERNAL, -e, "netlink bind: %s", strerror(e));
	}
	nl->seq = (uint32_t)time(NULL);
	return 0;
}

void nl_close(struct nl *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	nl->fd = -1;
}

void nl_msg_init(struct nl_msg *m, uint16_t type, uint16_t flags, const void *hdr, size_t hdr_len)
{
	memset(m, 0, sizeof(*m));
	m->u.h.nlmsg_type = type;
	m->u.h.nlmsg_flags = (uint16_t)(flags | NLM_F_REQUEST | NLM_F_ACK);
	m->u.h.nlmsg_len = (uint32_t)NLMSG_LENGTH(hdr_len);
	memcpy(NLMSG_DATA(&m->u.h), hdr, hdr_len);
	m->u.h.nlmsg_len = NLMSG_ALIGN(m->u.h.nlmsg_len);
}

int nl_attr_put(struct nl_msg *m, uint16_t type, const void *data, size_t len)
{
	size_t off = NLMSG_ALIGN(m->u.h.nlmsg_len);
	size_t alen = RTA_LENGTH(len);
	if (off + RTA_ALIGN(alen) > sizeof(m->u.buf))
		return -EMSGSIZE;
	struct rtattr *a = (struct rtattr *)(m->u.buf + off);
	a->rta_type = type;
	a->rta_len = (unsigned short)alen;
	/* The payload by its offset from the message, not RTA_DATA(a) or
	 * u.buf: with the sanitizers GCC's bounds analysis takes either for a
	 * pointer into the 4-byte header field it last saw written
	 * (-Wstringop-overflow, "region of size 0"). */
	if (len)
		memcpy((uint8_t *)m + off + RTA_LENGTH(0), data, len);
	m->u.h.nlmsg_len = (uint32_t)(off + RTA_ALIGN(alen));
	return 0;
}

int nl_attr_put_u32(struct nl_msg *m, uint16_t type, uint32_t v)
{
	return nl_attr_put(m, type, &v, sizeof(v));
}

int nl_attr_put_str(struct nl_msg *m, uint16_t type, const char *s)
{
	return nl_attr_put(m, type, s, strlen(s) + 1);
}

int nl_attr_nest_begin(struct nl_msg *m, uint16_t type)
{
	int off = (int)NLMSG_ALIGN(m->u.h.nlmsg_len);
	int r = nl_attr_put(m, type, NULL, 0);
	return r < 0 ? r : off;
}

void nl_attr_nest_end(struct nl_msg *m, int off)
{
	struct rtattr *a = (struct rtattr *)(m->u.buf + off);
	a->rta_len = (unsigned short)(m->u.h.nlmsg_len - (uint32_t)off);
}

static int nl_send(struct nl *nl, struct nl_msg *m, struct kerr *err)
{
	m->u.h.nlmsg_seq = ++nl->seq;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	ssize_t n = sendto(nl->fd, m->u.buf, m->u.h.nlmsg_len, 0, (struct sockaddr *)&sa,
			   sizeof(sa));
	if (n != (ssize_t)m->u.h.nlmsg_len)
		return kerr_set_status(err, GRPC_INTERNAL, n < 0 ? -errno : -EIO,
				       "netlink send: %s", n < 0 ? strerror(errno) : "short write");
	return 0;
}

/* The error of an NLMSG_ERROR, with the kernel's text when it sent one. */
static int ack_error(const struct nlmsghdr *h, struct kerr *err)
{
	const struct nlmsgerr *e = NLMSG_DATA(h);
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
		return kerr_set_status(err, GRPC_INTERNAL, -EPROTO, "netlink: short error message");
	if (e->error == 0)
		return 0;
	const char *text = NULL;
	if (h->nlmsg_flags & NLM_F_ACK_TLVS) {
		size_t off = NLMSG_LENGTH(sizeof(*e));
		if (!(h->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len >= NLMSG_HDRLEN
				       ? NLMSG_ALIGN((size_t)e->msg.nlmsg_len) - NLMSG_HDRLEN
				       : h->nlmsg_len; /* no room for TLVs: none read */
		for (size_t p = off; p + sizeof(struct rtattr) <= h->nlmsg_len;) {
			const struct rtattr *a = (const void *)((const uint8_t *)h + p);
			if (a->rta_len < sizeof(*a) || p + a->rta_len > h->nlmsg_len)
				break;
			if (a->rta_type == NLMSGERR_ATTR_MSG && a->rta_len > sizeof(*a) &&
			    ((const char *)RTA_DATA(a))[RTA_PAYLOAD(a) - 1] == '\0')
				text = RTA_DATA(a);
			p += RTA_ALIGN(a->rta_len);
		}
	}
	/* A negative errno; anything else (INT_MIN cannot even be negated)
	 * is a malformed answer. */
	int code = e->error < 0 && e->error >= -4095 ? e->error : -EPROTO;
	int st = code == -EEXIST                                        ? GRPC_ALREADY_EXISTS
		 : code == -ENODEV || code == -ENOENT || code == -ESRCH ? GRPC_NOT_FOUND
		 : code == -EINVAL || code == -ERANGE || code == -ENETUNREACH ||
				 code == -EAFNOSUPPORT
			 ? GRPC_INVALID_ARGUMENT
		 : code == -EPERM || code == -EACCES ? GRPC_PERMISSION_DENIED
						     : GRPC_INTERNAL;
	return kerr_set_status(err, st, code, "%s%s%s", strerror(-code), text ? ": " : "",
			       text ? text : "");
}

int nl_walk(const void *buf, size_t n, uint32_t seq, nl_dump_fn fn, void *ctx, struct nl_walk *w,
	    struct kerr *err)
{
	/* By hand, not NLMSG_OK/NLMSG_NEXT on an unsigned length: past a last
	 * message whose length is not aligned the remaining length wraps and
	 * the walk read beyond the buffer. */
	size_t off = 0;
	while (n - off >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *h = (const void *)((const uint8_t *)buf + off);
		if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > n - off)
			break;
		size_t step = NLMSG_ALIGN(h->nlmsg_len);
		off = step < n - off ? off + step : n;
		if (h->nlmsg_seq != seq)
			continue;
		if (h->nlmsg_type == NLMSG_DONE) {
			if (!w->failed)
				w->result = 0;
			return 1;
		}
		if (h->nlmsg_type == NLMSG_ERROR) {
			int r = ack_error(h, err);
			if (!w->failed)
				w->result = r;
			return 1;
		}
		if (fn && !w->failed) {
			int r = fn(h, ctx, err);
			if (r < 0) {
				w->failed = true;
				w->result = r;
			}
		}
	}
	return 0;
}

/* Receive answers to seq; fn sees data messages (dumps); returns at DONE
 * or at the ACK/error. */
static int nl_recv(struct nl *nl, uint32_t seq, nl_dump_fn fn, void *ctx, struct kerr *err)
{
	static uint8_t buf[NL_RECV_BUF];
	struct nl_walk w = { 0 };
	for (;;) {
		ssize_t n = recv(nl->fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kerr_set_status(err, GRPC_INTERNAL, -errno, "netlink receive: %s",
					       strerror(errno));
		if (nl_walk(buf, (size_t)n, seq, fn, ctx, &w, err))
			return w.result;
	}
}

int nl_ack(struct nl *nl, struct nl_msg *m, struct kerr *err)
{
	int r = nl_send(nl, m, err);
	return r < 0 ? r : nl_recv(nl, nl->seq, NULL, NULL, err);
}

int nl_dump(struct nl *nl, struct nl_msg *m, nl_dump_fn fn, void *ctx, struct kerr *err)
{
	m->u.h.nlmsg_flags |= NLM_F_DUMP;
	/* A dump ends with DONE, not an ACK. */
	m->u.h.nlmsg_flags &= (uint16_t)~NLM_F_ACK;
	int r = nl_send(nl, m, err);
	return r < 0 ? r : nl_recv(nl, nl->seq, fn, ctx, err);
}

void nl_attrs(const struct nlmsghdr *h, size_t hdr_len, const struct rtattr **tb, size_t max)
{
	memset(tb, 0, (max + 1) * sizeof(*tb));
	if (h->nlmsg_len < NLMSG_LENGTH(hdr_len))
		return;
	const struct rtattr *a = (const void *)((const uint8_t *)NLMSG_DATA(h) +
						NLMSG_ALIGN(hdr_len));
	int len = (int)(h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(hdr_len)));
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type <= max)
			tb[a->rta_type] = a;
}
