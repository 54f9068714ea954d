/*
 * body.h - the request bodies every ingest benchmark sends or decodes.
 *
 * Header-only (static functions) because each bench/bench_*.c is its own
 * binary and the Makefile links benchmarks only with the core archive.
 *
 * bench_body_make() builds one ExportTraceServiceRequest with protobuf-c's
 * generated structs: `n_spans` spans spread over 4 resources (services), one
 * scope each, in traces of 8 to 32 spans (a root server span and children),
 * each span with 20 attributes of realistic keys and values (13 strings, 5
 * ints, a bool and a double), about 900 bytes per span once encoded. It
 * packs the request as binary protobuf and writes the same request as
 * OTLP/JSON, and records where every trace id sits in each encoding, so a
 * sender can give every request fresh trace ids by patching 16 bytes (or 32
 * hex digits) per occurrence instead of re-encoding the body.
 *
 * The same spans are also written as a Zipkin v2 JSON list (what
 * @opentelemetry/exporter-zipkin sends: every attribute as a string tag,
 * the status as tags otel.status_code and error, localEndpoint.serviceName
 * from the resource) for the Zipkin ingest benchmarks.
 *
 * Trace ids are generated as "MXBT" + 4-byte trace index + 8 random bytes;
 * the marker makes them findable in both encodings with one linear scan and
 * the full 16 bytes are then checked against the table.
 *
 * Also here: the clock and the machine description both benchmarks print.
 */
#ifndef MX_BENCH_BODY_H
#define MX_BENCH_BODY_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../model/arena.h"
#include "../model/buf.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#define BENCH_UNUSED __attribute__((unused))

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
	bench_req;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans bench_rs;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans bench_ss;
typedef Opentelemetry__Proto__Trace__V1__Span bench_span;
typedef Opentelemetry__Proto__Common__V1__KeyValue bench_kv;
typedef Opentelemetry__Proto__Common__V1__AnyValue bench_any;

#define BENCH_N_RES 4
#define BENCH_ATTRS 20

/* Where the trace ids are in one encoding of a body. */
struct bench_idmap {
	uint32_t *offs;  /* byte offset of each occurrence, grouped by trace */
	uint32_t *first; /* n_traces + 1 entries: offs[first[t] .. first[t+1]) */
};

/* The encodings of a body (bench_body_patch() takes one). */
enum bench_enc { BENCH_ENC_PROTO = 0, BENCH_ENC_JSON = 1, BENCH_ENC_ZIPKIN = 2 };

/* One generated request in every encoding. */
struct bench_body {
	uint32_t n_spans;
	uint32_t n_traces;
	uint8_t *proto; /* binary ExportTraceServiceRequest */
	size_t proto_len;
	char *json;     /* OTLP/JSON text of the same request */
	size_t json_len;
	char *zjson;    /* Zipkin v2 JSON list of the same spans */
	size_t zjson_len;
	struct bench_idmap proto_ids; /* 16 raw bytes at each offset */
	struct bench_idmap json_ids;  /* 32 lower-case hex digits at each offset */
	struct bench_idmap zjson_ids; /* 32 lower-case hex digits at each offset */
	uint8_t (*trace_ids)[16];     /* the ids as generated */
	uint8_t **span_values;        /* each span packed alone (store values) */
	size_t *span_lens;
};

/* splitmix64: the only randomness, seeded, so runs are reproducible. */
static BENCH_UNUSED uint64_t bench_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static BENCH_UNUSED void bench_put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static BENCH_UNUSED char *bench_strdup(struct mx_arena *a, const char *fmt,
				      ...) __attribute__((format(printf, 2, 3)));
static BENCH_UNUSED char *bench_strdup(struct mx_arena *a, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(tmp))
		n = (int)sizeof(tmp) - 1;
	return mx_arena_strndup(a, tmp, (size_t)n);
}

static BENCH_UNUSED bench_kv *bench_kv_new(struct mx_arena *a, const char *key,
					   int type)
{
	bench_kv *kv = mx_arena_alloc(a, sizeof(*kv));
	bench_any *v = mx_arena_alloc(a, sizeof(*v));

	if (!kv || !v)
		return NULL;
	opentelemetry__proto__common__v1__key_value__init(kv);
	opentelemetry__proto__common__v1__any_value__init(v);
	kv->key = (char *)(uintptr_t)key;
	kv->value = v;
	v->value_case = (Opentelemetry__Proto__Common__V1__AnyValue__ValueCase)type;
	return kv;
}

#define BENCH_STR OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE
#define BENCH_BOOL OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE
#define BENCH_INT OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE
#define BENCH_DBL OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE

static const char *const bench_services[BENCH_N_RES] = {
	"frontend", "checkout", "cart", "payment"
};
static const char *const bench_methods[4] = { "GET", "POST", "PUT", "DELETE" };
static const char *const bench_paths[6] = {
	"/api/v2/orders/{id}/items", "/api/v2/cart/{id}", "/api/v1/payments/{id}",
	"/api/v2/products/{id}/reviews", "/api/v1/users/{id}/session",
	"/api/v2/shipping/{id}/quote"
};

/* Fills the 20 attributes of one span. Returns 0 or -1 (arena cap). */
static BENCH_UNUSED int bench_attrs(struct mx_arena *a, bench_span *sp,
				    uint64_t *rnd, unsigned svc, unsigned peer)
{
	bench_kv **kv = mx_arena_alloc(a, BENCH_ATTRS * sizeof(*kv));
	uint64_t r = bench_rand(rnd), r2 = bench_rand(rnd);
	unsigned m = (unsigned)(r & 3), p = (unsigned)((r >> 2) % 6);
	unsigned id = (unsigned)(r >> 8);
	int i = 0;

	if (!kv)
		return -1;
#define KV(key, type) (kv[i] = bench_kv_new(a, key, type), kv[i] ? kv[i++]->value : NULL)
	bench_any *v;
	if ((v = KV("http.method", BENCH_STR)))
		v->string_value = (char *)(uintptr_t)bench_methods[m];
	if ((v = KV("http.url", BENCH_STR)))
		v->string_value = bench_strdup(a,
			"https://%s.shop.example.com:8443%.*s%08x?page=%u&limit=50",
			bench_services[peer], (int)(strchr(bench_paths[p], '{') - bench_paths[p]),
			bench_paths[p], id, (unsigned)(r2 & 31));
	if ((v = KV("http.target", BENCH_STR)))
		v->string_value = bench_strdup(a, "%.*s%08x",
			(int)(strchr(bench_paths[p], '{') - bench_paths[p]), bench_paths[p], id);
	if ((v = KV("http.route", BENCH_STR)))
		v->string_value = (char *)(uintptr_t)bench_paths[p];
	if ((v = KV("http.host", BENCH_STR)))
		v->string_value = bench_strdup(a, "%s.shop.example.com:8443", bench_services[peer]);
	if ((v = KV("http.scheme", BENCH_STR)))
		v->string_value = (char *)(uintptr_t)"https";
	if ((v = KV("http.status_code", BENCH_INT)))
		v->int_value = (r2 >> 8) % 50 == 0 ? 503 : 200;
	if ((v = KV("http.flavor", BENCH_STR)))
		v->string_value = (char *)(uintptr_t)"1.1";
	if ((v = KV("http.user_agent", BENCH_STR)))
		v->string_value = (char *)(uintptr_t)
			"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/118.0 Safari/537.36";
	if ((v = KV("http.request_content_length", BENCH_INT)))
		v->int_value = (int64_t)((r2 >> 16) % 4096);
	if ((v = KV("http.response_content_length", BENCH_INT)))
		v->int_value = (int64_t)((r2 >> 28) % 65536);
	if ((v = KV("net.peer.name", BENCH_STR)))
		v->string_value = bench_strdup(a, "%s-7d9f8b6c5-%05x.%s.svc",
			bench_services[peer], (unsigned)(r2 >> 40) & 0xfffff, bench_services[peer]);
	if ((v = KV("net.peer.ip", BENCH_STR)))
		v->string_value = bench_strdup(a, "10.%u.%u.%u", (unsigned)(r >> 40) & 255,
			(unsigned)(r >> 48) & 255, (unsigned)(r >> 56));
	if ((v = KV("net.peer.port", BENCH_INT)))
		v->int_value = 8443;
	if ((v = KV("net.host.name", BENCH_STR)))
		v->string_value = bench_strdup(a, "%s-5c8d7f9b4-%05x", bench_services[svc],
			(unsigned)(r2 >> 12) & 0xfffff);
	if ((v = KV("thread.id", BENCH_INT)))
		v->int_value = (int64_t)((r >> 20) % 200);
	if ((v = KV("guid:x-request-id", BENCH_STR)))
		v->string_value = bench_strdup(a, "%08x-%04x-4%03x-a%03x-%012llx",
			(unsigned)r2, (unsigned)(r >> 16) & 0xffff, (unsigned)(r >> 32) & 0xfff,
			(unsigned)(r >> 44) & 0xfff,
			(unsigned long long)(bench_rand(rnd) & 0xffffffffffffull));
	if ((v = KV("upstream_cluster", BENCH_STR)))
		v->string_value = bench_strdup(a, "outbound|8443||%s.shop.svc.cluster.local",
			bench_services[peer]);
	if ((v = KV("sampled", BENCH_BOOL)))
		v->bool_value = 1;
	if ((v = KV("upstream.duration_ms", BENCH_DBL)))
		v->double_value = (double)(r2 % 100000) / 100.0;
#undef KV
	if (i != BENCH_ATTRS)
		return -1;
	for (int k = 0; k < i; k++)
		if (kv[k]->value->value_case == BENCH_STR && !kv[k]->value->string_value)
			return -1;
	sp->attributes = kv;
	sp->n_attributes = (size_t)i;
	return 0;
}

/* Scans `buf` for the trace ids of `b` in one encoding. `json`: ids are 32
 * hex digits after `"traceId":"`; else 16 bytes after the tag 0x0a 0x10.
 * Returns 0, or -1 when the count differs from n_spans (a generator bug). */
static BENCH_UNUSED int bench_find_ids(struct bench_body *b, const uint8_t *buf,
				       size_t len, int json, struct bench_idmap *m)
{
	static const char hexmark[] = "\"traceId\":\"4d584254"; /* "MXBT" */
	uint32_t *cnt = calloc(b->n_traces + 1, sizeof(*cnt));
	uint32_t *tr = calloc(b->n_spans + 1, sizeof(*tr));
	uint32_t *at = calloc(b->n_spans + 1, sizeof(*at));
	uint32_t n = 0;
	int rc = -1;

	m->offs = calloc(b->n_spans + 1, sizeof(*m->offs));
	m->first = calloc(b->n_traces + 1, sizeof(*m->first));
	if (!cnt || !tr || !at || !m->offs || !m->first)
		goto out;
	for (size_t i = 0; i + 34 < len && n <= b->n_spans; i++) {
		uint8_t id[16];
		size_t off;

		if (json) {
			if (buf[i] != '"' || memcmp(buf + i, hexmark, sizeof(hexmark) - 1))
				continue;
			off = i + 11;
			if (off + 32 > len)
				break;
			for (int k = 0; k < 16; k++) {
				unsigned v;
				if (sscanf((const char *)buf + off + 2 * k, "%2x", &v) != 1)
					goto out;
				id[k] = (uint8_t)v;
			}
		} else {
			if (buf[i] != 0x0a || buf[i + 1] != 0x10 || memcmp(buf + i + 2, "MXBT", 4))
				continue;
			off = i + 2;
			memcpy(id, buf + off, 16);
		}
		uint32_t t = (uint32_t)id[4] << 24 | (uint32_t)id[5] << 16 |
			     (uint32_t)id[6] << 8 | id[7];
		if (t >= b->n_traces || memcmp(id, b->trace_ids[t], 16))
			continue;
		if (n == b->n_spans) {
			n++;
			break;
		}
		tr[n] = t;
		at[n] = (uint32_t)off;
		cnt[t]++;
		n++;
	}
	if (n != b->n_spans)
		goto out;
	for (uint32_t t = 0; t < b->n_traces; t++)
		m->first[t + 1] = m->first[t] + cnt[t];
	memset(cnt, 0, (b->n_traces + 1) * sizeof(*cnt));
	for (uint32_t k = 0; k < n; k++)
		m->offs[m->first[tr[k]] + cnt[tr[k]]++] = at[k];
	rc = 0;
out:
	free(cnt);
	free(tr);
	free(at);
	return rc;
}

static BENCH_UNUSED void bench_json_any(struct mx_buf *o, const bench_any *v)
{
	switch (v->value_case) {
	case BENCH_STR:
		mx_buf_puts(o, "{\"stringValue\":\"");
		mx_buf_json_escape(o, v->string_value, strlen(v->string_value));
		mx_buf_puts(o, "\"}");
		break;
	case BENCH_INT:
		mx_buf_printf(o, "{\"intValue\":\"%lld\"}", (long long)v->int_value);
		break;
	case BENCH_BOOL:
		mx_buf_printf(o, "{\"boolValue\":%s}", v->bool_value ? "true" : "false");
		break;
	case BENCH_DBL:
		mx_buf_printf(o, "{\"doubleValue\":%.17g}", v->double_value);
		break;
	default:
		mx_buf_puts(o, "{}");
		break;
	}
}

static BENCH_UNUSED void bench_json_attrs(struct mx_buf *o, bench_kv **kv, size_t n)
{
	mx_buf_puts(o, "\"attributes\":[");
	for (size_t i = 0; i < n; i++) {
		mx_buf_printf(o, "%s{\"key\":\"", i ? "," : "");
		mx_buf_json_escape(o, kv[i]->key, strlen(kv[i]->key));
		mx_buf_puts(o, "\",\"value\":");
		bench_json_any(o, kv[i]->value);
		mx_buf_putc(o, '}');
	}
	mx_buf_putc(o, ']');
}

static BENCH_UNUSED void bench_json_hex(struct mx_buf *o, const uint8_t *p, size_t n)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		mx_buf_putc(o, (uint8_t)hx[p[i] >> 4]);
		mx_buf_putc(o, (uint8_t)hx[p[i] & 15]);
	}
}

/* Writes `req` as OTLP/JSON (camelCase keys, 64-bit integers as strings). */
static BENCH_UNUSED void bench_json_req(struct mx_buf *o, const bench_req *req)
{
	mx_buf_puts(o, "{\"resourceSpans\":[");
	for (size_t r = 0; r < req->n_resource_spans; r++) {
		const bench_rs *rs = req->resource_spans[r];

		mx_buf_puts(o, r ? ",{\"resource\":{" : "{\"resource\":{");
		bench_json_attrs(o, rs->resource->attributes, rs->resource->n_attributes);
		mx_buf_puts(o, "},\"scopeSpans\":[");
		for (size_t s = 0; s < rs->n_scope_spans; s++) {
			const bench_ss *ss = rs->scope_spans[s];

			mx_buf_printf(o, "%s{\"scope\":{\"name\":\"%s\",\"version\":\"%s\"},\"spans\":[",
				      s ? "," : "", ss->scope->name, ss->scope->version);
			for (size_t k = 0; k < ss->n_spans; k++) {
				const bench_span *sp = ss->spans[k];

				mx_buf_puts(o, k ? ",{\"traceId\":\"" : "{\"traceId\":\"");
				bench_json_hex(o, sp->trace_id.data, 16);
				mx_buf_puts(o, "\",\"spanId\":\"");
				bench_json_hex(o, sp->span_id.data, 8);
				if (sp->parent_span_id.len == 8) {
					mx_buf_puts(o, "\",\"parentSpanId\":\"");
					bench_json_hex(o, sp->parent_span_id.data, 8);
				}
				mx_buf_puts(o, "\",\"name\":\"");
				mx_buf_json_escape(o, sp->name, strlen(sp->name));
				mx_buf_printf(o, "\",\"kind\":%d,\"startTimeUnixNano\":\"%llu\","
					      "\"endTimeUnixNano\":\"%llu\",", (int)sp->kind,
					      (unsigned long long)sp->start_time_unix_nano,
					      (unsigned long long)sp->end_time_unix_nano);
				bench_json_attrs(o, sp->attributes, sp->n_attributes);
				mx_buf_printf(o, ",\"status\":{\"code\":%d", (int)sp->status->code);
				if (sp->status->message[0]) {
					mx_buf_puts(o, ",\"message\":\"");
					mx_buf_json_escape(o, sp->status->message,
							   strlen(sp->status->message));
					mx_buf_putc(o, '"');
				}
				mx_buf_puts(o, "}}");
			}
			mx_buf_puts(o, "]}");
		}
		mx_buf_puts(o, "]}");
	}
	mx_buf_puts(o, "]}");
}

/* A tag value as the OpenTelemetry JS Zipkin exporter writes it (String()). */
static BENCH_UNUSED void bench_zipkin_tag(struct mx_buf *o, const bench_kv *kv)
{
	const bench_any *v = kv->value;

	mx_buf_putc(o, '"');
	mx_buf_json_escape(o, kv->key, strlen(kv->key));
	mx_buf_puts(o, "\":\"");
	switch (v->value_case) {
	case BENCH_STR:
		mx_buf_json_escape(o, v->string_value, strlen(v->string_value));
		break;
	case BENCH_INT:
		mx_buf_printf(o, "%lld", (long long)v->int_value);
		break;
	case BENCH_BOOL:
		mx_buf_puts(o, v->bool_value ? "true" : "false");
		break;
	case BENCH_DBL:
		mx_buf_printf(o, "%.15g", v->double_value);
		break;
	default:
		break;
	}
	mx_buf_putc(o, '"');
}

/* Writes the spans of `req` as a Zipkin v2 JSON list: lower-hex ids, kind
 * SERVER/CLIENT, µs timestamp and duration, localEndpoint.serviceName from
 * the resource's service.name (its first attribute), attributes and status
 * as string tags. */
static BENCH_UNUSED void bench_zipkin_req(struct mx_buf *o, const bench_req *req)
{
	int first = 1;

	mx_buf_putc(o, '[');
	for (size_t r = 0; r < req->n_resource_spans; r++) {
		const bench_rs *rs = req->resource_spans[r];
		const char *svc = rs->resource->attributes[0]->value->string_value;

		for (size_t s = 0; s < rs->n_scope_spans; s++) {
			const bench_ss *ss = rs->scope_spans[s];

			for (size_t k = 0; k < ss->n_spans; k++) {
				const bench_span *sp = ss->spans[k];
				uint64_t st = sp->start_time_unix_nano / 1000;

				mx_buf_puts(o, first ? "{\"traceId\":\"" : ",{\"traceId\":\"");
				first = 0;
				bench_json_hex(o, sp->trace_id.data, 16);
				if (sp->parent_span_id.len == 8) {
					mx_buf_puts(o, "\",\"parentId\":\"");
					bench_json_hex(o, sp->parent_span_id.data, 8);
				}
				mx_buf_puts(o, "\",\"id\":\"");
				bench_json_hex(o, sp->span_id.data, 8);
				mx_buf_printf(o, "\",\"kind\":\"%s\",\"name\":\"",
					      sp->kind == 3 ? "CLIENT" : "SERVER");
				mx_buf_json_escape(o, sp->name, strlen(sp->name));
				mx_buf_printf(o, "\",\"timestamp\":%llu,\"duration\":%llu,"
					      "\"localEndpoint\":{\"serviceName\":\"%s\"},\"tags\":{",
					      (unsigned long long)st,
					      (unsigned long long)(sp->end_time_unix_nano / 1000 - st),
					      svc);
				for (size_t a = 0; a < sp->n_attributes; a++) {
					if (a)
						mx_buf_putc(o, ',');
					bench_zipkin_tag(o, sp->attributes[a]);
				}
				mx_buf_printf(o, ",\"otel.status_code\":\"%s\"",
					      sp->status->code == 2 ? "ERROR" : "OK");
				if (sp->status->code == 2 && sp->status->message[0]) {
					mx_buf_puts(o, ",\"error\":\"");
					mx_buf_json_escape(o, sp->status->message,
							   strlen(sp->status->message));
					mx_buf_putc(o, '"');
				}
				mx_buf_puts(o, "}}");
			}
		}
	}
	mx_buf_putc(o, ']');
}

/* Releases what bench_body_make() allocated. Accepts NULL. */
static BENCH_UNUSED void bench_body_free(struct bench_body *b)
{
	if (!b)
		return;
	free(b->proto);
	free(b->json);
	free(b->zjson);
	free(b->zjson_ids.offs);
	free(b->zjson_ids.first);
	free(b->proto_ids.offs);
	free(b->proto_ids.first);
	free(b->json_ids.offs);
	free(b->json_ids.first);
	free(b->trace_ids);
	if (b->span_values)
		for (uint32_t i = 0; i < b->n_spans; i++)
			free(b->span_values[i]);
	free(b->span_values);
	free(b->span_lens);
	memset(b, 0, sizeof(*b));
}

/* Builds body `b` (zeroed by the caller) with `n_spans` spans from `seed`.
 * Returns 0, or -1 on allocation failure (b is then released). */
static BENCH_UNUSED int bench_body_make(struct bench_body *b, uint32_t n_spans,
					uint64_t seed)
{
	struct mx_arena a;
	struct mx_buf js, zj;
	uint64_t rnd = seed * 0x2545f4914f6cdd1dull + 1;
	bench_req req;
	bench_rs rs[BENCH_N_RES];
	bench_rs *rsp[BENCH_N_RES];
	bench_ss ss[BENCH_N_RES];
	bench_ss *ssp[BENCH_N_RES];
	Opentelemetry__Proto__Resource__V1__Resource res[BENCH_N_RES];
	Opentelemetry__Proto__Common__V1__InstrumentationScope scope;
	uint64_t t0 = 1700000000000000000ull + (seed % 1000) * 1000000000ull;
	int rc = -1;

	mx_arena_init(&a, (size_t)n_spans * 16384 + (1u << 20));
	mx_buf_init(&js, (size_t)n_spans * 8192 + (1u << 20));
	mx_buf_init(&zj, (size_t)n_spans * 8192 + (1u << 20));
	b->n_spans = n_spans;
	b->trace_ids = calloc(n_spans + 1, 16);
	b->span_values = calloc(n_spans + 1, sizeof(*b->span_values));
	b->span_lens = calloc(n_spans + 1, sizeof(*b->span_lens));
	bench_span **spans = mx_arena_calloc(&a, n_spans + 1, sizeof(*spans));
	unsigned *svc_of = mx_arena_calloc(&a, n_spans + 1, sizeof(*svc_of));
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&req);
	opentelemetry__proto__common__v1__instrumentation_scope__init(&scope);
	if (!b->trace_ids || !b->span_values || !b->span_lens || !spans || !svc_of)
		goto out;
	scope.name = (char *)(uintptr_t)"io.opentelemetry.javaagent.http";
	scope.version = (char *)(uintptr_t)"1.31.0";

	/* traces of 8..32 spans: a server root, children alternating client/server
	 * across the 4 services; one in 50 spans ends in error */
	uint32_t n = 0;
	while (n < n_spans) {
		uint32_t size = 8 + (uint32_t)(bench_rand(&rnd) % 25);
		uint32_t t = b->n_traces++;
		uint8_t *tid = b->trace_ids[t];
		uint64_t tstart = t0 + (uint64_t)t * 1000000;

		memcpy(tid, "MXBT", 4);
		tid[4] = (uint8_t)(t >> 24);
		tid[5] = (uint8_t)(t >> 16);
		tid[6] = (uint8_t)(t >> 8);
		tid[7] = (uint8_t)t;
		bench_put64(tid + 8, bench_rand(&rnd));
		if (size > n_spans - n)
			size = n_spans - n;
		for (uint32_t k = 0; k < size; k++, n++) {
			bench_span *sp = mx_arena_alloc(&a, sizeof(*sp));
			Opentelemetry__Proto__Trace__V1__Status *st = mx_arena_alloc(&a, sizeof(*st));
			uint8_t *sid = mx_arena_alloc(&a, 8);
			unsigned svc = k == 0 ? 0 : 1 + (unsigned)(bench_rand(&rnd) % 3);
			unsigned peer = (svc + 1) % BENCH_N_RES;
			uint64_t r = bench_rand(&rnd);

			if (!sp || !st || !sid)
				goto out;
			opentelemetry__proto__trace__v1__span__init(sp);
			opentelemetry__proto__trace__v1__status__init(st);
			bench_put64(sid, r | 1);
			sp->trace_id.data = tid;
			sp->trace_id.len = 16;
			sp->span_id.data = sid;
			sp->span_id.len = 8;
			if (k > 0) {
				/* parent: the root or one of the earlier spans */
				uint32_t pk = (uint32_t)(bench_rand(&rnd) % k);
				sp->parent_span_id = spans[n - k + pk]->span_id;
			}
			sp->flags = 0x101;
			sp->kind = k == 0 || (k & 1) ? 2 : 3; /* SERVER / CLIENT */
			sp->name = bench_strdup(&a, "%s %s", bench_methods[r & 3],
						bench_paths[(r >> 2) % 6]);
			sp->start_time_unix_nano = tstart + k * 20000 + (r >> 40) % 10000;
			sp->end_time_unix_nano = sp->start_time_unix_nano + 1000 +
						 (r >> 20) % 5000000;
			sp->status = st;
			if ((r >> 8) % 50 == 0) {
				st->code = 2;
				st->message = (char *)(uintptr_t)"upstream connect error or disconnect/reset before headers";
			} else {
				st->code = 1;
			}
			if (!sp->name || bench_attrs(&a, sp, &rnd, svc, peer) < 0)
				goto out;
			spans[n] = sp;
			svc_of[n] = svc;
		}
	}

	for (unsigned r = 0; r < BENCH_N_RES; r++) {
		bench_kv **kv = mx_arena_alloc(&a, 6 * sizeof(*kv));
		uint32_t cnt = 0;

		if (!kv)
			goto out;
		opentelemetry__proto__resource__v1__resource__init(&res[r]);
		opentelemetry__proto__trace__v1__resource_spans__init(&rs[r]);
		opentelemetry__proto__trace__v1__scope_spans__init(&ss[r]);
		const char *rk[6] = { "service.name", "service.version", "host.name",
				      "k8s.pod.name", "k8s.namespace.name", "telemetry.sdk.language" };
		for (int i = 0; i < 6; i++) {
			kv[i] = bench_kv_new(&a, rk[i], BENCH_STR);
			if (!kv[i])
				goto out;
		}
		kv[0]->value->string_value = (char *)(uintptr_t)bench_services[r];
		kv[1]->value->string_value = (char *)(uintptr_t)"2.4.1";
		kv[2]->value->string_value = bench_strdup(&a, "node-%u.cluster.local", r);
		kv[3]->value->string_value = bench_strdup(&a, "%s-5c8d7f9b4-%05x", bench_services[r],
							  (unsigned)(seed & 0xfffff));
		kv[4]->value->string_value = (char *)(uintptr_t)"shop";
		kv[5]->value->string_value = (char *)(uintptr_t)"java";
		res[r].attributes = kv;
		res[r].n_attributes = 6;
		for (uint32_t i = 0; i < n_spans; i++)
			cnt += svc_of[i] == r;
		ss[r].scope = &scope;
		ss[r].spans = mx_arena_calloc(&a, cnt + 1, sizeof(*ss[r].spans));
		if (!ss[r].spans)
			goto out;
		for (uint32_t i = 0; i < n_spans; i++)
			if (svc_of[i] == r)
				ss[r].spans[ss[r].n_spans++] = spans[i];
		ssp[r] = &ss[r];
		rs[r].resource = &res[r];
		rs[r].scope_spans = &ssp[r];
		rs[r].n_scope_spans = 1;
		rsp[r] = &rs[r];
	}
	req.resource_spans = rsp;
	req.n_resource_spans = BENCH_N_RES;

	b->proto_len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(&req);
	b->proto = malloc(b->proto_len + 1);
	if (!b->proto)
		goto out;
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req, b->proto);
	for (uint32_t i = 0; i < n_spans; i++) {
		b->span_lens[i] = opentelemetry__proto__trace__v1__span__get_packed_size(spans[i]);
		b->span_values[i] = malloc(b->span_lens[i] + 1);
		if (!b->span_values[i])
			goto out;
		opentelemetry__proto__trace__v1__span__pack(spans[i], b->span_values[i]);
	}
	bench_json_req(&js, &req);
	if (js.failed)
		goto out;
	b->json = (char *)mx_buf_steal(&js, &b->json_len);
	if (!b->json)
		goto out;
	bench_zipkin_req(&zj, &req);
	if (zj.failed)
		goto out;
	b->zjson = (char *)mx_buf_steal(&zj, &b->zjson_len);
	if (!b->zjson)
		goto out;
	if (bench_find_ids(b, b->proto, b->proto_len, 0, &b->proto_ids) < 0 ||
	    bench_find_ids(b, (const uint8_t *)b->json, b->json_len, 1, &b->json_ids) < 0 ||
	    bench_find_ids(b, (const uint8_t *)b->zjson, b->zjson_len, 1, &b->zjson_ids) < 0) {
		fprintf(stderr, "bench: trace id scan mismatch (generator bug)\n");
		goto out;
	}
	rc = 0;
out:
	mx_arena_free(&a);
	mx_buf_free(&js);
	mx_buf_free(&zj);
	if (rc < 0)
		bench_body_free(b);
	return rc;
}

/* Writes fresh trace ids into one encoding (enum bench_enc) of `b` in
 * place: trace t of request `seq` from stream `stream` gets a unique
 * non-zero id. */
static BENCH_UNUSED void bench_body_patch(const struct bench_body *b, uint8_t *buf,
					  int enc, uint64_t stream, uint64_t seq)
{
	static const char hx[] = "0123456789abcdef";
	const struct bench_idmap *m = enc == BENCH_ENC_ZIPKIN ? &b->zjson_ids
				      : enc == BENCH_ENC_JSON ? &b->json_ids : &b->proto_ids;
	int json = enc != BENCH_ENC_PROTO;
	uint64_t s = stream * 0x9e3779b97f4a7c15ull ^ seq * 0xd1b54a32d192ed03ull;

	for (uint32_t t = 0; t < b->n_traces; t++) {
		uint8_t id[16];
		char hex[32];

		bench_put64(id, bench_rand(&s) | 1);
		bench_put64(id + 8, bench_rand(&s));
		if (json)
			for (int k = 0; k < 16; k++) {
				hex[2 * k] = hx[id[k] >> 4];
				hex[2 * k + 1] = hx[id[k] & 15];
			}
		for (uint32_t k = m->first[t]; k < m->first[t + 1]; k++) {
			if (json)
				memcpy(buf + m->offs[k], hex, 32);
			else
				memcpy(buf + m->offs[k], id, 16);
		}
	}
}

/* Monotonic time in seconds. */
static BENCH_UNUSED double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Writes "<cpu model name>, <n> cores" into out (from /proc/cpuinfo). */
static BENCH_UNUSED void bench_machine(char *out, size_t outlen)
{
	char line[512], model[256] = "unknown cpu";
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (strncmp(line, "model name", 10) || !c)
			continue;
		c++;
		while (*c == ' ' || *c == '\t')
			c++;
		c[strcspn(c, "\n")] = 0;
		snprintf(model, sizeof(model), "%s", c);
		break;
	}
	if (f)
		fclose(f);
	snprintf(out, outlen, "%s, %ld cores", model, sysconf(_SC_NPROCESSORS_ONLN));
}

#endif
