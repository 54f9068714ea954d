/*
 * sgraph_series.c - the series behind Tempo's metric names (see sgraph.h):
 * traces_service_graph_* per (client, server, connection_type), unpaired
 * and dropped halves per service and side, traces_spanmetrics_* per
 * (service, span name, kind, status), and the snapshot /metrics takes.
 *
 * The writer changes the tables under the state's mutex (its caller,
 * sgraph.c, holds it); a snapshot copies the numbers under the same mutex
 * and keeps pointing at the label strings, which live until the store
 * closes (series are never removed). Each table has a bound (its index
 * is made twice that size up front, so it never grows); an update that
 * would need a series past the bound is counted and lost.
 */
#include <stdlib.h>
#include <string.h>

#include "../model/error.h"
#include "sgraph_int.h"
#include "span_record.h"
#include "store_int.h"

static uint64_t str_hash(struct mx_str s, uint64_t seed)
{
	return mx_hash64(s.len ? s.ptr : "", s.len, seed);
}

static bool str_is(struct mx_str a, struct mx_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* Copies two strings into one block; points *a and *b into it. */
static char *copy_labels(struct mx_str *a, struct mx_str *b)
{
	char *p = malloc((size_t)a->len + b->len + 1);
	if (!p)
		return NULL;
	if (a->len)
		memcpy(p, a->ptr, a->len);
	if (b->len)
		memcpy(p + a->len, b->ptr, b->len);
	a->ptr = p;
	b->ptr = p + a->len;
	return p;
}

/* Makes room for one more element of `size` bytes in *v (cap elements,
 * at most max). Returns false at the bound or on ENOMEM. */
static bool grow(void **v, uint32_t n, uint32_t *cap, uint32_t max, size_t size)
{
	if (n < *cap)
		return true;
	if (n >= max)
		return false;
	uint32_t c = *cap ? *cap * 2 : 16;
	if (c > max)
		c = max;
	void *p = realloc(*v, (size_t)c * size);
	if (!p)
		return false;
	*v = p;
	*cap = c;
	return true;
}

static void observe(uint64_t *b, const uint64_t *bounds, int n, uint64_t ns)
{
	int i = 0;
	while (i < n - 1 && ns > bounds[i])
		i++;
	b[i]++;
}

void mx_sg_series_edge(struct mx_sgraph *g, struct mx_str client,
		       struct mx_str server, uint8_t conn, bool failed,
		       uint64_t server_ns, uint64_t client_ns)
{
	static const uint64_t bounds[MX_SG_HIST_N - 1] = MX_SG_HIST_BOUNDS_NS;
	uint64_t h = str_hash(client, MX_SG_SEED) * 31 +
		     str_hash(server, MX_SG_SEED + 1) + conn;
	struct mx_sg_edge_series *v = NULL;
	uint32_t i = mx_sg_index_start(&g->edge_idx, h);
	for (; g->edge_idx.s[i].pos; i = mx_sg_index_next(&g->edge_idx, i)) {
		struct mx_sg_edge_ent *e = &g->edges[g->edge_idx.s[i].pos - 1];
		if (e->hash == h && e->v.conn == conn && str_is(e->v.client, client) &&
		    str_is(e->v.server, server)) {
			v = &e->v;
			break;
		}
	}
	if (!v) {
		if (!grow((void **)&g->edges, g->n_edges, &g->cap_edges,
			  MX_SG_MAX_EDGE_SERIES, sizeof(*g->edges))) {
			atomic_fetch_add(&g->st_overflow, 1);
			return;
		}
		struct mx_sg_edge_ent *e = &g->edges[g->n_edges];
		memset(e, 0, sizeof(*e));
		e->v.client = client;
		e->v.server = server;
		e->v.conn = conn;
		e->hash = h;
		if (!(e->labels = copy_labels(&e->v.client, &e->v.server))) {
			atomic_fetch_add(&g->st_overflow, 1);
			return;
		}
		mx_sg_index_put(&g->edge_idx, i, h, g->n_edges++);
		v = &e->v;
	}
	v->requests++;
	v->failed += failed;
	observe(v->server_b, bounds, MX_SG_HIST_N, server_ns);
	observe(v->client_b, bounds, MX_SG_HIST_N, client_ns);
	v->server_sum_ns += server_ns;
	v->client_sum_ns += client_ns;
}

void mx_sg_series_side(struct mx_sgraph *g, struct mx_str service, bool server,
		       bool dropped)
{
	uint64_t h = str_hash(service, MX_SG_SEED) + server;
	struct mx_sg_side_series *v = NULL;
	uint32_t i = mx_sg_index_start(&g->side_idx, h);
	for (; g->side_idx.s[i].pos; i = mx_sg_index_next(&g->side_idx, i)) {
		struct mx_sg_side_ent *e = &g->sides[g->side_idx.s[i].pos - 1];
		if (e->hash == h && e->v.server == server && str_is(e->v.service, service)) {
			v = &e->v;
			break;
		}
	}
	if (!v) {
		if (!grow((void **)&g->sides, g->n_sides, &g->cap_sides,
			  MX_SG_MAX_SIDE_SERIES, sizeof(*g->sides))) {
			atomic_fetch_add(&g->st_overflow, 1);
			return;
		}
		struct mx_sg_side_ent *e = &g->sides[g->n_sides];
		struct mx_str none = { "", 0 };
		memset(e, 0, sizeof(*e));
		e->v.service = service;
		e->v.server = server;
		e->hash = h;
		if (!(e->labels = copy_labels(&e->v.service, &none))) {
			atomic_fetch_add(&g->st_overflow, 1);
			return;
		}
		mx_sg_index_put(&g->side_idx, i, h, g->n_sides++);
		v = &e->v;
	}
	if (dropped)
		v->dropped++;
	else
		v->unpaired++;
}

void mx_sg_series_spans(struct mx_sgraph *g, const struct mx_sg_facts *f,
			const struct mx_sg_agg *a)
{
	struct mx_str svc = mx_sg_fstr(f, a->svc), name = mx_sg_fstr(f, a->name);
	uint64_t h = a->series_hash;
	struct mx_sm_series *v = NULL;
	uint32_t i = mx_sg_index_start(&g->span_idx, h);
	for (; g->span_idx.s[i].pos; i = mx_sg_index_next(&g->span_idx, i)) {
		struct mx_sm_ent *e = &g->spans[g->span_idx.s[i].pos - 1];
		if (e->hash == h && e->v.kind == a->kind && e->v.status == a->status &&
		    str_is(e->v.service, svc) && str_is(e->v.span_name, name)) {
			v = &e->v;
			break;
		}
	}
	if (!v) {
		if (!grow((void **)&g->spans, g->n_spans, &g->cap_spans,
			  MX_SG_MAX_SPAN_SERIES, sizeof(*g->spans))) {
			atomic_fetch_add(&g->st_overflow, 1);
			return;
		}
		struct mx_sm_ent *e = &g->spans[g->n_spans];
		memset(e, 0, sizeof(*e));
		e->v.service = svc;
		e->v.span_name = name;
		e->v.kind = a->kind;
		e->v.status = a->status;
		e->hash = h;
		if (!(e->labels = copy_labels(&e->v.service, &e->v.span_name))) {
			atomic_fetch_add(&g->st_overflow, 1);
			return;
		}
		mx_sg_index_put(&g->span_idx, i, h, g->n_spans++);
		v = &e->v;
	}
	v->calls += a->calls;
	v->sum_ns += a->sum_ns;
	for (int k = 0; k < MX_SM_HIST_N; k++)
		v->b[k] += a->b[k];
}

void mx_sg_series_free(struct mx_sgraph *g)
{
	for (uint32_t i = 0; i < g->n_edges; i++)
		free(g->edges[i].labels);
	for (uint32_t i = 0; i < g->n_sides; i++)
		free(g->sides[i].labels);
	for (uint32_t i = 0; i < g->n_spans; i++)
		free(g->spans[i].labels);
	free(g->edges);
	free(g->sides);
	free(g->spans);
	mx_sg_index_free(&g->edge_idx);
	mx_sg_index_free(&g->side_idx);
	mx_sg_index_free(&g->span_idx);
}

const char *mx_sg_conn_name(uint8_t conn)
{
	switch (conn) {
	case MX_SG_CONN_MESSAGING: return "messaging_system";
	case MX_SG_CONN_DATABASE: return "database";
	case MX_SG_CONN_VIRTUAL: return "virtual_node";
	default: return "";
	}
}

int mx_store_sgraph_snapshot(struct mx_store *st, struct mx_sg_snap *out)
{
	struct mx_sgraph *g = st ? st->sgraph : NULL;
	int rc = MX_OK;
	memset(out, 0, sizeof(*out));
	if (!g)
		return MX_OK;
	pthread_mutex_lock(&g->mu);
	size_t ne = g->n_edges, ns = g->n_sides, nm = g->n_spans;
	out->edges = malloc((ne ? ne : 1) * sizeof(*out->edges));
	out->sides = malloc((ns ? ns : 1) * sizeof(*out->sides));
	out->spans = malloc((nm ? nm : 1) * sizeof(*out->spans));
	if (out->edges && out->sides && out->spans) {
		for (size_t i = 0; i < ne; i++)
			out->edges[i] = g->edges[i].v;
		for (size_t i = 0; i < ns; i++)
			out->sides[i] = g->sides[i].v;
		for (size_t i = 0; i < nm; i++)
			out->spans[i] = g->spans[i].v;
		out->n_edges = ne;
		out->n_sides = ns;
		out->n_spans = nm;
	} else {
		rc = MX_ENOMEM;
	}
	pthread_mutex_unlock(&g->mu);
	out->stats.pending = atomic_load(&g->st_pending);
	out->stats.paired = atomic_load(&g->st_paired);
	out->stats.expired_edges = atomic_load(&g->st_expired_edges);
	out->stats.duplicates = atomic_load(&g->st_dup);
	out->stats.series_overflow = atomic_load(&g->st_overflow);
	out->stats.facts_failed = atomic_load(&g->st_facts_failed);
	out->stats.dep_dropped = atomic_load(&g->st_dep_dropped);
	out->stats.dep_rows_expired = atomic_load(&g->st_rows_expired);
	out->stats.wait_ns = atomic_load(&g->wait_ns);
	out->stats.max_pending = atomic_load(&g->max_pending);
	if (rc != MX_OK) {
		struct mx_sg_stats keep = out->stats;
		mx_sg_snap_free(out);
		out->stats = keep;
	}
	return rc;
}

void mx_sg_snap_free(struct mx_sg_snap *s)
{
	if (!s)
		return;
	free(s->edges);
	free(s->sides);
	free(s->spans);
	memset(s, 0, sizeof(*s));
}
