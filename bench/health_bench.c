/* SPDX-License-Identifier: Apache-2.0 */
/*
 * health_bench.c - grpc.Health/Check round trips against any ttRPC server
 * (our agent, or the Go containerd/ttrpc peer in bench/go-ttrpc/server.go),
 * so both are measured by the same client.
 *
 *   health_bench --addr unix:///path --clients N --seconds T
 *       N client processes (no threads in this project), each with its own
 *       connection, each doing sequential calls for T seconds. Prints one
 *       line: clients, calls, calls/s, p50 and p99 latency in microseconds,
 *       errors.
 *
 *   health_bench --addr unix:///path --startup R -- COMMAND ARGS...
 *       R times: exec COMMAND in a new process group, poll the address
 *       until grpc.Health/Check answers SERVING, stop the group. Prints the
 *       median, min and max of "exec to first answer" in milliseconds.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "health.pb-c.h"
#include "transport.h"
#include "ttrpc.h"

/* Per-client latency slots; 2^21 calls is far beyond what one client does
 * in the durations used here. Pages are only touched as they fill. */
#define MAX_SAMPLES (1u << 21)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct shared_stats {
	uint64_t calls;
	uint64_t errors;
	uint32_t samples[]; /* nanoseconds, capped at UINT32_MAX */
};

static uint8_t check_req[16];
static size_t check_req_len;

/* One Health/Check; 0 when it answered SERVING. */
static int health_once(struct ttrpc_client *c)
{
	cleanup_free uint8_t *resp = NULL;
	size_t len = 0;
	struct kerr err = { 0 };
	if (ttrpc_client_call_raw(c, "grpc.Health", "Check", check_req, check_req_len, 0, &resp,
				  &len, &err) < 0)
		return -1;
	Grpc__HealthCheckResponse *h = grpc__health_check_response__unpack(NULL, len, resp);
	int ok = h && h->status == GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	if (h)
		grpc__health_check_response__free_unpacked(h, NULL);
	return ok ? 0 : -1;
}

static int connect_client(const char *addr, struct ttrpc_client **out, bool quiet)
{
	struct kerr err = { 0 };
	if (ttrpc_client_connect(out, addr, 2000000000ull, &err) < 0) {
		if (!quiet)
			fprintf(stderr, "health_bench: connect %s: %s\n", addr, err.msg);
		return -1;
	}
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(ttrpc_client_fd(*out), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

static void client_run(const char *addr, double seconds, struct shared_stats *st)
{
	struct ttrpc_client *c;
	if (connect_client(addr, &c, false) < 0) {
		st->errors++;
		return;
	}
	uint64_t end = now_ns() + (uint64_t)(seconds * 1e9);
	for (;;) {
		uint64_t t0 = now_ns();
		if (t0 >= end)
			break;
		if (health_once(c) < 0) {
			st->errors++;
			if (st->errors > 100)
				break;
			continue;
		}
		uint64_t d = now_ns() - t0;
		if (st->calls < MAX_SAMPLES)
			st->samples[st->calls] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
		st->calls++;
	}
	ttrpc_client_free(c);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int run_throughput(const char *addr, int clients, double seconds)
{
	size_t slot = sizeof(struct shared_stats) + MAX_SAMPLES * sizeof(uint32_t);
	uint8_t *area = mmap(NULL, slot * (size_t)clients, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED) {
		perror("health_bench: mmap");
		return 1;
	}
	pid_t pids[256];
	for (int i = 0; i < clients; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("health_bench: fork");
			return 1;
		}
		if (pids[i] == 0) {
			client_run(addr, seconds, (struct shared_stats *)(area + slot * (size_t)i));
			_exit(0);
		}
	}
	for (int i = 0; i < clients; i++)
		while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
			;
	uint64_t calls = 0, errors = 0, stored = 0;
	for (int i = 0; i < clients; i++) {
		struct shared_stats *st = (struct shared_stats *)(area + slot * (size_t)i);
		calls += st->calls;
		errors += st->errors;
		stored += st->calls < MAX_SAMPLES ? st->calls : MAX_SAMPLES;
	}
	uint32_t *all = malloc((stored ? stored : 1) * sizeof(uint32_t));
	if (!all)
		return 1;
	size_t k = 0;
	for (int i = 0; i < clients; i++) {
		struct shared_stats *st = (struct shared_stats *)(area + slot * (size_t)i);
		size_t n = st->calls < MAX_SAMPLES ? st->calls : MAX_SAMPLES;
		memcpy(all + k, st->samples, n * sizeof(uint32_t));
		k += n;
	}
	qsort(all, k, sizeof(uint32_t), cmp_u32);
	double p50 = k ? all[(k - 1) * 50 / 100] / 1000.0 : 0;
	double p99 = k ? all[(k - 1) * 99 / 100] / 1000.0 : 0;
	printf("clients=%d seconds=%.1f calls=%llu calls_per_s=%.0f p50_us=%.1f p99_us=%.1f errors=%llu\n",
	       clients, seconds, (unsigned long long)calls, calls / seconds, p50, p99,
	       (unsigned long long)errors);
	free(all);
	munmap(area, slot * (size_t)clients);
	return errors ? 1 : 0;
}

static void stop_group(pid_t pid)
{
	kill(-pid, SIGTERM);
	for (int i = 0; i < 500; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			goto reaped;
		usleep(10000);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, NULL, 0);
reaped:
	/* Whatever else is left in the group (children that outlive the parent). */
	for (int i = 0; i < 200 && kill(-pid, 0) == 0; i++) {
		if (i == 100)
			kill(-pid, SIGKILL);
		usleep(10000);
	}
}

static volatile pid_t startup_child;

static void on_signal(int sig)
{
	if (startup_child > 0)
		kill(-startup_child, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int run_startup(const char *addr, int rounds, char **cmd)
{
	struct addr a;
	struct kerr err = { 0 };
	if (addr_parse(addr, &a, &err) < 0) {
		fprintf(stderr, "health_bench: %s\n", err.msg);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	double *ms = calloc((size_t)rounds, sizeof(double));
	if (!ms)
		return 1;
	for (int r = 0; r < rounds; r++) {
		if (a.kind == ADDR_UNIX && !a.abstract)
			unlink(a.path);
		uint64_t t0 = now_ns();
		pid_t pid = fork();
		if (pid < 0) {
			perror("health_bench: fork");
			return 1;
		}
		if (pid == 0) {
			setpgid(0, 0);
			execvp(cmd[0], cmd);
			fprintf(stderr, "health_bench: exec %s: %s\n", cmd[0], strerror(errno));
			_exit(127);
		}
		setpgid(pid, pid);
		startup_child = pid;
		bool up = false;
		while (now_ns() - t0 < 10000000000ull) {
			struct ttrpc_client *c;
			if (connect_client(addr, &c, true) == 0) {
				up = health_once(c) == 0;
				ttrpc_client_free(c);
				if (up)
					break;
			}
			if (waitpid(pid, NULL, WNOHANG) == pid) {
				fprintf(stderr, "health_bench: %s exited before answering\n",
					cmd[0]);
				return 1;
			}
			usleep(200);
		}
		ms[r] = (double)(now_ns() - t0) / 1e6;
		stop_group(pid);
		startup_child = 0;
		if (!up) {
			fprintf(stderr, "health_bench: %s never answered on %s\n", cmd[0], addr);
			return 1;
		}
	}
	qsort(ms, (size_t)rounds, sizeof(double), cmp_double);
	printf("rounds=%d startup_median_ms=%.2f startup_min_ms=%.2f startup_max_ms=%.2f\n", rounds,
	       ms[(rounds - 1) / 2], ms[0], ms[rounds - 1]);
	free(ms);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: health_bench --addr ADDR [--clients N] [--seconds T]\n"
			"       health_bench --addr ADDR --startup ROUNDS -- COMMAND [ARGS...]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "clients", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 's' },
		{ "startup", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *addr = NULL;
	int clients = 1, startup = 0;
	double seconds = 5;
	int o;
	while ((o = getopt_long(argc, argv, "+a:c:s:S:h", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			addr = optarg;
			break;
		case 'c':
			clients = atoi(optarg);
			break;
		case 's':
			seconds = atof(optarg);
			break;
		case 'S':
			startup = atoi(optarg);
			break;
		default:
			usage();
			return o == 'h' ? 0 : 2;
		}
	}
	if (!addr || clients < 1 || clients > 256 || seconds <= 0 || startup < 0 ||
	    (startup && optind >= argc)) {
		usage();
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	Grpc__CheckRequest req = GRPC__CHECK_REQUEST__INIT;
	check_req_len = grpc__check_request__pack(&req, check_req);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (startup)
		return run_startup(addr, startup, argv + optind);
	return run_throughput(addr, clients, seconds);
}
