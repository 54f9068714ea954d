/*
 * test_otlp_json.c - OTLP/JSON trace codec, OTLP/HTTP response bodies and
 * base64: the spec's example trace, round trips model -> JSON -> model and
 * protobuf -> model -> JSON -> model, the lenient input forms (snake_case,
 * enum names, numbers as strings, legacy instrumentationLibrarySpans), and
 * hostile input (invalid JSON, 10 000-deep nesting, wrong types, bad ids,
 * caps).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "google/rpc/status.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#include "../../codec/base64.h"
#include "otlp_fixture.h"

static struct mx_decode_limits lim;

static int setup(void **state)
{
	(void)state;
	mx_decode_limits_default(&lim);
	return 0;
}

static int decode(const char *json, size_t n, struct mx_batch **out,
		  struct mx_errmsg *err)
{
	*out = mx_batch_new(64u << 20);
	assert_non_null(*out);
	memset(err, 0, sizeof(*err));
	return mx_otlp_decode_json(json, n, &lim, *out, err);
}

static int decode_str(const char *json, struct mx_batch **out,
		      struct mx_errmsg *err)
{
	return decode(json, strlen(json), out, err);
}

static const char spec_example[] =
	"{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
	"\"value\":{\"stringValue\":\"my.service\"}}]},"
	"\"scopeSpans\":[{\"scope\":{\"name\":\"my.library\",\"version\":\"1.0.0\"},"
	"\"spans\":[{\"traceId\":\"5B8EFFF798038103D269B633813FC60C\","
	"\"spanId\":\"EEE19B7EC3C1B174\",\"parentSpanId\":\"EEE19B7EC3C1B173\","
	"\"name\":\"I'm a server span\",\"startTimeUnixNano\":\"1544712660000000000\","
	"\"endTimeUnixNano\":\"1544712661000000000\",\"kind\":2,"
	"\"attributes\":[{\"key\":\"my.span.attr\",\"value\":{\"stringValue\":"
	"\"some value\"}}]}]}]}]}";

static void test_spec_example(void **state)
{
	(void)state;
	struct mx_batch *b;
	struct mx_errmsg err;
	assert_int_equal(decode_str(spec_example, &b, &err), MX_OK);
	assert_int_equal(b->n_spans, 1);
	assert_int_equal(b->rejected_spans, 0);
	const struct mx_span *s = &b->spans[0];
	char hex[33];
	mx_id_to_hex(s->trace_id, 16, hex);
	assert_string_equal(hex, "5b8efff798038103d269b633813fc60c");
	mx_id_to_hex(s->span_id, 8, hex);
	assert_string_equal(hex, "eee19b7ec3c1b174");
	mx_id_to_hex(s->parent_span_id, 8, hex);
	assert_string_equal(hex, "eee19b7ec3c1b173");
	assert_true(mx_str_eq(s->name, "I'm a server span", 17));
	assert_true(s->start_ns == 1544712660000000000ull);
	assert_true(s->end_ns == 1544712661000000000ull);
	assert_int_equal(s->kind, MX_KIND_SERVER);
	assert_int_equal(s->attrs.n, 1);
	assert_true(mx_str_eq(s->attrs.items[0].key, "my.span.attr", 12));
	assert_int_equal(s->attrs.items[0].value.type, MX_VAL_STRING);
	assert_true(mx_str_eq(s->attrs.items[0].value.u.s, "some value", 10));
	assert_true(mx_str_eq(mx_span_service(s), "my.service", 10));
	assert_true(mx_str_eq(s->scope->name, "my.library", 10));
	assert_true(mx_str_eq(s->scope->version, "1.0.0", 5));
	mx_batch_free(b);
}

/* model -> JSON -> model, and the second encoding is byte-identical */
static void test_roundtrip_rich(void **state)
{
	(void)state;
	struct mx_batch *a = fx_rich_batch(), *b;
	struct mx_buf j1, j2;
	struct mx_errmsg err;
	mx_buf_init(&j1, 1 << 20);
	mx_buf_init(&j2, 1 << 20);
	assert_int_equal(mx_otlp_encode_json(a, &j1), MX_OK);
	assert_int_equal(decode((const char *)j1.data, j1.len, &b, &err), MX_OK);
	assert_int_equal(b->rejected_spans, 0);
	fx_batch_eq(a, b);
	assert_int_equal(mx_otlp_encode_json(b, &j2), MX_OK);
	assert_int_equal(j1.len, j2.len);
	assert_memory_equal(j1.data, j2.data, j1.len);
	/* spot checks of the encoding rules */
	const char *t = (const char *)j1.data;
	assert_non_null(strstr(t, "\"intValue\":\"-9223372036854775808\""));
	assert_non_null(strstr(t, "\"doubleValue\":\"NaN\""));
	assert_non_null(strstr(t, "\"doubleValue\":\"-Infinity\""));
	assert_non_null(strstr(t, "\"doubleValue\":0.30000000000000004"));
	assert_non_null(strstr(t, "\"bytesValue\":\"AAEC/wB4\""));
	assert_non_null(strstr(t, "\"endTimeUnixNano\":\"18446744073709551615\""));
	assert_non_null(strstr(t, "\"kind\":2"));
	assert_non_null(strstr(t, "\"status\":{\"message\":\"boom\",\"code\":2}"));
	assert_non_null(strstr(t, "\"traceId\":\"02132435465768798a9bacbdcedff001\""));
	mx_buf_free(&j1);
	mx_buf_free(&j2);
	mx_batch_free(a);
	mx_batch_free(b);
}

/* proto -> model -> JSON -> model keeps everything */
static void test_proto_to_json(void **state)
{
	(void)state;
	struct mx_batch *a = fx_rich_batch(), *b, *c;
	struct mx_buf p, j;
	struct mx_errmsg err = { 0 };
	mx_buf_init(&p, 1 << 20);
	mx_buf_init(&j, 1 << 20);
	assert_int_equal(mx_otlp_encode_proto(a, &p), MX_OK);
	b = mx_batch_new(1 << 22);
	assert_int_equal(mx_otlp_decode_proto(p.data, p.len, &lim, b, &err), MX_OK);
	assert_int_equal(mx_otlp_encode_json(b, &j), MX_OK);
	assert_int_equal(decode((const char *)j.data, j.len, &c, &err), MX_OK);
	fx_batch_eq(a, c);
	mx_buf_free(&p);
	mx_buf_free(&j);
	mx_batch_free(a);
	mx_batch_free(b);
	mx_batch_free(c);
}

/* snake_case keys, enum names, 64-bit integers as numbers, doubles as
 * strings, upper-case hex, null members, base64 forms */
static void test_lenient_forms(void **state)
{
	(void)state;
	static const char json[] =
		"{\"resource_spans\":[{\"resource\":{\"attributes\":[],"
		"\"dropped_attributes_count\":\"4\"},\"schema_url\":\"s\","
		"\"scope_spans\":[{\"scope\":{\"name\":\"lib\"},\"spans\":[{"
		"\"trace_id\":\"000000000000000000000000000000AB\","
		"\"span_id\":\"00000000000000CD\",\"parent_span_id\":\"\","
		"\"trace_state\":\"x=y\",\"name\":\"op\",\"kind\":\"SPAN_KIND_CLIENT\","
		"\"start_time_unix_nano\":1544712660000000000,"
		"\"end_time_unix_nano\":\"1544712661000000000\",\"flags\":257,"
		"\"dropped_attributes_count\":1,\"dropped_events_count\":\"2\","
		"\"status\":{\"code\":\"STATUS_CODE_ERROR\",\"message\":null},"
		"\"attributes\":["
		"{\"key\":\"i\",\"value\":{\"int_value\":12345678901234}},"
		"{\"key\":\"d\",\"value\":{\"doubleValue\":\"Infinity\"}},"
		"{\"key\":\"d2\",\"value\":{\"double_value\":3}},"
		"{\"key\":\"d3\",\"value\":{\"doubleValue\":\"1.5\"}},"
		"{\"key\":\"b\",\"value\":{\"bytes_value\":\"_-8\"}},"
		"{\"key\":\"n\",\"value\":null},"
		"{\"key\":\"u\",\"value\":{\"unknownValue\":1}},"
		"{\"key\":\"kv\",\"value\":{\"kvlist_value\":{\"values\":[{\"key\":\"a\","
		"\"value\":{\"bool_value\":true}}]}}},"
		"{\"key\":\"arr\",\"value\":{\"array_value\":{}}}"
		"],\"events\":[{\"time_unix_nano\":\"5\",\"name\":\"e\"}],"
		"\"links\":[{\"trace_id\":\"0102030405060708090a0b0c0d0e0f10\","
		"\"span_id\":\"0102030405060708\",\"flags\":\"1\"}],"
		"\"unknownKey\":{\"deep\":[1,2,3]}}]}]}]}";
	struct mx_batch *b;
	struct mx_errmsg err;
	assert_int_equal(decode_str(json, &b, &err), MX_OK);
	assert_int_equal(b->n_spans, 1);
	const struct mx_span *s = &b->spans[0];
	assert_int_equal(s->trace_id[15], 0xab);
	assert_true(mx_id_is_zero(s->trace_id, 15));
	assert_int_equal(s->span_id[7], 0xcd);
	assert_true(mx_id_is_zero(s->parent_span_id, 8));
	assert_true(mx_str_eq(s->trace_state, "x=y", 3));
	assert_int_equal(s->kind, MX_KIND_CLIENT);
	assert_int_equal(s->status_code, MX_STATUS_ERROR);
	assert_int_equal(s->status_message.len, 0);
	assert_true(s->start_ns == 1544712660000000000ull);
	assert_true(s->end_ns == 1544712661000000000ull);
	assert_int_equal(s->flags, 257);
	assert_int_equal(s->dropped_attrs, 1);
	assert_int_equal(s->dropped_events, 2);
	assert_int_equal(s->resource->dropped_attrs, 4);
	assert_true(mx_str_eq(s->resource->schema_url, "s", 1));
	assert_true(mx_str_eq(s->scope->name, "lib", 3));
	assert_int_equal(s->attrs.n, 9);
	const struct mx_attr *a = s->attrs.items;
	assert_int_equal(a[0].value.type, MX_VAL_INT);
	assert_true(a[0].value.u.i == 12345678901234ll);
	assert_int_equal(a[1].value.type, MX_VAL_DOUBLE);
	assert_true(isinf(a[1].value.u.d) && a[1].value.u.d > 0);
	assert_true(a[2].value.u.d == 3.0);
	assert_true(a[3].value.u.d == 1.5);
	assert_int_equal(a[4].value.type, MX_VAL_BYTES);
	assert_int_equal(a[4].value.u.s.len, 2);
	assert_memory_equal(a[4].value.u.s.ptr, "\xff\xef", 2);
	assert_int_equal(a[5].value.type, MX_VAL_EMPTY);
	assert_int_equal(a[6].value.type, MX_VAL_EMPTY);
	assert_int_equal(a[7].value.type, MX_VAL_MAP);
	assert_int_equal(a[7].value.u.map.n, 1);
	assert_int_equal(a[7].value.u.map.items[0].value.type, MX_VAL_BOOL);
	assert_int_equal(a[8].value.type, MX_VAL_ARRAY);
	assert_int_equal(a[8].value.u.arr.n, 0);
	assert_int_equal(s->n_events, 1);
	assert_true(s->events[0].time_ns == 5);
	assert_int_equal(s->n_links, 1);
	assert_int_equal(s->links[0].flags, 1);
	assert_int_equal(s->links[0].span_id[7], 8);
	mx_batch_free(b);
}

static void test_legacy_instrumentation_library(void **state)
{
	(void)state;
	static const char json[] =
		"{\"resourceSpans\":[{\"instrumentationLibrarySpans\":[{"
		"\"instrumentationLibrary\":{\"name\":\"old.lib\",\"version\":\"0.1\"},"
		"\"spans\":[{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\","
		"\"spanId\":\"0102030405060708\",\"name\":\"legacy\"}]}]}]}";
	struct mx_batch *b;
	struct mx_errmsg err;
	assert_int_equal(decode_str(json, &b, &err), MX_OK);
	assert_int_equal(b->n_spans, 1);
	assert_true(mx_str_eq(b->spans[0].scope->name, "old.lib", 7));
	assert_true(mx_str_eq(b->spans[0].scope->version, "0.1", 3));
	assert_true(mx_str_eq(b->spans[0].name, "legacy", 6));
	mx_batch_free(b);
	/* with scopeSpans present, the legacy list is ignored */
	static const char both[] =
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"scope\":{\"name\":\"new\"},"
		"\"spans\":[]}],\"instrumentationLibrarySpans\":[{"
		"\"spans\":[{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\","
		"\"spanId\":\"0102030405060708\"}]}]}]}";
	assert_int_equal(decode_str(both, &b, &err), MX_OK);
	assert_int_equal(b->n_spans, 0);
	mx_batch_free(b);
}

/* Nested `levels` AnyValues deep in JSON, through arrays or maps. */
static char *deep_json(uint32_t levels, bool map)
{
	const char *head = "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{"
			   "\"traceId\":\"0102030405060708090a0b0c0d0e0f10\","
			   "\"spanId\":\"0102030405060708\",\"attributes\":[{\"key\":\"k\","
			   "\"value\":";
	const char *open = map ? "{\"kvlistValue\":{\"values\":[{\"key\":\"x\",\"value\":"
			       : "{\"arrayValue\":{\"values\":[";
	const char *close = map ? "}]}}" : "]}}";
	const char *tail = "}]}]}]}]}";
	size_t n = strlen(head) + strlen(tail) + 3 +
		   (size_t)levels * (strlen(open) + strlen(close));
	char *s = malloc(n);
	assert_non_null(s);
	char *p = s;
	p += sprintf(p, "%s", head);
	for (uint32_t i = 1; i < levels; i++)
		p += sprintf(p, "%s", open);
	p += sprintf(p, "{}");
	for (uint32_t i = 1; i < levels; i++)
		p += sprintf(p, "%s", close);
	sprintf(p, "%s", tail);
	return s;
}

static void test_depth(void **state)
{
	(void)state;
	struct mx_batch *b;
	struct mx_errmsg err;
	for (int map = 0; map < 2; map++) {
		char *j = deep_json(lim.max_depth, map);
		assert_int_equal(decode_str(j, &b, &err), MX_OK);
		assert_int_equal(b->n_spans, 1);
		mx_batch_free(b);
		free(j);
		j = deep_json(lim.max_depth + 1, map);
		assert_int_equal(decode_str(j, &b, &err), MX_EDEPTH);
		assert_non_null(strstr(err.text, "deeper"));
		mx_batch_free(b);
		free(j);
		/* past jansson's own limit: an error, not a crash */
		j = deep_json(10000, map);
		assert_int_equal(decode_str(j, &b, &err), MX_EDEPTH);
		mx_batch_free(b);
		free(j);
	}
	/* 10 000 nested plain arrays anywhere in the document */
	size_t n = 20000 + 64;
	char *j = malloc(n);
	assert_non_null(j);
	char *p = j + sprintf(j, "{\"x\":");
	memset(p, '[', 10000);
	memset(p + 10000, ']', 10000);
	strcpy(p + 20000, "}");
	assert_int_equal(decode_str(j, &b, &err), MX_EDEPTH);
	mx_batch_free(b);
	free(j);
}

static void test_bad_json(void **state)
{
	(void)state;
	static const struct {
		const char *json;
		int rc;
		const char *msg; /* in the error message */
	} cases[] = {
		{ "{", MX_EINVAL, "invalid JSON" },
		{ "{\"resourceSpans\":[}", MX_EINVAL, "invalid JSON" },
		{ "nope", MX_EINVAL, "invalid JSON" },
		{ "[]", MX_EINVAL, "top level" },
		{ "{\"resourceSpans\":5}", MX_EINVAL, "resourceSpans" },
		{ "{\"resourceSpans\":[5]}", MX_EINVAL, "resourceSpans" },
		{ "{\"resourceSpans\":[{\"scopeSpans\":{}}]}", MX_EINVAL, "scopeSpans" },
		{ "{\"resourceSpans\":[{\"resource\":[]}]}", MX_EINVAL, "resource" },
		{ "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":\"x\"}]}]}",
		  MX_EINVAL, "spans" },
		{ "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
		  "\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\","
		  "\"name\":5}]}]}]}", MX_EINVAL, "name" },
		{ "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
		  "\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\","
		  "\"kind\":\"SERVER\"}]}]}]}", MX_EINVAL, "kind" },
		{ "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
		  "\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\","
		  "\"startTimeUnixNano\":\"12x\"}]}]}]}", MX_EINVAL, "startTimeUnixNano" },
		{ "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
		  "\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\","
		  "\"startTimeUnixNano\":-1}]}]}]}", MX_EINVAL, "startTimeUnixNano" },
		{ "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":5}]}]}]}",
		  MX_EINVAL, "traceId" },
		{ "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
		  "\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\","
		  "\"attributes\":[{\"key\":\"k\",\"value\":{\"intValue\":\"1.5\"}}]}]}]}]}",
		  MX_EINVAL, "intValue" },
		{ "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
		  "\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\","
		  "\"attributes\":[{\"key\":\"k\",\"value\":{\"bytesValue\":\"a\"}}]}]}]}]}",
		  MX_EINVAL, "bytesValue" },
		{ "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
		  "\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\","
		  "\"attributes\":[{\"key\":\"k\",\"value\":{\"boolValue\":\"true\"}}]}]}]}]}",
		  MX_EINVAL, "boolValue" },
		{ "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
		  "\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\","
		  "\"attributes\":{}}]}]}]}", MX_EINVAL, "attributes" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mx_batch *b;
		struct mx_errmsg err;
		int rc = decode_str(cases[i].json, &b, &err);
		if (rc != cases[i].rc || !strstr(err.text, cases[i].msg))
			fail_msg("case %zu: rc %d, message \"%s\"", i, rc, err.text);
		mx_batch_free(b);
	}
}

static void test_empty_body(void **state)
{
	(void)state;
	struct mx_batch *b;
	struct mx_errmsg err;
	const char *ok[] = { "", " \r\n", "{}", "{\"resourceSpans\":[]}",
			     "{\"resourceSpans\":null}",
			     "{\"resourceSpans\":[{}]}" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(decode_str(ok[i], &b, &err), MX_OK);
		assert_int_equal(b->n_spans, 0);
		mx_batch_free(b);
	}
}

static void test_bad_ids(void **state)
{
	(void)state;
	static const char json[] =
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":["
		"{\"traceId\":\"00000000000000000000000000000000\",\"spanId\":\"0102030405060708\"},"
		"{\"traceId\":\"0102030405060708\",\"spanId\":\"0102030405060708\"},"
		"{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0000000000000000\"},"
		"{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"01020304\"},"
		"{\"traceId\":\"0102030405060708090a0b0c0d0e0fzz\",\"spanId\":\"0102030405060708\"},"
		"{\"traceId\":\"\",\"spanId\":\"0102030405060708\"},"
		"{\"spanId\":\"0102030405060708\"},"
		"{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\","
		"\"parentSpanId\":\"0102\"},"
		"{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060708\","
		"\"parentSpanId\":\"0000000000000000\",\"name\":\"kept1\"},"
		"{\"traceId\":\"0102030405060708090A0B0C0D0E0F10\",\"spanId\":\"0102030405060709\","
		"\"parentSpanId\":\"0102030405060708\",\"name\":\"kept2\","
		"\"links\":[{\"traceId\":\"\",\"spanId\":\"0102030405060708\"}]}"
		"]}]}]}";
	struct mx_batch *b;
	struct mx_errmsg err;
	assert_int_equal(decode_str(json, &b, &err), MX_OK);
	assert_int_equal(b->n_spans, 2);
	assert_int_equal(b->rejected_spans, 8);
	assert_non_null(strstr(err.text, "traceId"));
	assert_true(mx_str_eq(b->spans[0].name, "kept1", 5));
	assert_true(mx_id_is_zero(b->spans[0].parent_span_id, 8));
	assert_true(mx_str_eq(b->spans[1].name, "kept2", 5));
	assert_int_equal(b->spans[1].parent_span_id[7], 8);
	assert_int_equal(b->spans[1].n_links, 0);
	assert_int_equal(b->spans[1].dropped_links, 1);
	mx_batch_free(b);
}

static void test_caps(void **state)
{
	(void)state;
	struct mx_batch *b;
	struct mx_errmsg err;
	lim.max_value_bytes = 8;
	lim.max_attrs = 2;
	static const char json[] =
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":["
		"{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060701\","
		"\"attributes\":[{\"key\":\"k\",\"value\":{\"stringValue\":\"123456789\"}}]},"
		"{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060702\","
		"\"attributes\":[{\"key\":\"k\",\"value\":{\"bytesValue\":\"MTIzNDU2Nzg5\"}}]},"
		"{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060703\","
		"\"attributes\":[{\"key\":\"a\"},{\"key\":\"b\"},{\"key\":\"c\"}]},"
		"{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060704\","
		"\"name\":\"12345678\",\"attributes\":[{\"key\":\"a\"},{\"key\":\"b\"}]}"
		"]}]},"
		"{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"
		"{\"stringValue\":\"way too long\"}}]},\"scopeSpans\":[{\"spans\":["
		"{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060705\"},"
		"{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0102030405060706\"}"
		"]}]}]}";
	assert_int_equal(decode_str(json, &b, &err), MX_OK);
	assert_int_equal(b->n_spans, 1);
	assert_int_equal(b->spans[0].span_id[7], 4);
	assert_int_equal(b->rejected_spans, 5);
	assert_non_null(strstr(err.text, "value cap"));
	mx_batch_free(b);
	mx_decode_limits_default(&lim);
	/* arena cap */
	b = mx_batch_new(512);
	memset(&err, 0, sizeof(err));
	assert_int_equal(mx_otlp_decode_json(spec_example, strlen(spec_example), &lim,
					     b, &err), MX_ENOMEM);
	mx_batch_free(b);
}

static void test_responses(void **state)
{
	(void)state;
	struct mx_buf o;
	mx_buf_init(&o, 4096);
	assert_int_equal(mx_otlp_encode_response(true, 0, NULL, &o), MX_OK);
	assert_int_equal(o.len, 2);
	assert_memory_equal(o.data, "{}", 2);
	mx_buf_reset(&o);
	assert_int_equal(mx_otlp_encode_response(false, 0, NULL, &o), MX_OK);
	assert_int_equal(o.len, 0);
	assert_int_equal(mx_otlp_encode_response(true, 3, "bad \"id\"", &o), MX_OK);
	mx_buf_putc(&o, 0);
	assert_string_equal((char *)o.data, "{\"partialSuccess\":{\"rejectedSpans\":\"3\","
			    "\"errorMessage\":\"bad \\\"id\\\"\"}}");
	mx_buf_reset(&o);
	assert_int_equal(mx_otlp_encode_response(false, 3, "bad id", &o), MX_OK);
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *r =
		opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
			NULL, o.len, o.data);
	assert_non_null(r);
	assert_non_null(r->partial_success);
	assert_true(r->partial_success->rejected_spans == 3);
	assert_string_equal(r->partial_success->error_message, "bad id");
	opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(
		r, NULL);
	/* a warning: nothing rejected, a message */
	mx_buf_reset(&o);
	assert_int_equal(mx_otlp_encode_response(false, 0, "warn", &o), MX_OK);
	assert_int_equal(o.len, 8);
	assert_memory_equal(o.data, "\x0a\x06\x12\x04warn", 8);

	mx_buf_reset(&o);
	assert_int_equal(mx_otlp_encode_status(true, 3, "bad\nbody", &o), MX_OK);
	mx_buf_putc(&o, 0);
	assert_string_equal((char *)o.data, "{\"code\":3,\"message\":\"bad\\nbody\"}");
	for (int k = 0; k < 2; k++) {
		int32_t code = k ? -7 : 8;
		mx_buf_reset(&o);
		assert_int_equal(mx_otlp_encode_status(false, code, "too busy", &o), MX_OK);
		Google__Rpc__Status *st = google__rpc__status__unpack(NULL, o.len, o.data);
		assert_non_null(st);
		assert_int_equal(st->code, code);
		assert_string_equal(st->message, "too busy");
		google__rpc__status__free_unpacked(st, NULL);
	}
	/* the cap */
	struct mx_buf tiny;
	mx_buf_init(&tiny, 4);
	assert_int_equal(mx_otlp_encode_status(true, 3, "long message", &tiny),
			 MX_ENOMEM);
	mx_buf_free(&tiny);
	mx_buf_free(&o);
}

static void test_base64(void **state)
{
	(void)state;
	static const char *vec[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	struct mx_buf o;
	mx_buf_init(&o, 1024);
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		mx_buf_reset(&o);
		size_t n = strlen(vec[i][0]);
		assert_int_equal(mx_base64_encode(&o, (const uint8_t *)vec[i][0], n), MX_OK);
		assert_int_equal(o.len, mx_base64_encoded_len(n));
		assert_memory_equal(o.data, vec[i][1], o.len);
		uint8_t d[16];
		size_t got;
		const char *e = vec[i][1];
		assert_true(mx_base64_decoded_max(strlen(e)) <= sizeof(d));
		assert_int_equal(mx_base64_decode(e, strlen(e), d, &got), MX_OK);
		assert_int_equal(got, n);
		assert_memory_equal(d, vec[i][0], n);
		/* without padding too */
		size_t el = strlen(e);
		while (el && e[el - 1] == '=')
			el--;
		assert_int_equal(mx_base64_decode(e, el, d, &got), MX_OK);
		assert_int_equal(got, n);
	}
	uint8_t all[256], back[400];
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	mx_buf_reset(&o);
	assert_int_equal(mx_base64_encode(&o, all, 256), MX_OK);
	size_t got;
	assert_int_equal(mx_base64_decode((char *)o.data, o.len, back, &got), MX_OK);
	assert_int_equal(got, 256);
	assert_memory_equal(back, all, 256);
	assert_int_equal(mx_base64_decode("-_8", 3, back, &got), MX_OK);
	assert_int_equal(got, 2);
	assert_memory_equal(back, "\xfb\xff", 2);
	const char *bad[] = { "A", "Zg=", "Zg===", "Z=g=", "Zm 9v", "Zm9v\n", "@@@@",
			      "Zg==Zg==", "=" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (mx_base64_decode(bad[i], strlen(bad[i]), back, &got) != MX_EINVAL)
			fail_msg("accepted bad base64 \"%s\"", bad[i]);
	mx_buf_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_spec_example, setup),
		cmocka_unit_test_setup(test_roundtrip_rich, setup),
		cmocka_unit_test_setup(test_proto_to_json, setup),
		cmocka_unit_test_setup(test_lenient_forms, setup),
		cmocka_unit_test_setup(test_legacy_instrumentation_library, setup),
		cmocka_unit_test_setup(test_depth, setup),
		cmocka_unit_test_setup(test_bad_json, setup),
		cmocka_unit_test_setup(test_empty_body, setup),
		cmocka_unit_test_setup(test_bad_ids, setup),
		cmocka_unit_test_setup(test_caps, setup),
		cmocka_unit_test_setup(test_responses, setup),
		cmocka_unit_test_setup(test_base64, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
