/* SPDX-License-Identifier: Apache-2.0 */
/*
 * oci_json.c - an OCI runtime-spec config.json as the agent's grpc.Spec.
 *
 * Kata's oci.proto mirrors the runtime-spec Go structs, so its field names
 * are the Go names ("Process", "UIDMappings") where config.json uses the
 * JSON tags ("process", "uidMappings"). Nearly all differ only in case, so
 * the document is rewritten key by key against the message descriptors
 * (case-insensitive match), then handed to pbjson. The few real renames
 * are the table below; keys with no field in the agent's Spec (newer
 * runtime-spec additions such as process.scheduler, linux.personality) are
 * dropped with a warning, since the agent could not apply them anyway.
 * Map fields (annotations, sysctls) keep their keys untouched.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ctl.h"
#include "pbjson.h"

/* config.json key -> oci.proto field, where they differ by more than case. */
static const struct {
	const char *message; /* full protobuf name of the containing message */
	const char *json;
	const char *field;
} renames[] = {
	{ "grpc.Spec", "ociVersion", "Version" },
	{ "grpc.Linux", "sysctls", "Sysctl" },
};

static bool is_map(const ProtobufCFieldDescriptor *f)
{
	if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return false;
	const ProtobufCMessageDescriptor *e = f->descriptor;
	size_t n = strlen(e->short_name);
	return n > 5 && strcmp(e->short_name + n - 5, "Entry") == 0 && e->n_fields == 2;
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d,
						  const char *key)
{
	for (size_t i = 0; i < sizeof(renames) / sizeof(renames[0]); i++)
		if (strcmp(renames[i].message, d->name) == 0 && strcmp(renames[i].json, key) == 0)
			return protobuf_c_message_descriptor_get_field_by_name(d, renames[i].field);
	for (unsigned i = 0; i < d->n_fields; i++)
		if (strcasecmp(d->fields[i].name, key) == 0)
			return &d->fields[i];
	return NULL;
}

static json_t *convert(const ProtobufCMessageDescriptor *d, json_t *in, const char *path);

static json_t *convert_value(const ProtobufCFieldDescriptor *f, json_t *v, const char *path)
{
	if (f->type != PROTOBUF_C_TYPE_MESSAGE || is_map(f) || json_is_null(v))
		return json_incref(v);
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		if (!json_is_array(v))
			return json_incref(v); /* pbjson names the type error */
		json_t *out = json_array();
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) {
			char p[512];
			snprintf(p, sizeof(p), "%.400s[%zu]", path, i);
			json_array_append_new(out, convert(f->descriptor, e, p));
		}
		return out;
	}
	return convert(f->descriptor, v, path);
}

static json_t *convert(const ProtobufCMessageDescriptor *d, json_t *in, const char *path)
{
	if (!json_is_object(in))
		return json_incref(in);
	json_t *out = json_object();
	const char *key;
	json_t *v;
	json_object_foreach(in, key, v) {
		char p[512];
		snprintf(p, sizeof(p), "%.400s%s%.100s", path, *path ? "." : "", key);
		const ProtobufCFieldDescriptor *f = find_field(d, key);
		if (!f) {
			fprintf(stderr,
				"kata-agent-ctl: warning: config.json: %s: not in the agent's "
				"spec, ignored\n",
				p);
			continue;
		}
		json_object_set_new(out, f->name, convert_value(f, v, p));
	}
	return out;
}

int oci_json_to_spec(json_t *config, Grpc__Spec **out, struct kerr *err)
{
	if (!json_is_object(config))
		return kerr_set(err, -EINVAL, "config.json: not a JSON object");
	json_t *j = convert(&grpc__spec__descriptor, config, "");
	ProtobufCMessage *m = NULL;
	int r = pbjson_from_json(&grpc__spec__descriptor, j, &m, err);
	json_decref(j);
	if (r < 0)
		return kerr_prefix(err, "config.json");
	*out = (Grpc__Spec *)m;
	return 0;
}
