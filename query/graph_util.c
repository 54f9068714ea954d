/*
 * graph_util.c - the plumbing of one graph request (graph_int.h): its
 * arena, the interned string table, the byte-keyed map, SHA-256 ids
 * (OpenSSL libcrypto) and Prometheus' round().
 */
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "../model/error.h"
#include "../storage/span_record.h"
#include "graph_int.h"

#define MAP_SEED 0x6772617068ull /* "graph" */
#define G_TMP_MAX (64u * 1024 * 1024)

static const char *const fixed[S_N_FIXED] = {
	[S_EMPTY] = "",
	[S_UNKNOWN] = "unknown",
	[S_LATEST] = "latest",
	[S_SOURCE] = "source",
	[S_DEST] = "destination",
	[S_HTTP] = "http",
	[S_GRPC] = "grpc",
	[S_TCP] = "tcp",
	[S_DASH] = "-",
	[S_ZERO] = "0",
	[S_PASSTHROUGH] = "PassthroughCluster",
	[S_BLACKHOLE] = "BlackHoleCluster",
	[S_MTLS] = "mutual_tls",
	[S_EGRESS_HOST] = "istio-egressgateway.istio-system.svc.cluster.local",
	[S_EGRESS] = "istio-egressgateway",
	[S_ISTIO_NS] = "istio-system",
};

int g_init(struct graph *g, const struct g_opts *o, size_t cap)
{
	memset(g, 0, sizeof(*g));
	mx_arena_init(&g->arena, cap);
	mx_buf_init(&g->tmp, G_TMP_MAX);
	g->o = o;
	for (uint32_t i = 0; i < S_N_FIXED; i++)
		if (g_intern(g, fixed[i], strlen(fixed[i])) != i || g->err)
			return g->err ? g->err : MX_ENOMEM;
	for (uint32_t i = 0; i < o->n_ns; i++)
		g->ns_ids[i] = g_intern_str(g, o->ns[i]);
	return g->err;
}

void g_free(struct graph *g)
{
	if (!g)
		return;
	mx_arena_free(&g->arena);
	mx_buf_free(&g->tmp);
}

void *g_alloc(struct graph *g, size_t n)
{
	void *p = mx_arena_calloc(&g->arena, 1, n ? n : 1);
	if (!p && !g->err)
		g->err = MX_ENOMEM;
	return p;
}

bool g_grow(struct graph *g, void **arr, uint32_t n, uint32_t *cap,
	    size_t size)
{
	if (n < *cap)
		return true;
	uint32_t ncap = *cap ? *cap * 2 : 4;
	if (ncap <= *cap) {
		g->err = MX_ENOMEM;
		return false;
	}
	void *p = g_alloc(g, (size_t)ncap * size);
	if (!p)
		return false;
	if (n)
		memcpy(p, *arr, (size_t)n * size);
	*arr = p;
	*cap = ncap;
	return true;
}

/* ------------------------------------------------------------ map */

static bool map_rehash(struct graph *g, struct g_map *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 64;
	struct g_slot *ns = g_alloc(g, ncap * sizeof(*ns));
	if (!ns)
		return false;
	for (size_t i = 0; i < m->cap; i++) {
		struct g_slot *s = &m->slots[i];
		if (!s->key)
			continue;
		size_t j = s->h & (ncap - 1);
		while (ns[j].key)
			j = (j + 1) & (ncap - 1);
		ns[j] = *s;
	}
	m->slots = ns;
	m->cap = ncap;
	return true;
}

static struct g_slot *map_find(const struct g_map *m, uint64_t h,
			       const void *key, uint32_t klen)
{
	if (!m->cap)
		return NULL;
	for (size_t j = h & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
		struct g_slot *s = &m->slots[j];
		if (!s->key)
			return s;
		if (s->h == h && s->klen == klen && memcmp(s->key, key, klen) == 0)
			return s;
	}
}

void *g_map_get(const struct g_map *m, const void *key, uint32_t klen)
{
	uint64_t h = mx_hash64(key, klen, MAP_SEED);
	struct g_slot *s = map_find(m, h, key, klen);
	return s && s->key ? s->val : NULL;
}

bool g_map_put(struct graph *g, struct g_map *m, const void *key,
	       uint32_t klen, void *val)
{
	uint64_t h = mx_hash64(key, klen, MAP_SEED);
	if ((m->n + 1) * 2 > m->cap && !map_rehash(g, m))
		return false;
	struct g_slot *s = map_find(m, h, key, klen);
	if (s->key) {
		s->val = val;
		return true;
	}
	uint8_t *k = g_alloc(g, klen);
	if (!k)
		return false;
	memcpy(k, key, klen);
	*s = (struct g_slot){ .h = h, .key = k, .klen = klen, .val = val };
	m->n++;
	return true;
}

/* ------------------------------------------------------------ strings */

uint32_t g_intern(struct graph *g, const char *p, size_t n)
{
	if (g->err)
		return 0;
	if (n > UINT32_MAX / 2) {
		g->err = MX_ENOMEM;
		return 0;
	}
	if (!p)
		p = "";
	void *v = g_map_get(&g->str_map, p, (uint32_t)n);
	if (v)
		return (uint32_t)(uintptr_t)v - 1;
	if (!g_grow(g, (void **)&g->strs, g->n_strs, &g->cap_strs,
		    sizeof(*g->strs)))
		return 0;
	char *c = mx_arena_strndup(&g->arena, p, n);
	if (!c) {
		g->err = MX_ENOMEM;
		return 0;
	}
	uint32_t id = g->n_strs;
	if (!g_map_put(g, &g->str_map, c, (uint32_t)n, (void *)(uintptr_t)(id + 1)))
		return 0;
	g->strs[id] = (struct mx_str){ c, (uint32_t)n };
	g->n_strs++;
	return id;
}

/* ------------------------------------------------------------ numbers */

void g_sha256_hex(const void *p, size_t n, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1 || len != 32) {
		memset(out, '0', 64); /* cannot happen with libcrypto's sha256 */
		out[64] = '\0';
		return;
	}
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

double g_round3(double v)
{
	/* Prometheus: math.Floor(v*toNearestInverse+0.5) / toNearestInverse,
	 * toNearestInverse = 1.0 / 0.001 (which is 1000.0 exactly) */
	const double inv = 1.0 / 0.001;
	return floor(v * inv + 0.5) / inv;
}
