/*
 * ingest.h - the flow every trace receiver shares once it has decoded a
 * request into a batch: hand the batch to the store, answer after the commit
 * that holds it (or refuse with the right retryable status), and count.
 */
#ifndef MX_INGEST_H
#define MX_INGEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../codec/codec.h"
#include "../model/metrics.h"
#include "../model/span.h"
#include "../storage/store.h"
#include "http.h"

/* Per-receiver counters, exposed as self-metrics. */
struct mx_receiver_stats {
	_Atomic uint64_t requests;
	_Atomic uint64_t accepted_spans; /* committed */
	_Atomic uint64_t refused_spans;  /* in requests refused whole (429/503/5xx) */
	_Atomic uint64_t rejected_spans; /* rejected on their content */
	_Atomic uint64_t refused_requests; /* answered with an error status */
};

/* What a receiver knows of one request while it waits for the commit. */
struct mx_ingest_pending {
	struct mx_http_req *req;
	struct mx_receiver_stats *stats;
	mx_http_errfmt errfmt;
	/* answers a committed request (200 + body, 202, ...) */
	void (*answer)(const struct mx_ingest_pending *p);
	bool json;        /* the request's encoding, for the answer */
	struct mx_report *report; /* a native report in the batch to apply
				     with it (storage/metrics.h), or NULL */
	uint32_t n_spans;
	uint64_t rejected;
	char msg[256];    /* why spans were rejected, when they were */
};

/* A new batch for a decoded body of `body_len` bytes: its arena may hold
 * 16 times the body (unpacked protobuf and the model take several times the
 * wire size) plus 1 MiB. NULL when malloc fails. */
struct mx_batch *mx_ingest_batch_new(size_t body_len);

/* Finishes a request whose body was decoded into `batch` with result
 * `decode_rc` (ownership of the batch passes here in every case).
 * A failed decode is answered with tmpl->errfmt: 413 when the decoded form
 * passed the arena cap (MX_ENOMEM), else 400 naming the problem from `err`.
 * A successful one is submitted to the store (with tmpl->report, when set,
 * through mx_store_submit_report): after the commit tmpl->answer
 * is called (n_spans, rejected and msg filled from the batch and `err`); on
 * refusal errfmt answers 429 (queue full), 503 (store full or stopping) or
 * 500, and the spans count as refused. Never blocks. */
void mx_ingest_finish(struct mx_store *store, struct mx_batch *batch, int decode_rc,
		      const struct mx_ingest_pending *tmpl,
		      const struct mx_errmsg *err);

/* The error form of Zipkin and Jaeger: `msg` as text/plain, with
 * Retry-After: 1 on 429 and 503. Usable as a route's errfmt. */
void mx_ingest_text_errfmt(struct mx_http_req *req, unsigned status, const char *msg);

/* Answers a committed request 202 with an empty body (Zipkin, Jaeger). */
void mx_ingest_answer_accepted(const struct mx_ingest_pending *p);

#endif
