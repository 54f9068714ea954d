/*
 * test_growth.c - the store's size over time (storage/store_sweep.c,
 * store_writer.c, store_backup.c): a map that starts small grows without
 * losing data; a store driven far past its max size keeps accepting by
 * evicting the oldest data and never returns a corrupt trace; growth and
 * eviction under concurrent lookups and searches neither crash nor
 * deadlock; a backup taken by another process while the store is open
 * (and while it ingests) restores to an identical store; stores of a newer
 * or older schema are refused by open and by backup.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sched.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "storage/search.h"
#include "storage/store_int.h"
#include "store_test_util.h"

#define T0 1800000000000000000ull
#define PAD 700u

struct fixture {
	char dir[64];
	char copy[96];
	struct mx_store_config cfg;
	struct mx_store *st;
	struct tu_acks *acks;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/mixd-test-growth-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->copy, sizeof(f->copy), "%s/copy", f->dir);
	mx_store_config_default(&f->cfg);
	f->cfg.path = f->dir; /* LMDB files go directly into it */
	f->cfg.max_size = 256u << 20;
	f->cfg.initial_size = 1u << 20;
	f->acks = tu_acks_new();
	atomic_store(&tu_now, T0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	mx_store_close(f->st);
	tu_rm_rf(f->dir);
	tu_acks_free(f->acks);
	free(f);
	return 0;
}

static void open_store(struct fixture *f, const char *path, struct mx_store **st)
{
	char err[256] = "";
	struct mx_store_config cfg = f->cfg;
	cfg.path = path;
	int rc = mx_store_open(&cfg, st, err, sizeof(err));
	if (rc != MX_OK)
		fail_msg("open %s: %s (%s)", path, mx_strerror(rc), err);
}

/* Submits `batches` batches of `traces` traces x 4 spans, from trace
 * `first`, at most `window` unacknowledged; returns the next trace. */
static uint64_t ingest(struct fixture *f, uint64_t first, int batches,
		       uint32_t traces, int window)
{
	int base = f->acks->n;
	for (int i = 0; i < batches; i++) {
		if (i >= window)
			assert_true(tu_acks_wait(f->acks, base + i - window + 1, 60));
		struct mx_batch *b = tu_batch(i % 2 ? "svc-odd" : "svc-even", first,
					      traces, 4, PAD, T0 + first, T0 + first);
		assert_int_equal(tu_submit(f->st, b, f->acks), MX_OK);
		first += traces;
	}
	assert_true(tu_acks_wait(f->acks, base + batches, 60));
	return first;
}

static void test_growth_keeps_data(void **state)
{
	struct fixture *f = *state;
	open_store(f, f->dir, &f->st);
	struct mx_store_stats s;
	mx_store_get_stats(f->st, &s);
	assert_true(s.map_size == 1u << 20);
	/* about 24 MiB of spans from a 1 MiB map */
	uint64_t end = ingest(f, 1, 300, 20, 8);
	assert_int_equal(f->acks->n_ok, 300);
	mx_store_get_stats(f->st, &s);
	assert_true(s.map_grows >= 4);
	assert_true(s.map_size >= s.file_bytes && s.map_size >= 16u << 20);
	assert_true(s.used_bytes > (16u << 20) && s.used_bytes <= s.file_bytes);
	assert_true(s.evicted_spans == 0 && s.full_refusals == 0);
	uint32_t n;
	for (uint64_t t = 1; t < end; t += 7) {
		assert_int_equal(tu_check_trace(f->st, t, PAD, &n), MX_OK);
		assert_int_equal(n, 4);
	}
	/* reopening starts from the file's size, not from 1 MiB */
	uint64_t grown = s.map_size;
	mx_store_close(f->st);
	f->st = NULL;
	open_store(f, f->dir, &f->st);
	mx_store_get_stats(f->st, &s);
	assert_true(s.map_size >= s.file_bytes && s.map_size <= grown);
	for (uint64_t t = 1; t < end; t++) {
		assert_int_equal(tu_check_trace(f->st, t, PAD, &n), MX_OK);
		assert_int_equal(n, 4);
	}
}

static double secs_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void test_evict_past_max(void **state)
{
	struct fixture *f = *state;
	f->cfg.max_size = 8u << 20;
	f->cfg.initial_size = 2u << 20;
	open_store(f, f->dir, &f->st);
	/* about 50 MiB through an 8 MiB store: every batch is accepted, none
	 * refused for a full store, while eviction runs all along. The time
	 * per batch before and while evicting is printed, not asserted: a
	 * timed assertion would flake on a loaded machine (performance goals
	 * live in `make bench`). */
	struct timespec t0, t1, t2, t3;
	struct mx_store_stats s;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	uint64_t end = ingest(f, 1, 50, 20, 4);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	mx_store_get_stats(f->st, &s);
	assert_true(s.evicted_spans == 0);
	end = ingest(f, end, 350, 20, 4);
	clock_gettime(CLOCK_MONOTONIC, &t2);
	end = ingest(f, end, 200, 20, 4);
	clock_gettime(CLOCK_MONOTONIC, &t3);
	assert_int_equal(f->acks->n_ok, 600);
	assert_int_equal(f->acks->n_full, 0);
	double first = secs_between(&t0, &t1) / 50, last = secs_between(&t2, &t3) / 200;
	print_message("per batch: %.2f ms before eviction, %.2f ms evicting\n",
		      first * 1e3, last * 1e3);
	mx_store_get_stats(f->st, &s);
	assert_true(s.map_size == 8u << 20);
	assert_true(s.used_bytes <= s.max_size);
	assert_true(s.evicted_spans > 40000);
	assert_true(s.expired_spans == 0);
	assert_true(s.full_refusals == 0);
	/* the oldest are gone, the newest intact, nothing in between
	 * half-decoded: a trace is whole or missing (one trace per batch
	 * segment), never corrupt */
	uint32_t n;
	assert_int_equal(tu_check_trace(f->st, 1, PAD, &n), MX_ENOTFOUND);
	int found = 0;
	for (uint64_t t = 1; t < end; t++) {
		int rc = tu_check_trace(f->st, t, PAD, &n);
		assert_true(rc == MX_OK || rc == MX_ENOTFOUND);
		if (rc == MX_OK) {
			assert_int_equal(n, 4);
			found++;
		}
	}
	assert_true(found > 500);
	for (uint64_t t = end - 100; t < end; t++)
		assert_int_equal(tu_check_trace(f->st, t, PAD, &n), MX_OK);
	assert_true(s.oldest_arrival_ns > T0 + 1);
}

/* ------------------------------------------------- concurrent queries */

struct reader {
	struct mx_store *st;
	_Atomic bool *stop;
	_Atomic uint64_t *hi; /* traces below are submitted */
	unsigned seed;
	uint64_t lookups, found, searches, bad;
};

static void *reader_main(void *p)
{
	struct reader *r = p;
	while (!atomic_load(r->stop)) {
		uint64_t hi = atomic_load(r->hi);
		uint64_t t = 1 + (uint64_t)rand_r(&r->seed) % (hi ? hi : 1);
		uint32_t n;
		int rc = tu_check_trace(r->st, t, PAD, &n);
		r->lookups++;
		if (rc == MX_OK)
			r->found++;
		else if (rc != MX_ENOTFOUND)
			r->bad++;
		if (r->lookups % 8 == 0) {
			struct mx_search_query q;
			struct mx_search_result res;
			memset(&q, 0, sizeof(q));
			q.service = (struct mx_str){ "svc-odd", 7 };
			q.kind = -1;
			q.limit = 5;
			rc = mx_store_search(r->st, &q, &res);
			if (rc != MX_OK)
				r->bad++;
			for (uint32_t i = 0; rc == MX_OK && i < res.n; i++)
				if (res.traces[i]->n_spans == 0 ||
				    res.traces[i]->n_spans > 4)
					r->bad++;
			mx_search_result_free(&res);
			struct mx_arena ar;
			struct mx_str *names;
			uint32_t nn;
			mx_arena_init(&ar, 1 << 16);
			if (mx_store_services(r->st, &ar, &names, &nn) != MX_OK)
				r->bad++;
			mx_arena_free(&ar);
			r->searches++;
		}
	}
	return NULL;
}

#define READERS 4 /* more than this machine's cores: some are preempted
		     while they hold a snapshot */

static void test_full_under_queries(void **state)
{
	struct fixture *f = *state;
	f->cfg.max_size = 12u << 20;
	f->cfg.initial_size = 1u << 20;
	f->cfg.group_max_batches = 4;
	open_store(f, f->dir, &f->st);
	_Atomic bool stop = false;
	_Atomic uint64_t hi = 0;
	struct reader rd[READERS];
	pthread_t th[READERS];
	const int nr = READERS;
	for (int i = 0; i < nr; i++) {
		rd[i] = (struct reader){ f->st, &stop, &hi, (unsigned)i + 1, 0, 0, 0, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, reader_main, &rd[i]), 0);
	}
	/* grows 1 -> 12 MiB, then evicts, while the readers run */
	uint64_t first = 1;
	for (int round = 0; round < 40; round++) {
		first = ingest(f, first, 10, 20, 4);
		atomic_store(&hi, first - 1);
	}
	atomic_store(&stop, true);
	uint64_t lookups = 0, found = 0, searches = 0;
	for (int i = 0; i < nr; i++) {
		pthread_join(th[i], NULL);
		assert_true(rd[i].bad == 0);
		lookups += rd[i].lookups;
		found += rd[i].found;
		searches += rd[i].searches;
	}
	struct mx_store_stats s;
	mx_store_get_stats(f->st, &s);
	assert_int_equal(f->acks->n_ok, 400);
	assert_true(s.map_grows >= 3);
	assert_true(s.evicted_spans > 0);
	assert_true(lookups > 0 && found > 0 && searches > 0);
	print_message("readers: %llu lookups (%llu found), %llu searches; %llu grows, "
		      "%llu evicted\n", (unsigned long long)lookups,
		      (unsigned long long)found, (unsigned long long)searches,
		      (unsigned long long)s.map_grows,
		      (unsigned long long)s.evicted_spans);
}

/* ------------------------------------------------------------ backup */

/* Runs mx_store_backup in a child process (one environment per process:
 * LMDB forbids opening a store twice in one). Returns its status. */
static int backup_child(const char *src, const char *dst)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		struct mx_store_backup_info info;
		char err[256];
		int rc = mx_store_backup(src, dst, &info, err, sizeof(err));
		if (rc != MX_OK)
			fprintf(stderr, "backup: %s\n", err);
		_exit(rc == MX_OK ? 0 : rc == MX_ESCHEMA ? 3 : rc == MX_EINVAL ? 4 : 1);
	}
	int status = -1;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The record bytes of a span (as the store encodes it, arrival 0). */
static void span_bytes(const struct mx_span *s, struct mx_buf *b)
{
	mx_buf_reset(b);
	assert_int_equal(mx_span_record_encode(s, 0, 0, b), MX_OK);
	assert_int_equal(mx_resource_record_encode(s->resource, s->scope, b), MX_OK);
}

/* Every trace in [1, end) is the same in both stores (or missing in
 * `copy` when `prefix` allows it). Returns the traces present in copy. */
static uint64_t compare(struct mx_store *orig, struct mx_store *copy, uint64_t end,
			bool prefix)
{
	struct mx_buf a, b;
	uint64_t present = 0;
	mx_buf_init(&a, 1 << 20);
	mx_buf_init(&b, 1 << 20);
	for (uint64_t t = 1; t < end; t++) {
		uint8_t id[16];
		struct mx_batch *x = NULL, *y = NULL;
		tu_trace_id(id, t);
		assert_int_equal(mx_store_get_trace(orig, id, false, 1000, &x), MX_OK);
		int rc = mx_store_get_trace(copy, id, false, 1000, &y);
		if (rc == MX_ENOTFOUND && prefix) {
			mx_batch_free(x);
			continue;
		}
		assert_int_equal(rc, MX_OK);
		present++;
		assert_int_equal(x->n_spans, y->n_spans);
		for (uint32_t i = 0; i < x->n_spans; i++) {
			span_bytes(&x->spans[i], &a);
			span_bytes(&y->spans[i], &b);
			assert_int_equal(a.len, b.len);
			assert_memory_equal(a.data, b.data, a.len);
		}
		mx_batch_free(x);
		mx_batch_free(y);
	}
	mx_buf_free(&a);
	mx_buf_free(&b);
	return present;
}

static void test_backup_identical(void **state)
{
	struct fixture *f = *state;
	open_store(f, f->dir, &f->st);
	uint64_t end = ingest(f, 1, 60, 10, 8);
	/* taken while the store is open in this process */
	assert_int_equal(backup_child(f->dir, f->copy), 0);
	/* the target must be empty */
	assert_int_equal(backup_child(f->dir, f->copy), 4);

	struct mx_store *copy = NULL;
	open_store(f, f->copy, &copy);
	assert_int_equal(compare(f->st, copy, end, false), end - 1);
	struct mx_arena ar;
	struct mx_str *n1, *n2;
	uint32_t c1, c2;
	mx_arena_init(&ar, 1 << 16);
	assert_int_equal(mx_store_services(f->st, &ar, &n1, &c1), MX_OK);
	assert_int_equal(mx_store_services(copy, &ar, &n2, &c2), MX_OK);
	assert_int_equal(c1, c2);
	for (uint32_t i = 0; i < c1; i++)
		assert_true(mx_str_eq(n1[i], n2[i].ptr, n2[i].len));
	mx_arena_free(&ar);
	/* the copy is a working store: it takes new data */
	struct mx_store *orig = f->st;
	f->st = copy;
	ingest(f, end, 2, 5, 2);
	uint32_t n;
	assert_int_equal(tu_check_trace(copy, end + 3, PAD, &n), MX_OK);
	f->st = orig;
	mx_store_close(copy);
}

struct ingester {
	struct fixture *f;
	uint64_t first;
	_Atomic bool stop;
	_Atomic uint64_t done; /* traces below are acknowledged */
};

static void *ingest_main(void *p)
{
	struct ingester *g = p;
	while (!atomic_load(&g->stop)) {
		g->first = ingest(g->f, g->first, 4, 10, 4);
		atomic_store(&g->done, g->first);
	}
	return NULL;
}

static void test_backup_while_ingesting(void **state)
{
	struct fixture *f = *state;
	open_store(f, f->dir, &f->st);
	struct ingester g = { f, 1, false, 0 };
	g.first = ingest(f, 1, 20, 10, 4);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, ingest_main, &g), 0);
	/* the map grows from 1 MiB meanwhile: the copy adopts new sizes */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	t1 = t0;
	while (atomic_load(&g.done) < 2000 && t1.tv_sec - t0.tv_sec < 60) {
		sched_yield();
		clock_gettime(CLOCK_MONOTONIC, &t1);
	}
	assert_true(atomic_load(&g.done) >= 2000);
	assert_int_equal(backup_child(f->dir, f->copy), 0);
	atomic_store(&g.stop, true);
	pthread_join(th, NULL);

	struct mx_store *copy = NULL;
	open_store(f, f->copy, &copy);
	/* a snapshot: a prefix of what was written, each trace whole */
	uint64_t present = compare(f->st, copy, g.first, true);
	assert_true(present >= 1999 && present < g.first);
	uint32_t n;
	for (uint64_t t = 1; t <= present; t++)
		assert_int_equal(tu_check_trace(copy, t, PAD, &n), MX_OK);
	mx_store_close(copy);
}

/* ------------------------------------------------------------ schema */

static void set_schema(const char *dir, uint32_t ver)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t vb[4] = { (uint8_t)ver, (uint8_t)(ver >> 8), (uint8_t)(ver >> 16),
			  (uint8_t)(ver >> 24) };
	MDB_val k = { 14, (void *)(uintptr_t)"schema_version" }, v = { 4, vb };
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 32);
	assert_int_equal(mdb_env_open(env, dir, 0, 0644), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void test_other_schema_refused(void **state)
{
	struct fixture *f = *state;
	/* (version 3 is upgraded in place: below) */
	const uint32_t vers[] = { MX_STORE_SCHEMA_VERSION + 1, 2 };
	for (int i = 0; i < 2; i++) {
		open_store(f, f->dir, &f->st);
		ingest(f, 1, 2, 3, 2);
		mx_store_close(f->st);
		f->st = NULL;
		set_schema(f->dir, vers[i]);

		char err[256] = "", want[64];
		assert_int_equal(mx_store_open(&f->cfg, &f->st, err, sizeof(err)),
				 MX_ESCHEMA);
		assert_null(f->st);
		snprintf(want, sizeof(want), "schema version %u", vers[i]);
		assert_non_null(strstr(err, want));
		snprintf(want, sizeof(want), "version %u", MX_STORE_SCHEMA_VERSION);
		assert_non_null(strstr(err, want));
		assert_int_equal(backup_child(f->dir, f->copy), 3);
		set_schema(f->dir, MX_STORE_SCHEMA_VERSION);
	}
	/* versions 3 and 4 differ only in metrics databases and values:
	 * opened and upgraded in place, their spans kept */
	set_schema(f->dir, 3);
	open_store(f, f->dir, &f->st);
	struct mx_store_stats ss;
	mx_store_get_stats(f->st, &ss);
	assert_true(ss.used_bytes > 0);
	mx_store_close(f->st);
	f->st = NULL;
	assert_int_equal(backup_child(f->dir, f->copy), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_growth_keeps_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evict_past_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_under_queries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_identical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backup_while_ingesting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_schema_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
