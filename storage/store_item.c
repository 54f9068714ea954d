/*
 * store_item.c - turns a submitted batch into a writer queue item, on the
 * submitting (receiver) thread, so that the writer thread only copies bytes
 * into LMDB.
 *
 * The spans are ordered by trace id (stable: a trace keeps its spans in the
 * order they came), so each trace of the batch becomes one run of
 * consecutive sequence numbers and one trace_idx segment. Resource + scope
 * records are encoded once per distinct (resource, scope) pair and
 * deduplicated by content; service names are deduplicated per batch. Every
 * lookup table is a small open-addressing table sized to the batch, so a
 * hostile batch of all-distinct resources stays linear.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../model/error.h"
#include "span_record.h"
#include "store_int.h"

/* Open addressing table of indexes (slot = index + 1, 0 = empty). */
struct itab {
	uint32_t *slot;
	uint32_t mask;
};

static int itab_init(struct itab *t, uint32_t n_max)
{
	uint32_t cap = 16;
	while (cap < 2u * n_max && cap < (1u << 30))
		cap *= 2;
	t->slot = calloc(cap, sizeof(*t->slot));
	t->mask = cap - 1;
	return t->slot ? MX_OK : MX_ENOMEM;
}

/* Probe sequence helpers: the caller loops while a slot is occupied. */
static inline uint32_t itab_start(const struct itab *t, uint64_t h)
{
	return (uint32_t)(h ^ (h >> 32)) & t->mask;
}

static inline uint32_t itab_next(const struct itab *t, uint32_t i)
{
	return (i + 1) & t->mask;
}

static uint64_t ptr_hash(const void *a, const void *b)
{
	uint64_t x = (uint64_t)(uintptr_t)a * 0x9e3779b97f4a7c15ULL;
	x ^= (uint64_t)(uintptr_t)b + 0x7f4a7c159e3779b9ULL + (x << 6) + (x >> 2);
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 29);
}

struct sort_ent {
	uint8_t trace_id[16];
	uint32_t idx;
};

static int sort_cmp(const void *a, const void *b)
{
	const struct sort_ent *x = a, *y = b;
	int c = memcmp(x->trace_id, y->trace_id, 16);
	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Length of the longest UTF-8-clean prefix of s[0..n) not over max. */
static uint32_t utf8_cut(const char *s, uint32_t n, uint32_t max)
{
	if (n <= max)
		return n;
	uint32_t cut = max;
	while (cut > 0 && ((uint8_t)s[cut] & 0xC0) == 0x80)
		cut--;
	return cut;
}

struct build {
	const struct mx_batch *batch;
	struct mx_store_item *it;
	struct mx_buf data;
	struct mx_buf spans, res, segs, svcs; /* arrays of refs */
	const void **pairs;  /* (resource, scope) per pair number */
	uint32_t *pair_res;  /* resource index per pair number */
	uint32_t n_pairs;
	struct itab pair_tab, key_tab, svc_tab;
};

static inline void *ref_at(struct mx_buf *b, size_t size, uint32_t i)
{
	return b->data + (size_t)i * size;
}

/* Returns the index of the resource record of (r, sc), encoding it when the
 * pair is new. */
static int res_index(struct build *bd, const struct mx_resource *r,
		     const struct mx_scope *sc, uint32_t *out)
{
	uint32_t n_res = (uint32_t)(bd->res.len / sizeof(struct mx_store_res_ref));
	uint64_t h = ptr_hash(r, sc);
	uint32_t i = itab_start(&bd->pair_tab, h);
	for (; bd->pair_tab.slot[i]; i = itab_next(&bd->pair_tab, i)) {
		uint32_t p = bd->pair_tab.slot[i] - 1;
		if (bd->pairs[2 * p] == r && bd->pairs[2 * p + 1] == sc) {
			*out = bd->pair_res[p];
			return MX_OK;
		}
	}
	uint32_t pn = bd->n_pairs++; /* at most one pair per span */
	bd->pairs[2 * pn] = r;
	bd->pairs[2 * pn + 1] = sc;
	bd->pair_tab.slot[i] = pn + 1;

	/* new pair: encode, then look for the same content under another pair */
	size_t off = bd->data.len;
	int rc = mx_resource_record_encode(r, sc, &bd->data);
	if (rc != MX_OK)
		return rc;
	struct mx_store_res_ref ref = {
		.key = mx_hash64(bd->data.data + off, bd->data.len - off,
				 MX_HASH_SEED_KEY),
		.check = mx_hash64(bd->data.data + off, bd->data.len - off,
				   MX_HASH_SEED_CHECK),
		.off = off,
		.len = (uint32_t)(bd->data.len - off),
	};
	uint32_t j = itab_start(&bd->key_tab, ref.key);
	for (; bd->key_tab.slot[j]; j = itab_next(&bd->key_tab, j)) {
		uint32_t k = bd->key_tab.slot[j] - 1;
		const struct mx_store_res_ref *o = ref_at(&bd->res, sizeof(*o), k);
		if (o->key == ref.key && o->check == ref.check &&
		    o->len == ref.len &&
		    memcmp(bd->data.data + o->off, bd->data.data + off, ref.len) == 0) {
			bd->data.len = off; /* drop the duplicate bytes */
			bd->pair_res[pn] = k;
			*out = k;
			return MX_OK;
		}
	}
	if (mx_buf_append(&bd->res, &ref, sizeof(ref)) != MX_OK)
		return MX_ENOMEM;
	bd->key_tab.slot[j] = n_res + 1;
	bd->pair_res[pn] = n_res;
	*out = n_res;
	return MX_OK;
}

static int add_service(struct build *bd, struct mx_str name, uint32_t max_key)
{
	uint32_t len = utf8_cut(name.ptr, name.len, max_key);
	if (len == 0)
		return MX_OK;
	uint64_t h = mx_hash64(name.ptr, len, MX_HASH_SEED_KEY);
	uint32_t i = itab_start(&bd->svc_tab, h);
	for (; bd->svc_tab.slot[i]; i = itab_next(&bd->svc_tab, i)) {
		const struct mx_store_svc_ref *o =
			ref_at(&bd->svcs, sizeof(*o), bd->svc_tab.slot[i] - 1);
		if (o->hash == h && o->len == len &&
		    memcmp(bd->data.data + o->off, name.ptr, len) == 0)
			return MX_OK;
	}
	struct mx_store_svc_ref ref = { bd->data.len, len, h };
	if (mx_buf_append(&bd->data, name.ptr, len) != MX_OK ||
	    mx_buf_append(&bd->svcs, &ref, sizeof(ref)) != MX_OK)
		return MX_ENOMEM;
	bd->svc_tab.slot[i] =
		(uint32_t)(bd->svcs.len / sizeof(struct mx_store_svc_ref));
	return MX_OK;
}

static void seg_add(struct mx_store_seg *g, const struct mx_span *s)
{
	if (g->count == 0 || s->start_ns < g->min_start)
		g->min_start = s->start_ns;
	if (g->count == 0 || s->end_ns > g->max_end)
		g->max_end = s->end_ns;
	g->count++;
	if (s->status_code == MX_STATUS_ERROR)
		g->flags |= MX_IDX_F_ERROR;
	if (mx_id_is_zero(s->parent_span_id, 8))
		g->flags |= MX_IDX_F_ROOT;
}

static int encode_spans(struct build *bd, const struct sort_ent *order,
			uint64_t arrival, uint32_t max_key)
{
	const struct mx_batch *b = bd->batch;
	const struct mx_resource *prev_r = NULL;
	const struct mx_scope *prev_sc = NULL;
	uint32_t res = 0;
	struct mx_str prev_svc = { NULL, 0 };
	struct mx_store_seg seg;
	int rc;
	memset(&seg, 0, sizeof(seg));
	for (uint32_t k = 0; k < b->n_spans; k++) {
		const struct mx_span *s = &b->spans[order ? order[k].idx : k];
		if (!s->resource || !s->scope)
			return MX_EINVAL;
		if (k == 0 || s->resource != prev_r || s->scope != prev_sc) {
			if ((rc = res_index(bd, s->resource, s->scope, &res)) != MX_OK)
				return rc;
			prev_r = s->resource;
			prev_sc = s->scope;
		}
		const struct mx_store_res_ref *rr =
			ref_at(&bd->res, sizeof(*rr), res);
		struct mx_store_span_ref ref = { bd->data.len, 0, res };
		rc = mx_span_record_encode(s, rr->key, arrival, &bd->data);
		if (rc != MX_OK)
			return rc;
		if (bd->data.len - ref.off > UINT32_MAX)
			return MX_ENOMEM;
		ref.len = (uint32_t)(bd->data.len - ref.off);
		if (mx_buf_append(&bd->spans, &ref, sizeof(ref)) != MX_OK)
			return MX_ENOMEM;
		if (k > 0 && memcmp(seg.trace_id, s->trace_id, 16) != 0) {
			if (mx_buf_append(&bd->segs, &seg, sizeof(seg)) != MX_OK)
				return MX_ENOMEM;
			memset(&seg, 0, sizeof(seg));
		}
		memcpy(seg.trace_id, s->trace_id, 16);
		seg_add(&seg, s);
		struct mx_str svc = mx_span_service(s);
		if (k == 0 || svc.len != prev_svc.len ||
		    memcmp(svc.ptr, prev_svc.ptr, svc.len) != 0) {
			if ((rc = add_service(bd, svc, max_key)) != MX_OK)
				return rc;
			prev_svc = svc;
		}
	}
	if (b->n_spans && mx_buf_append(&bd->segs, &seg, sizeof(seg)) != MX_OK)
		return MX_ENOMEM;
	return MX_OK;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void build_free(struct build *bd)
{
	mx_buf_free(&bd->data);
	mx_buf_free(&bd->spans);
	mx_buf_free(&bd->res);
	mx_buf_free(&bd->segs);
	mx_buf_free(&bd->svcs);
	free(bd->pairs);
	free(bd->pair_res);
	free(bd->pair_tab.slot);
	free(bd->key_tab.slot);
	free(bd->svc_tab.slot);
}

int mx_store_item_build(const struct mx_batch *batch, uint64_t max_bytes,
			uint32_t max_key, struct mx_store_item **out)
{
	struct build bd;
	struct sort_ent *order = NULL;
	uint32_t n = batch->n_spans;
	size_t cap = max_bytes > SIZE_MAX ? SIZE_MAX : (size_t)max_bytes;
	int rc = MX_ENOMEM;

	*out = NULL;
	memset(&bd, 0, sizeof(bd));
	bd.batch = batch;
	mx_buf_init(&bd.data, cap);
	mx_buf_init(&bd.spans, SIZE_MAX);
	mx_buf_init(&bd.res, SIZE_MAX);
	mx_buf_init(&bd.segs, SIZE_MAX);
	mx_buf_init(&bd.svcs, SIZE_MAX);
	bd.it = calloc(1, sizeof(*bd.it));
	bd.pairs = calloc(2 * (size_t)(n ? n : 1), sizeof(*bd.pairs));
	bd.pair_res = calloc(n ? n : 1, sizeof(*bd.pair_res));
	if (!bd.it || !bd.pairs || !bd.pair_res || itab_init(&bd.pair_tab, n) != MX_OK ||
	    itab_init(&bd.key_tab, n) != MX_OK || itab_init(&bd.svc_tab, n) != MX_OK)
		goto out;
	if (mx_buf_reserve(&bd.spans, (size_t)n * sizeof(struct mx_store_span_ref)) != MX_OK)
		goto out;
	/* a typical span record is a few hundred bytes: grow once or twice */
	size_t guess = (size_t)n * 256 + 1024;
	if (mx_buf_reserve(&bd.data, guess < cap ? guess : cap) != MX_OK)
		goto out;

	/* order by trace id unless already grouped that way */
	bool sorted = true;
	for (uint32_t i = 1; i < n && sorted; i++)
		sorted = memcmp(batch->spans[i - 1].trace_id,
				batch->spans[i].trace_id, 16) <= 0;
	if (!sorted) {
		order = malloc((size_t)n * sizeof(*order));
		if (!order)
			goto out;
		for (uint32_t i = 0; i < n; i++) {
			memcpy(order[i].trace_id, batch->spans[i].trace_id, 16);
			order[i].idx = i;
		}
		qsort(order, n, sizeof(*order), sort_cmp);
	}
	rc = encode_spans(&bd, order, batch->received_ns ? batch->received_ns : now_ns(),
			  max_key);
	if (rc != MX_OK)
		goto out;

	struct mx_store_item *it = bd.it;
	size_t len;
	it->bytes = bd.data.cap + bd.spans.len + bd.res.len + bd.segs.len +
		    bd.svcs.len + sizeof(*it);
	it->n_spans = n;
	it->n_res = (uint32_t)(bd.res.len / sizeof(*it->res));
	it->n_segs = (uint32_t)(bd.segs.len / sizeof(*it->segs));
	it->n_svcs = (uint32_t)(bd.svcs.len / sizeof(*it->svcs));
	it->data = mx_buf_steal(&bd.data, &it->data_len);
	it->spans = (struct mx_store_span_ref *)mx_buf_steal(&bd.spans, &len);
	it->res = (struct mx_store_res_ref *)mx_buf_steal(&bd.res, &len);
	it->segs = (struct mx_store_seg *)mx_buf_steal(&bd.segs, &len);
	it->svcs = (struct mx_store_svc_ref *)mx_buf_steal(&bd.svcs, &len);
	*out = it;
	bd.it = NULL;
	rc = MX_OK;
out:
	mx_store_item_free(bd.it);
	free(order);
	build_free(&bd);
	return rc;
}

void mx_store_item_free(struct mx_store_item *it)
{
	if (!it)
		return;
	free(it->data);
	free(it->spans);
	free(it->res);
	free(it->segs);
	free(it->svcs);
	free(it);
}
