/*
 * test_reporter_exemplar.c - the exemplars of libmixd's reports: what
 * mixd_record_request_traced() and mixd_record_traced() put in fields 9-12
 * of each RequestDelta, decoded with mixd's own decoder (mx_report_decode,
 * codec/report.h) from the bodies the harness receiver kept
 * (reporter_harness.h):
 *  - per series, the latest traced record wins; trace id, span id (absent
 *    when none was given), duration in ms and the time of the call; a zero
 *    or NULL trace id records without exemplar; the overflow series and the
 *    label-cache call carry theirs; bad handles are counted as dropped;
 *  - several recording threads (own shards, and the shared shard past
 *    max_threads): the newest exemplar across shards wins, whichever shard
 *    holds it;
 *  - the receiver down while recording continues: the report in flight
 *    keeps its exemplar, the intervals merged meanwhile keep the most
 *    recent one, across threads;
 *  - an exemplar is shipped once; one collected after its request's
 *    counts (white-box: the slot written directly, reporter/reporter.h)
 *    still goes out, in a delta of count 0.
 * Every wait polls with a bound; no timing is asserted (the exemplar time
 * is only checked to lie between clock reads taken around the call).
 */
#include "mixd/mixd.h"
#include "reporter/reporter.h"
#include "reporter_harness.h"
#include "report_test_util.h"

#include <time.h>

static struct hx *hstart(void)
{
	struct hx *h = hx_start();

	if (!h) {
		fail_msg("cannot start the harness receiver");
		abort();
	}
	return h;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct mixd_reporter *mk(const char *url, uint32_t interval_ms, uint32_t max_threads)
{
	struct mixd_config cfg;
	struct mixd_reporter *r = NULL;

	mixd_config_init(&cfg);
	cfg.url = url;
	cfg.flush_interval_ms = interval_ms;
	cfg.retry_initial_ms = 20;
	cfg.retry_max_ms = 200;
	cfg.request_timeout_ms = 2000;
	cfg.connect_timeout_ms = 2000;
	cfg.max_series = 3;
	if (max_threads)
		cfg.max_threads = max_threads;
	cfg.local.workload = "me-v1";
	assert_int_equal(mixd_reporter_new(&cfg, &r), MIXD_OK);
	return r;
}

static void labels(struct mixd_series_labels *l, const char *peer)
{
	memset(l, 0, sizeof(*l));
	l->role = MIXD_ROLE_DESTINATION;
	l->peer.workload = peer;
	l->destination_service_name = "server";
	l->request_protocol = "http";
	l->response_code = 200;
}

static uint32_t bind1(struct mixd_reporter *r, const char *peer)
{
	struct mixd_series_labels l;
	uint32_t s = 99;

	labels(&l, peer);
	assert_int_equal(mixd_series_bind(r, &l, &s), MIXD_OK);
	return s;
}

/* A distinct non-zero id: every byte `b`. */
static void id(uint8_t *p, size_t n, uint8_t b)
{
	memset(p, b, n);
}

static int str_is(struct mx_str s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/* The request delta of peer workload `peer` ("" = the overflow series);
 * NULL when the report has none. */
static const struct mx_request_agg *req_of(const struct mx_report *rep, const char *peer)
{
	for (uint32_t i = 0; i < rep->n_requests; i++) {
		const struct mx_request_agg *a = &rep->requests[i];
		if (*peer ? !a->labels.overflow && str_is(a->labels.peer.workload, peer)
			  : a->labels.overflow)
			return a;
	}
	return NULL;
}

static const struct mx_request_agg *need_req(const struct mx_report *rep, const char *peer)
{
	const struct mx_request_agg *a = req_of(rep, peer);

	if (!a) {
		fail_msg("no request delta for '%s' in report %llu", peer,
			 (unsigned long long)rep->sequence);
		abort();
	}
	return a;
}

/* Decodes the harness' request `i` (gunzipped body) with mixd's decoder. */
static struct mx_report *decode_req(struct hx *h, size_t i, struct mx_batch **bt)
{
	struct mx_report *rep = NULL;
	struct mx_errmsg err;

	pthread_mutex_lock(&h->mu);
	assert_true(i < h->n);
	assert_non_null(h->reqs[i].body);
	int rc = rt_decode(h->reqs[i].body, h->reqs[i].len, bt, &rep, &err);
	pthread_mutex_unlock(&h->mu);
	if (rc != MX_OK)
		fail_msg("report %zu does not decode: %s", i, err.text);
	assert_non_null(rep);
	return rep;
}

static void assert_exemplar(const struct mx_request_agg *a, uint8_t tid, uint8_t sid, double ms,
			    uint64_t t0, uint64_t t1)
{
	uint8_t want[16];

	assert_true(a->has_exemplar);
	id(want, 16, tid);
	assert_memory_equal(a->exemplar.trace_id, want, 16);
	id(want, 8, sid);
	assert_memory_equal(a->exemplar.span_id, want, 8); /* sid 0: none sent */
	assert_true(a->exemplar.value == ms);
	assert_true(a->exemplar.time_ns >= t0);
	assert_true(a->exemplar.time_ns <= t1);
}

static void test_latest_wins_and_fields(void **state)
{
	struct hx *h = hstart();
	struct mixd_reporter *r;
	struct mixd_series_labels l;
	struct mixd_stats st;
	struct mx_batch *bt;
	uint8_t tid[16], sid[8], zero[16] = { 0 };
	uint64_t t0, t1, t2, t3, t4;

	(void)state;
	/* a long interval: close ships everything as one report */
	r = mk(h->url, 60000, 0);
	uint32_t a = bind1(r, "a"), b = bind1(r, "b"), c = bind1(r, "c");
	assert_int_equal(bind1(r, "d"), MIXD_SERIES_OVERFLOW); /* max_series 3 */

	/* bad arguments: dropped and counted, like mixd_record_request() */
	id(tid, 16, 0x11);
	id(sid, 8, 0x22);
	assert_int_equal(mixd_record_request_traced(NULL, a, 1, 1, 1, tid, sid), MIXD_EINVAL);
	assert_int_equal(mixd_record_request_traced(r, 77, 1, 1, 1, tid, sid), MIXD_EINVAL);
	assert_int_equal(mixd_record_traced(r, NULL, 1, 1, 1, tid, sid), MIXD_EINVAL);
	mixd_reporter_stats(r, &st);
	assert_int_equal(st.records_dropped, 2);

	/* a: plain, traced, traced (the latest wins), plain again */
	assert_int_equal(mixd_record_request(r, a, 3, 100, 100), MIXD_OK);
	assert_int_equal(mixd_record_request_traced(r, a, 7, 100, 100, tid, sid), MIXD_OK);
	id(tid, 16, 0x33);
	id(sid, 8, 0x44);
	t0 = wall_ns();
	assert_int_equal(mixd_record_request_traced(r, a, 120, 100, 100, tid, sid), MIXD_OK);
	t1 = wall_ns();
	assert_int_equal(mixd_record_request(r, a, 2, 100, 100), MIXD_OK);
	/* b: a zero and a NULL trace id record without exemplar */
	assert_int_equal(mixd_record_request_traced(r, b, 5, 1, 1, zero, sid), MIXD_OK);
	assert_int_equal(mixd_record_request_traced(r, b, 5, 1, 1, NULL, sid), MIXD_OK);
	/* c: no span id; a duration of 0 ms */
	id(tid, 16, 0x55);
	t2 = wall_ns();
	assert_int_equal(mixd_record_request_traced(r, c, 0, 1, 1, tid, NULL), MIXD_OK);
	t3 = wall_ns();
	/* the overflow series, through the label cache */
	labels(&l, "d");
	id(tid, 16, 0x66);
	id(sid, 8, 0x77);
	assert_int_equal(mixd_record_traced(r, &l, 2500, 1, 1, tid, sid), MIXD_OK);
	labels(&l, "e");
	id(tid, 16, 0x88);
	assert_int_equal(mixd_record_traced(r, &l, 30, 1, 1, tid, sid), MIXD_OK);
	t4 = wall_ns();

	assert_int_equal(mixd_reporter_start(r), MIXD_OK);
	assert_int_equal(mixd_reporter_close(r, 5000), MIXD_OK);
	assert_int_equal(hx_count(h), 1);
	struct mx_report *rep = decode_req(h, 0, &bt);

	const struct mx_request_agg *x = need_req(rep, "a");
	assert_int_equal(x->count, 4);
	assert_true(x->duration.sum == 132);
	assert_exemplar(x, 0x33, 0x44, 120, t0, t1);
	x = need_req(rep, "b");
	assert_int_equal(x->count, 2);
	assert_false(x->has_exemplar);
	x = need_req(rep, "c");
	assert_int_equal(x->count, 1);
	assert_exemplar(x, 0x55, 0, 0, t2, t3);
	x = need_req(rep, ""); /* overflow: d then e, e is the latest */
	assert_int_equal(x->count, 2);
	assert_exemplar(x, 0x88, 0x77, 30, t3, t4);
	mx_batch_free(bt);
	hx_stop(h);
}

/* ---- several threads ---- */

struct rec_arg {
	struct mixd_reporter *r;
	uint32_t series;
	uint8_t tid;
	uint64_t t0, t1;
};

static void *rec_thread(void *p)
{
	struct rec_arg *a = p;
	uint8_t tid[16], sid[8];

	id(tid, 16, a->tid);
	id(sid, 8, a->tid);
	a->t0 = wall_ns();
	if (mixd_record_request_traced(a->r, a->series, a->tid, 1, 1, tid, sid) != MIXD_OK)
		a->t0 = 0;
	a->t1 = wall_ns();
	return NULL;
}

/* Records on a new thread and joins it (the thread's shard is released at
 * its exit but keeps its cells, exemplar included). */
static void on_thread(struct rec_arg *a)
{
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, rec_thread, a), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(a->t0 != 0);
}

static void on_main(struct rec_arg *a)
{
	rec_thread(a);
	assert_true(a->t0 != 0);
}

/* The newest exemplar wins across shards, in either order; with
 * max_threads 1 the second thread records in the shared shard. */
static void threads_case(uint32_t max_threads)
{
	struct hx *h = hstart();
	struct mx_batch *bt;

	for (int order = 0; order < 2; order++) {
		struct mixd_reporter *r = mk(h->url, 60000, max_threads);
		uint32_t s = bind1(r, "a");
		struct rec_arg m = { r, s, 0x10, 0, 0 }, o = { r, s, 0x20, 0, 0 };
		struct rec_arg *last = order ? &m : &o;

		/* the main thread registers its shard first in both orders */
		assert_int_equal(mixd_record_request(r, s, 1, 1, 1), MIXD_OK);
		if (order == 0) {
			on_main(&m);
			on_thread(&o);
		} else {
			on_thread(&o);
			on_main(&m);
		}
		assert_int_equal(mixd_reporter_start(r), MIXD_OK);
		size_t before = hx_count(h);
		assert_int_equal(mixd_reporter_close(r, 5000), MIXD_OK);
		assert_int_equal(hx_count(h), before + 1);
		struct mx_report *rep = decode_req(h, before, &bt);
		const struct mx_request_agg *x = need_req(rep, "a");
		assert_int_equal(x->count, 3);
		assert_exemplar(x, last->tid, last->tid, last->tid, last->t0, last->t1);
		mx_batch_free(bt);
	}
	hx_stop(h);
}

static void test_threads_own_shards(void **state)
{
	(void)state;
	threads_case(0);
}

static void test_threads_shared_shard(void **state)
{
	(void)state;
	threads_case(1);
}

/* ---- the receiver down: merged intervals ---- */

/* Polls (bounded) until reports_retried reaches `n`. */
static void wait_retried(struct mixd_reporter *r, struct hx *h, uint64_t n)
{
	uint64_t until = hx_now_ms() + 20000;
	struct mixd_stats st;

	for (;;) {
		mixd_reporter_stats(r, &st);
		if (st.reports_retried >= n)
			return;
		if (hx_now_ms() > until) {
			fail_msg("reports_retried stayed at %llu (want %llu)",
				 (unsigned long long)st.reports_retried, (unsigned long long)n);
			abort();
		}
		hx_wait(h, SIZE_MAX, 10); /* a bounded 10 ms wait: nothing arrives */
	}
}

static uint64_t retried(struct mixd_reporter *r)
{
	struct mixd_stats st;

	mixd_reporter_stats(r, &st);
	return st.reports_retried;
}

static void test_merge_while_down(void **state)
{
	struct hx *h = hstart();
	struct mx_batch *bt;
	struct rec_arg a1, a2, a3;
	uint64_t total = 0;

	(void)state;
	assert_int_equal(hx_set_mode(h, HX_DOWN), 0);
	struct mixd_reporter *r = mk(h->url, 50, 0);
	uint32_t s = bind1(r, "a"), s2 = bind1(r, "b");

	/* report 1: exemplar 0x10 (recorded before start: the first
	 * collection sees all of it); it is built, fails and is retried */
	a1 = (struct rec_arg){ r, s, 0x10, 0, 0 };
	on_main(&a1);
	total++;
	assert_int_equal(mixd_reporter_start(r), MIXD_OK);
	/* past 5 failures the backoff is at least 100 ms, above the 50 ms
	 * interval: two more retries mean a collection in between */
	wait_retried(r, h, 5);
	/* merged into report 2: 0x20 from another thread, collected ... */
	a2 = (struct rec_arg){ r, s, 0x20, 0, 0 };
	on_thread(&a2);
	total++;
	wait_retried(r, h, retried(r) + 2);
	/* ... then replaced by the newer 0x30 of the main thread, collected
	 * in a later interval; plain records after it keep it */
	a3 = (struct rec_arg){ r, s, 0x30, 0, 0 };
	on_main(&a3);
	total++;
	for (int i = 0; i < 10; i++, total++)
		mixd_record_request(r, s, 4, 1, 1);
	mixd_record_request(r, s2, 4, 1, 1); /* b: never traced */
	wait_retried(r, h, retried(r) + 2);
	for (int i = 0; i < 5; i++, total++)
		mixd_record_request(r, s, 4, 1, 1);

	assert_int_equal(hx_set_mode(h, HX_OK), 0);
	assert_int_equal(mixd_reporter_close(r, 10000), MIXD_OK);

	/* every body answered 200, once per sequence */
	size_t n = hx_count(h);
	int seen[3] = { 0 };
	uint64_t count = 0;
	for (size_t i = 0; i < n; i++) {
		if (h->reqs[i].status != 200)
			continue;
		struct mx_report *rep = decode_req(h, i, &bt);
		assert_true(rep->sequence >= 1 && rep->sequence <= 2);
		assert_false(seen[rep->sequence]);
		seen[rep->sequence] = 1;
		const struct mx_request_agg *x = need_req(rep, "a");
		count += x->count;
		if (rep->sequence == 1) {
			assert_int_equal(x->count, 1);
			assert_exemplar(x, 0x10, 0x10, 0x10, a1.t0, a1.t1);
		} else {
			assert_exemplar(x, 0x30, 0x30, 0x30, a3.t0, a3.t1);
			assert_false(need_req(rep, "b")->has_exemplar);
		}
		mx_batch_free(bt);
	}
	assert_true(seen[1] && seen[2]);
	assert_int_equal(count, total);
	hx_stop(h);
}

/* ---- one report each ---- */

/* Polls (bounded) until the harness holds a report with a request delta
 * for `peer`; returns the index of the first such request at or after
 * *from, and moves *from past it. */
static size_t wait_delta(struct hx *h, size_t *from, const char *peer)
{
	uint64_t until = hx_now_ms() + 10000;
	struct mx_batch *bt;

	for (;;) {
		for (; *from < hx_count(h); (*from)++) {
			struct mx_report *rep = decode_req(h, *from, &bt);
			int has = req_of(rep, peer) != NULL;
			mx_batch_free(bt);
			if (has)
				return (*from)++;
		}
		if (hx_now_ms() > until) {
			fail_msg("no report with a delta for '%s'", peer);
			abort();
		}
		hx_wait(h, *from + 1, 100);
	}
}

/* An exemplar goes in one report only: later deltas of the series carry
 * none until a new traced record. */
static void test_not_repeated(void **state)
{
	struct hx *h = hstart();
	struct mx_batch *bt;
	struct rec_arg a1;
	size_t from = 0, i;

	(void)state;
	struct mixd_reporter *r = mk(h->url, 50, 0);
	uint32_t s = bind1(r, "a");
	a1 = (struct rec_arg){ r, s, 0x10, 0, 0 };
	on_main(&a1); /* before start: the first report holds all of it */
	assert_int_equal(mixd_reporter_start(r), MIXD_OK);
	i = wait_delta(h, &from, "a");
	struct mx_report *rep = decode_req(h, i, &bt);
	assert_exemplar(need_req(rep, "a"), 0x10, 0x10, 0x10, a1.t0, a1.t1);
	mx_batch_free(bt);
	mixd_record_request(r, s, 1, 1, 1);
	i = wait_delta(h, &from, "a");
	rep = decode_req(h, i, &bt);
	assert_int_equal(need_req(rep, "a")->count, 1);
	assert_false(need_req(rep, "a")->has_exemplar);
	mx_batch_free(bt);
	assert_int_equal(mixd_reporter_close(r, 5000), MIXD_OK);
	hx_stop(h);
}

/* White-box: an exemplar collected after the counts of its request were
 * shipped (the record raced a collection) still goes out, in a delta of
 * count 0. The slot is written directly, as the record would have. */
static void test_exemplar_only_delta(void **state)
{
	struct hx *h = hstart();
	struct mx_batch *bt;
	size_t from = 0, i;
	uint64_t w[MXR_NX];

	(void)state;
	struct mixd_reporter *r = mk(h->url, 50, 0);
	uint32_t s = bind1(r, "a");
	mixd_record_request(r, s, 1, 1, 1); /* registers this thread's shard */
	assert_int_equal(mixd_reporter_start(r), MIXD_OK);
	i = wait_delta(h, &from, "a");
	struct mx_report *rep = decode_req(h, i, &bt);
	assert_int_equal(need_req(rep, "a")->count, 1);
	assert_false(need_req(rep, "a")->has_exemplar);
	mx_batch_free(bt);

	struct mxr_shard *sh = r->shards[atomic_load(&r->nshards) - 1];
	struct mxr_chunk *ch = atomic_load(&sh->chunks[s >> MXR_CHUNK_SHIFT]);
	memset(w, 0x5a, sizeof(w));
	w[MXR_X_DUR] = 42;
	uint64_t t0 = wall_ns();
	w[MXR_X_TIME] = t0;
	mxr_exslot_put(&ch->cell[s & (MXR_CHUNK - 1)].ex, w, 0);
	assert_int_equal(mixd_reporter_close(r, 5000), MIXD_OK);
	i = wait_delta(h, &from, "a");
	rep = decode_req(h, i, &bt);
	const struct mx_request_agg *x = need_req(rep, "a");
	assert_int_equal(x->count, 0);
	assert_exemplar(x, 0x5a, 0x5a, 42, t0, t0);
	mx_batch_free(bt);
	hx_stop(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_latest_wins_and_fields),
		cmocka_unit_test(test_threads_own_shards),
		cmocka_unit_test(test_threads_shared_shard),
		cmocka_unit_test(test_merge_while_down),
		cmocka_unit_test(test_not_repeated),
		cmocka_unit_test(test_exemplar_only_delta),
	};
	return cmocka_run_group_tests(tests, rt_setup, NULL);
}
