/*
 * store_int.h - internals shared by the files of the span store (not part of
 * its API; only the .c files of storage/ include it).
 *
 * store.c opens and closes the environment and owns the writer queue,
 * store_item.c turns a submitted batch into a queued item (encoded records
 * plus the index entries and service names the writer will put),
 * store_writer.c is the writer thread, store_read.c the read-only lookups.
 * Keys, values and the reasons for the layout: storage/SCHEMA.md.
 */
#ifndef MX_STORE_INT_H
#define MX_STORE_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "store.h"

#define MX_STORE_SCHEMA_VERSION 5u /* 3: tag filters in idx_svc_time records;
                                      4: the metrics databases (metrics_int.h)
                                      and `edges` (sgraph_int.h);
                                      5: compact `counters` values, the newest
                                      rollup bucket kept in `counters` */

/* database names */
#define MX_DB_META "meta"
#define MX_DB_RESOURCES "resources"
#define MX_DB_SPANS "spans"
#define MX_DB_TRACE_IDX "trace_idx"
#define MX_DB_SERVICES "services"
#define MX_DB_STRINGS "strings"
#define MX_DB_STRING_IDS "string_ids"
#define MX_DB_IDX_SVC "idx_svc_time"
#define MX_DB_IDX_TIME "idx_time"
#define MX_DB_OPERATIONS "operations"
#define MX_DB_REMOTE "remote_services"
#define MX_DB_TAG_VALUES "tag_values"
#define MX_DB_IDX_LOG "idx_log" /* arrival order -> search index keys */

#define MX_IDX_KEY_LEN 24   /* trace low 8 | trace high 8 | first seq (BE) */
#define MX_IDX_VAL_LEN 21   /* count u32 | min start u64 | max end u64 | flags */
#define MX_IDX_F_ERROR 0x1u /* a span of the segment has status ERROR */
#define MX_IDX_F_ROOT 0x2u  /* a span of the segment has no parent */

/* search indexes: [service id (4)] | time bucket (8) | first seq (8),
 * big-endian; the value lists segment records (storage/SCHEMA.md) */
#define MX_TIDX_KEY_LEN 16u
#define MX_SIDX_KEY_LEN 20u
#define MX_TIME_BUCKET_SHIFT 30 /* buckets of 2^30 ns (about 1.07 s) */
#define MX_IREC_FIXED 60u       /* a record without op hashes and filter */
#define MX_IREC_MAX_OPS 64u     /* more: the record lists none (0xffff) */
#define MX_IREC_NO_OPS 0xffffu
#define MX_IREC_OFF_NOPS 56u    /* u16 operation hash count */
#define MX_IREC_OFF_NFW 58u     /* u16 tag filter words (store_bloom.h) */
#define MX_IVAL_MAX 1900u       /* value bytes (stays off overflow pages) */
#define MX_IVAL_MAX_RECS (MX_IVAL_MAX / MX_IREC_FIXED + 1)

/* idx_log: key = first sequence of the batch (BE u64) | part (BE u16);
 * value = entries of 1 byte index (MX_IK_*), 1 byte key length, key */
#define MX_LOG_KEY_LEN 10u
#define MX_LOG_VAL_MAX 1900u

#define MX_HASH_SEED_KEY 0x6d697864u /* resource key (db key) */
#define MX_HASH_SEED_CHECK 0x2f5a1c3bu /* second hash, writer cache check */

struct mx_store_span_ref {
	uint64_t off; /* record offset in item->data */
	uint32_t len;
	uint32_t res; /* index into item->res */
};

struct mx_store_res_ref {
	uint64_t key;   /* mx_hash64(record, MX_HASH_SEED_KEY) */
	uint64_t check; /* mx_hash64(record, MX_HASH_SEED_CHECK) */
	uint64_t off;
	uint32_t len;
};

/* Span statistics of a group of spans (a segment, or the spans of one
 * service / one (service, operation) in a segment). */
struct mx_store_stat {
	uint64_t min_start;
	uint64_t max_start;
	uint64_t min_dur;
	uint64_t max_dur;
};

/* One trace_idx entry: the spans of one trace in one batch, which get
 * consecutive sequence numbers (from the item's first + seq_off). */
struct mx_store_seg {
	uint8_t trace_id[16];
	struct mx_store_stat stat;
	uint64_t max_end;
	uint32_t count;
	uint32_t seq_off;
	uint8_t flags; /* MX_IDX_F_* */
};

#define MX_STORE_NO_NAME UINT32_MAX

enum mx_store_ikind { MX_IK_TIME = 0, MX_IK_SVC };

/* One search index entry: the segment records of the item that share an
 * index (kind), service (an index into item->names, or MX_STORE_NO_NAME)
 * and time bucket; the value bytes are ready in item->data, the key needs
 * the service's id and the first sequence. */
struct mx_store_ient {
	uint32_t svc;
	uint64_t bucket;
	uint64_t val_off;
	uint32_t val_len;
	uint32_t seq_off; /* of the first record's segment */
	uint8_t kind;     /* enum mx_store_ikind */
};

/* A service or span name of the item, distinct per item; the writer maps
 * the service names to their ids in item->name_ids. */
struct mx_store_name_ref {
	uint64_t off; /* bytes in item->data */
	uint32_t len; /* 0: the empty string, id 0, never stored */
	uint64_t hash;
	bool intern;  /* a service name (span names are only hashed) */
};

/* The name lists (one LMDB database each, key -> last seen). */
enum mx_store_list {
	MX_LIST_SERVICES = 0,
	MX_LIST_OPERATIONS,
	MX_LIST_REMOTE,
	MX_LIST_TAG_VALUES,
	MX_LIST_N
};

/* One key of a name list, distinct per item. */
struct mx_store_key_ref {
	uint64_t off; /* key bytes in item->data */
	uint32_t len;
	uint8_t list; /* enum mx_store_list */
	uint64_t hash;
};

struct mx_metrics;
struct mx_mitem;
struct mx_sg_facts;
struct mx_sgraph;

/* A submitted batch, encoded; owned by the queue, then by the writer. */
struct mx_store_item {
	struct mx_store_item *next;
	struct mx_mitem *mitem; /* a native report to apply, or NULL */
	/* service graph (sgraph_int.h): the spans' facts, fed to the pairing
	 * table after the commit unless sg_skip (a report applied before) */
	struct mx_sg_facts *sg;
	bool sg_skip;
	mx_commit_cb cb;
	void *ctx;
	uint8_t *data; /* resource records, span records, names, list keys */
	size_t data_len;
	struct mx_store_span_ref *spans; /* in trace-id order */
	uint32_t n_spans;
	struct mx_store_res_ref *res;
	uint32_t n_res;
	struct mx_store_seg *segs;
	uint32_t n_segs;
	struct mx_store_ient *ients;
	uint32_t n_ients;
	struct mx_store_name_ref *names;
	uint32_t *name_ids; /* filled by the writer */
	uint32_t n_names;
	struct mx_store_key_ref *keys;
	uint32_t n_keys;
	uint64_t bytes; /* what the item counts against queue_max_bytes */
};

/* Writer-side cache of resource records known to be stored. */
struct mx_store_res_cache_ent {
	uint64_t key;
	uint64_t check;
	uint32_t len;
};
#define MX_STORE_RES_CACHE 4096u

/* Writer-side set of name-list keys put recently (all lists). */
struct mx_store_svc_ent {
	uint64_t hash;
	uint64_t last_put_ns;
	char *name; /* malloc'd; NULL = free slot */
	uint32_t len;
	uint8_t list;
};
#define MX_STORE_SVC_CAP 32768u /* slots; cleared when half full */
#define MX_STORE_SVC_REFRESH_NS (60ull * 1000000000ull)

/* Writer-side cache of interned strings: name -> id. Names live in a
 * fixed pool; table and pool are cleared together when either fills. */
struct mx_store_intern_ent {
	uint64_t hash;
	uint32_t id; /* 0 = free slot (id 0 is the empty string) */
	uint32_t len;
	uint32_t off; /* in intern_pool */
};
#define MX_STORE_INTERN_CAP 16384u     /* slots; cleared when half full */
#define MX_STORE_INTERN_POOL (1u << 20) /* name bytes */

/* Options of mx_store_item_build(). */
struct mx_store_build_opts {
	uint64_t max_bytes;        /* cap on the encoded size */
	uint32_t max_key;          /* LMDB's key size limit */
	const struct mx_str *ac_keys; /* autocomplete tag keys */
	uint32_t n_ac_keys;
};

struct mx_store {
	struct mx_store_config cfg;
	char *path;
	MDB_env *env;
	MDB_dbi dbi_meta, dbi_res, dbi_spans, dbi_idx, dbi_svc;
	MDB_dbi dbi_str, dbi_str_ids, dbi_isvc, dbi_itime;
	MDB_dbi dbi_list[MX_LIST_N]; /* [MX_LIST_SERVICES] == dbi_svc */
	MDB_dbi dbi_log;  /* idx_log (store_sweep.c) */
	uint32_t max_key; /* LMDB's key size limit */
	struct mx_metrics *metrics; /* the metrics side (metrics_int.h) */
	struct mx_sgraph *sgraph;   /* the service graph (sgraph_int.h) */
	MDB_dbi dbi_edges;          /* its dependency counts */
	char *ac_buf;             /* copy of cfg.autocomplete_keys */
	struct mx_str *ac_keys;   /* parsed from it */
	uint32_t n_ac_keys;

	pthread_mutex_t mu; /* guards the queue and the flags below */
	pthread_cond_t cv;  /* writer waits for work or stop */
	struct mx_store_item *head, *tail;
	uint32_t q_batches;
	uint64_t q_bytes;
	bool stopping;
	bool join_claimed;
	bool writer_started;
	pthread_t writer;
	atomic_bool ready;

	/* writer thread only */
	uint64_t next_seq;
	struct mx_store_res_cache_ent *res_cache;
	struct mx_store_svc_ent *svc_set;
	uint32_t svc_used;
	uint32_t next_string_id;
	struct mx_store_intern_ent *intern_tab;
	char *intern_pool;
	uint32_t intern_pool_len;
	uint32_t intern_used;

	/* the map-size gate: read transactions hold it shared for their
	 * whole life, the writer takes it exclusively to resize the map
	 * (writer-preferring, so a resize is not starved by queries) */
	pthread_rwlock_t gate;
	bool gate_init;

	/* sweep (retention, eviction) and map size; writer thread only unless
	 * atomic (store_sweep.c) */
	uint64_t page_size;
	uint64_t map_size;          /* current LMDB map size */
	uint64_t used_pages;        /* after the last commit */
	uint64_t last_group_spans;
	uint8_t sw_trace[16];       /* trace of the last span swept */
	bool sw_trace_valid;
	bool sw_more;               /* the last step stopped at its limit */
	uint8_t *log_buf;           /* idx_log keys of the item being put */
	size_t log_cap;
	uint64_t sweep_req, sweep_done; /* guarded by mu; cv_sweep */
	pthread_cond_t cv_sweep;
	bool writer_exited;         /* guarded by mu */

	/* stats */
	atomic_uint_fast64_t st_spans, st_batches, st_commits, st_failures;
	atomic_uint_fast64_t st_busy, st_qbatches, st_qbytes, st_last_commit_us;
	atomic_uint_fast64_t st_map_size, st_used_bytes, st_file_bytes;
	atomic_uint_fast64_t st_oldest_ns, st_expired, st_evicted, st_sweeps;
	atomic_uint_fast64_t st_grows, st_full, st_commit_us_sum;
	atomic_uint_fast64_t st_commit_hist[MX_STORE_COMMIT_BUCKETS];
	atomic_uint_fast64_t st_group_hist[MX_STORE_GROUP_BUCKETS];
};

/* Begins a read-only transaction under the map-size gate (shared). Every
 * reader of the store must use this pair instead of mdb_txn_begin /
 * mdb_txn_abort, and must not begin a second one before ending the first
 * in the same thread. Returns MX_OK with *txn set, or MX_ESTORE (the gate
 * is not held then). */
int mx_store_read_begin(struct mx_store *st, MDB_txn **txn);

/* Ends (aborts) a transaction of mx_store_read_begin() and releases the
 * gate. Accepts a NULL txn (does nothing). */
void mx_store_read_end(struct mx_store *st, MDB_txn *txn);

/* Encodes `batch` into a new item (spans sorted by trace id, one segment
 * per trace, the search index entries of its service and (service,
 * operation) groups, resources,
 * interned names and name-list keys deduplicated). `o->max_bytes` caps the
 * encoded size; `o->max_key` the length of any key. Returns MX_OK with *out
 * set, MX_ENOMEM (cap or malloc), MX_EINVAL (a span without resource or
 * scope, an unknown value type) or MX_EDEPTH. The batch is left
 * untouched. */
int mx_store_item_build(const struct mx_batch *batch,
			const struct mx_store_build_opts *o,
			struct mx_store_item **out);

/* The name-list and index helpers shared by the builder and the readers
 * (storage/store_match.c). */

/* Length of the longest UTF-8-clean prefix of s[0..n) not over max. */
uint32_t mx_store_utf8_cut(const char *s, uint32_t n, uint32_t max);

/* The remote service of a span: the remote endpoint's service name, else
 * the string attribute `peer.service`; empty when neither. */
struct mx_str mx_store_remote_service(const struct mx_span *s);

/* The 32-bit hash of an operation name (already cut to the key size) that
 * idx_svc_time records list: the low 32 bits of mx_hash64(name,
 * MX_HASH_SEED_KEY). */
uint32_t mx_store_op_hash(const char *name, uint32_t len);

/* The text of the derived tag span.kind for a kind (OTLP numbering):
 * "internal", "server", "client", "producer", "consumer"; "" otherwise. */
const char *mx_store_kind_tag(uint8_t kind);

/* Renders a scalar value as the text tag conditions compare (string as
 * is, int decimal, bool true/false, double in the shortest form that reads
 * back, non-finite NaN/Inf/-Inf). `tmp` (at least 40 bytes) holds the text
 * of non-strings. Returns false for bytes, arrays, maps and empty values. */
bool mx_store_value_text(const struct mx_value *v, char *tmp, size_t tmplen,
			 struct mx_str *out);

/* Frees an item. Accepts NULL. */
void mx_store_item_free(struct mx_store_item *it);

/* The writer thread's entry point; `arg` is the store. */
void *mx_store_writer_main(void *arg);

/* Frees the writer's name-list set. */
void mx_store_svc_set_clear(struct mx_store *st);

/* Empties the writer's intern cache. */
void mx_store_intern_clear(struct mx_store *st);

/* The sweep and the map size (storage/store_sweep.c). */

/* The store's wall clock (cfg.now_ns or CLOCK_REALTIME), Unix ns. */
uint64_t mx_store_now(const struct mx_store *st);

/* Pages in use in `txn`: the pages of every database (the free-page
 * database and the main one included) plus the two meta pages. */
uint64_t mx_store_used_pages(struct mx_store *st, MDB_txn *txn);

/* Deletes spans from the front of `spans` (oldest arrival sequence first)
 * with their trace_idx entries and the search index entries of their
 * batches (found through idx_log), while the span arrived before
 * `delete_before`, its sequence is below `stop_seq` (the spans of the
 * group being committed are never swept) and fewer than `limit` were
 * deleted. A deleted span
 * counts as expired when it arrived before `expire_before`, as evicted
 * otherwise. Sets *more when it stopped at `limit`. Returns MX_OK or the
 * LMDB failure (MX_EFULL, MX_ESTORE). */
int mx_store_sweep_step(struct mx_store *st, MDB_txn *txn,
			uint64_t delete_before, uint64_t expire_before,
			uint64_t stop_seq, uint64_t limit, uint64_t *expired,
			uint64_t *evicted, bool *more);

/* Appends the idx_log entries of an item whose first sequence is `seq0`:
 * the keys of its idx_time / idx_svc_time entries, `keys` (each 1 byte
 * index, 1 byte length, the key) of `len` bytes in all. */
int mx_store_log_put(struct mx_store *st, MDB_txn *txn, uint64_t seq0,
		     const uint8_t *keys, size_t len);

/* The arrival time of the first span (0 for an empty store). */
uint64_t mx_store_oldest_arrival(struct mx_store *st, MDB_txn *txn);

/* What one maintenance pass did. */
struct mx_store_sweep_res {
	uint64_t expired, evicted; /* spans deleted */
	uint64_t used_pages;       /* in the transaction afterwards */
	uint64_t oldest_ns;        /* arrival of the first span left */
	bool more;                 /* stopped at its limit: run again */
};

/* One maintenance pass in the writer's transaction `txn`: a retention
 * step (spans that arrived before now - retention), then, when the pages
 * in use pass 90 % of max_size, an eviction step (the oldest spans), both
 * below sequence `stop_seq` (the first of the group in `txn`). Each step
 * deletes at most max(cfg.sweep_spans, 5/4 group_spans) spans. Returns
 * MX_OK or the LMDB failure (the transaction must be aborted). */
int mx_store_maintain(struct mx_store *st, MDB_txn *txn, uint64_t group_spans,
		      uint64_t stop_seq, struct mx_store_sweep_res *r);

/* Doubles the map (at most to max_size) with no transaction active in the
 * process: takes the gate exclusively. Writer thread only, with no write
 * transaction open. Returns MX_OK, MX_EFULL (already at max_size) or
 * MX_ESTORE. */
int mx_store_grow(struct mx_store *st);

/* Maps an LMDB return code to enum mx_err (MDB_MAP_FULL -> MX_EFULL,
 * MDB_NOTFOUND -> MX_ENOTFOUND, others MX_ESTORE). */
int mx_store_mdb_err(int rc);

#endif
