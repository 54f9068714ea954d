/*
 * encode.c - the hand-written protobuf writer of libmixd, the OTLP Span
 * encoding used by the span ring, and the encoding of one report
 * (proto/mixd/report.proto) with its per-report string table, gzip'd.
 *
 * libmixd does not link protobuf-c: the writer below emits the few field
 * kinds the report needs (varint, fixed64, length-delimited). A nested
 * message is written in place and its length is inserted afterwards
 * (mxr_pb_begin/mxr_pb_end), so lengths are minimal varints and the bytes
 * are canonical. Zero values of proto3 scalars are omitted, except inside
 * oneofs (AnyValue) where presence matters.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "reporter/reporter.h"

/* The largest report body before compression (a report of max_series
 * series is about 300 bytes a series; spans add at most ring * slot). */
#define MXR_REPORT_MAX (256u << 20)

void mxr_pbw_init(struct mxr_pbw *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max;
}

void mxr_pbw_fixed(struct mxr_pbw *w, uint8_t *buf, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->p = buf;
	w->cap = cap;
	w->max = cap;
	w->fixed = 1;
}

void mxr_pbw_free(struct mxr_pbw *w)
{
	if (!w)
		return;
	if (!w->fixed)
		free(w->p);
	memset(w, 0, sizeof(*w));
}

static int pbw_reserve(struct mxr_pbw *w, size_t n)
{
	size_t ncap;
	uint8_t *np;

	if (w->fail)
		return 0;
	if (n <= w->cap - w->len)
		return 1;
	if (w->fixed || n > w->max - w->len) {
		w->fail = 1;
		return 0;
	}
	ncap = w->cap ? w->cap : 256;
	while (ncap - w->len < n)
		ncap = ncap > w->max / 2 ? w->max : ncap * 2;
	np = realloc(w->p, ncap);
	if (!np) {
		w->fail = 1;
		return 0;
	}
	w->p = np;
	w->cap = ncap;
	return 1;
}

void mxr_pb_raw(struct mxr_pbw *w, const void *p, size_t n)
{
	if (n && pbw_reserve(w, n)) {
		memcpy(w->p + w->len, p, n);
		w->len += n;
	}
}

static size_t varint_put(uint8_t *p, uint64_t v)
{
	size_t i = 0;

	while (v >= 0x80) {
		p[i++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[i++] = (uint8_t)v;
	return i;
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

void mxr_pb_varint(struct mxr_pbw *w, uint64_t v)
{
	if (pbw_reserve(w, 10))
		w->len += varint_put(w->p + w->len, v);
}

void mxr_pb_tag(struct mxr_pbw *w, uint32_t field, uint32_t wt)
{
	mxr_pb_varint(w, (uint64_t)field << 3 | wt);
}

void mxr_pb_u64(struct mxr_pbw *w, uint32_t field, uint64_t v)
{
	if (!v)
		return;
	mxr_pb_tag(w, field, 0);
	mxr_pb_varint(w, v);
}

void mxr_pb_bytes(struct mxr_pbw *w, uint32_t field, const void *p, size_t n)
{
	mxr_pb_tag(w, field, 2);
	mxr_pb_varint(w, n);
	mxr_pb_raw(w, p, n);
}

void mxr_pb_str(struct mxr_pbw *w, uint32_t field, const char *s)
{
	if (s && *s)
		mxr_pb_bytes(w, field, s, strlen(s));
}

void mxr_pb_fixed64(struct mxr_pbw *w, uint32_t field, uint64_t v)
{
	mxr_pb_tag(w, field, 1);
	if (pbw_reserve(w, 8)) {
		for (int i = 0; i < 8; i++)
			w->p[w->len++] = (uint8_t)(v >> (8 * i));
	}
}

void mxr_pb_double(struct mxr_pbw *w, uint32_t field, double v)
{
	uint64_t u;

	if (v == 0)
		return;
	memcpy(&u, &v, sizeof(u));
	mxr_pb_fixed64(w, field, u);
}

size_t mxr_pb_begin(struct mxr_pbw *w, uint32_t field)
{
	mxr_pb_tag(w, field, 2);
	return w->len;
}

void mxr_pb_end(struct mxr_pbw *w, size_t mark)
{
	size_t body, k;

	if (w->fail)
		return;
	body = w->len - mark;
	k = varint_len(body);
	if (!pbw_reserve(w, k))
		return;
	memmove(w->p + mark + k, w->p + mark, body);
	varint_put(w->p + mark, body);
	w->len += k;
}

/* ------------------------------------------------------------------ */
/* OTLP Span                                                           */
/* ------------------------------------------------------------------ */

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* KeyValue{key, AnyValue} as field `field` */
static void enc_attr(struct mxr_pbw *w, uint32_t field, const struct mixd_attr *a)
{
	size_t kv = mxr_pb_begin(w, field), av;
	const char *s;
	uint64_t u;

	mxr_pb_str(w, 1, a->key);
	av = mxr_pb_begin(w, 2);
	switch (a->type) {
	case MIXD_ATTR_INT:
		mxr_pb_tag(w, 3, 0);
		mxr_pb_varint(w, (uint64_t)a->value.i);
		break;
	case MIXD_ATTR_DOUBLE:
		memcpy(&u, &a->value.d, sizeof(u));
		mxr_pb_fixed64(w, 4, u);
		break;
	case MIXD_ATTR_BOOL:
		mxr_pb_tag(w, 2, 0);
		mxr_pb_varint(w, a->value.b ? 1 : 0);
		break;
	default: /* MIXD_ATTR_STRING and unknown types */
		s = a->value.s ? a->value.s : "";
		mxr_pb_bytes(w, 1, s, strlen(s));
		break;
	}
	mxr_pb_end(w, av);
	mxr_pb_end(w, kv);
}

/* Appends repeated attributes while they fit; returns how many did not. */
static uint32_t enc_attrs(struct mxr_pbw *w, uint32_t field, const struct mixd_attr *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t saved = w->len;
		enc_attr(w, field, &a[i]);
		if (w->fail) {
			w->fail = 0;
			w->len = saved;
			return (uint32_t)(n - i);
		}
	}
	return 0;
}

int mxr_encode_span(struct mxr_pbw *w, const struct mixd_span *s)
{
	size_t msg_len = s->status_message ? strlen(s->status_message) : 0;
	size_t headroom = 32 + msg_len, real_cap = w->cap;
	uint32_t dropped_attrs, dropped_events = 0;

	mxr_pb_bytes(w, 1, s->trace_id, 16);
	mxr_pb_bytes(w, 2, s->span_id, 8);
	mxr_pb_str(w, 3, s->trace_state);
	if (!all_zero(s->parent_span_id, 8))
		mxr_pb_bytes(w, 4, s->parent_span_id, 8);
	mxr_pb_str(w, 5, s->name);
	mxr_pb_u64(w, 6, (uint64_t)(uint32_t)s->kind);
	mxr_pb_fixed64(w, 7, s->start_unix_nano);
	mxr_pb_fixed64(w, 8, s->end_unix_nano);
	if (w->fail || w->len + headroom > real_cap)
		return MIXD_EFULL;

	/* attributes and events share what is left minus the tail's room */
	w->cap = real_cap - headroom;
	dropped_attrs = s->attrs ? enc_attrs(w, 9, s->attrs, s->nattrs) : 0;
	w->cap = real_cap;
	mxr_pb_u64(w, 10, dropped_attrs);
	w->cap = real_cap - headroom;
	for (size_t i = 0; s->events && i < s->nevents; i++) {
		const struct mixd_event *e = &s->events[i];
		size_t saved = w->len, m;
		uint32_t de;

		m = mxr_pb_begin(w, 11);
		mxr_pb_fixed64(w, 1, e->time_unix_nano);
		mxr_pb_str(w, 2, e->name);
		de = e->attrs ? enc_attrs(w, 3, e->attrs, e->nattrs) : 0;
		mxr_pb_u64(w, 4, de);
		mxr_pb_end(w, m);
		if (w->fail) {
			w->fail = 0;
			w->len = saved;
			dropped_events = (uint32_t)(s->nevents - i);
			break;
		}
	}
	w->cap = real_cap;
	mxr_pb_u64(w, 12, dropped_events);
	if (s->status_code || msg_len) {
		size_t m = mxr_pb_begin(w, 15);
		mxr_pb_str(w, 2, s->status_message);
		mxr_pb_u64(w, 3, (uint64_t)(uint32_t)s->status_code);
		mxr_pb_end(w, m);
	}
	return w->fail ? MIXD_EFULL : MIXD_OK;
}

/* ------------------------------------------------------------------ */
/* Report                                                              */
/* ------------------------------------------------------------------ */

struct strmap {
	uint32_t *map;   /* reporter string id -> report index (0 = unset) */
	uint32_t *order; /* report index -> reporter string id */
	uint32_t n;
};

static uint32_t smap(struct strmap *m, uint32_t id)
{
	if (id == 0)
		return 0;
	if (!m->map[id]) {
		m->order[m->n] = id;
		m->map[id] = ++m->n; /* strings[0] is "": indexes start at 1 */
	}
	return m->map[id];
}

static void enc_workload(struct mxr_pbw *w, uint32_t field, const uint32_t ids[MXR_NWL],
			 struct strmap *m)
{
	size_t mk = mxr_pb_begin(w, field);

	for (uint32_t i = 0; i < MXR_NWL; i++)
		mxr_pb_u64(w, i + 1, smap(m, ids[i]));
	mxr_pb_end(w, mk);
}

static void enc_series(struct mxr_pbw *w, const struct mxr_series *se, int overflow,
		       struct strmap *m)
{
	size_t mk = mxr_pb_begin(w, 1);

	mxr_pb_u64(w, 1, se->role);
	enc_workload(w, 2, &se->str[MXR_S_PEER], m);
	mxr_pb_u64(w, 3, smap(m, se->str[MXR_S_DSVC]));
	mxr_pb_u64(w, 4, smap(m, se->str[MXR_S_DSVC_NAME]));
	mxr_pb_u64(w, 5, smap(m, se->str[MXR_S_DSVC_NS]));
	mxr_pb_u64(w, 6, smap(m, se->str[MXR_S_PROTO]));
	mxr_pb_u64(w, 7, se->code);
	mxr_pb_u64(w, 8, smap(m, se->str[MXR_S_GRPC]));
	mxr_pb_u64(w, 9, smap(m, se->str[MXR_S_FLAGS]));
	mxr_pb_u64(w, 10, smap(m, se->str[MXR_S_CSP]));
	mxr_pb_u64(w, 11, overflow ? 1 : 0);
	mxr_pb_end(w, mk);
}

static void enc_buckets(struct mxr_pbw *w, uint32_t field, const uint64_t *b)
{
	size_t n = 0;

	for (int i = 0; i < MXR_NBUCKETS; i++)
		n += varint_len(b[i]);
	mxr_pb_tag(w, field, 2);
	mxr_pb_varint(w, n);
	for (int i = 0; i < MXR_NBUCKETS; i++)
		mxr_pb_varint(w, b[i]);
}

static int any(const uint64_t *v, int from, int to)
{
	for (int k = from; k < to; k++)
		if (v[k])
			return 1;
	return 0;
}

/* The exemplar of a RequestDelta (fields 9-12): trace id, span id when
 * one was given, the recorded duration in ms, the record's Unix time. */
static void enc_exemplar(struct mxr_pbw *w, const uint64_t ex[MXR_NX])
{
	uint8_t id[16];

	memcpy(id, &ex[MXR_X_TRACE], 16);
	mxr_pb_bytes(w, 9, id, 16);
	if (ex[MXR_X_SPAN]) {
		memcpy(id, &ex[MXR_X_SPAN], 8);
		mxr_pb_bytes(w, 10, id, 8);
	}
	mxr_pb_double(w, 11, (double)ex[MXR_X_DUR]);
	mxr_pb_fixed64(w, 12, ex[MXR_X_TIME]);
}

static void enc_request(struct mxr_pbw *w, const struct mxr_series *se, int overflow,
			const struct mxr_fcell *fc, struct strmap *m)
{
	size_t mk = mxr_pb_begin(w, 7);
	const uint64_t *v = fc->pend;
	uint64_t count = 0;

	enc_series(w, se, overflow, m);
	for (int i = 0; i < MXR_NBUCKETS; i++)
		count += v[MXR_V_DUR_B + i];
	mxr_pb_u64(w, 2, count);
	enc_buckets(w, 3, &v[MXR_V_DUR_B]);
	mxr_pb_double(w, 4, (double)v[MXR_V_DUR_SUM]);
	enc_buckets(w, 5, &v[MXR_V_REQ_B]);
	mxr_pb_double(w, 6, (double)v[MXR_V_REQ_SUM]);
	enc_buckets(w, 7, &v[MXR_V_RESP_B]);
	mxr_pb_double(w, 8, (double)v[MXR_V_RESP_SUM]);
	if (fc->has_ex)
		enc_exemplar(w, fc->ex);
	mxr_pb_end(w, mk);
}

static void enc_tcp(struct mxr_pbw *w, const struct mxr_series *se, int overflow,
		    const uint64_t *v, struct strmap *m)
{
	size_t mk = mxr_pb_begin(w, 8);

	enc_series(w, se, overflow, m);
	mxr_pb_u64(w, 2, v[MXR_V_TCP_OPEN]);
	mxr_pb_u64(w, 3, v[MXR_V_TCP_CLOSE]);
	mxr_pb_u64(w, 4, v[MXR_V_TCP_SENT]);
	mxr_pb_u64(w, 5, v[MXR_V_TCP_RECV]);
	mxr_pb_end(w, mk);
}

static int gzip_buf(const uint8_t *in, size_t n, uint8_t **out, size_t *outn)
{
	z_stream zs;
	uint8_t *o;
	uLong bound;
	int zrc;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return MIXD_ENOMEM;
	bound = deflateBound(&zs, (uLong)n);
	o = malloc(bound ? bound : 1);
	if (!o) {
		deflateEnd(&zs);
		return MIXD_ENOMEM;
	}
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)n;
	zs.next_out = o;
	zs.avail_out = (uInt)bound;
	zrc = deflate(&zs, Z_FINISH);
	*outn = zs.total_out;
	deflateEnd(&zs);
	if (zrc != Z_STREAM_END) {
		free(o);
		return MIXD_ENOMEM;
	}
	*out = o;
	return MIXD_OK;
}

int mxr_encode_report(struct mixd_reporter *r, const struct mxr_report_in *in,
		      uint8_t **body, size_t *body_len)
{
	uint32_t nstr = atomic_load_explicit(&r->nstrings, memory_order_acquire);
	struct strmap m = { calloc(nstr, sizeof(uint32_t)), calloc(nstr, sizeof(uint32_t)), 0 };
	struct mxr_pbw b, w;
	int rc = MIXD_ENOMEM;

	*body = NULL;
	*body_len = 0;
	mxr_pbw_init(&b, MXR_REPORT_MAX);
	mxr_pbw_init(&w, MXR_REPORT_MAX);
	if (!m.map || !m.order)
		goto out;

	/* the repeated parts first, to build the string table */
	for (uint32_t i = 0; i < in->nseries; i++) {
		const uint64_t *v = in->cells[i]->pend;
		/* an exemplar alone (its counts went in the previous report,
		 * collected just before it was stored) still makes a delta */
		if (any(v, MXR_V_DUR_SUM, MXR_V_TCP_OPEN) || any(v, MXR_V_DUR_B, MXR_NVAL) ||
		    in->cells[i]->has_ex)
			enc_request(&b, mxr_series_get(r, in->series[i]), in->series[i] == 0,
				    in->cells[i], &m);
	}
	for (uint32_t i = 0; i < in->nseries; i++) {
		const uint64_t *v = in->cells[i]->pend;
		if (any(v, MXR_V_TCP_OPEN, MXR_V_TCP_RECV + 1))
			enc_tcp(&b, mxr_series_get(r, in->series[i]), in->series[i] == 0, v, &m);
	}
	for (uint32_t i = 0, off = 0; i < in->nspans; off += in->span_len[i], i++)
		mxr_pb_bytes(&b, 9, in->spans + off, in->span_len[i]);
	mxr_pb_u64(&b, 10, in->dropped_spans);
	mxr_pb_u64(&b, 11, in->overflow_series);
	mxr_pb_str(&b, 12, MIXD_VERSION_STRING);

	mxr_pb_bytes(&w, 1, in->instance_id, 16);
	mxr_pb_u64(&w, 2, in->sequence);
	mxr_pb_fixed64(&w, 3, in->start_ns);
	mxr_pb_fixed64(&w, 4, in->end_ns);
	uint32_t local_idx[MXR_NWL];
	for (int i = 0; i < MXR_NWL; i++)
		local_idx[i] = smap(&m, r->local[i]);
	mxr_pb_bytes(&w, 5, "", 0); /* strings[0] == "" */
	for (uint32_t i = 0; i < m.n; i++)
		mxr_pb_str(&w, 5, mxr_str(r, m.order[i]));
	{
		size_t mk = mxr_pb_begin(&w, 6);
		for (uint32_t i = 0; i < MXR_NWL; i++)
			mxr_pb_u64(&w, i + 1, local_idx[i]);
		mxr_pb_end(&w, mk);
	}
	if (b.len)
		mxr_pb_raw(&w, b.p, b.len);
	if (w.fail || b.fail)
		goto out;
	rc = gzip_buf(w.p, w.len, body, body_len);
out:
	free(m.map);
	free(m.order);
	mxr_pbw_free(&b);
	mxr_pbw_free(&w);
	return rc;
}
