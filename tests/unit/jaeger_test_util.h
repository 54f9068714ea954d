/*
 * jaeger_test_util.h - helpers shared by the Jaeger JSON unit tests
 * (test_jaeger_json.c, test_jaeger_json_group.c): building batches by hand,
 * encoding them with mx_jaeger_json_encode_traces() and checking the output
 * with jansson. Include after <cmocka.h>.
 */
#ifndef MX_JAEGER_TEST_UTIL_H
#define MX_JAEGER_TEST_UTIL_H

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/jaeger_json.h"
#include "model/buf.h"
#include "model/error.h"
#include "model/span.h"

#define ARENA_CAP (4u * 1024 * 1024)
#define OUT_CAP (16u * 1024 * 1024)

/* ---- building batches ---- */

static inline struct mx_str S(struct mx_batch *b, const char *s)
{
	struct mx_str r = mx_batch_str(b, s, strlen(s));
	assert_non_null(r.ptr);
	return r;
}

static inline struct mx_str SN(struct mx_batch *b, const char *s, size_t n)
{
	struct mx_str r = mx_batch_str(b, s, n);
	assert_non_null(r.ptr);
	return r;
}

static inline struct mx_attr *attrs_new(struct mx_batch *b, uint32_t n)
{
	struct mx_attr *a = mx_arena_calloc(&b->arena, n, sizeof(*a));
	assert_non_null(a);
	return a;
}

static inline struct mx_value *values_new(struct mx_batch *b, uint32_t n)
{
	struct mx_value *v = mx_arena_calloc(&b->arena, n, sizeof(*v));
	assert_non_null(v);
	return v;
}

static inline void set_str(struct mx_batch *b, struct mx_attr *a, const char *k,
		    const char *v)
{
	a->key = S(b, k);
	a->value.type = MX_VAL_STRING;
	a->value.u.s = S(b, v);
}

static inline void set_int(struct mx_batch *b, struct mx_attr *a, const char *k,
		    int64_t v)
{
	a->key = S(b, k);
	a->value.type = MX_VAL_INT;
	a->value.u.i = v;
}

static inline void set_double(struct mx_batch *b, struct mx_attr *a, const char *k,
		       double v)
{
	a->key = S(b, k);
	a->value.type = MX_VAL_DOUBLE;
	a->value.u.d = v;
}

static inline struct mx_resource *resource_new(struct mx_batch *b, const char *svc,
					const char *host)
{
	struct mx_resource *r = mx_arena_calloc(&b->arena, 1, sizeof(*r));
	assert_non_null(r);
	r->attrs.n = host ? 2 : 1;
	r->attrs.items = attrs_new(b, r->attrs.n);
	set_str(b, &r->attrs.items[0], "service.name", svc);
	if (host)
		set_str(b, &r->attrs.items[1], "host.name", host);
	return r;
}

static inline struct mx_scope *scope_new(struct mx_batch *b, const char *name,
				  const char *version)
{
	struct mx_scope *s = mx_arena_calloc(&b->arena, 1, sizeof(*s));
	assert_non_null(s);
	if (name)
		s->name = S(b, name);
	if (version)
		s->version = S(b, version);
	return s;
}

static inline void trace_id(uint8_t id[16], uint64_t hi, uint64_t lo)
{
	for (int i = 0; i < 8; i++) {
		id[i] = (uint8_t)(hi >> (56 - 8 * i));
		id[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
	}
}

static inline void span_id(uint8_t id[8], uint64_t v)
{
	for (int i = 0; i < 8; i++)
		id[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* Adds a span with the basics set; returns its index. */
static inline uint32_t add_span(struct mx_batch *b, uint64_t hi, uint64_t lo,
			 uint64_t sid, uint64_t parent, const char *name,
			 const struct mx_resource *r, const struct mx_scope *sc)
{
	struct mx_span *s = mx_batch_add_span(b);
	assert_non_null(s);
	trace_id(s->trace_id, hi, lo);
	span_id(s->span_id, sid);
	span_id(s->parent_span_id, parent);
	s->name = S(b, name);
	s->resource = r;
	s->scope = sc;
	s->start_ns = 1485467191639875123ull;
	s->end_ns = s->start_ns + 5999;
	return b->n_spans - 1;
}

/* ---- encoding and JSON helpers ---- */

/* Encodes, checks the text is valid JSON (no duplicate keys) and returns
 * the parsed array; *text receives a NUL-terminated copy if non-NULL. */
static inline json_t *encode(const struct mx_batch *const *t, size_t n, char **text)
{
	struct mx_buf out;
	mx_buf_init(&out, OUT_CAP);
	assert_int_equal(mx_jaeger_json_encode_traces(t, n, &out), MX_OK);
	json_error_t err;
	json_t *j = json_loadb((const char *)out.data, out.len,
			       JSON_REJECT_DUPLICATES, &err);
	if (!j)
		fail_msg("invalid JSON: %s at %d: %.*s", err.text, err.position,
			 (int)out.len, (const char *)out.data);
	assert_true(json_is_array(j));
	if (text) {
		*text = calloc(1, out.len + 1);
		assert_non_null(*text);
		memcpy(*text, out.data, out.len);
	}
	mx_buf_free(&out);
	return j;
}

static inline const char *jstr(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	assert_non_null(v);
	assert_true(json_is_string(v));
	return json_string_value(v);
}

static inline json_int_t jint(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	assert_non_null(v);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

/* The tag `key` in a tags array; asserts its type. */
static inline const json_t *tag(const json_t *tags, const char *key,
			 const char *type)
{
	size_t i;
	const json_t *t;
	const json_t *found = NULL;
	json_array_foreach(tags, i, t) {
		if (strcmp(jstr(t, "key"), key) == 0) {
			assert_null(found); /* keys are not repeated */
			found = t;
		}
	}
	if (!found)
		fail_msg("tag %s missing", key);
	assert_string_equal(jstr(found, "type"), type);
	assert_int_equal(json_object_size(found), 3);
	return json_object_get(found, "value");
}

static inline bool has_tag(const json_t *tags, const char *key)
{
	size_t i;
	const json_t *t;
	json_array_foreach(tags, i, t)
		if (strcmp(jstr(t, "key"), key) == 0)
			return true;
	return false;
}

static inline const char *tag_str(const json_t *tags, const char *key)
{
	const json_t *v = tag(tags, key, "string");
	assert_true(json_is_string(v));
	return json_string_value(v);
}

static inline json_int_t tag_int(const json_t *tags, const char *key)
{
	const json_t *v = tag(tags, key, "int64");
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static inline void assert_keys(const json_t *tags, const char *const *keys,
			size_t n)
{
	assert_int_equal(json_array_size(tags), n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(jstr(json_array_get(tags, i), "key"),
				    keys[i]);
}

#endif
