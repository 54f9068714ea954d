/*
 * test_jaeger_json_group.c - codec/jaeger_json_encode.c: spans of several
 * trace ids grouped into Trace objects, process numbering and
 * de-duplication (local endpoints, missing resources, many resources),
 * empty input, span kinds, derived tags not repeating attributes, deep nesting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jaeger_test_util.h"

static void test_grouping(void **state)
{
	(void)state;
	struct mx_batch *b1 = mx_batch_new(ARENA_CAP);
	struct mx_batch *b2 = mx_batch_new(ARENA_CAP);
	assert_non_null(b1);
	assert_non_null(b2);
	struct mx_resource *r1 = resource_new(b1, "svc", NULL);
	struct mx_resource *r2 = resource_new(b2, "svc", NULL);
	add_span(b1, 1, 0x77, 1, 0, "a", r1, NULL);
	add_span(b1, 0, 0x77, 2, 0, "b", r1, NULL);
	add_span(b1, 1, 0x77, 3, 1, "c", r1, NULL);
	add_span(b2, 0, 0x77, 4, 2, "d", r2, NULL);
	add_span(b2, 2, 0x77, 5, 0, "e", r2, NULL);
	const struct mx_batch *two[3] = { b1, NULL, b2 };
	json_t *data = encode(two, 3, NULL);

	assert_int_equal(json_array_size(data), 3);
	static const char *const ids[3] = {
		"00000000000000010000000000000077", "0000000000000077",
		"00000000000000020000000000000077",
	};
	static const char *const sids[3][2] = {
		{ "0000000000000001", "0000000000000003" },
		{ "0000000000000002", "0000000000000004" },
		{ "0000000000000005", NULL },
	};
	for (size_t t = 0; t < 3; t++) {
		json_t *tr = json_array_get(data, t);
		assert_string_equal(jstr(tr, "traceID"), ids[t]);
		json_t *spans = json_object_get(tr, "spans");
		size_t ns = sids[t][1] ? 2 : 1;
		assert_int_equal(json_array_size(spans), ns);
		for (size_t k = 0; k < ns; k++) {
			json_t *s = json_array_get(spans, k);
			assert_string_equal(jstr(s, "traceID"), ids[t]);
			assert_string_equal(jstr(s, "spanID"), sids[t][k]);
			assert_string_equal(jstr(s, "processID"), "p1");
		}
		/* processes are numbered per Trace object */
		json_t *procs = json_object_get(tr, "processes");
		assert_int_equal(json_object_size(procs), 1);
		assert_string_equal(
			jstr(json_object_get(procs, "p1"), "serviceName"),
			"svc");
	}
	/* the child's CHILD_OF keeps its own 128-bit trace id */
	json_t *c = json_array_get(
		json_object_get(json_array_get(data, 0), "spans"), 1);
	json_t *ref = json_array_get(json_object_get(c, "references"), 0);
	assert_string_equal(jstr(ref, "traceID"), ids[0]);
	json_decref(data);
	mx_batch_free(b1);
	mx_batch_free(b2);
}

static void test_empty(void **state)
{
	(void)state;
	char *text = NULL;
	json_t *j = encode(NULL, 0, &text);
	assert_string_equal(text, "[]");
	json_decref(j);
	free(text);

	struct mx_batch *b = mx_batch_new(ARENA_CAP);
	assert_non_null(b);
	const struct mx_batch *two[2] = { NULL, b };
	j = encode(two, 2, &text);
	assert_string_equal(text, "[]");
	json_decref(j);
	free(text);
	mx_batch_free(b);
}

/* Processes from Zipkin-style local endpoints, a missing resource, and
 * many resources (the hash table path, without the same-as-previous
 * shortcut). */
static void test_processes(void **state)
{
	(void)state;
	struct mx_batch *b = mx_batch_new(ARENA_CAP);
	assert_non_null(b);
	struct mx_resource *empty = mx_arena_calloc(&b->arena, 1,
						    sizeof(*empty));
	assert_non_null(empty);
	uint32_t i0 = add_span(b, 0, 9, 1, 0, "a", empty, NULL);
	uint32_t i1 = add_span(b, 0, 9, 2, 0, "b", empty, NULL);
	uint32_t i2 = add_span(b, 0, 9, 3, 0, "c", empty, NULL);
	add_span(b, 0, 9, 4, 0, "d", NULL, NULL);
	b->spans[i0].local.service_name = S(b, "zsvc");
	b->spans[i0].local.ipv4 = S(b, "10.1.1.1");
	b->spans[i1].local.service_name = S(b, "zsvc");
	b->spans[i1].local.ipv6 = S(b, "::2");
	b->spans[i2].local.service_name = S(b, "zsvc");
	b->spans[i2].local.ipv4 = S(b, "10.1.1.1");
	const struct mx_batch *one[1] = { b };
	json_t *data = encode(one, 1, NULL);
	json_t *tr = json_array_get(data, 0);
	json_t *spans = json_object_get(tr, "spans");
	static const char *const pids[4] = { "p1", "p2", "p1", "p3" };
	for (size_t k = 0; k < 4; k++)
		assert_string_equal(jstr(json_array_get(spans, k), "processID"),
				    pids[k]);
	json_t *procs = json_object_get(tr, "processes");
	assert_int_equal(json_object_size(procs), 3);
	json_t *p = json_object_get(procs, "p1");
	assert_string_equal(jstr(p, "serviceName"), "zsvc");
	assert_int_equal(json_array_size(json_object_get(p, "tags")), 1);
	assert_string_equal(tag_str(json_object_get(p, "tags"), "ip"),
			    "10.1.1.1");
	p = json_object_get(procs, "p2");
	assert_string_equal(tag_str(json_object_get(p, "tags"), "ip"), "::2");
	p = json_object_get(procs, "p3");
	assert_string_equal(jstr(p, "serviceName"), "unknown_service");
	json_decref(data);
	mx_batch_free(b);

	/* 1000 spans, each with its own resource, 10 distinct contents */
	b = mx_batch_new(ARENA_CAP);
	assert_non_null(b);
	assert_int_equal(mx_batch_reserve(b, 1000), MX_OK);
	for (uint64_t k = 0; k < 1000; k++) {
		char svc[16];
		snprintf(svc, sizeof(svc), "svc-%u", (unsigned)(k % 10));
		add_span(b, 0, 9, k + 1, 0, "op", resource_new(b, svc, "h"),
			 NULL);
	}
	one[0] = b;
	data = encode(one, 1, NULL);
	tr = json_array_get(data, 0);
	spans = json_object_get(tr, "spans");
	procs = json_object_get(tr, "processes");
	assert_int_equal(json_object_size(procs), 10);
	for (size_t k = 0; k < 1000; k++) {
		char want[8], svc[16];
		snprintf(want, sizeof(want), "p%u", (unsigned)(k % 10) + 1);
		snprintf(svc, sizeof(svc), "svc-%u", (unsigned)(k % 10));
		const char *pid = jstr(json_array_get(spans, k), "processID");
		assert_string_equal(pid, want);
		assert_string_equal(
			jstr(json_object_get(procs, pid), "serviceName"), svc);
	}
	json_decref(data);
	mx_batch_free(b);
}

/* span.kind for every kind; none for UNSPECIFIED and unknown values. */
static void test_kinds(void **state)
{
	(void)state;
	static const char *const names[] = { NULL, "internal", "server",
					     "client", "producer", "consumer",
					     NULL };
	struct mx_batch *b = mx_batch_new(ARENA_CAP);
	assert_non_null(b);
	struct mx_resource *r = resource_new(b, "svc", NULL);
	for (uint32_t k = 0; k < 7; k++) {
		uint32_t idx = add_span(b, 0, 1, k + 1, 0, "op", r, NULL);
		b->spans[idx].kind = (uint8_t)k;
	}
	const struct mx_batch *one[1] = { b };
	json_t *data = encode(one, 1, NULL);
	json_t *spans = json_object_get(json_array_get(data, 0), "spans");
	for (size_t k = 0; k < 7; k++) {
		json_t *tags = json_object_get(json_array_get(spans, k), "tags");
		if (names[k]) {
			assert_int_equal(json_array_size(tags), 1);
			assert_string_equal(tag_str(tags, "span.kind"),
					    names[k]);
		} else {
			assert_int_equal(json_array_size(tags), 0);
		}
	}
	json_decref(data);
	mx_batch_free(b);
}

/* A derived tag whose key the span already carries is not repeated. */
static void test_derived_not_repeated(void **state)
{
	(void)state;
	struct mx_batch *b = mx_batch_new(ARENA_CAP);
	assert_non_null(b);
	uint32_t idx = add_span(b, 0, 1, 1, 0, "op",
				resource_new(b, "svc", NULL), NULL);
	struct mx_span *s = &b->spans[idx];
	s->kind = MX_KIND_SERVER;
	s->status_code = MX_STATUS_ERROR;
	s->attrs.items = attrs_new(b, 2);
	s->attrs.n = 2;
	set_str(b, &s->attrs.items[0], "span.kind", "SERVER");
	s->attrs.items[1].key = S(b, "error");
	s->attrs.items[1].value.type = MX_VAL_BOOL;
	s->attrs.items[1].value.u.b = false;
	const struct mx_batch *one[1] = { b };
	json_t *data = encode(one, 1, NULL);
	json_t *tags = json_object_get(
		json_array_get(json_object_get(json_array_get(data, 0),
					       "spans"),
			       0),
		"tags");
	static const char *const keys[] = { "span.kind", "error",
					    "otel.status_code" };
	assert_keys(tags, keys, 3);
	assert_string_equal(tag_str(tags, "span.kind"), "SERVER");
	assert_true(json_is_false(tag(tags, "error", "bool")));
	json_decref(data);
	mx_batch_free(b);
}

/* Arrays nested deeper than the writer's cap still give valid JSON. */
static void test_deep_nesting(void **state)
{
	(void)state;
	struct mx_batch *b = mx_batch_new(ARENA_CAP);
	assert_non_null(b);
	uint32_t idx = add_span(b, 0, 1, 1, 0, "op",
				resource_new(b, "svc", NULL), NULL);
	struct mx_span *s = &b->spans[idx];
	struct mx_value *v = values_new(b, 200);
	for (int i = 0; i < 199; i++) {
		v[i].type = MX_VAL_ARRAY;
		v[i].u.arr.items = &v[i + 1];
		v[i].u.arr.n = 1;
	}
	v[199].type = MX_VAL_INT;
	v[199].u.i = 5;
	s->attrs.items = attrs_new(b, 1);
	s->attrs.n = 1;
	s->attrs.items[0].key = S(b, "deep");
	s->attrs.items[0].value = v[0];
	const struct mx_batch *one[1] = { b };
	json_t *data = encode(one, 1, NULL);
	json_t *tags = json_object_get(
		json_array_get(json_object_get(json_array_get(data, 0),
					       "spans"),
			       0),
		"tags");
	const char *txt = tag_str(tags, "deep");
	json_error_t err;
	json_t *inner = json_loads(txt, 0, &err);
	assert_non_null(inner); /* the string is itself valid JSON */
	json_decref(inner);
	json_decref(data);
	mx_batch_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grouping),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_processes),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_derived_not_repeated),
		cmocka_unit_test(test_deep_nesting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
