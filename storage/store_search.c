/*
 * store_search.c - trace search (mx_store_search, see storage/search.h;
 * the indexes are described in storage/SCHEMA.md).
 *
 * A search picks one index: idx_svc_time when a service is given (its
 * records list the hashes of their operations, so an operation filters
 * them without reading spans), idx_time otherwise. Its keys sort by
 * (service, time bucket of the segment start, arrival), so the scan
 * starts at the last key of the window end's bucket and walks backwards -
 * newest first - until a bucket before the window's start (the
 * approximation documented in SCHEMA.md). Each entry lists the segments of
 * one request with their start and duration ranges (and, in idx_svc_time,
 * a tag filter, store_bloom.h); a segment that cannot hold a matching span
 * is skipped on those alone, the others are
 * verified by reading that segment's span records in one cursor run and
 * testing each span against every condition of the query. Spans of a
 * resource with another service are skipped without being decoded.
 *
 * The read transaction only collects the ids of the matching traces; each
 * trace is then read by mx_store_get_trace() in its own transaction, so no
 * reader holds a snapshot for long.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../model/error.h"
#include "search.h"
#include "span_record.h"
#include "store_bloom.h"
#include "store_int.h"

#define DEF_LIMIT 20u
#define DEF_MAX_SPANS 100000u
#define DEF_MAX_CANDIDATES 1000000u
#define RES_SLOTS 1024u          /* resource cache; reset when half full */
#define RES_ARENA (64u << 20)    /* decoded resources of one search */
#define SPAN_ARENA (64u << 20)   /* scratch for decoded spans */
#define SPAN_ARENA_RESET (4u << 20)
#define DEADLINE_EVERY 16u       /* entries between clock reads */

enum svc_state { SVC_ANY = 0, SVC_YES, SVC_NO, SVC_SPAN };

struct res_ent {
	uint64_t key;
	const struct mx_resource *r;
	const struct mx_scope *sc;
	uint8_t svc; /* enum svc_state */
	bool used;
};

struct search {
	struct mx_store *st;
	const struct mx_search_query *q;
	MDB_txn *txn;
	MDB_cursor *spans;
	struct mx_str service, operation; /* cut like the index keys */
	struct mx_bloom_probe *probes;    /* per tag condition */
	uint64_t start_min, start_max;
	struct res_ent *res;
	uint32_t res_used;
	struct mx_arena res_arena, span_arena;
	/* hits: trace ids, in the order found, and a set of them */
	uint8_t (*hits)[16];
	uint32_t n_hits, cap_hits;
	uint32_t *set; /* index + 1 into hits; 0 = empty */
	uint32_t set_mask;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t id_slot(const struct search *s, const uint8_t id[16])
{
	return (uint32_t)mx_hash64(id, 16, MX_HASH_SEED_CHECK) & s->set_mask;
}

static bool hit_seen(const struct search *s, const uint8_t id[16])
{
	if (!s->set)
		return false;
	for (uint32_t i = id_slot(s, id); s->set[i]; i = (i + 1) & s->set_mask)
		if (memcmp(s->hits[s->set[i] - 1], id, 16) == 0)
			return true;
	return false;
}

static int hit_add(struct search *s, const uint8_t id[16])
{
	if (s->n_hits == s->cap_hits) {
		uint32_t ncap = s->cap_hits ? s->cap_hits * 2 : 32;
		if (ncap < s->cap_hits || ncap > (1u << 28))
			return MX_ENOMEM;
		void *p = realloc(s->hits, (size_t)ncap * 16);
		uint32_t *set = calloc(2 * (size_t)ncap, sizeof(*set));
		if (!p || !set) {
			if (p)
				s->hits = p;
			free(set);
			return MX_ENOMEM;
		}
		s->hits = p;
		s->cap_hits = ncap;
		free(s->set);
		s->set = set;
		s->set_mask = 2 * ncap - 1;
		for (uint32_t k = 0; k < s->n_hits; k++) {
			uint32_t i = id_slot(s, s->hits[k]);
			while (s->set[i])
				i = (i + 1) & s->set_mask;
			s->set[i] = k + 1;
		}
	}
	memcpy(s->hits[s->n_hits], id, 16);
	uint32_t i = id_slot(s, id);
	while (s->set[i])
		i = (i + 1) & s->set_mask;
	s->set[i] = ++s->n_hits;
	return MX_OK;
}

static bool cut_eq(struct mx_str a, struct mx_str cut, uint32_t max)
{
	uint32_t n = mx_store_utf8_cut(a.ptr, a.len, max);
	return n == cut.len && (n == 0 || memcmp(a.ptr, cut.ptr, n) == 0);
}

/* The resource stored under `key`, decoded once per search. */
static int resource_for(struct search *s, uint64_t key, struct res_ent **out)
{
	uint64_t h = key ^ (key >> 29);
	uint32_t mask = RES_SLOTS - 1;
	uint32_t i = (uint32_t)h & mask;
	for (; s->res[i].used; i = (i + 1) & mask) {
		if (s->res[i].key == key) {
			*out = &s->res[i];
			return MX_OK;
		}
	}
	if (s->res_used >= RES_SLOTS / 2) {
		/* no decoded span outlives its test, so nothing points
		 * into the arena between two records */
		memset(s->res, 0, RES_SLOTS * sizeof(*s->res));
		mx_arena_reset(&s->res_arena);
		s->res_used = 0;
		i = (uint32_t)h & mask;
	}
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	mx_put_be64(kb, key);
	if (mdb_get(s->txn, s->st->dbi_res, &k, &v))
		return MX_ESTORE;
	struct res_ent e = { key, NULL, NULL, SVC_ANY, true };
	int rc = mx_resource_record_decode(v.mv_data, v.mv_size, &s->res_arena,
					   &e.r, &e.sc);
	if (rc != MX_OK)
		return rc;
	if (s->service.len) {
		struct mx_str name = mx_attrs_get_str(&e.r->attrs, "service.name");
		if (!name.len)
			e.svc = SVC_SPAN; /* the local endpoint decides */
		else
			e.svc = cut_eq(name, s->service, s->st->max_key) ? SVC_YES : SVC_NO;
	}
	s->res[i] = e;
	s->res_used++;
	*out = &s->res[i];
	return MX_OK;
}

/* True when an attribute of `a` named `key` reads as `value`. */
static bool attrs_eq(const struct mx_attrs *a, struct mx_str key,
		     struct mx_str value)
{
	char tmp[48];
	struct mx_str t;
	for (uint32_t i = 0; i < a->n; i++) {
		const struct mx_attr *x = &a->items[i];
		if (x->key.len == key.len && (key.len == 0 ||
		    memcmp(x->key.ptr, key.ptr, key.len) == 0) &&
		    mx_store_value_text(&x->value, tmp, sizeof(tmp), &t) &&
		    t.len == value.len &&
		    (t.len == 0 || memcmp(t.ptr, value.ptr, t.len) == 0))
			return true;
	}
	return false;
}

static bool attrs_has(const struct mx_attrs *a, struct mx_str key)
{
	for (uint32_t i = 0; i < a->n; i++)
		if (a->items[i].key.len == key.len &&
		    (key.len == 0 || memcmp(a->items[i].key.ptr, key.ptr, key.len) == 0))
			return true;
	return false;
}

static bool str_is(struct mx_str s, const char *c)
{
	return mx_str_eq(s, c, strlen(c));
}

/* The tags the query APIs derive from span fields (model/MAPPING.md):
 * error=true, otel.status_code, span.kind. */
static bool derived_eq(const struct mx_span *sp, struct mx_str key,
		       struct mx_str value)
{
	if (str_is(key, "error"))
		return sp->status_code == MX_STATUS_ERROR && str_is(value, "true");
	if (str_is(key, "otel.status_code"))
		return (sp->status_code == MX_STATUS_ERROR && str_is(value, "ERROR")) ||
		       (sp->status_code == MX_STATUS_OK && str_is(value, "OK"));
	if (str_is(key, "span.kind"))
		return sp->kind != MX_KIND_UNSPECIFIED && str_is(value, mx_store_kind_tag(sp->kind));
	return false;
}

static bool tag_match(const struct search *s, const struct mx_span *sp,
		      const struct mx_tag_cond *c)
{
	bool res = s->q->tags_match_resource && sp->resource;
	if (c->op == MX_TAG_WORD) {
		for (uint32_t i = 0; i < sp->n_events; i++)
			if (mx_str_eq(sp->events[i].name, c->key.ptr, c->key.len))
				return true;
		if (attrs_has(&sp->attrs, c->key) ||
		    (res && attrs_has(&sp->resource->attrs, c->key)))
			return true;
		return str_is(c->key, "error") && sp->status_code == MX_STATUS_ERROR;
	}
	return attrs_eq(&sp->attrs, c->key, c->value) ||
	       (res && attrs_eq(&sp->resource->attrs, c->key, c->value)) ||
	       derived_eq(sp, c->key, c->value);
}

/* Every condition of the query but the service (checked by the caller). */
static bool span_match(const struct search *s, const struct mx_span *sp)
{
	const struct mx_search_query *q = s->q;
	if (sp->start_ns < s->start_min || sp->start_ns > s->start_max)
		return false;
	uint64_t dur = sp->end_ns >= sp->start_ns ? sp->end_ns - sp->start_ns : 0;
	if ((q->min_duration_ns && dur < q->min_duration_ns) ||
	    (q->max_duration_ns && dur > q->max_duration_ns))
		return false;
	if (q->kind >= 0 && sp->kind != q->kind)
		return false;
	if (s->operation.len && !cut_eq(sp->name, s->operation, s->st->max_key))
		return false;
	if (q->remote_service.len &&
	    !mx_str_eq(mx_store_remote_service(sp), q->remote_service.ptr,
		       q->remote_service.len))
		return false;
	for (uint32_t i = 0; i < q->n_tags; i++)
		if (!tag_match(s, sp, &q->tags[i]))
			return false;
	return true;
}

/* Reads the segment first .. first + count - 1; *hit when a span matches. */
static int verify_segment(struct search *s, uint64_t first, uint32_t count,
			  bool *hit)
{
	uint8_t kb[8];
	MDB_val k = { 8, kb }, v;
	*hit = false;
	if (s->span_arena.total > SPAN_ARENA_RESET)
		mx_arena_reset(&s->span_arena);
	mx_put_be64(kb, first);
	int rc = mdb_cursor_get(s->spans, &k, &v, MDB_SET_RANGE);
	for (uint32_t i = 0; i < count && rc == MDB_SUCCESS; i++) {
		if (k.mv_size != 8)
			return MX_ESTORE;
		if (mx_get_be64(k.mv_data) >= first + count)
			break; /* evicted records */
		uint64_t res_key, arrival;
		struct res_ent *re;
		struct mx_span sp;
		int err = mx_span_record_header(v.mv_data, v.mv_size, &res_key, &arrival);
		if (err == MX_OK)
			err = resource_for(s, res_key, &re);
		if (err != MX_OK)
			return err;
		if (re->svc != SVC_NO) {
			err = mx_span_record_decode(v.mv_data, v.mv_size, &s->span_arena,
						    &sp, NULL, NULL);
			if (err != MX_OK)
				return err;
			sp.resource = re->r;
			sp.scope = re->sc;
			if ((re->svc != SVC_SPAN ||
			     cut_eq(mx_span_service(&sp), s->service, s->st->max_key)) &&
			    span_match(s, &sp)) {
				*hit = true;
				return MX_OK;
			}
		}
		rc = mdb_cursor_get(s->spans, &k, &v, MDB_NEXT);
	}
	return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? MX_OK : MX_ESTORE;
}

/* The id of an interned name; false when it was never stored. */
static int lookup_id(struct search *s, struct mx_str name, uint32_t *id,
		     bool *found)
{
	MDB_val k = { name.len, (void *)(uintptr_t)name.ptr }, v;
	*found = false;
	if (name.len == 0) {
		*id = 0;
		*found = true;
		return MX_OK;
	}
	int rc = mdb_get(s->txn, s->st->dbi_str, &k, &v);
	if (rc == MDB_NOTFOUND)
		return MX_OK;
	if (rc || v.mv_size != 4)
		return MX_ESTORE;
	*id = mx_get_le32(v.mv_data);
	*found = true;
	return MX_OK;
}

/* Finds the records of an index value: offs[0 .. *n) (in arrival order).
 * Returns MX_ESTORE when the value is malformed. */
static int parse_value(const uint8_t *vp, size_t len, uint32_t *offs, uint32_t *n)
{
	if (len < 4)
		return MX_ESTORE;
	uint32_t cnt = mx_get_le32(vp);
	if (cnt == 0 || cnt > MX_IVAL_MAX_RECS)
		return MX_ESTORE;
	size_t off = 4;
	for (uint32_t i = 0; i < cnt; i++) {
		if (len - off < MX_IREC_FIXED)
			return MX_ESTORE;
		const uint8_t *r = vp + off;
		uint32_t n_ops = (uint32_t)r[MX_IREC_OFF_NOPS] |
				 (uint32_t)r[MX_IREC_OFF_NOPS + 1] << 8;
		uint32_t n_fw = (uint32_t)r[MX_IREC_OFF_NFW] |
				(uint32_t)r[MX_IREC_OFF_NFW + 1] << 8;
		if ((n_ops != MX_IREC_NO_OPS && n_ops > MX_IREC_MAX_OPS) ||
		    n_fw > MX_BLOOM_MAX_WORDS || (n_fw & (n_fw - 1)) != 0)
			return MX_ESTORE;
		size_t rlen = MX_IREC_FIXED + 8 * (size_t)n_fw +
			      (n_ops == MX_IREC_NO_OPS ? 0 : 4 * (size_t)n_ops);
		if (len - off < rlen)
			return MX_ESTORE;
		offs[i] = (uint32_t)off;
		off += rlen;
	}
	*n = cnt;
	return off == len ? MX_OK : MX_ESTORE;
}

static uint32_t record_n_ops(const uint8_t *r)
{
	return (uint32_t)r[MX_IREC_OFF_NOPS] | (uint32_t)r[MX_IREC_OFF_NOPS + 1] << 8;
}

/* False when a record lists its operations and `op` is not among them. */
static bool record_has_op(const uint8_t *r, uint32_t op)
{
	uint32_t n_ops = record_n_ops(r);
	if (n_ops == MX_IREC_NO_OPS)
		return true;
	for (uint32_t i = 0; i < n_ops; i++)
		if (mx_get_le32(r + MX_IREC_FIXED + 4 * i) == op)
			return true;
	return false;
}

/* False when the record's tag filter rules out a tag condition (parsed by
 * parse_value(), so its length is known to be in the value). */
static bool record_tags_maybe(const struct search *s, const uint8_t *r)
{
	uint32_t n_ops = record_n_ops(r);
	uint32_t n_fw = (uint32_t)r[MX_IREC_OFF_NFW] | (uint32_t)r[MX_IREC_OFF_NFW + 1] << 8;
	const uint8_t *f = r + MX_IREC_FIXED + (n_ops == MX_IREC_NO_OPS ? 0 : 4 * n_ops);
	return mx_bloom_maybe(f, n_fw, mx_bloom_salt(r + 8), s->probes, s->q->n_tags);
}

/* Scans the chosen index newest first and collects the matching traces. */
static int scan(struct search *s, struct mx_search_result *res)
{
	const struct mx_search_query *q = s->q;
	uint8_t key[MX_SIDX_KEY_LEN];
	uint32_t offs[MX_IVAL_MAX_RECS];
	size_t plen = 0;
	MDB_dbi dbi = s->st->dbi_itime;
	MDB_cursor *cur = NULL;
	uint32_t limit = q->limit ? q->limit : DEF_LIMIT;
	uint32_t max_cand = q->max_candidates ? q->max_candidates : DEF_MAX_CANDIDATES;
	uint32_t seen = 0, op = 0;
	bool by_op = false;
	int rc;

	if (s->service.len) {
		uint32_t id;
		bool found;
		if ((rc = lookup_id(s, s->service, &id, &found)) != MX_OK || !found)
			return rc;
		put_be32(key, id);
		plen = 4;
		dbi = s->st->dbi_isvc;
		if (s->operation.len) {
			by_op = true;
			op = mx_store_op_hash(s->operation.ptr, s->operation.len);
		}
	}
	uint64_t b_min = s->start_min >> MX_TIME_BUCKET_SHIFT;
	mx_put_be64(key + plen, s->start_max >> MX_TIME_BUCKET_SHIFT);
	memset(key + plen + 8, 0xff, 8);
	MDB_val k = { plen + 16, key }, v;
	if (mdb_cursor_open(s->txn, dbi, &cur))
		return MX_ESTORE;
	int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (mrc == MDB_SUCCESS)
		mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	else if (mrc == MDB_NOTFOUND)
		mrc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	rc = MX_OK;
	bool stop = false;
	for (; mrc == MDB_SUCCESS && !stop;
	     mrc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
		const uint8_t *kp = k.mv_data, *vp = v.mv_data;
		uint32_t n;
		if (k.mv_size != plen + 16 || memcmp(kp, key, plen) != 0)
			break; /* another service */
		if (mx_get_be64(kp + plen) < b_min)
			break;
		if ((rc = parse_value(vp, v.mv_size, offs, &n)) != MX_OK)
			break;
		uint64_t first = mx_get_be64(kp + plen + 8);
		/* records are in arrival order: newest last */
		for (uint32_t j = n; j-- > 0;) {
			const uint8_t *r = vp + offs[j];
			if (seen >= max_cand ||
			    (q->deadline_ns && seen % DEADLINE_EVERY == 0 &&
			     mono_ns() >= q->deadline_ns)) {
				res->truncated = true;
				stop = true;
				break;
			}
			seen++;
			const uint8_t *tid = r + 8;
			if (mx_get_le64(r + 24) > s->start_max ||
			    mx_get_le64(r + 32) < s->start_min ||
			    (q->min_duration_ns && mx_get_le64(r + 48) < q->min_duration_ns) ||
			    (q->max_duration_ns && mx_get_le64(r + 40) > q->max_duration_ns) ||
			    (by_op && !record_has_op(r, op)) || hit_seen(s, tid))
				continue;
			if (s->probes && !record_tags_maybe(s, r)) {
				res->segments_filtered++;
				continue;
			}
			res->segments_decoded++;
			bool hit;
			rc = verify_segment(s, first + mx_get_le32(r), mx_get_le32(r + 4),
					    &hit);
			if (rc == MX_OK && hit)
				rc = hit_add(s, tid);
			if (rc != MX_OK || s->n_hits >= limit) {
				stop = true;
				break;
			}
		}
	}
	if (stop || rc != MX_OK)
		mrc = MDB_SUCCESS;
	if (rc == MX_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
		rc = MX_ESTORE;
	mdb_cursor_close(cur);
	return rc;
}

/* Reads each hit with its own transaction. */
static int fetch(struct search *s, struct mx_search_result *out)
{
	const struct mx_search_query *q = s->q;
	uint32_t max_spans = q->max_spans_per_trace ? q->max_spans_per_trace
						     : DEF_MAX_SPANS;
	if (s->n_hits == 0)
		return MX_OK;
	out->traces = calloc(s->n_hits, sizeof(*out->traces));
	if (!out->traces)
		return MX_ENOMEM;
	for (uint32_t i = 0; i < s->n_hits; i++) {
		if (q->deadline_ns && mono_ns() >= q->deadline_ns) {
			out->truncated = true;
			break;
		}
		struct mx_batch *b = NULL;
		int rc = mx_store_get_trace(s->st, s->hits[i], false, max_spans, &b);
		if (rc == MX_ENOMEM) {
			out->truncated = true; /* over max_spans_per_trace */
			continue;
		}
		if (rc == MX_ENOTFOUND)
			continue; /* evicted since */
		if (rc != MX_OK)
			return rc;
		out->traces[out->n++] = b;
	}
	return MX_OK;
}

int mx_store_search(struct mx_store *st, const struct mx_search_query *q,
		    struct mx_search_result *out)
{
	struct search s;
	int rc;

	if (!out)
		return MX_EINVAL;
	memset(out, 0, sizeof(*out));
	if (!st || !st->env || !q || (q->n_tags && !q->tags))
		return MX_EINVAL;
	memset(&s, 0, sizeof(s));
	s.st = st;
	s.q = q;
	s.start_min = q->start_min_ns;
	s.start_max = q->start_max_ns ? q->start_max_ns : UINT64_MAX;
	if (s.start_min > s.start_max)
		return MX_EINVAL;
	s.service = q->service;
	s.service.len = mx_store_utf8_cut(q->service.ptr, q->service.len, st->max_key);
	s.operation = q->operation;
	s.operation.len = mx_store_utf8_cut(q->operation.ptr, q->operation.len,
					    st->max_key);
	mx_arena_init(&s.res_arena, RES_ARENA);
	mx_arena_init(&s.span_arena, SPAN_ARENA);
	s.res = calloc(RES_SLOTS, sizeof(*s.res));
	if (q->n_tags)
		s.probes = calloc(q->n_tags, sizeof(*s.probes));
	if (!s.res || (q->n_tags && !s.probes)) {
		rc = MX_ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < q->n_tags; i++)
		mx_bloom_probe_init(&s.probes[i], &q->tags[i]);
	if (mx_store_read_begin(st, &s.txn) != MX_OK) { /* the map gate */
		rc = MX_ESTORE;
		goto out;
	}
	if (mdb_cursor_open(s.txn, st->dbi_spans, &s.spans)) {
		rc = MX_ESTORE;
		goto out;
	}
	rc = scan(&s, out);
	mdb_cursor_close(s.spans);
	s.spans = NULL;
	mx_store_read_end(st, s.txn);
	s.txn = NULL;
	if (rc == MX_OK)
		rc = fetch(&s, out);
out:
	if (s.spans)
		mdb_cursor_close(s.spans);
	mx_store_read_end(st, s.txn);
	if (rc != MX_OK)
		mx_search_result_free(out);
	free(s.res);
	free(s.probes);
	free(s.hits);
	free(s.set);
	mx_arena_free(&s.res_arena);
	mx_arena_free(&s.span_arena);
	return rc;
}

void mx_search_result_free(struct mx_search_result *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->n; i++)
		mx_batch_free(r->traces[i]);
	free(r->traces);
	r->traces = NULL;
	r->n = 0;
}
