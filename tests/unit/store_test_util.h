/*
 * store_test_util.h - helpers of the unit tests that run a real store
 * (test_store.c, test_search.c, test_search_filter.c, test_retention.c,
 * test_growth.c): temp directories, a store fixture (temp directory,
 * config, store), commit acknowledgements waited for with a bound, an
 * injectable clock, batches of numbered traces whose spans can be checked
 * after reading them back, and raw entry counts of the store's databases
 * (read with LMDB directly, store closed). All helpers are static, so each
 * test binary gets its own copy.
 */
#ifndef MX_STORE_TEST_UTIL_H
#define MX_STORE_TEST_UTIL_H

#include <dirent.h>
#include <lmdb.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/error.h"
#include "model/span.h"
#include "storage/span_record.h"
#include "storage/store.h"

#define TU_TRACE_HI 0x00abcdef12345678ull

/* Removes a directory tree (two levels are enough for the tests). */
static inline void tu_rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char path[1400];
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >=
		    (int)sizeof(path))
			continue;
		struct stat sb;
		if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
			tu_rm_rf(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* A string view of a C string (not copied). */
static inline struct mx_str tu_cstr(const char *s)
{
	return (struct mx_str){ s, (uint32_t)strlen(s) };
}

/* ------------------------------------------------------------ fixture */

/* A temporary directory, the store config pointing at it, the store. */
struct tu_fixture {
	char dir[64];
	struct mx_store_config cfg;
	struct mx_store *st;
};

/* A fixture in a new directory made from the mkdtemp template `tmpl`
 * (shorter than 64 bytes), the default config with a 64 MiB map; the
 * store is not opened. NULL on failure. */
static inline struct tu_fixture *tu_fixture_new(const char *tmpl)
{
	struct tu_fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	if (strlen(tmpl) >= sizeof(f->dir)) {
		free(f);
		return NULL;
	}
	strcpy(f->dir, tmpl);
	if (!mkdtemp(f->dir)) {
		free(f);
		return NULL;
	}
	mx_store_config_default(&f->cfg);
	f->cfg.path = f->dir;
	f->cfg.max_size = 64u << 20;
	return f;
}

/* Closes the store, removes the directory, frees; accepts NULL. */
static inline void tu_fixture_free(struct tu_fixture *f)
{
	if (!f)
		return;
	mx_store_close(f->st);
	tu_rm_rf(f->dir);
	free(f);
}

/* Opens f->st with f->cfg; fails the test (with the error) if it can't. */
static inline void tu_open_store(struct tu_fixture *f)
{
	char err[256] = "";
	int rc = mx_store_open(&f->cfg, &f->st, err, sizeof(err));
	if (rc != MX_OK)
		fail_msg("open: %s (%s)", mx_strerror(rc), err);
}

/* ------------------------------------------------------------ clock */

static _Atomic uint64_t tu_now;

static inline uint64_t tu_clock(void)
{
	return atomic_load(&tu_now);
}

/* ------------------------------------------------------------ acks */

/* Counts commit callbacks; a struct tu_acks on the stack starts as
 * TU_ACKS_INIT, one on the heap comes from tu_acks_new(). */

struct tu_acks {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n, n_ok, n_full;
	int last_status;
};

#define TU_ACKS_INIT { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER }

static inline struct tu_acks *tu_acks_new(void)
{
	struct tu_acks *a = calloc(1, sizeof(*a));
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	return a;
}

static inline void tu_acks_free(struct tu_acks *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a);
}

static inline void tu_ack_cb(void *ctx, int status)
{
	struct tu_acks *a = ctx;
	pthread_mutex_lock(&a->mu);
	a->n++;
	a->last_status = status;
	if (status == MX_OK)
		a->n_ok++;
	if (status == MX_EFULL)
		a->n_full++;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

/* Waits (at most `secs` s) until `n` callbacks came; returns whether. */
static inline bool tu_acks_wait(struct tu_acks *a, int n, int secs)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += secs;
	pthread_mutex_lock(&a->mu);
	int rc = 0;
	while (rc == 0 && a->n < n)
		rc = pthread_cond_timedwait(&a->cv, &a->mu, &dl);
	bool ok = a->n >= n;
	pthread_mutex_unlock(&a->mu);
	return ok;
}

/* ------------------------------------------------------------ batches */

static inline void tu_trace_id(uint8_t id[16], uint64_t trace)
{
	for (int i = 0; i < 8; i++) {
		id[i] = (uint8_t)(TU_TRACE_HI >> (56 - 8 * i));
		id[8 + i] = (uint8_t)(trace >> (56 - 8 * i));
	}
}

static inline uint64_t tu_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* A batch of service `svc`: traces first_trace .. first_trace + n_traces
 * - 1, `per_trace` spans each, span id = trace * 1000 + i, attribute
 * "i" = span id and "pad" = `pad` bytes; start times `start` + i µs. */
static inline struct mx_batch *tu_batch(const char *svc, uint64_t first_trace,
				 uint32_t n_traces, uint32_t per_trace,
				 uint32_t pad, uint64_t arrival, uint64_t start)
{
	struct mx_batch *b = mx_batch_new(64u << 20);
	if (!b)
		return NULL;
	struct mx_resource *r = mx_arena_calloc(&b->arena, 1, sizeof(*r));
	struct mx_scope *sc = mx_arena_calloc(&b->arena, 1, sizeof(*sc));
	struct mx_attr *ra = mx_arena_calloc(&b->arena, 1, sizeof(*ra));
	char *padbuf = mx_arena_alloc(&b->arena, pad + 1);
	memset(padbuf, 'p', pad);
	ra->key = mx_batch_str(b, "service.name", 12);
	ra->value.type = MX_VAL_STRING;
	ra->value.u.s = mx_batch_str(b, svc, strlen(svc));
	r->attrs = (struct mx_attrs){ ra, 1 };
	sc->name = mx_batch_str(b, "tu", 2);
	b->received_ns = arrival;
	for (uint32_t t = 0; t < n_traces; t++) {
		uint64_t trace = first_trace + t;
		for (uint32_t i = 0; i < per_trace; i++) {
			struct mx_span *s = mx_batch_add_span(b);
			tu_trace_id(s->trace_id, trace);
			uint64_t id = trace * 1000 + i;
			for (int k = 0; k < 8; k++)
				s->span_id[k] = (uint8_t)(id >> (56 - 8 * k));
			if (i > 0)
				for (int k = 0; k < 8; k++)
					s->parent_span_id[k] =
						(uint8_t)((trace * 1000) >> (56 - 8 * k));
			s->name = mx_batch_str(b, i ? "child" : "root", i ? 5 : 4);
			s->kind = MX_KIND_SERVER;
			s->start_ns = start + i * 1000;
			s->end_ns = s->start_ns + 500;
			struct mx_attr *a = mx_arena_calloc(&b->arena, 2, sizeof(*a));
			a[0].key = mx_batch_str(b, "i", 1);
			a[0].value.type = MX_VAL_INT;
			a[0].value.u.i = (int64_t)id;
			a[1].key = mx_batch_str(b, "pad", 3);
			a[1].value.type = MX_VAL_STRING;
			a[1].value.u.s = (struct mx_str){ padbuf, pad };
			s->attrs = (struct mx_attrs){ a, 2 };
			s->resource = r;
			s->scope = sc;
		}
	}
	return b;
}

/* Submits, retrying while the queue is full (bounded). */
static inline int tu_submit(struct mx_store *st, struct mx_batch *b, struct tu_acks *a)
{
	int rc = MX_EBUSY;
	for (int i = 0; i < 20000 && rc == MX_EBUSY; i++) {
		rc = mx_store_submit(st, b, tu_ack_cb, a);
		if (rc == MX_EBUSY) {
			struct timespec ts = { 0, 1000000 };
			nanosleep(&ts, NULL); /* back-off while the writer drains */
		}
	}
	if (rc != MX_OK)
		mx_batch_free(b);
	return rc;
}

/* Reads trace `trace`: MX_ENOTFOUND, or MX_OK after checking every span
 * (its trace, its attributes matching its id, the pad); *n = spans. A
 * span that does not check out fails with MX_ESTORE. */
static inline int tu_check_trace(struct mx_store *st, uint64_t trace, uint32_t pad,
			  uint32_t *n)
{
	uint8_t id[16];
	struct mx_batch *out = NULL;
	tu_trace_id(id, trace);
	*n = 0;
	int rc = mx_store_get_trace(st, id, false, 100000, &out);
	if (rc != MX_OK)
		return rc;
	for (uint32_t i = 0; i < out->n_spans && rc == MX_OK; i++) {
		const struct mx_span *s = &out->spans[i];
		uint64_t sid = tu_be64(s->span_id);
		if (memcmp(s->trace_id, id, 16) != 0 || sid / 1000 != trace ||
		    s->attrs.n != 2 || s->attrs.items[0].value.type != MX_VAL_INT ||
		    (uint64_t)s->attrs.items[0].value.u.i != sid ||
		    s->attrs.items[1].value.u.s.len != pad || !s->resource)
			rc = MX_ESTORE;
	}
	*n = out->n_spans;
	mx_batch_free(out);
	return rc;
}

/* ------------------------------------------------------------ raw db */

struct tu_counts {
	uint64_t spans, trace_idx, idx_time, idx_svc, idx_log;
	uint64_t min_seq;      /* first span key; 0 when empty */
	uint64_t min_idx_seq;  /* smallest sequence in any index key */
};

/* Counts entries with LMDB directly (the store must be closed). */
static inline int tu_counts(const char *dir, struct tu_counts *c)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_stat ms;
	MDB_cursor *cur;
	MDB_val k, v;
	static const char *names[] = { "spans", "trace_idx", "idx_time",
				       "idx_svc_time", "idx_log" };
	uint64_t *dst[] = { &c->spans, &c->trace_idx, &c->idx_time, &c->idx_svc,
			    &c->idx_log };
	memset(c, 0, sizeof(*c));
	c->min_idx_seq = UINT64_MAX;
	if (mdb_env_create(&env))
		return -1;
	mdb_env_set_maxdbs(env, 32);
	if (mdb_env_open(env, dir, MDB_RDONLY, 0644) ||
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) {
		mdb_env_close(env);
		return -1;
	}
	for (int i = 0; i < 5; i++) {
		if (mdb_dbi_open(txn, names[i], 0, &dbi) || mdb_stat(txn, dbi, &ms))
			continue;
		*dst[i] = ms.ms_entries;
		if (mdb_cursor_open(txn, dbi, &cur))
			continue;
		int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			const uint8_t *p = k.mv_data;
			uint64_t seq = 0;
			if (i == 0) {
				if (!c->min_seq)
					c->min_seq = tu_be64(p);
				break;
			}
			if (i == 4)
				break;
			seq = tu_be64(p + k.mv_size - 8);
			if (seq < c->min_idx_seq)
				c->min_idx_seq = seq;
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return 0;
}

#endif
