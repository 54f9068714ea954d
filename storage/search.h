/*
 * search.h - trace search and the name lists behind the Jaeger and Zipkin
 * query APIs (services, operations, remote services, autocomplete values).
 *
 * Semantics shared by both APIs: a trace matches when ONE of its spans
 * satisfies every given condition at once: its service (resource
 * service.name as in mx_span_service()), its name, its kind, its remote
 * service (remote endpoint service name, else attribute `peer.service`),
 * every tag condition, its duration within [min, max], and its start time
 * within the window. Results are whole traces (as mx_store_get_trace()
 * returns them), newest first, at most `limit`.
 *
 * Cost is bounded: the index is scanned newest first and stops at `limit`
 * hits, at `max_candidates` trace segments examined, or at the deadline;
 * stopping early for the last two sets `truncated`.
 */
#ifndef MX_SEARCH_H
#define MX_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "../model/span.h"
#include "store.h"

/* One tag condition. */
struct mx_tag_cond {
	struct mx_str key;
	struct mx_str value;
	/* MX_TAG_EQ: attribute `key` (span, or resource attribute for Jaeger)
	 * rendered as text equals `value` (ints, bools, doubles compared by
	 * their text form: "500", "true").
	 * MX_TAG_WORD (Zipkin annotationQuery bare word): an event name equals
	 * `key` or an attribute named `key` exists. */
	enum { MX_TAG_EQ = 0, MX_TAG_WORD = 1 } op;
};

struct mx_search_query {
	struct mx_str service;        /* empty: any service */
	struct mx_str operation;      /* span name; empty: any */
	struct mx_str remote_service; /* empty: any */
	int kind;                     /* enum mx_span_kind, or -1: any */
	const struct mx_tag_cond *tags;
	uint32_t n_tags;
	bool tags_match_resource;     /* Jaeger: process tags count too */
	uint64_t start_min_ns;        /* span start window (inclusive) */
	uint64_t start_max_ns;
	uint64_t min_duration_ns;     /* 0: no minimum */
	uint64_t max_duration_ns;     /* 0: no maximum */
	uint32_t limit;               /* traces returned; 0 means 20 */
	uint32_t max_spans_per_trace; /* 0 means 100000 */
	uint32_t max_candidates;      /* trace segments examined; 0 = 1000000 */
	uint64_t deadline_ns;         /* CLOCK_MONOTONIC; 0: none */
};

struct mx_search_result {
	struct mx_batch **traces; /* each the spans of one trace (malloc'd) */
	uint32_t n;
	bool truncated;           /* stopped by max_candidates or deadline */
	/* work done (for tests and benchmarks): segment records whose spans
	 * were read, and records ruled out by their tag filter unread */
	uint32_t segments_decoded;
	uint32_t segments_filtered;
};

/* Runs a search. On MX_OK `out` holds the traces (free with
 * mx_search_result_free()). Errors: MX_EINVAL (start_min > start_max),
 * MX_ENOMEM, MX_ESTORE. */
int mx_store_search(struct mx_store *st, const struct mx_search_query *q,
		    struct mx_search_result *out);

/* Frees the traces of a result. Accepts NULL and an empty result. */
void mx_search_result_free(struct mx_search_result *r);

/* An operation: span name and kind (enum mx_span_kind). */
struct mx_operation {
	struct mx_str name;
	uint8_t kind;
};

/* Lists the operations seen for `service` (all kinds when kind < 0), sorted
 * by name then kind, allocated in `arena`. */
int mx_store_operations(struct mx_store *st, struct mx_str service, int kind,
			struct mx_arena *arena, struct mx_operation **ops,
			uint32_t *n);

/* Lists the remote service names seen for `service`, sorted. */
int mx_store_remote_services(struct mx_store *st, struct mx_str service,
			     struct mx_arena *arena, struct mx_str **names,
			     uint32_t *n);

/* Lists the values seen for the autocomplete tag `key` (only keys given in
 * mx_store_config.autocomplete_keys are recorded), sorted. */
int mx_store_tag_values(struct mx_store *st, struct mx_str key,
			struct mx_arena *arena, struct mx_str **values,
			uint32_t *n);

#endif
