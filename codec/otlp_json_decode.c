/*
 * otlp_json_decode.c - OTLP/JSON ExportTraceServiceRequest -> model, with
 * jansson.
 *
 * Rules (wire-protocols.md 4.6, model/MAPPING.md): lowerCamelCase keys, the
 * snake_case names accepted too; hex ids, case-insensitive, "" = absent;
 * 64-bit integers as strings or numbers; enums as integers or names
 * ("SPAN_KIND_SERVER", "STATUS_CODE_ERROR"); doubles as numbers or
 * "NaN"/"Infinity"/"-Infinity"; bytesValue in base64; the legacy
 * instrumentationLibrarySpans / instrumentationLibrary when scopeSpans is
 * absent or empty; JSON null is the same as an absent key.
 *
 * A value of the wrong JSON type fails the whole body (MX_EINVAL, the
 * message names the key); bad ids and caps reject single spans, as in the
 * protobuf decoder. jansson refuses documents nested deeper than 2048 (its
 * own stack guard), which we report as MX_EDEPTH; AnyValue nesting is held
 * to lim->max_depth. Strings are copied into the batch arena before the
 * jansson tree is released.
 */
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../model/error.h"
#include "base64.h"
#include "json_util.h"
#include "otlp.h"

#define JD_REJECT 1 /* the span (or all spans of a resource/scope) is rejected */

struct jd {
	struct mx_batch *b;
	const struct mx_decode_limits *lim;
	struct mx_errmsg *err;
	const char *why; /* rejection reason (static text) */
};

/* Looks `camel` (else `snake`) up in `obj`; JSON null counts as absent. */
static json_t *jget(const json_t *obj, const char *camel, const char *snake)
{
	json_t *v = json_object_get(obj, camel);
	if (!v && snake)
		v = json_object_get(obj, snake);
	return json_is_null(v) ? NULL : v;
}

static int jd_type(struct jd *jd, const char *key, const char *want)
{
	mx_errmsg_set(jd->err, "OTLP/JSON: \"%s\" must be %s", key, want);
	return MX_EINVAL;
}

static int jd_reject(struct jd *jd, const char *why)
{
	jd->why = why;
	return JD_REJECT;
}

/* Fetches an optional array member. */
static int jd_array(struct jd *jd, const json_t *obj, const char *camel,
		    const char *snake, json_t **out)
{
	*out = jget(obj, camel, snake);
	if (*out && !json_is_array(*out))
		return jd_type(jd, camel, "an array");
	return MX_OK;
}

/* Fetches an optional object member. */
static int jd_object(struct jd *jd, const json_t *obj, const char *camel,
		     const char *snake, json_t **out)
{
	*out = jget(obj, camel, snake);
	if (*out && !json_is_object(*out))
		return jd_type(jd, camel, "an object");
	return MX_OK;
}

/* Copies the JSON string `v` into the arena (cap-checked). */
static int jd_copy(struct jd *jd, const json_t *v, struct mx_str *out)
{
	size_t n = json_string_length(v);
	if (n == 0) {
		*out = (struct mx_str){ "", 0 };
		return MX_OK;
	}
	if (n > jd->lim->max_value_bytes)
		return jd_reject(jd, "string over the value cap");
	*out = mx_batch_str(jd->b, json_string_value(v), n);
	return out->ptr ? MX_OK : MX_ENOMEM;
}

/* An optional string member; absent = empty. */
static int jd_str(struct jd *jd, const json_t *obj, const char *camel,
		  const char *snake, struct mx_str *out)
{
	const json_t *v = jget(obj, camel, snake);
	*out = (struct mx_str){ "", 0 };
	if (!v)
		return MX_OK;
	if (!json_is_string(v))
		return jd_type(jd, camel, "a string");
	return jd_copy(jd, v, out);
}

/* A JSON number or decimal string as an unsigned 64-bit integer no larger
 * than `max`. */
static bool json_to_u64(const json_t *v, uint64_t max, uint64_t *out)
{
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i < 0 || (uint64_t)i > max)
			return false;
		*out = (uint64_t)i;
		return true;
	}
	if (json_is_real(v)) {
		double r = json_real_value(v);
		if (!(r >= 0 && r < 18446744073709551616.0) || (uint64_t)r > max)
			return false;
		*out = (uint64_t)r;
		return true;
	}
	if (json_is_string(v))
		return mx_parse_u64(json_string_value(v), json_string_length(v), out) &&
		       *out <= max;
	return false;
}

static bool json_to_i64(const json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (json_is_real(v)) {
		double r = json_real_value(v);
		if (!(r >= -9223372036854775808.0 && r < 9223372036854775808.0))
			return false;
		*out = (int64_t)r;
		return true;
	}
	if (json_is_string(v))
		return mx_parse_i64(json_string_value(v), json_string_length(v), out);
	return false;
}

static int jd_u64(struct jd *jd, const json_t *obj, const char *camel,
		  const char *snake, uint64_t *out)
{
	const json_t *v = jget(obj, camel, snake);
	*out = 0;
	if (v && !json_to_u64(v, UINT64_MAX, out))
		return jd_type(jd, camel, "an unsigned 64-bit integer");
	return MX_OK;
}

static int jd_u32(struct jd *jd, const json_t *obj, const char *camel,
		  const char *snake, uint32_t *out)
{
	const json_t *v = jget(obj, camel, snake);
	uint64_t u = 0;
	if (v && !json_to_u64(v, UINT32_MAX, &u))
		return jd_type(jd, camel, "an unsigned 32-bit integer");
	*out = (uint32_t)u;
	return MX_OK;
}

/* An enum as an integer (out of range -> 0) or one of `names`. */
static int jd_enum(struct jd *jd, const json_t *obj, const char *key,
		   const char *const *names, unsigned n, uint8_t *out)
{
	const json_t *v = jget(obj, key, NULL);
	*out = 0;
	if (!v)
		return MX_OK;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		*out = (i >= 0 && i < (json_int_t)n) ? (uint8_t)i : 0;
		return MX_OK;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		for (unsigned i = 0; i < n; i++) {
			if (strcmp(s, names[i]) == 0) {
				*out = (uint8_t)i;
				return MX_OK;
			}
		}
	}
	return jd_type(jd, key, "an enum number or name");
}

static const char *const kind_names[] = {
	"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
	"SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER",
};

static const char *const status_names[] = {
	"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR",
};

enum { ID_ABSENT, ID_OK, ID_ZERO, ID_BAD };

/* Reads a hex id of exactly 2*n digits; "" or absent is ID_ABSENT, all
 * zero ID_ZERO, wrong length or not hex ID_BAD. Sets
 * *state and returns MX_OK, or MX_EINVAL when the member is not a string. */
static int jd_id(struct jd *jd, const json_t *obj, const char *camel,
		 const char *snake, uint8_t *out, size_t n, int *state)
{
	const json_t *v = jget(obj, camel, snake);
	*state = ID_ABSENT;
	if (!v)
		return MX_OK;
	if (!json_is_string(v))
		return jd_type(jd, camel, "a hex string");
	size_t len = json_string_length(v);
	if (len == 0)
		return MX_OK;
	if (len != 2 * n || mx_hex_to_id(json_string_value(v), len, out, n) != MX_OK)
		*state = ID_BAD;
	else
		*state = mx_id_is_zero(out, n) ? ID_ZERO : ID_OK;
	return MX_OK;
}

static int jd_attrs(struct jd *jd, const json_t *arr, struct mx_attrs *out,
		    uint32_t depth);

static int jd_double(struct jd *jd, const json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return MX_OK;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (strcmp(s, "NaN") == 0) {
			*out = NAN;
			return MX_OK;
		}
		if (strcmp(s, "Infinity") == 0) {
			*out = INFINITY;
			return MX_OK;
		}
		if (strcmp(s, "-Infinity") == 0) {
			*out = -INFINITY;
			return MX_OK;
		}
		char *end;
		if (*s && json_string_length(v) == strlen(s)) {
			*out = strtod(s, &end);
			if (*end == '\0' && isfinite(*out))
				return MX_OK;
		}
	}
	return jd_type(jd, "doubleValue", "a number, \"NaN\", \"Infinity\" or \"-Infinity\"");
}

static int jd_bytes(struct jd *jd, const json_t *v, struct mx_str *out)
{
	if (!json_is_string(v))
		return jd_type(jd, "bytesValue", "a base64 string");
	size_t n = json_string_length(v);
	size_t max = mx_base64_decoded_max(n);
	/* at least n / 4 * 3 - 2 bytes come out: refuse early what cannot fit */
	if (n / 4 * 3 > (size_t)jd->lim->max_value_bytes + 2)
		return jd_reject(jd, "bytes value over the value cap");
	uint8_t *p = mx_arena_alloc(&jd->b->arena, max);
	if (!p)
		return MX_ENOMEM;
	size_t got;
	if (mx_base64_decode(json_string_value(v), n, p, &got) != MX_OK)
		return jd_type(jd, "bytesValue", "valid base64");
	if (got > jd->lim->max_value_bytes)
		return jd_reject(jd, "bytes value over the value cap");
	*out = (struct mx_str){ (const char *)p, (uint32_t)got };
	return MX_OK;
}

/* Converts an AnyValue object at nesting `depth` (1 = an attribute's). */
static int jd_value(struct jd *jd, json_t *v, struct mx_value *out,
		    uint32_t depth)
{
	memset(out, 0, sizeof(*out));
	if (!v)
		return MX_OK;
	if (!json_is_object(v))
		return jd_type(jd, "value", "an AnyValue object");
	if (depth > jd->lim->max_depth) {
		mx_errmsg_set(jd->err, "AnyValue nested deeper than %u",
			      jd->lim->max_depth);
		return MX_EDEPTH;
	}
	const char *k;
	json_t *x;
	json_object_foreach(v, k, x) {
		if (json_is_null(x))
			continue;
		if (!strcmp(k, "stringValue") || !strcmp(k, "string_value")) {
			if (!json_is_string(x))
				return jd_type(jd, "stringValue", "a string");
			out->type = MX_VAL_STRING;
			return jd_copy(jd, x, &out->u.s);
		}
		if (!strcmp(k, "boolValue") || !strcmp(k, "bool_value")) {
			if (!json_is_boolean(x))
				return jd_type(jd, "boolValue", "true or false");
			out->type = MX_VAL_BOOL;
			out->u.b = json_is_true(x);
			return MX_OK;
		}
		if (!strcmp(k, "intValue") || !strcmp(k, "int_value")) {
			if (!json_to_i64(x, &out->u.i))
				return jd_type(jd, "intValue", "a 64-bit integer");
			out->type = MX_VAL_INT;
			return MX_OK;
		}
		if (!strcmp(k, "doubleValue") || !strcmp(k, "double_value")) {
			out->type = MX_VAL_DOUBLE;
			return jd_double(jd, x, &out->u.d);
		}
		if (!strcmp(k, "bytesValue") || !strcmp(k, "bytes_value")) {
			out->type = MX_VAL_BYTES;
			return jd_bytes(jd, x, &out->u.s);
		}
		if (!strcmp(k, "arrayValue") || !strcmp(k, "array_value")) {
			json_t *vals;
			out->type = MX_VAL_ARRAY;
			if (!json_is_object(x))
				return jd_type(jd, "arrayValue", "an object");
			int rc = jd_array(jd, x, "values", NULL, &vals);
			size_t n = vals ? json_array_size(vals) : 0;
			if (rc || n == 0)
				return rc;
			struct mx_value *items =
				mx_arena_alloc(&jd->b->arena, n * sizeof(*items));
			if (!items)
				return MX_ENOMEM;
			for (size_t i = 0; i < n; i++) {
				rc = jd_value(jd, json_array_get(vals, i), &items[i],
					      depth + 1);
				if (rc)
					return rc;
			}
			out->u.arr.items = items;
			out->u.arr.n = (uint32_t)n;
			return MX_OK;
		}
		if (!strcmp(k, "kvlistValue") || !strcmp(k, "kvlist_value")) {
			json_t *vals;
			struct mx_attrs m;
			out->type = MX_VAL_MAP;
			if (!json_is_object(x))
				return jd_type(jd, "kvlistValue", "an object");
			int rc = jd_array(jd, x, "values", NULL, &vals);
			if (!rc)
				rc = jd_attrs(jd, vals, &m, depth + 1);
			if (!rc) {
				out->u.map.items = m.items;
				out->u.map.n = m.n;
			}
			return rc;
		}
	}
	return MX_OK; /* no known member: an empty AnyValue */
}

/* Converts an array of KeyValue objects (NULL = none) whose values are at
 * nesting `depth`; only top-level lists (depth 1) are held to max_attrs. */
static int jd_attrs(struct jd *jd, const json_t *arr, struct mx_attrs *out,
		    uint32_t depth)
{
	size_t n = arr ? json_array_size(arr) : 0;
	out->items = NULL;
	out->n = 0;
	if (n == 0)
		return MX_OK;
	if (depth == 1 && n > jd->lim->max_attrs)
		return jd_reject(jd, "attributes over the attribute cap");
	struct mx_attr *items = mx_arena_alloc(&jd->b->arena, n * sizeof(*items));
	if (!items)
		return MX_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const json_t *kv = json_array_get(arr, i);
		if (!json_is_object(kv))
			return jd_type(jd, "attributes", "an array of {key, value} objects");
		int rc = jd_str(jd, kv, "key", NULL, &items[i].key);
		if (!rc)
			rc = jd_value(jd, jget(kv, "value", NULL), &items[i].value, depth);
		if (rc)
			return rc;
	}
	out->items = items;
	out->n = (uint32_t)n;
	return MX_OK;
}

/* The "attributes" and "droppedAttributesCount" members of `obj`. */
static int jd_attrs_field(struct jd *jd, const json_t *obj, struct mx_attrs *out,
			  uint32_t *dropped)
{
	json_t *arr;
	int rc = jd_array(jd, obj, "attributes", NULL, &arr);
	if (!rc)
		rc = jd_attrs(jd, arr, out, 1);
	if (!rc && dropped)
		rc = jd_u32(jd, obj, "droppedAttributesCount",
			    "dropped_attributes_count", dropped);
	return rc;
}

static int jd_events(struct jd *jd, const json_t *sp, struct mx_span *s)
{
	json_t *arr;
	int rc = jd_array(jd, sp, "events", NULL, &arr);
	size_t n = arr ? json_array_size(arr) : 0;
	if (rc || n == 0)
		return rc;
	if (n > jd->lim->max_events)
		return jd_reject(jd, "events over the event cap");
	struct mx_event *ev = mx_arena_alloc(&jd->b->arena, n * sizeof(*ev));
	if (!ev)
		return MX_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(arr, i);
		if (!json_is_object(e))
			return jd_type(jd, "events", "an array of objects");
		rc = jd_u64(jd, e, "timeUnixNano", "time_unix_nano", &ev[i].time_ns);
		if (!rc)
			rc = jd_str(jd, e, "name", NULL, &ev[i].name);
		if (!rc)
			rc = jd_attrs_field(jd, e, &ev[i].attrs, &ev[i].dropped_attrs);
		if (rc)
			return rc;
	}
	s->events = ev;
	s->n_events = (uint32_t)n;
	return MX_OK;
}

static int jd_links(struct jd *jd, const json_t *sp, struct mx_span *s)
{
	json_t *arr;
	int rc = jd_array(jd, sp, "links", NULL, &arr);
	size_t n = arr ? json_array_size(arr) : 0;
	if (rc || n == 0)
		return rc;
	if (n > jd->lim->max_links)
		return jd_reject(jd, "links over the link cap");
	struct mx_link *lk = mx_arena_calloc(&jd->b->arena, n, sizeof(*lk));
	if (!lk)
		return MX_ENOMEM;
	uint32_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const json_t *o = json_array_get(arr, i);
		struct mx_link *l = &lk[k];
		int ts, ss;
		if (!json_is_object(o))
			return jd_type(jd, "links", "an array of objects");
		rc = jd_id(jd, o, "traceId", "trace_id", l->trace_id, 16, &ts);
		if (!rc)
			rc = jd_id(jd, o, "spanId", "span_id", l->span_id, 8, &ss);
		if (rc)
			return rc;
		if (ts != ID_OK || ss != ID_OK) {
			s->dropped_links++; /* a link must name a span */
			continue;
		}
		rc = jd_str(jd, o, "traceState", "trace_state", &l->trace_state);
		if (!rc)
			rc = jd_attrs_field(jd, o, &l->attrs, &l->dropped_attrs);
		if (!rc)
			rc = jd_u32(jd, o, "flags", NULL, &l->flags);
		if (rc)
			return rc;
		k++;
	}
	s->links = k ? lk : NULL;
	s->n_links = k;
	return MX_OK;
}

/* Fills everything but the ids; returns MX_OK, JD_REJECT or an error. */
static int jd_span_fill(struct jd *jd, const json_t *sp, struct mx_span *s)
{
	json_t *st;
	int rc = jd_str(jd, sp, "traceState", "trace_state", &s->trace_state);
	if (!rc)
		rc = jd_u32(jd, sp, "flags", NULL, &s->flags);
	if (!rc)
		rc = jd_str(jd, sp, "name", NULL, &s->name);
	if (!rc)
		rc = jd_enum(jd, sp, "kind", kind_names, 6, &s->kind);
	if (!rc)
		rc = jd_u64(jd, sp, "startTimeUnixNano", "start_time_unix_nano",
			    &s->start_ns);
	if (!rc)
		rc = jd_u64(jd, sp, "endTimeUnixNano", "end_time_unix_nano",
			    &s->end_ns);
	if (!rc)
		rc = jd_attrs_field(jd, sp, &s->attrs, &s->dropped_attrs);
	if (!rc)
		rc = jd_u32(jd, sp, "droppedEventsCount", "dropped_events_count",
			    &s->dropped_events);
	if (!rc)
		rc = jd_u32(jd, sp, "droppedLinksCount", "dropped_links_count",
			    &s->dropped_links);
	if (!rc)
		rc = jd_events(jd, sp, s);
	if (!rc)
		rc = jd_links(jd, sp, s);
	if (!rc)
		rc = jd_object(jd, sp, "status", NULL, &st);
	if (!rc && st) {
		rc = jd_str(jd, st, "message", NULL, &s->status_message);
		if (!rc)
			rc = jd_enum(jd, st, "code", status_names, 3, &s->status_code);
	}
	return rc;
}

static int jd_span(struct jd *jd, const json_t *sp,
		   const struct mx_resource *res, const struct mx_scope *sc)
{
	uint8_t tid[16], sid[8], pid[8] = { 0 };
	int ts, ss, ps;
	if (!json_is_object(sp))
		return jd_type(jd, "spans", "an array of objects");
	int rc = jd_id(jd, sp, "traceId", "trace_id", tid, 16, &ts);
	if (!rc)
		rc = jd_id(jd, sp, "spanId", "span_id", sid, 8, &ss);
	if (!rc)
		rc = jd_id(jd, sp, "parentSpanId", "parent_span_id", pid, 8, &ps);
	if (rc)
		return rc;
	const char *bad = NULL;
	if (ts != ID_OK)
		bad = "traceId must be 32 hex digits, not all zero";
	else if (ss != ID_OK)
		bad = "spanId must be 16 hex digits, not all zero";
	else if (ps == ID_BAD)
		bad = "parentSpanId must be empty or 16 hex digits";
	if (bad) {
		jd->b->rejected_spans++;
		mx_errmsg_set(jd->err, "span rejected: %s", bad);
		return MX_OK;
	}
	struct mx_span *s = mx_batch_add_span(jd->b);
	if (!s)
		return MX_ENOMEM;
	memcpy(s->trace_id, tid, 16);
	memcpy(s->span_id, sid, 8);
	if (ps == ID_OK)
		memcpy(s->parent_span_id, pid, 8);
	s->resource = res;
	s->scope = sc;
	rc = jd_span_fill(jd, sp, s);
	if (rc == JD_REJECT) {
		jd->b->n_spans--;
		jd->b->rejected_spans++;
		mx_errmsg_set(jd->err, "span rejected: %s", jd->why);
		return MX_OK;
	}
	return rc;
}

static void jd_count_reject(struct jd *jd, size_t n, const char *what)
{
	if (n == 0)
		return;
	jd->b->rejected_spans += (uint32_t)n;
	mx_errmsg_set(jd->err, "%s: %s", what, jd->why);
}

/* One ScopeSpans (or legacy InstrumentationLibrarySpans when `legacy`). */
static int jd_scope_spans(struct jd *jd, const json_t *ss, bool legacy,
			  const struct mx_resource *res)
{
	json_t *spans, *so;
	if (!json_is_object(ss))
		return jd_type(jd, legacy ? "instrumentationLibrarySpans" : "scopeSpans",
			       "an array of objects");
	int rc = jd_array(jd, ss, "spans", NULL, &spans);
	if (rc)
		return rc;
	size_t n = spans ? json_array_size(spans) : 0;
	struct mx_scope *sc = mx_arena_calloc(&jd->b->arena, 1, sizeof(*sc));
	if (!sc)
		return MX_ENOMEM;
	rc = jd_str(jd, ss, "schemaUrl", "schema_url", &sc->schema_url);
	if (!rc) {
		if (legacy)
			rc = jd_object(jd, ss, "instrumentationLibrary",
				       "instrumentation_library", &so);
		else
			rc = jd_object(jd, ss, "scope", NULL, &so);
	}
	if (!rc && so) {
		rc = jd_str(jd, so, "name", NULL, &sc->name);
		if (!rc)
			rc = jd_str(jd, so, "version", NULL, &sc->version);
		if (!rc && !legacy)
			rc = jd_attrs_field(jd, so, &sc->attrs, &sc->dropped_attrs);
	}
	if (rc == JD_REJECT) {
		jd_count_reject(jd, n, "scope rejected");
		return MX_OK;
	}
	if (rc || n == 0)
		return rc;
	if (n > UINT32_MAX / 2)
		return MX_ENOMEM;
	rc = mx_batch_reserve(jd->b, (uint32_t)n);
	for (size_t i = 0; rc == MX_OK && i < n; i++)
		rc = jd_span(jd, json_array_get(spans, i), res, sc);
	return rc;
}

/* The scope list of a ResourceSpans: scopeSpans, else the legacy name. */
static int jd_scope_list(struct jd *jd, const json_t *rs, json_t **list,
			 bool *legacy)
{
	int rc = jd_array(jd, rs, "scopeSpans", "scope_spans", list);
	*legacy = false;
	if (rc || (*list && json_array_size(*list) > 0))
		return rc;
	*legacy = true;
	return jd_array(jd, rs, "instrumentationLibrarySpans",
			"instrumentation_library_spans", list);
}

static int jd_resource_spans(struct jd *jd, const json_t *rs)
{
	json_t *list, *ro;
	bool legacy;
	if (!json_is_object(rs))
		return jd_type(jd, "resourceSpans", "an array of objects");
	int rc = jd_scope_list(jd, rs, &list, &legacy);
	if (rc)
		return rc;
	size_t n = list ? json_array_size(list) : 0;
	struct mx_resource *res = mx_arena_calloc(&jd->b->arena, 1, sizeof(*res));
	if (!res)
		return MX_ENOMEM;
	rc = jd_str(jd, rs, "schemaUrl", "schema_url", &res->schema_url);
	if (!rc)
		rc = jd_object(jd, rs, "resource", NULL, &ro);
	if (!rc && ro)
		rc = jd_attrs_field(jd, ro, &res->attrs, &res->dropped_attrs);
	if (rc == JD_REJECT) {
		size_t total = 0;
		for (size_t i = 0; i < n; i++) {
			json_t *sp = jget(json_array_get(list, i), "spans", NULL);
			total += json_is_array(sp) ? json_array_size(sp) : 0;
		}
		jd_count_reject(jd, total, "resource rejected");
		return MX_OK;
	}
	for (size_t i = 0; rc == MX_OK && i < n; i++)
		rc = jd_scope_spans(jd, json_array_get(list, i), legacy, res);
	return rc;
}

int mx_otlp_decode_json(const char *buf, size_t len,
			const struct mx_decode_limits *lim,
			struct mx_batch *out, struct mx_errmsg *err)
{
	struct jd jd = { .b = out, .lim = lim, .err = err };
	json_t *root = NULL, *list;

	/* an empty request is a success (root stays NULL) */
	int rc = mx_json_parse(buf, len, 0, &root, err);
	if (rc || !root)
		goto out;
	if (!json_is_object(root)) {
		rc = jd_type(&jd, "(top level)", "an object");
		goto out;
	}
	rc = jd_array(&jd, root, "resourceSpans", "resource_spans", &list);
	for (size_t i = 0; rc == MX_OK && list && i < json_array_size(list); i++)
		rc = jd_resource_spans(&jd, json_array_get(list, i));
	if (rc == MX_ENOMEM)
		mx_errmsg_set(err, "request too large for the batch memory cap");
out:
	json_decref(root);
	return rc;
}
