/*
 * fuzz_span_record.c - libFuzzer target for the storage record decoders
 * (storage/span_record.h). Any input must decode to MX_OK, MX_ESTORE or
 * MX_ENOMEM without a crash or sanitizer report; a record that decodes must
 * re-encode, and the re-encoding must decode to a span that re-encodes to
 * the same bytes (the format is canonical after one round). The same bytes
 * are also fed to the resource record decoder.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/arena.h"
#include "model/buf.h"
#include "model/error.h"
#include "model/span.h"
#include "storage/span_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_span(const uint8_t *data, size_t size)
{
	struct mx_arena a;
	struct mx_span s, s2;
	struct mx_buf b1, b2;
	uint64_t key = 0, arrival = 0;
	mx_arena_init(&a, 4u << 20);
	mx_buf_init(&b1, 16u << 20);
	mx_buf_init(&b2, 16u << 20);
	int rc = mx_span_record_decode(data, size, &a, &s, &key, &arrival);
	if (rc != MX_OK && rc != MX_ESTORE && rc != MX_ENOMEM)
		abort();
	if (rc == MX_OK) {
		if (mx_span_record_encode(&s, key, arrival, &b1) != MX_OK)
			abort();
		int rc2 = mx_span_record_decode(b1.data, b1.len, &a, &s2, NULL, NULL);
		if (rc2 == MX_ESTORE)
			abort(); /* the encoder wrote something the decoder refuses */
		if (rc2 == MX_OK) {
			if (mx_span_record_encode(&s2, key, arrival, &b2) != MX_OK)
				abort();
			if (b1.len != b2.len || memcmp(b1.data, b2.data, b1.len) != 0)
				abort();
		}
	}
	mx_buf_free(&b1);
	mx_buf_free(&b2);
	mx_arena_free(&a);
}

static void check_resource(const uint8_t *data, size_t size)
{
	struct mx_arena a;
	struct mx_buf b;
	const struct mx_resource *r;
	const struct mx_scope *sc;
	mx_arena_init(&a, 4u << 20);
	mx_buf_init(&b, 16u << 20);
	int rc = mx_resource_record_decode(data, size, &a, &r, &sc);
	if (rc != MX_OK && rc != MX_ESTORE && rc != MX_ENOMEM)
		abort();
	if (rc == MX_OK && mx_resource_record_encode(r, sc, &b) != MX_OK)
		abort();
	mx_buf_free(&b);
	mx_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_span(data, size);
	/* the resource format starts with its own version byte */
	check_resource(data, size);
	return 0;
}
