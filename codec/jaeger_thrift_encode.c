/*
 * jaeger_thrift_encode.c - model -> jaeger.thrift `Batch` (binary or compact
 * protocol), the inverse of jaeger_thrift_decode.c, written the way the
 * OpenTelemetry Jaeger exporter writes it: kind, status and scope as tags,
 * the parent as parentSpanId and a CHILD_OF reference, links as FOLLOWS_FROM
 * references, events as logs with an `event` field. Mapping:
 * model/MAPPING.md, "Jaeger thrift".
 */
#include <string.h>

#include "../model/error.h"
#include "json_util.h"
#include "thrift.h"

static int64_t get_id(const uint8_t *p)
{
	uint64_t u = 0;
	for (int i = 0; i < 8; i++)
		u = u << 8 | p[i];
	return (int64_t)u;
}

static void w_str_field(struct mx_thr_wr *w, int16_t id, const char *p,
			uint32_t n)
{
	mx_thr_w_field(w, MX_THR_STRING, id);
	mx_thr_w_binary(w, p, n);
}

static void w_i64_field(struct mx_thr_wr *w, int16_t id, int64_t v)
{
	mx_thr_w_field(w, MX_THR_I64, id);
	mx_thr_w_i64(w, v);
}

/* One Tag struct for key/value; arrays and maps become JSON strings. */
static void w_tag(struct mx_thr_wr *w, struct mx_buf *scratch,
		  struct mx_str key, const struct mx_value *v)
{
	mx_thr_w_struct_begin(w);
	w_str_field(w, 1, key.ptr, key.len);
	mx_thr_w_field(w, MX_THR_I32, 2);
	switch (v->type) {
	case MX_VAL_BOOL:
		mx_thr_w_i32(w, 2);
		mx_thr_w_bool_field(w, 5, v->u.b);
		break;
	case MX_VAL_INT:
		mx_thr_w_i32(w, 3);
		w_i64_field(w, 6, v->u.i);
		break;
	case MX_VAL_DOUBLE:
		mx_thr_w_i32(w, 1);
		mx_thr_w_field(w, MX_THR_DOUBLE, 4);
		mx_thr_w_double(w, v->u.d);
		break;
	case MX_VAL_BYTES:
		mx_thr_w_i32(w, 4);
		w_str_field(w, 7, v->u.s.ptr, v->u.s.len);
		break;
	case MX_VAL_STRING:
		mx_thr_w_i32(w, 0);
		w_str_field(w, 3, v->u.s.ptr, v->u.s.len);
		break;
	case MX_VAL_ARRAY: case MX_VAL_MAP:
		mx_buf_reset(scratch);
		mx_json_put_plain(scratch, v, 0);
		if (scratch->failed)
			w->b->failed = true;
		mx_thr_w_i32(w, 0);
		w_str_field(w, 3, (const char *)scratch->data,
			    (uint32_t)scratch->len);
		break;
	default:
		mx_thr_w_i32(w, 0);
		w_str_field(w, 3, "", 0);
		break;
	}
	mx_thr_w_struct_end(w);
}

static void w_stag(struct mx_thr_wr *w, struct mx_buf *scratch,
		   const char *key, struct mx_str s)
{
	struct mx_value v = { .type = MX_VAL_STRING };
	v.u.s = s;
	w_tag(w, scratch, (struct mx_str){ key, (uint32_t)strlen(key) }, &v);
}

static bool has_key(const struct mx_attrs *a, const char *key)
{
	size_t n = strlen(key);
	for (uint32_t i = 0; i < a->n; i++)
		if (mx_str_eq(a->items[i].key, key, n))
			return true;
	return false;
}

static const char *const kinds[] = { NULL, "internal", "server", "client",
				     "producer", "consumer" };

/* The derived tags of a span, each only when no attribute has its key. */
static uint32_t derived(const struct mx_span *s, const char **keys,
			struct mx_str *vals, bool *is_bool)
{
	uint32_t n = 0;
	const struct mx_attrs *a = &s->attrs;
#define ADD(k, v, b)                                                     \
	do {                                                             \
		if (!has_key(a, k)) {                                    \
			keys[n] = k;                                     \
			vals[n] = v;                                     \
			is_bool[n++] = b;                                \
		}                                                        \
	} while (0)
	if (s->kind >= 1 && s->kind <= 5)
		ADD("span.kind", ((struct mx_str){ kinds[s->kind],
			(uint32_t)strlen(kinds[s->kind]) }), false);
	if (s->status_code == MX_STATUS_OK)
		ADD("otel.status_code", MX_STR_LIT("OK"), false);
	if (s->status_code == MX_STATUS_ERROR) {
		ADD("otel.status_code", MX_STR_LIT("ERROR"), false);
		ADD("error", MX_STR_LIT(""), true);
		if (s->status_message.len)
			ADD("otel.status_description", s->status_message,
			    false);
	}
	if (s->scope && s->scope->name.len)
		ADD("otel.scope.name", s->scope->name, false);
	if (s->scope && s->scope->version.len)
		ADD("otel.scope.version", s->scope->version, false);
#undef ADD
	return n;
}

static void w_ref(struct mx_thr_wr *w, int32_t type, const uint8_t *tid,
		  const uint8_t *sid)
{
	mx_thr_w_struct_begin(w);
	mx_thr_w_field(w, MX_THR_I32, 1);
	mx_thr_w_i32(w, type);
	w_i64_field(w, 2, get_id(tid + 8));
	w_i64_field(w, 3, get_id(tid));
	w_i64_field(w, 4, get_id(sid));
	mx_thr_w_struct_end(w);
}

static bool link_child_of(const struct mx_link *l)
{
	struct mx_str t = mx_attrs_get_str(&l->attrs, "opentracing.ref_type");
	return mx_str_eq(t, "child_of", 8);
}

static void w_span(struct mx_thr_wr *w, struct mx_buf *scratch,
		   const struct mx_span *s)
{
	bool parent = !mx_id_is_zero(s->parent_span_id, 8);
	mx_thr_w_struct_begin(w);
	w_i64_field(w, 1, get_id(s->trace_id + 8));
	w_i64_field(w, 2, get_id(s->trace_id));
	w_i64_field(w, 3, get_id(s->span_id));
	w_i64_field(w, 4, get_id(s->parent_span_id));
	w_str_field(w, 5, s->name.ptr, s->name.len);
	if (parent || s->n_links) {
		mx_thr_w_field(w, MX_THR_LIST, 6);
		mx_thr_w_list(w, MX_THR_STRUCT, s->n_links + (parent ? 1 : 0));
		if (parent)
			w_ref(w, 0, s->trace_id, s->parent_span_id);
		for (uint32_t i = 0; i < s->n_links; i++)
			w_ref(w, link_child_of(&s->links[i]) ? 0 : 1,
			      s->links[i].trace_id, s->links[i].span_id);
	}
	mx_thr_w_field(w, MX_THR_I32, 7);
	mx_thr_w_i32(w, (int32_t)((s->flags & 1u) |
				  (s->mx_flags & MX_SPAN_F_DEBUG ? 2u : 0u)));
	w_i64_field(w, 8, (int64_t)(s->start_ns / 1000));
	w_i64_field(w, 9, s->end_ns > s->start_ns
				  ? (int64_t)((s->end_ns - s->start_ns) / 1000)
				  : 0);
	const char *dk[8];
	struct mx_str dv[8];
	bool db[8];
	uint32_t nd = derived(s, dk, dv, db);
	if (s->attrs.n + nd) {
		mx_thr_w_field(w, MX_THR_LIST, 10);
		mx_thr_w_list(w, MX_THR_STRUCT, s->attrs.n + nd);
		for (uint32_t i = 0; i < s->attrs.n; i++)
			w_tag(w, scratch, s->attrs.items[i].key,
			      &s->attrs.items[i].value);
		for (uint32_t i = 0; i < nd; i++) {
			if (db[i]) {
				struct mx_value t = { .type = MX_VAL_BOOL };
				t.u.b = true;
				w_tag(w, scratch, (struct mx_str){ dk[i],
					(uint32_t)strlen(dk[i]) }, &t);
			} else {
				w_stag(w, scratch, dk[i], dv[i]);
			}
		}
	}
	if (s->n_events) {
		mx_thr_w_field(w, MX_THR_LIST, 11);
		mx_thr_w_list(w, MX_THR_STRUCT, s->n_events);
		for (uint32_t i = 0; i < s->n_events; i++) {
			const struct mx_event *e = &s->events[i];
			mx_thr_w_struct_begin(w);
			w_i64_field(w, 1, (int64_t)(e->time_ns / 1000));
			mx_thr_w_field(w, MX_THR_LIST, 2);
			mx_thr_w_list(w, MX_THR_STRUCT, e->attrs.n + 1);
			w_stag(w, scratch, "event", e->name);
			for (uint32_t k = 0; k < e->attrs.n; k++)
				w_tag(w, scratch, e->attrs.items[k].key,
				      &e->attrs.items[k].value);
			mx_thr_w_struct_end(w);
		}
	}
	mx_thr_w_struct_end(w);
}

static void w_batch(struct mx_thr_wr *w, struct mx_buf *scratch,
		    const struct mx_batch *b, uint32_t first, uint32_t *consumed)
{
	uint32_t n = 0;
	const struct mx_resource *res = first < b->n_spans
						? b->spans[first].resource
						: NULL;
	while (first + n < b->n_spans && b->spans[first + n].resource == res)
		n++;
	*consumed = n;
	mx_thr_w_struct_begin(w);
	mx_thr_w_field(w, MX_THR_STRUCT, 1);
	mx_thr_w_struct_begin(w);
	struct mx_str svc = n ? mx_span_service(&b->spans[first])
			      : MX_STR_LIT("unknown_service");
	w_str_field(w, 1, svc.ptr, svc.len);
	uint32_t nt = 0;
	if (res)
		for (uint32_t i = 0; i < res->attrs.n; i++)
			if (!mx_str_eq(res->attrs.items[i].key, "service.name",
				       12))
				nt++;
	if (nt) {
		mx_thr_w_field(w, MX_THR_LIST, 2);
		mx_thr_w_list(w, MX_THR_STRUCT, nt);
		for (uint32_t i = 0; i < res->attrs.n; i++)
			if (!mx_str_eq(res->attrs.items[i].key, "service.name",
				       12))
				w_tag(w, scratch, res->attrs.items[i].key,
				      &res->attrs.items[i].value);
	}
	mx_thr_w_struct_end(w);
	mx_thr_w_field(w, MX_THR_LIST, 2);
	mx_thr_w_list(w, MX_THR_STRUCT, n);
	for (uint32_t i = 0; i < n && !w->b->failed; i++)
		w_span(w, scratch, &b->spans[first + i]);
	mx_thr_w_struct_end(w);
}

static int encode(enum mx_thrift_proto proto, const struct mx_batch *b,
		  uint32_t first, uint32_t *consumed, struct mx_buf *out,
		  bool msg)
{
	struct mx_thr_wr w;
	struct mx_buf scratch;
	size_t start = out->len;
	mx_buf_init(&scratch, out->max);
	mx_thr_wr_init(&w, proto, out);
	if (msg) {
		mx_thr_w_msg(&w, "emitBatch", MX_THR_ONEWAY);
		mx_thr_w_struct_begin(&w);
		mx_thr_w_field(&w, MX_THR_STRUCT, 1);
	}
	w_batch(&w, &scratch, b, first, consumed);
	if (msg)
		mx_thr_w_struct_end(&w);
	mx_buf_free(&scratch);
	if (out->failed) {
		if (out->len > start)
			out->len = start;
		return MX_ENOMEM;
	}
	return MX_OK;
}

int mx_jaeger_thrift_encode_batch(enum mx_thrift_proto proto,
				  const struct mx_batch *b, uint32_t first,
				  uint32_t *consumed, struct mx_buf *out)
{
	return encode(proto, b, first, consumed, out, false);
}

int mx_jaeger_thrift_encode_emit_batch(enum mx_thrift_proto proto,
				       const struct mx_batch *b, uint32_t first,
				       uint32_t *consumed, struct mx_buf *out)
{
	return encode(proto, b, first, consumed, out, true);
}
