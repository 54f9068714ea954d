/*
 * sgraph.c - the writer's pairing table of the service graph (see
 * sgraph.h): halves of requests wait here, keyed by trace id and the
 * client's span id, for their other half; pairs are counted when the
 * second half comes and remembered until the first one's wait ends, so
 * that a half sent again is not counted twice; halves left alone expire
 * into virtual-node edges or unpaired counts.
 *
 * The table is a ring in arrival order (with a constant wait, the order
 * of expiry too: entries only ever leave at the head) and an index by
 * key. It starts small and doubles up to the configured bound; past it
 * new halves are dropped and counted. Names (services, peers) of waiting
 * halves are interned once, reference counted. All of it belongs to the
 * writer thread; the series the pairs update are shared with /metrics
 * under the state's mutex (sgraph_series.c), and dependency counts go to
 * the pending map that sgraph_db.c writes to LMDB.
 */
#include <stdlib.h>
#include <string.h>

#include "../model/error.h"
#include "sgraph_int.h"
#include "span_record.h"
#include "store_int.h"

#define SG_HAS_CLIENT 0x1u
#define SG_HAS_SERVER 0x2u
#define SG_DONE 0x4u
#define RING_MIN 1024u
#define NAMES_MAX (4u << 20)
#define NAME_FAIL UINT32_MAX
#define FUTURE_NS (300ull * 1000000000ull) /* latest edge time past now */
#define PREFETCH 8 /* halves looked up ahead */

_Static_assert(sizeof(struct mx_sg_ent) == 64, "a pairing entry is a cache line");

/* ---------------------------------------------------------- index */

bool mx_sg_index_init(struct mx_sg_index *x, uint32_t min_cap)
{
	uint32_t cap = 16;
	while (cap < min_cap && cap < (1u << 30))
		cap *= 2;
	x->s = calloc(cap, sizeof(*x->s));
	x->mask = cap - 1;
	x->used = 0;
	return x->s != NULL;
}

void mx_sg_index_free(struct mx_sg_index *x)
{
	free(x->s);
	x->s = NULL;
	x->mask = 0;
	x->used = 0;
}

void mx_sg_index_clear(struct mx_sg_index *x)
{
	if (x->s)
		memset(x->s, 0, ((size_t)x->mask + 1) * sizeof(*x->s));
	x->used = 0;
}

bool mx_sg_index_reserve(struct mx_sg_index *x)
{
	uint32_t cap = x->mask + 1;
	if ((uint64_t)(x->used + 1) * 2 <= cap)
		return true;
	if (cap >= (1u << 30))
		return false;
	struct mx_sg_index n;
	if (!mx_sg_index_init(&n, cap * 2))
		return false;
	for (uint32_t i = 0; i < cap; i++) {
		if (!x->s[i].pos)
			continue;
		uint32_t j = mx_sg_index_start(&n, x->s[i].hash);
		while (n.s[j].pos)
			j = mx_sg_index_next(&n, j);
		mx_sg_index_put(&n, j, x->s[i].hash, x->s[i].pos - 1);
	}
	mx_sg_index_free(x);
	*x = n;
	return true;
}

bool mx_sg_index_del(struct mx_sg_index *x, uint64_t h, uint32_t pos)
{
	uint32_t i = mx_sg_index_start(x, h);
	for (; x->s[i].pos && x->s[i].pos != pos + 1; i = mx_sg_index_next(x, i))
		;
	if (!x->s[i].pos)
		return false;
	x->used--;
	/* backward shift: move up every later entry of the run that may
	 * live in the hole (its home slot is not between hole and entry) */
	for (uint32_t j = i;;) {
		x->s[i].pos = 0;
		for (;;) {
			j = mx_sg_index_next(x, j);
			if (!x->s[j].pos)
				return true;
			uint32_t k = mx_sg_index_start(x, x->s[j].hash);
			bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
			if (!stays)
				break;
		}
		x->s[i].hash = x->s[j].hash;
		x->s[i].pos = x->s[j].pos;
		i = j;
	}
}

/* ---------------------------------------------------------- names */

/* The id of a name (a reference taken), 0 for the empty name, NAME_FAIL
 * when the table is full or malloc fails. */
static uint32_t name_ref(struct mx_sgraph *g, struct mx_str s, uint64_t h)
{
	if (s.len == 0)
		return 0;
	uint32_t i = mx_sg_index_start(&g->name_idx, h);
	for (; g->name_idx.s[i].pos; i = mx_sg_index_next(&g->name_idx, i)) {
		struct mx_sg_name *n = &g->names[g->name_idx.s[i].pos - 1];
		if (n->hash == h && n->len == s.len && memcmp(n->s, s.ptr, s.len) == 0) {
			n->refs++;
			return g->name_idx.s[i].pos;
		}
	}
	uint32_t id;
	if (g->n_free_names) {
		id = g->free_names[--g->n_free_names];
	} else {
		if (g->n_names == g->cap_names) {
			uint32_t cap = g->cap_names ? g->cap_names * 2 : 256;
			if (cap > NAMES_MAX)
				return NAME_FAIL;
			struct mx_sg_name *v = realloc(g->names, cap * sizeof(*v));
			if (!v)
				return NAME_FAIL;
			g->names = v;
			uint32_t *fr = realloc(g->free_names, cap * sizeof(*fr));
			if (!fr)
				return NAME_FAIL;
			g->free_names = fr;
			g->cap_names = cap;
		}
		id = ++g->n_names;
	}
	char *copy = malloc(s.len);
	if (!copy) {
		g->free_names[g->n_free_names++] = id;
		return NAME_FAIL;
	}
	memcpy(copy, s.ptr, s.len);
	g->names[id - 1] = (struct mx_sg_name){ h, copy, s.len, 1 };
	mx_sg_index_put(&g->name_idx, i, h, id - 1);
	if (!mx_sg_index_reserve(&g->name_idx)) {
		/* keep it usable: take the name back out */
		mx_sg_index_del(&g->name_idx, h, id - 1);
		free(copy);
		g->names[id - 1].s = NULL;
		g->free_names[g->n_free_names++] = id;
		return NAME_FAIL;
	}
	return id;
}

static void name_unref(struct mx_sgraph *g, uint32_t id)
{
	if (id == 0 || id == NAME_FAIL)
		return;
	struct mx_sg_name *n = &g->names[id - 1];
	if (--n->refs)
		return;
	mx_sg_index_del(&g->name_idx, n->hash, id - 1);
	free(n->s);
	n->s = NULL;
	g->free_names[g->n_free_names++] = id;
}

static struct mx_str name_str(const struct mx_sgraph *g, uint32_t id)
{
	if (id == 0 || id == NAME_FAIL)
		return (struct mx_str){ "", 0 };
	const struct mx_sg_name *n = &g->names[id - 1];
	return (struct mx_str){ n->s, n->len };
}

/* ---------------------------------------------------------- state */

struct mx_sgraph *mx_sgraph_new(void)
{
	struct mx_sgraph *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	atomic_init(&g->wait_ns, MX_SG_DEFAULT_WAIT_NS);
	atomic_init(&g->max_pending, MX_SG_DEFAULT_MAX_PENDING);
	pthread_mutex_init(&g->mu, NULL);
	mx_buf_init(&g->dep_keys, 64u << 20);
	g->ring_cap = RING_MIN;
	g->ring = aligned_alloc(64, RING_MIN * sizeof(*g->ring));
	if (!g->ring || !mx_sg_index_init(&g->ring_idx, 2 * RING_MIN) ||
	    !mx_sg_index_init(&g->name_idx, 512) ||
	    !mx_sg_index_init(&g->dep_idx, 256) ||
	    !mx_sg_index_init(&g->edge_idx, 2 * MX_SG_MAX_EDGE_SERIES) ||
	    !mx_sg_index_init(&g->side_idx, 2 * MX_SG_MAX_SIDE_SERIES) ||
	    !mx_sg_index_init(&g->span_idx, 2 * MX_SG_MAX_SPAN_SERIES)) {
		mx_sgraph_free(g);
		return NULL;
	}
	return g;
}

void mx_sgraph_free(struct mx_sgraph *g)
{
	if (!g)
		return;
	for (uint32_t i = 0; i < g->n_names; i++)
		free(g->names[i].s);
	free(g->names);
	free(g->free_names);
	mx_sg_index_free(&g->name_idx);
	free(g->ring);
	mx_sg_index_free(&g->ring_idx);
	mx_sg_deps_free(g);
	mx_sg_series_free(g);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

int mx_store_sgraph_configure(struct mx_store *st, uint64_t wait_ns,
			      uint32_t max_pending)
{
	if (!st || !st->sgraph)
		return MX_EINVAL;
	atomic_store(&st->sgraph->wait_ns, wait_ns ? wait_ns : MX_SG_DEFAULT_WAIT_NS);
	atomic_store(&st->sgraph->max_pending,
		     max_pending ? max_pending : MX_SG_DEFAULT_MAX_PENDING);
	return MX_OK;
}

/* ---------------------------------------------------------- ring */

static struct mx_sg_ent *ring_at(struct mx_sgraph *g, uint32_t slot)
{
	return &g->ring[slot];
}

static uint64_t key_hash(const uint8_t *key)
{
	return mx_hash64(key, MX_SG_KEY_LEN, MX_SG_SEED);
}

/* The entries' compact units: durations in µs, times in s. */
static uint32_t ns_us(uint64_t ns)
{
	return ns / 1000 > UINT32_MAX ? UINT32_MAX : (uint32_t)(ns / 1000);
}

static uint64_t us_ns(uint32_t us)
{
	return (uint64_t)us * 1000;
}

static uint32_t ns_s(uint64_t ns)
{
	return ns / 1000000000ull > UINT32_MAX ? UINT32_MAX
					       : (uint32_t)(ns / 1000000000ull);
}

static uint64_t s_ns(uint32_t s)
{
	return (uint64_t)s * 1000000000ull;
}

static struct mx_sg_ent *find(struct mx_sgraph *g, const uint8_t *key,
			      uint64_t h)
{
	uint32_t i = mx_sg_index_start(&g->ring_idx, h);
	for (; g->ring_idx.s[i].pos; i = mx_sg_index_next(&g->ring_idx, i)) {
		struct mx_sg_ent *e = ring_at(g, g->ring_idx.s[i].pos - 1);
		if (g->ring_idx.s[i].hash == h && memcmp(e->key, key, MX_SG_KEY_LEN) == 0)
			return e;
	}
	return NULL;
}

/* Doubles the ring (entries move to 0 .. n-1 in order) and rebuilds the
 * index. Returns false when memory is short (nothing changed). */
static bool ring_grow(struct mx_sgraph *g)
{
	uint32_t cap = g->ring_cap * 2;
	struct mx_sg_ent *r = aligned_alloc(64, (size_t)cap * sizeof(*r));
	struct mx_sg_index x;
	if (!r || !mx_sg_index_init(&x, 2 * cap)) {
		free(r);
		return false;
	}
	for (uint32_t k = 0; k < g->n; k++) {
		r[k] = g->ring[(g->head + k) & (g->ring_cap - 1)];
		uint64_t h = key_hash(r[k].key);
		uint32_t j = mx_sg_index_start(&x, h);
		while (x.s[j].pos)
			j = mx_sg_index_next(&x, j);
		mx_sg_index_put(&x, j, h, k);
	}
	free(g->ring);
	mx_sg_index_free(&g->ring_idx);
	g->ring = r;
	g->ring_idx = x;
	g->ring_cap = cap;
	g->head = 0;
	return true;
}

/* A new entry at the tail (zeroed but key, hash, expiry), or NULL when
 * the table is at its bound. */
static struct mx_sg_ent *insert(struct mx_sgraph *g, const uint8_t *key,
				uint64_t h, uint64_t now)
{
	uint32_t max = atomic_load(&g->max_pending);
	if (g->n >= max || (g->n == g->ring_cap && !ring_grow(g)))
		return NULL;
	uint32_t slot = (g->head + g->n) & (g->ring_cap - 1);
	struct mx_sg_ent *e = ring_at(g, slot);
	memset(e, 0, sizeof(*e));
	memcpy(e->key, key, MX_SG_KEY_LEN);
	uint64_t wait = atomic_load(&g->wait_ns);
	e->expire_ns = now > UINT64_MAX - wait ? UINT64_MAX : now + wait;
	uint32_t i = mx_sg_index_start(&g->ring_idx, h);
	while (g->ring_idx.s[i].pos)
		i = mx_sg_index_next(&g->ring_idx, i);
	mx_sg_index_put(&g->ring_idx, i, h, slot);
	g->n++;
	return e;
}

/* ---------------------------------------------------------- edges */

/* The time an edge is counted at: the client's start, else the server's,
 * never more than FUTURE_NS past the commit (clients with skewed clocks);
 * the commit time for spans without one. */
static uint64_t edge_time(uint64_t t, uint64_t now)
{
	if (t == 0)
		return now;
	return t > now + FUTURE_NS ? now + FUTURE_NS : t;
}

static uint8_t pair_conn(uint8_t flags)
{
	if (flags & MX_SG_F_DB)
		return MX_SG_CONN_DATABASE;
	return (flags & MX_SG_F_MSG) ? MX_SG_CONN_MESSAGING : MX_SG_CONN_NONE;
}

/* Counts a completed pair in the metrics and the dependency links. */
static void emit_pair(struct mx_sgraph *g, struct mx_str client,
		      struct mx_str server, uint8_t flags, uint64_t c_dur,
		      uint64_t s_dur, uint64_t t, uint64_t now)
{
	bool failed = (flags & MX_SG_F_ERROR) != 0;
	mx_sg_series_edge(g, client, server, pair_conn(flags), failed, s_dur, c_dur);
	mx_sg_dep_add(g, client, server, edge_time(t, now), failed);
	atomic_fetch_add(&g->st_paired, 1);
}

/* An entry whose wait ended (Tempo's onExpire). */
static void expire_one(struct mx_sgraph *g, struct mx_sg_ent *e, uint64_t now)
{
	bool failed = (e->flags & MX_SG_F_ERROR) != 0;
	if (e->state & SG_DONE) {
		/* a pair remembered against repeats */
	} else if (e->state & SG_HAS_CLIENT) {
		struct mx_str client = name_str(g, e->c_svc);
		struct mx_str peer = name_str(g, e->c_peer);
		if (peer.len) {
			uint64_t c_dur = us_ns(e->c_us);
			uint64_t s_dur = (e->flags & MX_SG_F_DB) ? c_dur : 0;
			mx_sg_series_edge(g, client, peer, MX_SG_CONN_VIRTUAL, failed,
					  s_dur, c_dur);
			mx_sg_dep_add(g, client, peer, edge_time(s_ns(e->t_s), now), failed);
			atomic_fetch_add(&g->st_expired_edges, 1);
		} else {
			mx_sg_series_side(g, client, false, false);
		}
	} else if (e->state & SG_HAS_SERVER) {
		struct mx_str server = name_str(g, e->s_svc);
		struct mx_str caller = name_str(g, e->s_peer);
		if (e->flags & MX_SG_F_ROOT) {
			mx_sg_series_edge(g, MX_STR_LIT("user"), server,
					  MX_SG_CONN_VIRTUAL, failed, us_ns(e->s_us), 0);
			atomic_fetch_add(&g->st_expired_edges, 1);
		} else {
			mx_sg_series_side(g, server, true, false);
		}
		/* Zipkin: a server span naming its (uninstrumented) caller */
		if (caller.len)
			mx_sg_dep_add(g, caller, server, edge_time(s_ns(e->t_s), now),
				      failed);
	}
	name_unref(g, e->c_svc);
	name_unref(g, e->c_peer);
	name_unref(g, e->s_svc);
	name_unref(g, e->s_peer);
}

static void expire_locked(struct mx_sgraph *g, uint64_t now)
{
	while (g->n) {
		struct mx_sg_ent *e = ring_at(g, g->head);
		if (e->expire_ns > now)
			break;
		expire_one(g, e, now);
		mx_sg_index_del(&g->ring_idx, key_hash(e->key), g->head);
		g->head = (g->head + 1) & (g->ring_cap - 1);
		g->n--;
	}
	atomic_store(&g->st_pending, g->n);
}

void mx_sg_expire(struct mx_sgraph *g, uint64_t now)
{
	pthread_mutex_lock(&g->mu);
	expire_locked(g, now);
	pthread_mutex_unlock(&g->mu);
}

/* ---------------------------------------------------------- halves */

static void drop(struct mx_sgraph *g, struct mx_str svc, bool server)
{
	mx_sg_series_side(g, svc, server, true);
}

static void feed_client(struct mx_sgraph *g, const struct mx_sg_facts *f,
			const struct mx_sg_half *h, uint64_t hash, uint64_t now)
{
	struct mx_str svc = mx_sg_fstr(f, h->svc);
	struct mx_sg_ent *e = find(g, h->key, hash);
	if (e) {
		if (e->state & (SG_DONE | SG_HAS_CLIENT)) {
			atomic_fetch_add(&g->st_dup, 1);
			return;
		}
		uint8_t flags = e->flags | h->flags;
		emit_pair(g, svc, name_str(g, e->s_svc), flags, h->dur_ns,
			  us_ns(e->s_us), h->start_ns ? h->start_ns : s_ns(e->t_s), now);
		name_unref(g, e->s_svc);
		name_unref(g, e->s_peer);
		e->s_svc = e->s_peer = 0;
		e->state |= SG_HAS_CLIENT | SG_DONE;
		return;
	}
	bool db_now = (h->flags & MX_SG_F_DB) && h->db.len;
	if (db_now) /* a database call: the edge is known at once */
		emit_pair(g, svc, mx_sg_fstr(f, h->db), h->flags, h->dur_ns,
			  h->dur_ns, h->start_ns, now);
	if (!(e = insert(g, h->key, hash, now))) {
		if (!db_now)
			drop(g, svc, false);
		return;
	}
	e->state = SG_HAS_CLIENT | (db_now ? SG_DONE : 0);
	e->flags = h->flags;
	e->t_s = ns_s(h->start_ns);
	e->c_us = ns_us(h->dur_ns);
	if (db_now)
		return;
	e->c_svc = name_ref(g, svc, h->svc.hash);
	e->c_peer = name_ref(g, mx_sg_fstr(f, h->peer), h->peer.hash);
	if (e->c_svc == NAME_FAIL || e->c_peer == NAME_FAIL) {
		/* cannot remember the names: count it dropped, keep the key
		 * (as a done entry) against repeats */
		name_unref(g, e->c_svc);
		name_unref(g, e->c_peer);
		e->c_svc = e->c_peer = 0;
		e->state |= SG_DONE;
		drop(g, svc, false);
	}
}

static void feed_server(struct mx_sgraph *g, const struct mx_sg_facts *f,
			const struct mx_sg_half *h, uint64_t hash, uint64_t now)
{
	struct mx_str svc = mx_sg_fstr(f, h->svc);
	struct mx_sg_ent *e = find(g, h->key, hash);
	if (e) {
		if (e->state & (SG_DONE | SG_HAS_SERVER)) {
			atomic_fetch_add(&g->st_dup, 1);
			return;
		}
		uint8_t flags = e->flags | h->flags;
		emit_pair(g, name_str(g, e->c_svc), svc, flags, us_ns(e->c_us),
			  h->dur_ns, e->t_s ? s_ns(e->t_s) : h->start_ns, now);
		name_unref(g, e->c_svc);
		name_unref(g, e->c_peer);
		e->c_svc = e->c_peer = 0;
		e->state |= SG_HAS_SERVER | SG_DONE;
		return;
	}
	if (!(e = insert(g, h->key, hash, now))) {
		drop(g, svc, true);
		return;
	}
	e->state = SG_HAS_SERVER;
	e->flags = h->flags;
	e->t_s = ns_s(h->start_ns);
	e->s_us = ns_us(h->dur_ns);
	e->s_svc = name_ref(g, svc, h->svc.hash);
	e->s_peer = name_ref(g, mx_sg_fstr(f, h->peer), h->peer.hash);
	if (e->s_svc == NAME_FAIL || e->s_peer == NAME_FAIL) {
		name_unref(g, e->s_svc);
		name_unref(g, e->s_peer);
		e->s_svc = e->s_peer = 0;
		e->state |= SG_DONE;
		drop(g, svc, true);
	}
}

void mx_sg_feed(struct mx_sgraph *g, const struct mx_sg_facts *f, uint64_t now)
{
	if (!g || !f)
		return;
	pthread_mutex_lock(&g->mu);
	expire_locked(g, now);
	for (uint32_t i = 0; i < f->n_aggs; i++)
		mx_sg_series_spans(g, f, &f->aggs[i]);
	for (uint32_t i = 0; i < f->n_halves; i++) {
		const struct mx_sg_half *h = &f->halves[i];
		/* index slots and entries are cache misses: ask for them
		 * ahead, the slot first, the entry it names later */
		if (i + PREFETCH < f->n_halves)
			__builtin_prefetch(&g->ring_idx.s[mx_sg_index_start(
				&g->ring_idx, f->halves[i + PREFETCH].hash)]);
		if (i + PREFETCH / 2 < f->n_halves) {
			const struct mx_sg_slot *sl = &g->ring_idx.s[mx_sg_index_start(
				&g->ring_idx, f->halves[i + PREFETCH / 2].hash)];
			if (sl->pos)
				__builtin_prefetch(&g->ring[sl->pos - 1]);
		}
		if (h->side == MX_SG_SIDE_CLIENT)
			feed_client(g, f, h, h->hash, now);
		else
			feed_server(g, f, h, h->hash, now);
	}
	atomic_store(&g->st_pending, g->n);
	pthread_mutex_unlock(&g->mu);
}

void mx_sg_after_commit(struct mx_store *st, struct mx_store_item **group,
			uint32_t n, uint64_t now)
{
	struct mx_sgraph *g = st->sgraph;
	if (!g)
		return;
	mx_sg_txn_end(g, true);
	for (uint32_t i = 0; i < n; i++)
		if (group[i]->sg && !group[i]->sg_skip)
			mx_sg_feed(g, group[i]->sg, now);
	mx_sg_expire(g, now);
}
