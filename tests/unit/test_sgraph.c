/*
 * test_sgraph.c - pairing of client and server spans into service-graph
 * edges (storage/sgraph*.c) over a real store with an injected clock:
 * halves in separate batches in either order and in one batch, Zipkin
 * shared spans, producer/consumer, database calls, expiry into virtual
 * nodes ("user" for root server spans, the peer for client spans, the
 * named caller of a Zipkin server span) or unpaired counts, failed
 * requests from either side, repeated halves counted once, the bounded
 * table dropping and counting, and the span metrics (counts, buckets,
 * kinds, status). What is checked: the Tempo series (snapshot) and the
 * dependency links read from LMDB.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sgraph_test_util.h"

#define CLIENT MX_KIND_CLIENT
#define SERVER MX_KIND_SERVER

static void test_pair_in_order(void **state)
{
	(void)state;
	/* separate batches, as separate processes send them */
	SG_SEND({ .svc = "frontend", .trace = 1, .id = 10, .parent = 1,
		  .kind = CLIENT, .dur = 300 * SG_MS });
	assert_int_equal(sg_requests("frontend", "backend", MX_SG_CONN_NONE, NULL), 0);
	assert_int_equal(sg_stats().pending, 1);
	SG_SEND({ .svc = "backend", .trace = 1, .id = 11, .parent = 10,
		  .kind = SERVER, .dur = 150 * SG_MS });
	uint64_t failed = 9;
	assert_int_equal(sg_requests("frontend", "backend", MX_SG_CONN_NONE, &failed), 1);
	assert_int_equal(failed, 0);

	struct mx_sg_snap s;
	assert_int_equal(mx_store_sgraph_snapshot(SG.f->st, &s), MX_OK);
	const struct mx_sg_edge_series *e = sg_edge(&s, "frontend", "backend", 0);
	assert_int_equal(e->requests, 1);
	assert_int_equal(e->server_sum_ns, 150 * SG_MS);
	assert_int_equal(e->client_sum_ns, 300 * SG_MS);
	assert_int_equal(e->server_b[1], 1); /* 0.15 s: le 0.2 */
	assert_int_equal(e->client_b[2], 1); /* 0.3 s: le 0.4 */
	assert_int_equal(s.stats.paired, 1);
	mx_sg_snap_free(&s);

	/* the counts reach LMDB in the writer's next transaction */
	sg_tick(SG_T0 + SG_SEC / 2);
	sg_assert_links("frontend>backend:1/0");
	/* the pair is remembered until the wait ends, then forgotten
	 * without counting anything more */
	sg_tick(SG_T0 + 3 * SG_WAIT);
	assert_int_equal(sg_stats().pending, 0);
	assert_int_equal(sg_stats().expired_edges, 0);
	sg_assert_links("frontend>backend:1/0");
}

static void test_pair_out_of_order(void **state)
{
	(void)state;
	SG_SEND({ .svc = "backend", .trace = 2, .id = 21, .parent = 20,
		  .kind = SERVER, .dur = 5 * SG_MS, .err = true });
	SG_SEND({ .svc = "other", .trace = 2, .id = 99, .parent = 1,
		  .kind = MX_KIND_INTERNAL, .dur = SG_MS });
	assert_int_equal(sg_requests("frontend", "backend", 0, NULL), 0);
	SG_SEND({ .svc = "frontend", .trace = 2, .id = 20, .parent = 1,
		  .kind = CLIENT, .dur = 7 * SG_MS });
	uint64_t failed = 0;
	assert_int_equal(sg_requests("frontend", "backend", 0, &failed), 1);
	assert_int_equal(failed, 1); /* the server's error fails the request */
	sg_tick(SG_T0 + SG_SEC);
	sg_assert_links("frontend>backend:1/1");
}

static void test_pair_one_batch_and_shared(void **state)
{
	(void)state;
	/* both halves in one batch; then a Zipkin B3 shared span: the server
	 * half has the client's id (and parent) */
	SG_SEND({ .svc = "a", .trace = 3, .id = 30, .parent = 0, .kind = SERVER },
		{ .svc = "a", .trace = 3, .id = 31, .parent = 30, .kind = CLIENT,
		  .err = true },
		{ .svc = "b", .trace = 3, .id = 32, .parent = 31, .kind = SERVER },
		{ .svc = "b", .trace = 3, .id = 33, .parent = 32, .kind = CLIENT });
	SG_SEND({ .svc = "c", .trace = 3, .id = 33, .parent = 32, .kind = SERVER,
		  .shared = true });
	assert_int_equal(sg_requests("a", "b", 0, NULL), 1);
	assert_int_equal(sg_requests("b", "c", 0, NULL), 1);
	/* the root server span of "a" ends up as a call from "user" */
	assert_int_equal(sg_requests("user", "a", MX_SG_CONN_VIRTUAL, NULL), 0);
	sg_tick(SG_T0 + SG_WAIT);
	uint64_t failed = 0;
	assert_int_equal(sg_requests("user", "a", MX_SG_CONN_VIRTUAL, &failed), 1);
	assert_int_equal(failed, 0);
	/* "user" is not a dependency link */
	sg_assert_links("a>b:1/1 b>c:1/0");
}

static void test_expiry(void **state)
{
	(void)state;
	SG_SEND({ .svc = "shop", .trace = 4, .id = 40, .parent = 1, .kind = CLIENT,
		  .peer = "payments", .dur = 2 * SG_SEC, .err = true },
		{ .svc = "shop", .trace = 4, .id = 41, .parent = 1, .kind = CLIENT },
		{ .svc = "stock", .trace = 4, .id = 42, .parent = 77, .kind = SERVER },
		{ .svc = "legacy", .trace = 5, .id = 50, .parent = 49, .kind = SERVER,
		  .remote = "old-client" },
		{ .svc = "shop", .trace = 6, .id = 60, .parent = 1, .kind = CLIENT,
		  .remote = "zipkin-peer" });
	/* not before the wait */
	sg_tick(SG_T0 + SG_WAIT - 1);
	assert_int_equal(sg_requests("shop", "payments", MX_SG_CONN_VIRTUAL, NULL), 0);
	assert_int_equal(sg_stats().pending, 5);
	sg_tick(SG_T0 + SG_WAIT);
	uint64_t failed = 0;
	assert_int_equal(sg_requests("shop", "payments", MX_SG_CONN_VIRTUAL, &failed), 1);
	assert_int_equal(failed, 1);
	assert_int_equal(sg_requests("shop", "zipkin-peer", MX_SG_CONN_VIRTUAL, NULL), 1);
	assert_int_equal(sg_stats().expired_edges, 2);
	assert_int_equal(sg_stats().pending, 0);

	struct mx_sg_snap s;
	assert_int_equal(mx_store_sgraph_snapshot(SG.f->st, &s), MX_OK);
	const struct mx_sg_side_series *c = sg_side(&s, "shop", false);
	const struct mx_sg_side_series *v = sg_side(&s, "stock", true);
	const struct mx_sg_side_series *l = sg_side(&s, "legacy", true);
	assert_int_equal(c->unpaired, 1); /* the client without a peer */
	assert_int_equal(v->unpaired, 1); /* a server whose client never came */
	assert_int_equal(l->unpaired, 1);
	assert_int_equal(c->dropped + v->dropped, 0);
	/* the virtual server's time is unknown: 0 s, as Tempo records it */
	const struct mx_sg_edge_series *e = sg_edge(&s, "shop", "payments",
						    MX_SG_CONN_VIRTUAL);
	assert_int_equal(e->server_b[0], 1);
	assert_int_equal(e->client_b[5], 1); /* 2 s: le 3.2 */
	mx_sg_snap_free(&s);
	/* a Zipkin server span naming its caller links from it */
	sg_assert_links("old-client>legacy:1/0 shop>payments:1/1 shop>zipkin-peer:1/0");
}

static void test_duplicates(void **state)
{
	(void)state;
	const struct sg_span client = { .svc = "web", .trace = 7, .id = 70,
					.parent = 1, .kind = CLIENT };
	const struct sg_span server = { .svc = "api", .trace = 7, .id = 71,
					.parent = 70, .kind = SERVER };
	sg_send(&client, 1);
	sg_send(&client, 1); /* re-sent before the pair completed */
	sg_send(&server, 1);
	sg_send(&server, 1); /* and after */
	sg_send(&client, 1);
	assert_int_equal(sg_requests("web", "api", 0, NULL), 1);
	assert_int_equal(sg_stats().duplicates, 3);
	sg_tick(SG_T0 + 2 * SG_WAIT);
	/* nothing is left to expire as unpaired or virtual */
	struct mx_sg_snap s;
	assert_int_equal(mx_store_sgraph_snapshot(SG.f->st, &s), MX_OK);
	assert_int_equal(s.n_sides, 0);
	assert_int_equal(s.n_edges, 1);
	/* span metrics count every span received (as Tempo does) */
	assert_int_equal(sg_spanm(&s, "web", "op", CLIENT, 0)->calls, 3);
	mx_sg_snap_free(&s);
	sg_assert_links("web>api:1/0");
}

static void test_database_and_messaging(void **state)
{
	(void)state;
	SG_SEND({ .svc = "orders", .trace = 8, .id = 80, .parent = 1, .kind = CLIENT,
		  .db_system = "postgresql", .db_name = "orders_db", .dur = 3 * SG_MS },
		{ .svc = "orders", .trace = 8, .id = 81, .parent = 1, .kind = CLIENT,
		  .db_system = "redis", .server_address = "cache.local" },
		{ .svc = "orders", .trace = 8, .id = 82, .parent = 1, .kind = CLIENT,
		  .db_system = "mysql" },
		{ .svc = "orders", .trace = 8, .id = 83, .parent = 1,
		  .kind = MX_KIND_PRODUCER },
		{ .svc = "mailer", .trace = 8, .id = 84, .parent = 83,
		  .kind = MX_KIND_CONSUMER });
	/* database calls are edges at once, named by the most specific
	 * attribute; the server time is the client's */
	struct mx_sg_snap s;
	assert_int_equal(mx_store_sgraph_snapshot(SG.f->st, &s), MX_OK);
	const struct mx_sg_edge_series *e = sg_edge(&s, "orders", "orders_db",
						    MX_SG_CONN_DATABASE);
	assert_int_equal(e->requests, 1);
	assert_int_equal(e->server_sum_ns, 3 * SG_MS);
	assert_int_equal(sg_edge(&s, "orders", "cache.local",
				 MX_SG_CONN_DATABASE)->requests, 1);
	assert_int_equal(sg_edge(&s, "orders", "mailer",
				 MX_SG_CONN_MESSAGING)->requests, 1);
	/* db.system alone names no node: it waits, then is a virtual node */
	assert_int_equal(sg_edge(&s, "orders", "mysql", MX_SG_CONN_VIRTUAL)->requests, 0);
	mx_sg_snap_free(&s);
	sg_tick(SG_T0 + SG_WAIT);
	assert_int_equal(sg_requests("orders", "mysql", MX_SG_CONN_VIRTUAL, NULL), 1);
	sg_assert_links("orders>cache.local:1/0 orders>mailer:1/0 orders>mysql:1/0 "
			"orders>orders_db:1/0");
}

static void test_bounded_table(void **state)
{
	(void)state;
	assert_int_equal(mx_store_sgraph_configure(SG.f->st, SG_WAIT, 3), MX_OK);
	SG_SEND({ .svc = "x", .trace = 9, .id = 1, .parent = 100, .kind = CLIENT },
		{ .svc = "x", .trace = 9, .id = 2, .parent = 100, .kind = CLIENT },
		{ .svc = "x", .trace = 9, .id = 3, .parent = 100, .kind = CLIENT },
		{ .svc = "x", .trace = 9, .id = 4, .parent = 100, .kind = CLIENT },
		{ .svc = "y", .trace = 9, .id = 5, .parent = 4, .kind = SERVER });
	struct mx_sg_snap s;
	assert_int_equal(mx_store_sgraph_snapshot(SG.f->st, &s), MX_OK);
	assert_int_equal(s.stats.pending, 3);
	assert_int_equal(s.stats.max_pending, 3);
	assert_int_equal(sg_side(&s, "x", false)->dropped, 1);
	assert_int_equal(sg_side(&s, "y", true)->dropped, 1);
	mx_sg_snap_free(&s);
	/* room again once the entries expired */
	sg_tick(SG_T0 + SG_WAIT);
	SG_SEND({ .svc = "x", .trace = 9, .id = 6, .parent = 100, .kind = CLIENT },
		{ .svc = "y", .trace = 9, .id = 7, .parent = 6, .kind = SERVER });
	assert_int_equal(sg_requests("x", "y", 0, NULL), 1);
	assert_int_equal(mx_store_sgraph_configure(NULL, 0, 0), MX_EINVAL);
}

static void test_span_metrics(void **state)
{
	(void)state;
	SG_SEND({ .svc = "s", .trace = 10, .id = 1, .kind = SERVER, .name = "GET /",
		  .dur = 1 * SG_MS },
		{ .svc = "s", .trace = 10, .id = 2, .parent = 1, .kind = SERVER,
		  .name = "GET /", .dur = 3 * SG_MS },
		{ .svc = "s", .trace = 10, .id = 3, .parent = 1, .kind = SERVER,
		  .name = "GET /", .dur = 20 * SG_SEC, .err = true },
		{ .svc = "s", .trace = 10, .id = 4, .parent = 1,
		  .kind = MX_KIND_INTERNAL, .name = "work" },
		{ .svc = "s", .trace = 10, .id = 5, .parent = 1,
		  .kind = MX_KIND_UNSPECIFIED, .name = "legacy\xff\xfe" });
	struct mx_sg_snap s;
	assert_int_equal(mx_store_sgraph_snapshot(SG.f->st, &s), MX_OK);
	const struct mx_sm_series *ok = sg_spanm(&s, "s", "GET /", SERVER, 0);
	const struct mx_sm_series *bad = sg_spanm(&s, "s", "GET /", SERVER, 2);
	assert_int_equal(ok->calls, 2);
	assert_int_equal(ok->b[0], 1); /* 1 ms: le 0.002 */
	assert_int_equal(ok->b[1], 1); /* 3 ms: le 0.004 */
	assert_int_equal(ok->sum_ns, 4 * SG_MS);
	assert_int_equal(bad->calls, 1);
	assert_int_equal(bad->b[MX_SM_HIST_N - 1], 1); /* past 16.384 s */
	assert_int_equal(sg_spanm(&s, "s", "work", MX_KIND_INTERNAL, 0)->calls, 1);
	/* a name is cut at the end of its valid UTF-8 */
	assert_int_equal(sg_spanm(&s, "s", "legacy", 0, 0)->calls, 1);
	assert_int_equal(s.n_spans, 4);
	mx_sg_snap_free(&s);
}

/* Many halves: the table grows past its first size (with the ring
 * wrapped around), the index finds every entry again, names are shared
 * and released. */
static void test_ring_growth(void **state)
{
	(void)state;
	static const char *const svcs[] = { "s0", "s1", "s2", "s3", "s4", "s5", "s6" };
	enum { FIRST = 1000, MANY = 2500 };
	struct sg_span *t = calloc(MANY, sizeof(*t));
	assert_non_null(t);
	for (uint32_t i = 0; i < FIRST; i++)
		t[i] = (struct sg_span){ .svc = svcs[i % 7], .trace = 11, .id = 1 + i,
					 .parent = 1, .kind = CLIENT };
	sg_send(t, FIRST);
	sg_tick(SG_T0 + SG_WAIT); /* all expire: the ring's head moves on */
	struct mx_sg_stats st = sg_stats();
	assert_int_equal(st.pending, 0);
	for (uint32_t i = 0; i < MANY; i++)
		t[i] = (struct sg_span){ .svc = svcs[i % 7], .trace = 12, .id = 10000 + i,
					 .parent = 1, .kind = CLIENT };
	sg_send(t, MANY);
	assert_int_equal(sg_stats().pending, MANY);
	for (uint32_t i = 0; i < MANY; i++)
		t[i] = (struct sg_span){ .svc = "srv", .trace = 12, .id = 50000 + i,
					 .parent = 10000 + (MANY - 1 - i), .kind = SERVER };
	sg_send(t, MANY);
	uint64_t total = 0;
	for (int k = 0; k < 7; k++)
		total += sg_requests(svcs[k], "srv", 0, NULL);
	assert_int_equal(total, MANY);
	assert_int_equal(sg_stats().paired, MANY);
	sg_tick(SG_T0 + 3 * SG_WAIT);
	assert_int_equal(sg_stats().pending, 0);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pair_in_order, sg_setup, sg_teardown),
		cmocka_unit_test_setup_teardown(test_pair_out_of_order, sg_setup, sg_teardown),
		cmocka_unit_test_setup_teardown(test_pair_one_batch_and_shared, sg_setup,
						sg_teardown),
		cmocka_unit_test_setup_teardown(test_expiry, sg_setup, sg_teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, sg_setup, sg_teardown),
		cmocka_unit_test_setup_teardown(test_database_and_messaging, sg_setup,
						sg_teardown),
		cmocka_unit_test_setup_teardown(test_bounded_table, sg_setup, sg_teardown),
		cmocka_unit_test_setup_teardown(test_span_metrics, sg_setup, sg_teardown),
		cmocka_unit_test_setup_teardown(test_ring_growth, sg_setup, sg_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
