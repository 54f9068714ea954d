/*
 * params.h - query-string parsing shared by the Jaeger and Zipkin query APIs:
 * a parameter source that works with or without HTTP (so that the mapping of
 * parameters to a store search is unit-testable), Go duration strings,
 * strict unsigned integers, `key:value` pairs, comma lists, Jaeger's `tags`
 * JSON object and Zipkin's annotationQuery, plus the clocks a query needs.
 *
 * Parsers never allocate unless they say so; strings they return point into
 * their input. Every parser checks every length and rejects, rather than
 * guesses at, malformed input (MX_EINVAL), so that the handlers can answer
 * 400 with a precise message.
 */
#ifndef MX_PARAMS_H
#define MX_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../collector/http.h"
#include "../model/arena.h"
#include "../model/span.h"
#include "../storage/search.h"

/* Tag conditions one search may carry (more is a 400). */
#define MX_QUERY_MAX_TAGS 32
/* Trace ids one request may name (Jaeger traceID, Zipkin traceMany). */
#define MX_QUERY_MAX_IDS 256
/* Default time budget of one search when a context says 0. */
#define MX_QUERY_DEFAULT_TIMEOUT_MS 5000u

/* Where query parameters come from: the HTTP request, or a test's table. */
struct mx_params {
	/* The first value of `name`, or NULL when absent. A parameter given
	 * without `=` may read as NULL or "" depending on the source. */
	const char *(*get)(void *ctx, const char *name);
	/* Stores up to `max` values of `name` (in order) in `out` and returns
	 * how many there are in all (which may exceed `max`). */
	size_t (*get_all)(void *ctx, const char *name, const char **out,
			  size_t max);
	void *ctx;
};

/* Points `p` at the query string of `req` (mx_http_query and
 * mx_http_query_all); valid while the request is. */
void mx_params_from_http(struct mx_params *p, struct mx_http_req *req);

/* A parameter table for tests and tools: `pairs` is a NULL-terminated array
 * of name, value, name, value, ..., NULL. */
void mx_params_from_pairs(struct mx_params *p, const char *const *pairs);

/* The first value of `name` when present and non-empty, else NULL. */
const char *mx_param(const struct mx_params *p, const char *name);

/* Parses a Go duration string (time.ParseDuration): an optional '+', then
 * one or more decimal numbers with optional fraction, each followed by a
 * unit: ns, us, µs (U+00B5 or U+03BC), ms, s, m, h; "0" alone is zero.
 * Fractions are truncated to whole nanoseconds. Negative durations,
 * values over INT64_MAX ns, a missing unit and empty input are MX_EINVAL. */
int mx_parse_go_duration(const char *s, uint64_t *ns);

/* Parses a non-empty string of decimal digits (no sign, no spaces) into
 * *out. Returns MX_OK or MX_EINVAL (also on overflow of uint64_t). */
int mx_param_parse_u64(const char *s, uint64_t *out);

/* Splits `s` at its FIRST ':' into key and value (pointing into `s`); the
 * value may hold more colons. MX_EINVAL when there is no ':' or the key is
 * empty; an empty value is allowed. */
int mx_split_key_value(const char *s, struct mx_str *key, struct mx_str *value);

/* Splits `s` at every `sep`, trimming spaces and tabs around each element;
 * empty elements are kept (as len 0) so callers can refuse them. Stores at
 * most `max` elements in `out`, sets *n and returns MX_OK, or MX_ETOOBIG
 * when there are more than `max`. An empty `s` gives one empty element. */
int mx_split_list(const char *s, char sep, struct mx_str *out, size_t max,
		  size_t *n);

/* A bounded list of tag conditions being built for one search. */
struct mx_tag_list {
	struct mx_tag_cond items[MX_QUERY_MAX_TAGS];
	uint32_t n;
};

/* Adds an equality condition (key and value are not copied). MX_ETOOBIG
 * when the list is full. */
int mx_tag_list_add(struct mx_tag_list *l, struct mx_str key,
		    struct mx_str value, int op);

/* Parses Jaeger's `tags` parameter, a JSON object whose values are all
 * strings ({"http.status_code":"500"}), appending an MX_TAG_EQ condition per
 * member to `l`; keys and values are copied into `arena`. MX_EINVAL (not an
 * object, a non-string value, bad JSON), MX_ETOOBIG (list full) or
 * MX_ENOMEM (arena). `err` (errlen bytes) receives a message on failure. */
int mx_parse_tags_json(const char *json, struct mx_arena *arena,
		       struct mx_tag_list *l, char *err, size_t errlen);

/* Parses Zipkin's annotationQuery: terms joined by " and "; a `k=v` term is
 * MX_TAG_EQ(k, v) (split at the first '='), a bare word (or `k=`) is
 * MX_TAG_WORD(k); terms are trimmed and empty ones skipped. Strings point
 * into `s`. MX_EINVAL for a term with an empty key, MX_ETOOBIG when the list
 * fills up. */
int mx_parse_annotation_query(const char *s, struct mx_tag_list *l);

/* Parses a trace id of `min_digits`..32 hex digits into 16 big-endian bytes
 * (left-padded). MX_EINVAL otherwise. */
int mx_parse_trace_id(const char *s, size_t len, size_t min_digits,
		      uint8_t id[16]);

/* Wall-clock time (CLOCK_REALTIME) in Unix nanoseconds. */
uint64_t mx_now_wall_ns(void);

/* A search deadline: CLOCK_MONOTONIC now plus `timeout_ms` (0 means
 * MX_QUERY_DEFAULT_TIMEOUT_MS), in ns, as mx_search_query.deadline_ns. */
uint64_t mx_query_deadline_ns(uint32_t timeout_ms);

/* a * b, saturating at UINT64_MAX. */
uint64_t mx_mul_sat(uint64_t a, uint64_t b);

#endif
