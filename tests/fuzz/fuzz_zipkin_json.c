/*
 * fuzz_zipkin_json.c - libFuzzer target for the Zipkin v2 JSON decoder:
 * decode, then re-encode as v2 JSON and proto3 and read both back
 * (zipkin_fuzz.h).
 */
#include "zipkin_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	zk_fuzz_one(zk_fuzz_json, data, size);
	return 0;
}
