/*
 * sgraph_fact.c - the service-graph facts of a batch, extracted on the
 * submitting thread (store.c submit()) while the batch is at hand, so
 * that the writer only looks names up and adds (see sgraph.h).
 *
 * Per span: its service (cached per resource), its name, kind, status and
 * duration go into one aggregate per (service, name, kind, status) with
 * the span-metrics histogram already bucketed; a CLIENT / PRODUCER or
 * SERVER / CONSUMER span also becomes a half: its pairing key, side,
 * error and messaging flags, start and duration, and for a client the
 * peer it calls (remote endpoint service, peer.service, db.name,
 * db.system) and, for a database call, the database node. Names are
 * copied once per batch into one string block (deduplicated), cut to
 * MX_SG_NAME_MAX bytes at the first NUL and at the end of the longest
 * valid UTF-8 prefix, so that every label /metrics writes is valid.
 */
#include <stdio.h>
#include <string.h>

#include "../model/error.h"
#include "sgraph_int.h"
#include "span_record.h"
#include "store_int.h"

#define STR_MAX (256u << 20)
#define ARR_MAX (512u << 20)

struct fb {
	struct mx_buf halves, aggs, str;
	struct mx_buf srefs; /* struct mx_sg_sref of the deduplicated strings */
	struct mx_sg_index str_idx, agg_idx;
	const struct mx_resource *c_res; /* the service cache */
	const char *c_local;
	struct mx_sg_sref c_svc;
};

/* Length of the longest valid UTF-8 prefix of s[0..n) (no overlong forms,
 * surrogates or code points past U+10FFFF). */
static uint32_t utf8_valid_prefix(const uint8_t *s, uint32_t n)
{
	uint32_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		uint32_t len, cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xC2 && c <= 0xDF) {
			len = 2;
			cp = c & 0x1Fu;
		} else if (c >= 0xE0 && c <= 0xEF) {
			len = 3;
			cp = c & 0x0Fu;
		} else if (c >= 0xF0 && c <= 0xF4) {
			len = 4;
			cp = c & 0x07u;
		} else {
			break;
		}
		if (n - i < len)
			break;
		uint32_t k = 1;
		for (; k < len && (s[i + k] & 0xC0) == 0x80; k++)
			cp = cp << 6 | (s[i + k] & 0x3Fu);
		if (k < len || (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
			break;
		i += len;
	}
	return i;
}

/* A name as a label: at most MX_SG_NAME_MAX bytes, up to the first NUL,
 * valid UTF-8. */
static struct mx_str clean(struct mx_str s)
{
	uint32_t n = s.len > MX_SG_NAME_MAX ? MX_SG_NAME_MAX : s.len;
	if (!n)
		return (struct mx_str){ "", 0 };
	const char *z = memchr(s.ptr, 0, n);
	if (z)
		n = (uint32_t)(z - s.ptr);
	n = utf8_valid_prefix((const uint8_t *)s.ptr, n);
	return (struct mx_str){ s.ptr, n };
}

/* The block offset of a (cleaned) string, appending it when new. */
static int intern(struct fb *b, struct mx_str s, struct mx_sg_sref *out)
{
	uint64_t h = mx_hash64(s.ptr, s.len, MX_SG_SEED);
	uint32_t i = mx_sg_index_start(&b->str_idx, h);
	for (; b->str_idx.s[i].pos; i = mx_sg_index_next(&b->str_idx, i)) {
		const struct mx_sg_sref *r = (const struct mx_sg_sref *)b->srefs.data +
					     (b->str_idx.s[i].pos - 1);
		if (b->str_idx.s[i].hash == h && r->len == s.len &&
		    memcmp(b->str.data + r->off, s.ptr, s.len) == 0) {
			*out = *r;
			return MX_OK;
		}
	}
	struct mx_sg_sref r = { (uint32_t)b->str.len, s.len, h };
	uint32_t pos = (uint32_t)(b->srefs.len / sizeof(r));
	if (mx_buf_append(&b->str, s.ptr, s.len) != MX_OK ||
	    mx_buf_append(&b->srefs, &r, sizeof(r)) != MX_OK)
		return MX_ENOMEM;
	mx_sg_index_put(&b->str_idx, i, h, pos);
	if (!mx_sg_index_reserve(&b->str_idx))
		return MX_ENOMEM;
	*out = r;
	return MX_OK;
}

static int intern_raw(struct fb *b, struct mx_str s, struct mx_sg_sref *out)
{
	return intern(b, clean(s), out);
}

/* The service of a span, cached while spans share resource and local
 * endpoint name (mx_span_service() reads both). */
static int service(struct fb *b, const struct mx_span *s, struct mx_sg_sref *out)
{
	if (b->c_res && s->resource == b->c_res &&
	    s->local.service_name.ptr == b->c_local) {
		*out = b->c_svc;
		return MX_OK;
	}
	int rc = intern_raw(b, mx_span_service(s), out);
	if (rc == MX_OK) {
		b->c_res = s->resource;
		b->c_local = s->local.service_name.ptr;
		b->c_svc = *out;
	}
	return rc;
}

static uint32_t bucket_of(uint64_t ns)
{
	static const uint64_t bounds[MX_SM_HIST_N - 1] = MX_SM_HIST_BOUNDS_NS;
	uint32_t i = 0;
	while (i < MX_SM_HIST_N - 1 && ns > bounds[i])
		i++;
	return i;
}

/* Adds the span to the aggregate of (service, name, kind, status). */
static int add_agg(struct fb *b, struct mx_sg_sref svc, struct mx_str name,
		   uint8_t kind, uint8_t status, uint64_t dur)
{
	uint64_t h = mx_hash64(name.ptr, name.len, MX_SG_SEED) ^
		     ((uint64_t)svc.off * 0x9e3779b97f4a7c15ull) ^
		     ((uint64_t)kind << 56) ^ ((uint64_t)status << 48);
	struct mx_sg_agg *a = NULL;
	uint32_t i = mx_sg_index_start(&b->agg_idx, h);
	for (; b->agg_idx.s[i].pos; i = mx_sg_index_next(&b->agg_idx, i)) {
		struct mx_sg_agg *c = (struct mx_sg_agg *)b->aggs.data +
				      (b->agg_idx.s[i].pos - 1);
		if (c->hash == h && c->svc.off == svc.off && c->kind == kind &&
		    c->status == status && c->name.len == name.len &&
		    memcmp(b->str.data + c->name.off, name.ptr, name.len) == 0) {
			a = c;
			break;
		}
	}
	if (!a) {
		struct mx_sg_agg n;
		memset(&n, 0, sizeof(n));
		n.svc = svc;
		n.hash = h;
		n.kind = kind;
		n.status = status;
		if (intern(b, name, &n.name) != MX_OK)
			return MX_ENOMEM;
		n.series_hash = mx_sg_span_hash(svc.hash, n.name.hash, kind, status);
		uint32_t pos = (uint32_t)(b->aggs.len / sizeof(n));
		if (mx_buf_append(&b->aggs, &n, sizeof(n)) != MX_OK)
			return MX_ENOMEM;
		/* interning may have grown the string index, not this one */
		mx_sg_index_put(&b->agg_idx, i, h, pos);
		if (!mx_sg_index_reserve(&b->agg_idx))
			return MX_ENOMEM;
		a = (struct mx_sg_agg *)b->aggs.data + pos;
	}
	a->calls++;
	a->sum_ns += dur;
	a->b[bucket_of(dur)]++;
	return MX_OK;
}

/* What a client span says about its peer (span attributes). */
struct peer_attrs {
	struct mx_str peer_service, db_name, db_system, server_address;
	struct mx_str net_addr;
	const struct mx_value *net_port;
};

static bool key_is(struct mx_str k, const char *lit, size_t n)
{
	return k.len == n && memcmp(k.ptr, lit, n) == 0;
}

#define KEY_IS(k, lit) key_is((k), (lit), sizeof(lit) - 1)

static void scan_peer(const struct mx_span *s, struct peer_attrs *p)
{
	memset(p, 0, sizeof(*p));
	for (uint32_t i = 0; i < s->attrs.n; i++) {
		const struct mx_attr *a = &s->attrs.items[i];
		struct mx_str k = a->key;
		if (k.len < 7 || (k.ptr[0] != 'p' && k.ptr[0] != 'd' &&
				  k.ptr[0] != 's' && k.ptr[0] != 'n'))
			continue;
		if (KEY_IS(k, "network.peer.port")) {
			p->net_port = &a->value;
			continue;
		}
		if (a->value.type != MX_VAL_STRING || a->value.u.s.len == 0)
			continue;
		struct mx_str v = a->value.u.s;
		if (KEY_IS(k, "peer.service"))
			p->peer_service = v;
		else if (KEY_IS(k, "db.name") ||
			 (KEY_IS(k, "db.namespace") && !p->db_name.len))
			p->db_name = v;
		else if (KEY_IS(k, "db.system") ||
			 (KEY_IS(k, "db.system.name") && !p->db_system.len))
			p->db_system = v;
		else if (KEY_IS(k, "server.address"))
			p->server_address = v;
		else if (KEY_IS(k, "network.peer.address"))
			p->net_addr = v;
	}
}

/* The client half's peer node and database node. */
static int client_peer(struct fb *b, const struct mx_span *s,
		       struct mx_sg_half *h)
{
	struct peer_attrs p;
	scan_peer(s, &p);
	struct mx_str remote = s->remote.service_name.len ? s->remote.service_name
							  : p.peer_service;
	struct mx_str peer = remote.len ? remote
			     : p.db_name.len ? p.db_name : p.db_system;
	int rc = intern_raw(b, peer, &h->peer);
	if (rc != MX_OK || (!p.db_name.len && !p.db_system.len))
		return rc;
	h->flags |= MX_SG_F_DB;
	if (remote.len)
		return intern_raw(b, remote, &h->db);
	if (p.server_address.len)
		return intern_raw(b, p.server_address, &h->db);
	if (p.net_addr.len) {
		char tmp[48], hp[MX_SG_NAME_MAX + 1];
		struct mx_str port = { NULL, 0 };
		if (!p.net_port ||
		    !mx_store_value_text(p.net_port, tmp, sizeof(tmp), &port) ||
		    port.len == 0)
			return intern_raw(b, p.net_addr, &h->db);
		struct mx_str addr = clean(p.net_addr);
		int n = snprintf(hp, sizeof(hp), "%.*s:%.*s", (int)addr.len,
				 addr.ptr, (int)port.len, port.ptr);
		if (n < 0)
			return MX_ENOMEM;
		return intern_raw(b, (struct mx_str){ hp, (uint32_t)strlen(hp) },
				  &h->db);
	}
	return intern_raw(b, p.db_name, &h->db);
}

/* The half of a CLIENT / PRODUCER / SERVER / CONSUMER span. */
static int add_half(struct fb *b, const struct mx_span *s,
		    struct mx_sg_sref svc, uint64_t dur)
{
	struct mx_sg_half h;
	bool client = s->kind == MX_KIND_CLIENT || s->kind == MX_KIND_PRODUCER;
	if (mx_id_is_zero(s->span_id, 8))
		return MX_OK;
	memset(&h, 0, sizeof(h));
	memcpy(h.key, s->trace_id, 16);
	h.side = client ? MX_SG_SIDE_CLIENT : MX_SG_SIDE_SERVER;
	h.svc = svc;
	h.start_ns = s->start_ns;
	h.dur_ns = dur;
	if (s->status_code == MX_STATUS_ERROR)
		h.flags |= MX_SG_F_ERROR;
	if (s->kind == MX_KIND_PRODUCER || s->kind == MX_KIND_CONSUMER)
		h.flags |= MX_SG_F_MSG;
	int rc;
	if (client) {
		memcpy(h.key + 16, s->span_id, 8);
		rc = client_peer(b, s, &h);
	} else {
		bool shared = (s->mx_flags & MX_SPAN_F_SHARED) != 0;
		if (shared || mx_id_is_zero(s->parent_span_id, 8)) {
			/* a shared half pairs under its own id; a root span
			 * cannot pair and gets a key of its own */
			memcpy(h.key + 16, s->span_id, 8);
			if (!shared) {
				h.key[24] = 1;
				h.flags |= MX_SG_F_ROOT;
			}
		} else {
			memcpy(h.key + 16, s->parent_span_id, 8);
		}
		rc = intern_raw(b, mx_store_remote_service(s), &h.peer);
	}
	h.hash = mx_hash64(h.key, MX_SG_KEY_LEN, MX_SG_SEED);
	if (rc == MX_OK)
		rc = mx_buf_append(&b->halves, &h, sizeof(h));
	return rc;
}

static void fb_free(struct fb *b)
{
	mx_buf_free(&b->halves);
	mx_buf_free(&b->aggs);
	mx_buf_free(&b->str);
	mx_buf_free(&b->srefs);
	mx_sg_index_free(&b->str_idx);
	mx_sg_index_free(&b->agg_idx);
}

int mx_sg_facts_build(const struct mx_batch *batch, struct mx_sg_facts **out)
{
	struct fb b;
	struct mx_sg_facts *f = NULL;
	int rc = MX_ENOMEM;

	*out = NULL;
	if (!batch || batch->n_spans == 0)
		return MX_OK;
	memset(&b, 0, sizeof(b));
	mx_buf_init(&b.halves, ARR_MAX);
	mx_buf_init(&b.aggs, ARR_MAX);
	mx_buf_init(&b.str, STR_MAX);
	mx_buf_init(&b.srefs, ARR_MAX);
	if (!mx_sg_index_init(&b.str_idx, 64) || !mx_sg_index_init(&b.agg_idx, 64))
		goto out;
	for (uint32_t i = 0; i < batch->n_spans; i++) {
		const struct mx_span *s = &batch->spans[i];
		struct mx_sg_sref svc;
		uint64_t dur = s->end_ns > s->start_ns ? s->end_ns - s->start_ns : 0;
		uint8_t kind = s->kind <= MX_KIND_CONSUMER ? s->kind : MX_KIND_UNSPECIFIED;
		uint8_t status = s->status_code <= MX_STATUS_ERROR ? s->status_code
								   : MX_STATUS_UNSET;
		if (service(&b, s, &svc) != MX_OK ||
		    add_agg(&b, svc, clean(s->name), kind, status, dur) != MX_OK)
			goto out;
		if (kind >= MX_KIND_SERVER && add_half(&b, s, svc, dur) != MX_OK)
			goto out;
	}
	if (!(f = calloc(1, sizeof(*f))))
		goto out;
	f->n_halves = (uint32_t)(b.halves.len / sizeof(struct mx_sg_half));
	f->n_aggs = (uint32_t)(b.aggs.len / sizeof(struct mx_sg_agg));
	f->bytes = sizeof(*f) + b.halves.len + b.aggs.len + b.str.len;
	size_t len;
	f->halves = (struct mx_sg_half *)mx_buf_steal(&b.halves, &len);
	f->aggs = (struct mx_sg_agg *)mx_buf_steal(&b.aggs, &len);
	f->str = (char *)mx_buf_steal(&b.str, &f->str_len);
	if (!f->str) /* all names empty: keep a valid pointer */
		f->str = calloc(1, 1);
	if (!f->str) {
		mx_sg_facts_free(f);
		f = NULL;
		goto out;
	}
	*out = f;
	rc = MX_OK;
out:
	fb_free(&b);
	return rc;
}

void mx_sg_facts_free(struct mx_sg_facts *f)
{
	if (!f)
		return;
	free(f->halves);
	free(f->aggs);
	free(f->str);
	free(f);
}
