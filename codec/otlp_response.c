/*
 * otlp_response.c - OTLP/HTTP response bodies: ExportTraceServiceResponse
 * (success and partial success) and google.rpc.Status (failure), in binary
 * protobuf (hand-encoded: both messages are two scalar fields deep) or in
 * OTLP/JSON.
 */
#include <inttypes.h>
#include <string.h>

#include "../model/error.h"
#include "otlp.h"

/* Size of `v` as a varint. */
static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

int mx_otlp_encode_response(bool json, int64_t rejected, const char *msg,
			    struct mx_buf *out)
{
	bool partial = rejected != 0 || msg != NULL;
	if (json) {
		if (!partial)
			return mx_buf_puts(out, "{}");
		mx_buf_printf(out, "{\"partialSuccess\":{\"rejectedSpans\":\"%" PRId64
			      "\"", rejected);
		if (msg) {
			mx_buf_puts(out, ",\"errorMessage\":\"");
			mx_buf_json_escape(out, msg, strlen(msg));
			mx_buf_putc(out, '"');
		}
		mx_buf_puts(out, "}}");
		return out->failed ? MX_ENOMEM : MX_OK;
	}
	if (!partial)
		return out->failed ? MX_ENOMEM : MX_OK; /* a 0-byte body */
	/* ExportTraceServiceResponse { 1: ExportTracePartialSuccess {
	 *   1: int64 rejected_spans, 2: string error_message } } */
	size_t mlen = msg ? strlen(msg) : 0;
	size_t inner = 0;
	if (rejected)
		inner += 1 + varint_len((uint64_t)rejected);
	if (mlen)
		inner += 1 + varint_len(mlen) + mlen;
	mx_buf_putc(out, 0x0a);
	mx_buf_varint(out, inner);
	if (rejected) {
		mx_buf_putc(out, 0x08);
		mx_buf_varint(out, (uint64_t)rejected);
	}
	if (mlen) {
		mx_buf_putc(out, 0x12);
		mx_buf_varint(out, mlen);
		mx_buf_append(out, msg, mlen);
	}
	return out->failed ? MX_ENOMEM : MX_OK;
}

int mx_otlp_encode_status(bool json, int32_t code, const char *msg,
			  struct mx_buf *out)
{
	size_t mlen = msg ? strlen(msg) : 0;
	if (json) {
		mx_buf_printf(out, "{\"code\":%" PRId32 ",\"message\":\"", code);
		mx_buf_json_escape(out, msg ? msg : "", mlen);
		mx_buf_puts(out, "\"}");
		return out->failed ? MX_ENOMEM : MX_OK;
	}
	/* google.rpc.Status { 1: int32 code, 2: string message }; a negative
	 * int32 is sign-extended to a 10-byte varint */
	if (code) {
		mx_buf_putc(out, 0x08);
		mx_buf_varint(out, (uint64_t)(int64_t)code);
	}
	if (mlen) {
		mx_buf_putc(out, 0x12);
		mx_buf_varint(out, mlen);
		mx_buf_append(out, msg, mlen);
	}
	return out->failed ? MX_ENOMEM : MX_OK;
}
