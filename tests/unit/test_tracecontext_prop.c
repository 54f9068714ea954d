/*
 * test_tracecontext_prop.c - libmixd trace-context injection and
 * continuation (include/mixd/tracecontext.h): exact injected strings,
 * argument and setter errors, inject->extract round trips for every
 * format, 64-bit trace ids, sampling propagation (unsampled stays
 * unsampled, debug implies sampled, the rate decides deferred traces
 * consistently), and the id generator: never zero, distinct across
 * threads and across fork (the child's ids come back through a pipe).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tc_test_util.h"

/* ---- injection ---- */

static struct mixd_trace_context fixed_ctx(const char *trace32, int sampled,
					   bool debug)
{
	struct mixd_trace_context c;

	memset(&c, 0, sizeof c);
	set_id(c.trace_id, 16, trace32);
	set_id(c.span_id, 8, SPAN);
	set_id(c.parent_span_id, 8, PAR);
	c.has_ids = true;
	c.trace_id_128 = trace32[0] != '0' || trace32[15] != '0';
	c.sampled = sampled;
	c.debug = debug;
	return c;
}

static void test_inject_strings(void **state)
{
	(void)state;
	struct hset h;
	struct mixd_trace_context c = fixed_ctx(T128, YES, false);

	strcpy(c.tracestate, "congo=t61rcWkgMzE");
	c.tracestate_len = strlen(c.tracestate);
	c.random_trace_id = true;
	memset(&h, 0, sizeof h);
	assert_int_equal(mixd_tc_inject(&c, MIXD_TC_ALL, hs_set, &h), 0);
	assert_int_equal(h.n, 8);
	assert_string_equal(hs_value(&h, "traceparent"),
			    "00-" T128 "-" SPAN "-03");
	assert_string_equal(hs_value(&h, "tracestate"), "congo=t61rcWkgMzE");
	assert_string_equal(hs_value(&h, "b3"), T128 "-" SPAN "-1-" PAR);
	assert_string_equal(hs_value(&h, "x-b3-traceid"), T128);
	assert_string_equal(hs_value(&h, "x-b3-spanid"), SPAN);
	assert_string_equal(hs_value(&h, "x-b3-parentspanid"), PAR);
	assert_string_equal(hs_value(&h, "x-b3-sampled"), "1");
	assert_null(hs_value(&h, "x-b3-flags"));
	assert_string_equal(hs_value(&h, "uber-trace-id"),
			    T128 ":" SPAN ":" PAR ":1");

	/* 64-bit, debug, root: 16 digits in B3 and Jaeger, 32 in W3C */
	c = fixed_ctx(T64P, YES, true);
	memset(c.parent_span_id, 0, 8);
	memset(&h, 0, sizeof h);
	assert_int_equal(mixd_tc_inject(&c, MIXD_TC_ALL, hs_set, &h), 0);
	assert_int_equal(h.n, 6);
	assert_string_equal(hs_value(&h, "traceparent"),
			    "00-" T64P "-" SPAN "-01");
	assert_string_equal(hs_value(&h, "b3"), T64 "-" SPAN "-d");
	assert_string_equal(hs_value(&h, "x-b3-traceid"), T64);
	assert_string_equal(hs_value(&h, "x-b3-flags"), "1");
	assert_null(hs_value(&h, "x-b3-sampled"));
	assert_null(hs_value(&h, "x-b3-parentspanid"));
	assert_string_equal(hs_value(&h, "uber-trace-id"),
			    T64 ":" SPAN ":0:3");

	/* a 64-bit id marked 128 keeps 32 digits */
	c.trace_id_128 = true;
	memset(&h, 0, sizeof h);
	assert_int_equal(mixd_tc_inject(&c, MIXD_TC_B3_MULTI, hs_set, &h), 0);
	assert_string_equal(hs_value(&h, "x-b3-traceid"), T64P);

	/* deferred: no state, so no parent in b3; unsampled in W3C/Jaeger */
	c = fixed_ctx(T128, DEFER, false);
	memset(&h, 0, sizeof h);
	assert_int_equal(mixd_tc_inject(&c, MIXD_TC_ALL, hs_set, &h), 0);
	assert_string_equal(hs_value(&h, "b3"), T128 "-" SPAN);
	assert_null(hs_value(&h, "x-b3-sampled"));
	assert_string_equal(hs_value(&h, "traceparent"),
			    "00-" T128 "-" SPAN "-00");
	assert_string_equal(hs_value(&h, "uber-trace-id"),
			    T128 ":" SPAN ":" PAR ":0");

	/* a bare decision: only the B3 forms can carry it */
	memset(&c, 0, sizeof c);
	c.sampled = NO;
	memset(&h, 0, sizeof h);
	assert_int_equal(mixd_tc_inject(&c, MIXD_TC_ALL, hs_set, &h), 0);
	assert_int_equal(h.n, 2);
	assert_string_equal(hs_value(&h, "b3"), "0");
	assert_string_equal(hs_value(&h, "x-b3-sampled"), "0");
	c.sampled = DEFER;
	memset(&h, 0, sizeof h);
	assert_int_equal(mixd_tc_inject(&c, MIXD_TC_ALL, hs_set, &h), 0);
	assert_int_equal(h.n, 0);
}

static void test_api_errors(void **state)
{
	(void)state;
	struct hset h;
	struct mixd_trace_context c = fixed_ctx(T128, YES, false);
	const char *kv[] = { "traceparent", TP("00", W3T, W3S, "01"), "b3",
			     T128 "-" SPAN "-0", NULL };

	assert_int_equal(mixd_tc_extract(kv_get, kv, MIXD_TC_ALL, NULL),
			 MIXD_EINVAL);
	assert_int_equal(mixd_tc_extract(NULL, kv, MIXD_TC_ALL, &c),
			 MIXD_EINVAL);
	assert_false(c.has_ids); /* out is reset even then */
	assert_int_equal(mixd_tc_extract(kv_get, kv, 0, &c), MIXD_TC_NONE);
	/* the mask limits what is read */
	assert_int_equal(mixd_tc_extract(kv_get, kv, MIXD_TC_B3_SINGLE |
					 MIXD_TC_JAEGER, &c),
			 MIXD_TC_B3_SINGLE);
	assert_int_equal(c.sampled, NO);

	c = fixed_ctx(T128, YES, false);
	memset(&h, 0, sizeof h);
	assert_int_equal(mixd_tc_inject(NULL, MIXD_TC_ALL, hs_set, &h),
			 MIXD_EINVAL);
	assert_int_equal(mixd_tc_inject(&c, MIXD_TC_ALL, NULL, &h),
			 MIXD_EINVAL);
	c.tracestate_len = MIXD_TC_TRACESTATE_MAX + 1;
	assert_int_equal(mixd_tc_inject(&c, MIXD_TC_ALL, hs_set, &h),
			 MIXD_EINVAL);
	c.tracestate_len = 0;
	memset(c.span_id, 0, 8);
	assert_int_equal(mixd_tc_inject(&c, MIXD_TC_ALL, hs_set, &h),
			 MIXD_EINVAL);
	assert_int_equal(h.calls, 0);

	/* a failing setter stops injection and its code is returned */
	c = fixed_ctx(T128, YES, false);
	h.fail_on_call = 3;
	assert_int_equal(mixd_tc_inject(&c, MIXD_TC_ALL, hs_set, &h),
			 -ENOSPC);
	assert_int_equal(h.calls, 3);
	assert_int_equal(h.n, 2);

	assert_false(mixd_tc_is_sampled(NULL));
	mixd_tc_child(NULL, NULL, 1.0);
	mixd_tc_new_root(NULL, 1.0, true);
}

/* Injects ctx in one format, extracts it back, checks what survives. */
static void round_trip(const struct mixd_trace_context *c, unsigned fmt)
{
	struct hset h;
	struct mixd_trace_context back;
	int want_sampled = c->debug ? YES : c->sampled;
	bool want_debug = c->debug;

	memset(&h, 0, sizeof h);
	assert_int_equal(mixd_tc_inject(c, fmt, hs_set, &h), 0);
	assert_int_equal(mixd_tc_extract(hs_get, &h, MIXD_TC_ALL, &back),
			 (int)fmt);
	assert_true(back.has_ids);
	assert_memory_equal(back.trace_id, c->trace_id, 16);
	assert_memory_equal(back.span_id, c->span_id, 8);
	assert_int_equal(back.trace_id_128, c->trace_id_128);
	if (fmt == MIXD_TC_W3C) {
		/* no defer and no debug in W3C */
		want_sampled = mixd_tc_is_sampled(c) ? YES : NO;
		want_debug = false;
		assert_int_equal(back.random_trace_id, c->random_trace_id);
		assert_int_equal(back.tracestate_len, c->tracestate_len);
		assert_string_equal(back.tracestate, c->tracestate);
	} else if (fmt == MIXD_TC_JAEGER && want_sampled == DEFER) {
		want_sampled = NO;
	}
	assert_int_equal(back.sampled, want_sampled);
	assert_int_equal(back.debug, want_debug);
	if (fmt == MIXD_TC_W3C ||
	    (fmt == MIXD_TC_B3_SINGLE && c->sampled == DEFER && !c->debug))
		assert_true(back.parent_span_id[7] == 0 &&
			    back.parent_span_id[0] == 0);
	else
		assert_memory_equal(back.parent_span_id, c->parent_span_id, 8);
}

static void test_round_trips(void **state)
{
	(void)state;
	static const unsigned fmts[] = { MIXD_TC_W3C, MIXD_TC_B3_SINGLE,
					 MIXD_TC_B3_MULTI, MIXD_TC_JAEGER };
	static const int samp[] = { YES, NO, DEFER };

	for (int w = 0; w < 2; w++)
		for (size_t s = 0; s < N(samp); s++)
			for (int dbg = 0; dbg < 2; dbg++)
				for (size_t f = 0; f < N(fmts); f++) {
					struct mixd_trace_context root, kid;
					mixd_tc_new_root(&root, 1.0, w == 1);
					strcpy(root.tracestate, "a=1,b=2");
					root.tracestate_len = 7;
					root.sampled = samp[s];
					root.debug = dbg;
					round_trip(&root, fmts[f]);
					/* a child has a parent id too */
					mixd_tc_child(&root, &kid, 1.0);
					kid.sampled = samp[s];
					kid.debug = dbg;
					round_trip(&kid, fmts[f]);
				}
}

static void test_64bit_ids(void **state)
{
	(void)state;
	const char *kv[] = { "b3", T64 "-" SPAN "-1", NULL };
	struct mixd_trace_context in, kid;
	struct hset h;

	assert_int_equal(mixd_tc_extract(kv_get, kv, MIXD_TC_ALL, &in),
			 MIXD_TC_B3_SINGLE);
	assert_id(in.trace_id, 16, T64P);
	assert_false(in.trace_id_128);
	mixd_tc_child(&in, &kid, 0.0);
	memset(&h, 0, sizeof h);
	assert_int_equal(mixd_tc_inject(&kid, MIXD_TC_ALL, hs_set, &h), 0);
	assert_string_equal(hs_value(&h, "x-b3-traceid"), T64);
	assert_int_equal(strncmp(hs_value(&h, "b3"), T64 "-", 17), 0);
	assert_int_equal(strncmp(hs_value(&h, "uber-trace-id"), T64 ":", 17),
			 0);
	assert_int_equal(strncmp(hs_value(&h, "traceparent"),
				 "00-" T64P "-", 36), 0);
	/* the 64-bit trace still reads back as the same id everywhere */
	for (unsigned f = MIXD_TC_W3C; f <= MIXD_TC_JAEGER; f <<= 1)
		round_trip(&kid, f);

	/* a 64-bit root: zero upper half, non-zero lower half */
	for (int i = 0; i < 1000; i++) {
		static const uint8_t zero[8];
		mixd_tc_new_root(&in, 1.0, false);
		assert_memory_equal(in.trace_id, zero, 8);
		assert_memory_not_equal(in.trace_id + 8, zero, 8);
		assert_false(in.trace_id_128);
		memset(&h, 0, sizeof h);
		assert_int_equal(mixd_tc_inject(&in, MIXD_TC_B3_MULTI, hs_set,
						&h), 0);
		assert_int_equal(strlen(hs_value(&h, "x-b3-traceid")), 16);
	}
}

/* ---- sampling ---- */

static void test_sampling(void **state)
{
	(void)state;
	struct mixd_trace_context p, c, c2;
	const char *no[] = { "b3", T128 "-" SPAN "-0", NULL };
	const char *yes[] = { "X-B3-TraceId", T128, "X-B3-SpanId", SPAN,
			      "X-B3-Sampled", "1", NULL };
	const char *dbg[] = { "uber-trace-id", "1:2:0:2", NULL };
	const char *defer[] = { "b3", T128 "-" SPAN, NULL };
	const char *deny_only[] = { "b3", "0", NULL };
	const char *debug_only[] = { "x-b3-flags", "1", NULL };
	int hits = 0;

	/* an unsampled parent stays unsampled, whatever the rate */
	assert_int_equal(mixd_tc_extract(kv_get, no, MIXD_TC_ALL, &p),
			 MIXD_TC_B3_SINGLE);
	mixd_tc_child(&p, &c, 1.0);
	assert_int_equal(c.sampled, NO);
	assert_false(mixd_tc_is_sampled(&c));
	assert_memory_equal(c.trace_id, p.trace_id, 16);
	assert_memory_equal(c.parent_span_id, p.span_id, 8);
	assert_memory_not_equal(c.span_id, p.span_id, 8);
	/* ... and so does its grandchild */
	mixd_tc_child(&c, &c2, 1.0);
	assert_int_equal(c2.sampled, NO);
	assert_memory_equal(c2.parent_span_id, c.span_id, 8);

	/* a sampled parent stays sampled at rate 0 */
	assert_int_equal(mixd_tc_extract(kv_get, yes, MIXD_TC_ALL, &p),
			 MIXD_TC_B3_MULTI);
	mixd_tc_child(&p, &c, 0.0);
	assert_int_equal(c.sampled, YES);

	/* debug implies sampled, and is inherited */
	assert_int_equal(mixd_tc_extract(kv_get, dbg, MIXD_TC_ALL, &p),
			 MIXD_TC_JAEGER);
	mixd_tc_child(&p, &c, 0.0);
	assert_true(c.debug);
	assert_int_equal(c.sampled, YES);
	assert_true(mixd_tc_is_sampled(&c));

	/* a deferring parent: the rate decides */
	assert_int_equal(mixd_tc_extract(kv_get, defer, MIXD_TC_ALL, &p),
			 MIXD_TC_B3_SINGLE);
	mixd_tc_child(&p, &c, 1.0);
	assert_int_equal(c.sampled, YES);
	mixd_tc_child(&p, &c, 0.0);
	assert_int_equal(c.sampled, NO);
	mixd_tc_child(&p, &c, NAN);
	assert_int_equal(c.sampled, NO);
	/* ... the same way on every hop for one trace id */
	for (int i = 0; i < 200; i++) {
		mixd_tc_new_root(&p, 1.0, true);
		p.sampled = DEFER;
		mixd_tc_child(&p, &c, 0.5);
		mixd_tc_child(&p, &c2, 0.5);
		assert_int_equal(c.sampled, c2.sampled);
	}

	/* a sampling-only parent: new trace, decision kept */
	assert_int_equal(mixd_tc_extract(kv_get, deny_only, MIXD_TC_ALL, &p),
			 MIXD_TC_B3_SINGLE);
	mixd_tc_child(&p, &c, 1.0);
	assert_true(c.has_ids);
	assert_int_equal(c.sampled, NO);
	assert_true(c.parent_span_id[0] == 0 && c.parent_span_id[7] == 0);
	assert_int_equal(mixd_tc_extract(kv_get, debug_only, MIXD_TC_ALL,
					 &p), MIXD_TC_B3_MULTI);
	mixd_tc_child(&p, &c, 0.0);
	assert_true(c.has_ids && c.debug);
	assert_int_equal(c.sampled, YES);

	/* a parent claiming zero ids is no parent: a new trace */
	memset(&p, 0, sizeof p);
	p.has_ids = true;
	p.sampled = NO;
	mixd_tc_child(&p, &c, 1.0);
	assert_true(c.has_ids && c.trace_id_128);
	assert_true(c.trace_id[0] | c.trace_id[15]);
	assert_true(c.parent_span_id[0] == 0 && c.parent_span_id[7] == 0);
	assert_int_equal(c.sampled, NO);

	/* no parent at all: a new 128-bit trace decided by the rate */
	mixd_tc_child(NULL, &c, 1.0);
	assert_true(c.has_ids && c.trace_id_128 && c.random_trace_id);
	assert_int_equal(c.sampled, YES);
	assert_int_equal(c.tracestate_len, 0);

	/* the rate is honoured on average: 25 % of 20000 roots */
	for (int i = 0; i < 20000; i++) {
		mixd_tc_new_root(&c, 0.25, true);
		hits += c.sampled == YES;
		assert_true(c.sampled == YES || c.sampled == NO);
	}
	print_message("rate 0.25: %d of 20000\n", hits);
	assert_true(hits > 4500 && hits < 5500);

	/* the child may be the parent; tracestate is kept */
	{
		const char *kv[] = { "traceparent", TP("00", W3T, W3S, "03"),
				     "tracestate", "congo=t61rcWkgMzE", NULL };
		assert_int_equal(mixd_tc_extract(kv_get, kv, MIXD_TC_ALL, &p),
				 MIXD_TC_W3C);
		mixd_tc_child(&p, &p, 0.0);
		assert_id(p.trace_id, 16, W3T);
		assert_id(p.parent_span_id, 8, W3S);
		assert_int_equal(p.sampled, YES);
		assert_true(p.random_trace_id);
		assert_string_equal(p.tracestate, "congo=t61rcWkgMzE");
	}
}

/* ---- id generator ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t span_u64(void)
{
	uint8_t s[8];
	uint64_t v = 0;

	mixd_random_ids(NULL, s);
	for (int i = 0; i < 8; i++)
		v = v << 8 | s[i];
	return v;
}

static void test_ids_never_zero(void **state)
{
	(void)state;
	static const uint8_t zero[16];
	uint8_t t[16], s[8];
	unsigned ones = 0;

	for (int i = 0; i < 100000; i++) {
		mixd_random_ids(t, s);
		assert_memory_not_equal(t, zero, 16);
		assert_memory_not_equal(s, zero, 8);
		ones += (unsigned)__builtin_popcountll(mixd_random_u64());
	}
	/* about 32 bits set per word */
	assert_true(ones > 100000u * 31 && ones < 100000u * 33);
	mixd_random_ids(NULL, NULL);
}

#define THREADS 4
#define PER_THREAD 5000

static void *thread_ids(void *arg)
{
	uint64_t *out = arg;

	for (int i = 0; i < PER_THREAD; i++)
		out[i] = span_u64();
	return NULL;
}

static void test_ids_distinct_across_threads(void **state)
{
	(void)state;
	static uint64_t ids[THREADS * PER_THREAD];
	pthread_t th[THREADS];

	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, thread_ids,
						ids + i * PER_THREAD), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	qsort(ids, N(ids), sizeof ids[0], cmp_u64);
	for (size_t i = 1; i < N(ids); i++)
		assert_true(ids[i] != ids[i - 1]);
}

#define FORK_IDS 64

static void test_ids_distinct_across_fork(void **state)
{
	(void)state;
	uint64_t mine[2 * FORK_IDS], theirs[2 * FORK_IDS];
	int fds[2];
	pid_t pid;
	int status;
	size_t got = 0;

	(void)span_u64(); /* seed this thread before forking */
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint64_t v[FORK_IDS];
		size_t off = 0;
		close(fds[0]);
		for (int i = 0; i < FORK_IDS; i++)
			v[i] = span_u64();
		while (off < sizeof v) {
			ssize_t w = write(fds[1], (char *)v + off,
					  sizeof v - off);
			if (w <= 0)
				_exit(1);
			off += (size_t)w;
		}
		_exit(0);
	}
	close(fds[1]);
	for (int i = 0; i < FORK_IDS; i++)
		mine[i] = span_u64();
	while (got < FORK_IDS * sizeof(uint64_t)) {
		ssize_t r = read(fds[0], (char *)theirs + got,
				 FORK_IDS * sizeof(uint64_t) - got);
		assert_true(r > 0);
		got += (size_t)r;
	}
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* without a re-seed the child would replay the parent's stream */
	memcpy(mine + FORK_IDS, theirs, FORK_IDS * sizeof(uint64_t));
	qsort(mine, 2 * FORK_IDS, sizeof mine[0], cmp_u64);
	for (size_t i = 1; i < 2 * FORK_IDS; i++)
		assert_true(mine[i] != mine[i - 1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inject_strings),
		cmocka_unit_test(test_api_errors),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_64bit_ids),
		cmocka_unit_test(test_sampling),
		cmocka_unit_test(test_ids_never_zero),
		cmocka_unit_test(test_ids_distinct_across_threads),
		cmocka_unit_test(test_ids_distinct_across_fork),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
