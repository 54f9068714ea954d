/*
 * graph_json.c - Kiali's "common" graph JSON (graph/config/common/common.go)
 * from a finished traffic map: node ids as the hex SHA-256 of Kiali's id
 * strings, edge ids as the SHA-256 of "<source hash>.<target hash>.<protocol>",
 * compound box nodes (by app for app graphs or boxBy=app, by namespace and
 * by cluster on request), nodes sorted box-first then by cluster,
 * namespace, app, version, service, workload, edges by source, target,
 * protocol; rates as strings (two decimals or more to show one significant
 * digit, up to five), percentages with one decimal, only values above 0.
 *
 * The text is what Go's json.MarshalIndent(v, "", "  ") writes for Kiali's
 * structs: fields in declaration order with omitempty honoured, map keys
 * sorted, strings escaped as encoding/json does (<, > and & as \u003c ...,
 * invalid UTF-8 as \ufffd), no trailing newline.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/error.h"
#include "graph_int.h"

enum { BOX_NONE, BOX_APP, BOX_NS, BOX_CLUSTER };

/* A node of the answer: a map node or a box. */
struct jn {
	const struct g_node *n;  /* NULL for a box */
	char id[65];
	const char *parent;      /* the box's id, or NULL */
	uint8_t box;
	uint32_t cluster, ns, app, ver, svc, wl;
	uint32_t flags;          /* NF_OUTSIDE / NF_INACCESSIBLE of a box */
};

struct je {
	const struct g_edge *e;
	const char *src, *dst;   /* hex ids */
	char id[65];
};

/* The writer: its own growable buffer (the answer is a megabyte for a
 * thousand edges, written in many small pieces), appended to the caller's
 * mx_buf at the end. */
struct jw {
	char *p;
	size_t len, cap, max;
	bool failed;
	int depth;
	bool first[16];
};

/* ------------------------------------------------------------ writer */

static void jgrow(struct jw *w, size_t n)
{
	size_t cap = w->cap ? w->cap * 2 : 64 * 1024;
	while (cap < w->len + n)
		cap *= 2;
	if (cap > w->max)
		cap = w->max;
	char *np = w->len + n <= cap ? realloc(w->p, cap) : NULL;
	if (!np) {
		w->failed = true;
		return;
	}
	w->p = np;
	w->cap = cap;
}

static inline void jput(struct jw *w, const void *s, size_t n)
{
	if (w->len + n > w->cap) {
		if (w->failed || (jgrow(w, n), w->failed))
			return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

static inline void jputc(struct jw *w, char c)
{
	jput(w, &c, 1);
}

static inline void jputs(struct jw *w, const char *s)
{
	jput(w, s, strlen(s));
}

/* Appends what was written to `out` and frees the writer's buffer. */
static bool jflush(struct jw *w, struct mx_buf *out)
{
	bool ok = !w->failed && mx_buf_append(out, w->p, w->len) == MX_OK;
	free(w->p);
	w->p = NULL;
	return ok;
}

static void indent(struct jw *w, int depth)
{
	static const char nl[] = "\n                                ";
	jput(w, nl, 1 + 2 * (size_t)depth); /* depth < 16 */
}

static void sep(struct jw *w)
{
	if (!w->first[w->depth])
		jputc(w, ',');
	w->first[w->depth] = false;
	indent(w, w->depth);
}

static void open_(struct jw *w, char c)
{
	jputc(w, c);
	if (w->depth + 1 < (int)(sizeof(w->first) / sizeof(w->first[0])))
		w->depth++;
	w->first[w->depth] = true;
}

static void close_(struct jw *w, char c)
{
	if (!w->first[w->depth])
		indent(w, w->depth - 1);
	w->depth--;
	jputc(w, c);
}

/* encoding/json's string encoding (HTML-safe) */
/* 1: an ASCII byte encoding/json escapes; 2: a byte of a multi-byte
 * sequence */
static const uint8_t esc_class[256] = {
	[0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, ['<'] = 1, ['>'] = 1, ['&'] = 1,
	[0x80 ... 0xff] = 2,
};

static void str(struct jw *w, const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0, start = 0;
	jputc(w, '"');
	while (i < n) {
		while (i < n && !esc_class[s[i]])
			i++;
		if (i == n)
			break;
		unsigned c = s[i];
		const char *esc = NULL;
		char u[7];
		size_t adv = 1;
		if (c < 0x80) {
			if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' &&
			    c != '&') {
				i++;
				continue;
			}
			switch (c) {
			case '"': esc = "\\\""; break;
			case '\\': esc = "\\\\"; break;
			case '\b': esc = "\\b"; break;
			case '\f': esc = "\\f"; break;
			case '\n': esc = "\\n"; break;
			case '\r': esc = "\\r"; break;
			case '\t': esc = "\\t"; break;
			default:
				memcpy(u, "\\u00", 4);
				u[4] = hex[c >> 4];
				u[5] = hex[c & 15];
				u[6] = '\0';
				esc = u;
			}
		} else {
			/* decode one rune as utf8.DecodeRuneInString does */
			uint32_t r = 0, min = 0;
			size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
			bool valid = len && len <= 4 && c < 0xf5 && i + len <= n;
			if (valid) {
				r = c & (0x7f >> len);
				min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
				for (size_t k = 1; k < len && valid; k++) {
					valid = (s[i + k] & 0xc0) == 0x80;
					r = r << 6 | (s[i + k] & 0x3f);
				}
				valid = valid && r >= min && r <= 0x10ffff &&
					!(r >= 0xd800 && r <= 0xdfff);
			}
			if (!valid)
				esc = "\\ufffd";
			else if (r == 0x2028)
				esc = "\\u2028";
			else if (r == 0x2029)
				esc = "\\u2029";
			else {
				i += len;
				continue;
			}
			adv = valid ? len : 1;
		}
		jput(w, p + start, i - start);
		jputs(w, esc);
		i += adv;
		start = i;
	}
	jput(w, p + start, n - start);
	jputc(w, '"');
}

static void key(struct jw *w, const char *k)
{
	sep(w);
	jputc(w, '"');
	jputs(w, k);
	jput(w, "\": ", 3);
}

static void kv_str(struct jw *w, const char *k, const char *p, size_t n)
{
	key(w, k);
	str(w, p, n);
}

static void kv_id(struct jw *w, const struct graph *g, const char *k,
		  uint32_t id, bool omitempty)
{
	struct mx_str s = g_str(g, id);
	if (!omitempty || s.len)
		kv_str(w, k, s.ptr, s.len);
}

static void kv_true(struct jw *w, const char *k, bool v)
{
	if (v) {
		key(w, k);
		jputs(w, "true");
	}
}

/* fmt.Sprintf("%.*f", prec, v) */
static void fmt_f(char *out, size_t len, int prec, double v)
{
	if (isnan(v))
		snprintf(out, len, "NaN");
	else if (isinf(v))
		snprintf(out, len, v > 0 ? "+Inf" : "-Inf");
	else
		snprintf(out, len, "%.*f", prec, v);
}

/* rateToString(2, v) */
static void fmt_rate(char *out, size_t len, double v)
{
	int prec = 0;
	for (double x = v; prec < 5 && x > 0 && x < 1; x *= 10)
		prec++;
	fmt_f(out, len, prec > 2 ? prec : 2, v);
}

/* ------------------------------------------------------------ traffic */

static const struct {
	const char *proto;
	const char *name[6];
	int idx[6];
} node_rates[3] = {
	{ "grpc", { "grpcIn", "grpcInErr", "grpcInNoResponse", "grpcOut" },
	  { NR_GRPC_IN, NR_GRPC_IN_ERR, NR_GRPC_IN_NORESP, NR_GRPC_OUT, -1 } },
	{ "http", { "httpIn", "httpIn3xx", "httpIn4xx", "httpIn5xx", "httpInNoResponse",
		    "httpOut" },
	  { NR_HTTP_IN, NR_HTTP_IN_3XX, NR_HTTP_IN_4XX, NR_HTTP_IN_5XX,
	    NR_HTTP_IN_NORESP, NR_HTTP_OUT } },
	{ "tcp", { "tcpIn", "tcpOut" }, { NR_TCP_IN, NR_TCP_OUT, -1 } },
};

static int n_rates(int p)
{
	return p == 0 ? 4 : p == 1 ? 6 : 2;
}

static void node_traffic(struct jw *w, const struct g_node *n)
{
	bool any = false;
	char v[64];
	for (int p = 0; p < 3; p++) {
		bool have = false;
		for (int i = 0; i < n_rates(p); i++)
			have = have || n->r[node_rates[p].idx[i]] > 0;
		if (!have)
			continue;
		if (!any) {
			key(w, "traffic");
			open_(w, '[');
			any = true;
		}
		sep(w);
		open_(w, '{');
		kv_str(w, "protocol", node_rates[p].proto, strlen(node_rates[p].proto));
		key(w, "rates");
		open_(w, '{');
		for (int i = 0; i < n_rates(p); i++) {
			double x = n->r[node_rates[p].idx[i]];
			if (x > 0) {
				fmt_rate(v, sizeof(v), x);
				kv_str(w, node_rates[p].name[i], v, strlen(v));
			}
		}
		close_(w, '}');
		close_(w, '}');
	}
	if (any)
		close_(w, ']');
}

static int cmp_kv_str(const struct graph *g, const struct g_kv *a,
		      const struct g_kv *b)
{
	struct mx_str x = g_str(g, a->k), y = g_str(g, b->k);
	int c = memcmp(x.ptr, y.ptr, x.len < y.len ? x.len : y.len);
	return c ? c : (x.len > y.len) - (x.len < y.len);
}

static int cmp_ids(const struct graph *g, uint32_t a, uint32_t b)
{
	struct mx_str x = g_str(g, a), y = g_str(g, b);
	int c = memcmp(x.ptr, y.ptr, x.len < y.len ? x.len : y.len);
	return c ? c : (x.len > y.len) - (x.len < y.len);
}

/* A map[string]string of percentages of `total`, keys sorted. */
static void pct_map(struct jw *w, const struct graph *g, const char *k,
		    struct g_kv *kv, uint32_t n, double total)
{
	char v[64];
	if (!n)
		return;
	for (uint32_t i = 1; i < n; i++) /* few entries: insertion sort */
		for (uint32_t j = i; j > 0 && cmp_kv_str(g, &kv[j - 1], &kv[j]) > 0; j--) {
			struct g_kv t = kv[j];
			kv[j] = kv[j - 1];
			kv[j - 1] = t;
		}
	key(w, k);
	open_(w, '{');
	for (uint32_t i = 0; i < n; i++) {
		struct mx_str s = g_str(g, kv[i].k);
		fmt_f(v, sizeof(v), 1, kv[i].v / total * 100.0);
		sep(w);
		str(w, s.ptr, s.len);
		jput(w, ": ", 2);
		str(w, v, strlen(v));
	}
	close_(w, '}');
}

static const struct {
	const char *proto;
	const char *name[5];
	int idx[5];
	int total, err[3], out;
} edge_rates[3] = {
	{ "grpc", { "grpc", "grpcErr", "grpcNoResponse" },
	  { ER_GRPC, ER_GRPC_ERR, ER_GRPC_NORESP }, ER_GRPC,
	  { ER_GRPC_NORESP, ER_GRPC_ERR, -1 }, NR_GRPC_OUT },
	{ "http", { "http", "http3xx", "http4xx", "http5xx", "httpNoResponse" },
	  { ER_HTTP, ER_HTTP_3XX, ER_HTTP_4XX, ER_HTTP_5XX, ER_HTTP_NORESP }, ER_HTTP,
	  { ER_HTTP_NORESP, ER_HTTP_4XX, ER_HTTP_5XX }, NR_HTTP_OUT },
	{ "tcp", { "tcp" }, { ER_TCP }, ER_TCP, { -1, -1, -1 }, NR_TCP_OUT },
};

static void edge_traffic(struct jw *w, const struct graph *g, struct g_edge *e)
{
	static const int n_edge[3] = { 3, 5, 1 };
	char v[64];
	key(w, "traffic");
	open_(w, '{');
	for (int p = 0; p < 3; p++) {
		bool have = false;
		for (int i = 0; i < n_edge[p]; i++)
			have = have || e->r[edge_rates[p].idx[i]] > 0;
		if (!have)
			continue;
		double total = e->r[edge_rates[p].total], err = 0;
		if (total > 0) {
			for (int i = 0; i < 3; i++)
				if (edge_rates[p].err[i] >= 0)
					err += e->r[edge_rates[p].err[i]];
			kv_str(w, "protocol", edge_rates[p].proto, strlen(edge_rates[p].proto));
			key(w, "rates");
			open_(w, '{');
			for (int i = 0; i < n_edge[p]; i++) {
				double x = e->r[edge_rates[p].idx[i]];
				if (x > 0) {
					fmt_rate(v, sizeof(v), x);
					kv_str(w, edge_rates[p].name[i], v, strlen(v));
				}
			}
			if (p < 2) {
				char name[32];
				double pe = err / total * 100;
				double pr = total / e->src->r[edge_rates[p].out] * 100.0;
				if (pe > 0) {
					snprintf(name, sizeof(name), "%sPercentErr", edge_rates[p].proto);
					fmt_f(v, sizeof(v), 1, pe);
					kv_str(w, name, v, strlen(v));
				}
				if (pr > 0) {
					snprintf(name, sizeof(name), "%sPercentReq", edge_rates[p].proto);
					fmt_f(v, sizeof(v), 1, pr);
					kv_str(w, name, v, strlen(v));
				}
			}
			close_(w, '}');
			if (e->n_resp) {
				key(w, "responses");
				open_(w, '{');
				for (uint32_t i = 1; i < e->n_resp; i++)
					for (uint32_t j = i; j > 0 &&
					     cmp_ids(g, e->resp[j - 1].code, e->resp[j].code) > 0; j--) {
						struct g_resp t = e->resp[j];
						e->resp[j] = e->resp[j - 1];
						e->resp[j - 1] = t;
					}
				for (uint32_t i = 0; i < e->n_resp; i++) {
					struct g_resp *r = &e->resp[i];
					struct mx_str c = g_str(g, r->code);
					sep(w);
					str(w, c.ptr, c.len);
					jput(w, ": ", 2);
					open_(w, '{');
					pct_map(w, g, "flags", r->flags, r->n_flags, total);
					pct_map(w, g, "hosts", r->hosts, r->n_hosts, total);
					close_(w, '}');
				}
				close_(w, '}');
			}
			close_(w, '}');
			return;
		}
		break;
	}
	struct mx_str pr = g_str(g, e->proto);
	if (pr.len)
		kv_str(w, "protocol", pr.ptr, pr.len);
	close_(w, '}');
}

/* ------------------------------------------------------------ nodes */

static const char *const type_names[] = {
	[NT_APP] = "app", [NT_SERVICE] = "service", [NT_WORKLOAD] = "workload",
	[NT_UNKNOWN] = "unknown", [NT_BOX] = "box",
};
static const char *const box_names[] = {
	[BOX_APP] = "app", [BOX_NS] = "namespace", [BOX_CLUSTER] = "cluster",
};

static int cmp_dest(const struct graph *g, const struct g_dest *a,
		    const struct g_dest *b)
{
	int c = cmp_ids(g, a->cluster, b->cluster);
	if (!c)
		c = cmp_ids(g, a->ns, b->ns);
	return c ? c : cmp_ids(g, a->name, b->name);
}

static void write_node(struct jw *w, const struct graph *g, struct jn *j)
{
	const struct g_node *n = j->n;
	sep(w);
	open_(w, '{');
	key(w, "data");
	open_(w, '{');
	kv_str(w, "id", j->id, 64);
	if (j->parent)
		kv_str(w, "parent", j->parent, 64);
	const char *t = type_names[n ? n->type : NT_BOX];
	kv_str(w, "nodeType", t, strlen(t));
	kv_id(w, g, "cluster", j->cluster, false);
	kv_id(w, g, "namespace", j->ns, false);
	kv_id(w, g, "workload", j->wl, true);
	kv_id(w, g, "app", j->app, true);
	kv_id(w, g, "version", j->ver, true);
	kv_id(w, g, "service", j->svc, true);
	if (n && n->n_dests) {
		struct g_dest *d = n->dests;
		for (uint32_t a = 1; a < n->n_dests; a++)
			for (uint32_t b = a; b > 0 && cmp_dest(g, &d[b - 1], &d[b]) > 0; b--) {
				struct g_dest x = d[b];
				d[b] = d[b - 1];
				d[b - 1] = x;
			}
		key(w, "destServices");
		open_(w, '[');
		for (uint32_t a = 0; a < n->n_dests; a++) {
			sep(w);
			open_(w, '{');
			kv_id(w, g, "cluster", d[a].cluster, false);
			kv_id(w, g, "namespace", d[a].ns, false);
			kv_id(w, g, "name", d[a].name, false);
			close_(w, '}');
		}
		close_(w, ']');
	}
	if (n)
		node_traffic(w, n);
	key(w, "healthData");
	jputs(w, "null");
	uint32_t f = n ? n->flags : j->flags;
	if (j->box) {
		key(w, "isBox");
		str(w, box_names[j->box], strlen(box_names[j->box]));
	}
	kv_true(w, "isInaccessible", f & NF_INACCESSIBLE);
	kv_true(w, "isInjected", f & NF_INJECTED);
	kv_true(w, "isOutside", f & NF_OUTSIDE);
	kv_true(w, "isRoot", f & NF_ROOT);
	close_(w, '}');
	close_(w, '}');
}

static void write_edge(struct jw *w, const struct graph *g, struct je *j)
{
	struct g_edge *e = (struct g_edge *)(uintptr_t)j->e;
	char v[64];
	sep(w);
	open_(w, '{');
	key(w, "data");
	open_(w, '{');
	kv_str(w, "id", j->id, 64);
	kv_str(w, "source", j->src, 64);
	kv_str(w, "target", j->dst, 64);
	if (e->has & EF_PRINC)
		kv_id(w, g, "destPrincipal", e->dprinc, true);
	if (e->has & EF_MTLS) {
		fmt_f(v, sizeof(v), 0, e->mtls);
		kv_str(w, "isMTLS", v, strlen(v));
	}
	if (e->has & EF_RT) {
		fmt_f(v, sizeof(v), 0, e->rt);
		kv_str(w, "responseTime", v, strlen(v));
	}
	if (e->has & EF_PRINC)
		kv_id(w, g, "sourcePrincipal", e->sprinc, true);
	if (e->has & EF_TP) {
		fmt_f(v, sizeof(v), 0, e->tp);
		kv_str(w, "throughput", v, strlen(v));
	}
	edge_traffic(w, g, e);
	close_(w, '}');
	close_(w, '}');
}

/* ------------------------------------------------------------ assembly */

static const char *hash_of(struct graph *g, struct g_map *memo, uint32_t id)
{
	char *h = g_map_get(memo, &id, sizeof(id));
	if (h)
		return h;
	if (!(h = g_alloc(g, 65)))
		return NULL;
	struct mx_str s = g_str(g, id);
	g_sha256_hex(s.ptr, s.len, h);
	return g_map_put(g, memo, &id, sizeof(id), h) ? h : NULL;
}

struct grp {
	uint32_t key;
	struct jn **m;
	uint32_t n, cap;
};

struct jlist {
	struct jn **v;
	uint32_t n, cap;
};

static bool jl_add(struct graph *g, struct jlist *l, struct jn *j)
{
	if (!g_grow(g, (void **)&l->v, l->n, &l->cap, sizeof(*l->v)))
		return false;
	l->v[l->n++] = j;
	return true;
}

/* boxByApp / boxByNamespace / boxByCluster */
static bool box_by(struct graph *g, struct jlist *l, uint8_t kind)
{
	struct g_map groups = { 0 };
	struct grp **order = NULL;
	uint32_t n_order = 0, cap_order = 0, n0 = l->n;
	for (uint32_t i = 0; i < n0; i++) {
		struct jn *j = l->v[i];
		uint32_t parts[3] = { j->cluster, j->ns, j->app };
		int np;
		if (kind == BOX_APP) {
			if (!g_ok(j->app))
				continue;
			np = 3;
		} else if (kind == BOX_NS) {
			if (j->parent || j->ns == S_UNKNOWN)
				continue;
			np = 2;
		} else {
			if (j->parent || j->cluster == S_UNKNOWN)
				continue;
			np = 1;
		}
		mx_buf_reset(&g->tmp);
		mx_buf_puts(&g->tmp, "box");
		for (int k = 0; k < np; k++) {
			struct mx_str s = g_str(g, parts[k]);
			mx_buf_putc(&g->tmp, '_');
			mx_buf_append(&g->tmp, s.ptr, s.len);
		}
		if (g->tmp.failed) {
			g->err = MX_ENOMEM;
			return false;
		}
		uint32_t key = g_intern(g, (const char *)g->tmp.data, g->tmp.len);
		struct grp *gr = g_map_get(&groups, &key, sizeof(key));
		if (!gr) {
			if (!(gr = g_alloc(g, sizeof(*gr))) ||
			    !g_map_put(g, &groups, &key, sizeof(key), gr) ||
			    !g_grow(g, (void **)&order, n_order, &cap_order, sizeof(*order)))
				return false;
			gr->key = key;
			order[n_order++] = gr;
		}
		if (!g_grow(g, (void **)&gr->m, gr->n, &gr->cap, sizeof(*gr->m)))
			return false;
		gr->m[gr->n++] = j;
	}
	if (kind != BOX_APP && n_order <= 1)
		return !g->err;
	for (uint32_t i = 0; i < n_order; i++) {
		struct grp *gr = order[i];
		if (gr->n < 2)
			continue;
		struct jn *b = g_alloc(g, sizeof(*b));
		if (!b || !jl_add(g, l, b))
			return false;
		struct mx_str k = g_str(g, gr->key);
		g_sha256_hex(k.ptr, k.len, b->id);
		b->box = kind;
		b->cluster = gr->m[0]->cluster;
		if (kind != BOX_CLUSTER)
			b->ns = gr->m[0]->ns;
		if (kind == BOX_APP)
			b->app = gr->m[0]->app;
		for (uint32_t x = 0; x < gr->n; x++) {
			gr->m[x]->parent = b->id;
			if (kind == BOX_APP && gr->m[x]->n)
				b->flags |= gr->m[x]->n->flags & (NF_OUTSIDE | NF_INACCESSIBLE);
		}
	}
	return !g->err;
}

static int box_rank(uint8_t b)
{
	return b == BOX_CLUSTER ? 0 : b == BOX_NS ? 1 : b == BOX_APP ? 2 : 3;
}

static int cmp_jn(const void *a, const void *b, void *ctx)
{
	const struct graph *g = ctx;
	const struct jn *x = *(struct jn *const *)a, *y = *(struct jn *const *)b;
	int c;
	if (x->box != y->box)
		return box_rank(x->box) - box_rank(y->box);
	if ((c = cmp_ids(g, x->cluster, y->cluster)) ||
	    (c = cmp_ids(g, x->ns, y->ns)) || (c = cmp_ids(g, x->app, y->app)) ||
	    (c = cmp_ids(g, x->ver, y->ver)) || (c = cmp_ids(g, x->svc, y->svc)) ||
	    (c = cmp_ids(g, x->wl, y->wl)))
		return c;
	return strcmp(x->id, y->id); /* (Go's sort leaves ties in any order) */
}

static int cmp_je(const void *a, const void *b, void *ctx)
{
	const struct graph *g = ctx;
	const struct je *x = a, *y = b;
	int c = strcmp(x->src, y->src);
	if (!c)
		c = strcmp(x->dst, y->dst);
	return c ? c : cmp_ids(g, x->e->proto, y->e->proto);
}

bool g_write_json(struct graph *g, const struct g_tmap *m, struct mx_buf *out)
{
	static const char *const gtypes[] = {
		[GT_APP] = "app", [GT_VAPP] = "versionedApp",
		[GT_WORKLOAD] = "workload", [GT_SERVICE] = "service",
	};
	const struct g_opts *o = g->o;
	struct g_map memo = { 0 };
	struct jlist l = { 0 };
	struct je *edges = NULL;
	uint32_t n_edges = 0, cap_edges = 0;
	for (uint32_t i = 0; i < m->n; i++) {
		const struct g_node *n = m->nodes[i];
		if (n->flags & NF_REMOVED)
			continue;
		struct jn *j = g_alloc(g, sizeof(*j));
		const char *h = hash_of(g, &memo, n->id);
		if (!j || !h || !jl_add(g, &l, j))
			return false;
		memcpy(j->id, h, 65);
		j->n = n;
		j->cluster = n->cluster;
		j->ns = n->ns;
		j->app = n->app;
		j->ver = n->ver;
		j->svc = n->svc;
		j->wl = n->wl;
		for (uint32_t k = 0; k < n->n_edges; k++) {
			const struct g_edge *e = n->edges[k];
			if (!g_grow(g, (void **)&edges, n_edges, &cap_edges, sizeof(*edges)))
				return false;
			struct je *x = &edges[n_edges++];
			x->e = e;
			x->src = j->id;
			if (!(x->dst = hash_of(g, &memo, e->dst->id)))
				return false;
			struct mx_str p = g_str(g, e->proto);
			mx_buf_reset(&g->tmp);
			mx_buf_append(&g->tmp, x->src, 64);
			mx_buf_putc(&g->tmp, '.');
			mx_buf_append(&g->tmp, x->dst, 64);
			mx_buf_putc(&g->tmp, '.');
			mx_buf_append(&g->tmp, p.ptr, p.len);
			if (g->tmp.failed) {
				g->err = MX_ENOMEM;
				return false;
			}
			g_sha256_hex(g->tmp.data, g->tmp.len, x->id);
		}
	}
	if ((o->box_app || o->gtype == GT_APP || o->gtype == GT_VAPP) &&
	    !box_by(g, &l, BOX_APP))
		return false;
	if (o->box_ns && !box_by(g, &l, BOX_NS))
		return false;
	if (o->box_cluster && !box_by(g, &l, BOX_CLUSTER))
		return false;
	if (l.n)
		qsort_r(l.v, l.n, sizeof(*l.v), cmp_jn, g);
	if (n_edges)
		qsort_r(edges, n_edges, sizeof(*edges), cmp_je, g);

	struct jw w = { .max = out->max > out->len ? out->max - out->len : 0 };
	char num[32];
	open_(&w, '{');
	key(&w, "timestamp");
	snprintf(num, sizeof(num), "%lld", (long long)o->query_time);
	jputs(&w, num);
	key(&w, "duration");
	snprintf(num, sizeof(num), "%llu", (unsigned long long)o->dur_s);
	jputs(&w, num);
	kv_str(&w, "graphType", gtypes[o->gtype], strlen(gtypes[o->gtype]));
	key(&w, "elements");
	open_(&w, '{');
	key(&w, "nodes");
	open_(&w, '[');
	for (uint32_t i = 0; i < l.n; i++)
		write_node(&w, g, l.v[i]);
	close_(&w, ']');
	key(&w, "edges");
	open_(&w, '[');
	for (uint32_t i = 0; i < n_edges; i++)
		write_edge(&w, g, &edges[i]);
	close_(&w, ']');
	close_(&w, '}');
	close_(&w, '}');
	if (!jflush(&w, out))
		out->failed = true;
	return !out->failed && !g->err;
}

void g_json_error(struct mx_buf *out, const char *msg)
{
	struct jw w = { .max = out->max > out->len ? out->max - out->len : 0 };
	jputs(&w, "{\"error\":");
	str(&w, msg, strlen(msg));
	jputc(&w, '}');
	if (!jflush(&w, out))
		out->failed = true;
}
