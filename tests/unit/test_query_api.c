/*
 * test_query_api.c - the Jaeger and Zipkin query APIs (query/) over a real
 * store in a temporary directory: first the mapping of each API's
 * parameters onto mx_search_query and what the store's search then returns
 * for them (service, operation, tags on span and resource, annotationQuery
 * words and pairs, durations, window, limit, newest first); then the
 * handlers end to end through the HTTP framework on loopback sockets: name
 * lists (URL-unescaped service in the path, spanKind filter, Cache-Control
 * past 3 services), search, repeated traceID with missing ids, Zipkin trace
 * by id (64-bit lookup of a 128-bit trace, B3 shared span read back as both
 * halves, 404 text), traceMany rules and autocomplete.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "http_test_util.h"
#include "collector/http.h"
#include "model/error.h"
#include "model/span.h"
#include "query/jaeger_api.h"
#include "query/params.h"
#include "query/zipkin_api.h"
#include "storage/search.h"
#include "storage/store.h"

#define MS 1000000ull
#define MIN (60000ull * MS)

/* ---------------------------------------------------------- fixture */

struct fx {
	char dir[64];
	struct mx_store *st;
	uint64_t now;
	struct mx_query_ctx jctx;
	struct mx_zipkin_query_ctx zctx;
	struct mx_http_server *srv;
	uint16_t jport, zport;
};

static struct fx F;

struct acks {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n, n_ok;
};

static void ack_cb(void *ctx, int status)
{
	struct acks *a = ctx;
	pthread_mutex_lock(&a->mu);
	a->n++;
	a->n_ok += status == MX_OK;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

static struct mx_resource *resource(struct mx_batch *b, const char *svc,
				    const char *env)
{
	struct mx_resource *r = mx_arena_calloc(&b->arena, 1, sizeof(*r));
	struct mx_attr *a = mx_arena_calloc(&b->arena, 2, sizeof(*a));
	assert_non_null(r);
	assert_non_null(a);
	a[0].key = MX_STR_LIT("service.name");
	a[0].value.type = MX_VAL_STRING;
	a[0].value.u.s = mx_batch_str(b, svc, strlen(svc));
	if (env) {
		a[1].key = MX_STR_LIT("env");
		a[1].value.type = MX_VAL_STRING;
		a[1].value.u.s = mx_batch_str(b, env, strlen(env));
	}
	r->attrs = (struct mx_attrs){ a, env ? 2 : 1 };
	return r;
}

static const struct mx_scope scope0;

static void set_id(uint8_t *out, size_t n, uint64_t hi, uint64_t lo)
{
	memset(out, 0, n);
	for (size_t i = 0; i < 8; i++) {
		out[n - 1 - i] = (uint8_t)(lo >> (8 * i));
		if (n == 16)
			out[7 - i] = (uint8_t)(hi >> (8 * i));
	}
}

/* Appends a span; attrs are added with attr_*() (up to 4). */
static struct mx_span *span(struct mx_batch *b, const struct mx_resource *r,
			    uint64_t thi, uint64_t tlo, uint64_t id,
			    uint64_t parent, const char *name, uint8_t kind,
			    uint64_t start, uint64_t dur)
{
	struct mx_span *s = mx_batch_add_span(b);
	assert_non_null(s);
	set_id(s->trace_id, 16, thi, tlo);
	set_id(s->span_id, 8, 0, id);
	set_id(s->parent_span_id, 8, 0, parent);
	s->name = mx_batch_str(b, name, strlen(name));
	s->kind = kind;
	s->start_ns = start;
	s->end_ns = start + dur;
	s->resource = r;
	s->scope = &scope0;
	s->attrs.items = mx_arena_calloc(&b->arena, 4, sizeof(struct mx_attr));
	assert_non_null(s->attrs.items);
	return s;
}

static struct mx_attr *attr(struct mx_batch *b, struct mx_span *s,
			    const char *key)
{
	struct mx_attr *a = &s->attrs.items[s->attrs.n++];
	a->key = mx_batch_str(b, key, strlen(key));
	return a;
}

static void attr_str(struct mx_batch *b, struct mx_span *s, const char *k,
		     const char *v)
{
	struct mx_attr *a = attr(b, s, k);
	a->value.type = MX_VAL_STRING;
	a->value.u.s = mx_batch_str(b, v, strlen(v));
}

static void attr_int(struct mx_batch *b, struct mx_span *s, const char *k,
		     int64_t v)
{
	struct mx_attr *a = attr(b, s, k);
	a->value.type = MX_VAL_INT;
	a->value.u.i = v;
}

/* The data set (now = wall clock):
 *   A 128-bit 1/0xA, frontend (env=prod), now-10m: "GET /home" SERVER 5 ms
 *     (http.method=GET), child "SELECT" CLIENT 2 ms to remote "db"
 *   B 64-bit 0xB, frontend, now-5m: "GET /err" SERVER 50 ms
 *     (http.status_code=500, error=true, event "retry")
 *   C 0xC, "a/b svc", now-20m: "op x" PRODUCER 1 ms
 *   D 0xD, now-2m: "rpc" CLIENT 20 ms from frontend to backend, and the
 *     B3 shared "rpc" SERVER 10 ms of backend, same span id
 *   E 0xE, worker, now-3h: "tick" INTERNAL 1 ms (outside 1 h windows) */
static void load(struct mx_store *st, uint64_t now)
{
	struct acks a = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
			  0, 0 };
	struct mx_batch *bs[3];
	for (int i = 0; i < 3; i++) {
		bs[i] = mx_batch_new(1 << 20);
		assert_non_null(bs[i]);
		assert_int_equal(mx_batch_reserve(bs[i], 8), MX_OK);
	}
	struct mx_batch *b = bs[0];
	struct mx_resource *fe_prod = resource(b, "frontend", "prod");
	struct mx_resource *fe = resource(b, "frontend", NULL);
	struct mx_resource *ab = resource(b, "a/b svc", NULL);
	struct mx_span *s = span(b, fe_prod, 1, 0xA, 1, 0, "GET /home",
				 MX_KIND_SERVER, now - 10 * MIN, 5 * MS);
	attr_str(b, s, "http.method", "GET");
	s = span(b, fe_prod, 1, 0xA, 2, 1, "SELECT", MX_KIND_CLIENT,
		 now - 10 * MIN + MS, 2 * MS);
	s->remote.service_name = MX_STR_LIT("db");
	s = span(b, fe, 0, 0xB, 3, 0, "GET /err", MX_KIND_SERVER,
		 now - 5 * MIN, 50 * MS);
	attr_int(b, s, "http.status_code", 500);
	struct mx_attr *e = attr(b, s, "error");
	e->value.type = MX_VAL_BOOL;
	e->value.u.b = true;
	s->events = mx_arena_calloc(&b->arena, 1, sizeof(*s->events));
	s->events[0].name = MX_STR_LIT("retry");
	s->events[0].time_ns = now - 5 * MIN + MS;
	s->n_events = 1;
	span(b, ab, 0, 0xC, 4, 0, "op x", MX_KIND_PRODUCER, now - 20 * MIN, MS);
	s = span(b, fe, 0, 0xD, 5, 0, "rpc", MX_KIND_CLIENT, now - 2 * MIN,
		 20 * MS);
	s->remote.service_name = MX_STR_LIT("backend");

	/* the shared server half arrives in another request */
	b = bs[1];
	s = span(b, resource(b, "backend", NULL), 0, 0xD, 5, 0, "rpc",
		 MX_KIND_SERVER, now - 2 * MIN + MS, 10 * MS);
	s->mx_flags |= MX_SPAN_F_SHARED;
	b = bs[2];
	span(b, resource(b, "worker", NULL), 0, 0xE, 6, 0, "tick",
	     MX_KIND_INTERNAL, now - 180 * MIN, MS);

	for (int i = 0; i < 3; i++)
		assert_int_equal(mx_store_submit(st, bs[i], ack_cb, &a), MX_OK);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 20;
	pthread_mutex_lock(&a.mu);
	while (a.n < 3 &&
	       pthread_cond_timedwait(&a.cv, &a.mu, &dl) == 0)
		;
	pthread_mutex_unlock(&a.mu);
	assert_int_equal(a.n_ok, 3);
}

static void rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char path[512];
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static int setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	strcpy(F.dir, "/tmp/mixd-test-query-XXXXXX");
	if (!mkdtemp(F.dir))
		return -1;
	struct mx_store_config cfg;
	mx_store_config_default(&cfg);
	cfg.path = F.dir;
	cfg.max_size = 64u << 20;
	cfg.sync = MX_SYNC_NONE;
	cfg.autocomplete_keys = "http.method";
	char err[256];
	if (mx_store_open(&cfg, &F.st, err, sizeof(err)) != MX_OK) {
		fprintf(stderr, "store: %s\n", err);
		return -1;
	}
	F.now = mx_now_wall_ns();
	load(F.st, F.now);

	F.jctx.store = F.st;
	F.zctx.store = F.st;
	F.zctx.autocomplete_keys = "http.method, env,";
	const struct mx_route *jr, *zr;
	size_t nj = mx_jaeger_routes(&F.jctx, &jr);
	size_t nz = mx_zipkin_query_routes(&F.zctx, &zr);
	struct mx_http_limits lim;
	mx_http_limits_default(&lim);
	F.srv = mx_http_new(&lim);
	if (!F.srv ||
	    mx_http_listen(F.srv, "query", "127.0.0.1:0", jr, nj, err,
			   sizeof(err)) != MX_OK ||
	    mx_http_listen(F.srv, "zipkin", "127.0.0.1:0", zr, nz, err,
			   sizeof(err)) != MX_OK ||
	    mx_http_start(F.srv) != MX_OK)
		return -1;
	F.jport = mx_http_port(F.srv, "query");
	F.zport = mx_http_port(F.srv, "zipkin");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mx_http_free(F.srv, 2000);
	mx_store_close(F.st);
	rm_rf(F.dir);
	return 0;
}

/* ---------------------------------------------------------- search */

/* Runs a search and writes the low byte of each trace's id, newest first,
 * as hex digits ("DBA"); "!" + error on failure. */
static void run(const struct mx_search_query *q, char *out, size_t outlen)
{
	struct mx_search_result r = { 0 };
	int rc = mx_store_search(F.st, q, &r);
	if (rc != MX_OK) {
		snprintf(out, outlen, "!%s", mx_strerror(rc));
		return;
	}
	size_t k = 0;
	for (uint32_t i = 0; i < r.n && k + 2 < outlen; i++) {
		assert_true(r.traces[i]->n_spans > 0);
		out[k++] = "0123456789ABCDEF"[r.traces[i]->spans[0].trace_id[15] & 15];
	}
	out[k] = 0;
	assert_false(r.truncated);
	mx_search_result_free(&r);
}

static void jaeger_case(const char *const *kv, const char *want)
{
	static struct mx_jaeger_search s;
	struct mx_arena a;
	struct mx_params p;
	char err[256], got[32];
	mx_arena_init(&a, 1 << 16);
	mx_params_from_pairs(&p, kv);
	int rc = mx_jaeger_search_parse(&p, &F.jctx, F.now, &a, &s, err,
					sizeof(err));
	if (rc != MX_OK)
		fail_msg("parse: %s", err);
	run(&s.q, got, sizeof(got));
	mx_arena_free(&a);
	if (strcmp(got, want) != 0)
		fail_msg("jaeger %s=%s...: got \"%s\", want \"%s\"", kv[0],
			 kv[1], got, want);
}

static void zipkin_case(const char *const *kv, const char *want)
{
	static struct mx_zipkin_search s;
	struct mx_params p;
	char err[256], got[32];
	mx_params_from_pairs(&p, kv);
	if (mx_zipkin_search_parse(&p, &F.zctx, F.now, &s, err,
				   sizeof(err)) != MX_OK)
		fail_msg("parse: %s", err);
	run(&s.q, got, sizeof(got));
	if (strcmp(got, want) != 0)
		fail_msg("zipkin %s=%s...: got \"%s\", want \"%s\"",
			 kv[0] ? kv[0] : "-", kv[0] ? kv[1] : "-", got, want);
}

static void test_jaeger_search_mapping(void **state)
{
	(void)state;
	char start[32];
	snprintf(start, sizeof(start), "%llu",
		 (unsigned long long)((F.now - 7 * MIN) / 1000));
#define J(want, ...) do { static const char *const kv_[] = { __VA_ARGS__, NULL }; \
		jaeger_case(kv_, want); } while (0)
	J("DBA", "service", "frontend");
	J("DB", "service", "frontend", "limit", "2");
	J("A", "service", "frontend", "operation", "GET /home");
	J("B", "service", "frontend", "tags", "{\"http.status_code\":\"500\"}");
	J("B", "service", "frontend", "tag", "error:true");
	J("A", "service", "frontend", "tag", "env:prod"); /* resource tag */
	J("", "service", "frontend", "tag", "env:prod", "tag", "error:true");
	J("B", "service", "frontend", "minDuration", "30ms");
	J("DB", "service", "frontend", "minDuration", "10ms");
	J("A", "service", "frontend", "maxDuration", "3ms");
	J("D", "service", "frontend", "minDuration", "10ms", "maxDuration",
	  "20ms");
	J("D", "service", "backend");
	J("C", "service", "a/b svc");
	J("", "service", "nobody");
	J("E", "service", "worker"); /* 3 h old: inside the 48 h default */
#undef J
	/* the window */
	static const char *kv[] = { "service", "frontend", "start", NULL,
				    NULL };
	kv[3] = start;
	jaeger_case(kv, "DB");
}

static void test_zipkin_search_mapping(void **state)
{
	(void)state;
#define Z(want, ...) do { static const char *const kv_[] = { __VA_ARGS__, NULL }; \
		zipkin_case(kv_, want); } while (0)
	Z("DBA", "serviceName", "frontend");
	Z("DBAC", "lookback", "3600000");
	Z("DBACE", "limit", "100");
	Z("D", "limit", "1");
	Z("A", "serviceName", "frontend", "remoteServiceName", "db");
	Z("D", "remoteServiceName", "backend");
	Z("D", "spanName", "rpc");
	Z("D", "serviceName", "backend", "spanName", "rpc");
	Z("B", "annotationQuery", "error");            /* tag key */
	Z("B", "annotationQuery", "retry");            /* event name */
	Z("B", "annotationQuery", "http.status_code=500 and error");
	Z("A", "annotationQuery", "http.method=GET");
	Z("", "annotationQuery", "http.method=POST");
	Z("", "annotationQuery", "env=prod"); /* resource: not for Zipkin */
	Z("B", "minDuration", "30000");
	Z("A", "serviceName", "frontend", "maxDuration", "3000");
	Z("C", "serviceName", "a/b svc");
#undef Z
	/* endTs and lookback: [now-11m, now-4m] */
	char end[32];
	snprintf(end, sizeof(end), "%llu",
		 (unsigned long long)((F.now - 4 * MIN) / MS));
	static const char *kv[] = { "endTs", NULL, "lookback", "420000",
				    NULL };
	kv[1] = end;
	zipkin_case(kv, "BA");
}

/* ---------------------------------------------------------- HTTP */


static void expect(uint16_t port, const char *path, int status,
		   const char *body_has)
{
	static struct resp r;
	int st = get(port, path, &r);
	if (st != status || (body_has && !strstr(r.body, body_has)))
		fail_msg("GET %s: %d %s (want %d with %s)", path, st, r.body,
			 status, body_has ? body_has : "-");
}

static void expect_body(uint16_t port, const char *path, int status,
			const char *body)
{
	static struct resp r;
	int st = get(port, path, &r);
	if (st != status || strcmp(r.body, body) != 0)
		fail_msg("GET %s: %d %s (want %d with %s)", path, st, r.body,
			 status, body);
}

static void test_jaeger_http(void **state)
{
	(void)state;
	uint16_t p = F.jport;
	static struct resp r;

	assert_int_equal(get(p, "/api/services", &r), 200);
	assert_non_null(strstr(r.body, "\"a/b svc\",\"backend\",\"frontend\""));
	/* the path is URL-unescaped, '/' in a service name included */
	expect_body(p, "/api/services/a%2Fb%20svc/operations", 200,
		    "{\"data\":[\"op x\"],\"total\":1,\"limit\":0,\"offset\":0,"
		    "\"errors\":null}");
	expect(p, "/api/services/frontend/operations", 200,
	       "{\"data\":[\"GET /err\",\"GET /home\",\"SELECT\",\"rpc\"],"
	       "\"total\":4,");
	expect(p, "/api/services/nobody/operations", 200, "{\"data\":[],");
	expect(p, "/api/services/frontend/other", 404, "\"code\":404");
	expect(p, "/api/operations?service=frontend&spanKind=server", 200,
	       "{\"data\":[{\"name\":\"GET /err\",\"spanKind\":\"server\"},"
	       "{\"name\":\"GET /home\",\"spanKind\":\"server\"}],\"total\":2,");
	expect(p, "/api/operations?service=frontend", 200,
	       "{\"name\":\"rpc\",\"spanKind\":\"client\"}],\"total\":4,");
	expect(p, "/api/operations?service=frontend&spanKind=bogus", 400,
	       "spanKind");
	expect(p, "/api/operations", 400, "parameter 'service' is required");

	/* search */
	expect(p, "/api/traces", 400, "parameter 'service' is required");
	assert_int_equal(get(p, "/api/traces?service=frontend&limit=1", &r), 200);
	assert_non_null(strstr(r.body, "\"traceID\":\"000000000000000d\""));
	assert_null(strstr(r.body, "000000000000000b"));
	assert_non_null(strstr(r.body, "\"errors\":null}"));
	assert_int_equal(get(p, "/api/traces?service=frontend&tags="
			     "%7B%22http.status_code%22%3A%22500%22%7D", &r), 200);
	assert_non_null(strstr(r.body, "\"traceID\":\"000000000000000b\""));
	assert_null(strstr(r.body, "000000000000000d"));
	expect(p, "/api/traces?service=frontend&minDuration=2s&maxDuration=1s",
	       400, "'maxDuration' should be greater than 'minDuration'");
	expect(p, "/api/traces?service=frontend&tags=%7B%22a%22%3A1%7D", 400,
	       "malformed 'tags' parameter");

	/* traceID, repeated, one missing */
	assert_int_equal(get(p, "/api/traces?traceID=b&traceID=1000000000000000a"
			     "&traceID=ff", &r), 200);
	assert_non_null(strstr(r.body, "\"traceID\":\"000000000000000b\""));
	assert_non_null(strstr(r.body,
			       "\"traceID\":\"0000000000000001000000000000000a\""));
	assert_non_null(strstr(r.body, "\"errors\":[{\"msg\":\"trace not found\","
			       "\"traceID\":\"00000000000000ff\"}]}"));
	expect(p, "/api/traces?traceID=ff", 404,
	       "\"errors\":[{\"code\":404,\"msg\":\"trace not found\","
	       "\"traceID\":\"00000000000000ff\"}]");
	expect(p, "/api/traces?traceID=zz", 400, "traceID");
	/* by id still works, and other /api/ paths are 404 */
	expect(p, "/api/traces/b", 200, "\"operationName\":\"GET /err\"");
	expect(p, "/api/nothing", 404, "\"code\":404");
}

static void test_zipkin_http(void **state)
{
	(void)state;
	uint16_t p = F.zport;
	static struct resp r;

	/* 4 services (more than 3): Cache-Control from then on */
	assert_int_equal(get(p, "/api/v2/services", &r), 200);
	assert_string_equal(r.body, "[\"a/b svc\",\"backend\",\"frontend\","
				    "\"worker\"]");
	assert_non_null(strcasestr(r.head,
				   "Cache-Control: max-age=300, must-revalidate"));
	assert_non_null(strcasestr(r.head, "Access-Control-Allow-Origin: *"));
	assert_non_null(strcasestr(r.head, "Content-Type: application/json"));
	assert_int_equal(get(p, "/api/v2/spans?serviceName=frontend", &r), 200);
	assert_string_equal(r.body, "[\"GET /err\",\"GET /home\",\"SELECT\","
				    "\"rpc\"]");
	assert_non_null(strcasestr(r.head, "Cache-Control: max-age=300"));
	expect_body(p, "/api/v2/spans", 400, "serviceName is required");
	expect_body(p, "/api/v2/remoteServices?serviceName=frontend", 200,
		    "[\"backend\",\"db\"]");
	expect_body(p, "/api/v2/remoteServices?serviceName=worker", 200, "[]");
	expect_body(p, "/api/v2/autocompleteKeys", 200,
		    "[\"http.method\",\"env\"]");
	expect_body(p, "/api/v2/autocompleteValues?key=http.method", 200,
		    "[\"GET\"]");
	expect_body(p, "/api/v2/autocompleteValues", 400, "key is required");

	/* trace by id: B3 shared span read back as both halves */
	assert_int_equal(get(p, "/api/v2/trace/000000000000000d", &r), 200);
	const char *c = strstr(r.body, "\"kind\":\"CLIENT\"");
	const char *sv = strstr(r.body, "\"kind\":\"SERVER\"");
	assert_non_null(c);
	assert_non_null(sv);
	assert_non_null(strstr(r.body, "\"shared\":true"));
	assert_int_equal(r.body[0], '[');
	/* a 64-bit id finds the 128-bit trace by its low half */
	expect(p, "/api/v2/trace/000000000000000a", 200,
	       "\"traceId\":\"0000000000000001000000000000000a\"");
	expect(p, "/api/v2/trace/0000000000000001000000000000000A", 200,
	       "\"name\":\"SELECT\"");
	assert_int_equal(get(p, "/api/v2/trace/00000000000000ff", &r), 404);
	assert_string_equal(r.body, "00000000000000ff not found");
	assert_non_null(strcasestr(r.head, "Content-Type: text/plain"));
	expect(p, "/api/v2/trace/abc", 400, "traceId");
	expect(p, "/api/v2/trace/000000000000000g", 400, "traceId");

	/* traceMany */
	assert_int_equal(get(p, "/api/v2/traceMany?traceIds=000000000000000b,"
			     "000000000000000c,00000000000000ff", &r), 200);
	assert_true(strncmp(r.body, "[[", 2) == 0);
	assert_non_null(strstr(r.body, "\"name\":\"GET /err\""));
	assert_non_null(strstr(r.body, "\"name\":\"op x\""));
	assert_non_null(strstr(r.body, "]]"));
	expect(p, "/api/v2/traceMany?traceIds=000000000000000b", 400,
	       "single trace");
	expect(p, "/api/v2/traceMany?traceIds=000000000000000b,"
	       "000000000000000B", 400, "redundant");
	expect(p, "/api/v2/traceMany?traceIds=000000000000000b,", 400, "empty");
	expect(p, "/api/v2/traceMany", 400, "empty");

	/* search */
	assert_int_equal(get(p, "/api/v2/traces?serviceName=frontend&"
			     "annotationQuery=error", &r), 200);
	assert_true(strncmp(r.body, "[[{", 3) == 0);
	assert_non_null(strstr(r.body, "\"traceId\":\"000000000000000b\""));
	assert_null(strstr(r.body, "000000000000000d"));
	assert_null(strcasestr(r.head, MX_ZIPKIN_TRUNCATED_HEADER));
	expect_body(p, "/api/v2/traces?serviceName=nobody", 200, "[]");
	expect(p, "/api/v2/traces?limit=0", 400, "limit");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jaeger_search_mapping),
		cmocka_unit_test(test_zipkin_search_mapping),
		cmocka_unit_test(test_jaeger_http),
		cmocka_unit_test(test_zipkin_http),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
