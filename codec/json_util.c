/*
 * json_util.c - shared JSON helpers of the codecs (see json_util.h).
 */
#include "json_util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/error.h"
#include "base64.h"

#define PLAIN_MAX_DEPTH 64 /* nesting written for arrays/maps */

static bool all_space(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r')
			return false;
	return true;
}

/* True when brackets outside strings never nest deeper than `max`. The scan
 * does not validate anything else; jansson does that afterwards. */
static bool depth_ok(const char *buf, size_t len, uint32_t max)
{
	uint32_t depth = 0;
	bool in_str = false;
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (in_str) {
			if (c == '\\')
				i++; /* skip the escaped character */
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				return false;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return true;
}

int mx_json_parse(const char *buf, size_t len, uint32_t max_depth,
		  json_t **root, struct mx_errmsg *err)
{
	json_error_t jerr;
	*root = NULL;
	if (all_space(buf, len))
		return MX_OK;
	if (max_depth && !depth_ok(buf, len, max_depth)) {
		mx_errmsg_set(err, "JSON nested deeper than %u", max_depth);
		return MX_EDEPTH;
	}
	*root = json_loadb(buf, len, JSON_ALLOW_NUL, &jerr);
	if (*root)
		return MX_OK;
	switch (json_error_code(&jerr)) {
	case json_error_stack_overflow:
		mx_errmsg_set(err, "JSON nested too deeply");
		return MX_EDEPTH;
	case json_error_out_of_memory:
		mx_errmsg_set(err, "out of memory parsing JSON");
		return MX_ENOMEM;
	default:
		mx_errmsg_set(err, "invalid JSON at line %d column %d: %s",
			      jerr.line, jerr.column, jerr.text);
		return MX_EINVAL;
	}
}

bool mx_parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

bool mx_parse_i64(const char *s, size_t n, int64_t *out)
{
	bool neg = n > 0 && s[0] == '-';
	uint64_t u;
	if (!mx_parse_u64(s + neg, n - neg, &u))
		return false;
	if (neg) {
		if (u > (uint64_t)INT64_MAX + 1)
			return false;
		*out = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
	} else {
		if (u > (uint64_t)INT64_MAX)
			return false;
		*out = (int64_t)u;
	}
	return true;
}

void mx_json_put_double(struct mx_buf *b, double d)
{
	char tmp[40];
	int n = 0;
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	mx_buf_append(b, tmp, (size_t)n);
}

void mx_json_put_str(struct mx_buf *b, const char *p, size_t n)
{
	mx_buf_putc(b, '"');
	mx_buf_json_escape(b, p, n);
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

void mx_json_put_plain(struct mx_buf *b, const struct mx_value *v,
		       unsigned depth)
{
	bool first = true;
	switch (v->type) {
	case MX_VAL_STRING:
		mx_json_put_str(b, v->u.s.ptr, v->u.s.len);
		break;
	case MX_VAL_BOOL:
		mx_buf_puts(b, v->u.b ? "true" : "false");
		break;
	case MX_VAL_INT:
		mx_buf_printf(b, "%" PRId64, v->u.i);
		break;
	case MX_VAL_DOUBLE:
		if (isfinite(v->u.d))
			mx_json_put_double(b, v->u.d);
		else if (isnan(v->u.d))
			mx_buf_puts(b, "\"NaN\"");
		else
			mx_buf_puts(b, v->u.d > 0 ? "\"Inf\"" : "\"-Inf\"");
		break;
	case MX_VAL_BYTES:
		mx_buf_putc(b, '"');
		if (v->u.s.len &&
		    mx_base64_encode(b, (const uint8_t *)v->u.s.ptr, v->u.s.len) != MX_OK)
			b->failed = true;
		mx_buf_putc(b, '"');
		break;
	case MX_VAL_ARRAY:
		if (depth >= PLAIN_MAX_DEPTH) {
			mx_buf_puts(b, "null");
			break;
		}
		mx_buf_putc(b, '[');
		for (uint32_t i = 0; i < v->u.arr.n && !b->failed; i++) {
			sep(b, &first);
			mx_json_put_plain(b, &v->u.arr.items[i], depth + 1);
		}
		mx_buf_putc(b, ']');
		break;
	case MX_VAL_MAP:
		if (depth >= PLAIN_MAX_DEPTH) {
			mx_buf_puts(b, "null");
			break;
		}
		mx_buf_putc(b, '{');
		for (uint32_t i = 0; i < v->u.map.n && !b->failed; i++) {
			const struct mx_attr *a = &v->u.map.items[i];
			sep(b, &first);
			mx_json_put_str(b, a->key.ptr, a->key.len);
			mx_buf_putc(b, ':');
			mx_json_put_plain(b, &a->value, depth + 1);
		}
		mx_buf_putc(b, '}');
		break;
	default: /* MX_VAL_EMPTY and anything unknown */
		mx_buf_puts(b, "null");
		break;
	}
}
