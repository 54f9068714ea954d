/*
 * bench_ingest.c - OTLP/HTTP and Zipkin load generator: how many spans per
 * second mixd ingests and commits over HTTP.
 *
 * Builds K distinct ExportTraceServiceRequest bodies (bench/body.h: 512 spans
 * of 20 attributes, traces of 8 to 32 spans over 4 services) in binary
 * protobuf or OTLP/JSON, or the same spans as a Zipkin v2 JSON list (the
 * attributes as string tags), and sends them from N threads, one HTTP/1.1
 * keep-alive connection each, to http://HOST:PORT/v1/traces (OTLP) or
 * http://HOST:PORT/api/v2/spans (Zipkin; PORT is then the Zipkin port) on
 * loopback.
 * Before every send the thread writes fresh trace ids into its own copy of
 * the body, so the store always sees new traces. The client is a minimal
 * hand-written one (one writev per request, status line and headers parsed,
 * body read by Content-Length or chunked) so that it costs little CPU on a
 * machine it shares with mixd.
 *
 * mixd answers only after the LMDB commit, so an answer 200 means the spans
 * are durable: spans committed = 512 per 200 answer minus the rejected spans
 * its partial_success reports (Zipkin: 512 per 202 answer, which has no
 * partial success). Other answers and transport errors are
 * counted and printed separately. The run is a warm-up followed by a fixed
 * measurement window; only requests that finish inside the window count.
 *
 * Usage: bench_ingest --port P [--host 127.0.0.1|::1] [--encoding proto|json|zipkin-json]
 *        [--connections N] [--seconds S] [--warmup S] [--sync LABEL]
 *        [--batch N] [--bodies K] [--max-requests M]
 * Prints a human summary and one `result ...` line for bench/run.sh.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "body.h"

#define MAX_CONN 64
#define MAX_SAMPLES (1u << 21) /* latency samples kept per thread */
#define RESP_MAX (1u << 20)    /* largest response body read */

struct opts {
	const char *host;
	int port;
	int enc; /* enum bench_enc */
	int conns;
	double seconds;
	double warmup;
	const char *sync;
	uint32_t batch;
	uint32_t bodies;
	uint64_t max_requests;
};

struct worker {
	pthread_t tid;
	int id;
	int fd;
	uint8_t **bufs;   /* own copy of every body, patched per request */
	uint64_t seq;
	/* counted inside the measurement window */
	uint64_t ok, spans, rejected, other, transport;
	uint64_t status[6]; /* answers by status class 1xx..5xx (index 1..5) */
	uint32_t *lat_us;
	uint32_t n_lat;
	double lat_sum;
	uint64_t *per_sec; /* spans committed in each second of the window */
	uint64_t total_requests;
	char first_error[160];
};

static struct opts g_o;

static size_t body_len(const struct bench_body *b, int enc)
{
	return enc == BENCH_ENC_ZIPKIN ? b->zjson_len : enc == BENCH_ENC_JSON ? b->json_len : b->proto_len;
}

static const uint8_t *body_of(const struct bench_body *b, int enc)
{
	return enc == BENCH_ENC_ZIPKIN ? (const uint8_t *)b->zjson
	       : enc == BENCH_ENC_JSON ? (const uint8_t *)b->json : b->proto;
}
static struct bench_body *g_bodies;
static double g_t_measure, g_t_end;

/* Seconds in the measurement window, rounded up. */
static size_t n_secs(void)
{
	return (size_t)g_o.seconds + 1;
}

static int conn_open(const struct opts *o)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct timeval tv = { 30, 0 }; /* a hung daemon cannot hang the bench */
	int one = 1, fd;

	memset(&ss, 0, sizeof(ss));
	if (strchr(o->host, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)o->port);
		if (inet_pton(AF_INET6, o->host, &a->sin6_addr) != 1)
			return -1;
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)o->port);
		if (inet_pton(AF_INET, o->host, &a->sin_addr) != 1)
			return -1;
		sl = sizeof(*a);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* A response being read: everything received sits in buf[0..len). */
struct resp {
	char buf[RESP_MAX + 16384];
	size_t len;
	int status;
	int close;
	const char *body;
	size_t body_len;
};

static int fill(int fd, struct resp *r)
{
	ssize_t n;

	if (r->len >= sizeof(r->buf))
		return -1;
	do
		n = read(fd, r->buf + r->len, sizeof(r->buf) - r->len);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	r->len += (size_t)n;
	return 0;
}

/* Reads one response (status line, headers, body by Content-Length, chunked,
 * or until close). Returns 0 or -1 on a transport or framing error. */
static int read_response(int fd, struct resp *r)
{
	char *eoh = NULL, *p;
	size_t hlen, clen = 0;
	int have_clen = 0, chunked = 0;

	r->len = 0;
	r->close = 0;
	while (!(eoh = memmem(r->buf, r->len, "\r\n\r\n", 4)))
		if (r->len > 16000 || fill(fd, r) < 0)
			return -1;
	hlen = (size_t)(eoh - r->buf) + 4;
	*eoh = 0;
	if (sscanf(r->buf, "HTTP/1.%*d %d", &r->status) != 1)
		return -1;
	for (p = strstr(r->buf, "\r\n"); p && p < eoh; p = strstr(p + 2, "\r\n")) {
		const char *h = p + 2;

		if (!strncasecmp(h, "content-length:", 15)) {
			clen = strtoul(h + 15, NULL, 10);
			have_clen = 1;
		} else if (!strncasecmp(h, "transfer-encoding:", 18) && strstr(h, "chunked")) {
			chunked = 1;
		} else if (!strncasecmp(h, "connection:", 11) && strncasecmp(h + 11, " keep", 5)) {
			r->close = 1;
		}
	}
	if (r->buf[7] == '0') /* HTTP/1.0 */
		r->close = 1;
	if (chunked) {
		/* decode in place: chunks are moved down to follow the headers */
		size_t in = hlen, outp = hlen;

		for (;;) {
			char *nl;
			size_t sz;

			while (!(nl = memmem(r->buf + in, r->len - in, "\r\n", 2)))
				if (fill(fd, r) < 0)
					return -1;
			sz = strtoul(r->buf + in, NULL, 16);
			in = (size_t)(nl - r->buf) + 2;
			if (sz > RESP_MAX)
				return -1;
			while (r->len < in + sz + 2)
				if (fill(fd, r) < 0)
					return -1;
			memmove(r->buf + outp, r->buf + in, sz);
			outp += sz;
			in += sz + 2;
			if (sz == 0)
				break; /* trailers are not expected */
		}
		r->body = r->buf + hlen;
		r->body_len = outp - hlen;
		return 0;
	}
	if (!have_clen) {
		while (fill(fd, r) == 0)
			;
		r->close = 1;
		clen = r->len - hlen;
	}
	if (clen > RESP_MAX)
		return -1;
	while (r->len < hlen + clen)
		if (fill(fd, r) < 0)
			return -1;
	r->body = r->buf + hlen;
	r->body_len = clen;
	return 0;
}

/* Spans rejected according to a 200 answer's partial_success. */
static uint64_t rejected_of(const struct resp *r, int json)
{
	uint64_t n = 0;

	if (r->body_len == 0)
		return 0;
	if (json) {
		const char *p = memmem(r->body, r->body_len, "\"rejectedSpans\"", 15);

		if (p) {
			p += 15;
			while (p < r->body + r->body_len && (*p == ':' || *p == ' ' || *p == '"'))
				p++;
			n = strtoull(p, NULL, 10);
		}
		return n;
	}
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *m =
		opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
			NULL, r->body_len, (const uint8_t *)r->body);
	if (m && m->partial_success)
		n = (uint64_t)m->partial_success->rejected_spans;
	if (m)
		opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(m, NULL);
	return n;
}

static void note_error(struct worker *w, const char *what, int code, const char *detail)
{
	if (!w->first_error[0])
		snprintf(w->first_error, sizeof(w->first_error), "%s %d: %s", what, code, detail);
}

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	const struct opts *o = &g_o;
	struct resp *r = malloc(sizeof(*r));
	const char *ctype = o->enc == BENCH_ENC_PROTO ? "application/x-protobuf" : "application/json";
	const char *path = o->enc == BENCH_ENC_ZIPKIN ? "/api/v2/spans" : "/v1/traces";
	int ok_status = o->enc == BENCH_ENC_ZIPKIN ? 202 : 200;
	int fails = 0;

	w->fd = -1;
	if (!r)
		return NULL;
	for (uint64_t i = 0; i < o->max_requests; i++) {
		uint32_t k = (uint32_t)((i * (uint64_t)o->conns + (uint64_t)w->id) % o->bodies);
		const struct bench_body *b = &g_bodies[k];
		size_t blen = body_len(b, o->enc);
		char hdr[256];
		struct iovec iov[2];
		double t0 = bench_now(), t1;
		int bad = 0;

		if (t0 >= g_t_end)
			break;
		if (w->fd < 0 && (w->fd = conn_open(o)) < 0) {
			if (t0 >= g_t_measure)
				w->transport++;
			note_error(w, "connect failed, errno", errno, strerror(errno));
			if (++fails > 100)
				break;
			usleep(10000);
			continue;
		}
		bench_body_patch(b, w->bufs[k], o->enc, (uint64_t)w->id + 1, ++w->seq);
		iov[0].iov_base = hdr;
		iov[0].iov_len = (size_t)snprintf(hdr, sizeof(hdr),
			"POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: %s\r\n"
			"Content-Length: %zu\r\n\r\n", path, o->host, o->port, ctype, blen);
		iov[1].iov_base = w->bufs[k];
		iov[1].iov_len = blen;
		if (send_all(w->fd, iov, 2) < 0 || read_response(w->fd, r) < 0) {
			bad = 1;
			note_error(w, "transport error, errno", errno, strerror(errno));
		}
		t1 = bench_now();
		w->total_requests++;
		if (bad || r->close) {
			close(w->fd);
			w->fd = -1;
		}
		if (bad && ++fails > 100)
			break;
		if (!bad)
			fails = 0;
		if (t0 < g_t_measure || t1 > g_t_end)
			continue; /* warm-up, or finished after the window */
		if (bad) {
			w->transport++;
			continue;
		}
		if (r->status >= 100 && r->status < 600)
			w->status[r->status / 100]++;
		if (r->status != ok_status) {
			char body[96];
			size_t n = r->body_len < sizeof(body) - 1 ? r->body_len : sizeof(body) - 1;

			for (size_t c = 0; c < n; c++)
				body[c] = r->body[c] >= 32 && r->body[c] < 127 ? r->body[c] : '.';
			body[n] = 0;
			note_error(w, "HTTP", r->status, body);
			w->other++;
			if (r->status == 429 || r->status == 503)
				usleep(1000); /* the daemon asked to retry later */
			continue;
		}
		uint64_t rej = o->enc == BENCH_ENC_ZIPKIN ? 0 : rejected_of(r, o->enc == BENCH_ENC_JSON);
		w->ok++;
		w->rejected += rej;
		w->spans += b->n_spans > rej ? b->n_spans - rej : 0;
		w->lat_sum += t1 - t0;
		if ((size_t)(t1 - g_t_measure) < n_secs())
			w->per_sec[(size_t)(t1 - g_t_measure)] += b->n_spans > rej ? b->n_spans - rej : 0;
		if (w->n_lat < MAX_SAMPLES)
			w->lat_us[w->n_lat++] = (uint32_t)((t1 - t0) * 1e6);
	}
	if (w->fd >= 0)
		close(w->fd);
	free(r);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	o->host = "127.0.0.1";
	o->port = 0;
	o->enc = BENCH_ENC_PROTO;
	o->conns = 4;
	o->seconds = 10;
	o->warmup = 1;
	o->sync = "unknown";
	o->batch = 512;
	o->bodies = 16;
	o->max_requests = 10000000;
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			goto usage;
		if (!strcmp(a, "--port"))
			o->port = atoi(v);
		else if (!strcmp(a, "--host"))
			o->host = v;
		else if (!strcmp(a, "--encoding") && !strcmp(v, "proto"))
			o->enc = BENCH_ENC_PROTO;
		else if (!strcmp(a, "--encoding") && !strcmp(v, "json"))
			o->enc = BENCH_ENC_JSON;
		else if (!strcmp(a, "--encoding") && !strcmp(v, "zipkin-json"))
			o->enc = BENCH_ENC_ZIPKIN;
		else if (!strcmp(a, "--connections"))
			o->conns = atoi(v);
		else if (!strcmp(a, "--seconds"))
			o->seconds = atof(v);
		else if (!strcmp(a, "--warmup"))
			o->warmup = atof(v);
		else if (!strcmp(a, "--sync"))
			o->sync = v;
		else if (!strcmp(a, "--batch"))
			o->batch = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--bodies"))
			o->bodies = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--max-requests"))
			o->max_requests = strtoull(v, NULL, 10);
		else
			goto usage;
	}
	if (!strcmp(o->host, "localhost"))
		o->host = "127.0.0.1";
	if (strcmp(o->host, "127.0.0.1") && strcmp(o->host, "::1")) {
		fprintf(stderr, "bench_ingest: loopback only (127.0.0.1 or ::1)\n");
		return -1;
	}
	if (o->port < 1 || o->port > 65535 || o->conns < 1 || o->conns > MAX_CONN ||
	    o->seconds <= 0 || o->seconds > 3600 || o->warmup < 0 || o->warmup > 600 ||
	    o->batch < 1 || o->batch > 100000 || o->bodies < 1 || o->bodies > 256 ||
	    o->max_requests < 1) {
		fprintf(stderr, "bench_ingest: missing --port or out-of-range option\n");
		return -1;
	}
	return 0;
usage:
	fprintf(stderr, "usage: bench_ingest --port P [--host 127.0.0.1|::1] "
			"[--encoding proto|json|zipkin-json] [--connections N] [--seconds S] [--warmup S] "
			"[--sync LABEL] [--batch N] [--bodies K] [--max-requests M]\n");
	return -1;
}

int main(int argc, char **argv)
{
	struct worker *ws = NULL;
	uint32_t *lat = NULL;
	uint64_t ok = 0, spans = 0, rej = 0, other = 0, transport = 0, total = 0, cls[6] = { 0 };
	uint32_t n_lat = 0;
	double lat_sum = 0, bytes = 0, t_start;
	struct rusage ru0, ru1;
	char machine[320];
	int ret = 1, started = 0;

	if (parse_args(argc, argv, &g_o) < 0)
		return 2;
	g_bodies = calloc(g_o.bodies, sizeof(*g_bodies));
	ws = calloc((size_t)g_o.conns, sizeof(*ws));
	if (!g_bodies || !ws)
		goto out;
	for (uint32_t i = 0; i < g_o.bodies; i++) {
		if (bench_body_make(&g_bodies[i], g_o.batch, i + 1) < 0) {
			fprintf(stderr, "bench_ingest: cannot build bodies\n");
			goto out;
		}
		bytes += (double)body_len(&g_bodies[i], g_o.enc);
	}
	for (int c = 0; c < g_o.conns; c++) {
		ws[c].id = c;
		ws[c].bufs = calloc(g_o.bodies, sizeof(*ws[c].bufs));
		ws[c].lat_us = malloc(MAX_SAMPLES * sizeof(*ws[c].lat_us));
		ws[c].per_sec = calloc(n_secs(), sizeof(*ws[c].per_sec));
		if (!ws[c].bufs || !ws[c].lat_us || !ws[c].per_sec)
			goto out;
		for (uint32_t i = 0; i < g_o.bodies; i++) {
			const struct bench_body *b = &g_bodies[i];
			size_t n = body_len(b, g_o.enc);

			ws[c].bufs[i] = malloc(n);
			if (!ws[c].bufs[i])
				goto out;
			memcpy(ws[c].bufs[i], body_of(b, g_o.enc), n);
		}
	}
	bench_machine(machine, sizeof(machine));

	getrusage(RUSAGE_SELF, &ru0);
	t_start = bench_now();
	g_t_measure = t_start + g_o.warmup;
	g_t_end = g_t_measure + g_o.seconds;
	for (; started < g_o.conns; started++)
		if (pthread_create(&ws[started].tid, NULL, run_worker, &ws[started]))
			break;
	for (int c = 0; c < started; c++)
		pthread_join(ws[c].tid, NULL);
	getrusage(RUSAGE_SELF, &ru1);
	if (started < g_o.conns) {
		fprintf(stderr, "bench_ingest: pthread_create failed\n");
		goto out;
	}

	for (int c = 0; c < g_o.conns; c++) {
		struct worker *w = &ws[c];

		ok += w->ok;
		spans += w->spans;
		rej += w->rejected;
		other += w->other;
		transport += w->transport;
		total += w->total_requests;
		lat_sum += w->lat_sum;
		for (int k = 0; k < 6; k++)
			cls[k] += w->status[k];
	}
	lat = malloc(((size_t)g_o.conns * MAX_SAMPLES + 1) * sizeof(*lat));
	if (!lat)
		goto out;
	for (int c = 0; c < g_o.conns; c++) {
		memcpy(lat + n_lat, ws[c].lat_us, ws[c].n_lat * sizeof(*lat));
		n_lat += ws[c].n_lat;
	}
	qsort(lat, n_lat, sizeof(*lat), cmp_u32);

	double secs = g_o.seconds;
	double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
		     (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) * 1e-6 +
		     (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
		     (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) * 1e-6;
	double p50 = n_lat ? lat[n_lat / 2] / 1e3 : 0;
	double p99 = n_lat ? lat[(size_t)((double)(n_lat - 1) * 0.99)] / 1e3 : 0;
	double mx = n_lat ? lat[n_lat - 1] / 1e3 : 0;
	double mean = ok ? lat_sum / (double)ok * 1e3 : 0;
	static const char *const enc_names[3] = { "proto", "json", "zipkin-json" };
	static const char *const enc_labels[3] = { "OTLP protobuf", "OTLP/JSON", "Zipkin v2 JSON" };
	const char *enc = enc_names[g_o.enc];

	printf("ingest: machine %s\n", machine);
	printf("ingest: encoding %s, batch %u spans (%.0f B/span, %.0f KiB/request), sync %s, "
	       "%d connections to %s:%d, %.1f s after %.1f s warm-up\n",
	       enc_labels[g_o.enc], g_o.batch,
	       bytes / g_o.bodies / g_o.batch, bytes / g_o.bodies / 1024, g_o.sync, g_o.conns,
	       g_o.host, g_o.port, g_o.seconds, g_o.warmup);
	printf("ingest: %llu answers %d (%.1f requests/s), %.0f spans/s committed "
	       "(%llu spans, %llu rejected)\n", (unsigned long long)ok,
	       g_o.enc == BENCH_ENC_ZIPKIN ? 202 : 200, (double)ok / secs,
	       (double)spans / secs, (unsigned long long)spans, (unsigned long long)rej);
	printf("ingest: errors: %llu other answers (2xx %llu, 4xx %llu, 5xx %llu), "
	       "%llu transport errors\n", (unsigned long long)other,
	       (unsigned long long)(cls[2] - ok), (unsigned long long)cls[4],
	       (unsigned long long)cls[5], (unsigned long long)transport);
	for (int c = 0; c < g_o.conns; c++)
		if (ws[c].first_error[0]) {
			printf("ingest: first error: %s\n", ws[c].first_error);
			break;
		}
	printf("ingest: latency mean %.2f ms, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
	       mean, p50, p99, mx);
	printf("ingest: thousands of spans committed in each second:");
	for (size_t k = 0; k < (size_t)g_o.seconds; k++) {
		uint64_t sum = 0;

		for (int c = 0; c < g_o.conns; c++)
			sum += ws[c].per_sec[k];
		printf(" %.0f", (double)sum / 1e3);
	}
	printf("\n");
	printf("ingest: load generator used %.2f cores (%llu requests sent in all)\n",
	       cpu / (bench_now() - t_start), (unsigned long long)total);
	printf("result name=ingest enc=%s sync=%s spans_per_s=%.0f req_per_s=%.1f errors=%llu "
	       "mean_ms=%.2f p50_ms=%.2f p99_ms=%.2f\n", enc, g_o.sync, (double)spans / secs,
	       (double)ok / secs, (unsigned long long)(other + transport), mean, p50, p99);
	ret = ok > 0 && other + transport == 0 ? 0 : 1;
out:
	if (ws)
		for (int c = 0; c < g_o.conns; c++) {
			for (uint32_t i = 0; ws[c].bufs && i < g_o.bodies; i++)
				free(ws[c].bufs[i]);
			free(ws[c].bufs);
			free(ws[c].lat_us);
			free(ws[c].per_sec);
		}
	free(ws);
	free(lat);
	for (uint32_t i = 0; g_bodies && i < g_o.bodies; i++)
		bench_body_free(&g_bodies[i]);
	free(g_bodies);
	return ret;
}
