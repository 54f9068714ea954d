/*
 * zipkin_receiver.h - the Zipkin ingest endpoints: POST /api/v2/spans (v2
 * JSON, or proto3 with application/x-protobuf) and POST /api/v1/spans (v1
 * JSON). Both answer 202 with an empty body after the commit, with CORS
 * headers for browser exporters.
 */
#ifndef MX_ZIPKIN_RECEIVER_H
#define MX_ZIPKIN_RECEIVER_H

#include "../codec/codec.h"
#include "../storage/store.h"
#include "http.h"
#include "ingest.h"

struct mx_zipkin_receiver {
	struct mx_store *store;
	struct mx_decode_limits limits;
	struct mx_receiver_stats stats;
	struct mx_route routes[2];
};

/* Prepares the receiver and its two routes; `store` must outlive it. */
void mx_zipkin_receiver_init(struct mx_zipkin_receiver *rx, struct mx_store *store,
			     const struct mx_decode_limits *limits);

#endif
