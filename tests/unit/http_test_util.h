/*
 * http_test_util.h - a minimal HTTP/1.1 GET over loopback for the tests
 * that drive mixd's HTTP listeners in-process (test_query_api.c,
 * test_dependencies.c). Static helpers: one copy per test binary.
 */
#ifndef MX_HTTP_TEST_UTIL_H
#define MX_HTTP_TEST_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

/* A whole answer: status, header block, body (NUL-terminated in buf). */
struct resp {
	int status;
	char head[2048];
	char *body;
	char buf[1 << 16];
};

/* GETs `path` from 127.0.0.1:`port` (Connection: close) into `r`;
 * returns the status (0 when the answer has no status line). */
static inline int get(uint16_t port, const char *path, struct resp *r)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char req[1024];
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
			 path);
	assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
	size_t have = 0;
	for (;;) {
		ssize_t got = recv(fd, r->buf + have, sizeof(r->buf) - 1 - have, 0);
		if (got <= 0)
			break;
		have += (size_t)got;
	}
	close(fd);
	r->buf[have] = 0;
	r->status = 0;
	if (have >= 12 && strncmp(r->buf, "HTTP/1.1 ", 9) == 0)
		r->status = atoi(r->buf + 9);
	char *end = strstr(r->buf, "\r\n\r\n");
	assert_non_null(end);
	size_t hl = (size_t)(end - r->buf);
	assert_true(hl < sizeof(r->head));
	memcpy(r->head, r->buf, hl);
	r->head[hl] = 0;
	r->body = end + 4;
	return r->status;
}

#endif
