/*
 * zipkin_api.h - the Zipkin v2 query API (wire-protocols.md §1.5), served
 * on the Zipkin listener next to the span receiver: GET /api/v2/services,
 * /spans, /remoteServices, /traces, /trace/{traceId}, /traceMany,
 * /autocompleteKeys and /autocompleteValues.
 *
 * Answers are `application/json`; errors are `text/plain` with the status
 * (404 "<id> not found" for an unknown trace, as Zipkin). Spans are written
 * with the v2 JSON encoder of codec/zipkin.h, one span per stored span, so a
 * B3 shared span (same id, CLIENT and SERVER) reads back as both halves.
 * The name endpoints add `Cache-Control: max-age=300, must-revalidate` once
 * /api/v2/services has seen more than 3 services, as Zipkin does. Every
 * route takes CORS (MX_ROUTE_CORS) for the Zipkin UI served elsewhere.
 */
#ifndef MX_ZIPKIN_API_H
#define MX_ZIPKIN_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../collector/http.h"
#include "../storage/search.h"
#include "../storage/store.h"
#include "params.h"

#define MX_ZIPKIN_N_ROUTES 8
/* /api/v2/traces: traces per answer at most (larger limits are clamped). */
#define MX_ZIPKIN_MAX_LIMIT 1500u
/* Bytes of JSON one answer may hold (else 500). */
#define MX_ZIPKIN_MAX_RESPONSE (256u * 1024 * 1024)
/* Header set on a /api/v2/traces answer whose search stopped early (time
 * budget or scan cap): Zipkin's JSON has no place for the flag. */
#define MX_ZIPKIN_TRUNCATED_HEADER "X-Mixd-Search-Truncated"

struct mx_zipkin_query_ctx {
	struct mx_store *store;
	uint32_t max_spans;        /* per trace; 0 = 100000 */
	bool strict_trace_id;      /* a 64-bit id matches only 64-bit traces */
	uint32_t query_timeout_ms; /* per search; 0 = 5000 */
	const char *autocomplete_keys; /* comma-separated; NULL or "": none */
	/* private */
	_Atomic uint32_t service_count; /* last /api/v2/services answer */
	struct mx_route routes[MX_ZIPKIN_N_ROUTES];
};

/* Fills ctx->routes and points *out at them; returns the number of routes
 * (all GET, exact paths except the /api/v2/trace/ prefix). `ctx` must
 * outlive the HTTP server. The routes can share a listener with
 * POST /api/v2/spans: the framework matches the method too. */
size_t mx_zipkin_query_routes(struct mx_zipkin_query_ctx *ctx,
			      const struct mx_route **out);

/* A parsed GET /api/v2/traces request. */
struct mx_zipkin_search {
	struct mx_search_query q; /* ready for mx_store_search() */
	struct mx_tag_list tags;  /* q.tags points here */
};

/* Maps the /api/v2/traces parameters onto `out`: serviceName,
 * remoteServiceName, spanName ("all" means any), annotationQuery (EQ/WORD
 * conditions, span tags only), minDuration/maxDuration (µs; maxDuration
 * alone is accepted; max < min is an error), endTs (ms, default now_ns),
 * lookback (ms, default 86400000), limit (default 10, clamped to
 * MX_ZIPKIN_MAX_LIMIT); the window is [endTs - lookback, endTs]. kind is
 * -1; spans per trace and the deadline come from `ctx`. Strings point into
 * the parameters' memory. Returns MX_OK or MX_EINVAL with `err` set to the
 * 400 message. `out` must not move afterwards (q.tags points into it). */
int mx_zipkin_search_parse(const struct mx_params *p,
			   const struct mx_zipkin_query_ctx *ctx,
			   uint64_t now_ns, struct mx_zipkin_search *out,
			   char *err, size_t errlen);

#endif
