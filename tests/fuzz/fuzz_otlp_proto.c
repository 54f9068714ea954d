/*
 * fuzz_otlp_proto.c - libFuzzer target for the binary OTLP trace decoder:
 * decodes into a batch with a modest arena cap and, on success, re-encodes
 * the batch (protobuf and JSON) and decodes the protobuf again, which must
 * succeed and give the same number of spans.
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
	struct mx_buf out, js;
	mx_decode_limits_default(&lim);
	struct mx_batch *b = mx_batch_new(4u << 20);
	struct mx_batch *c = NULL;
	if (!b)
		return 0;
	mx_buf_init(&out, 16u << 20);
	mx_buf_init(&js, 16u << 20);
	int rc = mx_otlp_decode_proto(data, size, &lim, b, &err);
	if (rc == MX_OK) {
		if (mx_otlp_encode_proto(b, &out) == MX_OK) {
			c = mx_batch_new(64u << 20);
			if (c) {
				struct mx_errmsg e2 = { 0 };
				rc = mx_otlp_decode_proto(out.data, out.len, &lim, c, &e2);
				if (rc != MX_OK || c->n_spans != b->n_spans ||
				    c->rejected_spans != 0)
					abort(); /* our own output must read back */
			}
		}
		mx_otlp_encode_json(b, &js);
	}
	mx_buf_free(&out);
	mx_buf_free(&js);
	mx_batch_free(c);
	mx_batch_free(b);
	return 0;
}
