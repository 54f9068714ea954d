/*
 * bench_reporter.c - the cost of libmixd on the proxy side, measured:
 *   1. ns per mixd_record_request() on a bound handle, p50 and p99, with 1
 *      and 2 recording threads (batches of 1000 calls timed with
 *      clock_gettime; the per-call figure of each batch is one sample);
 *      the same for mixd_record_request_traced() on every call (the
 *      exemplar's wall-clock read included), and with 1 call in 100
 *      traced, the rest plain (a 1 % sampling rate), 1 thread;
 *   2. bind cost: a new label set, an existing one, and mixd_record()
 *      through the per-thread cache;
 *   3. bytes on the wire (gzip'd report body) for 1000 requests over 100
 *      label sets in one report, and per 1000 requests at 100 000 req/s;
 *   4. flush-thread CPU while one thread records 100 000 requests/s over
 *      100 series for --seconds (default 10) against a harness receiver
 *      answering 200 (CPU from the thread's CPU clock).
 * Goals: <= 20 ns p50 on a bound handle; flush thread < 1 % of one core.
 * Each result is also printed as `result name=<n> value=<v>` for scripts.
 *
 * Usage: bench_reporter [--seconds S] [--batches N]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mixd/mixd.h"
#include "tests/unit/reporter_harness.h"

#define BATCH 1000

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* realistic, varied inputs: durations 0..2 s, sizes 100 B..100 kB */
static uint64_t vals[3][1024];
/* trace and span ids for the traced calls (any non-zero bytes) */
static uint8_t trace_ids[1024][16], span_ids[1024][8];

static void make_vals(void)
{
	uint64_t x = 88172645463325252ull;

	for (int i = 0; i < 1024; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		vals[0][i] = (x % 1000) * (x % 1000) / 500;
		vals[1][i] = 100 + (x >> 20) % 2000;
		vals[2][i] = 100 + (x >> 40) % 100000;
		memset(trace_ids[i], 0, 16);
		memcpy(trace_ids[i], &x, 8);
		trace_ids[i][15] = 1;
		memcpy(span_ids[i], &x, 8);
	}
}

struct hot_arg {
	struct mixd_reporter *r;
	uint32_t series;
	size_t nb;
	double *samples;
	pthread_barrier_t *bar;
	unsigned traced; /* 0: plain calls; n: every n-th call traced */
};

/* One timed batch of traced calls: every `every`-th call traced. */
static void traced_batch(const struct hot_arg *a, size_t b, unsigned every)
{
	for (unsigned i = 0; i < BATCH; i++) {
		unsigned k = (unsigned)(b * BATCH + i) & 1023;
		if (i % every == 0)
			mixd_record_request_traced(a->r, a->series, vals[0][k], vals[1][k],
						   vals[2][k], trace_ids[k], span_ids[k]);
		else
			mixd_record_request(a->r, a->series, vals[0][k], vals[1][k], vals[2][k]);
	}
}

static void *hot_thread(void *p)
{
	struct hot_arg *a = p;

	/* warm up: registers the thread's shard */
	for (int i = 0; i < 100000; i++)
		mixd_record_request(a->r, a->series, vals[0][i & 1023], vals[1][i & 1023],
				    vals[2][i & 1023]);
	if (a->bar)
		pthread_barrier_wait(a->bar);
	for (size_t b = 0; b < a->nb; b++) {
		uint64_t t0 = now_ns();
		if (a->traced) {
			traced_batch(a, b, a->traced);
		} else {
			for (unsigned i = 0; i < BATCH; i++) {
				unsigned k = (unsigned)(b * BATCH + i) & 1023;
				mixd_record_request(a->r, a->series, vals[0][k], vals[1][k],
						    vals[2][k]);
			}
		}
		a->samples[b] = (double)(now_ns() - t0) / BATCH;
	}
	return NULL;
}

static struct mixd_reporter *new_reporter(const char *url, uint32_t interval_ms)
{
	struct mixd_config cfg;
	struct mixd_reporter *r = NULL;

	mixd_config_init(&cfg);
	cfg.url = url;
	cfg.flush_interval_ms = interval_ms;
	cfg.local.workload = "bench-v1";
	cfg.local.workload_namespace = "default";
	cfg.local.app = "bench";
	cfg.local.version = "v1";
	cfg.max_series = 20000;
	if (mixd_reporter_new(&cfg, &r) != MIXD_OK) {
		fprintf(stderr, "bench_reporter: mixd_reporter_new failed\n");
		exit(1);
	}
	return r;
}

static void labels_for(struct mixd_series_labels *l, char *buf, size_t n, unsigned i)
{
	memset(l, 0, sizeof(*l));
	snprintf(buf, n, "svc-%u", i);
	l->role = MIXD_ROLE_DESTINATION;
	l->peer.workload = buf;
	l->peer.workload_namespace = "default";
	l->peer.app = "client";
	l->peer.version = "v1";
	l->peer.principal = "spiffe://cluster.local/ns/default/sa/client";
	l->destination_service = "server.default.svc.cluster.local";
	l->destination_service_name = "server";
	l->destination_service_namespace = "default";
	l->request_protocol = "http";
	l->response_code = 200 + i % 5;
	l->grpc_response_status = "";
	l->response_flags = "-";
	l->connection_security_policy = "mutual_tls";
}

/* traced: 0 = mixd_record_request() only; n = every n-th call traced */
static void bench_hot(int threads, size_t nb, unsigned traced)
{
	struct mixd_reporter *r = new_reporter("http://127.0.0.1:9/v1/report", 1000);
	struct mixd_series_labels l;
	char buf[32];
	uint32_t s;
	pthread_t t[2];
	struct hot_arg a[2];
	pthread_barrier_t bar;
	double *all = calloc(nb * (size_t)threads, sizeof(double));

	labels_for(&l, buf, sizeof(buf), 1);
	mixd_series_bind(r, &l, &s);
	pthread_barrier_init(&bar, NULL, (unsigned)threads);
	for (int i = 0; i < threads; i++) {
		a[i] = (struct hot_arg){ r, s, nb, all + (size_t)i * nb, &bar, traced };
		pthread_create(&t[i], NULL, hot_thread, &a[i]);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&bar);
	qsort(all, nb * (size_t)threads, sizeof(double), cmp_double);
	double p50 = all[nb * (size_t)threads / 2], p99 = all[nb * (size_t)threads * 99 / 100];
	const char *what = traced == 0 ? "record on a bound handle"
			   : traced == 1 ? "traced record (every call)"
					 : "1 record in 100 traced";
	const char *tag = traced == 0 ? "record" : traced == 1 ? "record_traced" : "record_1pct_traced";
	printf("  %s, %d thread%s:   p50 %6.2f ns  p99 %6.2f ns  (%zu batches of %d)\n", what,
	       threads, threads > 1 ? "s" : " ", p50, p99, nb * (size_t)threads, BATCH);
	printf("result name=%s_ns_p50_%dt value=%.2f\n", tag, threads, p50);
	printf("result name=%s_ns_p99_%dt value=%.2f\n", tag, threads, p99);
	free(all);
	mixd_reporter_close(r, 0);
}

static void bench_bind(void)
{
	struct mixd_reporter *r = new_reporter("http://127.0.0.1:9/v1/report", 1000);
	struct mixd_series_labels l;
	char buf[32];
	uint32_t s;
	const unsigned n = 10000;
	uint64_t t0, t1, t2, t3;

	t0 = now_ns();
	for (unsigned i = 0; i < n; i++) {
		labels_for(&l, buf, sizeof(buf), i);
		mixd_series_bind(r, &l, &s);
	}
	t1 = now_ns();
	for (unsigned i = 0; i < n; i++) {
		labels_for(&l, buf, sizeof(buf), i);
		mixd_series_bind(r, &l, &s);
	}
	struct mixd_series_labels ls[32];
	char bufs[32][32];
	for (unsigned i = 0; i < 32; i++)
		labels_for(&ls[i], bufs[i], sizeof(bufs[i]), i);
	t2 = now_ns();
	for (unsigned i = 0; i < n * 10; i++)
		mixd_record(r, &ls[i % 32], 5, 300, 1200);
	t3 = now_ns();
	printf("  bind a new label set:                  %8.0f ns (label building included)\n",
	       (double)(t1 - t0) / n);
	printf("  bind an existing label set:            %8.0f ns (label building included)\n",
	       (double)(t2 - t1) / n);
	printf("  mixd_record() via the thread cache:    %8.0f ns (32 label sets, hits)\n",
	       (double)(t3 - t2) / (n * 10));
	printf("result name=bind_new_ns value=%.0f\n", (double)(t1 - t0) / n);
	printf("result name=bind_existing_ns value=%.0f\n", (double)(t2 - t1) / n);
	printf("result name=record_cached_ns value=%.0f\n", (double)(t3 - t2) / (n * 10));
	mixd_reporter_close(r, 0);
}

static void bench_wire(struct hx *h)
{
	struct mixd_reporter *r = new_reporter(h->url, 60000);
	struct mixd_series_labels l;
	char buf[32];
	uint32_t s[100];
	struct mixd_stats st;

	for (unsigned i = 0; i < 100; i++) {
		labels_for(&l, buf, sizeof(buf), i);
		mixd_series_bind(r, &l, &s[i]);
	}
	mixd_reporter_start(r);
	for (unsigned i = 0; i < 1000; i++)
		mixd_record_request(r, s[i % 100], vals[0][i], vals[1][i], vals[2][i]);
	size_t before = hx_count(h);
	mixd_reporter_stats(r, &st);
	mixd_reporter_close(r, 5000); /* the close ships the one report */
	hx_wait(h, before + 1, 5000);
	pthread_mutex_lock(&h->mu);
	size_t raw = h->n > before ? h->reqs[h->n - 1].len : 0;
	size_t wire = h->n > before ? h->reqs[h->n - 1].wire_len : 0;
	pthread_mutex_unlock(&h->mu);
	printf("  1000 requests over 100 label sets:     %8zu bytes gzip'd (%zu raw) in one "
	       "report\n",
	       wire, raw);
	printf("result name=wire_bytes_per_1000_req value=%zu\n", wire);
}

static void bench_cpu(struct hx *h, double seconds)
{
	struct mixd_reporter *r = new_reporter(h->url, 1000);
	struct mixd_series_labels l;
	char buf[32];
	uint32_t s[100];
	struct mixd_stats st0, st1;
	const uint64_t rate = 100000, step_ns = 10000000; /* 1000 every 10 ms */
	uint64_t t0, next, done = 0;
	struct timespec ts;

	for (unsigned i = 0; i < 100; i++) {
		labels_for(&l, buf, sizeof(buf), i);
		mixd_series_bind(r, &l, &s[i]);
	}
	mixd_reporter_start(r);
	mixd_reporter_stats(r, &st0);
	size_t n0 = hx_count(h);
	pthread_mutex_lock(&h->mu);
	uint64_t wb0 = h->wire_bytes;
	pthread_mutex_unlock(&h->mu);
	t0 = next = now_ns();
	while (now_ns() - t0 < (uint64_t)(seconds * 1e9)) {
		for (unsigned i = 0; i < rate * step_ns / 1000000000u; i++, done++)
			mixd_record_request(r, s[done % 100], vals[0][done & 1023],
					    vals[1][done & 1023], vals[2][done & 1023]);
		next += step_ns;
		ts.tv_sec = (time_t)(next / 1000000000u);
		ts.tv_nsec = (long)(next % 1000000000u);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	double wall = (double)(now_ns() - t0) / 1e9;
	mixd_reporter_stats(r, &st1);
	size_t reports = hx_count(h) - n0;
	pthread_mutex_lock(&h->mu);
	uint64_t wb = h->wire_bytes - wb0;
	pthread_mutex_unlock(&h->mu);
	double cpu = (double)(st1.flush_cpu_ns - st0.flush_cpu_ns) / 1e9;
	printf("  flush thread at %.0f req/s for %.1f s:  %.3f %% of one core (%.1f ms CPU, "
	       "%zu reports, %llu acked)\n",
	       (double)done / wall, wall, 100.0 * cpu / wall, cpu * 1e3, reports,
	       (unsigned long long)(st1.reports_acked - st0.reports_acked));
	printf("  wire bytes per 1000 requests at that rate: %.1f\n",
	       done ? (double)wb * 1000.0 / (double)done : 0.0);
	printf("result name=flush_cpu_percent value=%.4f\n", 100.0 * cpu / wall);
	printf("result name=wire_bytes_per_1000_req_steady value=%.1f\n",
	       done ? (double)wb * 1000.0 / (double)done : 0.0);
	mixd_reporter_close(r, 5000);
}

int main(int argc, char **argv)
{
	double seconds = 10;
	size_t batches = 20000;
	struct hx *h;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--seconds") == 0)
			seconds = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--batches") == 0)
			batches = (size_t)strtoull(argv[i + 1], NULL, 10);
	}
	if (seconds <= 0 || batches < 100) {
		fprintf(stderr, "usage: bench_reporter [--seconds S] [--batches N>=100]\n");
		return 2;
	}
	make_vals();
	printf("libmixd (%s)\n", mixd_version());
	bench_hot(1, batches, 0);
	bench_hot(2, batches, 0);
	bench_hot(1, batches, 1);
	bench_hot(1, batches, 100);
	bench_bind();
	h = hx_start();
	if (!h) {
		fprintf(stderr, "bench_reporter: cannot start the harness receiver\n");
		return 1;
	}
	bench_wire(h);
	h->count_only = 1;
	bench_cpu(h, seconds);
	hx_stop(h);
	return 0;
}
