/*
 * json_util.h - small JSON helpers shared by the codecs: parsing a body with
 * jansson (with an optional nesting pre-check and one error mapping),
 * decimal integer text, and writing model values as plain compact JSON.
 *
 * Used by otlp_json_decode.c, the Zipkin codecs and jaeger_json_encode.c so
 * that each rule (what an empty body is, which jansson error is MX_EDEPTH,
 * how a double is printed) is written once.
 */
#ifndef MX_JSON_UTIL_H
#define MX_JSON_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../model/buf.h"
#include "../model/span.h"
#include "codec.h"

/* Parses `buf[0..len)` into `*root`. A body of only whitespace (or empty) is
 * MX_OK with *root NULL. When `max_depth` is non-zero, arrays and objects
 * nested deeper than `max_depth` are refused by a linear pre-scan before
 * jansson runs (MX_EDEPTH); jansson's own guard (2048 levels) is reported as
 * MX_EDEPTH too. Invalid JSON is MX_EINVAL with line and column in `err`;
 * MX_ENOMEM when jansson runs out of memory. The caller json_decref()s
 * *root. */
int mx_json_parse(const char *buf, size_t len, uint32_t max_depth,
		  json_t **root, struct mx_errmsg *err);

/* Parses exactly `n` decimal digits (no sign, no spaces) as an unsigned
 * 64-bit integer. False when empty, not digits or over UINT64_MAX. */
bool mx_parse_u64(const char *s, size_t n, uint64_t *out);

/* As mx_parse_u64() with an optional leading '-', within int64_t. */
bool mx_parse_i64(const char *s, size_t n, int64_t *out);

/* Appends the shortest of %.15g..%.17g that reads back as `d`. `d` must be
 * finite (callers decide how to spell NaN and the infinities). */
void mx_json_put_double(struct mx_buf *b, double d);

/* Appends a JSON string literal (quotes included) of `n` bytes at `p`. */
void mx_json_put_str(struct mx_buf *b, const char *p, size_t n);

/* Appends `v` as a plain JSON value: strings quoted, bools and numbers bare,
 * non-finite doubles as the strings "NaN", "Inf", "-Inf", bytes as a base64
 * string, arrays as [...], maps as {...}, empty values as null. Nesting
 * below `depth` 64 is written as null. Failures are sticky in `b`. */
void mx_json_put_plain(struct mx_buf *b, const struct mx_value *v,
		       unsigned depth);

#endif
