/*
 * test_zipkin.c - Zipkin v2 codecs: the spec examples in JSON and proto3,
 * byte-identical round trips (JSON -> model -> JSON, proto -> model ->
 * proto), the leniency real clients need (quoted and fractional numbers,
 * upper-case ids and kinds, 64-bit and short ids, numeric tag values, port
 * 0, `{}` endpoints, empty bodies), the tag mapping (status, scope,
 * resources shared per service), an OTLP-like model through Zipkin JSON and
 * back, and hostile proto input (truncation, garbage, wrong wire types).
 * Hostile JSON and the caps are in test_zipkin_bad.c.
 */
#include <math.h>
#include <stdio.h>

#include "otlp_fixture.h"
#include "zipkin_test_util.h"

/* wire-protocols.md 1.1: the example span of zipkin2-api.yaml */
static const char spec_json[] =
	"[{\"traceId\":\"5af7183fb1d4cf5f\",\"parentId\":\"6b221d5bc9e6496c\","
	"\"id\":\"352bff9a74ca9ad2\",\"kind\":\"SERVER\",\"name\":\"get /api\","
	"\"timestamp\":1556604172355737,\"duration\":1431,"
	"\"localEndpoint\":{\"serviceName\":\"backend\",\"ipv4\":\"192.168.99.1\","
	"\"port\":3306},\"remoteEndpoint\":{\"ipv4\":\"172.19.0.2\",\"port\":58648},"
	"\"tags\":{\"http.method\":\"GET\",\"http.path\":\"/api\"}}]";

/* wire-protocols.md 1.3 (verified): the example minus parentId,
 * remoteEndpoint and one tag, as a ListOfSpans */
static const uint8_t spec_proto[] = {
	0x0a, 0x54,
	0x0a, 0x08, 0x5a, 0xf7, 0x18, 0x3f, 0xb1, 0xd4, 0xcf, 0x5f,
	0x1a, 0x08, 0x35, 0x2b, 0xff, 0x9a, 0x74, 0xca, 0x9a, 0xd2,
	0x20, 0x02,
	0x2a, 0x08, 'g', 'e', 't', ' ', '/', 'a', 'p', 'i',
	0x31, 0x99, 0xc8, 0xbf, 0x26, 0xb9, 0x87, 0x05, 0x00,
	0x38, 0x97, 0x0b,
	0x42, 0x12, 0x0a, 0x07, 'b', 'a', 'c', 'k', 'e', 'n', 'd',
	0x12, 0x04, 0xc0, 0xa8, 0x63, 0x01, 0x20, 0xea, 0x19,
	0x5a, 0x12, 0x0a, 0x0b, 'h', 't', 't', 'p', '.', 'm', 'e', 't', 'h', 'o', 'd',
	0x12, 0x03, 'G', 'E', 'T',
};

static bool ep_empty(const struct mx_endpoint *e)
{
	return !e->service_name.len && !e->ipv4.len && !e->ipv6.len && !e->port;
}

static void check_spec_span(const struct mx_span *s, bool full)
{
	zt_hex(s->trace_id, 16, "00000000000000005af7183fb1d4cf5f");
	zt_hex(s->span_id, 8, "352bff9a74ca9ad2");
	zt_hex(s->parent_span_id, 8, full ? "6b221d5bc9e6496c" : "0000000000000000");
	assert_int_equal(s->kind, MX_KIND_SERVER);
	assert_mxstr(s->name, "get /api");
	assert_true(s->start_ns == 1556604172355737000ull);
	assert_true(s->end_ns == (1556604172355737ull + 1431) * 1000);
	assert_mxstr(s->local.service_name, "backend");
	assert_mxstr(s->local.ipv4, "192.168.99.1");
	assert_int_equal(s->local.port, 3306);
	assert_mxstr(mx_span_service(s), "backend");
	assert_int_equal(s->resource->attrs.n, 1);
	assert_mxstr(s->resource->attrs.items[0].key, "service.name");
	assert_int_equal(s->scope->name.len, 0);
	assert_int_equal(s->status_code, MX_STATUS_UNSET);
	assert_int_equal(s->mx_flags, 0);
	assert_mxstr(zt_tag(s, "http.method"), "GET");
	if (full) {
		assert_int_equal(s->attrs.n, 2);
		assert_mxstr(zt_tag(s, "http.path"), "/api");
		assert_mxstr(s->remote.ipv4, "172.19.0.2");
		assert_int_equal(s->remote.port, 58648);
		assert_int_equal(s->remote.service_name.len, 0);
	} else {
		assert_int_equal(s->attrs.n, 1);
		assert_true(ep_empty(&s->remote));
	}
}

static void test_spec_json(void **state)
{
	(void)state;
	struct mx_batch *b = zt_ok(ZT_JSON, spec_json, 1);
	check_spec_span(&b->spans[0], true);
	/* canonical input comes back byte for byte */
	char *out = zt_json(b);
	assert_string_equal(out, spec_json);
	free(out);
	mx_batch_free(b);
}

static void test_spec_proto(void **state)
{
	(void)state;
	struct mx_batch *b;
	struct mx_errmsg err;
	struct mx_buf out;
	assert_int_equal(zt_decode_n(ZT_PROTO, spec_proto, sizeof(spec_proto), &b,
				     &err), MX_OK);
	assert_int_equal(b->n_spans, 1);
	assert_int_equal(b->rejected_spans, 0);
	check_spec_span(&b->spans[0], false);
	/* proto -> model -> proto gives the same bytes */
	mx_buf_init(&out, 1 << 20);
	assert_int_equal(mx_zipkin_proto_encode(b, &out), MX_OK);
	assert_int_equal(out.len, sizeof(spec_proto));
	assert_memory_equal(out.data, spec_proto, sizeof(spec_proto));
	mx_buf_free(&out);
	mx_batch_free(b);
}

/* Everything a v2 span can carry, in Zipkin's writer order. */
static const char canonical_json[] =
	"[{\"traceId\":\"463ac35c9f6413ad48485a3953bb6124\","
	"\"parentId\":\"0020000000000001\",\"id\":\"a2fb4a1d1a96d312\","
	"\"kind\":\"CLIENT\",\"name\":\"get /users\",\"timestamp\":1700000000000001,"
	"\"duration\":1,\"localEndpoint\":{\"serviceName\":\"frontend\","
	"\"ipv4\":\"10.0.0.1\",\"ipv6\":\"2001:db8::c001\",\"port\":8080},"
	"\"remoteEndpoint\":{\"serviceName\":\"backend\"},"
	"\"annotations\":[{\"timestamp\":1700000000000002,\"value\":\"ws\"},"
	"{\"timestamp\":1700000000000003,\"value\":\"exception "
	"{\\\"exception.message\\\":\\\"x\\\",\\\"n\\\":3,\\\"ok\\\":true}\"}],"
	"\"tags\":{\"a\":\"b\",\"peer.service\":\"backend\",\"t\\u0001\\\"\":\"\\n\","
	"\"otel.status_code\":\"ERROR\",\"error\":\"boom\","
	"\"otel.scope.name\":\"lib\",\"otel.scope.version\":\"1.0\"},"
	"\"debug\":true,\"shared\":true},"
	"{\"traceId\":\"463ac35c9f6413ad48485a3953bb6124\",\"id\":\"0000000000000001\","
	"\"kind\":\"PRODUCER\",\"timestamp\":1,\"duration\":99,"
	"\"localEndpoint\":{\"serviceName\":\"frontend\"},"
	"\"tags\":{\"otel.status_code\":\"OK\",\"otel.scope.name\":\"lib\","
	"\"otel.scope.version\":\"1.0\"}},"
	"{\"traceId\":\"463ac35c9f6413ad48485a3953bb6124\",\"id\":\"0000000000000002\","
	"\"kind\":\"CONSUMER\",\"localEndpoint\":{\"serviceName\":\"queue\"},"
	"\"tags\":{\"otel.status_code\":\"ERROR\",\"error\":\"\"}}]";

static void test_canonical_roundtrip(void **state)
{
	(void)state;
	struct mx_batch *b = zt_ok(ZT_JSON, canonical_json, 3);
	const struct mx_span *s = &b->spans[0];
	zt_hex(s->trace_id, 16, "463ac35c9f6413ad48485a3953bb6124");
	zt_hex(s->parent_span_id, 8, "0020000000000001");
	assert_int_equal(s->kind, MX_KIND_CLIENT);
	assert_int_equal(s->mx_flags, MX_SPAN_F_DEBUG | MX_SPAN_F_SHARED);
	assert_int_equal(s->status_code, MX_STATUS_ERROR);
	assert_mxstr(s->status_message, "boom");
	assert_mxstr(s->scope->name, "lib");
	assert_mxstr(s->scope->version, "1.0");
	assert_mxstr(s->local.ipv6, "2001:db8::c001");
	assert_mxstr(s->remote.service_name, "backend");
	/* error, status and scope tags are not attributes */
	assert_int_equal(s->attrs.n, 3);
	assert_false(zt_has_tag(s, "error"));
	assert_false(zt_has_tag(s, "otel.status_code"));
	assert_mxstr(zt_tag(s, "t\x01\""), "\n");
	/* the annotation with attributes becomes an event with attributes */
	assert_int_equal(s->n_events, 2);
	assert_mxstr(s->events[0].name, "ws");
	assert_true(s->events[1].time_ns == 1700000000000003000ull);
	assert_mxstr(s->events[1].name, "exception");
	assert_int_equal(s->events[1].attrs.n, 3);
	assert_int_equal(s->events[1].attrs.items[1].value.type, MX_VAL_INT);
	assert_int_equal(s->events[1].attrs.items[2].value.type, MX_VAL_BOOL);
	/* spans of one service share a resource, of one scope a scope */
	assert_ptr_equal(b->spans[0].resource, b->spans[1].resource);
	assert_ptr_not_equal(b->spans[0].resource, b->spans[2].resource);
	assert_ptr_equal(b->spans[0].scope, b->spans[1].scope);
	assert_int_equal(b->spans[1].status_code, MX_STATUS_OK);
	assert_true(b->spans[1].start_ns == 1000 && b->spans[1].end_ns == 100000);
	assert_int_equal(b->spans[2].status_code, MX_STATUS_ERROR);
	assert_int_equal(b->spans[2].start_ns, 0);
	assert_mxstr(b->spans[2].scope->name, "");
	char *out = zt_json(b);
	assert_string_equal(out, canonical_json);
	free(out);

	/* and through proto3: the same model, the same JSON */
	struct mx_buf pb, pb2;
	struct mx_batch *c;
	struct mx_errmsg err;
	mx_buf_init(&pb, 1 << 20);
	mx_buf_init(&pb2, 1 << 20);
	assert_int_equal(mx_zipkin_proto_encode(b, &pb), MX_OK);
	assert_int_equal(zt_decode_n(ZT_PROTO, pb.data, pb.len, &c, &err), MX_OK);
	assert_int_equal(c->n_spans, 3);
	out = zt_json(c);
	assert_string_equal(out, canonical_json);
	free(out);
	assert_int_equal(mx_zipkin_proto_encode(c, &pb2), MX_OK);
	assert_int_equal(pb.len, pb2.len);
	assert_memory_equal(pb.data, pb2.data, pb.len);
	/* the single-span encoder writes the same object */
	struct mx_buf one;
	mx_buf_init(&one, 1 << 20);
	assert_int_equal(mx_zipkin_json_encode_span(&c->spans[1], &one), MX_OK);
	const char *second = strstr(canonical_json, "\"shared\":true},{") + 15;
	assert_int_equal(one.len, (size_t)(strstr(second, "},{\"traceId") + 1 - second));
	assert_memory_equal(one.data, second, one.len);
	mx_buf_free(&one);
	mx_buf_free(&pb);
	mx_buf_free(&pb2);
	mx_batch_free(c);
	mx_batch_free(b);
}

/* What Envoy, OTel SDKs and old clients really send. */
static void test_lenient(void **state)
{
	(void)state;
	struct mx_batch *b = zt_ok(ZT_JSON,
		"[{\"traceId\":\"5AF7183FB1D4CF5F\",\"id\":\"ABC\",\"parentId\":\"0000000000000000\","
		"\"kind\":\"client\",\"timestamp\":\"1572849988488551\",\"duration\":\"7131\","
		"\"localEndpoint\":{\"serviceName\":\"envoy\",\"port\":0},"
		"\"remoteEndpoint\":{},"
		"\"annotations\":[{\"timestamp\":\"1572849988488552\",\"value\":\"a\"},"
		"{\"timestamp\":1572849988488552.6,\"value\":\"b\"}],"
		"\"tags\":{\"n\":42,\"f\":2.5,\"t\":true,\"z\":false,\"nul\":null,"
		"\"arr\":[1,\"x\"],\"obj\":{\"k\":1}},\"debug\":false,\"shared\":null},"
		" {\"traceId\":\"00000000000000005af7183fb1d4cf5f\",\"id\":\"1\",\"kind\":\"Server\","
		"\"timestamp\":1.58266276796031e+15,\"duration\":3.4,\"name\":null,"
		"\"localEndpoint\":{\"serviceName\":\"envoy\",\"port\":\"8080\",\"ipv4\":\"not-an-ip\"},"
		"\"remoteEndpoint\":{\"port\":-1}},"
		"{\"traceId\":\"1\",\"id\":\"2\",\"kind\":\"WHATEVER\",\"timestamp\":\"1.5e3\"}]", 3);
	const struct mx_span *s = &b->spans[0];
	zt_hex(s->trace_id, 16, "00000000000000005af7183fb1d4cf5f");
	zt_hex(s->span_id, 8, "0000000000000abc");
	assert_true(mx_id_is_zero(s->parent_span_id, 8));
	assert_int_equal(s->kind, MX_KIND_CLIENT);
	assert_true(s->start_ns == 1572849988488551000ull);
	assert_true(s->end_ns == (1572849988488551ull + 7131) * 1000);
	assert_int_equal(s->local.port, 0);
	assert_true(ep_empty(&s->remote));
	assert_true(s->events[0].time_ns == 1572849988488552000ull);
	assert_true(s->events[1].time_ns == 1572849988488553000ull); /* rounded */
	assert_mxstr(zt_tag(s, "n"), "42");
	assert_mxstr(zt_tag(s, "f"), "2.5");
	assert_mxstr(zt_tag(s, "t"), "true");
	assert_mxstr(zt_tag(s, "z"), "false");
	assert_mxstr(zt_tag(s, "arr"), "[1,\"x\"]");
	assert_mxstr(zt_tag(s, "obj"), "{\"k\":1}");
	assert_false(zt_has_tag(s, "nul"));
	assert_int_equal(s->mx_flags, 0);
	s = &b->spans[1];
	assert_memory_equal(s->trace_id, b->spans[0].trace_id, 16);
	assert_int_equal(s->kind, MX_KIND_SERVER);
	assert_true(s->start_ns == 1582662767960310000ull);
	assert_true(s->end_ns == s->start_ns + 3000);
	assert_int_equal(s->name.len, 0);
	assert_int_equal(s->local.port, 8080);
	assert_int_equal(s->local.ipv4.len, 0); /* dropped, not an address */
	assert_true(ep_empty(&s->remote));
	assert_ptr_equal(s->resource, b->spans[0].resource);
	s = &b->spans[2];
	zt_hex(s->trace_id, 16, "00000000000000000000000000000001");
	assert_int_equal(s->kind, MX_KIND_UNSPECIFIED);
	assert_true(s->start_ns == 1500000 && s->end_ns == 1500000);
	assert_mxstr(mx_span_service(s), "unknown_service");
	/* output is strict: lower-case 16-digit ids, integers, upper kinds */
	char *out = zt_json(b);
	assert_non_null(strstr(out, "{\"traceId\":\"5af7183fb1d4cf5f\",\"id\":\"0000000000000abc\","
				    "\"kind\":\"CLIENT\",\"timestamp\":1572849988488551,"
				    "\"duration\":7131,\"localEndpoint\":{\"serviceName\":\"envoy\"},"
				    "\"annotations\":[{\"timestamp\":1572849988488552,\"value\":\"a\"},"
				    "{\"timestamp\":1572849988488553,\"value\":\"b\"}],"
				    "\"tags\":{\"n\":\"42\",\"f\":\"2.5\""));
	assert_non_null(strstr(out, "\"kind\":\"SERVER\",\"timestamp\":1582662767960310,\"duration\":3,"));
	assert_non_null(strstr(out, "{\"traceId\":\"0000000000000001\",\"id\":\"0000000000000002\",\"timestamp\":1500,\"duration\":1,"
				    "\"localEndpoint\":{\"serviceName\":\"unknown_service\"}}"));
	free(out);
	mx_batch_free(b);
}

static void test_empty_bodies(void **state)
{
	(void)state;
	static const char *const bodies[] = { "", " \n\t\r", "[]", " [ ] " };
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		mx_batch_free(zt_ok(ZT_JSON, bodies[i], 0));
		mx_batch_free(zt_ok(ZT_V1, bodies[i], 0));
	}
	struct mx_batch *b;
	struct mx_errmsg err;
	assert_int_equal(zt_decode_n(ZT_PROTO, "", 0, &b, &err), MX_OK);
	assert_int_equal(b->n_spans, 0);
	mx_batch_free(b);
	struct mx_buf out;
	mx_buf_init(&out, 64);
	assert_int_equal(mx_zipkin_json_encode_spans(NULL, 0, &out), MX_OK);
	assert_int_equal(out.len, 2);
	assert_memory_equal(out.data, "[]", 2);
	mx_buf_free(&out);
}

static void test_bad_proto(void **state)
{
	(void)state;
	struct mx_batch *b;
	struct mx_errmsg err;
	/* every truncation of the spec example fails cleanly or decodes */
	for (size_t n = 1; n < sizeof(spec_proto); n++) {
		int rc = zt_decode_n(ZT_PROTO, spec_proto, n, &b, &err);
		assert_true(rc == MX_EINVAL || rc == MX_OK);
		if (rc == MX_EINVAL)
			assert_non_null(strstr(err.text, "ListOfSpans"));
		mx_batch_free(b);
	}
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					   0xff, 0xff, 0xff, 0xff, 0x01 };
	assert_int_equal(zt_decode_n(ZT_PROTO, garbage, sizeof(garbage), &b, &err),
			 MX_EINVAL);
	mx_batch_free(b);
	/* a span with a wrong wire type for a sub-message */
	static const uint8_t wt[] = { 0x0a, 0x02, 0x40, 0x01 };
	assert_int_equal(zt_decode_n(ZT_PROTO, wt, sizeof(wt), &b, &err), MX_EINVAL);
	mx_batch_free(b);
	/* JSON on the proto decoder */
	assert_int_equal(zt_decode_n(ZT_PROTO, spec_json, strlen(spec_json), &b, &err),
			 MX_EINVAL);
	mx_batch_free(b);
	/* the arena cap */
	b = mx_batch_new(256);
	memset(&err, 0, sizeof(err));
	assert_int_equal(mx_zipkin_proto_decode(spec_proto, sizeof(spec_proto),
						&zt_lim, b, &err), MX_ENOMEM);
	mx_batch_free(b);
}

/* Addresses, port, 128-bit ids and kinds through proto3. */
static void test_proto_fields(void **state)
{
	(void)state;
	struct mx_batch *b = zt_ok(ZT_JSON,
		"[{\"traceId\":\"463ac35c9f6413ad48485a3953bb6124\",\"id\":\"1\","
		"\"kind\":\"CONSUMER\",\"localEndpoint\":{\"serviceName\":\"s\","
		"\"ipv4\":\"1.2.3.4\",\"ipv6\":\"::1\",\"port\":65535},"
		"\"remoteEndpoint\":{\"ipv6\":\"fe80::1\"},"
		"\"annotations\":[{\"timestamp\":0,\"value\":\"\"}],\"tags\":{\"\":\"\"}}]", 1);
	struct mx_buf pb;
	struct mx_batch *c;
	struct mx_errmsg err;
	mx_buf_init(&pb, 1 << 20);
	assert_int_equal(mx_zipkin_proto_encode(b, &pb), MX_OK);
	assert_int_equal(zt_decode_n(ZT_PROTO, pb.data, pb.len, &c, &err), MX_OK);
	const struct mx_span *s = &c->spans[0];
	zt_hex(s->trace_id, 16, "463ac35c9f6413ad48485a3953bb6124");
	assert_int_equal(s->kind, MX_KIND_CONSUMER);
	assert_mxstr(s->local.ipv4, "1.2.3.4");
	assert_mxstr(s->local.ipv6, "::1");
	assert_int_equal(s->local.port, 65535);
	assert_mxstr(s->remote.ipv6, "fe80::1");
	assert_int_equal(s->n_events, 1);
	assert_int_equal(s->events[0].time_ns, 0);
	assert_int_equal(s->attrs.n, 1);
	assert_int_equal(s->attrs.items[0].key.len, 0);
	mx_buf_free(&pb);
	mx_batch_free(c);
	mx_batch_free(b);
}

/* An OTLP-like span (every attribute type, status, scope, resource,
 * events with attributes) through Zipkin JSON and back, as MAPPING.md says. */
static void test_model_to_zipkin(void **state)
{
	(void)state;
	struct mx_batch *a = fx_rich_batch();
	for (uint32_t i = 0; i < a->n_spans; i++) {
		a->spans[i].start_ns = 1544712660000000000ull + i * 1000000ull + 999;
		a->spans[i].end_ns = a->spans[i].start_ns + 123456789;
	}
	char *json = zt_json(a);
	struct mx_batch *b = zt_ok(ZT_JSON, json, 5);
	const struct mx_span *x = &a->spans[0], *s = &b->spans[0];
	assert_memory_equal(s->trace_id, x->trace_id, 16);
	assert_memory_equal(s->span_id, x->span_id, 8);
	assert_mxstr(s->name, "GET /api/users/{id}");
	assert_int_equal(s->kind, MX_KIND_SERVER);
	/* microseconds: the sub-microsecond part is cut */
	assert_true(s->start_ns == x->start_ns - 999);
	assert_true(s->end_ns == s->start_ns + 123456000);
	assert_int_equal(s->status_code, MX_STATUS_ERROR);
	assert_mxstr(s->status_message, "boom");
	assert_mxstr(s->scope->name, "io.opentelemetry.contrib.mongodb");
	assert_mxstr(s->scope->version, "1.2.3");
	assert_mxstr(mx_span_service(s), "frontend");
	assert_mxstr(s->local.service_name, "frontend");
	/* attributes are strings now */
	assert_int_equal(s->attrs.n, 14);
	assert_mxstr(zt_tag(s, "str"), "h\xc3\xa9llo \"q\" \\ \n\t");
	assert_mxstr(zt_tag(s, "empty.str"), "");
	assert_mxstr(zt_tag(s, "bool.t"), "true");
	assert_mxstr(zt_tag(s, "bool.f"), "false");
	assert_mxstr(zt_tag(s, "int.min"), "-9223372036854775808");
	assert_mxstr(zt_tag(s, "int.max"), "9223372036854775807");
	assert_mxstr(zt_tag(s, "dbl"), "0.30000000000000004");
	assert_mxstr(zt_tag(s, "dbl.nan"), "NaN");
	assert_mxstr(zt_tag(s, "dbl.inf"), "-Infinity");
	assert_mxstr(zt_tag(s, "dbl.big"), "1e+300");
	assert_mxstr(zt_tag(s, "bytes"), "AAEC/wB4");
	assert_mxstr(zt_tag(s, "empty"), "");
	assert_mxstr(zt_tag(s, "arr"), "[7,\"s\",[true,2.5],{\"k\":\"v\",\"e\":null}]");
	assert_mxstr(zt_tag(s, "map"), "{\"n\":-3,\"empty.arr\":[]}");
	/* events: the attributes come back typed as JSON can say them */
	assert_int_equal(s->n_events, 2);
	assert_mxstr(s->events[0].name, "exception");
	assert_true(s->events[0].time_ns == x->events[0].time_ns);
	const struct mx_attrs *ea = &s->events[0].attrs;
	assert_int_equal(ea->n, 14);
	assert_int_equal(ea->items[2].value.type, MX_VAL_BOOL);
	assert_int_equal(ea->items[4].value.type, MX_VAL_INT);
	assert_true(ea->items[4].value.u.i == INT64_MIN);
	assert_int_equal(ea->items[6].value.type, MX_VAL_DOUBLE);
	assert_true(ea->items[6].value.u.d == 0.1 + 0.2);
	assert_int_equal(ea->items[7].value.type, MX_VAL_STRING); /* "NaN" */
	assert_int_equal(ea->items[12].value.type, MX_VAL_ARRAY);
	assert_int_equal(ea->items[13].value.type, MX_VAL_MAP);
	assert_mxstr(s->events[1].name, "no time");
	assert_int_equal(s->events[1].time_ns, 0);
	/* span 1: status OK; span 2: a message without ERROR is not carried */
	assert_int_equal(b->spans[1].status_code, MX_STATUS_OK);
	assert_int_equal(b->spans[2].status_code, MX_STATUS_UNSET);
	assert_int_equal(b->spans[2].status_message.len, 0);
	assert_ptr_equal(b->spans[0].resource, b->spans[2].resource);
	assert_ptr_not_equal(b->spans[0].scope, b->spans[2].scope);
	/* kinds INTERNAL (1) and UNSPECIFIED write no kind */
	assert_int_equal(a->spans[1].kind, MX_KIND_INTERNAL);
	assert_int_equal(b->spans[1].kind, MX_KIND_UNSPECIFIED);
	assert_null(strstr(json, "INTERNAL"));
	/* resource r2 (no service.name): its attributes became tags */
	s = &b->spans[3];
	assert_mxstr(mx_span_service(s), "unknown_service");
	assert_int_equal(s->attrs.n, 14);
	assert_mxstr(zt_tag(s, "int.max"), "9223372036854775807");
	assert_int_equal(s->kind, MX_KIND_CLIENT);
	assert_int_equal(b->spans[4].kind, MX_KIND_PRODUCER);
	/* not carried by Zipkin */
	assert_int_equal(b->spans[0].n_links, 0);
	assert_int_equal(b->spans[0].trace_state.len, 0);
	assert_int_equal(b->spans[0].dropped_attrs, 0);
	/* and the Zipkin model is stable from here: JSON -> model -> JSON */
	char *again = zt_json(b);
	struct mx_batch *c = zt_ok(ZT_JSON, again, 5);
	char *third = zt_json(c);
	assert_string_equal(again, third);
	free(third);
	free(again);
	free(json);
	mx_batch_free(c);
	mx_batch_free(b);
	mx_batch_free(a);
}

/* The derived tags never repeat a key, and a later source wins. */
static void test_tag_precedence(void **state)
{
	(void)state;
	struct mx_batch *a = mx_batch_new(1 << 20);
	struct mx_resource *r = mx_arena_calloc(&a->arena, 1, sizeof(*r));
	struct mx_scope *sc = mx_arena_calloc(&a->arena, 1, sizeof(*sc));
	struct mx_attr *ra = mx_arena_calloc(&a->arena, 2, sizeof(*ra));
	struct mx_attr *sa = mx_arena_calloc(&a->arena, 4, sizeof(*sa));
	struct mx_span *s = mx_batch_add_span(a);
	assert_true(r && sc && ra && sa && s);
	ra[0] = (struct mx_attr){ MX_STR_LIT("service.name"),
				  { .type = MX_VAL_STRING, .u.s = MX_STR_LIT("svc") } };
	ra[1] = (struct mx_attr){ MX_STR_LIT("host"),
				  { .type = MX_VAL_STRING, .u.s = MX_STR_LIT("res") } };
	r->attrs = (struct mx_attrs){ ra, 2 };
	sa[0] = (struct mx_attr){ MX_STR_LIT("host"),
				  { .type = MX_VAL_STRING, .u.s = MX_STR_LIT("span") } };
	sa[1] = (struct mx_attr){ MX_STR_LIT("error"),
				  { .type = MX_VAL_BOOL, .u.b = true } };
	sa[2] = (struct mx_attr){ MX_STR_LIT("otel.status_code"),
				  { .type = MX_VAL_STRING, .u.s = MX_STR_LIT("x") } };
	sa[3] = (struct mx_attr){ MX_STR_LIT("peer.service"),
				  { .type = MX_VAL_STRING, .u.s = MX_STR_LIT("db") } };
	s->attrs = (struct mx_attrs){ sa, 4 };
	s->resource = r;
	s->scope = sc;
	s->span_id[7] = 1;
	s->trace_id[15] = 2;
	s->status_code = MX_STATUS_ERROR;
	char *json = zt_json(a);
	assert_string_equal(json,
		"[{\"traceId\":\"0000000000000002\",\"id\":\"0000000000000001\","
		"\"localEndpoint\":{\"serviceName\":\"svc\"},"
		"\"remoteEndpoint\":{\"serviceName\":\"db\"},"
		"\"tags\":{\"peer.service\":\"db\",\"otel.status_code\":\"ERROR\","
		"\"error\":\"\",\"host\":\"res\"}}]");
	free(json);
	/* a span whose status is UNSET keeps such attributes as they are */
	s->status_code = MX_STATUS_UNSET;
	s->resource = NULL;
	s->scope = NULL;
	s->local.ipv4 = MX_STR_LIT("10.1.2.3");
	json = zt_json(a);
	assert_string_equal(json,
		"[{\"traceId\":\"0000000000000002\",\"id\":\"0000000000000001\","
		"\"localEndpoint\":{\"ipv4\":\"10.1.2.3\"},"
		"\"remoteEndpoint\":{\"serviceName\":\"db\"},"
		"\"tags\":{\"host\":\"span\",\"error\":\"true\",\"otel.status_code\":\"x\","
		"\"peer.service\":\"db\"}}]");
	free(json);
	mx_batch_free(a);
}

/* Double attributes are spelled as JavaScript's String() spells them (what
 * the OTel JS Zipkin exporter sends); JSON numbers in tags likewise. */
static void test_double_text(void **state)
{
	(void)state;
	static const struct {
		double d;
		const char *want;
	} cases[] = {
		{ 0.1, "0.1" }, { 2.5, "2.5" }, { 100.0, "100" }, { -0.0, "0" },
		{ -1.5, "-1.5" }, { 0.1 + 0.2, "0.30000000000000004" },
		{ 1e21, "1e+21" }, { 1e20, "100000000000000000000" },
		{ 1e16, "10000000000000000" }, { 123456789012.5, "123456789012.5" },
		{ 0.000001, "0.000001" }, { 1e-7, "1e-7" }, { 1.5e-7, "1.5e-7" },
		{ 5e-324, "5e-324" }, { 1.7976931348623157e308, "1.7976931348623157e+308" },
		{ 12345.678e30, "1.2345678e+34" },
	};
	size_t n = sizeof(cases) / sizeof(cases[0]);
	struct mx_batch *a = mx_batch_new(1 << 20);
	struct mx_attr *at = mx_arena_calloc(&a->arena, n, sizeof(*at));
	struct mx_span *s = mx_batch_add_span(a);
	assert_true(at && s);
	for (size_t i = 0; i < n; i++) {
		char key[8];
		snprintf(key, sizeof(key), "d%zu", i);
		at[i].key = mx_batch_str(a, key, strlen(key));
		at[i].value.type = MX_VAL_DOUBLE;
		at[i].value.u.d = cases[i].d;
	}
	s->attrs = (struct mx_attrs){ at, (uint32_t)n };
	s->trace_id[15] = s->span_id[7] = 1;
	char *json = zt_json(a);
	struct mx_batch *b = zt_ok(ZT_JSON, json, 1);
	for (size_t i = 0; i < n; i++) {
		char key[8];
		snprintf(key, sizeof(key), "d%zu", i);
		assert_mxstr(zt_tag(&b->spans[0], key), cases[i].want);
	}
	free(json);
	mx_batch_free(b);
	mx_batch_free(a);
	b = zt_ok(ZT_JSON, "[{\"traceId\":\"1\",\"id\":\"1\",\"tags\":{\"a\":1e-7,"
		  "\"b\":1E21,\"c\":0.5,\"d\":-12,\"e\":1.0}}]", 1);
	assert_mxstr(zt_tag(&b->spans[0], "a"), "1e-7");
	assert_mxstr(zt_tag(&b->spans[0], "b"), "1e+21");
	assert_mxstr(zt_tag(&b->spans[0], "c"), "0.5");
	assert_mxstr(zt_tag(&b->spans[0], "d"), "-12");
	assert_mxstr(zt_tag(&b->spans[0], "e"), "1");
	mx_batch_free(b);
}

/* Repeated proto tag keys: the last value wins, the key stays once. */
static void test_proto_repeated_tags(void **state)
{
	(void)state;
	static const uint8_t pb[] = {
		0x0a, 0x2c, 0x0a, 0x08, 1, 2, 3, 4, 5, 6, 7, 8,
		0x1a, 0x08, 1, 1, 1, 1, 1, 1, 1, 1,
		0x5a, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, '1',
		0x5a, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, '2',
		0x5a, 0x06, 0x0a, 0x01, 'j', 0x12, 0x01, '3',
	};
	struct mx_batch *b;
	struct mx_errmsg err;
	assert_int_equal(zt_decode_n(ZT_PROTO, pb, sizeof(pb), &b, &err), MX_OK);
	assert_int_equal(b->n_spans, 1);
	assert_int_equal(b->spans[0].attrs.n, 2);
	assert_mxstr(zt_tag(&b->spans[0], "k"), "2");
	assert_mxstr(zt_tag(&b->spans[0], "j"), "3");
	mx_batch_free(b);
}

/* Annotation text that only looks like `name {json}` stays a name. */
static void test_annotation_text(void **state)
{
	(void)state;
	struct mx_batch *b = zt_ok(ZT_JSON,
		"[{\"traceId\":\"1\",\"id\":\"1\",\"annotations\":["
		"{\"timestamp\":1,\"value\":\"a {\\\"k\\\": 1}\"},"
		"{\"timestamp\":2,\"value\":\"b {not json}\"},"
		"{\"timestamp\":3,\"value\":\"c {}\"},"
		"{\"timestamp\":4,\"value\":\"d [1]\"},"
		"{\"timestamp\":5,\"value\":\"two words {\\\"k\\\":\\\"v\\\"}\"},"
		"{\"timestamp\":6,\"value\":\" {\\\"k\\\":1.5}\"}]}]", 1);
	const struct mx_span *s = &b->spans[0];
	assert_int_equal(s->n_events, 6);
	assert_mxstr(s->events[0].name, "a {\"k\": 1}");
	assert_int_equal(s->events[0].attrs.n, 0);
	assert_mxstr(s->events[1].name, "b {not json}");
	assert_mxstr(s->events[2].name, "c {}");
	assert_mxstr(s->events[3].name, "d [1]");
	assert_mxstr(s->events[4].name, "two words");
	assert_int_equal(s->events[4].attrs.n, 1);
	assert_mxstr(s->events[5].name, "");
	assert_int_equal(s->events[5].attrs.items[0].value.type, MX_VAL_DOUBLE);
	char *out = zt_json(b);
	assert_non_null(strstr(out, "\"value\":\"a {\\\"k\\\": 1}\""));
	assert_non_null(strstr(out, "\"value\":\"two words {\\\"k\\\":\\\"v\\\"}\""));
	assert_non_null(strstr(out, "\"value\":\" {\\\"k\\\":1.5}\""));
	free(out);
	mx_batch_free(b);
}

/* A buffer cap that the output passes fails cleanly. */
static void test_encode_cap(void **state)
{
	(void)state;
	struct mx_batch *b = zt_ok(ZT_JSON, canonical_json, 3);
	for (size_t cap = 0; cap < 200; cap += 7) {
		struct mx_buf out;
		mx_buf_init(&out, cap);
		assert_int_equal(mx_zipkin_json_encode_spans(b->spans, b->n_spans, &out),
				 MX_ENOMEM);
		mx_buf_free(&out);
		mx_buf_init(&out, cap);
		assert_int_equal(mx_zipkin_proto_encode(b, &out), MX_ENOMEM);
		mx_buf_free(&out);
	}
	mx_batch_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_spec_json, zt_setup),
		cmocka_unit_test_setup(test_spec_proto, zt_setup),
		cmocka_unit_test_setup(test_canonical_roundtrip, zt_setup),
		cmocka_unit_test_setup(test_lenient, zt_setup),
		cmocka_unit_test_setup(test_empty_bodies, zt_setup),
		cmocka_unit_test_setup(test_bad_proto, zt_setup),
		cmocka_unit_test_setup(test_proto_fields, zt_setup),
		cmocka_unit_test_setup(test_model_to_zipkin, zt_setup),
		cmocka_unit_test_setup(test_tag_precedence, zt_setup),
		cmocka_unit_test_setup(test_double_text, zt_setup),
		cmocka_unit_test_setup(test_proto_repeated_tags, zt_setup),
		cmocka_unit_test_setup(test_annotation_text, zt_setup),
		cmocka_unit_test_setup(test_encode_cap, zt_setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
