/*
 * jaeger_search.c - GET /api/traces of the Jaeger query API: the mapping of
 * its parameters (wire-protocols.md §3.8) onto a store search, and the
 * handler that runs the search (or the traceID lookups) and writes Jaeger's
 * envelope with an `errors` list for truncation and missing traces.
 */
#include "jaeger_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../codec/jaeger_json.h"
#include "../model/buf.h"
#include "../model/error.h"

#define CT_JSON "application/json"
#define DEFAULT_LIMIT 100u
#define DEFAULT_LOOKBACK_NS (48ull * 3600 * 1000000000ull)
#define PARAM_ARENA (1u << 20) /* copies of the tags JSON strings */
#define ERR_MSG 192

static struct mx_str cstr(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n > UINT32_MAX)
		n = 0;
	return (struct mx_str){ n ? s : NULL, (uint32_t)n };
}

static int parse_trace_ids(const struct mx_params *p,
			   struct mx_jaeger_search *out, char *err,
			   size_t errlen)
{
	const char *ids[MX_QUERY_MAX_IDS];
	size_t n = p->get_all(p->ctx, "traceID", ids, MX_QUERY_MAX_IDS);
	if (n > MX_QUERY_MAX_IDS) {
		snprintf(err, errlen, "too many 'traceID' parameters (at most %d)",
			 MX_QUERY_MAX_IDS);
		return MX_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t id[16];
		if (mx_parse_trace_id(ids[i], strlen(ids[i]), 1, id) != MX_OK) {
			snprintf(err, errlen,
				 "cannot parse traceID param: expected 1 to 32 "
				 "hex digits");
			return MX_EINVAL;
		}
		bool dup = false;
		for (uint32_t j = 0; j < out->n_trace_ids && !dup; j++)
			dup = memcmp(out->trace_ids[j], id, 16) == 0;
		if (!dup)
			memcpy(out->trace_ids[out->n_trace_ids++], id, 16);
	}
	return MX_OK;
}

static int parse_tags(const struct mx_params *p, struct mx_arena *arena,
		      struct mx_jaeger_search *out, char *err, size_t errlen)
{
	const char *vals[MX_QUERY_MAX_TAGS];
	char why[128];

	size_t n = p->get_all(p->ctx, "tags", vals, MX_QUERY_MAX_TAGS);
	if (n > MX_QUERY_MAX_TAGS)
		goto too_many;
	for (size_t i = 0; i < n; i++) {
		if (!*vals[i])
			continue;
		int rc = mx_parse_tags_json(vals[i], arena, &out->tags, why,
					    sizeof(why));
		if (rc == MX_ETOOBIG)
			goto too_many;
		if (rc != MX_OK) {
			snprintf(err, errlen,
				 "malformed 'tags' parameter, cannot unmarshal "
				 "JSON: %s", why);
			return MX_EINVAL;
		}
	}
	n = p->get_all(p->ctx, "tag", vals, MX_QUERY_MAX_TAGS);
	if (n > MX_QUERY_MAX_TAGS)
		goto too_many;
	for (size_t i = 0; i < n; i++) {
		struct mx_str k, v;
		if (mx_split_key_value(vals[i], &k, &v) != MX_OK) {
			snprintf(err, errlen,
				 "malformed 'tag' parameter, expecting "
				 "key:value");
			return MX_EINVAL;
		}
		if (mx_tag_list_add(&out->tags, k, v, MX_TAG_EQ) != MX_OK)
			goto too_many;
	}
	return MX_OK;
too_many:
	snprintf(err, errlen, "too many tag conditions (at most %d)",
		 MX_QUERY_MAX_TAGS);
	return MX_EINVAL;
}

/* Reads an optional µs timestamp into ns; `def` when absent. */
static int parse_time_us(const struct mx_params *p, const char *name,
			 uint64_t def, uint64_t *ns, char *err, size_t errlen)
{
	const char *v = mx_param(p, name);
	uint64_t us;
	if (!v) {
		*ns = def;
		return MX_OK;
	}
	if (mx_param_parse_u64(v, &us) != MX_OK) {
		snprintf(err, errlen,
			 "unable to parse param '%s': expected Unix "
			 "microseconds", name);
		return MX_EINVAL;
	}
	*ns = mx_mul_sat(us, 1000);
	return MX_OK;
}

static int parse_duration(const struct mx_params *p, const char *name,
			  uint64_t *ns, char *err, size_t errlen)
{
	const char *v = mx_param(p, name);
	*ns = 0;
	if (v && mx_parse_go_duration(v, ns) != MX_OK) {
		snprintf(err, errlen,
			 "unable to parse param '%s': expected a duration "
			 "such as 1.2s, 100ms or 500us", name);
		return MX_EINVAL;
	}
	return MX_OK;
}

int mx_jaeger_search_parse(const struct mx_params *p,
			   const struct mx_query_ctx *ctx, uint64_t now_ns,
			   struct mx_arena *arena, struct mx_jaeger_search *out,
			   char *err, size_t errlen)
{
	struct mx_search_query *q = &out->q;
	memset(out, 0, sizeof(*out));
	q->kind = -1;
	q->tags_match_resource = true;

	if (parse_trace_ids(p, out, err, errlen) != MX_OK)
		return MX_EINVAL;
	const char *service = mx_param(p, "service");
	if (!service && out->n_trace_ids == 0) {
		snprintf(err, errlen, "parameter 'service' is required");
		return MX_EINVAL;
	}
	q->service = cstr(service);
	q->operation = cstr(mx_param(p, "operation"));
	if (parse_tags(p, arena, out, err, errlen) != MX_OK)
		return MX_EINVAL;
	q->tags = out->tags.items;
	q->n_tags = out->tags.n;

	uint64_t def_start = now_ns > DEFAULT_LOOKBACK_NS
		? now_ns - DEFAULT_LOOKBACK_NS : 0;
	if (parse_time_us(p, "start", def_start, &q->start_min_ns, err,
			  errlen) != MX_OK ||
	    parse_time_us(p, "end", now_ns, &q->start_max_ns, err,
			  errlen) != MX_OK)
		return MX_EINVAL;
	if (q->start_min_ns > q->start_max_ns) {
		snprintf(err, errlen, "'start' must not be later than 'end'");
		return MX_EINVAL;
	}

	if (parse_duration(p, "minDuration", &q->min_duration_ns, err,
			   errlen) != MX_OK ||
	    parse_duration(p, "maxDuration", &q->max_duration_ns, err,
			   errlen) != MX_OK)
		return MX_EINVAL;
	if (q->min_duration_ns && q->max_duration_ns &&
	    q->max_duration_ns < q->min_duration_ns) {
		snprintf(err, errlen,
			 "'maxDuration' should be greater than 'minDuration'");
		return MX_EINVAL;
	}

	const char *lim = mx_param(p, "limit");
	uint64_t limit = DEFAULT_LIMIT;
	if (lim && mx_param_parse_u64(lim, &limit) != MX_OK) {
		snprintf(err, errlen,
			 "unable to parse param 'limit': expected a "
			 "non-negative integer");
		return MX_EINVAL;
	}
	if (limit == 0)
		limit = DEFAULT_LIMIT;
	if (limit > MX_JAEGER_MAX_LIMIT)
		limit = MX_JAEGER_MAX_LIMIT;
	q->limit = (uint32_t)limit;
	q->max_spans_per_trace = ctx->max_spans ? ctx->max_spans
						: MX_QUERY_DEFAULT_MAX_SPANS;
	q->max_candidates = 0; /* the store's default */
	q->deadline_ns = mx_query_deadline_ns(ctx->query_timeout_ms);
	return MX_OK;
}

/* ---------------------------------------------------------- handler */

/* One entry of the envelope's `errors`. */
struct ui_error {
	unsigned code; /* 0: omitted */
	char msg[ERR_MSG];
	char trace_id[33]; /* "": omitted */
};

/* Closes an envelope whose `data` was written, with `errors`. */
static int end_with_errors(struct mx_buf *b, const struct ui_error *e,
			   size_t n)
{
	if (n == 0)
		return mx_jaeger_json_end(b, 0);
	mx_buf_puts(b, ",\"total\":0,\"limit\":0,\"offset\":0,\"errors\":[");
	for (size_t i = 0; i < n; i++) {
		mx_buf_puts(b, i ? ",{" : "{");
		if (e[i].code)
			mx_buf_printf(b, "\"code\":%u,", e[i].code);
		mx_buf_puts(b, "\"msg\":\"");
		mx_buf_json_escape(b, e[i].msg, strlen(e[i].msg));
		mx_buf_putc(b, '"');
		if (e[i].trace_id[0])
			mx_buf_printf(b, ",\"traceID\":\"%s\"", e[i].trace_id);
		mx_buf_putc(b, '}');
	}
	mx_buf_puts(b, "]}");
	return b->failed ? MX_ENOMEM : MX_OK;
}

static void respond_buf(struct mx_http_req *req, unsigned status,
			struct mx_buf *b)
{
	size_t len = 0;
	uint8_t *data = mx_buf_steal(b, &len);
	mx_http_respond_owned(req, status, CT_JSON, data, len, NULL);
}

static void too_large(struct mx_http_req *req)
{
	char msg[ERR_MSG];
	snprintf(msg, sizeof(msg),
		 "response too large: more than %u MiB of JSON; narrow the "
		 "search or lower 'limit'",
		 (unsigned)(MX_JAEGER_MAX_RESPONSE >> 20));
	mx_jaeger_errfmt(req, 500, msg);
}

/* The traceID form: looks each id up; missing ones become errors. */
static void answer_ids(struct mx_http_req *req, struct mx_query_ctx *ctx,
		       const struct mx_jaeger_search *s)
{
	uint32_t n = s->n_trace_ids;
	struct mx_batch **found = calloc(n, sizeof(*found));
	struct ui_error *errs = calloc(n, sizeof(*errs));
	uint32_t n_found = 0, n_errs = 0;
	bool hard = false;
	struct mx_buf b;
	uint32_t max = ctx->max_spans ? ctx->max_spans
				      : MX_QUERY_DEFAULT_MAX_SPANS;

	mx_buf_init(&b, MX_JAEGER_MAX_RESPONSE);
	if (!found || !errs) {
		mx_jaeger_errfmt(req, 503, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct mx_batch *t = NULL;
		int rc = mx_store_get_trace(ctx->store, s->trace_ids[i],
					    !ctx->strict_trace_id, max, &t);
		if (rc == MX_OK && t && t->n_spans > 0) {
			found[n_found++] = t;
			continue;
		}
		mx_batch_free(t);
		struct ui_error *e = &errs[n_errs++];
		mx_trace_id_to_hex(s->trace_ids[i], e->trace_id);
		if (rc == MX_OK || rc == MX_ENOTFOUND) {
			snprintf(e->msg, sizeof(e->msg), "trace not found");
		} else if (rc == MX_ENOMEM) {
			hard = true;
			snprintf(e->msg, sizeof(e->msg),
				 "trace too large: more than %u spans",
				 (unsigned)max);
		} else {
			hard = true;
			snprintf(e->msg, sizeof(e->msg),
				 "cannot read trace: %s", mx_strerror(rc));
		}
	}
	unsigned status = 200;
	if (n_found == 0) {
		status = hard ? 500 : 404;
		for (uint32_t i = 0; i < n_errs; i++)
			errs[i].code = status;
		mx_buf_puts(&b, "{\"data\":null");
	} else {
		mx_jaeger_json_begin(&b);
		mx_jaeger_json_encode_traces(
			(const struct mx_batch *const *)found, n_found, &b);
	}
	if (end_with_errors(&b, errs, n_errs) != MX_OK) {
		too_large(req);
		goto out;
	}
	respond_buf(req, status, &b);
out:
	for (uint32_t i = 0; found && i < n_found; i++)
		mx_batch_free(found[i]);
	free(found);
	free(errs);
	mx_buf_free(&b);
}

static void answer_search(struct mx_http_req *req, struct mx_query_ctx *ctx,
			  const struct mx_jaeger_search *s)
{
	struct mx_search_result r = { 0 };
	struct ui_error trunc = { 0 };
	struct mx_buf b;
	char msg[ERR_MSG];

	mx_buf_init(&b, MX_JAEGER_MAX_RESPONSE);
	int rc = mx_store_search(ctx->store, &s->q, &r);
	if (rc == MX_EINVAL) {
		mx_jaeger_errfmt(req, 400, "invalid search window");
		goto out;
	}
	if (rc != MX_OK) {
		snprintf(msg, sizeof(msg), "search failed: %s",
			 mx_strerror(rc));
		mx_jaeger_errfmt(req, 500, msg);
		goto out;
	}
	if (r.truncated)
		snprintf(trunc.msg, sizeof(trunc.msg),
			 "search truncated: the time budget (%u ms) or the "
			 "scan cap ran out before 'limit' traces were found; "
			 "narrow the service, time window or tags",
			 (unsigned)(ctx->query_timeout_ms
					    ? ctx->query_timeout_ms
					    : MX_QUERY_DEFAULT_TIMEOUT_MS));
	mx_jaeger_json_begin(&b);
	mx_jaeger_json_encode_traces((const struct mx_batch *const *)r.traces,
				     r.n, &b);
	if (end_with_errors(&b, &trunc, r.truncated ? 1 : 0) != MX_OK) {
		too_large(req);
		goto out;
	}
	respond_buf(req, 200, &b);
out:
	mx_search_result_free(&r);
	mx_buf_free(&b);
}

void mx_jaeger_handle_search(struct mx_http_req *req, void *ctx_v)
{
	struct mx_query_ctx *ctx = ctx_v;
	struct mx_jaeger_search *s = malloc(sizeof(*s));
	struct mx_arena arena;
	struct mx_params p;
	char err[256];

	mx_arena_init(&arena, PARAM_ARENA);
	if (!s) {
		mx_jaeger_errfmt(req, 503, "out of memory");
		goto out;
	}
	mx_params_from_http(&p, req);
	if (mx_jaeger_search_parse(&p, ctx, mx_now_wall_ns(), &arena, s, err,
				   sizeof(err)) != MX_OK) {
		mx_jaeger_errfmt(req, 400, err);
		goto out;
	}
	if (!ctx->store) {
		mx_jaeger_errfmt(req, 503, "store not available");
		goto out;
	}
	if (s->n_trace_ids)
		answer_ids(req, ctx, s);
	else
		answer_search(req, ctx, s);
out:
	free(s);
	mx_arena_free(&arena);
}
