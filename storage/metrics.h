/*
 * metrics.h - the metrics half of the store: Istio series built from
 * libmixd's native reports, applied exactly once, kept cumulative in LMDB
 * (restarts never reset a counter), rolled up per 10 s for the topology
 * API, and read by the Prometheus endpoint without stalling ingest.
 *
 * Write path: a receiver decodes a report (codec/report.h) into a batch and
 * hands batch and report to mx_store_submit_report(). The submitting thread
 * lays every aggregate's labels out as one key (kind and the label values
 * in Istio's order) and hashes it; the writer thread, inside the group's
 * transaction, checks the reporter's last applied sequence (`reporters`
 * db), and for a new sequence adds the deltas to working copies of the
 * series' values, stores the report's spans like any batch, and before the
 * commit puts the new cumulative values (`counters`), the rollup row of the
 * 10 s bucket a series leaves (`rollups`; the row of its latest bucket is
 * its counters row), new series' labels (`series`, `series_hash`) and the
 * sequence. Only after the commit do the working copies become the values
 * that /metrics shows; an aborted transaction leaves them untouched. So a
 * report is applied exactly once, whole, and only when durable.
 *
 * Memory: the series updated within --metrics.idle-timeout live in memory
 * (at most max_series of them plus the overflow series); idle ones are
 * dropped from memory after the timeout (their state stays in LMDB until
 * retention, and a label set that comes back continues from it). Past
 * max_series, updates of new label sets are folded into an overflow series
 * of their kind, reporter and response code, and counted.
 *
 * Files: storage/metrics.c (the in-memory series table, apply, snapshot),
 * storage/metrics_db.c (LMDB: load, per-commit puts, rollup reads,
 * thinning and retention), storage/metrics_val.c (the values' encodings),
 * storage/metrics_item.c (keys built on the submitting thread). Keys and
 * values: storage/SCHEMA.md ("Metrics").
 */
#ifndef MX_STORE_METRICS_H
#define MX_STORE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../model/metrics.h"
#include "../query/prom.h"
#include "store.h"

#define MX_METRICS_BUCKET_NS (10ull * 1000000000ull) /* rollup bucket */

/* Hands a decoded report to the writer, like mx_store_submit() (same
 * return values and callback contract). `report` must live in `batch`'s
 * arena (mx_report_decode() puts it there); on MX_OK the store owns both.
 * The callback's status is MX_OK both when the report was applied and when
 * its sequence was at or below the last applied one of its instance (then
 * nothing of it, spans included, is stored again). Thread-safe. */
int mx_store_submit_report(struct mx_store *st, struct mx_batch *batch,
			   struct mx_report *report, mx_commit_cb cb, void *ctx);

/* Counters of the metrics side; a snapshot read without locks. */
struct mx_metrics_stats {
	uint64_t series_active;     /* in memory and not idle (overflow
	                               series included) */
	uint64_t series_limit;      /* --metrics.max-series */
	uint64_t series_created;    /* new label sets, total */
	uint64_t series_reloaded;   /* idle label sets that came back */
	uint64_t series_idle_dropped; /* dropped from memory when idle */
	uint64_t series_expired;    /* deleted from LMDB by retention */
	uint64_t overflow_updates;  /* updates folded into overflow series */
	uint64_t reports_applied;
	uint64_t reports_duplicate; /* sequence at or below the last applied */
	uint64_t updates_applied;   /* label-set updates (request and TCP) */
	uint64_t rollup_rows_thinned; /* deleted by downsampling */
	uint64_t rollup_rows_expired; /* deleted by retention */
	uint64_t reporter_dropped_spans; /* sum of Report.dropped_spans of
	                                    applied reports */
};

/* Fills `out`. */
void mx_store_metrics_stats(const struct mx_store *st,
			    struct mx_metrics_stats *out);

/* A copy of the series /metrics shows, taken without holding up the
 * writer for long (the table is copied in chunks; each series is
 * consistent in itself). The label strings are shared, read-only, with
 * the store and stay valid until mx_metrics_snap_free(). */
struct mx_metrics_snap {
	struct mx_istio_series *series;
	size_t n;
	void **refs; /* label blocks held */
	size_t n_refs;
};

/* Takes a snapshot of the series updated within the idle timeout before
 * `now_ns` (0: the store's clock), in table order (stable between
 * scrapes while no series comes or goes).
 * Returns MX_OK or MX_ENOMEM (the snapshot is then empty; free it all the
 * same). */
int mx_store_metrics_snapshot(struct mx_store *st, uint64_t now_ns,
			      struct mx_metrics_snap *out);

/* Releases a snapshot. Accepts NULL and a zeroed one. */
void mx_metrics_snap_free(struct mx_metrics_snap *s);

/* Cumulative values of one series at one instant, from the rollups. */
struct mx_rollup_vals {
	uint64_t count;                      /* requests / TCP opened */
	uint64_t duration[MX_HIST_BUCKETS];  /* per bucket, ms */
	double duration_sum;
	double request_bytes_sum;            /* TCP: received bytes */
	double response_bytes_sum;           /* TCP: sent bytes */
	uint64_t tcp_closed;
};

/* One series of a window read: its labels and cumulative values at both
 * ends of the window (zero where the series did not exist yet). */
struct mx_rollup_series {
	uint32_t id;
	uint8_t kind; /* enum mx_istio_kind */
	struct mx_str labels[MX_ISTIO_HTTP_LABELS];
	struct mx_rollup_vals at_start, at_end;
};

/* Calls fn(ctx, s) for every series that changed within (t0_ns, t1_ns]:
 * its cumulative values as of the last 10 s bucket ending at or before
 * t0_ns and t1_ns. Data older than an hour is kept per minute, older than
 * a day per 10 minutes, so windows ending that far back read at that
 * resolution. The labels point into memory valid only during the call.
 * Returns MX_OK, the first non-zero return of fn, MX_ENOMEM or
 * MX_ESTORE. */
int mx_store_rollup_window(struct mx_store *st, uint64_t t0_ns,
			   uint64_t t1_ns,
			   int (*fn)(void *ctx, const struct mx_rollup_series *s),
			   void *ctx);

#endif
