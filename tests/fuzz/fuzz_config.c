/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_config.c - libFuzzer target for loading the agent's options from a
 * config file (common/options.c options_load, with --config naming a file
 * that holds the input; TOML through common/toml.c), the way the parent
 * does at start, then what is done with the result: the announce line's
 * JSON (options_to_json) and the endpoint policy (options_endpoint_allowed
 * for every request type of the API).
 *
 * Checked: a refused file leaves exactly the defaults (options.h); an
 * accepted one gives values within the documented ranges, and a policy
 * that allows everything exactly when it has no [endpoints] table.
 *
 * Seeds: upstream's sample config (doc/options.md), each key with a good
 * and a bad value, [endpoints] in its three forms.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "runtime_requests.h"
#include "options.h"
#include "rpc_catalog.h"

static char *defaults_json;
static int cmdline_fd = -1;

static char *options_text(const struct agent_options *o)
{
	json_t *j = options_to_json(o);
	FUZZ_ASSERT(j, "options_to_json failed");
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	FUZZ_ASSERT(s, "options JSON does not serialise");
	json_decref(j);
	return s;
}

static void init_once(void)
{
	if (defaults_json)
		return;
	struct agent_options o;
	options_init_defaults(&o);
	defaults_json = options_text(&o);
	options_free(&o);
	/* The command line the config file replaces (upstream precedence). */
	static const char cmdline[] = "console=hvc0 agent.log=debug agent.debug_console\n";
	cmdline_fd = fuzz_memfd(cmdline, sizeof(cmdline) - 1, true);
	FUZZ_ASSERT(cmdline_fd >= 0, "memfd for the command line");
}

static void check_policy(const struct agent_options *o)
{
	for (size_t i = 0; i < rpc_catalog_count(); i++) {
		const struct rpc_method *m = rpc_catalog_at(i);
		bool ok = options_endpoint_allowed(o, m->input->short_name);
		if (!o->endpoints_restricted)
			FUZZ_ASSERT(ok, "%s refused without an [endpoints] table",
				    m->input->short_name);
		/* The package-qualified name means the same type. */
		FUZZ_ASSERT(ok == options_endpoint_allowed(o, m->input->name), "%s and %s disagree",
			    m->input->short_name, m->input->name);
	}
	for (size_t i = 0; i < o->n_allowed_endpoints; i++)
		FUZZ_ASSERT(o->allowed_endpoints[i] != NULL, "NULL allowed endpoint");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	int fd = fuzz_memfd(data, size, false);
	FUZZ_ASSERT(fd >= 0, "memfd for the config file");
	char cfg[64], cmd[64];
	snprintf(cfg, sizeof(cfg), "/proc/self/fd/%d", fd);
	snprintf(cmd, sizeof(cmd), "/proc/self/fd/%d", cmdline_fd);

	struct agent_options o;
	struct kerr err = { 0 };
	int r = options_load(&o, cmd, cfg, NULL, NULL, NULL, &err);
	close(fd);
	char *got = options_text(&o);
	if (r < 0) {
		FUZZ_ASSERT(err.msg[0], "refused without a message");
		FUZZ_ASSERT(strcmp(got, defaults_json) == 0,
			    "a refused config file left non-default options: %s", got);
	} else {
		FUZZ_ASSERT(o.config_file && strcmp(o.config_file, cfg) == 0,
			    "config_file not recorded");
		FUZZ_ASSERT(o.log_level <= LOG_LVL_DEBUG, "log level %d", o.log_level);
		FUZZ_ASSERT(o.container_pipe_size <= INT32_MAX, "pipe size out of range");
		FUZZ_ASSERT(o.server_addr && o.guest_components_rest_api && o.guest_components_procs,
			    "a string option became NULL");
	}
	check_policy(&o);
	free(got);
	options_free(&o);
	return 0;
}

void fuzz_write_seeds(void)
{
	static const struct fuzz_text_seed seeds[] = {
		{ "upstream-sample", UPSTREAM_CONFIG_SAMPLE },
		{ "every-key",
		  "container_pipe_size = 65536\ndebug_console = true\ndebug_console_vport = 1026\n"
		  "dev_mode = true\nhotplug_timeout = { secs = 7, nanos = 500000000 }\n"
		  "guest_components_rest_api = \"all\"\nhttps_proxy = \"http://proxy:3128\"\n"
		  "log_level = \"debug\"\nlog_vport = 1025\nno_proxy = \"localhost,127.0.0.1\"\n"
		  "passfd_listener_port = 1027\nserver_addr = \"unix:///run/agent.sock\"\n"
		  "tracing = true\nunified_cgroup_hierarchy = true\n"
		  "cdh_api_timeout = { secs = 50, nanos = 0 }\n"
		  "image_pull_timeout = { secs = 1200, nanos = 0 }\n"
		  "cdi_timeout = { secs = 100, nanos = 0 }\n"
		  "launch_process_timeout = { secs = 6, nanos = 0 }\n"
		  "visible_cdi_devices = false\nsecure_storage_integrity = true\n"
		  "guest_components_procs = \"none\"\n" },
		{ "endpoints-empty", "[endpoints]\nallowed = []\n" },
		{ "endpoints-inline", "endpoints = { allowed = [\"WaitProcessRequest\"] }\n" },
		{ "endpoints-other-key", "[endpoints]\nallowed = []\ndenied = []\n" },
		{ "bad-type", "dev_mode = \"yes\"\n" },
		{ "bad-range", "container_pipe_size = -1\nlog_vport = 4294967296\n" },
		{ "bad-level", "log_level = \"loud\"\n" },
		{ "unknown-key", "debug_consol = true\n" },
		{ "bad-timeout", "hotplug_timeout = { secs = 3, nanos = 1000000000 }\n" },
	};
	fuzz_seed_texts(seeds, sizeof(seeds) / sizeof(seeds[0]));
}
