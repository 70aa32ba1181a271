/* SPDX-License-Identifier: Apache-2.0 */
/*
 * executor.h - the executor's state shared by its modules: options, the
 * sandbox, the container registry, and the per-container processes
 * (X forked by the executor, which forks the launcher L and execs into the
 * monitor M; see /doc/architecture.md "Container path").
 *
 * Types (and the registry's lookup by id), no other function: each
 * module's functions are in its own header
 * (answer.h, the handlers' and the spawner's headers, launcher.h), so that the
 * include graph shows who calls whom (scripts/include-cycles). Offers
 * struct executor_opts, struct executor, struct sandbox, struct container
 * and what they hold, and struct launch_ctx (what X and the launcher know).
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
#include "memagent_cfg.h"
#include "options.h"
#include "storage.h"

#define EXEC_MAX_CONTAINERS 1024
#define EXEC_MAX_EXECS 1024

/* The only subtree CopyFile writes to, below the shared directory: upstream's
 * KATA_GUEST_SHARE_DIR (/run/kata-containers/shared/containers), where both
 * runtimes copy to. The rest of the shared directory (the sandbox's DNS
 * file, storages' mount points, bundles) is the agent's own. GetDiagnosticData
 * reads only there (diagnostic.c). */
#define COPY_FILE_SUBTREE "shared/containers"

struct executor_opts {
	const char *shared_dir; /* realpath'd: rootfs and storages live below */
	const char *cgroup_parent;
	const char *monitor_path;  /* kata-agent-monitor */
	const char *launcher_path; /* kata-agent-launcher */
	const char *worker_path;   /* kata-agent-launch-worker */
	unsigned long monitor_uid, monitor_gid;
	uint32_t pipe_size;            /* 0 = kernel default */
	uint64_t hotplug_timeout_ms;   /* agent.hotplug_timeout (device waits) */
	uint32_t passfd_listener_port; /* agent.passfd_listener_port, 0 = none */
	bool passfd_unix;              /* the passfd listener is unix (stand-alone) */
	bool passfd_direct;            /* agent.passfd_direct: else PASSFD_STREAM refused */
	bool allow_host_hooks;         /* run the spec's hooks other than startContainer */
	/* The confidential guest (guest_pull.c, sealed_env.c): agent.cdh_api_timeout,
	 * agent.image_pull_timeout, agent.secure_storage_integrity, and the
	 * guest image's pause bundle (upstream /pause_bundle). */
	uint64_t cdh_api_timeout_ms, image_pull_timeout_ms;
	bool secure_storage_integrity;
	const char *pause_bundle;
	enum log_level level;
	/* [endpoints] allowed, as the parent passed it (--endpoints; absent:
	 * every endpoint): enforced on the front-end's requests here and in
	 * every monitor, which gets what it blocks of the monitor's requests
	 * (monitor_blocked, --endpoints-blocked; common/endpoints.h). */
	struct agent_options policy;
	char monitor_blocked[128];
	/* agent.mem_agent_* (--mem-agent): the mem-agent runs when enable is
	 * set (memagent/memagent.h). */
	struct memagent_cfg mem_agent;
};

/* Our request to the launcher (LAUNCH_INIT, LAUNCH_START, LAUNCH_EXEC) or
 * the monitor (MON_SIGNAL), and the front-end request it serves. */
struct pending {
	struct ipc_pending req;
	uint32_t fe_id;  /* the front-end's request id; 0: our own (SIGKILL) */
	uint32_t fe_gen; /* the front-end generation that asked */
	char exec_id[IPC_ID_MAX];
};

struct oom_watch;
struct policy_client; /* policy.c */
struct memagent;      /* memagent/memagent.h */
struct dev_batch;
struct hotplug;
struct swap_op;
struct guest_pull;
struct secure_job;
struct passfd_stage;

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
	pid_t x_pid;         /* X, later the monitor; 0 once reaped */
	struct ipc_chan *el; /* to the launcher */
	struct ipc_chan *em; /* to the monitor */
	int fm_fe;           /* front-end end of FM until MONITOR_ATTACH */
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
	bool finishing; /* the deferred finish is scheduled */
	uint32_t rm_fe_id, rm_fe_gen;
	bool rm_has_fe; /* a RemoveContainer waits for the answer */
	struct loop_timer *rm_timer;
	/* PauseContainer/ResumeContainer: paused once the freeze is reached;
	 * while one is in transition, frz_timer polls its state. */
	bool paused;
	bool frz_target; /* true: freezing, false: thawing */
	unsigned frz_polls;
	uint32_t frz_fe_id, frz_fe_gen;
	struct loop_timer *frz_timer;
	struct oom_watch *oom; /* NULL: no OOM notification (no memory controller) */
	/* The poststop hooks' runner (poststop.c), 0 when none runs. */
	bool poststop_started;
	pid_t poststop_pid;
	struct loop_timer *poststop_timer;
	/* CreateContainer: the host streams that are to be the init's
	 * stdout and stderr (-1: none) until LAUNCH_INIT, the devices it
	 * waits for (NULL once found), and the request to answer. */
	int init_stdio[2];
	struct dev_batch *devs;
	uint32_t create_fe_id, create_fe_gen;
	/* Its image pulled in the guest (guest_pull.h), else NULL. */
	struct guest_pull *gp;
	/* Its SecureMount or mkfs in flight (secure_storage.h), else NULL;
	 * the next of the request's storages to add; the storage whose
	 * device mkfs formatted (added next). */
	struct secure_job *sj;
	size_t st_next;
	const Grpc__Storage *fs_made;
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
	Grpc__Hooks *guest_hooks; /* from guest_hook_path (guest_hooks.c), or NULL */
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
	/* The trusted image storage (secure_storage.h): the CDH's mount at
	 * <shared dir>/image, once per sandbox, and its device. */
	struct storage_set *trusted;
	dev_t trusted_dev;
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

/* OnlineCPUMem in progress (guest.c): one at a time. */
struct online_op {
	bool active;
	bool wait, cpu_only;
	uint32_t nb_cpus;
	int onlined; /* CPUs brought online so far */
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
	struct executor_opts o;
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
	struct memagent *ma;       /* NULL unless agent.mem_agent_enable */
	/* uevents, and the devices requests wait for (devices/hotplug.h) */
	struct hotplug *hp;
	/* AddSwap requests waiting for their disk (handlers/volumes.c) */
	struct swap_op *swaps;
	/* Host streams waiting for the request whose process they are to be
	 * the stdout/stderr of (handlers/passfd.c). */
	struct passfd_stage *passfd_staged;
	unsigned n_passfd_staged;
	struct loop_timer *passfd_timer; /* the next one's deadline */
};

/* The listed container id, or NULL: the registry's index, for every
 * module that holds an id. */
static inline struct container *executor_container(struct executor *x, const char *id)
{
	struct hnode *n = htab_find_str(&x->ctr_ids, id);
	return n ? htab_entry(n, struct container, by_id) : NULL;
}

/* Where the host's storages may be mounted (storage.h): below the shared
 * dir only; roots is the policy's storage. */
static inline void executor_storage_policy(const struct executor *x, struct storage_policy *pol,
					   const char *roots[1])
{
	roots[0] = x->o.shared_dir;
	pol->allowed_roots = roots;
	pol->n_allowed_roots = 1;
}

/* What X and the launcher know of their container: made by the spawner
 * from SPAWN_X (the spec comes later, in LAUNCH_INIT). */
struct launch_ctx {
	const struct executor_opts *o;
	char id[IPC_ID_MAX];
	char bundle[4096];
	char cgroups_path[IPC_CGPATH_MAX]; /* the spec's, for the launcher's workers */
	struct cgroup *cg; /* found, not made: for CLONE_INTO_CGROUP (v2), cg_add_pid (v1) */
};

#endif
