/*
 * span.h - the one span model of mixd.
 *
 * Every decoder in codec/ produces these structures, and every encoder, the
 * store and the query layer consume them. The shape mirrors OTLP (resource ->
 * scope -> span) so that no protocol loses information; protocol-specific
 * fields that OTLP lacks (Zipkin endpoints and the `shared` flag) have their
 * own members. model/MAPPING.md is the mapping table between this model and
 * each wire protocol.
 *
 * Memory: a `struct mx_batch` owns an arena; every pointer inside the batch
 * (strings, arrays, resources, scopes) points into that arena, so the whole
 * batch is released by mx_batch_free(). Strings are (pointer, length) pairs,
 * not necessarily NUL-terminated, and may contain any bytes.
 *
 * Time: Unix nanoseconds everywhere. A protocol that carries microseconds
 * stores ns = us * 1000, so the microseconds read back exactly.
 */
#ifndef MX_SPAN_H
#define MX_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arena.h"

/* A byte string inside an arena; `ptr` may be NULL when `len` is 0. */
struct mx_str {
	const char *ptr;
	uint32_t len;
};

enum mx_value_type {
	MX_VAL_EMPTY = 0, /* an AnyValue with nothing set */
	MX_VAL_STRING,
	MX_VAL_BOOL,
	MX_VAL_INT,
	MX_VAL_DOUBLE,
	MX_VAL_BYTES,
	MX_VAL_ARRAY,
	MX_VAL_MAP,
};

struct mx_attr;

/* A typed attribute value; arrays and maps nest (depth capped by decoders). */
struct mx_value {
	uint8_t type; /* enum mx_value_type */
	union {
		struct mx_str s; /* STRING and BYTES */
		bool b;
		int64_t i;
		double d;
		struct {
			struct mx_value *items;
			uint32_t n;
		} arr;
		struct {
			struct mx_attr *items;
			uint32_t n;
		} map;
	} u;
};

struct mx_attr {
	struct mx_str key;
	struct mx_value value;
};

struct mx_attrs {
	struct mx_attr *items;
	uint32_t n;
};

/* Span kinds use OTLP's numbering. */
enum mx_span_kind {
	MX_KIND_UNSPECIFIED = 0,
	MX_KIND_INTERNAL = 1,
	MX_KIND_SERVER = 2,
	MX_KIND_CLIENT = 3,
	MX_KIND_PRODUCER = 4,
	MX_KIND_CONSUMER = 5,
};

enum mx_status_code {
	MX_STATUS_UNSET = 0,
	MX_STATUS_OK = 1,
	MX_STATUS_ERROR = 2,
};

/* The resource (who emitted the spans); shared by the spans that point to it. */
struct mx_resource {
	struct mx_attrs attrs;
	uint32_t dropped_attrs;
	struct mx_str schema_url;
};

/* The instrumentation scope (which library produced the spans). */
struct mx_scope {
	struct mx_str name;
	struct mx_str version;
	struct mx_attrs attrs;
	uint32_t dropped_attrs;
	struct mx_str schema_url;
};

struct mx_event {
	uint64_t time_ns;
	struct mx_str name;
	struct mx_attrs attrs;
	uint32_t dropped_attrs;
};

struct mx_link {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	struct mx_str trace_state;
	struct mx_attrs attrs;
	uint32_t dropped_attrs;
	uint32_t flags;
};

/* A Zipkin-style network endpoint; all members empty/zero when absent. */
struct mx_endpoint {
	struct mx_str service_name;
	struct mx_str ipv4; /* dotted quad text */
	struct mx_str ipv6; /* text form */
	uint16_t port;      /* 0 = absent */
};

#define MX_SPAN_F_SHARED 0x1u /* Zipkin `shared`: server half of a shared id */
#define MX_SPAN_F_DEBUG 0x2u  /* Zipkin `debug`: force sampling (X-B3-Flags: 1) */

struct mx_span {
	uint8_t trace_id[16]; /* big-endian; a 64-bit id is zero-extended */
	uint8_t span_id[8];
	uint8_t parent_span_id[8]; /* all zero = root */
	struct mx_str trace_state;
	uint32_t flags;       /* OTLP Span.flags (W3C flags in bits 0-7) */
	uint32_t mx_flags;    /* MX_SPAN_F_* */
	struct mx_str name;
	uint8_t kind;         /* enum mx_span_kind */
	uint8_t status_code;  /* enum mx_status_code */
	struct mx_str status_message;
	uint64_t start_ns;
	uint64_t end_ns;
	struct mx_attrs attrs;
	uint32_t dropped_attrs;
	struct mx_event *events;
	uint32_t n_events;
	uint32_t dropped_events;
	struct mx_link *links;
	uint32_t n_links;
	uint32_t dropped_links;
	struct mx_endpoint local;  /* Zipkin localEndpoint, else empty */
	struct mx_endpoint remote; /* Zipkin remoteEndpoint, else empty */
	const struct mx_resource *resource; /* never NULL in a valid batch */
	const struct mx_scope *scope;       /* never NULL in a valid batch */
};

/* What one request delivered. Spans are an array grown by mx_batch_add_span();
 * resources and scopes are referenced from the spans. */
struct mx_batch {
	struct mx_arena arena;
	struct mx_span *spans;
	uint32_t n_spans;
	uint32_t cap_spans;
	uint32_t rejected_spans; /* dropped by the decoder on their content */
	uint64_t received_ns;    /* arrival time, set by the receiver */
};

/* Allocates an empty batch whose arena holds at most `arena_cap` bytes.
 * Returns NULL only if malloc fails. Release with mx_batch_free(). */
struct mx_batch *mx_batch_new(size_t arena_cap);

/* Releases the batch and everything in its arena. Accepts NULL. */
void mx_batch_free(struct mx_batch *b);

/* Makes room for `n` more spans so that the next `n` calls of
 * mx_batch_add_span() do not move the span array. Returns MX_OK or MX_ENOMEM
 * (arena cap reached). */
int mx_batch_reserve(struct mx_batch *b, uint32_t n);

/* Appends a zeroed span (resource and scope NULL) and returns it, or NULL
 * when the arena cap is reached. The span array grows by doubling inside the
 * arena, so a pointer returned earlier is only valid until the array grows:
 * keep indexes, or reserve first with mx_batch_reserve(). */
struct mx_span *mx_batch_add_span(struct mx_batch *b);

/* Copies `len` bytes into the batch arena; returns an mx_str (ptr NULL on cap
 * failure with len 0, which callers detect with mx_str_failed()). */
struct mx_str mx_batch_str(struct mx_batch *b, const char *src, size_t len);

/* Returns the string value of attribute `key` in `attrs`, or an empty mx_str
 * (ptr NULL) when absent or not a string. */
struct mx_str mx_attrs_get_str(const struct mx_attrs *attrs, const char *key);

/* Returns the service name of a span: resource attribute `service.name`, else
 * the local endpoint's service name, else "unknown_service". */
struct mx_str mx_span_service(const struct mx_span *s);

/* True when all `n` bytes of `id` are zero. */
bool mx_id_is_zero(const uint8_t *id, size_t n);

/* Parses a hex id of 1..2*n digits (case-insensitive) into n big-endian bytes,
 * left-padding with zeros. Returns MX_OK or MX_EINVAL. */
int mx_hex_to_id(const char *hex, size_t hexlen, uint8_t *out, size_t n);

/* Writes 2*n lower-case hex digits and a NUL into `out` (2*n+1 bytes). */
void mx_id_to_hex(const uint8_t *id, size_t n, char *out);

/* Formats a trace id as Jaeger and Zipkin do: 16 hex digits when the high
 * 64 bits are zero, else 32. `out` must hold 33 bytes. Returns the length. */
size_t mx_trace_id_to_hex(const uint8_t id[16], char *out);

/* True when `s` holds exactly the `n` bytes at `c`. */
static inline bool mx_str_eq(struct mx_str s, const char *c, size_t n)
{
	return s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}

#define MX_STR_LIT(lit) ((struct mx_str){ (lit), sizeof(lit) - 1 })

#endif
