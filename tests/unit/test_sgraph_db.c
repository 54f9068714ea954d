/*
 * test_sgraph_db.c - the service graph's LMDB side (storage/sgraph_db.c)
 * and its place in the writer: dependency counts per minute read back by
 * window, summed across minutes and batches; retention deleting old
 * minutes in the writer's maintenance; links surviving a restart while
 * the in-memory Tempo series start over; the spans of a native report
 * applied twice (same sequence) fed once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "codec/report.h"
#include "report_test_util.h"
#include "sgraph_test_util.h"
#include "storage/metrics.h"

#define MIN_NS (60ull * SG_SEC)
#define HOUR_NS (60ull * MIN_NS)

static int setup_retention(void **state)
{
	(void)state;
	return sg_setup_with(HOUR_NS);
}

/* A pair a -> b started at `start`, sent at the clock's now. */
static void pair(uint64_t trace, uint64_t start, bool err)
{
	SG_SEND({ .svc = "a", .trace = trace, .id = 2, .parent = 1,
		  .kind = MX_KIND_CLIENT, .start = start, .err = err },
		{ .svc = "b", .trace = trace, .id = 3, .parent = 2,
		  .kind = MX_KIND_SERVER, .start = start });
}

static void test_windows(void **state)
{
	(void)state;
	pair(1, SG_T0 + 10 * SG_SEC, false);
	pair(2, SG_T0 + 70 * SG_SEC, true);  /* the next minute */
	pair(3, SG_T0 + 75 * SG_SEC, false);
	atomic_store(&tu_now, SG_T0 + 10 * MIN_NS);
	pair(4, SG_T0 + 10 * MIN_NS, false); /* ten minutes later */
	sg_tick(SG_T0 + 10 * MIN_NS + SG_SEC);
	char got[512];
	sg_links(SG_T0, SG_T0 + 59 * SG_SEC, got, sizeof(got));
	assert_string_equal(got, "a>b:1/0");
	/* a minute counts when it overlaps the window */
	sg_links(SG_T0 + 59 * SG_SEC, SG_T0 + 60 * SG_SEC, got, sizeof(got));
	assert_string_equal(got, "a>b:3/1");
	sg_links(SG_T0 + 60 * SG_SEC, SG_T0 + 2 * MIN_NS - 1, got, sizeof(got));
	assert_string_equal(got, "a>b:2/1");
	sg_links(SG_T0 + 2 * MIN_NS, SG_T0 + 10 * MIN_NS - 1, got, sizeof(got));
	assert_string_equal(got, "");
	sg_assert_links("a>b:4/1");
	sg_links(SG_T0 + MIN_NS, SG_T0, got, sizeof(got)); /* reversed */
	assert_string_equal(got, "");

	/* counts add up across commits (get, add, put) */
	pair(5, SG_T0 + 20 * SG_SEC, true);
	sg_tick(SG_T0 + 10 * MIN_NS + 2 * SG_SEC);
	sg_links(SG_T0, SG_T0 + 59 * SG_SEC, got, sizeof(got));
	assert_string_equal(got, "a>b:2/1");
}

static void test_future_and_unset_times(void **state)
{
	(void)state;
	/* far in the future: counted at most 5 minutes past the commit;
	 * a span without a start: at the commit */
	pair(1, SG_T0 + 1000 * HOUR_NS, false);
	SG_SEND({ .svc = "c", .trace = 2, .id = 2, .parent = 1,
		  .kind = MX_KIND_CLIENT, .no_start = true },
		{ .svc = "d", .trace = 2, .id = 3, .parent = 2,
		  .kind = MX_KIND_SERVER, .no_start = true });
	sg_tick(SG_T0 + SG_SEC);
	char got[512];
	sg_links(SG_T0 + 5 * MIN_NS, SG_T0 + 5 * MIN_NS, got, sizeof(got));
	assert_string_equal(got, "a>b:1/0");
	sg_links(SG_T0, SG_T0, got, sizeof(got));
	assert_string_equal(got, "c>d:1/0");
}

static void test_retention(void **state)
{
	(void)state;
	pair(1, SG_T0, false);
	atomic_store(&tu_now, SG_T0 + 30 * MIN_NS);
	pair(2, SG_T0 + 30 * MIN_NS, false);
	sg_tick(SG_T0 + 30 * MIN_NS + SG_SEC);
	sg_assert_links("a>b:2/0");
	/* an hour after the first minute ended, its row goes */
	sg_tick(SG_T0 + HOUR_NS + MIN_NS + 2 * SG_SEC);
	sg_assert_links("a>b:1/0");
	assert_int_equal(sg_stats().dep_rows_expired, 1);
	sg_tick(SG_T0 + 2 * HOUR_NS + 3 * SG_SEC);
	sg_assert_links("");
	assert_int_equal(sg_stats().dep_rows_expired, 2);
}

static void test_restart(void **state)
{
	(void)state;
	/* a half still waiting when the store closes is lost */
	SG_SEND({ .svc = "a", .trace = 2, .id = 2, .parent = 1,
		  .kind = MX_KIND_CLIENT, .peer = "ext" });
	pair(1, SG_T0, true);
	/* the pending counts are written at the latest when the writer
	 * stops */
	mx_store_close(SG.f->st);
	SG.f->st = NULL;
	char err[256] = "";
	assert_int_equal(mx_store_open(&SG.f->cfg, &SG.f->st, err, sizeof(err)), MX_OK);
	sg_assert_links("a>b:1/1");
	/* the Tempo counters start over, as Tempo's do */
	assert_int_equal(sg_requests("a", "b", 0, NULL), 0);
	sg_tick(SG_T0 + 10 * SG_WAIT);
	sg_assert_links("a>b:1/1");
}

/* Submits a native report and waits for its commit. */
static void submit_report(struct rt_builder *b)
{
	size_t n;
	uint8_t *p = rt_pack(b, &n);
	struct mx_batch *batch;
	struct mx_report *rep;
	struct mx_errmsg e;
	assert_int_equal(rt_decode(p, n, &batch, &rep, &e), MX_OK);
	free(p);
	assert_int_equal(mx_store_submit_report(SG.f->st, batch, rep, tu_ack_cb,
						SG.acks), MX_OK);
	SG.submitted++;
	assert_true(tu_acks_wait(SG.acks, SG.submitted, 20));
}

static void test_report_applied_once(void **state)
{
	(void)state;
	struct rt_builder b;
	mx_decode_limits_default(&rt_lim);
	rt_build(&b);
	submit_report(&b);
	submit_report(&b); /* the same sequence: skipped whole */
	struct mx_sg_snap s;
	assert_int_equal(mx_store_sgraph_snapshot(SG.f->st, &s), MX_OK);
	uint64_t calls = 0;
	for (size_t i = 0; i < s.n_spans; i++)
		if (sg_is(s.spans[i].span_name, "GET /ratings"))
			calls += s.spans[i].calls;
	assert_int_equal(calls, 1);
	assert_int_equal(s.stats.pending, 1);
	assert_int_equal(s.stats.duplicates, 0);
	mx_sg_snap_free(&s);
	b.r.sequence++; /* a new report with the same span: a repeat */
	submit_report(&b);
	assert_int_equal(sg_stats().duplicates, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_windows, sg_setup, sg_teardown),
		cmocka_unit_test_setup_teardown(test_future_and_unset_times, sg_setup,
						sg_teardown),
		cmocka_unit_test_setup_teardown(test_retention, setup_retention,
						sg_teardown),
		cmocka_unit_test_setup_teardown(test_restart, sg_setup, sg_teardown),
		cmocka_unit_test_setup_teardown(test_report_applied_once, sg_setup,
						sg_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
