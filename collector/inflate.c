/*
 * inflate.c - capped gzip/zlib inflation (see inflate.h).
 */
#include "inflate.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../model/error.h"

bool mx_is_gzip(const uint8_t *buf, size_t len)
{
	return len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b;
}

int mx_inflate(const uint8_t *in, size_t len, size_t max_out, uint8_t **out,
	       size_t *out_len)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	*out = NULL;
	*out_len = 0;
	if (inflateInit2(&zs, 15 + 32) != Z_OK) /* +32: detect gzip or zlib */
		return MX_ENOMEM;
	size_t cap = len * 4 + 1024;
	if (cap > max_out + 1)
		cap = max_out + 1;
	uint8_t *buf = malloc(cap + 1);
	int rc = MX_OK;
	size_t have = 0;
	if (!buf) {
		rc = MX_ENOMEM;
		goto out;
	}
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = 0;
	size_t left_in = len;
	for (;;) {
		if (zs.avail_in == 0 && left_in) {
			uInt chunk = left_in > (1u << 30) ? (1u << 30) : (uInt)left_in;
			zs.avail_in = chunk;
			left_in -= chunk;
		}
		if (have == cap) {
			if (cap > max_out) {
				rc = MX_ETOOBIG;
				goto out;
			}
			size_t ncap = cap * 2;
			if (ncap > max_out + 1)
				ncap = max_out + 1;
			uint8_t *nb = realloc(buf, ncap + 1);
			if (!nb) {
				rc = MX_ENOMEM;
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		size_t room = cap - have;
		zs.next_out = buf + have;
		zs.avail_out = room > (1u << 30) ? (1u << 30) : (uInt)room;
		uInt before = zs.avail_out;
		int z = inflate(&zs, Z_NO_FLUSH);
		have += before - zs.avail_out;
		if (have > max_out) {
			rc = MX_ETOOBIG;
			goto out;
		}
		if (z == Z_STREAM_END) {
			/* another gzip member may follow */
			if (zs.avail_in == 0 && left_in == 0)
				break;
			if (inflateReset(&zs) != Z_OK) {
				rc = MX_EINVAL;
				goto out;
			}
			continue;
		}
		if (z == Z_BUF_ERROR && zs.avail_in == 0 && left_in == 0) {
			rc = MX_EINVAL; /* truncated stream */
			goto out;
		}
		if (z != Z_OK && z != Z_BUF_ERROR) {
			rc = z == Z_MEM_ERROR ? MX_ENOMEM : MX_EINVAL;
			goto out;
		}
	}
	buf[have] = '\0';
	*out = buf;
	*out_len = have;
	buf = NULL;
out:
	inflateEnd(&zs);
	free(buf);
	return rc;
}
