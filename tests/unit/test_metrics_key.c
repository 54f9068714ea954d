/*
 * test_metrics_key.c - the series keys and hashes that
 * mx_mitem_build() (storage/metrics_item.c) makes on the submitting
 * thread: they must be exactly mx_metrics_make_key() of the labels in
 * Istio's order (mx_istio_labels()) and mx_metrics_key_hash() of that key
 * (both are stored: `series`, `series_hash`), for every role and kind,
 * with the shared source-side key start kept per local workload, when the
 * local workload changes within a report, for long labels (a start too
 * long to keep) and at the key size cap; and the compact deltas the
 * writer reads are those of the aggregates. Also the `counters` value
 * encoding (storage/metrics_db.c): compact, and the fixed layout of
 * earlier versions still read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/error.h"
#include "storage/metrics_int.h"

static struct mx_str S(struct mx_batch *b, const char *s)
{
	size_t n = strlen(s);
	char *p = mx_arena_strndup(&b->arena, s, n);
	assert_non_null(p);
	return (struct mx_str){ p, (uint32_t)n };
}

/* A workload whose values carry `tag` (and, with `len`, one value of
 * that many bytes). */
static void set_wl(struct mx_batch *b, struct mx_workload *w, const char *tag,
		   size_t len)
{
	char v[64];
	snprintf(v, sizeof(v), "%s-wl", tag);
	w->workload = S(b, v);
	snprintf(v, sizeof(v), "%s-ns", tag);
	w->workload_namespace = S(b, v);
	w->app = S(b, tag);
	w->version = S(b, "v1");
	snprintf(v, sizeof(v), "%s-canonical-service-name", tag);
	w->canonical_service = S(b, v);
	w->canonical_revision = S(b, "latest");
	w->cluster = S(b, "");
	snprintf(v, sizeof(v), "spiffe://cluster.local/ns/%s/sa/x", tag);
	w->principal = S(b, v);
	if (len) {
		char *p = mx_arena_alloc(&b->arena, len);
		assert_non_null(p);
		memset(p, 'p', len);
		w->principal = (struct mx_str){ p, (uint32_t)len };
	}
}

static void set_labels(struct mx_batch *b, struct mx_series_labels *l,
		       const struct mx_workload *local, int role, unsigned i)
{
	char v[64];
	l->role = (uint8_t)role;
	l->overflow = role == MX_ROLE_UNSPECIFIED;
	l->local = local;
	snprintf(v, sizeof(v), "peer%u", i);
	set_wl(b, &l->peer, v, 0);
	snprintf(v, sizeof(v), "svc%u.default.svc.cluster.local", i);
	l->destination_service = S(b, v);
	snprintf(v, sizeof(v), "svc%u", i);
	l->destination_service_name = S(b, v);
	l->destination_service_namespace = S(b, "default");
	l->request_protocol = S(b, i % 2 ? "grpc" : "http");
	l->response_code = S(b, i % 3 ? "200" : "503");
	l->grpc_response_status = S(b, i % 2 ? "0" : "");
	l->response_flags = S(b, "-");
	l->connection_security_policy = S(b, "mutual_tls");
}

/* Checks every update of the item of `r` against the reference key,
 * hash and deltas. */
static void check_item(struct mx_batch *b, const struct mx_report *r)
{
	struct mx_mitem *mi;
	static uint8_t ref[MX_MKEY_MAX];
	assert_int_equal(mx_mitem_build(b, r, &mi), MX_OK);
	assert_int_equal(mi->n_upd, r->n_requests + r->n_tcp);
	size_t total = 0;
	for (uint32_t i = 0; i < mi->n_upd; i++) {
		const struct mx_mupd *u = &mi->upd[i];
		bool tcp = i >= r->n_requests;
		const struct mx_series_labels *l = tcp
			? &r->tcp[i - r->n_requests].labels
			: &r->requests[i].labels;
		struct mx_str lab[MX_ISTIO_HTTP_LABELS];
		mx_istio_labels(l, tcp, lab);
		uint8_t kind = tcp ? MX_ISTIO_TCP : MX_ISTIO_HTTP;
		uint32_t n = mx_metrics_make_key(kind, lab, ref);
		assert_int_equal(u->kind, kind);
		assert_int_equal(u->key_len, n);
		assert_memory_equal(u->key, ref, n);
		assert_true(u->hash == mx_metrics_key_hash(ref, n));
		total += n;
		if (tcp) {
			const struct mx_tcp_agg *t = &r->tcp[i - r->n_requests];
			assert_true(u->count == t->opened);
			assert_true(u->u.tcp[0] == t->closed);
			assert_true(u->u.tcp[1] == t->sent_bytes);
			assert_true(u->u.tcp[2] == t->received_bytes);
			continue;
		}
		const struct mx_request_agg *a = &r->requests[i];
		const struct mx_hist_delta *h[3] = { &a->duration, &a->request_bytes,
						     &a->response_bytes };
		assert_true(u->count == a->count);
		for (int k = 0; k < 3; k++) {
			assert_int_equal(u->mask[k], h[k]->nz);
			for (uint32_t m = u->mask[k], j = 0; m; m &= m - 1, j++)
				assert_true(u->vals[k][j] ==
					    mx_hist_bucket(h[k], (uint32_t)__builtin_ctz(m)));
			assert_true(u->u.sum[k] == h[k]->sum);
		}
		assert_true(a->has_exemplar ? u->ex == &a->exemplar : u->ex == NULL);
	}
	assert_int_equal(mi->keys_len, total);
	mi->batch = NULL; /* the test frees it */
	mx_mitem_free(mi);
}

/* A report of `n` request and `nt` TCP aggregates of every role; the
 * local workload changes at `switch_at` (to `other`), and the local
 * principal is `plen` bytes long when plen is not 0. */
static struct mx_report *make_report(struct mx_batch *b, uint32_t n,
				     uint32_t nt, uint32_t switch_at,
				     size_t plen)
{
	struct mx_report *r = mx_arena_calloc(&b->arena, 1, sizeof(*r));
	struct mx_workload *other = mx_arena_calloc(&b->arena, 1, sizeof(*other));
	assert_non_null(r);
	assert_non_null(other);
	set_wl(b, &r->reporter, "me", plen);
	set_wl(b, other, "other", 0);
	r->requests = mx_arena_calloc(&b->arena, n + 1, sizeof(*r->requests));
	r->tcp = mx_arena_calloc(&b->arena, nt + 1, sizeof(*r->tcp));
	assert_non_null(r->requests);
	assert_non_null(r->tcp);
	r->n_requests = n;
	r->n_tcp = nt;
	r->batch = b;
	for (uint32_t i = 0; i < n + nt; i++) {
		const struct mx_workload *local = i >= switch_at ? other : &r->reporter;
		int role = i % 7 == 6 ? MX_ROLE_UNSPECIFIED :
			i % 3 == 2 ? MX_ROLE_DESTINATION : MX_ROLE_SOURCE;
		if (i >= n) {
			struct mx_tcp_agg *t = &r->tcp[i - n];
			set_labels(b, &t->labels, local, role, i);
			t->labels.request_protocol = S(b, "tcp");
			t->opened = i;
			t->closed = i + 1;
			t->sent_bytes = 1000u * i;
			t->received_bytes = 7u * i;
			continue;
		}
		struct mx_request_agg *a = &r->requests[i];
		uint64_t d[MX_HIST_BUCKETS] = { 0 }, q[MX_HIST_BUCKETS] = { 0 },
			 s[MX_HIST_BUCKETS] = { 0 };
		set_labels(b, &a->labels, local, role, i);
		d[i % MX_HIST_BUCKETS] = 2;
		d[(i * 7) % MX_HIST_BUCKETS] += 1;
		q[5] = 3;
		s[19] = UINT64_MAX - i;
		a->count = 3;
		assert_int_equal(mx_hist_set(&a->duration, d, &b->arena), MX_OK);
		assert_int_equal(mx_hist_set(&a->request_bytes, q, &b->arena), MX_OK);
		assert_int_equal(mx_hist_set(&a->response_bytes, s, &b->arena), MX_OK);
		a->duration.sum = 1.5 * i;
		a->request_bytes.sum = 300;
		a->response_bytes.sum = 0.25;
		if (i % 5 == 0) {
			a->has_exemplar = true;
			a->exemplar.trace_id[0] = (uint8_t)(i + 1);
		}
	}
	return r;
}

static void test_keys_and_hashes(void **state)
{
	(void)state;
	struct mx_batch *b = mx_batch_new(64u << 20);
	assert_non_null(b);
	check_item(b, make_report(b, 300, 60, 200, 0));      /* switch in HTTP */
	check_item(b, make_report(b, 40, 90, 100, 0));       /* switch in TCP */
	check_item(b, make_report(b, 50, 10, 1000, 33));     /* no switch */
	check_item(b, make_report(b, 30, 5, 1000, 2000));    /* start too long */
	check_item(b, make_report(b, 30, 5, 1000, 1000));    /* about KP_MAX */
	check_item(b, make_report(b, 1, 0, 1000, 0));
	check_item(b, make_report(b, 0, 0, 1000, 0));
	mx_batch_free(b);
}

/* A label set whose key would pass MX_MKEY_MAX is refused as a whole. */
static void test_key_cap(void **state)
{
	(void)state;
	struct mx_batch *b = mx_batch_new(64u << 20);
	struct mx_mitem *mi = NULL;
	assert_non_null(b);
	struct mx_report *r = make_report(b, 20, 0, 1000, 0);
	char *big = mx_arena_alloc(&b->arena, MX_MKEY_MAX);
	assert_non_null(big);
	memset(big, 'x', MX_MKEY_MAX);
	r->requests[7].labels.destination_service =
		(struct mx_str){ big, MX_MKEY_MAX - 200 };
	assert_int_equal(mx_mitem_build(b, r, &mi), MX_EINVAL);
	assert_null(mi);
	/* just under the cap it fits */
	struct mx_str lab[MX_ISTIO_HTTP_LABELS];
	static uint8_t ref[MX_MKEY_MAX];
	r->requests[7].labels.destination_service.len = 0;
	mx_istio_labels(&r->requests[7].labels, false, lab);
	uint32_t rest = mx_metrics_make_key(MX_ISTIO_HTTP, lab, ref);
	r->requests[7].labels.destination_service.len = MX_MKEY_MAX - rest;
	check_item(b, r);
	r->requests[7].labels.destination_service.len++;
	assert_int_equal(mx_mitem_build(b, r, &mi), MX_EINVAL);
	mx_batch_free(b);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

/* The counters value: written compact (only the listed buckets), read
 * back exactly; the fixed layout of earlier versions still read; damaged
 * values refused. */
static void test_counters_values(void **state)
{
	(void)state;
	struct mx_mvals v, w;
	uint8_t buf[MX_COUNTERS_MAX], kind;
	uint64_t last;
	memset(&v, 0, sizeof(v));
	v.count = 1ull << 40;
	v.dur[0] = 1;
	v.dur[19] = UINT64_MAX;
	v.req[7] = 300;
	v.resp[12] = 5;
	v.dur_sum = 0.1;
	v.req_sum = 1e300;
	v.resp_sum = 0;
	size_t n = mx_metrics_enc_counters(MX_ISTIO_HTTP, 77, &v, NULL, buf);
	assert_true(n < 100);
	assert_int_equal(buf[1] & 0x2, 0x2);
	assert_true(mx_metrics_dec_counters(buf, n, &kind, &last, &w));
	assert_int_equal(kind, MX_ISTIO_HTTP);
	assert_true(last == 77);
	assert_memory_equal(&v, &w, sizeof(v));
	for (size_t cut = 16; cut < n; cut++) /* every truncation refused */
		assert_false(mx_metrics_dec_counters(buf, cut, &kind, &last, &w));
	/* masks that list zero buckets too (a superset) read the same */
	uint32_t all[3] = { 0xfffff, 0xfffff, 0xfffff };
	size_t m = mx_metrics_enc_counters(MX_ISTIO_HTTP, 77, &v, all, buf);
	assert_true(m > n);
	assert_true(mx_metrics_dec_counters(buf, m, &kind, &last, &w));
	assert_memory_equal(&v, &w, sizeof(v));
	/* the fixed layout of earlier versions */
	uint8_t fx[16 + 8 * 64];
	memset(fx, 0, sizeof(fx));
	fx[0] = MX_ISTIO_HTTP;
	fx[1] = 0x1; /* overflow series */
	put64(fx + 8, 99);
	put64(fx + 16, v.count);
	put64(fx + 24, v.dur[0]);
	put64(fx + 24 + 19 * 8, v.dur[19]);
	put64(fx + 24 + 27 * 8, v.req[7]);
	put64(fx + 24 + 52 * 8, v.resp[12]);
	double sums[3] = { v.dur_sum, v.req_sum, v.resp_sum };
	for (int i = 0; i < 3; i++) {
		uint64_t bits;
		memcpy(&bits, &sums[i], 8);
		put64(fx + 16 + (61 + i) * 8, bits);
	}
	assert_true(mx_metrics_dec_counters(fx, sizeof(fx), &kind, &last, &w));
	assert_true(last == 99);
	assert_memory_equal(&v, &w, sizeof(v));
	assert_false(mx_metrics_dec_counters(fx, sizeof(fx) - 8, &kind, &last, &w));
	/* TCP */
	memset(&v, 0, sizeof(v));
	v.count = 3;
	v.tcp_closed = 2;
	v.tcp_sent = 1ull << 63;
	v.tcp_received = 0;
	n = mx_metrics_enc_counters(MX_ISTIO_TCP, 5, &v, NULL, buf);
	assert_true(mx_metrics_dec_counters(buf, n, &kind, &last, &w));
	assert_int_equal(kind, MX_ISTIO_TCP);
	assert_memory_equal(&v, &w, sizeof(v));
	buf[n] = 0; /* a byte too many */
	assert_false(mx_metrics_dec_counters(buf, n + 1, &kind, &last, &w));
	/* a mask with bits past the 20 buckets */
	memset(&v, 0, sizeof(v));
	n = mx_metrics_enc_counters(MX_ISTIO_HTTP, 5, &v, NULL, buf);
	assert_int_equal(buf[17], 0); /* the duration mask, one byte */
	memmove(buf + 20, buf + 18, n - 18);
	buf[17] = 0x80; /* the mask 1 << 20, three bytes: no bucket 20 */
	buf[18] = 0x80;
	buf[19] = 0x40;
	memmove(buf + 21, buf + 20, n - 18);
	buf[20] = 1; /* with a value for it */
	assert_false(mx_metrics_dec_counters(buf, n + 3, &kind, &last, &w));
	buf[19] = 0x20; /* 1 << 19: bucket 19, fine */
	assert_true(mx_metrics_dec_counters(buf, n + 3, &kind, &last, &w));
	assert_true(w.dur[19] == 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_and_hashes),
		cmocka_unit_test(test_key_cap),
		cmocka_unit_test(test_counters_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
