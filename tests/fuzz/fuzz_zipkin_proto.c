/*
 * fuzz_zipkin_proto.c - libFuzzer target for the Zipkin proto3 ListOfSpans
 * decoder: decode, then re-encode as v2 JSON and proto3 and read both back
 * (zipkin_fuzz.h).
 */
#include "zipkin_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	zk_fuzz_one(mx_zipkin_proto_decode, data, size);
	return 0;
}
