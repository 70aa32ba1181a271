/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spec_check.h - validation of a decoded Grpc__Spec (and exec Process) from an
 * untrusted source, before anything is done with it: bounded counts and
 * sizes, container id syntax, absolute paths, known names (namespaces, mount
 * types and options, rlimits, capabilities, seccomp actions, sysctls).
 *
 * Every failure is INVALID_ARGUMENT (or UNIMPLEMENTED for a valid request
 * this agent cannot honour), with a message naming the field.
 * The bounds are documented in doc/containers.md.
 */
#ifndef KATA_CONTAINER_SPEC_CHECK_H
#define KATA_CONTAINER_SPEC_CHECK_H

#include "err.h"
#include "oci.pb-c.h"

#define SPEC_MAX_ID_LEN 256
#define SPEC_MAX_ARGS 4096
#define SPEC_MAX_ENV 16384
#define SPEC_MAX_ARGV_BYTES (1024 * 1024) /* args + env together */
#define SPEC_MAX_PATH_LEN 4096
#define SPEC_MAX_MOUNTS 1024
#define SPEC_MAX_DEVICES 1024
#define SPEC_MAX_PATH_LIST 1024 /* masked, readonly paths each */
#define SPEC_MAX_SYSCTL 1024
#define SPEC_MAX_SYSCTL_VALUE 4096
#define SPEC_MAX_RLIMITS 64
#define SPEC_MAX_CAPS 128 /* per set */
#define SPEC_MAX_GIDS 65536
#define SPEC_MAX_IDMAPS 340 /* what the kernel takes */
#define SPEC_MAX_HOOKS 64   /* per stage */
#define SPEC_MAX_ANNOTATIONS 4096
#define SPEC_MAX_ANNOTATION_BYTES (1024 * 1024)
#define SPEC_MAX_HOSTNAME 64

/* A process (the container's, or an exec's). field is the prefix in
 * messages, e.g. "Process". */
int spec_check_process(const Grpc__Process *p, const char *field, struct kerr *err);

/* The whole spec for CreateContainer; id is the container id. */
int spec_check(const Grpc__Spec *spec, const char *id, struct kerr *err);

#endif
