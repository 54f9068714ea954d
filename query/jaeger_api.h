/*
 * jaeger_api.h - the Jaeger query HTTP JSON API handlers of the query
 * listener (wire-protocols.md §3.8): GET /api/services,
 * /api/services/{service}/operations, /api/operations, the search
 * /api/traces and /api/traces/{traceID}, plus a catch-all that answers 404
 * for other /api/ paths.
 *
 * Every answer is `application/json` in Jaeger's envelope; errors carry the
 * HTTP status as `code`: {"data":null,...,"errors":[{"code":404,"msg":...}]}.
 * Lookups run in the store's short read transactions; the JSON is built
 * after the store has copied the spans out. The search lives in
 * jaeger_search.c (parameters to mx_search_query, the handler).
 */
#ifndef MX_JAEGER_API_H
#define MX_JAEGER_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../collector/http.h"
#include "../storage/search.h"
#include "../storage/store.h"
#include "params.h"

#define MX_QUERY_DEFAULT_MAX_SPANS 100000u
#define MX_JAEGER_N_ROUTES 6
/* Search results: traces per answer at most (larger limits are clamped;
 * the Jaeger UI offers up to 1500). */
#define MX_JAEGER_MAX_LIMIT 1500u
/* Search and trace answers: bytes of JSON at most (else 500). */
#define MX_JAEGER_MAX_RESPONSE (256u * 1024 * 1024)

struct mx_query_ctx {
	struct mx_store *store;
	uint32_t max_spans;   /* spans per trace; 0 = MX_QUERY_DEFAULT_MAX_SPANS */
	bool strict_trace_id; /* a 64-bit id matches only 64-bit traces */
	uint32_t query_timeout_ms; /* per search; 0 = MX_QUERY_DEFAULT_TIMEOUT_MS */
	/* private: the route table handed out by mx_jaeger_routes() */
	struct mx_route routes[MX_JAEGER_N_ROUTES];
};

/* Fills ctx->routes and points *out at them; returns the number of routes.
 * The table lives as long as `ctx`, which must outlive the HTTP server.
 * Routes, in match order: GET /api/services, GET /api/services/ (prefix:
 * {service}/operations), GET /api/operations, GET /api/traces (search),
 * GET /api/traces/ (prefix: by id) and finally the /api/ prefix catch-all
 * (any method: 404 in the envelope, 405 for the paths above with a method
 * other than GET/HEAD).
 * When other /api/ routes share the listener, place them before the last
 * entry (or drop it). */
size_t mx_jaeger_routes(struct mx_query_ctx *ctx, const struct mx_route **out);

/* The errfmt of these routes: answers `status` with the Jaeger error
 * envelope {"code":status,"msg":msg}, Content-Type application/json. */
void mx_jaeger_errfmt(struct mx_http_req *req, unsigned status,
		      const char *msg);

/* A parsed Jaeger search request (GET /api/traces). */
struct mx_jaeger_search {
	struct mx_search_query q; /* ready for mx_store_search() */
	struct mx_tag_list tags;  /* q.tags points here */
	/* traceID parameters, when given: the search is then these lookups */
	uint8_t trace_ids[MX_QUERY_MAX_IDS][16];
	uint32_t n_trace_ids;
};

/* Maps the search parameters of GET /api/traces (wire-protocols.md §3.8)
 * onto `out`: service, operation, tags (JSON objects, repeatable) and tag
 * (key:value, repeatable) as MX_TAG_EQ with tags_match_resource, start/end
 * (µs; defaults now_ns - 48 h and now_ns), minDuration/maxDuration (Go
 * durations), limit (default 100, clamped to MX_JAEGER_MAX_LIMIT; 0 is the
 * default), traceID (repeatable, unique ids kept in order); lookback is
 * ignored. kind is -1, max_spans_per_trace and deadline_ns come from `ctx`
 * (deadline = monotonic now + query_timeout_ms). Strings point into the
 * parameters' memory, JSON tags into `arena`. Returns MX_OK, or MX_EINVAL
 * with `err` set to the 400 message (e.g. "parameter 'service' is
 * required" unless traceID is given). `out` must not move afterwards
 * (q.tags points into it). */
int mx_jaeger_search_parse(const struct mx_params *p,
			   const struct mx_query_ctx *ctx, uint64_t now_ns,
			   struct mx_arena *arena, struct mx_jaeger_search *out,
			   char *err, size_t errlen);

/* The GET /api/traces handler (ctx: struct mx_query_ctx). Search results
 * are 200 with `data` = traces newest first; a truncated search adds
 * {"msg":"search truncated: ..."} to `errors`. With traceID parameters the
 * answer holds the traces found, each missing id adding
 * {"msg":"trace not found","traceID":...} to `errors`; 404 when none was
 * found. */
void mx_jaeger_handle_search(struct mx_http_req *req, void *ctx);

#endif
