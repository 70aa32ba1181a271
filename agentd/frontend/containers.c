/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containers.c - the 17 container RPCs of grpc.AgentService, front-end side.
 *
 * Each handler checks what it can without privileges (ids by the agent's
 * one rule, ipc_id_valid; required fields present; sizes bounded), then
 * forwards: the lifecycle (sandbox, create, start, exec, signal, remove,
 * update, pause/resume, stats) to the executor, which re-validates
 * everything (UpdateContainer: the resources are checked there, by the
 * kernel); stdio, wait, close and resize
 * to the container's monitor (monitors.c). Nothing is answered before the
 * reply arrives, so every handler is asynchronous.
 *
 * Semantics follow upstream src/agent/src/rpc.rs:
 *  - exec_id "" and exec_id = container id name the container's init
 *    process (the Kata runtime's CreateContainer sends exec_id = container
 *    id and addresses the init by it from then on): the calls to the
 *    monitor carry "" for both (ipc_exec_name), so they share one reader;
 *    SignalProcess keeps what the host sent, since "" with SIGKILL means
 *    every process of the container;
 *  - WriteStdin with no data closes stdin and answers {len: 0};
 *  - ReadStdout/ReadStderr at EOF answer an empty {data} (the runtime maps
 *    it to io.EOF); a read of len 0 is answered empty at once;
 *  - WaitProcess answers {status}: the exit code, or 128+signal;
 *  - RemoveContainer with timeout 0 waits for as long as it takes.
 *  - with agent.passfd_listener_port, CreateContainer and ExecProcess take
 *    the host streams their stdin/stdout/stderr_port name (passfd.c).
 *  - an unknown container is INVALID_ARGUMENT ("Invalid container id"), an
 *    unknown or released process NOT_FOUND (upstream sandbox_err_to_ttrpc).
 * Deviations (stricter checks) are in doc/protocol.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.pb-c.h"
#include "cleanup.h"
#include "frontend.h"
#include "grpc_status.h"
#include "log.h"

/* Linux signals, as the executor and monitor accept them. */
#define MAX_SIGNAL 64u
#define MAX_HOSTNAME 64u

const char *containers_show(const char *s, char *buf, size_t size)
{
	size_t i = 0;
	for (; s[i] && i + 1 < size; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
	if (s[i] && size > 4)
		memcpy(buf + size - 4, "...", 4);
	return buf;
}

int containers_check_id(const char *id, bool allow_empty, const char *what, struct kerr *err)
{
	char b[80];
	if (!*id && !allow_empty)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL, "%s is empty", what);
	if (!ipc_id_valid(id, allow_empty))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "invalid %s \"%s\": must match [A-Za-z0-9][A-Za-z0-9_.-]* "
				       "and be shorter than %u bytes",
				       what, containers_show(id, b, sizeof(b)), IPC_ID_MAX);
	return 0;
}

static int check_ids(const char *cid, const char *eid, struct kerr *err)
{
	if (containers_check_id(cid, false, "container id", err) < 0)
		return err->code;
	if (eid && containers_check_id(eid, true, "exec id", err) < 0)
		return err->code;
	return 0;
}

/* ---- to the executor ---- */

RPC_HANDLER(rpc_create_sandbox)
{
	const Grpc__CreateSandboxRequest *r = (const Grpc__CreateSandboxRequest *)req;
	struct kerr err = { 0 };
	if (*r->sandbox_id && containers_check_id(r->sandbox_id, false, "sandbox id", &err) < 0)
		goto fail;
	if (strlen(r->hostname) > MAX_HOSTNAME) {
		kerr_set_status(&err, GRPC_INVALID_ARGUMENT, -EINVAL,
				"hostname of %zu bytes is longer than %u", strlen(r->hostname),
				MAX_HOSTNAME);
		goto fail;
	}
	executor_forward_message(fe, call, IPC_CREATE_SANDBOX_REQ, req);
	return;
fail:
	ttrpc_call_fail_err(call, &err);
}

RPC_HANDLER(rpc_destroy_sandbox)
{
	executor_forward(fe, call, IPC_DESTROY_SANDBOX_REQ, NULL, 0);
}

RPC_HANDLER(rpc_create_container)
{
	const Grpc__CreateContainerRequest *r = (const Grpc__CreateContainerRequest *)req;
	struct kerr err = { 0 };
	if (check_ids(r->container_id, NULL, &err) < 0)
		goto fail;
	if (!r->oci) {
		kerr_set_status(&err, GRPC_INVALID_ARGUMENT, -EINVAL,
				"container %s: the request has no OCI spec", r->container_id);
		goto fail;
	}
	if (!r->oci->process) {
		kerr_set_status(&err, GRPC_INVALID_ARGUMENT, -EINVAL,
				"container %s: the OCI spec has no process", r->container_id);
		goto fail;
	}
	if (!r->oci->root || !*r->oci->root->path) {
		kerr_set_status(&err, GRPC_INVALID_ARGUMENT, -EINVAL,
				"container %s: the OCI spec has no root path", r->container_id);
		goto fail;
	}
	log_info("CreateContainer %s", r->container_id);
	const uint32_t ports[3] = { r->stdin_port, r->stdout_port, r->stderr_port };
	passfd_forward(fe, call, IPC_CREATE_CONTAINER_REQ, req, r->container_id, "",
		       r->oci->process->terminal, ports);
	return;
fail:
	ttrpc_call_fail_err(call, &err);
}

RPC_HANDLER(rpc_start_container)
{
	const Grpc__StartContainerRequest *r = (const Grpc__StartContainerRequest *)req;
	struct kerr err = { 0 };
	if (check_ids(r->container_id, NULL, &err) < 0)
		goto fail;
	struct ipc_container_ref q = { 0 };
	snprintf(q.container_id, sizeof(q.container_id), "%s", r->container_id);
	executor_forward(fe, call, IPC_START_CONTAINER_REQ, &q, sizeof(q));
	return;
fail:
	ttrpc_call_fail_err(call, &err);
}

RPC_HANDLER(rpc_update_container)
{
	const Grpc__UpdateContainerRequest *r = (const Grpc__UpdateContainerRequest *)req;
	struct kerr err = { 0 };
	if (check_ids(r->container_id, NULL, &err) < 0)
		goto fail;
	log_info("UpdateContainer %s", r->container_id);
	/* The values are checked where the cgroup is: the executor. */
	executor_forward_message(fe, call, IPC_UPDATE_CONTAINER_REQ, req);
	return;
fail:
	ttrpc_call_fail_err(call, &err);
}

/* Pause, Resume and Stats requests carry only container_id. */
static void container_request(struct frontend *fe, struct ttrpc_call *call, const char *cid,
			      uint32_t type)
{
	struct kerr err = { 0 };
	if (check_ids(cid, NULL, &err) < 0) {
		ttrpc_call_fail_err(call, &err);
		return;
	}
	struct ipc_container_ref q = { 0 };
	snprintf(q.container_id, sizeof(q.container_id), "%s", cid);
	executor_forward(fe, call, type, &q, sizeof(q));
}

RPC_HANDLER(rpc_pause_container)
{
	container_request(fe, call, ((const Grpc__PauseContainerRequest *)req)->container_id,
			  IPC_PAUSE_CONTAINER_REQ);
}

RPC_HANDLER(rpc_resume_container)
{
	container_request(fe, call, ((const Grpc__ResumeContainerRequest *)req)->container_id,
			  IPC_RESUME_CONTAINER_REQ);
}

RPC_HANDLER(rpc_remove_container)
{
	const Grpc__RemoveContainerRequest *r = (const Grpc__RemoveContainerRequest *)req;
	struct kerr err = { 0 };
	if (check_ids(r->container_id, NULL, &err) < 0)
		goto fail;
	struct ipc_container_remove q = { .timeout_s = r->timeout };
	snprintf(q.container_id, sizeof(q.container_id), "%s", r->container_id);
	executor_forward(fe, call, IPC_REMOVE_CONTAINER_REQ, &q, sizeof(q));
	return;
fail:
	ttrpc_call_fail_err(call, &err);
}

RPC_HANDLER(rpc_exec_process)
{
	const Grpc__ExecProcessRequest *r = (const Grpc__ExecProcessRequest *)req;
	struct kerr err = { 0 };
	if (check_ids(r->container_id, NULL, &err) < 0 ||
	    containers_check_id(r->exec_id, false, "exec id", &err) < 0)
		goto fail;
	if (!r->process) {
		kerr_set_status(&err, GRPC_INVALID_ARGUMENT, -EINVAL,
				"container %s exec %s: the request has no process", r->container_id,
				r->exec_id);
		goto fail;
	}
	const uint32_t ports[3] = { r->stdin_port, r->stdout_port, r->stderr_port };
	passfd_forward(fe, call, IPC_EXEC_PROCESS_REQ, req, r->container_id, r->exec_id,
		       r->process->terminal, ports);
	return;
fail:
	ttrpc_call_fail_err(call, &err);
}

RPC_HANDLER(rpc_signal_process)
{
	const Grpc__SignalProcessRequest *r = (const Grpc__SignalProcessRequest *)req;
	struct kerr err = { 0 };
	if (check_ids(r->container_id, r->exec_id, &err) < 0)
		goto fail;
	if (r->signal < 1 || r->signal > MAX_SIGNAL) {
		kerr_set_status(&err, GRPC_INVALID_ARGUMENT, -EINVAL,
				"signal %u is not a signal number (1..%u)", r->signal, MAX_SIGNAL);
		goto fail;
	}
	struct ipc_process_signal q = { .signal = r->signal };
	snprintf(q.container_id, sizeof(q.container_id), "%s", r->container_id);
	snprintf(q.exec_id, sizeof(q.exec_id), "%s", r->exec_id);
	executor_forward(fe, call, IPC_SIGNAL_PROCESS_REQ, &q, sizeof(q));
	return;
fail:
	ttrpc_call_fail_err(call, &err);
}

/* The answer, a StatsContainerResponse, is decoded (executor_forward) before it
 * goes back: the host gets only a well-formed message of the declared type. */
RPC_HANDLER(rpc_stats_container)
{
	container_request(fe, call, ((const Grpc__StatsContainerRequest *)req)->container_id,
			  IPC_STATS_CONTAINER_REQ);
}

/* ---- to the monitor ---- */

RPC_HANDLER(rpc_wait_process)
{
	const Grpc__WaitProcessRequest *r = (const Grpc__WaitProcessRequest *)req;
	struct kerr err = { 0 };
	if (check_ids(r->container_id, r->exec_id, &err) < 0)
		goto fail;
	monitors_wait_process(fe, call, r->container_id,
			      ipc_exec_name(r->container_id, r->exec_id));
	return;
fail:
	ttrpc_call_fail_err(call, &err);
}

RPC_HANDLER(rpc_write_stdin)
{
	const Grpc__WriteStreamRequest *r = (const Grpc__WriteStreamRequest *)req;
	struct kerr err = { 0 };
	if (check_ids(r->container_id, r->exec_id, &err) < 0)
		goto fail;
	if (r->data.len == 0) {
		/* Upstream: an empty write is the end of stdin. The empty OK
		 * reply decodes as WriteStreamResponse{len: 0}. */
		monitors_close_stdin(fe, call, r->container_id,
				     ipc_exec_name(r->container_id, r->exec_id));
		return;
	}
	monitors_write_stdin(fe, call, r);
	return;
fail:
	ttrpc_call_fail_err(call, &err);
}

static void read_stream(struct frontend *fe, struct ttrpc_call *call, const ProtobufCMessage *req,
			unsigned stream)
{
	const Grpc__ReadStreamRequest *r = (const Grpc__ReadStreamRequest *)req;
	struct kerr err = { 0 };
	if (check_ids(r->container_id, r->exec_id, &err) < 0)
		goto fail;
	if (r->len == 0) {
		/* Upstream reads into an empty buffer: an empty answer, now. */
		if (!monitors_known(fe, r->container_id)) {
			kerr_set_status(&err, GRPC_INVALID_ARGUMENT, -ENOENT,
					"Invalid container id %s", r->container_id);
			goto fail;
		}
		ttrpc_call_reply(call, NULL);
		return;
	}
	/* A ttRPC answer could carry up to 4 MiB, but one monitor message
	 * carries a chunk; a shorter read is what read(2) semantics allow. */
	uint32_t len = r->len < IPC_STDIO_CHUNK ? r->len : IPC_STDIO_CHUNK;
	monitors_read_stream(fe, call, r->container_id, ipc_exec_name(r->container_id, r->exec_id),
			     stream, len);
	return;
fail:
	ttrpc_call_fail_err(call, &err);
}

RPC_HANDLER(rpc_read_stdout)
{
	read_stream(fe, call, req, IPC_STREAM_STDOUT);
}

RPC_HANDLER(rpc_read_stderr)
{
	read_stream(fe, call, req, IPC_STREAM_STDERR);
}

RPC_HANDLER(rpc_close_stdin)
{
	const Grpc__CloseStdinRequest *r = (const Grpc__CloseStdinRequest *)req;
	struct kerr err = { 0 };
	if (check_ids(r->container_id, r->exec_id, &err) < 0)
		goto fail;
	monitors_close_stdin(fe, call, r->container_id, ipc_exec_name(r->container_id, r->exec_id));
	return;
fail:
	ttrpc_call_fail_err(call, &err);
}

RPC_HANDLER(rpc_tty_win_resize)
{
	const Grpc__TtyWinResizeRequest *r = (const Grpc__TtyWinResizeRequest *)req;
	struct kerr err = { 0 };
	if (check_ids(r->container_id, r->exec_id, &err) < 0)
		goto fail;
	if (r->row > 0xffff || r->column > 0xffff) {
		kerr_set_status(&err, GRPC_INVALID_ARGUMENT, -EINVAL,
				"window size %ux%u does not fit a terminal (at most 65535x65535)",
				r->row, r->column);
		goto fail;
	}
	monitors_tty_win_resize(fe, call, r->container_id,
				ipc_exec_name(r->container_id, r->exec_id), (uint16_t)r->row,
				(uint16_t)r->column);
	return;
fail:
	ttrpc_call_fail_err(call, &err);
}

/* RemoveStaleVirtiofsShareMounts: no fields; the executor does the work. */
RPC_HANDLER(rpc_remove_stale_virtiofs_share_mounts)
{
	executor_forward(fe, call, IPC_REMOVE_STALE_VIRTIOFS_SHARE_MOUNTS_REQ, NULL, 0);
}

RPC_HANDLER(rpc_update_ephemeral_mounts)
{
	const Grpc__UpdateEphemeralMountsRequest *r = (const void *)req;
	if (r->n_storages > 64) {
		ttrpc_call_fail(call, GRPC_INVALID_ARGUMENT,
				"UpdateEphemeralMounts: more than 64 storages");
		return;
	}
	executor_forward_message(fe, call, IPC_UPDATE_EPHEMERAL_MOUNTS_REQ, req);
}
