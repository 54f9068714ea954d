/*
 * graph_read.c - the window and the query engine of the graph API
 * (graph_int.h).
 *
 * g_read_window() reads every series that changed in the window from the
 * store's rollups (mx_store_rollup_window) and keeps its interned labels
 * and its deltas: cumulative at the window's end minus at its start (a
 * counter lower at the end, which only a lost row could cause, counts from
 * zero as a Prometheus counter reset would).
 *
 * g_query() evaluates one of Kiali's PromQL queries over those series:
 * the label matchers, `sum(rate(m[D])) by (labels)` as the sum of the
 * deltas of each group divided by D (or, for the response time, the
 * average sum/count or histogram_quantile over the summed buckets), the
 * `> 0` filter unless the query keeps zeros, and Kiali's round(…, 0.001).
 * Groups come out in the order they first appear in the window.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../model/error.h"
#include "../storage/metrics.h"
#include "graph_int.h"

#define SEC 1000000000ull

/* Kiali's `by (...)` lists, as label indexes */
const uint8_t g_by_traffic[17] = {
	L_SCLUSTER, L_SWLNS, L_SWL, L_SCSVC, L_SCREV, L_DCLUSTER, L_DSVCNS,
	L_DSVC, L_DSVCNAME, L_DWLNS, L_DWL, L_DCSVC, L_DCREV, L_PROTO, L_CODE,
	L_GRPC, L_FLAGS,
};
const uint8_t g_by_tcp[14] = {
	L_SCLUSTER, L_SWLNS, L_SWL, L_SCSVC, L_SCREV, L_DCLUSTER, L_DSVCNS,
	L_DSVC, L_DSVCNAME, L_DWLNS, L_DWL, L_DCSVC, L_DCREV, L_FLAGS,
};
const uint8_t g_by_peers[14] = {
	L_SCLUSTER, L_SWLNS, L_SWL, L_SCSVC, L_SCREV, L_DCLUSTER, L_DSVCNS,
	L_DSVC, L_DSVCNAME, L_DWLNS, L_DWL, L_DCSVC, L_DCREV, L_PROTO,
};
const uint8_t g_by_tp[13] = {
	L_SCLUSTER, L_SWLNS, L_SWL, L_SCSVC, L_SCREV, L_DCLUSTER, L_DSVCNS,
	L_DSVC, L_DSVCNAME, L_DWLNS, L_DWL, L_DCSVC, L_DCREV,
};
const uint8_t g_by_sec[15] = {
	L_SCLUSTER, L_SWLNS, L_SWL, L_SCSVC, L_SCREV, L_SPRINC, L_DCLUSTER,
	L_DSVCNS, L_DSVCNAME, L_DWLNS, L_DWL, L_DCSVC, L_DCREV, L_DPRINC, L_CSP,
};

/* ------------------------------------------------------------ window */

static uint64_t du(uint64_t end, uint64_t start)
{
	return end >= start ? end - start : end;
}

static double dd(double end, double start)
{
	return end >= start ? end - start : end;
}

static int on_series(void *ctx, const struct mx_rollup_series *rs)
{
	struct graph *g = ctx;
	const struct mx_rollup_vals *a = &rs->at_start, *b = &rs->at_end;
	struct g_ser s;
	memset(&s, 0, sizeof(s));
	s.kind = rs->kind;
	s.count = (double)du(b->count, a->count);
	s.dur_sum = dd(b->duration_sum, a->duration_sum);
	s.req_bytes = dd(b->request_bytes_sum, a->request_bytes_sum);
	s.resp_bytes = dd(b->response_bytes_sum, a->response_bytes_sum);
	bool zero = s.count == 0 && s.req_bytes == 0 && s.resp_bytes == 0;
	if (rs->kind == MX_ISTIO_HTTP)
		for (int i = 0; i < MX_HIST_BUCKETS; i++) {
			s.buckets[i] = du(b->duration[i], a->duration[i]);
			zero = zero && s.buckets[i] == 0;
		}
	if (zero && !g->o->idle)
		return 0; /* contributes nothing to a `> 0` query */
	if (rs->kind != MX_ISTIO_HTTP && rs->kind != MX_ISTIO_TCP)
		return 0;
	for (int i = 0; i < L_N; i++) {
		/* where the value is in the series' labels (TCP has no code and
		 * gRPC status: its flags and policy come right after the
		 * protocol) */
		int from = i;
		if (rs->kind == MX_ISTIO_TCP && i > L_PROTO)
			from = i == L_FLAGS ? L_PROTO + 1 : i == L_CSP ? L_PROTO + 2 : -1;
		/* source_app, source_version, destination_app and
		 * destination_version are in no query's `by` */
		if (from < 0 || i == L_SAPP || i == L_SVER || i == L_DAPP || i == L_DVER)
			continue;
		struct mx_str v = rs->labels[from];
		struct mx_str prev = g_str(g, g->prev_lab[i]);
		if (v.len == prev.len && memcmp(v.ptr, prev.ptr, v.len) == 0)
			s.lab[i] = g->prev_lab[i]; /* neighbours share most labels */
		else
			s.lab[i] = g->prev_lab[i] = g_intern_str(g, v);
	}
	if (g->err)
		return g->err;
	if (g->n_ser == g->cap_ser) {
		size_t ncap = g->cap_ser ? g->cap_ser * 2 : 256;
		struct g_ser *p = realloc(g->ser, ncap * sizeof(*p));
		if (!p)
			return MX_ENOMEM;
		g->ser = p;
		g->cap_ser = ncap;
	}
	g->ser[g->n_ser++] = s;
	return 0;
}

int g_read_window(struct graph *g, struct mx_store *st)
{
	const struct g_opts *o = g->o;
	if (o->query_time <= 0)
		return MX_OK;
	uint64_t t1 = (uint64_t)o->query_time * SEC;
	uint64_t t0 = (uint64_t)o->query_time > o->dur_s
		? ((uint64_t)o->query_time - o->dur_s) * SEC : 0;
	int rc = mx_store_rollup_window(st, t0, t1, on_series, g);
	if (rc == MX_OK && g->err)
		rc = g->err;
	if (rc != MX_OK)
		return rc;
	for (int k = 0; k < 2; k++)
		for (int r = 0; r < 2; r++)
			if (!(g->part[k][r] = g_alloc(g, (g->n_ser + 1) * sizeof(uint32_t))))
				return MX_ENOMEM;
	for (size_t i = 0; i < g->n_ser; i++) {
		const struct g_ser *s = &g->ser[i];
		int r = s->lab[L_REPORTER] == S_SOURCE ? 0 : s->lab[L_REPORTER] == S_DEST ? 1 : -1;
		if (r >= 0 && s->kind <= MX_ISTIO_TCP)
			g->part[s->kind][r][g->n_part[s->kind][r]++] = (uint32_t)i;
	}
	return MX_OK;
}

/* ------------------------------------------------------------ matchers */

/* ^.+\.NS\..+$ */
static bool ns_host(struct mx_str h, struct mx_str ns)
{
	for (uint32_t i = 1; (uint64_t)i + ns.len + 2 < h.len; i++)
		if (h.ptr[i] == '.' && h.ptr[i + 1 + ns.len] == '.' &&
		    memcmp(h.ptr + i + 1, ns.ptr, ns.len) == 0)
			return true;
	return false;
}

/* ^SVC\.NS\..*$ */
static bool svc_host(struct mx_str h, struct mx_str svc, struct mx_str ns)
{
	size_t n = (size_t)svc.len + ns.len + 2;
	return h.len >= n && memcmp(h.ptr, svc.ptr, svc.len) == 0 &&
	       h.ptr[svc.len] == '.' &&
	       memcmp(h.ptr + svc.len + 1, ns.ptr, ns.len) == 0 &&
	       h.ptr[svc.len + 1 + ns.len] == '.';
}

static bool matches(const struct graph *g, const struct g_query *q,
		    const struct g_ser *s)
{
	if (s->kind != q->kind || s->lab[L_REPORTER] != q->reporter)
		return false;
	for (uint8_t i = 0; i < q->n_pred; i++) {
		const struct g_pred *p = &q->pred[i];
		uint32_t v = s->lab[p->label];
		switch (p->op) {
		case OP_EQ:
			if (v != p->val)
				return false;
			break;
		case OP_NE:
			if (v == p->val)
				return false;
			break;
		case OP_NS_HOST:
			if (!ns_host(g_str(g, v), g_str(g, p->val)))
				return false;
			break;
		default:
			if (!svc_host(g_str(g, v), g_str(g, p->val2), g_str(g, p->val)))
				return false;
			break;
		}
	}
	return true;
}

/* ------------------------------------------------------------ engine */

struct acc {
	double v, v2;
	double b[MX_HIST_BUCKETS];
};

static uint64_t group_hash(const struct g_query *q, const struct g_ser *s)
{
	uint64_t h = 0x9e3779b97f4a7c15ull;
	for (uint8_t i = 0; i < q->n_group; i++) {
		h ^= s->lab[q->group[i]];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 29;
	}
	return h;
}

static bool same_group(const struct g_query *q, const struct g_ser *a,
		       const struct g_ser *b)
{
	for (uint8_t i = 0; i < q->n_group; i++)
		if (a->lab[q->group[i]] != b->lab[q->group[i]])
			return false;
	return true;
}

static double value_of(const struct g_ser *s, uint8_t val)
{
	switch (val) {
	case GV_DUR_SUM:
		return s->dur_sum;
	case GV_REQ_BYTES:
		return s->req_bytes;
	case GV_RESP_BYTES:
		return s->resp_bytes;
	default:
		return s->count;
	}
}

bool g_query(struct graph *g, const struct g_query *q, struct g_vec *out)
{
	uint32_t n = 0, cap = 0, tcap = 64;
	const struct g_ser **rep = NULL;
	struct acc *acc = NULL;
	int32_t *tab = malloc(tcap * sizeof(*tab));
	bool ok = false;
	out->rows = NULL;
	out->n = 0;
	if (!tab)
		goto out;
	memset(tab, 0xff, tcap * sizeof(*tab));
	int pk = q->kind == MX_ISTIO_TCP, pr = q->reporter == S_DEST;
	const uint32_t *part = g->part[pk][pr];
	uint32_t n_part = part ? g->n_part[pk][pr] : 0;
	for (uint32_t pi = 0; pi < n_part; pi++) {
		const struct g_ser *s = &g->ser[part[pi]];
		if (!matches(g, q, s))
			continue;
		uint64_t h = group_hash(q, s);
		uint32_t j = (uint32_t)h & (tcap - 1);
		while (tab[j] >= 0 && !same_group(q, rep[tab[j]], s))
			j = (j + 1) & (tcap - 1);
		if (tab[j] < 0) {
			if (n == cap) {
				uint32_t ncap = cap ? cap * 2 : 32;
				const struct g_ser **nr = realloc(rep, ncap * sizeof(*nr));
				if (!nr)
					goto out;
				rep = nr;
				struct acc *na = realloc(acc, ncap * sizeof(*na));
				if (!na)
					goto out;
				acc = na;
				cap = ncap;
			}
			memset(&acc[n], 0, sizeof(acc[n]));
			rep[n] = s;
			tab[j] = (int32_t)n++;
			if (n * 2 > tcap) { /* rehash */
				uint32_t ncap = tcap * 2;
				int32_t *nt = malloc(ncap * sizeof(*nt));
				if (!nt)
					goto out;
				memset(nt, 0xff, ncap * sizeof(*nt));
				for (uint32_t r = 0; r < n; r++) {
					uint32_t k = (uint32_t)group_hash(q, rep[r]) & (ncap - 1);
					while (nt[k] >= 0)
						k = (k + 1) & (ncap - 1);
					nt[k] = (int32_t)r;
				}
				free(tab);
				tab = nt;
				tcap = ncap;
				j = 0;
				while (tab[j] < 0 || rep[tab[j]] != s)
					j++;
			}
		}
		struct acc *a = &acc[tab[j]];
		if (q->mode == GM_RATE)
			a->v += value_of(s, q->val);
		else if (q->mode == GM_AVG) {
			a->v += s->dur_sum;
			a->v2 += s->count;
		} else
			for (int b = 0; b < MX_HIST_BUCKETS; b++)
				a->b[b] += (double)s->buckets[b];
	}
	out->rows = g_alloc(g, (size_t)n * sizeof(*out->rows));
	if (!out->rows)
		goto out;
	for (uint32_t r = 0; r < n; r++) {
		double v;
		if (q->mode == GM_RATE)
			v = acc[r].v / (double)g->o->dur_s;
		else if (q->mode == GM_AVG)
			v = acc[r].v / acc[r].v2; /* rates: the window cancels */
		else
			v = g_hist_quantile(q->quantile, acc[r].b);
		if (!(v > 0) && !(q->keep_zero && v == 0))
			continue;
		out->rows[out->n++] = (struct g_row){ rep[r], g_round3(v) };
	}
	ok = true;
out:
	if (!ok && !g->err)
		g->err = MX_ENOMEM;
	free(tab);
	free(rep);
	free(acc);
	return ok;
}

/* Prometheus' bucketQuantile: cumulative counts by upper bound, the +Inf
 * bucket last; the rank's bucket interpolated linearly. */
double g_hist_quantile(double q, const double buckets[MX_HIST_BUCKETS])
{
	double cum[MX_HIST_BUCKETS], c = 0;
	if (isnan(q))
		return NAN;
	if (q < 0)
		return -INFINITY;
	if (q > 1)
		return INFINITY;
	for (int i = 0; i < MX_HIST_BUCKETS; i++)
		cum[i] = c += buckets[i];
	double obs = cum[MX_HIST_BUCKETS - 1];
	if (obs == 0)
		return NAN;
	double rank = q * obs;
	int b = 0;
	while (b < MX_HIST_BUCKETS - 1 && !(cum[b] >= rank))
		b++;
	if (b == MX_HIST_BUCKETS - 1)
		return mx_hist_bounds[MX_HIST_BOUNDS - 1];
	if (b == 0 && mx_hist_bounds[0] <= 0)
		return mx_hist_bounds[0];
	double start = 0, end = mx_hist_bounds[b], count = cum[b];
	if (b > 0) {
		start = mx_hist_bounds[b - 1];
		count -= cum[b - 1];
		rank -= cum[b - 1];
	}
	return start + (end - start) * (rank / count);
}
