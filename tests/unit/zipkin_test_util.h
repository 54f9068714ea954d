/*
 * zipkin_test_util.h - helpers of the Zipkin codec tests (test_zipkin.c,
 * test_zipkin_bad.c, test_zipkin_v1.c): decode a body into a fresh batch,
 * encode to a NUL-terminated string, look up tags and compare model
 * strings. Functions are static inline so that each test binary takes what
 * it uses.
 */
#ifndef MX_ZIPKIN_TEST_UTIL_H
#define MX_ZIPKIN_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../codec/zipkin.h"
#include "../../model/error.h"

enum zt_codec { ZT_JSON, ZT_PROTO, ZT_V1 };

static struct mx_decode_limits zt_lim;

static inline int zt_setup(void **state)
{
	(void)state;
	mx_decode_limits_default(&zt_lim);
	return 0;
}

/* Decodes `n` bytes with `codec` into a new batch (*out, always set). */
static inline int zt_decode_n(enum zt_codec codec, const void *p, size_t n,
			      struct mx_batch **out, struct mx_errmsg *err)
{
	*out = mx_batch_new(64u << 20);
	assert_non_null(*out);
	memset(err, 0, sizeof(*err));
	switch (codec) {
	case ZT_PROTO:
		return mx_zipkin_proto_decode(p, n, &zt_lim, *out, err);
	case ZT_V1:
		return mx_zipkin_v1_decode(p, n, &zt_lim, *out, err);
	default:
		return mx_zipkin_json_decode(p, n, &zt_lim, *out, err);
	}
}

static inline int zt_decode(enum zt_codec codec, const char *s,
			    struct mx_batch **out, struct mx_errmsg *err)
{
	return zt_decode_n(codec, s, strlen(s), out, err);
}

/* Decodes a JSON body that must succeed with `n_spans` spans, none
 * rejected; returns the batch. */
static inline struct mx_batch *zt_ok(enum zt_codec codec, const char *s,
				     uint32_t n_spans)
{
	struct mx_batch *b;
	struct mx_errmsg err;
	int rc = zt_decode(codec, s, &b, &err);
	if (rc != MX_OK)
		fail_msg("decode failed (%d): %s", rc, err.text);
	assert_int_equal(b->rejected_spans, 0);
	assert_int_equal(b->n_spans, n_spans);
	return b;
}

/* Decodes a JSON body that must fail with `want`, the message naming
 * `msg_part` (when not NULL). */
static inline void zt_expect_error(enum zt_codec codec, const char *body,
				   int want, const char *msg_part)
{
	struct mx_batch *b;
	struct mx_errmsg err;
	int rc = zt_decode(codec, body, &b, &err);
	if (rc != want)
		fail_msg("%s: got %d (%s), want %d", body, rc, err.text, want);
	if (msg_part && !strstr(err.text, msg_part))
		fail_msg("%s: message \"%s\" lacks \"%s\"", body, err.text, msg_part);
	mx_batch_free(b);
}

/* The v2 JSON of all spans of `b` as a malloc'd NUL-terminated string. */
static inline char *zt_json(const struct mx_batch *b)
{
	struct mx_buf out;
	size_t n;
	mx_buf_init(&out, 16u << 20);
	assert_int_equal(mx_zipkin_json_encode_spans(b->spans, b->n_spans, &out),
			 MX_OK);
	mx_buf_putc(&out, '\0');
	char *s = (char *)mx_buf_steal(&out, &n);
	assert_non_null(s);
	return s;
}

static inline bool zt_str_is(struct mx_str s, const char *c)
{
	return mx_str_eq(s, c, strlen(c));
}

#define assert_mxstr(s, c)                                                \
	do {                                                              \
		struct mx_str s_ = (s);                                   \
		if (!zt_str_is(s_, (c)))                                  \
			fail_msg("got \"%.*s\", want \"%s\"", (int)s_.len, \
				 s_.ptr ? s_.ptr : "", (c));              \
	} while (0)

/* The string value of attribute `key` of span `s` (fails when absent). */
static inline struct mx_str zt_tag(const struct mx_span *s, const char *key)
{
	struct mx_str v = mx_attrs_get_str(&s->attrs, key);
	if (!v.ptr)
		fail_msg("no tag %s", key);
	return v;
}

static inline bool zt_has_tag(const struct mx_span *s, const char *key)
{
	size_t n = strlen(key);
	for (uint32_t i = 0; i < s->attrs.n; i++)
		if (mx_str_eq(s->attrs.items[i].key, key, n))
			return true;
	return false;
}

static inline void zt_hex(const uint8_t *id, size_t n, const char *want)
{
	char hex[33];
	mx_id_to_hex(id, n, hex);
	assert_string_equal(hex, want);
}

#endif
