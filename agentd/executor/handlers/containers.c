/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containers.c - the executor's container registry and its front-end
 * handlers: CreateContainer, StartContainer, ExecProcess, SignalProcess,
 * RemoveContainer, UpdateContainer, PauseContainer, ResumeContainer,
 * StatsContainer (as IPC_*_REQ), the launcher's and monitor's replies, and
 * the exits of the monitors.
 *
 * Every request is re-validated here (ids, the spec with spec_check, the
 * rootfs and bind sources under --shared-dir, state); the slow work runs in
 * the container's launcher, so the executor only forwards and waits for
 * messages: a reply to the front-end is sent when the launcher or monitor
 * answers (struct pending), never by blocking the loop. A CreateContainer
 * whose devices are not there yet waits for them in the loop too
 * (devices/container_devices.h, create_rest).
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libc_compat.h"
#include "cleanup.h"
#include "cdh_job.h"
#include "container_devices.h"
#include "guest_pull.h"
#include "secure_storage.h"
#include "hotplug.h"
#include "executor.h"
#include "answer.h"
#include "sandbox.h"
#include "containers.h"
#include "iptables.h"
#include "mem_agent.h"
#include "poststop.h"
#include "oom.h"
#include "guest_hooks.h"
#include "spawner.h"
#include "policy.h"
#include "grpc_status.h"
#include "hooks.h"
#include "passfd.h"
#include "mount_source.h"
#include "signals.h"
#include "spec_check.h"

static void remove_step(struct container *ct);

void container_set_xpid(struct container *ct, pid_t pid)
{
	struct executor *x = ct->x;
	if (ct->x_pid > 0)
		htab_del(&x->ctr_xpids, &ct->by_xpid);
	ct->x_pid = pid;
	/* Cannot fail once the table has slots (made with the id's, below);
	 * a failure leaves the monitor's exit to the "reaped pid" log. */
	if (pid > 0 && htab_add_int(&x->ctr_xpids, &ct->by_xpid, (uint64_t)pid) < 0)
		log_error("container %s: out of memory indexing its monitor", ct->id);
}

static struct ctr_exec *find_exec(struct container *ct, const char *id)
{
	for (struct ctr_exec *e = ct->execs; e; e = e->next)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

static void drop_exec(struct container *ct, struct ctr_exec *ex)
{
	for (struct ctr_exec **pp = &ct->execs; *pp; pp = &(*pp)->next)
		if (*pp == ex) {
			*pp = ex->next;
			free(ex);
			ct->n_execs--;
			return;
		}
}

static struct pending *pend_of(struct ipc_pending *q)
{
	return q ? ipc_pending_entry(q, struct pending, req) : NULL;
}

static struct pending *pend_push(struct ipc_pending_list *list, uint32_t type, uint32_t fe_id,
				 uint32_t gen, uint32_t id, const char *exec_id)
{
	struct pending *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->fe_id = fe_id;
	p->fe_gen = gen;
	if (exec_id)
		snprintf(p->exec_id, sizeof(p->exec_id), "%s", exec_id);
	ipc_pending_add(list, &p->req, type, id);
	return p;
}

/* Send our request (type, payload) to the launcher or the monitor,
 * remembered in list with the front-end request it answers (fe_id of
 * front-end generation fe_gen) so the answer finds its way back; nothing
 * is left behind if the send fails (e says why). */
static int pend_send_for(struct container *ct, struct ipc_chan *to, struct ipc_pending_list *list,
			 uint32_t fe_id, uint32_t fe_gen, const char *exec_id, uint32_t type,
			 const void *payload, size_t len, struct kerr *e)
{
	uint32_t id = ipc_chan_next_id(to);
	struct pending *p = pend_push(list, type, fe_id, fe_gen, id, exec_id);
	if (!p)
		return kerr_set_status(e, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	if (ipc_chan_send(to, type, id, payload, len, -1, e) < 0) {
		ipc_pending_remove(list, &p->req);
		free(p);
		e->status = GRPC_INTERNAL;
		return e->code;
	}
	return 0;
}

/* The same for the front-end's request m, of the current front-end. */
static int pend_send(struct container *ct, struct ipc_chan *to, struct ipc_pending_list *list,
		     const struct ipc_msg *m, const char *exec_id, uint32_t type,
		     const void *payload, size_t len, struct kerr *e)
{
	return pend_send_for(ct, to, list, m->hdr.id, ct->x->fe_generation, exec_id, type, payload,
			     len, e);
}

/* Answer every waiting request with e (their launcher or monitor is gone). */
static void pend_fail_all(struct container *ct, struct ipc_pending_list *list, const struct kerr *e)
{
	struct pending *p;
	while ((p = pend_of(ipc_pending_pop(list)))) {
		if (p->req.type == IPC_LAUNCH_EXEC) {
			struct ctr_exec *ex = find_exec(ct, p->exec_id);
			if (ex && !ex->launched)
				drop_exec(ct, ex);
		}
		if (p->fe_id)
			answer_fe_error(ct->x, p->fe_gen, p->fe_id, e);
		free(p);
	}
}

/* ---- path policy ---- */

/* path (absolute) resolves to a place at or below root (canonical). */
static int under_root(const char *root, const char *path, const char *what, char *resolved,
		      struct kerr *err)
{
	if (path[0] != '/')
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "%s %s is not an absolute path", what, path);
	char buf[PATH_MAX];
	if (!realpath(path, resolved ? resolved : buf))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -errno, "%s %s: %s", what, path,
				       strerror(errno));
	const char *r = resolved ? resolved : buf;
	size_t n = strlen(root);
	if (strncmp(r, root, n) != 0 || (r[n] != '/' && r[n] != '\0' && strcmp(root, "/") != 0))
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EPERM,
				       "%s %s (%s) is not below the shared directory %s", what,
				       path, r, root);
	return 0;
}

bool ctr_mount_is_bind(const Grpc__Mount *mt)
{
	if (strcmp(mt->type, "bind") == 0)
		return true;
	for (size_t i = 0; i < mt->n_options; i++)
		if (strcmp(mt->options[i], "bind") == 0 || strcmp(mt->options[i], "rbind") == 0)
			return true;
	return false;
}

/* The guest paths a container may see: its rootfs under --shared-dir, bind
 * sources where the runtime puts them (mount_source.h). Checked here for a
 * clear early error once the request's storages are mounted; the setup
 * child resolves them again, once, and mounts what it resolved. */
static int check_paths(struct executor *x, struct container *ct, struct kerr *err)
{
	const Grpc__Spec *s = ct->req->oci;
	char root[PATH_MAX];
	int r = under_root(x->o.shared_dir, s->root->path, "Root.Path", root, err);
	if (r < 0)
		return r;
	if (strcmp(root, x->o.shared_dir) == 0)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EPERM,
				       "Root.Path %s is the shared directory itself",
				       s->root->path);
	char *slash = strrchr(root, '/');
	if (slash && slash != root)
		*slash = '\0';
	char *bundle = strdup(root);
	if (!bundle)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
	free(ct->bundle);
	ct->bundle = bundle;
	for (size_t i = 0; i < s->n_mounts; i++) {
		const Grpc__Mount *mt = s->mounts[i];
		if (!ctr_mount_is_bind(mt))
			continue;
		char what[64];
		snprintf(what, sizeof(what), "Mounts[%zu].Source", i);
		int fd = msrc_open(x->o.shared_dir, what, mt->source, NULL, err);
		if (fd < 0)
			return fd;
		close(fd);
	}
	return 0;
}

/* ---- teardown ---- */

static void ctr_unlink(struct executor *x, struct container *ct)
{
	for (struct container **pp = &x->ctrs; *pp; pp = &(*pp)->next)
		if (*pp == ct) {
			*pp = ct->next;
			x->n_ctrs--;
			htab_del(&x->ctr_ids, &ct->by_id);
			if (ct->x_pid > 0)
				htab_del(&x->ctr_xpids, &ct->by_xpid);
			return;
		}
}

static void ctr_free(struct container *ct)
{
	struct kerr e = { 0 };
	kerr_set_status(&e, GRPC_NOT_FOUND, -ENOENT, "container %s was removed", ct->id);
	pend_fail_all(ct, &ct->pl, &e);
	pend_fail_all(ct, &ct->pm, &e);
	if (ct->el)
		ipc_chan_free(ct->el);
	if (ct->em)
		ipc_chan_free(ct->em);
	if (ct->fm_fe >= 0)
		close(ct->fm_fe);
	passfd_close(ct->init_stdio);
	if (ct->rm_timer)
		loop_timer_cancel(ct->x->loop, ct->rm_timer);
	if (ct->frz_timer) {
		loop_timer_cancel(ct->x->loop, ct->frz_timer);
		answer_fe_error(ct->x, ct->frz_fe_gen, ct->frz_fe_id, &e);
	}
	while (ct->execs) {
		struct ctr_exec *n = ct->execs->next;
		free(ct->execs);
		ct->execs = n;
	}
	dev_batch_free(ct->devs);
	storage_set_free(ct->storages);
	guest_pull_cleanup(ct);
	/* Before the rmdir: v1 signals the eventfd when the cgroup goes. */
	oom_watch_remove(ct);
	if (ct->cg) {
		struct kerr ce = { 0 };
		if (cg_destroy(ct->cg, &ce) < 0)
			log_error("container %s: remove cgroup: %s", ct->id, ce.msg);
	}
	if (ct->req)
		protobuf_c_message_free_unpacked(&ct->req->base, NULL);
	free(ct->bundle);
	free(ct);
}

static void remove_finish(struct container *ct)
{
	struct executor *x = ct->x;
	/* Poststop hooks run in a runner process (poststop.c); the rest of
	 * the removal waits for it, the executor's loop does not. */
	if (!ct->poststop_started) {
		ct->poststop_started = true;
		if (poststop_start(ct))
			return;
	}
	if (ct->poststop_pid > 0)
		return;
	bool reply = ct->rm_has_fe && !ct->remove_replied;
	uint32_t id = ct->rm_fe_id, gen = ct->rm_fe_gen;
	ctr_unlink(x, ct);
	log_info("container %s removed", ct->id);
	ctr_free(ct);
	/* Give the freed heap back (a container's spec and state, ~18 KiB,
	 * scattered among the live ones'): without it the executor keeps its
	 * peak after any churn (24.7 MiB PSS after 1000 removed). 20 to 200 µs
	 * of a ~10 ms removal (doc/benchmarks.md, issue 14). */
	malloc_trim(0);
	if (reply)
		answer_fe_ok(x, gen, id);
	sandbox_container_gone(x);
}

static void on_finish(struct loop *l, void *data)
{
	remove_finish(data);
}

void container_finish_removal(struct container *ct)
{
	if (!loop_timer_add(ct->x->loop, 0, on_finish, ct))
		log_error("container %s: out of memory finishing its removal", ct->id);
}

static bool all_exited(struct container *ct)
{
	if (!ct->em)
		return true;
	if (ct->init_pid > 0 && !ct->init_exited)
		return false;
	for (struct ctr_exec *e = ct->execs; e; e = e->next)
		if (e->launched && !e->exited)
			return false;
	return true;
}

static void send_kill(struct container *ct, const char *exec_id)
{
	struct ipc_process_signal s = { .signal = SIGKILL };
	snprintf(s.container_id, sizeof(s.container_id), "%s", ct->id);
	snprintf(s.exec_id, sizeof(s.exec_id), "%s", exec_id);
	uint32_t id = ipc_chan_next_id(ct->em);
	struct kerr e = { 0 };
	if (!pend_push(&ct->pm, IPC_MON_SIGNAL, 0, 0, id, exec_id))
		return;
	if (ipc_chan_send(ct->em, IPC_MON_SIGNAL, id, &s, sizeof(s), -1, &e) < 0)
		log_error("container %s: SIGKILL %s: %s", ct->id, exec_id[0] ? exec_id : "init",
			  e.msg);
}

/* Removal, one step per event: kill what runs, wait for its exits, shut
 * the monitor down and let the launcher go, wait for the monitor's exit,
 * then undo mounts and the cgroup. */
static void remove_step(struct container *ct)
{
	if (ipc_pending_has(&ct->pl, IPC_LAUNCH_INIT))
		return; /* the launcher is still creating the init */
	if (!all_exited(ct))
		return;
	if (!ct->shutdown_sent) {
		ct->shutdown_sent = true;
		struct kerr e = { 0 };
		if (ct->em && ipc_chan_send(ct->em, IPC_MON_SHUTDOWN, 0, NULL, 0, -1, &e) < 0)
			log_error("container %s: MON_SHUTDOWN: %s", ct->id, e.msg);
		if (ct->el)
			ipc_chan_close(ct->el, NULL);
	}
	if (ct->x_pid > 0 || ct->finishing)
		return;
	/* Finish from a deferred callback: this step may run inside a
	 * callback of the very channels the finish frees. */
	ct->finishing = true;
	if (!loop_timer_add(ct->x->loop, 0, on_finish, ct))
		log_error("container %s: out of memory finishing its removal", ct->id);
}

static void on_remove_timeout(struct loop *l, void *data)
{
	struct container *ct = data;
	ct->rm_timer = NULL;
	if (!ct->rm_has_fe || ct->remove_replied)
		return;
	ct->remove_replied = true;
	struct kerr e = { 0 };
	kerr_set_status(&e, GRPC_DEADLINE_EXCEEDED, -ETIME,
			"container %s: removal did not finish within the timeout (it goes on in "
			"the background)",
			ct->id);
	answer_fe_error(ct->x, ct->rm_fe_gen, ct->rm_fe_id, &e);
}

/* RemoveContainer before its CreateContainer was answered. */
static void abort_create(struct container *ct, const char *while_what)
{
	struct kerr e = { 0 };
	kerr_set_status(&e, GRPC_ABORTED, -ECANCELED, "container %s was removed while %s", ct->id,
			while_what);
	answer_fe_error(ct->x, ct->create_fe_gen, ct->create_fe_id, &e);
}

void container_begin_remove(struct container *ct)
{
	if (ct->removing) {
		remove_step(ct);
		return;
	}
	ct->removing = true;
	log_info("removing container %s", ct->id);
	/* Still creating (its devices looked for, its image pulled or its
	 * encrypted storage mounted by the CDH): nothing runs yet; the create
	 * is answered once, ABORTED. The devices are kept until the storages
	 * are added, so they are asked about last. */
	if (secure_storage_abort(ct))
		abort_create(ct, "its storage was prepared (SecureMount or mkfs)");
	else if (guest_pull_abort(ct))
		abort_create(ct, "its image was pulled");
	else if (ct->devs)
		abort_create(ct, "its devices were looked for");
	dev_batch_free(ct->devs);
	ct->devs = NULL;
	if ((ct->paused || ct->frz_timer) && ct->cg) {
		/* A frozen task does not act on SIGKILL (v1 freezer): thaw
		 * first. A pending Pause/Resume is answered by its timer. */
		struct kerr fe = { 0 };
		if (cg_freeze(ct->cg, false, &fe) < 0)
			log_warn("container %s: thaw before removal: %s", ct->id, fe.msg);
		ct->paused = false;
	}
	if (ct->em) {
		if (ct->init_pid > 0 && !ct->init_exited)
			send_kill(ct, "");
		for (struct ctr_exec *e = ct->execs; e; e = e->next)
			if (e->launched && !e->exited && ct->em)
				send_kill(ct, e->id);
	}
	remove_step(ct);
}

/* ---- launcher and monitor channels ---- */

static void attach_frontend(struct container *ct, uint32_t gen)
{
	struct executor *x = ct->x;
	cleanup_close int fd = ct->fm_fe;
	ct->fm_fe = -1;
	if (!x->fe || x->fe_generation != gen)
		return; /* a newer front-end got its own channel in containers_new_frontend */
	struct ipc_container_ref r = { 0 };
	snprintf(r.container_id, sizeof(r.container_id), "%s", ct->id);
	answer_fe(x, gen, IPC_MONITOR_ATTACH, 0, &r, sizeof(r), fd);
}

/* The spec's linux.resources; without one the default device rules still
 * apply, as upstream. */
static const Grpc__LinuxResources *spec_resources(const struct container *ct)
{
	static const Grpc__LinuxResources none = GRPC__LINUX_RESOURCES__INIT;
	const Grpc__Linux *lx = ct->req && ct->req->oci ? ct->req->oci->linux : NULL;
	return lx && lx->resources ? lx->resources : &none;
}

static int on_launcher_reply(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct container *ct = data;
	struct pending *p = pend_of(ipc_pending_match(&ct->pl, m, err));
	if (!p)
		return err->code;
	struct kerr e = { 0 };
	bool ok = !ipc_error_decode(m, &e);
	struct ipc_launched la = { 0 };
	if (ok && m->hdr.type == IPC_LAUNCHED)
		la = *(const struct ipc_launched *)m->in;
	if (ok && p->req.type == IPC_LAUNCH_INIT && !ct->removing &&
	    cg_apply_resources(ct->cg, spec_resources(ct), CG_APPLY_DEVICES, &e) < 0) {
		kerr_prefix(&e, "container %s", ct->id);
		ok = false;
	}
	switch (p->req.type) {
	case IPC_LAUNCH_INIT:
		if (ok) {
			ct->init_pid = la.pid;
			ct->state = CTR_CREATED;
			log_info("container %s created, init pid %d", ct->id, la.pid);
			if (!ct->removing) {
				attach_frontend(ct, p->fe_gen);
				answer_fe_ok(ct->x, p->fe_gen, p->fe_id);
			} else {
				e = (struct kerr){ 0 };
				kerr_set_status(&e, GRPC_ABORTED, -ECANCELED,
						"container %s: removed while being created",
						ct->id);
				answer_fe_error(ct->x, p->fe_gen, p->fe_id, &e);
			}
		} else {
			answer_fe_error(ct->x, p->fe_gen, p->fe_id, &e);
			/* Nothing to keep: undo what the create did. */
			ct->rm_has_fe = false;
			free(p);
			container_begin_remove(ct);
			return 0;
		}
		break;
	case IPC_LAUNCH_START:
		if (ok) {
			if (ct->state == CTR_CREATED)
				ct->state = CTR_RUNNING;
			log_info("container %s started", ct->id);
			answer_fe_ok(ct->x, p->fe_gen, p->fe_id);
		} else {
			answer_fe_error(ct->x, p->fe_gen, p->fe_id, &e);
		}
		break;
	case IPC_LAUNCH_EXEC: {
		struct ctr_exec *ex = find_exec(ct, p->exec_id);
		if (ok && ex) {
			ex->launched = true;
			ex->pid = la.pid;
			log_info("container %s: exec %s started, pid %d", ct->id, ex->id, la.pid);
			answer_fe_ok(ct->x, p->fe_gen, p->fe_id);
			if (ct->removing && ct->em)
				send_kill(ct, ex->id);
		} else {
			if (ex)
				drop_exec(ct, ex);
			if (ok)
				kerr_set_status(&e, GRPC_INTERNAL, -EIO, "exec %s vanished",
						p->exec_id);
			answer_fe_error(ct->x, p->fe_gen, p->fe_id, &e);
		}
		break;
	}
	default:
		break;
	}
	free(p);
	if (ct->removing)
		remove_step(ct);
	return 0;
}

static const struct ipc_dispatch launcher_table[] = {
	{ IPC_REPLIES, on_launcher_reply },
	{ 0, NULL },
};

static void on_launcher_close(struct ipc_chan *c, const char *reason, void *data)
{
	struct container *ct = data;
	ct->el = NULL;
	if (reason)
		log_warn("container %s: launcher channel closed: %s", ct->id, reason);
	struct kerr e = { 0 };
	kerr_set_status(&e, GRPC_INTERNAL, -EPIPE, "container %s: the launcher exited", ct->id);
	bool creating = ipc_pending_has(&ct->pl, IPC_LAUNCH_INIT);
	pend_fail_all(ct, &ct->pl, &e);
	if (creating || (ct->removing && !ct->shutdown_sent))
		container_begin_remove(ct);
}

static int on_mon_exited(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct container *ct = data;
	const struct ipc_exited *ex = m->in;
	if (ex->exec_id[0] == '\0') {
		ct->init_exited = true;
		ct->init_status = ex->status;
		ct->state = CTR_STOPPED;
		log_info("container %s: init exited with status %d", ct->id, ex->status);
		/* Nothing is launched in a container whose init is gone
		 * (StartContainer and ExecProcess refuse it): its launcher goes
		 * now, not at RemoveContainer, whose monitor would otherwise wait
		 * for that exit (--launcher-pid). A request still pending on the
		 * launcher keeps it until then. */
		if (ct->el && ct->pl.n == 0 && !ct->removing)
			ipc_chan_close(ct->el, NULL);
	} else {
		struct ctr_exec *e = find_exec(ct, ex->exec_id);
		if (e) {
			e->exited = true;
			e->status = ex->status;
		}
		log_info("container %s: exec %s exited with status %d", ct->id, ex->exec_id,
			 ex->status);
	}
	if (ct->removing)
		remove_step(ct);
	return 0;
}

/* The monitor let an exec go (waited for, output delivered): its id is
 * free again and its record goes. */
static int on_mon_released(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct container *ct = data;
	const struct ipc_exec_name *x = m->in;
	struct ctr_exec *ex = find_exec(ct, x->exec_id);
	if (ex && ex->launched && ex->exited)
		drop_exec(ct, ex);
	return 0;
}

static int on_monitor_reply(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct container *ct = data;
	struct pending *p = pend_of(ipc_pending_match(&ct->pm, m, err));
	if (!p)
		return err->code;
	struct kerr e = { 0 };
	bool failed = ipc_error_decode(m, &e);
	if (p->fe_id && failed)
		answer_fe_error(ct->x, p->fe_gen, p->fe_id, &e);
	else if (p->fe_id)
		answer_fe_ok(ct->x, p->fe_gen, p->fe_id);
	else if (failed)
		log_warn("container %s: monitor: %s", ct->id, e.msg);
	free(p);
	return 0;
}

static const struct ipc_dispatch monitor_table[] = {
	{ IPC_MON_EXITED, on_mon_exited },
	{ IPC_MON_RELEASED, on_mon_released },
	{ IPC_REPLIES, on_monitor_reply },
	{ 0, NULL },
};

static void on_monitor_close(struct ipc_chan *c, const char *reason, void *data)
{
	struct container *ct = data;
	ct->em = NULL;
	if (reason || !ct->shutdown_sent)
		log_warn("container %s: monitor channel closed%s%s", ct->id, reason ? ": " : "",
			 reason ? reason : "");
	struct kerr e = { 0 };
	kerr_set_status(&e, GRPC_INTERNAL, -EPIPE, "container %s: the monitor exited", ct->id);
	pend_fail_all(ct, &ct->pm, &e);
	if (ct->removing)
		remove_step(ct);
}

/* ---- front-end handlers ---- */

/* LAUNCH_INIT: the launcher gets the request as checked and completed
 * here (guest hooks, the pod's namespaces, the guest's devices). The
 * create may have waited for devices: the front-end request it answers
 * is the one recorded at CreateContainer. */
static int launch_init(struct container *ct, struct kerr *e)
{
	size_t len = protobuf_c_message_get_packed_size(&ct->req->base);
	cleanup_free uint8_t *packed = len <= IPC_MAX_PAYLOAD ? malloc(len ? len : 1) : NULL;
	if (!packed)
		return kerr_set_status(e, GRPC_RESOURCE_EXHAUSTED, -ENOMEM,
				       "container %s: the request is too large", ct->id);
	protobuf_c_message_pack(&ct->req->base, packed);
	if (passfd_send(ct->el, "", ct->init_stdio, e) < 0)
		return kerr_prefix(e, "container %s: its host streams", ct->id);
	return pend_send_for(ct, ct->el, &ct->pl, ct->create_fe_id, ct->create_fe_gen, NULL,
			     IPC_LAUNCH_INIT, packed, len, e);
}

/* CreateContainer failed after the container was listed: answer, forget. */
static void create_failed(struct container *ct, struct kerr *e)
{
	struct executor *x = ct->x;
	log_warn("%s", e->msg);
	answer_fe_error(x, ct->create_fe_gen, ct->create_fe_id, e);
	ctr_unlink(x, ct);
	ctr_free(ct);
	sandbox_container_gone(x);
}

static void create_rest(struct container *ct);

/* The CDH answered the image pull or the SecureMount create_rest started:
 * on with the create. */
static void on_cdh_done(struct container *ct, const struct kerr *failure)
{
	if (!failure) {
		create_rest(ct);
		return;
	}
	struct kerr e = *failure;
	kerr_prefix(&e, "container %s", ct->id);
	create_failed(ct, &e);
}

/* The request's own storages, in order, as upstream (do_create_container
 * -> add_storages): the runtime binds their mount points (emptyDir, block
 * volumes) in the same request. A shared one (a block emptyDir used by
 * several containers) is the sandbox's: it stays mounted until
 * DestroySandbox, as upstream's shared StorageState. An encrypted one is
 * mounted by the CDH (secure_storage.h): 1 then, and create_rest runs
 * again for the storages after it. */
static int add_storages(struct container *ct, struct kerr *e)
{
	struct executor *x = ct->x;
	Grpc__CreateContainerRequest *req = ct->req;
	if (!ct->storages && storage_set_new(&ct->storages, e) < 0)
		return e->code;
	struct storage_policy pol;
	const char *roots[1];
	executor_storage_policy(x, &pol, roots);
	for (; ct->st_next < req->n_storages; ct->st_next++) {
		size_t i = ct->st_next;
		const Grpc__Storage *st = req->storages[i];
		if (guest_pull_is_storage(st))
			continue; /* pulled before */
		struct storage_set *owner = st->shared && x->sb.storages ? x->sb.storages
									 : ct->storages;
		int r = secure_storage_begin(ct, owner, st, &pol, on_cdh_done, e);
		if (r == 0)
			r = storage_add_dev(owner, st, &pol, ct->devs, e);
		if (r < 0)
			return kerr_prefix(e, "container %s: storage %zu", ct->id, i);
		if (r > 0) {
			if (r != SECURE_STORAGE_AGAIN)
				ct->st_next++;
			return 1;
		}
	}
	return 0;
}

/* CreateContainer once its devices are found: its image pulled in the
 * guest if it asks for that (a CDH worker; create_rest runs again when the
 * pull is done), then storages, cgroup, X/L/M. */
static void create_rest(struct container *ct)
{
	struct executor *x = ct->x;
	Grpc__CreateContainerRequest *req = ct->req;
	struct kerr e = { 0 };
	/* As upstream: the trusted image storage before any storage (the
	 * image pulled in the guest is stored on it). */
	int waiting = secure_storage_trusted_begin(ct, on_cdh_done, &e);
	if (waiting < 0)
		goto bad;
	if (waiting)
		return;
	waiting = guest_pull_begin(ct, on_cdh_done, &e);
	if (waiting < 0) {
		kerr_prefix(&e, "container %s", ct->id);
		goto bad;
	}
	if (waiting == 0)
		waiting = add_storages(ct, &e);
	if (waiting < 0)
		goto bad;
	if (waiting)
		return;
	dev_batch_free(ct->devs);
	ct->devs = NULL;
	storage_watch_schedule(x);
	if (check_paths(x, ct, &e) < 0)
		goto bad;
	const char *cgpath = req->oci->linux ? req->oci->linux->cgroupspath : "";
	if (cg_create(&x->cgc, cgpath, ct->id, &ct->cg, &e) < 0) {
		kerr_prefix(&e, "container %s", ct->id);
		goto bad;
	}
	/* Limits before the init exists, so it never runs unlimited; the
	 * device rules (checked here) once it has made its device nodes
	 * (apply_device_rules). */
	if (cg_apply_resources(ct->cg, spec_resources(ct), CG_APPLY_LIMITS, &e) < 0) {
		kerr_prefix(&e, "container %s", ct->id);
		goto bad;
	}
	/* Before the init exists, so that an OOM of the init is seen too. A
	 * container without OOM notifications still runs (upstream only logs). */
	struct kerr oe = { 0 };
	if (oom_watch_add(ct, &oe) < 0)
		log_warn("container %s: no OOM events: %s", ct->id, oe.msg);
	int el = -1, em = -1;
	pid_t xpid = 0;
	if (spawner_x(ct, &xpid, &el, &em, &ct->fm_fe, &e) < 0)
		goto bad;
	container_set_xpid(ct, xpid);
	char name[64];
	snprintf(name, sizeof(name), "launcher:%.40s", ct->id);
	struct kerr ce = { 0 };
	if (ipc_chan_new(&ct->el, x->loop, el, name, IPC_ROLE_LAUNCHER, launcher_table,
			 on_launcher_close, ct, &ce) < 0)
		log_error("container %s: %s", ct->id, ce.msg);
	snprintf(name, sizeof(name), "monitor:%.40s", ct->id);
	if (ipc_chan_new(&ct->em, x->loop, em, name, IPC_ROLE_MONITOR, monitor_table,
			 on_monitor_close, ct, &ce) < 0)
		log_error("container %s: %s", ct->id, ce.msg);
	else
		policy_monitor_started(ct); /* before the front-end knows the monitor */
	if (!ct->el || !ct->em || launch_init(ct, &e) < 0) {
		if (!e.code)
			kerr_set_status(&e, GRPC_INTERNAL, -ENOMEM,
					"container %s: set up its channels", ct->id);
		log_warn("%s", e.msg);
		answer_fe_error(x, ct->create_fe_gen, ct->create_fe_id, &e);
		container_begin_remove(ct);
		return;
	}
	log_info("container %s: creating (monitor pid %d)", ct->id, (int)ct->x_pid);
	return;
bad:
	create_failed(ct, &e);
}

static void on_devices_found(struct dev_batch *b, const struct kerr *failure, void *data)
{
	struct container *ct = data;
	struct kerr e = { 0 };
	if (failure) {
		e = *failure;
		kerr_prefix(&e, "container %s", ct->id);
		create_failed(ct, &e);
		return;
	}
	if (ctr_devices_apply(ct->req, b, hotplug_env(ct->x->hp), &e) < 0) {
		kerr_prefix(&e, "container %s", ct->id);
		create_failed(ct, &e);
		return;
	}
	create_rest(ct);
}

int on_create_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	int r;
	struct kerr e = { 0 };
	/* The container keeps the checked request (its spec) for its life. */
	Grpc__CreateContainerRequest *req = ipc_msg_take_in(m);
	struct container *ct = calloc(1, sizeof(*ct));
	if (!ct) {
		protobuf_c_message_free_unpacked(&req->base, NULL);
		kerr_set_status(&e, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
		return answer_fail(c, m->hdr.id, &e, err);
	}
	ct->x = x;
	ct->req = req;
	ct->fm_fe = -1;
	ct->init_stdio[0] = ct->init_stdio[1] = -1;
	if (!ipc_id_valid(req->container_id, false)) {
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -EINVAL,
				"CreateContainer: invalid container id");
		goto bad;
	}
	snprintf(ct->id, sizeof(ct->id), "%s", req->container_id);
	/* The host streams the front-end sent for the init: taken (and
	 * closed with ct) whatever the answer. */
	if (passfd_take(x, ct->id, "", req->oci && req->oci->process && req->oci->process->terminal,
			ct->init_stdio, &e) < 0)
		goto bad;
	if (executor_container(x, ct->id)) {
		kerr_set_status(&e, GRPC_ALREADY_EXISTS, -EEXIST, "container %s already exists",
				ct->id);
		goto bad;
	}
	if (x->n_ctrs >= EXEC_MAX_CONTAINERS) {
		kerr_set_status(&e, GRPC_RESOURCE_EXHAUSTED, -ENOSPC,
				"container %s: at most %u containers", ct->id, EXEC_MAX_CONTAINERS);
		goto bad;
	}
	if (x->sb.destroying) {
		kerr_set_status(&e, GRPC_FAILED_PRECONDITION, -ESHUTDOWN,
				"container %s: the sandbox is being destroyed", ct->id);
		goto bad;
	}
	if (!req->oci || !req->oci->process || !req->oci->root || !req->oci->root->path[0]) {
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -EINVAL,
				"container %s: the OCI spec needs a process and a root path",
				ct->id);
		goto bad;
	}
	/* The sandbox's guest hooks run like the spec's own (upstream
	 * append_guest_hooks); checked with them. */
	if (hooks_host_check(x, req->oci, &e) < 0 || guest_hooks_append(x, req->oci, &e) < 0 ||
	    sandbox_set_pidns(x, req, &e) < 0 || spec_check(req->oci, ct->id, &e) < 0)
		goto bad;
	/* Devices first (upstream add_devices, and add_storages' waits):
	 * the spec names guest devices only once they are found. The
	 * container is listed meanwhile (its id taken, CREATING), and the
	 * request is answered when they are found and the launcher replies,
	 * or when one is not found in time (containers are created while
	 * others wait: hotplug.h). */
	struct dev_batch *devs = NULL;
	if (ctr_devices_batch(x->hp, req, &devs, &e) < 0)
		goto bad;
	if (htab_add_str(&x->ctr_ids, &ct->by_id, ct->id) < 0) {
		dev_batch_free(devs);
		kerr_set_status(&e, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
		goto bad;
	}
	ct->create_fe_id = m->hdr.id;
	ct->create_fe_gen = x->fe_generation;
	ct->state = CTR_CREATING;
	ct->next = x->ctrs;
	x->ctrs = ct;
	x->n_ctrs++;
	if (!devs) {
		create_rest(ct);
		return 0;
	}
	ct->devs = devs;
	if (dev_batch_run(devs, on_devices_found, ct, &e) < 0)
		create_failed(ct, &e);
	else
		log_info("container %s: looking for %zu devices", ct->id, dev_batch_count(devs));
	return 0;
bad:
	r = answer_fail(c, m->hdr.id, &e, err);
	ctr_free(ct);
	return r;
}

static struct container *lookup(struct executor *x, const char field[IPC_ID_MAX], struct kerr *e)
{
	if (ipc_id_field_check(field, false, "container id", e) < 0) {
		e->status = GRPC_INVALID_ARGUMENT;
		return NULL;
	}
	struct container *ct = executor_container(x, field);
	if (!ct)
		kerr_set_status(e, GRPC_NOT_FOUND, -ENOENT, "container %s not found", field);
	else if (ct->removing) {
		kerr_set_status(e, GRPC_FAILED_PRECONDITION, -ESHUTDOWN,
				"container %s is being removed", field);
		return NULL;
	}
	return ct;
}

int on_start_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	const struct ipc_container_ref *q = m->in;
	struct kerr e = { 0 };
	struct container *ct = lookup(x, q->container_id, &e);
	if (!ct)
		return answer_fail(c, m->hdr.id, &e, err);
	if (ct->state != CTR_CREATED || ipc_pending_has(&ct->pl, IPC_LAUNCH_START)) {
		kerr_set_status(&e, GRPC_FAILED_PRECONDITION, -EALREADY,
				"container %s: cannot start: it is %s", ct->id,
				ct->state == CTR_CREATING  ? "being created"
				: ct->state == CTR_STOPPED ? "stopped"
							   : "already started");
		return answer_fail(c, m->hdr.id, &e, err);
	}
	if (!ct->el) {
		kerr_set_status(&e, GRPC_INTERNAL, -EPIPE, "container %s: its launcher is gone",
				ct->id);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	if (pend_send(ct, ct->el, &ct->pl, m, NULL, IPC_LAUNCH_START, NULL, 0, &e) < 0)
		return answer_fail(c, m->hdr.id, &e, err);
	return 0;
}

int on_exec_process(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	const Grpc__ExecProcessRequest *req = m->in;
	struct kerr e = { 0 };
	struct container *ct = NULL;
	int stdio[2] = { -1, -1 };
	if (!ipc_id_valid(req->container_id, false) || !ipc_id_valid(req->exec_id, false)) {
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -EINVAL,
				"ExecProcess: invalid container or exec id");
		goto bad;
	}
	/* The host streams the front-end sent for it: taken whatever the
	 * answer. */
	if (passfd_take(x, req->container_id, ipc_exec_name(req->container_id, req->exec_id),
			req->process && req->process->terminal, stdio, &e) < 0)
		goto bad;
	if (!(ct = executor_container(x, req->container_id))) {
		/* Upstream: "Invalid container id" (INVALID_ARGUMENT, as for the
		 * other process calls; doc/protocol.md). */
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -ENOENT, "Invalid container id %s",
				req->container_id);
		goto bad;
	}
	if (ct->removing || ct->state != CTR_RUNNING || ct->init_exited || !ct->el) {
		kerr_set_status(&e, GRPC_FAILED_PRECONDITION, -ESRCH, "container %s is not running",
				ct->id);
		goto bad;
	}
	if (ct->paused || ct->frz_timer) {
		kerr_set_status(&e, GRPC_FAILED_PRECONDITION, -EAGAIN,
				"container %s is paused: resume it before ExecProcess", ct->id);
		goto bad;
	}
	/* The container id names the init (the runtime's CreateContainer
	 * exec_id); an exec id stays taken until its exec is released. */
	if (!ipc_exec_name(ct->id, req->exec_id)[0] || find_exec(ct, req->exec_id)) {
		kerr_set_status(&e, GRPC_ALREADY_EXISTS, -EEXIST,
				"container %s: exec_id '%s' already exists", ct->id, req->exec_id);
		goto bad;
	}
	if (!req->process) {
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -EINVAL,
				"container %s exec %s: no process", ct->id, req->exec_id);
		goto bad;
	}
	if (spec_check_process(req->process, "Process", &e) < 0)
		goto bad;
	if (ct->n_execs >= EXEC_MAX_EXECS) {
		/* Make room by forgetting execs that already ended. */
		for (struct ctr_exec *ex = ct->execs, *n; ex; ex = n) {
			n = ex->next;
			if (ex->exited)
				drop_exec(ct, ex);
		}
	}
	if (ct->n_execs >= EXEC_MAX_EXECS) {
		kerr_set_status(&e, GRPC_RESOURCE_EXHAUSTED, -ENOSPC,
				"container %s: at most %u running execs", ct->id, EXEC_MAX_EXECS);
		goto bad;
	}
	struct ctr_exec *ex = calloc(1, sizeof(*ex));
	if (!ex) {
		kerr_set_status(&e, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
		goto bad;
	}
	snprintf(ex->id, sizeof(ex->id), "%s", req->exec_id);
	ex->next = ct->execs;
	ct->execs = ex;
	ct->n_execs++;
	/* The launcher decodes it again: what it runs is exactly what was
	 * checked here. */
	if (passfd_send(ct->el, req->exec_id, stdio, &e) < 0 ||
	    pend_send(ct, ct->el, &ct->pl, m, req->exec_id, IPC_LAUNCH_EXEC, m->payload, m->len,
		      &e) < 0) {
		drop_exec(ct, ex);
		goto bad;
	}
	return 0;
bad:
	passfd_close(stdio);
	return answer_fail(c, m->hdr.id, &e, err);
}

/* SignalProcess with an empty exec id and SIGKILL: every process of the
 * container, through its cgroup (upstream: freeze, kill each pid, thaw;
 * the Kata runtime's "all"). A paused container ends up thawed, as there. */
static int kill_all(struct container *ct, struct kerr *e)
{
	log_info("container %s: SIGKILL to every process of its cgroup", ct->id);
	int r = cg_kill_all(ct->cg, e);
	if (ct->paused && ct->cg) {
		struct kerr fe = { 0 };
		if (cg_freeze(ct->cg, false, &fe) < 0)
			log_warn("container %s: thaw after the kill: %s", ct->id, fe.msg);
		ct->paused = false;
	}
	if (r < 0) {
		e->status = GRPC_INTERNAL;
		return kerr_prefix(e, "container %s: signal every process", ct->id);
	}
	return 0;
}

/* Upstream do_signal_process: SIGTERM to an init that neither catches,
 * ignores nor blocks it becomes SIGKILL (from outside its pid namespace
 * the init would never see it). Read from /proc here; see signals.h for
 * why a reused pid cannot be fooled into anything. */
static uint32_t init_signal(struct container *ct, uint32_t sig)
{
	if (sig != SIGTERM || ct->init_exited || ct->init_pid <= 0 || ct->x_pid <= 0)
		return sig;
	struct kerr e = { 0 };
	int r = proc_signal_handled("/proc", ct->init_pid, ct->x_pid, sig, &e);
	if (r < 0) {
		log_debug("container %s: SIGTERM left as is: %s", ct->id, e.msg);
		return sig;
	}
	if (r == 0) {
		log_info("container %s: its init has no SIGTERM handler: SIGKILL instead", ct->id);
		return SIGKILL;
	}
	return sig;
}

int on_signal_process(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	const struct ipc_process_signal *q = m->in;
	struct kerr e = { 0 };
	struct container *ct = lookup(x, q->container_id, &e);
	if (!ct) {
		if (kerr_status(&e) == GRPC_NOT_FOUND)
			e.status = GRPC_INVALID_ARGUMENT; /* upstream: "Invalid container id" */
		return answer_fail(c, m->hdr.id, &e, err);
	}
	if (ipc_id_field_check(q->exec_id, true, "exec id", &e) < 0) {
		e.status = GRPC_INVALID_ARGUMENT;
		return answer_fail(c, m->hdr.id, &e, err);
	}
	if (q->signal < 1 || q->signal > 64) {
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -EINVAL, "signal %u is not a signal",
				q->signal);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	if (!q->exec_id[0] && q->signal == SIGKILL) {
		if (kill_all(ct, &e) < 0)
			return answer_fail(c, m->hdr.id, &e, err);
		return ipc_chan_send(c, IPC_OK, m->hdr.id, NULL, 0, -1, err);
	}
	const char *name = ipc_exec_name(ct->id, q->exec_id);
	if (name[0] ? !find_exec(ct, name) : ct->init_pid <= 0) {
		kerr_set_status(&e, GRPC_NOT_FOUND, -ENOENT,
				name[0] ? "Process not found: container %s has no exec %s"
					: "Process not found: container %s has no init process%s",
				ct->id, name);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	if (!ct->em) {
		kerr_set_status(&e, GRPC_INTERNAL, -EPIPE, "container %s: its monitor is gone",
				ct->id);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	struct ipc_process_signal out = { .signal = name[0] ? q->signal
							    : init_signal(ct, q->signal) };
	memcpy(out.container_id, q->container_id, sizeof(out.container_id));
	snprintf(out.exec_id, sizeof(out.exec_id), "%s", name);
	if (pend_send(ct, ct->em, &ct->pm, m, name, IPC_MON_SIGNAL, &out, sizeof(out), &e) < 0)
		return answer_fail(c, m->hdr.id, &e, err);
	return 0;
}

/* UpdateContainer: the new linux.resources, written now, in the executor
 * (a few small cgroup file writes). On failure the fields written before
 * the refused one are restored (cg_apply_resources), so the container keeps
 * the limits it had. */
int on_update_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	const Grpc__UpdateContainerRequest *req = m->in;
	struct kerr e = { 0 };
	struct container *ct = NULL;
	if (!ipc_id_valid(req->container_id, false)) {
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -EINVAL,
				"UpdateContainer: invalid container id");
		goto bad;
	}
	if (!(ct = executor_container(x, req->container_id))) {
		kerr_set_status(&e, GRPC_NOT_FOUND, -ENOENT, "container %s not found",
				req->container_id);
		goto bad;
	}
	if (ct->removing || ct->state == CTR_STOPPED || ct->state == CTR_CREATING || !ct->cg) {
		kerr_set_status(&e, GRPC_FAILED_PRECONDITION, -ESRCH,
				"container %s: cannot update: it is %s", ct->id,
				ct->removing                ? "being removed"
				: ct->state == CTR_CREATING ? "being created"
							    : "stopped");
		goto bad;
	}
	if (cg_apply_resources(ct->cg, req->resources, CG_APPLY_ALL, &e) < 0) {
		kerr_prefix(&e, "container %s", ct->id);
		goto bad;
	}
	log_info("container %s: resources updated", ct->id);
	return ipc_chan_send(c, IPC_OK, m->hdr.id, NULL, 0, -1, err);
bad:
	return answer_fail(c, m->hdr.id, &e, err);
}

/* Pause/Resume: the freeze is requested, then its state polled every
 * FRZ_POLL_MS from a timer, so the loop keeps serving other requests; the
 * reply goes out once the state is reached, or after FRZ_POLLS polls with
 * DEADLINE_EXCEEDED (a pause that did not complete is undone by thawing). */
#define FRZ_POLL_MS 10
#define FRZ_POLLS 300

static void frz_done(struct container *ct, const struct kerr *e)
{
	ct->frz_timer = NULL;
	if (e) {
		answer_fe_error(ct->x, ct->frz_fe_gen, ct->frz_fe_id, e);
		return;
	}
	ct->paused = ct->frz_target;
	log_info("container %s %s", ct->id, ct->paused ? "paused" : "resumed");
	answer_fe_ok(ct->x, ct->frz_fe_gen, ct->frz_fe_id);
}

static void on_frz_timer(struct loop *l, void *data)
{
	struct container *ct = data;
	struct kerr e = { 0 };
	ct->frz_timer = NULL;
	if (ct->removing) {
		kerr_set_status(&e, GRPC_ABORTED, -ECANCELED, "container %s: removed while %s",
				ct->id, ct->frz_target ? "pausing" : "resuming");
		frz_done(ct, &e);
		return;
	}
	int r = cg_freeze_reached(ct->cg, ct->frz_target, &e);
	if (r < 0) {
		kerr_prefix(&e, "container %s", ct->id);
		frz_done(ct, &e);
		return;
	}
	if (r > 0) {
		frz_done(ct, NULL);
		return;
	}
	if (++ct->frz_polls >= FRZ_POLLS) {
		if (ct->frz_target) {
			struct kerr e2 = { 0 };
			if (cg_freeze(ct->cg, false, &e2) < 0)
				log_warn("container %s: thaw after a failed pause: %s", ct->id,
					 e2.msg);
		}
		kerr_set_status(&e, GRPC_DEADLINE_EXCEEDED, -ETIME,
				"container %s: the cgroup did not become %s within %d ms", ct->id,
				ct->frz_target ? "frozen" : "thawed", FRZ_POLL_MS * FRZ_POLLS);
		frz_done(ct, &e);
		return;
	}
	ct->frz_timer = loop_timer_add(ct->x->loop, loop_now_ns() + FRZ_POLL_MS * 1000000ull,
				       on_frz_timer, ct);
	if (!ct->frz_timer) {
		kerr_set_status(&e, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
		frz_done(ct, &e);
	}
}

static int pause_or_resume(struct ipc_chan *c, struct ipc_msg *m, struct executor *x, bool freeze,
			   struct kerr *err)
{
	const struct ipc_container_ref *q = m->in;
	struct kerr e = { 0 };
	struct container *ct = lookup(x, q->container_id, &e);
	if (!ct)
		return answer_fail(c, m->hdr.id, &e, err);
	const char *why = NULL;
	if (ct->frz_timer)
		why = "a pause or resume is in progress";
	else if (ct->state == CTR_CREATING || ct->state == CTR_STOPPED || ct->init_exited ||
		 !ct->cg)
		why = ct->state == CTR_CREATING ? "it is being created" : "it is stopped";
	else if (freeze && ct->paused)
		why = "it is already paused";
	else if (!freeze && !ct->paused)
		why = "it is not paused";
	if (why) {
		kerr_set_status(&e, GRPC_FAILED_PRECONDITION, -EALREADY,
				"container %s: cannot %s: %s", ct->id, freeze ? "pause" : "resume",
				why);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	if (cg_freeze(ct->cg, freeze, &e) < 0) {
		kerr_prefix(&e, "container %s", ct->id);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	ct->frz_target = freeze;
	ct->frz_polls = 0;
	ct->frz_fe_id = m->hdr.id;
	ct->frz_fe_gen = x->fe_generation;
	/* First check at once: an idle cgroup usually freezes immediately. */
	ct->frz_timer = loop_timer_add(x->loop, 0, on_frz_timer, ct);
	if (!ct->frz_timer) {
		kerr_set_status(&e, GRPC_RESOURCE_EXHAUSTED, -ENOMEM, "out of memory");
		return answer_fail(c, m->hdr.id, &e, err);
	}
	return 0;
}

int on_pause_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	return pause_or_resume(c, m, data, true, err);
}

int on_resume_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	return pause_or_resume(c, m, data, false, err);
}

/* StatsContainer: a few small cgroup and /proc reads, done here, like
 * UpdateContainer's writes. The network counters come from the init's
 * network namespace while it runs; a container whose init has exited gets
 * its cgroup statistics only. */
int on_stats_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	const struct ipc_container_ref *q = m->in;
	int r;
	struct kerr e = { 0 };
	struct container *ct = lookup(x, q->container_id, &e);
	if (!ct)
		return answer_fail(c, m->hdr.id, &e, err);
	if (ct->state == CTR_CREATING || !ct->cg) {
		kerr_set_status(&e, GRPC_FAILED_PRECONDITION, -EAGAIN,
				"container %s: no statistics: %s", ct->id,
				ct->state == CTR_CREATING ? "it is being created"
							  : "it has no cgroup");
		return answer_fail(c, m->hdr.id, &e, err);
	}
	Grpc__StatsContainerResponse resp = GRPC__STATS_CONTAINER_RESPONSE__INIT;
	if (cg_stats(ct->cg, &resp.cgroup_stats, &e) < 0) {
		kerr_prefix(&e, "container %s", ct->id);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	if (!ct->init_exited && ct->init_pid > 0 &&
	    net_dev_stats(ct->init_pid, &resp.network_stats, &resp.n_network_stats, &e) < 0) {
		kerr_prefix(&e, "container %s network statistics", ct->id);
		r = answer_fail(c, m->hdr.id, &e, err);
		goto out;
	}
	r = answer_msg(c, m, IPC_STATS_CONTAINER_REPLY, &resp.base, err);
out:
	/* resp itself is on the stack: free what it points to. */
	protobuf_c_message_free_unpacked(&resp.cgroup_stats->base, NULL);
	for (size_t i = 0; i < resp.n_network_stats; i++)
		protobuf_c_message_free_unpacked(&resp.network_stats[i]->base, NULL);
	free(resp.network_stats);
	return r;
}

int on_remove_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	const struct ipc_container_remove *q = m->in;
	struct kerr e = { 0 };
	if (ipc_id_field_check(q->container_id, false, "container id", &e) < 0) {
		e.status = GRPC_INVALID_ARGUMENT;
		return answer_fail(c, m->hdr.id, &e, err);
	}
	/* A SecureMount the CDH never answered may have landed since. */
	secure_storage_recheck();
	struct container *ct = executor_container(x, q->container_id);
	if (!ct) {
		kerr_set_status(&e, GRPC_NOT_FOUND, -ENOENT, "container %s not found",
				q->container_id);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	if (ct->rm_has_fe && !ct->remove_replied) {
		kerr_set_status(&e, GRPC_FAILED_PRECONDITION, -EBUSY,
				"container %s is already being removed", ct->id);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	ct->rm_has_fe = true;
	ct->remove_replied = false;
	ct->rm_fe_id = m->hdr.id;
	ct->rm_fe_gen = x->fe_generation;
	/* Upstream: timeout 0 waits as long as it takes; otherwise the call
	 * fails after timeout seconds while the removal goes on. */
	if (q->timeout_s && !ct->rm_timer)
		ct->rm_timer = loop_timer_add(x->loop,
					      loop_now_ns() + (uint64_t)q->timeout_s * 1000000000ull,
					      on_remove_timeout, ct);
	container_begin_remove(ct);
	return 0;
}

/* DestroySandbox: every container removed (here, with the registry), then
 * sandbox_container_gone finishes it once the last one is forgotten. */
int on_destroy_sandbox(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	if (x->sb.destroying) {
		struct kerr e = { 0 };
		kerr_set_status(&e, GRPC_FAILED_PRECONDITION, -EBUSY,
				"DestroySandbox: already being destroyed");
		return answer_error(c, m->hdr.id, &e, err);
	}
	x->sb.destroying = true;
	x->sb.destroy_fe_id = m->hdr.id;
	x->sb.destroy_fe_gen = x->fe_generation;
	if (!x->ctrs) {
		sandbox_container_gone(x); /* the last one is gone already */
		return 0;
	}
	/* Removal finishes from deferred callbacks: the list stays intact
	 * while this walks it. */
	for (struct container *ct = x->ctrs; ct; ct = ct->next)
		container_begin_remove(ct);
	return 0;
}

/* ---- children, front-end restarts, exit ---- */

void containers_reap(struct executor *x)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		struct hnode *n = htab_find_int(&x->ctr_xpids, (uint64_t)pid);
		struct container *ct = n ? htab_entry(n, struct container, by_xpid) : NULL;
		if (!ct) {
			struct container *done = poststop_reaped(x, pid, st);
			if (done)
				container_finish_removal(done);
			else if (!sandbox_reaped(x, pid) && !spawner_reaped(x, pid, st) &&
				 !cdh_job_reaped(x, pid, st) && !iptables_reaped(x, pid, st) &&
				 !memagent_child_reaped(x, pid, st))
				log_debug("reaped pid %d (status 0x%x)", (int)pid, st);
			continue;
		}
		container_set_xpid(ct, 0);
		if (ct->removing && ct->shutdown_sent)
			log_info("container %s: monitor exited", ct->id);
		else
			log_error("container %s: monitor exited unexpectedly (status 0x%x)", ct->id,
				  st);
		if (ct->removing)
			remove_step(ct);
	}
}

void containers_new_frontend(struct executor *x)
{
	for (struct container *ct = x->ctrs; ct; ct = ct->next) {
		if (!ct->em)
			continue;
		int sp[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
			log_error("container %s: socketpair for the new front-end: %s", ct->id,
				  strerror(errno));
			continue;
		}
		struct kerr e = { 0 };
		if (ipc_chan_send(ct->em, IPC_MON_NEW_FRONTEND, 0, NULL, 0, sp[1], &e) < 0)
			log_error("container %s: MON_NEW_FRONTEND: %s", ct->id, e.msg);
		close(sp[1]);
		struct ipc_container_ref r = { 0 };
		snprintf(r.container_id, sizeof(r.container_id), "%s", ct->id);
		answer_fe(x, x->fe_generation, IPC_MONITOR_ATTACH, 0, &r, sizeof(r), sp[0]);
		close(sp[0]);
	}
}

void containers_free_all(struct executor *x)
{
	while (x->ctrs) {
		struct container *ct = x->ctrs;
		x->ctrs = ct->next;
		x->n_ctrs--;
		if (ct->x_pid > 0)
			kill(ct->x_pid, SIGKILL);
		poststop_kill(ct);
		ctr_free(ct);
	}
	htab_free(&x->ctr_ids);
	htab_free(&x->ctr_xpids);
}
