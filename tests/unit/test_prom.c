/*
 * test_prom.c - the Prometheus renderer of Istio's standard metrics: the
 * exact text of one HTTP and one TCP series (labels from Istio's golden
 * series, istio-kiali-compat.md §1.1) in text 0.0.4 and OpenMetrics 1.0
 * against hand-written expected text; `le` strings; label escaping;
 * exemplars (OpenMetrics only, on the right bucket); number formatting;
 * the chunked iterator; Accept and Accept-Encoding negotiation; gzip round
 * trips (one-shot and streaming); and `promtool check metrics` on the
 * rendered text when Debian's prometheus package is installed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "promtool_util.h"
#include "../../collector/deflate.h"
#include "../../collector/inflate.h"
#include "../../model/error.h"
#include "../../query/prom.h"

/* Istio's golden client series (client_request_total.yaml.tmpl) */
static const char *const golden[MX_ISTIO_HTTP_LABELS] = {
	"source", "productpage-v1", "productpage-v1", "version-1", "default",
	"unknown", "productpage", "v1", "client-cluster", "ratings-v1",
	"default", "unknown", "ratings", "v1",
	"server.default.svc.cluster.local", "ratings", "version-1", "server",
	"default", "server-cluster", "http", "200", "", "-", "unknown",
};

#define G "reporter=\"source\",source_workload=\"productpage-v1\"," \
	"source_canonical_service=\"productpage-v1\",source_canonical_revision=\"version-1\"," \
	"source_workload_namespace=\"default\",source_principal=\"unknown\"," \
	"source_app=\"productpage\",source_version=\"v1\",source_cluster=\"client-cluster\"," \
	"destination_workload=\"ratings-v1\",destination_workload_namespace=\"default\"," \
	"destination_principal=\"unknown\",destination_app=\"ratings\",destination_version=\"v1\"," \
	"destination_service=\"server.default.svc.cluster.local\"," \
	"destination_canonical_service=\"ratings\",destination_canonical_revision=\"version-1\"," \
	"destination_service_name=\"server\",destination_service_namespace=\"default\"," \
	"destination_cluster=\"server-cluster\",request_protocol=\"http\",response_code=\"200\"," \
	"grpc_response_status=\"\",response_flags=\"-\",connection_security_policy=\"unknown\""

/* the TCP series: the same peers seen by the destination, over mTLS */
#define T "reporter=\"destination\",source_workload=\"productpage-v1\"," \
	"source_canonical_service=\"productpage-v1\",source_canonical_revision=\"version-1\"," \
	"source_workload_namespace=\"default\",source_principal=\"unknown\"," \
	"source_app=\"productpage\",source_version=\"v1\",source_cluster=\"client-cluster\"," \
	"destination_workload=\"ratings-v1\",destination_workload_namespace=\"default\"," \
	"destination_principal=\"unknown\",destination_app=\"ratings\",destination_version=\"v1\"," \
	"destination_service=\"server.default.svc.cluster.local\"," \
	"destination_canonical_service=\"ratings\",destination_canonical_revision=\"version-1\"," \
	"destination_service_name=\"server\",destination_service_namespace=\"default\"," \
	"destination_cluster=\"server-cluster\",request_protocol=\"tcp\",response_flags=\"-\"," \
	"connection_security_policy=\"mutual_tls\""

#define DB(le, v) "istio_request_duration_milliseconds_bucket{" G ",le=\"" le "\"} " v "\n"
#define QB(le, v) "istio_request_bytes_bucket{" G ",le=\"" le "\"} " v "\n"
#define PB(le, v) "istio_response_bytes_bucket{" G ",le=\"" le "\"} " v "\n"

/* durations 3, 7, 120 ms; request sizes 100, 100, 1500; responses 20, 600,
 * 70000 bytes */
#define HTTP_SAMPLES(EX)                                                      \
	DB("0.5", "0") DB("1", "0") DB("5", "1") EX                           \
	DB("25", "2") DB("50", "2") DB("100", "2") DB("250", "3")             \
	DB("500", "3") DB("1000", "3") DB("2500", "3") DB("5000", "3")        \
	DB("10000", "3") DB("30000", "3") DB("60000", "3") DB("300000", "3")  \
	DB("600000", "3") DB("1800000", "3") DB("3600000", "3") DB("+Inf", "3") \
	"istio_request_duration_milliseconds_sum{" G "} 130\n"                \
	"istio_request_duration_milliseconds_count{" G "} 3\n"

#define REQ_BYTES                                                             \
	QB("0.5", "0") QB("1", "0") QB("5", "0") QB("10", "0") QB("25", "0")  \
	QB("50", "0") QB("100", "2") QB("250", "2") QB("500", "2")            \
	QB("1000", "2") QB("2500", "3") QB("5000", "3") QB("10000", "3")      \
	QB("30000", "3") QB("60000", "3") QB("300000", "3") QB("600000", "3") \
	QB("1800000", "3") QB("3600000", "3") QB("+Inf", "3")                 \
	"istio_request_bytes_sum{" G "} 1700\n"                               \
	"istio_request_bytes_count{" G "} 3\n"

#define RESP_BYTES                                                            \
	PB("0.5", "0") PB("1", "0") PB("5", "0") PB("10", "0") PB("25", "1")  \
	PB("50", "1") PB("100", "1") PB("250", "1") PB("500", "1")            \
	PB("1000", "2") PB("2500", "2") PB("5000", "2") PB("10000", "2")      \
	PB("30000", "2") PB("60000", "2") PB("300000", "3") PB("600000", "3") \
	PB("1800000", "3") PB("3600000", "3") PB("+Inf", "3")                 \
	"istio_response_bytes_sum{" G "} 70620\n"                             \
	"istio_response_bytes_count{" G "} 3\n"

static const char expect_text[] =
	"# HELP istio_requests_total Requests handled, counted when the request completes.\n"
	"# TYPE istio_requests_total counter\n"
	"istio_requests_total{" G "} 3\n"
	"# HELP istio_request_duration_milliseconds Request completion time in milliseconds.\n"
	"# TYPE istio_request_duration_milliseconds histogram\n"
	HTTP_SAMPLES(DB("10", "2"))
	"# HELP istio_request_bytes Request size in bytes (headers and body, as received from downstream).\n"
	"# TYPE istio_request_bytes histogram\n"
	REQ_BYTES
	"# HELP istio_response_bytes Response size in bytes (headers and body, as sent downstream).\n"
	"# TYPE istio_response_bytes histogram\n"
	RESP_BYTES
	"# HELP istio_tcp_connections_opened_total TCP connections opened.\n"
	"# TYPE istio_tcp_connections_opened_total counter\n"
	"istio_tcp_connections_opened_total{" T "} 5\n"
	"# HELP istio_tcp_connections_closed_total TCP connections closed.\n"
	"# TYPE istio_tcp_connections_closed_total counter\n"
	"istio_tcp_connections_closed_total{" T "} 4\n"
	"# HELP istio_tcp_sent_bytes_total Bytes sent to downstream on TCP connections.\n"
	"# TYPE istio_tcp_sent_bytes_total counter\n"
	"istio_tcp_sent_bytes_total{" T "} 1234\n"
	"# HELP istio_tcp_received_bytes_total Bytes received from downstream on TCP connections.\n"
	"# TYPE istio_tcp_received_bytes_total counter\n"
	"istio_tcp_received_bytes_total{" T "} 5678\n";

/* exemplar: the 7 ms request, trace 4bf9...4736, span 00f0...02b7, at
 * 1700000000.123456789 s (printed to the millisecond) */
static const char expect_om[] =
	"# TYPE istio_requests counter\n"
	"# HELP istio_requests Requests handled, counted when the request completes.\n"
	"istio_requests_total{" G "} 3\n"
	"# TYPE istio_request_duration_milliseconds histogram\n"
	"# HELP istio_request_duration_milliseconds Request completion time in milliseconds.\n"
	HTTP_SAMPLES("istio_request_duration_milliseconds_bucket{" G ",le=\"10\"} 2"
		     " # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\","
		     "span_id=\"00f067aa0ba902b7\"} 7 1700000000.123\n")
	"# TYPE istio_request_bytes histogram\n"
	"# HELP istio_request_bytes Request size in bytes (headers and body, as received from downstream).\n"
	REQ_BYTES
	"# TYPE istio_response_bytes histogram\n"
	"# HELP istio_response_bytes Response size in bytes (headers and body, as sent downstream).\n"
	RESP_BYTES
	"# TYPE istio_tcp_connections_opened counter\n"
	"# HELP istio_tcp_connections_opened TCP connections opened.\n"
	"istio_tcp_connections_opened_total{" T "} 5\n"
	"# TYPE istio_tcp_connections_closed counter\n"
	"# HELP istio_tcp_connections_closed TCP connections closed.\n"
	"istio_tcp_connections_closed_total{" T "} 4\n"
	"# TYPE istio_tcp_sent_bytes counter\n"
	"# HELP istio_tcp_sent_bytes Bytes sent to downstream on TCP connections.\n"
	"istio_tcp_sent_bytes_total{" T "} 1234\n"
	"# TYPE istio_tcp_received_bytes counter\n"
	"# HELP istio_tcp_received_bytes Bytes received from downstream on TCP connections.\n"
	"istio_tcp_received_bytes_total{" T "} 5678\n"
	"# EOF\n";

static struct mx_str S(const char *s)
{
	return (struct mx_str){ s, (uint32_t)strlen(s) };
}

static void observe(struct mx_prom_hist *h, double v)
{
	h->buckets[mx_hist_bucket_of(v)]++;
	h->sum += v;
}

/* s[0]: the golden HTTP series with three requests; s[1]: a TCP series */
static void fill(struct mx_istio_series s[2])
{
	static const double dur[3] = { 3, 7, 120 };
	static const double req[3] = { 100, 100, 1500 };
	static const double resp[3] = { 20, 600, 70000 };
	static const uint8_t tid[16] = { 0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
					 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36 };
	static const uint8_t sid[8] = { 0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7 };

	memset(s, 0, 2 * sizeof(*s));
	s[0].kind = MX_ISTIO_HTTP;
	for (int i = 0; i < MX_ISTIO_HTTP_LABELS; i++)
		s[0].labels[i] = S(golden[i]);
	s[0].count = 3;
	for (int i = 0; i < 3; i++) {
		observe(&s[0].duration, dur[i]);
		observe(&s[0].request_bytes, req[i]);
		observe(&s[0].response_bytes, resp[i]);
	}
	s[0].has_exemplar = true;
	memcpy(s[0].exemplar.trace_id, tid, 16);
	memcpy(s[0].exemplar.span_id, sid, 8);
	s[0].exemplar.value = 7;
	s[0].exemplar.time_ns = 1700000000123456789ull;

	s[1].kind = MX_ISTIO_TCP;
	for (int i = 0; i < 20; i++)
		s[1].labels[i] = S(golden[i]);
	s[1].labels[0] = S("destination");
	s[1].labels[20] = S("tcp");
	s[1].labels[21] = S("-");
	s[1].labels[22] = S("mutual_tls");
	s[1].tcp_opened = 5;
	s[1].tcp_closed = 4;
	s[1].tcp_sent = 1234;
	s[1].tcp_received = 5678;
}

static char *render(const struct mx_istio_series *s, size_t n, enum mx_prom_format f)
{
	struct mx_buf b;
	mx_buf_init(&b, 64u << 20);
	assert_int_equal(mx_prom_render(s, n, f, &b), MX_OK);
	assert_int_equal(mx_buf_putc(&b, 0), MX_OK);
	size_t len;
	return (char *)mx_buf_steal(&b, &len);
}

/* Compares line by line, so a failure names the first differing line. */
static void assert_text(const char *got, const char *want)
{
	size_t line = 1;
	const char *g = got, *w = want;
	while (*g && *w) {
		const char *ge = strchr(g, '\n'), *we = strchr(w, '\n');
		size_t gn = ge ? (size_t)(ge - g) : strlen(g);
		size_t wn = we ? (size_t)(we - w) : strlen(w);
		if (gn != wn || memcmp(g, w, gn) != 0) {
			print_error("line %zu differs:\n got: %.*s\nwant: %.*s\n", line,
				    (int)gn, g, (int)wn, w);
			fail();
		}
		g += gn + (ge ? 1 : 0);
		w += wn + (we ? 1 : 0);
		line++;
	}
	assert_string_equal(got, want);
}

static void test_text_exact(void **state)
{
	(void)state;
	struct mx_istio_series s[2];
	fill(s);
	char *t = render(s, 2, MX_PROM_TEXT);
	assert_text(t, expect_text);
	assert_null(strstr(t, "# {")); /* no exemplar in text 0.0.4 */
	assert_null(strstr(t, "# EOF"));
	free(t);
	assert_string_equal(mx_prom_content_type(MX_PROM_TEXT),
			    "text/plain; version=0.0.4; charset=utf-8");
}

static void test_openmetrics_exact(void **state)
{
	(void)state;
	struct mx_istio_series s[2];
	fill(s);
	char *t = render(s, 2, MX_PROM_OPENMETRICS);
	assert_text(t, expect_om);
	free(t);
	assert_string_equal(mx_prom_content_type(MX_PROM_OPENMETRICS),
			    "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

/* counts the lines holding `needle` */
static int count_lines(const char *t, const char *needle)
{
	int n = 0;
	for (const char *p = t; p && *p;) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char line[4096];
		if (len < sizeof(line)) {
			memcpy(line, p, len);
			line[len] = 0;
			if (strstr(line, needle))
				n++;
		}
		p = e ? e + 1 : NULL;
	}
	return n;
}

static void test_exemplar_bucket(void **state)
{
	(void)state;
	struct mx_istio_series s[2];
	/* value -> the bucket whose le is the first bound >= value */
	static const struct { double v; const char *le; } cases[] = {
		{ 0, "0.5" }, { 0.5, "0.5" }, { 0.7, "1" }, { 1, "1" }, { 4, "5" },
		{ 250, "250" }, { 251, "500" }, { 3600000, "3600000" },
		{ 3600001, "+Inf" }, { 1e300, "+Inf" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fill(s);
		s[0].exemplar.value = cases[i].v;
		memset(s[0].exemplar.span_id, 0, 8); /* no span id: left out */
		s[0].exemplar.time_ns = 0;           /* no timestamp: left out */
		char *t = render(s, 2, MX_PROM_OPENMETRICS);
		assert_int_equal(count_lines(t, " # {"), 1);
		char want[128];
		snprintf(want, sizeof(want), ",le=\"%s\"} ", cases[i].le);
		const char *ex = strstr(t, " # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} ");
		assert_non_null(ex);
		const char *bol = ex;
		while (bol > t && bol[-1] != '\n')
			bol--;
		assert_true(strncmp(bol, "istio_request_duration_milliseconds_bucket{", 43) == 0);
		char *line = strndup(bol, (size_t)(strchr(ex, '\n') - bol));
		assert_non_null(strstr(line, want));
		char val[64], num[48];
		mx_prom_fmt_double(cases[i].v, num);
		snprintf(val, sizeof(val), "\"} %s", num);
		assert_non_null(strstr(line, val));
		assert_true(strcmp(line + strlen(line) - strlen(val), val) == 0);
		free(line);
		free(t);
		t = render(s, 2, MX_PROM_TEXT);
		assert_null(strstr(t, "# {"));
		free(t);
	}
	/* no exemplar: none rendered */
	fill(s);
	s[0].has_exemplar = false;
	char *t = render(s, 2, MX_PROM_OPENMETRICS);
	assert_null(strstr(t, "# {"));
	free(t);
}

static void test_le_strings(void **state)
{
	(void)state;
	static const char *const want[MX_HIST_BUCKETS] = {
		"0.5", "1", "5", "10", "25", "50", "100", "250", "500", "1000",
		"2500", "5000", "10000", "30000", "60000", "300000", "600000",
		"1800000", "3600000", "+Inf",
	};
	for (int i = 0; i < MX_HIST_BUCKETS; i++)
		assert_string_equal(mx_hist_le[i], want[i]);
	for (int i = 0; i < MX_HIST_BOUNDS; i++) {
		char tmp[48];
		mx_prom_fmt_double(mx_hist_bounds[i], tmp);
		assert_string_equal(tmp, want[i]);
		assert_int_equal(mx_hist_bucket_of(mx_hist_bounds[i]), i);
	}
	/* every series of both formats carries exactly these le strings */
	struct mx_istio_series s[2];
	fill(s);
	for (int f = 0; f < 2; f++) {
		char *t = render(s, 2, (enum mx_prom_format)f);
		assert_int_equal(count_lines(t, "le=\""), 3 * MX_HIST_BUCKETS);
		for (int i = 0; i < MX_HIST_BUCKETS; i++) {
			char needle[32];
			snprintf(needle, sizeof(needle), ",le=\"%s\"}", want[i]);
			assert_int_equal(count_lines(t, needle), 3);
		}
		free(t);
	}
}

static void test_escaping(void **state)
{
	(void)state;
	struct mx_istio_series s[2];
	fill(s);
	s[1].labels[1] = S("a\\b\"c\nd");
	s[1].labels[9] = S("ünïcödé ✓");
	char *t = render(&s[1], 1, MX_PROM_TEXT);
	assert_non_null(strstr(t, ",source_workload=\"a\\\\b\\\"c\\nd\","));
	assert_non_null(strstr(t, ",destination_workload=\"ünïcödé ✓\","));
	assert_int_equal(count_lines(t, "istio_tcp_"), 4 + 8); /* samples + HELP/TYPE */
	free(t);
	struct mx_buf b;
	mx_buf_init(&b, 1024);
	assert_int_equal(mx_prom_escape_label(&b, S("\\\\\"\n\n")), MX_OK);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, "\\\\\\\\\\\"\\n\\n", 10);
	mx_buf_reset(&b);
	assert_int_equal(mx_prom_escape_label(&b, (struct mx_str){ NULL, 0 }), MX_OK);
	assert_int_equal(b.len, 0);
	mx_buf_free(&b);
}

static void test_numbers(void **state)
{
	(void)state;
	static const struct { double v; const char *s; } d[] = {
		{ 0, "0" }, { -0.0, "0" }, { 130, "130" }, { 0.5, "0.5" }, { 0.1, "0.1" },
		{ 1.5, "1.5" }, { -2, "-2" }, { 1e17, "100000000000000000" },
		{ 9007199254740993.0, "9007199254740992" },
		{ 18446744073709551616.0, "18446744073709551616" },
		{ 1e31, "9999999999999999635896294965248" },
		{ 1e32, "1e+32" }, { 1.0 / 3, "0.3333333333333333" }, { 0.1 + 0.2, "0.30000000000000004" },
		{ 2.5e-7, "2.5e-07" },
	};
	char tmp[48];
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		size_t n = mx_prom_fmt_double(d[i].v, tmp);
		assert_string_equal(tmp, d[i].s);
		assert_int_equal(n, strlen(d[i].s));
	}
	mx_prom_fmt_double(0.0 / 0.0, tmp);
	assert_string_equal(tmp, "NaN");
	mx_prom_fmt_double(1.0 / 0.0, tmp);
	assert_string_equal(tmp, "+Inf");
	mx_prom_fmt_double(-1.0 / 0.0, tmp);
	assert_string_equal(tmp, "-Inf");
	assert_int_equal(mx_prom_fmt_u64(0, tmp), 1);
	assert_memory_equal(tmp, "0", 1);
	assert_int_equal(mx_prom_fmt_u64(UINT64_MAX, tmp), 20);
	assert_memory_equal(tmp, "18446744073709551615", 20);
}

/* many series; the iterator's chunks concatenate to the one-shot render */
static void test_iterator(void **state)
{
	(void)state;
	enum { N = 50 };
	struct mx_istio_series *s = calloc(N, sizeof(*s));
	assert_non_null(s);
	char codes[N][16];
	for (int i = 0; i < N; i++) {
		struct mx_istio_series two[2];
		fill(two);
		s[i] = two[i % 3 == 2];
		snprintf(codes[i], sizeof(codes[i]), "%d", 200 + i);
		if (s[i].kind == MX_ISTIO_HTTP)
			s[i].labels[21] = S(codes[i]);
		else
			s[i].tcp_sent = (uint64_t)i;
	}
	s[7].kind = 9; /* an unknown kind is never rendered */
	for (int f = 0; f < 2; f++) {
		char *whole = render(s, N, (enum mx_prom_format)f);
		for (size_t want = 1; want <= 1u << 20; want *= 64) {
			struct mx_prom_iter it;
			struct mx_buf all, chunk;
			mx_buf_init(&all, 64u << 20);
			mx_buf_init(&chunk, 64u << 20);
			assert_int_equal(mx_prom_iter_init(&it, s, N, (enum mx_prom_format)f), MX_OK);
			int rc, calls = 0;
			do {
				mx_buf_reset(&chunk);
				rc = mx_prom_iter_next(&it, &chunk, want);
				assert_true(rc == 0 || rc == 1);
				mx_buf_append(&all, chunk.data, chunk.len);
				calls++;
				assert_true(calls < 10000);
			} while (rc == 1);
			assert_int_equal(mx_prom_iter_next(&it, &chunk, want), 0);
			mx_prom_iter_free(&it);
			mx_prom_iter_free(&it); /* twice is fine */
			mx_buf_putc(&all, 0);
			assert_string_equal((char *)all.data, whole);
			if (want == 1)
				assert_true(calls >= N - 1); /* one series per chunk */
			mx_buf_free(&all);
			mx_buf_free(&chunk);
		}
		int http = 0, tcp = 0;
		for (int i = 0; i < N; i++) {
			if (i == 7)
				continue;
			if (s[i].kind == MX_ISTIO_HTTP)
				http++;
			else
				tcp++;
		}
		assert_int_equal(count_lines(whole, "istio_requests_total{"), http);
		assert_int_equal(count_lines(whole, "istio_tcp_sent_bytes_total{"), tcp);
		free(whole);
	}
	/* an output cap: MX_ENOMEM, no crash */
	struct mx_buf small;
	mx_buf_init(&small, 1000);
	assert_int_equal(mx_prom_render(s, N, MX_PROM_TEXT, &small), MX_ENOMEM);
	mx_buf_free(&small);
	/* nothing to render */
	struct mx_buf b;
	mx_buf_init(&b, 100);
	assert_int_equal(mx_prom_render(NULL, 0, MX_PROM_TEXT, &b), MX_OK);
	assert_int_equal(b.len, 0);
	assert_int_equal(mx_prom_render(NULL, 0, MX_PROM_OPENMETRICS, &b), MX_OK);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, "# EOF\n", 6);
	mx_buf_free(&b);
	mx_prom_iter_free(NULL);
	free(s);
}

static void test_negotiate(void **state)
{
	(void)state;
	static const struct { const char *accept; enum mx_prom_format f; } t[] = {
		/* Prometheus 2.42's scrape Accept header */
		{ "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
		  "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
		  MX_PROM_OPENMETRICS },
		/* Prometheus with scrape_protocols preferring text */
		{ "text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.5",
		  MX_PROM_TEXT },
		/* Prometheus 3 style */
		{ "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
		  "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;"
		  "escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
		  MX_PROM_OPENMETRICS },
		{ NULL, MX_PROM_TEXT },
		{ "", MX_PROM_TEXT },
		{ "*/*", MX_PROM_TEXT },
		{ "text/html", MX_PROM_TEXT },
		{ "application/openmetrics-text", MX_PROM_OPENMETRICS },
		{ " Application/OpenMetrics-Text ; Version=\"1.0.0\" ", MX_PROM_OPENMETRICS },
		{ "application/openmetrics-text;version=0.0.1", MX_PROM_OPENMETRICS },
		{ "application/openmetrics-text;version=2.0.0", MX_PROM_TEXT },
		{ "application/openmetrics-text;q=0,text/plain", MX_PROM_TEXT },
		{ "application/openmetrics-text;q=0.5,text/plain;q=0.5", MX_PROM_OPENMETRICS },
		{ "text/plain;q=0.5,application/openmetrics-text;q=0.5", MX_PROM_TEXT },
		{ "text/plain;q=0.4,application/openmetrics-text;q=0.5", MX_PROM_OPENMETRICS },
		{ "application/openmetrics-text;q=bogus,text/plain;q=0.1", MX_PROM_TEXT },
		{ "application/openmetrics-text;q=1.5", MX_PROM_TEXT },
		{ ",,;;=,", MX_PROM_TEXT },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (mx_prom_negotiate(t[i].accept) != t[i].f) {
			print_error("case %zu: %s\n", i, t[i].accept ? t[i].accept : "(null)");
			fail();
		}
	}
	assert_true(mx_prom_accepts_gzip("gzip"));
	assert_true(mx_prom_accepts_gzip("deflate, gzip;q=1.0, *;q=0.5"));
	assert_true(mx_prom_accepts_gzip("identity, *"));
	assert_false(mx_prom_accepts_gzip("identity"));
	assert_false(mx_prom_accepts_gzip("gzip;q=0"));
	assert_false(mx_prom_accepts_gzip(""));
	assert_false(mx_prom_accepts_gzip(NULL));
}

static void test_gzip(void **state)
{
	(void)state;
	enum { N = 300 };
	struct mx_istio_series *s = calloc(N, sizeof(*s));
	assert_non_null(s);
	for (int i = 0; i < N; i++) {
		struct mx_istio_series two[2];
		fill(two);
		s[i] = two[i & 1];
		s[i].count = (uint64_t)i * 7919u;
	}
	char *plain = render(s, N, MX_PROM_OPENMETRICS);
	size_t plain_n = strlen(plain);
	/* one shot */
	struct mx_buf z;
	mx_buf_init(&z, 64u << 20);
	assert_int_equal(mx_gzip((const uint8_t *)plain, plain_n, &z), MX_OK);
	assert_true(z.len > 18 && z.len < plain_n / 10);
	assert_int_equal(z.data[0], 0x1f);
	assert_int_equal(z.data[1], 0x8b);
	uint8_t *back = NULL;
	size_t back_n = 0;
	assert_int_equal(mx_inflate(z.data, z.len, 64u << 20, &back, &back_n), MX_OK);
	assert_int_equal(back_n, plain_n);
	assert_memory_equal(back, plain, plain_n);
	free(back);
	/* streaming: iterator chunks through mx_gz_write */
	struct mx_prom_iter it;
	struct mx_gz gz;
	struct mx_buf chunk, zs;
	mx_buf_init(&chunk, 64u << 20);
	mx_buf_init(&zs, 64u << 20);
	assert_int_equal(mx_prom_iter_init(&it, s, N, MX_PROM_OPENMETRICS), MX_OK);
	assert_int_equal(mx_gz_init(&gz), MX_OK);
	int rc;
	do {
		mx_buf_reset(&chunk);
		rc = mx_prom_iter_next(&it, &chunk, 4096);
		assert_true(rc == 0 || rc == 1);
		assert_int_equal(mx_gz_write(&gz, chunk.data, chunk.len, rc == 0, &zs), MX_OK);
	} while (rc == 1);
	assert_int_equal(mx_gz_write(&gz, NULL, 0, true, &zs), MX_EINVAL);
	mx_gz_free(&gz);
	mx_gz_free(&gz);
	mx_prom_iter_free(&it);
	assert_int_equal(mx_inflate(zs.data, zs.len, 64u << 20, &back, &back_n), MX_OK);
	assert_int_equal(back_n, plain_n);
	assert_memory_equal(back, plain, plain_n);
	free(back);
	/* empty input is a valid empty gzip stream; a small cap fails cleanly */
	mx_buf_reset(&z);
	assert_int_equal(mx_gzip(NULL, 0, &z), MX_OK);
	assert_int_equal(mx_inflate(z.data, z.len, 1024, &back, &back_n), MX_OK);
	assert_int_equal(back_n, 0);
	free(back);
	struct mx_buf tiny;
	mx_buf_init(&tiny, 64);
	assert_int_equal(mx_gzip((const uint8_t *)plain, plain_n, &tiny), MX_ENOMEM);
	mx_buf_free(&tiny);
	mx_buf_free(&z);
	mx_buf_free(&zs);
	mx_buf_free(&chunk);
	free(plain);
	free(s);
}

static void test_promtool(void **state)
{
	(void)state;
	struct mx_istio_series s[2];
	fill(s);
	char *t = render(s, 2, MX_PROM_TEXT);
	int status = 0;
	char *out = tu_promtool(t, &status);
	if (!out) {
		printf("test_promtool: SKIPPED: promtool not installed "
		       "(apt-get install prometheus)\n");
		free(t);
		skip();
		return;
	}
	/* the only finding allowed: Istio's own unit in the duration name */
	int lines = 0;
	for (char *p = out, *e; *p; p = e + 1) {
		e = strchr(p, '\n');
		if (!e)
			e = p + strlen(p);
		if (e > p) {
			lines++;
			if (!strstr(p, "istio_request_duration_milliseconds") ||
			    !strstr(p, "milliseconds")) {
				print_error("unexpected promtool finding: %.*s\n", (int)(e - p), p);
				fail();
			}
		}
		if (!*e)
			break;
	}
	assert_int_equal(lines, 1);
	assert_int_not_equal(status, 0); /* lint findings make it exit non-zero */
	free(out);
	/* a broken exposition is flagged as such: promtool does parse */
	out = tu_promtool("istio_requests_total{a=\"b\" 1\n", &status);
	assert_non_null(strstr(out, "error"));
	free(out);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_exact),
		cmocka_unit_test(test_openmetrics_exact),
		cmocka_unit_test(test_exemplar_bucket),
		cmocka_unit_test(test_le_strings),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_iterator),
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_promtool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
