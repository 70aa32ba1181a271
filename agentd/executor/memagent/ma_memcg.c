/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ma_memcg.c - the mem-agent's memcg reclaim: a round per period, in
 * turns on the loop (ma_memcg.h, memagent.h).
 *
 * A round: read lru_gen and walk the cgroup fs; keep the memcgs found in
 * both (path and id once each, the directory's inode unchanged since the
 * last round, else its counts start over, as upstream's remove_changed);
 * choose the nodes to age; age them, MA_WRITES_PER_TURN writes a turn;
 * then evict, a step per node a turn, lru_gen read again each turn.
 */
#include "ma_memcg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "ma_io.h"
#include "memagent.h"

#define NS_PER_S 1000000000ull
#define WALK_DEPTH_MAX 32

/* ---- the decision ---- */

static enum ma_evict first_step(struct ma_evict_state *e, const struct lru_gen_node *n,
				const struct memagent_memcg_cfg *c)
{
	if (n->min_file == 0) {
		if (!c->swap || n->min_anon == 0)
			return MA_EVICT_STOP_NO_LRU;
		e->only_swap = true;
	}
	e->started = true;
	return MA_EVICT_STEP;
}

static enum ma_evict next_step(struct ma_evict_state *e, const struct lru_gen_node *n,
			       const struct memagent_memcg_cfg *c, uint64_t psi_percent)
{
	if (n->min_file >= e->last_file && n->min_anon >= e->last_anon)
		return MA_EVICT_STOP_LRU_INC;
	e->anon_pages += e->last_anon > n->min_anon ? e->last_anon - n->min_anon : 0;
	e->file_pages += e->last_file > n->min_file ? e->last_file - n->min_file : 0;
	if (!e->only_swap && n->min_file == 0)
		return MA_EVICT_STOP_NO_LRU;
	if (psi_percent > c->eviction_psi_percent_limit)
		return MA_EVICT_STOP_PSI;
	return MA_EVICT_STEP;
}

enum ma_evict ma_evict_step(struct ma_evict_state *e, const struct lru_gen_node *n,
			    const struct memagent_memcg_cfg *c, bool swap_ok, uint64_t psi_percent,
			    uint32_t *swappiness)
{
	if (n->max_seq < n->min_seq || n->max_seq - n->min_seq + 1 != LRU_GEN_MAX_NR_GENS)
		return MA_EVICT_STOP_GENS;
	enum ma_evict v = e->started ? next_step(e, n, c, psi_percent) : first_step(e, n, c);
	if (v != MA_EVICT_STEP)
		return v;
	e->last_file = n->min_file;
	e->last_anon = n->min_anon;
	if (e->only_swap) {
		if (!swap_ok)
			return MA_EVICT_STOP_NO_LRU;
		*swappiness = 200;
	} else if (!c->swap || n->min_anon == 0 || !swap_ok) {
		*swappiness = 0;
	} else {
		*swappiness = ma_swappiness(n->min_anon, n->min_file, c->swappiness_max);
	}
	return MA_EVICT_STEP;
}

const char *ma_evict_name(enum ma_evict v)
{
	static const char *const names[] = { "step", "not all generations", "nothing left to evict",
					     "the oldest generation grew",
					     "pressure above the limit" };
	return v <= MA_EVICT_STOP_PSI ? names[v] : "?";
}

/* ---- the state ---- */

struct walked {
	char *path;
	uint64_t ino;
};

struct tnode {
	uint32_t node;
	uint64_t agings;
	struct psi_period psi;
};

struct tracked {
	uint32_t id;
	uint64_t ino;
	char *path;
	size_t n;
	struct tnode *nodes;
};

struct work {
	uint32_t id, node;
	char *path; /* the tracked memcg's */
	uint64_t max_seq;
	struct tnode *tn;
	bool evict, done;
	struct ma_evict_state ev;
	struct psi_period psi;
};

enum phase { IDLE, AGING, EVICTING };

struct ma_memcg {
	struct loop *loop;
	const char *root;
	struct memagent_memcg_cfg *cfg;
	int cgroot; /* the memory cgroup root, O_PATH */
	int lru_fd; /* debugfs lru_gen, for writing */
	struct tracked *t;
	size_t n_t;
	struct work *w;
	size_t n_w, next_w;
	unsigned turns;
	enum phase phase;
	struct loop_timer *timer;
	uint64_t period_start_ns;
	uint64_t rounds;
};

static void tracked_free(struct tracked *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].path);
		free(t[i].nodes);
	}
	free(t);
}

/* ---- the walk of the cgroup fs ---- */

struct walk {
	struct walked *v;
	size_t n, cap;
};

static bool name_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int walk_add(struct walk *w, const char *path, uint64_t ino)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		struct walked *v = realloc(w->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		w->v = v;
		w->cap = cap;
	}
	if (!(w->v[w->n].path = strdup(path)))
		return -ENOMEM;
	w->v[w->n++].ino = ino;
	return 0;
}

static int walk_dir(struct walk *w, int dfd, char *path, size_t len, unsigned depth)
{
	struct stat st;
	if (fstat(dfd, &st) < 0)
		return -errno;
	int r = walk_add(w, len ? path : "/", st.st_ino);
	if (r < 0 || depth >= WALK_DEPTH_MAX || w->n >= LRU_GEN_MEMCGS_MAX)
		return r;
	int d2 = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = d2 >= 0 ? fdopendir(d2) : NULL;
	if (!d) {
		if (d2 >= 0)
			close(d2);
		return 0;
	}
	struct dirent *e;
	while (r == 0 && (e = readdir(d)) && w->n < LRU_GEN_MEMCGS_MAX) {
		size_t nl = strlen(e->d_name);
		if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    !name_ok(e->d_name) || len + 1 + nl >= LRU_GEN_PATH_MAX)
			continue;
		cleanup_close int c = openat(dirfd(d), e->d_name,
					     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (c < 0)
			continue;
		path[len] = '/';
		memcpy(path + len + 1, e->d_name, nl + 1);
		r = walk_dir(w, c, path, len + 1 + nl, depth + 1);
		path[len] = '\0';
	}
	closedir(d);
	return r;
}

static int cmp_path_rec(const void *key, const void *r)
{
	return strcmp(key, ((const struct lru_gen_memcg *)r)->path);
}

static int cmp_path_tracked(const void *key, const void *t)
{
	return strcmp(key, ((const struct tracked *)t)->path);
}

static int cmp_walked(const void *a, const void *b)
{
	return strcmp(((const struct walked *)a)->path, ((const struct walked *)b)->path);
}

static const struct walked *walked_find(const struct walk *w, const char *path)
{
	struct walked k = { .path = (char *)path };
	return bsearch(&k, w->v, w->n, sizeof(k), cmp_walked);
}

static void walk_free(struct walk *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i].path);
	free(w->v);
}

/* ---- lru_gen ---- */

static int cmp_rec(const void *a, const void *b)
{
	return strcmp(((const struct lru_gen_memcg *)a)->path,
		      ((const struct lru_gen_memcg *)b)->path);
}

/* The record of the memcg id at path in rec (sorted by path), or NULL. */
static const struct lru_gen_memcg *rec_find(const struct lru_gen_memcg *rec, size_t n, uint32_t id,
					    const char *path)
{
	const struct lru_gen_memcg *r = bsearch(path, rec, n, sizeof(*rec), cmp_path_rec);
	return r && r->id == id ? r : NULL;
}

static int read_lru_gen(struct ma_memcg *m, struct lru_gen_memcg **out, size_t *n)
{
	char *text = NULL;
	int r = ma_read_text(m->root, MA_LRU_GEN, MA_LRU_GEN_READ_MAX, &text);
	if (r < 0)
		return r;
	size_t heads = 0;
	for (const char *p = text; (p = strstr(p, "memcg ")); p += 6)
		heads++;
	if (heads > LRU_GEN_MEMCGS_MAX)
		heads = LRU_GEN_MEMCGS_MAX;
	struct lru_gen_memcg *v = calloc(heads ? heads : 1, sizeof(*v));
	if (!v) {
		free(text);
		return -ENOMEM;
	}
	r = lru_gen_parse(text, v, heads);
	free(text);
	if (r < 0) {
		free(v);
		return r;
	}
	qsort(v, (size_t)r, sizeof(*v), cmp_rec); /* looked up by path (rec_find) */
	*out = v;
	*n = (size_t)r;
	return 0;
}

static int lru_write(struct ma_memcg *m, const char *cmd)
{
	ssize_t n;
	while ((n = write(m->lru_fd, cmd, strlen(cmd))) < 0 && errno == EINTR)
		;
	return n < 0 ? -errno : 0;
}

/* ---- a round ---- */

/* The memcg tracked at path last round (m->t is in rec's order: by path). */
static struct tracked *old_find(struct ma_memcg *m, const char *path)
{
	return m->n_t ? bsearch(path, m->t, m->n_t, sizeof(*m->t), cmp_path_tracked) : NULL;
}

/* One tracked memcg from record r (found by the walk as wk), its counts
 * carried over when the same memcg was tracked before. */
static int track_one(struct ma_memcg *m, struct tracked *nt, const struct lru_gen_memcg *r,
		     const struct walked *wk)
{
	*nt = (struct tracked){ .id = r->id, .ino = wk->ino, .n = r->n_nodes };
	nt->path = strdup(r->path);
	nt->nodes = calloc(r->n_nodes ? r->n_nodes : 1, sizeof(*nt->nodes));
	if (!nt->path || !nt->nodes)
		return -ENOMEM;
	struct tracked *o = old_find(m, r->path);
	bool same = o && o->id == r->id && o->ino == wk->ino;
	for (size_t k = 0; k < r->n_nodes; k++) {
		nt->nodes[k].node = r->nodes[k].node;
		for (size_t j = 0; same && j < o->n; j++)
			if (o->nodes[j].node == r->nodes[k].node)
				nt->nodes[k] = o->nodes[j];
	}
	return 0;
}

/* The memcgs lru_gen and the walk agree on (upstream refresh). */
static int resync(struct ma_memcg *m, const struct lru_gen_memcg *rec, size_t n_rec)
{
	struct walk w = { 0 };
	char path[LRU_GEN_PATH_MAX] = "";
	int r = walk_dir(&w, m->cgroot, path, 0, 0);
	if (r < 0) {
		walk_free(&w);
		return r;
	}
	qsort(w.v, w.n, sizeof(*w.v), cmp_walked);
	struct tracked *nt = calloc(n_rec ? n_rec : 1, sizeof(*nt));
	size_t k = 0;
	for (size_t i = 0; nt && r == 0 && i < n_rec; i++) {
		const struct walked *wk = walked_find(&w, rec[i].path);
		if (wk && (r = track_one(m, &nt[k], &rec[i], wk)) == 0)
			k++;
	}
	walk_free(&w);
	if (!nt || r < 0) {
		tracked_free(nt, k + (r < 0));
		return r < 0 ? r : -ENOMEM;
	}
	tracked_free(m->t, m->n_t);
	m->t = nt;
	m->n_t = k;
	return 0;
}

static void works_free(struct ma_memcg *m)
{
	free(m->w);
	m->w = NULL;
	m->n_w = m->next_w = 0;
}

/* The pressure of the memcg at path since the last reading of p. */
static int memcg_psi(struct ma_memcg *m, const char *path, struct psi_period *p, uint64_t *pct)
{
	cleanup_close int d = ma_open_below(m->cgroot, path);
	uint64_t t;
	if (d < 0)
		return d;
	int r = ma_psi_dir_own(d, &t);
	if (r < 0)
		return r;
	*pct = psi_percent(p, t, loop_now_ns());
	return 0;
}

static int add_work(struct ma_memcg *m, struct tracked *t, struct tnode *tn,
		    const struct lru_gen_node *n)
{
	if (n->youngest_ms < MA_IDLE_FRESH_IGNORE_MS) {
		log_debug("mem-agent: %s node %u: no aging, its youngest generation is %" PRIu64
			  " ms old",
			  t->path, tn->node, n->youngest_ms);
		return 0;
	}
	struct work *v = realloc(m->w, (m->n_w + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->w = v;
	v[m->n_w++] = (struct work){ .id = t->id,
				     .node = tn->node,
				     .path = t->path,
				     .max_seq = n->max_seq,
				     .tn = tn };
	return 0;
}

/* The nodes to age this round (upstream check_psi_get_infos). */
static int choose(struct ma_memcg *m, const struct lru_gen_memcg *rec, size_t n_rec)
{
	for (size_t i = 0; i < m->n_t; i++) {
		struct tracked *t = &m->t[i];
		const struct lru_gen_memcg *r = rec_find(rec, n_rec, t->id, t->path);
		for (size_t k = 0; r && k < t->n; k++) {
			uint64_t pct;
			if (memcg_psi(m, t->path, &t->nodes[k].psi, &pct) < 0)
				continue;
			if (pct > m->cfg->period_psi_percent_limit) {
				log_info("mem-agent: %s: pressure %" PRIu64 "%% above the limit",
					 t->path, pct);
				continue;
			}
			int e = add_work(m, t, &t->nodes[k], &r->nodes[k]);
			if (e < 0)
				return e;
		}
	}
	return 0;
}

static void on_turn(struct loop *l, void *data);
static void on_period(struct loop *l, void *data);

static void set_timer(struct ma_memcg *m, uint64_t at, loop_timer_cb cb)
{
	if (m->timer)
		loop_timer_cancel(m->loop, m->timer);
	m->timer = loop_timer_add(m->loop, at, cb, m);
	if (!m->timer)
		log_error("mem-agent: memcg timer: out of memory; memcg reclaim stops");
}

static void round_end(struct ma_memcg *m)
{
	works_free(m);
	m->phase = IDLE;
	m->rounds++;
	m->period_start_ns = loop_now_ns();
	if (m->cfg->disabled) {
		if (m->timer)
			loop_timer_cancel(m->loop, m->timer);
		m->timer = NULL;
		return;
	}
	set_timer(m, m->period_start_ns + m->cfg->period_secs * NS_PER_S, on_period);
}

static void on_period(struct loop *l, void *data)
{
	struct ma_memcg *m = data;
	(void)l;
	m->timer = NULL;
	struct lru_gen_memcg *rec = NULL;
	size_t n_rec = 0;
	int r = read_lru_gen(m, &rec, &n_rec);
	if (r == 0)
		r = resync(m, rec, n_rec);
	if (r == 0 && !m->cfg->disabled)
		r = choose(m, rec, n_rec);
	free(rec);
	if (r < 0) {
		log_warn("mem-agent: memcg round: %s", strerror(-r));
		round_end(m);
		return;
	}
	log_debug("mem-agent: memcg round: %zu memcgs, %zu nodes to age", m->n_t, m->n_w);
	m->phase = AGING;
	m->next_w = 0;
	m->turns = 0;
	set_timer(m, loop_now_ns(), on_turn);
}

static void age_turn(struct ma_memcg *m)
{
	for (unsigned k = 0; k < MA_WRITES_PER_TURN && m->next_w < m->n_w; k++) {
		struct work *w = &m->w[m->next_w++];
		char cmd[96];
		snprintf(cmd, sizeof(cmd), "+ %u %u %" PRIu64 " %d 1\n", w->id, w->node, w->max_seq,
			 m->cfg->swap ? 1 : 0);
		int r = lru_write(m, cmd);
		if (r < 0) {
			log_warn("mem-agent: %s node %u: aging: %s", w->path, w->node,
				 strerror(-r));
			w->done = true;
			continue;
		}
		w->tn->agings++;
		w->evict = w->tn->agings >= m->cfg->eviction_run_aging_count_min;
		w->done = !w->evict;
	}
	if (m->next_w == m->n_w) {
		m->phase = EVICTING;
		m->next_w = 0;
	}
}

static bool swap_ok(struct ma_memcg *m)
{
	char *mi = NULL;
	uint64_t kb = 0;
	int r = ma_read_text(m->root, "/proc/meminfo", 1u << 16, &mi);
	if (r == 0)
		r = meminfo_kb(mi, "SwapFree:", &kb);
	free(mi);
	return r == 0 && kb > MA_SWAP_FREE_MIN_KB;
}

static const struct lru_gen_node *rec_node(const struct lru_gen_memcg *rec, size_t n,
					   const struct work *w)
{
	const struct lru_gen_memcg *r = rec_find(rec, n, w->id, w->path);
	for (size_t k = 0; r && k < r->n_nodes; k++)
		if (r->nodes[k].node == w->node)
			return &r->nodes[k];
	return NULL;
}

/* One eviction step of w against the fresh records. */
static void evict_one(struct ma_memcg *m, struct work *w, const struct lru_gen_memcg *rec,
		      size_t n_rec, bool sw)
{
	const struct lru_gen_node *n = rec_node(rec, n_rec, w);
	uint64_t pct = 0;
	if (!n || memcg_psi(m, w->path, &w->psi, &pct) < 0) {
		w->done = true;
		return;
	}
	uint32_t swp = 0;
	enum ma_evict v = ma_evict_step(&w->ev, n, m->cfg, sw, pct, &swp);
	if (v != MA_EVICT_STEP) {
		log_info("mem-agent: %s node %u: eviction stopped (%s), %" PRIu64
			 " anon and %" PRIu64 " file pages released",
			 w->path, w->node, ma_evict_name(v), w->ev.anon_pages, w->ev.file_pages);
		w->done = true;
		return;
	}
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "- %u %u %" PRIu64 " %u 1\n", w->id, w->node, n->min_seq, swp);
	int r = lru_write(m, cmd);
	if (r < 0) {
		log_warn("mem-agent: %s node %u: eviction: %s", w->path, w->node, strerror(-r));
		w->done = true;
	}
}

static bool evict_turn(struct ma_memcg *m)
{
	struct lru_gen_memcg *rec = NULL;
	size_t n_rec = 0;
	if (read_lru_gen(m, &rec, &n_rec) < 0)
		return false;
	bool sw = swap_ok(m), more = false;
	unsigned writes = 0;
	for (size_t i = 0; i < m->n_w && writes < MA_WRITES_PER_TURN; i++) {
		struct work *w = &m->w[(m->next_w + i) % m->n_w];
		if (w->done)
			continue;
		evict_one(m, w, rec, n_rec, sw);
		writes++;
	}
	m->next_w = m->n_w ? (m->next_w + writes) % m->n_w : 0;
	for (size_t i = 0; i < m->n_w; i++)
		more |= !m->w[i].done;
	free(rec);
	return more;
}

static void on_turn(struct loop *l, void *data)
{
	struct ma_memcg *m = data;
	m->timer = NULL;
	if (m->phase == AGING) {
		age_turn(m);
		set_timer(m, loop_now_ns(), on_turn);
		return;
	}
	bool pending = false;
	for (size_t i = 0; i < m->n_w && !pending; i++)
		pending = !m->w[i].done;
	if (!pending || m->cfg->disabled || ++m->turns > MA_EVICT_TURNS_MAX || !evict_turn(m)) {
		round_end(m);
		return;
	}
	(void)l;
	set_timer(m, loop_now_ns(), on_turn);
}

/* ---- start, settings ---- */

int ma_memcg_new(struct ma_memcg **out, struct loop *l, const char *root, bool cgroup_v2,
		 struct memagent_memcg_cfg *cfg, struct kerr *err)
{
	char p[4096];
	int r = ma_path(p, sizeof(p), root, cgroup_v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory");
	if (r < 0)
		return kerr_set(err, r, "mem-agent: cgroup root: too long");
	int cg = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cg < 0)
		return kerr_set(err, -errno, "%s: %s", p, strerror(errno));
	uint64_t t;
	if ((r = ma_psi_dir(cg, &t)) < 0) {
		close(cg);
		return kerr_set(err, r, "no memory.pressure and io.pressure in %s (%s)", p,
				strerror(-r));
	}
	if ((r = ma_path(p, sizeof(p), root, MA_LRU_GEN)) < 0) {
		close(cg);
		return kerr_set(err, r, "mem-agent: lru_gen: too long");
	}
	/* O_APPEND: the kernel's lru_gen ignores the offset; the unit tests'
	 * fake keeps every command after its text */
	int fd = open(p, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		close(cg);
		return kerr_set(err, r, "%s: %s (is debugfs mounted?)", p, strerror(-r));
	}
	struct ma_memcg *m = calloc(1, sizeof(*m));
	if (!m) {
		close(cg);
		close(fd);
		return kerr_set(err, -ENOMEM, "mem-agent: out of memory");
	}
	*m = (struct ma_memcg){ .loop = l, .root = root, .cfg = cfg, .cgroot = cg, .lru_fd = fd };
	m->period_start_ns = loop_now_ns();
	if (!cfg->disabled)
		set_timer(m, m->period_start_ns, on_period); /* the first round at once */
	*out = m;
	return 0;
}

void ma_memcg_reconfigured(struct ma_memcg *m, bool was_disabled, uint64_t old_period)
{
	if (!m || m->phase != IDLE)
		return; /* a round going on: its end schedules with the new settings */
	if (m->cfg->disabled) {
		if (m->timer)
			loop_timer_cancel(m->loop, m->timer);
		m->timer = NULL;
	} else if (was_disabled || old_period != m->cfg->period_secs) {
		/* upstream rebuilds its timers, and a new one is due at once */
		set_timer(m, loop_now_ns(), on_period);
	}
}

uint64_t ma_memcg_rounds(const struct ma_memcg *m)
{
	return m ? m->rounds : 0;
}

void ma_memcg_free(struct ma_memcg *m)
{
	if (!m)
		return;
	if (m->timer)
		loop_timer_cancel(m->loop, m->timer);
	works_free(m);
	tracked_free(m->t, m->n_t);
	close(m->cgroot);
	close(m->lru_fd);
	free(m);
}
