/* SPDX-License-Identifier: Apache-2.0 */
/*
 * guest_hooks.h - CreateSandbox's guest_hook_path and the spec's own hooks
 * (guest_hooks.c).
 */
#ifndef KATA_EXECUTOR_GUEST_HOOKS_H
#define KATA_EXECUTOR_GUEST_HOOKS_H

#include "executor.h"

/* Load the hooks below path into x->sb.guest_hooks (replacing any). A path
 * the host could have filled, or a kind directory or hook that is not
 * root's alone, is logged and left out (as upstream, CreateSandbox goes on);
 * fails only when out of memory. */
int guest_hooks_load(struct executor *x, const char *path, struct kerr *err);
/* Append the sandbox's guest hooks to a container's spec (at create). */
int guest_hooks_append(struct executor *x, Grpc__Spec *spec, struct kerr *err);
/* The spec's own hooks (the host's, before guest_hooks_append): any but
 * startContainer is PERMISSION_DENIED naming its stage, unless
 * allow_host_hooks. */
int hooks_host_check(const struct executor *x, const Grpc__Spec *spec, struct kerr *err);

#endif
