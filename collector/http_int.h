/*
 * http_int.h - internals shared by the files of the HTTP framework (not part
 * of its API; only collector/http*.c include it).
 *
 * http.c owns the server (listeners, accept thread, MHD daemon, drain and
 * free), routes each request and drives it through MHD's callbacks;
 * http_body.c reads request bodies (caps, decode budget, gzip inflation);
 * http_respond.c stores and queues answers, buffered or streamed, and
 * resumes suspended connections. The request life cycle is described at
 * the top of http.c.
 */
#ifndef MX_HTTP_INT_H
#define MX_HTTP_INT_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "listen.h"

#define MX_HTTP_MAX_LISTENERS 16
#define MX_HTTP_MAX_EXTRA_HEADERS 8

/* One bound listener and the routes it serves. */
struct mx_http_listener {
	char name[32];
	struct mx_bound bound;
	const struct mx_route *routes;
	size_t n_routes;
};

struct mx_http_server {
	struct mx_http_limits lim;
	struct mx_http_listener listeners[MX_HTTP_MAX_LISTENERS];
	size_t n_listeners;
	struct MHD_Daemon *mhd;
	pthread_t accept_thread;
	bool accept_running;
	int wake[2]; /* pipe waking the accept thread */
	_Atomic uint64_t budget_used;
	_Atomic uint64_t requests;
	_Atomic uint64_t body_too_large;
	_Atomic uint64_t budget_refused;
	_Atomic int64_t inflight; /* begun, not yet answered */
	_Atomic bool draining;    /* new requests get 503 */
	pthread_mutex_t idle_mu;
	pthread_cond_t idle_cv;
};

/* mx_http_req.state: who queues the answer (see http.c). */
enum mx_http_req_state {
	MX_RS_IN_HANDLER = 0, /* handler running, no answer yet */
	MX_RS_ANSWERED,       /* answered before the handler returned */
	MX_RS_SUSPENDED,      /* handler returned without an answer */
	MX_RS_RESUMED,        /* answered after suspension */
};

struct mx_http_req {
	struct mx_http_server *srv;
	struct MHD_Connection *conn;
	const struct mx_route *route;
	const char *method;
	const char *path;
	uint8_t *body;
	size_t body_len;
	size_t body_cap;
	uint64_t budget_held;
	unsigned refuse; /* status to answer once the body is read, or 0 */
	bool dispatched;
	bool counted_inflight;
	_Atomic int state; /* enum mx_http_req_state */
	/* the answer */
	unsigned status;
	char content_type[96];
	uint8_t *resp;
	size_t resp_len;
	char *headers[2 * MX_HTTP_MAX_EXTRA_HEADERS];
	size_t n_headers;
	/* a streamed answer, until MHD owns it */
	mx_http_fill_fn s_fill;
	void *s_ctx;
	mx_http_stream_free_fn s_free;
};

/* ---------- http_body.c ---------- */

/* Headers stage of a route that takes a body: checks a declared
 * Content-Length against the cap (413) and the decode budget (429), and
 * allocates the body buffer for it (503 when out of memory); a malformed
 * Content-Length is answered 400. Each refusal is queued right away (its
 * MHD_Result returned); MHD_YES otherwise, also without Content-Length. */
enum MHD_Result mx_http_body_begin(struct mx_http_server *srv, struct mx_http_req *r);

/* Appends `n` bytes of body. Returns MHD_NO (close the connection) when a
 * body passes the cap, else MHD_YES; past the decode budget (or out of
 * memory) sets r->refuse and drops the rest. A route without a body, or a
 * request already refused, reads and drops. */
enum MHD_Result mx_http_body_chunk(struct mx_http_server *srv, struct mx_http_req *r,
				   const char *data, size_t n);

/* Inflates a gzip/deflate body in place (declared by Content-Encoding, or
 * detected by its magic), moving the budget from the compressed to the
 * inflated copy. Returns 0, or the HTTP status to answer: 413 (inflated
 * body over the cap), 415 (unknown Content-Encoding), 400 (corrupt), 429
 * (budget) or 503 (out of memory). */
unsigned mx_http_body_inflate(struct mx_http_server *srv, struct mx_http_req *r);

/* Gives the request's share of the decode budget back. Idempotent. */
void mx_http_budget_release(struct mx_http_server *srv, struct mx_http_req *r);

/* ---------- http_respond.c ---------- */

/* Stores an answer in `r` (taking ownership of the malloc'd `body`; up to
 * MX_HTTP_MAX_EXTRA_HEADERS name/value pairs of `extra` are copied)
 * without handing it over. */
void mx_http_store_answer(struct mx_http_req *r, unsigned status, const char *ctype,
			  void *body, size_t len, const char *const *extra);

/* Queues the stored answer (buffered or streamed) on r->conn and releases
 * the request's in-flight count (a stream takes it along). Returns MHD's
 * result; MHD_NO when the response cannot be created. */
enum MHD_Result mx_http_queue_answer(struct mx_http_req *r);

/* An answer given before dispatch (routing, caps): formats `msg` with the
 * route's error format (mx_http_error) and queues it right away. */
enum MHD_Result mx_http_answer_now(struct mx_http_req *r, unsigned status, const char *msg);

/* Releases a streamed answer MHD never took (calls its free function). */
void mx_http_stream_drop(struct mx_http_req *r);

/* Releases the request's in-flight count, once; wakes mx_http_drain() when
 * it was the last. */
void mx_http_inflight_done(struct mx_http_req *r);

#endif
