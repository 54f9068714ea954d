/*
 * span_record.c - encoder and bounds-checked decoder of the span and
 * resource records (see span_record.h; byte layout in storage/SCHEMA.md).
 *
 * The encoder reserves room once per field and writes directly into the
 * buffer, so encoding a span costs a few dozen stores and no allocation
 * beyond the buffer's growth. The decoder copies the record into the arena
 * once and points every string into that copy; each count read from the
 * record is checked against the bytes left (every element takes at least
 * one byte) before anything is allocated, so a corrupt record can neither
 * read out of bounds nor make the decoder allocate more than a small
 * multiple of its own size.
 */
#include "span_record.h"

#include <string.h>

#include "../model/error.h"

/* presence bits of a span record */
#define P_TSTATE 0x01u
#define P_STMSG 0x02u
#define P_FLAGS 0x04u
#define P_DATTRS 0x08u
#define P_EVENTS 0x10u
#define P_LINKS 0x20u
#define P_LOCAL 0x40u
#define P_REMOTE 0x80u

/* ---------------------------------------------------------------- hash */

static inline uint64_t rd64(const uint8_t *p)
{
	return mx_get_le64(p);
}

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

uint64_t mx_hash64(const void *data, size_t n, uint64_t seed)
{
	const uint8_t *p = data;
	uint64_t h = seed ^ ((uint64_t)n * 0x9e3779b97f4a7c15ULL);
	while (n >= 8) {
		h = (h ^ mix64(rd64(p))) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
		p += 8;
		n -= 8;
	}
	uint64_t tail = 0;
	for (size_t i = 0; i < n; i++)
		tail |= (uint64_t)p[i] << (8 * i);
	h = (h ^ mix64(tail ^ 0x5bd1e995ULL)) * 0x9e3779b97f4a7c15ULL;
	return mix64(h);
}

/* ------------------------------------------------------------- encoder */

static inline int put_raw(struct mx_buf *b, const void *p, size_t n)
{
	return mx_buf_append(b, p, n);
}

static inline int put_u8(struct mx_buf *b, uint8_t v)
{
	return mx_buf_putc(b, v);
}

static inline int put_varint(struct mx_buf *b, uint64_t v)
{
	if (mx_buf_reserve(b, 10) != MX_OK)
		return MX_ENOMEM;
	uint8_t *o = b->data + b->len;
	size_t n = 0;
	while (v >= 0x80) {
		o[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	o[n++] = (uint8_t)v;
	b->len += n;
	return MX_OK;
}

static inline int put_str(struct mx_buf *b, struct mx_str s)
{
	if (put_varint(b, s.len) != MX_OK)
		return MX_ENOMEM;
	return s.len ? put_raw(b, s.ptr, s.len) : MX_OK;
}

static inline uint64_t zigzag(uint64_t d)
{
	return (d << 1) ^ (0 - (d >> 63));
}

static inline uint64_t unzigzag(uint64_t z)
{
	return (z >> 1) ^ (0 - (z & 1));
}

static int put_attrs(struct mx_buf *b, const struct mx_attrs *a, int depth);

static int put_value(struct mx_buf *b, const struct mx_value *v, int depth)
{
	if (depth > MX_RECORD_MAX_DEPTH)
		return MX_EDEPTH;
	if (put_u8(b, v->type) != MX_OK)
		return MX_ENOMEM;
	switch (v->type) {
	case MX_VAL_EMPTY:
		return MX_OK;
	case MX_VAL_STRING:
	case MX_VAL_BYTES:
		return put_str(b, v->u.s);
	case MX_VAL_BOOL:
		return put_u8(b, v->u.b ? 1 : 0);
	case MX_VAL_INT:
		return put_varint(b, zigzag((uint64_t)v->u.i));
	case MX_VAL_DOUBLE: {
		uint64_t bits;
		uint8_t tmp[8];
		memcpy(&bits, &v->u.d, 8);
		mx_put_le64(tmp, bits);
		return put_raw(b, tmp, 8);
	}
	case MX_VAL_ARRAY: {
		if (put_varint(b, v->u.arr.n) != MX_OK)
			return MX_ENOMEM;
		for (uint32_t i = 0; i < v->u.arr.n; i++) {
			int rc = put_value(b, &v->u.arr.items[i], depth + 1);
			if (rc != MX_OK)
				return rc;
		}
		return MX_OK;
	}
	case MX_VAL_MAP: {
		struct mx_attrs m = { v->u.map.items, v->u.map.n };
		return put_attrs(b, &m, depth + 1);
	}
	default:
		return MX_EINVAL;
	}
}

static int put_attrs(struct mx_buf *b, const struct mx_attrs *a, int depth)
{
	if (depth > MX_RECORD_MAX_DEPTH)
		return MX_EDEPTH;
	if (put_varint(b, a->n) != MX_OK)
		return MX_ENOMEM;
	for (uint32_t i = 0; i < a->n; i++) {
		if (put_str(b, a->items[i].key) != MX_OK)
			return MX_ENOMEM;
		int rc = put_value(b, &a->items[i].value, depth);
		if (rc != MX_OK)
			return rc;
	}
	return MX_OK;
}

static bool endpoint_present(const struct mx_endpoint *e)
{
	return e->service_name.len || e->ipv4.len || e->ipv6.len || e->port;
}

static int put_endpoint(struct mx_buf *b, const struct mx_endpoint *e)
{
	put_str(b, e->service_name);
	put_str(b, e->ipv4);
	put_str(b, e->ipv6);
	return put_varint(b, e->port);
}

int mx_span_record_encode(const struct mx_span *s, uint64_t res_key,
			  uint64_t arrival_ns, struct mx_buf *b)
{
	uint8_t hdr[MX_SPAN_RECORD_HDR + 16 + 8 + 8 + 3];
	uint8_t pres = 0;
	if (s->trace_state.len)
		pres |= P_TSTATE;
	if (s->status_message.len)
		pres |= P_STMSG;
	if (s->flags || s->mx_flags)
		pres |= P_FLAGS;
	if (s->dropped_attrs)
		pres |= P_DATTRS;
	if (s->n_events || s->dropped_events)
		pres |= P_EVENTS;
	if (s->n_links || s->dropped_links)
		pres |= P_LINKS;
	if (endpoint_present(&s->local))
		pres |= P_LOCAL;
	if (endpoint_present(&s->remote))
		pres |= P_REMOTE;

	hdr[0] = MX_SPAN_RECORD_VERSION;
	mx_put_le64(hdr + 1, arrival_ns);
	mx_put_be64(hdr + 9, res_key);
	memcpy(hdr + 17, s->trace_id, 16);
	memcpy(hdr + 33, s->span_id, 8);
	memcpy(hdr + 41, s->parent_span_id, 8);
	hdr[49] = s->kind;
	hdr[50] = s->status_code;
	hdr[51] = pres;
	put_raw(b, hdr, sizeof(hdr));
	put_varint(b, s->start_ns);
	put_varint(b, s->end_ns - s->start_ns);
	put_str(b, s->name);
	if (pres & P_TSTATE)
		put_str(b, s->trace_state);
	if (pres & P_STMSG)
		put_str(b, s->status_message);
	if (pres & P_FLAGS) {
		put_varint(b, s->flags);
		put_varint(b, s->mx_flags);
	}
	int rc = put_attrs(b, &s->attrs, 0);
	if (rc != MX_OK)
		return rc;
	if (pres & P_DATTRS)
		put_varint(b, s->dropped_attrs);
	if (pres & P_EVENTS) {
		put_varint(b, s->n_events);
		put_varint(b, s->dropped_events);
		for (uint32_t i = 0; i < s->n_events; i++) {
			const struct mx_event *e = &s->events[i];
			put_varint(b, zigzag(e->time_ns - s->start_ns));
			put_str(b, e->name);
			if ((rc = put_attrs(b, &e->attrs, 0)) != MX_OK)
				return rc;
			put_varint(b, e->dropped_attrs);
		}
	}
	if (pres & P_LINKS) {
		put_varint(b, s->n_links);
		put_varint(b, s->dropped_links);
		for (uint32_t i = 0; i < s->n_links; i++) {
			const struct mx_link *l = &s->links[i];
			put_raw(b, l->trace_id, 16);
			put_raw(b, l->span_id, 8);
			put_varint(b, l->flags);
			put_str(b, l->trace_state);
			if ((rc = put_attrs(b, &l->attrs, 0)) != MX_OK)
				return rc;
			put_varint(b, l->dropped_attrs);
		}
	}
	if (pres & P_LOCAL)
		put_endpoint(b, &s->local);
	if (pres & P_REMOTE)
		put_endpoint(b, &s->remote);
	return b->failed ? MX_ENOMEM : MX_OK;
}

int mx_resource_record_encode(const struct mx_resource *r,
			      const struct mx_scope *sc, struct mx_buf *b)
{
	static const struct mx_resource no_res;
	static const struct mx_scope no_scope;
	if (!r)
		r = &no_res;
	if (!sc)
		sc = &no_scope;
	put_u8(b, MX_RESOURCE_RECORD_VERSION);
	int rc = put_attrs(b, &r->attrs, 0);
	if (rc != MX_OK)
		return rc;
	put_varint(b, r->dropped_attrs);
	put_str(b, r->schema_url);
	put_str(b, sc->name);
	put_str(b, sc->version);
	if ((rc = put_attrs(b, &sc->attrs, 0)) != MX_OK)
		return rc;
	put_varint(b, sc->dropped_attrs);
	put_str(b, sc->schema_url);
	return b->failed ? MX_ENOMEM : MX_OK;
}

/* ------------------------------------------------------------- decoder */

struct dec {
	const uint8_t *p;
	const uint8_t *end;
	struct mx_arena *a;
};

static inline size_t left(const struct dec *d)
{
	return (size_t)(d->end - d->p);
}

static int get_varint(struct dec *d, uint64_t *out)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 70; shift += 7) {
		if (d->p >= d->end)
			return MX_ESTORE;
		uint8_t c = *d->p++;
		if (shift == 63 && c > 1)
			return MX_ESTORE;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*out = v;
			return MX_OK;
		}
	}
	return MX_ESTORE;
}

static int get_u32(struct dec *d, uint32_t *out)
{
	uint64_t v;
	if (get_varint(d, &v) != MX_OK || v > UINT32_MAX)
		return MX_ESTORE;
	*out = (uint32_t)v;
	return MX_OK;
}

/* A count of elements that each take at least `min` bytes. */
static int get_count(struct dec *d, uint32_t min, uint32_t *out)
{
	if (get_u32(d, out) != MX_OK)
		return MX_ESTORE;
	if ((uint64_t)*out * min > left(d))
		return MX_ESTORE;
	return MX_OK;
}

static int get_u8(struct dec *d, uint8_t *out)
{
	if (d->p >= d->end)
		return MX_ESTORE;
	*out = *d->p++;
	return MX_OK;
}

static int get_raw(struct dec *d, void *out, size_t n)
{
	if (left(d) < n)
		return MX_ESTORE;
	memcpy(out, d->p, n);
	d->p += n;
	return MX_OK;
}

static int get_str(struct dec *d, struct mx_str *s)
{
	uint32_t n;
	if (get_u32(d, &n) != MX_OK || n > left(d))
		return MX_ESTORE;
	s->ptr = (const char *)d->p; /* valid even when n == 0 */
	s->len = n;
	d->p += n;
	return MX_OK;
}

static int get_attrs(struct dec *d, struct mx_attrs *a, int depth);

static int get_value(struct dec *d, struct mx_value *v, int depth)
{
	if (depth > MX_RECORD_MAX_DEPTH)
		return MX_ESTORE;
	memset(v, 0, sizeof(*v));
	if (get_u8(d, &v->type) != MX_OK)
		return MX_ESTORE;
	switch (v->type) {
	case MX_VAL_EMPTY:
		return MX_OK;
	case MX_VAL_STRING:
	case MX_VAL_BYTES:
		return get_str(d, &v->u.s);
	case MX_VAL_BOOL: {
		uint8_t c;
		if (get_u8(d, &c) != MX_OK || c > 1)
			return MX_ESTORE;
		v->u.b = c != 0;
		return MX_OK;
	}
	case MX_VAL_INT: {
		uint64_t z;
		if (get_varint(d, &z) != MX_OK)
			return MX_ESTORE;
		uint64_t u = unzigzag(z);
		memcpy(&v->u.i, &u, 8);
		return MX_OK;
	}
	case MX_VAL_DOUBLE: {
		uint8_t tmp[8];
		if (get_raw(d, tmp, 8) != MX_OK)
			return MX_ESTORE;
		uint64_t bits = mx_get_le64(tmp);
		memcpy(&v->u.d, &bits, 8);
		return MX_OK;
	}
	case MX_VAL_ARRAY: {
		uint32_t n;
		if (get_count(d, 1, &n) != MX_OK)
			return MX_ESTORE;
		struct mx_value *items = NULL;
		if (n) {
			items = mx_arena_alloc(d->a, (size_t)n * sizeof(*items));
			if (!items)
				return MX_ENOMEM;
		}
		for (uint32_t i = 0; i < n; i++) {
			int rc = get_value(d, &items[i], depth + 1);
			if (rc != MX_OK)
				return rc;
		}
		v->u.arr.items = items;
		v->u.arr.n = n;
		return MX_OK;
	}
	case MX_VAL_MAP: {
		struct mx_attrs m;
		int rc = get_attrs(d, &m, depth + 1);
		if (rc != MX_OK)
			return rc;
		v->u.map.items = m.items;
		v->u.map.n = m.n;
		return MX_OK;
	}
	default:
		return MX_ESTORE;
	}
}

static int get_attrs(struct dec *d, struct mx_attrs *a, int depth)
{
	a->items = NULL;
	a->n = 0;
	if (depth > MX_RECORD_MAX_DEPTH)
		return MX_ESTORE;
	uint32_t n;
	if (get_count(d, 2, &n) != MX_OK)
		return MX_ESTORE;
	if (!n)
		return MX_OK;
	struct mx_attr *items = mx_arena_alloc(d->a, (size_t)n * sizeof(*items));
	if (!items)
		return MX_ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		if (get_str(d, &items[i].key) != MX_OK)
			return MX_ESTORE;
		int rc = get_value(d, &items[i].value, depth);
		if (rc != MX_OK)
			return rc;
	}
	a->items = items;
	a->n = n;
	return MX_OK;
}

static int get_endpoint(struct dec *d, struct mx_endpoint *e)
{
	uint32_t port;
	if (get_str(d, &e->service_name) != MX_OK || get_str(d, &e->ipv4) != MX_OK ||
	    get_str(d, &e->ipv6) != MX_OK || get_u32(d, &port) != MX_OK ||
	    port > 65535)
		return MX_ESTORE;
	e->port = (uint16_t)port;
	return MX_OK;
}

/* Copies the record into the arena and points the decoder at the copy. */
static int dec_init(struct dec *d, const uint8_t *p, size_t n,
		    struct mx_arena *a)
{
	uint8_t *copy = mx_arena_alloc(a, n);
	if (!copy)
		return MX_ENOMEM;
	if (n)
		memcpy(copy, p, n);
	d->p = copy;
	d->end = copy + n;
	d->a = a;
	return MX_OK;
}

int mx_span_record_header(const uint8_t *p, size_t n, uint64_t *res_key,
			  uint64_t *arrival_ns)
{
	if (!p || n < MX_SPAN_RECORD_HDR || p[0] != MX_SPAN_RECORD_VERSION)
		return MX_ESTORE;
	if (arrival_ns)
		*arrival_ns = mx_get_le64(p + 1);
	if (res_key)
		*res_key = mx_get_be64(p + 9);
	return MX_OK;
}

static int decode_events(struct dec *d, struct mx_span *s)
{
	if (get_count(d, 4, &s->n_events) != MX_OK ||
	    get_u32(d, &s->dropped_events) != MX_OK)
		return MX_ESTORE;
	if (!s->n_events)
		return MX_OK;
	s->events = mx_arena_calloc(d->a, s->n_events, sizeof(*s->events));
	if (!s->events)
		return MX_ENOMEM;
	for (uint32_t i = 0; i < s->n_events; i++) {
		struct mx_event *e = &s->events[i];
		uint64_t z;
		int rc;
		if (get_varint(d, &z) != MX_OK || get_str(d, &e->name) != MX_OK)
			return MX_ESTORE;
		e->time_ns = s->start_ns + unzigzag(z);
		if ((rc = get_attrs(d, &e->attrs, 0)) != MX_OK)
			return rc;
		if (get_u32(d, &e->dropped_attrs) != MX_OK)
			return MX_ESTORE;
	}
	return MX_OK;
}

static int decode_links(struct dec *d, struct mx_span *s)
{
	if (get_count(d, 28, &s->n_links) != MX_OK ||
	    get_u32(d, &s->dropped_links) != MX_OK)
		return MX_ESTORE;
	if (!s->n_links)
		return MX_OK;
	s->links = mx_arena_calloc(d->a, s->n_links, sizeof(*s->links));
	if (!s->links)
		return MX_ENOMEM;
	for (uint32_t i = 0; i < s->n_links; i++) {
		struct mx_link *l = &s->links[i];
		int rc;
		if (get_raw(d, l->trace_id, 16) != MX_OK ||
		    get_raw(d, l->span_id, 8) != MX_OK ||
		    get_u32(d, &l->flags) != MX_OK ||
		    get_str(d, &l->trace_state) != MX_OK)
			return MX_ESTORE;
		if ((rc = get_attrs(d, &l->attrs, 0)) != MX_OK)
			return rc;
		if (get_u32(d, &l->dropped_attrs) != MX_OK)
			return MX_ESTORE;
	}
	return MX_OK;
}

static int decode_span(struct dec *d, struct mx_span *s)
{
	uint8_t pres = 0;
	uint64_t dur;
	int rc;
	d->p += MX_SPAN_RECORD_HDR; /* checked by the caller */
	if (get_raw(d, s->trace_id, 16) != MX_OK ||
	    get_raw(d, s->span_id, 8) != MX_OK ||
	    get_raw(d, s->parent_span_id, 8) != MX_OK ||
	    get_u8(d, &s->kind) != MX_OK || get_u8(d, &s->status_code) != MX_OK ||
	    get_u8(d, &pres) != MX_OK || get_varint(d, &s->start_ns) != MX_OK ||
	    get_varint(d, &dur) != MX_OK || get_str(d, &s->name) != MX_OK)
		return MX_ESTORE;
	s->end_ns = s->start_ns + dur;
	if ((pres & P_TSTATE) && get_str(d, &s->trace_state) != MX_OK)
		return MX_ESTORE;
	if ((pres & P_STMSG) && get_str(d, &s->status_message) != MX_OK)
		return MX_ESTORE;
	if ((pres & P_FLAGS) && (get_u32(d, &s->flags) != MX_OK ||
				 get_u32(d, &s->mx_flags) != MX_OK))
		return MX_ESTORE;
	if ((rc = get_attrs(d, &s->attrs, 0)) != MX_OK)
		return rc;
	if ((pres & P_DATTRS) && get_u32(d, &s->dropped_attrs) != MX_OK)
		return MX_ESTORE;
	if ((pres & P_EVENTS) && (rc = decode_events(d, s)) != MX_OK)
		return rc;
	if ((pres & P_LINKS) && (rc = decode_links(d, s)) != MX_OK)
		return rc;
	if ((pres & P_LOCAL) && get_endpoint(d, &s->local) != MX_OK)
		return MX_ESTORE;
	if ((pres & P_REMOTE) && get_endpoint(d, &s->remote) != MX_OK)
		return MX_ESTORE;
	return d->p == d->end ? MX_OK : MX_ESTORE;
}

int mx_span_record_decode(const uint8_t *p, size_t n, struct mx_arena *arena,
			  struct mx_span *out, uint64_t *res_key,
			  uint64_t *arrival_ns)
{
	struct dec d;
	memset(out, 0, sizeof(*out));
	int rc = mx_span_record_header(p, n, res_key, arrival_ns);
	if (rc != MX_OK)
		return rc;
	if ((rc = dec_init(&d, p, n, arena)) != MX_OK)
		return rc;
	rc = decode_span(&d, out);
	if (rc != MX_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}

int mx_resource_record_decode(const uint8_t *p, size_t n,
			      struct mx_arena *arena,
			      const struct mx_resource **rout,
			      const struct mx_scope **scout)
{
	struct dec d;
	uint8_t ver;
	int rc;
	*rout = NULL;
	*scout = NULL;
	if (!p || n < 1 || p[0] != MX_RESOURCE_RECORD_VERSION)
		return MX_ESTORE;
	struct mx_resource *r = mx_arena_calloc(arena, 1, sizeof(*r));
	struct mx_scope *sc = mx_arena_calloc(arena, 1, sizeof(*sc));
	if (!r || !sc)
		return MX_ENOMEM;
	if ((rc = dec_init(&d, p, n, arena)) != MX_OK)
		return rc;
	if (get_u8(&d, &ver) != MX_OK)
		return MX_ESTORE;
	if ((rc = get_attrs(&d, &r->attrs, 0)) != MX_OK)
		return rc;
	if (get_u32(&d, &r->dropped_attrs) != MX_OK ||
	    get_str(&d, &r->schema_url) != MX_OK ||
	    get_str(&d, &sc->name) != MX_OK || get_str(&d, &sc->version) != MX_OK)
		return MX_ESTORE;
	if ((rc = get_attrs(&d, &sc->attrs, 0)) != MX_OK)
		return rc;
	if (get_u32(&d, &sc->dropped_attrs) != MX_OK ||
	    get_str(&d, &sc->schema_url) != MX_OK || d.p != d.end)
		return MX_ESTORE;
	*rout = r;
	*scout = sc;
	return MX_OK;
}
