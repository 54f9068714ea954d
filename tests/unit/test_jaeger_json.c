/*
 * test_jaeger_json.c - codec/jaeger_json_encode.c: model -> Jaeger query
 * API JSON, checked field by field after parsing with jansson (which also
 * proves the output is valid JSON without duplicate keys) and, for the
 * layout, against exact strings: a trace covering every attribute type,
 * statuses, events, links, 64- and 128-bit ids and process
 * de-duplication; output caps; the envelope. Grouping, processes and kinds
 * are in test_jaeger_json_group.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jaeger_test_util.h"

/* ---- the full trace ---- */

static const char weird[] = "q\"uo\\te\n\x01\xff end";

/* Span A (root, every attribute type), B (child, error, remote endpoint),
 * C (child, resource equal in content to A's). */
static struct mx_batch *full_batch(void)
{
	struct mx_batch *b = mx_batch_new(ARENA_CAP);
	assert_non_null(b);
	assert_int_equal(mx_batch_reserve(b, 3), MX_OK);
	struct mx_resource *r1 = resource_new(b, "svc-a", "h1");
	struct mx_resource *r2 = resource_new(b, "svc-b", NULL);
	struct mx_resource *r3 = resource_new(b, "svc-a", "h1");
	struct mx_scope *sc = scope_new(b, "lib", "1.2");
	struct mx_scope *empty_sc = scope_new(b, NULL, NULL);

	uint32_t i_a = add_span(b, 0, 0xab, 0xa, 0, "GET /a", r1, sc);
	struct mx_span *a = &b->spans[i_a];
	a->kind = MX_KIND_SERVER;
	a->status_code = MX_STATUS_OK;
	a->flags = 0x301;
	a->trace_state = S(b, "k=v");
	a->dropped_attrs = 3;
	a->dropped_events = 4;
	a->dropped_links = 5;
	struct mx_attr *at = attrs_new(b, 20);
	a->attrs.items = at;
	a->attrs.n = 20;
	set_str(b, &at[0], "str", "hello");
	at[1].key = S(b, "bool");
	at[1].value.type = MX_VAL_BOOL;
	at[1].value.u.b = true;
	set_int(b, &at[2], "int", 42);
	set_int(b, &at[3], "int.neg", -7);
	set_int(b, &at[4], "int.maxsafe", 9007199254740991LL);
	set_int(b, &at[5], "int.minsafe", -9007199254740991LL);
	set_int(b, &at[6], "int.big", 9007199254740992LL);
	set_int(b, &at[7], "int.min", INT64_MIN);
	set_double(b, &at[8], "dbl", 0.1);
	set_double(b, &at[9], "dbl.third", 1.0 / 3.0);
	set_double(b, &at[10], "nan", NAN);
	set_double(b, &at[11], "inf", INFINITY);
	set_double(b, &at[12], "ninf", -INFINITY);
	at[13].key = S(b, "bytes");
	at[13].value.type = MX_VAL_BYTES;
	at[13].value.u.s = SN(b, "\x00\xff\x10", 3);

	struct mx_value *items = values_new(b, 8);
	items[0].type = MX_VAL_INT;
	items[0].u.i = 1;
	items[1].type = MX_VAL_STRING;
	items[1].u.s = S(b, "a\"b");
	items[2].type = MX_VAL_BOOL;
	items[2].u.b = true;
	items[3].type = MX_VAL_EMPTY;
	items[4].type = MX_VAL_DOUBLE;
	items[4].u.d = 2.5;
	items[5].type = MX_VAL_DOUBLE;
	items[5].u.d = NAN;
	items[6].type = MX_VAL_BYTES;
	items[6].u.s = S(b, "hi");
	struct mx_value *inner = values_new(b, 1);
	inner[0].type = MX_VAL_INT;
	inner[0].u.i = 2;
	items[7].type = MX_VAL_ARRAY;
	items[7].u.arr.items = inner;
	items[7].u.arr.n = 1;
	at[14].key = S(b, "arr");
	at[14].value.type = MX_VAL_ARRAY;
	at[14].value.u.arr.items = items;
	at[14].value.u.arr.n = 8;

	struct mx_attr *m = attrs_new(b, 2);
	struct mx_attr *mn = attrs_new(b, 1);
	set_str(b, &m[0], "k", "v");
	set_int(b, &mn[0], "x", 1);
	m[1].key = S(b, "n");
	m[1].value.type = MX_VAL_MAP;
	m[1].value.u.map.items = mn;
	m[1].value.u.map.n = 1;
	at[15].key = S(b, "map");
	at[15].value.type = MX_VAL_MAP;
	at[15].value.u.map.items = m;
	at[15].value.u.map.n = 2;

	at[16].key = S(b, "empty");
	at[16].value.type = MX_VAL_EMPTY;
	at[17].key = S(b, "weird");
	at[17].value.type = MX_VAL_STRING;
	at[17].value.u.s = SN(b, weird, sizeof(weird) - 1);
	set_double(b, &at[18], "dbl.int", 3.0);
	set_double(b, &at[19], "dbl.big", 1e300);

	struct mx_event *ev = mx_arena_calloc(&b->arena, 2, sizeof(*ev));
	assert_non_null(ev);
	ev[0].time_ns = 1485467191640000999ull;
	ev[0].name = S(b, "cache miss");
	ev[0].attrs.items = attrs_new(b, 1);
	ev[0].attrs.n = 1;
	set_int(b, &ev[0].attrs.items[0], "size", 12);
	ev[1].time_ns = 1485467191640001000ull;
	a->events = ev;
	a->n_events = 2;

	struct mx_link *ln = mx_arena_calloc(&b->arena, 1, sizeof(*ln));
	assert_non_null(ln);
	trace_id(ln->trace_id, 0x0102030405060708ull, 0x090a0b0c0d0e0f10ull);
	span_id(ln->span_id, 0x11);
	a->links = ln;
	a->n_links = 1;

	uint32_t i_sb = add_span(b, 0, 0xab, 0xb, 0xa, "call", r2, sc);
	struct mx_span *sb = &b->spans[i_sb];
	sb->kind = MX_KIND_CLIENT;
	sb->status_code = MX_STATUS_ERROR;
	sb->status_message = S(b, "boom");
	sb->remote.service_name = S(b, "svc-c");
	sb->remote.ipv4 = S(b, "10.0.0.1");
	sb->remote.ipv6 = S(b, "::1");
	sb->remote.port = 8080;
	sb->links = ln;
	sb->n_links = 1;

	uint32_t i_c = add_span(b, 0, 0xab, 0xc, 0xa, "send", r3, empty_sc);
	struct mx_span *c = &b->spans[i_c];
	c->kind = MX_KIND_PRODUCER;
	c->status_code = MX_STATUS_ERROR;
	c->end_ns = c->start_ns - 1000; /* ends before it starts */
	return b;
}

static void test_full_trace(void **state)
{
	(void)state;
	struct mx_batch *b = full_batch();
	const struct mx_batch *one[1] = { b };
	char *text = NULL;
	json_t *data = encode(one, 1, &text);

	assert_int_equal(json_array_size(data), 1);
	json_t *tr = json_array_get(data, 0);
	assert_int_equal(json_object_size(tr), 4);
	assert_string_equal(jstr(tr, "traceID"), "00000000000000ab");
	assert_true(json_is_null(json_object_get(tr, "warnings")));
	json_t *spans = json_object_get(tr, "spans");
	assert_int_equal(json_array_size(spans), 3);

	/* processes: C's resource equals A's in content -> shared p1 */
	json_t *procs = json_object_get(tr, "processes");
	assert_int_equal(json_object_size(procs), 2);
	json_t *p1 = json_object_get(procs, "p1");
	json_t *p2 = json_object_get(procs, "p2");
	assert_string_equal(jstr(p1, "serviceName"), "svc-a");
	assert_int_equal(json_array_size(json_object_get(p1, "tags")), 1);
	assert_string_equal(tag_str(json_object_get(p1, "tags"), "host.name"),
			    "h1");
	assert_string_equal(jstr(p2, "serviceName"), "svc-b");
	assert_int_equal(json_array_size(json_object_get(p2, "tags")), 0);

	/* span A */
	json_t *sa = json_array_get(spans, 0);
	assert_string_equal(jstr(sa, "traceID"), "00000000000000ab");
	assert_string_equal(jstr(sa, "spanID"), "000000000000000a");
	assert_int_equal(jint(sa, "flags"), 1);
	assert_string_equal(jstr(sa, "operationName"), "GET /a");
	assert_int_equal(jint(sa, "startTime"), 1485467191639875LL);
	assert_int_equal(jint(sa, "duration"), 5);
	assert_string_equal(jstr(sa, "processID"), "p1");
	assert_true(json_is_null(json_object_get(sa, "warnings")));
	assert_null(json_object_get(sa, "parentSpanID"));
	json_t *refs = json_object_get(sa, "references");
	assert_int_equal(json_array_size(refs), 1);
	json_t *r0 = json_array_get(refs, 0);
	assert_string_equal(jstr(r0, "refType"), "FOLLOWS_FROM");
	assert_string_equal(jstr(r0, "traceID"),
			    "0102030405060708090a0b0c0d0e0f10");
	assert_string_equal(jstr(r0, "spanID"), "0000000000000011");

	json_t *tags = json_object_get(sa, "tags");
	static const char *const akeys[] = {
		"str", "bool", "int", "int.neg", "int.maxsafe", "int.minsafe",
		"int.big", "int.min", "dbl", "dbl.third", "nan", "inf", "ninf",
		"bytes", "arr", "map", "empty", "weird", "dbl.int", "dbl.big",
		"span.kind", "otel.status_code", "otel.scope.name",
		"otel.scope.version", "w3c.tracestate",
		"otel.dropped_attributes_count", "otel.dropped_events_count",
		"otel.dropped_links_count",
	};
	assert_keys(tags, akeys, sizeof(akeys) / sizeof(akeys[0]));
	assert_string_equal(tag_str(tags, "str"), "hello");
	assert_true(json_is_true(tag(tags, "bool", "bool")));
	assert_int_equal(tag_int(tags, "int"), 42);
	assert_int_equal(tag_int(tags, "int.neg"), -7);
	assert_int_equal(tag_int(tags, "int.maxsafe"), 9007199254740991LL);
	assert_int_equal(tag_int(tags, "int.minsafe"), -9007199254740991LL);
	const json_t *v = tag(tags, "int.big", "int64");
	assert_string_equal(json_string_value(v), "9007199254740992");
	v = tag(tags, "int.min", "int64");
	assert_string_equal(json_string_value(v), "-9223372036854775808");
	v = tag(tags, "dbl", "float64");
	assert_true(json_is_real(v));
	assert_true(json_real_value(v) == 0.1);
	assert_non_null(strstr(text, "\"value\":0.1}"));
	v = tag(tags, "dbl.third", "float64");
	assert_true(json_real_value(v) == 1.0 / 3.0);
	assert_string_equal(json_string_value(tag(tags, "nan", "float64")),
			    "NaN");
	assert_string_equal(json_string_value(tag(tags, "inf", "float64")),
			    "Inf");
	assert_string_equal(json_string_value(tag(tags, "ninf", "float64")),
			    "-Inf");
	assert_string_equal(json_string_value(tag(tags, "bytes", "binary")),
			    "AP8Q");
	assert_string_equal(tag_str(tags, "arr"),
			    "[1,\"a\\\"b\",true,null,2.5,\"NaN\",\"aGk=\",[2]]");
	assert_string_equal(tag_str(tags, "map"), "{\"k\":\"v\",\"n\":{\"x\":1}}");
	assert_string_equal(tag_str(tags, "empty"), "");
	/* quotes, backslash and controls survive; invalid UTF-8 -> U+FFFD */
	assert_string_equal(tag_str(tags, "weird"),
			    "q\"uo\\te\n\x01\xEF\xBF\xBD end");
	v = tag(tags, "dbl.int", "float64");
	assert_true(json_number_value(v) == 3.0);
	v = tag(tags, "dbl.big", "float64");
	assert_true(json_number_value(v) == 1e300);
	assert_string_equal(tag_str(tags, "span.kind"), "server");
	assert_string_equal(tag_str(tags, "otel.status_code"), "OK");
	assert_false(has_tag(tags, "error"));
	assert_string_equal(tag_str(tags, "otel.scope.name"), "lib");
	assert_string_equal(tag_str(tags, "otel.scope.version"), "1.2");
	assert_string_equal(tag_str(tags, "w3c.tracestate"), "k=v");
	assert_int_equal(tag_int(tags, "otel.dropped_attributes_count"), 3);
	assert_int_equal(tag_int(tags, "otel.dropped_events_count"), 4);
	assert_int_equal(tag_int(tags, "otel.dropped_links_count"), 5);

	json_t *logs = json_object_get(sa, "logs");
	assert_int_equal(json_array_size(logs), 2);
	json_t *l0 = json_array_get(logs, 0);
	assert_int_equal(json_object_size(l0), 2);
	assert_int_equal(jint(l0, "timestamp"), 1485467191640000LL);
	json_t *f0 = json_object_get(l0, "fields");
	static const char *const fkeys[] = { "event", "size" };
	assert_keys(f0, fkeys, 2);
	assert_string_equal(tag_str(f0, "event"), "cache miss");
	assert_int_equal(tag_int(f0, "size"), 12);
	json_t *l1 = json_array_get(logs, 1);
	assert_int_equal(jint(l1, "timestamp"), 1485467191640001LL);
	assert_int_equal(json_array_size(json_object_get(l1, "fields")), 1);
	assert_string_equal(tag_str(json_object_get(l1, "fields"), "event"),
			    "");

	/* span B: parent first, then the link; error status; peer tags */
	json_t *sb = json_array_get(spans, 1);
	assert_string_equal(jstr(sb, "spanID"), "000000000000000b");
	assert_null(json_object_get(sb, "flags"));
	assert_string_equal(jstr(sb, "processID"), "p2");
	refs = json_object_get(sb, "references");
	assert_int_equal(json_array_size(refs), 2);
	r0 = json_array_get(refs, 0);
	assert_int_equal(json_object_size(r0), 3);
	assert_string_equal(jstr(r0, "refType"), "CHILD_OF");
	assert_string_equal(jstr(r0, "traceID"), "00000000000000ab");
	assert_string_equal(jstr(r0, "spanID"), "000000000000000a");
	assert_string_equal(jstr(json_array_get(refs, 1), "refType"),
			    "FOLLOWS_FROM");
	tags = json_object_get(sb, "tags");
	static const char *const bkeys[] = {
		"span.kind", "otel.status_code", "error",
		"otel.status_description", "otel.scope.name",
		"otel.scope.version", "peer.service", "peer.ipv4", "peer.ipv6",
		"peer.port",
	};
	assert_keys(tags, bkeys, sizeof(bkeys) / sizeof(bkeys[0]));
	assert_string_equal(tag_str(tags, "span.kind"), "client");
	assert_string_equal(tag_str(tags, "otel.status_code"), "ERROR");
	assert_true(json_is_true(tag(tags, "error", "bool")));
	assert_string_equal(tag_str(tags, "otel.status_description"), "boom");
	assert_string_equal(tag_str(tags, "peer.service"), "svc-c");
	assert_string_equal(tag_str(tags, "peer.ipv4"), "10.0.0.1");
	assert_string_equal(tag_str(tags, "peer.ipv6"), "::1");
	assert_int_equal(tag_int(tags, "peer.port"), 8080);
	assert_int_equal(json_array_size(json_object_get(sb, "logs")), 0);

	/* span C: same process as A, no flags, error without description,
	 * end before start -> duration 0, empty scope -> no scope tags */
	json_t *sc = json_array_get(spans, 2);
	assert_string_equal(jstr(sc, "processID"), "p1");
	assert_null(json_object_get(sc, "flags"));
	assert_int_equal(jint(sc, "duration"), 0);
	tags = json_object_get(sc, "tags");
	static const char *const ckeys[] = { "span.kind", "otel.status_code",
					     "error" };
	assert_keys(tags, ckeys, 3);
	assert_string_equal(tag_str(tags, "span.kind"), "producer");
	assert_int_equal(json_array_size(json_object_get(sc, "references")), 1);

	json_decref(data);
	free(text);
	mx_batch_free(b);
}

/* Every output cap below the full size fails cleanly with MX_ENOMEM. */
static void test_output_cap(void **state)
{
	(void)state;
	struct mx_batch *b = full_batch();
	const struct mx_batch *one[1] = { b };
	struct mx_buf out;
	mx_buf_init(&out, OUT_CAP);
	assert_int_equal(mx_jaeger_json_encode_traces(one, 1, &out), MX_OK);
	size_t full = out.len;
	mx_buf_free(&out);
	for (size_t cap = 0; cap < full; cap += (cap < 64 ? 1 : 7)) {
		mx_buf_init(&out, cap);
		assert_int_equal(mx_jaeger_json_encode_traces(one, 1, &out),
				 MX_ENOMEM);
		mx_buf_free(&out);
	}
	mx_buf_init(&out, full);
	assert_int_equal(mx_jaeger_json_encode_traces(one, 1, &out), MX_OK);
	assert_int_equal(out.len, full);
	mx_buf_free(&out);
	mx_batch_free(b);
}

/* The exact layout of a minimal span. */
static void test_exact_minimal(void **state)
{
	(void)state;
	struct mx_batch *b = mx_batch_new(ARENA_CAP);
	assert_non_null(b);
	struct mx_resource *r = resource_new(b, "svc", NULL);
	add_span(b, 0, 0xab, 1, 0, "op", r, NULL);
	const struct mx_batch *one[1] = { b };
	char *text = NULL;
	json_t *j = encode(one, 1, &text);
	assert_string_equal(
		text,
		"[{\"traceID\":\"00000000000000ab\",\"spans\":[{"
		"\"traceID\":\"00000000000000ab\",\"spanID\":\"0000000000000001\","
		"\"operationName\":\"op\",\"references\":[],"
		"\"startTime\":1485467191639875,\"duration\":5,\"tags\":[],"
		"\"logs\":[],\"processID\":\"p1\",\"warnings\":null}],"
		"\"processes\":{\"p1\":{\"serviceName\":\"svc\",\"tags\":[]}},"
		"\"warnings\":null}]");
	json_decref(j);
	free(text);
	mx_batch_free(b);
}

/* Spans of several trace ids (a 64-bit lookup that returned 128-bit traces
 * too) become one Trace object per id, in order of first appearance. */
static void test_envelope(void **state)
{
	(void)state;
	struct mx_buf out;
	mx_buf_init(&out, 4096);
	struct mx_str names[2] = { MX_STR_LIT("a"), MX_STR_LIT("b\"c") };
	assert_int_equal(mx_jaeger_json_begin(&out), MX_OK);
	assert_int_equal(mx_jaeger_json_strings(names, 2, &out), MX_OK);
	assert_int_equal(mx_jaeger_json_end(&out, 2), MX_OK);
	assert_int_equal(mx_buf_putc(&out, 0), MX_OK);
	assert_string_equal((const char *)out.data,
			    "{\"data\":[\"a\",\"b\\\"c\"],\"total\":2,"
			    "\"limit\":0,\"offset\":0,\"errors\":null}");

	mx_buf_reset(&out);
	mx_jaeger_json_begin(&out);
	mx_jaeger_json_strings(NULL, 0, &out);
	mx_jaeger_json_end(&out, 0);
	assert_int_equal(mx_buf_putc(&out, 0), MX_OK);
	assert_string_equal((const char *)out.data,
			    "{\"data\":[],\"total\":0,\"limit\":0,"
			    "\"offset\":0,\"errors\":null}");

	mx_buf_reset(&out);
	assert_int_equal(mx_jaeger_json_error(&out, 404, "trace not found"),
			 MX_OK);
	assert_int_equal(mx_buf_putc(&out, 0), MX_OK);
	assert_string_equal((const char *)out.data,
			    "{\"data\":null,\"total\":0,\"limit\":0,"
			    "\"offset\":0,\"errors\":[{\"code\":404,"
			    "\"msg\":\"trace not found\"}]}");

	mx_buf_reset(&out);
	assert_int_equal(mx_jaeger_json_error(&out, 400, "bad \"id\"\n"),
			 MX_OK);
	json_error_t err;
	json_t *j = json_loadb((const char *)out.data, out.len, 0, &err);
	assert_non_null(j);
	json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
	assert_int_equal(jint(e0, "code"), 400);
	assert_string_equal(jstr(e0, "msg"), "bad \"id\"\n");
	assert_true(json_is_null(json_object_get(j, "data")));
	json_decref(j);

	mx_buf_reset(&out);
	assert_int_equal(mx_jaeger_json_error(&out, 500, NULL), MX_OK);
	mx_buf_free(&out);

	/* a full buffer reports MX_ENOMEM */
	mx_buf_init(&out, 10);
	assert_int_equal(mx_jaeger_json_error(&out, 404, "trace not found"),
			 MX_ENOMEM);
	mx_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_trace),
		cmocka_unit_test(test_output_cap),
		cmocka_unit_test(test_exact_minimal),
		cmocka_unit_test(test_envelope),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
