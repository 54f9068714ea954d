/*
 * sgraph_test_util.h - helpers of the service-graph tests (test_sgraph.c,
 * test_sgraph_db.c, test_dependencies.c): a store with an injected clock and a short pairing
 * wait, batches of spans described by a small table (one resource per
 * service, optional peer/db attributes, remote endpoint, shared flag),
 * submitting and waiting for the commit, making the writer expire and
 * flush (mx_store_sweep), and reading the dependency links and the
 * metric series back in a compact form. Static helpers: each test binary
 * gets its own copy.
 */
#ifndef MX_SGRAPH_TEST_UTIL_H
#define MX_SGRAPH_TEST_UTIL_H

#include "storage/sgraph.h"
#include "store_test_util.h"

#define SG_T0 1800000000000000000ull /* a minute boundary */
#define SG_MS 1000000ull
#define SG_SEC 1000000000ull
#define SG_WAIT (2 * SG_SEC)

/* One span of a test batch. */
struct sg_span {
	const char *svc;
	uint64_t trace, id, parent;
	uint8_t kind;
	uint64_t start, dur; /* start 0: SG_T0 */
	bool err, shared;
	bool no_start;         /* start and end 0 (Zipkin without timestamp) */
	const char *name;      /* NULL: "op" */
	const char *peer;      /* attribute peer.service */
	const char *remote;    /* remote endpoint service name */
	const char *db_system; /* attribute db.system */
	const char *db_name;   /* attribute db.name */
	const char *server_address;
};

struct sg_fx {
	struct tu_fixture *f;
	struct tu_acks *acks;
	int submitted;
};

static struct sg_fx SG;

static inline int sg_setup_with(uint64_t retention_ns)
{
	memset(&SG, 0, sizeof(SG));
	SG.f = tu_fixture_new("/tmp/mixd-test-sgraph-XXXXXX");
	if (!SG.f)
		return -1;
	SG.f->cfg.now_ns = tu_clock;
	SG.f->cfg.sync = MX_SYNC_NONE;
	SG.f->cfg.retention_ns = retention_ns;
	atomic_store(&tu_now, SG_T0);
	SG.acks = tu_acks_new();
	char err[256] = "";
	if (mx_store_open(&SG.f->cfg, &SG.f->st, err, sizeof(err)) != MX_OK)
		return -1;
	return mx_store_sgraph_configure(SG.f->st, SG_WAIT, 0) == MX_OK ? 0 : -1;
}

static inline int sg_setup(void **state)
{
	(void)state;
	return sg_setup_with(0);
}

static inline int sg_teardown(void **state)
{
	(void)state;
	tu_fixture_free(SG.f);
	tu_acks_free(SG.acks);
	return 0;
}

static inline void sg_id(uint8_t *out, size_t n, uint64_t v)
{
	memset(out, 0, n);
	for (size_t i = 0; i < 8; i++)
		out[n - 1 - i] = (uint8_t)(v >> (8 * i));
}

static inline void sg_attr(struct mx_batch *b, struct mx_span *s,
			   const char *k, const char *v)
{
	if (!v)
		return;
	struct mx_attr *a = &s->attrs.items[s->attrs.n++];
	a->key = mx_batch_str(b, k, strlen(k));
	a->value.type = MX_VAL_STRING;
	a->value.u.s = mx_batch_str(b, v, strlen(v));
}

/* A batch of `n` spans that arrived now. */
static inline struct mx_batch *sg_batch(const struct sg_span *t, size_t n)
{
	static const struct mx_scope scope0;
	struct mx_batch *b = mx_batch_new(16u << 20);
	assert_non_null(b);
	b->received_ns = tu_clock();
	for (size_t i = 0; i < n; i++) {
		struct mx_resource *r = mx_arena_calloc(&b->arena, 1, sizeof(*r));
		struct mx_attr *ra = mx_arena_calloc(&b->arena, 1, sizeof(*ra));
		ra->key = MX_STR_LIT("service.name");
		ra->value.type = MX_VAL_STRING;
		ra->value.u.s = mx_batch_str(b, t[i].svc, strlen(t[i].svc));
		r->attrs = (struct mx_attrs){ ra, 1 };
		struct mx_span *s = mx_batch_add_span(b);
		assert_non_null(s);
		sg_id(s->trace_id, 16, t[i].trace);
		sg_id(s->span_id, 8, t[i].id);
		sg_id(s->parent_span_id, 8, t[i].parent);
		const char *name = t[i].name ? t[i].name : "op";
		s->name = mx_batch_str(b, name, strlen(name));
		s->kind = t[i].kind;
		s->start_ns = t[i].start ? t[i].start : SG_T0;
		s->end_ns = s->start_ns + t[i].dur;
		if (t[i].no_start)
			s->start_ns = s->end_ns = 0;
		s->status_code = t[i].err ? MX_STATUS_ERROR : MX_STATUS_UNSET;
		if (t[i].shared)
			s->mx_flags |= MX_SPAN_F_SHARED;
		if (t[i].remote)
			s->remote.service_name = mx_batch_str(b, t[i].remote,
							      strlen(t[i].remote));
		s->attrs.items = mx_arena_calloc(&b->arena, 4, sizeof(struct mx_attr));
		sg_attr(b, s, "peer.service", t[i].peer);
		sg_attr(b, s, "db.system", t[i].db_system);
		sg_attr(b, s, "db.name", t[i].db_name);
		sg_attr(b, s, "server.address", t[i].server_address);
		s->resource = r;
		s->scope = &scope0;
	}
	return b;
}

/* Submits the spans as one batch and waits for its commit (after which
 * the writer has fed them to the service graph). */
static inline void sg_send(const struct sg_span *t, size_t n)
{
	assert_int_equal(tu_submit(SG.f->st, sg_batch(t, n), SG.acks), MX_OK);
	SG.submitted++;
	assert_true(tu_acks_wait(SG.acks, SG.submitted, 20));
	assert_int_equal(SG.acks->n_ok, SG.submitted);
}

#define SG_SEND(...)                                                        \
	do {                                                                \
		const struct sg_span sg_t_[] = { __VA_ARGS__ };             \
		sg_send(sg_t_, sizeof(sg_t_) / sizeof(sg_t_[0]));           \
	} while (0)

/* Sets the clock and lets the writer run a maintenance pass: halves due
 * by then expire and pending dependency counts are written. */
static inline void sg_tick(uint64_t now)
{
	atomic_store(&tu_now, now);
	assert_int_equal(mx_store_sweep(SG.f->st), MX_OK);
}

/* The links of [t0, t1] as "parent>child:calls/errors" joined by ' '. */
static inline void sg_links(uint64_t t0, uint64_t t1, char *out, size_t len)
{
	struct mx_arena arena;
	struct mx_dep_link *l = NULL;
	uint32_t n = 0;
	mx_arena_init(&arena, 1u << 20);
	assert_int_equal(mx_store_dependencies(SG.f->st, t0, t1, &arena, &l, &n), MX_OK);
	size_t used = 0;
	out[0] = 0;
	for (uint32_t i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%.*s>%.*s:%llu/%llu",
					 i ? " " : "", (int)l[i].parent.len, l[i].parent.ptr,
					 (int)l[i].child.len, l[i].child.ptr,
					 (unsigned long long)l[i].calls,
					 (unsigned long long)l[i].errors);
	mx_arena_free(&arena);
}

static inline void sg_assert_links(const char *want)
{
	char got[2048];
	sg_links(0, UINT64_MAX / 2, got, sizeof(got));
	if (strcmp(got, want) != 0)
		fail_msg("links: got \"%s\", want \"%s\"", got, want);
}

static inline bool sg_is(struct mx_str s, const char *c)
{
	return mx_str_eq(s, c, strlen(c));
}

/* The lookups below return a zeroed series (count 0) when the snapshot
 * has none, never NULL. */

/* The edge series (client, server, conn) of a snapshot. */
static inline const struct mx_sg_edge_series *
sg_edge(const struct mx_sg_snap *s, const char *client, const char *server,
	uint8_t conn)
{
	static const struct mx_sg_edge_series none;
	for (size_t i = 0; i < s->n_edges; i++)
		if (sg_is(s->edges[i].client, client) &&
		    sg_is(s->edges[i].server, server) && s->edges[i].conn == conn)
			return &s->edges[i];
	return &none;
}

static inline const struct mx_sg_side_series *
sg_side(const struct mx_sg_snap *s, const char *svc, bool server)
{
	static const struct mx_sg_side_series none;
	for (size_t i = 0; i < s->n_sides; i++)
		if (sg_is(s->sides[i].service, svc) && s->sides[i].server == server)
			return &s->sides[i];
	return &none;
}

static inline const struct mx_sm_series *
sg_spanm(const struct mx_sg_snap *s, const char *svc, const char *name,
	 uint8_t kind, uint8_t status)
{
	static const struct mx_sm_series none;
	for (size_t i = 0; i < s->n_spans; i++)
		if (sg_is(s->spans[i].service, svc) &&
		    sg_is(s->spans[i].span_name, name) && s->spans[i].kind == kind &&
		    s->spans[i].status == status)
			return &s->spans[i];
	return &none;
}

/* Requests of an edge series (0 when absent). */
static inline uint64_t sg_requests(const char *client, const char *server,
				   uint8_t conn, uint64_t *failed)
{
	struct mx_sg_snap s;
	assert_int_equal(mx_store_sgraph_snapshot(SG.f->st, &s), MX_OK);
	const struct mx_sg_edge_series *e = sg_edge(&s, client, server, conn);
	uint64_t r = e->requests;
	if (failed)
		*failed = e->failed;
	mx_sg_snap_free(&s);
	return r;
}

static inline struct mx_sg_stats sg_stats(void)
{
	struct mx_sg_snap s;
	assert_int_equal(mx_store_sgraph_snapshot(SG.f->st, &s), MX_OK);
	struct mx_sg_stats st = s.stats;
	mx_sg_snap_free(&s);
	return st;
}

#endif
