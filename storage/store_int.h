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

#define MX_STORE_SCHEMA_VERSION 1u

/* database names */
#define MX_DB_META "meta"
#define MX_DB_RESOURCES "resources"
#define MX_DB_SPANS "spans"
#define MX_DB_TRACE_IDX "trace_idx"
#define MX_DB_SERVICES "services"

#define MX_IDX_KEY_LEN 24   /* trace low 8 | trace high 8 | first seq (BE) */
#define MX_IDX_VAL_LEN 21   /* count u32 | min start u64 | max end u64 | flags */
#define MX_IDX_F_ERROR 0x1u /* a span of the segment has status ERROR */
#define MX_IDX_F_ROOT 0x2u  /* a span of the segment has no parent */

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

/* One trace_idx entry: the spans of one trace in one batch, which get
 * consecutive sequence numbers. */
struct mx_store_seg {
	uint8_t trace_id[16];
	uint64_t min_start;
	uint64_t max_end;
	uint32_t count;
	uint8_t flags; /* MX_IDX_F_* */
};

struct mx_store_svc_ref {
	uint64_t off; /* name bytes in item->data */
	uint32_t len;
	uint64_t hash;
};

/* A submitted batch, encoded; owned by the queue, then by the writer. */
struct mx_store_item {
	struct mx_store_item *next;
	mx_commit_cb cb;
	void *ctx;
	uint8_t *data; /* resource records, span records, service names */
	size_t data_len;
	struct mx_store_span_ref *spans; /* in trace-id order */
	uint32_t n_spans;
	struct mx_store_res_ref *res;
	uint32_t n_res;
	struct mx_store_seg *segs;
	uint32_t n_segs;
	struct mx_store_svc_ref *svcs;
	uint32_t n_svcs;
	uint64_t bytes; /* what the item counts against queue_max_bytes */
};

/* Writer-side cache of resource records known to be stored. */
struct mx_store_res_cache_ent {
	uint64_t key;
	uint64_t check;
	uint32_t len;
};
#define MX_STORE_RES_CACHE 4096u

/* Writer-side set of service names put recently. */
struct mx_store_svc_ent {
	uint64_t hash;
	uint64_t last_put_ns;
	char *name; /* malloc'd; NULL = free slot */
	uint32_t len;
};
#define MX_STORE_SVC_CAP 8192u /* slots; cleared when half full */
#define MX_STORE_SVC_REFRESH_NS (60ull * 1000000000ull)

struct mx_store {
	struct mx_store_config cfg;
	char *path;
	MDB_env *env;
	MDB_dbi dbi_meta, dbi_res, dbi_spans, dbi_idx, dbi_svc;
	uint32_t max_key; /* LMDB's key size limit */

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

	/* stats */
	atomic_uint_fast64_t st_spans, st_batches, st_commits, st_failures;
	atomic_uint_fast64_t st_busy, st_qbatches, st_qbytes, st_last_commit_us;
};

/* Encodes `batch` into a new item (spans sorted by trace id, one segment
 * per trace, resources and service names deduplicated). `max_bytes` caps
 * the encoded size; `max_key` the length of a service name key. Returns
 * MX_OK with *out set, MX_ENOMEM (cap or malloc), MX_EINVAL (a span without
 * resource or scope, an unknown value type) or MX_EDEPTH. The batch is left
 * untouched. */
int mx_store_item_build(const struct mx_batch *batch, uint64_t max_bytes,
			uint32_t max_key, struct mx_store_item **out);

/* Frees an item. Accepts NULL. */
void mx_store_item_free(struct mx_store_item *it);

/* The writer thread's entry point; `arg` is the store. */
void *mx_store_writer_main(void *arg);

/* Frees the writer's service-name set. */
void mx_store_svc_set_clear(struct mx_store *st);

/* Maps an LMDB return code to enum mx_err (MDB_MAP_FULL -> MX_EFULL,
 * MDB_NOTFOUND -> MX_ENOTFOUND, others MX_ESTORE). */
int mx_store_mdb_err(int rc);

#endif
