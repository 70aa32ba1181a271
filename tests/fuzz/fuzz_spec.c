/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_spec.c - libFuzzer target for the executor's checks of the OCI spec
 * (agentd/executor/container/spec_check.c) on the protobuf bytes a
 * compromised front-end could send (CREATE_CONTAINER_REQ, EXEC_PROCESS_REQ
 * carry a packed CreateContainerRequest / ExecProcessRequest), in the
 * order the executor runs them (agentd/executor/handlers/containers.c
 * on_create_container, on_exec_process), then what the container's setup
 * and cgroup derive, purely, from a spec that passed:
 *  - the seccomp filter (container_seccomp_build, not loaded);
 *  - the state JSON given to hooks (hooks_state_json);
 *  - the device rules (cg_devices_check at create; cg_dev_rules_merge with
 *    the defaults, then again as an UpdateContainer adds rules) and the v2
 *    device BPF program built from them (cg_dev_bpf_build).
 *
 * Input: byte 0 bit 0 picks ExecProcessRequest (1) or
 * CreateContainerRequest (0); the rest is the packed request.
 *
 * Checked: a refusal is INVALID_ARGUMENT, UNIMPLEMENTED or (what the
 * agent will not do for a host: hooks, filesystems) PERMISSION_DENIED, with a
 * message; merged rules fit the BPF program the code sizes for them;
 * and the program, run by an interpreter (tests/devcg_bpf_run.h: -1 for an
 * instruction it does not know) on every device the rules name with every
 * access combination, decides as the rules say (for
 * each requested access bit the last rule that matches the device and holds
 * the bit decides; default deny; doc/storage-cgroups.md "Devices").
 *
 * Seeds: a CreateContainerRequest as the Go runtime sends it for a
 * containerd default spec (virtcontainers/kata_agent.go createContainer:
 * storages from the shared rootfs, the spec through constrainGRPCSpec, so
 * no hooks and only memory/cpu/hugepage resources), one with a seccomp
 * profile, device rules and mounts, and ExecProcessRequests as
 * kata_agent.go exec builds them (cmdToKataProcess).
 */
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../devcg_bpf_run.h"
#include "agent.pb-c.h"
#include "cgroups_internal.h"
#include "container_seccomp.h"
#include "fuzz.h"
#include "grpc_status.h"
#include "hooks.h"
#include "ipc.h"
#include "log.h"
#include "runtime_requests.h"
#include "spec_check.h"

static void check_refusal(int r, const struct kerr *e)
{
	int st = kerr_status(e);
	log_debug("refused: %s", e->msg); /* FUZZ_LOG=1 shows why */
	FUZZ_ASSERT(r < 0 && e->msg[0], "refusal without a message");
	FUZZ_ASSERT(st == GRPC_INVALID_ARGUMENT || st == GRPC_UNIMPLEMENTED ||
			    st == GRPC_PERMISSION_DENIED,
		    "refusal with status %d: %s", st, e->msg);
}

/* ---- the device program, run ---- */

/* What the rules say (doc/storage-cgroups.md "Devices"). */
static int model(const struct cg_dev_rule *v, size_t n, char type, int64_t maj, int64_t min,
		 unsigned access)
{
	static const unsigned bits[] = { CG_DEV_M, CG_DEV_R, CG_DEV_W };
	for (size_t b = 0; b < 3; b++) {
		if (!(access & bits[b]))
			continue;
		int verdict = 0;
		for (size_t i = n; i-- > 0;) {
			const struct cg_dev_rule *r = &v[i];
			if (r->type == type && (r->major == CG_DEV_ANY || r->major == maj) &&
			    (r->minor == CG_DEV_ANY || r->minor == min) && (r->access & bits[b])) {
				verdict = r->allow;
				break;
			}
		}
		if (!verdict)
			return 0;
	}
	return 1;
}

static void check_device(const struct bpf_insn *p, int cnt, const struct cg_dev_rule *v, size_t n,
			 char type, int64_t maj, int64_t min)
{
	for (unsigned access = 1; access <= 7; access++) {
		int want = model(v, n, type, maj, min, access);
		int got = devcg_bpf_run(p, cnt,
					type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR,
					access, (unsigned)maj, (unsigned)min);
		FUZZ_ASSERT(got == want,
			    "device program says %d for %c %lld:%lld access %u, the rules %d", got,
			    type, (long long)maj, (long long)min, access, want);
	}
}

static void check_program(const struct cg_dev_rule *v, size_t n)
{
	size_t max = cg_dev_bpf_max_insns(n);
	struct bpf_insn *p = calloc(max, sizeof(*p));
	FUZZ_ASSERT(p, "out of memory");
	int cnt = cg_dev_bpf_build(v, n, p, max);
	FUZZ_ASSERT(cnt > 0 && (size_t)cnt <= max, "%zu merged rules do not fit a program (%d)", n,
		    cnt);
	for (size_t i = 0; i < n; i++) {
		char line[64];
		cg_dev_rule_line(&v[i], line, sizeof(line));
		int64_t ma = v[i].major == CG_DEV_ANY ? 7 : v[i].major;
		int64_t mi = v[i].minor == CG_DEV_ANY ? 7 : v[i].minor;
		for (int t = 0; t < 2; t++) {
			check_device(p, cnt, v, n, t ? 'b' : 'c', ma, mi);
			check_device(p, cnt, v, n, t ? 'b' : 'c', ma, mi + 1);
		}
	}
	free(p);
}

static void devices(const Grpc__LinuxResources *res)
{
	struct kerr e = { 0 };
	int r = cg_devices_check(res, &e);
	if (r < 0) {
		int st = kerr_status(&e);
		FUZZ_ASSERT(st == GRPC_INVALID_ARGUMENT || st == GRPC_RESOURCE_EXHAUSTED,
			    "device rules refused with status %d: %s", st, e.msg);
		return;
	}
	struct cg_dev_rule *v = NULL, *v2 = NULL;
	size_t n = 0, n2 = 0;
	r = cg_dev_rules_merge(cg_dev_defaults, cg_dev_n_defaults, res ? res->devices : NULL,
			       res ? res->n_devices : 0, &v, &n, &e);
	FUZZ_ASSERT(r == 0, "checked rules do not merge: %s", e.msg);
	check_program(v, n);
	/* UpdateContainer appends to what is in force. */
	if (res && res->n_devices &&
	    cg_dev_rules_merge(v, n, res->devices, res->n_devices, &v2, &n2, &e) == 0) {
		check_program(v2, n2);
		free(v2);
	}
	free(v);
}

/* ---- the requests ---- */

static void create(const uint8_t *p, size_t n)
{
	Grpc__CreateContainerRequest *req = grpc__create_container_request__unpack(NULL, n, p);
	if (!req)
		return;
	struct kerr e = { 0 };
	/* on_create_container: the id by the IPC rule, a process and a root
	 * path, then spec_check. */
	if (!ipc_id_valid(req->container_id, false) || !req->oci || !req->oci->process ||
	    !req->oci->root || !req->oci->root->path[0])
		goto out;
	int r = spec_check(req->oci, req->container_id, &e);
	if (r < 0) {
		check_refusal(r, &e);
		goto out;
	}
	const Grpc__Spec *s = req->oci;
	if (s->linux && s->linux->seccomp) {
		scmp_filter_ctx ctx = NULL;
		if (container_seccomp_build(s->linux->seccomp, &ctx, &e) == 0)
			seccomp_release(ctx);
	}
	char *state = hooks_state_json(s, req->container_id, "creating", 42, s->root->path);
	FUZZ_ASSERT(state, "no state JSON");
	json_error_t je;
	json_t *j = json_loads(state, 0, &je);
	FUZZ_ASSERT(j, "state JSON does not parse: %s", je.text);
	json_decref(j);
	free(state);
	devices(s->linux ? s->linux->resources : NULL);
out:
	grpc__create_container_request__free_unpacked(req, NULL);
}

static void exec(const uint8_t *p, size_t n)
{
	Grpc__ExecProcessRequest *req = grpc__exec_process_request__unpack(NULL, n, p);
	if (!req)
		return;
	struct kerr e = { 0 };
	/* on_exec_process: ids, a process, spec_check_process. */
	if (ipc_id_valid(req->container_id, false) && ipc_id_valid(req->exec_id, true) &&
	    req->process) {
		int r = spec_check_process(req->process, "Process", &e);
		if (r < 0)
			check_refusal(r, &e);
	}
	grpc__exec_process_request__free_unpacked(req, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		exec(data + 1, size - 1);
	else
		create(data + 1, size - 1);
	return 0;
}

/* ---- seeds ---- */

static void seed(const char *name, uint8_t kind, const ProtobufCMessageDescriptor *d,
		 const char *json)
{
	size_t n;
	uint8_t *b = fuzz_pack_json(d, json, &n);
	uint8_t *s = malloc(n + 1);
	if (!s)
		abort();
	s[0] = kind;
	memcpy(s + 1, b, n);
	fuzz_seed(name, s, n + 1);
	free(s);
	free(b);
}

void fuzz_write_seeds(void)
{
	seed("create-default", 0, &grpc__create_container_request__descriptor, RT_CREATE_CONTAINER);
	seed("create-devices-seccomp", 0, &grpc__create_container_request__descriptor,
	     RT_CREATE_CONTAINER_DEVICES_SECCOMP);
	seed("exec-tty", 1, &grpc__exec_process_request__descriptor, RT_EXEC_TTY);
	seed("exec-rlimits", 1, &grpc__exec_process_request__descriptor, RT_EXEC_RLIMITS);
}
