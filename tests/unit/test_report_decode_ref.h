/*
 * test_report_decode_ref.h - the reference of the differential test of
 * the native report decoder (test_report_decode_diff.c): ref_decode()
 * decodes a report the way the former decoder did, built on protobuf-c.
 * It splits off the span fields with the former top-level checks and
 * messages, lets protobuf-c unpack the rest (so protobuf-c decides what is
 * malformed, how repeated fields merge and which value wins), computes
 * the expected model from the unpacked structs with the checks, messages
 * and Istio conventions of codec/report.h, and converts the spans with
 * the OTLP decoder. diff_one() decodes with both and compares verdict,
 * message and every value. All static: include it in one test only.
 */
#ifndef MX_TEST_REPORT_DECODE_REF_H
#define MX_TEST_REPORT_DECODE_REF_H

#include <math.h>

#include "report_test_util.h"
#include "../../codec/otlp.h"

static size_t put_varint_(uint8_t *o, uint64_t v)
{
	size_t n = 0;
	for (; v >= 0x80; v >>= 7)
		o[n++] = (uint8_t)(v | 0x80);
	o[n++] = (uint8_t)v;
	return n;
}

static size_t varint_len_(uint64_t v)
{
	uint8_t tmp[10];
	return put_varint_(tmp, v);
}

/* --- the reference --- */

struct ref {
	struct mx_batch *b;
	const struct mx_decode_limits *lim;
	struct mx_errmsg *err;
	struct mx_str *s;
	size_t ns;
	bool oom;
};

static void *ref_alloc(void *data, size_t size)
{
	struct ref *x = data;
	void *p = mx_arena_alloc(&x->b->arena, size);
	x->oom |= !p;
	return p;
}

static void ref_free(void *data, void *ptr)
{
	(void)data;
	(void)ptr;
}

static bool ref_varint(const uint8_t *b, size_t *pos, size_t end, uint64_t *v)
{
	*v = 0;
	for (unsigned i = 0; i < 10 && *pos < end; i++) {
		uint8_t c = b[(*pos)++];
		*v |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80))
			return true;
	}
	return false;
}

/* The former split: top-level checks (with offsets); `rest` gets the
 * non-span fields, `sp` the span fields re-keyed as ScopeSpans.spans. */
static int ref_split(const uint8_t *buf, size_t len, struct mx_errmsg *err,
		     uint8_t *rest, size_t *rn, uint8_t *sp, size_t *sn)
{
	size_t pos = 0;
	*rn = *sn = 0;
	while (pos < len) {
		size_t at = pos, body;
		uint64_t key, v;
		if (!ref_varint(buf, &pos, len, &key) || (key >> 3) == 0 ||
		    (key >> 3) > 0x1fffffff) {
			mx_errmsg_set(err, "report: bad field key at offset %zu", at);
			return MX_EINVAL;
		}
		body = pos;
		unsigned wt = (unsigned)(key & 7);
		bool ok = true;
		if (wt == 0)
			ok = ref_varint(buf, &pos, len, &v);
		else if (wt == 1 || wt == 5)
			ok = len - pos >= (wt == 1 ? 8u : 4u) &&
			     (pos += wt == 1 ? 8 : 4);
		else if (wt == 2)
			ok = ref_varint(buf, &pos, len, &v) && v <= len - pos &&
			     ((pos += (size_t)v), true);
		else {
			mx_errmsg_set(err, "report: unsupported wire type %u at "
				      "offset %zu", wt, at);
			return MX_EINVAL;
		}
		if (!ok) {
			mx_errmsg_set(err, "report: field %u at offset %zu runs past "
				      "the end of the report", (unsigned)(key >> 3), at);
			return MX_EINVAL;
		}
		if ((key >> 3) == 9 && wt == 2) {
			sp[(*sn)++] = 0x12;
			memcpy(sp + *sn, buf + body, pos - body);
			*sn += pos - body;
		} else {
			memcpy(rest + *rn, buf + at, pos - at);
			*rn += pos - at;
		}
	}
	return MX_OK;
}

/* UTF-8 by code point: no overlong forms, surrogates, or past U+10FFFF. */
static bool ref_utf8(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	for (size_t i = 0; i < n;) {
		uint32_t c = s[i], k = c < 0x80 ? 0 : c >= 0xf0 ? 3 : c >= 0xe0 ? 2 :
			c >= 0xc0 ? 1 : 9;
		if (k == 9 || c > 0xf7 || n - i <= k)
			return false;
		c &= k ? 0x3fu >> k : 0x7fu;
		for (uint32_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			c = c << 6 | (s[i + j] & 0x3f);
		}
		static const uint32_t min[4] = { 0, 0x80, 0x800, 0x10000 };
		if (c < min[k] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

static int ref_str(struct ref *x, uint32_t i, struct mx_str d, const char *what,
		   struct mx_str *o)
{
	if (i >= x->ns) {
		mx_errmsg_set(x->err, "report: %s: string index %u out of range "
			      "(%zu strings)", what, i, x->ns);
		return MX_EINVAL;
	}
	*o = x->s[i].len ? x->s[i] : d;
	return MX_OK;
}

static int ref_wl(struct ref *x, const pb_workload *w, bool local,
		  struct mx_workload *o)
{
	static const pb_workload none = MIXD__REPORT__V1__WORKLOAD__INIT;
	if (!w)
		w = &none;
	const uint32_t idx[8] = { w->workload, w->namespace_, w->app, w->version,
		w->canonical_service, w->canonical_revision, w->cluster,
		w->principal };
	struct mx_str *f[8] = { &o->workload, &o->workload_namespace, &o->app,
		&o->version, &o->canonical_service, &o->canonical_revision,
		&o->cluster, &o->principal };
	for (int i = 0; i < 8; i++) {
		struct mx_str d = i == 5 ? MX_STR_LIT("latest") :
			i == 4 && local ? o->workload : MX_STR_LIT("unknown");
		if (ref_str(x, idx[i], d, local ? "reporter" : "peer", f[i]))
			return MX_EINVAL;
	}
	return MX_OK;
}

static int ref_series(struct ref *x, const pb_series *p, bool tcp,
		      const struct mx_workload *local, struct mx_series_labels *l)
{
	const struct mx_str unk = MX_STR_LIT("unknown");
	if (!p) {
		mx_errmsg_set(x->err, "report: a %s delta without series",
			      tcp ? "TCP" : "request");
		return MX_EINVAL;
	}
	int role = (int)p->role;
	if (role != 1 && role != 2 && !(role == 0 && p->overflow)) {
		mx_errmsg_set(x->err, "report: series role %d is neither source "
			      "nor destination", role);
		return MX_EINVAL;
	}
	l->role = (uint8_t)role;
	l->overflow = p->overflow;
	l->local = local;
	if (ref_wl(x, p->peer, false, &l->peer) ||
	    ref_str(x, p->destination_service, role == 2 ?
		    local->canonical_service : unk, "service",
		    &l->destination_service))
		return MX_EINVAL;
	struct mx_str h = l->destination_service, nd = unk;
	const char *dot = h.len ? memchr(h.ptr, '.', h.len) : NULL;
	if (h.len && (dot ? dot != h.ptr : true))
		nd = (struct mx_str){ h.ptr, dot ? (uint32_t)(dot - h.ptr) : h.len };
	if (ref_str(x, p->destination_service_name, nd, "service name",
		    &l->destination_service_name) ||
	    ref_str(x, p->destination_service_namespace, role == 1 ?
		    l->peer.workload_namespace : unk, "service namespace",
		    &l->destination_service_namespace) ||
	    ref_str(x, p->request_protocol, tcp ? MX_STR_LIT("tcp") : unk,
		    "protocol", &l->request_protocol) ||
	    ref_str(x, p->response_flags, MX_STR_LIT("-"), "flags",
		    &l->response_flags) ||
	    ref_str(x, p->connection_security_policy, unk, "security",
		    &l->connection_security_policy))
		return MX_EINVAL;
	if (tcp) {
		l->response_code = l->grpc_response_status = MX_STR_LIT("");
		return MX_OK;
	}
	if (ref_str(x, p->grpc_response_status, MX_STR_LIT(""), "grpc status",
		    &l->grpc_response_status))
		return MX_EINVAL;
	char tmp[16];
	int n = snprintf(tmp, sizeof(tmp), "%u", p->response_code);
	char *c = mx_arena_strndup(&x->b->arena, tmp, (size_t)n);
	if (!c)
		return MX_ENOMEM;
	l->response_code = (struct mx_str){ c, (uint32_t)n };
	return MX_OK;
}

static int ref_hist(struct ref *x, const char *what, size_t n, const uint64_t *v,
		    double sum, uint64_t count, struct mx_hist_delta *o)
{
	uint64_t t = 0, dense[MX_HIST_BUCKETS] = { 0 };
	if (n != 0 && n != MX_HIST_BUCKETS) {
		mx_errmsg_set(x->err, "report: %s has %zu buckets, want 0 or %d",
			      what, n, MX_HIST_BUCKETS);
		return MX_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (__builtin_add_overflow(t, v[i], &t)) {
			mx_errmsg_set(x->err, "report: %s bucket counts overflow", what);
			return MX_EINVAL;
		}
		dense[i] = v[i];
	}
	if (t != count) {
		mx_errmsg_set(x->err, "report: %s buckets sum to %llu, the request "
			      "count is %llu", what, (unsigned long long)t,
			      (unsigned long long)count);
		return MX_EINVAL;
	}
	if (!(sum >= 0) || isinf(sum)) {
		mx_errmsg_set(x->err, "report: %s sum is negative or not finite", what);
		return MX_EINVAL;
	}
	o->sum = sum;
	return mx_hist_set(o, dense, &x->b->arena);
}

static int ref_request(struct ref *x, const pb_request *p,
		       const struct mx_workload *local, struct mx_request_agg *a)
{
	memset(a, 0, sizeof(*a));
	a->count = p->count;
	int rc = ref_series(x, p->series, false, local, &a->labels);
	if (!rc)
		rc = ref_hist(x, "duration", p->n_duration_buckets, p->duration_buckets,
			      p->duration_sum, p->count, &a->duration);
	if (!rc)
		rc = ref_hist(x, "request bytes", p->n_request_bytes_buckets,
			      p->request_bytes_buckets, p->request_bytes_sum,
			      p->count, &a->request_bytes);
	if (!rc)
		rc = ref_hist(x, "response bytes", p->n_response_bytes_buckets,
			      p->response_bytes_buckets, p->response_bytes_sum,
			      p->count, &a->response_bytes);
	if (rc)
		return rc;
	size_t tl = p->exemplar_trace_id.len, sl = p->exemplar_span_id.len;
	if ((tl && tl != 16) || (sl && sl != 8)) {
		mx_errmsg_set(x->err, "report: exemplar ids must be 16 and 8 bytes "
			      "(got %zu and %zu)", tl, sl);
		return MX_EINVAL;
	}
	static const uint8_t zero[16];
	if (!tl || !memcmp(p->exemplar_trace_id.data, zero, 16))
		return MX_OK;
	if (!(p->exemplar_duration >= 0) || isinf(p->exemplar_duration)) {
		mx_errmsg_set(x->err, "report: exemplar value is negative or not "
			      "finite");
		return MX_EINVAL;
	}
	a->has_exemplar = true;
	memcpy(a->exemplar.trace_id, p->exemplar_trace_id.data, 16);
	if (sl)
		memcpy(a->exemplar.span_id, p->exemplar_span_id.data, 8);
	a->exemplar.value = p->exemplar_duration;
	a->exemplar.time_ns = p->exemplar_time_unix_nano;
	return MX_OK;
}

static int ref_convert(struct ref *x, const pb_report *r, struct mx_report *o)
{
	struct mx_arena *ar = &x->b->arena;
	if (r->instance_id.len != 16) {
		mx_errmsg_set(x->err, "report: instance_id must be 16 bytes, not %zu",
			      r->instance_id.len);
		return MX_EINVAL;
	}
	if (!r->sequence) {
		mx_errmsg_set(x->err, "report: sequence must be 1 or more");
		return MX_EINVAL;
	}
	memcpy(o->instance_id, r->instance_id.data, 16);
	o->sequence = r->sequence;
	o->interval_start_ns = r->interval_start_unix_nano;
	o->interval_end_ns = r->interval_end_unix_nano;
	o->dropped_spans = r->dropped_spans;
	o->overflow_series = r->overflow_series;
	o->batch = x->b;
	x->ns = r->n_strings ? r->n_strings : 1;
	x->s = mx_arena_calloc(ar, x->ns, sizeof(*x->s));
	if (!x->s)
		return MX_ENOMEM;
	if (r->n_strings && r->strings[0][0]) {
		mx_errmsg_set(x->err, "report: strings[0] must be empty");
		return MX_EINVAL;
	}
	for (size_t i = 1; i < r->n_strings; i++) {
		size_t n = strlen(r->strings[i]);
		if (n > x->lim->max_value_bytes) {
			mx_errmsg_set(x->err, "report: strings[%zu] is longer than %u "
				      "bytes", i, x->lim->max_value_bytes);
			return MX_EINVAL;
		}
		if (!ref_utf8(r->strings[i], n)) {
			mx_errmsg_set(x->err, "report: strings[%zu] is not UTF-8", i);
			return MX_EINVAL;
		}
		x->s[i] = (struct mx_str){ r->strings[i], (uint32_t)n };
	}
	const char *lv = r->library_version ? r->library_version : "";
	if (strlen(lv) > x->lim->max_value_bytes || !ref_utf8(lv, strlen(lv))) {
		mx_errmsg_set(x->err, "report: bad library_version");
		return MX_EINVAL;
	}
	o->library_version = (struct mx_str){ lv, (uint32_t)strlen(lv) };
	if (ref_wl(x, r->reporter, true, &o->reporter))
		return MX_EINVAL;
	o->requests = mx_arena_calloc(ar, r->n_requests + 1, sizeof(*o->requests));
	o->tcp = mx_arena_calloc(ar, r->n_tcp + 1, sizeof(*o->tcp));
	if (!o->requests || !o->tcp)
		return MX_ENOMEM;
	int rc = MX_OK;
	for (size_t i = 0; i < r->n_requests && !rc; i++)
		rc = ref_request(x, r->requests[i], &o->reporter, &o->requests[i]);
	for (size_t i = 0; i < r->n_tcp && !rc; i++) {
		struct mx_tcp_agg *t = &o->tcp[i];
		t->opened = r->tcp[i]->connections_opened;
		t->closed = r->tcp[i]->connections_closed;
		t->sent_bytes = r->tcp[i]->sent_bytes;
		t->received_bytes = r->tcp[i]->received_bytes;
		rc = ref_series(x, r->tcp[i]->series, true, &o->reporter, &t->labels);
	}
	o->n_requests = (uint32_t)r->n_requests;
	o->n_tcp = (uint32_t)r->n_tcp;
	return rc;
}

/* The spans: the OTLP decoder on request{ResourceSpans{ScopeSpans{..}}},
 * then the reporter's resource and the libmixd scope on each. */
static int ref_spans(struct ref *x, const uint8_t *sp, size_t sn,
		     const pb_workload *w, struct mx_report *o)
{
	struct mx_batch *b = x->b;
	o->first_span = b->n_spans;
	if (!sn)
		return MX_OK;
	uint8_t *q = malloc(sn + 32);
	assert_non_null(q);
	size_t n = 0;
	q[n++] = 0x0a;
	n += put_varint_(q + n, 1 + varint_len_(sn) + sn);
	q[n++] = 0x12;
	n += put_varint_(q + n, sn);
	memcpy(q + n, sp, sn);
	int rc = mx_otlp_decode_proto(q, n + sn, x->lim, b, x->err);
	free(q);
	if (rc)
		return rc;
	o->n_spans = b->n_spans - o->first_span;
	if (!o->n_spans)
		return MX_OK;
	struct mx_resource *res = mx_arena_calloc(&b->arena, 1, sizeof(*res));
	struct mx_scope *sc = mx_arena_calloc(&b->arena, 1, sizeof(*sc));
	res->attrs.items = mx_arena_calloc(&b->arena, 9, sizeof(struct mx_attr));
	static const char *const keys[9] = { "service.name", "istio.workload",
		"istio.namespace", "istio.app", "istio.version",
		"istio.canonical_service", "istio.canonical_revision",
		"istio.cluster", "istio.principal" };
	uint32_t idx[9] = { 0 };
	if (w) {
		const uint32_t v[8] = { w->workload, w->namespace_, w->app,
			w->version, w->canonical_service, w->canonical_revision,
			w->cluster, w->principal };
		memcpy(idx + 1, v, sizeof(v));
	}
	for (int i = 0; i < 9; i++) {
		struct mx_str v = i ? x->s[idx[i]] : o->reporter.canonical_service;
		if (!v.len)
			continue;
		struct mx_attr *a = &res->attrs.items[res->attrs.n++];
		a->key = (struct mx_str){ keys[i], (uint32_t)strlen(keys[i]) };
		a->value.type = MX_VAL_STRING;
		a->value.u.s = v;
	}
	sc->name = MX_STR_LIT("libmixd");
	sc->version = o->library_version;
	for (uint32_t i = o->first_span; i < b->n_spans; i++) {
		b->spans[i].resource = res;
		b->spans[i].scope = sc;
	}
	return MX_OK;
}

static int ref_decode(const uint8_t *buf, size_t len,
		      const struct mx_decode_limits *lim, struct mx_batch *b,
		      struct mx_report **out, struct mx_errmsg *err)
{
	struct ref x = { .b = b, .lim = lim, .err = err };
	uint8_t *rest = malloc(len + 1), *sp = malloc(len + 1);
	size_t rn, sn;
	assert_true(rest && sp);
	*out = NULL;
	int rc = ref_split(buf, len, err, rest, &rn, sp, &sn);
	if (!rc) {
		ProtobufCAllocator al = { ref_alloc, ref_free, &x };
		pb_report *r = mixd__report__v1__report__unpack(&al, rn, rest);
		struct mx_report *o = mx_arena_calloc(&b->arena, 1, sizeof(*o));
		if (!r || !o) {
			rc = x.oom || !o ? MX_ENOMEM : MX_EINVAL;
			if (rc == MX_EINVAL)
				mx_errmsg_set(err, "protobuf: not a valid mixd Report");
		} else {
			rc = ref_convert(&x, r, o);
			if (!rc)
				rc = ref_spans(&x, sp, sn, r->reporter, o);
			if (!rc)
				*out = o;
		}
	}
	if (rc == MX_ENOMEM)
		mx_errmsg_set(err, "report too large for the batch memory cap");
	free(rest);
	free(sp);
	return rc;
}


/* --- comparison --- */

static const char *cmp_what;

#define CMP(cond) do { if (!(cond)) { \
	print_error("%s: mismatch: %s (line %d)\n", cmp_what, #cond, __LINE__); \
	fail(); } } while (0)

static bool str_eq(struct mx_str a, struct mx_str b)
{
	return a.len == b.len && (!a.len || !memcmp(a.ptr, b.ptr, a.len));
}

static void cmp_wl(const struct mx_workload *a, const struct mx_workload *b)
{
	CMP(str_eq(a->workload, b->workload) &&
	    str_eq(a->workload_namespace, b->workload_namespace) &&
	    str_eq(a->app, b->app) && str_eq(a->version, b->version) &&
	    str_eq(a->canonical_service, b->canonical_service) &&
	    str_eq(a->canonical_revision, b->canonical_revision) &&
	    str_eq(a->cluster, b->cluster) && str_eq(a->principal, b->principal));
}

static void cmp_labels(const struct mx_series_labels *a,
		       const struct mx_series_labels *b, bool tcp)
{
	struct mx_str x[MX_ISTIO_HTTP_LABELS], y[MX_ISTIO_HTTP_LABELS];
	CMP(a->role == b->role && a->overflow == b->overflow);
	CMP(a->local && b->local);
	cmp_wl(a->local, b->local);
	cmp_wl(&a->peer, &b->peer);
	mx_istio_labels(a, tcp, x);
	mx_istio_labels(b, tcp, y);
	for (int i = 0; i < MX_ISTIO_HTTP_LABELS; i++)
		CMP(str_eq(x[i], y[i]));
}

static void cmp_hist(const struct mx_hist_delta *a, const struct mx_hist_delta *b)
{
	CMP(a->nz == b->nz);
	for (uint32_t i = 0; i < MX_HIST_BUCKETS; i++)
		CMP(mx_hist_bucket(a, i) == mx_hist_bucket(b, i));
	CMP(!memcmp(&a->sum, &b->sum, sizeof(a->sum)));
}

static void cmp_report(const struct mx_report *a, const struct mx_report *b)
{
	CMP(!memcmp(a->instance_id, b->instance_id, 16));
	CMP(a->sequence == b->sequence && a->dropped_spans == b->dropped_spans &&
	    a->overflow_series == b->overflow_series);
	CMP(a->interval_start_ns == b->interval_start_ns &&
	    a->interval_end_ns == b->interval_end_ns);
	CMP(str_eq(a->library_version, b->library_version));
	cmp_wl(&a->reporter, &b->reporter);
	CMP(a->n_requests == b->n_requests && a->n_tcp == b->n_tcp);
	for (uint32_t i = 0; i < a->n_requests; i++) {
		const struct mx_request_agg *x = &a->requests[i], *y = &b->requests[i];
		cmp_labels(&x->labels, &y->labels, false);
		CMP(x->count == y->count && x->has_exemplar == y->has_exemplar);
		cmp_hist(&x->duration, &y->duration);
		cmp_hist(&x->request_bytes, &y->request_bytes);
		cmp_hist(&x->response_bytes, &y->response_bytes);
		CMP(!memcmp(&x->exemplar, &y->exemplar, sizeof(x->exemplar)));
	}
	for (uint32_t i = 0; i < a->n_tcp; i++) {
		const struct mx_tcp_agg *x = &a->tcp[i], *y = &b->tcp[i];
		cmp_labels(&x->labels, &y->labels, true);
		CMP(x->opened == y->opened && x->closed == y->closed &&
		    x->sent_bytes == y->sent_bytes &&
		    x->received_bytes == y->received_bytes);
	}
	CMP(a->first_span == b->first_span && a->n_spans == b->n_spans);
	for (uint32_t i = 0; i < a->n_spans; i++) {
		const struct mx_span *x = &a->batch->spans[a->first_span + i];
		const struct mx_span *y = &b->batch->spans[b->first_span + i];
		CMP(!memcmp(x->trace_id, y->trace_id, 16) && str_eq(x->name, y->name));
		CMP(str_eq(x->scope->name, y->scope->name) &&
		    str_eq(x->scope->version, y->scope->version));
		CMP(x->resource->attrs.n == y->resource->attrs.n);
		for (uint32_t k = 0; k < x->resource->attrs.n; k++) {
			const struct mx_attr *p = &x->resource->attrs.items[k];
			const struct mx_attr *q = &y->resource->attrs.items[k];
			CMP(str_eq(p->key, q->key) && str_eq(p->value.u.s, q->value.u.s));
		}
	}
}

static unsigned n_ok, n_bad;

/* Decodes `p` with both and compares verdict, message and result. */
static void diff_one(const uint8_t *p, size_t n, const struct mx_decode_limits *lim)
{
	struct mx_batch *ba = mx_batch_new(64u << 20), *bb = mx_batch_new(64u << 20);
	struct mx_report *ra = (struct mx_report *)1, *rb = NULL;
	struct mx_errmsg ea = { .set = 0 }, eb = { .set = 0 };
	assert_true(ba && bb);
	int rca = mx_report_decode(p, n, lim, ba, &ra, &ea);
	int rcb = ref_decode(p, n, lim, bb, &rb, &eb);
	if (rca != rcb || strcmp(ea.text, eb.text) != 0) {
		print_error("%s: decoder rc %d \"%s\", reference rc %d \"%s\"\n",
			    cmp_what, rca, ea.text, rcb, eb.text);
		fail();
	}
	CMP((ra != NULL) == (rca == MX_OK) && (rb != NULL) == (rcb == MX_OK));
	if (rca == MX_OK) {
		CMP(ba->n_spans == bb->n_spans &&
		    ba->rejected_spans == bb->rejected_spans);
		cmp_report(ra, rb);
		n_ok++;
	} else {
		n_bad++;
	}
	mx_batch_free(ba);
	mx_batch_free(bb);
}

#endif
