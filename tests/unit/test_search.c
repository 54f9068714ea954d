/*
 * test_search.c - trace search and the name lists (storage/search.h) on a
 * real store in a temporary directory.
 *
 * The data set: 60 traces t = 0..59 starting one second apart. Each trace
 * has an `api` SERVER span (name "GET /a" for even t, "POST /a" for odd t;
 * duration t + 1 ms; http.method, http.status_code 500 when t % 5 == 0
 * else 200, cache.hit true when t % 3 == 0, an event "retry" when t % 4 ==
 * 0, status ERROR when t % 7 == 0), an `api` CLIENT span "call db" (50 us;
 * remote endpoint `db` for even t, attribute peer.service=db-replica for odd
 * t), a `db` SERVER span "query" (t * 10 us, attribute db.system=sql) and,
 * when t % 10 == 0, a `web` INTERNAL span "render". The api spans of ten
 * traces go in one batch, the db and web spans of the same traces in the
 * next, so every trace is split over two batches and every batch holds ten
 * traces. Resources carry env=prod (api) and env=dev (db, web).
 *
 * Every check compares the exact list of traces (by t, in order) with the
 * list the condition on t gives, newest (highest t) first.
 */
#include "storage/search.h"
#include "store_test_util.h"

#define N_TRACES 60
#define T0 1700000000000000000ull
#define SEC 1000000000ull
#define MS 1000000ull
#define US 1000ull
#define TRACE_HI 0x77ull

/* ------------------------------------------------------------ helpers */

static int setup(void **state)
{
	struct tu_fixture *f = tu_fixture_new("/tmp/mixd-test-search-XXXXXX");
	if (!f)
		return -1;
	f->cfg.sync = MX_SYNC_NONE;
	f->cfg.autocomplete_keys = " http.method ,http.status_code,,http.method";
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	tu_fixture_free(*state);
	return 0;
}

static struct mx_str bstr(struct mx_batch *b, const char *s)
{
	return mx_batch_str(b, s, strlen(s));
}

static const struct mx_resource *make_res(struct mx_batch *b, const char *svc,
					  const char *env)
{
	struct mx_resource *r = mx_arena_calloc(&b->arena, 1, sizeof(*r));
	struct mx_attr *a = mx_arena_calloc(&b->arena, 2, sizeof(*a));
	a[0].key = bstr(b, "service.name");
	a[0].value.type = MX_VAL_STRING;
	a[0].value.u.s = bstr(b, svc);
	a[1].key = bstr(b, "env");
	a[1].value.type = MX_VAL_STRING;
	a[1].value.u.s = bstr(b, env);
	r->attrs = (struct mx_attrs){ a, 2 };
	return r;
}

static struct mx_span *add_span(struct mx_batch *b, const struct mx_resource *r,
				const struct mx_scope *sc, int t, int k,
				const char *name, uint8_t kind, uint64_t start,
				uint64_t dur)
{
	struct mx_span *s = mx_batch_add_span(b);
	uint64_t sid = (uint64_t)t * 10 + (uint64_t)k + 1;
	for (int i = 0; i < 8; i++) {
		s->trace_id[i] = (uint8_t)(TRACE_HI >> (56 - 8 * i));
		s->trace_id[8 + i] = (uint8_t)((uint64_t)(t + 1) >> (56 - 8 * i));
		s->span_id[i] = (uint8_t)(sid >> (56 - 8 * i));
	}
	if (k > 0)
		s->parent_span_id[7] = (uint8_t)(t * 10 + 1);
	s->name = bstr(b, name);
	s->kind = kind;
	s->start_ns = start;
	s->end_ns = start + dur;
	s->resource = r;
	s->scope = sc;
	return s;
}

static uint64_t trace_start(int t)
{
	return T0 + (uint64_t)t * SEC;
}

/* The api spans of traces first..first+9, in reverse trace order. */
static struct mx_batch *api_batch(int first)
{
	struct mx_batch *b = mx_batch_new(1 << 20);
	const struct mx_resource *r = make_res(b, "api", "prod");
	struct mx_scope *sc = mx_arena_calloc(&b->arena, 1, sizeof(*sc));
	b->received_ns = T0;
	for (int t = first + 9; t >= first; t--) {
		struct mx_span *s = add_span(b, r, sc, t, 0, t % 2 ? "POST /a" : "GET /a",
					     MX_KIND_SERVER, trace_start(t),
					     (uint64_t)(t + 1) * MS);
		struct mx_attr *a = mx_arena_calloc(&b->arena, 3, sizeof(*a));
		a[0].key = bstr(b, "http.method");
		a[0].value.type = MX_VAL_STRING;
		a[0].value.u.s = bstr(b, t % 2 ? "POST" : "GET");
		a[1].key = bstr(b, "http.status_code");
		a[1].value.type = MX_VAL_INT;
		a[1].value.u.i = t % 5 == 0 ? 500 : 200;
		a[2].key = bstr(b, "cache.hit");
		a[2].value.type = MX_VAL_BOOL;
		a[2].value.u.b = t % 3 == 0;
		s->attrs = (struct mx_attrs){ a, 3 };
		if (t % 4 == 0) {
			struct mx_event *e = mx_arena_calloc(&b->arena, 1, sizeof(*e));
			e->name = bstr(b, "retry");
			e->time_ns = s->start_ns + 10;
			s->events = e;
			s->n_events = 1;
		}
		if (t % 7 == 0)
			s->status_code = MX_STATUS_ERROR;

		s = add_span(b, r, sc, t, 1, "call db", MX_KIND_CLIENT,
			     trace_start(t) + 100 * US, 50 * US);
		if (t % 2 == 0) {
			s->remote.service_name = bstr(b, "db");
		} else {
			a = mx_arena_calloc(&b->arena, 1, sizeof(*a));
			a->key = bstr(b, "peer.service");
			a->value.type = MX_VAL_STRING;
			a->value.u.s = bstr(b, "db-replica");
			s->attrs = (struct mx_attrs){ a, 1 };
		}
	}
	return b;
}

/* The db (and web) spans of traces first..first+9. */
static struct mx_batch *db_batch(int first)
{
	struct mx_batch *b = mx_batch_new(1 << 20);
	const struct mx_resource *db = make_res(b, "db", "dev");
	const struct mx_resource *web = make_res(b, "web", "dev");
	struct mx_scope *sc = mx_arena_calloc(&b->arena, 1, sizeof(*sc));
	b->received_ns = T0;
	for (int t = first; t < first + 10; t++) {
		struct mx_span *s = add_span(b, db, sc, t, 2, "query", MX_KIND_SERVER,
					     trace_start(t) + 200 * US,
					     (uint64_t)t * 10 * US);
		struct mx_attr *a = mx_arena_calloc(&b->arena, 1, sizeof(*a));
		a->key = bstr(b, "db.system");
		a->value.type = MX_VAL_STRING;
		a->value.u.s = bstr(b, "sql");
		s->attrs = (struct mx_attrs){ a, 1 };
		if (t % 10 == 0)
			add_span(b, web, sc, t, 3, "render", MX_KIND_INTERNAL,
				 trace_start(t) + 300 * US, 1 * US);
	}
	return b;
}

static void load(struct tu_fixture *f)
{
	struct tu_acks a = TU_ACKS_INIT;
	int n = 0;
	for (int first = 0; first < N_TRACES; first += 10) {
		struct mx_batch *b[2] = { api_batch(first), db_batch(first) };
		for (int i = 0; i < 2; i++, n++) {
			int rc = mx_store_submit(f->st, b[i], tu_ack_cb, &a);
			if (rc != MX_OK) {
				mx_batch_free(b[i]);
				fail_msg("submit: %s", mx_strerror(rc));
			}
		}
	}
	assert_true(tu_acks_wait(&a, n, 20));
	assert_int_equal(a.n_ok, n);
}

static void base_query(struct mx_search_query *q, const char *svc)
{
	memset(q, 0, sizeof(*q));
	q->service = tu_cstr(svc);
	q->kind = -1;
	q->limit = 1000;
	q->start_min_ns = T0 - SEC;
	q->start_max_ns = T0 + 100 * SEC;
}

static int trace_no(const struct mx_batch *b)
{
	assert_true(b->n_spans > 0);
	const uint8_t *id = b->spans[0].trace_id;
	uint64_t lo = 0;
	for (int i = 8; i < 16; i++)
		lo = (lo << 8) | id[i];
	assert_int_equal(id[7], TRACE_HI);
	return (int)lo - 1;
}

/* Runs q and checks the result is exactly the traces t (newest first) for
 * which want[t], at most limit of them, each whole. */
static void check(struct tu_fixture *f, const struct mx_search_query *q,
		  const bool *want, bool truncated, int line)
{
	struct mx_search_result r;
	int rc = mx_store_search(f->st, q, &r);
	if (rc != MX_OK)
		fail_msg("line %d: search: %s", line, mx_strerror(rc));
	uint32_t limit = q->limit ? q->limit : 20;
	int exp[N_TRACES], n_exp = 0;
	for (int t = N_TRACES - 1; t >= 0 && (uint32_t)n_exp < limit; t--)
		if (want[t])
			exp[n_exp++] = t;
	char got_s[512] = "", exp_s[512] = "";
	for (uint32_t i = 0; i < r.n; i++)
		snprintf(got_s + strlen(got_s), sizeof(got_s) - strlen(got_s), " %d",
			 trace_no(r.traces[i]));
	for (int i = 0; i < n_exp; i++)
		snprintf(exp_s + strlen(exp_s), sizeof(exp_s) - strlen(exp_s), " %d",
			 exp[i]);
	if (strcmp(got_s, exp_s) != 0 || r.truncated != truncated) {
		mx_search_result_free(&r);
		fail_msg("line %d: got [%s ] truncated=%d, want [%s ] truncated=%d",
			 line, got_s, r.truncated, exp_s, truncated);
	}
	for (uint32_t i = 0; i < r.n; i++) {
		int t = trace_no(r.traces[i]);
		assert_int_equal(r.traces[i]->n_spans, t % 10 == 0 ? 4 : 3);
	}
	mx_search_result_free(&r);
}

/* want[t] = cond, for every t */
#define WANT(cond)                                   \
	do {                                         \
		for (int t = 0; t < N_TRACES; t++)   \
			want[t] = (cond);            \
	} while (0)
#define CHECK(q, cond) \
	do { WANT(cond); check(f, q, want, false, __LINE__); } while (0)

/* --------------------------------------------------------------- tests */

static void test_search_service_op_kind(void **state)
{
	struct tu_fixture *f = *state;
	struct mx_search_query q;
	bool want[N_TRACES];
	tu_open_store(f);
	load(f);

	base_query(&q, "api");
	CHECK(&q, true);
	base_query(&q, "db");
	CHECK(&q, true);
	base_query(&q, "web");
	CHECK(&q, t % 10 == 0);
	base_query(&q, "nobody");
	CHECK(&q, false);

	base_query(&q, "api");
	q.operation = tu_cstr("GET /a");
	CHECK(&q, t % 2 == 0);
	q.operation = tu_cstr("POST /a");
	CHECK(&q, t % 2 == 1);
	q.operation = tu_cstr("query"); /* db's operation, not api's */
	CHECK(&q, false);
	q.operation = tu_cstr("never seen");
	CHECK(&q, false);

	base_query(&q, "api");
	q.kind = MX_KIND_CLIENT;
	CHECK(&q, true);
	q.operation = tu_cstr("GET /a"); /* a SERVER span */
	CHECK(&q, false);
	base_query(&q, "db");
	q.kind = MX_KIND_CLIENT;
	CHECK(&q, false);

	/* no service: the idx_time path, the operation checked per span */
	base_query(&q, "");
	CHECK(&q, true);
	q.operation = tu_cstr("render");
	CHECK(&q, t % 10 == 0);
	q.operation = tu_cstr("query");
	q.kind = MX_KIND_SERVER;
	CHECK(&q, true);
	q.kind = MX_KIND_INTERNAL;
	CHECK(&q, false);
}

static void test_search_tags(void **state)
{
	struct tu_fixture *f = *state;
	struct mx_search_query q;
	bool want[N_TRACES];
	struct mx_tag_cond c[2];
	tu_open_store(f);
	load(f);

	memset(c, 0, sizeof(c));
	base_query(&q, "api");
	q.tags = c;
	q.n_tags = 1;
	c[0] = (struct mx_tag_cond){ tu_cstr("http.status_code"), tu_cstr("500"), MX_TAG_EQ };
	CHECK(&q, t % 5 == 0);
	c[0].value = tu_cstr("200");
	CHECK(&q, t % 5 != 0);
	c[0] = (struct mx_tag_cond){ tu_cstr("cache.hit"), tu_cstr("true"), MX_TAG_EQ };
	CHECK(&q, t % 3 == 0);
	c[0].value = tu_cstr("false");
	CHECK(&q, t % 3 != 0);
	c[0] = (struct mx_tag_cond){ tu_cstr("http.method"), tu_cstr("POST"), MX_TAG_EQ };
	CHECK(&q, t % 2 == 1);
	/* derived from the status: error=true */
	c[0] = (struct mx_tag_cond){ tu_cstr("error"), tu_cstr("true"), MX_TAG_EQ };
	CHECK(&q, t % 7 == 0);
	c[0] = (struct mx_tag_cond){ tu_cstr("span.kind"), tu_cstr("client"), MX_TAG_EQ };
	CHECK(&q, true);

	/* both conditions on one span */
	q.n_tags = 2;
	c[0] = (struct mx_tag_cond){ tu_cstr("http.method"), tu_cstr("GET"), MX_TAG_EQ };
	c[1] = (struct mx_tag_cond){ tu_cstr("http.status_code"), tu_cstr("500"), MX_TAG_EQ };
	CHECK(&q, t % 10 == 0);
	/* conditions met by different spans of the trace never match */
	base_query(&q, "");
	q.tags = c;
	q.n_tags = 2;
	c[1] = (struct mx_tag_cond){ tu_cstr("db.system"), tu_cstr("sql"), MX_TAG_EQ };
	CHECK(&q, false);

	/* resource tags only when asked */
	base_query(&q, "api");
	q.tags = c;
	q.n_tags = 1;
	c[0] = (struct mx_tag_cond){ tu_cstr("env"), tu_cstr("prod"), MX_TAG_EQ };
	CHECK(&q, false);
	q.tags_match_resource = true;
	CHECK(&q, true);
	base_query(&q, "");
	q.tags = c;
	q.n_tags = 1;
	q.tags_match_resource = true;
	c[0].value = tu_cstr("dev");
	CHECK(&q, true);
	base_query(&q, "api");
	q.tags = c;
	q.n_tags = 1;
	q.tags_match_resource = true;
	CHECK(&q, false);

	/* no service: idx_time */
	base_query(&q, "");
	q.tags = c;
	q.n_tags = 1;
	c[0] = (struct mx_tag_cond){ tu_cstr("http.status_code"), tu_cstr("500"), MX_TAG_EQ };
	CHECK(&q, t % 5 == 0);

	/* bare words: an event name or an attribute key */
	base_query(&q, "");
	q.tags = c;
	q.n_tags = 1;
	c[0] = (struct mx_tag_cond){ tu_cstr("retry"), tu_cstr(""), MX_TAG_WORD };
	CHECK(&q, t % 4 == 0);
	c[0].key = tu_cstr("cache.hit");
	CHECK(&q, true);
	c[0].key = tu_cstr("error");
	CHECK(&q, t % 7 == 0);
	c[0].key = tu_cstr("nope");
	CHECK(&q, false);
	c[0].key = tu_cstr("env"); /* a resource attribute: not for Zipkin */
	CHECK(&q, false);
}

static void test_search_remote_duration_time(void **state)
{
	struct tu_fixture *f = *state;
	struct mx_search_query q;
	bool want[N_TRACES];
	tu_open_store(f);
	load(f);

	base_query(&q, "api");
	q.remote_service = tu_cstr("db");
	CHECK(&q, t % 2 == 0);
	q.remote_service = tu_cstr("db-replica");
	CHECK(&q, t % 2 == 1);
	base_query(&q, "");
	q.remote_service = tu_cstr("db-replica");
	CHECK(&q, t % 2 == 1);
	base_query(&q, "db");
	q.remote_service = tu_cstr("db");
	CHECK(&q, false);

	/* api SERVER spans last t + 1 ms, api CLIENT spans 50 us */
	base_query(&q, "api");
	q.min_duration_ns = 20 * MS;
	CHECK(&q, t >= 19);
	q.max_duration_ns = 25 * MS;
	CHECK(&q, t >= 19 && t <= 24);
	q.min_duration_ns = 0;
	q.max_duration_ns = 40 * US;
	CHECK(&q, false);
	q.max_duration_ns = 50 * US;
	CHECK(&q, true);
	/* db spans last t * 10 us */
	base_query(&q, "db");
	q.min_duration_ns = 300 * US;
	q.max_duration_ns = 400 * US;
	CHECK(&q, t >= 30 && t <= 40);
	base_query(&q, "");
	q.operation = tu_cstr("query");
	q.min_duration_ns = 555 * US;
	CHECK(&q, t >= 56);

	/* time window: whole traces */
	base_query(&q, "api");
	q.start_min_ns = trace_start(20);
	q.start_max_ns = trace_start(29) + 500 * MS;
	CHECK(&q, t >= 20 && t <= 29);
	base_query(&q, "");
	q.start_min_ns = trace_start(20);
	q.start_max_ns = trace_start(29) + 500 * MS;
	CHECK(&q, t >= 20 && t <= 29);
	/* the window ends between the api and the db spans of trace 33: a
	 * span must start in the window */
	base_query(&q, "db");
	q.start_min_ns = trace_start(30);
	q.start_max_ns = trace_start(33) + 150 * US;
	CHECK(&q, t >= 30 && t <= 32);
	base_query(&q, "api");
	q.start_min_ns = trace_start(30);
	q.start_max_ns = trace_start(33) + 150 * US;
	CHECK(&q, t >= 30 && t <= 33);
	q.start_min_ns = trace_start(33) + 50 * US; /* after api's first span */
	q.kind = MX_KIND_SERVER;
	CHECK(&q, false);
	q.start_max_ns = q.start_min_ns - 1;
	struct mx_search_result r;
	assert_int_equal(mx_store_search(f->st, &q, &r), MX_EINVAL);
	assert_int_equal(r.n, 0);
}

static void test_search_limit_truncation(void **state)
{
	struct tu_fixture *f = *state;
	struct mx_search_query q;
	bool want[N_TRACES];
	struct mx_tag_cond c = { tu_cstr("nope"), tu_cstr("x"), MX_TAG_EQ };
	tu_open_store(f);
	load(f);

	base_query(&q, "api");
	q.limit = 5;
	CHECK(&q, true); /* 59 .. 55 */
	base_query(&q, "");
	q.limit = 3;
	q.operation = tu_cstr("GET /a");
	CHECK(&q, t % 2 == 0); /* 58, 56, 54 */
	base_query(&q, "web");
	q.limit = 0; /* the default, 20 */
	CHECK(&q, t % 10 == 0);

	/* max_candidates: the scan stops early and says so */
	base_query(&q, "api");
	q.tags = &c;
	q.n_tags = 1;
	q.max_candidates = 10;
	WANT(false);
	check(f, &q, want, true, __LINE__);
	q.max_candidates = 0;
	check(f, &q, want, false, __LINE__);
	/* the tag filters rule out (nearly) every one of the 60 api segments
	 * without reading its spans (more: test_search_filter.c) */
	struct mx_search_result r;
	assert_int_equal(mx_store_search(f->st, &q, &r), MX_OK);
	assert_int_equal(r.segments_decoded + r.segments_filtered, 60);
	assert_true(r.segments_decoded <= 6);
	mx_search_result_free(&r);
	base_query(&q, "api");
	q.max_candidates = 4;
	WANT(t >= 56);
	check(f, &q, want, true, __LINE__);

	/* a deadline in the past */
	base_query(&q, "api");
	q.deadline_ns = 1;
	WANT(false);
	check(f, &q, want, true, __LINE__);

	/* traces over max_spans_per_trace are left out, flagged */
	base_query(&q, "web");
	q.max_spans_per_trace = 3;
	WANT(false);
	check(f, &q, want, true, __LINE__);
	base_query(&q, "db");
	q.max_spans_per_trace = 3;
	q.start_min_ns = trace_start(9);
	q.start_max_ns = trace_start(11) + 500 * MS;
	WANT(t == 9 || t == 11);
	check(f, &q, want, true, __LINE__);
}

static void check_names(const struct mx_str *got, uint32_t n, const char *const *exp,
			uint32_t n_exp)
{
	assert_int_equal(n, n_exp);
	for (uint32_t i = 0; i < n; i++)
		if (!mx_str_eq(got[i], exp[i], strlen(exp[i])))
			fail_msg("name %u: got %.*s, want %s", i, (int)got[i].len,
				 got[i].ptr, exp[i]);
}

static void check_lists(struct tu_fixture *f)
{
	struct mx_arena ar;
	struct mx_operation *ops = NULL;
	struct mx_str *names = NULL;
	uint32_t n = 99;
	mx_arena_init(&ar, 1 << 20);

	assert_int_equal(mx_store_operations(f->st, tu_cstr("api"), -1, &ar, &ops, &n), MX_OK);
	assert_int_equal(n, 3);
	assert_true(mx_str_eq(ops[0].name, "GET /a", 6));
	assert_int_equal(ops[0].kind, MX_KIND_SERVER);
	assert_true(mx_str_eq(ops[1].name, "POST /a", 7));
	assert_int_equal(ops[1].kind, MX_KIND_SERVER);
	assert_true(mx_str_eq(ops[2].name, "call db", 7));
	assert_int_equal(ops[2].kind, MX_KIND_CLIENT);
	assert_int_equal(mx_store_operations(f->st, tu_cstr("api"), MX_KIND_CLIENT, &ar,
					     &ops, &n), MX_OK);
	assert_int_equal(n, 1);
	assert_true(mx_str_eq(ops[0].name, "call db", 7));
	assert_int_equal(mx_store_operations(f->st, tu_cstr("api"), MX_KIND_PRODUCER, &ar,
					     &ops, &n), MX_OK);
	assert_int_equal(n, 0);
	assert_int_equal(mx_store_operations(f->st, tu_cstr("db"), -1, &ar, &ops, &n), MX_OK);
	assert_int_equal(n, 1);
	assert_true(mx_str_eq(ops[0].name, "query", 5));
	assert_int_equal(ops[0].kind, MX_KIND_SERVER);
	assert_int_equal(mx_store_operations(f->st, tu_cstr("ap"), -1, &ar, &ops, &n), MX_OK);
	assert_int_equal(n, 0);

	static const char *const remote_api[] = { "db", "db-replica" };
	assert_int_equal(mx_store_remote_services(f->st, tu_cstr("api"), &ar, &names, &n),
			 MX_OK);
	check_names(names, n, remote_api, 2);
	assert_int_equal(mx_store_remote_services(f->st, tu_cstr("db"), &ar, &names, &n),
			 MX_OK);
	assert_int_equal(n, 0);

	static const char *const methods[] = { "GET", "POST" };
	static const char *const codes[] = { "200", "500" };
	assert_int_equal(mx_store_tag_values(f->st, tu_cstr("http.method"), &ar, &names, &n),
			 MX_OK);
	check_names(names, n, methods, 2);
	assert_int_equal(mx_store_tag_values(f->st, tu_cstr("http.status_code"), &ar, &names,
					     &n), MX_OK);
	check_names(names, n, codes, 2);
	/* not configured: not recorded */
	assert_int_equal(mx_store_tag_values(f->st, tu_cstr("cache.hit"), &ar, &names, &n),
			 MX_OK);
	assert_int_equal(n, 0);
	assert_int_equal(mx_store_tag_values(f->st, tu_cstr("db.system"), &ar, &names, &n),
			 MX_OK);
	assert_int_equal(n, 0);

	static const char *const services[] = { "api", "db", "web" };
	assert_int_equal(mx_store_services(f->st, &ar, &names, &n), MX_OK);
	check_names(names, n, services, 3);
	mx_arena_free(&ar);
}

static void test_name_lists(void **state)
{
	struct tu_fixture *f = *state;
	tu_open_store(f);
	load(f);
	check_lists(f);
}

static void test_reopen_and_more_data(void **state)
{
	struct tu_fixture *f = *state;
	struct mx_search_query q;
	bool want[N_TRACES];
	tu_open_store(f);
	load(f);
	mx_store_close(f->st);
	f->st = NULL;
	tu_open_store(f);

	check_lists(f);
	base_query(&q, "api");
	q.operation = tu_cstr("POST /a");
	CHECK(&q, t % 2 == 1);
	base_query(&q, "web");
	CHECK(&q, t % 10 == 0);

	/* new names after the reopen get new ids, old ones keep theirs */
	struct tu_acks a = TU_ACKS_INIT;
	struct mx_batch *b = mx_batch_new(1 << 20);
	const struct mx_resource *r = make_res(b, "late", "prod");
	struct mx_scope *sc = mx_arena_calloc(&b->arena, 1, sizeof(*sc));
	add_span(b, r, sc, 70, 0, "GET /a", MX_KIND_SERVER, trace_start(70), 5 * US);
	assert_int_equal(mx_store_submit(f->st, b, tu_ack_cb, &a), MX_OK);
	assert_true(tu_acks_wait(&a, 1, 20));
	assert_int_equal(a.n_ok, 1);
	base_query(&q, "late");
	q.operation = tu_cstr("GET /a");
	struct mx_search_result res;
	assert_int_equal(mx_store_search(f->st, &q, &res), MX_OK);
	assert_int_equal(res.n, 1);
	assert_int_equal(trace_no(res.traces[0]), 70);
	assert_int_equal(res.traces[0]->n_spans, 1);
	mx_search_result_free(&res);
	base_query(&q, "api");
	q.operation = tu_cstr("GET /a");
	CHECK(&q, t % 2 == 0);
}

/* One batch of 100 one-span traces in the same second (index values
 * continued over several entries) and a trace with 70 span names in one
 * segment (more than a record lists). */
static void test_bulk_batch(void **state)
{
	struct tu_fixture *f = *state;
	struct tu_acks a = TU_ACKS_INIT;
	struct mx_search_query q;
	struct mx_search_result r;
	char name[32];
	tu_open_store(f);
	struct mx_batch *b = mx_batch_new(4 << 20);
	const struct mx_resource *res = make_res(b, "bulk", "prod");
	struct mx_scope *sc = mx_arena_calloc(&b->arena, 1, sizeof(*sc));
	for (int t = 0; t < 100; t++) {
		snprintf(name, sizeof(name), "op-%d", t % 7);
		add_span(b, res, sc, 100 + t, 0, name, MX_KIND_SERVER,
			 T0 + (uint64_t)t * US, (uint64_t)t * US);
	}
	for (int k = 0; k < 70; k++) {
		snprintf(name, sizeof(name), "wide-%d", k);
		add_span(b, res, sc, 300, k, name, MX_KIND_SERVER, T0 + 500 * US, 1);
	}
	assert_int_equal(mx_store_submit(f->st, b, tu_ack_cb, &a), MX_OK);
	assert_true(tu_acks_wait(&a, 1, 20));
	assert_int_equal(a.n_ok, 1);

	/* newest first = last to arrive first: trace ids descending */
	base_query(&q, "bulk");
	assert_int_equal(mx_store_search(f->st, &q, &r), MX_OK);
	assert_int_equal(r.n, 101);
	assert_int_equal(trace_no(r.traces[0]), 300);
	for (uint32_t i = 1; i < r.n; i++)
		assert_int_equal(trace_no(r.traces[i]), 100 + 100 - (int)i);
	mx_search_result_free(&r);

	q.operation = tu_cstr("op-3");
	assert_int_equal(mx_store_search(f->st, &q, &r), MX_OK);
	assert_int_equal(r.n, 14); /* t = 3, 10, ..., 94 */
	for (uint32_t i = 0; i < r.n; i++)
		assert_int_equal(trace_no(r.traces[i]), 100 + 94 - 7 * (int)i);
	mx_search_result_free(&r);
	q.operation = tu_cstr("wide-69");
	assert_int_equal(mx_store_search(f->st, &q, &r), MX_OK);
	assert_int_equal(r.n, 1);
	assert_int_equal(trace_no(r.traces[0]), 300);
	assert_int_equal(r.traces[0]->n_spans, 70);
	mx_search_result_free(&r);
	q.operation = tu_cstr("wide-70");
	assert_int_equal(mx_store_search(f->st, &q, &r), MX_OK);
	assert_int_equal(r.n, 0);
	mx_search_result_free(&r);

	/* no service: idx_time, and a duration range */
	base_query(&q, "");
	q.min_duration_ns = 90 * US;
	assert_int_equal(mx_store_search(f->st, &q, &r), MX_OK);
	assert_int_equal(r.n, 10);
	for (uint32_t i = 0; i < r.n; i++)
		assert_int_equal(trace_no(r.traces[i]), 199 - (int)i);
	mx_search_result_free(&r);
}

static void test_empty_store(void **state)
{
	struct tu_fixture *f = *state;
	struct mx_search_query q;
	struct mx_search_result r;
	struct mx_arena ar;
	struct mx_operation *ops = NULL;
	struct mx_str *names = NULL;
	uint32_t n = 99;
	f->cfg.autocomplete_keys = NULL;
	tu_open_store(f);

	base_query(&q, "");
	assert_int_equal(mx_store_search(f->st, &q, &r), MX_OK);
	assert_int_equal(r.n, 0);
	assert_false(r.truncated);
	mx_search_result_free(&r);
	base_query(&q, "api");
	q.operation = tu_cstr("x");
	assert_int_equal(mx_store_search(f->st, &q, &r), MX_OK);
	assert_int_equal(r.n, 0);
	mx_search_result_free(&r);
	mx_search_result_free(NULL);

	mx_arena_init(&ar, 1 << 16);
	assert_int_equal(mx_store_operations(f->st, tu_cstr("api"), -1, &ar, &ops, &n), MX_OK);
	assert_int_equal(n, 0);
	n = 99;
	assert_int_equal(mx_store_remote_services(f->st, tu_cstr("api"), &ar, &names, &n),
			 MX_OK);
	assert_int_equal(n, 0);
	n = 99;
	assert_int_equal(mx_store_tag_values(f->st, tu_cstr("http.method"), &ar, &names, &n),
			 MX_OK);
	assert_int_equal(n, 0);
	n = 99;
	assert_int_equal(mx_store_tag_values(f->st, tu_cstr(""), &ar, &names, &n), MX_OK);
	assert_int_equal(n, 0);
	assert_int_equal(mx_store_search(NULL, &q, &r), MX_EINVAL);
	assert_int_equal(mx_store_operations(f->st, tu_cstr("a"), -1, NULL, &ops, &n),
			 MX_EINVAL);
	mx_arena_free(&ar);

	/* without autocomplete keys nothing is recorded */
	load(f);
	mx_arena_init(&ar, 1 << 16);
	assert_int_equal(mx_store_tag_values(f->st, tu_cstr("http.method"), &ar, &names, &n),
			 MX_OK);
	assert_int_equal(n, 0);
	mx_arena_free(&ar);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_search_service_op_kind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_remote_duration_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_limit_truncation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_and_more_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_store, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
