/*
 * dependencies.h - the dependency-link endpoints over the service graph's
 * `edges` (storage/sgraph.h; facts: istio-kiali-compat.md §5):
 *
 *   Zipkin  GET /api/v2/dependencies?endTs=<ms, required>&lookback=<ms>
 *           (zipkin listener) -> a bare JSON array
 *           [{"parent":"a","child":"b","callCount":12,"errorCount":1}]
 *           with errorCount left out when 0; errors text/plain (400).
 *   Jaeger  GET /api/dependencies?endTs=<ms>&lookback=<ms>&service=<name>
 *           (query listener) -> {"data":[{"parent":"a","child":"b",
 *           "callCount":3}],"total":0,"limit":0,"offset":0,"errors":null};
 *           errors in Jaeger's envelope.
 *
 * Links are summed per (parent, child) over the 1-minute buckets that
 * overlap [endTs - lookback, endTs], sorted by parent then child.
 */
#ifndef MX_DEPENDENCIES_H
#define MX_DEPENDENCIES_H

#include <stddef.h>
#include <stdint.h>

#include "../collector/http.h"
#include "../model/buf.h"
#include "../storage/sgraph.h"
#include "../storage/store.h"
#include "params.h"

#define MX_DEPS_DEFAULT_LOOKBACK_MS 86400000ull /* both APIs' default */

struct mx_deps_ctx {
	struct mx_store *store;
	/* private: the route tables handed out below */
	struct mx_route zipkin_route[1];
	struct mx_route jaeger_route[1];
};

/* GET /api/v2/dependencies (CORS, Zipkin's text errors), for the Zipkin
 * listener's table. `ctx` must outlive the HTTP server. Returns 1. */
size_t mx_deps_zipkin_routes(struct mx_deps_ctx *ctx, const struct mx_route **out);

/* GET /api/dependencies (Jaeger's envelope errors), for the query
 * listener; it must come before the Jaeger table's /api/ catch-all.
 * Returns 1. */
size_t mx_deps_jaeger_routes(struct mx_deps_ctx *ctx, const struct mx_route **out);

/* A parsed request: the window in Unix ns. */
struct mx_deps_query {
	uint64_t t0_ns, t1_ns;
	const char *service; /* Jaeger: NULL or "" for all */
	bool empty;          /* the window is empty (a negative lookback) */
};

/* Zipkin's parameters: endTs (ms) required and > 0, lookback (ms) > 0,
 * default MX_DEPS_DEFAULT_LOOKBACK_MS. Returns MX_OK or MX_EINVAL with
 * the 400 message in `err` ("endTs is required", "endTs <= 0", ...). */
int mx_deps_zipkin_parse(const struct mx_params *p, struct mx_deps_query *q,
			 char *err, size_t errlen);

/* Jaeger's parameters: endTs (ms, default now_ns) and lookback (ms,
 * default 24 h) as Go's strconv.ParseInt reads them (sign allowed; a
 * negative lookback gives an empty answer), service. Returns MX_OK or
 * MX_EINVAL with Jaeger's message ("unable to parse param 'endTs':
 * strconv.ParseInt: parsing \"x\": invalid syntax"). */
int mx_deps_jaeger_parse(const struct mx_params *p, uint64_t now_ns,
			 struct mx_deps_query *q, char *err, size_t errlen);

/* Appends Zipkin's array of the links. Returns MX_OK or MX_ENOMEM. */
int mx_deps_zipkin_json(const struct mx_dep_link *l, uint32_t n,
			struct mx_buf *out);

/* Appends Jaeger's envelope of the links whose parent or child is
 * `service` (all when NULL or ""). Returns MX_OK or MX_ENOMEM. */
int mx_deps_jaeger_json(const struct mx_dep_link *l, uint32_t n,
			const char *service, struct mx_buf *out);

#endif
