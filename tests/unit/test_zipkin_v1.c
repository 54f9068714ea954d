/*
 * test_zipkin_v1.c - Zipkin v1 JSON decoder: conversion as Zipkin's
 * V1SpanConverter does it (client-only, server-only without timestamp,
 * client and server in one span, loopback, messaging, incomplete RPCs),
 * binary annotations (tags of every JSON type, the ca/sa/ma addresses as
 * true or "1", the lc marker, error), core annotations as timing and the
 * others as sorted events, and bad input (v2 bodies, wrong types, bad ids,
 * caps).
 */
#include <stdio.h>

#include "zipkin_test_util.h"

#define EP(svc) "\"endpoint\":{\"serviceName\":\"" svc "\"}"
#define ANN(ts, v, svc) "{\"timestamp\":" #ts ",\"value\":\"" v "\"," EP(svc) "}"

static void test_client_only(void **state)
{
	(void)state;
	struct mx_batch *b = zt_ok(ZT_V1,
		"[{\"traceId\":\"463ac35c9f6413ad48485a3953bb6124\",\"id\":\"2\",\"parentId\":\"1\","
		"\"name\":\"get\",\"timestamp\":100,\"duration\":50,\"debug\":true,"
		"\"annotations\":[{\"timestamp\":100,\"value\":\"cs\",\"endpoint\":"
		"{\"serviceName\":\"front\",\"ipv4\":\"1.2.3.4\",\"port\":80}},"
		ANN(120, "retry", "front") "," ANN(150, "cr", "front") "],"
		"\"binaryAnnotations\":[{\"key\":\"http.path\",\"value\":\"/x\"," EP("front") "},"
		"{\"key\":\"sa\",\"value\":true,\"endpoint\":{\"serviceName\":\"back\","
		"\"ipv4\":\"5.6.7.8\",\"port\":8080}}]}]", 1);
	const struct mx_span *s = &b->spans[0];
	zt_hex(s->trace_id, 16, "463ac35c9f6413ad48485a3953bb6124");
	zt_hex(s->span_id, 8, "0000000000000002");
	zt_hex(s->parent_span_id, 8, "0000000000000001");
	assert_mxstr(s->name, "get");
	assert_int_equal(s->kind, MX_KIND_CLIENT);
	assert_int_equal(s->mx_flags, MX_SPAN_F_DEBUG);
	assert_true(s->start_ns == 100000 && s->end_ns == 150000);
	assert_mxstr(s->local.service_name, "front");
	assert_mxstr(s->local.ipv4, "1.2.3.4");
	assert_int_equal(s->local.port, 80);
	assert_mxstr(s->remote.service_name, "back");
	assert_mxstr(s->remote.ipv4, "5.6.7.8");
	assert_int_equal(s->remote.port, 8080);
	assert_int_equal(s->n_events, 1);
	assert_mxstr(s->events[0].name, "retry");
	assert_true(s->events[0].time_ns == 120000);
	assert_int_equal(s->attrs.n, 1);
	assert_mxstr(zt_tag(s, "http.path"), "/x");
	assert_mxstr(mx_span_service(s), "front");
	char *out = zt_json(b);
	assert_string_equal(out,
		"[{\"traceId\":\"463ac35c9f6413ad48485a3953bb6124\",\"parentId\":\"0000000000000001\","
		"\"id\":\"0000000000000002\",\"kind\":\"CLIENT\",\"name\":\"get\","
		"\"timestamp\":100,\"duration\":50,\"localEndpoint\":{\"serviceName\":\"front\","
		"\"ipv4\":\"1.2.3.4\",\"port\":80},\"remoteEndpoint\":{\"serviceName\":\"back\","
		"\"ipv4\":\"5.6.7.8\",\"port\":8080},\"annotations\":[{\"timestamp\":120,"
		"\"value\":\"retry\"}],\"tags\":{\"http.path\":\"/x\"},\"debug\":true}]");
	free(out);
	mx_batch_free(b);
}

static void test_server_only(void **state)
{
	(void)state;
	/* no v1 timestamp: timing from sr/ss, and the span is shared */
	struct mx_batch *b = zt_ok(ZT_V1,
		"[{\"traceId\":\"1\",\"id\":\"2\",\"parentId\":\"3\",\"name\":\"get\","
		"\"annotations\":[" ANN(200, "sr", "back") "," ANN(260, "ss", "back") "],"
		"\"binaryAnnotations\":[{\"key\":\"ca\",\"value\":\"1\",\"endpoint\":"
		"{\"serviceName\":\"front\",\"ipv4\":\"1.2.3.4\"}},"
		"{\"key\":\"n\",\"value\":5},{\"key\":\"f\",\"value\":0.5},"
		"{\"key\":\"b\",\"value\":false},{\"key\":\"t\",\"value\":true},"
		"{\"key\":\"lc\",\"value\":\"\"},{\"key\":\"none\"},"
		"{\"key\":\"error\",\"value\":\"oops\"}]}]", 1);
	const struct mx_span *s = &b->spans[0];
	assert_int_equal(s->kind, MX_KIND_SERVER);
	assert_int_equal(s->mx_flags, MX_SPAN_F_SHARED);
	assert_true(s->start_ns == 200000 && s->end_ns == 260000);
	assert_int_equal(s->n_events, 0);
	assert_mxstr(s->local.service_name, "back");
	assert_mxstr(s->remote.service_name, "front");
	assert_mxstr(s->remote.ipv4, "1.2.3.4");
	assert_int_equal(s->attrs.n, 4);
	assert_mxstr(zt_tag(s, "n"), "5");
	assert_mxstr(zt_tag(s, "f"), "0.5");
	assert_mxstr(zt_tag(s, "b"), "false");
	assert_mxstr(zt_tag(s, "t"), "true");
	assert_false(zt_has_tag(s, "lc"));
	assert_int_equal(s->status_code, MX_STATUS_ERROR);
	assert_mxstr(s->status_message, "oops");
	mx_batch_free(b);

	/* with a v1 timestamp and duration the server side is not shared */
	b = zt_ok(ZT_V1,
		"[{\"traceId\":\"1\",\"id\":\"2\",\"timestamp\":200,\"duration\":60,"
		"\"annotations\":[" ANN(200, "sr", "back") "," ANN(260, "ss", "back") "]}]", 1);
	assert_int_equal(b->spans[0].mx_flags, 0);
	assert_true(b->spans[0].start_ns == 200000 && b->spans[0].end_ns == 260000);
	mx_batch_free(b);
}

static void test_client_and_server(void **state)
{
	(void)state;
	struct mx_batch *b = zt_ok(ZT_V1,
		"[{\"traceId\":\"1\",\"id\":\"2\",\"name\":\"rpc\",\"timestamp\":100,\"duration\":100,"
		"\"annotations\":[" ANN(100, "cs", "front") "," ANN(110, "sr", "back") ","
		ANN(150, "work", "back") "," ANN(190, "ss", "back") "," ANN(200, "cr", "front") "],"
		"\"binaryAnnotations\":[{\"key\":\"sa\",\"value\":true,\"endpoint\":"
		"{\"serviceName\":\"back\",\"ipv4\":\"10.0.0.2\"}},"
		"{\"key\":\"ca\",\"value\":true,\"endpoint\":{\"serviceName\":\"front\","
		"\"ipv4\":\"10.0.0.1\"}},"
		"{\"key\":\"db\",\"value\":\"x\"," EP("back") "}]}]", 2);
	const struct mx_span *c = &b->spans[0], *s = &b->spans[1];
	assert_memory_equal(c->span_id, s->span_id, 8);
	assert_int_equal(c->kind, MX_KIND_CLIENT);
	assert_int_equal(c->mx_flags, 0);
	assert_true(c->start_ns == 100000 && c->end_ns == 200000);
	assert_mxstr(c->local.service_name, "front");
	assert_mxstr(c->remote.ipv4, "10.0.0.2");
	assert_int_equal(c->n_events, 0);
	assert_int_equal(c->attrs.n, 0);
	assert_int_equal(s->kind, MX_KIND_SERVER);
	assert_int_equal(s->mx_flags, MX_SPAN_F_SHARED);
	assert_true(s->start_ns == 110000 && s->end_ns == 190000);
	assert_mxstr(s->local.service_name, "back");
	assert_mxstr(s->remote.ipv4, "10.0.0.1");
	assert_int_equal(s->n_events, 1);
	assert_mxstr(s->events[0].name, "work");
	assert_mxstr(zt_tag(s, "db"), "x");
	assert_ptr_not_equal(c->resource, s->resource);
	assert_mxstr(s->name, "rpc");
	mx_batch_free(b);

	/* loopback: both sides in one service still give two spans */
	b = zt_ok(ZT_V1,
		"[{\"traceId\":\"1\",\"id\":\"2\","
		"\"annotations\":[" ANN(100, "cs", "svc") "," ANN(110, "sr", "svc") ","
		ANN(190, "ss", "svc") "," ANN(200, "cr", "svc") "]}]", 2);
	assert_int_equal(b->spans[0].kind, MX_KIND_CLIENT);
	assert_true(b->spans[0].start_ns == 100000 && b->spans[0].end_ns == 200000);
	assert_int_equal(b->spans[1].kind, MX_KIND_SERVER);
	assert_int_equal(b->spans[1].mx_flags, MX_SPAN_F_SHARED);
	assert_true(b->spans[1].start_ns == 110000 && b->spans[1].end_ns == 190000);
	assert_ptr_equal(b->spans[0].resource, b->spans[1].resource);
	mx_batch_free(b);
}

static void test_incomplete(void **state)
{
	(void)state;
	/* cs alone: a client span without duration */
	struct mx_batch *b = zt_ok(ZT_V1,
		"[{\"traceId\":\"1\",\"id\":\"2\",\"annotations\":[" ANN(100, "cs", "a") "]}]", 1);
	assert_int_equal(b->spans[0].kind, MX_KIND_CLIENT);
	assert_true(b->spans[0].start_ns == 100000 && b->spans[0].end_ns == 100000);
	assert_int_equal(b->spans[0].n_events, 0);
	mx_batch_free(b);
	/* cr alone: kept as an annotation, the v1 timestamp applies */
	b = zt_ok(ZT_V1,
		"[{\"traceId\":\"1\",\"id\":\"2\",\"timestamp\":90,\"duration\":5,"
		"\"annotations\":[" ANN(100, "cr", "a") "]}]", 1);
	assert_int_equal(b->spans[0].kind, MX_KIND_CLIENT);
	assert_true(b->spans[0].start_ns == 90000 && b->spans[0].end_ns == 95000);
	assert_int_equal(b->spans[0].n_events, 1);
	assert_mxstr(b->spans[0].events[0].name, "cr");
	mx_batch_free(b);
	/* core annotations without an endpoint are ordinary events, sorted */
	b = zt_ok(ZT_V1,
		"[{\"traceId\":\"1\",\"id\":\"2\",\"timestamp\":5,\"annotations\":["
		"{\"timestamp\":3,\"value\":\"z\"},{\"timestamp\":1,\"value\":\"cs\"},"
		"{\"timestamp\":1,\"value\":\"b\"},{\"timestamp\":1,\"value\":\"a\"}]}]", 1);
	const struct mx_span *s = &b->spans[0];
	assert_int_equal(s->kind, MX_KIND_UNSPECIFIED);
	assert_int_equal(s->n_events, 4);
	assert_mxstr(s->events[0].name, "a");
	assert_mxstr(s->events[1].name, "b");
	assert_mxstr(s->events[2].name, "cs");
	assert_mxstr(s->events[3].name, "z");
	assert_true(s->start_ns == 5000 && s->end_ns == 5000);
	assert_mxstr(mx_span_service(s), "unknown_service");
	mx_batch_free(b);
	/* no annotations at all: the v1 timing, tags and address only */
	b = zt_ok(ZT_V1,
		"[{\"traceId\":\"1\",\"id\":\"2\",\"timestamp\":7,\"duration\":3,"
		"\"binaryAnnotations\":[{\"key\":\"k\",\"value\":\"v\"," EP("solo") "},"
		"{\"key\":\"sa\",\"value\":true,\"endpoint\":{\"serviceName\":\"db\"}}]}]", 1);
	s = &b->spans[0];
	assert_true(s->start_ns == 7000 && s->end_ns == 10000);
	assert_int_equal(s->kind, MX_KIND_UNSPECIFIED);
	assert_mxstr(s->local.service_name, "solo");
	assert_mxstr(s->remote.service_name, "db");
	mx_batch_free(b);
	/* ca alone (no core annotations): a server span */
	b = zt_ok(ZT_V1,
		"[{\"traceId\":\"1\",\"id\":\"2\",\"binaryAnnotations\":[{\"key\":\"ca\","
		"\"value\":true,\"endpoint\":{\"serviceName\":\"cli\"}},"
		"{\"key\":\"sa\",\"value\":\"no\",\"endpoint\":{\"serviceName\":\"x\"}}]}]", 1);
	assert_int_equal(b->spans[0].kind, MX_KIND_SERVER);
	assert_mxstr(b->spans[0].remote.service_name, "cli");
	assert_mxstr(zt_tag(&b->spans[0], "sa"), "no"); /* not an address */
	mx_batch_free(b);
}

static void test_messaging(void **state)
{
	(void)state;
	struct mx_batch *b = zt_ok(ZT_V1,
		"[{\"traceId\":\"1\",\"id\":\"2\",\"annotations\":["
		ANN(100, "ms", "prod") "," ANN(105, "ws", "prod") ","
		ANN(300, "wr", "cons") "," ANN(320, "mr", "cons") "],"
		"\"binaryAnnotations\":[{\"key\":\"ma\",\"value\":true,"
		"\"endpoint\":{\"serviceName\":\"kafka\"}}]}]", 2);
	const struct mx_span *p = &b->spans[0], *c = &b->spans[1];
	assert_int_equal(p->kind, MX_KIND_PRODUCER);
	assert_true(p->start_ns == 100000 && p->end_ns == 105000);
	assert_mxstr(p->remote.service_name, "kafka");
	assert_int_equal(c->kind, MX_KIND_CONSUMER);
	assert_int_equal(c->mx_flags, MX_SPAN_F_SHARED);
	assert_true(c->start_ns == 300000 && c->end_ns == 320000);
	assert_mxstr(c->remote.service_name, "kafka");
	assert_int_equal(p->n_events + c->n_events, 0);
	mx_batch_free(b);
	/* ws and wr without ms/mr are kept as annotations */
	b = zt_ok(ZT_V1,
		"[{\"traceId\":\"1\",\"id\":\"2\",\"annotations\":["
		ANN(5, "wr", "a") "," ANN(4, "ws", "a") "]}]", 1);
	assert_int_equal(b->spans[0].n_events, 2);
	assert_mxstr(b->spans[0].events[0].name, "ws");
	assert_mxstr(b->spans[0].events[1].name, "wr");
	mx_batch_free(b);
}

static void test_bad_input(void **state)
{
	(void)state;
	zt_expect_error(ZT_V1, "[{\"traceId\":\"1\",\"id\":\"2\",\"localEndpoint\":{}}]", MX_EINVAL,
			"Expected a JSON_V1 encoded list, but received: JSON_V2");
	zt_expect_error(ZT_V1, "[{\"traceId\":\"1\",\"id\":\"2\",\"tags\":{}}]", MX_EINVAL, "JSON_V2");
	zt_expect_error(ZT_V1, "[{\"traceId\":\"1\",\"id\":\"2\",\"annotations\":5}]", MX_EINVAL,
			"annotations");
	zt_expect_error(ZT_V1, "[{\"traceId\":\"1\",\"id\":\"2\",\"binaryAnnotations\":{}}]",
			MX_EINVAL, "binaryAnnotations");
	zt_expect_error(ZT_V1, "[{\"traceId\":\"1\",\"id\":\"2\",\"binaryAnnotations\":[{\"key\":1}]}]",
			MX_EINVAL, "binaryAnnotations");
	zt_expect_error(ZT_V1, "[{\"traceId\":\"1\",\"id\":\"2\",\"binaryAnnotations\":[5]}]",
			MX_EINVAL, "binaryAnnotations");
	zt_expect_error(ZT_V1, "[{\"traceId\":\"1\",\"id\":\"2\",\"annotations\":[{\"value\":\"cs\"}]}]",
			MX_EINVAL, "annotations");
	zt_expect_error(ZT_V1, "[{\"traceId\":\"1\",\"id\":\"2\",\"annotations\":[{\"timestamp\":1,"
			"\"value\":\"cs\",\"endpoint\":5}]}]", MX_EINVAL, "endpoint");
	zt_expect_error(ZT_V1, "[{\"traceId\":\"1\",\"id\":\"2\",\"timestamp\":\"x\"}]", MX_EINVAL,
			"timestamp");
	zt_expect_error(ZT_V1, "[{\"traceId\":\"1\",\"id\":\"2\",\"debug\":1}]", MX_EINVAL, "debug");
	zt_expect_error(ZT_V1, "[{\"traceId\":\"1\",\"id\":\"2\",\"name\":[]}]", MX_EINVAL, "name");
	zt_expect_error(ZT_V1, "{}", MX_EINVAL, "top level");
	zt_expect_error(ZT_V1, "[1]", MX_EINVAL, NULL);
	zt_expect_error(ZT_V1, "[{\"traceId\":\"1\"", MX_EINVAL, "invalid JSON");

	/* bad ids and caps reject the v1 span with everything it gives */
	struct mx_batch *b;
	struct mx_errmsg err;
	zt_lim.max_events = 2;
	zt_lim.max_value_bytes = 16;
	assert_int_equal(zt_decode(ZT_V1,
		"[{\"traceId\":\"0\",\"id\":\"2\"},{\"traceId\":\"1\",\"id\":\"g\"},"
		"{\"traceId\":\"1\",\"id\":\"2\",\"parentId\":\"12345678901234567\"},"
		"{\"traceId\":\"1\",\"id\":\"2\",\"annotations\":[" ANN(1, "a", "x") ","
		ANN(2, "b", "x") "," ANN(3, "c", "x") "]},"
		"{\"traceId\":\"1\",\"id\":\"2\",\"annotations\":[" ANN(1, "cs", "a") ","
		ANN(2, "sr", "b") "],\"binaryAnnotations\":[{\"key\":\"k\","
		"\"value\":\"12345678901234567\"," EP("b") "}]},"
		"{\"traceId\":\"1\",\"id\":\"3\",\"annotations\":[" ANN(1, "cs", "a") ","
		ANN(2, "sr", "b") "]}]", &b, &err), MX_OK);
	assert_int_equal(b->rejected_spans, 5);
	assert_int_equal(b->n_spans, 2); /* only the last v1 span, split in two */
	zt_hex(b->spans[0].span_id, 8, "0000000000000003");
	zt_hex(b->spans[1].span_id, 8, "0000000000000003");
	mx_batch_free(b);
	mx_decode_limits_default(&zt_lim);
}

/* What comes out of v1 reads back through the v2 codecs unchanged. */
static void test_v1_to_v2(void **state)
{
	(void)state;
	struct mx_batch *b = zt_ok(ZT_V1,
		"[{\"traceId\":\"1\",\"id\":\"2\",\"name\":\"rpc\",\"timestamp\":100,\"duration\":100,"
		"\"annotations\":[" ANN(100, "cs", "front") "," ANN(110, "sr", "back") ","
		ANN(150, "work", "back") "," ANN(190, "ss", "back") "," ANN(200, "cr", "front") "]}]",
		2);
	char *v2 = zt_json(b);
	assert_string_equal(v2,
		"[{\"traceId\":\"0000000000000001\",\"id\":\"0000000000000002\",\"kind\":\"CLIENT\","
		"\"name\":\"rpc\",\"timestamp\":100,\"duration\":100,"
		"\"localEndpoint\":{\"serviceName\":\"front\"}},"
		"{\"traceId\":\"0000000000000001\",\"id\":\"0000000000000002\",\"kind\":\"SERVER\","
		"\"name\":\"rpc\",\"timestamp\":110,\"duration\":80,"
		"\"localEndpoint\":{\"serviceName\":\"back\"},"
		"\"annotations\":[{\"timestamp\":150,\"value\":\"work\"}],\"shared\":true}]");
	struct mx_batch *c = zt_ok(ZT_JSON, v2, 2);
	char *again = zt_json(c);
	assert_string_equal(v2, again);
	free(again);
	free(v2);
	mx_batch_free(c);
	mx_batch_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_client_only, zt_setup),
		cmocka_unit_test_setup(test_server_only, zt_setup),
		cmocka_unit_test_setup(test_client_and_server, zt_setup),
		cmocka_unit_test_setup(test_incomplete, zt_setup),
		cmocka_unit_test_setup(test_messaging, zt_setup),
		cmocka_unit_test_setup(test_bad_input, zt_setup),
		cmocka_unit_test_setup(test_v1_to_v2, zt_setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
