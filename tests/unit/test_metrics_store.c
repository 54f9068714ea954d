/*
 * test_metrics_store.c - the metrics half of the store (storage/metrics.h)
 * with real reports through a real store: exactly-once by (instance,
 * sequence), spans of a report stored once, cumulative values surviving a
 * reopen, exemplars, idle series hidden and brought back with their
 * values, the cardinality guard's overflow series, rollup windows and
 * their downsampling and retention. The clock is injected.
 */
#include "report_test_util.h"
#include "store_test_util.h"

#include "storage/metrics.h"

#define SEC 1000000000ull
#define T0 (1700000400ull * SEC) /* a 10 minute boundary */

static struct tu_fixture *fx;

static int setup(void **state)
{
	rt_setup(state);
	atomic_store(&tu_now, T0 + 1 * SEC);
	fx = tu_fixture_new("/tmp/mixd-mstore-XXXXXX");
	assert_non_null(fx);
	fx->cfg.now_ns = tu_clock;
	fx->cfg.retention_ns = 72ull * 3600 * SEC;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_fixture_free(fx);
	fx = NULL;
	return 0;
}

/* Submits the report of `b` and waits for its commit. */
static void submit(struct rt_builder *b)
{
	size_t n;
	uint8_t *p = rt_pack(b, &n);
	struct mx_batch *batch;
	struct mx_report *rep;
	struct mx_errmsg err;
	struct tu_acks acks = TU_ACKS_INIT;
	assert_int_equal(rt_decode(p, n, &batch, &rep, &err), MX_OK);
	free(p);
	assert_int_equal(mx_store_submit_report(fx->st, batch, rep, tu_ack_cb, &acks), MX_OK);
	assert_true(tu_acks_wait(&acks, 1, 10));
	assert_int_equal(acks.last_status, MX_OK);
}

/* The snapshot's series of a kind (the first); fails the test when
 * there is none. */
static const struct mx_istio_series *find(const struct mx_metrics_snap *s,
					  uint8_t kind)
{
	static const struct mx_istio_series none;
	for (size_t i = 0; i < s->n; i++)
		if (s->series[i].kind == kind)
			return &s->series[i];
	fail_msg("no series of kind %u", kind);
	return &none;
}

static uint32_t spans_of_trace(const uint8_t tid[16])
{
	struct mx_batch *b = NULL;
	int rc = mx_store_get_trace(fx->st, tid, false, 1000, &b);
	uint32_t n = rc == MX_OK ? b->n_spans : 0;
	mx_batch_free(b);
	return n;
}

static void test_applied_exactly_once(void **state)
{
	(void)state;
	struct rt_builder b;
	struct mx_metrics_snap s;
	struct mx_metrics_stats ms;
	tu_open_store(fx);
	rt_build(&b);
	submit(&b);
	submit(&b); /* a retry: same instance, same sequence */
	b.r.sequence = 41; /* older: also not applied */
	submit(&b);

	assert_int_equal(mx_store_metrics_snapshot(fx->st, 0, &s), MX_OK);
	assert_int_equal(s.n, 2);
	const struct mx_istio_series *h = find(&s, MX_ISTIO_HTTP);
	const struct mx_istio_series *t = find(&s, MX_ISTIO_TCP);
	assert_int_equal(h->count, 3);
	assert_int_equal(h->duration.buckets[2], 1);
	assert_int_equal(h->duration.buckets[7], 1);
	assert_true(h->duration.sum == 130);
	assert_true(h->response_bytes.sum == 70620);
	rt_assert_str(h->labels[0], "source");
	rt_assert_str(h->labels[1], "productpage-v1");
	rt_assert_str(h->labels[21], "200");
	assert_true(h->has_exemplar);
	assert_int_equal(h->exemplar.trace_id[0], 1);
	assert_true(h->exemplar.value == 7);
	assert_int_equal(t->tcp_opened, 5);
	assert_int_equal(t->tcp_sent, 1234);
	assert_int_equal(t->tcp_received, 5678);
	rt_assert_str(t->labels[0], "destination");
	mx_metrics_snap_free(&s);
	/* the report's one valid span is stored once */
	assert_int_equal(spans_of_trace(b.tid), 1);

	b.r.sequence = 43;
	b.sid[0] = 0x99; /* another span of the same trace */
	submit(&b);
	assert_int_equal(mx_store_metrics_snapshot(fx->st, 0, &s), MX_OK);
	assert_int_equal(find(&s, MX_ISTIO_HTTP)->count, 6);
	assert_int_equal(find(&s, MX_ISTIO_TCP)->tcp_closed, 8);
	mx_metrics_snap_free(&s);
	assert_int_equal(spans_of_trace(b.tid), 2);

	mx_store_metrics_stats(fx->st, &ms);
	assert_int_equal(ms.reports_applied, 2);
	assert_int_equal(ms.reports_duplicate, 2);
	assert_int_equal(ms.updates_applied, 4);
	assert_int_equal(ms.series_active, 2);
	assert_int_equal(ms.series_created, 2);
	assert_int_equal(ms.reporter_dropped_spans, 14);
}

static void test_counters_survive_reopen(void **state)
{
	(void)state;
	struct rt_builder b;
	struct mx_metrics_snap s;
	tu_open_store(fx);
	rt_build(&b);
	submit(&b);
	mx_store_close(fx->st);
	fx->st = NULL;

	tu_open_store(fx);
	assert_int_equal(mx_store_metrics_snapshot(fx->st, 0, &s), MX_OK);
	assert_int_equal(s.n, 2);
	assert_int_equal(find(&s, MX_ISTIO_HTTP)->count, 3);
	mx_metrics_snap_free(&s);
	submit(&b); /* the sequence is remembered across the restart */
	b.r.sequence = 43;
	submit(&b);
	assert_int_equal(mx_store_metrics_snapshot(fx->st, 0, &s), MX_OK);
	assert_int_equal(find(&s, MX_ISTIO_HTTP)->count, 6);
	assert_int_equal(find(&s, MX_ISTIO_TCP)->tcp_opened, 10);
	mx_metrics_snap_free(&s);
}

static void test_idle_series_hidden_and_resumed(void **state)
{
	(void)state;
	struct rt_builder b;
	struct mx_metrics_snap s;
	struct mx_metrics_stats ms;
	fx->cfg.metrics_idle_ns = 600 * SEC;
	tu_open_store(fx);
	rt_build(&b);
	submit(&b);

	atomic_store(&tu_now, T0 + 700 * SEC);
	assert_int_equal(mx_store_metrics_snapshot(fx->st, 0, &s), MX_OK);
	assert_int_equal(s.n, 0); /* idle: not shown */
	mx_metrics_snap_free(&s);
	assert_int_equal(mx_store_sweep(fx->st), MX_OK); /* drops them */
	mx_store_metrics_stats(fx->st, &ms);
	assert_int_equal(ms.series_active, 0);
	assert_int_equal(ms.series_idle_dropped, 2);

	/* back: the counter continues from its stored value */
	b.r.sequence = 43;
	b.r.n_tcp = 0;
	submit(&b);
	assert_int_equal(mx_store_metrics_snapshot(fx->st, 0, &s), MX_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.series[0].count, 6);
	mx_metrics_snap_free(&s);
	mx_store_metrics_stats(fx->st, &ms);
	assert_int_equal(ms.series_reloaded, 1);
	assert_int_equal(ms.series_active, 1);
}

static void test_overflow_series(void **state)
{
	(void)state;
	struct rt_builder b;
	struct mx_metrics_snap s;
	struct mx_metrics_stats ms;
	fx->cfg.metrics_max_series = 1;
	tu_open_store(fx);
	rt_build(&b);
	submit(&b); /* HTTP series made, TCP one folded */
	b.r.sequence = 43;
	b.ser[0].response_code = 503; /* a new label set: folded too */
	submit(&b);

	mx_store_metrics_stats(fx->st, &ms);
	assert_int_equal(ms.overflow_updates, 3);
	assert_int_equal(ms.series_created, 3); /* 1 + 2 overflow series */
	assert_int_equal(mx_store_metrics_snapshot(fx->st, 0, &s), MX_OK);
	assert_int_equal(s.n, 3);
	uint64_t tcp_opened = 0, n503 = 0;
	for (size_t i = 0; i < s.n; i++) {
		const struct mx_istio_series *x = &s.series[i];
		if (x->kind == MX_ISTIO_TCP) {
			tcp_opened += x->tcp_opened;
			rt_assert_str(x->labels[0], "destination");
			rt_assert_str(x->labels[1], "unknown");
		} else if (x->labels[21].len == 3 && !memcmp(x->labels[21].ptr, "503", 3)) {
			n503 += x->count;
			rt_assert_str(x->labels[9], "unknown"); /* destination_workload */
			rt_assert_str(x->labels[0], "source");
		}
	}
	assert_int_equal(tcp_opened, 10);
	assert_int_equal(n503, 3);
	mx_metrics_snap_free(&s);
}

struct win {
	int n;
	struct mx_rollup_series http;
};

static int win_fn(void *ctx, const struct mx_rollup_series *s)
{
	struct win *w = ctx;
	w->n++;
	if (s->kind == MX_ISTIO_HTTP)
		w->http = *s;
	return 0;
}

static void test_rollup_windows(void **state)
{
	(void)state;
	struct rt_builder b;
	struct win w;
	tu_open_store(fx);
	rt_build(&b);
	b.r.n_tcp = 0;
	/* 3 requests at T0+1 s, 3 more at T0+25 s, 3 more at T0+62 s */
	submit(&b);
	atomic_store(&tu_now, T0 + 25 * SEC);
	b.r.sequence = 43;
	submit(&b);
	atomic_store(&tu_now, T0 + 62 * SEC);
	b.r.sequence = 44;
	submit(&b);

	memset(&w, 0, sizeof(w));
	assert_int_equal(mx_store_rollup_window(fx->st, T0 + 10 * SEC, T0 + 60 * SEC,
						win_fn, &w), MX_OK);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.http.at_start.count, 3);
	assert_int_equal(w.http.at_end.count, 6);
	assert_int_equal(w.http.at_end.duration[7], 2);
	assert_true(w.http.at_end.duration_sum == 260);
	rt_assert_str(w.http.labels[1], "productpage-v1");

	memset(&w, 0, sizeof(w));
	assert_int_equal(mx_store_rollup_window(fx->st, T0, T0 + 70 * SEC,
						win_fn, &w), MX_OK);
	assert_int_equal(w.http.at_start.count, 0); /* did not exist yet */
	assert_int_equal(w.http.at_end.count, 9);

	/* a window after the last change does not list the series */
	memset(&w, 0, sizeof(w));
	assert_int_equal(mx_store_rollup_window(fx->st, T0 + 70 * SEC, T0 + 90 * SEC,
						win_fn, &w), MX_OK);
	assert_int_equal(w.n, 0);
}

/* The row of a bucket a series leaves is written by the first commit in a
 * later bucket, also when the series comes from LMDB: after a restart and
 * after it was dropped from memory while idle. */
static void test_rollup_rows_across_restart_and_idle(void **state)
{
	(void)state;
	struct rt_builder b;
	struct win w;
	fx->cfg.metrics_idle_ns = 600 * SEC;
	tu_open_store(fx);
	rt_build(&b);
	b.r.n_tcp = 0;
	submit(&b); /* 3 requests in bucket 0 */
	mx_store_close(fx->st);
	fx->st = NULL;
	tu_open_store(fx);
	atomic_store(&tu_now, T0 + 25 * SEC);
	b.r.sequence = 43;
	submit(&b); /* 6 in bucket 2 */
	/* idle and dropped from memory, back at T0 + 1000 s */
	atomic_store(&tu_now, T0 + 700 * SEC);
	assert_int_equal(mx_store_sweep(fx->st), MX_OK);
	atomic_store(&tu_now, T0 + 1000 * SEC);
	b.r.sequence = 44;
	submit(&b); /* 9 in bucket 100 */

	memset(&w, 0, sizeof(w));
	assert_int_equal(mx_store_rollup_window(fx->st, T0 + 10 * SEC, T0 + 30 * SEC,
						win_fn, &w), MX_OK);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.http.at_start.count, 3); /* the row of bucket 0 */
	assert_int_equal(w.http.at_end.count, 6);   /* the row of bucket 2 */
	memset(&w, 0, sizeof(w));
	assert_int_equal(mx_store_rollup_window(fx->st, T0 + 900 * SEC, T0 + 1010 * SEC,
						win_fn, &w), MX_OK);
	assert_int_equal(w.http.at_start.count, 6);
	assert_int_equal(w.http.at_end.count, 9);   /* the counters row */
	assert_int_equal(w.http.at_end.duration[7], 3);
	assert_true(w.http.at_end.duration_sum == 390);
	memset(&w, 0, sizeof(w));
	assert_int_equal(mx_store_rollup_window(fx->st, T0 + 900 * SEC, T0 + 1000 * SEC,
						win_fn, &w), MX_OK);
	assert_int_equal(w.http.at_end.count, 6); /* bucket 100 not ended */
}

static void test_rollups_downsampled_and_expired(void **state)
{
	(void)state;
	struct rt_builder b;
	struct win w;
	struct mx_metrics_stats ms;
	fx->cfg.metrics_idle_ns = 0; /* keep them in memory */
	tu_open_store(fx);
	rt_build(&b);
	b.r.n_tcp = 0;
	/* one report every 10 s for 2 minutes: 12 buckets, 11 rows of 10 s
	 * (the latest bucket's row is the series' counters row) */
	for (int i = 0; i < 12; i++) {
		atomic_store(&tu_now, T0 + (uint64_t)i * 10 * SEC + SEC);
		b.r.sequence = 100 + (uint64_t)i;
		submit(&b);
	}
	/* two hours later: rows older than an hour are kept per minute */
	atomic_store(&tu_now, T0 + 2 * 3600 * SEC);
	assert_int_equal(mx_store_sweep(fx->st), MX_OK);
	mx_store_metrics_stats(fx->st, &ms);
	/* 11 rows -> the last of the first minute and the last row */
	assert_int_equal(ms.rollup_rows_thinned, 9);
	/* the value at the end of each minute is exact */
	memset(&w, 0, sizeof(w));
	assert_int_equal(mx_store_rollup_window(fx->st, T0 + 60 * SEC, T0 + 120 * SEC,
						win_fn, &w), MX_OK);
	assert_int_equal(w.http.at_start.count, 18);
	assert_int_equal(w.http.at_end.count, 36);

	/* past retention everything goes */
	atomic_store(&tu_now, T0 + 73ull * 3600 * SEC);
	assert_int_equal(mx_store_sweep(fx->st), MX_OK);
	mx_store_metrics_stats(fx->st, &ms);
	assert_int_equal(ms.rollup_rows_expired, 2);
	assert_int_equal(ms.series_expired, 1);
	assert_int_equal(ms.series_active, 0);
	memset(&w, 0, sizeof(w));
	assert_int_equal(mx_store_rollup_window(fx->st, T0, T0 + 120 * SEC,
						win_fn, &w), MX_OK);
	assert_int_equal(w.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_applied_exactly_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counters_survive_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_series_hidden_and_resumed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overflow_series, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollup_windows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollup_rows_across_restart_and_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollups_downsampled_and_expired, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
