/*
 * test_graph_params.c - the graph API's parameters and paths
 * (query/graph_params.c) through mx_graph_answer() without a store (every
 * namespace is then empty): Kiali's defaults, its duration, boolean and
 * integer syntax, its 400 messages in its error JSON and in its order of
 * checks, the node-detail paths and 404 for other paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "query/graph.h"

#define NOW 1700000000

static char *answer(const char *path, const char *const *params, unsigned *status)
{
	struct mx_params p;
	struct mx_buf b;
	size_t len = 0;
	mx_params_from_pairs(&p, params);
	mx_buf_init(&b, 1u << 20);
	*status = mx_graph_answer(NULL, path, &p, NOW, &b);
	mx_buf_putc(&b, '\0');
	char *s = (char *)mx_buf_steal(&b, &len);
	mx_buf_free(&b);
	return s;
}

static void expect(const char *path, const char *const *params, unsigned status,
		   const char *body)
{
	unsigned st;
	char *got = answer(path, params, &st);
	if (st != status || strcmp(got, body) != 0) {
		print_error("%s: got %u %s\nwant %u %s\n", path, st, got, status, body);
		free(got);
		fail();
	}
	free(got);
}

static void expect_error(const char *const *params, const char *msg)
{
	char body[512];
	snprintf(body, sizeof(body), "{\"error\":\"%s\"}", msg);
	expect("/api/namespaces/graph", params, 400, body);
}

#define EMPTY(ts, dur, type)                                                   \
	"{\n  \"timestamp\": " ts ",\n  \"duration\": " dur ",\n  \"graphType\": \"" \
	type "\",\n  \"elements\": {\n    \"nodes\": [],\n    \"edges\": []\n  }\n}"

static void test_defaults(void **state)
{
	(void)state;
	const char *const p[] = { "namespaces", "default", NULL };
	expect("/api/namespaces/graph", p, 200, EMPTY("1700000000", "600", "workload"));
	const char *const q[] = { "namespaces", "a, b ,a", "graphType", "versionedApp",
				  "queryTime", "1700000123", "duration", "1h30m", NULL };
	expect("/api/namespaces/graph", q, 200, EMPTY("1700000123", "5400", "versionedApp"));
}

static void test_durations(void **state)
{
	(void)state;
	static const struct {
		const char *d, *secs;
	} ok[] = {
		{ "90s", "90" }, { "1m", "60" }, { "2d", "172800" }, { "1w", "604800" },
		{ "1y", "31536000" }, { "1h1m1s", "3661" }, { "1500ms", "1" },
		{ "1.5m", "90" }, { "10m0s", "600" }, { "2h45m", "9900" },
		{ "1m1h", "3660" }, /* Go order */
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char want[512];
		const char *const p[] = { "namespaces", "x", "duration", ok[i].d, NULL };
		snprintf(want, sizeof(want), EMPTY("1700000000", "%s", "workload"), ok[i].secs);
		expect("/api/namespaces/graph", p, 200, want);
	}
	static const char *const bad[] = { "10", "1d1x", "-5m", "5 m", "500ms", "0", "0s",
					   "m", "1.5.m" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char msg[128];
		const char *const p[] = { "namespaces", "x", "duration", bad[i], NULL };
		snprintf(msg, sizeof(msg), "Invalid duration [%s]", bad[i]);
		expect_error(p, msg);
	}
}

static void test_errors(void **state)
{
	(void)state;
	static const struct {
		const char *k, *v, *msg;
	} cases[] = {
		{ "graphType", "cluster", "Invalid graphType [cluster]" },
		{ "boxBy", "app,zone", "Invalid boxBy [app,zone]" },
		{ "includeIdleEdges", "yes", "Invalid includeIdleEdges [yes]" },
		{ "injectServiceNodes", "2", "Invalid injectServiceNodes [2]" },
		{ "queryTime", "17e8", "Invalid queryTime [17e8]" },
		{ "queryTime", "99999999999999999999", "Invalid queryTime [99999999999999999999]" },
		{ "configVendor", "cytoscape", "Invalid configVendor [cytoscape]" },
		{ "telemetryVendor", "linkerd", "Invalid telemetryVendor [linkerd]" },
		{ "rateGrpc", "bytes", "Invalid gRPC Rate [bytes]" },
		{ "rateHttp", "sent", "Invalid HTTP Rate [sent]" },
		{ "rateTcp", "requests", "Invalid TCP Rate [requests]" },
		{ "ambientTraffic", "all", "Invalid Ambient Traffic [total]" },
		{ "appenders", "deadNode,bogus", "Invalid appender [bogus]" },
		{ "responseTime", "90", "Invalid responseTime, must be one of: avg | 50 | 95 | 99: [90]" },
		{ "throughputType", "both",
		  "Invalid throughputType, expecting one of (request, response). [both]" },
		/* Go's json escapes <, > and & */
		{ "graphType", "<a&b>", "Invalid graphType [\\u003ca\\u0026b\\u003e]" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const p[] = { "namespaces", "default", cases[i].k, cases[i].v, NULL };
		expect_error(p, cases[i].msg);
	}
	const char *const none[] = { "graphType", "app", NULL };
	expect_error(none, "At least one namespace must be specified via the namespaces "
		     "query parameter.");
	/* Kiali's order: configVendor, duration, graphType, ... namespaces last */
	const char *const order[] = { "graphType", "x", "duration", "y", "configVendor", "z",
				      NULL };
	expect_error(order, "Invalid configVendor [z]");
	const char *const order2[] = { "graphType", "x", "duration", "y", NULL };
	expect_error(order2, "Invalid duration [y]");
}

/* Parameters only checked when they matter, as in Kiali. */
static void test_lenient(void **state)
{
	(void)state;
	/* the service graph ignores injectServiceNodes */
	const char *const svc[] = { "namespaces", "x", "graphType", "service",
				    "injectServiceNodes", "bogus", NULL };
	expect("/api/namespaces/graph", svc, 200, EMPTY("1700000000", "600", "service"));
	/* responseTime and throughputType only with their appenders */
	const char *const app[] = { "namespaces", "x", "appenders", "deadNode, outsider",
				    "responseTime", "bogus", "throughputType", "bogus", NULL };
	expect("/api/namespaces/graph", app, 200, EMPTY("1700000000", "600", "workload"));
	const char *const ok[] = { "namespaces", "x", "responseTime", "avg", "rateTcp", "total",
				   "rateGrpc", "none", "rateHttp", "none", "boxBy",
				   "namespace,cluster", "throughputType", "request",
				   "includeIdleEdges", "True", "injectServiceNodes", "1",
				   "configVendor", "common", "telemetryVendor", "istio",
				   "ambientTraffic", "waypoint", NULL };
	expect("/api/namespaces/graph", ok, 200, EMPTY("1700000000", "600", "workload"));
}

static void test_paths(void **state)
{
	(void)state;
	const char *const p[] = { "graphType", "app", "queryTime", "1700000001", NULL };
	static const char *const good[] = {
		"/api/namespaces/ns/workloads/w/graph",
		"/api/namespaces/ns/applications/a/graph",
		"/api/namespaces/ns/applications/a/versions/v1/graph",
		"/api/namespaces/ns/services/s/graph",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		expect(good[i], p, 200, EMPTY("1700000001", "600", "app"));
	static const char *const bad[] = {
		"/api/namespaces/", "/api/namespaces/ns", "/api/namespaces/ns/graph",
		"/api/namespaces/ns/workloads/w", "/api/namespaces/ns/workloads//graph",
		"/api/namespaces/ns/pods/p/graph", "/api/namespaces/ns/workloads/w/graph/",
		"/api/namespaces/ns/applications/a/versions/graph",
		"/api/namespaces/ns/aggregates/x/y/graph", "/api/namespaces/graphs",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect(bad[i], p, 404, "{\"error\":\"not found\"}");
	/* a node graph needs no namespaces parameter; its own wins */
	const char *const w[] = { "namespaces", "other", NULL };
	expect("/api/namespaces/ns/workloads/w/graph", w, 200,
	       EMPTY("1700000000", "600", "workload"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_lenient),
		cmocka_unit_test(test_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
