/*
 * report_decode.c - libmixd's native report -> metrics model and spans
 * (see report.h).
 *
 * A hand-written single-pass protobuf reader, no protobuf-c unpack: the
 * metrics part of a report is read straight into the model.
 * (1) One checked pass over the top-level fields of the Report validates
 * the wire structure, reads the scalar fields and the reporter Workload,
 * counts strings, request and TCP deltas and spans and records where each
 * string and delta is. (2) The string table is copied into the arena with
 * one copy and checked once per entry (length cap, UTF-8; ASCII 16 bytes
 * at a time), then the header is checked. (3) Every RequestDelta /
 * TcpDelta is read directly into its mx_request_agg / mx_tcp_agg (the
 * histograms' non-zero buckets into one arena piece per delta, summed as
 * they are read) and its labels converted with Istio's conventions; the
 * aggregates share the reporter's workload. (4) The Span fields (9) are
 * wrapped into a synthetic ExportTraceServiceRequest (request ->
 * ResourceSpans -> ScopeSpans -> spans) and go through the OTLP decoder
 * (nesting pre-scan, caps, id checks, per-span rejection); the spans it
 * appended get the reporter's resource and the libmixd scope.
 *
 * The reader accepts exactly what protobuf-c 1.4.1 (the previous decoder)
 * accepted, and gives the same verdicts and messages: tests/unit/
 * test_report_decode_diff.c compares both on generated and mutated
 * reports. Its rules: top-level keys and lengths as checked by the former
 * split pass (messages with offsets); everywhere else any malformation is
 * "not a valid mixd Report" and wins over every semantic error: keys of at
 * most 5 bytes (a one-byte key of field 0 is malformed; longer keys may
 * give field 0 or numbers past 2^29, skipped as unknown), varints of at
 * most 10 bytes, length prefixes of at most 5 bytes, no group or reserved
 * wire types, a known field only with its own wire type (bool: any);
 * repeated uint64 packed or not, concatenated; uint32 and enum values keep
 * the low 32 bits; the last of repeated scalar, string and bytes fields
 * wins; a string ends at its first NUL byte. A repeated singular message
 * is merged as protobuf-c merges proto3 messages: the later occurrence's
 * scalars replace all earlier ones (absent ones read 0), its sub-message
 * is merged when present, otherwise the earlier one stays. So a Workload
 * is the last occurrence; a Series takes its scalars from the last
 * occurrence and its peer from the last occurrence that had one. Semantic
 * errors are reported in the former order: header (instance_id, sequence,
 * strings, library_version, reporter), request deltas in order, then TCP
 * deltas in order. Memory: the decoder allocates less of the arena than
 * protobuf-c did, so a report just over a cap may now fit.
 */
#include "report.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "../model/error.h"
#include "otlp.h"
#include "report_decode_int.h"

#define RD_BAD_WIRE "protobuf: not a valid mixd Report"

#define RD_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* The first error of one check phase; the earliest phase wins. */
struct rd_fail {
	int rc;
	struct mx_errmsg msg;
};

enum { RD_PH_HEAD, RD_PH_REQ, RD_PH_TCP, RD_NPH };

#define RD_CODE_CACHE 64

struct rd {
	struct mx_batch *b;
	const struct mx_decode_limits *lim;
	struct mx_errmsg *e; /* the message buffer of the current phase */
	struct mx_str *strs; /* the string table as mx_str, [0] = "" */
	size_t n_strs;
	struct mx_rpb_top t; /* what the top-level pass found */
	/* decimal response codes already made for this report */
	uint32_t code_key[RD_CODE_CACHE];
	struct mx_str code_val[RD_CODE_CACHE];
};

/* --- step 2: string table and header --- */

/* A string field's value s[0..n) up to its first NUL (protobuf-c made C
 * strings); *utf8 tells whether that is well-formed UTF-8 (no overlong
 * forms, surrogates or code points past U+10FFFF). A NUL inside a
 * multi-byte sequence cuts it, which makes it malformed. s[0..avail) may
 * be read (avail >= n): ASCII is checked 16 bytes at a time. */
static struct mx_str rd_text(const uint8_t *s, size_t n, size_t avail,
			     bool *utf8)
{
	const uint64_t hi = 0x8080808080808080ull, one = 0x0101010101010101ull;
	size_t i = 0;
	*utf8 = true;
#ifdef __SSE2__
	const __m128i zero = _mm_setzero_si128();
	while (i < n && avail - i >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(s + i));
		unsigned stop = (unsigned)_mm_movemask_epi8(x) |
			(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, zero));
		size_t left = n - i;
		if (left < 16)
			stop &= (1u << left) - 1;
		if (stop) { /* a NUL or non-ASCII byte: the loop below */
			i += (size_t)__builtin_ctz(stop);
			break;
		}
		i += left < 16 ? left : 16;
	}
#else
	(void)avail;
#endif
	while (i < n) {
		uint64_t w;
		if (n - i >= 8) { /* 8 ASCII bytes without a NUL at once */
			memcpy(&w, s + i, 8);
			if (!((w | ((w - one) & ~w)) & hi)) {
				i += 8;
				continue;
			}
		}
		unsigned c = s[i];
		if (c == 0)
			break;
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k = 0;
		unsigned lo = 0x80, top = 0xbf;
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				top = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				top = 0x8f;
		}
		bool ok = k && n - i > k && s[i + 1] >= lo && s[i + 1] <= top;
		for (size_t j = 2; ok && j <= k; j++)
			ok = (s[i + j] & 0xc0) == 0x80;
		if (!ok) {
			const uint8_t *z = memchr(s + i, 0, n - i);
			*utf8 = false;
			i = z ? (size_t)(z - s) : n;
			break;
		}
		i += k + 1;
	}
	return (struct mx_str){ (const char *)s, (uint32_t)i };
}

/* Fills the string table and checks each entry once. The strings are
 * copied into the arena with one copy of the body's bytes from the first
 * string field to the last; the byte after each string (the next field's
 * key in the copy, never part of another string) becomes its NUL. */
static int rd_strings(struct rd *rd, const uint8_t *buf)
{
	size_t k = 0;
	rd->strs[0] = MX_STR_LIT("");
	if (rd->t.n_strings == 0)
		return MX_OK;
	size_t span = rd->t.str_to - rd->t.str_from;
	uint8_t *copy = mx_arena_alloc(&rd->b->arena, span + 1);
	if (!copy)
		return MX_ENOMEM;
	memcpy(copy, buf + rd->t.str_from, span);
	while (k < rd->t.n_strings) {
		const struct mx_rpb_pos *f = &rd->t.strs[k];
		uint8_t *p = copy + (f->val - rd->t.str_from);
		bool utf8;
		struct mx_str s = rd_text(p, f->len,
					  (size_t)(copy + span + 1 - p), &utf8);
		p[f->len] = 0; /* after the check: no store in its loads */
		if (k == 0) {
			if (s.len) {
				mx_errmsg_set(rd->e, "report: strings[0] must be empty");
				return MX_EINVAL;
			}
			k++;
			continue;
		}
		if (s.len > rd->lim->max_value_bytes) {
			mx_errmsg_set(rd->e, "report: strings[%zu] is longer than "
				      "%u bytes", k, rd->lim->max_value_bytes);
			return MX_EINVAL;
		}
		if (!utf8) {
			mx_errmsg_set(rd->e, "report: strings[%zu] is not UTF-8", k);
			return MX_EINVAL;
		}
		rd->strs[k++] = s;
	}
	return MX_OK;
}

static int rd_str_range(struct rd *rd, uint32_t idx, const char *what)
{
	mx_errmsg_set(rd->e, "report: %s: string index %u out of range "
		      "(%zu strings)", what, idx, rd->n_strs);
	return MX_EINVAL;
}

/* Resolves string index `idx`; an empty string becomes `dflt`. */
static inline int rd_str(struct rd *rd, uint32_t idx, struct mx_str dflt,
			 const char *what, struct mx_str *out)
{
	if (RD_UNLIKELY(idx >= rd->n_strs))
		return rd_str_range(rd, idx, what);
	*out = rd->strs[idx].len ? rd->strs[idx] : dflt;
	return MX_OK;
}

/* Resolves a workload: empty values read "unknown", an empty canonical
 * revision "latest"; for the local workload (`local`) an empty canonical
 * service falls back to the workload name, as Istio's derivation does. */
static int rd_workload(struct rd *rd, const uint32_t w[8], bool local,
		       struct mx_workload *out)
{
	const struct mx_str unk = MX_STR_LIT("unknown");
	const char *what = local ? "reporter" : "peer";
	int rc = rd_str(rd, w[0], unk, what, &out->workload);
	if (!rc)
		rc = rd_str(rd, w[1], unk, what, &out->workload_namespace);
	if (!rc)
		rc = rd_str(rd, w[2], unk, what, &out->app);
	if (!rc)
		rc = rd_str(rd, w[3], unk, what, &out->version);
	if (!rc)
		rc = rd_str(rd, w[4], local ? out->workload : unk, what,
			    &out->canonical_service);
	if (!rc)
		rc = rd_str(rd, w[5], MX_STR_LIT("latest"), what,
			    &out->canonical_revision);
	if (!rc)
		rc = rd_str(rd, w[6], unk, what, &out->cluster);
	if (!rc)
		rc = rd_str(rd, w[7], unk, what, &out->principal);
	return rc;
}

/* Step 2 after the table: the header checks in the former order. */
static int rd_header(struct rd *rd, const uint8_t *buf, struct mx_report *rep)
{
	if (rd->t.iid_len != 16) {
		mx_errmsg_set(rd->e, "report: instance_id must be 16 bytes, not %zu",
			      rd->t.iid_len);
		return MX_EINVAL;
	}
	if (rd->t.seq == 0) {
		mx_errmsg_set(rd->e, "report: sequence must be 1 or more");
		return MX_EINVAL;
	}
	memcpy(rep->instance_id, rd->t.iid, 16);
	rep->sequence = rd->t.seq;
	rep->interval_start_ns = rd->t.start_ns;
	rep->interval_end_ns = rd->t.end_ns;
	rep->dropped_spans = rd->t.dropped;
	rep->overflow_series = rd->t.overflow;
	rep->batch = rd->b;
	int rc = rd_strings(rd, buf);
	if (rc)
		return rc;
	struct mx_str lv = MX_STR_LIT("");
	bool utf8 = true;
	if (rd->t.lv) {
		lv = rd_text(rd->t.lv, rd->t.lv_len, rd->t.lv_len, &utf8);
		char *c = mx_arena_strndup(&rd->b->arena, lv.ptr, lv.len);
		if (!c)
			return MX_ENOMEM;
		lv.ptr = c;
	}
	if (lv.len > rd->lim->max_value_bytes || !utf8) {
		mx_errmsg_set(rd->e, "report: bad library_version");
		return MX_EINVAL;
	}
	rep->library_version = lv;
	return rd_workload(rd, rd->t.reporter, true, &rep->reporter);
}

/* --- step 3: the deltas --- */

/* The text of an HTTP status; one arena copy per distinct code. */
static int rd_code(struct rd *rd, uint32_t code, struct mx_str *out)
{
	unsigned slot = code % RD_CODE_CACHE;
	if (rd->code_val[slot].ptr && rd->code_key[slot] == code) {
		*out = rd->code_val[slot];
		return MX_OK;
	}
	char tmp[16];
	int n = snprintf(tmp, sizeof(tmp), "%u", code);
	char *p = mx_arena_strndup(&rd->b->arena, tmp, (size_t)n);
	if (!p)
		return MX_ENOMEM;
	*out = (struct mx_str){ p, (uint32_t)n };
	rd->code_key[slot] = code;
	rd->code_val[slot] = *out;
	return MX_OK;
}

static int rd_series(struct rd *rd, const struct mx_rpb_series *ps, bool tcp,
		     const struct mx_workload *local,
		     struct mx_series_labels *l)
{
	static const uint32_t none[8];
	const struct mx_str unk = MX_STR_LIT("unknown");
	if (!ps->present) {
		mx_errmsg_set(rd->e, "report: a %s delta without series",
			      tcp ? "TCP" : "request");
		return MX_EINVAL;
	}
	/* libmixd's overflow cell has no labels at all, so no role */
	if (ps->role != 1 && ps->role != 2 && !(ps->role == 0 && ps->overflow)) {
		mx_errmsg_set(rd->e, "report: series role %d is neither source "
			      "nor destination", (int)ps->role);
		return MX_EINVAL;
	}
	/* every field of l is set below (on success) */
	l->role = ps->role == 1 ? MX_ROLE_SOURCE :
		ps->role == 2 ? MX_ROLE_DESTINATION : MX_ROLE_UNSPECIFIED;
	l->overflow = ps->overflow;
	l->local = local;
	int rc = rd_workload(rd, ps->has_peer ? ps->peer : none, false, &l->peer);
	/* destination_service: the host, else (server side) the local
	 * canonical service; destination_service_name: else the host up to
	 * its first '.'; destination_service_namespace: else (client side)
	 * the peer's namespace */
	struct mx_str host_dflt = l->role == MX_ROLE_DESTINATION ?
		local->canonical_service : unk;
	if (!rc)
		rc = rd_str(rd, ps->idx[0], host_dflt, "service",
			    &l->destination_service);
	struct mx_str name_dflt = unk;
	/* the default is only needed when the name is absent */
	if (!rc && l->destination_service.len && ps->idx[1] < rd->n_strs &&
	    !rd->strs[ps->idx[1]].len) {
		struct mx_str h = l->destination_service;
		const char *dot = memchr(h.ptr, '.', h.len);
		uint32_t n = dot ? (uint32_t)(dot - h.ptr) : h.len;
		if (n)
			name_dflt = (struct mx_str){ h.ptr, n };
	}
	if (!rc)
		rc = rd_str(rd, ps->idx[1], name_dflt, "service name",
			    &l->destination_service_name);
	struct mx_str ns_dflt = l->role == MX_ROLE_SOURCE ?
		l->peer.workload_namespace : unk;
	if (!rc)
		rc = rd_str(rd, ps->idx[2], ns_dflt, "service namespace",
			    &l->destination_service_namespace);
	if (!rc)
		rc = rd_str(rd, ps->idx[3], tcp ? MX_STR_LIT("tcp") : unk,
			    "protocol", &l->request_protocol);
	if (!rc)
		rc = rd_str(rd, ps->idx[6], MX_STR_LIT("-"), "flags",
			    &l->response_flags);
	if (!rc)
		rc = rd_str(rd, ps->idx[7], unk, "security",
			    &l->connection_security_policy);
	if (tcp) {
		l->response_code = MX_STR_LIT("");
		l->grpc_response_status = MX_STR_LIT("");
		return rc;
	}
	if (!rc)
		rc = rd_str(rd, ps->idx[5], MX_STR_LIT(""), "grpc status",
			    &l->grpc_response_status);
	if (!rc)
		rc = rd_code(rd, ps->idx[4], &l->response_code);
	return rc;
}

/* Checks a histogram with `n` values on the wire, whose stored values sum
 * to `total` (`over`: that sum overflowed), and sum `h->sum`. */
static int rd_hist(struct rd *rd, const char *what, size_t n, uint64_t total,
		   bool over, const struct mx_hist_delta *h, uint64_t count)
{
	if (n != 0 && n != MX_HIST_BUCKETS) {
		mx_errmsg_set(rd->e, "report: %s has %zu buckets, want 0 or %d",
			      what, n, MX_HIST_BUCKETS);
		return MX_EINVAL;
	}
	if (over) {
		mx_errmsg_set(rd->e, "report: %s bucket counts overflow", what);
		return MX_EINVAL;
	}
	if (total != count) {
		mx_errmsg_set(rd->e, "report: %s buckets sum to %llu, the request "
			      "count is %llu", what, (unsigned long long)total,
			      (unsigned long long)count);
		return MX_EINVAL;
	}
	if (!isfinite(h->sum) || h->sum < 0) {
		mx_errmsg_set(rd->e, "report: %s sum is negative or not finite",
			      what);
		return MX_EINVAL;
	}
	return MX_OK;
}

static int rd_request(struct rd *rd, const struct mx_rpb_req *pr,
		      const struct mx_workload *local, struct mx_request_agg *a)
{
	int rc = rd_series(rd, &pr->s, false, local, &a->labels);
	if (!rc)
		rc = rd_hist(rd, "duration", pr->n_buckets[0], pr->total[0],
			     pr->over[0], &a->duration, a->count);
	if (!rc)
		rc = rd_hist(rd, "request bytes", pr->n_buckets[1], pr->total[1],
			     pr->over[1], &a->request_bytes, a->count);
	if (!rc)
		rc = rd_hist(rd, "response bytes", pr->n_buckets[2],
			     pr->total[2], pr->over[2], &a->response_bytes,
			     a->count);
	if (rc)
		return rc;
	/* the non-zero bucket values of the three histograms, in one piece */
	uint32_t nv = pr->nv[0] + pr->nv[1] + pr->nv[2];
	uint64_t *v = nv ? mx_arena_alloc(&rd->b->arena, nv * sizeof(*v)) : NULL;
	if (nv && !v)
		return MX_ENOMEM;
	struct mx_hist_delta *hd[3] = { &a->duration, &a->request_bytes,
					&a->response_bytes };
	for (int h = 0; h < 3; h++) {
		hd[h]->nz = pr->nz[h];
		hd[h]->vals = v;
		for (uint32_t j = 0; j < pr->nv[h]; j++)
			*v++ = pr->v[h][j];
	}
	size_t tl = pr->tl, sl = pr->sl;
	if ((tl != 0 && tl != 16) || (sl != 0 && sl != 8)) {
		mx_errmsg_set(rd->e, "report: exemplar ids must be 16 and 8 bytes "
			      "(got %zu and %zu)", tl, sl);
		return MX_EINVAL;
	}
	if (tl == 0 || mx_id_is_zero(pr->tid, 16))
		return MX_OK;
	if (!isfinite(pr->ex_value) || pr->ex_value < 0) {
		mx_errmsg_set(rd->e, "report: exemplar value is negative or not "
			      "finite");
		return MX_EINVAL;
	}
	a->has_exemplar = true;
	memcpy(a->exemplar.trace_id, pr->tid, 16);
	if (sl)
		memcpy(a->exemplar.span_id, pr->sid, 8);
	a->exemplar.value = pr->ex_value;
	a->exemplar.time_ns = pr->ex_time;
	return MX_OK;
}

/* Step 3: reads every delta; converts them while no earlier phase failed.
 * Returns MX_EINVAL (message set in `err`) for malformed wire data, which
 * wins over every semantic error. */
static int rd_deltas(struct rd *rd, const uint8_t *buf, struct mx_report *rep,
		     struct rd_fail *fail, struct mx_errmsg *err)
{
	size_t nr = 0, nt = 0;
	struct mx_rpb_req raw;
	struct mx_rpb_series ts;
	struct mx_request_agg scratch_req; /* when the header failed */
	struct mx_tcp_agg scratch_tcp;
	while (nr + nt < rd->t.n_req + rd->t.n_tcp) {
		const struct mx_rpb_pos *f = &rd->t.aggs[nr + nt];
		const uint8_t *p = buf + f->val, *end = p + f->len;
		if (f->num == 7) {
			struct mx_request_agg *a = rep->requests ?
				&rep->requests[nr] : &scratch_req;
			if (rep->requests && nr + 2 < rd->t.n_req) {
				/* its memory is cold: ask for it early */
				const char *na = (const char *)&rep->requests[nr + 2];
				for (size_t o = 0; o < sizeof(*a); o += 64)
					__builtin_prefetch(na + o, 1);
			}
			nr++;
			if (!mx_rpb_request(p, end, a, &raw))
				goto bad;
			if (fail[RD_PH_HEAD].rc || fail[RD_PH_REQ].rc)
				continue;
			rd->e = &fail[RD_PH_REQ].msg;
			fail[RD_PH_REQ].rc = rd_request(rd, &raw, &rep->reporter, a);
		} else {
			struct mx_tcp_agg *a = rep->tcp ? &rep->tcp[nt] : &scratch_tcp;
			nt++;
			if (!mx_rpb_tcp(p, end, a, &ts))
				goto bad;
			if (fail[RD_PH_HEAD].rc || fail[RD_PH_REQ].rc ||
			    fail[RD_PH_TCP].rc)
				continue;
			rd->e = &fail[RD_PH_TCP].msg;
			fail[RD_PH_TCP].rc = rd_series(rd, &ts, true, &rep->reporter,
						       &a->labels);
		}
	}
	rep->n_requests = (uint32_t)nr;
	rep->n_tcp = (uint32_t)nt;
	return MX_OK;
bad:
	mx_errmsg_set(err, RD_BAD_WIRE);
	return MX_EINVAL;
}

/* --- step 4: spans --- */

/* Adds a string attribute `key` = v to attrs (room reserved by caller). */
static void rd_attr(struct mx_attrs *attrs, const char *key, struct mx_str v)
{
	struct mx_attr *a = &attrs->items[attrs->n++];
	a->key = (struct mx_str){ key, (uint32_t)strlen(key) };
	a->value.type = MX_VAL_STRING;
	a->value.u.s = v;
}

/* Converts the spans and points them at the reporter's resource. */
static int rd_spans(struct rd *rd, const uint8_t *spans, size_t len,
		    struct mx_report *rep, struct mx_errmsg *err)
{
	struct mx_batch *b = rd->b;
	rep->first_span = b->n_spans;
	if (!spans)
		return MX_OK;
	int rc = mx_otlp_decode_proto(spans, len, rd->lim, b, err);
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
	for (int i = 0; i < 8; i++)
		if (rd->strs[rd->t.reporter[i]].len) /* indexes checked already */
			rd_attr(&res->attrs, keys[i], rd->strs[rd->t.reporter[i]]);
	sc->name = MX_STR_LIT("libmixd");
	sc->version = rep->library_version;
	for (uint32_t i = rep->first_span; i < b->n_spans; i++) {
		b->spans[i].resource = res;
		b->spans[i].scope = sc;
	}
	return MX_OK;
}

/* Steps 2-3: allocates the model and fills it; the first failure by phase
 * goes to `err`. The deltas get their arrays once the header passed (as
 * before), else they are only read, for malformed data. */
static int rd_convert(struct rd *rd, const uint8_t *buf, struct mx_report *rep,
		      struct mx_errmsg *err)
{
	struct mx_arena *ar = &rd->b->arena;
	struct rd_fail fail[RD_NPH];
	memset(fail, 0, sizeof(fail));
	if (rd->t.n_req > UINT32_MAX || rd->t.n_tcp > UINT32_MAX)
		return MX_ENOMEM;
	rd->n_strs = rd->t.n_strings ? rd->t.n_strings : 1;
	rd->strs = mx_arena_alloc(ar, rd->n_strs * sizeof(*rd->strs));
	if (!rd->strs)
		return MX_ENOMEM;
	rd->e = &fail[RD_PH_HEAD].msg;
	fail[RD_PH_HEAD].rc = rd_header(rd, buf, rep);
	if (!fail[RD_PH_HEAD].rc && rd->t.n_req &&
	    !(rep->requests = mx_arena_alloc(ar, rd->t.n_req *
					      sizeof(*rep->requests))))
		fail[RD_PH_HEAD].rc = MX_ENOMEM;
	if (!fail[RD_PH_HEAD].rc && rd->t.n_tcp &&
	    !(rep->tcp = mx_arena_alloc(ar, rd->t.n_tcp * sizeof(*rep->tcp))))
		fail[RD_PH_HEAD].rc = MX_ENOMEM;
	int rc = rd_deltas(rd, buf, rep, fail, err);
	if (rc)
		return rc;
	for (int i = 0; i < RD_NPH; i++) {
		if (fail[i].rc == MX_EINVAL)
			mx_errmsg_set(err, "%s", fail[i].msg.text);
		if (fail[i].rc)
			return fail[i].rc;
	}
	return MX_OK;
}

int mx_report_decode(const uint8_t *buf, size_t len,
		     const struct mx_decode_limits *lim, struct mx_batch *b,
		     struct mx_report **out, struct mx_errmsg *err)
{
	uint8_t *spans = NULL;
	size_t spans_len = 0;
	struct rd *rd = calloc(1, sizeof(*rd));
	struct mx_report *rep = NULL;
	bool bad = false;

	*out = NULL;
	if (!rd)
		return MX_ENOMEM;
	rd->b = b;
	rd->lim = lim;
	int rc = mx_rpb_scan(buf, len, &rd->t, err, &bad);
	if (rc)
		goto out;
	if (bad) {
		mx_errmsg_set(err, RD_BAD_WIRE);
		rc = MX_EINVAL;
		goto out;
	}
	rep = mx_arena_calloc(&b->arena, 1, sizeof(*rep));
	if (!rep) {
		rc = MX_ENOMEM;
		goto out;
	}
	rc = rd_convert(rd, buf, rep, err);
	if (!rc && rd->t.n_spans)
		rc = mx_rpb_span_request(buf, len, &rd->t, &spans, &spans_len);
	if (!rc)
		rc = rd_spans(rd, spans, spans_len, rep, err);
out:
	if (rc == MX_ENOMEM)
		mx_errmsg_set(err, "report too large for the batch memory cap");
	if (rc == MX_OK)
		*out = rep;
	free(spans);
	mx_rpb_top_free(&rd->t);
	free(rd);
	return rc;
}
