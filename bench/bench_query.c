/*
 * bench_query.c - read-side latency of mixd's store: trace by id and trace
 * search over a store of one million spans.
 *
 * Store mode (--dir D): opens a fresh store in D through the store API
 * (storage/store.h) and fills it with --spans spans (default 1 000 000) in
 * batches of 512 handed to mx_store_submit(), as the receivers do. The
 * spans are realistic: traces of 8 to 32 spans (a SERVER root in `frontend`,
 * then CLIENT and SERVER spans over 6 services, 20 operations), 20
 * attributes each (strings, ints, bools, a double; `peer.service` on CLIENT
 * spans), durations log-uniform from 50 µs to 2 s, start times spread over
 * the hour before the run, 2 % errors; traces straddle batch boundaries like
 * a trace sent in several requests. Then it measures, single-threaded:
 *   - mx_store_get_trace() for --lookups random existing trace ids (default
 *     2000), checking every answer holds the spans written;
 *   - mx_store_search() for --queries queries of each typical shape (service
 *     only; service + operation; service + tag; service + minDuration;
 *     service + 1-minute window; no service; and the worst case, a tag no
 *     span has, which scans the service's whole index), limit 20, random
 *     parameters, the daemon's default 5 s deadline;
 * and prints p50 / p99 / max per measurement plus `result ...` lines for
 * bench/run.sh. With --ids-out F it writes the hex trace ids it looked up,
 * one a line, and keeps the store for the HTTP mode; otherwise the store is
 * removed.
 *
 * HTTP mode (--http-port P --ids F): GET /api/traces/{id} on a running mixd
 * (the Jaeger query listener on 127.0.0.1:P, serving the store above) for
 * each id of F over one keep-alive connection; prints p50 / p99.
 *
 * Goals (issue 3): trace by id <= 1 ms, search <= 20 ms.
 *
 * Usage: bench_query --dir D [--spans N] [--lookups N] [--queries N]
 *                    [--ids-out F]
 *        bench_query --http-port P --ids F [--lookups N]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../model/error.h"
#include "../storage/search.h"
#include "../storage/store.h"
#include "body.h"

#define BATCH 512
#define N_SVC 6
#define N_OPS 20
#define N_ATTRS 20
#define MAX_TRACE 32
#define WINDOW_NS 3600000000000ull /* start times spread over one hour */

struct opts {
	const char *dir;
	const char *ids_out;
	const char *ids_in;
	uint64_t spans;
	uint32_t lookups;
	uint32_t queries;
	int http_port;
};

static const char *const svc_names[N_SVC] = {
	"frontend", "checkout", "cart", "payment", "shipping", "inventory"
};

static const struct {
	unsigned svc;
	const char *name;
} ops[N_OPS] = {
	{ 0, "GET /" }, { 0, "GET /product/{id}" }, { 0, "POST /cart" }, { 0, "GET /cart" },
	{ 1, "PlaceOrder" }, { 1, "PrepareOrderItems" }, { 1, "ChargeCard" },
	{ 2, "AddItem" }, { 2, "GetCart" }, { 2, "EmptyCart" },
	{ 3, "Charge" }, { 3, "Refund" }, { 3, "ValidateCard" },
	{ 4, "GetQuote" }, { 4, "ShipOrder" }, { 4, "TrackOrder" },
	{ 5, "ListProducts" }, { 5, "GetProduct" }, { 5, "SearchProducts" },
	{ 5, "ReserveStock" },
};

static const char *const tiers[3] = { "gold", "silver", "bronze" };
static const char *const regions[3] = { "eu-west-1", "us-east-1", "ap-south-1" };
static const char *const methods[4] = { "GET", "POST", "PUT", "DELETE" };

/* The operations of each service, filled by ops_init(). */
static unsigned svc_ops[N_SVC][N_OPS];
static unsigned svc_nops[N_SVC];

static void ops_init(void)
{
	for (unsigned i = 0; i < N_OPS; i++)
		svc_ops[ops[i].svc][svc_nops[ops[i].svc]++] = i;
}

/* ------------------------------------------------------------ generator */

/* The state of the trace being generated; it survives batch boundaries. */
struct gen {
	uint64_t rnd;
	uint64_t base_ns;    /* start of the window */
	uint64_t step_ns;    /* between trace starts */
	uint32_t trace;      /* index of the current trace */
	uint32_t k, size;    /* next span of it, and its size */
	uint64_t tstart;
	uint8_t tid[16];
	uint8_t sids[MAX_TRACE][8];
	/* what was written, for the lookups */
	uint8_t (*ids)[16];
	uint8_t *sizes;
	uint32_t cap_traces;
};

static struct mx_str bstr(struct mx_batch *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static struct mx_str bstr(struct mx_batch *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(tmp))
		n = (int)sizeof(tmp) - 1;
	return mx_batch_str(b, tmp, (size_t)n);
}

static struct mx_str cstr(const char *s)
{
	return (struct mx_str){ s, (uint32_t)strlen(s) };
}

static void a_str(struct mx_attr *a, const char *k, struct mx_str v)
{
	a->key = cstr(k);
	a->value.type = MX_VAL_STRING;
	a->value.u.s = v;
}

static void a_int(struct mx_attr *a, const char *k, int64_t v)
{
	a->key = cstr(k);
	a->value.type = MX_VAL_INT;
	a->value.u.i = v;
}

static void a_bool(struct mx_attr *a, const char *k, bool v)
{
	a->key = cstr(k);
	a->value.type = MX_VAL_BOOL;
	a->value.u.b = v;
}

/* One resource per service for a batch. */
static int make_resources(struct mx_batch *b, const struct mx_resource **res,
			  const struct mx_scope **scope)
{
	struct mx_scope *sc = mx_arena_calloc(&b->arena, 1, sizeof(*sc));

	if (!sc)
		return -1;
	sc->name = cstr("io.opentelemetry.bench");
	sc->version = cstr("1.0.0");
	*scope = sc;
	for (unsigned s = 0; s < N_SVC; s++) {
		struct mx_resource *r = mx_arena_calloc(&b->arena, 1, sizeof(*r));
		struct mx_attr *a = mx_arena_calloc(&b->arena, 5, sizeof(*a));

		if (!r || !a)
			return -1;
		a_str(&a[0], "service.name", cstr(svc_names[s]));
		a_str(&a[1], "service.version", cstr("2.4.1"));
		a_str(&a[2], "host.name", bstr(b, "node-%u.cluster.local", s));
		a_str(&a[3], "k8s.pod.name", bstr(b, "%s-5c8d7f9b4-%05u", svc_names[s], s * 7919));
		a_str(&a[4], "telemetry.sdk.language", cstr("java"));
		r->attrs = (struct mx_attrs){ a, 5 };
		res[s] = r;
	}
	return 0;
}

/* Starts the next trace: id, size, start time. Returns -1 when the id table
 * is full. */
static int next_trace(struct gen *g)
{
	if (g->trace + 1 >= g->cap_traces)
		return -1;
	g->trace++;
	g->k = 0;
	g->size = 8 + (uint32_t)(bench_rand(&g->rnd) % 25);
	bench_put64(g->tid, bench_rand(&g->rnd) | 1);
	bench_put64(g->tid + 8, bench_rand(&g->rnd));
	memcpy(g->ids[g->trace], g->tid, 16);
	g->sizes[g->trace] = (uint8_t)g->size;
	g->tstart = g->base_ns + (uint64_t)g->trace * g->step_ns;
	return 0;
}

/* Appends the next span of the current trace to `b`. */
static int gen_span(struct gen *g, struct mx_batch *b,
		    const struct mx_resource *const *res, const struct mx_scope *scope)
{
	struct mx_span *s;
	struct mx_attr *a;
	uint64_t r = bench_rand(&g->rnd), r2 = bench_rand(&g->rnd);
	unsigned svc, op, i = 0;
	bool err = (r >> 8) % 50 == 0;
	double u = (double)(r2 % 1000000) / 1e6;

	if (g->k == g->size && next_trace(g) < 0)
		return -1;
	s = mx_batch_add_span(b);
	a = mx_arena_calloc(&b->arena, N_ATTRS, sizeof(*a));
	if (!s || !a)
		return -1;
	svc = g->k == 0 ? 0 : 1 + (unsigned)(r % (N_SVC - 1));
	op = svc_ops[svc][(r >> 4) % svc_nops[svc]];
	memcpy(s->trace_id, g->tid, 16);
	bench_put64(s->span_id, bench_rand(&g->rnd) | 1);
	memcpy(g->sids[g->k], s->span_id, 8);
	if (g->k > 0)
		memcpy(s->parent_span_id, g->sids[(r >> 12) % g->k], 8);
	s->kind = g->k == 0 || (g->k & 1) == 0 ? MX_KIND_SERVER : MX_KIND_CLIENT;
	s->name = cstr(ops[op].name);
	s->flags = 0x101;
	s->start_ns = g->tstart + (uint64_t)g->k * 20000 + (r >> 40) % 10000;
	s->end_ns = s->start_ns + (uint64_t)(50000.0 * pow(40000.0, u));
	s->status_code = err ? MX_STATUS_ERROR : MX_STATUS_OK;
	if (err)
		s->status_message = cstr("upstream connect error or disconnect/reset before headers");
	s->resource = res[svc];
	s->scope = scope;

	a_str(&a[i++], "http.method", cstr(methods[r & 3]));
	a_str(&a[i++], "http.route", cstr(ops[op].name));
	a_str(&a[i++], "http.url", bstr(b, "https://%s.shop.example.com:8443/api/v2/%s/%08x",
					  svc_names[svc], ops[op].name, (unsigned)(r2 >> 20)));
	a_int(&a[i++], "http.status_code", err ? 503 : 200);
	a_str(&a[i++], "http.host", bstr(b, "%s.shop.example.com:8443", svc_names[svc]));
	a_str(&a[i++], "http.flavor", cstr("1.1"));
	a_str(&a[i++], "http.user_agent",
	      cstr("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/118.0 Safari/537.36"));
	a_str(&a[i++], "net.peer.name", bstr(b, "%s-7d9f8b6c5-%05x.svc", svc_names[svc],
					       (unsigned)(r2 >> 40) & 0xfffff));
	a_str(&a[i++], "net.peer.ip", bstr(b, "10.%u.%u.%u", (unsigned)(r >> 40) & 255,
					     (unsigned)(r >> 48) & 255, (unsigned)(r >> 56)));
	a_int(&a[i++], "net.peer.port", 8443);
	a_int(&a[i++], "thread.id", (int64_t)((r >> 20) % 200));
	a_str(&a[i++], "customer.tier", cstr(tiers[(r >> 24) % 3]));
	a_str(&a[i++], "region", cstr(regions[(r >> 28) % 3]));
	a_int(&a[i++], "user.id", (int64_t)((r2 >> 8) % 100000));
	a_str(&a[i++], "guid:x-request-id", bstr(b, "%08x-%04x-4%03x-a%03x-%012llx",
		(unsigned)r2, (unsigned)(r >> 16) & 0xffff, (unsigned)(r >> 32) & 0xfff,
		(unsigned)(r >> 44) & 0xfff, (unsigned long long)(r2 & 0xffffffffffffull)));
	a_str(&a[i++], "component", cstr(r & 16 ? "grpc" : "http"));
	a_bool(&a[i++], "sampled", true);
	a_bool(&a[i++], "cache.hit", (r >> 33) & 1);
	a[i].key = cstr("upstream.duration_ms");
	a[i].value.type = MX_VAL_DOUBLE;
	a[i++].value.u.d = (double)(r2 % 100000) / 100.0;
	if (s->kind == MX_KIND_CLIENT)
		a_str(&a[i++], "peer.service", cstr(svc_names[(svc + 1) % N_SVC]));
	else
		a_str(&a[i++], "span.origin", cstr("local"));
	for (unsigned k = 0; k < i; k++)
		if (a[k].value.type == MX_VAL_STRING && !a[k].value.u.s.ptr)
			return -1; /* arena cap */
	s->attrs = (struct mx_attrs){ a, i };
	g->k++;
	return 0;
}

/* ---------------------------------------------------------------- fill */

static atomic_uint_fast64_t g_acked, g_ack_fail;

static void ack_cb(void *ctx, int status)
{
	(void)ctx;
	if (status != MX_OK)
		atomic_fetch_add(&g_ack_fail, 1);
	atomic_fetch_add(&g_acked, 1);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Fills the store; returns the number of traces written, or 0 on failure. */
static uint32_t fill(struct mx_store *st, struct gen *g, uint64_t n_spans)
{
	uint64_t done = 0, submitted = 0, busy = 0;
	double t0 = bench_now(), t;

	while (done < n_spans) {
		struct mx_batch *b = mx_batch_new(16u << 20);
		const struct mx_resource *res[N_SVC];
		const struct mx_scope *scope;
		uint32_t n = n_spans - done < BATCH ? (uint32_t)(n_spans - done) : BATCH;
		int rc;

		if (!b || mx_batch_reserve(b, n) != MX_OK || make_resources(b, res, &scope) < 0)
			goto fail;
		b->received_ns = (uint64_t)time(NULL) * 1000000000ull;
		for (uint32_t i = 0; i < n; i++)
			if (gen_span(g, b, res, scope) < 0)
				goto fail;
		/* bounded: give up after 120 s of a full queue */
		for (unsigned w = 0; (rc = mx_store_submit(st, b, ack_cb, NULL)) == MX_EBUSY; w++) {
			if (w > 120000)
				break;
			busy++;
			sleep_ms(1);
		}
		if (rc != MX_OK) {
			fprintf(stderr, "bench_query: submit: %s\n", mx_strerror(rc));
			mx_batch_free(b);
			return 0;
		}
		submitted++;
		done += n;
		continue;
fail:
		fprintf(stderr, "bench_query: cannot build a batch (arena cap)\n");
		mx_batch_free(b);
		return 0;
	}
	/* bounded wait for the last commits: 10 minutes */
	for (unsigned w = 0; atomic_load(&g_acked) < submitted && w < 600000; w++)
		sleep_ms(1);
	t = bench_now();
	if (atomic_load(&g_acked) < submitted || atomic_load(&g_ack_fail)) {
		fprintf(stderr, "bench_query: %llu of %llu batches committed, %llu failed\n",
			(unsigned long long)atomic_load(&g_acked), (unsigned long long)submitted,
			(unsigned long long)atomic_load(&g_ack_fail));
		return 0;
	}
	printf("query: filled %llu spans in %llu batches, %u traces, in %.1f s "
	       "(%.0f spans/s, %llu busy retries)\n", (unsigned long long)done,
	       (unsigned long long)submitted, g->trace + 1, t - t0, (double)done / (t - t0),
	       (unsigned long long)busy);
	return g->trace + 1;
}

/* -------------------------------------------------------------- measure */

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts `v` and prints p50/p99/max (ms) with a result line. */
static void report(const char *name, const char *label, double *v, uint32_t n,
		   const char *extra)
{
	double p50, p99, mx;

	if (n == 0) {
		printf("  %-46s no samples\n", label);
		return;
	}
	qsort(v, n, sizeof(*v), cmp_dbl);
	p50 = v[n / 2] * 1e3;
	p99 = v[(size_t)((double)(n - 1) * 0.99)] * 1e3;
	mx = v[n - 1] * 1e3;
	printf("  %-46s p50 %8.3f ms  p99 %8.3f ms  max %8.3f ms  (%u runs%s%s)\n", label, p50,
	       p99, mx, n, extra ? "; " : "", extra ? extra : "");
	printf("result name=%s p50_ms=%.3f p99_ms=%.3f max_ms=%.3f n=%u\n", name, p50, p99, mx, n);
	fflush(stdout);
}

static void bench_get_trace(struct mx_store *st, const struct gen *g, uint32_t n_traces,
			    const struct opts *o, FILE *ids_out)
{
	double *lat = calloc(o->lookups + 1, sizeof(*lat));
	uint64_t rnd = 7, spans = 0;
	uint32_t bad = 0, n = 0;
	char extra[128];

	if (!lat)
		return;
	for (uint32_t i = 0; i < o->lookups; i++) {
		/* the last trace may be cut short by the span count: skip it */
		uint32_t t = (uint32_t)(bench_rand(&rnd) % (n_traces > 1 ? n_traces - 1 : 1));
		struct mx_batch *b = NULL;
		double t0 = bench_now();
		int rc = mx_store_get_trace(st, g->ids[t], true, 100000, &b);

		lat[n++] = bench_now() - t0;
		if (rc != MX_OK || !b || b->n_spans != g->sizes[t])
			bad++;
		if (b)
			spans += b->n_spans;
		mx_batch_free(b);
		if (ids_out) {
			char hex[33];

			mx_id_to_hex(g->ids[t], 16, hex);
			fprintf(ids_out, "%s\n", hex);
		}
	}
	snprintf(extra, sizeof(extra), "%.1f spans per trace, %u wrong answers",
		 n ? (double)spans / n : 0, bad);
	report("query_trace_by_id", "mx_store_get_trace (random existing id)", lat, n, extra);
	free(lat);
}

enum qshape { Q_SVC, Q_SVC_OP, Q_SVC_TAG, Q_SVC_MINDUR, Q_SVC_WINDOW, Q_NO_SVC, Q_SVC_NONE, Q_N };

static const char *const qnames[Q_N] = {
	"query_search_service", "query_search_service_op", "query_search_service_tag",
	"query_search_service_mindur", "query_search_service_1min", "query_search_no_service",
	"query_search_no_match",
};
static const char *const qlabels[Q_N] = {
	"search: service, last hour, limit 20",
	"search: service + operation",
	"search: service + tag http.status_code=503",
	"search: service + minDuration 1s",
	"search: service, a 1-minute window",
	"search: no service, last hour",
	"search: service + tag matching no span",
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void bench_search(struct mx_store *st, const struct gen *g, const struct opts *o)
{
	double *lat = calloc(o->queries + 1, sizeof(*lat));
	uint64_t rnd = 11;

	if (!lat)
		return;
	for (int shape = 0; shape < Q_N; shape++) {
		uint64_t hits = 0;
		uint32_t n = 0, trunc = 0, fails = 0;
		char extra[128];

		for (uint32_t i = 0; i < o->queries; i++) {
			struct mx_search_query q;
			struct mx_search_result res = { 0 };
			struct mx_tag_cond tag;
			unsigned svc = (unsigned)(bench_rand(&rnd) % N_SVC);
			double t0;
			int rc;

			memset(&q, 0, sizeof(q));
			q.kind = -1;
			q.limit = 20;
			q.start_min_ns = g->base_ns;
			q.start_max_ns = g->base_ns + WINDOW_NS + 60000000000ull;
			if (shape != Q_NO_SVC)
				q.service = cstr(svc_names[svc]);
			if (shape == Q_SVC_OP)
				q.operation = cstr(ops[svc_ops[svc][bench_rand(&rnd) % svc_nops[svc]]].name);
			if (shape == Q_SVC_TAG || shape == Q_SVC_NONE) {
				tag.key = cstr("http.status_code");
				tag.value = cstr(shape == Q_SVC_TAG ? "503" : "404");
				tag.op = MX_TAG_EQ;
				q.tags = &tag;
				q.n_tags = 1;
				q.tags_match_resource = true;
			}
			if (shape == Q_SVC_MINDUR)
				q.min_duration_ns = 1000000000ull;
			if (shape == Q_SVC_WINDOW) {
				q.start_min_ns = g->base_ns + bench_rand(&rnd) % (WINDOW_NS - 60000000000ull);
				q.start_max_ns = q.start_min_ns + 60000000000ull;
			}
			/* the daemon's default --query.timeout */
			q.deadline_ns = mono_ns() + 5000000000ull;
			t0 = bench_now();
			rc = mx_store_search(st, &q, &res);
			lat[n++] = bench_now() - t0;
			if (rc != MX_OK)
				fails++;
			hits += res.n;
			trunc += res.truncated;
			mx_search_result_free(&res);
		}
		snprintf(extra, sizeof(extra), "%.1f traces per answer, %u truncated, %u failed",
			 n ? (double)hits / n : 0, trunc, fails);
		report(qnames[shape], qlabels[shape], lat, n, extra);
	}
	free(lat);
}

/* Removes the store files of `dir` and the directory. */
static void rm_store(const char *dir)
{
	char p[4200];

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

static int run_store(const struct opts *o)
{
	struct mx_store_config cfg;
	struct mx_store *st = NULL;
	struct gen g;
	char err[256] = "";
	FILE *ids_out = NULL;
	uint32_t n_traces;
	int ret = 1;

	memset(&g, 0, sizeof(g));
	g.cap_traces = (uint32_t)(o->spans / 8 + 2);
	g.ids = calloc(g.cap_traces, 16);
	g.sizes = calloc(g.cap_traces, 1);
	if (!g.ids || !g.sizes)
		goto out;
	g.rnd = 0x5eed;
	g.base_ns = ((uint64_t)time(NULL) - 3660) * 1000000000ull;
	g.step_ns = WINDOW_NS / (o->spans / 20 + 1);
	g.trace = 0; /* the first trace, set up here; next_trace() the others */
	g.size = 8 + (uint32_t)(bench_rand(&g.rnd) % 25);
	bench_put64(g.tid, bench_rand(&g.rnd) | 1);
	bench_put64(g.tid + 8, bench_rand(&g.rnd));
	memcpy(g.ids[0], g.tid, 16);
	g.sizes[0] = (uint8_t)g.size;
	g.tstart = g.base_ns;

	if (mkdir(o->dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "bench_query: mkdir %s: %s\n", o->dir, strerror(errno));
		goto out;
	}
	mx_store_config_default(&cfg);
	cfg.path = o->dir;
	cfg.sync = MX_SYNC_NONE; /* the fill is not what is measured */
	cfg.max_size = 16ull << 30;
	cfg.autocomplete_keys = "http.method";
	if (mx_store_open(&cfg, &st, err, sizeof(err)) != MX_OK) {
		fprintf(stderr, "bench_query: cannot open the store in %s: %s\n", o->dir, err);
		goto out;
	}
	n_traces = fill(st, &g, o->spans);
	if (!n_traces)
		goto out;
	if (o->ids_out && !(ids_out = fopen(o->ids_out, "w"))) {
		fprintf(stderr, "bench_query: %s: %s\n", o->ids_out, strerror(errno));
		goto out;
	}
	printf("query: single thread, store of %llu spans, %u traces\n",
	       (unsigned long long)o->spans, n_traces);
	bench_get_trace(st, &g, n_traces, o, ids_out);
	bench_search(st, &g, o);
	ret = 0;
out:
	if (ids_out)
		fclose(ids_out);
	mx_store_close(st);
	if (!o->ids_out)
		rm_store(o->dir);
	free(g.ids);
	free(g.sizes);
	return ret;
}

/* ----------------------------------------------------------------- HTTP */

#define RESP_MAX (64u << 20)

struct conn {
	int fd;
	char *buf;
	size_t len, cap;
};

static int conn_open(struct conn *c, int port)
{
	struct sockaddr_in a;
	struct timeval tv = { 30, 0 };
	int one = 1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

/* Reads more into c->buf (grown up to RESP_MAX). */
static int conn_fill(struct conn *c)
{
	ssize_t n;

	if (c->len == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 65536;
		char *nb;

		if (ncap > RESP_MAX || !(nb = realloc(c->buf, ncap)))
			return -1;
		c->buf = nb;
		c->cap = ncap;
	}
	do
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	c->len += (size_t)n;
	return 0;
}

/* One GET on the keep-alive connection; sets *status and *body_len. The
 * answer must carry Content-Length (mixd's always do: they are built whole
 * before they are sent). Returns 0, or -1 on a transport or framing error. */
static int http_get(struct conn *c, const char *path, int *status, size_t *body_len)
{
	char req[512], *eoh, *p;
	size_t hlen, clen = 0, off = 0;
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
	bool have_clen = false;

	while (off < (size_t)n) {
		ssize_t w = write(c->fd, req + off, (size_t)n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	c->len = 0;
	while (!(eoh = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL))
		if (c->len > 65536 || conn_fill(c) < 0)
			return -1;
	hlen = (size_t)(eoh - c->buf) + 4;
	if (sscanf(c->buf, "HTTP/1.%*d %d", status) != 1)
		return -1;
	for (p = memmem(c->buf, hlen, "\r\n", 2); p && p < eoh; p = memmem(p + 2, (size_t)(eoh - p), "\r\n", 2)) {
		if (!strncasecmp(p + 2, "content-length:", 15)) {
			clen = strtoul(p + 17, NULL, 10);
			have_clen = true;
		}
	}
	if (!have_clen || clen > RESP_MAX)
		return -1;
	while (c->len < hlen + clen)
		if (conn_fill(c) < 0)
			return -1;
	*body_len = clen;
	return 0;
}

static int run_http(const struct opts *o)
{
	FILE *f = fopen(o->ids_in, "r");
	struct conn c = { .fd = -1 };
	double *lat = calloc(o->lookups + 1, sizeof(*lat));
	char line[128], extra[128];
	uint32_t n = 0, bad = 0;
	uint64_t bytes = 0;
	int ret = 1;

	if (!f || !lat) {
		fprintf(stderr, "bench_query: %s: %s\n", o->ids_in, strerror(errno));
		goto out;
	}
	if (conn_open(&c, o->http_port) < 0) {
		fprintf(stderr, "bench_query: connect to 127.0.0.1:%d: %s\n", o->http_port,
			strerror(errno));
		goto out;
	}
	while (n < o->lookups && fgets(line, sizeof(line), f)) {
		char path[160];
		size_t blen = 0;
		int status = 0;
		double t0;

		line[strcspn(line, "\r\n")] = 0;
		if (!line[0])
			continue;
		snprintf(path, sizeof(path), "/api/traces/%s", line);
		t0 = bench_now();
		if (http_get(&c, path, &status, &blen) < 0) {
			fprintf(stderr, "bench_query: GET %s: transport error\n", path);
			goto out;
		}
		lat[n++] = bench_now() - t0;
		bytes += blen;
		if (status != 200)
			bad++;
	}
	snprintf(extra, sizeof(extra), "%.0f KiB per answer, %u answers not 200",
		 n ? (double)bytes / n / 1024 : 0, bad);
	report("query_http_trace_by_id", "HTTP GET /api/traces/{id} (keep-alive)", lat, n, extra);
	ret = n > 0 && bad == 0 ? 0 : 1;
out:
	if (f)
		fclose(f);
	if (c.fd >= 0)
		close(c.fd);
	free(c.buf);
	free(lat);
	return ret;
}

/* ----------------------------------------------------------------- main */

static int parse_args(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->spans = 1000000;
	o->lookups = 2000;
	o->queries = 200;
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			goto usage;
		if (!strcmp(a, "--dir"))
			o->dir = v;
		else if (!strcmp(a, "--spans"))
			o->spans = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--lookups"))
			o->lookups = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--queries"))
			o->queries = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--ids-out"))
			o->ids_out = v;
		else if (!strcmp(a, "--ids"))
			o->ids_in = v;
		else if (!strcmp(a, "--http-port"))
			o->http_port = atoi(v);
		else
			goto usage;
	}
	if (o->http_port) {
		if (o->http_port < 1 || o->http_port > 65535 || !o->ids_in || o->lookups < 1 ||
		    o->lookups > 10000000)
			goto usage;
		return 0;
	}
	if (!o->dir || strlen(o->dir) > 4000 || o->spans < 1000 || o->spans > 100000000 ||
	    o->lookups < 1 || o->lookups > 10000000 || o->queries < 1 || o->queries > 1000000)
		goto usage;
	return 0;
usage:
	fprintf(stderr, "usage: bench_query --dir D [--spans N>=1000] [--lookups N] "
			"[--queries N] [--ids-out F]\n"
			"       bench_query --http-port P --ids F [--lookups N]\n");
	return -1;
}

int main(int argc, char **argv)
{
	struct opts o;
	char machine[320];

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	ops_init();
	bench_machine(machine, sizeof(machine));
	printf("query: machine %s\n", machine);
	return o.http_port ? run_http(&o) : run_store(&o);
}
