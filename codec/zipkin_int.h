/*
 * zipkin_int.h - internal interface shared by the Zipkin codec files (not
 * for use outside codec/zipkin_*.c).
 *
 * Decoding: each decoder (v2 JSON, proto3, v1 JSON) reads its wire format
 * and fills spans through the builder functions here (zipkin_common.c), so
 * that the mapping of model/MAPPING.md (special tags to status and scope,
 * one resource per service name, annotation text to events, caps) is
 * written once. The JSON readers of the v2 and v1 decoders share the
 * mx_zk_json_* helpers of zipkin_json_decode.c.
 *
 * Encoding: the JSON and proto encoders take the derived Zipkin view of a
 * span (endpoints, the tag list, annotation text, times) from
 * zipkin_out.c.
 */
#ifndef MX_ZIPKIN_INT_H
#define MX_ZIPKIN_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../model/buf.h"
#include "../model/span.h"
#include "codec.h"

/* A builder step's verdict besides MX_OK and negative errors: the span is
 * rejected on its content; mx_zk.why says why. */
#define ZK_REJECT 1

/* Zipkin JSON bodies nest at most 5 levels (v1: list, span, annotations,
 * annotation, endpoint); anything deeper than this is refused whole. */
#define ZK_MAX_JSON_DEPTH 16

/* An open-addressing table of shared resources or scopes, keyed by two
 * strings (service name and "", or scope name and version). */
struct zk_tab {
	struct zk_slot *slots;
	uint32_t cap; /* power of two, 0 before first use */
	uint32_t n;
};

/* Decoder context of one body. */
struct mx_zk {
	struct mx_batch *b;
	const struct mx_decode_limits *lim;
	struct mx_errmsg *err;
	const char *why;       /* rejection reason (static text) */
	struct zk_tab res;     /* resources by service name */
	struct zk_tab scopes;  /* scopes by (name, version) */
	struct mx_buf scratch; /* number text, annotation JSON checks */
};

/* State of one span being filled. */
struct mx_zk_span {
	struct mx_span *s;
	uint32_t cap_attrs;  /* room in s->attrs.items */
	uint32_t cap_events; /* room in s->events */
	bool has_error;      /* an `error` tag was seen */
	struct mx_str error_msg;
	int status_tag;      /* -1, else the MX_STATUS_* of `otel.status_code` */
	struct mx_str scope_name, scope_version;
	bool keys_unique;    /* tag keys are known distinct: skip the check */
};

/* Sets up `zk` for one body; release with mx_zk_done(). */
void mx_zk_init(struct mx_zk *zk, struct mx_batch *b,
		const struct mx_decode_limits *lim, struct mx_errmsg *err);

/* Releases the scratch memory of `zk` (the batch keeps everything else). */
void mx_zk_done(struct mx_zk *zk);

/* Records a rejection reason and returns ZK_REJECT. */
int mx_zk_reject(struct mx_zk *zk, const char *why);

/* Counts one rejected span and keeps the first reason in the message. */
void mx_zk_count_reject(struct mx_zk *zk, const char *why);

/* Appends a span with these ids (`pid` NULL = root) to the batch, whose
 * span array the caller has reserved. NULL when the arena cap is hit. */
struct mx_span *mx_zk_add_span(struct mx_zk *zk, const uint8_t *tid,
			       const uint8_t *sid, const uint8_t *pid);

/* Ends the decoding of one input span that added model spans from index
 * `first` on: for ZK_REJECT drops them, counts one rejection and returns
 * MX_OK; any other `rc` is returned as it is. */
int mx_zk_settle(struct mx_zk *zk, uint32_t first, int rc);

/* Parses a hex id of 1..2*n digits (left-padded) into `out`. Returns 1 when
 * valid and non-zero, 0 when all zero, -1 when not hex or too long. */
int mx_zk_hex_id(const char *p, size_t len, uint8_t *out, size_t n);

/* Starts filling span `s` that has `n_tags` tags and `n_events`
 * annotations: checks the event cap (ZK_REJECT), allocates the arrays (the
 * attribute cap is checked by mx_zk_tag(), as special tags do not count). */
int mx_zk_begin(struct mx_zk *zk, struct mx_zk_span *st, struct mx_span *s,
		size_t n_tags, size_t n_events);

/* Copies `n` bytes into the arena as a model string, or points at them when
 * `copy` is false (the bytes already live in the arena). Checks the value
 * cap (ZK_REJECT). */
int mx_zk_str(struct mx_zk *zk, const char *p, size_t n, bool copy,
	      struct mx_str *out);

/* Adds one tag: `error` -> status ERROR and message, `otel.status_code`
 * OK/ERROR/UNSET -> status, `otel.scope.*` / `otel.library.*` -> scope,
 * anything else a string attribute (a repeated key replaces the value).
 * More attributes than lim->max_attrs, or than tags announced to
 * mx_zk_begin(), are ZK_REJECT. */
int mx_zk_tag(struct mx_zk *zk, struct mx_zk_span *st, const char *k,
	      size_t kn, const char *v, size_t vn, bool copy);

/* Adds one annotation as an event at ts_us * 1000. A value `name {json}`
 * whose JSON is an object written exactly as the encoders write event
 * attributes becomes an event `name` with those attributes. */
int mx_zk_annotation(struct mx_zk *zk, struct mx_zk_span *st, uint64_t ts_us,
		     const char *v, size_t n, bool copy);

/* Sets start/end from Zipkin microseconds: ZK_REJECT when the timestamp
 * does not fit in nanoseconds; an end that does not is clamped. */
int mx_zk_times(struct mx_zk *zk, struct mx_span *s, bool has_ts,
		uint64_t ts_us, uint64_t dur_us);

/* Sets an endpoint address from its text: kept when it parses as `family`
 * (AF_INET or AF_INET6), dropped otherwise. */
int mx_zk_ip_text(struct mx_zk *zk, int family, const char *p, size_t n,
		  bool copy, struct mx_str *out);

/* Sets an endpoint address from 4 or 16 bytes (other lengths: dropped). */
int mx_zk_ip_bytes(struct mx_zk *zk, const uint8_t *p, size_t n,
		   struct mx_str *out);

/* Ends the span: status from the tags, the shared scope, the shared
 * resource of s->local.service_name. */
int mx_zk_finish(struct mx_zk *zk, struct mx_zk_span *st);

/* Maps a kind name (case-insensitive) to MX_KIND_*; unknown or empty gives
 * MX_KIND_UNSPECIFIED. */
uint8_t mx_zk_kind_parse(const char *p, size_t n);

/* ---- JSON readers shared by the v2 and v1 decoders (zipkin_json_decode.c) */

/* Reports a wrong JSON type for `key` and returns MX_EINVAL. */
int mx_zk_json_type(struct mx_zk *zk, const char *key, const char *want);

/* A lenient microsecond value: integer, decimal string, or a number in
 * fraction/exponent form (rounded). Returns 1 present, 0 absent (missing,
 * null, ""), MX_EINVAL for anything else (message names `key`). */
int mx_zk_json_us(struct mx_zk *zk, const json_t *obj, const char *key,
		  uint64_t *out);

/* A hex id member: sets *state to 1 valid, 0 absent or all zero, -1 bad.
 * MX_EINVAL when present and not a string. */
int mx_zk_json_id(struct mx_zk *zk, const json_t *obj, const char *key,
		  uint8_t *out, size_t n, int *state);

/* The rejection reason for the id states of mx_zk_json_id() (trace id,
 * id, parent id), or NULL when they make a valid span. */
const char *mx_zk_ids_bad(int ts, int ss, int ps);

/* An optional string member copied to the arena (absent/null = empty). */
int mx_zk_json_str(struct mx_zk *zk, const json_t *obj, const char *key,
		   struct mx_str *out);

/* An Endpoint object (NULL, null or `{}` = absent: all empty). */
int mx_zk_json_endpoint(struct mx_zk *zk, const json_t *v, const char *key,
			struct mx_endpoint *out);

/* The text of a tag value: strings as they are, numbers and booleans
 * stringified, arrays and objects as compact JSON (ZK_REJECT over the value
 * cap). Returns MX_OK with the text in *p and *n (valid until the next
 * call), or with *p NULL for JSON null (no tag). */
int mx_zk_json_text(struct mx_zk *zk, const json_t *v, const char **p,
		    size_t *n);

/* Decodes a JSON list of spans (v2 or v1): parses with the nesting bound,
 * checks the top level is an array, reserves the span array and calls
 * `span` for each element. */
int mx_zk_json_list(const char *buf, size_t len,
		    const struct mx_decode_limits *lim, struct mx_batch *out,
		    struct mx_errmsg *err, int (*span)(struct mx_zk *, json_t *));

/* ---- encoder helpers (zipkin_out.c) */

/* Appends a finite double as JavaScript's Number.prototype.toString()
 * writes it (the shortest round-trip digits; exponent form below 1e-6 and
 * from 1e21 on; "0" for -0), which is what the OTel JS Zipkin exporter
 * sends for a double attribute. */
void mx_zk_js_number(struct mx_buf *b, double d);

/* The Zipkin name of a kind, or NULL for INTERNAL/UNSPECIFIED (no kind). */
const char *mx_zk_kind_name(uint8_t kind);

/* The localEndpoint to write: span.local when set (its serviceName filled
 * from the resource when empty), else {serviceName: mx_span_service()}. */
void mx_zk_out_local(const struct mx_span *s, struct mx_endpoint *ep);

/* The remoteEndpoint to write: span.remote, else {serviceName:
 * attribute peer.service} when that is set. False when there is none. */
bool mx_zk_out_remote(const struct mx_span *s, struct mx_endpoint *ep);

/* True when the endpoint has any member set. */
bool mx_zk_ep_set(const struct mx_endpoint *ep);

/* Zipkin timestamp and duration (µs); false when start_ns is 0. */
bool mx_zk_out_times(const struct mx_span *s, uint64_t *ts, uint64_t *dur);

/* Calls fn(ctx, key, value) for each Zipkin tag of `s`, in order: the
 * attributes stringified, otel.status_code, error, otel.scope.name,
 * otel.scope.version, the resource attributes other than service.name. A
 * key written later is not written earlier, so keys are unique. `scratch`
 * holds stringified values (the strings passed are valid during the call).
 * Returns MX_OK or MX_ENOMEM (scratch cap). */
int mx_zk_out_tags(const struct mx_span *s, struct mx_buf *scratch,
		   void (*fn)(void *ctx, struct mx_str k, struct mx_str v),
		   void *ctx);

/* The annotation value of an event: its name, or `name {json}` when it has
 * attributes (the JSON rendered into `scratch`). */
int mx_zk_event_text(const struct mx_event *e, struct mx_buf *scratch,
		     struct mx_str *out);

#endif
