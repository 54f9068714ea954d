/*
 * test_tracecontext.c - libmixd trace-context extraction
 * (include/mixd/tracecontext.h): tables of valid and invalid W3C
 * traceparent/tracestate, B3 single, B3 multi and Jaeger uber-trace-id
 * headers taken from the specs' examples and edge rules, and the fixed
 * precedence between formats, and mutated headers handed over without a
 * terminating NUL (nothing is read past their length). Injection, round
 * trips, sampling and the id generator are in test_tracecontext_prop.c.
 */
#include <stdlib.h>

#include "tc_test_util.h"

/* ---- extraction tables ---- */

struct xcase {
	const char *kv[14];  /* name, value, ..., NULL */
	unsigned fmt;        /* expected format */
	const char *trace;   /* 32 hex, or NULL: no ids */
	const char *span;
	const char *parent;  /* NULL: none */
	int sampled;
	bool debug;
	bool t128;
};

/* Fails with the case's number and first header, which cmocka's own
 * assertion messages would not say. */
#define CASE_CHECK(cond, i, kv)                                           \
	do {                                                              \
		if (!(cond))                                              \
			fail_msg("case %zu (%s: '%s'): %s", (size_t)(i),  \
				 (kv)[0] ? (kv)[0] : "-",                 \
				 (kv)[0] ? (kv)[1] : "-", #cond);         \
	} while (0)

static bool id_is(const uint8_t *b, size_t n, const char *hex)
{
	char buf[40];

	to_hex(b, n, buf);
	return strcmp(buf, hex) == 0;
}

static void run_xcases(const struct xcase *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *const *kv = c[i].kv;
		struct mixd_trace_context ctx;
		int rc = mixd_tc_extract(kv_get, kv_carrier(kv), MIXD_TC_ALL,
					 &ctx);

		CASE_CHECK(rc == (int)c[i].fmt, i, kv);
		CASE_CHECK(ctx.sampled == c[i].sampled, i, kv);
		CASE_CHECK(ctx.debug == c[i].debug, i, kv);
		CASE_CHECK(ctx.has_ids == (c[i].trace != NULL), i, kv);
		if (!c[i].trace) {
			CASE_CHECK(id_is(ctx.trace_id, 16, "0000000000000000"
					 "0000000000000000"), i, kv);
			CASE_CHECK(id_is(ctx.span_id, 8, "0000000000000000"),
				   i, kv);
			continue;
		}
		CASE_CHECK(id_is(ctx.trace_id, 16, c[i].trace), i, kv);
		CASE_CHECK(id_is(ctx.span_id, 8, c[i].span), i, kv);
		CASE_CHECK(id_is(ctx.parent_span_id, 8,
				 c[i].parent ? c[i].parent
					     : "0000000000000000"), i, kv);
		CASE_CHECK(ctx.trace_id_128 == c[i].t128, i, kv);
	}
}

/* The headers must give MIXD_TC_NONE and an empty context. */
static void expect_none(const char *const *kv, size_t i)
{
	struct mixd_trace_context ctx;
	int rc = mixd_tc_extract(kv_get, kv_carrier(kv), MIXD_TC_ALL, &ctx);

	CASE_CHECK(rc == (int)MIXD_TC_NONE, i, kv);
	CASE_CHECK(!ctx.has_ids, i, kv);
	CASE_CHECK(ctx.sampled == DEFER && !ctx.debug, i, kv);
	CASE_CHECK(ctx.tracestate_len == 0, i, kv);
}

/* Each value, alone under `name`, must give MIXD_TC_NONE. */
static void run_invalid(const char *name, const char *const *vals, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *kv[] = { name, vals[i], NULL };
		expect_none(kv, i);
	}
}

static void test_traceparent_valid(void **state)
{
	(void)state;
	static const struct xcase c[] = {
		{ { "traceparent", TP("00", W3T, W3S, "01"), NULL },
		  MIXD_TC_W3C, W3T, W3S, NULL, YES, false, true },
		{ { "traceparent", TP("00", W3T, W3S, "00"), NULL },
		  MIXD_TC_W3C, W3T, W3S, NULL, NO, false, true },
		{ { "traceparent", TP("00", W3T, W3S, "03"), NULL },
		  MIXD_TC_W3C, W3T, W3S, NULL, YES, false, true },
		{ { "traceparent", TP("00", W3T, W3S, "02"), NULL },
		  MIXD_TC_W3C, W3T, W3S, NULL, NO, false, true },
		/* flags are bits: unknown bits do not hide "sampled" */
		{ { "traceparent", TP("00", W3T, W3S, "ff"), NULL },
		  MIXD_TC_W3C, W3T, W3S, NULL, YES, false, true },
		{ { "traceparent", TP("00", W3T, W3S, "fe"), NULL },
		  MIXD_TC_W3C, W3T, W3S, NULL, NO, false, true },
		/* future versions: 55 characters, or more after a '-' */
		{ { "traceparent", TP("01", W3T, W3S, "01"), NULL },
		  MIXD_TC_W3C, W3T, W3S, NULL, YES, false, true },
		{ { "traceparent", TP("cc", W3T, W3S, "01") "-what-ever",
		    NULL },
		  MIXD_TC_W3C, W3T, W3S, NULL, YES, false, true },
		{ { "traceparent", TP("fe", W3T, W3S, "00") "-", NULL },
		  MIXD_TC_W3C, W3T, W3S, NULL, NO, false, true },
		/* optional whitespace around the field value */
		{ { "traceparent", " \t" TP("00", W3T, W3S, "01") "  ",
		    NULL },
		  MIXD_TC_W3C, W3T, W3S, NULL, YES, false, true },
		/* header names are case-insensitive */
		{ { "TraceParent", TP("00", W3T, W3S, "01"), NULL },
		  MIXD_TC_W3C, W3T, W3S, NULL, YES, false, true },
		/* a zero upper half is a 64-bit id */
		{ { "traceparent", TP("00", T64P, SPAN, "01"), NULL },
		  MIXD_TC_W3C, T64P, SPAN, NULL, YES, false, false },
	};
	run_xcases(c, N(c));
}

static void test_traceparent_invalid(void **state)
{
	(void)state;
	static const char *const v[] = {
		"",
		"00",
		TP("ff", W3T, W3S, "01"),              /* version ff */
		TP("00", W3T, W3S, "01") "-extra",     /* v00 with more */
		TP("00", W3T, W3S, "01") "0",          /* v00, 56 chars */
		TP("cc", W3T, W3S, "01") "x",          /* future, no '-' */
		TP("00", "00000000000000000000000000000000", W3S, "01"),
		TP("00", W3T, "0000000000000000", "01"),
		TP("00", "0AF7651916CD43DD8448EB211C80319C", W3S, "01"),
		TP("00", W3T, "B7AD6B7169203331", "01"),
		TP("00", W3T, W3S, "0A"),              /* upper-case flags */
		TP("0A", W3T, W3S, "01"),              /* upper-case version */
		TP("0g", W3T, W3S, "01"),
		TP("00", W3T, W3S, "0x"),
		TP("00", W3T, W3S, "1"),               /* 1-digit flags */
		TP("00", "0af7651916cd43dd8448eb211c80319", W3S, "01"),
		TP("00", W3T "0", W3S, "01"),
		TP("00", W3T, "b7ad6b716920333", "01"),
		TP("00", W3T, "b7ad6b71692033311", "01"),
		TP("00", W3T, "b7ad6b716920333g", "01"),
		"00_" W3T "-" W3S "-01",
		"00-" W3T "-" W3S "_01",
		"00-" W3T W3S "-01-",
		TP("0", W3T, W3S, "01") "0",           /* misplaced dashes */
		TP("cc", W3T, W3S, "1"),               /* future, 54 chars */
	};
	run_invalid("traceparent", v, N(v));
}

static void expect_tracestate(const char *ts, const char *want)
{
	const char *kv[] = { "traceparent", TP("00", W3T, W3S, "01"),
			     "tracestate", ts, NULL };
	struct mixd_trace_context ctx;

	assert_int_equal(mixd_tc_extract(kv_get, kv, MIXD_TC_ALL, &ctx),
			 MIXD_TC_W3C);
	assert_int_equal(ctx.tracestate_len, strlen(want));
	assert_string_equal(ctx.tracestate, want);
	assert_true(ctx.tracestate_len <= MIXD_TC_TRACESTATE_MAX);
}

static void test_tracestate(void **state)
{
	(void)state;
	char big[2048], want[1024], k[16];
	size_t w;

	expect_tracestate("congo=t61rcWkgMzE", "congo=t61rcWkgMzE");
	expect_tracestate("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
			  "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
	expect_tracestate(" a=1 ,, \t,b=2\t,", "a=1,b=2");
	expect_tracestate("tenant@vendor=x,0k-_*/=v a l", "tenant@vendor=x,"
			  "0k-_*/=v a l");
	expect_tracestate("", "");
	/* invalid lists are dropped whole */
	expect_tracestate("Congo=x", "");
	expect_tracestate("a=1,congo", "");
	expect_tracestate("a=b=c", "");
	expect_tracestate("a=", "");
	expect_tracestate("=v", "");
	expect_tracestate("_a=v", "");
	expect_tracestate("a=v\x7f", "");
	expect_tracestate("a=1,b=2,a=3", "");   /* duplicate key */

	/* 32 members are fine, 33 are not */
	w = 0;
	for (int i = 0; i < 33; i++)
		w += (size_t)sprintf(big + w, "%sk%d=v", i ? "," : "", i);
	expect_tracestate(big, "");
	*strrchr(big, ',') = '\0';
	expect_tracestate(big, big);

	/* key over 256 characters, value over 256 characters */
	memset(big, 'k', 257);
	strcpy(big + 257, "=v");
	expect_tracestate(big, "");
	strcpy(big, "k=");
	memset(big + 2, 'v', 257);
	big[259] = '\0';
	expect_tracestate(big, "");
	big[258] = '\0'; /* exactly 256: kept */
	expect_tracestate(big, big);

	/* five 120-character members (604 chars): the last one goes */
	w = 0;
	for (int i = 0; i < 5; i++) {
		w += (size_t)sprintf(big + w, "%sm%d=", i ? "," : "", i);
		memset(big + w, 'a' + i, 117);
		w += 117;
	}
	big[w] = '\0';
	memcpy(want, big, 4 * 121 - 1);
	want[4 * 121 - 1] = '\0';
	expect_tracestate(big, want);

	/* a 200-character member goes first, wherever it is */
	w = (size_t)sprintf(big, "a=%0100d,big=", 0);
	memset(big + w, 'b', 196);
	w += 196;
	for (int i = 0; i < 3; i++) {
		snprintf(k, sizeof k, ",c%d=", i);
		w += (size_t)sprintf(big + w, "%s%0100d", k, i);
	}
	big[w] = '\0';
	snprintf(want, sizeof want, "a=%0100d,c0=%0100d,c1=%0100d,c2=%0100d",
		 0, 0, 1, 2);
	expect_tracestate(big, want);

	/* tracestate is read only along with a valid traceparent */
	{
		const char *kv[] = { "tracestate", "a=1", NULL };
		const char *kv2[] = { "traceparent", TP("ff", W3T, W3S, "01"),
				      "tracestate", "a=1", "b3", T64 "-" SPAN,
				      NULL };
		struct mixd_trace_context ctx;
		assert_int_equal(mixd_tc_extract(kv_get, kv, MIXD_TC_ALL,
						 &ctx), MIXD_TC_NONE);
		assert_int_equal(mixd_tc_extract(kv_get, kv2, MIXD_TC_ALL,
						 &ctx), MIXD_TC_B3_SINGLE);
		assert_int_equal(ctx.tracestate_len, 0);
	}
}

static void test_b3_multi_valid(void **state)
{
	(void)state;
	static const struct xcase c[] = {
		{ { "X-B3-TraceId", T64, "X-B3-SpanId", SPAN, "X-B3-Sampled",
		    "1", NULL },
		  MIXD_TC_B3_MULTI, T64P, SPAN, NULL, YES, false, false },
		{ { "X-B3-TraceId", T128, "X-B3-SpanId", SPAN,
		    "X-B3-ParentSpanId", PAR, "X-B3-Sampled", "0", NULL },
		  MIXD_TC_B3_MULTI, T128, SPAN, PAR, NO, false, true },
		{ { "x-b3-traceid", T128, "x-b3-spanid", SPAN, "x-b3-sampled",
		    "true", NULL },
		  MIXD_TC_B3_MULTI, T128, SPAN, NULL, YES, false, true },
		{ { "x-b3-traceid", T128, "x-b3-spanid", SPAN, "x-b3-sampled",
		    "False", NULL },
		  MIXD_TC_B3_MULTI, T128, SPAN, NULL, NO, false, true },
		{ { "X-B3-TraceId", T128, "X-B3-SpanId", SPAN, NULL },
		  MIXD_TC_B3_MULTI, T128, SPAN, NULL, DEFER, false, true },
		{ { "X-B3-TraceId", T128, "X-B3-SpanId", SPAN, "X-B3-Flags",
		    "1", NULL },
		  MIXD_TC_B3_MULTI, T128, SPAN, NULL, YES, true, true },
		/* debug wins over a stray deny */
		{ { "X-B3-TraceId", T128, "X-B3-SpanId", SPAN, "X-B3-Flags",
		    "1", "X-B3-Sampled", "0", NULL },
		  MIXD_TC_B3_MULTI, T128, SPAN, NULL, YES, true, true },
		/* other flag values are ignored */
		{ { "X-B3-TraceId", T128, "X-B3-SpanId", SPAN, "X-B3-Flags",
		    "0", "X-B3-Sampled", "1", NULL },
		  MIXD_TC_B3_MULTI, T128, SPAN, NULL, YES, false, true },
		/* a nonsense sampled value is treated as absent */
		{ { "X-B3-TraceId", T128, "X-B3-SpanId", SPAN, "X-B3-Sampled",
		    "2", NULL },
		  MIXD_TC_B3_MULTI, T128, SPAN, NULL, DEFER, false, true },
		/* lenient: upper-case hex */
		{ { "X-B3-TraceId", "80F198EE56343BA864FE8B2A57D3EFF7",
		    "X-B3-SpanId", "E457B5A2E4D86BD1", NULL },
		  MIXD_TC_B3_MULTI, T128, SPAN, NULL, DEFER, false, true },
		/* a zero parent is a root */
		{ { "X-B3-TraceId", T128, "X-B3-SpanId", SPAN,
		    "X-B3-ParentSpanId", "0000000000000000", NULL },
		  MIXD_TC_B3_MULTI, T128, SPAN, NULL, DEFER, false, true },
		/* 32 digits with a zero upper half are a 64-bit id */
		{ { "X-B3-TraceId", T64P, "X-B3-SpanId", SPAN, NULL },
		  MIXD_TC_B3_MULTI, T64P, SPAN, NULL, DEFER, false, false },
		/* a sampling state alone */
		{ { "X-B3-Sampled", "0", NULL },
		  MIXD_TC_B3_MULTI, NULL, NULL, NULL, NO, false, false },
		{ { "X-B3-Sampled", "1", NULL },
		  MIXD_TC_B3_MULTI, NULL, NULL, NULL, YES, false, false },
		{ { "X-B3-Flags", "1", NULL },
		  MIXD_TC_B3_MULTI, NULL, NULL, NULL, YES, true, false },
		/* a parent without a trace is ignored with it */
		{ { "X-B3-ParentSpanId", PAR, "X-B3-Sampled", "0", NULL },
		  MIXD_TC_B3_MULTI, NULL, NULL, NULL, NO, false, false },
	};
	run_xcases(c, N(c));
}

static void test_b3_multi_invalid(void **state)
{
	(void)state;
	static const char *const c[][8] = {
		{ "X-B3-TraceId", T128, NULL },
		{ "X-B3-SpanId", SPAN, NULL },
		{ "X-B3-SpanId", SPAN, "X-B3-Sampled", "1", NULL },
		{ "X-B3-TraceId", "64fe8b2a57d3eff", "X-B3-SpanId", SPAN,
		  NULL },
		{ "X-B3-TraceId", T64 "0", "X-B3-SpanId", SPAN, NULL },
		{ "X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff",
		  "X-B3-SpanId", SPAN, NULL },
		{ "X-B3-TraceId", T128 "0", "X-B3-SpanId", SPAN, NULL },
		{ "X-B3-TraceId", T128, "X-B3-SpanId", "e457b5a2e4d86bd",
		  NULL },
		{ "X-B3-TraceId", T128, "X-B3-SpanId", SPAN "1", NULL },
		{ "X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3effz",
		  "X-B3-SpanId", SPAN, NULL },
		{ "X-B3-TraceId", T128, "X-B3-SpanId", "e457b5a2-4d86bd1",
		  NULL },
		{ "X-B3-TraceId", "0000000000000000", "X-B3-SpanId", SPAN,
		  NULL },
		{ "X-B3-TraceId", T128, "X-B3-SpanId", "0000000000000000",
		  NULL },
		{ "X-B3-TraceId", T128, "X-B3-SpanId", SPAN,
		  "X-B3-ParentSpanId", "-", NULL },
		{ "X-B3-TraceId", T128, "X-B3-SpanId", SPAN,
		  "X-B3-ParentSpanId", "05e3ac9a4f6e3b9", NULL },
		{ "X-B3-TraceId", "", "X-B3-SpanId", SPAN, NULL },
		{ "X-B3-TraceId", T128, "X-B3-SpanId", "", NULL },
		{ "X-B3-Sampled", "yes", NULL },
		{ "X-B3-Sampled", "", NULL },
		{ "X-B3-Flags", "2", NULL },
		{ NULL },
	};
	for (size_t i = 0; i < N(c); i++)
		expect_none(c[i], i);
}

static void test_b3_single_valid(void **state)
{
	(void)state;
	static const struct xcase c[] = {
		{ { "b3", T128 "-" SPAN "-1-" PAR, NULL },
		  MIXD_TC_B3_SINGLE, T128, SPAN, PAR, YES, false, true },
		{ { "b3", T128 "-" SPAN "-d", NULL },
		  MIXD_TC_B3_SINGLE, T128, SPAN, NULL, YES, true, true },
		{ { "b3", T128 "-" SPAN "-0", NULL },
		  MIXD_TC_B3_SINGLE, T128, SPAN, NULL, NO, false, true },
		{ { "b3", T128 "-" SPAN "-1", NULL },
		  MIXD_TC_B3_SINGLE, T128, SPAN, NULL, YES, false, true },
		{ { "b3", T128 "-" SPAN, NULL },
		  MIXD_TC_B3_SINGLE, T128, SPAN, NULL, DEFER, false, true },
		{ { "b3", T64 "-" SPAN "-0-" PAR, NULL },
		  MIXD_TC_B3_SINGLE, T64P, SPAN, PAR, NO, false, false },
		{ { "b3", T64 "-" SPAN "-d-" PAR, NULL },
		  MIXD_TC_B3_SINGLE, T64P, SPAN, PAR, YES, true, false },
		{ { "B3", " " T64 "-" SPAN "\t", NULL },
		  MIXD_TC_B3_SINGLE, T64P, SPAN, NULL, DEFER, false, false },
		{ { "b3", T128 "-" SPAN "-1-0000000000000000", NULL },
		  MIXD_TC_B3_SINGLE, T128, SPAN, NULL, YES, false, true },
		{ { "b3", "0", NULL },
		  MIXD_TC_B3_SINGLE, NULL, NULL, NULL, NO, false, false },
		{ { "b3", "1", NULL },
		  MIXD_TC_B3_SINGLE, NULL, NULL, NULL, YES, false, false },
		{ { "b3", "d", NULL },
		  MIXD_TC_B3_SINGLE, NULL, NULL, NULL, YES, true, false },
		/* b3 wins over X-B3-*, traceparent over b3 */
		{ { "X-B3-TraceId", T64, "X-B3-SpanId", PAR, "b3",
		    T128 "-" SPAN "-0", NULL },
		  MIXD_TC_B3_SINGLE, T128, SPAN, NULL, NO, false, true },
		{ { "b3", T128 "-" SPAN "-0", "traceparent",
		    TP("00", W3T, W3S, "01"), NULL },
		  MIXD_TC_W3C, W3T, W3S, NULL, YES, false, true },
		/* a malformed b3 falls through to X-B3-* */
		{ { "b3", T128 "-" SPAN "-x", "X-B3-TraceId", T64,
		    "X-B3-SpanId", PAR, NULL },
		  MIXD_TC_B3_MULTI, T64P, PAR, NULL, DEFER, false, false },
		/* ... and the sampling-only b3 still beats X-B3-* */
		{ { "b3", "0", "X-B3-TraceId", T64, "X-B3-SpanId", PAR,
		    NULL },
		  MIXD_TC_B3_SINGLE, NULL, NULL, NULL, NO, false, false },
	};
	run_xcases(c, N(c));
}

static void test_b3_single_invalid(void **state)
{
	(void)state;
	static const char *const v[] = {
		"", "2", "x", "D", "true", "-", "01",
		T128,
		T128 "-",
		T128 "-" SPAN "-",
		T128 "-" SPAN "-2",
		T128 "-" SPAN "-11",
		T128 "-" SPAN "-1-",
		T128 "-" SPAN "-1-05e3ac9a4f6e3b9",
		T128 "-" SPAN "-1-" PAR "-1",
		T128 "--1",
		"-" SPAN "-1",
		"80f198ee56343ba864fe-" SPAN,
		T128 "-e457b5a2",
		"0000000000000000-" SPAN "-1",
		T128 "-0000000000000000-1",
		T128 "-" SPAN "-1-zze3ac9a4f6e3b90",
		"g0f198ee56343ba864fe8b2a57d3eff7-" SPAN,
	};
	run_invalid("b3", v, N(v));
}

static void test_jaeger_valid(void **state)
{
	(void)state;
	static const struct xcase c[] = {
		{ { "uber-trace-id", "1:2:0:1", NULL },
		  MIXD_TC_JAEGER, "00000000000000000000000000000001",
		  "0000000000000002", NULL, YES, false, false },
		{ { "uber-trace-id", T64 ":" SPAN ":" PAR ":1", NULL },
		  MIXD_TC_JAEGER, T64P, SPAN, PAR, YES, false, false },
		{ { "uber-trace-id", T128 ":" SPAN ":0:0", NULL },
		  MIXD_TC_JAEGER, T128, SPAN, NULL, NO, false, true },
		/* unpadded 128-bit (17 digits) */
		{ { "uber-trace-id", "1" T64 ":" SPAN ":0:1", NULL },
		  MIXD_TC_JAEGER, "0000000000000001" T64, SPAN, NULL, YES,
		  false, true },
		{ { "Uber-Trace-Id", "abc%3Adef%3A0%3A1", NULL },
		  MIXD_TC_JAEGER, "00000000000000000000000000000abc",
		  "0000000000000def", NULL, YES, false, false },
		{ { "uber-trace-id", "abc%3adef%3a1%3a3", NULL },
		  MIXD_TC_JAEGER, "00000000000000000000000000000abc",
		  "0000000000000def", "0000000000000001", YES, true, false },
		{ { "uber-trace-id", "ABC:DEF:0:1", NULL },
		  MIXD_TC_JAEGER, "00000000000000000000000000000abc",
		  "0000000000000def", NULL, YES, false, false },
		{ { "uber-trace-id", "1:2:0:3", NULL },
		  MIXD_TC_JAEGER, "00000000000000000000000000000001",
		  "0000000000000002", NULL, YES, true, false },
		/* debug alone still samples */
		{ { "uber-trace-id", "1:2:0:2", NULL },
		  MIXD_TC_JAEGER, "00000000000000000000000000000001",
		  "0000000000000002", NULL, YES, true, false },
		/* firehose alone: not sampled */
		{ { "uber-trace-id", "1:2:0:8", NULL },
		  MIXD_TC_JAEGER, "00000000000000000000000000000001",
		  "0000000000000002", NULL, NO, false, false },
		/* flags are decimal: 10 = 0x0a = debug|firehose */
		{ { "uber-trace-id", "1:2:0:10", NULL },
		  MIXD_TC_JAEGER, "00000000000000000000000000000001",
		  "0000000000000002", NULL, YES, true, false },
		{ { "uber-trace-id", "1:2:0:255", NULL },
		  MIXD_TC_JAEGER, "00000000000000000000000000000001",
		  "0000000000000002", NULL, YES, true, false },
		/* not decimal: the Go client's %x form */
		{ { "uber-trace-id", "1:2:0:c", NULL },
		  MIXD_TC_JAEGER, "00000000000000000000000000000001",
		  "0000000000000002", NULL, NO, false, false },
		{ { "uber-trace-id", "1:2:0000000000000000:01", NULL },
		  MIXD_TC_JAEGER, "00000000000000000000000000000001",
		  "0000000000000002", NULL, YES, false, false },
		/* lowest precedence */
		{ { "uber-trace-id", "1:2:0:1", "X-B3-Sampled", "0", NULL },
		  MIXD_TC_B3_MULTI, NULL, NULL, NULL, NO, false, false },
	};
	run_xcases(c, N(c));
}

static void test_jaeger_invalid(void **state)
{
	(void)state;
	static const char *const v[] = {
		"", "1:2:1", "1:2:0:1:0", "0:2:0:1", "1:0:0:1",
		"000000000000000000000000000000000:2:0:1",
		T128 "0:2:0:1",       /* 33 digits */
		"1:" SPAN "0:0:1",    /* 17 digits */
		"1:2:" PAR "0:1",
		"::0:1", "1::0:1", "1:2::1", "1:2:0:",
		"x:2:0:1", "1:2:0:256", "1:2:0:1000", "1:2:0:-1",
		"1:2:0:1x", "1:2:0: 1",
		"1%3", "1%3A2%3A0%3", "1%zz2:0:1",
		"1%3A2%3A0%3A1%00",   /* decodes a NUL into the flags */
		"1;2;0;1",
		"000000000000000000000000000000000000000000000000000000000000"
		"000000000000000000000000000000000000000000000000000000000000"
		"00000000001:2:0:1", /* over the decode buffer */
	};
	run_invalid("uber-trace-id", v, N(v));
}

/* ---- robustness: mutated headers, values not NUL-terminated ---- */

struct exact {
	const char *name;
	char *val; /* malloc'd, exactly len bytes: ASan sees any over-read */
	size_t len;
};

static const char *exact_get(void *carrier, const char *name, size_t *len)
{
	struct exact *e = carrier;

	if (strcasecmp(e->name, name) != 0)
		return NULL;
	*len = e->len;
	return e->val;
}

static void test_mutated_headers(void **state)
{
	(void)state;
	static const char *const seeds[][2] = {
		{ "traceparent", TP("00", W3T, W3S, "01") },
		{ "traceparent", TP("cc", W3T, W3S, "01") "-x" },
		{ "tracestate", "a=1,b=2" },
		{ "b3", T128 "-" SPAN "-1-" PAR },
		{ "b3", "d" },
		{ "x-b3-traceid", T128 },
		{ "x-b3-sampled", "true" },
		{ "uber-trace-id", "abc%3Adef%3A0%3A1" },
		{ "uber-trace-id", T128 ":" SPAN ":" PAR ":3" },
	};
	static const char alphabet[] = "0123456789abcdefABCDEF-:%,= \tdgz\x7f";
	uint64_t x = 0x853c49e6748fea9bull; /* fixed seed: reproducible */

	for (int round = 0; round < 20000; round++) {
		const char *const *sd = seeds[(size_t)round % N(seeds)];
		size_t base = strlen(sd[1]);
		struct exact e = { sd[0], NULL, 0 };
		struct mixd_trace_context ctx;
		int rc;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		e.len = (size_t)(x % (base + 4));
		e.val = malloc(e.len ? e.len : 1);
		assert_non_null(e.val);
		for (size_t i = 0; i < e.len; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			e.val[i] = i < base && x % 8 ? sd[1][i]
				 : alphabet[x % (sizeof alphabet - 1)];
		}
		rc = mixd_tc_extract(exact_get, &e, MIXD_TC_ALL, &ctx);
		free(e.val);
		assert_true(rc == (int)MIXD_TC_NONE || rc == (int)MIXD_TC_W3C ||
			    rc == (int)MIXD_TC_B3_SINGLE ||
			    rc == (int)MIXD_TC_B3_MULTI ||
			    rc == (int)MIXD_TC_JAEGER);
		assert_true(ctx.sampled >= -1 && ctx.sampled <= 1);
		assert_true(ctx.tracestate_len <= MIXD_TC_TRACESTATE_MAX);
		if (ctx.has_ids) {
			static const uint8_t zero[16];
			assert_memory_not_equal(ctx.trace_id, zero, 16);
			assert_memory_not_equal(ctx.span_id, zero, 8);
		}
		if (ctx.debug)
			assert_int_equal(ctx.sampled, MIXD_SAMPLED_YES);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_traceparent_valid),
		cmocka_unit_test(test_traceparent_invalid),
		cmocka_unit_test(test_tracestate),
		cmocka_unit_test(test_b3_multi_valid),
		cmocka_unit_test(test_b3_multi_invalid),
		cmocka_unit_test(test_b3_single_valid),
		cmocka_unit_test(test_b3_single_invalid),
		cmocka_unit_test(test_jaeger_valid),
		cmocka_unit_test(test_jaeger_invalid),
		cmocka_unit_test(test_mutated_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
