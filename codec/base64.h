/*
 * base64.h - RFC 4648 base64 for the codecs (OTLP/JSON bytesValue, Jaeger
 * UI JSON `binary` tags, Zipkin and others).
 *
 * The encoder writes the standard alphabet with '=' padding. The decoder is
 * lenient in what the proto3 JSON mapping allows: the standard or the
 * URL-safe alphabet, with or without padding; anything else (whitespace,
 * stray characters, padding in the middle, a lone trailing character) is
 * rejected.
 */
#ifndef MX_BASE64_H
#define MX_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "../model/buf.h"

/* Number of characters mx_base64_encode() writes for `n` input bytes. */
size_t mx_base64_encoded_len(size_t n);

/* Upper bound of the bytes mx_base64_decode() writes for `n` characters. */
size_t mx_base64_decoded_max(size_t n);

/* Appends the base64 text (standard alphabet, padded) of `src[0..n)` to
 * `out`. Returns MX_OK or MX_ENOMEM (buffer cap). */
int mx_base64_encode(struct mx_buf *out, const uint8_t *src, size_t n);

/* Decodes `n` characters of `src` into `dst`, which must hold
 * mx_base64_decoded_max(n) bytes; stores the decoded length in `*dst_len`.
 * Returns MX_OK or MX_EINVAL for text that is not base64. */
int mx_base64_decode(const char *src, size_t n, uint8_t *dst,
		     size_t *dst_len);

#endif
