/*
 * fuzz_otlp_json.c - libFuzzer target for the OTLP/JSON trace decoder:
 * decodes into a batch with a modest arena cap and, on success, re-encodes
 * the batch as JSON and decodes that again, which must succeed with the
 * same number of spans; the protobuf encoder runs on the batch too.
 */
#include <stdint.h>
#include <stdlib.h>

#include "../../codec/otlp.h"
#include "../../model/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mx_decode_limits lim;
	struct mx_errmsg err = { 0 };
	struct mx_buf out, pb;
	mx_decode_limits_default(&lim);
	struct mx_batch *b = mx_batch_new(4u << 20);
	struct mx_batch *c = NULL;
	if (!b)
		return 0;
	mx_buf_init(&out, 16u << 20);
	mx_buf_init(&pb, 16u << 20);
	int rc = mx_otlp_decode_json((const char *)data, size, &lim, b, &err);
	if (rc == MX_OK) {
		if (mx_otlp_encode_json(b, &out) == MX_OK) {
			c = mx_batch_new(64u << 20);
			if (c) {
				struct mx_errmsg e2 = { 0 };
				rc = mx_otlp_decode_json((const char *)out.data, out.len,
							 &lim, c, &e2);
				if (rc != MX_OK || c->n_spans != b->n_spans ||
				    c->rejected_spans != 0)
					abort(); /* our own output must read back */
			}
		}
		mx_otlp_encode_proto(b, &pb);
	}
	mx_buf_free(&out);
	mx_buf_free(&pb);
	mx_batch_free(c);
	mx_batch_free(b);
	return 0;
}
