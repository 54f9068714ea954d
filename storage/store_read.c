/*
 * store_read.c - read-only lookups of the span store: one trace by id and
 * the list of services (see store.h; keys in storage/SCHEMA.md).
 *
 * A trace lookup ranges over the trace_idx entries with the trace id's
 * prefix (low 64 bits, then high 64 bits), and for each entry reads its run
 * of consecutive span records. Everything it returns is decoded into a new
 * batch before the read transaction ends. Exact duplicates (the same record
 * bytes apart from the arrival time, as when a client re-sends a batch whose
 * answer it lost) are kept once; resources are read once per lookup.
 * Every read transaction is taken through mx_store_read_begin() (the
 * map-size gate, storage/store_sweep.c).
 */
#include <stdlib.h>
#include <string.h>

#include "../model/error.h"
#include "span_record.h"
#include "store_int.h"

#define ARENA_PER_SPAN (64u << 10)
#define ARENA_MIN (1u << 20)
#define ARENA_MAX (1u << 30)

struct seg_ref {
	uint64_t first;
	uint32_t count;
};

struct res_slot {
	uint64_t key;
	const struct mx_resource *r;
	const struct mx_scope *sc;
	bool used;
};

struct dup_slot {
	const uint8_t *p; /* record body in the read txn's pages */
	uint64_t h;
	uint32_t len;
};

struct lookup {
	MDB_txn *txn;
	struct mx_store *st;
	struct mx_batch *b;
	struct res_slot *res;
	struct dup_slot *dup;
	uint32_t mask;
	uint32_t max_spans;
};

/* Finds or reads the resource stored under `key`. */
static int resource_for(struct lookup *lk, uint64_t key,
			const struct mx_resource **r, const struct mx_scope **sc)
{
	uint64_t h = key ^ (key >> 29);
	uint32_t i = (uint32_t)h & lk->mask;
	for (; lk->res[i].used; i = (i + 1) & lk->mask) {
		if (lk->res[i].key == key) {
			*r = lk->res[i].r;
			*sc = lk->res[i].sc;
			return MX_OK;
		}
	}
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	mx_put_be64(kb, key);
	int rc = mdb_get(lk->txn, lk->st->dbi_res, &k, &v);
	if (rc)
		return MX_ESTORE; /* a span whose resource is missing: corrupt */
	rc = mx_resource_record_decode(v.mv_data, v.mv_size, &lk->b->arena, r, sc);
	if (rc != MX_OK)
		return rc;
	lk->res[i] = (struct res_slot){ key, *r, *sc, true };
	return MX_OK;
}

/* True when the record body was seen before in this lookup. */
static bool seen(struct lookup *lk, const uint8_t *p, uint32_t len)
{
	uint64_t h = mx_hash64(p, len, MX_HASH_SEED_CHECK);
	uint32_t i = (uint32_t)h & lk->mask;
	for (; lk->dup[i].p; i = (i + 1) & lk->mask) {
		const struct dup_slot *d = &lk->dup[i];
		if (d->h == h && d->len == len && memcmp(d->p, p, len) == 0)
			return true;
	}
	lk->dup[i] = (struct dup_slot){ p, h, len };
	return false;
}

static int add_record(struct lookup *lk, const MDB_val *v)
{
	const uint8_t *p = v->mv_data;
	uint64_t key;
	if (v->mv_size < MX_SPAN_RECORD_HDR || v->mv_size > UINT32_MAX)
		return MX_ESTORE;
	if (seen(lk, p + MX_SPAN_RECORD_BODY_OFF,
		 (uint32_t)(v->mv_size - MX_SPAN_RECORD_BODY_OFF)))
		return MX_OK;
	if (lk->b->n_spans >= lk->max_spans)
		return MX_ENOMEM;
	struct mx_span *s = mx_batch_add_span(lk->b);
	if (!s)
		return MX_ENOMEM;
	int rc = mx_span_record_decode(p, v->mv_size, &lk->b->arena, s, &key, NULL);
	if (rc == MX_OK)
		rc = resource_for(lk, key, &s->resource, &s->scope);
	if (rc != MX_OK)
		lk->b->n_spans--;
	return rc;
}

static int read_segment(struct lookup *lk, MDB_cursor *cur,
			const struct seg_ref *g)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	mx_put_be64(kb, g->first);
	int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	for (uint32_t i = 0; i < g->count && rc == MDB_SUCCESS; i++) {
		if (k.mv_size != 8)
			return MX_ESTORE;
		uint64_t seq = mx_get_be64(k.mv_data);
		if (seq >= g->first + g->count)
			break; /* records gone (evicted): keep what is left */
		int err = add_record(lk, &v);
		if (err != MX_OK)
			return err;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? MX_OK : MX_ESTORE;
}

/* Collects the trace_idx segments whose key starts with prefix[0..plen). */
static int collect_segments(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix,
			    size_t plen, struct seg_ref **segs, uint32_t *n_segs,
			    uint64_t *total)
{
	MDB_cursor *cur = NULL;
	MDB_val k = { plen, (void *)(uintptr_t)prefix }, v;
	uint32_t n = 0, cap = 0;
	int err = MX_OK;
	*segs = NULL;
	*total = 0;
	int rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc)
		return MX_ESTORE;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == MDB_SUCCESS && k.mv_size >= plen &&
	       memcmp(k.mv_data, prefix, plen) == 0) {
		if (k.mv_size != MX_IDX_KEY_LEN || v.mv_size != MX_IDX_VAL_LEN) {
			err = MX_ESTORE;
			goto out;
		}
		if (n == cap) {
			uint32_t ncap = cap ? cap * 2 : 16;
			struct seg_ref *p = ncap < cap ? NULL
				: realloc(*segs, (size_t)ncap * sizeof(*p));
			if (!p) {
				err = MX_ENOMEM;
				goto out;
			}
			*segs = p;
			cap = ncap;
		}
		(*segs)[n].first = mx_get_be64((const uint8_t *)k.mv_data + 16);
		(*segs)[n].count = mx_get_le32(v.mv_data);
		*total += (*segs)[n].count;
		n++;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		err = MX_ESTORE;
out:
	mdb_cursor_close(cur);
	*n_segs = n;
	return err;
}

struct order_ent {
	uint64_t start;
	uint32_t idx;
};

static int order_cmp(const void *a, const void *b)
{
	const struct order_ent *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Sorts the batch's spans by start time (stable). */
static int sort_spans(struct mx_batch *b)
{
	uint32_t n = b->n_spans;
	if (n < 2)
		return MX_OK;
	struct order_ent *o = malloc((size_t)n * sizeof(*o));
	struct mx_span *sorted = mx_arena_alloc(&b->arena, (size_t)n * sizeof(*sorted));
	if (!o || !sorted) {
		free(o);
		return MX_ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++)
		o[i] = (struct order_ent){ b->spans[i].start_ns, i };
	qsort(o, n, sizeof(*o), order_cmp);
	for (uint32_t i = 0; i < n; i++)
		sorted[i] = b->spans[o[i].idx];
	free(o);
	b->spans = sorted;
	b->cap_spans = n;
	return MX_OK;
}

int mx_store_get_trace(struct mx_store *st, const uint8_t trace_id[16],
		       bool match_low64, uint32_t max_spans,
		       struct mx_batch **out)
{
	struct lookup lk;
	struct seg_ref *segs = NULL;
	uint32_t n_segs = 0;
	uint64_t total = 0;
	MDB_cursor *cur = NULL;
	uint8_t prefix[16];
	size_t plen = 16;
	int rc;

	memset(&lk, 0, sizeof(lk));
	if (!out)
		return MX_EINVAL;
	*out = NULL;
	if (!st || !trace_id || !st->env)
		return MX_EINVAL;
	memcpy(prefix, trace_id + 8, 8);
	memcpy(prefix + 8, trace_id, 8);
	if (match_low64 && mx_id_is_zero(trace_id, 8))
		plen = 8;

	if (mx_store_read_begin(st, &lk.txn) != MX_OK)
		return MX_ESTORE;
	rc = collect_segments(lk.txn, st->dbi_idx, prefix, plen, &segs, &n_segs,
			      &total);
	if (rc != MX_OK)
		goto out;
	if (n_segs == 0) {
		rc = MX_ENOTFOUND;
		goto out;
	}

	uint64_t slots = total < max_spans ? total : max_spans;
	if (slots > (1u << 28)) { /* far past what one batch arena holds */
		rc = MX_ENOMEM;
		goto out;
	}
	uint32_t cap = 16;
	while (cap < 2 * slots + 1 && cap < (1u << 30))
		cap *= 2;
	uint64_t acap = (uint64_t)max_spans * ARENA_PER_SPAN;
	acap = acap < ARENA_MIN ? ARENA_MIN : acap > ARENA_MAX ? ARENA_MAX : acap;
	lk.st = st;
	lk.max_spans = max_spans;
	lk.mask = cap - 1;
	lk.res = calloc(cap, sizeof(*lk.res));
	lk.dup = calloc(cap, sizeof(*lk.dup));
	lk.b = mx_batch_new((size_t)acap);
	if (!lk.res || !lk.dup || !lk.b) {
		rc = MX_ENOMEM;
		goto out;
	}
	if (mdb_cursor_open(lk.txn, st->dbi_spans, &cur)) {
		rc = MX_ESTORE;
		goto out;
	}
	for (uint32_t i = 0; i < n_segs && rc == MX_OK; i++)
		rc = read_segment(&lk, cur, &segs[i]);
	mdb_cursor_close(cur);
	if (rc == MX_OK && lk.b->n_spans == 0)
		rc = MX_ENOTFOUND;
	if (rc == MX_OK)
		rc = sort_spans(lk.b);
	if (rc == MX_OK) {
		*out = lk.b;
		lk.b = NULL;
	}
out:
	mx_store_read_end(st, lk.txn);
	mx_batch_free(lk.b);
	free(lk.res);
	free(lk.dup);
	free(segs);
	return rc;
}

int mx_store_services(struct mx_store *st, struct mx_arena *arena,
		      struct mx_str **names, uint32_t *n)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_stat ms;
	MDB_val k, v;
	int rc = MX_ESTORE;

	if (!names || !n)
		return MX_EINVAL;
	*names = NULL;
	*n = 0;
	if (!st || !st->env || !arena)
		return MX_EINVAL;
	if (mx_store_read_begin(st, &txn) != MX_OK)
		return MX_ESTORE;
	if (mdb_stat(txn, st->dbi_svc, &ms) || mdb_cursor_open(txn, st->dbi_svc, &cur))
		goto out;
	if (ms.ms_entries > UINT32_MAX) {
		rc = MX_ENOMEM;
		goto out;
	}
	struct mx_str *arr = mx_arena_calloc(arena, ms.ms_entries ? ms.ms_entries : 1,
					     sizeof(*arr));
	if (!arr) {
		rc = MX_ENOMEM;
		goto out;
	}
	uint32_t i = 0;
	int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	for (; mrc == MDB_SUCCESS && i < ms.ms_entries; i++) {
		char *s = mx_arena_strndup(arena, k.mv_data, k.mv_size);
		if (!s) {
			rc = MX_ENOMEM;
			goto out;
		}
		arr[i] = (struct mx_str){ s, (uint32_t)k.mv_size };
		mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
		goto out;
	*names = arr;
	*n = i;
	rc = MX_OK;
out:
	if (cur)
		mdb_cursor_close(cur);
	mx_store_read_end(st, txn);
	return rc;
}
