/*
 * test_udp.c - the Jaeger agent UDP listeners (collector/udp.h) end to end:
 * a real store in a temp directory, both listeners on 127.0.0.1 port 0,
 * Agent.emitBatch datagrams written by the thrift encoders (compact to the
 * compact port, binary to the binary port) read back with
 * mx_store_get_trace() and compared field by field; a garbage datagram is
 * counted as malformed and the listener keeps serving; the stop is clean.
 * Every wait polls with a bound.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "store_test_util.h"

#include "codec/jaeger_thrift.h"
#include "collector/udp.h"

#define N_SPANS 4

/* A batch of N_SPANS spans of trace (0x77.., `lo`), service `svc`. */
static struct mx_batch *make_batch(const char *svc, uint64_t lo)
{
	struct mx_batch *b = mx_batch_new(1 << 20);
	struct mx_resource *r = mx_arena_calloc(&b->arena, 1, sizeof(*r));
	struct mx_scope *sc = mx_arena_calloc(&b->arena, 1, sizeof(*sc));
	struct mx_attr *ra = mx_arena_calloc(&b->arena, 2, sizeof(*ra));
	ra[0].key = MX_STR_LIT("service.name");
	ra[0].value.type = MX_VAL_STRING;
	ra[0].value.u.s = mx_batch_str(b, svc, strlen(svc));
	ra[1].key = MX_STR_LIT("hostname");
	ra[1].value.type = MX_VAL_STRING;
	ra[1].value.u.s = MX_STR_LIT("h1");
	r->attrs = (struct mx_attrs){ ra, 2 };
	for (uint32_t i = 0; i < N_SPANS; i++) {
		struct mx_span *s = mx_batch_add_span(b);
		for (int k = 0; k < 8; k++) {
			s->trace_id[k] = 0x77;
			s->trace_id[8 + k] = (uint8_t)(lo >> (56 - 8 * k));
		}
		uint64_t id = lo * 100 + i + 1;
		for (int k = 0; k < 8; k++)
			s->span_id[k] = (uint8_t)(id >> (56 - 8 * k));
		if (i > 0)
			for (int k = 0; k < 8; k++)
				s->parent_span_id[k] = (uint8_t)((lo * 100 + 1) >> (56 - 8 * k));
		s->name = i ? MX_STR_LIT("child") : MX_STR_LIT("root");
		s->kind = i ? MX_KIND_CLIENT : MX_KIND_SERVER;
		s->start_ns = 1700000000000000000ull + i * 1000000ull;
		s->end_ns = s->start_ns + 2500000ull;
		struct mx_attr *a = mx_arena_calloc(&b->arena, 3, sizeof(*a));
		a[0].key = MX_STR_LIT("i");
		a[0].value.type = MX_VAL_INT;
		a[0].value.u.i = (int64_t)id;
		a[1].key = MX_STR_LIT("d");
		a[1].value.type = MX_VAL_DOUBLE;
		a[1].value.u.d = 0.5 * i;
		a[2].key = MX_STR_LIT("s");
		a[2].value.type = MX_VAL_STRING;
		a[2].value.u.s = MX_STR_LIT("value");
		s->attrs = (struct mx_attrs){ a, 3 };
		s->events = mx_arena_calloc(&b->arena, 1, sizeof(*s->events));
		s->n_events = 1;
		s->events[0].time_ns = s->start_ns + 1000;
		s->events[0].name = MX_STR_LIT("ev");
		s->resource = r;
		s->scope = sc;
	}
	return b;
}

/* Sends `len` bytes as one datagram to 127.0.0.1:`port`. */
static void send_to(int fd, uint16_t port, const void *p, size_t len)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ssize_t n = sendto(fd, p, len, 0, (const struct sockaddr *)&a, sizeof(a));
	assert_int_equal(n, (ssize_t)len);
}

/* Encodes `b` as emitBatch in `proto` and sends it to `port`. */
static void send_batch(int fd, uint16_t port, enum mx_thrift_proto proto,
		       const struct mx_batch *b)
{
	struct mx_buf out;
	uint32_t consumed = 0;
	mx_buf_init(&out, 65000);
	assert_int_equal(mx_jaeger_thrift_encode_emit_batch(proto, b, 0, &consumed, &out),
			 MX_OK);
	assert_int_equal(consumed, b->n_spans);
	send_to(fd, port, out.data, out.len);
	mx_buf_free(&out);
}

/* Polls (at most ~10 s) until trace `lo` holds `n` spans; returns it. */
static struct mx_batch *wait_trace(struct mx_store *st, uint64_t lo, uint32_t n)
{
	uint8_t id[16];
	for (int k = 0; k < 8; k++) {
		id[k] = 0x77;
		id[8 + k] = (uint8_t)(lo >> (56 - 8 * k));
	}
	for (int i = 0; i < 2000; i++) {
		struct mx_batch *out = NULL;
		int rc = mx_store_get_trace(st, id, false, 1000, &out);
		if (rc == MX_OK && out->n_spans >= n)
			return out;
		mx_batch_free(out);
		struct timespec ts = { 0, 5000000 };
		nanosleep(&ts, NULL); /* poll interval, bounded by the loop */
	}
	return NULL;
}

static const struct mx_span *find_span(const struct mx_batch *b, const uint8_t id[8])
{
	for (uint32_t i = 0; i < b->n_spans; i++)
		if (memcmp(b->spans[i].span_id, id, 8) == 0)
			return &b->spans[i];
	return NULL;
}

static void compare(const struct mx_batch *in, const struct mx_batch *got,
		    const char *svc)
{
	assert_int_equal(got->n_spans, in->n_spans);
	for (uint32_t i = 0; i < in->n_spans; i++) {
		const struct mx_span *x = &in->spans[i];
		const struct mx_span *y = find_span(got, x->span_id);
		if (!y) {
			fail_msg("span %u not read back", i);
			return;
		}
		assert_memory_equal(x->trace_id, y->trace_id, 16);
		assert_memory_equal(x->parent_span_id, y->parent_span_id, 8);
		assert_true(mx_str_eq(y->name, x->name.ptr, x->name.len));
		assert_int_equal(y->kind, x->kind);
		assert_int_equal(y->start_ns, x->start_ns);
		assert_int_equal(y->end_ns, x->end_ns);
		assert_int_equal(y->attrs.n, 3);
		assert_true(mx_str_eq(y->attrs.items[0].key, "i", 1));
		assert_int_equal(y->attrs.items[0].value.type, MX_VAL_INT);
		assert_int_equal(y->attrs.items[0].value.u.i, x->attrs.items[0].value.u.i);
		assert_int_equal(y->attrs.items[1].value.type, MX_VAL_DOUBLE);
		assert_true(y->attrs.items[1].value.u.d == x->attrs.items[1].value.u.d);
		assert_true(mx_str_eq(y->attrs.items[2].value.u.s, "value", 5));
		assert_int_equal(y->n_events, 1);
		assert_int_equal(y->events[0].time_ns, x->events[0].time_ns);
		assert_true(mx_str_eq(y->events[0].name, "ev", 2));
		assert_non_null(y->resource);
		assert_true(mx_str_eq(mx_span_service(y), svc, strlen(svc)));
	}
}

/* Reads counter `key` of listener `name` from mx_udp_vars_json(). */
static uint64_t counter(struct mx_udp_server *srv, const char *name, const char *key)
{
	struct mx_buf b;
	mx_buf_init(&b, 1 << 16);
	mx_udp_vars_json(srv, &b);
	json_error_t je;
	json_t *o = json_loadb((const char *)b.data, b.len, 0, &je);
	mx_buf_free(&b);
	assert_non_null(o);
	json_t *v = json_object_get(json_object_get(o, name), key);
	assert_true(json_is_integer(v));
	uint64_t n = (uint64_t)json_integer_value(v);
	json_decref(o);
	return n;
}

/* Polls (bounded) until counter `key` of `name` reaches `want`. */
static bool wait_counter(struct mx_udp_server *srv, const char *name, const char *key,
			 uint64_t want)
{
	for (int i = 0; i < 2000; i++) {
		if (counter(srv, name, key) >= want)
			return true;
		struct timespec ts = { 0, 5000000 };
		nanosleep(&ts, NULL); /* poll interval, bounded by the loop */
	}
	return false;
}

static void test_udp_ingest(void **state)
{
	(void)state;
	struct tu_fixture *f = tu_fixture_new("/tmp/mx-udp-XXXXXX");
	assert_non_null(f);
	tu_open_store(f);
	struct mx_decode_limits lim;
	mx_decode_limits_default(&lim);
	struct mx_udp_server *srv = mx_udp_new(f->st, &lim);
	assert_non_null(srv);
	char err[256] = "";
	assert_int_equal(mx_udp_listen(srv, "jaeger_compact", "127.0.0.1:0",
				       MX_THRIFT_COMPACT, err, sizeof(err)), MX_OK);
	assert_int_equal(mx_udp_listen(srv, "jaeger_binary", "127.0.0.1:0",
				       MX_THRIFT_BINARY, err, sizeof(err)), MX_OK);
	assert_int_equal(mx_udp_start(srv), MX_OK);
	uint16_t cport = mx_udp_port(srv, "jaeger_compact");
	uint16_t bport = mx_udp_port(srv, "jaeger_binary");
	assert_true(cport != 0 && bport != 0 && cport != bport);

	char bound[512] = "{}";
	mx_udp_bound_json(srv, bound, sizeof(bound));
	assert_non_null(strstr(bound, "\"jaeger_compact\":[\"127.0.0.1:"));
	assert_non_null(strstr(bound, "\"jaeger_binary\":[\"127.0.0.1:"));

	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);

	struct mx_batch *bc = make_batch("compact-svc", 1);
	struct mx_batch *bb = make_batch("binary-svc", 2);
	send_batch(fd, cport, MX_THRIFT_COMPACT, bc);
	send_batch(fd, bport, MX_THRIFT_BINARY, bb);

	struct mx_batch *got = wait_trace(f->st, 1, N_SPANS);
	assert_non_null(got);
	compare(bc, got, "compact-svc");
	mx_batch_free(got);
	got = wait_trace(f->st, 2, N_SPANS);
	assert_non_null(got);
	compare(bb, got, "binary-svc");
	mx_batch_free(got);
	assert_true(wait_counter(srv, "jaeger_compact", "accepted_spans", N_SPANS));
	assert_true(wait_counter(srv, "jaeger_binary", "accepted_spans", N_SPANS));

	/* garbage, and binary sent to the compact port: counted, dropped */
	static const uint8_t junk[] = { 0xff, 0x00, 0x13, 0x37, 0x42 };
	send_to(fd, cport, junk, sizeof(junk));
	send_to(fd, bport, junk, sizeof(junk));
	assert_true(wait_counter(srv, "jaeger_compact", "malformed_datagrams", 1));
	assert_true(wait_counter(srv, "jaeger_binary", "malformed_datagrams", 1));

	/* the listeners keep working after a malformed datagram */
	struct mx_batch *bc2 = make_batch("compact-svc", 3);
	struct mx_batch *bb2 = make_batch("binary-svc", 4);
	send_batch(fd, cport, MX_THRIFT_COMPACT, bc2);
	send_batch(fd, bport, MX_THRIFT_BINARY, bb2);
	got = wait_trace(f->st, 3, N_SPANS);
	assert_non_null(got);
	compare(bc2, got, "compact-svc");
	mx_batch_free(got);
	got = wait_trace(f->st, 4, N_SPANS);
	assert_non_null(got);
	compare(bb2, got, "binary-svc");
	mx_batch_free(got);
	assert_true(wait_counter(srv, "jaeger_compact", "accepted_spans", 2 * N_SPANS));
	assert_int_equal(counter(srv, "jaeger_compact", "malformed_datagrams"), 1);
	assert_int_equal(counter(srv, "jaeger_binary", "malformed_datagrams"), 1);
	assert_int_equal(counter(srv, "jaeger_compact", "datagrams"), 3);
	assert_int_equal(counter(srv, "jaeger_binary", "datagrams"), 3);
	assert_int_equal(counter(srv, "jaeger_binary", "dropped_spans"), 0);

	close(fd);
	mx_batch_free(bc);
	mx_batch_free(bb);
	mx_batch_free(bc2);
	mx_batch_free(bb2);
	mx_udp_stop(srv);
	mx_udp_stop(srv); /* idempotent */
	mx_store_shutdown(f->st);
	mx_udp_free(srv);
	tu_fixture_free(f);
}

static void test_udp_disabled_and_null(void **state)
{
	(void)state;
	struct tu_fixture *f = tu_fixture_new("/tmp/mx-udp-XXXXXX");
	assert_non_null(f);
	tu_open_store(f);
	struct mx_decode_limits lim;
	mx_decode_limits_default(&lim);
	struct mx_udp_server *srv = mx_udp_new(f->st, &lim);
	assert_non_null(srv);
	char err[256] = "";
	/* an empty address disables the listener; no thread without sockets */
	assert_int_equal(mx_udp_listen(srv, "jaeger_compact", "", MX_THRIFT_COMPACT,
				       err, sizeof(err)), MX_OK);
	assert_int_equal(mx_udp_port(srv, "jaeger_compact"), 0);
	assert_int_equal(mx_udp_start(srv), MX_OK);
	mx_udp_stop(srv);
	mx_store_shutdown(f->st);
	mx_udp_free(srv);
	mx_udp_stop(NULL);
	mx_udp_free(NULL);
	tu_fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_ingest),
		cmocka_unit_test(test_udp_disabled_and_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
