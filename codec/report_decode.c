/*
 * report_decode.c - libmixd's native report -> metrics model and spans
 * (see report.h).
 *
 * Steps: (1) one pass over the top-level fields of the Report checks the
 * wire structure and splits the body in two: the Span fields (9) are
 * wrapped into a synthetic ExportTraceServiceRequest (request ->
 * ResourceSpans -> ScopeSpans -> spans), everything else is copied into a
 * Report without spans. (2) protobuf-c unpacks the span-less Report with
 * an allocator on the batch arena; its schema has no recursion, so no
 * nesting pre-scan is needed. (3) The unpacked tree is checked and
 * converted, strings resolved through the string table with Istio's
 * conventions. (4) The synthetic request goes through the OTLP decoder
 * (nesting pre-scan, caps, id checks, per-span rejection), and the spans it
 * appended get the reporter's resource and the libmixd scope.
 */
#include "report.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mixd/report.pb-c.h"

#include "../model/error.h"
#include "otlp.h"

typedef Mixd__Report__V1__Report pb_report;
typedef Mixd__Report__V1__Workload pb_workload;
typedef Mixd__Report__V1__Series pb_series;
typedef Mixd__Report__V1__RequestDelta pb_request;
typedef Mixd__Report__V1__TcpDelta pb_tcp;

#define RD_SPANS_FIELD 9

struct rd {
	struct mx_batch *b;
	const struct mx_decode_limits *lim;
	struct mx_errmsg *err;
	const pb_report *r;
	struct mx_str *strs; /* the string table as mx_str, [0] = "" */
	size_t n_strs;
	bool oom;
};

static void *rd_alloc(void *data, size_t size)
{
	struct rd *rd = data;
	void *p = mx_arena_alloc(&rd->b->arena, size);
	if (!p)
		rd->oom = true;
	return p;
}

static void rd_free(void *data, void *ptr)
{
	(void)data;
	(void)ptr; /* the arena frees everything with the batch */
}

static bool rd_varint(const uint8_t *buf, size_t *pos, size_t end,
		      uint64_t *out)
{
	uint64_t v = 0;
	size_t p = *pos;
	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (p >= end)
			return false;
		uint8_t c = buf[p++];
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*pos = p;
			*out = v;
			return true;
		}
	}
	return false;
}

static size_t rd_put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static size_t rd_varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Step 1: splits `buf` into `rest` (a Report without spans) and `spans` (a
 * synthetic ExportTraceServiceRequest holding the Span fields), both
 * malloc'd; *spans is NULL when the report holds no span. */
static int rd_split(const uint8_t *buf, size_t len, struct mx_errmsg *err,
		    uint8_t **rest, size_t *rest_len, uint8_t **spans,
		    size_t *spans_len)
{
	size_t pos = 0, rn = 0, span_bytes = 0, n_spans = 0;
	uint8_t *r = malloc(len ? len : 1);
	if (!r)
		return MX_ENOMEM;
	*rest = r;
	*spans = NULL;
	/* pass 1: check the wire structure, copy non-span fields */
	while (pos < len) {
		size_t at = pos;
		uint64_t key, v;
		if (!rd_varint(buf, &pos, len, &key) || (key >> 3) == 0 ||
		    (key >> 3) > 0x1fffffff)
			goto bad_key;
		size_t body = pos; /* past the key (which may be overlong) */
		unsigned wt = (unsigned)(key & 7);
		switch (wt) {
		case 0:
			if (!rd_varint(buf, &pos, len, &v))
				goto truncated;
			break;
		case 1:
			if (len - pos < 8)
				goto truncated;
			pos += 8;
			break;
		case 5:
			if (len - pos < 4)
				goto truncated;
			pos += 4;
			break;
		case 2:
			if (!rd_varint(buf, &pos, len, &v) || v > len - pos)
				goto truncated;
			pos += (size_t)v;
			break;
		default:
			mx_errmsg_set(err, "report: unsupported wire type %u at "
				      "offset %zu", wt, at);
			return MX_EINVAL;
		}
		if ((key >> 3) == RD_SPANS_FIELD && wt == 2) {
			span_bytes += 1 + (pos - body); /* one-byte key 0x12 */
			n_spans++;
		} else {
			memcpy(r + rn, buf + at, pos - at);
			rn += pos - at;
		}
		continue;
bad_key:
		mx_errmsg_set(err, "report: bad field key at offset %zu", at);
		return MX_EINVAL;
truncated:
		mx_errmsg_set(err, "report: field %u at offset %zu runs past the "
			      "end of the report", (unsigned)(key >> 3), at);
		return MX_EINVAL;
	}
	*rest_len = rn;
	if (n_spans == 0)
		return MX_OK;
	/* pass 2: request{1: ResourceSpans{2: ScopeSpans{2: span...}}}; the
	 * span fields are re-keyed from Report.spans (9) to ScopeSpans.spans
	 * (2, a one-byte key), which span_bytes counted already */
	size_t ss = span_bytes;
	size_t rs = 1 + rd_varint_len(ss) + ss;
	size_t total = 1 + rd_varint_len(rs) + rs;
	uint8_t *s = malloc(total);
	if (!s)
		return MX_ENOMEM;
	size_t n = 0;
	s[n++] = 0x0a; /* request.resource_spans, field 1, LEN */
	n += rd_put_varint(s + n, rs);
	s[n++] = 0x12; /* ResourceSpans.scope_spans, field 2, LEN */
	n += rd_put_varint(s + n, ss);
	pos = 0;
	while (pos < len) {
		uint64_t key = 0, v = 0;
		rd_varint(buf, &pos, len, &key); /* checked in pass 1 */
		size_t body = pos;
		unsigned wt = (unsigned)(key & 7);
		if (wt == 0)
			rd_varint(buf, &pos, len, &v);
		else if (wt == 1)
			pos += 8;
		else if (wt == 5)
			pos += 4;
		else {
			rd_varint(buf, &pos, len, &v);
			pos += (size_t)v;
		}
		if ((key >> 3) == RD_SPANS_FIELD && wt == 2) {
			s[n++] = 0x12; /* ScopeSpans.spans, field 2, LEN */
			memcpy(s + n, buf + body, pos - body);
			n += pos - body;
		}
	}
	*spans = s;
	*spans_len = n;
	return MX_OK;
}

/* True when s[0..n) is well-formed UTF-8 (no overlong forms, surrogates or
 * code points past U+10FFFF). */
static bool rd_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k;
		unsigned lo = 0x80, hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return false;
		if (n - i <= k)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t j = 2; j <= k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
		i += k + 1;
	}
	return true;
}

static int rd_strings(struct rd *rd)
{
	const pb_report *r = rd->r;
	size_t n = r->n_strings ? r->n_strings : 1;
	rd->strs = mx_arena_calloc(&rd->b->arena, n, sizeof(*rd->strs));
	if (!rd->strs)
		return MX_ENOMEM;
	rd->n_strs = n;
	rd->strs[0] = MX_STR_LIT("");
	if (r->n_strings && r->strings[0] && r->strings[0][0]) {
		mx_errmsg_set(rd->err, "report: strings[0] must be empty");
		return MX_EINVAL;
	}
	for (size_t i = 1; i < r->n_strings; i++) {
		const char *s = r->strings[i] ? r->strings[i] : "";
		size_t len = strlen(s);
		if (len > rd->lim->max_value_bytes) {
			mx_errmsg_set(rd->err, "report: strings[%zu] is longer than "
				      "%u bytes", i, rd->lim->max_value_bytes);
			return MX_EINVAL;
		}
		if (!rd_utf8((const unsigned char *)s, len)) {
			mx_errmsg_set(rd->err, "report: strings[%zu] is not UTF-8", i);
			return MX_EINVAL;
		}
		rd->strs[i] = (struct mx_str){ s, (uint32_t)len };
	}
	return MX_OK;
}

/* Resolves string index `idx`; an empty string becomes `dflt`. */
static int rd_str(struct rd *rd, uint32_t idx, struct mx_str dflt,
		  const char *what, struct mx_str *out)
{
	if (idx >= rd->n_strs) {
		mx_errmsg_set(rd->err, "report: %s: string index %u out of range "
			      "(%zu strings)", what, idx, rd->n_strs);
		return MX_EINVAL;
	}
	*out = rd->strs[idx].len ? rd->strs[idx] : dflt;
	return MX_OK;
}

/* Resolves a workload: empty values read "unknown", an empty canonical
 * revision "latest"; for the local workload (`local`) an empty canonical
 * service falls back to the workload name, as Istio's derivation does. */
static int rd_workload(struct rd *rd, const pb_workload *w, bool local,
		       struct mx_workload *out)
{
	static const pb_workload none = MIXD__REPORT__V1__WORKLOAD__INIT;
	const struct mx_str unk = MX_STR_LIT("unknown");
	const char *what = local ? "reporter" : "peer";
	if (!w)
		w = &none;
	int rc = rd_str(rd, w->workload, unk, what, &out->workload);
	if (!rc)
		rc = rd_str(rd, w->namespace_, unk, what, &out->workload_namespace);
	if (!rc)
		rc = rd_str(rd, w->app, unk, what, &out->app);
	if (!rc)
		rc = rd_str(rd, w->version, unk, what, &out->version);
	if (!rc)
		rc = rd_str(rd, w->canonical_service,
			    local ? out->workload : unk, what,
			    &out->canonical_service);
	if (!rc)
		rc = rd_str(rd, w->canonical_revision, MX_STR_LIT("latest"), what,
			    &out->canonical_revision);
	if (!rc)
		rc = rd_str(rd, w->cluster, unk, what, &out->cluster);
	if (!rc)
		rc = rd_str(rd, w->principal, unk, what, &out->principal);
	return rc;
}

/* The text of an HTTP status, in the arena. */
static int rd_code(struct rd *rd, uint32_t code, struct mx_str *out)
{
	char tmp[16];
	int n = snprintf(tmp, sizeof(tmp), "%u", code);
	char *p = mx_arena_strndup(&rd->b->arena, tmp, (size_t)n);
	if (!p)
		return MX_ENOMEM;
	*out = (struct mx_str){ p, (uint32_t)n };
	return MX_OK;
}

static int rd_series(struct rd *rd, const pb_series *ps, bool tcp,
		     const struct mx_workload *local,
		     struct mx_series_labels *l)
{
	const struct mx_str unk = MX_STR_LIT("unknown");
	if (!ps) {
		mx_errmsg_set(rd->err, "report: a %s delta without series",
			      tcp ? "TCP" : "request");
		return MX_EINVAL;
	}
	/* libmixd's overflow cell has no labels at all, so no role */
	if (ps->role != MIXD__REPORT__V1__ROLE__ROLE_SOURCE &&
	    ps->role != MIXD__REPORT__V1__ROLE__ROLE_DESTINATION &&
	    !(ps->role == MIXD__REPORT__V1__ROLE__ROLE_UNSPECIFIED &&
	      ps->overflow)) {
		mx_errmsg_set(rd->err, "report: series role %d is neither source "
			      "nor destination", (int)ps->role);
		return MX_EINVAL;
	}
	memset(l, 0, sizeof(*l));
	l->role = ps->role == MIXD__REPORT__V1__ROLE__ROLE_SOURCE ?
		MX_ROLE_SOURCE : ps->role == MIXD__REPORT__V1__ROLE__ROLE_DESTINATION ?
		MX_ROLE_DESTINATION : MX_ROLE_UNSPECIFIED;
	l->overflow = ps->overflow != 0;
	l->local = *local;
	int rc = rd_workload(rd, ps->peer, false, &l->peer);
	/* destination_service: the host, else (server side) the local
	 * canonical service; destination_service_name: else the host up to
	 * its first '.'; destination_service_namespace: else (client side)
	 * the peer's namespace */
	struct mx_str host_dflt = l->role == MX_ROLE_DESTINATION ?
		local->canonical_service : unk;
	if (!rc)
		rc = rd_str(rd, ps->destination_service, host_dflt, "service",
			    &l->destination_service);
	struct mx_str name_dflt = unk;
	if (!rc && l->destination_service.len) {
		struct mx_str h = l->destination_service;
		const char *dot = memchr(h.ptr, '.', h.len);
		uint32_t n = dot ? (uint32_t)(dot - h.ptr) : h.len;
		if (n)
			name_dflt = (struct mx_str){ h.ptr, n };
	}
	if (!rc)
		rc = rd_str(rd, ps->destination_service_name, name_dflt,
			    "service name", &l->destination_service_name);
	struct mx_str ns_dflt = l->role == MX_ROLE_SOURCE ?
		l->peer.workload_namespace : unk;
	if (!rc)
		rc = rd_str(rd, ps->destination_service_namespace, ns_dflt,
			    "service namespace", &l->destination_service_namespace);
	if (!rc)
		rc = rd_str(rd, ps->request_protocol,
			    tcp ? MX_STR_LIT("tcp") : unk, "protocol",
			    &l->request_protocol);
	if (!rc)
		rc = rd_str(rd, ps->response_flags, MX_STR_LIT("-"), "flags",
			    &l->response_flags);
	if (!rc)
		rc = rd_str(rd, ps->connection_security_policy, unk, "security",
			    &l->connection_security_policy);
	if (tcp) {
		l->response_code = MX_STR_LIT("");
		l->grpc_response_status = MX_STR_LIT("");
		return rc;
	}
	if (!rc)
		rc = rd_str(rd, ps->grpc_response_status, MX_STR_LIT(""),
			    "grpc status", &l->grpc_response_status);
	if (!rc)
		rc = rd_code(rd, ps->response_code, &l->response_code);
	return rc;
}

static int rd_hist(struct rd *rd, const char *what, size_t n,
		   const uint64_t *b, double sum, uint64_t count,
		   struct mx_hist_delta *out)
{
	memset(out, 0, sizeof(*out));
	if (n != 0 && n != MX_HIST_BUCKETS) {
		mx_errmsg_set(rd->err, "report: %s has %zu buckets, want 0 or %d",
			      what, n, MX_HIST_BUCKETS);
		return MX_EINVAL;
	}
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (b[i] > UINT64_MAX - total) {
			mx_errmsg_set(rd->err, "report: %s bucket counts overflow", what);
			return MX_EINVAL;
		}
		total += b[i];
		out->buckets[i] = b[i];
	}
	if (total != count) {
		mx_errmsg_set(rd->err, "report: %s buckets sum to %llu, the request "
			      "count is %llu", what, (unsigned long long)total,
			      (unsigned long long)count);
		return MX_EINVAL;
	}
	if (!isfinite(sum) || sum < 0) {
		mx_errmsg_set(rd->err, "report: %s sum is negative or not finite",
			      what);
		return MX_EINVAL;
	}
	out->sum = sum;
	return MX_OK;
}

static int rd_request(struct rd *rd, const pb_request *pr,
		      const struct mx_workload *local, struct mx_request_agg *a)
{
	memset(a, 0, sizeof(*a));
	int rc = rd_series(rd, pr->series, false, local, &a->labels);
	a->count = pr->count;
	if (!rc)
		rc = rd_hist(rd, "duration", pr->n_duration_buckets,
			     pr->duration_buckets, pr->duration_sum, pr->count,
			     &a->duration);
	if (!rc)
		rc = rd_hist(rd, "request bytes", pr->n_request_bytes_buckets,
			     pr->request_bytes_buckets, pr->request_bytes_sum,
			     pr->count, &a->request_bytes);
	if (!rc)
		rc = rd_hist(rd, "response bytes", pr->n_response_bytes_buckets,
			     pr->response_bytes_buckets, pr->response_bytes_sum,
			     pr->count, &a->response_bytes);
	if (rc)
		return rc;
	size_t tl = pr->exemplar_trace_id.len, sl = pr->exemplar_span_id.len;
	if ((tl != 0 && tl != 16) || (sl != 0 && sl != 8)) {
		mx_errmsg_set(rd->err, "report: exemplar ids must be 16 and 8 bytes "
			      "(got %zu and %zu)", tl, sl);
		return MX_EINVAL;
	}
	if (tl == 0 || mx_id_is_zero(pr->exemplar_trace_id.data, 16))
		return MX_OK;
	if (!isfinite(pr->exemplar_duration) || pr->exemplar_duration < 0) {
		mx_errmsg_set(rd->err, "report: exemplar value is negative or not "
			      "finite");
		return MX_EINVAL;
	}
	a->has_exemplar = true;
	memcpy(a->exemplar.trace_id, pr->exemplar_trace_id.data, 16);
	if (sl)
		memcpy(a->exemplar.span_id, pr->exemplar_span_id.data, 8);
	a->exemplar.value = pr->exemplar_duration;
	a->exemplar.time_ns = pr->exemplar_time_unix_nano;
	return MX_OK;
}

static int rd_tcp(struct rd *rd, const pb_tcp *pt,
		  const struct mx_workload *local, struct mx_tcp_agg *a)
{
	memset(a, 0, sizeof(*a));
	a->opened = pt->connections_opened;
	a->closed = pt->connections_closed;
	a->sent_bytes = pt->sent_bytes;
	a->received_bytes = pt->received_bytes;
	return rd_series(rd, pt->series, true, local, &a->labels);
}

/* Adds a string attribute `key` = v to attrs (room reserved by caller). */
static void rd_attr(struct mx_attrs *attrs, const char *key, struct mx_str v)
{
	struct mx_attr *a = &attrs->items[attrs->n++];
	a->key = (struct mx_str){ key, (uint32_t)strlen(key) };
	a->value.type = MX_VAL_STRING;
	a->value.u.s = v;
}

/* Step 4: converts the spans and points them at the reporter's resource. */
static int rd_spans(struct rd *rd, const uint8_t *spans, size_t len,
		    struct mx_report *rep, const pb_workload *pw)
{
	struct mx_batch *b = rd->b;
	rep->first_span = b->n_spans;
	if (!spans)
		return MX_OK;
	int rc = mx_otlp_decode_proto(spans, len, rd->lim, b, rd->err);
	if (rc)
		return rc;
	rep->n_spans = b->n_spans - rep->first_span;
	if (rep->n_spans == 0)
		return MX_OK;
	struct mx_resource *res = mx_arena_calloc(&b->arena, 1, sizeof(*res));
	struct mx_scope *sc = mx_arena_calloc(&b->arena, 1, sizeof(*sc));
	struct mx_attr *items = mx_arena_calloc(&b->arena, 9, sizeof(*items));
	if (!res || !sc || !items)
		return MX_ENOMEM;
	res->attrs.items = items;
	rd_attr(&res->attrs, "service.name", rep->reporter.canonical_service);
	/* the identity as the report gave it (absent values left out) */
	static const char *const keys[8] = {
		"istio.workload", "istio.namespace", "istio.app", "istio.version",
		"istio.canonical_service", "istio.canonical_revision",
		"istio.cluster", "istio.principal",
	};
	if (pw) {
		const uint32_t idx[8] = {
			pw->workload, pw->namespace_, pw->app, pw->version,
			pw->canonical_service, pw->canonical_revision, pw->cluster,
			pw->principal,
		};
		for (int i = 0; i < 8; i++)
			if (rd->strs[idx[i]].len) /* indexes checked already */
				rd_attr(&res->attrs, keys[i], rd->strs[idx[i]]);
	}
	sc->name = MX_STR_LIT("libmixd");
	sc->version = rep->library_version;
	for (uint32_t i = rep->first_span; i < b->n_spans; i++) {
		b->spans[i].resource = res;
		b->spans[i].scope = sc;
	}
	return MX_OK;
}

static int rd_convert(struct rd *rd, struct mx_report *rep)
{
	const pb_report *r = rd->r;
	if (r->instance_id.len != 16) {
		mx_errmsg_set(rd->err, "report: instance_id must be 16 bytes, not %zu",
			      r->instance_id.len);
		return MX_EINVAL;
	}
	if (r->sequence == 0) {
		mx_errmsg_set(rd->err, "report: sequence must be 1 or more");
		return MX_EINVAL;
	}
	memcpy(rep->instance_id, r->instance_id.data, 16);
	rep->sequence = r->sequence;
	rep->interval_start_ns = r->interval_start_unix_nano;
	rep->interval_end_ns = r->interval_end_unix_nano;
	rep->dropped_spans = r->dropped_spans;
	rep->overflow_series = r->overflow_series;
	rep->batch = rd->b;
	int rc = rd_strings(rd);
	if (rc)
		return rc;
	const char *lv = r->library_version ? r->library_version : "";
	size_t lvn = strlen(lv);
	if (lvn > rd->lim->max_value_bytes ||
	    !rd_utf8((const unsigned char *)lv, lvn)) {
		mx_errmsg_set(rd->err, "report: bad library_version");
		return MX_EINVAL;
	}
	rep->library_version = (struct mx_str){ lv, (uint32_t)lvn };
	rc = rd_workload(rd, r->reporter, true, &rep->reporter);
	if (rc)
		return rc;
	if (r->n_requests > UINT32_MAX || r->n_tcp > UINT32_MAX)
		return MX_ENOMEM;
	if (r->n_requests) {
		rep->requests = mx_arena_alloc(&rd->b->arena,
					       r->n_requests * sizeof(*rep->requests));
		if (!rep->requests)
			return MX_ENOMEM;
	}
	for (size_t i = 0; i < r->n_requests; i++) {
		rc = rd_request(rd, r->requests[i], &rep->reporter,
				&rep->requests[i]);
		if (rc)
			return rc;
	}
	rep->n_requests = (uint32_t)r->n_requests;
	if (r->n_tcp) {
		rep->tcp = mx_arena_alloc(&rd->b->arena, r->n_tcp * sizeof(*rep->tcp));
		if (!rep->tcp)
			return MX_ENOMEM;
	}
	for (size_t i = 0; i < r->n_tcp; i++) {
		rc = rd_tcp(rd, r->tcp[i], &rep->reporter, &rep->tcp[i]);
		if (rc)
			return rc;
	}
	rep->n_tcp = (uint32_t)r->n_tcp;
	return MX_OK;
}

int mx_report_decode(const uint8_t *buf, size_t len,
		     const struct mx_decode_limits *lim, struct mx_batch *b,
		     struct mx_report **out, struct mx_errmsg *err)
{
	uint8_t *rest = NULL, *spans = NULL;
	size_t rest_len = 0, spans_len = 0;
	struct rd rd = { .b = b, .lim = lim, .err = err };
	struct mx_report *rep = NULL;

	*out = NULL;
	int rc = rd_split(buf, len, err, &rest, &rest_len, &spans, &spans_len);
	if (rc)
		goto out;
	ProtobufCAllocator al = { rd_alloc, rd_free, &rd };
	pb_report *r = mixd__report__v1__report__unpack(&al, rest_len, rest);
	if (!r) {
		if (rd.oom) {
			rc = MX_ENOMEM;
		} else {
			mx_errmsg_set(err, "protobuf: not a valid mixd Report");
			rc = MX_EINVAL;
		}
		goto out;
	}
	rd.r = r;
	rep = mx_arena_calloc(&b->arena, 1, sizeof(*rep));
	if (!rep) {
		rc = MX_ENOMEM;
		goto out;
	}
	rc = rd_convert(&rd, rep);
	if (!rc)
		rc = rd_spans(&rd, spans, spans_len, rep, r->reporter);
out:
	if (rc == MX_ENOMEM)
		mx_errmsg_set(err, "report too large for the batch memory cap");
	if (rc == MX_OK)
		*out = rep;
	free(rest);
	free(spans);
	return rc;
}
