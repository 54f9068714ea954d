/*
 * exemplar.c - the exemplar slots of libmixd's cells: storing the trace of
 * a traced record (mixd_record_request_traced()) without waiting, reading
 * it consistently from the flush thread, and picking, per series, the
 * newest exemplar across the per-thread shards.
 *
 * A slot is a seqlock (struct mxr_exslot): the writer makes seq odd, stores
 * the words, then makes seq even again with a release store; the reader
 * reads seq, the words, seq again, and keeps the words only when both reads
 * saw the same even value. An own shard has one writer, so taking the odd
 * state is a plain store (no locked instruction); the shared shard has
 * several, which take it with a compare-exchange and skip their exemplar
 * instead of waiting when another writer holds it. The reader never waits
 * either: after a few torn reads it leaves the slot for the next
 * collection (its time is still newer than what was collected).
 *
 * Which exemplar a report carries: the latest traced record of a series
 * wins. Each cell keeps the latest of its thread; the flush thread takes
 * the slot with the newest wall-clock time across shards when it is newer
 * than the newest it collected for that series before, and it replaces the
 * series' pending exemplar, so merged intervals (collector down) keep the
 * most recent one. The wall clock orders them: after it steps back, a
 * series gets no new exemplar until the clock passes the newest collected.
 */
#include "reporter/reporter.h"

void mxr_exslot_put(struct mxr_exslot *x, const uint64_t w[MXR_NX], int shared)
{
	uint64_t s = atomic_load_explicit(&x->seq, memory_order_relaxed);

	if (MXR_LIKELY(!shared)) {
		atomic_store_explicit(&x->seq, s + 1, memory_order_relaxed);
	} else if ((s & 1) || !atomic_compare_exchange_strong_explicit(
				      &x->seq, &s, s + 1, memory_order_acquire,
				      memory_order_relaxed)) {
		return; /* another writer is inside: skip, never wait */
	}
	atomic_thread_fence(memory_order_release);
	for (int i = 0; i < MXR_NX; i++)
		atomic_store_explicit(&x->w[i], w[i], memory_order_relaxed);
	atomic_store_explicit(&x->seq, s + 2, memory_order_release);
}

int mxr_exslot_read(const struct mxr_exslot *x, uint64_t w[MXR_NX])
{
	for (int tries = 0; tries < 4; tries++) {
		uint64_t s1 = atomic_load_explicit(&x->seq, memory_order_acquire);
		if (s1 & 1)
			continue;
		for (int i = 0; i < MXR_NX; i++)
			w[i] = atomic_load_explicit(&x->w[i], memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&x->seq, memory_order_relaxed) == s1)
			return 1;
	}
	return 0;
}

uint32_t mxr_ex_collect(struct mixd_reporter *r, uint32_t c, uint32_t nsh, uint32_t n,
			struct mxr_fchunk *f)
{
	uint32_t mask = 0;

	for (uint32_t j = 0; j < MXR_CHUNK && c * MXR_CHUNK + j < n; j++) {
		struct mxr_fcell *fc = &f->c[j];
		uint64_t best[MXR_NX], w[MXR_NX];
		int found = 0;

		best[MXR_X_TIME] = fc->ex_seen_ns;
		for (uint32_t s = 0; s < nsh; s++) {
			struct mxr_chunk *ch =
				atomic_load_explicit(&r->shards[s]->chunks[c], memory_order_acquire);
			if (!ch)
				continue;
			const struct mxr_exslot *x = &ch->cell[j].ex;
			/* a cheap look first: most slots hold nothing newer */
			if (atomic_load_explicit(&x->w[MXR_X_TIME], memory_order_relaxed) <=
			    best[MXR_X_TIME])
				continue;
			if (mxr_exslot_read(x, w) && w[MXR_X_TIME] > best[MXR_X_TIME]) {
				for (int i = 0; i < MXR_NX; i++)
					best[i] = w[i];
				found = 1;
			}
		}
		if (!found)
			continue;
		for (int i = 0; i < MXR_NX; i++)
			fc->ex[i] = best[i];
		fc->ex_seen_ns = best[MXR_X_TIME];
		fc->has_ex = 1;
		mask |= 1u << j;
	}
	return mask;
}
