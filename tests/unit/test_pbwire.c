/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_pbwire.c - common/pbwire.c: a field numbered 0, which protobuf-c
 * decodes and packs again into bytes it then refuses (fuzz_frontend found
 * it: the front-end forwarded an AddARPNeighbors the executor could not
 * decode), is refused at the first decode, at any depth; other unknown
 * fields (a newer runtime's) still pass. And the field prefixes a response
 * sent from the caller's bytes is made of (a stdio read's data, sent by
 * ttrpc_call_reply_iov): byte for byte what protobuf-c packs, at every
 * length class up to the largest a ttRPC frame carries.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.pb-c.h"
#include "err.h"
#include "grpc_status.h"
#include "pbwire.h"
#include "tap.h"
#include "ttrpc.h"
#include "ttrpc.pb-c.h"

static ProtobufCMessage *arp_unpack(const uint8_t *b, size_t n)
{
	return protobuf_c_message_unpack(&grpc__add_arpneighbors_request__descriptor, NULL, n, b);
}

/* 80 00: the tag varint 0 spelled in two bytes; then its value 00. */
static const uint8_t field0[] = { 0x80, 0x00, 0x00 };

TEST(protobuf_c_decodes_field_zero_and_cannot_decode_what_it_packs_from_it)
{
	ProtobufCMessage *m = arp_unpack(field0, sizeof(field0));
	REQUIRE(m != NULL);
	uint8_t again[16];
	size_t n = protobuf_c_message_pack(m, again);
	ProtobufCMessage *m2 = arp_unpack(again, n);
	CHECK(m2 == NULL);
	protobuf_c_message_free_unpacked(m2, NULL);
	protobuf_c_message_free_unpacked(m, NULL);
}

TEST(field_zero_at_the_top_is_refused_invalid_argument_naming_the_message)
{
	ProtobufCMessage *m = arp_unpack(field0, sizeof(field0));
	REQUIRE(m != NULL);
	struct kerr err = { 0 };
	CHECK_EQ_INT(pbwire_check(m, &err), -EBADMSG);
	CHECK_EQ_INT(err.status, GRPC_INVALID_ARGUMENT);
	CHECK_EQ_STR(err.msg, "AddARPNeighborsRequest: a field numbered 0 (invalid protobuf)");
	protobuf_c_message_free_unpacked(m, NULL);
}

TEST(field_zero_two_messages_deep_in_a_repeated_field_is_refused)
{
	/* neighbors { ARPNeighbors { 80 00 00 } } */
	static const uint8_t nested[] = { 0x0a, 0x05, 0x0a, 0x03, 0x80, 0x00, 0x00 };
	ProtobufCMessage *m = arp_unpack(nested, sizeof(nested));
	REQUIRE(m != NULL);
	struct kerr err = { 0 };
	CHECK_EQ_INT(pbwire_check(m, &err), -EBADMSG);
	CHECK_EQ_STR(err.msg, "ARPNeighbor: a field numbered 0 (invalid protobuf)");
	protobuf_c_message_free_unpacked(m, NULL);
}

TEST(an_unknown_field_of_a_newer_runtime_passes)
{
	static const uint8_t newer[] = { 0x98, 0x06, 0x01 }; /* field 99, varint 1 */
	ProtobufCMessage *m = arp_unpack(newer, sizeof(newer));
	REQUIRE(m != NULL);
	CHECK_EQ_INT(m->n_unknown_fields, 1);
	struct kerr err = { 0 };
	CHECK_EQ_INT(pbwire_check(m, &err), 0);
	protobuf_c_message_free_unpacked(m, NULL);
}

TEST(in_a_create_container_spec_process_refused_and_without_it_passes)
{
	Grpc__CreateContainerRequest cc = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	Grpc__Spec spec = GRPC__SPEC__INIT;
	Grpc__Process proc = GRPC__PROCESS__INIT;
	uint8_t zero = 0;
	ProtobufCMessageUnknownField uf = { .tag = 0,
					    .wire_type = PROTOBUF_C_WIRE_TYPE_VARINT,
					    .len = 1,
					    .data = &zero };
	proc.base.n_unknown_fields = 1;
	proc.base.unknown_fields = &uf;
	spec.process = &proc;
	cc.container_id = "c1";
	cc.oci = &spec;
	struct kerr err = { 0 };
	CHECK_EQ_INT(pbwire_check(&cc.base, &err), -EBADMSG);
	CHECK_EQ_STR(err.msg, "Process: a field numbered 0 (invalid protobuf)");
	proc.base.n_unknown_fields = 0;
	err = (struct kerr){ 0 };
	CHECK_EQ_INT(pbwire_check(&cc.base, &err), 0);
}

/* ---- encoding ---- */

TEST(varints_as_protobuf_c_packs_them_at_each_length_boundary)
{
	static const uint64_t v[] = {
		0, 1, 127, 128, 16383, 16384, (1u << 21) - 1, 1u << 21, UINT32_MAX, UINT64_MAX
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		/* timeout_nano (field 4, int64) packs as key 0x20 and the varint */
		Ttrpc__Request r = TTRPC__REQUEST__INIT;
		r.timeout_nano = (int64_t)v[i];
		uint8_t want[16], got[16];
		size_t wn = ttrpc__request__pack(&r, want);
		uint8_t *end = pbwire_varint_put(got + 1, v[i]);
		got[0] = 0x20;
		size_t gn = v[i] ? (size_t)(end - got) : 0; /* proto3 leaves out a zero */
		CHECK_EQ_INT(gn, wn);
		CHECK(memcmp(got, want, wn) == 0);
		CHECK_EQ_INT(pbwire_varint_len(v[i]), (size_t)(end - got) - 1);
	}
}

/* The largest data a ReadStreamResponse carries in one ttRPC response
 * frame, as protobuf-c sizes the envelope (an OK status, always packed). */
static size_t largest_read_data(void)
{
	Ttrpc__Status st = TTRPC__STATUS__INIT;
	Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
	resp.status = &st;
	size_t d = TTRPC_MAX_PAYLOAD;
	for (;; d--) {
		Grpc__ReadStreamResponse rs = GRPC__READ_STREAM_RESPONSE__INIT;
		rs.data.len = d;
		resp.payload.len = grpc__read_stream_response__get_packed_size(&rs);
		if (ttrpc__response__get_packed_size(&resp) <= TTRPC_MAX_PAYLOAD)
			return d;
	}
}

/* A ReadStreamResponse of n bytes, and the Response envelope around it,
 * built from pbwire's prefixes (as monitors_reply_read and the ttRPC
 * server do) against protobuf-c's packing of the same messages. */
static bool read_response_matches(const uint8_t *data, size_t n)
{
	Grpc__ReadStreamResponse rs = GRPC__READ_STREAM_RESPONSE__INIT;
	rs.data.data = (uint8_t *)data;
	rs.data.len = n;
	size_t rsn = grpc__read_stream_response__get_packed_size(&rs);
	Ttrpc__Status st = TTRPC__STATUS__INIT;
	Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
	resp.status = &st;
	uint8_t *want_rs = malloc(rsn + 1);
	uint8_t *want = NULL, *got = NULL;
	bool same = false;
	if (!want_rs)
		goto out;
	grpc__read_stream_response__pack(&rs, want_rs);
	resp.payload.data = want_rs;
	resp.payload.len = rsn;
	size_t wn = ttrpc__response__get_packed_size(&resp);
	want = malloc(wn);
	got = malloc(wn + 4 * PBWIRE_LEN_PREFIX_MAX);
	if (!want || !got)
		goto out;
	ttrpc__response__pack(&resp, want);
	uint8_t *p = got;
	p += pbwire_len_field(p, 1, 0);     /* status: present, empty */
	p += pbwire_bytes_field(p, 2, rsn); /* payload */
	size_t key = pbwire_bytes_field(p, 1, n);
	if (key + n != rsn || pbwire_bytes_field_size(1, n) != rsn)
		goto out;
	p += key;
	memcpy(p, data, n);
	p += n;
	same = (size_t)(p - got) == wn && memcmp(got, want, wn) == 0;
out:
	free(want_rs);
	free(want);
	free(got);
	return same;
}

TEST(read_stream_response_prefixes_pack_as_protobuf_c_up_to_the_largest_frame)
{
	size_t largest = largest_read_data();
	/* status 2 + payload key 1 + its length 4 + data key 1 + its length 4 */
	CHECK_EQ_INT(largest, TTRPC_MAX_PAYLOAD - 12);
	const size_t sizes[] = { 0, 1, 127, 128, 16383, 16384, 32768, 65536, largest };
	uint8_t *data = malloc(largest);
	REQUIRE(data);
	for (size_t i = 0; i < largest; i++)
		data[i] = (uint8_t)(i * 7 + 3);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		bool same = read_response_matches(data, sizes[i]);
		if (!same)
			printf("# %zu bytes: encodings differ\n", sizes[i]);
		CHECK(same);
	}
	free(data);
}

TEST(an_empty_proto3_bytes_field_is_left_out_and_an_empty_message_is_not)
{
	uint8_t b[PBWIRE_LEN_PREFIX_MAX];
	CHECK_EQ_INT(pbwire_bytes_field(b, 1, 0), 0);
	CHECK_EQ_INT(pbwire_len_field(b, 1, 0), 2);
	CHECK(b[0] == 0x0a && b[1] == 0x00);
	/* the longest prefix: the highest field number, the largest length */
	CHECK_EQ_INT(pbwire_len_field(b, (1u << 29) - 1, SIZE_MAX), PBWIRE_LEN_PREFIX_MAX);
}

int main(void)
{
	return tap_run();
}
