/*
 * zipkin_receiver.c - POST /api/v2/spans and /api/v1/spans.
 *
 * As Zipkin's own collector: a body is JSON unless its Content-Type is
 * application/x-protobuf (browsers' sendBeacon sends text/plain), an empty
 * body or `[]` is accepted with nothing stored, and errors are text/plain.
 * Zipkin has no partial success: spans rejected on their content (bad ids,
 * caps) are dropped and counted, the rest are stored, and the answer is 202.
 */
#include "zipkin_receiver.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../codec/zipkin.h"
#include "../model/error.h"

static void handle(struct mx_http_req *req, struct mx_zipkin_receiver *rx, bool v1)
{
	size_t len;
	const uint8_t *body = mx_http_body(req, &len);
	const char *ctype = mx_http_header(req, "Content-Type");
	bool proto = mx_http_media_type_is(ctype, "application/x-protobuf") ||
		     mx_http_media_type_is(ctype, "application/protobuf");
	if (v1 && proto) {
		mx_ingest_text_errfmt(req, 415, "v1 spans are accepted as JSON only");
		return;
	}
	struct mx_batch *batch = mx_ingest_batch_new(len);
	struct mx_errmsg err = { .set = 0 };
	if (!batch) {
		mx_ingest_text_errfmt(req, 503, "out of memory; retry later");
		return;
	}
	int rc;
	if (v1)
		rc = mx_zipkin_v1_decode((const char *)body, len, &rx->limits, batch, &err);
	else if (proto)
		rc = mx_zipkin_proto_decode(body, len, &rx->limits, batch, &err);
	else
		rc = mx_zipkin_json_decode((const char *)body, len, &rx->limits, batch, &err);
	if (rc == MX_OK && batch->n_spans == 0) {
		/* nothing to store (empty body, [] or every span rejected) */
		atomic_fetch_add(&rx->stats.requests, 1);
		atomic_fetch_add(&rx->stats.rejected_spans, batch->rejected_spans);
		mx_batch_free(batch);
		mx_http_respond(req, 202, NULL, NULL, 0, NULL);
		return;
	}
	struct mx_ingest_pending tmpl = {
		.req = req, .stats = &rx->stats, .errfmt = mx_ingest_text_errfmt,
		.answer = mx_ingest_answer_accepted, .json = !proto,
	};
	mx_ingest_finish(rx->store, batch, rc, &tmpl, &err);
}

static void handle_v2(struct mx_http_req *req, void *ctx)
{
	handle(req, ctx, false);
}

static void handle_v1(struct mx_http_req *req, void *ctx)
{
	handle(req, ctx, true);
}

void mx_zipkin_receiver_init(struct mx_zipkin_receiver *rx, struct mx_store *store,
			     const struct mx_decode_limits *limits)
{
	memset(rx, 0, sizeof(*rx));
	rx->store = store;
	rx->limits = *limits;
	rx->routes[0] = (struct mx_route){ "POST", "/api/v2/spans", MX_ROUTE_BODY | MX_ROUTE_CORS,
					   handle_v2, rx, mx_ingest_text_errfmt };
	rx->routes[1] = (struct mx_route){ "POST", "/api/v1/spans", MX_ROUTE_BODY | MX_ROUTE_CORS,
					   handle_v1, rx, mx_ingest_text_errfmt };
}
