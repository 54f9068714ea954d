/*
 * test_retention.c - retention by arrival time (storage/store_sweep.c) with
 * an injected clock: exactly the expired batches go (spans, trace_idx
 * entries, search index entries, idx_log), lookups and searches stop
 * returning them, later data stays intact, also when sweep steps split
 * batches and segments; the writer also sweeps on its own after a commit;
 * a store emptied by retention takes new data; Go-style durations parse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "storage/search.h"
#include "store_test_util.h"

#define T0 1800000000000000000ull
#define MIN_NS (60ull * 1000000000ull)
#define HOUR_NS (60ull * MIN_NS)

struct fixture {
	char dir[64];
	struct mx_store_config cfg;
	struct mx_store *st;
	struct tu_acks *acks;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/mixd-test-retention-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	mx_store_config_default(&f->cfg);
	f->cfg.path = f->dir;
	f->cfg.max_size = 256u << 20;
	f->cfg.retention_ns = HOUR_NS;
	f->cfg.now_ns = tu_clock;
	f->acks = tu_acks_new();
	atomic_store(&tu_now, T0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	mx_store_close(f->st);
	tu_rm_rf(f->dir);
	tu_acks_free(f->acks);
	free(f);
	return 0;
}

static void open_store(struct fixture *f)
{
	char err[256] = "";
	int rc = mx_store_open(&f->cfg, &f->st, err, sizeof(err));
	if (rc != MX_OK)
		fail_msg("open: %s (%s)", mx_strerror(rc), err);
}

static void close_store(struct fixture *f)
{
	mx_store_close(f->st);
	f->st = NULL;
}

/* Submits one batch and waits for its commit. */
static void put(struct fixture *f, const char *svc, uint64_t first_trace,
		uint32_t n_traces, uint32_t per_trace, uint64_t arrival)
{
	int before = f->acks->n;
	struct mx_batch *b = tu_batch(svc, first_trace, n_traces, per_trace, 40,
				      arrival, arrival - 1000000);
	assert_int_equal(tu_submit(f->st, b, f->acks), MX_OK);
	assert_true(tu_acks_wait(f->acks, before + 1, 20));
	assert_int_equal(f->acks->last_status, MX_OK);
}

static uint32_t search_count(struct mx_store *st, const char *svc)
{
	struct mx_search_query q;
	struct mx_search_result r;
	memset(&q, 0, sizeof(q));
	q.service = (struct mx_str){ svc, svc ? (uint32_t)strlen(svc) : 0 };
	q.kind = -1;
	q.limit = 1000;
	assert_int_equal(mx_store_search(st, &q, &r), MX_OK);
	uint32_t n = r.n;
	for (uint32_t i = 0; i < r.n; i++)
		assert_true(r.traces[i]->n_spans > 0);
	mx_search_result_free(&r);
	return n;
}

static void test_parse_duration(void **state)
{
	(void)state;
	uint64_t ns = 1;
	assert_int_equal(mx_store_parse_duration("72h", &ns), MX_OK);
	assert_true(ns == 72 * HOUR_NS);
	assert_int_equal(mx_store_parse_duration("30m", &ns), MX_OK);
	assert_true(ns == 30 * MIN_NS);
	assert_int_equal(mx_store_parse_duration("7d", &ns), MX_OK);
	assert_true(ns == 7 * 24 * HOUR_NS);
	assert_int_equal(mx_store_parse_duration("1h30m15s", &ns), MX_OK);
	assert_true(ns == HOUR_NS + 30 * MIN_NS + 15000000000ull);
	assert_int_equal(mx_store_parse_duration("250ms", &ns), MX_OK);
	assert_true(ns == 250000000ull);
	assert_int_equal(mx_store_parse_duration("0", &ns), MX_OK);
	assert_true(ns == 0);
	const char *bad[] = { "", "h", "5", "5x", "-1h", "1h-", "1.5h", " 1h",
			      "99999999999999999999h", "300000000d" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(mx_store_parse_duration(bad[i], &ns), MX_EINVAL);
}

/* Batches A (arrival T0) and B (T0 + 30 min), and a trace in both. */
#define A_TRACES 60u
#define B_TRACES 40u
#define PER 3u
#define SHARED 9000u

static void fill_a_b(struct fixture *f)
{
	/* several small batches each, so that steps of 12 spans split
	 * batches and segments */
	for (uint32_t i = 0; i < A_TRACES; i += 4) {
		put(f, "svc-old", 100 + i, 4, PER, T0 + i);
		if (i % 20 == 0)
			put(f, "svc-old", SHARED, 1, 2, T0 + i);
	}
	for (uint32_t i = 0; i < B_TRACES; i += 4) {
		put(f, "svc-new", 1000 + i, 4, PER, T0 + 30 * MIN_NS + i);
		if (i % 20 == 0)
			put(f, "svc-new", SHARED, 1, 2, T0 + 30 * MIN_NS + i);
	}
}

static void test_retention_exact(void **state)
{
	struct fixture *f = *state;
	f->cfg.sweep_spans = 7; /* steps of 12 (5/4 of the last group) */
	open_store(f);
	fill_a_b(f);
	uint32_t n;
	assert_int_equal(tu_check_trace(f->st, 100, 40, &n), MX_OK);
	assert_int_equal(n, PER);
	assert_int_equal(tu_check_trace(f->st, SHARED, 40, &n), MX_OK);
	assert_int_equal(n, 2 * 3 + 2 * 2);
	assert_int_equal(search_count(f->st, "svc-old"), A_TRACES + 1);

	/* nothing expired yet */
	atomic_store(&tu_now, T0 + HOUR_NS - 1);
	assert_int_equal(mx_store_sweep(f->st), MX_OK);
	struct mx_store_stats s;
	mx_store_get_stats(f->st, &s);
	assert_true(s.expired_spans == 0);
	assert_true(s.oldest_arrival_ns == T0);

	/* A expires (it arrived more than an hour ago), B does not */
	atomic_store(&tu_now, T0 + HOUR_NS + 5 * MIN_NS);
	assert_int_equal(mx_store_sweep(f->st), MX_OK);
	mx_store_get_stats(f->st, &s);
	assert_true(s.expired_spans == A_TRACES * PER + 3 * 2);
	assert_true(s.evicted_spans == 0);
	assert_true(s.oldest_arrival_ns == T0 + 30 * MIN_NS);
	assert_true(s.sweeps >= 2); /* in steps */
	for (uint32_t i = 0; i < A_TRACES; i++)
		assert_int_equal(tu_check_trace(f->st, 100 + i, 40, &n), MX_ENOTFOUND);
	for (uint32_t i = 0; i < B_TRACES; i++) {
		assert_int_equal(tu_check_trace(f->st, 1000 + i, 40, &n), MX_OK);
		assert_int_equal(n, PER);
	}
	assert_int_equal(tu_check_trace(f->st, SHARED, 40, &n), MX_OK);
	assert_int_equal(n, 2 * 2); /* only B's segments */
	assert_int_equal(search_count(f->st, "svc-old"), 0);
	assert_int_equal(search_count(f->st, "svc-new"), B_TRACES + 1);
	assert_int_equal(search_count(f->st, NULL), B_TRACES + 1);

	/* the databases hold exactly B: every index key points at B */
	close_store(f);
	struct tu_counts c;
	assert_int_equal(tu_counts(f->dir, &c), 0);
	uint64_t b_first = A_TRACES * PER + 3 * 2 + 1;
	assert_true(c.spans == B_TRACES * PER + 2 * 2);
	assert_true(c.min_seq == b_first);
	assert_true(c.trace_idx == B_TRACES + 2);
	assert_true(c.min_idx_seq >= b_first);
	assert_true(c.idx_log == B_TRACES / 4 + 2);

	/* B expires too; the empty store takes new data */
	open_store(f);
	atomic_store(&tu_now, T0 + 2 * HOUR_NS);
	assert_int_equal(mx_store_sweep(f->st), MX_OK);
	mx_store_get_stats(f->st, &s);
	assert_true(s.expired_spans == B_TRACES * PER + 2 * 2);
	assert_true(s.oldest_arrival_ns == 0);
	assert_int_equal(tu_check_trace(f->st, SHARED, 40, &n), MX_ENOTFOUND);
	assert_int_equal(search_count(f->st, NULL), 0);
	close_store(f);
	assert_int_equal(tu_counts(f->dir, &c), 0);
	assert_true(c.spans == 0 && c.trace_idx == 0 && c.idx_time == 0 &&
		    c.idx_svc == 0 && c.idx_log == 0);

	open_store(f);
	put(f, "svc-later", 5000, 2, PER, T0 + 2 * HOUR_NS);
	assert_int_equal(tu_check_trace(f->st, 5000, 40, &n), MX_OK);
	assert_int_equal(n, PER);
	assert_int_equal(search_count(f->st, "svc-later"), 2);
}

/* Without being asked, the writer sweeps in the transaction of the next
 * group: after its commit the expired data is gone. */
static void test_sweep_with_ingest(void **state)
{
	struct fixture *f = *state;
	open_store(f);
	for (uint32_t i = 0; i < 10; i++)
		put(f, "a", 10 + i * 5, 5, 2, T0 + i);
	atomic_store(&tu_now, T0 + HOUR_NS + 1000);
	put(f, "b", 500, 1, 2, T0 + HOUR_NS + 1000);
	uint32_t n;
	for (uint32_t i = 0; i < 50; i++)
		assert_int_equal(tu_check_trace(f->st, 10 + i, 40, &n), MX_ENOTFOUND);
	assert_int_equal(tu_check_trace(f->st, 500, 40, &n), MX_OK);
	struct mx_store_stats s;
	mx_store_get_stats(f->st, &s);
	assert_true(s.expired_spans == 100);
	assert_true(s.oldest_arrival_ns == T0 + HOUR_NS + 1000);
}

/* Retention 0 keeps everything, however old. */
static void test_no_retention(void **state)
{
	struct fixture *f = *state;
	f->cfg.retention_ns = 0;
	open_store(f);
	put(f, "a", 1, 3, 2, T0);
	atomic_store(&tu_now, T0 + 1000 * HOUR_NS);
	assert_int_equal(mx_store_sweep(f->st), MX_OK);
	uint32_t n;
	assert_int_equal(tu_check_trace(f->st, 1, 40, &n), MX_OK);
	struct mx_store_stats s;
	mx_store_get_stats(f->st, &s);
	assert_true(s.expired_spans == 0 && s.evicted_spans == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test_setup_teardown(test_retention_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_with_ingest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_retention, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
