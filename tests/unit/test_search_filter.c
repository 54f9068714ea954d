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
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/error.h"
#include "model/span.h"
#include "storage/search.h"
#include "storage/store.h"

#define N_TRACES 96
#define PER_BATCH 16
#define T0 1700000000000000000ull
#define SEC 1000000000ull
#define WIDE_ATTRS 600 /* 1200 items: past the filter's cap */

/* ------------------------------------------------------------ helpers */

static void rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char path[512];
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

struct acks {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n, n_ok;
};

static void ack_cb(void *ctx, int status)
{
	struct acks *a = ctx;
	pthread_mutex_lock(&a->mu);
	a->n++;
	if (status == MX_OK)
		a->n_ok++;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

/* Waits at most 20 s for n callbacks. */
static bool acks_wait(struct acks *a, int n)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 20;
	pthread_mutex_lock(&a->mu);
	int rc = 0;
	while (rc == 0 && a->n < n)
		rc = pthread_cond_timedwait(&a->cv, &a->mu, &dl);
	bool ok = a->n >= n;
	pthread_mutex_unlock(&a->mu);
	return ok;
}

struct fixture {
	char dir[64];
	struct mx_store *st;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct mx_store_config cfg;
	char err[256] = "";
	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/mixd-test-filter-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	mx_store_config_default(&cfg);
	cfg.path = f->dir;
	cfg.max_size = 64u << 20;
	cfg.sync = MX_SYNC_NONE;
	if (mx_store_open(&cfg, &f->st, err, sizeof(err)) != MX_OK) {
		fprintf(stderr, "open: %s\n", err);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	mx_store_close(f->st);
	rm_rf(f->dir);
	free(f);
	return 0;
}

static struct mx_str cstr(const char *s)
{
	return (struct mx_str){ s, (uint32_t)strlen(s) };
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
		attr_str(&ra[0], cstr("service.name"), cstr("svc"));
		attr_str(&ra[1], cstr("host.name"), bstr(b, "host-%d", t));
		r->attrs = (struct mx_attrs){ ra, 2 };
		for (int k = 0; k < 2; k++) {
			struct mx_span *s = mx_batch_add_span(b);
			set_trace(s, t, k);
			s->name = cstr(k ? "call" : "handle");
			s->kind = k ? MX_KIND_CLIENT : MX_KIND_SERVER;
			s->status_code = t % 3 == 0 ? MX_STATUS_ERROR : MX_STATUS_OK;
			s->start_ns = T0 + (uint64_t)t * SEC + (uint64_t)k * 1000;
			s->end_ns = s->start_ns + 5000;
			s->resource = r;
			s->scope = sc;
			if (k)
				continue;
			struct mx_attr *a = mx_arena_calloc(&b->arena, 7, sizeof(*a));
			attr_str(&a[0], cstr("s.str"), bstr(b, "value-%d", t));
			a[1].key = cstr("s.int");
			a[1].value.type = MX_VAL_INT;
			a[1].value.u.i = int_of(t);
			a[2].key = cstr("s.dbl");
			a[2].value.type = MX_VAL_DOUBLE;
			a[2].value.u.d = dbl_of(t);
			a[3].key = bstr(b, "flag.%d", t);
			a[3].value.type = MX_VAL_BOOL;
			a[3].value.u.b = t % 2;
			a[4].key = bstr(b, "blob.%d", t);
			a[4].value.type = MX_VAL_BYTES;
			a[4].value.u.s = cstr("\x01\x02");
			a[5].key = bstr(b, "list.%d", t);
			a[5].value.type = MX_VAL_ARRAY;
			a[6].key = cstr("s.special");
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

static void submit(struct fixture *f, struct mx_batch *b)
{
	struct acks a = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };
	int rc = mx_store_submit(f->st, b, ack_cb, &a);
	if (rc != MX_OK) {
		mx_batch_free(b);
		fail_msg("submit: %s", mx_strerror(rc));
	}
	assert_true(acks_wait(&a, 1));
	assert_int_equal(a.n_ok, 1);
}

static void load(struct fixture *f)
{
	for (int first = 0; first < N_TRACES; first += PER_BATCH)
		submit(f, make_batch(first));
}

static void base_query(struct mx_search_query *q, struct mx_tag_cond *c)
{
	memset(q, 0, sizeof(*q));
	q->service = cstr("svc");
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
static void expect(struct fixture *f, const struct mx_search_query *q, const int *want,
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
static void expect_one(struct fixture *f, struct mx_search_query *q, int t, int line)
{
	int want[2] = { t, -1 };
	expect(f, q, want, NULL, NULL, line);
}

/* --------------------------------------------------------------- tests */

static void test_no_match_reads_no_segment(void **state)
{
	struct fixture *f = *state;
	struct mx_search_query q;
	struct mx_tag_cond c = { cstr("s.str"), cstr("no such value"), MX_TAG_EQ };
	static const int none[] = { -1 };
	uint32_t dec, filt, total_dec = 0;
	load(f);

	const struct mx_tag_cond conds[] = {
		{ cstr("s.str"), cstr("no such value"), MX_TAG_EQ },
		{ cstr("s.int"), cstr("404"), MX_TAG_EQ },
		{ cstr("s.dbl"), cstr("3.75"), MX_TAG_EQ },
		{ cstr("nobody.has.this.key"), cstr("x"), MX_TAG_EQ },
		{ cstr("nothing-by-this-name"), cstr(""), MX_TAG_WORD },
		{ cstr("span.kind"), cstr("producer"), MX_TAG_EQ },
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
	c = (struct mx_tag_cond){ cstr("s.str"), cstr("value-40"), MX_TAG_EQ };
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
	struct fixture *f = *state;
	struct mx_search_query q;
	struct mx_tag_cond c;
	char v[64], k[64];
	load(f);

	for (int t = 0; t < N_TRACES; t++) {
		base_query(&q, &c);
		snprintf(v, sizeof(v), "value-%d", t);
		c = (struct mx_tag_cond){ cstr("s.str"), cstr(v), MX_TAG_EQ };
		expect_one(f, &q, t, __LINE__);
		snprintf(v, sizeof(v), "%lld", (long long)int_of(t));
		c = (struct mx_tag_cond){ cstr("s.int"), cstr(v), MX_TAG_EQ };
		expect_one(f, &q, t, __LINE__);
		dbl_text(dbl_of(t), v, sizeof(v));
		c = (struct mx_tag_cond){ cstr("s.dbl"), cstr(v), MX_TAG_EQ };
		expect_one(f, &q, t, __LINE__);
		snprintf(k, sizeof(k), "flag.%d", t);
		c = (struct mx_tag_cond){ cstr(k), cstr(t % 2 ? "true" : "false"), MX_TAG_EQ };
		expect_one(f, &q, t, __LINE__);
		/* bare words: an event name, keys of any value type */
		snprintf(k, sizeof(k), "event-%d", t);
		c = (struct mx_tag_cond){ cstr(k), cstr(""), MX_TAG_WORD };
		expect_one(f, &q, t, __LINE__);
		snprintf(k, sizeof(k), "blob.%d", t);
		c.key = cstr(k);
		expect_one(f, &q, t, __LINE__);
		snprintf(k, sizeof(k), "list.%d", t);
		c.key = cstr(k);
		expect_one(f, &q, t, __LINE__);
		/* a resource attribute, only when asked */
		snprintf(v, sizeof(v), "host-%d", t);
		c = (struct mx_tag_cond){ cstr("host.name"), cstr(v), MX_TAG_EQ };
		q.tags_match_resource = true;
		expect_one(f, &q, t, __LINE__);
	}
	/* the texts of special doubles */
	static const char *const special[] = { "NaN", "Inf", "-Inf", "-0" };
	for (int t = 5; t <= 8; t++) {
		base_query(&q, &c);
		c = (struct mx_tag_cond){ cstr("s.special"), cstr(special[t - 5]), MX_TAG_EQ };
		expect_one(f, &q, t, __LINE__);
	}
	/* what the text of a value is not does not match */
	static const int none[] = { -1 };
	base_query(&q, &c);
	c = (struct mx_tag_cond){ cstr("s.dbl"), cstr("8000.0"), MX_TAG_EQ };
	expect(f, &q, none, NULL, NULL, __LINE__);
	c = (struct mx_tag_cond){ cstr("s.special"), cstr("0"), MX_TAG_EQ };
	expect(f, &q, none, NULL, NULL, __LINE__);
	c = (struct mx_tag_cond){ cstr("host.name"), cstr("host-3"), MX_TAG_EQ };
	expect(f, &q, none, NULL, NULL, __LINE__); /* resource: not asked */
}

static void test_derived_tags(void **state)
{
	struct fixture *f = *state;
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
	c = (struct mx_tag_cond){ cstr("error"), cstr("true"), MX_TAG_EQ };
	expect(f, &q, err, NULL, NULL, __LINE__);
	c = (struct mx_tag_cond){ cstr("error"), cstr(""), MX_TAG_WORD };
	expect(f, &q, err, NULL, NULL, __LINE__);
	c = (struct mx_tag_cond){ cstr("otel.status_code"), cstr("ERROR"), MX_TAG_EQ };
	expect(f, &q, err, NULL, NULL, __LINE__);
	c = (struct mx_tag_cond){ cstr("otel.status_code"), cstr("OK"), MX_TAG_EQ };
	expect(f, &q, ok, NULL, NULL, __LINE__);
	c = (struct mx_tag_cond){ cstr("span.kind"), cstr("client"), MX_TAG_EQ };
	expect(f, &q, all, NULL, NULL, __LINE__);
	c = (struct mx_tag_cond){ cstr("span.kind"), cstr("server"), MX_TAG_EQ };
	expect(f, &q, all, NULL, NULL, __LINE__);

	/* two conditions, both in the filter, met by different spans: the
	 * filter lets the record through, the spans decide */
	struct mx_tag_cond two[2] = {
		{ cstr("span.kind"), cstr("client"), MX_TAG_EQ },
		{ cstr("s.str"), cstr("value-7"), MX_TAG_EQ },
	};
	base_query(&q, two);
	q.n_tags = 2;
	static const int none[] = { -1 };
	uint32_t dec;
	expect(f, &q, none, &dec, NULL, __LINE__);
	assert_true(dec >= 1);
	two[0].value = cstr("server");
	expect_one(f, &q, 7, __LINE__);
}

/* A segment of one span with n attributes wide.<i> = w-<i>, trace t. */
static void submit_wide(struct fixture *f, int t, int n)
{
	struct mx_batch *b = mx_batch_new(4 << 20);
	struct mx_scope *sc = mx_arena_calloc(&b->arena, 1, sizeof(*sc));
	struct mx_resource *r = mx_arena_calloc(&b->arena, 1, sizeof(*r));
	struct mx_attr *ra = mx_arena_calloc(&b->arena, 1, sizeof(*ra));
	attr_str(ra, cstr("service.name"), cstr("svc"));
	r->attrs = (struct mx_attrs){ ra, 1 };
	b->received_ns = T0;
	struct mx_span *s = mx_batch_add_span(b);
	set_trace(s, t, 0);
	s->name = cstr("wide");
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
	struct fixture *f = *state;
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
		c = (struct mx_tag_cond){ cstr(k), cstr(v), MX_TAG_EQ };
		expect_one(f, &q, 400, __LINE__);
	}

	base_query(&q, &c);
	c = (struct mx_tag_cond){ cstr("wide.599"), cstr("w-599"), MX_TAG_EQ };
	expect_one(f, &q, 500, __LINE__);
	c = (struct mx_tag_cond){ cstr("wide.300"), cstr(""), MX_TAG_WORD };
	expect_one(f, &q, 500, __LINE__);
	c.key = cstr("wide.0");
	static const int both[] = { 500, 400, -1 };
	expect(f, &q, both, NULL, NULL, __LINE__);
	/* no match: the wide record (no filter) is always read */
	c = (struct mx_tag_cond){ cstr("wide.0"), cstr("nope"), MX_TAG_EQ };
	static const int none[] = { -1 };
	expect(f, &q, none, &dec, &filt, __LINE__);
	assert_int_equal(dec + filt, N_TRACES + 2);
	assert_true(dec >= 1);
	assert_true(filt >= N_TRACES * 3 / 4);
	/* the ordinary records are still found */
	c = (struct mx_tag_cond){ cstr("s.str"), cstr("value-3"), MX_TAG_EQ };
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
