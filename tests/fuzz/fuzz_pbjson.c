/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_pbjson.c - libFuzzer target for the proto3 JSON mapping
 * (common/pbjson.c), used by kata-agent-ctl for every request it sends and
 * response it prints: JSON -> protobuf (pbjson_from_string, strict) and
 * protobuf -> JSON (pbjson_to_json), for every message type of the API.
 *
 * Input: byte 0 picks the message type (the request or response type of a
 * method of the catalog, common/rpc_catalog.h) and the direction (top bit:
 * the rest is protobuf bytes, else JSON text).
 *
 * Checked, both ways: the mapping round-trips. JSON that converts gives a
 * message whose JSON converts back to the same bytes; a decoded message's
 * JSON (when its strings are UTF-8) converts back to a message with the same
 * JSON. Refusals carry a message (and INVALID_ARGUMENT for JSON input).
 *
 * Seeds: requests as the Kata runtime and kata-agent-ctl write them (JSON,
 * and their protobuf encodings).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "agent.pb-c.h"
#include "fuzz.h"
#include "grpc_status.h"
#include "pbjson.h"
#include "rpc_catalog.h"

static const ProtobufCMessageDescriptor *pick(uint8_t sel)
{
	size_t n = rpc_catalog_count();
	size_t i = (sel & 0x7f) % (2 * n);
	const struct rpc_method *m = rpc_catalog_at(i / 2);
	return i % 2 ? m->output : m->input;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	uint8_t *b = malloc(*len + 1);
	FUZZ_ASSERT(b, "out of memory");
	FUZZ_ASSERT(protobuf_c_message_pack(m, b) == *len, "pack size mismatch");
	return b;
}

/* m's JSON converts back to a message with the same JSON, and (exact: m
 * has no unknown fields, which JSON drops) the same bytes; returns m's JSON
 * (NULL when a string of m is not UTF-8, which JSON cannot carry). */
static json_t *round_trip(const ProtobufCMessage *m, bool exact)
{
	struct kerr err = { 0 };
	json_t *j = pbjson_to_json(m, &err);
	if (!j) {
		FUZZ_ASSERT(err.code == -EILSEQ, "to JSON failed: %s", err.msg);
		return NULL;
	}
	ProtobufCMessage *back = NULL;
	int r = pbjson_from_json(m->descriptor, j, &back, &err);
	char *text = json_dumps(j, JSON_COMPACT);
	FUZZ_ASSERT(r == 0, "the JSON of a %s does not convert back (%s): %s", m->descriptor->name,
		    err.msg, text);
	size_t l1, l2;
	uint8_t *b1 = pack(m, &l1), *b2 = pack(back, &l2);
	json_t *j2 = pbjson_to_json(back, &err);
	FUZZ_ASSERT(j2 && json_equal(j, j2), "%s changes in a JSON round trip: %s",
		    m->descriptor->name, text);
	if (exact)
		FUZZ_ASSERT(l1 == l2 && memcmp(b1, b2, l1) == 0,
			    "%s packs differently after a JSON round trip: %s", m->descriptor->name,
			    text);
	json_decref(j2);
	free(b1);
	free(b2);
	free(text);
	protobuf_c_message_free_unpacked(back, NULL);
	return j;
}

static void from_bytes(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n, p);
	if (!m)
		return;
	json_t *j = round_trip(m, false);
	if (j) {
		/* What came back from JSON has no unknown fields: exact from here. */
		ProtobufCMessage *back = NULL;
		struct kerr err = { 0 };
		FUZZ_ASSERT(pbjson_from_json(d, j, &back, &err) == 0, "%s", err.msg);
		json_decref(round_trip(back, true));
		protobuf_c_message_free_unpacked(back, NULL);
	}
	json_decref(j);
	protobuf_c_message_free_unpacked(m, NULL);
}

static void from_json(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n)
{
	char *text = malloc(n + 1);
	FUZZ_ASSERT(text, "out of memory");
	memcpy(text, p, n);
	text[n] = '\0';
	ProtobufCMessage *m = NULL;
	struct kerr err = { 0 };
	int r = pbjson_from_string(d, text, &m, &err);
	if (r < 0) {
		FUZZ_ASSERT(!m && err.msg[0], "refusal without a message");
		FUZZ_ASSERT(r == -ENOMEM || kerr_status(&err) == GRPC_INVALID_ARGUMENT,
			    "refusal with status %d: %s", kerr_status(&err), err.msg);
	} else {
		FUZZ_ASSERT(m && m->descriptor == d, "no message, or of another type");
		json_t *j = round_trip(m, true);
		FUZZ_ASSERT(j, "a message made from JSON has a non-UTF-8 string");
		json_decref(j);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const ProtobufCMessageDescriptor *d = pick(data[0]);
	if (data[0] & 0x80)
		from_bytes(d, data + 1, size - 1);
	else
		from_json(d, data + 1, size - 1);
	return 0;
}

/* The selector byte of a message type (its first use in the catalog). */
static uint8_t selector(const ProtobufCMessageDescriptor *d)
{
	for (size_t i = 0; i < 2 * rpc_catalog_count() && i < 128; i++)
		if (pick((uint8_t)i) == d)
			return (uint8_t)i;
	abort();
}

void fuzz_write_seeds(void)
{
	static const struct {
		const char *name;
		const ProtobufCMessageDescriptor *d;
		const char *json;
	} seeds[] = {
		/* kata-agent-ctl call examples (README.md) */
		{ "guest-details", &grpc__guest_details_request__descriptor,
		  "{\"memBlockSize\": true, \"memHotplugProbe\": true}" },
		/* virtcontainers/kata_agent.go exec: ExecProcessRequest from
		 * cmdToKataProcess */
		{ "exec", &grpc__exec_process_request__descriptor,
		  "{\"containerId\": \"c1\", \"execId\": \"0e1d6d7b-3b0e-4e1c-9c55-1f2b3c4d5e6f\","
		  " \"process\": {\"Terminal\": true, \"User\": {\"UID\": 0, \"GID\": 0,"
		  " \"AdditionalGids\": [1, 2]}, \"Args\": [\"sh\", \"-c\", \"echo hi\"],"
		  " \"Env\": [\"PATH=/bin\"], \"Cwd\": \"/\", \"ConsoleSize\": {\"Height\": 24,"
		  " \"Width\": 80}}}" },
		/* kata_agent.go startSandbox: CreateSandboxRequest */
		{ "sandbox", &grpc__create_sandbox_request__descriptor,
		  "{\"hostname\": \"pod\", \"dns\": [\"nameserver 10.0.0.10\"], \"storages\": [{"
		  "\"driver\": \"virtio-fs\", \"source\": \"kataShared\", \"fstype\": \"virtiofs\","
		  " \"mountPoint\": \"/run/kata-containers/shared/containers/\", \"options\": []}],"
		  " \"sandboxPidns\": false, \"sandboxId\": \"sb1\", \"guestHookPath\": \"\","
		  " \"kernelModules\": [{\"name\": \"e1000e\", \"parameters\": [\"InterruptThrottleRate=3000\"]}]}" },
		/* kata_agent.go updateInterface / updateRoutes */
		{ "interface", &grpc__update_interface_request__descriptor,
		  "{\"interface\": {\"device\": \"eth0\", \"name\": \"eth0\", \"IPAddresses\": [{"
		  "\"family\": \"v4\", \"address\": \"10.0.0.2\", \"mask\": \"24\"}], \"mtu\": 1500,"
		  " \"hwAddr\": \"02:42:ac:11:00:02\", \"type\": \"\", \"raw_flags\": 0}}" },
		{ "routes", &grpc__update_routes_request__descriptor,
		  "{\"routes\": {\"Routes\": [{\"dest\": \"\", \"gateway\": \"10.0.0.1\","
		  " \"device\": \"eth0\", \"source\": \"\", \"scope\": 0, \"family\": \"v4\"}]}}" },
		{ "write-stdin", &grpc__write_stream_request__descriptor,
		  "{\"containerId\": \"c1\", \"execId\": \"e1\", \"data\": \"aGVsbG8K\"}" },
		{ "signal", &grpc__signal_process_request__descriptor,
		  "{\"containerId\": \"c1\", \"execId\": \"\", \"signal\": 9}" },
		{ "remove", &grpc__remove_container_request__descriptor,
		  "{\"containerId\": \"c1\", \"timeout\": \"0\"}" },
		{ "set-time", &grpc__set_guest_date_time_request__descriptor,
		  "{\"Sec\": \"1700000000\", \"Usec\": \"5\"}" },
		{ "copy-file", &grpc__copy_file_request__descriptor,
		  "{\"path\": \"/run/kata-containers/shared/containers/c1/hostname\", \"fileSize\": \"4\","
		  " \"fileMode\": 420, \"dirMode\": 493, \"uid\": 0, \"gid\": 0, \"offset\": \"0\","
		  " \"data\": \"cG9kCg==\"}" },
		{ "stats-response", &grpc__stats_container_response__descriptor,
		  "{\"cgroupStats\": {\"cpuStats\": {\"cpuUsage\": {\"totalUsage\": \"100\","
		  " \"percpuUsage\": [\"60\", \"40\"]}}, \"memoryStats\": {\"cache\": \"4096\","
		  " \"stats\": {\"anon\": \"8192\"}}}}" },
	};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		uint8_t sel = selector(seeds[i].d);
		size_t jl = strlen(seeds[i].json);
		uint8_t *b = malloc(jl + 1);
		if (!b)
			abort();
		b[0] = sel;
		memcpy(b + 1, seeds[i].json, jl);
		char name[96];
		snprintf(name, sizeof(name), "%s.json", seeds[i].name);
		fuzz_seed(name, b, jl + 1);
		free(b);
		size_t pl;
		uint8_t *p = fuzz_pack_json(seeds[i].d, seeds[i].json, &pl);
		uint8_t pre = (uint8_t)(sel | 0x80);
		uint8_t *q = malloc(pl + 1);
		if (!q)
			abort();
		q[0] = pre;
		memcpy(q + 1, p, pl);
		snprintf(name, sizeof(name), "%s.pb", seeds[i].name);
		fuzz_seed(name, q, pl + 1);
		free(p);
		free(q);
	}
}
