/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ipc.h - the typed messages the agent's processes exchange over
 * SOCK_SEQPACKET socketpairs, in the spirit of OpenBSD's imsg.
 *
 * One datagram is one message: a 16-byte header {type, len, id, flags}
 * followed by at most IPC_MAX_INLINE payload bytes, plus at most one fd
 * (SCM_RIGHTS; MON_PROCESS_ADD alone carries 2 to 4). A payload larger than IPC_MAX_INLINE (only for types that
 * allow it) travels in a sealed memfd passed as the message's fd, with
 * IPC_F_MEMFD set and the header's len giving the payload size; such a
 * message carries no other fd.
 *
 * Payloads of small messages are fixed, packed-free C structs declared below
 * (both ends are the same build on the same machine, so there is no
 * endianness or versioning concern); big ones (OCI specs, later) are
 * protobuf bytes. doc/ipc.md lists every message with its sender, receiver,
 * bounds and what the receiver checks.
 *
 * Every receive is validated before a handler sees it: the type is known,
 * the payload length is within the type's bounds, exactly one whole message
 * arrived (MSG_TRUNC/MSG_CTRUNC are errors), the fd rule of the type holds
 * (a missing required fd or an unexpected one is an error; unexpected fds
 * are closed), and a memfd payload has all four seals and the announced size.
 *
 * Offers:
 *  - the message set, declared once in ipc_messages.def (enum ipc_type,
 *    ipc_type_info()), and the payload structs, each with its field check;
 *  - blocking-or-not primitives on a socket: ipc_send_fd(s), ipc_recv();
 *  - the agent's one id rule: ipc_id_valid(), ipc_id_field_check();
 *  - struct ipc_chan: a loop-driven channel with a bounded send queue and a
 *    per-receiver dispatch table {type, handler} for one peer role: anything
 *    not in the table is fatal for the channel (logged, channel closed,
 *    on_close called), like OpenSSH's monitor; who may send a type is the
 *    declaration's, checked against the table when the channel opens.
 */
#ifndef KATA_COMMON_IPC_H
#define KATA_COMMON_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "err.h"
#include "loop.h"

#define IPC_HDR_LEN 16u
/* Largest payload carried inline in the datagram. */
#define IPC_MAX_INLINE (64u * 1024u)
/* Largest payload of any message (OCI specs up to 4 MiB plus framing). */
#define IPC_MAX_PAYLOAD ((4u << 20) + 4096u)
/* Messages queued for sending on one channel before the peer is declared
 * stuck (it does not read) and the channel is closed. */
#define IPC_MAX_QUEUED 1024u
/* Longest GET_METRICS_REPLY text: it must fit one ttRPC response (4 MiB)
 * with the framing of grpc.Metrics and of the response around it. */
#define IPC_METRICS_TEXT_MAX ((4u << 20) - 4096u)
/* Longest iptables rule set, in (SetIPTables data) and out (the tools'
 * stdout): what one ttRPC message carries, less the framing of the request
 * or response and of grpc.{Get,Set}IPTables{Request,Response} around it. */
#define IPC_IPTABLES_DATA_MAX ((4u << 20) - 4096u)
/* Longest text of an IPC_ERROR reply, NUL included. */
#define IPC_ERROR_MSG_MAX 512u

struct ipc_hdr {
	uint32_t type;
	uint32_t len;   /* payload bytes (inline, or in the memfd) */
	uint32_t id;    /* request id; a reply carries its request's id; 0 = none */
	uint32_t flags; /* IPC_F_* */
};

#define IPC_F_MEMFD 0x1u /* payload is in the passed sealed memfd */
#define IPC_F_KNOWN IPC_F_MEMFD

/* Process roles; a channel knows the role of its peer. */
enum ipc_role {
	IPC_ROLE_PARENT = 0,
	IPC_ROLE_FRONTEND,
	IPC_ROLE_EXECUTOR,
	IPC_ROLE_MONITOR,  /* kata-agent-monitor, one per container */
	IPC_ROLE_LAUNCHER, /* the per-container launcher (executor code, root) */
	IPC_ROLE_SPAWNER,  /* the executor's fork without its seccomp filter */
	IPC_ROLE_POLICY,   /* kata-agent-policy: evaluates the agent policy */
	IPC_ROLE_TEST,     /* unit tests only; no process has this role */
	IPC_ROLE_COUNT,
};
#define IPC_ROLE_BIT(role) (1u << (role))

const char *ipc_role_name(enum ipc_role r);

/* Every message, declared once in ipc_messages.def: its number here, the
 * rest in ipc_type_info(). */
enum ipc_type {
	IPC_NONE = 0, /* no message: the reply of what is not a request */
#define IPC_MSG(name, num, ...) IPC_##name = num,
#include "ipc_messages.def"
#undef IPC_MSG
};
/* Every type number is below this. */
#define IPC_TYPE_LIMIT 256u

enum ipc_fd_rule {
	IPC_FD_NONE = 0, /* no fd may come with it */
	IPC_FD_REQUIRED, /* exactly one fd */
	IPC_FD_PROCESS,  /* MON_PROCESS_ADD: 2 fds with a tty, 2 to 4 without */
	IPC_FD_THREE,    /* SPAWN_X: exactly three */
};
/* Most fds any message carries (MON_PROCESS_ADD). */
#define IPC_MAX_FDS 4

enum ipc_payload_kind {
	IPC_PAYLOAD_NONE = 0,
	IPC_PAYLOAD_FIXED,      /* exactly one struct ipc_<struct_name> */
	IPC_PAYLOAD_FIXED_TAIL, /* the struct, then bytes */
	IPC_PAYLOAD_BYTES,
	IPC_PAYLOAD_PROTOBUF, /* a packed message of descriptor ipc_type_pb */
};

/* RPCs one message serves at most (CLOSE_STDIN_REQ: CloseStdin, WriteStdin). */
#define IPC_MAX_RPCS 2

/* A field check: p holds len bytes, within the type's bounds (and aligned
 * for its struct). */
typedef int (*ipc_check_fn)(const void *p, size_t len, struct kerr *err);

/* Longest type name (REMOVE_STALE_VIRTIOFS_SHARE_MOUNTS_REQ), payload
 * struct name and method name (RemoveStaleVirtiofsShareMounts), NUL
 * included (checked when the table is built). */
#define IPC_TYPE_NAME_MAX 40
#define IPC_STRUCT_NAME_MAX 32
#define IPC_RPC_NAME_MAX 32

/* One row of ipc_messages.def (the table: ipc_types.c). Text inline and no
 * pointer at all: the rows are read-only data a PIE does not relocate, so
 * no process copies them at start. The protobuf half (the descriptor, the
 * methods) is read through ipc_type_pb and ipc_type_rpc. ipc_types.c is
 * built twice: with that half (common_dep) and without it
 * (IPC_TYPES_NO_PROTOBUF, common_noproto_dep: the monitor and the parent,
 * which decode no protobuf and link no descriptor; ipc_type_pb is then NULL
 * and ipc_type_rpc NULL for every row). */
struct ipc_type_desc {
	uint32_t type;
	char name[IPC_TYPE_NAME_MAX]; /* "PING" */
	unsigned from, to;            /* IPC_ROLE_BIT masks: who sends it, who receives it */
	enum ipc_payload_kind kind;
	char struct_name[IPC_STRUCT_NAME_MAX]; /* FIXED, FIXED_TAIL: "ipc_ping"; else "" */
	uint32_t min_len, max_len;             /* payload bounds, inclusive */
	enum ipc_fd_rule fd;
	bool big;       /* may use a memfd payload above IPC_MAX_INLINE */
	uint32_t reply; /* IPC_NONE unless a request (then: id required) */
	/* ipc_type_rpc's names, "" past the last */
	char rpc_names[IPC_MAX_RPCS][IPC_RPC_NAME_MAX];
	bool internal;
};

/* The descriptor of a PROTOBUF row's payload; NULL for other rows. */
const ProtobufCMessageDescriptor *ipc_type_pb(const struct ipc_type_desc *d);
/* The grpc.AgentService methods a front-end request serves, i from 0,
 * NULL past the last; none with internal (PING) or for what the front-end
 * does not send. */
const char *ipc_type_rpc(const struct ipc_type_desc *d, size_t i);

/* The row's field check (CHECK(x): ipc_check_x), NULL for NO_CHECK. */
ipc_check_fn ipc_type_check(const struct ipc_type_desc *d);
/* NULL for an unknown type. */
const struct ipc_type_desc *ipc_type_info(uint32_t type);
const char *ipc_type_name(uint32_t type); /* "PING", or "type#N" */
/* The declaration's rows in number order: for (t = NULL; (t = ipc_type_next(t));). */
const struct ipc_type_desc *ipc_type_next(const struct ipc_type_desc *prev);

/* ---- payloads ---- */

struct ipc_ping {
	uint64_t cookie; /* echoed in PONG */
};

/* SetGuestDateTime: seconds and microseconds since the Epoch. */
struct ipc_guest_time {
	int64_t sec;
	int64_t usec;
};

/* OnlineCPUMem: bring nb_cpus hotplugged CPUs online (0: none), and every
 * offline memory block unless cpu_only. */
struct ipc_online_cpu_mem {
	uint32_t nb_cpus;
	uint8_t wait;     /* 0/1: answer once done, not at once */
	uint8_t cpu_only; /* 0/1 */
	uint8_t pad[2];   /* must be zero */
};
/* Booleans 0/1, pad zero. */
int ipc_check_online_cpu_mem(const void *p, size_t len, struct kerr *err);

/* Bounds of the guest-wide requests. */
#define IPC_PATH_MAX 4096u
#define IPC_RESEED_MAX (1u << 20)
#define IPC_MEM_PROBE_MAX 4096u
/* MEM_HOTPLUG_BY_PROBE_REQ: a whole number of u64 addresses. */
int ipc_check_mem_probe(const void *p, size_t len, struct kerr *err);
/* GET_VOLUME_STATS_REQ, ADD_SWAP_PATH_REQ: a path without NUL (the
 * receiver adds one). */
int ipc_check_path(const void *p, size_t len, struct kerr *err);

/* AddSwap: the disk's PCI path, slots from the root bus (function 0). */
#define IPC_PCI_PATH_MAX 16
struct ipc_add_swap_device {
	uint32_t n;                      /* 1..IPC_PCI_PATH_MAX */
	uint32_t slot[IPC_PCI_PATH_MAX]; /* 0..31; zero beyond n */
};
/* n 1..IPC_PCI_PATH_MAX, slots 0..31, zero beyond n. */
int ipc_check_add_swap_device(const void *p, size_t len, struct kerr *err);

/* ResizeVolume: grow the filesystem mounted at the path that follows. */
struct ipc_resize_volume {
	uint64_t size; /* bytes; 0: the whole device */
	char path[];
};
/* A path without NUL (the receiver adds one). */
int ipc_check_resize_volume(const void *p, size_t len, struct kerr *err);

struct ipc_guest_details_req {
	uint8_t mem_block_size;    /* 0/1: report the memory block size */
	uint8_t mem_hotplug_probe; /* 0/1: report whether the probe file exists */
	uint8_t pad[6];            /* must be zero */
};
/* Booleans 0/1, pad zero. */
int ipc_check_guest_details_req(const void *p, size_t len, struct kerr *err);

struct ipc_guest_details_reply {
	uint64_t mem_block_size_bytes;
	uint8_t support_mem_hotplug_probe; /* 0/1 */
	uint8_t init_daemon;               /* 0/1: the agent runs as PID 1 */
	uint8_t supports_seccomp;          /* 0/1: container seccomp filters work */
	uint8_t pad;                       /* must be zero */
	uint32_t storage_handlers;         /* bit i: ipc_storage_driver_name(i) is handled */
};
/* Booleans 0/1, pad zero, no storage driver bit past the list. */
int ipc_check_guest_details_reply(const void *p, size_t len, struct kerr *err);

/* The storage drivers GetGuestDetails can report, by bit number
 * (upstream's handler names and ours); NULL past the last. */
#define IPC_STORAGE_DRIVERS_MAX 32u
const char *ipc_storage_driver_name(unsigned bit);

/* Variable length: the fixed part, then a NUL-terminated message of 1..
 * IPC_ERROR_MSG_MAX bytes ending exactly at the payload's end. */
struct ipc_error {
	int32_t grpc_status; /* 1..16 (grpc_status.h) */
	int32_t errno_code;  /* negative errno or 0 */
	char msg[];
};
/* Status 1..16, errno -4095..0, exactly one NUL, at the end. */
int ipc_check_error(const void *p, size_t len, struct kerr *err);

struct ipc_ctl_new_frontend {
	uint32_t generation;  /* the front-end's start count, for logs */
	int32_t frontend_pid; /* > 0: the front-end, for GetMetrics (the executor
			       * is not its parent and could not tell otherwise) */
};
/* frontend_pid > 0. */
int ipc_check_ctl_new_frontend(const void *p, size_t len, struct kerr *err);

/* Container and exec ids: [A-Za-z0-9][A-Za-z0-9_.-]*, at most IPC_ID_MAX-1
 * bytes, NUL-padded; an empty exec id names the container's init process. */
#define IPC_ID_MAX 128

/* The one id rule of the agent, for every module that handles container or
 * exec ids: [A-Za-z0-9][A-Za-z0-9_.-]*, shorter than IPC_ID_MAX; "" only if
 * allow_empty (exec ids, where "" is the init). Such an id is safe as a path
 * component (no '/', never "." or ".."). */
bool ipc_id_valid(const char *s, bool allow_empty);
/* The same for a fixed IPC_ID_MAX field: NUL-terminated inside it, NUL-padded
 * to its end, and ipc_id_valid. what names the field in the error. */
int ipc_id_field_check(const char field[IPC_ID_MAX], bool allow_empty, const char *what,
		       struct kerr *err);
/* The name a process goes by inside the agent: "" for the container's init,
 * which the host names "" or by the container id (the Kata runtime's
 * CreateContainer sends exec_id = container id and uses it for every later
 * call on the init); any other exec id is its own name. Returns eid or "". */
const char *ipc_exec_name(const char *container_id, const char *exec_id);

struct ipc_container_ref {
	char container_id[IPC_ID_MAX];
};
/* The container id (not empty). */
int ipc_check_container_ref(const void *p, size_t len, struct kerr *err);

struct ipc_exec_ref {
	char container_id[IPC_ID_MAX];
	char exec_id[IPC_ID_MAX]; /* "" = the init process */
};
/* Container id, exec id (may be empty). */
int ipc_check_exec_ref(const void *p, size_t len, struct kerr *err);

struct ipc_container_remove {
	char container_id[IPC_ID_MAX];
	uint32_t timeout_s; /* 0 = no timeout (upstream semantics) */
	uint32_t pad;       /* must be zero */
};
/* Container id, pad. */
int ipc_check_container_remove(const void *p, size_t len, struct kerr *err);

/* GetDiagnosticData's log types: upstream's names, by number
 * (ipc_diag_log_name). */
enum ipc_diag_log { IPC_DIAG_TERMINATION_LOG = 1 };
/* The name of log type t ("termination_log"), NULL if it is none; and the
 * type of a name, 0 if it is none. */
const char *ipc_diag_log_name(uint32_t t);
uint32_t ipc_diag_log_type(const char *name);
/* GET_DIAGNOSTIC_DATA_REQ's answer is the log's first bytes as they are
 * (the front-end makes them UTF-8): Kubernetes' cap on a termination
 * message. */
#define IPC_DIAG_DATA_MAX 4096u

struct ipc_diagnostic_req {
	char container_id[IPC_ID_MAX];
	uint32_t log_type; /* enum ipc_diag_log */
	uint32_t pad;      /* must be zero */
};
/* Container id, a known log type, pad. */
int ipc_check_diagnostic_req(const void *p, size_t len, struct kerr *err);

struct ipc_process_signal {
	char container_id[IPC_ID_MAX];
	char exec_id[IPC_ID_MAX];
	uint32_t signal; /* 1..64 */
	uint32_t pad;    /* must be zero */
};
/* Container id, exec id (may be empty), signal 1..64, pad. */
int ipc_check_process_signal(const void *p, size_t len, struct kerr *err);

enum ipc_stream { IPC_STREAM_STDOUT = 1, IPC_STREAM_STDERR = 2 };

/* MON_PASSFD_ATTACH: a host stream (agent.passfd_listener_port) that
 * becomes one stdio stream of a process. stream: 0 stdin, or enum
 * ipc_stream. Also LAUNCH_STDIO: the stream that is to be fd `stream`
 * (1 or 2, the launcher refuses 0) of the process exec_id. */
#define IPC_PASSFD_STDIN 0u
struct ipc_passfd_attach {
	char exec_id[IPC_ID_MAX];
	uint32_t stream; /* 0 stdin, 1 stdout, 2 stderr */
	uint32_t pad;    /* must be zero */
};
/* Exec id (may be empty: the init), stream 0..2, pad. */
int ipc_check_passfd_attach(const void *p, size_t len, struct kerr *err);

/* PASSFD_STREAM: a host stream that is to BE the stdout or stderr of the
 * process the next CreateContainer/ExecProcess for these ids starts
 * (a process without a terminal; doc/architecture.md). */
struct ipc_passfd_stream {
	char container_id[IPC_ID_MAX];
	char exec_id[IPC_ID_MAX]; /* "" for the init */
	uint32_t stream;          /* enum ipc_stream: 1 stdout, 2 stderr */
	uint32_t pad;             /* must be zero */
};
/* Container id, exec id (may be empty), stream 1..2, pad. */
int ipc_check_passfd_stream(const void *p, size_t len, struct kerr *err);

/* Largest chunk of stdio data in one message (inline, never a memfd). */
#define IPC_STDIO_CHUNK (60u * 1024u)
/* READ_STREAM_REQs a monitor holds per stream (the one it answers next and
 * those queued behind it); one more is FAILED_PRECONDITION. The front-end's
 * read-ahead asks for up to this many chunks at once, so that one wake-up
 * of each side moves them all. */
#define IPC_STDIO_READS_MAX 4u

struct ipc_stdio_read {
	char exec_id[IPC_ID_MAX];
	uint32_t stream;  /* enum ipc_stream */
	uint32_t max_len; /* 1..IPC_STDIO_CHUNK */
	/* READ_STREAM_ACK carried by the read: everything of this stream
	 * before ack reached the host; 0: nothing new. Saves a message per
	 * read when a read follows the reply at once (read-ahead). */
	uint64_t ack;
};
/* Exec id, stream 1 or 2, max_len 1..IPC_STDIO_CHUNK (ack: any; the
 * monitor ignores one outside what it sent, as READ_STREAM_ACK's). */
int ipc_check_stdio_read(const void *p, size_t len, struct kerr *err);

/* Followed by 0..IPC_STDIO_CHUNK bytes of data; 0 bytes means EOF. */
struct ipc_stdio_data {
	uint64_t offset; /* stream offset of the first byte (for ACK) */
	uint8_t data[];
};
/* offset + data length does not overflow. */
int ipc_check_stdio_data(const void *p, size_t len, struct kerr *err);

struct ipc_stdio_ack {
	char exec_id[IPC_ID_MAX];
	uint32_t stream;
	uint32_t pad;    /* must be zero */
	uint64_t offset; /* everything before this offset reached the host */
};
/* Exec id, stream 1 or 2, pad. */
int ipc_check_stdio_ack(const void *p, size_t len, struct kerr *err);

/* Followed by 1..IPC_STDIO_CHUNK bytes to write. */
struct ipc_stdio_write {
	char exec_id[IPC_ID_MAX];
	uint8_t data[];
};
/* Exec id. */
int ipc_check_stdio_write(const void *p, size_t len, struct kerr *err);

struct ipc_stdio_written {
	uint64_t len;
};
/* len 1..IPC_STDIO_CHUNK. */
int ipc_check_stdio_written(const void *p, size_t len, struct kerr *err);

struct ipc_tty_resize {
	char exec_id[IPC_ID_MAX];
	uint16_t rows, cols;
	uint32_t pad; /* must be zero */
};
/* Exec id, pad. */
int ipc_check_tty_resize(const void *p, size_t len, struct kerr *err);

struct ipc_wait_reply {
	int32_t status; /* exit code, or 128+signal */
	uint32_t pad;   /* must be zero */
};
/* Status 0..255, pad. */
int ipc_check_wait_reply(const void *p, size_t len, struct kerr *err);

struct ipc_exited {
	char exec_id[IPC_ID_MAX];
	int32_t status; /* as in ipc_wait_reply */
	uint32_t pad;
};
/* Exec id, status 0..255, pad. */
int ipc_check_exited(const void *p, size_t len, struct kerr *err);

struct ipc_exec_name {
	char exec_id[IPC_ID_MAX]; /* never "" in MON_RELEASED: the init is not released */
};
/* Exec id, not empty. */
int ipc_check_exec_name(const void *p, size_t len, struct kerr *err);

struct ipc_launched {
	int32_t pid; /* in the agent's pid namespace */
	uint32_t pad;
};
/* pid > 0, pad. */
int ipc_check_launched(const void *p, size_t len, struct kerr *err);

/* SPAWN_X: what the spawner needs to fork X for a container (the spec
 * follows to the launcher in LAUNCH_INIT). Strings NUL-terminated and
 * NUL-padded. */
#define IPC_CGPATH_MAX 1024u
struct ipc_spawn_x {
	char container_id[IPC_ID_MAX];
	char cgroups_path[IPC_CGPATH_MAX]; /* the spec's linux.cgroupsPath, may be "" */
	char bundle[4096];                 /* absolute */
};
/* Container id, both strings terminated, the bundle absolute. */
int ipc_check_spawn_x(const void *p, size_t len, struct kerr *err);
/* SPAWN_MODPROBE: at most this many bytes of NUL-terminated strings. */
#define IPC_MODPROBE_ARGS_MAX 20000u
/* Ends with NUL, starts with an absolute path. */
int ipc_check_spawn_modprobe(const void *p, size_t len, struct kerr *err);

struct ipc_process_add {
	char exec_id[IPC_ID_MAX];
	int32_t pid;
	uint8_t terminal; /* 0/1: fds are [pidfd, pty master] */
	/* Without a terminal: IPC_DIRECT_* bits, the outputs whose host
	 * stream is the process's own fd (no pipe: its read end is left
	 * out of the fds). 0 with a terminal. */
	uint8_t direct;
	uint8_t pad[2];
};
#define IPC_DIRECT_STDOUT (1u << IPC_STREAM_STDOUT)
#define IPC_DIRECT_STDERR (1u << IPC_STREAM_STDERR)
/* Exec id, pid > 0, terminal 0/1, direct only IPC_DIRECT_* bits and 0
 * with a terminal, pad. */
int ipc_check_process_add(const void *p, size_t len, struct kerr *err);

/* Fds of MON_PROCESS_ADD: [pidfd, pty master] with a terminal,
 * [pidfd, stdin write end, stdout read end, stderr read end] without,
 * less the read end of each direct output (the others keep their order). */
unsigned ipc_process_nfds(bool terminal, unsigned direct);
enum {
	IPC_PFD_PIDFD = 0,
	IPC_PFD_PTY = 1,
	IPC_PFD_STDIN = 1,
	IPC_PFD_STDOUT = 2,
	IPC_PFD_STDERR = 3
};

/* ---- the agent policy ---- */

/* Longest policy text (a SetPolicy request fits one 4 MiB ttRPC message). */
#define IPC_POLICY_TEXT_MAX (4u << 20)
/* Longest print() output of one check, and the policy's base document
 * ({"pstate": {...}}, which its ops patch), carried back. */
#define IPC_POLICY_PRINTS_MAX (64u * 1024u)
#define IPC_POLICY_DATA_MAX (1u << 20)
/* Longest request type name ("RemoveStaleVirtiofsShareMountsRequest"). */
#define IPC_POLICY_ENDPOINT_MAX 64

/* CTL_POLICY: followed by the Rego text (1..IPC_POLICY_TEXT_MAX bytes). */
struct ipc_policy_text {
	char source[256]; /* where it came from, for logs: a path, "initdata" */
};
/* source NUL-terminated, NUL-padded, printable. */
int ipc_check_policy_text(const void *p, size_t len, struct kerr *err);

/* POLICY_LOAD: followed by text_len bytes of Rego, then data_len bytes of
 * JSON: the base document (an object; {"pstate": {}} for a new policy). */
struct ipc_policy_load {
	uint32_t text_len;
	uint32_t data_len;
};
/* text_len >= 1, data_len >= 2, and they add up to the tail. */
int ipc_check_policy_load(const void *p, size_t len, struct kerr *err);

/* POLICY_CHECK: followed by the input, JSON. */
struct ipc_policy_check {
	char endpoint[IPC_POLICY_ENDPOINT_MAX]; /* "CreateContainerRequest" */
	uint8_t dry_run;                        /* 0/1: the verdict only, ops are not applied */
	uint8_t pad[7];
};
/* endpoint [A-Za-z0-9_]+ NUL-padded, dry_run 0/1, pad zero. */
int ipc_check_policy_check(const void *p, size_t len, struct kerr *err);

/* POLICY_VERDICT: followed by prints_len bytes of print() output, then,
 * when data_changed, the new base document (JSON). */
struct ipc_policy_verdict {
	uint8_t allowed;      /* 0/1 */
	uint8_t data_changed; /* 0/1 */
	uint8_t pad[2];
	uint32_t prints_len;
};
/* Booleans, pad, prints_len within the tail; a pstate only when changed. */
int ipc_check_policy_verdict(const void *p, size_t len, struct kerr *err);

/* MON_POLICY: the requests a monitor answers that the policy denies. */
enum {
	IPC_MON_DENY_READ_STREAM = 1u << 0,    /* ReadStreamRequest: output redacted */
	IPC_MON_DENY_WRITE_STREAM = 1u << 1,   /* WriteStreamRequest */
	IPC_MON_DENY_CLOSE_STDIN = 1u << 2,    /* CloseStdinRequest */
	IPC_MON_DENY_TTY_WIN_RESIZE = 1u << 3, /* TtyWinResizeRequest */
	IPC_MON_DENY_WAIT_PROCESS = 1u << 4,   /* WaitProcessRequest */
	IPC_MON_DENY_ALL = (1u << 5) - 1,
};
struct ipc_mon_policy {
	uint32_t deny; /* IPC_MON_DENY_* */
	uint32_t pad;
};
/* No unknown bit, pad zero. */
int ipc_check_mon_policy(const void *p, size_t len, struct kerr *err);

/* ---- one received message ---- */

struct ipc_msg {
	struct ipc_hdr hdr;
	const uint8_t *payload; /* valid until ipc_msg_release */
	size_t len;
	int fd;               /* the passed fd (not for memfd payloads), or -1 */
	int fds[IPC_MAX_FDS]; /* all passed fds (fds[0] == fd), -1 padded */
	unsigned nfds;
	/* The checked input, typed by the declaration: the payload (a struct
	 * ipc_x for FIXED types, the bytes otherwise), or, once decoded
	 * (ipc_msg_decode; the dispatcher does it for requests), the protobuf
	 * message, freed with the message unless taken. */
	void *in;
	/* private */
	bool in_decoded;
	void *map;
	size_t map_len;
	uint8_t *buf;
	bool buf_rx; /* buf is a receive buffer: back to ipc_recv's spares */
};

/* Take ownership of the message's fd (-1 if none). */
int ipc_msg_take_fd(struct ipc_msg *m);
/* Take ownership of fds[i] (-1 if absent). */
int ipc_msg_take_fd_at(struct ipc_msg *m, unsigned i);
/* Decode a PROTOBUF type's payload into m->in (with the declaration's
 * descriptor); a payload that does not decode is INVALID_ARGUMENT "<RPC or
 * type>: the request is not a valid <Message>". No-op when decoded. */
int ipc_msg_decode(struct ipc_msg *m, struct kerr *err);
/* Take ownership of the decoded message (free it with
 * protobuf_c_message_free_unpacked); NULL when there is none. */
void *ipc_msg_take_in(struct ipc_msg *m);
/* For ipc_msg_release: free what ipc_msg_decode made (ipc_types.c, the
 * half that knows protobuf). */
void ipc_msg_free_decoded(void *in);
/* Free what the message holds; closes its fd unless taken, frees its
 * decoded message unless taken. */
void ipc_msg_release(struct ipc_msg *m);

/* Send one message on a SOCK_SEQPACKET socket. fd (-1 for none) is
 * borrowed. Payloads above IPC_MAX_INLINE go through a sealed memfd (the
 * type must allow it, and then fd must be -1). Returns -EAGAIN when a
 * non-blocking socket is full. */
int ipc_send_fd(int sock, uint32_t type, uint32_t id, const void *payload, size_t len, int fd,
		struct kerr *err);

/* The two ends of a new channel: an AF_UNIX SOCK_SEQPACKET socketpair,
 * close-on-exec; what names the channel in the error. */
int ipc_pair(int sp[2], const char *what, struct kerr *err);

/* Like ipc_send_fd with up to IPC_MAX_FDS fds (only types whose fd rule
 * allows several: IPC_FD_PROCESS). */
int ipc_send_fds(int sock, uint32_t type, uint32_t id, const void *payload, size_t len,
		 const int *fds, unsigned nfds, struct kerr *err);

/* Like ipc_send_fds with the payload in niov pieces (at most
 * IPC_SEND_IOV_MAX; a ring's two halves after a struct), sent as they are:
 * the same checks, on the bytes the pieces make. */
#define IPC_SEND_IOV_MAX 3u
struct iovec;
int ipc_sendv(int sock, uint32_t type, uint32_t id, const struct iovec *iov, unsigned niov,
	      const int *fds, unsigned nfds, struct kerr *err);

/* Receive and validate one message. Returns 1 with *m filled, 0 on EOF,
 * -EAGAIN when a non-blocking socket has nothing, negative on any violation
 * (err says which). */
int ipc_recv(int sock, struct ipc_msg *m, struct kerr *err);

/* Validate the payload of a message against its type's field rules (zero
 * padding, booleans 0/1, NUL-terminated text, status ranges). ipc_recv does
 * this; exposed for tests. */
int ipc_check_payload(uint32_t type, const uint8_t *p, size_t len, struct kerr *err);

/* ---- ERROR: built here, read here ---- */

#define IPC_ERROR_PAYLOAD_MAX (sizeof(struct ipc_error) + IPC_ERROR_MSG_MAX)
/* Lay an ERROR payload out in buf (IPC_ERROR_PAYLOAD_MAX bytes): the text
 * cut to IPC_ERROR_MSG_MAX - 1 bytes (and at an embedded NUL). Returns its
 * length. */
size_t ipc_error_build(void *buf, int grpc_status, int errno_code, const char *msg);
/* The ERROR payload for e: its status (default_status when e has no error
 * status, 1..16), its errno (0 unless -4095..-1) and its text. */
size_t ipc_error_payload(void *buf, const struct kerr *e, int default_status);
/* Answer request id with ERROR for e on a blocking socket (the launcher,
 * the spawner; a channel has ipc_chan_send_error). */
int ipc_send_error(int sock, uint32_t id, const struct kerr *e, int default_status,
		   struct kerr *err);
/* If m is an ERROR, fill failure with its status, errno (-EIO when it
 * carries none) and text, and return true; false for any other type. */
bool ipc_error_decode(const struct ipc_msg *m, struct kerr *failure);

/* ---- loop-driven channel ---- */

struct ipc_chan;

/* A handler gets a message the dispatcher checked (framing, bounds, fields,
 * the request id of a request) with its input in m->in (a request's
 * protobuf payload decoded: one that does not decode was answered ERROR
 * INVALID_ARGUMENT without calling the handler). The dispatcher releases m
 * after the handler, decoded message included, unless the handler took it
 * (ipc_msg_take_in, ipc_msg_take_fd). A handler returns 0, or negative to
 * declare the channel broken (the message was a protocol violation): the
 * channel is then closed. */
typedef int (*ipc_handler_fn)(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
/* Called once when the channel closes (EOF, error, violation, or
 * ipc_chan_close); the channel is freed after it returns. reason is NULL on
 * a clean EOF. */
typedef void (*ipc_close_fn)(struct ipc_chan *c, const char *reason, void *data);

/* One entry of a receiver's dispatch table: the handler of one type. Who
 * may send it is the declaration's business (ipc_messages.def). */
struct ipc_dispatch {
	uint32_t type;
	ipc_handler_fn fn;
};
/* As an entry's type: every reply the peer may send (a type some request
 * declares as its answer, and ERROR), for the requester's one reply
 * handler (ipc_pending_match then checks it answers a pending request). */
#define IPC_REPLIES 0xffffffffu
/* Whether some request declares type as its answer (ERROR: every one). */
bool ipc_type_is_reply(uint32_t type);

/* The table is borrowed and must outlive the channel; it ends with an
 * entry whose fn is NULL. It may list only types the declaration lets peer
 * send (else -EINVAL: a table that could never be used as written). Takes
 * ownership of sock (made non-blocking), also on failure. name is for logs
 * ("executor", "frontend#3"). */
int ipc_chan_new(struct ipc_chan **out, struct loop *l, int sock, const char *name,
		 enum ipc_role peer, const struct ipc_dispatch *table, ipc_close_fn on_close,
		 void *data, struct kerr *err);
/* Queue one message (see ipc_send_fd for fd and size rules) and write what
 * the socket takes now. Fails, without closing the channel, if the channel
 * is closed, the queue is full, or the message is invalid. A write error
 * (the peer is gone) closes the channel before this returns: on_close runs,
 * and unless the caller is inside one of this channel's callbacks the
 * channel is freed, so the caller must not touch c afterwards except through
 * a pointer its on_close clears. */
int ipc_chan_send(struct ipc_chan *c, uint32_t type, uint32_t id, const void *payload, size_t len,
		  int fd, struct kerr *err);
int ipc_chan_send_fds(struct ipc_chan *c, uint32_t type, uint32_t id, const void *payload,
		      size_t len, const int *fds, unsigned nfds, struct kerr *err);
/* The payload in pieces (ipc_sendv). A message is written straight from the
 * caller's bytes when none waits before it and the socket takes it; it is
 * copied only to wait in the queue. */
int ipc_chan_sendv(struct ipc_chan *c, uint32_t type, uint32_t id, const struct iovec *iov,
		   unsigned niov, const int *fds, unsigned nfds, struct kerr *err);
/* Answer request id with ERROR carrying e's status (default_status when
 * e's is not a valid error status), errno and text. */
int ipc_chan_send_error(struct ipc_chan *c, uint32_t id, const struct kerr *e, int default_status,
			struct kerr *err);
/* A gate runs before every handler of a channel (after the table's sender
 * check): 0 lets the message through; negative refuses it with err: the
 * channel answers ERROR (err's status and text) to the message's id, or
 * drops it when it has none, without calling the handler, and stays open.
 * The executor and the monitors gate the front-end's requests with the
 * endpoint policy (common/endpoints.h). */
typedef int (*ipc_gate_fn)(struct ipc_chan *c, const struct ipc_msg *m, void *data,
			   struct kerr *err);
void ipc_chan_set_gate(struct ipc_chan *c, ipc_gate_fn fn, void *data);
/*
 * A defer hook runs after the gate, a request's id rule and its decode, just
 * before the handler, for a check that needs a round trip (the agent policy:
 * the executor asks the policy process). It returns 0 to call the handler
 * now, negative to refuse the message like the gate (ERROR with err's status
 * and text, the channel stays open), or IPC_DEFERRED after
 * ipc_chan_defer(c, m) took the message: then exactly one of
 * ipc_deferred_resume (the handler runs, as if the message had just
 * arrived), ipc_deferred_refuse or ipc_deferred_drop ends it later. If the channel closes
 * meanwhile, both only free it.
 */
#define IPC_DEFERRED 1
struct ipc_deferred;
typedef int (*ipc_defer_fn)(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
void ipc_chan_set_defer(struct ipc_chan *c, ipc_defer_fn fn, void *data);
/* Take m (its payload, fds, decoded input) into a deferred request; NULL
 * when out of memory (m untouched). */
struct ipc_deferred *ipc_chan_defer(struct ipc_chan *c, struct ipc_msg *m);
const struct ipc_msg *ipc_deferred_msg(const struct ipc_deferred *d);
void ipc_deferred_resume(struct ipc_deferred *d);
/* ERROR with why's status (PERMISSION_DENIED when it has none). */
void ipc_deferred_refuse(struct ipc_deferred *d, const struct kerr *why);
/* Free it unanswered (the owner's teardown). */
void ipc_deferred_drop(struct ipc_deferred *d);
/* Close now: on_close(reason) runs, then the channel is freed. */
void ipc_chan_close(struct ipc_chan *c, const char *reason);
/* Free without calling on_close (owner teardown). */
void ipc_chan_free(struct ipc_chan *c);
const char *ipc_chan_name(const struct ipc_chan *c);
enum ipc_role ipc_chan_peer(const struct ipc_chan *c);
int ipc_chan_fd(const struct ipc_chan *c);
/* Next request id for this channel (never 0). */
uint32_t ipc_chan_next_id(struct ipc_chan *c);
size_t ipc_chan_queued(const struct ipc_chan *c);

#endif
