/*
 * reporter.h - libmixd internals shared by the files of reporter/ (never
 * installed; the public API is include/mixd/mixd.h).
 *
 * Layout of the data a reporter keeps:
 *  - series: append-only array of interned label sets; id 0 is the overflow
 *    series. Strings are interned in an append-only block directory, so the
 *    flush thread reads both without the lock (ids below the published
 *    counts are immutable).
 *  - shards: one per recording thread (plus shard 0, shared by threads
 *    past max_threads, updated with locked atomic adds). A shard holds one
 *    chunk of MXR_CHUNK cells per 16 series; a cell is MXR_NVAL counters
 *    that only grow, plus an exemplar slot (the latest traced record). The
 *    owning thread writes them with relaxed load+store; the flush thread
 *    reads them and keeps the last totals and exemplar time it saw.
 *  - flush state (flush.c): last totals and pending deltas per series, the
 *    pending spans, the report in flight.
 * Functions shared across files use the mxr_ prefix; they are hidden from
 * libmixd.so by -fvisibility=hidden.
 */
#ifndef MXR_REPORTER_H
#define MXR_REPORTER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mixd/mixd.h"

#define MXR_LIKELY(x) __builtin_expect(!!(x), 1)
#define MXR_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- cells ---- */
#define MXR_NBUCKETS 20
enum {
	MXR_V_DUR_SUM = 0,
	MXR_V_REQ_SUM = 1,
	MXR_V_RESP_SUM = 2,
	MXR_V_TCP_OPEN = 3,
	MXR_V_TCP_CLOSE = 4,
	MXR_V_TCP_SENT = 5,
	MXR_V_TCP_RECV = 6,
	MXR_V_DUR_B = 8,  /* 20 duration buckets */
	MXR_V_REQ_B = 28, /* 20 request-size buckets */
	MXR_V_RESP_B = 48, /* 20 response-size buckets */
	MXR_NVAL = 68,
};

/* The exemplar slot of a cell: the trace of the latest traced record
 * (mixd_record_request_traced()) on that cell. A seqlock: the writer makes
 * seq odd, stores the words, makes seq even again; the flush thread reads
 * seq, the words, seq again, and keeps the words only when both reads are
 * the same even value. An own shard's single writer needs no locked
 * instruction; the shared shard's writers take the odd state with a
 * compare-exchange and skip the exemplar when another writer holds it.
 * w[MXR_X_TIME] == 0: no exemplar ever recorded in this cell. */
enum {
	MXR_X_TRACE = 0, /* 2 words: the 16 trace id bytes */
	MXR_X_SPAN = 2,  /* the 8 span id bytes (0: none given) */
	MXR_X_DUR = 3,   /* the recorded duration, ms */
	MXR_X_TIME = 4,  /* when recorded, Unix ns */
	MXR_NX = 5,
};
struct mxr_exslot {
	_Atomic uint64_t seq;
	_Atomic uint64_t w[MXR_NX];
};

struct mxr_cell {
	_Atomic uint64_t v[MXR_NVAL];
	struct mxr_exslot ex;
};

#define MXR_CHUNK_SHIFT 4
#define MXR_CHUNK (1u << MXR_CHUNK_SHIFT)
struct mxr_chunk {
	struct mxr_cell cell[MXR_CHUNK];
};

/* per-thread cache of recent label sets for mixd_record() */
#define MXR_LCACHE 64
struct mxr_lcache_ent {
	uint64_t hash;
	uint32_t series;
	uint32_t used;
};

struct mxr_shard {
	_Atomic(struct mxr_chunk *) *chunks; /* max_chunks entries */
	int shared;                          /* shard 0: atomic adds */
	atomic_int released;                 /* owner thread exited */
	struct mxr_lcache_ent lcache[MXR_LCACHE]; /* owner only */
};

/* ---- series ---- */
enum {
	MXR_S_PEER = 0, /* 8 workload strings, in struct mixd_workload order */
	MXR_S_DSVC = 8,
	MXR_S_DSVC_NAME = 9,
	MXR_S_DSVC_NS = 10,
	MXR_S_PROTO = 11,
	MXR_S_GRPC = 12,
	MXR_S_FLAGS = 13,
	MXR_S_CSP = 14,
	MXR_NSTR = 15,
};
#define MXR_NWL 8 /* strings of a struct mixd_workload */

struct mxr_series {
	uint64_t hash;
	uint32_t role;
	uint32_t code;
	uint32_t str[MXR_NSTR]; /* string ids */
};

/* ---- span ring (spans.c) ---- */
struct mxr_ring {
	uint32_t cap;            /* power of two; 0 = disabled */
	uint32_t slot_bytes;
	_Atomic uint64_t *seq;   /* per-slot sequence (bounded MPMC queue) */
	uint32_t *len;           /* encoded length per slot */
	uint8_t *data;           /* cap * slot_bytes */
	_Atomic uint64_t head;   /* next position to claim (producers) */
	uint64_t tail;           /* next position to read (flush thread) */
	_Atomic uint64_t recorded;
	_Atomic uint64_t dropped;
};

/* ---- flush state (flush.c) ---- */
struct mxr_fcell {
	uint64_t last[MXR_NVAL]; /* totals seen at the last collection */
	uint64_t pend[MXR_NVAL]; /* deltas not yet put in a report */
	int in_pend;
	int has_ex;              /* ex is pending (goes with pend) */
	uint64_t ex_seen_ns;     /* time of the newest exemplar collected */
	uint64_t ex[MXR_NX];     /* the pending exemplar, MXR_X_* words */
};
struct mxr_fchunk {
	struct mxr_fcell c[MXR_CHUNK];
};
struct mxr_flush;

/* ---- the reporter ---- */
struct mixd_reporter {
	/* read by the hot path */
	uint64_t id;                 /* process-unique, never reused */
	_Atomic uint32_t nseries;    /* ids below are bound (0 = overflow) */
	pthread_key_t key;           /* this thread's shard */
	int key_ok;
	struct mxr_shard *shared;    /* == shards[0] */
	_Atomic uint64_t records_dropped;

	/* configuration (copies) */
	char *url;
	uint32_t local[MXR_NWL];     /* interned local identity */
	uint32_t flush_interval_ms, request_timeout_ms, connect_timeout_ms;
	uint32_t retry_initial_ms, retry_max_ms;
	uint32_t max_series, max_threads, max_chunks;
	double sample_rate;

	pthread_mutex_t lock;        /* bind, shard registration, wakeups */
	pthread_cond_t cond;         /* wakes the flush thread */

	/* shards: [0] shared, then one per thread; append-only */
	struct mxr_shard **shards;   /* max_threads + 1 entries */
	_Atomic uint32_t nshards;

	/* interned strings: blocks of MXR_SBLOCK pointers; id 0 == "" */
	_Atomic(char **) *sblocks;
	uint32_t max_sblocks;
	_Atomic uint32_t nstrings;
	uint32_t *stab;              /* hash table of string ids (lock) */
	uint32_t stab_cap;

	/* series: max_series + 1 entries; [0] is the overflow series */
	_Atomic(struct mxr_series *) *series;
	uint32_t *ltab;              /* hash table of series ids (lock) */
	uint32_t ltab_cap;
	uint64_t *ovf;               /* hashes of overflowed label sets */
	uint32_t novf;
	_Atomic uint64_t overflow_series;
	_Atomic uint64_t threads;

	struct mxr_ring ring;

	/* lifecycle */
	struct mxr_flush *fl;        /* created by start */
	pthread_t thread;
	pid_t start_pid;             /* 0 = never started */
	pid_t owner_pid;             /* process that created or last started r */
	int closing;                 /* under lock */
	uint64_t close_deadline;     /* monotonic ns, under lock */

	/* stats */
	_Atomic uint64_t reports_sent, reports_acked, reports_retried;
	_Atomic uint64_t reports_rejected, reports_lost, bytes_sent;
	_Atomic uint64_t last_report_bytes, sequence;
	atomic_int last_http_status;
};

#define MXR_SBLOCK 1024u

/* Returns interned string `id` (must be below r->nstrings). */
static inline const char *mxr_str(const struct mixd_reporter *r, uint32_t id)
{
	char **blk = atomic_load_explicit(&r->sblocks[id / MXR_SBLOCK],
					  memory_order_acquire);
	return blk[id % MXR_SBLOCK];
}

/* Returns bound series `id` (must be below r->nseries). */
static inline const struct mxr_series *mxr_series_get(const struct mixd_reporter *r,
						      uint32_t id)
{
	return atomic_load_explicit(&r->series[id], memory_order_acquire);
}

/* Monotonic and wall clocks in nanoseconds. */
uint64_t mxr_mono_ns(void);
uint64_t mxr_real_ns(void);

/* series.c: creates the shared shard, the overflow series and the string
 * table of `r` (whose config fields are set). Returns MIXD_OK or
 * MIXD_ENOMEM; mxr_series_free() cleans up either way. */
int mxr_series_init(struct mixd_reporter *r);
/* Frees series, strings and shards. Accepts a partly initialised r. */
void mxr_series_free(struct mixd_reporter *r);
/* Interns `s` (NULL = "") under the lock. Returns the id or UINT32_MAX on
 * allocation failure. Used for the local identity at creation. */
uint32_t mxr_intern_locked(struct mixd_reporter *r, const char *s);
/* In a forked child: marks every shard but the calling thread's as
 * released, so new threads reuse them. */
void mxr_shards_after_fork(struct mixd_reporter *r);

/* exemplar.c: stores exemplar w (MXR_NX words, w[MXR_X_TIME] != 0) in
 * slot `x`. `shared`: the slot belongs to the shared shard (several
 * writers); the exemplar is then skipped when another writer is inside.
 * Never waits, never allocates. */
void mxr_exslot_put(struct mxr_exslot *x, const uint64_t w[MXR_NX], int shared);
/* Reads slot `x` into w without waiting: returns 1 with a consistent copy,
 * 0 when a writer is inside it or kept changing it (read it next time). */
int mxr_exslot_read(const struct mxr_exslot *x, uint64_t w[MXR_NX]);
/* Flush thread: for each bound series (id below `n`) of chunk `c`, finds
 * the newest exemplar across shards 0..nsh-1; when it is newer than the
 * newest collected before (fcell ex_seen_ns), it becomes the pending
 * exemplar of the series' cell in `f` (replacing an older pending one: the
 * latest wins when intervals merge). Returns the mask of the cells of `f`
 * (bit j: series c * MXR_CHUNK + j) that got a new exemplar. */
uint32_t mxr_ex_collect(struct mixd_reporter *r, uint32_t c, uint32_t nsh, uint32_t n,
			struct mxr_fchunk *f);

/* spans.c */
int mxr_ring_init(struct mxr_ring *q, uint32_t capacity, uint32_t slot_bytes);
void mxr_ring_free(struct mxr_ring *q);
/* Pops the next complete span into *p and *n (valid until mxr_ring_release).
 * Returns 1 when one was popped, 0 when empty. Flush thread only. */
int mxr_ring_peek(struct mxr_ring *q, const uint8_t **p, size_t *n);
void mxr_ring_release(struct mxr_ring *q);

/* encode.c: protobuf writer */
struct mxr_pbw {
	uint8_t *p;
	size_t len, cap, max;
	int fail;   /* sticky: an append failed */
	int fixed;  /* p is caller memory of cap bytes; never grows */
};
void mxr_pbw_init(struct mxr_pbw *w, size_t max);
void mxr_pbw_fixed(struct mxr_pbw *w, uint8_t *buf, size_t cap);
void mxr_pbw_free(struct mxr_pbw *w);
void mxr_pb_raw(struct mxr_pbw *w, const void *p, size_t n);
void mxr_pb_varint(struct mxr_pbw *w, uint64_t v);
void mxr_pb_tag(struct mxr_pbw *w, uint32_t field, uint32_t wt);
/* field helpers; the _u64 and _str variants skip proto3 defaults */
void mxr_pb_u64(struct mxr_pbw *w, uint32_t field, uint64_t v);
void mxr_pb_bytes(struct mxr_pbw *w, uint32_t field, const void *p, size_t n);
void mxr_pb_str(struct mxr_pbw *w, uint32_t field, const char *s);
void mxr_pb_fixed64(struct mxr_pbw *w, uint32_t field, uint64_t v);
void mxr_pb_double(struct mxr_pbw *w, uint32_t field, double v);
/* nested message: mark = mxr_pb_begin(w, field); ...; mxr_pb_end(w, mark) */
size_t mxr_pb_begin(struct mxr_pbw *w, uint32_t field);
void mxr_pb_end(struct mxr_pbw *w, size_t mark);
/* Encodes an OTLP Span into w (fixed); drops attributes/events that do
 * not fit. Returns MIXD_OK or MIXD_EFULL when even the bare span does
 * not fit. */
int mxr_encode_span(struct mxr_pbw *w, const struct mixd_span *s);

/* One report's content, handed by flush.c to the encoder. */
struct mxr_report_in {
	const uint8_t *instance_id;     /* 16 bytes */
	uint64_t sequence;
	uint64_t start_ns, end_ns;
	const uint32_t *series;         /* ids with pending deltas */
	const struct mxr_fcell *const *cells; /* their pending cells */
	uint32_t nseries;
	const uint8_t *spans;           /* concatenated encoded spans */
	const uint32_t *span_len;
	uint32_t nspans;
	uint64_t dropped_spans;
	uint64_t overflow_series;
};
/* Encodes a report into *out (growable, capped) and gzips it into a new
 * malloc'd buffer *body. Returns MIXD_OK or MIXD_ENOMEM. */
int mxr_encode_report(struct mixd_reporter *r, const struct mxr_report_in *in,
		      uint8_t **body, size_t *body_len);

/* flush.c */
int mxr_flush_create(struct mixd_reporter *r, int forked_child);
int mxr_flush_start_thread(struct mixd_reporter *r);
/* Asks the thread to finish (under the deadline) and joins it. Returns
 * MIXD_OK or MIXD_ETIMEDOUT. */
int mxr_flush_stop(struct mixd_reporter *r, uint32_t deadline_ms);
void mxr_flush_free(struct mixd_reporter *r);
uint64_t mxr_flush_cpu_ns(const struct mixd_reporter *r);

#endif
