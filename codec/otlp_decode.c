/*
 * otlp_decode.c - binary OTLP ExportTraceServiceRequest -> model.
 *
 * Three steps: mx_pb_scan_trace_request() bounds AnyValue nesting and checks
 * the wire structure (protobuf-c has no recursion limit); protobuf-c unpacks
 * with an allocator that takes its memory from the batch arena (free is a
 * no-op, everything dies with the batch); then the unpacked tree is
 * converted to the model. Because the unpacked strings live in the same
 * arena, model strings point straight into them (no copy). Resources and
 * scopes are allocated once per ResourceSpans / ScopeSpans and shared by
 * pointer. Spans with bad ids or over a cap of struct mx_decode_limits are
 * rejected one by one (counted in rejected_spans); a link with bad ids is
 * dropped and counted in the span's dropped_links.
 */
#include <stdbool.h>
#include <string.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#include "../model/error.h"
#include "otlp.h"
#include "pb_scan.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest pb_request;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans pb_rspans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans pb_sspans;
typedef Opentelemetry__Proto__Trace__V1__InstrumentationLibrarySpans pb_ilspans;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event pb_event;
typedef Opentelemetry__Proto__Trace__V1__Span__Link pb_link;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;

/* A conversion step's verdict besides MX_OK and negative errors: the span
 * (or every span of the resource/scope) is rejected; `why` says why. */
#define PD_REJECT 1

struct pd {
	struct mx_batch *b;
	const struct mx_decode_limits *lim;
	struct mx_errmsg *err;
	const char *why;  /* rejection reason (static text) */
	size_t why_n;     /* the number that goes with it */
	bool oom;         /* the arena refused an allocation from protobuf-c */
};

static void *pd_alloc(void *data, size_t size)
{
	struct pd *pd = data;
	void *p = mx_arena_alloc(&pd->b->arena, size);
	if (!p)
		pd->oom = true;
	return p;
}

static void pd_free(void *data, void *ptr)
{
	(void)data;
	(void)ptr; /* the arena frees everything with the batch */
}

static int pd_reject(struct pd *pd, const char *why, size_t n)
{
	pd->why = why;
	pd->why_n = n;
	return PD_REJECT;
}

static int pd_str(struct pd *pd, const char *s, struct mx_str *out)
{
	if (!s || !*s) {
		*out = (struct mx_str){ "", 0 };
		return MX_OK;
	}
	size_t n = strlen(s);
	if (n > pd->lim->max_value_bytes)
		return pd_reject(pd, "string over the value cap", n);
	*out = (struct mx_str){ s, (uint32_t)n };
	return MX_OK;
}

static int pd_attrs(struct pd *pd, pb_kv *const *kv, size_t n,
		    struct mx_attrs *out, uint32_t depth);

static int pd_value(struct pd *pd, const pb_any *v, struct mx_value *out,
		    uint32_t depth)
{
	memset(out, 0, sizeof(*out));
	if (!v)
		return MX_OK; /* MX_VAL_EMPTY */
	if (depth > pd->lim->max_depth)
		return MX_EDEPTH; /* the pre-scan already refused this */
	switch (v->value_case) {
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
		out->type = MX_VAL_STRING;
		return pd_str(pd, v->string_value, &out->u.s);
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
		out->type = MX_VAL_BOOL;
		out->u.b = v->bool_value != 0;
		return MX_OK;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
		out->type = MX_VAL_INT;
		out->u.i = v->int_value;
		return MX_OK;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
		out->type = MX_VAL_DOUBLE;
		out->u.d = v->double_value;
		return MX_OK;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
		out->type = MX_VAL_BYTES;
		if (v->bytes_value.len > pd->lim->max_value_bytes)
			return pd_reject(pd, "bytes value over the value cap",
					 v->bytes_value.len);
		out->u.s.ptr = v->bytes_value.len ? (const char *)v->bytes_value.data : "";
		out->u.s.len = (uint32_t)v->bytes_value.len;
		return MX_OK;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE: {
		out->type = MX_VAL_ARRAY;
		const Opentelemetry__Proto__Common__V1__ArrayValue *a = v->array_value;
		if (!a || a->n_values == 0)
			return MX_OK;
		if (a->n_values > UINT32_MAX)
			return MX_ENOMEM;
		struct mx_value *items = mx_arena_alloc(&pd->b->arena,
						a->n_values * sizeof(*items));
		if (!items)
			return MX_ENOMEM;
		for (size_t i = 0; i < a->n_values; i++) {
			int rc = pd_value(pd, a->values[i], &items[i], depth + 1);
			if (rc)
				return rc;
		}
		out->u.arr.items = items;
		out->u.arr.n = (uint32_t)a->n_values;
		return MX_OK;
	}
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE: {
		out->type = MX_VAL_MAP;
		const Opentelemetry__Proto__Common__V1__KeyValueList *l = v->kvlist_value;
		if (!l || l->n_values == 0)
			return MX_OK;
		struct mx_attrs m;
		int rc = pd_attrs(pd, l->values, l->n_values, &m, depth + 1);
		out->u.map.items = m.items;
		out->u.map.n = m.n;
		return rc;
	}
	default:
		return MX_OK; /* nothing set, or a field unknown to us: empty */
	}
}

/* Converts a KeyValue list; `depth` is the depth its values get. Lists of
 * nested maps are not held to max_attrs (the arena cap bounds them). */
static int pd_attrs(struct pd *pd, pb_kv *const *kv, size_t n,
		    struct mx_attrs *out, uint32_t depth)
{
	out->items = NULL;
	out->n = 0;
	if (n == 0)
		return MX_OK;
	if (depth == 1 && n > pd->lim->max_attrs)
		return pd_reject(pd, "attributes over the attribute cap", n);
	if (n > UINT32_MAX)
		return MX_ENOMEM;
	struct mx_attr *items = mx_arena_alloc(&pd->b->arena, n * sizeof(*items));
	if (!items)
		return MX_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int rc = pd_str(pd, kv[i]->key, &items[i].key);
		if (rc)
			return rc;
		rc = pd_value(pd, kv[i]->value, &items[i].value, depth);
		if (rc)
			return rc;
	}
	out->items = items;
	out->n = (uint32_t)n;
	return MX_OK;
}

static int pd_events(struct pd *pd, const pb_span *ps, struct mx_span *s)
{
	size_t n = ps->n_events;
	if (n == 0)
		return MX_OK;
	if (n > pd->lim->max_events)
		return pd_reject(pd, "events over the event cap", n);
	struct mx_event *ev = mx_arena_alloc(&pd->b->arena, n * sizeof(*ev));
	if (!ev)
		return MX_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const pb_event *pe = ps->events[i];
		ev[i].time_ns = pe->time_unix_nano;
		ev[i].dropped_attrs = pe->dropped_attributes_count;
		int rc = pd_str(pd, pe->name, &ev[i].name);
		if (!rc)
			rc = pd_attrs(pd, pe->attributes, pe->n_attributes,
				      &ev[i].attrs, 1);
		if (rc)
			return rc;
	}
	s->events = ev;
	s->n_events = (uint32_t)n;
	return MX_OK;
}

static int pd_links(struct pd *pd, const pb_span *ps, struct mx_span *s)
{
	size_t n = ps->n_links;
	if (n == 0)
		return MX_OK;
	if (n > pd->lim->max_links)
		return pd_reject(pd, "links over the link cap", n);
	struct mx_link *lk = mx_arena_alloc(&pd->b->arena, n * sizeof(*lk));
	if (!lk)
		return MX_ENOMEM;
	uint32_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const pb_link *pl = ps->links[i];
		if (pl->trace_id.len != 16 || pl->span_id.len != 8 ||
		    mx_id_is_zero(pl->trace_id.data, 16) ||
		    mx_id_is_zero(pl->span_id.data, 8)) {
			s->dropped_links++;
			continue;
		}
		struct mx_link *l = &lk[k];
		memcpy(l->trace_id, pl->trace_id.data, 16);
		memcpy(l->span_id, pl->span_id.data, 8);
		l->flags = pl->flags;
		l->dropped_attrs = pl->dropped_attributes_count;
		int rc = pd_str(pd, pl->trace_state, &l->trace_state);
		if (!rc)
			rc = pd_attrs(pd, pl->attributes, pl->n_attributes,
				      &l->attrs, 1);
		if (rc)
			return rc;
		k++;
	}
	s->links = k ? lk : NULL;
	s->n_links = k;
	return MX_OK;
}

/* Fills `s` from `ps`; returns MX_OK, PD_REJECT or a negative error. */
static int pd_span_fill(struct pd *pd, const pb_span *ps, struct mx_span *s)
{
	memcpy(s->trace_id, ps->trace_id.data, 16);
	memcpy(s->span_id, ps->span_id.data, 8);
	if (ps->parent_span_id.len == 8)
		memcpy(s->parent_span_id, ps->parent_span_id.data, 8);
	s->flags = ps->flags;
	s->kind = (ps->kind >= 0 && ps->kind <= 5) ? (uint8_t)ps->kind : 0;
	s->start_ns = ps->start_time_unix_nano;
	s->end_ns = ps->end_time_unix_nano;
	s->dropped_attrs = ps->dropped_attributes_count;
	s->dropped_events = ps->dropped_events_count;
	s->dropped_links = ps->dropped_links_count;
	int rc = pd_str(pd, ps->trace_state, &s->trace_state);
	if (!rc)
		rc = pd_str(pd, ps->name, &s->name);
	if (!rc && ps->status) {
		int code = ps->status->code;
		s->status_code = (code >= 0 && code <= 2) ? (uint8_t)code : 0;
		rc = pd_str(pd, ps->status->message, &s->status_message);
	}
	if (!rc)
		rc = pd_attrs(pd, ps->attributes, ps->n_attributes, &s->attrs, 1);
	if (!rc)
		rc = pd_events(pd, ps, s);
	if (!rc)
		rc = pd_links(pd, ps, s);
	return rc;
}

static void pd_count_reject(struct pd *pd, size_t n_spans, const char *what)
{
	if (n_spans == 0)
		return;
	pd->b->rejected_spans += (uint32_t)n_spans;
	mx_errmsg_set(pd->err, "%s: %s (%zu)", what, pd->why, pd->why_n);
}

static int pd_span(struct pd *pd, const pb_span *ps,
		   const struct mx_resource *res, const struct mx_scope *sc)
{
	const char *bad = NULL;
	if (ps->trace_id.len != 16)
		bad = "trace_id must be 16 bytes";
	else if (mx_id_is_zero(ps->trace_id.data, 16))
		bad = "trace_id is all zero";
	else if (ps->span_id.len != 8)
		bad = "span_id must be 8 bytes";
	else if (mx_id_is_zero(ps->span_id.data, 8))
		bad = "span_id is all zero";
	else if (ps->parent_span_id.len != 0 && ps->parent_span_id.len != 8)
		bad = "parent_span_id must be empty or 8 bytes";
	if (bad) {
		pd->b->rejected_spans++;
		mx_errmsg_set(pd->err, "span rejected: %s", bad);
		return MX_OK;
	}
	struct mx_span *s = mx_batch_add_span(pd->b);
	if (!s)
		return MX_ENOMEM;
	s->resource = res;
	s->scope = sc;
	int rc = pd_span_fill(pd, ps, s);
	if (rc == PD_REJECT) {
		pd->b->n_spans--;
		pd_count_reject(pd, 1, "span rejected");
		return MX_OK;
	}
	return rc;
}

static int pd_spans(struct pd *pd, pb_span *const *spans, size_t n,
		    const struct mx_resource *res, const struct mx_scope *sc)
{
	if (n > UINT32_MAX / 2)
		return MX_ENOMEM;
	int rc = mx_batch_reserve(pd->b, (uint32_t)n);
	for (size_t i = 0; rc == MX_OK && i < n; i++)
		rc = pd_span(pd, spans[i], res, sc);
	return rc;
}

static int pd_scope(struct pd *pd, const pb_sspans *ss,
		    const struct mx_resource *res)
{
	struct mx_scope *sc = mx_arena_calloc(&pd->b->arena, 1, sizeof(*sc));
	if (!sc)
		return MX_ENOMEM;
	const Opentelemetry__Proto__Common__V1__InstrumentationScope *is = ss->scope;
	int rc = pd_str(pd, ss->schema_url, &sc->schema_url);
	if (!rc && is) {
		sc->dropped_attrs = is->dropped_attributes_count;
		rc = pd_str(pd, is->name, &sc->name);
		if (!rc)
			rc = pd_str(pd, is->version, &sc->version);
		if (!rc)
			rc = pd_attrs(pd, is->attributes, is->n_attributes,
				      &sc->attrs, 1);
	}
	if (rc == PD_REJECT) {
		pd_count_reject(pd, ss->n_spans, "scope rejected");
		return MX_OK;
	}
	if (rc)
		return rc;
	return pd_spans(pd, ss->spans, ss->n_spans, res, sc);
}

static int pd_legacy_scope(struct pd *pd, const pb_ilspans *il,
			   const struct mx_resource *res)
{
	struct mx_scope *sc = mx_arena_calloc(&pd->b->arena, 1, sizeof(*sc));
	if (!sc)
		return MX_ENOMEM;
	int rc = pd_str(pd, il->schema_url, &sc->schema_url);
	if (!rc && il->instrumentation_library) {
		rc = pd_str(pd, il->instrumentation_library->name, &sc->name);
		if (!rc)
			rc = pd_str(pd, il->instrumentation_library->version,
				    &sc->version);
	}
	if (rc == PD_REJECT) {
		pd_count_reject(pd, il->n_spans, "scope rejected");
		return MX_OK;
	}
	if (rc)
		return rc;
	return pd_spans(pd, il->spans, il->n_spans, res, sc);
}

static size_t pd_rspans_count(const pb_rspans *rs)
{
	size_t n = 0;
	if (rs->n_scope_spans) {
		for (size_t i = 0; i < rs->n_scope_spans; i++)
			n += rs->scope_spans[i]->n_spans;
	} else {
		for (size_t i = 0; i < rs->n_instrumentation_library_spans; i++)
			n += rs->instrumentation_library_spans[i]->n_spans;
	}
	return n;
}

static int pd_rspans(struct pd *pd, const pb_rspans *rs)
{
	struct mx_resource *res = mx_arena_calloc(&pd->b->arena, 1, sizeof(*res));
	if (!res)
		return MX_ENOMEM;
	int rc = pd_str(pd, rs->schema_url, &res->schema_url);
	if (!rc && rs->resource) {
		res->dropped_attrs = rs->resource->dropped_attributes_count;
		rc = pd_attrs(pd, rs->resource->attributes,
			      rs->resource->n_attributes, &res->attrs, 1);
	}
	if (rc == PD_REJECT) {
		pd_count_reject(pd, pd_rspans_count(rs), "resource rejected");
		return MX_OK;
	}
	if (rc)
		return rc;
	if (rs->n_scope_spans) {
		for (size_t i = 0; rc == MX_OK && i < rs->n_scope_spans; i++)
			rc = pd_scope(pd, rs->scope_spans[i], res);
	} else {
		for (size_t i = 0; rc == MX_OK &&
		     i < rs->n_instrumentation_library_spans; i++)
			rc = pd_legacy_scope(pd, rs->instrumentation_library_spans[i],
					     res);
	}
	return rc;
}

int mx_otlp_decode_proto(const uint8_t *buf, size_t len,
			 const struct mx_decode_limits *lim,
			 struct mx_batch *out, struct mx_errmsg *err)
{
	if (len == 0)
		return MX_OK; /* an empty request is a success */
	int rc = mx_pb_scan_trace_request(buf, len, lim->max_depth, err);
	if (rc)
		return rc;
	struct pd pd = { .b = out, .lim = lim, .err = err };
	ProtobufCAllocator al = { pd_alloc, pd_free, &pd };
	pb_request *req =
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
			&al, len, buf);
	if (!req) {
		if (pd.oom) {
			mx_errmsg_set(err, "request too large for the batch memory cap");
			return MX_ENOMEM;
		}
		mx_errmsg_set(err, "protobuf: not a valid ExportTraceServiceRequest");
		return MX_EINVAL;
	}
	for (size_t i = 0; rc == MX_OK && i < req->n_resource_spans; i++)
		rc = pd_rspans(&pd, req->resource_spans[i]);
	if (rc == MX_ENOMEM)
		mx_errmsg_set(err, "request too large for the batch memory cap");
	else if (rc == MX_EDEPTH)
		mx_errmsg_set(err, "AnyValue nested deeper than %u", lim->max_depth);
	return rc;
}
