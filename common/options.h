/* SPDX-License-Identifier: Apache-2.0 */
/*
 * options.h - the agent's configuration: the agent.* kernel command line
 * options of the upstream README, the upstream TOML config file
 * (agent.config_file / --config), and the upstream environment overrides.
 *
 * Precedence (as upstream): defaults < kernel command line; if a config file
 * is named (agent.config_file on the command line, or --config) it is read
 * and REPLACES the other command-line options; the environment
 * (KATA_AGENT_SERVER_ADDR, KATA_AGENT_LOG_LEVEL, KATA_AGENT_TRACING) applies
 * on top of either.
 *
 * A malformed agent.* value is reported through the warn callback with the
 * option's name and the default is kept. A missing or malformed config file
 * is an error naming the file, line and problem.
 */
#ifndef KATA_COMMON_OPTIONS_H
#define KATA_COMMON_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "log.h"
#include "memagent_cfg.h"

#define AGENT_DEFAULT_SERVER_ADDR "vsock://-1:1024"
#define AGENT_DEFAULT_HOTPLUG_TIMEOUT_S 3
#define AGENT_DEFAULT_DEBUG_CONSOLE_VPORT 0
#define AGENT_DEFAULT_LOG_VPORT 0
/* agent.vsock_peer_cids (our extension): at most this many CIDs listed. */
#define AGENT_MAX_PEER_CIDS 16

struct agent_options {
	char *config_file;            /* agent.config_file */
	uint32_t container_pipe_size; /* agent.container_pipe_size, 0 = kernel default */
	bool debug_console;           /* agent.debug_console */
	uint32_t debug_console_vport; /* agent.debug_console_vport */
	bool dev_mode;                /* agent.devmode */
	uint64_t hotplug_timeout_ms;  /* agent.hotplug_timeout (seconds on the command line) */
	/* agent.guest_components_rest_api: "resource" (default), "attestation",
	 * "all". Points to static storage (one of the accepted values). */
	const char *guest_components_rest_api;
	char *https_proxy;             /* agent.https_proxy */
	enum log_level log_level;      /* agent.log */
	uint32_t log_vport;            /* agent.log_vport */
	char *no_proxy;                /* agent.no_proxy */
	uint32_t passfd_listener_port; /* agent.passfd_listener_port */
	bool passfd_direct;            /* agent.passfd_direct (ours): streams as fds */
	char *server_addr;             /* agent.server_addr */
	/* policy_file (config file) or KATA_AGENT_POLICY_FILE: the default
	 * policy; NULL: /etc/kata-opa/default-policy.rego if it exists */
	char *policy_file;
	bool tracing;                  /* agent.trace */
	bool unified_cgroup_hierarchy; /* systemd.unified_cgroup_hierarchy */

	/* Upstream options beyond the README's 15, kept so they are not
	 * reported as unknown and are visible in the announce line. */
	uint64_t cdh_api_timeout_ms;        /* agent.cdh_api_timeout (s), default 50 */
	uint64_t image_pull_timeout_ms;     /* agent.image_pull_timeout (s), default 1200 */
	uint64_t cdi_timeout_ms;            /* agent.cdi_timeout (s), default 100 */
	uint64_t launch_process_timeout_ms; /* agent.launch_process_timeout (s), default 6 */
	bool visible_cdi_devices;           /* agent.visible_cdi_devices */
	bool secure_storage_integrity;      /* agent.secure_storage_integrity, default true */
	/* agent.guest_components_procs: "api-server-rest" (default), "none",
	 * "attestation-agent", "confidential-data-hub"; static storage. */
	const char *guest_components_procs;
	/* agent.mem_agent_* / mem_agent_*: upstream's memory agent, run by
	 * the executor when mem_agent.enable is set (memagent_cfg.h). */
	struct memagent_cfg mem_agent;

	/* agent.vsock_peer_cids / vsock_peer_cids (our extension, not
	 * upstream): the vsock peers the agent's server accepts. Default: the
	 * host only (CID 2, which hybrid vsock connections come from too);
	 * "any" (vsock_any_peer) lifts the check. */
	uint32_t vsock_peer_cids[AGENT_MAX_PEER_CIDS];
	size_t n_vsock_peer_cids;
	bool vsock_any_peer;

	/* [endpoints] allowed = [...] from the config file. Without that table
	 * (or without a config file) endpoints_restricted is false and every
	 * endpoint is allowed; with it, only the listed request types are. */
	bool endpoints_restricted;
	char **allowed_endpoints;
	size_t n_allowed_endpoints;

	/* allow_host_hooks = true, config file only (not on the kernel
	 * command line, which the host writes): run the OCI spec's prestart,
	 * createRuntime, createContainer, poststart and poststop hooks that
	 * come with CreateContainer. Off, they are refused (doc/security.md
	 * "OCI hooks"). */
	bool allow_host_hooks;
};

/* Called for each malformed option and each unknown agent.* option (name,
 * value, why). value is "" for an option given without '='. */
typedef void (*options_warn_fn)(const char *option, const char *value, const char *why, void *data);

void options_init_defaults(struct agent_options *o);
void options_free(struct agent_options *o);

/* Parse a kernel command line string (e.g. the content of /proc/cmdline)
 * into o. agent.config_file is only recorded here; options_load acts on it. */
int options_parse_cmdline(struct agent_options *o, const char *cmdline, options_warn_fn warn,
			  void *warn_data, struct kerr *err);
/* Parse a TOML config file; fields it sets replace those in o. A key the
 * agent does not know is ignored, as upstream's serde does, and reported
 * through warn (may be NULL); a malformed file, or a known key with a bad
 * value, is an error. */
int options_parse_config_file_warn(struct agent_options *o, const char *path, options_warn_fn warn,
				   void *warn_data, struct kerr *err);
/* The same without a warn callback. */
int options_parse_config_file(struct agent_options *o, const char *path, struct kerr *err);
/* Apply KATA_AGENT_* environment overrides from envp (NULL-terminated);
 * options_load's step, exported for tests/fuzz/fuzz_cmdline.c. */
int options_apply_env(struct agent_options *o, char *const *envp, options_warn_fn warn,
		      void *warn_data, struct kerr *err);

/* The whole sequence with upstream precedence. cmdline_path is /proc/cmdline
 * unless a test passes its own; config_override is --config (or NULL).
 * o need not be initialised: it is overwritten (not freed) with defaults
 * first. On error o holds the defaults and err names the file, line and
 * problem. envp NULL means an empty environment. */
int options_load(struct agent_options *o, const char *cmdline_path, const char *config_override,
		 char *const *envp, options_warn_fn warn, void *warn_data, struct kerr *err);

/* True if the endpoint whose request message type is request_type_name
 * (the protobuf message name without package, as upstream's allowed list
 * spells it: "CreateContainerRequest", "ReadStreamRequest", ...) may be
 * called. A package-qualified name ("grpc.CreateContainerRequest", the
 * protobuf-c descriptor's name) is matched by its last component. Upstream answers a blocked call with UNIMPLEMENTED
 * "<type> is blocked". */
bool options_endpoint_allowed(const struct agent_options *o, const char *request_type_name);

/* Parse a vsock_peer_cids value: "any", or comma-separated decimal CIDs
 * (1..AGENT_MAX_PEER_CIDS of them, each below 2^32 - 1). Returns NULL, or
 * why it is refused (o is then unchanged). */
const char *options_parse_peer_cids(struct agent_options *o, const char *v);
/* The value back in that form ("any" or "2,1"), for argv and logs. */
void options_format_peer_cids(const struct agent_options *o, char *buf, size_t len);
/* Whether a vsock peer with this CID may connect. */
bool options_peer_cid_allowed(const struct agent_options *o, uint32_t cid);

/* The effective configuration as a JSON object, for the announce line. */
json_t *options_to_json(const struct agent_options *o);

#endif
