/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netlink.h - a small rtnetlink client (NETLINK_ROUTE) for the network
 * RPCs: one request at a time, answered by its ACK, or a dump walked
 * message by message. No libnl: messages are built with nl_msg_* below.
 *
 * Offers: struct nl, nl_open(), nl_close(), struct nl_msg, nl_msg_init(),
 *         nl_attr_put(), nl_attr_nest_begin()/_end(), nl_ack(), nl_dump(),
 *         nl_walk() (one received buffer), nl_attrs() (parse a message's
 *         attributes into a table).
 */
#ifndef KATA_EXECUTOR_NETLINK_H
#define KATA_EXECUTOR_NETLINK_H

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct nl {
	int fd;
	uint32_t seq;
};

int nl_open(struct nl *nl, struct kerr *err);
void nl_close(struct nl *nl);

#define NL_MSG_MAX 4096

/* A request being built: header, family header, then attributes. */
struct nl_msg {
	union {
		struct nlmsghdr h;
		uint8_t buf[NL_MSG_MAX];
	} u;
};

/* Start a message of type with flags (NLM_F_REQUEST and NLM_F_ACK are
 * added) and a family header of hdr_len bytes copied from hdr. */
void nl_msg_init(struct nl_msg *m, uint16_t type, uint16_t flags, const void *hdr, size_t hdr_len);
/* Append an attribute; -EMSGSIZE when it does not fit. */
int nl_attr_put(struct nl_msg *m, uint16_t type, const void *data, size_t len);
int nl_attr_put_u32(struct nl_msg *m, uint16_t type, uint32_t v);
int nl_attr_put_str(struct nl_msg *m, uint16_t type, const char *s);
/* A nested attribute: begin returns its offset (or <0), end closes it. */
int nl_attr_nest_begin(struct nl_msg *m, uint16_t type);
void nl_attr_nest_end(struct nl_msg *m, int off);

/* Send m and wait for its ACK: 0, or the kernel's negative errno (err
 * says what; the caller prefixes what was being done). */
int nl_ack(struct nl *nl, struct nl_msg *m, struct kerr *err);

/* Dump: send m (NLM_F_DUMP set) and call fn for each answer until DONE;
 * fn returning < 0 stops the walk (the rest is drained) with that error. */
typedef int (*nl_dump_fn)(const struct nlmsghdr *h, void *ctx, struct kerr *err);
int nl_dump(struct nl *nl, struct nl_msg *m, nl_dump_fn fn, void *ctx, struct kerr *err);

/* One buffer of answers to request seq, as recv() gave it (pure: tests and
 * tests/fuzz run it on any bytes): fn sees each data message until one
 * fails. Returns 1 once DONE or the ACK/error came (w->result: 0, the
 * first failure of fn, or the kernel's error), 0 when the answer goes on
 * in the next buffer. w starts zeroed and carries over between buffers. */
struct nl_walk {
	int result;
	bool failed;
};
int nl_walk(const void *buf, size_t n, uint32_t seq, nl_dump_fn fn, void *ctx, struct nl_walk *w,
	    struct kerr *err);

/* The attributes after a family header of hdr_len bytes, by type (up to
 * max; later duplicates win); tb[t] NULL when absent. */
void nl_attrs(const struct nlmsghdr *h, size_t hdr_len, const struct rtattr **tb, size_t max);

#endif
