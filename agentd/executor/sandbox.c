/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox.c - CreateSandbox and DestroySandbox in the executor: the
 * sandbox's id, hostname and storages (mounted with storage.c into the
 * sandbox's own set), and the removal of every container on destroy.
 *
 * As upstream (rpc.rs create_sandbox), a second CreateSandbox is not an
 * error: it replaces the hostname and id and adds its storages.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "executor.h"
#include "grpc_status.h"

void storage_policy_of(const struct executor *x, struct storage_policy *pol, const char *roots[1])
{
	roots[0] = x->o.shared_dir;
	pol->allowed_roots = roots;
	pol->n_allowed_roots = 1;
}

int on_sandbox_create(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	if (m->hdr.id == 0)
		return kerr_set(err, -EPROTO, "SANDBOX_CREATE_REQ without a request id");
	struct kerr e = { 0 };
	Grpc__CreateSandboxRequest *req =
		grpc__create_sandbox_request__unpack(NULL, m->len, m->payload);
	if (!req) {
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -EINVAL,
				"CreateSandbox: the request is not a valid CreateSandboxRequest");
		goto out;
	}
	if (req->sandbox_id[0] && !ipc_id_valid(req->sandbox_id, false)) {
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -EINVAL, "CreateSandbox: invalid sandbox id");
		goto out;
	}
	if (strlen(req->hostname) >= sizeof(x->sb.hostname)) {
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -EINVAL,
				"CreateSandbox: hostname of %zu bytes is too long",
				strlen(req->hostname));
		goto out;
	}
	if (x->sb.destroying) {
		kerr_set_status(&e, GRPC_FAILED_PRECONDITION, -ESHUTDOWN,
				"CreateSandbox: the sandbox is being destroyed");
		goto out;
	}
	if (!x->sb.storages && storage_set_new(&x->sb.storages, &e) < 0)
		goto out;
	struct storage_policy pol;
	const char *roots[1];
	storage_policy_of(x, &pol, roots);
	for (size_t i = 0; i < req->n_storages; i++)
		if (storage_add(x->sb.storages, req->storages[i], &pol, &e) < 0) {
			kerr_prefix(&e, "CreateSandbox: storage %zu", i);
			goto out;
		}
	snprintf(x->sb.hostname, sizeof(x->sb.hostname), "%s", req->hostname);
	if (req->sandbox_id[0])
		snprintf(x->sb.id, sizeof(x->sb.id), "%s", req->sandbox_id);
	x->sb.created = true;
	log_info("sandbox %s created (hostname %s, %zu storages)", x->sb.id, x->sb.hostname,
		 req->n_storages);
out:
	if (req)
		protobuf_c_message_free_unpacked(&req->base, NULL);
	if (e.msg[0]) {
		log_warn("%s", e.msg);
		return exec_reply_error(c, m->hdr.id, &e, err);
	}
	return ipc_chan_send(c, IPC_OK, m->hdr.id, NULL, 0, -1, err);
}

static void destroy_done(struct executor *x)
{
	storage_set_free(x->sb.storages);
	x->sb.storages = NULL;
	x->sb.created = false;
	x->sb.destroying = false;
	x->sb.id[0] = x->sb.hostname[0] = '\0';
	log_info("sandbox destroyed");
	exec_ok_to_fe(x, x->sb.destroy_fe_gen, x->sb.destroy_fe_id);
}

int on_sandbox_destroy(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	if (m->hdr.id == 0)
		return kerr_set(err, -EPROTO, "SANDBOX_DESTROY_REQ without a request id");
	if (x->sb.destroying) {
		struct kerr e = { 0 };
		kerr_set_status(&e, GRPC_FAILED_PRECONDITION, -EBUSY,
				"DestroySandbox: already being destroyed");
		return exec_reply_error(c, m->hdr.id, &e, err);
	}
	x->sb.destroying = true;
	x->sb.destroy_fe_id = m->hdr.id;
	x->sb.destroy_fe_gen = x->fe_generation;
	if (!x->ctrs) {
		destroy_done(x);
		return 0;
	}
	/* Removal finishes from deferred callbacks: the list stays intact
	 * while this walks it. */
	for (struct container *ct = x->ctrs; ct; ct = ct->next)
		container_begin_remove(ct);
	return 0;
}

void sandbox_container_gone(struct executor *x)
{
	if (x->sb.destroying && !x->ctrs)
		destroy_done(x);
}

void sandbox_free(struct executor *x)
{
	storage_set_free(x->sb.storages);
	x->sb.storages = NULL;
}
