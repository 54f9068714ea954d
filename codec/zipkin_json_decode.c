/*
 * zipkin_json_decode.c - Zipkin v2 JSON (a list of spans) -> model, with
 * jansson, plus the JSON readers the v1 decoder shares (mx_zk_json_*).
 *
 * Lenient where real clients are (wire-protocols.md 6.2, 6.3, 6.6): ids of
 * any case and fewer digits (left-padded), numbers as JSON integers, as
 * strings, or in fraction/exponent form (rounded to the microsecond), kinds
 * of any case, non-string tag values stringified, port 0 or `{}` endpoints
 * as absent. JSON null is the same as an absent key.
 *
 * A member of the wrong JSON type fails the whole body (MX_EINVAL naming the
 * key), as does a v1 body (it has binaryAnnotations). Bad ids and caps
 * reject single spans (counted). Nesting deeper than ZK_MAX_JSON_DEPTH is
 * refused before jansson parses (MX_EDEPTH).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../model/error.h"
#include "json_util.h"
#include "zipkin.h"
#include "zipkin_int.h"

/* `key` of `obj`; JSON null counts as absent. */
static json_t *jget(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_null(v) ? NULL : v;
}

int mx_zk_json_type(struct mx_zk *zk, const char *key, const char *want)
{
	mx_errmsg_set(zk->err, "Zipkin JSON: \"%s\" must be %s", key, want);
	return MX_EINVAL;
}

/* A non-negative finite double rounded to the nearest integer. */
static int round_u64(double r, uint64_t *out)
{
	if (!(r >= 0) || !isfinite(r))
		return -1;
	r = floor(r + 0.5);
	if (r >= 18446744073709551616.0)
		return -1;
	*out = (uint64_t)r;
	return 1;
}

/* 1 = a value, 0 = absent ("" or null), -1 = not a non-negative number. */
static int us_value(const json_t *v, uint64_t *out)
{
	if (!v)
		return 0;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i < 0)
			return -1;
		*out = (uint64_t)i;
		return 1;
	}
	if (json_is_real(v))
		return round_u64(json_real_value(v), out);
	if (!json_is_string(v))
		return -1;
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n == 0)
		return 0;
	if (mx_parse_u64(s, n, out))
		return 1;
	/* "1.58266276796031e+15" and friends; no sign, space, hex or inf */
	if (s[0] < '0' || s[0] > '9' || strlen(s) != n || strpbrk(s, "xXnN"))
		return -1;
	char *end;
	double r = strtod(s, &end);
	if (*end != '\0')
		return -1;
	return round_u64(r, out);
}

int mx_zk_json_us(struct mx_zk *zk, const json_t *obj, const char *key,
		  uint64_t *out)
{
	*out = 0;
	int r = us_value(jget(obj, key), out);
	if (r < 0)
		return mx_zk_json_type(zk, key, "a non-negative number of microseconds");
	return r;
}

int mx_zk_json_id(struct mx_zk *zk, const json_t *obj, const char *key,
		  uint8_t *out, size_t n, int *state)
{
	const json_t *v = jget(obj, key);
	*state = 0;
	if (!v)
		return MX_OK;
	if (!json_is_string(v))
		return mx_zk_json_type(zk, key, "a hex string");
	if (json_string_length(v) == 0)
		return MX_OK;
	*state = mx_zk_hex_id(json_string_value(v), json_string_length(v), out, n);
	return MX_OK;
}

int mx_zk_json_str(struct mx_zk *zk, const json_t *obj, const char *key,
		   struct mx_str *out)
{
	const json_t *v = jget(obj, key);
	*out = (struct mx_str){ "", 0 };
	if (!v)
		return MX_OK;
	if (!json_is_string(v))
		return mx_zk_json_type(zk, key, "a string");
	return mx_zk_str(zk, json_string_value(v), json_string_length(v), true, out);
}

static int ep_ip(struct mx_zk *zk, const json_t *ep, const char *key,
		 int family, struct mx_str *out)
{
	const json_t *v = jget(ep, key);
	*out = (struct mx_str){ "", 0 };
	if (!v)
		return MX_OK;
	if (!json_is_string(v))
		return mx_zk_json_type(zk, key, "a string");
	return mx_zk_ip_text(zk, family, json_string_value(v),
			     json_string_length(v), true, out);
}

int mx_zk_json_endpoint(struct mx_zk *zk, const json_t *v, const char *key,
			struct mx_endpoint *out)
{
	uint64_t port = 0;
	memset(out, 0, sizeof(*out));
	if (!v || json_is_null(v))
		return MX_OK;
	if (!json_is_object(v))
		return mx_zk_json_type(zk, key, "an object");
	int rc = mx_zk_json_str(zk, v, "serviceName", &out->service_name);
	if (!rc)
		rc = ep_ip(zk, v, "ipv4", AF_INET, &out->ipv4);
	if (!rc)
		rc = ep_ip(zk, v, "ipv6", AF_INET6, &out->ipv6);
	/* a port that is not a number in 1..65535 is unknown, as port 0 */
	if (!rc && us_value(jget(v, "port"), &port) == 1 && port <= 65535)
		out->port = (uint16_t)port;
	return rc;
}

int mx_zk_json_text(struct mx_zk *zk, const json_t *v, const char **p,
		    size_t *n)
{
	struct mx_buf *sb = &zk->scratch;
	*p = NULL;
	*n = 0;
	mx_buf_reset(sb);
	switch (json_typeof(v)) {
	case JSON_STRING:
		*p = json_string_value(v);
		*n = json_string_length(v);
		return MX_OK;
	case JSON_TRUE:
		*p = "true";
		*n = 4;
		return MX_OK;
	case JSON_FALSE:
		*p = "false";
		*n = 5;
		return MX_OK;
	case JSON_INTEGER:
		mx_buf_printf(sb, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		mx_zk_js_number(sb, json_real_value(v));
		break;
	case JSON_ARRAY:
	case JSON_OBJECT: {
		char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!txt)
			return MX_ENOMEM;
		size_t len = strlen(txt);
		if (len <= zk->lim->max_value_bytes)
			mx_buf_append(sb, txt, len);
		free(txt);
		if (len > zk->lim->max_value_bytes)
			return mx_zk_reject(zk, "tag over the value cap");
		break;
	}
	default:
		return MX_OK; /* null: no tag */
	}
	if (sb->failed)
		return MX_ENOMEM;
	*p = (const char *)sb->data;
	*n = sb->len;
	return MX_OK;
}

const char *mx_zk_ids_bad(int ts, int ss, int ps)
{
	if (ts != 1)
		return "traceId must be 1 to 32 hex digits, not all zero";
	if (ss != 1)
		return "id must be 1 to 16 hex digits, not all zero";
	if (ps < 0)
		return "parentId must be 1 to 16 hex digits";
	return NULL;
}

/* ---- v2 spans ---- */

static int v2_bool(struct mx_zk *zk, const json_t *sp, const char *key,
		   uint32_t bit, struct mx_span *s)
{
	const json_t *v = jget(sp, key);
	if (!v)
		return MX_OK;
	if (!json_is_boolean(v))
		return mx_zk_json_type(zk, key, "true or false");
	if (json_is_true(v))
		s->mx_flags |= bit;
	return MX_OK;
}

static int v2_annotations(struct mx_zk *zk, struct mx_zk_span *st,
			  const json_t *anns)
{
	for (size_t i = 0; anns && i < json_array_size(anns); i++) {
		const json_t *a = json_array_get(anns, i);
		uint64_t ts;
		if (!json_is_object(a))
			return mx_zk_json_type(zk, "annotations", "an array of objects");
		int rc = mx_zk_json_us(zk, a, "timestamp", &ts);
		if (rc < 0)
			return rc;
		const json_t *v = jget(a, "value");
		if (rc == 0 || !json_is_string(v))
			return mx_zk_json_type(zk, "annotations",
					       "objects with a timestamp and a string value");
		rc = mx_zk_annotation(zk, st, ts, json_string_value(v),
				      json_string_length(v), true);
		if (rc)
			return rc;
	}
	return MX_OK;
}

static int v2_tags(struct mx_zk *zk, struct mx_zk_span *st, json_t *tags)
{
	const char *k;
	size_t kn;
	json_t *x;
	if (!tags)
		return MX_OK;
	json_object_keylen_foreach(tags, k, kn, x) {
		const char *v;
		size_t vn;
		int rc = mx_zk_json_text(zk, x, &v, &vn);
		if (!rc && v)
			rc = mx_zk_tag(zk, st, k, kn, v, vn, true);
		if (rc)
			return rc;
	}
	return MX_OK;
}

/* Fills everything but the ids; MX_OK, ZK_REJECT or an error. */
static int v2_fill(struct mx_zk *zk, json_t *sp, struct mx_zk_span *st,
		   json_t *tags, const json_t *anns)
{
	struct mx_span *s = st->s;
	uint64_t ts, dur;
	int rc = mx_zk_json_str(zk, sp, "name", &s->name);
	if (rc)
		return rc;
	const json_t *kind = jget(sp, "kind");
	if (kind && !json_is_string(kind))
		return mx_zk_json_type(zk, "kind", "a string");
	if (kind)
		s->kind = mx_zk_kind_parse(json_string_value(kind),
					   json_string_length(kind));
	int has_ts = mx_zk_json_us(zk, sp, "timestamp", &ts);
	if (has_ts < 0)
		return has_ts;
	rc = mx_zk_json_us(zk, sp, "duration", &dur);
	if (rc < 0)
		return rc;
	rc = mx_zk_times(zk, s, has_ts == 1, ts, dur);
	if (!rc)
		rc = mx_zk_json_endpoint(zk, jget(sp, "localEndpoint"),
					 "localEndpoint", &s->local);
	if (!rc)
		rc = mx_zk_json_endpoint(zk, jget(sp, "remoteEndpoint"),
					 "remoteEndpoint", &s->remote);
	if (!rc)
		rc = v2_bool(zk, sp, "debug", MX_SPAN_F_DEBUG, s);
	if (!rc)
		rc = v2_bool(zk, sp, "shared", MX_SPAN_F_SHARED, s);
	if (!rc)
		rc = v2_annotations(zk, st, anns);
	if (!rc)
		rc = v2_tags(zk, st, tags);
	return rc;
}

static int v2_span(struct mx_zk *zk, json_t *sp)
{
	uint8_t tid[16], sid[8], pid[8] = { 0 };
	int ts, ss, ps;
	struct mx_zk_span st;
	if (!json_is_object(sp))
		return mx_zk_json_type(zk, "(list)", "an array of span objects");
	if (json_object_get(sp, "binaryAnnotations")) {
		mx_errmsg_set(zk->err, "Expected a JSON_V2 encoded list, but "
				       "received: JSON_V1");
		return MX_EINVAL;
	}
	json_t *tags = jget(sp, "tags");
	const json_t *anns = jget(sp, "annotations");
	if (tags && !json_is_object(tags))
		return mx_zk_json_type(zk, "tags", "an object");
	if (anns && !json_is_array(anns))
		return mx_zk_json_type(zk, "annotations", "an array");
	int rc = mx_zk_json_id(zk, sp, "traceId", tid, 16, &ts);
	if (!rc)
		rc = mx_zk_json_id(zk, sp, "id", sid, 8, &ss);
	if (!rc)
		rc = mx_zk_json_id(zk, sp, "parentId", pid, 8, &ps);
	if (rc)
		return rc;
	const char *bad = mx_zk_ids_bad(ts, ss, ps);
	if (bad) {
		mx_zk_count_reject(zk, bad);
		return MX_OK;
	}
	uint32_t first = zk->b->n_spans;
	struct mx_span *s = mx_zk_add_span(zk, tid, sid, ps == 1 ? pid : NULL);
	if (!s)
		return MX_ENOMEM;
	rc = mx_zk_begin(zk, &st, s, json_object_size(tags), json_array_size(anns));
	st.keys_unique = true; /* keys of a JSON object (jansson keeps the last) */
	if (!rc)
		rc = v2_fill(zk, sp, &st, tags, anns);
	if (!rc)
		rc = mx_zk_finish(zk, &st);
	return mx_zk_settle(zk, first, rc);
}

int mx_zk_json_list(const char *buf, size_t len,
		    const struct mx_decode_limits *lim, struct mx_batch *out,
		    struct mx_errmsg *err, int (*span)(struct mx_zk *, json_t *))
{
	struct mx_zk zk;
	json_t *root = NULL;
	mx_zk_init(&zk, out, lim, err);
	int rc = mx_json_parse(buf, len, ZK_MAX_JSON_DEPTH, &root, err);
	if (rc || !root)
		goto out;
	if (!json_is_array(root)) {
		rc = mx_zk_json_type(&zk, "(top level)", "a JSON array of spans");
		goto out;
	}
	size_t n = json_array_size(root);
	if (n > UINT32_MAX / 2) {
		rc = MX_ENOMEM;
		goto out;
	}
	rc = mx_batch_reserve(out, (uint32_t)n);
	for (size_t i = 0; rc == MX_OK && i < n; i++)
		rc = span(&zk, json_array_get(root, i));
out:
	if (rc == MX_ENOMEM)
		mx_errmsg_set(err, "request too large for the batch memory cap");
	json_decref(root);
	mx_zk_done(&zk);
	return rc;
}

int mx_zipkin_json_decode(const char *buf, size_t len,
			  const struct mx_decode_limits *lim,
			  struct mx_batch *out, struct mx_errmsg *err)
{
	return mx_zk_json_list(buf, len, lim, out, err, v2_span);
}
