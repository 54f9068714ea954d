/*
 * pb_scan.h - schema-aware wire-format pre-scan of an OTLP
 * ExportTraceServiceRequest (or TracesData, same layout).
 *
 * protobuf-c recurses once per nested message and has no nesting limit, so
 * a body of a few hundred kilobytes nesting AnyValue -> ArrayValue ->
 * AnyValue ten thousand times deep would exhaust the stack inside
 * protobuf_c_message_unpack(). This scan walks the same bytes first,
 * iteratively, knowing which fields of which OTLP trace message hold
 * sub-messages; it checks every key, varint and length it passes and
 * counts AnyValue nesting, so that protobuf-c only ever sees bodies whose
 * nesting is bounded. Unknown fields are skipped by wire type without
 * descending into them.
 */
#ifndef MX_PB_SCAN_H
#define MX_PB_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"

/* Scans `buf[0..len)` as an ExportTraceServiceRequest. An AnyValue directly
 * under a KeyValue is at depth 1, one inside its array or map at depth 2,
 * and so on. Returns MX_OK; MX_EINVAL for malformed wire data (bad varint,
 * length past the end of the enclosing message, field number 0, group or
 * reserved wire types, a known sub-message field with a non-length wire
 * type); MX_EDEPTH when an AnyValue lies deeper than `max_depth`; MX_ENOMEM
 * if the scan stack cannot be allocated. `err` (may be NULL) gets a message
 * naming the problem and its byte offset. */
int mx_pb_scan_trace_request(const uint8_t *buf, size_t len,
			     uint32_t max_depth, struct mx_errmsg *err);

#endif
