/*
 * graph_test_util.h - the fixture of the graph API tests (test_graph.c): a
 * store with an injected clock, reports with known traffic (scenario A,
 * described in test_graph.c), node and edge ids computed with OpenSSL from
 * Kiali's id strings, expected documents re-indented as Go's
 * json.MarshalIndent writes them. Static helpers: one copy per test binary.
 */
#ifndef MX_GRAPH_TEST_UTIL_H
#define MX_GRAPH_TEST_UTIL_H

#include "store_test_util.h"

#include <math.h>
#include <openssl/evp.h>

#include "model/metrics.h"
#include "query/graph.h"
#include "storage/metrics.h"

#define SEC 1000000000ull
#define T0 1700000400ull /* a 10 minute boundary, Unix s */

static struct tu_fixture *fx;

/* ------------------------------------------------------------ ids */

static inline void hex_sha(const char *s, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	assert_int_equal(EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL), 1);
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

struct ids {
	char v[16][65];
	int n;
};

/* The node id (hash of the id string) in a slot of `ids`. */
static inline const char *nid(struct ids *ids, const char *idstr)
{
	assert_true(ids->n < 16);
	hex_sha(idstr, ids->v[ids->n]);
	return ids->v[ids->n++];
}

static inline const char *eid(struct ids *ids, const char *src, const char *dst,
		       const char *proto)
{
	char s[256];
	snprintf(s, sizeof(s), "%s.%s.%s", src, dst, proto);
	return nid(ids, s);
}

/* ------------------------------------------------------------ JSON */

/* Re-indents compact JSON as json.MarshalIndent(v, "", "  "). */
static inline char *reindent(const char *c)
{
	size_t cap = strlen(c) * 8 + 64, n = 0;
	char *o = malloc(cap);
	int depth = 0;
	assert_non_null(o);
#define PUT(ch) (o[n++] = (ch))
#define NL()                                                  \
	do {                                                  \
		PUT('\n');                                    \
		for (int _i = 0; _i < depth; _i++) {          \
			PUT(' ');                             \
			PUT(' ');                             \
		}                                             \
	} while (0)
	for (const char *p = c; *p; p++) {
		assert_true(n + 2 * depth + 8 < cap);
		if (*p == '"') {
			PUT(*p++);
			while (*p != '"') {
				if (*p == '\\')
					PUT(*p++);
				PUT(*p++);
			}
			PUT(*p);
		} else if (*p == '{' || *p == '[') {
			PUT(*p);
			if (p[1] == '}' || p[1] == ']') {
				PUT(*++p);
				continue;
			}
			depth++;
			NL();
		} else if (*p == '}' || *p == ']') {
			depth--;
			NL();
			PUT(*p);
		} else if (*p == ',') {
			PUT(',');
			NL();
		} else if (*p == ':') {
			PUT(':');
			PUT(' ');
		} else
			PUT(*p);
	}
	o[n] = '\0';
	return o;
#undef PUT
#undef NL
}

/* A growing compact document. */
struct doc {
	char s[64 * 1024];
	size_t n;
};

static inline void add(struct doc *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline void add(struct doc *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(d->s + d->n, sizeof(d->s) - d->n, fmt, ap);
	va_end(ap);
	assert_true(k >= 0 && (size_t)k < sizeof(d->s) - d->n);
	d->n += (size_t)k;
}

/* Edges of an expected document, sorted by source, target (Kiali). */
struct xedge {
	const char *src, *dst;
	char json[4096];
};

static inline int cmp_xedge(const void *a, const void *b)
{
	const struct xedge *x = a, *y = b;
	int c = strcmp(x->src, y->src);
	return c ? c : strcmp(x->dst, y->dst);
}

static inline void add_edges(struct doc *d, struct xedge *e, size_t n)
{
	qsort(e, n, sizeof(*e), cmp_xedge);
	for (size_t i = 0; i < n; i++)
		add(d, "%s%s", i ? "," : "", e[i].json);
}

/* Runs a graph request; the body (NUL-terminated, malloc'd) and status. */
static inline char *answer(const char *path, const char *const *params, unsigned *status)
{
	struct mx_params p;
	struct mx_buf b;
	size_t len = 0;
	mx_params_from_pairs(&p, params);
	mx_buf_init(&b, 64u << 20);
	*status = mx_graph_answer(fx->st, path, &p, (int64_t)T0 + 3600, &b);
	mx_buf_putc(&b, '\0');
	assert_false(b.failed);
	char *s = (char *)mx_buf_steal(&b, &len);
	mx_buf_free(&b);
	return s;
}

static inline void assert_graph(const char *path, const char *const *params,
			 const char *compact)
{
	unsigned status;
	char *got = answer(path, params, &status);
	char *want = reindent(compact);
	if (status != 200 || strcmp(got, want) != 0) {
		print_error("status %u\n--- got:\n%s\n--- want:\n%s\n", status, got, want);
		fail();
	}
	free(got);
	free(want);
}

/* ------------------------------------------------------------ reports */

struct wl {
	const char *wl, *ns, *app, *ver, *csvc, *crev, *cluster, *princ;
};

#define SPIFFE "spiffe://cluster.local/ns/default/sa/"
static const struct wl PP = { "productpage-v1", "default", "productpage", "v1",
			      "productpage", "v1", "Kubernetes", SPIFFE "productpage" };
static const struct wl R1 = { "reviews-v1", "default", "reviews", "v1", "reviews",
			      "v1", "Kubernetes", SPIFFE "reviews" };
static const struct wl R2 = { "reviews-v2", "default", "reviews", "v2", "reviews",
			      "v2", "Kubernetes", SPIFFE "reviews" };
static const struct wl MG = { "mongodb-v1", "default", "mongodb", "v1", "mongodb",
			      "v1", "Kubernetes", SPIFFE "mongodb" };
static const struct wl RT = { "ratings-v1", "db", "ratings", "v1", "ratings", "v1",
			      "Kubernetes", "spiffe://cluster.local/ns/db/sa/ratings" };
static const struct wl DBM = { "mysql-v1", "db", "mysql", "v1", "mysql", "v1",
			       "Kubernetes", "spiffe://cluster.local/ns/db/sa/mysql" };
static const struct wl UNK = { "unknown", "unknown", "unknown", "unknown", "unknown",
			       "latest", "unknown", "unknown" };

/* One request series of a report. */
struct rq {
	const struct wl *peer;
	const char *svc;     /* destination service name (host: name.ns.svc...) */
	const char *code;
	const char *csp;
	uint64_t count;
	int bucket;          /* duration bucket of every request */
	double dur_ms;       /* duration sum of the series */
	double resp_bytes;   /* response bytes sum */
};

struct tc {
	const struct wl *peer;
	const char *svc;
	uint64_t sent, received;
};

static inline struct mx_str S(struct mx_batch *b, const char *s)
{
	return (struct mx_str){ mx_arena_strndup(&b->arena, s, strlen(s)),
				(uint32_t)strlen(s) };
}

static inline void set_wl(struct mx_batch *b, struct mx_workload *w, const struct wl *x)
{
	w->workload = S(b, x->wl);
	w->workload_namespace = S(b, x->ns);
	w->app = S(b, x->app);
	w->version = S(b, x->ver);
	w->canonical_service = S(b, x->csvc);
	w->canonical_revision = S(b, x->crev);
	w->cluster = S(b, x->cluster);
	w->principal = S(b, x->princ);
}

static inline void set_labels(struct mx_batch *b, struct mx_series_labels *l,
		       const struct wl *local, const struct wl *peer, int role,
		       const char *svc)
{
	const struct wl *dst = role == MX_ROLE_SOURCE ? peer : local;
	char host[256];
	struct mx_workload *lw = mx_arena_calloc(&b->arena, 1, sizeof(*lw));
	assert_non_null(lw);
	l->role = (uint8_t)role;
	set_wl(b, lw, local);
	l->local = lw;
	set_wl(b, &l->peer, peer);
	snprintf(host, sizeof(host), "%s.%s.svc.cluster.local", svc, dst->ns);
	l->destination_service = S(b, host);
	l->destination_service_name = S(b, svc);
	l->destination_service_namespace = S(b, dst->ns);
	l->grpc_response_status = S(b, "");
	l->response_flags = S(b, "-");
}

static uint64_t seqs[256];

/* Commits one report of instance `inst` (at the store's clock). */
static inline void send(uint8_t inst, const struct wl *local, int role,
		 const struct rq *rq, uint32_t n, const struct tc *tc, uint32_t nt)
{
	struct mx_batch *b = mx_batch_new(1u << 20);
	assert_non_null(b);
	struct mx_report *r = mx_arena_calloc(&b->arena, 1, sizeof(*r));
	r->instance_id[0] = inst;
	r->sequence = ++seqs[inst];
	r->batch = b;
	set_wl(b, &r->reporter, local);
	r->requests = mx_arena_calloc(&b->arena, n ? n : 1, sizeof(*r->requests));
	r->tcp = mx_arena_calloc(&b->arena, nt ? nt : 1, sizeof(*r->tcp));
	r->n_requests = n;
	r->n_tcp = nt;
	for (uint32_t i = 0; i < n; i++) {
		struct mx_request_agg *a = &r->requests[i];
		set_labels(b, &a->labels, local, rq[i].peer, role, rq[i].svc);
		a->labels.request_protocol = S(b, "http");
		a->labels.response_code = S(b, rq[i].code);
		a->labels.connection_security_policy = S(b, rq[i].csp);
		uint64_t dur[MX_HIST_BUCKETS] = { 0 }, req[MX_HIST_BUCKETS] = { 0 },
			 resp[MX_HIST_BUCKETS] = { 0 };
		a->count = rq[i].count;
		dur[rq[i].bucket] = rq[i].count;
		req[5] = rq[i].count;
		resp[7] = rq[i].count;
		assert_int_equal(mx_hist_set(&a->duration, dur, &b->arena), MX_OK);
		assert_int_equal(mx_hist_set(&a->request_bytes, req, &b->arena), MX_OK);
		assert_int_equal(mx_hist_set(&a->response_bytes, resp, &b->arena), MX_OK);
		a->duration.sum = rq[i].dur_ms;
		a->request_bytes.sum = 100.0 * (double)rq[i].count;
		a->response_bytes.sum = rq[i].resp_bytes;
	}
	for (uint32_t i = 0; i < nt; i++) {
		struct mx_tcp_agg *a = &r->tcp[i];
		set_labels(b, &a->labels, local, tc[i].peer, role, tc[i].svc);
		a->labels.request_protocol = S(b, "tcp");
		a->labels.connection_security_policy = S(b, "unknown");
		a->opened = a->closed = 1;
		a->sent_bytes = tc[i].sent;
		a->received_bytes = tc[i].received;
	}
	struct tu_acks acks = TU_ACKS_INIT;
	assert_int_equal(mx_store_submit_report(fx->st, b, r, tu_ack_cb, &acks), MX_OK);
	assert_true(tu_acks_wait(&acks, 1, 10));
	assert_int_equal(acks.last_status, MX_OK);
}

/* Scenario A (see the top of the file), committed at T0 + 15 s. */
static inline void scenario_a(void)
{
	const struct rq pp_out[] = {
		{ &R1, "reviews", "200", "unknown", 60, 3, 60 * 8, 60 * 500 },
		{ &R1, "reviews", "200", "unknown", 30, 4, 30 * 20, 30 * 500 },
		{ &R1, "reviews", "503", "unknown", 30, 2, 30 * 3, 30 * 500 },
	};
	const struct rq r1_in[] = {
		{ &PP, "reviews", "200", "mutual_tls", 90, 3, 90 * 8, 90 * 500 },
		{ &PP, "reviews", "503", "mutual_tls", 30, 2, 30 * 3, 30 * 500 },
	};
	const struct rq pp_in[] = {
		{ &UNK, "productpage", "200", "none", 60, 5, 60 * 40, 60 * 500 },
	};
	const struct tc pp_tcp[] = { { &MG, "mongodb", 600, 1200 } };
	atomic_store(&tu_now, (T0 + 15) * SEC);
	/* the 200s of the destination side: 60 x 5..10 ms, 30 x 10..25 ms */
	struct rq r1_in_b[3] = { r1_in[0], r1_in[0], r1_in[1] };
	r1_in_b[0].count = 60;
	r1_in_b[0].resp_bytes = 60 * 500;
	r1_in_b[1].count = 30;
	r1_in_b[1].bucket = 4;
	r1_in_b[1].resp_bytes = 30 * 500;
	send(1, &PP, MX_ROLE_SOURCE, pp_out, 3, pp_tcp, 1);
	send(2, &R1, MX_ROLE_DESTINATION, r1_in_b, 3, NULL, 0);
	send(3, &PP, MX_ROLE_DESTINATION, pp_in, 1, NULL, 0);
}

#define QT "1700000460" /* T0 + 60 s */

static inline int setup(void **state)
{
	(void)state;
	memset(seqs, 0, sizeof(seqs));
	atomic_store(&tu_now, (T0 + 1) * SEC);
	fx = tu_fixture_new("/tmp/mixd-graph-XXXXXX");
	assert_non_null(fx);
	fx->cfg.now_ns = tu_clock;
	fx->cfg.retention_ns = 72ull * 3600 * SEC;
	fx->cfg.metrics_idle_ns = 0;
	tu_open_store(fx);
	return 0;
}

static inline int teardown(void **state)
{
	(void)state;
	tu_fixture_free(fx);
	fx = NULL;
	return 0;
}

#endif
