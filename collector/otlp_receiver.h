/*
 * otlp_receiver.h - the OTLP/HTTP trace receiver: POST /v1/traces.
 */
#ifndef MX_OTLP_RECEIVER_H
#define MX_OTLP_RECEIVER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "../codec/codec.h"
#include "../storage/store.h"
#include "http.h"
#include "ingest.h"

struct mx_otlp_receiver {
	struct mx_store *store;
	struct mx_decode_limits limits;
	struct mx_receiver_stats stats;
	struct mx_route routes[1];
};

/* Prepares the receiver and its route table; `store` must outlive it. */
void mx_otlp_receiver_init(struct mx_otlp_receiver *rx, struct mx_store *store,
			   const struct mx_decode_limits *limits);

#endif
