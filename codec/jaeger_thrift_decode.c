/*
 * jaeger_thrift_decode.c - jaeger.thrift `Batch` -> model, over the bounded
 * thrift readers of thrift.h (binary or compact). Mapping:
 * model/MAPPING.md, "Jaeger thrift". Unknown fields, and known fields of an
 * unexpected type, are skipped by type as thrift's generated code does;
 * trailing bytes after the Batch (or after the message) are refused.
 */
#include <string.h>

#include "../model/error.h"
#include "thrift.h"

#define JT_MAX_SPANS 100000u

struct jt {
	struct mx_thr_rd r;
	struct mx_batch *b;
	const struct mx_decode_limits *lim;
	struct mx_errmsg *err;
	struct mx_resource *res;
	const struct mx_scope *scope0; /* the empty scope */
	const struct mx_scope *last_scope;
};

struct jt_tag {
	const uint8_t *key, *str, *bin;
	uint32_t klen, slen, blen;
	int32_t vtype;
	bool has_vtype, vbool;
	double vdouble;
	int64_t vlong;
};

struct jt_span {
	struct mx_span *s;
	const char *reject;
	bool err_tag, have_status, have_parent_ref;
	uint8_t status;
	struct mx_str sname, sver;
};

static int fail(struct jt *j, const char *why)
{
	return mx_thr_fail(&j->r, why);
}

static struct mx_str copy(struct jt *j, const uint8_t *p, uint32_t n, int *rc)
{
	struct mx_str s = mx_batch_str(j->b, (const char *)p, n);
	if (n && !s.ptr)
		*rc = MX_ENOMEM;
	return s;
}

static bool key_is(const struct jt_tag *t, const char *k)
{
	size_t n = strlen(k);
	return t->klen == n && memcmp(t->key, k, n) == 0;
}

static bool str_is(const struct jt_tag *t, const char *k)
{
	size_t n = strlen(k);
	return t->slen == n && memcmp(t->str, k, n) == 0;
}

/* The scope field a tag names (otel.scope.name / otel.library.name, and the
 * versions), or NULL when the tag names none. */
static struct mx_str *scope_field(struct jt_span *sp, const struct jt_tag *t)
{
	if (key_is(t, "otel.scope.name") || key_is(t, "otel.library.name"))
		return &sp->sname;
	if (key_is(t, "otel.scope.version") || key_is(t, "otel.library.version"))
		return &sp->sver;
	return NULL;
}

/* Reads one Tag struct (the struct header has been consumed by the caller's
 * list; this enters it). */
static int read_tag(struct jt *j, struct jt_tag *t)
{
	struct mx_thr_rd *r = &j->r;
	uint8_t ty;
	int16_t id;
	int rc;
	memset(t, 0, sizeof(*t));
	if ((rc = mx_thr_struct_begin(r)))
		return rc;
	for (;;) {
		if ((rc = mx_thr_field(r, &ty, &id)))
			return rc;
		if (ty == MX_THR_STOP)
			break;
		if (id == 1 && ty == MX_THR_STRING)
			rc = mx_thr_binary(r, &t->key, &t->klen);
		else if (id == 2 && ty == MX_THR_I32) {
			rc = mx_thr_i32(r, &t->vtype);
			t->has_vtype = true;
		} else if (id == 3 && ty == MX_THR_STRING)
			rc = mx_thr_binary(r, &t->str, &t->slen);
		else if (id == 4 && ty == MX_THR_DOUBLE)
			rc = mx_thr_double(r, &t->vdouble);
		else if (id == 5 && ty == MX_THR_BOOL)
			rc = mx_thr_bool(r, &t->vbool);
		else if (id == 6 && ty == MX_THR_I64)
			rc = mx_thr_i64(r, &t->vlong);
		else if (id == 7 && ty == MX_THR_STRING)
			rc = mx_thr_binary(r, &t->bin, &t->blen);
		else
			rc = mx_thr_skip(r, ty);
		if (rc)
			return rc;
	}
	mx_thr_struct_end(r);
	if (!t->has_vtype || t->vtype < 0 || t->vtype > 4)
		return fail(j, "tag without a valid vType");
	return MX_OK;
}

/* Converts a decoded Tag into an attribute. */
static int tag_attr(struct jt *j, const struct jt_tag *t, struct mx_attr *a)
{
	int rc = MX_OK;
	a->key = copy(j, t->key, t->klen, &rc);
	switch (t->vtype) {
	case 0:
		a->value.type = MX_VAL_STRING;
		a->value.u.s = copy(j, t->str, t->slen, &rc);
		break;
	case 1:
		a->value.type = MX_VAL_DOUBLE;
		a->value.u.d = t->vdouble;
		break;
	case 2:
		a->value.type = MX_VAL_BOOL;
		a->value.u.b = t->vbool;
		break;
	case 3:
		a->value.type = MX_VAL_INT;
		a->value.u.i = t->vlong;
		break;
	default:
		a->value.type = MX_VAL_BYTES;
		a->value.u.s = copy(j, t->bin, t->blen, &rc);
		break;
	}
	return rc;
}

/* Reads a list<Tag> into `out` (arena array), at most `cap` kept; `spec`
 * (may be NULL) is offered each tag first and returns true to consume it. */
static int read_tags(struct jt *j, struct mx_attrs *out, uint32_t cap,
		     bool *over, struct jt_span *sp)
{
	struct mx_thr_rd *r = &j->r;
	uint8_t et;
	uint32_t n;
	int rc;
	if ((rc = mx_thr_list(r, &et, &n)))
		return rc;
	if (et != MX_THR_STRUCT)
		return fail(j, "tag list of a wrong element type");
	if ((rc = mx_thr_struct_begin(r)))
		return rc;
	uint32_t keep = n < cap ? n : cap;
	if (n > cap)
		*over = true;
	out->items = keep ? mx_arena_calloc(&j->b->arena, keep,
					    sizeof(*out->items))
			  : NULL;
	if (keep && !out->items)
		return MX_ENOMEM;
	out->n = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct jt_tag t;
		if ((rc = read_tag(j, &t)))
			return rc;
		if (sp) {
			int rv = -1;
			rc = MX_OK;
			if (key_is(&t, "span.kind") && t.vtype == 0) {
				static const char *const k[] = {
					"", "internal", "server", "client",
					"producer", "consumer" };
				for (int x = 1; x <= 5; x++)
					if (str_is(&t, k[x]))
						rv = x;
				if (rv > 0) {
					sp->s->kind = (uint8_t)rv;
					continue;
				}
			} else if (key_is(&t, "error") &&
				   (t.vtype == 2 || (t.vtype == 0 &&
				    (str_is(&t, "true") || str_is(&t, "false"))))) {
				if (t.vtype == 2 ? t.vbool : str_is(&t, "true"))
					sp->err_tag = true;
				continue;
			} else if (key_is(&t, "otel.status_code") &&
				   t.vtype == 0 &&
				   (str_is(&t, "OK") || str_is(&t, "ERROR"))) {
				sp->have_status = true;
				sp->status = str_is(&t, "OK") ? MX_STATUS_OK
							      : MX_STATUS_ERROR;
				continue;
			} else if (key_is(&t, "otel.status_description") &&
				   t.vtype == 0) {
				sp->s->status_message =
					copy(j, t.str, t.slen, &rc);
				if (rc)
					return rc;
				continue;
			} else if (t.vtype == 0 && scope_field(sp, &t)) {
				*scope_field(sp, &t) = copy(j, t.str, t.slen, &rc);
				if (rc)
					return rc;
				continue;
			}
		}
		if (out->n < keep) {
			rc = tag_attr(j, &t, &out->items[out->n]);
			out->n++;
		} else {
			*over = true;
		}
		if (rc)
			return rc;
	}
	mx_thr_struct_end(r);
	return MX_OK;
}

static int read_process(struct jt *j)
{
	struct mx_thr_rd *r = &j->r;
	uint8_t ty;
	int16_t id;
	int rc;
	const uint8_t *name = NULL;
	uint32_t nlen = 0;
	struct mx_attrs tags = { 0 };
	bool over = false;
	if ((rc = mx_thr_struct_begin(r)))
		return rc;
	for (;;) {
		if ((rc = mx_thr_field(r, &ty, &id)))
			return rc;
		if (ty == MX_THR_STOP)
			break;
		if (id == 1 && ty == MX_THR_STRING)
			rc = mx_thr_binary(r, &name, &nlen);
		else if (id == 2 && ty == MX_THR_LIST)
			rc = read_tags(j, &tags, j->lim->max_attrs, &over, NULL);
		else
			rc = mx_thr_skip(r, ty);
		if (rc)
			return rc;
	}
	mx_thr_struct_end(r);
	struct mx_attr *a = mx_arena_calloc(&j->b->arena, tags.n + 1,
					    sizeof(*a));
	if (!a)
		return MX_ENOMEM;
	a[0].key = MX_STR_LIT("service.name");
	a[0].value.type = MX_VAL_STRING;
	a[0].value.u.s = copy(j, name, nlen, &rc);
	if (tags.n)
		memcpy(a + 1, tags.items, tags.n * sizeof(*a));
	j->res->attrs.items = a;
	j->res->attrs.n = tags.n + 1;
	j->res->dropped_attrs = over ? 1 : 0;
	return rc;
}

static void put_id(uint8_t *dst, int64_t v)
{
	uint64_t u = (uint64_t)v;
	for (int i = 0; i < 8; i++)
		dst[i] = (uint8_t)(u >> (56 - 8 * i));
}

/* Reads one SpanRef and applies it to the span. */
static int read_ref(struct jt *j, struct jt_span *sp, uint32_t *nl)
{
	struct mx_thr_rd *r = &j->r;
	int32_t rt = 0;
	int64_t lo = 0, hi = 0, sid = 0;
	uint8_t ty;
	int16_t id;
	int rc;
	if ((rc = mx_thr_struct_begin(r)))
		return rc;
	for (;;) {
		if ((rc = mx_thr_field(r, &ty, &id)))
			return rc;
		if (ty == MX_THR_STOP)
			break;
		if (id == 1 && ty == MX_THR_I32)
			rc = mx_thr_i32(r, &rt);
		else if (id >= 2 && id <= 4 && ty == MX_THR_I64)
			rc = mx_thr_i64(r, id == 2 ? &lo : id == 3 ? &hi : &sid);
		else
			rc = mx_thr_skip(r, ty);
		if (rc)
			return rc;
	}
	mx_thr_struct_end(r);
	struct mx_span *s = sp->s;
	uint8_t tid[16], spid[8];
	put_id(tid, hi);
	put_id(tid + 8, lo);
	put_id(spid, sid);
	bool same = memcmp(tid, s->trace_id, 16) == 0;
	if (rt == 0 && same && !sp->have_parent_ref) {
		if (mx_id_is_zero(s->parent_span_id, 8))
			memcpy(s->parent_span_id, spid, 8);
		if (memcmp(s->parent_span_id, spid, 8) == 0) {
			sp->have_parent_ref = true;
			return MX_OK;
		}
	}
	if (*nl >= j->lim->max_links) {
		sp->reject = "too many references";
		return MX_OK;
	}
	struct mx_link *l = &s->links[(*nl)++];
	memcpy(l->trace_id, tid, 16);
	memcpy(l->span_id, spid, 8);
	if (rt == 0) {
		struct mx_attr *a = mx_arena_calloc(&j->b->arena, 1, sizeof(*a));
		if (!a)
			return MX_ENOMEM;
		a->key = MX_STR_LIT("opentracing.ref_type");
		a->value.type = MX_VAL_STRING;
		a->value.u.s = MX_STR_LIT("child_of");
		l->attrs.items = a;
		l->attrs.n = 1;
	}
	return MX_OK;
}

static int read_log(struct jt *j, struct jt_span *sp, struct mx_event *e)
{
	struct mx_thr_rd *r = &j->r;
	uint8_t ty;
	int16_t id;
	int64_t ts = 0;
	bool over = false;
	int rc;
	if ((rc = mx_thr_struct_begin(r)))
		return rc;
	for (;;) {
		if ((rc = mx_thr_field(r, &ty, &id)))
			return rc;
		if (ty == MX_THR_STOP)
			break;
		if (id == 1 && ty == MX_THR_I64)
			rc = mx_thr_i64(r, &ts);
		else if (id == 2 && ty == MX_THR_LIST)
			rc = read_tags(j, &e->attrs, j->lim->max_attrs, &over,
				       NULL);
		else
			rc = mx_thr_skip(r, ty);
		if (rc)
			return rc;
	}
	mx_thr_struct_end(r);
	if (over)
		sp->reject = "too many log fields";
	if (ts < 0 || (uint64_t)ts > UINT64_MAX / 1000)
		sp->reject = "log timestamp out of range";
	else
		e->time_ns = (uint64_t)ts * 1000;
	e->name = MX_STR_LIT("log");
	for (uint32_t i = 0; i < e->attrs.n; i++) {
		struct mx_attr *a = &e->attrs.items[i];
		if (mx_str_eq(a->key, "event", 5) &&
		    a->value.type == MX_VAL_STRING) {
			e->name = a->value.u.s;
			memmove(a, a + 1, (e->attrs.n - i - 1) * sizeof(*a));
			e->attrs.n--;
			break;
		}
	}
	return MX_OK;
}

/* Reads a list<T> header of structs for the span's refs or logs and
 * allocates room for min(n, cap) items. */
static int struct_list(struct jt *j, uint32_t *n, uint32_t cap, size_t sz,
		       void **items)
{
	uint8_t et;
	int rc = mx_thr_list(&j->r, &et, n);
	if (rc)
		return rc;
	if (et != MX_THR_STRUCT)
		return fail(j, "list of a wrong element type");
	uint32_t keep = *n < cap ? *n : cap;
	*items = keep ? mx_arena_calloc(&j->b->arena, keep, sz) : NULL;
	if (keep && !*items)
		return MX_ENOMEM;
	return mx_thr_struct_begin(&j->r);
}

static int read_span(struct jt *j, struct mx_span *s)
{
	struct mx_thr_rd *r = &j->r;
	struct jt_span sp = { .s = s };
	int64_t v64[10] = { 0 }; /* by field id: 1-4, 8, 9 */
	int32_t flags = 0;
	const uint8_t *name = NULL;
	uint32_t nlen = 0, n, cap_links = 0;
	bool over = false;
	uint8_t ty;
	int16_t id;
	int rc;
	const uint8_t *refs_at = NULL;
	uint32_t refs_depth = 0;

	if ((rc = mx_thr_struct_begin(r)))
		return rc;
	for (;;) {
		if ((rc = mx_thr_field(r, &ty, &id)))
			return rc;
		if (ty == MX_THR_STOP)
			break;
		if (((id >= 1 && id <= 4) || id == 8 || id == 9) &&
		    ty == MX_THR_I64) {
			rc = mx_thr_i64(r, &v64[id]);
		} else if (id == 5 && ty == MX_THR_STRING) {
			rc = mx_thr_binary(r, &name, &nlen);
		} else if (id == 6 && ty == MX_THR_LIST) {
			/* refs need the ids, which may come later: skip now,
			 * read after the stop */
			refs_at = r->p;
			refs_depth = r->depth;
			rc = mx_thr_skip(r, ty);
		} else if (id == 7 && ty == MX_THR_I32) {
			rc = mx_thr_i32(r, &flags);
		} else if (id == 10 && ty == MX_THR_LIST) {
			rc = read_tags(j, &s->attrs, j->lim->max_attrs, &over,
				       &sp);
			if (over)
				sp.reject = "too many tags";
		} else if (id == 11 && ty == MX_THR_LIST) {
			void *items;
			if ((rc = struct_list(j, &n, j->lim->max_events,
					      sizeof(struct mx_event), &items)))
				return rc;
			s->events = items;
			for (uint32_t i = 0; i < n && !rc; i++) {
				if (i < j->lim->max_events) {
					rc = read_log(j, &sp, &s->events[i]);
					s->n_events = i + 1;
				} else {
					sp.reject = "too many logs";
					rc = mx_thr_skip(r, MX_THR_STRUCT);
				}
			}
			mx_thr_struct_end(r);
		} else {
			rc = mx_thr_skip(r, ty);
		}
		if (rc)
			return rc;
	}
	const uint8_t *end_at = r->p;
	put_id(s->trace_id, v64[2]);
	put_id(s->trace_id + 8, v64[1]);
	put_id(s->span_id, v64[3]);
	put_id(s->parent_span_id, v64[4]);
	if (refs_at) {
		uint32_t saved = r->depth;
		r->p = refs_at;
		r->depth = refs_depth;
		void *items;
		if ((rc = struct_list(j, &n, j->lim->max_links,
				      sizeof(struct mx_link), &items)))
			return rc;
		s->links = items;
		for (uint32_t i = 0; i < n && !rc; i++)
			rc = read_ref(j, &sp, &cap_links);
		s->n_links = cap_links;
		mx_thr_struct_end(r);
		if (rc)
			return rc;
		r->p = end_at;
		r->depth = saved;
	}
	mx_thr_struct_end(r);
	s->name = copy(j, name, nlen, &rc);
	s->flags = (uint32_t)flags & 1u;
	if (flags & 2)
		s->mx_flags |= MX_SPAN_F_DEBUG;
	if (v64[8] < 0 || v64[9] < 0 ||
	    (uint64_t)v64[8] + (uint64_t)v64[9] > UINT64_MAX / 1000)
		sp.reject = "start time or duration out of range";
	s->start_ns = (uint64_t)v64[8] * 1000;
	s->end_ns = s->start_ns + (uint64_t)v64[9] * 1000;
	if (sp.have_status)
		s->status_code = sp.status;
	else if (sp.err_tag)
		s->status_code = MX_STATUS_ERROR;
	s->resource = j->res;
	s->scope = j->scope0;
	if (sp.sname.len || sp.sver.len) {
		const struct mx_scope *ls = j->last_scope;
		if (ls && mx_str_eq(ls->name, sp.sname.ptr, sp.sname.len) &&
		    mx_str_eq(ls->version, sp.sver.ptr, sp.sver.len)) {
			s->scope = ls;
		} else {
			struct mx_scope *sc = mx_arena_calloc(&j->b->arena, 1,
							      sizeof(*sc));
			if (!sc)
				return MX_ENOMEM;
			sc->name = sp.sname;
			sc->version = sp.sver;
			s->scope = j->last_scope = sc;
		}
	}
	if (!sp.reject && mx_id_is_zero(s->trace_id, 16))
		sp.reject = "zero trace id";
	if (!sp.reject && mx_id_is_zero(s->span_id, 8))
		sp.reject = "zero span id";
	if (rc)
		return rc;
	return sp.reject ? 1 : MX_OK;
}

static int read_spans(struct jt *j)
{
	uint32_t n;
	uint8_t et;
	int rc = mx_thr_list(&j->r, &et, &n);
	if (rc)
		return rc;
	if (et != MX_THR_STRUCT)
		return fail(j, "span list of a wrong element type");
	if (n > JT_MAX_SPANS)
		return fail(j, "too many spans");
	if ((rc = mx_batch_reserve(j->b, n)))
		return rc;
	if ((rc = mx_thr_struct_begin(&j->r)))
		return rc;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t at = j->b->n_spans;
		struct mx_span *s = mx_batch_add_span(j->b);
		if (!s)
			return MX_ENOMEM;
		rc = read_span(j, s);
		if (rc == 1) {
			j->b->n_spans = at;
			j->b->rejected_spans++;
			mx_errmsg_set(j->err, "span rejected");
		} else if (rc) {
			return rc;
		}
	}
	mx_thr_struct_end(&j->r);
	return MX_OK;
}

/* Reads one Batch struct. */
static int read_batch(struct jt *j)
{
	struct mx_thr_rd *r = &j->r;
	uint8_t ty;
	int16_t id;
	int rc;
	j->res = mx_arena_calloc(&j->b->arena, 1, sizeof(*j->res));
	if (!j->res)
		return MX_ENOMEM;
	if ((rc = mx_thr_struct_begin(r)))
		return rc;
	for (;;) {
		if ((rc = mx_thr_field(r, &ty, &id)))
			return rc;
		if (ty == MX_THR_STOP)
			break;
		if (id == 1 && ty == MX_THR_STRUCT)
			rc = read_process(j);
		else if (id == 2 && ty == MX_THR_LIST)
			rc = read_spans(j);
		else
			rc = mx_thr_skip(r, ty);
		if (rc)
			return rc;
	}
	mx_thr_struct_end(r);
	if (!j->res->attrs.n) /* no Process: service name unknown */
		return fail(j, "batch without a process");
	return MX_OK;
}

/* Reads an args struct whose field 1 is a Batch or a list<Batch>. */
static int read_args(struct jt *j)
{
	struct mx_thr_rd *r = &j->r;
	uint8_t ty, et;
	int16_t id;
	uint32_t n;
	bool seen = false;
	int rc;
	if ((rc = mx_thr_struct_begin(r)))
		return rc;
	for (;;) {
		if ((rc = mx_thr_field(r, &ty, &id)))
			return rc;
		if (ty == MX_THR_STOP)
			break;
		if (id == 1 && ty == MX_THR_STRUCT) {
			rc = read_batch(j);
			seen = true;
		} else if (id == 1 && ty == MX_THR_LIST) {
			if ((rc = mx_thr_list(r, &et, &n)))
				return rc;
			if (et != MX_THR_STRUCT)
				return fail(j, "batch list of a wrong type");
			if ((rc = mx_thr_struct_begin(r)))
				return rc;
			for (uint32_t i = 0; i < n && !rc; i++)
				rc = read_batch(j);
			mx_thr_struct_end(r);
			seen = true;
		} else {
			rc = mx_thr_skip(r, ty);
		}
		if (rc)
			return rc;
	}
	mx_thr_struct_end(r);
	return seen ? MX_OK : fail(j, "message without a batch");
}

static int run(enum mx_thrift_proto proto, const uint8_t *buf, size_t len,
	       const struct mx_decode_limits *lim, struct mx_batch *out,
	       struct mx_errmsg *err, int msg)
{
	struct jt j = { .b = out, .lim = lim, .err = err };
	int rc;
	mx_thr_rd_init(&j.r, proto, buf, len, lim->max_value_bytes);
	struct mx_scope *sc = mx_arena_calloc(&out->arena, 1, sizeof(*sc));
	if (!sc)
		return MX_ENOMEM;
	j.scope0 = sc;
	if (msg < 0) /* decode_batch: a message only with its header */
		msg = (proto == MX_THRIFT_BINARY && len >= 2 &&
		       buf[0] == 0x80 && buf[1] == 0x01) ||
		      (proto == MX_THRIFT_COMPACT && len >= 1 &&
		       buf[0] == 0x82);
	if (msg) {
		const uint8_t *name;
		uint32_t nlen;
		uint8_t type;
		if ((rc = mx_thr_read_msg(&j.r, &name, &nlen, &type)))
			goto out;
		if (type != MX_THR_ONEWAY && type != MX_THR_CALL) {
			rc = fail(&j, "not a call message");
			goto out;
		}
		if (msg == 2 && !(nlen == 9 && !memcmp(name, "emitBatch", 9))) {
			rc = fail(&j, "not an emitBatch message");
			goto out;
		}
		rc = read_args(&j);
	} else {
		rc = read_batch(&j);
	}
	if (!rc && mx_thr_left(&j.r))
		rc = fail(&j, "trailing bytes");
out:
	if (rc == MX_EINVAL || rc == MX_EDEPTH)
		mx_errmsg_set(err, "jaeger thrift: %s at byte %zu",
			      j.r.why ? j.r.why : "malformed",
			      (size_t)(j.r.p - buf));
	else if (rc == MX_ENOMEM)
		mx_errmsg_set(err, "jaeger thrift: batch over the memory cap");
	return rc;
}

int mx_jaeger_thrift_decode_batch(enum mx_thrift_proto proto, const uint8_t *buf,
				  size_t len, const struct mx_decode_limits *lim,
				  struct mx_batch *out, struct mx_errmsg *err)
{
	return run(proto, buf, len, lim, out, err, -1);
}

int mx_jaeger_thrift_decode_emit_batch(enum mx_thrift_proto proto,
				       const uint8_t *buf, size_t len,
				       const struct mx_decode_limits *lim,
				       struct mx_batch *out, struct mx_errmsg *err)
{
	return run(proto, buf, len, lim, out, err, 2);
}
