/*
 * test_zipkin_bad.c - Zipkin v2 (and v1) decoders on hostile input: bad
 * ids, the decode caps, wrong JSON types and garbage, a v1 body on the v2
 * decoder, and nesting deeper than allowed (also inside strings, where it
 * does not count). Split from test_zipkin.c, which covers the valid
 * encodings, the round trips and the mapping.
 */
#include <stdio.h>

#include "zipkin_test_util.h"

static void test_bad_ids(void **state)
{
	(void)state;
	struct mx_batch *b;
	struct mx_errmsg err;
	assert_int_equal(zt_decode(ZT_JSON,
		"[{\"traceId\":\"0000000000000000\",\"id\":\"1\"},"
		"{\"traceId\":\"xyz\",\"id\":\"1\"},"
		"{\"traceId\":\"123456789012345678901234567890123\",\"id\":\"1\"},"
		"{\"traceId\":\"1\"},"
		"{\"traceId\":\"1\",\"id\":\"\"},"
		"{\"traceId\":\"1\",\"id\":\"12345678901234567\"},"
		"{\"traceId\":\"1\",\"id\":\"1\",\"parentId\":\"q\"},"
		"{\"id\":\"1\"},"
		"{\"traceId\":\"1\",\"id\":\"1\",\"name\":\"good\"}]", &b, &err), MX_OK);
	assert_int_equal(b->n_spans, 1);
	assert_int_equal(b->rejected_spans, 8);
	assert_mxstr(b->spans[0].name, "good");
	assert_non_null(strstr(err.text, "traceId"));
	mx_batch_free(b);
	/* proto: 9-byte trace id, 7-byte id, zero id, 4-byte parent */
	static const uint8_t pb[] = {
		0x0a, 0x0e, 0x0a, 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x1a, 0x01, 1,
		0x0a, 0x0d, 0x0a, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x1a, 0x01, 0x01,
		0x0a, 0x14, 0x0a, 0x08, 1, 2, 3, 4, 5, 6, 7, 8,
		0x1a, 0x08, 0, 0, 0, 0, 0, 0, 0, 0,
		0x0a, 0x1a, 0x0a, 0x08, 1, 2, 3, 4, 5, 6, 7, 8,
		0x1a, 0x08, 1, 1, 1, 1, 1, 1, 1, 1, 0x12, 0x04, 1, 2, 3, 4,
		0x0a, 0x26, 0x0a, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,
		0x1a, 0x08, 1, 1, 1, 1, 1, 1, 1, 1, 0x12, 0x08, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	assert_int_equal(zt_decode_n(ZT_PROTO, pb, sizeof(pb), &b, &err), MX_OK);
	assert_int_equal(b->rejected_spans, 4);
	assert_int_equal(b->n_spans, 1);
	zt_hex(b->spans[0].trace_id, 16, "00000000000000000102030405060708");
	assert_true(mx_id_is_zero(b->spans[0].parent_span_id, 8));
	mx_batch_free(b);
}

static char *repeat(const char *head, const char *unit, size_t n,
		    const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *p = malloc(hl + ul * n + tl + 1);
	assert_non_null(p);
	memcpy(p, head, hl);
	for (size_t i = 0; i < n; i++)
		memcpy(p + hl + i * ul, unit, ul);
	memcpy(p + hl + ul * n, tail, tl + 1);
	return p;
}

static void test_caps(void **state)
{
	(void)state;
	struct mx_batch *b;
	struct mx_errmsg err;
	zt_lim.max_value_bytes = 8;
	zt_lim.max_attrs = 2;
	zt_lim.max_events = 1;
	assert_int_equal(zt_decode(ZT_JSON,
		"[{\"traceId\":\"1\",\"id\":\"1\",\"tags\":{\"k\":\"123456789\"}},"
		"{\"traceId\":\"1\",\"id\":\"2\",\"tags\":{\"123456789\":\"\"}},"
		"{\"traceId\":\"1\",\"id\":\"3\",\"name\":\"123456789\"},"
		"{\"traceId\":\"1\",\"id\":\"4\",\"tags\":{\"a\":\"\",\"b\":\"\",\"c\":\"\"}},"
		"{\"traceId\":\"1\",\"id\":\"5\",\"annotations\":[{\"timestamp\":1,\"value\":\"a\"},"
		"{\"timestamp\":2,\"value\":\"b\"}]},"
		"{\"traceId\":\"1\",\"id\":\"6\",\"localEndpoint\":{\"serviceName\":\"123456789\"}},"
		"{\"traceId\":\"1\",\"id\":\"7\",\"annotations\":[{\"timestamp\":1,\"value\":\"123456789\"}]},"
		"{\"traceId\":\"1\",\"id\":\"9\",\"tags\":{\"k\":[1,2,3,4,5,6]}},"
		"{\"traceId\":\"1\",\"id\":\"a\",\"tags\":{\"a\":\"\",\"b\":\"\",\"error\":\"\"}},"
		"{\"traceId\":\"1\",\"id\":\"8\",\"tags\":{\"a\":\"12345678\",\"b\":\"\"},"
		"\"annotations\":[{\"timestamp\":1,\"value\":\"12345678\"}]}]", &b, &err), MX_OK);
	assert_int_equal(b->rejected_spans, 8);
	assert_int_equal(b->n_spans, 2);
	zt_hex(b->spans[0].span_id, 8, "000000000000000a"); /* special tags are not attributes */
	zt_hex(b->spans[1].span_id, 8, "0000000000000008");
	assert_non_null(strstr(err.text, "value cap"));
	mx_batch_free(b);
	/* the same caps in proto3: a 9-byte name */
	static const uint8_t pb[] = {
		0x0a, 0x1f, 0x0a, 0x08, 1, 2, 3, 4, 5, 6, 7, 8,
		0x1a, 0x08, 1, 1, 1, 1, 1, 1, 1, 1,
		0x2a, 0x09, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i',
	};
	assert_int_equal(zt_decode_n(ZT_PROTO, pb, sizeof(pb) - 2, &b, &err), MX_EINVAL);
	mx_batch_free(b);
	assert_int_equal(zt_decode_n(ZT_PROTO, pb, sizeof(pb), &b, &err), MX_OK);
	assert_int_equal(b->rejected_spans, 1);
	assert_int_equal(b->n_spans, 0);
	mx_batch_free(b);
	mx_decode_limits_default(&zt_lim);
	/* a huge tag value within the default cap is kept whole */
	char *big = repeat("[{\"traceId\":\"1\",\"id\":\"1\",\"tags\":{\"k\":\"", "x",
			   200000, "\"}}]");
	b = zt_ok(ZT_JSON, big, 1);
	assert_int_equal(zt_tag(&b->spans[0], "k").len, 200000);
	mx_batch_free(b);
	free(big);
	/* the batch arena cap fails the body with MX_ENOMEM */
	big = repeat("[", "{\"traceId\":\"1\",\"id\":\"1\",\"name\":\"xxxxxxxxxxxxxxxxxxxx\"},",
		     20000, "{\"traceId\":\"1\",\"id\":\"1\"}]");
	b = mx_batch_new(64 * 1024);
	memset(&err, 0, sizeof(err));
	assert_int_equal(mx_zipkin_json_decode(big, strlen(big), &zt_lim, b, &err),
			 MX_ENOMEM);
	mx_batch_free(b);
	free(big);
}

static void test_bad_json(void **state)
{
	(void)state;
	const char *ok = "{\"traceId\":\"1\",\"id\":\"1\"";
	struct {
		const char *tail;
		const char *msg;
	} cases[] = {
		{ ",\"tags\":5}]", "\"tags\" must be an object" },
		{ ",\"tags\":[]}]", "tags" },
		{ ",\"annotations\":{}}]", "annotations" },
		{ ",\"annotations\":[5]}]", "annotations" },
		{ ",\"annotations\":[{\"value\":\"a\"}]}]", "annotations" },
		{ ",\"annotations\":[{\"timestamp\":1}]}]", "annotations" },
		{ ",\"annotations\":[{\"timestamp\":1,\"value\":2}]}]", "annotations" },
		{ ",\"timestamp\":\"abc\"}]", "timestamp" },
		{ ",\"timestamp\":-5}]", "timestamp" },
		{ ",\"timestamp\":\"-5\"}]", "timestamp" },
		{ ",\"timestamp\":\"0x10\"}]", "timestamp" },
		{ ",\"timestamp\":\"inf\"}]", "timestamp" },
		{ ",\"timestamp\":true}]", "timestamp" },
		{ ",\"duration\":{}}]", "duration" },
		{ ",\"name\":5}]", "name" },
		{ ",\"kind\":1}]", "kind" },
		{ ",\"debug\":\"yes\"}]", "debug" },
		{ ",\"shared\":1}]", "shared" },
		{ ",\"localEndpoint\":\"x\"}]", "localEndpoint" },
		{ ",\"remoteEndpoint\":[]}]", "remoteEndpoint" },
		{ ",\"localEndpoint\":{\"serviceName\":1}}]", "serviceName" },
		{ ",\"localEndpoint\":{\"ipv4\":1}}]", "ipv4" },
		{ ",\"binaryAnnotations\":[]}]",
		  "Expected a JSON_V2 encoded list, but received: JSON_V1" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[256];
		snprintf(body, sizeof(body), "[%s%s", ok, cases[i].tail);
		zt_expect_error(ZT_JSON, body, MX_EINVAL, cases[i].msg);
	}
	zt_expect_error(ZT_JSON, "[{\"traceId\":1,\"id\":\"1\"}]", MX_EINVAL, "traceId");
	zt_expect_error(ZT_JSON, "{\"traceId\":\"1\",\"id\":\"1\"}", MX_EINVAL, "top level");
	zt_expect_error(ZT_JSON, "[5]", MX_EINVAL, "span objects");
	zt_expect_error(ZT_JSON, "[{\"traceId\":\"1\",\"id\":\"1\"", MX_EINVAL, "invalid JSON");
	zt_expect_error(ZT_JSON, "[{\"traceId\":\"1\",\"id\":\"1\"},", MX_EINVAL, "invalid JSON");
	struct mx_batch *b;
	struct mx_errmsg err;
	assert_int_equal(zt_decode_n(ZT_JSON, "\x00\x01garbage", 9, &b, &err), MX_EINVAL);
	mx_batch_free(b);
	assert_int_equal(zt_decode_n(ZT_JSON, "[\x00]", 3, &b, &err), MX_EINVAL);
	mx_batch_free(b);
	zt_expect_error(ZT_JSON, "nul", MX_EINVAL, NULL);
	zt_expect_error(ZT_JSON, "[]]", MX_EINVAL, NULL);
	/* a real v1 span on the v2 decoder */
	zt_expect_error(ZT_JSON,
		     "[{\"traceId\":\"1\",\"id\":\"1\",\"name\":\"x\",\"annotations\":[],"
		     "\"binaryAnnotations\":[{\"key\":\"k\",\"value\":\"v\"}]}]",
		     MX_EINVAL, "JSON_V1");
}

static void test_deep_nesting(void **state)
{
	(void)state;
	/* slightly too deep for Zipkin, deeper than jansson, and huge */
	size_t levels[] = { 17, 3000, 200000 };
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		char *p = repeat("[{\"traceId\":\"1\",\"id\":\"1\",\"tags\":{\"a\":", "[",
				 levels[i], "");
		zt_expect_error(ZT_JSON, p, MX_EDEPTH, "nested");
		zt_expect_error(ZT_V1, p, MX_EDEPTH, "nested");
		free(p);
	}
	/* brackets inside strings do not count */
	char *p = repeat("[{\"traceId\":\"1\",\"id\":\"1\",\"name\":\"", "[{\\\"", 100, "\"}]");
	mx_batch_free(zt_ok(ZT_JSON, p, 1));
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_bad_ids, zt_setup),
		cmocka_unit_test_setup(test_caps, zt_setup),
		cmocka_unit_test_setup(test_bad_json, zt_setup),
		cmocka_unit_test_setup(test_deep_nesting, zt_setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
