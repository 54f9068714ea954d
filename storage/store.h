/*
 * store.h - the LMDB span store: one writer thread with group commit, and
 * read-only lookups for the query layer.
 *
 * Write path: a receiver decodes a request into a `struct mx_batch` and hands
 * it to mx_store_submit(). The submitting thread encodes the spans into
 * storage records (so encoding runs on the receivers' threads, not the
 * writer's); the writer thread drains up to `group_max_batches` queued
 * batches or `group_max_ms` per transaction, appends them, commits with the
 * configured sync mode, and only then calls each batch's callback. A receiver
 * therefore acknowledges a request only after it is durable.
 *
 * Read path: every lookup runs in its own short read-only transaction and
 * copies what it returns into caller-owned memory before the transaction
 * ends. The record format and keys are documented in storage/SCHEMA.md.
 */
#ifndef MX_STORE_H
#define MX_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../model/span.h"

enum mx_sync_mode {
	MX_SYNC_FULL = 0, /* fsync data and meta on every commit */
	MX_SYNC_META = 1, /* MDB_NOMETASYNC: data synced, meta page lazily */
	MX_SYNC_NONE = 2, /* MDB_NOSYNC: the OS flushes; survives a process
			     crash, not a power loss */
};

struct mx_store_config {
	const char *path;           /* directory; created if missing */
	uint64_t max_size;          /* LMDB map size in bytes */
	enum mx_sync_mode sync;
	uint32_t queue_max_batches; /* writer queue bound (batches) */
	uint64_t queue_max_bytes;   /* writer queue bound (encoded bytes) */
	uint32_t group_max_batches; /* batches per transaction */
	uint32_t group_max_ms;      /* longest a transaction collects */
	/* tag keys whose values are recorded for Zipkin's autocomplete
	 * (comma-separated, e.g. "http.method,environment"); NULL or "" for
	 * none, as Zipkin's default */
	const char *autocomplete_keys;
};

/* Fills the defaults: ./data, 8 GiB, full sync, 1024 batches, 256 MiB,
 * 64 batches, 10 ms. */
void mx_store_config_default(struct mx_store_config *cfg);

struct mx_store;

/* Opens (creating if needed) the store and starts the writer thread.
 * Returns MX_OK and sets *out; MX_ESCHEMA when the directory holds a store
 * of another schema version; MX_ESTORE / MX_EIO otherwise. `err` (errlen
 * bytes) receives a message on failure. */
int mx_store_open(const struct mx_store_config *cfg, struct mx_store **out,
		  char *err, size_t errlen);

/* Called once from the writer thread after the commit holding the batch:
 * status MX_OK (durable), MX_EFULL (map full: nothing of the batch stored) or
 * MX_ESTORE. Must not block. */
typedef void (*mx_commit_cb)(void *ctx, int status);

/* Hands `batch` to the writer. On MX_OK the store owns the batch (it frees
 * it) and will call `cb(ctx, status)` exactly once. On MX_EBUSY (queue
 * full), MX_ESHUTDOWN (stopping), MX_ENOMEM or MX_EINVAL the caller keeps the
 * batch and `cb` is never called. A batch with no spans is committed like
 * any other (its callback still waits for a commit). Thread-safe. */
int mx_store_submit(struct mx_store *st, struct mx_batch *batch,
		    mx_commit_cb cb, void *ctx);

/* Stops taking batches (submit answers MX_ESHUTDOWN), commits everything
 * queued, calls the callbacks and joins the writer. Idempotent. Read
 * functions keep working until mx_store_close(). */
void mx_store_shutdown(struct mx_store *st);

/* Shuts down if needed and releases everything. Accepts NULL. */
void mx_store_close(struct mx_store *st);

/* True while the environment is open and the writer thread runs. */
bool mx_store_ready(const struct mx_store *st);

/* Reads every span of a trace into a new batch (*out, freed by the caller
 * with mx_batch_free()). When `match_low64` is true and the high 8 bytes of
 * `trace_id` are zero, traces whose low 64 bits match are returned too.
 * Exact duplicate spans collapse into one. Spans come back in start-time
 * order. Returns MX_OK, MX_ENOTFOUND, MX_ENOMEM (over `max_spans`) or
 * MX_ESTORE. */
int mx_store_get_trace(struct mx_store *st, const uint8_t trace_id[16],
		       bool match_low64, uint32_t max_spans,
		       struct mx_batch **out);

/* Lists the service names seen, sorted, as strings allocated in `arena`.
 * Returns MX_OK with *names / *n set, MX_ENOMEM or MX_ESTORE. */
int mx_store_services(struct mx_store *st, struct mx_arena *arena,
		      struct mx_str **names, uint32_t *n);

/* Counters for self-metrics; each a snapshot, read without locks. */
struct mx_store_stats {
	uint64_t committed_spans;
	uint64_t committed_batches;
	uint64_t commits;             /* transactions */
	uint64_t commit_failures;
	uint64_t refused_busy;        /* submits answered MX_EBUSY */
	uint64_t queue_batches;       /* now */
	uint64_t queue_bytes;         /* now */
	uint64_t last_commit_us;      /* duration of the last commit */
	uint64_t map_size;
	uint64_t used_bytes;
};

/* Fills `out` with current counters. */
void mx_store_get_stats(const struct mx_store *st, struct mx_store_stats *out);

#endif
