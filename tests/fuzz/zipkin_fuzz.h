/*
 * zipkin_fuzz.h - the shared body of the Zipkin libFuzzer targets
 * (fuzz_zipkin_json.c, fuzz_zipkin_proto.c, fuzz_zipkin_v1.c): decode the
 * input with one decoder into a batch with a modest arena cap and, on
 * success, re-encode the batch as v2 JSON and as proto3 and decode both
 * again, which must succeed with the same number of spans and no
 * rejections (our own output must always read back).
 */
#ifndef MX_ZIPKIN_FUZZ_H
#define MX_ZIPKIN_FUZZ_H

#include <stdint.h>
#include <stdlib.h>

#include "../../codec/zipkin.h"
#include "../../model/error.h"

typedef int (*zk_fuzz_decode_fn)(const uint8_t *buf, size_t len,
				 const struct mx_decode_limits *lim,
				 struct mx_batch *out, struct mx_errmsg *err);

static inline int zk_fuzz_json(const uint8_t *buf, size_t len,
			const struct mx_decode_limits *lim,
			struct mx_batch *out, struct mx_errmsg *err)
{
	return mx_zipkin_json_decode((const char *)buf, len, lim, out, err);
}

/* Decodes `data` with `decode`, then checks that the JSON and proto
 * encodings of the result read back whole. */
static inline void zk_fuzz_one(zk_fuzz_decode_fn decode, const uint8_t *data,
			       size_t size)
{
	struct mx_decode_limits lim;
	struct mx_errmsg err = { 0 };
	struct mx_buf js, pb;
	mx_decode_limits_default(&lim);
	struct mx_batch *b = mx_batch_new(4u << 20);
	if (!b)
		return;
	mx_buf_init(&js, 32u << 20);
	mx_buf_init(&pb, 32u << 20);
	if (decode(data, size, &lim, b, &err) == MX_OK &&
	    mx_zipkin_json_encode_spans(b->spans, b->n_spans, &js) == MX_OK &&
	    mx_zipkin_proto_encode(b, &pb) == MX_OK) {
		const struct mx_buf *again[2] = { &js, &pb };
		for (int i = 0; i < 2; i++) {
			struct mx_batch *c = mx_batch_new(256u << 20);
			struct mx_errmsg e2 = { 0 };
			if (!c)
				break;
			int rc = (i ? mx_zipkin_proto_decode : zk_fuzz_json)(
				again[i]->data, again[i]->len, &lim, c, &e2);
			if (rc != MX_OK || c->n_spans != b->n_spans ||
			    c->rejected_spans != 0)
				abort(); /* our own output must read back */
			mx_batch_free(c);
		}
	}
	mx_buf_free(&js);
	mx_buf_free(&pb);
	mx_batch_free(b);
}

#endif
