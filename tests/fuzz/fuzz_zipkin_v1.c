/*
 * fuzz_zipkin_v1.c - libFuzzer target for the Zipkin v1 JSON decoder
 * (V1SpanConverter rules): decode, then re-encode as v2 JSON and proto3
 * and read both back (zipkin_fuzz.h).
 */
#include "zipkin_fuzz.h"

static int zk_fuzz_v1(const uint8_t *buf, size_t len,
		      const struct mx_decode_limits *lim,
		      struct mx_batch *out, struct mx_errmsg *err)
{
	return mx_zipkin_v1_decode((const char *)buf, len, lim, out, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	zk_fuzz_one(zk_fuzz_v1, data, size);
	return 0;
}
