/*
 * bench_prom.c - the Prometheus endpoint's renderer, measured: time and
 * bytes to render about 100 000 sample lines of Istio's standard metrics
 * (1490 HTTP series of 67 lines each and 50 TCP series of 4, with
 * Bookinfo-like label values of realistic length), in text 0.0.4 and in
 * OpenMetrics (with an exemplar on every HTTP series), plain and gzip'd.
 * gzip is measured two ways: render then mx_gzip() the whole body, and
 * the streaming path the HTTP layer uses (64 KiB iterator chunks through
 * mx_gz_write()). Each figure is the median of --runs runs (default 21)
 * after one warm-up run, single thread.
 * Goals: <= 50 ms plain, <= 200 ms gzip for 100 000 lines.
 * Each result is also printed as `result name=prom_<what> ...` for scripts.
 *
 * Usage: bench_prom [--runs N] [--http-series N] [--tcp-series N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/deflate.h"
#include "model/error.h"
#include "query/prom.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static struct mx_str S(const char *s)
{
	return (struct mx_str){ s, (uint32_t)strlen(s) };
}

/* label strings live here: up to 8 per series */
static char (*pool)[96];

static struct mx_str fmt(size_t slot, const char *pre, unsigned a, const char *suf)
{
	snprintf(pool[slot], sizeof(pool[slot]), "%s%u%s", pre, a, suf);
	return S(pool[slot]);
}

static void make_series(struct mx_istio_series *s, size_t nh, size_t nt)
{
	static const char *const codes[] = { "200", "200", "200", "404", "503", "0" };
	uint64_t x = 88172645463325252ull;

	for (size_t i = 0; i < nh + nt; i++) {
		struct mx_istio_series *e = &s[i];
		unsigned src = (unsigned)(i % 37), dst = (unsigned)(i / 37 % 41);
		size_t slot = i * 8;
		bool tcp = i >= nh;

		memset(e, 0, sizeof(*e));
		e->kind = tcp ? MX_ISTIO_TCP : MX_ISTIO_HTTP;
		e->labels[0] = S(i & 1 ? "destination" : "source");
		e->labels[1] = fmt(slot, "productpage-", src, "-v1");
		e->labels[2] = fmt(slot + 1, "productpage-", src, "");
		e->labels[3] = S("v1");
		e->labels[4] = S("bookinfo");
		e->labels[5] = fmt(slot + 2, "spiffe://cluster.local/ns/bookinfo/sa/productpage-", src, "");
		e->labels[6] = e->labels[2];
		e->labels[7] = S("v1");
		e->labels[8] = S("Kubernetes");
		e->labels[9] = fmt(slot + 3, "reviews-", dst, "-v2");
		e->labels[10] = S("bookinfo");
		e->labels[11] = fmt(slot + 4, "spiffe://cluster.local/ns/bookinfo/sa/reviews-", dst, "");
		e->labels[12] = fmt(slot + 5, "reviews-", dst, "");
		e->labels[13] = S("v2");
		e->labels[14] = fmt(slot + 6, "reviews-", dst, ".bookinfo.svc.cluster.local");
		e->labels[15] = e->labels[12];
		e->labels[16] = S("v2");
		e->labels[17] = e->labels[12];
		e->labels[18] = S("bookinfo");
		e->labels[19] = S("Kubernetes");
		if (tcp) {
			e->labels[20] = S("tcp");
			e->labels[21] = S("-");
			e->labels[22] = S("mutual_tls");
			e->tcp_opened = i * 3;
			e->tcp_closed = i * 3 - 1;
			e->tcp_sent = i * 123457;
			e->tcp_received = i * 98765;
			continue;
		}
		e->labels[20] = S(i % 5 ? "http" : "grpc");
		e->labels[21] = S(codes[i % 6]);
		e->labels[22] = S(i % 5 ? "" : "0");
		e->labels[23] = S(i % 7 ? "-" : "UF,URX");
		e->labels[24] = S(i & 1 ? "mutual_tls" : "unknown");
		for (int b = 0; b < MX_HIST_BUCKETS; b++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			uint64_t v = b < 12 ? x % 100000 : x % 10;
			e->duration.buckets[b] = v;
			e->request_bytes.buckets[b] = v / 3;
			e->response_bytes.buckets[b] = v / 2;
			e->count += v;
			e->duration.sum += (double)(v * (uint64_t)(b + 1) * 37);
			e->request_bytes.sum += (double)(v / 3 * 700);
			e->response_bytes.sum += (double)(v / 2 * 5100);
		}
		e->has_exemplar = true;
		for (int k = 0; k < 16; k++)
			e->exemplar.trace_id[k] = (uint8_t)(x >> (k * 4));
		for (int k = 0; k < 8; k++)
			e->exemplar.span_id[k] = (uint8_t)(x >> (k * 8));
		e->exemplar.value = (double)(x % 3000);
		e->exemplar.time_ns = 1700000000000000000ull + x % 1000000000000ull;
	}
}

struct res {
	uint64_t ns;
	size_t bytes;
	size_t lines;
};

enum mode { PLAIN, GZIP_WHOLE, GZIP_STREAM };

static int run_once(const struct mx_istio_series *s, size_t n, enum mx_prom_format f,
		    enum mode m, struct mx_buf *plain, struct mx_buf *z, struct res *r)
{
	mx_buf_reset(plain);
	mx_buf_reset(z);
	uint64_t t0 = now_ns();
	int rc;
	if (m != GZIP_STREAM) {
		rc = mx_prom_render(s, n, f, plain);
		if (rc == MX_OK && m == GZIP_WHOLE)
			rc = mx_gzip(plain->data, plain->len, z);
	} else {
		struct mx_prom_iter it;
		struct mx_gz gz;
		rc = mx_prom_iter_init(&it, s, n, f);
		if (rc == MX_OK)
			rc = mx_gz_init(&gz);
		else
			gz.init = false;
		int more = 1;
		while (rc == MX_OK && more == 1) {
			mx_buf_reset(plain);
			more = mx_prom_iter_next(&it, plain, 64u << 10);
			if (more < 0)
				rc = more;
			else
				rc = mx_gz_write(&gz, plain->data, plain->len, more == 0, z);
		}
		mx_gz_free(&gz);
		mx_prom_iter_free(&it);
	}
	r->ns = now_ns() - t0;
	r->bytes = m == PLAIN ? plain->len : z->len;
	return rc;
}

int main(int argc, char **argv)
{
	int runs = 21;
	size_t nh = 1490, nt = 50;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--runs"))
			runs = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--http-series"))
			nh = (size_t)atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--tcp-series"))
			nt = (size_t)atol(argv[i + 1]);
	}
	if (runs < 1 || runs > 1000 || nh + nt == 0) {
		fprintf(stderr, "usage: bench_prom [--runs N] [--http-series N] [--tcp-series N]\n");
		return 2;
	}
	struct mx_istio_series *s = calloc(nh + nt, sizeof(*s));
	pool = calloc((nh + nt) * 8, sizeof(*pool));
	uint64_t *ns = calloc((size_t)runs, sizeof(*ns));
	if (!s || !pool || !ns)
		return 1;
	make_series(s, nh, nt);

	struct mx_buf plain, z;
	mx_buf_init(&plain, 1u << 30);
	mx_buf_init(&z, 1u << 30);
	static const char *const fname[2] = { "text", "openmetrics" };
	static const char *const mname[3] = { "plain", "gzip", "gzip_stream" };
	printf("bench_prom: %zu HTTP + %zu TCP series, median of %d runs, single thread\n",
	       nh, nt, runs);
	for (int f = 0; f < 2; f++) {
		size_t plain_bytes = 0;
		struct res r;
		/* count the sample lines once */
		mx_buf_reset(&plain);
		if (mx_prom_render(s, nh + nt, (enum mx_prom_format)f, &plain) != MX_OK)
			return 1;
		size_t samples = 0;
		for (size_t i = 0, bol = 1; i < plain.len; i++) {
			if (bol && plain.data[i] != '#')
				samples++;
			bol = plain.data[i] == '\n';
		}
		plain_bytes = plain.len;
		for (int m = 0; m < 3; m++) {
			if (run_once(s, nh + nt, (enum mx_prom_format)f, (enum mode)m, &plain, &z, &r))
				return 1; /* warm-up */
			for (int k = 0; k < runs; k++) {
				if (run_once(s, nh + nt, (enum mx_prom_format)f, (enum mode)m, &plain,
					     &z, &r))
					return 1;
				ns[k] = r.ns;
			}
			qsort(ns, (size_t)runs, sizeof(*ns), cmp_u64);
			double ms = (double)ns[runs / 2] / 1e6, best = (double)ns[0] / 1e6;
			double goal = m == PLAIN ? 50 : 200;
			printf("  %-11s %-11s %7zu lines %10zu bytes -> %10zu bytes  %7.1f ms "
			       "(best %.1f)  %5.1f MB/s  goal <= %.0f ms: %s\n",
			       fname[f], mname[m], samples, plain_bytes, r.bytes, ms, best,
			       (double)plain_bytes / 1e6 / (ms / 1e3), goal,
			       ms <= goal ? "met" : "MISSED");
			printf("result name=prom_%s_%s lines=%zu bytes=%zu out_bytes=%zu ms=%.2f "
			       "best_ms=%.2f\n", fname[f], mname[m], samples, plain_bytes,
			       r.bytes, ms, best);
		}
	}
	mx_buf_free(&plain);
	mx_buf_free(&z);
	free(ns);
	free(pool);
	free(s);
	return 0;
}
