/*
 * mixd/mixd.h - libmixd, the reporting library that proxies embed to send
 * pre-aggregated request metrics and sampled spans to mixd.
 *
 * @section overview Overview
 *
 * A proxy creates one reporter per process (mixd_reporter_new()), starts its
 * flush thread in every process that records (mixd_reporter_start(), after
 * fork(2)), binds each label set it meets to a series handle
 * (mixd_series_bind()) and records every finished request on that handle
 * (mixd_record_request(), or mixd_record_request_traced() for a request
 * of a sampled trace). Every flush interval the flush thread ships the
 * deltas of all series, plus the spans recorded with mixd_record_span(), as
 * one gzip'd protobuf report (proto/mixd/report.proto) to the collector with
 * `POST /v1/report`. mixd_reporter_close() ships what is left within a
 * deadline and frees everything.
 *
 * @section hot The recording path
 *
 * mixd_record_request(), mixd_record_request_traced() (which also reads
 * the wall clock, through the vDSO), mixd_record_tcp_open(),
 * mixd_record_tcp_close() and mixd_record_tcp_bytes() take no lock, make
 * no system call and allocate nothing (after the calling thread's first
 * record on a reporter, which registers a per-thread shard). Each thread
 * owns a shard of counters that only it writes (relaxed atomic load +
 * store, no locked instruction); the flush thread reads them and ships the
 * difference to what it read last time. Counters only ever grow, so no
 * increment is lost and none is read twice, and writers never wait for the
 * flush thread. A traced record also leaves its trace id in a per-thread
 * exemplar slot of the series, which the flush thread reads without
 * making the writer wait (see mixd_record_request_traced()).
 *
 * @section exactly Delivery
 *
 * At most one report is in flight per reporter. A report that failed with a
 * retryable outcome (connection error, timeout, HTTP 429 or 5xx) is re-sent
 * with identical bytes and the same sequence number after an exponential
 * backoff with jitter, until it is acknowledged (2xx). Meanwhile new deltas
 * merge in memory into the next report (one cell per series: memory is
 * bounded by #mixd_config.max_series). mixd applies each (instance id,
 * sequence) once. Any other 4xx answer can never succeed: that report is
 * dropped and counted in #mixd_stats.reports_rejected.
 *
 * @section memory Memory
 *
 * A series costs about 600 bytes per recording thread plus 1.1 KB in the
 * flush thread. Past #mixd_config.max_series distinct label sets, new label
 * sets fold into one overflow series (reported with `overflow = true`) and
 * are counted. The span ring holds #mixd_config.span_ring_capacity spans of
 * at most #mixd_config.span_max_bytes encoded bytes each; its memory is
 * committed by the kernel only as slots are first used.
 *
 * @section threads Threads, fork, signals, dlopen
 *
 * Every function is thread-safe unless its comment says otherwise;
 * mixd_reporter_start() and mixd_reporter_close() must not race with other
 * calls on the same reporter. No function aborts or exits; allocation
 * failures drop data and count it. The flush thread blocks all signals.
 * The library may be loaded with dlopen(3): it uses a few dozen bytes of
 * initial-exec TLS and one pthread key per reporter; close every reporter
 * before dlclose(3).
 *
 * fork(2): create the reporter in the parent, fork, and call
 * mixd_reporter_start() in each child; each child then ships under its own
 * random instance id. Counts recorded in the parent before fork() are
 * copied into every child (and shipped by each): record only in children.
 * Do not fork while another thread is inside a libmixd call.
 *
 * @section errors Errors
 *
 * Functions return #MIXD_OK (0) or a negative `enum mixd_err`;
 * mixd_strerror() describes a code.
 */
#ifndef MIXD_MIXD_H
#define MIXD_MIXD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Marks a function exported from libmixd.so. */
#define MIXD_API __attribute__((visibility("default")))

/** The library version, also sent in every report. */
#define MIXD_VERSION_STRING "libmixd 0.1.0"

/** @defgroup errors Return codes
 * @{ */
enum mixd_err {
	MIXD_OK = 0,         /**< success */
	MIXD_EINVAL = -1,    /**< invalid argument (NULL, bad handle, bad
	                          config value, label longer than
	                          #MIXD_LABEL_MAX) */
	MIXD_ENOMEM = -2,    /**< allocation failed or a memory bound was hit;
	                          the data was dropped and counted */
	MIXD_ESTATE = -3,    /**< wrong state (start twice, record on a closed
	                          ring) */
	MIXD_ETIMEDOUT = -4, /**< close: the deadline passed before everything
	                          was acknowledged; the rest was dropped */
	MIXD_EFULL = -5,     /**< the span ring was full; the span was dropped
	                          and counted */
	MIXD_ESYS = -6,      /**< a system resource failed (thread creation,
	                          libcurl initialisation) */
};

/** Returns a static description of @p err; never NULL. */
MIXD_API const char *mixd_strerror(int err);

/** Returns #MIXD_VERSION_STRING of the loaded library. */
MIXD_API const char *mixd_version(void);
/** @} */

/** Longest accepted label or identity string, in bytes. */
#define MIXD_LABEL_MAX 1024

/**
 * The identity of a workload (Istio's source_* / destination_* labels).
 * NULL strings mean "". Istio writes "unknown" for an absent value (and
 * "latest" for an absent peer canonical revision); the caller chooses.
 */
struct mixd_workload {
	const char *workload;           /**< e.g. "productpage-v1" */
	const char *workload_namespace; /**< e.g. "default" */
	const char *app;
	const char *version;
	const char *canonical_service;
	const char *canonical_revision;
	const char *cluster;
	const char *principal;          /**< SPIFFE URI SAN, e.g.
	                                     "spiffe://cluster.local/ns/x/sa/y" */
};

/** @defgroup config Reporter configuration
 * @{ */
struct mixd_config {
	/** Report endpoint. Default "http://127.0.0.1:9091/v1/report". */
	const char *url;
	/** The local workload, sent once per report. */
	struct mixd_workload local;
	/** Interval between reports, ms. Default 1000; 10..3600000. */
	uint32_t flush_interval_ms;
	/** Timeout of one POST (connect + send + answer), ms. Default 5000. */
	uint32_t request_timeout_ms;
	/** TCP connect timeout, ms. Default 1000. */
	uint32_t connect_timeout_ms;
	/** First retry delay, ms; doubles per failure. Default 100. */
	uint32_t retry_initial_ms;
	/** Longest retry delay, ms; retries continue at this pace as long as
	 * the collector fails. Default 30000. */
	uint32_t retry_max_ms;
	/** Distinct label sets before new ones fold into the overflow series.
	 * Default 10000; 1..1000000. */
	uint32_t max_series;
	/** Recording threads that get a private shard; further threads share
	 * one shard with locked atomic adds (correct, slower). Default 64. */
	uint32_t max_threads;
	/** Spans the ring holds (rounded up to a power of two). Default 4096;
	 * 0 disables span recording. */
	uint32_t span_ring_capacity;
	/** Largest encoded span kept, bytes; attributes and events that do
	 * not fit are dropped from the span (and counted in it). Default
	 * 2048; 256..65536. */
	uint32_t span_max_bytes;
	/** Trace sampling probability 0..1 that the proxy should use for new
	 * traces (see mixd_reporter_sample_rate() and mixd/tracecontext.h).
	 * Default 0.01. */
	double sample_rate;
};

/**
 * Fills @p cfg with the defaults documented in struct mixd_config. Call it
 * before setting any field: fields added in later versions get defaults.
 * Accepts NULL (does nothing).
 */
MIXD_API void mixd_config_init(struct mixd_config *cfg);
/** @} */

/** Opaque reporter handle. */
struct mixd_reporter;
struct mixd_stats;

/** @defgroup lifecycle Lifecycle
 * @{ */

/**
 * Creates a reporter. Copies every string of @p cfg. Starts no thread and
 * opens no socket, so it may be called before fork(2).
 *
 * @param cfg  the configuration (see mixd_config_init()).
 * @param out  receives the handle; set to NULL on failure.
 * @return #MIXD_OK, #MIXD_EINVAL (NULL argument, empty url, value out of
 *         range, string over #MIXD_LABEL_MAX), #MIXD_ENOMEM.
 */
MIXD_API int mixd_reporter_new(const struct mixd_config *cfg,
			       struct mixd_reporter **out);

/**
 * Starts the flush thread in the calling process, with a fresh random
 * 16-byte instance id and sequence numbers from 1. Call it after fork(2),
 * in each process that records. Until it is called, records only
 * aggregate in memory; they are shipped by the first report after start.
 * Calling it in a forked child of a process that had already started the
 * reporter is allowed: the child gets its own instance id and abandons
 * the parent's unacknowledged report (the parent still ships it).
 *
 * Not thread-safe with respect to mixd_reporter_close() on the same handle.
 *
 * @return #MIXD_OK, #MIXD_EINVAL (NULL), #MIXD_ESTATE (already started in
 *         this process), #MIXD_ESYS (thread or libcurl creation failed),
 *         #MIXD_ENOMEM.
 */
MIXD_API int mixd_reporter_start(struct mixd_reporter *r);

/**
 * Stops the reporter: collects the last deltas, ships every pending report
 * (retrying as usual) until all are acknowledged or @p deadline_ms has
 * passed, stops the flush thread and frees everything. A reporter that was
 * never started in this process ships nothing (its aggregates are
 * discarded; see the fork note at the top of this file).
 *
 * No other call may use @p r during or after this call, and threads that
 * recorded on it must not be exiting concurrently. Accepts NULL.
 *
 * @return #MIXD_OK when everything recorded was acknowledged (or nothing
 *         was to be shipped), #MIXD_ETIMEDOUT when the deadline cut
 *         delivery short (the rest is lost), #MIXD_OK for NULL.
 */
MIXD_API int mixd_reporter_close(struct mixd_reporter *r,
				 uint32_t deadline_ms);

/**
 * As mixd_reporter_close(), and copies the reporter's final counters
 * (after the last delivery attempt) into *@p final when it is not NULL,
 * before freeing. Accepts NULL @p r (then *@p final is zeroed).
 */
MIXD_API int mixd_reporter_close_stats(struct mixd_reporter *r, uint32_t deadline_ms,
				       struct mixd_stats *final);

/** The configured sampling probability, for mixd_tc_child(). 0 for NULL. */
MIXD_API double mixd_reporter_sample_rate(const struct mixd_reporter *r);

/** Counters of a reporter since mixd_reporter_new(). */
struct mixd_stats {
	uint64_t series;            /**< bound series, overflow excluded */
	uint64_t overflow_series;   /**< distinct label sets folded into the
	                                 overflow series (counted distinctly
	                                 up to 4096, then per bind) */
	uint64_t threads;           /**< per-thread shards registered */
	uint64_t records_dropped;   /**< records lost (bad handle, no memory) */
	uint64_t reports_sent;      /**< POST attempts, retries included */
	uint64_t reports_acked;     /**< reports acknowledged (2xx) */
	uint64_t reports_retried;   /**< failed attempts that will be retried */
	uint64_t reports_rejected;  /**< reports dropped on a non-429 4xx */
	uint64_t reports_lost;      /**< reports dropped for other reasons
	                                 (encoding failed, close deadline) */
	uint64_t bytes_sent;        /**< request bodies sent (gzip'd), retries
	                                 included */
	uint64_t last_report_bytes; /**< gzip'd size of the newest report */
	uint64_t spans_recorded;    /**< spans accepted into the ring */
	uint64_t spans_dropped;     /**< spans dropped (ring full, too big) */
	uint64_t sequence;          /**< last sequence number assigned */
	int last_http_status;       /**< answer to the last attempt, 0 = none */
	uint64_t flush_cpu_ns;      /**< CPU time used by the flush thread
	                                 (0 when not started) */
};

/**
 * Copies the reporter's counters into @p out. Thread-safe, lock-free;
 * each counter is read atomically but the set is not a snapshot.
 * @return #MIXD_OK or #MIXD_EINVAL.
 */
MIXD_API int mixd_reporter_stats(const struct mixd_reporter *r,
				 struct mixd_stats *out);
/** @} */

/** @defgroup series Series
 * @{ */

/** Which side of the request the reporter is on (Istio `reporter`). */
enum mixd_role {
	MIXD_ROLE_UNSPECIFIED = 0,
	MIXD_ROLE_SOURCE = 1,      /**< client side ("source") */
	MIXD_ROLE_DESTINATION = 2, /**< server side ("destination") */
};

/**
 * The labels of a request or TCP series besides the local identity.
 * NULL strings mean "".
 */
struct mixd_series_labels {
	int role;                    /**< enum mixd_role */
	struct mixd_workload peer;   /**< the other side */
	const char *destination_service;           /**< host */
	const char *destination_service_name;
	const char *destination_service_namespace;
	const char *request_protocol;    /**< "http", "grpc", "tcp" */
	uint32_t response_code;          /**< HTTP status; 0 = no response */
	const char *grpc_response_status; /**< "0".."16"; "" for plain HTTP */
	const char *response_flags;      /**< Envoy flags, "-" when none */
	const char *connection_security_policy; /**< "mutual_tls", "none",
	                                             "unknown" */
};

/** The handle of the overflow series (label bound reached). */
#define MIXD_SERIES_OVERFLOW 0u

/**
 * Binds a label set to a series handle, creating the series on first use.
 * The strings are copied (the caller may free them after the call).
 * Binding the same labels again returns the same handle. Past
 * #mixd_config.max_series, returns #MIXD_SERIES_OVERFLOW and counts the
 * label set. Takes the reporter's lock and may allocate: not for the hot
 * path; bind once and keep the handle. Handles stay valid until close.
 *
 * @return #MIXD_OK (also for overflow), #MIXD_EINVAL (NULL argument, bad
 *         role, string over #MIXD_LABEL_MAX), #MIXD_ENOMEM. On error
 *         *@p out is #MIXD_SERIES_OVERFLOW.
 */
MIXD_API int mixd_series_bind(struct mixd_reporter *r,
			      const struct mixd_series_labels *labels,
			      uint32_t *out);

/**
 * Records one finished HTTP or gRPC request on a bound series: the hot
 * path (no lock, no system call, no allocation after the thread's first
 * record). Durations and sizes land in Envoy's default histogram buckets
 * (0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
 * 60000, 300000, 600000, 1800000, 3600000, +Inf).
 *
 * @param duration_ms     request duration in whole milliseconds.
 * @param request_bytes   bytes received from downstream (headers + body).
 * @param response_bytes  bytes sent downstream.
 * @return #MIXD_OK, #MIXD_EINVAL (NULL or unknown handle; counted in
 *         records_dropped).
 */
MIXD_API int mixd_record_request(struct mixd_reporter *r, uint32_t series,
				 uint64_t duration_ms, uint64_t request_bytes,
				 uint64_t response_bytes);

/**
 * Binds @p labels through a small per-thread cache of recent label sets,
 * then records as mixd_record_request(). A cache hit costs a hash and a
 * comparison of the strings; a miss costs mixd_series_bind().
 * @return as mixd_series_bind() and mixd_record_request().
 */
MIXD_API int mixd_record(struct mixd_reporter *r,
			 const struct mixd_series_labels *labels,
			 uint64_t duration_ms, uint64_t request_bytes,
			 uint64_t response_bytes);

/**
 * Records one finished request as mixd_record_request() and, when
 * @p trace_id is not NULL and not all zero, keeps it as the exemplar of
 * @p series: the report then carries, in the series' RequestDelta, the
 * trace id, the span id, @p duration_ms and the time of this call (Unix
 * ns), which mixd exposes as an OpenMetrics exemplar on the
 * istio_request_duration_milliseconds bucket the duration falls in. Call
 * it for requests whose trace is sampled (their spans recorded with
 * mixd_record_span()), mixd_record_request() for the others.
 *
 * One exemplar per series and report: the latest traced record wins
 * (across threads, by the time of the call), also when the reports of
 * several intervals merge while the collector is unreachable. Hot path:
 * no lock, no allocation; it reads the wall clock (vDSO) and writes the
 * exemplar without a locked instruction. Threads past
 * #mixd_config.max_threads share a shard whose exemplar slot takes one
 * locked instruction and is skipped (the request is still counted) when
 * another thread is writing it at that instant.
 *
 * @param trace_id  16 bytes, big-endian as on the wire (as in struct
 *                  mixd_span); NULL or all zero: no exemplar.
 * @param span_id   8 bytes; NULL or all zero: the exemplar has no span id.
 * @return as mixd_record_request().
 */
MIXD_API int mixd_record_request_traced(struct mixd_reporter *r, uint32_t series,
					uint64_t duration_ms, uint64_t request_bytes,
					uint64_t response_bytes, const uint8_t trace_id[16],
					const uint8_t span_id[8]);

/**
 * Binds @p labels through the per-thread cache as mixd_record(), then
 * records as mixd_record_request_traced().
 * @return as mixd_series_bind() and mixd_record_request().
 */
MIXD_API int mixd_record_traced(struct mixd_reporter *r,
				const struct mixd_series_labels *labels,
				uint64_t duration_ms, uint64_t request_bytes,
				uint64_t response_bytes, const uint8_t trace_id[16],
				const uint8_t span_id[8]);

/** Records a TCP connection opened on @p series. Hot path, as
 * mixd_record_request(). */
MIXD_API int mixd_record_tcp_open(struct mixd_reporter *r, uint32_t series);

/** Records a TCP connection closed on @p series. Hot path. */
MIXD_API int mixd_record_tcp_close(struct mixd_reporter *r, uint32_t series);

/** Adds TCP bytes on @p series: @p sent to and @p received from
 * downstream, as Istio counts them. Hot path. */
MIXD_API int mixd_record_tcp_bytes(struct mixd_reporter *r, uint32_t series,
				   uint64_t sent, uint64_t received);
/** @} */

/** @defgroup spans Spans
 * @{ */

/** Span kinds (values of OTLP's Span.SpanKind). */
enum mixd_span_kind {
	MIXD_SPAN_KIND_UNSPECIFIED = 0,
	MIXD_SPAN_KIND_INTERNAL = 1,
	MIXD_SPAN_KIND_SERVER = 2,
	MIXD_SPAN_KIND_CLIENT = 3,
	MIXD_SPAN_KIND_PRODUCER = 4,
	MIXD_SPAN_KIND_CONSUMER = 5,
};

/** Span status codes (OTLP's Status.StatusCode). */
enum mixd_status_code {
	MIXD_STATUS_UNSET = 0,
	MIXD_STATUS_OK = 1,
	MIXD_STATUS_ERROR = 2,
};

/** Attribute value types. */
enum mixd_attr_type {
	MIXD_ATTR_STRING = 0,
	MIXD_ATTR_INT = 1,
	MIXD_ATTR_DOUBLE = 2,
	MIXD_ATTR_BOOL = 3,
};

/** One attribute. */
struct mixd_attr {
	const char *key;
	int type;               /**< enum mixd_attr_type */
	union {
		const char *s;  /**< MIXD_ATTR_STRING; NULL means "" */
		int64_t i;      /**< MIXD_ATTR_INT */
		double d;       /**< MIXD_ATTR_DOUBLE */
		int b;          /**< MIXD_ATTR_BOOL: zero or not */
	} value;
};

/** One span event. */
struct mixd_event {
	const char *name;
	uint64_t time_unix_nano;
	const struct mixd_attr *attrs;
	size_t nattrs;
};

/** A finished span. Ids are big-endian, as on the wire. */
struct mixd_span {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_span_id[8];  /**< all zero for a root span */
	const char *trace_state;    /**< W3C tracestate or NULL */
	const char *name;
	int kind;                   /**< enum mixd_span_kind */
	uint64_t start_unix_nano;
	uint64_t end_unix_nano;
	const struct mixd_attr *attrs;
	size_t nattrs;
	const struct mixd_event *events;
	size_t nevents;
	int status_code;            /**< enum mixd_status_code */
	const char *status_message; /**< NULL or "" for none */
};

/**
 * Copies a finished span into the reporter's bounded ring; the flush thread
 * ships it with the next report. Record only sampled spans (the caller
 * decides, e.g. with mixd_tc_is_sampled()). The span is encoded in the
 * calling thread; no lock, no system call, no allocation (lock-free
 * multi-producer ring). Attributes and events that do not fit in
 * #mixd_config.span_max_bytes are dropped from the span and counted in its
 * dropped_*_count fields.
 *
 * @return #MIXD_OK, #MIXD_EINVAL (NULL, zero trace or span id),
 *         #MIXD_EFULL (ring full or span ring disabled: dropped and
 *         counted, reported as Report.dropped_spans).
 */
MIXD_API int mixd_record_span(struct mixd_reporter *r,
			      const struct mixd_span *span);
/** @} */

#ifdef __cplusplus
}
#endif

#endif /* MIXD_MIXD_H */
