/*
 * http.h - mixd's HTTP framework over libmicrohttpd.
 *
 * One MHD daemon (internal thread pool, epoll, no listening socket of its
 * own) serves every listener. mixd binds the listening sockets itself (both
 * loopbacks for `localhost`), accepts on one thread and hands each connection
 * to MHD with MHD_add_connection(); a connection is routed by the listener it
 * came in on. The framework enforces the body caps (Content-Length checked at
 * the headers stage, chunked bodies counted as they arrive), the global
 * budget for bodies held at once, and gzip inflation with a running output
 * cap, so handlers only ever see a complete, decompressed body.
 *
 * A handler answers with mx_http_respond(), either before it returns or later
 * from any thread (for example the store's writer thread after a commit).
 * While no answer exists the connection is suspended, never blocking a pool
 * thread. A large body can be streamed instead (mx_http_respond_stream()):
 * produced chunk by chunk on the pool thread as the socket drains.
 */
#ifndef MX_HTTP_H
#define MX_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct mx_http_server;
struct mx_http_req;

/* Handles one request. The body (if the route takes one) is complete and
 * decompressed. Must call mx_http_respond() exactly once, now or later. */
typedef void (*mx_http_handler)(struct mx_http_req *req, void *ctx);

/* Formats an error for this route's protocol (for example OTLP's
 * google.rpc.Status). Used for the framework's own 413/429/503 answers and
 * by handlers through mx_http_error(). Must call mx_http_respond(). */
typedef void (*mx_http_errfmt)(struct mx_http_req *req, unsigned status,
			       const char *msg);

#define MX_ROUTE_PREFIX 0x1u /* path matches as a prefix */
#define MX_ROUTE_BODY 0x2u   /* the route reads a request body */
#define MX_ROUTE_CORS 0x4u   /* answer CORS preflight and add CORS headers */

struct mx_route {
	const char *method; /* "GET", "POST"; NULL for any */
	const char *path;
	unsigned flags;     /* MX_ROUTE_* */
	mx_http_handler fn;
	void *ctx;
	mx_http_errfmt errfmt; /* NULL: text/plain */
};

struct mx_http_limits {
	uint64_t max_body;         /* compressed body; default 16 MiB */
	uint64_t max_decompressed; /* after gzip; default 64 MiB */
	uint64_t decode_budget;    /* bytes of bodies held at once; 256 MiB */
	unsigned threads;          /* MHD pool threads; default 2 */
	unsigned conn_timeout_s;   /* idle connection timeout; default 60 */
};

void mx_http_limits_default(struct mx_http_limits *lim);

/* Creates the server (no sockets yet). Returns NULL on failure (logged). */
struct mx_http_server *mx_http_new(const struct mx_http_limits *lim);

/* Binds a listener named `name` (used in the bound-address line) on
 * `address` ("host:port"; "localhost" binds 127.0.0.1 and ::1, ::1 failing
 * is only a warning; port 0 picks a free port, the same for both
 * loopbacks). An empty address disables the listener (returns MX_OK). The
 * route table must outlive the server. Returns MX_OK or MX_EIO (with `err`). */
int mx_http_listen(struct mx_http_server *srv, const char *name,
		   const char *address, const struct mx_route *routes,
		   size_t n_routes, char *err, size_t errlen);

/* Starts the MHD pool and the accept thread. Returns MX_OK or MX_EIO. */
int mx_http_start(struct mx_http_server *srv);

/* Appends `name=addr` pairs of every bound socket to `out` as a JSON object
 * {"otlp":["127.0.0.1:4318","[::1]:4318"],...}. */
void mx_http_bound_json(const struct mx_http_server *srv, char *out,
			size_t outlen);

/* Returns the first bound port of listener `name`, or 0. */
uint16_t mx_http_port(const struct mx_http_server *srv, const char *name);

/* Stops accepting new connections (closes the listening sockets). */
void mx_http_stop_accepting(struct mx_http_server *srv);

/* Stops accepting connections, answers every request that begins from now
 * on 503 (Connection: close), and waits at most `timeout_ms` until every
 * request already begun (body still arriving, decoding, or waiting for its
 * commit) has been answered. Returns true when none is left. */
bool mx_http_drain(struct mx_http_server *srv, unsigned timeout_ms);

/* Drains (mx_http_drain) for at most `timeout_ms`, then stops MHD and frees
 * the server. Accepts NULL. */
void mx_http_free(struct mx_http_server *srv, unsigned timeout_ms);

/* Counters: connections closed for an oversized chunked body, and requests
 * refused by the decode budget. */
struct mx_http_stats {
	uint64_t requests;
	uint64_t body_too_large;
	uint64_t budget_refused;
	uint64_t inflight;
};
void mx_http_get_stats(const struct mx_http_server *srv,
		       struct mx_http_stats *out);

/* --- request accessors (valid until mx_http_respond() returns) --- */

const char *mx_http_method(const struct mx_http_req *req);
/* The path without the query string. */
const char *mx_http_path(const struct mx_http_req *req);
/* A request header (case-insensitive name) or NULL. */
const char *mx_http_header(struct mx_http_req *req, const char *name);
/* True when the media type of Content-Type value `ctype` (before any ';'
 * parameters, surrounding blanks ignored) equals `type`, case-insensitively.
 * A NULL or empty `ctype` matches only an empty `type`. */
bool mx_http_media_type_is(const char *ctype, const char *type);

/* A query-string argument (URL-decoded) or NULL. */
const char *mx_http_query(struct mx_http_req *req, const char *name);
/* All values of a repeated query-string argument (URL-decoded), in order:
 * stores up to `max` of them in `out` and returns how many there are in all
 * (which may exceed `max`). An argument without `=` reads as "". */
size_t mx_http_query_all(struct mx_http_req *req, const char *name,
			 const char **out, size_t max);
/* The body: complete and inflated; NULL with *len 0 when empty. */
const uint8_t *mx_http_body(const struct mx_http_req *req, size_t *len);

/* Answers the request. `body` is copied (may be NULL when len is 0).
 * `extra_headers` is NULL or a NULL-terminated array of name, value pairs.
 * Thread-safe; call exactly once per request. */
void mx_http_respond(struct mx_http_req *req, unsigned status,
		     const char *content_type, const void *body, size_t len,
		     const char *const *extra_headers);

/* As mx_http_respond() but takes ownership of a malloc'd `body`. */
void mx_http_respond_owned(struct mx_http_req *req, unsigned status,
			   const char *content_type, void *body, size_t len,
			   const char *const *extra_headers);

/* --- streamed answers --- */

#define MX_HTTP_STREAM_END ((ssize_t)-1)   /* the body is complete */
#define MX_HTTP_STREAM_ERROR ((ssize_t)-2) /* abort: close the connection */

/* Produces the next bytes of a streamed body: writes at most `max` (> 0)
 * bytes to `buf` and returns how many (at least 1), or MX_HTTP_STREAM_END
 * once everything was produced, or MX_HTTP_STREAM_ERROR to abort (the
 * connection is closed without the chunked terminator, so the client sees
 * a truncated body, never a short one that looks whole). Called on an MHD
 * pool thread, one call at a time per response, as the socket drains; it
 * must not block and must not return 0 (0 is taken as an error). */
typedef ssize_t (*mx_http_fill_fn)(void *ctx, char *buf, size_t max);

/* Releases a stream's context. */
typedef void (*mx_http_stream_free_fn)(void *ctx);

/* Answers the request with a body of unknown length produced by `fill`
 * (chunked transfer encoding on HTTP/1.1; HTTP/1.0 clients get the body
 * up to a connection close). Status, `content_type` and `extra_headers`
 * as for mx_http_respond(); every header is sent before the first byte of
 * the body, so a failure later can only abort the body. A HEAD request
 * gets the same headers without Transfer-Encoding, no body and
 * Connection: close (libmicrohttpd would write a chunked terminator
 * otherwise); `fill` is then never called.
 *
 * Ownership: from this call on the framework owns `ctx`. `free_fn(ctx)`
 * (may be NULL) is called exactly once, on a pool thread or in
 * mx_http_free(), after the last `fill` call: when the body ended, was
 * aborted, when the client went away mid-body, or when the answer could
 * not be queued at all. It always runs before mx_http_free() returns.
 *
 * Accounting: the request stays "in flight" (mx_http_drain() waits for
 * it, mx_http_stats.inflight counts it) until `free_fn` has run, so a
 * drain lets a body that is being sent finish (within its timeout).
 * Thread-safe like mx_http_respond(); call exactly once per request and
 * never together with mx_http_respond() for the same request. */
void mx_http_respond_stream(struct mx_http_req *req, unsigned status,
			    const char *content_type,
			    const char *const *extra_headers,
			    mx_http_fill_fn fill, void *ctx,
			    mx_http_stream_free_fn free_fn);

/* Answers with the route's error format (text/plain when none). Adds
 * Retry-After: 1 for 429 and 503. */
void mx_http_error(struct mx_http_req *req, unsigned status, const char *msg);

#endif
