/*
 * span.c - batch lifetime, span array growth and id helpers for the model
 * (see span.h).
 */
#include "span.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

struct mx_batch *mx_batch_new(size_t arena_cap)
{
	struct mx_batch *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	mx_arena_init(&b->arena, arena_cap);
	return b;
}

void mx_batch_free(struct mx_batch *b)
{
	if (!b)
		return;
	mx_arena_free(&b->arena);
	free(b);
}

int mx_batch_reserve(struct mx_batch *b, uint32_t n)
{
	if (b->cap_spans - b->n_spans >= n)
		return MX_OK;
	uint64_t want = (uint64_t)b->n_spans + n;
	uint64_t cap = b->cap_spans ? b->cap_spans : 64;
	while (cap < want)
		cap *= 2;
	if (cap > UINT32_MAX / 2)
		return MX_ENOMEM;
	struct mx_span *arr = mx_arena_alloc(&b->arena, cap * sizeof(*arr));
	if (!arr)
		return MX_ENOMEM;
	if (b->n_spans)
		memcpy(arr, b->spans, b->n_spans * sizeof(*arr));
	b->spans = arr;
	b->cap_spans = (uint32_t)cap;
	return MX_OK;
}

struct mx_span *mx_batch_add_span(struct mx_batch *b)
{
	if (b->n_spans == b->cap_spans && mx_batch_reserve(b, 1) != MX_OK)
		return NULL;
	struct mx_span *s = &b->spans[b->n_spans++];
	memset(s, 0, sizeof(*s));
	return s;
}

struct mx_str mx_batch_str(struct mx_batch *b, const char *src, size_t len)
{
	struct mx_str out = { NULL, 0 };
	if (len > UINT32_MAX)
		return out;
	char *p = mx_arena_strndup(&b->arena, src, len);
	if (p) {
		out.ptr = p;
		out.len = (uint32_t)len;
	}
	return out;
}

struct mx_str mx_attrs_get_str(const struct mx_attrs *attrs, const char *key)
{
	size_t klen = strlen(key);
	for (uint32_t i = 0; i < attrs->n; i++) {
		const struct mx_attr *a = &attrs->items[i];
		if (a->value.type == MX_VAL_STRING && mx_str_eq(a->key, key, klen))
			return a->value.u.s;
	}
	return (struct mx_str){ NULL, 0 };
}

struct mx_str mx_span_service(const struct mx_span *s)
{
	if (s->resource) {
		struct mx_str v = mx_attrs_get_str(&s->resource->attrs, "service.name");
		if (v.len)
			return v;
	}
	if (s->local.service_name.len)
		return s->local.service_name;
	return MX_STR_LIT("unknown_service");
}

bool mx_id_is_zero(const uint8_t *id, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (id[i])
			return false;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mx_hex_to_id(const char *hex, size_t hexlen, uint8_t *out, size_t n)
{
	if (hexlen == 0 || hexlen > 2 * n)
		return MX_EINVAL;
	memset(out, 0, n);
	/* fill from the right so that short ids are left-padded */
	size_t pos = 2 * n;
	for (size_t i = hexlen; i-- > 0;) {
		int v = hexval(hex[i]);
		if (v < 0)
			return MX_EINVAL;
		pos--;
		if (pos & 1)
			out[pos / 2] |= (uint8_t)v;
		else
			out[pos / 2] |= (uint8_t)(v << 4);
	}
	return MX_OK;
}

void mx_id_to_hex(const uint8_t *id, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 15];
	}
	out[2 * n] = '\0';
}

size_t mx_trace_id_to_hex(const uint8_t id[16], char *out)
{
	if (mx_id_is_zero(id, 8)) {
		mx_id_to_hex(id + 8, 8, out);
		return 16;
	}
	mx_id_to_hex(id, 16, out);
	return 32;
}
