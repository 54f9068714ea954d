/*
 * admin.c - health, readiness and /debug/vars (see admin.h).
 */
#include "admin.h"

#include <stdio.h>
#include <time.h>

#include "../model/buf.h"

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
	a->routes[0] = (struct mx_route){ "GET", "/healthz", 0, handle_healthz, a, NULL };
	a->routes[1] = (struct mx_route){ "GET", "/readyz", 0, handle_readyz, a, NULL };
	a->routes[2] = (struct mx_route){ "GET", "/debug/vars", 0, handle_vars, a, NULL };
}
