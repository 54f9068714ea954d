/*
 * test_report_decode_bad.c - the native report decoder (codec/report.h)
 * on hostile input: bad string indexes, wrong bucket counts and sums, bad
 * ids, sequence 0, bad UTF-8, non-finite sums, truncation at every length,
 * garbage, deep AnyValue nesting in spans, the arena cap. Split from
 * test_report_decode.c, which covers valid reports.
 */
#include "report_test_util.h"

/* Packs `b` after `mutate` and expects MX_EINVAL with `msg` in the text. */
static void expect_bad(struct rt_builder *b, const char *msg)
{
	size_t n;
	uint8_t *p = rt_pack(b, &n);
	struct mx_batch *bt;
	struct mx_report *r = (struct mx_report *)1;
	struct mx_errmsg err;
	int rc = rt_decode(p, n, &bt, &r, &err);
	if (rc != MX_EINVAL || !strstr(err.text, msg)) {
		print_error("rc %d, message \"%s\", want \"%s\"\n", rc, err.text, msg);
		fail();
	}
	assert_null(r);
	mx_batch_free(bt);
	free(p);
}

static void test_bad_reports(void **state)
{
	(void)state;
	struct rt_builder b;
	uint64_t nineteen[19] = { 3 };
	uint64_t twentyone[21] = { 3 };

	rt_build(&b);
	b.peer.app = 999;
	expect_bad(&b, "string index 999 out of range");
	rt_build(&b);
	b.ser[1].destination_service = (uint32_t)b.r.n_strings;
	expect_bad(&b, "out of range");
	rt_build(&b);
	b.reporter.principal = 64;
	expect_bad(&b, "string index");
	rt_build(&b);
	b.req.n_duration_buckets = 19;
	b.req.duration_buckets = nineteen;
	expect_bad(&b, "duration has 19 buckets, want 0 or 20");
	rt_build(&b);
	b.req.n_request_bytes_buckets = 21;
	b.req.request_bytes_buckets = twentyone;
	expect_bad(&b, "request bytes has 21 buckets");
	rt_build(&b);
	b.respb[0] = 1; /* 4 responses for 3 requests */
	expect_bad(&b, "response bytes buckets sum to 4");
	rt_build(&b);
	b.req.n_duration_buckets = 0;
	expect_bad(&b, "duration buckets sum to 0, the request count is 3");
	rt_build(&b);
	b.dur[0] = UINT64_MAX;
	expect_bad(&b, "overflow");
	rt_build(&b);
	b.req.duration_sum = -1;
	expect_bad(&b, "duration sum is negative");
	rt_build(&b);
	b.req.request_bytes_sum = 0.0 / 0.0;
	expect_bad(&b, "not finite");
	rt_build(&b);
	b.r.instance_id.len = 8;
	expect_bad(&b, "instance_id must be 16 bytes");
	rt_build(&b);
	b.r.sequence = 0;
	expect_bad(&b, "sequence");
	rt_build(&b);
	b.ser[0].role = MIXD__REPORT__V1__ROLE__ROLE_UNSPECIFIED;
	expect_bad(&b, "role 0");
	rt_build(&b);
	b.ser[1].role = (Mixd__Report__V1__Role)7;
	expect_bad(&b, "role 7");
	rt_build(&b);
	b.req.series = NULL;
	expect_bad(&b, "request delta without series");
	rt_build(&b);
	b.tcp.series = NULL;
	expect_bad(&b, "TCP delta without series");
	rt_build(&b);
	b.strs[0] = (char *)(uintptr_t)"x";
	expect_bad(&b, "strings[0] must be empty");
	rt_build(&b);
	b.strs[3] = (char *)(uintptr_t)"bad \xc3\x28 utf8";
	expect_bad(&b, "strings[3] is not UTF-8");
	rt_build(&b);
	b.strs[3] = (char *)(uintptr_t)"surrogate \xed\xa0\x80";
	expect_bad(&b, "not UTF-8");
	rt_build(&b);
	b.strs[3] = (char *)(uintptr_t)"overlong \xc0\xaf";
	expect_bad(&b, "not UTF-8");
	rt_build(&b);
	b.strs[3] = (char *)(uintptr_t)"cut \xe2\x82";
	expect_bad(&b, "not UTF-8");
	rt_build(&b);
	b.req.exemplar_trace_id.len = 15;
	expect_bad(&b, "exemplar ids");
	rt_build(&b);
	b.req.exemplar_span_id.len = 4;
	expect_bad(&b, "exemplar ids");
	rt_build(&b);
	b.req.exemplar_duration = 1.0 / 0.0;
	expect_bad(&b, "exemplar value");
	rt_build(&b);
	b.r.library_version = (char *)(uintptr_t)"\xff";
	expect_bad(&b, "library_version");

	/* a string over the value cap */
	rt_build(&b);
	char *big = malloc(2000);
	assert_non_null(big);
	memset(big, 'x', 1999);
	big[1999] = 0;
	b.strs[3] = big;
	struct mx_decode_limits saved = rt_lim;
	rt_lim.max_value_bytes = 1000;
	expect_bad(&b, "longer than 1000 bytes");
	rt_lim = saved;
	free(big);

	/* valid UTF-8 of every length passes */
	rt_build(&b);
	b.strs[3] = (char *)(uintptr_t)"ünï ✓ 𝄞";
	size_t n;
	uint8_t *p = rt_pack(&b, &n);
	struct mx_batch *bt;
	struct mx_report *r;
	struct mx_errmsg err;
	assert_int_equal(rt_decode(p, n, &bt, &r, &err), MX_OK);
	mx_batch_free(bt);
	free(p);
}

static void test_truncated_garbage(void **state)
{
	(void)state;
	struct rt_builder b;
	rt_build(&b);
	size_t n;
	uint8_t *p = rt_pack(&b, &n);
	struct mx_batch *bt;
	struct mx_report *r;
	struct mx_errmsg err;
	/* every prefix: a clean verdict, never a crash; a cut inside the
	 * first field (instance_id) always fails */
	int ok = 0;
	for (size_t k = 0; k < n; k++) {
		int rc = rt_decode(p, k, &bt, &r, &err);
		assert_true(rc == MX_OK || rc == MX_EINVAL);
		assert_true(rc != MX_OK || r != NULL);
		if (k < 18)
			assert_int_equal(rc, MX_EINVAL);
		ok += rc == MX_OK;
		mx_batch_free(bt);
	}
	assert_true(ok < (int)n);
	/* a cut in the middle of a field */
	assert_int_equal(rt_decode(p, n - 3, &bt, &r, &err), MX_EINVAL);
	assert_true(err.set);
	mx_batch_free(bt);
	/* garbage: deterministic pseudo-random bytes, and bit flips */
	uint64_t x = 88172645463325252ull;
	uint8_t g[512];
	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)(round % 512);
		for (size_t i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			g[i] = (uint8_t)x;
		}
		int rc = rt_decode(g, len, &bt, &r, &err);
		assert_true(rc == MX_OK || rc == MX_EINVAL || rc == MX_EDEPTH);
		mx_batch_free(bt);
	}
	uint8_t *q = malloc(n);
	assert_non_null(q);
	for (size_t i = 0; i < n * 8; i++) {
		memcpy(q, p, n);
		q[i / 8] ^= (uint8_t)(1u << (i % 8));
		int rc = rt_decode(q, n, &bt, &r, &err);
		assert_true(rc == MX_OK || rc == MX_EINVAL || rc == MX_EDEPTH);
		mx_batch_free(bt);
	}
	free(q);
	/* empty body, group wire types */
	assert_int_equal(rt_decode(p, 0, &bt, &r, &err), MX_EINVAL);
	mx_batch_free(bt);
	static const uint8_t group[] = { 0x0b, 0x0c };
	assert_int_equal(rt_decode(group, 2, &bt, &r, &err), MX_EINVAL);
	assert_non_null(strstr(err.text, "wire type"));
	mx_batch_free(bt);
	free(p);
}

static size_t put_varint(uint8_t *o, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		o[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	o[n++] = (uint8_t)v;
	return n;
}

/* Report field 9 (a span) whose attribute nests `depth` AnyValue arrays;
 * written inside out into `buf` (big enough); returns its length. */
static size_t deep_span(uint8_t *buf, size_t cap, uint32_t depth, const struct rt_builder *b)
{
	/* innermost AnyValue{int_value: 1} */
	size_t end = cap, len;
	buf[--end] = 1;
	buf[--end] = 0x18; /* AnyValue.int_value, field 3 */
	len = 2;
	for (uint32_t i = 1; i < depth; i++) {
		/* ArrayValue{values: <any>} then AnyValue{array_value: <arr>} */
		uint8_t tmp[10];
		size_t k = put_varint(tmp, len);
		end -= k;
		memcpy(buf + end, tmp, k);
		buf[--end] = 0x0a;
		len += 1 + k;
		k = put_varint(tmp, len);
		end -= k;
		memcpy(buf + end, tmp, k);
		buf[--end] = 0x2a; /* AnyValue.array_value, field 5 */
		len += 1 + k;
	}
	/* KeyValue{key "k", value <any>} */
	uint8_t tmp[10];
	size_t k = put_varint(tmp, len);
	end -= k;
	memcpy(buf + end, tmp, k);
	buf[--end] = 0x12;
	len += 1 + k;
	end -= 3;
	memcpy(buf + end, "\x0a\x01k", 3);
	len += 3;
	/* Span{trace_id, span_id, attributes: <kv>} */
	k = put_varint(tmp, len);
	end -= k;
	memcpy(buf + end, tmp, k);
	buf[--end] = 0x4a; /* Span.attributes, field 9 */
	len += 1 + k;
	end -= 10;
	buf[end] = 0x12; /* span_id */
	buf[end + 1] = 8;
	memcpy(buf + end + 2, b->sid, 8);
	end -= 18;
	buf[end] = 0x0a; /* trace_id */
	buf[end + 1] = 16;
	memcpy(buf + end + 2, b->tid, 16);
	len += 28;
	/* Report.spans, field 9 */
	k = put_varint(tmp, len);
	end -= k;
	memcpy(buf + end, tmp, k);
	buf[--end] = 0x4a;
	len += 1 + k;
	memmove(buf, buf + end, len);
	return len;
}

static void test_span_nesting_and_caps(void **state)
{
	(void)state;
	struct rt_builder b;
	rt_build(&b);
	b.r.n_spans = 0;
	size_t n;
	uint8_t *p = rt_pack(&b, &n);
	size_t cap = 200000;
	uint8_t *body = malloc(n + cap);
	assert_non_null(body);
	struct mx_batch *bt;
	struct mx_report *r;
	struct mx_errmsg err;
	/* within the depth cap: decoded, resource set */
	memcpy(body, p, n);
	size_t k = deep_span(body + n, cap, 5, &b);
	assert_int_equal(rt_decode(body, n + k, &bt, &r, &err), MX_OK);
	assert_int_equal(r->n_spans, 1);
	rt_assert_str(mx_span_service(&bt->spans[0]), "productpage-v1");
	mx_batch_free(bt);
	/* 10 000 deep: refused before protobuf-c recurses */
	k = deep_span(body + n, cap, 10000, &b);
	assert_int_equal(rt_decode(body, n + k, &bt, &r, &err), MX_EDEPTH);
	assert_null(r);
	mx_batch_free(bt);
	/* spans interleaved with other fields, non-minimal keys ok: put the
	 * span first, before the rest of the report */
	k = deep_span(body, cap, 2, &b);
	memcpy(body + k, p, n);
	assert_int_equal(rt_decode(body, n + k, &bt, &r, &err), MX_OK);
	assert_int_equal(r->n_spans, 1);
	assert_int_equal(r->sequence, 42);
	mx_batch_free(bt);
	/* an overlong (2-byte) key for field 9 */
	body[0] = 0xca;
	memmove(body + 2, body + 1, n + k - 1);
	body[1] = 0x00;
	assert_int_equal(rt_decode(body, n + k + 1, &bt, &r, &err), MX_OK);
	assert_int_equal(r->n_spans, 1);
	mx_batch_free(bt);
	free(body);
	free(p);

	/* the arena cap */
	rt_build(&b);
	p = rt_pack(&b, &n);
	bt = mx_batch_new(512);
	memset(&err, 0, sizeof(err));
	assert_int_equal(mx_report_decode(p, n, &rt_lim, bt, &r, &err), MX_ENOMEM);
	assert_null(r);
	assert_non_null(strstr(err.text, "memory cap"));
	mx_batch_free(bt);
	free(p);
}

/* reports produced by libmixd itself, received by the test harness */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_reports),
		cmocka_unit_test(test_truncated_garbage),
		cmocka_unit_test(test_span_nesting_and_caps),
	};
	return cmocka_run_group_tests(tests, rt_setup, NULL);
}
