/*
 * store.c - opening and closing the LMDB span store, the bounded writer
 * queue (mx_store_submit) and the self-metrics (see store.h; the writer
 * thread is in store_writer.c, lookups in store_read.c, the schema in
 * storage/SCHEMA.md).
 *
 * Opening creates the directory and the named databases, checks (or, for a
 * new store, writes) the schema version, clears reader slots left by a
 * crashed process, and derives the next arrival sequence from the last key
 * of `spans`, so nothing but LMDB's own pages has to be consistent after a
 * crash.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../model/error.h"
#include "metrics_int.h"
#include "sgraph_int.h"
#include "span_record.h"
#include "store_int.h"

#define DEFAULT_INITIAL_MAP (64ull << 20)

void mx_store_config_default(struct mx_store_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->path = "./data";
	cfg->max_size = 8ull << 30;
	cfg->sync = MX_SYNC_FULL;
	cfg->queue_max_batches = 1024;
	cfg->queue_max_bytes = 256ull << 20;
	cfg->group_max_batches = 64;
	cfg->group_max_ms = 10;
	cfg->initial_size = DEFAULT_INITIAL_MAP;
	cfg->sweep_spans = 4096;
	cfg->metrics_max_series = 100000;
	cfg->metrics_idle_ns = 600ull * 1000000000ull;
}

int mx_store_mdb_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS: return MX_OK;
	case MDB_NOTFOUND: return MX_ENOTFOUND;
	case MDB_MAP_FULL: return MX_EFULL;
	default: return MX_ESTORE;
	}
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* mkdir -p */
static int make_dirs(const char *path)
{
	char *p = strdup(path);
	int rc = MX_OK;
	if (!p)
		return MX_ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			rc = MX_EIO;
		*s = '/';
		if (rc != MX_OK)
			goto out;
	}
	if (mkdir(p, 0755) != 0 && errno != EEXIST)
		rc = MX_EIO;
out:
	free(p);
	return rc;
}

/* Opens the databases, checks the schema version, finds the next sequence. */
static int open_schema(struct mx_store *st, char *err, size_t errlen)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
	if (rc)
		goto lmdb_fail;
	if ((rc = mdb_dbi_open(txn, MX_DB_META, MDB_CREATE, &st->dbi_meta)))
		goto lmdb_fail;
	k.mv_data = (void *)"schema_version";
	k.mv_size = strlen("schema_version");
	rc = mdb_get(txn, st->dbi_meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		uint8_t ver[4];
		mx_put_le32(ver, MX_STORE_SCHEMA_VERSION);
		v.mv_data = ver;
		v.mv_size = 4;
		if ((rc = mdb_put(txn, st->dbi_meta, &k, &v, 0)))
			goto lmdb_fail;
	} else if (rc) {
		goto lmdb_fail;
	} else if (v.mv_size != 4) {
		seterr(err, errlen, "store %s: corrupt schema_version (%zu bytes)",
		       st->path, v.mv_size);
		mdb_txn_abort(txn);
		return MX_ESTORE;
	} else if (mx_get_le32(v.mv_data) == 3 || mx_get_le32(v.mv_data) == 4) {
		/* version 4 only added databases; 5 reads version 4's counters
		 * (rewritten compactly at the next update) and rollups: upgrade
		 * in place */
		uint8_t ver[4];
		mx_put_le32(ver, MX_STORE_SCHEMA_VERSION);
		v.mv_data = ver;
		v.mv_size = 4;
		if ((rc = mdb_put(txn, st->dbi_meta, &k, &v, 0)))
			goto lmdb_fail;
	} else if (mx_get_le32(v.mv_data) != MX_STORE_SCHEMA_VERSION) {
		seterr(err, errlen,
		       "store %s has schema version %u; this mixd reads version %u "
		       "(use another --storage.path or remove the old store)",
		       st->path, mx_get_le32(v.mv_data), MX_STORE_SCHEMA_VERSION);
		mdb_txn_abort(txn);
		return MX_ESCHEMA;
	}
	if ((rc = mdb_dbi_open(txn, MX_DB_RESOURCES, MDB_CREATE, &st->dbi_res)) ||
	    (rc = mdb_dbi_open(txn, MX_DB_SPANS, MDB_CREATE, &st->dbi_spans)) ||
	    (rc = mdb_dbi_open(txn, MX_DB_TRACE_IDX, MDB_CREATE, &st->dbi_idx)) ||
	    (rc = mdb_dbi_open(txn, MX_DB_SERVICES, MDB_CREATE, &st->dbi_svc)) ||
	    (rc = mdb_dbi_open(txn, MX_DB_STRINGS, MDB_CREATE, &st->dbi_str)) ||
	    (rc = mdb_dbi_open(txn, MX_DB_STRING_IDS, MDB_CREATE, &st->dbi_str_ids)) ||
	    (rc = mdb_dbi_open(txn, MX_DB_IDX_SVC, MDB_CREATE, &st->dbi_isvc)) ||
	    (rc = mdb_dbi_open(txn, MX_DB_IDX_TIME, MDB_CREATE, &st->dbi_itime)) ||
	    (rc = mdb_dbi_open(txn, MX_DB_OPERATIONS, MDB_CREATE,
			       &st->dbi_list[MX_LIST_OPERATIONS])) ||
	    (rc = mdb_dbi_open(txn, MX_DB_REMOTE, MDB_CREATE,
			       &st->dbi_list[MX_LIST_REMOTE])) ||
	    (rc = mdb_dbi_open(txn, MX_DB_TAG_VALUES, MDB_CREATE,
			       &st->dbi_list[MX_LIST_TAG_VALUES])) ||
	    (rc = mdb_dbi_open(txn, MX_DB_IDX_LOG, MDB_CREATE, &st->dbi_log)) ||
	    (rc = mdb_dbi_open(txn, MX_DB_EDGES, MDB_CREATE, &st->dbi_edges)))
		goto lmdb_fail;
	st->dbi_list[MX_LIST_SERVICES] = st->dbi_svc;
	/* the next string id follows the last one stored */
	if ((rc = mdb_cursor_open(txn, st->dbi_str_ids, &cur)))
		goto lmdb_fail;
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND) {
		st->next_string_id = 1; /* 0 is the empty string */
	} else if (rc) {
		goto lmdb_fail;
	} else if (k.mv_size != 4) {
		seterr(err, errlen, "store %s: corrupt string id key", st->path);
		mdb_txn_abort(txn);
		return MX_ESTORE;
	} else {
		const uint8_t *p = k.mv_data;
		uint32_t last = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
				(uint32_t)p[2] << 8 | p[3];
		st->next_string_id = last == UINT32_MAX ? UINT32_MAX : last + 1;
	}
	if ((rc = mdb_cursor_open(txn, st->dbi_spans, &cur)))
		goto lmdb_fail;
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND) {
		st->next_seq = 1;
	} else if (rc) {
		goto lmdb_fail;
	} else if (k.mv_size != 8) {
		seterr(err, errlen, "store %s: corrupt span key", st->path);
		mdb_txn_abort(txn);
		return MX_ESTORE;
	} else {
		st->next_seq = mx_get_be64(k.mv_data) + 1;
	}
	if ((rc = mx_metrics_db_open(st, txn, mx_store_now(st))) != MX_OK) {
		seterr(err, errlen, "store %s: cannot load the metrics series: %s",
		       st->path, mx_strerror(rc));
		mdb_txn_abort(txn);
		return rc;
	}
	st->used_pages = mx_store_used_pages(st, txn);
	atomic_store(&st->st_used_bytes, st->used_pages * st->page_size);
	atomic_store(&st->st_oldest_ns, mx_store_oldest_arrival(st, txn));
	if ((rc = mdb_txn_commit(txn))) {
		txn = NULL;
		goto lmdb_fail;
	}
	return MX_OK;
lmdb_fail:
	if (txn)
		mdb_txn_abort(txn);
	seterr(err, errlen, "store %s: %s", st->path, mdb_strerror(rc));
	return mx_store_mdb_err(rc) == MX_EFULL ? MX_EFULL : MX_ESTORE;
}

/* The map starts small and grows (store_sweep.c): at max(initial_size,
 * the data file's size), never above max_size (LMDB raises it to what the
 * file holds when the file is larger). */
static int open_env(struct mx_store *st, char *err, size_t errlen)
{
	unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t page = pg > 0 ? (uint64_t)pg : 4096;
	uint64_t size = st->cfg.initial_size ? st->cfg.initial_size
					     : DEFAULT_INITIAL_MAP;
	char file[4096];
	struct stat sb;
	int dead = 0;
	int rc;

	snprintf(file, sizeof(file), "%s/data.mdb", st->path);
	if (stat(file, &sb) == 0 && (uint64_t)sb.st_size > size)
		size = (uint64_t)sb.st_size;
	if (size > st->cfg.max_size)
		size = st->cfg.max_size;
	size = (size + page - 1) / page * page;

	if (st->cfg.sync == MX_SYNC_META)
		flags |= MDB_NOMETASYNC;
	else if (st->cfg.sync == MX_SYNC_NONE)
		flags |= MDB_NOSYNC;
	if ((rc = mdb_env_create(&st->env)))
		goto fail;
	if ((rc = mdb_env_set_maxdbs(st->env, 32)) ||
	    (rc = mdb_env_set_mapsize(st->env, (size_t)size)))
		goto fail;
	if ((rc = mdb_env_open(st->env, st->path, flags, 0644)))
		goto fail;
	mdb_reader_check(st->env, &dead);
	st->max_key = (uint32_t)mdb_env_get_maxkeysize(st->env);
	MDB_envinfo info;
	MDB_stat ms;
	if ((rc = mdb_env_info(st->env, &info)) || (rc = mdb_env_stat(st->env, &ms)))
		goto fail;
	st->page_size = ms.ms_psize;
	st->map_size = info.me_mapsize;
	atomic_store(&st->st_map_size, st->map_size);
	atomic_store(&st->st_file_bytes,
		     ((uint64_t)info.me_last_pgno + 1) * st->page_size);
	return MX_OK;
fail:
	seterr(err, errlen, "store %s: %s", st->path, mdb_strerror(rc));
	return rc > 0 ? MX_EIO : MX_ESTORE;
}

/* Splits cfg.autocomplete_keys at commas (blanks around a key ignored,
 * empty keys and duplicates dropped). */
static int parse_ac_keys(struct mx_store *st)
{
	const char *src = st->cfg.autocomplete_keys;
	st->cfg.autocomplete_keys = NULL;
	if (!src || !*src)
		return MX_OK;
	size_t n = strlen(src);
	st->ac_buf = malloc(n + 1);
	st->ac_keys = calloc(n / 2 + 1, sizeof(*st->ac_keys));
	if (!st->ac_buf || !st->ac_keys)
		return MX_ENOMEM;
	memcpy(st->ac_buf, src, n + 1);
	st->cfg.autocomplete_keys = st->ac_buf;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && src[j] != ',')
			j++;
		size_t a = i, b = j;
		while (a < b && (src[a] == ' ' || src[a] == '\t'))
			a++;
		while (b > a && (src[b - 1] == ' ' || src[b - 1] == '\t'))
			b--;
		struct mx_str key = { st->ac_buf + a, (uint32_t)(b - a) };
		bool dup = key.len == 0;
		for (uint32_t k = 0; k < st->n_ac_keys && !dup; k++)
			dup = mx_str_eq(st->ac_keys[k], key.ptr, key.len);
		if (!dup)
			st->ac_keys[st->n_ac_keys++] = key;
		i = j + 1;
	}
	return MX_OK;
}

int mx_store_open(const struct mx_store_config *cfg, struct mx_store **out,
		  char *err, size_t errlen)
{
	struct mx_store *st = NULL;
	int rc = MX_EINVAL;

	*out = NULL;
	if (!cfg || !cfg->path || !*cfg->path || cfg->max_size == 0 ||
	    cfg->queue_max_batches == 0 || cfg->queue_max_bytes == 0 ||
	    cfg->group_max_batches == 0 || cfg->sync > MX_SYNC_NONE) {
		seterr(err, errlen, "store: invalid configuration");
		return MX_EINVAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return MX_ENOMEM;
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	pthread_cond_init(&st->cv_sweep, NULL);
	pthread_rwlockattr_t ra;
	pthread_rwlockattr_init(&ra);
	/* a waiting resize holds back new readers, so queries cannot
	 * starve it */
	pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	st->gate_init = pthread_rwlock_init(&st->gate, &ra) == 0;
	pthread_rwlockattr_destroy(&ra);
	atomic_init(&st->ready, false);
	st->cfg = *cfg;
	st->path = strdup(cfg->path);
	st->res_cache = calloc(MX_STORE_RES_CACHE, sizeof(*st->res_cache));
	st->svc_set = calloc(MX_STORE_SVC_CAP, sizeof(*st->svc_set));
	st->intern_tab = calloc(MX_STORE_INTERN_CAP, sizeof(*st->intern_tab));
	st->intern_pool = malloc(MX_STORE_INTERN_POOL);
	st->metrics = mx_metrics_new(cfg->metrics_max_series ? cfg->metrics_max_series : 100000,
				     cfg->metrics_idle_ns, cfg->retention_ns);
	st->sgraph = mx_sgraph_new();
	if (!st->path || !st->metrics || !st->sgraph || !st->res_cache ||
	    !st->svc_set || !st->intern_tab ||
	    !st->intern_pool || !st->gate_init || parse_ac_keys(st) != MX_OK) {
		rc = MX_ENOMEM;
		goto fail;
	}
	st->cfg.path = st->path;
	if (make_dirs(st->path) != MX_OK) {
		seterr(err, errlen, "store %s: cannot create directory: %s",
		       st->path, strerror(errno));
		rc = MX_EIO;
		goto fail;
	}
	if ((rc = open_env(st, err, errlen)) != MX_OK ||
	    (rc = open_schema(st, err, errlen)) != MX_OK)
		goto fail;
	if (pthread_create(&st->writer, NULL, mx_store_writer_main, st) != 0) {
		seterr(err, errlen, "store: cannot start the writer thread");
		rc = MX_ESTORE;
		goto fail;
	}
	st->writer_started = true;
	pthread_setname_np(st->writer, "mixd-writer"); /* for top, perf */
	atomic_store(&st->ready, true);
	*out = st;
	return MX_OK;
fail:
	mx_store_close(st);
	return rc;
}

/* Queues a batch, with a report to apply when `report` is not NULL (the
 * item then keeps the batch, which holds the report). */
static int submit(struct mx_store *st, struct mx_batch *batch,
		  struct mx_report *report, mx_commit_cb cb, void *ctx)
{
	struct mx_store_item *it = NULL;
	int rc;
	if (!st || !batch || !cb)
		return MX_EINVAL;

	/* cheap early answers before spending time on encoding */
	pthread_mutex_lock(&st->mu);
	bool stopping = st->stopping;
	bool full = st->q_batches >= st->cfg.queue_max_batches;
	pthread_mutex_unlock(&st->mu);
	if (stopping)
		return MX_ESHUTDOWN;
	if (full) {
		atomic_fetch_add(&st->st_busy, 1);
		return MX_EBUSY;
	}

	struct mx_store_build_opts o = {
		st->cfg.queue_max_bytes, st->max_key, st->ac_keys, st->n_ac_keys
	};
	rc = mx_store_item_build(batch, &o, &it);
	if (rc != MX_OK)
		return rc == MX_EDEPTH ? MX_EINVAL : rc;
	it->cb = cb;
	it->ctx = ctx;
	if (report) {
		rc = mx_mitem_build(batch, report, &it->mitem);
		if (rc != MX_OK) {
			mx_store_item_free(it);
			return rc;
		}
		/* the aggregates count against the queue like encoded spans */
		it->bytes += (uint64_t)it->mitem->n_upd *
				     (sizeof(struct mx_request_agg) + sizeof(struct mx_mupd)) +
			     it->mitem->keys_len;
	}
	/* the service graph's facts, while the batch is at hand (sgraph.h);
	 * without them the batch is still stored */
	if (mx_sg_facts_build(batch, &it->sg) != MX_OK)
		atomic_fetch_add(&st->sgraph->st_facts_failed, 1);
	else if (it->sg)
		it->bytes += it->sg->bytes;

	pthread_mutex_lock(&st->mu);
	if (st->stopping) {
		rc = MX_ESHUTDOWN;
	} else if (st->q_batches >= st->cfg.queue_max_batches ||
		   (st->q_batches > 0 &&
		    st->q_bytes + it->bytes > st->cfg.queue_max_bytes)) {
		/* an empty queue takes any batch whose records fit the cap, so
		 * that a large batch cannot be refused forever */
		rc = MX_EBUSY;
	} else {
		if (st->tail)
			st->tail->next = it;
		else
			st->head = it;
		st->tail = it;
		st->q_batches++;
		st->q_bytes += it->bytes;
		atomic_store(&st->st_qbatches, st->q_batches);
		atomic_store(&st->st_qbytes, st->q_bytes);
		pthread_cond_signal(&st->cv);
		it = NULL;
	}
	pthread_mutex_unlock(&st->mu);
	if (rc == MX_EBUSY)
		atomic_fetch_add(&st->st_busy, 1);
	if (it) {
		if (it->mitem)
			it->mitem->batch = NULL; /* the caller keeps it */
		mx_store_item_free(it);
		return rc;
	}
	/* the records are queued: the batch is no longer needed, unless the
	 * item applies a report that lives in it */
	if (!report)
		mx_batch_free(batch);
	return MX_OK;
}

int mx_store_submit(struct mx_store *st, struct mx_batch *batch,
		    mx_commit_cb cb, void *ctx)
{
	return submit(st, batch, NULL, cb, ctx);
}

int mx_store_submit_report(struct mx_store *st, struct mx_batch *batch,
			   struct mx_report *report, mx_commit_cb cb, void *ctx)
{
	if (!report)
		return MX_EINVAL;
	return submit(st, batch, report, cb, ctx);
}


void mx_store_shutdown(struct mx_store *st)
{
	if (!st)
		return;
	pthread_mutex_lock(&st->mu);
	st->stopping = true;
	bool join = st->writer_started && !st->join_claimed;
	st->join_claimed = true;
	pthread_cond_broadcast(&st->cv);
	pthread_mutex_unlock(&st->mu);
	if (join) {
		pthread_join(st->writer, NULL);
		atomic_store(&st->ready, false);
	}
}

void mx_store_close(struct mx_store *st)
{
	if (!st)
		return;
	mx_store_shutdown(st);
	if (st->env)
		mdb_env_close(st->env);
	if (st->svc_set)
		mx_store_svc_set_clear(st);
	pthread_mutex_destroy(&st->mu);
	pthread_cond_destroy(&st->cv);
	pthread_cond_destroy(&st->cv_sweep);
	if (st->gate_init)
		pthread_rwlock_destroy(&st->gate);
	free(st->log_buf);
	free(st->svc_set);
	free(st->intern_tab);
	free(st->intern_pool);
	free(st->ac_keys);
	free(st->ac_buf);
	free(st->res_cache);
	mx_metrics_free(st->metrics);
	mx_sgraph_free(st->sgraph);
	free(st->path);
	free(st);
}

bool mx_store_ready(const struct mx_store *st)
{
	return st && atomic_load(&st->ready);
}

void mx_store_get_stats(const struct mx_store *st, struct mx_store_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!st)
		return;
	/* atomics only: the environment is not touched, since the writer
	 * may be remapping it */
	out->committed_spans = atomic_load(&st->st_spans);
	out->committed_batches = atomic_load(&st->st_batches);
	out->commits = atomic_load(&st->st_commits);
	out->commit_failures = atomic_load(&st->st_failures);
	out->refused_busy = atomic_load(&st->st_busy);
	out->queue_batches = atomic_load(&st->st_qbatches);
	out->queue_bytes = atomic_load(&st->st_qbytes);
	out->last_commit_us = atomic_load(&st->st_last_commit_us);
	out->map_size = atomic_load(&st->st_map_size);
	out->max_size = st->cfg.max_size;
	out->used_bytes = atomic_load(&st->st_used_bytes);
	out->file_bytes = atomic_load(&st->st_file_bytes);
	out->oldest_arrival_ns = atomic_load(&st->st_oldest_ns);
	out->expired_spans = atomic_load(&st->st_expired);
	out->evicted_spans = atomic_load(&st->st_evicted);
	out->sweeps = atomic_load(&st->st_sweeps);
	out->map_grows = atomic_load(&st->st_grows);
	out->full_refusals = atomic_load(&st->st_full);
	out->commit_us_sum = atomic_load(&st->st_commit_us_sum);
	for (int i = 0; i < MX_STORE_COMMIT_BUCKETS; i++)
		out->commit_us_hist[i] = atomic_load(&st->st_commit_hist[i]);
	for (int i = 0; i < MX_STORE_GROUP_BUCKETS; i++)
		out->group_batches_hist[i] = atomic_load(&st->st_group_hist[i]);
}

int mx_store_sweep(struct mx_store *st)
{
	if (!st)
		return MX_EINVAL;
	int rc = MX_OK;
	pthread_mutex_lock(&st->mu);
	if (!st->writer_started || st->stopping || st->writer_exited) {
		pthread_mutex_unlock(&st->mu);
		return MX_ESHUTDOWN;
	}
	uint64_t want = ++st->sweep_req;
	pthread_cond_signal(&st->cv);
	while (st->sweep_done < want && !st->writer_exited)
		pthread_cond_wait(&st->cv_sweep, &st->mu);
	if (st->sweep_done < want)
		rc = MX_ESHUTDOWN;
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int mx_store_parse_duration(const char *s, uint64_t *ns)
{
	static const struct { const char *u; uint64_t mult; } units[] = {
		{ "ns", 1ull }, { "us", 1000ull }, { "\xc2\xb5s", 1000ull },
		{ "ms", 1000000ull }, { "s", 1000000000ull },
		{ "m", 60ull * 1000000000ull }, { "h", 3600ull * 1000000000ull },
		{ "d", 86400ull * 1000000000ull },
	};
	uint64_t total = 0;
	if (!s || !*s || !ns)
		return MX_EINVAL;
	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return MX_OK;
	}
	while (*s) {
		if (*s < '0' || *s > '9')
			return MX_EINVAL;
		uint64_t v = 0;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (v > (UINT64_MAX - 9) / 10)
				return MX_EINVAL;
			v = v * 10 + (uint64_t)(*s - '0');
		}
		size_t best = 0;
		uint64_t mult = 0;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t n = strlen(units[i].u);
			/* the longest unit that matches ("ms" before "m") */
			if (n > best && strncmp(s, units[i].u, n) == 0) {
				best = n;
				mult = units[i].mult;
			}
		}
		if (!best || v > UINT64_MAX / mult || total > UINT64_MAX - v * mult)
			return MX_EINVAL;
		total += v * mult;
		s += best;
	}
	*ns = total;
	return MX_OK;
}
