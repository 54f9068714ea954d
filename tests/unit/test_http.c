/*
 * test_http.c - the HTTP framework (collector/http.c) driven over real
 * loopback sockets: routing, early refusals (404, 405, 413 before the body),
 * chunked bodies and their cap, gzip inflation and its cap, the decode
 * budget, answers from another thread while the connection is suspended,
 * the bound-address line, and waiting for unanswered requests at stop.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#include "collector/http.h"
#include "collector/inflate.h"
#include "model/error.h"

/* ---- handlers ---- */

static void h_echo(struct mx_http_req *req, void *ctx)
{
	(void)ctx;
	size_t len;
	const uint8_t *body = mx_http_body(req, &len);
	char head[64];
	const char *q = mx_http_query(req, "x");
	int n = snprintf(head, sizeof(head), "len=%zu x=%s ", len, q ? q : "-");
	size_t total = (size_t)n + (len > 32 ? 32 : len);
	char *out = malloc(total);
	memcpy(out, head, (size_t)n);
	if (len)
		memcpy(out + n, body, total - (size_t)n);
	mx_http_respond_owned(req, 200, "text/plain", out, total, NULL);
}

struct later {
	struct mx_http_req *req;
};

static void *answer_later(void *arg)
{
	struct later *l = arg;
	/* answers from another thread; the framework has (or will have)
	 * suspended the connection, either order must work */
	static const char *const hdr[] = { "X-Test", "later", NULL };
	mx_http_respond(l->req, 202, "text/plain", "later", 5, hdr);
	free(l);
	return NULL;
}

static void h_async(struct mx_http_req *req, void *ctx)
{
	(void)ctx;
	struct later *l = malloc(sizeof(*l));
	l->req = req;
	pthread_t t;
	pthread_create(&t, NULL, answer_later, l);
	pthread_detach(t);
}

static struct mx_route routes[] = {
	{ "POST", "/echo", MX_ROUTE_BODY | MX_ROUTE_CORS, h_echo, NULL, NULL },
	{ "GET", "/get", 0, h_echo, NULL, NULL },
	{ "POST", "/async", MX_ROUTE_BODY, h_async, NULL, NULL },
	{ "GET", "/pre/", MX_ROUTE_PREFIX, h_echo, NULL, NULL },
};

static struct mx_http_server *start(uint64_t max_body, uint64_t max_decomp, uint64_t budget,
				    uint16_t *port)
{
	struct mx_http_limits lim;
	mx_http_limits_default(&lim);
	lim.max_body = max_body;
	lim.max_decompressed = max_decomp;
	lim.decode_budget = budget;
	struct mx_http_server *srv = mx_http_new(&lim);
	assert_non_null(srv);
	char err[256];
	assert_int_equal(mx_http_listen(srv, "t", "localhost:0", routes, 4, err, sizeof(err)), MX_OK);
	assert_int_equal(mx_http_listen(srv, "off", "", routes, 4, err, sizeof(err)), MX_OK);
	assert_int_equal(mx_http_start(srv), MX_OK);
	*port = mx_http_port(srv, "t");
	assert_true(*port > 0);
	return srv;
}

static int connect_to(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w <= 0)
			return; /* the server may close early: fine for these tests */
		c += w;
		n -= (size_t)w;
	}
}

/* Reads until the server closes or a full response (by Content-Length)
 * arrived. Returns the status, 0 when the connection closed first. */
static int read_response(int fd, char *out, size_t outlen)
{
	size_t have = 0;
	out[0] = '\0';
	for (;;) {
		ssize_t r = recv(fd, out + have, outlen - 1 - have, 0);
		if (r <= 0)
			break;
		have += (size_t)r;
		out[have] = '\0';
		char *end = strstr(out, "\r\n\r\n");
		if (end) {
			char *cl = strcasestr(out, "Content-Length:");
			size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
			if (have >= (size_t)(end + 4 - out) + want)
				break;
		}
	}
	int status = 0;
	if (have >= 12 && strncmp(out, "HTTP/1.1 ", 9) == 0)
		status = atoi(out + 9);
	return status;
}

static int roundtrip(uint16_t port, const char *req, size_t len, char *out, size_t outlen)
{
	int fd = connect_to(port);
	send_all(fd, req, len);
	int st = read_response(fd, out, outlen);
	close(fd);
	return st;
}

static void test_routing(void **state)
{
	(void)state;
	uint16_t port;
	struct mx_http_server *srv = start(1 << 20, 4 << 20, 64 << 20, &port);
	char out[4096];
	const char *r1 = "GET /get?x=a%20b HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(roundtrip(port, r1, strlen(r1), out, sizeof(out)), 200);
	assert_non_null(strstr(out, "len=0 x=a b"));
	const char *r2 = "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(roundtrip(port, r2, strlen(r2), out, sizeof(out)), 404);
	const char *r3 = "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(roundtrip(port, r3, strlen(r3), out, sizeof(out)), 405);
	const char *r4 = "GET /pre/abc HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(roundtrip(port, r4, strlen(r4), out, sizeof(out)), 200);
	const char *r5 = "OPTIONS /echo HTTP/1.1\r\nHost: x\r\nOrigin: http://a\r\n\r\n";
	assert_int_equal(roundtrip(port, r5, strlen(r5), out, sizeof(out)), 204);
	assert_non_null(strcasestr(out, "Access-Control-Allow-Origin: *"));
	char bound[512];
	mx_http_bound_json(srv, bound, sizeof(bound));
	char want[64];
	snprintf(want, sizeof(want), "\"t\":[\"127.0.0.1:%u\"", port);
	assert_non_null(strstr(bound, want));
	assert_null(strstr(bound, "\"off\""));
	mx_http_free(srv, 1000);
}

static void test_bodies(void **state)
{
	(void)state;
	uint16_t port;
	struct mx_http_server *srv = start(1000, 100000, 64 << 20, &port);
	char out[4096];
	/* Content-Length over the cap: 413 before the body is sent */
	const char *big = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n";
	assert_int_equal(roundtrip(port, big, strlen(big), out, sizeof(out)), 413);
	/* a chunked body */
	const char *ch = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
			 "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
	assert_int_equal(roundtrip(port, ch, strlen(ch), out, sizeof(out)), 200);
	assert_non_null(strstr(out, "len=11 x=- hello world"));
	/* a chunked body past the cap: the connection is closed */
	int fd = connect_to(port);
	const char *hd = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
	send_all(fd, hd, strlen(hd));
	char chunk[600];
	memset(chunk, 'a', sizeof(chunk));
	for (int i = 0; i < 4; i++) {
		send_all(fd, "258\r\n", 5);
		send_all(fd, chunk, sizeof(chunk));
		send_all(fd, "\r\n", 2);
	}
	assert_int_equal(read_response(fd, out, sizeof(out)), 0);
	close(fd);
	struct mx_http_stats st;
	mx_http_get_stats(srv, &st);
	assert_int_equal(st.body_too_large, 1);
	mx_http_free(srv, 1000);
}

static size_t gzip_of(const void *in, size_t n, uint8_t *out, size_t outlen)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)n;
	zs.next_out = out;
	zs.avail_out = (uInt)outlen;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	size_t got = outlen - zs.avail_out;
	deflateEnd(&zs);
	return got;
}

static void test_gzip(void **state)
{
	(void)state;
	uint16_t port;
	struct mx_http_server *srv = start(100000, 50000, 64 << 20, &port);
	char out[4096];
	uint8_t gz[20000];
	size_t n = gzip_of("compressed body", 15, gz, sizeof(gz));
	char req[30000];
	int h = snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
			 "Content-Length: %zu\r\n\r\n", n);
	memcpy(req + h, gz, n);
	assert_int_equal(roundtrip(port, req, (size_t)h + n, out, sizeof(out)), 200);
	assert_non_null(strstr(out, "len=15 x=- compressed body"));
	/* undeclared gzip is detected by its magic */
	h = snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", n);
	memcpy(req + h, gz, n);
	assert_int_equal(roundtrip(port, req, (size_t)h + n, out, sizeof(out)), 200);
	assert_non_null(strstr(out, "compressed body"));
	/* a bomb: 10 MB of zeros inflating past the 50 000-byte cap */
	uint8_t *zeros = calloc(1, 10 << 20);
	n = gzip_of(zeros, 10 << 20, gz, sizeof(gz));
	free(zeros);
	h = snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
		     "Content-Length: %zu\r\n\r\n", n);
	memcpy(req + h, gz, n);
	assert_int_equal(roundtrip(port, req, (size_t)h + n, out, sizeof(out)), 413);
	/* corrupt gzip */
	h = snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
		     "Content-Length: 6\r\n\r\n\x1f\x8bxxxx");
	assert_int_equal(roundtrip(port, req, (size_t)h, out, sizeof(out)), 400);
	/* unknown encoding */
	h = snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Encoding: br\r\n"
		     "Content-Length: 2\r\n\r\nab");
	assert_int_equal(roundtrip(port, req, (size_t)h, out, sizeof(out)), 415);
	mx_http_free(srv, 1000);
}

static void test_budget(void **state)
{
	(void)state;
	uint16_t port;
	struct mx_http_server *srv = start(100000, 100000, 1000, &port);
	char out[4096];
	char req[4096];
	int h = snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n");
	int st = roundtrip(port, req, (size_t)h, out, sizeof(out));
	assert_int_equal(st, 429);
	assert_non_null(strcasestr(out, "Retry-After: 1"));
	mx_http_free(srv, 1000);
}

static void test_async_answers(void **state)
{
	(void)state;
	uint16_t port;
	struct mx_http_server *srv = start(100000, 100000, 64 << 20, &port);
	char out[4096];
	/* many requests on one keep-alive connection, each answered from
	 * another thread */
	int fd = connect_to(port);
	for (int i = 0; i < 200; i++) {
		const char *r = "POST /async HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
		send_all(fd, r, strlen(r));
		assert_int_equal(read_response(fd, out, sizeof(out)), 202);
		assert_non_null(strstr(out, "later"));
		assert_non_null(strcasestr(out, "X-Test: later"));
	}
	close(fd);
	struct mx_http_stats st;
	mx_http_get_stats(srv, &st);
	assert_int_equal(st.inflight, 0);
	mx_http_free(srv, 1000);
}

static void test_inflate_unit(void **state)
{
	(void)state;
	uint8_t gz[256];
	size_t n = gzip_of("abcabcabc", 9, gz, sizeof(gz));
	/* two concatenated members */
	uint8_t two[512];
	memcpy(two, gz, n);
	memcpy(two + n, gz, n);
	uint8_t *out;
	size_t len;
	assert_int_equal(mx_inflate(two, 2 * n, 100, &out, &len), MX_OK);
	assert_int_equal(len, 18);
	assert_memory_equal(out, "abcabcabcabcabcabc", 18);
	free(out);
	assert_int_equal(mx_inflate(two, 2 * n, 17, &out, &len), MX_ETOOBIG);
	assert_int_equal(mx_inflate(gz, n - 3, 100, &out, &len), MX_EINVAL);
	assert_true(mx_is_gzip(gz, n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routing),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_async_answers),
		cmocka_unit_test(test_inflate_unit),
	};
	return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
