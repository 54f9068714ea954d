/*
 * bench_ceilings.c - the ceilings of the ingest path, measured on this
 * machine: how fast the bare libraries go, with no HTTP and no mixd logic.
 *
 * On the same bodies bench_ingest sends (bench/body.h: 512 spans of 20
 * attributes each), single-threaded and bounded in time:
 *   - protobuf-c unpack of the ExportTraceServiceRequest (default allocator);
 *   - mixd's model decoders mx_otlp_decode_proto/json, when codec/ has them;
 *   - jansson parse of the OTLP/JSON text, and of the same spans as a
 *     Zipkin v2 JSON list; mixd's mx_zipkin_json_decode of that list, when
 *     codec/ has it (bench/run.sh compares Zipkin ingest with the bare
 *     jansson rate of the same bodies: goal >= 80 %);
 *   - LMDB commits of 512 encoded spans (~900 bytes) per transaction: under
 *     append-ordered 8-byte keys with MDB_APPEND (full sync and no sync),
 *     plus one 24-byte trace-id index entry per trace, and under random
 *     16-byte keys, in a fresh environment under --dir each time.
 * Every rate is spans per second. Each result is also printed as one line
 * `result name=<n> spans_per_s=<v>` for bench/run.sh.
 *
 * Usage: bench_ceilings [--seconds S] [--dir D] [--batch N] [--bodies K]
 */
#include <errno.h>
#include <jansson.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../codec/otlp.h"
#include "../codec/zipkin.h"
#include "../model/error.h"
#include "body.h"

/* The model decoders are measured once codec/ implements them. */
#if defined(__has_include)
#if __has_include("../codec/otlp_decode.c")
#define HAVE_MX_PROTO_DECODE 1
#endif
#if __has_include("../codec/otlp_json_decode.c")
#define HAVE_MX_JSON_DECODE 1
#endif
#if __has_include("../codec/zipkin_json_decode.c")
#define HAVE_MX_ZIPKIN_JSON_DECODE 1
#endif
#endif

#define LMDB_MAP (6ull << 30)       /* map size of each temp environment */
#define LMDB_MAX_BYTES (3ull << 30) /* stop a run after this much data */
#define LMDB_WARMUP 16              /* transactions before timing starts */

struct opts {
	double seconds;
	const char *dir;
	uint32_t batch;
	uint32_t bodies;
};

static struct bench_body *g_bodies;
static uint32_t g_nbodies;

static void report(const char *name, const char *label, uint64_t spans,
		   double secs, const char *extra)
{
	double rate = secs > 0 ? (double)spans / secs : 0;

	printf("  %-44s %10.0f spans/s  (%llu spans in %.2f s%s%s)\n", label, rate,
	       (unsigned long long)spans, secs, extra ? "; " : "", extra ? extra : "");
	printf("result name=%s spans_per_s=%.0f\n", name, rate);
	fflush(stdout);
}

static void bench_unpack(const struct opts *o)
{
	uint64_t spans = 0;
	double t0 = bench_now(), t = t0;

	for (uint64_t i = 0; t - t0 < o->seconds && i < 100000000; i++) {
		const struct bench_body *b = &g_bodies[i % g_nbodies];
		bench_req *r = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
			NULL, b->proto_len, b->proto);

		if (!r) {
			printf("  protobuf-c unpack failed\n");
			return;
		}
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(r, NULL);
		spans += b->n_spans;
		t = bench_now();
	}
	report("pb_unpack", "protobuf-c unpack (default allocator)", spans, t - t0, NULL);
}

/* jansson on the OTLP/JSON bodies, or on the Zipkin v2 JSON bodies. */
static void bench_jansson(const struct opts *o, int zipkin)
{
	uint64_t spans = 0;
	double t0 = bench_now(), t = t0;

	for (uint64_t i = 0; t - t0 < o->seconds && i < 100000000; i++) {
		const struct bench_body *b = &g_bodies[i % g_nbodies];
		json_error_t err;
		json_t *j = zipkin ? json_loadb(b->zjson, b->zjson_len, 0, &err)
				   : json_loadb(b->json, b->json_len, 0, &err);

		if (!j) {
			printf("  jansson parse failed: %s\n", err.text);
			return;
		}
		json_decref(j);
		spans += b->n_spans;
		t = bench_now();
	}
	if (zipkin)
		report("zipkin_json_parse", "jansson parse of Zipkin v2 JSON", spans, t - t0, NULL);
	else
		report("json_parse", "jansson parse (json_loadb)", spans, t - t0, NULL);
}

#ifdef HAVE_MX_ZIPKIN_JSON_DECODE
/* mixd's Zipkin v2 JSON decoder on the Zipkin bodies, into a model batch. */
static void bench_zipkin_model(const struct opts *o)
{
	struct mx_decode_limits lim;
	uint64_t spans = 0;
	double t0 = bench_now(), t = t0;

	mx_decode_limits_default(&lim);
	for (uint64_t i = 0; t - t0 < o->seconds && i < 100000000; i++) {
		const struct bench_body *b = &g_bodies[i % g_nbodies];
		struct mx_batch *batch = mx_batch_new(256u << 20);
		struct mx_errmsg err = { .set = 0 };
		int rc = batch ? mx_zipkin_json_decode(b->zjson, b->zjson_len, &lim, batch, &err)
			       : MX_ENOMEM;

		if (rc != MX_OK || batch->n_spans != b->n_spans) {
			printf("  mx_zipkin_json_decode failed: %s (%s)\n", mx_strerror(rc),
			       err.set ? err.text : "span count differs");
			mx_batch_free(batch);
			return;
		}
		spans += batch->n_spans;
		mx_batch_free(batch);
		t = bench_now();
	}
	report("mx_decode_zipkin_json", "mx_zipkin_json_decode -> model batch", spans, t - t0,
	       NULL);
}
#endif

#if defined(HAVE_MX_PROTO_DECODE) || defined(HAVE_MX_JSON_DECODE)
/* Decodes every body through mixd's decoder `json` or proto into a model
 * batch, as the receiver does (arena cap 256 MiB). */
static void bench_model(const struct opts *o, int json)
{
	struct mx_decode_limits lim;
	uint64_t spans = 0, rejected = 0;
	double t0 = bench_now(), t = t0;

	mx_decode_limits_default(&lim);
	for (uint64_t i = 0; t - t0 < o->seconds && i < 100000000; i++) {
		const struct bench_body *b = &g_bodies[i % g_nbodies];
		struct mx_batch *batch = mx_batch_new(256u << 20);
		struct mx_errmsg err = { .set = 0 };
		int rc = MX_ENOMEM;

		if (batch) {
#ifdef HAVE_MX_PROTO_DECODE
			if (!json)
				rc = mx_otlp_decode_proto(b->proto, b->proto_len, &lim, batch, &err);
#endif
#ifdef HAVE_MX_JSON_DECODE
			if (json)
				rc = mx_otlp_decode_json(b->json, b->json_len, &lim, batch, &err);
#endif
		}
		if (rc != MX_OK || batch->n_spans + batch->rejected_spans != b->n_spans) {
			printf("  mx_otlp_decode_%s failed: %s (%s)\n", json ? "json" : "proto",
			       mx_strerror(rc), err.set ? err.text : "span count differs");
			mx_batch_free(batch);
			return;
		}
		spans += batch->n_spans;
		rejected += batch->rejected_spans;
		mx_batch_free(batch);
		t = bench_now();
	}
	char extra[64];
	snprintf(extra, sizeof(extra), "%llu rejected", (unsigned long long)rejected);
	report(json ? "mx_decode_json" : "mx_decode_proto",
	       json ? "mx_otlp_decode_json -> model batch" : "mx_otlp_decode_proto -> model batch",
	       spans, t - t0, extra);
}
#endif

enum lmdb_mode { L_APPEND, L_APPEND_IDX, L_RANDOM };

static void rm_env(const char *d)
{
	char p[4096 + 16];

	snprintf(p, sizeof(p), "%s/data.mdb", d);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", d);
	unlink(p);
	rmdir(d);
}

/* Commits 512 spans per transaction into a fresh environment until the time
 * or the byte bound; reports spans/s and the mean commit (sync) time. */
static void bench_lmdb(const struct opts *o, enum lmdb_mode mode, int nosync,
		       const char *name, const char *label)
{
	char dir[4096], extra[160];
	MDB_env *env = NULL;
	MDB_dbi dbi, idx;
	uint64_t spans = 0, bytes = 0, seq = 0, txns = 0, rnd = 42;
	double t0, t, commit_s = 0;
	int rc;

	snprintf(dir, sizeof(dir), "%s/mxbench-lmdb-XXXXXX", o->dir);
	if (!mkdtemp(dir)) {
		printf("  %s: mkdtemp in %s: %s\n", label, o->dir, strerror(errno));
		return;
	}
	if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_mapsize(env, LMDB_MAP)) ||
	    (rc = mdb_env_set_maxdbs(env, 4)) ||
	    (rc = mdb_env_open(env, dir, nosync ? MDB_NOSYNC : 0, 0644))) {
		printf("  %s: lmdb: %s\n", label, mdb_strerror(rc));
		goto out;
	}
	{
		MDB_txn *txn;

		if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) ||
		    (rc = mdb_dbi_open(txn, "spans", MDB_CREATE, &dbi)) ||
		    (rc = mdb_dbi_open(txn, "traces", MDB_CREATE, &idx)) ||
		    (rc = mdb_txn_commit(txn))) {
			printf("  %s: lmdb: %s\n", label, mdb_strerror(rc));
			goto out;
		}
	}
	t0 = t = bench_now();
	/* the first LMDB_WARMUP transactions (file growth) are not counted */
	for (uint64_t i = 0; t - t0 < o->seconds && bytes < LMDB_MAX_BYTES && i < 10000000; i++) {
		if (i == LMDB_WARMUP) {
			t0 = t = bench_now();
			spans = bytes = txns = 0;
			commit_s = 0;
		}
		const struct bench_body *b = &g_bodies[i % g_nbodies];
		MDB_txn *txn;

		if ((rc = mdb_txn_begin(env, NULL, 0, &txn))) {
			printf("  %s: txn_begin: %s\n", label, mdb_strerror(rc));
			goto out;
		}
		for (uint32_t k = 0; k < b->n_spans && !rc; k++) {
			uint8_t kb[16];
			MDB_val key = { 8, kb }, val = { b->span_lens[k], b->span_values[k] };

			if (mode == L_RANDOM) {
				bench_put64(kb, bench_rand(&rnd));
				bench_put64(kb + 8, bench_rand(&rnd));
				key.mv_size = 16;
				rc = mdb_put(txn, dbi, &key, &val, 0);
			} else {
				bench_put64(kb, ++seq);
				rc = mdb_put(txn, dbi, &key, &val, MDB_APPEND);
			}
			bytes += val.mv_size;
		}
		/* one index entry per trace: random trace id + first sequence */
		for (uint32_t k = 0; mode == L_APPEND_IDX && k < b->n_traces && !rc; k++) {
			uint8_t kb[24];
			MDB_val key = { 24, kb }, val = { 0, kb };

			bench_put64(kb, bench_rand(&rnd));
			bench_put64(kb + 8, bench_rand(&rnd));
			bench_put64(kb + 16, seq);
			rc = mdb_put(txn, idx, &key, &val, 0);
		}
		if (rc) {
			mdb_txn_abort(txn);
			if (rc != MDB_MAP_FULL)
				printf("  %s: put: %s\n", label, mdb_strerror(rc));
			break;
		}
		double c0 = bench_now();
		if ((rc = mdb_txn_commit(txn))) {
			printf("  %s: commit: %s\n", label, mdb_strerror(rc));
			break;
		}
		t = bench_now();
		commit_s += t - c0;
		spans += b->n_spans;
		txns++;
	}
	snprintf(extra, sizeof(extra), "%.2f ms/txn of which commit %.2f ms, %.0f MiB",
		 txns ? (t - t0) * 1e3 / (double)txns : 0, txns ? commit_s * 1e3 / (double)txns : 0,
		 (double)bytes / 1048576.0);
	report(name, label, spans, t - t0, extra);
out:
	mdb_env_close(env);
	rm_env(dir);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	const char *tmp = getenv("TMPDIR");

	o->seconds = 2;
	o->dir = tmp && *tmp ? tmp : "/tmp";
	o->batch = 512;
	o->bodies = 16;
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v) {
			fprintf(stderr, "bench_ceilings: %s needs a value\n", a);
			return -1;
		}
		if (!strcmp(a, "--seconds"))
			o->seconds = atof(v);
		else if (!strcmp(a, "--dir"))
			o->dir = v;
		else if (!strcmp(a, "--batch"))
			o->batch = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--bodies"))
			o->bodies = (uint32_t)strtoul(v, NULL, 10);
		else {
			fprintf(stderr, "usage: bench_ceilings [--seconds S] [--dir D] "
					"[--batch N] [--bodies K]\n");
			return -1;
		}
	}
	if (strlen(o->dir) > 4000 || o->seconds <= 0 || o->seconds > 600 || o->batch < 1 || o->batch > 100000 ||
	    o->bodies < 1 || o->bodies > 1024) {
		fprintf(stderr, "bench_ceilings: out-of-range option\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	char machine[320];
	size_t pb = 0, js = 0, zj = 0;
	int ret = 1;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	g_bodies = calloc(o.bodies, sizeof(*g_bodies));
	if (!g_bodies)
		return 1;
	for (uint32_t i = 0; i < o.bodies; i++, g_nbodies++) {
		if (bench_body_make(&g_bodies[i], o.batch, i + 1) < 0) {
			fprintf(stderr, "bench_ceilings: cannot build bodies\n");
			goto out;
		}
		pb += g_bodies[i].proto_len;
		js += g_bodies[i].json_len;
		zj += g_bodies[i].zjson_len;
	}
	bench_machine(machine, sizeof(machine));
	printf("ceilings: machine %s\n", machine);
	printf("ceilings: %u bodies of %u spans (20 attributes), protobuf %.0f B/span, "
	       "JSON %.0f B/span, Zipkin JSON %.0f B/span, single thread, %.1f s per "
	       "measurement\n", o.bodies, o.batch, (double)pb / o.bodies / o.batch,
	       (double)js / o.bodies / o.batch, (double)zj / o.bodies / o.batch, o.seconds);
	fflush(stdout);

	bench_unpack(&o);
#ifdef HAVE_MX_PROTO_DECODE
	bench_model(&o, 0);
#else
	printf("  mx_otlp_decode_proto: not built yet (codec/otlp_decode.c missing)\n");
#endif
	bench_jansson(&o, 0);
#ifdef HAVE_MX_JSON_DECODE
	bench_model(&o, 1);
#else
	printf("  mx_otlp_decode_json: not built yet (codec/otlp_json_decode.c missing)\n");
#endif
	bench_jansson(&o, 1);
#ifdef HAVE_MX_ZIPKIN_JSON_DECODE
	bench_zipkin_model(&o);
#else
	printf("  mx_zipkin_json_decode: not built yet (codec/zipkin_json_decode.c missing)\n");
#endif
	bench_lmdb(&o, L_APPEND, 0, "lmdb_append_full", "LMDB append 8-byte keys, full sync");
	bench_lmdb(&o, L_APPEND_IDX, 0, "lmdb_append_idx_full",
		   "LMDB append + trace index, full sync");
	bench_lmdb(&o, L_RANDOM, 0, "lmdb_random_full", "LMDB random 16-byte keys, full sync");
	bench_lmdb(&o, L_APPEND, 1, "lmdb_append_none", "LMDB append 8-byte keys, no sync");
	ret = 0;
out:
	for (uint32_t i = 0; i < g_nbodies; i++)
		bench_body_free(&g_bodies[i]);
	free(g_bodies);
	return ret;
}
