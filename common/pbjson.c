/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pbjson.c - protobuf-c message <-> JSON, see pbjson.h for the mapping.
 *
 * Building a message from JSON links every allocation into the root message
 * as soon as it is made (counts set before elements are filled, oneof cases
 * set before their value), so on any error the partial message is always in
 * a state protobuf_c_message_free_unpacked() can release. That function
 * frees every element of a repeated string/bytes/message array and every
 * singular string that is not the descriptor's default: hence we strdup
 * every string we store and never store the shared empty string ourselves.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "cleanup.h"
#include "grpc_status.h"
#include "pbjson.h"

/* Where in the document we are, for error messages ("OCI.Process.Args[2]"). */
struct jpath {
	char s[512];
	size_t len;
};

struct ctx {
	struct kerr *err;
	struct jpath path;
};

static size_t path_push(struct jpath *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static size_t path_push(struct jpath *p, const char *fmt, ...)
{
	size_t old = p->len;
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(p->s + p->len, sizeof(p->s) - p->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		p->len = p->len + (size_t)n < sizeof(p->s) ? p->len + (size_t)n : sizeof(p->s) - 1;
	return old;
}

static size_t path_push_field(struct jpath *p, const char *name)
{
	return path_push(p, "%s%s", p->len ? "." : "", name);
}

static void path_pop(struct jpath *p, size_t old)
{
	p->len = old;
	p->s[old] = '\0';
}

static const char *path_str(const struct jpath *p)
{
	return p->len ? p->s : "(top level)";
}

/* An input error at the current path, naming the message type it concerns. */
static int bad(struct ctx *c, const char *msgtype, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(struct ctx *c, const char *msgtype, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return kerr_set_status(c->err, GRPC_INVALID_ARGUMENT, -EINVAL, "%s: %s (in message %s)",
			       path_str(&c->path), what, msgtype);
}

static int oom(struct ctx *c)
{
	return kerr_set_status(c->err, GRPC_RESOURCE_EXHAUSTED, -ENOMEM,
			       "out of memory converting %s", path_str(&c->path));
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

const char *pbjson_field_json_name(const ProtobufCFieldDescriptor *f, char *buf, size_t size)
{
	size_t o = 0;
	bool upper = false;

	if (size == 0)
		return buf;
	for (const char *s = f->name; *s && o + 1 < size; s++) {
		if (*s == '_') {
			upper = true;
		} else if (upper) {
			buf[o++] = (*s >= 'a' && *s <= 'z') ? (char)(*s - 'a' + 'A') : *s;
			upper = false;
		} else {
			buf[o++] = *s;
		}
	}
	buf[o] = '\0';
	return buf;
}

/* protobuf-c has no map type: a map<K,V> field is a repeated message nested in
 * the parent whose name ends in "Entry" and that holds exactly key=1,value=2. */
bool pbjson_is_map_field(const ProtobufCMessageDescriptor *parent,
			 const ProtobufCFieldDescriptor *f)
{
	if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return false;
	const ProtobufCMessageDescriptor *e = f->descriptor;
	size_t pl = strlen(parent->name), sl = strlen(e->short_name);
	return e->n_fields == 2 && e->fields[0].id == 1 && strcmp(e->fields[0].name, "key") == 0 &&
	       e->fields[1].id == 2 && strcmp(e->fields[1].name, "value") == 0 && sl > 5 &&
	       strcmp(e->short_name + sl - 5, "Entry") == 0 &&
	       strncmp(e->name, parent->name, pl) == 0 && e->name[pl] == '.' &&
	       strcmp(e->name + pl + 1, e->short_name) == 0;
}

size_t pbjson_elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return 8;
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default: /* 32-bit integers and enums */
		return 4;
	}
}

/* ---- JSON -> message ---- */

static int build_message(const ProtobufCMessageDescriptor *d, json_t *j, ProtobufCMessage **out,
			 struct ctx *c);

/* Digits only (and a leading '-' when allowed): no spaces, no "+", no hex. */
static bool plain_decimal(const char *s, bool allow_minus)
{
	if (*s == '-' && allow_minus)
		s++;
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static int get_signed(const json_t *v, int64_t min, int64_t max, int64_t *out, struct ctx *c,
		      const char *mt)
{
	int64_t r;

	if (json_is_integer(v)) {
		r = json_integer_value(v);
	} else if (json_is_real(v)) {
		double x = json_real_value(v);
		if (!isfinite(x) || x < -9223372036854775808.0 || x >= 9223372036854775808.0 ||
		    (double)(int64_t)x != x)
			return bad(c, mt, "%g is not an integer in range", x);
		r = (int64_t)x;
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		if (!plain_decimal(s, true))
			return bad(c, mt, "\"%s\" is not a decimal integer", s);
		errno = 0;
		long long x = strtoll(s, &end, 10);
		if (errno == ERANGE)
			return bad(c, mt, "%s is out of range", s);
		r = x;
	} else {
		return bad(c, mt, "expected an integer, got %s", json_kind(v));
	}
	if (r < min || r > max)
		return bad(c, mt, "%" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]", r, min,
			   max);
	*out = r;
	return 0;
}

static int get_unsigned(const json_t *v, uint64_t max, uint64_t *out, struct ctx *c, const char *mt)
{
	uint64_t r;

	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);
		if (x < 0)
			return bad(c, mt,
				   "%" JSON_INTEGER_FORMAT " is negative for an unsigned field", x);
		r = (uint64_t)x;
	} else if (json_is_real(v)) {
		double x = json_real_value(v);
		if (!isfinite(x) || x < 0 || x >= 18446744073709551616.0 ||
		    (double)(uint64_t)x != x)
			return bad(c, mt, "%g is not an unsigned integer in range", x);
		r = (uint64_t)x;
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		if (!plain_decimal(s, false))
			return bad(c, mt, "\"%s\" is not an unsigned decimal integer", s);
		errno = 0;
		unsigned long long x = strtoull(s, &end, 10);
		if (errno == ERANGE)
			return bad(c, mt, "%s is out of range", s);
		r = x;
	} else {
		return bad(c, mt, "expected an unsigned integer, got %s", json_kind(v));
	}
	if (r > max)
		return bad(c, mt, "%" PRIu64 " is out of range [0, %" PRIu64 "]", r, max);
	*out = r;
	return 0;
}

static int get_double(const json_t *v, double *out, struct ctx *c, const char *mt)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		if (strcmp(s, "NaN") == 0) {
			*out = NAN;
			return 0;
		}
		if (strcmp(s, "Infinity") == 0) {
			*out = INFINITY;
			return 0;
		}
		if (strcmp(s, "-Infinity") == 0) {
			*out = -INFINITY;
			return 0;
		}
		errno = 0;
		double x = strtod(s, &end);
		if (*s && !*end && errno == 0 && isfinite(x)) {
			*out = x;
			return 0;
		}
		return bad(c, mt, "\"%s\" is not a number", s);
	}
	return bad(c, mt, "expected a number, got %s", json_kind(v));
}

/* An integer or floating-point field (protobuf-c's numeric types). */
static int parse_number(const char *mt, ProtobufCType type, json_t *v, void *dst, struct ctx *c)
{
	int64_t i;
	uint64_t u;
	double x;
	int r;
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if ((r = get_signed(v, INT32_MIN, INT32_MAX, &i, c, mt)) < 0)
			return r;
		*(int32_t *)dst = (int32_t)i;
		return 0;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if ((r = get_unsigned(v, UINT32_MAX, &u, c, mt)) < 0)
			return r;
		*(uint32_t *)dst = (uint32_t)u;
		return 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if ((r = get_signed(v, INT64_MIN, INT64_MAX, &i, c, mt)) < 0)
			return r;
		*(int64_t *)dst = i;
		return 0;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if ((r = get_unsigned(v, UINT64_MAX, &u, c, mt)) < 0)
			return r;
		*(uint64_t *)dst = u;
		return 0;
	case PROTOBUF_C_TYPE_FLOAT:
		if ((r = get_double(v, &x, c, mt)) < 0)
			return r;
		*(float *)dst = (float)x;
		return 0;
	default: /* PROTOBUF_C_TYPE_DOUBLE */
		if ((r = get_double(v, &x, c, mt)) < 0)
			return r;
		*(double *)dst = x;
		return 0;
	}
}

/* An enum field: its value's name, or (proto3 enums are open) any int32. */
static int parse_enum(const char *mt, const ProtobufCEnumDescriptor *ed, json_t *v, void *dst,
		      struct ctx *c)
{
	int64_t i;
	int r;
	if (json_is_string(v)) {
		const ProtobufCEnumValue *
			ev = protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(v));
		if (!ev)
			return bad(c, mt, "\"%s\" is not a value of enum %s", json_string_value(v),
				   ed->name);
		*(int32_t *)dst = ev->value;
		return 0;
	}
	if (!json_is_number(v))
		return bad(c, mt, "expected a name or number of enum %s, got %s", ed->name,
			   json_kind(v));
	if ((r = get_signed(v, INT32_MIN, INT32_MAX, &i, c, mt)) < 0)
		return r;
	*(int32_t *)dst = (int32_t)i;
	return 0;
}

/* A string field: no NUL inside. */
static int parse_string(const char *mt, json_t *v, void *dst, struct ctx *c)
{
	if (!json_is_string(v))
		return bad(c, mt, "expected a string, got %s", json_kind(v));
	const char *s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return bad(c, mt, "string contains a NUL character");
	char *dup = strdup(s);
	if (!dup)
		return oom(c);
	*(char **)dst = dup;
	return 0;
}

/* A bytes field: base64 in the JSON. */
static int parse_bytes(const char *mt, json_t *v, void *dst, struct ctx *c)
{
	if (!json_is_string(v))
		return bad(c, mt, "expected a base64 string, got %s", json_kind(v));
	ProtobufCBinaryData *bd = dst;
	size_t where = base64_decode(json_string_value(v), json_string_length(v), &bd->data,
				     &bd->len);
	if (where == (size_t)-1)
		return oom(c);
	if (where > json_string_length(v))
		return bad(c, mt, "bad base64: length %zu is impossible", json_string_length(v));
	if (where)
		return bad(c, mt, "bad base64: unexpected character at offset %zu", where - 1);
	return 0;
}

/* Parse one value of field f's type from v into dst (one element's storage). */
static int parse_value(const ProtobufCMessageDescriptor *md, const ProtobufCFieldDescriptor *f,
		       json_t *v, void *dst, struct ctx *c)
{
	const char *mt = md->name;
	if (json_is_null(v))
		return bad(c, mt, "null is not allowed here");
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
		return parse_number(mt, f->type, v, dst, c);
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(v))
			return bad(c, mt, "expected true or false, got %s", json_kind(v));
		*(protobuf_c_boolean *)dst = json_is_true(v);
		return 0;
	case PROTOBUF_C_TYPE_ENUM:
		return parse_enum(mt, f->descriptor, v, dst, c);
	case PROTOBUF_C_TYPE_STRING:
		return parse_string(mt, v, dst, c);
	case PROTOBUF_C_TYPE_BYTES:
		return parse_bytes(mt, v, dst, c);
	case PROTOBUF_C_TYPE_MESSAGE:
		return build_message(f->descriptor, v, (ProtobufCMessage **)dst, c);
	}
	return bad(c, mt, "field type %d is not supported", (int)f->type);
}

static int parse_map(const ProtobufCMessageDescriptor *md, const ProtobufCFieldDescriptor *f,
		     json_t *v, char *m, struct ctx *c)
{
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
	const char *key;
	json_t *val;
	size_t i = 0;

	if (!json_is_object(v))
		return bad(c, md->name, "expected an object (map), got %s", json_kind(v));
	size_t n = json_object_size(v);
	if (n == 0)
		return 0;
	ProtobufCMessage **arr = calloc(n, sizeof(*arr));
	if (!arr)
		return oom(c);
	*(ProtobufCMessage ***)(m + f->offset) = arr;
	*(size_t *)(m + f->quantifier_offset) = n;

	json_object_foreach(v, key, val) {
		size_t old = path_push(&c->path, "[\"%s\"]", key);
		int r;
		ProtobufCMessage *e = malloc(ed->sizeof_message);
		if (!e)
			return oom(c);
		protobuf_c_message_init(ed, e);
		arr[i++] = e;

		if (kf->type == PROTOBUF_C_TYPE_BOOL) {
			if (strcmp(key, "true") && strcmp(key, "false"))
				return bad(c, md->name, "map key must be \"true\" or \"false\"");
			*(protobuf_c_boolean *)((char *)e + kf->offset) = strcmp(key, "true") == 0;
		} else {
			json_t *ks = json_string(key);
			if (!ks)
				return oom(c);
			r = parse_value(md, kf, ks, (char *)e + kf->offset, c);
			json_decref(ks);
			if (r < 0)
				return r;
		}
		if ((r = parse_value(md, vf, val, (char *)e + vf->offset, c)) < 0)
			return r;
		path_pop(&c->path, old);
	}
	return 0;
}

static int parse_repeated(const ProtobufCMessageDescriptor *md, const ProtobufCFieldDescriptor *f,
			  json_t *v, char *m, struct ctx *c)
{
	if (!json_is_array(v))
		return bad(c, md->name, "expected an array, got %s", json_kind(v));
	size_t n = json_array_size(v), es = pbjson_elem_size(f->type);
	if (n == 0)
		return 0;
	char *arr = calloc(n, es);
	if (!arr)
		return oom(c);
	*(void **)(m + f->offset) = arr;
	*(size_t *)(m + f->quantifier_offset) = n;
	for (size_t i = 0; i < n; i++) {
		size_t old = path_push(&c->path, "[%zu]", i);
		int r = parse_value(md, f, json_array_get(v, i), arr + i * es, c);
		if (r < 0)
			return r;
		path_pop(&c->path, old);
	}
	return 0;
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d,
						  const char *key)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
	char jn[256];

	if (f)
		return f;
	for (unsigned i = 0; i < d->n_fields; i++)
		if (strcmp(pbjson_field_json_name(&d->fields[i], jn, sizeof(jn)), key) == 0)
			return &d->fields[i];
	return NULL;
}

static int build_message(const ProtobufCMessageDescriptor *d, json_t *j, ProtobufCMessage **out,
			 struct ctx *c)
{
	const char *key;
	json_t *v;

	if (!json_is_object(j))
		return bad(c, d->name, "expected an object, got %s", json_kind(j));
	ProtobufCMessage *msg = malloc(d->sizeof_message);
	if (!msg)
		return oom(c);
	protobuf_c_message_init(d, msg);
	*out = msg; /* linked before filling: see the top of the file */
	char *m = (char *)msg;

	cleanup_free const char **seen = calloc(d->n_fields ? d->n_fields : 1, sizeof(*seen));
	if (!seen)
		return oom(c);

	json_object_foreach(j, key, v) {
		const ProtobufCFieldDescriptor *f = find_field(d, key);
		if (!f)
			return bad(c, d->name, "unknown field \"%s\"", key);
		size_t idx = (size_t)(f - d->fields);
		if (seen[idx])
			return bad(c, d->name, "field \"%s\" given twice (as \"%s\" and \"%s\")",
				   f->name, seen[idx], key);
		seen[idx] = key;
		if (json_is_null(v))
			continue;

		size_t old = path_push_field(&c->path, key);
		int r;
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t *which = (uint32_t *)(m + f->quantifier_offset);
			if (*which) {
				const ProtobufCFieldDescriptor
					*o = protobuf_c_message_descriptor_get_field(d, *which);
				return bad(c, d->name, "\"%s\" and \"%s\" belong to one oneof",
					   o ? o->name : "?", f->name);
			}
			*which = f->id;
			r = parse_value(d, f, v, m + f->offset, c);
		} else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			r = pbjson_is_map_field(d, f) ? parse_map(d, f, v, m, c)
						      : parse_repeated(d, f, v, m, c);
		} else {
			if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
			    f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
				*(protobuf_c_boolean *)(m + f->quantifier_offset) = 1;
			r = parse_value(d, f, v, m + f->offset, c);
		}
		if (r < 0)
			return r;
		path_pop(&c->path, old);
	}
	return 0;
}

int pbjson_from_json(const ProtobufCMessageDescriptor *d, json_t *j, ProtobufCMessage **out,
		     struct kerr *err)
{
	struct ctx c = { .err = err };
	ProtobufCMessage *m = NULL;

	int r = build_message(d, j, &m, &c);
	if (r < 0) {
		protobuf_c_message_free_unpacked(m, NULL);
		*out = NULL;
		return r;
	}
	*out = m;
	return 0;
}

int pbjson_from_string(const ProtobufCMessageDescriptor *d, const char *text,
		       ProtobufCMessage **out, struct kerr *err)
{
	json_error_t je;

	*out = NULL;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "JSON for %s: line %d column %d: %s", d->name, je.line,
				       je.column, je.text);
	int r = pbjson_from_json(d, j, out, err);
	json_decref(j);
	return r;
}

/* ---- message -> JSON ---- */

static json_t *msg_to_json(const ProtobufCMessage *msg, struct ctx *c);

static json_t *str_to_json(const char *s, struct ctx *c)
{
	json_t *v = json_string(s ? s : "");
	if (!v)
		kerr_set(c->err, -EILSEQ, "%s: string is not valid UTF-8, JSON cannot carry it",
			 path_str(&c->path));
	return v;
}

static json_t *num_str(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static json_t *num_str(struct ctx *c, const char *fmt, ...)
{
	char buf[32];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return str_to_json(buf, c);
}

static json_t *double_to_json(double x, struct ctx *c)
{
	if (isnan(x))
		return str_to_json("NaN", c);
	if (isinf(x))
		return str_to_json(x > 0 ? "Infinity" : "-Infinity", c);
	return json_real(x);
}

static json_t *value_to_json(const ProtobufCFieldDescriptor *f, const void *p, struct ctx *c)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return num_str(c, "%" PRId64, *(const int64_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return num_str(c, "%" PRIu64, *(const uint64_t *)p);
	case PROTOBUF_C_TYPE_FLOAT:
		return double_to_json(*(const float *)p, c);
	case PROTOBUF_C_TYPE_DOUBLE:
		return double_to_json(*(const double *)p, c);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_ENUM: {
		int32_t val = *(const int32_t *)p;
		const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor,
										    val);
		return ev ? json_string(ev->name) : json_integer(val);
	}
	case PROTOBUF_C_TYPE_STRING:
		return str_to_json(*(char *const *)p, c);
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *bd = p;
		cleanup_free char *s = base64_encode(bd->data, bd->len);
		return s ? json_string(s) : NULL;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
		return sub ? msg_to_json(sub, c) : json_object();
	}
	}
	kerr_set(c->err, -EINVAL, "%s: field type %d is not supported", path_str(&c->path),
		 (int)f->type);
	return NULL;
}

/* A map key as JSON object key text. */
static int map_key(const ProtobufCFieldDescriptor *kf, const void *p, char *buf, size_t size,
		   const char **out, struct ctx *c)
{
	switch (kf->type) {
	case PROTOBUF_C_TYPE_STRING:
		*out = *(char *const *)p ? *(char *const *)p : "";
		return 0;
	case PROTOBUF_C_TYPE_BOOL:
		*out = *(const protobuf_c_boolean *)p ? "true" : "false";
		return 0;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		snprintf(buf, size, "%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		snprintf(buf, size, "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		snprintf(buf, size, "%" PRId64, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		snprintf(buf, size, "%" PRIu64, *(const uint64_t *)p);
		break;
	default:
		return kerr_set(c->err, -EINVAL, "%s: map key type %d is not supported",
				path_str(&c->path), (int)kf->type);
	}
	*out = buf;
	return 0;
}

static json_t *map_to_json(const ProtobufCFieldDescriptor *f, ProtobufCMessage *const *arr,
			   size_t n, struct ctx *c)
{
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
	json_t *obj = json_object();

	if (!obj)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *e = (const char *)arr[i];
		char kbuf[32];
		const char *key = "";
		if (!e)
			continue;
		if (map_key(kf, e + kf->offset, kbuf, sizeof(kbuf), &key, c) < 0)
			goto fail;
		size_t old = path_push(&c->path, "[\"%s\"]", key);
		json_t *v = value_to_json(vf, e + vf->offset, c);
		if (!v || json_object_set_new(obj, key, v) < 0) {
			if (v)
				kerr_set(c->err, -EILSEQ, "%s: map key is not valid UTF-8",
					 path_str(&c->path));
			goto fail;
		}
		path_pop(&c->path, old);
	}
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

static bool is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		return !s || !*s;
	}
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)p)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(ProtobufCMessage *const *)p == NULL;
	case PROTOBUF_C_TYPE_FLOAT:
		return *(const float *)p == 0 && !signbit(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const double *)p == 0 && !signbit(*(const double *)p);
	default: {
		size_t n = pbjson_elem_size(f->type);
		const uint8_t *b = p;
		for (size_t i = 0; i < n; i++)
			if (b[i])
				return false;
		return true;
	}
	}
}

static json_t *msg_to_json(const ProtobufCMessage *msg, struct ctx *c)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	const char *m = (const char *)msg;
	json_t *obj = json_object();

	if (!obj)
		return NULL;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const void *p = m + f->offset;
		char jn[256];
		json_t *v;

		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			if (*(const uint32_t *)(m + f->quantifier_offset) != f->id)
				continue;
		} else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			if (*(const size_t *)(m + f->quantifier_offset) == 0)
				continue;
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
			if (f->type == PROTOBUF_C_TYPE_MESSAGE ||
			    f->type == PROTOBUF_C_TYPE_STRING) {
				if (*(void *const *)p == NULL)
					continue;
			} else if (!*(const protobuf_c_boolean *)(m + f->quantifier_offset)) {
				continue;
			}
		} else if (f->label == PROTOBUF_C_LABEL_NONE && is_default(f, p)) {
			continue;
		}

		pbjson_field_json_name(f, jn, sizeof(jn));
		size_t old = path_push_field(&c->path, jn);
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(m + f->quantifier_offset);
			const char *arr = *(const char *const *)p;
			if (pbjson_is_map_field(d, f)) {
				v = map_to_json(f, (ProtobufCMessage *const *)arr, n, c);
			} else {
				size_t es = pbjson_elem_size(f->type);
				v = json_array();
				for (size_t k = 0; v && k < n; k++) {
					size_t o2 = path_push(&c->path, "[%zu]", k);
					json_t *e = value_to_json(f, arr + k * es, c);
					if (!e || json_array_append_new(v, e) < 0) {
						json_decref(v);
						v = NULL;
					}
					path_pop(&c->path, o2);
				}
			}
		} else {
			v = value_to_json(f, p, c);
		}
		if (!v || json_object_set_new(obj, jn, v) < 0) {
			if (c->err && c->err->code == 0)
				kerr_set(c->err, -ENOMEM, "out of memory converting %s",
					 path_str(&c->path));
			json_decref(obj);
			return NULL;
		}
		path_pop(&c->path, old);
	}
	return obj;
}

json_t *pbjson_to_json(const ProtobufCMessage *m, struct kerr *err)
{
	struct kerr local;
	struct ctx c = { .err = err ? err : &local };

	kerr_clear(c.err);
	return msg_to_json(m, &c);
}
