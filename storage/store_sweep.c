/*
 * store_sweep.c - what keeps the store bounded: retention by arrival time,
 * eviction of the oldest data above the high-water mark, the map-size gate
 * and map growth, and the measure of pages in use (storage/SCHEMA.md,
 * "Retention, eviction and growth").
 *
 * Spans are keyed by arrival sequence, so the oldest data is always at the
 * front of `spans`. A sweep step walks it from the front and deletes each
 * span, the trace_idx entry of each segment when its first span goes (a
 * segment starts where the trace id changes or a batch starts), and, when
 * the first span of a batch goes, the batch's idx_time / idx_svc_time
 * entries, whose keys the writer logged in `idx_log` under the batch's
 * first sequence. Every deletion is an exact key; nothing is scanned.
 *
 * The writer runs the steps (store_writer.c): appended to a group's
 * transaction under load, in a transaction of their own when idle, and
 * before retrying a group that found the map full. LMDB lets the map be
 * resized only while no transaction is open in the process; read
 * transactions therefore hold a gate shared (mx_store_read_begin) that the
 * writer takes exclusively to resize.
 */
#include <string.h>
#include <time.h>

#include "../model/error.h"
#include "span_record.h"
#include "store_int.h"

#define SPAN_TRACE_OFF 17 /* trace id in a span record (SCHEMA.md) */
#define SPAN_MIN_LEN 33
#define HIGH_WATER_PCT 90u

uint64_t mx_store_now(const struct mx_store *st)
{
	if (st->cfg.now_ns)
		return st->cfg.now_ns();
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int mx_store_read_begin(struct mx_store *st, MDB_txn **txn)
{
	*txn = NULL;
	if (pthread_rwlock_rdlock(&st->gate) != 0)
		return MX_ESTORE;
	if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn) != MDB_SUCCESS) {
		*txn = NULL;
		pthread_rwlock_unlock(&st->gate);
		return MX_ESTORE;
	}
	return MX_OK;
}

void mx_store_read_end(struct mx_store *st, MDB_txn *txn)
{
	if (!txn)
		return;
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&st->gate);
}

uint64_t mx_store_used_pages(struct mx_store *st, MDB_txn *txn)
{
	(void)st;
	/* every handle of the environment: 0 (free pages), 1 (main) and each
	 * named database; unused handles answer EINVAL */
	uint64_t pages = 2; /* meta pages */
	for (MDB_dbi dbi = 0; dbi < 32; dbi++) {
		MDB_stat ms;
		if (mdb_stat(txn, dbi, &ms) == MDB_SUCCESS)
			pages += ms.ms_branch_pages + ms.ms_leaf_pages +
				 ms.ms_overflow_pages;
	}
	return pages;
}

uint64_t mx_store_oldest_arrival(struct mx_store *st, MDB_txn *txn)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	uint64_t t = 0;
	if (mdb_cursor_open(txn, st->dbi_spans, &cur))
		return 0;
	if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == MDB_SUCCESS &&
	    v.mv_size >= 9)
		t = mx_get_le64((const uint8_t *)v.mv_data + 1);
	mdb_cursor_close(cur);
	return t;
}

int mx_store_log_put(struct mx_store *st, MDB_txn *txn, uint64_t seq0,
		     const uint8_t *keys, size_t len)
{
	uint8_t kb[MX_LOG_KEY_LEN];
	uint32_t part = 0;
	size_t pos = 0;
	mx_put_be64(kb, seq0);
	while (pos < len) {
		/* cut at an entry boundary under MX_LOG_VAL_MAX */
		size_t end = pos;
		while (end + 1 < len &&
		       end + 2 + keys[end + 1] - pos <= MX_LOG_VAL_MAX)
			end += 2u + keys[end + 1];
		if (end == pos)
			return MX_ESTORE; /* an entry larger than a part */
		MDB_val k = { MX_LOG_KEY_LEN, kb };
		MDB_val v = { end - pos, (void *)(uintptr_t)(keys + pos) };
		int rc;
		for (;;) {
			if (part > 0xffff)
				return MX_ESTORE;
			kb[8] = (uint8_t)(part >> 8);
			kb[9] = (uint8_t)part;
			rc = mdb_put(txn, st->dbi_log, &k, &v, MDB_APPEND);
			if (rc != MDB_KEYEXIST)
				break;
			/* not after the last key (an earlier item had the same
			 * first sequence): the next free part */
			rc = mdb_put(txn, st->dbi_log, &k, &v, MDB_NOOVERWRITE);
			if (rc != MDB_KEYEXIST)
				break;
			part++;
		}
		if (rc)
			return mx_store_mdb_err(rc);
		part++;
		pos = end;
	}
	return MX_OK;
}

/* Deletes the search index entries logged for batches whose first
 * sequence is <= seq, and their log entries. Sets *start when a batch
 * starts exactly at seq. */
static int sweep_log(struct mx_store *st, MDB_cursor *log, uint64_t seq,
		     bool *start)
{
	MDB_val k, v;
	int rc;
	*start = false;
	while ((rc = mdb_cursor_get(log, &k, &v, MDB_FIRST)) == MDB_SUCCESS) {
		if (k.mv_size != MX_LOG_KEY_LEN)
			return MX_ESTORE;
		uint64_t first = mx_get_be64(k.mv_data);
		if (first > seq)
			return MX_OK;
		if (first == seq)
			*start = true;
		const uint8_t *p = v.mv_data;
		size_t n = v.mv_size;
		MDB_txn *txn = mdb_cursor_txn(log);
		for (size_t i = 0; i + 2 <= n;) {
			uint8_t kind = p[i], klen = p[i + 1];
			if (i + 2u + klen > n)
				return MX_ESTORE;
			MDB_val ik = { klen, (void *)(uintptr_t)(p + i + 2) };
			MDB_dbi dbi = kind == MX_IK_TIME ? st->dbi_itime : st->dbi_isvc;
			int drc = mdb_del(txn, dbi, &ik, NULL);
			if (drc != MDB_SUCCESS && drc != MDB_NOTFOUND)
				return mx_store_mdb_err(drc);
			i += 2u + klen;
		}
		if ((rc = mdb_cursor_del(log, 0)))
			return mx_store_mdb_err(rc);
	}
	return rc == MDB_NOTFOUND ? MX_OK : mx_store_mdb_err(rc);
}

static void idx_key(uint8_t kb[MX_IDX_KEY_LEN], const uint8_t *trace,
		    uint64_t seq)
{
	memcpy(kb, trace + 8, 8);
	memcpy(kb + 8, trace, 8);
	mx_put_be64(kb + 16, seq);
}

/* Deletes the trace_idx entry of the segment that starts at `seq`; with
 * `covering`, the one of trace `trace` that covers `seq` (after a restart
 * the sweep may resume inside a segment whose entry is still there). */
static int sweep_segment(struct mx_store *st, MDB_txn *txn,
			 const uint8_t *trace, uint64_t seq, bool covering)
{
	uint8_t kb[MX_IDX_KEY_LEN];
	MDB_val k = { MX_IDX_KEY_LEN, kb }, v;
	MDB_cursor *cur = NULL;
	int rc;
	idx_key(kb, trace, seq);
	if (!covering) {
		rc = mdb_del(txn, st->dbi_idx, &k, NULL);
		return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? MX_OK
							       : mx_store_mdb_err(rc);
	}
	if ((rc = mdb_cursor_open(txn, st->dbi_idx, &cur)))
		return mx_store_mdb_err(rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == MDB_SUCCESS && k.mv_size == MX_IDX_KEY_LEN &&
	    memcmp(k.mv_data, kb, MX_IDX_KEY_LEN) == 0) {
		rc = mdb_cursor_del(cur, 0);
		goto out;
	}
	rc = mdb_cursor_get(cur, &k, &v, rc == MDB_SUCCESS ? MDB_PREV : MDB_LAST);
	if (rc == MDB_SUCCESS && k.mv_size == MX_IDX_KEY_LEN &&
	    v.mv_size == MX_IDX_VAL_LEN && memcmp(k.mv_data, kb, 16) == 0) {
		uint64_t first = mx_get_be64((const uint8_t *)k.mv_data + 16);
		uint32_t count = mx_get_le32(v.mv_data);
		if (first < seq && first + count > seq)
			rc = mdb_cursor_del(cur, 0);
	}
out:
	mdb_cursor_close(cur);
	return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? MX_OK : mx_store_mdb_err(rc);
}

int mx_store_sweep_step(struct mx_store *st, MDB_txn *txn,
			uint64_t delete_before, uint64_t expire_before,
			uint64_t stop_seq, uint64_t limit, uint64_t *expired,
			uint64_t *evicted, bool *more)
{
	MDB_cursor *spans = NULL, *log = NULL;
	MDB_val k, v;
	uint64_t n = 0;
	int err = MX_OK;
	int rc;

	*more = false;
	if ((rc = mdb_cursor_open(txn, st->dbi_spans, &spans)) ||
	    (rc = mdb_cursor_open(txn, st->dbi_log, &log))) {
		err = mx_store_mdb_err(rc);
		goto out;
	}
	rc = mdb_cursor_get(spans, &k, &v, MDB_FIRST);
	for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(spans, &k, &v, MDB_NEXT)) {
		if (n >= limit) {
			*more = true;
			break;
		}
		if (k.mv_size != 8) {
			err = MX_ESTORE;
			goto out;
		}
		uint64_t seq = mx_get_be64(k.mv_data);
		const uint8_t *p = v.mv_data;
		/* a record too short to hold its header is deleted as the
		 * oldest data it is */
		uint64_t arrival = v.mv_size >= 9 ? mx_get_le64(p + 1) : 0;
		if (arrival >= delete_before || seq >= stop_seq)
			break;
		bool start;
		if ((err = sweep_log(st, log, seq, &start)) != MX_OK)
			goto out;
		if (v.mv_size >= SPAN_MIN_LEN) {
			const uint8_t *trace = p + SPAN_TRACE_OFF;
			bool same = st->sw_trace_valid &&
				    memcmp(st->sw_trace, trace, 16) == 0;
			if (start || !same) {
				err = sweep_segment(st, txn, trace, seq,
						    !start && !st->sw_trace_valid);
				if (err != MX_OK)
					goto out;
			}
			memcpy(st->sw_trace, trace, 16);
			st->sw_trace_valid = true;
		}
		if ((rc = mdb_cursor_del(spans, 0))) {
			err = mx_store_mdb_err(rc);
			goto out;
		}
		if (arrival < expire_before)
			(*expired)++;
		else
			(*evicted)++;
		n++;
	}
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		err = mx_store_mdb_err(rc);
	if (err == MX_OK && n > 0 && rc == MDB_NOTFOUND) {
		/* the store is empty: logs of batches not yet reached cannot
		 * exist, but clear any left over */
		bool start;
		err = sweep_log(st, log, UINT64_MAX, &start);
	}
out:
	if (log)
		mdb_cursor_close(log);
	if (spans)
		mdb_cursor_close(spans);
	if (err != MX_OK)
		st->sw_trace_valid = false;
	return err;
}

/* The step size: at least cfg.sweep_spans, and 5/4 of the last group so
 * that deletion outpaces ingest. */
static uint64_t step_limit(const struct mx_store *st, uint64_t group_spans)
{
	uint64_t l = st->cfg.sweep_spans ? st->cfg.sweep_spans : 4096;
	uint64_t g = group_spans + group_spans / 4;
	return g > l ? g : l;
}

int mx_store_maintain(struct mx_store *st, MDB_txn *txn, uint64_t group_spans,
		      uint64_t stop_seq, struct mx_store_sweep_res *r)
{
	uint64_t limit = step_limit(st, group_spans);
	uint64_t cutoff = 0;
	bool more = false;
	int rc;

	memset(r, 0, sizeof(*r));
	if (st->cfg.retention_ns) {
		uint64_t now = mx_store_now(st);
		cutoff = now > st->cfg.retention_ns ? now - st->cfg.retention_ns : 0;
	}
	if (cutoff) {
		rc = mx_store_sweep_step(st, txn, cutoff, cutoff, stop_seq, limit,
					 &r->expired, &r->evicted, &more);
		if (rc != MX_OK)
			return rc;
		r->more = more;
	}
	r->used_pages = mx_store_used_pages(st, txn);
	uint64_t high = st->cfg.max_size / 100 * HIGH_WATER_PCT / st->page_size;
	if (r->used_pages > high) {
		rc = mx_store_sweep_step(st, txn, UINT64_MAX, cutoff, stop_seq,
					 limit, &r->expired, &r->evicted, &more);
		if (rc != MX_OK)
			return rc;
		r->used_pages = mx_store_used_pages(st, txn);
		if (r->used_pages > high && (r->evicted || r->expired))
			r->more = true;
	}
	r->oldest_ns = mx_store_oldest_arrival(st, txn);
	return MX_OK;
}

int mx_store_grow(struct mx_store *st)
{
	uint64_t max = st->cfg.max_size / st->page_size * st->page_size;
	if (st->map_size >= max)
		return MX_EFULL;
	uint64_t size = st->map_size * 2;
	if (size > max || size < st->map_size)
		size = max;
	if (pthread_rwlock_wrlock(&st->gate) != 0)
		return MX_ESTORE;
	int rc = mdb_env_set_mapsize(st->env, (size_t)size);
	pthread_rwlock_unlock(&st->gate);
	if (rc)
		return MX_ESTORE;
	st->map_size = size;
	atomic_store(&st->st_map_size, size);
	atomic_fetch_add(&st->st_grows, 1);
	return MX_OK;
}
