/* SPDX-License-Identifier: Apache-2.0 */
/*
 * memagent_cfg.c - the mem-agent's settings: one table of names, places
 * and ranges read by the option parser, the executor's --mem-agent and
 * the two RPCs' checks (memagent_cfg.h).
 */
#include "memagent_cfg.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_status.h"

enum ma_kind { K_BOOL, K_U32, K_U64, K_I64 };
enum ma_sect { S_TOP, S_MEMCG, S_COMPACT };

struct ma_field {
	const char *name; /* agent.mem_agent_<name>, mem_agent_<name> in the file */
	const char *pb;   /* the RPC's field, NULL for enable */
	enum ma_sect sect;
	enum ma_kind kind;
	size_t off;
	int64_t min;
	uint64_t max;
};

#define TOP(f) offsetof(struct memagent_cfg, f)
#define MC(f) offsetof(struct memagent_cfg, memcg.f)
#define CP(f) offsetof(struct memagent_cfg, compact.f)
#define PCT 0, 100

static const struct ma_field fields[] = {
	{ "enable", NULL, S_TOP, K_BOOL, TOP(enable), 0, 1 },
	{ "memcg_disable", "disabled", S_MEMCG, K_BOOL, MC(disabled), 0, 1 },
	{ "memcg_swap", "swap", S_MEMCG, K_BOOL, MC(swap), 0, 1 },
	{ "memcg_swappiness_max", "swappiness_max", S_MEMCG, K_U32, MC(swappiness_max), 0, 200 },
	{ "memcg_period_secs", "period_secs", S_MEMCG, K_U64, MC(period_secs), 1,
	  MEMAGENT_PERIOD_MAX_S },
	{ "memcg_period_psi_percent_limit", "period_psi_percent_limit", S_MEMCG, K_U32,
	  MC(period_psi_percent_limit), PCT },
	{ "memcg_eviction_psi_percent_limit", "eviction_psi_percent_limit", S_MEMCG, K_U32,
	  MC(eviction_psi_percent_limit), PCT },
	{ "memcg_eviction_run_aging_count_min", "eviction_run_aging_count_min", S_MEMCG, K_U64,
	  MC(eviction_run_aging_count_min), 0, UINT64_MAX },
	{ "compact_disable", "disabled", S_COMPACT, K_BOOL, CP(disabled), 0, 1 },
	{ "compact_period_secs", "period_secs", S_COMPACT, K_U64, CP(period_secs), 1,
	  MEMAGENT_PERIOD_MAX_S },
	{ "compact_period_psi_percent_limit", "period_psi_percent_limit", S_COMPACT, K_U32,
	  CP(period_psi_percent_limit), PCT },
	{ "compact_psi_percent_limit", "compact_psi_percent_limit", S_COMPACT, K_U32,
	  CP(compact_psi_percent_limit), PCT },
	{ "compact_sec_max", "compact_sec_max", S_COMPACT, K_I64, CP(compact_sec_max), 1,
	  MEMAGENT_COMPACT_SEC_MAX },
	{ "compact_order", "compact_order", S_COMPACT, K_U32, CP(compact_order), 0,
	  MEMAGENT_ORDER_MAX },
	{ "compact_threshold", "compact_threshold", S_COMPACT, K_U64, CP(compact_threshold), 0,
	  MEMAGENT_THRESHOLD_MAX },
	{ "compact_force_times", "compact_force_times", S_COMPACT, K_U64, CP(compact_force_times),
	  0, UINT64_MAX },
};

#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

void memagent_cfg_defaults(struct memagent_cfg *c)
{
	*c = (struct memagent_cfg){
		.memcg = { .swappiness_max = 50,
			   .period_secs = 600,
			   .period_psi_percent_limit = 1,
			   .eviction_psi_percent_limit = 1,
			   .eviction_run_aging_count_min = 3 },
		.compact = { .period_secs = 600,
			     .period_psi_percent_limit = 1,
			     .compact_psi_percent_limit = 5,
			     .compact_sec_max = 300,
			     .compact_order = 9,
			     .compact_threshold = 2u << 9,
			     .compact_force_times = MEMAGENT_FORCE_NEVER },
	};
}

static const struct ma_field *find(const char *name)
{
	for (size_t i = 0; i < N_FIELDS; i++)
		if (strcmp(fields[i].name, name) == 0)
			return &fields[i];
	return NULL;
}

bool memagent_cfg_known(const char *name)
{
	return find(name) != NULL;
}

static void store(struct memagent_cfg *c, const struct ma_field *f, int64_t s, uint64_t u)
{
	void *p = (char *)c + f->off;
	switch (f->kind) {
	case K_BOOL:
		*(bool *)p = u != 0;
		break;
	case K_U32:
		*(uint32_t *)p = (uint32_t)u;
		break;
	case K_U64:
		*(uint64_t *)p = u;
		break;
	case K_I64:
		*(int64_t *)p = s;
		break;
	}
}

static uint64_t load_u(const struct memagent_cfg *c, const struct ma_field *f)
{
	const void *p = (const char *)c + f->off;
	switch (f->kind) {
	case K_BOOL:
		return *(const bool *)p;
	case K_U32:
		return *(const uint32_t *)p;
	case K_U64:
		return *(const uint64_t *)p;
	case K_I64:
		break;
	}
	return (uint64_t) * (const int64_t *)p;
}

/* Range of f for a signed value v (K_I64) or an unsigned u. */
static const char *range_why(const struct ma_field *f, bool neg, int64_t v, uint64_t u)
{
	static char why[96];
	bool bad = f->kind == K_I64 ? (v < f->min || (v > 0 && (uint64_t)v > f->max))
				    : (neg || u < (uint64_t)f->min || u > f->max);
	if (!bad)
		return NULL;
	snprintf(why, sizeof(why), "out of range (%" PRId64 " to %" PRIu64 ")", f->min, f->max);
	return why;
}

static const char *parse_bool(const char *v, uint64_t *out)
{
	if (!v || strcmp(v, "true") == 0) {
		*out = 1;
		return NULL;
	}
	if (strcmp(v, "false") == 0) {
		*out = 0;
		return NULL;
	}
	if (!*v || v[strspn(v, "0123456789")])
		return "expected true, false or a number";
	*out = v[strspn(v, "0")] != '\0';
	return NULL;
}

/* A decimal number, '-' allowed: neg says it had one. */
static const char *parse_num(const char *v, bool *neg, uint64_t *out)
{
	*neg = v && *v == '-';
	const char *d = v ? v + *neg : "";
	if (!*d || d[strspn(d, "0123456789")])
		return "expected a decimal number";
	errno = 0;
	unsigned long long n = strtoull(d, NULL, 10);
	if (errno == ERANGE)
		return "out of range";
	*out = n;
	return NULL;
}

const char *memagent_cfg_set_text(struct memagent_cfg *c, const char *name, const char *value)
{
	const struct ma_field *f = find(name);
	if (!f)
		return "unknown";
	uint64_t u = 0;
	bool neg = false;
	const char *why;
	if (f->kind == K_BOOL) {
		if ((why = parse_bool(value, &u)))
			return why;
		store(c, f, 0, u);
		return NULL;
	}
	if ((why = parse_num(value, &neg, &u)))
		return why;
	if (neg && u > (uint64_t)INT64_MAX + 1)
		return "out of range";
	int64_t s = neg ? (int64_t)(0 - u) : (int64_t)u;
	if (f->kind == K_I64 && !neg && u > INT64_MAX)
		return "out of range";
	if ((why = range_why(f, neg, s, u)))
		return why;
	store(c, f, s, u);
	return NULL;
}

const char *memagent_cfg_set_value(struct memagent_cfg *c, const char *name, bool is_bool,
				   int64_t value)
{
	const struct ma_field *f = find(name);
	if (!f)
		return "unknown";
	if ((f->kind == K_BOOL) != is_bool)
		return f->kind == K_BOOL ? "expected a boolean" : "expected an integer";
	const char *why = f->kind == K_BOOL ? NULL
					    : range_why(f, value < 0, value, (uint64_t)value);
	if (why)
		return why;
	store(c, f, value, (uint64_t)value);
	return NULL;
}

int memagent_cfg_format(const struct memagent_cfg *c, char *buf, size_t len)
{
	size_t off = 0;
	for (size_t i = 0; i < N_FIELDS; i++) {
		const struct ma_field *f = &fields[i];
		int n = f->kind == K_I64
				? snprintf(buf + off, len - off, "%s%s=%" PRId64, i ? "," : "",
					   f->name, *(const int64_t *)((const char *)c + f->off))
				: snprintf(buf + off, len - off, "%s%s=%" PRIu64, i ? "," : "",
					   f->name, load_u(c, f));
		if (n < 0 || (size_t)n >= len - off)
			return -ENOSPC;
		off += (size_t)n;
	}
	return 0;
}

int memagent_cfg_parse(struct memagent_cfg *c, const char *text, struct kerr *err)
{
	struct memagent_cfg t = *c;
	bool seen[N_FIELDS] = { false };
	const char *p = text;
	while (*p) {
		char item[96];
		size_t n = strcspn(p, ",");
		if (n == 0 || n >= sizeof(item))
			return kerr_set(err, -EINVAL, "mem-agent settings: malformed item");
		memcpy(item, p, n);
		item[n] = '\0';
		p += n + (p[n] == ',');
		char *eq = strchr(item, '=');
		if (!eq)
			return kerr_set(err, -EINVAL, "mem-agent settings: %s: no value", item);
		*eq = '\0';
		const struct ma_field *f = find(item);
		if (f && seen[f - fields])
			return kerr_set(err, -EINVAL, "mem-agent settings: %s given twice", item);
		const char *why = memagent_cfg_set_text(&t, item, eq + 1);
		if (why)
			return kerr_set(err, -EINVAL, "mem-agent settings: %s=%s: %s", item, eq + 1,
					why);
		seen[f - fields] = true;
	}
	*c = t;
	return 0;
}

/* ---- the RPCs ---- */

static bool field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd)
{
	const char *base = (const char *)m;
	if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(base + fd->quantifier_offset) == fd->id;
	if (fd->label == PROTOBUF_C_LABEL_OPTIONAL)
		return *(const protobuf_c_boolean *)(base + fd->quantifier_offset);
	return fd->label == PROTOBUF_C_LABEL_NONE;
}

/* One present field fd of m into t, checked. */
static int apply_field(struct memagent_cfg *t, enum ma_sect s, const char *rpc,
		       const ProtobufCMessage *m, const ProtobufCFieldDescriptor *fd,
		       struct kerr *err)
{
	const struct ma_field *f = NULL;
	for (size_t i = 0; i < N_FIELDS && !f; i++)
		if (fields[i].sect == s && strcmp(fields[i].pb, fd->name) == 0)
			f = &fields[i];
	if (!f)
		return 0; /* a field we do not know: nothing to set */
	const void *p = (const char *)m + fd->offset;
	int64_t v = 0;
	uint64_t u = 0;
	switch (fd->type) {
	case PROTOBUF_C_TYPE_BOOL:
		u = *(const protobuf_c_boolean *)p != 0;
		break;
	case PROTOBUF_C_TYPE_UINT32:
		u = *(const uint32_t *)p;
		break;
	case PROTOBUF_C_TYPE_UINT64:
		u = *(const uint64_t *)p;
		break;
	case PROTOBUF_C_TYPE_INT64:
		v = *(const int64_t *)p;
		u = (uint64_t)v;
		break;
	default:
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "%s: %s: unexpected type", rpc, fd->name);
	}
	const char *why = f->kind == K_BOOL ? NULL : range_why(f, v < 0, v, u);
	if (why) {
		if (fd->type == PROTOBUF_C_TYPE_INT64)
			return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -ERANGE,
					       "%s: %s %" PRId64 " is %s", rpc, fd->name, v, why);
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -ERANGE,
				       "%s: %s %" PRIu64 " is %s", rpc, fd->name, u, why);
	}
	store(t, f, v, u);
	return 0;
}

int memagent_cfg_apply_request(struct memagent_cfg *c, const ProtobufCMessage *m, struct kerr *err)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	enum ma_sect s;
	const char *rpc;
	if (strcmp(d->name, "grpc.MemAgentMemcgConfig") == 0) {
		s = S_MEMCG;
		rpc = "MemAgentMemcgSet";
	} else if (strcmp(d->name, "grpc.MemAgentCompactConfig") == 0) {
		s = S_COMPACT;
		rpc = "MemAgentCompactSet";
	} else {
		return kerr_set_status(err, GRPC_INVALID_ARGUMENT, -EINVAL,
				       "mem-agent: %s is not a mem-agent configuration", d->name);
	}
	struct memagent_cfg t = *c;
	for (unsigned i = 0; i < d->n_fields; i++) {
		if (!field_present(m, &d->fields[i]))
			continue;
		int r = apply_field(&t, s, rpc, m, &d->fields[i], err);
		if (r < 0)
			return r;
	}
	*c = t;
	return 0;
}
