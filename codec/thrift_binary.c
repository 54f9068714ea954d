/*
 * thrift_binary.c - the thrift binary protocol (big-endian integers, i32
 * lengths) reader and writer back end, plus the protocol-neutral entry points
 * of thrift.h that dispatch to it or to the compact back end
 * (thrift_compact.c), and skipping by type with the nesting cap.
 */
#include <string.h>

#include "../model/error.h"
#include "thrift.h"

void mx_thr_rd_init(struct mx_thr_rd *r, enum mx_thrift_proto proto,
		    const uint8_t *buf, size_t len, uint32_t max_bytes)
{
	memset(r, 0, sizeof(*r));
	r->p = buf;
	r->end = buf + len;
	r->proto = proto;
	r->max_bytes = max_bytes;
	r->bool_val = -1;
}

int mx_thr_fail(struct mx_thr_rd *r, const char *why)
{
	if (!r->why)
		r->why = why;
	return MX_EINVAL;
}

static int need(struct mx_thr_rd *r, size_t n)
{
	return mx_thr_left(r) < n ? mx_thr_fail(r, "truncated") : MX_OK;
}

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* ---- binary back end ---- */

int mx_thrb_i16(struct mx_thr_rd *r, int16_t *v)
{
	if (need(r, 2))
		return MX_EINVAL;
	*v = (int16_t)(uint16_t)be(r->p, 2);
	r->p += 2;
	return MX_OK;
}

int mx_thrb_i32(struct mx_thr_rd *r, int32_t *v)
{
	if (need(r, 4))
		return MX_EINVAL;
	*v = (int32_t)(uint32_t)be(r->p, 4);
	r->p += 4;
	return MX_OK;
}

int mx_thrb_i64(struct mx_thr_rd *r, int64_t *v)
{
	if (need(r, 8))
		return MX_EINVAL;
	*v = (int64_t)be(r->p, 8);
	r->p += 8;
	return MX_OK;
}

int mx_thrb_double(struct mx_thr_rd *r, double *v)
{
	if (need(r, 8))
		return MX_EINVAL;
	uint64_t u = be(r->p, 8);
	memcpy(v, &u, 8);
	r->p += 8;
	return MX_OK;
}

int mx_thrb_binary(struct mx_thr_rd *r, const uint8_t **p, uint32_t *n)
{
	int32_t len;
	if (mx_thrb_i32(r, &len))
		return MX_EINVAL;
	if (len < 0)
		return mx_thr_fail(r, "negative length");
	if ((uint32_t)len > r->max_bytes)
		return mx_thr_fail(r, "string longer than the value cap");
	if (need(r, (size_t)len))
		return MX_EINVAL;
	*p = r->p;
	*n = (uint32_t)len;
	r->p += len;
	return MX_OK;
}

int mx_thrb_field(struct mx_thr_rd *r, uint8_t *type, int16_t *id)
{
	if (need(r, 1))
		return MX_EINVAL;
	*type = *r->p++;
	*id = 0;
	if (*type == MX_THR_STOP)
		return MX_OK;
	return mx_thrb_i16(r, id);
}

int mx_thrb_list(struct mx_thr_rd *r, uint8_t *etype, uint32_t *n)
{
	int32_t size;
	if (need(r, 1))
		return MX_EINVAL;
	*etype = *r->p++;
	if (mx_thrb_i32(r, &size))
		return MX_EINVAL;
	if (size < 0)
		return mx_thr_fail(r, "negative list size");
	*n = (uint32_t)size;
	return MX_OK;
}

int mx_thrb_skip_map(struct mx_thr_rd *r, uint8_t *kt, uint8_t *vt,
		     uint32_t *n)
{
	int32_t size;
	if (need(r, 2))
		return MX_EINVAL;
	*kt = r->p[0];
	*vt = r->p[1];
	r->p += 2;
	if (mx_thrb_i32(r, &size))
		return MX_EINVAL;
	if (size < 0)
		return mx_thr_fail(r, "negative map size");
	*n = (uint32_t)size;
	return MX_OK;
}

int mx_thrb_msg(struct mx_thr_rd *r, const uint8_t **name, uint32_t *nlen,
		uint8_t *type)
{
	int32_t v, seq;
	if (need(r, 4))
		return MX_EINVAL;
	if (r->p[0] & 0x80) { /* strict: 0x8001 00TT, name, seqid */
		if (mx_thrb_i32(r, &v))
			return MX_EINVAL;
		if (((uint32_t)v & 0xffff0000u) != 0x80010000u)
			return mx_thr_fail(r, "bad thrift message version");
		*type = (uint8_t)(v & 0xff);
		if (mx_thrb_binary(r, name, nlen))
			return MX_EINVAL;
	} else { /* old form: name, i8 type, seqid */
		if (mx_thrb_binary(r, name, nlen) || need(r, 1))
			return MX_EINVAL;
		*type = *r->p++;
	}
	return mx_thrb_i32(r, &seq);
}

/* ---- dispatch ---- */

#define COMPACT(r) ((r)->proto == MX_THRIFT_COMPACT)

int mx_thr_read_msg(struct mx_thr_rd *r, const uint8_t **name, uint32_t *nlen,
		    uint8_t *type)
{
	return COMPACT(r) ? mx_thrc_msg(r, name, nlen, type)
			  : mx_thrb_msg(r, name, nlen, type);
}

int mx_thr_struct_begin(struct mx_thr_rd *r)
{
	if (r->depth >= MX_THR_MAX_DEPTH) {
		if (!r->why)
			r->why = "nested too deeply";
		return MX_EDEPTH;
	}
	r->depth++;
	r->last_fid[r->depth] = 0;
	return MX_OK;
}

void mx_thr_struct_end(struct mx_thr_rd *r)
{
	if (r->depth)
		r->depth--;
}

int mx_thr_field(struct mx_thr_rd *r, uint8_t *type, int16_t *id)
{
	return COMPACT(r) ? mx_thrc_field(r, type, id)
			  : mx_thrb_field(r, type, id);
}

/* The fewest bytes one element of `t` takes, 0 for an unknown type. */
static size_t min_size(const struct mx_thr_rd *r, uint8_t t)
{
	switch (t) {
	case MX_THR_BOOL: case MX_THR_I8: case MX_THR_STRUCT:
		return 1;
	case MX_THR_I16:
		return COMPACT(r) ? 1 : 2;
	case MX_THR_I32: case MX_THR_STRING:
		return COMPACT(r) ? 1 : 4;
	case MX_THR_I64:
		return COMPACT(r) ? 1 : 8;
	case MX_THR_DOUBLE:
		return 8;
	case MX_THR_MAP: case MX_THR_SET: case MX_THR_LIST:
		return COMPACT(r) ? 1 : 5;
	case MX_THR_UUID:
		return 16;
	default:
		return 0;
	}
}

int mx_thr_list(struct mx_thr_rd *r, uint8_t *etype, uint32_t *n)
{
	int rc = COMPACT(r) ? mx_thrc_list(r, etype, n)
			    : mx_thrb_list(r, etype, n);
	if (rc)
		return rc;
	size_t m = min_size(r, *etype);
	if (m == 0)
		return mx_thr_fail(r, "bad list element type");
	if (*n > mx_thr_left(r) / m)
		return mx_thr_fail(r, "list longer than the body");
	return MX_OK;
}

int mx_thr_bool(struct mx_thr_rd *r, bool *v)
{
	if (COMPACT(r) && r->bool_val >= 0) {
		*v = r->bool_val == 1;
		r->bool_val = -1;
		return MX_OK;
	}
	if (need(r, 1))
		return MX_EINVAL;
	*v = *r->p++ == 1;
	return MX_OK;
}

int mx_thr_i8(struct mx_thr_rd *r, int8_t *v)
{
	if (need(r, 1))
		return MX_EINVAL;
	*v = (int8_t)*r->p++;
	return MX_OK;
}

int mx_thr_i16(struct mx_thr_rd *r, int16_t *v)
{
	return COMPACT(r) ? mx_thrc_i16(r, v) : mx_thrb_i16(r, v);
}

int mx_thr_i32(struct mx_thr_rd *r, int32_t *v)
{
	return COMPACT(r) ? mx_thrc_i32(r, v) : mx_thrb_i32(r, v);
}

int mx_thr_i64(struct mx_thr_rd *r, int64_t *v)
{
	return COMPACT(r) ? mx_thrc_i64(r, v) : mx_thrb_i64(r, v);
}

int mx_thr_double(struct mx_thr_rd *r, double *v)
{
	return COMPACT(r) ? mx_thrc_double(r, v) : mx_thrb_double(r, v);
}

int mx_thr_binary(struct mx_thr_rd *r, const uint8_t **p, uint32_t *n)
{
	return COMPACT(r) ? mx_thrc_binary(r, p, n) : mx_thrb_binary(r, p, n);
}

/* Skips `n` values of `t`; containers count as one nesting level. */
static int skip_n(struct mx_thr_rd *r, uint8_t t, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		int rc = mx_thr_skip(r, t);
		if (rc)
			return rc;
	}
	return MX_OK;
}

int mx_thr_skip(struct mx_thr_rd *r, uint8_t type)
{
	union {
		bool b; int8_t i8; int16_t i16; int32_t i32; int64_t i64;
		double d;
	} u;
	const uint8_t *p;
	uint32_t n;
	uint8_t t, t2;
	int16_t id;
	int rc;

	switch (type) {
	case MX_THR_BOOL: return mx_thr_bool(r, &u.b);
	case MX_THR_I8: return mx_thr_i8(r, &u.i8);
	case MX_THR_I16: return mx_thr_i16(r, &u.i16);
	case MX_THR_I32: return mx_thr_i32(r, &u.i32);
	case MX_THR_I64: return mx_thr_i64(r, &u.i64);
	case MX_THR_DOUBLE: return mx_thr_double(r, &u.d);
	case MX_THR_STRING: return mx_thr_binary(r, &p, &n);
	case MX_THR_UUID:
		if (need(r, 16))
			return MX_EINVAL;
		r->p += 16;
		return MX_OK;
	case MX_THR_STRUCT:
		if ((rc = mx_thr_struct_begin(r)))
			return rc;
		for (;;) {
			if ((rc = mx_thr_field(r, &t, &id)))
				return rc;
			if (t == MX_THR_STOP)
				break;
			if ((rc = mx_thr_skip(r, t)))
				return rc;
		}
		mx_thr_struct_end(r);
		return MX_OK;
	case MX_THR_LIST: case MX_THR_SET:
		if ((rc = mx_thr_list(r, &t, &n)))
			return rc;
		if ((rc = mx_thr_struct_begin(r))) /* a nesting level */
			return rc;
		rc = skip_n(r, t, n);
		mx_thr_struct_end(r);
		return rc;
	case MX_THR_MAP:
		rc = COMPACT(r) ? mx_thrc_skip_map(r, &t, &t2, &n)
				: mx_thrb_skip_map(r, &t, &t2, &n);
		if (rc)
			return rc;
		if (n && (!min_size(r, t) || !min_size(r, t2)))
			return mx_thr_fail(r, "bad map element type");
		if (n && n > mx_thr_left(r) / (min_size(r, t) + min_size(r, t2)))
			return mx_thr_fail(r, "map longer than the body");
		if ((rc = mx_thr_struct_begin(r)))
			return rc;
		for (uint32_t i = 0; i < n && !rc; i++) {
			rc = mx_thr_skip(r, t);
			if (!rc)
				rc = mx_thr_skip(r, t2);
		}
		mx_thr_struct_end(r);
		return rc;
	default:
		return mx_thr_fail(r, "unknown thrift type");
	}
}

/* ---- writers ---- */

void mx_thr_wr_init(struct mx_thr_wr *w, enum mx_thrift_proto proto,
		    struct mx_buf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
	w->proto = proto;
}

static void put_be(struct mx_buf *b, uint64_t v, int n)
{
	uint8_t tmp[8];
	for (int i = 0; i < n; i++)
		tmp[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	mx_buf_append(b, tmp, (size_t)n);
}

static uint64_t zz(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

void mx_thr_w_msg(struct mx_thr_wr *w, const char *name, uint8_t type)
{
	size_t n = strlen(name);
	if (w->proto == MX_THRIFT_COMPACT) {
		mx_buf_putc(w->b, 0x82);
		mx_buf_putc(w->b, (uint8_t)(type << 5 | 1));
		mx_buf_varint(w->b, 0);
		mx_buf_varint(w->b, n);
		mx_buf_append(w->b, name, n);
	} else {
		put_be(w->b, 0x80010000u | type, 4);
		put_be(w->b, n, 4);
		mx_buf_append(w->b, name, n);
		put_be(w->b, 0, 4);
	}
}

void mx_thr_w_struct_begin(struct mx_thr_wr *w)
{
	if (w->depth < MX_THR_MAX_DEPTH)
		w->depth++;
	w->last_fid[w->depth] = 0;
}

void mx_thr_w_struct_end(struct mx_thr_wr *w)
{
	mx_buf_putc(w->b, 0);
	if (w->depth)
		w->depth--;
}

void mx_thrb_w_field(struct mx_thr_wr *w, uint8_t type, int16_t id)
{
	mx_buf_putc(w->b, type);
	put_be(w->b, (uint16_t)id, 2);
}

void mx_thrb_w_list(struct mx_thr_wr *w, uint8_t etype, uint32_t n)
{
	mx_buf_putc(w->b, etype);
	put_be(w->b, n, 4);
}

void mx_thr_w_field(struct mx_thr_wr *w, uint8_t type, int16_t id)
{
	if (w->proto == MX_THRIFT_COMPACT)
		mx_thrc_w_field(w, type, id);
	else
		mx_thrb_w_field(w, type, id);
}

void mx_thr_w_bool_field(struct mx_thr_wr *w, int16_t id, bool v)
{
	/* compact: the back end folds the value into the type nibble */
	if (w->proto == MX_THRIFT_COMPACT) {
		mx_thrc_w_field(w, v ? 0x81 : 0x82, id);
	} else {
		mx_thrb_w_field(w, MX_THR_BOOL, id);
		mx_buf_putc(w->b, v ? 1 : 0);
	}
}

void mx_thr_w_list(struct mx_thr_wr *w, uint8_t etype, uint32_t n)
{
	if (w->proto == MX_THRIFT_COMPACT)
		mx_thrc_w_list(w, etype, n);
	else
		mx_thrb_w_list(w, etype, n);
}

void mx_thr_w_i32(struct mx_thr_wr *w, int32_t v)
{
	if (w->proto == MX_THRIFT_COMPACT)
		mx_buf_varint(w->b, (uint32_t)(((uint32_t)v << 1) ^
					       (uint32_t)(v >> 31)));
	else
		put_be(w->b, (uint32_t)v, 4);
}

void mx_thr_w_i64(struct mx_thr_wr *w, int64_t v)
{
	if (w->proto == MX_THRIFT_COMPACT)
		mx_buf_varint(w->b, zz(v));
	else
		put_be(w->b, (uint64_t)v, 8);
}

void mx_thr_w_double(struct mx_thr_wr *w, double v)
{
	uint64_t u;
	memcpy(&u, &v, 8);
	if (w->proto == MX_THRIFT_COMPACT) {
		uint8_t tmp[8];
		for (int i = 0; i < 8; i++)
			tmp[i] = (uint8_t)(u >> (8 * i));
		mx_buf_append(w->b, tmp, 8);
	} else {
		put_be(w->b, u, 8);
	}
}

void mx_thr_w_binary(struct mx_thr_wr *w, const void *p, uint32_t n)
{
	if (w->proto == MX_THRIFT_COMPACT)
		mx_buf_varint(w->b, n);
	else
		put_be(w->b, n, 4);
	if (n)
		mx_buf_append(w->b, p, n);
}
