/*
 * series.c - series binding and the recording hot path of libmixd.
 *
 * Binding interns the label strings and the label set under the reporter's
 * lock; the resulting id indexes per-thread cells. Recording finds the
 * calling thread's shard through a 4-entry initial-exec TLS cache keyed by
 * the reporter's process-unique id (falling back to the reporter's pthread
 * key, then to registration, which may lock and allocate), then adds to the
 * counters of one cell.
 *
 * Why load+store and not exchange or fetch_sub: a shard has exactly one
 * writer (its thread), so a relaxed load followed by a relaxed store is an
 * exact increment and compiles to plain moves and adds (no locked
 * instruction, about 1 ns). The flush thread never writes a shard: it
 * reads every counter and ships the difference to the value it read at the
 * previous collection. Counters never go down, so an increment is shipped
 * exactly once, in the first collection that sees it; unsigned wrap-around
 * keeps the differences right past 2^64. An exchange by the reader would
 * race with the writer's non-atomic read-modify-write and lose increments;
 * making the writer use fetch_add would cost a locked instruction per
 * counter. Threads past max_threads share shard 0, which is updated with
 * fetch_add for that reason. A shard whose thread exited (pthread key
 * destructor) is handed to the next new thread: its counters just continue.
 *
 * Exemplars: mixd_record_request_traced() also stores the trace and span
 * id, the duration and the wall time in the cell's exemplar slot (a
 * seqlock, see struct mxr_exslot), before adding to the counters; the
 * latest traced record of a cell wins. The flush thread keeps, per series,
 * the slot with the newest time across shards that is newer than what it
 * collected before.
 */
#include <stdlib.h>
#include <string.h>

#include "reporter/reporter.h"

/* Envoy's default bounds for integer values: v lands in the first bucket
 * whose bound is >= v; 0.5 is the bound of bucket 0, so only 0 lands there.
 * Padded to 32 with UINT64_MAX for the branch-free binary search. */
static const uint64_t bucket_bound[32] = {
	0, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
	30000, 60000, 300000, 600000, 1800000, 3600000,
	UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX,
	UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX,
	UINT64_MAX,
};

/* The number of bounds below v (0..19): five compares, no branch to
 * mispredict whatever the values are. */
static inline unsigned bucket_of(uint64_t v)
{
	unsigned b = 0;

	b += (bucket_bound[b + 15] < v) << 4;
	b += (bucket_bound[b + 7] < v) << 3;
	b += (bucket_bound[b + 3] < v) << 2;
	b += (bucket_bound[b + 1] < v) << 1;
	b += bucket_bound[b] < v;
	return b;
}

/* ------------------------------------------------------------------ */
/* Hashing and interning (under r->lock)                               */
/* ------------------------------------------------------------------ */

static uint64_t hash_str(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ull;
	}
	h ^= 0xff; /* separator: ("ab","c") != ("a","bc") */
	return h * 0x100000001b3ull;
}

static uint64_t hash_labels(uint32_t role, uint32_t code, const char *const s[MXR_NSTR])
{
	uint64_t h = 0xcbf29ce484222325ull ^ ((uint64_t)role << 32 | code);

	h *= 0x100000001b3ull;
	for (int i = 0; i < MXR_NSTR; i++)
		h = hash_str(h, s[i]);
	return h ? h : 1;
}

static int grow_table(uint32_t **tab, uint32_t *cap, uint32_t need,
		      uint64_t (*key)(const struct mixd_reporter *, uint32_t),
		      const struct mixd_reporter *r)
{
	uint32_t ncap = *cap ? *cap : 64;
	uint32_t *nt;

	while (ncap < 2 * need)
		ncap *= 2;
	if (ncap == *cap)
		return MIXD_OK;
	nt = calloc(ncap, sizeof(*nt));
	if (!nt)
		return MIXD_ENOMEM;
	for (uint32_t i = 0; i < *cap; i++) {
		uint32_t e = (*tab)[i];
		if (!e)
			continue;
		uint32_t j = (uint32_t)key(r, e - 1) & (ncap - 1);
		while (nt[j])
			j = (j + 1) & (ncap - 1);
		nt[j] = e;
	}
	free(*tab);
	*tab = nt;
	*cap = ncap;
	return MIXD_OK;
}

static uint64_t str_key(const struct mixd_reporter *r, uint32_t id)
{
	return hash_str(0xcbf29ce484222325ull, mxr_str(r, id));
}

static uint64_t series_key(const struct mixd_reporter *r, uint32_t id)
{
	return mxr_series_get(r, id)->hash;
}

/* Returns the id of `s` or UINT32_MAX when it is not interned. */
static uint32_t find_str_locked(const struct mixd_reporter *r, const char *s)
{
	uint32_t mask = r->stab_cap - 1;
	uint32_t j = (uint32_t)hash_str(0xcbf29ce484222325ull, s) & mask;

	for (uint32_t e; (e = r->stab[j]) != 0; j = (j + 1) & mask)
		if (strcmp(mxr_str(r, e - 1), s) == 0)
			return e - 1;
	return UINT32_MAX;
}

uint32_t mxr_intern_locked(struct mixd_reporter *r, const char *s)
{
	uint32_t id, n, blk;
	char **b;
	char *copy;

	if (!s)
		s = "";
	if (r->stab && (id = find_str_locked(r, s)) != UINT32_MAX)
		return id;
	n = atomic_load_explicit(&r->nstrings, memory_order_relaxed);
	blk = n / MXR_SBLOCK;
	if (blk >= r->max_sblocks)
		return UINT32_MAX;
	if (grow_table(&r->stab, &r->stab_cap, n + 1, str_key, r) != MIXD_OK)
		return UINT32_MAX;
	b = atomic_load_explicit(&r->sblocks[blk], memory_order_relaxed);
	if (!b) {
		b = calloc(MXR_SBLOCK, sizeof(*b));
		if (!b)
			return UINT32_MAX;
		atomic_store_explicit(&r->sblocks[blk], b, memory_order_release);
	}
	copy = strdup(s);
	if (!copy)
		return UINT32_MAX;
	b[n % MXR_SBLOCK] = copy;
	atomic_store_explicit(&r->nstrings, n + 1, memory_order_release);
	uint32_t j = (uint32_t)hash_str(0xcbf29ce484222325ull, s) & (r->stab_cap - 1);
	while (r->stab[j])
		j = (j + 1) & (r->stab_cap - 1);
	r->stab[j] = n + 1;
	return n;
}

/* ------------------------------------------------------------------ */
/* Shards                                                              */
/* ------------------------------------------------------------------ */

static struct mxr_chunk *chunk_new(void)
{
	struct mxr_chunk *c = aligned_alloc(64, sizeof(struct mxr_chunk));

	if (c)
		memset(c, 0, sizeof(*c));
	return c;
}

static struct mxr_shard *shard_new(struct mixd_reporter *r, int shared)
{
	struct mxr_shard *sh = calloc(1, sizeof(*sh));

	if (!sh)
		return NULL;
	sh->chunks = calloc(r->max_chunks, sizeof(*sh->chunks));
	if (!sh->chunks) {
		free(sh);
		return NULL;
	}
	sh->shared = shared;
	/* chunks for every bound series; a missing one (no memory) sends
	 * that chunk's records to the shared shard */
	uint32_t n = atomic_load_explicit(&r->nseries, memory_order_relaxed);
	for (uint32_t c = 0; c < (n + MXR_CHUNK - 1) / MXR_CHUNK; c++)
		atomic_store_explicit(&sh->chunks[c], chunk_new(), memory_order_release);
	return sh;
}

static void shard_free(struct mxr_shard *sh, uint32_t max_chunks)
{
	if (!sh)
		return;
	for (uint32_t c = 0; c < max_chunks; c++)
		free(atomic_load_explicit(&sh->chunks[c], memory_order_relaxed));
	free(sh->chunks);
	free(sh);
}

struct mxr_tls {
	uint64_t rid[4];
	struct mxr_shard *sh[4];
};
static _Thread_local struct mxr_tls tls __attribute__((tls_model("initial-exec")));

static void tls_put(uint64_t rid, struct mxr_shard *sh)
{
	for (int i = 3; i > 0; i--) {
		tls.rid[i] = tls.rid[i - 1];
		tls.sh[i] = tls.sh[i - 1];
	}
	tls.rid[0] = rid;
	tls.sh[0] = sh;
}

static struct mxr_shard *shard_register(struct mixd_reporter *r)
{
	struct mxr_shard *sh = NULL;
	uint32_t n;

	pthread_mutex_lock(&r->lock);
	n = atomic_load_explicit(&r->nshards, memory_order_relaxed);
	for (uint32_t i = 1; i < n && !sh; i++) {
		struct mxr_shard *c = r->shards[i];
		if (atomic_load_explicit(&c->released, memory_order_acquire)) {
			atomic_store_explicit(&c->released, 0, memory_order_relaxed);
			memset(c->lcache, 0, sizeof(c->lcache));
			sh = c;
		}
	}
	if (!sh && n < r->max_threads + 1 && (sh = shard_new(r, 0)) != NULL) {
		r->shards[n] = sh;
		atomic_store_explicit(&r->nshards, n + 1, memory_order_release);
		atomic_fetch_add_explicit(&r->threads, 1, memory_order_relaxed);
	}
	pthread_mutex_unlock(&r->lock);
	if (!sh)
		sh = r->shared;
	(void)pthread_setspecific(r->key, sh);
	return sh;
}

static __attribute__((noinline)) struct mxr_shard *shard_slow(struct mixd_reporter *r)
{
	struct mxr_shard *sh;

	for (int i = 1; i < 4; i++)
		if (tls.rid[i] == r->id)
			return tls.sh[i];
	sh = pthread_getspecific(r->key);
	if (!sh)
		sh = shard_register(r);
	tls_put(r->id, sh);
	return sh;
}

static inline struct mxr_shard *shard_of(struct mixd_reporter *r)
{
	if (MXR_LIKELY(tls.rid[0] == r->id))
		return tls.sh[0];
	return shard_slow(r);
}

/* pthread key destructor: the owner thread exits */
static void shard_release(void *p)
{
	struct mxr_shard *sh = p;

	if (sh && !sh->shared)
		atomic_store_explicit(&sh->released, 1, memory_order_release);
}

void mxr_shards_after_fork(struct mixd_reporter *r)
{
	struct mxr_shard *mine = pthread_getspecific(r->key);
	uint32_t n = atomic_load_explicit(&r->nshards, memory_order_acquire);

	for (uint32_t i = 1; i < n; i++)
		if (r->shards[i] != mine)
			atomic_store_explicit(&r->shards[i]->released, 1, memory_order_release);
}

/* ------------------------------------------------------------------ */
/* Setup and teardown                                                  */
/* ------------------------------------------------------------------ */

int mxr_series_init(struct mixd_reporter *r)
{
	struct mxr_series *ovf;
	uint64_t max_strings;

	r->max_chunks = (r->max_series + 1 + MXR_CHUNK - 1) / MXR_CHUNK;
	max_strings = (uint64_t)(r->max_series + 1) * MXR_NSTR + MXR_NWL + 1;
	r->max_sblocks = (uint32_t)((max_strings + MXR_SBLOCK - 1) / MXR_SBLOCK);
	r->sblocks = calloc(r->max_sblocks, sizeof(*r->sblocks));
	r->series = calloc((size_t)r->max_series + 1, sizeof(*r->series));
	r->shards = calloc((size_t)r->max_threads + 1, sizeof(*r->shards));
	if (!r->sblocks || !r->series || !r->shards)
		return MIXD_ENOMEM;
	if (pthread_key_create(&r->key, shard_release) != 0)
		return MIXD_ESYS;
	r->key_ok = 1;
	if (mxr_intern_locked(r, "") != 0)
		return MIXD_ENOMEM;
	ovf = calloc(1, sizeof(*ovf)); /* all strings "" (id 0), role 0 */
	if (!ovf)
		return MIXD_ENOMEM;
	atomic_store_explicit(&r->series[0], ovf, memory_order_release);
	atomic_store_explicit(&r->nseries, 1, memory_order_release);
	r->shared = shard_new(r, 1);
	if (!r->shared || !atomic_load(&r->shared->chunks[0]))
		return MIXD_ENOMEM;
	r->shards[0] = r->shared;
	atomic_store_explicit(&r->nshards, 1, memory_order_release);
	return MIXD_OK;
}

void mxr_series_free(struct mixd_reporter *r)
{
	uint32_t n;

	if (r->shards) {
		n = atomic_load(&r->nshards);
		for (uint32_t i = 0; i < n; i++)
			shard_free(r->shards[i], r->max_chunks);
		if (n == 0)
			shard_free(r->shared, r->max_chunks);
		free(r->shards);
	}
	if (r->series) {
		n = atomic_load(&r->nseries);
		for (uint32_t i = 0; i < n; i++)
			free(atomic_load(&r->series[i]));
		free(r->series);
	}
	if (r->sblocks) {
		n = atomic_load(&r->nstrings);
		for (uint32_t b = 0; b < r->max_sblocks; b++) {
			char **blk = atomic_load(&r->sblocks[b]);
			for (uint32_t i = 0; blk && i < MXR_SBLOCK && b * MXR_SBLOCK + i < n; i++)
				free(blk[i]);
			free(blk);
		}
		free(r->sblocks);
	}
	free(r->stab);
	free(r->ltab);
	free(r->ovf);
}

/* ------------------------------------------------------------------ */
/* Binding                                                             */
/* ------------------------------------------------------------------ */

static int label_strs(const struct mixd_series_labels *l, const char *s[MXR_NSTR])
{
	const struct mixd_workload *p = &l->peer;

	s[MXR_S_PEER + 0] = p->workload;
	s[MXR_S_PEER + 1] = p->workload_namespace;
	s[MXR_S_PEER + 2] = p->app;
	s[MXR_S_PEER + 3] = p->version;
	s[MXR_S_PEER + 4] = p->canonical_service;
	s[MXR_S_PEER + 5] = p->canonical_revision;
	s[MXR_S_PEER + 6] = p->cluster;
	s[MXR_S_PEER + 7] = p->principal;
	s[MXR_S_DSVC] = l->destination_service;
	s[MXR_S_DSVC_NAME] = l->destination_service_name;
	s[MXR_S_DSVC_NS] = l->destination_service_namespace;
	s[MXR_S_PROTO] = l->request_protocol;
	s[MXR_S_GRPC] = l->grpc_response_status;
	s[MXR_S_FLAGS] = l->response_flags;
	s[MXR_S_CSP] = l->connection_security_policy;
	if (l->role < MIXD_ROLE_UNSPECIFIED || l->role > MIXD_ROLE_DESTINATION)
		return MIXD_EINVAL;
	for (int i = 0; i < MXR_NSTR; i++) {
		if (!s[i])
			s[i] = "";
		else if (strnlen(s[i], MIXD_LABEL_MAX + 1) > MIXD_LABEL_MAX)
			return MIXD_EINVAL;
	}
	return MIXD_OK;
}

static int series_equal(const struct mixd_reporter *r, const struct mxr_series *se,
			uint32_t role, uint32_t code, const char *const s[MXR_NSTR])
{
	if (se->role != role || se->code != code)
		return 0;
	for (int i = 0; i < MXR_NSTR; i++)
		if (strcmp(mxr_str(r, se->str[i]), s[i]) != 0)
			return 0;
	return 1;
}

static void count_overflow_locked(struct mixd_reporter *r, uint64_t h)
{
	enum { OVF_SLOTS = 4096 };
	uint32_t j;

	if (!r->ovf && r->novf == 0)
		r->ovf = calloc(OVF_SLOTS, sizeof(*r->ovf));
	if (r->ovf && r->novf < OVF_SLOTS * 3 / 4) {
		for (j = (uint32_t)h & (OVF_SLOTS - 1); r->ovf[j]; j = (j + 1) & (OVF_SLOTS - 1))
			if (r->ovf[j] == h)
				return; /* seen: counted once */
		r->ovf[j] = h;
	}
	r->novf++;
	atomic_fetch_add_explicit(&r->overflow_series, 1, memory_order_relaxed);
}

/* Gives every shard a chunk for series `id`. The shared shard must get one. */
static int chunks_for_locked(struct mixd_reporter *r, uint32_t id)
{
	uint32_t c = id >> MXR_CHUNK_SHIFT;
	uint32_t n = atomic_load_explicit(&r->nshards, memory_order_relaxed);

	for (uint32_t i = 0; i < n; i++) {
		struct mxr_shard *sh = r->shards[i];
		if (atomic_load_explicit(&sh->chunks[c], memory_order_relaxed))
			continue;
		struct mxr_chunk *ch = chunk_new();
		if (!ch && i == 0)
			return MIXD_ENOMEM;
		atomic_store_explicit(&sh->chunks[c], ch, memory_order_release);
	}
	return MIXD_OK;
}

static int bind_locked(struct mixd_reporter *r, uint32_t role, uint32_t code,
		       const char *const s[MXR_NSTR], uint64_t h, uint32_t *out)
{
	uint32_t n = atomic_load_explicit(&r->nseries, memory_order_relaxed);
	uint32_t mask, j, e;
	struct mxr_series *se;

	if (r->ltab) {
		mask = r->ltab_cap - 1;
		for (j = (uint32_t)h & mask; (e = r->ltab[j]) != 0; j = (j + 1) & mask) {
			se = atomic_load_explicit(&r->series[e - 1], memory_order_relaxed);
			if (se->hash == h && series_equal(r, se, role, code, s)) {
				*out = e - 1;
				return MIXD_OK;
			}
		}
	}
	if (n - 1 >= r->max_series) {
		count_overflow_locked(r, h);
		return MIXD_OK;
	}
	if (grow_table(&r->ltab, &r->ltab_cap, n, series_key, r) != MIXD_OK)
		return MIXD_ENOMEM;
	se = calloc(1, sizeof(*se));
	if (!se)
		return MIXD_ENOMEM;
	se->hash = h;
	se->role = role;
	se->code = code;
	for (int i = 0; i < MXR_NSTR; i++) {
		se->str[i] = mxr_intern_locked(r, s[i]);
		if (se->str[i] == UINT32_MAX) {
			free(se);
			return MIXD_ENOMEM;
		}
	}
	if (chunks_for_locked(r, n) != MIXD_OK) {
		free(se);
		return MIXD_ENOMEM;
	}
	atomic_store_explicit(&r->series[n], se, memory_order_release);
	atomic_store_explicit(&r->nseries, n + 1, memory_order_release);
	mask = r->ltab_cap - 1;
	for (j = (uint32_t)h & mask; r->ltab[j]; j = (j + 1) & mask)
		;
	r->ltab[j] = n + 1;
	*out = n;
	return MIXD_OK;
}

static int bind(struct mixd_reporter *r, const struct mixd_series_labels *l,
		const char *const s[MXR_NSTR], uint64_t h, uint32_t *out)
{
	int rc;

	pthread_mutex_lock(&r->lock);
	rc = bind_locked(r, (uint32_t)l->role, l->response_code, s, h, out);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

MIXD_API int mixd_series_bind(struct mixd_reporter *r, const struct mixd_series_labels *l,
			      uint32_t *out)
{
	const char *s[MXR_NSTR];
	int rc;

	if (out)
		*out = MIXD_SERIES_OVERFLOW;
	if (!r || !l || !out)
		return MIXD_EINVAL;
	rc = label_strs(l, s);
	if (rc != MIXD_OK)
		return rc;
	return bind(r, l, s, hash_labels((uint32_t)l->role, l->response_code, s), out);
}

/* ------------------------------------------------------------------ */
/* Recording (the hot path)                                            */
/* ------------------------------------------------------------------ */

static inline void add_own(_Atomic uint64_t *c, uint64_t d)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + d,
			      memory_order_relaxed);
}

static inline void add_shared(_Atomic uint64_t *c, uint64_t d)
{
	atomic_fetch_add_explicit(c, d, memory_order_relaxed);
}

static __attribute__((noinline)) int record_dropped(struct mixd_reporter *r)
{
	if (r)
		atomic_fetch_add_explicit(&r->records_dropped, 1, memory_order_relaxed);
	return MIXD_EINVAL;
}

/* Returns the cell of `series` for this thread and its shard in *shp. */
static inline struct mxr_cell *cell_of(struct mixd_reporter *r, uint32_t series,
				       struct mxr_shard **shp)
{
	struct mxr_shard *sh;
	struct mxr_chunk *ch;

	if (MXR_UNLIKELY(!r || series >= atomic_load_explicit(&r->nseries, memory_order_relaxed)))
		return NULL;
	sh = shard_of(r);
	ch = atomic_load_explicit(&sh->chunks[series >> MXR_CHUNK_SHIFT], memory_order_acquire);
	if (MXR_UNLIKELY(!ch)) {
		sh = r->shared;
		ch = atomic_load_explicit(&sh->chunks[series >> MXR_CHUNK_SHIFT],
					  memory_order_acquire);
		if (!ch)
			return NULL;
	}
	*shp = sh;
	return &ch->cell[series & (MXR_CHUNK - 1)];
}

/* Adds one request to cell `c` of shard `sh`. Always inlined: both
 * record calls must compile to straight-line code. */
static inline __attribute__((always_inline)) void
add_request(struct mxr_cell *c, const struct mxr_shard *sh, uint64_t duration_ms,
	    uint64_t request_bytes, uint64_t response_bytes)
{
	unsigned bd, bq, bs;

	bd = bucket_of(duration_ms);
	bq = bucket_of(request_bytes);
	bs = bucket_of(response_bytes);
	if (MXR_LIKELY(!sh->shared)) {
		add_own(&c->v[MXR_V_DUR_B + bd], 1);
		add_own(&c->v[MXR_V_DUR_SUM], duration_ms);
		add_own(&c->v[MXR_V_REQ_B + bq], 1);
		add_own(&c->v[MXR_V_REQ_SUM], request_bytes);
		add_own(&c->v[MXR_V_RESP_B + bs], 1);
		add_own(&c->v[MXR_V_RESP_SUM], response_bytes);
	} else {
		add_shared(&c->v[MXR_V_DUR_B + bd], 1);
		add_shared(&c->v[MXR_V_DUR_SUM], duration_ms);
		add_shared(&c->v[MXR_V_REQ_B + bq], 1);
		add_shared(&c->v[MXR_V_REQ_SUM], request_bytes);
		add_shared(&c->v[MXR_V_RESP_B + bs], 1);
		add_shared(&c->v[MXR_V_RESP_SUM], response_bytes);
	}
}

MIXD_API int mixd_record_request(struct mixd_reporter *r, uint32_t series, uint64_t duration_ms,
				 uint64_t request_bytes, uint64_t response_bytes)
{
	struct mxr_shard *sh;
	struct mxr_cell *c = cell_of(r, series, &sh);

	if (MXR_UNLIKELY(!c))
		return record_dropped(r);
	add_request(c, sh, duration_ms, request_bytes, response_bytes);
	return MIXD_OK;
}

/* Fills the id words of an exemplar; 0 when there is no trace id. */
static int ex_ids(const uint8_t *trace_id, const uint8_t *span_id, uint64_t w[MXR_NX])
{
	if (!trace_id)
		return 0;
	memcpy(&w[MXR_X_TRACE], trace_id, 16);
	if ((w[MXR_X_TRACE] | w[MXR_X_TRACE + 1]) == 0)
		return 0;
	w[MXR_X_SPAN] = 0;
	if (span_id)
		memcpy(&w[MXR_X_SPAN], span_id, 8);
	return 1;
}

MIXD_API int mixd_record_request_traced(struct mixd_reporter *r, uint32_t series,
					uint64_t duration_ms, uint64_t request_bytes,
					uint64_t response_bytes, const uint8_t trace_id[16],
					const uint8_t span_id[8])
{
	struct mxr_shard *sh;
	struct mxr_cell *c = cell_of(r, series, &sh);
	uint64_t w[MXR_NX];

	if (MXR_UNLIKELY(!c))
		return record_dropped(r);
	/* the exemplar first: a collection that sees the counts of this
	 * request most likely sees its exemplar too */
	if (ex_ids(trace_id, span_id, w)) {
		w[MXR_X_DUR] = duration_ms;
		w[MXR_X_TIME] = mxr_real_ns();
		if (!w[MXR_X_TIME])
			w[MXR_X_TIME] = 1; /* 0 marks an empty slot */
		mxr_exslot_put(&c->ex, w, sh->shared);
	}
	add_request(c, sh, duration_ms, request_bytes, response_bytes);
	return MIXD_OK;
}

static int tcp_add(struct mixd_reporter *r, uint32_t series, int k1, uint64_t d1, int k2,
		   uint64_t d2)
{
	struct mxr_shard *sh;
	struct mxr_cell *c = cell_of(r, series, &sh);

	if (MXR_UNLIKELY(!c))
		return record_dropped(r);
	if (MXR_LIKELY(!sh->shared)) {
		add_own(&c->v[k1], d1);
		if (d2)
			add_own(&c->v[k2], d2);
	} else {
		add_shared(&c->v[k1], d1);
		if (d2)
			add_shared(&c->v[k2], d2);
	}
	return MIXD_OK;
}

MIXD_API int mixd_record_tcp_open(struct mixd_reporter *r, uint32_t series)
{
	return tcp_add(r, series, MXR_V_TCP_OPEN, 1, MXR_V_TCP_OPEN, 0);
}

MIXD_API int mixd_record_tcp_close(struct mixd_reporter *r, uint32_t series)
{
	return tcp_add(r, series, MXR_V_TCP_CLOSE, 1, MXR_V_TCP_CLOSE, 0);
}

MIXD_API int mixd_record_tcp_bytes(struct mixd_reporter *r, uint32_t series, uint64_t sent,
				   uint64_t received)
{
	return tcp_add(r, series, MXR_V_TCP_SENT, sent, MXR_V_TCP_RECV, received);
}

/* The series of labels `l` for mixd_record() and mixd_record_traced():
 * through the calling thread's cache, binding on a miss. A failure is
 * counted as a dropped record. Inlined in both, as mixd_record() was. */
static inline __attribute__((always_inline)) int
cached_series(struct mixd_reporter *r, const struct mixd_series_labels *l, uint32_t *out)
{
	const char *s[MXR_NSTR];
	struct mxr_shard *sh;
	struct mxr_lcache_ent *e = NULL;
	uint32_t series = MIXD_SERIES_OVERFLOW;
	uint64_t h;
	int rc;

	if (!r || !l)
		return record_dropped(r);
	rc = label_strs(l, s);
	if (rc != MIXD_OK)
		return record_dropped(r);
	h = hash_labels((uint32_t)l->role, l->response_code, s);
	sh = shard_of(r);
	if (!sh->shared) {
		e = &sh->lcache[h & (MXR_LCACHE - 1)];
		/* the overflow series has no labels to compare: trust the
		 * 64-bit hash for it */
		if (e->used && e->hash == h &&
		    (e->series == MIXD_SERIES_OVERFLOW ||
		     series_equal(r, mxr_series_get(r, e->series), (uint32_t)l->role,
				  l->response_code, s))) {
			*out = e->series;
			return MIXD_OK;
		}
	}
	rc = bind(r, l, s, h, &series);
	if (rc != MIXD_OK) {
		atomic_fetch_add_explicit(&r->records_dropped, 1, memory_order_relaxed);
		return rc;
	}
	if (e) {
		e->hash = h;
		e->series = series;
		e->used = 1;
	}
	*out = series;
	return MIXD_OK;
}

MIXD_API int mixd_record(struct mixd_reporter *r, const struct mixd_series_labels *l,
			 uint64_t duration_ms, uint64_t request_bytes, uint64_t response_bytes)
{
	uint32_t series = MIXD_SERIES_OVERFLOW;
	int rc = cached_series(r, l, &series);

	if (rc != MIXD_OK)
		return rc;
	return mixd_record_request(r, series, duration_ms, request_bytes, response_bytes);
}

MIXD_API int mixd_record_traced(struct mixd_reporter *r, const struct mixd_series_labels *l,
				uint64_t duration_ms, uint64_t request_bytes,
				uint64_t response_bytes, const uint8_t trace_id[16],
				const uint8_t span_id[8])
{
	uint32_t series = MIXD_SERIES_OVERFLOW;
	int rc = cached_series(r, l, &series);

	if (rc != MIXD_OK)
		return rc;
	return mixd_record_request_traced(r, series, duration_ms, request_bytes, response_bytes,
					  trace_id, span_id);
}
