/*
 * otlp_json_encode.c - model -> OTLP/JSON ExportTraceServiceRequest.
 *
 * Follows the OTLP/JSON rules (wire-protocols.md 4.6): lowerCamelCase keys,
 * hex ids (lower case), 64-bit integers as decimal strings, enums as
 * integers, bytes as base64, non-finite doubles as "NaN" / "Infinity" /
 * "-Infinity". Fields at their default value are omitted, except the span's
 * ids, name, kind, times and status, which are always written. Grouping of
 * spans into ResourceSpans / ScopeSpans is as in otlp_encode.c.
 */
#include <inttypes.h>
#include <math.h>

#include "../model/error.h"
#include "base64.h"
#include "json_util.h"
#include "otlp.h"

#define LIT(b, s) mx_buf_append((b), (s), sizeof(s) - 1)

static void js_str(struct mx_buf *b, struct mx_str s)
{
	mx_buf_putc(b, '"');
	mx_buf_json_escape(b, s.ptr, s.len);
	mx_buf_putc(b, '"');
}

static void js_hex(struct mx_buf *b, const uint8_t *id, size_t n)
{
	char hex[33];
	mx_id_to_hex(id, n, hex);
	mx_buf_putc(b, '"');
	mx_buf_append(b, hex, 2 * n);
	mx_buf_putc(b, '"');
}

static void js_u64str(struct mx_buf *b, uint64_t v)
{
	mx_buf_printf(b, "\"%" PRIu64 "\"", v);
}

static void js_double(struct mx_buf *b, double d)
{
	if (isnan(d)) {
		LIT(b, "\"NaN\"");
		return;
	}
	if (isinf(d)) {
		if (d > 0)
			LIT(b, "\"Infinity\"");
		else
			LIT(b, "\"-Infinity\"");
		return;
	}
	mx_json_put_double(b, d); /* the shortest form that reads back exactly */
}

static void js_attrs(struct mx_buf *b, const struct mx_attrs *at);

static void js_value(struct mx_buf *b, const struct mx_value *v)
{
	switch (v->type) {
	case MX_VAL_STRING:
		LIT(b, "{\"stringValue\":");
		js_str(b, v->u.s);
		break;
	case MX_VAL_BOOL:
		if (v->u.b)
			LIT(b, "{\"boolValue\":true");
		else
			LIT(b, "{\"boolValue\":false");
		break;
	case MX_VAL_INT:
		mx_buf_printf(b, "{\"intValue\":\"%" PRId64 "\"", v->u.i);
		break;
	case MX_VAL_DOUBLE:
		LIT(b, "{\"doubleValue\":");
		js_double(b, v->u.d);
		break;
	case MX_VAL_BYTES:
		LIT(b, "{\"bytesValue\":\"");
		mx_base64_encode(b, (const uint8_t *)v->u.s.ptr, v->u.s.len);
		mx_buf_putc(b, '"');
		break;
	case MX_VAL_ARRAY:
		LIT(b, "{\"arrayValue\":{\"values\":[");
		for (uint32_t i = 0; i < v->u.arr.n; i++) {
			if (i)
				mx_buf_putc(b, ',');
			js_value(b, &v->u.arr.items[i]);
		}
		LIT(b, "]}");
		break;
	case MX_VAL_MAP: {
		LIT(b, "{\"kvlistValue\":{\"values\":");
		struct mx_attrs m = { v->u.map.items, v->u.map.n };
		js_attrs(b, &m);
		mx_buf_putc(b, '}');
		break;
	}
	default:
		mx_buf_putc(b, '{');
		break;
	}
	mx_buf_putc(b, '}');
}

/* Writes a JSON array of KeyValue objects. */
static void js_attrs(struct mx_buf *b, const struct mx_attrs *at)
{
	mx_buf_putc(b, '[');
	for (uint32_t i = 0; i < at->n; i++) {
		if (i)
			mx_buf_putc(b, ',');
		LIT(b, "{\"key\":");
		js_str(b, at->items[i].key);
		LIT(b, ",\"value\":");
		js_value(b, &at->items[i].value);
		mx_buf_putc(b, '}');
	}
	mx_buf_putc(b, ']');
}

/* Writes `,"attributes":[...]` and `,"droppedAttributesCount":N` when set. */
static void js_attrs_field(struct mx_buf *b, const struct mx_attrs *at,
			   uint32_t dropped)
{
	if (at->n) {
		LIT(b, ",\"attributes\":");
		js_attrs(b, at);
	}
	if (dropped)
		mx_buf_printf(b, ",\"droppedAttributesCount\":%" PRIu32, dropped);
}

static void js_event(struct mx_buf *b, const struct mx_event *e)
{
	LIT(b, "{\"timeUnixNano\":");
	js_u64str(b, e->time_ns);
	LIT(b, ",\"name\":");
	js_str(b, e->name);
	js_attrs_field(b, &e->attrs, e->dropped_attrs);
	mx_buf_putc(b, '}');
}

static void js_link(struct mx_buf *b, const struct mx_link *l)
{
	LIT(b, "{\"traceId\":");
	js_hex(b, l->trace_id, 16);
	LIT(b, ",\"spanId\":");
	js_hex(b, l->span_id, 8);
	if (l->trace_state.len) {
		LIT(b, ",\"traceState\":");
		js_str(b, l->trace_state);
	}
	js_attrs_field(b, &l->attrs, l->dropped_attrs);
	if (l->flags)
		mx_buf_printf(b, ",\"flags\":%" PRIu32, l->flags);
	mx_buf_putc(b, '}');
}

static void js_span(struct mx_buf *b, const struct mx_span *s)
{
	LIT(b, "{\"traceId\":");
	js_hex(b, s->trace_id, 16);
	LIT(b, ",\"spanId\":");
	js_hex(b, s->span_id, 8);
	if (s->trace_state.len) {
		LIT(b, ",\"traceState\":");
		js_str(b, s->trace_state);
	}
	if (!mx_id_is_zero(s->parent_span_id, 8)) {
		LIT(b, ",\"parentSpanId\":");
		js_hex(b, s->parent_span_id, 8);
	}
	if (s->flags)
		mx_buf_printf(b, ",\"flags\":%" PRIu32, s->flags);
	LIT(b, ",\"name\":");
	js_str(b, s->name);
	mx_buf_printf(b, ",\"kind\":%u,\"startTimeUnixNano\":", s->kind);
	js_u64str(b, s->start_ns);
	LIT(b, ",\"endTimeUnixNano\":");
	js_u64str(b, s->end_ns);
	js_attrs_field(b, &s->attrs, s->dropped_attrs);
	if (s->n_events) {
		LIT(b, ",\"events\":[");
		for (uint32_t i = 0; i < s->n_events; i++) {
			if (i)
				mx_buf_putc(b, ',');
			js_event(b, &s->events[i]);
		}
		mx_buf_putc(b, ']');
	}
	if (s->dropped_events)
		mx_buf_printf(b, ",\"droppedEventsCount\":%" PRIu32, s->dropped_events);
	if (s->n_links) {
		LIT(b, ",\"links\":[");
		for (uint32_t i = 0; i < s->n_links; i++) {
			if (i)
				mx_buf_putc(b, ',');
			js_link(b, &s->links[i]);
		}
		mx_buf_putc(b, ']');
	}
	if (s->dropped_links)
		mx_buf_printf(b, ",\"droppedLinksCount\":%" PRIu32, s->dropped_links);
	LIT(b, ",\"status\":{");
	if (s->status_message.len) {
		LIT(b, "\"message\":");
		js_str(b, s->status_message);
		if (s->status_code)
			mx_buf_putc(b, ',');
	}
	if (s->status_code)
		mx_buf_printf(b, "\"code\":%u", s->status_code);
	LIT(b, "}}");
}

static void js_scope(struct mx_buf *b, const struct mx_scope *sc)
{
	LIT(b, "\"scope\":{\"name\":");
	js_str(b, sc->name);
	if (sc->version.len) {
		LIT(b, ",\"version\":");
		js_str(b, sc->version);
	}
	js_attrs_field(b, &sc->attrs, sc->dropped_attrs);
	LIT(b, "},");
}

/* Writes one ScopeSpans object for spans [from, to). */
static void js_scope_spans(struct mx_buf *b, const struct mx_span *spans,
			   uint32_t from, uint32_t to)
{
	const struct mx_scope *sc = spans[from].scope;
	mx_buf_putc(b, '{');
	if (sc)
		js_scope(b, sc);
	LIT(b, "\"spans\":[");
	for (uint32_t i = from; i < to; i++) {
		if (i > from)
			mx_buf_putc(b, ',');
		js_span(b, &spans[i]);
	}
	mx_buf_putc(b, ']');
	if (sc && sc->schema_url.len) {
		LIT(b, ",\"schemaUrl\":");
		js_str(b, sc->schema_url);
	}
	mx_buf_putc(b, '}');
}

/* Writes one ResourceSpans object for spans [from, to). */
static void js_resource_spans(struct mx_buf *b, const struct mx_span *spans,
			      uint32_t from, uint32_t to)
{
	const struct mx_resource *res = spans[from].resource;
	mx_buf_putc(b, '{');
	if (res) {
		LIT(b, "\"resource\":{\"attributes\":");
		js_attrs(b, &res->attrs);
		if (res->dropped_attrs)
			mx_buf_printf(b, ",\"droppedAttributesCount\":%" PRIu32,
				      res->dropped_attrs);
		LIT(b, "},");
	}
	LIT(b, "\"scopeSpans\":[");
	uint32_t k = from;
	while (k < to) {
		const struct mx_scope *sc = spans[k].scope;
		uint32_t m = k + 1;
		while (m < to && spans[m].scope == sc)
			m++;
		if (k > from)
			mx_buf_putc(b, ',');
		js_scope_spans(b, spans, k, m);
		k = m;
	}
	mx_buf_putc(b, ']');
	if (res && res->schema_url.len) {
		LIT(b, ",\"schemaUrl\":");
		js_str(b, res->schema_url);
	}
	mx_buf_putc(b, '}');
}

int mx_otlp_encode_json(const struct mx_batch *b, struct mx_buf *out)
{
	LIT(out, "{\"resourceSpans\":[");
	uint32_t i = 0;
	while (i < b->n_spans) {
		const struct mx_resource *res = b->spans[i].resource;
		uint32_t j = i + 1;
		while (j < b->n_spans && b->spans[j].resource == res)
			j++;
		if (i)
			mx_buf_putc(out, ',');
		js_resource_spans(out, b->spans, i, j);
		i = j;
		if (out->failed)
			break;
	}
	LIT(out, "]}");
	return out->failed ? MX_ENOMEM : MX_OK;
}
