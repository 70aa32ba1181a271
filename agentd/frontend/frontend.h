/* SPDX-License-Identifier: Apache-2.0 */
/*
 * frontend.h - the front-end's state and its internal interfaces:
 *   (common/confine.c: confine_self(&confine_frontend, ...): empty root, no
 *   privileges, seccomp)
 *   executor.c  requests to the executor and matching of their replies
 *   monitors.c     the per-container monitor channels: stdio, wait, resize
 *   containers.c   the container RPCs: checks, then to executor or monitor
 *   diagnostic.c   GetDiagnosticData: to the executor, the log made UTF-8
 *   metrics.c      GetMetrics: collected by the executor, checked here
 *   oom.c          GetOOMEvent: waiting calls and the long poll to the executor
 *   passfd.c       fd-passthrough stdio: the listener, streams waiting for
 *                  the request that names them
 *   guest.c        guest-wide requests: checks, then to the executor
 *   network.c      the guest network RPCs: to the executor, answers decoded
 *   rpc.c          ttRPC dispatch: catalog, endpoint policy, decode, table
 */
#ifndef KATA_FRONTEND_H
#define KATA_FRONTEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "htab.h"
#include "ipc.h"
#include "ipc_pending.h"
#include "loop.h"
#include "options.h"
#include "ttrpc.h"

struct fe_mon;
struct oom_waiter;

struct frontend {
	struct loop *loop;
	struct ttrpc_server *server;
	struct ipc_chan *exec; /* NULL once the executor channel closed */
	char executor_gone_reason[128];
	struct ipc_pending_list pending; /* requests awaiting the executor's reply */
	struct fe_mon *mons;             /* monitor channels, one per container */
	size_t n_mons;
	struct htab mon_ids; /* the listed ones by container id */
	uint64_t mon_serial; /* the last fe_mon serial handed out */
	size_t stash_bytes;  /* output held in the readers' stashes (monitors.c) */
	unsigned generation;
	bool stopping; /* SIGTERM: the agent is shutting down */
	/* GetOOMEvent (oom.c): calls waiting, oldest first; whether an
	 * GET_OOM_EVENT_REQ is outstanding; an event received while no call
	 * waited (not yet acknowledged to the executor). */
	struct oom_waiter *oom_waiters;
	size_t n_oom_waiters;
	bool oom_polling;
	bool oom_have_spare;
	char oom_spare[IPC_ID_MAX];
	/* Only allowed_endpoints and the vsock peer CIDs are set: the parent
	 * passes them on argv. */
	struct agent_options policy;
	unsigned long peers_refused; /* vsock peers refused since the last log */
	uint64_t peer_refusal_logged;
	/* fd-passthrough stdio (passfd.c): the listener (-1: none), the
	 * accepted streams no request has named yet */
	int passfd_listen;
	/* agent.passfd_direct (--passfd-direct): the stdout/stderr streams of
	 * a process without a terminal go to the executor as its own fds;
	 * otherwise (upstream's semantics) to its monitor, which splices the
	 * process's pipes into them */
	bool passfd_direct;
	struct fe_stream *streams;
	unsigned n_streams;
	struct loop_timer *streams_timer;
	unsigned long streams_refused;
	uint64_t streams_refusal_logged;
	/* requests waiting (at most PASSFD_WAIT_MS) for a stream they name */
	struct passfd_op *passfd_waiting;
	unsigned n_passfd_waiting;
};

/* ---- executor.c ---- */

/* Called once per request: reply is the executor's answer, of the type the
 * declaration gives the request (its protobuf payload decoded in
 * reply->in), or NULL with failure set (ERROR from the executor, a reply
 * that does not decode, channel closed). call may be NULL (internal
 * request, or the ttRPC call was cancelled meanwhile: then the callback is
 * not called at all). */
typedef void (*executor_reply_fn)(struct frontend *fe, struct ttrpc_call *call,
				  const struct ipc_msg *reply, const struct kerr *failure);

#define EXEC_MAX_PENDING 1024

int executor_start(struct frontend *fe, int sock, struct kerr *err);
/* Send a request of type; fn runs when its reply arrives. On failure
 * (channel gone, too many pending) nothing is queued and err says why
 * (status UNAVAILABLE or RESOURCE_EXHAUSTED). */
int executor_request(struct frontend *fe, struct ttrpc_call *call, uint32_t type,
		     const void *payload, size_t len, executor_reply_fn fn, struct kerr *err);
void executor_stop(struct frontend *fe);
/* Forward a request whose reply is the call's answer as it is: OK answers
 * empty, a protobuf reply with the message decoded (INTERNAL when it does
 * not decode: the host only ever gets a well-formed message of the
 * declared type), ERROR with its status and text. */
void executor_forward(struct frontend *fe, struct ttrpc_call *call, uint32_t type,
		      const void *payload, size_t len);
/* The same for a decoded protobuf request, re-encoded (so the executor gets
 * only the fields we understood). */
void executor_forward_message(struct frontend *fe, struct ttrpc_call *call, uint32_t type,
			      const ProtobufCMessage *req);
/* A request with a context: fn runs exactly once, with the reply or the
 * failure, or with call, reply and failure NULL when the ttRPC call was
 * cancelled meanwhile: ctx is always given back. On failure (returns < 0)
 * fn does not run and ctx is the caller's. */
typedef void (*executor_ctx_fn)(struct frontend *fe, struct ttrpc_call *call,
				const struct ipc_msg *reply, const struct kerr *failure, void *ctx);
int executor_request_message(struct frontend *fe, struct ttrpc_call *call, uint32_t type,
			     const ProtobufCMessage *req, executor_ctx_fn fn, void *ctx,
			     struct kerr *err);

/* ---- monitors.c ---- */

/* IPC_MONITOR_ATTACH: fd (taken) is the channel to cid's monitor; replaces
 * an existing one for the same id. */
int monitors_attach(struct frontend *fe, const char *cid, int fd, struct kerr *err);
bool monitors_known(struct frontend *fe, const char *cid);
void monitors_stop(struct frontend *fe);
/* Each answers the call itself (now, or when the monitor replies); ids are
 * already checked. len is 1..IPC_STDIO_CHUNK. */
void monitors_read_stream(struct frontend *fe, struct ttrpc_call *call, const char *cid,
			  const char *eid, unsigned stream, uint32_t len);
/* Answer a read_stream call with the n bytes at data (empty: EOF), sent
 * from where they are: no packed copy (ttrpc_call_reply_iov, fn and
 * fn_data as there). */
void monitors_reply_read(struct ttrpc_call *call, const uint8_t *data, size_t n, ttrpc_sent_fn fn,
			 void *fn_data);
struct Grpc__WriteStreamRequest;
/* req's data (not empty) is copied: the call outlives the request. */
void monitors_write_stdin(struct frontend *fe, struct ttrpc_call *call,
			  const struct Grpc__WriteStreamRequest *req);
void monitors_close_stdin(struct frontend *fe, struct ttrpc_call *call, const char *cid,
			  const char *eid);
void monitors_tty_win_resize(struct frontend *fe, struct ttrpc_call *call, const char *cid,
			     const char *eid, uint16_t rows, uint16_t cols);
void monitors_wait_process(struct frontend *fe, struct ttrpc_call *call, const char *cid,
			   const char *eid);

/* ---- the RPC handlers (rpc.c's table): each answers call exactly once,
 * now or later; req, decoded and checked against the connection's bounds,
 * is rpc_dispatch's, freed when the handler returns ---- */

#define RPC_HANDLER(name) \
	void name(struct frontend *fe, struct ttrpc_call *call, const ProtobufCMessage *req)
RPC_HANDLER(rpc_get_guest_details);
RPC_HANDLER(rpc_create_sandbox);
RPC_HANDLER(rpc_destroy_sandbox);
RPC_HANDLER(rpc_create_container);
RPC_HANDLER(rpc_start_container);
RPC_HANDLER(rpc_remove_container);
RPC_HANDLER(rpc_exec_process);
RPC_HANDLER(rpc_signal_process);
RPC_HANDLER(rpc_update_container);
RPC_HANDLER(rpc_pause_container);
RPC_HANDLER(rpc_resume_container);
RPC_HANDLER(rpc_stats_container);
RPC_HANDLER(rpc_update_ephemeral_mounts);
RPC_HANDLER(rpc_remove_stale_virtiofs_share_mounts);
RPC_HANDLER(rpc_wait_process);
RPC_HANDLER(rpc_write_stdin);
RPC_HANDLER(rpc_read_stdout);
RPC_HANDLER(rpc_read_stderr);
RPC_HANDLER(rpc_close_stdin);
RPC_HANDLER(rpc_tty_win_resize);

/* The host streams of a CreateContainer/ExecProcess (fds: stdin, stdout,
 * stderr, -1 for none; taken) go to the process's monitor; the call is
 * answered (OK, or the monitor's refusal) once it took them all. */
void monitors_passfd_attach(struct frontend *fe, struct ttrpc_call *call, const char *cid,
			    const char *eid, int fds[3]);

/* A container id (allow_empty false) or exec id from the host, checked by
 * the agent's one rule (ipc_id_valid): INVALID_ARGUMENT naming it (what)
 * otherwise. */
int containers_check_id(const char *id, bool allow_empty, const char *what, struct kerr *err);
/* s, from the host, made safe for an error message in buf (printable
 * ASCII, "..." when cut). */
const char *containers_show(const char *s, char *buf, size_t size);

/* ---- diagnostic.c ---- */
RPC_HANDLER(rpc_get_diagnostic_data);

/* ---- passfd.c ---- */

/* Streams waiting for a request, and how long each may wait. */
#define PASSFD_MAX_PENDING 128u
#define PASSFD_PENDING_MS 30000u
/* A request naming a stream not accepted yet waits this long for it
 * (upstream's take_stream: 3 tries 100 ms apart), at most this many such
 * requests at once (beyond, the request goes on without its streams). */
#define PASSFD_WAIT_MS 300u
#define PASSFD_MAX_WAITING 16u
/* fd: the passfd listening socket from the parent (fd 5). */
int passfd_start(struct frontend *fe, int fd, struct kerr *err);
void passfd_stop(struct frontend *fe);
/* Forward CreateContainer/ExecProcess (req, re-encoded) to the executor;
 * with a listener and a port set, the streams named by ports (stdin,
 * stdout, stderr) are taken first. Without a terminal, stdout and stderr
 * go to the executor just before the request (PASSFD_STREAM: they become
 * the process's own fds); the others are handed to the monitor once the
 * process exists, before the call is answered. */
void passfd_forward(struct frontend *fe, struct ttrpc_call *call, uint32_t type,
		    const ProtobufCMessage *req, const char *cid, const char *eid, bool terminal,
		    const uint32_t ports[3]);

/* ---- metrics.c ---- */

RPC_HANDLER(rpc_get_metrics);
/* The executor's GET_METRICS_REPLY text is fit for the host: 1..
 * IPC_METRICS_TEXT_MAX bytes of valid UTF-8 without control characters
 * other than '\n' and '\t', ending with '\n'. Status INTERNAL if not. */
int metrics_text_check(const uint8_t *p, size_t len, struct kerr *err);
/* ---- oom.c ---- */

#define OOM_MAX_WAITERS 1024u
RPC_HANDLER(rpc_get_oom_event);
/* Fail every waiting GetOOMEvent with UNAVAILABLE why (shutdown). */
void oom_client_stop(struct frontend *fe, const char *why);

/* ---- guest.c: guest-wide requests (SetGuestDateTime, ReseedRandomDev,
 * GetVolumeStats, CopyFile, OnlineCPUMem, MemHotplugByProbe, AddSwapPath,
 * SetPolicy, MemAgentMemcgSet, MemAgentCompactSet) ---- */
RPC_HANDLER(rpc_set_guest_date_time);
RPC_HANDLER(rpc_reseed_random_dev);
RPC_HANDLER(rpc_get_volume_stats);
RPC_HANDLER(rpc_copy_file);
RPC_HANDLER(rpc_online_cpu_mem);
RPC_HANDLER(rpc_mem_hotplug_by_probe);
RPC_HANDLER(rpc_add_swap_path);
RPC_HANDLER(rpc_mem_agent_memcg_set);
RPC_HANDLER(rpc_mem_agent_compact_set);
RPC_HANDLER(rpc_set_policy);

/* ---- volumes.c: AddSwap, ResizeVolume ---- */
RPC_HANDLER(rpc_add_swap);
RPC_HANDLER(rpc_resize_volume);

/* ---- network.c: UpdateInterface, UpdateRoutes, ListInterfaces,
 * ListRoutes, AddARPNeighbors, GetIPTables, SetIPTables ---- */
RPC_HANDLER(rpc_update_interface);
RPC_HANDLER(rpc_update_routes);
RPC_HANDLER(rpc_list_interfaces);
RPC_HANDLER(rpc_list_routes);
RPC_HANDLER(rpc_add_arp_neighbors);
RPC_HANDLER(rpc_get_iptables);
RPC_HANDLER(rpc_set_iptables);

/* ---- rpc.c ---- */

void rpc_dispatch(struct ttrpc_call *call, void *data);

#endif
