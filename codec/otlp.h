/*
 * otlp.h - OTLP trace codecs: ExportTraceServiceRequest <-> model, in binary
 * protobuf and in OTLP/JSON, plus the response and error bodies of OTLP/HTTP.
 *
 * Files: otlp_decode.c (protobuf, via protobuf-c with an arena allocator after
 * a schema-aware nesting pre-scan), otlp_json_decode.c (jansson),
 * otlp_encode.c (hand-written protobuf writer), otlp_json_encode.c,
 * otlp_response.c. Mapping rules: model/MAPPING.md.
 */
#ifndef MX_OTLP_H
#define MX_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../model/buf.h"
#include "../model/span.h"
#include "codec.h"

/* Decodes a binary ExportTraceServiceRequest (or TracesData, same layout)
 * into `out`, appending spans. Returns MX_OK; MX_EINVAL for bytes that are
 * not a valid message; MX_EDEPTH when nesting passes lim->max_depth;
 * MX_ENOMEM when the batch arena cap is reached. On MX_OK, spans rejected on
 * their content (invalid or zero ids, caps) are counted in
 * out->rejected_spans and `err` holds the first reason. On error `err` names
 * the problem and `out` may hold partial data (free the batch). */
int mx_otlp_decode_proto(const uint8_t *buf, size_t len,
			 const struct mx_decode_limits *lim,
			 struct mx_batch *out, struct mx_errmsg *err);

/* As mx_otlp_decode_proto() for OTLP/JSON: hex ids (case-insensitive),
 * 64-bit integers as strings or numbers, enums as integers or names,
 * lowerCamelCase keys (snake_case accepted), legacy
 * instrumentationLibrarySpans. */
int mx_otlp_decode_json(const char *buf, size_t len,
			const struct mx_decode_limits *lim,
			struct mx_batch *out, struct mx_errmsg *err);

/* Encodes the spans of `b` as a binary ExportTraceServiceRequest, grouping
 * consecutive spans that share resource and scope pointers. Returns MX_OK or
 * MX_ENOMEM (buffer cap). */
int mx_otlp_encode_proto(const struct mx_batch *b, struct mx_buf *out);

/* As mx_otlp_encode_proto(), in OTLP/JSON. */
int mx_otlp_encode_json(const struct mx_batch *b, struct mx_buf *out);

/* Writes an ExportTraceServiceResponse: empty on full success
 * (rejected == 0 and msg NULL), else partial_success {rejected_spans, msg}.
 * JSON when `json`, else binary protobuf. */
int mx_otlp_encode_response(bool json, int64_t rejected, const char *msg,
			    struct mx_buf *out);

/* Writes a google.rpc.Status {code, message} error body. */
int mx_otlp_encode_status(bool json, int32_t code, const char *msg,
			  struct mx_buf *out);

#endif
