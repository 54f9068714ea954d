/*
 * jaeger_api.h - the Jaeger query HTTP JSON API handlers of the query
 * listener (wire-protocols.md §3.8): GET /api/services and
 * GET /api/traces/{traceID}, plus a catch-all that answers 404 for other
 * /api/ paths.
 *
 * Every answer is `application/json` in Jaeger's envelope; errors carry the
 * HTTP status as `code`: {"data":null,...,"errors":[{"code":404,"msg":...}]}.
 * Lookups run in the store's short read transactions; the JSON is built
 * after the store has copied the spans out.
 */
#ifndef MX_JAEGER_API_H
#define MX_JAEGER_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../collector/http.h"
#include "../storage/store.h"

#define MX_QUERY_DEFAULT_MAX_SPANS 100000u
#define MX_JAEGER_N_ROUTES 3

struct mx_query_ctx {
	struct mx_store *store;
	uint32_t max_spans;   /* spans per trace; 0 = MX_QUERY_DEFAULT_MAX_SPANS */
	bool strict_trace_id; /* a 64-bit id matches only 64-bit traces */
	/* private: the route table handed out by mx_jaeger_routes() */
	struct mx_route routes[MX_JAEGER_N_ROUTES];
};

/* Fills ctx->routes and points *out at them; returns the number of routes.
 * The table lives as long as `ctx`, which must outlive the HTTP server.
 * Routes, in match order: GET /api/services, GET /api/traces/ (prefix) and
 * finally the /api/ prefix catch-all (any method: 404 in the envelope, 405
 * for the two paths above with a method other than GET/HEAD).
 * When other /api/ routes share the listener, place them before the last
 * entry (or drop it). */
size_t mx_jaeger_routes(struct mx_query_ctx *ctx, const struct mx_route **out);

/* The errfmt of these routes: answers `status` with the Jaeger error
 * envelope {"code":status,"msg":msg}, Content-Type application/json. */
void mx_jaeger_errfmt(struct mx_http_req *req, unsigned status,
		      const char *msg);

#endif
