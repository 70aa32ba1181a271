/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ttrpc_frame.c - ttRPC frame header codec and the request frame parser
 * shared by the server and the fuzz target (ttrpc.h).
 */
#include "ttrpc.h"

#include <errno.h>
#include <string.h>

#include "ttrpc.pb-c.h"

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

void ttrpc_header_encode(uint8_t out[TTRPC_HEADER_LEN], const struct ttrpc_frame_header *h)
{
	put_be32(out, h->length);
	put_be32(out + 4, h->stream_id);
	out[8] = h->type;
	out[9] = h->flags;
}

void ttrpc_header_decode(const uint8_t in[TTRPC_HEADER_LEN], struct ttrpc_frame_header *h)
{
	h->length = get_be32(in);
	h->stream_id = get_be32(in + 4);
	h->type = in[8];
	h->flags = in[9];
}

int ttrpc_header_check_request(const struct ttrpc_frame_header *h, struct kerr *err)
{
	if (h->length > TTRPC_MAX_PAYLOAD)
		return kerr_set(err, -EMSGSIZE, "frame of %u bytes exceeds the %u byte limit",
				h->length, TTRPC_MAX_PAYLOAD);
	if (h->type == TTRPC_TYPE_DATA)
		return kerr_set(err, -EPROTO, "data frame on stream %u: streaming is not supported",
				h->stream_id);
	if (h->type != TTRPC_TYPE_REQUEST)
		return kerr_set(err, -EPROTO, "frame type %u on stream %u is not a request",
				h->type, h->stream_id);
	if (h->stream_id == 0 || h->stream_id % 2 == 0)
		return kerr_set(err, -EPROTO,
				"stream id %u: client streams must be odd and nonzero",
				h->stream_id);
	return 0;
}

int ttrpc_header_check_response(const struct ttrpc_frame_header *h, struct kerr *err)
{
	if (h->length > TTRPC_MAX_PAYLOAD)
		return kerr_set(err, -EMSGSIZE, "frame of %u bytes exceeds the %u byte limit",
				h->length, TTRPC_MAX_PAYLOAD);
	if (h->type != TTRPC_TYPE_RESPONSE)
		return kerr_set(err, -EPROTO, "frame type %u on stream %u is not a response",
				h->type, h->stream_id);
	return 0;
}

int ttrpc_parse_request(const uint8_t *buf, size_t len, size_t *consumed,
			struct ttrpc_frame_header *h, struct Ttrpc__Request **req, struct kerr *err)
{
	return ttrpc_parse_request_alloc(buf, len, NULL, consumed, h, req, err);
}

int ttrpc_parse_request_alloc(const uint8_t *buf, size_t len, ProtobufCAllocator *a,
			      size_t *consumed, struct ttrpc_frame_header *h,
			      struct Ttrpc__Request **req, struct kerr *err)
{
	*consumed = 0;
	*req = NULL;
	if (len < TTRPC_HEADER_LEN)
		return 0;
	ttrpc_header_decode(buf, h);
	int r = ttrpc_header_check_request(h, err);
	if (r < 0)
		return r;
	if (len - TTRPC_HEADER_LEN < h->length)
		return 0;
	Ttrpc__Request *m = ttrpc__request__unpack(a, h->length, buf + TTRPC_HEADER_LEN);
	if (!m)
		return kerr_set(err, -EBADMSG, "stream %u: undecodable request (%u bytes)",
				h->stream_id, h->length);
	*req = m;
	*consumed = TTRPC_HEADER_LEN + (size_t)h->length;
	return 1;
}
