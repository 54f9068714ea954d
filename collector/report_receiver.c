/*
 * report_receiver.c - POST /v1/report (see report_receiver.h): decodes the
 * (already size-checked and inflated) body with the report decoder into a
 * batch and hands batch and report to the store, which applies the report
 * in the writer's transaction; the answer follows the commit.
 */
#include "report_receiver.h"

#include <string.h>

#include "../codec/report.h"
#include "../storage/metrics.h"

static bool protobuf_type(const char *ctype)
{
	return !ctype || !*ctype ||
	       mx_http_media_type_is(ctype, "application/x-protobuf") ||
	       mx_http_media_type_is(ctype, "application/protobuf") ||
	       mx_http_media_type_is(ctype, "application/octet-stream");
}

static void answer_ok(const struct mx_ingest_pending *p)
{
	mx_http_respond(p->req, 200, NULL, NULL, 0, NULL);
}

static void handle_report(struct mx_http_req *req, void *ctx)
{
	struct mx_report_receiver *rx = ctx;
	if (!protobuf_type(mx_http_header(req, "Content-Type"))) {
		atomic_fetch_add(&rx->stats.requests, 1);
		atomic_fetch_add(&rx->stats.refused_requests, 1);
		mx_ingest_text_errfmt(req, 415, "unsupported Content-Type: use application/x-protobuf");
		return;
	}
	size_t len;
	const uint8_t *body = mx_http_body(req, &len);
	struct mx_batch *batch = mx_ingest_batch_new(len);
	struct mx_errmsg err = { .set = 0 };
	struct mx_report *report = NULL;
	if (!batch) {
		atomic_fetch_add(&rx->stats.requests, 1);
		atomic_fetch_add(&rx->stats.refused_requests, 1);
		mx_ingest_text_errfmt(req, 503, "out of memory; retry later");
		return;
	}
	int rc = mx_report_decode(body, len, &rx->limits, batch, &report, &err);
	struct mx_ingest_pending tmpl = {
		.req = req, .stats = &rx->stats, .errfmt = mx_ingest_text_errfmt,
		.answer = answer_ok, .report = report,
	};
	mx_ingest_finish(rx->store, batch, rc, &tmpl, &err);
}

void mx_report_receiver_init(struct mx_report_receiver *rx, struct mx_store *store,
			     const struct mx_decode_limits *limits)
{
	memset(rx, 0, sizeof(*rx));
	rx->store = store;
	rx->limits = *limits;
	rx->routes[0] = (struct mx_route){
		.method = "POST",
		.path = "/v1/report",
		.flags = MX_ROUTE_BODY,
		.fn = handle_report,
		.ctx = rx,
		.errfmt = mx_ingest_text_errfmt,
	};
}
