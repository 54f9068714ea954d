/*
 * spans.c - the bounded span ring of libmixd.
 *
 * A multi-producer, single-consumer ring of fixed-size slots (the bounded
 * queue design where each slot carries a sequence number: a producer claims
 * position p with a compare-and-swap on `head` when slot p's sequence is p,
 * encodes the span straight into the slot, then publishes sequence p + 1;
 * the flush thread reads slot `tail` once its sequence is tail + 1 and
 * hands it back with sequence tail + cap). No lock, no system call, no
 * allocation; a full ring drops the span and counts it. Slots hold the
 * OTLP Span encoding, so the flush thread copies bytes into the report.
 */
#include <stdlib.h>
#include <string.h>

#include "reporter/reporter.h"

int mxr_ring_init(struct mxr_ring *q, uint32_t capacity, uint32_t slot_bytes)
{
	uint32_t cap = 1;

	memset(q, 0, sizeof(*q));
	if (capacity == 0)
		return MIXD_OK;
	while (cap < capacity)
		cap <<= 1;
	q->seq = calloc(cap, sizeof(*q->seq));
	q->len = calloc(cap, sizeof(*q->len));
	/* calloc of a large block maps fresh zero pages: slots cost memory
	 * only once used */
	q->data = calloc(cap, slot_bytes);
	if (!q->seq || !q->len || !q->data) {
		mxr_ring_free(q);
		return MIXD_ENOMEM;
	}
	for (uint32_t i = 0; i < cap; i++)
		atomic_init(&q->seq[i], i);
	q->cap = cap;
	q->slot_bytes = slot_bytes;
	return MIXD_OK;
}

void mxr_ring_free(struct mxr_ring *q)
{
	if (!q)
		return;
	free(q->seq);
	free(q->len);
	free(q->data);
	q->seq = NULL;
	q->len = NULL;
	q->data = NULL;
	q->cap = 0;
}

int mxr_ring_peek(struct mxr_ring *q, const uint8_t **p, size_t *n)
{
	uint64_t pos = q->tail;
	uint32_t i;

	if (!q->cap)
		return 0;
	i = (uint32_t)pos & (q->cap - 1);
	if (atomic_load_explicit(&q->seq[i], memory_order_acquire) != pos + 1)
		return 0;
	*p = q->data + (size_t)i * q->slot_bytes;
	*n = q->len[i];
	return 1;
}

void mxr_ring_release(struct mxr_ring *q)
{
	uint32_t i = (uint32_t)q->tail & (q->cap - 1);

	atomic_store_explicit(&q->seq[i], q->tail + q->cap, memory_order_release);
	q->tail++;
}

static int drop(struct mxr_ring *q)
{
	atomic_fetch_add_explicit(&q->dropped, 1, memory_order_relaxed);
	return MIXD_EFULL;
}

MIXD_API int mixd_record_span(struct mixd_reporter *r, const struct mixd_span *s)
{
	struct mxr_ring *q;
	struct mxr_pbw w;
	uint64_t pos;
	uint32_t i;
	int rc;

	if (!r || !s)
		return MIXD_EINVAL;
	{
		static const uint8_t zero[16];
		if (memcmp(s->trace_id, zero, 16) == 0 || memcmp(s->span_id, zero, 8) == 0)
			return MIXD_EINVAL;
	}
	q = &r->ring;
	if (!q->cap)
		return drop(q);
	pos = atomic_load_explicit(&q->head, memory_order_relaxed);
	for (;;) {
		i = (uint32_t)pos & (q->cap - 1);
		uint64_t seq = atomic_load_explicit(&q->seq[i], memory_order_acquire);
		int64_t diff = (int64_t)(seq - pos);
		if (diff == 0) {
			if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed))
				break;
		} else if (diff < 0) {
			return drop(q); /* full: the consumer has not freed slot i */
		} else {
			pos = atomic_load_explicit(&q->head, memory_order_relaxed);
		}
	}
	mxr_pbw_fixed(&w, q->data + (size_t)i * q->slot_bytes, q->slot_bytes);
	rc = mxr_encode_span(&w, s);
	/* the slot is ours: publish it even when the span did not fit (as an
	 * empty slot the flush thread skips), so the ring keeps moving */
	q->len[i] = rc == MIXD_OK ? (uint32_t)w.len : 0;
	atomic_store_explicit(&q->seq[i], pos + 1, memory_order_release);
	if (rc != MIXD_OK)
		return drop(q);
	atomic_fetch_add_explicit(&q->recorded, 1, memory_order_relaxed);
	return MIXD_OK;
}
