/*
 * metrics.c - the in-memory series table of the metrics store (see
 * metrics.h): lookups by key, applying a report to working copies inside
 * the writer's transaction, publishing them after the commit, dropping
 * idle series, the cardinality guard, and snapshots for /metrics.
 *
 * The table is an array of slots with hash chains (bucket heads are slot
 * + 1) and a free list; its size is bounded by max_series plus the
 * overflow series (at most one per kind, reporter and response code).
 */
#include <stdlib.h>
#include <string.h>

#include "../model/error.h"
#include "metrics_int.h"
#include "span_record.h"
#include "store_int.h"

#define NO_SLOT UINT32_MAX
#define SNAP_CHUNK 1024u /* series copied per hold of the lock */

struct mx_metrics *mx_metrics_new(uint32_t max_series, uint64_t idle_ns,
				  uint64_t retention_ns)
{
	struct mx_metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->max_series = max_series;
	m->idle_ns = idle_ns;
	m->retention_ns = retention_ns;
	m->next_id = 1;
	uint64_t nb = 1024;
	while (nb < (uint64_t)max_series * 2 && nb < (1u << 26))
		nb *= 2;
	m->n_buckets = (uint32_t)nb;
	m->buckets = calloc(nb, sizeof(*m->buckets));
	if (!m->buckets || pthread_mutex_init(&m->mu, NULL) != 0) {
		free(m->buckets);
		free(m);
		return NULL;
	}
	return m;
}

static void lab_unref(struct mx_mlabels *l)
{
	if (l && atomic_fetch_sub(&l->refs, 1) == 1)
		free(l);
}

void mx_metrics_free(struct mx_metrics *m)
{
	if (!m)
		return;
	for (uint32_t i = 0; i < m->n_slots; i++)
		lab_unref(m->ser[i].lab);
	free(m->ser);
	free(m->buckets);
	free(m->free_slots);
	free(m->pend);
	free(m->order);
	free(m->scratch);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

uint32_t mx_metrics_find(const struct mx_metrics *m, uint64_t hash,
			 const uint8_t *key, uint32_t key_len)
{
	uint32_t i = m->buckets[hash & (m->n_buckets - 1)];
	while (i) {
		const struct mx_mser *s = &m->ser[i - 1];
		if (s->hash == hash && s->lab->key_len == key_len &&
		    memcmp(s->lab->key, key, key_len) == 0)
			return i - 1;
		i = s->next;
	}
	return NO_SLOT;
}

uint32_t mx_metrics_insert(struct mx_metrics *m, uint64_t hash,
			   const uint8_t *key, uint32_t key_len, uint32_t id,
			   bool overflow)
{
	struct mx_mlabels *l = malloc(sizeof(*l) + key_len);
	uint32_t slot = NO_SLOT;
	if (!l)
		return NO_SLOT;
	memcpy(l->key, key, key_len);
	l->key_len = key_len;
	atomic_init(&l->refs, 1);
	if (!mx_metrics_parse_key(l->key, key_len, &l->kind, l->labels)) {
		free(l);
		return NO_SLOT;
	}
	pthread_mutex_lock(&m->mu);
	if (m->n_free) {
		slot = m->free_slots[--m->n_free];
	} else {
		if (m->n_slots == m->cap_slots) {
			uint32_t ncap = m->cap_slots ? m->cap_slots * 2 : 256;
			struct mx_mser *p = realloc(m->ser, (size_t)ncap * sizeof(*p));
			uint32_t *f = realloc(m->free_slots, (size_t)ncap * sizeof(*f));
			if (p)
				m->ser = p;
			if (f)
				m->free_slots = f;
			if (!p || !f) {
				pthread_mutex_unlock(&m->mu);
				free(l);
				return NO_SLOT;
			}
			m->cap_slots = ncap;
		}
		slot = m->n_slots++;
	}
	struct mx_mser *s = &m->ser[slot];
	memset(s, 0, sizeof(*s));
	s->hash = hash;
	s->lab = l;
	s->id = id;
	s->overflow = overflow;
	uint32_t *head = &m->buckets[hash & (m->n_buckets - 1)];
	s->next = *head;
	*head = slot + 1;
	m->n_live++;
	if (!overflow)
		m->n_active++;
	atomic_store(&m->st_active, m->n_live);
	pthread_mutex_unlock(&m->mu);
	return slot;
}

void mx_metrics_remove(struct mx_metrics *m, uint32_t i)
{
	struct mx_mser *s = &m->ser[i];
	uint32_t *p = &m->buckets[s->hash & (m->n_buckets - 1)];
	while (*p && *p != i + 1)
		p = &m->ser[*p - 1].next;
	if (*p)
		*p = s->next;
	lab_unref(s->lab);
	s->lab = NULL;
	m->free_slots[m->n_free++] = i;
	m->n_live--;
	if (!s->overflow)
		m->n_active--;
	atomic_store(&m->st_active, m->n_live);
}

/* The working copy of a slot, made on first use in the transaction. */
static struct mx_mpend *pend_of(struct mx_metrics *m, uint32_t slot,
				bool created)
{
	struct mx_mser *s = &m->ser[slot];
	if (s->pend)
		return &m->pend[s->pend - 1];
	if (m->n_pend == m->cap_pend) {
		uint32_t ncap = m->cap_pend ? m->cap_pend * 2 : 256;
		struct mx_mpend *p = realloc(m->pend, (size_t)ncap * sizeof(*p));
		if (!p)
			return NULL;
		m->pend = p;
		m->cap_pend = ncap;
	}
	struct mx_mpend *p = &m->pend[m->n_pend++];
	p->slot = slot;
	p->created = created;
	p->has_ex = false;
	p->mask[0] = p->mask[1] = p->mask[2] = 0;
	p->count = 0;
	p->sum[0] = s->v.dur_sum;
	p->sum[1] = s->v.req_sum;
	p->sum[2] = s->v.resp_sum;
	p->tcp[0] = p->tcp[1] = p->tcp[2] = 0;
	s->pend = m->n_pend;
	return p;
}

/* Adds a working copy's changes to values `v` (the committed ones). */
static void pend_add(struct mx_mvals *v, const struct mx_mpend *p)
{
	uint64_t *b[3] = { v->dur, v->req, v->resp };
	v->count += p->count;
	for (int h = 0; h < 3; h++)
		for (uint32_t m = p->mask[h]; m; m &= m - 1)
			b[h][__builtin_ctz(m)] += p->d[h][__builtin_ctz(m)];
	v->dur_sum = p->sum[0];
	v->req_sum = p->sum[1];
	v->resp_sum = p->sum[2];
	v->tcp_closed += p->tcp[0];
	v->tcp_sent += p->tcp[1];
	v->tcp_received += p->tcp[2];
}

/* The overflow key of an update: its kind, reporter and (HTTP) response
 * code; every other label "unknown". */
static uint32_t overflow_key(const uint8_t *key, uint32_t len, uint8_t *out)
{
	struct mx_str in[MX_ISTIO_HTTP_LABELS], ov[MX_ISTIO_HTTP_LABELS];
	uint8_t kind;
	if (!mx_metrics_parse_key(key, len, &kind, in))
		return 0;
	for (uint32_t i = 0; i < MX_ISTIO_HTTP_LABELS; i++)
		ov[i] = MX_STR_LIT("unknown");
	ov[0] = in[0];
	if (kind == MX_ISTIO_HTTP)
		ov[21] = in[21]; /* response_code */
	else
		ov[23] = ov[24] = (struct mx_str){ "", 0 };
	return mx_metrics_make_key(kind, ov, out);
}

/* The slot for an update's key: in memory, else loaded from LMDB, else
 * new; past the series limit the overflow series of the update. */
static int series_for(struct mx_store *st, MDB_txn *txn, uint64_t hash,
		      const uint8_t *key, uint32_t key_len, bool *created,
		      uint32_t *out)
{
	struct mx_metrics *m = st->metrics;
	static _Thread_local uint8_t ovk[MX_MKEY_MAX];
	bool overflow = false;
	struct mx_mvals v;
	uint32_t id;

	*created = false;
	uint32_t slot = mx_metrics_find(m, hash, key, key_len);
	if (slot != NO_SLOT) {
		*out = slot;
		return MX_OK;
	}
	if (m->n_active >= m->max_series) {
		key_len = overflow_key(key, key_len, ovk);
		if (!key_len)
			return MX_EINVAL;
		key = ovk;
		hash = mx_metrics_key_hash(key, key_len);
		overflow = true;
		m->txn_overflow++;
		slot = mx_metrics_find(m, hash, key, key_len);
		if (slot != NO_SLOT) {
			*out = slot;
			return MX_OK;
		}
	}
	uint64_t last_ns = 0;
	int rc = mx_metrics_db_find(st, txn, hash, key, key_len, &id, &v,
				    &last_ns);
	if (rc != MX_OK && rc != MX_ENOTFOUND)
		return rc;
	if (rc == MX_ENOTFOUND)
		id = m->next_id++;
	slot = mx_metrics_insert(m, hash, key, key_len, id, overflow);
	if (slot == NO_SLOT)
		return MX_ENOMEM;
	if (rc == MX_OK) {
		m->ser[slot].v = v;
		mx_mvals_nz(&v, m->ser[slot].nzm);
		m->ser[slot].last_ns = last_ns; /* its latest rollup bucket */
		m->ser[slot].persisted = true;
		m->txn_reloaded++;
	} else {
		m->txn_created++;
	}
	*created = true;
	*out = slot;
	return MX_OK;
}

/* Adds the non-zero bucket deltas of an update (mask `mask`, values
 * vals[]) to histogram h of a working copy. */
static inline void hist_add(struct mx_mpend *p, int h, uint32_t mask,
			    const uint64_t *vals)
{
	uint64_t *d = p->d[h];
	for (uint32_t fresh = mask & ~p->mask[h]; fresh; fresh &= fresh - 1)
		d[__builtin_ctz(fresh)] = 0;
	p->mask[h] |= mask;
	for (; mask; mask &= mask - 1)
		d[__builtin_ctz(mask)] += *vals++;
}

/* Prefetches what the lookups of the updates after update i will touch,
 * in the order their addresses become known: the update and the hash
 * bucket 12 ahead, the chain's first series 6 ahead, its key and the
 * update's, its working copy's lines and the update's values 3 ahead. */
static inline void prefetch(const struct mx_metrics *m,
			    const struct mx_mitem *mi, uint32_t i)
{
	uint32_t mask = m->n_buckets - 1;
	if (i + 16 < mi->n_upd)
		__builtin_prefetch(&mi->upd[i + 16]);
	if (i + 12 < mi->n_upd)
		__builtin_prefetch(&m->buckets[mi->upd[i + 12].hash & mask]);
	if (i + 6 < mi->n_upd) {
		uint32_t h = m->buckets[mi->upd[i + 6].hash & mask];
		if (h)
			__builtin_prefetch(&m->ser[h - 1]);
	}
	if (i + 3 < mi->n_upd) {
		const struct mx_mupd *u = &mi->upd[i + 3];
		uint32_t h = m->buckets[u->hash & mask];
		for (int j = 0; j < 3; j++)
			if (u->mask[j])
				__builtin_prefetch(u->vals[j]);
		if (h) { /* both keys the lookup compares */
			const struct mx_mser *s = &m->ser[h - 1];
			const uint8_t *k = s->lab->key;
			for (uint32_t o = 0; o < u->key_len; o += 64) {
				__builtin_prefetch(k + o);
				__builtin_prefetch(u->key + o);
			}
			if (s->pend) { /* the lines the update will add to */
				const struct mx_mpend *p = &m->pend[s->pend - 1];
				__builtin_prefetch(p);
				for (int j = 0; j < 3; j++)
					if (u->mask[j])
						__builtin_prefetch(&p->d[j][__builtin_ctz(u->mask[j])]);
			}
		}
	}
}

int mx_metrics_apply(struct mx_store *st, MDB_txn *txn,
		     const struct mx_mitem *mi, uint64_t now, bool *dup)
{
	struct mx_metrics *m = st->metrics;
	const struct mx_report *r = mi->report;
	uint64_t last = 0;
	int rc = mx_metrics_db_seq(st, txn, r->instance_id, &last);
	*dup = false;
	if (rc != MX_OK)
		return rc;
	if (r->sequence <= last) {
		*dup = true;
		m->txn_dup++;
		return MX_OK;
	}
	for (uint32_t i = 0; i < mi->n_upd; i++) {
		const struct mx_mupd *u = &mi->upd[i];
		uint32_t slot;
		bool created;
		prefetch(m, mi, i);
		rc = series_for(st, txn, u->hash, u->key, u->key_len, &created,
				&slot);
		if (rc != MX_OK)
			return rc;
		struct mx_mpend *p = pend_of(m, slot, created);
		if (!p) {
			if (created) {
				pthread_mutex_lock(&m->mu);
				mx_metrics_remove(m, slot);
				pthread_mutex_unlock(&m->mu);
			}
			return MX_ENOMEM;
		}
		p->count += u->count;
		if (u->kind == MX_ISTIO_TCP) {
			p->tcp[0] += u->u.tcp[0];
			p->tcp[1] += u->u.tcp[1];
			p->tcp[2] += u->u.tcp[2];
			continue;
		}
		hist_add(p, 0, u->mask[0], u->vals[0]);
		hist_add(p, 1, u->mask[1], u->vals[1]);
		hist_add(p, 2, u->mask[2], u->vals[2]);
		p->sum[0] += u->u.sum[0];
		p->sum[1] += u->u.sum[1];
		p->sum[2] += u->u.sum[2];
		if (u->ex) {
			p->has_ex = true;
			p->ex = *u->ex;
		}
	}
	m->txn_updates += mi->n_upd;
	m->txn_applied++;
	m->txn_dropped_spans += r->dropped_spans;
	return mx_metrics_db_set_seq(st, txn, r->instance_id, r->sequence, now);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The working copies in increasing series id order (id << 32 | index),
 * the order in which LMDB puts are cheapest; NULL on ENOMEM (then in
 * pend[] order). */
static const uint64_t *flush_order(struct mx_metrics *m)
{
	if (m->cap_order < m->n_pend) {
		uint64_t *o = realloc(m->order, (size_t)m->cap_pend * sizeof(*o));
		if (!o)
			return NULL;
		m->order = o;
		m->cap_order = m->cap_pend;
	}
	bool sorted = true;
	for (uint32_t i = 0; i < m->n_pend; i++) {
		m->order[i] = (uint64_t)m->ser[m->pend[i].slot].id << 32 | i;
		sorted = sorted && (i == 0 || m->order[i] > m->order[i - 1]);
	}
	if (!sorted)
		qsort(m->order, m->n_pend, sizeof(*m->order), cmp_u64);
	return m->order;
}

int mx_metrics_flush(struct mx_store *st, MDB_txn *txn, uint64_t now)
{
	struct mx_metrics *m = st->metrics;
	struct mx_mput c;
	if (!m->n_pend)
		return MX_OK;
	const uint64_t *order = flush_order(m);
	int rc = mx_metrics_db_put_begin(st, txn, &c);
	for (uint32_t i = 0; i < m->n_pend && rc == MX_OK; i++) {
		const struct mx_mpend *p =
			&m->pend[order ? (uint32_t)order[i] : i];
		const struct mx_mser *s = &m->ser[p->slot];
		struct mx_mvals v = s->v;
		uint32_t nz[3] = { s->nzm[0] | p->mask[0], s->nzm[1] | p->mask[1],
				   s->nzm[2] | p->mask[2] };
		pend_add(&v, p);
		rc = mx_metrics_db_put(st, txn, &c, s, &v, nz, !s->persisted,
				       now);
	}
	mx_metrics_db_put_end(&c);
	return rc;
}

void mx_metrics_txn_end(struct mx_metrics *m, bool ok, uint64_t now)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	for (uint32_t i = m->n_pend; i-- > 0;) {
		const struct mx_mpend *p = &m->pend[i];
		struct mx_mser *s = &m->ser[p->slot];
		s->pend = 0;
		if (ok) {
			pend_add(&s->v, p);
			for (int h = 0; h < 3; h++)
				s->nzm[h] |= p->mask[h];
			s->last_ns = now;
			s->persisted = true;
			if (p->has_ex) {
				s->has_ex = true;
				s->ex = p->ex;
			}
		} else if (p->created) {
			mx_metrics_remove(m, p->slot);
		}
	}
	pthread_mutex_unlock(&m->mu);
	m->n_pend = 0;
	if (ok) {
		atomic_fetch_add(&m->st_applied, m->txn_applied);
		atomic_fetch_add(&m->st_dup, m->txn_dup);
		atomic_fetch_add(&m->st_updates, m->txn_updates);
		atomic_fetch_add(&m->st_overflow, m->txn_overflow);
		atomic_fetch_add(&m->st_created, m->txn_created);
		atomic_fetch_add(&m->st_reloaded, m->txn_reloaded);
		atomic_fetch_add(&m->st_rep_dropped, m->txn_dropped_spans);
	}
	m->txn_applied = m->txn_dup = m->txn_updates = m->txn_overflow = 0;
	m->txn_created = m->txn_reloaded = m->txn_dropped_spans = 0;
}

void mx_metrics_drop_idle(struct mx_metrics *m, uint64_t now)
{
	if (!m->idle_ns || now < m->idle_ns)
		return;
	atomic_fetch_add(&m->st_idle, mx_metrics_drop_before(m, now - m->idle_ns));
}

uint64_t mx_metrics_drop_before(struct mx_metrics *m, uint64_t before)
{
	uint64_t dropped = 0;
	pthread_mutex_lock(&m->mu);
	for (uint32_t i = 0; i < m->n_slots; i++) {
		const struct mx_mser *s = &m->ser[i];
		if (s->lab && !s->pend && s->last_ns && s->last_ns < before) {
			mx_metrics_remove(m, i);
			dropped++;
		}
	}
	pthread_mutex_unlock(&m->mu);
	return dropped;
}

/* --- read side --- */

void mx_store_metrics_stats(const struct mx_store *st,
			    struct mx_metrics_stats *out)
{
	memset(out, 0, sizeof(*out));
	const struct mx_metrics *m = st ? st->metrics : NULL;
	if (!m)
		return;
	out->series_active = atomic_load(&m->st_active);
	out->series_limit = m->max_series;
	out->series_created = atomic_load(&m->st_created);
	out->series_reloaded = atomic_load(&m->st_reloaded);
	out->series_idle_dropped = atomic_load(&m->st_idle);
	out->series_expired = atomic_load(&m->st_expired);
	out->overflow_updates = atomic_load(&m->st_overflow);
	out->reports_applied = atomic_load(&m->st_applied);
	out->reports_duplicate = atomic_load(&m->st_dup);
	out->updates_applied = atomic_load(&m->st_updates);
	out->rollup_rows_thinned = atomic_load(&m->st_thinned);
	out->rollup_rows_expired = atomic_load(&m->st_rexpired);
	out->reporter_dropped_spans = atomic_load(&m->st_rep_dropped);
}

static void copy_series(const struct mx_mser *s, struct mx_istio_series *o)
{
	const struct mx_mvals *v = &s->v;
	memset(o, 0, sizeof(*o));
	o->kind = s->lab->kind;
	memcpy(o->labels, s->lab->labels, sizeof(o->labels));
	if (o->kind == MX_ISTIO_TCP) {
		o->tcp_opened = v->count;
		o->tcp_closed = v->tcp_closed;
		o->tcp_sent = v->tcp_sent;
		o->tcp_received = v->tcp_received;
		return;
	}
	o->count = v->count;
	memcpy(o->duration.buckets, v->dur, sizeof(v->dur));
	o->duration.sum = v->dur_sum;
	memcpy(o->request_bytes.buckets, v->req, sizeof(v->req));
	o->request_bytes.sum = v->req_sum;
	memcpy(o->response_bytes.buckets, v->resp, sizeof(v->resp));
	o->response_bytes.sum = v->resp_sum;
	o->has_exemplar = s->has_ex;
	o->exemplar = s->ex;
}

int mx_store_metrics_snapshot(struct mx_store *st, uint64_t now_ns,
			      struct mx_metrics_snap *out)
{
	struct mx_metrics *m = st ? st->metrics : NULL;
	memset(out, 0, sizeof(*out));
	if (!m)
		return MX_OK;
	if (!now_ns)
		now_ns = mx_store_now(st);
	uint64_t before = m->idle_ns && now_ns > m->idle_ns ? now_ns - m->idle_ns : 0;

	pthread_mutex_lock(&m->mu);
	size_t cap = m->n_live;
	uint32_t n_slots = m->n_slots;
	pthread_mutex_unlock(&m->mu);
	if (!cap)
		return MX_OK;
	out->series = malloc(cap * sizeof(*out->series));
	out->refs = malloc(cap * sizeof(*out->refs));
	if (!out->series || !out->refs) {
		mx_metrics_snap_free(out);
		return MX_ENOMEM;
	}
	/* series that appear after the count are left to the next scrape */
	for (uint32_t i = 0; i < n_slots && out->n < cap; i += SNAP_CHUNK) {
		pthread_mutex_lock(&m->mu);
		uint32_t end = i + SNAP_CHUNK < m->n_slots ? i + SNAP_CHUNK : m->n_slots;
		for (uint32_t j = i; j < end && out->n < cap; j++) {
			const struct mx_mser *s = &m->ser[j];
			if (!s->lab || !s->last_ns || s->last_ns < before)
				continue;
			copy_series(s, &out->series[out->n++]);
			atomic_fetch_add(&s->lab->refs, 1);
			out->refs[out->n_refs++] = s->lab;
		}
		pthread_mutex_unlock(&m->mu);
	}
	return MX_OK;
}

void mx_metrics_snap_free(struct mx_metrics_snap *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_refs; i++)
		lab_unref(s->refs[i]);
	free(s->series);
	free(s->refs);
	memset(s, 0, sizeof(*s));
}
