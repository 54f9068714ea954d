/*
 * test_reporter_net.c - libmixd's delivery guarantees against the harness
 * receiver (reporter_harness.h), decoded with protobuf-c and applied once
 * per (instance id, sequence) as mixd does (reporter_check.h):
 *  - 8 recording threads: the totals shipped equal the totals recorded;
 *  - the receiver down for 30 s of wall time while recording continues,
 *    then back: nothing lost, nothing counted twice, sequences contiguous;
 *  - a receiver answering 500, or hanging past the client timeout: the
 *    re-sent bodies are byte-identical and carry the same sequence;
 *  - fork: a reporter created before fork(), started in two children, both
 *    report under distinct instance ids with their own correct totals.
 * Flush intervals are 50 ms; every wait polls with a bound.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mixd/mixd.h"
#include "reporter_check.h"
#include "reporter_harness.h"

#define NTHREADS 8
#define NSERIES 16
#define PER_THREAD 200000

static struct hx *hstart(void)
{
	struct hx *h = hx_start();

	if (!h) {
		fail_msg("cannot start the harness receiver");
		abort();
	}
	return h;
}

static const struct rc_series *need(const struct rc_totals *t, const char *k)
{
	const struct rc_series *s = rc_get(t, k);

	if (!s) {
		fail_msg("series %s never reported", k);
		abort();
	}
	return s;
}

static struct mixd_reporter *mk(const char *url, uint32_t timeout_ms)
{
	struct mixd_config cfg;
	struct mixd_reporter *r = NULL;

	mixd_config_init(&cfg);
	cfg.url = url;
	cfg.flush_interval_ms = 50;
	cfg.retry_initial_ms = 20;
	cfg.retry_max_ms = 500;
	cfg.request_timeout_ms = timeout_ms;
	cfg.connect_timeout_ms = timeout_ms;
	cfg.local.workload = "me-v1";
	assert_int_equal(mixd_reporter_new(&cfg, &r), MIXD_OK);
	return r;
}

static void labels(struct mixd_series_labels *l, const char *peer, uint32_t code)
{
	memset(l, 0, sizeof(*l));
	l->role = MIXD_ROLE_SOURCE;
	l->peer.workload = peer;
	l->destination_service_name = "server";
	l->request_protocol = "http";
	l->response_code = code;
}

static const char *key(const char *peer, uint32_t code)
{
	static char k[200];

	snprintf(k, sizeof(k), "1|%.64s|%u|server|http|0", peer, code);
	return k;
}

/* Applies every body received since *from (whatever it was answered:
 * a hung request may have been applied by a real mixd before the client
 * gave up, and dedupe by sequence must cover it). */
static void drain_all(struct hx *h, struct rc_totals *t, size_t *from)
{
	pthread_mutex_lock(&h->mu);
	for (; *from < h->n; (*from)++)
		if (h->reqs[*from].body)
			rc_apply(t, h->reqs[*from].body, h->reqs[*from].len);
	pthread_mutex_unlock(&h->mu);
}

/* The instance id of the first report received. */
static void first_instance(struct hx *h, uint8_t inst[16])
{
	Mixd__Report__V1__Report *r;

	pthread_mutex_lock(&h->mu);
	r = h->n ? mixd__report__v1__report__unpack(NULL, h->reqs[0].len, h->reqs[0].body) : NULL;
	pthread_mutex_unlock(&h->mu);
	assert_non_null(r);
	if (r && r->instance_id.len == 16)
		memcpy(inst, r->instance_id.data, 16);
	mixd__report__v1__report__free_unpacked(r, NULL);
}

/* ---- 8 recording threads ---- */

struct worker {
	struct mixd_reporter *r;
	const uint32_t *series;
	int idx;
	uint64_t count[NSERIES], dur_sum[NSERIES];
};

static void *record_thread(void *p)
{
	struct worker *w = p;
	uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(w->idx + 1);

	for (int i = 0; i < PER_THREAD; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		unsigned s = (unsigned)(x % NSERIES);
		uint64_t d = (x >> 20) % 5000;
		mixd_record_request(w->r, w->series[s], d, 100, 200);
		w->count[s]++;
		w->dur_sum[s] += d;
	}
	return NULL;
}

static void test_threads_totals(void **state)
{
	struct hx *h = hstart();
	struct rc_totals *t = calloc(1, sizeof(*t));
	struct mixd_reporter *r = mk(h->url, 2000);
	struct mixd_series_labels l;
	struct worker w[NTHREADS];
	pthread_t th[NTHREADS];
	uint32_t series[NSERIES];
	char peer[NSERIES][24];
	size_t from = 0;
	uint8_t inst[16];

	(void)state;
	for (int i = 0; i < NSERIES; i++) {
		snprintf(peer[i], sizeof(peer[i]), "peer-%d", i);
		labels(&l, peer[i], 200);
		assert_int_equal(mixd_series_bind(r, &l, &series[i]), MIXD_OK);
	}
	assert_int_equal(mixd_reporter_start(r), MIXD_OK);
	for (int i = 0; i < NTHREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].r = r;
		w[i].series = series;
		w[i].idx = i;
		assert_int_equal(pthread_create(&th[i], NULL, record_thread, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(mixd_reporter_close(r, 10000), MIXD_OK);
	drain_all(h, t, &from);
	assert_false(t->bad);
	assert_false(t->dup_mismatch);
	first_instance(h, inst);
	assert_true(rc_contiguous(t, inst) > 0);
	uint64_t total = 0;
	for (int s = 0; s < NSERIES; s++) {
		uint64_t c = 0, d = 0;
		for (int i = 0; i < NTHREADS; i++) {
			c += w[i].count[s];
			d += w[i].dur_sum[s];
		}
		const struct rc_series *got = need(t, key(peer[s], 200));
		assert_int_equal(got->count, c);
		assert_true(got->dur_sum == (double)d);
		assert_true(got->req_sum == 100.0 * (double)c);
		assert_int_equal(got->req_b[6], c); /* 100 <= 100 */
		total += got->count;
	}
	assert_int_equal(total, (uint64_t)NTHREADS * PER_THREAD);
	hx_stop(h);
	rc_free(t);
	free(t);
}

/* ---- the receiver down for 30 s ---- */

static void test_down_30s(void **state)
{
	struct hx *h = hstart();
	struct rc_totals *t = calloc(1, sizeof(*t));
	struct mixd_reporter *r = mk(h->url, 1000);
	struct mixd_series_labels l;
	struct mixd_stats st0, st1;
	uint32_t a, b;
	uint64_t recorded = 0, until;
	size_t from = 0;
	uint8_t inst[16];

	(void)state;
	labels(&l, "a", 200);
	mixd_series_bind(r, &l, &a);
	labels(&l, "b", 503);
	mixd_series_bind(r, &l, &b);
	assert_int_equal(mixd_reporter_start(r), MIXD_OK);
	for (int i = 0; i < 100; i++, recorded++)
		mixd_record_request(r, a, 3, 10, 10);
	assert_true(hx_wait(h, 1, 10000) >= 1); /* up and acknowledged once */

	assert_int_equal(hx_set_mode(h, HX_DOWN), 0);
	mixd_reporter_stats(r, &st0);
	/* 30 s of wall time: keep recording and flushing while down */
	until = hx_now_ms() + 30000;
	while (hx_now_ms() < until) {
		for (int i = 0; i < 100; i++, recorded++)
			mixd_record_request(r, i % 2 ? a : b, 7, 10, 10);
		hx_wait(h, SIZE_MAX, 10); /* paces the loop: the harness is down */
	}
	mixd_reporter_stats(r, &st1);
	assert_true(st1.reports_retried > st0.reports_retried + 10); /* kept retrying */
	assert_true(st1.reports_acked == st0.reports_acked || st1.reports_acked == st0.reports_acked + 1);
	assert_int_equal(hx_set_mode(h, HX_OK), 0);
	for (int i = 0; i < 100; i++, recorded++)
		mixd_record_request(r, a, 3, 10, 10);
	assert_int_equal(mixd_reporter_close(r, 10000), MIXD_OK);

	drain_all(h, t, &from);
	assert_false(t->bad);
	assert_false(t->dup_mismatch);
	first_instance(h, inst);
	assert_true(rc_contiguous(t, inst) > 0);
	assert_int_equal(need(t, key("a", 200))->count + need(t, key("b", 503))->count, recorded);
	/* the outage merged into few reports: not one per interval */
	assert_true(rc_contiguous(t, inst) < 30);
	hx_stop(h);
	rc_free(t);
	free(t);
}

/* ---- 500 and hang: identical re-sends ---- */

static void identical_resends(enum hx_mode bad, uint32_t timeout_ms)
{
	struct hx *h = hstart();
	struct rc_totals *t = calloc(1, sizeof(*t));
	struct mixd_reporter *r = mk(h->url, timeout_ms);
	struct mixd_series_labels l;
	uint32_t a;
	size_t from = 0;
	uint8_t inst[16];

	labels(&l, "a", 200);
	mixd_series_bind(r, &l, &a);
	assert_int_equal(hx_set_mode(h, bad), 0);
	assert_int_equal(mixd_reporter_start(r), MIXD_OK);
	mixd_record_request(r, a, 1, 1, 1);
	assert_true(hx_wait(h, 3, 20000) >= 3); /* at least two re-sends */
	for (int i = 0; i < 10; i++) /* deltas recorded meanwhile: next sequence */
		mixd_record_request(r, a, 1, 1, 1);
	size_t bad_n = hx_count(h);
	assert_int_equal(hx_set_mode(h, HX_OK), 0);
	assert_int_equal(mixd_reporter_close(r, 10000), MIXD_OK);

	pthread_mutex_lock(&h->mu);
	for (size_t i = 1; i < bad_n; i++) {
		assert_int_equal(h->reqs[i].len, h->reqs[0].len);
		assert_memory_equal(h->reqs[i].body, h->reqs[0].body, h->reqs[0].len);
		assert_int_equal(h->reqs[i].status, bad == HX_500 ? 500 : 0);
	}
	pthread_mutex_unlock(&h->mu);
	drain_all(h, t, &from);
	assert_false(t->bad);
	assert_false(t->dup_mismatch);
	assert_true(t->duplicates >= 2);
	first_instance(h, inst);
	assert_true(rc_contiguous(t, inst) >= 2);
	assert_int_equal(need(t, key("a", 200))->count, 11);
	hx_stop(h);
	rc_free(t);
	free(t);
}

static void test_500_identical(void **state)
{
	(void)state;
	identical_resends(HX_500, 2000);
}

static void test_hang_identical(void **state)
{
	(void)state;
	identical_resends(HX_HANG, 200);
}

/* ---- fork ---- */

static void test_fork(void **state)
{
	struct hx *h = hstart();
	struct mixd_reporter *r = mk(h->url, 2000);
	struct mixd_series_labels l;
	uint32_t a;
	pid_t pid[2];
	static const int n[2] = { 1234, 4321 };

	(void)state;
	labels(&l, "a", 200);
	assert_int_equal(mixd_series_bind(r, &l, &a), MIXD_OK);
	for (int c = 0; c < 2; c++) {
		pid[c] = fork();
		assert_true(pid[c] >= 0);
		if (pid[c] == 0) {
			/* the child: no cmocka asserts here, only the exit code */
			int ok = mixd_reporter_start(r) == MIXD_OK;
			for (int i = 0; i < n[c]; i++)
				ok &= mixd_record_request(r, a, 2, 3, 4) == MIXD_OK;
			ok &= mixd_reporter_close(r, 10000) == MIXD_OK;
			_exit(ok ? 0 : 1);
		}
	}
	for (int c = 0; c < 2; c++) {
		int st = -1;
		assert_int_equal(waitpid(pid[c], &st, 0), pid[c]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	mixd_reporter_close(r, 0); /* never started here: ships nothing */

	/* group the reports by instance id */
	uint8_t inst[2][16];
	uint64_t count[2] = { 0, 0 };
	int ninst = 0;
	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < h->n; i++) {
		Mixd__Report__V1__Report *rep =
			mixd__report__v1__report__unpack(NULL, h->reqs[i].len, h->reqs[i].body);
		assert_non_null(rep);
		if (!rep || rep->instance_id.len != 16) {
			fail_msg("bad report");
			abort();
		}
		int k = -1;
		for (int j = 0; j < ninst; j++)
			if (memcmp(inst[j], rep->instance_id.data, 16) == 0)
				k = j;
		if (k < 0) {
			assert_true(ninst < 2);
			k = ninst++;
			memcpy(inst[k], rep->instance_id.data, 16);
		}
		for (size_t q = 0; q < rep->n_requests; q++)
			count[k] += rep->requests[q]->count;
		mixd__report__v1__report__free_unpacked(rep, NULL);
	}
	pthread_mutex_unlock(&h->mu);
	assert_int_equal(ninst, 2);
	assert_memory_not_equal(inst[0], inst[1], 16);
	/* each child shipped its own count (in whichever order they came) */
	assert_true((count[0] == 1234 && count[1] == 4321) || (count[0] == 4321 && count[1] == 1234));
	hx_stop(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_totals),
		cmocka_unit_test(test_500_identical),
		cmocka_unit_test(test_hang_identical),
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_down_30s),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
