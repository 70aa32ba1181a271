/* SPDX-License-Identifier: Apache-2.0 */
/*
 * executor.h - the executor's state shared by its modules: options, the
 * sandbox, the container registry, and the per-container processes
 * (X forked by the executor, which forks the launcher L and execs into the
 * monitor M; see /doc/architecture.md "Container path").
 *
 * Offers:
 *  - struct exec_opts, struct executor, struct sandbox, struct container;
 *  - the front-end handlers of containers.c and sandbox.c (for main.c's
 *    dispatch table), the SIGCHLD reaper, the front-end restart hook;
 *  - spawn_container() (spawn.c): create X/L/M for a checked container,
 *    through the spawner (spawner.c), the executor's fork without its
 *    seccomp filter;
 *  - launcher_main() (launcher.c): the launcher's blocking loop, never returns;
 *  - OOM watches and the OOM event queue (oom.c).
 *
 * Bounds: at most EXEC_MAX_CONTAINERS containers, EXEC_MAX_EXECS execs per
 * container (exited execs are forgotten first when the bound is reached).
 */
#ifndef KATA_EXECUTOR_H
#define KATA_EXECUTOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent.pb-c.h"
#include "cgroups.h"
#include "err.h"
#include "htab.h"
#include "ipc.h"
#include "ipc_pending.h"
#include "log.h"
#include "loop.h"
#include "options.h"
#include "storage.h"

#define EXEC_MAX_CONTAINERS 1024
#define EXEC_MAX_EXECS 1024

struct exec_opts {
	const char *shared_dir;   /* realpath'd: rootfs and storages live below */
	const char *cgroup_parent;
	const char *monitor_path; /* kata-agent-monitor */
	const char *launcher_path; /* kata-agent-launcher */
	const char *worker_path;   /* kata-agent-launch-worker */
	unsigned long monitor_uid, monitor_gid;
	uint32_t pipe_size;       /* 0 = kernel default */
	uint64_t hotplug_timeout_ms;   /* agent.hotplug_timeout (device waits) */
	uint32_t passfd_listener_port; /* agent.passfd_listener_port, 0 = none */
	bool allow_host_hooks;    /* run the spec's hooks other than startContainer */
	/* The confidential guest (guest_pull.c, sealed_env.c): agent.cdh_api_timeout,
	 * agent.image_pull_timeout, agent.secure_storage_integrity, and the
	 * guest image's pause bundle (upstream /pause_bundle). */
	uint64_t cdh_api_timeout_ms, image_pull_timeout_ms;
	bool secure_storage_integrity;
	const char *pause_bundle;
	enum log_level level;
	/* [endpoints] allowed, as the parent passed it (--endpoints; NULL:
	 * every endpoint): enforced on the front-end's requests here and in
	 * every monitor, which gets the same list (common/endpoints.h). */
	const char *endpoints;
	struct agent_options policy;
};

/* Our request to the launcher (LAUNCH_INIT, LAUNCH_START, LAUNCH_EXEC) or
 * the monitor (MON_SIGNAL), and the front-end request it serves. */
struct pending {
	struct ipc_pending req;
	uint32_t fe_id;       /* the front-end's request id; 0: our own (SIGKILL) */
	uint32_t fe_gen;      /* the front-end generation that asked */
	char exec_id[IPC_ID_MAX];
};

struct oom_watch;
struct policy_client; /* policy.c */
struct dev_batch;
struct hotplug;
struct swap_op;
struct guest_pull;
struct secure_job;

enum ctr_state { CTR_CREATING, CTR_CREATED, CTR_RUNNING, CTR_STOPPED };

struct ctr_exec {
	char id[IPC_ID_MAX];
	pid_t pid;
	bool launched, exited;
	int status;
	struct ctr_exec *next;
};

struct container {
	struct executor *x;
	char id[IPC_ID_MAX];
	enum ctr_state state;
	Grpc__CreateContainerRequest *req; /* decoded, checked; owns the spec */
	/* The rootfs's parent (absolute), malloc'd: a 4 KiB array here was a
	 * quarter of a container's heap in the executor. "" until checked. */
	char *bundle;
	struct storage_set *storages;
	struct cgroup *cg;
	pid_t x_pid;          /* X, later the monitor; 0 once reaped */
	struct ipc_chan *el;  /* to the launcher */
	struct ipc_chan *em;  /* to the monitor */
	int fm_fe;            /* front-end end of FM until MONITOR_ATTACH */
	pid_t init_pid;
	int init_status;
	bool init_exited;
	struct ctr_exec *execs;
	unsigned n_execs;
	struct ipc_pending_list pl; /* struct pending waiting for the launcher */
	struct ipc_pending_list pm; /* struct pending waiting for the monitor */
	/* removal */
	bool removing;
	bool remove_replied;
	bool shutdown_sent;
	bool finishing;       /* the deferred finish is scheduled */
	uint32_t rm_fe_id, rm_fe_gen;
	bool rm_has_fe;       /* a RemoveContainer waits for the answer */
	struct loop_timer *rm_timer;
	/* PauseContainer/ResumeContainer: paused once the freeze is reached;
	 * while one is in transition, frz_timer polls its state. */
	bool paused;
	bool frz_target;      /* true: freezing, false: thawing */
	unsigned frz_polls;
	uint32_t frz_fe_id, frz_fe_gen;
	struct loop_timer *frz_timer;
	struct oom_watch *oom; /* NULL: no OOM notification (no memory controller) */
	/* The poststop hooks' runner (poststop.c), 0 when none runs. */
	bool poststop_started;
	pid_t poststop_pid;
	struct loop_timer *poststop_timer;
	/* CreateContainer: the devices it waits for (NULL once found), and
	 * the request to answer. */
	struct dev_batch *devs;
	uint32_t create_fe_id, create_fe_gen;
	/* Its image pulled in the guest (guest_pull.h), else NULL. */
	struct guest_pull *gp;
	/* Its SecureMount in flight (secure_storage.h), else NULL; the next
	 * of the request's storages to add. */
	struct secure_job *sj;
	size_t st_next;
	struct container *next;
	/* In x->ctr_ids while listed; in x->ctr_xpids while x_pid > 0. */
	struct hnode by_id, by_xpid;
};

struct sandbox {
	bool created;
	char id[IPC_ID_MAX];
	char hostname[256];
	struct storage_set *storages;
	bool destroying;
	uint32_t destroy_fe_id, destroy_fe_gen;
	Grpc__Hooks *guest_hooks;   /* from guest_hook_path (guest_hooks.c), or NULL */
	/* The holder of the pod's shared IPC, UTS and pid namespaces, made at
	 * CreateSandbox (sandbox.c), 0 when there is none; share_pid: the
	 * sandbox asked for its pid namespace to be shared (sandbox_pidns). */
	pid_t pidns_pid;
	bool share_pid;
	/* Otherwise the pod's pid namespace is the one of its first container
	 * (pidns_ctr, "" until a container asks), identified by the device
	 * and inode of its /proc/PID/ns/pid. */
	char pidns_ctr[IPC_ID_MAX];
	dev_t pidns_dev;
	ino_t pidns_ino;
	/* The DNS file bound over /etc/resolv.conf (guest mode), if any. */
	bool dns_bound;
	dev_t dns_dev;
	ino_t dns_ino;
};

/* OOM events waiting for GetOOMEvent (oom.c). The queue lives here, in
 * the executor, so that it survives a front-end restart. */
#define OOM_QUEUE_MAX 1024
struct oom_event {
	uint64_t seq; /* 1, 2, ...: names an event in acknowledgements */
	char container_id[IPC_ID_MAX];
};
struct oom_state {
	struct oom_event *ring; /* OOM_QUEUE_MAX slots, allocated at the first event */
	unsigned head, count;
	uint64_t next_seq;
	/* The current front-end's state: the event handed to it and not yet
	 * acknowledged (0: none), its parked GET_OOM_EVENT_REQ (0: none), and the
	 * generation both belong to. */
	uint64_t inflight_seq;
	uint32_t poll_id;
	uint32_t gen;
	uint64_t dropped; /* events lost to a full queue */
};

/* OnlineCPUMem in progress (guest_ops.c): one at a time. */
struct online_op {
	bool active;
	bool wait, cpu_only;
	uint32_t nb_cpus;
	int onlined;          /* CPUs brought online so far */
	unsigned polls;
	uint32_t fe_id, fe_gen;
	struct loop_timer *timer;
};

struct executor {
	struct loop *loop;
	/* The spawner (spawner.c): its channel (blocking), pid, last id. */
	int spawner_fd;
	pid_t spawner_pid;
	uint32_t spawner_next_id;
	struct ipc_chan *ctl;
	struct ipc_chan *fe;
	uint32_t fe_generation;
	pid_t fe_pid;             /* the current front-end (CTL_NEW_FRONTEND) */
	uint64_t metrics_scrapes; /* GetMetrics answered (kata_agent_scrape_count) */
	bool init_daemon;
	int exit_code;
	int sigfd;
	struct exec_opts o;
	struct cg_config cgc;
	struct sandbox sb;
	struct container *ctrs;
	unsigned n_ctrs;
	/* The listed containers by id and by X's pid (the monitor's): the
	 * lookups every request and every reaped child make, O(1) at 1000. */
	struct htab ctr_ids, ctr_xpids;
	struct oom_state oom;
	struct online_op online;
	struct policy_client *pol; /* the agent policy (policy.h) */
	/* uevents, and the devices requests wait for (devices/hotplug.h) */
	struct hotplug *hp;
	/* AddSwap requests waiting for their disk (devices/swap.c) */
	struct swap_op *swaps;
};

/* ---- main.c ---- */
int exec_reply_error(struct ipc_chan *c, uint32_t id, const struct kerr *e, struct kerr *err);
/* Reply to the front-end generation gen if it is still the current one;
 * a reply for a front-end that went away is dropped. */
void exec_to_fe(struct executor *x, uint32_t gen, uint32_t type, uint32_t id, const void *p,
		size_t len, int fd);
void exec_err_to_fe(struct executor *x, uint32_t gen, uint32_t id, const struct kerr *e);
void exec_ok_to_fe(struct executor *x, uint32_t gen, uint32_t id);
/* Answer request id with e (logged as a warning). */
int exec_fail(struct ipc_chan *c, uint32_t id, struct kerr *e, struct kerr *err);
/* Answer m with msg packed as a message of type (RESOURCE_EXHAUSTED if it
 * does not fit an IPC payload). */
int exec_reply_msg(struct ipc_chan *c, const struct ipc_msg *m, uint32_t type,
		   const ProtobufCMessage *msg, struct kerr *err);

/* ---- sandbox.c ---- */
int on_create_sandbox(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_destroy_sandbox(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_update_ephemeral_mounts(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_remove_stale_virtiofs_share_mounts(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
/* A container was forgotten: finishes a pending DestroySandbox when it was
 * the last one. */
void sandbox_container_gone(struct executor *x);
void sandbox_free(struct executor *x);
/* The container's namespaces, as upstream update_container_namespaces: its
 * IPC and UTS entries name the sandbox's shared ones; any pid entry is
 * replaced by one for a new namespace, or for the pod's shared one when the
 * request asks (sandbox_pidns): the holder's if CreateSandbox asked for it,
 * else the pod's first container's (FAILED_PRECONDITION once that one's
 * init is gone). The runtime strips the pid namespace from specs. */
int sandbox_set_pidns(struct executor *x, Grpc__CreateContainerRequest *req, struct kerr *err);
/* SIGCHLD: true when pid was the shared pid namespace's holder (now gone). */
bool sandbox_reaped(struct executor *x, pid_t pid);
/* Poll watchable-bind storages (watcher.h) while there are any. */
void storage_watch_schedule(struct executor *x);
void storage_policy_of(const struct executor *x, struct storage_policy *pol,
		       const char *roots[1]);

/* ---- containers.c ---- */
int on_create_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_start_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_remove_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_exec_process(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_signal_process(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_update_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_pause_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_resume_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
/* IPC_STATS_CONTAINER_REQ -> IPC_STATS_CONTAINER_REPLY (cg_stats, net_dev_stats). */
int on_stats_container(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
/* Start removing (SIGKILL, wait, shutdown, cleanup); used by DestroySandbox. */
void container_begin_remove(struct container *ct);
/* SIGCHLD: reap every exited child of the executor. */
void containers_reap(struct executor *x);
/* Record X's (the monitor's) pid, 0 once reaped, and index it for the reaper. */
void container_set_xpid(struct container *ct, pid_t pid);
/* Go on with a removal that waited (for the poststop hooks), from the
 * loop. */
void container_finish_removal(struct container *ct);

/* ---- poststop.c ---- */
/* Fork the runner of ct's poststop hooks; false when there is nothing to
 * run (or it could not start: logged), and the removal goes on at once. */
bool poststop_start(struct container *ct);
/* SIGCHLD: true when pid was a runner; its container's removal goes on. */
bool poststop_reaped(struct executor *x, pid_t pid, int status);
/* Kill ct's runner (executor exit). */
void poststop_kill(struct container *ct);
/* A new front-end: hand it a fresh channel to every live monitor. */
void containers_new_frontend(struct executor *x);
/* Exit of the executor: kill and forget everything without waiting. */
void containers_free_all(struct executor *x);

/* ---- oom.c ---- */
/* Watch ct's cgroup for OOM kills (v1: eventfd on memory.oom_control via
 * cgroup.event_control; v2: inotify on memory.events' oom_kill counter). */
int oom_watch_add(struct container *ct, struct kerr *err);
/* Stop watching; must run before the cgroup is removed. Events already
 * queued for ct stay queued. NULL watch is fine. */
void oom_watch_remove(struct container *ct);
/* IPC_GET_OOM_EVENT_REQ from the front-end. */
int on_get_oom_event(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
/* The front-end channel closed or was replaced: forget its parked poll and
 * make its unacknowledged event deliverable again. */
void oom_frontend_gone(struct executor *x);
/* Shutdown: the parked poll fails UNAVAILABLE at once. */
void oom_shutdown(struct executor *x);
void oom_free(struct executor *x);

/* ---- network.c: the guest network over rtnetlink (doc/network.md) ---- */
int on_update_interface(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_update_routes(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_list_interfaces(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_list_routes(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_add_arp_neighbors(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);

/* ---- guest_ops.c: guest-wide requests (doc/guest-ops.md) ---- */
int on_set_guest_date_time(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_reseed_random_dev(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_get_volume_stats(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_copy_file(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_online_cpu_mem(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_mem_hotplug_by_probe(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_add_swap_path(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
/* mkswap's work on fd, a regular file or a disk (AddSwapPath, AddSwap). */
int swap_header_write(int fd, size_t page_size, struct kerr *err);

/* ---- devices/volume_ops.c: AddSwap, ResizeVolume ---- */
int on_add_swap(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
int on_resize_volume(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err);
/* Exit: AddSwap requests still waiting for their disk are dropped. */
void swap_ops_free(struct executor *x);

/* ---- guest_hooks.c: CreateSandbox's guest_hook_path ---- */
/* Load the hooks below path into x->sb.guest_hooks (replacing any). A path
 * the host could have filled, or a kind directory or hook that is not
 * root's alone, is logged and left out (as upstream, CreateSandbox goes on);
 * fails only when out of memory. */
int guest_hooks_load(struct executor *x, const char *path, struct kerr *err);
/* Append the sandbox's guest hooks to a container's spec (at create). */
int guest_hooks_append(struct executor *x, Grpc__Spec *spec, struct kerr *err);
/* The spec's own hooks (the host's, before guest_hooks_append): any but
 * startContainer is PERMISSION_DENIED naming its stage, unless
 * allow_host_hooks. */
int hooks_host_check(const struct executor *x, const Grpc__Spec *spec, struct kerr *err);

/* ---- spawn.c ---- */
/* What X and the launcher know of their container: made by the spawner
 * from SPAWN_X (the spec comes later, in LAUNCH_INIT). */
struct launch_ctx {
	const struct exec_opts *o;
	char id[IPC_ID_MAX];
	char bundle[4096];
	char cgroups_path[IPC_CGPATH_MAX]; /* the spec's, for the launcher's workers */
	struct cgroup *cg; /* found, not made: for CLONE_INTO_CGROUP (v2), cg_add_pid (v1) */
};
/* Have the spawner clone X (-> L + exec M) for ct as our child; sets
 * ct->x_pid and returns the executor's ends of EL and EM and the
 * front-end's end of FM. */
int spawn_container(struct container *ct, int *el, int *em, int *fm, struct kerr *err);
/* X, in the spawner's clone: fork L, exec the monitor. Never returns. */
__attribute__((noreturn)) void x_main(const struct launch_ctx *c, int el_l, int em_m, int fm_m);

/* ---- spawner.c ---- */
/* Fork the spawner; before the executor's seccomp filter is loaded. */
int spawner_start(struct executor *x, struct kerr *err);
/* SPAWN_X with [el_l, em_m, fm_m]; *pid: X, a child of ours. */
int spawner_x(struct executor *x, const struct ipc_spawn_x *s, const int fds[3], pid_t *pid,
	      struct kerr *err);
/* SPAWN_MODPROBE: argv[0] is the path, argv[1..] modprobe's argv (NULL
 * ended); out_fd becomes its stdout and stderr; *pid a child of ours. */
int spawner_modprobe(struct executor *x, const char *const *argv, int out_fd, pid_t *pid,
		     struct kerr *err);
/* SIGCHLD: true when pid was the spawner (fatal: the loop quits). */
bool spawner_reaped(struct executor *x, pid_t pid, int status);
void spawner_stop(struct executor *x);

/* ---- launcher.c ---- */
/* The launcher L: el and lm are its channels (blocking); waits for
 * LAUNCH_INIT, spawns the init, answers it with LAUNCHED, then serves
 * START/EXEC until el closes. Never returns. */
__attribute__((noreturn)) void launcher_main(const struct launch_ctx *c, int el, int lm);
/* kata-agent-launch-worker (launch_worker.c, --launch-worker serve): serve
 * one request on the fds kata-agent-launcher placed; returns an exit status
 * on bad use. */
int launcher_worker(struct executor *x, const char *phase, const char *id, const char *bundle,
		    const char *cgroups_path);

#endif
