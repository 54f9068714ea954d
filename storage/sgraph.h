/*
 * sgraph.h - the service graph built from traces: dependency links
 * (Zipkin's /api/v2/dependencies, Jaeger's /api/dependencies) kept per
 * minute in LMDB, and Tempo's service-graph and span metrics
 * (traces_service_graph_*, traces_spanmetrics_*) kept in memory for
 * /metrics. Facts: istio-kiali-compat.md §4 and §5.
 *
 * How an edge is found: a CLIENT (or PRODUCER) span and the SERVER (or
 * CONSUMER) span whose parent it is form one request, keyed by trace id
 * and the client's span id; a Zipkin shared server span (same id as its
 * client) pairs under its own id. The halves usually arrive in different
 * batches, from different processes, in any order. The submitting thread
 * extracts what matters of each span (storage/sgraph_fact.c); the writer,
 * after the commit that stored the batch, puts the halves into a bounded
 * pairing table (storage/sgraph.c). A pair is counted when its second half
 * arrives; a half still alone `wait` after it arrived expires: a client
 * span with a peer (remote service, peer.service, db.name, db.system)
 * makes an edge to that virtual node, a root server span an edge from
 * "user" (metrics only), anything else counts as unpaired. A client span
 * of a database call (db.name or db.system) is an edge to the database at
 * once. Failed = either half has status ERROR (a Zipkin `error` tag and a
 * Jaeger error=true map to it). Halves seen again within the wait (a
 * client re-sending) are ignored.
 *
 * Dependency counts go to the `edges` database per 1-minute bucket of the
 * edge's start time in the writer's next transaction (storage/SCHEMA.md,
 * "Service graph"); the Tempo counters and histograms live in memory only
 * and start from zero when mixd restarts, as Tempo's do.
 */
#ifndef MX_SGRAPH_H
#define MX_SGRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../model/arena.h"
#include "../model/span.h"
#include "store.h"

#define MX_SG_DEFAULT_WAIT_NS (10ull * 1000000000ull)
#define MX_SG_DEFAULT_MAX_PENDING 1000000u /* pairing table entries */
#define MX_SG_BUCKET_NS (60ull * 1000000000ull) /* dependency buckets */
#define MX_SG_NAME_MAX 250u /* label bytes kept of a service or span name */
#define MX_SG_MAX_EDGE_SERIES 5000u  /* (client, server, connection_type) */
#define MX_SG_MAX_SIDE_SERIES 5000u  /* unpaired / dropped per service */
#define MX_SG_MAX_SPAN_SERIES 20000u /* (service, span_name, kind, status) */

/* connection_type label values */
enum mx_sg_conn {
	MX_SG_CONN_NONE = 0,      /* "" */
	MX_SG_CONN_MESSAGING = 1, /* "messaging_system" */
	MX_SG_CONN_DATABASE = 2,  /* "database" */
	MX_SG_CONN_VIRTUAL = 3,   /* "virtual_node" */
};

/* The label value of a connection type ("" for unknown values). */
const char *mx_sg_conn_name(uint8_t conn);

/* Histogram buckets (counts per bucket, not cumulative: bucket i holds
 * values <= bound i, the last one the rest). Service graph: Tempo's
 * ExponentialBuckets(0.1, 2, 8) s; span metrics: (0.002, 2, 14) s. */
#define MX_SG_HIST_N 9
#define MX_SG_HIST_BOUNDS_NS                                                \
	{ 100000000ull, 200000000ull, 400000000ull, 800000000ull,           \
	  1600000000ull, 3200000000ull, 6400000000ull, 12800000000ull }
#define MX_SM_HIST_N 15
#define MX_SM_HIST_BOUNDS_NS                                                \
	{ 2000000ull, 4000000ull, 8000000ull, 16000000ull, 32000000ull,     \
	  64000000ull, 128000000ull, 256000000ull, 512000000ull,            \
	  1024000000ull, 2048000000ull, 4096000000ull, 8192000000ull,       \
	  16384000000ull }

/* Sets the pairing wait (0: MX_SG_DEFAULT_WAIT_NS) and the most entries
 * the pairing table holds (0: MX_SG_DEFAULT_MAX_PENDING); halves that
 * find it full are dropped and counted. Takes effect for halves arriving
 * afterwards. Thread-safe; returns MX_OK or MX_EINVAL (NULL store). */
int mx_store_sgraph_configure(struct mx_store *st, uint64_t wait_ns,
			      uint32_t max_pending);

/* One traces_service_graph_* series (labels client, server,
 * connection_type) with its cumulative values. */
struct mx_sg_edge_series {
	struct mx_str client, server;
	uint8_t conn; /* enum mx_sg_conn */
	uint64_t requests, failed;
	uint64_t server_b[MX_SG_HIST_N], client_b[MX_SG_HIST_N];
	uint64_t server_sum_ns, client_sum_ns;
};

/* Unpaired and dropped halves of one service on one side. */
struct mx_sg_side_series {
	struct mx_str service;
	uint8_t server; /* 0: label `client`, 1: label `server` */
	uint64_t unpaired, dropped;
};

/* One traces_spanmetrics_* series. */
struct mx_sm_series {
	struct mx_str service, span_name;
	uint8_t kind;   /* enum mx_span_kind */
	uint8_t status; /* enum mx_status_code */
	uint64_t calls;
	uint64_t b[MX_SM_HIST_N];
	uint64_t sum_ns;
};

/* Counters of the service graph itself. */
struct mx_sg_stats {
	uint64_t pending;        /* pairing table entries now */
	uint64_t paired;         /* client/server pairs completed */
	uint64_t expired_edges;  /* edges made from an expired half */
	uint64_t duplicates;     /* halves ignored as seen before */
	uint64_t series_overflow; /* updates lost: a series table was full */
	uint64_t facts_failed;   /* batches whose spans could not be read */
	uint64_t dep_dropped;    /* dependency counts lost (too many at once) */
	uint64_t dep_rows_expired; /* `edges` rows deleted by retention */
	uint64_t wait_ns, max_pending;
};

/* A copy of the values /metrics shows, in creation order (stable between
 * scrapes). The label strings belong to the store and stay valid until
 * mx_store_close(). */
struct mx_sg_snap {
	struct mx_sg_edge_series *edges;
	size_t n_edges;
	struct mx_sg_side_series *sides;
	size_t n_sides;
	struct mx_sm_series *spans;
	size_t n_spans;
	struct mx_sg_stats stats;
};

/* Fills `out` (holding the store's lock only to copy). Returns MX_OK, or
 * MX_ENOMEM (the snapshot is then empty but the stats; free it all the
 * same). */
int mx_store_sgraph_snapshot(struct mx_store *st, struct mx_sg_snap *out);

/* Releases a snapshot's arrays. Accepts NULL and a zeroed one. */
void mx_sg_snap_free(struct mx_sg_snap *s);

/* One dependency link: calls (and failed calls) from parent to child. */
struct mx_dep_link {
	struct mx_str parent, child;
	uint64_t calls, errors;
};

/* Reads the links of the 1-minute buckets that overlap [t0_ns, t1_ns]
 * (a bucket counts when it starts at or before t1_ns and ends after
 * t0_ns), summed per (parent, child) and sorted by parent then child;
 * names are copied into `arena`. Counts of the last second or so (not yet
 * written by the writer) are not seen. Returns MX_OK with *out / *n set,
 * MX_ENOMEM (arena cap) or MX_ESTORE. */
int mx_store_dependencies(struct mx_store *st, uint64_t t0_ns, uint64_t t1_ns,
			  struct mx_arena *arena, struct mx_dep_link **out,
			  uint32_t *n);

#endif
