/*
 * store_item_int.h - what the two halves of building a storage item share:
 * store_item.c (records, segments, groups, name lists) and store_ient.c
 * (the search index entries built from the segments and groups). Private to
 * storage/.
 */
#ifndef MX_STORE_ITEM_INT_H
#define MX_STORE_ITEM_INT_H

#include <stdint.h>
#include <stdlib.h>

#include "../model/buf.h"
#include "../model/error.h"
#include "store_bloom.h"
#include "store_int.h"

/* Open addressing table of indexes (slot = index + 1, 0 = empty). */
struct itab {
	uint32_t *slot;
	uint32_t mask;
};

static inline int itab_init(struct itab *t, uint32_t n_max)
{
	uint32_t cap = 16;
	while (cap < 2u * n_max && cap < (1u << 30))
		cap *= 2;
	t->slot = calloc(cap, sizeof(*t->slot));
	t->mask = cap - 1;
	return t->slot ? MX_OK : MX_ENOMEM;
}

/* Probe sequence helpers: the caller loops while a slot is occupied. */
static inline uint32_t itab_start(const struct itab *t, uint64_t h)
{
	return (uint32_t)(h ^ (h >> 32)) & t->mask;
}

static inline uint32_t itab_next(const struct itab *t, uint32_t i)
{
	return (i + 1) & t->mask;
}

static inline uint64_t int_hash(uint64_t a, uint64_t b)
{
	uint64_t x = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x7f4a7c159e3779b9ULL);
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 29);
}

/* The spans of one service (op == MX_STORE_NO_NAME) or one (service,
 * operation) in a segment; svc and op index the item's names. */
struct mx_store_grp {
	uint32_t svc;
	uint32_t op;
	uint32_t seg;
	struct mx_store_stat stat;
	uint32_t bl; /* service groups: their tag filter's group in the item's bloom build */
};

/* Appends to `data` the search index values and to `ients` their
 * descriptors (struct mx_store_ient) for the `n_segs` segments and their
 * `n_grps` groups (stored segment by segment): one entry per (index,
 * service, time bucket), its segment records in arrival order, cut to
 * MX_IVAL_MAX bytes (layout in storage/SCHEMA.md). Returns MX_OK or
 * MX_ENOMEM. */
int mx_store_build_ients(const uint8_t *segs_bytes, uint32_t n_segs,
			 const struct mx_store_grp *grps, uint32_t n_grps,
			 const struct mx_store_name_ref *names,
			 const struct mx_bloom_build *bloom, struct mx_buf *data,
			 struct mx_buf *ients);

#endif
