/*
 * test_graph.c - the Kiali-style graph API (query/graph.h) over a real
 * store: reports with known traffic are committed with an injected clock
 * and mx_graph_answer() must return Kiali's JSON exactly, for each graph
 * type. The expected documents are written here in compact form and
 * re-indented the way Go's json.MarshalIndent does (an independent
 * implementation); node and edge ids are computed here with OpenSSL from
 * Kiali's documented id strings ("wl_<cluster>_<ns>_<workload>", ...,
 * edge: "<source hash>.<target hash>.<protocol>").
 *
 * Traffic of scenario A, window [T0, T0 + 60 s]:
 *   unknown -> productpage-v1  60 x 200 (destination telemetry only),
 *                              25..50 ms, 500 response bytes each
 *   productpage-v1 -> reviews-v1  90 x 200 + 30 x 503, reported by both
 *                              proxies (mutual_tls on the server side),
 *                              5..10 ms (60), 10..25 ms (30), 1..5 ms (the
 *                              503s), 500 response bytes each
 *   productpage-v1 -> mongodb-v1  TCP, 1200 bytes received by the client
 *                              proxy (source telemetry only)
 */
#include "graph_test_util.h"

/* ------------------------------------------------------------ tests */

#define NODE_HEAD "{\"data\":{\"id\":\"%s\",\"nodeType\":\"%s\",\"cluster\":\"%s\",\"namespace\":\"%s\""
#define DEST(name) "\"destServices\":[{\"cluster\":\"Kubernetes\",\"namespace\":\"default\",\"name\":\"" name "\"}]"
#define HOST(name) name ".default.svc.cluster.local"

static void test_workload_graph(void **state)
{
	(void)state;
	struct ids ids = { .n = 0 };
	struct doc d = { .n = 0 };
	scenario_a();
	const char *U = nid(&ids, "unknown_unknown_source");
	const char *P = nid(&ids, "wl_Kubernetes_default_productpage-v1");
	const char *R = nid(&ids, "wl_Kubernetes_default_reviews-v1");
	const char *M = nid(&ids, "wl_Kubernetes_default_mongodb-v1");
	add(&d, "{\"timestamp\":1700000460,\"duration\":60,\"graphType\":\"workload\","
		"\"elements\":{\"nodes\":[");
	add(&d, NODE_HEAD ",\"workload\":\"mongodb-v1\",\"app\":\"mongodb\",\"version\":\"v1\","
		DEST("mongodb") ",\"traffic\":[{\"protocol\":\"tcp\",\"rates\":{\"tcpIn\":\"20.00\"}}],"
		"\"healthData\":null}},", M, "workload", "Kubernetes", "default");
	add(&d, NODE_HEAD ",\"workload\":\"productpage-v1\",\"app\":\"productpage\","
		"\"version\":\"v1\"," DEST("productpage") ",\"traffic\":[{\"protocol\":\"http\","
		"\"rates\":{\"httpIn\":\"1.00\",\"httpOut\":\"2.00\"}},{\"protocol\":\"tcp\","
		"\"rates\":{\"tcpOut\":\"20.00\"}}],\"healthData\":null}},",
	    P, "workload", "Kubernetes", "default");
	add(&d, NODE_HEAD ",\"workload\":\"reviews-v1\",\"app\":\"reviews\",\"version\":\"v1\","
		DEST("reviews") ",\"traffic\":[{\"protocol\":\"http\",\"rates\":{\"httpIn\":\"2.00\","
		"\"httpIn5xx\":\"0.50\"}}],\"healthData\":null}},",
	    R, "workload", "Kubernetes", "default");
	add(&d, NODE_HEAD ",\"workload\":\"unknown\",\"app\":\"unknown\",\"version\":\"latest\","
		"\"traffic\":[{\"protocol\":\"http\",\"rates\":{\"httpOut\":\"1.00\"}}],"
		"\"healthData\":null,\"isInaccessible\":true,\"isRoot\":true}}",
	    U, "unknown", "unknown", "unknown");
	add(&d, "],\"edges\":[");
	struct xedge e[3] = { { U, P, "" }, { P, R, "" }, { P, M, "" } };
	snprintf(e[0].json, sizeof(e[0].json),
		 "{\"data\":{\"id\":\"%s\",\"source\":\"%s\",\"target\":\"%s\","
		 "\"destPrincipal\":\"" SPIFFE "productpage\",\"responseTime\":\"49\","
		 "\"sourcePrincipal\":\"unknown\",\"throughput\":\"500\",\"traffic\":{"
		 "\"protocol\":\"http\",\"rates\":{\"http\":\"1.00\",\"httpPercentReq\":\"100.0\"},"
		 "\"responses\":{\"200\":{\"flags\":{\"-\":\"100.0\"},\"hosts\":{\""
		 HOST("productpage") "\":\"100.0\"}}}}}}", eid(&ids, U, P, "http"), U, P);
	snprintf(e[1].json, sizeof(e[1].json),
		 "{\"data\":{\"id\":\"%s\",\"source\":\"%s\",\"target\":\"%s\","
		 "\"destPrincipal\":\"" SPIFFE "reviews\",\"isMTLS\":\"100\",\"responseTime\":\"22\","
		 "\"sourcePrincipal\":\"" SPIFFE "productpage\",\"throughput\":\"1000\",\"traffic\":{"
		 "\"protocol\":\"http\",\"rates\":{\"http\":\"2.00\",\"http5xx\":\"0.50\","
		 "\"httpPercentErr\":\"25.0\",\"httpPercentReq\":\"100.0\"},\"responses\":{"
		 "\"200\":{\"flags\":{\"-\":\"75.0\"},\"hosts\":{\"" HOST("reviews") "\":\"75.0\"}},"
		 "\"503\":{\"flags\":{\"-\":\"25.0\"},\"hosts\":{\"" HOST("reviews") "\":\"25.0\"}}}}}}",
		 eid(&ids, P, R, "http"), P, R);
	snprintf(e[2].json, sizeof(e[2].json),
		 "{\"data\":{\"id\":\"%s\",\"source\":\"%s\",\"target\":\"%s\",\"traffic\":{"
		 "\"protocol\":\"tcp\",\"rates\":{\"tcp\":\"20.00\"},\"responses\":{\"-\":{"
		 "\"flags\":{\"-\":\"100.0\"},\"hosts\":{\"" HOST("mongodb") "\":\"100.0\"}}}}}}",
		 eid(&ids, P, M, "tcp"), P, M);
	add_edges(&d, e, 3);
	add(&d, "]}}");
	const char *const params[] = { "namespaces", "default", "duration", "60s",
				       "queryTime", QT, NULL };
	assert_graph("/api/namespaces/graph", params, d.s);
}

/* Scenario B: productpage-v1 -> reviews-v1 (60 x 200, 5..10 ms) and
 * reviews-v2 (20 x 404, 10..25 ms), client telemetry only. */
static void scenario_b(void)
{
	const struct rq out[] = {
		{ &R1, "reviews", "200", "unknown", 60, 3, 60 * 8, 60 * 100 },
		{ &R2, "reviews", "404", "unknown", 20, 4, 20 * 20, 20 * 100 },
	};
	atomic_store(&tu_now, (T0 + 25) * SEC);
	send(1, &PP, MX_ROLE_SOURCE, out, 2, NULL, 0);
}

static const char *const params_b[] = { "namespaces", "default", "duration", "1m",
					"queryTime", QT, "graphType", NULL, NULL };

static void test_versioned_app_graph(void **state)
{
	(void)state;
	struct ids ids = { .n = 0 };
	struct doc d = { .n = 0 };
	const char *params[9];
	memcpy(params, params_b, sizeof(params));
	params[7] = "versionedApp";
	scenario_b();
	const char *B = nid(&ids, "box_Kubernetes_default_reviews");
	const char *P = nid(&ids, "vapp_Kubernetes_default_productpage-v1");
	const char *V1 = nid(&ids, "vapp_Kubernetes_default_reviews-v1");
	const char *V2 = nid(&ids, "vapp_Kubernetes_default_reviews-v2");
	add(&d, "{\"timestamp\":1700000460,\"duration\":60,\"graphType\":\"versionedApp\","
		"\"elements\":{\"nodes\":[");
	add(&d, "{\"data\":{\"id\":\"%s\",\"nodeType\":\"box\",\"cluster\":\"Kubernetes\","
		"\"namespace\":\"default\",\"app\":\"reviews\",\"healthData\":null,"
		"\"isBox\":\"app\"}},", B);
	add(&d, NODE_HEAD ",\"workload\":\"productpage-v1\",\"app\":\"productpage\","
		"\"version\":\"v1\",\"traffic\":[{\"protocol\":\"http\",\"rates\":{"
		"\"httpOut\":\"1.33\"}}],\"healthData\":null,\"isRoot\":true}},",
	    P, "app", "Kubernetes", "default");
	add(&d, "{\"data\":{\"id\":\"%s\",\"parent\":\"%s\",\"nodeType\":\"app\","
		"\"cluster\":\"Kubernetes\",\"namespace\":\"default\",\"workload\":\"reviews-v1\","
		"\"app\":\"reviews\",\"version\":\"v1\"," DEST("reviews") ",\"traffic\":[{"
		"\"protocol\":\"http\",\"rates\":{\"httpIn\":\"1.00\"}}],\"healthData\":null}},",
	    V1, B);
	add(&d, "{\"data\":{\"id\":\"%s\",\"parent\":\"%s\",\"nodeType\":\"app\","
		"\"cluster\":\"Kubernetes\",\"namespace\":\"default\",\"workload\":\"reviews-v2\","
		"\"app\":\"reviews\",\"version\":\"v2\"," DEST("reviews") ",\"traffic\":[{"
		"\"protocol\":\"http\",\"rates\":{\"httpIn\":\"0.33\",\"httpIn4xx\":\"0.33\"}}],"
		"\"healthData\":null}}", V2, B);
	add(&d, "],\"edges\":[");
	struct xedge e[2] = { { P, V1, "" }, { P, V2, "" } };
	snprintf(e[0].json, sizeof(e[0].json),
		 "{\"data\":{\"id\":\"%s\",\"source\":\"%s\",\"target\":\"%s\",\"responseTime\":\"10\","
		 "\"traffic\":{\"protocol\":\"http\",\"rates\":{\"http\":\"1.00\","
		 "\"httpPercentReq\":\"75.0\"},\"responses\":{\"200\":{\"flags\":{\"-\":\"100.0\"},"
		 "\"hosts\":{\"" HOST("reviews") "\":\"100.0\"}}}}}}", eid(&ids, P, V1, "http"), P, V1);
	snprintf(e[1].json, sizeof(e[1].json),
		 "{\"data\":{\"id\":\"%s\",\"source\":\"%s\",\"target\":\"%s\",\"responseTime\":\"24\","
		 "\"traffic\":{\"protocol\":\"http\",\"rates\":{\"http\":\"0.33\","
		 "\"http4xx\":\"0.33\",\"httpPercentErr\":\"100.0\",\"httpPercentReq\":\"25.0\"},"
		 "\"responses\":{\"404\":{\"flags\":{\"-\":\"100.0\"},\"hosts\":{\"" HOST("reviews")
		 "\":\"100.0\"}}}}}}", eid(&ids, P, V2, "http"), P, V2);
	add_edges(&d, e, 2);
	add(&d, "]}}");
	assert_graph("/api/namespaces/graph", params, d.s);
}

static void test_app_graph(void **state)
{
	(void)state;
	struct ids ids = { .n = 0 };
	struct doc d = { .n = 0 };
	const char *params[9];
	memcpy(params, params_b, sizeof(params));
	params[7] = "app";
	scenario_b();
	const char *P = nid(&ids, "app_Kubernetes_default_productpage");
	const char *R = nid(&ids, "app_Kubernetes_default_reviews");
	add(&d, "{\"timestamp\":1700000460,\"duration\":60,\"graphType\":\"app\","
		"\"elements\":{\"nodes\":[");
	add(&d, NODE_HEAD ",\"app\":\"productpage\",\"traffic\":[{\"protocol\":\"http\","
		"\"rates\":{\"httpOut\":\"1.33\"}}],\"healthData\":null,\"isRoot\":true}},",
	    P, "app", "Kubernetes", "default");
	add(&d, NODE_HEAD ",\"app\":\"reviews\"," DEST("reviews") ",\"traffic\":[{"
		"\"protocol\":\"http\",\"rates\":{\"httpIn\":\"1.33\",\"httpIn4xx\":\"0.33\"}}],"
		"\"healthData\":null}}", R, "app", "Kubernetes", "default");
	/* the first response time found for the edge is kept: reviews-v1's */
	add(&d, "],\"edges\":[{\"data\":{\"id\":\"%s\",\"source\":\"%s\",\"target\":\"%s\","
		"\"responseTime\":\"10\",\"traffic\":{\"protocol\":\"http\","
		"\"rates\":{\"http\":\"1.33\",\"http4xx\":\"0.33\",\"httpPercentErr\":\"25.0\","
		"\"httpPercentReq\":\"100.0\"},\"responses\":{\"200\":{\"flags\":{\"-\":\"75.0\"},"
		"\"hosts\":{\"" HOST("reviews") "\":\"75.0\"}},\"404\":{\"flags\":{\"-\":\"25.0\"},"
		"\"hosts\":{\"" HOST("reviews") "\":\"25.0\"}}}}}}]}}",
	    eid(&ids, P, R, "http"), P, R);
	assert_graph("/api/namespaces/graph", params, d.s);
}

static void test_service_graph(void **state)
{
	(void)state;
	struct ids ids = { .n = 0 };
	struct doc d = { .n = 0 };
	const char *params[9];
	memcpy(params, params_b, sizeof(params));
	params[7] = "service";
	scenario_b();
	const char *P = nid(&ids, "wl_Kubernetes_default_productpage-v1");
	const char *S1 = nid(&ids, "svc_Kubernetes_default_reviews");
	add(&d, "{\"timestamp\":1700000460,\"duration\":60,\"graphType\":\"service\","
		"\"elements\":{\"nodes\":[");
	/* sorted by app first: the service node (no app) leads */
	add(&d, NODE_HEAD ",\"service\":\"reviews\"," DEST("reviews") ",\"traffic\":[{"
		"\"protocol\":\"http\",\"rates\":{\"httpIn\":\"1.33\",\"httpIn4xx\":\"0.33\"}}],"
		"\"healthData\":null,\"isInjected\":true}},", S1, "service", "Kubernetes", "default");
	add(&d, NODE_HEAD ",\"workload\":\"productpage-v1\",\"app\":\"productpage\","
		"\"version\":\"v1\",\"traffic\":[{\"protocol\":\"http\",\"rates\":{"
		"\"httpOut\":\"1.33\"}}],\"healthData\":null,\"isRoot\":true}}",
	    P, "workload", "Kubernetes", "default");
	/* response time and throughput go to the service-to-workload edges,
	 * which the service graph drops */
	add(&d, "],\"edges\":[{\"data\":{\"id\":\"%s\",\"source\":\"%s\",\"target\":\"%s\","
		"\"traffic\":{\"protocol\":\"http\",\"rates\":{\"http\":\"1.33\",\"http4xx\":\"0.33\","
		"\"httpPercentErr\":\"25.0\",\"httpPercentReq\":\"100.0\"},\"responses\":{\"200\":{"
		"\"flags\":{\"-\":\"75.0\"},\"hosts\":{\"" HOST("reviews") "\":\"75.0\"}},\"404\":{"
		"\"flags\":{\"-\":\"25.0\"},\"hosts\":{\"" HOST("reviews") "\":\"25.0\"}}}}}}]}}",
	    eid(&ids, P, S1, "http"), P, S1);
	assert_graph("/api/namespaces/graph", params, d.s);
}

/* An unknown namespace, or a window without traffic: an empty graph. */
static void test_empty_graphs(void **state)
{
	(void)state;
	scenario_a();
	const char *const p1[] = { "namespaces", "nowhere", "duration", "60s",
				   "queryTime", QT, NULL };
	assert_graph("/api/namespaces/graph", p1,
		     "{\"timestamp\":1700000460,\"duration\":60,\"graphType\":\"workload\","
		     "\"elements\":{\"nodes\":[],\"edges\":[]}}");
	const char *const p2[] = { "namespaces", "default", "duration", "60s",
				   "queryTime", "1700000400", NULL };
	assert_graph("/api/namespaces/graph", p2,
		     "{\"timestamp\":1700000400,\"duration\":60,\"graphType\":\"workload\","
		     "\"elements\":{\"nodes\":[],\"edges\":[]}}");
}

/* Kiali's rate strings: two decimals, more to show one significant digit
 * (at most five), values that round (to 0.001) to zero leave the edge
 * without rates; percentages with one decimal. */
static void test_rate_formatting(void **state)
{
	(void)state;
	unsigned st;
	const struct rq one[] = { { &R1, "reviews", "200", "unknown", 1, 3, 8, 100 } };
	const struct rq thirds[] = {
		{ &R1, "reviews", "200", "unknown", 2, 3, 16, 200 },
		{ &R1, "reviews", "500", "unknown", 1, 3, 8, 100 },
	};
	atomic_store(&tu_now, (T0 + 15) * SEC);
	send(1, &PP, MX_ROLE_SOURCE, one, 1, NULL, 0);
	/* 1 request in 10 min: 0.001666 -> round 0.002 -> "0.002" */
	const char *const p10m[] = { "namespaces", "default", "duration", "10m",
				     "queryTime", "1700001000", "appenders", "", NULL };
	char *got = answer("/api/namespaces/graph", p10m, &st);
	assert_int_equal(st, 200);
	assert_non_null(strstr(got, "\"http\": \"0.002\""));
	assert_non_null(strstr(got, "\"httpOut\": \"0.002\""));
	free(got);
	/* 1 request in an hour: 0.000277 rounds to 0: nodes and the edge
	 * remain (the query's `> 0` came before the rounding), no rates */
	const char *const p1h[] = { "namespaces", "default", "duration", "1h",
				    "queryTime", "1700003400", "appenders", "", NULL };
	got = answer("/api/namespaces/graph", p1h, &st);
	assert_int_equal(st, 200);
	assert_null(strstr(got, "\"rates\""));
	assert_non_null(strstr(got, "\"traffic\": {\n            \"protocol\": \"http\"\n"));
	free(got);
	/* 3 requests, one 500, over 70 s: every rate is rounded to 0.001
	 * first (Kiali's round()), so 0.014 / 0.043 = 32.6 %, not 33.3 % */
	atomic_store(&tu_now, (T0 + 605) * SEC);
	send(1, &PP, MX_ROLE_SOURCE, thirds, 2, NULL, 0);
	const char *const p70[] = { "namespaces", "default", "duration", "70s",
				    "queryTime", "1700001070", "appenders", "", NULL };
	got = answer("/api/namespaces/graph", p70, &st);
	assert_int_equal(st, 200);
	assert_non_null(strstr(got, "\"http\": \"0.04\"")); /* 3/70 = 0.0429 */
	assert_non_null(strstr(got, "\"http5xx\": \"0.01\"")); /* 1/70 = 0.0143 */
	assert_non_null(strstr(got, "\"httpPercentErr\": \"32.6\""));
	assert_non_null(strstr(got, "\"-\": \"67.4\""));
	free(got);
}

/* responseTime=50|95|99|avg: Prometheus' interpolation inside the bucket */
static void test_response_time(void **state)
{
	(void)state;
	unsigned st;
	/* 100 requests, all in (100, 250] ms, sum 17 000 ms */
	const struct rq r[] = { { &R1, "reviews", "200", "unknown", 100, 7, 17000, 100 } };
	atomic_store(&tu_now, (T0 + 15) * SEC);
	send(1, &PP, MX_ROLE_SOURCE, r, 1, NULL, 0);
	static const struct {
		const char *q, *want;
	} cases[] = {
		{ "50", "\"responseTime\": \"175\"" },   /* 100 + 150 * 0.5 */
		{ "95", "\"responseTime\": \"242\"" },   /* 100 + 150 * 0.95 = 242.5 */
		{ "99", "\"responseTime\": \"248\"" },   /* 248.5: %.0f rounds to even */
		{ "avg", "\"responseTime\": \"170\"" },  /* 17 000 / 100 */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const p[] = { "namespaces", "default", "duration", "60s",
					  "queryTime", QT, "responseTime", cases[i].q, NULL };
		char *got = answer("/api/namespaces/graph", p, &st);
		assert_int_equal(st, 200);
		if (!strstr(got, cases[i].want))
			fail_msg("responseTime=%s: no %s in\n%s", cases[i].q, cases[i].want, got);
		free(got);
	}
}

/* includeIdleEdges: a series that exists in the window without traffic
 * gives an edge without rates; without the flag nothing. */
static void test_idle_edges(void **state)
{
	(void)state;
	unsigned st;
	const struct rq r[] = { { &R1, "reviews", "200", "unknown", 5, 3, 40, 100 } };
	atomic_store(&tu_now, (T0 + 75) * SEC); /* after the window's end */
	send(1, &PP, MX_ROLE_SOURCE, r, 1, NULL, 0);
	const char *const idle[] = { "namespaces", "default", "duration", "60s",
				     "queryTime", QT, "includeIdleEdges", "true", NULL };
	char *got = answer("/api/namespaces/graph", idle, &st);
	assert_int_equal(st, 200);
	assert_non_null(strstr(got, "\"workload\": \"reviews-v1\""));
	assert_non_null(strstr(got, "\"source\": "));
	assert_null(strstr(got, "\"rates\""));
	free(got);
	const char *const busy[] = { "namespaces", "default", "duration", "60s",
				     "queryTime", QT, NULL };
	got = answer("/api/namespaces/graph", busy, &st);
	assert_int_equal(st, 200);
	assert_non_null(strstr(got, "\"nodes\": [],"));
	free(got);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Two namespaces: productpage-v1 -> reviews-v1 in default (client
 * telemetry), reviews-v1 -> ratings-v1 across to db (both proxies),
 * ratings-v1 -> mysql-v1 in db (TCP). Each namespace's map is built and
 * merged as Kiali does: the edge that both maps hold appears once, with
 * its rate counted once, and nodes outside the requested namespaces are
 * marked. */
static void test_namespaces_merged(void **state)
{
	(void)state;
	unsigned st;
	struct ids ids = { .n = 0 };
	const struct rq pp[] = { { &R1, "reviews", "200", "unknown", 60, 3, 480, 100 } };
	const struct rq r1[] = { { &RT, "ratings", "200", "unknown", 30, 3, 240, 100 } };
	const struct rq rt[] = { { &R1, "ratings", "200", "mutual_tls", 30, 3, 240, 100 } };
	const struct tc my[] = { { &DBM, "mysql", 10, 600 } };
	atomic_store(&tu_now, (T0 + 15) * SEC);
	send(1, &PP, MX_ROLE_SOURCE, pp, 1, NULL, 0);
	send(2, &R1, MX_ROLE_SOURCE, r1, 1, NULL, 0);
	send(3, &RT, MX_ROLE_DESTINATION, rt, 1, NULL, 0);
	send(4, &RT, MX_ROLE_SOURCE, NULL, 0, my, 1);
	const char *N_RT = nid(&ids, "wl_Kubernetes_db_ratings-v1");
	const char *N_R1 = nid(&ids, "wl_Kubernetes_default_reviews-v1");
	const char *E = eid(&ids, N_R1, N_RT, "http");
	const char *BOX_DEF = nid(&ids, "box_Kubernetes_default");
	const char *BOX_DB = nid(&ids, "box_Kubernetes_db");
	const char *const both[] = { "namespaces", "default,db", "duration", "60s",
				     "queryTime", QT, "boxBy", "namespace", NULL };
	char *got = answer("/api/namespaces/graph", both, &st);
	assert_int_equal(st, 200);
	assert_int_equal(count(got, "\"nodeType\": \"box\""), 2);
	assert_int_equal(count(got, "\"isBox\": \"namespace\""), 2);
	assert_int_equal(count(got, BOX_DEF), 3); /* the box and its 2 members */
	assert_int_equal(count(got, BOX_DB), 3);
	assert_int_equal(count(got, E), 1);
	assert_int_equal(count(got, "\"http\": \"0.50\""), 1);
	assert_int_equal(count(got, "\"httpIn\": \"0.50\""), 1);
	assert_int_equal(count(got, "\"isMTLS\": \"100\""), 1);
	assert_int_equal(count(got, "\"tcp\": \"10.00\""), 1);
	assert_null(strstr(got, "isOutside"));
	free(got);
	/* default alone: ratings is an outsider, mysql is not reached */
	const char *const one[] = { "namespaces", "default", "duration", "60s",
				    "queryTime", QT, "boxBy", "namespace", NULL };
	got = answer("/api/namespaces/graph", one, &st);
	assert_int_equal(st, 200);
	assert_int_equal(count(got, "\"isOutside\": true"), 1);
	assert_non_null(strstr(got, N_RT));
	assert_null(strstr(got, "mysql"));
	/* two namespaces among the nodes: default (2 nodes) gets a box, db
	 * (1 node) none */
	assert_int_equal(count(got, "\"isBox\": \"namespace\""), 1);
	assert_int_equal(count(got, BOX_DEF), 3);
	assert_null(strstr(got, BOX_DB));
	free(got);
}

/* Node-detail graphs: the node's incoming and outgoing traffic only. */
static void test_node_graphs(void **state)
{
	(void)state;
	unsigned st;
	struct ids ids = { .n = 0 };
	scenario_a();
	const char *const p[] = { "duration", "60s", "queryTime", QT, NULL };
	/* reviews-v1: only productpage -> reviews (destination telemetry) */
	char *got = answer("/api/namespaces/default/workloads/reviews-v1/graph", p, &st);
	assert_int_equal(st, 200);
	assert_non_null(strstr(got, nid(&ids, "wl_Kubernetes_default_reviews-v1")));
	assert_non_null(strstr(got, nid(&ids, "wl_Kubernetes_default_productpage-v1")));
	assert_null(strstr(got, nid(&ids, "wl_Kubernetes_default_mongodb-v1")));
	assert_null(strstr(got, "unknown_source"));
	free(got);
	/* the productpage app: in from unknown, out to reviews and mongodb */
	const char *const pa[] = { "duration", "60s", "queryTime", QT, "graphType", "app", NULL };
	got = answer("/api/namespaces/default/applications/productpage/graph", pa, &st);
	assert_int_equal(st, 200);
	assert_non_null(strstr(got, nid(&ids, "unknown_unknown_source")));
	assert_non_null(strstr(got, nid(&ids, "app_Kubernetes_default_reviews")));
	assert_non_null(strstr(got, nid(&ids, "app_Kubernetes_default_mongodb")));
	free(got);
	/* the reviews service: requests served by its workloads */
	got = answer("/api/namespaces/default/services/reviews/graph", p, &st);
	assert_int_equal(st, 200);
	assert_non_null(strstr(got, nid(&ids, "wl_Kubernetes_default_reviews-v1")));
	assert_non_null(strstr(got, "\"http\": \"2.00\""));
	free(got);
	/* a version of an app */
	const char *const pv[] = { "duration", "60s", "queryTime", QT, "graphType",
				   "versionedApp", NULL };
	got = answer("/api/namespaces/default/applications/reviews/versions/v1/graph", pv, &st);
	assert_int_equal(st, 200);
	assert_non_null(strstr(got, nid(&ids, "vapp_Kubernetes_default_reviews-v1")));
	free(got);
	/* an app node graph needs an app graph type */
	got = answer("/api/namespaces/default/applications/productpage/graph", p, &st);
	assert_int_equal(st, 400);
	assert_string_equal(got, "{\"error\":\"Invalid graphType [workload]. This node detail "
			    "graph supports only graphType app or versionedApp.\"}");
	free(got);
}

/* Reporters without a configured cluster send "unknown": unlike Kiali
 * (which drops such telemetry: Istio always knows its cluster), mixd keeps
 * it and draws the nodes in cluster "unknown". */
static void test_unknown_cluster_kept(void **state)
{
	(void)state;
	unsigned st;
	static const struct wl PPU = { "productpage-v1", "default", "productpage", "v1",
				       "productpage", "v1", "unknown", "unknown" };
	static const struct wl R1U = { "reviews-v1", "default", "reviews", "v1",
				       "reviews", "v1", "unknown", "unknown" };
	const struct rq r[] = { { &R1U, "reviews", "200", "unknown", 60, 3, 480, 100 } };
	atomic_store(&tu_now, (T0 + 15) * SEC);
	send(1, &PPU, MX_ROLE_SOURCE, r, 1, NULL, 0);
	const char *const p[] = { "namespaces", "default", "duration", "10m",
				  "queryTime", "1700001000", "graphType", "workload", NULL };
	char *got = answer("/api/namespaces/graph", p, &st);
	assert_int_equal(st, 200);
	assert_non_null(strstr(got, "\"cluster\": \"unknown\""));
	assert_non_null(strstr(got, "\"workload\": \"productpage-v1\""));
	assert_non_null(strstr(got, "\"workload\": \"reviews-v1\""));
	assert_non_null(strstr(got, "\"http\": \"0.10\"")); /* 60 in 10 min */
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_workload_graph, setup, teardown),
		cmocka_unit_test_setup_teardown(test_versioned_app_graph, setup, teardown),
		cmocka_unit_test_setup_teardown(test_app_graph, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_graph, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_graphs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_formatting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_response_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_graphs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_namespaces_merged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_cluster_kept, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
