/*
 * tracecontext.c - extraction, injection and continuation of trace
 * contexts in the W3C traceparent/tracestate, B3 single, B3 multi and
 * Jaeger uber-trace-id formats (contracts in include/mixd/tracecontext.h;
 * wire rules from /work/shared/reference/wire-protocols.md section 2).
 *
 * Everything here works on caller-supplied memory and small stack buffers:
 * no allocation, no lock, no system call (ids come from idgen.c). Every
 * header value is length-checked before it is read; a malformed header is
 * ignored as if it were absent.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mixd/tracecontext.h"

#define TS_MAX_MEMBERS 32   /* W3C: at most 32 list members */
#define TS_KEY_MAX 256
#define TS_VALUE_MAX 256
#define TS_BIG_MEMBER 128   /* members dropped first when truncating */
#define UBER_MAX 128        /* longest URL-decoded uber-trace-id we read */

/* ---- small helpers ---- */

static int hex_digit(char c, bool lower_only)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (!lower_only && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Parses 1..2*outlen hex digits into out (big-endian), right-aligned and
 * zero-padded on the left. Returns false on a bad length or digit.
 */
static bool parse_hex(const char *s, size_t n, uint8_t *out, size_t outlen,
		      bool lower_only)
{
	if (n == 0 || n > 2 * outlen)
		return false;
	memset(out, 0, outlen);
	for (size_t i = 0; i < n; i++) {
		int d = hex_digit(s[n - 1 - i], lower_only);
		if (d < 0)
			return false;
		out[outlen - 1 - i / 2] |= (uint8_t)(i % 2 ? d << 4 : d);
	}
	return true;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static void trim_ows(const char **s, size_t *n)
{
	while (*n && is_ows(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_ows((*s)[*n - 1]))
		(*n)--;
}

static bool eq_lit(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	return n == l && memcmp(s, lit, l) == 0;
}

static bool eq_lit_nocase(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	if (n != l)
		return false;
	for (size_t i = 0; i < l; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lit[i])
			return false;
	}
	return true;
}

/* Fetches a header, trimmed; NULL if absent. *n is 0 for an empty value. */
static const char *hdr(mixd_header_get get, void *carrier, const char *name,
		       size_t *n)
{
	size_t len = 0;
	const char *v = get(carrier, name, &len);

	*n = 0;
	if (!v)
		return NULL;
	trim_ows(&v, &len);
	*n = len;
	return v;
}

/* A 16- or 32-digit B3 trace id. */
static bool parse_b3_trace(const char *s, size_t n, uint8_t out[16])
{
	if (n != 16 && n != 32)
		return false;
	return parse_hex(s, n, out, 16, false) && !all_zero(out, 16);
}

static bool parse_b3_span(const char *s, size_t n, uint8_t out[8])
{
	return n == 16 && parse_hex(s, n, out, 8, false) && !all_zero(out, 8);
}

static void finish_ids(struct mixd_trace_context *c)
{
	c->has_ids = true;
	c->trace_id_128 = !all_zero(c->trace_id, 8);
}

/* ---- W3C tracestate ---- */

struct ts_member {
	size_t off, len, keylen;
	bool dropped;
};

static bool ts_key_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return !first && (c == '_' || c == '-' || c == '*' || c == '/' ||
			  c == '@');
}

static bool ts_member_valid(const char *m, size_t n, size_t *keylen)
{
	const char *eq = memchr(m, '=', n);
	size_t kl, vl;

	if (!eq)
		return false;
	kl = (size_t)(eq - m);
	vl = n - kl - 1;
	if (kl == 0 || kl > TS_KEY_MAX || vl == 0 || vl > TS_VALUE_MAX)
		return false;
	for (size_t i = 0; i < kl; i++)
		if (!ts_key_char(m[i], i == 0))
			return false;
	for (size_t i = kl + 1; i < n; i++) {
		unsigned char c = (unsigned char)m[i];
		if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
			return false;
	}
	if (m[n - 1] == ' ')
		return false;
	*keylen = kl;
	return true;
}

/*
 * Validates a tracestate value and copies it, normalised and truncated by
 * whole members, into out. An invalid list leaves out empty.
 */
static void parse_tracestate(const char *v, size_t n,
			     struct mixd_trace_context *out)
{
	struct ts_member m[TS_MAX_MEMBERS];
	size_t count = 0, pos = 0, total = 0, live, w = 0;

	while (pos <= n) {
		const char *comma = memchr(v + pos, ',', n - pos);
		size_t end = comma ? (size_t)(comma - v) : n;
		const char *s = v + pos;
		size_t len = end - pos;

		trim_ows(&s, &len);
		if (len) {
			if (count == TS_MAX_MEMBERS ||
			    !ts_member_valid(s, len, &m[count].keylen))
				return;
			m[count].off = (size_t)(s - v);
			m[count].len = len;
			m[count].dropped = false;
			count++;
		}
		pos = end + 1;
	}
	for (size_t i = 0; i < count; i++)
		for (size_t j = i + 1; j < count; j++)
			if (m[i].keylen == m[j].keylen &&
			    memcmp(v + m[i].off, v + m[j].off,
				   m[i].keylen) == 0)
				return; /* duplicate key */

	for (size_t i = 0; i < count; i++)
		total += m[i].len + (i ? 1 : 0);
	live = count;
	/* over the cap: drop big members from the right, then any */
	for (int pass = 0; pass < 2 && total > MIXD_TC_TRACESTATE_MAX; pass++)
		for (size_t i = count; i-- > 0 &&
		     total > MIXD_TC_TRACESTATE_MAX;) {
			if (m[i].dropped ||
			    (pass == 0 && m[i].len <= TS_BIG_MEMBER))
				continue;
			m[i].dropped = true;
			live--;
			total = live ? total - m[i].len - 1 : 0;
		}
	for (size_t i = 0; i < count; i++) {
		if (m[i].dropped)
			continue;
		if (w)
			out->tracestate[w++] = ',';
		memcpy(out->tracestate + w, v + m[i].off, m[i].len);
		w += m[i].len;
	}
	out->tracestate[w] = '\0';
	out->tracestate_len = w;
}

/* ---- extraction, one function per format ---- */

static bool extract_w3c(mixd_header_get get, void *carrier,
			struct mixd_trace_context *out)
{
	size_t n, tsn;
	const char *v = hdr(get, carrier, "traceparent", &n);
	const char *ts;
	uint8_t version, flags;

	if (!v || n < 55)
		return false;
	if (!parse_hex(v, 2, &version, 1, true) || version == 0xff)
		return false;
	if (version == 0 && n != 55)
		return false;
	if (n > 55 && v[55] != '-')
		return false;
	if (v[2] != '-' || v[35] != '-' || v[52] != '-')
		return false;
	if (!parse_hex(v + 3, 32, out->trace_id, 16, true) ||
	    !parse_hex(v + 36, 16, out->span_id, 8, true) ||
	    !parse_hex(v + 53, 2, &flags, 1, true))
		return false;
	if (all_zero(out->trace_id, 16) || all_zero(out->span_id, 8))
		return false;
	finish_ids(out);
	out->sampled = (flags & 0x01) ? MIXD_SAMPLED_YES : MIXD_SAMPLED_NO;
	out->random_trace_id = (flags & 0x02) != 0;

	ts = hdr(get, carrier, "tracestate", &tsn);
	if (ts)
		parse_tracestate(ts, tsn, out);
	return true;
}

static bool b3_state(char c, struct mixd_trace_context *out)
{
	switch (c) {
	case '1':
		out->sampled = MIXD_SAMPLED_YES;
		return true;
	case '0':
		out->sampled = MIXD_SAMPLED_NO;
		return true;
	case 'd':
		out->sampled = MIXD_SAMPLED_YES;
		out->debug = true;
		return true;
	default:
		return false;
	}
}

static bool extract_b3_single(mixd_header_get get, void *carrier,
			      struct mixd_trace_context *out)
{
	size_t n, fl[4] = { 0, 0, 0, 0 }, nf = 0, start = 0;
	const char *v = hdr(get, carrier, "b3", &n);
	const char *f[4] = { NULL, NULL, NULL, NULL };

	if (!v || n == 0)
		return false;
	if (n == 1)
		return b3_state(v[0], out); /* sampling decision only */

	for (size_t i = 0; i <= n; i++) {
		if (i < n && v[i] != '-')
			continue;
		if (nf == 4)
			return false;
		f[nf] = v + start;
		fl[nf] = i - start;
		nf++;
		start = i + 1;
	}
	if (nf < 2)
		return false;
	if (!parse_b3_trace(f[0], fl[0], out->trace_id) ||
	    !parse_b3_span(f[1], fl[1], out->span_id))
		return false;
	if (nf >= 3 && (fl[2] != 1 || !b3_state(f[2][0], out)))
		return false;
	if (nf == 4 && (fl[3] != 16 ||
			!parse_hex(f[3], 16, out->parent_span_id, 8, false)))
		return false;
	finish_ids(out);
	return true;
}

static bool extract_b3_multi(mixd_header_get get, void *carrier,
			     struct mixd_trace_context *out)
{
	size_t tn, sn, pn, smn, fn;
	const char *pid;
	const char *tid = hdr(get, carrier, "x-b3-traceid", &tn);
	const char *sid = hdr(get, carrier, "x-b3-spanid", &sn);
	const char *smp = hdr(get, carrier, "x-b3-sampled", &smn);
	const char *flg = hdr(get, carrier, "x-b3-flags", &fn);
	bool decided = false;

	if (flg && eq_lit(flg, fn, "1")) {
		out->debug = true;
		out->sampled = MIXD_SAMPLED_YES;
		decided = true;
	} else if (smp && (eq_lit(smp, smn, "1") ||
			   eq_lit_nocase(smp, smn, "true"))) {
		out->sampled = MIXD_SAMPLED_YES;
		decided = true;
	} else if (smp && (eq_lit(smp, smn, "0") ||
			   eq_lit_nocase(smp, smn, "false"))) {
		out->sampled = MIXD_SAMPLED_NO;
		decided = true;
	}

	if (!tid && !sid)
		return decided; /* a sampling decision only, if any */
	if (!tid || !sid || !parse_b3_trace(tid, tn, out->trace_id) ||
	    !parse_b3_span(sid, sn, out->span_id))
		return false;
	pid = hdr(get, carrier, "x-b3-parentspanid", &pn);
	if (pid && (pn != 16 ||
		    !parse_hex(pid, 16, out->parent_span_id, 8, false)))
		return false;
	finish_ids(out);
	return true;
}

/* Percent-decodes v into buf (NUL-terminated). False on bad escape/size. */
static bool url_decode(const char *v, size_t n, char *buf, size_t cap,
		       size_t *outlen)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= n)
				return false;
			hi = hex_digit(v[i + 1], false);
			lo = hex_digit(v[i + 2], false);
			if (hi < 0 || lo < 0)
				return false;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (w + 1 >= cap)
			return false;
		buf[w++] = c;
	}
	buf[w] = '\0';
	*outlen = w;
	return true;
}

static bool parse_uber_flags(const char *s, size_t n, unsigned *flags)
{
	unsigned v = 0;
	bool dec = n >= 1 && n <= 3;

	for (size_t i = 0; dec && i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			dec = false;
		else
			v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (dec) {
		*flags = v;
		return v <= 0xff;
	}
	/* the Go client writes %x: take 1-2 hex digits when not decimal */
	uint8_t b;
	if (!parse_hex(s, n, &b, 1, false))
		return false;
	*flags = b;
	return true;
}

static bool extract_jaeger(mixd_header_get get, void *carrier,
			   struct mixd_trace_context *out)
{
	size_t n, dn, fl[4] = { 0, 0, 0, 0 }, nf = 0, start = 0;
	const char *v = hdr(get, carrier, "uber-trace-id", &n);
	const char *f[4] = { NULL, NULL, NULL, NULL };
	char buf[UBER_MAX + 1];
	unsigned flags;

	if (!v || n == 0 || !url_decode(v, n, buf, sizeof buf, &dn))
		return false;
	for (size_t i = 0; i <= dn; i++) {
		if (i < dn && buf[i] != ':')
			continue;
		if (nf == 4)
			return false;
		f[nf] = buf + start;
		fl[nf] = i - start;
		nf++;
		start = i + 1;
	}
	if (nf != 4)
		return false;
	if (!parse_hex(f[0], fl[0], out->trace_id, 16, false) ||
	    all_zero(out->trace_id, 16) ||
	    !parse_hex(f[1], fl[1], out->span_id, 8, false) ||
	    all_zero(out->span_id, 8) ||
	    !parse_hex(f[2], fl[2], out->parent_span_id, 8, false) ||
	    !parse_uber_flags(f[3], fl[3], &flags))
		return false;
	out->debug = (flags & 0x02) != 0;
	out->sampled = (flags & 0x03) ? MIXD_SAMPLED_YES : MIXD_SAMPLED_NO;
	finish_ids(out);
	return true;
}

MIXD_API int mixd_tc_extract(mixd_header_get get, void *carrier,
				unsigned formats,
				struct mixd_trace_context *out)
{
	static const struct {
		unsigned bit;
		bool (*fn)(mixd_header_get, void *,
			   struct mixd_trace_context *);
	} order[] = {
		{ MIXD_TC_W3C, extract_w3c },
		{ MIXD_TC_B3_SINGLE, extract_b3_single },
		{ MIXD_TC_B3_MULTI, extract_b3_multi },
		{ MIXD_TC_JAEGER, extract_jaeger },
	};

	if (!out)
		return MIXD_EINVAL;
	memset(out, 0, sizeof *out);
	if (!get)
		return MIXD_EINVAL;
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		if (!(formats & order[i].bit))
			continue;
		if (order[i].fn(get, carrier, out))
			return (int)order[i].bit;
		memset(out, 0, sizeof *out); /* drop a partial parse */
	}
	return MIXD_TC_NONE;
}

/* ---- injection ---- */

static char *put_hex(char *p, const uint8_t *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		*p++ = digits[b[i] >> 4];
		*p++ = digits[b[i] & 0x0f];
	}
	*p = '\0';
	return p;
}

/* The trace id in 16 or 32 hex digits, as B3 and Jaeger want it. */
static char *put_trace_var(char *p, const struct mixd_trace_context *c)
{
	if (c->trace_id_128 || !all_zero(c->trace_id, 8))
		return put_hex(p, c->trace_id, 16);
	return put_hex(p, c->trace_id + 8, 8);
}

static int emit(mixd_header_set set, void *carrier, const char *name,
		const char *value)
{
	return set(carrier, name, value, strlen(value));
}

static char state_char(const struct mixd_trace_context *c)
{
	if (c->debug)
		return 'd';
	if (c->sampled > 0)
		return '1';
	if (c->sampled < 0)
		return '0';
	return 0;
}

static int inject_w3c(const struct mixd_trace_context *c, mixd_header_set set,
		      void *carrier)
{
	char buf[64], *p = buf;
	char ts[MIXD_TC_TRACESTATE_MAX + 1];
	unsigned flags = (mixd_tc_is_sampled(c) ? 0x01u : 0u) |
			 (c->random_trace_id ? 0x02u : 0u);
	uint8_t fb = (uint8_t)flags;
	int rc;

	if (!c->has_ids)
		return 0;
	memcpy(p, "00-", 3);
	p = put_hex(p + 3, c->trace_id, 16);
	*p++ = '-';
	p = put_hex(p, c->span_id, 8);
	*p++ = '-';
	put_hex(p, &fb, 1);
	rc = emit(set, carrier, "traceparent", buf);
	if (rc || c->tracestate_len == 0)
		return rc;
	memcpy(ts, c->tracestate, c->tracestate_len);
	ts[c->tracestate_len] = '\0';
	return set(carrier, "tracestate", ts, c->tracestate_len);
}

static int inject_b3_single(const struct mixd_trace_context *c,
			    mixd_header_set set, void *carrier)
{
	char buf[80], *p = buf;
	char st = state_char(c);

	if (!c->has_ids) {
		if (!st)
			return 0;
		buf[0] = st;
		buf[1] = '\0';
		return emit(set, carrier, "b3", buf);
	}
	p = put_trace_var(p, c);
	*p++ = '-';
	p = put_hex(p, c->span_id, 8);
	if (st) {
		*p++ = '-';
		*p++ = st;
		*p = '\0';
		if (!all_zero(c->parent_span_id, 8)) {
			*p++ = '-';
			put_hex(p, c->parent_span_id, 8);
		}
	}
	return emit(set, carrier, "b3", buf);
}

static int inject_b3_multi(const struct mixd_trace_context *c,
			   mixd_header_set set, void *carrier)
{
	char buf[40];
	int rc = 0;

	if (c->has_ids) {
		put_trace_var(buf, c);
		rc = emit(set, carrier, "x-b3-traceid", buf);
		if (!rc) {
			put_hex(buf, c->span_id, 8);
			rc = emit(set, carrier, "x-b3-spanid", buf);
		}
		if (!rc && !all_zero(c->parent_span_id, 8)) {
			put_hex(buf, c->parent_span_id, 8);
			rc = emit(set, carrier, "x-b3-parentspanid", buf);
		}
		if (rc)
			return rc;
	}
	if (c->debug)
		return emit(set, carrier, "x-b3-flags", "1");
	if (c->sampled != MIXD_SAMPLED_DEFER)
		return emit(set, carrier, "x-b3-sampled",
			    c->sampled > 0 ? "1" : "0");
	return 0;
}

static int inject_jaeger(const struct mixd_trace_context *c,
			 mixd_header_set set, void *carrier)
{
	char buf[80], *p = buf;

	if (!c->has_ids)
		return 0;
	p = put_trace_var(p, c);
	*p++ = ':';
	p = put_hex(p, c->span_id, 8);
	*p++ = ':';
	if (all_zero(c->parent_span_id, 8))
		*p++ = '0';
	else
		p = put_hex(p, c->parent_span_id, 8);
	*p++ = ':';
	*p++ = c->debug ? '3' : (c->sampled > 0 ? '1' : '0');
	*p = '\0';
	return emit(set, carrier, "uber-trace-id", buf);
}

MIXD_API int mixd_tc_inject(const struct mixd_trace_context *ctx,
			       unsigned formats, mixd_header_set set,
			       void *carrier)
{
	int rc = MIXD_OK;

	if (!ctx || !set)
		return MIXD_EINVAL;
	if (ctx->has_ids && (all_zero(ctx->trace_id, 16) ||
			     all_zero(ctx->span_id, 8)))
		return MIXD_EINVAL;
	if (ctx->tracestate_len > MIXD_TC_TRACESTATE_MAX)
		return MIXD_EINVAL;
	if (formats & MIXD_TC_W3C)
		rc = inject_w3c(ctx, set, carrier);
	if (!rc && (formats & MIXD_TC_B3_SINGLE))
		rc = inject_b3_single(ctx, set, carrier);
	if (!rc && (formats & MIXD_TC_B3_MULTI))
		rc = inject_b3_multi(ctx, set, carrier);
	if (!rc && (formats & MIXD_TC_JAEGER))
		rc = inject_jaeger(ctx, set, carrier);
	return rc;
}

/* ---- continuation and sampling ---- */

/*
 * A deterministic decision from the trace id's low 56 bits (random for
 * ids made by us and by W3C level-2 tracers), so every hop with the same
 * rate reaches the same verdict.
 */
static int decide(const uint8_t trace_id[16], double rate)
{
	uint64_t x = 0;

	if (!(rate > 0.0))
		return MIXD_SAMPLED_NO; /* also NaN */
	if (rate >= 1.0)
		return MIXD_SAMPLED_YES;
	for (int i = 9; i < 16; i++)
		x = x << 8 | trace_id[i];
	return x < (uint64_t)(rate * 72057594037927936.0) /* 2^56 */
		       ? MIXD_SAMPLED_YES
		       : MIXD_SAMPLED_NO;
}

MIXD_API void mixd_tc_new_root(struct mixd_trace_context *ctx,
				  double sample_rate, bool trace_id_128)
{
	if (!ctx)
		return;
	memset(ctx, 0, sizeof *ctx);
	if (trace_id_128) {
		mixd_random_ids(ctx->trace_id, ctx->span_id);
	} else {
		mixd_random_ids(NULL, ctx->trace_id + 8); /* never zero */
		mixd_random_ids(NULL, ctx->span_id);
	}
	ctx->has_ids = true;
	ctx->trace_id_128 = trace_id_128;
	ctx->random_trace_id = true;
	ctx->sampled = decide(ctx->trace_id, sample_rate);
}

MIXD_API void mixd_tc_child(const struct mixd_trace_context *parent,
			       struct mixd_trace_context *child,
			       double sample_rate)
{
	if (!child)
		return;
	if (!parent || !parent->has_ids || all_zero(parent->trace_id, 16) ||
	    all_zero(parent->span_id, 8)) {
		int sampled = parent ? parent->sampled : MIXD_SAMPLED_DEFER;
		bool debug = parent ? parent->debug : false;

		mixd_tc_new_root(child, sample_rate, true);
		if (debug) {
			child->debug = true;
			child->sampled = MIXD_SAMPLED_YES;
		} else if (sampled != MIXD_SAMPLED_DEFER) {
			child->sampled = sampled > 0 ? MIXD_SAMPLED_YES
						     : MIXD_SAMPLED_NO;
		}
		return;
	}
	if (child != parent)
		*child = *parent;
	memcpy(child->parent_span_id, child->span_id, 8);
	do {
		mixd_random_ids(NULL, child->span_id);
	} while (memcmp(child->span_id, child->parent_span_id, 8) == 0);
	if (child->tracestate_len > MIXD_TC_TRACESTATE_MAX)
		child->tracestate_len = 0;
	child->tracestate[child->tracestate_len] = '\0';
	if (child->debug)
		child->sampled = MIXD_SAMPLED_YES;
	else if (child->sampled == MIXD_SAMPLED_DEFER)
		child->sampled = decide(child->trace_id, sample_rate);
	else
		child->sampled = child->sampled > 0 ? MIXD_SAMPLED_YES
						    : MIXD_SAMPLED_NO;
}

MIXD_API bool mixd_tc_is_sampled(const struct mixd_trace_context *ctx)
{
	return ctx && (ctx->debug || ctx->sampled > 0);
}
