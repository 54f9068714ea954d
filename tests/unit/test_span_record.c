/*
 * test_span_record.c - the storage record formats (storage/span_record.h):
 * a span using every field and every attribute value type survives an
 * encode/decode round trip field by field, resource records too, and
 * truncated, extended, bit-flipped or hostile records are refused with
 * MX_ESTORE without crashing or over-allocating.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "model/buf.h"
#include "model/error.h"
#include "model/span.h"
#include "storage/span_record.h"

#define S(lit) ((struct mx_str){ (lit), sizeof(lit) - 1 })

static void assert_str_eq(struct mx_str a, struct mx_str b)
{
	assert_int_equal(a.len, b.len);
	if (a.len)
		assert_memory_equal(a.ptr, b.ptr, a.len);
}

static void assert_attrs_eq(const struct mx_attrs *a, const struct mx_attrs *b);

static void assert_value_eq(const struct mx_value *a, const struct mx_value *b)
{
	assert_int_equal(a->type, b->type);
	switch (a->type) {
	case MX_VAL_STRING:
	case MX_VAL_BYTES:
		assert_str_eq(a->u.s, b->u.s);
		break;
	case MX_VAL_BOOL:
		assert_int_equal(a->u.b, b->u.b);
		break;
	case MX_VAL_INT:
		assert_true(a->u.i == b->u.i);
		break;
	case MX_VAL_DOUBLE:
		assert_memory_equal(&a->u.d, &b->u.d, sizeof(double));
		break;
	case MX_VAL_ARRAY:
		assert_int_equal(a->u.arr.n, b->u.arr.n);
		for (uint32_t i = 0; i < a->u.arr.n; i++)
			assert_value_eq(&a->u.arr.items[i], &b->u.arr.items[i]);
		break;
	case MX_VAL_MAP: {
		struct mx_attrs x = { a->u.map.items, a->u.map.n };
		struct mx_attrs y = { b->u.map.items, b->u.map.n };
		assert_attrs_eq(&x, &y);
		break;
	}
	default:
		break;
	}
}

static void assert_attrs_eq(const struct mx_attrs *a, const struct mx_attrs *b)
{
	assert_int_equal(a->n, b->n);
	for (uint32_t i = 0; i < a->n; i++) {
		assert_str_eq(a->items[i].key, b->items[i].key);
		assert_value_eq(&a->items[i].value, &b->items[i].value);
	}
}

static void assert_endpoint_eq(const struct mx_endpoint *a,
			       const struct mx_endpoint *b)
{
	assert_str_eq(a->service_name, b->service_name);
	assert_str_eq(a->ipv4, b->ipv4);
	assert_str_eq(a->ipv6, b->ipv6);
	assert_int_equal(a->port, b->port);
}

static void assert_span_eq(const struct mx_span *a, const struct mx_span *b)
{
	assert_memory_equal(a->trace_id, b->trace_id, 16);
	assert_memory_equal(a->span_id, b->span_id, 8);
	assert_memory_equal(a->parent_span_id, b->parent_span_id, 8);
	assert_str_eq(a->trace_state, b->trace_state);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->mx_flags, b->mx_flags);
	assert_str_eq(a->name, b->name);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->status_code, b->status_code);
	assert_str_eq(a->status_message, b->status_message);
	assert_true(a->start_ns == b->start_ns);
	assert_true(a->end_ns == b->end_ns);
	assert_attrs_eq(&a->attrs, &b->attrs);
	assert_int_equal(a->dropped_attrs, b->dropped_attrs);
	assert_int_equal(a->n_events, b->n_events);
	assert_int_equal(a->dropped_events, b->dropped_events);
	for (uint32_t i = 0; i < a->n_events; i++) {
		assert_true(a->events[i].time_ns == b->events[i].time_ns);
		assert_str_eq(a->events[i].name, b->events[i].name);
		assert_attrs_eq(&a->events[i].attrs, &b->events[i].attrs);
		assert_int_equal(a->events[i].dropped_attrs, b->events[i].dropped_attrs);
	}
	assert_int_equal(a->n_links, b->n_links);
	assert_int_equal(a->dropped_links, b->dropped_links);
	for (uint32_t i = 0; i < a->n_links; i++) {
		const struct mx_link *x = &a->links[i], *y = &b->links[i];
		assert_memory_equal(x->trace_id, y->trace_id, 16);
		assert_memory_equal(x->span_id, y->span_id, 8);
		assert_str_eq(x->trace_state, y->trace_state);
		assert_attrs_eq(&x->attrs, &y->attrs);
		assert_int_equal(x->dropped_attrs, y->dropped_attrs);
		assert_int_equal(x->flags, y->flags);
	}
	assert_endpoint_eq(&a->local, &b->local);
	assert_endpoint_eq(&a->remote, &b->remote);
}

/* Static storage for the full span: every value type, nesting both ways. */
static struct mx_value inner_arr_items[3];
static struct mx_attr inner_map_items[2];
static struct mx_value arr_items[4];
static struct mx_attr span_attrs[9];
static struct mx_attr ev_attrs[1];
static struct mx_event events[2];
static struct mx_attr link_attrs[1];
static struct mx_link links[1];
static struct mx_attr res_attrs[2];
static struct mx_attr scope_attrs[1];
static struct mx_resource resource;
static struct mx_scope scope;

static void full_span(struct mx_span *s)
{
	static const char bytes[] = { 0, 1, 2, (char)0xff, 0 };
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < 16; i++)
		s->trace_id[i] = (uint8_t)(0xa0 + i);
	for (int i = 0; i < 8; i++) {
		s->span_id[i] = (uint8_t)(0x10 + i);
		s->parent_span_id[i] = (uint8_t)(0x20 + i);
	}
	s->trace_state = S("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
	s->flags = 0x301;
	s->mx_flags = MX_SPAN_F_SHARED;
	s->name = S("GET /api/\xc3\xa9t\xc3\xa9");
	s->kind = MX_KIND_CLIENT;
	s->status_code = MX_STATUS_ERROR;
	s->status_message = S("deadline exceeded");
	s->start_ns = 1700000000123456789ull;
	s->end_ns = 1700000000987654321ull;

	inner_arr_items[0] = (struct mx_value){ .type = MX_VAL_INT, .u.i = -5 };
	inner_arr_items[1] = (struct mx_value){ .type = MX_VAL_EMPTY };
	inner_arr_items[2] = (struct mx_value){ .type = MX_VAL_STRING, .u.s = S("") };
	inner_map_items[0] = (struct mx_attr){ S("deep"),
		{ .type = MX_VAL_ARRAY, .u.arr = { inner_arr_items, 3 } } };
	inner_map_items[1] = (struct mx_attr){ S("b"), { .type = MX_VAL_BOOL, .u.b = false } };
	arr_items[0] = (struct mx_value){ .type = MX_VAL_STRING, .u.s = S("x") };
	arr_items[1] = (struct mx_value){ .type = MX_VAL_DOUBLE, .u.d = -0.0 };
	arr_items[2] = (struct mx_value){ .type = MX_VAL_MAP, .u.map = { inner_map_items, 2 } };
	arr_items[3] = (struct mx_value){ .type = MX_VAL_ARRAY, .u.arr = { NULL, 0 } };

	span_attrs[0] = (struct mx_attr){ S("http.method"), { .type = MX_VAL_STRING, .u.s = S("GET") } };
	span_attrs[1] = (struct mx_attr){ S("ok"), { .type = MX_VAL_BOOL, .u.b = true } };
	span_attrs[2] = (struct mx_attr){ S("min"), { .type = MX_VAL_INT, .u.i = INT64_MIN } };
	span_attrs[3] = (struct mx_attr){ S("max"), { .type = MX_VAL_INT, .u.i = INT64_MAX } };
	span_attrs[4] = (struct mx_attr){ S("ratio"), { .type = MX_VAL_DOUBLE, .u.d = 3.25e-300 } };
	span_attrs[5] = (struct mx_attr){ S("raw"), { .type = MX_VAL_BYTES,
		.u.s = { bytes, sizeof(bytes) } } };
	span_attrs[6] = (struct mx_attr){ S("list"), { .type = MX_VAL_ARRAY, .u.arr = { arr_items, 4 } } };
	span_attrs[7] = (struct mx_attr){ S("obj"), { .type = MX_VAL_MAP, .u.map = { inner_map_items, 2 } } };
	span_attrs[8] = (struct mx_attr){ S(""), { .type = MX_VAL_EMPTY } };
	s->attrs = (struct mx_attrs){ span_attrs, 9 };
	s->dropped_attrs = 3;

	ev_attrs[0] = (struct mx_attr){ S("exception.type"), { .type = MX_VAL_STRING, .u.s = S("E") } };
	events[0] = (struct mx_event){ s->start_ns + 1000, S("exception"), { ev_attrs, 1 }, 2 };
	events[1] = (struct mx_event){ s->start_ns - 5, S("before start"), { NULL, 0 }, 0 };
	s->events = events;
	s->n_events = 2;
	s->dropped_events = 7;

	link_attrs[0] = (struct mx_attr){ S("link.i"), { .type = MX_VAL_INT, .u.i = 42 } };
	memset(&links[0], 0, sizeof(links[0]));
	memset(links[0].trace_id, 0x77, 16);
	memset(links[0].span_id, 0x66, 8);
	links[0].trace_state = S("k=v");
	links[0].attrs = (struct mx_attrs){ link_attrs, 1 };
	links[0].dropped_attrs = 1;
	links[0].flags = 0x101;
	s->links = links;
	s->n_links = 1;
	s->dropped_links = 4;

	s->local = (struct mx_endpoint){ S("frontend"), S("10.0.0.1"), S(""), 8080 };
	s->remote = (struct mx_endpoint){ S("db"), S(""), S("::1"), 65535 };

	res_attrs[0] = (struct mx_attr){ S("service.name"), { .type = MX_VAL_STRING, .u.s = S("frontend") } };
	res_attrs[1] = (struct mx_attr){ S("host.cores"), { .type = MX_VAL_INT, .u.i = 2 } };
	resource = (struct mx_resource){ { res_attrs, 2 }, 1, S("https://opentelemetry.io/schemas/1.21.0") };
	scope_attrs[0] = (struct mx_attr){ S("lib.flag"), { .type = MX_VAL_BOOL, .u.b = true } };
	scope = (struct mx_scope){ S("io.opentelemetry.http"), S("1.2.3"), { scope_attrs, 1 }, 5,
				   S("https://s") };
	s->resource = &resource;
	s->scope = &scope;
}

static void encode_full(struct mx_buf *b)
{
	struct mx_span s;
	full_span(&s);
	mx_buf_init(b, 1 << 20);
	assert_int_equal(mx_span_record_encode(&s, 0x0102030405060708ull, 1234567ull, b), MX_OK);
}

static void test_span_round_trip(void **state)
{
	(void)state;
	struct mx_span in, out;
	struct mx_buf b;
	struct mx_arena a;
	uint64_t key = 0, arrival = 0;
	full_span(&in);
	encode_full(&b);
	mx_arena_init(&a, 1 << 20);
	assert_int_equal(mx_span_record_decode(b.data, b.len, &a, &out, &key, &arrival), MX_OK);
	assert_true(key == 0x0102030405060708ull);
	assert_true(arrival == 1234567ull);
	assert_null(out.resource);
	assert_null(out.scope);
	assert_span_eq(&in, &out);

	/* header peek agrees; strings stay valid after the input is gone */
	key = arrival = 0;
	assert_int_equal(mx_span_record_header(b.data, b.len, &key, &arrival), MX_OK);
	assert_true(key == 0x0102030405060708ull && arrival == 1234567ull);
	memset(b.data, 0xee, b.len);
	assert_span_eq(&in, &out);
	mx_buf_free(&b);
	mx_arena_free(&a);
}

static void test_minimal_span_and_end_before_start(void **state)
{
	(void)state;
	struct mx_span in, out;
	struct mx_buf b;
	struct mx_arena a;
	memset(&in, 0, sizeof(in));
	in.trace_id[15] = 1;
	in.span_id[7] = 2;
	in.start_ns = 5000;
	in.end_ns = 4000; /* malformed but kept as sent */
	mx_buf_init(&b, 4096);
	mx_arena_init(&a, 1 << 16);
	assert_int_equal(mx_span_record_encode(&in, 0, 0, &b), MX_OK);
	/* header + ids + kind/status/presence + 2 varints(start 2 bytes, dur 10) + name */
	assert_true(b.len < 80);
	assert_int_equal(mx_span_record_decode(b.data, b.len, &a, &out, NULL, NULL), MX_OK);
	assert_span_eq(&in, &out);
	mx_buf_free(&b);
	mx_arena_free(&a);
}

static void test_resource_round_trip(void **state)
{
	(void)state;
	struct mx_span s;
	struct mx_buf b;
	struct mx_arena a;
	const struct mx_resource *r = NULL;
	const struct mx_scope *sc = NULL;
	full_span(&s);
	mx_buf_init(&b, 1 << 16);
	mx_arena_init(&a, 1 << 16);
	assert_int_equal(mx_resource_record_encode(&resource, &scope, &b), MX_OK);
	assert_int_equal(mx_resource_record_decode(b.data, b.len, &a, &r, &sc), MX_OK);
	assert_attrs_eq(&resource.attrs, &r->attrs);
	assert_int_equal(r->dropped_attrs, 1);
	assert_str_eq(resource.schema_url, r->schema_url);
	assert_str_eq(scope.name, sc->name);
	assert_str_eq(scope.version, sc->version);
	assert_attrs_eq(&scope.attrs, &sc->attrs);
	assert_int_equal(sc->dropped_attrs, 5);
	assert_str_eq(scope.schema_url, sc->schema_url);

	/* every proper prefix and an extra byte are refused */
	for (size_t n = 0; n < b.len; n++)
		assert_int_equal(mx_resource_record_decode(b.data, n, &a, &r, &sc), MX_ESTORE);
	mx_buf_putc(&b, 0);
	assert_int_equal(mx_resource_record_decode(b.data, b.len, &a, &r, &sc), MX_ESTORE);
	assert_null(r);
	mx_buf_free(&b);
	mx_arena_free(&a);
}

static void test_truncated_and_extended(void **state)
{
	(void)state;
	struct mx_buf b;
	struct mx_span out;
	encode_full(&b);
	for (size_t n = 0; n < b.len; n++) {
		struct mx_arena a;
		mx_arena_init(&a, 1 << 20);
		assert_int_equal(mx_span_record_decode(b.data, n, &a, &out, NULL, NULL),
				 MX_ESTORE);
		mx_arena_free(&a);
	}
	struct mx_arena a;
	mx_arena_init(&a, 1 << 20);
	mx_buf_putc(&b, 0);
	assert_int_equal(mx_span_record_decode(b.data, b.len, &a, &out, NULL, NULL), MX_ESTORE);
	/* unknown version */
	b.len--;
	b.data[0] = 2;
	assert_int_equal(mx_span_record_decode(b.data, b.len, &a, &out, NULL, NULL), MX_ESTORE);
	assert_int_equal(mx_span_record_decode(NULL, 0, &a, &out, NULL, NULL), MX_ESTORE);
	mx_arena_free(&a);
	mx_buf_free(&b);
}

static void test_corrupt_bytes_never_crash(void **state)
{
	(void)state;
	struct mx_buf b;
	struct mx_span out;
	encode_full(&b);
	static const uint8_t patterns[] = { 0xff, 0x80, 0x00, 0x7f, 0x01 };
	for (size_t i = 1; i < b.len; i++) {
		for (size_t p = 0; p < sizeof(patterns); p++) {
			uint8_t save = b.data[i];
			b.data[i] = patterns[p];
			struct mx_arena a;
			mx_arena_init(&a, 1 << 20);
			int rc = mx_span_record_decode(b.data, b.len, &a, &out, NULL, NULL);
			assert_true(rc == MX_OK || rc == MX_ESTORE);
			/* never more than a small multiple of the record size */
			assert_true(a.total <= 64 * 1024 + 64 * b.len);
			mx_arena_free(&a);
			b.data[i] = save;
		}
	}
	mx_buf_free(&b);
}

static void test_hostile_counts(void **state)
{
	(void)state;
	/* a minimal span whose attribute count claims 2^32-1 entries */
	struct mx_span in, out;
	struct mx_buf b;
	struct mx_arena a;
	memset(&in, 0, sizeof(in));
	mx_buf_init(&b, 4096);
	assert_int_equal(mx_span_record_encode(&in, 0, 0, &b), MX_OK);
	/* last byte is the attribute count (0): replace with a huge varint */
	b.len--;
	const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
	mx_buf_append(&b, huge, sizeof(huge));
	mx_arena_init(&a, 1u << 30);
	assert_int_equal(mx_span_record_decode(b.data, b.len, &a, &out, NULL, NULL), MX_ESTORE);
	assert_true(a.total < (1u << 20));
	/* an over-long varint (11 bytes) */
	b.len -= sizeof(huge);
	const uint8_t longv[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 };
	mx_buf_append(&b, longv, sizeof(longv));
	assert_int_equal(mx_span_record_decode(b.data, b.len, &a, &out, NULL, NULL), MX_ESTORE);
	mx_arena_free(&a);

	/* arena cap too small: MX_ENOMEM, not a crash */
	struct mx_buf full;
	encode_full(&full);
	mx_arena_init(&a, 64);
	assert_int_equal(mx_span_record_decode(full.data, full.len, &a, &out, NULL, NULL),
			 MX_ENOMEM);
	mx_arena_free(&a);
	mx_buf_free(&full);
	mx_buf_free(&b);
}

static void test_depth_cap(void **state)
{
	(void)state;
	enum { DEPTH = MX_RECORD_MAX_DEPTH + 2 };
	static struct mx_value chain[DEPTH];
	struct mx_attr attr;
	struct mx_span s;
	struct mx_buf b;
	for (int i = 0; i < DEPTH - 1; i++)
		chain[i] = (struct mx_value){ .type = MX_VAL_ARRAY, .u.arr = { &chain[i + 1], 1 } };
	chain[DEPTH - 1] = (struct mx_value){ .type = MX_VAL_INT, .u.i = 1 };
	attr = (struct mx_attr){ S("deep"), chain[0] };
	memset(&s, 0, sizeof(s));
	s.attrs = (struct mx_attrs){ &attr, 1 };
	mx_buf_init(&b, 1 << 16);
	assert_int_equal(mx_span_record_encode(&s, 0, 0, &b), MX_EDEPTH);

	/* exactly at the cap is fine and decodes */
	attr.value = chain[1];
	mx_buf_reset(&b);
	assert_int_equal(mx_span_record_encode(&s, 0, 0, &b), MX_OK);
	struct mx_arena a;
	struct mx_span out;
	mx_arena_init(&a, 1 << 20);
	assert_int_equal(mx_span_record_decode(b.data, b.len, &a, &out, NULL, NULL), MX_OK);
	assert_span_eq(&s, &out);
	mx_arena_free(&a);
	mx_buf_free(&b);
}

static void test_buffer_cap(void **state)
{
	(void)state;
	struct mx_span s;
	struct mx_buf b;
	full_span(&s);
	mx_buf_init(&b, 100);
	assert_int_equal(mx_span_record_encode(&s, 1, 2, &b), MX_ENOMEM);
	mx_buf_free(&b);
}

static void test_hash(void **state)
{
	(void)state;
	const char *t = "service.name=frontend";
	uint64_t h1 = mx_hash64(t, strlen(t), 1);
	assert_true(h1 == mx_hash64(t, strlen(t), 1));
	assert_true(h1 != mx_hash64(t, strlen(t), 2));
	assert_true(h1 != mx_hash64(t, strlen(t) - 1, 1));
	assert_true(mx_hash64("", 0, 1) != mx_hash64("\0", 1, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_span_round_trip),
		cmocka_unit_test(test_minimal_span_and_end_before_start),
		cmocka_unit_test(test_resource_round_trip),
		cmocka_unit_test(test_truncated_and_extended),
		cmocka_unit_test(test_corrupt_bytes_never_crash),
		cmocka_unit_test(test_hostile_counts),
		cmocka_unit_test(test_depth_cap),
		cmocka_unit_test(test_buffer_cap),
		cmocka_unit_test(test_hash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
