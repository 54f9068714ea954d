/*
 * test_dependencies.c - the dependency-link endpoints (query/
 * dependencies.c) and the Tempo-named /metrics families (query/
 * prom_tempo.c): parameter parsing and its 400 messages for Zipkin and
 * Jaeger, the exact JSON of both APIs (errorCount left out when 0,
 * escaping, the service filter), both endpoints end to end through the
 * HTTP framework over a real store (status, Content-Type, error forms,
 * the Jaeger route placed before the Jaeger catch-all), and the exact
 * text and OpenMetrics rendering of a service-graph snapshot, checked by
 * promtool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "http_test_util.h"
#include "collector/http.h"
#include "query/dependencies.h"
#include "query/jaeger_api.h"
#include "query/prom_tempo.h"
#include "promtool_util.h"
#include "sgraph_test_util.h"

/* ---------------------------------------------------------- parsing */

static int zparse(const char *const *kv, struct mx_deps_query *q, char *err)
{
	struct mx_params p;
	mx_params_from_pairs(&p, kv);
	err[0] = 0;
	return mx_deps_zipkin_parse(&p, q, err, 256);
}

static void zbad(const char *const *kv, const char *want)
{
	struct mx_deps_query q;
	char err[256];
	assert_int_equal(zparse(kv, &q, err), MX_EINVAL);
	assert_string_equal(err, want);
}

static void test_zipkin_params(void **state)
{
	(void)state;
	struct mx_deps_query q;
	char err[256];
	static const char *const ok1[] = { "endTs", "1700000000000", NULL };
	assert_int_equal(zparse(ok1, &q, err), MX_OK);
	assert_int_equal(q.t1_ns, 1700000000000ull * SG_MS);
	assert_int_equal(q.t0_ns, (1700000000000ull - 86400000ull) * SG_MS);
	static const char *const ok2[] = { "endTs", "5000", "lookback", "9000", NULL };
	assert_int_equal(zparse(ok2, &q, err), MX_OK);
	assert_int_equal(q.t0_ns, 0);
	assert_int_equal(q.t1_ns, 5000 * SG_MS);

	static const char *const none[] = { "lookback", "5", NULL };
	zbad(none, "endTs is required");
	static const char *const empty[] = { "endTs", "", NULL };
	zbad(empty, "endTs is required");
	static const char *const word[] = { "endTs", "soon", NULL };
	zbad(word, "endTs should be an integer (invalid syntax)");
	static const char *const huge[] = { "endTs", "99999999999999999999", NULL };
	zbad(huge, "endTs should be an integer (value out of range)");
	static const char *const zero[] = { "endTs", "0", NULL };
	zbad(zero, "endTs <= 0");
	static const char *const neg[] = { "endTs", "-7", NULL };
	zbad(neg, "endTs <= 0");
	static const char *const lb0[] = { "endTs", "7", "lookback", "0", NULL };
	zbad(lb0, "lookback <= 0");
	static const char *const lbx[] = { "endTs", "7", "lookback", "1h", NULL };
	zbad(lbx, "lookback should be an integer (invalid syntax)");
}

static void test_jaeger_params(void **state)
{
	(void)state;
	struct mx_params p;
	struct mx_deps_query q;
	char err[256];
	static const char *const none[] = { NULL };
	mx_params_from_pairs(&p, none);
	assert_int_equal(mx_deps_jaeger_parse(&p, 1700000000123456789ull, &q, err,
					      sizeof(err)), MX_OK);
	assert_int_equal(q.t1_ns, 1700000000123ull * SG_MS);
	assert_int_equal(q.t0_ns, (1700000000123ull - 86400000ull) * SG_MS);
	assert_null(q.service);
	assert_false(q.empty);

	static const char *const some[] = { "endTs", "+60000", "lookback", "1000",
					    "service", "web", NULL };
	mx_params_from_pairs(&p, some);
	assert_int_equal(mx_deps_jaeger_parse(&p, 0, &q, err, sizeof(err)), MX_OK);
	assert_int_equal(q.t0_ns, 59000 * SG_MS);
	assert_int_equal(q.t1_ns, 60000 * SG_MS);
	assert_string_equal(q.service, "web");

	static const char *const neg[] = { "endTs", "60000", "lookback", "-1", NULL };
	mx_params_from_pairs(&p, neg);
	assert_int_equal(mx_deps_jaeger_parse(&p, 0, &q, err, sizeof(err)), MX_OK);
	assert_true(q.empty);

	static const char *const bad[] = { "endTs", "12x", NULL };
	mx_params_from_pairs(&p, bad);
	assert_int_equal(mx_deps_jaeger_parse(&p, 0, &q, err, sizeof(err)), MX_EINVAL);
	assert_string_equal(err, "unable to parse param 'endTs': strconv.ParseInt: "
				 "parsing \"12x\": invalid syntax");
	static const char *const big[] = { "lookback", "9223372036854775808", NULL };
	mx_params_from_pairs(&p, big);
	assert_int_equal(mx_deps_jaeger_parse(&p, 0, &q, err, sizeof(err)), MX_EINVAL);
	assert_string_equal(err, "unable to parse param 'lookback': strconv.ParseInt: "
				 "parsing \"9223372036854775808\": value out of range");
	static const char *const sign[] = { "lookback", "-", NULL };
	mx_params_from_pairs(&p, sign);
	assert_int_equal(mx_deps_jaeger_parse(&p, 0, &q, err, sizeof(err)), MX_EINVAL);
}

/* ---------------------------------------------------------- JSON */

static const struct mx_dep_link links[] = {
	{ { "api", 3 }, { "db \"main\"", 9 }, 12, 0 },
	{ { "web", 3 }, { "api", 3 }, 7, 2 },
};

static char *json(int zipkin, const char *service)
{
	static char out[1024];
	struct mx_buf b;
	mx_buf_init(&b, 4096);
	if (zipkin)
		assert_int_equal(mx_deps_zipkin_json(links, 2, &b), MX_OK);
	else
		assert_int_equal(mx_deps_jaeger_json(links, 2, service, &b), MX_OK);
	assert_true(b.len < sizeof(out));
	memcpy(out, b.data, b.len);
	out[b.len] = 0;
	mx_buf_free(&b);
	return out;
}

static void test_json_shapes(void **state)
{
	(void)state;
	assert_string_equal(json(1, NULL),
		"[{\"parent\":\"api\",\"child\":\"db \\\"main\\\"\",\"callCount\":12},"
		"{\"parent\":\"web\",\"child\":\"api\",\"callCount\":7,\"errorCount\":2}]");
	assert_string_equal(json(0, NULL),
		"{\"data\":[{\"parent\":\"api\",\"child\":\"db \\\"main\\\"\",\"callCount\":12},"
		"{\"parent\":\"web\",\"child\":\"api\",\"callCount\":7}],"
		"\"total\":0,\"limit\":0,\"offset\":0,\"errors\":null}");
	assert_string_equal(json(0, "web"),
		"{\"data\":[{\"parent\":\"web\",\"child\":\"api\",\"callCount\":7}],"
		"\"total\":0,\"limit\":0,\"offset\":0,\"errors\":null}");
	assert_string_equal(json(0, "nobody"),
		"{\"data\":[],\"total\":0,\"limit\":0,\"offset\":0,\"errors\":null}");
	struct mx_buf b;
	mx_buf_init(&b, 16);
	assert_int_equal(mx_deps_zipkin_json(NULL, 0, &b), MX_OK);
	assert_int_equal(b.len, 2);
	assert_int_equal(mx_deps_zipkin_json(links, 2, &b), MX_ENOMEM);
	mx_buf_free(&b);
}

/* ---------------------------------------------------------- HTTP */


static void expect(uint16_t port, const char *path, int status, const char *ctype,
		   const char *body)
{
	static struct resp r;
	int st = get(port, path, &r);
	if (st != status || strcmp(r.body, body) != 0 || !strstr(r.head, ctype))
		fail_msg("GET %s: %d %s\n%s\n(want %d, %s, %s)", path, st, r.head,
			 r.body, status, ctype, body);
}

static void test_http(void **state)
{
	(void)state;
	/* a pair and a failed one, a minute apart */
	SG_SEND({ .svc = "web", .trace = 1, .id = 2, .parent = 1,
		  .kind = MX_KIND_CLIENT, .start = SG_T0 + SG_SEC },
		{ .svc = "api", .trace = 1, .id = 3, .parent = 2,
		  .kind = MX_KIND_SERVER, .start = SG_T0 + SG_SEC });
	SG_SEND({ .svc = "web", .trace = 2, .id = 2, .parent = 1,
		  .kind = MX_KIND_CLIENT, .start = SG_T0 + 61 * SG_SEC, .err = true },
		{ .svc = "api", .trace = 2, .id = 3, .parent = 2,
		  .kind = MX_KIND_SERVER, .start = SG_T0 + 61 * SG_SEC });
	sg_tick(SG_T0 + 2 * SG_SEC);

	static struct mx_deps_ctx dctx;
	static struct mx_query_ctx qctx;
	struct mx_route zr[2], qr[1 + MX_JAEGER_N_ROUTES];
	const struct mx_route *r;
	dctx.store = SG.f->st;
	qctx.store = SG.f->st;
	assert_int_equal(mx_deps_zipkin_routes(&dctx, &r), 1);
	zr[0] = r[0];
	assert_int_equal(mx_deps_jaeger_routes(&dctx, &r), 1);
	qr[0] = r[0];
	size_t nj = mx_jaeger_routes(&qctx, &r); /* ends with /api/ */
	memcpy(qr + 1, r, nj * sizeof(*r));
	struct mx_http_limits lim;
	mx_http_limits_default(&lim);
	struct mx_http_server *srv = mx_http_new(&lim);
	char err[256];
	assert_non_null(srv);
	assert_int_equal(mx_http_listen(srv, "zipkin", "127.0.0.1:0", zr, 1, err,
					sizeof(err)), MX_OK);
	assert_int_equal(mx_http_listen(srv, "query", "127.0.0.1:0", qr, 1 + nj,
					err, sizeof(err)), MX_OK);
	assert_int_equal(mx_http_start(srv), MX_OK);
	uint16_t zp = mx_http_port(srv, "zipkin"), qp = mx_http_port(srv, "query");
	char path[256];
	unsigned long long end = (SG_T0 + 2 * 60 * SG_SEC) / SG_MS;

	snprintf(path, sizeof(path), "/api/v2/dependencies?endTs=%llu", end);
	expect(zp, path, 200, "application/json",
	       "[{\"parent\":\"web\",\"child\":\"api\",\"callCount\":2,\"errorCount\":1}]");
	snprintf(path, sizeof(path), "/api/v2/dependencies?endTs=%llu&lookback=30000",
		 end - 61000);
	expect(zp, path, 200, "application/json",
	       "[{\"parent\":\"web\",\"child\":\"api\",\"callCount\":1}]");
	expect(zp, "/api/v2/dependencies?endTs=1&lookback=1", 200, "application/json", "[]");
	expect(zp, "/api/v2/dependencies", 400, "text/plain", "endTs is required");
	expect(zp, "/api/v2/dependencies?endTs=0", 400, "text/plain", "endTs <= 0");

	snprintf(path, sizeof(path), "/api/dependencies?endTs=%llu&service=api", end);
	expect(qp, path, 200, "application/json",
	       "{\"data\":[{\"parent\":\"web\",\"child\":\"api\",\"callCount\":2}],"
	       "\"total\":0,\"limit\":0,\"offset\":0,\"errors\":null}");
	snprintf(path, sizeof(path), "/api/dependencies?endTs=%llu&service=db", end);
	expect(qp, path, 200, "application/json",
	       "{\"data\":[],\"total\":0,\"limit\":0,\"offset\":0,\"errors\":null}");
	/* the default window ends now (the real clock) */
	static struct resp rr;
	assert_int_equal(get(qp, "/api/dependencies", &rr), 200);
	assert_non_null(strstr(rr.body, "\"total\":0,\"limit\":0,\"offset\":0,"
				       "\"errors\":null}"));
	/* other /api/ paths still reach the Jaeger catch-all */
	assert_int_equal(get(qp, "/api/dependenciesX", &rr), 404);
	expect(qp, "/api/dependencies?lookback=day", 400, "application/json",
	       "{\"data\":null,\"total\":0,\"limit\":0,\"offset\":0,\"errors\":"
	       "[{\"code\":400,\"msg\":\"unable to parse param 'lookback': "
	       "strconv.ParseInt: parsing \\\"day\\\": invalid syntax\"}]}");
	mx_http_free(srv, 2000);
}

/* ---------------------------------------------------------- /metrics */

static char *render(const struct mx_sg_snap *s, enum mx_prom_format f)
{
	struct mx_buf b;
	mx_buf_init(&b, 1u << 20);
	assert_int_equal(mx_prom_tempo_render(s, f, &b), MX_OK);
	char *t = malloc(b.len + 1);
	assert_non_null(t);
	memcpy(t, b.data, b.len);
	t[b.len] = 0;
	mx_buf_free(&b);
	return t;
}

static void fill(struct mx_sg_snap *s)
{
	static struct mx_sg_edge_series e[2];
	static struct mx_sg_side_series d[2];
	static struct mx_sm_series m[1];
	memset(s, 0, sizeof(*s));
	memset(e, 0, sizeof(e));
	memset(d, 0, sizeof(d));
	memset(m, 0, sizeof(m));
	e[0] = (struct mx_sg_edge_series){ .client = MX_STR_LIT("web"),
		.server = MX_STR_LIT("api\"1"), .conn = MX_SG_CONN_NONE,
		.requests = 3, .failed = 1, .server_sum_ns = 1500000000ull,
		.client_sum_ns = 2250000000ull };
	e[0].server_b[0] = 2;
	e[0].server_b[8] = 1;
	e[0].client_b[4] = 3;
	e[1] = (struct mx_sg_edge_series){ .client = MX_STR_LIT("user"),
		.server = MX_STR_LIT("web"), .conn = MX_SG_CONN_VIRTUAL,
		.requests = 1 };
	e[1].server_b[0] = 1;
	e[1].client_b[0] = 1;
	d[0] = (struct mx_sg_side_series){ .service = MX_STR_LIT("web"), .unpaired = 4 };
	d[1] = (struct mx_sg_side_series){ .service = MX_STR_LIT("db"), .server = 1,
					   .dropped = 2 };
	m[0] = (struct mx_sm_series){ .service = MX_STR_LIT("web"),
		.span_name = MX_STR_LIT("GET /\n"), .kind = MX_KIND_SERVER,
		.status = MX_STATUS_ERROR, .calls = 2, .sum_ns = 5000000ull };
	m[0].b[1] = 1;
	m[0].b[2] = 1;
	s->edges = e;
	s->n_edges = 2;
	s->sides = d;
	s->n_sides = 2;
	s->spans = m;
	s->n_spans = 1;
	s->stats.pending = 5;
	s->stats.paired = 3;
}

static void test_prom_text(void **state)
{
	(void)state;
	struct mx_sg_snap s;
	fill(&s);
	char *t = render(&s, MX_PROM_TEXT);
	static const char *const lines[] = {
		"# HELP mixd_servicegraph_pending ",
		"# TYPE mixd_servicegraph_pending gauge\nmixd_servicegraph_pending 5\n",
		"# TYPE mixd_servicegraph_pairs_total counter\nmixd_servicegraph_pairs_total 3\n",
		"# HELP traces_service_graph_request_total Total count of requests between two nodes.\n"
		"# TYPE traces_service_graph_request_total counter\n"
		"traces_service_graph_request_total{client=\"web\",server=\"api\\\"1\",connection_type=\"\"} 3\n"
		"traces_service_graph_request_total{client=\"user\",server=\"web\",connection_type=\"virtual_node\"} 1\n",
		/* failed: only series with failures */
		"# TYPE traces_service_graph_request_failed_total counter\n"
		"traces_service_graph_request_failed_total{client=\"web\",server=\"api\\\"1\",connection_type=\"\"} 1\n"
		"# HELP traces_service_graph_request_server_seconds ",
		"traces_service_graph_request_server_seconds_bucket{client=\"web\",server=\"api\\\"1\",connection_type=\"\",le=\"0.1\"} 2\n"
		"traces_service_graph_request_server_seconds_bucket{client=\"web\",server=\"api\\\"1\",connection_type=\"\",le=\"0.2\"} 2\n",
		"traces_service_graph_request_server_seconds_bucket{client=\"web\",server=\"api\\\"1\",connection_type=\"\",le=\"12.8\"} 2\n"
		"traces_service_graph_request_server_seconds_bucket{client=\"web\",server=\"api\\\"1\",connection_type=\"\",le=\"+Inf\"} 3\n"
		"traces_service_graph_request_server_seconds_sum{client=\"web\",server=\"api\\\"1\",connection_type=\"\"} 1.5\n"
		"traces_service_graph_request_server_seconds_count{client=\"web\",server=\"api\\\"1\",connection_type=\"\"} 3\n",
		"traces_service_graph_request_client_seconds_bucket{client=\"web\",server=\"api\\\"1\",connection_type=\"\",le=\"1.6\"} 3\n",
		"traces_service_graph_request_client_seconds_sum{client=\"web\",server=\"api\\\"1\",connection_type=\"\"} 2.25\n",
		"# TYPE traces_service_graph_unpaired_spans_total counter\n"
		"traces_service_graph_unpaired_spans_total{client=\"web\"} 4\n# HELP traces_service_graph_dropped",
		"# TYPE traces_service_graph_dropped_spans_total counter\n"
		"traces_service_graph_dropped_spans_total{server=\"db\"} 2\n",
		"traces_spanmetrics_calls_total{service=\"web\",span_name=\"GET /\\n\",span_kind=\"SPAN_KIND_SERVER\",status_code=\"STATUS_CODE_ERROR\"} 2\n",
		"# TYPE traces_spanmetrics_latency histogram\n"
		"traces_spanmetrics_latency_bucket{service=\"web\",span_name=\"GET /\\n\",span_kind=\"SPAN_KIND_SERVER\",status_code=\"STATUS_CODE_ERROR\",le=\"0.002\"} 0\n"
		"traces_spanmetrics_latency_bucket{service=\"web\",span_name=\"GET /\\n\",span_kind=\"SPAN_KIND_SERVER\",status_code=\"STATUS_CODE_ERROR\",le=\"0.004\"} 1\n"
		"traces_spanmetrics_latency_bucket{service=\"web\",span_name=\"GET /\\n\",span_kind=\"SPAN_KIND_SERVER\",status_code=\"STATUS_CODE_ERROR\",le=\"0.008\"} 2\n",
		"traces_spanmetrics_latency_bucket{service=\"web\",span_name=\"GET /\\n\",span_kind=\"SPAN_KIND_SERVER\",status_code=\"STATUS_CODE_ERROR\",le=\"16.384\"} 2\n"
		"traces_spanmetrics_latency_bucket{service=\"web\",span_name=\"GET /\\n\",span_kind=\"SPAN_KIND_SERVER\",status_code=\"STATUS_CODE_ERROR\",le=\"+Inf\"} 2\n"
		"traces_spanmetrics_latency_sum{service=\"web\",span_name=\"GET /\\n\",span_kind=\"SPAN_KIND_SERVER\",status_code=\"STATUS_CODE_ERROR\"} 0.005\n"
		"traces_spanmetrics_latency_count{service=\"web\",span_name=\"GET /\\n\",span_kind=\"SPAN_KIND_SERVER\",status_code=\"STATUS_CODE_ERROR\"} 2\n",
	};
	const char *at = t;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		const char *p = strstr(at, lines[i]);
		if (!p)
			fail_msg("missing (in order) %s\nin:\n%s", lines[i], t);
		at = p;
	}
	assert_null(strstr(t, "# EOF"));
	assert_null(strstr(t, "failed_total{client=\"user\""));

	int status = 0;
	char *out = tu_promtool(t, &status);
	if (out) {
		if (status != 0 || out[0])
			fail_msg("promtool (status %d): %s", status, out);
		free(out);
	} else {
		printf("promtool not installed: lint skipped\n");
	}
	free(t);

	/* no series at all: only the service graph's own counters */
	struct mx_sg_snap empty;
	memset(&empty, 0, sizeof(empty));
	t = render(&empty, MX_PROM_TEXT);
	assert_null(strstr(t, "traces_"));
	assert_non_null(strstr(t, "mixd_dependency_rows_expired_total 0\n"));
	free(t);
}

static void test_prom_openmetrics_and_steps(void **state)
{
	(void)state;
	struct mx_sg_snap s;
	fill(&s);
	char *t = render(&s, MX_PROM_OPENMETRICS);
	assert_non_null(strstr(t, "# TYPE mixd_servicegraph_pairs counter\n"
				  "# HELP mixd_servicegraph_pairs "));
	assert_non_null(strstr(t, "mixd_servicegraph_pairs_total 3\n"));
	assert_non_null(strstr(t, "# TYPE traces_service_graph_request counter\n"
				  "# HELP traces_service_graph_request Total"));
	assert_non_null(strstr(t, "# TYPE traces_spanmetrics_latency histogram\n"));
	assert_null(strstr(t, "# EOF"));

	/* streamed in small steps, the output is the same */
	struct mx_prom_tempo_iter it;
	struct mx_buf b;
	mx_buf_init(&b, 1u << 20);
	mx_prom_tempo_iter_init(&it, &s, MX_PROM_OPENMETRICS);
	int rc, steps = 0;
	while ((rc = mx_prom_tempo_iter_next(&it, &b, 1)) == 1)
		steps++;
	assert_int_equal(rc, 0);
	assert_int_equal(mx_prom_tempo_iter_next(&it, &b, 1), 0);
	assert_true(steps > 10);
	assert_int_equal(b.len, strlen(t));
	assert_memory_equal(b.data, t, b.len);
	mx_prom_tempo_iter_free(&it);
	mx_buf_free(&b);

	/* a full buffer */
	mx_buf_init(&b, 100);
	assert_int_equal(mx_prom_tempo_render(&s, MX_PROM_TEXT, &b), MX_ENOMEM);
	mx_buf_free(&b);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zipkin_params),
		cmocka_unit_test(test_jaeger_params),
		cmocka_unit_test(test_json_shapes),
		cmocka_unit_test_setup_teardown(test_http, sg_setup, sg_teardown),
		cmocka_unit_test(test_prom_text),
		cmocka_unit_test(test_prom_openmetrics_and_steps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
