/*
 * sgraph_db.c - the `edges` database of the service graph (see sgraph.h
 * and storage/SCHEMA.md, "Service graph"): dependency counts per 1-minute
 * bucket, parent and child.
 *
 * Pairs found after a commit add to a small pending map (writer only);
 * the writer's next transaction - the next group's, or the idle tick's
 * about a second later - adds the pending counts to the stored rows, and
 * only its commit empties the map, so an aborted or replayed transaction
 * loses nothing and counts nothing twice. The same hook deletes rows
 * older than the retention in small steps. Reads sum the rows of a window
 * per (parent, child) in a read transaction.
 */
#include <stdlib.h>
#include <string.h>

#include "../model/error.h"
#include "sgraph_int.h"
#include "span_record.h"
#include "store_int.h"

#define KEY_MAX (4u + 2u * MX_SG_NAME_MAX + 1u)
#define VAL_LEN 16u
#define MAINT_EVERY_NS 1000000000ull
#define EXPIRE_STEP 4096u
#define READ_ROWS_MAX (64u << 20) /* rows one read may sum */

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint32_t bucket_of(uint64_t ns)
{
	uint64_t b = ns / MX_SG_BUCKET_NS;
	return b > UINT32_MAX ? UINT32_MAX : (uint32_t)b;
}

/* ---------------------------------------------------------- pending */

void mx_sg_dep_add(struct mx_sgraph *g, struct mx_str parent,
		   struct mx_str child, uint64_t t_ns, bool failed)
{
	uint8_t key[KEY_MAX];
	if (!parent.len || !child.len || parent.len > MX_SG_NAME_MAX ||
	    child.len > MX_SG_NAME_MAX)
		return;
	put_be32(key, bucket_of(t_ns));
	memcpy(key + 4, parent.ptr, parent.len);
	key[4 + parent.len] = 0;
	memcpy(key + 5 + parent.len, child.ptr, child.len);
	uint32_t len = 5 + parent.len + child.len;
	uint64_t h = mx_hash64(key, len, MX_SG_SEED);
	if (!mx_sg_index_reserve(&g->dep_idx)) {
		atomic_fetch_add(&g->st_dep_dropped, 1);
		return;
	}
	uint32_t i = mx_sg_index_start(&g->dep_idx, h);
	for (; g->dep_idx.s[i].pos; i = mx_sg_index_next(&g->dep_idx, i)) {
		struct mx_sg_dep *d = &g->deps[g->dep_idx.s[i].pos - 1];
		if (d->hash == h && d->key_len == len &&
		    memcmp(g->dep_keys.data + d->key_off, key, len) == 0) {
			d->calls++;
			d->errors += failed;
			return;
		}
	}
	if (g->n_deps == g->cap_deps) {
		uint32_t cap = g->cap_deps ? g->cap_deps * 2 : 64;
		struct mx_sg_dep *v = NULL;
		if (cap <= MX_SG_MAX_PENDING_DEPS)
			v = realloc(g->deps, cap * sizeof(*v));
		if (!v) {
			atomic_fetch_add(&g->st_dep_dropped, 1);
			return;
		}
		g->deps = v;
		g->cap_deps = cap;
	}
	uint32_t off = (uint32_t)g->dep_keys.len;
	if (mx_buf_append(&g->dep_keys, key, len) != MX_OK) {
		g->dep_keys.failed = false; /* the earlier keys are intact */
		atomic_fetch_add(&g->st_dep_dropped, 1);
		return;
	}
	g->deps[g->n_deps] = (struct mx_sg_dep){ h, off, len, 1, failed };
	mx_sg_index_put(&g->dep_idx, i, h, g->n_deps++);
}

void mx_sg_txn_end(struct mx_sgraph *g, bool ok)
{
	if (!g || !ok || g->n_deps == 0)
		return;
	g->n_deps = 0;
	mx_sg_index_clear(&g->dep_idx);
	mx_buf_reset(&g->dep_keys);
}

void mx_sg_deps_free(struct mx_sgraph *g)
{
	free(g->deps);
	g->deps = NULL;
	g->n_deps = g->cap_deps = 0;
	mx_sg_index_free(&g->dep_idx);
	mx_buf_free(&g->dep_keys);
}

/* ---------------------------------------------------------- writer */

/* Deletes rows of buckets before now - retention from the front. */
static int expire_rows(struct mx_store *st, MDB_txn *txn, uint64_t now,
		       uint64_t *deleted)
{
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	uint64_t ret = st->cfg.retention_ns;
	*deleted = 0;
	if (!ret || now <= ret)
		return MX_OK;
	uint32_t cutoff = bucket_of(now - ret);
	int rc = mdb_cursor_open(txn, st->dbi_edges, &cur);
	if (rc)
		return mx_store_mdb_err(rc);
	/* after a delete, LMDB's MDB_NEXT gives the row that followed it */
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	     rc == MDB_SUCCESS && *deleted < EXPIRE_STEP;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < 4 || get_be32(k.mv_data) >= cutoff)
			break;
		if ((rc = mdb_cursor_del(cur, 0)))
			break;
		(*deleted)++;
	}
	mdb_cursor_close(cur);
	return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? MX_OK : mx_store_mdb_err(rc);
}

int mx_sg_flush(struct mx_store *st, MDB_txn *txn, uint64_t now, bool *changed)
{
	struct mx_sgraph *g = st->sgraph;
	uint8_t vb[VAL_LEN];
	*changed = false;
	if (!g)
		return MX_OK;
	for (uint32_t i = 0; i < g->n_deps; i++) {
		const struct mx_sg_dep *d = &g->deps[i];
		MDB_val k = { d->key_len, g->dep_keys.data + d->key_off }, v;
		uint64_t calls = d->calls, errors = d->errors;
		if (d->key_len > st->max_key)
			continue;
		int rc = mdb_get(txn, st->dbi_edges, &k, &v);
		if (rc == MDB_SUCCESS && v.mv_size == VAL_LEN) {
			calls += mx_get_le64(v.mv_data);
			errors += mx_get_le64((const uint8_t *)v.mv_data + 8);
		} else if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
			return mx_store_mdb_err(rc);
		}
		mx_put_le64(vb, calls);
		mx_put_le64(vb + 8, errors);
		v.mv_size = VAL_LEN;
		v.mv_data = vb;
		if ((rc = mdb_put(txn, st->dbi_edges, &k, &v, 0)))
			return mx_store_mdb_err(rc);
		*changed = true;
	}
	if (now >= g->last_maint_ns && now - g->last_maint_ns < MAINT_EVERY_NS)
		return MX_OK;
	g->last_maint_ns = now;
	uint64_t deleted = 0;
	int rc = expire_rows(st, txn, now, &deleted);
	if (rc != MX_OK)
		return rc;
	if (deleted) {
		/* counted now; an aborted transaction repeats the work */
		atomic_fetch_add(&g->st_rows_expired, deleted);
		*changed = true;
	}
	return MX_OK;
}

int mx_sg_idle(struct mx_store *st, MDB_txn *txn, uint64_t now, bool *changed)
{
	*changed = false;
	if (!st->sgraph)
		return MX_OK;
	mx_sg_expire(st->sgraph, now);
	return mx_sg_flush(st, txn, now, changed);
}

void mx_sg_shutdown(struct mx_store *st)
{
	struct mx_sgraph *g = st->sgraph;
	MDB_txn *txn = NULL;
	bool changed = false;
	if (!g || g->n_deps == 0 || mdb_txn_begin(st->env, NULL, 0, &txn))
		return;
	if (mx_sg_flush(st, txn, mx_store_now(st), &changed) == MX_OK &&
	    mdb_txn_commit(txn) == MDB_SUCCESS)
		mx_sg_txn_end(g, true);
	else
		mdb_txn_abort(txn);
}

/* ---------------------------------------------------------- reads */

struct row {
	const uint8_t *suffix; /* parent 0x00 child, in the arena */
	uint32_t len;
	uint64_t calls, errors;
};

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	uint32_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->suffix, y->suffix, n);
	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

int mx_store_dependencies(struct mx_store *st, uint64_t t0_ns, uint64_t t1_ns,
			  struct mx_arena *arena, struct mx_dep_link **out,
			  uint32_t *n)
{
	struct mx_sg_index idx = { 0 };
	struct row *rows = NULL;
	uint32_t n_rows = 0, cap = 0;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	uint8_t kb[4];
	int ret = MX_OK, rc;

	*out = NULL;
	*n = 0;
	if (!st || t1_ns < t0_ns)
		return st ? MX_OK : MX_EINVAL;
	uint32_t b0 = bucket_of(t0_ns), b1 = bucket_of(t1_ns);
	if (!mx_sg_index_init(&idx, 256))
		return MX_ENOMEM;
	if ((ret = mx_store_read_begin(st, &txn)) != MX_OK)
		goto out;
	if ((rc = mdb_cursor_open(txn, st->dbi_edges, &cur))) {
		ret = mx_store_mdb_err(rc);
		goto out;
	}
	put_be32(kb, b0);
	k.mv_size = 4;
	k.mv_data = kb;
	uint64_t scanned = 0;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *p = k.mv_data;
		if (k.mv_size < 7 || get_be32(p) > b1)
			break;
		if (v.mv_size != VAL_LEN || ++scanned > READ_ROWS_MAX)
			continue;
		const uint8_t *suf = p + 4;
		uint32_t len = (uint32_t)k.mv_size - 4;
		uint64_t h = mx_hash64(suf, len, MX_SG_SEED);
		struct row *r = NULL;
		uint32_t i = mx_sg_index_start(&idx, h);
		for (; idx.s[i].pos; i = mx_sg_index_next(&idx, i)) {
			struct row *c = &rows[idx.s[i].pos - 1];
			if (idx.s[i].hash == h && c->len == len &&
			    memcmp(c->suffix, suf, len) == 0) {
				r = c;
				break;
			}
		}
		if (!r) {
			if (n_rows == cap) {
				uint32_t nc = cap ? cap * 2 : 64;
				struct row *nr = realloc(rows, nc * sizeof(*nr));
				if (!nr) {
					ret = MX_ENOMEM;
					goto out;
				}
				rows = nr;
				cap = nc;
			}
			uint8_t *copy = mx_arena_alloc(arena, len);
			if (!copy) {
				ret = MX_ENOMEM;
				goto out;
			}
			memcpy(copy, suf, len);
			r = &rows[n_rows];
			*r = (struct row){ copy, len, 0, 0 };
			mx_sg_index_put(&idx, i, h, n_rows++);
			if (!mx_sg_index_reserve(&idx)) {
				ret = MX_ENOMEM;
				goto out;
			}
		}
		r->calls += mx_get_le64(v.mv_data);
		r->errors += mx_get_le64((const uint8_t *)v.mv_data + 8);
	}
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) {
		ret = mx_store_mdb_err(rc);
		goto out;
	}
	if (n_rows)
		qsort(rows, n_rows, sizeof(*rows), row_cmp);
	struct mx_dep_link *links = mx_arena_calloc(arena, n_rows ? n_rows : 1,
						    sizeof(*links));
	if (!links) {
		ret = MX_ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < n_rows; i++) {
		const uint8_t *z = memchr(rows[i].suffix, 0, rows[i].len);
		uint32_t pl = z ? (uint32_t)(z - rows[i].suffix) : rows[i].len;
		links[i].parent = (struct mx_str){ (const char *)rows[i].suffix, pl };
		links[i].child = (struct mx_str){
			(const char *)rows[i].suffix + (z ? pl + 1 : pl),
			z ? rows[i].len - pl - 1 : 0
		};
		links[i].calls = rows[i].calls;
		links[i].errors = rows[i].errors;
	}
	*out = links;
	*n = n_rows;
out:
	if (cur)
		mdb_cursor_close(cur);
	mx_store_read_end(st, txn);
	mx_sg_index_free(&idx);
	free(rows);
	return ret;
}
