/*
 * report_test_util.h - helpers of the native report decoder tests
 * (test_report_decode.c, test_report_decode_bad.c): a reference report
 * built from protobuf-c structs (packed independently of codec/report.c),
 * its string table, packing, decoding it into a fresh batch with the
 * test's decode limits, and comparing model strings. All helpers are
 * static, so each test binary gets its own copy.
 */
#ifndef MX_REPORT_TEST_UTIL_H
#define MX_REPORT_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mixd/report.pb-c.h"

#include "../../codec/report.h"
#include "../../model/error.h"

typedef Mixd__Report__V1__Report pb_report;
typedef Mixd__Report__V1__Workload pb_workload;
typedef Mixd__Report__V1__Series pb_series;
typedef Mixd__Report__V1__RequestDelta pb_request;
typedef Mixd__Report__V1__TcpDelta pb_tcp;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;

/* A report under construction: protobuf-c structs plus their storage. */
struct rt_builder {
	pb_report r;
	char *strs[64];
	pb_workload reporter, peer;
	pb_series ser[2];
	pb_request req;
	pb_tcp tcp;
	pb_request *reqp[1];
	pb_tcp *tcpp[1];
	uint64_t dur[20], reqb[20], respb[20];
	uint8_t iid[16], tid[16], sid[8], etid[16], esid[8];
	pb_span span[2];
	pb_span *spanp[2];
};

/* The index of `s` in the report's string table, added when new. */
static inline uint32_t rt_sidx(struct rt_builder *b, const char *s)
{
	for (uint32_t i = 0; i < b->r.n_strings; i++)
		if (strcmp(b->strs[i], s) == 0)
			return i;
	assert_true(b->r.n_strings < 64);
	b->strs[b->r.n_strings] = (char *)(uintptr_t)s;
	return (uint32_t)b->r.n_strings++;
}

/* The reference report: reporter productpage-v1 (client side) calling
 * ratings-v1; one request series with 3 requests (3, 7, 120 ms), one TCP
 * series whose peer is entirely absent, two spans (one with a bad id). */
static inline void rt_build(struct rt_builder *b)
{
	memset(b, 0, sizeof(*b));
	mixd__report__v1__report__init(&b->r);
	mixd__report__v1__workload__init(&b->reporter);
	mixd__report__v1__workload__init(&b->peer);
	b->r.strings = b->strs;
	rt_sidx(b, "");
	for (int i = 0; i < 16; i++)
		b->iid[i] = (uint8_t)(0xa0 + i);
	b->r.instance_id = (ProtobufCBinaryData){ 16, b->iid };
	b->r.sequence = 42;
	b->r.interval_start_unix_nano = 1700000000000000000ull;
	b->r.interval_end_unix_nano = 1700000001000000000ull;
	b->reporter.workload = rt_sidx(b, "productpage-v1");
	b->reporter.namespace_ = rt_sidx(b, "default");
	b->reporter.app = rt_sidx(b, "productpage");
	b->reporter.version = rt_sidx(b, "v1");
	b->reporter.canonical_service = rt_sidx(b, "productpage-v1");
	b->reporter.canonical_revision = rt_sidx(b, "version-1");
	b->reporter.cluster = rt_sidx(b, "client-cluster");
	b->r.reporter = &b->reporter;
	b->peer.workload = rt_sidx(b, "ratings-v1");
	b->peer.namespace_ = rt_sidx(b, "default");
	b->peer.app = rt_sidx(b, "ratings");
	b->peer.version = rt_sidx(b, "v1");
	b->peer.canonical_service = rt_sidx(b, "ratings");
	b->peer.canonical_revision = rt_sidx(b, "version-1");
	b->peer.cluster = rt_sidx(b, "server-cluster");

	mixd__report__v1__series__init(&b->ser[0]);
	b->ser[0].role = MIXD__REPORT__V1__ROLE__ROLE_SOURCE;
	b->ser[0].peer = &b->peer;
	b->ser[0].destination_service = rt_sidx(b, "server.default.svc.cluster.local");
	b->ser[0].destination_service_name = rt_sidx(b, "server");
	b->ser[0].destination_service_namespace = rt_sidx(b, "default");
	b->ser[0].request_protocol = rt_sidx(b, "http");
	b->ser[0].response_code = 200;
	b->ser[0].response_flags = rt_sidx(b, "-");
	b->ser[0].connection_security_policy = rt_sidx(b, "unknown");
	mixd__report__v1__request_delta__init(&b->req);
	b->req.series = &b->ser[0];
	b->req.count = 3;
	b->dur[2] = 1;  /* 3 ms: le 5 */
	b->dur[3] = 1;  /* 7 ms: le 10 */
	b->dur[7] = 1;  /* 120 ms: le 250 */
	b->reqb[6] = 2;
	b->reqb[10] = 1;
	b->respb[4] = 1;
	b->respb[9] = 1;
	b->respb[15] = 1;
	b->req.n_duration_buckets = 20;
	b->req.duration_buckets = b->dur;
	b->req.duration_sum = 130;
	b->req.n_request_bytes_buckets = 20;
	b->req.request_bytes_buckets = b->reqb;
	b->req.request_bytes_sum = 1700;
	b->req.n_response_bytes_buckets = 20;
	b->req.response_bytes_buckets = b->respb;
	b->req.response_bytes_sum = 70620;
	for (int i = 0; i < 16; i++)
		b->etid[i] = (uint8_t)(i + 1);
	for (int i = 0; i < 8; i++)
		b->esid[i] = (uint8_t)(0x10 + i);
	b->req.exemplar_trace_id = (ProtobufCBinaryData){ 16, b->etid };
	b->req.exemplar_span_id = (ProtobufCBinaryData){ 8, b->esid };
	b->req.exemplar_duration = 7;
	b->req.exemplar_time_unix_nano = 1700000000500000000ull;
	b->reqp[0] = &b->req;
	b->r.n_requests = 1;
	b->r.requests = b->reqp;

	mixd__report__v1__series__init(&b->ser[1]);
	b->ser[1].role = MIXD__REPORT__V1__ROLE__ROLE_DESTINATION;
	mixd__report__v1__tcp_delta__init(&b->tcp);
	b->tcp.series = &b->ser[1];
	b->tcp.connections_opened = 5;
	b->tcp.connections_closed = 4;
	b->tcp.sent_bytes = 1234;
	b->tcp.received_bytes = 5678;
	b->tcpp[0] = &b->tcp;
	b->r.n_tcp = 1;
	b->r.tcp = b->tcpp;

	for (int i = 0; i < 16; i++)
		b->tid[i] = (uint8_t)(0x40 + i);
	for (int i = 0; i < 8; i++)
		b->sid[i] = (uint8_t)(0x70 + i);
	for (int i = 0; i < 2; i++) {
		opentelemetry__proto__trace__v1__span__init(&b->span[i]);
		b->span[i].trace_id = (ProtobufCBinaryData){ 16, b->tid };
		b->span[i].span_id = (ProtobufCBinaryData){ 8, b->sid };
		b->span[i].name = (char *)(uintptr_t)"GET /ratings";
		b->span[i].kind = 3;
		b->span[i].start_time_unix_nano = 1700000000100000000ull;
		b->span[i].end_time_unix_nano = 1700000000107000000ull;
		b->spanp[i] = &b->span[i];
	}
	b->span[1].span_id = (ProtobufCBinaryData){ 3, b->sid }; /* rejected */
	b->r.n_spans = 2;
	b->r.spans = b->spanp;
	b->r.dropped_spans = 7;
	b->r.overflow_series = 2;
	b->r.library_version = (char *)(uintptr_t)"0.1.0";
}

/* The packed report (malloc'd, *n bytes). */
static inline uint8_t *rt_pack(const struct rt_builder *b, size_t *n)
{
	*n = mixd__report__v1__report__get_packed_size(&b->r);
	uint8_t *p = malloc(*n ? *n : 1);
	assert_non_null(p);
	assert_int_equal(mixd__report__v1__report__pack(&b->r, p), *n);
	return p;
}

/* The decode limits of rt_decode(); rt_setup() resets them. */
static struct mx_decode_limits rt_lim;

/* Decodes `n` bytes with rt_lim into a new batch (*bp, always set). */
static inline int rt_decode(const uint8_t *p, size_t n, struct mx_batch **bp,
			    struct mx_report **rep, struct mx_errmsg *err)
{
	*bp = mx_batch_new(16u << 20);
	assert_non_null(*bp);
	memset(err, 0, sizeof(*err));
	return mx_report_decode(p, n, &rt_lim, *bp, rep, err);
}

/* Fails the test unless the model string is `want`. */
static inline void rt_assert_str(struct mx_str s, const char *want)
{
	if (s.len != strlen(want) || memcmp(s.ptr, want, s.len) != 0) {
		print_error("got \"%.*s\", want \"%s\"\n", (int)s.len, s.ptr ? s.ptr : "",
			    want);
		fail();
	}
}

/* Group setup: the default decode limits. */
static inline int rt_setup(void **state)
{
	(void)state;
	mx_decode_limits_default(&rt_lim);
	return 0;
}

#endif
