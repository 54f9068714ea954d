/*
 * params.c - query-string parsing shared by the query APIs (see params.h):
 * parameter sources, Go durations, integers, key:value pairs, comma lists,
 * Jaeger's tags JSON (with jansson), Zipkin's annotationQuery, trace ids and
 * clocks.
 */
#include "params.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../model/error.h"

/* ---------------------------------------------------------- sources */

static const char *http_get(void *ctx, const char *name)
{
	return mx_http_query(ctx, name);
}

static size_t http_get_all(void *ctx, const char *name, const char **out,
			   size_t max)
{
	return mx_http_query_all(ctx, name, out, max);
}

void mx_params_from_http(struct mx_params *p, struct mx_http_req *req)
{
	p->get = http_get;
	p->get_all = http_get_all;
	p->ctx = req;
}

static const char *pairs_get(void *ctx, const char *name)
{
	const char *const *kv = ctx;
	for (size_t i = 0; kv[i] && kv[i + 1]; i += 2)
		if (strcmp(kv[i], name) == 0)
			return kv[i + 1];
	return NULL;
}

static size_t pairs_get_all(void *ctx, const char *name, const char **out,
			    size_t max)
{
	const char *const *kv = ctx;
	size_t n = 0;
	for (size_t i = 0; kv[i] && kv[i + 1]; i += 2) {
		if (strcmp(kv[i], name) != 0)
			continue;
		if (n < max)
			out[n] = kv[i + 1];
		n++;
	}
	return n;
}

void mx_params_from_pairs(struct mx_params *p, const char *const *pairs)
{
	p->get = pairs_get;
	p->get_all = pairs_get_all;
	/* the table is only read; the generic ctx pointer is not const */
	p->ctx = (void *)(uintptr_t)pairs;
}

const char *mx_param(const struct mx_params *p, const char *name)
{
	const char *v = p->get(p->ctx, name);
	return (v && *v) ? v : NULL;
}

/* ---------------------------------------------------------- numbers */

int mx_param_parse_u64(const char *s, uint64_t *out)
{
	if (!s || !*s)
		return MX_EINVAL;
	uint64_t v = 0;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			return MX_EINVAL;
		unsigned d = (unsigned)(*c - '0');
		if (v > (UINT64_MAX - d) / 10)
			return MX_EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return MX_OK;
}

uint64_t mx_mul_sat(uint64_t a, uint64_t b)
{
	if (a != 0 && b > UINT64_MAX / a)
		return UINT64_MAX;
	return a * b;
}

/* The unit at `s` (which starts with a letter or a µ); sets *len to its
 * byte length and returns its size in ns, or 0 when unknown. */
static uint64_t duration_unit(const char *s, size_t *len)
{
	static const struct {
		const char *name;
		uint64_t ns;
	} units[] = {
		{ "ns", 1 },
		{ "us", 1000 },
		{ "\xc2\xb5s", 1000 }, /* U+00B5 micro sign */
		{ "\xce\xbcs", 1000 }, /* U+03BC Greek mu */
		{ "ms", 1000000 },
		{ "s", 1000000000ull },
		{ "m", 60ull * 1000000000ull },
		{ "h", 3600ull * 1000000000ull },
	};
	/* the unit runs up to the next digit or '.', as Go reads it */
	size_t n = 0;
	while (s[n] && s[n] != '.' && (s[n] < '0' || s[n] > '9'))
		n++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strlen(units[i].name) == n &&
		    memcmp(units[i].name, s, n) == 0) {
			*len = n;
			return units[i].ns;
		}
	}
	return 0;
}

int mx_parse_go_duration(const char *s, uint64_t *ns)
{
	const uint64_t limit = (uint64_t)INT64_MAX;
	if (!s)
		return MX_EINVAL;
	if (*s == '+')
		s++;
	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return MX_OK;
	}
	if (!*s)
		return MX_EINVAL;
	uint64_t total = 0;
	while (*s) {
		/* integer part */
		uint64_t v = 0;
		bool digits = false, overflow = false;
		while (*s >= '0' && *s <= '9') {
			unsigned d = (unsigned)(*s - '0');
			if (v > (limit - d) / 10)
				overflow = true;
			else
				v = v * 10 + d;
			digits = true;
			s++;
		}
		if (overflow)
			return MX_EINVAL;
		/* fraction: digits past what a double can scale are dropped */
		uint64_t frac = 0;
		double scale = 1;
		bool fdigits = false;
		if (*s == '.') {
			s++;
			bool full = false;
			while (*s >= '0' && *s <= '9') {
				fdigits = true;
				if (!full) {
					unsigned d = (unsigned)(*s - '0');
					if (frac > (limit - d) / 10) {
						full = true;
					} else {
						frac = frac * 10 + d;
						scale *= 10;
					}
				}
				s++;
			}
		}
		if (!digits && !fdigits)
			return MX_EINVAL; /* "." alone, or no number */
		size_t ulen = 0;
		uint64_t unit = duration_unit(s, &ulen);
		if (!unit)
			return MX_EINVAL; /* missing or unknown unit */
		s += ulen;
		if (v > limit / unit)
			return MX_EINVAL;
		v *= unit;
		if (frac) {
			double f = (double)frac * ((double)unit / scale);
			if (f >= (double)limit)
				return MX_EINVAL;
			v += (uint64_t)f;
			if (v > limit)
				return MX_EINVAL;
		}
		if (total > limit - v)
			return MX_EINVAL;
		total += v;
	}
	*ns = total;
	return MX_OK;
}

/* ---------------------------------------------------------- strings */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static struct mx_str trimmed(const char *p, size_t n)
{
	while (n && is_blank(*p)) {
		p++;
		n--;
	}
	while (n && is_blank(p[n - 1]))
		n--;
	return (struct mx_str){ p, (uint32_t)n };
}

int mx_split_key_value(const char *s, struct mx_str *key, struct mx_str *value)
{
	if (!s)
		return MX_EINVAL;
	const char *colon = strchr(s, ':');
	size_t len = strlen(s);
	if (!colon || colon == s || len > UINT32_MAX)
		return MX_EINVAL;
	*key = (struct mx_str){ s, (uint32_t)(colon - s) };
	*value = (struct mx_str){ colon + 1, (uint32_t)(len - (size_t)(colon - s) - 1) };
	return MX_OK;
}

int mx_split_list(const char *s, char sep, struct mx_str *out, size_t max,
		  size_t *n)
{
	size_t count = 0;
	if (!s || strlen(s) > UINT32_MAX)
		return MX_EINVAL;
	for (;;) {
		const char *end = strchr(s, sep);
		size_t len = end ? (size_t)(end - s) : strlen(s);
		if (count == max)
			return MX_ETOOBIG;
		out[count++] = trimmed(s, len);
		if (!end)
			break;
		s = end + 1;
	}
	*n = count;
	return MX_OK;
}

int mx_tag_list_add(struct mx_tag_list *l, struct mx_str key,
		    struct mx_str value, int op)
{
	if (l->n >= MX_QUERY_MAX_TAGS)
		return MX_ETOOBIG;
	struct mx_tag_cond *c = &l->items[l->n++];
	c->key = key;
	c->value = value;
	c->op = op == MX_TAG_WORD ? MX_TAG_WORD : MX_TAG_EQ;
	return MX_OK;
}

static struct mx_str arena_str(struct mx_arena *a, const char *s, size_t n)
{
	if (n > UINT32_MAX)
		return (struct mx_str){ NULL, 0 };
	char *p = mx_arena_strndup(a, s, n);
	return (struct mx_str){ p, p ? (uint32_t)n : 0 };
}

int mx_parse_tags_json(const char *json, struct mx_arena *arena,
		       struct mx_tag_list *l, char *err, size_t errlen)
{
	json_error_t jerr;
	int rc = MX_OK;
	json_t *root = json_loads(json ? json : "", JSON_DECODE_ANY, &jerr);
	if (!root) {
		snprintf(err, errlen, "cannot parse JSON: %s", jerr.text);
		return MX_EINVAL;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "expected a JSON object of strings");
		rc = MX_EINVAL;
		goto out;
	}
	const char *k;
	json_t *v;
	json_object_foreach(root, k, v) {
		if (!json_is_string(v)) {
			snprintf(err, errlen, "value of \"%.64s\" is not a string", k);
			rc = MX_EINVAL;
			goto out;
		}
		struct mx_str key = arena_str(arena, k, strlen(k));
		struct mx_str val = arena_str(arena, json_string_value(v),
					      json_string_length(v));
		if (!key.ptr || !val.ptr) {
			snprintf(err, errlen, "out of memory");
			rc = MX_ENOMEM;
			goto out;
		}
		if (mx_tag_list_add(l, key, val, MX_TAG_EQ) != MX_OK) {
			snprintf(err, errlen, "more than %d tag conditions",
				 MX_QUERY_MAX_TAGS);
			rc = MX_ETOOBIG;
			goto out;
		}
	}
out:
	json_decref(root);
	return rc;
}

int mx_parse_annotation_query(const char *s, struct mx_tag_list *l)
{
	static const char sep[] = " and ";
	if (!s || strlen(s) > UINT32_MAX)
		return MX_EINVAL;
	for (;;) {
		const char *end = strstr(s, sep);
		size_t len = end ? (size_t)(end - s) : strlen(s);
		struct mx_str term = trimmed(s, len);
		if (term.len) {
			const char *eq = memchr(term.ptr, '=', term.len);
			int rc;
			if (!eq) {
				rc = mx_tag_list_add(l, term, (struct mx_str){ NULL, 0 },
						     MX_TAG_WORD);
			} else {
				size_t klen = (size_t)(eq - term.ptr);
				struct mx_str key = trimmed(term.ptr, klen);
				struct mx_str val = trimmed(eq + 1, term.len - klen - 1);
				if (!key.len)
					return MX_EINVAL;
				rc = mx_tag_list_add(l, key, val,
						     val.len ? MX_TAG_EQ : MX_TAG_WORD);
			}
			if (rc != MX_OK)
				return rc;
		}
		if (!end)
			break;
		s = end + strlen(sep);
	}
	return MX_OK;
}

int mx_parse_trace_id(const char *s, size_t len, size_t min_digits,
		      uint8_t id[16])
{
	if (!s || len < min_digits || len == 0 || len > 32)
		return MX_EINVAL;
	return mx_hex_to_id(s, len, id, 16);
}

/* ---------------------------------------------------------- clocks */

uint64_t mx_now_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t mx_query_deadline_ns(uint32_t timeout_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	uint64_t t = timeout_ms ? timeout_ms : MX_QUERY_DEFAULT_TIMEOUT_MS;
	return now + t * 1000000ull;
}
