/*
 * bench_report.c - native report ingest, measured in label-set updates:
 * how many request aggregates (one label set's deltas of one interval)
 * mixd decodes and applies per second, and per core.
 *
 * Workload: --instances reporter instances (pods of one deployment) each
 * send reports of --series request series over the same label sets (as
 * pods of one workload do), every histogram filled, Bookinfo-like label
 * values; each report has the next sequence of its instance.
 *  1. decode: mx_report_decode() of the packed bodies on one thread.
 *  2. ingest: --threads threads decode and hand reports to a real store
 *     (full sync, fresh temp directory) with mx_store_submit_report(),
 *     at most 64 reports in flight; the writer applies them in group
 *     commits. Counted are updates whose commit completed. Per core =
 *     updates / (user + system CPU seconds of the process), so the
 *     figure holds whatever the number of cores. A second line splits
 *     that CPU time into the writer thread's and the other threads'
 *     (decode and submit), with the commits, reports per commit and
 *     page faults per report of the run.
 * Goal: >= 2 000 000 label-set updates/s per core.
 * Each result is also printed as `result name=report_<what> ...`.
 *
 * Usage: bench_report [--seconds S] [--series N] [--instances N]
 *                     [--threads N]
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mixd/report.pb-c.h"

#include "codec/report.h"
#include "model/error.h"
#include "storage/metrics.h"
#include "storage/store.h"

typedef Mixd__Report__V1__Report pb_report;

static double seconds = 5;
static unsigned n_series = 1000, n_inst = 8, n_threads = 1;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long minor_faults(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds of this process' threads named `comm` (into *named) and of
 * all the others (into *other), from /proc/self/task: the per-thread split
 * of the ingest figure. */
static void thread_cpu(const char *comm, double *named, double *other)
{
	double tick = (double)sysconf(_SC_CLK_TCK);
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	*named = *other = 0;
	while (d && (e = readdir(d))) {
		char path[300], buf[1024];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = 0;
		char *open = strchr(buf, '('), *close = strrchr(buf, ')');
		unsigned long ut = 0, stt = 0;
		if (!open || !close ||
		    sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			   &ut, &stt) != 2)
			continue;
		*close = 0;
		double c = (double)(ut + stt) / tick;
		if (!strcmp(open + 1, comm))
			*named += c;
		else
			*other += c;
	}
	if (d)
		closedir(d);
}

/* One packed report of instance `inst` with sequence `seq`. */
static uint8_t *make_report(unsigned inst, uint64_t seq, size_t *len)
{
	Mixd__Report__V1__Workload me;
	Mixd__Report__V1__Workload *peers = calloc(n_series, sizeof(*peers));
	Mixd__Report__V1__Series *ser = calloc(n_series, sizeof(*ser));
	Mixd__Report__V1__RequestDelta *req = calloc(n_series, sizeof(*req));
	Mixd__Report__V1__RequestDelta **reqp = calloc(n_series, sizeof(*reqp));
	char **strs = calloc(16 + 3 * (size_t)n_series, sizeof(*strs));
	static uint64_t dur[20] = { [3] = 5, [4] = 3, [6] = 1, [8] = 1 };
	static uint64_t bytes[20] = { [7] = 4, [9] = 4, [10] = 2 };
	uint8_t iid[16];
	pb_report r;
	uint32_t ns = 0;
	mixd__report__v1__workload__init(&me);
	mixd__report__v1__report__init(&r);
	if (!peers || !ser || !req || !reqp || !strs) {
		fprintf(stderr, "bench_report: out of memory\n");
		exit(1);
	}
#define STR(s) (strs[ns] = (s), ns++)
	STR(strdup(""));
	uint32_t s_me = STR(strdup("productpage-v1"));
	uint32_t s_ns = STR(strdup("bookinfo"));
	uint32_t s_app = STR(strdup("productpage"));
	uint32_t s_v1 = STR(strdup("v1"));
	uint32_t s_http = STR(strdup("http"));
	uint32_t s_flags = STR(strdup("-"));
	uint32_t s_mtls = STR(strdup("mutual_tls"));
	uint32_t s_pr = STR(strdup("spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage"));
	me.workload = s_me;
	me.namespace_ = s_ns;
	me.app = s_app;
	me.version = s_v1;
	me.canonical_service = s_app;
	me.canonical_revision = s_v1;
	me.principal = s_pr;
	for (unsigned i = 0; i < n_series; i++) {
		char b[128];
		mixd__report__v1__workload__init(&peers[i]);
		snprintf(b, sizeof(b), "reviews-v%u", i);
		peers[i].workload = STR(strdup(b));
		peers[i].namespace_ = s_ns;
		snprintf(b, sizeof(b), "reviews-%u", i);
		peers[i].app = STR(strdup(b));
		peers[i].version = s_v1;
		peers[i].canonical_service = peers[i].app;
		peers[i].canonical_revision = s_v1;
		snprintf(b, sizeof(b), "reviews-%u.bookinfo.svc.cluster.local", i);
		mixd__report__v1__series__init(&ser[i]);
		ser[i].role = MIXD__REPORT__V1__ROLE__ROLE_SOURCE;
		ser[i].peer = &peers[i];
		ser[i].destination_service = STR(strdup(b));
		ser[i].destination_service_name = peers[i].app;
		ser[i].destination_service_namespace = s_ns;
		ser[i].request_protocol = s_http;
		ser[i].response_code = 200;
		ser[i].response_flags = s_flags;
		ser[i].connection_security_policy = s_mtls;
		mixd__report__v1__request_delta__init(&req[i]);
		req[i].series = &ser[i];
		req[i].count = 10;
		req[i].n_duration_buckets = 20;
		req[i].duration_buckets = dur;
		req[i].duration_sum = 161;
		req[i].n_request_bytes_buckets = 20;
		req[i].request_bytes_buckets = bytes;
		req[i].request_bytes_sum = 6400;
		req[i].n_response_bytes_buckets = 20;
		req[i].response_bytes_buckets = bytes;
		req[i].response_bytes_sum = 6400;
		reqp[i] = &req[i];
	}
#undef STR
	memset(iid, 0, sizeof(iid));
	iid[0] = (uint8_t)inst;
	iid[1] = 0xbe;
	r.instance_id = (ProtobufCBinaryData){ 16, iid };
	r.sequence = seq;
	r.strings = strs;
	r.n_strings = ns;
	r.reporter = &me;
	r.requests = reqp;
	r.n_requests = n_series;
	*len = mixd__report__v1__report__get_packed_size(&r);
	uint8_t *out = malloc(*len);
	if (!out)
		exit(1);
	mixd__report__v1__report__pack(&r, out);
	for (uint32_t i = 0; i < ns; i++)
		free(strs[i]);
	free(strs);
	free(peers);
	free(ser);
	free(req);
	free(reqp);
	return out;
}

/* --- ingest through the store --- */

struct ingest {
	struct mx_store *st;
	atomic_uint_fast64_t committed_updates;
	atomic_int inflight;
	atomic_bool stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned next_thread;
	unsigned ready; /* threads with their bodies built */
	bool go;
};

static void on_commit(void *ctx, int status)
{
	struct ingest *in = ctx;
	if (status == MX_OK)
		atomic_fetch_add(&in->committed_updates, n_series);
	pthread_mutex_lock(&in->mu);
	atomic_fetch_sub(&in->inflight, 1);
	pthread_cond_signal(&in->cv);
	pthread_mutex_unlock(&in->mu);
}

#define SEQ_BASE (1ull << 56) /* every sequence from here packs to 9 bytes */

/* Offset of the sequence varint in a body packed with SEQ_BASE. */
static size_t seq_offset(const uint8_t *b, size_t len)
{
	for (size_t i = 0; i + 10 <= len; i++)
		if (b[i] == 0x10 && b[i + 1] == 0x80 && b[i + 8] == 0x80 && b[i + 9] == 0x01)
			return i + 1;
	fprintf(stderr, "bench_report: sequence not found\n");
	exit(1);
}

static void patch_seq(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 7)
		p[i] = (uint8_t)(v | 0x80);
	p[8] = (uint8_t)v;
}

static void *ingest_thread(void *arg)
{
	struct ingest *in = arg;
	struct mx_decode_limits lim;
	mx_decode_limits_default(&lim);
	pthread_mutex_lock(&in->mu);
	unsigned t = in->next_thread++;
	pthread_mutex_unlock(&in->mu);
	/* each thread owns its instances, so sequences stay ordered; the
	 * bodies are built once, only their sequence changes */
	uint8_t *bodies[256];
	size_t lens[256], offs[256];
	for (unsigned i = t; i < n_inst; i += n_threads) {
		bodies[i] = make_report(i, SEQ_BASE, &lens[i]);
		offs[i] = seq_offset(bodies[i], lens[i]);
	}
	pthread_mutex_lock(&in->mu);
	in->ready++;
	pthread_cond_broadcast(&in->cv);
	while (!in->go)
		pthread_cond_wait(&in->cv, &in->mu);
	pthread_mutex_unlock(&in->mu);
	uint64_t seq = SEQ_BASE;
	while (!atomic_load(&in->stop)) {
		for (unsigned i = t; i < n_inst && !atomic_load(&in->stop); i += n_threads) {
			pthread_mutex_lock(&in->mu);
			while (atomic_load(&in->inflight) >= 64 && !atomic_load(&in->stop))
				pthread_cond_wait(&in->cv, &in->mu);
			pthread_mutex_unlock(&in->mu);
			size_t len = lens[i];
			uint8_t *body = bodies[i];
			patch_seq(body + offs[i], seq);
			struct mx_batch *b = mx_batch_new(len * 16 + (1u << 20));
			struct mx_report *rep = NULL;
			struct mx_errmsg err = { .set = 0 };
			if (!b || mx_report_decode(body, len, &lim, b, &rep, &err) != MX_OK) {
				fprintf(stderr, "bench_report: decode failed\n");
				exit(1);
			}
			atomic_fetch_add(&in->inflight, 1);
			int rc;
			while ((rc = mx_store_submit_report(in->st, b, rep, on_commit, in)) == MX_EBUSY)
				usleep(100);
			if (rc != MX_OK) {
				fprintf(stderr, "bench_report: submit: %s\n", mx_strerror(rc));
				exit(1);
			}
		}
		seq++;
	}
	for (unsigned i = t; i < n_inst; i += n_threads)
		free(bodies[i]);
	return NULL;
}

int main(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--series"))
			n_series = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--instances"))
			n_inst = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--threads"))
			n_threads = (unsigned)atoi(argv[i + 1]);
	}
	if (!n_series || !n_inst || n_inst > 256 || !n_threads || n_threads > 16 ||
	    seconds <= 0) {
		fprintf(stderr, "usage: bench_report [--seconds S] [--series N] [--instances N] [--threads N]\n");
		return 2;
	}

	/* 1. decode only */
	struct mx_decode_limits lim;
	mx_decode_limits_default(&lim);
	size_t len;
	uint8_t *body = make_report(0, 1, &len);
	uint64_t n = 0, t0 = now_ns(), end = t0 + (uint64_t)(seconds / 2 * 1e9);
	double c0 = cpu_s();
	while (now_ns() < end) {
		struct mx_batch *b = mx_batch_new(len * 16 + (1u << 20));
		struct mx_report *rep;
		struct mx_errmsg err = { .set = 0 };
		if (!b || mx_report_decode(body, len, &lim, b, &rep, &err) != MX_OK) {
			fprintf(stderr, "bench_report: decode failed: %s\n", err.text);
			return 1;
		}
		mx_batch_free(b);
		n += n_series;
	}
	double dt = (double)(now_ns() - t0) / 1e9, dc = cpu_s() - c0;
	printf("report decode: %u series per report (%zu bytes): %.0f updates/s (%.0f per CPU second)\n",
	       n_series, len, (double)n / dt, (double)n / dc);
	printf("result name=report_decode updates_per_s=%.0f updates_per_cpu_s=%.0f\n",
	       (double)n / dt, (double)n / dc);
	free(body);

	/* 2. ingest through a store */
	char dir[] = "/tmp/mixd-bench-report-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	struct mx_store_config cfg;
	mx_store_config_default(&cfg);
	cfg.path = dir;
	cfg.max_size = 4ull << 30;
	char err[256] = "";
	static struct ingest in;
	pthread_mutex_init(&in.mu, NULL);
	pthread_cond_init(&in.cv, NULL);
	if (mx_store_open(&cfg, &in.st, err, sizeof(err)) != MX_OK) {
		fprintf(stderr, "bench_report: open: %s\n", err);
		return 1;
	}
	pthread_t th[16];
	for (unsigned i = 0; i < n_threads; i++)
		pthread_create(&th[i], NULL, ingest_thread, &in);
	pthread_mutex_lock(&in.mu);
	while (in.ready < n_threads)
		pthread_cond_wait(&in.cv, &in.mu);
	in.go = true;
	pthread_cond_broadcast(&in.cv);
	pthread_mutex_unlock(&in.mu);
	double w0, o0, w1, o1;
	struct mx_store_stats ss0, ss1;
	thread_cpu("mixd-writer", &w0, &o0);
	mx_store_get_stats(in.st, &ss0);
	long f0 = minor_faults();
	c0 = cpu_s();
	t0 = now_ns();
	uint64_t deadline = t0 + (uint64_t)(seconds * 1e9);
	while (now_ns() < deadline)
		usleep(10000);
	uint64_t done = atomic_load(&in.committed_updates);
	dt = (double)(now_ns() - t0) / 1e9;
	dc = cpu_s() - c0;
	thread_cpu("mixd-writer", &w1, &o1);
	mx_store_get_stats(in.st, &ss1);
	long faults = minor_faults() - f0;
	atomic_store(&in.stop, true);
	pthread_mutex_lock(&in.mu);
	pthread_cond_broadcast(&in.cv);
	pthread_mutex_unlock(&in.mu);
	for (unsigned i = 0; i < n_threads; i++)
		pthread_join(th[i], NULL);
	mx_store_close(in.st); /* commits and answers the rest */
	printf("report ingest (full sync, %u instances x %u series, %u submit thread%s): "
	       "%.0f updates/s committed, %.0f per CPU second (CPU %.2f s of %.2f s wall)\n",
	       n_inst, n_series, n_threads, n_threads == 1 ? "" : "s",
	       (double)done / dt, (double)done / dc, dc, dt);
	uint64_t commits = ss1.commits - ss0.commits;
	printf("  split: writer thread %.2f CPU s (%.0f ns per update), other threads (decode, "
	       "submit) %.2f CPU s "
	       "(%.0f ns per update); %llu commits, %.1f reports per commit; "
	       "%.2f page faults per report\n",
	       w1 - w0, done ? (w1 - w0) * 1e9 / (double)done : 0, o1 - o0,
	       done ? (o1 - o0) * 1e9 / (double)done : 0, (unsigned long long)commits,
	       commits ? (double)(ss1.committed_batches - ss0.committed_batches) / (double)commits : 0,
	       done ? (double)faults * n_series / (double)done : 0);
	printf("result name=report_ingest updates_per_s=%.0f updates_per_cpu_s=%.0f goal_per_core=2000000\n",
	       (double)done / dt, (double)done / dc);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_report: could not remove %s\n", dir);
	return 0;
}
