/*
 * deflate.c - gzip compression with zlib for response bodies (see
 * deflate.h). Output goes straight into the capped mx_buf: the buffer is
 * grown ahead of each deflate() call by deflateBound()-sized steps, so a
 * body is compressed without an intermediate copy.
 */
#include "deflate.h"

#include <string.h>

#include "../model/error.h"

int mx_gz_init(struct mx_gz *z)
{
	memset(z, 0, sizeof(*z));
	/* windowBits 15 + 16: gzip wrapper; memLevel 8 is zlib's default */
	if (deflateInit2(&z->zs, MX_GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return MX_ENOMEM;
	z->init = true;
	return MX_OK;
}

int mx_gz_write(struct mx_gz *z, const uint8_t *in, size_t n, bool finish,
		struct mx_buf *out)
{
	if (!z->init || z->finished)
		return MX_EINVAL;
	const uint8_t *p = in;
	size_t left = n;
	for (;;) {
		/* feed at most 1 GiB at a time: avail_in is a uInt */
		uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
		bool last = chunk == left;
		int flush = last && finish ? Z_FINISH : Z_NO_FLUSH;
		z->zs.next_in = (Bytef *)(uintptr_t)p;
		z->zs.avail_in = chunk;
		int zrc;
		do {
			size_t room = deflateBound(&z->zs, z->zs.avail_in) + 64;
			if (room > (1u << 30))
				room = 1u << 30;
			if (mx_buf_reserve(out, room) != MX_OK)
				return MX_ENOMEM;
			z->zs.next_out = out->data + out->len;
			z->zs.avail_out = (uInt)(out->cap - out->len > (1u << 30) ?
						 (1u << 30) : out->cap - out->len);
			uInt before = z->zs.avail_out;
			zrc = deflate(&z->zs, flush);
			if (zrc == Z_STREAM_ERROR)
				return MX_ENOMEM;
			out->len += before - z->zs.avail_out;
		} while (z->zs.avail_in > 0 ||
			 (flush == Z_FINISH && zrc != Z_STREAM_END));
		p += chunk;
		left -= chunk;
		if (last)
			break;
	}
	if (finish)
		z->finished = true;
	return MX_OK;
}

void mx_gz_free(struct mx_gz *z)
{
	if (!z || !z->init)
		return;
	deflateEnd(&z->zs);
	z->init = false;
}

int mx_gzip(const uint8_t *in, size_t n, struct mx_buf *out)
{
	struct mx_gz z;
	int rc = mx_gz_init(&z);
	if (rc == MX_OK)
		rc = mx_gz_write(&z, in, n, true, out);
	mx_gz_free(&z);
	return rc;
}
