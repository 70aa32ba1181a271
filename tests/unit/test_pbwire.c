/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_pbwire.c - common/pbwire.c: a field numbered 0, which protobuf-c
 * decodes and packs again into bytes it then refuses (fuzz_frontend found
 * it: the front-end forwarded an AddARPNeighbors the executor could not
 * decode), is refused at the first decode, at any depth; other unknown
 * fields (a newer runtime's) still pass.
 */
#include <errno.h>

#include "agent.pb-c.h"
#include "err.h"
#include "grpc_status.h"
#include "pbwire.h"
#include "tap.h"

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

int main(void)
{
	return tap_run();
}
