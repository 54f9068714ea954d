/*
 * thrift.h - internal interface of the hand-written thrift readers and
 * writers (binary protocol: thrift_binary.c, compact: thrift_compact.c),
 * used by the Jaeger thrift codec (codec/jaeger_thrift_*.c) only.
 *
 * One reader interface over both protocols: types are reported in the binary
 * protocol's numbering (MX_THR_*), the compact reader translates. Every read
 * is checked against the bytes left, lengths are capped by `max_bytes`,
 * negative lengths are refused, and nesting (structs, lists, maps) is capped
 * at MX_THR_MAX_DEPTH. Readers return MX_OK, MX_EINVAL (r->why names the
 * problem) or MX_EDEPTH. Writers append to an mx_buf whose failures are
 * sticky, so a sequence of writes is checked once (buf->failed).
 */
#ifndef MX_THRIFT_H
#define MX_THRIFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../model/buf.h"
#include "jaeger_thrift.h"

/* Types in the binary protocol's numbering. */
enum mx_thr_type {
	MX_THR_STOP = 0,
	MX_THR_BOOL = 2,
	MX_THR_I8 = 3,
	MX_THR_DOUBLE = 4,
	MX_THR_I16 = 6,
	MX_THR_I32 = 8,
	MX_THR_I64 = 10,
	MX_THR_STRING = 11,
	MX_THR_STRUCT = 12,
	MX_THR_MAP = 13,
	MX_THR_SET = 14,
	MX_THR_LIST = 15,
	MX_THR_UUID = 16,
};

/* Message types. */
#define MX_THR_CALL 1
#define MX_THR_ONEWAY 4

/* Structs, lists and maps nested deeper than this are refused (MX_EDEPTH). */
#define MX_THR_MAX_DEPTH 16

struct mx_thr_rd {
	const uint8_t *p, *end;
	enum mx_thrift_proto proto;
	uint32_t max_bytes;   /* cap on one string/binary length */
	uint32_t depth;       /* structs entered */
	int16_t last_fid[MX_THR_MAX_DEPTH + 1]; /* compact: per struct level */
	int8_t bool_val;      /* compact: value of the last bool field, -1 none */
	const char *why;      /* static text of the first error */
};

/* Sets up a reader over buf[0..len). */
void mx_thr_rd_init(struct mx_thr_rd *r, enum mx_thrift_proto proto,
		    const uint8_t *buf, size_t len, uint32_t max_bytes);

/* Bytes not yet read. */
static inline size_t mx_thr_left(const struct mx_thr_rd *r)
{
	return (size_t)(r->end - r->p);
}

/* Records `why` (first wins) and returns MX_EINVAL. */
int mx_thr_fail(struct mx_thr_rd *r, const char *why);

/* Reads a message header; the name is left pointing into the input. */
int mx_thr_read_msg(struct mx_thr_rd *r, const uint8_t **name, uint32_t *nlen,
		    uint8_t *type);

/* Enters / leaves a struct (depth check; compact field-id stack). */
int mx_thr_struct_begin(struct mx_thr_rd *r);
void mx_thr_struct_end(struct mx_thr_rd *r);

/* Reads the next field header; *type == MX_THR_STOP at the struct's end. */
int mx_thr_field(struct mx_thr_rd *r, uint8_t *type, int16_t *id);

/* Reads a list or set header. *n is checked against the bytes left (every
 * element takes at least one byte). */
int mx_thr_list(struct mx_thr_rd *r, uint8_t *etype, uint32_t *n);

/* Scalar reads. mx_thr_bool() reads a bool field's value (compact: from its
 * header) or a list element. */
int mx_thr_bool(struct mx_thr_rd *r, bool *v);
int mx_thr_i8(struct mx_thr_rd *r, int8_t *v);
int mx_thr_i16(struct mx_thr_rd *r, int16_t *v);
int mx_thr_i32(struct mx_thr_rd *r, int32_t *v);
int mx_thr_i64(struct mx_thr_rd *r, int64_t *v);
int mx_thr_double(struct mx_thr_rd *r, double *v);

/* Reads a string/binary; *p points into the input (not copied). */
int mx_thr_binary(struct mx_thr_rd *r, const uint8_t **p, uint32_t *n);

/* Skips one value of `type` (with everything nested in it). */
int mx_thr_skip(struct mx_thr_rd *r, uint8_t type);

struct mx_thr_wr {
	struct mx_buf *b;
	enum mx_thrift_proto proto;
	uint32_t depth;
	int16_t last_fid[MX_THR_MAX_DEPTH + 1];
};

/* Sets up a writer appending to `b`. */
void mx_thr_wr_init(struct mx_thr_wr *w, enum mx_thrift_proto proto,
		    struct mx_buf *b);

/* Writes a message header (strict binary / compact) with seqid 0. */
void mx_thr_w_msg(struct mx_thr_wr *w, const char *name, uint8_t type);

/* Struct framing: begin pushes the compact field-id, end writes the stop
 * byte and pops. Callers nest no deeper than MX_THR_MAX_DEPTH. */
void mx_thr_w_struct_begin(struct mx_thr_wr *w);
void mx_thr_w_struct_end(struct mx_thr_wr *w);

/* A field header of `type` (not BOOL: use mx_thr_w_bool_field()). */
void mx_thr_w_field(struct mx_thr_wr *w, uint8_t type, int16_t id);

/* A whole bool field (compact keeps the value in the header). */
void mx_thr_w_bool_field(struct mx_thr_wr *w, int16_t id, bool v);

/* A list header of `n` elements of `etype`. */
void mx_thr_w_list(struct mx_thr_wr *w, uint8_t etype, uint32_t n);

/* Scalar values (after a field or list header). */
void mx_thr_w_i32(struct mx_thr_wr *w, int32_t v);
void mx_thr_w_i64(struct mx_thr_wr *w, int64_t v);
void mx_thr_w_double(struct mx_thr_wr *w, double v);
void mx_thr_w_binary(struct mx_thr_wr *w, const void *p, uint32_t n);

/* Protocol back ends (dispatched to by the functions above). */
int mx_thrb_field(struct mx_thr_rd *r, uint8_t *type, int16_t *id);
int mx_thrb_list(struct mx_thr_rd *r, uint8_t *etype, uint32_t *n);
int mx_thrb_msg(struct mx_thr_rd *r, const uint8_t **name, uint32_t *nlen,
		uint8_t *type);
int mx_thrb_i16(struct mx_thr_rd *r, int16_t *v);
int mx_thrb_i32(struct mx_thr_rd *r, int32_t *v);
int mx_thrb_i64(struct mx_thr_rd *r, int64_t *v);
int mx_thrb_double(struct mx_thr_rd *r, double *v);
int mx_thrb_binary(struct mx_thr_rd *r, const uint8_t **p, uint32_t *n);
int mx_thrb_skip_map(struct mx_thr_rd *r, uint8_t *kt, uint8_t *vt,
		     uint32_t *n);
int mx_thrc_field(struct mx_thr_rd *r, uint8_t *type, int16_t *id);
int mx_thrc_list(struct mx_thr_rd *r, uint8_t *etype, uint32_t *n);
int mx_thrc_msg(struct mx_thr_rd *r, const uint8_t **name, uint32_t *nlen,
		uint8_t *type);
int mx_thrc_i16(struct mx_thr_rd *r, int16_t *v);
int mx_thrc_i32(struct mx_thr_rd *r, int32_t *v);
int mx_thrc_i64(struct mx_thr_rd *r, int64_t *v);
int mx_thrc_double(struct mx_thr_rd *r, double *v);
int mx_thrc_binary(struct mx_thr_rd *r, const uint8_t **p, uint32_t *n);
int mx_thrc_skip_map(struct mx_thr_rd *r, uint8_t *kt, uint8_t *vt,
		     uint32_t *n);
void mx_thrb_w_field(struct mx_thr_wr *w, uint8_t type, int16_t id);
void mx_thrb_w_list(struct mx_thr_wr *w, uint8_t etype, uint32_t n);
void mx_thrc_w_field(struct mx_thr_wr *w, uint8_t type, int16_t id);
void mx_thrc_w_list(struct mx_thr_wr *w, uint8_t etype, uint32_t n);

#endif
