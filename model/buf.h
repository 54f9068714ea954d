/*
 * buf.h - a growable byte buffer with a hard cap.
 *
 * Used by every encoder (wire formats, the storage record format, JSON
 * responses). Appends fail with MX_ENOMEM once the buffer would pass `max`,
 * and the buffer stays as it was before the failed append. A buffer that has
 * failed once keeps failing (`failed` is sticky) so that a sequence of
 * appends can be checked once at the end.
 */
#ifndef MX_BUF_H
#define MX_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mx_buf {
	uint8_t *data; /* malloc'd; NULL until the first append */
	size_t len;
	size_t cap;
	size_t max;    /* hard cap on len */
	bool failed;   /* an append hit the cap or malloc failed */
};

/* Initialises an empty buffer that may grow to `max` bytes. */
void mx_buf_init(struct mx_buf *b, size_t max);

/* Ensures room for `n` more bytes. Returns MX_OK or MX_ENOMEM. */
int mx_buf_reserve(struct mx_buf *b, size_t n);

/* Appends `n` bytes. Returns MX_OK or MX_ENOMEM (and sets `failed`). */
int mx_buf_append(struct mx_buf *b, const void *p, size_t n);

/* Appends a NUL-terminated string (without its NUL). */
int mx_buf_puts(struct mx_buf *b, const char *s);

/* Appends printf-style formatted text. Returns MX_OK or MX_ENOMEM. */
int mx_buf_printf(struct mx_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Appends one byte. */
int mx_buf_putc(struct mx_buf *b, uint8_t c);

/* Appends an unsigned LEB128 varint (protobuf encoding). */
int mx_buf_varint(struct mx_buf *b, uint64_t v);

/* Appends `s` as the body of a JSON string (escaping quotes, backslashes,
 * control characters and invalid UTF-8 as U+FFFD), without the quotes. */
int mx_buf_json_escape(struct mx_buf *b, const char *s, size_t n);

/* Empties the buffer, keeping its memory. */
void mx_buf_reset(struct mx_buf *b);

/* Hands the data to the caller (who frees it with free()) and empties the
 * buffer. Returns NULL when nothing was appended. */
uint8_t *mx_buf_steal(struct mx_buf *b, size_t *len);

/* Frees the memory. Accepts NULL. */
void mx_buf_free(struct mx_buf *b);

#endif
