/*
 * prom_self.h - mixd's own metrics (receivers, reports, the writer, the
 * store, the series table, the HTTP framework, the /metrics endpoint
 * itself) for the Prometheus endpoint, in the Prometheus text format 0.0.4
 * or OpenMetrics 1.0 (design.md §6).
 *
 * The renderer is a pure function of `struct mx_prom_self`, a plain struct
 * of numbers that the caller fills from the live counters (collector/
 * admin.c); it never reads a counter itself. It writes HELP and TYPE lines
 * for every family (OpenMetrics: TYPE first, counter family names without
 * `_total`, samples with it) and never `# EOF`: the caller appends the
 * Istio families after it (query/prom.h), whose iterator ends an
 * OpenMetrics exposition with `# EOF` even when it has no series.
 */
#ifndef MX_PROM_SELF_H
#define MX_PROM_SELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../model/buf.h"
#include "../storage/metrics.h"
#include "../storage/store.h"
#include "prom.h"

#define MX_PROM_SELF_MAX_RX 16

enum mx_prom_rx_kind {
	MX_PROM_RX_HTTP = 0, /* answers every request: refuses, never drops */
	MX_PROM_RX_UDP = 1,  /* no answer: drops, counts datagrams */
};

/* One receiver's counters. HTTP receivers show requests, accepted,
 * refused and rejected spans and refused requests; UDP listeners show
 * datagrams (as requests), accepted, rejected and dropped spans, and
 * malformed and kernel-dropped datagrams. */
struct mx_prom_self_rx {
	const char *name; /* the `receiver` label value (escaped on output) */
	uint8_t kind;     /* enum mx_prom_rx_kind */
	uint64_t requests;          /* UDP: datagrams received */
	uint64_t accepted_spans;    /* committed */
	uint64_t refused_spans;     /* HTTP: in requests refused whole */
	uint64_t rejected_spans;    /* rejected on their content */
	uint64_t refused_requests;  /* HTTP: answered with an error status */
	uint64_t dropped_spans;     /* UDP: queue full, stopping, commit failed */
	uint64_t malformed_datagrams; /* UDP */
	uint64_t kernel_drops;        /* UDP: datagrams the kernel dropped */
};

/* Everything the self-metrics show, at one instant. */
struct mx_prom_self {
	struct mx_prom_self_rx rx[MX_PROM_SELF_MAX_RX];
	size_t n_rx;
	uint64_t reports_refused; /* the "report" receiver's refused requests */
	struct mx_store_stats store;
	struct mx_metrics_stats metrics;
	/* the HTTP framework (collector/http.h) */
	uint64_t http_requests;
	uint64_t http_body_too_large;
	uint64_t http_budget_refused;
	uint64_t http_inflight;
	/* the /metrics endpoint */
	uint64_t scrapes_inflight;
	uint64_t scrapes_refused;
};

/* Appends the self-metrics of `s` in format `f` to `out` (no `# EOF`).
 * Families: mixd_receiver_*{receiver} (a family is left out when no
 * receiver shows it), mixd_reports_*, mixd_reporter_dropped_spans, mixd_writer_*
 * (mixd_writer_commit_seconds is a histogram in seconds from the store's
 * microsecond buckets; its +Inf bucket and _count are the sum of the
 * buckets), mixd_storage_*, mixd_series*, mixd_rollup_*, mixd_http_*,
 * mixd_metrics_*. Returns MX_OK, or MX_ENOMEM when `out` hit its cap
 * (`out` then holds a partial exposition). */
int mx_prom_self_render(const struct mx_prom_self *s, enum mx_prom_format f,
			struct mx_buf *out);

#endif
