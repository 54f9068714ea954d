/*
 * span_record.h - the storage record formats: one encoded span (the value
 * of the `spans` database) and one encoded resource + scope (the value of
 * the `resources` database), plus the 64-bit hash that keys resources.
 *
 * Both formats are lossless for every member of the model (model/span.h)
 * except the resource/scope pointers of a span, which become an 8-byte
 * resource key. They are compact (varints, length-prefixed strings, a
 * presence byte for rarely used sections) and fast to write. The byte layout
 * is documented in storage/SCHEMA.md; a change to it needs a new
 * MX_SPAN_RECORD_VERSION and a schema version bump.
 *
 * Decoders treat their input as untrusted: every length and count is checked
 * against the bytes that remain, nesting is capped, and malformed input is
 * answered with MX_ESTORE, never a crash or an out-of-bounds read.
 */
#ifndef MX_SPAN_RECORD_H
#define MX_SPAN_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "../model/arena.h"
#include "../model/buf.h"
#include "../model/span.h"

#define MX_SPAN_RECORD_VERSION 1
#define MX_RESOURCE_RECORD_VERSION 1

/* Fixed header of a span record: version (1), arrival ns (8, little-endian),
 * resource key (8, big-endian). The rest is the span itself, so two records
 * of the same span re-sent later differ only in the arrival time. */
#define MX_SPAN_RECORD_HDR 17
#define MX_SPAN_RECORD_BODY_OFF 9 /* resource key + span: the dedup bytes */

/* Deepest array/map nesting the formats carry (encode and decode). */
#define MX_RECORD_MAX_DEPTH 64

/* Appends the record of span `s` to `out`: the header with `arrival_ns` and
 * `res_key`, then every span field. `s->resource` and `s->scope` are not
 * read (they are stored separately under `res_key`). Returns MX_OK,
 * MX_ENOMEM (buffer cap), MX_EDEPTH (attribute values nested deeper than
 * MX_RECORD_MAX_DEPTH) or MX_EINVAL (a value of unknown type). On failure
 * `out` may hold a partial record: callers reset or truncate it. */
int mx_span_record_encode(const struct mx_span *s, uint64_t res_key,
			  uint64_t arrival_ns, struct mx_buf *out);

/* Reads only the header of a span record. Returns MX_OK or MX_ESTORE. */
int mx_span_record_header(const uint8_t *p, size_t n, uint64_t *res_key,
			  uint64_t *arrival_ns);

/* Decodes a span record of `n` bytes at `p` into `*out`. The bytes are
 * copied once into `arena` and every string of the span points into that
 * copy (strings are not NUL-terminated), so `p` may be released afterwards;
 * arrays are allocated in `arena`. `out->resource` and `out->scope` are set
 * to NULL; the resource key and arrival time are returned through the
 * optional `res_key` / `arrival_ns`. Returns MX_OK, MX_ESTORE (malformed,
 * truncated or trailing bytes, unknown version) or MX_ENOMEM (arena cap). */
int mx_span_record_decode(const uint8_t *p, size_t n, struct mx_arena *arena,
			  struct mx_span *out, uint64_t *res_key,
			  uint64_t *arrival_ns);

/* Appends the record of a resource and the scope of its spans to `out`.
 * Returns MX_OK, MX_ENOMEM, MX_EDEPTH or MX_EINVAL (as
 * mx_span_record_encode()). NULL `r` or `sc` encode as empty. */
int mx_resource_record_encode(const struct mx_resource *r,
			      const struct mx_scope *sc, struct mx_buf *out);

/* Decodes a resource record into a resource and a scope allocated in
 * `arena` (strings point into a copy of the record, as for spans). Returns
 * MX_OK, MX_ESTORE or MX_ENOMEM. */
int mx_resource_record_decode(const uint8_t *p, size_t n,
			      struct mx_arena *arena,
			      const struct mx_resource **r,
			      const struct mx_scope **sc);

/* A fast 64-bit hash of `n` bytes (8-byte words, multiply-xorshift mixing;
 * documented in storage/SCHEMA.md because resource keys are made from it).
 * Different seeds give independent hashes. */
uint64_t mx_hash64(const void *p, size_t n, uint64_t seed);

/* Big- and little-endian fixed-width helpers used by the store's keys and
 * values. */
static inline void mx_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint64_t mx_get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static inline void mx_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint64_t mx_get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline void mx_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint32_t mx_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

#endif
