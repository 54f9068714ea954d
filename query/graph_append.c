/*
 * graph_append.c - Kiali's appenders and finalizers over a traffic map
 * (graph/telemetry/istio/appender/, telemetry/common.go):
 *
 *  - deadNode: removes, until nothing changes, service nodes without
 *    traffic or outgoing edges (egress clusters excepted) and "unknown"
 *    nodes without traffic. (Kiali also flags workloads that have no pods;
 *    mixd knows no Kubernetes inventory and keeps them.)
 *  - responseTime: per edge, the quantile (histogram_quantile over the
 *    duration buckets, destination telemetry first, then source) or the
 *    average, the first value found for an edge kept.
 *  - securityPolicy: per source/destination pair, the share of mutual_tls
 *    traffic (isMTLS, set when above 0) and the first principals seen.
 *  - throughput: request (source telemetry) or response (destination
 *    telemetry) bytes per second of the http edges.
 *  - outsider, trafficGenerator: isOutside / isInaccessible and isRoot.
 *  - ReduceToServiceGraph for graphType=service.
 * The Kubernetes-backed appenders (serviceEntry, workloadEntry, idleNode,
 * istio, meshCheck, health, labeler) have nothing to contribute.
 */
#include <math.h>
#include <string.h>

#include "../model/error.h"
#include "graph_int.h"

/* ------------------------------------------------------------ deadNode */

static bool has_traffic(const struct g_node *n)
{
	static const int io[] = { NR_GRPC_IN, NR_GRPC_OUT, NR_HTTP_IN,
				  NR_HTTP_OUT, NR_TCP_IN, NR_TCP_OUT };
	for (size_t i = 0; i < sizeof(io) / sizeof(io[0]); i++)
		if (n->r[io[i]] > 0)
			return true;
	return false;
}

static void dead_nodes(struct g_tmap *m)
{
	for (uint32_t tries = m->n; tries > 0; tries--) {
		uint32_t removed = 0;
		for (uint32_t i = 0; i < m->n; i++) {
			struct g_node *n = m->nodes[i];
			if ((n->flags & NF_REMOVED) || has_traffic(n))
				continue;
			if (n->type == NT_SERVICE) {
				if (n->n_edges > 0 || (n->flags & NF_EGRESS))
					continue;
			} else if (n->type != NT_UNKNOWN)
				continue; /* a workload: assumed to exist */
			n->flags |= NF_REMOVED;
			removed++;
		}
		if (!removed)
			return;
		for (uint32_t i = 0; i < m->n; i++) {
			struct g_node *n = m->nodes[i];
			uint32_t k = 0;
			for (uint32_t j = 0; j < n->n_edges; j++)
				if (g_tmap_get(m, n->edges[j]->dst->id))
					n->edges[k++] = n->edges[j];
			n->n_edges = k;
		}
	}
}

/* ------------------------------------------------------------ edge maps */

/* key: source id, destination id, protocol (0 for the security map) */
struct ekey { uint32_t src, dst, proto; };

struct sec {
	struct g_kv *pol;
	uint32_t n_pol, cap_pol;
	bool princ;
	uint32_t sprinc, dprinc;
};

static bool ids_of(struct graph *g, const struct g_who *s, const struct g_who *d,
		   struct ekey *k)
{
	uint8_t t;
	/* Kiali passes the source namespace as both service and workload
	 * namespace here */
	return g_node_id(g, s->cluster, s->svc_ns, s->svc, s->svc_ns, s->wl,
			 s->app, s->ver, &k->src, &t) &&
	       g_node_id(g, d->cluster, d->svc_ns, d->svc, d->wl_ns, d->wl, d->app,
			 d->ver, &k->dst, &t);
}

/* The service node standing for injected destination `d`. */
static struct g_who svc_of(const struct g_who *d)
{
	return (struct g_who){ d->cluster, d->svc_ns, d->svc, 0, 0, 0, 0 };
}

/* A row's edge key for responseTime / throughput (with injection: the
 * service-to-destination edge). False: skip the row. */
static bool row_key(struct graph *g, const struct g_ser *s, uint32_t proto,
		    struct ekey *k)
{
	struct g_who src, dst;
	bool skip;
	if (!g_row_identity(g, s, &src, &dst))
		return false;
	bool inject = g_inject(g, &dst, &skip);
	if (skip)
		return false;
	if (inject)
		src = svc_of(&dst);
	memset(k, 0, sizeof(*k));
	if (!ids_of(g, &src, &dst, k))
		return false;
	k->proto = proto;
	return true;
}

static bool response_time(struct graph *g, struct g_tmap *m, uint32_t ns)
{
	const struct g_opts *o = g->o;
	struct g_map rt = { 0 };
	if (o->rate_grpc != RATE_REQUESTS && o->rate_http != RATE_REQUESTS)
		return true;
	for (int pass = 0; pass < 2; pass++) {
		struct g_query q;
		struct g_vec v;
		memset(&q, 0, sizeof(q));
		q.kind = MX_ISTIO_HTTP;
		q.group = g_by_peers;
		q.n_group = sizeof(g_by_peers);
		q.mode = o->quantile > 0 ? GM_QUANTILE : GM_AVG;
		q.quantile = o->quantile;
		q.reporter = pass ? S_SOURCE : S_DEST;
		q.pred[0] = (struct g_pred){ pass ? L_SWLNS : L_DSVCNS, OP_EQ, ns, 0 };
		q.n_pred = 1;
		if (!g_query(g, &q, &v))
			return false;
		for (uint32_t i = 0; i < v.n; i++) {
			const struct g_ser *s = v.rows[i].rep;
			uint32_t proto = s->lab[L_PROTO];
			struct ekey k;
			if (proto == S_EMPTY ||
			    (proto == S_HTTP && o->rate_http != RATE_REQUESTS) ||
			    (proto == S_GRPC && o->rate_grpc != RATE_REQUESTS) ||
			    isnan(v.rows[i].val) || !row_key(g, s, proto, &k))
				continue;
			if (g_map_get(&rt, &k, sizeof(k)))
				continue; /* the first value found is kept */
			double *d = g_alloc(g, sizeof(*d));
			if (!d || !g_map_put(g, &rt, &k, sizeof(k), d))
				return false;
			*d = v.rows[i].val;
		}
	}
	for (uint32_t i = 0; i < m->n; i++)
		for (uint32_t j = 0; j < m->nodes[i]->n_edges; j++) {
			struct g_edge *e = m->nodes[i]->edges[j];
			struct ekey k = { e->src->id, e->dst->id, e->proto };
			double *d = g_map_get(&rt, &k, sizeof(k));
			if (d) {
				e->rt = *d;
				e->has |= EF_RT;
			}
		}
	return !g->err;
}

static bool throughput(struct graph *g, struct g_tmap *m, uint32_t ns)
{
	const struct g_opts *o = g->o;
	struct g_map tp = { 0 };
	if (o->rate_http != RATE_REQUESTS)
		return true;
	for (int pass = 0; pass < 2; pass++) {
		struct g_query q;
		struct g_vec v;
		memset(&q, 0, sizeof(q));
		q.kind = MX_ISTIO_HTTP;
		q.group = g_by_tp;
		q.n_group = sizeof(g_by_tp);
		q.mode = GM_RATE;
		q.val = o->tp_request ? GV_REQ_BYTES : GV_RESP_BYTES;
		q.reporter = o->tp_request ? S_SOURCE : S_DEST;
		if (pass == 0) {
			q.pred[q.n_pred++] = (struct g_pred){ L_SWLNS, OP_NE, ns, 0 };
			q.pred[q.n_pred++] = (struct g_pred){ L_DSVCNS, OP_EQ, ns, 0 };
		} else
			q.pred[q.n_pred++] = (struct g_pred){ L_SWLNS, OP_EQ, ns, 0 };
		if (!g_query(g, &q, &v))
			return false;
		for (uint32_t i = 0; i < v.n; i++) {
			struct ekey k;
			if (isnan(v.rows[i].val) || !row_key(g, v.rows[i].rep, S_HTTP, &k))
				continue;
			double *d = g_map_get(&tp, &k, sizeof(k));
			if (!d) {
				if (!(d = g_alloc(g, sizeof(*d))) ||
				    !g_map_put(g, &tp, &k, sizeof(k), d))
					return false;
			}
			*d += v.rows[i].val;
		}
	}
	for (uint32_t i = 0; i < m->n; i++)
		for (uint32_t j = 0; j < m->nodes[i]->n_edges; j++) {
			struct g_edge *e = m->nodes[i]->edges[j];
			struct ekey k = { e->src->id, e->dst->id, e->proto };
			double *d = g_map_get(&tp, &k, sizeof(k));
			if (d) {
				e->tp = *d;
				e->has |= EF_TP;
			}
		}
	return !g->err;
}

/* ------------------------------------------------------------ security */

static bool sec_add(struct graph *g, struct g_map *sm, const struct g_who *s,
		    const struct g_who *d, uint32_t csp, double val,
		    uint32_t sprinc, uint32_t dprinc)
{
	struct ekey k;
	memset(&k, 0, sizeof(k));
	if (!ids_of(g, s, d, &k))
		return !g->err;
	struct sec *e = g_map_get(sm, &k, sizeof(k));
	if (!e && (!(e = g_alloc(g, sizeof(*e))) || !g_map_put(g, sm, &k, sizeof(k), e)))
		return false;
	uint32_t i;
	for (i = 0; i < e->n_pol && e->pol[i].k != csp; i++)
		;
	if (i == e->n_pol) {
		if (!g_grow(g, (void **)&e->pol, e->n_pol, &e->cap_pol, sizeof(*e->pol)))
			return false;
		e->pol[e->n_pol++].k = csp;
	}
	e->pol[i].v = val; /* Kiali overwrites */
	if (!e->princ) {
		e->princ = true;
		e->sprinc = sprinc;
		e->dprinc = dprinc;
	}
	return true;
}

static bool same_labels(const struct g_ser *a, const struct g_ser *b)
{
	for (size_t i = 0; i < sizeof(g_by_sec); i++)
		if (a->lab[g_by_sec[i]] != b->lab[g_by_sec[i]])
			return false;
	return true;
}

/* `(requests) OR (tcp sent) OR (tcp received)` of one pass */
static bool sec_query(struct graph *g, uint32_t ns, int pass, struct g_vec *out)
{
	const struct g_opts *o = g->o;
	struct g_query q;
	struct g_vec v[3] = { { 0 } };
	memset(&q, 0, sizeof(q));
	q.group = g_by_sec;
	q.n_group = sizeof(g_by_sec);
	q.mode = GM_RATE;
	q.reporter = S_DEST;
	q.pred[q.n_pred++] = (struct g_pred){ L_SWLNS, pass ? OP_EQ : OP_NE, ns, 0 };
	if (!pass)
		q.pred[q.n_pred++] = (struct g_pred){ L_DSVCNS, OP_EQ, ns, 0 };
	q.kind = MX_ISTIO_HTTP;
	q.val = GV_COUNT;
	if ((o->rate_grpc == RATE_REQUESTS || o->rate_http == RATE_REQUESTS) &&
	    !g_query(g, &q, &v[0]))
		return false;
	q.kind = MX_ISTIO_TCP;
	q.val = GV_RESP_BYTES; /* istio_tcp_sent_bytes_total */
	if ((o->rate_tcp == RATE_SENT || o->rate_tcp == RATE_TOTAL) &&
	    !g_query(g, &q, &v[1]))
		return false;
	q.val = GV_REQ_BYTES;
	if ((o->rate_tcp == RATE_RECEIVED || o->rate_tcp == RATE_TOTAL) &&
	    !g_query(g, &q, &v[2]))
		return false;
	out->rows = g_alloc(g, ((size_t)v[0].n + v[1].n + v[2].n + 1) * sizeof(*out->rows));
	out->n = 0;
	if (!out->rows)
		return false;
	for (int k = 0; k < 3; k++)
		for (uint32_t i = 0; i < v[k].n; i++) {
			bool dup = false;
			for (uint32_t j = 0; k && j < out->n && !dup; j++)
				dup = same_labels(out->rows[j].rep, v[k].rows[i].rep);
			if (!dup)
				out->rows[out->n++] = v[k].rows[i];
		}
	return true;
}

static bool security(struct graph *g, struct g_tmap *m, uint32_t ns)
{
	static const uint8_t req[] = { L_SWLNS, L_SWL, L_SCSVC, L_SCREV, L_DSVCNS,
				       L_DSVCNAME, L_DWLNS, L_DWL, L_DCSVC, L_DCREV,
				       L_SPRINC, L_DPRINC };
	struct g_map sm = { 0 };
	for (int pass = 0; pass < 2; pass++) {
		struct g_vec v;
		if (!sec_query(g, ns, pass, &v))
			return false;
		for (uint32_t i = 0; i < v.n; i++) {
			const uint32_t *l = v.rows[i].rep->lab;
			size_t r;
			for (r = 0; r < sizeof(req) && l[req[r]] != S_EMPTY; r++)
				;
			if (r < sizeof(req))
				continue;
			uint32_t csp = l[L_CSP] != S_EMPTY ? l[L_CSP] : S_UNKNOWN;
			struct g_who s = { l[L_SCLUSTER] ? l[L_SCLUSTER] : S_UNKNOWN,
					   l[L_SWLNS], S_EMPTY, l[L_SWLNS], l[L_SWL],
					   l[L_SCSVC], l[L_SCREV] };
			struct g_who d = { l[L_DCLUSTER] ? l[L_DCLUSTER] : S_UNKNOWN,
					   l[L_DSVCNS], l[L_DSVCNAME], l[L_DWLNS], l[L_DWL],
					   l[L_DCSVC], l[L_DCREV] };
			bool skip;
			bool inject = g_inject(g, &d, &skip);
			double val = v.rows[i].val;
			if (skip)
				continue;
			bool ok;
			if (inject) {
				struct g_who sv = svc_of(&d), sn = svc_of(&d);
				ok = sec_add(g, &sm, &s, &sn, csp, val, l[L_SPRINC], l[L_DPRINC]) &&
				     sec_add(g, &sm, &sv, &d, csp, val, l[L_SPRINC], l[L_DPRINC]);
			} else
				ok = sec_add(g, &sm, &s, &d, csp, val, l[L_SPRINC], l[L_DPRINC]);
			if (!ok)
				return false;
		}
	}
	for (uint32_t i = 0; i < m->n; i++)
		for (uint32_t j = 0; j < m->nodes[i]->n_edges; j++) {
			struct g_edge *e = m->nodes[i]->edges[j];
			struct ekey k = { e->src->id, e->dst->id, 0 };
			struct sec *s = g_map_get(&sm, &k, sizeof(k));
			if (!s)
				continue;
			double mtls = 0, other = 0;
			for (uint32_t p = 0; p < s->n_pol; p++) {
				if (s->pol[p].k == S_MTLS)
					mtls = s->pol[p].v;
				else
					other += s->pol[p].v;
			}
			if (mtls > 0) {
				e->mtls = mtls / (mtls + other) * 100;
				e->has |= EF_MTLS;
			}
			e->sprinc = s->sprinc;
			e->dprinc = s->dprinc;
			e->has |= EF_PRINC;
		}
	return !g->err;
}

bool g_append(struct graph *g, struct g_tmap *m, uint32_t ns)
{
	unsigned a = g->o->appenders;
	if (m->n == 0)
		return true;
	if (a & G_APP_DEAD)
		dead_nodes(m);
	return (!(a & G_APP_RT) || response_time(g, m, ns)) &&
	       (!(a & G_APP_SEC) || security(g, m, ns)) &&
	       (!(a & G_APP_TP) || throughput(g, m, ns));
}

/* ------------------------------------------------------------ finalizers */

void g_finalize(struct graph *g, struct g_tmap *m, const uint32_t *ns,
		uint32_t n_ns)
{
	(void)g;
	for (uint32_t i = 0; i < m->n; i++) {
		struct g_node *n = m->nodes[i];
		bool outside = n->ns != S_UNKNOWN;
		for (uint32_t j = 0; j < n_ns && outside; j++)
			outside = n->ns != ns[j];
		if (n->type == NT_UNKNOWN)
			n->flags |= NF_INACCESSIBLE;
		else if (n->type == NT_SERVICE && n->ns == S_UNKNOWN)
			n->flags |= NF_INACCESSIBLE;
		else if (n->type == NT_SERVICE && (n->flags & NF_EGRESS))
			n->flags |= NF_INACCESSIBLE;
		else if (outside)
			n->flags |= NF_OUTSIDE;
		/* every namespace with telemetry is accessible to mixd: an
		 * outsider is never inaccessible for lack of access */
	}
	/* traffic generators: nodes with edges that no edge reaches */
	struct g_map dest = { 0 };
	for (uint32_t i = 0; i < m->n; i++)
		for (uint32_t j = 0; j < m->nodes[i]->n_edges; j++) {
			uint32_t id = m->nodes[i]->edges[j]->dst->id;
			if (!g_map_put(g, &dest, &id, sizeof(id), (void *)1))
				return;
		}
	for (uint32_t i = 0; i < m->n; i++) {
		struct g_node *n = m->nodes[i];
		if (n->n_edges && !g_map_get(&dest, &n->id, sizeof(n->id)))
			n->flags |= NF_ROOT;
	}
}

bool g_reduce_service(struct graph *g, struct g_tmap *m, struct g_tmap *out)
{
	memset(out, 0, sizeof(*out));
	for (uint32_t i = 0; i < m->n; i++) {
		struct g_node *n = m->nodes[i];
		if (n->type != NT_SERVICE) {
			if (!(n->flags & NF_ROOT))
				continue;
			uint32_t k = 0;
			for (uint32_t j = 0; j < n->n_edges; j++)
				if (n->edges[j]->dst->type == NT_SERVICE)
					n->edges[k++] = n->edges[j];
			if (!k)
				continue;
			n->n_edges = k;
			g_reset_outgoing(n);
			for (uint32_t j = 0; j < k; j++)
				g_add_outgoing(n, n->edges[j]);
			if (!g_tmap_put(g, out, n))
				return false;
			continue;
		}
		if (!g_tmap_put(g, out, n))
			return false;
		g_reset_outgoing(n);
		struct g_edge **wl_edges = n->edges;
		uint32_t n_wl = n->n_edges;
		n->edges = NULL;
		n->n_edges = n->cap_edges = 0;
		for (uint32_t j = 0; j < n_wl; j++) {
			struct g_node *w = wl_edges[j]->dst;
			if (w->type != NT_WORKLOAD)
				continue; /* (Kiali: an internal error) */
			for (uint32_t x = 0; x < w->n_edges; x++) {
				struct g_edge *to_svc = w->edges[x];
				if (to_svc->dst->type != NT_SERVICE)
					continue;
				struct g_edge *e = g_edge_find(n, to_svc->dst->id, to_svc->proto);
				if (!e) {
					to_svc->src = n;
					if (!g_edge_append(g, n, to_svc))
						return false;
					g_add_outgoing(n, to_svc);
				} else {
					g_add_outgoing(e->src, to_svc);
					if (!g_aggregate_edge(g, to_svc, e))
						return false;
				}
			}
		}
	}
	return !g->err;
}
