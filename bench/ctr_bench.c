/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ctr_bench.c - container work timed from one long-lived process, so that
 * what is measured is the agent's work (or a runtime's), not the start of a
 * client per call. bench/containers drives it; every mode prints one line
 * of key=value pairs on stdout.
 *
 *   ctr_bench --addr A lifecycle SPEC_JSON ROUNDS
 *       ROUNDS times CreateContainer + StartContainer + WaitProcess +
 *       RemoveContainer on one connection. SPEC_JSON is a
 *       CreateContainerRequest as JSON (kata-agent-ctl run --dry-run); its
 *       ids are replaced per round.
 *   ctr_bench --addr A start SPEC_JSON ID         create and start ID, return
 *   ctr_bench --addr A stop ID                    SIGKILL, wait, remove ID
 *   ctr_bench --addr A start-many SPEC_JSON PREFIX FROM TO
 *       create and start PREFIX<FROM> .. PREFIX<TO> one after the other;
 *       every CreateContainer + StartContainer time, in order (samples_ms
 *       unsorted: the time of the i-th container is the i-th value).
 *   ctr_bench --addr A stop-many PREFIX FROM TO   stop each (as stop), in
 *       order; every time, in order.
 *   ctr_bench --addr A exec ID ROUNDS CMD...      ExecProcess + WaitProcess
 *   ctr_bench --addr A stream SPEC_JSON DEPTH [LEN]   start it, keep DEPTH
 *       ReadStdout calls of LEN bytes (default 1 MiB: as much as the agent
 *       gives) in flight until EOF, wait, remove; bytes and MB/s from
 *       StartContainer to EOF, and the round trip of the calls (send to
 *       answer) in microseconds.
 *   ctr_bench --addr A rpc SERVICE METHOD JSON ROUNDS
 *       ROUNDS unary calls of SERVICE/METHOD (e.g. grpc.Health Check) with
 *       the request given as JSON; also the mean response size in bytes.
 *   ctr_bench cmd ROUNDS CMD...                   fork+exec+wait CMD, each
 *       "{}" in it replaced by a per-round id (runc/crun run and exec).
 *   ctr_bench pipe [--chunk N] CMD...             CMD's stdout through a
 *       pipe into read(2) of N bytes (default 64 KiB) here until EOF;
 *       bytes and MB/s.
 *   ctr_bench pack SPEC_JSON ID OUT               the CreateContainerRequest
 *       of SPEC_JSON for container ID, packed (protobuf) into OUT, for a
 *       client that cannot build it (bench/go-stdio).
 *
 * Latencies: median, p90, min, max and every sample (sorted) in
 * milliseconds. Any failed round makes
 * the exit status 1 (with the reason on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "cleanup.h"
#include "grpc_status.h"
#include "pbjson.h"
#include "rpc_catalog.h"
#include "ttrpc.h"

#define SERVICE "grpc.AgentService"
/* Per call; a hang shows up as DEADLINE_EXCEEDED instead of a stuck bench. */
#define CALL_TIMEOUT_NS (60ull * 1000000000ull)
#define MAX_DEPTH 16
#define PIPE_CHUNK (64u * 1024u)
#define PIPE_CHUNK_MAX (1u << 20)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void print_stats(double *ms, int n, int errors)
{
	if (n == 0) {
		printf("rounds=0 errors=%d\n", errors);
		return;
	}
	qsort(ms, (size_t)n, sizeof(*ms), cmp_double);
	double median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
	/* Nearest rank. */
	int r90 = (int)((9 * n + 9) / 10) - 1;
	printf("rounds=%d median_ms=%.3f p90_ms=%.3f min_ms=%.3f max_ms=%.3f errors=%d samples_ms=",
	       n, median, ms[r90], ms[0], ms[n - 1], errors);
	/* Every sample, so that a caller interleaving short runs can merge them. */
	for (int i = 0; i < n; i++)
		printf("%s%.3f", i ? "," : "", ms[i]);
	putchar('\n');
}

/* ---- agent calls ---- */

static struct ttrpc_client *client;

/* One call; 0, or -1 with the reason printed. *resp may stay NULL. */
static int call(const char *method, const ProtobufCMessage *req, uint8_t **resp, size_t *resp_len)
{
	struct kerr err = { 0 };
	size_t len = protobuf_c_message_get_packed_size(req);
	cleanup_free uint8_t *buf = malloc(len ? len : 1);
	uint8_t *out = NULL;
	size_t out_len = 0;
	if (!buf) {
		fprintf(stderr, "ctr_bench: out of memory\n");
		return -1;
	}
	protobuf_c_message_pack(req, buf);
	if (ttrpc_client_call_raw(client, SERVICE, method, buf, len, (int64_t)CALL_TIMEOUT_NS, &out,
				  &out_len, &err) < 0) {
		fprintf(stderr, "ctr_bench: %s: %s: %s\n", method, grpc_status_name(err.status),
			err.msg);
		return -1;
	}
	if (resp) {
		*resp = out;
		*resp_len = out_len;
	} else {
		free(out);
	}
	return 0;
}

static int send_only(const char *method, const ProtobufCMessage *req, uint32_t *sid)
{
	struct kerr err = { 0 };
	size_t len = protobuf_c_message_get_packed_size(req);
	cleanup_free uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -1;
	protobuf_c_message_pack(req, buf);
	if (ttrpc_client_send(client, SERVICE, method, buf, len, (int64_t)CALL_TIMEOUT_NS, NULL, 0,
			      sid, &err) < 0) {
		fprintf(stderr, "ctr_bench: sending %s: %s\n", method, err.msg);
		return -1;
	}
	return 0;
}

static int wait_process(const char *cid, const char *eid, int *status)
{
	Grpc__WaitProcessRequest w = GRPC__WAIT_PROCESS_REQUEST__INIT;
	w.container_id = (char *)cid;
	w.exec_id = (char *)eid;
	cleanup_free uint8_t *resp = NULL;
	size_t len = 0;
	if (call("WaitProcess", &w.base, &resp, &len) < 0)
		return -1;
	Grpc__WaitProcessResponse *r = grpc__wait_process_response__unpack(NULL, len, resp);
	if (!r) {
		fprintf(stderr, "ctr_bench: WaitProcess: undecodable answer\n");
		return -1;
	}
	*status = r->status;
	grpc__wait_process_response__free_unpacked(r, NULL);
	return 0;
}

static int create_start(Grpc__CreateContainerRequest *cc, const char *id)
{
	cc->container_id = (char *)id;
	cc->exec_id = (char *)id;
	if (call("CreateContainer", &cc->base, NULL, NULL) < 0)
		return -1;
	Grpc__StartContainerRequest sc = GRPC__START_CONTAINER_REQUEST__INIT;
	sc.container_id = (char *)id;
	return call("StartContainer", &sc.base, NULL, NULL);
}

static int remove_container(const char *id)
{
	Grpc__RemoveContainerRequest rc = GRPC__REMOVE_CONTAINER_REQUEST__INIT;
	rc.container_id = (char *)id;
	return call("RemoveContainer", &rc.base, NULL, NULL);
}

static int load_spec(const char *path, Grpc__CreateContainerRequest **out)
{
	struct kerr err = { 0 };
	FILE *f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "ctr_bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	cleanup_free char *text = NULL;
	size_t cap = 0;
	ssize_t n = getdelim(&text, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		fprintf(stderr, "ctr_bench: reading %s failed\n", path);
		return -1;
	}
	ProtobufCMessage *m = NULL;
	if (pbjson_from_string(&grpc__create_container_request__descriptor, text, &m, &err) < 0) {
		fprintf(stderr, "ctr_bench: %s: %s\n", path, err.msg);
		return -1;
	}
	*out = (Grpc__CreateContainerRequest *)m;
	return 0;
}

/* The spec's own ids are replaced by ours: put theirs back before freeing. */
static void free_spec(Grpc__CreateContainerRequest *cc, char *cid, char *eid)
{
	cc->container_id = cid;
	cc->exec_id = eid;
	grpc__create_container_request__free_unpacked(cc, NULL);
}

static int sandbox(void)
{
	struct kerr err = { 0 };
	Grpc__CreateSandboxRequest sb = GRPC__CREATE_SANDBOX_REQUEST__INIT;
	size_t len = protobuf_c_message_get_packed_size(&sb.base);
	uint8_t buf[64];
	protobuf_c_message_pack(&sb.base, buf);
	cleanup_free uint8_t *out = NULL;
	size_t out_len = 0;
	if (ttrpc_client_call_raw(client, SERVICE, "CreateSandbox", buf, len,
				  (int64_t)CALL_TIMEOUT_NS, &out, &out_len, &err) < 0 &&
	    err.status != GRPC_ALREADY_EXISTS) {
		fprintf(stderr, "ctr_bench: CreateSandbox: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/* ---- modes ---- */

static int run_lifecycle(const char *spec_path, int rounds)
{
	Grpc__CreateContainerRequest *cc = NULL;
	if (load_spec(spec_path, &cc) < 0)
		return 1;
	char *cid = cc->container_id, *eid = cc->exec_id;
	cleanup_free double *ms = calloc((size_t)rounds, sizeof(*ms));
	/* Per phase (create + start, wait, remove), for stderr: where a
	 * lifecycle's time goes. */
	cleanup_free double *ph = calloc((size_t)rounds * 3, sizeof(*ph));
	int n = 0, errors = 0;
	for (int i = 0; i < rounds && ms && ph; i++) {
		char id[64];
		int status = -1;
		snprintf(id, sizeof(id), "cb-lc-%d-%d", (int)getpid(), i);
		uint64_t t0 = now_ns();
		int r = create_start(cc, id);
		uint64_t t_started = now_ns();
		if (r == 0)
			r = wait_process(id, "", &status);
		uint64_t t_waited = now_ns();
		/* Remove even after a failure, so that the next round is clean. */
		if (remove_container(id) < 0)
			r = -1;
		uint64_t t1 = now_ns();
		if (r < 0 || status != 0) {
			if (r == 0)
				fprintf(stderr, "ctr_bench: round %d: exit status %d\n", i, status);
			errors++;
			continue;
		}
		ph[n] = (double)(t_started - t0) / 1e6;
		ph[rounds + n] = (double)(t_waited - t_started) / 1e6;
		ph[2 * rounds + n] = (double)(t1 - t_waited) / 1e6;
		ms[n++] = (double)(t1 - t0) / 1e6;
	}
	free_spec(cc, cid, eid);
	print_stats(ms, n, errors);
	if (n && ph) {
		const char *names[] = { "create_start", "wait", "remove" };
		fprintf(stderr, "phases:");
		for (int k = 0; k < 3; k++) {
			double *v = ph + (size_t)k * (size_t)rounds;
			qsort(v, (size_t)n, sizeof(*v), cmp_double);
			fprintf(stderr, " %s_median_ms=%.3f", names[k],
				n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
		}
		fputc('\n', stderr);
	}
	return errors ? 1 : 0;
}

static int run_start(const char *spec_path, const char *id)
{
	Grpc__CreateContainerRequest *cc = NULL;
	if (load_spec(spec_path, &cc) < 0)
		return 1;
	char *cid = cc->container_id, *eid = cc->exec_id;
	int r = create_start(cc, id);
	free_spec(cc, cid, eid);
	if (r < 0)
		return 1;
	printf("started=%s\n", id);
	return 0;
}

/* SIGKILL, wait, remove: 0 or -1. */
static int stop_one(const char *id, int *status)
{
	Grpc__SignalProcessRequest s = GRPC__SIGNAL_PROCESS_REQUEST__INIT;
	s.container_id = (char *)id;
	s.exec_id = (char *)"";
	s.signal = SIGKILL;
	*status = -1;
	/* An already-exited container answers the signal with an error; the
	 * wait and the removal still apply. */
	(void)call("SignalProcess", &s.base, NULL, NULL);
	(void)wait_process(id, "", status);
	return remove_container(id);
}

static int run_stop(const char *id)
{
	int status;
	if (stop_one(id, &status) < 0)
		return 1;
	printf("removed=%s status=%d\n", id, status);
	return 0;
}

/* The samples in the order taken (not sorted): a scale curve. */
static void print_curve(const double *ms, int n, int errors)
{
	printf("containers=%d errors=%d samples_ms=", n, errors);
	for (int i = 0; i < n; i++)
		printf("%s%.3f", i ? "," : "", ms[i]);
	putchar('\n');
}

static int run_start_many(const char *spec_path, const char *prefix, int from, int to)
{
	Grpc__CreateContainerRequest *cc = NULL;
	if (to < from || load_spec(spec_path, &cc) < 0)
		return 1;
	char *cid = cc->container_id, *eid = cc->exec_id;
	cleanup_free double *ms = calloc((size_t)(to - from + 1), sizeof(*ms));
	int n = 0, errors = 0;
	for (int i = from; i <= to && ms; i++) {
		char id[64];
		snprintf(id, sizeof(id), "%s%d", prefix, i);
		uint64_t t0 = now_ns();
		if (create_start(cc, id) < 0) {
			/* One failure says the agent hit a limit: stop there. */
			errors++;
			break;
		}
		ms[n++] = (double)(now_ns() - t0) / 1e6;
	}
	free_spec(cc, cid, eid);
	print_curve(ms, n, errors);
	return errors || !ms ? 1 : 0;
}

static int run_stop_many(const char *prefix, int from, int to)
{
	cleanup_free double *ms = calloc((size_t)(to >= from ? to - from + 1 : 1), sizeof(*ms));
	int n = 0, errors = 0;
	for (int i = from; i <= to && ms; i++) {
		char id[64];
		snprintf(id, sizeof(id), "%s%d", prefix, i);
		int status;
		uint64_t t0 = now_ns();
		if (stop_one(id, &status) < 0)
			errors++;
		else
			ms[n++] = (double)(now_ns() - t0) / 1e6;
	}
	print_curve(ms, n, errors);
	return errors || !ms ? 1 : 0;
}

static int run_exec(const char *cid, int rounds, char **cmd, int ncmd)
{
	char *env[] = { (
		char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };
	Grpc__User user = GRPC__USER__INIT;
	Grpc__Process p = GRPC__PROCESS__INIT;
	p.user = &user;
	p.n_args = (size_t)ncmd;
	p.args = cmd;
	p.n_env = 1;
	p.env = env;
	p.cwd = (char *)"/";
	cleanup_free double *ms = calloc((size_t)rounds, sizeof(*ms));
	int n = 0, errors = 0;
	for (int i = 0; i < rounds && ms; i++) {
		char eid[64];
		int status = -1;
		snprintf(eid, sizeof(eid), "cb-exec-%d-%d", (int)getpid(), i);
		Grpc__ExecProcessRequest req = GRPC__EXEC_PROCESS_REQUEST__INIT;
		req.container_id = (char *)cid;
		req.exec_id = eid;
		req.process = &p;
		uint64_t t0 = now_ns();
		int r = call("ExecProcess", &req.base, NULL, NULL);
		if (r == 0)
			r = wait_process(cid, eid, &status);
		uint64_t t1 = now_ns();
		if (r < 0 || status != 0) {
			if (r == 0)
				fprintf(stderr, "ctr_bench: exec %d: exit status %d\n", i, status);
			errors++;
			continue;
		}
		ms[n++] = (double)(t1 - t0) / 1e6;
	}
	print_stats(ms, n, errors);
	return errors ? 1 : 0;
}

static int send_read(const char *id, uint32_t len, uint32_t *sid)
{
	Grpc__ReadStreamRequest r = GRPC__READ_STREAM_REQUEST__INIT;
	r.container_id = (char *)id;
	r.exec_id = (char *)"";
	r.len = len;
	return send_only("ReadStdout", &r.base, sid);
}

/* Round trips of the stream's calls, in microseconds. */
struct rt_log {
	double *us;
	size_t n, cap;
};

static void rt_add(struct rt_log *l, uint64_t ns)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 4096;
		double *us = realloc(l->us, cap * sizeof(*us));
		if (!us)
			return; /* the stats then cover fewer calls */
		l->us = us;
		l->cap = cap;
	}
	l->us[l->n++] = (double)ns / 1e3;
}

static void rt_print(struct rt_log *l)
{
	if (l->n == 0) {
		putchar('\n');
		return;
	}
	qsort(l->us, l->n, sizeof(*l->us), cmp_double);
	double sum = 0;
	for (size_t i = 0; i < l->n; i++)
		sum += l->us[i];
	printf(" rt_mean_us=%.1f rt_p50_us=%.1f rt_p90_us=%.1f\n", sum / (double)l->n,
	       l->us[l->n / 2], l->us[(9 * l->n + 9) / 10 - 1]);
}

static int run_stream(const char *spec_path, int depth, uint32_t want)
{
	Grpc__CreateContainerRequest *cc = NULL;
	if (load_spec(spec_path, &cc) < 0)
		return 1;
	char *cid = cc->container_id, *eid = cc->exec_id;
	char id[64];
	snprintf(id, sizeof(id), "cb-stream-%d", (int)getpid());
	cc->container_id = id;
	cc->exec_id = id;
	int rc = 1;
	if (call("CreateContainer", &cc->base, NULL, NULL) < 0) {
		free_spec(cc, cid, eid);
		return 1;
	}
	free_spec(cc, cid, eid);

	Grpc__StartContainerRequest sc = GRPC__START_CONTAINER_REQUEST__INIT;
	sc.container_id = id;
	uint64_t t0 = now_ns(), t1 = 0;
	uint64_t bytes = 0, answers = 0;
	uint32_t sids[MAX_DEPTH] = { 0 };
	uint64_t sent_at[MAX_DEPTH] = { 0 };
	cleanup_free struct rt_log *rt = calloc(1, sizeof(*rt));
	int inflight = 0;
	bool eof = false, failed = false;
	if (call("StartContainer", &sc.base, NULL, NULL) < 0)
		goto out;
	if (!rt)
		goto out;
	for (int i = 0; i < depth; i++) {
		sent_at[i] = now_ns();
		if (send_read(id, want, &sids[i]) < 0)
			goto out;
		inflight++;
	}
	while (inflight > 0) {
		struct kerr err = { 0 };
		uint32_t sid;
		int status = 0;
		cleanup_free char *message = NULL;
		cleanup_free uint8_t *payload = NULL;
		size_t len = 0;
		if (ttrpc_client_recv(client, &sid, &status, &message, &payload, &len, &err) < 0) {
			fprintf(stderr, "ctr_bench: ReadStdout: %s\n", err.msg);
			goto out;
		}
		int slot = -1;
		for (int i = 0; i < depth; i++)
			if (sids[i] == sid)
				slot = i;
		if (slot < 0)
			continue;
		rt_add(rt, now_ns() - sent_at[slot]);
		sids[slot] = 0;
		inflight--;
		size_t got = 0;
		if (status == GRPC_OK) {
			Grpc__ReadStreamResponse *r = grpc__read_stream_response__unpack(NULL, len,
											 payload);
			if (!r) {
				fprintf(stderr, "ctr_bench: ReadStdout: undecodable answer\n");
				goto out;
			}
			got = r->data.len;
			grpc__read_stream_response__free_unpacked(r, NULL);
		} else if (status != GRPC_NOT_FOUND) {
			fprintf(stderr, "ctr_bench: ReadStdout: %s: %s\n", grpc_status_name(status),
				message ? message : "");
			failed = true;
		}
		if (got == 0) {
			/* EOF (or an error): let the other reads come back. */
			if (!eof)
				t1 = now_ns();
			eof = true;
			continue;
		}
		bytes += got;
		answers++;
		if (!eof) {
			sent_at[slot] = now_ns();
			if (send_read(id, want, &sids[slot]) < 0)
				goto out;
			inflight++;
		}
	}
	int status = -1;
	if (wait_process(id, "", &status) < 0 || status != 0) {
		fprintf(stderr, "ctr_bench: stream container exit status %d\n", status);
		failed = true;
	}
	double secs = (double)(t1 - t0) / 1e9;
	printf("bytes=%llu seconds=%.3f mb_per_s=%.1f depth=%d len=%u answers=%llu avg_answer=%llu",
	       (unsigned long long)bytes, secs, (double)bytes / 1e6 / secs, depth, want,
	       (unsigned long long)answers, (unsigned long long)(answers ? bytes / answers : 0));
	rt_print(rt);
	rc = failed ? 1 : 0;
out:
	if (rt)
		free(rt->us);
	if (remove_container(id) < 0)
		rc = 1;
	return rc;
}

/* argv with "{}" replaced by id (in place of the whole argument or inside). */
static char **subst(char **cmd, int ncmd, const char *id)
{
	char **out = calloc((size_t)ncmd + 1, sizeof(*out));
	for (int i = 0; out && i < ncmd; i++) {
		const char *at = strstr(cmd[i], "{}");
		if (!at) {
			out[i] = cmd[i];
			continue;
		}
		if (asprintf(&out[i], "%.*s%s%s", (int)(at - cmd[i]), cmd[i], id, at + 2) < 0)
			return NULL; /* the bench exits right after: nothing to free */
	}
	return out;
}

static pid_t spawn(char **argv, int out_fd)
{
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(out_fd >= 0 ? out_fd : null, 1);
		if (out_fd >= 0)
			close(out_fd);
		execvp(argv[0], argv);
		fprintf(stderr, "ctr_bench: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (pid < 0)
		fprintf(stderr, "ctr_bench: fork: %s\n", strerror(errno));
	return pid;
}

static int run_cmd(int rounds, char **cmd, int ncmd)
{
	cleanup_free double *ms = calloc((size_t)rounds, sizeof(*ms));
	int n = 0, errors = 0;
	for (int i = 0; i < rounds && ms; i++) {
		char id[64];
		snprintf(id, sizeof(id), "%d-%d", (int)getpid(), i);
		char **argv = subst(cmd, ncmd, id);
		if (!argv)
			return 1;
		int status = -1;
		uint64_t t0 = now_ns();
		pid_t pid = spawn(argv, -1);
		if (pid > 0)
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
		uint64_t t1 = now_ns();
		if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "ctr_bench: round %d: %s failed (status 0x%x)\n", i,
				argv[0], status);
			errors++;
		} else {
			ms[n++] = (double)(t1 - t0) / 1e6;
		}
		for (int j = 0; j < ncmd; j++)
			if (argv[j] != cmd[j])
				free(argv[j]);
		free(argv);
	}
	print_stats(ms, n, errors);
	return errors ? 1 : 0;
}

static int run_pipe(char **cmd, size_t chunk)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "ctr_bench: pipe: %s\n", strerror(errno));
		return 1;
	}
	static uint8_t buf[PIPE_CHUNK_MAX];
	uint64_t bytes = 0, t0 = now_ns();
	pid_t pid = spawn(cmd, p[1]);
	close(p[1]);
	if (pid < 0)
		return 1;
	for (;;) {
		ssize_t n = read(p[0], buf, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		bytes += (uint64_t)n;
	}
	uint64_t t1 = now_ns();
	close(p[0]);
	int status = -1;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	double secs = (double)(t1 - t0) / 1e9;
	printf("bytes=%llu seconds=%.3f mb_per_s=%.1f\n", (unsigned long long)bytes, secs,
	       (double)bytes / 1e6 / secs);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

static int run_pack(const char *spec_path, const char *id, const char *out_path)
{
	Grpc__CreateContainerRequest *cc = NULL;
	if (load_spec(spec_path, &cc) < 0)
		return 1;
	char *cid = cc->container_id, *eid = cc->exec_id;
	cc->container_id = (char *)id;
	cc->exec_id = (char *)id; /* the Kata runtime's convention for the init */
	size_t len = protobuf_c_message_get_packed_size(&cc->base);
	cleanup_free uint8_t *buf = malloc(len ? len : 1);
	if (buf)
		protobuf_c_message_pack(&cc->base, buf);
	free_spec(cc, cid, eid);
	FILE *f = buf ? fopen(out_path, "we") : NULL;
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "ctr_bench: writing %s failed\n", out_path);
		return 1;
	}
	return 0;
}

/* The same request, ROUNDS times, one at a time: the latency of the call
 * as the host sees it (ttRPC, front-end, executor and back). */
static int run_rpc(const char *service, const char *method, const char *json, int rounds)
{
	const struct rpc_method *rm = rpc_catalog_find(service, method);
	if (!rm) {
		fprintf(stderr, "ctr_bench: unknown method %s/%s\n", service, method);
		return 2;
	}
	struct kerr err = { 0 };
	ProtobufCMessage *req = NULL;
	if (pbjson_from_string(rm->input, json, &req, &err) < 0) {
		fprintf(stderr, "ctr_bench: %s: %s\n", rm->input->short_name, err.msg);
		return 2;
	}
	size_t len = protobuf_c_message_get_packed_size(req);
	cleanup_free uint8_t *buf = malloc(len ? len : 1);
	cleanup_free double *ms = calloc((size_t)(rounds > 0 ? rounds : 1), sizeof(*ms));
	if (!buf || !ms) {
		protobuf_c_message_free_unpacked(req, NULL);
		fprintf(stderr, "ctr_bench: out of memory\n");
		return 1;
	}
	protobuf_c_message_pack(req, buf);
	protobuf_c_message_free_unpacked(req, NULL);
	int n = 0, errors = 0;
	uint64_t bytes = 0;
	for (int i = 0; i < rounds; i++) {
		uint8_t *out = NULL;
		size_t out_len = 0;
		uint64_t t0 = now_ns();
		if (ttrpc_client_call_raw(client, service, method, buf, len,
					  (int64_t)CALL_TIMEOUT_NS, &out, &out_len, &err) < 0) {
			fprintf(stderr, "ctr_bench: %s/%s: %s: %s\n", service, method,
				grpc_status_name(err.status), err.msg);
			errors++;
			continue;
		}
		ms[n++] = (double)(now_ns() - t0) / 1e6;
		bytes += out_len;
		free(out);
	}
	printf("resp_bytes=%llu ", n ? (unsigned long long)(bytes / (uint64_t)n) : 0ull);
	print_stats(ms, n, errors);
	return errors ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "Usage: ctr_bench --addr ADDR lifecycle SPEC_JSON ROUNDS\n"
			"       ctr_bench --addr ADDR start SPEC_JSON ID | stop ID\n"
			"       ctr_bench --addr ADDR start-many SPEC_JSON PREFIX FROM TO\n"
			"       ctr_bench --addr ADDR stop-many PREFIX FROM TO\n"
			"       ctr_bench --addr ADDR exec ID ROUNDS CMD...\n"
			"       ctr_bench --addr ADDR stream SPEC_JSON DEPTH [LEN]\n"
			"       ctr_bench --addr ADDR rpc SERVICE METHOD JSON ROUNDS\n"
			"       ctr_bench cmd ROUNDS CMD...    ({} = a per-round id)\n"
			"       ctr_bench pipe [--chunk BYTES] CMD...\n"
			"       ctr_bench pack SPEC_JSON ID OUT\n");
}

int main(int argc, char **argv)
{
	const char *addr = NULL;
	int i = 1;
	if (argc > 2 && strcmp(argv[1], "--addr") == 0) {
		addr = argv[2];
		i = 3;
	}
	if (i >= argc) {
		usage();
		return 2;
	}
	const char *mode = argv[i++];
	int left = argc - i;
	char **rest = argv + i;
	signal(SIGPIPE, SIG_IGN);

	if (strcmp(mode, "cmd") == 0 && left >= 2)
		return run_cmd(atoi(rest[0]), rest + 1, left - 1);
	if (strcmp(mode, "pipe") == 0 && left >= 3 && strcmp(rest[0], "--chunk") == 0) {
		long chunk = atol(rest[1]);
		if (chunk < 1 || chunk > (long)PIPE_CHUNK_MAX) {
			usage();
			return 2;
		}
		return run_pipe(rest + 2, (size_t)chunk);
	}
	if (strcmp(mode, "pipe") == 0 && left >= 1)
		return run_pipe(rest, PIPE_CHUNK);
	if (strcmp(mode, "pack") == 0 && left == 3)
		return run_pack(rest[0], rest[1], rest[2]);

	if (!addr) {
		usage();
		return 2;
	}
	struct kerr err = { 0 };
	if (ttrpc_client_connect(&client, addr, 5000000000ull, &err) < 0) {
		fprintf(stderr, "ctr_bench: connect %s: %s\n", addr, err.msg);
		return 1;
	}
	int rc = 2;
	if (strcmp(mode, "lifecycle") == 0 && left == 2)
		rc = sandbox() < 0 ? 1 : run_lifecycle(rest[0], atoi(rest[1]));
	else if (strcmp(mode, "start") == 0 && left == 2)
		rc = sandbox() < 0 ? 1 : run_start(rest[0], rest[1]);
	else if (strcmp(mode, "stop") == 0 && left == 1)
		rc = run_stop(rest[0]);
	else if (strcmp(mode, "start-many") == 0 && left == 4)
		rc = sandbox() < 0 ? 1
				   : run_start_many(rest[0], rest[1], atoi(rest[2]), atoi(rest[3]));
	else if (strcmp(mode, "stop-many") == 0 && left == 3)
		rc = run_stop_many(rest[0], atoi(rest[1]), atoi(rest[2]));
	else if (strcmp(mode, "exec") == 0 && left >= 3)
		rc = run_exec(rest[0], atoi(rest[1]), rest + 2, left - 2);
	else if (strcmp(mode, "rpc") == 0 && left == 4)
		rc = run_rpc(rest[0], rest[1], rest[2], atoi(rest[3]));
	else if (strcmp(mode, "stream") == 0 && (left == 2 || left == 3)) {
		int depth = atoi(rest[1]);
		/* By default more than the agent hands out per call: each answer
		 * is as full as the agent makes it. */
		long len = left == 3 ? atol(rest[2]) : 1l << 20;
		if (depth < 1 || depth > MAX_DEPTH || len < 1 || len > 4l << 20)
			rc = 2;
		else
			rc = sandbox() < 0 ? 1 : run_stream(rest[0], depth, (uint32_t)len);
	}
	if (rc == 2)
		usage();
	ttrpc_client_free(client);
	return rc;
}
