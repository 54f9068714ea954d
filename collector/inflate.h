/*
 * inflate.h - gzip/zlib decompression of request bodies with a running cap,
 * so a compression bomb costs at most `max_out` bytes of memory.
 */
#ifndef MX_INFLATE_H
#define MX_INFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when `buf` starts with the gzip magic bytes 1f 8b. */
bool mx_is_gzip(const uint8_t *buf, size_t len);

/* Inflates a gzip or zlib stream (detected from its header; concatenated
 * gzip members are all inflated) into a malloc'd buffer (*out, freed by the
 * caller; NUL-terminated for the convenience of text decoders, the NUL not
 * counted in *out_len). Returns MX_OK, MX_ETOOBIG once the output would pass
 * `max_out` (nothing returned), MX_EINVAL for a corrupt or truncated stream,
 * MX_ENOMEM. */
int mx_inflate(const uint8_t *in, size_t len, size_t max_out, uint8_t **out,
	       size_t *out_len);

#endif
