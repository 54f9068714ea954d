/*
 * metrics_int.h - internals of the metrics half of the store (see
 * metrics.h), shared by storage/metrics.c, metrics_db.c, metrics_val.c,
 * metrics_item.c and the writer (store_writer.c). Not part of any API.
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
	uint32_t nzm[3];    /* histograms' buckets that may be non-zero in v
	                       (a superset: only grows) */
	struct mx_exemplar ex;
	struct mx_mvals v;  /* committed */
};

/* The changes of one series in the open transaction, added to its
 * committed values for the puts before the commit and into them after it.
 * Counts are deltas; d[h][b] (histogram h: duration, request size,
 * response size) is valid only where bit b of mask[h] is set, so a
 * working copy costs only what its updates touch. The sums are the
 * working values themselves (floating-point additions in update order). */
struct mx_mpend {
	uint32_t slot;
	bool created;       /* the series was made in this transaction */
	bool has_ex;
	uint32_t mask[3];
	uint64_t count;     /* requests / TCP opened */
	double sum[3];      /* HTTP: working sums */
	uint64_t tcp[3];    /* TCP: closed, sent, received */
	struct mx_exemplar ex;
	uint64_t d[3][MX_HIST_BUCKETS];
};

/* One aggregate of a queued report, as the writer needs it: the key and
 * hash, and the deltas. HTTP: `count`, the three sums and per histogram
 * (duration, request bytes, response bytes) the mask of the buckets with
 * a non-zero delta and those deltas (in the batch: the aggregate's
 * sparse histograms). TCP: `count` is the connections opened, tcp[]
 * closed, sent and received; no masks. */
struct mx_mupd {
	uint64_t hash;
	const uint8_t *key;        /* in one of the item's key blocks */
	uint32_t key_len;
	uint8_t kind;              /* enum mx_istio_kind */
	uint32_t mask[3];
	const uint64_t *vals[3];
	uint64_t count;
	union {
		double sum[3];     /* HTTP: duration, request, response */
		uint64_t tcp[3];   /* TCP: closed, sent, received */
	} u;
	const struct mx_exemplar *ex; /* in the batch; NULL: none */
};

/* A block of series keys of an item (keys never straddle blocks). */
struct mx_mkeys {
	struct mx_mkeys *next;
	size_t used, cap;
	uint8_t data[];
};

/* A report as the writer applies it; built on the submitting thread.
 * Owns the batch that holds the report (its spans were encoded into the
 * store item separately). */
struct mx_mitem {
	struct mx_batch *batch;
	const struct mx_report *report;
	struct mx_mupd *upd;
	uint32_t n_upd;
	struct mx_mkeys *keys;     /* the current block first */
	size_t keys_len;           /* bytes of all keys */
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
	uint64_t *order;    /* flush order scratch (id << 32 | index) */
	uint32_t cap_order;
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
 * Returns MX_OK with *id, *v and *last_ns (its last update, 0 when its
 * counters are unreadable) set, MX_ENOTFOUND or MX_ESTORE. */
int mx_metrics_db_find(struct mx_store *st, MDB_txn *txn, uint64_t hash,
		       const uint8_t *key, uint32_t key_len, uint32_t *id,
		       struct mx_mvals *v, uint64_t *last_ns);

/* The write cursors of one flush (counters, rollups). */
struct mx_mput {
	MDB_cursor *counters, *rollups;
	bool at_counter; /* `counters` is on the row last put */
};

/* Opens the cursors of a flush in `txn`. MX_OK or the LMDB failure. */
int mx_metrics_db_put_begin(struct mx_store *st, MDB_txn *txn,
			    struct mx_mput *c);

/* Closes them (before the transaction ends). Accepts closed ones. */
void mx_metrics_db_put_end(struct mx_mput *c);

/* Puts one series' state after a commit at `now` (its committed values
 * are s->v, its new ones `v`, whose histograms' non-zero buckets are among
 * those of the masks nz[]): its key when `with_key`, its counters, and
 * when its last update (s->last_ns, 0: none) was in another 10 s bucket
 * than `now`, the rollup row of that bucket (s->v). The row of a series'
 * latest bucket is its counters row (SCHEMA.md, "Metrics"). Fastest in
 * increasing id order. */
int mx_metrics_db_put(struct mx_store *st, MDB_txn *txn,
		      struct mx_mput *c, const struct mx_mser *s,
		      const struct mx_mvals *v, const uint32_t nz[3],
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

/* counters value flags (byte 1) */
#define MX_COUNTERS_OVERFLOW 0x1u /* an overflow series */
#define MX_COUNTERS_COMPACT 0x2u  /* varint values (else the fixed layout) */

/* --- metrics_val.c --- */

/* The masks of the non-zero buckets of v's histograms. */
void mx_mvals_nz(const struct mx_mvals *v, uint32_t nz[3]);

/* Encodes / decodes the counters value (last update, kind, values). The
 * encoder writes the histograms' buckets of the masks nz[] (NULL: the
 * non-zero ones), which must hold every non-zero bucket. */
size_t mx_metrics_enc_counters(uint8_t kind, uint64_t last_ns,
			       const struct mx_mvals *v, const uint32_t nz[3],
			       uint8_t *out);
bool mx_metrics_dec_counters(const uint8_t *p, size_t n, uint8_t *kind,
			     uint64_t *last_ns, struct mx_mvals *v);

/* the longest counters value: header, count, 3 x (mask, 20 varints),
 * 3 sums */
#define MX_COUNTERS_MAX (16u + 10u + 3u * (3u + 20u * 10u) + 24u)

#define MX_ROLLUP_MAX (24u * 10u + 24u) /* the longest rollups value */

/* Encodes the rollups value of values `v` of a series of kind `kind`;
 * returns its length (at most MX_ROLLUP_MAX). */
size_t mx_metrics_enc_rollup(uint8_t kind, const struct mx_mvals *v,
			     uint8_t *out);

/* Decodes a rollups value; false when it is malformed. */
bool mx_metrics_dec_rollup(uint8_t kind, const uint8_t *p, size_t n,
			   struct mx_rollup_vals *o);

/* The rollup form of values `v` of a series of kind `kind`. */
void mx_metrics_rollup_of(uint8_t kind, const struct mx_mvals *v,
			  struct mx_rollup_vals *o);

#endif
