/*
 * metrics_item.c - the part of applying a report that runs on the
 * submitting (receiver) thread: every aggregate's labels are laid out in
 * Istio's order as one series key and hashed, so the writer thread only
 * looks keys up and adds numbers (see metrics_int.h for the key layout).
 * Keys are written straight from the labels into the item's key blocks
 * and hashed while hot; the start that a report's source-side keys share
 * (kind, reporter="source", the local workload's 8 labels) is laid out and
 * run through the hash lanes once per report. The deltas are not copied:
 * the writer reads the aggregates' sparse histograms in the batch.
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

/* The hash in parts, so that the lanes after a key prefix shared by many
 * keys can be kept: four independent lanes over 32-byte blocks (the keys
 * are a few hundred bytes; one dependent chain would be 4x slower), then
 * the tail 8 bytes at a time, then a final avalanche. */
struct khash {
	uint64_t a, b, c, d;
};

static inline void kh_init(struct khash *k)
{
	k->a = MX_MKEY_SEED + P1 + P2;
	k->b = MX_MKEY_SEED + P2;
	k->c = MX_MKEY_SEED;
	k->d = MX_MKEY_SEED - P1;
}

/* Runs the lanes over the 32-byte blocks p[0 .. 32 * n). */
static inline void kh_blocks(struct khash *k, const uint8_t *p, size_t n)
{
	uint64_t a = k->a, b = k->b, c = k->c, d = k->d;
	for (; n; n--, p += 32) {
		a = lane(a, rd64(p));
		b = lane(b, rd64(p + 8));
		c = lane(c, rd64(p + 16));
		d = lane(d, rd64(p + 24));
	}
	k->a = a;
	k->b = b;
	k->c = c;
	k->d = d;
}

/* The hash of key[0..n) whose full blocks went through the lanes. */
static inline uint64_t kh_final(const struct khash *k, const uint8_t *key,
				size_t n)
{
	const uint8_t *p = key + (n & ~(size_t)31), *end = key + n;
	uint64_t h = rotl(k->a, 1) + rotl(k->b, 7) + rotl(k->c, 12) +
		     rotl(k->d, 18) + (uint64_t)n;
	while (end - p >= 8) {
		h ^= lane(0, rd64(p));
		h = rotl(h, 27) * P1 + P3;
		p += 8;
	}
	uint64_t tail = 0;
	size_t r = (size_t)(end - p);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (r && n >= 8) /* the last 8 bytes, shifted: one load */
		tail = rd64(end - 8) >> (8 * (8 - r));
	else
#endif
		for (size_t i = 0; i < r; i++)
			tail |= (uint64_t)p[i] << (8 * i);
	h ^= lane(0, tail);
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	return h ^ (h >> 32);
}

uint64_t mx_metrics_key_hash(const uint8_t *p, size_t n)
{
	struct khash k;
	kh_init(&k);
	kh_blocks(&k, p, n / 32);
	return kh_final(&k, p, n);
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

/* Copies n bytes without a call for short strings: overlapping fixed-size
 * moves that stay within both buffers. */
static inline void copy_short(uint8_t *o, const char *src, uint32_t n)
{
	const uint8_t *s = (const uint8_t *)src;
	if (n >= 16) {
		if (n > 64) {
			memcpy(o, s, n);
		} else if (n > 32) {
			memcpy(o, s, 32);
			memcpy(o + n - 32, s + n - 32, 32);
		} else {
			memcpy(o, s, 16);
			memcpy(o + n - 16, s + n - 16, 16);
		}
	} else if (n >= 8) {
		memcpy(o, s, 8);
		memcpy(o + n - 8, s + n - 8, 8);
	} else if (n >= 4) {
		memcpy(o, s, 4);
		memcpy(o + n - 4, s + n - 4, 4);
	} else if (n) {
		o[0] = s[0];
		o[n / 2] = s[n / 2];
		o[n - 1] = s[n - 1];
	}
}

/* Appends one label value; NULL when the key would pass MX_MKEY_MAX
 * (o - key bytes are written so far). */
static inline uint8_t *put_label(uint8_t *o, const uint8_t *key,
				 const struct mx_str *v)
{
	uint32_t l = v->len;
	if (__builtin_expect((size_t)(o - key) + 2 + l > MX_MKEY_MAX, 0))
		return NULL;
	o[0] = (uint8_t)l;
	o[1] = (uint8_t)(l >> 8);
	copy_short(o + 2, v->ptr, l);
	return o + 2 + l;
}

#define KP_MAX 1024u /* the longest key prefix kept */

/* The start of the keys of a report's source-side label sets of one kind:
 * the kind byte, reporter="source" and the 8 source labels (the local
 * workload's), the same for all of them; kept with the hash lanes after
 * its full 32-byte blocks. */
struct kprefix {
	const struct mx_workload *local; /* NULL: not made yet */
	uint32_t len;
	struct khash k;
	uint8_t bytes[KP_MAX];
};

/* The key of a label set straight from its labels (the same bytes as
 * mx_metrics_make_key() of mx_istio_labels(), without the label array)
 * and its hash (mx_metrics_key_hash()); the shared start of source-side
 * keys comes from and goes to `kp`. Returns the length, 0 when the key
 * would pass MX_MKEY_MAX. */
static uint32_t build_key(const struct mx_series_labels *l, bool tcp,
			  uint8_t *key, struct kprefix *kp, uint64_t *hash)
{
	static const struct mx_str role[3] = {
		MX_STR_LIT("unknown"), MX_STR_LIT("source"),
		MX_STR_LIT("destination"),
	};
	static const struct mx_workload none;
	const struct mx_workload *local = l->local ? l->local : &none;
	const struct mx_workload *s =
		l->role == MX_ROLE_SOURCE ? local : &l->peer;
	const struct mx_workload *d =
		l->role == MX_ROLE_DESTINATION ? local : &l->peer;
	bool source = l->role == MX_ROLE_SOURCE && l->local;
	struct khash k;
	size_t done = 0; /* blocks through the lanes */
	uint8_t *o = key + 1;
	/* one call site per label (its length's branches predict well) */
#define PUT(x) do { if (!(o = put_label(o, key, (x)))) return 0; } while (0)
	key[0] = tcp ? MX_ISTIO_TCP : MX_ISTIO_HTTP;
	if (source && kp->local == l->local) {
		memcpy(key, kp->bytes, kp->len);
		o = key + kp->len;
		k = kp->k;
		done = kp->len / 32;
	} else {
		kh_init(&k);
		PUT(l->role <= MX_ROLE_DESTINATION ? &role[l->role] : &role[0]);
		PUT(&s->workload);
		PUT(&s->canonical_service);
		PUT(&s->canonical_revision);
		PUT(&s->workload_namespace);
		PUT(&s->principal);
		PUT(&s->app);
		PUT(&s->version);
		PUT(&s->cluster);
		if (source && (size_t)(o - key) <= KP_MAX) {
			kp->local = l->local;
			kp->len = (uint32_t)(o - key);
			memcpy(kp->bytes, key, kp->len);
			kh_blocks(&k, key, kp->len / 32);
			kp->k = k;
			done = kp->len / 32;
		}
	}
	PUT(&d->workload);
	PUT(&d->workload_namespace);
	PUT(&d->principal);
	PUT(&d->app);
	PUT(&d->version);
	PUT(&l->destination_service);
	PUT(&d->canonical_service);
	PUT(&d->canonical_revision);
	PUT(&l->destination_service_name);
	PUT(&l->destination_service_namespace);
	PUT(&d->cluster);
	PUT(&l->request_protocol);
	if (tcp) {
		PUT(&l->response_flags);
		PUT(&l->connection_security_policy);
	} else {
		PUT(&l->response_code);
		PUT(&l->grpc_response_status);
		PUT(&l->response_flags);
		PUT(&l->connection_security_policy);
	}
#undef PUT
	uint32_t len = (uint32_t)(o - key);
	kh_blocks(&k, key + 32 * done, len / 32 - done);
	*hash = kh_final(&k, key, len);
	return len;
}

void mx_mitem_free(struct mx_mitem *mi)
{
	if (!mi)
		return;
	mx_batch_free(mi->batch);
	while (mi->keys) {
		struct mx_mkeys *k = mi->keys;
		mi->keys = k->next;
		free(k);
	}
	free(mi->upd);
	free(mi);
}

/* Room for one more key (MX_MKEY_MAX bytes) in the current key block. */
static int keys_room(struct mx_mitem *mi, size_t block)
{
	if (mi->keys && mi->keys->cap - mi->keys->used >= MX_MKEY_MAX)
		return MX_OK;
	struct mx_mkeys *k = malloc(sizeof(*k) + block);
	if (!k)
		return MX_ENOMEM;
	k->next = mi->keys;
	k->used = 0;
	k->cap = block;
	mi->keys = k;
	return MX_OK;
}

int mx_mitem_build(struct mx_batch *batch, const struct mx_report *r,
		   struct mx_mitem **out)
{
	struct mx_mitem *mi = calloc(1, sizeof(*mi));
	struct kprefix *kp = NULL;
	uint32_t n = r->n_requests + r->n_tcp;
	int rc = MX_ENOMEM;

	*out = NULL;
	if (!mi)
		return MX_ENOMEM;
	mi->upd = malloc((n ? n : 1) * sizeof(*mi->upd));
	if (!mi->upd)
		goto fail;
	kp = malloc(2 * sizeof(*kp)); /* HTTP, TCP */
	if (!kp)
		goto fail;
	kp[0].local = kp[1].local = NULL;
	/* key blocks sized for a few hundred bytes per key */
	size_t block = (size_t)n * 512;
	if (block < 4 * (size_t)MX_MKEY_MAX)
		block = 4 * (size_t)MX_MKEY_MAX;
	if (block > (8u << 20))
		block = 8u << 20;
	for (uint32_t i = 0; i < n; i++) {
		bool tcp = i >= r->n_requests;
		const struct mx_request_agg *a = tcp ? NULL : &r->requests[i];
		const struct mx_tcp_agg *t = tcp ? &r->tcp[i - r->n_requests] : NULL;
		struct mx_mupd *u = &mi->upd[i];
		if (keys_room(mi, block) != MX_OK)
			goto fail;
		uint8_t *key = mi->keys->data + mi->keys->used;
		u->kind = tcp ? MX_ISTIO_TCP : MX_ISTIO_HTTP;
		u->key = key;
		u->key_len = build_key(tcp ? &t->labels : &a->labels, tcp, key,
				       &kp[tcp], &u->hash);
		if (!u->key_len) {
			rc = MX_EINVAL;
			goto fail;
		}
		mi->keys->used += u->key_len;
		mi->keys_len += u->key_len;
		u->ex = NULL;
		if (tcp) {
			u->mask[0] = u->mask[1] = u->mask[2] = 0;
			u->count = t->opened;
			u->u.tcp[0] = t->closed;
			u->u.tcp[1] = t->sent_bytes;
			u->u.tcp[2] = t->received_bytes;
			continue;
		}
		u->count = a->count;
		u->mask[0] = a->duration.nz;
		u->mask[1] = a->request_bytes.nz;
		u->mask[2] = a->response_bytes.nz;
		u->vals[0] = a->duration.vals;
		u->vals[1] = a->request_bytes.vals;
		u->vals[2] = a->response_bytes.vals;
		u->u.sum[0] = a->duration.sum;
		u->u.sum[1] = a->request_bytes.sum;
		u->u.sum[2] = a->response_bytes.sum;
		if (a->has_exemplar)
			u->ex = &a->exemplar;
	}
	free(kp);
	mi->n_upd = n;
	mi->report = r;
	mi->batch = batch;
	*out = mi;
	return MX_OK;
fail:
	free(kp);
	mi->batch = NULL; /* the caller keeps it */
	mx_mitem_free(mi);
	return rc;
}
