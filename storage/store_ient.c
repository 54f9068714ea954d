/*
 * store_ient.c - building the search index entries of a storage item on the
 * submitting thread: one value per (index, service, time bucket) holding a
 * record per segment (statistics, operation-name hashes, tag filter), so the
 * writer puts a few entries per batch. Layout: storage/SCHEMA.md.
 */
#include <stdlib.h>
#include <string.h>

#include "span_record.h"
#include "store_item_int.h"

/* ------------------------------------------------ search index entries */

/* An index entry being collected: its records are a chain through
 * `next` (in segment order). */
struct ient_acc {
	uint64_t bucket;
	uint32_t svc;
	uint8_t kind;
	uint32_t head, tail, n;
};

/* One segment record: the segment, the statistics of the spans the entry
 * stands for and, for idx_svc_time, the hashes of their operations
 * (ophash[ops .. ops + n_ops), or n_ops == MX_IREC_NO_OPS) and their tag
 * filter. */
struct irec {
	uint32_t seg;
	uint32_t next; /* UINT32_MAX: last */
	const struct mx_store_stat *stat;
	uint32_t ops, n_ops;
	struct mx_bloom_ref filt;
};

struct ient_build {
	struct ient_acc *acc;
	uint32_t n_acc;
	struct irec *rec;
	uint32_t n_rec;
	uint32_t *ophash;
	uint32_t n_ophash;
	const uint8_t *fwords; /* the filters' bytes */
	struct itab tab;
};

static void ient_add(struct ient_build *ib, uint8_t kind, uint32_t svc,
		     const struct irec *rec)
{
	uint64_t bucket = rec->stat->min_start >> MX_TIME_BUCKET_SHIFT;
	uint64_t h = int_hash(svc, bucket * 2 + kind);
	uint32_t i = itab_start(&ib->tab, h), a;
	for (; ib->tab.slot[i]; i = itab_next(&ib->tab, i)) {
		a = ib->tab.slot[i] - 1;
		const struct ient_acc *x = &ib->acc[a];
		if (x->kind == kind && x->svc == svc && x->bucket == bucket)
			goto found;
	}
	a = ib->n_acc++;
	ib->acc[a] = (struct ient_acc){ bucket, svc, kind, UINT32_MAX, UINT32_MAX, 0 };
	ib->tab.slot[i] = a + 1;
found:;
	uint32_t r = ib->n_rec++;
	ib->rec[r] = *rec;
	ib->rec[r].next = UINT32_MAX;
	struct ient_acc *x = &ib->acc[a];
	if (x->tail == UINT32_MAX)
		x->head = r;
	else
		ib->rec[x->tail].next = r;
	x->tail = r;
	x->n++;
}

static uint32_t irec_len(const struct irec *r)
{
	return MX_IREC_FIXED + (r->n_ops == MX_IREC_NO_OPS ? 0 : 4 * r->n_ops) +
	       8 * r->filt.words;
}

/* Writes the value record of `r` (layout in storage/SCHEMA.md). */
static void irec_put(uint8_t *p, const struct ient_build *ib,
		     const struct mx_store_seg *g, uint32_t rel,
		     const struct irec *r)
{
	const struct mx_store_stat *st = r->stat;
	mx_put_le32(p, rel);
	mx_put_le32(p + 4, g->count);
	memcpy(p + 8, g->trace_id, 16);
	mx_put_le64(p + 24, st->min_start);
	mx_put_le64(p + 32, st->max_start);
	mx_put_le64(p + 40, st->min_dur);
	mx_put_le64(p + 48, st->max_dur);
	p[MX_IREC_OFF_NOPS] = (uint8_t)r->n_ops;
	p[MX_IREC_OFF_NOPS + 1] = (uint8_t)(r->n_ops >> 8);
	p[MX_IREC_OFF_NFW] = (uint8_t)r->filt.words;
	p[MX_IREC_OFF_NFW + 1] = (uint8_t)(r->filt.words >> 8);
	p += MX_IREC_FIXED;
	if (r->n_ops != MX_IREC_NO_OPS)
		for (uint32_t i = 0; i < r->n_ops; i++, p += 4)
			mx_put_le32(p, ib->ophash[r->ops + i]);
	if (r->filt.words)
		memcpy(p, ib->fwords + r->filt.off, 8 * (size_t)r->filt.words);
}

/* Writes the entries collected in `ib`: each chain cut in runs whose value
 * stays within MX_IVAL_MAX bytes. */
static int ient_emit(const struct mx_store_seg *segs, const struct ient_build *ib,
		     struct mx_buf *data, struct mx_buf *ients)
{
	for (uint32_t a = 0; a < ib->n_acc; a++) {
		const struct ient_acc *x = &ib->acc[a];
		uint32_t r = x->head;
		while (r != UINT32_MAX) {
			/* the run: r .. end (exclusive), its value length */
			uint32_t len = 4, n = 0, end = r;
			while (end != UINT32_MAX &&
			       (n == 0 || len + irec_len(&ib->rec[end]) <= MX_IVAL_MAX)) {
				len += irec_len(&ib->rec[end]);
				n++;
				end = ib->rec[end].next;
			}
			uint32_t first = segs[ib->rec[r].seg].seq_off;
			struct mx_store_ient e = { x->svc, x->bucket, data->len, len,
						   first, x->kind };
			if (mx_buf_reserve(data, len) != MX_OK ||
			    mx_buf_append(ients, &e, sizeof(e)) != MX_OK)
				return MX_ENOMEM;
			uint8_t *p = data->data + data->len;
			mx_put_le32(p, n);
			p += 4;
			for (; r != end; r = ib->rec[r].next) {
				const struct mx_store_seg *g = &segs[ib->rec[r].seg];
				irec_put(p, ib, g, g->seq_off - first, &ib->rec[r]);
				p += irec_len(&ib->rec[r]);
			}
			data->len += len;
		}
	}
	return MX_OK;
}

/* mx_store_build_ients(): the segments and their groups become search index entries: one per
 * (index, service, time bucket) with its segments in arrival order, so the
 * writer puts a few entries per batch instead of one per segment. A
 * service's record lists the hashes of its operations in the segment (the
 * (service, operation) groups). Linear: chains in a hash table, no sort. */
int mx_store_build_ients(const uint8_t *segs_bytes, uint32_t n_segs,
			 const struct mx_store_grp *grps, uint32_t n_grps,
			 const struct mx_store_name_ref *names,
			 const struct mx_bloom_build *bloom, struct mx_buf *data,
			 struct mx_buf *ients)
{
	const struct mx_store_seg *segs = (const struct mx_store_seg *)segs_bytes;
	struct ient_build ib;
	uint32_t n = n_segs + n_grps;
	int rc = MX_ENOMEM;
	memset(&ib, 0, sizeof(ib));
	ib.fwords = bloom->words.data;
	if (n == 0)
		return MX_OK;
	ib.acc = malloc((size_t)n * sizeof(*ib.acc));
	ib.rec = malloc((size_t)n * sizeof(*ib.rec));
	ib.ophash = malloc((size_t)n * sizeof(*ib.ophash));
	if (!ib.acc || !ib.rec || !ib.ophash || itab_init(&ib.tab, n) != MX_OK)
		goto out;
	/* groups are stored segment by segment: g0 .. g1 are segment i's */
	for (uint32_t i = 0, g0 = 0; i < n_segs; i++) {
		struct irec r = { i, 0, &segs[i].stat, 0, MX_IREC_NO_OPS, { 0, 0 } };
		uint32_t g1 = g0;
		while (g1 < n_grps && grps[g1].seg == i)
			g1++;
		ient_add(&ib, MX_IK_TIME, MX_STORE_NO_NAME, &r);
		for (uint32_t g = g0; g < g1; g++) {
			if (grps[g].op != MX_STORE_NO_NAME)
				continue;
			r = (struct irec){ i, 0, &grps[g].stat, ib.n_ophash, 0,
					   mx_bloom_ref(bloom, grps[g].bl) };
			for (uint32_t o = g0; o < g1; o++) {
				if (grps[o].op == MX_STORE_NO_NAME || grps[o].svc != grps[g].svc)
					continue;
				/* == mx_store_op_hash() of the name */
				ib.ophash[ib.n_ophash++] = (uint32_t)names[grps[o].op].hash;
				r.n_ops++;
			}
			if (r.n_ops > MX_IREC_MAX_OPS) {
				ib.n_ophash = r.ops;
				r.n_ops = MX_IREC_NO_OPS;
			}
			ient_add(&ib, MX_IK_SVC, grps[g].svc, &r);
		}
		g0 = g1;
	}
	rc = ient_emit(segs, &ib, data, ients);
out:
	free(ib.acc);
	free(ib.rec);
	free(ib.ophash);
	free(ib.tab.slot);
	return rc;
}

