/* SPDX-License-Identifier: Apache-2.0 */
/*
 * secure_storage.c - SecureMount of an encrypted block storage in a CDH
 * worker (secure_storage.h); the mount point, the device and the holding
 * are storage.c's.
 */
#include "secure_storage.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdh_job.h"
#include "executor.h"
#include "grpc_status.h"
#include "storage.h"

struct secure_job {
	struct container *ct;
	struct storage_set *owner;
	const Grpc__Storage *s;
	struct storage_secure *ss;
	secure_storage_done done;
	struct cdh_job *job;
	uint64_t api_ms;
	bool integrity;
	char device_id[24];
	char mount_point[PATH_MAX];
};

static int mount_in_worker(void *arg, struct kerr *err)
{
	struct secure_job *j = arg;
	struct cdh_option o[SECURE_STORAGE_N_OPTIONS];
	secure_storage_options(j->device_id, j->integrity, o);
	struct cdh_client *c = NULL;
	int r = cdh_client_new(&c, j->api_ms, j->api_ms, err);
	if (r == 0)
		r = cdh_secure_mount(c, "block-device", o, SECURE_STORAGE_N_OPTIONS, NULL, 0,
				     j->mount_point, err);
	cdh_client_free(c);
	return r;
}

/* One SecureMount at a time per container (its storages are added in
 * order): ct->sj. */
static void forget(struct secure_job *j)
{
	j->ct->sj = NULL;
	storage_secure_abandon(j->ss);
	free(j);
}

static void on_mounted(void *data, const struct kerr *failure)
{
	struct secure_job *j = data;
	struct container *ct = j->ct;
	secure_storage_done done = j->done;
	struct kerr e = { 0 };
	j->job = NULL;
	if (failure) {
		e = *failure;
		kerr_prefix(&e, "failed to mount encrypted storage %s", j->mount_point);
	} else if (storage_secure_adopt(j->owner, j->ss, j->s, &e) == 0) {
		j->ss = NULL;
	} else {
		kerr_prefix(&e, "encrypted storage %s", j->mount_point);
	}
	forget(j);
	done(ct, e.code ? &e : NULL);
}

int secure_storage_begin(struct container *ct, struct storage_set *owner, const Grpc__Storage *s,
			 const struct storage_policy *pol, secure_storage_done done,
			 struct kerr *err)
{
	struct storage_secure *ss = NULL;
	int r = storage_secure_begin(s, pol, ct->devs, &ss, err);
	if (r <= 0)
		return r;
	struct secure_job *j = calloc(1, sizeof(*j));
	if (!j) {
		storage_secure_abandon(ss);
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	}
	*j = (struct secure_job){ .ct = ct,
				  .owner = owner,
				  .s = s,
				  .ss = ss,
				  .done = done,
				  .api_ms = ct->x->o.cdh_api_timeout_ms,
				  .integrity = ct->x->o.secure_storage_integrity };
	snprintf(j->device_id, sizeof(j->device_id), "%s", storage_secure_device_id(ss));
	snprintf(j->mount_point, sizeof(j->mount_point), "%s", storage_secure_mount_point(ss));
	ct->sj = j;
	/* upstream logs the same line at INFO */
	log_info("cdh_secure_mount: device_type block-device, device_id %s, encrypt_type luks2, "
		 "integrity %s, mkfs_opts %s",
		 j->device_id, j->integrity ? "true" : "false", SECURE_STORAGE_MKFS_OPTS);
	char what[IPC_ID_MAX + 32];
	snprintf(what, sizeof(what), "container %s: SecureMount", ct->id);
	r = cdh_job_start(ct->x, what, j->api_ms, mount_in_worker, j, on_mounted, j, &j->job, err);
	if (r < 0) {
		forget(j);
		return r;
	}
	return 1;
}

bool secure_storage_abort(struct container *ct)
{
	struct secure_job *j = ct->sj;
	if (!j)
		return false;
	cdh_job_cancel(j->job);
	forget(j);
	return true;
}
