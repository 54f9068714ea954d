/*
 * graph_build.c - traffic as Kiali adds it to a traffic map
 * (graph/protocol.go, graph/telemetry/istio/istio.go, util.go): the
 * request and TCP queries of a namespace or of a node-detail graph, each
 * result row checked and normalised (missing labels, bad source or
 * destination telemetry, the egress gateway, the destination cluster
 * fallback, response codes) and added as traffic (AddToMetadata: node and
 * edge rates, responses by code with flags and hosts) to its source and
 * destination nodes and their edge, through an injected service node when
 * asked; duplicates (the same traffic reported by both proxies) are
 * applied once per edge, by Kiali's time-series key (metric, source and
 * destination identity, code, flags, host). Also the edge helpers the
 * merge and the service-graph reduction use.
 */
#include <string.h>

#include "../model/error.h"
#include "graph_int.h"

enum { M_REQ = 1, M_TCP_RECV = 2, M_TCP_SENT = 3 };

/* ------------------------------------------------------------ metadata */

static void add_val(double *r, double v)
{
	if (v > 0)
		*r += v;
}

static bool add_kv(struct graph *g, struct g_kv **arr, uint32_t *n,
		   uint32_t *cap, uint32_t k, double v)
{
	for (uint32_t i = 0; i < *n; i++)
		if ((*arr)[i].k == k) {
			(*arr)[i].v += v;
			return true;
		}
	if (!g_grow(g, (void **)arr, *n, cap, sizeof(**arr)))
		return false;
	(*arr)[(*n)++] = (struct g_kv){ k, v };
	return true;
}

/* addToMetadataResponses */
static bool add_resp(struct graph *g, struct g_edge *e, uint32_t code,
		     uint32_t flags, uint32_t host, double v)
{
	struct g_resp *r = NULL;
	if (code == S_EMPTY)
		code = S_DASH;
	for (uint32_t i = 0; i < e->n_resp && !r; i++)
		if (e->resp[i].code == code)
			r = &e->resp[i];
	if (!r) {
		if (!g_grow(g, (void **)&e->resp, e->n_resp, &e->cap_resp, sizeof(*e->resp)))
			return false;
		r = &e->resp[e->n_resp++];
		memset(r, 0, sizeof(*r));
		r->code = code;
	}
	if (flags != S_EMPTY && !add_kv(g, &r->flags, &r->n_flags, &r->cap_flags, flags, v))
		return false;
	if (host != S_EMPTY && !add_kv(g, &r->hosts, &r->n_hosts, &r->cap_hosts, host, v))
		return false;
	return true;
}

static bool http_err(struct mx_str c)
{
	return c.len && (c.ptr[0] == '4' || c.ptr[0] == '5');
}

/* AddToMetadata */
static bool add_metadata(struct graph *g, uint32_t proto, double val,
			 uint32_t code, uint32_t flags, uint32_t host,
			 struct g_node *src, struct g_node *dst, struct g_edge *e)
{
	if (!(val > 0))
		return true;
	struct mx_str c = g_str(g, code);
	if (proto == S_HTTP) {
		add_val(&src->r[NR_HTTP_OUT], val);
		add_val(&dst->r[NR_HTTP_IN], val);
		add_val(&e->r[ER_HTTP], val);
		if (!add_resp(g, e, code, flags, host, val))
			return false;
		int in = -1, er = -1;
		if (code == S_DASH) {
			in = NR_HTTP_IN_NORESP;
			er = ER_HTTP_NORESP;
		} else if (c.len && c.ptr[0] == '3') {
			in = NR_HTTP_IN_3XX;
			er = ER_HTTP_3XX;
		} else if (c.len && c.ptr[0] == '4') {
			in = NR_HTTP_IN_4XX;
			er = ER_HTTP_4XX;
		} else if (c.len && c.ptr[0] == '5') {
			in = NR_HTTP_IN_5XX;
			er = ER_HTTP_5XX;
		}
		if (in >= 0) {
			add_val(&dst->r[in], val);
			add_val(&e->r[er], val);
		}
	} else if (proto == S_GRPC) {
		add_val(&src->r[NR_GRPC_OUT], val);
		add_val(&dst->r[NR_GRPC_IN], val);
		add_val(&e->r[ER_GRPC], val);
		if (!add_resp(g, e, code, flags, host, val))
			return false;
		if (code == S_DASH) {
			add_val(&dst->r[NR_GRPC_IN_NORESP], val);
			add_val(&e->r[ER_GRPC_NORESP], val);
		} else if (c.len == 3 ? http_err(c) : code != S_ZERO && code != S_EMPTY) {
			add_val(&dst->r[NR_GRPC_IN_ERR], val);
			add_val(&e->r[ER_GRPC_ERR], val);
		}
	} else if (proto == S_TCP) {
		add_val(&src->r[NR_TCP_OUT], val);
		add_val(&dst->r[NR_TCP_IN], val);
		add_val(&e->r[ER_TCP], val);
		if (!add_resp(g, e, S_DASH, flags, host, val))
			return false;
	}
	return true;
}

void g_add_outgoing(struct g_node *n, const struct g_edge *e)
{
	add_val(&n->r[NR_GRPC_OUT], e->r[ER_GRPC]);
	add_val(&n->r[NR_HTTP_OUT], e->r[ER_HTTP]);
	add_val(&n->r[NR_TCP_OUT], e->r[ER_TCP]);
}

void g_reset_outgoing(struct g_node *n)
{
	n->r[NR_GRPC_OUT] = n->r[NR_HTTP_OUT] = n->r[NR_TCP_OUT] = 0;
}

bool g_aggregate_edge(struct graph *g, const struct g_edge *from,
		      struct g_edge *to)
{
	static const int http[] = { ER_HTTP, ER_HTTP_3XX, ER_HTTP_4XX, ER_HTTP_5XX };
	static const int grpc[] = { ER_GRPC, ER_GRPC_ERR };
	const int *keys = NULL;
	int n = 0;
	if (from->proto == S_HTTP) {
		keys = http;
		n = 4;
	} else if (from->proto == S_GRPC) {
		keys = grpc;
		n = 2;
	} else if (from->proto == S_TCP) {
		add_val(&to->r[ER_TCP], from->r[ER_TCP]);
	} else
		return true;
	for (int i = 0; i < n; i++)
		add_val(&to->r[keys[i]], from->r[keys[i]]);
	/* addToResponses: flags and hosts added separately */
	for (uint32_t i = 0; i < from->n_resp; i++) {
		const struct g_resp *r = &from->resp[i];
		for (uint32_t j = 0; j < r->n_flags; j++)
			if (!add_resp(g, to, r->code, r->flags[j].k, S_EMPTY, r->flags[j].v))
				return false;
		for (uint32_t j = 0; j < r->n_hosts; j++)
			if (!add_resp(g, to, r->code, S_EMPTY, r->hosts[j].k, r->hosts[j].v))
				return false;
	}
	return true;
}

/* ------------------------------------------------------------ traffic */

static struct g_node *add_node(struct graph *g, struct g_tmap *m,
			       const struct g_who *w)
{
	uint32_t id;
	uint8_t type;
	if (!g_node_id(g, w->cluster, w->svc_ns, w->svc, w->wl_ns, w->wl, w->app,
		       w->ver, &id, &type))
		return NULL;
	struct g_node *n = g_tmap_get(m, id);
	if (n)
		return n;
	n = g_node_new(g, id, type, w->cluster, g_ok(w->wl_ns) ? w->wl_ns : w->svc_ns,
		       w->wl, w->app, w->ver, w->svc);
	if (!n || !g_tmap_put(g, m, n))
		return NULL;
	return n;
}

static bool add_dest(struct graph *g, struct g_node *n, uint32_t cluster,
		     uint32_t ns, uint32_t name)
{
	if (!g_ok(name))
		return true;
	for (uint32_t i = 0; i < n->n_dests; i++)
		if (n->dests[i].cluster == cluster && n->dests[i].ns == ns &&
		    n->dests[i].name == name)
			return true;
	if (!g_grow(g, (void **)&n->dests, n->n_dests, &n->cap_dests, sizeof(*n->dests)))
		return false;
	n->dests[n->n_dests++] = (struct g_dest){ cluster, ns, name };
	return true;
}

/* The time-series key of one row: edge, metric, both identities, code,
 * flags, host. */
struct tskey {
	const struct g_edge *e;
	uint32_t metric;
	struct g_who src, dst;
	uint32_t code, flags, host;
};

/* addEdgeTraffic: 1 applied, 0 a duplicate, -1 out of memory */
static int edge_traffic(struct graph *g, struct tskey *k, double val,
			uint32_t proto, struct g_node *src, struct g_node *dst)
{
	struct g_edge *e = g_edge_find(src, dst->id, proto);
	if (!e) {
		e = g_alloc(g, sizeof(*e));
		if (!e || !g_edge_append(g, src, e))
			return -1;
		e->src = src;
		e->dst = dst;
		e->proto = proto;
	}
	k->e = e;
	if (g_map_get(&g->ts_seen, k, sizeof(*k)))
		return 0;
	if (!g_map_put(g, &g->ts_seen, k, sizeof(*k), (void *)1) ||
	    !add_metadata(g, proto, val, k->code, k->flags, k->host, src, dst, e))
		return -1;
	return 1;
}

struct row {
	uint32_t metric, proto, code, flags, host;
	bool inject;
	double val;
	struct g_who src, dst;
};

/* addTraffic */
static bool add_traffic(struct graph *g, struct g_tmap *m, const struct row *r)
{
	struct g_node *src = add_node(g, m, &r->src), *dst;
	if (!src || !(dst = add_node(g, m, &r->dst)))
		return !g->err;
	struct tskey k;
	memset(&k, 0, sizeof(k));
	k.metric = r->metric;
	k.src = r->src;
	k.dst = r->dst;
	k.code = r->code;
	k.flags = r->flags;
	k.host = r->host;
	const struct g_who *d = &r->dst;
	int rc;
	if (r->inject) {
		struct g_who sw = { d->cluster, d->svc_ns, d->svc, 0, 0, 0, 0 };
		struct g_node *svc = add_node(g, m, &sw);
		if (!svc)
			return !g->err;
		svc->flags |= NF_INJECTED;
		if ((rc = edge_traffic(g, &k, r->val, r->proto, src, svc)) < 0)
			return false;
		if (rc) {
			if (!add_dest(g, svc, d->cluster, d->svc_ns, d->svc) ||
			    edge_traffic(g, &k, r->val, r->proto, svc, dst) < 0 ||
			    !add_dest(g, dst, d->cluster, d->svc_ns, d->svc))
				return false;
		}
		return true;
	}
	if ((rc = edge_traffic(g, &k, r->val, r->proto, src, dst)) < 0)
		return false;
	return !rc || add_dest(g, dst, d->cluster, d->svc_ns, d->svc);
}

/* ^\d+\.\d+\.\d+\.\d+(:\d+)?$ */
static bool looks_like_ip(struct mx_str s)
{
	uint32_t i = 0;
	for (int part = 0; part < 4; part++) {
		if (part) {
			if (i >= s.len || s.ptr[i] != '.')
				return false;
			i++;
		}
		uint32_t b = i;
		while (i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9')
			i++;
		if (i == b)
			return false;
	}
	if (i == s.len)
		return true;
	if (s.ptr[i++] != ':' || i == s.len)
		return false;
	for (; i < s.len; i++)
		if (s.ptr[i] < '0' || s.ptr[i] > '9')
			return false;
	return true;
}

bool g_row_identity(struct graph *g, const struct g_ser *s, struct g_who *src,
		    struct g_who *dst)
{
	static const uint8_t req[] = { L_SWLNS, L_SWL, L_SCSVC, L_SCREV, L_DSVCNS,
				       L_DSVC, L_DSVCNAME, L_DWLNS, L_DWL, L_DCSVC,
				       L_DCREV };
	for (size_t i = 0; i < sizeof(req); i++)
		if (s->lab[req[i]] == S_EMPTY)
			return false;
	const uint32_t *l = s->lab;
	/* Kiali drops telemetry whose cluster label reads "unknown" (Istio
	 * always knows its cluster: CLUSTER_ID defaults to "Kubernetes").
	 * libmixd reporters without a configured cluster send "unknown", so
	 * mixd treats it like an absent label: kept, cluster "unknown". */
	bool scl_ok = l[L_SCLUSTER] != S_EMPTY && l[L_SCLUSTER] != S_UNKNOWN;
	bool dcl_ok = l[L_DCLUSTER] != S_EMPTY && l[L_DCLUSTER] != S_UNKNOWN;
	*src = (struct g_who){ scl_ok ? l[L_SCLUSTER] : S_UNKNOWN, l[L_SWLNS], S_EMPTY,
			     l[L_SWLNS], l[L_SWL], l[L_SCSVC], l[L_SCREV] };
	*dst = (struct g_who){ dcl_ok ? l[L_DCLUSTER] : S_UNKNOWN, l[L_DSVCNS],
			     l[L_DSVCNAME], l[L_DWLNS], l[L_DWL], l[L_DCSVC], l[L_DCREV] };
	/* IsBadSourceTelemetry */
	if (g_ok(src->wl_ns) && !g_ok(src->wl) && !g_ok(src->app))
		return false;
	if (g_ok(src->wl_ns) && scl_ok && !g_ok(src->cluster))
		return false;
	/* HandleDestination */
	if (l[L_DSVC] == S_EGRESS_HOST && l[L_DSVCNAME] == S_EGRESS_HOST) {
		*dst = (struct g_who){ src->cluster, S_ISTIO_NS, S_EGRESS, S_ISTIO_NS,
				     S_EGRESS, S_EGRESS, S_LATEST };
	} else if (!g_ok(dst->cluster) && g_ok(src->cluster) && g_ok(dst->svc_ns))
		dst->cluster = src->cluster;
	/* IsBadDestTelemetry */
	if (!g_ok(dst->wl) && g_ok(l[L_DSVC]) && g_ok(dst->svc) &&
	    l[L_DSVC] == dst->svc && looks_like_ip(g_str(g, dst->svc)))
		return false;
	if (g_ok(dst->svc_ns) && dcl_ok && !g_ok(dst->cluster))
		return false;
	return true;
}

bool g_inject(struct graph *g, const struct g_who *d, bool *skip)
{
	uint32_t id;
	uint8_t type;
	*skip = false;
	if (!g->o->inject || !g_ok(d->svc) || d->svc == S_PASSTHROUGH)
		return false;
	if (!g_node_id(g, d->cluster, d->svc_ns, d->svc, d->wl_ns, d->wl, d->app,
		       d->ver, &id, &type)) {
		*skip = true;
		return false;
	}
	return type != NT_SERVICE;
}

/* populateTrafficMap */
static bool populate(struct graph *g, struct g_tmap *m, const struct g_vec *v,
		     uint32_t metric)
{
	const struct g_opts *o = g->o;
	bool is_req = metric == M_REQ;
	for (uint32_t i = 0; i < v->n; i++) {
		const struct g_ser *s = v->rows[i].rep;
		const uint32_t *l = s->lab;
		struct row r;
		memset(&r, 0, sizeof(r));
		r.metric = metric;
		r.val = v->rows[i].val;
		r.proto = is_req ? S_EMPTY : S_TCP;
		if (!g_row_identity(g, s, &r.src, &r.dst))
			continue;
		if (l[L_FLAGS] == S_EMPTY)
			continue;
		r.flags = l[L_FLAGS];
		if (is_req) {
			if (l[L_PROTO] == S_EMPTY || l[L_CODE] == S_EMPTY)
				continue;
			r.proto = l[L_PROTO];
			if ((r.proto == S_GRPC && o->rate_grpc != RATE_REQUESTS) ||
			    (r.proto == S_HTTP && o->rate_http != RATE_REQUESTS))
				continue;
			/* HandleResponseCode */
			if (l[L_CODE] == S_ZERO)
				r.code = S_DASH;
			else if (r.proto != S_GRPC || http_err(g_str(g, l[L_CODE])) ||
				 l[L_GRPC] == S_EMPTY)
				r.code = l[L_CODE];
			else
				r.code = l[L_GRPC];
		}
		r.host = l[L_DSVC];
		bool skip;
		r.inject = g_inject(g, &r.dst, &skip);
		if (skip)
			continue;
		if (!add_traffic(g, m, &r))
			return false;
	}
	return true;
}

static bool run(struct graph *g, struct g_tmap *m, const struct g_query *q,
		uint32_t metric)
{
	struct g_vec v;
	return g_query(g, q, &v) && populate(g, m, &v, metric);
}

/* A traffic query of `kind` grouped like Kiali's, reading value `val`,
 * with no predicates yet. */
static void query_init(struct g_query *q, const struct g_opts *o, uint8_t kind,
		       uint8_t val)
{
	memset(q, 0, sizeof(*q));
	q->kind = kind;
	if (kind == MX_ISTIO_TCP) {
		q->group = g_by_tcp;
		q->n_group = sizeof(g_by_tcp);
	} else {
		q->group = g_by_traffic;
		q->n_group = sizeof(g_by_traffic);
	}
	q->val = val;
	q->keep_zero = o->idle;
}

static void pred(struct g_query *q, uint8_t label, uint8_t op, uint32_t val)
{
	q->pred[q->n_pred++] = (struct g_pred){ label, op, val, 0 };
}

/* The metrics of rateTcp ("sent" is istio_tcp_received_bytes_total: L4
 * telemetry is backwards). */
static int tcp_metrics(uint8_t rate, uint32_t metric[2], uint8_t val[2])
{
	int n = 0;
	if (rate == RATE_SENT || rate == RATE_TOTAL) {
		metric[n] = M_TCP_RECV;
		val[n++] = GV_REQ_BYTES;
	}
	if (rate == RATE_RECEIVED || rate == RATE_TOTAL) {
		metric[n] = M_TCP_SENT;
		val[n++] = GV_RESP_BYTES;
	}
	return n;
}

bool g_build_ns(struct graph *g, uint32_t ns, struct g_tmap *m)
{
	const struct g_opts *o = g->o;
	struct g_query q;
	if (o->rate_http == RATE_REQUESTS || o->rate_grpc == RATE_REQUESTS) {
		query_init(&q, o, MX_ISTIO_HTTP, GV_COUNT);
		/* 0) failed requests that never reached a destination */
		q.reporter = S_SOURCE;
		pred(&q, L_SWLNS, OP_NE, ns);
		pred(&q, L_DWLNS, OP_EQ, S_UNKNOWN);
		pred(&q, L_DWL, OP_EQ, S_UNKNOWN);
		pred(&q, L_DSVC, OP_NS_HOST, ns);
		if (!run(g, m, &q, M_REQ))
			return false;
		/* 2) incoming, destination telemetry */
		q.n_pred = 0;
		q.reporter = S_DEST;
		pred(&q, L_DWLNS, OP_EQ, ns);
		if (!run(g, m, &q, M_REQ))
			return false;
		/* 3) outgoing, source telemetry */
		q.n_pred = 0;
		q.reporter = S_SOURCE;
		pred(&q, L_SWLNS, OP_EQ, ns);
		if (!run(g, m, &q, M_REQ))
			return false;
	}
	uint32_t metric[2];
	uint8_t val[2];
	int nm = o->rate_tcp == RATE_NONE ? 0 : tcp_metrics(o->rate_tcp, metric, val);
	for (int i = 0; i < nm; i++) {
		query_init(&q, o, MX_ISTIO_TCP, val[i]);
		q.reporter = S_SOURCE;
		pred(&q, L_SWLNS, OP_NE, ns);
		pred(&q, L_DWLNS, OP_EQ, S_UNKNOWN);
		pred(&q, L_DWL, OP_EQ, S_UNKNOWN);
		pred(&q, L_DSVC, OP_NS_HOST, ns);
		if (!run(g, m, &q, metric[i]))
			return false;
		q.n_pred = 0;
		q.reporter = S_DEST;
		pred(&q, L_DWLNS, OP_EQ, ns);
		if (!run(g, m, &q, metric[i]))
			return false;
		q.n_pred = 0;
		q.reporter = S_SOURCE;
		pred(&q, L_SWLNS, OP_EQ, ns);
		if (!run(g, m, &q, metric[i]))
			return false;
	}
	return !g->err;
}

/* The incoming (destination-side) matchers of a node graph; false for a
 * node type without them. */
static bool node_in(struct g_query *q, const struct g_node *n, uint32_t ns,
		    uint32_t cluster)
{
	if (cluster != S_UNKNOWN)
		pred(q, L_DCLUSTER, OP_EQ, cluster);
	switch (n->type) {
	case NT_WORKLOAD:
		pred(q, L_DWLNS, OP_EQ, ns);
		pred(q, L_DWL, OP_EQ, n->wl);
		return true;
	case NT_APP:
		pred(q, L_DSVCNS, OP_EQ, ns);
		pred(q, L_DCSVC, OP_EQ, n->app);
		if (g_ok(n->ver))
			pred(q, L_DCREV, OP_EQ, n->ver);
		return true;
	case NT_SERVICE:
		pred(q, L_DSVCNS, OP_EQ, ns);
		q->pred[q->n_pred++] = (struct g_pred){ L_DSVC, OP_SVC_HOST, ns, n->svc };
		return true;
	default:
		return false;
	}
}

/* The outgoing (source-side) matchers; false when none (services). */
static bool node_out(struct g_query *q, const struct g_node *n, uint32_t ns,
		     uint32_t cluster)
{
	if (cluster != S_UNKNOWN)
		pred(q, L_SCLUSTER, OP_EQ, cluster);
	pred(q, L_SWLNS, OP_EQ, ns);
	switch (n->type) {
	case NT_WORKLOAD:
		pred(q, L_SWL, OP_EQ, n->wl);
		return true;
	case NT_APP:
		pred(q, L_SCSVC, OP_EQ, n->app);
		if (g_ok(n->ver))
			pred(q, L_SCREV, OP_EQ, n->ver);
		return true;
	default:
		return false;
	}
}

bool g_build_node(struct graph *g, struct g_tmap *m)
{
	const struct g_opts *o = g->o;
	uint32_t ns = g->ns_ids[0];
	uint32_t cluster = g_intern(g, o->cluster, strlen(o->cluster));
	uint32_t name = g_intern_str(g, o->node_name);
	uint32_t ver = g_intern_str(g, o->node_version);
	uint32_t svc = S_EMPTY, wl = S_EMPTY, app = S_EMPTY, id;
	uint8_t type;
	if (o->node == NK_SERVICE)
		svc = name;
	else if (o->node == NK_WORKLOAD)
		wl = name;
	else
		app = name;
	if (g->err || !g_node_id(g, cluster, ns, svc, ns, wl, app, ver, &id, &type))
		return !g->err; /* Kiali: no node, an empty graph */
	struct g_node *n = g_node_new(g, id, type, cluster, ns, wl, app, ver, svc);
	if (!n)
		return false;
	struct g_query q;
	if (o->rate_http == RATE_REQUESTS || o->rate_grpc == RATE_REQUESTS) {
		query_init(&q, o, MX_ISTIO_HTTP, GV_COUNT);
		if (n->type == NT_SERVICE) {
			/* 1.a) requests that could not be serviced */
			q.reporter = S_SOURCE;
			if (cluster != S_UNKNOWN)
				pred(&q, L_DCLUSTER, OP_EQ, cluster);
			pred(&q, L_DWL, OP_EQ, S_UNKNOWN);
			q.pred[q.n_pred++] = (struct g_pred){ L_DSVC, OP_SVC_HOST, ns, n->svc };
			if (!run(g, m, &q, M_REQ))
				return false;
			q.n_pred = 0;
		}
		q.reporter = S_DEST;
		if (node_in(&q, n, ns, cluster) && !run(g, m, &q, M_REQ))
			return false;
		q.n_pred = 0;
		q.reporter = S_SOURCE;
		if (node_out(&q, n, ns, cluster) && !run(g, m, &q, M_REQ))
			return false;
	}
	uint32_t metric[2];
	uint8_t val[2];
	int nm = o->rate_tcp == RATE_NONE ? 0 : tcp_metrics(o->rate_tcp, metric, val);
	for (int i = 0; i < nm; i++) {
		query_init(&q, o, MX_ISTIO_TCP, val[i]);
		q.reporter = S_DEST;
		if (node_in(&q, n, ns, cluster) && !run(g, m, &q, metric[i]))
			return false;
		q.n_pred = 0;
		q.reporter = S_SOURCE;
		if (node_out(&q, n, ns, cluster) && !run(g, m, &q, metric[i]))
			return false;
	}
	return !g->err;
}
