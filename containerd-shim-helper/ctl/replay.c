/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replay.c - `kata-agent-ctl replay SCENARIO.json [NAME=VALUE...]`: play a
 * scenario, the requests the Kata runtime sends for a whole use case, on one
 * connection as the runtime does (several calls in flight: the shim's stdio
 * copy loops, parked WaitProcess calls), and check every answer. Prints TAP:
 * the plan first (one point per checked step), then one line per step.
 *
 * A scenario is a JSON object {"name", "about", "vars": {...}, "steps":
 * [...]}; every string in a step may use ${NAME}: the command line's
 * NAME=VALUE, SCENARIO_DIR, or the scenario's "vars" (which may use the
 * others).
 * A string that is exactly "@{NAME}" is NAME's value parsed as JSON (spliced
 * into an array when it is an array), itself substituted; "files": {NAME:
 * "path"} reads a file (relative to the scenario) into NAME, so scenarios
 * share specs, each adjusting its copy with "spec_merge" (RFC 7386).
 * Steps (the fields in brackets are optional):
 *
 *   {"call": "Method", "req": {...}, ["spec": {OCI config.json}, ["spec_merge": {...}]],
 *    ["data_text": "..."], ["expect": "OK"|"NOT_FOUND"|...],
 *    ["message": "substring"], ["want": {subset of the answer}],
 *    ["async": true, "as": "name"], ["timeout": seconds]}
 *        one request; "Method" is an AgentService method or "Health/Check".
 *        "spec" is converted as kata-agent-ctl run converts a bundle (the
 *        runtime's OCItoGRPC) and becomes the request's OCI field;
 *        "data_text" fills the request's bytes field `data`. An async call
 *        is checked later by {"await": "name", expect/message/want}.
 *   {"stdio": "name", "container": C, "exec": E, ["stream": "stderr"],
 *    ["len": N]}
 *        start a copy loop as the shim's (containerd-shim-v2 stream.go
 *        ioCopy, 32 KiB buffer): ReadStdout/ReadStderr with len 32768 (or
 *        N: runtime-rs reads through tokio::io::copy, 8192), one in flight,
 *        until an empty answer (EOF, kata_agent.go readProcessStream) or an
 *        error.
 *   {"stdio_until": "name", "contains": "text"}   wait for output
 *   {"stdio_end": "name", ["equals"|"contains": "text"], ["bytes": N],
 *    ["end": "EOF"|status]}                      wait for the loop's end
 *   {"shell": "command", ["output"|"contains": "text"], ["exit": N]}
 *        /bin/sh -c with every NAME=VALUE in its environment (${NAME} in
 *        the command is replaced before the shell sees it: write shell
 *        variables as $name)
 *   {"note": "text"}                              a TAP comment
 *
 * Every step but "stdio", async calls and notes is one TAP point, named by
 * its "name" or after what it does; "cite" names the runtime function the
 * request comes from (printed with a failure). "fatal": true stops the
 * scenario at that step's failure (the rest of the plan fails).
 *
 * Where the scenario is played (the VM suite plays it inside the guest,
 * tests/vm/replay-boot.sh; doc/runtime-replay.md):
 *   "host_side": true      the host runtime's work on the shared directory.
 *                          Stand-alone, played in order. For a guest: those
 *                          before the first call lay the directory out
 *                          before the boot (`replay --host-side`, on the
 *                          host), and with IN_GUEST set they are not
 *                          played; a later one (a change while containers
 *                          run) is asked for with a TAP comment
 *                          "# host step N: NAME" (N counts the steps from 1)
 *                          and the host plays it (`replay --host-side
 *                          --step N`), then writes its TAP to
 *                          ${HOST_DONE_DIR}/step-N.tap, which the guest waits
 *                          for ("timeout") and reports as the step's point.
 *   "not_in_guest": "why"  with IN_GUEST set, not played: nothing of the
 *                          guest can do it (a step after DestroySandbox,
 *                          which powers the guest off); "why" is printed as
 *                          a TAP comment.
 * A step that is not played is not in the plan either:
 * `replay --plan SCENARIO [NAME=VALUE...]` prints the plan for those
 * variables (the VM suite declares it before it boots).
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.pb-c.h"
#include "cleanup.h"
#include "ctl.h"
#include "err.h"
#include "grpc_status.h"
#include "pbjson.h"
#include "rpc_catalog.h"
#include "ttrpc.h"

#define DEFAULT_WAIT_S 30
#define STDIO_READ_LEN 32768 /* the shim's io.CopyBuffer buffer */
#define MAX_VARS 64
#define MAX_OUTPUT (64u << 20)

struct var {
	char *name, *value;
};

/* A call whose answer has not been looked at yet. */
struct call {
	char *name; /* "as" of an async call, NULL for a sync one */
	uint32_t sid;
	const struct rpc_method *m;
	bool done;
	int status;
	char *message;
	uint8_t *payload;
	size_t len;
	struct call *next;
};

/* A shim-like stdio copy loop. */
struct loop_io {
	char *name;
	char *cid, *eid;
	bool err_stream;
	uint32_t read_len; /* ReadStreamRequest.len */
	uint32_t sid;      /* the read in flight */
	uint8_t *buf;
	size_t len, cap;
	bool ended;
	int end_status; /* GRPC_OK = EOF */
	char *end_msg;
	struct loop_io *next;
};

/* Which steps this run plays. */
enum replay_mode {
	MODE_ALL,       /* stand-alone: every step */
	MODE_IN_GUEST,  /* IN_GUEST set: no host_side or not_in_guest step */
	MODE_HOST_SIDE, /* --host-side: host_side steps before the first call,
			 * or (--step N) step N */
};

/* Where a step is played, by its kind and position. */
enum step_place {
	PLACE_ANY,
	PLACE_HOST_BEFORE,  /* host_side, before the first call */
	PLACE_HOST_DURING,  /* host_side, later */
	PLACE_NOT_IN_GUEST, /* not_in_guest */
};

struct replay {
	enum replay_mode mode;
	size_t first_call; /* index of the first call step */
	size_t only_step;  /* --step N: N (from 1); 0: none */
	struct ttrpc_client *c;
	struct var vars[MAX_VARS];
	size_t nvars;
	struct call *calls;
	struct loop_io *ios;
	int n, bad, plan;
	bool broken; /* the connection failed: nothing more can be asked */
};

/* ---- variables ---- */

static const char *var_get(const struct replay *r, const char *name, size_t len)
{
	for (size_t i = 0; i < r->nvars; i++)
		if (strlen(r->vars[i].name) == len && !strncmp(r->vars[i].name, name, len))
			return r->vars[i].value;
	return NULL;
}

/* s with every ${NAME} replaced; an unknown name is an error. */
static char *subst(const struct replay *r, const char *s, struct kerr *err)
{
	size_t cap = strlen(s) + 1, len = 0;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	while (*s) {
		const char *end;
		if (s[0] == '$' && s[1] == '{' && (end = strchr(s + 2, '}'))) {
			const char *v = var_get(r, s + 2, (size_t)(end - s - 2));
			if (!v) {
				kerr_set(err, -EINVAL, "unknown variable ${%.*s}",
					 (int)(end - s - 2), s + 2);
				free(out);
				return NULL;
			}
			size_t vl = strlen(v);
			if (len + vl + 1 > cap) {
				cap = (len + vl + 1) * 2;
				char *n = realloc(out, cap);
				if (!n) {
					free(out);
					return NULL;
				}
				out = n;
			}
			memcpy(out + len, v, vl);
			len += vl;
			s = end + 1;
			continue;
		}
		if (len + 2 > cap) {
			cap *= 2;
			char *n = realloc(out, cap);
			if (!n) {
				free(out);
				return NULL;
			}
			out = n;
		}
		out[len++] = *s++;
	}
	out[len] = 0;
	return out;
}

#define MAX_VAR_DEPTH 8

static json_t *subst_json_at(const struct replay *r, json_t *j, int depth, struct kerr *err);

/* "@{NAME}": the value of NAME parsed as JSON with its own ${...} and @{...}
 * replaced, or NULL (with *is_ref false) if s is not of that form. */
static json_t *json_var(const struct replay *r, const char *s, int depth, bool *is_ref,
			struct kerr *err)
{
	size_t l = strlen(s);

	*is_ref = l > 3 && s[0] == '@' && s[1] == '{' && s[l - 1] == '}';
	if (!*is_ref)
		return NULL;
	if (depth >= MAX_VAR_DEPTH) {
		kerr_set(err, -ELOOP, "@{%.*s}: variables nested too deep", (int)(l - 3), s + 2);
		return NULL;
	}
	const char *v = var_get(r, s + 2, l - 3);
	json_error_t je;
	json_t *j = v ? json_loads(v, JSON_DECODE_ANY, &je) : NULL;
	if (!j) {
		kerr_set(err, -EINVAL, "@{%.*s}: %s", (int)(l - 3), s + 2,
			 v ? je.text : "unknown variable");
		return NULL;
	}
	json_t *out = subst_json_at(r, j, depth + 1, err);
	json_decref(j);
	return out;
}

/* A deep copy of j with ${NAME} replaced in every string (keys included);
 * a string "@{NAME}" becomes NAME's value parsed as JSON, and as an array
 * element, an array value is spliced in (so a variable can add zero or
 * more entries, e.g. the shared-filesystem storage only a VM has). */
static json_t *subst_json_at(const struct replay *r, json_t *j, int depth, struct kerr *err)
{
	bool ref;

	if (json_is_string(j)) {
		json_t *v = json_var(r, json_string_value(j), depth, &ref, err);
		if (ref)
			return v;
		cleanup_free char *s = subst(r, json_string_value(j), err);
		return s ? json_string(s) : NULL;
	}
	if (json_is_array(j)) {
		json_t *a = json_array(), *v;
		size_t i;
		json_array_foreach(j, i, v) {
			json_t *c = json_is_string(v)
					    ? json_var(r, json_string_value(v), depth, &ref, err)
					    : (ref = false, NULL);
			if (ref && !c) {
				json_decref(a);
				return NULL;
			}
			if (!ref)
				c = subst_json_at(r, v, depth, err);
			int rc = !c                        ? -1
				 : ref && json_is_array(c) ? json_array_extend(a, c)
							   : json_array_append(a, c);
			json_decref(c);
			if (rc < 0) {
				json_decref(a);
				return NULL;
			}
		}
		return a;
	}
	if (json_is_object(j)) {
		json_t *o = json_object(), *v;
		const char *k;
		json_object_foreach(j, k, v) {
			cleanup_free char *key = subst(r, k, err);
			json_t *c = key ? subst_json_at(r, v, depth, err) : NULL;
			if (!c || json_object_set_new(o, key, c) < 0) {
				json_decref(o);
				return NULL;
			}
		}
		return o;
	}
	return json_deep_copy(j);
}

static json_t *subst_json(const struct replay *r, json_t *j, struct kerr *err)
{
	return subst_json_at(r, j, 0, err);
}

/* RFC 7386 JSON merge patch of target (in place): objects merge key by
 * key, null deletes, anything else replaces. Returns the new target. */
static json_t *merge_patch(json_t *target, json_t *patch)
{
	if (!json_is_object(patch)) {
		json_decref(target);
		return json_incref(patch);
	}
	if (!json_is_object(target)) {
		json_decref(target);
		target = json_object();
	}
	const char *k;
	json_t *v;
	json_object_foreach(patch, k, v) {
		if (json_is_null(v)) {
			json_object_del(target, k);
			continue;
		}
		json_t *cur = json_incref(json_object_get(target, k));
		json_object_set_new(target, k, merge_patch(cur, v));
	}
	return target;
}

/* A whole (small) text file, NUL-terminated, or NULL. */
static char *read_text_file(const char *path)
{
	cleanup_fclose FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	FILE *m = open_memstream(&buf, &len);
	if (!m)
		return NULL;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(m);
	return buf;
}

/* ---- TAP ---- */

static void tap(struct replay *r, bool ok, const char *desc, const char *cite, const char *why)
{
	r->n++;
	printf("%s %d - %s\n", ok ? "ok" : "not ok", r->n, desc);
	if (!ok) {
		r->bad++;
		if (cite)
			printf("# request built by: %s\n", cite);
		for (const char *p = why; p && *p;) {
			const char *nl = strchrnul(p, '\n');
			printf("#   %.*s\n", (int)(nl - p), p);
			p = *nl ? nl + 1 : nl;
		}
	}
	fflush(stdout);
}

/* ---- the connection ---- */

static int send_req(struct replay *r, const struct rpc_method *m, const ProtobufCMessage *msg,
		    uint32_t *sid, struct kerr *err)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	cleanup_free uint8_t *buf = malloc(n ? n : 1);

	if (!buf)
		return kerr_set(err, -ENOMEM, "out of memory");
	protobuf_c_message_pack(msg, buf);
	if (ttrpc_client_send(r->c, m->service, m->method, buf, n, 0, NULL, 0, sid, err) < 0) {
		r->broken = true;
		return -EIO;
	}
	return 0;
}

static int io_send_read(struct replay *r, struct loop_io *io, struct kerr *err)
{
	Grpc__ReadStreamRequest q = GRPC__READ_STREAM_REQUEST__INIT;
	const struct rpc_method *m = rpc_catalog_find("grpc.AgentService",
						      io->err_stream ? "ReadStderr" : "ReadStdout");

	q.container_id = io->cid;
	q.exec_id = io->eid;
	q.len = io->read_len;
	return send_req(r, m, &q.base, &io->sid, err);
}

static void io_end(struct loop_io *io, int status, const char *msg)
{
	io->ended = true;
	io->end_status = status;
	io->end_msg = strdup(msg ? msg : "");
}

/* An answer to one of the loop's reads. */
static void io_answer(struct replay *r, struct loop_io *io, int status, const char *message,
		      const uint8_t *payload, size_t len)
{
	struct kerr err = { 0 };

	if (status != GRPC_OK) {
		io_end(io, status, message);
		return;
	}
	Grpc__ReadStreamResponse *a = grpc__read_stream_response__unpack(NULL, len, payload);
	if (!a) {
		io_end(io, GRPC_INTERNAL, "an answer that is not a ReadStreamResponse");
		return;
	}
	if (a->data.len == 0) { /* kata_agent.go readProcessStream: io.EOF */
		grpc__read_stream_response__free_unpacked(a, NULL);
		io_end(io, GRPC_OK, "EOF");
		return;
	}
	if (io->len + a->data.len > MAX_OUTPUT) {
		grpc__read_stream_response__free_unpacked(a, NULL);
		io_end(io, GRPC_RESOURCE_EXHAUSTED, "more output than the replay keeps");
		return;
	}
	if (io->len + a->data.len > io->cap) {
		size_t cap = (io->len + a->data.len) * 2;
		uint8_t *nb = realloc(io->buf, cap + 1);
		if (!nb) {
			grpc__read_stream_response__free_unpacked(a, NULL);
			io_end(io, GRPC_RESOURCE_EXHAUSTED, "out of memory");
			return;
		}
		io->buf = nb;
		io->cap = cap;
	}
	memcpy(io->buf + io->len, a->data.data, a->data.len);
	io->len += a->data.len;
	io->buf[io->len] = 0;
	grpc__read_stream_response__free_unpacked(a, NULL);
	if (io_send_read(r, io, &err) < 0)
		io_end(io, GRPC_UNAVAILABLE, err.msg);
}

/* Receive one answer (waiting at most ms) and hand it to its owner.
 * Returns 1 if one was handled, 0 on timeout, -1 when the connection broke. */
static int pump(struct replay *r, int ms)
{
	struct kerr err = { 0 };
	struct pollfd p = { .fd = ttrpc_client_fd(r->c), .events = POLLIN };
	uint32_t sid;
	int status = 0;
	char *message = NULL;
	uint8_t *payload = NULL;
	size_t len = 0;

	if (r->broken)
		return -1;
	int pr = poll(&p, 1, ms);
	if (pr <= 0)
		return pr < 0 && errno != EINTR ? -1 : 0;
	if (ttrpc_client_recv(r->c, &sid, &status, &message, &payload, &len, &err) < 0) {
		r->broken = true;
		printf("# the connection to the agent failed: %s\n", err.msg);
		return -1;
	}
	for (struct loop_io *io = r->ios; io; io = io->next) {
		if (!io->ended && io->sid == sid) {
			io_answer(r, io, status, message, payload, len);
			free(message);
			free(payload);
			return 1;
		}
	}
	for (struct call *c = r->calls; c; c = c->next) {
		if (!c->done && c->sid == sid) {
			c->done = true;
			c->status = status;
			c->message = message;
			c->payload = payload;
			c->len = len;
			return 1;
		}
	}
	printf("# an answer for stream %u that nothing asked for\n", sid);
	free(message);
	free(payload);
	return 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- checking answers ---- */

/* Is want a subset of got? Objects: every key of want matches; arrays:
 * same length, element by element; other values: equal. */
static bool json_subset(json_t *want, json_t *got, char *path, size_t pathsz)
{
	if (json_is_object(want)) {
		const char *k;
		json_t *v;
		if (!json_is_object(got))
			return false;
		json_object_foreach(want, k, v) {
			size_t l = strlen(path);
			snprintf(path + l, pathsz - l, ".%s", k);
			if (!json_subset(v, json_object_get(got, k), path, pathsz))
				return false;
			path[l] = 0;
		}
		return true;
	}
	if (json_is_array(want)) {
		size_t i;
		json_t *v;
		if (!json_is_array(got) || json_array_size(got) != json_array_size(want))
			return false;
		json_array_foreach(want, i, v) {
			size_t l = strlen(path);
			snprintf(path + l, pathsz - l, "[%zu]", i);
			if (!json_subset(v, json_array_get(got, i), path, pathsz))
				return false;
			path[l] = 0;
		}
		return true;
	}
	if (!got) /* proto3 JSON leaves out fields that hold their default */
		return json_is_null(want) || (json_is_integer(want) && !json_integer_value(want)) ||
		       (json_is_real(want) && json_real_value(want) == 0) || json_is_false(want) ||
		       (json_is_string(want) &&
			(!*json_string_value(want) || !strcmp(json_string_value(want), "0")));
	/* proto3 JSON writes 64-bit integers as strings: compare as text. */
	if (json_is_integer(want) && json_is_string(got)) {
		char b[32];
		snprintf(b, sizeof(b), "%" JSON_INTEGER_FORMAT, json_integer_value(want));
		return !strcmp(b, json_string_value(got));
	}
	return json_equal(want, got);
}

static int status_of(const char *name)
{
	if (!name || !strcmp(name, "OK"))
		return GRPC_OK;
	for (int s = 0; s <= 16; s++)
		if (!strcmp(grpc_status_name(s), name))
			return s;
	return -1;
}

/* Check a finished call against the step's expectations; why gets the
 * reason when it does not match. */
static bool check_answer(const struct call *c, json_t *step, char *why, size_t whysz)
{
	const char *exp = json_string_value(json_object_get(step, "expect"));
	const char *msg = json_string_value(json_object_get(step, "message"));
	json_t *want = json_object_get(step, "want");
	int es = status_of(exp);

	if (es < 0) {
		snprintf(why, whysz, "the scenario expects an unknown status \"%s\"", exp);
		return false;
	}
	if (c->status != es) {
		snprintf(why, whysz, "answered %s \"%s\", expected %s", grpc_status_name(c->status),
			 c->message ? c->message : "", grpc_status_name(es));
		return false;
	}
	if (msg && !strstr(c->message ? c->message : "", msg)) {
		snprintf(why, whysz, "the message \"%s\" does not contain \"%s\"",
			 c->message ? c->message : "", msg);
		return false;
	}
	if (!want)
		return true;
	ProtobufCMessage *a = protobuf_c_message_unpack(c->m->output, NULL, c->len, c->payload);
	if (!a) {
		snprintf(why, whysz, "the answer is not a valid %s", c->m->output->name);
		return false;
	}
	struct kerr err = { 0 };
	json_t *got = pbjson_to_json(a, &err);
	protobuf_c_message_free_unpacked(a, NULL);
	char path[256] = "answer";
	bool ok = got && json_subset(want, got, path, sizeof(path));
	if (!ok) {
		cleanup_free char *g = got ? json_dumps(got, JSON_COMPACT) : NULL;
		snprintf(why, whysz, "%s differs from what the step wants; the answer: %.400s",
			 path, g ? g : err.msg);
	}
	json_decref(got);
	return ok;
}

/* ---- building requests ---- */

/* The step's request as a message of m's input type. */
static ProtobufCMessage *build_request(const struct rpc_method *m, json_t *step, struct kerr *err)
{
	json_t *req = json_object_get(step, "req");
	json_t *spec = json_object_get(step, "spec");
	const char *text = json_string_value(json_object_get(step, "data_text"));
	ProtobufCMessage *msg = NULL;

	json_t *q = req ? json_deep_copy(req) : json_object();
	if (!q)
		return NULL;
	if (spec) {
		json_t *s = json_deep_copy(spec);
		json_t *mp = json_object_get(step, "spec_merge");
		if (s && mp)
			s = merge_patch(s, mp);
		Grpc__Spec *g = NULL;
		if (!s || oci_json_to_spec(s, &g, err) < 0) {
			json_decref(s);
			json_decref(q);
			return NULL;
		}
		json_decref(s);
		json_t *gj = pbjson_to_json(&g->base, err);
		protobuf_c_message_free_unpacked(&g->base, NULL);
		if (!gj || json_object_set_new(q, "OCI", gj) < 0) {
			json_decref(q);
			return NULL;
		}
	}
	int rc = pbjson_from_json(m->input, q, &msg, err);
	json_decref(q);
	if (rc < 0)
		return NULL;
	if (text) {
		const ProtobufCFieldDescriptor
			*f = protobuf_c_message_descriptor_get_field_by_name(m->input, "data");
		cleanup_free char *t = strdup(text);
		if (!f || f->type != PROTOBUF_C_TYPE_BYTES || !t) {
			protobuf_c_message_free_unpacked(msg, NULL);
			if (!err->msg[0])
				kerr_set(err, -EINVAL, "data_text: %s has no bytes field \"data\"",
					 m->input->name);
			return NULL;
		}
		ProtobufCBinaryData *b = (ProtobufCBinaryData *)((char *)msg + f->offset);
		free(b->data);
		b->len = strlen(t);
		b->data = (uint8_t *)take_ptr(&t);
	}
	return msg;
}

static const struct rpc_method *method_of(const char *name)
{
	if (!strchr(name, '/'))
		return rpc_catalog_find("grpc.AgentService", name);
	cleanup_free char *s = NULL;
	if (asprintf(&s, "%s%s", strchr(name, '.') ? "" : "grpc.", name) < 0)
		return NULL;
	char *slash = strrchr(s, '/');
	*slash = 0;
	return rpc_catalog_find(s, slash + 1);
}

/* ---- steps ---- */

static int wait_secs(json_t *step)
{
	json_t *t = json_object_get(step, "timeout");
	return json_is_integer(t) ? (int)json_integer_value(t) : DEFAULT_WAIT_S;
}

static struct call *find_call(struct replay *r, const char *name)
{
	for (struct call *c = r->calls; c; c = c->next)
		if (c->name && !strcmp(c->name, name))
			return c;
	return NULL;
}

static void call_forget(struct replay *r, struct call *c)
{
	for (struct call **pp = &r->calls; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	free(c->name);
	free(c->message);
	free(c->payload);
	free(c);
}

/* Wait for c's answer (other answers are handled meanwhile). */
static bool wait_call(struct replay *r, struct call *c, int secs)
{
	int64_t end = now_ms() + (int64_t)secs * 1000;
	while (!c->done) {
		int64_t left = end - now_ms();
		if (left <= 0 || pump(r, (int)left) < 0)
			return false;
	}
	return true;
}

static void describe(char *d, size_t dsz, json_t *step, const char *fallback_fmt, const char *a,
		     const char *b)
{
	const char *name = json_string_value(json_object_get(step, "name"));
	if (name)
		snprintf(d, dsz, "%s", name);
	else
		snprintf(d, dsz, fallback_fmt, a, b ? b : "");
}

static bool finish_call(struct replay *r, struct call *c, json_t *step, const char *what)
{
	char desc[512], why[1024] = "";
	const char *exp = json_string_value(json_object_get(step, "expect"));
	const char *cite = json_string_value(json_object_get(step, "cite"));
	bool ok;

	describe(desc, sizeof(desc), step, "%s -> %s", what, exp ? exp : "OK");
	if (!wait_call(r, c, wait_secs(step))) {
		snprintf(why, sizeof(why), "no answer within %d s%s", wait_secs(step),
			 r->broken ? " (the connection failed)" : "");
		ok = false;
	} else {
		ok = check_answer(c, step, why, sizeof(why));
	}
	tap(r, ok, desc, cite, why);
	call_forget(r, c);
	return ok;
}

static bool step_call(struct replay *r, json_t *step)
{
	struct kerr err = { 0 };
	const char *name = json_string_value(json_object_get(step, "call"));
	const char *cite = json_string_value(json_object_get(step, "cite"));
	const char *as = json_string_value(json_object_get(step, "as"));
	bool async = json_is_true(json_object_get(step, "async"));
	const struct rpc_method *m = method_of(name);
	char desc[512];

	describe(desc, sizeof(desc), step, "%s%s", name, async ? " (sent)" : "");
	if (!m) {
		if (!async)
			tap(r, false, desc, cite, "no such method in the agent API");
		return false;
	}
	ProtobufCMessage *msg = build_request(m, step, &err);
	if (!msg) {
		char why[600];
		snprintf(why, sizeof(why), "the step's request is not a valid %s: %s",
			 m->input->name, err.msg);
		if (!async)
			tap(r, false, desc, cite, why);
		else
			printf("# %s: %s\n", desc, why);
		return false;
	}
	struct call *c = calloc(1, sizeof(*c));
	if (!c) {
		protobuf_c_message_free_unpacked(msg, NULL);
		return false;
	}
	c->m = m;
	c->name = async && as ? strdup(as) : NULL;
	c->next = r->calls;
	r->calls = c;
	int rc = send_req(r, m, msg, &c->sid, &err);
	protobuf_c_message_free_unpacked(msg, NULL);
	if (rc < 0) {
		c->done = true;
		c->status = GRPC_UNAVAILABLE;
		c->message = strdup(err.msg);
	}
	if (async)
		return rc == 0;
	return finish_call(r, c, step, name);
}

static bool step_await(struct replay *r, json_t *step)
{
	const char *name = json_string_value(json_object_get(step, "await"));
	struct call *c = find_call(r, name);
	char desc[512];

	if (!c) {
		describe(desc, sizeof(desc), step, "await %s", name, NULL);
		tap(r, false, desc, NULL, "no async call by that name was sent");
		return false;
	}
	char what[300];
	snprintf(what, sizeof(what), "%s (%s)", name, c->m->method);
	return finish_call(r, c, step, what);
}

static struct loop_io *find_io(struct replay *r, const char *name)
{
	for (struct loop_io *io = r->ios; io; io = io->next)
		if (!strcmp(io->name, name))
			return io;
	return NULL;
}

static bool step_stdio(struct replay *r, json_t *step)
{
	struct kerr err = { 0 };
	const char *name = json_string_value(json_object_get(step, "stdio"));
	const char *stream = json_string_value(json_object_get(step, "stream"));
	struct loop_io *io = calloc(1, sizeof(*io));

	if (!io)
		return false;
	io->name = strdup(name);
	io->cid = strdup(json_string_value(json_object_get(step, "container")) ?: "");
	io->eid = strdup(json_string_value(json_object_get(step, "exec")) ?: "");
	io->err_stream = stream && !strcmp(stream, "stderr");
	json_t *len = json_object_get(step, "len");
	io->read_len = json_is_integer(len) ? (uint32_t)json_integer_value(len) : STDIO_READ_LEN;
	io->next = r->ios;
	r->ios = io;
	if (!io->name || !io->cid || !io->eid || io_send_read(r, io, &err) < 0) {
		io_end(io, GRPC_UNAVAILABLE, err.msg);
		return false;
	}
	return true;
}

static bool output_matches(const struct loop_io *io, json_t *step, char *why, size_t whysz)
{
	const char *eq = json_string_value(json_object_get(step, "equals"));
	const char *has = json_string_value(json_object_get(step, "contains"));
	json_t *bytes = json_object_get(step, "bytes");
	const char *out = io->buf ? (const char *)io->buf : "";

	if (eq && (io->len != strlen(eq) || memcmp(out, eq, io->len))) {
		snprintf(why, whysz, "the output (%zu bytes) is \"%.300s\", expected \"%s\"",
			 io->len, out, eq);
		return false;
	}
	if (has && !memmem(out, io->len, has, strlen(has))) {
		snprintf(why, whysz, "the output (%zu bytes) \"%.300s\" does not contain \"%s\"",
			 io->len, out, has);
		return false;
	}
	if (json_is_integer(bytes) && io->len != (size_t)json_integer_value(bytes)) {
		snprintf(why, whysz, "%zu bytes of output, expected %" JSON_INTEGER_FORMAT, io->len,
			 json_integer_value(bytes));
		return false;
	}
	return true;
}

static bool step_stdio_wait(struct replay *r, json_t *step, bool until_end)
{
	const char *name = json_string_value(
		json_object_get(step, until_end ? "stdio_end" : "stdio_until"));
	const char *has = json_string_value(json_object_get(step, "contains"));
	const char *cite = json_string_value(json_object_get(step, "cite"));
	struct loop_io *io = find_io(r, name);
	char desc[512], why[1024] = "";
	int64_t end = now_ms() + (int64_t)wait_secs(step) * 1000;

	describe(desc, sizeof(desc), step,
		 until_end ? "%s: output ends" : "%s: output shows \"%s\"", name, has);
	if (!io) {
		tap(r, false, desc, cite, "no stdio loop by that name");
		return false;
	}
	for (;;) {
		bool seen = has && io->buf && memmem(io->buf, io->len, has, strlen(has));
		if (until_end ? io->ended : (seen || io->ended))
			break;
		int64_t left = end - now_ms();
		if (left <= 0 || pump(r, (int)left) < 0)
			break;
	}
	bool ok;
	if (until_end) {
		const char *want_end = json_string_value(json_object_get(step, "end"));
		int es = want_end && strcmp(want_end, "EOF") ? status_of(want_end) : GRPC_OK;
		if (!io->ended) {
			snprintf(why, sizeof(why),
				 "no end within %d s; %zu bytes so far: \"%.300s\"",
				 wait_secs(step), io->len, io->buf ? (char *)io->buf : "");
			ok = false;
		} else if (io->end_status != es) {
			snprintf(why, sizeof(why), "ended with %s \"%s\", expected %s",
				 grpc_status_name(io->end_status), io->end_msg,
				 es == GRPC_OK ? "EOF" : grpc_status_name(es));
			ok = false;
		} else {
			ok = output_matches(io, step, why, sizeof(why));
		}
	} else {
		ok = has && io->buf && memmem(io->buf, io->len, has, strlen(has));
		if (!ok)
			snprintf(why, sizeof(why), "%s after %zu bytes: \"%.300s\"",
				 io->ended ? "the stream ended" : "not seen in time", io->len,
				 io->buf ? (char *)io->buf : "");
	}
	tap(r, ok, desc, cite, why);
	return ok;
}

static bool step_shell(struct replay *r, json_t *step)
{
	const char *cmd = json_string_value(json_object_get(step, "shell"));
	const char *out_eq = json_string_value(json_object_get(step, "output"));
	const char *has = json_string_value(json_object_get(step, "contains"));
	json_t *ex = json_object_get(step, "exit");
	int want = json_is_integer(ex) ? (int)json_integer_value(ex) : 0;
	char desc[512], why[2048] = "";

	describe(desc, sizeof(desc), step, "shell: %s", cmd, NULL);
	fflush(stdout);
	FILE *p = popen(cmd, "r");
	if (!p) {
		tap(r, false, desc, NULL, strerror(errno));
		return false;
	}
	char out[4096];
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	char sink[4096];
	while (fread(sink, 1, sizeof(sink), p) > 0)
		;
	int st = pclose(p);
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	while (n && out[n - 1] == '\n')
		out[--n] = 0;
	bool ok = code == want && (!out_eq || !strcmp(out, out_eq)) && (!has || strstr(out, has));
	if (!ok)
		snprintf(why, sizeof(why), "exit status %d (expected %d); output:\n%.1500s", code,
			 want, out);
	tap(r, ok, desc, NULL, why);
	return ok;
}

static enum step_place place_of(const struct replay *r, json_t *step, size_t i)
{
	if (json_is_true(json_object_get(step, "host_side")))
		return i < r->first_call ? PLACE_HOST_BEFORE : PLACE_HOST_DURING;
	return json_object_get(step, "not_in_guest") ? PLACE_NOT_IN_GUEST : PLACE_ANY;
}

/* In the guest, a host step during the scenario: ask for it (a TAP comment
 * the VM suite's runner passes to the host), then wait for the host's TAP of
 * it in HOST_DONE_DIR, answering the stdio loops meanwhile. */
static bool step_ask_host(struct replay *r, json_t *step, size_t i)
{
	const char *dir = var_get(r, "HOST_DONE_DIR", 13);
	const char *name = json_string_value(json_object_get(step, "name")) ?: "a host step";
	cleanup_free char *path = NULL;
	cleanup_free char *text = NULL;
	char desc[512], why[2048] = "";
	int64_t end = now_ms() + (int64_t)wait_secs(step) * 1000;

	snprintf(desc, sizeof(desc), "%s (by the host, asked from the guest)", name);
	printf("# host step %zu: %s\n", i + 1, name);
	fflush(stdout);
	if (!dir || !*dir || asprintf(&path, "%s/step-%zu.tap", dir, i + 1) < 0) {
		tap(r, false, desc, NULL, "HOST_DONE_DIR is not set: no host to ask");
		return false;
	}
	while (!(text = read_text_file(path)) && now_ms() < end)
		if (pump(r, 100) < 0)
			usleep(100000);
	bool ok = text && !strncmp(text, "1..1\n", 5) && strstr(text, "\nok 1 ") &&
		  !strstr(text, "\nnot ok ");
	if (!ok)
		snprintf(why, sizeof(why), "%s%.1800s",
			 text ? "the host's TAP of it:\n" : "no answer from the host in time",
			 text ? text : "");
	tap(r, ok, desc, json_string_value(json_object_get(step, "cite")), why);
	return ok;
}

/* Is step i played in this run's mode (in the guest, a host step during
 * the scenario is played by asking the host)? */
static bool played(const struct replay *r, json_t *step, size_t i)
{
	enum step_place p = place_of(r, step, i);

	switch (r->mode) {
	case MODE_HOST_SIDE:
		if (r->only_step)
			return i + 1 == r->only_step && p != PLACE_ANY && p != PLACE_NOT_IN_GUEST;
		return p == PLACE_HOST_BEFORE;
	case MODE_IN_GUEST:
		return p == PLACE_ANY || p == PLACE_HOST_DURING;
	default:
		return true;
	}
}

/* Why step i is not played (a TAP comment), or NULL. */
static const char *not_played_why(const struct replay *r, json_t *step, size_t i)
{
	if (played(r, step, i) || r->mode != MODE_IN_GUEST)
		return NULL;
	if (place_of(r, step, i) == PLACE_HOST_BEFORE)
		return "done by the host before the boot";
	return json_string_value(json_object_get(step, "not_in_guest")) ?: "not in the guest";
}

/* Is the step a TAP point when it is played? */
static bool is_point(json_t *step)
{
	if (json_object_get(step, "note") || json_object_get(step, "stdio"))
		return false;
	return !(json_object_get(step, "call") && json_is_true(json_object_get(step, "async")));
}

static bool counts(const struct replay *r, json_t *step, size_t i)
{
	return played(r, step, i) && is_point(step);
}

static bool run_step_substituted(struct replay *r, json_t *step)
{
	if (json_object_get(step, "note")) {
		printf("# %s\n", json_string_value(json_object_get(step, "note")));
		return true;
	}
	if (json_object_get(step, "call"))
		return step_call(r, step);
	if (json_object_get(step, "await"))
		return step_await(r, step);
	if (json_object_get(step, "stdio"))
		return step_stdio(r, step);
	if (json_object_get(step, "stdio_until"))
		return step_stdio_wait(r, step, false);
	if (json_object_get(step, "stdio_end"))
		return step_stdio_wait(r, step, true);
	if (json_object_get(step, "shell"))
		return step_shell(r, step);
	tap(r, false, "a step of an unknown kind", NULL, "the scenario is malformed");
	return false;
}

/* Every string of the step gets its variables first; a step that names an
 * unknown one fails (as a TAP point when it is one). */
static bool run_step(struct replay *r, json_t *raw)
{
	struct kerr err = { 0 };
	json_t *step = subst_json(r, raw, &err);

	if (!step) {
		char why[600];
		snprintf(why, sizeof(why), "the step cannot be read: %s", err.msg);
		if (is_point(raw))
			tap(r, false, json_string_value(json_object_get(raw, "name")) ?: "a step",
			    NULL, why);
		else
			printf("# %s\n", why);
		return false;
	}
	bool ok = run_step_substituted(r, step);
	json_decref(step);
	return ok;
}

static void replay_free(struct replay *r)
{
	while (r->calls)
		call_forget(r, r->calls);
	while (r->ios) {
		struct loop_io *io = r->ios;
		r->ios = io->next;
		free(io->name);
		free(io->cid);
		free(io->eid);
		free(io->buf);
		free(io->end_msg);
		free(io);
	}
	for (size_t i = 0; i < r->nvars; i++) {
		free(r->vars[i].name);
		free(r->vars[i].value);
	}
	if (r->c)
		ttrpc_client_free(r->c);
}

static int add_var(struct replay *r, const char *name, size_t nl, const char *value)
{
	if (r->nvars == MAX_VARS)
		return -1;
	r->vars[r->nvars].name = strndup(name, nl);
	r->vars[r->nvars].value = strdup(value);
	if (!r->vars[r->nvars].name || !r->vars[r->nvars].value)
		return -1;
	/* Shell steps see every variable in their environment. */
	setenv(r->vars[r->nvars].name, value, 1);
	r->nvars++;
	return 0;
}

/* The scenario's "files" and "vars" into variables; the command line's
 * (already there) win. */
static int load_vars(struct replay *r, json_t *doc, const char *dir)
{
	const char *k;
	json_t *v;

	json_object_foreach(json_object_get(doc, "files"), k, v) {
		cleanup_free char *path = NULL;
		cleanup_free char *text = NULL;
		if (!json_is_string(v) || asprintf(&path, "%s/%s", dir, json_string_value(v)) < 0 ||
		    !(text = read_text_file(path))) {
			fprintf(stderr, "ERROR: files.%s: cannot read %s\n", k,
				json_is_string(v) ? json_string_value(v) : "(not a string)");
			return -1;
		}
		if (!var_get(r, k, strlen(k)) && add_var(r, k, strlen(k), text) < 0)
			return -1;
	}
	json_object_foreach(json_object_get(doc, "vars"), k, v) {
		struct kerr err = { 0 };
		if (var_get(r, k, strlen(k)))
			continue;
		cleanup_free char *val = json_is_string(v) ? subst(r, json_string_value(v), &err)
							   : NULL;
		if (!val || add_var(r, k, strlen(k), val) < 0) {
			fprintf(stderr, "ERROR: variable %s: %s\n", k,
				val          ? "too many variables"
				: err.msg[0] ? err.msg
					     : "not a string");
			return -1;
		}
	}
	return 0;
}

/* Play the steps of this run's mode; TAP on stdout, plan first. */
static int play(struct replay *r, const struct opts *o, json_t *doc, const char *file)
{
	json_t *steps = json_object_get(doc, "steps"), *step;
	size_t i;
	int ret;

	printf("1..%d\n# scenario %s: %s\n", r->plan,
	       json_string_value(json_object_get(doc, "name")) ?: file,
	       json_string_value(json_object_get(doc, "about")) ?: "");
	json_array_foreach(steps, i, step) {
		const char *why = not_played_why(r, step, i);
		if (why && is_point(step))
			printf("# not played in the guest (%s): %s\n", why,
			       json_string_value(json_object_get(step, "name")) ?: "a step");
	}
	fflush(stdout);
	/* The host side lays out files: it needs no agent. */
	if (r->mode != MODE_HOST_SIDE && (ret = connect_agent(o, &r->c)) != 0) {
		while (r->n < r->plan)
			tap(r, false, "not run: cannot connect to the agent", NULL, NULL);
		return ret;
	}
	json_array_foreach(steps, i, step) {
		if (!played(r, step, i))
			continue;
		bool ok = r->mode == MODE_IN_GUEST && place_of(r, step, i) == PLACE_HOST_DURING
				  ? step_ask_host(r, step, i)
				  : run_step(r, step);
		if (!ok && json_is_true(json_object_get(step, "fatal"))) {
			while (r->n < r->plan)
				tap(r, false, "not run: a fatal step failed", NULL, NULL);
			break;
		}
	}
	return r->bad ? EXIT_RPC : 0;
}

/* The options before SCENARIO.json: how many arguments they took, or -1. */
static int parse_mode(struct replay *r, bool *plan_only, int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "--plan")) {
		*plan_only = true;
		return 1;
	}
	if (argc < 2 || strcmp(argv[1], "--host-side"))
		return 0;
	r->mode = MODE_HOST_SIDE;
	if (argc < 3 || strcmp(argv[2], "--step"))
		return 1;
	char *end = NULL;
	if (argc >= 4)
		r->only_step = strtoul(argv[3], &end, 10);
	return r->only_step && !*end ? 3 : -1;
}

int cmd_replay(const struct opts *o, int argc, char **argv)
{
	struct replay r = { 0 };
	json_error_t je;
	int ret = EXIT_USAGE;
	bool plan_only = false;
	int used = parse_mode(&r, &plan_only, argc, argv);

	argc -= used, argv += used;
	if (used < 0 || argc < 2) {
		fprintf(stderr, "Usage: kata-agent-ctl replay [--plan | --host-side [--step N]] "
				"SCENARIO.json [NAME=VALUE...]\n");
		return EXIT_USAGE;
	}
	json_t *doc = json_load_file(argv[1], 0, &je);
	json_t *steps = doc ? json_object_get(doc, "steps") : NULL;
	if (!json_is_array(steps)) {
		fprintf(stderr, "ERROR: %s: %s\n", argv[1], doc ? "no \"steps\" array" : je.text);
		json_decref(doc);
		return EXIT_USAGE;
	}
	cleanup_free char *dir = strdup(argv[1]);
	char *slash = dir ? strrchr(dir, '/') : NULL;
	if (slash)
		*slash = 0;
	if (!dir || add_var(&r, "SCENARIO_DIR", 12, slash ? dir : ".") < 0)
		goto out;
	for (int i = 2; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		if (!eq || eq == argv[i] ||
		    add_var(&r, argv[i], (size_t)(eq - argv[i]), eq + 1) < 0) {
			fprintf(stderr, "ERROR: \"%s\" is not NAME=VALUE\n", argv[i]);
			goto out;
		}
	}
	/* Only the command line says where the scenario is played. */
	const char *g = var_get(&r, "IN_GUEST", 8);
	if (g && *g && r.mode == MODE_ALL)
		r.mode = MODE_IN_GUEST;

	size_t i;
	json_t *step;
	r.first_call = json_array_size(steps);
	json_array_foreach(steps, i, step) {
		if (json_object_get(step, "call") && i < r.first_call)
			r.first_call = i;
	}
	json_array_foreach(steps, i, step)
		if (counts(&r, step, i))
			r.plan++;
	if (r.only_step && r.plan != 1) {
		fprintf(stderr, "ERROR: step %zu is no host_side step of %s\n", r.only_step,
			argv[1]);
		ret = EXIT_USAGE;
		goto out;
	}
	if (plan_only) { /* the plan depends on the steps and IN_GUEST only */
		printf("%d\n", r.plan);
		ret = 0;
		goto out;
	}
	if (load_vars(&r, doc, slash ? dir : ".") < 0)
		goto out;
	ret = play(&r, o, doc, argv[1]);
out:
	replay_free(&r);
	json_decref(doc);
	return ret;
}
