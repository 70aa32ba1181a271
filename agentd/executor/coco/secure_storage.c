/* SPDX-License-Identifier: Apache-2.0 */
/*
 * secure_storage.c - CreateContainer's storages a worker prepares
 * (secure_storage.h): the CDH's SecureMount of an encrypted block storage
 * or of the trusted image storage, mkfs.ext4 of a plain one; the mount
 * point, the device and the holding are storage.c's.
 *
 * Every job is in this module's list, owned by the executor, not by the
 * container: a SecureMount whose container goes meanwhile stays listed
 * (an orphan, ct NULL) until its worker ends, so that a mount the CDH
 * makes after the container went is undone then.
 */
#include "secure_storage.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "block_mkfs.h"
#include "cdh_job.h"
#include "cleanup.h"
#include "container_devices.h"
#include "executor.h"
#include "grpc_status.h"
#include "loop.h"
#include "probe.h"
#include "storage.h"

enum sj_kind { SJ_ENCRYPTED, SJ_TRUSTED, SJ_MKFS };

struct secure_job {
	enum sj_kind kind;
	struct executor *x;
	struct container *ct; /* NULL once the container went (an orphan) */
	char ct_id[IPC_ID_MAX];
	struct storage_set *owner;
	const Grpc__Storage *s; /* the request's, or &syn */
	Grpc__Storage syn;      /* SJ_TRUSTED: the storage the executor makes */
	struct storage_secure *ss;
	secure_storage_done done;
	struct cdh_job *job;
	uint64_t api_ms;
	bool integrity;
	const char *mkfs_opts;
	struct dev_found dev; /* SJ_MKFS */
	char device_id[24];
	char mount_point[PATH_MAX]; /* as the CDH is told */
	struct secure_job *next;
};

static struct secure_job *jobs;

static const char *const kind_what[] = { "SecureMount", "SecureMount (trusted image storage)",
					 "mkfs.ext4" };

static void job_free(struct secure_job *j)
{
	for (struct secure_job **pp = &jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	free(j);
}

static int mount_in_worker(void *arg, struct kerr *err)
{
	struct secure_job *j = arg;
	struct cdh_option o[SECURE_STORAGE_N_OPTIONS];
	secure_storage_options(j->device_id, j->integrity, j->mkfs_opts, o);
	struct cdh_client *c = NULL;
	int r = cdh_client_new(&c, j->api_ms, j->api_ms, err);
	if (r == 0)
		r = cdh_secure_mount(c, "block-device", o, SECURE_STORAGE_N_OPTIONS, NULL, 0,
				     j->mount_point, err);
	cdh_client_free(c);
	return r;
}

static int mkfs_in_worker(void *arg, struct kerr *err)
{
	struct secure_job *j = arg;
	return block_mkfs_ext4(storage_dev_env, &j->dev, BLOCK_MKFS_TIMEOUT_MS, err);
}

/* ---- SecureMounts given up on: watched (secure_storage.h) ---- */

struct watched {
	struct storage_secure *ss;
	struct executor *x;
	struct loop_timer *timer;
	unsigned checks;
	uint64_t every_ms;
	char ct_id[IPC_ID_MAX];
	struct watched *next;
};

static struct watched *watched;
static unsigned n_watched;

/* The CDH got the call but its answer never came: it may still mount. */
static bool outcome_unknown(const struct kerr *failure)
{
	return failure && (failure->status == GRPC_DEADLINE_EXCEEDED || failure->code == -EPIPE);
}

static void watched_release(struct watched *w, const char *why)
{
	for (struct watched **pp = &watched; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	n_watched--;
	if (w->timer)
		loop_timer_cancel(w->x->loop, w->timer);
	char mp[PATH_MAX];
	snprintf(mp, sizeof(mp), "%s", storage_secure_mount_point(w->ss));
	bool mounted = storage_secure_abandon(w->ss);
	log_info("container %s: the SecureMount of %s given up on: %s (%s), the mount point "
		 "removed and released",
		 w->ct_id, mp, mounted ? "the CDH's late mount detached" : "nothing mounted", why);
	free(w);
}

static void watch_arm(struct watched *w);

static void on_watch_timer(struct loop *l, void *data)
{
	(void)l;
	struct watched *w = data;
	w->timer = NULL;
	if (storage_secure_mounted(w->ss)) {
		watched_release(w, "found by a timed check");
		return;
	}
	if (++w->checks < SECURE_STORAGE_WATCH_CHECKS) {
		watch_arm(w);
		return;
	}
	log_info("container %s: the CDH has not mounted %s after %u checks: it stays reserved, "
		 "checked at each RemoveContainer and at DestroySandbox",
		 w->ct_id, storage_secure_mount_point(w->ss), w->checks);
}

static void watch_arm(struct watched *w)
{
	w->timer = loop_timer_add(w->x->loop, loop_now_ns() + w->every_ms * 1000000ull,
				  on_watch_timer, w);
	if (!w->timer)
		log_warn("container %s: no timer to check %s again (out of memory): checked at "
			 "each RemoveContainer and at DestroySandbox",
			 w->ct_id, storage_secure_mount_point(w->ss));
}

/* j's SecureMount ended without the CDH's answer: its mount point and
 * device stay pending (refused to every storage) and what the CDH mounts
 * there later is detached. */
static void watch(struct secure_job *j, const struct kerr *failure)
{
	struct watched *w = calloc(1, sizeof(*w));
	if (!w) {
		/* Cannot keep it: released now, as before the watch. */
		storage_secure_abandon(j->ss);
		j->ss = NULL;
		return;
	}
	*w = (struct watched){ .ss = j->ss,
			       .x = j->x,
			       .every_ms = j->api_ms < 1000 ? 1000 : j->api_ms,
			       .next = watched };
	snprintf(w->ct_id, sizeof(w->ct_id), "%s", j->ct_id);
	j->ss = NULL;
	watched = w;
	n_watched++;
	log_info("container %s: its %s of %s ended without the CDH's answer (%s): the mount point "
		 "and the device stay reserved; what the CDH mounts there is detached (checked "
		 "every %llu ms, %u times, and at each RemoveContainer and at DestroySandbox)",
		 w->ct_id, kind_what[j->kind], storage_secure_mount_point(w->ss), failure->msg,
		 (unsigned long long)w->every_ms, SECURE_STORAGE_WATCH_CHECKS);
	watch_arm(w);
}

void secure_storage_recheck(void)
{
	for (struct watched *w = watched, *next; w; w = next) {
		next = w->next;
		if (storage_secure_mounted(w->ss))
			watched_release(w, "found at a RemoveContainer");
	}
}

void secure_storage_release(const char *why)
{
	while (watched)
		watched_release(watched, why);
}

static int watched_limit(struct kerr *err)
{
	if (n_watched < SECURE_STORAGE_MAX_WATCHED)
		return 0;
	return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -EBUSY,
			       "%u SecureMounts the CDH never answered still reserve their mount "
			       "points and devices",
			       n_watched);
}

static void (*orphan_hook)(struct executor *x);

void secure_storage_set_orphan_hook(void (*hook)(struct executor *x))
{
	orphan_hook = hook;
}

/* The worker of a container that went has ended: what the CDH mounted
 * meanwhile is detached, the directories made for it removed. */
static void orphan_end(struct secure_job *j, const struct kerr *failure)
{
	struct executor *x = j->x;
	char mp[PATH_MAX];
	snprintf(mp, sizeof(mp), "%s", storage_secure_mount_point(j->ss));
	if (j->kind != SJ_MKFS && outcome_unknown(failure)) {
		watch(j, failure);
	} else {
		bool mounted = storage_secure_abandon(j->ss);
		log_info("container %s (removed): its %s of %s ended (%s): %s, the mount point "
			 "removed",
			 j->ct_id, kind_what[j->kind], mp, failure ? failure->msg : "mounted",
			 mounted ? "the CDH's mount detached" : "nothing mounted");
	}
	job_free(j);
	if (orphan_hook)
		orphan_hook(x);
}

static void on_worker_done(void *data, const struct kerr *failure)
{
	struct secure_job *j = data;
	j->job = NULL;
	if (!j->ct) {
		orphan_end(j, failure);
		return;
	}
	struct container *ct = j->ct;
	secure_storage_done done = j->done;
	struct kerr e = { 0 };
	if (failure) {
		e = *failure;
		if (j->kind == SJ_MKFS)
			kerr_prefix(&e, "storage %s", j->s->mount_point);
		else
			kerr_prefix(&e, "failed to mount encrypted storage %s", j->mount_point);
	} else if (j->kind == SJ_MKFS) {
		ct->fs_made = j->s;
	} else if (storage_secure_adopt(j->owner, j->ss, j->s, &e) == 0) {
		j->ss = NULL;
		if (j->kind == SJ_TRUSTED)
			ct->x->sb.trusted_dev = j->dev.rdev;
	} else {
		kerr_prefix(&e, "encrypted storage %s", j->mount_point);
	}
	if (j->kind == SJ_TRUSTED && e.code)
		kerr_prefix(&e, "failed to handle trusted storage");
	ct->sj = NULL;
	if (j->ss && j->kind != SJ_MKFS && outcome_unknown(failure))
		watch(j, failure);
	storage_secure_abandon(j->ss);
	job_free(j);
	done(ct, e.code ? &e : NULL);
}

static struct secure_job *job_new(struct container *ct, enum sj_kind kind,
				  struct storage_set *owner, const Grpc__Storage *s,
				  secure_storage_done done, struct kerr *err)
{
	struct secure_job *j = calloc(1, sizeof(*j));
	if (!j) {
		kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
		return NULL;
	}
	*j = (struct secure_job){ .kind = kind,
				  .x = ct->x,
				  .ct = ct,
				  .owner = owner,
				  .s = s,
				  .done = done,
				  .api_ms = ct->x->o.cdh_api_timeout_ms,
				  .integrity = ct->x->o.secure_storage_integrity,
				  .next = jobs };
	snprintf(j->ct_id, sizeof(j->ct_id), "%s", ct->id);
	jobs = j;
	return j;
}

/* The worker of j (whose ss, device_id and mount_point are set). */
static int job_start(struct secure_job *j, struct kerr *err)
{
	struct container *ct = j->ct;
	char what[IPC_ID_MAX + 64];
	snprintf(what, sizeof(what), "container %s: %s", ct->id, kind_what[j->kind]);
	int r;
	if (j->kind == SJ_MKFS) {
		log_info("creating ext4 filesystem on /dev/%s for %s", j->dev.devname,
			 j->s->mount_point);
		/* the worker sees this one node of the guest's /dev */
		char node[sizeof("/dev/") + sizeof(j->dev.devname)];
		bool in_dev = strcmp(storage_dev_env->dev, "/dev") == 0 &&
			      !strchr(j->dev.devname, '/');
		snprintf(node, sizeof(node), "/dev/%s", j->dev.devname);
		r = cdh_job_start_ns(ct->x, what, BLOCK_MKFS_TIMEOUT_MS, CLONE_NEWNS | CLONE_NEWNET,
				     in_dev ? node : NULL, mkfs_in_worker, j, on_worker_done, j,
				     &j->job, err);
	} else {
		/* upstream logs the same line at INFO */
		log_info("cdh_secure_mount: device_type block-device, device_id %s, encrypt_type "
			 "luks2, integrity %s, mkfs_opts %s",
			 j->device_id, j->integrity ? "true" : "false", j->mkfs_opts);
		r = cdh_job_start(ct->x, what, j->api_ms, mount_in_worker, j, on_worker_done, j,
				  &j->job, err);
	}
	if (r < 0) {
		storage_secure_abandon(j->ss);
		job_free(j);
		return r;
	}
	ct->sj = j;
	return 1;
}

static int start_encrypted(struct container *ct, struct storage_set *owner, const Grpc__Storage *s,
			   struct storage_secure *ss, secure_storage_done done, struct kerr *err)
{
	struct secure_job *j = job_new(ct, SJ_ENCRYPTED, owner, s, done, err);
	if (!j) {
		storage_secure_abandon(ss);
		return err->code;
	}
	j->ss = ss;
	j->mkfs_opts = SECURE_STORAGE_MKFS_OPTS;
	snprintf(j->device_id, sizeof(j->device_id), "%s", storage_secure_device_id(ss));
	snprintf(j->mount_point, sizeof(j->mount_point), "%s", storage_secure_mount_point(ss));
	return job_start(j, err);
}

int secure_storage_begin(struct container *ct, struct storage_set *owner, const Grpc__Storage *s,
			 const struct storage_policy *pol, secure_storage_done done,
			 struct kerr *err)
{
	if (ct->fs_made == s)
		return 0; /* formatted: added as any block storage now */
	struct storage_secure *ss = NULL;
	int r = storage_secure_begin(s, pol, ct->devs, &ss, err);
	if (r < 0)
		return r;
	if (r > 0 && watched_limit(err) < 0) {
		storage_secure_abandon(ss);
		return err->code;
	}
	if (r > 0)
		return start_encrypted(ct, owner, s, ss, done, err);
	struct dev_found f = { 0 };
	char label[128];
	r = storage_mkfs_check(s, pol, ct->devs, &f, label, sizeof(label), err);
	if (r <= 0)
		return r;
	struct secure_job *j = job_new(ct, SJ_MKFS, owner, s, done, err);
	if (!j)
		return err->code;
	j->dev = f;
	r = job_start(j, err);
	return r < 0 ? r : SECURE_STORAGE_AGAIN;
}

/* ---- the trusted image storage ---- */

static const Grpc__LinuxDevice *spec_trusted_device(const Grpc__CreateContainerRequest *req)
{
	const Grpc__Linux *lx = req->oci ? req->oci->linux : NULL;
	for (size_t i = 0; lx && i < lx->n_devices; i++)
		if (lx->devices[i]->path &&
		    !strcmp(lx->devices[i]->path, SECURE_STORAGE_TRUSTED_DEVICE))
			return lx->devices[i];
	return NULL;
}

/* The device the kernel announced for the request's /dev/trusted_store,
 * which the spec (rewritten to the guest's numbers by the device
 * handling) must name: never numbers the host chose. */
static int trusted_device(struct container *ct, const Grpc__LinuxDevice *sd, struct dev_found *f,
			  char *label, size_t len, struct kerr *err)
{
	int r = ct->devs ? ctr_devices_find(ct->req, ct->devs, SECURE_STORAGE_TRUSTED_DEVICE, f,
					    label, len, err)
			 : 0;
	if (r < 0)
		return r;
	if (r == 0)
		return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EPERM,
				       "the spec's device %s (%lld:%lld) is not a device of this "
				       "request: the host does not choose guest device numbers",
				       SECURE_STORAGE_TRUSTED_DEVICE, (long long)sd->major,
				       (long long)sd->minor);
	if (!f->block || strcmp(sd->type ? sd->type : "", "b") ||
	    sd->major != (int64_t)major(f->rdev) || sd->minor != (int64_t)minor(f->rdev))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "the spec's device %s is %s %lld:%lld, but %s is %s %u:%u",
				       SECURE_STORAGE_TRUSTED_DEVICE, sd->type ? sd->type : "",
				       (long long)sd->major, (long long)sd->minor, label,
				       f->block ? "b" : "c", major(f->rdev), minor(f->rdev));
	return 0;
}

static int trusted_begin(struct container *ct, const Grpc__LinuxDevice *sd,
			 secure_storage_done done, struct kerr *err)
{
	struct executor *x = ct->x;
	struct dev_found f = { 0 };
	char label[128];
	int r = trusted_device(ct, sd, &f, label, sizeof(label), err);
	if (r < 0)
		return r;
	if (storage_set_count(x->sb.trusted) > 0) {
		if (x->sb.trusted_dev == f.rdev)
			return 0; /* mounted for an earlier container: once per sandbox */
		return kerr_set_status(err, GRPC_FAILED_PRECONDITION, -EBUSY,
				       "the trusted image storage is %u:%u already, not %s (%u:%u)",
				       major(x->sb.trusted_dev), minor(x->sb.trusted_dev), label,
				       major(f.rdev), minor(f.rdev));
	}
	if (watched_limit(err) < 0 || (!x->sb.trusted && storage_set_new(&x->sb.trusted, err) < 0))
		return err->code;
	struct secure_job *j = job_new(ct, SJ_TRUSTED, x->sb.trusted, NULL, done, err);
	if (!j)
		return err->code;
	j->dev = f;
	j->s = &j->syn;
	char mp[PATH_MAX];
	snprintf(mp, sizeof(mp), "%s/%s", x->o.shared_dir, SECURE_STORAGE_TRUSTED_DIR);
	/* A driver no request can name: a storage of the host at that mount
	 * point never shares this mount. */
	j->syn = (Grpc__Storage)GRPC__STORAGE__INIT;
	j->syn.driver = "trusted_store";
	j->syn.fstype = "ext4";
	j->syn.source = SECURE_STORAGE_TRUSTED_DEVICE;
	j->syn.mount_point = mp;
	struct storage_policy pol;
	const char *roots[1];
	executor_storage_policy(x, &pol, roots);
	cleanup_close int node = dev_node_open(storage_dev_env, &f, err);
	r = node < 0 ? node : storage_secure_begin_dev(&j->syn, &pol, node, &f, label, &j->ss, err);
	j->syn.mount_point = NULL; /* mp is gone after this call; ss keeps its copy */
	if (r == 0)
		r = kerr_set_status(err, GRPC_FAILED_PRECONDITION, -EBUSY,
				    "%s is held by a storage already", mp);
	if (r < 0) {
		job_free(j);
		return r;
	}
	j->mkfs_opts = SECURE_STORAGE_TRUSTED_MKFS_OPTS;
	snprintf(j->device_id, sizeof(j->device_id), "%s", storage_secure_device_id(j->ss));
	/* upstream KATA_IMAGE_WORK_DIR, with its slash */
	snprintf(j->mount_point, sizeof(j->mount_point), "%s/", storage_secure_mount_point(j->ss));
	return job_start(j, err);
}

int secure_storage_trusted_begin(struct container *ct, secure_storage_done done, struct kerr *err)
{
	const Grpc__LinuxDevice *sd = spec_trusted_device(ct->req);
	if (!sd)
		return 0;
	int r = trusted_begin(ct, sd, done, err);
	if (r < 0)
		kerr_prefix(err, "container %s: failed to handle trusted storage", ct->id);
	return r;
}

/* ---- cancel, shutdown ---- */

bool secure_storage_abort(struct container *ct)
{
	struct secure_job *j = ct->sj;
	if (!j)
		return false;
	ct->sj = NULL;
	if (j->kind == SJ_MKFS) {
		/* Nothing made yet: mkfs dies with its worker. */
		cdh_job_cancel(j->job);
		job_free(j);
		return true;
	}
	/* The CDH goes on with a call it got; the worker waits for its
	 * answer (at most the call's timeout), then what it mounted goes. */
	j->ct = NULL;
	j->owner = NULL;
	if (j->kind == SJ_ENCRYPTED)
		j->s = NULL;
	log_info("container %s: removed during its %s of %s: undone once the CDH answers "
		 "(at most %llu ms)",
		 j->ct_id, kind_what[j->kind], j->mount_point,
		 (unsigned long long)(j->api_ms + CDH_JOB_GRACE_MS));
	return true;
}

unsigned secure_storage_orphans(void)
{
	unsigned n = 0;
	for (struct secure_job *j = jobs; j; j = j->next)
		n += !j->ct;
	return n;
}

void secure_storage_shutdown(void)
{
	secure_storage_release("the executor stops");
	while (jobs) {
		struct secure_job *j = jobs;
		cdh_job_cancel(j->job);
		if (j->ct)
			j->ct->sj = NULL;
		if (j->ss && storage_secure_abandon(j->ss))
			log_info("container %s: the CDH's mount of %s detached at shutdown",
				 j->ct_id, j->mount_point);
		job_free(j);
	}
}
