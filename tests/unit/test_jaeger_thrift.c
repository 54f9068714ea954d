/*
 * test_jaeger_thrift.c - the Jaeger thrift codecs (codec/jaeger_thrift.h):
 * the verified emitBatch examples of the wire reference in both protocols,
 * the bare HTTP Batch, Collector.submitBatches with two Batches, round
 * trips model -> thrift -> model in both protocols, tags decoded by vType, and bad inputs (truncation at every
 * length, negative lengths, deep nesting, trailing bytes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codec/jaeger_thrift.h"
#include "model/error.h"

static const uint8_t compact_ex[] = {
	0x82, 0x81, 0x00, 0x09, 'e', 'm', 'i', 't', 'B', 'a', 't', 'c', 'h',
	0x1c, 0x1c, 0x18, 0x03, 's', 'v', 'c', 0x00,
	0x19, 0x1c, 0x16, 0x02, 0x16, 0x00, 0x16, 0x04, 0x16, 0x00,
	0x18, 0x02, 'o', 'p', 0x25, 0x02, 0x16, 0xd0, 0x0f, 0x16, 0xe8, 0x07,
	0x19, 0x1c, 0x18, 0x01, 'k', 0x15, 0x04, 0x31, 0x00,
	0x00, 0x00, 0x00,
};

#define I64(v) 0, 0, 0, 0, 0, 0, (uint8_t)((v) >> 8), (uint8_t)(v)
static const uint8_t binary_ex[] = {
	0x80, 0x01, 0x00, 0x04, 0, 0, 0, 9, 'e', 'm', 'i', 't', 'B', 'a', 't',
	'c', 'h', 0, 0, 0, 0,
	0x0c, 0x00, 0x01,
	/* Batch from here (HTTP body offset 24) */
	0x0c, 0x00, 0x01, 0x0b, 0x00, 0x01, 0, 0, 0, 3, 's', 'v', 'c', 0x00,
	0x0f, 0x00, 0x02, 0x0c, 0, 0, 0, 1,
	0x0a, 0, 1, I64(1), 0x0a, 0, 2, I64(0), 0x0a, 0, 3, I64(2),
	0x0a, 0, 4, I64(0),
	0x0b, 0, 5, 0, 0, 0, 2, 'o', 'p',
	0x08, 0, 7, 0, 0, 0, 1,
	0x0a, 0, 8, I64(1000), 0x0a, 0, 9, I64(500),
	0x0f, 0, 10, 0x0c, 0, 0, 0, 1,
	0x0b, 0, 1, 0, 0, 0, 1, 'k', 0x08, 0, 2, 0, 0, 0, 2, 0x02, 0, 5, 1,
	0x00,
	0x00, /* span stop */
	0x00, /* batch stop */
	0x00, /* args stop */
};
#define BIN_BATCH_AT 24

static struct mx_decode_limits lim;

static int setup(void **st)
{
	(void)st;
	mx_decode_limits_default(&lim);
	return 0;
}

static void check_example(const struct mx_batch *b)
{
	assert_int_equal(b->n_spans, 1);
	const struct mx_span *s = &b->spans[0];
	uint8_t tid[16] = { 0 }, sid[8] = { 0 };
	tid[15] = 1;
	sid[7] = 2;
	assert_memory_equal(s->trace_id, tid, 16);
	assert_memory_equal(s->span_id, sid, 8);
	assert_true(mx_id_is_zero(s->parent_span_id, 8));
	assert_true(mx_str_eq(s->name, "op", 2));
	assert_int_equal(s->flags, 1);
	assert_int_equal(s->start_ns, 1000000);
	assert_int_equal(s->end_ns, 1500000);
	assert_int_equal(s->attrs.n, 1);
	assert_true(mx_str_eq(s->attrs.items[0].key, "k", 1));
	assert_int_equal(s->attrs.items[0].value.type, MX_VAL_BOOL);
	assert_true(s->attrs.items[0].value.u.b);
	struct mx_str svc = mx_span_service(s);
	assert_true(mx_str_eq(svc, "svc", 3));
}

static void decode_ok(int emit, enum mx_thrift_proto p, const uint8_t *buf,
		      size_t len)
{
	struct mx_batch *b = mx_batch_new(1 << 20);
	struct mx_errmsg err = { 0 };
	int rc = emit ? mx_jaeger_thrift_decode_emit_batch(p, buf, len, &lim, b,
							   &err)
		      : mx_jaeger_thrift_decode_batch(p, buf, len, &lim, b,
						      &err);
	if (rc)
		print_error("%s\n", err.text);
	assert_int_equal(rc, MX_OK);
	check_example(b);
	mx_batch_free(b);
}

static void test_examples(void **st)
{
	(void)st;
	decode_ok(1, MX_THRIFT_COMPACT, compact_ex, sizeof(compact_ex));
	decode_ok(1, MX_THRIFT_BINARY, binary_ex, sizeof(binary_ex));
	/* HTTP: bare Batch, and the same wrapped in a message */
	decode_ok(0, MX_THRIFT_BINARY, binary_ex + BIN_BATCH_AT,
		  sizeof(binary_ex) - BIN_BATCH_AT - 1);
	decode_ok(0, MX_THRIFT_BINARY, binary_ex, sizeof(binary_ex));
}

static int try_decode(int emit, enum mx_thrift_proto p, const uint8_t *buf,
		      size_t len)
{
	struct mx_batch *b = mx_batch_new(1 << 20);
	struct mx_errmsg err = { 0 };
	int rc = emit ? mx_jaeger_thrift_decode_emit_batch(p, buf, len, &lim, b,
							   &err)
		      : mx_jaeger_thrift_decode_batch(p, buf, len, &lim, b,
						      &err);
	if (rc)
		assert_true(err.set);
	mx_batch_free(b);
	return rc;
}

static void test_truncated_and_trailing(void **st)
{
	(void)st;
	for (size_t n = 0; n < sizeof(compact_ex); n++)
		assert_int_not_equal(try_decode(1, MX_THRIFT_COMPACT, compact_ex,
						n), MX_OK);
	for (size_t n = 0; n < sizeof(binary_ex); n++)
		assert_int_not_equal(try_decode(1, MX_THRIFT_BINARY, binary_ex,
						n), MX_OK);
	uint8_t big[sizeof(binary_ex) + 3];
	memcpy(big, binary_ex, sizeof(binary_ex));
	memset(big + sizeof(binary_ex), 0xee, 3);
	assert_int_equal(try_decode(1, MX_THRIFT_BINARY, big, sizeof(big)),
			 MX_EINVAL);
	uint8_t bigc[sizeof(compact_ex) + 1];
	memcpy(bigc, compact_ex, sizeof(compact_ex));
	bigc[sizeof(compact_ex)] = 0;
	assert_int_equal(try_decode(1, MX_THRIFT_COMPACT, bigc, sizeof(bigc)),
			 MX_EINVAL);
}

static void test_bad_lengths_and_depth(void **st)
{
	(void)st;
	/* negative string length in the binary protocol */
	uint8_t neg[] = { 0x0c, 0, 1, 0x0b, 0, 1, 0xff, 0xff, 0xff, 0xfe, 0 };
	assert_int_equal(try_decode(0, MX_THRIFT_BINARY, neg, sizeof(neg)),
			 MX_EINVAL);
	/* huge list size */
	uint8_t huge[] = { 0x0f, 0, 2, 0x0c, 0x7f, 0xff, 0xff, 0xff, 0 };
	assert_int_equal(try_decode(0, MX_THRIFT_BINARY, huge, sizeof(huge)),
			 MX_EINVAL);
	/* negative list size */
	uint8_t nl[] = { 0x0f, 0, 2, 0x0c, 0x80, 0, 0, 0, 0 };
	assert_int_equal(try_decode(0, MX_THRIFT_BINARY, nl, sizeof(nl)),
			 MX_EINVAL);
	/* compact huge string length */
	uint8_t ch[] = { 0x1c, 0x18, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0 };
	assert_int_not_equal(try_decode(0, MX_THRIFT_COMPACT, ch, sizeof(ch)),
			     MX_OK);
	/* deep nesting of unknown struct fields */
	uint8_t deep[3 * 40 + 40];
	size_t n = 0;
	for (int i = 0; i < 40; i++) {
		deep[n++] = 0x0c;
		deep[n++] = 0;
		deep[n++] = 9;
	}
	for (int i = 0; i < 41 && n < sizeof(deep); i++)
		deep[n++] = 0;
	assert_int_equal(try_decode(0, MX_THRIFT_BINARY, deep, n), MX_EDEPTH);
	uint8_t cdeep[80];
	memset(cdeep, 0x9c, 40); /* field delta 9, STRUCT */
	memset(cdeep + 40, 0, 40);
	assert_int_equal(try_decode(0, MX_THRIFT_COMPACT, cdeep, 80),
			 MX_EDEPTH);
}

/* A tag with every value field filled, decoded by vType; wrong types for a
 * known field are skipped. */
static void test_vtype(void **st)
{
	(void)st;
	for (int vt = 0; vt <= 4; vt++) {
		uint8_t body[256];
		size_t n = 0;
		const uint8_t head[] = {
			0x0c, 0, 1, 0x0b, 0, 1, 0, 0, 0, 1, 's', 0,
			0x0f, 0, 2, 0x0c, 0, 0, 0, 1,
			0x0a, 0, 1, I64(7), 0x0a, 0, 3, I64(9),
			0x0b, 0, 5, 0, 0, 0, 0,
			0x08, 0, 5, 0, 0, 0, 3, /* wrong type: skipped */
			0x0f, 0, 10, 0x0c, 0, 0, 0, 1,
			0x0b, 0, 1, 0, 0, 0, 1, 't', 0x08, 0, 2, 0, 0, 0,
		};
		memcpy(body, head, sizeof(head));
		n = sizeof(head);
		body[n++] = (uint8_t)vt;
		const uint8_t vals[] = {
			0x0b, 0, 3, 0, 0, 0, 1, 'x',
			0x04, 0, 4, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,
			0x02, 0, 5, 1,
			0x0a, 0, 6, I64(42),
			0x0b, 0, 7, 0, 0, 0, 2, 0xde, 0xad,
			0, 0, 0,
		};
		memcpy(body + n, vals, sizeof(vals));
		n += sizeof(vals);
		struct mx_batch *b = mx_batch_new(1 << 20);
		struct mx_errmsg err = { 0 };
		assert_int_equal(mx_jaeger_thrift_decode_batch(
			MX_THRIFT_BINARY, body, n, &lim, b, &err), MX_OK);
		assert_int_equal(b->n_spans, 1);
		const struct mx_value *v = &b->spans[0].attrs.items[0].value;
		switch (vt) {
		case 0: assert_int_equal(v->type, MX_VAL_STRING);
			assert_true(mx_str_eq(v->u.s, "x", 1)); break;
		case 1: assert_int_equal(v->type, MX_VAL_DOUBLE);
			assert_true(v->u.d == 1.5); break;
		case 2: assert_int_equal(v->type, MX_VAL_BOOL);
			assert_true(v->u.b); break;
		case 3: assert_int_equal(v->type, MX_VAL_INT);
			assert_int_equal(v->u.i, 42); break;
		default: assert_int_equal(v->type, MX_VAL_BYTES);
			assert_true(mx_str_eq(v->u.s, "\xde\xad", 2)); break;
		}
		mx_batch_free(b);
	}
}

static struct mx_batch *sample(void)
{
	struct mx_batch *b = mx_batch_new(1 << 20);
	struct mx_resource *r = mx_arena_calloc(&b->arena, 1, sizeof(*r));
	struct mx_scope *sc = mx_arena_calloc(&b->arena, 1, sizeof(*sc));
	struct mx_attr *ra = mx_arena_calloc(&b->arena, 2, sizeof(*ra));
	ra[0].key = MX_STR_LIT("service.name");
	ra[0].value.type = MX_VAL_STRING;
	ra[0].value.u.s = MX_STR_LIT("frontend");
	ra[1].key = MX_STR_LIT("host");
	ra[1].value.type = MX_VAL_STRING;
	ra[1].value.u.s = MX_STR_LIT("h1");
	r->attrs.items = ra;
	r->attrs.n = 2;
	sc->name = MX_STR_LIT("lib");
	sc->version = MX_STR_LIT("1.2");
	struct mx_span *s = mx_batch_add_span(b);
	for (int i = 0; i < 16; i++)
		s->trace_id[i] = (uint8_t)(0xf0 + i);
	memset(s->span_id, 0x81, 8);
	memset(s->parent_span_id, 0x22, 8);
	s->name = MX_STR_LIT("GET /x");
	s->kind = MX_KIND_CLIENT;
	s->status_code = MX_STATUS_ERROR;
	s->status_message = MX_STR_LIT("boom");
	s->flags = 1;
	s->mx_flags = MX_SPAN_F_DEBUG;
	s->start_ns = 1700000000123456000ull;
	s->end_ns = s->start_ns + 5000;
	struct mx_attr *a = mx_arena_calloc(&b->arena, 5, sizeof(*a));
	a[0].key = MX_STR_LIT("s");
	a[0].value.type = MX_VAL_STRING;
	a[0].value.u.s = MX_STR_LIT("v");
	a[1].key = MX_STR_LIT("i");
	a[1].value.type = MX_VAL_INT;
	a[1].value.u.i = -5000000000ll;
	a[2].key = MX_STR_LIT("d");
	a[2].value.type = MX_VAL_DOUBLE;
	a[2].value.u.d = 2.25;
	a[3].key = MX_STR_LIT("b");
	a[3].value.type = MX_VAL_BOOL;
	a[4].key = MX_STR_LIT("y");
	a[4].value.type = MX_VAL_BYTES;
	a[4].value.u.s = MX_STR_LIT("\x00\x01");
	s->attrs.items = a;
	s->attrs.n = 5;
	s->events = mx_arena_calloc(&b->arena, 1, sizeof(*s->events));
	s->n_events = 1;
	s->events[0].time_ns = 1700000000123457000ull;
	s->events[0].name = MX_STR_LIT("retry");
	s->events[0].attrs.items = &a[1];
	s->events[0].attrs.n = 1;
	s->links = mx_arena_calloc(&b->arena, 1, sizeof(*s->links));
	s->n_links = 1;
	memset(s->links[0].trace_id, 0x33, 16);
	memset(s->links[0].span_id, 0x44, 8);
	s->resource = r;
	s->scope = sc;
	return b;
}

static void roundtrip(enum mx_thrift_proto p, int emit)
{
	struct mx_batch *in = sample();
	struct mx_buf out;
	uint32_t consumed = 0;
	mx_buf_init(&out, 1 << 20);
	int rc = emit ? mx_jaeger_thrift_encode_emit_batch(p, in, 0, &consumed,
							   &out)
		      : mx_jaeger_thrift_encode_batch(p, in, 0, &consumed, &out);
	assert_int_equal(rc, MX_OK);
	assert_int_equal(consumed, 1);
	struct mx_batch *b = mx_batch_new(1 << 20);
	struct mx_errmsg err = { 0 };
	rc = emit ? mx_jaeger_thrift_decode_emit_batch(p, out.data, out.len,
						       &lim, b, &err)
		  : mx_jaeger_thrift_decode_batch(p, out.data, out.len, &lim, b,
						  &err);
	if (rc)
		print_error("%s\n", err.text);
	assert_int_equal(rc, MX_OK);
	assert_int_equal(b->n_spans, 1);
	const struct mx_span *x = &in->spans[0], *y = &b->spans[0];
	assert_memory_equal(x->trace_id, y->trace_id, 16);
	assert_memory_equal(x->span_id, y->span_id, 8);
	assert_memory_equal(x->parent_span_id, y->parent_span_id, 8);
	assert_true(mx_str_eq(y->name, "GET /x", 6));
	assert_int_equal(y->kind, MX_KIND_CLIENT);
	assert_int_equal(y->status_code, MX_STATUS_ERROR);
	assert_true(mx_str_eq(y->status_message, "boom", 4));
	assert_int_equal(y->flags, 1);
	assert_int_equal(y->mx_flags, MX_SPAN_F_DEBUG);
	assert_int_equal(y->start_ns, x->start_ns);
	assert_int_equal(y->end_ns, x->end_ns);
	assert_int_equal(y->attrs.n, 5);
	for (uint32_t i = 0; i < 5; i++) {
		const struct mx_attr *p1 = &x->attrs.items[i],
				     *p2 = &y->attrs.items[i];
		assert_true(mx_str_eq(p2->key, p1->key.ptr, p1->key.len));
		assert_int_equal(p2->value.type, p1->value.type);
	}
	assert_int_equal(y->attrs.items[1].value.u.i, -5000000000ll);
	assert_true(y->attrs.items[2].value.u.d == 2.25);
	assert_true(mx_str_eq(y->attrs.items[4].value.u.s, "\x00\x01", 2));
	assert_int_equal(y->n_events, 1);
	assert_int_equal(y->events[0].time_ns, x->events[0].time_ns);
	assert_true(mx_str_eq(y->events[0].name, "retry", 5));
	assert_int_equal(y->events[0].attrs.n, 1);
	assert_int_equal(y->n_links, 1);
	assert_memory_equal(y->links[0].trace_id, x->links[0].trace_id, 16);
	assert_memory_equal(y->links[0].span_id, x->links[0].span_id, 8);
	assert_true(mx_str_eq(y->scope->name, "lib", 3));
	assert_true(mx_str_eq(y->scope->version, "1.2", 3));
	assert_true(mx_str_eq(mx_span_service(y), "frontend", 8));
	assert_int_equal(y->resource->attrs.n, 2);
	mx_batch_free(b);
	mx_batch_free(in);
	mx_buf_free(&out);
}

static void test_roundtrip(void **st)
{
	(void)st;
	roundtrip(MX_THRIFT_BINARY, 0);
	roundtrip(MX_THRIFT_COMPACT, 0);
	roundtrip(MX_THRIFT_BINARY, 1);
	roundtrip(MX_THRIFT_COMPACT, 1);
}

/* Collector.submitBatches: an RPC call message whose args hold field 1 =
 * list<Batch>; two Batches of distinct resources, both decoded, each span
 * keeping its own resource. */
static void submit_batches(enum mx_thrift_proto p)
{
	struct mx_batch *in = sample();
	/* a second span under a second resource */
	struct mx_resource *r2 = mx_arena_calloc(&in->arena, 1, sizeof(*r2));
	struct mx_attr *ra = mx_arena_calloc(&in->arena, 1, sizeof(*ra));
	ra->key = MX_STR_LIT("service.name");
	ra->value.type = MX_VAL_STRING;
	ra->value.u.s = MX_STR_LIT("backend");
	r2->attrs = (struct mx_attrs){ ra, 1 };
	struct mx_span *s2 = mx_batch_add_span(in);
	memset(s2->trace_id, 0x5a, 16);
	memset(s2->span_id, 0x6b, 8);
	s2->name = MX_STR_LIT("db");
	s2->start_ns = 1700000000000000000ull;
	s2->end_ns = s2->start_ns + 7000;
	s2->resource = r2;
	s2->scope = in->spans[0].scope;

	struct mx_buf b1, b2, msg;
	uint32_t c1 = 0, c2 = 0;
	mx_buf_init(&b1, 1 << 20);
	mx_buf_init(&b2, 1 << 20);
	mx_buf_init(&msg, 1 << 20);
	assert_int_equal(mx_jaeger_thrift_encode_batch(p, in, 0, &c1, &b1), MX_OK);
	assert_int_equal(c1, 1);
	assert_int_equal(mx_jaeger_thrift_encode_batch(p, in, 1, &c2, &b2), MX_OK);
	assert_int_equal(c2, 1);
	static const char name[] = "submitBatches";
	if (p == MX_THRIFT_BINARY) {
		static const uint8_t hdr[] = { 0x80, 0x01, 0x00, 0x01, 0, 0, 0, 13 };
		static const uint8_t args[] = { 0, 0, 0, 7, /* seqid */
						0x0f, 0x00, 0x01, 0x0c, 0, 0, 0, 2 };
		mx_buf_append(&msg, hdr, sizeof(hdr));
		mx_buf_append(&msg, name, 13);
		mx_buf_append(&msg, args, sizeof(args));
	} else {
		/* protocol id, CALL << 5 | version 1, seqid 7, name length */
		static const uint8_t hdr[] = { 0x82, 0x21, 0x07, 13 };
		/* field 1 (delta 1) list; list of 2 structs */
		static const uint8_t args[] = { 0x19, 0x2c };
		mx_buf_append(&msg, hdr, sizeof(hdr));
		mx_buf_append(&msg, name, 13);
		mx_buf_append(&msg, args, sizeof(args));
	}
	mx_buf_append(&msg, b1.data, b1.len);
	mx_buf_append(&msg, b2.data, b2.len);
	mx_buf_append(&msg, "", 1); /* args stop */

	struct mx_batch *b = mx_batch_new(1 << 20);
	struct mx_errmsg err = { 0 };
	int rc = mx_jaeger_thrift_decode_batch(p, msg.data, msg.len, &lim, b, &err);
	if (rc)
		print_error("%s\n", err.text);
	assert_int_equal(rc, MX_OK);
	assert_int_equal(b->n_spans, 2);
	const struct mx_span *x = &b->spans[0], *y = &b->spans[1];
	assert_memory_equal(x->span_id, in->spans[0].span_id, 8);
	assert_memory_equal(y->span_id, s2->span_id, 8);
	assert_memory_equal(y->trace_id, s2->trace_id, 16);
	assert_true(mx_str_eq(x->name, "GET /x", 6));
	assert_true(mx_str_eq(y->name, "db", 2));
	assert_int_equal(y->start_ns, s2->start_ns);
	assert_int_equal(y->end_ns, s2->end_ns);
	assert_non_null(x->resource);
	assert_non_null(y->resource);
	assert_ptr_not_equal(x->resource, y->resource);
	assert_true(mx_str_eq(mx_span_service(x), "frontend", 8));
	assert_true(mx_str_eq(mx_span_service(y), "backend", 7));
	assert_int_equal(x->resource->attrs.n, 2);
	assert_int_equal(y->resource->attrs.n, 1);
	mx_batch_free(b);

	/* the same message without its last byte is refused */
	b = mx_batch_new(1 << 20);
	rc = mx_jaeger_thrift_decode_batch(p, msg.data, msg.len - 1, &lim, b, &err);
	assert_int_equal(rc, MX_EINVAL);
	mx_batch_free(b);
	mx_buf_free(&b1);
	mx_buf_free(&b2);
	mx_buf_free(&msg);
	mx_batch_free(in);
}

static void test_submit_batches(void **st)
{
	(void)st;
	submit_batches(MX_THRIFT_BINARY);
	submit_batches(MX_THRIFT_COMPACT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_examples, setup),
		cmocka_unit_test_setup(test_truncated_and_trailing, setup),
		cmocka_unit_test_setup(test_bad_lengths_and_depth, setup),
		cmocka_unit_test_setup(test_vtype, setup),
		cmocka_unit_test_setup(test_roundtrip, setup),
		cmocka_unit_test_setup(test_submit_batches, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
