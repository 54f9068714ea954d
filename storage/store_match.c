/*
 * store_match.c - small helpers shared by the write side (store_item.c,
 * which derives index keys and name-list keys from spans) and the read side
 * (store_search.c, which tests spans against a query): how a key is cut to
 * LMDB's key size, what a span's remote service is, how an attribute value
 * reads as text in a tag condition and the text of the derived span.kind
 * tag. Keeping them in one place is what makes a value recorded for
 * autocomplete (or hashed into a tag filter) match the same value in a
 * search.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "span_record.h"
#include "store_int.h"

uint32_t mx_store_utf8_cut(const char *s, uint32_t n, uint32_t max)
{
	if (n <= max)
		return n;
	uint32_t cut = max;
	while (cut > 0 && ((uint8_t)s[cut] & 0xC0) == 0x80)
		cut--;
	return cut;
}

uint32_t mx_store_op_hash(const char *name, uint32_t len)
{
	return (uint32_t)mx_hash64(name, len, MX_HASH_SEED_KEY);
}

struct mx_str mx_store_remote_service(const struct mx_span *s)
{
	if (s->remote.service_name.len)
		return s->remote.service_name;
	return mx_attrs_get_str(&s->attrs, "peer.service");
}

/* Shortest of %.15g..%.17g that reads back as `d`. */
static size_t double_text(double d, char *tmp, size_t tmplen)
{
	int n = 0;
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(tmp, tmplen, "%.*g", prec, d);
		if (n > 0 && (size_t)n < tmplen && strtod(tmp, NULL) == d)
			break;
	}
	return n > 0 && (size_t)n < tmplen ? (size_t)n : 0;
}

bool mx_store_value_text(const struct mx_value *v, char *tmp, size_t tmplen,
			 struct mx_str *out)
{
	int n;
	switch (v->type) {
	case MX_VAL_STRING:
		*out = v->u.s;
		return true;
	case MX_VAL_BOOL:
		*out = v->u.b ? MX_STR_LIT("true") : MX_STR_LIT("false");
		return true;
	case MX_VAL_INT:
		n = snprintf(tmp, tmplen, "%lld", (long long)v->u.i);
		if (n <= 0 || (size_t)n >= tmplen)
			return false;
		*out = (struct mx_str){ tmp, (uint32_t)n };
		return true;
	case MX_VAL_DOUBLE:
		if (isnan(v->u.d)) {
			*out = MX_STR_LIT("NaN");
			return true;
		}
		if (isinf(v->u.d)) {
			*out = v->u.d > 0 ? MX_STR_LIT("Inf") : MX_STR_LIT("-Inf");
			return true;
		}
		out->len = (uint32_t)double_text(v->u.d, tmp, tmplen);
		out->ptr = tmp;
		return out->len > 0;
	default:
		return false;
	}
}

const char *mx_store_kind_tag(uint8_t kind)
{
	static const char *const names[] = { "", "internal", "server", "client",
					     "producer", "consumer" };
	return kind < 6 ? names[kind] : "";
}
