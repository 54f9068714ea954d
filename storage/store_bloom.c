/*
 * store_bloom.c - the tag filters of idx_svc_time records: the items of a
 * span, the per-segment builder (submitting thread) and the probes of a
 * search. See store_bloom.h for the idea and storage/SCHEMA.md ("Tag
 * filter") for the exact hashing, which both sides must agree on.
 *
 * Builder cost is what matters (it runs for every span on the receiver
 * threads): two short hashes per attribute (its key, then its value seeded
 * with the key's hash), no number is rendered, resources are hashed once
 * per batch, and the distinct items of a segment are kept in one
 * open-addressing set that is never cleared (a generation number marks the
 * slots of the current segment).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../model/error.h"
#include "span_record.h"
#include "store_bloom.h"
#include "store_int.h"

#define K1 0x9e3779b97f4a7c15ULL
#define SEED_WORD 0x776f7264ULL    /* "word": keys and event names */
#define TAG_STR 0x737472ULL        /* "str": values as text */
#define TAG_DBL 0x64626cULL        /* "dbl": other doubles, IEEE-754 bits LE */
#define CANON_NAN 0x7ff8000000000000ULL
#define NUM_TEXT_MAX 40u /* longer texts are no rendering of a number */
#define INT_DOUBLE_MAX 1e15 /* below, %.15g writes an integral double's digits */

static inline uint64_t fmix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static inline uint64_t rd64le(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

uint64_t mx_bloom_hash(const void *data, size_t n, uint64_t seed)
{
	const uint8_t *p = data;
	uint64_t h = seed ^ ((uint64_t)n * K1);
	while (n >= 8) {
		h = (h ^ rd64le(p)) * K1;
		h = (h << 31) | (h >> 33);
		p += 8;
		n -= 8;
	}
	if (n) {
		uint64_t t = 0;
		for (size_t i = 0; i < n; i++)
			t |= (uint64_t)p[i] << (8 * i);
		h = (h ^ t) * K1;
	}
	return fmix64(h);
}

static inline uint64_t word_item(const char *p, uint32_t n)
{
	return mx_bloom_hash(p, n, SEED_WORD);
}

static inline uint64_t str_item(uint64_t kh, const char *p, uint32_t n)
{
	return mx_bloom_hash(p, n, kh ^ TAG_STR);
}

/* The item of a double that is not hashed as text: its bits (every NaN
 * reads "NaN", so all NaNs are one item). */
static uint64_t dbl_item(uint64_t kh, double d)
{
	uint64_t u = CANON_NAN;
	uint8_t b[8];
	if (!isnan(d))
		memcpy(&u, &d, 8);
	mx_put_le64(b, u);
	return mx_bloom_hash(b, 8, kh ^ TAG_DBL);
}

/* Doubles whose text (mx_store_value_text(): %.15g when that reads back)
 * is the decimal integer (long long)d: integral, |d| < 1e15, not -0. */
static bool int_double(double d)
{
	return fabs(d) < INT_DOUBLE_MAX && d == (double)(long long)d &&
	       !(d == 0 && signbit(d));
}

/* `v` in decimal as "%lld" writes it; returns the length (<= 20). */
static uint32_t int_text(int64_t v, char *out)
{
	char tmp[20];
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	uint32_t n = 0, len = 0;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		out[len++] = '-';
	while (n)
		out[len++] = tmp[--n];
	return len;
}

/* The (key, value) item of an attribute value; false for types a tag
 * condition never matches (bytes, arrays, maps, empty). Values are hashed
 * as the text mx_store_value_text() gives them - strings, bools, ints and
 * integral doubles - except other doubles, whose shortest text is costly
 * to write: they are hashed by value, and a probe whose text reads as such
 * a double probes that item too. */
static bool value_item(uint64_t kh, const struct mx_value *v, uint64_t *out)
{
	char tmp[24];
	switch (v->type) {
	case MX_VAL_STRING:
		*out = str_item(kh, v->u.s.ptr, v->u.s.len);
		return true;
	case MX_VAL_BOOL:
		*out = v->u.b ? str_item(kh, "true", 4) : str_item(kh, "false", 5);
		return true;
	case MX_VAL_INT:
		*out = str_item(kh, tmp, int_text(v->u.i, tmp));
		return true;
	case MX_VAL_DOUBLE:
		if (int_double(v->u.d))
			*out = str_item(kh, tmp, int_text((int64_t)v->u.d, tmp));
		else
			*out = dbl_item(kh, v->u.d);
		return true;
	default:
		return false;
	}
}

static uint64_t cstr_kv(const char *key, const char *val)
{
	return str_item(word_item(key, (uint32_t)strlen(key)), val,
			(uint32_t)strlen(val));
}

/* builder->derived[]: span.kind per kind 1..5 and 6 for any other kind
 * (whose tag text is empty), then these: */
enum { D_ERR_KV = 7, D_ERR_WORD, D_STATUS_ERR, D_STATUS_OK, D_N };
_Static_assert(D_N <= sizeof(((struct mx_bloom_build *)0)->derived) / sizeof(uint64_t),
	       "derived items");

static void derived_init(uint64_t *d)
{
	for (uint8_t k = 1; k <= 6; k++)
		d[k] = cstr_kv("span.kind", mx_store_kind_tag(k));
	d[0] = 0;
	d[D_ERR_KV] = cstr_kv("error", "true");
	d[D_ERR_WORD] = word_item("error", 5);
	d[D_STATUS_ERR] = cstr_kv("otel.status_code", "ERROR");
	d[D_STATUS_OK] = cstr_kv("otel.status_code", "OK");
}

/* Items are placed after mixing in a per-record salt (the trace id's low
 * 64 bits): every record shares common items (keys, frequent values), so
 * without it a given probe would collide with them in every record alike,
 * and some queries would see a false positive rate many times the mean.
 * One multiply: only the high bits of the product are used. */
static inline uint64_t salted(uint64_t item, uint64_t salt)
{
	return (item ^ salt) * K1;
}

/* A salted item sets (up to) 4 bits of ONE 64-bit word (a "blocked" Bloom
 * filter: one memory access per item): the word is its top 7 bits modulo
 * the word count (a power of two, at most 128), the bits four 6-bit fields
 * below them. */
_Static_assert(MX_BLOOM_MAX_WORDS == 128, "item_word() takes 7 bits");

static inline uint32_t item_word(uint64_t x, uint32_t words)
{
	return (uint32_t)(x >> 57) & (words - 1);
}

static inline uint64_t item_mask(uint64_t x)
{
	return 1ull << (x >> 33 & 63) | 1ull << (x >> 39 & 63) |
	       1ull << (x >> 45 & 63) | 1ull << (x >> 51 & 63);
}

/* ------------------------------------------------------------- builder */

/* Sets the bits of `item` in a group's full-size scratch filter and counts
 * it when it set a new bit (so the count is the number of distinct items,
 * give or take the scratch's own false positives, which only shrink the
 * size chosen). */
static inline void add_item(struct mx_bloom_build *b, uint32_t grp, uint64_t item)
{
	struct mx_bloom_grp *g = &b->grp[grp];
	uint64_t x = salted(item, b->salt);
	uint64_t *w = b->scratch + (size_t)grp * MX_BLOOM_MAX_WORDS +
		      item_word(x, MX_BLOOM_MAX_WORDS);
	uint64_t m = item_mask(x), old = *w;
	*w = old | m;
	g->n_items += (old & m) != m;
}

static void add_attrs(struct mx_bloom_build *b, uint32_t grp,
		      const struct mx_attrs *a)
{
	for (uint32_t i = 0; i < a->n; i++) {
		const struct mx_attr *x = &a->items[i];
		uint64_t kh = word_item(x->key.ptr, x->key.len), kv;
		add_item(b, grp, kh);
		if (value_item(kh, &x->value, &kv))
			add_item(b, grp, kv);
	}
}

/* Halves a filter of `words` words in place until it has `to` words
 * (powers of two): an item's word is its low bits modulo the word count,
 * so word i + words / 2 goes onto word i. */
static void fold(uint64_t *f, uint32_t words, uint32_t to)
{
	for (; words > to; words /= 2)
		for (uint32_t i = 0; i < words / 2; i++)
			f[i] |= f[i + words / 2];
}

int mx_bloom_build_init(struct mx_bloom_build *b, uint32_t n_res_max)
{
	memset(b, 0, sizeof(*b));
	mx_buf_init(&b->res_items, SIZE_MAX);
	mx_buf_init(&b->words, SIZE_MAX);
	uint32_t n = n_res_max ? n_res_max : 1;
	b->n_res_max = n_res_max;
	b->res_first = calloc(n, sizeof(*b->res_first));
	b->res_count = calloc(n, sizeof(*b->res_count));
	derived_init(b->derived);
	return b->res_first && b->res_count ? MX_OK : MX_ENOMEM;
}

void mx_bloom_build_free(struct mx_bloom_build *b)
{
	free(b->scratch);
	free(b->grp);
	free(b->refs);
	free(b->res_first);
	free(b->res_count);
	mx_buf_free(&b->res_items);
	mx_buf_free(&b->words);
	memset(b, 0, sizeof(*b));
}

/* The items of a resource's attributes, hashed on first use. */
static int res_items(struct mx_bloom_build *b, uint32_t res,
		     const struct mx_resource *r, const uint64_t **items,
		     uint32_t *n)
{
	if (!b->res_first[res]) {
		size_t first = b->res_items.len / 8;
		uint32_t cnt = 0;
		for (uint32_t i = 0; i < r->attrs.n; i++) {
			const struct mx_attr *x = &r->attrs.items[i];
			uint64_t it[2];
			it[0] = word_item(x->key.ptr, x->key.len);
			uint32_t m = value_item(it[0], &x->value, &it[1]) ? 2 : 1;
			if (mx_buf_append(&b->res_items, it, 8 * m) != MX_OK)
				return MX_ENOMEM;
			cnt += m;
		}
		if (first >= UINT32_MAX)
			return MX_ENOMEM;
		b->res_first[res] = (uint32_t)first + 1;
		b->res_count[res] = cnt;
	}
	*items = (const uint64_t *)(const void *)b->res_items.data +
		 (b->res_first[res] - 1);
	*n = b->res_count[res];
	return MX_OK;
}

int mx_bloom_add_span(struct mx_bloom_build *b, uint32_t grp, uint32_t res,
		      const struct mx_span *s)
{
	int rc;
	if (res >= b->n_res_max || grp < b->seg_first)
		return MX_EINVAL;
	grp -= b->seg_first;
	if (grp >= MX_BLOOM_MAX_GROUPS)
		return MX_OK; /* the group gets no filter */
	if (grp >= b->cap_grp) {
		uint32_t ncap = b->cap_grp ? b->cap_grp : 8;
		while (ncap <= grp)
			ncap *= 2;
		void *p = realloc(b->grp, (size_t)ncap * sizeof(*b->grp));
		if (!p)
			return MX_ENOMEM;
		b->grp = p;
		p = realloc(b->scratch, (size_t)ncap * MX_BLOOM_MAX_WORDS * 8);
		if (!p)
			return MX_ENOMEM;
		b->scratch = p;
		b->cap_grp = ncap;
	}
	for (; b->n_grp <= grp; b->n_grp++) {
		b->grp[b->n_grp] = (struct mx_bloom_grp){ 0, UINT32_MAX };
		memset(b->scratch + (size_t)b->n_grp * MX_BLOOM_MAX_WORDS, 0,
		       MX_BLOOM_MAX_WORDS * 8);
	}
	struct mx_bloom_grp *g = &b->grp[grp];
	if (g->n_items > MX_BLOOM_MAX_ITEMS)
		return MX_OK; /* no filter anyway */
	b->salt = mx_bloom_salt(s->trace_id);
	if (g->last_res != res && s->resource) {
		const uint64_t *it;
		uint32_t n;
		if ((rc = res_items(b, res, s->resource, &it, &n)) != MX_OK)
			return rc;
		for (uint32_t i = 0; i < n; i++)
			add_item(b, grp, it[i]);
		g->last_res = res;
	}
	add_attrs(b, grp, &s->attrs);
	for (uint32_t i = 0; i < s->n_events; i++)
		add_item(b, grp, word_item(s->events[i].name.ptr, s->events[i].name.len));
	/* derived tags (store_search.c: derived_eq() and the "error" word) */
	const uint64_t *d = b->derived;
	if (s->kind != MX_KIND_UNSPECIFIED)
		add_item(b, grp, d[s->kind <= 5 ? s->kind : 6]);
	if (s->status_code == MX_STATUS_ERROR) {
		add_item(b, grp, d[D_ERR_KV]);
		add_item(b, grp, d[D_ERR_WORD]);
		add_item(b, grp, d[D_STATUS_ERR]);
	} else if (s->status_code == MX_STATUS_OK) {
		add_item(b, grp, d[D_STATUS_OK]);
	}
	return MX_OK;
}

int mx_bloom_seg_finish(struct mx_bloom_build *b, uint32_t next)
{
	if (next < b->seg_first + b->n_grp)
		return MX_EINVAL;
	if (next > b->n_refs) {
		void *p = realloc(b->refs, (size_t)next * sizeof(*b->refs));
		if (!p)
			return MX_ENOMEM;
		b->refs = p;
		memset(b->refs + b->n_refs, 0, (size_t)(next - b->n_refs) * sizeof(*b->refs));
		b->n_refs = next;
	}
	for (uint32_t g = 0; g < b->n_grp; g++) {
		struct mx_bloom_grp *x = &b->grp[g];
		uint64_t *f = b->scratch + (size_t)g * MX_BLOOM_MAX_WORDS;
		if (x->n_items == 0 || x->n_items > MX_BLOOM_MAX_ITEMS)
			continue;
		uint32_t words = 1;
		while (64 * words < x->n_items * MX_BLOOM_BITS_PER_ITEM)
			words *= 2;
		if (b->words.len > UINT32_MAX - 8 * words ||
		    mx_buf_reserve(&b->words, 8 * (size_t)words) != MX_OK)
			return MX_ENOMEM;
		fold(f, MX_BLOOM_MAX_WORDS, words);
		b->refs[b->seg_first + g] = (struct mx_bloom_ref){ (uint32_t)b->words.len,
								     words };
		for (uint32_t i = 0; i < words; i++)
			mx_put_le64(b->words.data + b->words.len + 8 * i, f[i]);
		b->words.len += 8 * (size_t)words;
	}
	b->n_grp = 0; /* scratch filters are cleared when a group is reused */
	b->seg_first = next;
	return MX_OK;
}

struct mx_bloom_ref mx_bloom_ref(const struct mx_bloom_build *b, uint32_t grp)
{
	if (grp >= b->n_refs)
		return (struct mx_bloom_ref){ 0, 0 };
	return b->refs[grp];
}

/* --------------------------------------------------------------- probes */

void mx_bloom_probe_init(struct mx_bloom_probe *p, const struct mx_tag_cond *c)
{
	memset(p, 0, sizeof(*p));
	if (c->op == MX_TAG_WORD) {
		p->item[p->n++] = word_item(c->key.ptr, c->key.len);
		return;
	}
	uint64_t kh = word_item(c->key.ptr, c->key.len);
	p->item[p->n++] = str_item(kh, c->value.ptr, c->value.len);
	if (c->value.len == 0 || c->value.len > NUM_TEXT_MAX)
		return;
	/* a double hashed by value whose text this could be (strtod reads
	 * the text of a double back as that double); an extra probe only
	 * costs a false positive */
	char tmp[NUM_TEXT_MAX + 1], *end;
	memcpy(tmp, c->value.ptr, c->value.len);
	tmp[c->value.len] = 0;
	double d = strtod(tmp, &end);
	if (end == tmp + c->value.len && !int_double(d))
		p->item[p->n++] = dbl_item(kh, d);
}

uint64_t mx_bloom_salt(const uint8_t trace_id[16])
{
	return mx_get_le64(trace_id + 8);
}

bool mx_bloom_maybe(const uint8_t *f, uint32_t words, uint64_t salt,
		    const struct mx_bloom_probe *p, uint32_t n)
{
	if (words == 0)
		return true;
	for (uint32_t c = 0; c < n; c++) {
		bool any = false;
		for (uint32_t i = 0; i < p[c].n && !any; i++) {
			uint64_t x = salted(p[c].item[i], salt), m = item_mask(x);
			any = (mx_get_le64(f + 8 * item_word(x, words)) & m) == m;
		}
		if (!any)
			return false;
	}
	return true;
}
