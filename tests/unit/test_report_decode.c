/*
 * test_report_decode.c - the native report decoder (codec/report.h):
 * values and Istio's label conventions on reports packed independently by
 * protobuf-c, the span conversion (resource from the reporter, libmixd
 * scope, per-span rejection), Istio label order (mx_istio_labels), reports
 * produced by libmixd itself (through the in-test receiver), and hostile
 * input: bad string indexes, wrong bucket counts and sums, bad ids,
 * sequence 0, bad UTF-8, non-finite sums, truncation at every length,
 * garbage, deep AnyValue nesting in spans, the arena cap.
 */
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
#include "mixd/mixd.h"
#include "reporter_harness.h"

typedef Mixd__Report__V1__Report pb_report;
typedef Mixd__Report__V1__Workload pb_workload;
typedef Mixd__Report__V1__Series pb_series;
typedef Mixd__Report__V1__RequestDelta pb_request;
typedef Mixd__Report__V1__TcpDelta pb_tcp;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;

/* A report under construction: protobuf-c structs plus their storage. */
struct rb {
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

static uint32_t sidx(struct rb *b, const char *s)
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
static void build(struct rb *b)
{
	memset(b, 0, sizeof(*b));
	mixd__report__v1__report__init(&b->r);
	mixd__report__v1__workload__init(&b->reporter);
	mixd__report__v1__workload__init(&b->peer);
	b->r.strings = b->strs;
	sidx(b, "");
	for (int i = 0; i < 16; i++)
		b->iid[i] = (uint8_t)(0xa0 + i);
	b->r.instance_id = (ProtobufCBinaryData){ 16, b->iid };
	b->r.sequence = 42;
	b->r.interval_start_unix_nano = 1700000000000000000ull;
	b->r.interval_end_unix_nano = 1700000001000000000ull;
	b->reporter.workload = sidx(b, "productpage-v1");
	b->reporter.namespace_ = sidx(b, "default");
	b->reporter.app = sidx(b, "productpage");
	b->reporter.version = sidx(b, "v1");
	b->reporter.canonical_service = sidx(b, "productpage-v1");
	b->reporter.canonical_revision = sidx(b, "version-1");
	b->reporter.cluster = sidx(b, "client-cluster");
	b->r.reporter = &b->reporter;
	b->peer.workload = sidx(b, "ratings-v1");
	b->peer.namespace_ = sidx(b, "default");
	b->peer.app = sidx(b, "ratings");
	b->peer.version = sidx(b, "v1");
	b->peer.canonical_service = sidx(b, "ratings");
	b->peer.canonical_revision = sidx(b, "version-1");
	b->peer.cluster = sidx(b, "server-cluster");

	mixd__report__v1__series__init(&b->ser[0]);
	b->ser[0].role = MIXD__REPORT__V1__ROLE__ROLE_SOURCE;
	b->ser[0].peer = &b->peer;
	b->ser[0].destination_service = sidx(b, "server.default.svc.cluster.local");
	b->ser[0].destination_service_name = sidx(b, "server");
	b->ser[0].destination_service_namespace = sidx(b, "default");
	b->ser[0].request_protocol = sidx(b, "http");
	b->ser[0].response_code = 200;
	b->ser[0].response_flags = sidx(b, "-");
	b->ser[0].connection_security_policy = sidx(b, "unknown");
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

static uint8_t *pack(const struct rb *b, size_t *n)
{
	*n = mixd__report__v1__report__get_packed_size(&b->r);
	uint8_t *p = malloc(*n ? *n : 1);
	assert_non_null(p);
	assert_int_equal(mixd__report__v1__report__pack(&b->r, p), *n);
	return p;
}

static struct mx_decode_limits lim;

static int decode(const uint8_t *p, size_t n, struct mx_batch **bp,
		  struct mx_report **rep, struct mx_errmsg *err)
{
	*bp = mx_batch_new(16u << 20);
	assert_non_null(*bp);
	memset(err, 0, sizeof(*err));
	return mx_report_decode(p, n, &lim, *bp, rep, err);
}

static void assert_str(struct mx_str s, const char *want)
{
	if (s.len != strlen(want) || memcmp(s.ptr, want, s.len) != 0) {
		print_error("got \"%.*s\", want \"%s\"\n", (int)s.len, s.ptr ? s.ptr : "",
			    want);
		fail();
	}
}

static void test_values(void **state)
{
	(void)state;
	struct rb b;
	build(&b);
	size_t n;
	uint8_t *p = pack(&b, &n);
	struct mx_batch *bt;
	struct mx_report *r;
	struct mx_errmsg err;
	assert_int_equal(decode(p, n, &bt, &r, &err), MX_OK);
	assert_non_null(r);
	assert_ptr_equal(r->batch, bt);
	assert_memory_equal(r->instance_id, b.iid, 16);
	assert_int_equal(r->sequence, 42);
	assert_int_equal(r->interval_start_ns, 1700000000000000000ull);
	assert_int_equal(r->interval_end_ns, 1700000001000000000ull);
	assert_int_equal(r->dropped_spans, 7);
	assert_int_equal(r->overflow_series, 2);
	assert_str(r->library_version, "0.1.0");
	assert_str(r->reporter.workload, "productpage-v1");
	assert_str(r->reporter.canonical_revision, "version-1");
	assert_str(r->reporter.principal, "unknown"); /* absent */

	assert_int_equal(r->n_requests, 1);
	const struct mx_request_agg *a = &r->requests[0];
	assert_int_equal(a->labels.role, MX_ROLE_SOURCE);
	assert_false(a->labels.overflow);
	assert_str(a->labels.local.workload, "productpage-v1");
	assert_str(a->labels.peer.workload, "ratings-v1");
	assert_str(a->labels.peer.principal, "unknown");
	assert_str(a->labels.response_code, "200");
	assert_str(a->labels.grpc_response_status, "");
	assert_int_equal(a->count, 3);
	assert_int_equal(a->duration.buckets[2], 1);
	assert_int_equal(a->duration.buckets[3], 1);
	assert_int_equal(a->duration.buckets[7], 1);
	assert_true(a->duration.sum == 130);
	assert_int_equal(a->request_bytes.buckets[6], 2);
	assert_true(a->request_bytes.sum == 1700);
	assert_int_equal(a->response_bytes.buckets[15], 1);
	assert_true(a->response_bytes.sum == 70620);
	assert_true(a->has_exemplar);
	assert_memory_equal(a->exemplar.trace_id, b.etid, 16);
	assert_memory_equal(a->exemplar.span_id, b.esid, 8);
	assert_true(a->exemplar.value == 7);
	assert_int_equal(a->exemplar.time_ns, 1700000000500000000ull);

	/* Istio's order gives exactly the golden series */
	static const char *const golden[MX_ISTIO_HTTP_LABELS] = {
		"source", "productpage-v1", "productpage-v1", "version-1", "default",
		"unknown", "productpage", "v1", "client-cluster", "ratings-v1",
		"default", "unknown", "ratings", "v1",
		"server.default.svc.cluster.local", "ratings", "version-1", "server",
		"default", "server-cluster", "http", "200", "", "-", "unknown",
	};
	struct mx_str l[MX_ISTIO_HTTP_LABELS];
	mx_istio_labels(&a->labels, false, l);
	for (int i = 0; i < MX_ISTIO_HTTP_LABELS; i++)
		assert_str(l[i], golden[i]);

	/* the TCP series: server side, the peer entirely absent */
	assert_int_equal(r->n_tcp, 1);
	const struct mx_tcp_agg *t = &r->tcp[0];
	assert_int_equal(t->opened, 5);
	assert_int_equal(t->closed, 4);
	assert_int_equal(t->sent_bytes, 1234);
	assert_int_equal(t->received_bytes, 5678);
	static const char *const tcp_want[MX_ISTIO_TCP_LABELS] = {
		"destination", "unknown", "unknown", "latest", "unknown", "unknown",
		"unknown", "unknown", "unknown", "productpage-v1", "default",
		"unknown", "productpage", "v1",
		"productpage-v1", /* host: the local canonical service */
		"productpage-v1", "version-1",
		"productpage-v1", /* name: the host up to its first '.' */
		"unknown", "client-cluster", "tcp", "-", "unknown",
	};
	mx_istio_labels(&t->labels, true, l);
	for (int i = 0; i < MX_ISTIO_TCP_LABELS; i++)
		assert_str(l[i], tcp_want[i]);
	assert_int_equal(l[23].len, 0);

	/* spans: one kept, one rejected; the reporter is the resource */
	assert_int_equal(r->first_span, 0);
	assert_int_equal(r->n_spans, 1);
	assert_int_equal(bt->n_spans, 1);
	assert_int_equal(bt->rejected_spans, 1);
	assert_non_null(strstr(err.text, "span_id"));
	const struct mx_span *s = &bt->spans[0];
	assert_memory_equal(s->trace_id, b.tid, 16);
	assert_str(s->name, "GET /ratings");
	assert_int_equal(s->kind, MX_KIND_CLIENT);
	assert_str(mx_span_service(s), "productpage-v1");
	assert_str(mx_attrs_get_str(&s->resource->attrs, "istio.workload"), "productpage-v1");
	assert_str(mx_attrs_get_str(&s->resource->attrs, "istio.cluster"), "client-cluster");
	assert_null(mx_attrs_get_str(&s->resource->attrs, "istio.principal").ptr);
	assert_str(s->scope->name, "libmixd");
	assert_str(s->scope->version, "0.1.0");
	mx_batch_free(bt);
	free(p);
}

/* conventions on absent and special values */
static void test_conventions(void **state)
{
	(void)state;
	struct rb b;
	build(&b);
	b.reporter.canonical_service = 0;  /* falls back to the workload */
	b.reporter.canonical_revision = 0; /* latest */
	b.peer.canonical_revision = 0;     /* latest */
	b.peer.app = 0;                    /* unknown */
	b.ser[0].response_code = 0;        /* "0" */
	b.ser[0].response_flags = 0;       /* "-" */
	b.ser[0].connection_security_policy = 0; /* unknown */
	b.ser[0].destination_service_name = 0;   /* host up to '.' */
	b.ser[0].destination_service_namespace = 0; /* client: peer ns */
	b.ser[0].request_protocol = sidx(&b, "grpc");
	b.ser[0].grpc_response_status = sidx(&b, "14");
	b.ser[0].overflow = 1;
	size_t n;
	uint8_t *p = pack(&b, &n);
	struct mx_batch *bt;
	struct mx_report *r;
	struct mx_errmsg err;
	assert_int_equal(decode(p, n, &bt, &r, &err), MX_OK);
	const struct mx_series_labels *l = &r->requests[0].labels;
	assert_str(l->local.canonical_service, "productpage-v1");
	assert_str(l->local.canonical_revision, "latest");
	assert_str(l->peer.canonical_revision, "latest");
	assert_str(l->peer.app, "unknown");
	assert_str(l->response_code, "0");
	assert_str(l->response_flags, "-");
	assert_str(l->connection_security_policy, "unknown");
	assert_str(l->destination_service_name, "server");
	assert_str(l->destination_service_namespace, "default");
	assert_str(l->request_protocol, "grpc");
	assert_str(l->grpc_response_status, "14");
	assert_true(l->overflow);
	mx_batch_free(bt);
	free(p);

	/* the reporter's overflow cell may come without a role */
	build(&b);
	b.ser[0].role = MIXD__REPORT__V1__ROLE__ROLE_UNSPECIFIED;
	b.ser[0].overflow = 1;
	p = pack(&b, &n);
	assert_int_equal(decode(p, n, &bt, &r, &err), MX_OK);
	struct mx_str il[MX_ISTIO_HTTP_LABELS];
	mx_istio_labels(&r->requests[0].labels, false, il);
	assert_str(il[0], "unknown");
	assert_str(il[1], "ratings-v1"); /* both sides: the peer's identity */
	assert_str(il[9], "ratings-v1");
	mx_batch_free(bt);
	free(p);

	/* no spans, no exemplar, an empty request series (count 0, no
	 * buckets), no reporter identity at all */
	build(&b);
	b.r.n_spans = 0;
	b.r.reporter = NULL;
	b.req.exemplar_trace_id.len = 0;
	b.req.count = 0;
	b.req.n_duration_buckets = 0;
	b.req.n_request_bytes_buckets = 0;
	b.req.n_response_bytes_buckets = 0;
	b.req.duration_sum = b.req.request_bytes_sum = b.req.response_bytes_sum = 0;
	p = pack(&b, &n);
	assert_int_equal(decode(p, n, &bt, &r, &err), MX_OK);
	assert_int_equal(r->n_spans, 0);
	assert_int_equal(bt->n_spans, 0);
	assert_false(r->requests[0].has_exemplar);
	assert_int_equal(r->requests[0].count, 0);
	assert_str(r->reporter.workload, "unknown");
	assert_str(r->reporter.canonical_service, "unknown");
	assert_str(r->reporter.canonical_revision, "latest");
	mx_batch_free(bt);
	free(p);
}

/* Packs `b` after `mutate` and expects MX_EINVAL with `msg` in the text. */
static void expect_bad(struct rb *b, const char *msg)
{
	size_t n;
	uint8_t *p = pack(b, &n);
	struct mx_batch *bt;
	struct mx_report *r = (struct mx_report *)1;
	struct mx_errmsg err;
	int rc = decode(p, n, &bt, &r, &err);
	if (rc != MX_EINVAL || !strstr(err.text, msg)) {
		print_error("rc %d, message \"%s\", want \"%s\"\n", rc, err.text, msg);
		fail();
	}
	assert_null(r);
	mx_batch_free(bt);
	free(p);
}

static void test_bad_reports(void **state)
{
	(void)state;
	struct rb b;
	uint64_t nineteen[19] = { 3 };
	uint64_t twentyone[21] = { 3 };

	build(&b);
	b.peer.app = 999;
	expect_bad(&b, "string index 999 out of range");
	build(&b);
	b.ser[1].destination_service = (uint32_t)b.r.n_strings;
	expect_bad(&b, "out of range");
	build(&b);
	b.reporter.principal = 64;
	expect_bad(&b, "string index");
	build(&b);
	b.req.n_duration_buckets = 19;
	b.req.duration_buckets = nineteen;
	expect_bad(&b, "duration has 19 buckets, want 0 or 20");
	build(&b);
	b.req.n_request_bytes_buckets = 21;
	b.req.request_bytes_buckets = twentyone;
	expect_bad(&b, "request bytes has 21 buckets");
	build(&b);
	b.respb[0] = 1; /* 4 responses for 3 requests */
	expect_bad(&b, "response bytes buckets sum to 4");
	build(&b);
	b.req.n_duration_buckets = 0;
	expect_bad(&b, "duration buckets sum to 0, the request count is 3");
	build(&b);
	b.dur[0] = UINT64_MAX;
	expect_bad(&b, "overflow");
	build(&b);
	b.req.duration_sum = -1;
	expect_bad(&b, "duration sum is negative");
	build(&b);
	b.req.request_bytes_sum = 0.0 / 0.0;
	expect_bad(&b, "not finite");
	build(&b);
	b.r.instance_id.len = 8;
	expect_bad(&b, "instance_id must be 16 bytes");
	build(&b);
	b.r.sequence = 0;
	expect_bad(&b, "sequence");
	build(&b);
	b.ser[0].role = MIXD__REPORT__V1__ROLE__ROLE_UNSPECIFIED;
	expect_bad(&b, "role 0");
	build(&b);
	b.ser[1].role = (Mixd__Report__V1__Role)7;
	expect_bad(&b, "role 7");
	build(&b);
	b.req.series = NULL;
	expect_bad(&b, "request delta without series");
	build(&b);
	b.tcp.series = NULL;
	expect_bad(&b, "TCP delta without series");
	build(&b);
	b.strs[0] = (char *)(uintptr_t)"x";
	expect_bad(&b, "strings[0] must be empty");
	build(&b);
	b.strs[3] = (char *)(uintptr_t)"bad \xc3\x28 utf8";
	expect_bad(&b, "strings[3] is not UTF-8");
	build(&b);
	b.strs[3] = (char *)(uintptr_t)"surrogate \xed\xa0\x80";
	expect_bad(&b, "not UTF-8");
	build(&b);
	b.strs[3] = (char *)(uintptr_t)"overlong \xc0\xaf";
	expect_bad(&b, "not UTF-8");
	build(&b);
	b.strs[3] = (char *)(uintptr_t)"cut \xe2\x82";
	expect_bad(&b, "not UTF-8");
	build(&b);
	b.req.exemplar_trace_id.len = 15;
	expect_bad(&b, "exemplar ids");
	build(&b);
	b.req.exemplar_span_id.len = 4;
	expect_bad(&b, "exemplar ids");
	build(&b);
	b.req.exemplar_duration = 1.0 / 0.0;
	expect_bad(&b, "exemplar value");
	build(&b);
	b.r.library_version = (char *)(uintptr_t)"\xff";
	expect_bad(&b, "library_version");

	/* a string over the value cap */
	build(&b);
	char *big = malloc(2000);
	assert_non_null(big);
	memset(big, 'x', 1999);
	big[1999] = 0;
	b.strs[3] = big;
	struct mx_decode_limits saved = lim;
	lim.max_value_bytes = 1000;
	expect_bad(&b, "longer than 1000 bytes");
	lim = saved;
	free(big);

	/* valid UTF-8 of every length passes */
	build(&b);
	b.strs[3] = (char *)(uintptr_t)"ünï ✓ 𝄞";
	size_t n;
	uint8_t *p = pack(&b, &n);
	struct mx_batch *bt;
	struct mx_report *r;
	struct mx_errmsg err;
	assert_int_equal(decode(p, n, &bt, &r, &err), MX_OK);
	mx_batch_free(bt);
	free(p);
}

static void test_truncated_garbage(void **state)
{
	(void)state;
	struct rb b;
	build(&b);
	size_t n;
	uint8_t *p = pack(&b, &n);
	struct mx_batch *bt;
	struct mx_report *r;
	struct mx_errmsg err;
	/* every prefix: a clean verdict, never a crash; a cut inside the
	 * first field (instance_id) always fails */
	int ok = 0;
	for (size_t k = 0; k < n; k++) {
		int rc = decode(p, k, &bt, &r, &err);
		assert_true(rc == MX_OK || rc == MX_EINVAL);
		assert_true(rc != MX_OK || r != NULL);
		if (k < 18)
			assert_int_equal(rc, MX_EINVAL);
		ok += rc == MX_OK;
		mx_batch_free(bt);
	}
	assert_true(ok < (int)n);
	/* a cut in the middle of a field */
	assert_int_equal(decode(p, n - 3, &bt, &r, &err), MX_EINVAL);
	assert_true(err.set);
	mx_batch_free(bt);
	/* garbage: deterministic pseudo-random bytes, and bit flips */
	uint64_t x = 88172645463325252ull;
	uint8_t g[512];
	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)(round % 512);
		for (size_t i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			g[i] = (uint8_t)x;
		}
		int rc = decode(g, len, &bt, &r, &err);
		assert_true(rc == MX_OK || rc == MX_EINVAL || rc == MX_EDEPTH);
		mx_batch_free(bt);
	}
	uint8_t *q = malloc(n);
	assert_non_null(q);
	for (size_t i = 0; i < n * 8; i++) {
		memcpy(q, p, n);
		q[i / 8] ^= (uint8_t)(1u << (i % 8));
		int rc = decode(q, n, &bt, &r, &err);
		assert_true(rc == MX_OK || rc == MX_EINVAL || rc == MX_EDEPTH);
		mx_batch_free(bt);
	}
	free(q);
	/* empty body, group wire types */
	assert_int_equal(decode(p, 0, &bt, &r, &err), MX_EINVAL);
	mx_batch_free(bt);
	static const uint8_t group[] = { 0x0b, 0x0c };
	assert_int_equal(decode(group, 2, &bt, &r, &err), MX_EINVAL);
	assert_non_null(strstr(err.text, "wire type"));
	mx_batch_free(bt);
	free(p);
}

static size_t put_varint(uint8_t *o, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		o[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	o[n++] = (uint8_t)v;
	return n;
}

/* Report field 9 (a span) whose attribute nests `depth` AnyValue arrays;
 * written inside out into `buf` (big enough); returns its length. */
static size_t deep_span(uint8_t *buf, size_t cap, uint32_t depth, const struct rb *b)
{
	/* innermost AnyValue{int_value: 1} */
	size_t end = cap, len;
	buf[--end] = 1;
	buf[--end] = 0x18; /* AnyValue.int_value, field 3 */
	len = 2;
	for (uint32_t i = 1; i < depth; i++) {
		/* ArrayValue{values: <any>} then AnyValue{array_value: <arr>} */
		uint8_t tmp[10];
		size_t k = put_varint(tmp, len);
		end -= k;
		memcpy(buf + end, tmp, k);
		buf[--end] = 0x0a;
		len += 1 + k;
		k = put_varint(tmp, len);
		end -= k;
		memcpy(buf + end, tmp, k);
		buf[--end] = 0x2a; /* AnyValue.array_value, field 5 */
		len += 1 + k;
	}
	/* KeyValue{key "k", value <any>} */
	uint8_t tmp[10];
	size_t k = put_varint(tmp, len);
	end -= k;
	memcpy(buf + end, tmp, k);
	buf[--end] = 0x12;
	len += 1 + k;
	end -= 3;
	memcpy(buf + end, "\x0a\x01k", 3);
	len += 3;
	/* Span{trace_id, span_id, attributes: <kv>} */
	k = put_varint(tmp, len);
	end -= k;
	memcpy(buf + end, tmp, k);
	buf[--end] = 0x4a; /* Span.attributes, field 9 */
	len += 1 + k;
	end -= 10;
	buf[end] = 0x12; /* span_id */
	buf[end + 1] = 8;
	memcpy(buf + end + 2, b->sid, 8);
	end -= 18;
	buf[end] = 0x0a; /* trace_id */
	buf[end + 1] = 16;
	memcpy(buf + end + 2, b->tid, 16);
	len += 28;
	/* Report.spans, field 9 */
	k = put_varint(tmp, len);
	end -= k;
	memcpy(buf + end, tmp, k);
	buf[--end] = 0x4a;
	len += 1 + k;
	memmove(buf, buf + end, len);
	return len;
}

static void test_span_nesting_and_caps(void **state)
{
	(void)state;
	struct rb b;
	build(&b);
	b.r.n_spans = 0;
	size_t n;
	uint8_t *p = pack(&b, &n);
	size_t cap = 200000;
	uint8_t *body = malloc(n + cap);
	assert_non_null(body);
	struct mx_batch *bt;
	struct mx_report *r;
	struct mx_errmsg err;
	/* within the depth cap: decoded, resource set */
	memcpy(body, p, n);
	size_t k = deep_span(body + n, cap, 5, &b);
	assert_int_equal(decode(body, n + k, &bt, &r, &err), MX_OK);
	assert_int_equal(r->n_spans, 1);
	assert_str(mx_span_service(&bt->spans[0]), "productpage-v1");
	mx_batch_free(bt);
	/* 10 000 deep: refused before protobuf-c recurses */
	k = deep_span(body + n, cap, 10000, &b);
	assert_int_equal(decode(body, n + k, &bt, &r, &err), MX_EDEPTH);
	assert_null(r);
	mx_batch_free(bt);
	/* spans interleaved with other fields, non-minimal keys ok: put the
	 * span first, before the rest of the report */
	k = deep_span(body, cap, 2, &b);
	memcpy(body + k, p, n);
	assert_int_equal(decode(body, n + k, &bt, &r, &err), MX_OK);
	assert_int_equal(r->n_spans, 1);
	assert_int_equal(r->sequence, 42);
	mx_batch_free(bt);
	/* an overlong (2-byte) key for field 9 */
	body[0] = 0xca;
	memmove(body + 2, body + 1, n + k - 1);
	body[1] = 0x00;
	assert_int_equal(decode(body, n + k + 1, &bt, &r, &err), MX_OK);
	assert_int_equal(r->n_spans, 1);
	mx_batch_free(bt);
	free(body);
	free(p);

	/* the arena cap */
	build(&b);
	p = pack(&b, &n);
	bt = mx_batch_new(512);
	memset(&err, 0, sizeof(err));
	assert_int_equal(mx_report_decode(p, n, &lim, bt, &r, &err), MX_ENOMEM);
	assert_null(r);
	assert_non_null(strstr(err.text, "memory cap"));
	mx_batch_free(bt);
	free(p);
}

/* reports produced by libmixd itself, received by the test harness */
static void test_libmixd_reports(void **state)
{
	(void)state;
	struct hx *h = hx_start();
	assert_non_null(h);
	struct mixd_config cfg;
	struct mixd_reporter *rep = NULL;
	mixd_config_init(&cfg);
	cfg.url = h->url;
	cfg.flush_interval_ms = 50;
	cfg.max_series = 2; /* the third label set goes to the overflow cell */
	cfg.local.workload = "reviews-v2";
	cfg.local.workload_namespace = "bookinfo";
	cfg.local.app = "reviews";
	cfg.local.version = "v2";
	assert_int_equal(mixd_reporter_new(&cfg, &rep), MIXD_OK);
	assert_int_equal(mixd_reporter_start(rep), MIXD_OK);
	struct mixd_series_labels l;
	memset(&l, 0, sizeof(l));
	l.role = MIXD_ROLE_DESTINATION;
	l.peer.workload = "productpage-v1";
	l.destination_service = "reviews.bookinfo.svc.cluster.local";
	l.request_protocol = "http";
	l.response_code = 503;
	l.response_flags = "UF";
	l.connection_security_policy = "mutual_tls";
	uint32_t s, t;
	assert_int_equal(mixd_series_bind(rep, &l, &s), MIXD_OK);
	l.request_protocol = "tcp";
	l.response_code = 0;
	assert_int_equal(mixd_series_bind(rep, &l, &t), MIXD_OK);
	for (int i = 0; i < 100; i++)
		assert_int_equal(mixd_record_request(rep, s, (uint64_t)i, 100, 2000), MIXD_OK);
	uint32_t o;
	l.request_protocol = "grpc";
	assert_int_equal(mixd_series_bind(rep, &l, &o), MIXD_OK);
	assert_int_equal(o, MIXD_SERIES_OVERFLOW);
	for (int i = 0; i < 10; i++)
		assert_int_equal(mixd_record_request(rep, o, 1000, 1, 1), MIXD_OK);
	l.request_protocol = "http";
	mixd_record_tcp_open(rep, t);
	mixd_record_tcp_bytes(rep, t, 10, 20);
	struct mixd_span sp;
	memset(&sp, 0, sizeof(sp));
	sp.trace_id[15] = 1;
	sp.span_id[7] = 2;
	sp.name = "reviews";
	sp.kind = MIXD_SPAN_KIND_SERVER;
	sp.start_unix_nano = 1;
	sp.end_unix_nano = 2;
	assert_int_equal(mixd_record_span(rep, &sp), MIXD_OK);
	assert_int_equal(mixd_reporter_close(rep, 5000), MIXD_OK);

	uint64_t count = 0, dsum = 0, opened = 0, sent = 0, seq = 0, overflowed = 0;
	uint32_t spans = 0;
	size_t reports = 0;
	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < h->n; i++) {
		if (!h->reqs[i].body || h->reqs[i].status != 200)
			continue;
		struct mx_batch *bt;
		struct mx_report *r;
		struct mx_errmsg err;
		int rc = decode(h->reqs[i].body, h->reqs[i].len, &bt, &r, &err);
		if (rc != MX_OK) {
			print_error("libmixd report %zu: %s\n", i, err.text);
			fail();
		}
		reports++;
		assert_true(r->sequence > seq);
		seq = r->sequence;
		assert_str(r->reporter.workload, "reviews-v2");
		assert_str(r->reporter.canonical_service, "reviews-v2");
		for (uint32_t j = 0; j < r->n_requests; j++) {
			const struct mx_request_agg *a = &r->requests[j];
			if (a->labels.overflow) {
				assert_int_equal(a->labels.role, MX_ROLE_UNSPECIFIED);
				overflowed += a->count;
				continue;
			}
			assert_int_equal(a->labels.role, MX_ROLE_DESTINATION);
			assert_str(a->labels.response_code, "503");
			assert_str(a->labels.response_flags, "UF");
			assert_str(a->labels.peer.workload, "productpage-v1");
			assert_str(a->labels.peer.canonical_revision, "latest");
			assert_str(a->labels.destination_service_name, "reviews");
			count += a->count;
			dsum += (uint64_t)a->duration.sum;
		}
		for (uint32_t j = 0; j < r->n_tcp; j++) {
			assert_str(r->tcp[j].labels.request_protocol, "tcp");
			opened += r->tcp[j].opened;
			sent += r->tcp[j].sent_bytes;
		}
		spans += r->n_spans;
		for (uint32_t j = 0; j < r->n_spans; j++)
			assert_str(mx_span_service(&bt->spans[r->first_span + j]), "reviews-v2");
		mx_batch_free(bt);
	}
	pthread_mutex_unlock(&h->mu);
	assert_true(reports >= 1);
	assert_int_equal(count, 100);
	assert_int_equal(overflowed, 10);
	assert_int_equal(dsum, 99 * 100 / 2);
	assert_int_equal(opened, 1);
	assert_int_equal(sent, 10);
	assert_int_equal(spans, 1);
	hx_stop(h);
}

static int setup(void **state)
{
	(void)state;
	mx_decode_limits_default(&lim);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_conventions),
		cmocka_unit_test(test_bad_reports),
		cmocka_unit_test(test_truncated_garbage),
		cmocka_unit_test(test_span_nesting_and_caps),
		cmocka_unit_test(test_libmixd_reports),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
