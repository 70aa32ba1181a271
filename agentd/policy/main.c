/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kata-agent-policy - evaluates the agent policy for the executor.
 *
 * The policy text and every input come from the untrusted host, and the
 * evaluator is a large parser and interpreter, so it runs here, alone:
 * started (and restarted) by kata-agent as root with
 *   fd 3  its SOCK_SEQPACKET channel to the executor
 * it caps its memory (RLIMIT_AS), confines itself (common/confine.c:
 * uid 65534, no capabilities, empty root, seccomp allow-list) before it
 * reads a byte, and then answers the executor only:
 *   POLICY_LOAD   a policy and its base document -> OK or ERROR
 *   POLICY_CHECK  an endpoint and its input -> POLICY_VERDICT or ERROR
 * Every query runs under the evaluator's step and memory bounds
 * (rego.h): a runaway policy answers DEADLINE_EXCEEDED or
 * RESOURCE_EXHAUSTED and the next query runs as usual. It keeps nothing
 * the executor does not have: the executor holds the policy and the last
 * base document it was sent back, and loads both into the next process
 * (doc/policy.md, "The policy process").
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "config.h"
#include "confine.h"
#include "engine.h"
#include "grpc_status.h"
#include "ipc.h"
#include "log.h"
#include "loop.h"
#include "number.h"
#include "relro.h"

#define FD_EXECUTOR 3
/* Bounds of one query. genpolicy's CreateContainer check takes about
 * 15,000 steps and 430 KB (doc/benchmarks.md): these leave room for a
 * thousand times more and still stop a runaway policy in about a second. */
#define POLICY_MAX_STEPS 20000000u
#define POLICY_QUERY_MEMORY (256u << 20)
/* The whole process: the compiled policy, its data, one query. */
#define POLICY_AS_LIMIT (1024u << 20)

struct policyd {
	struct loop *loop;
	struct ipc_chan *exec;
	struct policy_engine engine;
};

static json_t *parse_json(const uint8_t *p, size_t len, const char *what, struct kerr *err)
{
	json_error_t je;
	json_t *j = json_loadb((const char *)p, len, JSON_DECODE_ANY, &je);
	if (!j)
		kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL, "%s is not JSON: %s", what,
				je.text);
	return j;
}

static int answer_error(struct ipc_chan *c, uint32_t id, const struct kerr *e, struct kerr *err)
{
	log_warn("%s", e->msg);
	return ipc_chan_send_error(c, id, e, GRPC_INTERNAL, err);
}

static int on_policy_load(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct policyd *d = data;
	const struct ipc_policy_load *l = m->in;
	const uint8_t *text = (const uint8_t *)(l + 1);
	struct kerr e = { 0 };
	json_t *base = parse_json(text + l->text_len, l->data_len, "the base document", &e);
	int r = base ? policy_engine_load(&d->engine, (const char *)text, l->text_len, base, &e)
		     : -EINVAL;
	json_decref(base);
	if (r < 0)
		return answer_error(c, m->hdr.id, &e, err);
	log_info("policy loaded (%u bytes)%s", l->text_len,
		 d->engine.allow_failures ? ", AllowRequestsFailingPolicy" : "");
	return ipc_chan_send(c, IPC_OK, m->hdr.id, NULL, 0, -1, err);
}

/* POLICY_VERDICT: the struct, the prints (cut to the bound), the base
 * document when it changed. */
static int send_verdict(struct ipc_chan *c, uint32_t id, const struct policy_verdict *v,
			const char *base, struct kerr *err)
{
	size_t np = v->prints ? strlen(v->prints) : 0, nb = base ? strlen(base) : 0;
	if (np > IPC_POLICY_PRINTS_MAX)
		np = IPC_POLICY_PRINTS_MAX;
	struct ipc_policy_verdict h = { .allowed = v->allowed,
					.data_changed = base != NULL,
					.prints_len = (uint32_t)np };
	cleanup_free uint8_t *buf = malloc(sizeof(h) + np + nb);
	if (!buf)
		return kerr_set(err, -ENOMEM, "out of memory");
	memcpy(buf, &h, sizeof(h));
	if (np)
		memcpy(buf + sizeof(h), v->prints, np);
	if (nb)
		memcpy(buf + sizeof(h) + np, base, nb);
	return ipc_chan_send(c, IPC_POLICY_VERDICT, id, buf, sizeof(h) + np + nb, -1, err);
}

/* The changed base document as JSON, within its bound; else the check's
 * ops are undone (the executor's copy is what counts). */
static char *changed_base(struct policy_engine *e, json_t *before, struct kerr *err)
{
	char *s = json_dumps(e->data, JSON_COMPACT | JSON_ENCODE_ANY);
	if (s && strlen(s) <= IPC_POLICY_DATA_MAX)
		return s;
	free(s);
	json_decref(e->data);
	e->data = json_incref(before);
	rego_policy_set_data(e->policy, e->data, NULL);
	kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -E2BIG,
			"policy state over %u bytes: the request's ops are not applied",
			IPC_POLICY_DATA_MAX);
	return NULL;
}

static int on_policy_check(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct policyd *d = data;
	const struct ipc_policy_check *q = m->in;
	struct kerr e = { 0 };
	json_t *input = parse_json((const uint8_t *)(q + 1), m->len - sizeof(*q), "the input", &e);
	if (!input)
		return answer_error(c, m->hdr.id, &e, err);
	json_t *before = json_incref(d->engine.data);
	struct policy_verdict v;
	int r = policy_engine_check(&d->engine, q->endpoint, input, q->dry_run, &v, &e);
	json_decref(input);
	cleanup_free char *base = NULL;
	if (r == 0 && v.data_changed && !(base = changed_base(&d->engine, before, &e)))
		r = -E2BIG;
	json_decref(before);
	if (r < 0) {
		policy_verdict_clear(&v);
		return answer_error(c, m->hdr.id, &e, err);
	}
	log_debug("policy: %s %s", q->endpoint, v.allowed ? "allowed" : "denied");
	r = send_verdict(c, m->hdr.id, &v, base, err);
	policy_verdict_clear(&v);
	return r;
}

static const struct ipc_dispatch executor_table[] = {
	{ IPC_POLICY_LOAD, on_policy_load },
	{ IPC_POLICY_CHECK, on_policy_check },
	{ 0, NULL },
};

static void executor_closed(struct ipc_chan *c, const char *reason, void *data)
{
	struct policyd *d = data;
	d->exec = NULL;
	if (reason)
		log_error("executor channel closed: %s", reason);
	loop_quit(d->loop);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kata-agent-policy [OPTIONS]\n"
		"The agent policy evaluator of kata-agent; started by kata-agent, not by hand.\n"
		"Its channel to the executor is fd 3.\n\n"
		"  --uid N, --gid N    ids to run as after confinement (default 65534, not 0)\n"
		"  --log-level LEVEL   critical|error|warn|info|debug (default info)\n"
		"  --max-steps N       evaluation steps per query (default %u)\n"
		"  --max-query-memory N  bytes one query may allocate (default %u MiB)\n"
		"  --max-memory N      address space of the process (RLIMIT_AS, default %u MiB)\n"
		"  --version           print the version and exit\n"
		"  --help              print this help and exit\n",
		POLICY_MAX_STEPS, POLICY_QUERY_MEMORY >> 20, POLICY_AS_LIMIT >> 20);
}

/* Whether this build can run under RLIMIT_AS. */
static bool address_space_limited(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return false;
#else
	return true;
#endif
#else
	return true;
#endif
}

static int check_channel(int fd, struct kerr *err)
{
	struct stat st;
	int v = 0;
	socklen_t len = sizeof(v);
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0 || v != SOCK_SEQPACKET)
		return kerr_set(err, -EBADF,
				"no SOCK_SEQPACKET executor channel on fd %d "
				"(run kata-agent instead)",
				fd);
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return kerr_set(err, -errno, "FD_CLOEXEC: %s", strerror(errno));
	return 0;
}

static const struct option longopts[] = {
	{ "uid", required_argument, NULL, 'u' },
	{ "gid", required_argument, NULL, 'g' },
	{ "log-level", required_argument, NULL, 'l' },
	{ "max-steps", required_argument, NULL, 's' },
	{ "max-query-memory", required_argument, NULL, 'q' },
	{ "max-memory", required_argument, NULL, 'm' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The command line's settings. */
struct start {
	unsigned long uid, gid, steps, qmem, as;
	enum log_level level;
};

/* The command line into s: -1 to go on, else the status to exit with (0
 * after --version or --help, 2 on a bad option). */
static int parse_options(int argc, char **argv, struct start *s)
{
	int o, bad = 0;
	while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (o) {
		case 'u':
			bad = number_parse_ulong(optarg, 0xfffffffe, &s->uid);
			break;
		case 'g':
			bad = number_parse_ulong(optarg, 0xfffffffe, &s->gid);
			break;
		case 'l':
			bad = log_level_parse(optarg, &s->level);
			break;
		case 's':
			bad = number_parse_ulong(optarg, 1ul << 40, &s->steps);
			break;
		case 'q':
			bad = number_parse_ulong(optarg, 1ul << 40, &s->qmem);
			break;
		case 'm':
			bad = number_parse_ulong(optarg, 1ul << 44, &s->as);
			break;
		default:
			return cli_other_option(o, "kata-agent-policy", usage);
		}
		if (bad || (o == 's' && !s->steps) || (o == 'q' && !s->qmem) ||
		    (o == 'm' && s->as < s->qmem)) {
			return cli_bad_value("kata-agent-policy", optarg);
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/* The executor's channel checked, the address space capped, then the
 * confinement: before anything untrusted is read. */
static int confine(const struct start *s)
{
	pid_t parent = getppid();
	struct kerr err = { 0 };
	struct rlimit lim = { s->as, s->as };
	if (check_channel(FD_EXECUTOR, &err) < 0) {
		log_error("%s", err.msg);
		return -1;
	}
	if (!address_space_limited()) {
		/* AddressSanitizer reserves terabytes of shadow address space:
		 * the query bounds still hold, the process-wide cap cannot. */
		log_warn("built with AddressSanitizer: no RLIMIT_AS");
	} else if (setrlimit(RLIMIT_AS, &lim) < 0) {
		log_error("RLIMIT_AS %lu: %s", s->as, strerror(errno));
		return -1;
	}
	if (confine_self(&confine_policy, (uid_t)s->uid, (gid_t)s->gid, parent, &err) < 0) {
		log_error("%s", err.msg);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct start s = { .uid = 65534,
			   .gid = 65534,
			   .steps = POLICY_MAX_STEPS,
			   .qmem = POLICY_QUERY_MEMORY,
			   .as = POLICY_AS_LIMIT,
			   .level = LOG_LVL_INFO };
	/* On musl (-Dmusl_daemons) a static PIE: its relocated data is
	 * writable until sealed (relro.h); a no-op on glibc. */
	if (relro_seal() < 0) {
		perror("kata-agent-policy: make the relocated data read-only");
		return 1;
	}
	int r = parse_options(argc, argv, &s);
	if (r >= 0)
		return r;
	log_init("policy", STDERR_FILENO, s.level);
	signal(SIGPIPE, SIG_IGN);
	if (confine(&s) < 0)
		return 1;
	struct kerr err = { 0 };
	struct policyd d = { .engine.limits = { .max_steps = s.steps, .max_memory = s.qmem } };
	if (loop_new(&d.loop, &err) < 0 ||
	    ipc_chan_new(&d.exec, d.loop, FD_EXECUTOR, "executor", IPC_ROLE_EXECUTOR,
			 executor_table, executor_closed, &d, &err) < 0) {
		log_error("policy process start: %s", err.msg);
		return 1;
	}
	log_info("policy process confined: uid %lu gid %lu, no capabilities, empty root, "
		 "seccomp allow-list; %lu steps and %lu MiB per query, %lu MiB in all",
		 s.uid, s.gid, s.steps, s.qmem >> 20, s.as >> 20);
	r = loop_run(d.loop, &err);
	if (r < 0)
		log_error("event loop: %s", err.msg);
	ipc_chan_free(d.exec);
	policy_engine_free(&d.engine);
	loop_free(d.loop);
	return r < 0 ? 1 : 0;
}
