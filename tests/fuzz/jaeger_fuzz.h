/*
 * jaeger_fuzz.h - the shared body of the Jaeger thrift libFuzzer targets
 * (fuzz_jaeger_binary.c, fuzz_jaeger_compact.c): decode the input as an
 * emitBatch message and as a bare Batch in one protocol; on success re-encode
 * in the same protocol and require the output to decode again.
 */
#ifndef MX_JAEGER_FUZZ_H
#define MX_JAEGER_FUZZ_H

#include <stdint.h>
#include <stdlib.h>

#include "../../codec/jaeger_thrift.h"
#include "../../model/error.h"

static inline int jaeger_fuzz_one(enum mx_thrift_proto proto, const uint8_t *data,
				  size_t size)
{
	struct mx_decode_limits lim;
	mx_decode_limits_default(&lim);
	for (int emit = 0; emit < 2; emit++) {
		struct mx_batch *b = mx_batch_new(1 << 22);
		struct mx_errmsg err = { 0 };
		int rc = emit ? mx_jaeger_thrift_decode_emit_batch(
					proto, data, size, &lim, b, &err)
			      : mx_jaeger_thrift_decode_batch(
					proto, data, size, &lim, b, &err);
		if (rc == MX_OK && b->n_spans) {
			struct mx_buf out;
			uint32_t used = 0;
			mx_buf_init(&out, 1 << 24);
			if (mx_jaeger_thrift_encode_batch(proto, b, 0,
							  &used, &out) == MX_OK) {
				struct mx_batch *c = mx_batch_new(1 << 22);
				struct mx_errmsg e2 = { 0 };
				if (mx_jaeger_thrift_decode_batch(
					    proto, out.data, out.len, &lim,
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

#endif
