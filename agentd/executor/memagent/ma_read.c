/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ma_read.c - the mem-agent's parsers and arithmetic (ma_read.h).
 */
#include "ma_read.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The decimal number at *p (leading blanks skipped); *p moves past it. */
static int take_u64(const char **p, uint64_t *out)
{
	const char *s = *p + strspn(*p, " \t");
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	*out = v;
	*p = end;
	return 0;
}

int psi_some_total(const char *text, uint64_t *total_us)
{
	size_t eol = strcspn(text, "\n");
	if (strncmp(text, "some ", 5) != 0)
		return -EINVAL;
	const char *t = strstr(text, " total=");
	if (!t || (size_t)(t - text) > eol)
		return -EINVAL;
	t += 7;
	int r = take_u64(&t, total_us);
	if (r < 0 || (*t != '\n' && *t != '\0' && *t != ' '))
		return -EINVAL;
	return 0;
}

uint64_t psi_percent(struct psi_period *p, uint64_t total_us, uint64_t now_ns)
{
	uint64_t percent = 0;
	if (p->last_total != 0 && p->last_total < total_us && p->last_ns < now_ns) {
		uint64_t us = (now_ns - p->last_ns) / 1000;
		uint64_t d = total_us - p->last_total;
		if (us)
			percent = d > UINT64_MAX / 100 ? UINT64_MAX / us : d * 100 / us;
	}
	p->last_total = total_us;
	p->last_ns = now_ns;
	return percent;
}

int meminfo_kb(const char *text, const char *key, uint64_t *kb)
{
	size_t klen = strlen(key);
	for (const char *l = text; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] == '\n')) {
		if (strncmp(l, key, klen) != 0)
			continue;
		const char *p = l + klen;
		return take_u64(&p, kb);
	}
	return -ENOENT;
}

/* "Node 0, zone Normal, type Movable  n0 n1 ...": the counts of one line. */
static uint64_t movable_line(const char *l, size_t len, uint32_t order_limit)
{
	uint64_t pages = 0;
	const char *p = l;
	const char *end = l + len;
	for (uint32_t order = 0; order < order_limit && order < 64; order++) {
		uint64_t n;
		if (p >= end || take_u64(&p, &n) < 0 || p > end)
			break;
		if (n > (UINT64_MAX >> order) || pages + (n << order) < pages)
			return UINT64_MAX; /* nonsense: the threshold test passes */
		pages += n << order;
	}
	return pages;
}

int pagetypeinfo_free_movable(const char *text, uint32_t order_limit, uint64_t *pages)
{
	uint64_t total = 0;
	bool seen = false;
	for (const char *l = text; *l;) {
		size_t len = strcspn(l, "\n");
		const char *t = strstr(l, "Movable");
		/* the free-pages table: "Node N, zone Z, type Movable ..." */
		if (strncmp(l, "Node ", 5) == 0 && t && t < l + len && t[7] == ' ' &&
		    memmem(l, len, ", type", 6)) {
			uint64_t n = movable_line(t + 7, len - (size_t)(t + 7 - l), order_limit);
			total = n == UINT64_MAX || total + n < total ? UINT64_MAX : total + n;
			seen = true;
		} else if (seen && strncmp(l, "Number of blocks", 16) == 0) {
			break; /* the second table (block counts) starts: done */
		}
		l += len + (l[len] == '\n');
	}
	if (!seen)
		return -EINVAL;
	*pages = total;
	return 0;
}

/* A generation line "SEQ AGE_MS ANON FILE"; a negative count is 0, as
 * upstream's str_to_u64. */
static int gen_line(const char *l, size_t len, uint64_t v[4])
{
	const char *p = l;
	for (int i = 0; i < 4; i++) {
		p += strspn(p, " \t");
		bool neg = i >= 2 && *p == '-';
		if (neg)
			p++;
		if (take_u64(&p, &v[i]) < 0 || p > l + len)
			return -EINVAL;
		if (neg)
			v[i] = 0;
	}
	p += strspn(p, " \t");
	return p == l + len ? 0 : -EINVAL;
}

static void node_add_gen(struct lru_gen_node *n, const uint64_t v[4], bool first)
{
	if (first || v[0] < n->min_seq) {
		n->min_seq = v[0];
		n->min_anon = v[2];
		n->min_file = v[3];
	}
	if (first || v[0] > n->max_seq)
		n->max_seq = v[0];
	if (first || v[1] < n->youngest_ms)
		n->youngest_ms = v[1];
}

/* "memcg ID PATH": 0 with *m filled, or -EINVAL. */
static int head_line(const char *l, size_t len, struct lru_gen_memcg *m)
{
	if (strncmp(l, "memcg ", 6) != 0)
		return -EINVAL;
	const char *p = l + 6;
	uint64_t id;
	if (take_u64(&p, &id) < 0 || id > 0xffff || p >= l + len || *p != ' ')
		return -EINVAL;
	p += strspn(p, " ");
	size_t plen = len - (size_t)(p - l);
	if (plen == 0 || plen >= sizeof(m->path) || *p != '/')
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	m->id = (uint32_t)id;
	memcpy(m->path, p, plen);
	return 0;
}

static const struct lru_gen_memcg *dup_base;

static int by_path(const void *a, const void *b)
{
	return strcmp(dup_base[*(const size_t *)a].path, dup_base[*(const size_t *)b].path);
}

static int by_id(const void *a, const void *b)
{
	uint32_t x = dup_base[*(const size_t *)a].id, y = dup_base[*(const size_t *)b].id;
	return x < y ? -1 : x > y;
}

/* Mark in dup what idx (sorted by cmp) holds twice next to each other. */
static void mark_twins(size_t *idx, size_t n, int (*cmp)(const void *, const void *), bool *dup)
{
	qsort(idx, n, sizeof(*idx), cmp);
	for (size_t i = 1; i < n; i++)
		if (cmp(&idx[i - 1], &idx[i]) == 0)
			dup[idx[i - 1]] = dup[idx[i]] = true;
}

/* Leave out every record whose id or path another one has too (sorted
 * twice, so a text of 4096 memcgs costs no 8 million comparisons). */
static size_t drop_duplicates(struct lru_gen_memcg *out, size_t n)
{
	bool *dup = calloc(n ? n : 1, sizeof(*dup));
	size_t *idx = calloc(n ? n : 1, sizeof(*idx));
	if (!dup || !idx) {
		free(dup);
		free(idx);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	dup_base = out;
	mark_twins(idx, n, by_path, dup);
	mark_twins(idx, n, by_id, dup);
	free(idx);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!dup[i]) {
			if (k != i)
				out[k] = out[i];
			k++;
		}
	free(dup);
	return k;
}

int lru_gen_parse(const char *text, struct lru_gen_memcg *out, size_t max)
{
	size_t n = 0;
	bool any = false, skip = true, gen_first = false;
	struct lru_gen_node *node = NULL;
	for (const char *l = text; *l;) {
		size_t len = strcspn(l, "\n");
		const char *s = l + strspn(l, " ");
		size_t slen = len - (size_t)(s - l);
		uint64_t v[4];
		if (strncmp(l, "memcg ", 6) == 0) {
			any = true;
			node = NULL;
			skip = n >= max || head_line(l, len, &out[n]) < 0;
			if (!skip)
				n++;
		} else if (!skip && strncmp(s, "node ", 5) == 0) {
			uint64_t id;
			const char *p = s + 5;
			node = NULL;
			struct lru_gen_memcg *m = &out[n - 1];
			if (take_u64(&p, &id) == 0 && id < 0xffff &&
			    m->n_nodes < LRU_GEN_NODES_MAX) {
				node = &m->nodes[m->n_nodes++];
				node->node = (uint32_t)id;
				gen_first = true;
			}
		} else if (!skip && node && gen_line(s, slen, v) == 0) {
			node_add_gen(node, v, gen_first);
			gen_first = false;
		}
		l += len + (l[len] == '\n');
	}
	if (!any && *text)
		return -EINVAL;
	return (int)drop_duplicates(out, n);
}

uint32_t ma_swappiness(uint64_t anon, uint64_t file, uint32_t max)
{
	if (anon == 0 || file == 0)
		return 0;
	/* 200 * anon overflows only past 2^56 pages: cap, the ratio is what counts */
	while (anon > (UINT64_MAX / 200) || anon + file < anon) {
		anon >>= 1;
		file >>= 1;
	}
	uint64_t sum = anon + file;
	uint64_t q = 200 * anon / sum, rem = 200 * anon % sum;
	if (rem >= sum - rem)
		q++;
	return q > max ? max : (uint32_t)q;
}
