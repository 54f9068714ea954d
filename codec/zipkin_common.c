/*
 * zipkin_common.c - the model side of the Zipkin decoders (see zipkin_int.h
 * and model/MAPPING.md): ids, special tags to status and scope, annotation
 * text to events, endpoint addresses, caps, and the resources and scopes
 * shared by all spans of one body with the same service name / scope.
 *
 * Resources and scopes are found in small open-addressing hash tables that
 * live in the batch arena (a grown table leaves the old one behind, which
 * at most doubles their memory); a body with many distinct service names
 * costs O(1) per span, not a linear search.
 */
#include <arpa/inet.h>
#include <string.h>

#include "../model/error.h"
#include "json_util.h"
#include "zipkin_int.h"

struct zk_slot {
	struct mx_str k1, k2;
	void *val; /* NULL = empty slot */
};

void mx_zk_init(struct mx_zk *zk, struct mx_batch *b,
		const struct mx_decode_limits *lim, struct mx_errmsg *err)
{
	memset(zk, 0, sizeof(*zk));
	zk->b = b;
	zk->lim = lim;
	zk->err = err;
	mx_buf_init(&zk->scratch, (size_t)lim->max_value_bytes * 2 + 4096);
}

void mx_zk_done(struct mx_zk *zk)
{
	if (zk)
		mx_buf_free(&zk->scratch);
}

int mx_zk_reject(struct mx_zk *zk, const char *why)
{
	zk->why = why;
	return ZK_REJECT;
}

void mx_zk_count_reject(struct mx_zk *zk, const char *why)
{
	zk->b->rejected_spans++;
	mx_errmsg_set(zk->err, "span rejected: %s", why);
}

struct mx_span *mx_zk_add_span(struct mx_zk *zk, const uint8_t *tid,
			       const uint8_t *sid, const uint8_t *pid)
{
	struct mx_span *s = mx_batch_add_span(zk->b);
	if (!s)
		return NULL;
	memcpy(s->trace_id, tid, 16);
	memcpy(s->span_id, sid, 8);
	if (pid)
		memcpy(s->parent_span_id, pid, 8);
	return s;
}

int mx_zk_settle(struct mx_zk *zk, uint32_t first, int rc)
{
	if (rc != ZK_REJECT)
		return rc;
	zk->b->n_spans = first;
	mx_zk_count_reject(zk, zk->why);
	return MX_OK;
}

int mx_zk_hex_id(const char *p, size_t len, uint8_t *out, size_t n)
{
	if (mx_hex_to_id(p, len, out, n) != MX_OK)
		return -1;
	return mx_id_is_zero(out, n) ? 0 : 1;
}

/* ---- shared resources and scopes ---- */

static uint32_t hash2(struct mx_str a, struct mx_str b)
{
	uint32_t h = 2166136261u;
	for (uint32_t i = 0; i < a.len; i++)
		h = (h ^ (uint8_t)a.ptr[i]) * 16777619u;
	h = (h ^ 0xffu) * 16777619u;
	for (uint32_t i = 0; i < b.len; i++)
		h = (h ^ (uint8_t)b.ptr[i]) * 16777619u;
	return h;
}

static struct zk_slot *tab_probe(struct zk_slot *slots, uint32_t cap,
				 struct mx_str k1, struct mx_str k2)
{
	uint32_t i = hash2(k1, k2) & (cap - 1);
	for (;;) {
		struct zk_slot *sl = &slots[i];
		if (!sl->val || (mx_str_eq(sl->k1, k1.ptr, k1.len) &&
				 mx_str_eq(sl->k2, k2.ptr, k2.len)))
			return sl;
		i = (i + 1) & (cap - 1);
	}
}

/* Finds the slot of (k1, k2), growing the table first when half full. A new
 * slot has val NULL and the keys set; the caller fills val. */
static struct zk_slot *tab_get(struct mx_zk *zk, struct zk_tab *t,
			       struct mx_str k1, struct mx_str k2)
{
	if ((t->n + 1) * 2 > t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 16;
		if (cap == 0 || cap > (1u << 30))
			return NULL;
		struct zk_slot *ns = mx_arena_calloc(&zk->b->arena, cap, sizeof(*ns));
		if (!ns)
			return NULL;
		for (uint32_t i = 0; i < t->cap; i++) {
			struct zk_slot *old = &t->slots[i];
			if (old->val)
				*tab_probe(ns, cap, old->k1, old->k2) = *old;
		}
		t->slots = ns;
		t->cap = cap;
	}
	struct zk_slot *sl = tab_probe(t->slots, t->cap, k1, k2);
	if (!sl->val) {
		sl->k1 = k1;
		sl->k2 = k2;
	}
	return sl;
}

static const struct mx_resource *zk_resource(struct mx_zk *zk, struct mx_str svc)
{
	struct zk_slot *sl = tab_get(zk, &zk->res, svc, (struct mx_str){ "", 0 });
	if (!sl)
		return NULL;
	if (!sl->val) {
		struct mx_resource *r = mx_arena_calloc(&zk->b->arena, 1, sizeof(*r));
		if (!r)
			return NULL;
		if (svc.len) {
			struct mx_attr *a = mx_arena_calloc(&zk->b->arena, 1, sizeof(*a));
			if (!a)
				return NULL;
			a->key = MX_STR_LIT("service.name");
			a->value.type = MX_VAL_STRING;
			a->value.u.s = svc;
			r->attrs.items = a;
			r->attrs.n = 1;
		}
		sl->val = r;
		zk->res.n++;
	}
	return sl->val;
}

static const struct mx_scope *zk_scope(struct mx_zk *zk, struct mx_str name,
				       struct mx_str version)
{
	struct zk_slot *sl = tab_get(zk, &zk->scopes, name, version);
	if (!sl)
		return NULL;
	if (!sl->val) {
		struct mx_scope *sc = mx_arena_calloc(&zk->b->arena, 1, sizeof(*sc));
		if (!sc)
			return NULL;
		sc->name = name;
		sc->version = version;
		sl->val = sc;
		zk->scopes.n++;
	}
	return sl->val;
}

/* ---- span filling ---- */

int mx_zk_begin(struct mx_zk *zk, struct mx_zk_span *st, struct mx_span *s,
		size_t n_tags, size_t n_events)
{
	memset(st, 0, sizeof(*st));
	st->s = s;
	st->status_tag = -1;
	/* special tags (status, scope) are not attributes: the attribute cap
	 * is checked as attributes are added */
	if (n_tags > zk->lim->max_attrs)
		n_tags = zk->lim->max_attrs;
	if (n_events > zk->lim->max_events)
		return mx_zk_reject(zk, "annotations over the event cap");
	if (n_tags) {
		s->attrs.items = mx_arena_alloc(&zk->b->arena,
						n_tags * sizeof(*s->attrs.items));
		if (!s->attrs.items)
			return MX_ENOMEM;
		st->cap_attrs = (uint32_t)n_tags;
	}
	if (n_events) {
		s->events = mx_arena_alloc(&zk->b->arena, n_events * sizeof(*s->events));
		if (!s->events)
			return MX_ENOMEM;
		st->cap_events = (uint32_t)n_events;
	}
	return MX_OK;
}

int mx_zk_str(struct mx_zk *zk, const char *p, size_t n, bool copy,
	      struct mx_str *out)
{
	if (n == 0) {
		*out = (struct mx_str){ "", 0 };
		return MX_OK;
	}
	if (n > zk->lim->max_value_bytes)
		return mx_zk_reject(zk, "string over the value cap");
	if (!copy) {
		*out = (struct mx_str){ p, (uint32_t)n };
		return MX_OK;
	}
	*out = mx_batch_str(zk->b, p, n);
	return out->ptr ? MX_OK : MX_ENOMEM;
}

static bool lit_eq(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(p, lit, n) == 0;
}

static bool lit_ieq(const char *p, size_t n, const char *lit)
{
	if (strlen(lit) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c != lit[i])
			return false;
	}
	return true;
}

int mx_zk_tag(struct mx_zk *zk, struct mx_zk_span *st, const char *k,
	      size_t kn, const char *v, size_t vn, bool copy)
{
	struct mx_span *s = st->s;
	if (kn > zk->lim->max_value_bytes || vn > zk->lim->max_value_bytes)
		return mx_zk_reject(zk, "tag over the value cap");
	if (lit_eq(k, kn, "error")) {
		st->has_error = true;
		return mx_zk_str(zk, v, vn, copy, &st->error_msg);
	}
	if (lit_eq(k, kn, "otel.status_code")) {
		if (lit_ieq(v, vn, "OK"))
			st->status_tag = MX_STATUS_OK;
		else if (lit_ieq(v, vn, "ERROR"))
			st->status_tag = MX_STATUS_ERROR;
		else if (lit_ieq(v, vn, "UNSET"))
			st->status_tag = MX_STATUS_UNSET;
		if (st->status_tag >= 0)
			return MX_OK;
		/* another value: keep it as an attribute */
	} else if (lit_eq(k, kn, "otel.scope.name") ||
		   lit_eq(k, kn, "otel.library.name")) {
		return mx_zk_str(zk, v, vn, copy, &st->scope_name);
	} else if (lit_eq(k, kn, "otel.scope.version") ||
		   lit_eq(k, kn, "otel.library.version")) {
		return mx_zk_str(zk, v, vn, copy, &st->scope_version);
	}
	struct mx_attr *a = NULL;
	for (uint32_t i = 0; !st->keys_unique && i < s->attrs.n; i++) {
		struct mx_attr *x = &s->attrs.items[i];
		if (x->key.len == kn && memcmp(x->key.ptr, k, kn) == 0) {
			a = x; /* a repeated key replaces the value */
			break;
		}
	}
	if (!a) {
		if (s->attrs.n >= st->cap_attrs)
			return mx_zk_reject(zk, "tags over the attribute cap");
		a = &s->attrs.items[s->attrs.n];
		int rc = mx_zk_str(zk, k, kn, copy, &a->key);
		if (rc)
			return rc;
		s->attrs.n++;
	}
	a->value.type = MX_VAL_STRING;
	return mx_zk_str(zk, v, vn, copy, &a->value.u.s);
}

/* ---- annotations ---- */

static int jv_value(struct mx_zk *zk, json_t *v, struct mx_value *out,
		    uint32_t depth);

static int jv_map(struct mx_zk *zk, json_t *obj, struct mx_attrs *out,
		  uint32_t depth)
{
	size_t n = json_object_size(obj);
	const char *k;
	size_t kn;
	json_t *x;
	out->items = NULL;
	out->n = 0;
	if (n == 0)
		return MX_OK;
	if (n > zk->lim->max_attrs)
		return ZK_REJECT;
	out->items = mx_arena_alloc(&zk->b->arena, n * sizeof(*out->items));
	if (!out->items)
		return MX_ENOMEM;
	json_object_keylen_foreach(obj, k, kn, x) {
		struct mx_attr *a = &out->items[out->n];
		int rc = mx_zk_str(zk, k, kn, true, &a->key);
		if (!rc)
			rc = jv_value(zk, x, &a->value, depth);
		if (rc)
			return rc;
		out->n++;
	}
	return MX_OK;
}

/* A parsed JSON value as a model value; depth-capped (ZK_REJECT). */
static int jv_value(struct mx_zk *zk, json_t *v, struct mx_value *out,
		    uint32_t depth)
{
	memset(out, 0, sizeof(*out));
	if (depth > zk->lim->max_depth)
		return ZK_REJECT;
	switch (json_typeof(v)) {
	case JSON_STRING:
		out->type = MX_VAL_STRING;
		return mx_zk_str(zk, json_string_value(v), json_string_length(v),
				 true, &out->u.s);
	case JSON_INTEGER:
		out->type = MX_VAL_INT;
		out->u.i = json_integer_value(v);
		return MX_OK;
	case JSON_REAL:
		out->type = MX_VAL_DOUBLE;
		out->u.d = json_real_value(v);
		return MX_OK;
	case JSON_TRUE:
	case JSON_FALSE:
		out->type = MX_VAL_BOOL;
		out->u.b = json_is_true(v);
		return MX_OK;
	case JSON_ARRAY: {
		size_t n = json_array_size(v);
		out->type = MX_VAL_ARRAY;
		if (n == 0)
			return MX_OK;
		if (n > zk->lim->max_attrs)
			return ZK_REJECT;
		out->u.arr.items = mx_arena_alloc(&zk->b->arena,
						  n * sizeof(*out->u.arr.items));
		if (!out->u.arr.items)
			return MX_ENOMEM;
		for (size_t i = 0; i < n; i++) {
			int rc = jv_value(zk, json_array_get(v, i),
					  &out->u.arr.items[i], depth + 1);
			if (rc)
				return rc;
		}
		out->u.arr.n = (uint32_t)n;
		return MX_OK;
	}
	case JSON_OBJECT: {
		struct mx_attrs m;
		out->type = MX_VAL_MAP;
		int rc = jv_map(zk, v, &m, depth + 1);
		out->u.map.items = m.items;
		out->u.map.n = m.n;
		return rc;
	}
	default:
		return MX_OK; /* null: an empty value */
	}
}

/* Splits `name {json}` into an event name and attributes when the JSON part
 * is an object that the encoders would write byte for byte the same way.
 * Returns MX_OK (split or not: ev->attrs tells) or MX_ENOMEM. */
static int split_event(struct mx_zk *zk, const char *v, size_t n,
		       struct mx_event *ev, size_t *name_len)
{
	*name_len = n;
	if (n < 3 || v[n - 1] != '}')
		return MX_OK;
	const char *brace = NULL;
	for (size_t i = 0; i + 1 < n; i++) {
		if (v[i] == ' ' && v[i + 1] == '{') {
			brace = v + i + 1;
			break;
		}
	}
	if (!brace)
		return MX_OK;
	size_t jn = n - (size_t)(brace - v);
	json_t *root = NULL;
	int rc = mx_json_parse(brace, jn, zk->lim->max_depth + 1, &root, NULL);
	if (rc || !json_is_object(root) || json_object_size(root) == 0) {
		json_decref(root);
		return MX_OK;
	}
	struct mx_attrs m;
	rc = jv_map(zk, root, &m, 1);
	json_decref(root);
	if (rc == MX_ENOMEM)
		return rc;
	if (rc)
		return MX_OK;
	struct mx_value mv = { .type = MX_VAL_MAP };
	mv.u.map.items = m.items;
	mv.u.map.n = m.n;
	mx_buf_reset(&zk->scratch);
	mx_json_put_plain(&zk->scratch, &mv, 0);
	if (!zk->scratch.failed && zk->scratch.len == jn &&
	    memcmp(zk->scratch.data, brace, jn) == 0) {
		ev->attrs = m;
		*name_len = (size_t)(brace - v) - 1;
	}
	return MX_OK;
}

int mx_zk_annotation(struct mx_zk *zk, struct mx_zk_span *st, uint64_t ts_us,
		     const char *v, size_t n, bool copy)
{
	struct mx_span *s = st->s;
	if (s->n_events >= st->cap_events)
		return mx_zk_reject(zk, "annotations over the event cap");
	if (ts_us > UINT64_MAX / 1000)
		return mx_zk_reject(zk, "annotation timestamp out of range");
	if (n > zk->lim->max_value_bytes)
		return mx_zk_reject(zk, "annotation over the value cap");
	struct mx_event *ev = &s->events[s->n_events];
	memset(ev, 0, sizeof(*ev));
	ev->time_ns = ts_us * 1000;
	size_t name_len;
	int rc = split_event(zk, v, n, ev, &name_len);
	if (!rc)
		rc = mx_zk_str(zk, v, name_len, copy, &ev->name);
	if (!rc)
		s->n_events++;
	return rc;
}

int mx_zk_times(struct mx_zk *zk, struct mx_span *s, bool has_ts,
		uint64_t ts_us, uint64_t dur_us)
{
	if (!has_ts || ts_us == 0) {
		s->start_ns = s->end_ns = 0;
		return MX_OK;
	}
	if (ts_us > UINT64_MAX / 1000)
		return mx_zk_reject(zk, "timestamp out of range");
	s->start_ns = ts_us * 1000;
	/* an end past the model's range is clamped to its last nanosecond */
	if (dur_us > (UINT64_MAX - s->start_ns) / 1000)
		s->end_ns = UINT64_MAX;
	else
		s->end_ns = s->start_ns + dur_us * 1000;
	return MX_OK;
}

/* ---- endpoints ---- */

int mx_zk_ip_text(struct mx_zk *zk, int family, const char *p, size_t n,
		  bool copy, struct mx_str *out)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	uint8_t bin[16];
	*out = (struct mx_str){ "", 0 };
	if (n == 0 || n >= sizeof(tmp) || memchr(p, '\0', n))
		return MX_OK;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	if (inet_pton(family, tmp, bin) != 1)
		return MX_OK; /* not an address of that family: dropped */
	return mx_zk_str(zk, p, n, copy, out);
}

int mx_zk_ip_bytes(struct mx_zk *zk, const uint8_t *p, size_t n,
		   struct mx_str *out)
{
	char tmp[INET6_ADDRSTRLEN];
	*out = (struct mx_str){ "", 0 };
	if (n != 4 && n != 16)
		return MX_OK;
	if (!inet_ntop(n == 4 ? AF_INET : AF_INET6, p, tmp, sizeof(tmp)))
		return MX_OK;
	return mx_zk_str(zk, tmp, strlen(tmp), true, out);
}

/* ---- finishing ---- */

int mx_zk_finish(struct mx_zk *zk, struct mx_zk_span *st)
{
	struct mx_span *s = st->s;
	if (st->has_error) {
		s->status_code = MX_STATUS_ERROR;
		s->status_message = st->error_msg;
	} else if (st->status_tag >= 0) {
		s->status_code = (uint8_t)st->status_tag;
	}
	if (s->n_events == 0)
		s->events = NULL;
	if (s->attrs.n == 0)
		s->attrs.items = NULL;
	s->scope = zk_scope(zk, st->scope_name, st->scope_version);
	s->resource = zk_resource(zk, s->local.service_name);
	return s->scope && s->resource ? MX_OK : MX_ENOMEM;
}

uint8_t mx_zk_kind_parse(const char *p, size_t n)
{
	if (lit_ieq(p, n, "CLIENT"))
		return MX_KIND_CLIENT;
	if (lit_ieq(p, n, "SERVER"))
		return MX_KIND_SERVER;
	if (lit_ieq(p, n, "PRODUCER"))
		return MX_KIND_PRODUCER;
	if (lit_ieq(p, n, "CONSUMER"))
		return MX_KIND_CONSUMER;
	if (lit_ieq(p, n, "INTERNAL"))
		return MX_KIND_INTERNAL;
	return MX_KIND_UNSPECIFIED;
}
