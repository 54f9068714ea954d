/*
 * test_search_filter.c - the tag filters of idx_svc_time records
 * (storage/store_bloom.c, storage/SCHEMA.md "Tag filter") through the
 * search API on a real store in a temporary directory. Split from
 * test_search.c, which covers the search semantics.
 *
 * Checked: a tag search that matches nothing reads (almost) no segment
 * (segments_decoded / segments_filtered in the result); no false
 * negatives - every value type in the text the matcher compares (strings,
 * ints incl. the extremes, bools, integral and other doubles, NaN, Inf,
 * -0), resource attributes, bare words (attribute keys, event names, keys
 * of bytes / array values, "error"), the derived tags; and segments with
 * too many items for a filter (none stored) are still found.
 *
 * The data: N_TRACES traces of service `svc`, each a SERVER span and a
 * CLIENT span (status ERROR on every third trace, OK otherwise), sent in
 * batches of 16 traces so that there are N_TRACES segment records. Trace t
 * carries values unique to it, so each exact query names one trace.
 */
#include <math.h>

#include "storage/search.h"
#include "store_test_util.h"

#define N_TRACES 96
#define PER_BATCH 16
#define T0 1700000000000000000ull
#define SEC 1000000000ull
#define WIDE_ATTRS 600 /* 1200 items: past the filter's cap */

/* ------------------------------------------------------------ helpers */

static int setup(void **state)
{
	struct tu_fixture *f = tu_fixture_new("/tmp/mixd-test-filter-XXXXXX");
	char err[256] = "";
	if (!f)
		return -1;
	f->cfg.sync = MX_SYNC_NONE;
	if (mx_store_open(&f->cfg, &f->st, err, sizeof(err)) != MX_OK) {
		fprintf(stderr, "open: %s\n", err);
		tu_fixture_free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	tu_fixture_free(*state);
	return 0;
}

static struct mx_str bstr(struct mx_batch *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static struct mx_str bstr(struct mx_batch *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	return mx_batch_str(b, tmp, n > 0 ? (size_t)n : 0);
}

static void set_trace(struct mx_span *s, int t, int k)
{
	memset(s->trace_id, 0, 16);
	s->trace_id[7] = 0x5a;
	s->trace_id[14] = (uint8_t)((t + 1) >> 8);
	s->trace_id[15] = (uint8_t)(t + 1);
	s->span_id[6] = (uint8_t)t;
	s->span_id[7] = (uint8_t)(k + 1);
}

static int trace_no(const struct mx_batch *b)
{
	assert_true(b->n_spans > 0);
	return (b->spans[0].trace_id[14] << 8 | b->spans[0].trace_id[15]) - 1;
}

/* The double attribute of trace t: integral, fractional or special. */
static double dbl_of(int t)
{
	switch (t % 8) {
	case 0: return (double)t * 1000.0;        /* "96000": integral */
	case 1: return t + 0.25;                  /* "9.25" */
	case 2: return -(double)t - 0.1;          /* "-2.1" */
	case 3: return (t & 8 ? 1e20 : 1e15) * (t + 1); /* "4e+15", "1.2e+21" */
	case 4: return -(double)t * 7;            /* "-28": negative integral */
	case 5: return 1.0 / (t + 3);             /* 0.125, 0.0909090909090909 */
	case 6: return 999999999999999.0 - t;     /* 15 digits, integral */
	default: return t * 1e-9;                 /* 7e-09 */
	}
}

static int64_t int_of(int t)
{
	switch (t % 4) {
	case 0: return t == 0 ? INT64_MIN : (int64_t)t * 1000003;
	case 1: return -(int64_t)t * 77;
	case 2: return t == 2 ? INT64_MAX : (int64_t)t << 40;
	default: return t;
	}
}

static void attr_str(struct mx_attr *a, struct mx_str k, struct mx_str v)
{
	a->key = k;
	a->value.type = MX_VAL_STRING;
	a->value.u.s = v;
}

/* Traces first .. first + PER_BATCH - 1, newest last. */
static struct mx_batch *make_batch(int first)
{
	struct mx_batch *b = mx_batch_new(1 << 20);
	struct mx_scope *sc = mx_arena_calloc(&b->arena, 1, sizeof(*sc));
	b->received_ns = T0;
	for (int t = first; t < first + PER_BATCH; t++) {
		struct mx_resource *r = mx_arena_calloc(&b->arena, 1, sizeof(*r));
		struct mx_attr *ra = mx_arena_calloc(&b->arena, 2, sizeof(*ra));
		attr_str(&ra[0], tu_cstr("service.name"), tu_cstr("svc"));
		attr_str(&ra[1], tu_cstr("host.name"), bstr(b, "host-%d", t));
		r->attrs = (struct mx_attrs){ ra, 2 };
		for (int k = 0; k < 2; k++) {
			struct mx_span *s = mx_batch_add_span(b);
			set_trace(s, t, k);
			s->name = tu_cstr(k ? "call" : "handle");
			s->kind = k ? MX_KIND_CLIENT : MX_KIND_SERVER;
			s->status_code = t % 3 == 0 ? MX_STATUS_ERROR : MX_STATUS_OK;
			s->start_ns = T0 + (uint64_t)t * SEC + (uint64_t)k * 1000;
			s->end_ns = s->start_ns + 5000;
			s->resource = r;
			s->scope = sc;
			if (k)
				continue;
			struct mx_attr *a = mx_arena_calloc(&b->arena, 7, sizeof(*a));
			attr_str(&a[0], tu_cstr("s.str"), bstr(b, "value-%d", t));
			a[1].key = tu_cstr("s.int");
			a[1].value.type = MX_VAL_INT;
			a[1].value.u.i = int_of(t);
			a[2].key = tu_cstr("s.dbl");
			a[2].value.type = MX_VAL_DOUBLE;
			a[2].value.u.d = dbl_of(t);
			a[3].key = bstr(b, "flag.%d", t);
			a[3].value.type = MX_VAL_BOOL;
			a[3].value.u.b = t % 2;
			a[4].key = bstr(b, "blob.%d", t);
			a[4].value.type = MX_VAL_BYTES;
			a[4].value.u.s = tu_cstr("\x01\x02");
			a[5].key = bstr(b, "list.%d", t);
			a[5].value.type = MX_VAL_ARRAY;
			a[6].key = tu_cstr("s.special");
			a[6].value.type = MX_VAL_DOUBLE;
			a[6].value.u.d = t == 5 ? NAN : t == 6 ? INFINITY : t == 7 ? -INFINITY
					: t == 8 ? -0.0 : 0.5;
			s->attrs = (struct mx_attrs){ a, 7 };
			struct mx_event *e = mx_arena_calloc(&b->arena, 1, sizeof(*e));
			e->name = bstr(b, "event-%d", t);
			e->time_ns = s->start_ns + 1;
			s->events = e;
			s->n_events = 1;
		}
	}
	return b;
}

static void submit(struct tu_fixture *f, struct mx_batch *b)
{
	struct tu_acks a = TU_ACKS_INIT;
	int rc = mx_store_submit(f->st, b, tu_ack_cb, &a);
	if (rc != MX_OK) {
		mx_batch_free(b);
		fail_msg("submit: %s", mx_strerror(rc));
	}
	assert_true(tu_acks_wait(&a, 1, 20));
	assert_int_equal(a.n_ok, 1);
}

static void load(struct tu_fixture *f)
{
	for (int first = 0; first < N_TRACES; first += PER_BATCH)
		submit(f, make_batch(first));
}

static void base_query(struct mx_search_query *q, struct mx_tag_cond *c)
{
	memset(q, 0, sizeof(*q));
	q->service = tu_cstr("svc");
	q->kind = -1;
	q->limit = 1000;
	q->start_min_ns = T0 - SEC;
	q->start_max_ns = T0 + 1000 * SEC;
	q->tags = c;
	q->n_tags = 1;
}

/* Runs q; the answer must be exactly the traces of `want` (-1 ends it,
 * newest first). Returns the result's counters through *decoded and
 * *filtered. */
static void expect(struct tu_fixture *f, const struct mx_search_query *q, const int *want,
		   uint32_t *decoded, uint32_t *filtered, int line)
{
	struct mx_search_result r;
	int rc = mx_store_search(f->st, q, &r);
	if (rc != MX_OK)
		fail_msg("line %d: search: %s", line, mx_strerror(rc));
	uint32_t n = 0;
	while (want[n] >= 0)
		n++;
	bool ok = r.n == n && !r.truncated;
	for (uint32_t i = 0; ok && i < n; i++)
		ok = trace_no(r.traces[i]) == want[i];
	if (!ok) {
		int first = r.n ? trace_no(r.traces[0]) : -1;
		uint32_t got = r.n;
		mx_search_result_free(&r);
		fail_msg("line %d: %u traces (first %d), want %u (first %d)", line, got,
			 first, n, n ? want[0] : -1);
	}
	if (decoded)
		*decoded = r.segments_decoded;
	if (filtered)
		*filtered = r.segments_filtered;
	mx_search_result_free(&r);
}

/* The answer must be trace t alone. */
static void expect_one(struct tu_fixture *f, struct mx_search_query *q, int t, int line)
{
	int want[2] = { t, -1 };
	expect(f, q, want, NULL, NULL, line);
}

/* --------------------------------------------------------------- tests */

static void test_no_match_reads_no_segment(void **state)
{
	struct tu_fixture *f = *state;
	struct mx_search_query q;
	struct mx_tag_cond c = { tu_cstr("s.str"), tu_cstr("no such value"), MX_TAG_EQ };
	static const int none[] = { -1 };
	uint32_t dec, filt, total_dec = 0;
	load(f);

	const struct mx_tag_cond conds[] = {
		{ tu_cstr("s.str"), tu_cstr("no such value"), MX_TAG_EQ },
		{ tu_cstr("s.int"), tu_cstr("404"), MX_TAG_EQ },
		{ tu_cstr("s.dbl"), tu_cstr("3.75"), MX_TAG_EQ },
		{ tu_cstr("nobody.has.this.key"), tu_cstr("x"), MX_TAG_EQ },
		{ tu_cstr("nothing-by-this-name"), tu_cstr(""), MX_TAG_WORD },
		{ tu_cstr("span.kind"), tu_cstr("producer"), MX_TAG_EQ },
	};
	for (size_t i = 0; i < sizeof(conds) / sizeof(conds[0]); i++) {
		base_query(&q, &c);
		c = conds[i];
		q.tags_match_resource = true;
		expect(f, &q, none, &dec, &filt, __LINE__);
		/* every record was looked at, by its filter alone or read */
		assert_int_equal(dec + filt, N_TRACES);
		total_dec += dec;
	}
	/* false positives cost reads, a few percent of the records */
	if (total_dec > 6 * N_TRACES / 20)
		fail_msg("%u of %u records read", total_dec, 6 * N_TRACES);

	/* a tag that matches: the reads stop at the hit */
	base_query(&q, &c);
	c = (struct mx_tag_cond){ tu_cstr("s.str"), tu_cstr("value-40"), MX_TAG_EQ };
	expect_one(f, &q, 40, __LINE__);
	/* without tag conditions no filter is consulted */
	base_query(&q, NULL);
	q.n_tags = 0;
	q.limit = 1;
	int newest[] = { N_TRACES - 1, -1 };
	expect(f, &q, newest, &dec, &filt, __LINE__);
	assert_int_equal(dec, 1);
	assert_int_equal(filt, 0);
}

/* Renders the double of trace t as the matcher compares it (%.15g .. %.17g,
 * the shortest that reads back). */
static void dbl_text(double d, char *out, size_t n)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, n, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			return;
	}
}

static void test_no_false_negatives(void **state)
{
	struct tu_fixture *f = *state;
	struct mx_search_query q;
	struct mx_tag_cond c;
	char v[64], k[64];
	load(f);

	for (int t = 0; t < N_TRACES; t++) {
		base_query(&q, &c);
		snprintf(v, sizeof(v), "value-%d", t);
		c = (struct mx_tag_cond){ tu_cstr("s.str"), tu_cstr(v), MX_TAG_EQ };
		expect_one(f, &q, t, __LINE__);
		snprintf(v, sizeof(v), "%lld", (long long)int_of(t));
		c = (struct mx_tag_cond){ tu_cstr("s.int"), tu_cstr(v), MX_TAG_EQ };
		expect_one(f, &q, t, __LINE__);
		dbl_text(dbl_of(t), v, sizeof(v));
		c = (struct mx_tag_cond){ tu_cstr("s.dbl"), tu_cstr(v), MX_TAG_EQ };
		expect_one(f, &q, t, __LINE__);
		snprintf(k, sizeof(k), "flag.%d", t);
		c = (struct mx_tag_cond){ tu_cstr(k), tu_cstr(t % 2 ? "true" : "false"), MX_TAG_EQ };
		expect_one(f, &q, t, __LINE__);
		/* bare words: an event name, keys of any value type */
		snprintf(k, sizeof(k), "event-%d", t);
		c = (struct mx_tag_cond){ tu_cstr(k), tu_cstr(""), MX_TAG_WORD };
		expect_one(f, &q, t, __LINE__);
		snprintf(k, sizeof(k), "blob.%d", t);
		c.key = tu_cstr(k);
		expect_one(f, &q, t, __LINE__);
		snprintf(k, sizeof(k), "list.%d", t);
		c.key = tu_cstr(k);
		expect_one(f, &q, t, __LINE__);
		/* a resource attribute, only when asked */
		snprintf(v, sizeof(v), "host-%d", t);
		c = (struct mx_tag_cond){ tu_cstr("host.name"), tu_cstr(v), MX_TAG_EQ };
		q.tags_match_resource = true;
		expect_one(f, &q, t, __LINE__);
	}
	/* the texts of special doubles */
	static const char *const special[] = { "NaN", "Inf", "-Inf", "-0" };
	for (int t = 5; t <= 8; t++) {
		base_query(&q, &c);
		c = (struct mx_tag_cond){ tu_cstr("s.special"), tu_cstr(special[t - 5]), MX_TAG_EQ };
		expect_one(f, &q, t, __LINE__);
	}
	/* what the text of a value is not does not match */
	static const int none[] = { -1 };
	base_query(&q, &c);
	c = (struct mx_tag_cond){ tu_cstr("s.dbl"), tu_cstr("8000.0"), MX_TAG_EQ };
	expect(f, &q, none, NULL, NULL, __LINE__);
	c = (struct mx_tag_cond){ tu_cstr("s.special"), tu_cstr("0"), MX_TAG_EQ };
	expect(f, &q, none, NULL, NULL, __LINE__);
	c = (struct mx_tag_cond){ tu_cstr("host.name"), tu_cstr("host-3"), MX_TAG_EQ };
	expect(f, &q, none, NULL, NULL, __LINE__); /* resource: not asked */
}

static void test_derived_tags(void **state)
{
	struct tu_fixture *f = *state;
	struct mx_search_query q;
	struct mx_tag_cond c;
	int err[N_TRACES + 1], ok[N_TRACES + 1], all[N_TRACES + 1];
	int n_err = 0, n_ok = 0;
	load(f);
	for (int t = N_TRACES - 1; t >= 0; t--) {
		all[N_TRACES - 1 - t] = t;
		if (t % 3 == 0)
			err[n_err++] = t;
		else
			ok[n_ok++] = t;
	}
	err[n_err] = ok[n_ok] = all[N_TRACES] = -1;

	base_query(&q, &c);
	c = (struct mx_tag_cond){ tu_cstr("error"), tu_cstr("true"), MX_TAG_EQ };
	expect(f, &q, err, NULL, NULL, __LINE__);
	c = (struct mx_tag_cond){ tu_cstr("error"), tu_cstr(""), MX_TAG_WORD };
	expect(f, &q, err, NULL, NULL, __LINE__);
	c = (struct mx_tag_cond){ tu_cstr("otel.status_code"), tu_cstr("ERROR"), MX_TAG_EQ };
	expect(f, &q, err, NULL, NULL, __LINE__);
	c = (struct mx_tag_cond){ tu_cstr("otel.status_code"), tu_cstr("OK"), MX_TAG_EQ };
	expect(f, &q, ok, NULL, NULL, __LINE__);
	c = (struct mx_tag_cond){ tu_cstr("span.kind"), tu_cstr("client"), MX_TAG_EQ };
	expect(f, &q, all, NULL, NULL, __LINE__);
	c = (struct mx_tag_cond){ tu_cstr("span.kind"), tu_cstr("server"), MX_TAG_EQ };
	expect(f, &q, all, NULL, NULL, __LINE__);

	/* two conditions, both in the filter, met by different spans: the
	 * filter lets the record through, the spans decide */
	struct mx_tag_cond two[2] = {
		{ tu_cstr("span.kind"), tu_cstr("client"), MX_TAG_EQ },
		{ tu_cstr("s.str"), tu_cstr("value-7"), MX_TAG_EQ },
	};
	base_query(&q, two);
	q.n_tags = 2;
	static const int none[] = { -1 };
	uint32_t dec;
	expect(f, &q, none, &dec, NULL, __LINE__);
	assert_true(dec >= 1);
	two[0].value = tu_cstr("server");
	expect_one(f, &q, 7, __LINE__);
}

/* A segment of one span with n attributes wide.<i> = w-<i>, trace t. */
static void submit_wide(struct tu_fixture *f, int t, int n)
{
	struct mx_batch *b = mx_batch_new(4 << 20);
	struct mx_scope *sc = mx_arena_calloc(&b->arena, 1, sizeof(*sc));
	struct mx_resource *r = mx_arena_calloc(&b->arena, 1, sizeof(*r));
	struct mx_attr *ra = mx_arena_calloc(&b->arena, 1, sizeof(*ra));
	attr_str(ra, tu_cstr("service.name"), tu_cstr("svc"));
	r->attrs = (struct mx_attrs){ ra, 1 };
	b->received_ns = T0;
	struct mx_span *s = mx_batch_add_span(b);
	set_trace(s, t, 0);
	s->name = tu_cstr("wide");
	s->start_ns = T0 + (uint64_t)t * SEC;
	s->end_ns = s->start_ns + 10;
	s->resource = r;
	s->scope = sc;
	struct mx_attr *a = mx_arena_calloc(&b->arena, (size_t)n, sizeof(*a));
	for (int i = 0; i < n; i++)
		attr_str(&a[i], bstr(b, "wide.%d", i), bstr(b, "w-%d", i));
	s->attrs = (struct mx_attrs){ a, (uint32_t)n };
	submit(f, b);
}

/* One span with WIDE_ATTRS attributes (more items than a filter holds:
 * its record has none) and one with 200 (400 items: a filter of 64 words,
 * folded from 128) among ordinary segments. */
static void test_past_the_cap(void **state)
{
	struct tu_fixture *f = *state;
	struct mx_search_query q;
	struct mx_tag_cond c;
	uint32_t dec, filt;
	char k[32], v[32];
	load(f);
	submit_wide(f, 500, WIDE_ATTRS);
	submit_wide(f, 400, 200);

	base_query(&q, &c);
	q.start_max_ns = T0 + 450 * SEC;
	for (int i = 0; i < 200; i++) {
		snprintf(k, sizeof(k), "wide.%d", i);
		snprintf(v, sizeof(v), "w-%d", i);
		c = (struct mx_tag_cond){ tu_cstr(k), tu_cstr(v), MX_TAG_EQ };
		expect_one(f, &q, 400, __LINE__);
	}

	base_query(&q, &c);
	c = (struct mx_tag_cond){ tu_cstr("wide.599"), tu_cstr("w-599"), MX_TAG_EQ };
	expect_one(f, &q, 500, __LINE__);
	c = (struct mx_tag_cond){ tu_cstr("wide.300"), tu_cstr(""), MX_TAG_WORD };
	expect_one(f, &q, 500, __LINE__);
	c.key = tu_cstr("wide.0");
	static const int both[] = { 500, 400, -1 };
	expect(f, &q, both, NULL, NULL, __LINE__);
	/* no match: the wide record (no filter) is always read */
	c = (struct mx_tag_cond){ tu_cstr("wide.0"), tu_cstr("nope"), MX_TAG_EQ };
	static const int none[] = { -1 };
	expect(f, &q, none, &dec, &filt, __LINE__);
	assert_int_equal(dec + filt, N_TRACES + 2);
	assert_true(dec >= 1);
	assert_true(filt >= N_TRACES * 3 / 4);
	/* the ordinary records are still found */
	c = (struct mx_tag_cond){ tu_cstr("s.str"), tu_cstr("value-3"), MX_TAG_EQ };
	expect_one(f, &q, 3, __LINE__);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_match_reads_no_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_false_negatives, setup, teardown),
		cmocka_unit_test_setup_teardown(test_derived_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_past_the_cap, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
