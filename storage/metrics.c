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
	p->v = s->v;
	s->pend = m->n_pend;
	return p;
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
	int rc = mx_metrics_db_find(st, txn, hash, key, key_len, &id, &v);
	if (rc != MX_OK && rc != MX_ENOTFOUND)
		return rc;
	if (rc == MX_ENOTFOUND)
		id = m->next_id++;
	slot = mx_metrics_insert(m, hash, key, key_len, id, overflow);
	if (slot == NO_SLOT)
		return MX_ENOMEM;
	if (rc == MX_OK) {
		m->ser[slot].v = v;
		m->ser[slot].persisted = true;
		m->txn_reloaded++;
	} else {
		m->txn_created++;
	}
	*created = true;
	*out = slot;
	return MX_OK;
}

static void hist_add(uint64_t *dst, double *sum, const struct mx_hist_delta *d)
{
	for (uint32_t i = 0; i < MX_HIST_BUCKETS; i++)
		dst[i] += d->buckets[i];
	*sum += d->sum;
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
		rc = series_for(st, txn, u->hash, mi->keys + u->key_off,
				u->key_len, &created, &slot);
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
		if (u->req) {
			const struct mx_request_agg *a = u->req;
			p->v.count += a->count;
			hist_add(p->v.dur, &p->v.dur_sum, &a->duration);
			hist_add(p->v.req, &p->v.req_sum, &a->request_bytes);
			hist_add(p->v.resp, &p->v.resp_sum, &a->response_bytes);
			if (a->has_exemplar) {
				p->has_ex = true;
				p->ex = a->exemplar;
			}
		} else {
			const struct mx_tcp_agg *a = u->tcp;
			p->v.count += a->opened;
			p->v.tcp_closed += a->closed;
			p->v.tcp_sent += a->sent_bytes;
			p->v.tcp_received += a->received_bytes;
		}
	}
	m->txn_updates += mi->n_upd;
	m->txn_applied++;
	m->txn_dropped_spans += r->dropped_spans;
	return mx_metrics_db_set_seq(st, txn, r->instance_id, r->sequence, now);
}

int mx_metrics_flush(struct mx_store *st, MDB_txn *txn, uint64_t now)
{
	struct mx_metrics *m = st->metrics;
	for (uint32_t i = 0; i < m->n_pend; i++) {
		const struct mx_mpend *p = &m->pend[i];
		const struct mx_mser *s = &m->ser[p->slot];
		int rc = mx_metrics_db_put(st, txn, s, &p->v, !s->persisted, now);
		if (rc != MX_OK)
			return rc;
	}
	return MX_OK;
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
			s->v = p->v;
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
