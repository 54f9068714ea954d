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
#include <time.h>

#include "../codec/otlp.h"
#include "../model/error.h"

enum { ENC_PROTO, ENC_JSON, ENC_OTHER };

struct pending {
	struct mx_http_req *req;
	struct mx_otlp_receiver *rx;
	int json;
	uint32_t n_spans;
	int64_t rejected;
	char msg[256];
};

static int encoding_of(const char *ctype)
{
	if (!ctype)
		return ENC_OTHER;
	size_t n = strcspn(ctype, "; \t");
	if ((n == 22 && strncasecmp(ctype, "application/x-protobuf", n) == 0) ||
	    (n == 20 && strncasecmp(ctype, "application/protobuf", n) == 0))
		return ENC_PROTO;
	if (n == 16 && strncasecmp(ctype, "application/json", n) == 0)
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

static void on_commit(void *ctx, int status)
{
	struct pending *p = ctx;
	struct mx_otlp_receiver *rx = p->rx;
	if (status != MX_OK) {
		atomic_fetch_add(&rx->stats.refused_spans, p->n_spans);
		if (status == MX_EFULL)
			otlp_errfmt(p->req, 503, "store full; retry later");
		else
			otlp_errfmt(p->req, 500, mx_strerror(status));
		free(p);
		return;
	}
	atomic_fetch_add(&rx->stats.accepted_spans, p->n_spans);
	struct mx_buf b;
	mx_buf_init(&b, 64 * 1024);
	mx_otlp_encode_response(p->json, p->rejected, p->rejected ? p->msg : NULL, &b);
	size_t len;
	uint8_t *body = mx_buf_steal(&b, &len);
	mx_http_respond_owned(p->req, 200, p->json ? "application/json" : "application/x-protobuf",
			      body, len, NULL);
	free(p);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void handle_traces(struct mx_http_req *req, void *ctx)
{
	struct mx_otlp_receiver *rx = ctx;
	atomic_fetch_add(&rx->stats.requests, 1);
	int enc = encoding_of(mx_http_header(req, "Content-Type"));
	if (enc == ENC_OTHER) {
		otlp_errfmt(req, 415, "unsupported Content-Type: use application/x-protobuf or application/json");
		return;
	}
	size_t len;
	const uint8_t *body = mx_http_body(req, &len);
	/* unpacked protobuf and the model take several times the wire size */
	size_t arena_cap = len * 16 + (1u << 20);
	struct mx_batch *batch = mx_batch_new(arena_cap);
	struct pending *p = calloc(1, sizeof(*p));
	struct mx_errmsg err = { .set = 0 };
	if (!batch || !p) {
		otlp_errfmt(req, 503, "out of memory; retry later");
		goto fail;
	}
	int rc = enc == ENC_JSON
		? mx_otlp_decode_json((const char *)body, len, &rx->limits, batch, &err)
		: mx_otlp_decode_proto(body, len, &rx->limits, batch, &err);
	if (rc != MX_OK) {
		char msg[320];
		snprintf(msg, sizeof(msg), "%s: %s", mx_strerror(rc),
			 err.set ? err.text : "undecodable body");
		otlp_errfmt(req, rc == MX_ENOMEM ? 413 : 400, msg);
		goto fail;
	}
	batch->received_ns = now_ns();
	p->req = req;
	p->rx = rx;
	p->json = enc == ENC_JSON;
	p->n_spans = batch->n_spans;
	p->rejected = batch->rejected_spans;
	if (p->rejected) {
		atomic_fetch_add(&rx->stats.rejected_spans, (uint64_t)p->rejected);
		snprintf(p->msg, sizeof(p->msg), "%lld spans rejected: %.200s",
			 (long long)p->rejected, err.set ? err.text : "invalid content");
	}
	rc = mx_store_submit(rx->store, batch, on_commit, p);
	if (rc == MX_OK)
		return; /* on_commit answers; the store owns the batch */
	atomic_fetch_add(&rx->stats.refused_spans, batch->n_spans);
	if (rc == MX_EBUSY)
		otlp_errfmt(req, 429, "writer queue full; retry later");
	else if (rc == MX_ESHUTDOWN)
		otlp_errfmt(req, 503, "shutting down; retry later");
	else
		otlp_errfmt(req, 500, mx_strerror(rc));
fail:
	mx_batch_free(batch);
	free(p);
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
