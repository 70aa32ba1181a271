/* SPDX-License-Identifier: Apache-2.0 */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "memagent_cfg.h"
#include "toml.h"
#include "utf8.h"

#define DEFAULT_CDH_API_TIMEOUT_S 50
#define DEFAULT_IMAGE_PULL_TIMEOUT_S 1200
#define DEFAULT_CDI_TIMEOUT_S 100
#define DEFAULT_LAUNCH_PROCESS_TIMEOUT_S 6
/* Far above any real kernel command line (x86 allows 2 KiB, some arches 4). */
#define CMDLINE_MAX (64 * 1024)

static const char *const rest_api_values[] = { "resource", "attestation", "all", NULL };
static const char *const procs_values[] = { "api-server-rest", "none", "attestation-agent",
					    "confidential-data-hub", NULL };

enum opt_kind {
	OPT_BOOL,     /* bool */
	OPT_STRING,   /* char *, non-empty */
	OPT_URL,      /* char *, scheme:rest */
	OPT_INT,      /* uint32_t, within [min, max] */
	OPT_TIMEOUT,  /* uint64_t ms; whole seconds > 0 on the command line */
	OPT_LOGLEVEL, /* enum log_level */
	OPT_ENUM,     /* const char * into choices */
	OPT_PATH,     /* char *, the config file; handled by options_load */
	OPT_CIDS,     /* vsock_peer_cids: "any" or "N[,N...]", a string in the file too */
	/* Upstream options for features we do not implement: recognised so
	 * they are not reported as unknown; the type is checked in the file. */
	OPT_IGNORED_BOOL,
	OPT_IGNORED_INT,
	OPT_IGNORED_STRING,
	OPT_MEMAGENT, /* struct memagent_cfg: memagent_cfg.h checks the value */
};

struct opt_def {
	const char *cmdline;  /* name on the kernel command line, NULL if file only */
	const char *file_key; /* key in the config file, NULL if command line only */
	enum opt_kind kind;
	size_t off;
	int64_t min, max;
	const char *const *choices;
};

#define F(field) offsetof(struct agent_options, field)
#define MA(n)                                                                     \
	{                                                                         \
		"agent.mem_agent_" n, "mem_agent_" n, OPT_MEMAGENT, 0, 0, 0, NULL \
	}

static const struct opt_def opt_defs[] = {
	{ "agent.config_file", NULL, OPT_PATH, F(config_file), 0, 0, NULL },
	{ "agent.container_pipe_size", "container_pipe_size", OPT_INT, F(container_pipe_size), 0,
	  INT32_MAX, NULL },
	{ "agent.debug_console", "debug_console", OPT_BOOL, F(debug_console), 0, 0, NULL },
	{ "agent.debug_console_vport", "debug_console_vport", OPT_INT, F(debug_console_vport), 0,
	  INT32_MAX, NULL },
	{ "agent.devmode", "dev_mode", OPT_BOOL, F(dev_mode), 0, 0, NULL },
	{ "agent.hotplug_timeout", "hotplug_timeout", OPT_TIMEOUT, F(hotplug_timeout_ms), 0, 0,
	  NULL },
	{ "agent.guest_components_rest_api", "guest_components_rest_api", OPT_ENUM,
	  F(guest_components_rest_api), 0, 0, rest_api_values },
	{ "agent.https_proxy", "https_proxy", OPT_URL, F(https_proxy), 0, 0, NULL },
	{ "agent.log", "log_level", OPT_LOGLEVEL, F(log_level), 0, 0, NULL },
	{ "agent.log_vport", "log_vport", OPT_INT, F(log_vport), 0, INT32_MAX, NULL },
	{ "agent.no_proxy", "no_proxy", OPT_STRING, F(no_proxy), 0, 0, NULL },
	{ "agent.passfd_listener_port", "passfd_listener_port", OPT_INT, F(passfd_listener_port), 0,
	  INT32_MAX, NULL },
	{ "agent.server_addr", "server_addr", OPT_STRING, F(server_addr), 0, 0, NULL },
	{ "agent.trace", "tracing", OPT_BOOL, F(tracing), 0, 0, NULL },
	{ "systemd.unified_cgroup_hierarchy", "unified_cgroup_hierarchy", OPT_BOOL,
	  F(unified_cgroup_hierarchy), 0, 0, NULL },
	/* Ours, not upstream's: a process's stdout/stderr are the host's
	 * passfd streams themselves instead of pipes (doc/options.md). */
	{ "agent.passfd_direct", "passfd_direct", OPT_BOOL, F(passfd_direct), 0, 0, NULL },
	/* Ours, not upstream's: which vsock peers may connect (doc/options.md). */
	{ "agent.vsock_peer_cids", "vsock_peer_cids", OPT_CIDS, 0, 0, 0, NULL },

	{ "agent.cdh_api_timeout", "cdh_api_timeout", OPT_TIMEOUT, F(cdh_api_timeout_ms), 0, 0,
	  NULL },
	{ "agent.image_pull_timeout", "image_pull_timeout", OPT_TIMEOUT, F(image_pull_timeout_ms),
	  0, 0, NULL },
	{ "agent.cdi_timeout", "cdi_timeout", OPT_TIMEOUT, F(cdi_timeout_ms), 0, 0, NULL },
	{ "agent.launch_process_timeout", "launch_process_timeout", OPT_TIMEOUT,
	  F(launch_process_timeout_ms), 0, 0, NULL },
	{ "agent.visible_cdi_devices", "visible_cdi_devices", OPT_BOOL, F(visible_cdi_devices), 0,
	  0, NULL },
	{ "agent.secure_storage_integrity", "secure_storage_integrity", OPT_BOOL,
	  F(secure_storage_integrity), 0, 0, NULL },
	{ "agent.guest_components_procs", "guest_components_procs", OPT_ENUM,
	  F(guest_components_procs), 0, 0, procs_values },

	/* Ours, config file only: the host must not be able to turn it on. */
	{ NULL, "allow_host_hooks", OPT_BOOL, F(allow_host_hooks), 0, 0, NULL },

	/* In upstream's README table, parsed by guest components nowadays. */
	{ "agent.image_registry_auth", NULL, OPT_IGNORED_STRING, 0, 0, 0, NULL },
	{ "agent.enable_signature_verification", NULL, OPT_IGNORED_STRING, 0, 0, 0, NULL },
	{ "agent.image_policy_file", NULL, OPT_IGNORED_STRING, 0, 0, 0, NULL },
	{ "agent.secure_image_storage_integrity", NULL, OPT_IGNORED_BOOL, 0, 0, 0, NULL },
	/* Upstream's agent-policy build: the default policy file (config file
	 * and KATA_AGENT_POLICY_FILE only, as upstream; doc/policy.md). */
	{ NULL, "policy_file", OPT_STRING, F(policy_file), 0, 0, NULL },
	/* Upstream's memory agent (mem-agent crate): names, ranges and
	 * defaults in memagent_cfg.h; the executor runs it (doc/options.md). */
	MA("enable"),
	MA("memcg_disable"),
	MA("memcg_swap"),
	MA("memcg_swappiness_max"),
	MA("memcg_period_secs"),
	MA("memcg_period_psi_percent_limit"),
	MA("memcg_eviction_psi_percent_limit"),
	MA("memcg_eviction_run_aging_count_min"),
	MA("compact_disable"),
	MA("compact_period_secs"),
	MA("compact_period_psi_percent_limit"),
	MA("compact_psi_percent_limit"),
	MA("compact_sec_max"),
	MA("compact_order"),
	MA("compact_threshold"),
	MA("compact_force_times"),
};

#define N_OPT_DEFS (sizeof(opt_defs) / sizeof(opt_defs[0]))

#define FIELD(o, def, type) ((type *)((char *)(o) + (def)->off))

void options_init_defaults(struct agent_options *o)
{
	memset(o, 0, sizeof(*o));
	o->hotplug_timeout_ms = (uint64_t)AGENT_DEFAULT_HOTPLUG_TIMEOUT_S * 1000;
	o->debug_console_vport = AGENT_DEFAULT_DEBUG_CONSOLE_VPORT;
	o->log_vport = AGENT_DEFAULT_LOG_VPORT;
	o->log_level = LOG_LVL_INFO;
	o->server_addr = strdup(AGENT_DEFAULT_SERVER_ADDR);
	o->guest_components_rest_api = rest_api_values[0];
	o->guest_components_procs = procs_values[0];
	o->cdh_api_timeout_ms = (uint64_t)DEFAULT_CDH_API_TIMEOUT_S * 1000;
	o->image_pull_timeout_ms = (uint64_t)DEFAULT_IMAGE_PULL_TIMEOUT_S * 1000;
	o->cdi_timeout_ms = (uint64_t)DEFAULT_CDI_TIMEOUT_S * 1000;
	o->launch_process_timeout_ms = (uint64_t)DEFAULT_LAUNCH_PROCESS_TIMEOUT_S * 1000;
	o->secure_storage_integrity = true;
	o->vsock_peer_cids[0] = 2; /* VMADDR_CID_HOST */
	o->n_vsock_peer_cids = 1;
	memagent_cfg_defaults(&o->mem_agent);
}

static void free_endpoints(struct agent_options *o)
{
	for (size_t i = 0; i < o->n_allowed_endpoints; i++)
		free(o->allowed_endpoints[i]);
	free(o->allowed_endpoints);
	o->allowed_endpoints = NULL;
	o->n_allowed_endpoints = 0;
	o->endpoints_restricted = false;
}

void options_free(struct agent_options *o)
{
	free(o->config_file);
	free(o->https_proxy);
	free(o->no_proxy);
	free(o->server_addr);
	free(o->policy_file);
	free_endpoints(o);
	memset(o, 0, sizeof(*o));
}

static void set_string(char **field, char *value)
{
	free(*field);
	*field = value;
}

/* ---- value checks shared by the command line and the config file ---- */

/* Upstream's get_bool_value: "true"/"false", or an unsigned integer where
 * anything but 0 is true. Returns NULL or why the value is refused. */
static const char *check_bool(const char *v, bool *out)
{
	if (strcmp(v, "true") == 0) {
		*out = true;
		return NULL;
	}
	if (strcmp(v, "false") == 0) {
		*out = false;
		return NULL;
	}
	if (*v == '\0')
		return "expected true, false or a number";
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return "expected true, false or a number";
	}
	/* any number of digits: only "all zeros" is false */
	*out = v[strspn(v, "0")] != '\0';
	return NULL;
}

static const char *check_uint(const char *v, uint64_t max, uint64_t *out)
{
	static char why[96];

	if (*v == '\0')
		return "expected a number";
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return "expected a non-negative decimal number";
	}
	errno = 0;
	unsigned long long n = strtoull(v, NULL, 10);
	if (errno == ERANGE || n > max) {
		snprintf(why, sizeof(why), "out of range (at most %" PRIu64 ")", max);
		return why;
	}
	*out = n;
	return NULL;
}

static const char *check_seconds(uint64_t secs, uint64_t *ms)
{
	if (secs == 0)
		return "must be a positive number of seconds";
	if (secs > UINT64_MAX / 1000)
		return "out of range";
	*ms = secs * 1000;
	return NULL;
}

/* Upstream normalises agent.https_proxy through url::Url::parse; we only
 * require what makes it a URL at all: a scheme, then something. */
static const char *check_url(const char *v)
{
	const char *colon = strchr(v, ':');

	if (!colon || colon == v || !isalpha((unsigned char)v[0]))
		return "expected a URL (scheme://host:port)";
	for (const char *p = v; p < colon; p++) {
		if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
			return "expected a URL (scheme://host:port)";
	}
	if (colon[1] == '\0')
		return "expected a URL (scheme://host:port)";
	for (const char *p = v; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return "URL contains whitespace or a control character";
	}
	return NULL;
}

/* String values end up in the announce line, which is JSON: UTF-8 only
 * (the command line is the VMM's bytes, not necessarily text). */
static const char *check_text(const char *v)
{
	return utf8_valid(v, strlen(v)) ? NULL : "not UTF-8 text";
}

static const char *check_enum(const char *v, const char *const *choices, const char **out)
{
	static char why[160];

	for (size_t i = 0; choices[i]; i++) {
		if (strcmp(v, choices[i]) == 0) {
			*out = choices[i];
			return NULL;
		}
	}
	size_t n = (size_t)snprintf(why, sizeof(why), "expected one of");
	for (size_t i = 0; choices[i] && n < sizeof(why); i++)
		n += (size_t)snprintf(why + n, sizeof(why) - n, "%s %s", i ? "," : "", choices[i]);
	return why;
}

const char *options_parse_peer_cids(struct agent_options *o, const char *v)
{
	if (strcmp(v, "any") == 0) {
		o->vsock_any_peer = true;
		o->n_vsock_peer_cids = 0;
		return NULL;
	}
	uint32_t cids[AGENT_MAX_PEER_CIDS];
	size_t n = 0;
	const char *p = v;
	for (;;) {
		size_t len = strcspn(p, ",");
		char num[16];
		uint64_t c;
		if (len == 0 || len >= sizeof(num))
			return "expected any, or comma-separated CIDs such as 2,1";
		memcpy(num, p, len);
		num[len] = '\0';
		/* -1 (VMADDR_CID_ANY) names no peer */
		const char *why = check_uint(num, UINT32_MAX - 1, &c);
		if (why)
			return why;
		if (n == AGENT_MAX_PEER_CIDS)
			return "too many CIDs (at most 16)";
		cids[n++] = (uint32_t)c;
		if (!p[len])
			break;
		p += len + 1;
	}
	memcpy(o->vsock_peer_cids, cids, n * sizeof(cids[0]));
	o->n_vsock_peer_cids = n;
	o->vsock_any_peer = false;
	return NULL;
}

void options_format_peer_cids(const struct agent_options *o, char *buf, size_t len)
{
	if (o->vsock_any_peer) {
		snprintf(buf, len, "any");
		return;
	}
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < o->n_vsock_peer_cids && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%" PRIu32, i ? "," : "",
					o->vsock_peer_cids[i]);
}

bool options_peer_cid_allowed(const struct agent_options *o, uint32_t cid)
{
	if (o->vsock_any_peer)
		return true;
	for (size_t i = 0; i < o->n_vsock_peer_cids; i++)
		if (o->vsock_peer_cids[i] == cid)
			return true;
	return false;
}

/* ---- kernel command line ---- */

static const struct opt_def *find_cmdline_def(const char *name)
{
	for (size_t i = 0; i < N_OPT_DEFS; i++) {
		if (opt_defs[i].cmdline && strcmp(opt_defs[i].cmdline, name) == 0)
			return &opt_defs[i];
	}
	return NULL;
}

/* Apply one command-line option. Returns 0, or -ENOMEM; a bad value is
 * reported through warn and leaves the field as it was. */
static int apply_cmdline(struct agent_options *o, const struct opt_def *def, const char *value,
			 options_warn_fn warn, void *warn_data)
{
	const char *why = NULL;
	uint64_t n = 0;

	if (def->kind == OPT_MEMAGENT) {
		/* a bare boolean is true; a bare number is refused there */
		if ((why = memagent_cfg_set_text(&o->mem_agent, def->cmdline + 16, value)))
			goto bad;
		return 0;
	}
	if (!value && def->kind != OPT_BOOL && def->kind != OPT_IGNORED_BOOL) {
		why = "expects a value (name=value)";
		goto bad;
	}
	switch (def->kind) {
	case OPT_BOOL: {
		bool b = true; /* a bare boolean is true */
		if (value && (why = check_bool(value, &b)))
			goto bad;
		*FIELD(o, def, bool) = b;
		return 0;
	}
	case OPT_INT:
		if ((why = check_uint(value, (uint64_t)def->max, &n)))
			goto bad;
		*FIELD(o, def, uint32_t) = (uint32_t)n;
		return 0;
	case OPT_TIMEOUT: {
		uint64_t ms = 0;
		if ((why = check_uint(value, UINT64_MAX, &n)) || (why = check_seconds(n, &ms)))
			goto bad;
		*FIELD(o, def, uint64_t) = ms;
		return 0;
	}
	case OPT_LOGLEVEL: {
		enum log_level l;
		if (log_level_parse(value, &l) < 0) {
			why = "expected critical, fatal, panic, error, warn, warning, info, debug "
			      "or trace";
			goto bad;
		}
		*FIELD(o, def, enum log_level) = l;
		return 0;
	}
	case OPT_ENUM: {
		const char *c = NULL;
		if ((why = check_enum(value, def->choices, &c)))
			goto bad;
		*FIELD(o, def, const char *) = c;
		return 0;
	}
	case OPT_URL:
		if (*value && (why = check_url(value)))
			goto bad;
		/* fall through */
	case OPT_STRING:
	case OPT_PATH: {
		if (*value == '\0') {
			why = "empty value";
			goto bad;
		}
		if ((why = check_text(value)))
			goto bad;
		char *s = strdup(value);
		if (!s)
			return -ENOMEM;
		set_string(FIELD(o, def, char *), s);
		return 0;
	}
	case OPT_CIDS:
		if ((why = options_parse_peer_cids(o, value)))
			goto bad;
		return 0;
	case OPT_IGNORED_BOOL:
	case OPT_IGNORED_INT:
	case OPT_IGNORED_STRING:
	case OPT_MEMAGENT:
		return 0;
	}
	return 0;
bad:
	if (warn)
		warn(def->cmdline, value ? value : "", why, warn_data);
	return 0;
}

/*
 * Split a kernel command line the way the kernel does (lib/cmdline.c
 * next_arg): whitespace separates parameters except inside double quotes; a
 * quote opening the parameter or its value is removed together with the
 * quote that ends the parameter. Calls fn(name, value|NULL) for each.
 */
typedef int (*param_fn)(const char *name, const char *value, void *data);

static int for_each_param(const char *cmdline, param_fn fn, void *data)
{
	cleanup_free char *buf = strdup(cmdline);
	if (!buf)
		return -ENOMEM;
	char *s = buf;

	for (;;) {
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			return 0;

		bool quoted = false, in_quote = false;
		if (*s == '"') {
			s++;
			quoted = in_quote = true;
		}
		size_t i, equals = 0;
		bool has_equals = false;
		for (i = 0; s[i]; i++) {
			if (isspace((unsigned char)s[i]) && !in_quote)
				break;
			if (!has_equals && s[i] == '=') {
				has_equals = true;
				equals = i;
			}
			if (s[i] == '"')
				in_quote = !in_quote;
		}
		char *next = s[i] ? s + i + 1 : s + i;
		char *name = s;
		char *value = NULL;
		if (has_equals) {
			s[equals] = '\0';
			value = s + equals + 1;
			if (*value == '"') {
				value++;
				if (i > 0 && s[i - 1] == '"')
					s[i - 1] = '\0';
			}
		}
		if (quoted && i > 0 && s[i - 1] == '"')
			s[i - 1] = '\0';
		s[i] = '\0';

		int r = fn(name, value, data);
		if (r != 0)
			return r;
		s = next;
	}
}

struct cmdline_ctx {
	struct agent_options *o;
	options_warn_fn warn;
	void *warn_data;
	char *config_file; /* found by find_config_file */
};

static int cmdline_param(const char *name, const char *value, void *data)
{
	struct cmdline_ctx *c = data;

	const struct opt_def *def = find_cmdline_def(name);
	if (def)
		return apply_cmdline(c->o, def, value, c->warn, c->warn_data);
	/* Everything else on the line belongs to the kernel or to init. */
	if (strncmp(name, "agent.", 6) == 0 && c->warn)
		c->warn(name, value ? value : "", "unknown option", c->warn_data);
	return 0;
}

int options_parse_cmdline(struct agent_options *o, const char *cmdline, options_warn_fn warn,
			  void *warn_data, struct kerr *err)
{
	struct cmdline_ctx c = { .o = o, .warn = warn, .warn_data = warn_data };
	int r = for_each_param(cmdline, cmdline_param, &c);
	if (r < 0)
		return kerr_set(err, r, "parse kernel command line: %s", strerror(-r));
	return 0;
}

/* ---- config file ---- */

static const struct opt_def *find_file_def(const char *key)
{
	for (size_t i = 0; i < N_OPT_DEFS; i++) {
		if (opt_defs[i].file_key && strcmp(opt_defs[i].file_key, key) == 0)
			return &opt_defs[i];
	}
	return NULL;
}

static int wrong_type(const char *path, const char *key, const struct toml_value *v,
		      const char *expected, struct kerr *err)
{
	return kerr_set(err, -EINVAL, "%s:%d: %s: expected %s, found %s", path, v->line, key,
			expected, toml_type_name(v->type));
}

/* A duration as upstream's serde reads it ({ secs = N, nanos = N }), or a
 * plain number of seconds (our shorthand). */
static int file_duration(const char *path, const char *key, const struct toml_value *v,
			 uint64_t *out_ms, struct kerr *err)
{
	const char *why;
	uint64_t ms;

	if (v->type == TOML_INTEGER) {
		if (v->i < 0)
			return kerr_set(err, -EINVAL,
					"%s:%d: %s: must be a positive number of seconds", path,
					v->line, key);
		if ((why = check_seconds((uint64_t)v->i, &ms)))
			return kerr_set(err, -EINVAL, "%s:%d: %s: %s", path, v->line, key, why);
		*out_ms = ms;
		return 0;
	}
	if (v->type != TOML_TABLE)
		return wrong_type(path, key, v,
				  "a number of seconds or a table { secs = N, nanos = N }", err);
	const struct toml_value *secs = NULL, *nanos = NULL;
	for (size_t i = 0; i < v->tab.n; i++) {
		const char *k = v->tab.kv[i].key;
		if (strcmp(k, "secs") == 0)
			secs = v->tab.kv[i].value;
		else if (strcmp(k, "nanos") == 0)
			nanos = v->tab.kv[i].value;
		else
			return kerr_set(err, -EINVAL,
					"%s:%d: %s: unknown field \"%s\" (expected secs, nanos)",
					path, v->tab.kv[i].value->line, key, k);
	}
	if (!secs || !nanos)
		return kerr_set(err, -EINVAL, "%s:%d: %s: missing field \"%s\"", path, v->line, key,
				secs ? "nanos" : "secs");
	if (secs->type != TOML_INTEGER || secs->i < 0)
		return kerr_set(err, -EINVAL, "%s:%d: %s.secs: expected a non-negative integer",
				path, secs->line, key);
	if (nanos->type != TOML_INTEGER || nanos->i < 0 || nanos->i > 999999999)
		return kerr_set(err, -EINVAL,
				"%s:%d: %s.nanos: expected an integer from 0 to 999999999", path,
				nanos->line, key);
	if ((uint64_t)secs->i > UINT64_MAX / 1000 - 1000)
		return kerr_set(err, -EINVAL, "%s:%d: %s: out of range", path, v->line, key);
	/* round sub-millisecond parts up so a non-zero duration stays non-zero */
	ms = (uint64_t)secs->i * 1000 + ((uint64_t)nanos->i + 999999) / 1000000;
	if (ms == 0)
		return kerr_set(err, -EINVAL, "%s:%d: %s: must be positive", path, v->line, key);
	*out_ms = ms;
	return 0;
}

/* A key the agent does not know: upstream's serde ignores unknown fields,
 * so the file is still used; the key is reported (logged by the parent). */
static void unknown_key(const char *path, const char *table, const char *key,
			const struct toml_value *v, options_warn_fn warn, void *warn_data)
{
	if (!warn)
		return;
	char name[320], why[PATH_MAX + 96];
	snprintf(name, sizeof(name), "%s%s%s", table, *table ? "." : "", key);
	snprintf(why, sizeof(why), "unknown key in the config file %s:%d", path, v->line);
	warn(name, "", why, warn_data);
}

static int file_endpoints(struct agent_options *o, const char *path, const struct toml_value *v,
			  options_warn_fn warn, void *warn_data, struct kerr *err)
{
	if (v->type != TOML_TABLE)
		return wrong_type(path, "endpoints", v, "a table", err);
	const struct toml_value *allowed = NULL;
	for (size_t i = 0; i < v->tab.n; i++) {
		if (strcmp(v->tab.kv[i].key, "allowed") != 0)
			unknown_key(path, "endpoints", v->tab.kv[i].key, v->tab.kv[i].value, warn,
				    warn_data);
		else
			allowed = v->tab.kv[i].value;
	}
	if (!allowed)
		return kerr_set(err, -EINVAL, "%s:%d: endpoints: missing key \"allowed\"", path,
				v->line);
	if (allowed->type != TOML_ARRAY)
		return wrong_type(path, "endpoints.allowed", allowed, "an array of strings", err);

	char **names = calloc(allowed->arr.n + 1, sizeof(*names));
	if (!names)
		return kerr_set(err, -ENOMEM, "%s: out of memory", path);
	for (size_t i = 0; i < allowed->arr.n; i++) {
		const struct toml_value *item = allowed->arr.items[i];
		int r = 0;
		if (item->type != TOML_STRING)
			r = wrong_type(path, "endpoints.allowed", item, "a string", err);
		else if (item->str.s[0] == '\0')
			r = kerr_set(err, -EINVAL, "%s:%d: endpoints.allowed: empty name", path,
				     item->line);
		else if (!(names[i] = strdup(item->str.s)))
			r = kerr_set(err, -ENOMEM, "%s: out of memory", path);
		if (r < 0) {
			for (size_t k = 0; k < i; k++)
				free(names[k]);
			free(names);
			return r;
		}
	}
	free_endpoints(o);
	o->allowed_endpoints = names;
	o->n_allowed_endpoints = allowed->arr.n;
	o->endpoints_restricted = true;
	return 0;
}

static int apply_file(struct agent_options *o, const char *path, const char *key,
		      const struct opt_def *def, const struct toml_value *v, struct kerr *err)
{
	const char *why = NULL;

	switch (def->kind) {
	case OPT_MEMAGENT:
		if (v->type != TOML_BOOLEAN && v->type != TOML_INTEGER)
			return wrong_type(path, key, v, "a boolean or an integer", err);
		if ((why = memagent_cfg_set_value(&o->mem_agent, key + 10, v->type == TOML_BOOLEAN,
						  v->type == TOML_BOOLEAN ? v->b : v->i)))
			return kerr_set(err, -EINVAL, "%s:%d: %s: %s%s%s", path, v->line, key, why,
					strncmp(why, "expected", 8) ? "" : ", found ",
					strncmp(why, "expected", 8) ? "" : toml_type_name(v->type));
		return 0;
	case OPT_BOOL:
	case OPT_IGNORED_BOOL:
		if (v->type != TOML_BOOLEAN)
			return wrong_type(path, key, v, "a boolean", err);
		if (def->kind == OPT_BOOL)
			*FIELD(o, def, bool) = v->b;
		return 0;
	case OPT_INT:
	case OPT_IGNORED_INT:
		if (v->type != TOML_INTEGER)
			return wrong_type(path, key, v, "an integer", err);
		if (def->kind == OPT_IGNORED_INT)
			return 0;
		if (v->i < def->min || v->i > def->max)
			return kerr_set(err, -EINVAL,
					"%s:%d: %s: %" PRId64 " is out of range (%" PRId64
					" to %" PRId64 ")",
					path, v->line, key, v->i, def->min, def->max);
		*FIELD(o, def, uint32_t) = (uint32_t)v->i;
		return 0;
	case OPT_TIMEOUT:
		return file_duration(path, key, v, FIELD(o, def, uint64_t), err);
	default:
		break;
	}

	/* the rest are strings */
	if (v->type != TOML_STRING)
		return wrong_type(path, key, v, "a string", err);
	const char *s = v->str.s;
	switch (def->kind) {
	case OPT_LOGLEVEL:
		if (log_level_parse(s, FIELD(o, def, enum log_level)) < 0)
			return kerr_set(err, -EINVAL,
					"%s:%d: %s: invalid log level \"%s\" (expected "
					"critical, fatal, panic, error, warn, warning, info, debug or trace)",
					path, v->line, key, s);
		return 0;
	case OPT_ENUM:
		if ((why = check_enum(s, def->choices, FIELD(o, def, const char *))))
			return kerr_set(err, -EINVAL, "%s:%d: %s: invalid value \"%s\" (%s)", path,
					v->line, key, s, why);
		return 0;
	case OPT_URL:
	case OPT_STRING: {
		/* an empty proxy setting means none, as upstream's default "" */
		if (*s == '\0' && def->kind == OPT_STRING && def->off == F(server_addr))
			return kerr_set(err, -EINVAL, "%s:%d: %s: empty value", path, v->line, key);
		if (*s && def->kind == OPT_URL && (why = check_url(s)))
			return kerr_set(err, -EINVAL, "%s:%d: %s: invalid value \"%s\" (%s)", path,
					v->line, key, s, why);
		char *copy = NULL;
		if (*s && !(copy = strdup(s)))
			return kerr_set(err, -ENOMEM, "%s: out of memory", path);
		set_string(FIELD(o, def, char *), copy);
		return 0;
	}
	case OPT_CIDS:
		if ((why = options_parse_peer_cids(o, s)))
			return kerr_set(err, -EINVAL, "%s:%d: %s: invalid value \"%s\" (%s)", path,
					v->line, key, s, why);
		return 0;
	case OPT_IGNORED_STRING:
		return 0;
	default:
		return kerr_set(err, -EINVAL, "%s:%d: %s: not accepted in the config file", path,
				v->line, key);
	}
}

int options_parse_config_file(struct agent_options *o, const char *path, struct kerr *err)
{
	return options_parse_config_file_warn(o, path, NULL, NULL, err);
}

int options_parse_config_file_warn(struct agent_options *o, const char *path, options_warn_fn warn,
				   void *warn_data, struct kerr *err)
{
	struct toml_value *root = NULL;
	int r = toml_parse_file(path, &root, err);
	if (r < 0) {
		kerr_prefix(err, "config file");
		return r;
	}

	for (size_t i = 0; i < root->tab.n && r >= 0; i++) {
		const char *key = root->tab.kv[i].key;
		const struct toml_value *v = root->tab.kv[i].value;
		const struct opt_def *def;

		if (strcmp(key, "endpoints") == 0)
			r = file_endpoints(o, path, v, warn, warn_data, err);
		else if ((def = find_file_def(key)))
			r = apply_file(o, path, key, def, v, err);
		else
			unknown_key(path, "", key, v, warn, warn_data);
	}
	toml_free(root);
	if (r < 0) {
		kerr_prefix(err, "config file");
		return r;
	}

	char *copy = strdup(path);
	if (!copy)
		return kerr_set(err, -ENOMEM, "config file %s: out of memory", path);
	set_string(&o->config_file, copy);
	return 0;
}

/* ---- environment ---- */

static const char *env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	for (; envp && *envp; envp++) {
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	}
	return NULL;
}

/* A string option from the environment: text (not empty), or a warning
 * and the field kept. */
static int env_text(const char *name, const char *v, char **field, options_warn_fn warn,
		    void *warn_data, struct kerr *err)
{
	const char *why = *v ? check_text(v) : "empty value";
	if (why) {
		if (warn)
			warn(name, v, why, warn_data);
		return 0;
	}
	char *s = strdup(v);
	if (!s)
		return kerr_set(err, -ENOMEM, "%s: out of memory", name);
	set_string(field, s);
	return 0;
}

int options_apply_env(struct agent_options *o, char *const *envp, options_warn_fn warn,
		      void *warn_data, struct kerr *err)
{
	const char *v;

	int r;
	if ((v = env_get(envp, "KATA_AGENT_SERVER_ADDR")) &&
	    (r = env_text("KATA_AGENT_SERVER_ADDR", v, &o->server_addr, warn, warn_data, err)) < 0)
		return r;
	/* A path the announce line and the logs carry: text, as every string
	 * option (fuzz_cmdline found one that was not); empty: unset. */
	if ((v = env_get(envp, "KATA_AGENT_POLICY_FILE")) && *v &&
	    (r = env_text("KATA_AGENT_POLICY_FILE", v, &o->policy_file, warn, warn_data, err)) < 0)
		return r;
	if ((v = env_get(envp, "KATA_AGENT_LOG_LEVEL"))) {
		if (log_level_parse(v, &o->log_level) < 0 && warn)
			warn("KATA_AGENT_LOG_LEVEL", v,
			     "expected critical, fatal, panic, error, warn, warning, info, debug or trace",
			     warn_data);
	}
	if ((v = env_get(envp, "KATA_AGENT_TRACING"))) {
		bool b;
		const char *why = check_bool(v, &b);
		if (!why)
			o->tracing = b;
		else if (warn)
			warn("KATA_AGENT_TRACING", v, why, warn_data);
	}
	return 0;
}

/* ---- the whole sequence ---- */

static int read_cmdline(const char *path, char **out, struct kerr *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return kerr_set(err, -errno, "open %s: %s", path, strerror(errno));
	cleanup_free char *buf = malloc(CMDLINE_MAX + 1);
	if (!buf)
		return kerr_set(err, -ENOMEM, "read %s: out of memory", path);
	size_t n = 0;
	for (;;) {
		if (n == CMDLINE_MAX)
			return kerr_set(err, -EFBIG, "%s: longer than %d bytes", path, CMDLINE_MAX);
		ssize_t r = read(fd, buf + n, CMDLINE_MAX - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return kerr_set(err, -errno, "read %s: %s", path, strerror(errno));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (memchr(buf, '\0', n))
		return kerr_set(err, -EINVAL, "%s: contains a NUL byte", path);
	buf[n] = '\0';
	*out = take_ptr(&buf);
	return 0;
}

static int find_config_file(const char *name, const char *value, void *data)
{
	struct cmdline_ctx *c = data;

	if (strcmp(name, "agent.config_file") != 0)
		return 0;
	if (!value || !*value) {
		if (c->warn)
			c->warn(name, value ? value : "", "expects a file name (name=value)",
				c->warn_data);
		return 0;
	}
	c->config_file = strdup(value);
	return c->config_file ? 1 : -ENOMEM; /* 1 stops at the first, as upstream */
}

int options_load(struct agent_options *o, const char *cmdline_path, const char *config_override,
		 char *const *envp, options_warn_fn warn, void *warn_data, struct kerr *err)
{
	int r;

	options_init_defaults(o);
	if (!o->server_addr)
		return kerr_set(err, -ENOMEM, "options: out of memory");

	if (config_override) {
		r = options_parse_config_file_warn(o, config_override, warn, warn_data, err);
	} else {
		cleanup_free char *cmdline = NULL;
		r = read_cmdline(cmdline_path ? cmdline_path : "/proc/cmdline", &cmdline, err);
		if (r < 0)
			goto fail;
		struct cmdline_ctx c = { .o = o, .warn = warn, .warn_data = warn_data };
		r = for_each_param(cmdline, find_config_file, &c);
		if (r < 0) {
			r = kerr_set(err, r, "parse kernel command line: %s", strerror(-r));
			goto fail;
		}
		if (c.config_file) {
			/* the file replaces every other command-line option */
			r = options_parse_config_file_warn(o, c.config_file, warn, warn_data, err);
			free(c.config_file);
		} else {
			r = options_parse_cmdline(o, cmdline, warn, warn_data, err);
		}
	}
	if (r < 0)
		goto fail;
	r = options_apply_env(o, envp, warn, warn_data, err);
	if (r < 0)
		goto fail;
	return 0;
fail:
	options_free(o);
	options_init_defaults(o);
	return r;
}

bool options_endpoint_allowed(const struct agent_options *o, const char *request_type_name)
{
	if (!o->endpoints_restricted)
		return true;
	/* the list holds short names; accept a descriptor's full name too */
	const char *dot = strrchr(request_type_name, '.');
	if (dot)
		request_type_name = dot + 1;
	for (size_t i = 0; i < o->n_allowed_endpoints; i++) {
		if (strcmp(o->allowed_endpoints[i], request_type_name) == 0)
			return true;
	}
	return false;
}

/* Rust's Debug form of a Duration ("3s", "1.5s"), as upstream's announce. */
static json_t *duration_json(uint64_t ms)
{
	char buf[48];

	if (ms % 1000 == 0) {
		snprintf(buf, sizeof(buf), "%" PRIu64 "s", ms / 1000);
	} else {
		snprintf(buf, sizeof(buf), "%" PRIu64 ".%03" PRIu64, ms / 1000, ms % 1000);
		size_t n = strlen(buf);
		while (buf[n - 1] == '0')
			buf[--n] = '\0';
		snprintf(buf + n, sizeof(buf) - n, "s");
	}
	return json_string(buf);
}

static json_t *str_json(const char *s)
{
	return json_string(s ? s : "");
}

/* null unless agent.mem_agent_enable, as upstream's Option<MemAgentConfig>;
 * else its settings as the executor gets them. */
static json_t *mem_agent_json(const struct agent_options *o)
{
	char buf[1024];
	if (!o->mem_agent.enable || memagent_cfg_format(&o->mem_agent, buf, sizeof(buf)) < 0)
		return json_null();
	return json_string(buf);
}

json_t *options_to_json(const struct agent_options *o)
{
	json_t *allowed = json_array();
	for (size_t i = 0; allowed && i < o->n_allowed_endpoints; i++)
		json_array_append_new(allowed, json_string(o->allowed_endpoints[i]));
	char cids[AGENT_MAX_PEER_CIDS * 12];
	options_format_peer_cids(o, cids, sizeof(cids));

	/* upstream's AgentConfig field names, so announce lines compare */
	return json_pack("{s:o, s:b, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:I, s:I, s:I, s:o, s:I,"
			 " s:b, s:b, s:b, s:o, s:o, s:o, s:o, s:b, s:s, s:{s:b, s:o}, s:b, s:o, s:o}",
			 "config_file", str_json(o->config_file), "debug_console",
			 (int)o->debug_console, "dev_mode", (int)o->dev_mode, "log_level",
			 json_string(log_level_name(o->log_level)), "hotplug_timeout",
			 duration_json(o->hotplug_timeout_ms), "cdh_api_timeout",
			 duration_json(o->cdh_api_timeout_ms), "image_pull_timeout",
			 duration_json(o->image_pull_timeout_ms), "cdi_timeout",
			 duration_json(o->cdi_timeout_ms), "launch_process_timeout",
			 duration_json(o->launch_process_timeout_ms), "visible_cdi_devices",
			 (int)o->visible_cdi_devices, "debug_console_vport",
			 (json_int_t)o->debug_console_vport, "log_vport", (json_int_t)o->log_vport,
			 "container_pipe_size", (json_int_t)o->container_pipe_size, "server_addr",
			 str_json(o->server_addr), "passfd_listener_port",
			 (json_int_t)o->passfd_listener_port, "passfd_direct",
			 (int)o->passfd_direct, "unified_cgroup_hierarchy",
			 (int)o->unified_cgroup_hierarchy, "tracing", (int)o->tracing,
			 "https_proxy", str_json(o->https_proxy), "no_proxy", str_json(o->no_proxy),
			 "guest_components_rest_api", str_json(o->guest_components_rest_api),
			 "guest_components_procs", str_json(o->guest_components_procs),
			 "secure_storage_integrity", (int)o->secure_storage_integrity,
			 "vsock_peer_cids", cids, "endpoints", "all_allowed",
			 (int)!o->endpoints_restricted, "allowed", allowed ? allowed : json_array(),
			 "allow_host_hooks", (int)o->allow_host_hooks, "policy_file",
			 str_json(o->policy_file), "mem_agent", mem_agent_json(o));
}
