/*
 * metrics.h - the metrics half of the model: Istio request and TCP
 * aggregates as a native report (proto/mixd/report.proto) delivers them.
 *
 * A report carries, per label set, the deltas of one interval of one
 * reporter instance. The labels are already resolved to strings with
 * Istio's value conventions applied (see istio-kiali-compat.md §1.1):
 * absent peer strings read "unknown", an absent peer canonical revision
 * "latest", response_code is the decimal status ("0" without a response),
 * response_flags "-" when none, grpc_response_status "" for plain HTTP.
 * Histograms use Envoy's default bounds (MX_HIST_BOUNDS finite bounds and
 * +Inf); deltas are per bucket (not cumulative across `le`).
 *
 * Memory: a decoded report lives in the arena of an mx_batch (the batch
 * also holds the report's spans), so every mx_str points into that arena,
 * as do the histograms' values and each aggregate's `local` workload (the
 * report's reporter). An aggregate is small (a few hundred bytes): its
 * histograms are sparse, only the non-zero bucket deltas are stored.
 *
 * mx_istio_labels() lays a label set out in Istio's label order, as the
 * Prometheus renderer (query/prom.h) and the store want them.
 */
#ifndef MX_METRICS_H
#define MX_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "span.h"

#define MX_HIST_BOUNDS 19  /* finite bounds of Envoy's default buckets */
#define MX_HIST_BUCKETS 20 /* the finite ones and +Inf */

#define MX_ISTIO_HTTP_LABELS 25 /* reporter + 19 peer labels + 5 */
#define MX_ISTIO_TCP_LABELS 23  /* reporter + 19 peer labels + 3 */

/* Envoy's default histogram bounds: 0.5, 1, 5, ..., 3600000. */
extern const double mx_hist_bounds[MX_HIST_BOUNDS];

/* The `le` strings exactly as Envoy prints them ("0.5", "1", ... "3600000",
 * "+Inf"): index i is the upper bound of bucket i. */
extern const char *const mx_hist_le[MX_HIST_BUCKETS];

/* Istio's label names, in Istio's order, for the request metrics (25) and
 * the TCP metrics (23). */
extern const char *const mx_istio_http_label_names[MX_ISTIO_HTTP_LABELS];
extern const char *const mx_istio_tcp_label_names[MX_ISTIO_TCP_LABELS];

/* Returns the index of the bucket a value falls in: the first i with
 * v <= mx_hist_bounds[i], else MX_HIST_BUCKETS - 1 (+Inf; also for NaN). */
uint32_t mx_hist_bucket_of(double v);

enum mx_role {
	MX_ROLE_UNSPECIFIED = 0, /* only the reporter's overflow cell:
	                            reporter="unknown" */
	MX_ROLE_SOURCE = 1,      /* reporter="source": the client side */
	MX_ROLE_DESTINATION = 2, /* reporter="destination": the server side */
};

/* The identity of a workload (the reporter's own, or a peer's). */
struct mx_workload {
	struct mx_str workload;
	struct mx_str workload_namespace;
	struct mx_str app;
	struct mx_str version;
	struct mx_str canonical_service;
	struct mx_str canonical_revision;
	struct mx_str cluster;
	struct mx_str principal;
};

/* The labels of one request or TCP series. */
struct mx_series_labels {
	uint8_t role;              /* enum mx_role */
	bool overflow;             /* the reporter's overflow cell */
	const struct mx_workload *local; /* the reporter's identity (shared by
	                                    the aggregates of a report; NULL
	                                    reads as all values empty) */
	struct mx_workload peer;   /* the other side */
	struct mx_str destination_service;           /* host */
	struct mx_str destination_service_name;
	struct mx_str destination_service_namespace;
	struct mx_str request_protocol;  /* "http", "grpc", "tcp" */
	struct mx_str response_code;     /* decimal text; "0" = no response;
	                                    empty for TCP */
	struct mx_str grpc_response_status; /* "" for plain HTTP and TCP */
	struct mx_str response_flags;    /* "-" when none */
	struct mx_str connection_security_policy;
};

/* Per-bucket deltas of one histogram and the delta of its sum, sparse:
 * bucket i has a non-zero delta exactly when bit i of `nz` is set, and the
 * non-zero deltas are vals[0 .. popcount(nz)) in bucket order (vals may be
 * NULL when nz is 0). Read with mx_hist_bucket(), set with mx_hist_set(). */
struct mx_hist_delta {
	uint32_t nz;
	const uint64_t *vals;
	double sum;
};

/* The number of bits set in x (without a library call where the CPU
 * baseline has no popcount instruction). */
static inline uint32_t mx_popcount32(uint32_t x)
{
	x = x - ((x >> 1) & 0x55555555u);
	x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
	x = (x + (x >> 4)) & 0x0f0f0f0fu;
	return (x * 0x01010101u) >> 24;
}

/* The delta of bucket i (i < MX_HIST_BUCKETS). */
static inline uint64_t mx_hist_bucket(const struct mx_hist_delta *h,
				      uint32_t i)
{
	if (!(h->nz >> i & 1u))
		return 0;
	return h->vals[mx_popcount32(h->nz & ((1u << i) - 1u))];
}

/* Sets the buckets of `h` from the dense deltas b[0 .. MX_HIST_BUCKETS)
 * (h->sum is left as it is); the non-zero ones are copied into `arena`.
 * Returns MX_OK, or MX_ENOMEM (h unchanged). */
int mx_hist_set(struct mx_hist_delta *h, const uint64_t b[MX_HIST_BUCKETS],
		struct mx_arena *arena);

/* One sampled span of a series, for an exemplar on the duration buckets. */
struct mx_exemplar {
	uint8_t trace_id[16];
	uint8_t span_id[8];  /* all zero when the report gave none */
	double value;        /* the span's duration, ms */
	uint64_t time_ns;    /* 0 when the report gave none */
};

/* The deltas of one request series over one interval. `count` equals the
 * sum of each histogram's buckets (the decoder checks it; an empty
 * histogram has none). */
struct mx_request_agg {
	struct mx_series_labels labels;
	uint64_t count;
	struct mx_hist_delta duration;       /* whole ms */
	struct mx_hist_delta request_bytes;
	struct mx_hist_delta response_bytes;
	bool has_exemplar;
	struct mx_exemplar exemplar;
};

/* The deltas of one TCP series over one interval. */
struct mx_tcp_agg {
	struct mx_series_labels labels;
	uint64_t opened;
	uint64_t closed;
	uint64_t sent_bytes;
	uint64_t received_bytes;
};

/* One decoded native report. Its spans are the spans of the batch the
 * report was decoded into (batch->spans[first_span .. +n_spans)). */
struct mx_report {
	uint8_t instance_id[16];
	uint64_t sequence;         /* >= 1 */
	uint64_t interval_start_ns;
	uint64_t interval_end_ns;
	struct mx_workload reporter; /* conventions applied, as in the aggs */
	struct mx_request_agg *requests;
	uint32_t n_requests;
	struct mx_tcp_agg *tcp;
	uint32_t n_tcp;
	struct mx_batch *batch;    /* holds this report and its spans */
	uint32_t first_span;
	uint32_t n_spans;
	uint64_t dropped_spans;    /* dropped by the reporter */
	uint64_t overflow_series;  /* label sets folded by the reporter */
	struct mx_str library_version;
};

/* Writes the label values of `l` into out[] in Istio's order: the 25
 * request labels (mx_istio_http_label_names), or the 23 TCP labels when
 * `tcp` (mx_istio_tcp_label_names; out[23..24] are set empty). The source
 * side is the local workload when l->role is MX_ROLE_SOURCE, else the
 * peer; the destination side the local workload when it is
 * MX_ROLE_DESTINATION, else the peer (so MX_ROLE_UNSPECIFIED gives the
 * peer's identity on both sides and reporter="unknown"). The strings are
 * not copied. */
void mx_istio_labels(const struct mx_series_labels *l, bool tcp,
		     struct mx_str out[MX_ISTIO_HTTP_LABELS]);

#endif
