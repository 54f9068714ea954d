/*
 * http_respond.c - answers for the HTTP framework: mx_http_respond() and
 * its variants, the framework's error answers, streamed bodies, and the
 * hand-over of an answer to libmicrohttpd (see http.h, http_int.h).
 *
 * An answer is first stored in its request; deliver() then decides who
 * queues it with MHD: the pool thread that runs the handler, when the
 * answer came before the handler returned, else the answering thread
 * resumes the suspended connection and MHD's next call queues it (the
 * state word in struct mx_http_req makes this race-free; http.c).
 *
 * A streamed answer (mx_http_respond_stream) goes the same way; queueing
 * it hands its fill function and context to an MHD callback response,
 * together with the request's "in flight" count, which is released when
 * MHD destroys the response (body done, aborted, or connection gone).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

#define STREAM_BLOCK (64 * 1024) /* MHD's read size for streamed bodies */

/* A streamed body as MHD holds it (the callback response's closure). */
struct http_stream {
	struct mx_http_server *srv;
	mx_http_fill_fn fill;
	void *ctx;
	mx_http_stream_free_fn free_fn;
	bool counted_inflight; /* the request's in-flight count moved here */
};

static void inflight_release(struct mx_http_server *srv)
{
	if (atomic_fetch_sub(&srv->inflight, 1) == 1) {
		pthread_mutex_lock(&srv->idle_mu);
		pthread_cond_broadcast(&srv->idle_cv);
		pthread_mutex_unlock(&srv->idle_mu);
	}
}

void mx_http_inflight_done(struct mx_http_req *r)
{
	if (!r->counted_inflight)
		return;
	r->counted_inflight = false;
	inflight_release(r->srv);
}

/* MHD's content reader for a streamed body. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_stream *hs = cls;
	(void)pos;
	if (max == 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	ssize_t n = hs->fill(hs->ctx, buf, max);
	if (n == MX_HTTP_STREAM_END)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n <= 0 || (size_t)n > max)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	return n;
}

/* MHD is done with a streamed response (sent, aborted or connection gone). */
static void stream_free(void *cls)
{
	struct http_stream *hs = cls;
	if (hs->free_fn)
		hs->free_fn(hs->ctx);
	if (hs->counted_inflight)
		inflight_release(hs->srv);
	free(hs);
}

/* Releases a streamed answer MHD never took. */
void mx_http_stream_drop(struct mx_http_req *r)
{
	if (r->s_free)
		r->s_free(r->s_ctx);
	r->s_fill = NULL;
	r->s_ctx = NULL;
	r->s_free = NULL;
}

/* The MHD response for a streamed answer; NULL when out of memory (the
 * stream is then released). */
static struct MHD_Response *stream_response(struct mx_http_req *r)
{
	struct http_stream *hs = malloc(sizeof(*hs));
	struct MHD_Response *resp = NULL;
	if (hs) {
		*hs = (struct http_stream){ r->srv, r->s_fill, r->s_ctx, r->s_free, false };
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
							 stream_read, hs, stream_free);
	}
	if (!resp) {
		free(hs);
		mx_http_stream_drop(r);
		return NULL;
	}
	/* MHD owns the stream now, and with it the in-flight count */
	r->s_fill = NULL;
	r->s_ctx = NULL;
	r->s_free = NULL;
	if (r->counted_inflight) {
		r->counted_inflight = false;
		hs->counted_inflight = true;
	}
	return resp;
}

enum MHD_Result mx_http_queue_answer(struct mx_http_req *r)
{
	struct MHD_Response *resp;
	bool head_stream = r->s_fill && strcmp(r->method, "HEAD") == 0;
	if (r->s_fill) {
		resp = stream_response(r);
		if (!resp)
			return MHD_NO;
	} else {
		resp = MHD_create_response_from_buffer(r->resp_len, r->resp,
						       MHD_RESPMEM_MUST_FREE);
		if (!resp)
			return MHD_NO;
		r->resp = NULL; /* MHD owns it now */
	}
	if (head_stream) /* no chunking: MHD would write its terminator */
		MHD_set_response_options(resp, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END);
	if (r->content_type[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
	for (size_t i = 0; i + 1 < r->n_headers; i += 2)
		MHD_add_response_header(resp, r->headers[i], r->headers[i + 1]);
	if (r->route && (r->route->flags & MX_ROUTE_CORS))
		MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
	enum MHD_Result ret = MHD_queue_response(r->conn, r->status, resp);
	MHD_destroy_response(resp);
	mx_http_inflight_done(r);
	return ret;
}

void mx_http_store_answer(struct mx_http_req *r, unsigned status, const char *ctype,
			  void *body, size_t len, const char *const *extra)
{
	r->status = status;
	snprintf(r->content_type, sizeof(r->content_type), "%s", ctype ? ctype : "");
	free(r->resp);
	r->resp = body;
	r->resp_len = len;
	for (size_t i = 0; extra && extra[i] && extra[i + 1] &&
			    r->n_headers + 2 <= 2 * MX_HTTP_MAX_EXTRA_HEADERS; i += 2) {
		r->headers[r->n_headers++] = strdup(extra[i]);
		r->headers[r->n_headers++] = strdup(extra[i + 1]);
	}
}

/* Hands the stored answer over: queued by the handler's caller when the
 * handler still runs, else the connection is resumed to queue it. */
static void deliver(struct mx_http_req *r)
{
	int expected = MX_RS_IN_HANDLER;
	if (atomic_compare_exchange_strong(&r->state, &expected, MX_RS_ANSWERED))
		return; /* the handler is still running; it queues the answer */
	/* suspended: the handler already returned */
	atomic_store(&r->state, MX_RS_RESUMED);
	MHD_resume_connection(r->conn);
}

void mx_http_respond_owned(struct mx_http_req *r, unsigned status,
			   const char *content_type, void *body, size_t len,
			   const char *const *extra_headers)
{
	mx_http_store_answer(r, status, content_type, body, len, extra_headers);
	deliver(r);
}

void mx_http_respond_stream(struct mx_http_req *r, unsigned status,
			    const char *content_type,
			    const char *const *extra_headers,
			    mx_http_fill_fn fill, void *ctx,
			    mx_http_stream_free_fn free_fn)
{
	mx_http_store_answer(r, status, content_type, NULL, 0, extra_headers);
	r->s_fill = fill;
	r->s_ctx = ctx;
	r->s_free = free_fn;
	deliver(r);
}

void mx_http_respond(struct mx_http_req *r, unsigned status, const char *content_type,
		     const void *body, size_t len, const char *const *extra_headers)
{
	void *copy = NULL;
	if (len) {
		copy = malloc(len);
		if (!copy) {
			status = 500;
			len = 0;
		} else {
			memcpy(copy, body, len);
		}
	}
	mx_http_respond_owned(r, status, content_type, copy, len, extra_headers);
}

void mx_http_error(struct mx_http_req *r, unsigned status, const char *msg)
{
	if (r->route && r->route->errfmt) {
		r->route->errfmt(r, status, msg);
		return;
	}
	static const char *const retry[] = { "Retry-After", "1", NULL };
	size_t n = strlen(msg);
	char *body = malloc(n + 1);
	if (body) {
		memcpy(body, msg, n);
		body[n] = '\n';
	}
	mx_http_respond_owned(r, status, "text/plain; charset=utf-8", body, body ? n + 1 : 0,
			      (status == 429 || status == 503) ? retry : NULL);
}

/* An answer given before dispatch (routing, caps): queue it right away. */
enum MHD_Result mx_http_answer_now(struct mx_http_req *r, unsigned status, const char *msg)
{
	atomic_store(&r->state, MX_RS_IN_HANDLER);
	mx_http_error(r, status, msg);
	return mx_http_queue_answer(r);
}
