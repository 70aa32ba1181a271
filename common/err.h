/* SPDX-License-Identifier: Apache-2.0 */
/*
 * err.h - the one error style of the project.
 *
 * Every fallible function returns 0 (or a non-negative result) on success and
 * a negative errno-style code on failure, and fills a struct kerr with a
 * message naming what failed and why.  The same object carries the gRPC
 * status the failure should map to when it ends up in a ttRPC response, so a
 * handler deep in a call chain decides "this is NOT_FOUND" once, where it
 * knows, instead of the dispatcher guessing from errno.
 *
 * Offers: struct kerr, kerr_set(), kerr_set_status(), kerr_prefix(),
 *         kerr_status(), kerr_clear().
 */
#ifndef KATA_COMMON_ERR_H
#define KATA_COMMON_ERR_H

#include <stdarg.h>

#define KERR_MSG_MAX 512

struct kerr {
	int code;   /* negative errno, 0 when no error */
	int status; /* gRPC status code; 0 means "derive from code" */
	char msg[KERR_MSG_MAX];
};

/* Record an error; returns code (negative) so callers can `return kerr_set(...)`.
 * A NULL err is allowed and ignored. A positive code is negated. */
int kerr_set(struct kerr *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like kerr_set, with an explicit gRPC status (see grpc_status.h). */
int kerr_set_status(struct kerr *err, int status, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Prepend context ("while doing X: ") to an existing message; returns err->code. */
int kerr_prefix(struct kerr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The gRPC status for this error: the explicit one, or one derived from errno
 * (ENOENT->NOT_FOUND, EEXIST->ALREADY_EXISTS, EINVAL->INVALID_ARGUMENT, ...). */
int kerr_status(const struct kerr *err);

void kerr_clear(struct kerr *err);

#endif
