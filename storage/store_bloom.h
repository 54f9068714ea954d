/*
 * store_bloom.h - the per-segment tag filters of idx_svc_time records
 * (internal to storage/; layout and hashing: storage/SCHEMA.md, "Tag
 * filter").
 *
 * Each idx_svc_time record carries a small Bloom filter of the "items" of
 * the spans it stands for: every attribute as (key, value), every
 * attribute key and event name as a bare word, the resource's attributes
 * and keys, and the tags the query APIs derive from span fields (error,
 * otel.status_code, span.kind). A search tests its tag conditions against
 * the filter before it reads the segment's spans; only segments that may
 * hold a match are decoded and tested exactly, so a false positive costs
 * time, never a wrong answer.
 *
 * Values are hashed by type (strings and bools as text, ints and doubles
 * by their binary value) so that ingest renders no numbers; a condition's
 * text is turned into every typed item it could be the rendering of.
 *
 * The builder (submitting thread, store_item.c) sets the bits of each
 * (segment, service group)'s items in a full-size filter, counting the
 * distinct ones, and when the segment ends folds it down to the size the
 * count calls for (sizes are powers of two, so folding is exact). The probe side (store_search.c) turns each
 * tag condition into item hashes once per search.
 */
#ifndef MX_STORE_BLOOM_H
#define MX_STORE_BLOOM_H

#include <stdbool.h>
#include <stdint.h>

#include "../model/buf.h"
#include "../model/span.h"
#include "search.h"

#define MX_BLOOM_BITS_PER_ITEM 8u  /* at least; sizes are powers of two */
#define MX_BLOOM_MAX_WORDS 128u    /* 1 KiB; a power of two */
#define MX_BLOOM_MAX_ITEMS (MX_BLOOM_MAX_WORDS * 64u / MX_BLOOM_BITS_PER_ITEM)
#define MX_BLOOM_MAX_GROUPS 256u   /* services per segment with a filter */

/* Where a group's filter is: `words` 64-bit words (0: no filter) at byte
 * `off` of the builder's `words` buffer, already in little-endian order. */
struct mx_bloom_ref {
	uint32_t off;
	uint32_t words;
};

/* Per service group of the current segment. */
struct mx_bloom_grp {
	uint32_t n_items;  /* distinct items so far; > MAX_ITEMS: no filter */
	uint32_t last_res; /* resource whose items were added last */
};

/* Each group's items go into a full-size (MX_BLOOM_MAX_WORDS) scratch
 * filter; at the end of the segment it is folded down to the size its
 * item count calls for. */
struct mx_bloom_build {
	uint64_t *scratch;          /* MX_BLOOM_MAX_WORDS per group */
	struct mx_bloom_grp *grp;   /* by group - seg_first */
	uint32_t n_grp, cap_grp;
	uint32_t seg_first;         /* first group of the current segment */
	struct mx_bloom_ref *refs;  /* by group, of the finished segments */
	uint32_t n_refs;
	/* item hashes of each resource, computed once per batch */
	uint32_t *res_first;        /* per resource index: first + 1, 0: not yet */
	uint32_t *res_count;
	uint32_t n_res_max;
	struct mx_buf res_items;    /* uint64_t hashes */
	struct mx_buf words;        /* the filters of the batch (output) */
	uint64_t derived[11];       /* items of the derived tags */
	uint64_t salt;              /* of the current segment */
};

/* Prepares a builder for a batch of at most `n_res_max` distinct resource
 * indexes. Returns MX_OK or MX_ENOMEM; free with mx_bloom_build_free()
 * either way. */
int mx_bloom_build_init(struct mx_bloom_build *b, uint32_t n_res_max);

/* Frees a builder's memory. Accepts a zeroed builder. */
void mx_bloom_build_free(struct mx_bloom_build *b);

/* Adds the items of span `s` (resource index `res` < n_res_max) to group
 * `grp`. Groups (one per service of a segment) are numbered from 0 across
 * the batch; those of the current segment are numbered from its first on
 * (mx_bloom_seg_finish()); from the segment's MX_BLOOM_MAX_GROUPS-th on
 * they get no filter. Returns MX_OK, MX_ENOMEM or MX_EINVAL (res or grp out
 * of range). */
int mx_bloom_add_span(struct mx_bloom_build *b, uint32_t grp, uint32_t res,
		      const struct mx_span *s);

/* Ends the segment: sizes and writes the filter of each of its groups into
 * b->words; `next` is the first group of the next segment. Returns MX_OK or
 * MX_ENOMEM. */
int mx_bloom_seg_finish(struct mx_bloom_build *b, uint32_t next);

/* The filter of group `grp` of a finished segment ({0, 0}: none). */
struct mx_bloom_ref mx_bloom_ref(const struct mx_bloom_build *b, uint32_t grp);

/* The typed items one tag condition may be found as; the condition may
 * hold in a record only if one of them is in its filter. */
struct mx_bloom_probe {
	uint64_t item[3];
	uint32_t n;
};

/* Computes the probe of condition `c`. */
void mx_bloom_probe_init(struct mx_bloom_probe *p, const struct mx_tag_cond *c);

/* The salt of a record's filter: its trace id's bytes 8..15, read as a
 * little-endian u64. */
uint64_t mx_bloom_salt(const uint8_t trace_id[16]);

/* False when the filter of `words` little-endian 64-bit words at `f` (a
 * power of two, at most MX_BLOOM_MAX_WORDS) with salt `salt` rules out one
 * of the `n` conditions; true otherwise (always when words == 0). */
bool mx_bloom_maybe(const uint8_t *f, uint32_t words, uint64_t salt,
		    const struct mx_bloom_probe *p, uint32_t n);

/* The filter hash (SCHEMA.md): one 64-bit multiply per 8-byte word, then
 * MurmurHash3's finaliser. */
uint64_t mx_bloom_hash(const void *p, size_t n, uint64_t seed);

#endif
