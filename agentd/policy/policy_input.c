/* SPDX-License-Identifier: Apache-2.0 */
/* policy_input.c - agent requests in the serde shape upstream's policy reads
 * (see policy_input.h for the rules and the upstream functions matched). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.pb-c.h"
#include "grpc_status.h"
#include "pbjson.h"
#include "policy_input.h"

static const char *const rust_keywords[] = { "type",  "in",     "fn",     "use",   "mod",
					     "ref",   "self",   "match",  "move",  "loop",
					     "impl",  "struct", "enum",   "trait", "where",
					     "crate", "super",  "static", "const", NULL };

/* Real (not proto3-optional) oneofs: protobuf-c's descriptors do not name
 * oneofs, so the few the protos have are listed here. */
static const struct {
	const char *message, *member, *oneof;
} real_oneofs[] = {
	{ "grpc.LinuxSyscall", "errnoret", "ErrnoRet" },
};

static const char *rust_name(const char *name, char *buf, size_t size)
{
	for (const char *const *k = rust_keywords; *k; k++)
		if (!strcmp(name, *k)) {
			snprintf(buf, size, "%s_", name);
			return buf;
		}
	return name;
}

static const char *real_oneof(const ProtobufCMessageDescriptor *d,
			      const ProtobufCFieldDescriptor *f)
{
	for (size_t i = 0; i < sizeof(real_oneofs) / sizeof(real_oneofs[0]); i++)
		if (!strcmp(real_oneofs[i].message, d->name) &&
		    !strcmp(real_oneofs[i].member, f->name))
			return real_oneofs[i].oneof;
	return NULL;
}

struct pctx {
	struct kerr *err;
};

static json_t *message_json(const ProtobufCMessage *m, struct pctx *c);

static json_t *fail(struct pctx *c, int code, const char *what, const char *field)
{
	if (!c->err->code)
		kerr_set_status(c->err,
				code == -ENOMEM || code == -E2BIG ? GRPC_RESOURCE_EXHAUSTED
								  : GRPC_INVALID_ARGUMENT,
				code, "policy input: %s%s%s", what, field ? " in field " : "",
				field ? field : "");
	return NULL;
}

static json_t *string_json(const char *s, struct pctx *c, const char *field)
{
	json_t *j = json_string(s ? s : "");
	return j ? j : fail(c, -EILSEQ, "a string that is not UTF-8", field);
}

/* One JSON number per byte, as upstream's Vec<u8>: bounded, or a big
 * SetIPTables rule set would become millions of JSON values here. */
static json_t *bytes_json(const ProtobufCBinaryData *b, struct pctx *c, const char *field)
{
	if (b->len > POLICY_INPUT_BYTES_MAX)
		return fail(c, -E2BIG, "more bytes than a policy is shown", field);
	json_t *a = json_array();
	for (size_t i = 0; a && i < b->len; i++)
		json_array_append_new(a, json_integer(b->data[i]));
	return a;
}

/* One value of field f stored at p. */
static json_t *value_json(const ProtobufCFieldDescriptor *f, const void *p, struct pctx *c)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_ENUM: /* serialize_enum_or_unknown: the number */
		return json_integer(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return json_integer(*(const int64_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: {
		uint64_t u = *(const uint64_t *)p;
		/* jansson's integers are signed 64-bit: past that, a real */
		return u > INT64_MAX ? json_real((double)u) : json_integer((json_int_t)u);
	}
	case PROTOBUF_C_TYPE_FLOAT:
		return json_real(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return json_real(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_STRING:
		return string_json(*(char *const *)p, c, f->name);
	case PROTOBUF_C_TYPE_BYTES:
		return bytes_json((const ProtobufCBinaryData *)p, c, f->name);
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
		return m ? message_json(m, c) : json_null();
	}
	}
	return fail(c, -EINVAL, "an unknown field type", f->name);
}

static json_t *map_json(const ProtobufCFieldDescriptor *f, const void *base, struct pctx *c)
{
	size_t n = *(const size_t *)((const char *)base + f->quantifier_offset);
	ProtobufCMessage *const *entries = *(ProtobufCMessage *const **)((const char *)base +
									 f->offset);
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	const ProtobufCFieldDescriptor *kf = &ed->fields[0];
	const ProtobufCFieldDescriptor *vf = &ed->fields[1];
	json_t *o = json_object();
	for (size_t i = 0; o && i < n; i++) {
		const char *e = (const char *)entries[i];
		json_t *k = value_json(kf, e + kf->offset, c);
		json_t *v = value_json(vf, e + vf->offset, c);
		if (!k || !v) {
			json_decref(k);
			json_decref(v);
			json_decref(o);
			return NULL;
		}
		/* serde_json writes non-string keys (numbers) as their text */
		char *ks = json_is_string(k) ? strdup(json_string_value(k))
					     : json_dumps(k, JSON_ENCODE_ANY | JSON_COMPACT);
		json_decref(k);
		if (!ks) {
			json_decref(v);
			json_decref(o);
			return fail(c, -ENOMEM, "out of memory", NULL);
		}
		json_object_set_new(o, ks, v);
		free(ks);
	}
	return o;
}

static json_t *field_json(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
			  struct pctx *c)
{
	const char *base = (const char *)m;
	if (pbjson_is_map_field(m->descriptor, f))
		return map_json(f, m, c);
	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t n = *(const size_t *)(base + f->quantifier_offset);
		const char *items = *(const char *const *)(base + f->offset);
		json_t *a = json_array();
		for (size_t i = 0; a && i < n; i++) {
			json_t *v = value_json(f, items + i * pbjson_elem_size(f->type), c);
			if (!v) {
				json_decref(a);
				return NULL;
			}
			json_array_append_new(a, v);
		}
		return a;
	}
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		uint32_t which = *(const uint32_t *)(base + f->quantifier_offset);
		if (which != f->id)
			return json_null();
	}
	return value_json(f, base + f->offset, c);
}

static json_t *message_json(const ProtobufCMessage *m, struct pctx *c)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	json_t *o = json_object();
	if (!o)
		return fail(c, -ENOMEM, "out of memory", NULL);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		char buf[64];
		json_t *v = field_json(m, f, c);
		if (!v) {
			json_decref(o);
			return NULL;
		}
		const char *oneof = (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ? real_oneof(d, f)
									     : NULL;
		if (oneof) {
			if (!json_is_null(v)) {
				json_t *tagged = json_object();
				json_object_set_new(tagged, rust_name(f->name, buf, sizeof(buf)),
						    v);
				v = tagged;
			}
			json_object_set_new(o, oneof, v);
			continue;
		}
		json_object_set_new(o, rust_name(f->name, buf, sizeof(buf)), v);
	}
	return o;
}

/* upstream policy.rs FileType::from(raw_mode) */
static const char *file_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "Regular";
	case S_IFDIR:
		return "Directory";
	case S_IFLNK:
		return "Symlink";
	default:
		return "Unknown";
	}
}

/* upstream policy.rs PolicyCopyFileRequest::try_from(&CopyFileRequest) */
static json_t *copy_file_json(const Grpc__CopyFileRequest *r, struct pctx *c)
{
	const char *type = file_type(r->file_mode);
	json_t *target = json_null();
	if (!strcmp(type, "Symlink")) {
		json_decref(target);
		target = json_stringn((const char *)r->data.data, r->data.len);
		if (!target || memchr(r->data.data, 0, r->data.len))
			return json_decref(target),
			       fail(c, -EILSEQ, "invalid symlink content", NULL);
	}
	json_t *path = string_json(r->path, c, "path");
	if (!path) {
		json_decref(target);
		return NULL;
	}
	return json_pack("{s:o, s:s, s:o, s:I, s:I, s:I, s:i, s:i, s:I}", "path", path, "file_type",
			 type, "symlink_target", target, "file_size", (json_int_t)r->file_size,
			 "file_mode", (json_int_t)r->file_mode, "dir_mode", (json_int_t)r->dir_mode,
			 "uid", r->uid, "gid", r->gid, "offset", (json_int_t)r->offset);
}

json_t *policy_input(const ProtobufCMessage *req, struct kerr *err)
{
	struct kerr local;
	struct pctx c = { err ? err : &local };
	kerr_clear(c.err);
	if (req->descriptor == &grpc__copy_file_request__descriptor)
		return copy_file_json((const Grpc__CopyFileRequest *)req, &c);
	return message_json(req, &c);
}

const char *policy_input_endpoint(const ProtobufCMessage *req)
{
	return req->descriptor->short_name;
}
