/*
 * jaeger_receiver.c - POST /api/traces (see jaeger_receiver.h).
 *
 * The body is thrift binary whenever the Content-Type is
 * application/x-thrift, application/vnd.apache.thrift.binary (parameters
 * allowed) or absent; any other type is refused with 415. The query string
 * (old clients append ?format=jaeger.thrift) plays no part: routing uses the
 * path only. Like Jaeger's collector there is no partial success: spans
 * rejected on their content are dropped and counted, the rest are stored,
 * and the answer is 202. Errors are text/plain.
 */
#include "jaeger_receiver.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../codec/jaeger_thrift.h"
#include "../model/error.h"

/* True for a missing or empty type and for the two thrift binary types. */
static bool is_thrift_binary(const char *ctype)
{
	return mx_http_media_type_is(ctype, "") ||
	       mx_http_media_type_is(ctype, "application/x-thrift") ||
	       mx_http_media_type_is(ctype, "application/vnd.apache.thrift.binary");
}

static void handle(struct mx_http_req *req, void *ctx)
{
	struct mx_jaeger_receiver *rx = ctx;
	size_t len;
	const uint8_t *body = mx_http_body(req, &len);
	if (!is_thrift_binary(mx_http_header(req, "Content-Type"))) {
		atomic_fetch_add(&rx->stats.requests, 1);
		mx_ingest_text_errfmt(req, 415, "Unsupported content type: want application/x-thrift "
			      "or application/vnd.apache.thrift.binary");
		return;
	}
	if (len == 0) {
		atomic_fetch_add(&rx->stats.requests, 1);
		mx_ingest_text_errfmt(req, 400, "Unable to process request body: empty body");
		return;
	}
	struct mx_batch *batch = mx_ingest_batch_new(len);
	struct mx_errmsg err = { .set = 0 };
	if (!batch) {
		mx_ingest_text_errfmt(req, 503, "out of memory; retry later");
		return;
	}
	int rc = mx_jaeger_thrift_decode_batch(MX_THRIFT_BINARY, body, len, &rx->limits,
					       batch, &err);
	if (rc == MX_OK && batch->n_spans == 0) {
		/* nothing to store (an empty Batch or every span rejected) */
		atomic_fetch_add(&rx->stats.requests, 1);
		atomic_fetch_add(&rx->stats.rejected_spans, batch->rejected_spans);
		mx_batch_free(batch);
		mx_http_respond(req, 202, NULL, NULL, 0, NULL);
		return;
	}
	struct mx_ingest_pending tmpl = {
		.req = req, .stats = &rx->stats, .errfmt = mx_ingest_text_errfmt,
		.answer = mx_ingest_answer_accepted, .json = false,
	};
	mx_ingest_finish(rx->store, batch, rc, &tmpl, &err);
}

void mx_jaeger_receiver_init(struct mx_jaeger_receiver *rx, struct mx_store *store,
			     const struct mx_decode_limits *limits)
{
	memset(rx, 0, sizeof(*rx));
	rx->store = store;
	rx->limits = *limits;
	rx->routes[0] = (struct mx_route){ "POST", "/api/traces", MX_ROUTE_BODY,
					   handle, rx, mx_ingest_text_errfmt };
}
