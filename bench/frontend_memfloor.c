/* SPDX-License-Identifier: Apache-2.0 */
/*
 * frontend_memfloor.c - bench only, never installed: kata-agent-frontend
 * with ReadStdout/ReadStderr answered from memory, at once, with len zero
 * bytes, for bench/stdio's floor row: what a Go containerd/ttrpc client
 * and OUR ttRPC server cost for a 32 KiB answer with no stdio path behind
 * it, against the same client's Health on the same connection.
 *
 * The binary is the front-end's own main.c and library, linked with
 * -Wl,--wrap=monitors_read_stream: containers.c's read_stream (id checks,
 * the len cap) runs as in the agent, and only the call into the monitor
 * path comes here. Nothing else changes: the same seccomp filter, the
 * same reply code (monitors_reply_read, as deliver() in monitors.c).
 * bench/stdio copies the agent's binaries into a scratch directory with
 * this one as kata-agent-frontend (the parent looks for its helpers next
 * to itself first).
 */
#include <stdint.h>

#include "frontend.h"

void __wrap_monitors_read_stream(struct frontend *fe, struct ttrpc_call *call, const char *cid,
				 const char *eid, unsigned stream, uint32_t len);

static void on_sent(void *data, bool sent)
{
	(void)data;
	(void)sent;
}

void __wrap_monitors_read_stream(struct frontend *fe, struct ttrpc_call *call, const char *cid,
				 const char *eid, unsigned stream, uint32_t len)
{
	static uint8_t zeros[IPC_STDIO_CHUNK];
	(void)fe;
	(void)cid;
	(void)eid;
	(void)stream;
	/* read_stream capped len at IPC_STDIO_CHUNK */
	monitors_reply_read(call, zeros, len, on_sent, NULL);
}
