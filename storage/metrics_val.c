/*
 * metrics_val.c - the encodings of the metrics store's values (see
 * storage/SCHEMA.md, "Metrics", and metrics_int.h): the `counters` value
 * (compact, and the fixed layout of earlier versions, still read) and the
 * `rollups` value, and the rollup form of a series' values.
 */
#include <string.h>

#include "metrics_int.h"
#include "span_record.h"

/* Little-endian u64 stores and loads, one move each on little-endian
 * hosts (mx_put_le64 works byte by byte). */
static inline void put_le64(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, &v, 8);
#else
	mx_put_le64(p, v);
#endif
}

static inline uint64_t get_le64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
#else
	return mx_get_le64(p);
#endif
}

static uint64_t dbl_bits(double d)
{
	uint64_t u;
	memcpy(&u, &d, 8);
	return u;
}

static double bits_dbl(uint64_t u)
{
	double d;
	memcpy(&d, &u, 8);
	return d;
}

/* --- counters value: kind u8 | flags u8 | 6 zero | last_ns LE u64 |
 * values. Compact (flag MX_COUNTERS_COMPACT, written now): varints (HTTP: count,
 * then per histogram - duration, request size, response size - a mask of
 * the non-zero buckets and their values in bucket order; TCP: opened,
 * closed, sent, received), then HTTP: 3 sums as LE IEEE bits. Fixed
 * (written before, still read): LE u64s (HTTP: count, 3 x 20 buckets,
 * 3 sums; TCP: opened, closed, sent, received). --- */


static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static bool get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;
	for (unsigned s = 0; s < 64 && *p < end; s += 7) {
		uint8_t c = *(*p)++;
		x |= (uint64_t)(c & 0x7f) << s;
		if (!(c & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

/* The buckets of `mask` (a superset of the non-zero ones): the mask,
 * then their values in bucket order. */
static uint8_t *put_hist(uint8_t *p, const uint64_t *b, uint32_t mask)
{
	p = put_varint(p, mask);
	for (uint32_t m = mask; m; m &= m - 1)
		p = put_varint(p, b[__builtin_ctz(m)]);
	return p;
}

static bool get_hist(const uint8_t **p, const uint8_t *end, uint64_t *b)
{
	uint64_t mask;
	if (!get_varint(p, end, &mask) || mask >> MX_HIST_BUCKETS)
		return false;
	for (uint64_t m = mask; m; m &= m - 1)
		if (!get_varint(p, end, &b[__builtin_ctzll(m)]))
			return false;
	return true;
}

void mx_mvals_nz(const struct mx_mvals *v, uint32_t nz[3])
{
	const uint64_t *b[3] = { v->dur, v->req, v->resp };
	for (int h = 0; h < 3; h++) {
		nz[h] = 0;
		for (uint32_t i = 0; i < MX_HIST_BUCKETS; i++)
			nz[h] |= (uint32_t)(b[h][i] != 0) << i;
	}
}

size_t mx_metrics_enc_counters(uint8_t kind, uint64_t last_ns,
			       const struct mx_mvals *v, const uint32_t nz[3],
			       uint8_t *out)
{
	uint32_t own[3];
	uint8_t *p = out + 16;
	memset(out, 0, 16);
	out[0] = kind;
	out[1] = MX_COUNTERS_COMPACT;
	put_le64(out + 8, last_ns);
	p = put_varint(p, v->count);
	if (kind == MX_ISTIO_TCP) {
		p = put_varint(p, v->tcp_closed);
		p = put_varint(p, v->tcp_sent);
		return (size_t)(put_varint(p, v->tcp_received) - out);
	}
	if (!nz) {
		mx_mvals_nz(v, own);
		nz = own;
	}
	p = put_hist(p, v->dur, nz[0]);
	p = put_hist(p, v->req, nz[1]);
	p = put_hist(p, v->resp, nz[2]);
	put_le64(p, dbl_bits(v->dur_sum));
	put_le64(p + 8, dbl_bits(v->req_sum));
	put_le64(p + 16, dbl_bits(v->resp_sum));
	return (size_t)(p + 24 - out);
}

static bool dec_compact(uint8_t kind, const uint8_t *p, const uint8_t *end,
			struct mx_mvals *v)
{
	if (!get_varint(&p, end, &v->count))
		return false;
	if (kind == MX_ISTIO_TCP)
		return get_varint(&p, end, &v->tcp_closed) &&
		       get_varint(&p, end, &v->tcp_sent) &&
		       get_varint(&p, end, &v->tcp_received) && p == end;
	if (!get_hist(&p, end, v->dur) || !get_hist(&p, end, v->req) ||
	    !get_hist(&p, end, v->resp) || end - p != 24)
		return false;
	v->dur_sum = bits_dbl(get_le64(p));
	v->req_sum = bits_dbl(get_le64(p + 8));
	v->resp_sum = bits_dbl(get_le64(p + 16));
	return true;
}

bool mx_metrics_dec_counters(const uint8_t *p, size_t n, uint8_t *kind,
			     uint64_t *last_ns, struct mx_mvals *v)
{
	memset(v, 0, sizeof(*v));
	if (n < 16 || p[0] > MX_ISTIO_TCP)
		return false;
	*kind = p[0];
	*last_ns = get_le64(p + 8);
	if (p[1] & MX_COUNTERS_COMPACT) {
		if (dec_compact(*kind, p + 16, p + n, v))
			return true;
		memset(v, 0, sizeof(*v));
		return false;
	}
	size_t want = 16 + 8 * (*kind == MX_ISTIO_TCP ? 4u : 64u);
	if (n != want)
		return false;
	p += 16;
#define GET() (p += 8, get_le64(p - 8))
	v->count = GET();
	if (*kind == MX_ISTIO_TCP) {
		v->tcp_closed = GET();
		v->tcp_sent = GET();
		v->tcp_received = GET();
	} else {
		for (uint32_t i = 0; i < MX_HIST_BUCKETS; i++)
			v->dur[i] = GET();
		for (uint32_t i = 0; i < MX_HIST_BUCKETS; i++)
			v->req[i] = GET();
		for (uint32_t i = 0; i < MX_HIST_BUCKETS; i++)
			v->resp[i] = GET();
		v->dur_sum = bits_dbl(GET());
		v->req_sum = bits_dbl(GET());
		v->resp_sum = bits_dbl(GET());
	}
#undef GET
	return true;
}

/* --- rollup value: varints (HTTP: count, 20 duration buckets; TCP:
 * opened, closed, sent, received), then HTTP: 3 sums as LE IEEE bits --- */

size_t mx_metrics_enc_rollup(uint8_t kind, const struct mx_mvals *v,
			     uint8_t *out)
{
	uint8_t *p = put_varint(out, v->count);
	if (kind == MX_ISTIO_TCP) {
		p = put_varint(p, v->tcp_closed);
		p = put_varint(p, v->tcp_sent);
		return (size_t)(put_varint(p, v->tcp_received) - out);
	}
	for (uint32_t i = 0; i < MX_HIST_BUCKETS; i++)
		p = put_varint(p, v->dur[i]);
	put_le64(p, dbl_bits(v->dur_sum));
	put_le64(p + 8, dbl_bits(v->req_sum));
	put_le64(p + 16, dbl_bits(v->resp_sum));
	return (size_t)(p + 24 - out);
}

bool mx_metrics_dec_rollup(uint8_t kind, const uint8_t *p, size_t n,
			   struct mx_rollup_vals *o)
{
	const uint8_t *end = p + n;
	uint64_t x[3];
	memset(o, 0, sizeof(*o));
	if (!get_varint(&p, end, &o->count))
		return false;
	if (kind == MX_ISTIO_TCP) {
		for (int i = 0; i < 3; i++)
			if (!get_varint(&p, end, &x[i]))
				return false;
		o->tcp_closed = x[0];
		o->response_bytes_sum = (double)x[1]; /* sent */
		o->request_bytes_sum = (double)x[2];  /* received */
		return p == end;
	}
	for (uint32_t i = 0; i < MX_HIST_BUCKETS; i++)
		if (!get_varint(&p, end, &o->duration[i]))
			return false;
	if (end - p != 24)
		return false;
	o->duration_sum = bits_dbl(get_le64(p));
	o->request_bytes_sum = bits_dbl(get_le64(p + 8));
	o->response_bytes_sum = bits_dbl(get_le64(p + 16));
	return true;
}

void mx_metrics_rollup_of(uint8_t kind, const struct mx_mvals *v,
			  struct mx_rollup_vals *o)
{
	memset(o, 0, sizeof(*o));
	o->count = v->count;
	if (kind == MX_ISTIO_TCP) {
		o->tcp_closed = v->tcp_closed;
		o->response_bytes_sum = (double)v->tcp_sent;
		o->request_bytes_sum = (double)v->tcp_received;
		return;
	}
	memcpy(o->duration, v->dur, sizeof(o->duration));
	o->duration_sum = v->dur_sum;
	o->request_bytes_sum = v->req_sum;
	o->response_bytes_sum = v->resp_sum;
}

