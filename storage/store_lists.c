/*
 * store_lists.c - the name lists of storage/search.h: operations and remote
 * services of a service, and the recorded values of an autocomplete tag key.
 *
 * Each list is one LMDB database whose keys are `prefix ‖ 0x00 ‖ rest`
 * (storage/SCHEMA.md), so a list is one prefix range walked with a cursor,
 * already sorted by bytes. Everything is copied into the caller's arena
 * before the read transaction ends (taken with mx_store_read_begin()).
 */
#include <stdlib.h>
#include <string.h>

#include "../model/error.h"
#include "search.h"
#include "store_int.h"

#define LIST_MAX_PREFIX 1024u

/* Walks the keys that start with `name ‖ 0x00`, calling `add` with the
 * bytes after that prefix. */
static int walk(struct mx_store *st, MDB_dbi dbi, struct mx_str name,
		int (*add)(void *ctx, const uint8_t *p, size_t n), void *ctx)
{
	uint8_t prefix[LIST_MAX_PREFIX + 1];
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	int rc = MX_OK;

	if (name.len == 0 || name.len > LIST_MAX_PREFIX || name.len >= st->max_key ||
	    memchr(name.ptr, 0, name.len))
		return MX_OK; /* nothing can be stored under such a prefix */
	memcpy(prefix, name.ptr, name.len);
	prefix[name.len] = 0;
	size_t plen = name.len + 1;
	if (mx_store_read_begin(st, &txn) != MX_OK)
		return MX_ESTORE;
	if (mdb_cursor_open(txn, dbi, &cur)) {
		rc = MX_ESTORE;
		goto out;
	}
	MDB_val k = { plen, prefix }, v;
	int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	for (; mrc == MDB_SUCCESS; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		rc = add(ctx, (const uint8_t *)k.mv_data + plen, k.mv_size - plen);
		if (rc != MX_OK)
			goto out;
	}
	if (mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
		rc = MX_ESTORE;
out:
	if (cur)
		mdb_cursor_close(cur);
	mx_store_read_end(st, txn);
	return rc;
}

/* A growable array of entries of `size` bytes (malloc'd while walking,
 * copied into the arena at the end). */
struct list {
	struct mx_arena *arena;
	uint8_t *items;
	uint32_t n, cap;
	size_t size;
	int kind; /* operations: the kind wanted, or -1 */
};

static void *list_push(struct list *l)
{
	if (l->n == l->cap) {
		uint32_t ncap = l->cap ? l->cap * 2 : 16;
		if (ncap < l->cap || ncap > (1u << 26))
			return NULL;
		uint8_t *p = realloc(l->items, (size_t)ncap * l->size);
		if (!p)
			return NULL;
		l->items = p;
		l->cap = ncap;
	}
	return l->items + (size_t)l->n++ * l->size;
}

static int list_finish(struct list *l, void **out, uint32_t *n)
{
	void *arr = mx_arena_alloc(l->arena, (size_t)(l->n ? l->n : 1) * l->size);
	if (!arr)
		return MX_ENOMEM;
	if (l->n)
		memcpy(arr, l->items, (size_t)l->n * l->size);
	*out = arr;
	*n = l->n;
	return MX_OK;
}

static int add_name(void *ctx, const uint8_t *p, size_t n)
{
	struct list *l = ctx;
	char *s = mx_arena_strndup(l->arena, (const char *)p, n);
	struct mx_str *e = s ? list_push(l) : NULL;
	if (!e)
		return MX_ENOMEM;
	*e = (struct mx_str){ s, (uint32_t)n };
	return MX_OK;
}

static int add_op(void *ctx, const uint8_t *p, size_t n)
{
	struct list *l = ctx;
	if (n < 1)
		return MX_ESTORE;
	if (l->kind >= 0 && p[0] != l->kind)
		return MX_OK;
	char *s = mx_arena_strndup(l->arena, (const char *)p + 1, n - 1);
	struct mx_operation *e = s ? list_push(l) : NULL;
	if (!e)
		return MX_ENOMEM;
	*e = (struct mx_operation){ { s, (uint32_t)(n - 1) }, p[0] };
	return MX_OK;
}

static int op_cmp(const void *a, const void *b)
{
	const struct mx_operation *x = a, *y = b;
	uint32_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
	int c = n ? memcmp(x->name.ptr, y->name.ptr, n) : 0;
	if (c)
		return c;
	if (x->name.len != y->name.len)
		return x->name.len < y->name.len ? -1 : 1;
	return (int)x->kind - (int)y->kind;
}

int mx_store_operations(struct mx_store *st, struct mx_str service, int kind,
			struct mx_arena *arena, struct mx_operation **ops,
			uint32_t *n)
{
	struct list l = { arena, NULL, 0, 0, sizeof(struct mx_operation), kind };
	if (!ops || !n)
		return MX_EINVAL;
	*ops = NULL;
	*n = 0;
	if (!st || !st->env || !arena)
		return MX_EINVAL;
	service.len = mx_store_utf8_cut(service.ptr, service.len, st->max_key);
	int rc = walk(st, st->dbi_list[MX_LIST_OPERATIONS], service, add_op, &l);
	if (rc == MX_OK) {
		/* keys sort by kind, then name: the contract is name, then kind */
		if (l.n > 1)
			qsort(l.items, l.n, l.size, op_cmp);
		rc = list_finish(&l, (void **)ops, n);
	}
	free(l.items);
	return rc;
}

static int names_of(struct mx_store *st, enum mx_store_list which,
		    struct mx_str name, struct mx_arena *arena,
		    struct mx_str **names, uint32_t *n)
{
	struct list l = { arena, NULL, 0, 0, sizeof(struct mx_str), -1 };
	if (!names || !n)
		return MX_EINVAL;
	*names = NULL;
	*n = 0;
	if (!st || !st->env || !arena)
		return MX_EINVAL;
	name.len = mx_store_utf8_cut(name.ptr, name.len, st->max_key);
	int rc = walk(st, st->dbi_list[which], name, add_name, &l);
	if (rc == MX_OK)
		rc = list_finish(&l, (void **)names, n);
	free(l.items);
	return rc;
}

int mx_store_remote_services(struct mx_store *st, struct mx_str service,
			     struct mx_arena *arena, struct mx_str **names,
			     uint32_t *n)
{
	return names_of(st, MX_LIST_REMOTE, service, arena, names, n);
}

int mx_store_tag_values(struct mx_store *st, struct mx_str key,
			struct mx_arena *arena, struct mx_str **values,
			uint32_t *n)
{
	return names_of(st, MX_LIST_TAG_VALUES, key, arena, values, n);
}
