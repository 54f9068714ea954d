/*
 * prom_self.c - renders mixd's own metrics as Prometheus text 0.0.4 or
 * OpenMetrics 1.0 (see prom_self.h).
 *
 * Families are tables: a name without `_total`, a type, a help text and
 * the offset of the value in the input struct. Counters get `_total` on
 * their samples in both formats and on their HELP and TYPE lines in the
 * text format only (OpenMetrics names the family without it). The output
 * is a few kilobytes, so everything goes straight into the caller's
 * buffer and its failure flag is checked once at the end.
 */
#include "prom_self.h"

#include <stdio.h>
#include <string.h>

#include "../model/error.h"

enum ps_type { PS_COUNTER, PS_GAUGE };

/* A family with one sample of a uint64_t in struct mx_prom_self. */
struct ps_scalar {
	const char *name; /* without _total */
	uint8_t type;     /* enum ps_type */
	const char *help;
	size_t off;
};

/* A family with one sample per receiver of a uint64_t in
 * struct mx_prom_self_rx, shown for the receivers of the kinds in `kinds`
 * (a bit per enum mx_prom_rx_kind). */
struct ps_rx_family {
	const char *name; /* without _total; all are counters */
	const char *help;
	size_t off;
	unsigned kinds;
};

#define HTTP (1u << MX_PROM_RX_HTTP)
#define UDP (1u << MX_PROM_RX_UDP)
#define RX(f) offsetof(struct mx_prom_self_rx, f)
#define S(f) offsetof(struct mx_prom_self, f)

static const struct ps_rx_family ps_rx_families[] = {
	{ "mixd_receiver_requests",
	  "Requests received by a receiver (UDP listeners: datagrams).",
	  RX(requests), HTTP | UDP },
	{ "mixd_receiver_accepted_spans",
	  "Spans committed to the store.",
	  RX(accepted_spans), HTTP | UDP },
	{ "mixd_receiver_refused_spans",
	  "Spans in requests refused whole with a retryable or server error "
	  "(429, 503, 5xx); the sender may retry them.",
	  RX(refused_spans), HTTP },
	{ "mixd_receiver_rejected_spans",
	  "Spans rejected on their content.",
	  RX(rejected_spans), HTTP | UDP },
	{ "mixd_receiver_dropped_spans",
	  "Spans lost without the sender knowing (writer queue full, "
	  "stopping, or commit failed).",
	  RX(dropped_spans), UDP },
	{ "mixd_receiver_refused_requests",
	  "Requests answered with an error status.",
	  RX(refused_requests), HTTP },
	{ "mixd_receiver_malformed_datagrams",
	  "Datagrams dropped as undecodable.",
	  RX(malformed_datagrams), UDP },
	{ "mixd_receiver_kernel_dropped_datagrams",
	  "Datagrams the kernel dropped because the socket's receive queue "
	  "was full.",
	  RX(kernel_drops), UDP },
};

/* Written before the commit histogram. */
static const struct ps_scalar ps_before_hist[] = {
	{ "mixd_reports_applied", PS_COUNTER,
	  "Metrics reports applied to the series (exactly once each).",
	  S(metrics.reports_applied) },
	{ "mixd_reports_duplicate", PS_COUNTER,
	  "Metrics reports ignored because their sequence was already applied.",
	  S(metrics.reports_duplicate) },
	{ "mixd_reports_refused", PS_COUNTER,
	  "Metrics reports answered with an error status.",
	  S(reports_refused) },
	{ "mixd_reporter_dropped_spans", PS_COUNTER,
	  "Spans the reporting libraries said they dropped (in applied reports).",
	  S(metrics.reporter_dropped_spans) },
	{ "mixd_writer_queue_batches", PS_GAUGE,
	  "Batches waiting for the store's writer.",
	  S(store.queue_batches) },
	{ "mixd_writer_queue_bytes", PS_GAUGE,
	  "Bytes of batches waiting for the store's writer.",
	  S(store.queue_bytes) },
};

/* Written after the commit histogram. */
static const struct ps_scalar ps_after_hist[] = {
	{ "mixd_writer_committed_spans", PS_COUNTER,
	  "Spans committed by the writer.",
	  S(store.committed_spans) },
	{ "mixd_writer_committed_batches", PS_COUNTER,
	  "Batches committed by the writer.",
	  S(store.committed_batches) },
	{ "mixd_writer_commit_failures", PS_COUNTER,
	  "Group commits that failed (their batches were refused).",
	  S(store.commit_failures) },
	{ "mixd_writer_busy_refusals", PS_COUNTER,
	  "Batches refused because the writer queue was full.",
	  S(store.refused_busy) },
	{ "mixd_storage_used_bytes", PS_GAUGE,
	  "Bytes of the store's pages in use.",
	  S(store.used_bytes) },
	{ "mixd_storage_map_bytes", PS_GAUGE,
	  "Size of the store's memory map now.",
	  S(store.map_size) },
	{ "mixd_storage_max_bytes", PS_GAUGE,
	  "Largest size the store may grow to (--storage.max-size).",
	  S(store.max_size) },
	{ "mixd_storage_file_bytes", PS_GAUGE,
	  "Size of the store's data file.",
	  S(store.file_bytes) },
	{ "mixd_storage_evicted_spans", PS_COUNTER,
	  "Spans deleted to make room.",
	  S(store.evicted_spans) },
	{ "mixd_storage_expired_spans", PS_COUNTER,
	  "Spans deleted by retention.",
	  S(store.expired_spans) },
	{ "mixd_storage_full_refusals", PS_COUNTER,
	  "Group commits refused because the store was full.",
	  S(store.full_refusals) },
	{ "mixd_storage_map_grows", PS_COUNTER,
	  "Times the store's memory map was grown.",
	  S(store.map_grows) },
	{ "mixd_storage_sweeps", PS_COUNTER,
	  "Transactions that deleted spans (retention or eviction).",
	  S(store.sweeps) },
};

/* Written after the oldest span's timestamp. */
static const struct ps_scalar ps_after_oldest[] = {
	{ "mixd_series", PS_GAUGE,
	  "Istio series in memory and not idle (overflow series included).",
	  S(metrics.series_active) },
	{ "mixd_series_limit", PS_GAUGE,
	  "Most series kept in memory (--metrics.max-series).",
	  S(metrics.series_limit) },
	{ "mixd_series_overflow", PS_COUNTER,
	  "Updates of new label sets folded into overflow series because the "
	  "series limit was reached.",
	  S(metrics.overflow_updates) },
	{ "mixd_series_created", PS_COUNTER,
	  "New label sets.",
	  S(metrics.series_created) },
	{ "mixd_series_reloaded", PS_COUNTER,
	  "Idle label sets that came back.",
	  S(metrics.series_reloaded) },
	{ "mixd_series_idle_dropped", PS_COUNTER,
	  "Series dropped from memory after being idle.",
	  S(metrics.series_idle_dropped) },
	{ "mixd_series_expired", PS_COUNTER,
	  "Series deleted from the store by retention.",
	  S(metrics.series_expired) },
	{ "mixd_series_updates", PS_COUNTER,
	  "Label-set updates applied (request and TCP).",
	  S(metrics.updates_applied) },
	{ "mixd_rollup_rows_thinned", PS_COUNTER,
	  "Rollup rows deleted by downsampling.",
	  S(metrics.rollup_rows_thinned) },
	{ "mixd_rollup_rows_expired", PS_COUNTER,
	  "Rollup rows deleted by retention.",
	  S(metrics.rollup_rows_expired) },
	{ "mixd_http_requests", PS_COUNTER,
	  "HTTP requests received on every listener.",
	  S(http_requests) },
	{ "mixd_http_body_too_large", PS_COUNTER,
	  "Connections closed for a chunked body over the size limit.",
	  S(http_body_too_large) },
	{ "mixd_http_budget_refused", PS_COUNTER,
	  "Requests refused because the decode budget was used up.",
	  S(http_budget_refused) },
	{ "mixd_http_inflight_requests", PS_GAUGE,
	  "HTTP requests begun and not yet answered.",
	  S(http_inflight) },
	{ "mixd_metrics_scrapes_inflight", PS_GAUGE,
	  "Responses of /metrics being rendered.",
	  S(scrapes_inflight) },
	{ "mixd_metrics_scrapes_refused", PS_COUNTER,
	  "Scrapes of /metrics refused (503) because too many were rendering.",
	  S(scrapes_refused) },
};

#undef HTTP
#undef UDP
#undef RX
#undef S

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void ps_header(const char *name, const char *type, bool counter,
		      const char *help, enum mx_prom_format f,
		      struct mx_buf *out)
{
	const char *sfx = counter ? "_total" : "";
	if (f == MX_PROM_OPENMETRICS)
		mx_buf_printf(out, "# TYPE %s %s\n# HELP %s %s\n", name, type,
			      name, help);
	else
		mx_buf_printf(out, "# HELP %s%s %s\n# TYPE %s%s %s\n", name, sfx,
			      help, name, sfx, type);
}

static void ps_u64(struct mx_buf *out, uint64_t v)
{
	char num[24];
	size_t n = mx_prom_fmt_u64(v, num);
	mx_buf_append(out, num, n);
	mx_buf_putc(out, '\n');
}

static uint64_t ps_field(const void *base, size_t off)
{
	uint64_t v;
	memcpy(&v, (const char *)base + off, sizeof(v));
	return v;
}

static void ps_scalars(const struct mx_prom_self *s, const struct ps_scalar *t,
		       size_t n, enum mx_prom_format f, struct mx_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		bool counter = t[i].type == PS_COUNTER;
		ps_header(t[i].name, counter ? "counter" : "gauge", counter,
			  t[i].help, f, out);
		mx_buf_printf(out, "%s%s ", t[i].name, counter ? "_total" : "");
		ps_u64(out, ps_field(s, t[i].off));
	}
}

static void ps_receivers(const struct mx_prom_self *s, enum mx_prom_format f,
			 struct mx_buf *out)
{
	size_t n_rx = s->n_rx < MX_PROM_SELF_MAX_RX ? s->n_rx : MX_PROM_SELF_MAX_RX;
	for (size_t i = 0; i < N_OF(ps_rx_families); i++) {
		const struct ps_rx_family *fam = &ps_rx_families[i];
		bool any = false;
		for (size_t r = 0; r < n_rx; r++) {
			const struct mx_prom_self_rx *rx = &s->rx[r];
			if (!(fam->kinds & (1u << rx->kind)))
				continue;
			if (!any)
				ps_header(fam->name, "counter", true, fam->help, f, out);
			any = true;
			mx_buf_printf(out, "%s_total{receiver=\"", fam->name);
			const char *name = rx->name ? rx->name : "";
			mx_prom_escape_label(out, (struct mx_str){ name, (uint32_t)strlen(name) });
			mx_buf_append(out, "\"} ", 3);
			ps_u64(out, ps_field(rx, fam->off));
		}
	}
}

/* mixd_writer_commit_seconds from the store's microsecond buckets. */
static void ps_commit_hist(const struct mx_prom_self *s, enum mx_prom_format f,
			   struct mx_buf *out)
{
	/* MX_STORE_COMMIT_BOUNDS_US as seconds, exactly as printed */
	static const char *const le[MX_STORE_COMMIT_BUCKETS] = {
		"0.0005", "0.001", "0.002", "0.005", "0.01", "0.02", "0.05",
		"0.1", "1", "+Inf",
	};
	const char *name = "mixd_writer_commit_seconds";
	ps_header(name, "histogram", false,
		  "Duration of the writer's group commits.", f, out);
	uint64_t cum = 0;
	for (int i = 0; i < MX_STORE_COMMIT_BUCKETS; i++) {
		uint64_t b = s->store.commit_us_hist[i];
		cum = b > UINT64_MAX - cum ? UINT64_MAX : cum + b;
		mx_buf_printf(out, "%s_bucket{le=\"%s\"} ", name, le[i]);
		ps_u64(out, cum);
	}
	char num[48];
	mx_prom_fmt_double((double)s->store.commit_us_sum / 1e6, num);
	mx_buf_printf(out, "%s_sum %s\n", name, num);
	mx_buf_printf(out, "%s_count ", name);
	ps_u64(out, cum);
}

/* The oldest span's arrival, left out while the store is empty. */
static void ps_oldest(const struct mx_prom_self *s, enum mx_prom_format f,
		      struct mx_buf *out)
{
	uint64_t ns = s->store.oldest_arrival_ns;
	if (!ns)
		return;
	const char *name = "mixd_storage_oldest_span_timestamp_seconds";
	ps_header(name, "gauge", false,
		  "Arrival time of the oldest span in the store (Unix seconds).",
		  f, out);
	char frac[8];
	snprintf(frac, sizeof(frac), "%03u", (unsigned)(ns / 1000000u % 1000u));
	mx_buf_printf(out, "%s %llu.%s\n", name,
		      (unsigned long long)(ns / 1000000000u), frac);
}

int mx_prom_self_render(const struct mx_prom_self *s, enum mx_prom_format f,
			struct mx_buf *out)
{
	ps_receivers(s, f, out);
	ps_scalars(s, ps_before_hist, N_OF(ps_before_hist), f, out);
	ps_commit_hist(s, f, out);
	ps_scalars(s, ps_after_hist, N_OF(ps_after_hist), f, out);
	ps_oldest(s, f, out);
	ps_scalars(s, ps_after_oldest, N_OF(ps_after_oldest), f, out);
	return out->failed ? MX_ENOMEM : MX_OK;
}
