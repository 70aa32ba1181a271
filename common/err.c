/* SPDX-License-Identifier: Apache-2.0 */
#include "err.h"
#include "grpc_status.h"

#include <stdio.h>
#include <errno.h>
#include <string.h>

static int kerr_vset(struct kerr *err, int status, int code, const char *fmt, va_list ap)
{
	if (code > 0)
		code = -code;
	if (code == 0)
		code = -EIO;
	if (!err)
		return code;
	err->code = code;
	err->status = status;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return code;
}

int kerr_set(struct kerr *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = kerr_vset(err, 0, code, fmt, ap);
	va_end(ap);
	return r;
}

int kerr_set_status(struct kerr *err, int status, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = kerr_vset(err, status, code, fmt, ap);
	va_end(ap);
	return r;
}

int kerr_prefix(struct kerr *err, const char *fmt, ...)
{
	if (!err)
		return -1;
	char prefix[KERR_MSG_MAX];
	char old[KERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	char joined[2 * KERR_MSG_MAX + 2];
	memcpy(old, err->msg, sizeof(old));
	snprintf(joined, sizeof(joined), "%s: %s", prefix, old);
	/* Keep the head of the message: the context and the start of the cause. */
	memcpy(err->msg, joined, sizeof(err->msg) - 1);
	err->msg[sizeof(err->msg) - 1] = '\0';
	return err->code;
}

int kerr_status(const struct kerr *err)
{
	if (!err || err->code == 0)
		return GRPC_OK;
	if (err->status)
		return err->status;
	return grpc_status_from_errno(err->code);
}

void kerr_clear(struct kerr *err)
{
	if (!err)
		return;
	err->code = 0;
	err->status = 0;
	err->msg[0] = '\0';
}
