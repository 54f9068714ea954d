/*
 * prom_text.c - the small text pieces of the Prometheus endpoint: content
 * types, Accept and Accept-Encoding negotiation, number formatting and
 * label-value escaping (see prom.h).
 */
#include "prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../model/error.h"

const char *mx_prom_content_type(enum mx_prom_format f)
{
	if (f == MX_PROM_OPENMETRICS)
		return "application/openmetrics-text; version=1.0.0; charset=utf-8";
	return "text/plain; version=0.0.4; charset=utf-8";
}

static bool pt_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Trims [*b, *e) of spaces and tabs. */
static void pt_trim(const char **b, const char **e)
{
	while (*b < *e && pt_space(**b))
		(*b)++;
	while (*e > *b && pt_space((*e)[-1]))
		(*e)--;
}

static bool pt_is(const char *b, const char *e, const char *lit)
{
	size_t n = strlen(lit);
	return (size_t)(e - b) == n && strncasecmp(b, lit, n) == 0;
}

/* Parses a q-value ("1", "0.5", "1.000"); returns -1 when malformed. */
static double pt_qvalue(const char *b, const char *e)
{
	double q = 0, scale = 1;
	bool dot = false, digit = false;
	for (const char *p = b; p < e; p++) {
		if (*p == '.' && !dot) {
			dot = true;
		} else if (*p >= '0' && *p <= '9') {
			digit = true;
			if (dot) {
				scale /= 10;
				q += (*p - '0') * scale;
			} else {
				q = q * 10 + (*p - '0');
			}
		} else {
			return -1;
		}
	}
	if (!digit || q > 1)
		return -1;
	return q;
}

/* One media range with its parameters: sets *q and *version (the value of
 * a version parameter, unquoted; empty when absent). Returns false when a
 * parameter is malformed. */
static bool pt_params(const char *p, const char *e, double *q,
		      const char **vb, const char **ve)
{
	*q = 1;
	*vb = *ve = p;
	while (p < e) {
		const char *semi = memchr(p, ';', (size_t)(e - p));
		const char *pe = semi ? semi : e;
		const char *kb = p, *eq = memchr(p, '=', (size_t)(pe - p));
		p = semi ? semi + 1 : e;
		if (!eq)
			continue; /* a bare token: ignore it */
		const char *ke = eq, *valb = eq + 1, *vale = pe;
		pt_trim(&kb, &ke);
		pt_trim(&valb, &vale);
		if (vale - valb >= 2 && *valb == '"' && vale[-1] == '"') {
			valb++;
			vale--;
		}
		if (pt_is(kb, ke, "q")) {
			*q = pt_qvalue(valb, vale);
			if (*q < 0)
				return false;
		} else if (pt_is(kb, ke, "version")) {
			*vb = valb;
			*ve = vale;
		}
	}
	return true;
}

enum mx_prom_format mx_prom_negotiate(const char *accept)
{
	enum mx_prom_format best = MX_PROM_TEXT;
	double best_q = -1;
	const char *p = accept;
	if (!p)
		return MX_PROM_TEXT;
	while (*p) {
		const char *comma = strchr(p, ',');
		const char *e = comma ? comma : p + strlen(p);
		const char *tb = p;
		const char *semi = memchr(p, ';', (size_t)(e - p));
		const char *te = semi ? semi : e;
		p = comma ? comma + 1 : e;
		pt_trim(&tb, &te);
		double q;
		const char *vb, *ve;
		if (!pt_params(semi ? semi + 1 : e, e, &q, &vb, &ve) || q <= 0)
			continue;
		int fmt = -1;
		if (pt_is(tb, te, "application/openmetrics-text")) {
			if (vb == ve || pt_is(vb, ve, "1.0.0") || pt_is(vb, ve, "0.0.1"))
				fmt = MX_PROM_OPENMETRICS;
		} else if (pt_is(tb, te, "text/plain")) {
			if (vb == ve || pt_is(vb, ve, "0.0.4") || pt_is(vb, ve, "1.0.0"))
				fmt = MX_PROM_TEXT;
		} else if (pt_is(tb, te, "*/*") || pt_is(tb, te, "text/*")) {
			fmt = MX_PROM_TEXT;
		}
		if (fmt >= 0 && q > best_q) {
			best_q = q;
			best = (enum mx_prom_format)fmt;
		}
	}
	return best;
}

bool mx_prom_accepts_gzip(const char *accept_encoding)
{
	const char *p = accept_encoding;
	if (!p)
		return false;
	while (*p) {
		const char *comma = strchr(p, ',');
		const char *e = comma ? comma : p + strlen(p);
		const char *tb = p;
		const char *semi = memchr(p, ';', (size_t)(e - p));
		const char *te = semi ? semi : e;
		p = comma ? comma + 1 : e;
		pt_trim(&tb, &te);
		double q;
		const char *vb, *ve;
		if (!pt_params(semi ? semi + 1 : e, e, &q, &vb, &ve) || q <= 0)
			continue;
		if (pt_is(tb, te, "gzip") || pt_is(tb, te, "x-gzip") ||
		    pt_is(tb, te, "*"))
			return true;
	}
	return false;
}

size_t mx_prom_fmt_u64(uint64_t v, char *out)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

size_t mx_prom_fmt_double(double v, char *out)
{
	if (isnan(v)) {
		memcpy(out, "NaN", 4);
		return 3;
	}
	if (isinf(v)) {
		memcpy(out, v > 0 ? "+Inf" : "-Inf", 5);
		return 4;
	}
	if (v == trunc(v) && fabs(v) < 1e32) {
		if (fabs(v) < 9.2e18) {
			size_t n = 0;
			if (v < 0)
				out[n++] = '-';
			n += mx_prom_fmt_u64((uint64_t)fabs(v), out + n);
			out[n] = '\0';
			return n;
		}
		return (size_t)snprintf(out, 48, "%.0f", v);
	}
	int n = 0;
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(out, 48, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			break;
	}
	return (size_t)n;
}

int mx_prom_escape_label(struct mx_buf *out, struct mx_str s)
{
	if (s.len == 0)
		return out->failed ? MX_ENOMEM : MX_OK;
	const char *p = s.ptr, *e = s.ptr + s.len, *run = p;
	if (mx_buf_reserve(out, s.len) != MX_OK)
		return MX_ENOMEM;
	for (; p < e; p++) {
		const char *rep;
		if (*p == '\\')
			rep = "\\\\";
		else if (*p == '"')
			rep = "\\\"";
		else if (*p == '\n')
			rep = "\\n";
		else
			continue;
		if (p > run)
			mx_buf_append(out, run, (size_t)(p - run));
		mx_buf_append(out, rep, 2);
		run = p + 1;
	}
	if (e > run)
		mx_buf_append(out, run, (size_t)(e - run));
	return out->failed ? MX_ENOMEM : MX_OK;
}
