/* SPDX-License-Identifier: Apache-2.0 */
/* agent.* options: kernel command line, config file, environment, precedence. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "testutil.h"
#include "options.h"

/* ---- helpers ---- */

struct warnings {
	int n;
	char text[16][256]; /* "option|value|why" */
};

static void collect(const char *option, const char *value, const char *why, void *data)
{
	struct warnings *w = data;
	if (w->n < 16)
		snprintf(w->text[w->n], sizeof(w->text[0]), "%s|%s|%s", option, value, why);
	w->n++;
}

static bool warned(const struct warnings *w, const char *option, const char *value)
{
	char prefix[256];
	snprintf(prefix, sizeof(prefix), "%s|%s|", option, value);
	for (int i = 0; i < w->n && i < 16; i++) {
		if (strncmp(w->text[i], prefix, strlen(prefix)) == 0)
			return true;
	}
	return false;
}

static void dump(const struct warnings *w)
{
	for (int i = 0; i < w->n && i < 16; i++)
		printf("# warning: %s\n", w->text[i]);
}

/* Parse a command line into fresh defaults. */
static int parse(struct agent_options *o, struct warnings *w, const char *cmdline)
{
	struct kerr err;
	memset(w, 0, sizeof(*w));
	options_init_defaults(o);
	return options_parse_cmdline(o, cmdline, collect, w, &err);
}

static char tmpdir[64];

static const char *write_file(const char *name, const char *content)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return tu_write_file(path, content, 0644) == 0 ? path : NULL;
}

static void remove_file(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	unlink(path);
}

/* ---- defaults ---- */

TEST(setup)
{
	strcpy(tmpdir, "/tmp/test_options.XXXXXX");
	REQUIRE(mkdtemp(tmpdir) != NULL);
}

TEST(defaults)
{
	struct agent_options o;
	options_init_defaults(&o);
	CHECK(o.config_file == NULL);
	CHECK_EQ_INT(o.container_pipe_size, 0);
	CHECK(!o.debug_console);
	CHECK_EQ_INT(o.debug_console_vport, 0);
	CHECK(!o.dev_mode);
	CHECK_EQ_INT(o.hotplug_timeout_ms, 3000);
	CHECK_EQ_STR(o.guest_components_rest_api, "resource");
	CHECK(o.https_proxy == NULL);
	CHECK_EQ_INT(o.log_level, LOG_LVL_INFO);
	CHECK_EQ_INT(o.log_vport, 0);
	CHECK(o.no_proxy == NULL);
	CHECK_EQ_INT(o.passfd_listener_port, 0);
	CHECK(!o.passfd_direct);
	CHECK_EQ_STR(o.server_addr, "vsock://-1:1024");
	CHECK(!o.tracing);
	CHECK(!o.unified_cgroup_hierarchy);
	CHECK_EQ_INT(o.cdh_api_timeout_ms, 50000);
	CHECK_EQ_INT(o.image_pull_timeout_ms, 1200000);
	CHECK_EQ_STR(o.guest_components_procs, "api-server-rest");
	CHECK(o.secure_storage_integrity);
	CHECK(!o.endpoints_restricted);
	CHECK(options_endpoint_allowed(&o, "CreateContainerRequest"));
	CHECK(!o.allow_host_hooks);
	options_free(&o);
}

/* allow_host_hooks turns on what runs as root outside every container: the
 * config file (in the guest image) may say so, the kernel command line
 * (which the host writes) may not. */
TEST(allow_host_hooks_config_file_only)
{
	struct agent_options o;
	struct warnings w;
	parse(&o, &w, "agent.allow_host_hooks agent.allow_host_hooks=true");
	CHECK_EQ_INT(w.n, 2);
	CHECK(warned(&w, "agent.allow_host_hooks", "true"));
	CHECK(!o.allow_host_hooks);
	options_free(&o);
	const char *path = write_file("hooks.toml", "allow_host_hooks = true\n");
	REQUIRE(path != NULL);
	struct kerr err;
	options_init_defaults(&o);
	CHECK_EQ_INT(options_parse_config_file(&o, path, &err), 0);
	CHECK(o.allow_host_hooks);
	json_t *j = options_to_json(&o);
	CHECK(json_is_true(json_object_get(j, "allow_host_hooks")));
	json_decref(j);
	options_free(&o);
	remove_file("hooks.toml");
}

/* ---- every option with a good value ---- */

TEST(all_options_good_values)
{
	struct agent_options o;
	struct warnings w;
	CHECK_EQ_INT(parse(&o, &w,
			   "BOOT_IMAGE=/vmlinuz root=/dev/vda1 quiet "
			   "agent.config_file=/etc/kata/agent.toml "
			   "agent.container_pipe_size=65536 "
			   "agent.debug_console "
			   "agent.debug_console_vport=1026 "
			   "agent.devmode "
			   "agent.hotplug_timeout=10 "
			   "agent.guest_components_rest_api=all "
			   "agent.https_proxy=http://proxy.example:8080 "
			   "agent.log=debug "
			   "agent.log_vport=1025 "
			   "agent.no_proxy=localhost,10.0.0.0/8 "
			   "agent.passfd_listener_port=1027 "
			   "agent.passfd_direct "
			   "agent.server_addr=unix:///run/agent.sock "
			   "agent.trace=true "
			   "systemd.unified_cgroup_hierarchy=1\n"),
		     0);
	dump(&w);
	CHECK_EQ_INT(w.n, 0);
	CHECK_EQ_STR(o.config_file, "/etc/kata/agent.toml");
	CHECK_EQ_INT(o.container_pipe_size, 65536);
	CHECK(o.debug_console);
	CHECK_EQ_INT(o.debug_console_vport, 1026);
	CHECK(o.dev_mode);
	CHECK_EQ_INT(o.hotplug_timeout_ms, 10000);
	CHECK_EQ_STR(o.guest_components_rest_api, "all");
	CHECK_EQ_STR(o.https_proxy, "http://proxy.example:8080");
	CHECK_EQ_INT(o.log_level, LOG_LVL_DEBUG);
	CHECK_EQ_INT(o.log_vport, 1025);
	CHECK_EQ_STR(o.no_proxy, "localhost,10.0.0.0/8");
	CHECK_EQ_INT(o.passfd_listener_port, 1027);
	CHECK(o.passfd_direct);
	CHECK_EQ_STR(o.server_addr, "unix:///run/agent.sock");
	CHECK(o.tracing);
	CHECK(o.unified_cgroup_hierarchy);
	options_free(&o);
}

TEST(extra_upstream_options)
{
	struct agent_options o;
	struct warnings w;
	parse(&o, &w,
	      "agent.cdh_api_timeout=60 agent.image_pull_timeout=600 agent.cdi_timeout=5 "
	      "agent.launch_process_timeout=9 agent.visible_cdi_devices=true "
	      "agent.secure_storage_integrity=false agent.guest_components_procs=none "
	      "agent.image_registry_auth=file:///root/.docker/config.json "
	      "agent.enable_signature_verification=false agent.image_policy_file=kbs:///x "
	      "agent.secure_image_storage_integrity=true agent.mem_agent_enable=1 "
	      "agent.mem_agent_compact_order=9");
	dump(&w);
	CHECK_EQ_INT(w.n, 0);
	CHECK_EQ_INT(o.cdh_api_timeout_ms, 60000);
	CHECK_EQ_INT(o.image_pull_timeout_ms, 600000);
	CHECK_EQ_INT(o.cdi_timeout_ms, 5000);
	CHECK_EQ_INT(o.launch_process_timeout_ms, 9000);
	CHECK(o.visible_cdi_devices);
	CHECK(!o.secure_storage_integrity);
	CHECK_EQ_STR(o.guest_components_procs, "none");
	options_free(&o);
}

/* agent.mem_agent_*: real options now (memagent_cfg.h), each checked. */
TEST(mem_agent_options)
{
	struct agent_options o;
	struct warnings w;
	parse(&o, &w, "");
	CHECK(!o.mem_agent.enable);
	CHECK_EQ_INT(o.mem_agent.compact.compact_order, 9);
	options_free(&o);
	parse(&o, &w,
	      "agent.mem_agent_memcg_period_secs=30 agent.mem_agent_enable "
	      "agent.mem_agent_memcg_swap=true agent.mem_agent_compact_order=11 "
	      "agent.mem_agent_compact_period_psi_percent_limit=101 "
	      "agent.mem_agent_compact_sec_max=-1 agent.mem_agent_compact_force_times=0 "
	      "agent.mem_agent_memcg_swappiness_max");
	dump(&w);
	/* position does not matter (upstream reads them only after _enable) */
	CHECK(o.mem_agent.enable && o.mem_agent.memcg.swap);
	CHECK_EQ_INT(o.mem_agent.memcg.period_secs, 30);
	CHECK_EQ_INT(o.mem_agent.compact.compact_force_times, 0);
	/* each bad value warned about, its default kept */
	CHECK_EQ_INT(w.n, 4);
	CHECK_EQ_INT(o.mem_agent.compact.compact_order, 9);
	CHECK_EQ_INT(o.mem_agent.compact.period_psi_percent_limit, 1);
	CHECK_EQ_INT(o.mem_agent.compact.compact_sec_max, 300);
	CHECK_EQ_INT(o.mem_agent.memcg.swappiness_max, 50);
	options_free(&o);
}

TEST(log_level_spellings)
{
	static const struct {
		const char *v;
		enum log_level l;
	} cases[] = {
		{ "critical", LOG_LVL_CRITICAL }, { "fatal", LOG_LVL_CRITICAL },
		{ "panic", LOG_LVL_CRITICAL },    { "error", LOG_LVL_ERROR },
		{ "warn", LOG_LVL_WARN },         { "warning", LOG_LVL_WARN },
		{ "info", LOG_LVL_INFO },         { "debug", LOG_LVL_DEBUG },
		{ "trace", LOG_LVL_DEBUG },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct agent_options o;
		struct warnings w;
		char line[64];
		snprintf(line, sizeof(line), "agent.log=%s", cases[i].v);
		parse(&o, &w, line);
		CHECK_EQ_INT(w.n, 0);
		CHECK_EQ_INT(o.log_level, cases[i].l);
		options_free(&o);
	}
}

TEST(rest_api_values)
{
	const char *values[] = { "all", "attestation", "resource" };
	for (size_t i = 0; i < 3; i++) {
		struct agent_options o;
		struct warnings w;
		char line[80];
		snprintf(line, sizeof(line), "agent.guest_components_rest_api=%s", values[i]);
		parse(&o, &w, line);
		CHECK_EQ_INT(w.n, 0);
		CHECK_EQ_STR(o.guest_components_rest_api, values[i]);
		options_free(&o);
	}
}

/* ---- booleans ---- */

TEST(bare_booleans)
{
	struct agent_options o;
	struct warnings w;
	parse(&o, &w,
	      "agent.debug_console agent.devmode agent.trace systemd.unified_cgroup_hierarchy");
	CHECK_EQ_INT(w.n, 0);
	CHECK(o.debug_console);
	CHECK(o.dev_mode);
	CHECK(o.tracing);
	CHECK(o.unified_cgroup_hierarchy);
	options_free(&o);
}

TEST(boolean_spellings)
{
	static const struct {
		const char *v;
		bool b;
	} cases[] = {
		{ "true", true }, { "false", false }, { "1", true },
		{ "0", false },   { "42", true },     { "000", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct agent_options o;
		struct warnings w;
		char line[200];
		snprintf(line, sizeof(line),
			 "agent.debug_console=%s agent.devmode=%s agent.trace=%s "
			 "systemd.unified_cgroup_hierarchy=%s",
			 cases[i].v, cases[i].v, cases[i].v, cases[i].v);
		parse(&o, &w, line);
		CHECK_EQ_INT(w.n, 0);
		CHECK(o.debug_console == cases[i].b);
		CHECK(o.dev_mode == cases[i].b);
		CHECK(o.tracing == cases[i].b);
		CHECK(o.unified_cgroup_hierarchy == cases[i].b);
		options_free(&o);
	}
}

TEST(bad_booleans_warn_and_keep)
{
	struct agent_options o;
	struct warnings w;
	parse(&o, &w,
	      "agent.debug_console=yes agent.trace=True systemd.unified_cgroup_hierarchy=-1 "
	      "agent.devmode=");
	CHECK_EQ_INT(w.n, 4);
	CHECK(warned(&w, "agent.debug_console", "yes"));
	CHECK(warned(&w, "agent.trace", "True"));
	CHECK(warned(&w, "systemd.unified_cgroup_hierarchy", "-1"));
	CHECK(warned(&w, "agent.devmode", ""));
	CHECK(!o.debug_console && !o.tracing && !o.unified_cgroup_hierarchy && !o.dev_mode);
	options_free(&o);
}

/* ---- bad values: warned, default kept ---- */

TEST(bad_values_warn_and_keep_default)
{
	struct agent_options o;
	struct warnings w;
	parse(&o, &w,
	      "agent.container_pipe_size=-1 "
	      "agent.debug_console_vport=abc "
	      "agent.hotplug_timeout=0 "
	      "agent.guest_components_rest_api=none "
	      "agent.https_proxy=not-a-url "
	      "agent.log=verbose "
	      "agent.log_vport=4294967296 "
	      "agent.no_proxy= "
	      "agent.passfd_listener_port=12x "
	      "agent.server_addr= "
	      "agent.config_file= "
	      "agent.cdh_api_timeout=1.5 "
	      "agent.guest_components_procs=all");
	dump(&w);
	CHECK_EQ_INT(w.n, 13);
	CHECK(warned(&w, "agent.container_pipe_size", "-1"));
	CHECK(warned(&w, "agent.debug_console_vport", "abc"));
	CHECK(warned(&w, "agent.hotplug_timeout", "0"));
	CHECK(warned(&w, "agent.guest_components_rest_api", "none"));
	CHECK(warned(&w, "agent.https_proxy", "not-a-url"));
	CHECK(warned(&w, "agent.log", "verbose"));
	CHECK(warned(&w, "agent.log_vport", "4294967296"));
	CHECK(warned(&w, "agent.no_proxy", ""));
	CHECK(warned(&w, "agent.passfd_listener_port", "12x"));
	CHECK(warned(&w, "agent.server_addr", ""));
	CHECK(warned(&w, "agent.config_file", ""));
	CHECK(warned(&w, "agent.cdh_api_timeout", "1.5"));
	CHECK(warned(&w, "agent.guest_components_procs", "all"));

	struct agent_options d;
	options_init_defaults(&d);
	CHECK_EQ_INT(o.container_pipe_size, d.container_pipe_size);
	CHECK_EQ_INT(o.debug_console_vport, d.debug_console_vport);
	CHECK_EQ_INT(o.hotplug_timeout_ms, d.hotplug_timeout_ms);
	CHECK_EQ_STR(o.guest_components_rest_api, d.guest_components_rest_api);
	CHECK(o.https_proxy == NULL);
	CHECK_EQ_INT(o.log_level, d.log_level);
	CHECK_EQ_INT(o.log_vport, d.log_vport);
	CHECK(o.no_proxy == NULL);
	CHECK_EQ_INT(o.passfd_listener_port, d.passfd_listener_port);
	CHECK_EQ_STR(o.server_addr, d.server_addr);
	CHECK(o.config_file == NULL);
	CHECK_EQ_INT(o.cdh_api_timeout_ms, d.cdh_api_timeout_ms);
	CHECK_EQ_STR(o.guest_components_procs, d.guest_components_procs);
	options_free(&d);
	options_free(&o);
}

TEST(warning_reason_is_useful)
{
	struct agent_options o;
	struct warnings w;
	parse(&o, &w, "agent.log_vport=3000000000 agent.log agent.hotplug_timeout=-5");
	CHECK_EQ_INT(w.n, 3);
	CHECK_EQ_STR(w.text[0], "agent.log_vport|3000000000|out of range (at most 2147483647)");
	CHECK_EQ_STR(w.text[1], "agent.log||expects a value (name=value)");
	CHECK_EQ_STR(w.text[2], "agent.hotplug_timeout|-5|expected a non-negative decimal number");
	options_free(&o);
}

TEST(unknown_options)
{
	struct agent_options o;
	struct warnings w;
	/* upstream's own tests: near-misses are not the option */
	parse(&o, &w,
	      "agent.debug_consolex agent.logx=debug foo agent bar agent.=x "
	      "debug_console console=ttyS0 systemd.foo=1");
	CHECK_EQ_INT(w.n, 3);
	CHECK(warned(&w, "agent.debug_consolex", ""));
	CHECK(warned(&w, "agent.logx", "debug"));
	CHECK(warned(&w, "agent.", "x"));
	CHECK_EQ_STR(w.text[0], "agent.debug_consolex||unknown option");
	CHECK(!o.debug_console);
	CHECK_EQ_INT(o.log_level, LOG_LVL_INFO);
	options_free(&o);
}

TEST(last_one_wins_and_values_with_equals)
{
	struct agent_options o;
	struct warnings w;
	parse(&o, &w,
	      "agent.log=debug agent.log=error agent.no_proxy=a=b=c "
	      "agent.https_proxy=http://u:p@h:1/?q=1");
	CHECK_EQ_INT(w.n, 0);
	CHECK_EQ_INT(o.log_level, LOG_LVL_ERROR);
	CHECK_EQ_STR(o.no_proxy, "a=b=c");
	CHECK_EQ_STR(o.https_proxy, "http://u:p@h:1/?q=1");
	options_free(&o);
}

/* ---- quoting, kernel style ---- */

TEST(quoting)
{
	struct agent_options o;
	struct warnings w;
	parse(&o, &w,
	      "  agent.no_proxy=\"localhost, .svc,\tlocal\"   \"agent.log=warn\" "
	      "agent.server_addr=\"unix:///tmp/a b.sock\"\n\t agent.devmode");
	dump(&w);
	CHECK_EQ_INT(w.n, 0);
	CHECK_EQ_STR(o.no_proxy, "localhost, .svc,\tlocal");
	CHECK_EQ_INT(o.log_level, LOG_LVL_WARN);
	CHECK_EQ_STR(o.server_addr, "unix:///tmp/a b.sock");
	CHECK(o.dev_mode);
	options_free(&o);

	/* an unterminated quote runs to the end of the line, as in the kernel */
	parse(&o, &w, "agent.no_proxy=\"a b agent.devmode");
	CHECK_EQ_STR(o.no_proxy, "a b agent.devmode");
	CHECK(!o.dev_mode);
	options_free(&o);

	/* empty and whitespace-only lines */
	CHECK_EQ_INT(parse(&o, &w, ""), 0);
	CHECK_EQ_INT(w.n, 0);
	options_free(&o);
	CHECK_EQ_INT(parse(&o, &w, " \n\t "), 0);
	CHECK_EQ_INT(w.n, 0);
	options_free(&o);
}

/* ---- config file ---- */

TEST(config_file_all_keys)
{
	const char *path = write_file("all.toml",
				      "# every key\n"
				      "debug_console = true\n"
				      "dev_mode = true\n"
				      "log_level = \"debug\"\n"
				      "hotplug_timeout = { secs = 7, nanos = 500000000 }\n"
				      "cdh_api_timeout = 20\n"
				      "debug_console_vport = 1026\n"
				      "log_vport = 1025\n"
				      "container_pipe_size = 4096\n"
				      "server_addr = 'vsock://8:2048'\n"
				      "passfd_listener_port = 1027\n"
				      "passfd_direct = true\n"
				      "unified_cgroup_hierarchy = true\n"
				      "tracing = true\n"
				      "https_proxy = \"http://p:3128\"\n"
				      "no_proxy = \"localhost\"\n"
				      "guest_components_rest_api = \"attestation\"\n"
				      "guest_components_procs = \"confidential-data-hub\"\n"
				      "secure_storage_integrity = false\n"
				      "mem_agent_enable = true\n"
				      "mem_agent_compact_order = 9\n"
				      "policy_file = \"/etc/policy.rego\"\n");
	REQUIRE(path != NULL);
	struct agent_options o;
	struct kerr err;
	options_init_defaults(&o);
	int r = options_parse_config_file(&o, path, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	REQUIRE(r == 0);
	CHECK(o.debug_console && o.dev_mode && o.tracing && o.unified_cgroup_hierarchy);
	CHECK_EQ_INT(o.log_level, LOG_LVL_DEBUG);
	CHECK_EQ_INT(o.hotplug_timeout_ms, 7500);
	CHECK_EQ_INT(o.cdh_api_timeout_ms, 20000);
	CHECK_EQ_INT(o.debug_console_vport, 1026);
	CHECK_EQ_INT(o.log_vport, 1025);
	CHECK_EQ_INT(o.container_pipe_size, 4096);
	CHECK_EQ_STR(o.server_addr, "vsock://8:2048");
	CHECK_EQ_INT(o.passfd_listener_port, 1027);
	CHECK(o.passfd_direct);
	CHECK_EQ_STR(o.https_proxy, "http://p:3128");
	CHECK_EQ_STR(o.no_proxy, "localhost");
	CHECK_EQ_STR(o.guest_components_rest_api, "attestation");
	CHECK_EQ_STR(o.guest_components_procs, "confidential-data-hub");
	CHECK(!o.secure_storage_integrity);
	CHECK_EQ_STR(o.config_file, path);
	CHECK(!o.endpoints_restricted);
	options_free(&o);
	remove_file("all.toml");
}

TEST(config_file_endpoints)
{
	/* upstream's samples/configuration-all-endpoints.toml, shortened */
	const char *path = write_file("ep.toml", "# This is an agent configuration file example.\n"
						 "dev_mode = true\n"
						 "server_addr = 'vsock://8:2048'\n"
						 "\n"
						 "[endpoints]\n"
						 "# All endpoints are allowed\n"
						 "allowed = [\n"
						 "        \"CreateContainerRequest\",\n"
						 "        \"PullImageRequest\",\n"
						 "        \"ReadStreamRequest\",\n"
						 "]\n");
	REQUIRE(path != NULL);
	struct agent_options o;
	struct kerr err;
	options_init_defaults(&o);
	REQUIRE(options_parse_config_file(&o, path, &err) == 0);
	CHECK(o.endpoints_restricted);
	CHECK_EQ_INT(o.n_allowed_endpoints, 3);
	CHECK(options_endpoint_allowed(&o, "CreateContainerRequest"));
	CHECK(options_endpoint_allowed(&o, "ReadStreamRequest"));
	CHECK(!options_endpoint_allowed(&o, "ExecProcessRequest"));
	CHECK(options_endpoint_allowed(&o, "grpc.CreateContainerRequest"));
	CHECK(!options_endpoint_allowed(&o, "grpc.ExecProcessRequest"));
	CHECK(!options_endpoint_allowed(&o, "CreateContainer"));
	CHECK(!options_endpoint_allowed(&o, "createcontainerrequest"));
	options_free(&o);

	/* an empty list allows nothing */
	path = write_file("ep.toml", "[endpoints]\nallowed = []\n");
	options_init_defaults(&o);
	REQUIRE(options_parse_config_file(&o, path, &err) == 0);
	CHECK(o.endpoints_restricted);
	CHECK(!options_endpoint_allowed(&o, "CreateContainerRequest"));
	options_free(&o);

	/* inline form, as serde also accepts */
	path = write_file("ep.toml", "endpoints = { allowed = [\"WaitProcessRequest\"] }\n");
	options_init_defaults(&o);
	REQUIRE(options_parse_config_file(&o, path, &err) == 0);
	CHECK(options_endpoint_allowed(&o, "WaitProcessRequest"));
	CHECK(!options_endpoint_allowed(&o, "CreateContainerRequest"));
	options_free(&o);
	remove_file("ep.toml");
}

TEST(vsock_peer_cids)
{
	struct agent_options o;
	struct warnings w = { 0 };
	char buf[64];
	options_init_defaults(&o);
	/* the host only, unless configured */
	CHECK(options_peer_cid_allowed(&o, 2));
	CHECK(!options_peer_cid_allowed(&o, 1));
	CHECK(!options_peer_cid_allowed(&o, 3));
	options_free(&o);
	REQUIRE(parse(&o, &w, "agent.vsock_peer_cids=2,1") == 0);
	CHECK(options_peer_cid_allowed(&o, 1) && options_peer_cid_allowed(&o, 2));
	CHECK(!options_peer_cid_allowed(&o, 3));
	options_format_peer_cids(&o, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "2,1");
	options_free(&o);
	REQUIRE(parse(&o, &w, "agent.vsock_peer_cids=any") == 0);
	CHECK(options_peer_cid_allowed(&o, 12345));
	options_format_peer_cids(&o, buf, sizeof(buf));
	CHECK_EQ_STR(buf, "any");
	/* bad values warn and keep what was there */
	options_free(&o);
	REQUIRE(parse(&o, &w,
		      "agent.vsock_peer_cids=3 agent.vsock_peer_cids=1,,2 "
		      "agent.vsock_peer_cids=-1 agent.vsock_peer_cids=4294967295 "
		      "agent.vsock_peer_cids=x agent.vsock_peer_cids") == 0);
	CHECK(warned(&w, "agent.vsock_peer_cids", "1,,2"));
	CHECK(warned(&w, "agent.vsock_peer_cids", "-1"));
	CHECK(warned(&w, "agent.vsock_peer_cids", "4294967295"));
	CHECK(warned(&w, "agent.vsock_peer_cids", "x"));
	CHECK(warned(&w, "agent.vsock_peer_cids", ""));
	CHECK(options_peer_cid_allowed(&o, 3) && !options_peer_cid_allowed(&o, 2));
	options_free(&o);

	const char *path = write_file("cid.toml", "vsock_peer_cids = \"1,2\"\n");
	REQUIRE(path != NULL);
	struct kerr err;
	options_init_defaults(&o);
	REQUIRE(options_parse_config_file(&o, path, &err) == 0);
	CHECK(options_peer_cid_allowed(&o, 1) && options_peer_cid_allowed(&o, 2));
	json_t *j = options_to_json(&o);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "vsock_peer_cids")), "1,2");
	json_decref(j);
	options_free(&o);
	remove_file("cid.toml");
}

/* The config file must fail with exactly "config file: <path>:<msg>". */
static void check_config_error(int *tap_failed, const char *content, const char *expected)
{
	const char *path = write_file("bad.toml", content);
	if (!path) {
		*tap_failed = 1;
		return;
	}
	char want[512];
	snprintf(want, sizeof(want), "config file: %s:%s", path, expected);
	struct agent_options o;
	struct kerr err;
	kerr_clear(&err);
	options_init_defaults(&o);
	CHECK(options_parse_config_file(&o, path, &err) < 0);
	CHECK_EQ_STR(err.msg, want);
	options_free(&o);
	remove_file("bad.toml");
}

TEST(config_file_errors)
{
	check_config_error(tap_failed, "vsock_peer_cids = \"2;1\"\n",
			   "1: vsock_peer_cids: invalid value \"2;1\" (expected a non-negative "
			   "decimal number)");
	check_config_error(tap_failed, "dev_mode = true\n\n\nlog_level \"debug\"\n",
			   "4: expected '=' after key \"log_level\"");
	check_config_error(tap_failed, "dev_mode = \"yes\"\n",
			   "1: dev_mode: expected a boolean, found string");
	check_config_error(tap_failed, "\nlog_level = \"loud\"\n",
			   "2: log_level: invalid log level \"loud\" (expected critical, fatal, "
			   "panic, error, warn, warning, info, debug or trace)");
	check_config_error(tap_failed, "log_vport = -1\n",
			   "1: log_vport: -1 is out of range (0 to 2147483647)");
	check_config_error(tap_failed, "container_pipe_size = \"4096\"\n",
			   "1: container_pipe_size: expected an integer, found string");
	check_config_error(tap_failed, "hotplug_timeout = { secs = 3 }\n",
			   "1: hotplug_timeout: missing field \"nanos\"");
	check_config_error(tap_failed, "hotplug_timeout = 0\n",
			   "1: hotplug_timeout: must be a positive number of seconds");
	check_config_error(tap_failed, "hotplug_timeout = \"3s\"\n",
			   "1: hotplug_timeout: expected a number of seconds or a table "
			   "{ secs = N, nanos = N }, found string");
	check_config_error(tap_failed, "guest_components_rest_api = \"none\"\n",
			   "1: guest_components_rest_api: invalid value \"none\" (expected one "
			   "of resource, attestation, all)");
	check_config_error(tap_failed, "server_addr = \"\"\n", "1: server_addr: empty value");
	check_config_error(tap_failed, "https_proxy = \"proxy\"\n",
			   "1: https_proxy: invalid value \"proxy\" (expected a URL "
			   "(scheme://host:port))");
	check_config_error(tap_failed, "[endpoints]\nallowed = [\"A\", 3]\n",
			   "2: endpoints.allowed: expected a string, found integer");
	check_config_error(tap_failed, "[endpoints]\ndenied = []\n",
			   "1: endpoints: missing key \"allowed\"");
	check_config_error(tap_failed, "[endpoints]\n", "1: endpoints: missing key \"allowed\"");
	check_config_error(tap_failed, "a = 1.0\n", "1: floats are not supported (\"1.0\")");
	check_config_error(tap_failed, "mem_agent_enable = 1\n",
			   "1: mem_agent_enable: expected a boolean, found integer");
	check_config_error(tap_failed, "mem_agent_compact_order = true\n",
			   "1: mem_agent_compact_order: expected an integer, found boolean");
	check_config_error(tap_failed, "mem_agent_compact_order = 11\n",
			   "1: mem_agent_compact_order: out of range (0 to 10)");
	check_config_error(tap_failed, "mem_agent_memcg_period_secs = -1\n",
			   "1: mem_agent_memcg_period_secs: out of range (1 to 31622400)");
	check_config_error(tap_failed, "mem_agent_compact_psi_percent_limit = \"5\"\n",
			   "1: mem_agent_compact_psi_percent_limit: expected a boolean or an "
			   "integer, found string");
}

/* Upstream's serde ignores keys it does not know: the file is used, each
 * such key reported; a malformed file is still refused. */
TEST(config_file_unknown_keys_ignored)
{
	const char *path = write_file("unknown.toml", "debug_console = true\n"
						      "debug_consol = true\n"
						      "future_option = \"x\"\n"
						      "[endpoints]\n"
						      "allowed = [\"CreateContainerRequest\"]\n"
						      "denied = []\n");
	REQUIRE(path != NULL);
	struct agent_options o;
	struct kerr err;
	struct warnings w;
	memset(&w, 0, sizeof(w));
	kerr_clear(&err);
	options_init_defaults(&o);
	int r = options_parse_config_file_warn(&o, path, collect, &w, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	dump(&w);
	CHECK_EQ_INT(r, 0);
	CHECK(o.debug_console);
	CHECK(o.endpoints_restricted);
	CHECK(options_endpoint_allowed(&o, "CreateContainerRequest"));
	CHECK(!options_endpoint_allowed(&o, "ExecProcessRequest"));
	CHECK_EQ_INT(w.n, 3);
	CHECK(warned(&w, "debug_consol", ""));
	CHECK(warned(&w, "future_option", ""));
	CHECK(warned(&w, "endpoints.denied", ""));
	CHECK(w.n >= 1 && strstr(w.text[0], "unknown key in the config file") != NULL &&
	      strstr(w.text[0], ":2") != NULL);
	options_free(&o);

	/* without a callback: ignored silently, still used */
	options_init_defaults(&o);
	CHECK_EQ_INT(options_parse_config_file(&o, path, &err), 0);
	CHECK(o.debug_console);
	options_free(&o);

	/* through options_load, as the parent reads it */
	memset(&w, 0, sizeof(w));
	CHECK_EQ_INT(options_load(&o, NULL, path, NULL, collect, &w, &err), 0);
	CHECK(o.debug_console && warned(&w, "debug_consol", ""));
	options_free(&o);
	remove_file("unknown.toml");

	/* malformed TOML with an unknown key: refused */
	check_config_error(tap_failed, "debug_consol = \n", "1: expected a value");
}

TEST(config_file_missing)
{
	struct agent_options o;
	struct kerr err;
	char path[256];
	snprintf(path, sizeof(path), "%s/does-not-exist.toml", tmpdir);
	options_init_defaults(&o);
	CHECK_EQ_INT(options_parse_config_file(&o, path, &err), -ENOENT);
	char want[512];
	snprintf(want, sizeof(want), "config file: open %s: No such file or directory", path);
	CHECK_EQ_STR(err.msg, want);
	options_free(&o);
}

/* ---- options_load: precedence ---- */

static int load(struct agent_options *o, struct warnings *w, const char *cmdline,
		const char *config_override, char *const *envp, struct kerr *err)
{
	const char *cl = write_file("cmdline", cmdline);
	if (!cl)
		return -EIO;
	char clpath[256];
	snprintf(clpath, sizeof(clpath), "%s", cl);
	memset(w, 0, sizeof(*w));
	kerr_clear(err);
	int r = options_load(o, clpath, config_override, envp, collect, w, err);
	remove_file("cmdline");
	return r;
}

TEST(load_cmdline_only)
{
	struct agent_options o;
	struct warnings w;
	struct kerr err;
	REQUIRE(load(&o, &w, "quiet agent.log=debug agent.debug_console\n", NULL, NULL, &err) == 0);
	CHECK_EQ_INT(o.log_level, LOG_LVL_DEBUG);
	CHECK(o.debug_console);
	CHECK(!o.endpoints_restricted);
	options_free(&o);
}

TEST(load_config_file_replaces_cmdline)
{
	char cfg[256];
	snprintf(cfg, sizeof(cfg), "%s",
		 write_file("agent.toml", "dev_mode = true\n"
					  "log_level = \"warn\"\n"));
	char cmdline[512];
	/* options before and after agent.config_file are all ignored */
	snprintf(cmdline, sizeof(cmdline),
		 "agent.debug_console agent.log=debug agent.config_file=%s agent.trace "
		 "agent.hotplug_timeout=9 agent.bogus=1",
		 cfg);
	struct agent_options o;
	struct warnings w;
	struct kerr err;
	int r = load(&o, &w, cmdline, NULL, NULL, &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	REQUIRE(r == 0);
	CHECK_EQ_INT(w.n, 0);
	CHECK(o.dev_mode);
	CHECK(!o.debug_console);
	CHECK(!o.tracing);
	CHECK_EQ_INT(o.log_level, LOG_LVL_WARN);
	CHECK_EQ_INT(o.hotplug_timeout_ms, 3000);
	CHECK_EQ_STR(o.config_file, cfg);
	options_free(&o);
	remove_file("agent.toml");
}

TEST(load_override_flag_beats_cmdline)
{
	char cfg[256];
	snprintf(cfg, sizeof(cfg), "%s", write_file("override.toml", "tracing = true\n"));
	char other[256];
	snprintf(other, sizeof(other), "%s/other.toml", tmpdir);
	char cmdline[512];
	snprintf(cmdline, sizeof(cmdline), "agent.config_file=%s agent.devmode", other);
	struct agent_options o;
	struct warnings w;
	struct kerr err;
	/* --config wins over everything on the kernel command line */
	REQUIRE(load(&o, &w, cmdline, cfg, NULL, &err) == 0);
	CHECK(o.tracing);
	CHECK(!o.dev_mode);
	CHECK_EQ_STR(o.config_file, cfg);
	options_free(&o);
	remove_file("override.toml");
}

TEST(load_config_errors_refuse_to_start)
{
	char missing[256];
	snprintf(missing, sizeof(missing), "%s/missing.toml", tmpdir);
	char cmdline[512];
	snprintf(cmdline, sizeof(cmdline), "agent.config_file=%s", missing);
	struct agent_options o;
	struct warnings w;
	struct kerr err;
	CHECK_EQ_INT(load(&o, &w, cmdline, NULL, NULL, &err), -ENOENT);
	CHECK(strstr(err.msg, "missing.toml: No such file or directory") != NULL);
	/* the struct is left with defaults, safe to free */
	CHECK_EQ_STR(o.server_addr, AGENT_DEFAULT_SERVER_ADDR);
	options_free(&o);

	char bad[256];
	snprintf(bad, sizeof(bad), "%s", write_file("bad.toml", "dev_mode = true\nx = 1 1\n"));
	snprintf(cmdline, sizeof(cmdline), "agent.config_file=%s", bad);
	CHECK_EQ_INT(load(&o, &w, cmdline, NULL, NULL, &err), -EINVAL);
	char want[512];
	snprintf(want, sizeof(want), "config file: %s:2: ", bad);
	CHECK(strncmp(err.msg, want, strlen(want)) == 0);
	printf("# %s\n", err.msg);
	options_free(&o);
	remove_file("bad.toml");

	/* an unreadable command line is an error too */
	CHECK(options_load(&o, "/nonexistent/cmdline", NULL, NULL, collect, &w, &err) == -ENOENT);
	options_free(&o);
}

TEST(load_env_overrides)
{
	char *env[] = {
		"PATH=/bin",
		"KATA_AGENT_SERVER_ADDR=unix:///tmp/agent.sock",
		"KATA_AGENT_LOG_LEVEL=trace",
		"KATA_AGENT_TRACING=1",
		"KATA_AGENT_SERVER_ADDR=ignored-second",
		NULL,
	};
	struct agent_options o;
	struct warnings w;
	struct kerr err;
	REQUIRE(load(&o, &w, "agent.server_addr=vsock://-1:2048 agent.log=error agent.trace=false",
		     NULL, env, &err) == 0);
	CHECK_EQ_STR(o.server_addr, "unix:///tmp/agent.sock");
	CHECK_EQ_INT(o.log_level, LOG_LVL_DEBUG);
	CHECK(o.tracing);
	options_free(&o);

	/* also on top of a config file */
	char cfg[256];
	snprintf(cfg, sizeof(cfg), "%s",
		 write_file("env.toml", "server_addr = 'vsock://8:2048'\nlog_level = 'error'\n"));
	char cmdline[512];
	snprintf(cmdline, sizeof(cmdline), "agent.config_file=%s", cfg);
	REQUIRE(load(&o, &w, cmdline, NULL, env, &err) == 0);
	CHECK_EQ_STR(o.server_addr, "unix:///tmp/agent.sock");
	CHECK_EQ_INT(o.log_level, LOG_LVL_DEBUG);
	options_free(&o);
	remove_file("env.toml");

	/* malformed environment values warn and change nothing */
	char *bad_env[] = { "KATA_AGENT_LOG_LEVEL=loud", "KATA_AGENT_TRACING=maybe",
			    "KATA_AGENT_SERVER_ADDR=", "KATA_AGENT_POLICY_FILE=/p\xff.rego", NULL };
	REQUIRE(load(&o, &w, "agent.log=warn agent.trace", NULL, bad_env, &err) == 0);
	CHECK_EQ_INT(w.n, 4);
	CHECK(warned(&w, "KATA_AGENT_LOG_LEVEL", "loud"));
	CHECK(warned(&w, "KATA_AGENT_TRACING", "maybe"));
	CHECK(warned(&w, "KATA_AGENT_SERVER_ADDR", ""));
	CHECK(warned(&w, "KATA_AGENT_POLICY_FILE", "/p\xff.rego"));
	CHECK_EQ_INT(o.log_level, LOG_LVL_WARN);
	CHECK(o.tracing);
	CHECK_EQ_STR(o.server_addr, AGENT_DEFAULT_SERVER_ADDR);
	/* the announce line is still JSON (a non-UTF-8 policy path made
	 * options_to_json fail: fuzz_cmdline) */
	json_t *j = options_to_json(&o);
	CHECK(j != NULL);
	json_decref(j);
	options_free(&o);
}

/* ---- options_to_json ---- */

TEST(to_json)
{
	struct agent_options o;
	struct warnings w;
	parse(&o, &w, "agent.debug_console agent.log=debug agent.hotplug_timeout=10");
	json_t *j = options_to_json(&o);
	REQUIRE(j != NULL);
	CHECK(json_is_true(json_object_get(j, "debug_console")));
	CHECK(json_is_false(json_object_get(j, "dev_mode")));
	CHECK_EQ_STR(json_string_value(json_object_get(j, "log_level")), "debug");
	CHECK_EQ_STR(json_string_value(json_object_get(j, "hotplug_timeout")), "10s");
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "debug_console_vport")), 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "container_pipe_size")), 0);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "server_addr")), "vsock://-1:1024");
	CHECK_EQ_STR(json_string_value(json_object_get(j, "guest_components_rest_api")),
		     "resource");
	CHECK_EQ_STR(json_string_value(json_object_get(j, "https_proxy")), "");
	CHECK(json_is_false(json_object_get(j, "unified_cgroup_hierarchy")));
	CHECK(json_is_false(json_object_get(j, "tracing")));
	json_t *ep = json_object_get(j, "endpoints");
	CHECK(json_is_true(json_object_get(ep, "all_allowed")));
	CHECK_EQ_INT(json_array_size(json_object_get(ep, "allowed")), 0);
	/* every one of the README's options is present */
	const char *keys[] = { "config_file",
			       "container_pipe_size",
			       "debug_console",
			       "debug_console_vport",
			       "dev_mode",
			       "hotplug_timeout",
			       "guest_components_rest_api",
			       "https_proxy",
			       "log_level",
			       "log_vport",
			       "no_proxy",
			       "passfd_listener_port",
			       "server_addr",
			       "tracing",
			       "unified_cgroup_hierarchy" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!json_object_get(j, keys[i]))
			printf("# missing %s\n", keys[i]);
		CHECK(json_object_get(j, keys[i]) != NULL);
	}
	json_decref(j);
	options_free(&o);

	/* sub-second durations and a restricted endpoint list */
	const char *path = write_file("json.toml",
				      "hotplug_timeout = { secs = 1, nanos = 500000000 }\n"
				      "[endpoints]\nallowed = [\"CreateContainerRequest\"]\n");
	struct kerr err;
	options_init_defaults(&o);
	REQUIRE(options_parse_config_file(&o, path, &err) == 0);
	j = options_to_json(&o);
	REQUIRE(j != NULL);
	CHECK_EQ_STR(json_string_value(json_object_get(j, "hotplug_timeout")), "1.5s");
	ep = json_object_get(j, "endpoints");
	CHECK(json_is_false(json_object_get(ep, "all_allowed")));
	CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(ep, "allowed"), 0)),
		     "CreateContainerRequest");
	json_decref(j);
	options_free(&o);
	remove_file("json.toml");
}

TEST(teardown)
{
	CHECK_EQ_INT(rmdir(tmpdir), 0);
}

int main(void)
{
	return tap_run();
}
