/*
 * reporter_harness.h - a minimal `/v1/report` receiver for libmixd's tests
 * and benchmark (header-only; include it in one file).
 *
 * A libmicrohttpd daemon on 127.0.0.1 (port 0 the first time, the same port
 * on restart) with one thread per connection. Its mode can be switched at
 * any time: answer 200, answer 500, answer 400, hang (hold the request
 * until the mode changes, past the client's timeout), or down (the daemon
 * is stopped: connection refused). Every request body is kept, gunzipped,
 * with the answer it got, unless `count_only` is set (then only counts and
 * sizes are kept). Waits are bounded; nothing sleeps for a fixed time.
 */
#ifndef REPORTER_HARNESS_H
#define REPORTER_HARNESS_H

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

enum hx_mode { HX_OK, HX_500, HX_400, HX_HANG, HX_DOWN };

struct hx_req {
	uint8_t *body; /* gunzipped */
	size_t len;
	size_t wire_len; /* as received (gzip'd) */
	int status;    /* what the harness answered (0 = hung) */
	int gzip_ok;   /* Content-Encoding gzip and Content-Type protobuf */
};

struct hx {
	struct MHD_Daemon *d;
	uint16_t port;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	enum hx_mode mode;
	int count_only;
	struct hx_req *reqs;
	size_t n, cap;
	uint64_t wire_bytes;
	char url[64];
};

struct hx_conn {
	uint8_t *buf;
	size_t len, cap;
	int gz, pb;
};

static inline uint64_t hx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline uint8_t *hx_gunzip(const uint8_t *in, size_t n, size_t *outn)
{
	z_stream zs;
	size_t cap = n * 4 + 1024;
	uint8_t *out = malloc(cap);
	int rc;

	memset(&zs, 0, sizeof(zs));
	if (!out || inflateInit2(&zs, 15 + 16) != Z_OK) {
		free(out);
		return NULL;
	}
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)n;
	for (;;) {
		zs.next_out = out + zs.total_out;
		zs.avail_out = (uInt)(cap - zs.total_out);
		rc = inflate(&zs, Z_NO_FLUSH);
		if (rc == Z_STREAM_END)
			break;
		if ((rc != Z_OK && rc != Z_BUF_ERROR) || cap > (256u << 20)) {
			inflateEnd(&zs);
			free(out);
			return NULL;
		}
		if (zs.avail_out == 0) {
			uint8_t *np = realloc(out, cap * 2);
			if (!np) {
				inflateEnd(&zs);
				free(out);
				return NULL;
			}
			out = np;
			cap *= 2;
		} else if (zs.avail_in == 0) {
			inflateEnd(&zs);
			free(out);
			return NULL;
		}
	}
	*outn = zs.total_out;
	inflateEnd(&zs);
	return out;
}

static inline enum MHD_Result hx_answer(void *cls, struct MHD_Connection *c, const char *url,
				 const char *method, const char *version, const char *upload,
				 size_t *upload_size, void **con_cls)
{
	struct hx *h = cls;
	struct hx_conn *k = *con_cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	int status;

	(void)version;
	if (!k) {
		const char *ce = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     "Content-Encoding");
		const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
		k = calloc(1, sizeof(*k));
		if (!k)
			return MHD_NO;
		k->gz = ce && strcmp(ce, "gzip") == 0;
		k->pb = ct && strcmp(ct, "application/x-protobuf") == 0;
		*con_cls = k;
		return MHD_YES;
	}
	if (*upload_size) {
		if (k->len + *upload_size > k->cap) {
			size_t nc = (k->len + *upload_size) * 2;
			uint8_t *np = realloc(k->buf, nc);
			if (!np)
				return MHD_NO;
			k->buf = np;
			k->cap = nc;
		}
		memcpy(k->buf + k->len, upload, *upload_size);
		k->len += *upload_size;
		*upload_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&h->mu);
	int keep = !h->count_only;
	pthread_mutex_unlock(&h->mu);
	struct hx_req rq = { NULL, 0, k->len, 0, k->gz && k->pb };
	if (keep && k->gz)
		rq.body = hx_gunzip(k->buf, k->len, &rq.len);
	pthread_mutex_lock(&h->mu);
	status = h->mode == HX_500 ? 500 : h->mode == HX_400 ? 400 : h->mode == HX_HANG ? 0 : 200;
	if (strcmp(method, "POST") != 0 || strcmp(url, "/v1/report") != 0)
		status = 404;
	rq.status = status;
	h->wire_bytes += k->len;
	if (h->n == h->cap) {
		size_t nc = h->cap ? h->cap * 2 : 64;
		struct hx_req *np = realloc(h->reqs, nc * sizeof(*np));
		if (np) {
			h->reqs = np;
			h->cap = nc;
		}
	}
	if (h->n < h->cap)
		h->reqs[h->n++] = rq;
	else
		free(rq.body);
	pthread_cond_broadcast(&h->cv);
	if (status == 0) {
		/* hang until the mode changes (bounded: 60 s) */
		uint64_t until = hx_now_ms() + 60000;
		while (h->mode == HX_HANG && hx_now_ms() < until) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&h->cv, &h->mu, &ts);
		}
		status = 503;
	}
	pthread_mutex_unlock(&h->mu);
	resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	ret = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static inline void hx_done(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	struct hx_conn *k = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (k) {
		free(k->buf);
		free(k);
		*con_cls = NULL;
	}
}

static inline int hx_listen(struct hx *h)
{
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(h->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
				0, NULL, NULL, hx_answer, h, MHD_OPTION_SOCK_ADDR, &sa,
				MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
				MHD_OPTION_NOTIFY_COMPLETED, hx_done, h, MHD_OPTION_END);
	if (!h->d)
		return -1;
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	if (!info || !info->port) {
		MHD_stop_daemon(h->d);
		h->d = NULL;
		return -1;
	}
	h->port = info->port;
	snprintf(h->url, sizeof(h->url), "http://127.0.0.1:%u/v1/report", (unsigned)h->port);
	return 0;
}

/* Starts the receiver on a free loopback port, answering 200. */
static inline struct hx *hx_start(void)
{
	struct hx *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	if (hx_listen(h) != 0) {
		free(h);
		return NULL;
	}
	return h;
}

/* Switches the mode; HX_DOWN stops the daemon, leaving it restarts it on
 * the same port. Returns 0 or -1 (could not listen again). */
static inline int hx_set_mode(struct hx *h, enum hx_mode m)
{
	pthread_mutex_lock(&h->mu);
	enum hx_mode old = h->mode;
	h->mode = m;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	if (m == HX_DOWN && old != HX_DOWN && h->d) {
		MHD_stop_daemon(h->d);
		h->d = NULL;
	} else if (m != HX_DOWN && !h->d) {
		return hx_listen(h);
	}
	return 0;
}

/* Waits until at least `n` requests arrived or `timeout_ms` passed.
 * Returns the number of requests. */
static inline size_t hx_wait(struct hx *h, size_t n, uint64_t timeout_ms)
{
	uint64_t until = hx_now_ms() + timeout_ms;
	size_t got;

	pthread_mutex_lock(&h->mu);
	while (h->n < n && hx_now_ms() < until) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&h->cv, &h->mu, &ts);
	}
	got = h->n;
	pthread_mutex_unlock(&h->mu);
	return got;
}

static inline size_t hx_count(struct hx *h)
{
	size_t n;

	pthread_mutex_lock(&h->mu);
	n = h->n;
	pthread_mutex_unlock(&h->mu);
	return n;
}

static inline void hx_stop(struct hx *h)
{
	if (!h)
		return;
	hx_set_mode(h, HX_DOWN);
	for (size_t i = 0; i < h->n; i++)
		free(h->reqs[i].body);
	free(h->reqs);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

#endif
