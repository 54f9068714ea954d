/*
 * jaeger_thrift.h - Jaeger thrift codecs: `Batch` (jaeger.thrift) <-> model,
 * in the thrift binary and compact protocols, with hand-written bounded
 * readers and writers (no thrift runtime).
 *
 * Readers cap string and list lengths, nesting depth and total work, skip
 * unknown fields by type, and check every read against the bytes left.
 * Mapping rules: model/MAPPING.md (Jaeger thrift section).
 */
#ifndef MX_JAEGER_THRIFT_H
#define MX_JAEGER_THRIFT_H

#include <stddef.h>
#include <stdint.h>

#include "../model/buf.h"
#include "../model/span.h"
#include "codec.h"

enum mx_thrift_proto {
	MX_THRIFT_BINARY = 0,
	MX_THRIFT_COMPACT = 1,
};

/* Decodes one `Batch` struct (a bare Batch as POSTed to /api/traces, or
 * Batches wrapped in an RPC message such as Collector.submitBatches, every
 * element of whose list is used, each with its own resource: detected by the
 * strict header 0x80 0x01) into
 * `out`, appending spans. Spans with a zero trace id or span id are rejected
 * and counted in out->rejected_spans. Returns MX_OK, MX_EINVAL (malformed,
 * `err` names the problem), MX_EDEPTH, MX_ENOMEM. */
int mx_jaeger_thrift_decode_batch(enum mx_thrift_proto proto, const uint8_t *buf,
				  size_t len, const struct mx_decode_limits *lim,
				  struct mx_batch *out, struct mx_errmsg *err);

/* Decodes an agent datagram: a thrift RPC message `Agent.emitBatch` (oneway)
 * whose args struct holds field 1 = Batch, in `proto` (6831: compact, 6832:
 * binary). Same results as mx_jaeger_thrift_decode_batch(). */
int mx_jaeger_thrift_decode_emit_batch(enum mx_thrift_proto proto,
				       const uint8_t *buf, size_t len,
				       const struct mx_decode_limits *lim,
				       struct mx_batch *out, struct mx_errmsg *err);

/* Encodes the spans of `b` as one bare `Batch` per distinct resource
 * (consecutive spans sharing a resource pointer form one Batch; this writes
 * the FIRST such group and returns in *consumed how many spans it took, so
 * callers loop). Returns MX_OK or MX_ENOMEM (buffer cap). */
int mx_jaeger_thrift_encode_batch(enum mx_thrift_proto proto,
				  const struct mx_batch *b, uint32_t first,
				  uint32_t *consumed, struct mx_buf *out);

/* As mx_jaeger_thrift_encode_batch(), wrapped in an `Agent.emitBatch`
 * oneway message (what a Jaeger client sends to the agent over UDP). */
int mx_jaeger_thrift_encode_emit_batch(enum mx_thrift_proto proto,
				       const struct mx_batch *b, uint32_t first,
				       uint32_t *consumed, struct mx_buf *out);

#endif
