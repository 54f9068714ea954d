/*
 * http.c - the HTTP framework's server: listeners and the accept thread,
 * the libmicrohttpd daemon and its request callbacks, routing, the request
 * accessors, drain and free (see http.h). Request bodies are read in
 * http_body.c, answers stored and queued in http_respond.c; the structures
 * they share are in http_int.h.
 *
 * Request life cycle (one `struct mx_http_req` per request, MHD's req_cls):
 *   1. headers: route by listener + method + path; refuse early (404, 405,
 *      413 on a declared Content-Length over the cap, 429 when the decode
 *      budget cannot hold the declared body).
 *   2. body chunks: appended up to the cap; a chunked body passing the cap
 *      closes the connection; past the budget the rest is read and dropped
 *      and the request answered 429.
 *   3. body complete: inflate if gzip, call the handler. If the handler has
 *      not answered when it returns, suspend the connection; the answer may
 *      come from any thread (mx_http_respond) and resumes it.
 *   4. resumed: queue the stored answer.
 * The state word makes steps 3-4 race-free: whoever comes second (the
 * handler returning or the answer arriving) does the resume.
 *
 * A streamed answer (mx_http_respond_stream) goes the same way
 * (http_respond.c).
 */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../model/error.h"
#include "http_int.h"
#include "listen.h"
#include "log.h"

void mx_http_limits_default(struct mx_http_limits *lim)
{
	lim->max_body = 16ull << 20;
	lim->max_decompressed = 64ull << 20;
	lim->decode_budget = 256ull << 20;
	lim->threads = 2;
	lim->conn_timeout_s = 60;
}

/* ---------- accessors ---------- */

const char *mx_http_method(const struct mx_http_req *r) { return r->method; }
const char *mx_http_path(const struct mx_http_req *r) { return r->path; }

const char *mx_http_header(struct mx_http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

bool mx_http_media_type_is(const char *ctype, const char *type)
{
	if (!ctype)
		ctype = "";
	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	size_t n = strcspn(ctype, "; \t");
	return n == strlen(type) && strncasecmp(ctype, type, n) == 0;
}

const char *mx_http_query(struct mx_http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct query_all_ctx {
	const char *name;
	const char **out;
	size_t max;
	size_t n;
};

static enum MHD_Result query_all_cb(void *cls, enum MHD_ValueKind kind,
				    const char *key, const char *value)
{
	struct query_all_ctx *q = cls;
	(void)kind;
	if (key && strcmp(key, q->name) == 0) {
		if (q->n < q->max)
			q->out[q->n] = value ? value : "";
		q->n++;
	}
	return MHD_YES;
}

size_t mx_http_query_all(struct mx_http_req *r, const char *name,
			 const char **out, size_t max)
{
	struct query_all_ctx q = { name, out, max, 0 };
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_all_cb, &q);
	return q.n;
}

const uint8_t *mx_http_body(const struct mx_http_req *r, size_t *len)
{
	*len = r->body_len;
	return r->body_len ? r->body : NULL;
}

/* ---------- MHD callbacks ---------- */

static struct mx_http_listener *listener_of(struct mx_http_server *srv, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? (struct mx_http_listener *)ci->socket_context : NULL;
	(void)srv;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct mx_http_server *srv = cls;
	if (toe != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(ci->connect_fd, (struct sockaddr *)&ss, &len) != 0)
		return;
	uint16_t port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
						: ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	for (size_t i = 0; i < srv->n_listeners; i++) {
		if (srv->listeners[i].bound.port == port) {
			*socket_context = &srv->listeners[i];
			return;
		}
	}
}

static const struct mx_route *route_find(const struct mx_http_listener *l, const char *method,
					 const char *path, bool *method_mismatch)
{
	*method_mismatch = false;
	for (size_t i = 0; i < l->n_routes; i++) {
		const struct mx_route *rt = &l->routes[i];
		bool match = (rt->flags & MX_ROUTE_PREFIX)
			? strncmp(path, rt->path, strlen(rt->path)) == 0
			: strcmp(path, rt->path) == 0;
		if (!match)
			continue;
		if (!rt->method || strcmp(rt->method, method) == 0 ||
		    (strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0))
			return rt;
		*method_mismatch = true;
		if (strcmp(method, "OPTIONS") == 0 && (rt->flags & MX_ROUTE_CORS))
			return rt;
	}
	return NULL;
}

static enum MHD_Result on_first_call(struct mx_http_server *srv, struct MHD_Connection *c,
				     const char *url, const char *method, void **req_cls)
{
	struct mx_http_req *r = calloc(1, sizeof(*r));
	if (!r)
		return MHD_NO;
	r->srv = srv;
	r->conn = c;
	r->method = method;
	r->path = url;
	*req_cls = r;
	atomic_fetch_add(&srv->requests, 1);
	r->counted_inflight = true;
	atomic_fetch_add(&srv->inflight, 1);
	if (atomic_load(&srv->draining)) {
		static const char *const close_hdr[] = { "Connection", "close",
							 "Retry-After", "1", NULL };
		atomic_store(&r->state, MX_RS_IN_HANDLER);
		mx_http_store_answer(r, 503, "text/plain; charset=utf-8", NULL, 0, close_hdr);
		return mx_http_queue_answer(r);
	}

	struct mx_http_listener *l = listener_of(srv, c);
	if (!l)
		return mx_http_answer_now(r, 404, "no such listener");
	bool mismatch;
	r->route = route_find(l, method, url, &mismatch);
	if (!r->route)
		return mx_http_answer_now(r, mismatch ? 405 : 404,
					  mismatch ? "method not allowed" : "not found");
	if (strcmp(method, "OPTIONS") == 0 && (r->route->flags & MX_ROUTE_CORS) &&
	    (!r->route->method || strcmp(r->route->method, "OPTIONS") != 0)) {
		static const char *const cors[] = {
			"Access-Control-Allow-Methods", "POST, GET, OPTIONS",
			"Access-Control-Allow-Headers", "*",
			"Access-Control-Max-Age", "86400", NULL };
		atomic_store(&r->state, MX_RS_IN_HANDLER);
		mx_http_respond_owned(r, 204, NULL, NULL, 0, cors);
		return mx_http_queue_answer(r);
	}
	if (r->route->flags & MX_ROUTE_BODY)
		return mx_http_body_begin(srv, r);
	return MHD_YES;
}

static enum MHD_Result dispatch(struct mx_http_server *srv, struct mx_http_req *r)
{
	r->dispatched = true;
	if (r->refuse)
		return mx_http_answer_now(r, r->refuse, r->refuse == 429
					  ? "too many bodies being decoded; retry later" : "out of memory");
	if (r->route->flags & MX_ROUTE_BODY) {
		unsigned st = mx_http_body_inflate(srv, r);
		if (st == 413) {
			char msg[128];
			snprintf(msg, sizeof(msg), "decompressed body exceeds the limit of %llu bytes",
				 (unsigned long long)srv->lim.max_decompressed);
			return mx_http_answer_now(r, 413, msg);
		}
		if (st == 415)
			return mx_http_answer_now(r, 415, "unsupported Content-Encoding");
		if (st)
			return mx_http_answer_now(r, st, st == 400 ? "corrupt gzip body" : "retry later");
		if (r->body)
			r->body[r->body_len] = '\0';
	}
	atomic_store(&r->state, MX_RS_IN_HANDLER);
	r->route->fn(r, r->route->ctx);
	if (atomic_load(&r->state) == MX_RS_ANSWERED)
		return mx_http_queue_answer(r); /* answered synchronously: no suspension */
	MHD_suspend_connection(r->conn);
	int expected = MX_RS_IN_HANDLER;
	if (atomic_compare_exchange_strong(&r->state, &expected, MX_RS_SUSPENDED))
		return MHD_YES; /* the answer will resume us */
	/* answered before or while we suspended: resume right away */
	MHD_resume_connection(r->conn);
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **req_cls)
{
	struct mx_http_server *srv = cls;
	struct mx_http_req *r = *req_cls;
	(void)version;
	if (!r)
		return on_first_call(srv, c, url, method, req_cls);
	if (r->dispatched) {
		/* resumed (or a spurious call while suspended) */
		int st = atomic_load(&r->state);
		if (st == MX_RS_ANSWERED || st == MX_RS_RESUMED) {
			if (r->resp || r->status)
				return mx_http_queue_answer(r);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		enum MHD_Result ret = mx_http_body_chunk(srv, r, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return ret;
	}
	return dispatch(srv, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct mx_http_server *srv = cls;
	struct mx_http_req *r = *req_cls;
	(void)c;
	(void)toe;
	if (!r)
		return;
	mx_http_stream_drop(r); /* answered, but never handed to MHD */
	mx_http_inflight_done(r);
	mx_http_budget_release(srv, r);
	free(r->body);
	free(r->resp);
	for (size_t i = 0; i < r->n_headers; i++)
		free(r->headers[i]);
	free(r);
	*req_cls = NULL;
}

/* ---------- server ---------- */

struct mx_http_server *mx_http_new(const struct mx_http_limits *lim)
{
	struct mx_http_server *srv = calloc(1, sizeof(*srv));
	if (!srv)
		return NULL;
	srv->lim = *lim;
	srv->wake[0] = srv->wake[1] = -1;
	pthread_mutex_init(&srv->idle_mu, NULL);
	pthread_cond_init(&srv->idle_cv, NULL);
	return srv;
}

int mx_http_listen(struct mx_http_server *srv, const char *name, const char *address,
		   const struct mx_route *routes, size_t n_routes, char *err, size_t errlen)
{
	if (!address || !*address)
		return MX_OK;
	if (srv->n_listeners == MX_HTTP_MAX_LISTENERS) {
		snprintf(err, errlen, "too many listeners");
		return MX_EINVAL;
	}
	struct mx_http_listener *l = &srv->listeners[srv->n_listeners];
	memset(l, 0, sizeof(*l));
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->routes = routes;
	l->n_routes = n_routes;
	char e[256];
	int rc = mx_listen_bind(address, SOCK_STREAM, &l->bound, e, sizeof(e));
	if (rc != MX_OK) {
		snprintf(err, errlen, "%s listener: %s", name, e);
		return rc;
	}
	srv->n_listeners++;
	return MX_OK;
}

static void *accept_main(void *arg)
{
	struct mx_http_server *srv = arg;
	struct pollfd pfds[MX_HTTP_MAX_LISTENERS * MX_LISTEN_MAX_FDS + 1];
	size_t n = 0;
	for (size_t i = 0; i < srv->n_listeners; i++)
		for (size_t j = 0; j < srv->listeners[i].bound.n; j++)
			pfds[n++] = (struct pollfd){ .fd = srv->listeners[i].bound.fds[j], .events = POLLIN };
	pfds[n++] = (struct pollfd){ .fd = srv->wake[0], .events = POLLIN };
	for (;;) {
		int rc = poll(pfds, n, -1);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			mx_log(MX_LOG_ERROR, "http", "poll: %s", strerror(errno));
			break;
		}
		if (pfds[n - 1].revents)
			break; /* stop requested */
		for (size_t i = 0; i + 1 < n; i++) {
			if (!(pfds[i].revents & POLLIN))
				continue;
			for (int k = 0; k < 64; k++) { /* drain a burst */
				struct sockaddr_storage ss;
				socklen_t sl = sizeof(ss);
				int fd = accept4(pfds[i].fd, (struct sockaddr *)&ss, &sl,
						 SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (fd < 0) {
					if (errno == EMFILE || errno == ENFILE) {
						/* out of descriptors: back off briefly */
						struct timespec ts = { 0, 10 * 1000 * 1000 };
						nanosleep(&ts, NULL);
					}
					break;
				}
				int one = 1;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				if (MHD_add_connection(srv->mhd, fd, (struct sockaddr *)&ss, sl) != MHD_YES)
					close(fd); /* MHD refused (limit): drop the connection */
			}
		}
	}
	return NULL;
}

int mx_http_start(struct mx_http_server *srv)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_NO_LISTEN_SOCKET;
	srv->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, srv,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(srv->lim.threads ? srv->lim.threads : 1),
		MHD_OPTION_CONNECTION_TIMEOUT, srv->lim.conn_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
		MHD_OPTION_CONNECTION_LIMIT, 4096u,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
		MHD_OPTION_END);
	if (!srv->mhd) {
		mx_log(MX_LOG_ERROR, "http", "cannot start libmicrohttpd");
		return MX_EIO;
	}
	if (pipe2(srv->wake, O_CLOEXEC) != 0) {
		mx_log(MX_LOG_ERROR, "http", "pipe: %s", strerror(errno));
		return MX_EIO;
	}
	if (pthread_create(&srv->accept_thread, NULL, accept_main, srv) != 0) {
		mx_log(MX_LOG_ERROR, "http", "cannot start the accept thread");
		return MX_EIO;
	}
	srv->accept_running = true;
	return MX_OK;
}

void mx_http_bound_json(const struct mx_http_server *srv, char *out, size_t outlen)
{
	size_t pos = 0;
#define PUT(...) do { int w_ = snprintf(out + pos, pos < outlen ? outlen - pos : 0, __VA_ARGS__); \
		      if (w_ > 0) pos += (size_t)w_; } while (0)
	PUT("{");
	for (size_t i = 0; i < srv->n_listeners; i++) {
		const struct mx_http_listener *l = &srv->listeners[i];
		PUT("%s\"%s\":[", i ? "," : "", l->name);
		for (size_t j = 0; j < l->bound.n; j++)
			PUT("%s\"%s\"", j ? "," : "", l->bound.text[j]);
		PUT("]");
	}
	PUT("}");
#undef PUT
}

uint16_t mx_http_port(const struct mx_http_server *srv, const char *name)
{
	for (size_t i = 0; i < srv->n_listeners; i++)
		if (strcmp(srv->listeners[i].name, name) == 0)
			return srv->listeners[i].bound.port;
	return 0;
}

void mx_http_stop_accepting(struct mx_http_server *srv)
{
	if (srv->accept_running) {
		ssize_t w = write(srv->wake[1], "x", 1);
		(void)w;
		pthread_join(srv->accept_thread, NULL);
		srv->accept_running = false;
	}
	for (size_t i = 0; i < srv->n_listeners; i++)
		mx_listen_close(&srv->listeners[i].bound);
}

bool mx_http_drain(struct mx_http_server *srv, unsigned timeout_ms)
{
	mx_http_stop_accepting(srv);
	atomic_store(&srv->draining, true);
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&srv->idle_mu);
	while (atomic_load(&srv->inflight) > 0) {
		if (pthread_cond_timedwait(&srv->idle_cv, &srv->idle_mu, &deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&srv->idle_mu);
	if (atomic_load(&srv->inflight) > 0) {
		mx_log(MX_LOG_WARN, "http", "%lld requests still unanswered at stop",
		       (long long)atomic_load(&srv->inflight));
		return false;
	}
	return true;
}

void mx_http_free(struct mx_http_server *srv, unsigned timeout_ms)
{
	if (!srv)
		return;
	mx_http_drain(srv, timeout_ms);
	if (srv->mhd) {
		/* give MHD a moment (bounded) to write the answers just queued;
		 * idle keep-alive connections end the wait at its bound */
		for (int i = 0; i < 30; i++) {
			const union MHD_DaemonInfo *di =
				MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
			if (!di || di->num_connections == 0)
				break;
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
		MHD_stop_daemon(srv->mhd);
	}
	if (srv->wake[0] >= 0)
		close(srv->wake[0]);
	if (srv->wake[1] >= 0)
		close(srv->wake[1]);
	pthread_mutex_destroy(&srv->idle_mu);
	pthread_cond_destroy(&srv->idle_cv);
	free(srv);
}

void mx_http_get_stats(const struct mx_http_server *srv, struct mx_http_stats *out)
{
	struct mx_http_server *s = (struct mx_http_server *)(uintptr_t)srv;
	out->requests = atomic_load(&s->requests);
	out->body_too_large = atomic_load(&s->body_too_large);
	out->budget_refused = atomic_load(&s->budget_refused);
	int64_t in = atomic_load(&s->inflight);
	out->inflight = in > 0 ? (uint64_t)in : 0;
}
