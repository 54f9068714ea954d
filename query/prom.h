/*
 * prom.h - the Prometheus endpoint's renderer: Istio's standard metrics in
 * the Prometheus text format 0.0.4 or in OpenMetrics 1.0, exactly as Istio
 * (Envoy) names, labels and buckets them, and the Accept-header
 * negotiation between the two.
 *
 * Files: prom_istio.c (families, the chunked iterator), prom_text.c (label
 * escaping, number formatting, negotiation). Facts:
 * istio-kiali-compat.md §1.1, wire-protocols.md §5.1-§5.2, design.md §6.
 *
 * Output, per family (families without series are left out):
 *   istio_requests_total                  counter   (HTTP series)
 *   istio_request_duration_milliseconds   histogram (HTTP; exemplars in
 *                                                    OpenMetrics)
 *   istio_request_bytes                   histogram (HTTP)
 *   istio_response_bytes                  histogram (HTTP)
 *   istio_tcp_connections_opened_total    counter   (TCP series)
 *   istio_tcp_connections_closed_total    counter   (TCP)
 *   istio_tcp_sent_bytes_total            counter   (TCP)
 *   istio_tcp_received_bytes_total        counter   (TCP)
 * with HELP and TYPE lines (OpenMetrics: TYPE first, family names without
 * `_total`, `# EOF` at the end), the series in the order given, `le`
 * strings exactly Envoy's ("0.5", "1", ... "3600000", "+Inf") in both
 * formats, histogram sums as Envoy prints them (integral values in full
 * digits, others as the shortest round-trip %g form), counts as integers.
 */
#ifndef MX_PROM_H
#define MX_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../model/buf.h"
#include "../model/metrics.h"

enum mx_prom_format {
	MX_PROM_TEXT = 0,        /* text/plain; version=0.0.4 */
	MX_PROM_OPENMETRICS = 1, /* application/openmetrics-text; version=1.0.0 */
};

enum mx_istio_kind {
	MX_ISTIO_HTTP = 0, /* request metrics (HTTP and gRPC) */
	MX_ISTIO_TCP = 1,  /* TCP metrics */
};

/* One histogram with cumulative-over-time values. `buckets` are per bucket
 * (bucket i counts the observations in (bound[i-1], bound[i]]), not
 * cumulative across `le`: the renderer accumulates them, so the `+Inf`
 * bucket and `_count` are the sum of all buckets. */
struct mx_prom_hist {
	uint64_t buckets[MX_HIST_BUCKETS];
	double sum;
};

/* One Istio series with its cumulative values. */
struct mx_istio_series {
	uint8_t kind; /* enum mx_istio_kind */
	/* label values in Istio's order: the 25 of mx_istio_http_label_names
	 * for HTTP, the first 23 (mx_istio_tcp_label_names) for TCP; see
	 * mx_istio_labels(). Values must be UTF-8 (the report decoder checks
	 * it); the renderer escapes \, " and line feeds. */
	struct mx_str labels[MX_ISTIO_HTTP_LABELS];
	/* HTTP */
	uint64_t count; /* istio_requests_total */
	struct mx_prom_hist duration;
	struct mx_prom_hist request_bytes;
	struct mx_prom_hist response_bytes;
	bool has_exemplar; /* OpenMetrics only: on the duration bucket the
	                      exemplar's value falls in */
	struct mx_exemplar exemplar;
	/* TCP */
	uint64_t tcp_opened;
	uint64_t tcp_closed;
	uint64_t tcp_sent;
	uint64_t tcp_received;
};

/* The Content-Type that goes with a format, e.g.
 * "text/plain; version=0.0.4; charset=utf-8". */
const char *mx_prom_content_type(enum mx_prom_format f);

/* Picks the format for an Accept header: OpenMetrics when an
 * application/openmetrics-text entry (version absent, 1.0.0 or 0.0.1) has
 * the highest q-value, else text (also for NULL, empty or unparsable
 * headers, and when nothing matches). Ties go to the entry listed first.
 * q=0 excludes an entry. */
enum mx_prom_format mx_prom_negotiate(const char *accept);

/* True when an Accept-Encoding header accepts gzip (a `gzip` or `*` token
 * with a q-value above 0). NULL gives false. */
bool mx_prom_accepts_gzip(const char *accept_encoding);

/* Renders `n` series in format `f`, appending to `out`. Returns MX_OK, or
 * MX_ENOMEM when `out` (or the renderer's label cache) hits its cap;
 * `out` then holds a partial exposition. */
int mx_prom_render(const struct mx_istio_series *s, size_t n,
		   enum mx_prom_format f, struct mx_buf *out);

/* The chunked renderer, for streaming a response: the series array must
 * stay valid and unchanged until mx_prom_iter_free(). */
struct mx_prom_iter {
	const struct mx_istio_series *s;
	size_t n;
	uint8_t fmt;           /* enum mx_prom_format */
	uint8_t fam;           /* the family being written */
	bool in_family;        /* its HELP and TYPE lines are written */
	bool done;
	size_t next;           /* the next series of the family */
	size_t n_kind[2];      /* series per enum mx_istio_kind */
	struct mx_buf labels;  /* every series' escaped label block */
	uint32_t *label_off;   /* n + 1 offsets into `labels` */
};

/* Prepares an iterator: builds the escaped label block of every series
 * once (cap 1 GiB). Returns MX_OK or MX_ENOMEM (then call
 * mx_prom_iter_free() all the same). */
int mx_prom_iter_init(struct mx_prom_iter *it, const struct mx_istio_series *s,
		      size_t n, enum mx_prom_format f);

/* Appends whole series (all lines of one series in one family) to `out`
 * until at least `want` bytes were appended or the exposition is complete.
 * Returns 1 when more may come (the next call may append nothing more than
 * the end), 0 when the exposition is complete (later calls append nothing
 * and return 0), MX_ENOMEM when `out` hit its cap (the iterator is then
 * finished). */
int mx_prom_iter_next(struct mx_prom_iter *it, struct mx_buf *out, size_t want);

/* Releases the iterator's memory. Accepts NULL. */
void mx_prom_iter_free(struct mx_prom_iter *it);

/* --- prom_text.c: formatting helpers shared with the rest of query/ --- */

/* Writes `v` as Envoy prints a histogram sum ({:.32g}): NaN, +Inf, -Inf;
 * an integral value below 1e32 in full digits without exponent; otherwise
 * the shortest of %.15g, %.16g, %.17g that reads back exactly. `out` must
 * hold 48 bytes; returns the length (no NUL counted; one is written). */
size_t mx_prom_fmt_double(double v, char *out);

/* Writes `v` in decimal; `out` must hold 21 bytes; returns the length
 * (no NUL written). */
size_t mx_prom_fmt_u64(uint64_t v, char *out);

/* Appends `s` escaped as a label value (\ -> \\, " -> \", LF -> \n). */
int mx_prom_escape_label(struct mx_buf *out, struct mx_str s);

#endif
