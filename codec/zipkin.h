/*
 * zipkin.h - Zipkin codecs: v2 JSON and proto3 (ListOfSpans) both ways,
 * and v1 JSON in.
 *
 * Files: zipkin_json_decode.c, zipkin_proto_decode.c, zipkin_v1_decode.c,
 * zipkin_json_encode.c, zipkin_proto_encode.c; zipkin_common.c (decode-side
 * rules shared by the three decoders) and zipkin_out.c (encode-side rules),
 * both behind zipkin_int.h. Mapping rules (ids, kinds,
 * endpoints, tags, annotations, shared/debug, status): model/MAPPING.md.
 *
 * Decoders are lenient where real clients are (64-bit ids, upper-case hex,
 * numbers sent as strings or with fractions, non-string tag values
 * stringified, lower-case kinds, port 0 as absent); encoders are strict
 * (lower-hex ids, int64 microseconds, absent fields omitted) because mixd
 * forwards to real Zipkin servers.
 */
#ifndef MX_ZIPKIN_H
#define MX_ZIPKIN_H

#include <stddef.h>
#include <stdint.h>

#include "../model/buf.h"
#include "../model/span.h"
#include "codec.h"

/* Decodes a v2 JSON list of spans into `out`, appending spans. An empty body
 * or `[]` is MX_OK with no spans. A v1 body (it has binaryAnnotations) is
 * MX_EINVAL with a message saying so. Spans without a valid trace id or id
 * are rejected and counted in out->rejected_spans; other errors reject the
 * whole body (MX_EINVAL, MX_EDEPTH, MX_ENOMEM) with `err` set. Each span gets
 * a resource holding `service.name` = localEndpoint.serviceName (spans of the
 * same service in one body share one resource). */
int mx_zipkin_json_decode(const char *buf, size_t len,
			  const struct mx_decode_limits *lim,
			  struct mx_batch *out, struct mx_errmsg *err);

/* As mx_zipkin_json_decode() for a proto3 ListOfSpans. */
int mx_zipkin_proto_decode(const uint8_t *buf, size_t len,
			   const struct mx_decode_limits *lim,
			   struct mx_batch *out, struct mx_errmsg *err);

/* Decodes a v1 JSON list of spans, converted as Zipkin's V1SpanConverter
 * does: timing from cs/cr/sr/ss when absent, core annotations are timing
 * (not events), binary annotations become tags, ca/sa/ma become the remote
 * endpoint; a span with both client and server annotations yields a client
 * span and a shared server span. */
int mx_zipkin_v1_decode(const char *buf, size_t len,
			const struct mx_decode_limits *lim,
			struct mx_batch *out, struct mx_errmsg *err);

/* Appends the v2 JSON of one span (an object, no brackets) to `out`. */
int mx_zipkin_json_encode_span(const struct mx_span *s, struct mx_buf *out);

/* Appends a v2 JSON array of the `n` spans at `spans`. */
int mx_zipkin_json_encode_spans(const struct mx_span *spans, size_t n,
				struct mx_buf *out);

/* Appends a proto3 ListOfSpans of the spans of `b`. */
int mx_zipkin_proto_encode(const struct mx_batch *b, struct mx_buf *out);

#endif
