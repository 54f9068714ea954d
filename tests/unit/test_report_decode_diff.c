/*
 * test_report_decode_diff.c - differential test of the native report
 * decoder (codec/report.h) against a reference built on protobuf-c: the
 * reference splits off the span fields as the former decoder did,
 * unpacks the rest with protobuf-c (so protobuf-c decides what is
 * malformed, how repeated fields merge and what wins) and computes the
 * expected model from the unpacked structs with the documented checks,
 * messages and Istio conventions. Both must agree on the verdict, the
 * message and every decoded value, for reports from a generator of
 * canonical and unusual encodings (unpacked and split histograms,
 * repeated messages and scalars, overlong varints, unknown fields, wrong
 * wire types, shuffled fields) and for byte-level mutations of them. The
 * PRNG is seeded, the number of cases fixed. test_merge_rules states the
 * merge behaviour directly.
 */
#include "test_report_decode_ref.h"

/* --- the generator --- */

static uint64_t rng;
static unsigned odd, bad; /* percentages: unusual encodings, invalid data */
static unsigned top_shuffle; /* percentage: top-level fields shuffled */
static int fault = -1; /* the field writer call that gets one anomaly */

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned rn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static bool pct(unsigned p)
{
	return rn(100) < p;
}

struct pw {
	uint8_t p[1 << 16];
	size_t n;
	size_t off[160]; /* field boundaries, for shuffling */
	unsigned nf;
};

static struct pw *pw_new(void)
{
	struct pw *w = calloc(1, sizeof(*w));
	assert_non_null(w);
	return w;
}

static void pw_raw(struct pw *w, const void *d, size_t n)
{
	assert_true(w->n + n <= sizeof(w->p));
	memcpy(w->p + w->n, d, n);
	w->n += n;
}

/* Ends a field: its bytes run from the previous boundary to here. */
static void pw_mark(struct pw *w)
{
	assert_true(w->nf < 160);
	w->off[w->nf++] = w->n;
}

/* v as a varint, sometimes overlong by up to `pad` bytes */
static void pw_varint(struct pw *w, uint64_t v, unsigned pad)
{
	uint8_t b[32];
	size_t n = put_varint_(b, v);
	if (pad && pct(odd)) {
		b[n - 1] |= 0x80;
		for (unsigned i = rn(pad); i > 0; i--)
			b[n++] = 0x80;
		b[n++] = 0;
	}
	pw_raw(w, b, n);
}

static void pw_key(struct pw *w, uint32_t f, unsigned wt)
{
	pw_varint(w, (uint64_t)f << 3 | wt, pct(bad) ? 8 : 3);
}

/* v as a varint of exactly `len` bytes (overlong; len >= its length) */
static void pw_varint_n(struct pw *w, uint64_t v, size_t len)
{
	uint8_t b[16];
	size_t n = put_varint_(b, v);
	for (b[n - 1] |= 0x80; n < len; n++)
		b[n] = 0x80;
	b[len - 1] &= 0x7f;
	pw_raw(w, b, len);
}

/* True once, at the `fault`-th field written. */
static bool fault_now(void)
{
	return fault >= 0 && fault-- == 0;
}

/* Writes the key of field f (wire type wt), or at the fault one anomaly:
 * a key of 5 (valid) or 6 bytes, or in place of the field a one-byte key
 * of field 0, a group, or field f with wire type `other`. False when the
 * caller must not write the value. */
static bool pw_fkey(struct pw *w, uint32_t f, unsigned wt, unsigned other)
{
	if (!fault_now()) {
		pw_key(w, f, wt);
		return true;
	}
	switch (rn(4)) {
	case 0:
		pw_varint_n(w, (uint64_t)f << 3 | wt, 5 + rn(2));
		return true;
	case 1:
		pw_raw(w, "\x00\x00", 2);
		break;
	case 2:
		pw_raw(w, "\x0b\x0c", 2);
		break;
	default:
		pw_key(w, f, other);
		if (other == 2)
			pw_raw(w, "\x01\x01", 2);
		else if (other == 0)
			pw_raw(w, "\x01", 1);
		else
			pw_raw(w, "\x01\x02\x03\x04\x05\x06\x07\x08", other == 1 ? 8 : 4);
		break;
	}
	pw_mark(w);
	return false;
}

static void pw_len(struct pw *w, uint32_t f, const void *d, size_t n)
{
	if (!pw_fkey(w, f, 2, rn(2)))
		return;
	if (fault_now()) /* a length prefix of 5 (valid) or 6 bytes */
		pw_varint_n(w, n, 5 + rn(2));
	else
		pw_varint(w, n, pct(bad) ? 7 : 3);
	pw_raw(w, d, n);
	pw_mark(w);
}

static void pw_f64(struct pw *w, uint32_t f, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	unsigned wt = pct(bad) ? 5 : 1;
	if (!pw_fkey(w, f, wt, 0))
		return;
	pw_raw(w, b, wt == 1 ? 8 : 4);
	pw_mark(w);
}

static void pw_dbl(struct pw *w, uint32_t f, double d)
{
	uint64_t u;
	memcpy(&u, &d, 8);
	pw_f64(w, f, u);
}

/* A varint field; with `bad`, sometimes of another wire type. */
static void pw_u(struct pw *w, uint32_t f, uint64_t v)
{
	static const uint8_t junk[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	if (pct(bad)) {
		unsigned wt = 1 + rn(2) * 4; /* 1 or 5 */
		pw_key(w, f, wt);
		pw_raw(w, junk, wt == 1 ? 8 : 4);
		pw_mark(w);
		return;
	}
	if (!pw_fkey(w, f, 0, (unsigned[]){ 1, 2, 5 }[rn(3)]))
		return;
	if (fault_now()) /* a varint of 10 (valid) or 11 bytes */
		pw_varint_n(w, v, 10 + rn(2));
	else
		pw_varint(w, v, pct(bad) ? 10 : 4);
	pw_mark(w);
}

static void pw_unknown(struct pw *w)
{
	static const uint32_t nums[] = { 13, 20, 99, 1u << 20, 0x1fffffff };
	uint32_t f = pct(bad * 5) ? 0 : nums[rn(5)];
	unsigned wt = pct(bad * 5) ? 3 + rn(2) * 3 : (unsigned[]){ 0, 1, 2, 5 }[rn(4)];
	if (wt == 2) {
		pw_len(w, f, "\x08\x01\xff", rn(4));
		return;
	}
	pw_key(w, f, wt);
	pw_raw(w, "\x81\x80\x01\x00\x00\x00\x00\x00", wt == 1 ? 8 : wt == 5 ? 4 : 3);
	pw_mark(w);
}

/* Appends the fields of `m` (shuffled sometimes) to w as field `f`, and
 * frees m. */
static void pw_sub(struct pw *w, uint32_t f, struct pw *m)
{
	struct pw *t = pw_new();
	unsigned idx[160];
	for (unsigned i = 0; i < m->nf; i++)
		idx[i] = i;
	if (pct(f ? odd / 2 : top_shuffle))
		for (unsigned i = m->nf; i > 1; i--) {
			unsigned j = rn(i), x = idx[i - 1];
			idx[i - 1] = idx[j];
			idx[j] = x;
		}
	for (unsigned i = 0; i < m->nf; i++) {
		size_t from = idx[i] ? m->off[idx[i] - 1] : 0;
		pw_raw(t, m->p + from, m->off[idx[i]] - from);
	}
	if (f)
		pw_len(w, f, t->p, t->n);
	else
		pw_raw(w, t->p, t->n);
	free(t);
	free(m);
}

static uint64_t g_idx(unsigned ns)
{
	uint64_t i = rn(ns);
	if (pct(bad))
		i = ns + rn(3);
	if (pct(odd / 3))
		i |= (uint64_t)(1 + rn(3)) << 32; /* only the low 32 bits count */
	return i;
}

static void g_workload(struct pw *w, uint32_t f, unsigned ns)
{
	struct pw *m = pw_new();
	for (uint32_t i = 1; i <= 8; i++)
		if (pct(75))
			pw_u(m, i, g_idx(ns));
	if (pct(odd))
		pw_u(m, 1 + rn(8), g_idx(ns));
	if (pct(odd))
		pw_unknown(m);
	pw_sub(w, f, m);
}

static void g_series(struct pw *w, unsigned ns)
{
	static const uint64_t roles[] = { 0, 3, 7, UINT64_MAX, (1ull << 32) + 1,
					  0x80000000u };
	static const uint32_t codes[] = { 0, 200, 404, 503, UINT32_MAX };
	struct pw *m = pw_new();
	uint64_t role = pct(odd) ? 0 : 1 + rn(2);
	if (pct(bad * 3))
		role = roles[rn(6)];
	if (role || pct(50))
		pw_u(m, 1, role);
	for (int k = pct(odd) ? 2 : pct(85); k > 0; k--)
		g_workload(m, 2, ns);
	for (uint32_t i = 3; i <= 10; i++)
		if (pct(80))
			pw_u(m, i, i == 7 ? codes[rn(5)] : g_idx(ns));
	if (!role || pct(10)) {
		unsigned wt = pct(odd) ? (unsigned[]){ 1, 2, 5 }[rn(3)] : 0;
		static const uint8_t b8[8] = { 0, 0, 0, 0, 0, 0, 0, 0x80 };
		static const uint8_t one[8] = { 1 };
		if (wt == 2)
			pw_len(m, 11, "\x01", rn(2));
		else {
			pw_key(m, 11, wt);
			if (wt == 0)
				pw_varint(m, pct(90), 9);
			else
				pw_raw(m, pct(50) ? b8 : one, wt == 1 ? 8 : 4);
			pw_mark(m);
		}
	}
	if (pct(odd))
		pw_unknown(m);
	pw_sub(w, 1, m);
}

/* Histogram fields fb (buckets) and fs (sum) for `count` requests. */
static void g_hist(struct pw *w, uint32_t fb, uint32_t fs, uint64_t count)
{
	uint64_t v[21] = { 0 };
	unsigned n = count == 0 && pct(30) ? 0 : 20;
	if (pct(bad * 3))
		n = (unsigned[]){ 0, 19, 21 }[rn(3)];
	for (uint64_t k = 0; n && k < count; k++)
		v[rn(n)]++;
	if (n && pct(bad * 2))
		v[rn(n)] += pct(50) ? 1 : UINT64_MAX;
	unsigned mode = pct(odd) ? 1 + rn(3) : 0, i = 0;
	while (i < n || (mode == 3 && pct(30))) {
		if (mode == 1 || (mode == 3 && pct(40))) { /* unpacked */
			if (i < n)
				pw_u(w, fb, v[i++]);
			continue;
		}
		unsigned k = mode == 0 ? n - i : rn(n - i + 1);
		uint8_t b[21 * 10];
		size_t len = 0;
		for (unsigned j = 0; j < k; j++)
			len += put_varint_(b + len, v[i + j]);
		i += k;
		pw_len(w, fb, b, len);
	}
	double sum = (double)count * rn(4000) / 8.0;
	if (pct(bad * 2))
		sum = (double[]){ -1, NAN, INFINITY, -0.0 }[rn(4)];
	if (sum != 0 || pct(50))
		pw_dbl(w, fs, sum);
}

static void g_request(struct pw *w, unsigned ns)
{
	struct pw *m = pw_new();
	for (int k = pct(bad * 3) ? 0 : pct(odd) ? 2 : 1; k > 0; k--)
		g_series(m, ns);
	uint64_t count = rn(40);
	if (pct(odd))
		pw_u(m, 2, count + 1); /* the last one wins */
	pw_u(m, 2, count);
	g_hist(m, 3, 4, count);
	g_hist(m, 5, 6, count);
	g_hist(m, 7, 8, count);
	if (pct(40)) {
		uint8_t id[16];
		for (int i = 0; i < 16; i++)
			id[i] = pct(10) ? 0 : (uint8_t)rnd();
		if (pct(odd))
			pw_len(m, 9, id, 16 * rn(2));
		pw_len(m, 9, id, pct(bad * 3) ? 15 : 16);
		if (pct(70))
			pw_len(m, 10, id + 8, pct(bad * 3) ? 4 : 8);
		pw_dbl(m, 11, pct(bad * 3) ? NAN : rn(100000) / 4.0);
		pw_f64(m, 12, rnd());
	}
	if (pct(odd))
		pw_unknown(m);
	pw_sub(w, 7, m);
}

static void g_tcp(struct pw *w, unsigned ns)
{
	struct pw *m = pw_new();
	for (int k = pct(bad * 3) ? 0 : pct(odd) ? 2 : 1; k > 0; k--)
		g_series(m, ns);
	for (uint32_t f = 2; f <= 5; f++)
		if (pct(80))
			pw_u(m, f, pct(20) ? rnd() : rn(1000));
	if (pct(odd))
		pw_unknown(m);
	pw_sub(w, 8, m);
}

static void g_span(struct pw *w)
{
	pb_span s;
	uint8_t id[16], buf[256];
	opentelemetry__proto__trace__v1__span__init(&s);
	for (int i = 0; i < 16; i++)
		id[i] = (uint8_t)(1 + rn(255));
	s.trace_id = (ProtobufCBinaryData){ pct(10) ? 3 : 16, id };
	s.span_id = (ProtobufCBinaryData){ 8, id + 8 };
	s.name = (char *)(uintptr_t)"op";
	s.kind = 2;
	s.start_time_unix_nano = 1;
	s.end_time_unix_nano = 2;
	size_t n = opentelemetry__proto__trace__v1__span__pack(&s, buf);
	pw_len(w, 9, buf, n);
}

#define S(x) { x, sizeof(x) - 1 }
static const struct { const char *s; size_t n; } pool[] = {
	S(""), S("a"), S("productpage-v1"), S("reviews"), S("default"),
	S("ratings.default.svc.cluster.local"), S("x.y"), S(".lead"), S("http"),
	S("grpc"), S("-"), S("mutual_tls"), S("v1"), S("\xc3\xbcn\xc3\xaf \xe2\x9c\x93"),
	S("spiffe://cluster.local/ns/default/sa/productpage"),
	S("a\0b"), S("\0"), /* odd: NUL ends a string */
	S("\xc3\x28"), S("\xed\xa0\x80"), S("\xf4\x90\x80\x80"), S("\xc0\xaf"),
	S("cut \xe2\x82"), /* bad: not UTF-8 */
};

/* A report at the current odd/bad levels into w; may lower lim's cap. */
static void g_report(struct pw *w, struct mx_decode_limits *lim)
{
	struct pw *m = pw_new();
	unsigned ns = 1 + rn(10);
	if (pct(20 + bad * 4))
		lim->max_value_bytes = 24;
	uint8_t iid[16];
	for (int i = 0; i < 16; i++)
		iid[i] = (uint8_t)rnd();
	for (int k = pct(odd) ? 2 : 1; k > 0; k--)
		pw_len(m, 1, iid, pct(bad * 3) ? 15 : 16);
	pw_u(m, 2, pct(bad * 3) ? 0 : pct(odd) ? 1ull << 62 : 1 + rn(1000));
	pw_f64(m, 3, rnd());
	pw_f64(m, 4, rnd());
	for (unsigned i = 0; i < ns; i++) {
		unsigned k = i == 0 ? 0 : 1 + rn(15);
		if (pct(odd / 2))
			k = 15 + rn(2);
		if (pct(bad) || (i == 0 && pct(bad * 2)))
			k = 1 + rn(21);
		pw_len(m, 5, pool[k].s, pool[k].n);
	}
	for (int k = pct(odd) ? 2 : pct(80); k > 0; k--)
		g_workload(m, 6, ns);
	for (unsigned k = rn(5); k > 0; k--)
		g_request(m, ns);
	for (unsigned k = rn(3); k > 0; k--)
		g_tcp(m, ns);
	for (unsigned k = pct(15) ? 1 + rn(2) : 0; k > 0; k--)
		g_span(m);
	pw_u(m, 10, rn(5));
	pw_u(m, 11, rn(5));
	if (pct(80)) {
		unsigned k = pct(bad * 3) ? 0 : pct(odd) ? 1 : 2;
		pw_len(m, 12, (const char *[]){ "\xff", "1\0x", "0.1.0" }[k],
		       (size_t[]){ 1, 3, 5 }[k]);
	}
	if (pct(odd))
		pw_unknown(m);
	pw_sub(w, 0, m);
}

/* 1-3 random edits of p[0..*n) (room for `cap` bytes). */
static void mutate(uint8_t *p, size_t *n, size_t cap)
{
	static const uint8_t odd_bytes[] = { 0x00, 0x01, 0x08, 0x0a, 0x12, 0x7f,
					     0x80, 0xff };
	for (unsigned k = 1 + rn(3); k > 0 && *n > 0; k--) {
		size_t at = rn((unsigned)*n), len;
		switch (rn(7)) {
		case 0:
			p[at] ^= (uint8_t)(1u << rn(8));
			break;
		case 1:
			p[at] = odd_bytes[rn(8)];
			break;
		case 2:
			if (*n < cap) {
				memmove(p + at + 1, p + at, *n - at);
				p[at] = (uint8_t)rnd();
				(*n)++;
			}
			break;
		case 3:
			memmove(p + at, p + at + 1, *n - at - 1);
			(*n)--;
			break;
		case 4:
			*n = at;
			break;
		case 5: /* a copy of a range inserted elsewhere */
			len = 1 + rn(32);
			if (len > *n - at)
				len = *n - at;
			if (*n + len <= cap) {
				size_t to = rn((unsigned)*n + 1);
				uint8_t tmp[32];
				memcpy(tmp, p + at, len);
				memmove(p + to + len, p + to, *n - to);
				memcpy(p + to, tmp, len);
				*n += len;
			}
			break;
		default: /* a range copied over another */
			len = 1 + rn(16);
			if (len > *n - at)
				len = *n - at;
			memmove(p + rn((unsigned)(*n - len + 1)), p + at, len);
		}
	}
}

/* Seeds the generator for case `seed` at level 0 (canonical), 1 (unusual
 * encodings), 2 (also invalid data) or 3 (canonical but for one wire
 * anomaly somewhere). */
static void gen_seed(uint64_t seed, unsigned level)
{
	rng = seed * 0x9e3779b97f4a7c15ull | 1;
	odd = level == 1 || level == 2 ? 15 : 0;
	bad = level == 2 ? 4 : 0;
	top_shuffle = level == 2 ? 40 : odd / 2;
	fault = level == 3 ? (int)rn(120) : -1;
}

static void test_diff_generated(void **state)
{
	(void)state;
	char what[64];
	n_ok = n_bad = 0;
	for (unsigned seed = 1; seed <= 4000; seed++) {
		struct pw *w = pw_new();
		struct mx_decode_limits lim = rt_lim;
		gen_seed(seed, seed % 4);
		g_report(w, &lim);
		snprintf(what, sizeof(what), "generated seed %u", seed);
		cmp_what = what;
		diff_one(w->p, w->n, &lim);
		free(w);
	}
	print_message("generated: %u decoded, %u refused alike\n", n_ok, n_bad);
	assert_true(n_ok > 1000 && n_bad > 1000);
}

static void test_diff_mutated(void **state)
{
	(void)state;
	char what[64];
	uint8_t *q = malloc(1 << 17);
	assert_non_null(q);
	n_ok = n_bad = 0;
	for (unsigned seed = 1; seed <= 600; seed++) {
		struct pw *w = pw_new();
		struct mx_decode_limits lim = rt_lim;
		gen_seed(seed + 100000, seed % 2);
		g_report(w, &lim);
		for (unsigned k = 0; k < 24; k++) {
			size_t n = w->n;
			memcpy(q, w->p, n);
			mutate(q, &n, 1 << 17);
			snprintf(what, sizeof(what), "seed %u mutation %u", seed, k);
			cmp_what = what;
			diff_one(q, n, &lim);
		}
		free(w);
	}
	/* the reference report of the other tests (spans included) */
	struct rt_builder b;
	rt_build(&b);
	size_t len;
	uint8_t *p = rt_pack(&b, &len);
	gen_seed(7, 0);
	for (unsigned k = 0; k < 3000; k++) {
		size_t n = len;
		memcpy(q, p, n);
		mutate(q, &n, 1 << 17);
		snprintf(what, sizeof(what), "rt_build mutation %u", k);
		cmp_what = what;
		diff_one(q, n, &rt_lim);
	}
	print_message("mutated: %u decoded, %u refused alike\n", n_ok, n_bad);
	assert_true(n_ok > 500 && n_bad > 500);
	free(p);
	free(q);
}

/* Repeated singular messages merge as protobuf-c merges them, repeated
 * scalars and bytes keep the last value, histograms concatenate packed
 * and unpacked runs, and uint32/enum values keep their low 32 bits. */
static void test_merge_rules(void **state)
{
	(void)state;
	struct rt_builder b;
	rt_build(&b);
	b.r.n_requests = b.r.n_tcp = b.r.n_spans = 0;
	b.r.reporter = NULL;
	uint32_t rat = rt_sidx(&b, "ratings-v1"), app = rt_sidx(&b, "ratings");
	uint32_t host = rt_sidx(&b, "server.default.svc.cluster.local");
	uint32_t http = rt_sidx(&b, "http"), grpc = rt_sidx(&b, "grpc");
	uint32_t ns = rt_sidx(&b, "default"), cl = rt_sidx(&b, "client-cluster");
	size_t n;
	uint8_t *base = rt_pack(&b, &n);
	struct pw *w = pw_new(), *m = pw_new(), *s = pw_new(), *p = pw_new();
	gen_seed(1, 0);
	pw_raw(w, base, n);
	/* reporter twice: only the second counts */
	pw_u(p, 1, rat);
	pw_u(p, 3, app);
	pw_sub(w, 6, p);
	p = pw_new();
	pw_u(p, 7, cl);
	pw_sub(w, 6, p);
	/* series 1: destination side, peer ratings, host, http */
	pw_u(s, 1, 2);
	p = pw_new();
	pw_u(p, 1, rat);
	pw_u(p, 3, app);
	pw_sub(s, 2, p);
	pw_u(s, 3, host);
	pw_u(s, 6, http);
	pw_sub(m, 1, s);
	pw_u(m, 2, 9);
	/* series 2: role 2^32 + 1 (source), grpc, no peer */
	s = pw_new();
	pw_u(s, 1, (1ull << 32) + 1);
	pw_u(s, 6, grpc);
	pw_sub(m, 1, s);
	pw_u(m, 2, 3); /* count: the last wins */
	pw_len(m, 3, "\x01\x01\x00\x00\x00", 5); /* duration: 5 packed, */
	for (int i = 0; i < 14; i++)               /* 14 unpacked, */
		pw_u(m, 3, i == 9);
	pw_len(m, 3, "\x00", 1);                   /* 1 packed */
	for (int i = 0; i < 20; i++)
		pw_u(m, 5, i == 2 ? 3 : 0);
	pw_len(m, 7, "\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00", 10);
	pw_len(m, 7, "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 10);
	pw_len(m, 9, "0123456789abcdef", 16);
	pw_len(m, 9, "", 0); /* no exemplar after all */
	pw_sub(w, 7, m);
	/* a TCP series whose second peer replaces the first entirely */
	m = pw_new();
	s = pw_new();
	pw_u(s, 1, 1);
	p = pw_new();
	pw_u(p, 1, rat);
	pw_sub(s, 2, p);
	p = pw_new();
	pw_u(p, 2, ns);
	pw_sub(s, 2, p);
	pw_sub(m, 1, s);
	pw_sub(w, 8, m);

	struct mx_batch *bt;
	struct mx_report *r;
	struct mx_errmsg err;
	assert_int_equal(rt_decode(w->p, w->n, &bt, &r, &err), MX_OK);
	rt_assert_str(r->reporter.workload, "unknown");
	rt_assert_str(r->reporter.app, "unknown");
	rt_assert_str(r->reporter.cluster, "client-cluster");
	assert_int_equal(r->n_requests, 1);
	const struct mx_request_agg *a = &r->requests[0];
	assert_int_equal(a->labels.role, MX_ROLE_SOURCE);
	rt_assert_str(a->labels.peer.workload, "ratings-v1"); /* kept */
	rt_assert_str(a->labels.peer.app, "ratings");
	rt_assert_str(a->labels.destination_service, "unknown"); /* reset */
	rt_assert_str(a->labels.request_protocol, "grpc");
	rt_assert_str(a->labels.response_code, "0");
	assert_int_equal(a->count, 3);
	assert_int_equal(a->duration.nz, 1u << 0 | 1u << 1 | 1u << 14);
	assert_int_equal(mx_hist_bucket(&a->duration, 0), 1);
	assert_int_equal(mx_hist_bucket(&a->duration, 1), 1);
	assert_int_equal(mx_hist_bucket(&a->duration, 14), 1);
	assert_int_equal(a->request_bytes.nz, 1u << 2);
	assert_int_equal(mx_hist_bucket(&a->request_bytes, 2), 3);
	assert_int_equal(a->response_bytes.nz, 1u << 0);
	assert_int_equal(mx_hist_bucket(&a->response_bytes, 0), 3);
	assert_false(a->has_exemplar);
	assert_int_equal(r->n_tcp, 1);
	rt_assert_str(r->tcp[0].labels.peer.workload, "unknown");
	rt_assert_str(r->tcp[0].labels.peer.workload_namespace, "default");
	mx_batch_free(bt);
	cmp_what = "merge rules";
	diff_one(w->p, w->n, &rt_lim);
	free(w);
	free(base);
}

/* Expects `p` to fail with a message starting with `msg` (and the
 * reference to agree). */
static void expect_msg(const struct pw *p, const char *msg)
{
	struct mx_batch *bt;
	struct mx_report *r;
	struct mx_errmsg err;
	int rc = rt_decode(p->p, p->n, &bt, &r, &err);
	if (rc != MX_EINVAL || strncmp(err.text, msg, strlen(msg)) != 0) {
		print_error("rc %d \"%s\", want \"%s\"\n", rc, err.text, msg);
		fail();
	}
	mx_batch_free(bt);
	cmp_what = msg;
	diff_one(p->p, p->n, &rt_lim);
}

/* The first error by phase, whatever the field order: malformed data
 * anywhere, then the header, then request deltas, then TCP deltas. */
static void test_error_order(void **state)
{
	(void)state;
	struct rt_builder b;
	rt_build(&b);
	b.r.n_requests = b.r.n_tcp = 0;
	size_t n;
	uint8_t *base = rt_pack(&b, &n);
	gen_seed(2, 0);
	struct pw *bad_tcp = pw_new(), *bad_req = pw_new(), *bad_wire = pw_new();
	struct pw *s = pw_new(), *m = pw_new();
	pw_u(s, 1, 1);
	pw_u(s, 4, 1000); /* string index out of range */
	pw_sub(m, 1, s);
	pw_sub(bad_tcp, 8, m);
	m = pw_new();
	s = pw_new();
	pw_u(s, 1, 2);
	pw_sub(m, 1, s);
	pw_u(m, 2, 1); /* a count without buckets */
	pw_sub(bad_req, 7, m);
	m = pw_new();
	pw_raw(m, "\x10\x80", 2); /* count: a cut varint */
	pw_mark(m);
	pw_sub(bad_wire, 7, m);
	const char *req_msg = "report: duration buckets sum to 0, the request "
			      "count is 1";
	char tcp_msg[128];
	snprintf(tcp_msg, sizeof(tcp_msg), "report: service name: string index "
		 "1000 out of range (%zu strings)", b.r.n_strings);
	struct pw *w = pw_new();
	pw_raw(w, bad_tcp->p, bad_tcp->n); /* TCP first, still second */
	pw_raw(w, base, n);
	pw_raw(w, bad_req->p, bad_req->n);
	expect_msg(w, req_msg);
	w->n = 0;
	pw_raw(w, base, n);
	pw_raw(w, bad_tcp->p, bad_tcp->n);
	expect_msg(w, tcp_msg);
	pw_raw(w, bad_req->p, bad_req->n);
	pw_raw(w, bad_wire->p, bad_wire->n); /* malformed wins */
	expect_msg(w, "protobuf: not a valid mixd Report");
	w->n = 0;
	pw_raw(w, bad_req->p, bad_req->n);
	pw_raw(w, base, n);
	pw_raw(w, "\x10\x00", 2); /* sequence 0, after the deltas */
	expect_msg(w, "report: sequence must be 1 or more");
	pw_raw(w, "\x1a\x05", 2); /* a cut field after that */
	expect_msg(w, "report: field 3 at offset " /* wins over all */);
	free(w);
	free(bad_tcp);
	free(bad_req);
	free(bad_wire);
	free(base);
}

/* More than MX_HIST_BUCKETS values, unpacked then packed: counted, never
 * stored past the histogram (ASan sees an overrun of the stack copy the
 * decoder reads into once the header failed, and of the arena chunk). */
static void test_bucket_overrun(void **state)
{
	(void)state;
	struct rt_builder b;
	rt_build(&b);
	b.r.n_requests = b.r.n_tcp = b.r.n_spans = 0;
	size_t n;
	uint8_t *base = rt_pack(&b, &n);
	static uint8_t ones[30000];
	memset(ones, 1, sizeof(ones));
	gen_seed(3, 0);
	for (int header_ok = 0; header_ok < 2; header_ok++) {
		struct pw *w = pw_new(), *m = pw_new(), *s = pw_new();
		pw_raw(w, base, n);
		if (!header_ok)
			pw_raw(w, "\x10\x00", 2); /* sequence 0 */
		pw_u(s, 1, 1);
		pw_sub(m, 1, s);
		pw_u(m, 2, 1);
		for (int i = 0; i < 21; i++)
			pw_u(m, 3, 0);
		pw_len(m, 3, ones, sizeof(ones));
		pw_len(m, 3, ones, sizeof(ones));
		pw_sub(w, 7, m);
		expect_msg(w, header_ok ? "report: duration has 60021 buckets, want "
			   "0 or 20" : "report: sequence must be 1 or more");
		free(w);
	}
	free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_rules),
		cmocka_unit_test(test_error_order),
		cmocka_unit_test(test_bucket_overrun),
		cmocka_unit_test(test_diff_generated),
		cmocka_unit_test(test_diff_mutated),
	};
	return cmocka_run_group_tests(tests, rt_setup, NULL);
}
