/*
 * test_otlp.c - binary OTLP trace codec: round trips model -> protobuf ->
 * model, decoding of requests packed independently by protobuf-c (values,
 * sharing of resources and scopes, legacy field 1000), and hostile input
 * (truncation, garbage, 10 000-deep AnyValue nesting, wrong wire types, bad
 * ids, caps, arena cap).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#include "otlp_fixture.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest pb_request;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans pb_rspans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans pb_sspans;
typedef Opentelemetry__Proto__Trace__V1__InstrumentationLibrarySpans pb_ilspans;
typedef Opentelemetry__Proto__Trace__V1__InstrumentationLibrary pb_il;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Trace__V1__Status pb_status;
typedef Opentelemetry__Proto__Resource__V1__Resource pb_resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope pb_scope;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;

#define REQ_PACK opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack
#define REQ_SIZE opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size
#define REQ_UNPACK opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack
#define REQ_FREE opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked

static struct mx_decode_limits lim;

static int setup(void **state)
{
	(void)state;
	mx_decode_limits_default(&lim);
	return 0;
}

static uint8_t *pack_request(const pb_request *req, size_t *len)
{
	*len = REQ_SIZE(req);
	uint8_t *p = malloc(*len ? *len : 1);
	assert_non_null(p);
	assert_int_equal(REQ_PACK(req, p), *len);
	return p;
}

static int decode(const uint8_t *p, size_t n, struct mx_batch **out,
		  struct mx_errmsg *err)
{
	*out = mx_batch_new(64u << 20);
	assert_non_null(*out);
	memset(err, 0, sizeof(*err));
	return mx_otlp_decode_proto(p, n, &lim, *out, err);
}

/* model -> proto -> model compares equal; re-encoding gives the same bytes */
static void test_roundtrip_rich(void **state)
{
	(void)state;
	struct mx_batch *a = fx_rich_batch(), *b;
	struct mx_buf p1, p2;
	struct mx_errmsg err;
	mx_buf_init(&p1, 1 << 20);
	mx_buf_init(&p2, 1 << 20);
	assert_int_equal(mx_otlp_encode_proto(a, &p1), MX_OK);
	assert_int_equal(decode(p1.data, p1.len, &b, &err), MX_OK);
	assert_int_equal(b->rejected_spans, 0);
	fx_batch_eq(a, b);
	assert_int_equal(mx_otlp_encode_proto(b, &p2), MX_OK);
	assert_int_equal(p1.len, p2.len);
	assert_memory_equal(p1.data, p2.data, p1.len);

	/* protobuf-c reads our encoding with the expected grouping */
	pb_request *req = REQ_UNPACK(NULL, p1.len, p1.data);
	assert_non_null(req);
	assert_int_equal(req->n_resource_spans, 2);
	assert_int_equal(req->resource_spans[0]->n_scope_spans, 2);
	assert_int_equal(req->resource_spans[0]->scope_spans[0]->n_spans, 2);
	assert_int_equal(req->resource_spans[0]->scope_spans[1]->n_spans, 1);
	assert_int_equal(req->resource_spans[1]->n_scope_spans, 1);
	assert_int_equal(req->resource_spans[1]->scope_spans[0]->n_spans, 2);
	assert_string_equal(req->resource_spans[0]->schema_url,
			    "https://opentelemetry.io/schemas/1.21.0");
	const pb_span *s0 = req->resource_spans[0]->scope_spans[0]->spans[0];
	assert_int_equal(s0->flags, 0x301);
	assert_int_equal(s0->kind, 2);
	assert_true(s0->end_time_unix_nano == UINT64_MAX);
	assert_int_equal(s0->status->code, 2);
	assert_string_equal(s0->status->message, "boom");
	assert_int_equal(s0->n_attributes, 14);
	REQ_FREE(req, NULL);

	/* the shared pointers are kept: one resource per ResourceSpans */
	assert_ptr_equal(b->spans[0].resource, b->spans[2].resource);
	assert_ptr_not_equal(b->spans[2].resource, b->spans[3].resource);
	assert_ptr_equal(b->spans[0].scope, b->spans[1].scope);
	assert_ptr_not_equal(b->spans[1].scope, b->spans[2].scope);
	mx_buf_free(&p1);
	mx_buf_free(&p2);
	mx_batch_free(a);
	mx_batch_free(b);
}

/* A request packed by protobuf-c (an independent encoder) decodes to the
 * right values. */
static void test_decode_protobuf_c_request(void **state)
{
	(void)state;
	uint8_t tid[16], sid[8], pid[8], sid2[8];
	fx_id(tid, 16, 5);
	fx_id(sid, 8, 6);
	fx_id(pid, 8, 7);
	fx_id(sid2, 8, 8);
	pb_any v_str;
	opentelemetry__proto__common__v1__any_value__init(&v_str);
	v_str.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	v_str.string_value = "my.service";
	pb_kv kv_svc;
	opentelemetry__proto__common__v1__key_value__init(&kv_svc);
	kv_svc.key = "service.name";
	kv_svc.value = &v_str;
	pb_any v_int;
	opentelemetry__proto__common__v1__any_value__init(&v_int);
	v_int.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
	v_int.int_value = -42;
	pb_kv kv_int;
	opentelemetry__proto__common__v1__key_value__init(&kv_int);
	kv_int.key = "http.status_code";
	kv_int.value = &v_int;
	pb_kv *res_attrs[] = { &kv_svc };
	pb_kv *span_attrs[] = { &kv_int };
	pb_resource res;
	opentelemetry__proto__resource__v1__resource__init(&res);
	res.n_attributes = 1;
	res.attributes = res_attrs;
	pb_scope scope;
	opentelemetry__proto__common__v1__instrumentation_scope__init(&scope);
	scope.name = "my.library";
	scope.version = "1.0.0";
	pb_status st;
	opentelemetry__proto__trace__v1__status__init(&st);
	st.code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
	st.message = "failed";
	pb_span sp[2];
	opentelemetry__proto__trace__v1__span__init(&sp[0]);
	opentelemetry__proto__trace__v1__span__init(&sp[1]);
	sp[0].trace_id = (ProtobufCBinaryData){ 16, tid };
	sp[0].span_id = (ProtobufCBinaryData){ 8, sid };
	sp[0].parent_span_id = (ProtobufCBinaryData){ 8, pid };
	sp[0].name = "I'm a server span";
	sp[0].kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER;
	sp[0].start_time_unix_nano = 1544712660000000000ull;
	sp[0].end_time_unix_nano = 1544712661000000000ull;
	sp[0].n_attributes = 1;
	sp[0].attributes = span_attrs;
	sp[0].status = &st;
	sp[0].flags = 1;
	sp[1].trace_id = (ProtobufCBinaryData){ 16, tid };
	sp[1].span_id = (ProtobufCBinaryData){ 8, sid2 };
	sp[1].name = "second";
	sp[1].kind = 77; /* unknown kind -> UNSPECIFIED */
	pb_span *spans[] = { &sp[0], &sp[1] };
	pb_sspans ss;
	opentelemetry__proto__trace__v1__scope_spans__init(&ss);
	ss.scope = &scope;
	ss.n_spans = 2;
	ss.spans = spans;
	ss.schema_url = "scope-schema";
	pb_sspans *sss[] = { &ss };
	pb_rspans rs;
	opentelemetry__proto__trace__v1__resource_spans__init(&rs);
	rs.resource = &res;
	rs.n_scope_spans = 1;
	rs.scope_spans = sss;
	rs.schema_url = "res-schema";
	pb_rspans *rss[] = { &rs };
	pb_request req;
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&req);
	req.n_resource_spans = 1;
	req.resource_spans = rss;

	size_t n;
	uint8_t *p = pack_request(&req, &n);
	struct mx_batch *b;
	struct mx_errmsg err;
	assert_int_equal(decode(p, n, &b, &err), MX_OK);
	assert_int_equal(b->n_spans, 2);
	assert_int_equal(b->rejected_spans, 0);
	const struct mx_span *s = &b->spans[0];
	assert_memory_equal(s->trace_id, tid, 16);
	assert_memory_equal(s->span_id, sid, 8);
	assert_memory_equal(s->parent_span_id, pid, 8);
	assert_true(mx_str_eq(s->name, "I'm a server span", 17));
	assert_int_equal(s->kind, MX_KIND_SERVER);
	assert_true(s->start_ns == 1544712660000000000ull);
	assert_true(s->end_ns == 1544712661000000000ull);
	assert_int_equal(s->flags, 1);
	assert_int_equal(s->status_code, MX_STATUS_ERROR);
	assert_true(mx_str_eq(s->status_message, "failed", 6));
	assert_int_equal(s->attrs.n, 1);
	assert_true(mx_str_eq(s->attrs.items[0].key, "http.status_code", 16));
	assert_int_equal(s->attrs.items[0].value.type, MX_VAL_INT);
	assert_true(s->attrs.items[0].value.u.i == -42);
	struct mx_str svc = mx_span_service(s);
	assert_true(mx_str_eq(svc, "my.service", 10));
	assert_true(mx_str_eq(s->resource->schema_url, "res-schema", 10));
	assert_true(mx_str_eq(s->scope->name, "my.library", 10));
	assert_true(mx_str_eq(s->scope->version, "1.0.0", 5));
	assert_true(mx_str_eq(s->scope->schema_url, "scope-schema", 12));
	assert_ptr_equal(b->spans[1].resource, s->resource);
	assert_ptr_equal(b->spans[1].scope, s->scope);
	assert_true(mx_id_is_zero(b->spans[1].parent_span_id, 8));
	assert_int_equal(b->spans[1].kind, MX_KIND_UNSPECIFIED);
	assert_int_equal(b->spans[1].status_code, MX_STATUS_UNSET);
	free(p);
	mx_batch_free(b);

	/* legacy field 1000 (instrumentation_library_spans) when field 2 is
	 * absent */
	pb_il il;
	opentelemetry__proto__trace__v1__instrumentation_library__init(&il);
	il.name = "legacy.lib";
	il.version = "0.9";
	pb_ilspans ils;
	opentelemetry__proto__trace__v1__instrumentation_library_spans__init(&ils);
	ils.instrumentation_library = &il;
	ils.n_spans = 2;
	ils.spans = spans;
	pb_ilspans *ilss[] = { &ils };
	rs.n_scope_spans = 0;
	rs.scope_spans = NULL;
	rs.n_instrumentation_library_spans = 1;
	rs.instrumentation_library_spans = ilss;
	p = pack_request(&req, &n);
	assert_int_equal(decode(p, n, &b, &err), MX_OK);
	assert_int_equal(b->n_spans, 2);
	assert_true(mx_str_eq(b->spans[0].scope->name, "legacy.lib", 10));
	assert_true(mx_str_eq(b->spans[0].scope->version, "0.9", 3));
	assert_true(mx_str_eq(b->spans[1].name, "second", 6));
	free(p);
	mx_batch_free(b);

	/* both present: scope_spans wins, field 1000 is ignored */
	rs.n_scope_spans = 1;
	rs.scope_spans = sss;
	ss.n_spans = 1;
	p = pack_request(&req, &n);
	assert_int_equal(decode(p, n, &b, &err), MX_OK);
	assert_int_equal(b->n_spans, 1);
	assert_true(mx_str_eq(b->spans[0].scope->name, "my.library", 10));
	free(p);
	mx_batch_free(b);
}

/* --- a tiny forward protobuf writer for hand-made bodies --- */

static void pw_tag(struct mx_buf *b, uint32_t field, unsigned wt)
{
	mx_buf_varint(b, (uint64_t)field << 3 | wt);
}

static void pw_bytes(struct mx_buf *b, uint32_t field, const void *p, size_t n)
{
	pw_tag(b, field, 2);
	mx_buf_varint(b, n);
	mx_buf_append(b, p, n);
}

/* Replaces the content of `b` by field `field` holding it. */
static void pw_wrap(struct mx_buf *b, uint32_t field)
{
	struct mx_buf t;
	mx_buf_init(&t, b->max);
	pw_bytes(&t, field, b->data, b->len);
	mx_buf_free(b);
	*b = t;
}

/* A span with valid ids whose fields are `extra` (already encoded), wrapped
 * up to a full request. */
static void pw_request_with_span(struct mx_buf *out, const void *extra, size_t n)
{
	uint8_t tid[16], sid[8];
	fx_id(tid, 16, 1);
	fx_id(sid, 8, 2);
	mx_buf_init(out, 64u << 20);
	pw_bytes(out, 1, tid, 16);
	pw_bytes(out, 2, sid, 8);
	mx_buf_append(out, extra, n);
	pw_wrap(out, 2); /* ScopeSpans.spans */
	pw_wrap(out, 2); /* ResourceSpans.scope_spans */
	pw_wrap(out, 1); /* request.resource_spans */
	assert_false(out->failed);
}

/* An attribute "k" whose value nests `levels` AnyValues, through arrays
 * (or maps when `map`), encoded as Span field 9. Lengths are computed from
 * the inside out, then the bytes are written outside in. */
static void pw_deep_attr(struct mx_buf *b, uint32_t levels, bool map)
{
	size_t *len = calloc(levels + 1, sizeof(*len));
	size_t *mid = calloc(levels + 1, sizeof(*mid));
	assert_true(len && mid);
	/* len[d]: AnyValue body with d levels (len[1] = empty AnyValue);
	 * mid[d]: the ArrayValue/KeyValueList body in it */
	for (uint32_t d = 2; d <= levels; d++) {
		size_t inner = len[d - 1];
		size_t vlen = 1;
		for (size_t x = inner; x >= 0x80; x >>= 7)
			vlen++;
		if (map) {
			/* KeyValue {1: "", 2: AnyValue} inside KeyValueList */
			size_t kv = 2 + 1 + vlen + inner;
			size_t kvl = 1;
			for (size_t x = kv; x >= 0x80; x >>= 7)
				kvl++;
			mid[d] = 1 + kvl + kv;
		} else {
			mid[d] = 1 + vlen + inner;
		}
		size_t ml = 1;
		for (size_t x = mid[d]; x >= 0x80; x >>= 7)
			ml++;
		len[d] = 1 + ml + mid[d];
	}
	struct mx_buf kv;
	mx_buf_init(&kv, 64u << 20);
	pw_bytes(&kv, 1, "k", 1);
	pw_tag(&kv, 2, 2);
	mx_buf_varint(&kv, len[levels]);
	for (uint32_t d = levels; d >= 2; d--) {
		pw_tag(&kv, map ? 6 : 5, 2);
		mx_buf_varint(&kv, mid[d]);
		if (map) {
			size_t inner = len[d - 1];
			size_t vlen = 1;
			for (size_t x = inner; x >= 0x80; x >>= 7)
				vlen++;
			pw_tag(&kv, 1, 2);
			mx_buf_varint(&kv, 2 + 1 + vlen + inner);
			pw_bytes(&kv, 1, "", 0);
		}
		pw_tag(&kv, map ? 2 : 1, 2);
		mx_buf_varint(&kv, len[d - 1]);
	}
	assert_false(kv.failed);
	pw_bytes(b, 9, kv.data, kv.len);
	mx_buf_free(&kv);
	free(len);
	free(mid);
}

static int decode_deep(uint32_t levels, bool map, struct mx_batch **b)
{
	struct mx_buf span, req;
	struct mx_errmsg err;
	mx_buf_init(&span, 64u << 20);
	pw_deep_attr(&span, levels, map);
	pw_request_with_span(&req, span.data, span.len);
	int rc = decode(req.data, req.len, b, &err);
	if (rc == MX_EDEPTH)
		assert_non_null(strstr(err.text, "deeper"));
	mx_buf_free(&span);
	mx_buf_free(&req);
	return rc;
}

static void test_depth_limit(void **state)
{
	(void)state;
	struct mx_batch *b;
	/* exactly max_depth levels is fine and decodes all the way down */
	assert_int_equal(decode_deep(lim.max_depth, false, &b), MX_OK);
	assert_int_equal(b->n_spans, 1);
	const struct mx_value *v = &b->spans[0].attrs.items[0].value;
	for (uint32_t d = 1; d < lim.max_depth; d++) {
		assert_int_equal(v->type, MX_VAL_ARRAY);
		assert_int_equal(v->u.arr.n, 1);
		v = &v->u.arr.items[0];
	}
	assert_int_equal(v->type, MX_VAL_EMPTY);
	mx_batch_free(b);
	assert_int_equal(decode_deep(lim.max_depth, true, &b), MX_OK);
	mx_batch_free(b);
	/* one more, and far more, is MX_EDEPTH without touching the stack */
	assert_int_equal(decode_deep(lim.max_depth + 1, false, &b), MX_EDEPTH);
	mx_batch_free(b);
	assert_int_equal(decode_deep(lim.max_depth + 1, true, &b), MX_EDEPTH);
	mx_batch_free(b);
	assert_int_equal(decode_deep(10000, false, &b), MX_EDEPTH);
	mx_batch_free(b);
	assert_int_equal(decode_deep(10000, true, &b), MX_EDEPTH);
	mx_batch_free(b);
	/* an absurd configured depth does not size the scan stack by itself */
	lim.max_depth = UINT32_MAX;
	assert_int_equal(decode_deep(100, false, &b), MX_OK);
	mx_batch_free(b);
	lim.max_depth = 0; /* no AnyValue at all */
	assert_int_equal(decode_deep(1, false, &b), MX_EDEPTH);
	mx_batch_free(b);
}

static void test_empty_body(void **state)
{
	(void)state;
	struct mx_batch *b;
	struct mx_errmsg err;
	assert_int_equal(decode((const uint8_t *)"", 0, &b, &err), MX_OK);
	assert_int_equal(b->n_spans, 0);
	mx_batch_free(b);
	/* an empty ResourceSpans is fine too */
	assert_int_equal(decode((const uint8_t *)"\x0a\x00", 2, &b, &err), MX_OK);
	assert_int_equal(b->n_spans, 0);
	mx_batch_free(b);
}

static void test_truncated_and_garbage(void **state)
{
	(void)state;
	struct mx_batch *a = fx_rich_batch(), *b;
	struct mx_buf p;
	struct mx_errmsg err;
	mx_buf_init(&p, 1 << 20);
	assert_int_equal(mx_otlp_encode_proto(a, &p), MX_OK);
	/* every proper prefix fails cleanly (a length runs past it), except
	 * the one that ends right after the first ResourceSpans */
	size_t ok = 0;
	for (size_t n = 1; n < p.len; n++) {
		int rc = decode(p.data, n, &b, &err);
		if (rc == MX_OK) {
			assert_int_equal(b->n_spans, 3);
			ok++;
		} else {
			assert_int_equal(rc, MX_EINVAL);
			assert_true(err.set);
		}
		mx_batch_free(b);
	}
	assert_int_equal(ok, 1);
	/* flipping bytes never crashes (results vary) */
	srand(1234);
	for (int k = 0; k < 2000; k++) {
		uint8_t *q = malloc(p.len);
		memcpy(q, p.data, p.len);
		for (int j = 0; j < 3; j++)
			q[(size_t)rand() % p.len] = (uint8_t)rand();
		int rc = decode(q, p.len, &b, &err);
		assert_true(rc == MX_OK || rc == MX_EINVAL || rc == MX_EDEPTH);
		mx_batch_free(b);
		free(q);
	}
	static const struct {
		const char *bytes;
		size_t len;
	} bad[] = {
		{ "\xff\xff\xff", 3 },                 /* truncated varint key */
		{ "\x0a\x05\x00", 3 },                 /* length past the end */
		{ "\x08\x01", 2 },                     /* resource_spans as varint */
		{ "\x0b\x00", 2 },                     /* group wire type */
		{ "\x00\x00", 2 },                     /* field number 0 */
		{ "\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11 }, /* huge length */
		{ "\x0a\x02\x12\x05", 4 },             /* nested length past parent */
		{ "\x0a\x04\x12\x02\x12\x80", 6 },     /* truncated nested varint */
		{ "\x0d\x00\x00", 3 },                 /* truncated fixed32 */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(decode((const uint8_t *)bad[i].bytes, bad[i].len,
					&b, &err), MX_EINVAL);
		assert_true(err.set);
		mx_batch_free(b);
	}
	mx_buf_free(&p);
	mx_batch_free(a);
}

/* Unknown fields of every wire type are skipped. */
static void test_unknown_fields(void **state)
{
	(void)state;
	struct mx_buf x, req;
	struct mx_batch *b;
	struct mx_errmsg err;
	mx_buf_init(&x, 1 << 20);
	pw_tag(&x, 99, 0);
	mx_buf_varint(&x, UINT64_MAX);
	pw_tag(&x, 100, 1);
	mx_buf_append(&x, "12345678", 8);
	pw_tag(&x, 101, 5);
	mx_buf_append(&x, "1234", 4);
	pw_bytes(&x, 102, "\xff\xff\xff", 3); /* not parsed: unknown */
	pw_bytes(&x, 5, "named", 5);
	pw_request_with_span(&req, x.data, x.len);
	assert_int_equal(decode(req.data, req.len, &b, &err), MX_OK);
	assert_int_equal(b->n_spans, 1);
	assert_true(mx_str_eq(b->spans[0].name, "named", 5));
	mx_batch_free(b);
	mx_buf_free(&x);
	mx_buf_free(&req);
}

/* Builds a request of `n` spans from a rich batch whose span `bad` gets
 * `mutate` applied, and returns the decode result. */
static struct mx_batch *decode_mutated(void (*mutate)(struct mx_batch *),
				       int want_rc, struct mx_errmsg *err)
{
	struct mx_batch *a = fx_rich_batch(), *b;
	struct mx_buf p;
	mutate(a);
	mx_buf_init(&p, 1 << 22);
	assert_int_equal(mx_otlp_encode_proto(a, &p), MX_OK);
	assert_int_equal(decode(p.data, p.len, &b, err), want_rc);
	mx_buf_free(&p);
	mx_batch_free(a);
	return b;
}

static void mut_zero_trace(struct mx_batch *a)
{
	memset(a->spans[1].trace_id, 0, 16);
}

static void mut_zero_span(struct mx_batch *a)
{
	memset(a->spans[1].span_id, 0, 8);
}

static void mut_huge_value(struct mx_batch *a)
{
	size_t n = lim.max_value_bytes + 1;
	char *big = mx_arena_alloc(&a->arena, n);
	memset(big, 'x', n);
	a->spans[1].attrs = fx_one_attr(a, "k", "v");
	a->spans[1].attrs.items[0].value.u.s = (struct mx_str){ big, (uint32_t)n };
}

static void mut_many_attrs(struct mx_batch *a)
{
	uint32_t n = lim.max_attrs + 1;
	struct mx_attr *at = fx_attrs(a, n);
	for (uint32_t i = 0; i < n; i++)
		at[i].value.type = MX_VAL_BOOL;
	a->spans[1].attrs = (struct mx_attrs){ at, n };
}

static void mut_many_events(struct mx_batch *a)
{
	uint32_t n = lim.max_events + 1;
	a->spans[1].events = mx_arena_calloc(&a->arena, n, sizeof(struct mx_event));
	a->spans[1].n_events = n;
}

static void mut_bad_link(struct mx_batch *a)
{
	memset(a->spans[0].links[1].span_id, 0, 8);
}

static void mut_huge_resource(struct mx_batch *a)
{
	/* resource r1 (spans 0-2) gets too many attributes */
	struct mx_resource *r = (struct mx_resource *)(uintptr_t)a->spans[0].resource;
	uint32_t n = lim.max_attrs + 1;
	r->attrs = (struct mx_attrs){ fx_attrs(a, n), n };
}

static void test_reject_spans(void **state)
{
	(void)state;
	struct mx_errmsg err;
	struct mx_batch *b;
	void (*muts[])(struct mx_batch *) = { mut_zero_trace, mut_zero_span,
					      mut_huge_value, mut_many_attrs,
					      mut_many_events };
	const char *why[] = { "trace_id", "span_id", "value cap", "attribute cap",
			      "event cap" };
	for (size_t i = 0; i < sizeof(muts) / sizeof(muts[0]); i++) {
		b = decode_mutated(muts[i], MX_OK, &err);
		assert_int_equal(b->n_spans, 4);
		assert_int_equal(b->rejected_spans, 1);
		assert_true(err.set);
		assert_non_null(strstr(err.text, why[i]));
		/* the others are kept, in order */
		assert_memory_equal(b->spans[0].span_id, "\x0b", 1);
		assert_memory_equal(b->spans[1].span_id, "\x0d", 1);
		mx_batch_free(b);
	}
	b = decode_mutated(mut_bad_link, MX_OK, &err);
	assert_int_equal(b->n_spans, 5);
	assert_int_equal(b->spans[0].n_links, 1);
	assert_int_equal(b->spans[0].dropped_links, 6);
	mx_batch_free(b);
	b = decode_mutated(mut_huge_resource, MX_OK, &err);
	assert_int_equal(b->n_spans, 2);
	assert_int_equal(b->rejected_spans, 3);
	assert_non_null(strstr(err.text, "resource"));
	mx_batch_free(b);
}

/* Short and over-long ids, hand-encoded (our encoder cannot make them). */
static void test_bad_id_lengths(void **state)
{
	(void)state;
	uint8_t tid[16], sid[8];
	fx_id(tid, 16, 1);
	fx_id(sid, 8, 2);
	struct mx_buf ss;
	mx_buf_init(&ss, 1 << 20);
	for (int k = 0; k < 5; k++) {
		struct mx_buf sp;
		mx_buf_init(&sp, 1 << 20);
		pw_bytes(&sp, 1, tid, k == 1 ? 8 : 16);     /* 1: short trace id */
		pw_bytes(&sp, 2, sid, k == 2 ? 4 : 8);      /* 2: short span id */
		if (k == 3)
			pw_bytes(&sp, 4, sid, 7);            /* 3: bad parent */
		if (k == 4)
			pw_bytes(&sp, 4, "\0\0\0\0\0\0\0\0", 8); /* 4: zero parent */
		pw_bytes(&ss, 2, sp.data, sp.len);
		mx_buf_free(&sp);
	}
	pw_wrap(&ss, 2);
	pw_wrap(&ss, 1);
	struct mx_batch *b;
	struct mx_errmsg err;
	assert_int_equal(decode(ss.data, ss.len, &b, &err), MX_OK);
	assert_int_equal(b->n_spans, 2);
	assert_int_equal(b->rejected_spans, 3);
	assert_non_null(strstr(err.text, "trace_id must be 16 bytes"));
	assert_true(mx_id_is_zero(b->spans[1].parent_span_id, 8));
	mx_batch_free(b);
	mx_buf_free(&ss);
}

static void test_arena_cap(void **state)
{
	(void)state;
	struct mx_batch *a = fx_rich_batch();
	struct mx_buf p;
	struct mx_errmsg err = { 0 };
	mx_buf_init(&p, 1 << 20);
	assert_int_equal(mx_otlp_encode_proto(a, &p), MX_OK);
	struct mx_batch *b = mx_batch_new(2048);
	assert_int_equal(mx_otlp_decode_proto(p.data, p.len, &lim, b, &err),
			 MX_ENOMEM);
	assert_true(err.set);
	mx_batch_free(b);
	/* and the output cap of the encoder */
	struct mx_buf small;
	mx_buf_init(&small, 100);
	assert_int_equal(mx_otlp_encode_proto(a, &small), MX_ENOMEM);
	assert_int_equal(small.len, 0);
	mx_buf_free(&small);
	mx_buf_free(&p);
	mx_batch_free(a);
}

/* Many spans: the backward writer grows its buffer; all come back. */
static void test_many_spans(void **state)
{
	(void)state;
	struct mx_batch *a = mx_batch_new(64u << 20), *b;
	struct mx_resource *r = mx_arena_calloc(&a->arena, 1, sizeof(*r));
	struct mx_scope *sc = mx_arena_calloc(&a->arena, 1, sizeof(*sc));
	r->attrs = fx_one_attr(a, "service.name", "bulk");
	for (uint32_t i = 0; i < 20000; i++) {
		struct mx_span *s = mx_batch_add_span(a);
		fx_id(s->trace_id, 16, (uint8_t)i);
		memcpy(s->span_id, &i, 4);
		s->span_id[7] = 1;
		s->name = fx_s(a, "op");
		s->attrs = fx_one_attr(a, "i", "v");
		s->resource = r;
		s->scope = sc;
	}
	struct mx_buf p;
	struct mx_errmsg err;
	mx_buf_init(&p, 64u << 20);
	assert_int_equal(mx_otlp_encode_proto(a, &p), MX_OK);
	assert_int_equal(decode(p.data, p.len, &b, &err), MX_OK);
	fx_batch_eq(a, b);
	assert_ptr_equal(b->spans[0].resource, b->spans[19999].resource);
	mx_buf_free(&p);
	mx_batch_free(a);
	mx_batch_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_roundtrip_rich, setup),
		cmocka_unit_test_setup(test_decode_protobuf_c_request, setup),
		cmocka_unit_test_setup(test_depth_limit, setup),
		cmocka_unit_test_setup(test_empty_body, setup),
		cmocka_unit_test_setup(test_truncated_and_garbage, setup),
		cmocka_unit_test_setup(test_unknown_fields, setup),
		cmocka_unit_test_setup(test_reject_spans, setup),
		cmocka_unit_test_setup(test_bad_id_lengths, setup),
		cmocka_unit_test_setup(test_arena_cap, setup),
		cmocka_unit_test_setup(test_many_spans, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
