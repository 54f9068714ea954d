/*
 * jaeger_json_encode.c - model -> Jaeger query API JSON (see jaeger_json.h).
 *
 * One pass per Trace object: spans are grouped by trace id (sorting
 * references only when the input holds several ids), each span's process is
 * rendered once into a scratch buffer and looked up in a hash table of the
 * processes seen so far (so identical processes share one `pN` id), then the
 * spans and the process map are written. Arrays and maps in attribute values
 * are rendered as compact JSON (mx_json_put_plain) into a second scratch
 * buffer and written as a string. All scratch memory is bounded by the output buffer's cap and by
 * the number of spans.
 */
#include "jaeger_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/error.h"
#include "base64.h"
#include "json_util.h"

#define MAX_SAFE_INT 9007199254740991LL /* 2^53 - 1 */

/* ---- small writers ---- */

static void put_str(struct mx_buf *b, const char *p, size_t n)
{
	mx_buf_putc(b, '"');
	mx_buf_json_escape(b, p, n);
	mx_buf_putc(b, '"');
}

static void put_mxstr(struct mx_buf *b, struct mx_str s)
{
	put_str(b, s.ptr, s.len);
}

static void put_lit(struct mx_buf *b, const char *lit)
{
	mx_buf_puts(b, lit);
}

static void put_u64(struct mx_buf *b, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
	mx_buf_append(b, tmp, (size_t)n);
}

static void put_i64(struct mx_buf *b, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);
	mx_buf_append(b, tmp, (size_t)n);
}

static const char *nonfinite_name(double d)
{
	if (isnan(d))
		return "NaN";
	return d > 0 ? "Inf" : "-Inf";
}

static void put_base64(struct mx_buf *b, struct mx_str s)
{
	mx_buf_putc(b, '"');
	if (s.len && mx_base64_encode(b, (const uint8_t *)s.ptr, s.len) != MX_OK)
		b->failed = true;
	mx_buf_putc(b, '"');
}

static void put_trace_id(struct mx_buf *b, const uint8_t id[16])
{
	char hex[33];
	size_t n = mx_trace_id_to_hex(id, hex);
	mx_buf_putc(b, '"');
	mx_buf_append(b, hex, n);
	mx_buf_putc(b, '"');
}

static void put_span_id(struct mx_buf *b, const uint8_t id[8])
{
	char hex[17];
	mx_id_to_hex(id, 8, hex);
	mx_buf_putc(b, '"');
	mx_buf_append(b, hex, 16);
	mx_buf_putc(b, '"');
}

/* Writes a comma before every element but the first. */
static void sep(struct mx_buf *b, bool *first)
{
	if (*first)
		*first = false;
	else
		mx_buf_putc(b, ',');
}

/* ---- values ---- */

/* One KeyValue: {"key":..,"type":..,"value":..}. `scratch` renders arrays
 * and maps; its failure is reported through `b`. */
static void put_tag(struct mx_buf *b, struct mx_buf *scratch, bool *first,
		    struct mx_str key, const struct mx_value *v)
{
	sep(b, first);
	put_lit(b, "{\"key\":");
	put_mxstr(b, key);
	switch (v->type) {
	case MX_VAL_STRING:
		put_lit(b, ",\"type\":\"string\",\"value\":");
		put_mxstr(b, v->u.s);
		break;
	case MX_VAL_BOOL:
		put_lit(b, ",\"type\":\"bool\",\"value\":");
		put_lit(b, v->u.b ? "true" : "false");
		break;
	case MX_VAL_INT:
		put_lit(b, ",\"type\":\"int64\",\"value\":");
		if (v->u.i > MAX_SAFE_INT || v->u.i < -MAX_SAFE_INT) {
			mx_buf_putc(b, '"');
			put_i64(b, v->u.i);
			mx_buf_putc(b, '"');
		} else {
			put_i64(b, v->u.i);
		}
		break;
	case MX_VAL_DOUBLE:
		put_lit(b, ",\"type\":\"float64\",\"value\":");
		if (isfinite(v->u.d))
			mx_json_put_double(b, v->u.d);
		else
			put_str(b, nonfinite_name(v->u.d),
				strlen(nonfinite_name(v->u.d)));
		break;
	case MX_VAL_BYTES:
		put_lit(b, ",\"type\":\"binary\",\"value\":");
		put_base64(b, v->u.s);
		break;
	case MX_VAL_ARRAY:
	case MX_VAL_MAP:
		put_lit(b, ",\"type\":\"string\",\"value\":");
		mx_buf_reset(scratch);
		mx_json_put_plain(scratch, v, 0);
		if (scratch->failed)
			b->failed = true;
		else
			put_str(b, (const char *)scratch->data, scratch->len);
		break;
	default:
		put_lit(b, ",\"type\":\"string\",\"value\":\"\"");
		break;
	}
	mx_buf_putc(b, '}');
}

static bool has_key(const struct mx_attrs *attrs, const char *key)
{
	size_t klen = strlen(key);
	for (uint32_t i = 0; i < attrs->n; i++)
		if (mx_str_eq(attrs->items[i].key, key, klen))
			return true;
	return false;
}

/* A derived tag, skipped when the span's attributes already carry `key`. */
static void derived(struct mx_buf *b, struct mx_buf *scratch, bool *first,
		    const struct mx_attrs *attrs, const char *key,
		    const struct mx_value *v)
{
	if (has_key(attrs, key))
		return;
	struct mx_str k = { key, (uint32_t)strlen(key) };
	put_tag(b, scratch, first, k, v);
}

static void derived_str(struct mx_buf *b, struct mx_buf *scratch,
			bool *first, const struct mx_attrs *attrs,
			const char *key, struct mx_str s)
{
	struct mx_value v = { .type = MX_VAL_STRING };
	v.u.s = s;
	derived(b, scratch, first, attrs, key, &v);
}

static void derived_int(struct mx_buf *b, struct mx_buf *scratch,
			bool *first, const struct mx_attrs *attrs,
			const char *key, int64_t i)
{
	struct mx_value v = { .type = MX_VAL_INT };
	v.u.i = i;
	derived(b, scratch, first, attrs, key, &v);
}

static const char *const kind_names[] = {
	[MX_KIND_INTERNAL] = "internal", [MX_KIND_SERVER] = "server",
	[MX_KIND_CLIENT] = "client",     [MX_KIND_PRODUCER] = "producer",
	[MX_KIND_CONSUMER] = "consumer",
};

static void put_span_tags(struct mx_buf *b, struct mx_buf *scratch,
			  const struct mx_span *s)
{
	const struct mx_attrs *at = &s->attrs;
	bool first = true;
	mx_buf_putc(b, '[');
	for (uint32_t i = 0; i < at->n && !b->failed; i++)
		put_tag(b, scratch, &first, at->items[i].key,
			&at->items[i].value);
	if (s->kind >= MX_KIND_INTERNAL && s->kind <= MX_KIND_CONSUMER) {
		const char *k = kind_names[s->kind];
		derived_str(b, scratch, &first, at, "span.kind",
			    (struct mx_str){ k, (uint32_t)strlen(k) });
	}
	if (s->status_code == MX_STATUS_OK) {
		derived_str(b, scratch, &first, at, "otel.status_code",
			    MX_STR_LIT("OK"));
	} else if (s->status_code == MX_STATUS_ERROR) {
		struct mx_value t = { .type = MX_VAL_BOOL };
		t.u.b = true;
		derived_str(b, scratch, &first, at, "otel.status_code",
			    MX_STR_LIT("ERROR"));
		derived(b, scratch, &first, at, "error", &t);
		if (s->status_message.len)
			derived_str(b, scratch, &first, at,
				    "otel.status_description",
				    s->status_message);
	}
	if (s->scope && s->scope->name.len)
		derived_str(b, scratch, &first, at, "otel.scope.name",
			    s->scope->name);
	if (s->scope && s->scope->version.len)
		derived_str(b, scratch, &first, at, "otel.scope.version",
			    s->scope->version);
	if (s->trace_state.len)
		derived_str(b, scratch, &first, at, "w3c.tracestate",
			    s->trace_state);
	if (s->dropped_attrs)
		derived_int(b, scratch, &first, at,
			    "otel.dropped_attributes_count", s->dropped_attrs);
	if (s->dropped_events)
		derived_int(b, scratch, &first, at,
			    "otel.dropped_events_count", s->dropped_events);
	if (s->dropped_links)
		derived_int(b, scratch, &first, at,
			    "otel.dropped_links_count", s->dropped_links);
	if (s->remote.service_name.len)
		derived_str(b, scratch, &first, at, "peer.service",
			    s->remote.service_name);
	if (s->remote.ipv4.len)
		derived_str(b, scratch, &first, at, "peer.ipv4",
			    s->remote.ipv4);
	if (s->remote.ipv6.len)
		derived_str(b, scratch, &first, at, "peer.ipv6",
			    s->remote.ipv6);
	if (s->remote.port)
		derived_int(b, scratch, &first, at, "peer.port",
			    s->remote.port);
	mx_buf_putc(b, ']');
}

static void put_logs(struct mx_buf *b, struct mx_buf *scratch,
		     const struct mx_span *s)
{
	bool first = true;
	mx_buf_putc(b, '[');
	for (uint32_t i = 0; i < s->n_events && !b->failed; i++) {
		const struct mx_event *ev = &s->events[i];
		bool ffirst = true;
		struct mx_value name = { .type = MX_VAL_STRING };
		name.u.s = ev->name;
		sep(b, &first);
		put_lit(b, "{\"timestamp\":");
		put_u64(b, ev->time_ns / 1000);
		put_lit(b, ",\"fields\":[");
		put_tag(b, scratch, &ffirst, MX_STR_LIT("event"), &name);
		for (uint32_t j = 0; j < ev->attrs.n && !b->failed; j++)
			put_tag(b, scratch, &ffirst, ev->attrs.items[j].key,
				&ev->attrs.items[j].value);
		put_lit(b, "]}");
	}
	mx_buf_putc(b, ']');
}

static void put_references(struct mx_buf *b, const struct mx_span *s)
{
	bool first = true;
	mx_buf_putc(b, '[');
	if (!mx_id_is_zero(s->parent_span_id, 8)) {
		sep(b, &first);
		put_lit(b, "{\"refType\":\"CHILD_OF\",\"traceID\":");
		put_trace_id(b, s->trace_id);
		put_lit(b, ",\"spanID\":");
		put_span_id(b, s->parent_span_id);
		mx_buf_putc(b, '}');
	}
	for (uint32_t i = 0; i < s->n_links && !b->failed; i++) {
		sep(b, &first);
		put_lit(b, "{\"refType\":\"FOLLOWS_FROM\",\"traceID\":");
		put_trace_id(b, s->links[i].trace_id);
		put_lit(b, ",\"spanID\":");
		put_span_id(b, s->links[i].span_id);
		mx_buf_putc(b, '}');
	}
	mx_buf_putc(b, ']');
}

static void put_span(struct mx_buf *b, struct mx_buf *scratch,
		     const struct mx_span *s, uint32_t proc)
{
	uint32_t flags = s->flags & 0xffu;
	put_lit(b, "{\"traceID\":");
	put_trace_id(b, s->trace_id);
	put_lit(b, ",\"spanID\":");
	put_span_id(b, s->span_id);
	if (flags) {
		put_lit(b, ",\"flags\":");
		put_u64(b, flags);
	}
	put_lit(b, ",\"operationName\":");
	put_mxstr(b, s->name);
	put_lit(b, ",\"references\":");
	put_references(b, s);
	put_lit(b, ",\"startTime\":");
	put_u64(b, s->start_ns / 1000);
	put_lit(b, ",\"duration\":");
	put_u64(b, s->end_ns > s->start_ns ? (s->end_ns - s->start_ns) / 1000
					   : 0);
	put_lit(b, ",\"tags\":");
	put_span_tags(b, scratch, s);
	put_lit(b, ",\"logs\":");
	put_logs(b, scratch, s);
	put_lit(b, ",\"processID\":\"p");
	put_u64(b, (uint64_t)proc + 1);
	put_lit(b, "\",\"warnings\":null}");
}

/* ---- processes ---- */

/* `{"serviceName":..,"tags":[..]}` of a span's process. */
static void render_process(struct mx_buf *b, struct mx_buf *scratch,
			   const struct mx_span *s)
{
	bool first = true;
	put_lit(b, "{\"serviceName\":");
	put_mxstr(b, mx_span_service(s));
	put_lit(b, ",\"tags\":[");
	bool has_ip = false;
	if (s->resource) {
		const struct mx_attrs *ra = &s->resource->attrs;
		for (uint32_t i = 0; i < ra->n && !b->failed; i++) {
			const struct mx_attr *a = &ra->items[i];
			if (a->value.type == MX_VAL_STRING &&
			    mx_str_eq(a->key, "service.name", 12))
				continue;
			if (mx_str_eq(a->key, "ip", 2))
				has_ip = true;
			put_tag(b, scratch, &first, a->key, &a->value);
		}
	}
	struct mx_str ip = s->local.ipv4.len ? s->local.ipv4 : s->local.ipv6;
	if (ip.len && !has_ip) {
		struct mx_value v = { .type = MX_VAL_STRING };
		v.u.s = ip;
		put_tag(b, scratch, &first, MX_STR_LIT("ip"), &v);
	}
	put_lit(b, "]}");
}

struct proc {
	size_t off, len; /* in procs buffer */
	uint32_t hash;
};

/* Process table of one Trace object. */
struct procs {
	struct mx_buf text;   /* rendered processes, back to back */
	struct proc *items;
	uint32_t n;
	uint32_t *slots;      /* open addressing: index + 1, 0 = empty */
	size_t n_slots;       /* power of two, > 2 * max processes */
};

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

/* Renders the process of `s` and returns its index (new or existing), or
 * UINT32_MAX on a cap or allocation failure. */
static uint32_t proc_lookup(struct procs *pt, struct mx_buf *scratch,
			    const struct mx_span *s)
{
	size_t off = pt->text.len;
	render_process(&pt->text, scratch, s);
	if (pt->text.failed)
		return UINT32_MAX;
	size_t len = pt->text.len - off;
	const uint8_t *p = pt->text.data + off;
	uint32_t h = fnv1a(p, len);
	size_t mask = pt->n_slots - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		uint32_t slot = pt->slots[i];
		if (slot == 0) {
			struct proc *np = &pt->items[pt->n];
			np->off = off;
			np->len = len;
			np->hash = h;
			pt->slots[i] = ++pt->n;
			return pt->n - 1;
		}
		const struct proc *q = &pt->items[slot - 1];
		if (q->hash == h && q->len == len &&
		    memcmp(pt->text.data + q->off, p, len) == 0) {
			pt->text.len = off; /* drop the duplicate rendering */
			return slot - 1;
		}
	}
}

/* Same process as the previous span for sure (shared resource, same local
 * endpoint fields that feed the process)? Saves rendering. */
static bool same_process_source(const struct mx_span *a,
				const struct mx_span *b)
{
	return a->resource == b->resource &&
	       mx_str_eq(a->local.service_name, b->local.service_name.ptr,
			 b->local.service_name.len) &&
	       mx_str_eq(a->local.ipv4, b->local.ipv4.ptr, b->local.ipv4.len) &&
	       mx_str_eq(a->local.ipv6, b->local.ipv6.ptr, b->local.ipv6.len);
}

/* ---- grouping by trace id ---- */

struct ref {
	const struct mx_span *s;
	size_t seq;
};

static int ref_cmp(const void *pa, const void *pb)
{
	const struct ref *a = pa, *b = pb;
	int c = memcmp(a->s->trace_id, b->s->trace_id, 16);
	if (c)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

struct group {
	size_t start, count;
	size_t first; /* seq of the first span: order of first appearance */
};

static int group_cmp(const void *pa, const void *pb)
{
	const struct group *a = pa, *b = pb;
	return a->first < b->first ? -1 : a->first > b->first;
}

/* ---- Trace objects ---- */

/* Writes the Trace object of refs[0..n-1] (one trace id, n >= 1). `pidx`
 * holds n entries; `pt` has room for n processes and 2n+ slots. */
static int put_trace(struct mx_buf *out, struct mx_buf *scratch,
		     struct procs *pt, const struct ref *refs, size_t n,
		     uint32_t *pidx)
{
	size_t ns = 4;
	while (ns < 2 * n)
		ns <<= 1;
	pt->n_slots = ns;
	memset(pt->slots, 0, ns * sizeof(*pt->slots));
	pt->n = 0;
	mx_buf_reset(&pt->text);
	for (size_t k = 0; k < n; k++) {
		if (k > 0 && same_process_source(refs[k].s, refs[k - 1].s)) {
			pidx[k] = pidx[k - 1];
			continue;
		}
		pidx[k] = proc_lookup(pt, scratch, refs[k].s);
		if (pidx[k] == UINT32_MAX)
			return MX_ENOMEM;
	}

	bool first = true;
	put_lit(out, "{\"traceID\":");
	put_trace_id(out, refs[0].s->trace_id);
	put_lit(out, ",\"spans\":[");
	for (size_t k = 0; k < n && !out->failed; k++) {
		sep(out, &first);
		put_span(out, scratch, refs[k].s, pidx[k]);
	}
	put_lit(out, "],\"processes\":{");
	first = true;
	for (uint32_t p = 0; p < pt->n && !out->failed; p++) {
		sep(out, &first);
		put_lit(out, "\"p");
		put_u64(out, (uint64_t)p + 1);
		put_lit(out, "\":");
		mx_buf_append(out, pt->text.data + pt->items[p].off,
			      pt->items[p].len);
	}
	put_lit(out, "},\"warnings\":null}");
	return out->failed || scratch->failed ? MX_ENOMEM : MX_OK;
}

int mx_jaeger_json_encode_traces(const struct mx_batch *const *traces,
				 size_t n, struct mx_buf *out)
{
	int rc = MX_ENOMEM;
	struct ref *refs = NULL;
	struct group *groups = NULL;
	uint32_t *pidx = NULL;
	struct procs pt = { .items = NULL, .slots = NULL };
	struct mx_buf scratch;
	size_t total = 0, n_groups = 0, max_count = 0;

	mx_buf_init(&pt.text, out->max);
	mx_buf_init(&scratch, out->max);
	for (size_t i = 0; i < n; i++)
		if (traces[i])
			total += traces[i]->n_spans;
	if (total == 0) {
		rc = mx_buf_puts(out, "[]");
		goto out;
	}

	refs = calloc(total, sizeof(*refs));
	groups = calloc(total, sizeof(*groups));
	pidx = calloc(total, sizeof(*pidx));
	if (!refs || !groups || !pidx)
		goto out;
	size_t k = 0;
	bool one_id = true;
	for (size_t i = 0; i < n; i++) {
		if (!traces[i])
			continue;
		for (uint32_t j = 0; j < traces[i]->n_spans; j++) {
			refs[k].s = &traces[i]->spans[j];
			refs[k].seq = k;
			if (k > 0 && memcmp(refs[k].s->trace_id,
					    refs[0].s->trace_id, 16) != 0)
				one_id = false;
			k++;
		}
	}

	if (one_id) {
		groups[0] = (struct group){ 0, total, 0 };
		n_groups = 1;
	} else {
		qsort(refs, total, sizeof(*refs), ref_cmp);
		for (size_t i = 0; i < total; i++) {
			if (i > 0 && memcmp(refs[i].s->trace_id,
					    refs[i - 1].s->trace_id, 16) == 0) {
				groups[n_groups - 1].count++;
				continue;
			}
			groups[n_groups++] =
				(struct group){ i, 1, refs[i].seq };
		}
		qsort(groups, n_groups, sizeof(*groups), group_cmp);
	}
	for (size_t g = 0; g < n_groups; g++)
		if (groups[g].count > max_count)
			max_count = groups[g].count;

	size_t ns = 4;
	while (ns < 2 * max_count)
		ns <<= 1;
	pt.items = calloc(max_count, sizeof(*pt.items));
	pt.slots = calloc(ns, sizeof(*pt.slots));
	if (!pt.items || !pt.slots)
		goto out;

	mx_buf_putc(out, '[');
	for (size_t g = 0; g < n_groups; g++) {
		if (g > 0)
			mx_buf_putc(out, ',');
		rc = put_trace(out, &scratch, &pt, refs + groups[g].start,
			       groups[g].count, pidx + groups[g].start);
		if (rc != MX_OK)
			goto out;
	}
	mx_buf_putc(out, ']');
	rc = out->failed ? MX_ENOMEM : MX_OK;
out:
	free(refs);
	free(groups);
	free(pidx);
	free(pt.items);
	free(pt.slots);
	mx_buf_free(&pt.text);
	mx_buf_free(&scratch);
	return rc;
}

/* ---- envelope ---- */

int mx_jaeger_json_strings(const struct mx_str *s, size_t n,
			   struct mx_buf *out)
{
	bool first = true;
	mx_buf_putc(out, '[');
	for (size_t i = 0; i < n && !out->failed; i++) {
		sep(out, &first);
		put_mxstr(out, s[i]);
	}
	mx_buf_putc(out, ']');
	return out->failed ? MX_ENOMEM : MX_OK;
}

int mx_jaeger_json_begin(struct mx_buf *out)
{
	return mx_buf_puts(out, "{\"data\":");
}

int mx_jaeger_json_end(struct mx_buf *out, uint64_t total)
{
	put_lit(out, ",\"total\":");
	put_u64(out, total);
	put_lit(out, ",\"limit\":0,\"offset\":0,\"errors\":null}");
	return out->failed ? MX_ENOMEM : MX_OK;
}

int mx_jaeger_json_error(struct mx_buf *out, unsigned code, const char *msg)
{
	put_lit(out, "{\"data\":null,\"total\":0,\"limit\":0,\"offset\":0,"
		     "\"errors\":[{\"code\":");
	put_u64(out, code);
	put_lit(out, ",\"msg\":");
	put_str(out, msg ? msg : "", msg ? strlen(msg) : 0);
	put_lit(out, "}]}");
	return out->failed ? MX_ENOMEM : MX_OK;
}
