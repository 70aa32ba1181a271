/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diagnostic.c - GetDiagnosticData: a container's termination log, read for
 * the host (diagnostic.h).
 *
 * The client: runtime-rs copy_termination_log (container_manager/
 * container.rs), with shared_fs none and the annotation
 * io.kubernetes.container.terminationMessagePolicy "File", before it stops
 * the container's init. With no shared filesystem the runtime copied the
 * kubelet's file into the guest (CopyFile, volume/share_fs_volume.rs:
 * <KATA_GUEST_SHARE_DIR><cid>-<16 hex>-<basename of the destination>) and
 * made it the source of the bind mount at terminationMessagePath; the
 * container writes its message there, and the runtime asks for it here.
 *
 * Upstream (rpc.rs do_read_termination_log) reads the source of the spec
 * mount whose destination is the annotation's path, whatever it is, through
 * any symlink. Here the path comes from the spec this executor checked and
 * handed to the container's setup at create (ct->req), and it is read only
 * if it is what the runtime makes: a direct child of COPY_FILE_SUBTREE
 * named exactly <cid>-<16 hex>-<name> for this container and destination. Anything else (a source
 * under /dev or /sys, which a create accepts, another container's file, a
 * volume's unsealed secret) is PERMISSION_DENIED: the host cannot steer the
 * read to a guest file it did not copy for this container. The file is
 * reached with beneath_read_file from the shared directory: no symlink in
 * any component, nothing but a regular file with one link, no blocking
 * open or read, at most IPC_DIAG_DATA_MAX bytes.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "beneath.h"
#include "cleanup.h"
#include "containers.h"
#include "diagnostic.h"
#include "grpc_status.h"
#include "log.h"
#include "mount_source.h"

#define TERMINATION_PATH_KEY "io.kubernetes.container.terminationMessagePath"
/* The random part of the runtime's name: 8 bytes, hex-encoded. */
#define DIAG_HEX 16

static const char *annotation(const Grpc__Spec *s, const char *key)
{
	for (size_t i = 0; i < s->n_annotations; i++)
		if (strcmp(s->annotations[i]->key, key) == 0)
			return s->annotations[i]->value;
	return NULL;
}

/* The first mount of s whose destination is dest (canonical; compared
 * canonical, as upstream compares Paths), a bind mount. */
static const Grpc__Mount *mount_at(const Grpc__Spec *s, const char *dest, struct kerr *err)
{
	for (size_t i = 0; i < s->n_mounts; i++) {
		struct kerr ignored = { 0 };
		cleanup_free char *d = NULL;
		if (msrc_normalize("destination", s->mounts[i]->destination, &d, &ignored) < 0 ||
		    strcmp(d, dest) != 0)
			continue;
		if (!ctr_mount_is_bind(s->mounts[i])) {
			kerr_set_status(err, GRPC_FAILED_PRECONDITION, -EINVAL,
					"termination message mount at %.256s is not a bind mount",
					dest);
			return NULL;
		}
		return s->mounts[i];
	}
	kerr_set_status(err, GRPC_FAILED_PRECONDITION, -ENOENT,
			"termination message mount not found for %.256s", dest);
	return NULL;
}

/* name is exactly "<cid>-<16 hex digits>-<base>", base the last component
 * of dest (canonical): runtime-rs generate_copy_file_guest_path. Exactly,
 * so that no other container's file fits (ids may hold '-': the file of
 * container "a-b" is not one of container "a"). */
static bool named_for(const char *name, const char *cid, const char *dest)
{
	const char *base = strrchr(dest, '/') + 1;
	size_t c = strlen(cid), b = strlen(base);
	if (!*base || strlen(name) != c + 1 + DIAG_HEX + 1 + b || strncmp(name, cid, c) != 0 ||
	    name[c] != '-' || name[c + 1 + DIAG_HEX] != '-' ||
	    strcmp(name + c + 2 + DIAG_HEX, base) != 0)
		return false;
	for (size_t i = c + 1; i < c + 1 + DIAG_HEX; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return true;
}

/* The source of mt relative to the shared directory, if it is a file the
 * runtime copied for container cid's destination dest (*rel points into
 * *norm). */
static int copied_file(const char *shared_dir, const char *cid, const char *dest,
		       const Grpc__Mount *mt, char **norm, const char **rel, struct kerr *err)
{
	int r = msrc_normalize("termination message source", mt->source, norm, err);
	if (r < 0)
		return r;
	char subtree[PATH_MAX];
	snprintf(subtree, sizeof(subtree), "%s/%s/", shared_dir, COPY_FILE_SUBTREE);
	size_t sl = strlen(subtree);
	bool below = strncmp(*norm, subtree, sl) == 0;
	const char *name = below ? *norm + sl : "";
	if (!below || strchr(name, '/') || !named_for(name, cid, dest))
		return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EPERM,
				       "termination message source %.256s is not a file the "
				       "runtime copied for container %s (%s%s-<16 hex>-%s)",
				       *norm, cid, subtree, cid, strrchr(dest, '/') + 1);
	*rel = *norm + strlen(shared_dir) + 1;
	return 0;
}

/* buf gets at most IPC_DIAG_DATA_MAX bytes of ct's termination log;
 * returns how many (0 for a missing file, as upstream). */
static ssize_t read_termination_log(struct executor *x, struct container *ct, char *buf,
				    struct kerr *err)
{
	const Grpc__Spec *s = ct->req->oci;
	const char *path = annotation(s, TERMINATION_PATH_KEY);
	if (!path)
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -ENOENT,
				       "No terminationMessagePath annotation");
	cleanup_free char *dest = NULL;
	int r = msrc_normalize(TERMINATION_PATH_KEY, path, &dest, err);
	if (r < 0) {
		err->status = GRPC_FAILED_PRECONDITION;
		return r;
	}
	const Grpc__Mount *mt = mount_at(s, dest, err);
	if (!mt)
		return err->code;
	cleanup_free char *norm = NULL;
	const char *rel = NULL;
	r = copied_file(x->o.shared_dir, ct->id, dest, mt, &norm, &rel, err);
	if (r < 0)
		return r;
	cleanup_close int root = beneath_open_root(x->o.shared_dir, err);
	if (root < 0)
		return root;
	ssize_t n = beneath_read_file(root, rel, buf, IPC_DIAG_DATA_MAX, err);
	if (n < 0 && kerr_status(err) == GRPC_NOT_FOUND)
		return 0;
	if (n < 0)
		kerr_prefix(err, "termination log");
	return n;
}

int on_get_diagnostic_data(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	const struct ipc_diagnostic_req *q = m->in;
	struct kerr e = { 0 };
	struct container *ct = executor_container(x, q->container_id);
	if (!ct) {
		kerr_set_status(&e, GRPC_NOT_FOUND, -ENOENT, "Invalid container id: %s",
				q->container_id);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	if (ct->state == CTR_CREATING) {
		kerr_set_status(&e, GRPC_FAILED_PRECONDITION, -EAGAIN,
				"container %s is being created", ct->id);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	char buf[IPC_DIAG_DATA_MAX];
	ssize_t n = read_termination_log(x, ct, buf, &e);
	if (n < 0) {
		kerr_prefix(&e, "container %s", ct->id);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	log_info("container %s: termination log read for the host (%zd bytes)", ct->id, n);
	return ipc_chan_send(c, IPC_GET_DIAGNOSTIC_DATA_REPLY, m->hdr.id, buf, (size_t)n, -1, err);
}
