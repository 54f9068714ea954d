/*
 * store_writer.c - the one LMDB writer thread: group commit of queued items.
 *
 * The writer sleeps until an item is queued, then opens a write transaction
 * and keeps moving items from the queue into it - resources (skipped when
 * the cache knows them), spans under MDB_APPEND with consecutive arrival
 * sequence numbers, one trace_idx entry per (trace, batch), the idx_time
 * and idx_svc_time entries whose values the submitter built, the ids of
 * the services in those keys (from a bounded cache, else the `strings`
 * database, else a new id), and name-list keys not put within the last
 * minute - until the group holds group_max_batches items, GROUP_MAX_BYTES
 * bytes, group_max_ms have passed or the queue is empty. It never waits for
 * more work while holding a transaction: batches that arrive during a commit
 * form the next group, which is what makes commits larger under load. After
 * the commit it calls every item's callback with the outcome and frees the
 * items. The loop allocates nothing per span.
 *
 * Each item also appends its index keys to idx_log, and each group's
 * transaction ends with a maintenance pass (retention, eviction above the
 * high-water mark; store_sweep.c). A group that finds the map full is put
 * again after the map grew, readers were waited out or the oldest data was
 * evicted; only then are its batches answered MX_EFULL. With no batch
 * queued the writer still runs maintenance passes: once a second while
 * retention is on, back to back while a pass stopped at its limit, and
 * when mx_store_sweep() asks.
 *
 * Service graph hooks (sgraph_int.h): every transaction also writes the
 * pending dependency counts (mx_sg_flush); after a group's commit its
 * items' span facts go to the pairing table (mx_sg_after_commit), skipping
 * reports applied before (put_item sets sg_skip); the idle tick expires
 * lone halves (mx_sg_idle); the last counts are written on stop.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../model/error.h"
#include "metrics_int.h"
#include "sgraph_int.h"
#include "span_record.h"
#include "store_int.h"

#define GROUP_MAX_BYTES (64ull << 20) /* bound on dirty pages per txn */
#define RES_PROBES 16                  /* hash collisions tolerated */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void mx_store_intern_clear(struct mx_store *st)
{
	if (st->intern_tab)
		memset(st->intern_tab, 0,
		       MX_STORE_INTERN_CAP * sizeof(*st->intern_tab));
	st->intern_pool_len = 0;
	st->intern_used = 0;
}

/* Finds or assigns the id of a name: the cache, else `strings`, else the
 * next id (put in `strings` and appended to `string_ids`). */
static int intern(struct mx_store *st, MDB_txn *txn, const char *name,
		  uint32_t len, uint64_t hash, uint32_t *id)
{
	uint32_t mask = MX_STORE_INTERN_CAP - 1;
	uint32_t i = (uint32_t)(hash ^ (hash >> 32)) & mask;
	MDB_val k = { len, (void *)(uintptr_t)name }, v;
	uint8_t b[4];
	int rc;

	if (len == 0) {
		*id = 0;
		return MX_OK;
	}
	for (; st->intern_tab[i].id; i = (i + 1) & mask) {
		const struct mx_store_intern_ent *e = &st->intern_tab[i];
		if (e->hash == hash && e->len == len &&
		    memcmp(st->intern_pool + e->off, name, len) == 0) {
			*id = e->id;
			return MX_OK;
		}
	}
	rc = mdb_get(txn, st->dbi_str, &k, &v);
	if (rc == MDB_SUCCESS) {
		if (v.mv_size != 4)
			return MX_ESTORE;
		*id = mx_get_le32(v.mv_data);
	} else if (rc == MDB_NOTFOUND) {
		if (st->next_string_id == UINT32_MAX)
			return MX_EFULL;
		*id = st->next_string_id;
		mx_put_le32(b, *id);
		v.mv_size = 4;
		v.mv_data = b;
		if ((rc = mdb_put(txn, st->dbi_str, &k, &v, MDB_NOOVERWRITE)))
			return mx_store_mdb_err(rc);
		uint8_t kb[4] = { (uint8_t)(*id >> 24), (uint8_t)(*id >> 16),
				  (uint8_t)(*id >> 8), (uint8_t)*id };
		MDB_val ik = { 4, kb }, iv = { len, (void *)(uintptr_t)name };
		if ((rc = mdb_put(txn, st->dbi_str_ids, &ik, &iv, MDB_APPEND)))
			return mx_store_mdb_err(rc);
		st->next_string_id++;
	} else {
		return mx_store_mdb_err(rc);
	}
	/* remember it; start over when the table or the pool fills */
	if (st->intern_used >= MX_STORE_INTERN_CAP / 2 ||
	    st->intern_pool_len + len > MX_STORE_INTERN_POOL) {
		if (len > MX_STORE_INTERN_POOL)
			return MX_OK;
		mx_store_intern_clear(st);
		i = (uint32_t)(hash ^ (hash >> 32)) & mask;
	}
	memcpy(st->intern_pool + st->intern_pool_len, name, len);
	st->intern_tab[i] = (struct mx_store_intern_ent){
		hash, *id, len, st->intern_pool_len
	};
	st->intern_pool_len += len;
	st->intern_used++;
	return MX_OK;
}

void mx_store_svc_set_clear(struct mx_store *st)
{
	for (uint32_t i = 0; i < MX_STORE_SVC_CAP; i++) {
		free(st->svc_set[i].name);
		memset(&st->svc_set[i], 0, sizeof(st->svc_set[i]));
	}
	st->svc_used = 0;
}

/* Puts one resource record, probing past a hash collision; patches the
 * item's span records when the record lands under another key. */
static int put_resource(struct mx_store *st, MDB_txn *txn,
			struct mx_store_item *it, uint32_t ri)
{
	struct mx_store_res_ref *r = &it->res[ri];
	struct mx_store_res_cache_ent *ce =
		&st->res_cache[r->key & (MX_STORE_RES_CACHE - 1)];
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	uint64_t key = r->key;
	int rc = MDB_KEYEXIST;

	if (ce->key == r->key && ce->check == r->check && ce->len == r->len)
		return MX_OK;
	for (int probe = 0; probe < RES_PROBES; probe++, key++) {
		mx_put_be64(kb, key);
		v.mv_size = r->len;
		v.mv_data = it->data + r->off;
		rc = mdb_put(txn, st->dbi_res, &k, &v, MDB_NOOVERWRITE);
		if (rc == MDB_KEYEXIST) {
			if (v.mv_size == r->len &&
			    memcmp(v.mv_data, it->data + r->off, r->len) == 0) {
				rc = MDB_SUCCESS;
				break;
			}
			continue;
		}
		break;
	}
	if (rc)
		return rc == MDB_KEYEXIST ? MX_ESTORE : mx_store_mdb_err(rc);
	if (key == r->key) {
		ce->key = r->key;
		ce->check = r->check;
		ce->len = r->len;
		return MX_OK;
	}
	for (uint32_t i = 0; i < it->n_spans; i++)
		if (it->spans[i].res == ri)
			mx_put_be64(it->data + it->spans[i].off + 9, key);
	return MX_OK;
}

/* True when the name-list key needs a put; records it in the set. */
static bool svc_needs_put(struct mx_store *st, const char *name, uint32_t len,
			  uint8_t list, uint64_t hash, uint64_t now)
{
	uint32_t mask = MX_STORE_SVC_CAP - 1;
	uint32_t i = (uint32_t)hash & mask;
	for (; st->svc_set[i].name; i = (i + 1) & mask) {
		struct mx_store_svc_ent *e = &st->svc_set[i];
		if (e->hash == hash && e->len == len && e->list == list &&
		    memcmp(e->name, name, len) == 0) {
			if (now - e->last_put_ns < MX_STORE_SVC_REFRESH_NS)
				return false;
			e->last_put_ns = now;
			return true;
		}
	}
	if (st->svc_used >= MX_STORE_SVC_CAP / 2) {
		mx_store_svc_set_clear(st);
		i = (uint32_t)hash & mask;
	}
	char *copy = malloc(len ? len : 1);
	if (!copy)
		return true; /* not remembered: put every time */
	memcpy(copy, name, len);
	st->svc_set[i] = (struct mx_store_svc_ent){ hash, now, copy, len, list };
	st->svc_used++;
	return true;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The trace_idx entry of one segment. */
static int put_segment(struct mx_store *st, MDB_txn *txn,
		       const struct mx_store_seg *g, uint64_t seq)
{
	uint8_t kb[MX_IDX_KEY_LEN], vb[MX_IDX_VAL_LEN];
	MDB_val k = { MX_IDX_KEY_LEN, kb }, v = { MX_IDX_VAL_LEN, vb };
	int rc;

	memcpy(kb, g->trace_id + 8, 8);
	memcpy(kb + 8, g->trace_id, 8);
	mx_put_be64(kb + 16, seq);
	mx_put_le32(vb, g->count);
	mx_put_le64(vb + 4, g->stat.min_start);
	mx_put_le64(vb + 12, g->max_end);
	vb[20] = g->flags;
	if ((rc = mdb_put(txn, st->dbi_idx, &k, &v, 0)))
		return mx_store_mdb_err(rc);
	return MX_OK;
}

/* One search index entry; its value was built by the submitter. Its key
 * is also appended to `log` (1 byte index, 1 byte length, key) for the
 * sweep's idx_log. */
static int put_ient(struct mx_store *st, MDB_txn *txn,
		    const struct mx_store_item *it, const struct mx_store_ient *e,
		    uint64_t seq0, uint8_t *log)
{
	uint8_t kb[MX_SIDX_KEY_LEN];
	uint8_t *p = kb;
	MDB_dbi dbi = st->dbi_itime;
	if (e->kind != MX_IK_TIME) {
		put_be32(p, it->name_ids[e->svc]);
		p += 4;
		dbi = st->dbi_isvc;
	}
	mx_put_be64(p, e->bucket);
	mx_put_be64(p + 8, seq0 + e->seq_off);
	MDB_val k = { (size_t)(p + 16 - kb), kb };
	MDB_val v = { e->val_len, it->data + e->val_off };
	log[0] = e->kind;
	log[1] = (uint8_t)k.mv_size;
	memcpy(log + 2, kb, k.mv_size);
	int rc = mdb_put(txn, dbi, &k, &v, 0);
	return rc ? mx_store_mdb_err(rc) : MX_OK;
}

#define LOG_ENT_MAX (2u + MX_SIDX_KEY_LEN)

/* Room for the idx_log keys of an item. */
static int log_reserve(struct mx_store *st, uint32_t n_ients)
{
	size_t need = (size_t)n_ients * LOG_ENT_MAX;
	if (need <= st->log_cap)
		return MX_OK;
	uint8_t *p = realloc(st->log_buf, need);
	if (!p)
		return MX_ENOMEM;
	st->log_buf = p;
	st->log_cap = need;
	return MX_OK;
}

static int put_item(struct mx_store *st, MDB_txn *txn,
		    struct mx_store_item *it, uint64_t now)
{
	uint8_t kb[8];
	MDB_val k, v;
	int rc;

	if (it->mitem) {
		bool dup;
		rc = mx_metrics_apply(st, txn, it->mitem, now, &dup);
		it->sg_skip = dup; /* nor are its spans fed to the service graph */
		if (rc != MX_OK || dup)
			return rc; /* a report applied before: its spans too */
	}

	for (uint32_t i = 0; i < it->n_res; i++)
		if ((rc = put_resource(st, txn, it, i)) != MX_OK)
			return rc;

	uint64_t seq = st->next_seq;
	k.mv_data = kb;
	k.mv_size = 8;
	for (uint32_t i = 0; i < it->n_spans; i++) {
		mx_put_be64(kb, seq++);
		v.mv_size = it->spans[i].len;
		v.mv_data = it->data + it->spans[i].off;
		if ((rc = mdb_put(txn, st->dbi_spans, &k, &v, MDB_APPEND)))
			return mx_store_mdb_err(rc);
	}

	for (uint32_t i = 0; i < it->n_names; i++) {
		const struct mx_store_name_ref *nr = &it->names[i];
		if (!nr->intern)
			continue;
		rc = intern(st, txn, (const char *)it->data + nr->off, nr->len,
			    nr->hash, &it->name_ids[i]);
		if (rc != MX_OK)
			return rc;
	}

	for (uint32_t i = 0; i < it->n_segs; i++) {
		rc = put_segment(st, txn, &it->segs[i],
				 st->next_seq + it->segs[i].seq_off);
		if (rc != MX_OK)
			return rc;
	}
	if (it->n_ients) {
		if ((rc = log_reserve(st, it->n_ients)) != MX_OK)
			return rc;
		uint8_t *log = st->log_buf;
		for (uint32_t i = 0; i < it->n_ients; i++) {
			rc = put_ient(st, txn, it, &it->ients[i], st->next_seq, log);
			if (rc != MX_OK)
				return rc;
			log += 2u + log[1];
		}
		if (it->n_spans)
			rc = mx_store_log_put(st, txn, st->next_seq, st->log_buf,
					      (size_t)(log - st->log_buf));
		if (rc != MX_OK)
			return rc;
	}
	st->next_seq = seq;

	uint8_t tb[8];
	mx_put_le64(tb, now);
	for (uint32_t i = 0; i < it->n_keys; i++) {
		const struct mx_store_key_ref *r = &it->keys[i];
		const char *key = (const char *)it->data + r->off;
		if (r->list >= MX_LIST_N ||
		    !svc_needs_put(st, key, r->len, r->list, r->hash, now))
			continue;
		k.mv_size = r->len;
		k.mv_data = (void *)(uintptr_t)key;
		v.mv_size = 8;
		v.mv_data = tb;
		if ((rc = mdb_put(txn, st->dbi_list[r->list], &k, &v, 0)))
			return mx_store_mdb_err(rc);
	}
	return MX_OK;
}

static struct mx_store_item *pop(struct mx_store *st)
{
	pthread_mutex_lock(&st->mu);
	struct mx_store_item *it = st->head;
	if (it) {
		st->head = it->next;
		if (!st->head)
			st->tail = NULL;
		it->next = NULL;
	}
	pthread_mutex_unlock(&st->mu);
	return it;
}

/* Forgets what the caches learnt in a transaction that was aborted. */
static void rollback(struct mx_store *st, uint64_t seq0, uint32_t str0)
{
	mx_metrics_txn_end(st->metrics, false, 0);
	st->next_seq = seq0;
	st->next_string_id = str0;
	memset(st->res_cache, 0, MX_STORE_RES_CACHE * sizeof(*st->res_cache));
	mx_store_svc_set_clear(st);
	mx_store_intern_clear(st);
	st->sw_trace_valid = false;
}

static void hist_add(atomic_uint_fast64_t *h, const uint64_t *bounds, int nb,
		     uint64_t v)
{
	int i = 0;
	while (i < nb - 1 && v > bounds[i])
		i++;
	atomic_fetch_add(&h[i], 1);
}

/* After a commit: publishes the sweep's outcome and the sizes, and grows
 * the map ahead of need (no transaction is open here). */
static void after_commit(struct mx_store *st, const struct mx_store_sweep_res *sr)
{
	MDB_envinfo info;
	st->used_pages = sr->used_pages;
	atomic_store(&st->st_used_bytes, sr->used_pages * st->page_size);
	atomic_store(&st->st_oldest_ns, sr->oldest_ns);
	if (sr->expired || sr->evicted) {
		atomic_fetch_add(&st->st_expired, sr->expired);
		atomic_fetch_add(&st->st_evicted, sr->evicted);
		atomic_fetch_add(&st->st_sweeps, 1);
	}
	st->sw_more = sr->more;
	if (mdb_env_info(st->env, &info) == MDB_SUCCESS) {
		uint64_t file = ((uint64_t)info.me_last_pgno + 1) * st->page_size;
		atomic_store(&st->st_file_bytes, file);
		/* three quarters of the map written: double it now rather
		 * than fail a group later */
		if (file / 3 >= st->map_size / 4)
			mx_store_grow(st);
	}
}

/* Deletes the oldest spans in a transaction of its own (the map is full
 * and at max_size). Returns MX_OK when something was deleted. */
static int evict_txn(struct mx_store *st, uint64_t limit)
{
	struct mx_store_sweep_res sr;
	MDB_txn *txn = NULL;
	uint64_t cutoff = 0, now = mx_store_now(st);
	bool more;
	int rc;
	memset(&sr, 0, sizeof(sr));
	if (st->cfg.retention_ns && now > st->cfg.retention_ns)
		cutoff = now - st->cfg.retention_ns;
	if (mdb_txn_begin(st->env, NULL, 0, &txn))
		return MX_ESTORE;
	rc = mx_store_sweep_step(st, txn, UINT64_MAX, cutoff, UINT64_MAX, limit,
				 &sr.expired, &sr.evicted, &more);
	if (rc == MX_OK && !sr.expired && !sr.evicted)
		rc = MX_EFULL; /* nothing left to evict */
	if (rc != MX_OK) {
		mdb_txn_abort(txn);
		st->sw_trace_valid = false;
		return rc;
	}
	sr.used_pages = mx_store_used_pages(st, txn);
	sr.oldest_ns = mx_store_oldest_arrival(st, txn);
	sr.more = true; /* see whether the next pass finds more to do */
	if ((rc = mdb_txn_commit(txn))) {
		st->sw_trace_valid = false;
		return mx_store_mdb_err(rc);
	}
	after_commit(st, &sr);
	return MX_OK;
}

/* Waits until every read transaction open in this process has ended
 * (new ones wait meanwhile): pages they kept from reuse become free. */
static void drain_readers(struct mx_store *st)
{
	if (pthread_rwlock_wrlock(&st->gate) == 0)
		pthread_rwlock_unlock(&st->gate);
}

/* Makes room after a group found the map full (`attempt` counts from 0):
 * doubles the map while under max_size. At max_size, a full map with few
 * pages in use means read transactions keep freed pages from reuse: the
 * first attempt only waits for them to end. Otherwise the oldest data is
 * evicted in two transactions (LMDB reuses the pages a transaction freed
 * only two transactions later), then readers are waited for. */
static int make_room(struct mx_store *st, uint64_t spans, int attempt)
{
	if (mx_store_grow(st) == MX_OK)
		return MX_OK;
	uint64_t high = st->cfg.max_size / 100 * 90 / st->page_size;
	if (attempt == 0 && st->used_pages <= high) {
		drain_readers(st);
		return MX_OK;
	}
	uint64_t half = spans < 32 ? 32 : spans;
	int rc = evict_txn(st, half);
	if (rc == MX_EFULL)
		rc = evict_txn(st, 16); /* deleting needs pages too */
	if (rc == MX_OK && evict_txn(st, half) == MX_EFULL)
		evict_txn(st, 16);
	drain_readers(st);
	return rc;
}

/* Puts the items of a group again in a new transaction and commits. */
static int replay(struct mx_store *st, struct mx_store_item **group,
		  uint32_t n, uint64_t spans, uint64_t now,
		  struct mx_store_sweep_res *sr)
{
	uint64_t seq0 = st->next_seq;
	MDB_txn *txn = NULL;
	int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	int status = rc ? mx_store_mdb_err(rc) : MX_OK;
	for (uint32_t i = 0; i < n && status == MX_OK; i++)
		status = put_item(st, txn, group[i], now);
	if (status == MX_OK)
		status = mx_metrics_flush(st, txn, now);
	if (status == MX_OK) {
		bool sgc; /* the service graph's pending counts (sgraph_int.h) */
		status = mx_sg_flush(st, txn, now, &sgc);
	}
	if (status == MX_OK)
		status = mx_store_maintain(st, txn, spans, seq0, sr);
	if (status == MX_OK) {
		rc = mdb_txn_commit(txn);
		status = rc ? mx_store_mdb_err(rc) : MX_OK;
	} else if (txn) {
		mdb_txn_abort(txn);
	}
	return status;
}

#define FULL_RETRIES 8

/* One transaction: collects, runs a maintenance pass, commits, answers.
 * A group that finds the map full is put again after the map grew or the
 * oldest data was evicted; its batches are answered MX_EFULL only when
 * that fails FULL_RETRIES times. */
static void run_group(struct mx_store *st, struct mx_store_item **group,
		      uint32_t max)
{
	static const uint64_t commit_bounds[] = MX_STORE_COMMIT_BOUNDS_US;
	static const uint64_t group_bounds[] = MX_STORE_GROUP_BOUNDS;
	struct mx_store_sweep_res sr;
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
	uint64_t now = mx_store_now(st);
	uint64_t limit_ns = (uint64_t)st->cfg.group_max_ms * 1000000ull;
	uint64_t seq0 = st->next_seq, bytes = 0, spans = 0;
	uint32_t str0 = st->next_string_id;
	uint32_t n = 0;
	MDB_txn *txn = NULL;
	int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	int status = rc ? mx_store_mdb_err(rc) : MX_OK;

	memset(&sr, 0, sizeof(sr));
	while (n < max) {
		struct mx_store_item *it = pop(st);
		if (!it)
			break;
		group[n++] = it;
		bytes += it->bytes;
		spans += it->n_spans;
		if (status != MX_OK)
			break; /* fail this one too; the rest stays queued */
		status = put_item(st, txn, it, now);
		if (status != MX_OK || bytes >= GROUP_MAX_BYTES ||
		    clock_ns(CLOCK_MONOTONIC) - t0 >= limit_ns)
			break;
	}
	if (status == MX_OK)
		status = mx_metrics_flush(st, txn, now);
	if (status == MX_OK) {
		bool changed;
		status = mx_metrics_db_maintain(st, txn, now, &changed);
	}
	if (status == MX_OK) {
		bool sgc; /* the service graph's pending counts (sgraph_int.h) */
		status = mx_sg_flush(st, txn, now, &sgc);
	}
	if (status == MX_OK)
		status = mx_store_maintain(st, txn, spans, seq0, &sr);
	if (txn) {
		if (status == MX_OK) {
			rc = mdb_txn_commit(txn);
			if (rc)
				status = mx_store_mdb_err(rc);
		} else {
			mdb_txn_abort(txn);
		}
	}
	for (int i = 0; status == MX_EFULL && i < FULL_RETRIES; i++) {
		rollback(st, seq0, str0);
		if (make_room(st, spans, i) != MX_OK)
			break;
		memset(&sr, 0, sizeof(sr));
		status = replay(st, group, n, spans, now, &sr);
	}
	if (status == MX_OK) {
		uint64_t us = (clock_ns(CLOCK_MONOTONIC) - t0) / 1000;
		mx_metrics_txn_end(st->metrics, true, now);
		/* the group is durable: its spans go to the service graph */
		mx_sg_after_commit(st, group, n, now);
		atomic_fetch_add(&st->st_spans, spans);
		atomic_fetch_add(&st->st_batches, n);
		atomic_fetch_add(&st->st_commits, 1);
		atomic_fetch_add(&st->st_commit_us_sum, us);
		hist_add(st->st_commit_hist, commit_bounds, MX_STORE_COMMIT_BUCKETS, us);
		hist_add(st->st_group_hist, group_bounds, MX_STORE_GROUP_BUCKETS, n);
		st->last_group_spans = spans;
		after_commit(st, &sr);
	} else {
		/* nothing of the group is stored: forget what the caches learnt */
		rollback(st, seq0, str0);
		atomic_fetch_add(&st->st_failures, 1);
		if (status == MX_EFULL)
			atomic_fetch_add(&st->st_full, 1);
		else
			status = MX_ESTORE;
	}
	atomic_store(&st->st_last_commit_us,
		     (clock_ns(CLOCK_MONOTONIC) - t0) / 1000);

	/* free the memory first, so that a receiver answered below finds
	 * room in the queue for its next request */
	pthread_mutex_lock(&st->mu);
	st->q_batches -= n;
	st->q_bytes -= bytes;
	atomic_store(&st->st_qbatches, st->q_batches);
	atomic_store(&st->st_qbytes, st->q_bytes);
	pthread_mutex_unlock(&st->mu);
	for (uint32_t i = 0; i < n; i++) {
		mx_commit_cb cb = group[i]->cb;
		void *ctx = group[i]->ctx;
		mx_store_item_free(group[i]);
		cb(ctx, status);
	}
}

/* A maintenance pass in a transaction of its own (no batch queued). */
static void maintain_idle(struct mx_store *st)
{
	struct mx_store_sweep_res sr;
	MDB_txn *txn = NULL;
	int dead = 0;
	/* reader slots of a crashed process (a killed backup) would keep
	 * freed pages from reuse */
	mdb_reader_check(st->env, &dead);
	if (mdb_txn_begin(st->env, NULL, 0, &txn)) {
		st->sw_more = false;
		return;
	}
	bool changed = false, sgc = false;
	uint64_t now = mx_store_now(st);
	int rc = mx_metrics_db_maintain(st, txn, now, &changed);
	if (rc == MX_OK) /* service graph: expiry, pending counts (sgraph_int.h) */
		rc = mx_sg_idle(st, txn, now, &sgc);
	if (rc == MX_OK)
		rc = mx_store_maintain(st, txn, st->last_group_spans, UINT64_MAX, &sr);
	if (rc == MX_OK && (sr.expired || sr.evicted || changed || sgc)) {
		rc = mdb_txn_commit(txn);
		if (rc == MDB_SUCCESS) {
			mx_sg_txn_end(st->sgraph, true);
			after_commit(st, &sr);
			return;
		}
		rc = mx_store_mdb_err(rc);
	} else {
		mdb_txn_abort(txn);
		if (rc == MX_OK) {
			st->sw_more = false;
			atomic_store(&st->st_oldest_ns, sr.oldest_ns);
			return;
		}
	}
	/* deleting found the map full: grow it when possible, else try
	 * again at the next tick */
	st->sw_trace_valid = false;
	st->sw_more = rc == MX_EFULL && mx_store_grow(st) == MX_OK;
}

#define TICK_MS 1000 /* retention is checked at least this often */

void *mx_store_writer_main(void *arg)
{
	struct mx_store *st = arg;
	struct mx_store_item **group =
		malloc(st->cfg.group_max_batches * sizeof(*group));
	struct mx_store_item *one[1];
	uint32_t max = st->cfg.group_max_batches;
	if (!group) {
		/* degrade to one batch per transaction rather than fail */
		group = one;
		max = 1;
	}
	st->sw_more = true; /* a first pass: the store may hold expired data */
	for (;;) {
		struct timespec dl;
		bool tick = false;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += TICK_MS / 1000;
		pthread_mutex_lock(&st->mu);
		while (!st->head && !st->stopping && !st->sw_more &&
		       st->sweep_req == st->sweep_done && !tick) {
			/* retention, downsampling and idle series need a
			 * pass at least once a second */
			tick = pthread_cond_timedwait(&st->cv, &st->mu, &dl) != 0;
		}
		bool work = st->head != NULL;
		bool stop = st->stopping;
		uint64_t req = st->sweep_req;
		pthread_mutex_unlock(&st->mu);
		if (work) {
			run_group(st, group, max);
		} else if (stop) {
			mx_sg_shutdown(st); /* dependency counts still pending */
			break;
		}
		else
			maintain_idle(st);
		if (!st->sw_more) {
			pthread_mutex_lock(&st->mu);
			if (st->sweep_done < req) {
				st->sweep_done = req;
				pthread_cond_broadcast(&st->cv_sweep);
			}
			pthread_mutex_unlock(&st->mu);
		}
	}
	pthread_mutex_lock(&st->mu);
	st->writer_exited = true;
	pthread_cond_broadcast(&st->cv_sweep);
	pthread_mutex_unlock(&st->mu);
	if (group != one)
		free(group);
	return NULL;
}
