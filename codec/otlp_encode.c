/*
 * otlp_encode.c - model -> binary OTLP ExportTraceServiceRequest, written by
 * hand (no protobuf-c structs in between).
 *
 * The writer works backwards: it fills a private buffer from its end
 * towards its start, so when a nested message is finished its length is
 * known and is written in front of it. Every message is therefore written
 * once, with no size pre-pass and no memmove, in time linear in the output
 * (the buffer doubles when full, copying what it holds once per doubling).
 * Fields come out in field-number order. The result is appended to the
 * caller's mx_buf in one copy.
 *
 * Consecutive spans with the same resource pointer share one ResourceSpans;
 * inside it, consecutive spans with the same scope pointer share one
 * ScopeSpans. Zipkin endpoints (which OTLP cannot carry) are not written.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../model/error.h"
#include "otlp.h"

/* A backward writer: the data is buf[pos..cap). */
struct bw {
	uint8_t *buf;
	size_t cap;
	size_t pos;
	size_t max; /* cap on the data length */
	bool failed;
};

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static size_t bw_len(const struct bw *w)
{
	return w->cap - w->pos;
}

static bool bw_grow(struct bw *w, size_t n)
{
	size_t used = bw_len(w);
	if (w->failed || n > w->max || used > w->max - n) {
		w->failed = true;
		return false;
	}
	size_t ncap = w->cap ? w->cap : 4096;
	while (ncap < used + n)
		ncap = ncap > SIZE_MAX / 2 ? used + n : ncap * 2;
	if (ncap > w->max)
		ncap = w->max;
	uint8_t *nb = malloc(ncap);
	if (!nb) {
		w->failed = true;
		return false;
	}
	if (used)
		memcpy(nb + ncap - used, w->buf + w->pos, used);
	free(w->buf);
	w->buf = nb;
	w->cap = ncap;
	w->pos = ncap - used;
	return true;
}

static inline bool bw_need(struct bw *w, size_t n)
{
	return (w->pos >= n && !w->failed) || bw_grow(w, n);
}

static void bw_bytes(struct bw *w, const void *p, size_t n)
{
	if (!bw_need(w, n))
		return;
	w->pos -= n;
	if (n)
		memcpy(w->buf + w->pos, p, n);
}

static void bw_varint(struct bw *w, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;
	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	bw_bytes(w, tmp, n);
}

static void bw_tag(struct bw *w, uint32_t field, unsigned wt)
{
	bw_varint(w, (uint64_t)field << 3 | wt);
}

/* Closes a length-delimited field whose body was written since the data
 * length was `mark`. */
static void bw_close(struct bw *w, uint32_t field, size_t mark)
{
	bw_varint(w, bw_len(w) - mark);
	bw_tag(w, field, WT_LEN);
}

static void bw_fixed64(struct bw *w, uint32_t field, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	bw_bytes(w, b, 8);
	bw_tag(w, field, WT_I64);
}

static void bw_fixed32(struct bw *w, uint32_t field, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 24) };
	bw_bytes(w, b, 4);
	bw_tag(w, field, WT_I32);
}

static void bw_uint(struct bw *w, uint32_t field, uint64_t v)
{
	if (!v)
		return;
	bw_varint(w, v);
	bw_tag(w, field, WT_VARINT);
}

/* A bytes/string field, always written (even when empty). */
static void bw_blob(struct bw *w, uint32_t field, const void *p, size_t n)
{
	bw_bytes(w, p, n);
	bw_varint(w, n);
	bw_tag(w, field, WT_LEN);
}

/* A string field, omitted when empty (proto3 default). */
static void bw_str(struct bw *w, uint32_t field, struct mx_str s)
{
	if (s.len)
		bw_blob(w, field, s.ptr, s.len);
}

static void enc_kv(struct bw *w, const struct mx_attr *a);

/* Writes the fields of an AnyValue. */
static void enc_value(struct bw *w, const struct mx_value *v)
{
	size_t mark;
	switch (v->type) {
	case MX_VAL_STRING:
		bw_blob(w, 1, v->u.s.ptr, v->u.s.len);
		break;
	case MX_VAL_BOOL:
		bw_varint(w, v->u.b ? 1 : 0);
		bw_tag(w, 2, WT_VARINT);
		break;
	case MX_VAL_INT:
		bw_varint(w, (uint64_t)v->u.i);
		bw_tag(w, 3, WT_VARINT);
		break;
	case MX_VAL_DOUBLE: {
		uint64_t bits;
		memcpy(&bits, &v->u.d, 8);
		bw_fixed64(w, 4, bits);
		break;
	}
	case MX_VAL_BYTES:
		bw_blob(w, 7, v->u.s.ptr, v->u.s.len);
		break;
	case MX_VAL_ARRAY:
		mark = bw_len(w);
		for (uint32_t i = v->u.arr.n; i-- > 0;) {
			size_t m = bw_len(w);
			enc_value(w, &v->u.arr.items[i]);
			bw_close(w, 1, m);
		}
		bw_close(w, 5, mark);
		break;
	case MX_VAL_MAP:
		mark = bw_len(w);
		for (uint32_t i = v->u.map.n; i-- > 0;) {
			size_t m = bw_len(w);
			enc_kv(w, &v->u.map.items[i]);
			bw_close(w, 1, m);
		}
		bw_close(w, 6, mark);
		break;
	default:
		break; /* MX_VAL_EMPTY: no field set */
	}
}

/* Writes the fields of a KeyValue. */
static void enc_kv(struct bw *w, const struct mx_attr *a)
{
	size_t m = bw_len(w);
	enc_value(w, &a->value);
	bw_close(w, 2, m);
	bw_str(w, 1, a->key);
}

static void enc_attrs(struct bw *w, uint32_t field, const struct mx_attrs *at)
{
	for (uint32_t i = at->n; i-- > 0;) {
		size_t m = bw_len(w);
		enc_kv(w, &at->items[i]);
		bw_close(w, field, m);
	}
}

static void enc_event(struct bw *w, const struct mx_event *e)
{
	bw_uint(w, 4, e->dropped_attrs);
	enc_attrs(w, 3, &e->attrs);
	bw_str(w, 2, e->name);
	if (e->time_ns)
		bw_fixed64(w, 1, e->time_ns);
}

static void enc_link(struct bw *w, const struct mx_link *l)
{
	if (l->flags)
		bw_fixed32(w, 6, l->flags);
	bw_uint(w, 5, l->dropped_attrs);
	enc_attrs(w, 4, &l->attrs);
	bw_str(w, 3, l->trace_state);
	bw_blob(w, 2, l->span_id, 8);
	bw_blob(w, 1, l->trace_id, 16);
}

static void enc_span(struct bw *w, const struct mx_span *s)
{
	size_t m;
	if (s->flags)
		bw_fixed32(w, 16, s->flags);
	if (s->status_code || s->status_message.len) {
		m = bw_len(w);
		bw_uint(w, 3, s->status_code);
		bw_str(w, 2, s->status_message);
		bw_close(w, 15, m);
	}
	bw_uint(w, 14, s->dropped_links);
	for (uint32_t i = s->n_links; i-- > 0;) {
		m = bw_len(w);
		enc_link(w, &s->links[i]);
		bw_close(w, 13, m);
	}
	bw_uint(w, 12, s->dropped_events);
	for (uint32_t i = s->n_events; i-- > 0;) {
		m = bw_len(w);
		enc_event(w, &s->events[i]);
		bw_close(w, 11, m);
	}
	bw_uint(w, 10, s->dropped_attrs);
	enc_attrs(w, 9, &s->attrs);
	if (s->end_ns)
		bw_fixed64(w, 8, s->end_ns);
	if (s->start_ns)
		bw_fixed64(w, 7, s->start_ns);
	bw_uint(w, 6, s->kind);
	bw_str(w, 5, s->name);
	if (!mx_id_is_zero(s->parent_span_id, 8))
		bw_blob(w, 4, s->parent_span_id, 8);
	bw_str(w, 3, s->trace_state);
	bw_blob(w, 2, s->span_id, 8);
	bw_blob(w, 1, s->trace_id, 16);
}

static void enc_scope(struct bw *w, const struct mx_scope *sc)
{
	size_t m = bw_len(w);
	bw_uint(w, 4, sc->dropped_attrs);
	enc_attrs(w, 3, &sc->attrs);
	bw_str(w, 2, sc->version);
	bw_str(w, 1, sc->name);
	bw_close(w, 1, m);
}

/* Writes one ScopeSpans (field 2 of ResourceSpans) for spans [from, to). */
static void enc_scope_spans(struct bw *w, const struct mx_span *spans,
			    uint32_t from, uint32_t to)
{
	const struct mx_scope *sc = spans[from].scope;
	size_t mark = bw_len(w);
	if (sc)
		bw_str(w, 3, sc->schema_url);
	for (uint32_t i = to; i-- > from;) {
		size_t m = bw_len(w);
		enc_span(w, &spans[i]);
		bw_close(w, 2, m);
	}
	if (sc)
		enc_scope(w, sc);
	bw_close(w, 2, mark);
}

/* Writes one ResourceSpans (field 1 of the request) for spans [from, to). */
static void enc_resource_spans(struct bw *w, const struct mx_span *spans,
			       uint32_t from, uint32_t to)
{
	const struct mx_resource *res = spans[from].resource;
	size_t mark = bw_len(w);
	if (res)
		bw_str(w, 3, res->schema_url);
	uint32_t k = to;
	while (k > from) {
		const struct mx_scope *sc = spans[k - 1].scope;
		uint32_t m = k - 1;
		while (m > from && spans[m - 1].scope == sc)
			m--;
		enc_scope_spans(w, spans, m, k);
		k = m;
	}
	if (res) {
		size_t m = bw_len(w);
		bw_uint(w, 2, res->dropped_attrs);
		enc_attrs(w, 1, &res->attrs);
		bw_close(w, 1, m);
	}
	bw_close(w, 1, mark);
}

int mx_otlp_encode_proto(const struct mx_batch *b, struct mx_buf *out)
{
	if (out->failed)
		return MX_ENOMEM;
	struct bw w = { .max = out->max - out->len };
	uint32_t i = b->n_spans;
	while (i > 0) {
		const struct mx_resource *res = b->spans[i - 1].resource;
		uint32_t j = i - 1;
		while (j > 0 && b->spans[j - 1].resource == res)
			j--;
		enc_resource_spans(&w, b->spans, j, i);
		i = j;
	}
	int rc = MX_OK;
	if (w.failed) {
		out->failed = true;
		rc = MX_ENOMEM;
	} else if (bw_len(&w)) {
		rc = mx_buf_append(out, w.buf + w.pos, bw_len(&w));
	}
	free(w.buf);
	return rc;
}
