/* SPDX-License-Identifier: Apache-2.0 */
#include "grpc_status.h"

#include <errno.h>
#include <string.h>

static const char *const names[] = {
	[GRPC_OK] = "OK",
	[GRPC_CANCELLED] = "CANCELLED",
	[GRPC_UNKNOWN] = "UNKNOWN",
	[GRPC_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
	[GRPC_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
	[GRPC_NOT_FOUND] = "NOT_FOUND",
	[GRPC_ALREADY_EXISTS] = "ALREADY_EXISTS",
	[GRPC_PERMISSION_DENIED] = "PERMISSION_DENIED",
	[GRPC_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
	[GRPC_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
	[GRPC_ABORTED] = "ABORTED",
	[GRPC_OUT_OF_RANGE] = "OUT_OF_RANGE",
	[GRPC_UNIMPLEMENTED] = "UNIMPLEMENTED",
	[GRPC_INTERNAL] = "INTERNAL",
	[GRPC_UNAVAILABLE] = "UNAVAILABLE",
	[GRPC_DATA_LOSS] = "DATA_LOSS",
	[GRPC_UNAUTHENTICATED] = "UNAUTHENTICATED",
};

const char *grpc_status_name(int code)
{
	if (code < 0 || code >= (int)(sizeof(names) / sizeof(names[0])))
		return "UNKNOWN_STATUS";
	return names[code];
}

int grpc_status_from_errno(int neg_errno)
{
	switch (-neg_errno) {
	case 0:
		return GRPC_OK;
	case ENOENT:
	case ESRCH:
		return GRPC_NOT_FOUND;
	case EEXIST:
		return GRPC_ALREADY_EXISTS;
	case EINVAL:
	case E2BIG:
	case ENAMETOOLONG:
	case EBADMSG:
		return GRPC_INVALID_ARGUMENT;
	case EPERM:
	case EACCES:
		return GRPC_PERMISSION_DENIED;
	case ETIMEDOUT:
		return GRPC_DEADLINE_EXCEEDED;
	case ENOSYS:
	case EOPNOTSUPP:
		return GRPC_UNIMPLEMENTED;
	case ENOMEM:
	case ENOSPC:
	case EMFILE:
	case ENFILE:
	case EAGAIN:
		return GRPC_RESOURCE_EXHAUSTED;
	case ECANCELED:
		return GRPC_CANCELLED;
	case EBUSY:
		return GRPC_FAILED_PRECONDITION;
	case ECONNREFUSED:
	case ECONNRESET:
	case EPIPE:
	case ENOTCONN:
		return GRPC_UNAVAILABLE;
	default:
		return GRPC_INTERNAL;
	}
}
