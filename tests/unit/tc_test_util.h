/*
 * tc_test_util.h - shared by the trace-context unit tests
 * (test_tracecontext.c, test_tracecontext_prop.c): header carriers for
 * mixd_tc_extract()/mixd_tc_inject() over a fixed name/value list or a
 * small recorded header set, id hex helpers, and example ids from the B3
 * and W3C specs.
 */
#ifndef MIXD_TC_TEST_UTIL_H
#define MIXD_TC_TEST_UTIL_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "mixd/tracecontext.h"

#define T128 "80f198ee56343ba864fe8b2a57d3eff7"
#define T64 "64fe8b2a57d3eff7"
#define T64P "000000000000000064fe8b2a57d3eff7" /* T64 zero-extended */
#define SPAN "e457b5a2e4d86bd1"
#define PAR "05e3ac9a4f6e3b90"
#define W3T "0af7651916cd43dd8448eb211c80319c"
#define W3S "b7ad6b7169203331"
#define YES MIXD_SAMPLED_YES
#define NO MIXD_SAMPLED_NO
#define DEFER MIXD_SAMPLED_DEFER
#define N(a) (sizeof(a) / sizeof((a)[0]))
#define TP(v, t, s, f) "" v "-" t "-" s "-" f

/* ---- carriers ---- */

/* A NULL-terminated list of name, value pairs (the API's carrier is
 * not const; kv_get never writes through it). */
static inline void *kv_carrier(const char *const *kv)
{
	return (void *)(uintptr_t)kv;
}

static inline const char *kv_get(void *carrier, const char *name, size_t *len)
{
	const char *const *kv = carrier;

	for (; kv[0]; kv += 2)
		if (strcasecmp(kv[0], name) == 0) {
			*len = strlen(kv[1]);
			return kv[1];
		}
	return NULL;
}

#define MAXH 12
struct hset {
	size_t n;
	char name[MAXH][32];
	char value[MAXH][MIXD_TC_TRACESTATE_MAX + 8];
	int calls;
	int fail_on_call; /* 1-based; 0 = never fail */
};

static inline int hs_set(void *carrier, const char *name, const char *value,
		  size_t len)
{
	struct hset *h = carrier;
	size_t i;

	h->calls++;
	if (h->fail_on_call && h->calls == h->fail_on_call)
		return -ENOSPC;
	assert_int_equal(strlen(value), len);
	assert_true(len < sizeof h->value[0]);
	for (i = 0; i < h->n; i++)
		if (strcmp(h->name[i], name) == 0)
			break;
	assert_true(i < MAXH);
	if (i == h->n) {
		h->n++;
		snprintf(h->name[i], sizeof h->name[i], "%s", name);
	}
	memcpy(h->value[i], value, len + 1);
	return 0;
}

static inline const char *hs_get(void *carrier, const char *name, size_t *len)
{
	struct hset *h = carrier;

	for (size_t i = 0; i < h->n; i++)
		if (strcasecmp(h->name[i], name) == 0) {
			*len = strlen(h->value[i]);
			return h->value[i];
		}
	return NULL;
}

static inline const char *hs_value(const struct hset *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->name[i], name) == 0)
			return h->value[i];
	return NULL;
}

static inline void to_hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static inline void assert_id(const uint8_t *b, size_t n, const char *hex)
{
	char buf[40];

	to_hex(b, n, buf);
	assert_string_equal(buf, hex);
}

static inline void set_id(uint8_t *b, size_t n, const char *hex)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		b[i] = (uint8_t)v;
	}
}

#endif /* MIXD_TC_TEST_UTIL_H */
