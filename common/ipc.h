/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ipc.h - the typed messages the agent's processes exchange over
 * SOCK_SEQPACKET socketpairs, in the spirit of OpenBSD's imsg.
 *
 * One datagram is one message: a 16-byte header {type, len, id, flags}
 * followed by at most IPC_MAX_INLINE payload bytes, plus at most one fd
 * (SCM_RIGHTS; MON_PROCESS_ADD alone carries 2 or 4). A payload larger than IPC_MAX_INLINE (only for types that
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
 *  - the message set (enum ipc_type, payload structs, ipc_type_info());
 *  - blocking-or-not primitives on a socket: ipc_send_fd(s), ipc_recv();
 *  - the agent's one id rule: ipc_id_valid(), ipc_id_field_check();
 *  - struct ipc_chan: a loop-driven channel with a bounded send queue and a
 *    per-receiver dispatch table {type, allowed senders, handler}: anything
 *    not in the table, or from a sender role not allowed, is fatal for the
 *    channel (logged, channel closed, on_close called), like OpenSSH's
 *    monitor.
 */
#ifndef KATA_COMMON_IPC_H
#define KATA_COMMON_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
/* Longest METRICS_REPLY text: it must fit one ttRPC response (4 MiB)
 * with the framing of grpc.Metrics and of the response around it. */
#define IPC_METRICS_TEXT_MAX ((4u << 20) - 4096u)
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
	IPC_ROLE_TEST, /* unit tests only; no process has this role */
	IPC_ROLE_COUNT,
};
#define IPC_FROM(role) (1u << (role))

const char *ipc_role_name(enum ipc_role r);

enum ipc_type {
	IPC_PING = 1,               /* frontend -> executor: round trip */
	IPC_PONG = 2,               /* executor -> frontend */
	IPC_GUEST_DETAILS_REQ = 3,  /* frontend -> executor */
	IPC_GUEST_DETAILS_REPLY = 4,/* executor -> frontend */
	IPC_ERROR = 5,              /* executor -> frontend: a request failed */
	IPC_CTL_NEW_FRONTEND = 6,   /* parent -> executor: fd = new front-end channel */
	IPC_TEST_BLOB = 7,          /* tests only: any bytes, up to IPC_MAX_PAYLOAD */
	IPC_CTL_SANDBOX_DESTROYED = 11, /* executor -> parent: no payload; DestroySandbox
					 * was answered: stop the agent (as upstream) */

	/* ---- containers: front-end -> executor (replies: OK or ERROR) ---- */
	IPC_SANDBOX_CREATE_REQ = 20,   /* protobuf grpc.CreateSandboxRequest (big) */
	IPC_SANDBOX_DESTROY_REQ = 21,  /* no payload */
	IPC_CONTAINER_CREATE_REQ = 22, /* protobuf grpc.CreateContainerRequest (big) */
	IPC_CONTAINER_START_REQ = 23,  /* struct ipc_container_ref */
	IPC_CONTAINER_REMOVE_REQ = 24, /* struct ipc_container_remove */
	IPC_PROCESS_EXEC_REQ = 25,     /* protobuf grpc.ExecProcessRequest (big) */
	IPC_PROCESS_SIGNAL_REQ = 26,   /* struct ipc_process_signal */
	IPC_OK = 27,                   /* executor/monitor/launcher: request done; no payload */
	IPC_MONITOR_ATTACH = 28,       /* executor -> front-end: struct ipc_container_ref
					* + fd: the front-end's end of that container's
					* stdio channel (sent before the CREATE reply, and
					* to a restarted front-end for every container) */
	IPC_CONTAINER_UPDATE_REQ = 29, /* protobuf grpc.UpdateContainerRequest (big) */
	IPC_CONTAINER_PAUSE_REQ = 30,  /* struct ipc_container_ref (replied once frozen) */
	IPC_CONTAINER_RESUME_REQ = 31, /* struct ipc_container_ref (replied once thawed) */
	IPC_CONTAINER_STATS_REQ = 32,  /* struct ipc_container_ref -> STATS_REPLY or ERROR */
	IPC_CONTAINER_STATS_REPLY = 33,/* executor -> front-end: protobuf
					* grpc.StatsContainerResponse (big), decoded by
					* the front-end before it answers */
	IPC_OOM_EVENT_REQ = 34,        /* no payload: a long poll for the oldest OOM event;
					* also acknowledges the event of this channel's
					* previous OOM_EVENT_REPLY (doc/ipc.md "OOM events") */
	IPC_OOM_EVENT_REPLY = 35,      /* executor -> front-end: struct ipc_container_ref,
					* the container whose cgroup recorded an OOM kill */

	/* ---- GetMetrics: the front-end has no /proc, the executor reads it ---- */
	IPC_METRICS_REQ = 36,   /* front-end -> executor: no payload -> METRICS_REPLY or ERROR */
	IPC_METRICS_REPLY = 37, /* executor -> front-end: Prometheus text,
				 * 1..IPC_METRICS_TEXT_MAX bytes (big), no NUL; the
				 * front-end checks it is printable UTF-8 before it
				 * answers the host */

	/* ---- guest network, front-end -> executor (network.c) ---- */
	IPC_NET_UPDATE_INTERFACE_REQ = 90, /* protobuf grpc.UpdateInterfaceRequest (big)
					    * -> NET_INTERFACE_REPLY */
	IPC_NET_INTERFACE_REPLY = 91,      /* executor -> front-end: protobuf types.Interface */
	IPC_NET_UPDATE_ROUTES_REQ = 92,    /* protobuf grpc.UpdateRoutesRequest (big)
					    * -> NET_ROUTES_REPLY */
	IPC_NET_ROUTES_REPLY = 93,         /* executor -> front-end: protobuf grpc.Routes (big) */
	IPC_NET_LIST_INTERFACES_REQ = 94,  /* no payload -> NET_INTERFACES_REPLY */
	IPC_NET_INTERFACES_REPLY = 95,     /* executor -> front-end: protobuf grpc.Interfaces
					    * (big) */
	IPC_NET_LIST_ROUTES_REQ = 96,      /* no payload -> NET_ROUTES_REPLY */
	IPC_NET_ADD_ARP_REQ = 97,          /* protobuf grpc.AddARPNeighborsRequest (big) -> OK */

	/* ---- guest-wide requests, front-end -> executor (guest_ops.c) ---- */
	IPC_GUEST_SET_TIME_REQ = 100, /* struct ipc_guest_time -> OK or ERROR */
	IPC_GUEST_RESEED_REQ = 101,   /* 1..IPC_RESEED_MAX bytes of entropy (big) -> OK */
	IPC_VOLUME_STATS_REQ = 102,   /* a path, 1..IPC_PATH_MAX-1 bytes, no NUL
				       * -> VOLUME_STATS_REPLY or ERROR */
	IPC_VOLUME_STATS_REPLY = 103, /* executor -> front-end: protobuf
				       * grpc.VolumeStatsResponse */
	IPC_COPY_FILE_REQ = 104,      /* protobuf grpc.CopyFileRequest (big) -> OK */
	IPC_ONLINE_CPU_MEM_REQ = 105, /* struct ipc_online_cpu_mem -> OK or ERROR (with
				       * wait: once online, up to ~10 s) */
	IPC_MEM_PROBE_REQ = 106,      /* 1..IPC_MEM_PROBE_MAX u64 addresses -> OK or ERROR */
	IPC_ADD_SWAP_REQ = 107,       /* a path, 1..IPC_PATH_MAX-1 bytes, no NUL -> OK */
	IPC_EPHEMERAL_UPDATE_REQ = 108, /* protobuf grpc.UpdateEphemeralMountsRequest (big)
					 * -> OK (sandbox.c) */
	IPC_STALE_SHARES_REQ = 115,   /* no payload: RemoveStaleVirtiofsShareMounts -> OK
				       * (storage_revalidate_shares) */

	/* ---- devices, front-end -> executor (devices/volume_ops.c) ---- */
	IPC_ADD_SWAP_DEVICE_REQ = 130, /* AddSwap: struct ipc_add_swap_device -> OK or ERROR,
					* once the disk is found (up to
					* agent.hotplug_timeout) and swapped on */
	IPC_RESIZE_VOLUME_REQ = 131,   /* struct ipc_resize_volume + a path (1..IPC_PATH_MAX-1
					* bytes, no NUL) -> OK or ERROR */

	/* ---- stdio and exits: front-end <-> monitor (per-container channel) ---- */
	IPC_STDIO_READ_REQ = 40,   /* struct ipc_stdio_read -> STDIO_DATA or ERROR */
	IPC_STDIO_DATA = 41,       /* struct ipc_stdio_data + bytes; 0 bytes = EOF */
	IPC_STDIO_ACK = 42,        /* struct ipc_stdio_ack (no reply): bytes handed to the host */
	IPC_STDIO_WRITE_REQ = 43,  /* struct ipc_stdio_write + bytes -> STDIO_WRITTEN or ERROR */
	IPC_STDIO_WRITTEN = 44,    /* struct ipc_stdio_written */
	IPC_STDIO_CLOSE_REQ = 45,  /* struct ipc_exec_ref -> OK or ERROR */
	IPC_TTY_RESIZE_REQ = 46,   /* struct ipc_tty_resize -> OK or ERROR */
	IPC_WAIT_REQ = 47,         /* struct ipc_exec_ref -> WAIT_REPLY or ERROR (may take long) */
	IPC_WAIT_REPLY = 48,       /* struct ipc_wait_reply */

	/* ---- executor <-> monitor ---- */
	IPC_MON_NEW_FRONTEND = 60, /* executor -> monitor: fd = new front-end channel end */
	IPC_MON_SIGNAL = 61,       /* executor -> monitor: struct ipc_process_signal -> OK or ERROR */
	IPC_MON_EXITED = 62,       /* monitor -> executor: struct ipc_exited (no reply) */
	IPC_MON_SHUTDOWN = 63,     /* executor -> monitor: no payload; exit once nothing runs */
	IPC_MON_RELEASED = 64,     /* monitor -> executor: struct ipc_exec_name (no reply): an
				    * exec was waited for and drained; its id is free again */

	/* ---- executor <-> launcher, launcher -> monitor ---- */
	IPC_LAUNCH_START = 80,     /* executor -> launcher: no payload; release the init -> OK/ERROR */
	IPC_LAUNCH_EXEC = 81,      /* executor -> launcher: protobuf grpc.ExecProcessRequest
				    * (already checked by the executor; big) -> LAUNCHED or ERROR */
	IPC_LAUNCHED = 82,         /* launcher -> executor: struct ipc_launched */
	IPC_MON_PROCESS_ADD = 83,  /* launcher -> monitor: struct ipc_process_add + fds
				    * [pidfd, stdin, stdout, stderr] or [pidfd, pty master]
				    * -> OK (the launcher replies to the executor only after it) */
	IPC_LAUNCH_INIT = 87,      /* executor -> launcher: protobuf grpc.CreateContainerRequest
				    * (checked, with the guest's hooks and the pod's
				    * namespaces in; big) -> LAUNCHED or ERROR */

	/* ---- executor <-> spawner, its fork without the executor's seccomp
	 * filter (agentd/executor/spawner.c); blocking, one at a time ---- */
	IPC_SPAWN_X = 84,          /* executor -> spawner: struct ipc_spawn_x + fds [the
				    * launcher's end of EL, the monitor's ends of EM and
				    * FM] -> SPAWNED or ERROR */
	IPC_SPAWN_MODPROBE = 85,   /* executor -> spawner: modprobe's path then its
				    * arguments, each NUL-terminated + fd (its stdout and
				    * stderr) -> SPAWNED or ERROR */
	IPC_SPAWNED = 86,          /* spawner -> executor: struct ipc_launched, the pid of
				    * a new child of the executor (CLONE_PARENT) */
	IPC_TYPE_MAX,
};

enum ipc_fd_rule {
	IPC_FD_NONE = 0,  /* no fd may come with it */
	IPC_FD_REQUIRED,  /* exactly one fd */
	IPC_FD_PROCESS,   /* MON_PROCESS_ADD: 2 fds with a tty, 4 without */
	IPC_FD_THREE,     /* SPAWN_X: exactly three */
};
/* Most fds any message carries (MON_PROCESS_ADD). */
#define IPC_MAX_FDS 4

struct ipc_type_desc {
	uint32_t type;
	const char *name;
	uint32_t min_len, max_len; /* payload bounds, inclusive */
	enum ipc_fd_rule fd;
	bool big;                  /* may use a memfd payload above IPC_MAX_INLINE */
};

/* NULL for an unknown type. */
const struct ipc_type_desc *ipc_type_info(uint32_t type);
const char *ipc_type_name(uint32_t type); /* "PING", or "type#N" */

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

/* Bounds of the guest-wide requests. */
#define IPC_PATH_MAX 4096u
#define IPC_RESEED_MAX (1u << 20)
#define IPC_MEM_PROBE_MAX 4096u

/* AddSwap: the disk's PCI path, slots from the root bus (function 0). */
#define IPC_PCI_PATH_MAX 16
struct ipc_add_swap_device {
	uint32_t n;                     /* 1..IPC_PCI_PATH_MAX */
	uint32_t slot[IPC_PCI_PATH_MAX]; /* 0..31; zero beyond n */
};

/* ResizeVolume: grow the filesystem mounted at the path that follows. */
struct ipc_resize_volume {
	uint64_t size; /* bytes; 0: the whole device */
	char path[];
};

struct ipc_guest_details_req {
	uint8_t mem_block_size;    /* 0/1: report the memory block size */
	uint8_t mem_hotplug_probe; /* 0/1: report whether the probe file exists */
	uint8_t pad[6];            /* must be zero */
};

struct ipc_guest_details_reply {
	uint64_t mem_block_size_bytes;
	uint8_t support_mem_hotplug_probe; /* 0/1 */
	uint8_t init_daemon;               /* 0/1: the agent runs as PID 1 */
	uint8_t supports_seccomp;          /* 0/1: container seccomp filters work */
	uint8_t pad;                       /* must be zero */
	uint32_t storage_handlers;         /* bit i: ipc_storage_driver_name(i) is handled */
};

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

struct ipc_ctl_new_frontend {
	uint32_t generation;  /* the front-end's start count, for logs */
	int32_t frontend_pid; /* > 0: the front-end, for GetMetrics (the executor
			       * is not its parent and could not tell otherwise) */
};

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

struct ipc_exec_ref {
	char container_id[IPC_ID_MAX];
	char exec_id[IPC_ID_MAX]; /* "" = the init process */
};

struct ipc_container_remove {
	char container_id[IPC_ID_MAX];
	uint32_t timeout_s; /* 0 = no timeout (upstream semantics) */
	uint32_t pad;       /* must be zero */
};

struct ipc_process_signal {
	char container_id[IPC_ID_MAX];
	char exec_id[IPC_ID_MAX];
	uint32_t signal; /* 1..64 */
	uint32_t pad;    /* must be zero */
};

enum ipc_stream { IPC_STREAM_STDOUT = 1, IPC_STREAM_STDERR = 2 };

/* Largest chunk of stdio data in one message (inline, never a memfd). */
#define IPC_STDIO_CHUNK (60u * 1024u)

struct ipc_stdio_read {
	char exec_id[IPC_ID_MAX];
	uint32_t stream;  /* enum ipc_stream */
	uint32_t max_len; /* 1..IPC_STDIO_CHUNK */
};

/* Followed by 0..IPC_STDIO_CHUNK bytes of data; 0 bytes means EOF. */
struct ipc_stdio_data {
	uint64_t offset; /* stream offset of the first byte (for ACK) */
	uint8_t data[];
};

struct ipc_stdio_ack {
	char exec_id[IPC_ID_MAX];
	uint32_t stream;
	uint32_t pad;    /* must be zero */
	uint64_t offset; /* everything before this offset reached the host */
};

/* Followed by 1..IPC_STDIO_CHUNK bytes to write. */
struct ipc_stdio_write {
	char exec_id[IPC_ID_MAX];
	uint8_t data[];
};

struct ipc_stdio_written {
	uint64_t len;
};

struct ipc_tty_resize {
	char exec_id[IPC_ID_MAX];
	uint16_t rows, cols;
	uint32_t pad; /* must be zero */
};

struct ipc_wait_reply {
	int32_t status; /* exit code, or 128+signal */
	uint32_t pad;   /* must be zero */
};

struct ipc_exited {
	char exec_id[IPC_ID_MAX];
	int32_t status; /* as in ipc_wait_reply */
	uint32_t pad;
};

struct ipc_exec_name {
	char exec_id[IPC_ID_MAX]; /* never "" in MON_RELEASED: the init is not released */
};

struct ipc_launched {
	int32_t pid; /* in the agent's pid namespace */
	uint32_t pad;
};

/* SPAWN_X: what the spawner needs to fork X for a container (the spec
 * follows to the launcher in LAUNCH_INIT). Strings NUL-terminated and
 * NUL-padded. */
#define IPC_CGPATH_MAX 1024u
struct ipc_spawn_x {
	char container_id[IPC_ID_MAX];
	char cgroups_path[IPC_CGPATH_MAX]; /* the spec's linux.cgroupsPath, may be "" */
	char bundle[4096];                 /* absolute */
};
/* SPAWN_MODPROBE: at most this many bytes of NUL-terminated strings. */
#define IPC_MODPROBE_ARGS_MAX 20000u

struct ipc_process_add {
	char exec_id[IPC_ID_MAX];
	int32_t pid;
	uint8_t terminal; /* 0/1: fds are [pidfd, pty master] */
	uint8_t pad[3];
};

/* Fds of MON_PROCESS_ADD: [pidfd, pty master] with a terminal,
 * [pidfd, stdin write end, stdout read end, stderr read end] without. */
unsigned ipc_process_nfds(bool terminal);
enum { IPC_PFD_PIDFD = 0, IPC_PFD_PTY = 1, IPC_PFD_STDIN = 1, IPC_PFD_STDOUT = 2,
       IPC_PFD_STDERR = 3 };

/* ---- one received message ---- */

struct ipc_msg {
	struct ipc_hdr hdr;
	const uint8_t *payload; /* valid until ipc_msg_release */
	size_t len;
	int fd;                 /* the passed fd (not for memfd payloads), or -1 */
	int fds[IPC_MAX_FDS];   /* all passed fds (fds[0] == fd), -1 padded */
	unsigned nfds;
	/* private */
	void *map;
	size_t map_len;
	uint8_t *buf;
};

/* Take ownership of the message's fd (-1 if none). */
int ipc_msg_take_fd(struct ipc_msg *m);
/* Take ownership of fds[i] (-1 if absent). */
int ipc_msg_take_fd_at(struct ipc_msg *m, unsigned i);
/* Free what the message holds; closes its fd unless taken. */
void ipc_msg_release(struct ipc_msg *m);

/* Send one message on a SOCK_SEQPACKET socket. fd (-1 for none) is
 * borrowed. Payloads above IPC_MAX_INLINE go through a sealed memfd (the
 * type must allow it, and then fd must be -1). Returns -EAGAIN when a
 * non-blocking socket is full. */
int ipc_send_fd(int sock, uint32_t type, uint32_t id, const void *payload, size_t len, int fd,
		struct kerr *err);

/* Like ipc_send_fd with up to IPC_MAX_FDS fds (only types whose fd rule
 * allows several: IPC_FD_PROCESS). */
int ipc_send_fds(int sock, uint32_t type, uint32_t id, const void *payload, size_t len,
		 const int *fds, unsigned nfds, struct kerr *err);

/* Receive and validate one message. Returns 1 with *m filled, 0 on EOF,
 * -EAGAIN when a non-blocking socket has nothing, negative on any violation
 * (err says which). */
int ipc_recv(int sock, struct ipc_msg *m, struct kerr *err);

/* Validate the payload of a message against its type's field rules (zero
 * padding, booleans 0/1, NUL-terminated text, status ranges). ipc_recv does
 * this; exposed for tests. */
int ipc_check_payload(uint32_t type, const uint8_t *p, size_t len, struct kerr *err);

/* Build an IPC_ERROR payload in buf (at least sizeof(struct ipc_error) +
 * IPC_ERROR_MSG_MAX bytes); returns its length. */
size_t ipc_error_build(void *buf, int grpc_status, int errno_code, const char *msg);

/* ---- loop-driven channel ---- */

struct ipc_chan;

/* A handler returns 0, or negative to declare the channel broken (the
 * message was a protocol violation): the channel is then closed. */
typedef int (*ipc_handler_fn)(struct ipc_chan *c, struct ipc_msg *m, void *data,
			      struct kerr *err);
/* Called once when the channel closes (EOF, error, violation, or
 * ipc_chan_close); the channel is freed after it returns. reason is NULL on
 * a clean EOF. */
typedef void (*ipc_close_fn)(struct ipc_chan *c, const char *reason, void *data);

struct ipc_dispatch {
	uint32_t type;
	unsigned senders; /* IPC_FROM(role) mask */
	ipc_handler_fn fn;
};

/* The table is borrowed and must outlive the channel; it ends with an
 * entry whose fn is NULL. Takes ownership of sock (made non-blocking).
 * name is for logs ("executor", "frontend#3"). */
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
