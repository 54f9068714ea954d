/*
 * jaeger_api.c - Jaeger query API handlers (see jaeger_api.h): services,
 * operations, trace by id and the route table; the search handler is in
 * jaeger_search.c.
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
#define SERVICES_PREFIX "/api/services/"

/* Hands the buffer's bytes to the framework. */
static void respond_buf(struct mx_http_req *req, unsigned status,
			struct mx_buf *b)
{
	size_t len = 0;
	uint8_t *data = mx_buf_steal(b, &len);
	mx_http_respond_owned(req, status, CT_JSON, data, len, NULL);
}

/* Closes the success envelope begun in `b` with `total` and answers it
 * (200), or answers 500 when it outgrew its cap. */
static void respond_envelope(struct mx_http_req *req, struct mx_buf *b,
			     uint64_t total)
{
	if (mx_jaeger_json_end(b, total) != MX_OK)
		mx_jaeger_errfmt(req, 500, "response too large");
	else
		respond_buf(req, 200, b);
}

/* Answers the names as a success envelope: `data` the string array,
 * `total` n (the /api/services and operation-name lists). */
static void respond_names(struct mx_http_req *req, const struct mx_str *names,
			  uint32_t n)
{
	struct mx_buf b;
	mx_buf_init(&b, MAX_RESPONSE);
	mx_jaeger_json_begin(&b);
	mx_jaeger_json_strings(names, n, &b);
	respond_envelope(req, &b, n);
	mx_buf_free(&b);
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

	mx_arena_init(&arena, SERVICES_ARENA);
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
	respond_names(req, names, n);
out:
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
	if (mx_jaeger_json_encode_traces(one, 1, &b) != MX_OK)
		mx_jaeger_errfmt(req, 500, "response too large");
	else
		respond_envelope(req, &b, 0);
out:
	mx_batch_free(batch);
	mx_buf_free(&b);
}

/* Jaeger's text for a span kind; "" for UNSPECIFIED. */
static const char *kind_text(uint8_t kind)
{
	switch (kind) {
	case MX_KIND_INTERNAL: return "internal";
	case MX_KIND_SERVER: return "server";
	case MX_KIND_CLIENT: return "client";
	case MX_KIND_PRODUCER: return "producer";
	case MX_KIND_CONSUMER: return "consumer";
	default: return "";
	}
}

/* Parses the spanKind filter: -1 for all (absent or empty), else the kind;
 * -2 when unknown. */
static int kind_filter(const char *s)
{
	static const uint8_t kinds[] = { MX_KIND_INTERNAL, MX_KIND_SERVER,
					 MX_KIND_CLIENT, MX_KIND_PRODUCER,
					 MX_KIND_CONSUMER };
	if (!s || !*s)
		return -1;
	for (size_t i = 0; i < sizeof(kinds); i++)
		if (strcmp(s, kind_text(kinds[i])) == 0)
			return kinds[i];
	return -2;
}

/* Lists the operations of `service` (kind < 0: all) into `arena`; answers
 * the error itself and returns false on failure. */
static bool list_operations(struct mx_http_req *req, struct mx_query_ctx *ctx,
			    const char *service, size_t len, int kind,
			    struct mx_arena *arena, struct mx_operation **ops,
			    uint32_t *n)
{
	if (!ctx->store) {
		mx_jaeger_errfmt(req, 503, "store not available");
		return false;
	}
	if (len > UINT32_MAX) {
		mx_jaeger_errfmt(req, 400, "service name too long");
		return false;
	}
	struct mx_str svc = { service, (uint32_t)len };
	int rc = mx_store_operations(ctx->store, svc, kind, arena, ops, n);
	if (rc != MX_OK) {
		char msg[128];
		snprintf(msg, sizeof(msg), "cannot list operations: %s",
			 mx_strerror(rc));
		mx_jaeger_errfmt(req, 500, msg);
		return false;
	}
	return true;
}

/* GET /api/services/{service}/operations: unique names, all kinds. */
static void handle_service_ops(struct mx_http_req *req, void *ctx_v)
{
	struct mx_query_ctx *ctx = ctx_v;
	static const char suffix[] = "/operations";
	const size_t plen = strlen(SERVICES_PREFIX), slen = strlen(suffix);
	struct mx_arena arena;
	struct mx_operation *ops = NULL;
	struct mx_str *names = NULL;
	uint32_t n = 0, u = 0;

	mx_arena_init(&arena, SERVICES_ARENA);
	/* MHD hands the path already URL-unescaped; a service may hold '/' */
	const char *path = mx_http_path(req);
	size_t len = path ? strlen(path) : 0;
	if (len <= plen + slen || strcmp(path + len - slen, suffix) != 0) {
		mx_jaeger_errfmt(req, 404, "not found");
		goto out;
	}
	if (!list_operations(req, ctx, path + plen, len - plen - slen, -1,
			     &arena, &ops, &n))
		goto out;
	names = mx_arena_calloc(&arena, n ? n : 1, sizeof(*names));
	if (!names) {
		mx_jaeger_errfmt(req, 500, "out of memory");
		goto out;
	}
	/* sorted by name then kind: equal names are adjacent */
	for (uint32_t i = 0; i < n; i++)
		if (u == 0 || !mx_str_eq(names[u - 1], ops[i].name.ptr,
					 ops[i].name.len))
			names[u++] = ops[i].name;
	respond_names(req, names, u);
out:
	mx_arena_free(&arena);
}

/* GET /api/operations?service=&spanKind= */
static void handle_operations(struct mx_http_req *req, void *ctx_v)
{
	struct mx_query_ctx *ctx = ctx_v;
	struct mx_arena arena;
	struct mx_operation *ops = NULL;
	uint32_t n = 0;
	struct mx_buf b;

	mx_arena_init(&arena, SERVICES_ARENA);
	mx_buf_init(&b, MAX_RESPONSE);
	const char *service = mx_http_query(req, "service");
	if (!service || !*service) {
		mx_jaeger_errfmt(req, 400, "parameter 'service' is required");
		goto out;
	}
	int kind = kind_filter(mx_http_query(req, "spanKind"));
	if (kind == -2) {
		mx_jaeger_errfmt(req, 400,
				 "unsupported 'spanKind': expected server, "
				 "client, producer, consumer, internal or "
				 "empty");
		goto out;
	}
	if (!list_operations(req, ctx, service, strlen(service), kind, &arena,
			     &ops, &n))
		goto out;
	mx_jaeger_json_begin(&b);
	mx_buf_putc(&b, '[');
	for (uint32_t i = 0; i < n; i++) {
		mx_buf_puts(&b, i ? ",{\"name\":\"" : "{\"name\":\"");
		mx_buf_json_escape(&b, ops[i].name.ptr, ops[i].name.len);
		mx_buf_printf(&b, "\",\"spanKind\":\"%s\"}",
			      kind_text(ops[i].kind));
	}
	mx_buf_putc(&b, ']');
	respond_envelope(req, &b, n);
out:
	mx_buf_free(&b);
	mx_arena_free(&arena);
}

/* Other /api/ paths: 404, or 405 for our own paths with another method
 * (the routes above only take GET and HEAD). */
static void handle_unknown(struct mx_http_req *req, void *ctx_v)
{
	struct mx_query_ctx *ctx = ctx_v;
	const char *path = mx_http_path(req);
	bool ours = false;
	for (size_t i = 0; path && i + 1 < MX_JAEGER_N_ROUTES; i++) {
		const struct mx_route *rt = &ctx->routes[i];
		ours = ours || ((rt->flags & MX_ROUTE_PREFIX)
				? strncmp(path, rt->path, strlen(rt->path)) == 0
				: strcmp(path, rt->path) == 0);
	}
	if (ours)
		mx_jaeger_errfmt(req, 405, "method not allowed");
	else
		mx_jaeger_errfmt(req, 404, "not found");
}

size_t mx_jaeger_routes(struct mx_query_ctx *ctx, const struct mx_route **out)
{
	static const struct {
		const char *method, *path;
		unsigned flags;
		mx_http_handler fn;
	} table[MX_JAEGER_N_ROUTES] = {
		{ "GET", "/api/services", 0, handle_services },
		{ "GET", SERVICES_PREFIX, MX_ROUTE_PREFIX, handle_service_ops },
		{ "GET", "/api/operations", 0, handle_operations },
		{ "GET", "/api/traces", 0, mx_jaeger_handle_search },
		{ "GET", TRACES_PREFIX, MX_ROUTE_PREFIX, handle_trace },
		{ NULL, "/api/", MX_ROUTE_PREFIX, handle_unknown },
	};
	for (size_t i = 0; i < MX_JAEGER_N_ROUTES; i++)
		ctx->routes[i] = (struct mx_route){
			.method = table[i].method, .path = table[i].path,
			.flags = table[i].flags, .fn = table[i].fn, .ctx = ctx,
			.errfmt = mx_jaeger_errfmt,
		};
	*out = ctx->routes;
	return MX_JAEGER_N_ROUTES;
}
