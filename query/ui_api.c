/*
 * ui_api.c - GET /api/namespaces for the web UI (ui_api.h): one read of
 * the metrics rollups over the window, the namespace labels of every
 * series collected into a sorted, de-duplicated, capped list, written as
 * Kiali's namespace list.
 */
#include "ui_api.h"

#include <stdlib.h>
#include <string.h>

#include "../codec/json_util.h"
#include "../model/error.h"
#include "../model/metrics.h"
#include "../storage/metrics.h"

#define CT_JSON "application/json"
#define DEFAULT_WINDOW "1h"
#define MAX_RESPONSE (4u * 1024 * 1024)
#define MAX_ERROR_BODY 1024u

/* the labels read: source workload, destination workload and destination
 * service namespaces (the same index in the request and TCP label lists) */
static const char *const ns_labels[] = {
	"source_workload_namespace", "destination_workload_namespace",
	"destination_service_namespace",
};
#define N_NS_LABELS (sizeof(ns_labels) / sizeof(ns_labels[0]))

struct ns_set {
	char **names; /* sorted */
	size_t n;
	bool truncated;
	bool nomem;
	int idx[N_NS_LABELS];
};

static int cmp_str(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* Adds one name (not NUL-terminated) unless present. */
static void set_add(struct ns_set *s, const char *p, size_t len)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_str(p, len, s->names[mid]);
		if (c == 0)
			return;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (s->n >= MX_UI_MAX_NAMESPACES) {
		s->truncated = true;
		return;
	}
	char *copy = malloc(len + 1);
	if (!copy) {
		s->nomem = true;
		return;
	}
	memcpy(copy, p, len);
	copy[len] = '\0';
	memmove(s->names + lo + 1, s->names + lo, (s->n - lo) * sizeof(*s->names));
	s->names[lo] = copy;
	s->n++;
}

static int on_series(void *ctx, const struct mx_rollup_series *rs)
{
	struct ns_set *s = ctx;
	for (size_t i = 0; i < N_NS_LABELS; i++) {
		const struct mx_str *v = &rs->labels[s->idx[i]];
		if (v->len == 0 || (v->len == 7 && memcmp(v->ptr, "unknown", 7) == 0))
			continue;
		set_add(s, v->ptr, v->len);
		if (s->nomem)
			return MX_ENOMEM;
	}
	return MX_OK;
}

static unsigned fail(struct mx_buf *out, unsigned status, const char *msg)
{
	mx_buf_reset(out);
	mx_buf_puts(out, "{\"error\":");
	mx_json_put_str(out, msg, strlen(msg));
	mx_buf_putc(out, '}');
	return status;
}

unsigned mx_ui_namespaces_answer(struct mx_store *st, const struct mx_params *p,
				 uint64_t now_ns, struct mx_buf *out,
				 bool *truncated)
{
	struct ns_set s;
	uint64_t window = 0;
	unsigned status = 200;
	const char *d = mx_param(p, "duration");
	memset(&s, 0, sizeof(s));
	*truncated = false;
	if (mx_parse_go_duration(d ? d : DEFAULT_WINDOW, &window) != MX_OK || window == 0)
		return fail(out, 400, "invalid duration");
	for (size_t i = 0; i < N_NS_LABELS; i++) {
		s.idx[i] = -1;
		for (int j = 0; j < MX_ISTIO_TCP_LABELS; j++)
			if (strcmp(mx_istio_http_label_names[j], ns_labels[i]) == 0)
				s.idx[i] = j;
		if (s.idx[i] < 0)
			return fail(out, 500, "label table without namespaces");
	}
	s.names = calloc(MX_UI_MAX_NAMESPACES, sizeof(*s.names));
	if (!s.names)
		return fail(out, 500, "out of memory");
	uint64_t t0 = now_ns > window ? now_ns - window : 0;
	int rc = mx_store_rollup_window(st, t0, now_ns, on_series, &s);
	if (rc != MX_OK) {
		status = fail(out, 500, rc == MX_ENOMEM ? "out of memory"
			      : "cannot read the metrics store");
		goto done;
	}
	mx_buf_putc(out, '[');
	for (size_t i = 0; i < s.n; i++) {
		mx_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
		mx_json_put_str(out, s.names[i], strlen(s.names[i]));
		mx_buf_putc(out, '}');
	}
	mx_buf_putc(out, ']');
	if (out->failed)
		status = fail(out, 500, "response too large");
	*truncated = s.truncated;
done:
	for (size_t i = 0; i < s.n; i++)
		free(s.names[i]);
	free(s.names);
	return status;
}

static void handle(struct mx_http_req *req, void *ctx_v)
{
	struct mx_ui_api_ctx *ctx = ctx_v;
	struct mx_params p;
	struct mx_buf b;
	size_t len = 0;
	bool truncated = false;
	static const char *const trunc_hdr[] = { "X-Mixd-Truncated", "true", NULL };
	mx_params_from_http(&p, req);
	mx_buf_init(&b, MAX_RESPONSE);
	unsigned status = mx_ui_namespaces_answer(ctx->store, &p,
						  ctx->now_ns ? ctx->now_ns() : mx_now_wall_ns(),
						  &b, &truncated);
	if (b.failed) { /* even the error JSON did not fit: cannot happen */
		mx_buf_free(&b);
		mx_http_respond(req, 500, CT_JSON, "{\"error\":\"response too large\"}", 31, NULL);
		return;
	}
	uint8_t *data = mx_buf_steal(&b, &len);
	mx_http_respond_owned(req, status, CT_JSON, data, len, truncated ? trunc_hdr : NULL);
	mx_buf_free(&b);
}

static void errfmt(struct mx_http_req *req, unsigned status, const char *msg)
{
	struct mx_buf b;
	size_t len = 0;
	mx_buf_init(&b, MAX_ERROR_BODY);
	fail(&b, status, msg);
	if (b.failed)
		fail(&b, status, "error");
	uint8_t *data = mx_buf_steal(&b, &len);
	mx_http_respond_owned(req, status, CT_JSON, data, len, NULL);
	mx_buf_free(&b);
}

size_t mx_ui_api_routes(struct mx_ui_api_ctx *ctx, const struct mx_route **out)
{
	ctx->routes[0] = (struct mx_route){
		.method = "GET", .path = "/api/namespaces", .flags = 0,
		.fn = handle, .ctx = ctx, .errfmt = errfmt,
	};
	*out = ctx->routes;
	return MX_UI_API_N_ROUTES;
}
