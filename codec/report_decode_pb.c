/*
 * report_decode_pb.c - the protobuf wire reader of the native report
 * decoder (see report_decode_int.h; checks and conversion are in
 * report_decode.c).
 *
 * A single pass per message; the only allocation is the top-level pass'
 * record of where each string and delta is. Varints, keys and length
 * prefixes are read with protobuf-c 1.4.1's limits so that exactly the
 * bodies it accepted are accepted (rules in report_decode.c's opening
 * comment); every length is checked against the bytes left of the
 * enclosing message, unknown fields are skipped by wire type, and the
 * schema nests at most Report -> delta -> Series -> Workload, so no depth
 * limit is needed. Request and TCP deltas are read straight into their
 * mx_request_agg / mx_tcp_agg.
 */
#include "report_decode_int.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "../model/error.h"

#define RD_LIKELY(x) __builtin_expect(!!(x), 1)

/* --- wire reading --- */

/* A varint of at most 10 bytes (the top-level pass' rule). */
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

/* Pointer-based readers of nested messages, protobuf-c's rules. */

static inline bool rd_get_varint(const uint8_t **pp, const uint8_t *end,
				 uint64_t *out)
{
	const uint8_t *p = *pp;
	if (RD_LIKELY(p < end && *p < 0x80)) {
		*out = *p;
		*pp = p + 1;
		return true;
	}
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (p >= end)
			return false;
		uint8_t c = *p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*pp = p;
			*out = v;
			return true;
		}
	}
	return false;
}

/* A key of at most 5 bytes; a one-byte key of field 0 is malformed. The
 * field number keeps 32 bits, as protobuf-c computes it. */
static inline bool rd_get_key(const uint8_t **pp, const uint8_t *end,
			      uint32_t *tag, unsigned *wt)
{
	const uint8_t *p = *pp;
	uint8_t c = p[0]; /* the caller checked p < end */
	if (RD_LIKELY(c < 0x80)) {
		if (c < 8)
			return false;
		*tag = c >> 3;
		*wt = c & 7;
		*pp = p + 1;
		return true;
	}
	uint32_t t = (c & 0x7f) >> 3;
	unsigned shift = 4;
	size_t max = (size_t)(end - p) < 5 ? (size_t)(end - p) : 5;
	for (size_t i = 1; i < max; i++) {
		if (p[i] & 0x80) {
			t |= (uint32_t)(p[i] & 0x7f) << shift;
			shift += 7;
		} else {
			t |= (uint32_t)p[i] << shift;
			*tag = t;
			*wt = c & 7;
			*pp = p + i + 1;
			return true;
		}
	}
	return false;
}

/* A length prefix of at most 5 bytes whose data lies before `end`. */
static inline bool rd_get_len(const uint8_t **pp, const uint8_t *end,
			      size_t *out)
{
	const uint8_t *p = *pp;
	size_t rem = (size_t)(end - p);
	if (RD_LIKELY(rem > 0 && *p < 0x80)) {
		if (*p > rem - 1)
			return false;
		*out = *p;
		*pp = p + 1;
		return true;
	}
	size_t max = rem < 5 ? rem : 5;
	uint64_t v = 0;
	for (size_t i = 0; i < max; i++) {
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			if (v > rem - (i + 1))
				return false;
			*out = (size_t)v;
			*pp = p + i + 1;
			return true;
		}
	}
	return false;
}

static inline uint64_t rd_le64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
#else
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
#endif
}

static inline double rd_double(const uint8_t *p)
{
	uint64_t u = rd_le64(p);
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

/* True when no byte of p[0..n) has its high bit set. */
static inline bool rd_ascii(const uint8_t *p, size_t n)
{
	uint64_t acc = 0, w;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		acc |= w;
	}
	for (; i < n; i++)
		acc |= p[i];
	return !(acc & 0x8080808080808080ull);
}

/* Skips the value of an unknown field. */
static bool rd_skip(const uint8_t **pp, const uint8_t *end, unsigned wt)
{
	uint64_t v;
	size_t n;
	switch (wt) {
	case 0:
		return rd_get_varint(pp, end, &v);
	case 1:
		if (end - *pp < 8)
			return false;
		*pp += 8;
		return true;
	case 2:
		if (!rd_get_len(pp, end, &n))
			return false;
		*pp += n;
		return true;
	case 5:
		if (end - *pp < 4)
			return false;
		*pp += 4;
		return true;
	default:
		return false;
	}
}

/* A Workload: uint32 fields 1..8, each occurrence starts from zero. */
static bool rd_pb_workload(const uint8_t *p, const uint8_t *end,
			   uint32_t w[8])
{
	memset(w, 0, 8 * sizeof(*w));
	while (p < end) {
		uint32_t tag;
		unsigned wt;
		uint64_t v;
		if (!rd_get_key(&p, end, &tag, &wt))
			return false;
		if (tag >= 1 && tag <= 8) {
			if (wt != 0 || !rd_get_varint(&p, end, &v))
				return false;
			w[tag - 1] = (uint32_t)v;
		} else if (!rd_skip(&p, end, wt)) {
			return false;
		}
	}
	return true;
}

/* One occurrence of a Series, merged into `s` (see the file comment). */
static bool rd_pb_series(const uint8_t *p, const uint8_t *end,
			 struct mx_rpb_series *s)
{
	s->present = true;
	s->overflow = false;
	s->role = 0;
	memset(s->idx, 0, sizeof(s->idx));
	while (p < end) {
		uint32_t tag;
		unsigned wt;
		uint64_t v;
		size_t n;
		if (!rd_get_key(&p, end, &tag, &wt))
			return false;
		if (tag >= 3 && tag <= 10) {
			if (wt != 0 || !rd_get_varint(&p, end, &v))
				return false;
			s->idx[tag - 3] = (uint32_t)v;
		} else if (tag == 1) {
			if (wt != 0 || !rd_get_varint(&p, end, &v))
				return false;
			s->role = (int32_t)(uint32_t)v;
		} else if (tag == 2) {
			if (wt != 2 || !rd_get_len(&p, end, &n) ||
			    !rd_pb_workload(p, p + n, s->peer))
				return false;
			s->has_peer = true;
			p += n;
		} else if (tag == 11) {
			/* protobuf-c reads a bool of any wire type: true when
			 * any byte of the value (with a length prefix) has a
			 * bit besides 0x80 set */
			const uint8_t *from = p;
			if (!rd_skip(&p, end, wt))
				return false;
			bool t = false;
			for (const uint8_t *q = from; q < p; q++)
				t |= (*q & 0x7f) != 0;
			s->overflow = t;
		} else if (!rd_skip(&p, end, wt)) {
			return false;
		}
	}
	return true;
}

/* The values of one histogram as they are read: the first
 * MX_HIST_BUCKETS are summed, the non-zero ones kept in order. */
struct rd_hist_in {
	size_t n;       /* values on the wire */
	uint64_t total; /* the sum of the first MX_HIST_BUCKETS */
	bool over;      /* that sum overflowed */
	uint32_t nz;    /* which of those are not zero */
	uint32_t nv;    /* how many */
	uint64_t *v;    /* them */
};

static inline void rd_hist_val(struct rd_hist_in *h, uint64_t v)
{
	if (h->n < MX_HIST_BUCKETS) {
		h->over |= __builtin_add_overflow(h->total, v, &h->total);
		if (v) {
			h->nz |= 1u << h->n;
			h->v[h->nv++] = v;
		}
	}
	h->n++;
}

/* Appends repeated uint64 values, packed (wt 2) or not (wt 0). */
static bool rd_pb_buckets(const uint8_t **pp, const uint8_t *end,
			  unsigned wt, struct rd_hist_in *h)
{
	uint64_t v;
	if (wt == 0) {
		if (!rd_get_varint(pp, end, &v))
			return false;
		rd_hist_val(h, v);
		return true;
	}
	size_t len;
	if (wt != 2 || !rd_get_len(pp, end, &len))
		return false;
	const uint8_t *q = *pp, *qe = q + len;
	size_t k = h->n;
	if (k <= MX_HIST_BUCKETS && len <= MX_HIST_BUCKETS - k &&
	    rd_ascii(q, len)) {
		/* the usual case: small counts, one byte each */
		uint64_t t = 0;
		uint32_t bits = 0;
		size_t i = 0;
#ifdef __SSE2__
		if (len >= 16) { /* 16 bytes at once: their sum and zeros */
			const __m128i z = _mm_setzero_si128();
			__m128i x = _mm_loadu_si128((const __m128i *)q);
			__m128i sad = _mm_sad_epu8(x, z);
			t = (uint64_t)_mm_cvtsi128_si32(sad) +
			    (uint64_t)_mm_cvtsi128_si32(_mm_srli_si128(sad, 8));
			bits = ~(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, z)) &
			       0xffffu;
			i = 16;
		}
#endif
		for (; i < len; i++) {
			t += q[i];
			bits |= (uint32_t)(q[i] != 0) << i;
		}
		/* locals: the stores into v could alias h (no strict aliasing) */
		uint64_t *o = h->v + h->nv;
		for (uint32_t m = bits; m; m &= m - 1)
			*o++ = q[__builtin_ctz(m)];
		h->nv = (uint32_t)(o - h->v);
		h->nz |= bits << k;
		h->over |= __builtin_add_overflow(h->total, t, &h->total);
		h->n = k + len;
		*pp = qe;
		return true;
	}
	while (q < qe) {
		if (RD_LIKELY(*q < 0x80))
			v = *q++;
		else if (!rd_get_varint(&q, qe, &v))
			return false;
		rd_hist_val(h, v);
	}
	*pp = qe;
	return true;
}

/* A RequestDelta into `a` and `raw` (see report_decode_int.h). */
bool mx_rpb_request(const uint8_t *p, const uint8_t *end,
			  struct mx_request_agg *a, struct mx_rpb_req *raw)
{
	/* the labels are the caller's to fill, and so are the histograms
	 * (from raw) */
	static const struct mx_hist_delta empty;
	a->count = 0;
	a->duration = empty; /* (not chained: no store read back) */
	a->request_bytes = empty;
	a->response_bytes = empty;
	a->has_exemplar = false;
	memset(&a->exemplar, 0, sizeof(a->exemplar));
	struct rd_hist_in hin[3];
	raw->s.present = raw->s.has_peer = false;
	for (int h = 0; h < 3; h++)
		hin[h] = (struct rd_hist_in){ 0, 0, false, 0, 0, raw->v[h] };
	raw->tid = raw->sid = NULL;
	raw->tl = raw->sl = 0;
	raw->ex_value = 0;
	raw->ex_time = 0;
	while (p < end) {
		uint32_t tag;
		unsigned wt;
		size_t n;
		if (!rd_get_key(&p, end, &tag, &wt))
			return false;
		switch (tag) {
		case 1:
			if (wt != 2 || !rd_get_len(&p, end, &n) ||
			    !rd_pb_series(p, p + n, &raw->s))
				return false;
			p += n;
			break;
		case 2:
			if (wt != 0 || !rd_get_varint(&p, end, &a->count))
				return false;
			break;
		case 3:
		case 5:
		case 7:
			if (!rd_pb_buckets(&p, end, wt, &hin[(tag - 3) / 2]))
				return false;
			break;
		case 4:
		case 6:
		case 8:
		case 11:
		case 12:
			if (wt != 1 || end - p < 8)
				return false;
			if (tag == 4)
				a->duration.sum = rd_double(p);
			else if (tag == 6)
				a->request_bytes.sum = rd_double(p);
			else if (tag == 8)
				a->response_bytes.sum = rd_double(p);
			else if (tag == 11)
				raw->ex_value = rd_double(p);
			else
				raw->ex_time = rd_le64(p);
			p += 8;
			break;
		case 9:
		case 10:
			if (wt != 2 || !rd_get_len(&p, end, &n))
				return false;
			if (tag == 9) {
				raw->tid = p;
				raw->tl = n;
			} else {
				raw->sid = p;
				raw->sl = n;
			}
			p += n;
			break;
		default:
			if (!rd_skip(&p, end, wt))
				return false;
		}
	}
	for (int h = 0; h < 3; h++) {
		raw->n_buckets[h] = hin[h].n;
		raw->total[h] = hin[h].total;
		raw->over[h] = hin[h].over;
		raw->nz[h] = hin[h].nz;
		raw->nv[h] = hin[h].nv;
	}
	return true;
}

/* A TcpDelta into `a` (zeroed first) and its series into `s`. */
bool mx_rpb_tcp(const uint8_t *p, const uint8_t *end,
		      struct mx_tcp_agg *a, struct mx_rpb_series *s)
{
	memset(&a->opened, 0, sizeof(*a) - offsetof(struct mx_tcp_agg, opened));
	s->present = s->has_peer = false;
	while (p < end) {
		uint32_t tag;
		unsigned wt;
		size_t n;
		uint64_t v;
		if (!rd_get_key(&p, end, &tag, &wt))
			return false;
		if (tag == 1) {
			if (wt != 2 || !rd_get_len(&p, end, &n) ||
			    !rd_pb_series(p, p + n, s))
				return false;
			p += n;
		} else if (tag >= 2 && tag <= 5) {
			if (wt != 0 || !rd_get_varint(&p, end, &v))
				return false;
			if (tag == 2)
				a->opened = v;
			else if (tag == 3)
				a->closed = v;
			else if (tag == 4)
				a->sent_bytes = v;
			else
				a->received_bytes = v;
		} else if (!rd_skip(&p, end, wt)) {
			return false;
		}
	}
	return true;
}

/* --- the top level --- */

bool mx_rpb_next(const uint8_t *buf, size_t *pos, size_t end,
		 struct mx_rpb_field *f)
{
	uint64_t key = 0, v = 0;
	if (*pos >= end || !rd_varint(buf, pos, end, &key))
		return false;
	f->body = *pos;
	f->num = key >> 3;
	f->wt = (unsigned)(key & 7);
	if (f->wt == 0) {
		rd_varint(buf, pos, end, &v);
		f->val = f->body;
		f->vlen = *pos - f->body;
	} else if (f->wt == 1 || f->wt == 5) {
		f->val = *pos;
		f->vlen = f->wt == 1 ? 8 : 4;
		*pos += f->vlen;
	} else {
		rd_varint(buf, pos, end, &v);
		f->val = *pos;
		f->vlen = (size_t)v;
		*pos += (size_t)v;
	}
	return true;
}

void mx_rpb_top_free(struct mx_rpb_top *t)
{
	free(t->strs);
	free(t->aggs);
	t->strs = t->aggs = NULL;
	t->cap_strs = t->cap_aggs = 0;
}

/* Records the position of the n-th field of its kind (*arr grows). */
static bool rd_record(struct mx_rpb_pos **arr, size_t *cap, size_t n,
		      size_t val, size_t len, uint32_t num)
{
	if (n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 1024;
		struct mx_rpb_pos *p = realloc(*arr, ncap * sizeof(*p));
		if (!p)
			return false;
		*arr = p;
		*cap = ncap;
	}
	(*arr)[n] = (struct mx_rpb_pos){ val, len, num };
	return true;
}

/* The checks of the top level are those of the former split pass (with
 * its messages), which ran before protobuf-c: so a structural error wins
 * over an earlier field protobuf-c would have refused (*bad). */
int mx_rpb_scan(const uint8_t *buf, size_t len, struct mx_rpb_top *t,
		struct mx_errmsg *err, bool *bad)
{
	size_t pos = 0;
	t->str_from = t->agg_from = len;
	while (pos < len) {
		size_t at = pos;
		uint64_t key, v = 0;
		/* the bulk of a report: strings (key 0x2a) and request deltas
		 * (0x3a) with a one- or two-byte length */
		if ((buf[pos] == 0x2a || buf[pos] == 0x3a) && len - pos >= 2 &&
		    !*bad) {
			size_t l = buf[pos + 1], hl = 1;
			bool ok = true;
			if (l & 0x80) {
				ok = len - pos >= 3 && !(buf[pos + 2] & 0x80);
				l = (l & 0x7f) | (size_t)(ok ? buf[pos + 2] : 0) << 7;
				hl = 2;
			}
			if (ok && l <= len - pos - 1 - hl) {
				size_t val = pos + 1 + hl;
				pos = val + l;
				if (buf[at] == 0x2a) {
					if (!rd_record(&t->strs, &t->cap_strs,
						       t->n_strings, val, l, 5))
						return MX_ENOMEM;
					if (t->n_strings++ == 0)
						t->str_from = at;
					t->str_to = pos;
				} else {
					if (!rd_record(&t->aggs, &t->cap_aggs,
						       t->n_req + t->n_tcp, val,
						       l, 7))
						return MX_ENOMEM;
					if (t->n_req + t->n_tcp == 0)
						t->agg_from = at;
					t->agg_to = pos;
					t->n_req++;
				}
				continue;
			}
		}
		if (!rd_varint(buf, &pos, len, &key) || (key >> 3) == 0 ||
		    (key >> 3) > 0x1fffffff)
			goto bad_key;
		size_t body = pos, val = pos; /* past the key */
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
			val = pos;
			pos += (size_t)v;
			break;
		default:
			mx_errmsg_set(err, "report: unsupported wire type %u at "
				      "offset %zu", wt, at);
			return MX_EINVAL;
		}
		uint64_t field = key >> 3;
		if (field == MX_RPB_SPANS_FIELD && wt == 2) {
			t->span_bytes += 1 + (pos - body); /* one-byte key 0x12 */
			t->n_spans++;
			continue;
		}
		/* protobuf-c's limits: keys and length prefixes of 5 bytes */
		if (body - at > 5 || (wt == 2 && val - body > 5))
			*bad = true;
		if (*bad)
			continue; /* only structural errors matter now */
		size_t n = pos - val;
		switch (field) {
		case 1:
		case 12:
			if (wt != 2)
				*bad = true;
			else if (field == 1) {
				t->iid = buf + val;
				t->iid_len = n;
			} else {
				t->lv = buf + val;
				t->lv_len = n;
			}
			break;
		case 2:
		case 10:
		case 11:
			if (wt != 0)
				*bad = true;
			else if (field == 2)
				t->seq = v;
			else if (field == 10)
				t->dropped = v;
			else
				t->overflow = v;
			break;
		case 3:
		case 4:
			if (wt != 1)
				*bad = true;
			else if (field == 3)
				t->start_ns = rd_le64(buf + val);
			else
				t->end_ns = rd_le64(buf + val);
			break;
		case 5:
			if (wt != 2)
				*bad = true;
			else if (!rd_record(&t->strs, &t->cap_strs, t->n_strings,
					    val, n, 5))
				return MX_ENOMEM;
			if (t->n_strings++ == 0)
				t->str_from = at;
			t->str_to = pos;
			break;
		case 6:
			if (wt != 2 || !rd_pb_workload(buf + val, buf + pos,
						       t->reporter))
				*bad = true;
			break;
		case 7:
		case 8:
			if (wt != 2)
				*bad = true;
			else if (!rd_record(&t->aggs, &t->cap_aggs,
					    t->n_req + t->n_tcp, val, n,
					    (uint32_t)field))
				return MX_ENOMEM;
			if (t->n_req + t->n_tcp == 0)
				t->agg_from = at;
			t->agg_to = pos;
			if (field == 7)
				t->n_req++;
			else
				t->n_tcp++;
			break;
		case MX_RPB_SPANS_FIELD: /* not length-delimited */
			*bad = true;
			break;
		default:
			break; /* unknown: skipped */
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
	return MX_OK;
}

/* --- the spans --- */

/* The span fields are re-keyed from Report.spans (9) to ScopeSpans.spans
 * (2, a one-byte key), which t->span_bytes counted already. */
int mx_rpb_span_request(const uint8_t *buf, size_t len,
			const struct mx_rpb_top *t, uint8_t **out,
			size_t *out_len)
{
	size_t ss = t->span_bytes;
	size_t rs = 1 + rd_varint_len(ss) + ss;
	size_t total = 1 + rd_varint_len(rs) + rs;
	uint8_t *s = malloc(total);
	if (!s)
		return MX_ENOMEM;
	size_t n = 0, pos = 0;
	struct mx_rpb_field f;
	s[n++] = 0x0a; /* request.resource_spans, field 1, LEN */
	n += rd_put_varint(s + n, rs);
	s[n++] = 0x12; /* ResourceSpans.scope_spans, field 2, LEN */
	n += rd_put_varint(s + n, ss);
	while (mx_rpb_next(buf, &pos, len, &f)) {
		if (f.num == MX_RPB_SPANS_FIELD && f.wt == 2) {
			s[n++] = 0x12; /* ScopeSpans.spans, field 2, LEN */
			memcpy(s + n, buf + f.body, pos - f.body);
			n += pos - f.body;
		}
	}
	*out = s;
	*out_len = n;
	return MX_OK;
}
