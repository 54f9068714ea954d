/*
 * graph_node.c - nodes, maps and edges of the graph API's traffic maps
 * (graph_int.h): Kiali's node ids and types (graph/types.go Id(), memoised
 * per identity since every row and appender asks again), node creation
 * with Kiali's trimming of fields by type (NewNodeExplicit), the traffic
 * map (id -> node, insertion order kept), edge lookup and append, and the
 * merge of one namespace's map into the graph (telemetry/common.go
 * MergeTrafficMaps: a node of the namespace being merged is preferred, its
 * missing edges added with their traffic to the node's outgoing rates).
 */
#include <string.h>

#include "../model/error.h"
#include "graph_int.h"

/* ------------------------------------------------------------ ids */

/* Interns prefix id_0 "_" id_1 ... suffix. */
static uint32_t cat_ids(struct graph *g, const char *prefix, const char *suffix,
			const uint32_t *ids, int n)
{
	mx_buf_reset(&g->tmp);
	g->tmp.failed = false;
	mx_buf_puts(&g->tmp, prefix);
	for (int i = 0; i < n; i++) {
		struct mx_str s = g_str(g, ids[i]);
		if (i)
			mx_buf_putc(&g->tmp, '_');
		mx_buf_append(&g->tmp, s.ptr, s.len);
	}
	mx_buf_puts(&g->tmp, suffix);
	if (g->tmp.failed) {
		g->err = MX_ENOMEM;
		return 0;
	}
	return g_intern(g, (const char *)g->tmp.data, g->tmp.len);
}

static bool node_id(struct graph *g, uint32_t cluster, uint32_t svc_ns,
		    uint32_t svc, uint32_t wl_ns, uint32_t wl, uint32_t app,
		    uint32_t ver, uint32_t *id, uint8_t *type)
{
	uint32_t ns = g_ok(wl_ns) ? wl_ns : svc_ns;
	uint8_t gt = g->o->gtype;
	if (ns == S_UNKNOWN && wl == S_UNKNOWN && app == S_UNKNOWN && svc == S_EMPTY) {
		*id = cat_ids(g, "", "_unknown_source", &cluster, 1);
		*type = NT_UNKNOWN;
		return !g->err;
	}
	if (wl == S_UNKNOWN && app == S_UNKNOWN && svc == S_UNKNOWN) {
		uint32_t p[3] = { cluster, ns, S_UNKNOWN };
		*id = cat_ids(g, "svc_", "", p, 3);
		*type = NT_SERVICE;
		return !g->err;
	}
	bool wl_ok = g_ok(wl), app_ok = g_ok(app), svc_ok = g_ok(svc);
	if (!wl_ok && !app_ok && !svc_ok)
		return false;
	if (gt == GT_WORKLOAD || gt == GT_SERVICE) {
		uint32_t p[3] = { cluster, ns, wl };
		if (!wl_ok) {
			p[2] = svc_ok ? svc : S_UNKNOWN;
			*id = cat_ids(g, "svc_", "", p, 3);
			*type = NT_SERVICE;
		} else {
			*id = cat_ids(g, "wl_", "", p, 3);
			*type = NT_WORKLOAD;
		}
		return !g->err;
	}
	if (app_ok) {
		*type = NT_APP;
		if (gt == GT_VAPP && wl_ok) {
			uint32_t p[3] = { cluster, ns, wl };
			*id = cat_ids(g, "vapp_", "", p, 3);
		} else if (gt == GT_VAPP && g_ok_version(ver)) {
			uint32_t p[4] = { cluster, ns, app, ver };
			*id = cat_ids(g, "vapp_", "", p, 4);
		} else {
			uint32_t p[3] = { cluster, ns, app };
			*id = cat_ids(g, "app_", "", p, 3);
		}
		return !g->err;
	}
	uint32_t p[3] = { cluster, ns, wl_ok ? wl : svc };
	*type = wl_ok ? NT_WORKLOAD : NT_SERVICE;
	*id = cat_ids(g, wl_ok ? "wl_" : "svc_", "", p, 3);
	return !g->err;
}

/* Node ids are asked for again and again (every row, every appender):
 * memoised by the identity they are made from. */
struct id_memo {
	uint32_t id;
	uint8_t type;
	bool ok;
};

bool g_node_id(struct graph *g, uint32_t cluster, uint32_t svc_ns,
	       uint32_t svc, uint32_t wl_ns, uint32_t wl, uint32_t app,
	       uint32_t ver, uint32_t *id, uint8_t *type)
{
	const uint32_t key[7] = { cluster, svc_ns, svc, wl_ns, wl, app, ver };
	struct id_memo *m = g_map_get(&g->id_memo, key, sizeof(key));
	if (!m) {
		if (!(m = g_alloc(g, sizeof(*m))))
			return false;
		m->ok = node_id(g, cluster, svc_ns, svc, wl_ns, wl, app, ver, &m->id,
				&m->type);
		if (g->err || !g_map_put(g, &g->id_memo, key, sizeof(key), m))
			return false;
	}
	*id = m->id;
	*type = m->type;
	return m->ok;
}

struct g_node *g_node_new(struct graph *g, uint32_t id, uint8_t type,
			  uint32_t cluster, uint32_t ns, uint32_t wl,
			  uint32_t app, uint32_t ver, uint32_t svc)
{
	struct g_node *n = g_alloc(g, sizeof(*n));
	if (!n)
		return NULL;
	switch (type) {
	case NT_APP:
		if (g->o->gtype != GT_VAPP)
			wl = ver = S_EMPTY;
		svc = S_EMPTY;
		break;
	case NT_SERVICE:
		app = wl = ver = S_EMPTY;
		if (svc == S_PASSTHROUGH || svc == S_BLACKHOLE)
			n->flags |= NF_EGRESS;
		break;
	case NT_WORKLOAD:
		if (app == S_UNKNOWN)
			app = S_EMPTY;
		if (ver == S_UNKNOWN)
			ver = S_EMPTY;
		svc = S_EMPTY;
		break;
	default:
		break;
	}
	n->id = id;
	n->type = type;
	n->cluster = cluster;
	n->ns = ns;
	n->wl = wl;
	n->app = app;
	n->ver = ver;
	n->svc = svc;
	return n;
}

/* ------------------------------------------------------------ maps */

struct g_node *g_tmap_get(const struct g_tmap *m, uint32_t id)
{
	struct g_node *n = g_map_get(&m->by_id, &id, sizeof(id));
	return n && !(n->flags & NF_REMOVED) ? n : NULL;
}

bool g_tmap_put(struct graph *g, struct g_tmap *m, struct g_node *n)
{
	if (!g_grow(g, (void **)&m->nodes, m->n, &m->cap, sizeof(*m->nodes)))
		return false;
	if (!g_map_put(g, &m->by_id, &n->id, sizeof(n->id), n))
		return false;
	m->nodes[m->n++] = n;
	return true;
}

struct g_edge *g_edge_find(const struct g_node *src, uint32_t dst_id,
			   uint32_t proto)
{
	for (uint32_t i = 0; i < src->n_edges; i++)
		if (src->edges[i]->dst->id == dst_id && src->edges[i]->proto == proto)
			return src->edges[i];
	return NULL;
}

bool g_edge_append(struct graph *g, struct g_node *src, struct g_edge *e)
{
	if (!g_grow(g, (void **)&src->edges, src->n_edges, &src->cap_edges,
		    sizeof(*src->edges)))
		return false;
	src->edges[src->n_edges++] = e;
	return true;
}

bool g_merge(struct graph *g, struct g_tmap *into, uint32_t ns,
	     struct g_tmap *from)
{
	for (uint32_t i = 0; i < from->n; i++) {
		struct g_node *ns_node = from->nodes[i];
		if (ns_node->flags & NF_REMOVED)
			continue;
		struct g_node *node = g_tmap_get(into, ns_node->id);
		if (!node) {
			if (!g_tmap_put(g, into, ns_node))
				return false;
			continue;
		}
		if (ns_node->ns == ns) { /* prefer the node of its namespace */
			if (!g_map_put(g, &into->by_id, &ns_node->id, sizeof(ns_node->id),
				       ns_node))
				return false;
			for (uint32_t j = 0; j < into->n; j++)
				if (into->nodes[j] == node)
					into->nodes[j] = ns_node;
			struct g_node *t = node;
			node = ns_node;
			ns_node = t;
		}
		for (uint32_t j = 0; j < ns_node->n_edges; j++) {
			struct g_edge *e = ns_node->edges[j];
			if (g_edge_find(node, e->dst->id, e->proto))
				continue;
			if (!g_edge_append(g, node, e))
				return false;
			g_add_outgoing(node, e);
		}
	}
	return true;
}
