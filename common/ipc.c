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
#include "iovec.h"
#include "ipc.h"
#include "log.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

#define ALL_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)
/* Room for more fds than any message may carry, so that a peer sending too
 * many is detected and its fds closed, instead of silently truncated by the
 * kernel. */
#define CMSG_FDS_MAX (IPC_MAX_FDS + 4)

/* No implicit padding: every byte of a fixed payload is checked. */
_Static_assert(sizeof(struct ipc_ctl_new_frontend) == 8, "ipc_ctl_new_frontend has padding");
_Static_assert(sizeof(struct ipc_policy_check) == IPC_POLICY_ENDPOINT_MAX + 8,
	       "ipc_policy_check has padding");
_Static_assert(sizeof(struct ipc_policy_verdict) == 8, "ipc_policy_verdict has padding");

bool ipc_type_is_reply(uint32_t type)
{
	if (type == IPC_ERROR)
		return true;
	for (const struct ipc_type_desc *d = NULL; (d = ipc_type_next(d));)
		if (d->reply == type && type != IPC_NONE)
			return true;
	return false;
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
	case IPC_ROLE_PARENT:
		return "parent";
	case IPC_ROLE_FRONTEND:
		return "frontend";
	case IPC_ROLE_EXECUTOR:
		return "executor";
	case IPC_ROLE_MONITOR:
		return "monitor";
	case IPC_ROLE_LAUNCHER:
		return "launcher";
	case IPC_ROLE_SPAWNER:
		return "spawner";
	case IPC_ROLE_POLICY:
		return "policy";
	case IPC_ROLE_TEST:
		return "test";
	default:
		return "unknown";
	}
}

/* Upstream's storage handler names (storage/mod.rs STORAGE_HANDLERS, the
 * driver types of kata-types' device.rs) and ours ("bind"), in a fixed
 * order: GET_GUEST_DETAILS_REPLY names the ones the executor handles by bit. */
static const char *const storage_drivers[] = {
	"9p",      "virtio-fs", "local", "ephemeral", "bind",      "watchable-bind",   "blk",
	"blk-ccw", "mmioblk",   "scsi",  "nvdimm",    "overlayfs", "image_guest_pull",
};
_Static_assert(sizeof(storage_drivers) / sizeof(storage_drivers[0]) <= IPC_STORAGE_DRIVERS_MAX,
	       "storage driver bits");
_Static_assert(sizeof(struct ipc_guest_details_reply) == 16, "ipc_guest_details_reply has padding");

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
		return kerr_set(err, -EPROTO,
				n ? "%s \"%.*s\" is not [A-Za-z0-9][A-Za-z0-9_.-]*"
				  : "%s is empty%.*s",
				what, n ? (int)n : 0, field);
	return 0;
}

const char *ipc_exec_name(const char *container_id, const char *exec_id)
{
	return strcmp(exec_id, container_id) == 0 ? "" : exec_id;
}

/* ---- payload field checks, one per struct, in ipc.h's order ----
 * Each runs after the bounds (len is within the type's), on a payload
 * aligned for its struct; ipc_check_payload prefixes the type's name. */

static int check_stream(uint32_t stream, struct kerr *err)
{
	if (stream != IPC_STREAM_STDOUT && stream != IPC_STREAM_STDERR)
		return kerr_set(err, -EPROTO, "stream %u is not 1 (stdout) or 2 (stderr)", stream);
	return 0;
}

static int check_status(int32_t status, struct kerr *err)
{
	/* An exit code 0..255, or 128+signal (signals 1..64 stay below 256). */
	if (status < 0 || status > 255)
		return kerr_set(err, -EPROTO, "status %d out of 0..255", status);
	return 0;
}

static int check_pad(bool zero, struct kerr *err)
{
	return zero ? 0 : kerr_set(err, -EPROTO, "nonzero padding");
}

static int check_bool(bool ok, struct kerr *err)
{
	return ok ? 0 : kerr_set(err, -EPROTO, "boolean field not 0/1");
}

static int check_pid(int32_t pid, struct kerr *err)
{
	return pid > 0 ? 0 : kerr_set(err, -EPROTO, "pid %d is not positive", pid);
}

int ipc_check_online_cpu_mem(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_online_cpu_mem *r = p;
	int rc = check_bool(r->wait <= 1 && r->cpu_only <= 1, err);
	return rc < 0 ? rc : check_pad(all_zero(r->pad, sizeof(r->pad)), err);
}

int ipc_check_mem_probe(const void *p, size_t len, struct kerr *err)
{
	if (len % 8)
		return kerr_set(err, -EPROTO, "%zu bytes is not a list of u64", len);
	return 0;
}

int ipc_check_path(const void *p, size_t len, struct kerr *err)
{
	if (memchr(p, '\0', len))
		return kerr_set(err, -EPROTO, "the path holds a NUL");
	return 0;
}

int ipc_check_add_swap_device(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_add_swap_device *a = p;
	if (a->n < 1 || a->n > IPC_PCI_PATH_MAX)
		return kerr_set(err, -EPROTO, "%u slots", a->n);
	for (uint32_t i = 0; i < IPC_PCI_PATH_MAX; i++)
		if (i < a->n ? a->slot[i] > 31 : a->slot[i] != 0)
			return kerr_set(err, -EPROTO, "slot %u is %u", i, a->slot[i]);
	return 0;
}

int ipc_check_resize_volume(const void *p, size_t len, struct kerr *err)
{
	return ipc_check_path((const uint8_t *)p + sizeof(struct ipc_resize_volume),
			      len - sizeof(struct ipc_resize_volume), err);
}

int ipc_check_guest_details_req(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_guest_details_req *r = p;
	int rc = check_bool(r->mem_block_size <= 1 && r->mem_hotplug_probe <= 1, err);
	return rc < 0 ? rc : check_pad(all_zero(r->pad, sizeof(r->pad)), err);
}

int ipc_check_guest_details_reply(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_guest_details_reply *r = p;
	int rc = check_bool(r->support_mem_hotplug_probe <= 1 && r->init_daemon <= 1 &&
				    r->supports_seccomp <= 1,
			    err);
	if (rc < 0 || (rc = check_pad(!r->pad, err)) < 0)
		return rc;
	for (unsigned b = 0; b < IPC_STORAGE_DRIVERS_MAX; b++)
		if ((r->storage_handlers & (1u << b)) && !ipc_storage_driver_name(b))
			return kerr_set(err, -EPROTO, "unknown storage driver bit %u", b);
	return 0;
}

int ipc_check_error(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_error *e = p;
	if (e->grpc_status <= GRPC_OK || e->grpc_status > GRPC_UNAUTHENTICATED)
		return kerr_set(err, -EPROTO, "status %d out of range", e->grpc_status);
	if (e->errno_code > 0 || e->errno_code < -4095)
		return kerr_set(err, -EPROTO, "errno %d out of range", e->errno_code);
	/* Exactly one NUL, at the end: no hidden bytes after the text. */
	if (memchr(e->msg, '\0', len - sizeof(*e)) != (const char *)p + len - 1)
		return kerr_set(err, -EPROTO, "message not NUL-terminated at its end");
	return 0;
}

int ipc_check_ctl_new_frontend(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_ctl_new_frontend *n = p;
	if (n->frontend_pid <= 0)
		return kerr_set(err, -EPROTO, "front-end pid %d is not a pid", n->frontend_pid);
	return 0;
}

int ipc_check_container_ref(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_container_ref *c = p;
	return ipc_id_field_check(c->container_id, false, "container id", err);
}

int ipc_check_exec_ref(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_exec_ref *x = p;
	int rc = ipc_id_field_check(x->container_id, false, "container id", err);
	return rc < 0 ? rc : ipc_id_field_check(x->exec_id, true, "exec id", err);
}

int ipc_check_container_remove(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_container_remove *c = p;
	int rc = ipc_id_field_check(c->container_id, false, "container id", err);
	return rc < 0 ? rc : check_pad(!c->pad, err);
}

const char *ipc_diag_log_name(uint32_t t)
{
	return t == IPC_DIAG_TERMINATION_LOG ? "termination_log" : NULL;
}

uint32_t ipc_diag_log_type(const char *name)
{
	return name && strcmp(name, "termination_log") == 0 ? IPC_DIAG_TERMINATION_LOG : 0;
}

int ipc_check_diagnostic_req(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_diagnostic_req *q = p;
	int rc = ipc_id_field_check(q->container_id, false, "container id", err);
	if (rc < 0)
		return rc;
	if (!ipc_diag_log_name(q->log_type))
		return kerr_set(err, -EPROTO, "unknown diagnostic log type %u", q->log_type);
	return check_pad(!q->pad, err);
}

int ipc_check_process_signal(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_process_signal *s = p;
	int rc = ipc_id_field_check(s->container_id, false, "container id", err);
	if (rc < 0 || (rc = ipc_id_field_check(s->exec_id, true, "exec id", err)) < 0)
		return rc;
	if (s->signal < 1 || s->signal > 64)
		return kerr_set(err, -EPROTO, "signal %u out of 1..64", s->signal);
	return check_pad(!s->pad, err);
}

int ipc_check_stdio_read(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_stdio_read *r = p;
	int rc = ipc_id_field_check(r->exec_id, true, "exec id", err);
	if (rc < 0 || (rc = check_stream(r->stream, err)) < 0)
		return rc;
	if (r->max_len < 1 || r->max_len > IPC_STDIO_CHUNK)
		return kerr_set(err, -EPROTO, "max_len %u out of 1..%u", r->max_len,
				IPC_STDIO_CHUNK);
	return 0;
}

int ipc_check_stdio_data(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_stdio_data *h = p;
	if (h->offset > UINT64_MAX - (len - sizeof(*h)))
		return kerr_set(err, -EPROTO, "offset %llu overflows",
				(unsigned long long)h->offset);
	return 0;
}

int ipc_check_stdio_ack(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_stdio_ack *a = p;
	int rc = ipc_id_field_check(a->exec_id, true, "exec id", err);
	if (rc < 0 || (rc = check_stream(a->stream, err)) < 0)
		return rc;
	return check_pad(!a->pad, err);
}

int ipc_check_passfd_attach(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_passfd_attach *a = p;
	int rc = ipc_id_field_check(a->exec_id, true, "exec id", err);
	if (rc < 0)
		return rc;
	if (a->stream != IPC_PASSFD_STDIN && (rc = check_stream(a->stream, err)) < 0)
		return rc;
	return check_pad(!a->pad, err);
}

int ipc_check_passfd_stream(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_passfd_stream *a = p;
	int rc = ipc_id_field_check(a->container_id, false, "container id", err);
	if (rc < 0 || (rc = ipc_id_field_check(a->exec_id, true, "exec id", err)) < 0 ||
	    (rc = check_stream(a->stream, err)) < 0)
		return rc;
	return check_pad(!a->pad, err);
}

int ipc_check_stdio_write(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_stdio_write *w = p;
	return ipc_id_field_check(w->exec_id, true, "exec id", err);
}

int ipc_check_stdio_written(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_stdio_written *w = p;
	if (w->len < 1 || w->len > IPC_STDIO_CHUNK)
		return kerr_set(err, -EPROTO, "len %llu out of 1..%u", (unsigned long long)w->len,
				IPC_STDIO_CHUNK);
	return 0;
}

int ipc_check_tty_resize(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_tty_resize *t = p;
	int rc = ipc_id_field_check(t->exec_id, true, "exec id", err);
	return rc < 0 ? rc : check_pad(!t->pad, err);
}

int ipc_check_wait_reply(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_wait_reply *w = p;
	int rc = check_status(w->status, err);
	return rc < 0 ? rc : check_pad(!w->pad, err);
}

int ipc_check_exited(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_exited *x = p;
	int rc = ipc_id_field_check(x->exec_id, true, "exec id", err);
	if (rc < 0 || (rc = check_status(x->status, err)) < 0)
		return rc;
	return check_pad(!x->pad, err);
}

int ipc_check_exec_name(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_exec_name *x = p;
	return ipc_id_field_check(x->exec_id, false, "exec id", err);
}

int ipc_check_launched(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_launched *l = p;
	int rc = check_pid(l->pid, err);
	return rc < 0 ? rc : check_pad(!l->pad, err);
}

int ipc_check_spawn_x(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_spawn_x *s = p;
	int rc = ipc_id_field_check(s->container_id, false, "container id", err);
	if (rc < 0)
		return rc;
	if (!memchr(s->cgroups_path, '\0', sizeof(s->cgroups_path)) ||
	    !memchr(s->bundle, '\0', sizeof(s->bundle)) || s->bundle[0] != '/')
		return kerr_set(err, -EPROTO,
				"cgroups path or bundle not a terminated string, or "
				"the bundle not absolute");
	return 0;
}

int ipc_check_spawn_modprobe(const void *p, size_t len, struct kerr *err)
{
	const char *a = p;
	if (a[len - 1] != '\0' || a[0] != '/')
		return kerr_set(err, -EPROTO,
				"not NUL-terminated strings starting with an "
				"absolute path");
	return 0;
}

int ipc_check_process_add(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_process_add *a = p;
	int rc = ipc_id_field_check(a->exec_id, true, "exec id", err);
	if (rc < 0 || (rc = check_pid(a->pid, err)) < 0 ||
	    (rc = check_bool(a->terminal <= 1, err)) < 0)
		return rc;
	if (a->direct & ~(IPC_DIRECT_STDOUT | IPC_DIRECT_STDERR) || (a->terminal && a->direct))
		return kerr_set(err, -EPROTO, "direct outputs 0x%x%s", a->direct,
				a->terminal ? " with a terminal" : "");
	return check_pad(all_zero(a->pad, sizeof(a->pad)), err);
}

int ipc_check_policy_text(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_policy_text *t = p;
	size_t n = strnlen(t->source, sizeof(t->source));
	if (n == 0 || n == sizeof(t->source) ||
	    !all_zero((const uint8_t *)t->source + n, sizeof(t->source) - n))
		return kerr_set(err, -EPROTO, "policy source not a NUL-padded string");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t->source[i] < 0x20 || t->source[i] == 0x7f)
			return kerr_set(err, -EPROTO, "policy source not printable");
	return 0;
}

int ipc_check_policy_load(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_policy_load *l = p;
	if (l->text_len < 1 || l->text_len > IPC_POLICY_TEXT_MAX || l->data_len < 2 ||
	    l->data_len > IPC_POLICY_DATA_MAX ||
	    (size_t)l->text_len + l->data_len != len - sizeof(*l))
		return kerr_set(err, -EPROTO, "POLICY_LOAD: lengths %u + %u do not make %zu bytes",
				l->text_len, l->data_len, len - sizeof(*l));
	return 0;
}

int ipc_check_policy_check(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_policy_check *c = p;
	size_t n = strnlen(c->endpoint, sizeof(c->endpoint));
	if (n == 0 || n == sizeof(c->endpoint) ||
	    !all_zero((const uint8_t *)c->endpoint + n, sizeof(c->endpoint) - n))
		return kerr_set(err, -EPROTO, "POLICY_CHECK: endpoint not a NUL-padded name");
	for (size_t i = 0; i < n; i++) {
		char ch = c->endpoint[i];
		if (!(ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9')))
			return kerr_set(err, -EPROTO, "POLICY_CHECK: endpoint not a name");
	}
	int r;
	if ((r = check_bool(c->dry_run <= 1, err)) < 0 ||
	    (r = check_pad(all_zero(c->pad, sizeof(c->pad)), err)) < 0)
		return r;
	return 0;
}

int ipc_check_policy_verdict(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_policy_verdict *v = p;
	size_t tail = len - sizeof(*v);
	int r;
	if ((r = check_bool(v->allowed <= 1 && v->data_changed <= 1, err)) < 0 ||
	    (r = check_pad(all_zero(v->pad, sizeof(v->pad)), err)) < 0)
		return r;
	if (v->prints_len > IPC_POLICY_PRINTS_MAX || v->prints_len > tail)
		return kerr_set(err, -EPROTO, "POLICY_VERDICT: prints_len %u out of bounds",
				v->prints_len);
	size_t state = tail - v->prints_len;
	if (v->data_changed ? state < 2 || state > IPC_POLICY_DATA_MAX : state != 0)
		return kerr_set(err, -EPROTO, "POLICY_VERDICT: %zu bytes of pstate (changed: %u)",
				state, v->data_changed);
	return 0;
}

int ipc_check_mon_policy(const void *p, size_t len, struct kerr *err)
{
	const struct ipc_mon_policy *m = p;
	int r;
	if ((r = check_pad(m->pad == 0, err)) < 0)
		return r;
	if (m->deny & ~(uint32_t)IPC_MON_DENY_ALL)
		return kerr_set(err, -EPROTO, "MON_POLICY: unknown bits 0x%x", m->deny);
	return 0;
}

int ipc_check_payload(uint32_t type, const uint8_t *p, size_t len, struct kerr *err)
{
	const struct ipc_type_desc *d = ipc_type_info(type);
	if (!d)
		return kerr_set(err, -EPROTO, "unknown message type %u", type);
	if (len < d->min_len || len > d->max_len)
		return kerr_set(err, -EPROTO, "%s: payload of %zu bytes, expected %u..%u", d->name,
				len, d->min_len, d->max_len);
	ipc_check_fn check = ipc_type_check(d);
	if (!check)
		return 0;
	/* The checks read the struct in place: give them an aligned copy
	 * when a caller's buffer is not (received payloads always are). */
	if ((uintptr_t)p % _Alignof(max_align_t)) {
		cleanup_free uint8_t *copy = malloc(len ? len : 1);
		if (!copy)
			return kerr_set(err, -ENOMEM, "%s: out of memory", d->name);
		memcpy(copy, p, len);
		return check(copy, len, err) < 0 ? kerr_prefix(err, "%s", d->name) : 0;
	}
	return check(p, len, err) < 0 ? kerr_prefix(err, "%s", d->name) : 0;
}

unsigned ipc_process_nfds(bool terminal, unsigned direct)
{
	if (terminal)
		return 2;
	return 4 - !!(direct & IPC_DIRECT_STDOUT) - !!(direct & IPC_DIRECT_STDERR);
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

size_t ipc_error_payload(void *buf, const struct kerr *e, int default_status)
{
	int status = kerr_status(e);
	if (status <= GRPC_OK || status > GRPC_UNAUTHENTICATED)
		status = default_status;
	return ipc_error_build(buf, status, e->code < 0 && e->code >= -4095 ? e->code : 0, e->msg);
}

int ipc_send_error(int sock, uint32_t id, const struct kerr *e, int default_status,
		   struct kerr *err)
{
	uint8_t buf[IPC_ERROR_PAYLOAD_MAX];
	size_t n = ipc_error_payload(buf, e, default_status);
	return ipc_send_fd(sock, IPC_ERROR, id, buf, n, -1, err);
}

bool ipc_error_decode(const struct ipc_msg *m, struct kerr *failure)
{
	if (m->hdr.type != IPC_ERROR)
		return false;
	/* ipc_recv checked it: status 1..16, errno in range, text terminated. */
	const struct ipc_error *e = (const void *)m->payload;
	kerr_set_status(failure, e->grpc_status, e->errno_code ? e->errno_code : -EIO, "%s",
			e->msg);
	return true;
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
		return ipc_process_nfds(a.terminal, a.direct);
	}
	case IPC_FD_THREE:
		return 3;
	default:
		return 0;
	}
}

/* ipc_check_payload on a payload in pieces. STDIO data (the monitor's
 * replies straight from its ring) is checked on its struct and its length,
 * which is all ipc_check_stdio_data reads; another type is gathered into a
 * copy (on the heap: a buffer on the stack would be touched, for good, in
 * every process, the monitor included). */
static int check_payload_iov(const struct ipc_type_desc *d, const struct iovec *iov, unsigned niov,
			     size_t len, struct kerr *err)
{
	if (niov <= 1)
		return ipc_check_payload(d->type, niov ? iov[0].iov_base : NULL, len, err);
	if (ipc_type_check(d) == ipc_check_stdio_data &&
	    iov[0].iov_len >= sizeof(struct ipc_stdio_data)) {
		struct ipc_stdio_data h;
		memcpy(&h, iov[0].iov_base, sizeof(h));
		/* A private aligned copy of the struct; the length is the total. */
		return ipc_check_stdio_data(&h, len, err) < 0 ? kerr_prefix(err, "%s", d->name) : 0;
	}
	cleanup_free uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return kerr_set(err, -ENOMEM, "%s: out of memory", d->name);
	iovec_copy(copy, iov, niov, 0, SIZE_MAX);
	return ipc_check_payload(d->type, copy, len, err);
}

/* Everything about a message the sender can get wrong, checked before any
 * byte goes out: its type, its size, its fields, its fds. *memfd on
 * success: whether the payload must go through a memfd. */
static int send_check(const struct ipc_type_desc **dp, uint32_t type, const struct iovec *iov,
		      unsigned niov, size_t len, const int *fds, unsigned nfds, bool *memfd,
		      struct kerr *err)
{
	const struct ipc_type_desc *d = ipc_type_info(type);
	if (!d)
		return kerr_set(err, -EINVAL, "send: unknown message type %u", type);
	if (len < d->min_len || len > d->max_len)
		return kerr_set(err, -EMSGSIZE, "send %s: payload of %zu bytes, bounds %u..%u",
				d->name, len, d->min_len, d->max_len);
	/* The receiver would reject it: say so here, where the bug is. Big
	 * payloads have no field rules, so this costs nothing for them. */
	if (!d->big && check_payload_iov(d, iov, niov, len, err) < 0)
		return kerr_prefix(err, "send");
	if (nfds > IPC_MAX_FDS)
		return kerr_set(err, -EINVAL, "send %s: %u fds, at most %u", d->name, nfds,
				IPC_MAX_FDS);
	for (unsigned i = 0; i < nfds; i++)
		if (fds[i] < 0)
			return kerr_set(err, -EBADF, "send %s: fd #%u is invalid", d->name, i);
	/* MON_PROCESS_ADD's struct, wherever its pieces are (its size was
	 * checked above); fds_wanted reads no payload for the other types. */
	struct ipc_process_add head;
	if (d->fd == IPC_FD_PROCESS)
		iovec_copy(&head, iov, niov, 0, sizeof(head));
	unsigned want = fds_wanted(d, &head);
	if (nfds != want) {
		if (want == 0)
			return kerr_set(err, -EINVAL, "send %s: this type carries no fd", d->name);
		if (want == 1)
			return kerr_set(err, -EINVAL, "send %s: an fd is required", d->name);
		return kerr_set(err, -EINVAL, "send %s: %u fds given, %u required", d->name, nfds,
				want);
	}
	*memfd = len > IPC_MAX_INLINE;
	if (*memfd && !d->big)
		return kerr_set(err, -EMSGSIZE, "send %s: %zu bytes do not fit inline", d->name,
				len);
	*dp = d;
	return 0;
}

/* One sendmsg of a header, its inline payload in pieces and its fds (sent
 * by the kernel as new references: the caller keeps its own). 0, -EAGAIN
 * when a non-blocking socket is full (nothing was sent: a SEQPACKET message
 * goes whole or not at all), or an error. */
static int wire_send(int sock, const struct ipc_hdr *hdr, const struct iovec *payload,
		     unsigned niov, const int *fds, unsigned nfds, struct kerr *err)
{
	struct iovec iov[1 + IPC_SEND_IOV_MAX];
	unsigned n = 0;
	iov[n++] = (struct iovec){ .iov_base = (void *)hdr, .iov_len = sizeof(*hdr) };
	for (unsigned i = 0; i < niov && !(hdr->flags & IPC_F_MEMFD); i++)
		if (payload[i].iov_len)
			iov[n++] = payload[i];
	union {
		char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
		struct cmsghdr align;
	} cm;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };
	if (nfds) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	ssize_t r;
	do {
		r = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -EAGAIN;
		return kerr_set(err, -errno, "send %s: %s", ipc_type_name(hdr->type),
				strerror(errno));
	}
	return 0;
}

/* A checked message to be queued: the payload copied (or the memfd that
 * holds it, taken), the fds duplicated. */
static int outmsg_new(struct outmsg **out, const struct ipc_hdr *hdr, const struct iovec *iov,
		      unsigned niov, int *memfd, const int *fds, unsigned nfds, struct kerr *err)
{
	const char *name = ipc_type_name(hdr->type);
	cleanup_free struct outmsg *o = calloc(1, sizeof(*o));
	if (!o)
		return kerr_set(err, -ENOMEM, "send %s: out of memory", name);
	o->hdr = *hdr;
	if (hdr->flags & IPC_F_MEMFD) {
		/* Big types carry no fds of their own. */
		o->fds[0] = take_fd(memfd);
		o->nfds = 1;
		*out = take_ptr(&o);
		return 0;
	}
	if (hdr->len) {
		o->inline_payload = malloc(hdr->len);
		if (!o->inline_payload)
			return kerr_set(err, -ENOMEM, "send %s: out of memory", name);
		iovec_copy(o->inline_payload, iov, niov, 0, SIZE_MAX);
	}
	for (unsigned i = 0; i < nfds; i++) {
		int dup = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (dup < 0) {
			int r = kerr_set(err, -errno, "send %s: dup fd #%u: %s", name, i,
					 strerror(errno));
			for (unsigned j = 0; j < o->nfds; j++)
				close(o->fds[j]);
			free(o->inline_payload);
			return r;
		}
		o->fds[o->nfds++] = dup;
	}
	*out = take_ptr(&o);
	return 0;
}

static int outmsg_send(int sock, const struct outmsg *o, struct kerr *err)
{
	struct iovec iov = { .iov_base = o->inline_payload, .iov_len = o->hdr.len };
	return wire_send(sock, &o->hdr, &iov, 1, o->fds, o->nfds, err);
}

/* A checked message's header, and its memfd (-1 when inline). */
static int send_prepare(struct ipc_hdr *hdr, int *memfd, uint32_t type, uint32_t id,
			const struct iovec *iov, unsigned niov, const int *fds, unsigned nfds,
			struct kerr *err)
{
	if (niov > IPC_SEND_IOV_MAX)
		return kerr_set(err, -EINVAL, "send %s: %u pieces, at most %u", ipc_type_name(type),
				niov, IPC_SEND_IOV_MAX);
	size_t len = iovec_total(iov, niov);
	const struct ipc_type_desc *d = NULL;
	bool use_memfd = false;
	int r = send_check(&d, type, iov, niov, len, fds, nfds, &use_memfd, err);
	if (r < 0)
		return r;
	*hdr = (struct ipc_hdr){ .type = type, .len = (uint32_t)len, .id = id, .flags = 0 };
	*memfd = -1;
	if (use_memfd) {
		cleanup_free uint8_t *copy = NULL;
		const void *p = niov == 1 ? iov[0].iov_base : NULL;
		if (niov > 1) {
			if (!(copy = malloc(len)))
				return kerr_set(err, -ENOMEM, "send %s: out of memory", d->name);
			iovec_copy(copy, iov, niov, 0, SIZE_MAX);
			p = copy;
		}
		hdr->flags |= IPC_F_MEMFD;
		*memfd = make_memfd(p, len, err);
		if (*memfd < 0)
			return kerr_prefix(err, "send %s", d->name);
	}
	return 0;
}

int ipc_sendv(int sock, uint32_t type, uint32_t id, const struct iovec *iov, unsigned niov,
	      const int *fds, unsigned nfds, struct kerr *err)
{
	struct ipc_hdr hdr;
	cleanup_close int memfd = -1;
	int r = send_prepare(&hdr, &memfd, type, id, iov, niov, fds, nfds, err);
	if (r < 0)
		return r;
	if (memfd >= 0)
		return wire_send(sock, &hdr, NULL, 0, &memfd, 1, err);
	return wire_send(sock, &hdr, iov, niov, fds, nfds, err);
}

int ipc_send_fd(int sock, uint32_t type, uint32_t id, const void *payload, size_t len, int fd,
		struct kerr *err)
{
	return ipc_send_fds(sock, type, id, payload, len, &fd, fd >= 0 ? 1 : 0, err);
}

int ipc_pair(int sp[2], const char *what, struct kerr *err)
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return kerr_set(err, -errno, "socketpair %s: %s", what, strerror(errno));
	return 0;
}

int ipc_send_fds(int sock, uint32_t type, uint32_t id, const void *payload, size_t len,
		 const int *fds, unsigned nfds, struct kerr *err)
{
	struct iovec iov = { .iov_base = (void *)payload, .iov_len = len };
	return ipc_sendv(sock, type, id, &iov, 1, fds, nfds, err);
}

/* ---- receiving ----
 *
 * Receive buffers: every datagram lands in an IPC_HDR_LEN + IPC_MAX_INLINE
 * buffer (the largest message must fit, or the kernel would cut it). A
 * fresh one per message cost an mmap and a munmap under musl (mallocng
 * gives a free of this size back to the kernel), so the process keeps up
 * to RX_SPARES of them. A payload of at most RX_COPY_MAX bytes (every
 * request but stdio data, policy and specs) is copied out at once and the
 * buffer stays a spare; a larger one keeps its buffer until
 * ipc_msg_release gives it back. The agent's processes are single-threaded
 * event loops (no pthread in common/ or agentd/): the spares need no lock.
 * What a process keeps: RX_SPARES buffers of 64 KiB of address space, of
 * which only the pages its largest messages touched are resident (one page
 * for a monitor that only got requests). */
#define RX_BUF_LEN (IPC_HDR_LEN + IPC_MAX_INLINE)
#define RX_COPY_MAX 4096u
#define RX_SPARES 2

static uint8_t *rx_spare[RX_SPARES];

static uint8_t *rx_take(void)
{
	for (unsigned i = 0; i < RX_SPARES; i++)
		if (rx_spare[i]) {
			uint8_t *b = rx_spare[i];
			rx_spare[i] = NULL;
			ASAN_UNPOISON_MEMORY_REGION(b, RX_BUF_LEN);
			return b;
		}
	return malloc(RX_BUF_LEN);
}

static void rx_give(uint8_t *b)
{
	if (!b)
		return;
	for (unsigned i = 0; i < RX_SPARES; i++)
		if (!rx_spare[i]) {
			/* A read of a spare (a message used after its release)
			 * is an error under ASan, as it was after free. */
			ASAN_POISON_MEMORY_REGION(b, RX_BUF_LEN);
			rx_spare[i] = b;
			return;
		}
	ASAN_UNPOISON_MEMORY_REGION(b, RX_BUF_LEN);
	free(b);
}

static void rx_givep(uint8_t **b)
{
	rx_give(*b);
}
#define cleanup_rx __attribute__((cleanup(rx_givep)))

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
	if (m->buf_rx)
		rx_give(m->buf);
	else
		free(m->buf);
	m->buf = NULL;
	m->buf_rx = false;
	m->payload = NULL;
	if (m->in_decoded && m->in)
		ipc_msg_free_decoded(m->in);
	m->in = NULL;
	m->in_decoded = false;
}

void *ipc_msg_take_in(struct ipc_msg *m)
{
	if (!m->in_decoded)
		return NULL;
	void *in = m->in;
	m->in = NULL;
	m->in_decoded = false;
	return in;
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

/* One datagram into buf (IPC_HDR_LEN + IPC_MAX_INLINE bytes), *len its
 * size, and the fds it carried: 1, 0 on EOF, -EAGAIN, or an error (with
 * every fd received closed). */
static int recv_datagram(int sock, uint8_t *buf, size_t *len, int fds[CMSG_FDS_MAX * 2],
			 size_t *nfds, struct kerr *err)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * CMSG_FDS_MAX)];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = buf, .iov_len = RX_BUF_LEN };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cm.buf,
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
	*nfds = 0;
	bool other_cmsg = false;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k && *nfds < CMSG_FDS_MAX * 2; i++)
				memcpy(&fds[(*nfds)++], CMSG_DATA(c) + i * sizeof(int),
				       sizeof(int));
		} else {
			other_cmsg = true;
		}
	}
	int r = 0;
	if (n == 0 && *nfds == 0)
		return 0; /* EOF */
	if (mh.msg_flags & MSG_CTRUNC)
		r = kerr_set(err, -EPROTO, "recv: control data truncated (too many fds)");
	else if (mh.msg_flags & MSG_TRUNC)
		r = kerr_set(err, -EPROTO, "recv: message larger than %u bytes",
			     IPC_HDR_LEN + IPC_MAX_INLINE);
	else if (other_cmsg)
		r = kerr_set(err, -EPROTO, "recv: unexpected control message");
	else if (*nfds > IPC_MAX_FDS)
		r = kerr_set(err, -EPROTO, "recv: %zu fds in one message, at most %u allowed",
			     *nfds, IPC_MAX_FDS);
	else if ((size_t)n < IPC_HDR_LEN)
		r = kerr_set(err, -EPROTO, "recv: short message of %zd bytes", n);
	if (r < 0) {
		close_fds(fds, *nfds);
		return r;
	}
	*len = (size_t)n;
	return 1;
}

/* The header against its type d (NULL: unknown): fd count, flags. */
static int check_header(const struct ipc_msg *m, const struct ipc_type_desc *d, size_t nfds,
			struct kerr *err)
{
	/* Only MON_PROCESS_ADD carries several fds; its exact count depends on
	 * the payload and is checked after ipc_check_payload. */
	size_t max_fds = d && (d->fd == IPC_FD_PROCESS || d->fd == IPC_FD_THREE) ? IPC_MAX_FDS : 1;
	if (nfds > max_fds)
		return kerr_set(err, -EPROTO,
				"recv %s: %zu fds in one message, at most %zu allowed",
				d ? d->name : "?", nfds, max_fds);
	if (!d)
		return kerr_set(err, -EPROTO, "recv: unknown message type %u", m->hdr.type);
	if (m->hdr.flags & ~IPC_F_KNOWN)
		return kerr_set(err, -EPROTO, "recv %s: unknown flags 0x%x", d->name, m->hdr.flags);
	return 0;
}

/* A payload in a memfd (IPC_F_MEMFD): allowed for d, no inline bytes, its
 * size within d's bounds, then mapped. The fds are closed either way: the
 * mapping keeps the pages, and any fd beyond the first (a type that may
 * carry several, with the flag) is an error. */
static int take_memfd(struct ipc_msg *m, const struct ipc_type_desc *d, size_t inline_len, int *fds,
		      size_t nfds, struct kerr *err)
{
	int fd = nfds ? fds[0] : -1;
	int r;
	if (!d->big)
		r = kerr_set(err, -EPROTO, "recv %s: memfd payload not allowed", d->name);
	else if (inline_len)
		r = kerr_set(err, -EPROTO, "recv %s: memfd message with inline bytes", d->name);
	else if (fd < 0)
		r = kerr_set(err, -EPROTO, "recv %s: memfd flag without an fd", d->name);
	else if (m->hdr.len <= IPC_MAX_INLINE || m->hdr.len > d->max_len)
		r = kerr_set(err, -EPROTO, "recv %s: memfd payload of %u bytes, bounds %u..%u",
			     d->name, m->hdr.len, IPC_MAX_INLINE + 1, d->max_len);
	else
		r = map_memfd(m, fd, d, err);
	close_fds(fds, nfds);
	return r;
}

/* An inline payload (in *buf, taken on success) and its fds, as d's fd
 * rule wants them; on error the fds are closed. */
static int take_inline(struct ipc_msg *m, const struct ipc_type_desc *d, uint8_t **buf,
		       size_t inline_len, int *fds, size_t nfds, struct kerr *err)
{
	int fd = nfds ? fds[0] : -1;
	int r = 0;
	if (m->hdr.len != inline_len)
		r = kerr_set(err, -EPROTO, "recv %s: header length %u, %zu bytes received", d->name,
			     m->hdr.len, inline_len);
	else if (d->fd == IPC_FD_REQUIRED && fd < 0)
		r = kerr_set(err, -EPROTO, "recv %s: required fd missing", d->name);
	else if (d->fd == IPC_FD_NONE && fd >= 0)
		r = kerr_set(err, -EPROTO, "recv %s: unexpected fd", d->name);
	else if ((d->fd == IPC_FD_PROCESS || d->fd == IPC_FD_THREE) && nfds == 0)
		r = kerr_set(err, -EPROTO, "recv %s: required fds missing", d->name);
	if (r < 0) {
		close_fds(fds, nfds);
		return r;
	}
	if (inline_len <= RX_COPY_MAX) {
		/* Small: an exact copy, and the receive buffer stays a spare. */
		m->buf = malloc(inline_len ? inline_len : 1);
		if (!m->buf) {
			close_fds(fds, nfds);
			return kerr_set(err, -ENOMEM, "recv %s: out of memory", d->name);
		}
		memcpy(m->buf, *buf + IPC_HDR_LEN, inline_len);
		m->payload = m->buf;
	} else {
		m->payload = *buf + IPC_HDR_LEN;
		m->buf = take_ptr(buf);
		m->buf_rx = true;
		/* Past the payload: what earlier messages left, not this one's. */
		ASAN_POISON_MEMORY_REGION(m->buf + IPC_HDR_LEN + inline_len,
					  IPC_MAX_INLINE - inline_len);
	}
	m->len = inline_len;
	m->fd = fd;
	for (size_t i = 0; i < nfds; i++)
		m->fds[i] = fds[i];
	m->nfds = (unsigned)nfds;
	return 0;
}

int ipc_recv(int sock, struct ipc_msg *m, struct kerr *err)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	for (unsigned i = 0; i < IPC_MAX_FDS; i++)
		m->fds[i] = -1;
	cleanup_rx uint8_t *buf = rx_take();
	if (!buf)
		return kerr_set(err, -ENOMEM, "recv: out of memory");
	int fds[CMSG_FDS_MAX * 2];
	size_t n = 0, nfds = 0;
	int r = recv_datagram(sock, buf, &n, fds, &nfds, err);
	if (r <= 0)
		return r;
	memcpy(&m->hdr, buf, sizeof(m->hdr));
	const struct ipc_type_desc *d = ipc_type_info(m->hdr.type);
	if ((r = check_header(m, d, nfds, err)) < 0) {
		close_fds(fds, nfds);
		return r;
	}
	if (m->hdr.flags & IPC_F_MEMFD)
		r = take_memfd(m, d, n - IPC_HDR_LEN, fds, nfds, err);
	else
		r = take_inline(m, d, &buf, n - IPC_HDR_LEN, fds, nfds, err);
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
	m->in = (void *)m->payload;
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
	ipc_defer_fn defer;
	void *defer_data;
	struct ipc_deferred *deferred; /* held by the defer hook, oldest first */
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

static const struct ipc_dispatch *chan_lookup(const struct ipc_chan *c, uint32_t type);
static int chan_refuse(struct ipc_chan *c, const struct ipc_msg *m, const struct kerr *why,
		       int default_status, struct kerr *err);
static void chan_fail(struct ipc_chan *c, const struct kerr *e);

struct ipc_deferred {
	struct ipc_chan *chan; /* NULL once the channel closed */
	struct ipc_deferred *next, **pprev;
	struct ipc_msg msg;
};

static void deferred_unlink(struct ipc_deferred *d)
{
	if (!d->pprev)
		return;
	*d->pprev = d->next;
	if (d->next)
		d->next->pprev = d->pprev;
	d->next = NULL;
	d->pprev = NULL;
}

static void chan_shut(struct ipc_chan *c)
{
	if (c->closed)
		return;
	c->closed = true;
	/* Their owner learns it at resume time: the request is dropped. */
	while (c->deferred) {
		struct ipc_deferred *d = c->deferred;
		deferred_unlink(d);
		d->chan = NULL;
	}
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
	uint8_t buf[IPC_ERROR_PAYLOAD_MAX];
	size_t n = ipc_error_payload(buf, e, default_status);
	return ipc_chan_send(c, IPC_ERROR, id, buf, n, -1, err);
}

void ipc_chan_set_gate(struct ipc_chan *c, ipc_gate_fn fn, void *data)
{
	c->gate = fn;
	c->gate_data = data;
}

void ipc_chan_set_defer(struct ipc_chan *c, ipc_defer_fn fn, void *data)
{
	c->defer = fn;
	c->defer_data = data;
}

struct ipc_deferred *ipc_chan_defer(struct ipc_chan *c, struct ipc_msg *m)
{
	struct ipc_deferred *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->chan = c;
	d->msg = *m;
	/* The message's buffers, fds and decoded input are d's now. */
	m->buf = NULL;
	m->map = NULL;
	m->nfds = 0;
	m->fd = -1;
	m->in = NULL;
	m->in_decoded = false;
	struct ipc_deferred **tail = &c->deferred;
	while (*tail)
		tail = &(*tail)->next;
	d->pprev = tail;
	*tail = d;
	return d;
}

const struct ipc_msg *ipc_deferred_msg(const struct ipc_deferred *d)
{
	return &d->msg;
}

static void deferred_free(struct ipc_deferred *d)
{
	deferred_unlink(d);
	ipc_msg_release(&d->msg);
	free(d);
}

static void chan_done(struct ipc_chan *c)
{
	c->busy--;
	if (c->free_later && !c->busy)
		chan_destroy(c);
}

void ipc_deferred_resume(struct ipc_deferred *d)
{
	struct ipc_chan *c = d->chan;
	deferred_unlink(d);
	if (c && !c->closed) {
		const struct ipc_dispatch *e = chan_lookup(c, d->msg.hdr.type);
		struct kerr err = { 0 };
		c->busy++;
		if (e && e->fn(c, &d->msg, c->data, &err) < 0 && !c->closed)
			chan_fail(c, &err);
		chan_done(c);
	}
	deferred_free(d);
}

void ipc_deferred_drop(struct ipc_deferred *d)
{
	deferred_free(d);
}

void ipc_deferred_refuse(struct ipc_deferred *d, const struct kerr *why)
{
	struct ipc_chan *c = d->chan;
	deferred_unlink(d);
	if (c && !c->closed) {
		struct kerr err = { 0 };
		c->busy++;
		if (chan_refuse(c, &d->msg, why, GRPC_PERMISSION_DENIED, &err) < 0 && !c->closed)
			chan_fail(c, &err);
		chan_done(c);
	}
	deferred_free(d);
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

/* The entry for type, else the table's reply handler for a reply the peer
 * may send. */
static const struct ipc_dispatch *chan_lookup(const struct ipc_chan *c, uint32_t type)
{
	const struct ipc_dispatch *replies = NULL;
	for (const struct ipc_dispatch *d = c->table; d && d->fn; d++) {
		if (d->type == type)
			return d;
		if (d->type == IPC_REPLIES)
			replies = d;
	}
	const struct ipc_type_desc *t = ipc_type_info(type);
	if (replies && t && (t->from & IPC_ROLE_BIT(c->peer)) && ipc_type_is_reply(type))
		return replies;
	return NULL;
}

/* A message refused without its handler (the gate's policy, a request that
 * does not decode): ERROR to its id (none: dropped); the channel stays. */
static int chan_refuse(struct ipc_chan *c, const struct ipc_msg *m, const struct kerr *why,
		       int default_status, struct kerr *err)
{
	log_warn("ipc channel %s: %s (id %u) refused: %s", c->name, ipc_type_name(m->hdr.type),
		 m->hdr.id, why->msg);
	if (!m->hdr.id)
		return 0;
	return ipc_chan_send_error(c, m->hdr.id, why, default_status, err);
}

/* One received message: the table, the gate, a request's id and decode,
 * then its handler. Negative: fatal for the channel (err says why). */
static int chan_dispatch(struct ipc_chan *c, struct ipc_msg *m, struct kerr *err)
{
	const struct ipc_dispatch *d = chan_lookup(c, m->hdr.type);
	if (!d)
		return kerr_set(err, -EPROTO, "message %s (id %u) not accepted here",
				ipc_type_name(m->hdr.type), m->hdr.id);
	const struct ipc_type_desc *t = ipc_type_info(m->hdr.type);
	struct kerr why = { 0 };
	if (c->gate && c->gate(c, m, c->gate_data, &why) < 0)
		return chan_refuse(c, m, &why, GRPC_PERMISSION_DENIED, err);
	if (t->reply != IPC_NONE) {
		/* Without an id its answer could not be matched. */
		if (!m->hdr.id)
			return kerr_set(err, -EPROTO, "%s without a request id", t->name);
		if (ipc_msg_decode(m, &why) < 0)
			return chan_refuse(c, m, &why, GRPC_INVALID_ARGUMENT, err);
	}
	if (c->defer) {
		int r = c->defer(c, m, c->defer_data, &why);
		if (r == IPC_DEFERRED)
			return 0;
		if (r < 0)
			return chan_refuse(c, m, &why, GRPC_PERMISSION_DENIED, err);
	}
	return d->fn(c, m, c->data, err);
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
			r = chan_dispatch(c, &m, &e);
			ipc_msg_release(&m);
			if (r < 0) {
				if (!c->closed)
					chan_fail(c, &e);
				break;
			}
		}
	}
out:
	c->busy--;
	if (c->free_later && !c->busy)
		chan_destroy(c);
}

/* A table may list only what the declaration lets its peer send: the
 * sender rule is the declaration's, the table says who handles it. */
static int table_check(const struct ipc_dispatch *table, enum ipc_role peer, const char *name,
		       struct kerr *err)
{
	for (const struct ipc_dispatch *d = table; d && d->fn; d++) {
		if (d->type == IPC_REPLIES)
			continue; /* chan_lookup checks each reply's sender */
		const struct ipc_type_desc *t = ipc_type_info(d->type);
		if (!t)
			return kerr_set(err, -EINVAL,
					"ipc channel %s: its table lists unknown type %u", name,
					d->type);
		if (!(t->from & IPC_ROLE_BIT(peer)))
			return kerr_set(err, -EINVAL,
					"ipc channel %s: its table lists %s, which a %s never sends",
					name, t->name, ipc_role_name(peer));
	}
	return 0;
}

int ipc_chan_new(struct ipc_chan **out, struct loop *l, int sock, const char *name,
		 enum ipc_role peer, const struct ipc_dispatch *table, ipc_close_fn on_close,
		 void *data, struct kerr *err)
{
	cleanup_close int fd = sock;
	int r = table_check(table, peer, name, err);
	if (r < 0)
		return r;
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
	r = loop_add(l, fd, EPOLLIN, chan_on_events, c, err);
	if (r < 0)
		return kerr_prefix(err, "ipc channel %s", name);
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
	struct iovec iov = { .iov_base = (void *)payload, .iov_len = len };
	return ipc_chan_sendv(c, type, id, &iov, 1, fds, nfds, err);
}

int ipc_chan_sendv(struct ipc_chan *c, uint32_t type, uint32_t id, const struct iovec *iov,
		   unsigned niov, const int *fds, unsigned nfds, struct kerr *err)
{
	if (c->closed)
		return kerr_set(err, -EPIPE, "ipc channel %s is closed", c->name);
	if (c->queued >= IPC_MAX_QUEUED)
		return kerr_set(err, -ENOBUFS,
				"ipc channel %s: %u messages queued, peer not reading", c->name,
				IPC_MAX_QUEUED);
	struct ipc_hdr hdr;
	cleanup_close int memfd = -1;
	int r = send_prepare(&hdr, &memfd, type, id, iov, niov, fds, nfds, err);
	if (r < 0)
		return r;
	if (memfd >= 0) {
		fds = &memfd;
		nfds = 1;
	}
	struct kerr e = { 0 };
	c->busy++;
	/* Straight from the caller's bytes when nothing waits before it (the
	 * order is kept); a copy only when it must wait. */
	r = c->qhead ? -EAGAIN : wire_send(c->fd, &hdr, iov, niov, fds, nfds, &e);
	if (r == -EAGAIN) {
		struct outmsg *o = NULL;
		if ((r = outmsg_new(&o, &hdr, iov, niov, &memfd, fds, nfds, err)) < 0) {
			chan_done(c);
			return r;
		}
		*c->qtail = o;
		c->qtail = &o->next;
		c->queued++;
		r = chan_flush(c, &e);
	}
	/* A write error is the peer's fault, not the caller's: the channel
	 * closes (on_close tells the owner) and the send itself "succeeded". */
	if (r < 0)
		chan_fail(c, &e);
	else
		chan_update_events(c);
	chan_done(c);
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
