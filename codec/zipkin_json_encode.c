/*
 * zipkin_json_encode.c - model -> Zipkin v2 JSON.
 *
 * Strict output, as Zipkin's own writer (wire-protocols.md 1.1): keys in
 * the order traceId, parentId, id, kind, name, timestamp, duration,
 * localEndpoint, remoteEndpoint, annotations, tags, debug, shared; lower
 * hex ids (a trace id of 16 digits when its high half is zero); integer
 * microseconds; absent fields omitted; debug and shared only when true.
 * What each field is made of (endpoints, tags, annotation text) comes from
 * zipkin_out.c, shared with the proto encoder.
 */
#include <inttypes.h>

#include "../model/error.h"
#include "json_util.h"
#include "zipkin.h"
#include "zipkin_int.h"

#define LIT(b, s) mx_buf_append((b), (s), sizeof(s) - 1)

static void put_mxstr(struct mx_buf *b, struct mx_str s)
{
	mx_json_put_str(b, s.ptr, s.len);
}

/* Writes `"key":` with a comma before all but the first member. */
static void put_key(struct mx_buf *b, bool *first, const char *key)
{
	if (!*first)
		mx_buf_putc(b, ',');
	*first = false;
	mx_buf_printf(b, "\"%s\":", key);
}

static void put_endpoint(struct mx_buf *b, const struct mx_endpoint *ep)
{
	bool first = true;
	mx_buf_putc(b, '{');
	if (ep->service_name.len) {
		put_key(b, &first, "serviceName");
		put_mxstr(b, ep->service_name);
	}
	if (ep->ipv4.len) {
		put_key(b, &first, "ipv4");
		put_mxstr(b, ep->ipv4);
	}
	if (ep->ipv6.len) {
		put_key(b, &first, "ipv6");
		put_mxstr(b, ep->ipv6);
	}
	if (ep->port) {
		put_key(b, &first, "port");
		mx_buf_printf(b, "%u", ep->port);
	}
	mx_buf_putc(b, '}');
}

struct tag_ctx {
	struct mx_buf *b;
	bool any;
};

static void put_tag(void *ctx, struct mx_str k, struct mx_str v)
{
	struct tag_ctx *t = ctx;
	if (t->any)
		mx_buf_putc(t->b, ',');
	else
		LIT(t->b, ",\"tags\":{");
	t->any = true;
	put_mxstr(t->b, k);
	mx_buf_putc(t->b, ':');
	put_mxstr(t->b, v);
}

/* Writes the span with `scratch` for stringified values. */
static int put_span(struct mx_buf *b, struct mx_buf *scratch,
		    const struct mx_span *s)
{
	char hex[33];
	struct mx_endpoint ep;
	uint64_t ts, dur;
	size_t n = mx_trace_id_to_hex(s->trace_id, hex);
	LIT(b, "{\"traceId\":\"");
	mx_buf_append(b, hex, n);
	if (!mx_id_is_zero(s->parent_span_id, 8)) {
		mx_id_to_hex(s->parent_span_id, 8, hex);
		LIT(b, "\",\"parentId\":\"");
		mx_buf_append(b, hex, 16);
	}
	mx_id_to_hex(s->span_id, 8, hex);
	LIT(b, "\",\"id\":\"");
	mx_buf_append(b, hex, 16);
	mx_buf_putc(b, '"');
	const char *kind = mx_zk_kind_name(s->kind);
	if (kind)
		mx_buf_printf(b, ",\"kind\":\"%s\"", kind);
	if (s->name.len) {
		LIT(b, ",\"name\":");
		put_mxstr(b, s->name);
	}
	if (mx_zk_out_times(s, &ts, &dur))
		mx_buf_printf(b, ",\"timestamp\":%" PRIu64 ",\"duration\":%" PRIu64,
			      ts, dur);
	mx_zk_out_local(s, &ep);
	if (mx_zk_ep_set(&ep)) {
		LIT(b, ",\"localEndpoint\":");
		put_endpoint(b, &ep);
	}
	if (mx_zk_out_remote(s, &ep)) {
		LIT(b, ",\"remoteEndpoint\":");
		put_endpoint(b, &ep);
	}
	for (uint32_t i = 0; i < s->n_events; i++) {
		struct mx_str txt;
		if (mx_zk_event_text(&s->events[i], scratch, &txt))
			return MX_ENOMEM;
		mx_buf_puts(b, i ? ",{\"timestamp\":" : ",\"annotations\":[{\"timestamp\":");
		mx_buf_printf(b, "%" PRIu64 ",\"value\":", s->events[i].time_ns / 1000);
		put_mxstr(b, txt);
		mx_buf_putc(b, '}');
	}
	if (s->n_events)
		mx_buf_putc(b, ']');
	struct tag_ctx t = { b, false };
	if (mx_zk_out_tags(s, scratch, put_tag, &t))
		return MX_ENOMEM;
	if (t.any)
		mx_buf_putc(b, '}');
	if (s->mx_flags & MX_SPAN_F_DEBUG)
		LIT(b, ",\"debug\":true");
	if (s->mx_flags & MX_SPAN_F_SHARED)
		LIT(b, ",\"shared\":true");
	mx_buf_putc(b, '}');
	return b->failed ? MX_ENOMEM : MX_OK;
}

int mx_zipkin_json_encode_span(const struct mx_span *s, struct mx_buf *out)
{
	struct mx_buf scratch;
	mx_buf_init(&scratch, out->max);
	int rc = put_span(out, &scratch, s);
	mx_buf_free(&scratch);
	return rc;
}

int mx_zipkin_json_encode_spans(const struct mx_span *spans, size_t n,
				struct mx_buf *out)
{
	struct mx_buf scratch;
	int rc = MX_OK;
	mx_buf_init(&scratch, out->max);
	mx_buf_putc(out, '[');
	for (size_t i = 0; rc == MX_OK && i < n; i++) {
		if (i)
			mx_buf_putc(out, ',');
		rc = put_span(out, &scratch, &spans[i]);
	}
	mx_buf_putc(out, ']');
	mx_buf_free(&scratch);
	if (rc == MX_OK && out->failed)
		rc = MX_ENOMEM;
	return rc;
}
