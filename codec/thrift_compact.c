/*
 * thrift_compact.c - the thrift compact protocol back end of thrift.h:
 * zigzag varints, field-id deltas per struct level, bool fields in the type
 * nibble, little-endian doubles. Types are translated to and from the binary
 * protocol's numbering used by the protocol-neutral interface.
 */
#include <string.h>

#include "../model/error.h"
#include "thrift.h"

/* compact type code -> binary numbering (0xff = invalid) */
static uint8_t from_compact(uint8_t c)
{
	static const uint8_t map[14] = {
		MX_THR_STOP, MX_THR_BOOL, MX_THR_BOOL, MX_THR_I8, MX_THR_I16,
		MX_THR_I32, MX_THR_I64, MX_THR_DOUBLE, MX_THR_STRING,
		MX_THR_LIST, MX_THR_SET, MX_THR_MAP, MX_THR_STRUCT, MX_THR_UUID,
	};
	return c < 14 ? map[c] : 0xff;
}

static uint8_t to_compact(uint8_t t)
{
	switch (t) {
	case MX_THR_BOOL: return 1;
	case MX_THR_I8: return 3;
	case MX_THR_I16: return 4;
	case MX_THR_I32: return 5;
	case MX_THR_I64: return 6;
	case MX_THR_DOUBLE: return 7;
	case MX_THR_STRING: return 8;
	case MX_THR_LIST: return 9;
	case MX_THR_SET: return 10;
	case MX_THR_MAP: return 11;
	case MX_THR_STRUCT: return 12;
	default: return 13;
	}
}

static int varint(struct mx_thr_rd *r, uint64_t *v, int maxlen)
{
	uint64_t x = 0;
	*v = 0;
	for (int i = 0; i < maxlen; i++) {
		if (r->p >= r->end)
			return mx_thr_fail(r, "truncated");
		uint8_t c = *r->p++;
		x |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			*v = x;
			return MX_OK;
		}
	}
	return mx_thr_fail(r, "varint too long");
}

static int64_t unzz(uint64_t u)
{
	return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}

int mx_thrc_i16(struct mx_thr_rd *r, int16_t *v)
{
	uint64_t u;
	if (varint(r, &u, 3))
		return MX_EINVAL;
	int64_t x = unzz(u);
	if (x < INT16_MIN || x > INT16_MAX)
		return mx_thr_fail(r, "i16 out of range");
	*v = (int16_t)x;
	return MX_OK;
}

int mx_thrc_i32(struct mx_thr_rd *r, int32_t *v)
{
	uint64_t u;
	if (varint(r, &u, 5))
		return MX_EINVAL;
	int64_t x = unzz(u);
	if (x < INT32_MIN || x > INT32_MAX)
		return mx_thr_fail(r, "i32 out of range");
	*v = (int32_t)x;
	return MX_OK;
}

int mx_thrc_i64(struct mx_thr_rd *r, int64_t *v)
{
	uint64_t u;
	if (varint(r, &u, 10))
		return MX_EINVAL;
	*v = unzz(u);
	return MX_OK;
}

int mx_thrc_double(struct mx_thr_rd *r, double *v)
{
	if (mx_thr_left(r) < 8)
		return mx_thr_fail(r, "truncated");
	uint64_t u = 0;
	for (int i = 7; i >= 0; i--)
		u = u << 8 | r->p[i];
	memcpy(v, &u, 8);
	r->p += 8;
	return MX_OK;
}

int mx_thrc_binary(struct mx_thr_rd *r, const uint8_t **p, uint32_t *n)
{
	uint64_t len;
	if (varint(r, &len, 10))
		return MX_EINVAL;
	if (len > r->max_bytes)
		return mx_thr_fail(r, "string longer than the value cap");
	if (len > mx_thr_left(r))
		return mx_thr_fail(r, "truncated");
	*p = r->p;
	*n = (uint32_t)len;
	r->p += len;
	return MX_OK;
}

int mx_thrc_field(struct mx_thr_rd *r, uint8_t *type, int16_t *id)
{
	if (r->p >= r->end)
		return mx_thr_fail(r, "truncated");
	uint8_t c = *r->p++;
	*id = 0;
	if (c == 0) {
		*type = MX_THR_STOP;
		return MX_OK;
	}
	uint8_t t = from_compact(c & 0x0f);
	if (t == 0xff || t == MX_THR_STOP)
		return mx_thr_fail(r, "bad field type");
	int16_t *last = &r->last_fid[r->depth];
	if (c >> 4) {
		int32_t fid = *last + (c >> 4);
		if (fid > INT16_MAX)
			return mx_thr_fail(r, "bad field id");
		*id = (int16_t)fid;
	} else if (mx_thrc_i16(r, id)) {
		return MX_EINVAL;
	}
	*last = *id;
	if ((c & 0x0f) == 1 || (c & 0x0f) == 2)
		r->bool_val = (c & 0x0f) == 1 ? 1 : 0;
	*type = t;
	return MX_OK;
}

int mx_thrc_list(struct mx_thr_rd *r, uint8_t *etype, uint32_t *n)
{
	if (r->p >= r->end)
		return mx_thr_fail(r, "truncated");
	uint8_t c = *r->p++;
	uint8_t t = from_compact(c & 0x0f);
	if (t == 0xff || t == MX_THR_STOP)
		return mx_thr_fail(r, "bad list element type");
	*etype = t;
	if ((c >> 4) != 15) {
		*n = c >> 4;
		return MX_OK;
	}
	uint64_t size;
	if (varint(r, &size, 5))
		return MX_EINVAL;
	if (size > INT32_MAX)
		return mx_thr_fail(r, "negative list size");
	*n = (uint32_t)size;
	return MX_OK;
}

int mx_thrc_skip_map(struct mx_thr_rd *r, uint8_t *kt, uint8_t *vt,
		     uint32_t *n)
{
	uint64_t size;
	if (varint(r, &size, 5))
		return MX_EINVAL;
	*kt = *vt = MX_THR_I8;
	*n = 0;
	if (size == 0)
		return MX_OK;
	if (size > INT32_MAX)
		return mx_thr_fail(r, "negative map size");
	if (r->p >= r->end)
		return mx_thr_fail(r, "truncated");
	uint8_t c = *r->p++;
	*kt = from_compact(c >> 4);
	*vt = from_compact(c & 0x0f);
	if (*kt == 0xff || *vt == 0xff || !*kt || !*vt)
		return mx_thr_fail(r, "bad map element type");
	*n = (uint32_t)size;
	return MX_OK;
}

int mx_thrc_msg(struct mx_thr_rd *r, const uint8_t **name, uint32_t *nlen,
		uint8_t *type)
{
	uint64_t seq;
	if (mx_thr_left(r) < 2)
		return mx_thr_fail(r, "truncated");
	if (r->p[0] != 0x82 || (r->p[1] & 0x1f) != 1)
		return mx_thr_fail(r, "bad compact message header");
	*type = r->p[1] >> 5;
	r->p += 2;
	if (varint(r, &seq, 5))
		return MX_EINVAL;
	return mx_thrc_binary(r, name, nlen);
}

void mx_thrc_w_field(struct mx_thr_wr *w, uint8_t type, int16_t id)
{
	/* 0x81 / 0x82: a bool field true / false (from mx_thr_w_bool_field) */
	uint8_t ct = type == 0x81 ? 1 : type == 0x82 ? 2 : to_compact(type);
	int16_t *last = &w->last_fid[w->depth];
	if (id > *last && id - *last <= 15) {
		mx_buf_putc(w->b, (uint8_t)((id - *last) << 4 | ct));
	} else {
		mx_buf_putc(w->b, ct);
		mx_buf_varint(w->b, (uint16_t)(((uint32_t)id << 1) ^
					       (uint32_t)(id >> 15)));
	}
	*last = id;
}

void mx_thrc_w_list(struct mx_thr_wr *w, uint8_t etype, uint32_t n)
{
	uint8_t ct = to_compact(etype);
	if (n < 15) {
		mx_buf_putc(w->b, (uint8_t)(n << 4 | ct));
	} else {
		mx_buf_putc(w->b, (uint8_t)(0xf0 | ct));
		mx_buf_varint(w->b, n);
	}
}
