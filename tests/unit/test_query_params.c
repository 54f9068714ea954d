/*
 * test_query_params.c - query-string parsing of the query APIs
 * (query/params.h) and the mapping of Jaeger's and Zipkin's search
 * parameters onto a store search (mx_jaeger_search_parse,
 * mx_zipkin_search_parse), driven by parameter tables, no HTTP: Go
 * durations valid and invalid, integers, key:value with extra colons, comma
 * lists, annotationQuery splitting, the tags JSON, trace ids, defaults,
 * required parameters and every 400 the parsers produce.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "model/error.h"
#include "query/jaeger_api.h"
#include "query/params.h"
#include "query/zipkin_api.h"

#define NS 1ull
#define US 1000ull
#define MS 1000000ull
#define SEC 1000000000ull

static bool str_is(struct mx_str s, const char *c)
{
	return mx_str_eq(s, c, strlen(c));
}

static uint64_t dur(const char *s)
{
	uint64_t ns = 12345;
	int rc = mx_parse_go_duration(s, &ns);
	if (rc != MX_OK)
		fail_msg("duration \"%s\" refused", s);
	return ns;
}

static void test_go_durations(void **state)
{
	(void)state;
	assert_int_equal(dur("1.2s"), 1200 * MS);
	assert_int_equal(dur("100ms"), 100 * MS);
	assert_int_equal(dur("500us"), 500 * US);
	assert_int_equal(dur("500\xc2\xb5s"), 500 * US); /* micro sign */
	assert_int_equal(dur("7\xce\xbcs"), 7 * US);     /* Greek mu */
	assert_int_equal(dur("3ns"), 3 * NS);
	assert_int_equal(dur("2m"), 120 * SEC);
	assert_int_equal(dur("1h"), 3600 * SEC);
	assert_int_equal(dur("1h30m"), 5400 * SEC);
	assert_int_equal(dur("1h0m0.5s"), 3600 * SEC + 500 * MS);
	assert_int_equal(dur("1.5h"), 5400 * SEC);
	assert_int_equal(dur("0"), 0);
	assert_int_equal(dur("+0"), 0);
	assert_int_equal(dur("0s"), 0);
	assert_int_equal(dur("+5s"), 5 * SEC);
	assert_int_equal(dur(".5s"), 500 * MS);
	assert_int_equal(dur("1.s"), 1 * SEC);
	assert_int_equal(dur("1.0000000001s"), 1 * SEC); /* truncated */
	assert_int_equal(dur("1.5ns"), 1);
	assert_int_equal(dur("0.000001ms"), 1);
	assert_int_equal(dur("9223372036854775807ns"), (uint64_t)INT64_MAX);
	assert_int_equal(dur("2562047h"), 2562047ull * 3600 * SEC);
	assert_int_equal(dur("1.00000000000000000000000001s"), SEC);

	static const char *const bad[] = {
		"", "5", "-1s", "-0", "1x", "1sec", "1.2.3s", ".s", "s", ".",
		"1e3s", " 1s", "1s ", "1 s", "1S", "1Ms", "ms", "1h-5m", "+",
		"9223372036854775808ns", "2562048h", "9999999999999999999999h",
		"1\xc2s", "\xc2\xb5s",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t ns = 77;
		if (mx_parse_go_duration(bad[i], &ns) != MX_EINVAL)
			fail_msg("duration \"%s\" accepted", bad[i]);
		assert_int_equal(ns, 77); /* untouched on error */
	}
	uint64_t ns;
	assert_int_equal(mx_parse_go_duration(NULL, &ns), MX_EINVAL);
}

static void test_integers(void **state)
{
	(void)state;
	uint64_t v = 0;
	assert_int_equal(mx_param_parse_u64("0", &v), MX_OK);
	assert_int_equal(v, 0);
	assert_int_equal(mx_param_parse_u64("1700000000123456", &v), MX_OK);
	assert_int_equal(v, 1700000000123456ull);
	assert_int_equal(mx_param_parse_u64("18446744073709551615", &v), MX_OK);
	assert_true(v == UINT64_MAX);
	static const char *const bad[] = { "", "-1", "+1", " 1", "1 ", "1a",
					   "0x10", "1.5",
					   "18446744073709551616",
					   "99999999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (mx_param_parse_u64(bad[i], &v) != MX_EINVAL)
			fail_msg("integer \"%s\" accepted", bad[i]);
	assert_int_equal(mx_param_parse_u64(NULL, &v), MX_EINVAL);
	assert_true(mx_mul_sat(UINT64_MAX / 2, 3) == UINT64_MAX);
	assert_int_equal(mx_mul_sat(0, UINT64_MAX), 0);
	assert_int_equal(mx_mul_sat(1000, 1000), 1000000);
}

static void test_key_value(void **state)
{
	(void)state;
	struct mx_str k, v;
	assert_int_equal(mx_split_key_value("http.url:http://x:8080/p", &k, &v),
			 MX_OK);
	assert_true(str_is(k, "http.url"));
	assert_true(str_is(v, "http://x:8080/p"));
	assert_int_equal(mx_split_key_value("error:true", &k, &v), MX_OK);
	assert_true(str_is(k, "error") && str_is(v, "true"));
	assert_int_equal(mx_split_key_value("k:", &k, &v), MX_OK);
	assert_true(str_is(k, "k"));
	assert_int_equal(v.len, 0);
	assert_int_equal(mx_split_key_value("k::", &k, &v), MX_OK);
	assert_true(str_is(v, ":"));
	assert_int_equal(mx_split_key_value(":v", &k, &v), MX_EINVAL);
	assert_int_equal(mx_split_key_value("novalue", &k, &v), MX_EINVAL);
	assert_int_equal(mx_split_key_value("", &k, &v), MX_EINVAL);
	assert_int_equal(mx_split_key_value(NULL, &k, &v), MX_EINVAL);
}

static void test_lists(void **state)
{
	(void)state;
	struct mx_str out[4];
	size_t n = 0;
	assert_int_equal(mx_split_list("a, b ,\tc", ',', out, 4, &n), MX_OK);
	assert_int_equal(n, 3);
	assert_true(str_is(out[0], "a") && str_is(out[1], "b") &&
		    str_is(out[2], "c"));
	assert_int_equal(mx_split_list("a,,b", ',', out, 4, &n), MX_OK);
	assert_int_equal(n, 3);
	assert_int_equal(out[1].len, 0);
	assert_int_equal(mx_split_list("", ',', out, 4, &n), MX_OK);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].len, 0);
	assert_int_equal(mx_split_list("x,", ',', out, 4, &n), MX_OK);
	assert_int_equal(n, 2);
	assert_true(str_is(out[0], "x"));
	assert_int_equal(out[1].len, 0);
	assert_int_equal(mx_split_list("1,2,3,4", ',', out, 4, &n), MX_OK);
	assert_int_equal(n, 4);
	assert_int_equal(mx_split_list("1,2,3,4,5", ',', out, 4, &n),
			 MX_ETOOBIG);
	assert_int_equal(mx_split_list(" only ", ',', out, 4, &n), MX_OK);
	assert_int_equal(n, 1);
	assert_true(str_is(out[0], "only"));
}

static void test_annotation_query(void **state)
{
	(void)state;
	struct mx_tag_list l = { .n = 0 };
	assert_int_equal(mx_parse_annotation_query(
				 "error and http.method=GET and  x = y  and "
				 "k= and a=b=c and ",
				 &l),
			 MX_OK);
	assert_int_equal(l.n, 5);
	assert_int_equal(l.items[0].op, MX_TAG_WORD);
	assert_true(str_is(l.items[0].key, "error"));
	assert_int_equal(l.items[1].op, MX_TAG_EQ);
	assert_true(str_is(l.items[1].key, "http.method"));
	assert_true(str_is(l.items[1].value, "GET"));
	assert_int_equal(l.items[2].op, MX_TAG_EQ);
	assert_true(str_is(l.items[2].key, "x"));
	assert_true(str_is(l.items[2].value, "y"));
	assert_int_equal(l.items[3].op, MX_TAG_WORD); /* "k=" is a word */
	assert_true(str_is(l.items[3].key, "k"));
	assert_true(str_is(l.items[4].key, "a"));
	assert_true(str_is(l.items[4].value, "b=c"));

	/* the separator is exactly " and " */
	l.n = 0;
	assert_int_equal(mx_parse_annotation_query("errorandfoo", &l), MX_OK);
	assert_int_equal(l.n, 1);
	assert_true(str_is(l.items[0].key, "errorandfoo"));
	l.n = 0;
	assert_int_equal(mx_parse_annotation_query("a AND b", &l), MX_OK);
	assert_int_equal(l.n, 1);
	assert_true(str_is(l.items[0].key, "a AND b"));
	l.n = 0;
	assert_int_equal(mx_parse_annotation_query("", &l), MX_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(mx_parse_annotation_query("=v", &l), MX_EINVAL);
	assert_int_equal(mx_parse_annotation_query("ok and  = v", &l),
			 MX_EINVAL);

	/* the list is bounded */
	char big[MX_QUERY_MAX_TAGS * 8 + 16] = "";
	for (int i = 0; i <= MX_QUERY_MAX_TAGS; i++)
		strcat(big, i ? " and w" : "w");
	l.n = 0;
	assert_int_equal(mx_parse_annotation_query(big, &l), MX_ETOOBIG);
}

static void test_tags_json(void **state)
{
	(void)state;
	struct mx_arena a;
	struct mx_tag_list l = { .n = 0 };
	char err[128];
	mx_arena_init(&a, 1 << 16);

	assert_int_equal(mx_parse_tags_json(
				 "{\"http.status_code\":\"500\","
				 "\"name\":\"caf\\u00e9 \\\"x\\\"\"}",
				 &a, &l, err, sizeof(err)),
			 MX_OK);
	assert_int_equal(l.n, 2);
	bool seen_code = false, seen_name = false;
	for (uint32_t i = 0; i < l.n; i++) {
		assert_int_equal(l.items[i].op, MX_TAG_EQ);
		if (str_is(l.items[i].key, "http.status_code")) {
			seen_code = true;
			assert_true(str_is(l.items[i].value, "500"));
		}
		if (str_is(l.items[i].key, "name")) {
			seen_name = true;
			assert_true(str_is(l.items[i].value,
					   "caf\xc3\xa9 \"x\""));
		}
	}
	assert_true(seen_code && seen_name);
	/* a second object appends */
	assert_int_equal(mx_parse_tags_json("{\"e\":\"\"}", &a, &l, err,
					    sizeof(err)),
			 MX_OK);
	assert_int_equal(l.n, 3);
	assert_true(str_is(l.items[2].key, "e"));
	assert_int_equal(l.items[2].value.len, 0);
	assert_int_equal(mx_parse_tags_json("{}", &a, &l, err, sizeof(err)),
			 MX_OK);
	assert_int_equal(l.n, 3);

	static const char *const bad[] = {
		"{\"a\":1}", "{\"a\":true}", "{\"a\":null}", "{\"a\":{}}",
		"{\"a\":[\"x\"]}", "[]", "\"x\"", "not json", "", "{\"a\":\"x\"",
		"{\"a\":\"x\"} trailing",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (mx_parse_tags_json(bad[i], &a, &l, err, sizeof(err)) !=
		    MX_EINVAL)
			fail_msg("tags JSON %s accepted", bad[i]);
		assert_true(err[0] != 0);
	}
	assert_int_equal(l.n, 3);

	/* the list is bounded */
	char big[MX_QUERY_MAX_TAGS * 16 + 16] = "{";
	for (int i = 0; i < MX_QUERY_MAX_TAGS; i++) {
		char kv[24];
		snprintf(kv, sizeof(kv), "%s\"k%d\":\"v\"", i ? "," : "", i);
		strcat(big, kv);
	}
	strcat(big, "}");
	assert_int_equal(mx_parse_tags_json(big, &a, &l, err, sizeof(err)),
			 MX_ETOOBIG);
	mx_arena_free(&a);
}

static void test_trace_ids(void **state)
{
	(void)state;
	uint8_t id[16];
	static const uint8_t want64[16] = { 0, 0, 0, 0, 0, 0, 0, 0,
					    0x01, 0x23, 0x45, 0x67,
					    0x89, 0xab, 0xcd, 0xef };
	assert_int_equal(mx_parse_trace_id("0123456789ABCDEF", 16, 16, id),
			 MX_OK);
	assert_memory_equal(id, want64, 16);
	assert_int_equal(mx_parse_trace_id("abc", 3, 1, id), MX_OK);
	assert_int_equal(id[15], 0xbc);
	assert_int_equal(id[14], 0x0a);
	assert_int_equal(mx_parse_trace_id("abc", 3, 16, id), MX_EINVAL);
	assert_int_equal(mx_parse_trace_id("", 0, 1, id), MX_EINVAL);
	assert_int_equal(mx_parse_trace_id("0123456789abcdef0123456789abcdef0",
					   33, 16, id),
			 MX_EINVAL);
	assert_int_equal(mx_parse_trace_id("0123456789abcdeg", 16, 16, id),
			 MX_EINVAL);
	assert_int_equal(mx_parse_trace_id("0123456789abcdef0123456789abcdef",
					   32, 16, id),
			 MX_OK);
	assert_int_equal(id[0], 0x01);
}

static void test_param_pairs(void **state)
{
	(void)state;
	static const char *const kv[] = { "a", "1", "t", "x", "b", "",
					  "t", "y", NULL };
	struct mx_params p;
	mx_params_from_pairs(&p, kv);
	assert_string_equal(p.get(p.ctx, "a"), "1");
	assert_null(p.get(p.ctx, "zz"));
	assert_string_equal(p.get(p.ctx, "b"), "");
	assert_null(mx_param(&p, "b")); /* empty reads as absent */
	const char *all[1];
	assert_int_equal(p.get_all(p.ctx, "t", all, 1), 2);
	assert_string_equal(all[0], "x");
	assert_int_equal(p.get_all(p.ctx, "zz", all, 1), 0);
}

/* ---------------------------------------------------------- Jaeger */

#define NOW (1700000000ull * SEC + 123456789ull)

static uint64_t mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

/* Copies of tags JSON strings; reset by each test's teardown. */
static struct mx_arena jarena;

static int setup_arena(void **state)
{
	(void)state;
	mx_arena_init(&jarena, 1 << 16);
	return 0;
}

static int teardown_arena(void **state)
{
	(void)state;
	mx_arena_free(&jarena);
	return 0;
}

static int jparse(const char *const *kv, struct mx_jaeger_search *s,
		  char *err, size_t errlen)
{
	static struct mx_query_ctx ctx = { .max_spans = 777,
					   .query_timeout_ms = 2000 };
	struct mx_params p;
	mx_params_from_pairs(&p, kv);
	err[0] = 0;
	return mx_jaeger_search_parse(&p, &ctx, NOW, &jarena, s, err, errlen);
}

static void test_jaeger_defaults(void **state)
{
	(void)state;
	static struct mx_jaeger_search s;
	char err[256];
	static const char *const kv[] = { "service", "frontend", "lookback",
					  "1h", NULL };
	uint64_t before = mono_now();
	assert_int_equal(jparse(kv, &s, err, sizeof(err)), MX_OK);
	const struct mx_search_query *q = &s.q;
	assert_true(str_is(q->service, "frontend"));
	assert_int_equal(q->operation.len, 0);
	assert_int_equal(q->remote_service.len, 0);
	assert_int_equal(q->kind, -1);
	assert_int_equal(q->n_tags, 0);
	assert_true(q->tags_match_resource);
	assert_int_equal(q->start_max_ns, NOW);
	assert_int_equal(q->start_min_ns, NOW - 48 * 3600 * SEC);
	assert_int_equal(q->min_duration_ns, 0);
	assert_int_equal(q->max_duration_ns, 0);
	assert_int_equal(q->limit, 100);
	assert_int_equal(q->max_spans_per_trace, 777);
	assert_int_equal(q->max_candidates, 0);
	assert_true(q->deadline_ns >= before + 2000 * MS);
	assert_true(q->deadline_ns <= mono_now() + 2000 * MS);
	assert_int_equal(s.n_trace_ids, 0);
}

static void test_jaeger_mapping(void **state)
{
	(void)state;
	static struct mx_jaeger_search s;
	char err[256];
	static const char *const kv[] = {
		"service", "api", "operation", "GET /x",
		"tags", "{\"http.status_code\":\"500\"}",
		"tags", "{\"env\":\"prod\"}",
		"tag", "url:http://h:80/", "tag", "error:true",
		"start", "1700000000000000", "end", "1700000100000000",
		"minDuration", "1.5ms", "maxDuration", "2s",
		"limit", "20", NULL
	};
	assert_int_equal(jparse(kv, &s, err, sizeof(err)), MX_OK);
	const struct mx_search_query *q = &s.q;
	assert_true(str_is(q->service, "api"));
	assert_true(str_is(q->operation, "GET /x"));
	assert_int_equal(q->start_min_ns, 1700000000000000ull * US);
	assert_int_equal(q->start_max_ns, 1700000100000000ull * US);
	assert_int_equal(q->min_duration_ns, 1500 * US);
	assert_int_equal(q->max_duration_ns, 2 * SEC);
	assert_int_equal(q->limit, 20);
	assert_int_equal(q->n_tags, 4);
	assert_ptr_equal(q->tags, s.tags.items);
	assert_true(str_is(q->tags[0].key, "http.status_code"));
	assert_true(str_is(q->tags[0].value, "500"));
	assert_true(str_is(q->tags[1].key, "env"));
	assert_true(str_is(q->tags[2].key, "url"));
	assert_true(str_is(q->tags[2].value, "http://h:80/"));
	assert_true(str_is(q->tags[3].key, "error"));
	assert_true(str_is(q->tags[3].value, "true"));
	for (uint32_t i = 0; i < q->n_tags; i++)
		assert_int_equal(q->tags[i].op, MX_TAG_EQ);

	/* limit: 0 is the default, large values are clamped */
	static const char *const kv0[] = { "service", "a", "limit", "0", NULL };
	assert_int_equal(jparse(kv0, &s, err, sizeof(err)), MX_OK);
	assert_int_equal(s.q.limit, 100);
	static const char *const kvbig[] = { "service", "a", "limit",
					     "99999999", NULL };
	assert_int_equal(jparse(kvbig, &s, err, sizeof(err)), MX_OK);
	assert_int_equal(s.q.limit, MX_JAEGER_MAX_LIMIT);
	/* only one of the durations; max == min */
	static const char *const kvmax[] = { "service", "a", "maxDuration",
					     "1s", "minDuration", "1s", NULL };
	assert_int_equal(jparse(kvmax, &s, err, sizeof(err)), MX_OK);
	assert_int_equal(s.q.max_duration_ns, SEC);
	/* empty parameters read as absent */
	static const char *const kvempty[] = { "service", "a", "start", "",
					       "minDuration", "", "tags", "",
					       NULL };
	assert_int_equal(jparse(kvempty, &s, err, sizeof(err)), MX_OK);
	assert_int_equal(s.q.start_min_ns, NOW - 48 * 3600 * SEC);
	assert_int_equal(s.q.n_tags, 0);
}

static void test_jaeger_trace_ids(void **state)
{
	(void)state;
	static struct mx_jaeger_search s;
	char err[256];
	static const char *const kv[] = { "traceID", "abc", "traceID",
					  "0000000000000ABC", "traceID",
					  "1234567890abcdef1234567890abcdef",
					  NULL };
	/* no service needed with traceID; duplicates collapse */
	assert_int_equal(jparse(kv, &s, err, sizeof(err)), MX_OK);
	assert_int_equal(s.n_trace_ids, 2);
	assert_int_equal(s.trace_ids[0][15], 0xbc);
	assert_int_equal(s.trace_ids[0][14], 0x0a);
	assert_int_equal(s.trace_ids[1][0], 0x12);
	static const char *const bad[] = { "traceID", "xyz", NULL };
	assert_int_equal(jparse(bad, &s, err, sizeof(err)), MX_EINVAL);
	assert_non_null(strstr(err, "traceID"));
	static const char *const empty[] = { "traceID", "", NULL };
	assert_int_equal(jparse(empty, &s, err, sizeof(err)), MX_EINVAL);
}

static void expect_400(const char *const *kv, const char *needle)
{
	static struct mx_jaeger_search s;
	char err[256];
	assert_int_equal(jparse(kv, &s, err, sizeof(err)), MX_EINVAL);
	if (!strstr(err, needle))
		fail_msg("message \"%s\" lacks \"%s\"", err, needle);
}

static void test_jaeger_errors(void **state)
{
	(void)state;
	static const char *const none[] = { "operation", "x", NULL };
	expect_400(none, "parameter 'service' is required");
	static const char *const emptysvc[] = { "service", "", NULL };
	expect_400(emptysvc, "parameter 'service' is required");
	static const char *const maxmin[] = { "service", "a", "minDuration",
					      "2s", "maxDuration", "1s", NULL };
	expect_400(maxmin, "'maxDuration' should be greater than 'minDuration'");
	static const char *const baddur[] = { "service", "a", "minDuration",
					      "10", NULL };
	expect_400(baddur, "minDuration");
	static const char *const baddur2[] = { "service", "a", "maxDuration",
					       "-1s", NULL };
	expect_400(baddur2, "maxDuration");
	static const char *const badtags[] = { "service", "a", "tags",
					       "{\"a\":5}", NULL };
	expect_400(badtags, "malformed 'tags' parameter");
	static const char *const badtag[] = { "service", "a", "tag", "nocolon",
					      NULL };
	expect_400(badtag, "malformed 'tag' parameter, expecting key:value");
	static const char *const badstart[] = { "service", "a", "start", "1.5",
						NULL };
	expect_400(badstart, "'start'");
	static const char *const badend[] = { "service", "a", "end", "-3",
					      NULL };
	expect_400(badend, "'end'");
	static const char *const order[] = { "service", "a", "start", "20",
					     "end", "10", NULL };
	expect_400(order, "'start' must not be later than 'end'");
	static const char *const badlimit[] = { "service", "a", "limit", "x",
						NULL };
	expect_400(badlimit, "'limit'");
}

/* ---------------------------------------------------------- Zipkin */

static int zparse(const char *const *kv, struct mx_zipkin_search *s,
		  char *err, size_t errlen)
{
	static struct mx_zipkin_query_ctx ctx = { .max_spans = 55 };
	struct mx_params p;
	mx_params_from_pairs(&p, kv);
	err[0] = 0;
	return mx_zipkin_search_parse(&p, &ctx, NOW, s, err, errlen);
}

static void test_zipkin_mapping(void **state)
{
	(void)state;
	static struct mx_zipkin_search s;
	char err[256];
	static const char *const none[] = { NULL };
	uint64_t before = mono_now();
	assert_int_equal(zparse(none, &s, err, sizeof(err)), MX_OK);
	assert_int_equal(s.q.service.len, 0);
	assert_int_equal(s.q.kind, -1);
	assert_false(s.q.tags_match_resource);
	assert_int_equal(s.q.start_max_ns, NOW);
	assert_int_equal(s.q.start_min_ns, NOW - 86400 * SEC);
	assert_int_equal(s.q.limit, 10);
	assert_int_equal(s.q.max_spans_per_trace, 55);
	/* timeout 0: the default 5 s */
	assert_true(s.q.deadline_ns >= before + 5000 * MS);

	static const char *const kv[] = {
		"serviceName", "frontend", "remoteServiceName", "db",
		"spanName", "get", "annotationQuery",
		"error and http.path=/api and foo",
		"minDuration", "1500", "maxDuration", "3000",
		"endTs", "1700000000000", "lookback", "60000", "limit", "3",
		NULL
	};
	assert_int_equal(zparse(kv, &s, err, sizeof(err)), MX_OK);
	assert_true(str_is(s.q.service, "frontend"));
	assert_true(str_is(s.q.remote_service, "db"));
	assert_true(str_is(s.q.operation, "get"));
	assert_int_equal(s.q.n_tags, 3);
	assert_int_equal(s.q.tags[0].op, MX_TAG_WORD);
	assert_true(str_is(s.q.tags[0].key, "error"));
	assert_int_equal(s.q.tags[1].op, MX_TAG_EQ);
	assert_true(str_is(s.q.tags[1].key, "http.path"));
	assert_true(str_is(s.q.tags[1].value, "/api"));
	assert_int_equal(s.q.tags[2].op, MX_TAG_WORD);
	assert_int_equal(s.q.min_duration_ns, 1500 * US);
	assert_int_equal(s.q.max_duration_ns, 3000 * US);
	assert_int_equal(s.q.start_max_ns, 1700000000000ull * MS);
	assert_int_equal(s.q.start_min_ns, 1700000000000ull * MS - 60 * SEC);
	assert_int_equal(s.q.limit, 3);

	/* "all" is no filter; maxDuration alone; a lookback past 1970 */
	static const char *const kv2[] = { "spanName", "all",
					   "remoteServiceName", "all",
					   "maxDuration", "10", "endTs", "5",
					   "lookback", "100", "limit",
					   "100000", NULL };
	assert_int_equal(zparse(kv2, &s, err, sizeof(err)), MX_OK);
	assert_int_equal(s.q.operation.len, 0);
	assert_int_equal(s.q.remote_service.len, 0);
	assert_int_equal(s.q.min_duration_ns, 0);
	assert_int_equal(s.q.max_duration_ns, 10 * US);
	assert_int_equal(s.q.start_min_ns, 0);
	assert_int_equal(s.q.start_max_ns, 5 * MS);
	assert_int_equal(s.q.limit, MX_ZIPKIN_MAX_LIMIT);
}

static void test_zipkin_errors(void **state)
{
	(void)state;
	static struct mx_zipkin_search s;
	char err[256];
	static const struct {
		const char *kv[5];
		const char *needle;
	} cases[] = {
		{ { "minDuration", "20", "maxDuration", "10" }, "maxDuration" },
		{ { "minDuration", "1ms" }, "minDuration" },
		{ { "endTs", "0" }, "endTs" },
		{ { "endTs", "-5" }, "endTs" },
		{ { "lookback", "0" }, "lookback" },
		{ { "limit", "0" }, "limit" },
		{ { "limit", "ten" }, "limit" },
		{ { "annotationQuery", "=x" }, "annotationQuery" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(zparse(cases[i].kv, &s, err, sizeof(err)),
				 MX_EINVAL);
		if (!strstr(err, cases[i].needle))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err,
				 cases[i].needle);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_go_durations),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_key_value),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_annotation_query),
		cmocka_unit_test(test_tags_json),
		cmocka_unit_test(test_trace_ids),
		cmocka_unit_test(test_param_pairs),
		cmocka_unit_test_setup_teardown(test_jaeger_defaults, setup_arena,
						teardown_arena),
		cmocka_unit_test_setup_teardown(test_jaeger_mapping, setup_arena,
						teardown_arena),
		cmocka_unit_test_setup_teardown(test_jaeger_trace_ids, setup_arena,
						teardown_arena),
		cmocka_unit_test_setup_teardown(test_jaeger_errors, setup_arena,
						teardown_arena),
		cmocka_unit_test(test_zipkin_mapping),
		cmocka_unit_test(test_zipkin_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
