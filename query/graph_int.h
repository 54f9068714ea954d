/*
 * graph_int.h - what the graph files (query/graph*.c, see graph.h) share:
 * one request's working state (an arena, an interned string table, the
 * series of the window), the generic byte-keyed map, the query engine that
 * evaluates Kiali's PromQL over those series, and the traffic map of nodes
 * and edges with Kiali's metadata.
 *
 * Every string a graph handles (label values, node ids, codes) is interned
 * once into the request's table and named by a 32-bit id from then on, so
 * label comparisons and composite keys are integer work. Id 0 is "", the
 * value Prometheus treats as an absent label.
 *
 * Nodes and edges live in the arena and are referred to by pointer, as
 * Kiali's Go structures are: a merge or the service-graph reduction moves
 * edge pointers between nodes exactly as Kiali does, so the quirks that
 * follow from it (an edge keeping its original source node) are the same.
 */
#ifndef MX_GRAPH_INT_H
#define MX_GRAPH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../model/arena.h"
#include "../model/buf.h"
#include "../model/metrics.h"
#include "../model/span.h"
#include "../storage/store.h"
#include "params.h"
#include "prom.h"

/* ------------------------------------------------------------ options */

enum g_gtype { GT_APP, GT_VAPP, GT_WORKLOAD, GT_SERVICE };
enum g_rate { RATE_NONE, RATE_REQUESTS, RATE_SENT, RATE_RECEIVED, RATE_TOTAL };
enum g_nodekind { NK_NONE, NK_WORKLOAD, NK_APP, NK_VERSION, NK_SERVICE };

#define G_MAX_NS 512         /* namespaces one request may name */
#define G_APP_DEAD 0x1u      /* appenders: bits */
#define G_APP_RT 0x2u
#define G_APP_SEC 0x4u
#define G_APP_TP 0x8u

struct g_opts {
	uint8_t gtype;            /* enum g_gtype */
	bool inject;              /* injectServiceNodes (forced for service) */
	bool idle;                /* includeIdleEdges */
	int64_t query_time;       /* unix s */
	uint64_t dur_s;           /* whole seconds, >= 1 */
	uint8_t rate_http, rate_grpc, rate_tcp; /* enum g_rate */
	double quantile;          /* 0: avg */
	bool tp_request;          /* throughputType=request */
	unsigned appenders;       /* G_APP_* */
	bool box_app, box_ns, box_cluster;
	const char *cluster;      /* clusterName; "unknown" when absent */
	struct mx_str ns[G_MAX_NS]; /* requested namespaces, unique, in order */
	uint32_t n_ns;
	/* node-detail graph */
	uint8_t node;             /* enum g_nodekind; NK_NONE: namespaces */
	struct mx_str node_ns, node_name, node_version;
};

/* Parses a request path and its parameters into `o` (strings point into
 * `path` (copied into `scratch`) or the parameters). Returns 200, 400 or
 * 404 with `err` set for the latter two. */
unsigned mx_graph_parse(const char *path, const struct mx_params *p,
			int64_t now_s, char *scratch, size_t scratch_len,
			struct g_opts *o, char *err, size_t errlen);

/* ------------------------------------------------------------ state */

/* A byte-keyed map (open addressing) whose keys are copied to the arena. */
struct g_slot {
	uint64_t h;
	const uint8_t *key; /* NULL: empty */
	uint32_t klen;
	void *val;
};
struct g_map {
	struct g_slot *slots;
	size_t cap, n;
};

/* Label indexes in Istio's order (mx_istio_http_label_names); TCP series
 * are stored in the same layout with response_code and
 * grpc_response_status empty. */
enum {
	L_REPORTER = 0, L_SWL, L_SCSVC, L_SCREV, L_SWLNS, L_SPRINC, L_SAPP,
	L_SVER, L_SCLUSTER, L_DWL, L_DWLNS, L_DPRINC, L_DAPP, L_DVER, L_DSVC,
	L_DCSVC, L_DCREV, L_DSVCNAME, L_DSVCNS, L_DCLUSTER, L_PROTO, L_CODE,
	L_GRPC, L_FLAGS, L_CSP, L_N
};

/* One series of the window: interned labels and its deltas. */
struct g_ser {
	uint8_t kind;            /* MX_ISTIO_HTTP / MX_ISTIO_TCP */
	uint32_t lab[L_N];
	double count;            /* requests / TCP opened */
	double dur_sum;
	double req_bytes;        /* TCP: received bytes */
	double resp_bytes;       /* TCP: sent bytes */
	uint64_t buckets[MX_HIST_BUCKETS];
};

/* Well-known strings, interned first (their ids are these values). */
enum {
	S_EMPTY = 0, S_UNKNOWN, S_LATEST, S_SOURCE, S_DEST, S_HTTP, S_GRPC,
	S_TCP, S_DASH, S_ZERO, S_PASSTHROUGH, S_BLACKHOLE, S_MTLS,
	S_EGRESS_HOST, S_EGRESS, S_ISTIO_NS, S_N_FIXED
};

struct graph {
	struct mx_arena arena;
	const struct g_opts *o;
	/* interned strings: id -> string, and the map string -> id */
	struct mx_str *strs;
	uint32_t n_strs, cap_strs;
	struct g_map str_map;
	/* the window */
	struct g_ser *ser;
	size_t n_ser, cap_ser;
	/* the series by kind (HTTP, TCP) and reporter (source, destination):
	 * indexes into ser, in window order; every query names both */
	uint32_t *part[2][2];
	uint32_t n_part[2][2];
	uint32_t ns_ids[G_MAX_NS]; /* o->ns interned */
	uint32_t prev_lab[L_N];     /* the labels of the series read last */
	/* Kiali's node ids by identity (struct g_who) */
	struct g_map id_memo;
	/* scratch for composing keys and ids */
	struct mx_buf tmp;
	/* edges' applied time series (Kiali's tsHashMap) */
	struct g_map ts_seen;
	int err;                   /* first MX_ENOMEM etc.; sticky */
};

/* Sets up / tears down the state (the arena holds at most `cap` bytes). */
int g_init(struct graph *g, const struct g_opts *o, size_t cap);
void g_free(struct graph *g);

/* Arena allocation, zeroed; NULL (and g->err set) when the cap is hit. */
void *g_alloc(struct graph *g, size_t n);

/* Grows an arena array of `*cap` elements of `size` bytes holding `n` so
 * that one more fits. Returns false (g->err set) when out of memory. */
bool g_grow(struct graph *g, void **arr, uint32_t n, uint32_t *cap,
	    size_t size);

/* Interns `n` bytes; returns the id, or 0 with g->err set on failure. */
uint32_t g_intern(struct graph *g, const char *p, size_t n);
static inline uint32_t g_intern_str(struct graph *g, struct mx_str s)
{
	return g_intern(g, s.ptr, s.len);
}
static inline struct mx_str g_str(const struct graph *g, uint32_t id)
{
	return g->strs[id];
}
/* Kiali's IsOK: neither "" nor "unknown"; IsOKVersion also not "latest". */
static inline bool g_ok(uint32_t id)
{
	return id != S_EMPTY && id != S_UNKNOWN;
}
static inline bool g_ok_version(uint32_t id)
{
	return g_ok(id) && id != S_LATEST;
}

/* The map: lookup (NULL when absent) and insert-or-replace. */
void *g_map_get(const struct g_map *m, const void *key, uint32_t klen);
bool g_map_put(struct graph *g, struct g_map *m, const void *key,
	       uint32_t klen, void *val);

/* Hex SHA-256 of `n` bytes into out[65] (NUL-terminated). */
void g_sha256_hex(const void *p, size_t n, char out[65]);

/* Prometheus' round(v, 0.001). */
double g_round3(double v);

/* Reads the window [query_time - dur_s, query_time] of the store into
 * g->ser. Returns MX_OK, MX_ENOMEM or MX_ESTORE. */
int g_read_window(struct graph *g, struct mx_store *st);

/* ------------------------------------------------------------ queries */

enum g_op { OP_EQ, OP_NE, OP_NS_HOST, OP_SVC_HOST };
struct g_pred {
	uint8_t label;  /* L_* */
	uint8_t op;     /* enum g_op: OP_NS_HOST matches ^.+\.V\..+$, OP_SVC_HOST
	                   ^S\.V\..*$ (val2 = S) */
	uint32_t val, val2;
};
enum g_val { GV_COUNT, GV_DUR_SUM, GV_REQ_BYTES, GV_RESP_BYTES };
enum g_mode { GM_RATE, GM_AVG, GM_QUANTILE };

#define G_MAX_PRED 6
struct g_query {
	uint8_t kind;               /* MX_ISTIO_HTTP / MX_ISTIO_TCP */
	uint32_t reporter;          /* S_SOURCE / S_DEST */
	struct g_pred pred[G_MAX_PRED];
	uint8_t n_pred;
	const uint8_t *group;       /* labels of `by (...)` */
	uint8_t n_group;
	uint8_t val;                /* enum g_val (GM_RATE) */
	uint8_t mode;               /* enum g_mode */
	bool keep_zero;             /* no `> 0` (includeIdleEdges) */
	double quantile;
};

/* One element of a query's result vector: a series standing for its group
 * (only the grouped labels of `rep` may be read) and the value, rounded. */
struct g_row {
	const struct g_ser *rep;
	double val;
};
struct g_vec {
	struct g_row *rows;
	uint32_t n;
};

/* Evaluates `q` over the window: the rows in order of first appearance.
 * Returns false (g->err set) when out of memory. */
bool g_query(struct graph *g, const struct g_query *q, struct g_vec *out);

/* The label groups of Kiali's queries. */
extern const uint8_t g_by_traffic[17]; /* requests: peers, proto, codes, flags */
extern const uint8_t g_by_tcp[14];     /* TCP: peers, flags */
extern const uint8_t g_by_peers[14];   /* response time: peers, proto */
extern const uint8_t g_by_tp[13];      /* throughput: peers */
extern const uint8_t g_by_sec[15];     /* security: peers, principals, csp */

/* Prometheus' histogram_quantile over per-bucket counts with Envoy's
 * bounds (NaN when empty). */
double g_hist_quantile(double q, const double buckets[MX_HIST_BUCKETS]);

/* ------------------------------------------------------------ traffic */

enum g_ntype { NT_APP, NT_SERVICE, NT_WORKLOAD, NT_UNKNOWN, NT_BOX };

/* node rates (Kiali's node metadata keys), protocol by protocol */
enum {
	NR_GRPC_IN, NR_GRPC_IN_NORESP, NR_GRPC_IN_ERR, NR_GRPC_OUT,
	NR_HTTP_IN, NR_HTTP_IN_NORESP, NR_HTTP_IN_3XX, NR_HTTP_IN_4XX,
	NR_HTTP_IN_5XX, NR_HTTP_OUT, NR_TCP_IN, NR_TCP_OUT, NR_N
};
/* edge rates */
enum {
	ER_GRPC, ER_GRPC_NORESP, ER_GRPC_ERR, ER_HTTP, ER_HTTP_NORESP,
	ER_HTTP_3XX, ER_HTTP_4XX, ER_HTTP_5XX, ER_TCP, ER_N
};

#define NF_ROOT 0x1u
#define NF_OUTSIDE 0x2u
#define NF_INACCESSIBLE 0x4u
#define NF_INJECTED 0x8u
#define NF_EGRESS 0x10u
#define NF_REMOVED 0x20u  /* deleted from its map by the dead-node appender */

struct g_dest { uint32_t cluster, ns, name; };
struct g_kv { uint32_t k; double v; };
struct g_resp {
	uint32_t code;
	struct g_kv *flags, *hosts;
	uint32_t n_flags, cap_flags, n_hosts, cap_hosts;
};

struct g_edge;

struct g_node {
	uint32_t id;               /* Kiali's id string */
	uint8_t type;              /* enum g_ntype */
	uint32_t cluster, ns, wl, app, ver, svc;
	uint32_t flags;            /* NF_* */
	double r[NR_N];
	struct g_dest *dests;
	uint32_t n_dests, cap_dests;
	struct g_edge **edges;
	uint32_t n_edges, cap_edges;
};

#define EF_RT 0x1u
#define EF_TP 0x2u
#define EF_MTLS 0x4u
#define EF_PRINC 0x8u

struct g_edge {
	struct g_node *src, *dst;
	uint32_t proto;
	double r[ER_N];
	struct g_resp *resp;
	uint32_t n_resp, cap_resp;
	uint32_t has;              /* EF_* */
	double rt, tp, mtls;
	uint32_t sprinc, dprinc;
};

/* A traffic map: id -> node, and the nodes in insertion order. */
struct g_tmap {
	struct g_map by_id;
	struct g_node **nodes;
	uint32_t n, cap;
};

/* Looks a node up by id string id (NULL when absent or removed). */
struct g_node *g_tmap_get(const struct g_tmap *m, uint32_t id);
bool g_tmap_put(struct graph *g, struct g_tmap *m, struct g_node *n);

/* Kiali's graph.Id(): the node id string (interned) and type, or false
 * when no id can be made (no workload, app or service). */
bool g_node_id(struct graph *g, uint32_t cluster, uint32_t svc_ns,
	       uint32_t svc, uint32_t wl_ns, uint32_t wl, uint32_t app,
	       uint32_t ver, uint32_t *id, uint8_t *type);
/* Kiali's NewNodeExplicit() (fields trimmed by type). */
struct g_node *g_node_new(struct graph *g, uint32_t id, uint8_t type,
			  uint32_t cluster, uint32_t ns, uint32_t wl,
			  uint32_t app, uint32_t ver, uint32_t svc);
/* The edge of `src` to a node of id `dst_id` with `proto`, or NULL. */
struct g_edge *g_edge_find(const struct g_node *src, uint32_t dst_id,
			   uint32_t proto);
bool g_edge_append(struct graph *g, struct g_node *src, struct g_edge *e);
/* Kiali's AddOutgoingEdgeToMetadata / ResetOutgoingMetadata /
 * AggregateEdgeTraffic. */
void g_add_outgoing(struct g_node *n, const struct g_edge *e);
void g_reset_outgoing(struct g_node *n);
bool g_aggregate_edge(struct graph *g, const struct g_edge *from,
		      struct g_edge *to);

/* The identity a node is added with (cluster, service namespace, service,
 * workload namespace, workload, app, version: Kiali's addNode arguments and
 * timeSeriesHash input). */
struct g_who { uint32_t cluster, svc_ns, svc, wl_ns, wl, app, ver; };

/* The checks and normalisation Kiali's populate functions share: required
 * labels, clusters (absent: "unknown"), IsBadSourceTelemetry,
 * HandleDestination, IsBadDestTelemetry. Fills the source and destination
 * identities of series `s`; false: skip the row. */
bool g_row_identity(struct graph *g, const struct g_ser *s, struct g_who *src,
		    struct g_who *dst);

/* Whether destination `d` gets an injected service node (injection asked,
 * a service name that is not PassthroughCluster, a destination that is not
 * itself a service node); *skip when the destination has no id. */
bool g_inject(struct graph *g, const struct g_who *d, bool *skip);

/* Builds the traffic map of one namespace (Kiali's
 * buildNamespaceTrafficMap) or of the node-detail graph. */
bool g_build_ns(struct graph *g, uint32_t ns, struct g_tmap *m);
bool g_build_node(struct graph *g, struct g_tmap *m);
/* MergeTrafficMaps(into, ns, from). */
bool g_merge(struct graph *g, struct g_tmap *into, uint32_t ns,
	     struct g_tmap *from);

/* The appenders of one namespace's map, in Kiali's order. */
bool g_append(struct graph *g, struct g_tmap *m, uint32_t ns);
/* The finalizers: outsider (requested namespaces `ns`), traffic
 * generator. */
void g_finalize(struct graph *g, struct g_tmap *m, const uint32_t *ns,
		uint32_t n_ns);
/* ReduceToServiceGraph: a new map into `out`. */
bool g_reduce_service(struct graph *g, struct g_tmap *m, struct g_tmap *out);

/* Writes Kiali's JSON of the map to `out`. Returns false when out of
 * memory or over the buffer's cap. */
bool g_write_json(struct graph *g, const struct g_tmap *m, struct mx_buf *out);

/* Writes Kiali's error JSON {"error":"<msg>"} (compact, as Go's
 * json.Marshal writes it) to `out`. */
void g_json_error(struct mx_buf *out, const char *msg);

#endif
