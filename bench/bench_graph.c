/*
 * bench_graph.c - latency of the Kiali-style graph API (query/graph.h)
 * over a day of metrics rollups.
 *
 * Fills a fresh store (--dir D, removed afterwards) through the store API
 * with the traffic of --nodes workloads (default 200) in 5 namespaces and
 * --edges edges between them (default 1000, random distinct pairs, fixed
 * seed): 90 % HTTP edges reported by both the client and the server proxy
 * (code 200, and 503 on every fifth edge), 10 % TCP edges reported by the
 * client; about 2 300 series. The history covers --hours hours (default
 * 24) before a fixed end time with an injected clock: one report of every
 * series per minute for all but the last hour, then per 10 s (the
 * resolution the store keeps after its downsampling), each report
 * committed before the clock moves on.
 *
 * Then, single-threaded, mx_graph_answer() for the workload graph of all
 * five namespaces (all appenders, JSON included) --iters times (default
 * 50) over a 1 h window and over a 24 h window, and the versionedApp and
 * service graphs over 1 h; p50 / p99 / max per window, and the time spent
 * reading the window (mx_store_rollup_window alone) for comparison; the
 * CPU time of the graph thread is printed too (the machine may be shared).
 *
 * Goals (issue 8): 1 h <= 20 ms, 24 h <= 100 ms.
 * Prints `result name=graph_<what> p50_ms=.. p99_ms=.. max_ms=..` lines.
 *
 * Usage: bench_graph --dir D [--nodes N] [--edges N] [--hours H] [--iters N]
 */
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../model/error.h"
#include "../query/graph.h"
#include "../storage/metrics.h"
#include "../storage/store.h"

#define SEC 1000000000ull
#define END_S 1700086400ull /* the end of the history, Unix s */
#define N_NS 5

static _Atomic uint64_t clock_ns;
static uint64_t fake_now(void)
{
	return atomic_load(&clock_ns);
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of the calling thread: what a graph costs whatever else the
 * (shared) machine runs */
static double cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static struct mx_str cs(const char *s)
{
	return (struct mx_str){ s, (uint32_t)strlen(s) };
}

struct wl {
	char name[32], app[32], ns[8], host[64], princ[96];
	struct mx_workload w;
};

static struct wl *wls;
static struct mx_request_agg *tmpl_req;
static struct mx_tcp_agg *tmpl_tcp;
static uint32_t n_req, n_tcp;

static void make_labels(struct mx_series_labels *l, const struct wl *src,
			const struct wl *dst, int role, const char *proto,
			const char *code, const char *csp)
{
	memset(l, 0, sizeof(*l));
	l->role = (uint8_t)role;
	l->local = role == MX_ROLE_SOURCE ? &src->w : &dst->w;
	l->peer = role == MX_ROLE_SOURCE ? dst->w : src->w;
	l->destination_service = cs(dst->host);
	l->destination_service_name = cs(dst->app);
	l->destination_service_namespace = cs(dst->ns);
	l->request_protocol = cs(proto);
	l->response_code = cs(code);
	l->grpc_response_status = cs("");
	l->response_flags = cs("-");
	l->connection_security_policy = cs(csp);
}

static void build_topology(uint32_t nodes, uint32_t edges)
{
	wls = calloc(nodes, sizeof(*wls));
	tmpl_req = calloc((size_t)edges * 4, sizeof(*tmpl_req));
	tmpl_tcp = calloc(edges, sizeof(*tmpl_tcp));
	uint8_t *used = calloc((size_t)nodes * nodes, 1);
	if (!wls || !tmpl_req || !tmpl_tcp || !used) {
		fprintf(stderr, "bench_graph: out of memory\n");
		exit(1);
	}
	for (uint32_t i = 0; i < nodes; i++) {
		struct wl *w = &wls[i];
		snprintf(w->app, sizeof(w->app), "svc-%03u", i);
		snprintf(w->name, sizeof(w->name), "svc-%03u-v1", i);
		snprintf(w->ns, sizeof(w->ns), "ns%u", i % N_NS);
		snprintf(w->host, sizeof(w->host), "%s.%s.svc.cluster.local", w->app, w->ns);
		snprintf(w->princ, sizeof(w->princ), "spiffe://cluster.local/ns/%s/sa/%s",
			 w->ns, w->app);
		w->w = (struct mx_workload){ cs(w->name), cs(w->ns), cs(w->app), cs("v1"),
					     cs(w->app), cs("v1"), cs("Kubernetes"),
					     cs(w->princ) };
	}
	for (uint32_t e = 0; e < edges; e++) {
		uint32_t s, d;
		do {
			s = (uint32_t)(rnd() % nodes);
			d = (uint32_t)(rnd() % nodes);
		} while (s == d || used[(size_t)s * nodes + d]);
		used[(size_t)s * nodes + d] = 1;
		if (e % 10 == 9) {
			make_labels(&tmpl_tcp[n_tcp++].labels, &wls[s], &wls[d],
				    MX_ROLE_SOURCE, "tcp", "", "unknown");
			continue;
		}
		for (int err = 0; err < (e % 5 == 0 ? 2 : 1); err++) {
			make_labels(&tmpl_req[n_req++].labels, &wls[s], &wls[d],
				    MX_ROLE_SOURCE, "http", err ? "503" : "200", "unknown");
			make_labels(&tmpl_req[n_req++].labels, &wls[s], &wls[d],
				    MX_ROLE_DESTINATION, "http", err ? "503" : "200",
				    "mutual_tls");
		}
	}
	free(used);
}

struct acks {
	_Atomic int done, status;
};

static void on_commit(void *ctx, int status)
{
	struct acks *a = ctx;
	atomic_store(&a->status, status);
	atomic_store(&a->done, 1);
}

/* One report of every series (deltas scaled by `mult`), committed at the
 * current clock. */
static void report(struct mx_store *st, uint64_t seq, uint64_t mult)
{
	struct mx_batch *b = mx_batch_new(64u << 20);
	struct mx_report *r = b ? mx_arena_calloc(&b->arena, 1, sizeof(*r)) : NULL;
	if (!r) {
		fprintf(stderr, "bench_graph: out of memory\n");
		exit(1);
	}
	memset(r->instance_id, 0x42, 16);
	r->sequence = seq;
	r->batch = b;
	r->reporter = wls[0].w;
	r->requests = mx_arena_alloc(&b->arena, (size_t)n_req * sizeof(*r->requests));
	r->tcp = mx_arena_alloc(&b->arena, (size_t)(n_tcp ? n_tcp : 1) * sizeof(*r->tcp));
	r->n_requests = n_req;
	r->n_tcp = n_tcp;
	for (uint32_t i = 0; i < n_req; i++) {
		struct mx_request_agg *a = &r->requests[i];
		*a = tmpl_req[i];
		uint64_t n = (1 + i % 5) * mult;
		uint64_t dur[MX_HIST_BUCKETS] = { 0 }, req[MX_HIST_BUCKETS] = { 0 },
			 resp[MX_HIST_BUCKETS] = { 0 };
		a->count = n;
		dur[3] = n - n / 4;
		dur[5] = n / 4;
		req[6] = n;
		resp[8] = n;
		if (mx_hist_set(&a->duration, dur, &b->arena) != MX_OK ||
		    mx_hist_set(&a->request_bytes, req, &b->arena) != MX_OK ||
		    mx_hist_set(&a->response_bytes, resp, &b->arena) != MX_OK) {
			fprintf(stderr, "bench_graph: out of memory\n");
			exit(1);
		}
		a->duration.sum = 12.0 * (double)n;
		a->request_bytes.sum = 300.0 * (double)n;
		a->response_bytes.sum = 800.0 * (double)n;
	}
	for (uint32_t i = 0; i < n_tcp; i++) {
		struct mx_tcp_agg *a = &r->tcp[i];
		*a = tmpl_tcp[i];
		a->opened = a->closed = mult;
		a->sent_bytes = 1000 * mult;
		a->received_bytes = 4000 * mult;
	}
	struct acks ak = { 0, 0 };
	int rc;
	while ((rc = mx_store_submit_report(st, b, r, on_commit, &ak)) == MX_EBUSY)
		usleep(1000);
	if (rc != MX_OK) {
		fprintf(stderr, "bench_graph: submit: %s\n", mx_strerror(rc));
		exit(1);
	}
	for (int i = 0; !atomic_load(&ak.done) && i < 600000; i++)
		usleep(50);
	if (!atomic_load(&ak.done) || atomic_load(&ak.status) != MX_OK) {
		fprintf(stderr, "bench_graph: commit failed\n");
		exit(1);
	}
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void summary(const char *name, const char *label, double *v, unsigned n,
		    const char *extra)
{
	qsort(v, n, sizeof(*v), cmp_dbl);
	double p50 = v[n / 2] * 1e3, p99 = v[(size_t)((double)(n - 1) * 0.99)] * 1e3;
	double mx = v[n - 1] * 1e3;
	printf("  %-44s p50 %8.3f ms  p99 %8.3f ms  max %8.3f ms  (%u runs%s%s)\n", label,
	       p50, p99, mx, n, extra ? "; " : "", extra ? extra : "");
	printf("result name=%s p50_ms=%.3f p99_ms=%.3f max_ms=%.3f n=%u\n", name, p50, p99,
	       mx, n);
}

static int count_series(void *ctx, const struct mx_rollup_series *s)
{
	(void)s;
	(*(size_t *)ctx)++;
	return 0;
}

/* Times `iters` graph answers; returns the body size of the last. */
static size_t run_graph(struct mx_store *st, const char *name, const char *label,
			const char *dur, const char *gtype, unsigned iters, double *t)
{
	char qt[32], ns[64];
	snprintf(qt, sizeof(qt), "%llu", (unsigned long long)END_S);
	snprintf(ns, sizeof(ns), "ns0,ns1,ns2,ns3,ns4");
	const char *const params[] = { "namespaces", ns, "duration", dur, "queryTime", qt,
				       "graphType", gtype, NULL };
	struct mx_params p;
	size_t bytes = 0;
	double *c = calloc(iters, sizeof(*c));
	if (!c)
		exit(1);
	mx_params_from_pairs(&p, params);
	for (unsigned i = 0; i < iters; i++) {
		struct mx_buf b;
		mx_buf_init(&b, MX_GRAPH_MAX_RESPONSE);
		double t0 = mono(), c0 = cpu();
		unsigned status = mx_graph_answer(st, "/api/namespaces/graph", &p,
						  (int64_t)END_S, &b);
		t[i] = mono() - t0;
		c[i] = cpu() - c0;
		if (status != 200) {
			fprintf(stderr, "bench_graph: status %u: %.*s\n", status,
				(int)b.len, (const char *)b.data);
			exit(1);
		}
		bytes = b.len;
		mx_buf_free(&b);
	}
	char extra[96], cname[64];
	qsort(c, iters, sizeof(*c), cmp_dbl);
	snprintf(extra, sizeof(extra), "%zu bytes of JSON; CPU p50 %.3f ms", bytes,
		 c[iters / 2] * 1e3);
	summary(name, label, t, iters, extra);
	snprintf(cname, sizeof(cname), "%s_cpu", name);
	printf("result name=%s p50_ms=%.3f p99_ms=%.3f max_ms=%.3f n=%u\n", cname,
	       c[iters / 2] * 1e3, c[(size_t)((double)(iters - 1) * 0.99)] * 1e3,
	       c[iters - 1] * 1e3, iters);
	free(c);
	return bytes;
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	unsigned nodes = 200, edges = 1000, hours = 24, iters = 50;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--nodes"))
			nodes = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--edges"))
			edges = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--hours"))
			hours = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--iters"))
			iters = (unsigned)atoi(argv[i + 1]);
	}
	if (!dir || nodes < 2 || edges == 0 || (uint64_t)edges > (uint64_t)nodes * (nodes - 1) ||
	    hours == 0 || iters == 0) {
		fprintf(stderr, "usage: bench_graph --dir D [--nodes N] [--edges N] "
			"[--hours H] [--iters N]\n");
		return 2;
	}
	/* as the daemon does (collector/main.c): big chunks stay on the heap */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	build_topology(nodes, edges);
	mkdir(dir, 0700);
	struct mx_store_config cfg;
	struct mx_store *st = NULL;
	char err[256];
	mx_store_config_default(&cfg);
	cfg.path = dir;
	cfg.sync = MX_SYNC_NONE;
	cfg.max_size = 8ull << 30;
	cfg.now_ns = fake_now;
	cfg.retention_ns = 72ull * 3600 * SEC;
	cfg.metrics_idle_ns = 0;
	uint64_t start = END_S - (uint64_t)hours * 3600;
	atomic_store(&clock_ns, start * SEC);
	if (mx_store_open(&cfg, &st, err, sizeof(err)) != MX_OK) {
		fprintf(stderr, "bench_graph: open %s: %s\n", dir, err);
		return 1;
	}
	printf("--- graph API latency (bench_graph): %u workloads in %d namespaces, %u edges, "
	       "%u h of rollups ---\n", nodes, N_NS, edges, hours);
	double t0 = mono();
	uint64_t seq = 0, steps = 0;
	/* per minute until the last hour, then per 10 s; commits land 5 s
	 * into their 10 s bucket */
	for (uint64_t t = start; t < END_S; t += (END_S - t > 3600 ? 60 : 10)) {
		atomic_store(&clock_ns, (t + 5) * SEC);
		report(st, ++seq, END_S - t > 3600 ? 6 : 1);
		steps++;
	}
	atomic_store(&clock_ns, END_S * SEC);
	mx_store_sweep(st);
	double fill = mono() - t0;
	size_t n_series = 0;
	mx_store_rollup_window(st, (END_S - 3600) * SEC, END_S * SEC, count_series, &n_series);
	printf("  filled %u request + %u TCP series, %llu reports (%.1f M rollup rows) in "
	       "%.1f s; %zu series changed in the last hour\n", n_req, n_tcp,
	       (unsigned long long)steps, (double)steps * (n_req + n_tcp) / 1e6, fill,
	       n_series);
	printf("result name=graph_fill series=%u reports=%llu seconds=%.1f\n", n_req + n_tcp,
	       (unsigned long long)steps, fill);

	double *t = calloc(iters, sizeof(*t));
	if (!t)
		return 1;
	/* the window read alone, for comparison */
	for (int w = 0; w < 2; w++) {
		uint64_t d = w ? 24 * 3600 : 3600;
		for (unsigned i = 0; i < iters; i++) {
			size_t n = 0;
			double a = mono();
			mx_store_rollup_window(st, (END_S - d) * SEC, END_S * SEC, count_series, &n);
			t[i] = mono() - a;
		}
		summary(w ? "graph_read_24h" : "graph_read_1h",
			w ? "rollup window read, 24 h" : "rollup window read, 1 h", t, iters, NULL);
	}
	run_graph(st, "graph_1h", "workload graph, 5 namespaces, 1 h (goal 20 ms)",
		  "1h", "workload", iters, t);
	run_graph(st, "graph_24h", "workload graph, 5 namespaces, 24 h (goal 100 ms)",
		  "24h", "workload", iters, t);
	run_graph(st, "graph_vapp_1h", "versionedApp graph, 1 h", "1h", "versionedApp",
		  iters, t);
	run_graph(st, "graph_service_1h", "service graph, 1 h", "1h", "service", iters, t);
	free(t);
	mx_store_close(st);
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_graph: could not remove %s\n", dir);
	return 0;
}
