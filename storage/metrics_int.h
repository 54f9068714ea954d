/*
 * metrics_int.h - internals of the metrics half of the store (see
 * metrics.h), shared by storage/metrics.c, metrics_db.c, metrics_item.c and
 * the writer (store_writer.c). Not part of any API.
 *
 * A series is identified by its key: the kind byte, then each label value
 * in Istio's order (25 for HTTP, 23 for TCP) as a little-endian u16 length
 * and the bytes. The key is built on the submitting thread with its hash
 * (mx_metrics_key_hash); the writer looks series up by hash and key.
 *
 * Concurrency: the writer thread alone changes the table and the working
 * copies; the table lock (`mu`) is held while it changes the table or
 * publishes values, and by snapshots while they copy a chunk.
 */
#ifndef MX_METRICS_INT_H
#define MX_METRICS_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "metrics.h"

#define MX_MKEY_SEED 0x6d65747269637331ull
#define MX_MKEY_MAX 16384u  /* a series key longer than this is refused */

/* database names */
#define MX_DB_SERIES "series"           /* id -> key */
#define MX_DB_SERIES_HASH "series_hash" /* hash | id -> "" */
#define MX_DB_COUNTERS "counters"       /* id -> last update | values */
#define MX_DB_ROLLUPS "rollups"         /* id | 10 s bucket -> values */
#define MX_DB_REPORTERS "reporters"     /* instance id -> sequence | time */

/* Cumulative values of one series. TCP series use `count` for opened
 * connections and tcp_closed / tcp_sent / tcp_received. */
struct mx_mvals {
	uint64_t count;
	uint64_t dur[MX_HIST_BUCKETS];
	uint64_t req[MX_HIST_BUCKETS];
	uint64_t resp[MX_HIST_BUCKETS];
	double dur_sum, req_sum, resp_sum;
	uint64_t tcp_closed, tcp_sent, tcp_received;
};

/* The labels of a series: immutable once made, shared by the table and
 * the snapshots that hold a reference. */
struct mx_mlabels {
	atomic_uint refs;
	uint8_t kind;
	uint32_t key_len;
	struct mx_str labels[MX_ISTIO_HTTP_LABELS]; /* views into key */
	uint8_t key[];
};

/* One series in memory. */
struct mx_mser {
	uint64_t hash;
	uint64_t last_ns;   /* last applied update (arrival); 0: none yet */
	struct mx_mlabels *lab; /* NULL: free slot */
	uint32_t id;        /* the LMDB id */
	uint32_t next;      /* hash chain: slot + 1, 0 ends it */
	uint32_t pend;      /* working copy: index + 1 into pend[], 0: none */
	bool persisted;     /* its key is in `series` */
	bool overflow;      /* an overflow series (not counted in the limit) */
	bool has_ex;
	struct mx_exemplar ex;
	struct mx_mvals v;  /* committed */
};

/* A working copy for the open transaction. */
struct mx_mpend {
	uint32_t slot;
	bool created;       /* the series was made in this transaction */
	bool has_ex;
	struct mx_exemplar ex;
	struct mx_mvals v;
};

/* One aggregate of a queued report. */
struct mx_mupd {
	uint64_t hash;
	uint32_t key_off, key_len; /* in mx_mitem.keys */
	uint8_t kind;              /* enum mx_istio_kind */
	const struct mx_request_agg *req; /* HTTP */
	const struct mx_tcp_agg *tcp;     /* TCP */
};

/* A report as the writer applies it; built on the submitting thread.
 * Owns the batch that holds the report (its spans were encoded into the
 * store item separately). */
struct mx_mitem {
	struct mx_batch *batch;
	const struct mx_report *report;
	struct mx_mupd *upd;
	uint32_t n_upd;
	uint8_t *keys;
	size_t keys_len;
};

struct mx_metrics {
	pthread_mutex_t mu;
	uint32_t max_series;
	uint64_t idle_ns;
	uint64_t retention_ns;

	MDB_dbi dbi_series, dbi_hash, dbi_counters, dbi_rollups, dbi_reporters;

	/* the table (slots, hash chains, free list) */
	struct mx_mser *ser;
	uint32_t n_slots, cap_slots;
	uint32_t *buckets;  /* slot + 1 */
	uint32_t n_buckets; /* power of two */
	uint32_t *free_slots;
	uint32_t n_free;
	uint32_t n_active;  /* series in memory, overflow ones excluded */
	uint32_t n_live;    /* series in memory */
	uint32_t next_id;

	/* the open transaction's working copies (writer only) */
	struct mx_mpend *pend;
	uint32_t n_pend, cap_pend;
	uint64_t txn_applied, txn_dup, txn_updates, txn_overflow;
	uint64_t txn_created, txn_reloaded, txn_dropped_spans;

	/* maintenance (writer only) */
	uint64_t last_maint_ns;
	uint8_t thin_pos[8];    /* rollups key to resume at */
	bool thin_pos_set;
	uint32_t expire_pos;    /* counters id to resume at */
	uint8_t *scratch;       /* rollup keys to delete */
	size_t scratch_cap;

	atomic_uint_fast64_t st_created, st_reloaded, st_idle, st_expired;
	atomic_uint_fast64_t st_overflow, st_applied, st_dup, st_updates;
	atomic_uint_fast64_t st_thinned, st_rexpired, st_active;
	atomic_uint_fast64_t st_rep_dropped;
};

struct mx_store;

/* --- metrics.c --- */

/* Creates the metrics state (no database yet). Returns NULL on ENOMEM. */
struct mx_metrics *mx_metrics_new(uint32_t max_series, uint64_t idle_ns,
				  uint64_t retention_ns);

/* Frees everything. Accepts NULL. */
void mx_metrics_free(struct mx_metrics *m);

/* Finds the series of a key in memory; returns its slot or UINT32_MAX.
 * Caller holds m->mu or is the writer. */
uint32_t mx_metrics_find(const struct mx_metrics *m, uint64_t hash,
			 const uint8_t *key, uint32_t key_len);

/* Adds a series to the table (key copied, labels parsed). Returns its
 * slot, or UINT32_MAX on ENOMEM or a malformed key. Takes m->mu. */
uint32_t mx_metrics_insert(struct mx_metrics *m, uint64_t hash,
			   const uint8_t *key, uint32_t key_len, uint32_t id,
			   bool overflow);

/* Removes slot `i` from the table. Caller holds m->mu. */
void mx_metrics_remove(struct mx_metrics *m, uint32_t i);

/* Parses a series key into labels (views into key). Returns false when
 * it is malformed. */
bool mx_metrics_parse_key(const uint8_t *key, uint32_t len, uint8_t *kind,
			  struct mx_str labels[MX_ISTIO_HTTP_LABELS]);

/* Applies a report in the writer's open transaction: checks its
 * sequence, adds every aggregate to the working copies (creating, loading
 * or folding series as needed) and records the sequence. Sets *dup when
 * the report was applied before (nothing is changed then). Returns MX_OK
 * or an LMDB / allocation failure (the transaction must be aborted). */
int mx_metrics_apply(struct mx_store *st, MDB_txn *txn,
		     const struct mx_mitem *mi, uint64_t now, bool *dup);

/* Writes the working copies of the open transaction (counters, rollups,
 * new series). Returns MX_OK or the LMDB failure. */
int mx_metrics_flush(struct mx_store *st, MDB_txn *txn, uint64_t now);

/* After a successful commit: the working copies become the values shown.
 * After a failed one (`ok` false): they are dropped, with the series made
 * in the transaction. */
void mx_metrics_txn_end(struct mx_metrics *m, bool ok, uint64_t now);

/* Drops series idle since before now - idle timeout from memory. */
void mx_metrics_drop_idle(struct mx_metrics *m, uint64_t now);

/* Drops series last updated before `before` from memory (their state
 * stays in LMDB); returns how many. */
uint64_t mx_metrics_drop_before(struct mx_metrics *m, uint64_t before);

/* Frees a report item (and its batch). Accepts NULL. */
void mx_mitem_free(struct mx_mitem *mi);

/* --- metrics_item.c --- */

/* Builds the item of a report: the key and hash of every aggregate.
 * Returns MX_OK, MX_ENOMEM or MX_EINVAL (a key over MX_MKEY_MAX). The
 * item takes the batch only on MX_OK. */
int mx_mitem_build(struct mx_batch *batch, const struct mx_report *r,
		   struct mx_mitem **out);

/* The hash of a series key (stored in `series_hash`: changing it changes
 * the schema). Four-lane multiply-rotate over 32-byte blocks. */
uint64_t mx_metrics_key_hash(const uint8_t *key, size_t len);

/* Appends the key of a label set of kind `kind` to `out` (at most
 * MX_MKEY_MAX bytes); returns its length or 0 when it does not fit. */
uint32_t mx_metrics_make_key(uint8_t kind,
			     const struct mx_str labels[MX_ISTIO_HTTP_LABELS],
			     uint8_t *out);

/* --- metrics_db.c --- */

/* Opens (creating) the metrics databases in `txn`, finds the next series
 * id and loads the series updated within the idle timeout. Returns MX_OK,
 * MX_ENOMEM or MX_ESTORE. */
int mx_metrics_db_open(struct mx_store *st, MDB_txn *txn, uint64_t now);

/* Looks a key up in LMDB (a series dropped from memory while idle).
 * Returns MX_OK with *id and *v set (and *last_ns), MX_ENOTFOUND or
 * MX_ESTORE. */
int mx_metrics_db_find(struct mx_store *st, MDB_txn *txn, uint64_t hash,
		       const uint8_t *key, uint32_t key_len, uint32_t *id,
		       struct mx_mvals *v);

/* Puts one series' state: its key when `with_key`, its counters and its
 * rollup row of the bucket of `now`. */
int mx_metrics_db_put(struct mx_store *st, MDB_txn *txn,
		      const struct mx_mser *s, const struct mx_mvals *v,
		      bool with_key, uint64_t now);

/* The last applied sequence of a reporter instance (0: none). */
int mx_metrics_db_seq(struct mx_store *st, MDB_txn *txn,
		      const uint8_t instance[16], uint64_t *seq);

/* Records the last applied sequence of a reporter instance. */
int mx_metrics_db_set_seq(struct mx_store *st, MDB_txn *txn,
			  const uint8_t instance[16], uint64_t seq,
			  uint64_t now);

/* One maintenance step in the writer's transaction: downsampling and
 * retention of rollups, retention of series and reporters. Sets *changed
 * when it deleted something (the transaction must then be committed).
 * Returns MX_OK or the LMDB failure. */
int mx_metrics_db_maintain(struct mx_store *st, MDB_txn *txn, uint64_t now,
			   bool *changed);

/* Encodes / decodes the counters value (last update, kind, values). */
size_t mx_metrics_enc_counters(uint8_t kind, uint64_t last_ns,
			       const struct mx_mvals *v, uint8_t *out);
bool mx_metrics_dec_counters(const uint8_t *p, size_t n, uint8_t *kind,
			     uint64_t *last_ns, struct mx_mvals *v);

#define MX_COUNTERS_MAX (16u + 8u * 70u)

#endif
