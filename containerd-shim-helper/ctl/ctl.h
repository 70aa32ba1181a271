/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctl.h - what the modules of kata-agent-ctl share:
 *   main.c      options, the subcommand table, call/check/version/list
 *   run.c       run BUNDLE and exec ID -- CMD: create/start or exec, then
 *               pump stdio over one connection, wait, exit with the status
 *   oci_json.c  an OCI runtime-spec config.json -> the agent's grpc.Spec
 *   replay.c    replay SCENARIO: a runtime's request sequence, checked, as TAP
 *   whole_strings.c  the answer's string fields whole in its JSON (past a NUL)
 */
#ifndef KATA_CTL_H
#define KATA_CTL_H

#include <stdint.h>

#include <jansson.h>

#include <protobuf-c/protobuf-c.h>

#include "err.h"
#include "oci.pb-c.h"
#include "pbjson.h"
#include "ttrpc.h"

enum {
	EXIT_RPC = 1,
	EXIT_USAGE = 2,
	EXIT_CONNECT = 3,
	/* run/exec: the container's exit code is ours, so failures of the
	 * tool itself use the code docker and runc use for that. */
	EXIT_RUN_FAILED = 125,
};

struct opts {
	const char *addr;
	uint64_t timeout_ns; /* 0: none */
};

/* Connect per the options; prints what failed and returns an exit code
 * (0 on success). */
int connect_agent(const struct opts *o, struct ttrpc_client **out);

int cmd_run(const struct opts *o, int argc, char **argv);
int cmd_exec(const struct opts *o, int argc, char **argv);
int cmd_replay(const struct opts *o, int argc, char **argv);

/* Convert an OCI config.json document to grpc.Spec. Keys are matched to
 * the oci.proto fields case-insensitively ("process" -> Process), with the
 * renames in one table (oci_json.c); keys the agent's Spec has no field for
 * are dropped with a warning on stderr. */
int oci_json_to_spec(json_t *config, Grpc__Spec **out, struct kerr *err);

/* j, pbjson's JSON of the message of type d packed as data[0..len): each
 * singular string field (in singular message fields too) set whole from
 * the wire, where protobuf-c cut it at a NUL byte. 0, or -EBADMSG for
 * wire bytes that do not parse, -EILSEQ for a string that is not UTF-8
 * (JSON cannot carry it), err set. */
int ctl_whole_strings(json_t *j, const ProtobufCMessageDescriptor *d, const uint8_t *data,
		      size_t len, struct kerr *err);

#endif
