/*
 * report_receiver.h - POST /v1/report: libmixd's native reports
 * (proto/mixd/report.proto, protobuf, usually gzip). Each report is applied
 * exactly once, by (instance id, sequence), together with its sampled
 * spans (storage/metrics.h); the answer is 200 with an empty body after the
 * commit that holds it, also for a report applied before (a retry). Errors:
 * 400 (text/plain, naming the problem: libmixd drops such a report),
 * 413, 415, and 429/503 with Retry-After (libmixd retries).
 */
#ifndef MX_REPORT_RECEIVER_H
#define MX_REPORT_RECEIVER_H

#include "../codec/codec.h"
#include "../storage/store.h"
#include "http.h"
#include "ingest.h"

struct mx_report_receiver {
	struct mx_store *store;
	struct mx_decode_limits limits;
	struct mx_receiver_stats stats; /* spans of the reports; requests */
	struct mx_route routes[1];
};

/* Prepares the receiver and its route; `store` must outlive it. */
void mx_report_receiver_init(struct mx_report_receiver *rx, struct mx_store *store,
			     const struct mx_decode_limits *limits);

#endif
