/*
 * test_store.c - the LMDB span store (storage/store.h) on real temporary
 * directories: concurrent submits all acknowledged after commit, traces read
 * back exactly (also when split over batches), duplicates collapsed, 64-bit
 * lookups, services, reopening, schema mismatch, queue full, shutdown
 * draining the queue, limits and stats. Waits poll with a bound; nothing
 * sleeps for a fixed time.
 */
#include <errno.h>

#include "store_test_util.h"

/* ------------------------------------------------------------ helpers */

static int setup(void **state)
{
	*state = tu_fixture_new("/tmp/mixd-test-store-XXXXXX");
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	tu_fixture_free(*state);
	return 0;
}

static void open_store(struct tu_fixture *f)
{
	tu_open_store(f);
	assert_true(mx_store_ready(f->st));
}

/* Counts callbacks; lets a test wait for them with a bound. */
struct acks {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n;
	int n_ok;
	int last_status;
	/* blocking: the first callback waits until `release` */
	bool block_first;
	bool blocked;
	bool release;
};

static struct acks *acks_new(void)
{
	struct acks *a = calloc(1, sizeof(*a));
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	return a;
}

static void acks_free(struct acks *a)
{
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a);
}

static void ack_cb(void *ctx, int status)
{
	struct acks *a = ctx;
	pthread_mutex_lock(&a->mu);
	a->n++;
	a->last_status = status;
	if (status == MX_OK)
		a->n_ok++;
	if (a->block_first && !a->blocked) {
		a->blocked = true;
		pthread_cond_broadcast(&a->cv);
		while (!a->release)
			pthread_cond_wait(&a->cv, &a->mu);
	}
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

/* Waits (at most 20 s) until pred holds; returns whether it did. */
static bool acks_wait(struct acks *a, int n, bool want_blocked)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 20;
	pthread_mutex_lock(&a->mu);
	int rc = 0;
	while (rc == 0 && (a->n < n || (want_blocked && !a->blocked)))
		rc = pthread_cond_timedwait(&a->cv, &a->mu, &dl);
	bool ok = a->n >= n && (!want_blocked || a->blocked);
	pthread_mutex_unlock(&a->mu);
	return ok;
}

static void make_id(uint8_t id[16], uint64_t hi, uint64_t lo)
{
	for (int i = 0; i < 8; i++) {
		id[i] = (uint8_t)(hi >> (56 - 8 * i));
		id[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
	}
}

static uint64_t span_id_of(const struct mx_span *s)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | s->span_id[i];
	return v;
}

/* A batch with one resource (service `svc`) and `n` spans of trace
 * (hi, lo), span ids first_id.., start times start.. (descending when
 * `reverse`). */
static struct mx_batch *make_batch(const char *svc, uint64_t hi, uint64_t lo,
				   uint32_t n, uint64_t first_id, uint64_t start,
				   bool reverse)
{
	struct mx_batch *b = mx_batch_new(1 << 20);
	struct mx_resource *r = mx_arena_calloc(&b->arena, 1, sizeof(*r));
	struct mx_scope *sc = mx_arena_calloc(&b->arena, 1, sizeof(*sc));
	struct mx_attr *ra = mx_arena_calloc(&b->arena, 1, sizeof(*ra));
	ra->key = mx_batch_str(b, "service.name", 12);
	ra->value.type = MX_VAL_STRING;
	ra->value.u.s = mx_batch_str(b, svc, strlen(svc));
	r->attrs = (struct mx_attrs){ ra, 1 };
	sc->name = mx_batch_str(b, "test", 4);
	b->received_ns = 1700000000000000000ull;
	for (uint32_t i = 0; i < n; i++) {
		struct mx_span *s = mx_batch_add_span(b);
		make_id(s->trace_id, hi, lo);
		uint64_t id = first_id + i;
		for (int k = 0; k < 8; k++)
			s->span_id[k] = (uint8_t)(id >> (56 - 8 * k));
		if (i > 0)
			memcpy(s->parent_span_id, b->spans[0].span_id, 8);
		char name[32];
		snprintf(name, sizeof(name), "op-%llu", (unsigned long long)id);
		s->name = mx_batch_str(b, name, strlen(name));
		s->kind = MX_KIND_SERVER;
		s->start_ns = reverse ? start + (n - i) * 1000 : start + i * 1000;
		s->end_ns = s->start_ns + 500;
		struct mx_attr *a = mx_arena_calloc(&b->arena, 1, sizeof(*a));
		a->key = mx_batch_str(b, "i", 1);
		a->value.type = MX_VAL_INT;
		a->value.u.i = (int64_t)id;
		s->attrs = (struct mx_attrs){ a, 1 };
		s->resource = r;
		s->scope = sc;
	}
	return b;
}

static void submit_ok(struct mx_store *st, struct mx_batch *b, struct acks *a)
{
	int rc = mx_store_submit(st, b, ack_cb, a);
	if (rc != MX_OK) {
		mx_batch_free(b);
		fail_msg("submit: %s", mx_strerror(rc));
	}
}

/* --------------------------------------------------------------- tests */

#define THREADS 4
#define PER_THREAD 25
#define SHARED_HI 0x1111111111111111ull
#define SHARED_LO 0x2222222222222222ull

struct thread_arg {
	struct mx_store *st;
	struct acks *acks;
	int t;
	int failures;
};

static void *submitter(void *p)
{
	struct thread_arg *ta = p;
	for (int i = 0; i < PER_THREAD; i++) {
		/* a batch holding spans of two traces, in mixed order: its own
		 * trace (3 spans) around one span of the shared trace */
		struct mx_batch *b = make_batch("svc-a", 0, 1000 + (uint64_t)ta->t,
						3, (uint64_t)(ta->t * 1000 + i * 10),
						(uint64_t)i * 100000, false);
		struct mx_span *s = &b->spans[1];
		make_id(s->trace_id, SHARED_HI, SHARED_LO);
		uint64_t id = 1000000 + (uint64_t)(ta->t * PER_THREAD + i);
		for (int k = 0; k < 8; k++)
			s->span_id[k] = (uint8_t)(id >> (56 - 8 * k));
		s->start_ns = 1000000000 - id; /* arrive in reverse time order */
		if (mx_store_submit(ta->st, b, ack_cb, ta->acks) != MX_OK) {
			mx_batch_free(b);
			ta->failures++;
		}
	}
	return NULL;
}

static void test_concurrent_submit_and_read(void **state)
{
	struct tu_fixture *f = *state;
	f->cfg.group_max_batches = 8;
	open_store(f);
	struct acks *a = acks_new();
	pthread_t th[THREADS];
	struct thread_arg ta[THREADS];
	for (int t = 0; t < THREADS; t++) {
		ta[t] = (struct thread_arg){ f->st, a, t, 0 };
		pthread_create(&th[t], NULL, submitter, &ta[t]);
	}
	for (int t = 0; t < THREADS; t++) {
		pthread_join(th[t], NULL);
		assert_int_equal(ta[t].failures, 0);
	}
	assert_true(acks_wait(a, THREADS * PER_THREAD, false));
	assert_int_equal(a->n_ok, THREADS * PER_THREAD);

	/* the shared trace: one span from each of 100 batches */
	uint8_t id[16];
	struct mx_batch *out = NULL;
	make_id(id, SHARED_HI, SHARED_LO);
	assert_int_equal(mx_store_get_trace(f->st, id, false, 10000, &out), MX_OK);
	assert_int_equal(out->n_spans, THREADS * PER_THREAD);
	bool seen[THREADS * PER_THREAD] = { false };
	for (uint32_t i = 0; i < out->n_spans; i++) {
		const struct mx_span *s = &out->spans[i];
		assert_memory_equal(s->trace_id, id, 16);
		uint64_t sid = span_id_of(s) - 1000000;
		assert_true(sid < THREADS * PER_THREAD);
		assert_false(seen[sid]);
		seen[sid] = true;
		if (i > 0)
			assert_true(out->spans[i - 1].start_ns <= s->start_ns);
		assert_non_null(s->resource);
		assert_non_null(s->scope);
		assert_true(mx_str_eq(mx_span_service(s), "svc-a", 5));
		assert_true(mx_str_eq(s->scope->name, "test", 4));
		assert_int_equal(s->attrs.n, 1);
		assert_int_equal(s->kind, MX_KIND_SERVER);
	}
	mx_batch_free(out);

	/* each thread's own trace: 2 spans per batch */
	for (int t = 0; t < THREADS; t++) {
		make_id(id, 0, 1000 + (uint64_t)t);
		assert_int_equal(mx_store_get_trace(f->st, id, true, 10000, &out), MX_OK);
		assert_int_equal(out->n_spans, 2 * PER_THREAD);
		mx_batch_free(out);
	}

	make_id(id, 5, 5);
	assert_int_equal(mx_store_get_trace(f->st, id, true, 10000, &out), MX_ENOTFOUND);
	assert_null(out);

	struct mx_store_stats stats;
	mx_store_get_stats(f->st, &stats);
	assert_true(stats.committed_spans == 3 * THREADS * PER_THREAD);
	assert_true(stats.committed_batches == THREADS * PER_THREAD);
	assert_true(stats.commits >= (THREADS * PER_THREAD + 7) / 8);
	assert_true(stats.commit_failures == 0);
	assert_true(stats.map_size == 64u << 20);
	assert_true(stats.used_bytes > 0 && stats.used_bytes < stats.map_size);
	assert_true(stats.queue_batches == 0);
	acks_free(a);
}

static void test_duplicates_and_max_spans(void **state)
{
	struct tu_fixture *f = *state;
	open_store(f);
	struct acks *a = acks_new();
	/* the same spans twice (a client re-sending), arrival times differ */
	struct mx_batch *b1 = make_batch("dup", 7, 7, 10, 1, 5000, true);
	struct mx_batch *b2 = make_batch("dup", 7, 7, 10, 1, 5000, true);
	b2->received_ns += 12345;
	submit_ok(f->st, b1, a);
	submit_ok(f->st, b2, a);
	/* a different span sharing (trace, span id) with one of them */
	struct mx_batch *b3 = make_batch("dup", 7, 7, 1, 1, 5000, false);
	b3->spans[0].kind = MX_KIND_CLIENT;
	submit_ok(f->st, b3, a);
	assert_true(acks_wait(a, 3, false));
	assert_int_equal(a->n_ok, 3);

	uint8_t id[16];
	struct mx_batch *out = NULL;
	make_id(id, 7, 7);
	assert_int_equal(mx_store_get_trace(f->st, id, false, 100, &out), MX_OK);
	assert_int_equal(out->n_spans, 11);
	for (uint32_t i = 1; i < out->n_spans; i++)
		assert_true(out->spans[i - 1].start_ns <= out->spans[i].start_ns);
	mx_batch_free(out);
	assert_int_equal(mx_store_get_trace(f->st, id, false, 11, &out), MX_OK);
	mx_batch_free(out);
	out = NULL;
	assert_int_equal(mx_store_get_trace(f->st, id, false, 10, &out), MX_ENOMEM);
	assert_null(out);
	acks_free(a);
}

static void test_low64_lookup(void **state)
{
	struct tu_fixture *f = *state;
	open_store(f);
	struct acks *a = acks_new();
	submit_ok(f->st, make_batch("s128", 0xabcdef0123456789ull, 0x42, 3, 100, 10, false), a);
	submit_ok(f->st, make_batch("s64", 0, 0x42, 2, 200, 20, false), a);
	submit_ok(f->st, make_batch("other", 0xabcdef0123456789ull, 0x43, 1, 300, 30, false), a);
	assert_true(acks_wait(a, 3, false));

	uint8_t id[16];
	struct mx_batch *out = NULL;
	make_id(id, 0, 0x42);
	assert_int_equal(mx_store_get_trace(f->st, id, true, 100, &out), MX_OK);
	assert_int_equal(out->n_spans, 5);
	mx_batch_free(out);
	assert_int_equal(mx_store_get_trace(f->st, id, false, 100, &out), MX_OK);
	assert_int_equal(out->n_spans, 2);
	mx_batch_free(out);
	/* a full 128-bit id never widens */
	make_id(id, 0xabcdef0123456789ull, 0x42);
	assert_int_equal(mx_store_get_trace(f->st, id, true, 100, &out), MX_OK);
	assert_int_equal(out->n_spans, 3);
	mx_batch_free(out);
	/* a 64-bit id matching no low half */
	make_id(id, 0, 0xabcdef0123456789ull);
	assert_int_equal(mx_store_get_trace(f->st, id, true, 100, &out), MX_ENOTFOUND);

	struct mx_arena ar;
	struct mx_str *names = NULL;
	uint32_t n = 0;
	mx_arena_init(&ar, 1 << 16);
	assert_int_equal(mx_store_services(f->st, &ar, &names, &n), MX_OK);
	assert_int_equal(n, 3);
	assert_true(mx_str_eq(names[0], "other", 5));
	assert_true(mx_str_eq(names[1], "s128", 4));
	assert_true(mx_str_eq(names[2], "s64", 3));
	mx_arena_free(&ar);
	acks_free(a);
}

static void test_reopen_keeps_data(void **state)
{
	struct tu_fixture *f = *state;
	open_store(f);
	struct acks *a = acks_new();
	submit_ok(f->st, make_batch("before", 1, 9, 4, 1, 100, false), a);
	assert_true(acks_wait(a, 1, false));
	mx_store_close(f->st);
	f->st = NULL;

	open_store(f);
	submit_ok(f->st, make_batch("after", 1, 9, 4, 11, 200, false), a);
	assert_true(acks_wait(a, 2, false));
	assert_int_equal(a->n_ok, 2);
	uint8_t id[16];
	struct mx_batch *out = NULL;
	make_id(id, 1, 9);
	assert_int_equal(mx_store_get_trace(f->st, id, false, 100, &out), MX_OK);
	assert_int_equal(out->n_spans, 8);
	assert_true(mx_str_eq(mx_span_service(&out->spans[0]), "before", 6));
	assert_true(mx_str_eq(mx_span_service(&out->spans[7]), "after", 5));
	mx_batch_free(out);

	struct mx_arena ar;
	struct mx_str *names = NULL;
	uint32_t n = 0;
	mx_arena_init(&ar, 1 << 16);
	assert_int_equal(mx_store_services(f->st, &ar, &names, &n), MX_OK);
	assert_int_equal(n, 2);
	mx_arena_free(&ar);
	acks_free(a);
}

static void test_schema_mismatch(void **state)
{
	struct tu_fixture *f = *state;
	open_store(f);
	mx_store_close(f->st);
	f->st = NULL;

	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t ver[4] = { 99, 0, 0, 0 };
	MDB_val k = { 14, (void *)(uintptr_t)"schema_version" }, v = { 4, ver };
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 16);
	assert_int_equal(mdb_env_open(env, f->dir, 0, 0644), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	char err[256] = "";
	assert_int_equal(mx_store_open(&f->cfg, &f->st, err, sizeof(err)), MX_ESCHEMA);
	assert_null(f->st);
	assert_non_null(strstr(err, "schema version 99"));
}

static void test_queue_full(void **state)
{
	struct tu_fixture *f = *state;
	f->cfg.queue_max_batches = 2;
	open_store(f);
	struct acks *a = acks_new();
	a->block_first = true;
	/* the writer commits A and then blocks in A's callback */
	submit_ok(f->st, make_batch("q", 3, 3, 1, 1, 1, false), a);
	assert_true(acks_wait(a, 1, true));
	submit_ok(f->st, make_batch("q", 3, 3, 1, 2, 2, false), a);
	submit_ok(f->st, make_batch("q", 3, 3, 1, 3, 3, false), a);
	struct mx_batch *d = make_batch("q", 3, 3, 1, 4, 4, false);
	assert_int_equal(mx_store_submit(f->st, d, ack_cb, a), MX_EBUSY);
	struct mx_store_stats stats;
	mx_store_get_stats(f->st, &stats);
	assert_true(stats.refused_busy == 1);
	assert_true(stats.queue_batches == 2);
	assert_true(stats.queue_bytes > 0);

	pthread_mutex_lock(&a->mu);
	a->release = true;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	assert_true(acks_wait(a, 3, false));
	/* room again: the caller still owns d and may retry */
	submit_ok(f->st, d, a);
	assert_true(acks_wait(a, 4, false));
	assert_int_equal(a->n_ok, 4);
	mx_store_close(f->st);
	f->st = NULL;
	acks_free(a);
}

static void test_shutdown_drains(void **state)
{
	struct tu_fixture *f = *state;
	f->cfg.group_max_batches = 4;
	f->cfg.sync = MX_SYNC_NONE;
	open_store(f);
	struct acks *a = acks_new();
	for (int i = 0; i < 60; i++)
		submit_ok(f->st, make_batch("drain", 4, 4, 2, 10 * (uint64_t)i, 1, false), a);
	mx_store_shutdown(f->st);
	/* every callback ran before shutdown returned */
	assert_int_equal(a->n, 60);
	assert_int_equal(a->n_ok, 60);
	assert_false(mx_store_ready(f->st));
	mx_store_shutdown(f->st); /* idempotent */

	struct mx_batch *late = make_batch("late", 4, 4, 1, 999, 1, false);
	assert_int_equal(mx_store_submit(f->st, late, ack_cb, a), MX_ESHUTDOWN);
	mx_batch_free(late);

	/* reads still work until close */
	uint8_t id[16];
	struct mx_batch *out = NULL;
	make_id(id, 4, 4);
	assert_int_equal(mx_store_get_trace(f->st, id, false, 1000, &out), MX_OK);
	assert_int_equal(out->n_spans, 120);
	mx_batch_free(out);
	acks_free(a);
}

static void test_invalid_and_empty(void **state)
{
	struct tu_fixture *f = *state;
	f->cfg.sync = MX_SYNC_META;
	open_store(f);
	struct acks *a = acks_new();

	/* a span without resource: refused, the caller keeps the batch */
	struct mx_batch *b = make_batch("x", 5, 5, 2, 1, 1, false);
	b->spans[1].resource = NULL;
	assert_int_equal(mx_store_submit(f->st, b, ack_cb, a), MX_EINVAL);
	assert_int_equal(mx_store_submit(f->st, NULL, ack_cb, a), MX_EINVAL);
	assert_int_equal(mx_store_submit(f->st, b, NULL, a), MX_EINVAL);
	mx_batch_free(b);

	/* an empty batch is acknowledged after a commit */
	submit_ok(f->st, mx_batch_new(1024), a);
	assert_true(acks_wait(a, 1, false));
	assert_int_equal(a->n_ok, 1);

	/* a batch larger than the whole queue's bytes can never be queued */
	mx_store_close(f->st);
	f->st = NULL;
	f->cfg.queue_max_bytes = 64;
	open_store(f);
	b = make_batch("x", 5, 5, 2, 1, 1, false);
	assert_int_equal(mx_store_submit(f->st, b, ack_cb, a), MX_ENOMEM);
	mx_batch_free(b);

	struct mx_store_config bad = f->cfg;
	struct mx_store *st = NULL;
	bad.group_max_batches = 0;
	assert_int_equal(mx_store_open(&bad, &st, NULL, 0), MX_EINVAL);
	mx_store_close(NULL);
	acks_free(a);
}

static void test_open_creates_nested_dir(void **state)
{
	struct tu_fixture *f = *state;
	char sub[128], subsub[160];
	snprintf(sub, sizeof(sub), "%s/a", f->dir);
	snprintf(subsub, sizeof(subsub), "%s/a/b", f->dir);
	f->cfg.path = subsub;
	open_store(f);
	mx_store_close(f->st);
	f->st = NULL;
	tu_rm_rf(subsub);
	tu_rm_rf(sub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_concurrent_submit_and_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates_and_max_spans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_low64_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown_drains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_and_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_creates_nested_dir, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
