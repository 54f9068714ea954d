/*
 * zipkin_out.c - the Zipkin view of a model span, shared by the v2 JSON and
 * proto3 encoders (see zipkin_int.h and model/MAPPING.md): which endpoints,
 * timestamp and duration, tags and annotation text a span is written with.
 *
 * Tags follow the OpenTelemetry Zipkin exporters: every attribute as a
 * string (doubles spelled as JavaScript's String() spells them), then otel.status_code and error for the status, otel.scope.name
 * and otel.scope.version, then the resource attributes other than
 * service.name (a later key wins: an attribute whose key is written later
 * is skipped, so that a tag object never repeats a key).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/error.h"
#include "base64.h"
#include "json_util.h"
#include "zipkin_int.h"

const char *mx_zk_kind_name(uint8_t kind)
{
	switch (kind) {
	case MX_KIND_CLIENT:
		return "CLIENT";
	case MX_KIND_SERVER:
		return "SERVER";
	case MX_KIND_PRODUCER:
		return "PRODUCER";
	case MX_KIND_CONSUMER:
		return "CONSUMER";
	default:
		return NULL;
	}
}

bool mx_zk_ep_set(const struct mx_endpoint *ep)
{
	return ep->service_name.len || ep->ipv4.len || ep->ipv6.len || ep->port;
}

static struct mx_str resource_service(const struct mx_span *s)
{
	if (!s->resource)
		return (struct mx_str){ NULL, 0 };
	return mx_attrs_get_str(&s->resource->attrs, "service.name");
}

void mx_zk_out_local(const struct mx_span *s, struct mx_endpoint *ep)
{
	if (mx_zk_ep_set(&s->local)) {
		*ep = s->local;
		if (!ep->service_name.len)
			ep->service_name = resource_service(s);
		return;
	}
	memset(ep, 0, sizeof(*ep));
	ep->service_name = mx_span_service(s);
}

bool mx_zk_out_remote(const struct mx_span *s, struct mx_endpoint *ep)
{
	if (mx_zk_ep_set(&s->remote)) {
		*ep = s->remote;
		return true;
	}
	memset(ep, 0, sizeof(*ep));
	ep->service_name = mx_attrs_get_str(&s->attrs, "peer.service");
	return ep->service_name.len != 0;
}

bool mx_zk_out_times(const struct mx_span *s, uint64_t *ts, uint64_t *dur)
{
	if (s->start_ns == 0)
		return false;
	*ts = s->start_ns / 1000;
	*dur = s->end_ns > s->start_ns ? (s->end_ns - s->start_ns) / 1000 : 0;
	if (*dur < 1)
		*dur = 1;
	return true;
}

void mx_zk_js_number(struct mx_buf *b, double d)
{
	char tmp[40], digits[20];
	if (d == 0) {
		mx_buf_putc(b, '0'); /* also -0, as JavaScript */
		return;
	}
	if (d < 0) {
		mx_buf_putc(b, '-');
		d = -d;
	}
	/* the fewest significant digits that read back as d */
	int p = 1;
	for (; p < 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%.*e", p - 1, d);
	int k = 0;
	const char *c = tmp;
	for (; *c && *c != 'e'; c++)
		if (*c >= '0' && *c <= '9')
			digits[k++] = *c;
	while (k > 1 && digits[k - 1] == '0')
		k--;
	int n = (int)strtol(c + 1, NULL, 10) + 1; /* value = 0.digits x 10^n */
	if (k <= n && n <= 21) {
		mx_buf_append(b, digits, (size_t)k);
		for (int i = k; i < n; i++)
			mx_buf_putc(b, '0');
	} else if (0 < n && n <= 21) {
		mx_buf_append(b, digits, (size_t)n);
		mx_buf_putc(b, '.');
		mx_buf_append(b, digits + n, (size_t)(k - n));
	} else if (-6 < n && n <= 0) {
		mx_buf_puts(b, "0.");
		for (int i = n; i < 0; i++)
			mx_buf_putc(b, '0');
		mx_buf_append(b, digits, (size_t)k);
	} else {
		mx_buf_putc(b, (uint8_t)digits[0]);
		if (k > 1) {
			mx_buf_putc(b, '.');
			mx_buf_append(b, digits + 1, (size_t)(k - 1));
		}
		mx_buf_printf(b, "e%c%d", n - 1 < 0 ? '-' : '+', n - 1 < 0 ? 1 - n : n - 1);
	}
}

/* The tag text of a value; uses `sb` for anything but strings. */
static int value_text(const struct mx_value *v, struct mx_buf *sb,
		      struct mx_str *out)
{
	mx_buf_reset(sb);
	switch (v->type) {
	case MX_VAL_STRING:
		*out = v->u.s;
		return MX_OK;
	case MX_VAL_BOOL:
		*out = v->u.b ? MX_STR_LIT("true") : MX_STR_LIT("false");
		return MX_OK;
	case MX_VAL_INT:
		mx_buf_printf(sb, "%" PRId64, v->u.i);
		break;
	case MX_VAL_DOUBLE:
		if (isfinite(v->u.d)) {
			mx_zk_js_number(sb, v->u.d);
			break;
		}
		/* as JavaScript's String(): the OTel JS exporter's spelling */
		if (isnan(v->u.d))
			*out = MX_STR_LIT("NaN");
		else
			*out = v->u.d > 0 ? MX_STR_LIT("Infinity") : MX_STR_LIT("-Infinity");
		return MX_OK;
	case MX_VAL_BYTES:
		if (mx_base64_encode(sb, (const uint8_t *)v->u.s.ptr, v->u.s.len))
			sb->failed = true;
		break;
	case MX_VAL_ARRAY:
	case MX_VAL_MAP:
		mx_json_put_plain(sb, v, 0);
		break;
	default:
		*out = (struct mx_str){ "", 0 };
		return MX_OK;
	}
	if (sb->failed || sb->len > UINT32_MAX)
		return MX_ENOMEM;
	*out = (struct mx_str){ (const char *)sb->data, (uint32_t)sb->len };
	return MX_OK;
}

static bool is_service_name(struct mx_str k)
{
	return mx_str_eq(k, "service.name", 12);
}

/* True when `key` is written after the span attributes. */
static bool written_later(const struct mx_span *s, struct mx_str key)
{
	if (s->status_code != MX_STATUS_UNSET &&
	    mx_str_eq(key, "otel.status_code", 16))
		return true;
	if (s->status_code == MX_STATUS_ERROR && mx_str_eq(key, "error", 5))
		return true;
	if (s->scope && s->scope->name.len && mx_str_eq(key, "otel.scope.name", 15))
		return true;
	if (s->scope && s->scope->version.len &&
	    mx_str_eq(key, "otel.scope.version", 18))
		return true;
	if (s->resource && !is_service_name(key)) {
		const struct mx_attrs *ra = &s->resource->attrs;
		for (uint32_t i = 0; i < ra->n; i++)
			if (mx_str_eq(ra->items[i].key, key.ptr, key.len))
				return true;
	}
	return false;
}

int mx_zk_out_tags(const struct mx_span *s, struct mx_buf *scratch,
		   void (*fn)(void *ctx, struct mx_str k, struct mx_str v),
		   void *ctx)
{
	struct mx_str txt;
	for (uint32_t i = 0; i < s->attrs.n; i++) {
		const struct mx_attr *a = &s->attrs.items[i];
		if (written_later(s, a->key))
			continue;
		if (value_text(&a->value, scratch, &txt))
			return MX_ENOMEM;
		fn(ctx, a->key, txt);
	}
	if (s->status_code == MX_STATUS_OK)
		fn(ctx, MX_STR_LIT("otel.status_code"), MX_STR_LIT("OK"));
	if (s->status_code == MX_STATUS_ERROR) {
		fn(ctx, MX_STR_LIT("otel.status_code"), MX_STR_LIT("ERROR"));
		fn(ctx, MX_STR_LIT("error"), s->status_message);
	}
	if (s->scope && s->scope->name.len)
		fn(ctx, MX_STR_LIT("otel.scope.name"), s->scope->name);
	if (s->scope && s->scope->version.len)
		fn(ctx, MX_STR_LIT("otel.scope.version"), s->scope->version);
	if (!s->resource)
		return MX_OK;
	const struct mx_attrs *ra = &s->resource->attrs;
	for (uint32_t i = 0; i < ra->n; i++) {
		if (is_service_name(ra->items[i].key))
			continue;
		if (value_text(&ra->items[i].value, scratch, &txt))
			return MX_ENOMEM;
		fn(ctx, ra->items[i].key, txt);
	}
	return MX_OK;
}

int mx_zk_event_text(const struct mx_event *e, struct mx_buf *scratch,
		     struct mx_str *out)
{
	if (e->attrs.n == 0) {
		*out = e->name;
		return MX_OK;
	}
	struct mx_value m = { .type = MX_VAL_MAP };
	m.u.map.items = e->attrs.items;
	m.u.map.n = e->attrs.n;
	mx_buf_reset(scratch);
	mx_buf_append(scratch, e->name.ptr, e->name.len);
	mx_buf_putc(scratch, ' ');
	mx_json_put_plain(scratch, &m, 0);
	if (scratch->failed || scratch->len > UINT32_MAX)
		return MX_ENOMEM;
	*out = (struct mx_str){ (const char *)scratch->data, (uint32_t)scratch->len };
	return MX_OK;
}
