/*
 * zipkin_v1_decode.c - Zipkin v1 JSON (a list of v1 spans) -> model, by the
 * rules of Zipkin's V1SpanConverter (wire-protocols.md 1.4).
 *
 * One v1 span is split into one model span per local endpoint ("builder"):
 * each annotation and binary annotation goes to the builder whose local
 * service name matches its endpoint (the first builder adopts the first
 * endpoint it sees; items without an endpoint go to the first builder).
 * Core annotations (cs cr sr ss ms mr ws wr, with an endpoint) are timing,
 * not events: they set kind, timestamp and duration. cs and sr in one span
 * give a client span and a shared server span with the same ids; a
 * server-only span without a v1 timestamp is shared. Binary annotations
 * become tags, except the address annotations ca, sa and ma (value true or
 * "1") whose endpoint becomes the remote endpoint. Events of each span are
 * sorted by time and value, as Zipkin does.
 *
 * JSON types, leniency and errors are those of the v2 decoder (shared
 * mx_zk_json_* readers). A v2 body (localEndpoint, remoteEndpoint or tags in
 * a span) is MX_EINVAL. Caps apply per v1 span: an over-cap value rejects
 * the v1 span with all the model spans it would give (counted once).
 */
#include <stdlib.h>
#include <string.h>

#include "../model/error.h"
#include "zipkin.h"
#include "zipkin_int.h"

struct v1_ann {
	uint64_t ts;
	const char *v; /* in the jansson tree */
	size_t vn;
	int ep;        /* endpoint index, -1 none */
	int owner;     /* builder index, -1 when timing only */
};

struct v1_bin {
	struct mx_str k, v; /* copied to the arena */
	int ep;
	int owner;          /* builder index, -1 when not a tag */
	bool tag;           /* a tag (not an address, not valueless) */
	bool addr;          /* ca/sa/ma address annotation */
};

/* A core annotation kept for timing. */
struct v1_core {
	bool set;
	uint64_t ts;
	int ep;
};

/* One model span being assembled. */
struct v1_b {
	int ep; /* local endpoint index, -1 none */
	uint8_t kind;
	uint64_t ts, dur; /* 0 = unset */
	bool shared;
	bool has_remote;
	struct mx_endpoint remote;
};

/* A core annotation that ends up as an event (incomplete RPCs, ws/wr). */
struct v1_extra {
	int b;
	uint64_t ts;
	const char *v;
};

struct v1 {
	struct mx_zk *zk;
	uint64_t src_ts, src_dur;
	struct v1_ann *ann;
	size_t n_ann;
	struct v1_bin *bin;
	size_t n_bin;
	struct mx_endpoint *eps;
	size_t n_eps;
	struct v1_b *bs;
	size_t n_bs, cap_bs;
	struct v1_extra *extra;
	size_t n_extra, cap_extra;
	struct v1_core cs, sr, ss, cr, ms, mr, ws, wr;
};

struct v1_event {
	uint64_t ts;
	const char *v;
	size_t vn;
};

/* ---- the converter ---- */

static bool same_service(const struct v1 *c, int a, int b)
{
	struct mx_str x = c->eps[a].service_name, y = c->eps[b].service_name;
	return mx_str_eq(x, y.ptr, y.len);
}

static bool ep_equal(const struct mx_endpoint *a, const struct mx_endpoint *b)
{
	return mx_str_eq(a->service_name, b->service_name.ptr, b->service_name.len) &&
	       mx_str_eq(a->ipv4, b->ipv4.ptr, b->ipv4.len) &&
	       mx_str_eq(a->ipv6, b->ipv6.ptr, b->ipv6.len) && a->port == b->port;
}

static int new_builder(struct v1 *c, int ep)
{
	/* cap_bs counts every endpoint plus the forks, so this cannot fail */
	struct v1_b *b = &c->bs[c->n_bs];
	memset(b, 0, sizeof(*b));
	b->ep = ep;
	return (int)c->n_bs++;
}

/* The builder of endpoint `ep` (-1: the first one). */
static int for_ep(struct v1 *c, int ep)
{
	if (ep < 0)
		return 0;
	for (size_t i = 0; i < c->n_bs; i++) {
		if (c->bs[i].ep < 0) {
			if (i == 0) {
				c->bs[0].ep = ep; /* the first adopts the endpoint */
				return 0;
			}
			continue;
		}
		if (same_service(c, c->bs[i].ep, ep))
			return (int)i;
	}
	return new_builder(c, ep);
}

static void add_extra(struct v1 *c, int b, uint64_t ts, const char *v)
{
	if (c->n_extra < c->cap_extra)
		c->extra[c->n_extra++] = (struct v1_extra){ b, ts, v };
}

static uint64_t diff(uint64_t end, uint64_t begin)
{
	return end > begin ? end - begin : 0;
}

static void timestamp_duration(struct v1 *c, const struct v1_core *begin,
			       const struct v1_core *end)
{
	struct v1_b *b = &c->bs[for_ep(c, begin->ep)];
	if (c->src_ts && c->src_dur) {
		b->ts = c->src_ts;
		b->dur = c->src_dur;
	} else {
		b->ts = begin->ts;
		if (end && end->set)
			b->dur = diff(end->ts, begin->ts);
	}
}

static bool end_reflects_duration(const struct v1 *c, const struct v1_core *end)
{
	return end->set && c->src_ts && c->src_dur &&
	       c->src_ts + c->src_dur == end->ts;
}

static void incomplete_rpc(struct v1 *c)
{
	for (size_t i = 0; i < c->n_bs; i++) {
		struct v1_b *b = &c->bs[i];
		if (b->kind == MX_KIND_CLIENT) {
			if (c->cs.set)
				b->ts = c->cs.ts;
			if (c->cr.set)
				add_extra(c, (int)i, c->cr.ts, "cr");
		} else if (b->kind == MX_KIND_SERVER) {
			if (c->sr.set)
				b->ts = c->sr.ts;
			if (c->ss.set)
				add_extra(c, (int)i, c->ss.ts, "ss");
		}
	}
	if (c->src_ts) {
		c->bs[0].ts = c->src_ts;
		c->bs[0].dur = c->src_dur;
	}
}

static void rpc_timing(struct v1 *c)
{
	if (!c->cs.set && end_reflects_duration(c, &c->cr))
		c->cs = (struct v1_core){ true, c->src_ts, c->cr.ep };
	if (!c->sr.set && end_reflects_duration(c, &c->ss))
		c->sr = (struct v1_core){ true, c->src_ts, c->ss.ep };
	if (c->cs.set && c->sr.set) {
		/* the client owns the span's timing; the server side is shared */
		timestamp_duration(c, &c->cs, &c->cr);
		int client = for_ep(c, c->cs.ep), server;
		if (same_service(c, c->cs.ep, c->sr.ep)) {
			c->bs[client].kind = MX_KIND_CLIENT;
			server = new_builder(c, c->sr.ep);
			c->bs[server].kind = MX_KIND_SERVER;
		} else {
			server = for_ep(c, c->sr.ep);
		}
		c->bs[server].shared = true;
		c->bs[server].ts = c->sr.ts;
		if (c->ss.set)
			c->bs[server].dur = diff(c->ss.ts, c->sr.ts);
		if (!c->cr.set && c->src_dur == 0)
			c->bs[client].dur = 0; /* one-way: no duration */
	} else if (c->cs.set && c->cr.set) {
		timestamp_duration(c, &c->cs, &c->cr);
	} else if (c->sr.set && c->ss.set) {
		timestamp_duration(c, &c->sr, &c->ss);
	} else {
		incomplete_rpc(c);
	}
	/* v1 had no shared flag: a server side without timestamp is shared */
	if (!c->cs.set && c->sr.set &&
	    (c->src_ts == 0 || (c->ss.set && c->src_dur == 0)))
		c->bs[for_ep(c, c->sr.ep)].shared = true;
}

static void messaging_timing(struct v1 *c)
{
	if (c->ms.set && c->mr.set) {
		int producer = for_ep(c, c->ms.ep), consumer;
		if (same_service(c, c->ms.ep, c->mr.ep)) {
			c->bs[producer].kind = MX_KIND_PRODUCER;
			consumer = new_builder(c, c->mr.ep);
			c->bs[consumer].kind = MX_KIND_CONSUMER;
		} else {
			consumer = for_ep(c, c->mr.ep);
		}
		struct v1_b *cb = &c->bs[consumer], *pb = &c->bs[producer];
		cb->shared = true;
		if (c->wr.set) {
			cb->ts = c->wr.ts;
			cb->dur = diff(c->mr.ts, c->wr.ts);
		} else {
			cb->ts = c->mr.ts;
		}
		pb->ts = c->ms.ts;
		pb->dur = c->ws.set ? diff(c->ws.ts, c->ms.ts) : 0;
	} else if (c->ms.set) {
		timestamp_duration(c, &c->ms, &c->ws);
	} else if (c->mr.set) {
		if (c->wr.set)
			timestamp_duration(c, &c->wr, &c->mr);
		else
			timestamp_duration(c, &c->mr, NULL);
	} else {
		if (c->ws.set)
			add_extra(c, for_ep(c, c->ws.ep), c->ws.ts, "ws");
		if (c->wr.set)
			add_extra(c, for_ep(c, c->wr.ep), c->wr.ts, "wr");
	}
}

/* Sets the kind for a core annotation and returns its slot, or NULL. */
static struct v1_core *core_slot(struct v1 *c, const char *v, uint8_t *kind)
{
	static const struct {
		char name[3];
		uint8_t kind;
	} tab[] = {
		{ "cs", MX_KIND_CLIENT },   { "cr", MX_KIND_CLIENT },
		{ "sr", MX_KIND_SERVER },   { "ss", MX_KIND_SERVER },
		{ "ms", MX_KIND_PRODUCER }, { "mr", MX_KIND_CONSUMER },
		{ "ws", 0 },                { "wr", 0 },
	};
	struct v1_core *slots[] = { &c->cs, &c->cr, &c->sr, &c->ss,
				    &c->ms, &c->mr, &c->ws, &c->wr };
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (v[0] == tab[i].name[0] && v[1] == tab[i].name[1]) {
			*kind = tab[i].kind;
			return slots[i];
		}
	}
	return NULL;
}

static void process_annotations(struct v1 *c)
{
	for (size_t i = 0; i < c->n_ann; i++) {
		struct v1_ann *a = &c->ann[i];
		int b = for_ep(c, a->ep);
		uint8_t kind = 0;
		struct v1_core *slot = NULL;
		if (a->vn == 2 && a->ep >= 0)
			slot = core_slot(c, a->v, &kind);
		if (!slot) {
			a->owner = b;
			continue;
		}
		if (kind)
			c->bs[b].kind = kind;
		*slot = (struct v1_core){ true, a->ts, a->ep };
	}
	rpc_timing(c);
	messaging_timing(c);
}

static void set_remote(struct v1 *c, int b, const struct mx_endpoint *ep)
{
	c->bs[b].remote = *ep;
	c->bs[b].has_remote = true;
}

static void process_binary(struct v1 *c)
{
	int ca = -1, sa = -1, ma = -1;
	for (size_t i = 0; i < c->n_bin; i++) {
		struct v1_bin *x = &c->bin[i];
		if (x->addr) {
			if (x->k.ptr[0] == 'c')
				ca = x->ep;
			else if (x->k.ptr[0] == 's')
				sa = x->ep;
			else
				ma = x->ep;
			continue;
		}
		if (!x->tag)
			continue;
		int b = for_ep(c, x->ep);
		if (!(mx_str_eq(x->k, "lc", 2) && x->v.len == 0))
			x->owner = b; /* an empty "lc" is only a marker */
	}
	bool no_core = !c->cs.set && !c->cr.set && !c->ss.set && !c->sr.set;
	if (no_core && (ca >= 0 || sa >= 0)) {
		if (ca >= 0 && sa >= 0) {
			set_remote(c, for_ep(c, ca), &c->eps[sa]);
		} else if (sa >= 0) {
			set_remote(c, 0, &c->eps[sa]);
		} else {
			c->bs[0].kind = MX_KIND_SERVER;
			set_remote(c, 0, &c->eps[ca]);
		}
		return;
	}
	const struct v1_core *server = c->sr.set ? &c->sr : c->ss.set ? &c->ss : NULL;
	if (ca >= 0 && server && !ep_equal(&c->eps[ca], &c->eps[server->ep])) {
		struct mx_endpoint r = c->eps[ca];
		if (same_service(c, ca, server->ep))
			r.service_name = (struct mx_str){ "", 0 };
		set_remote(c, for_ep(c, server->ep), &r);
	}
	if (sa >= 0) {
		if (c->cs.set)
			set_remote(c, for_ep(c, c->cs.ep), &c->eps[sa]);
		else if (c->cr.set)
			set_remote(c, for_ep(c, c->cr.ep), &c->eps[sa]);
	}
	if (ma >= 0) {
		if (c->ms.set)
			set_remote(c, for_ep(c, c->ms.ep), &c->eps[ma]);
		if (c->mr.set)
			set_remote(c, for_ep(c, c->mr.ep), &c->eps[ma]);
	}
}

/* ---- reading a v1 span ---- */

static json_t *jget(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_null(v) ? NULL : v;
}

/* Parses the endpoint member of `item` into the next slot of eps; sets *ep
 * to its index, or -1 when absent or `{}`. */
static int read_ep(struct v1 *c, const json_t *item, int *ep)
{
	struct mx_endpoint *e = &c->eps[c->n_eps];
	int rc = mx_zk_json_endpoint(c->zk, jget(item, "endpoint"), "endpoint", e);
	*ep = -1;
	if (!rc && mx_zk_ep_set(e))
		*ep = (int)c->n_eps++;
	return rc;
}

static int read_annotations(struct v1 *c, const json_t *arr)
{
	for (size_t i = 0; i < c->n_ann; i++) {
		const json_t *a = json_array_get(arr, i);
		struct v1_ann *x = &c->ann[i];
		if (!json_is_object(a))
			return mx_zk_json_type(c->zk, "annotations", "an array of objects");
		int rc = mx_zk_json_us(c->zk, a, "timestamp", &x->ts);
		if (rc < 0)
			return rc;
		const json_t *v = jget(a, "value");
		if (rc == 0 || !json_is_string(v))
			return mx_zk_json_type(c->zk, "annotations",
					       "objects with a timestamp and a string value");
		x->v = json_string_value(v);
		x->vn = json_string_length(v);
		x->owner = -1;
		rc = read_ep(c, a, &x->ep);
		if (rc)
			return rc;
	}
	return MX_OK;
}

static bool is_addr_key(const json_t *k)
{
	const char *s = json_string_value(k);
	return json_string_length(k) == 2 && s[1] == 'a' &&
	       (s[0] == 'c' || s[0] == 's' || s[0] == 'm');
}

static int read_binary(struct v1 *c, const json_t *arr)
{
	for (size_t i = 0; i < c->n_bin; i++) {
		const json_t *a = json_array_get(arr, i);
		struct v1_bin *x = &c->bin[i];
		const char *v;
		size_t vn;
		memset(x, 0, sizeof(*x));
		x->owner = -1;
		if (!json_is_object(a))
			return mx_zk_json_type(c->zk, "binaryAnnotations",
					       "an array of objects");
		const json_t *k = jget(a, "key"), *val = jget(a, "value");
		if (!json_is_string(k))
			return mx_zk_json_type(c->zk, "binaryAnnotations",
					       "objects with a string key");
		int rc = read_ep(c, a, &x->ep);
		if (rc)
			return rc;
		if (is_addr_key(k) && (json_is_true(val) ||
				       (json_is_string(val) &&
					strcmp(json_string_value(val), "1") == 0))) {
			x->addr = x->ep >= 0; /* an address needs its endpoint */
			x->k = (struct mx_str){ json_string_value(k), 2 };
			continue;
		}
		if (!val)
			continue; /* no value: no tag */
		rc = mx_zk_str(c->zk, json_string_value(k), json_string_length(k),
			       true, &x->k);
		if (!rc)
			rc = mx_zk_json_text(c->zk, val, &v, &vn);
		if (!rc)
			rc = mx_zk_str(c->zk, v, vn, true, &x->v);
		if (rc)
			return rc;
		x->tag = true; /* the converter picks the builder */
	}
	return MX_OK;
}

static int event_cmp(const void *pa, const void *pb)
{
	const struct v1_event *a = pa, *b = pb;
	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	size_t n = a->vn < b->vn ? a->vn : b->vn;
	int r = memcmp(a->v, b->v, n);
	if (r)
		return r;
	return a->vn < b->vn ? -1 : a->vn > b->vn;
}

/* Fills model span `s` from builder `bi`, with `evs` as sort space. */
static int emit_fill(struct v1 *c, size_t bi, struct mx_span *s,
		     struct mx_zk_span *st, struct v1_event *evs)
{
	struct mx_zk *zk = c->zk;
	const struct v1_b *b = &c->bs[bi];
	size_t ne = 0, nt = 0;
	for (size_t i = 0; i < c->n_ann; i++)
		if (c->ann[i].owner == (int)bi)
			evs[ne++] = (struct v1_event){ c->ann[i].ts, c->ann[i].v,
						       c->ann[i].vn };
	for (size_t i = 0; i < c->n_extra; i++)
		if (c->extra[i].b == (int)bi)
			evs[ne++] = (struct v1_event){ c->extra[i].ts, c->extra[i].v, 2 };
	for (size_t i = 0; i < c->n_bin; i++)
		nt += c->bin[i].owner == (int)bi;
	qsort(evs, ne, sizeof(*evs), event_cmp);
	int rc = mx_zk_begin(zk, st, s, nt, ne);
	s->kind = b->kind;
	if (b->shared)
		s->mx_flags |= MX_SPAN_F_SHARED;
	if (b->ep >= 0)
		s->local = c->eps[b->ep];
	if (b->has_remote)
		s->remote = b->remote;
	if (!rc)
		rc = mx_zk_times(zk, s, b->ts != 0, b->ts, b->dur);
	for (size_t i = 0; !rc && i < ne; i++)
		rc = mx_zk_annotation(zk, st, evs[i].ts, evs[i].v, evs[i].vn, true);
	for (size_t i = 0; !rc && i < c->n_bin; i++) {
		const struct v1_bin *x = &c->bin[i];
		if (x->owner == (int)bi)
			rc = mx_zk_tag(zk, st, x->k.ptr, x->k.len, x->v.ptr, x->v.len,
				       false);
	}
	if (!rc)
		rc = mx_zk_finish(zk, st);
	return rc;
}

/* Allocates the converter's working arrays from the batch arena. */
static int v1_alloc(struct v1 *c)
{
	struct mx_arena *ar = &c->zk->b->arena;
	size_t items = c->n_ann + c->n_bin;
	c->cap_bs = items + 3;
	c->cap_extra = 2 * c->cap_bs + 2;
	c->ann = mx_arena_calloc(ar, c->n_ann + 1, sizeof(*c->ann));
	c->bin = mx_arena_calloc(ar, c->n_bin + 1, sizeof(*c->bin));
	c->eps = mx_arena_calloc(ar, items + 1, sizeof(*c->eps));
	c->bs = mx_arena_calloc(ar, c->cap_bs, sizeof(*c->bs));
	c->extra = mx_arena_calloc(ar, c->cap_extra, sizeof(*c->extra));
	return c->ann && c->bin && c->eps && c->bs && c->extra ? MX_OK : MX_ENOMEM;
}

/* Turns the builders into model spans; MX_OK, ZK_REJECT or an error. */
static int v1_emit(struct v1 *c, const uint8_t tid[16], const uint8_t sid[8],
		   const uint8_t pid[8], struct mx_str name, bool debug)
{
	struct mx_zk_span st;
	struct v1_event *evs = mx_arena_alloc(&c->zk->b->arena,
					      (c->n_ann + c->cap_extra) * sizeof(*evs));
	int rc = evs ? mx_batch_reserve(c->zk->b, (uint32_t)c->n_bs) : MX_ENOMEM;
	for (size_t i = 0; !rc && i < c->n_bs; i++) {
		struct mx_span *s = mx_zk_add_span(c->zk, tid, sid, pid);
		if (!s)
			return MX_ENOMEM;
		s->name = name;
		if (debug)
			s->mx_flags |= MX_SPAN_F_DEBUG;
		rc = emit_fill(c, i, s, &st, evs);
	}
	return rc;
}

/* Reads and converts one v1 span; MX_OK, ZK_REJECT or an error. */
static int v1_convert(struct v1 *c, json_t *sp)
{
	struct mx_zk *zk = c->zk;
	uint8_t tid[16], sid[8], pid[8] = { 0 };
	int ts, ss, ps;
	struct mx_str name;
	const json_t *anns = jget(sp, "annotations"), *bins = jget(sp, "binaryAnnotations");
	const json_t *dbg = jget(sp, "debug");
	if (anns && !json_is_array(anns))
		return mx_zk_json_type(zk, "annotations", "an array");
	if (bins && !json_is_array(bins))
		return mx_zk_json_type(zk, "binaryAnnotations", "an array");
	if (dbg && !json_is_boolean(dbg))
		return mx_zk_json_type(zk, "debug", "true or false");
	int rc = mx_zk_json_id(zk, sp, "traceId", tid, 16, &ts);
	if (!rc)
		rc = mx_zk_json_id(zk, sp, "id", sid, 8, &ss);
	if (!rc)
		rc = mx_zk_json_id(zk, sp, "parentId", pid, 8, &ps);
	if (!rc && mx_zk_json_us(zk, sp, "timestamp", &c->src_ts) < 0)
		rc = MX_EINVAL;
	if (!rc && mx_zk_json_us(zk, sp, "duration", &c->src_dur) < 0)
		rc = MX_EINVAL;
	if (rc)
		return rc;
	const char *bad = mx_zk_ids_bad(ts, ss, ps);
	if (bad)
		return mx_zk_reject(zk, bad);
	if (ps == 0)
		memset(pid, 0, 8);
	c->n_ann = json_array_size(anns);
	c->n_bin = json_array_size(bins);
	if (c->n_ann > zk->lim->max_events)
		return mx_zk_reject(zk, "annotations over the event cap");
	if (c->n_bin > zk->lim->max_attrs)
		return mx_zk_reject(zk, "binaryAnnotations over the attribute cap");
	rc = mx_zk_json_str(zk, sp, "name", &name);
	if (!rc)
		rc = v1_alloc(c);
	if (!rc)
		rc = read_annotations(c, anns);
	if (!rc)
		rc = read_binary(c, bins);
	if (rc)
		return rc;
	new_builder(c, -1); /* the first span */
	process_annotations(c);
	process_binary(c);
	return v1_emit(c, tid, sid, pid, name, json_is_true(dbg));
}

static int v1_span(struct mx_zk *zk, json_t *sp)
{
	struct v1 c;
	if (!json_is_object(sp))
		return mx_zk_json_type(zk, "(list)", "an array of span objects");
	if (json_object_get(sp, "localEndpoint") || json_object_get(sp, "remoteEndpoint") ||
	    json_object_get(sp, "tags")) {
		mx_errmsg_set(zk->err, "Expected a JSON_V1 encoded list, but "
				       "received: JSON_V2");
		return MX_EINVAL;
	}
	memset(&c, 0, sizeof(c));
	c.zk = zk;
	uint32_t first = zk->b->n_spans;
	return mx_zk_settle(zk, first, v1_convert(&c, sp));
}

int mx_zipkin_v1_decode(const char *buf, size_t len,
			const struct mx_decode_limits *lim,
			struct mx_batch *out, struct mx_errmsg *err)
{
	return mx_zk_json_list(buf, len, lim, out, err, v1_span);
}
