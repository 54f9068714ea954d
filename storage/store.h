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
	/* Data lifetime (storage/SCHEMA.md, "Retention and eviction"): spans
	 * whose arrival time is older than now - retention_ns are deleted by
	 * the writer in steps (0: kept until evicted for space). */
	uint64_t retention_ns;
	/* The map starts at max(initial_size, the file's size), capped at
	 * max_size, and doubles on demand up to max_size (0: 64 MiB). */
	uint64_t initial_size;
	/* Spans deleted at least per sweep step (retention or eviction); a
	 * step also deletes 5/4 of the spans of the last group (0: 4096). */
	uint32_t sweep_spans;
	/* The wall clock (Unix ns) for retention and name-list times; NULL:
	 * CLOCK_REALTIME. Tests inject their own. */
	uint64_t (*now_ns)(void);
	/* Metrics (storage/metrics.h): active series at most (0: 100000;
	 * past it new label sets go to overflow series), and the time after
	 * which a series not updated stops being shown (0: never). Series
	 * state and rollups are kept for retention_ns. */
	uint32_t metrics_max_series;
	uint64_t metrics_idle_ns;
};

/* Fills the defaults: ./data, 8 GiB, full sync, 1024 batches, 256 MiB,
 * 64 batches, 10 ms, no retention (the daemon's flag defaults to 72h),
 * 64 MiB initial map, 4096 spans per sweep step, the real clock, 100000
 * series, 10 minutes idle timeout. */
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

/* Histogram buckets of the self-metrics: counts per bucket (not
 * cumulative); bucket i holds values <= bounds[i], the last bucket (index
 * N - 1) everything above bounds[N - 2]. */
#define MX_STORE_COMMIT_BUCKETS 10
#define MX_STORE_COMMIT_BOUNDS_US                                            \
	{ 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 1000000 }
#define MX_STORE_GROUP_BUCKETS 10
#define MX_STORE_GROUP_BOUNDS { 1, 2, 4, 8, 16, 32, 64, 128, 256 }

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
	uint64_t map_size;            /* LMDB map now (grows to max_size) */
	uint64_t max_size;            /* --storage.max-size */
	uint64_t used_bytes;          /* pages in use (free pages excluded) */
	uint64_t file_bytes;          /* pages ever written (the file) */
	uint64_t oldest_arrival_ns;   /* arrival of the oldest span; 0: empty */
	uint64_t expired_spans;       /* deleted by retention, total */
	uint64_t evicted_spans;       /* deleted for space, total */
	uint64_t sweeps;              /* transactions that deleted spans */
	uint64_t map_grows;           /* map size doublings */
	uint64_t full_refusals;       /* groups answered MX_EFULL */
	uint64_t commit_us_sum;       /* group commits: total duration */
	uint64_t commit_us_hist[MX_STORE_COMMIT_BUCKETS];
	uint64_t group_batches_hist[MX_STORE_GROUP_BUCKETS]; /* per commit */
};

/* Fills `out` with current counters. */
void mx_store_get_stats(const struct mx_store *st, struct mx_store_stats *out);

/* Asks the writer to run retention and eviction now, until nothing
 * expired is left and the store is under its high-water mark, and waits
 * for it (the writer interleaves queued batches). Returns MX_OK, or
 * MX_ESHUTDOWN when the writer stopped first. Thread-safe. */
int mx_store_sweep(struct mx_store *st);

/* Parses a Go-style duration: one or more <number><unit> with units ns,
 * us, ms, s, m, h, d (e.g. "72h", "30m", "7d", "1h30m"); "0" is zero.
 * Returns MX_OK with *ns set, or MX_EINVAL. */
int mx_store_parse_duration(const char *s, uint64_t *ns);

/* What mx_store_backup() copied. */
struct mx_store_backup_info {
	uint32_t schema_version;
	uint64_t spans;        /* span records in the copy */
	uint64_t trace_segments; /* trace_idx entries in the copy */
	uint64_t bytes;        /* size of the copy's data.mdb */
	uint64_t oldest_arrival_ns, newest_arrival_ns; /* 0 when empty */
};

/* Copies the store at `path` into the directory `dir` (created if
 * missing; must be empty) as a compacted, consistent snapshot, while a
 * mixd may be writing to it (another process; never open the same store
 * twice in one process). Refuses a store of another schema version
 * (MX_ESCHEMA). Returns MX_OK with *info filled, MX_EINVAL (dir not
 * empty), MX_EIO or MX_ESTORE; `err` receives a message on failure. */
int mx_store_backup(const char *path, const char *dir,
		    struct mx_store_backup_info *info, char *err, size_t errlen);

#endif
