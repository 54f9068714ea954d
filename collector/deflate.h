/*
 * deflate.h - gzip compression of response bodies (the sibling of
 * inflate.h), one-shot or streaming, with zlib at a level chosen for
 * speed: a /metrics response is large, repetitive text that level 1
 * already shrinks by an order of magnitude.
 */
#ifndef MX_DEFLATE_H
#define MX_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "../model/buf.h"

#define MX_GZIP_LEVEL 1 /* zlib's fastest level */

/* Appends the gzip stream (RFC 1952) of in[0..n) to `out`. Returns MX_OK,
 * or MX_ENOMEM when zlib cannot allocate or `out` hits its cap (out then
 * holds a partial stream). */
int mx_gzip(const uint8_t *in, size_t n, struct mx_buf *out);

/* A streaming gzip compressor, for bodies rendered in chunks. */
struct mx_gz {
	z_stream zs;
	bool init;
	bool finished;
};

/* Prepares `z`. Returns MX_OK or MX_ENOMEM. */
int mx_gz_init(struct mx_gz *z);

/* Compresses in[0..n) and appends what zlib produces to `out`; with
 * `finish`, also ends the stream (no write may follow). Returns MX_OK,
 * MX_EINVAL after the stream was finished, or MX_ENOMEM. */
int mx_gz_write(struct mx_gz *z, const uint8_t *in, size_t n, bool finish,
		struct mx_buf *out);

/* Releases zlib's state. Accepts NULL and a never-initialised zeroed one. */
void mx_gz_free(struct mx_gz *z);

#endif
