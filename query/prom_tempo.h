/*
 * prom_tempo.h - the service-graph and span-metrics families of /metrics,
 * named and labelled as Grafana Tempo's metrics-generator writes them, so
 * that Grafana's Tempo data source (Service Graph view, span-metrics
 * table) works on a Prometheus that scrapes mixd (istio-kiali-compat.md
 * §4), plus the service graph's own mixd_servicegraph_* counters.
 *
 * Output, in this order (Tempo families without series are left out):
 *   mixd_servicegraph_pending, _pairs_total, _expired_edges_total,
 *     _duplicate_spans_total, _series_overflow_total,
 *     _unread_batches_total, mixd_dependency_counts_dropped_total,
 *     mixd_dependency_rows_expired_total
 *   traces_service_graph_request_total          counter {client, server,
 *                                                         connection_type}
 *   traces_service_graph_request_failed_total   counter (same; series with
 *                                                         failures only)
 *   traces_service_graph_request_server_seconds histogram (same)
 *   traces_service_graph_request_client_seconds histogram (same)
 *   traces_service_graph_unpaired_spans_total   counter {client} or {server}
 *   traces_service_graph_dropped_spans_total    counter {client} or {server}
 *   traces_spanmetrics_calls_total              counter {service, span_name,
 *                                                 span_kind, status_code}
 *   traces_spanmetrics_latency                  histogram (same)
 * span_kind is SPAN_KIND_UNSPECIFIED / INTERNAL / SERVER / CLIENT /
 * PRODUCER / CONSUMER, status_code STATUS_CODE_UNSET / OK / ERROR.
 * Histograms use Tempo's default buckets in seconds (sgraph.h), `le`
 * written as "0.1" ... "12.8", "+Inf" and "0.002" ... "16.384", "+Inf";
 * sums in seconds. HELP and TYPE as in prom_self.h (OpenMetrics: TYPE
 * first, counter family names without `_total`). Never writes `# EOF`:
 * the Istio families follow (prom.h).
 *
 * The renderer is a pure function of a snapshot (storage/sgraph.h).
 */
#ifndef MX_PROM_TEMPO_H
#define MX_PROM_TEMPO_H

#include <stdbool.h>
#include <stddef.h>

#include "../model/buf.h"
#include "../storage/sgraph.h"
#include "prom.h"

/* A chunked renderer over a snapshot that stays valid and unchanged
 * until mx_prom_tempo_iter_free(). */
struct mx_prom_tempo_iter {
	const struct mx_sg_snap *s;
	uint8_t fmt;     /* enum mx_prom_format */
	uint8_t fam;     /* the family being written */
	bool in_family;  /* its HELP and TYPE lines are written */
	size_t next;     /* its next series */
	struct mx_buf labels; /* one series' escaped labels */
};

/* Prepares an iterator (allocates nothing yet). */
void mx_prom_tempo_iter_init(struct mx_prom_tempo_iter *it,
			     const struct mx_sg_snap *s, enum mx_prom_format f);

/* Appends whole series to `out` until at least `want` bytes were appended
 * or everything is written. Returns 1 when more may come, 0 when done
 * (later calls append nothing), MX_ENOMEM when `out` hit its cap. */
int mx_prom_tempo_iter_next(struct mx_prom_tempo_iter *it, struct mx_buf *out,
			    size_t want);

/* Releases the iterator's memory. Accepts NULL. */
void mx_prom_tempo_iter_free(struct mx_prom_tempo_iter *it);

/* Renders everything at once (tests, tools). Returns MX_OK or MX_ENOMEM. */
int mx_prom_tempo_render(const struct mx_sg_snap *s, enum mx_prom_format f,
			 struct mx_buf *out);

#endif
