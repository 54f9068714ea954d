/*
 * metrics_item.c - the part of applying a report that runs on the
 * submitting (receiver) thread: every aggregate's labels are laid out in
 * Istio's order as one series key and hashed, so the writer thread only
 * looks keys up and adds numbers (see metrics_int.h for the key layout).
 */
#include <stdlib.h>
#include <string.h>

#include "../model/error.h"
#include "metrics_int.h"

static inline uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

#define P1 0x9e3779b185ebca87ull
#define P2 0xc2b2ae3d27d4eb4full
#define P3 0x165667b19e3779f9ull

/* One lane step: multiply-rotate-multiply of 8 input bytes. */
static inline uint64_t lane(uint64_t acc, uint64_t in)
{
	acc += in * P2;
	return rotl(acc, 31) * P1;
}

uint64_t mx_metrics_key_hash(const uint8_t *p, size_t n)
{
	/* four independent lanes over 32-byte blocks (the keys are a few
	 * hundred bytes; one dependent chain would be 4x slower), then the
	 * tail 8 bytes at a time, then a final avalanche */
	uint64_t a = MX_MKEY_SEED + P1 + P2, b = MX_MKEY_SEED + P2;
	uint64_t c = MX_MKEY_SEED, d = MX_MKEY_SEED - P1;
	const uint8_t *end = p + n;
	while (end - p >= 32) {
		a = lane(a, rd64(p));
		b = lane(b, rd64(p + 8));
		c = lane(c, rd64(p + 16));
		d = lane(d, rd64(p + 24));
		p += 32;
	}
	uint64_t h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18) + (uint64_t)n;
	while (end - p >= 8) {
		h ^= lane(0, rd64(p));
		h = rotl(h, 27) * P1 + P3;
		p += 8;
	}
	uint64_t tail = 0;
	for (int i = 0; p < end; i++, p++)
		tail |= (uint64_t)*p << (8 * i);
	h ^= lane(0, tail);
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	return h ^ (h >> 32);
}

uint32_t mx_metrics_make_key(uint8_t kind,
			     const struct mx_str labels[MX_ISTIO_HTTP_LABELS],
			     uint8_t *out)
{
	uint32_t n = kind == MX_ISTIO_TCP ? MX_ISTIO_TCP_LABELS
					  : MX_ISTIO_HTTP_LABELS;
	uint32_t len = 1;
	out[0] = kind;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t l = labels[i].len;
		if (l > 0xffff || len + 2 + l > MX_MKEY_MAX)
			return 0;
		out[len] = (uint8_t)l;
		out[len + 1] = (uint8_t)(l >> 8);
		if (l)
			memcpy(out + len + 2, labels[i].ptr, l);
		len += 2 + l;
	}
	return len;
}

bool mx_metrics_parse_key(const uint8_t *key, uint32_t len, uint8_t *kind,
			  struct mx_str labels[MX_ISTIO_HTTP_LABELS])
{
	if (len < 1 || key[0] > MX_ISTIO_TCP)
		return false;
	*kind = key[0];
	uint32_t n = *kind == MX_ISTIO_TCP ? MX_ISTIO_TCP_LABELS
					   : MX_ISTIO_HTTP_LABELS;
	uint32_t p = 1;
	for (uint32_t i = 0; i < MX_ISTIO_HTTP_LABELS; i++)
		labels[i] = (struct mx_str){ "", 0 };
	for (uint32_t i = 0; i < n; i++) {
		if (p + 2 > len)
			return false;
		uint32_t l = (uint32_t)key[p] | (uint32_t)key[p + 1] << 8;
		p += 2;
		if (l > len - p)
			return false;
		labels[i] = (struct mx_str){ (const char *)key + p, l };
		p += l;
	}
	return p == len;
}

void mx_mitem_free(struct mx_mitem *mi)
{
	if (!mi)
		return;
	mx_batch_free(mi->batch);
	free(mi->upd);
	free(mi->keys);
	free(mi);
}

int mx_mitem_build(struct mx_batch *batch, const struct mx_report *r,
		   struct mx_mitem **out)
{
	struct mx_mitem *mi = calloc(1, sizeof(*mi));
	uint32_t n = r->n_requests + r->n_tcp;
	struct mx_str labels[MX_ISTIO_HTTP_LABELS];
	size_t cap = 0;
	int rc = MX_ENOMEM;

	*out = NULL;
	if (!mi)
		return MX_ENOMEM;
	mi->upd = calloc(n ? n : 1, sizeof(*mi->upd));
	if (!mi->upd)
		goto fail;
	for (uint32_t i = 0; i < n; i++) {
		bool tcp = i >= r->n_requests;
		const struct mx_series_labels *l = tcp
			? &r->tcp[i - r->n_requests].labels
			: &r->requests[i].labels;
		if (mi->keys_len + MX_MKEY_MAX > cap) {
			size_t ncap = cap ? cap * 2 : 64 * 1024;
			while (ncap < mi->keys_len + MX_MKEY_MAX)
				ncap *= 2;
			uint8_t *p = realloc(mi->keys, ncap);
			if (!p)
				goto fail;
			mi->keys = p;
			cap = ncap;
		}
		mx_istio_labels(l, tcp, labels);
		struct mx_mupd *u = &mi->upd[i];
		u->kind = tcp ? MX_ISTIO_TCP : MX_ISTIO_HTTP;
		u->key_off = (uint32_t)mi->keys_len;
		u->key_len = mx_metrics_make_key(u->kind, labels,
						 mi->keys + mi->keys_len);
		if (!u->key_len) {
			rc = MX_EINVAL;
			goto fail;
		}
		u->hash = mx_metrics_key_hash(mi->keys + u->key_off, u->key_len);
		mi->keys_len += u->key_len;
		if (tcp)
			u->tcp = &r->tcp[i - r->n_requests];
		else
			u->req = &r->requests[i];
	}
	mi->n_upd = n;
	mi->report = r;
	mi->batch = batch;
	*out = mi;
	return MX_OK;
fail:
	free(mi->upd);
	free(mi->keys);
	free(mi);
	return rc;
}
