/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_gc_plan.c - the guest components' launch plan
 * (agentd/parent/guest_components.c gc_plan) against upstream's
 * builtin_coco_plan (src/agent/src/main.rs, kata-containers 3.32.0 and
 * main): which components each agent.guest_components_procs value launches
 * and in which order, their exact argv, environment additions and the
 * sockets waited for, with and without initdata and config files.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "../tap.h"
#include "guest_components.h"
#include "options.h"

#define AA_SOCK_URI "unix:///run/confidential-containers/attestation-agent/attestation-agent.sock"
#define IDIR "/run/confidential-containers/initdata/"

static bool none_exists(const char *path)
{
	return false;
}

static bool both_exist(const char *path)
{
	return strcmp(path, IDIR "aa.toml") == 0 || strcmp(path, IDIR "cdh.toml") == 0;
}

static bool only_cdh_exists(const char *path)
{
	return strcmp(path, IDIR "cdh.toml") == 0;
}

/* argv joined with spaces */
static const char *joined(const struct gc_spec *s)
{
	static char buf[1024];
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; s->argv[i]; i++)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s", i ? " " : "",
					 s->argv[i]);
	return buf;
}

static size_t plan_for(const char *procs, const char *rest_api, bool initdata, gc_exists_fn exists,
		       struct gc_spec plan[GC_MAX])
{
	struct agent_options o;
	options_init_defaults(&o);
	if (procs)
		o.guest_components_procs = procs;
	if (rest_api)
		o.guest_components_rest_api = rest_api;
	size_t n = gc_plan(&o, initdata, exists, plan);
	options_free(&o);
	return n;
}

TEST(default_procs_is_api_server_rest_and_launches_all_three_in_order)
{
	struct gc_spec p[GC_MAX];
	CHECK_EQ_INT(plan_for(NULL, NULL, false, none_exists, p), 3);
	CHECK_EQ_STR(p[0].id, "attestation-agent");
	CHECK_EQ_STR(p[1].id, "confidential-data-hub");
	CHECK_EQ_STR(p[2].id, "api-server-rest");
	CHECK_EQ_STR(joined(&p[0]),
		     "/usr/local/bin/attestation-agent --attestation_sock " AA_SOCK_URI);
	CHECK_EQ_STR(joined(&p[1]), "/usr/local/bin/confidential-data-hub");
	/* the default feature set, as upstream's GuestComponentsFeatures */
	CHECK_EQ_STR(joined(&p[2]), "/usr/local/bin/api-server-rest --features resource");
}

TEST(each_level_implies_the_ones_before)
{
	struct gc_spec p[GC_MAX];
	CHECK_EQ_INT(plan_for("none", NULL, true, both_exist, p), 0);
	CHECK_EQ_INT(plan_for("attestation-agent", NULL, true, both_exist, p), 1);
	CHECK_EQ_STR(p[0].id, "attestation-agent");
	CHECK_EQ_INT(plan_for("confidential-data-hub", NULL, true, both_exist, p), 2);
	CHECK_EQ_STR(p[0].id, "attestation-agent");
	CHECK_EQ_STR(p[1].id, "confidential-data-hub");
	CHECK_EQ_INT(plan_for("api-server-rest", NULL, true, both_exist, p), 3);
	CHECK_EQ_STR(p[2].id, "api-server-rest");
}

TEST(initdata_adds_initdata_toml_and_the_configs_that_exist)
{
	struct gc_spec p[GC_MAX];
	CHECK_EQ_INT(plan_for("confidential-data-hub", NULL, true, both_exist, p), 2);
	CHECK_EQ_STR(joined(&p[0]),
		     "/usr/local/bin/attestation-agent --attestation_sock " AA_SOCK_URI
		     " --initdata-toml " IDIR "initdata.toml -c " IDIR "aa.toml");
	CHECK_EQ_STR(joined(&p[1]), "/usr/local/bin/confidential-data-hub -c " IDIR "cdh.toml");
	/* -c only where the file is (upstream launch_process), whatever initdata says */
	CHECK_EQ_INT(plan_for("confidential-data-hub", NULL, true, only_cdh_exists, p), 2);
	CHECK_EQ_STR(joined(&p[0]),
		     "/usr/local/bin/attestation-agent --attestation_sock " AA_SOCK_URI
		     " --initdata-toml " IDIR "initdata.toml");
	CHECK_EQ_STR(joined(&p[1]), "/usr/local/bin/confidential-data-hub -c " IDIR "cdh.toml");
	/* no initdata: no --initdata-toml, even with config files there */
	CHECK_EQ_INT(plan_for("attestation-agent", NULL, false, both_exist, p), 1);
	CHECK_EQ_STR(joined(&p[0]),
		     "/usr/local/bin/attestation-agent --attestation_sock " AA_SOCK_URI " -c " IDIR
		     "aa.toml");
}

TEST(environment_sockets_and_features)
{
	struct gc_spec p[GC_MAX];
	CHECK_EQ_INT(plan_for("api-server-rest", "all", false, none_exists, p), 3);
	CHECK(p[0].env == NULL);
	CHECK_EQ_STR(p[1].env, "OCICRYPT_KEYPROVIDER_CONFIG=/etc/ocicrypt_config.json");
	CHECK(p[2].env == NULL);
	CHECK_EQ_STR(p[0].socket,
		     "/run/confidential-containers/attestation-agent/attestation-agent.sock");
	CHECK_EQ_STR(p[1].socket, "/run/confidential-containers/cdh.sock");
	CHECK(p[2].socket == NULL); /* upstream does not wait for api-server-rest */
	CHECK_EQ_STR(joined(&p[2]), "/usr/local/bin/api-server-rest --features all");
	CHECK_EQ_INT(plan_for("api-server-rest", "attestation", false, none_exists, p), 3);
	CHECK_EQ_STR(joined(&p[2]), "/usr/local/bin/api-server-rest --features attestation");
	for (int i = 0; i < 3; i++)
		CHECK_EQ_STR(p[i].argv[0], p[i].path);
}

int main(void)
{
	return tap_run();
}
