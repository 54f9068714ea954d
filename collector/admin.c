/*
 * admin.c - health, readiness, /debug/vars and /metrics (see admin.h).
 *
 * /metrics is a streamed answer (http.h): the handler takes the numbers
 * (struct mx_prom_self), the service graph's snapshot and the store's
 * series snapshot, and each fill call renders one step into a small
 * buffer - first the self-metrics, then about METRICS_STEP bytes of
 * Tempo-named service-graph series (query/prom_tempo.h), then of Istio
 * series per step - gzips it when asked, and hands it out. So memory per
 * response is the snapshots, the iterators' label caches and a step's
 * text, whatever the exposition's size.
 */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../model/buf.h"
#include "../model/error.h"
#include "../query/prom.h"
#include "../query/prom_self.h"
#include "../query/prom_tempo.h"
#include "../storage/metrics.h"
#include "deflate.h"

#define METRICS_STEP (64 * 1024)     /* text rendered per fill step */
#define METRICS_BUF_MAX (32u << 20)  /* cap of a step's text or output */

static void handle_healthz(struct mx_http_req *req, void *ctx)
{
	(void)ctx;
	mx_http_respond(req, 200, "text/plain; charset=utf-8", "ok\n", 3, NULL);
}

static void handle_readyz(struct mx_http_req *req, void *ctx)
{
	struct mx_admin *a = ctx;
	if (mx_store_ready(a->store))
		mx_http_respond(req, 200, "text/plain; charset=utf-8", "ready\n", 6, NULL);
	else
		mx_http_respond(req, 503, "text/plain; charset=utf-8",
				"store not ready\n", 16, NULL);
}

static void handle_vars(struct mx_http_req *req, void *ctx)
{
	struct mx_admin *a = ctx;
	struct mx_store_stats st;
	struct mx_http_stats hs;
	mx_store_get_stats(a->store, &st);
	mx_http_get_stats(a->http, &hs);
	struct mx_buf b;
	mx_buf_init(&b, 64 * 1024);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	uint64_t age_s = st.oldest_arrival_ns && now_ns > st.oldest_arrival_ns
		? (now_ns - st.oldest_arrival_ns) / 1000000000ull : 0;
	static const uint64_t cb[] = MX_STORE_COMMIT_BOUNDS_US;
	static const uint64_t gb[] = MX_STORE_GROUP_BOUNDS;
	mx_buf_printf(&b,
		"{\"store\":{\"committed_spans\":%llu,\"committed_batches\":%llu,"
		"\"commits\":%llu,\"commit_failures\":%llu,\"refused_busy\":%llu,"
		"\"queue_batches\":%llu,\"queue_bytes\":%llu,\"last_commit_us\":%llu,"
		"\"map_bytes\":%llu,\"max_bytes\":%llu,\"used_bytes\":%llu,"
		"\"file_bytes\":%llu,\"oldest_arrival_ns\":%llu,\"oldest_age_s\":%llu,"
		"\"expired_spans\":%llu,\"evicted_spans\":%llu,\"sweeps\":%llu,"
		"\"map_grows\":%llu,\"full_refusals\":%llu,\"commit_us_sum\":%llu,",
		(unsigned long long)st.committed_spans, (unsigned long long)st.committed_batches,
		(unsigned long long)st.commits, (unsigned long long)st.commit_failures,
		(unsigned long long)st.refused_busy, (unsigned long long)st.queue_batches,
		(unsigned long long)st.queue_bytes, (unsigned long long)st.last_commit_us,
		(unsigned long long)st.map_size, (unsigned long long)st.max_size,
		(unsigned long long)st.used_bytes, (unsigned long long)st.file_bytes,
		(unsigned long long)st.oldest_arrival_ns, (unsigned long long)age_s,
		(unsigned long long)st.expired_spans, (unsigned long long)st.evicted_spans,
		(unsigned long long)st.sweeps, (unsigned long long)st.map_grows,
		(unsigned long long)st.full_refusals, (unsigned long long)st.commit_us_sum);
	/* histograms: counts per bucket, "le" the bucket's upper bound */
	mx_buf_puts(&b, "\"commit_us_hist\":[");
	for (int i = 0; i < MX_STORE_COMMIT_BUCKETS; i++) {
		if (i < MX_STORE_COMMIT_BUCKETS - 1)
			mx_buf_printf(&b, "%s{\"le\":%llu,\"n\":%llu}", i ? "," : "",
				      (unsigned long long)cb[i],
				      (unsigned long long)st.commit_us_hist[i]);
		else
			mx_buf_printf(&b, ",{\"le\":\"+Inf\",\"n\":%llu}",
				      (unsigned long long)st.commit_us_hist[i]);
	}
	mx_buf_puts(&b, "],\"group_batches_hist\":[");
	for (int i = 0; i < MX_STORE_GROUP_BUCKETS; i++) {
		if (i < MX_STORE_GROUP_BUCKETS - 1)
			mx_buf_printf(&b, "%s{\"le\":%llu,\"n\":%llu}", i ? "," : "",
				      (unsigned long long)gb[i],
				      (unsigned long long)st.group_batches_hist[i]);
		else
			mx_buf_printf(&b, ",{\"le\":\"+Inf\",\"n\":%llu}",
				      (unsigned long long)st.group_batches_hist[i]);
	}
	mx_buf_printf(&b, "]},"
		"\"http\":{\"requests\":%llu,\"body_too_large\":%llu,"
		"\"budget_refused\":%llu,\"inflight\":%llu},\"receivers\":{",
		(unsigned long long)hs.requests, (unsigned long long)hs.body_too_large,
		(unsigned long long)hs.budget_refused, (unsigned long long)hs.inflight);
	for (unsigned i = 0; i < a->n_rx; i++) {
		struct mx_receiver_stats *r = a->rx_stats[i];
		mx_buf_printf(&b, "%s\"%s\":{\"requests\":%llu,\"accepted_spans\":%llu,"
			      "\"refused_spans\":%llu,\"rejected_spans\":%llu}",
			      i ? "," : "", a->rx_names[i],
			      (unsigned long long)atomic_load(&r->requests),
			      (unsigned long long)atomic_load(&r->accepted_spans),
			      (unsigned long long)atomic_load(&r->refused_spans),
			      (unsigned long long)atomic_load(&r->rejected_spans));
	}
	mx_buf_puts(&b, "}");
	if (a->extra_fn) {
		mx_buf_printf(&b, ",\"%s\":", a->extra_key);
		a->extra_fn(a->extra_ctx, &b);
	}
	mx_buf_puts(&b, "}\n");
	if (b.failed) {
		mx_buf_free(&b);
		mx_http_respond(req, 500, "text/plain", "too large\n", 10, NULL);
		return;
	}
	size_t len;
	uint8_t *body = mx_buf_steal(&b, &len);
	mx_http_respond_owned(req, 200, "application/json", body, len, NULL);
}

/* ---------- /metrics ---------- */

/* One /metrics response being streamed. */
struct metrics_stream {
	struct mx_admin *a;
	enum mx_prom_format fmt;
	bool gzip;
	bool self_done; /* the self-metrics were rendered */
	bool ended;     /* everything was produced */
	bool has_snap;  /* snap and it need freeing */
	bool tempo_done; /* the service-graph families were rendered */
	bool has_tsnap; /* tsnap and tit need freeing */
	struct mx_prom_self self;
	struct mx_metrics_snap snap;
	struct mx_prom_iter it;
	struct mx_sg_snap tsnap;
	struct mx_prom_tempo_iter tit;
	struct mx_gz gz;
	struct mx_buf text; /* a step's text before gzip */
	struct mx_buf out;  /* bytes not yet handed out: [out_off, len) */
	size_t out_off;
};

/* The numbers of the self-metrics, now. */
static void self_collect(struct mx_admin *a, struct mx_prom_self *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < a->n_rx && s->n_rx < MX_PROM_SELF_MAX_RX; i++) {
		struct mx_receiver_stats *r = a->rx_stats[i];
		struct mx_prom_self_rx *o = &s->rx[s->n_rx++];
		o->name = a->rx_names[i];
		o->kind = MX_PROM_RX_HTTP;
		o->requests = atomic_load(&r->requests);
		o->accepted_spans = atomic_load(&r->accepted_spans);
		o->refused_spans = atomic_load(&r->refused_spans);
		o->rejected_spans = atomic_load(&r->rejected_spans);
		o->refused_requests = atomic_load(&r->refused_requests);
		if (strcmp(o->name, "report") == 0)
			s->reports_refused = o->refused_requests;
	}
	for (size_t i = 0; a->udp_stats && s->n_rx < MX_PROM_SELF_MAX_RX; i++) {
		const char *name = NULL;
		const struct mx_udp_stats *u = a->udp_stats(a->udp, i, &name);
		if (!u)
			break;
		struct mx_prom_self_rx *o = &s->rx[s->n_rx++];
		o->name = name ? name : "udp";
		o->kind = MX_PROM_RX_UDP;
		o->requests = atomic_load(&u->datagrams);
		o->accepted_spans = atomic_load(&u->accepted_spans);
		o->rejected_spans = atomic_load(&u->rejected_spans);
		o->dropped_spans = atomic_load(&u->dropped_spans) +
			atomic_load(&u->failed_spans);
		o->malformed_datagrams = atomic_load(&u->malformed);
		o->kernel_drops = atomic_load(&u->kernel_drops);
	}
	mx_store_get_stats(a->store, &s->store);
	mx_store_metrics_stats(a->store, &s->metrics);
	struct mx_http_stats hs;
	mx_http_get_stats(a->http, &hs);
	s->http_requests = hs.requests;
	s->http_body_too_large = hs.body_too_large;
	s->http_budget_refused = hs.budget_refused;
	s->http_inflight = hs.inflight;
	s->scrapes_inflight = atomic_load(&a->renders);
	s->scrapes_refused = atomic_load(&a->renders_refused);
}

/* Releases the snapshot and its iterator (as soon as the last series is
 * out, not only when the response goes). */
static void metrics_drop_snap(struct metrics_stream *ms)
{
	if (!ms->has_snap)
		return;
	mx_prom_iter_free(&ms->it);
	mx_metrics_snap_free(&ms->snap);
	ms->has_snap = false;
}

/* Releases the service-graph snapshot and its iterator. */
static void metrics_drop_tsnap(struct metrics_stream *ms)
{
	if (!ms->has_tsnap)
		return;
	mx_prom_tempo_iter_free(&ms->tit);
	mx_sg_snap_free(&ms->tsnap);
	ms->has_tsnap = false;
}

static void metrics_free(void *ctx)
{
	struct metrics_stream *ms = ctx;
	if (!ms)
		return;
	metrics_drop_tsnap(ms);
	metrics_drop_snap(ms);
	mx_gz_free(&ms->gz);
	mx_buf_free(&ms->text);
	mx_buf_free(&ms->out);
	atomic_fetch_sub(&ms->a->renders, 1);
	free(ms);
}

/* Renders the next step into ms->out (empty on entry). Returns MX_OK or
 * MX_ENOMEM. */
static int metrics_step(struct metrics_stream *ms)
{
	struct mx_buf *dst = ms->gzip ? &ms->text : &ms->out;
	bool last = false;
	int rc;
	if (!ms->self_done) {
		ms->self_done = true;
		rc = mx_prom_self_render(&ms->self, ms->fmt, dst);
	} else if (!ms->tempo_done) {
		rc = mx_prom_tempo_iter_next(&ms->tit, dst, METRICS_STEP);
		if (rc == 0) {
			ms->tempo_done = true;
			metrics_drop_tsnap(ms);
		}
		if (rc >= 0)
			rc = MX_OK;
	} else {
		rc = mx_prom_iter_next(&ms->it, dst, METRICS_STEP);
		if (rc == 0)
			last = true; /* the iterator wrote the end (# EOF) */
		if (rc >= 0)
			rc = MX_OK;
	}
	if (rc != MX_OK)
		return rc;
	if (last)
		metrics_drop_snap(ms);
	if (ms->gzip) {
		rc = mx_gz_write(&ms->gz, ms->text.data, ms->text.len, last, &ms->out);
		mx_buf_reset(&ms->text);
	}
	if (last)
		ms->ended = true;
	return rc;
}

static ssize_t metrics_fill(void *ctx, char *buf, size_t max)
{
	struct metrics_stream *ms = ctx;
	while (ms->out_off == ms->out.len) {
		if (ms->ended)
			return MX_HTTP_STREAM_END;
		mx_buf_reset(&ms->out);
		ms->out_off = 0;
		if (metrics_step(ms) != MX_OK)
			return MX_HTTP_STREAM_ERROR;
	}
	size_t n = ms->out.len - ms->out_off;
	if (n > max)
		n = max;
	memcpy(buf, ms->out.data + ms->out_off, n);
	ms->out_off += n;
	return (ssize_t)n;
}

static void handle_metrics(struct mx_http_req *req, void *ctx)
{
	struct mx_admin *a = ctx;
	enum mx_prom_format fmt = mx_prom_negotiate(mx_http_header(req, "Accept"));
	bool gzip = mx_prom_accepts_gzip(mx_http_header(req, "Accept-Encoding"));
	bool head = strcmp(mx_http_method(req), "HEAD") == 0;
	if (atomic_fetch_add(&a->renders, 1) >= MX_ADMIN_MAX_RENDERS) {
		atomic_fetch_sub(&a->renders, 1);
		atomic_fetch_add(&a->renders_refused, 1);
		mx_http_error(req, 503, "too many /metrics responses being rendered; retry later");
		return;
	}
	struct metrics_stream *ms = calloc(1, sizeof(*ms));
	if (!ms) {
		atomic_fetch_sub(&a->renders, 1);
		mx_http_error(req, 503, "out of memory");
		return;
	}
	ms->a = a;
	ms->fmt = fmt;
	ms->gzip = gzip;
	mx_buf_init(&ms->text, METRICS_BUF_MAX);
	mx_buf_init(&ms->out, METRICS_BUF_MAX);
	int rc = MX_OK;
	if (head) {
		ms->ended = true; /* headers only: nothing to take */
	} else {
		self_collect(a, &ms->self);
		ms->has_tsnap = true;
		rc = mx_store_sgraph_snapshot(a->store, &ms->tsnap);
		mx_prom_tempo_iter_init(&ms->tit, &ms->tsnap, fmt);
		ms->has_snap = true;
		if (rc == MX_OK)
			rc = mx_store_metrics_snapshot(a->store, 0, &ms->snap);
		if (rc == MX_OK)
			rc = mx_prom_iter_init(&ms->it, ms->snap.series, ms->snap.n, fmt);
		else
			memset(&ms->it, 0, sizeof(ms->it)); /* safe to free */
		if (rc == MX_OK && gzip)
			rc = mx_gz_init(&ms->gz);
	}
	if (rc != MX_OK) {
		metrics_free(ms);
		mx_http_error(req, 503, "out of memory rendering the metrics; retry later");
		return;
	}
	static const char *const gz_hdr[] = { "Content-Encoding", "gzip",
					       "Vary", "Accept-Encoding", NULL };
	static const char *const id_hdr[] = { "Vary", "Accept-Encoding", NULL };
	mx_http_respond_stream(req, 200, mx_prom_content_type(fmt),
			       gzip ? gz_hdr : id_hdr, metrics_fill, ms, metrics_free);
}

/* ---------- registration ---------- */

void mx_admin_set_udp(struct mx_admin *a, const struct mx_udp_server *udp,
		      mx_admin_udp_stats_fn fn)
{
	a->udp = udp;
	a->udp_stats = fn;
}

void mx_admin_add_receiver(struct mx_admin *a, const char *name,
			   struct mx_receiver_stats *stats)
{
	if (a->n_rx == MX_ADMIN_MAX_RECEIVERS)
		return;
	a->rx_names[a->n_rx] = name;
	a->rx_stats[a->n_rx++] = stats;
}

void mx_admin_set_extra(struct mx_admin *a, const char *key,
			void (*fn)(void *ctx, struct mx_buf *b), void *ctx)
{
	a->extra_key = key;
	a->extra_fn = fn;
	a->extra_ctx = ctx;
}

void mx_admin_init(struct mx_admin *a, struct mx_store *store,
		   struct mx_http_server *http)
{
	a->store = store;
	a->http = http;
	a->n_rx = 0;
	a->extra_key = NULL;
	a->extra_fn = NULL;
	a->extra_ctx = NULL;
	a->udp = NULL;
	a->udp_stats = NULL;
	atomic_store(&a->renders, 0);
	atomic_store(&a->renders_refused, 0);
	a->routes[0] = (struct mx_route){ "GET", "/healthz", 0, handle_healthz, a, NULL };
	a->routes[1] = (struct mx_route){ "GET", "/readyz", 0, handle_readyz, a, NULL };
	a->routes[2] = (struct mx_route){ "GET", "/debug/vars", 0, handle_vars, a, NULL };
	a->routes[3] = (struct mx_route){ "GET", "/metrics", 0, handle_metrics, a, NULL };
}
