/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.c - the agent policy, executor side (policy.h, doc/policy.md).
 *
 * The executor keeps what must outlive a policy process: the policy text in
 * force (from the parent at start, or SetPolicy) and the last base document
 * ({"pstate": ...}) the policy process reported. Every request of the
 * front-end is deferred (common/ipc.h, ipc_chan_defer) until the policy
 * process's verdict: allowed, its handler runs as if the request had just
 * arrived; denied, PERMISSION_DENIED "<Request> is blocked by policy:
 * <prints>" (upstream src/agent/src/policy.rs allow_request). The policy
 * process answers in order, so requests keep their order and ops apply in
 * the order the requests came.
 *
 * The parent starts a policy process at boot only with a policy in force;
 * otherwise the first SetPolicy asks it for one (CTL_START_POLICY) and
 * waits for its channel (CTL_NEW_POLICY), at most START_TIMEOUT_NS. Once
 * started it stays: the parent restarts it whenever it dies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "digest.h"
#include "executor.h"
#include "answer.h"
#include "grpc_status.h"
#include "policy.h"
#include "policy_input.h"

#define NS_PER_S 1000000000ull
/* A policy process that has not answered a check for this long is stuck
 * (its own bounds stop a runaway query within seconds): its channel is
 * closed, the checks waiting fail UNAVAILABLE, the parent restarts it. */
#define CHECK_TIMEOUT_NS (30 * NS_PER_S)
#define EMPTY_BASE "{\"pstate\":{}}"
/* Requests waiting for their verdict at once: each holds its payload (up
 * to 4 MiB), so a front-end that floods the executor is refused
 * RESOURCE_EXHAUSTED past this, instead of growing the executor. */
#define MAX_WAITING 64
/* A SetPolicy waits this long for the policy process it asked the parent
 * for (it comes in milliseconds; the parent's restart throttle may hold it
 * a second), then fails UNAVAILABLE. */
#define START_TIMEOUT_NS (10 * NS_PER_S)

enum check_kind {
	CHECK_REQUEST, /* a front-end request waits for it */
	CHECK_MONITOR, /* a dry check for the monitors' verdicts */
	CHECK_LOAD,    /* the policy in force, into a new policy process */
	CHECK_SET,     /* SetPolicy: the new policy */
};

struct policy_check {
	struct ipc_pending req;
	enum check_kind kind;
	uint64_t sent_ns;
	char endpoint[IPC_POLICY_ENDPOINT_MAX];
	struct ipc_deferred *d; /* CHECK_REQUEST */
	uint32_t deny_bit;      /* CHECK_MONITOR */
	uint32_t fe_id, fe_gen; /* CHECK_SET: the SetPolicy call */
	char *text;             /* CHECK_SET: installed once loaded */
	size_t len;
	struct policy_check *next; /* CHECK_SET waiting for a policy process */
};

struct policy_client {
	struct ipc_chan *chan; /* to the policy process; NULL: none now */
	struct ipc_pending_list pending;
	struct loop_timer *timer;
	/* The policy in force; NULL: none (everything is allowed). */
	char *text;
	size_t len;
	char source[256];
	char *base; /* the base document, JSON */
	/* The monitors' verdicts (IPC_MON_DENY_*), and the ones being asked. */
	uint32_t mon_deny, mon_next;
	unsigned mon_waiting;
	/* SetPolicy calls waiting for a policy process (none ran when they
	 * came), in order; whether the parent was asked for one; their bound. */
	struct policy_check *starting;
	unsigned n_starting;
	bool asked;
	struct loop_timer *start_timer;
};

/* The requests a monitor answers, by deny bit. */
static const struct {
	uint32_t bit;
	const ProtobufCMessageDescriptor *request;
} monitor_endpoints[] = {
	{ IPC_MON_DENY_READ_STREAM, &grpc__read_stream_request__descriptor },
	{ IPC_MON_DENY_WRITE_STREAM, &grpc__write_stream_request__descriptor },
	{ IPC_MON_DENY_CLOSE_STDIN, &grpc__close_stdin_request__descriptor },
	{ IPC_MON_DENY_TTY_WIN_RESIZE, &grpc__tty_win_resize_request__descriptor },
	{ IPC_MON_DENY_WAIT_PROCESS, &grpc__wait_process_request__descriptor },
};

static struct policy_client *client(struct executor *x)
{
	if (!x->pol) {
		x->pol = calloc(1, sizeof(*x->pol));
		if (!x->pol) {
			log_error("policy: out of memory");
			abort();
		}
	}
	return x->pol;
}

/* The policy in force, for the log: where it came from and its sha256. */
static void log_policy(const struct policy_client *p)
{
	char hex[65];
	digest_sha256_hex(p->text, p->len, hex);
	json_t *f = json_pack("{s:s,s:s,s:i}", "policy-source", p->source, "policy-sha256", hex,
			      "policy-bytes", (int)p->len);
	log_fields(LOG_LVL_INFO, f, "policy in force: %s (sha256 %s)", p->source, hex);
}

/* ---- sending to the policy process ---- */

static void arm_timer(struct executor *x);

static void on_timer(struct loop *l, void *data)
{
	struct executor *x = data;
	struct policy_client *p = client(x);
	p->timer = NULL;
	struct ipc_pending *oldest = p->pending.head;
	if (!oldest)
		return;
	struct policy_check *k = ipc_pending_entry(oldest, struct policy_check, req);
	if (loop_now_ns() - k->sent_ns >= CHECK_TIMEOUT_NS && p->chan) {
		ipc_chan_close(p->chan, "the policy process does not answer");
		return;
	}
	arm_timer(x);
}

static void arm_timer(struct executor *x)
{
	struct policy_client *p = client(x);
	if (p->timer || !p->pending.head)
		return;
	struct policy_check *k = ipc_pending_entry(p->pending.head, struct policy_check, req);
	p->timer = loop_timer_add(x->loop, k->sent_ns + CHECK_TIMEOUT_NS, on_timer, x);
}

/* Send type with the two parts of its payload, as check k. */
static int send_check(struct executor *x, struct policy_check *k, uint32_t type, const void *head,
		      size_t hlen, const void *tail, size_t tlen, struct kerr *err)
{
	struct policy_client *p = client(x);
	if (!p->chan)
		return kerr_set_status(err, GRPC_UNAVAILABLE, -ENOTCONN,
				       "the policy process is not running");
	cleanup_free uint8_t *buf = malloc(hlen + tlen);
	if (!buf)
		return kerr_set(err, -ENOMEM, "out of memory");
	memcpy(buf, head, hlen);
	memcpy(buf + hlen, tail, tlen);
	uint32_t id = ipc_chan_next_id(p->chan);
	int r = ipc_chan_send(p->chan, type, id, buf, hlen + tlen, -1, err);
	if (r < 0)
		return kerr_set_status(err, GRPC_UNAVAILABLE, r, "policy process: %s", err->msg);
	if (!p->chan)
		return kerr_set_status(err, GRPC_UNAVAILABLE, -EPIPE,
				       "the policy process went away");
	k->sent_ns = loop_now_ns();
	ipc_pending_add(&p->pending, &k->req, type, id);
	arm_timer(x);
	return 0;
}

static int send_load(struct executor *x, struct policy_check *k, const char *text, size_t len,
		     const char *base, struct kerr *err)
{
	size_t nb = strlen(base);
	cleanup_free char *tail = malloc(len + nb);
	if (!tail)
		return kerr_set(err, -ENOMEM, "out of memory");
	memcpy(tail, text, len);
	memcpy(tail + len, base, nb);
	struct ipc_policy_load h = { .text_len = (uint32_t)len, .data_len = (uint32_t)nb };
	return send_check(x, k, IPC_POLICY_LOAD, &h, sizeof(h), tail, len + nb, err);
}

static int send_query(struct executor *x, struct policy_check *k, const json_t *input, bool dry,
		      struct kerr *err)
{
	cleanup_free char *in = json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!in)
		return kerr_set(err, -ENOMEM, "out of memory");
	struct ipc_policy_check h = { .dry_run = dry };
	snprintf(h.endpoint, sizeof(h.endpoint), "%s", k->endpoint);
	return send_check(x, k, IPC_POLICY_CHECK, &h, sizeof(h), in, strlen(in), err);
}

static struct policy_check *check_new(enum check_kind kind, const char *endpoint)
{
	struct policy_check *k = calloc(1, sizeof(*k));
	if (k) {
		k->kind = kind;
		snprintf(k->endpoint, sizeof(k->endpoint), "%s", endpoint);
	}
	return k;
}

static void check_free(struct policy_check *k)
{
	free(k->text);
	free(k);
}

/* ---- the monitors' verdicts ---- */

static void send_monitor_policy(struct container *ct, uint32_t deny)
{
	struct ipc_mon_policy mp = { .deny = deny };
	struct kerr e = { 0 };
	if (ct->em && ipc_chan_send(ct->em, IPC_MON_POLICY, 0, &mp, sizeof(mp), -1, &e) < 0)
		log_error("container %s: sending the policy's verdicts: %s", ct->id, e.msg);
}

static void monitors_update(struct executor *x)
{
	struct policy_client *p = client(x);
	log_info("policy: the monitors' requests: ReadStream %s, WriteStream %s, CloseStdin %s, "
		 "TtyWinResize %s, WaitProcess %s",
		 p->mon_deny & IPC_MON_DENY_READ_STREAM ? "redacted" : "allowed",
		 p->mon_deny & IPC_MON_DENY_WRITE_STREAM ? "denied" : "allowed",
		 p->mon_deny & IPC_MON_DENY_CLOSE_STDIN ? "denied" : "allowed",
		 p->mon_deny & IPC_MON_DENY_TTY_WIN_RESIZE ? "denied" : "allowed",
		 p->mon_deny & IPC_MON_DENY_WAIT_PROCESS ? "denied" : "allowed");
	for (struct container *ct = x->ctrs; ct; ct = ct->next)
		send_monitor_policy(ct, p->mon_deny);
}

/* The defaults of a request (what serde gives for ::default()). */
static json_t *default_input(const ProtobufCMessageDescriptor *d, struct kerr *err)
{
	union {
		ProtobufCMessage base;
		uint8_t room[256];
	} u;
	if (d->sizeof_message > sizeof(u)) {
		kerr_set(err, -E2BIG, "%s: no room", d->short_name);
		return NULL;
	}
	protobuf_c_message_init(d, &u);
	return policy_input(&u.base, err);
}

/* Ask the policy, without applying its ops, about each request a monitor
 * answers, with that request's defaults as input (genpolicy's rules for
 * them read no input: policy_data.request_defaults). */
static void monitors_ask(struct executor *x)
{
	struct policy_client *p = client(x);
	p->mon_next = 0;
	p->mon_waiting = 0;
	for (size_t i = 0; i < sizeof(monitor_endpoints) / sizeof(monitor_endpoints[0]); i++) {
		struct kerr e = { 0 };
		const char *ep = monitor_endpoints[i].request->short_name;
		struct policy_check *k = check_new(CHECK_MONITOR, ep);
		json_t *input = k ? default_input(monitor_endpoints[i].request, &e) : NULL;
		if (k)
			k->deny_bit = monitor_endpoints[i].bit;
		if (!input || send_query(x, k, input, true, &e) < 0) {
			/* closed: what cannot be asked is denied */
			log_warn("policy: %s for the monitors: %s", ep, e.msg);
			p->mon_next |= monitor_endpoints[i].bit;
			if (k)
				check_free(k);
		} else {
			p->mon_waiting++;
		}
		json_decref(input);
	}
	if (!p->mon_waiting) {
		p->mon_deny = p->mon_next;
		monitors_update(x);
	}
}

/* ---- answers of the policy process ---- */

static void monitor_answered(struct executor *x, struct policy_check *k, bool allowed)
{
	struct policy_client *p = client(x);
	if (!allowed)
		p->mon_next |= k->deny_bit;
	if (p->mon_waiting && --p->mon_waiting == 0) {
		p->mon_deny = p->mon_next;
		monitors_update(x);
	}
}

static void request_answered(struct executor *x, struct policy_check *k, const struct ipc_msg *m)
{
	struct kerr why = { 0 };
	if (ipc_error_decode(m, &why)) {
		/* upstream: INTERNAL "<ep>: internal error ..."; the bounds keep
		 * their own status (DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED) */
		struct kerr e = { 0 };
		kerr_set_status(&e, why.status, why.code, "%s: policy check failed: %s",
				k->endpoint, why.msg);
		log_warn("%s", e.msg);
		ipc_deferred_refuse(k->d, &e);
		return;
	}
	const struct ipc_policy_verdict *v = m->in;
	if (v->allowed) {
		log_debug("policy: %s allowed", k->endpoint);
		ipc_deferred_resume(k->d);
		return;
	}
	const char *prints = (const char *)(v + 1);
	struct kerr e = { 0 };
	kerr_set_status(&e, GRPC_PERMISSION_DENIED, -EACCES, "%s is blocked by policy: %.*s",
			k->endpoint, (int)v->prints_len, prints);
	log_info("policy: %s denied", k->endpoint);
	ipc_deferred_refuse(k->d, &e);
}

static void install(struct executor *x, struct policy_check *k)
{
	struct policy_client *p = client(x);
	free(p->text);
	free(p->base);
	p->text = k->text;
	p->len = k->len;
	k->text = NULL;
	p->base = strdup(EMPTY_BASE);
	snprintf(p->source, sizeof(p->source), "SetPolicy");
	log_policy(p);
}

static void set_answered(struct executor *x, struct policy_check *k, const struct ipc_msg *m)
{
	struct kerr why = { 0 };
	if (ipc_error_decode(m, &why)) {
		/* upstream: INVALID_ARGUMENT (set_policy's error); ours keeps the
		 * old policy in force */
		struct kerr e = { 0 };
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, why.code, "SetPolicy: %s", why.msg);
		answer_fe_error(x, k->fe_gen, k->fe_id, &e);
		return;
	}
	install(x, k);
	answer_fe_ok(x, k->fe_gen, k->fe_id);
	monitors_ask(x);
}

static void load_answered(struct executor *x, const struct ipc_msg *m)
{
	struct kerr why = { 0 };
	if (!ipc_error_decode(m, &why)) {
		log_info("policy process loaded the policy in force");
		monitors_ask(x);
		return;
	}
	/* upstream aborts the agent when its policy does not load: running
	 * without the policy it was given would not be safe */
	log_error("the policy in force (%s) does not load: %s; stopping the agent",
		  client(x)->source, why.msg);
	x->exit_code = 1;
	loop_quit(x->loop);
}

/* Record the base document a verdict brought back. */
static void take_base(struct policy_client *p, const struct ipc_msg *m)
{
	if (m->hdr.type != IPC_POLICY_VERDICT)
		return;
	const struct ipc_policy_verdict *v = m->in;
	if (!v->data_changed)
		return;
	size_t n = m->len - sizeof(*v) - v->prints_len;
	char *b = strndup((const char *)(v + 1) + v->prints_len, n);
	if (!b) {
		log_error("policy: out of memory keeping the policy state");
		return;
	}
	free(p->base);
	p->base = b;
}

static int on_policy_reply(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	struct policy_client *p = client(x);
	struct ipc_pending *q = ipc_pending_match(&p->pending, m, err);
	if (!q)
		return -EPROTO;
	struct policy_check *k = ipc_pending_entry(q, struct policy_check, req);
	take_base(p, m);
	switch (k->kind) {
	case CHECK_REQUEST:
		request_answered(x, k, m);
		break;
	case CHECK_MONITOR:
		monitor_answered(x, k,
				 m->hdr.type == IPC_POLICY_VERDICT &&
					 ((const struct ipc_policy_verdict *)m->in)->allowed);
		break;
	case CHECK_LOAD:
		load_answered(x, m);
		break;
	case CHECK_SET:
		set_answered(x, k, m);
		break;
	}
	check_free(k);
	return 0;
}

static const struct ipc_dispatch policy_table[] = {
	{ IPC_REPLIES, on_policy_reply },
	{ 0, NULL },
};

/* Every check still waiting fails: closed, never open. */
static void fail_pending(struct executor *x, const char *why)
{
	struct policy_client *p = client(x);
	struct ipc_pending *q;
	while ((q = ipc_pending_pop(&p->pending))) {
		struct policy_check *k = ipc_pending_entry(q, struct policy_check, req);
		struct kerr e = { 0 };
		kerr_set_status(&e, GRPC_UNAVAILABLE, -ENOTCONN, "%s: the policy process %s",
				k->kind == CHECK_SET ? "SetPolicyRequest" : k->endpoint, why);
		if (k->kind == CHECK_REQUEST)
			ipc_deferred_refuse(k->d, &e);
		else if (k->kind == CHECK_SET)
			answer_fe_error(x, k->fe_gen, k->fe_id, &e);
		check_free(k);
	}
	p->mon_waiting = 0; /* the verdicts in force stay until it is back */
}

static void on_policy_close(struct ipc_chan *c, const char *reason, void *data)
{
	struct executor *x = data;
	struct policy_client *p = client(x);
	if (p->chan != c)
		return;
	p->chan = NULL;
	log_warn("policy process channel closed%s%s: requests fail until it is back",
		 reason ? ": " : "", reason ? reason : "");
	fail_pending(x, "went away");
	if (p->timer) {
		loop_timer_cancel(x->loop, p->timer);
		p->timer = NULL;
	}
}

/* ---- SetPolicy without a policy process ---- */

/* Take the SetPolicy calls waiting for a policy process off the list. */
static struct policy_check *take_starting(struct executor *x)
{
	struct policy_client *p = client(x);
	struct policy_check *k = p->starting;
	p->starting = NULL;
	p->n_starting = 0;
	p->asked = false;
	if (p->start_timer) {
		loop_timer_cancel(x->loop, p->start_timer);
		p->start_timer = NULL;
	}
	return k;
}

/* None came in time (the parent could not start one, or is stopping). */
static void on_start_timeout(struct loop *l, void *data)
{
	struct executor *x = data;
	client(x)->start_timer = NULL;
	struct policy_check *k = take_starting(x), *next;
	for (; k; k = next) {
		next = k->next;
		struct kerr e = { 0 };
		kerr_set_status(&e, GRPC_UNAVAILABLE, -ETIMEDOUT,
				"SetPolicy: no policy process came up within %llu s",
				(unsigned long long)(START_TIMEOUT_NS / NS_PER_S));
		log_warn("%s", e.msg);
		answer_fe_error(x, k->fe_gen, k->fe_id, &e);
		check_free(k);
	}
}

/* A policy process is there: the waiting SetPolicy calls go to it, in the
 * order they came, exactly as if it had been there all along. */
static void send_starting(struct executor *x)
{
	struct policy_check *k = take_starting(x), *next;
	for (; k; k = next) {
		next = k->next;
		k->next = NULL;
		struct kerr e = { 0 };
		if (send_load(x, k, k->text, k->len, EMPTY_BASE, &e) < 0) {
			answer_fe_error(x, k->fe_gen, k->fe_id, &e);
			check_free(k);
		}
	}
}

/* SetPolicy k came with no policy process: ask the parent for one (once
 * for all the calls that wait: it starts at most one), and wait. */
static int wait_for_process(struct executor *x, struct policy_check *k, struct kerr *err)
{
	struct policy_client *p = client(x);
	if (p->n_starting + p->pending.n >= MAX_WAITING)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -EBUSY,
				       "SetPolicy: %u requests already wait for the policy",
				       MAX_WAITING);
	if (!p->asked) {
		struct kerr e = { 0 };
		if (!x->ctl ||
		    ipc_chan_send(x->ctl, IPC_CTL_START_POLICY, 0, NULL, 0, -1, &e) < 0 || !x->ctl)
			return kerr_set_status(err, GRPC_UNAVAILABLE, -ENOTCONN,
					       "SetPolicy: cannot ask the parent for a policy "
					       "process%s%s",
					       e.msg[0] ? ": " : "", e.msg);
		p->asked = true;
		log_info("policy: SetPolicy waits for a policy process (asked the parent)");
	}
	struct policy_check **tail = &p->starting;
	while (*tail)
		tail = &(*tail)->next;
	*tail = k;
	p->n_starting++;
	if (!p->start_timer)
		p->start_timer = loop_timer_add(x->loop, loop_now_ns() + START_TIMEOUT_NS,
						on_start_timeout, x);
	return 0;
}

/* ---- control channel ---- */

int on_ctl_policy(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	struct policy_client *p = client(x);
	const struct ipc_policy_text *t = m->in;
	size_t len = m->len - sizeof(*t);
	char *text = malloc(len), *base = strdup(EMPTY_BASE);
	if (!text || !base) {
		free(text);
		free(base);
		return kerr_set(err, -ENOMEM, "out of memory for the policy");
	}
	memcpy(text, t + 1, len);
	free(p->text);
	free(p->base);
	p->text = text;
	p->len = len;
	p->base = base;
	snprintf(p->source, sizeof(p->source), "%s", t->source);
	log_policy(p);
	/* Requests are checked from now on: until a policy process has it,
	 * they fail (closed). */
	p->mon_deny = IPC_MON_DENY_ALL;
	return 0;
}

int on_ctl_new_policy(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	struct policy_client *p = client(x);
	const struct ipc_ctl_new_frontend *n = m->in;
	cleanup_close int fd = ipc_msg_take_fd(m);
	int type = 0;
	socklen_t len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET)
		return kerr_set(err, -EPROTO, "CTL_NEW_POLICY: not a SOCK_SEQPACKET socket");
	if (p->chan)
		ipc_chan_close(p->chan, "replaced by a new policy process");
	char name[32];
	snprintf(name, sizeof(name), "policy#%u", n->generation);
	int r = ipc_chan_new(&p->chan, x->loop, take_fd(&fd), name, IPC_ROLE_POLICY, policy_table,
			     on_policy_close, x, err);
	if (r < 0)
		return r;
	log_info("serving policy process channel %s (pid %d)", name, (int)n->frontend_pid);
	if (p->text) {
		/* What the last one had: the policy in force and its state. */
		struct policy_check *k = check_new(CHECK_LOAD, "");
		struct kerr e = { 0 };
		if (!k || send_load(x, k, p->text, p->len, p->base, &e) < 0) {
			log_error("loading the policy into %s: %s", name,
				  k ? e.msg : "out of memory");
			if (k)
				check_free(k);
		}
	}
	send_starting(x);
	return 0;
}

/* ---- the front-end's requests ---- */

int policy_defer(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	struct policy_client *p = client(x);
	const struct ipc_type_desc *d = ipc_type_info(m->hdr.type);
	/* No policy: everything goes, as before; SetPolicy installs one. */
	if (d->internal || !p->text)
		return 0;
	const char *ep = policy_request_endpoint(m->hdr.type);
	if (!ep)
		return kerr_set_status(err, GRPC_PERMISSION_DENIED, -EACCES,
				       "%s is blocked by policy: it serves no endpoint", d->name);
	if (!p->chan)
		return kerr_set_status(err, GRPC_UNAVAILABLE, -ENOTCONN,
				       "%s: the policy process is not running (restarting)", ep);
	if (p->pending.n >= MAX_WAITING)
		return kerr_set_status(err, GRPC_RESOURCE_EXHAUSTED, -EBUSY,
				       "%s: %u requests already wait for the policy", ep,
				       MAX_WAITING);
	json_t *input = policy_request_input(m, err);
	if (!input)
		return -EINVAL;
	struct policy_check *k = check_new(CHECK_REQUEST, ep);
	/* The answer comes later: the request waits with its check. */
	if (!k || !(k->d = ipc_chan_defer(c, m))) {
		free(k);
		json_decref(input);
		return kerr_set(err, -ENOMEM, "%s: out of memory", ep);
	}
	struct kerr e = { 0 };
	int r = send_query(x, k, input, false, &e);
	json_decref(input);
	if (r < 0) {
		ipc_deferred_refuse(k->d, &e);
		check_free(k);
	}
	return IPC_DEFERRED;
}

int on_set_policy(struct ipc_chan *c, struct ipc_msg *m, void *data, struct kerr *err)
{
	struct executor *x = data;
	const Grpc__SetPolicyRequest *r = m->in;
	struct policy_check *k = check_new(CHECK_SET, "SetPolicyRequest");
	struct kerr e = { 0 };
	size_t len = strlen(r->policy);
	if (!k || !(k->text = malloc(len ? len : 1))) {
		if (k)
			check_free(k);
		kerr_set(&e, -ENOMEM, "SetPolicy: out of memory");
		return answer_fail(c, m->hdr.id, &e, err);
	}
	memcpy(k->text, r->policy, len);
	k->len = len;
	k->fe_id = m->hdr.id;
	k->fe_gen = x->fe_generation;
	if (len == 0 || len > IPC_POLICY_TEXT_MAX) {
		check_free(k);
		kerr_set_status(&e, GRPC_INVALID_ARGUMENT, -EINVAL,
				"SetPolicy: a policy of %zu bytes (1..%u)", len,
				IPC_POLICY_TEXT_MAX);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	/* upstream set_policy: a new engine, its state empty; none runs yet
	 * when no policy was ever in force: the parent starts one */
	int rc = client(x)->chan ? send_load(x, k, k->text, k->len, EMPTY_BASE, &e)
				 : wait_for_process(x, k, &e);
	if (rc < 0) {
		check_free(k);
		return answer_fail(c, m->hdr.id, &e, err);
	}
	return 0;
}

void policy_monitor_started(struct container *ct)
{
	send_monitor_policy(ct, client(ct->x)->mon_deny);
}

void policy_free(struct executor *x)
{
	struct policy_client *p = x->pol;
	if (!p)
		return;
	if (p->chan)
		ipc_chan_free(p->chan);
	p->chan = NULL;
	struct ipc_pending *q;
	while ((q = ipc_pending_pop(&p->pending))) {
		struct policy_check *k = ipc_pending_entry(q, struct policy_check, req);
		if (k->kind == CHECK_REQUEST)
			ipc_deferred_drop(k->d);
		check_free(k);
	}
	if (p->timer)
		loop_timer_cancel(x->loop, p->timer);
	for (struct policy_check *k = take_starting(x), *next; k; k = next) {
		next = k->next;
		check_free(k);
	}
	free(p->text);
	free(p->base);
	free(p);
	x->pol = NULL;
}
