/*
 * sgraph_int.h - internals of the service graph (see sgraph.h), shared by
 * storage/sgraph_fact.c (span facts, built on the submitting thread),
 * storage/sgraph.c (the pairing table, writer thread), sgraph_series.c
 * (the metric series and their snapshot), sgraph_db.c (the `edges`
 * database) and the writer's hooks in store.c / store_writer.c. Not part
 * of any API.
 *
 * Concurrency: facts are built by the submitting thread and then only
 * read by the writer. The pairing table, the names and the pending
 * dependency counts are the writer's alone; the series tables change on
 * the writer under `mu`, which snapshots hold while they copy. The wait
 * and the table bound are atomics (set by mx_store_sgraph_configure()).
 */
#ifndef MX_SGRAPH_INT_H
#define MX_SGRAPH_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../model/buf.h"
#include "sgraph.h"

#define MX_DB_EDGES "edges"
#define MX_SG_MAX_PENDING_DEPS 65536u /* dependency counts between commits */

/* pairing key: trace id (16) | span id (8) | 0, or for a root server span
 * trace id | its own span id | 1 (it can only expire) */
#define MX_SG_KEY_LEN 25u
#define MX_SG_SEED 0x7367726170683031ull

enum { MX_SG_SIDE_CLIENT = 0, MX_SG_SIDE_SERVER = 1 };

#define MX_SG_F_ERROR 0x1u /* status ERROR */
#define MX_SG_F_MSG 0x2u   /* PRODUCER / CONSUMER */
#define MX_SG_F_DB 0x4u    /* client: a database call (db.name / db.system) */
#define MX_SG_F_ROOT 0x8u  /* server: a root span */

/* A string of a facts block: bytes [off, off + len) of facts->str, and
 * its mx_hash64(.., MX_SG_SEED) (the writer's lookups use it). */
struct mx_sg_sref {
	uint32_t off, len;
	uint64_t hash;
};

/* One half of a request: a CLIENT / PRODUCER or SERVER / CONSUMER span. */
struct mx_sg_half {
	uint64_t hash; /* mx_hash64(key, MX_SG_KEY_LEN, MX_SG_SEED) */
	uint8_t key[MX_SG_KEY_LEN];
	uint8_t side;  /* MX_SG_SIDE_* */
	uint8_t flags; /* MX_SG_F_* */
	uint64_t start_ns, dur_ns;
	struct mx_sg_sref svc;
	/* client: the virtual node a lone half makes (remote endpoint
	 * service, peer.service, db.name, db.system); server: the caller's
	 * service (remote endpoint service or peer.service) */
	struct mx_sg_sref peer;
	/* client with MX_SG_F_DB: the database node (peer.service,
	 * server.address, network.peer.address[:port], db.name); empty when
	 * none of them is set */
	struct mx_sg_sref db;
};

/* The spans of a batch that share (service, span name, kind, status). */
struct mx_sg_agg {
	struct mx_sg_sref svc, name;
	uint64_t hash;        /* of the batch's table (sgraph_fact.c) */
	uint64_t series_hash; /* mx_sg_span_hash() */
	uint8_t kind, status;
	uint64_t calls, sum_ns;
	uint64_t b[MX_SM_HIST_N];
};

/* What the writer needs of a batch's spans. */
struct mx_sg_facts {
	struct mx_sg_half *halves;
	uint32_t n_halves;
	struct mx_sg_agg *aggs;
	uint32_t n_aggs;
	char *str;
	size_t str_len;
	size_t bytes; /* memory held (counted against the queue) */
};

/* --- a growable open-addressing index of positions (linear probing,
 * backward-shift deletion); the callers compare the candidates --- */

struct mx_sg_slot {
	uint64_t hash;
	uint32_t pos; /* position + 1; 0 = empty */
	uint32_t unused;
};

struct mx_sg_index {
	struct mx_sg_slot *s; /* hash and position together: one cache line */
	uint32_t mask;
	uint32_t used;
};

/* Prepares an index of at least `min_cap` slots (a power of two).
 * Returns false on ENOMEM. */
bool mx_sg_index_init(struct mx_sg_index *x, uint32_t min_cap);

/* Frees the slots. Accepts a zeroed index. */
void mx_sg_index_free(struct mx_sg_index *x);

/* Empties the index (keeps its size). */
void mx_sg_index_clear(struct mx_sg_index *x);

/* Doubles the slots when over half full. Returns false on ENOMEM (the
 * index is unchanged and still usable). */
bool mx_sg_index_reserve(struct mx_sg_index *x);

/* The first slot to probe for hash h, and the next one. */
static inline uint32_t mx_sg_index_start(const struct mx_sg_index *x, uint64_t h)
{
	return (uint32_t)(h ^ (h >> 32)) & x->mask;
}

static inline uint32_t mx_sg_index_next(const struct mx_sg_index *x, uint32_t i)
{
	return (i + 1) & x->mask;
}

/* Puts (h, pos) into the empty slot `i` found by probing. */
static inline void mx_sg_index_put(struct mx_sg_index *x, uint32_t i,
				   uint64_t h, uint32_t pos)
{
	x->s[i].hash = h;
	x->s[i].pos = pos + 1;
	x->used++;
}

/* Removes the entry of position `pos` (hash h); false when absent. */
bool mx_sg_index_del(struct mx_sg_index *x, uint64_t h, uint32_t pos);

/* --- the writer's state --- */

/* A name (service, peer) of the pairing table, reference counted. */
struct mx_sg_name {
	uint64_t hash;
	char *s;       /* NULL: free */
	uint32_t len;
	uint32_t refs;
};

/* One pairing table entry: a half waiting for the other one, or a pair
 * remembered until it expires (so that repeats are not counted again).
 * 64 bytes, one cache line (the ring is 64-byte aligned): a lookup costs
 * the index slot and the entry. */
struct mx_sg_ent {
	uint8_t key[MX_SG_KEY_LEN];
	uint8_t state; /* SG_HAS_CLIENT | SG_HAS_SERVER | SG_DONE (sgraph.c) */
	uint8_t flags; /* MX_SG_F_* of both halves */
	uint8_t unused;
	uint32_t c_svc, c_peer, s_svc, s_peer; /* name ids, 0: none */
	uint32_t c_us, s_us; /* durations, µs (at most ~71 minutes) */
	uint32_t t_s;        /* the client's start, else the server's, Unix s */
	uint64_t expire_ns;
};

/* Pending dependency counts: bucket | parent | 0 | child -> counts. */
struct mx_sg_dep {
	uint64_t hash;
	uint32_t key_off;
	uint32_t key_len;
	uint64_t calls, errors;
};

struct mx_sg_edge_ent {
	struct mx_sg_edge_series v; /* labels point into `labels` */
	uint64_t hash;
	char *labels;
};

struct mx_sg_side_ent {
	struct mx_sg_side_series v;
	uint64_t hash;
	char *labels;
};

struct mx_sm_ent {
	struct mx_sm_series v;
	uint64_t hash;
	char *labels;
};

struct mx_sgraph {
	_Atomic uint64_t wait_ns;
	_Atomic uint32_t max_pending;

	/* pairing table: a ring in arrival order (entries leave at the head
	 * when they expire) and an index by key (writer only) */
	struct mx_sg_ent *ring;
	uint32_t ring_cap; /* power of two */
	uint32_t head, n;
	struct mx_sg_index ring_idx;

	/* names used by the ring (writer only); id = position + 1 */
	struct mx_sg_name *names;
	uint32_t n_names, cap_names;
	uint32_t *free_names;
	uint32_t n_free_names;
	struct mx_sg_index name_idx;

	/* dependency counts not yet in LMDB (writer only) */
	struct mx_sg_dep *deps;
	uint32_t n_deps, cap_deps;
	struct mx_sg_index dep_idx;
	struct mx_buf dep_keys;
	uint64_t last_maint_ns;

	/* the series (changed by the writer under mu) */
	pthread_mutex_t mu;
	struct mx_sg_edge_ent *edges;
	uint32_t n_edges, cap_edges;
	struct mx_sg_index edge_idx;
	struct mx_sg_side_ent *sides;
	uint32_t n_sides, cap_sides;
	struct mx_sg_index side_idx;
	struct mx_sm_ent *spans;
	uint32_t n_spans, cap_spans;
	struct mx_sg_index span_idx;

	atomic_uint_fast64_t st_paired, st_expired_edges, st_dup, st_overflow;
	atomic_uint_fast64_t st_facts_failed, st_dep_dropped, st_rows_expired;
	atomic_uint_fast64_t st_pending;
};

struct mx_store;
struct mx_store_item;

/* The hash of a span-metrics series, from its names' hashes. */
static inline uint64_t mx_sg_span_hash(uint64_t svc, uint64_t name, uint8_t kind,
				       uint8_t status)
{
	return svc * 0x9e3779b97f4a7c15ull ^ (name + ((uint64_t)kind << 8) + status);
}

/* --- sgraph_fact.c (submitting thread) --- */

/* Extracts the facts of `b`'s spans: one half per CLIENT / PRODUCER /
 * SERVER / CONSUMER span with a span id, one aggregate per (service,
 * span name, kind, status). Names are cut to MX_SG_NAME_MAX bytes, at the
 * first NUL and at a UTF-8 boundary. Returns MX_OK with *out set (NULL
 * for a batch without spans) or MX_ENOMEM. */
int mx_sg_facts_build(const struct mx_batch *b, struct mx_sg_facts **out);

/* Frees facts. Accepts NULL. */
void mx_sg_facts_free(struct mx_sg_facts *f);

/* The bytes of a name in a facts block. */
static inline struct mx_str mx_sg_fstr(const struct mx_sg_facts *f,
				       struct mx_sg_sref r)
{
	return (struct mx_str){ f->str + r.off, r.len };
}

/* --- sgraph.c (writer) --- */

/* Creates the state (empty tables). NULL on ENOMEM. */
struct mx_sgraph *mx_sgraph_new(void);

/* Frees the state. Accepts NULL. */
void mx_sgraph_free(struct mx_sgraph *g);

/* Writer hook after a successful commit (store_writer.c run_group): the
 * dependency counts written by it are done; then the spans of every item
 * of the group not marked sg_skip (a report applied before) are fed to
 * the series and the pairing table, and expired halves are counted. */
void mx_sg_after_commit(struct mx_store *st, struct mx_store_item **group,
			uint32_t n, uint64_t now);

/* Feeds one item's facts (spans committed at `now`). */
void mx_sg_feed(struct mx_sgraph *g, const struct mx_sg_facts *f, uint64_t now);

/* Expires the entries whose wait ended at or before `now`. */
void mx_sg_expire(struct mx_sgraph *g, uint64_t now);

/* --- sgraph_series.c (writer, under g->mu) --- */

/* Counts a request between two nodes (Tempo's onComplete). */
void mx_sg_series_edge(struct mx_sgraph *g, struct mx_str client,
		       struct mx_str server, uint8_t conn, bool failed,
		       uint64_t server_ns, uint64_t client_ns);

/* Counts an unpaired (or, `dropped`, a dropped) half of a service. */
void mx_sg_series_side(struct mx_sgraph *g, struct mx_str service,
		       bool server, bool dropped);

/* Adds a batch aggregate to the span metrics. */
void mx_sg_series_spans(struct mx_sgraph *g, const struct mx_sg_facts *f,
			const struct mx_sg_agg *a);

/* Frees the series tables. */
void mx_sg_series_free(struct mx_sgraph *g);

/* --- sgraph_db.c (writer) --- */

/* Adds a call (failed or not) from parent to child at t_ns to the
 * pending dependency counts. */
void mx_sg_dep_add(struct mx_sgraph *g, struct mx_str parent,
		   struct mx_str child, uint64_t t_ns, bool failed);

/* Writer hook before every commit (run_group, replay, idle ticks):
 * writes the pending dependency counts in `txn` (adding to the stored
 * ones; they stay pending until mx_sg_txn_end(true)) and, about once a
 * second, deletes `edges` rows older than the retention (at most 4096
 * per step). Sets *changed when it wrote or deleted anything. Returns
 * MX_OK or the LMDB failure. */
int mx_sg_flush(struct mx_store *st, MDB_txn *txn, uint64_t now,
		bool *changed);

/* After the transaction that flushed: forgets the counts when it
 * committed (`ok`), keeps them for the next one otherwise. */
void mx_sg_txn_end(struct mx_sgraph *g, bool ok);

/* Writer hook of the idle tick (maintain_idle): expires halves, then
 * mx_sg_flush(). */
int mx_sg_idle(struct mx_store *st, MDB_txn *txn, uint64_t now, bool *changed);

/* Writes what is pending in a transaction of its own (the writer is
 * stopping; halves still waiting are lost). */
void mx_sg_shutdown(struct mx_store *st);

/* Frees the pending counts. */
void mx_sg_deps_free(struct mx_sgraph *g);

#endif
