/*
 * report_decode_int.h - internals of the native report decoder shared by
 * its two files: report_decode_pb.c reads the protobuf wire format of a
 * Report (the top-level pass, the nested messages, the synthetic OTLP
 * request of the spans) with exactly protobuf-c 1.4.1's acceptance rules;
 * report_decode.c checks and converts what it read (see report.h and the
 * rules in report_decode.c's opening comment).
 */
#ifndef MX_REPORT_DECODE_INT_H
#define MX_REPORT_DECODE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../model/metrics.h"
#include "codec.h"

#define MX_RPB_SPANS_FIELD 9

/* Where a length-delimited top-level field's value is: buf[val, val+len). */
struct mx_rpb_pos {
	size_t val, len;
	uint32_t num; /* the field number */
};

/* What the top-level pass found: the header fields (last occurrence
 * wins), the counts of the repeated fields, the byte ranges [from, to) of
 * the body holding every string field and every request or TCP delta
 * (from = the body length when there is none), and in wire order where
 * each string (strs[0..n_strings)) and each delta (aggs[0..n_req + n_tcp),
 * fields 7 and 8) is, so that the later passes need not walk the body
 * again (malloc'd; mx_rpb_top_free()). */
struct mx_rpb_top {
	struct mx_rpb_pos *strs, *aggs;
	size_t cap_strs, cap_aggs;
	const uint8_t *iid, *lv; /* NULL when absent */
	size_t iid_len, lv_len;
	uint64_t seq, start_ns, end_ns, dropped, overflow;
	uint32_t reporter[8]; /* Workload fields 1..8, 0 when absent */
	size_t n_strings, n_req, n_tcp, n_spans;
	size_t span_bytes; /* the span fields re-keyed with one-byte keys */
	size_t str_from, str_to, agg_from, agg_to;
};

/* A Series as read from the wire (string-table indexes unresolved). */
struct mx_rpb_series {
	bool present;
	bool has_peer;
	bool overflow;
	int32_t role;
	uint32_t peer[8]; /* Workload fields 1..8 */
	uint32_t idx[8];  /* Series fields 3..10 */
};

/* The parts of a RequestDelta read beside the aggregate itself. */
struct mx_rpb_req {
	struct mx_rpb_series s;
	size_t n_buckets[3]; /* values on the wire per histogram */
	uint64_t total[3];   /* the sum of the first MX_HIST_BUCKETS values */
	bool over[3];        /* that sum overflowed */
	uint32_t nz[3];      /* which of them are not zero */
	uint32_t nv[3];      /* how many (popcount of nz) */
	uint64_t v[3][MX_HIST_BUCKETS]; /* the non-zero ones, in order */
	const uint8_t *tid, *sid; /* exemplar ids, in the body */
	size_t tl, sl;
	double ex_value;
	uint64_t ex_time;
};

/* One top-level field: number, wire type, offsets of the byte after the
 * key and of the value (past a length prefix), the value's length. */
struct mx_rpb_field {
	uint64_t num;
	unsigned wt;
	size_t body, val, vlen;
};

/* The top-level pass over buf[0..len). Returns MX_EINVAL with a message
 * in `err` (offsets included) for a bad key, a field running past the end
 * or a group/reserved wire type, MX_ENOMEM when the positions do not fit
 * in memory. Otherwise MX_OK, with *bad set when
 * protobuf-c would have refused the report anyway (overlong key or
 * length prefix, a known field of the wrong wire type, a malformed
 * reporter Workload): no message then, the caller words it. `t` must be
 * zeroed by the caller. */
int mx_rpb_scan(const uint8_t *buf, size_t len, struct mx_rpb_top *t,
		struct mx_errmsg *err, bool *bad);

/* Frees the position arrays of `t`. */
void mx_rpb_top_free(struct mx_rpb_top *t);

/* Steps to the next top-level field of a body mx_rpb_scan() accepted,
 * below `end` (the end of a field). Returns false at `end`. */
bool mx_rpb_next(const uint8_t *buf, size_t *pos, size_t end,
		 struct mx_rpb_field *f);

/* Reads the RequestDelta p[0..end-p) into `a` (count and sums; the
 * histograms empty, the exemplar zeroed; the labels are left as they are)
 * and `raw` (the first MX_HIST_BUCKETS values of each histogram, which
 * are not zero and their sum). False when malformed. */
bool mx_rpb_request(const uint8_t *p, const uint8_t *end,
		    struct mx_request_agg *a, struct mx_rpb_req *raw);

/* Reads the TcpDelta p[0..end-p) into `a` (its counters; the labels are
 * left as they are) and its series into `s`. False when malformed. */
bool mx_rpb_tcp(const uint8_t *p, const uint8_t *end, struct mx_tcp_agg *a,
		struct mx_rpb_series *s);

/* Builds request{1: ResourceSpans{2: ScopeSpans{2: span...}}} from the
 * span fields of a body mx_rpb_scan() accepted into *out (malloc'd, the
 * caller frees). MX_OK or MX_ENOMEM. */
int mx_rpb_span_request(const uint8_t *buf, size_t len,
			const struct mx_rpb_top *t, uint8_t **out,
			size_t *out_len);

#endif
