/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_input: decoded requests in the serde shape upstream's agent feeds
 * its policy (src/agent/src/policy.rs is_allowed; src/libs/protocols
 * serde_config.rs; src/agent/policy/src/policy.rs PolicyCopyFileRequest).
 * Requests are built from proto3 JSON as the Go runtime fills them
 * (kataAgent.createContainer in src/runtime/virtcontainers/kata_agent.go).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tap.h"
#include "agent.pb-c.h"
#include "grpc_status.h"
#include "pbjson.h"
#include "policy_input.h"

static ProtobufCMessage *decode(const ProtobufCMessageDescriptor *d, const char *json)
{
	struct kerr err;
	ProtobufCMessage *m = NULL;
	if (pbjson_from_string(d, json, &m, &err) < 0) {
		printf("# decode: %s\n", err.msg);
		return NULL;
	}
	return m;
}

/* The compact JSON of a path ("a.b.0.c") in j, or "(absent)". */
static char got[4096];
static const char *at(json_t *j, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *tok = strtok(buf, "."); tok && j; tok = strtok(NULL, "."))
		j = json_is_array(j) ? json_array_get(j, strtoul(tok, NULL, 10))
				     : json_object_get(j, tok);
	if (!j)
		return "(absent)";
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
	snprintf(got, sizeof(got), "%s", s);
	free(s);
	return got;
}

static json_t *input_of(ProtobufCMessage *m)
{
	struct kerr err;
	json_t *j = policy_input(m, &err);
	if (!j)
		printf("# policy_input: %s\n", err.msg);
	return j;
}

TEST(create_container_shape)
{
	ProtobufCMessage *m = decode(
		&grpc__create_container_request__descriptor,
		"{\"containerId\": \"c1\", \"execId\": \"c1\","
		" \"storages\": [{\"driver\": \"image_guest_pull\", \"source\": \"img\", \"fstype\": \"overlay\","
		"   \"mountPoint\": \"/run/kata-containers/c1/rootfs\"}],"
		" \"OCI\": {\"Version\": \"1.1.0\","
		"   \"Process\": {\"Args\": [\"/bin/sh\", \"-c\", \"true\"], \"Cwd\": \"/\","
		"     \"User\": {\"UID\": 1000, \"GID\": 1000}},"
		"   \"Root\": {\"Path\": \"/run/kata-containers/c1/rootfs\"},"
		"   \"Mounts\": [{\"destination\": \"/dev/shm\", \"type\": \"bind\", \"source\": \"/run/kata-containers/sandbox/shm\","
		"     \"options\": [\"rbind\"]}],"
		"   \"Annotations\": {\"io.kubernetes.cri.container-type\": \"container\"},"
		"   \"Linux\": {\"Namespaces\": [{\"Type\": \"ipc\"}]}}}");
	REQUIRE(m != NULL);
	json_t *j = input_of(m);
	REQUIRE(j != NULL);
	CHECK_EQ_STR(policy_input_endpoint(m), "CreateContainerRequest");
	/* what genpolicy's rules.rego reads */
	CHECK_EQ_STR(at(j, "OCI.Process.Args"), "[\"/bin/sh\",\"-c\",\"true\"]");
	CHECK_EQ_STR(at(j, "storages.0.mount_point"), "\"/run/kata-containers/c1/rootfs\"");
	CHECK_EQ_STR(at(j, "storages.0.fs_group"), "null");
	CHECK_EQ_STR(at(j, "storages.0.shared"), "false");
	CHECK_EQ_STR(at(j, "storages.0.options"), "[]");
	CHECK_EQ_STR(at(j, "container_id"), "\"c1\"");
	CHECK_EQ_STR(at(j, "string_user"), "null");
	CHECK_EQ_STR(at(j, "shared_mounts"), "[]");
	CHECK_EQ_STR(at(j, "sandbox_pidns"), "false");
	CHECK_EQ_STR(at(j, "OCI.Hooks"), "null");
	CHECK_EQ_STR(at(j, "OCI.Solaris"), "null");
	CHECK_EQ_STR(at(j, "OCI.Hostname"), "\"\"");
	CHECK_EQ_STR(at(j, "OCI.Mounts.0.type_"), "\"bind\"");
	CHECK_EQ_STR(at(j, "OCI.Mounts.0.type"), "(absent)");
	CHECK_EQ_STR(at(j, "OCI.Annotations"),
		     "{\"io.kubernetes.cri.container-type\":\"container\"}");
	CHECK_EQ_STR(at(j, "OCI.Process.User"),
		     "{\"AdditionalGids\":[],\"GID\":1000,\"UID\":1000,\"Username\":\"\"}");
	CHECK_EQ_STR(at(j, "OCI.Process.Capabilities"), "null");
	CHECK_EQ_STR(at(j, "OCI.Linux.Resources"), "null");
	CHECK_EQ_STR(at(j, "OCI.Linux.Namespaces"), "[{\"Path\":\"\",\"Type\":\"ipc\"}]");
	CHECK_EQ_STR(at(j, "OCI.Linux.GIDMappings"), "[]");
	json_decref(j);
	protobuf_c_message_free_unpacked(m, NULL);
}

TEST(numbers_bytes_enums_oneofs)
{
	ProtobufCMessage *m = decode(&grpc__write_stream_request__descriptor,
				     "{\"containerId\": \"c\", \"data\": \"aGk=\"}");
	REQUIRE(m != NULL);
	json_t *j = input_of(m);
	/* bytes: an array of numbers (Vec<u8>), not base64 */
	CHECK_EQ_STR(at(j, "data"), "[104,105]");
	json_decref(j);
	protobuf_c_message_free_unpacked(m, NULL);

	m = decode(&grpc__mem_hotplug_by_probe_request__descriptor,
		   "{\"memHotplugProbeAddr\": [\"4294967296\", \"1\"]}");
	REQUIRE(m != NULL);
	j = input_of(m);
	/* 64-bit numbers stay numbers (proto3 JSON would write strings) */
	CHECK_EQ_STR(at(j, "memHotplugProbeAddr"), "[4294967296,1]");
	json_decref(j);
	protobuf_c_message_free_unpacked(m, NULL);

	m = decode(&grpc__update_interface_request__descriptor,
		   "{\"interface\": {\"name\": \"eth0\", \"IPAddresses\": [{\"family\": \"v6\", \"address\": \"::1\"}]}}");
	REQUIRE(m != NULL);
	j = input_of(m);
	/* an enum is its number (serialize_enum_or_unknown) */
	CHECK_EQ_STR(at(j, "interface.IPAddresses.0.family"), "1");
	json_decref(j);
	protobuf_c_message_free_unpacked(m, NULL);

	/* proto3 optional: null or the value (Option<T>) */
	m = decode(&grpc__mem_agent_memcg_config__descriptor, "{\"swap\": false}");
	REQUIRE(m != NULL);
	j = input_of(m);
	CHECK_EQ_STR(at(j, "swap"), "false");
	CHECK_EQ_STR(at(j, "disabled"), "null");
	json_decref(j);
	protobuf_c_message_free_unpacked(m, NULL);
}

TEST(real_oneof_is_tagged)
{
	ProtobufCMessage *
		m = decode(&grpc__create_container_request__descriptor,
			   "{\"OCI\": {\"Linux\": {\"Seccomp\": {\"Syscalls\": ["
			   "{\"Names\": [\"mount\"], \"Action\": \"SCMP_ACT_ERRNO\", \"errnoret\": 1},"
			   "{\"Names\": [\"umount\"], \"Action\": \"SCMP_ACT_ERRNO\"}]}}}}");
	REQUIRE(m != NULL);
	json_t *j = input_of(m);
	REQUIRE(j != NULL);
	CHECK_EQ_STR(at(j, "OCI.Linux.Seccomp.Syscalls.0.ErrnoRet"), "{\"errnoret\":1}");
	CHECK_EQ_STR(at(j, "OCI.Linux.Seccomp.Syscalls.1.ErrnoRet"), "null");
	CHECK_EQ_STR(at(j, "OCI.Linux.Seccomp.Syscalls.0.errnoret"), "(absent)");
	json_decref(j);
	protobuf_c_message_free_unpacked(m, NULL);
}

TEST(copy_file_translation)
{
	Grpc__CopyFileRequest r = GRPC__COPY_FILE_REQUEST__INIT;
	r.path = "/run/kata-containers/shared/containers/x-resolv.conf";
	r.file_mode = S_IFREG | 0644;
	r.file_size = 42;
	r.dir_mode = 0755;
	r.data.data = (uint8_t *)"nameserver 10.0.0.1\n";
	r.data.len = strlen((char *)r.data.data);
	json_t *j = input_of(&r.base);
	REQUIRE(j != NULL);
	CHECK_EQ_STR(policy_input_endpoint(&r.base), "CopyFileRequest");
	CHECK_EQ_STR(at(j, "file_type"), "\"Regular\"");
	CHECK_EQ_STR(at(j, "symlink_target"), "null");
	CHECK_EQ_STR(at(j, "file_mode"), "33188");
	CHECK_EQ_STR(at(j, "file_size"), "42");
	/* the data never reaches the policy */
	CHECK_EQ_STR(at(j, "data"), "(absent)");
	CHECK_EQ_INT(json_object_size(j), 9);
	json_decref(j);

	r.file_mode = S_IFDIR | 0755;
	j = input_of(&r.base);
	CHECK_EQ_STR(at(j, "file_type"), "\"Directory\"");
	json_decref(j);

	r.file_mode = S_IFLNK | 0777;
	r.data.data = (uint8_t *)"../etc/passwd";
	r.data.len = strlen((char *)r.data.data);
	j = input_of(&r.base);
	CHECK_EQ_STR(at(j, "file_type"), "\"Symlink\"");
	CHECK_EQ_STR(at(j, "symlink_target"), "\"../etc/passwd\"");
	json_decref(j);

	r.file_mode = S_IFSOCK;
	j = input_of(&r.base);
	CHECK_EQ_STR(at(j, "file_type"), "\"Unknown\"");
	json_decref(j);

	/* a symlink target that is not UTF-8: refused, as upstream's try_from */
	struct kerr err;
	r.file_mode = S_IFLNK;
	r.data.data = (uint8_t *)"\xff\xfe";
	r.data.len = 2;
	CHECK(policy_input(&r.base, &err) == NULL);
	CHECK_EQ_INT(err.code, -EILSEQ);
	CHECK_EQ_STR(err.msg, "policy input: invalid symlink content");
}

TEST(strings_must_be_utf8)
{
	/* a hostile host can send any bytes in a protobuf string; Rust's decoder
	 * refuses them, so must we (JSON cannot carry them either) */
	Grpc__RemoveContainerRequest r = GRPC__REMOVE_CONTAINER_REQUEST__INIT;
	r.container_id = "\xc3\x28";
	struct kerr err;
	CHECK(policy_input(&r.base, &err) == NULL);
	CHECK_EQ_INT(err.code, -EILSEQ);
	CHECK_EQ_STR(err.msg, "policy input: a string that is not UTF-8 in field container_id");
}

TEST(bytes_bounded)
{
	/* SetIPTables as kata_agent.go setIPTables sends it: data as an array
	 * of numbers, as upstream; above the bound, refused before any JSON */
	static uint8_t big[POLICY_INPUT_BYTES_MAX + 1];
	Grpc__SetIPTablesRequest r = GRPC__SET_IPTABLES_REQUEST__INIT;
	r.is_ipv6 = 1;
	r.data.data = (uint8_t *)"*filter\n";
	r.data.len = 8;
	json_t *j = input_of(&r.base);
	REQUIRE(j != NULL);
	CHECK_EQ_STR(at(j, "is_ipv6"), "true");
	CHECK_EQ_STR(at(j, "data.0"), "42");
	CHECK_EQ_INT(json_array_size(json_object_get(j, "data")), 8);
	json_decref(j);
	r.data.data = big;
	r.data.len = POLICY_INPUT_BYTES_MAX;
	j = input_of(&r.base);
	CHECK(j != NULL);
	json_decref(j);
	r.data.len = POLICY_INPUT_BYTES_MAX + 1;
	struct kerr err;
	CHECK(policy_input(&r.base, &err) == NULL);
	CHECK_EQ_INT(err.code, -E2BIG);
	CHECK_EQ_INT(err.status, GRPC_RESOURCE_EXHAUSTED);
	CHECK_EQ_STR(err.msg, "policy input: more bytes than a policy is shown in field data");
}

int main(void)
{
	return tap_run();
}
