/*
 * fuzz_jaeger_compact.c - libFuzzer target for the Jaeger thrift compact reader
 * (the shared body is in jaeger_fuzz.h).
 */
#include "jaeger_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return jaeger_fuzz_one(MX_THRIFT_COMPACT, data, size);
}
