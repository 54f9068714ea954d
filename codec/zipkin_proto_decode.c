/*
 * zipkin_proto_decode.c - Zipkin proto3 ListOfSpans -> model.
 *
 * protobuf-c unpacks with an allocator that takes its memory from the batch
 * arena (free is a no-op), so model strings point straight into the
 * unpacked message. The message nests at most three levels (ListOfSpans,
 * Span, Endpoint/Annotation/tag entry) and has no recursive type, so no
 * nesting pre-scan is needed. Mapping: model/MAPPING.md; trace ids of 8 or
 * 16 bytes, 8-byte ids; a wrong length or an all-zero id rejects the span
 * (counted), as do the caps of struct mx_decode_limits.
 */
#include <string.h>

#include "zipkin/zipkin.pb-c.h"

#include "../model/error.h"
#include "zipkin.h"
#include "zipkin_int.h"

typedef Zipkin__Proto3__ListOfSpans pb_list;
typedef Zipkin__Proto3__Span pb_span;
typedef Zipkin__Proto3__Endpoint pb_endpoint;

struct zpd {
	struct mx_zk *zk;
	bool oom; /* the arena refused an allocation from protobuf-c */
};

static void *zpd_alloc(void *data, size_t size)
{
	struct zpd *d = data;
	void *p = mx_arena_alloc(&d->zk->b->arena, size);
	if (!p)
		d->oom = true;
	return p;
}

static void zpd_free(void *data, void *ptr)
{
	(void)data;
	(void)ptr; /* the arena frees everything with the batch */
}

/* A protobuf-c string (NUL-terminated, in the arena) as a model string. */
static int pstr(struct mx_zk *zk, const char *s, struct mx_str *out)
{
	return mx_zk_str(zk, s ? s : "", s ? strlen(s) : 0, false, out);
}

static int pendpoint(struct mx_zk *zk, const pb_endpoint *e,
		     struct mx_endpoint *out)
{
	memset(out, 0, sizeof(*out));
	if (!e)
		return MX_OK;
	int rc = pstr(zk, e->service_name, &out->service_name);
	if (!rc)
		rc = mx_zk_ip_bytes(zk, e->ipv4.data, e->ipv4.len == 4 ? 4 : 0,
				    &out->ipv4);
	if (!rc)
		rc = mx_zk_ip_bytes(zk, e->ipv6.data, e->ipv6.len == 16 ? 16 : 0,
				    &out->ipv6);
	if (e->port > 0 && e->port <= 65535)
		out->port = (uint16_t)e->port;
	return rc;
}

static uint8_t pkind(int k)
{
	switch (k) {
	case ZIPKIN__PROTO3__SPAN__KIND__CLIENT:
		return MX_KIND_CLIENT;
	case ZIPKIN__PROTO3__SPAN__KIND__SERVER:
		return MX_KIND_SERVER;
	case ZIPKIN__PROTO3__SPAN__KIND__PRODUCER:
		return MX_KIND_PRODUCER;
	case ZIPKIN__PROTO3__SPAN__KIND__CONSUMER:
		return MX_KIND_CONSUMER;
	default:
		return MX_KIND_UNSPECIFIED;
	}
}

/* Fills everything but the ids; MX_OK, ZK_REJECT or an error. */
static int pfill(struct mx_zk *zk, const pb_span *ps, struct mx_zk_span *st)
{
	struct mx_span *s = st->s;
	s->kind = pkind(ps->kind);
	if (ps->debug)
		s->mx_flags |= MX_SPAN_F_DEBUG;
	if (ps->shared)
		s->mx_flags |= MX_SPAN_F_SHARED;
	int rc = pstr(zk, ps->name, &s->name);
	if (!rc)
		rc = mx_zk_times(zk, s, ps->timestamp != 0, ps->timestamp,
				 ps->duration);
	if (!rc)
		rc = pendpoint(zk, ps->local_endpoint, &s->local);
	if (!rc)
		rc = pendpoint(zk, ps->remote_endpoint, &s->remote);
	for (size_t i = 0; !rc && i < ps->n_annotations; i++) {
		const char *v = ps->annotations[i]->value;
		rc = mx_zk_annotation(zk, st, ps->annotations[i]->timestamp,
				      v ? v : "", v ? strlen(v) : 0, false);
	}
	for (size_t i = 0; !rc && i < ps->n_tags; i++) {
		const char *k = ps->tags[i]->key, *v = ps->tags[i]->value;
		rc = mx_zk_tag(zk, st, k ? k : "", k ? strlen(k) : 0, v ? v : "",
			       v ? strlen(v) : 0, false);
	}
	return rc;
}

static int pspan(struct mx_zk *zk, const pb_span *ps)
{
	uint8_t tid[16] = { 0 };
	const char *bad = NULL;
	struct mx_zk_span st;
	if (ps->trace_id.len == 16)
		memcpy(tid, ps->trace_id.data, 16);
	else if (ps->trace_id.len == 8)
		memcpy(tid + 8, ps->trace_id.data, 8);
	if (ps->trace_id.len != 8 && ps->trace_id.len != 16)
		bad = "trace_id must be 8 or 16 bytes";
	else if (mx_id_is_zero(tid, 16))
		bad = "trace_id is all zero";
	else if (ps->id.len != 8 || mx_id_is_zero(ps->id.data, 8))
		bad = "id must be 8 bytes, not all zero";
	else if (ps->parent_id.len != 0 && ps->parent_id.len != 8)
		bad = "parent_id must be empty or 8 bytes";
	if (bad) {
		mx_zk_count_reject(zk, bad);
		return MX_OK;
	}
	uint32_t first = zk->b->n_spans;
	struct mx_span *s = mx_zk_add_span(zk, tid, ps->id.data,
					   ps->parent_id.len == 8 ? ps->parent_id.data : NULL);
	if (!s)
		return MX_ENOMEM;
	int rc = mx_zk_begin(zk, &st, s, ps->n_tags, ps->n_annotations);
	if (!rc)
		rc = pfill(zk, ps, &st);
	if (!rc)
		rc = mx_zk_finish(zk, &st);
	return mx_zk_settle(zk, first, rc);
}

int mx_zipkin_proto_decode(const uint8_t *buf, size_t len,
			   const struct mx_decode_limits *lim,
			   struct mx_batch *out, struct mx_errmsg *err)
{
	struct mx_zk zk;
	int rc = MX_OK;
	if (len == 0)
		return MX_OK; /* an empty body is a success */
	mx_zk_init(&zk, out, lim, err);
	struct zpd d = { .zk = &zk };
	ProtobufCAllocator al = { zpd_alloc, zpd_free, &d };
	pb_list *l = zipkin__proto3__list_of_spans__unpack(&al, len, buf);
	if (!l) {
		if (d.oom) {
			rc = MX_ENOMEM;
		} else {
			mx_errmsg_set(err, "protobuf: not a valid zipkin.proto3.ListOfSpans");
			rc = MX_EINVAL;
		}
		goto out;
	}
	if (l->n_spans > UINT32_MAX / 2) {
		rc = MX_ENOMEM;
		goto out;
	}
	rc = mx_batch_reserve(out, (uint32_t)l->n_spans);
	for (size_t i = 0; rc == MX_OK && i < l->n_spans; i++)
		rc = pspan(&zk, l->spans[i]);
out:
	if (rc == MX_ENOMEM)
		mx_errmsg_set(err, "request too large for the batch memory cap");
	mx_zk_done(&zk);
	return rc;
}
