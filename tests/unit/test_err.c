/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_err.c - the error object (common/err.h): kerr_prefix adds the
 * context and one ": " itself, and the messages built through it at the
 * call sites read "context: cause", never "context: : cause".
 */
#include <errno.h>
#include <string.h>

#include "err.h"
#include "grpc_status.h"
#include "ipc.h"
#include "tap.h"

TEST(prefix_adds_one_separator)
{
	struct kerr e = { 0 };
	kerr_set_status(&e, GRPC_NOT_FOUND, -ENOENT, "no such thing");
	CHECK_EQ_INT(kerr_prefix(&e, "looking up %s", "x"), -ENOENT);
	CHECK_EQ_STR(e.msg, "looking up x: no such thing");
	kerr_prefix(&e, "outer");
	CHECK_EQ_STR(e.msg, "outer: looking up x: no such thing");
	/* The status and code stay those of the cause. */
	CHECK_EQ_INT(kerr_status(&e), GRPC_NOT_FOUND);
	CHECK_EQ_INT(e.code, -ENOENT);
}

TEST(prefix_keeps_the_head_when_too_long)
{
	struct kerr e = { 0 };
	char cause[KERR_MSG_MAX];
	memset(cause, 'c', sizeof(cause) - 1);
	cause[sizeof(cause) - 1] = '\0';
	kerr_set(&e, -EIO, "%s", cause);
	kerr_prefix(&e, "ctx");
	CHECK_EQ_INT(strlen(e.msg), KERR_MSG_MAX - 1);
	CHECK(strncmp(e.msg, "ctx: ccc", 8) == 0);
	CHECK_EQ_INT(kerr_prefix(NULL, "ctx"), -1);
}

/* Two call sites in common/ipc.c: the field check's type name, and the
 * sender's "send" in front of it. */
TEST(ipc_messages_have_one_separator)
{
	struct kerr e = { 0 };
	struct ipc_container_ref r = { 0 };
	memcpy(r.container_id, "a/b", 3);
	CHECK(ipc_check_payload(IPC_START_CONTAINER_REQ, (const void *)&r, sizeof(r), &e) < 0);
	CHECK(strncmp(e.msg, "START_CONTAINER_REQ: container id", 33) == 0);
	CHECK(strstr(e.msg, ": :") == NULL);
	int sv[2] = { -1, -1 };
	kerr_clear(&e);
	CHECK(ipc_send_fd(sv[0], IPC_START_CONTAINER_REQ, 1, &r, sizeof(r), -1, &e) < 0);
	CHECK(strncmp(e.msg, "send: START_CONTAINER_REQ: container id", 39) == 0);
	CHECK(strstr(e.msg, ": :") == NULL);
}

int main(void)
{
	return tap_run();
}
