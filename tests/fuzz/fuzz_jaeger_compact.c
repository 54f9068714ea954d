/*
 * fuzz_jaeger_compact.c - libFuzzer target for the Jaeger thrift compact reader:
 * decode as an emitBatch message and as a bare Batch; on success re-encode
 * in the same protocol and require the output to decode again.
 */
#include <stdint.h>
#include <stdlib.h>

#include "codec/jaeger_thrift.h"
#include "model/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mx_decode_limits lim;
	mx_decode_limits_default(&lim);
	for (int emit = 0; emit < 2; emit++) {
		struct mx_batch *b = mx_batch_new(1 << 22);
		struct mx_errmsg err = { 0 };
		int rc = emit ? mx_jaeger_thrift_decode_emit_batch(
					MX_THRIFT_COMPACT, data, size, &lim, b, &err)
			      : mx_jaeger_thrift_decode_batch(
					MX_THRIFT_COMPACT, data, size, &lim, b, &err);
		if (rc == MX_OK && b->n_spans) {
			struct mx_buf out;
			uint32_t used = 0;
			mx_buf_init(&out, 1 << 24);
			if (mx_jaeger_thrift_encode_batch(MX_THRIFT_COMPACT, b, 0,
							  &used, &out) == MX_OK) {
				struct mx_batch *c = mx_batch_new(1 << 22);
				struct mx_errmsg e2 = { 0 };
				if (mx_jaeger_thrift_decode_batch(
					    MX_THRIFT_COMPACT, out.data, out.len, &lim,
					    c, &e2) != MX_OK)
					abort();
				mx_batch_free(c);
			}
			mx_buf_free(&out);
		}
		mx_batch_free(b);
	}
	return 0;
}
