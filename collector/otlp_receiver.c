/*
 * otlp_receiver.c - POST /v1/traces: OTLP/HTTP in protobuf or JSON.
 *
 * Decodes the (already size-checked and inflated) body into a batch, hands
 * the batch to the store and answers from the writer thread once the commit
 * holding it is durable: 200 with an ExportTraceServiceResponse in the
 * request's encoding (partial_success when spans were rejected on their
 * content). Errors follow OTLP/HTTP: 400 (google.rpc.Status) for bodies that
 * do not decode, 413 too large, 415 (text/plain) for other content types,
 * 429/503 with Retry-After when the writer is overloaded or the store full.
 */
#include "otlp_receiver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../codec/otlp.h"
#include "../model/error.h"

enum { ENC_PROTO, ENC_JSON, ENC_OTHER };

static int encoding_of(const char *ctype)
{
	if (mx_http_media_type_is(ctype, "application/x-protobuf") ||
	    mx_http_media_type_is(ctype, "application/protobuf"))
		return ENC_PROTO;
	if (mx_http_media_type_is(ctype, "application/json"))
		return ENC_JSON;
	return ENC_OTHER;
}

/* google.rpc.Status in the request's encoding; text/plain for 415. */
static void otlp_errfmt(struct mx_http_req *req, unsigned status, const char *msg)
{
	static const char *const retry[] = { "Retry-After", "1", NULL };
	const char *const *extra = (status == 429 || status == 503) ? retry : NULL;
	int enc = encoding_of(mx_http_header(req, "Content-Type"));
	if (status == 415 || enc == ENC_OTHER) {
		char text[300];
		int n = snprintf(text, sizeof(text), "%s\n", msg);
		mx_http_respond(req, status, "text/plain; charset=utf-8", text,
				n > 0 ? (size_t)n : 0, extra);
		return;
	}
	struct mx_buf b;
	mx_buf_init(&b, 64 * 1024);
	mx_otlp_encode_status(enc == ENC_JSON, (int32_t)status, msg, &b);
	size_t len;
	uint8_t *body = mx_buf_steal(&b, &len);
	mx_http_respond_owned(req, status, enc == ENC_JSON ? "application/json" : "application/x-protobuf",
			      body, len, extra);
}

/* 200 with ExportTraceServiceResponse (partial_success when spans were
 * rejected) in the request's encoding. */
static void answer_ok(const struct mx_ingest_pending *p)
{
	struct mx_buf b;
	mx_buf_init(&b, 64 * 1024);
	mx_otlp_encode_response(p->json, (int64_t)p->rejected, p->rejected ? p->msg : NULL, &b);
	size_t len;
	uint8_t *body = mx_buf_steal(&b, &len);
	mx_http_respond_owned(p->req, 200, p->json ? "application/json" : "application/x-protobuf",
			      body, len, NULL);
}

static void handle_traces(struct mx_http_req *req, void *ctx)
{
	struct mx_otlp_receiver *rx = ctx;
	int enc = encoding_of(mx_http_header(req, "Content-Type"));
	if (enc == ENC_OTHER) {
		otlp_errfmt(req, 415, "unsupported Content-Type: use application/x-protobuf or application/json");
		return;
	}
	size_t len;
	const uint8_t *body = mx_http_body(req, &len);
	struct mx_batch *batch = mx_ingest_batch_new(len);
	struct mx_errmsg err = { .set = 0 };
	if (!batch) {
		otlp_errfmt(req, 503, "out of memory; retry later");
		return;
	}
	int rc = enc == ENC_JSON
		? mx_otlp_decode_json((const char *)body, len, &rx->limits, batch, &err)
		: mx_otlp_decode_proto(body, len, &rx->limits, batch, &err);
	struct mx_ingest_pending tmpl = {
		.req = req, .stats = &rx->stats, .errfmt = otlp_errfmt,
		.answer = answer_ok, .json = enc == ENC_JSON,
	};
	mx_ingest_finish(rx->store, batch, rc, &tmpl, &err);
}

void mx_otlp_receiver_init(struct mx_otlp_receiver *rx, struct mx_store *store,
			   const struct mx_decode_limits *limits)
{
	memset(rx, 0, sizeof(*rx));
	rx->store = store;
	rx->limits = *limits;
	rx->routes[0] = (struct mx_route){
		.method = "POST",
		.path = "/v1/traces",
		.flags = MX_ROUTE_BODY | MX_ROUTE_CORS,
		.fn = handle_traces,
		.ctx = rx,
		.errfmt = otlp_errfmt,
	};
}
