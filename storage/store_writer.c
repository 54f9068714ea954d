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
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../model/error.h"
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

/* One search index entry; its value was built by the submitter. */
static int put_ient(struct mx_store *st, MDB_txn *txn,
		    const struct mx_store_item *it, const struct mx_store_ient *e,
		    uint64_t seq0)
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
	int rc = mdb_put(txn, dbi, &k, &v, 0);
	return rc ? mx_store_mdb_err(rc) : MX_OK;
}

static int put_item(struct mx_store *st, MDB_txn *txn,
		    struct mx_store_item *it, uint64_t now)
{
	uint8_t kb[8];
	MDB_val k, v;
	int rc;

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
	for (uint32_t i = 0; i < it->n_ients; i++)
		if ((rc = put_ient(st, txn, it, &it->ients[i], st->next_seq)) != MX_OK)
			return rc;
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

/* One transaction: collects, commits, answers. */
static void run_group(struct mx_store *st, struct mx_store_item **group,
		      uint32_t max)
{
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
	uint64_t now = clock_ns(CLOCK_REALTIME);
	uint64_t limit_ns = (uint64_t)st->cfg.group_max_ms * 1000000ull;
	uint64_t seq0 = st->next_seq, bytes = 0, spans = 0;
	uint32_t str0 = st->next_string_id;
	uint32_t n = 0;
	MDB_txn *txn = NULL;
	int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	int status = rc ? mx_store_mdb_err(rc) : MX_OK;

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
	if (txn) {
		if (status == MX_OK) {
			rc = mdb_txn_commit(txn);
			if (rc)
				status = mx_store_mdb_err(rc) == MX_EFULL ? MX_EFULL
									 : MX_ESTORE;
		} else {
			mdb_txn_abort(txn);
		}
	}
	if (status == MX_OK) {
		atomic_fetch_add(&st->st_spans, spans);
		atomic_fetch_add(&st->st_batches, n);
		atomic_fetch_add(&st->st_commits, 1);
	} else {
		/* nothing of the group is stored: forget what the caches learnt */
		st->next_seq = seq0;
		st->next_string_id = str0;
		memset(st->res_cache, 0, MX_STORE_RES_CACHE * sizeof(*st->res_cache));
		mx_store_svc_set_clear(st);
		mx_store_intern_clear(st);
		atomic_fetch_add(&st->st_failures, 1);
		if (status != MX_EFULL)
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
	for (;;) {
		pthread_mutex_lock(&st->mu);
		while (!st->head && !st->stopping)
			pthread_cond_wait(&st->cv, &st->mu);
		bool work = st->head != NULL;
		pthread_mutex_unlock(&st->mu);
		if (!work)
			break;
		run_group(st, group, max);
	}
	if (group != one)
		free(group);
	return NULL;
}
