/*
 * store_item.c - turns a submitted batch into a writer queue item, on the
 * submitting (receiver) thread, so that the writer thread only copies bytes
 * into LMDB.
 *
 * The spans are ordered by trace id (stable: a trace keeps its spans in the
 * order they came), so each trace of the batch becomes one run of
 * consecutive sequence numbers and one trace_idx segment. Within a segment
 * the spans are grouped by service (and by service and span name, whose
 * hashes the service's record lists, with a tag filter: store_bloom.c); the
 * segment and each service group become a record (earliest and latest
 * start, shortest and longest duration) of the idx_time / idx_svc_time value
 * for the batch's (service, time bucket), built here so that the writer
 * only copies it. Resource + scope records are encoded once per distinct
 * (resource, scope) pair and deduplicated by content; service and span
 * names and the keys of the name lists (services, operations, remote
 * services, autocomplete tag values) are deduplicated per batch. Every
 * lookup table is a small open-addressing table sized to the batch, so a
 * hostile batch of all-distinct names stays linear.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../model/error.h"
#include "span_record.h"
#include "store_bloom.h"
#include "metrics_int.h"
#include "sgraph_int.h"
#include "store_int.h"
#include "store_item_int.h"

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

#define LKEY_MAX 1024u /* scratch for one list key; keys are <= max_key */

struct build {
	const struct mx_batch *batch;
	const struct mx_store_build_opts *o;
	struct mx_store_item *it;
	struct mx_buf data;
	struct mx_buf spans, res, segs, grps, names, keys; /* arrays of refs */
	const void **pairs;  /* (resource, scope) per pair number */
	uint32_t *pair_res;  /* resource index per pair number */
	uint32_t n_pairs;
	struct itab pair_tab, key_tab, name_tab, grp_tab, lkey_tab, op_tab;
	struct mx_buf opk; /* (svc, op, kind) listed as operations */
	struct mx_buf ients;
	struct mx_bloom_build bloom; /* tag filters of the service groups */
	uint32_t seg_no;     /* current segment */
	uint32_t grp_first;  /* its first group */
	uint32_t n_bl;       /* service groups so far */
	uint32_t seq_off;    /* of the current segment */
	uint32_t max_key;    /* key length cap */
	uint8_t lkey[LKEY_MAX];
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

/* Returns the index of `name` in the item's names, adding it; `intern`:
 * a service name, whose id the writer needs. */
static int name_index(struct build *bd, const char *p, uint32_t len,
		      bool intern, uint32_t *out)
{
	uint64_t h = mx_hash64(p, len, MX_HASH_SEED_KEY);
	uint32_t i = itab_start(&bd->name_tab, h);
	for (; bd->name_tab.slot[i]; i = itab_next(&bd->name_tab, i)) {
		uint32_t k = bd->name_tab.slot[i] - 1;
		struct mx_store_name_ref *o = ref_at(&bd->names, sizeof(*o), k);
		if (o->hash == h && o->len == len &&
		    (len == 0 || memcmp(bd->data.data + o->off, p, len) == 0)) {
			o->intern |= intern;
			*out = k;
			return MX_OK;
		}
	}
	struct mx_store_name_ref ref = { bd->data.len, len, h, intern };
	uint32_t k = (uint32_t)(bd->names.len / sizeof(ref));
	if (mx_buf_append(&bd->data, p, len) != MX_OK ||
	    mx_buf_append(&bd->names, &ref, sizeof(ref)) != MX_OK)
		return MX_ENOMEM;
	bd->name_tab.slot[i] = k + 1;
	*out = k;
	return MX_OK;
}

/* Adds the key bd->lkey[0..len) of name list `list` unless already there. */
static int add_list_key(struct build *bd, uint8_t list, uint32_t len)
{
	uint64_t h = mx_hash64(bd->lkey, len, MX_HASH_SEED_KEY) ^ list;
	uint32_t i = itab_start(&bd->lkey_tab, h);
	for (; bd->lkey_tab.slot[i]; i = itab_next(&bd->lkey_tab, i)) {
		const struct mx_store_key_ref *o =
			ref_at(&bd->keys, sizeof(*o), bd->lkey_tab.slot[i] - 1);
		if (o->hash == h && o->len == len && o->list == list &&
		    memcmp(bd->data.data + o->off, bd->lkey, len) == 0)
			return MX_OK;
	}
	struct mx_store_key_ref ref = { bd->data.len, len, list, h };
	uint32_t n = (uint32_t)(bd->keys.len / sizeof(ref));
	if (n + 1 > bd->lkey_tab.mask / 2)
		return MX_OK; /* table full: the rest is recorded by later batches */
	if (mx_buf_append(&bd->data, bd->lkey, len) != MX_OK ||
	    mx_buf_append(&bd->keys, &ref, sizeof(ref)) != MX_OK)
		return MX_ENOMEM;
	bd->lkey_tab.slot[i] = n + 1;
	return MX_OK;
}

/* Builds `a ‖ 0x00 [‖ mid] ‖ b` into bd->lkey (b cut at a UTF-8 boundary
 * to fit max_key) and adds it to `list`. Skipped when `a` holds a NUL
 * byte (the separator would be ambiguous), when `a` leaves no room, or when
 * `b` is empty. */
static int add_pair_key(struct build *bd, uint8_t list, struct mx_str a,
			int mid, struct mx_str b)
{
	uint32_t max = bd->max_key;
	uint32_t head = a.len + 1 + (mid >= 0);
	if (a.len == 0 || head >= max || (list != MX_LIST_OPERATIONS && b.len == 0) ||
	    memchr(a.ptr, 0, a.len))
		return MX_OK;
	memcpy(bd->lkey, a.ptr, a.len);
	bd->lkey[a.len] = 0;
	if (mid >= 0)
		bd->lkey[a.len + 1] = (uint8_t)mid;
	uint32_t blen = mx_store_utf8_cut(b.ptr, b.len, max - head);
	if (blen)
		memcpy(bd->lkey + head, b.ptr, blen);
	return add_list_key(bd, list, head + blen);
}

static void stat_add(struct mx_store_stat *g, bool first, uint64_t start,
		     uint64_t dur)
{
	if (first) {
		*g = (struct mx_store_stat){ start, start, dur, dur };
		return;
	}
	if (start < g->min_start)
		g->min_start = start;
	if (start > g->max_start)
		g->max_start = start;
	if (dur < g->min_dur)
		g->min_dur = dur;
	if (dur > g->max_dur)
		g->max_dur = dur;
}

/* Adds a span to the group (current segment, svc, op), creating it;
 * *out is the group's index. */
static int grp_add(struct build *bd, uint32_t svc, uint32_t op, uint64_t start,
		   uint64_t dur, uint32_t *out)
{
	uint64_t h = int_hash(((uint64_t)bd->seg_no << 32) | svc, op);
	uint32_t i = itab_start(&bd->grp_tab, h);
	for (; bd->grp_tab.slot[i]; i = itab_next(&bd->grp_tab, i)) {
		uint32_t k = bd->grp_tab.slot[i] - 1;
		if (k < bd->grp_first)
			continue; /* a group of an earlier segment */
		struct mx_store_grp *g = ref_at(&bd->grps, sizeof(*g), k);
		if (g->svc == svc && g->op == op) {
			stat_add(&g->stat, false, start, dur);
			*out = k;
			return MX_OK;
		}
	}
	struct mx_store_grp g = { svc, op, bd->seg_no, { 0, 0, 0, 0 },
			 op == MX_STORE_NO_NAME ? bd->n_bl++ : 0 };
	stat_add(&g.stat, true, start, dur);
	uint32_t k = (uint32_t)(bd->grps.len / sizeof(g));
	if (mx_buf_append(&bd->grps, &g, sizeof(g)) != MX_OK)
		return MX_ENOMEM;
	bd->grp_tab.slot[i] = k + 1;
	*out = k;
	return MX_OK;
}

struct opk {
	uint32_t svc, op, kind;
};

/* Whether (svc, op, kind) was listed before in this batch; records it. */
static int op_listed(struct build *bd, uint32_t svc, uint32_t op, uint32_t kind,
		     bool *listed)
{
	uint64_t h = int_hash(((uint64_t)svc << 32) | op, kind);
	uint32_t i = itab_start(&bd->op_tab, h);
	for (; bd->op_tab.slot[i]; i = itab_next(&bd->op_tab, i)) {
		const struct opk *o = ref_at(&bd->opk, sizeof(*o), bd->op_tab.slot[i] - 1);
		if (o->svc == svc && o->op == op && o->kind == kind) {
			*listed = true;
			return MX_OK;
		}
	}
	struct opk k = { svc, op, kind };
	uint32_t n = (uint32_t)(bd->opk.len / sizeof(k));
	if (mx_buf_append(&bd->opk, &k, sizeof(k)) != MX_OK)
		return MX_ENOMEM;
	bd->op_tab.slot[i] = n + 1;
	*listed = false;
	return MX_OK;
}

/* The autocomplete tag values of a span. */
static int add_tag_values(struct build *bd, const struct mx_span *s)
{
	char tmp[48];
	for (uint32_t i = 0; i < s->attrs.n; i++) {
		const struct mx_attr *a = &s->attrs.items[i];
		for (uint32_t k = 0; k < bd->o->n_ac_keys; k++) {
			struct mx_str v;
			if (!mx_str_eq(a->key, bd->o->ac_keys[k].ptr,
				       bd->o->ac_keys[k].len))
				continue;
			if (!mx_store_value_text(&a->value, tmp, sizeof(tmp), &v))
				break;
			int rc = add_pair_key(bd, MX_LIST_TAG_VALUES, a->key, -1, v);
			if (rc != MX_OK)
				return rc;
			break;
		}
	}
	return MX_OK;
}

/* Per span: its groups in the current segment (and the items of its
 * service group's tag filter) and its name-list keys. `svc` is the service
 * name already cut to max_key, `svc_idx` its name index, `new_svc` whether
 * it differs from the previous span's, `res` its resource index. */
static int index_span(struct build *bd, const struct mx_span *s,
		      struct mx_str svc, uint32_t svc_idx, bool new_svc,
		      uint32_t res)
{
	uint32_t max = bd->max_key;
	uint32_t op_len = mx_store_utf8_cut(s->name.ptr, s->name.len, max);
	uint64_t dur = s->end_ns >= s->start_ns ? s->end_ns - s->start_ns : 0;
	uint32_t op, g_svc, g_op;
	int rc;

	if ((rc = name_index(bd, s->name.ptr, op_len, false, &op)) != MX_OK ||
	    (rc = grp_add(bd, svc_idx, MX_STORE_NO_NAME, s->start_ns, dur,
			  &g_svc)) != MX_OK ||
	    (rc = grp_add(bd, svc_idx, op, s->start_ns, dur, &g_op)) != MX_OK)
		return rc;
	const struct mx_store_grp *gs = ref_at(&bd->grps, sizeof(*gs), g_svc);
	if ((rc = mx_bloom_add_span(&bd->bloom, gs->bl, res, s)) != MX_OK)
		return rc;
	if (new_svc && svc.len) {
		memcpy(bd->lkey, svc.ptr, svc.len);
		if ((rc = add_list_key(bd, MX_LIST_SERVICES, svc.len)) != MX_OK)
			return rc;
	}
	bool listed;
	if ((rc = op_listed(bd, svc_idx, op, s->kind, &listed)) != MX_OK ||
	    (!listed &&
	     (rc = add_pair_key(bd, MX_LIST_OPERATIONS, svc, s->kind, s->name)) != MX_OK))
		return rc;
	struct mx_str remote = mx_store_remote_service(s);
	if (remote.len &&
	    (rc = add_pair_key(bd, MX_LIST_REMOTE, svc, -1, remote)) != MX_OK)
		return rc;
	if (bd->o->n_ac_keys && (rc = add_tag_values(bd, s)) != MX_OK)
		return rc;
	return MX_OK;
}

static void seg_add(struct mx_store_seg *g, const struct mx_span *s)
{
	uint64_t dur = s->end_ns >= s->start_ns ? s->end_ns - s->start_ns : 0;
	stat_add(&g->stat, g->count == 0, s->start_ns, dur);
	if (g->count == 0 || s->end_ns > g->max_end)
		g->max_end = s->end_ns;
	g->count++;
	if (s->status_code == MX_STATUS_ERROR)
		g->flags |= MX_IDX_F_ERROR;
	if (mx_id_is_zero(s->parent_span_id, 8))
		g->flags |= MX_IDX_F_ROOT;
}

static int seg_finish(struct build *bd, struct mx_store_seg *seg)
{
	if (mx_bloom_seg_finish(&bd->bloom, bd->n_bl) != MX_OK)
		return MX_ENOMEM;
	seg->seq_off = bd->seq_off;
	bd->seq_off += seg->count;
	if (mx_buf_append(&bd->segs, seg, sizeof(*seg)) != MX_OK)
		return MX_ENOMEM;
	memset(seg, 0, sizeof(*seg));
	bd->seg_no++;
	bd->grp_first = (uint32_t)(bd->grps.len / sizeof(struct mx_store_grp));
	return MX_OK;
}

static int encode_spans(struct build *bd, const struct sort_ent *order,
			uint64_t arrival)
{
	const struct mx_batch *b = bd->batch;
	const struct mx_resource *prev_r = NULL;
	const struct mx_scope *prev_sc = NULL;
	uint32_t res = 0, svc_idx = 0;
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
		if (k > 0 && memcmp(seg.trace_id, s->trace_id, 16) != 0 &&
		    (rc = seg_finish(bd, &seg)) != MX_OK)
			return rc;
		memcpy(seg.trace_id, s->trace_id, 16);
		seg_add(&seg, s);
		struct mx_str svc = mx_span_service(s);
		svc.len = mx_store_utf8_cut(svc.ptr, svc.len, bd->max_key);
		bool new_svc = k == 0 || svc.len != prev_svc.len ||
			       (svc.ptr != prev_svc.ptr &&
				memcmp(svc.ptr, prev_svc.ptr, svc.len) != 0);
		if (new_svc) {
			if ((rc = name_index(bd, svc.ptr, svc.len, true, &svc_idx)) != MX_OK)
				return rc;
			prev_svc = svc;
		}
		if ((rc = index_span(bd, s, svc, svc_idx, new_svc, res)) != MX_OK)
			return rc;
	}
	if (b->n_spans && (rc = seg_finish(bd, &seg)) != MX_OK)
		return rc;
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
	mx_buf_free(&bd->grps);
	mx_buf_free(&bd->names);
	mx_buf_free(&bd->keys);
	mx_buf_free(&bd->ients);
	mx_buf_free(&bd->opk);
	free(bd->op_tab.slot);
	free(bd->pairs);
	free(bd->pair_res);
	free(bd->pair_tab.slot);
	free(bd->key_tab.slot);
	free(bd->name_tab.slot);
	free(bd->grp_tab.slot);
	free(bd->lkey_tab.slot);
	mx_bloom_build_free(&bd->bloom);
}

int mx_store_item_build(const struct mx_batch *batch,
			const struct mx_store_build_opts *o,
			struct mx_store_item **out)
{
	struct build bd;
	struct sort_ent *order = NULL;
	uint32_t n = batch->n_spans;
	size_t cap = o->max_bytes > SIZE_MAX ? SIZE_MAX : (size_t)o->max_bytes;
	int rc = MX_ENOMEM;

	*out = NULL;
	memset(&bd, 0, sizeof(bd));
	bd.batch = batch;
	bd.o = o;
	bd.max_key = o->max_key < LKEY_MAX ? o->max_key : LKEY_MAX;
	mx_buf_init(&bd.data, cap);
	mx_buf_init(&bd.spans, SIZE_MAX);
	mx_buf_init(&bd.res, SIZE_MAX);
	mx_buf_init(&bd.segs, SIZE_MAX);
	mx_buf_init(&bd.grps, SIZE_MAX);
	mx_buf_init(&bd.names, SIZE_MAX);
	mx_buf_init(&bd.keys, SIZE_MAX);
	mx_buf_init(&bd.ients, SIZE_MAX);
	mx_buf_init(&bd.opk, SIZE_MAX);
	bd.it = calloc(1, sizeof(*bd.it));
	bd.pairs = calloc(2 * (size_t)(n ? n : 1), sizeof(*bd.pairs));
	bd.pair_res = calloc(n ? n : 1, sizeof(*bd.pair_res));
	/* at most 2 names, 2 groups per span; list keys: a service, an
	 * operation, a remote service and the tag values per span (the key
	 * table stops taking keys when half full) */
	uint32_t n2 = n > UINT32_MAX / 4 ? UINT32_MAX / 4 : n;
	if (!bd.it || !bd.pairs || !bd.pair_res || itab_init(&bd.pair_tab, n) != MX_OK ||
	    itab_init(&bd.key_tab, n) != MX_OK ||
	    itab_init(&bd.name_tab, 2 * n2) != MX_OK ||
	    itab_init(&bd.grp_tab, 2 * n2) != MX_OK ||
	    itab_init(&bd.op_tab, n) != MX_OK ||
	    itab_init(&bd.lkey_tab, 4 * n2 + 64) != MX_OK ||
	    mx_bloom_build_init(&bd.bloom, n) != MX_OK)
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
	rc = encode_spans(&bd, order, batch->received_ns ? batch->received_ns : now_ns());
	if (rc == MX_OK)
		rc = mx_store_build_ients(
			bd.segs.data, (uint32_t)(bd.segs.len / sizeof(struct mx_store_seg)),
			(const struct mx_store_grp *)bd.grps.data,
			(uint32_t)(bd.grps.len / sizeof(struct mx_store_grp)),
			(const struct mx_store_name_ref *)bd.names.data, &bd.bloom,
			&bd.data, &bd.ients);
	if (rc != MX_OK)
		goto out;

	struct mx_store_item *it = bd.it;
	size_t len;
	it->n_spans = n;
	it->n_res = (uint32_t)(bd.res.len / sizeof(*it->res));
	it->n_segs = (uint32_t)(bd.segs.len / sizeof(*it->segs));
	it->n_ients = (uint32_t)(bd.ients.len / sizeof(*it->ients));
	it->n_names = (uint32_t)(bd.names.len / sizeof(*it->names));
	it->n_keys = (uint32_t)(bd.keys.len / sizeof(*it->keys));
	it->name_ids = calloc(it->n_names ? it->n_names : 1, sizeof(*it->name_ids));
	if (!it->name_ids) {
		rc = MX_ENOMEM;
		goto out;
	}
	it->bytes = bd.data.cap + bd.spans.len + bd.res.len + bd.segs.len +
		    bd.ients.len + bd.names.len + bd.keys.len +
		    (uint64_t)it->n_names * sizeof(*it->name_ids) + sizeof(*it);
	it->data = mx_buf_steal(&bd.data, &it->data_len);
	it->spans = (struct mx_store_span_ref *)mx_buf_steal(&bd.spans, &len);
	it->res = (struct mx_store_res_ref *)mx_buf_steal(&bd.res, &len);
	it->segs = (struct mx_store_seg *)mx_buf_steal(&bd.segs, &len);
	it->ients = (struct mx_store_ient *)mx_buf_steal(&bd.ients, &len);
	it->names = (struct mx_store_name_ref *)mx_buf_steal(&bd.names, &len);
	it->keys = (struct mx_store_key_ref *)mx_buf_steal(&bd.keys, &len);
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
	free(it->ients);
	free(it->names);
	free(it->name_ids);
	free(it->keys);
	mx_mitem_free(it->mitem);
	mx_sg_facts_free(it->sg);
	free(it);
}
