/*
 * graph.h - the Kiali-style traffic graph API of the query listener
 * (istio-kiali-compat.md §3): GET /api/namespaces/graph and the node-detail
 * graphs /api/namespaces/{ns}/workloads/{w}/graph, /applications/{a}/graph,
 * /applications/{a}/versions/{v}/graph and /services/{s}/graph, with
 * Kiali's parameters, computed from the metrics rollups of the store
 * (storage/metrics.h, mx_store_rollup_window) over [queryTime - duration,
 * queryTime].
 *
 * The numbers are those Kiali computes from Prometheus for the same window:
 * every PromQL query Kiali issues (its reporter conventions, label filters,
 * `sum by`, `> 0` unless includeIdleEdges, round(…, 0.001)) is evaluated
 * over the rollups, a rate being (cumulative at the end − at the start) /
 * window seconds; then the traffic map is built, the appenders run
 * (deadNode, responseTime, securityPolicy, throughput; the Kubernetes-backed
 * ones have nothing to add here) and the finalizers (outsider, traffic
 * generator, service-graph reduction), and the answer is written as Kiali's
 * "common" JSON: `{timestamp, duration, graphType, elements: {nodes, edges}}`
 * indented as Go's json.MarshalIndent does, node and edge ids the hex
 * SHA-256 of Kiali's id strings. Bad parameters are answered 400 with
 * Kiali's error JSON {"error": "..."}; a namespace without telemetry gives
 * an empty graph.
 *
 * Files: query/graph_api.c (routes, handler, the run), graph_params.c
 * (parameters and paths), graph_read.c (the window and the query engine),
 * graph_build.c (traffic), graph_node.c (ids, nodes, maps, merge),
 * graph_append.c (appenders, finalizers),
 * graph_json.c (boxes, order, JSON), graph_util.c (strings, maps, hashes);
 * internal declarations in graph_int.h.
 */
#ifndef MX_GRAPH_H
#define MX_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "../collector/http.h"
#include "../model/buf.h"
#include "../storage/store.h"
#include "params.h"

#define MX_GRAPH_N_ROUTES 2
/* Bytes of JSON one answer may hold (else 500). */
#define MX_GRAPH_MAX_RESPONSE (256u * 1024 * 1024)
/* Bytes of working memory one graph may use (else 500). */
#define MX_GRAPH_MAX_MEMORY (1024u * 1024 * 1024)

struct mx_graph_ctx {
	struct mx_store *store;
	/* wall clock in Unix ns for the default queryTime; NULL: the real
	 * one (tests inject theirs) */
	uint64_t (*now_ns)(void);
	/* private: the route table handed out by mx_graph_routes() */
	struct mx_route routes[MX_GRAPH_N_ROUTES];
};

/* Fills ctx->routes and points *out at them; returns the number of routes:
 * GET /api/namespaces/graph and the GET prefix /api/namespaces/ (the
 * node-detail graphs; other paths under it answer 404). Place them before
 * a catch-all of the same listener. The table lives as long as `ctx`,
 * which must outlive the HTTP server. */
size_t mx_graph_routes(struct mx_graph_ctx *ctx, const struct mx_route **out);

/* The errfmt of these routes: Kiali's error JSON {"error":"<msg>"},
 * Content-Type application/json. */
void mx_graph_errfmt(struct mx_http_req *req, unsigned status,
		     const char *msg);

/* Computes the answer to a graph request without HTTP: `path` is the
 * request path (one of the routes above), `p` its query parameters,
 * `now_s` the Unix seconds used when queryTime is absent. Writes the body
 * (the graph, or the error JSON) to `out` (initialised by the caller, with
 * its cap) and returns the HTTP status: 200, 400 (bad parameters), 404
 * (unknown path) or 500 (store failure, memory or response cap). */
unsigned mx_graph_answer(struct mx_store *st, const char *path,
			 const struct mx_params *p, int64_t now_s,
			 struct mx_buf *out);

#endif
