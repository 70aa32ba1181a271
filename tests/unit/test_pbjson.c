/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_pbjson.c - the method catalog and the generic JSON <-> protobuf
 * mapping, on real agent messages, including the wire round trip.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#include "agent.pb-c.h"
#include "health.pb-c.h"
#include "pbjson.h"
#include "rpc_catalog.h"

/* Parse text as d, pack to the wire, unpack, print back as JSON text. */
static char *wire_round_trip(const ProtobufCMessageDescriptor *d, const char *text, int *failed)
{
	struct kerr err = { 0 };
	ProtobufCMessage *m = NULL;
	char *out = NULL;

	if (pbjson_from_string(d, text, &m, &err) < 0) {
		printf("# from_string: %s\n", err.msg);
		*failed = 1;
		return NULL;
	}
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);
	protobuf_c_message_pack(m, buf);
	protobuf_c_message_free_unpacked(m, NULL);

	ProtobufCMessage *back = protobuf_c_message_unpack(d, NULL, len, buf);
	free(buf);
	if (!back) {
		printf("# unpack failed\n");
		*failed = 1;
		return NULL;
	}
	json_t *j = pbjson_to_json(back, &err);
	protobuf_c_message_free_unpacked(back, NULL);
	if (!j) {
		printf("# to_json: %s\n", err.msg);
		*failed = 1;
		return NULL;
	}
	out = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return out;
}

/* Compare two JSON texts structurally. */
static int same_json(const char *a, const char *b)
{
	json_t *ja = json_loads(a, 0, NULL), *jb = json_loads(b, 0, NULL);
	int r = ja && jb && json_equal(ja, jb);
	if (!r)
		printf("# got      %s\n# expected %s\n", a, b);
	json_decref(ja);
	json_decref(jb);
	return r;
}

/* Expect a parse failure whose message contains every needle. */
static int fails_with(const ProtobufCMessageDescriptor *d, const char *text, const char *n1,
		      const char *n2)
{
	struct kerr err = { 0 };
	ProtobufCMessage *m = (ProtobufCMessage *)1;
	int r = pbjson_from_string(d, text, &m, &err);
	if (r != -EINVAL || m != NULL) {
		printf("# %s: expected -EINVAL, got %d\n", text, r);
		return 0;
	}
	if ((n1 && !strstr(err.msg, n1)) || (n2 && !strstr(err.msg, n2))) {
		printf("# message \"%s\" lacks \"%s\"/\"%s\"\n", err.msg, n1 ? n1 : "",
		       n2 ? n2 : "");
		return 0;
	}
	printf("# ok: %s\n", err.msg);
	return 1;
}

TEST(catalog_counts_and_lookup)
{
	size_t agent = 0, health = 0;
	for (size_t i = 0; i < rpc_catalog_count(); i++) {
		const struct rpc_method *m = rpc_catalog_at(i);
		if (strcmp(m->service, "grpc.AgentService") == 0)
			agent++;
		else if (strcmp(m->service, "grpc.Health") == 0)
			health++;
	}
	/* kata-containers 3.32.0 agent.proto declares 42 AgentService methods. */
	CHECK_EQ_INT(agent, 42);
	CHECK_EQ_INT(health, 2);
	CHECK_EQ_INT(rpc_catalog_count(), 44);
	CHECK(rpc_catalog_at(44) == NULL);

	const struct rpc_method *m = rpc_catalog_find("grpc.AgentService", "CreateContainer");
	REQUIRE(m != NULL);
	CHECK(m->input == &grpc__create_container_request__descriptor);
	CHECK_EQ_STR(m->output->name, "google.protobuf.Empty");

	m = rpc_catalog_find("grpc.Health", "Check");
	REQUIRE(m != NULL);
	CHECK(m->input == &grpc__check_request__descriptor);
	CHECK(m->output == &grpc__health_check_response__descriptor);
	m = rpc_catalog_find("grpc.Health", "Version");
	REQUIRE(m != NULL);
	CHECK(m->output == &grpc__version_check_response__descriptor);

	m = rpc_catalog_find("grpc.AgentService", "UpdateInterface");
	REQUIRE(m != NULL);
	CHECK_EQ_STR(m->output->name, "types.Interface");

	CHECK(rpc_catalog_find("grpc.AgentService", "NoSuchMethod") == NULL);
	CHECK(rpc_catalog_find("AgentService", "CreateContainer") == NULL);
	CHECK(rpc_catalog_find("grpc.Health", "CreateContainer") == NULL);
	CHECK(rpc_catalog_find(NULL, "Check") == NULL);
}

TEST(every_method_has_descriptors_and_empty_json)
{
	for (size_t i = 0; i < rpc_catalog_count(); i++) {
		const struct rpc_method *m = rpc_catalog_at(i);
		CHECK(m->input && m->input->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
		CHECK(m->output && m->output->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
		if (!m->input || !m->output)
			continue;
		char *in = wire_round_trip(m->input, "{}", tap_failed);
		char *out = wire_round_trip(m->output, "{}", tap_failed);
		CHECK(in && strcmp(in, "{}") == 0);
		CHECK(out && strcmp(out, "{}") == 0);
		free(in);
		free(out);
	}
}

static const char create_json[] =
	"{\"containerId\":\"c1\",\"exec_id\":\"c1\","
	"\"stringUser\":{\"uid\":\"0\",\"additionalGids\":[\"1\",\"2\"]},"
	"\"storages\":[{\"driver\":\"virtio-fs\",\"source\":\"kataShared\",\"fstype\":\"virtiofs\","
	"\"options\":[\"nodev\"],\"mountPoint\":\"/run/kata-containers/shared\","
	"\"fsGroup\":{\"groupId\":1000,\"groupChangePolicy\":1},\"shared\":true}],"
	"\"OCI\":{\"Version\":\"1.1.0\","
	"\"Process\":{\"Terminal\":true,\"User\":{\"UID\":1000,\"GID\":1000,\"AdditionalGids\":[10,20]},"
	"\"Args\":[\"/bin/sh\",\"-c\",\"echo hi\"],\"Env\":[\"PATH=/bin\",\"TERM=xterm\"],"
	"\"Cwd\":\"/\",\"OOMScoreAdj\":-999,"
	"\"Rlimits\":[{\"Type\":\"RLIMIT_NOFILE\",\"Hard\":\"1048576\",\"Soft\":1024}]},"
	"\"Root\":{\"Path\":\"rootfs\",\"Readonly\":true},"
	"\"Mounts\":[{\"destination\":\"/proc\",\"source\":\"proc\",\"type\":\"proc\"},"
	"{\"destination\":\"/dev\",\"source\":\"tmpfs\",\"type\":\"tmpfs\","
	"\"options\":[\"nosuid\",\"strictatime\",\"mode=755\"]}],"
	"\"Annotations\":{\"io.kubernetes.cri.container-type\":\"sandbox\",\"x\":\"\"},"
	"\"Linux\":{\"Sysctl\":{\"net.ipv4.ip_forward\":\"1\"},"
	"\"Resources\":{\"Memory\":{\"Limit\":\"1073741824\",\"Swappiness\":\"18446744073709551615\"},"
	"\"Devices\":[{\"Allow\":false,\"Access\":\"rwm\",\"Major\":-1}]},"
	"\"Namespaces\":[{\"Type\":\"pid\"},{\"Type\":\"network\",\"Path\":\"/proc/1/ns/net\"}],"
	"\"Seccomp\":{\"DefaultAction\":\"SCMP_ACT_ERRNO\",\"Syscalls\":["
	"{\"Names\":[\"read\"],\"Action\":\"SCMP_ACT_ALLOW\"},"
	"{\"Names\":[\"ptrace\"],\"Action\":\"SCMP_ACT_ERRNO\",\"errnoret\":0}]}}},"
	"\"sandboxPidns\":true,\"stdoutPort\":1025}";

/* What comes back: JSON names, 64-bit as strings, enum names, defaults gone
 * (the "x":"" map entry stays: map values are not fields). */
static const char create_canonical[] =
	"{\"containerId\":\"c1\",\"execId\":\"c1\","
	"\"stringUser\":{\"uid\":\"0\",\"additionalGids\":[\"1\",\"2\"]},"
	"\"storages\":[{\"driver\":\"virtio-fs\",\"source\":\"kataShared\",\"fstype\":\"virtiofs\","
	"\"options\":[\"nodev\"],\"mountPoint\":\"/run/kata-containers/shared\","
	"\"fsGroup\":{\"groupId\":1000,\"groupChangePolicy\":\"OnRootMismatch\"},\"shared\":true}],"
	"\"OCI\":{\"Version\":\"1.1.0\","
	"\"Process\":{\"Terminal\":true,\"User\":{\"UID\":1000,\"GID\":1000,\"AdditionalGids\":[10,20]},"
	"\"Args\":[\"/bin/sh\",\"-c\",\"echo hi\"],\"Env\":[\"PATH=/bin\",\"TERM=xterm\"],"
	"\"Cwd\":\"/\",\"OOMScoreAdj\":\"-999\","
	"\"Rlimits\":[{\"Type\":\"RLIMIT_NOFILE\",\"Hard\":\"1048576\",\"Soft\":\"1024\"}]},"
	"\"Root\":{\"Path\":\"rootfs\",\"Readonly\":true},"
	"\"Mounts\":[{\"destination\":\"/proc\",\"source\":\"proc\",\"type\":\"proc\"},"
	"{\"destination\":\"/dev\",\"source\":\"tmpfs\",\"type\":\"tmpfs\","
	"\"options\":[\"nosuid\",\"strictatime\",\"mode=755\"]}],"
	"\"Annotations\":{\"io.kubernetes.cri.container-type\":\"sandbox\",\"x\":\"\"},"
	"\"Linux\":{\"Sysctl\":{\"net.ipv4.ip_forward\":\"1\"},"
	"\"Resources\":{\"Devices\":[{\"Access\":\"rwm\",\"Major\":\"-1\"}],"
	"\"Memory\":{\"Limit\":\"1073741824\",\"Swappiness\":\"18446744073709551615\"}},"
	"\"Namespaces\":[{\"Type\":\"pid\"},{\"Type\":\"network\",\"Path\":\"/proc/1/ns/net\"}],"
	"\"Seccomp\":{\"DefaultAction\":\"SCMP_ACT_ERRNO\",\"Syscalls\":["
	"{\"Names\":[\"read\"],\"Action\":\"SCMP_ACT_ALLOW\"},"
	"{\"Names\":[\"ptrace\"],\"Action\":\"SCMP_ACT_ERRNO\",\"errnoret\":0}]}}},"
	"\"sandboxPidns\":true,\"stdoutPort\":1025}";

TEST(create_container_fields)
{
	struct kerr err = { 0 };
	ProtobufCMessage *pm = NULL;
	int r = pbjson_from_string(&grpc__create_container_request__descriptor, create_json, &pm,
				   &err);
	if (r < 0)
		printf("# %s\n", err.msg);
	REQUIRE(r == 0);
	Grpc__CreateContainerRequest *req = (Grpc__CreateContainerRequest *)pm;

	CHECK_EQ_STR(req->container_id, "c1");
	CHECK_EQ_STR(req->exec_id, "c1");
	CHECK(req->sandbox_pidns);
	CHECK_EQ_INT(req->stdout_port, 1025);
	REQUIRE(req->n_storages == 1);
	CHECK_EQ_INT(req->storages[0]->fs_group->group_change_policy,
		     TYPES__FSGROUP_CHANGE_POLICY__OnRootMismatch);
	REQUIRE(req->oci && req->oci->process);
	Grpc__Process *p = req->oci->process;
	REQUIRE(p->n_args == 3);
	CHECK_EQ_STR(p->args[2], "echo hi");
	CHECK_EQ_INT(p->n_env, 2);
	CHECK_EQ_INT(p->oomscoreadj, -999);
	REQUIRE(p->user && p->user->n_additionalgids == 2);
	CHECK_EQ_INT(p->user->additionalgids[1], 20);
	REQUIRE(p->n_rlimits == 1);
	CHECK(p->rlimits[0]->hard == 1048576);
	REQUIRE(req->oci->n_annotations == 2);
	CHECK_EQ_STR(req->oci->annotations[0]->key, "io.kubernetes.cri.container-type");
	CHECK_EQ_STR(req->oci->annotations[0]->value, "sandbox");
	REQUIRE(req->oci->linux && req->oci->linux->resources && req->oci->linux->resources->memory);
	CHECK(req->oci->linux->resources->memory->limit == 1073741824LL);
	CHECK(req->oci->linux->resources->memory->swappiness == UINT64_MAX);
	CHECK(req->oci->linux->resources->devices[0]->major == -1);
	REQUIRE(req->oci->linux->seccomp && req->oci->linux->seccomp->n_syscalls == 2);
	Grpc__LinuxSyscall *s0 = req->oci->linux->seccomp->syscalls[0];
	Grpc__LinuxSyscall *s1 = req->oci->linux->seccomp->syscalls[1];
	CHECK_EQ_INT(s0->errno_ret_case, GRPC__LINUX_SYSCALL__ERRNO_RET__NOT_SET);
	CHECK_EQ_INT(s1->errno_ret_case, GRPC__LINUX_SYSCALL__ERRNO_RET_ERRNORET);
	CHECK_EQ_INT(s1->errnoret, 0);
	protobuf_c_message_free_unpacked(pm, NULL);
}

TEST(create_container_round_trip)
{
	char *out = wire_round_trip(&grpc__create_container_request__descriptor, create_json,
				    tap_failed);
	REQUIRE(out != NULL);
	CHECK(same_json(out, create_canonical));
	/* The canonical form is a fixed point. */
	char *again = wire_round_trip(&grpc__create_container_request__descriptor, out, tap_failed);
	REQUIRE(again != NULL);
	CHECK(same_json(again, create_canonical));
	free(out);
	free(again);
}

TEST(bytes_base64)
{
	char *out = wire_round_trip(&grpc__write_stream_request__descriptor,
				    "{\"containerId\":\"c\",\"data\":\"aGVsbG8gd29ybGQ=\"}",
				    tap_failed);
	CHECK(out && same_json(out, "{\"containerId\":\"c\",\"data\":\"aGVsbG8gd29ybGQ=\"}"));
	free(out);

	/* URL-safe alphabet and missing padding are accepted; output is standard. */
	out = wire_round_trip(&grpc__set_iptables_request__descriptor,
			      "{\"is_ipv6\":true,\"data\":\"-_8\"}", tap_failed);
	CHECK(out && same_json(out, "{\"isIpv6\":true,\"data\":\"+/8=\"}"));
	free(out);

	struct kerr err = { 0 };
	ProtobufCMessage *pm = NULL;
	REQUIRE(pbjson_from_string(&grpc__write_stream_request__descriptor, "{\"data\":\"AAECAw\"}",
				   &pm, &err) == 0);
	Grpc__WriteStreamRequest *w = (Grpc__WriteStreamRequest *)pm;
	CHECK_EQ_INT(w->data.len, 4);
	CHECK(w->data.len == 4 && memcmp(w->data.data, "\0\1\2\3", 4) == 0);
	protobuf_c_message_free_unpacked(pm, NULL);
}

TEST(int64_number_or_string)
{
	const char *in[] = {
		"{\"path\":\"/run/f\",\"fileSize\":123,\"offset\":\"-4\",\"uid\":-1}",
		"{\"path\":\"/run/f\",\"file_size\":\"123\",\"offset\":-4,\"uid\":\"-1\"}",
	};
	for (size_t i = 0; i < 2; i++) {
		char *out = wire_round_trip(&grpc__copy_file_request__descriptor, in[i],
					    tap_failed);
		CHECK(out && same_json(out, "{\"path\":\"/run/f\",\"fileSize\":\"123\","
					    "\"offset\":\"-4\",\"uid\":-1}"));
		free(out);
	}
	char *out = wire_round_trip(&grpc__guest_details_response__descriptor,
				    "{\"memBlockSizeBytes\":\"18446744073709551615\","
				    "\"agentDetails\":{\"version\":\"3.32.0\",\"initDaemon\":true}}",
				    tap_failed);
	CHECK(out &&
	      same_json(out, "{\"memBlockSizeBytes\":\"18446744073709551615\","
			     "\"agentDetails\":{\"version\":\"3.32.0\",\"initDaemon\":true}}"));
	free(out);
}

TEST(enums_by_name_or_number)
{
	char *out = wire_round_trip(&grpc__health_check_response__descriptor,
				    "{\"status\":\"SERVING\"}", tap_failed);
	CHECK(out && same_json(out, "{\"status\":\"SERVING\"}"));
	free(out);
	out = wire_round_trip(&grpc__health_check_response__descriptor, "{\"status\":2}",
			      tap_failed);
	CHECK(out && same_json(out, "{\"status\":\"NOT_SERVING\"}"));
	free(out);
	/* The zero value is the default: omitted. */
	out = wire_round_trip(&grpc__health_check_response__descriptor, "{\"status\":\"UNKNOWN\"}",
			      tap_failed);
	CHECK(out && same_json(out, "{}"));
	free(out);
	/* Open enum: an unnamed number survives as a number. */
	out = wire_round_trip(&grpc__health_check_response__descriptor, "{\"status\":7}",
			      tap_failed);
	CHECK(out && same_json(out, "{\"status\":7}"));
	free(out);
	out = wire_round_trip(&types__route__descriptor, "{\"family\":\"v6\",\"dest\":\"::/0\"}",
			      tap_failed);
	CHECK(out && same_json(out, "{\"dest\":\"::/0\",\"family\":\"v6\"}"));
	free(out);
}

TEST(maps_with_scalar_and_message_values)
{
	const char *j = "{\"cgroupStats\":{\"memoryStats\":{\"cache\":\"10\",\"stats\":"
			"{\"rss\":\"4096\",\"swap\":\"0\"}},"
			"\"hugetlbStats\":{\"2MB\":{\"usage\":\"2097152\"},\"1GB\":{}}},"
			"\"networkStats\":[{\"name\":\"eth0\",\"rxBytes\":\"1\"}]}";
	char *out = wire_round_trip(&grpc__stats_container_response__descriptor, j, tap_failed);
	CHECK(out && same_json(out, j));
	free(out);
}

TEST(oneof_and_optional_presence)
{
	/* Upstream's proto3 `optional` fields keep an explicit false/0. */
	const char *j = "{\"disabled\":false,\"swappinessMax\":0,\"periodSecs\":\"600\"}";
	char *out = wire_round_trip(&grpc__mem_agent_memcg_config__descriptor, j, tap_failed);
	CHECK(out && same_json(out, j));
	free(out);

	struct kerr err = { 0 };
	ProtobufCMessage *pm = NULL;
	REQUIRE(pbjson_from_string(&grpc__mem_agent_memcg_config__descriptor, j, &pm, &err) == 0);
	Grpc__MemAgentMemcgConfig *c = (Grpc__MemAgentMemcgConfig *)pm;
	CHECK_EQ_INT(c->_disabled_case, GRPC__MEM_AGENT_MEMCG_CONFIG___DISABLED_DISABLED);
	CHECK_EQ_INT(c->_swap_case, GRPC__MEM_AGENT_MEMCG_CONFIG___SWAP__NOT_SET);
	/* Present-but-zero is on the wire too (tag + 0). */
	CHECK(protobuf_c_message_get_packed_size(pm) > 0);
	protobuf_c_message_free_unpacked(pm, NULL);
}

TEST(defaults_omitted_and_null_accepted)
{
	char *out = wire_round_trip(&grpc__create_container_request__descriptor,
				    "{\"containerId\":\"\",\"sandboxPidns\":false,\"stdinPort\":0,"
				    "\"devices\":[],\"OCI\":null,\"storages\":null}",
				    tap_failed);
	CHECK(out && same_json(out, "{}"));
	free(out);
	/* An empty submessage is still present. */
	out = wire_round_trip(&grpc__create_container_request__descriptor, "{\"OCI\":{}}",
			      tap_failed);
	CHECK(out && same_json(out, "{\"OCI\":{}}"));
	free(out);
}

TEST(bad_input_is_reported_clearly)
{
	const ProtobufCMessageDescriptor *cc = &grpc__create_container_request__descriptor;

	CHECK(fails_with(cc, "{\"bogus\":1}", "unknown field \"bogus\"",
			 "grpc.CreateContainerRequest"));
	CHECK(fails_with(cc, "{\"OCI\":{\"Process\":{\"Argz\":[]}}}", "unknown field \"Argz\"",
			 "grpc.Process"));
	CHECK(fails_with(cc, "{\"OCI\":{\"Process\":{\"Argz\":[]}}}", "OCI.Process", NULL));
	CHECK(fails_with(cc, "{\"containerId\":5}", "containerId", "expected a string"));
	CHECK(fails_with(cc, "{\"OCI\":{\"Process\":{\"Args\":[\"a\",1]}}}", "OCI.Process.Args[1]",
			 "expected a string"));
	CHECK(fails_with(cc, "{\"OCI\":[]}", "expected an object", "grpc.Spec"));
	CHECK(fails_with(cc, "{\"devices\":{}}", "devices", "expected an array"));
	CHECK(fails_with(cc, "{\"OCI\":{\"Annotations\":[]}}", "expected an object (map)", NULL));
	CHECK(fails_with(cc, "{\"OCI\":{\"Annotations\":{\"k\":1}}}", "Annotations[\"k\"]",
			 "expected a string"));
	CHECK(fails_with(cc, "{\"sandboxPidns\":\"yes\"}", "expected true or false", NULL));
	CHECK(fails_with(cc, "{\"stdinPort\":-1}", "negative", NULL));
	CHECK(fails_with(cc, "{\"stdinPort\":4294967296}", "out of range", NULL));
	CHECK(fails_with(cc, "{\"stdinPort\":1.5}", "not an unsigned integer", NULL));
	CHECK(fails_with(cc, "{\"container_id\":\"a\",\"containerId\":\"b\"}", "given twice", NULL));
	CHECK(fails_with(cc, "{\"storages\":[{\"fsGroup\":{\"groupChangePolicy\":\"Sometimes\"}}]}",
			 "storages[0].fsGroup.groupChangePolicy",
			 "not a value of enum types.FSGroupChangePolicy"));
	CHECK(fails_with(&grpc__write_stream_request__descriptor, "{\"data\":\"aGV*bG8=\"}",
			 "bad base64", "offset 3"));
	CHECK(fails_with(&grpc__write_stream_request__descriptor, "{\"data\":\"aGVsb\"}",
			 "bad base64", NULL));
	CHECK(fails_with(&grpc__write_stream_request__descriptor, "{\"data\":3}",
			 "expected a base64 string", NULL));
	CHECK(fails_with(&grpc__copy_file_request__descriptor, "{\"fileSize\":\"12x\"}",
			 "not a decimal integer", NULL));
	CHECK(fails_with(&grpc__copy_file_request__descriptor, "{\"uid\":2147483648}",
			 "out of range", NULL));
	CHECK(fails_with(cc, "[]", "expected an object", NULL));
	CHECK(fails_with(cc, "{\"containerId\":", "line 1", NULL));
	CHECK(fails_with(cc, "{\"a\":1,\"a\":2}", "duplicate", NULL));
}

TEST(nul_in_string_is_refused)
{
	/* jansson's parser refuses \u0000 already; a json_t built in code may hold one. */
	struct kerr err = { 0 };
	ProtobufCMessage *m = NULL;
	json_t *j = json_object();
	json_object_set_new(j, "path", json_stringn("a\0b", 3));
	CHECK_EQ_INT(pbjson_from_json(&grpc__copy_file_request__descriptor, j, &m, &err), -EINVAL);
	CHECK(m == NULL);
	CHECK(strstr(err.msg, "NUL") != NULL);
	json_decref(j);
}

TEST(invalid_utf8_cannot_become_json)
{
	Grpc__CreateContainerRequest req = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	char bad_s[] = "a\xff";
	struct kerr err = { 0 };
	req.container_id = bad_s;
	json_t *j = pbjson_to_json(&req.base, &err);
	CHECK(j == NULL);
	CHECK_EQ_INT(err.code, -EILSEQ);
	CHECK(strstr(err.msg, "containerId") != NULL);
	json_decref(j);
}

TEST(json_names)
{
	char buf[64];
	const ProtobufCMessageDescriptor *d = &grpc__create_container_request__descriptor;
	CHECK_EQ_STR(pbjson_field_json_name(protobuf_c_message_descriptor_get_field(d, 1), buf,
					    sizeof(buf)),
		     "containerId");
	CHECK_EQ_STR(pbjson_field_json_name(protobuf_c_message_descriptor_get_field(d, 6), buf,
					    sizeof(buf)),
		     "OCI");
	d = &grpc__mem_hotplug_by_probe_request__descriptor;
	CHECK_EQ_STR(pbjson_field_json_name(protobuf_c_message_descriptor_get_field(d, 1), buf,
					    sizeof(buf)),
		     "memHotplugProbeAddr");
}

/* ---- every field of every message reachable from the API ---- */

static json_t *gen_message(const ProtobufCMessageDescriptor *d, int depth);

/* A non-default value of f's type, in canonical JSON form. */
static json_t *gen_value(const ProtobufCFieldDescriptor *f, int depth)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(-5);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(4000000000);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return json_string("-9000000000");
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return json_string("18000000000000000000");
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
		return json_real(1.5);
	case PROTOBUF_C_TYPE_BOOL:
		return json_true();
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumDescriptor *ed = f->descriptor;
		return json_string(ed->values[ed->n_values - 1].name);
	}
	case PROTOBUF_C_TYPE_STRING:
		return json_string("s\u00e9\n");
	case PROTOBUF_C_TYPE_BYTES:
		return json_string("AAEC/w==");
	case PROTOBUF_C_TYPE_MESSAGE:
		return gen_message(f->descriptor, depth + 1);
	}
	return json_null();
}

static json_t *gen_message(const ProtobufCMessageDescriptor *d, int depth)
{
	json_t *o = json_object();
	unsigned oneof_done[16];
	size_t n_oneof = 0;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char jn[128];
		json_t *v;

		if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth > 8)
			continue;
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			bool dup = false;
			for (size_t k = 0; k < n_oneof; k++)
				dup |= oneof_done[k] == f->quantifier_offset;
			if (dup || n_oneof == 16)
				continue;
			oneof_done[n_oneof++] = f->quantifier_offset;
		}
		const ProtobufCMessageDescriptor *ed = f->descriptor;
		if (f->label == PROTOBUF_C_LABEL_REPEATED && f->type == PROTOBUF_C_TYPE_MESSAGE &&
		    strstr(ed->name, "Entry") && ed->n_fields == 2 &&
		    strcmp(ed->fields[0].name, "key") == 0) {
			v = json_object();
			const char *key = ed->fields[0].type == PROTOBUF_C_TYPE_STRING ? "k\u00e9"
										       : "7";
			json_object_set_new(v, key, gen_value(&ed->fields[1], depth));
			json_object_set_new(v, "other", gen_value(&ed->fields[1], depth));
		} else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			v = json_array();
			json_array_append_new(v, gen_value(f, depth));
			json_array_append_new(v, gen_value(f, depth));
		} else {
			v = gen_value(f, depth);
		}
		json_object_set_new(o, pbjson_field_json_name(f, jn, sizeof(jn)), v);
	}
	return o;
}

TEST(every_field_of_every_api_message_round_trips)
{
	for (size_t i = 0; i < rpc_catalog_count(); i++) {
		const struct rpc_method *m = rpc_catalog_at(i);
		const ProtobufCMessageDescriptor *ds[2] = { m->input, m->output };
		for (int k = 0; k < 2; k++) {
			json_t *full = gen_message(ds[k], 0);
			char *text = json_dumps(full, JSON_COMPACT);
			char *out = wire_round_trip(ds[k], text, tap_failed);
			bool same = out && same_json(out, text);
			if (!same)
				printf("# %s/%s %s\n", m->service, m->method, ds[k]->name);
			CHECK(same);
			free(out);
			free(text);
			json_decref(full);
		}
	}
}

int main(void)
{
	return tap_run();
}
