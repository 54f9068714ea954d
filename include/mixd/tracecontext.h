/*
 * mixd/tracecontext.h - trace-context propagation for proxies that embed
 * libmixd: read the caller's trace context from request headers, continue
 * it in a child span, and write it into outgoing request headers.
 *
 * @section formats Supported formats
 *
 *  - W3C Trace Context: `traceparent` and `tracestate` (MIXD_TC_W3C).
 *  - B3 single header: `b3` (MIXD_TC_B3_SINGLE).
 *  - B3 multiple headers: `X-B3-TraceId`, `X-B3-SpanId`,
 *    `X-B3-ParentSpanId`, `X-B3-Sampled`, `X-B3-Flags` (MIXD_TC_B3_MULTI).
 *  - Jaeger: `uber-trace-id` (MIXD_TC_JAEGER). Baggage (`uberctx-*`,
 *    `jaeger-baggage`) and `jaeger-debug-id` are not handled.
 *
 * @section model Identifiers
 *
 * Trace ids are always held as 16 bytes, big-endian. A 64-bit trace id is
 * zero-extended: bytes 0..7 are zero and bytes 8..15 hold the id. Formats
 * that carry a variable width (B3, uber-trace-id) are written with 16 hex
 * digits when the upper half is zero and #mixd_trace_context.trace_id_128
 * is false, and with 32 hex digits otherwise; traceparent always carries 32.
 * An all-zero trace id or span id is never valid on the wire.
 *
 * @section carriers Carriers
 *
 * The library never touches a proxy's header storage itself. The caller
 * passes a getter (for extraction) or a setter (for injection) and an opaque
 * carrier pointer that is handed back to it, so nginx, Envoy filters or a
 * plain array of strings can all be plugged in.
 *
 * @section usage Typical use in a proxy
 *
 * @code
 *	struct mixd_trace_context in, span;
 *	int fmt = mixd_tc_extract(get_hdr, downstream_req, MIXD_TC_ALL, &in);
 *	mixd_tc_child(&in, &span, mixd_reporter_sample_rate(r));
 *	// forward in the format the caller used, or in all of them
 *	mixd_tc_inject(&span, fmt > 0 ? (unsigned)fmt : MIXD_TC_ALL,
 *		       set_hdr, upstream_req);
 *	...
 *	if (mixd_tc_is_sampled(&span))
 *		mixd_record_span(r, &finished); // ids copied from span
 * @endcode
 *
 * @section threads Threads, memory, signals
 *
 * Every function here is thread-safe, takes no lock, never aborts and never
 * allocates. Extraction and injection make no system call; a thread's first
 * id (mixd_tc_child(), mixd_tc_new_root(), mixd_random_*()) makes one
 * getrandom(2) call and, once per process, registers a fork handler,
 * which takes a lock. Identifiers come
 * from a per-thread xoshiro256** generator seeded with getrandom(2) the first
 * time a thread asks for one, and re-seeded in the child after fork(2)
 * (through pthread_atfork). Processes created with a raw clone(2) that
 * bypasses the C library's fork handlers are not detected.
 */
#ifndef MIXD_TRACECONTEXT_H
#define MIXD_TRACECONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mixd.h" /* MIXD_API, enum mixd_err */

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup formats Format bits
 * Passed as a mask to mixd_tc_extract() and mixd_tc_inject(); the value
 * returned by mixd_tc_extract() is one of them, or #MIXD_TC_NONE.
 * @{
 */
#define MIXD_TC_NONE      0x00u /**< no context found */
#define MIXD_TC_W3C       0x01u /**< traceparent (+ tracestate) */
#define MIXD_TC_B3_SINGLE 0x02u /**< b3 */
#define MIXD_TC_B3_MULTI  0x04u /**< X-B3-TraceId, X-B3-SpanId, ... */
#define MIXD_TC_JAEGER    0x08u /**< uber-trace-id */
#define MIXD_TC_ALL       0x0fu /**< every format above */
/** @} */

/**
 * @defgroup sampling Sampling states (#mixd_trace_context.sampled)
 * A zero-initialised context defers, so `{0}` is "no context, no decision".
 * @{
 */
#define MIXD_SAMPLED_DEFER 0  /**< no decision yet: the next hop decides */
#define MIXD_SAMPLED_YES   1  /**< record and report this trace */
#define MIXD_SAMPLED_NO    -1 /**< do not record this trace */
/** @} */

/** Longest tracestate kept, in characters (the W3C minimum to propagate). */
#define MIXD_TC_TRACESTATE_MAX 512

/**
 * A trace context: who the caller is in which trace, and whether the trace
 * is sampled. After mixd_tc_extract() it describes the remote caller's span;
 * after mixd_tc_child() it describes the local span, ready for injection
 * into requests that span makes.
 */
struct mixd_trace_context {
	uint8_t trace_id[16];      /**< big-endian; 64-bit ids zero-extended */
	uint8_t span_id[8];        /**< big-endian; all zero when !has_ids */
	uint8_t parent_span_id[8]; /**< parent of span_id; all zero = root */
	int sampled;               /**< MIXD_SAMPLED_YES, _NO or _DEFER */
	bool debug;                /**< forced sampling; implies sampled YES */
	bool has_ids;              /**< false: a sampling decision only,
	                                such as `b3: 0` */
	bool trace_id_128;         /**< write 32 hex digits in B3 and Jaeger
	                                even if the upper half is zero */
	bool random_trace_id;      /**< W3C flag 0x02: the right-most 7 bytes
	                                of trace_id are random */
	size_t tracestate_len;     /**< length of tracestate, 0 = none */
	char tracestate[MIXD_TC_TRACESTATE_MAX + 1]; /**< validated W3C
	                                tracestate, NUL-terminated */
};

/**
 * Header getter supplied by the caller.
 *
 * @param carrier the pointer given to mixd_tc_extract().
 * @param name    header name in lower case, NUL-terminated. The getter must
 *                match names case-insensitively.
 * @param len     receives the value's length.
 * @return the header's value (need not be NUL-terminated; must stay valid
 *         until mixd_tc_extract() returns), or NULL if absent. A repeated
 *         header should yield its first value, except `tracestate`, whose
 *         values should be joined with "," as RFC 9110 allows.
 */
typedef const char *(*mixd_header_get)(void *carrier, const char *name,
				       size_t *len);

/**
 * Header setter supplied by the caller. It should replace any existing
 * header of the same name.
 *
 * @param carrier the pointer given to mixd_tc_inject().
 * @param name    header name in lower case, NUL-terminated (lower case is
 *                what HTTP/2 and gRPC require; HTTP/1 is case-insensitive).
 * @param value   the value, NUL-terminated, in a buffer that is reused
 *                after the setter returns: copy it.
 * @param len     strlen(value).
 * @return 0 on success; any other value stops mixd_tc_inject(), which
 *         returns it. A negative value is recommended (e.g. MIXD_ENOMEM).
 */
typedef int (*mixd_header_set)(void *carrier, const char *name,
			       const char *value, size_t len);

/**
 * Reads a trace context from request headers.
 *
 * The formats in @p formats are tried in this fixed order, and the first
 * one that is present and valid wins; a malformed header is ignored as if
 * absent and the next format is tried:
 *  1. `traceparent` (then `tracestate`, only if traceparent was valid);
 *  2. `b3`;
 *  3. `X-B3-*`;
 *  4. `uber-trace-id`.
 *
 * Validation rules, per format:
 *  - traceparent: lower-case hex only. Version `ff` is invalid. Version 00
 *    is exactly 55 characters; a higher version is read if it has at least
 *    55 characters and character 55, if present, is '-'. Zero trace or
 *    parent ids are invalid. The sampled bit and the random-id bit are kept.
 *    A tracestate with an invalid or duplicate member, or more than 32
 *    members, is dropped whole; a valid one is re-joined without optional
 *    whitespace and empty members, and, if over #MIXD_TC_TRACESTATE_MAX,
 *    cut by whole members: members over 128 characters first (from the
 *    right), then from the right.
 *  - b3: `{trace}-{span}[-{state}[-{parent}]]` or a bare `{state}`, where
 *    state is `1`, `0` or `d` (debug).
 *  - X-B3-*: the trace id (16 or 32 hex digits) and span id (16) must both
 *    be present and valid, or the headers carry only a sampling state.
 *    `X-B3-Sampled` is `1`/`0` (`true`/`false` accepted); any other value
 *    is treated as absent. `X-B3-Flags: 1` means debug. A missing or zero
 *    parent id means a root span; an invalid one rejects the headers.
 *  - uber-trace-id: `{trace}:{span}:{parent}:{flags}`, URL-decoded first
 *    (`%3A`); ids are unpadded hex (trace 1-32 digits, span 1-16, parent
 *    `0` for none), flags are decimal (1-2 hex digits accepted when not
 *    decimal); bit 0x01 sampled, 0x02 debug. Jaeger has no "defer" state:
 *    a clear sampled bit reads as MIXD_SAMPLED_NO.
 * B3 and Jaeger accept upper-case hex; traceparent does not (the spec says
 * so). Leading and trailing spaces and tabs are ignored in every value.
 * A 32-digit trace id whose upper half is zero counts as a 64-bit id.
 *
 * @param get     the header getter; must not be NULL.
 * @param carrier handed to @p get.
 * @param formats mask of MIXD_TC_* bits to consider.
 * @param out     receives the context. It is always written: with the
 *                extracted context, or with an empty one (no ids,
 *                MIXD_SAMPLED_DEFER) when nothing matched.
 * @return the MIXD_TC_* bit of the format used (its context may hold only
 *         a sampling decision, see #mixd_trace_context.has_ids),
 *         MIXD_TC_NONE if no format matched, or #MIXD_EINVAL if @p get or
 *         @p out is NULL.
 */
MIXD_API int mixd_tc_extract(mixd_header_get get, void *carrier,
				unsigned formats,
				struct mixd_trace_context *out);

/**
 * Writes a trace context into request headers, once per requested format.
 *
 *  - MIXD_TC_W3C: `traceparent` as version 00, flags = sampled (0x01,
 *    also set for debug) | random id (0x02, if #random_trace_id); then
 *    `tracestate` if non-empty.
 *  - MIXD_TC_B3_SINGLE: `b3`. With ids: `{trace}-{span}`, plus
 *    `-{1|0|d}` unless deferred, plus `-{parent}` when there is a parent
 *    and a state. Without ids: the bare state (`1`, `0` or `d`).
 *  - MIXD_TC_B3_MULTI: `x-b3-traceid`, `x-b3-spanid`, `x-b3-parentspanid`
 *    (only if non-zero), and either `x-b3-flags: 1` (debug) or
 *    `x-b3-sampled: 1|0` (omitted when deferred).
 *  - MIXD_TC_JAEGER: `uber-trace-id: {trace}:{span}:{parent or 0}:{flags}`
 *    with flags 0, 1 or 3 (debug) in decimal.
 * A context without ids writes only what can carry a bare sampling
 * decision (b3 and X-B3-Sampled/X-B3-Flags); traceparent and uber-trace-id
 * are skipped. Hex is written in lower case.
 *
 * @param ctx     the context, normally the local span from mixd_tc_child().
 * @param formats mask of MIXD_TC_* bits to write.
 * @param set     the header setter; must not be NULL.
 * @param carrier handed to @p set.
 * @return #MIXD_OK, #MIXD_EINVAL if @p ctx or @p set is NULL, if @p ctx
 *         has ids that are zero or a tracestate_len over
 *         #MIXD_TC_TRACESTATE_MAX (nothing is written then), or the first
 *         non-zero value returned by @p set (headers already set stay
 *         set, the rest are not written).
 */
MIXD_API int mixd_tc_inject(const struct mixd_trace_context *ctx,
			       unsigned formats, mixd_header_set set,
			       void *carrier);

/**
 * Starts a local span under @p parent.
 *
 * The child always gets a span id of its own: B3's shared span ids (a
 * server reusing its client's span id, Zipkin's `shared`) are not made.
 *
 * With a parent that has ids, the child keeps its trace id, width flags and
 * tracestate, gets a new random span id, and its parent_span_id is the
 * parent's span_id. Without a parent (NULL, a sampling-only context, or
 * one whose ids are zero) a new trace is started as by mixd_tc_new_root()
 * with a 128-bit trace id, keeping the parent's decision if it had one.
 *
 * Sampling: a parent's YES or NO decision and its debug flag are inherited
 * unchanged (debug forces YES). When the parent defers, or there is no
 * parent, the child decides with @p sample_rate: the decision is a pure
 * function of the trace id's low 56 bits, so every hop using the same rate
 * agrees on the same trace. A rate >= 1 samples all, <= 0 or NaN none.
 *
 * @param parent      the extracted context, or NULL. May equal @p child.
 * @param child       receives the local span's context.
 * @param sample_rate probability in [0, 1] used when no decision exists.
 */
MIXD_API void mixd_tc_child(const struct mixd_trace_context *parent,
			       struct mixd_trace_context *child,
			       double sample_rate);

/**
 * Starts a new trace: random non-zero trace and span ids, no parent, no
 * tracestate, random_trace_id set, sampling decided with @p sample_rate as
 * in mixd_tc_child().
 *
 * @param ctx          receives the context.
 * @param sample_rate  probability in [0, 1].
 * @param trace_id_128 true for a 128-bit trace id, false for a 64-bit one
 *                     (upper half zero), as 64-bit-only Zipkin fleets need.
 */
MIXD_API void mixd_tc_new_root(struct mixd_trace_context *ctx,
				  double sample_rate, bool trace_id_128);

/**
 * Whether spans of this context should be recorded: true when sampled is
 * MIXD_SAMPLED_YES or debug is set. NULL gives false.
 */
MIXD_API bool mixd_tc_is_sampled(const struct mixd_trace_context *ctx);

/**
 * Fills fresh random identifiers. Either pointer may be NULL. The ids are
 * never all zero. Cheap (a few ns) after the first call in a thread, which
 * seeds the thread's generator with getrandom(2); if the kernel's pool is
 * not ready it falls back to a time/pid/address-derived seed rather than
 * block.
 *
 * @param trace_id16 receives a 128-bit trace id (16 bytes), or NULL.
 * @param span_id8   receives a 64-bit span id (8 bytes), or NULL.
 */
MIXD_API void mixd_random_ids(uint8_t *trace_id16, uint8_t *span_id8);

/**
 * Returns 64 uniformly random bits from the calling thread's generator
 * (for ids, sampling or retry jitter). Not for cryptographic use. May
 * return 0.
 */
MIXD_API uint64_t mixd_random_u64(void);

#ifdef __cplusplus
}
#endif

#endif /* MIXD_TRACECONTEXT_H */
