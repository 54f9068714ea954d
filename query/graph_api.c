/*
 * graph_api.c - the graph API's routes and handler (graph.h), and the run
 * of one graph request in Kiali's order: parameters; the window read once;
 * for a namespace graph, per requested namespace (in the order given) its
 * traffic map, its appenders, then the merge into the graph; for a
 * node-detail graph the node's map and its appenders; then the finalizers
 * (outsider, traffic generator), the service-graph reduction for
 * graphType=service (node-detail graphs are not reduced, as in Kiali), and
 * the JSON.
 *
 * The graph is computed on the HTTP pool thread that took the request; the
 * store is only read (one read transaction of the rollups).
 */
#include "graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/error.h"
#include "graph_int.h"

#define CT_JSON "application/json"
#define MAX_ERROR_BODY (64u * 1024)

static unsigned fail(struct mx_buf *out, unsigned status, const char *msg)
{
	mx_buf_reset(out);
	g_json_error(out, msg);
	return status;
}

static bool run(struct graph *g, struct mx_buf *out)
{
	const struct g_opts *o = g->o;
	struct g_tmap final, reduced;
	memset(&final, 0, sizeof(final));
	if (o->node != NK_NONE) {
		if (!g_build_node(g, &final) || !g_append(g, &final, g->ns_ids[0]))
			return false;
	} else {
		for (uint32_t i = 0; i < o->n_ns; i++) {
			struct g_tmap m;
			memset(&m, 0, sizeof(m));
			if (!g_build_ns(g, g->ns_ids[i], &m) ||
			    !g_append(g, &m, g->ns_ids[i]) ||
			    !g_merge(g, &final, g->ns_ids[i], &m))
				return false;
		}
	}
	g_finalize(g, &final, g->ns_ids, o->n_ns);
	if (g->err)
		return false;
	if (o->node == NK_NONE && o->gtype == GT_SERVICE) {
		if (!g_reduce_service(g, &final, &reduced))
			return false;
		final = reduced;
	}
	return g_write_json(g, &final, out);
}

unsigned mx_graph_answer(struct mx_store *st, const char *path,
			 const struct mx_params *p, int64_t now_s,
			 struct mx_buf *out)
{
	char err[512];
	struct g_opts o;
	struct graph g;
	size_t plen = path ? strlen(path) + 1 : 1;
	char *scratch = malloc(plen);
	unsigned status;
	if (!scratch)
		return fail(out, 500, "out of memory");
	status = mx_graph_parse(path, p, now_s, scratch, plen, &o, err, sizeof(err));
	if (status != 200) {
		free(scratch);
		return fail(out, status, err);
	}
	int rc = g_init(&g, &o, MX_GRAPH_MAX_MEMORY);
	if (rc == MX_OK)
		rc = g_read_window(&g, st);
	if (rc != MX_OK)
		status = fail(out, 500, rc == MX_ENOMEM ? "out of memory"
			      : "cannot read the metrics store");
	else if (!run(&g, out))
		status = fail(out, 500, out->failed ? "response too large"
			      : "out of memory");
	g_free(&g);
	free(g.ser);
	free(scratch);
	return status;
}

void mx_graph_errfmt(struct mx_http_req *req, unsigned status,
		     const char *msg)
{
	struct mx_buf b;
	size_t len = 0;
	mx_buf_init(&b, MAX_ERROR_BODY);
	g_json_error(&b, msg);
	if (b.failed) {
		mx_buf_reset(&b);
		g_json_error(&b, "error message too long");
	}
	uint8_t *data = mx_buf_steal(&b, &len);
	mx_http_respond_owned(req, status, CT_JSON, data, len, NULL);
	mx_buf_free(&b);
}

static void handle(struct mx_http_req *req, void *ctx_v)
{
	struct mx_graph_ctx *ctx = ctx_v;
	struct mx_params p;
	struct mx_buf b;
	size_t len = 0;
	mx_params_from_http(&p, req);
	uint64_t now = ctx->now_ns ? ctx->now_ns() : mx_now_wall_ns();
	mx_buf_init(&b, MX_GRAPH_MAX_RESPONSE);
	unsigned status = mx_graph_answer(ctx->store, mx_http_path(req), &p,
					  (int64_t)(now / 1000000000u), &b);
	if (b.failed) {
		mx_buf_free(&b);
		mx_graph_errfmt(req, 500, "response too large");
		return;
	}
	uint8_t *data = mx_buf_steal(&b, &len);
	mx_http_respond_owned(req, status, CT_JSON, data, len, NULL);
	mx_buf_free(&b);
}

size_t mx_graph_routes(struct mx_graph_ctx *ctx, const struct mx_route **out)
{
	static const char *const paths[MX_GRAPH_N_ROUTES] = {
		"/api/namespaces/graph", "/api/namespaces/",
	};
	for (size_t i = 0; i < MX_GRAPH_N_ROUTES; i++)
		ctx->routes[i] = (struct mx_route){
			.method = "GET", .path = paths[i],
			.flags = i ? MX_ROUTE_PREFIX : 0, .fn = handle, .ctx = ctx,
			.errfmt = mx_graph_errfmt,
		};
	*out = ctx->routes;
	return MX_GRAPH_N_ROUTES;
}
