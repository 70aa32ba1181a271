/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ipc.c - typed messages over SOCK_SEQPACKET socketpairs (see ipc.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cleanup.h"
#include "grpc_status.h"
#include "ipc.h"
#include "log.h"

#define ALL_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
/* Room for more fds than any message may carry, so that a peer sending too
 * many is detected and its fds closed, instead of silently truncated by the
 * kernel. */
#define CMSG_FDS_MAX (IPC_MAX_FDS + 4)

#define FIXED(T) sizeof(struct T), sizeof(struct T)

/* No implicit padding: every byte of a fixed payload is checked. */
_Static_assert(sizeof(struct ipc_ctl_new_frontend) == 8, "ipc_ctl_new_frontend has padding");

static const struct ipc_type_desc types[] = {
	{ IPC_PING, "PING", sizeof(struct ipc_ping), sizeof(struct ipc_ping), IPC_FD_NONE, false },
	{ IPC_PONG, "PONG", sizeof(struct ipc_ping), sizeof(struct ipc_ping), IPC_FD_NONE, false },
	{ IPC_GUEST_DETAILS_REQ, "GUEST_DETAILS_REQ", sizeof(struct ipc_guest_details_req),
	  sizeof(struct ipc_guest_details_req), IPC_FD_NONE, false },
	{ IPC_GUEST_DETAILS_REPLY, "GUEST_DETAILS_REPLY", sizeof(struct ipc_guest_details_reply),
	  sizeof(struct ipc_guest_details_reply), IPC_FD_NONE, false },
	{ IPC_ERROR, "ERROR", sizeof(struct ipc_error) + 1,
	  sizeof(struct ipc_error) + IPC_ERROR_MSG_MAX, IPC_FD_NONE, false },
	{ IPC_CTL_NEW_FRONTEND, "CTL_NEW_FRONTEND", sizeof(struct ipc_ctl_new_frontend),
	  sizeof(struct ipc_ctl_new_frontend), IPC_FD_REQUIRED, false },
	{ IPC_TEST_BLOB, "TEST_BLOB", 0, IPC_MAX_PAYLOAD, IPC_FD_NONE, true },
	{ IPC_CTL_SANDBOX_DESTROYED, "CTL_SANDBOX_DESTROYED", 0, 0, IPC_FD_NONE, false },

	{ IPC_NET_UPDATE_INTERFACE_REQ, "NET_UPDATE_INTERFACE_REQ", 0, IPC_MAX_PAYLOAD, IPC_FD_NONE,
	  true },
	{ IPC_NET_INTERFACE_REPLY, "NET_INTERFACE_REPLY", 0, IPC_MAX_PAYLOAD, IPC_FD_NONE, true },
	{ IPC_NET_UPDATE_ROUTES_REQ, "NET_UPDATE_ROUTES_REQ", 0, IPC_MAX_PAYLOAD, IPC_FD_NONE, true },
	{ IPC_NET_ROUTES_REPLY, "NET_ROUTES_REPLY", 0, IPC_MAX_PAYLOAD, IPC_FD_NONE, true },
	{ IPC_NET_LIST_INTERFACES_REQ, "NET_LIST_INTERFACES_REQ", 0, 0, IPC_FD_NONE, false },
	{ IPC_NET_INTERFACES_REPLY, "NET_INTERFACES_REPLY", 0, IPC_MAX_PAYLOAD, IPC_FD_NONE, true },
	{ IPC_NET_LIST_ROUTES_REQ, "NET_LIST_ROUTES_REQ", 0, 0, IPC_FD_NONE, false },
	{ IPC_NET_ADD_ARP_REQ, "NET_ADD_ARP_REQ", 0, IPC_MAX_PAYLOAD, IPC_FD_NONE, true },

	{ IPC_GUEST_SET_TIME_REQ, "GUEST_SET_TIME_REQ", FIXED(ipc_guest_time), IPC_FD_NONE, false },
	{ IPC_GUEST_RESEED_REQ, "GUEST_RESEED_REQ", 1, IPC_RESEED_MAX, IPC_FD_NONE, true },
	{ IPC_VOLUME_STATS_REQ, "VOLUME_STATS_REQ", 1, IPC_PATH_MAX - 1, IPC_FD_NONE, false },
	{ IPC_VOLUME_STATS_REPLY, "VOLUME_STATS_REPLY", 0, 4096, IPC_FD_NONE, false },
	{ IPC_COPY_FILE_REQ, "COPY_FILE_REQ", 0, IPC_MAX_PAYLOAD, IPC_FD_NONE, true },
	{ IPC_ONLINE_CPU_MEM_REQ, "ONLINE_CPU_MEM_REQ", FIXED(ipc_online_cpu_mem), IPC_FD_NONE,
	  false },
	{ IPC_MEM_PROBE_REQ, "MEM_PROBE_REQ", 8, 8 * IPC_MEM_PROBE_MAX, IPC_FD_NONE, false },
	{ IPC_ADD_SWAP_REQ, "ADD_SWAP_REQ", 1, IPC_PATH_MAX - 1, IPC_FD_NONE, false },
	{ IPC_EPHEMERAL_UPDATE_REQ, "EPHEMERAL_UPDATE_REQ", 0, IPC_MAX_PAYLOAD, IPC_FD_NONE, true },
	{ IPC_STALE_SHARES_REQ, "STALE_SHARES_REQ", 0, 0, IPC_FD_NONE, false },
	{ IPC_ADD_SWAP_DEVICE_REQ, "ADD_SWAP_DEVICE_REQ", FIXED(ipc_add_swap_device), IPC_FD_NONE,
	  false },
	{ IPC_RESIZE_VOLUME_REQ, "RESIZE_VOLUME_REQ", sizeof(struct ipc_resize_volume) + 1,
	  sizeof(struct ipc_resize_volume) + IPC_PATH_MAX - 1, IPC_FD_NONE, false },

	/* An all-default protobuf message encodes as 0 bytes, so big requests
	 * start at 0; the executor's decoder and checks reject what is missing. */
	{ IPC_SANDBOX_CREATE_REQ, "SANDBOX_CREATE_REQ", 0, IPC_MAX_PAYLOAD, IPC_FD_NONE, true },
	{ IPC_SANDBOX_DESTROY_REQ, "SANDBOX_DESTROY_REQ", 0, 0, IPC_FD_NONE, false },
	{ IPC_CONTAINER_CREATE_REQ, "CONTAINER_CREATE_REQ", 0, IPC_MAX_PAYLOAD, IPC_FD_NONE, true },
	{ IPC_CONTAINER_START_REQ, "CONTAINER_START_REQ", FIXED(ipc_container_ref), IPC_FD_NONE,
	  false },
	{ IPC_CONTAINER_REMOVE_REQ, "CONTAINER_REMOVE_REQ", FIXED(ipc_container_remove),
	  IPC_FD_NONE, false },
	{ IPC_PROCESS_EXEC_REQ, "PROCESS_EXEC_REQ", 0, IPC_MAX_PAYLOAD, IPC_FD_NONE, true },
	{ IPC_PROCESS_SIGNAL_REQ, "PROCESS_SIGNAL_REQ", FIXED(ipc_process_signal), IPC_FD_NONE,
	  false },
	{ IPC_OK, "OK", 0, 0, IPC_FD_NONE, false },
	{ IPC_MONITOR_ATTACH, "MONITOR_ATTACH", FIXED(ipc_container_ref), IPC_FD_REQUIRED, false },
	{ IPC_CONTAINER_UPDATE_REQ, "CONTAINER_UPDATE_REQ", 0, IPC_MAX_PAYLOAD, IPC_FD_NONE, true },
	{ IPC_CONTAINER_PAUSE_REQ, "CONTAINER_PAUSE_REQ", FIXED(ipc_container_ref), IPC_FD_NONE,
	  false },
	{ IPC_CONTAINER_RESUME_REQ, "CONTAINER_RESUME_REQ", FIXED(ipc_container_ref), IPC_FD_NONE,
	  false },
	{ IPC_CONTAINER_STATS_REQ, "CONTAINER_STATS_REQ", FIXED(ipc_container_ref), IPC_FD_NONE,
	  false },
	/* A packed grpc.StatsContainerResponse, decoded by the front-end. Big:
	 * memory.stat keys, one percpu value per possible cpu and one entry per
	 * interface can pass 64 KiB on large guests. */
	{ IPC_CONTAINER_STATS_REPLY, "CONTAINER_STATS_REPLY", 0, IPC_MAX_PAYLOAD, IPC_FD_NONE,
	  true },
	{ IPC_METRICS_REQ, "METRICS_REQ", 0, 0, IPC_FD_NONE, false },
	/* Text, never empty (the scrape count is always there); above
	 * IPC_MAX_INLINE it travels in a memfd. */
	{ IPC_METRICS_REPLY, "METRICS_REPLY", 1, IPC_METRICS_TEXT_MAX, IPC_FD_NONE, true },
	{ IPC_OOM_EVENT_REQ, "OOM_EVENT_REQ", 0, 0, IPC_FD_NONE, false },
	{ IPC_OOM_EVENT_REPLY, "OOM_EVENT_REPLY", FIXED(ipc_container_ref), IPC_FD_NONE, false },

	{ IPC_STDIO_READ_REQ, "STDIO_READ_REQ", FIXED(ipc_stdio_read), IPC_FD_NONE, false },
	{ IPC_STDIO_DATA, "STDIO_DATA", sizeof(struct ipc_stdio_data),
	  sizeof(struct ipc_stdio_data) + IPC_STDIO_CHUNK, IPC_FD_NONE, false },
	{ IPC_STDIO_ACK, "STDIO_ACK", FIXED(ipc_stdio_ack), IPC_FD_NONE, false },
	{ IPC_STDIO_WRITE_REQ, "STDIO_WRITE_REQ", sizeof(struct ipc_stdio_write) + 1,
	  sizeof(struct ipc_stdio_write) + IPC_STDIO_CHUNK, IPC_FD_NONE, false },
	{ IPC_STDIO_WRITTEN, "STDIO_WRITTEN", FIXED(ipc_stdio_written), IPC_FD_NONE, false },
	{ IPC_STDIO_CLOSE_REQ, "STDIO_CLOSE_REQ", FIXED(ipc_exec_ref), IPC_FD_NONE, false },
	{ IPC_TTY_RESIZE_REQ, "TTY_RESIZE_REQ", FIXED(ipc_tty_resize), IPC_FD_NONE, false },
	{ IPC_WAIT_REQ, "WAIT_REQ", FIXED(ipc_exec_ref), IPC_FD_NONE, false },
	{ IPC_WAIT_REPLY, "WAIT_REPLY", FIXED(ipc_wait_reply), IPC_FD_NONE, false },

	{ IPC_MON_NEW_FRONTEND, "MON_NEW_FRONTEND", 0, 0, IPC_FD_REQUIRED, false },
	{ IPC_MON_SIGNAL, "MON_SIGNAL", FIXED(ipc_process_signal), IPC_FD_NONE, false },
	{ IPC_MON_EXITED, "MON_EXITED", FIXED(ipc_exited), IPC_FD_NONE, false },
	{ IPC_MON_SHUTDOWN, "MON_SHUTDOWN", 0, 0, IPC_FD_NONE, false },
	{ IPC_MON_RELEASED, "MON_RELEASED", FIXED(ipc_exec_name), IPC_FD_NONE, false },

	{ IPC_LAUNCH_START, "LAUNCH_START", 0, 0, IPC_FD_NONE, false },
	{ IPC_LAUNCH_EXEC, "LAUNCH_EXEC", 0, IPC_MAX_PAYLOAD, IPC_FD_NONE, true },
	{ IPC_LAUNCHED, "LAUNCHED", FIXED(ipc_launched), IPC_FD_NONE, false },
	{ IPC_MON_PROCESS_ADD, "MON_PROCESS_ADD", FIXED(ipc_process_add), IPC_FD_PROCESS, false },
	{ IPC_LAUNCH_INIT, "LAUNCH_INIT", 0, IPC_MAX_PAYLOAD, IPC_FD_NONE, true },
	{ IPC_SPAWN_X, "SPAWN_X", FIXED(ipc_spawn_x), IPC_FD_THREE, false },
	{ IPC_SPAWN_MODPROBE, "SPAWN_MODPROBE", 2, IPC_MODPROBE_ARGS_MAX, IPC_FD_REQUIRED, false },
	{ IPC_SPAWNED, "SPAWNED", FIXED(ipc_launched), IPC_FD_NONE, false },
};

const struct ipc_type_desc *ipc_type_info(uint32_t type)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == type)
			return &types[i];
	return NULL;
}

const char *ipc_type_name(uint32_t type)
{
	static char buf[24];
	const struct ipc_type_desc *d = ipc_type_info(type);
	if (d)
		return d->name;
	snprintf(buf, sizeof(buf), "type#%u", type);
	return buf;
}

const char *ipc_role_name(enum ipc_role r)
{
	switch (r) {
	case IPC_ROLE_PARENT: return "parent";
	case IPC_ROLE_FRONTEND: return "frontend";
	case IPC_ROLE_EXECUTOR: return "executor";
	case IPC_ROLE_MONITOR: return "monitor";
	case IPC_ROLE_LAUNCHER: return "launcher";
	case IPC_ROLE_TEST: return "test";
	default: return "unknown";
	}
}

/* Upstream's storage handler names (storage/mod.rs STORAGE_HANDLERS, the
 * driver types of kata-types' device.rs) and ours ("bind"), in a fixed
 * order: GUEST_DETAILS_REPLY names the ones the executor handles by bit. */
static const char *const storage_drivers[] = {
	"9p", "virtio-fs", "local", "ephemeral", "bind", "watchable-bind", "blk", "blk-ccw",
	"mmioblk", "scsi", "nvdimm", "overlayfs", "image_guest_pull",
};
_Static_assert(sizeof(storage_drivers) / sizeof(storage_drivers[0]) <= IPC_STORAGE_DRIVERS_MAX,
	       "storage driver bits");
_Static_assert(sizeof(struct ipc_guest_details_reply) == 16,
	       "ipc_guest_details_reply has padding");

const char *ipc_storage_driver_name(unsigned bit)
{
	return bit < sizeof(storage_drivers) / sizeof(storage_drivers[0]) ? storage_drivers[bit]
									   : NULL;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static bool id_char(char c, bool first)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return !first && (c == '_' || c == '.' || c == '-');
}

bool ipc_id_valid(const char *s, bool allow_empty)
{
	if (!s)
		return false;
	size_t n = strnlen(s, IPC_ID_MAX);
	if (n == IPC_ID_MAX)
		return false;
	if (n == 0)
		return allow_empty;
	for (size_t i = 0; i < n; i++)
		if (!id_char(s[i], i == 0))
			return false;
	return true;
}

int ipc_id_field_check(const char field[IPC_ID_MAX], bool allow_empty, const char *what,
		       struct kerr *err)
{
	const char *nul = memchr(field, '\0', IPC_ID_MAX);
	if (!nul)
		return kerr_set(err, -EPROTO, "%s not NUL-terminated within %u bytes", what,
				IPC_ID_MAX);
	size_t n = (size_t)(nul - field);
	/* NUL padding to the end: no hidden bytes after the id. */
	if (!all_zero((const uint8_t *)nul, IPC_ID_MAX - n))
		return kerr_set(err, -EPROTO, "%s has bytes after its terminating NUL", what);
	if (!ipc_id_valid(field, allow_empty))
		return kerr_set(err, -EPROTO, n ? "%s \"%.*s\" is not [A-Za-z0-9][A-Za-z0-9_.-]*"
					      : "%s is empty%.*s",
				what, n ? (int)n : 0, field);
	return 0;
}

const char *ipc_exec_name(const char *container_id, const char *exec_id)
{
	return strcmp(exec_id, container_id) == 0 ? "" : exec_id;
}

static int check_stream(const char *name, uint32_t stream, struct kerr *err)
{
	if (stream != IPC_STREAM_STDOUT && stream != IPC_STREAM_STDERR)
		return kerr_set(err, -EPROTO, "%s: stream %u is not 1 (stdout) or 2 (stderr)", name,
				stream);
	return 0;
}

static int check_status(const char *name, int32_t status, struct kerr *err)
{
	/* An exit code 0..255, or 128+signal (signals 1..64 stay below 256). */
	if (status < 0 || status > 255)
		return kerr_set(err, -EPROTO, "%s: status %d out of 0..255", name, status);
	return 0;
}

#define ID_CHECK(field, empty_ok, what)                                                      \
	do {                                                                                 \
		int r_ = ipc_id_field_check(field, empty_ok, what, err);                     \
		if (r_ < 0)                                                                  \
			return kerr_prefix(err, "%s: ", d->name);                            \
	} while (0)
#define PAD_CHECK(cond)                                                                      \
	do {                                                                                 \
		if (cond)                                                                    \
			return kerr_set(err, -EPROTO, "%s: nonzero padding", d->name);       \
	} while (0)

int ipc_check_payload(uint32_t type, const uint8_t *p, size_t len, struct kerr *err)
{
	const struct ipc_type_desc *d = ipc_type_info(type);
	if (!d)
		return kerr_set(err, -EPROTO, "unknown message type %u", type);
	if (len < d->min_len || len > d->max_len)
		return kerr_set(err, -EPROTO, "%s: payload of %zu bytes, expected %u..%u", d->name,
				len, d->min_len, d->max_len);

	switch (type) {
	case IPC_ONLINE_CPU_MEM_REQ: {
		struct ipc_online_cpu_mem r;
		memcpy(&r, p, sizeof(r));
		if (r.wait > 1 || r.cpu_only > 1)
			return kerr_set(err, -EPROTO, "%s: boolean field not 0/1", d->name);
		PAD_CHECK(!all_zero(r.pad, sizeof(r.pad)));
		break;
	}
	case IPC_MEM_PROBE_REQ:
		if (len % 8)
			return kerr_set(err, -EPROTO, "%s: %zu bytes is not a list of u64", d->name,
					len);
		break;
	case IPC_VOLUME_STATS_REQ:
	case IPC_ADD_SWAP_REQ:
		if (memchr(p, '\0', len))
			return kerr_set(err, -EPROTO, "%s: the path holds a NUL", d->name);
		break;
	case IPC_RESIZE_VOLUME_REQ:
		if (memchr(p + sizeof(struct ipc_resize_volume), '\0',
			   len - sizeof(struct ipc_resize_volume)))
			return kerr_set(err, -EPROTO, "%s: the path holds a NUL", d->name);
		break;
	case IPC_ADD_SWAP_DEVICE_REQ: {
		struct ipc_add_swap_device a;
		memcpy(&a, p, sizeof(a));
		if (a.n < 1 || a.n > IPC_PCI_PATH_MAX)
			return kerr_set(err, -EPROTO, "%s: %u slots", d->name, a.n);
		for (uint32_t i = 0; i < IPC_PCI_PATH_MAX; i++)
			if (i < a.n ? a.slot[i] > 31 : a.slot[i] != 0)
				return kerr_set(err, -EPROTO, "%s: slot %u is %u", d->name, i,
						a.slot[i]);
		break;
	}
	case IPC_GUEST_DETAILS_REQ: {
		struct ipc_guest_details_req r;
		memcpy(&r, p, sizeof(r));
		if (r.mem_block_size > 1 || r.mem_hotplug_probe > 1)
			return kerr_set(err, -EPROTO, "%s: boolean field not 0/1", d->name);
		if (!all_zero(r.pad, sizeof(r.pad)))
			return kerr_set(err, -EPROTO, "%s: nonzero padding", d->name);
		break;
	}
	case IPC_GUEST_DETAILS_REPLY: {
		struct ipc_guest_details_reply r;
		memcpy(&r, p, sizeof(r));
		if (r.support_mem_hotplug_probe > 1 || r.init_daemon > 1 || r.supports_seccomp > 1)
			return kerr_set(err, -EPROTO, "%s: boolean field not 0/1", d->name);
		if (r.pad)
			return kerr_set(err, -EPROTO, "%s: nonzero padding", d->name);
		for (unsigned b = 0; b < IPC_STORAGE_DRIVERS_MAX; b++)
			if ((r.storage_handlers & (1u << b)) && !ipc_storage_driver_name(b))
				return kerr_set(err, -EPROTO, "%s: unknown storage driver bit %u",
						d->name, b);
		break;
	}
	case IPC_ERROR: {
		struct ipc_error e;
		memcpy(&e, p, sizeof(e));
		if (e.grpc_status <= GRPC_OK || e.grpc_status > GRPC_UNAUTHENTICATED)
			return kerr_set(err, -EPROTO, "%s: status %d out of range", d->name,
					e.grpc_status);
		if (e.errno_code > 0 || e.errno_code < -4095)
			return kerr_set(err, -EPROTO, "%s: errno %d out of range", d->name,
					e.errno_code);
		size_t tlen = len - sizeof(e);
		/* Exactly one NUL, at the end: no hidden bytes after the text. */
		if (memchr(p + sizeof(e), '\0', tlen) != p + len - 1)
			return kerr_set(err, -EPROTO, "%s: message not NUL-terminated at its end",
					d->name);
		break;
	}
	case IPC_CTL_NEW_FRONTEND: {
		struct ipc_ctl_new_frontend n;
		memcpy(&n, p, sizeof(n));
		if (n.frontend_pid <= 0)
			return kerr_set(err, -EPROTO, "%s: front-end pid %d is not a pid", d->name,
					n.frontend_pid);
		break;
	}
	case IPC_CONTAINER_START_REQ:
	case IPC_CONTAINER_PAUSE_REQ:
	case IPC_CONTAINER_RESUME_REQ:
	case IPC_CONTAINER_STATS_REQ:
	case IPC_OOM_EVENT_REPLY:
	case IPC_MONITOR_ATTACH: {
		struct ipc_container_ref c;
		memcpy(&c, p, sizeof(c));
		ID_CHECK(c.container_id, false, "container id");
		break;
	}
	case IPC_CONTAINER_REMOVE_REQ: {
		struct ipc_container_remove c;
		memcpy(&c, p, sizeof(c));
		ID_CHECK(c.container_id, false, "container id");
		PAD_CHECK(c.pad);
		break;
	}
	case IPC_PROCESS_SIGNAL_REQ:
	case IPC_MON_SIGNAL: {
		struct ipc_process_signal s;
		memcpy(&s, p, sizeof(s));
		ID_CHECK(s.container_id, false, "container id");
		ID_CHECK(s.exec_id, true, "exec id");
		if (s.signal < 1 || s.signal > 64)
			return kerr_set(err, -EPROTO, "%s: signal %u out of 1..64", d->name,
					s.signal);
		PAD_CHECK(s.pad);
		break;
	}
	case IPC_STDIO_READ_REQ: {
		struct ipc_stdio_read r;
		memcpy(&r, p, sizeof(r));
		ID_CHECK(r.exec_id, true, "exec id");
		if (check_stream(d->name, r.stream, err) < 0)
			return -EPROTO;
		if (r.max_len < 1 || r.max_len > IPC_STDIO_CHUNK)
			return kerr_set(err, -EPROTO, "%s: max_len %u out of 1..%u", d->name,
					r.max_len, IPC_STDIO_CHUNK);
		break;
	}
	case IPC_STDIO_DATA: {
		struct ipc_stdio_data h;
		memcpy(&h, p, sizeof(h));
		if (h.offset > UINT64_MAX - (len - sizeof(h)))
			return kerr_set(err, -EPROTO, "%s: offset %llu overflows", d->name,
					(unsigned long long)h.offset);
		break;
	}
	case IPC_STDIO_ACK: {
		struct ipc_stdio_ack a;
		memcpy(&a, p, sizeof(a));
		ID_CHECK(a.exec_id, true, "exec id");
		if (check_stream(d->name, a.stream, err) < 0)
			return -EPROTO;
		PAD_CHECK(a.pad);
		break;
	}
	case IPC_STDIO_WRITE_REQ: {
		struct ipc_stdio_write w;
		memcpy(&w, p, sizeof(w));
		ID_CHECK(w.exec_id, true, "exec id");
		break;
	}
	case IPC_STDIO_WRITTEN: {
		struct ipc_stdio_written w;
		memcpy(&w, p, sizeof(w));
		if (w.len < 1 || w.len > IPC_STDIO_CHUNK)
			return kerr_set(err, -EPROTO, "%s: len %llu out of 1..%u", d->name,
					(unsigned long long)w.len, IPC_STDIO_CHUNK);
		break;
	}
	case IPC_STDIO_CLOSE_REQ:
	case IPC_WAIT_REQ: {
		struct ipc_exec_ref x;
		memcpy(&x, p, sizeof(x));
		ID_CHECK(x.container_id, false, "container id");
		ID_CHECK(x.exec_id, true, "exec id");
		break;
	}
	case IPC_TTY_RESIZE_REQ: {
		struct ipc_tty_resize t;
		memcpy(&t, p, sizeof(t));
		ID_CHECK(t.exec_id, true, "exec id");
		PAD_CHECK(t.pad);
		break;
	}
	case IPC_WAIT_REPLY: {
		struct ipc_wait_reply w;
		memcpy(&w, p, sizeof(w));
		if (check_status(d->name, w.status, err) < 0)
			return -EPROTO;
		PAD_CHECK(w.pad);
		break;
	}
	case IPC_MON_EXITED: {
		struct ipc_exited x;
		memcpy(&x, p, sizeof(x));
		ID_CHECK(x.exec_id, true, "exec id");
		if (check_status(d->name, x.status, err) < 0)
			return -EPROTO;
		PAD_CHECK(x.pad);
		break;
	}
	case IPC_MON_RELEASED: {
		struct ipc_exec_name x;
		memcpy(&x, p, sizeof(x));
		ID_CHECK(x.exec_id, false, "exec id");
		break;
	}
	case IPC_SPAWN_X: {
		struct ipc_spawn_x s;
		memcpy(&s, p, sizeof(s));
		ID_CHECK(s.container_id, false, "container id");
		if (!memchr(s.cgroups_path, '\0', sizeof(s.cgroups_path)) ||
		    !memchr(s.bundle, '\0', sizeof(s.bundle)) || s.bundle[0] != '/')
			return kerr_set(err, -EPROTO, "%s: cgroups path or bundle not a terminated "
					"string, or the bundle not absolute", d->name);
		break;
	}
	case IPC_SPAWN_MODPROBE:
		if (p[len - 1] != '\0' || p[0] != '/')
			return kerr_set(err, -EPROTO, "%s: not NUL-terminated strings starting with "
					"an absolute path", d->name);
		break;
	case IPC_SPAWNED:
	case IPC_LAUNCHED: {
		struct ipc_launched l;
		memcpy(&l, p, sizeof(l));
		if (l.pid <= 0)
			return kerr_set(err, -EPROTO, "%s: pid %d is not positive", d->name, l.pid);
		PAD_CHECK(l.pad);
		break;
	}
	case IPC_MON_PROCESS_ADD: {
		struct ipc_process_add a;
		memcpy(&a, p, sizeof(a));
		ID_CHECK(a.exec_id, true, "exec id");
		if (a.pid <= 0)
			return kerr_set(err, -EPROTO, "%s: pid %d is not positive", d->name, a.pid);
		if (a.terminal > 1)
			return kerr_set(err, -EPROTO, "%s: boolean field not 0/1", d->name);
		PAD_CHECK(!all_zero(a.pad, sizeof(a.pad)));
		break;
	}
	default:
		break;
	}
	return 0;
}

unsigned ipc_process_nfds(bool terminal)
{
	return terminal ? 2 : 4;
}

size_t ipc_error_build(void *buf, int grpc_status, int errno_code, const char *msg)
{
	struct ipc_error e = { .grpc_status = grpc_status, .errno_code = errno_code };
	size_t n = strnlen(msg ? msg : "", IPC_ERROR_MSG_MAX - 1);
	memcpy(buf, &e, sizeof(e));
	memcpy((uint8_t *)buf + sizeof(e), msg ? msg : "", n);
	((uint8_t *)buf)[sizeof(e) + n] = '\0';
	/* Text with an embedded NUL would fail the receiver's check: cut there. */
	n = strlen((char *)buf + sizeof(e));
	return sizeof(e) + n + 1;
}

/* ---- messages ready to go on the wire ---- */

struct outmsg {
	struct outmsg *next;
	struct ipc_hdr hdr;
	uint8_t *inline_payload; /* hdr.len bytes unless IPC_F_MEMFD */
	int fds[IPC_MAX_FDS];    /* owned; the memfd or dups of the caller's fds */
	unsigned nfds;
};

static void outmsg_free(struct outmsg *o)
{
	if (!o)
		return;
	for (unsigned i = 0; i < o->nfds; i++)
		if (o->fds[i] >= 0)
			close(o->fds[i]);
	free(o->inline_payload);
	free(o);
}

static int make_memfd(const void *payload, size_t len, struct kerr *err)
{
	cleanup_close int fd = memfd_create("kata-ipc", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return kerr_set(err, -errno, "memfd_create: %s", strerror(errno));
	const uint8_t *p = payload;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return kerr_set(err, -errno, "write memfd: %s", strerror(errno));
		}
		off += (size_t)w;
	}
	if (fcntl(fd, F_ADD_SEALS, ALL_SEALS) < 0)
		return kerr_set(err, -errno, "seal memfd: %s", strerror(errno));
	return take_fd(&fd);
}

/* How many fds a message of type d with this (already checked) payload
 * must carry. */
static unsigned fds_wanted(const struct ipc_type_desc *d, const void *payload)
{
	switch (d->fd) {
	case IPC_FD_REQUIRED:
		return 1;
	case IPC_FD_PROCESS: {
		struct ipc_process_add a;
		memcpy(&a, payload, sizeof(a));
		return ipc_process_nfds(a.terminal);
	}
	case IPC_FD_THREE:
		return 3;
	default:
		return 0;
	}
}

static int outmsg_new(struct outmsg **out, uint32_t type, uint32_t id, const void *payload,
		      size_t len, const int *fds, unsigned nfds, struct kerr *err)
{
	const struct ipc_type_desc *d = ipc_type_info(type);
	if (!d)
		return kerr_set(err, -EINVAL, "send: unknown message type %u", type);
	if (len < d->min_len || len > d->max_len)
		return kerr_set(err, -EMSGSIZE, "send %s: payload of %zu bytes, bounds %u..%u",
				d->name, len, d->min_len, d->max_len);
	/* The receiver would reject it: say so here, where the bug is. Big
	 * payloads have no field rules, so this costs nothing for them. */
	if (!d->big && ipc_check_payload(type, payload, len, err) < 0)
		return kerr_prefix(err, "send: ");
	if (nfds > IPC_MAX_FDS)
		return kerr_set(err, -EINVAL, "send %s: %u fds, at most %u", d->name, nfds,
				IPC_MAX_FDS);
	for (unsigned i = 0; i < nfds; i++)
		if (fds[i] < 0)
			return kerr_set(err, -EBADF, "send %s: fd #%u is invalid", d->name, i);
	unsigned want = fds_wanted(d, payload);
	if (nfds != want) {
		if (want == 0)
			return kerr_set(err, -EINVAL, "send %s: this type carries no fd", d->name);
		if (want == 1)
			return kerr_set(err, -EINVAL, "send %s: an fd is required", d->name);
		return kerr_set(err, -EINVAL, "send %s: %u fds given, %u required", d->name, nfds,
				want);
	}
	bool use_memfd = len > IPC_MAX_INLINE;
	if (use_memfd && !d->big)
		return kerr_set(err, -EMSGSIZE, "send %s: %zu bytes do not fit inline", d->name, len);

	cleanup_free struct outmsg *o = calloc(1, sizeof(*o));
	if (!o)
		return kerr_set(err, -ENOMEM, "send %s: out of memory", d->name);
	o->hdr = (struct ipc_hdr){ .type = type, .len = (uint32_t)len, .id = id, .flags = 0 };
	if (use_memfd) {
		/* want == 0 here: big types carry no fds of their own. */
		o->hdr.flags |= IPC_F_MEMFD;
		o->fds[0] = make_memfd(payload, len, err);
		if (o->fds[0] < 0)
			return kerr_prefix(err, "send %s: ", d->name);
		o->nfds = 1;
	} else {
		if (len) {
			o->inline_payload = malloc(len);
			if (!o->inline_payload)
				return kerr_set(err, -ENOMEM, "send %s: out of memory", d->name);
			memcpy(o->inline_payload, payload, len);
		}
		for (unsigned i = 0; i < nfds; i++) {
			int dup = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
			if (dup < 0) {
				int r = kerr_set(err, -errno, "send %s: dup fd #%u: %s", d->name, i,
						 strerror(errno));
				for (unsigned j = 0; j < o->nfds; j++)
					close(o->fds[j]);
				free(o->inline_payload);
				return r;
			}
			o->fds[o->nfds++] = dup;
		}
	}
	*out = take_ptr(&o);
	return 0;
}

static int outmsg_send(int sock, const struct outmsg *o, struct kerr *err)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)&o->hdr, .iov_len = sizeof(o->hdr) },
		{ .iov_base = o->inline_payload,
		  .iov_len = (o->hdr.flags & IPC_F_MEMFD) ? 0 : o->hdr.len },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
		struct cmsghdr align;
	} cm;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = iov[1].iov_len ? 2 : 1 };
	if (o->nfds) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * o->nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * o->nfds);
		memcpy(CMSG_DATA(c), o->fds, sizeof(int) * o->nfds);
	}
	ssize_t n;
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -EAGAIN;
		return kerr_set(err, -errno, "send %s: %s", ipc_type_name(o->hdr.type),
				strerror(errno));
	}
	return 0;
}

int ipc_send_fd(int sock, uint32_t type, uint32_t id, const void *payload, size_t len, int fd,
		struct kerr *err)
{
	return ipc_send_fds(sock, type, id, payload, len, &fd, fd >= 0 ? 1 : 0, err);
}

int ipc_send_fds(int sock, uint32_t type, uint32_t id, const void *payload, size_t len,
		 const int *fds, unsigned nfds, struct kerr *err)
{
	struct outmsg *o = NULL;
	int r = outmsg_new(&o, type, id, payload, len, fds, nfds, err);
	if (r < 0)
		return r;
	r = outmsg_send(sock, o, err);
	outmsg_free(o);
	return r;
}

/* ---- receiving ---- */

int ipc_msg_take_fd(struct ipc_msg *m)
{
	return ipc_msg_take_fd_at(m, 0);
}

int ipc_msg_take_fd_at(struct ipc_msg *m, unsigned i)
{
	if (i >= m->nfds || i >= IPC_MAX_FDS)
		return -1;
	if (i == 0)
		m->fd = -1;
	return take_fd(&m->fds[i]);
}

void ipc_msg_release(struct ipc_msg *m)
{
	for (unsigned i = 0; i < m->nfds && i < IPC_MAX_FDS; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	m->nfds = 0;
	m->fd = -1;
	if (m->map)
		munmap(m->map, m->map_len);
	m->map = NULL;
	free(m->buf);
	m->buf = NULL;
	m->payload = NULL;
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Map a sealed memfd payload read-only, after checking it cannot change
 * under us and has exactly the announced size. */
static int map_memfd(struct ipc_msg *m, int fd, const struct ipc_type_desc *d, struct kerr *err)
{
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return kerr_set(err, -EPROTO, "%s: payload fd is not a sealable memfd: %s", d->name,
				strerror(errno));
	if ((seals & ALL_SEALS) != ALL_SEALS)
		return kerr_set(err, -EPROTO, "%s: payload memfd not fully sealed (seals 0x%x)",
				d->name, seals);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return kerr_set(err, -errno, "%s: fstat payload memfd: %s", d->name,
				strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size != (off_t)m->hdr.len)
		return kerr_set(err, -EPROTO, "%s: payload memfd of %lld bytes, header says %u",
				d->name, (long long)st.st_size, m->hdr.len);
	void *p = mmap(NULL, m->hdr.len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return kerr_set(err, -errno, "%s: mmap payload memfd: %s", d->name,
				strerror(errno));
	m->map = p;
	m->map_len = m->hdr.len;
	m->payload = p;
	m->len = m->hdr.len;
	return 0;
}

int ipc_recv(int sock, struct ipc_msg *m, struct kerr *err)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	for (unsigned i = 0; i < IPC_MAX_FDS; i++)
		m->fds[i] = -1;
	cleanup_free uint8_t *buf = malloc(IPC_HDR_LEN + IPC_MAX_INLINE);
	if (!buf)
		return kerr_set(err, -ENOMEM, "recv: out of memory");
	union {
		char buf[CMSG_SPACE(sizeof(int) * CMSG_FDS_MAX)];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = buf, .iov_len = IPC_HDR_LEN + IPC_MAX_INLINE };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf) };
	ssize_t n;
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -EAGAIN;
		return kerr_set(err, -errno, "recv: %s", strerror(errno));
	}

	/* Collect every fd first so that each error path below closes them. */
	int fds[CMSG_FDS_MAX * 2];
	size_t nfds = 0;
	bool other_cmsg = false;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k && nfds < sizeof(fds) / sizeof(fds[0]); i++)
				memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		} else {
			other_cmsg = true;
		}
	}
	int r = 0;
	if (n == 0 && nfds == 0)
		return 0; /* EOF */
	if (mh.msg_flags & MSG_CTRUNC)
		r = kerr_set(err, -EPROTO, "recv: control data truncated (too many fds)");
	else if (mh.msg_flags & MSG_TRUNC)
		r = kerr_set(err, -EPROTO, "recv: message larger than %u bytes",
			     IPC_HDR_LEN + IPC_MAX_INLINE);
	else if (other_cmsg)
		r = kerr_set(err, -EPROTO, "recv: unexpected control message");
	else if (nfds > IPC_MAX_FDS)
		r = kerr_set(err, -EPROTO, "recv: %zu fds in one message, at most %u allowed", nfds,
			     IPC_MAX_FDS);
	else if ((size_t)n < IPC_HDR_LEN)
		r = kerr_set(err, -EPROTO, "recv: short message of %zd bytes", n);
	if (r < 0) {
		close_fds(fds, nfds);
		return r;
	}

	memcpy(&m->hdr, buf, sizeof(m->hdr));
	int fd = nfds ? fds[0] : -1;
	const struct ipc_type_desc *d = ipc_type_info(m->hdr.type);
	size_t inline_len = (size_t)n - IPC_HDR_LEN;
	/* Only MON_PROCESS_ADD carries several fds; its exact count depends on
	 * the payload and is checked after ipc_check_payload. */
	size_t max_fds = d && (d->fd == IPC_FD_PROCESS || d->fd == IPC_FD_THREE) ? IPC_MAX_FDS : 1;
	if (nfds > max_fds) {
		r = kerr_set(err, -EPROTO, "recv %s: %zu fds in one message, at most %zu allowed",
			     d ? d->name : "?", nfds, max_fds);
		close_fds(fds, nfds);
		return r;
	}
	if (!d)
		r = kerr_set(err, -EPROTO, "recv: unknown message type %u", m->hdr.type);
	else if (m->hdr.flags & ~IPC_F_KNOWN)
		r = kerr_set(err, -EPROTO, "recv %s: unknown flags 0x%x", d->name, m->hdr.flags);
	else if (m->hdr.flags & IPC_F_MEMFD) {
		if (!d->big)
			r = kerr_set(err, -EPROTO, "recv %s: memfd payload not allowed", d->name);
		else if (inline_len)
			r = kerr_set(err, -EPROTO, "recv %s: memfd message with inline bytes",
				     d->name);
		else if (fd < 0)
			r = kerr_set(err, -EPROTO, "recv %s: memfd flag without an fd", d->name);
		else if (m->hdr.len <= IPC_MAX_INLINE || m->hdr.len > d->max_len)
			r = kerr_set(err, -EPROTO, "recv %s: memfd payload of %u bytes, bounds %u..%u",
				     d->name, m->hdr.len, IPC_MAX_INLINE + 1, d->max_len);
		else
			r = map_memfd(m, fd, d, err);
		/* The mapping (if any) keeps the pages; any fd beyond the first
		 * (a type that may carry several, with the flag) is an error
		 * above, and closed here too. */
		close_fds(fds, nfds);
		fd = -1;
		nfds = 0;
	} else {
		if (m->hdr.len != inline_len)
			r = kerr_set(err, -EPROTO, "recv %s: header length %u, %zu bytes received",
				     d->name, m->hdr.len, inline_len);
		else if (d->fd == IPC_FD_REQUIRED && fd < 0)
			r = kerr_set(err, -EPROTO, "recv %s: required fd missing", d->name);
		else if (d->fd == IPC_FD_NONE && fd >= 0)
			r = kerr_set(err, -EPROTO, "recv %s: unexpected fd", d->name);
		else if ((d->fd == IPC_FD_PROCESS || d->fd == IPC_FD_THREE) && nfds == 0)
			r = kerr_set(err, -EPROTO, "recv %s: required fds missing", d->name);
		if (r == 0) {
			m->payload = buf + IPC_HDR_LEN;
			m->len = inline_len;
			m->buf = take_ptr(&buf);
			m->fd = fd;
			for (size_t i = 0; i < nfds; i++)
				m->fds[i] = fds[i];
			m->nfds = (unsigned)nfds;
			fd = -1;
			nfds = 0;
		}
	}
	if (nfds)
		close_fds(fds, nfds);
	else if (fd >= 0)
		close(fd);
	if (r == 0)
		r = ipc_check_payload(m->hdr.type, m->payload, m->len, err);
	if (r == 0 && (d->fd == IPC_FD_PROCESS || d->fd == IPC_FD_THREE) &&
	    m->nfds != fds_wanted(d, m->payload))
		r = kerr_set(err, -EPROTO, "recv %s: %u fds, %u required", d->name, m->nfds,
			     fds_wanted(d, m->payload));
	if (r < 0) {
		ipc_msg_release(m);
		return r;
	}
	return 1;
}

/* ---- channel ---- */

struct ipc_chan {
	struct loop *loop;
	int fd;
	char name[64];
	enum ipc_role peer;
	const struct ipc_dispatch *table;
	ipc_gate_fn gate;
	void *gate_data;
	ipc_close_fn on_close;
	void *data;
	struct outmsg *qhead, **qtail;
	size_t queued;
	uint32_t next_id;
	bool closed;
	bool want_out;
	unsigned busy;   /* > 0 while a callback of ours is on the stack */
	bool free_later; /* freed when busy drops to 0 */
};

static void chan_destroy(struct ipc_chan *c)
{
	struct outmsg *o = c->qhead;
	while (o) {
		struct outmsg *next = o->next;
		outmsg_free(o);
		o = next;
	}
	free(c);
}

static void chan_shut(struct ipc_chan *c)
{
	if (c->closed)
		return;
	c->closed = true;
	loop_del(c->loop, c->fd);
	close(c->fd);
	c->fd = -1;
}

static void chan_release(struct ipc_chan *c)
{
	if (c->busy)
		c->free_later = true;
	else
		chan_destroy(c);
}

int ipc_chan_send_error(struct ipc_chan *c, uint32_t id, const struct kerr *e, int default_status,
			struct kerr *err)
{
	uint8_t buf[sizeof(struct ipc_error) + IPC_ERROR_MSG_MAX];
	int status = kerr_status(e);
	if (status <= GRPC_OK || status > GRPC_UNAUTHENTICATED)
		status = default_status;
	size_t n = ipc_error_build(buf, status, e->code < 0 && e->code >= -4095 ? e->code : 0,
				   e->msg);
	return ipc_chan_send(c, IPC_ERROR, id, buf, n, -1, err);
}

void ipc_chan_set_gate(struct ipc_chan *c, ipc_gate_fn fn, void *data)
{
	c->gate = fn;
	c->gate_data = data;
}

void ipc_chan_close(struct ipc_chan *c, const char *reason)
{
	if (!c || c->closed)
		return;
	chan_shut(c);
	c->busy++;
	if (c->on_close)
		c->on_close(c, reason, c->data);
	c->busy--;
	chan_release(c);
}

void ipc_chan_free(struct ipc_chan *c)
{
	if (!c)
		return;
	chan_shut(c);
	chan_release(c);
}

static void chan_fail(struct ipc_chan *c, const struct kerr *e)
{
	log_error("ipc channel %s (peer %s): %s; closing it", c->name, ipc_role_name(c->peer),
		  e->msg);
	ipc_chan_close(c, e->msg);
}

static void chan_update_events(struct ipc_chan *c)
{
	bool want = c->qhead != NULL;
	if (c->closed || want == c->want_out)
		return;
	struct kerr e = { 0 };
	if (loop_mod(c->loop, c->fd, EPOLLIN | (want ? EPOLLOUT : 0), &e) < 0) {
		chan_fail(c, &e);
		return;
	}
	c->want_out = want;
}

/* Write what the queue holds until the socket is full. */
static int chan_flush(struct ipc_chan *c, struct kerr *err)
{
	while (c->qhead) {
		int r = outmsg_send(c->fd, c->qhead, err);
		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return r;
		struct outmsg *o = c->qhead;
		c->qhead = o->next;
		if (!c->qhead)
			c->qtail = &c->qhead;
		c->queued--;
		outmsg_free(o);
	}
	return 0;
}

static const struct ipc_dispatch *chan_lookup(const struct ipc_chan *c, uint32_t type)
{
	for (const struct ipc_dispatch *d = c->table; d && d->fn; d++)
		if (d->type == type)
			return d;
	return NULL;
}

/* A message the gate refused: ERROR to its id (none: dropped). */
static int chan_refuse(struct ipc_chan *c, const struct ipc_msg *m, const struct kerr *why,
		       struct kerr *err)
{
	log_warn("ipc channel %s: %s (id %u) refused: %s", c->name, ipc_type_name(m->hdr.type),
		 m->hdr.id, why->msg);
	if (!m->hdr.id)
		return 0;
	return ipc_chan_send_error(c, m->hdr.id, why, GRPC_PERMISSION_DENIED, err);
}

/* Messages handled per wake-up before yielding to other fds. */
#define RECV_BATCH 32

static void chan_on_events(struct loop *l, int fd, uint32_t events, void *data)
{
	struct ipc_chan *c = data;
	struct kerr e = { 0 };
	c->busy++;

	if (events & EPOLLOUT) {
		if (chan_flush(c, &e) < 0) {
			chan_fail(c, &e);
			goto out;
		}
		chan_update_events(c);
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (int i = 0; i < RECV_BATCH && !c->closed; i++) {
			struct ipc_msg m;
			kerr_clear(&e);
			int r = ipc_recv(c->fd, &m, &e);
			if (r == -EAGAIN)
				break;
			if (r < 0) {
				chan_fail(c, &e);
				break;
			}
			if (r == 0) {
				log_debug("ipc channel %s: peer %s closed it", c->name,
					  ipc_role_name(c->peer));
				ipc_chan_close(c, NULL);
				break;
			}
			const struct ipc_dispatch *d = chan_lookup(c, m.hdr.type);
			if (!d) {
				kerr_set(&e, -EPROTO, "message %s (id %u) not accepted here",
					 ipc_type_name(m.hdr.type), m.hdr.id);
			} else if (!(d->senders & IPC_FROM(c->peer))) {
				kerr_set(&e, -EPERM, "message %s not accepted from a %s",
					 ipc_type_name(m.hdr.type), ipc_role_name(c->peer));
			} else if (c->gate && c->gate(c, &m, c->gate_data, &e) < 0) {
				struct kerr why = e;
				kerr_clear(&e);
				if (chan_refuse(c, &m, &why, &e) >= 0) {
					ipc_msg_release(&m);
					continue;
				}
			} else if (d->fn(c, &m, c->data, &e) >= 0) {
				ipc_msg_release(&m);
				continue;
			}
			ipc_msg_release(&m);
			if (!c->closed)
				chan_fail(c, &e);
			break;
		}
	}
out:
	c->busy--;
	if (c->free_later && !c->busy)
		chan_destroy(c);
}

int ipc_chan_new(struct ipc_chan **out, struct loop *l, int sock, const char *name,
		 enum ipc_role peer, const struct ipc_dispatch *table, ipc_close_fn on_close,
		 void *data, struct kerr *err)
{
	cleanup_close int fd = sock;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return kerr_set(err, -errno, "ipc channel %s: set non-blocking: %s", name,
				strerror(errno));
	cleanup_free struct ipc_chan *c = calloc(1, sizeof(*c));
	if (!c)
		return kerr_set(err, -ENOMEM, "ipc channel %s: out of memory", name);
	c->loop = l;
	c->peer = peer;
	c->table = table;
	c->on_close = on_close;
	c->data = data;
	c->qtail = &c->qhead;
	c->next_id = 1;
	snprintf(c->name, sizeof(c->name), "%s", name);
	int r = loop_add(l, fd, EPOLLIN, chan_on_events, c, err);
	if (r < 0)
		return kerr_prefix(err, "ipc channel %s: ", name);
	c->fd = take_fd(&fd);
	*out = take_ptr(&c);
	return 0;
}

int ipc_chan_send(struct ipc_chan *c, uint32_t type, uint32_t id, const void *payload, size_t len,
		  int fd, struct kerr *err)
{
	return ipc_chan_send_fds(c, type, id, payload, len, &fd, fd >= 0 ? 1 : 0, err);
}

int ipc_chan_send_fds(struct ipc_chan *c, uint32_t type, uint32_t id, const void *payload,
		      size_t len, const int *fds, unsigned nfds, struct kerr *err)
{
	if (c->closed)
		return kerr_set(err, -EPIPE, "ipc channel %s is closed", c->name);
	if (c->queued >= IPC_MAX_QUEUED)
		return kerr_set(err, -ENOBUFS, "ipc channel %s: %u messages queued, peer not reading",
				c->name, IPC_MAX_QUEUED);
	struct outmsg *o = NULL;
	int r = outmsg_new(&o, type, id, payload, len, fds, nfds, err);
	if (r < 0)
		return r;
	*c->qtail = o;
	c->qtail = &o->next;
	c->queued++;
	struct kerr e = { 0 };
	/* A write error is the peer's fault, not the caller's: the channel
	 * closes (on_close tells the owner) and the send itself "succeeded". */
	c->busy++;
	if (chan_flush(c, &e) < 0)
		chan_fail(c, &e);
	else
		chan_update_events(c);
	c->busy--;
	if (c->free_later && !c->busy)
		chan_destroy(c);
	return 0;
}

const char *ipc_chan_name(const struct ipc_chan *c)
{
	return c->name;
}

enum ipc_role ipc_chan_peer(const struct ipc_chan *c)
{
	return c->peer;
}

int ipc_chan_fd(const struct ipc_chan *c)
{
	return c->fd;
}

uint32_t ipc_chan_next_id(struct ipc_chan *c)
{
	uint32_t id = c->next_id++;
	if (c->next_id == 0)
		c->next_id = 1;
	return id;
}

size_t ipc_chan_queued(const struct ipc_chan *c)
{
	return c->queued;
}
