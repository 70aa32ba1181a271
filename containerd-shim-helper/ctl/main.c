/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kata-agent-ctl - drive a Kata agent (this one or upstream's) from the host
 * or a test: call any grpc.AgentService / grpc.Health method with a JSON
 * request and print the JSON response.
 *
 * Every method works without method-specific code: the request and response
 * types come from the catalog (rpc_catalog.h), the JSON mapping from pbjson.h.
 * Subcommands live in one table, one function each, so that `run` and `exec`
 * can join later.
 *
 * Exit status: 0 success, 1 the agent answered with an error status (or an
 * answer we cannot decode), 2 usage error (bad option, unknown method,
 * request JSON that does not fit the request type), 3 cannot reach the agent
 * (connect failure, connection lost, no answer in time).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <jansson.h>

#include "config.h"
#include "ctl.h"

#include "cleanup.h"
#include "err.h"
#include "grpc_status.h"
#include "health.pb-c.h"
#include "pbjson.h"
#include "rpc_catalog.h"
#include "transport.h"
#include "ttrpc.h"

/* The largest request JSON read from stdin; a request payload is at most
 * 4 MiB and base64 plus JSON syntax do not triple it. */
#define STDIN_MAX (16u << 20)

/* How much longer than the request's own deadline we wait for the agent to
 * say DEADLINE_EXCEEDED before giving up on the connection ourselves. */
#define GRACE_NS 2000000000ull

/* Used when --timeout is not given: only the connect is bounded, since
 * WaitProcess and ReadStdout may legitimately block for ever. */
#define DEFAULT_CONNECT_TIMEOUT_NS 10000000000ull

struct subcmd {
	const char *name;
	const char *args;
	const char *help;
	int (*run)(const struct opts *o, int argc, char **argv);
};

static const struct subcmd *subcmds(size_t *n);

static void usage(FILE *f)
{
	size_t n;
	const struct subcmd *cmds = subcmds(&n);

	fprintf(f, "Usage: kata-agent-ctl [--addr ADDR] [--timeout SECONDS] COMMAND [ARGS]\n"
		   "\n"
		   "Talk to a Kata agent over ttRPC.\n"
		   "\n"
		   "Options:\n"
		   "  -a, --addr ADDR        agent address (default: $KATA_AGENT_ADDR):\n"
		   "                         vsock://CID:PORT, unix:///path, unix://@name,\n"
		   "                         hvsock:///path:PORT\n"
		   "  -t, --timeout SECONDS  bound the connect and the call (sent to the agent\n"
		   "                         as the request deadline); default: no call deadline\n"
		   "  -h, --help             this text\n"
		   "  -V, --version          print the version\n"
		   "\n"
		   "Commands:\n");
	for (size_t i = 0; i < n; i++) {
		char head[64];
		snprintf(head, sizeof(head), "%s %s", cmds[i].name, cmds[i].args);
		fprintf(f, "  %-36s %s\n", head, cmds[i].help);
	}
	fprintf(f, "\n"
		   "SERVICE is grpc.AgentService or grpc.Health (\"AgentService\" and \"Health\"\n"
		   "work too). JSON follows the proto3 JSON mapping; \"-\" reads it from stdin,\n"
		   "no JSON means {}.\n"
		   "\n"
		   "Exit status: 0 ok, 1 the agent returned an error, 2 usage error,\n"
		   "3 the agent could not be reached.\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("kata-agent-ctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'kata-agent-ctl --help'.\n", stderr);
	return EXIT_USAGE;
}

/* ---- talking to the agent ---- */

int connect_agent(const struct opts *o, struct ttrpc_client **out)
{
	struct kerr err = { 0 };
	struct addr a;

	if (!o->addr)
		return usage_error("no agent address: give --addr or set KATA_AGENT_ADDR");
	if (addr_parse(o->addr, &a, &err) < 0)
		return usage_error("bad address \"%s\": %s", o->addr, err.msg);

	uint64_t cto = o->timeout_ns ? o->timeout_ns : DEFAULT_CONNECT_TIMEOUT_NS;
	if (ttrpc_client_connect(out, o->addr, cto, &err) < 0) {
		fprintf(stderr, "ERROR: cannot connect to %s: %s\n", o->addr, err.msg);
		return EXIT_CONNECT;
	}
	if (o->timeout_ns) {
		/* Guard against an agent that never answers at all. */
		uint64_t t = o->timeout_ns + GRACE_NS;
		struct timeval tv = { .tv_sec = (time_t)(t / 1000000000u),
				      .tv_usec = (suseconds_t)(t % 1000000000u / 1000u) };
		setsockopt(ttrpc_client_fd(*out), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	return 0;
}

/* An answer's payload as it came (raw_answer.data malloc'd, the caller's). */
struct raw_answer {
	uint8_t *data;
	size_t len;
};

/*
 * Call m with req; on success *resp holds the decoded answer, and *raw (if
 * not NULL) its wire bytes. Send and
 * receive separately (not ttrpc_client_call) so that an error status the
 * agent chose is never confused with a transport failure: they have
 * different exit codes. Prints the error itself and returns the exit code.
 */
static int call_method(const struct opts *o, const struct rpc_method *m,
		       const ProtobufCMessage *req, ProtobufCMessage **resp, struct raw_answer *raw)
{
	struct ttrpc_client *c = NULL;
	struct kerr err = { 0 };
	uint32_t sid, got;
	int status = 0, ret;
	char *message = NULL;
	uint8_t *payload = NULL;
	size_t len = 0;

	*resp = NULL;
	if ((ret = connect_agent(o, &c)) != 0)
		return ret;

	size_t req_len = protobuf_c_message_get_packed_size(req);
	cleanup_free uint8_t *buf = malloc(req_len ? req_len : 1);
	if (!buf) {
		ttrpc_client_free(c);
		fprintf(stderr, "ERROR: out of memory\n");
		return EXIT_RPC;
	}
	protobuf_c_message_pack(req, buf);

	if (ttrpc_client_send(c, m->service, m->method, buf, req_len, (int64_t)o->timeout_ns, NULL,
			      0, &sid, &err) < 0) {
		fprintf(stderr, "ERROR: sending %s/%s to %s: %s\n", m->service, m->method, o->addr,
			err.msg);
		ttrpc_client_free(c);
		return EXIT_CONNECT;
	}
	do {
		free(message);
		free(payload);
		message = NULL;
		payload = NULL;
		if (ttrpc_client_recv(c, &got, &status, &message, &payload, &len, &err) < 0) {
			fprintf(stderr, "ERROR: waiting for the answer to %s/%s from %s: %s\n",
				m->service, m->method, o->addr, err.msg);
			ttrpc_client_free(c);
			return EXIT_CONNECT;
		}
	} while (got != sid);
	ttrpc_client_free(c);

	if (status != GRPC_OK) {
		fprintf(stderr, "ERROR: %s: %s\n", grpc_status_name(status),
			message ? message : "");
		ret = EXIT_RPC;
	} else {
		*resp = protobuf_c_message_unpack(m->output, NULL, len, payload);
		if (!*resp) {
			fprintf(stderr, "ERROR: %s: the answer (%zu bytes) is not a valid %s\n",
				grpc_status_name(GRPC_INTERNAL), len, m->output->name);
			ret = EXIT_RPC;
		}
	}
	free(message);
	if (raw && *resp) {
		raw->data = payload;
		raw->len = len;
		payload = NULL;
	}
	free(payload);
	return ret;
}

/* ---- helpers for `call` ---- */

static char *read_stream(FILE *f)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);

	while (buf) {
		if (len + 1 >= cap) {
			if (cap >= STDIN_MAX) {
				free(buf);
				errno = EFBIG;
				return NULL;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0) {
			if (ferror(f)) {
				free(buf);
				return NULL;
			}
			buf[len] = '\0';
			return buf;
		}
	}
	free(buf);
	errno = ENOMEM;
	return NULL;
}

/* "grpc.AgentService/CreateContainer", "AgentService/CreateContainer",
 * "/grpc.Health/Check" (the gRPC path form). */
static const struct rpc_method *lookup(const char *spec)
{
	char service[128];

	if (*spec == '/')
		spec++;
	const char *slash = strrchr(spec, '/');
	if (!slash || slash == spec || !slash[1])
		return NULL;
	size_t sl = (size_t)(slash - spec);
	if (!memchr(spec, '.', sl)) {
		if (sl + 5 >= sizeof(service))
			return NULL;
		snprintf(service, sizeof(service), "grpc.%.*s", (int)sl, spec);
	} else {
		if (sl >= sizeof(service))
			return NULL;
		snprintf(service, sizeof(service), "%.*s", (int)sl, spec);
	}
	return rpc_catalog_find(service, slash + 1);
}

static int print_json(const ProtobufCMessage *m, const struct raw_answer *raw)
{
	struct kerr err = { 0 };
	json_t *j = pbjson_to_json(m, &err);

	if (j && ctl_whole_strings(j, m->descriptor, raw->data, raw->len, &err) < 0) {
		json_decref(j);
		j = NULL;
	}
	if (!j) {
		fprintf(stderr, "ERROR: %s: cannot show the answer as JSON: %s\n",
			grpc_status_name(GRPC_INTERNAL), err.msg);
		return EXIT_RPC;
	}
	char *s = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	if (!s) {
		fprintf(stderr, "ERROR: out of memory\n");
		return EXIT_RPC;
	}
	puts(s);
	free(s);
	return 0;
}

/* ---- subcommands ---- */

static int cmd_call(const struct opts *o, int argc, char **argv)
{
	struct kerr err = { 0 };
	cleanup_free char *text = NULL;
	ProtobufCMessage *req = NULL, *resp = NULL;

	if (argc < 2 || argc > 3)
		return usage_error("call: expected SERVICE/METHOD ['JSON'|-]");
	const struct rpc_method *m = lookup(argv[1]);
	if (!m)
		return usage_error("call: unknown method \"%s\" (see 'kata-agent-ctl list')",
				   argv[1]);

	const char *json = argc == 3 ? argv[2] : "{}";
	if (strcmp(json, "-") == 0) {
		text = read_stream(stdin);
		if (!text)
			return usage_error("call: reading the request from stdin: %s",
					   strerror(errno));
		json = text;
		if (strspn(json, " \t\r\n") == strlen(json))
			json = "{}";
	}
	if (pbjson_from_string(m->input, json, &req, &err) < 0)
		return usage_error("call: request for %s/%s: %s", m->service, m->method, err.msg);

	struct raw_answer raw = { 0 };
	int ret = call_method(o, m, req, &resp, &raw);
	protobuf_c_message_free_unpacked(req, NULL);
	if (ret == 0)
		ret = print_json(resp, &raw);
	free(raw.data);
	protobuf_c_message_free_unpacked(resp, NULL);
	return ret;
}

static int cmd_check(const struct opts *o, int argc, char **argv)
{
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;

	if (argc != 1)
		return usage_error("check: takes no arguments");
	int ret = call_method(o, rpc_catalog_find("grpc.Health", "Check"), &req.base, &resp, NULL);
	if (ret)
		return ret;
	const Grpc__HealthCheckResponse *r = (const Grpc__HealthCheckResponse *)resp;
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
		&grpc__health_check_response__serving_status__descriptor, r->status);
	if (v)
		printf("%s\n", v->name);
	else
		printf("%d\n", (int)r->status);
	/* Scripts wait for readiness with `until kata-agent-ctl check; do ...`. */
	ret = r->status == GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING ? 0 : EXIT_RPC;
	protobuf_c_message_free_unpacked(resp, NULL);
	return ret;
}

static int cmd_version(const struct opts *o, int argc, char **argv)
{
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;

	if (argc != 1)
		return usage_error("version: takes no arguments");
	int ret = call_method(o, rpc_catalog_find("grpc.Health", "Version"), &req.base, &resp,
			      NULL);
	if (ret)
		return ret;
	const Grpc__VersionCheckResponse *r = (const Grpc__VersionCheckResponse *)resp;
	printf("agent_version: %s\ngrpc_version: %s\n", r->agent_version, r->grpc_version);
	protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

static int cmd_list(const struct opts *o, int argc, char **argv)
{
	if (argc != 1)
		return usage_error("list: takes no arguments");
	for (size_t i = 0; i < rpc_catalog_count(); i++) {
		const struct rpc_method *m = rpc_catalog_at(i);
		printf("%s/%s %s %s\n", m->service, m->method, m->input->name, m->output->name);
	}
	return 0;
}

static const struct subcmd table[] = {
	{ "call", "SERVICE/METHOD ['JSON'|-]", "call a method, print the answer as JSON", cmd_call },
	{ "check", "", "grpc.Health/Check: print the serving status", cmd_check },
	{ "version", "", "grpc.Health/Version: print agent and API versions", cmd_version },
	{ "list", "", "list the methods with request and response types", cmd_list },
	{ "run", "BUNDLE [--id ID] [--tty]",
	  "create and start an OCI bundle's container, attach, exit with its status", cmd_run },
	{ "exec", "ID [--tty] -- CMD...",
	  "run CMD in a running container, attach, exit with its status", cmd_exec },
	{ "replay", "[--plan|--host-side] SCENARIO.json [NAME=VALUE...]",
	  "play a scenario of runtime requests on one connection, check the answers (TAP)",
	  cmd_replay },
};

static const struct subcmd *subcmds(size_t *n)
{
	*n = sizeof(table) / sizeof(table[0]);
	return table;
}

static int parse_timeout(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	double x = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(x) || x <= 0 || x > 1e9)
		return -EINVAL;
	*out = (uint64_t)(x * 1e9);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .addr = getenv("KATA_AGENT_ADDR") };
	int ch;

	if (o.addr && !*o.addr)
		o.addr = NULL;
	/* '+': stop at the command, its arguments are its own (exec ID -- CMD). */
	while ((ch = getopt_long(argc, argv, "+a:t:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			o.addr = optarg;
			break;
		case 't':
			if (parse_timeout(optarg, &o.timeout_ns) < 0)
				return usage_error("--timeout: \"%s\" is not a positive number of seconds",
						   optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("kata-agent-ctl %s (agent API %s)\n", KATA_AGENT_VERSION,
			       KATA_AGENT_API_VERSION);
			return 0;
		default:
			return usage_error("bad option");
		}
	}
	if (optind >= argc)
		return usage_error("no command given");

	size_t n;
	const struct subcmd *cmds = subcmds(&n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(cmds[i].name, argv[optind]) == 0)
			return cmds[i].run(&o, argc - optind, argv + optind);
	return usage_error("unknown command \"%s\"", argv[optind]);
}
