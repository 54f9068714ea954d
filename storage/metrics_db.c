/*
 * metrics_db.c - the LMDB side of the metrics store (see metrics.h and
 * storage/SCHEMA.md, "Metrics"): loading series at open, the puts of a
 * commit (labels of new series, cumulative counters, one rollup row per
 * series and 10 s bucket, reporter sequences), lookups of series dropped
 * from memory, the rollup window reads of the topology API, and the
 * maintenance steps: downsampling old rollup rows (kept per minute after
 * an hour, per 10 minutes after a day) and retention of rollups, series
 * and reporter sequences. The values' encodings are in metrics_val.c.
 */
#include <stdlib.h>
#include <string.h>

#include "../model/error.h"
#include "metrics_int.h"
#include "span_record.h"
#include "store_int.h"

#define ROLLUP_KEY_LEN 8u  /* series id (BE u32) | bucket (BE u32) */
#define HASH_KEY_LEN 12u   /* hash (BE u64) | series id (BE u32) */
#define THIN_STEP 16384u   /* rollup rows examined per maintenance step */
#define EXPIRE_STEP 4096u  /* counters rows examined per step */
#define TIER1_AGE 360u     /* buckets (1 h): older rows kept per minute */
#define TIER2_AGE 8640u    /* buckets (24 h): older rows per 10 minutes */
#define MAINT_EVERY_NS 1000000000ull

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* --- open and load --- */

static int load_series(struct mx_store *st, MDB_txn *txn, uint64_t now)
{
	struct mx_metrics *m = st->metrics;
	uint64_t before = m->idle_ns && now > m->idle_ns ? now - m->idle_ns : 0;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, m->dbi_counters, &cur);
	if (rc)
		return mx_store_mdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct mx_mvals vals;
		uint64_t last;
		uint8_t kind;
		if (k.mv_size != 4 ||
		    !mx_metrics_dec_counters(v.mv_data, v.mv_size, &kind, &last, &vals))
			continue; /* not ours to judge here; the key stays */
		bool overflow = ((const uint8_t *)v.mv_data)[1] & MX_COUNTERS_OVERFLOW;
		if (last < before || (!overflow && m->n_active >= m->max_series))
			continue;
		MDB_val sk = k, sv;
		if (mdb_get(txn, m->dbi_series, &sk, &sv) != MDB_SUCCESS)
			continue;
		uint64_t hash = mx_metrics_key_hash(sv.mv_data, sv.mv_size);
		uint32_t slot = mx_metrics_insert(m, hash, sv.mv_data,
						  (uint32_t)sv.mv_size,
						  get_be32(k.mv_data), overflow);
		if (slot == UINT32_MAX)
			continue;
		m->ser[slot].v = vals;
		mx_mvals_nz(&vals, m->ser[slot].nzm);
		m->ser[slot].last_ns = last;
		m->ser[slot].persisted = true;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? MX_OK : mx_store_mdb_err(rc);
}

int mx_metrics_db_open(struct mx_store *st, MDB_txn *txn, uint64_t now)
{
	struct mx_metrics *m = st->metrics;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc;
	if ((rc = mdb_dbi_open(txn, MX_DB_SERIES, MDB_CREATE, &m->dbi_series)) ||
	    (rc = mdb_dbi_open(txn, MX_DB_SERIES_HASH, MDB_CREATE, &m->dbi_hash)) ||
	    (rc = mdb_dbi_open(txn, MX_DB_COUNTERS, MDB_CREATE, &m->dbi_counters)) ||
	    (rc = mdb_dbi_open(txn, MX_DB_ROLLUPS, MDB_CREATE, &m->dbi_rollups)) ||
	    (rc = mdb_dbi_open(txn, MX_DB_REPORTERS, MDB_CREATE, &m->dbi_reporters)))
		return mx_store_mdb_err(rc);
	if ((rc = mdb_cursor_open(txn, m->dbi_series, &cur)))
		return mx_store_mdb_err(rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	mdb_cursor_close(cur);
	if (rc == MDB_SUCCESS && k.mv_size == 4)
		m->next_id = get_be32(k.mv_data) + 1;
	else if (rc != MDB_NOTFOUND && rc != MDB_SUCCESS)
		return mx_store_mdb_err(rc);
	return load_series(st, txn, now);
}

/* --- lookups and puts of the writer --- */

int mx_metrics_db_find(struct mx_store *st, MDB_txn *txn, uint64_t hash,
		       const uint8_t *key, uint32_t key_len, uint32_t *id,
		       struct mx_mvals *v, uint64_t *last_ns)
{
	struct mx_metrics *m = st->metrics;
	uint8_t hk[HASH_KEY_LEN];
	MDB_cursor *cur = NULL;
	MDB_val k = { HASH_KEY_LEN, hk }, val;
	int ret = MX_ENOTFOUND;
	mx_put_be64(hk, hash);
	memset(hk + 8, 0, 4);
	int rc = mdb_cursor_open(txn, m->dbi_hash, &cur);
	if (rc)
		return mx_store_mdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &val, MDB_SET_RANGE); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT)) {
		if (k.mv_size != HASH_KEY_LEN || mx_get_be64(k.mv_data) != hash)
			break;
		MDB_val sk = { 4, (uint8_t *)k.mv_data + 8 }, sv;
		if (mdb_get(txn, m->dbi_series, &sk, &sv) != MDB_SUCCESS ||
		    sv.mv_size != key_len || memcmp(sv.mv_data, key, key_len))
			continue;
		uint8_t kind;
		*last_ns = 0;
		if (mdb_get(txn, m->dbi_counters, &sk, &sv) != MDB_SUCCESS ||
		    !mx_metrics_dec_counters(sv.mv_data, sv.mv_size, &kind,
					     last_ns, v)) {
			memset(v, 0, sizeof(*v));
			*last_ns = 0;
		}
		*id = get_be32(sk.mv_data);
		ret = MX_OK;
		break;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		return mx_store_mdb_err(rc);
	return ret;
}

/* Puts a counters value. The puts of a flush come in increasing id
 * order and most series have a row already: when the row after the
 * cursor's is the one, it is overwritten there without a search. */
static int put_counters(struct mx_mput *c, MDB_val *k, MDB_val *val)
{
	MDB_val ck, cv;
	int rc;
	if (c->at_counter) {
		rc = mdb_cursor_get(c->counters, &ck, &cv, MDB_NEXT);
		if (rc == MDB_SUCCESS && ck.mv_size == k->mv_size &&
		    memcmp(ck.mv_data, k->mv_data, k->mv_size) == 0)
			goto current;
		if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
			return rc;
	}
	ck = *k;
	rc = mdb_cursor_get(c->counters, &ck, &cv, MDB_SET);
	if (rc == MDB_NOTFOUND) {
		rc = mdb_cursor_put(c->counters, k, val, 0);
		c->at_counter = rc == MDB_SUCCESS;
		return rc;
	}
	if (rc != MDB_SUCCESS)
		return rc;
current:
	rc = mdb_cursor_put(c->counters, k, val, MDB_CURRENT);
	c->at_counter = rc == MDB_SUCCESS;
	return rc;
}

int mx_metrics_db_put(struct mx_store *st, MDB_txn *txn,
		      struct mx_mput *c, const struct mx_mser *s,
		      const struct mx_mvals *v, const uint32_t nz[3],
		      bool with_key, uint64_t now)
{
	struct mx_metrics *m = st->metrics;
	uint8_t idk[4], rk[ROLLUP_KEY_LEN], cv[MX_COUNTERS_MAX], rv[MX_ROLLUP_MAX];
	uint8_t kind = s->lab->kind;
	MDB_val k = { 4, idk }, val;
	int rc;

	put_be32(idk, s->id);
	if (with_key) {
		uint8_t hk[HASH_KEY_LEN];
		val.mv_size = s->lab->key_len;
		val.mv_data = s->lab->key;
		if ((rc = mdb_put(txn, m->dbi_series, &k, &val, 0)))
			return mx_store_mdb_err(rc);
		mx_put_be64(hk, s->hash);
		put_be32(hk + 8, s->id);
		MDB_val hkv = { HASH_KEY_LEN, hk }, empty = { 0, hk };
		if ((rc = mdb_put(txn, m->dbi_hash, &hkv, &empty, 0)))
			return mx_store_mdb_err(rc);
	}
	val.mv_size = mx_metrics_enc_counters(kind, now, v, nz, cv);
	if (s->overflow)
		cv[1] |= MX_COUNTERS_OVERFLOW;
	val.mv_data = cv;
	if ((rc = put_counters(c, &k, &val)))
		return mx_store_mdb_err(rc);
	/* the cursor stays where the last put left it: for keys in
	 * increasing order LMDB finds the next one on the same leaf */
	/* the row of the bucket the series leaves: its committed values */
	uint32_t last_b = (uint32_t)(s->last_ns / MX_METRICS_BUCKET_NS);
	if (!s->last_ns || last_b == (uint32_t)(now / MX_METRICS_BUCKET_NS))
		return MX_OK;
	memcpy(rk, idk, 4);
	put_be32(rk + 4, last_b);
	MDB_val rkv = { ROLLUP_KEY_LEN, rk };
	val.mv_size = mx_metrics_enc_rollup(kind, &s->v, rv);
	val.mv_data = rv;
	rc = mdb_cursor_put(c->rollups, &rkv, &val, 0);
	return rc ? mx_store_mdb_err(rc) : MX_OK;
}

int mx_metrics_db_put_begin(struct mx_store *st, MDB_txn *txn,
			    struct mx_mput *c)
{
	struct mx_metrics *m = st->metrics;
	int rc;
	c->counters = c->rollups = NULL;
	c->at_counter = false;
	if ((rc = mdb_cursor_open(txn, m->dbi_counters, &c->counters)) ||
	    (rc = mdb_cursor_open(txn, m->dbi_rollups, &c->rollups))) {
		mx_metrics_db_put_end(c);
		return mx_store_mdb_err(rc);
	}
	return MX_OK;
}

void mx_metrics_db_put_end(struct mx_mput *c)
{
	if (c->counters)
		mdb_cursor_close(c->counters);
	if (c->rollups)
		mdb_cursor_close(c->rollups);
	c->counters = c->rollups = NULL;
}

int mx_metrics_db_seq(struct mx_store *st, MDB_txn *txn,
		      const uint8_t instance[16], uint64_t *seq)
{
	MDB_val k = { 16, (void *)(uintptr_t)instance }, v;
	int rc = mdb_get(txn, st->metrics->dbi_reporters, &k, &v);
	*seq = 0;
	if (rc == MDB_NOTFOUND)
		return MX_OK;
	if (rc)
		return mx_store_mdb_err(rc);
	if (v.mv_size != 16)
		return MX_ESTORE;
	*seq = mx_get_le64(v.mv_data);
	return MX_OK;
}

int mx_metrics_db_set_seq(struct mx_store *st, MDB_txn *txn,
			  const uint8_t instance[16], uint64_t seq,
			  uint64_t now)
{
	uint8_t b[16];
	mx_put_le64(b, seq);
	mx_put_le64(b + 8, now);
	MDB_val k = { 16, (void *)(uintptr_t)instance }, v = { 16, b };
	int rc = mdb_put(txn, st->metrics->dbi_reporters, &k, &v, 0);
	return rc ? mx_store_mdb_err(rc) : MX_OK;
}

/* --- maintenance --- */

static int scratch_reserve(struct mx_metrics *m, size_t n)
{
	if (n <= m->scratch_cap)
		return MX_OK;
	uint8_t *p = realloc(m->scratch, n);
	if (!p)
		return MX_ENOMEM;
	m->scratch = p;
	m->scratch_cap = n;
	return MX_OK;
}

/* Whether the rollup row of bucket `b` can go, given the next row of the
 * same series (bucket `nb`, or none when `last`). */
static bool row_goes(uint32_t b, uint32_t nb, bool last, uint32_t now_b,
		     uint32_t ret_b)
{
	if (b < ret_b)
		return true;
	if (last || b >= now_b || now_b - b <= TIER1_AGE)
		return false;
	uint32_t g = now_b - b > TIER2_AGE ? 60u : 6u;
	return b / g == nb / g;
}

/* Downsampling and retention of rollup rows, THIN_STEP rows per step,
 * resuming where the last step stopped. */
static int thin_rollups(struct mx_store *st, MDB_txn *txn, uint64_t now,
			uint64_t *thinned, uint64_t *expired)
{
	struct mx_metrics *m = st->metrics;
	uint32_t now_b = (uint32_t)(now / MX_METRICS_BUCKET_NS);
	uint32_t ret_b = m->retention_ns && now > m->retention_ns
		? (uint32_t)((now - m->retention_ns) / MX_METRICS_BUCKET_NS) : 0;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	uint8_t prev[ROLLUP_KEY_LEN];
	bool have_prev = false;
	size_t n_del = 0;
	int rc;

	if (scratch_reserve(m, (size_t)THIN_STEP * ROLLUP_KEY_LEN) != MX_OK)
		return MX_ENOMEM;
	if ((rc = mdb_cursor_open(txn, m->dbi_rollups, &cur)))
		return mx_store_mdb_err(rc);
	if (m->thin_pos_set) {
		k.mv_size = ROLLUP_KEY_LEN;
		k.mv_data = m->thin_pos;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	} else {
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	}
	for (uint32_t seen = 0; rc == MDB_SUCCESS && seen < THIN_STEP; seen++) {
		if (k.mv_size != ROLLUP_KEY_LEN) {
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
			continue;
		}
		const uint8_t *key = k.mv_data;
		if (have_prev) {
			bool same = memcmp(prev, key, 4) == 0;
			if (row_goes(get_be32(prev + 4), get_be32(key + 4), !same,
				     now_b, ret_b)) {
				memcpy(m->scratch + n_del * ROLLUP_KEY_LEN, prev,
				       ROLLUP_KEY_LEN);
				n_del++;
				if (get_be32(prev + 4) < ret_b)
					(*expired)++;
				else
					(*thinned)++;
			}
		}
		memcpy(prev, key, ROLLUP_KEY_LEN);
		have_prev = true;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc == MDB_NOTFOUND) {
		/* the end: the last row is the last of its series */
		if (have_prev && get_be32(prev + 4) < ret_b) {
			memcpy(m->scratch + n_del * ROLLUP_KEY_LEN, prev,
			       ROLLUP_KEY_LEN);
			n_del++;
			(*expired)++;
		}
		m->thin_pos_set = false;
		rc = MDB_SUCCESS;
	} else if (rc == MDB_SUCCESS) {
		memcpy(m->thin_pos, prev, ROLLUP_KEY_LEN); /* judged next step */
		m->thin_pos_set = true;
	}
	mdb_cursor_close(cur);
	if (rc)
		return mx_store_mdb_err(rc);
	for (size_t i = 0; i < n_del; i++) {
		MDB_val dk = { ROLLUP_KEY_LEN, m->scratch + i * ROLLUP_KEY_LEN };
		rc = mdb_del(txn, m->dbi_rollups, &dk, NULL);
		if (rc && rc != MDB_NOTFOUND)
			return mx_store_mdb_err(rc);
	}
	return MX_OK;
}

/* Deletes the series (key, hash entry, counters) not updated within the
 * retention, EXPIRE_STEP counters rows per step; such series are first
 * dropped from memory (they are there when the idle timeout is off or
 * longer than the retention). */
static int expire_series(struct mx_store *st, MDB_txn *txn, uint64_t now,
			 uint64_t *expired)
{
	struct mx_metrics *m = st->metrics;
	if (!m->retention_ns || now <= m->retention_ns)
		return MX_OK;
	uint64_t before = now - m->retention_ns;
	mx_metrics_drop_before(m, before);
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	uint8_t start[4];
	size_t n_del = 0;
	int rc;
	if (scratch_reserve(m, (size_t)EXPIRE_STEP * 4) != MX_OK)
		return MX_ENOMEM;
	if ((rc = mdb_cursor_open(txn, m->dbi_counters, &cur)))
		return mx_store_mdb_err(rc);
	put_be32(start, m->expire_pos);
	k.mv_size = 4;
	k.mv_data = start;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	for (uint32_t seen = 0; rc == MDB_SUCCESS && seen < EXPIRE_STEP; seen++) {
		struct mx_mvals vals;
		uint64_t last;
		uint8_t kind;
		if (k.mv_size == 4 &&
		    mx_metrics_dec_counters(v.mv_data, v.mv_size, &kind, &last, &vals) &&
		    last < before) {
			memcpy(m->scratch + n_del * 4, k.mv_data, 4);
			n_del++;
		}
		if (k.mv_size == 4)
			m->expire_pos = get_be32(k.mv_data) + 1;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc == MDB_NOTFOUND) {
		m->expire_pos = 0;
		rc = MDB_SUCCESS;
	}
	mdb_cursor_close(cur);
	if (rc)
		return mx_store_mdb_err(rc);
	for (size_t i = 0; i < n_del; i++) {
		MDB_val ik = { 4, m->scratch + i * 4 }, sv;
		if (mdb_get(txn, m->dbi_series, &ik, &sv) == MDB_SUCCESS) {
			uint8_t hk[HASH_KEY_LEN];
			mx_put_be64(hk, mx_metrics_key_hash(sv.mv_data, sv.mv_size));
			memcpy(hk + 8, ik.mv_data, 4);
			MDB_val hkv = { HASH_KEY_LEN, hk };
			if ((rc = mdb_del(txn, m->dbi_hash, &hkv, NULL)) && rc != MDB_NOTFOUND)
				return mx_store_mdb_err(rc);
			if ((rc = mdb_del(txn, m->dbi_series, &ik, NULL)) && rc != MDB_NOTFOUND)
				return mx_store_mdb_err(rc);
		}
		if ((rc = mdb_del(txn, m->dbi_counters, &ik, NULL)) && rc != MDB_NOTFOUND)
			return mx_store_mdb_err(rc);
		(*expired)++;
	}
	return MX_OK;
}

/* Deletes reporter sequences not updated within the retention (the whole
 * table per step: one entry per reporter instance). */
static int expire_reporters(struct mx_store *st, MDB_txn *txn, uint64_t now,
			    bool *changed)
{
	struct mx_metrics *m = st->metrics;
	if (!m->retention_ns || now <= m->retention_ns)
		return MX_OK;
	uint64_t before = now - m->retention_ns;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, m->dbi_reporters, &cur);
	if (rc)
		return mx_store_mdb_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (v.mv_size == 16 && mx_get_le64((const uint8_t *)v.mv_data + 8) < before) {
			if ((rc = mdb_cursor_del(cur, 0)))
				break;
			*changed = true;
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? MX_OK : mx_store_mdb_err(rc);
}

int mx_metrics_db_maintain(struct mx_store *st, MDB_txn *txn, uint64_t now,
			   bool *changed)
{
	struct mx_metrics *m = st->metrics;
	uint64_t thinned = 0, rexpired = 0, sexpired = 0;
	*changed = false;
	if (!m || (now >= m->last_maint_ns && now - m->last_maint_ns < MAINT_EVERY_NS))
		return MX_OK;
	m->last_maint_ns = now;
	mx_metrics_drop_idle(m, now);
	int rc = thin_rollups(st, txn, now, &thinned, &rexpired);
	if (rc == MX_OK)
		rc = expire_series(st, txn, now, &sexpired);
	if (rc == MX_OK && (now / MAINT_EVERY_NS) % 60 == 0)
		rc = expire_reporters(st, txn, now, changed);
	if (rc != MX_OK)
		return rc;
	*changed = *changed || thinned || rexpired || sexpired;
	/* counted now; an aborted transaction repeats the work next step */
	atomic_fetch_add(&m->st_thinned, thinned);
	atomic_fetch_add(&m->st_rexpired, rexpired);
	atomic_fetch_add(&m->st_expired, sexpired);
	return MX_OK;
}

/* --- window reads --- */

/* The rollup values of series `id` as of the end of the last bucket
 * before bucket `b`: its last rollup row before `b`, or its counters
 * (values `cv`, last update `c_last`) when their bucket is before `b` and
 * not before that row's (the row of a series' latest bucket is its
 * counters row). */
static int value_at(MDB_cursor *cur, uint32_t id, uint8_t kind, uint32_t b,
		    const struct mx_mvals *cv, uint64_t c_last,
		    struct mx_rollup_vals *o)
{
	uint8_t kb[ROLLUP_KEY_LEN];
	MDB_val k = { ROLLUP_KEY_LEN, kb }, v;
	uint32_t cb = (uint32_t)(c_last / MX_METRICS_BUCKET_NS);
	bool counters = cb < b;
	memset(o, 0, sizeof(*o));
	put_be32(kb, id);
	put_be32(kb + 4, b);
	int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == MDB_SUCCESS)
		rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	else if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc && rc != MDB_NOTFOUND)
		return mx_store_mdb_err(rc);
	if (rc == MDB_SUCCESS && k.mv_size == ROLLUP_KEY_LEN &&
	    get_be32(k.mv_data) == id &&
	    !(counters && cb >= get_be32((const uint8_t *)k.mv_data + 4))) {
		mx_metrics_dec_rollup(kind, v.mv_data, v.mv_size, o);
		return MX_OK;
	}
	if (counters)
		mx_metrics_rollup_of(kind, cv, o);
	return MX_OK;
}

int mx_store_rollup_window(struct mx_store *st, uint64_t t0_ns,
			   uint64_t t1_ns,
			   int (*fn)(void *ctx, const struct mx_rollup_series *s),
			   void *ctx)
{
	struct mx_metrics *m = st ? st->metrics : NULL;
	struct mx_rollup_series *rs = NULL;
	MDB_txn *txn = NULL;
	MDB_cursor *cc = NULL, *rc_cur = NULL;
	MDB_val k, v;
	int ret = MX_OK, rc;
	if (!m || t1_ns < t0_ns)
		return MX_OK;
	uint32_t b0 = (uint32_t)(t0_ns / MX_METRICS_BUCKET_NS);
	uint32_t b1 = (uint32_t)(t1_ns / MX_METRICS_BUCKET_NS);
	if (!(rs = malloc(sizeof(*rs))))
		return MX_ENOMEM;
	if ((ret = mx_store_read_begin(st, &txn)) != MX_OK)
		goto out;
	if ((rc = mdb_cursor_open(txn, m->dbi_counters, &cc)) ||
	    (rc = mdb_cursor_open(txn, m->dbi_rollups, &rc_cur))) {
		ret = mx_store_mdb_err(rc);
		goto out;
	}
	for (rc = mdb_cursor_get(cc, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(cc, &k, &v, MDB_NEXT)) {
		struct mx_mvals vals;
		uint64_t last;
		uint8_t kind;
		if (k.mv_size != 4 ||
		    !mx_metrics_dec_counters(v.mv_data, v.mv_size, &kind, &last, &vals) ||
		    last / MX_METRICS_BUCKET_NS < b0)
			continue; /* unchanged within the window */
		MDB_val sv;
		if (mdb_get(txn, m->dbi_series, &k, &sv) != MDB_SUCCESS ||
		    !mx_metrics_parse_key(sv.mv_data, (uint32_t)sv.mv_size,
					  &rs->kind, rs->labels))
			continue;
		rs->id = get_be32(k.mv_data);
		if ((ret = value_at(rc_cur, rs->id, kind, b0, &vals, last,
				    &rs->at_start)) != MX_OK ||
		    (ret = value_at(rc_cur, rs->id, kind, b1, &vals, last,
				    &rs->at_end)) != MX_OK)
			goto out;
		if ((ret = fn(ctx, rs)) != 0)
			goto out;
	}
	if (rc != MDB_NOTFOUND)
		ret = mx_store_mdb_err(rc);
out:
	if (cc)
		mdb_cursor_close(cc);
	if (rc_cur)
		mdb_cursor_close(rc_cur);
	mx_store_read_end(st, txn);
	free(rs);
	return ret;
}
