/*
 * report.h - the decoder of libmixd's native report
 * (proto/mixd/report.proto, POST /v1/report) into the metrics model
 * (model/metrics.h) and the span model (model/span.h).
 *
 * Files: report_decode.c (checks, conversion, spans) and
 * report_decode_pb.c (a single-pass protobuf reader; internals in
 * report_decode_int.h). The decoder resolves every string-table index,
 * applies Istio's label value conventions (see model/metrics.h), checks
 * every histogram (0 or exactly MX_HIST_BUCKETS buckets, summing to the
 * request count) and converts the report's spans with the OTLP decoder, so
 * they get the same checks and caps as OTLP spans. A report is applied
 * whole or not at all, so any malformed part rejects the whole report;
 * only single spans are rejected one by one (as in OTLP).
 */
#ifndef MX_REPORT_H
#define MX_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "../model/metrics.h"
#include "../model/span.h"
#include "codec.h"

/* Decodes one uncompressed report `buf[0..len)` into the batch `b`: the
 * struct mx_report, its aggregates and strings are allocated in b's arena,
 * and its spans are appended to b (from index (*out)->first_span on), each
 * with a resource built from the reporter's identity (service.name = the
 * reporter's canonical service label; the identity as istio.* attributes)
 * and the scope "libmixd" with the report's library version.
 *
 * Rejected with MX_EINVAL (and a message in `err`): bytes that are not a
 * valid Report; instance_id not 16 bytes; sequence 0; a string-table index
 * out of range; strings[0] not empty; a string that is not UTF-8 or is
 * longer than lim->max_value_bytes; a delta without series or with a role
 * other than source/destination (unspecified is allowed only on the
 * reporter's overflow cell, which libmixd sends without labels); a histogram with a bucket count other
 * than 0 or MX_HIST_BUCKETS, whose buckets do not sum to the request count
 * (an empty histogram needs a count of 0), or with a negative or
 * non-finite sum; exemplar ids of the wrong length or a non-finite
 * exemplar value. MX_EDEPTH when a span nests AnyValues deeper than
 * lim->max_depth; MX_ENOMEM when b's arena cap is reached. Spans with bad
 * ids or over a cap are counted in b->rejected_spans (first reason in
 * `err`) and the report still succeeds. On error *out is NULL and b may
 * hold partial data (free the batch).
 *
 * Wire rules (those of protobuf-c 1.4.1, which the decoder used before):
 * unknown fields are skipped; repeated uint64 come packed or not; the
 * last value of a repeated scalar, string or bytes field wins; a string
 * ends at its first NUL byte; uint32 and enum values keep their low 32
 * bits; a repeated Workload counts as its last occurrence, a repeated
 * Series takes its scalars from its last occurrence (absent ones 0) and
 * its peer from the last occurrence that has one. Malformed wire data
 * anywhere wins over any other error; otherwise the first error is
 * reported in the order: header, request deltas, TCP deltas. */
int mx_report_decode(const uint8_t *buf, size_t len,
		     const struct mx_decode_limits *lim, struct mx_batch *b,
		     struct mx_report **out, struct mx_errmsg *err);

#endif
