/*
 * codec.h - limits and error reporting shared by every decoder in codec/.
 *
 * Decoders are pure functions from bytes to the model (model/span.h): no I/O,
 * no globals, bounded in memory by the batch arena and in recursion by
 * `max_depth`. A decoder either fails the whole body (a negative enum mx_err
 * and a message naming the problem) or succeeds, possibly rejecting single
 * spans on their content; rejected spans are counted in
 * batch->rejected_spans and the first reason is kept in the message buffer.
 */
#ifndef MX_CODEC_H
#define MX_CODEC_H

#include <stddef.h>
#include <stdint.h>

struct mx_decode_limits {
	uint32_t max_depth;       /* AnyValue / JSON nesting; default 32 */
	uint32_t max_attrs;       /* attributes per span, event, link, resource */
	uint32_t max_events;      /* events per span */
	uint32_t max_links;       /* links per span */
	uint32_t max_value_bytes; /* one string/bytes value or name */
};

/* The defaults: depth 32, 1024 attributes, 1024 events, 1024 links,
 * 256 KiB per value. */
void mx_decode_limits_default(struct mx_decode_limits *lim);

/* A message buffer a decoder writes its first error or rejection reason to. */
struct mx_errmsg {
	char text[256];
	int set; /* 0 until the first message is written */
};

/* Writes a printf-style message unless one is already set (first wins). */
void mx_errmsg_set(struct mx_errmsg *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
