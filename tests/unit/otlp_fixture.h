/*
 * otlp_fixture.h - shared fixtures of the OTLP codec tests (test_otlp.c,
 * test_otlp_json.c): a batch that uses every field and attribute type of the
 * model, and a deep comparison of two batches with cmocka assertions.
 * Functions are static inline so that each test binary takes what it uses.
 */
#ifndef MX_OTLP_FIXTURE_H
#define MX_OTLP_FIXTURE_H

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../codec/otlp.h"
#include "../../model/error.h"

static inline struct mx_str fx_s(struct mx_batch *b, const char *s)
{
	struct mx_str r = mx_batch_str(b, s, strlen(s));
	assert_non_null(r.ptr);
	return r;
}

static inline struct mx_attr *fx_attrs(struct mx_batch *b, uint32_t n)
{
	struct mx_attr *a = mx_arena_calloc(&b->arena, n, sizeof(*a));
	assert_non_null(a);
	return a;
}

static inline struct mx_value *fx_values(struct mx_batch *b, uint32_t n)
{
	struct mx_value *v = mx_arena_calloc(&b->arena, n, sizeof(*v));
	assert_non_null(v);
	return v;
}

static inline void fx_id(uint8_t *id, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		id[i] = (uint8_t)(seed + 17 * i + 1);
}

/* Attributes of every type: string, bool, int (min, max), double (with NaN,
 * infinities, -0.0 and a fraction), bytes with NULs, empty, an array that
 * nests an array and a map, and a map. */
static inline struct mx_attrs fx_rich_attrs(struct mx_batch *b)
{
	struct mx_attrs at = { fx_attrs(b, 14), 14 };
	struct mx_attr *a = at.items;
	static const char blob[] = { 0, 1, 2, (char)0xff, 0, 'x' };
	int i = 0;
	a[i].key = fx_s(b, "str");
	a[i].value.type = MX_VAL_STRING;
	a[i++].value.u.s = fx_s(b, "h\xc3\xa9llo \"q\" \\ \n\t");
	a[i].key = fx_s(b, "empty.str");
	a[i].value.type = MX_VAL_STRING;
	a[i++].value.u.s = (struct mx_str){ "", 0 };
	a[i].key = fx_s(b, "bool.t");
	a[i].value.type = MX_VAL_BOOL;
	a[i++].value.u.b = true;
	a[i].key = fx_s(b, "bool.f");
	a[i].value.type = MX_VAL_BOOL;
	a[i++].value.u.b = false;
	a[i].key = fx_s(b, "int.min");
	a[i].value.type = MX_VAL_INT;
	a[i++].value.u.i = INT64_MIN;
	a[i].key = fx_s(b, "int.max");
	a[i].value.type = MX_VAL_INT;
	a[i++].value.u.i = INT64_MAX;
	a[i].key = fx_s(b, "dbl");
	a[i].value.type = MX_VAL_DOUBLE;
	a[i++].value.u.d = 0.1 + 0.2;
	a[i].key = fx_s(b, "dbl.nan");
	a[i].value.type = MX_VAL_DOUBLE;
	a[i++].value.u.d = NAN;
	a[i].key = fx_s(b, "dbl.inf");
	a[i].value.type = MX_VAL_DOUBLE;
	a[i++].value.u.d = -INFINITY;
	a[i].key = fx_s(b, "dbl.big");
	a[i].value.type = MX_VAL_DOUBLE;
	a[i++].value.u.d = 1e300;
	a[i].key = fx_s(b, "bytes");
	a[i].value.type = MX_VAL_BYTES;
	a[i++].value.u.s = mx_batch_str(b, blob, sizeof(blob));
	a[i].key = fx_s(b, "empty");
	a[i++].value.type = MX_VAL_EMPTY;

	/* arr = [ 7, "s", [ true, 2.5 ], { "k": "v", "e": empty } ] */
	struct mx_value *arr = fx_values(b, 4);
	arr[0].type = MX_VAL_INT;
	arr[0].u.i = 7;
	arr[1].type = MX_VAL_STRING;
	arr[1].u.s = fx_s(b, "s");
	struct mx_value *inner = fx_values(b, 2);
	inner[0].type = MX_VAL_BOOL;
	inner[0].u.b = true;
	inner[1].type = MX_VAL_DOUBLE;
	inner[1].u.d = 2.5;
	arr[2].type = MX_VAL_ARRAY;
	arr[2].u.arr.items = inner;
	arr[2].u.arr.n = 2;
	struct mx_attr *m = fx_attrs(b, 2);
	m[0].key = fx_s(b, "k");
	m[0].value.type = MX_VAL_STRING;
	m[0].value.u.s = fx_s(b, "v");
	m[1].key = fx_s(b, "e");
	arr[3].type = MX_VAL_MAP;
	arr[3].u.map.items = m;
	arr[3].u.map.n = 2;
	a[i].key = fx_s(b, "arr");
	a[i].value.type = MX_VAL_ARRAY;
	a[i].value.u.arr.items = arr;
	a[i++].value.u.arr.n = 4;

	/* map = { "n": -3, "empty.arr": [] } */
	struct mx_attr *m2 = fx_attrs(b, 2);
	m2[0].key = fx_s(b, "n");
	m2[0].value.type = MX_VAL_INT;
	m2[0].value.u.i = -3;
	m2[1].key = fx_s(b, "empty.arr");
	m2[1].value.type = MX_VAL_ARRAY;
	a[i].key = fx_s(b, "map");
	a[i].value.type = MX_VAL_MAP;
	a[i].value.u.map.items = m2;
	a[i++].value.u.map.n = 2;
	assert_int_equal(i, 14);
	return at;
}

static inline struct mx_attrs fx_one_attr(struct mx_batch *b, const char *k,
					  const char *v)
{
	struct mx_attrs at = { fx_attrs(b, 1), 1 };
	at.items[0].key = fx_s(b, k);
	at.items[0].value.type = MX_VAL_STRING;
	at.items[0].value.u.s = fx_s(b, v);
	return at;
}

/* A batch of 5 spans: spans 0-2 share resource r1 (0-1 scope s1, 2 scope
 * s2), spans 3-4 resource r2 and scope s3. Span 0 uses every field. */
static inline struct mx_batch *fx_rich_batch(void)
{
	struct mx_batch *b = mx_batch_new(1 << 20);
	assert_non_null(b);
	struct mx_resource *r1 = mx_arena_calloc(&b->arena, 1, sizeof(*r1));
	struct mx_resource *r2 = mx_arena_calloc(&b->arena, 1, sizeof(*r2));
	struct mx_scope *s1 = mx_arena_calloc(&b->arena, 1, sizeof(*s1));
	struct mx_scope *s2 = mx_arena_calloc(&b->arena, 1, sizeof(*s2));
	struct mx_scope *s3 = mx_arena_calloc(&b->arena, 1, sizeof(*s3));
	assert_true(r1 && r2 && s1 && s2 && s3);
	r1->attrs = fx_one_attr(b, "service.name", "frontend");
	r1->dropped_attrs = 2;
	r1->schema_url = fx_s(b, "https://opentelemetry.io/schemas/1.21.0");
	r2->attrs = fx_rich_attrs(b);
	s1->name = fx_s(b, "io.opentelemetry.contrib.mongodb");
	s1->version = fx_s(b, "1.2.3");
	s1->attrs = fx_one_attr(b, "scope.attr", "x");
	s1->dropped_attrs = 1;
	s1->schema_url = fx_s(b, "https://example.com/scope");
	s2->name = fx_s(b, "second");
	/* s3 all empty */

	for (int k = 0; k < 5; k++) {
		struct mx_span *s = mx_batch_add_span(b);
		assert_non_null(s);
		fx_id(s->trace_id, 16, (uint8_t)(k < 3 ? 1 : 2));
		fx_id(s->span_id, 8, (uint8_t)(10 + k));
		s->resource = k < 3 ? r1 : r2;
		s->scope = k < 2 ? s1 : k == 2 ? s2 : s3;
		s->name = fx_s(b, k == 0 ? "GET /api/users/{id}" : "child");
		s->kind = (uint8_t)(k % 6);
		s->start_ns = 1544712660000000000ull + (uint64_t)k * 1000;
		s->end_ns = s->start_ns + 123456789;
	}
	struct mx_span *s = &b->spans[0];
	s->trace_state = fx_s(b, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
	s->flags = 0x301;
	s->kind = MX_KIND_SERVER;
	s->status_code = MX_STATUS_ERROR;
	s->status_message = fx_s(b, "boom");
	s->attrs = fx_rich_attrs(b);
	s->dropped_attrs = 3;
	s->dropped_events = 4;
	s->dropped_links = 5;
	s->start_ns = UINT64_MAX - 1;
	s->end_ns = UINT64_MAX;
	s->n_events = 2;
	s->events = mx_arena_calloc(&b->arena, 2, sizeof(*s->events));
	s->events[0].time_ns = 1544712660500000000ull;
	s->events[0].name = fx_s(b, "exception");
	s->events[0].attrs = fx_rich_attrs(b);
	s->events[0].dropped_attrs = 6;
	s->events[1].name = fx_s(b, "no time");
	s->n_links = 2;
	s->links = mx_arena_calloc(&b->arena, 2, sizeof(*s->links));
	fx_id(s->links[0].trace_id, 16, 99);
	fx_id(s->links[0].span_id, 8, 98);
	s->links[0].trace_state = fx_s(b, "a=b");
	s->links[0].attrs = fx_one_attr(b, "link.k", "link.v");
	s->links[0].dropped_attrs = 7;
	s->links[0].flags = 0x101;
	fx_id(s->links[1].trace_id, 16, 97);
	fx_id(s->links[1].span_id, 8, 96);
	fx_id(b->spans[1].parent_span_id, 8, 10);
	fx_id(b->spans[2].parent_span_id, 8, 10);
	b->spans[1].status_code = MX_STATUS_OK;
	b->spans[2].status_message = fx_s(b, "message without code");
	return b;
}

static inline void fx_str_eq(struct mx_str a, struct mx_str b)
{
	assert_int_equal(a.len, b.len);
	if (a.len)
		assert_memory_equal(a.ptr, b.ptr, a.len);
}

static inline void fx_attrs_eq(const struct mx_attrs *a, const struct mx_attrs *b);

static inline void fx_value_eq(const struct mx_value *a, const struct mx_value *b)
{
	assert_int_equal(a->type, b->type);
	switch (a->type) {
	case MX_VAL_STRING:
	case MX_VAL_BYTES:
		fx_str_eq(a->u.s, b->u.s);
		break;
	case MX_VAL_BOOL:
		assert_int_equal(a->u.b, b->u.b);
		break;
	case MX_VAL_INT:
		assert_true(a->u.i == b->u.i);
		break;
	case MX_VAL_DOUBLE:
		if (isnan(a->u.d))
			assert_true(isnan(b->u.d));
		else
			assert_true(a->u.d == b->u.d);
		break;
	case MX_VAL_ARRAY:
		assert_int_equal(a->u.arr.n, b->u.arr.n);
		for (uint32_t i = 0; i < a->u.arr.n; i++)
			fx_value_eq(&a->u.arr.items[i], &b->u.arr.items[i]);
		break;
	case MX_VAL_MAP: {
		struct mx_attrs x = { a->u.map.items, a->u.map.n };
		struct mx_attrs y = { b->u.map.items, b->u.map.n };
		fx_attrs_eq(&x, &y);
		break;
	}
	default:
		break;
	}
}

static inline void fx_attrs_eq(const struct mx_attrs *a, const struct mx_attrs *b)
{
	assert_int_equal(a->n, b->n);
	for (uint32_t i = 0; i < a->n; i++) {
		fx_str_eq(a->items[i].key, b->items[i].key);
		fx_value_eq(&a->items[i].value, &b->items[i].value);
	}
}

/* Asserts that two batches hold the same spans, field by field, and the
 * same sharing pattern of resources and scopes. */
static inline void fx_batch_eq(const struct mx_batch *a, const struct mx_batch *b)
{
	assert_int_equal(a->n_spans, b->n_spans);
	for (uint32_t k = 0; k < a->n_spans; k++) {
		const struct mx_span *x = &a->spans[k], *y = &b->spans[k];
		assert_memory_equal(x->trace_id, y->trace_id, 16);
		assert_memory_equal(x->span_id, y->span_id, 8);
		assert_memory_equal(x->parent_span_id, y->parent_span_id, 8);
		fx_str_eq(x->trace_state, y->trace_state);
		assert_int_equal(x->flags, y->flags);
		fx_str_eq(x->name, y->name);
		assert_int_equal(x->kind, y->kind);
		assert_int_equal(x->status_code, y->status_code);
		fx_str_eq(x->status_message, y->status_message);
		assert_true(x->start_ns == y->start_ns);
		assert_true(x->end_ns == y->end_ns);
		fx_attrs_eq(&x->attrs, &y->attrs);
		assert_int_equal(x->dropped_attrs, y->dropped_attrs);
		assert_int_equal(x->dropped_events, y->dropped_events);
		assert_int_equal(x->dropped_links, y->dropped_links);
		assert_int_equal(x->n_events, y->n_events);
		for (uint32_t i = 0; i < x->n_events; i++) {
			assert_true(x->events[i].time_ns == y->events[i].time_ns);
			fx_str_eq(x->events[i].name, y->events[i].name);
			fx_attrs_eq(&x->events[i].attrs, &y->events[i].attrs);
			assert_int_equal(x->events[i].dropped_attrs,
					 y->events[i].dropped_attrs);
		}
		assert_int_equal(x->n_links, y->n_links);
		for (uint32_t i = 0; i < x->n_links; i++) {
			const struct mx_link *l = &x->links[i], *m = &y->links[i];
			assert_memory_equal(l->trace_id, m->trace_id, 16);
			assert_memory_equal(l->span_id, m->span_id, 8);
			fx_str_eq(l->trace_state, m->trace_state);
			fx_attrs_eq(&l->attrs, &m->attrs);
			assert_int_equal(l->dropped_attrs, m->dropped_attrs);
			assert_int_equal(l->flags, m->flags);
		}
		assert_non_null(y->resource);
		assert_non_null(y->scope);
		fx_attrs_eq(&x->resource->attrs, &y->resource->attrs);
		assert_int_equal(x->resource->dropped_attrs, y->resource->dropped_attrs);
		fx_str_eq(x->resource->schema_url, y->resource->schema_url);
		fx_str_eq(x->scope->name, y->scope->name);
		fx_str_eq(x->scope->version, y->scope->version);
		fx_attrs_eq(&x->scope->attrs, &y->scope->attrs);
		assert_int_equal(x->scope->dropped_attrs, y->scope->dropped_attrs);
		fx_str_eq(x->scope->schema_url, y->scope->schema_url);
		if (k > 0) {
			const struct mx_span *xp = &a->spans[k - 1], *yp = &b->spans[k - 1];
			assert_int_equal(x->resource == xp->resource,
					 y->resource == yp->resource);
			assert_int_equal(x->scope == xp->scope, y->scope == yp->scope);
		}
	}
}

#endif
