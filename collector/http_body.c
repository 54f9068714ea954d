/*
 * http_body.c - request bodies for the HTTP framework: the size caps, the
 * global decode budget and gzip inflation (see http_int.h).
 *
 * A body is held in one buffer per request, sized from a declared
 * Content-Length or grown by doubling for a chunked body, never past
 * lim.max_body. Every byte held counts against lim.decode_budget, shared by
 * all requests; a request that cannot get its share is answered 429 (at the
 * headers stage when the length is declared, else once the rest of the body
 * has been read and dropped). A gzip/deflate body is inflated in one go
 * with a running output cap, and the budget then moves from the compressed
 * to the inflated copy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../model/error.h"
#include "http_int.h"
#include "inflate.h"

static bool budget_take(struct mx_http_server *srv, struct mx_http_req *r, uint64_t n)
{
	uint64_t cur = atomic_load(&srv->budget_used);
	do {
		if (cur + n > srv->lim.decode_budget)
			return false;
	} while (!atomic_compare_exchange_weak(&srv->budget_used, &cur, cur + n));
	r->budget_held += n;
	return true;
}

void mx_http_budget_release(struct mx_http_server *srv, struct mx_http_req *r)
{
	if (r->budget_held) {
		atomic_fetch_sub(&srv->budget_used, r->budget_held);
		r->budget_held = 0;
	}
}

enum MHD_Result mx_http_body_begin(struct mx_http_server *srv, struct mx_http_req *r)
{
	const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(cl, &end, 10);
		if (errno || end == cl) {
			return mx_http_answer_now(r, 400, "bad Content-Length");
		}
		if (n > srv->lim.max_body) {
			char msg[128];
			snprintf(msg, sizeof(msg), "body of %llu bytes exceeds the limit of %llu",
				 n, (unsigned long long)srv->lim.max_body);
			return mx_http_answer_now(r, 413, msg);
		}
		if (!budget_take(srv, r, n)) {
			atomic_fetch_add(&srv->budget_refused, 1);
			return mx_http_answer_now(r, 429, "too many bodies being decoded; retry later");
		}
		r->body_cap = (size_t)n;
		r->body = malloc(r->body_cap + 1);
		if (!r->body)
			return mx_http_answer_now(r, 503, "out of memory");
	}
	return MHD_YES;
}

enum MHD_Result mx_http_body_chunk(struct mx_http_server *srv, struct mx_http_req *r,
				   const char *data, size_t n)
{
	if (!(r->route->flags & MX_ROUTE_BODY) || r->refuse)
		return MHD_YES; /* read and drop */
	if (r->body_len + n > srv->lim.max_body) {
		atomic_fetch_add(&srv->body_too_large, 1);
		return MHD_NO; /* close: cannot answer while a body arrives */
	}
	if (r->body_len + n > r->body_cap) {
		size_t ncap = r->body_cap ? r->body_cap * 2 : 64 * 1024;
		while (ncap < r->body_len + n)
			ncap *= 2;
		if (ncap > srv->lim.max_body)
			ncap = (size_t)srv->lim.max_body;
		if (!budget_take(srv, r, ncap - r->body_cap)) {
			atomic_fetch_add(&srv->budget_refused, 1);
			r->refuse = 429;
			return MHD_YES;
		}
		uint8_t *nb = realloc(r->body, ncap + 1);
		if (!nb) {
			r->refuse = 503;
			return MHD_YES;
		}
		r->body = nb;
		r->body_cap = ncap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	return MHD_YES;
}

unsigned mx_http_body_inflate(struct mx_http_server *srv, struct mx_http_req *r)
{
	const char *enc = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_CONTENT_ENCODING);
	bool declared = enc && *enc && strcasecmp(enc, "identity") != 0;
	if (declared && strcasecmp(enc, "gzip") != 0 && strcasecmp(enc, "x-gzip") != 0 &&
	    strcasecmp(enc, "deflate") != 0)
		return 415;
	if (!declared && !mx_is_gzip(r->body, r->body_len))
		return 0;
	if (r->body_len == 0)
		return 0;
	uint8_t *out;
	size_t out_len;
	int rc = mx_inflate(r->body, r->body_len, (size_t)srv->lim.max_decompressed, &out, &out_len);
	if (rc == MX_ETOOBIG)
		return 413;
	if (rc != MX_OK)
		return rc == MX_ENOMEM ? 503 : 400;
	/* account for the inflated copy in the budget; the compressed one goes */
	uint64_t old = r->budget_held;
	mx_http_budget_release(srv, r);
	if (!budget_take(srv, r, out_len)) {
		free(out);
		(void)old;
		atomic_fetch_add(&srv->budget_refused, 1);
		return 429;
	}
	free(r->body);
	r->body = out;
	r->body_len = out_len;
	r->body_cap = out_len;
	return 0;
}
