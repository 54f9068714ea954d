/*
 * test_report_decode.c - the native report decoder (codec/report.h):
 * values and Istio's label conventions on reports packed independently by
 * protobuf-c, the span conversion (resource from the reporter, libmixd
 * scope, per-span rejection), Istio label order (mx_istio_labels) and
 * reports produced by libmixd itself (through the in-test receiver).
 * Hostile input is in test_report_decode_bad.c.
 */
#include "mixd/mixd.h"
#include "reporter_harness.h"
#include "report_test_util.h"

static void test_values(void **state)
{
	(void)state;
	struct rt_builder b;
	rt_build(&b);
	size_t n;
	uint8_t *p = rt_pack(&b, &n);
	struct mx_batch *bt;
	struct mx_report *r;
	struct mx_errmsg err;
	assert_int_equal(rt_decode(p, n, &bt, &r, &err), MX_OK);
	assert_non_null(r);
	assert_ptr_equal(r->batch, bt);
	assert_memory_equal(r->instance_id, b.iid, 16);
	assert_int_equal(r->sequence, 42);
	assert_int_equal(r->interval_start_ns, 1700000000000000000ull);
	assert_int_equal(r->interval_end_ns, 1700000001000000000ull);
	assert_int_equal(r->dropped_spans, 7);
	assert_int_equal(r->overflow_series, 2);
	rt_assert_str(r->library_version, "0.1.0");
	rt_assert_str(r->reporter.workload, "productpage-v1");
	rt_assert_str(r->reporter.canonical_revision, "version-1");
	rt_assert_str(r->reporter.principal, "unknown"); /* absent */

	assert_int_equal(r->n_requests, 1);
	const struct mx_request_agg *a = &r->requests[0];
	assert_int_equal(a->labels.role, MX_ROLE_SOURCE);
	assert_false(a->labels.overflow);
	rt_assert_str(a->labels.local->workload, "productpage-v1");
	assert_ptr_equal(a->labels.local, &r->reporter); /* shared */
	rt_assert_str(a->labels.peer.workload, "ratings-v1");
	rt_assert_str(a->labels.peer.principal, "unknown");
	rt_assert_str(a->labels.response_code, "200");
	rt_assert_str(a->labels.grpc_response_status, "");
	assert_int_equal(a->count, 3);
	/* sparse: exactly the non-zero buckets */
	assert_int_equal(a->duration.nz, 1u << 2 | 1u << 3 | 1u << 7);
	assert_int_equal(mx_hist_bucket(&a->duration, 2), 1);
	assert_int_equal(mx_hist_bucket(&a->duration, 3), 1);
	assert_int_equal(mx_hist_bucket(&a->duration, 7), 1);
	assert_int_equal(mx_hist_bucket(&a->duration, 4), 0);
	assert_true(a->duration.sum == 130);
	assert_int_equal(a->request_bytes.nz, 1u << 6 | 1u << 10);
	assert_int_equal(mx_hist_bucket(&a->request_bytes, 6), 2);
	assert_int_equal(mx_hist_bucket(&a->request_bytes, 10), 1);
	assert_true(a->request_bytes.sum == 1700);
	assert_int_equal(a->response_bytes.nz, 1u << 4 | 1u << 9 | 1u << 15);
	assert_int_equal(mx_hist_bucket(&a->response_bytes, 4), 1);
	assert_int_equal(mx_hist_bucket(&a->response_bytes, 9), 1);
	assert_int_equal(mx_hist_bucket(&a->response_bytes, 15), 1);
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
		rt_assert_str(l[i], golden[i]);

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
		rt_assert_str(l[i], tcp_want[i]);
	assert_int_equal(l[23].len, 0);

	/* spans: one kept, one rejected; the reporter is the resource */
	assert_int_equal(r->first_span, 0);
	assert_int_equal(r->n_spans, 1);
	assert_int_equal(bt->n_spans, 1);
	assert_int_equal(bt->rejected_spans, 1);
	assert_non_null(strstr(err.text, "span_id"));
	const struct mx_span *s = &bt->spans[0];
	assert_memory_equal(s->trace_id, b.tid, 16);
	rt_assert_str(s->name, "GET /ratings");
	assert_int_equal(s->kind, MX_KIND_CLIENT);
	rt_assert_str(mx_span_service(s), "productpage-v1");
	rt_assert_str(mx_attrs_get_str(&s->resource->attrs, "istio.workload"), "productpage-v1");
	rt_assert_str(mx_attrs_get_str(&s->resource->attrs, "istio.cluster"), "client-cluster");
	assert_null(mx_attrs_get_str(&s->resource->attrs, "istio.principal").ptr);
	rt_assert_str(s->scope->name, "libmixd");
	rt_assert_str(s->scope->version, "0.1.0");
	mx_batch_free(bt);
	free(p);
}

/* conventions on absent and special values */
static void test_conventions(void **state)
{
	(void)state;
	struct rt_builder b;
	rt_build(&b);
	b.reporter.canonical_service = 0;  /* falls back to the workload */
	b.reporter.canonical_revision = 0; /* latest */
	b.peer.canonical_revision = 0;     /* latest */
	b.peer.app = 0;                    /* unknown */
	b.ser[0].response_code = 0;        /* "0" */
	b.ser[0].response_flags = 0;       /* "-" */
	b.ser[0].connection_security_policy = 0; /* unknown */
	b.ser[0].destination_service_name = 0;   /* host up to '.' */
	b.ser[0].destination_service_namespace = 0; /* client: peer ns */
	b.ser[0].request_protocol = rt_sidx(&b, "grpc");
	b.ser[0].grpc_response_status = rt_sidx(&b, "14");
	b.ser[0].overflow = 1;
	size_t n;
	uint8_t *p = rt_pack(&b, &n);
	struct mx_batch *bt;
	struct mx_report *r;
	struct mx_errmsg err;
	assert_int_equal(rt_decode(p, n, &bt, &r, &err), MX_OK);
	const struct mx_series_labels *l = &r->requests[0].labels;
	rt_assert_str(l->local->canonical_service, "productpage-v1");
	rt_assert_str(l->local->canonical_revision, "latest");
	rt_assert_str(l->peer.canonical_revision, "latest");
	rt_assert_str(l->peer.app, "unknown");
	rt_assert_str(l->response_code, "0");
	rt_assert_str(l->response_flags, "-");
	rt_assert_str(l->connection_security_policy, "unknown");
	rt_assert_str(l->destination_service_name, "server");
	rt_assert_str(l->destination_service_namespace, "default");
	rt_assert_str(l->request_protocol, "grpc");
	rt_assert_str(l->grpc_response_status, "14");
	assert_true(l->overflow);
	mx_batch_free(bt);
	free(p);

	/* the reporter's overflow cell may come without a role */
	rt_build(&b);
	b.ser[0].role = MIXD__REPORT__V1__ROLE__ROLE_UNSPECIFIED;
	b.ser[0].overflow = 1;
	p = rt_pack(&b, &n);
	assert_int_equal(rt_decode(p, n, &bt, &r, &err), MX_OK);
	struct mx_str il[MX_ISTIO_HTTP_LABELS];
	mx_istio_labels(&r->requests[0].labels, false, il);
	rt_assert_str(il[0], "unknown");
	rt_assert_str(il[1], "ratings-v1"); /* both sides: the peer's identity */
	rt_assert_str(il[9], "ratings-v1");
	mx_batch_free(bt);
	free(p);

	/* no spans, no exemplar, an empty request series (count 0, no
	 * buckets), no reporter identity at all */
	rt_build(&b);
	b.r.n_spans = 0;
	b.r.reporter = NULL;
	b.req.exemplar_trace_id.len = 0;
	b.req.count = 0;
	b.req.n_duration_buckets = 0;
	b.req.n_request_bytes_buckets = 0;
	b.req.n_response_bytes_buckets = 0;
	b.req.duration_sum = b.req.request_bytes_sum = b.req.response_bytes_sum = 0;
	p = rt_pack(&b, &n);
	assert_int_equal(rt_decode(p, n, &bt, &r, &err), MX_OK);
	assert_int_equal(r->n_spans, 0);
	assert_int_equal(bt->n_spans, 0);
	assert_false(r->requests[0].has_exemplar);
	assert_int_equal(r->requests[0].count, 0);
	assert_int_equal(r->requests[0].duration.nz, 0); /* empty histograms */
	assert_int_equal(r->requests[0].request_bytes.nz, 0);
	assert_int_equal(r->requests[0].response_bytes.nz, 0);
	rt_assert_str(r->reporter.workload, "unknown");
	rt_assert_str(r->reporter.canonical_service, "unknown");
	rt_assert_str(r->reporter.canonical_revision, "latest");
	mx_batch_free(bt);
	free(p);
}
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
		int rc = rt_decode(h->reqs[i].body, h->reqs[i].len, &bt, &r, &err);
		if (rc != MX_OK) {
			print_error("libmixd report %zu: %s\n", i, err.text);
			fail();
		}
		reports++;
		assert_true(r->sequence > seq);
		seq = r->sequence;
		rt_assert_str(r->reporter.workload, "reviews-v2");
		rt_assert_str(r->reporter.canonical_service, "reviews-v2");
		for (uint32_t j = 0; j < r->n_requests; j++) {
			const struct mx_request_agg *a = &r->requests[j];
			if (a->labels.overflow) {
				assert_int_equal(a->labels.role, MX_ROLE_UNSPECIFIED);
				overflowed += a->count;
				continue;
			}
			assert_int_equal(a->labels.role, MX_ROLE_DESTINATION);
			rt_assert_str(a->labels.response_code, "503");
			rt_assert_str(a->labels.response_flags, "UF");
			rt_assert_str(a->labels.peer.workload, "productpage-v1");
			rt_assert_str(a->labels.peer.canonical_revision, "latest");
			rt_assert_str(a->labels.destination_service_name, "reviews");
			count += a->count;
			dsum += (uint64_t)a->duration.sum;
		}
		for (uint32_t j = 0; j < r->n_tcp; j++) {
			rt_assert_str(r->tcp[j].labels.request_protocol, "tcp");
			opened += r->tcp[j].opened;
			sent += r->tcp[j].sent_bytes;
		}
		spans += r->n_spans;
		for (uint32_t j = 0; j < r->n_spans; j++)
			rt_assert_str(mx_span_service(&bt->spans[r->first_span + j]), "reviews-v2");
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
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_conventions),
		cmocka_unit_test(test_libmixd_reports),
	};
	return cmocka_run_group_tests(tests, rt_setup, NULL);
}
