/*
 * zipkin_api.c - the Zipkin v2 query API handlers (see zipkin_api.h): name
 * lists, search, trace by id, traceMany and autocomplete.
 *
 * Each handler reads from the store (which copies what it returns out of its
 * read transaction), writes JSON into a capped buffer and hands the buffer
 * to the HTTP framework. Errors are text/plain with the status, as Zipkin
 * answers them.
 */
#include "zipkin_api.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../codec/jaeger_json.h"
#include "../codec/zipkin.h"
#include "../model/buf.h"
#include "../model/error.h"

#define CT_JSON "application/json"
#define CT_TEXT "text/plain; charset=utf-8"
#define DEFAULT_MAX_SPANS 100000u
#define DEFAULT_LIMIT 10u
#define DEFAULT_LOOKBACK_MS 86400000ull
#define NAMES_ARENA (64u * 1024 * 1024)
#define NAMES_MAX_RESPONSE (64u * 1024 * 1024)
#define MAX_KEYS 256
#define MSG 192

static const char *const cache_hdr[] = {
	"Cache-Control", "max-age=300, must-revalidate", NULL
};

/* ---------------------------------------------------------- answers */

/* The route's errfmt: text/plain with the status, no trailing newline. */
static void zipkin_errfmt(struct mx_http_req *req, unsigned status,
			  const char *msg)
{
	static const char *const retry[] = { "Retry-After", "1", NULL };
	const char *m = msg ? msg : "";
	mx_http_respond(req, status, CT_TEXT, m, strlen(m),
			(status == 429 || status == 503) ? retry : NULL);
}

static void respond_buf(struct mx_http_req *req, struct mx_buf *b,
			const char *const *headers)
{
	size_t len = 0;
	uint8_t *data = mx_buf_steal(b, &len);
	mx_http_respond_owned(req, 200, CT_JSON, data, len, headers);
}

static bool store_ready(struct mx_http_req *req,
			const struct mx_zipkin_query_ctx *ctx)
{
	if (!ctx->store)
		zipkin_errfmt(req, 503, "store not available");
	return ctx->store != NULL;
}

static void store_error(struct mx_http_req *req, const char *what, int rc)
{
	char msg[MSG];
	snprintf(msg, sizeof(msg), "cannot %s: %s", what, mx_strerror(rc));
	zipkin_errfmt(req, 500, msg);
}

/* Answers a sorted name list; the Cache-Control header once more than 3
 * services exist. */
static void answer_names(struct mx_http_req *req,
			 struct mx_zipkin_query_ctx *ctx,
			 const struct mx_str *names, uint32_t n)
{
	struct mx_buf b;
	mx_buf_init(&b, NAMES_MAX_RESPONSE);
	if (mx_jaeger_json_strings(names, n, &b) != MX_OK) {
		zipkin_errfmt(req, 500, "response too large");
	} else {
		bool cache = atomic_load(&ctx->service_count) > 3;
		respond_buf(req, &b, cache ? cache_hdr : NULL);
	}
	mx_buf_free(&b);
}

/* A required non-empty query parameter; answers 400 when missing. */
static const char *required(struct mx_http_req *req, const char *name)
{
	const char *v = mx_http_query(req, name);
	if (v && *v && strlen(v) <= UINT32_MAX)
		return v;
	char msg[MSG];
	snprintf(msg, sizeof(msg), "%s is required", name);
	zipkin_errfmt(req, 400, msg);
	return NULL;
}

static struct mx_str cstr(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n > UINT32_MAX)
		n = 0;
	return (struct mx_str){ n ? s : NULL, (uint32_t)n };
}

/* ---------------------------------------------------------- names */

static void handle_services(struct mx_http_req *req, void *ctx_v)
{
	struct mx_zipkin_query_ctx *ctx = ctx_v;
	struct mx_arena arena;
	struct mx_str *names = NULL;
	uint32_t n = 0;

	mx_arena_init(&arena, NAMES_ARENA);
	if (!store_ready(req, ctx))
		goto out;
	int rc = mx_store_services(ctx->store, &arena, &names, &n);
	if (rc != MX_OK) {
		store_error(req, "list services", rc);
		goto out;
	}
	atomic_store(&ctx->service_count, n);
	answer_names(req, ctx, names, n);
out:
	mx_arena_free(&arena);
}

static void handle_span_names(struct mx_http_req *req, void *ctx_v)
{
	struct mx_zipkin_query_ctx *ctx = ctx_v;
	struct mx_arena arena;
	struct mx_operation *ops = NULL;
	uint32_t n = 0, u = 0;

	mx_arena_init(&arena, NAMES_ARENA);
	const char *svc = required(req, "serviceName");
	if (!svc || !store_ready(req, ctx))
		goto out;
	int rc = mx_store_operations(ctx->store, cstr(svc), -1, &arena, &ops,
				     &n);
	if (rc != MX_OK) {
		store_error(req, "list span names", rc);
		goto out;
	}
	struct mx_str *names = mx_arena_calloc(&arena, n ? n : 1,
					       sizeof(*names));
	if (!names) {
		zipkin_errfmt(req, 500, "out of memory");
		goto out;
	}
	/* sorted by name then kind: equal names are adjacent */
	for (uint32_t i = 0; i < n; i++)
		if (u == 0 || !mx_str_eq(names[u - 1], ops[i].name.ptr,
					 ops[i].name.len))
			names[u++] = ops[i].name;
	answer_names(req, ctx, names, u);
out:
	mx_arena_free(&arena);
}

static void handle_remote_services(struct mx_http_req *req, void *ctx_v)
{
	struct mx_zipkin_query_ctx *ctx = ctx_v;
	struct mx_arena arena;
	struct mx_str *names = NULL;
	uint32_t n = 0;

	mx_arena_init(&arena, NAMES_ARENA);
	const char *svc = required(req, "serviceName");
	if (!svc || !store_ready(req, ctx))
		goto out;
	int rc = mx_store_remote_services(ctx->store, cstr(svc), &arena,
					  &names, &n);
	if (rc != MX_OK) {
		store_error(req, "list remote services", rc);
		goto out;
	}
	answer_names(req, ctx, names, n);
out:
	mx_arena_free(&arena);
}

static void handle_autocomplete_keys(struct mx_http_req *req, void *ctx_v)
{
	struct mx_zipkin_query_ctx *ctx = ctx_v;
	struct mx_str items[MAX_KEYS], keys[MAX_KEYS];
	size_t n = 0;
	uint32_t k = 0;

	const char *cfg = ctx->autocomplete_keys;
	if (cfg && *cfg &&
	    mx_split_list(cfg, ',', items, MAX_KEYS, &n) != MX_OK) {
		zipkin_errfmt(req, 500, "too many autocomplete keys");
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (items[i].len)
			keys[k++] = items[i];
	answer_names(req, ctx, keys, k);
}

static void handle_autocomplete_values(struct mx_http_req *req, void *ctx_v)
{
	struct mx_zipkin_query_ctx *ctx = ctx_v;
	struct mx_arena arena;
	struct mx_str *values = NULL;
	uint32_t n = 0;

	mx_arena_init(&arena, NAMES_ARENA);
	const char *key = required(req, "key");
	if (!key || !store_ready(req, ctx))
		goto out;
	int rc = mx_store_tag_values(ctx->store, cstr(key), &arena, &values,
				     &n);
	if (rc != MX_OK) {
		store_error(req, "list values", rc);
		goto out;
	}
	answer_names(req, ctx, values, n);
out:
	mx_arena_free(&arena);
}

/* ---------------------------------------------------------- search */

/* Reads an optional unsigned parameter; `def` when absent. */
static int opt_u64(const struct mx_params *p, const char *name, uint64_t def,
		   uint64_t *out, char *err, size_t errlen)
{
	const char *v = mx_param(p, name);
	*out = def;
	if (v && mx_param_parse_u64(v, out) != MX_OK) {
		snprintf(err, errlen, "%s should be a non-negative integer",
			 name);
		return MX_EINVAL;
	}
	return MX_OK;
}

/* Zipkin reads "all" as no filter for span and remote service names. */
static struct mx_str name_filter(const struct mx_params *p, const char *name)
{
	const char *v = mx_param(p, name);
	return (v && strcmp(v, "all") == 0) ? (struct mx_str){ NULL, 0 }
					    : cstr(v);
}

int mx_zipkin_search_parse(const struct mx_params *p,
			   const struct mx_zipkin_query_ctx *ctx,
			   uint64_t now_ns, struct mx_zipkin_search *out,
			   char *err, size_t errlen)
{
	struct mx_search_query *q = &out->q;
	uint64_t min_us, max_us, end_ms, lookback_ms, limit;

	memset(out, 0, sizeof(*out));
	q->kind = -1;
	q->tags_match_resource = false;
	q->service = cstr(mx_param(p, "serviceName"));
	q->remote_service = name_filter(p, "remoteServiceName");
	q->operation = name_filter(p, "spanName");

	const char *aq = mx_param(p, "annotationQuery");
	if (aq) {
		int rc = mx_parse_annotation_query(aq, &out->tags);
		if (rc != MX_OK) {
			snprintf(err, errlen, rc == MX_ETOOBIG
				 ? "annotationQuery: too many terms (at most %d)"
				 : "annotationQuery: a term has an empty key "
				   "(at most %d terms)", MX_QUERY_MAX_TAGS);
			return MX_EINVAL;
		}
	}
	q->tags = out->tags.items;
	q->n_tags = out->tags.n;

	if (opt_u64(p, "minDuration", 0, &min_us, err, errlen) != MX_OK ||
	    opt_u64(p, "maxDuration", 0, &max_us, err, errlen) != MX_OK ||
	    opt_u64(p, "endTs", 0, &end_ms, err, errlen) != MX_OK ||
	    opt_u64(p, "lookback", DEFAULT_LOOKBACK_MS, &lookback_ms, err,
		    errlen) != MX_OK ||
	    opt_u64(p, "limit", DEFAULT_LIMIT, &limit, err, errlen) != MX_OK)
		return MX_EINVAL;
	if (min_us && max_us && max_us < min_us) {
		snprintf(err, errlen,
			 "maxDuration should be >= minDuration");
		return MX_EINVAL;
	}
	if (mx_param(p, "endTs") && end_ms == 0) {
		snprintf(err, errlen, "endTs should be positive");
		return MX_EINVAL;
	}
	if (lookback_ms == 0) {
		snprintf(err, errlen, "lookback should be positive");
		return MX_EINVAL;
	}
	if (limit == 0) {
		snprintf(err, errlen, "limit should be positive");
		return MX_EINVAL;
	}
	q->min_duration_ns = mx_mul_sat(min_us, 1000);
	q->max_duration_ns = mx_mul_sat(max_us, 1000);
	uint64_t end_ns = end_ms ? mx_mul_sat(end_ms, 1000000) : now_ns;
	uint64_t back_ns = mx_mul_sat(lookback_ms, 1000000);
	q->start_max_ns = end_ns;
	q->start_min_ns = end_ns > back_ns ? end_ns - back_ns : 0;
	q->limit = (uint32_t)(limit > MX_ZIPKIN_MAX_LIMIT ? MX_ZIPKIN_MAX_LIMIT
							  : limit);
	q->max_spans_per_trace = ctx->max_spans ? ctx->max_spans
						: DEFAULT_MAX_SPANS;
	q->max_candidates = 0;
	q->deadline_ns = mx_query_deadline_ns(ctx->query_timeout_ms);
	return MX_OK;
}

/* Appends [[span,...],...] for `n` traces. */
static int encode_traces(struct mx_batch *const *traces, size_t n,
			 struct mx_buf *b)
{
	mx_buf_putc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			mx_buf_putc(b, ',');
		if (mx_zipkin_json_encode_spans(traces[i]->spans,
						traces[i]->n_spans, b) != MX_OK)
			return MX_ENOMEM;
	}
	mx_buf_putc(b, ']');
	return b->failed ? MX_ENOMEM : MX_OK;
}

static void too_large(struct mx_http_req *req)
{
	char msg[MSG];
	snprintf(msg, sizeof(msg),
		 "response too large: more than %u MiB of JSON; narrow the "
		 "search or lower limit",
		 (unsigned)(MX_ZIPKIN_MAX_RESPONSE >> 20));
	zipkin_errfmt(req, 500, msg);
}

static void handle_traces(struct mx_http_req *req, void *ctx_v)
{
	static const char *const trunc_hdr[] = {
		MX_ZIPKIN_TRUNCATED_HEADER, "true", NULL
	};
	struct mx_zipkin_query_ctx *ctx = ctx_v;
	struct mx_zipkin_search *s = malloc(sizeof(*s));
	struct mx_search_result r = { 0 };
	struct mx_params p;
	struct mx_buf b;
	char err[MSG];

	mx_buf_init(&b, MX_ZIPKIN_MAX_RESPONSE);
	if (!s) {
		zipkin_errfmt(req, 503, "out of memory");
		goto out;
	}
	mx_params_from_http(&p, req);
	if (mx_zipkin_search_parse(&p, ctx, mx_now_wall_ns(), s, err,
				   sizeof(err)) != MX_OK) {
		zipkin_errfmt(req, 400, err);
		goto out;
	}
	if (!store_ready(req, ctx))
		goto out;
	int rc = mx_store_search(ctx->store, &s->q, &r);
	if (rc != MX_OK) {
		store_error(req, "search", rc);
		goto out;
	}
	if (encode_traces(r.traces, r.n, &b) != MX_OK) {
		too_large(req);
		goto out;
	}
	respond_buf(req, &b, r.truncated ? trunc_hdr : NULL);
out:
	mx_search_result_free(&r);
	mx_buf_free(&b);
	free(s);
}

/* ---------------------------------------------------------- by id */

/* Reads one trace; MX_OK with *out, MX_ENOTFOUND, or another error. */
static int read_trace(const struct mx_zipkin_query_ctx *ctx,
		      const uint8_t id[16], struct mx_batch **out)
{
	uint32_t max = ctx->max_spans ? ctx->max_spans : DEFAULT_MAX_SPANS;
	int rc = mx_store_get_trace(ctx->store, id, !ctx->strict_trace_id,
				    max, out);
	if (rc == MX_OK && (!*out || (*out)->n_spans == 0)) {
		mx_batch_free(*out);
		*out = NULL;
		rc = MX_ENOTFOUND;
	}
	return rc;
}

static void lookup_error(struct mx_http_req *req,
			 const struct mx_zipkin_query_ctx *ctx, const char *hex,
			 int rc)
{
	char msg[MSG];
	if (rc == MX_ENOTFOUND) {
		snprintf(msg, sizeof(msg), "%s not found", hex);
		zipkin_errfmt(req, 404, msg);
	} else if (rc == MX_ENOMEM) {
		snprintf(msg, sizeof(msg),
			 "trace %s too large: more than %u spans", hex,
			 (unsigned)(ctx->max_spans ? ctx->max_spans
						   : DEFAULT_MAX_SPANS));
		zipkin_errfmt(req, 500, msg);
	} else {
		store_error(req, "read trace", rc);
	}
}

#define TRACE_PREFIX "/api/v2/trace/"

static void handle_trace(struct mx_http_req *req, void *ctx_v)
{
	struct mx_zipkin_query_ctx *ctx = ctx_v;
	struct mx_batch *t = NULL;
	struct mx_buf b;
	uint8_t id[16];
	char hex[33];

	mx_buf_init(&b, MX_ZIPKIN_MAX_RESPONSE);
	const char *path = mx_http_path(req);
	const char *s = path + strlen(TRACE_PREFIX);
	if (mx_parse_trace_id(s, strlen(s), 16, id) != MX_OK) {
		zipkin_errfmt(req, 400,
			      "traceId should be 16 to 32 hex characters");
		goto out;
	}
	mx_trace_id_to_hex(id, hex);
	if (!store_ready(req, ctx))
		goto out;
	int rc = read_trace(ctx, id, &t);
	if (rc != MX_OK) {
		lookup_error(req, ctx, hex, rc);
		goto out;
	}
	if (mx_zipkin_json_encode_spans(t->spans, t->n_spans, &b) != MX_OK) {
		too_large(req);
		goto out;
	}
	respond_buf(req, &b, NULL);
out:
	mx_batch_free(t);
	mx_buf_free(&b);
}

static void handle_trace_many(struct mx_http_req *req, void *ctx_v)
{
	struct mx_zipkin_query_ctx *ctx = ctx_v;
	struct mx_str *items = calloc(MX_QUERY_MAX_IDS, sizeof(*items));
	uint8_t(*ids)[16] = calloc(MX_QUERY_MAX_IDS, sizeof(*ids));
	struct mx_batch **found = calloc(MX_QUERY_MAX_IDS, sizeof(*found));
	size_t n = 0, n_found = 0;
	struct mx_buf b;
	char msg[MSG];

	mx_buf_init(&b, MX_ZIPKIN_MAX_RESPONSE);
	if (!items || !ids || !found) {
		zipkin_errfmt(req, 503, "out of memory");
		goto out;
	}
	const char *v = mx_http_query(req, "traceIds");
	if (!v || !*v) {
		zipkin_errfmt(req, 400, "traceIds parameter is empty");
		goto out;
	}
	if (mx_split_list(v, ',', items, MX_QUERY_MAX_IDS, &n) != MX_OK) {
		snprintf(msg, sizeof(msg), "at most %d traceIds",
			 MX_QUERY_MAX_IDS);
		zipkin_errfmt(req, 400, msg);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (items[i].len == 0) {
			zipkin_errfmt(req, 400, "traceIds has an empty value");
			goto out;
		}
		if (mx_parse_trace_id(items[i].ptr, items[i].len, 16, ids[i]) !=
		    MX_OK) {
			snprintf(msg, sizeof(msg),
				 "traceId should be 16 to 32 hex characters: "
				 "%.*s", (int)(items[i].len < 40 ? items[i].len : 40),
				 items[i].ptr);
			zipkin_errfmt(req, 400, msg);
			goto out;
		}
		for (size_t j = 0; j < i; j++) {
			if (memcmp(ids[i], ids[j], 16) == 0) {
				char hex[33];
				mx_trace_id_to_hex(ids[i], hex);
				snprintf(msg, sizeof(msg),
					 "redundant traceId: %s", hex);
				zipkin_errfmt(req, 400, msg);
				goto out;
			}
		}
	}
	if (n < 2) {
		zipkin_errfmt(req, 400,
			      "Use /api/v2/trace/{traceId} endpoint to "
			      "retrieve a single trace");
		goto out;
	}
	if (!store_ready(req, ctx))
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct mx_batch *t = NULL;
		int rc = read_trace(ctx, ids[i], &t);
		if (rc == MX_ENOTFOUND)
			continue;
		if (rc != MX_OK) {
			char hex[33];
			mx_trace_id_to_hex(ids[i], hex);
			lookup_error(req, ctx, hex, rc);
			goto out;
		}
		found[n_found++] = t;
	}
	if (encode_traces(found, n_found, &b) != MX_OK) {
		too_large(req);
		goto out;
	}
	respond_buf(req, &b, NULL);
out:
	for (size_t i = 0; found && i < n_found; i++)
		mx_batch_free(found[i]);
	free(found);
	free(ids);
	free(items);
	mx_buf_free(&b);
}

/* ---------------------------------------------------------- routes */

size_t mx_zipkin_query_routes(struct mx_zipkin_query_ctx *ctx,
			      const struct mx_route **out)
{
	static const struct {
		const char *path;
		unsigned flags;
		mx_http_handler fn;
	} table[MX_ZIPKIN_N_ROUTES] = {
		{ "/api/v2/services", 0, handle_services },
		{ "/api/v2/spans", 0, handle_span_names },
		{ "/api/v2/remoteServices", 0, handle_remote_services },
		{ "/api/v2/traces", 0, handle_traces },
		{ TRACE_PREFIX, MX_ROUTE_PREFIX, handle_trace },
		{ "/api/v2/traceMany", 0, handle_trace_many },
		{ "/api/v2/autocompleteKeys", 0, handle_autocomplete_keys },
		{ "/api/v2/autocompleteValues", 0, handle_autocomplete_values },
	};
	for (size_t i = 0; i < MX_ZIPKIN_N_ROUTES; i++)
		ctx->routes[i] = (struct mx_route){
			.method = "GET", .path = table[i].path,
			.flags = table[i].flags | MX_ROUTE_CORS,
			.fn = table[i].fn, .ctx = ctx,
			.errfmt = zipkin_errfmt,
		};
	*out = ctx->routes;
	return MX_ZIPKIN_N_ROUTES;
}
