/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent_harness.h - start and stop a real kata-agent for one integration test.
 *
 * Each test gets its own agent: a fresh mkdtemp directory holding the
 * command-line file, an optional config file, the unix socket and the log.
 * The agent runs in a process group of its own (it and everything it starts
 * is killed as a group), with a parent-death signal so a crashed test program
 * does not leave it behind. Declare the handle with `AGENT_SCOPED` and the
 * agent is stopped and its directory removed on every return path, including
 * a failed REQUIRE.
 *
 * The binary comes from $KATA_AGENT (meson passes the built path).
 */
#ifndef KATA_TESTS_AGENT_HARNESS_H
#define KATA_TESTS_AGENT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ttrpc.h"

#define HARNESS_MAX_PROCS 64

struct agent_proc {
	pid_t pid;
	unsigned long long start; /* /proc/PID/stat starttime: tells pid reuse apart */
	char comm[32];
};

struct agent {
	char dir[64];
	char sock[100]; /* fits sockaddr_un.sun_path */
	char addr[160];
	char log[128];
	char config[128]; /* empty when the agent runs without --config */
	pid_t pid;        /* the kata-agent parent; also its process group id */
	int exit_status;  /* waitpid status once reaped, -1 before */
	/* Every descendant seen while the agent ran, for the leftover check. */
	struct agent_proc seen[HARNESS_MAX_PROCS];
	size_t nseen;
};

struct agent_opts {
	const char *cmdline_extra; /* appended to the agent.* command line */
	const char *config;        /* config file text; "@SOCK@" becomes the socket path */
	bool no_wait;              /* do not wait for Health to answer */
};

/* Start the agent; unless opts->no_wait, wait (up to 15 s) until it answers
 * grpc.Health/Check. Returns 0, or -1 with a diagnostic printed as TAP comment. */
int agent_start(struct agent *a, const struct agent_opts *opts);
/* Stop the group (TERM, then KILL after 5 s), reap, and report how many of
 * the processes ever seen under it are still alive. Idempotent. */
int agent_stop(struct agent *a);
/* agent_stop + remove the directory. */
void agent_cleanup(struct agent *a);
#define AGENT_SCOPED __attribute__((cleanup(agent_cleanup))) struct agent

/* Wait up to timeout_ms for the agent parent to exit by itself; returns its
 * wait status, or -1 if it is still running. */
int agent_wait_exit(struct agent *a, int timeout_ms);

/* Record the agent's current descendants (into a->seen) and return the pid of
 * the one whose name says front-end, or -1. */
pid_t agent_frontend_pid(struct agent *a);
/* Count processes in a->seen that are still alive (not zombies). */
int agent_leftovers(const struct agent *a, char *desc, size_t desclen);

/* The log file's content (malloc'd, NUL-terminated), or NULL. */
char *agent_read_log(const struct agent *a);
void agent_dump_log(const struct agent *a, int last_lines);

/* ttRPC client on the agent's socket with a 10 s receive timeout. */
struct ttrpc_client *agent_connect(const struct agent *a);
/* A raw connected stream socket to the agent (for malformed input). */
int agent_connect_raw(const struct agent *a);

/* grpc.Health/Check on a new connection: 0 if it answers SERVING. */
int agent_health(const struct agent *a);
/* grpc.Health/Check on an existing client. */
int client_health(struct ttrpc_client *c);

#endif
