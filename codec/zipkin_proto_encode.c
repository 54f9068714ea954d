/*
 * zipkin_proto_encode.c - model -> Zipkin proto3 ListOfSpans.
 *
 * Hand-written wire format on an mx_buf (field table: wire-protocols.md
 * 1.3). Each span is written into a buffer of its own and then appended as
 * field 1 of ListOfSpans with its length; each sub-message inside a span
 * (endpoint, annotation, tag entry) is built in a second buffer and then
 * appended to the span the same way. Fields at their default are omitted;
 * the trace id is 8 bytes when its high half is zero, else 16; addresses
 * are written as 4 or 16 bytes parsed from the model's text. The content of
 * each field is the same as in the JSON encoder (zipkin_out.c).
 */
#include <arpa/inet.h>
#include <string.h>

#include "../model/error.h"
#include "zipkin.h"
#include "zipkin_int.h"

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2 };

/* The output of one span: the span message and a buffer for the
 * sub-message being built. */
struct pw {
	struct mx_buf *span;
	struct mx_buf *sub;
	struct mx_buf *scratch; /* stringified values, annotation text */
};

static void pb_key(struct mx_buf *b, unsigned field, unsigned wt)
{
	mx_buf_varint(b, (uint64_t)field << 3 | wt);
}

static void pb_bytes(struct mx_buf *b, unsigned field, const void *p, size_t n)
{
	pb_key(b, field, WT_LEN);
	mx_buf_varint(b, n);
	mx_buf_append(b, p, n);
}

/* A string field, omitted when empty (proto3 default). */
static void pb_str(struct mx_buf *b, unsigned field, struct mx_str s)
{
	if (s.len)
		pb_bytes(b, field, s.ptr, s.len);
}

static void pb_fixed64(struct mx_buf *b, unsigned field, uint64_t v)
{
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(v >> (8 * i));
	pb_key(b, field, WT_I64);
	mx_buf_append(b, le, 8);
}

static void pb_varint(struct mx_buf *b, unsigned field, uint64_t v)
{
	pb_key(b, field, WT_VARINT);
	mx_buf_varint(b, v);
}

/* Appends the sub-message built in w->sub as field `field` of the span. */
static void pw_close(struct pw *w, unsigned field)
{
	pb_bytes(w->span, field, w->sub->data, w->sub->len);
	if (w->sub->failed)
		w->span->failed = true;
	mx_buf_reset(w->sub);
}

/* Parses an address text as `family` into `bin`; false when it does not. */
static bool ip_bytes(struct mx_str text, int family, uint8_t *bin)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	if (!text.len || text.len >= sizeof(tmp))
		return false;
	memcpy(tmp, text.ptr, text.len);
	tmp[text.len] = '\0';
	return inet_pton(family, tmp, bin) == 1;
}

/* An Endpoint as field `field`; addresses that do not parse are left out. */
static void put_endpoint(struct pw *w, unsigned field,
			 const struct mx_endpoint *ep)
{
	uint8_t bin[16];
	pb_str(w->sub, 1, ep->service_name);
	if (ip_bytes(ep->ipv4, AF_INET, bin))
		pb_bytes(w->sub, 2, bin, 4);
	if (ip_bytes(ep->ipv6, AF_INET6, bin))
		pb_bytes(w->sub, 3, bin, 16);
	if (ep->port)
		pb_varint(w->sub, 4, ep->port);
	pw_close(w, field);
}

static void put_tag(void *ctx, struct mx_str k, struct mx_str v)
{
	struct pw *w = ctx;
	pb_str(w->sub, 1, k);
	pb_str(w->sub, 2, v);
	pw_close(w, 11);
}

static int put_span(struct pw *w, const struct mx_span *s)
{
	static const uint8_t kinds[] = {
		[MX_KIND_CLIENT] = 1, [MX_KIND_SERVER] = 2,
		[MX_KIND_PRODUCER] = 3, [MX_KIND_CONSUMER] = 4,
	};
	struct mx_buf *b = w->span;
	struct mx_endpoint ep;
	uint64_t ts, dur;
	bool short_id = mx_id_is_zero(s->trace_id, 8);
	pb_bytes(b, 1, s->trace_id + (short_id ? 8 : 0), short_id ? 8 : 16);
	if (!mx_id_is_zero(s->parent_span_id, 8))
		pb_bytes(b, 2, s->parent_span_id, 8);
	pb_bytes(b, 3, s->span_id, 8);
	if (s->kind < sizeof(kinds) && kinds[s->kind])
		pb_varint(b, 4, kinds[s->kind]);
	pb_str(b, 5, s->name);
	if (mx_zk_out_times(s, &ts, &dur)) {
		pb_fixed64(b, 6, ts);
		pb_varint(b, 7, dur);
	}
	mx_zk_out_local(s, &ep);
	if (mx_zk_ep_set(&ep))
		put_endpoint(w, 8, &ep);
	if (mx_zk_out_remote(s, &ep))
		put_endpoint(w, 9, &ep);
	for (uint32_t i = 0; i < s->n_events; i++) {
		struct mx_str txt;
		uint64_t t = s->events[i].time_ns / 1000;
		if (mx_zk_event_text(&s->events[i], w->scratch, &txt))
			return MX_ENOMEM;
		if (t)
			pb_fixed64(w->sub, 1, t);
		pb_str(w->sub, 2, txt);
		pw_close(w, 10);
	}
	if (mx_zk_out_tags(s, w->scratch, put_tag, w))
		return MX_ENOMEM;
	if (s->mx_flags & MX_SPAN_F_DEBUG)
		pb_varint(b, 12, 1);
	if (s->mx_flags & MX_SPAN_F_SHARED)
		pb_varint(b, 13, 1);
	return b->failed ? MX_ENOMEM : MX_OK;
}

int mx_zipkin_proto_encode(const struct mx_batch *b, struct mx_buf *out)
{
	struct mx_buf span, sub, scratch;
	struct pw w = { &span, &sub, &scratch };
	int rc = MX_OK;
	mx_buf_init(&span, out->max);
	mx_buf_init(&sub, out->max);
	mx_buf_init(&scratch, out->max);
	for (uint32_t i = 0; rc == MX_OK && i < b->n_spans; i++) {
		mx_buf_reset(&span);
		rc = put_span(&w, &b->spans[i]);
		if (rc == MX_OK)
			pb_bytes(out, 1, span.data, span.len);
		if (out->failed)
			rc = MX_ENOMEM;
	}
	mx_buf_free(&span);
	mx_buf_free(&sub);
	mx_buf_free(&scratch);
	return rc;
}
