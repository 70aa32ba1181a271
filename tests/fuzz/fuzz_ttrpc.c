/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_ttrpc.c - libFuzzer target for the bytes a ttRPC server reads from an
 * untrusted peer: frames are parsed with ttrpc_parse_request(), the function
 * the server itself runs on its read buffer, one after another as they would
 * sit in a connection's buffer; decoded requests are walked like the server
 * accessors do. The client's response decoding gets the same bytes too.
 *
 * Seeds (-write_seeds=DIR, fuzz.h): requests as the Kata runtime frames them
 * (containerd/ttrpc client: odd increasing stream ids, metadata, timeout),
 * two frames in one buffer, a data frame, an even stream id, a response.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ttrpc.h"
#include "ttrpc.pb-c.h"

static volatile size_t sink;

static void walk_request(const Ttrpc__Request *r)
{
	size_t n = strlen(r->service ? r->service : "") + strlen(r->method ? r->method : "");
	n += r->payload.len;
	if (r->payload.len)
		n += r->payload.data[r->payload.len - 1];
	for (size_t i = 0; i < r->n_metadata; i++) {
		const Ttrpc__KeyValue *kv = r->metadata[i];
		n += strlen(kv->key ? kv->key : "") + strlen(kv->value ? kv->value : "");
	}
	sink += n + (size_t)r->timeout_nano;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	while (off < size) {
		struct ttrpc_frame_header h;
		Ttrpc__Request *req = NULL;
		size_t used = 0;
		struct kerr err;
		int r = ttrpc_parse_request(data + off, size - off, &used, &h, &req, &err);
		if (r <= 0)
			break;
		if (used < TTRPC_HEADER_LEN || used > size - off)
			__builtin_trap();
		walk_request(req);
		ttrpc__request__free_unpacked(req, NULL);
		off += used;
	}
	Ttrpc__Response *resp = ttrpc__response__unpack(NULL, size, data);
	if (resp) {
		if (resp->status)
			sink += strlen(resp->status->message ? resp->status->message : "");
		ttrpc__response__free_unpacked(resp, NULL);
	}
	return 0;
}

static size_t frame(uint8_t *out, uint32_t sid, uint8_t type, const char *svc, const char *m,
		    const char *payload, int64_t timeout, int nmd)
{
	Ttrpc__KeyValue kv[2] = { TTRPC__KEY_VALUE__INIT, TTRPC__KEY_VALUE__INIT };
	Ttrpc__KeyValue *kvp[2] = { &kv[0], &kv[1] };
	kv[0].key = "k";
	kv[0].value = "v";
	kv[1].key = "trace";
	kv[1].value = "0123";
	Ttrpc__Request r = TTRPC__REQUEST__INIT;
	r.service = (char *)svc;
	r.method = (char *)m;
	r.payload.data = (uint8_t *)payload;
	r.payload.len = strlen(payload);
	r.timeout_nano = timeout;
	r.n_metadata = (size_t)nmd;
	r.metadata = kvp;
	size_t n = ttrpc__request__pack(&r, out + TTRPC_HEADER_LEN);
	struct ttrpc_frame_header h = { .length = (uint32_t)n, .stream_id = sid, .type = type };
	ttrpc_header_encode(out, &h);
	return n + TTRPC_HEADER_LEN;
}

void fuzz_write_seeds(void)
{
	uint8_t b[4096];
	size_t n = frame(b, 1, 1, "grpc.AgentService", "CreateContainer", "\x0a\x03" "abc",
			 1000000000, 2);
	fuzz_seed("unary", b, n);
	size_t m = frame(b + n, 3, 1, "grpc.Health", "Check", "", 0, 0);
	fuzz_seed("two-frames", b, n + m);
	n = frame(b, 5, 3, "x", "y", "", 0, 1);
	fuzz_seed("data-frame", b, n);
	n = frame(b, 2, 1, "x", "y", "zz", -1, 1);
	fuzz_seed("even-id", b, n);
	static const uint8_t resp[] = { 0x0a, 0x05, 0x08, 0x05, 0x12, 0x01, 'x', 0x12, 0x01, 'p' };
	fuzz_seed("response", resp, sizeof(resp));
}
