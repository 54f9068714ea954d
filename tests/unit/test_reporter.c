/*
 * test_reporter.c - libmixd (reporter/) against the harness receiver of
 * reporter_harness.h: argument and config checks, values landing in the
 * right Envoy buckets with the right sums, TCP counters, the overflow
 * series, strings copied at bind and creation, recording before start,
 * the mixd_record() cache, spans (encoding, oversized attributes, a full
 * ring), close flushing within its deadline (and giving up at it), and a
 * 4xx answer dropping the report for good. The reports shipped are decoded
 * with protobuf-c (reporter_check.h). Flush intervals are 50 ms; every
 * wait polls the harness with a bound.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "mixd/mixd.h"
#include "reporter_check.h"
#include "reporter_harness.h"

/* rc_get() that fails the test when the series was never reported */
static const struct rc_series *need(const struct rc_totals *t, const char *k)
{
	const struct rc_series *s = rc_get(t, k);

	if (!s) {
		fail_msg("series %s never reported", k);
		abort();
	}
	return s;
}

static struct hx *hstart(void)
{
	struct hx *h = hx_start();

	if (!h) {
		fail_msg("cannot start the harness receiver");
		abort();
	}
	return h;
}

static struct mixd_reporter *mk(const char *url, uint32_t max_series, uint32_t interval_ms)
{
	struct mixd_config cfg;
	struct mixd_reporter *r = NULL;

	mixd_config_init(&cfg);
	cfg.url = url;
	cfg.max_series = max_series;
	cfg.flush_interval_ms = interval_ms;
	cfg.retry_initial_ms = 20;
	cfg.retry_max_ms = 200;
	cfg.request_timeout_ms = 2000;
	cfg.local.workload = "me-v1";
	cfg.local.workload_namespace = "default";
	cfg.local.app = "me";
	assert_int_equal(mixd_reporter_new(&cfg, &r), MIXD_OK);
	assert_non_null(r);
	return r;
}

static void labels(struct mixd_series_labels *l, const char *peer, uint32_t code)
{
	memset(l, 0, sizeof(*l));
	l->role = MIXD_ROLE_DESTINATION;
	l->peer.workload = peer;
	l->peer.workload_namespace = "default";
	l->destination_service = "server.default.svc.cluster.local";
	l->destination_service_name = "server";
	l->request_protocol = "http";
	l->response_code = code;
	l->response_flags = "-";
	l->connection_security_policy = "mutual_tls";
}

static const char *key(const char *peer, uint32_t code)
{
	static char k[200];

	snprintf(k, sizeof(k), "2|%.64s|%u|server|http|0", peer, code);
	return k;
}

/* Applies every body received since *from. */
static void drain(struct hx *h, struct rc_totals *t, size_t *from)
{
	pthread_mutex_lock(&h->mu);
	for (; *from < h->n; (*from)++)
		if (h->reqs[*from].body && h->reqs[*from].status == 200)
			rc_apply(t, h->reqs[*from].body, h->reqs[*from].len);
	pthread_mutex_unlock(&h->mu);
}

/* Polls (bounded) until series `k` has `count` requests in total. */
static const struct rc_series *wait_count(struct hx *h, struct rc_totals *t, size_t *from,
					  const char *k, uint64_t count)
{
	uint64_t until = hx_now_ms() + 10000;
	const struct rc_series *s;

	for (;;) {
		drain(h, t, from);
		s = rc_get(t, k);
		if ((s && s->count >= count) || hx_now_ms() > until)
			return s;
		hx_wait(h, *from + 1, 100);
	}
}

static void test_config_and_args(void **state)
{
	struct mixd_config cfg;
	struct mixd_reporter *r = (struct mixd_reporter *)1;
	struct mixd_series_labels l;
	struct mixd_stats st;
	uint32_t s = 99;
	char big[MIXD_LABEL_MAX + 2];

	(void)state;
	mixd_config_init(&cfg);
	assert_int_equal(cfg.flush_interval_ms, 1000);
	assert_int_equal(cfg.max_series, 10000);
	assert_int_equal(cfg.span_ring_capacity, 4096);
	assert_string_equal(cfg.url, "http://127.0.0.1:9091/v1/report");
	mixd_config_init(NULL);
	assert_int_equal(mixd_reporter_new(NULL, &r), MIXD_EINVAL);
	assert_null(r);
	assert_int_equal(mixd_reporter_new(&cfg, NULL), MIXD_EINVAL);
	cfg.url = "";
	assert_int_equal(mixd_reporter_new(&cfg, &r), MIXD_EINVAL);
	mixd_config_init(&cfg);
	cfg.flush_interval_ms = 5;
	assert_int_equal(mixd_reporter_new(&cfg, &r), MIXD_EINVAL);
	mixd_config_init(&cfg);
	cfg.max_series = 0;
	assert_int_equal(mixd_reporter_new(&cfg, &r), MIXD_EINVAL);
	mixd_config_init(&cfg);
	cfg.sample_rate = 1.5;
	assert_int_equal(mixd_reporter_new(&cfg, &r), MIXD_EINVAL);
	mixd_config_init(&cfg);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cfg.local.app = big;
	assert_int_equal(mixd_reporter_new(&cfg, &r), MIXD_EINVAL);

	for (int e = 0; e >= -7; e--)
		assert_non_null(mixd_strerror(e));
	assert_string_not_equal(mixd_strerror(MIXD_EINVAL), mixd_strerror(MIXD_ENOMEM));
	assert_string_equal(mixd_version(), MIXD_VERSION_STRING);
	assert_int_equal(mixd_reporter_close(NULL, 0), MIXD_OK);
	assert_int_equal(mixd_reporter_stats(NULL, &st), MIXD_EINVAL);
	assert_int_equal(mixd_record_request(NULL, 1, 1, 1, 1), MIXD_EINVAL);
	assert_int_equal(mixd_reporter_start(NULL), MIXD_EINVAL);

	r = mk("http://127.0.0.1:9/v1/report", 10, 1000);
	assert_true(mixd_reporter_sample_rate(r) > 0.009 && mixd_reporter_sample_rate(r) < 0.011);
	labels(&l, "a", 200);
	l.role = 7;
	assert_int_equal(mixd_series_bind(r, &l, &s), MIXD_EINVAL);
	assert_int_equal(s, MIXD_SERIES_OVERFLOW);
	labels(&l, big, 200);
	assert_int_equal(mixd_series_bind(r, &l, &s), MIXD_EINVAL);
	assert_int_equal(mixd_series_bind(r, NULL, &s), MIXD_EINVAL);
	labels(&l, "a", 200);
	assert_int_equal(mixd_series_bind(r, &l, &s), MIXD_OK);
	assert_int_equal(s, 1);
	assert_int_equal(mixd_record_request(r, 2, 1, 1, 1), MIXD_EINVAL); /* not bound */
	assert_int_equal(mixd_record_request(r, 1, 1, 1, 1), MIXD_OK);
	assert_int_equal(mixd_reporter_stats(r, &st), MIXD_OK);
	assert_int_equal(st.series, 1);
	assert_int_equal(st.records_dropped, 1);
	assert_int_equal(st.threads, 1);
	assert_int_equal(mixd_reporter_start(r), MIXD_OK);
	assert_int_equal(mixd_reporter_start(r), MIXD_ESTATE);
	mixd_reporter_close(r, 0);
}

static void test_buckets_sums_tcp(void **state)
{
	static const uint64_t dur[] = { 0, 1, 2, 5, 6, 10, 11, 3600000, 3600001 };
	struct hx *h = hstart();
	struct rc_totals *t = calloc(1, sizeof(*t));
	struct mixd_series_labels l;
	uint32_t a, b;
	size_t from = 0;

	(void)state;
	assert_non_null(h);
	struct mixd_reporter *r = mk(h->url, 100, 50);
	labels(&l, "a", 200);
	assert_int_equal(mixd_series_bind(r, &l, &a), MIXD_OK);
	labels(&l, "b", 0);
	l.request_protocol = "tcp";
	assert_int_equal(mixd_series_bind(r, &l, &b), MIXD_OK);
	assert_int_not_equal(a, b);
	assert_int_equal(mixd_reporter_start(r), MIXD_OK);
	for (size_t i = 0; i < sizeof(dur) / sizeof(dur[0]); i++)
		assert_int_equal(mixd_record_request(r, a, dur[i], dur[i] * 2, 1000), MIXD_OK);
	mixd_record_tcp_open(r, b);
	mixd_record_tcp_open(r, b);
	mixd_record_tcp_open(r, b);
	mixd_record_tcp_close(r, b);
	mixd_record_tcp_close(r, b);
	mixd_record_tcp_bytes(r, b, 100, 200);
	mixd_record_tcp_bytes(r, b, 5, 7);

	const struct rc_series *s = wait_count(h, t, &from, key("a", 200), 9);
	assert_non_null(s);
	assert_int_equal(s->count, 9);
	/* bounds 0.5 1 5 10 25 ... 3600000 +Inf */
	uint64_t want[20] = { 1, 1, 2, 2, 1 };
	want[18] = 1;
	want[19] = 1;
	for (int i = 0; i < 20; i++)
		assert_int_equal(s->dur_b[i], want[i]);
	double sum = 0;
	for (size_t i = 0; i < sizeof(dur) / sizeof(dur[0]); i++)
		sum += (double)dur[i];
	assert_true(s->dur_sum == sum);
	assert_true(s->req_sum == 2 * sum);
	assert_true(s->resp_sum == 9000);
	assert_int_equal(s->resp_b[9], 9); /* 1000 <= 1000 */
	assert_int_equal(s->req_b[0], 1);  /* 0 bytes */
	assert_int_equal(s->req_b[2], 2);  /* 2, 4 */
	assert_int_equal(s->req_b[3], 1);  /* 10 */
	assert_int_equal(s->req_b[4], 3);  /* 12, 20, 22 */
	assert_int_equal(s->req_b[19], 2); /* 7200000, 7200002 */

	uint64_t until = hx_now_ms() + 10000;
	const struct rc_series *tc;
	while (!((tc = rc_get(t, "2|b|0|server|tcp|0")) && tc->tcp_recv == 207) &&
	       hx_now_ms() < until) {
		hx_wait(h, from + 1, 100);
		drain(h, t, &from);
	}
	assert_non_null(tc);
	assert_int_equal(tc->count, 0); /* TCP only: no request delta */
	assert_int_equal(tc->tcp_open, 3);
	assert_int_equal(tc->tcp_close, 2);
	assert_int_equal(tc->tcp_sent, 105);
	assert_int_equal(tc->tcp_recv, 207);
	assert_string_equal(t->local_workload, "me-v1");
	assert_false(t->bad);
	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < h->n; i++)
		assert_true(h->reqs[i].gzip_ok);
	pthread_mutex_unlock(&h->mu);
	assert_int_equal(mixd_reporter_close(r, 5000), MIXD_OK);
	hx_stop(h);
	rc_free(t);
	free(t);
}

static void test_overflow(void **state)
{
	struct hx *h = hstart();
	struct rc_totals *t = calloc(1, sizeof(*t));
	struct mixd_series_labels l;
	struct mixd_stats st;
	uint32_t s[6];
	size_t from = 0;
	static const char *peers[] = { "p1", "p2", "p3", "p4", "p5" };

	(void)state;
	struct mixd_reporter *r = mk(h->url, 3, 50);
	for (int i = 0; i < 5; i++) {
		labels(&l, peers[i], 200);
		assert_int_equal(mixd_series_bind(r, &l, &s[i]), MIXD_OK);
	}
	assert_int_equal(s[0], 1);
	assert_int_equal(s[1], 2);
	assert_int_equal(s[2], 3);
	assert_int_equal(s[3], MIXD_SERIES_OVERFLOW);
	assert_int_equal(s[4], MIXD_SERIES_OVERFLOW);
	labels(&l, "p4", 200); /* again: not counted twice */
	assert_int_equal(mixd_series_bind(r, &l, &s[5]), MIXD_OK);
	assert_int_equal(s[5], MIXD_SERIES_OVERFLOW);
	labels(&l, "p2", 200); /* existing sets still bind */
	assert_int_equal(mixd_series_bind(r, &l, &s[5]), MIXD_OK);
	assert_int_equal(s[5], 2);
	mixd_reporter_stats(r, &st);
	assert_int_equal(st.series, 3);
	assert_int_equal(st.overflow_series, 2);

	assert_int_equal(mixd_reporter_start(r), MIXD_OK);
	for (int i = 0; i < 5; i++)
		mixd_record_request(r, s[i], 3, 10, 10);
	labels(&l, "p5", 200);
	mixd_record(r, &l, 3, 10, 10); /* through the cache: overflow too */
	const struct rc_series *o = wait_count(h, t, &from, "0||0|||1", 3);
	assert_non_null(o);
	assert_int_equal(o->count, 3);
	assert_int_equal(t->overflow_series, 2);
	assert_int_equal(need(t, key("p1", 200))->count, 1);
	assert_null(rc_get(t, key("p4", 200)));
	assert_int_equal(mixd_reporter_close(r, 5000), MIXD_OK);
	hx_stop(h);
	rc_free(t);
	free(t);
}

static void test_strings_copied_and_before_start(void **state)
{
	struct hx *h = hstart();
	struct rc_totals *t = calloc(1, sizeof(*t));
	struct mixd_config cfg;
	struct mixd_reporter *r;
	struct mixd_series_labels l;
	uint32_t s;
	size_t from = 0;
	char *wl = strdup("local-v9"), *url = strdup(h->url);
	char *peer = strdup("peer-x"), *svc = strdup("server");

	(void)state;
	mixd_config_init(&cfg);
	cfg.url = url;
	cfg.flush_interval_ms = 50;
	cfg.local.workload = wl;
	assert_int_equal(mixd_reporter_new(&cfg, &r), MIXD_OK);
	memset(wl, 'Z', strlen(wl)); /* the reporter kept copies */
	free(wl);
	memset(url, 0, strlen(url));
	free(url);

	labels(&l, peer, 503);
	l.destination_service_name = svc;
	assert_int_equal(mixd_series_bind(r, &l, &s), MIXD_OK);
	memset(peer, 'Q', strlen(peer));
	free(peer);
	free(svc);

	/* recorded before start: aggregated, shipped by the first report */
	for (int i = 0; i < 100; i++)
		mixd_record_request(r, s, 20, 100, 100);
	assert_int_equal(hx_count(h), 0);
	assert_int_equal(mixd_reporter_start(r), MIXD_OK);
	mixd_record_request(r, s, 20, 100, 100);
	const struct rc_series *x = wait_count(h, t, &from, key("peer-x", 503), 101);
	assert_non_null(x);
	assert_int_equal(x->count, 101);
	assert_int_equal(x->dur_b[4], 101); /* 20 <= 25 */
	assert_string_equal(t->local_workload, "local-v9");
	assert_int_equal(mixd_reporter_close(r, 5000), MIXD_OK);
	drain(h, t, &from);
	assert_int_equal(need(t, key("peer-x", 503))->count, 101);
	hx_stop(h);
	rc_free(t);
	free(t);
}

static void test_record_cache(void **state)
{
	struct hx *h = hstart();
	struct rc_totals *t = calloc(1, sizeof(*t));
	struct mixd_series_labels l;
	struct mixd_stats st;
	size_t from = 0;
	char buf[32];

	(void)state;
	struct mixd_reporter *r = mk(h->url, 100, 50);
	assert_int_equal(mixd_reporter_start(r), MIXD_OK);
	for (int i = 0; i < 300; i++) {
		snprintf(buf, sizeof(buf), "peer-%d", i % 3); /* new buffer contents */
		labels(&l, buf, i % 2 ? 200 : 404);
		assert_int_equal(mixd_record(r, &l, 1, 1, 1), MIXD_OK);
	}
	mixd_reporter_stats(r, &st);
	assert_int_equal(st.series, 6);
	assert_int_equal(mixd_reporter_close(r, 5000), MIXD_OK);
	drain(h, t, &from);
	assert_int_equal(need(t, key("peer-0", 404))->count, 50);
	assert_int_equal(need(t, key("peer-1", 200))->count, 50);
	assert_int_equal(need(t, key("peer-2", 200))->count, 50);
	hx_stop(h);
	rc_free(t);
	free(t);
}

static Opentelemetry__Proto__Trace__V1__Span *find_span(Mixd__Report__V1__Report *rep,
							const char *name)
{
	for (size_t i = 0; i < rep->n_spans; i++)
		if (strcmp(rep->spans[i]->name, name) == 0)
			return rep->spans[i];
	fail_msg("span %s not reported", name);
	abort();
}

static void test_spans(void **state)
{
	struct hx *h = hstart();
	struct mixd_config cfg;
	struct mixd_reporter *r;
	struct mixd_span sp;
	struct mixd_stats st;
	struct mixd_attr at[4], many[100];
	struct mixd_event ev[1];
	char longv[64];

	(void)state;
	mixd_config_init(&cfg);
	cfg.url = h->url;
	cfg.flush_interval_ms = 50;
	cfg.span_ring_capacity = 4;
	cfg.span_max_bytes = 512;
	assert_int_equal(mixd_reporter_new(&cfg, &r), MIXD_OK);

	memset(&sp, 0, sizeof(sp));
	assert_int_equal(mixd_record_span(r, &sp), MIXD_EINVAL); /* zero ids */
	memset(sp.trace_id, 0xab, 16);
	memset(sp.span_id, 0xcd, 8);
	memset(sp.parent_span_id, 0x01, 8);
	sp.name = "GET /x";
	sp.kind = MIXD_SPAN_KIND_SERVER;
	sp.start_unix_nano = 1000;
	sp.end_unix_nano = 5000;
	sp.status_code = MIXD_STATUS_ERROR;
	sp.status_message = "boom";
	at[0] = (struct mixd_attr){ "http.method", MIXD_ATTR_STRING, { .s = "GET" } };
	at[1] = (struct mixd_attr){ "http.status_code", MIXD_ATTR_INT, { .i = -503 } };
	at[2] = (struct mixd_attr){ "ratio", MIXD_ATTR_DOUBLE, { .d = 0.25 } };
	at[3] = (struct mixd_attr){ "ok", MIXD_ATTR_BOOL, { .b = 1 } };
	sp.attrs = at;
	sp.nattrs = 4;
	ev[0] = (struct mixd_event){ "retry", 3000, at, 1 };
	sp.events = ev;
	sp.nevents = 1;
	assert_int_equal(mixd_record_span(r, &sp), MIXD_OK);

	memset(longv, 'v', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	for (int i = 0; i < 100; i++)
		many[i] = (struct mixd_attr){ "k", MIXD_ATTR_STRING, { .s = longv } };
	sp.name = "big";
	sp.attrs = many;
	sp.nattrs = 100;
	sp.events = NULL;
	sp.nevents = 0;
	assert_int_equal(mixd_record_span(r, &sp), MIXD_OK);
	sp.name = "filler";
	sp.nattrs = 0;
	assert_int_equal(mixd_record_span(r, &sp), MIXD_OK);
	assert_int_equal(mixd_record_span(r, &sp), MIXD_OK);
	for (int i = 0; i < 6; i++) /* the ring holds 4: dropped */
		assert_int_equal(mixd_record_span(r, &sp), MIXD_EFULL);
	mixd_reporter_stats(r, &st);
	assert_int_equal(st.spans_recorded, 4);
	assert_int_equal(st.spans_dropped, 6);

	assert_int_equal(mixd_reporter_start(r), MIXD_OK);
	assert_int_equal(mixd_reporter_close(r, 5000), MIXD_OK);
	assert_int_equal(hx_count(h), 1);
	Mixd__Report__V1__Report *rep =
		mixd__report__v1__report__unpack(NULL, h->reqs[0].len, h->reqs[0].body);
	assert_non_null(rep);
	assert_int_equal(rep->n_spans, 4);
	assert_int_equal(rep->dropped_spans, 6);
	Opentelemetry__Proto__Trace__V1__Span *s = find_span(rep, "GET /x");
	assert_int_equal(s->trace_id.len, 16);
	assert_int_equal(s->trace_id.data[15], 0xab);
	assert_int_equal(s->parent_span_id.len, 8);
	assert_int_equal(s->kind, 2);
	assert_int_equal(s->start_time_unix_nano, 1000);
	assert_int_equal(s->end_time_unix_nano, 5000);
	assert_int_equal(s->n_attributes, 4);
	assert_string_equal(s->attributes[0]->value->string_value, "GET");
	assert_int_equal(s->attributes[1]->value->int_value, -503);
	assert_true(s->attributes[2]->value->double_value == 0.25);
	assert_true(s->attributes[3]->value->bool_value);
	assert_int_equal(s->n_events, 1);
	assert_string_equal(s->events[0]->name, "retry");
	assert_int_equal(s->status->code, 2);
	assert_string_equal(s->status->message, "boom");
	s = find_span(rep, "big");
	assert_true(s->n_attributes > 0 && s->n_attributes < 100);
	assert_int_equal(s->n_attributes + s->dropped_attributes_count, 100);
	mixd__report__v1__report__free_unpacked(rep, NULL);
	hx_stop(h);
}

static void test_close_deadline(void **state)
{
	struct hx *h = hstart();
	struct rc_totals *t = calloc(1, sizeof(*t));
	struct mixd_series_labels l;
	uint32_t s;
	size_t from = 0;
	uint64_t t0;

	(void)state;
	/* a long interval: only close can ship this */
	struct mixd_reporter *r = mk(h->url, 10, 60000);
	labels(&l, "a", 200);
	mixd_series_bind(r, &l, &s);
	assert_int_equal(mixd_reporter_start(r), MIXD_OK);
	for (int i = 0; i < 1000; i++)
		mixd_record_request(r, s, 1, 1, 1);
	t0 = hx_now_ms();
	assert_int_equal(mixd_reporter_close(r, 3000), MIXD_OK);
	assert_true(hx_now_ms() - t0 < 3000);
	drain(h, t, &from);
	assert_int_equal(need(t, key("a", 200))->count, 1000);

	/* receiver down: close gives up at its deadline */
	assert_int_equal(hx_set_mode(h, HX_DOWN), 0);
	r = mk(h->url, 10, 60000);
	mixd_series_bind(r, &l, &s);
	assert_int_equal(mixd_reporter_start(r), MIXD_OK);
	mixd_record_request(r, s, 1, 1, 1);
	t0 = hx_now_ms();
	assert_int_equal(mixd_reporter_close(r, 300), MIXD_ETIMEDOUT);
	assert_true(hx_now_ms() - t0 >= 250);
	assert_true(hx_now_ms() - t0 < 2000);

	/* never started: ships nothing */
	assert_int_equal(hx_set_mode(h, HX_OK), 0);
	size_t before = hx_count(h);
	r = mk(h->url, 10, 50);
	mixd_series_bind(r, &l, &s);
	mixd_record_request(r, s, 1, 1, 1);
	assert_int_equal(mixd_reporter_close(r, 1000), MIXD_OK);
	assert_int_equal(hx_count(h), before);
	hx_stop(h);
	rc_free(t);
	free(t);
}

static void test_reject_4xx(void **state)
{
	struct hx *h = hstart();
	struct mixd_series_labels l;
	struct mixd_stats st;
	uint32_t s;

	(void)state;
	hx_set_mode(h, HX_400);
	struct mixd_reporter *r = mk(h->url, 10, 50);
	labels(&l, "a", 200);
	mixd_series_bind(r, &l, &s);
	assert_int_equal(mixd_reporter_start(r), MIXD_OK);
	mixd_record_request(r, s, 1, 1, 1);
	assert_true(hx_wait(h, 1, 10000) >= 1);
	uint64_t until = hx_now_ms() + 10000;
	do {
		mixd_reporter_stats(r, &st);
	} while (st.reports_rejected < 1 && hx_wait(h, 100, 20) < 100 && hx_now_ms() < until);
	assert_int_equal(st.reports_rejected, 1);
	hx_set_mode(h, HX_OK);
	mixd_record_request(r, s, 1, 1, 1);
	assert_int_equal(mixd_reporter_close(r, 5000), MIXD_OK);
	/* the rejected report was not re-sent: two requests, sequences 1, 2 */
	assert_int_equal(hx_count(h), 2);
	Mixd__Report__V1__Report *a =
		mixd__report__v1__report__unpack(NULL, h->reqs[0].len, h->reqs[0].body);
	Mixd__Report__V1__Report *b =
		mixd__report__v1__report__unpack(NULL, h->reqs[1].len, h->reqs[1].body);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->sequence, 1);
	assert_int_equal(b->sequence, 2);
	assert_int_equal(h->reqs[0].status, 400);
	assert_int_equal(h->reqs[1].status, 200);
	mixd__report__v1__report__free_unpacked(a, NULL);
	mixd__report__v1__report__free_unpacked(b, NULL);
	hx_stop(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_and_args),
		cmocka_unit_test(test_buckets_sums_tcp),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_strings_copied_and_before_start),
		cmocka_unit_test(test_record_cache),
		cmocka_unit_test(test_spans),
		cmocka_unit_test(test_close_deadline),
		cmocka_unit_test(test_reject_4xx),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
