/*
 * jaeger_api.c - Jaeger query API handlers (see jaeger_api.h).
 *
 * Each handler reads from the store (which copies what it returns out of its
 * read transaction), renders the JSON into a capped buffer with
 * codec/jaeger_json.h and hands the buffer to the HTTP framework. Errors are
 * answered in Jaeger's envelope with the HTTP status as `code`.
 */
#include "jaeger_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../codec/jaeger_json.h"
#include "../model/buf.h"
#include "../model/error.h"

#define CT_JSON "application/json"
#define MAX_RESPONSE (512u * 1024 * 1024) /* one answer's JSON */
#define MAX_ERROR_BODY (64u * 1024)
#define SERVICES_ARENA (64u * 1024 * 1024) /* service names copied out */
#define TRACES_PREFIX "/api/traces/"

/* Hands the buffer's bytes to the framework. */
static void respond_buf(struct mx_http_req *req, unsigned status,
			struct mx_buf *b)
{
	size_t len = 0;
	uint8_t *data = mx_buf_steal(b, &len);
	mx_http_respond_owned(req, status, CT_JSON, data, len, NULL);
}

void mx_jaeger_errfmt(struct mx_http_req *req, unsigned status,
		      const char *msg)
{
	struct mx_buf b;
	mx_buf_init(&b, MAX_ERROR_BODY);
	if (mx_jaeger_json_error(&b, status, msg) != MX_OK) {
		/* only an absurdly long message gets here */
		mx_buf_reset(&b);
		b.failed = false;
		mx_jaeger_json_error(&b, status, "error message too long");
	}
	respond_buf(req, status, &b);
	mx_buf_free(&b);
}

static void handle_services(struct mx_http_req *req, void *ctx_v)
{
	struct mx_query_ctx *ctx = ctx_v;
	struct mx_arena arena;
	struct mx_str *names = NULL;
	uint32_t n = 0;
	struct mx_buf b;

	mx_arena_init(&arena, SERVICES_ARENA);
	mx_buf_init(&b, MAX_RESPONSE);
	if (!ctx->store) {
		mx_jaeger_errfmt(req, 503, "store not available");
		goto out;
	}
	int rc = mx_store_services(ctx->store, &arena, &names, &n);
	if (rc != MX_OK) {
		char msg[128];
		snprintf(msg, sizeof(msg), "cannot list services: %s",
			 mx_strerror(rc));
		mx_jaeger_errfmt(req, 500, msg);
		goto out;
	}
	mx_jaeger_json_begin(&b);
	mx_jaeger_json_strings(names, n, &b);
	if (mx_jaeger_json_end(&b, n) != MX_OK) {
		mx_jaeger_errfmt(req, 500, "response too large");
		goto out;
	}
	respond_buf(req, 200, &b);
out:
	mx_buf_free(&b);
	mx_arena_free(&arena);
}

static void handle_trace(struct mx_http_req *req, void *ctx_v)
{
	struct mx_query_ctx *ctx = ctx_v;
	struct mx_batch *batch = NULL;
	struct mx_buf b;
	uint8_t id[16];
	char msg[128];

	mx_buf_init(&b, MAX_RESPONSE);
	const char *path = mx_http_path(req);
	size_t plen = strlen(TRACES_PREFIX);
	if (!path || strncmp(path, TRACES_PREFIX, plen) != 0) {
		mx_jaeger_errfmt(req, 404, "not found");
		goto out;
	}
	const char *hex = path + plen;
	size_t hexlen = strlen(hex);
	if (hexlen == 0 || hexlen > 32 ||
	    mx_hex_to_id(hex, hexlen, id, sizeof(id)) != MX_OK) {
		mx_jaeger_errfmt(req, 400,
				 "malformed trace id: expected 1 to 32 hex "
				 "digits");
		goto out;
	}
	if (mx_id_is_zero(id, sizeof(id))) {
		mx_jaeger_errfmt(req, 404, "trace not found");
		goto out;
	}
	if (!ctx->store) {
		mx_jaeger_errfmt(req, 503, "store not available");
		goto out;
	}
	uint32_t max = ctx->max_spans ? ctx->max_spans
				      : MX_QUERY_DEFAULT_MAX_SPANS;
	int rc = mx_store_get_trace(ctx->store, id, !ctx->strict_trace_id,
				    max, &batch);
	if (rc == MX_ENOTFOUND || (rc == MX_OK && batch &&
				   batch->n_spans == 0)) {
		mx_jaeger_errfmt(req, 404, "trace not found");
		goto out;
	}
	if (rc == MX_ENOMEM) {
		snprintf(msg, sizeof(msg),
			 "trace too large: more than %u spans", (unsigned)max);
		mx_jaeger_errfmt(req, 500, msg);
		goto out;
	}
	if (rc != MX_OK || !batch) {
		snprintf(msg, sizeof(msg), "cannot read trace: %s",
			 mx_strerror(rc));
		mx_jaeger_errfmt(req, 500, msg);
		goto out;
	}
	const struct mx_batch *const one[1] = { batch };
	mx_jaeger_json_begin(&b);
	rc = mx_jaeger_json_encode_traces(one, 1, &b);
	if (rc == MX_OK)
		rc = mx_jaeger_json_end(&b, 0);
	if (rc != MX_OK) {
		mx_jaeger_errfmt(req, 500, "response too large");
		goto out;
	}
	respond_buf(req, 200, &b);
out:
	mx_batch_free(batch);
	mx_buf_free(&b);
}

/* Other /api/ paths: 404, or 405 for our own paths with another method
 * (the routes above only take GET and HEAD). */
static void handle_unknown(struct mx_http_req *req, void *ctx_v)
{
	(void)ctx_v;
	const char *path = mx_http_path(req);
	if (path && (strcmp(path, "/api/services") == 0 ||
		     strncmp(path, TRACES_PREFIX, strlen(TRACES_PREFIX)) == 0))
		mx_jaeger_errfmt(req, 405, "method not allowed");
	else
		mx_jaeger_errfmt(req, 404, "not found");
}

size_t mx_jaeger_routes(struct mx_query_ctx *ctx, const struct mx_route **out)
{
	ctx->routes[0] = (struct mx_route){
		.method = "GET", .path = "/api/services", .flags = 0,
		.fn = handle_services, .ctx = ctx, .errfmt = mx_jaeger_errfmt,
	};
	ctx->routes[1] = (struct mx_route){
		.method = "GET", .path = TRACES_PREFIX,
		.flags = MX_ROUTE_PREFIX, .fn = handle_trace, .ctx = ctx,
		.errfmt = mx_jaeger_errfmt,
	};
	ctx->routes[2] = (struct mx_route){
		.method = NULL, .path = "/api/", .flags = MX_ROUTE_PREFIX,
		.fn = handle_unknown, .ctx = ctx, .errfmt = mx_jaeger_errfmt,
	};
	*out = ctx->routes;
	return MX_JAEGER_N_ROUTES;
}
