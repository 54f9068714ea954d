/*
 * dependencies.c - Zipkin's GET /api/v2/dependencies and Jaeger's GET
 * /api/dependencies (see dependencies.h): parameters to a window, the
 * store's summed links (storage/sgraph_db.c), each API's JSON.
 */
#include "dependencies.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../codec/jaeger_json.h"
#include "../model/error.h"
#include "jaeger_api.h"

#define CT_JSON "application/json"
#define CT_TEXT "text/plain; charset=utf-8"
#define MAX_RESPONSE (64u * 1024 * 1024)
#define NAMES_ARENA (64u * 1024 * 1024)
#define MSG 256

/* ---------------------------------------------------------- parameters */

/* Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits. */
static int parse_int64(const char *s, int64_t *out, const char **why)
{
	const char *p = s;
	bool neg = false;
	uint64_t v = 0, lim;
	*why = "invalid syntax";
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!*p)
		return MX_EINVAL;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	bool range = false;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return MX_EINVAL;
		unsigned d = (unsigned)(*p - '0');
		if (v > (lim - d) / 10)
			range = true;
		else
			v = v * 10 + d;
	}
	if (range) {
		*why = "value out of range";
		return MX_EINVAL;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return MX_OK;
}

/* endTs and lookback in ms to a window; *empty when nothing can match. */
static void window(int64_t end_ms, int64_t back_ms, struct mx_deps_query *q)
{
	q->empty = end_ms < 0 || back_ms < 0;
	if (q->empty)
		return;
	q->t1_ns = mx_mul_sat((uint64_t)end_ms, 1000000);
	uint64_t back = mx_mul_sat((uint64_t)back_ms, 1000000);
	q->t0_ns = q->t1_ns > back ? q->t1_ns - back : 0;
}

int mx_deps_zipkin_parse(const struct mx_params *p, struct mx_deps_query *q,
			 char *err, size_t errlen)
{
	const char *why;
	int64_t end, back = (int64_t)MX_DEPS_DEFAULT_LOOKBACK_MS;
	memset(q, 0, sizeof(*q));
	const char *e = mx_param(p, "endTs"), *l = mx_param(p, "lookback");
	if (!e) {
		snprintf(err, errlen, "endTs is required");
		return MX_EINVAL;
	}
	if (parse_int64(e, &end, &why) != MX_OK) {
		snprintf(err, errlen, "endTs should be an integer (%s)", why);
		return MX_EINVAL;
	}
	if (l && parse_int64(l, &back, &why) != MX_OK) {
		snprintf(err, errlen, "lookback should be an integer (%s)", why);
		return MX_EINVAL;
	}
	if (end <= 0) {
		snprintf(err, errlen, "endTs <= 0");
		return MX_EINVAL;
	}
	if (back <= 0) {
		snprintf(err, errlen, "lookback <= 0");
		return MX_EINVAL;
	}
	window(end, back, q);
	return MX_OK;
}

int mx_deps_jaeger_parse(const struct mx_params *p, uint64_t now_ns,
			 struct mx_deps_query *q, char *err, size_t errlen)
{
	static const char *const names[2] = { "endTs", "lookback" };
	int64_t v[2] = { (int64_t)(now_ns / 1000000),
			 (int64_t)MX_DEPS_DEFAULT_LOOKBACK_MS };
	memset(q, 0, sizeof(*q));
	for (int i = 0; i < 2; i++) {
		const char *s = mx_param(p, names[i]), *why;
		if (s && parse_int64(s, &v[i], &why) != MX_OK) {
			snprintf(err, errlen,
				 "unable to parse param '%s': strconv.ParseInt: "
				 "parsing \"%.64s\": %s", names[i], s, why);
			return MX_EINVAL;
		}
	}
	q->service = mx_param(p, "service");
	window(v[0], v[1], q);
	return MX_OK;
}

/* ---------------------------------------------------------- JSON */

static void link_json(const struct mx_dep_link *l, bool errors,
		      struct mx_buf *out)
{
	mx_buf_puts(out, "{\"parent\":\"");
	mx_buf_json_escape(out, l->parent.ptr, l->parent.len);
	mx_buf_puts(out, "\",\"child\":\"");
	mx_buf_json_escape(out, l->child.ptr, l->child.len);
	mx_buf_printf(out, "\",\"callCount\":%llu", (unsigned long long)l->calls);
	if (errors && l->errors)
		mx_buf_printf(out, ",\"errorCount\":%llu",
			      (unsigned long long)l->errors);
	mx_buf_putc(out, '}');
}

int mx_deps_zipkin_json(const struct mx_dep_link *l, uint32_t n,
			struct mx_buf *out)
{
	mx_buf_putc(out, '[');
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			mx_buf_putc(out, ',');
		link_json(&l[i], true, out);
	}
	mx_buf_putc(out, ']');
	return out->failed ? MX_ENOMEM : MX_OK;
}

static bool matches(const struct mx_dep_link *l, const char *service)
{
	size_t n = service ? strlen(service) : 0;
	return n == 0 || mx_str_eq(l->parent, service, n) ||
	       mx_str_eq(l->child, service, n);
}

int mx_deps_jaeger_json(const struct mx_dep_link *l, uint32_t n,
			const char *service, struct mx_buf *out)
{
	bool first = true;
	mx_jaeger_json_begin(out);
	mx_buf_putc(out, '[');
	for (uint32_t i = 0; i < n; i++) {
		if (!matches(&l[i], service))
			continue;
		if (!first)
			mx_buf_putc(out, ',');
		first = false;
		link_json(&l[i], false, out);
	}
	mx_buf_putc(out, ']');
	return mx_jaeger_json_end(out, 0);
}

/* ---------------------------------------------------------- handlers */

static void zipkin_errfmt(struct mx_http_req *req, unsigned status,
			  const char *msg)
{
	static const char *const retry[] = { "Retry-After", "1", NULL };
	const char *m = msg ? msg : "";
	mx_http_respond(req, status, CT_TEXT, m, strlen(m),
			(status == 429 || status == 503) ? retry : NULL);
}

/* Reads the links of q; answers the error itself and returns false. */
static bool read_links(struct mx_http_req *req, struct mx_deps_ctx *ctx,
		       const struct mx_deps_query *q, struct mx_arena *arena,
		       struct mx_dep_link **links, uint32_t *n,
		       void (*errfmt)(struct mx_http_req *, unsigned, const char *))
{
	*links = NULL;
	*n = 0;
	if (!ctx->store) {
		errfmt(req, 503, "store not available");
		return false;
	}
	if (q->empty)
		return true;
	int rc = mx_store_dependencies(ctx->store, q->t0_ns, q->t1_ns, arena,
				       links, n);
	if (rc != MX_OK) {
		char msg[MSG];
		snprintf(msg, sizeof(msg), "cannot read dependencies: %s",
			 mx_strerror(rc));
		errfmt(req, rc == MX_ENOMEM ? 500 : 503, msg);
		return false;
	}
	return true;
}

static void respond(struct mx_http_req *req, struct mx_buf *b)
{
	size_t len = 0;
	uint8_t *data = mx_buf_steal(b, &len);
	mx_http_respond_owned(req, 200, CT_JSON, data, len, NULL);
}

static void handle_zipkin(struct mx_http_req *req, void *ctx_v)
{
	struct mx_deps_ctx *ctx = ctx_v;
	struct mx_deps_query q;
	struct mx_arena arena;
	struct mx_dep_link *links;
	struct mx_params p;
	struct mx_buf b;
	uint32_t n;
	char err[MSG];

	mx_arena_init(&arena, NAMES_ARENA);
	mx_buf_init(&b, MAX_RESPONSE);
	mx_params_from_http(&p, req);
	if (mx_deps_zipkin_parse(&p, &q, err, sizeof(err)) != MX_OK) {
		zipkin_errfmt(req, 400, err);
		goto out;
	}
	if (!read_links(req, ctx, &q, &arena, &links, &n, zipkin_errfmt))
		goto out;
	if (mx_deps_zipkin_json(links, n, &b) != MX_OK) {
		zipkin_errfmt(req, 500, "response too large");
		goto out;
	}
	respond(req, &b);
out:
	mx_buf_free(&b);
	mx_arena_free(&arena);
}

static void handle_jaeger(struct mx_http_req *req, void *ctx_v)
{
	struct mx_deps_ctx *ctx = ctx_v;
	struct mx_deps_query q;
	struct mx_arena arena;
	struct mx_dep_link *links;
	struct mx_params p;
	struct mx_buf b;
	uint32_t n;
	char err[MSG];

	mx_arena_init(&arena, NAMES_ARENA);
	mx_buf_init(&b, MAX_RESPONSE);
	mx_params_from_http(&p, req);
	if (mx_deps_jaeger_parse(&p, mx_now_wall_ns(), &q, err, sizeof(err)) !=
	    MX_OK) {
		mx_jaeger_errfmt(req, 400, err);
		goto out;
	}
	if (!read_links(req, ctx, &q, &arena, &links, &n, mx_jaeger_errfmt))
		goto out;
	if (mx_deps_jaeger_json(links, n, q.service, &b) != MX_OK) {
		mx_jaeger_errfmt(req, 500, "response too large");
		goto out;
	}
	respond(req, &b);
out:
	mx_buf_free(&b);
	mx_arena_free(&arena);
}

size_t mx_deps_zipkin_routes(struct mx_deps_ctx *ctx, const struct mx_route **out)
{
	ctx->zipkin_route[0] = (struct mx_route){
		.method = "GET", .path = "/api/v2/dependencies",
		.flags = MX_ROUTE_CORS, .fn = handle_zipkin, .ctx = ctx,
		.errfmt = zipkin_errfmt,
	};
	*out = ctx->zipkin_route;
	return 1;
}

size_t mx_deps_jaeger_routes(struct mx_deps_ctx *ctx, const struct mx_route **out)
{
	ctx->jaeger_route[0] = (struct mx_route){
		.method = "GET", .path = "/api/dependencies", .flags = 0,
		.fn = handle_jaeger, .ctx = ctx, .errfmt = mx_jaeger_errfmt,
	};
	*out = ctx->jaeger_route;
	return 1;
}
