/*
 * jaeger_receiver.h - the Jaeger collector's HTTP ingest endpoint:
 * POST /api/traces with a bare thrift binary `Batch` (or the same wrapped in
 * a binary RPC message), as jaeger-client's HTTPSender and the OpenTelemetry
 * Jaeger exporter send it. Answers 202 with an empty body after the commit.
 */
#ifndef MX_JAEGER_RECEIVER_H
#define MX_JAEGER_RECEIVER_H

#include "../codec/codec.h"
#include "../storage/store.h"
#include "http.h"
#include "ingest.h"

struct mx_jaeger_receiver {
	struct mx_store *store;
	struct mx_decode_limits limits;
	struct mx_receiver_stats stats;
	struct mx_route routes[1];
};

/* Prepares the receiver and its route; `store` must outlive it. */
void mx_jaeger_receiver_init(struct mx_jaeger_receiver *rx, struct mx_store *store,
			     const struct mx_decode_limits *limits);

#endif
