/*
 * mixd_report.c - `mixd-report`: records synthetic or scripted traffic
 * through libmixd and ships it to a mixd, for demos, tests and benchmarks.
 *
 * Synthetic mode: --rate requests per second (0: as fast as possible) for
 * --duration seconds (or --count requests in all) over
 * the --series label sets (weighted), with log-normal latencies and sizes
 * given by their p50 and p99, a share of errors (the same labels with code
 * 500; a series' count includes its errors) and optionally sampled spans
 * (--span-ratio: that share of the requests is traced: each records a span
 * and the request itself with the span's trace and span id, which the
 * report carries as the series' exemplar; TCP series record the span only).
 * Deterministic for a given --seed: the sequence of requests does not
 * depend on timing (trace ids are random).
 * Script mode (--script FILE), one command per line, '#' comments:
 *   series NAME SPEC                    define a series (SPEC as --series)
 *   record NAME COUNT MS REQ_BYTES RESP_BYTES
 *   tcp NAME OPENED CLOSED SENT RECEIVED
 *   span NAME MS                        one sampled request: a span of MS
 *                                       ms, and one request of MS ms and 0
 *                                       bytes recorded with its trace id
 *                                       (counted in the totals; a TCP
 *                                       series records the span only)
 *   sleep MS
 * At exit prints one JSON line with the totals recorded per series (with
 * exemplar_trace_ids: the trace ids of the last 16 requests recorded with
 * one, lowercase hex, oldest first) and the reporter's counters; a traced
 * request whose span the ring refused is recorded without trace id. Exits
 * 0 when every report was acknowledged before the close deadline, 1
 * otherwise, 2 on usage errors.
 *
 * SPEC: comma-separated key=value: dest_workload dest_app dest_version
 * dest_namespace dest_principal dest_cluster (or src_* / peer_*: the
 * peer's identity), service (host), service_name, service_namespace,
 * protocol (http), code (200), grpc (""), flags ("-"), security
 * ("unknown"), weight (1), tcp (1 = a TCP series).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mixd/mixd.h"
#include "mixd/tracecontext.h"

#define MAX_SERIES 256
#define MAX_STR 256
#define MAX_EX 16 /* trace ids kept per series for the exit line */

struct ser {
	char name[64];
	char spec[MAX_STR];
	char str[15][MAX_STR]; /* peer 8, host, name, ns, proto, grpc, flags, security */
	struct mixd_series_labels l;
	uint32_t h, herr;       /* handles: as specified, and with code 500 */
	double weight;
	int tcp;
	uint64_t count, errors, dur_sum, req_sum, resp_sum;
	uint64_t opened, closed, sent, received, spans;
	uint8_t ex[MAX_EX][16]; /* trace ids recorded as exemplars, a ring */
	uint64_t nex;
};

static struct ser sers[MAX_SERIES];
static int nsers;
static uint64_t rng_state = 1;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double unif(void)
{
	return ((double)(rnd() >> 11) + 0.5) / 9007199254740992.0;
}

/* log-normal with the given median and 99th percentile */
static uint64_t lognorm(const double q[2])
{
	double sigma = q[1] > q[0] && q[0] > 0 ? log(q[1] / q[0]) / 2.326 : 0;
	double z = sqrt(-2 * log(unif())) * cos(2 * M_PI * unif());
	double v = q[0] * exp(sigma * z);

	return v < 0 ? 0 : v > 1e12 ? (uint64_t)1e12 : (uint64_t)(v + 0.5);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000u), (long)(t % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
		;
}

static int parse_pair(const char *s, double q[2])
{
	return sscanf(s, "%lf,%lf", &q[0], &q[1]) == 2 && q[0] >= 0 && q[1] >= q[0];
}

static int set_key(struct ser *s, const char *k, const char *v)
{
	static const char *const peer[8] = { "workload", "namespace", "app", "version",
					     "canonical_service", "canonical_revision",
					     "cluster", "principal" };
	static const char *const other[7] = { "service", "service_name", "service_namespace",
					      "protocol", "grpc", "flags", "security" };

	for (int i = 0; i < 8; i++)
		if ((!strncmp(k, "dest_", 5) || !strncmp(k, "src_", 4) || !strncmp(k, "peer_", 5)) &&
		    !strcmp(strchr(k, '_') + 1, peer[i])) {
			snprintf(s->str[i], MAX_STR, "%s", v);
			return 0;
		}
	for (int i = 0; i < 7; i++)
		if (!strcmp(k, other[i])) {
			snprintf(s->str[8 + i], MAX_STR, "%s", v);
			return 0;
		}
	if (!strcmp(k, "code"))
		s->l.response_code = (uint32_t)strtoul(v, NULL, 10);
	else if (!strcmp(k, "weight"))
		s->weight = atof(v);
	else if (!strcmp(k, "tcp"))
		s->tcp = atoi(v) != 0;
	else
		return -1;
	return 0;
}

static struct ser *add_series(const char *name, const char *spec, int role)
{
	struct ser *s;
	char buf[1024], *tok, *save = NULL;

	if (nsers == MAX_SERIES || strlen(spec) >= sizeof(buf))
		return NULL;
	s = &sers[nsers];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->spec, sizeof(s->spec), "%s", spec);
	s->weight = 1;
	s->l.response_code = 200;
	snprintf(s->str[11], MAX_STR, "http");
	snprintf(s->str[13], MAX_STR, "-");
	snprintf(s->str[14], MAX_STR, "unknown");
	snprintf(buf, sizeof(buf), "%s", spec);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq) {
			fprintf(stderr, "mixd-report: bad series item '%s'\n", tok);
			return NULL;
		}
		*eq = '\0';
		if (set_key(s, tok, eq + 1) != 0) {
			fprintf(stderr, "mixd-report: unknown series key '%s'\n", tok);
			return NULL;
		}
	}
	if (s->tcp && !strcmp(s->str[11], "http"))
		snprintf(s->str[11], MAX_STR, "tcp");
	struct mixd_workload *p = &s->l.peer;
	const char **ps[8] = { &p->workload, &p->workload_namespace, &p->app, &p->version,
			       &p->canonical_service, &p->canonical_revision, &p->cluster,
			       &p->principal };
	for (int i = 0; i < 8; i++)
		*ps[i] = s->str[i];
	s->l.role = role;
	s->l.destination_service = s->str[8];
	s->l.destination_service_name = s->str[9];
	s->l.destination_service_namespace = s->str[10];
	s->l.request_protocol = s->str[11];
	s->l.grpc_response_status = s->str[12];
	s->l.response_flags = s->str[13];
	s->l.connection_security_policy = s->str[14];
	nsers++;
	return s;
}

static struct ser *find_series(const char *name)
{
	for (int i = 0; i < nsers; i++)
		if (!strcmp(sers[i].name, name))
			return &sers[i];
	return NULL;
}

static int bind_all(struct mixd_reporter *r)
{
	for (int i = 0; i < nsers; i++) {
		struct mixd_series_labels e = sers[i].l;
		e.response_code = 500;
		if (mixd_series_bind(r, &sers[i].l, &sers[i].h) != MIXD_OK ||
		    mixd_series_bind(r, &e, &sers[i].herr) != MIXD_OK)
			return -1;
	}
	return 0;
}

/* Records a sampled span of `ms` ms with fresh random ids, returned in
 * tid and sid. Returns 1 when the ring accepted it. */
static int record_span(struct mixd_reporter *r, struct ser *s, uint64_t ms, uint8_t tid[16],
		       uint8_t sid[8])
{
	struct mixd_span sp;
	struct timespec ts;

	memset(&sp, 0, sizeof(sp));
	mixd_random_ids(sp.trace_id, sp.span_id);
	memcpy(tid, sp.trace_id, 16);
	memcpy(sid, sp.span_id, 8);
	clock_gettime(CLOCK_REALTIME, &ts);
	sp.end_unix_nano = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	sp.start_unix_nano = sp.end_unix_nano - ms * 1000000u;
	sp.name = s->str[9][0] ? s->str[9] : "request";
	sp.kind = s->l.role == MIXD_ROLE_SOURCE ? MIXD_SPAN_KIND_CLIENT : MIXD_SPAN_KIND_SERVER;
	if (mixd_record_span(r, &sp) != MIXD_OK)
		return 0;
	s->spans++;
	return 1;
}

/* Records one request; with a trace id `tid` (not NULL), through
 * mixd_record_request_traced() so that it may become the exemplar. */
static void record_one(struct mixd_reporter *r, struct ser *s, int err, uint64_t ms,
		       uint64_t rq, uint64_t rs, const uint8_t *tid, const uint8_t *sid)
{
	uint32_t h = err ? s->herr : s->h;

	if (tid) {
		if (mixd_record_request_traced(r, h, ms, rq, rs, tid, sid) != MIXD_OK)
			return;
		memcpy(s->ex[s->nex++ % MAX_EX], tid, 16);
	} else if (mixd_record_request(r, h, ms, rq, rs) != MIXD_OK) {
		return;
	}
	s->count++;
	s->errors += err != 0;
	s->dur_sum += ms;
	s->req_sum += rq;
	s->resp_sum += rs;
}

static int run_script(struct mixd_reporter *r, FILE *f, int role)
{
	char line[2048], a[64], b[1024];
	unsigned long long n1, n2, n3, n4;
	int lineno = 0, bound = 0;

	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char *p = line + strspn(line, " \t");
		if (*p == '#' || *p == '\n' || !*p)
			continue;
		if (sscanf(p, "series %63s %1023s", a, b) == 2) {
			if (bound || !add_series(a, b, role))
				goto bad;
			continue;
		}
		if (!bound) {
			if (bind_all(r) != 0)
				goto bad;
			bound = 1;
		}
		struct ser *s;
		if (sscanf(p, "record %63s %llu %llu %llu %llu", a, &n1, &n2, &n3, &n4) == 5 &&
		    (s = find_series(a))) {
			for (unsigned long long i = 0; i < n1; i++)
				record_one(r, s, 0, n2, n3, n4, NULL, NULL);
		} else if (sscanf(p, "tcp %63s %llu %llu %llu %llu", a, &n1, &n2, &n3, &n4) == 5 &&
			   (s = find_series(a))) {
			for (unsigned long long i = 0; i < n1; i++)
				s->opened += mixd_record_tcp_open(r, s->h) == MIXD_OK;
			for (unsigned long long i = 0; i < n2; i++)
				s->closed += mixd_record_tcp_close(r, s->h) == MIXD_OK;
			if (mixd_record_tcp_bytes(r, s->h, n3, n4) == MIXD_OK) {
				s->sent += n3;
				s->received += n4;
			}
		} else if (sscanf(p, "span %63s %llu", a, &n1) == 2 && (s = find_series(a))) {
			uint8_t tid[16], sid[8];
			int ok = record_span(r, s, n1, tid, sid);
			if (!s->tcp)
				record_one(r, s, 0, n1, 0, 0, ok ? tid : NULL, sid);
		} else if (sscanf(p, "sleep %llu", &n1) == 1) {
			sleep_until(now_ns() + n1 * 1000000ull);
		} else {
			goto bad;
		}
	}
	return bound || bind_all(r) == 0 ? 0 : -1;
bad:
	fprintf(stderr, "mixd-report: script line %d: cannot apply: %s", lineno, line);
	return -1;
}

static void run_synthetic(struct mixd_reporter *r, double rate, uint64_t total,
			  const double lat[2], const double rq[2], const double rs[2],
			  double err_ratio, double span_ratio)
{
	double wsum = 0;
	uint64_t done = 0;
	uint64_t t0 = now_ns(), tick = 10000000; /* 10 ms */

	for (int i = 0; i < nsers; i++)
		wsum += sers[i].weight > 0 ? sers[i].weight : 0;
	if (wsum <= 0)
		return;
	for (uint64_t t = 1; done < total; t++) {
		uint64_t due = rate > 0 ? (uint64_t)((double)t * tick * rate / 1e9) : total;
		if (due > total)
			due = total;
		for (; done < due; done++) {
			double u = unif() * wsum;
			struct ser *s = &sers[nsers - 1];
			for (int i = 0; i < nsers; i++) {
				double w = sers[i].weight > 0 ? sers[i].weight : 0;
				if (u < w) {
					s = &sers[i];
					break;
				}
				u -= w;
			}
			uint64_t ms = lognorm(lat), a = lognorm(rq), b = lognorm(rs);
			int err = unif() < err_ratio;
			/* drawn here as before: the same requests for a seed */
			int sampled = span_ratio > 0 && unif() < span_ratio;
			uint8_t tid[16], sid[8];
			int traced = sampled && record_span(r, s, ms, tid, sid);
			if (s->tcp) {
				s->opened += mixd_record_tcp_open(r, s->h) == MIXD_OK;
				s->closed += mixd_record_tcp_close(r, s->h) == MIXD_OK;
				if (mixd_record_tcp_bytes(r, s->h, b, a) == MIXD_OK) {
					s->sent += b;
					s->received += a;
				}
			} else {
				record_one(r, s, err, ms, a, b, traced ? tid : NULL, sid);
			}
		}
		if (rate > 0)
			sleep_until(t0 + t * tick);
	}
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void print_totals(int ok, int close_rc, const struct mixd_stats *st)
{
	uint64_t n = 0;

	for (int i = 0; i < nsers; i++)
		n += sers[i].count;
	printf("{\"ok\":%s,\"close\":", ok ? "true" : "false");
	json_str(mixd_strerror(close_rc));
	printf(",\"requests\":%llu,\"series\":[", (unsigned long long)n);
	for (int i = 0; i < nsers; i++) {
		const struct ser *s = &sers[i];
		printf("%s{\"name\":", i ? "," : "");
		json_str(s->name);
		printf(",\"spec\":");
		json_str(s->spec);
		printf(",\"code\":%u,\"count\":%llu,\"errors\":%llu,\"duration_ms_sum\":%llu,"
		       "\"request_bytes_sum\":%llu,\"response_bytes_sum\":%llu,"
		       "\"tcp_opened\":%llu,\"tcp_closed\":%llu,\"tcp_sent\":%llu,"
		       "\"tcp_received\":%llu,\"spans\":%llu",
		       s->l.response_code, (unsigned long long)s->count,
		       (unsigned long long)s->errors, (unsigned long long)s->dur_sum,
		       (unsigned long long)s->req_sum, (unsigned long long)s->resp_sum,
		       (unsigned long long)s->opened, (unsigned long long)s->closed,
		       (unsigned long long)s->sent, (unsigned long long)s->received,
		       (unsigned long long)s->spans);
		uint64_t k0 = s->nex > MAX_EX ? s->nex - MAX_EX : 0;
		printf(",\"exemplar_trace_ids\":[");
		for (uint64_t k = k0; k < s->nex; k++) {
			printf("%s\"", k > k0 ? "," : "");
			for (int b = 0; b < 16; b++)
				printf("%02x", s->ex[k % MAX_EX][b]);
			putchar('"');
		}
		printf("]}");
	}
	printf("],\"reports_sent\":%llu,\"reports_acked\":%llu,\"reports_retried\":%llu,"
	       "\"reports_rejected\":%llu,\"reports_lost\":%llu,\"bytes_sent\":%llu,"
	       "\"spans_dropped\":%llu,\"overflow_series\":%llu}\n",
	       (unsigned long long)st->reports_sent, (unsigned long long)st->reports_acked,
	       (unsigned long long)st->reports_retried, (unsigned long long)st->reports_rejected,
	       (unsigned long long)st->reports_lost, (unsigned long long)st->bytes_sent,
	       (unsigned long long)st->spans_dropped, (unsigned long long)st->overflow_series);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: mixd-report [--url URL] [--workload W] [--namespace N] [--app A]\n"
		"  [--version V] [--cluster C] [--principal P] [--canonical-service S]\n"
		"  [--canonical-revision R] [--role source|destination]\n"
		"  [--series SPEC]... [--rate R (0 = flat out)] [--duration S] [--count N]\n"
		"  [--latency-ms P50,P99]"
		"  [--request-bytes P50,P99] [--response-bytes P50,P99] [--error-ratio E]\n"
		"  [--span-ratio F] [--seed N] [--flush-interval-ms MS] [--max-series N]\n"
		"  [--close-deadline-ms MS] [--script FILE]\n");
}

int main(int argc, char **argv)
{
	struct mixd_config cfg;
	struct mixd_reporter *r = NULL;
	struct mixd_stats st;
	double rate = 100, duration = 1, err_ratio = 0, span_ratio = 0;
	long long count = -1;
	double lat[2] = { 20, 200 }, rq[2] = { 300, 2000 }, rs[2] = { 1000, 50000 };
	const char *script = NULL;
	uint32_t deadline = 10000;
	int role = MIXD_ROLE_SOURCE, rc, ok;

	mixd_config_init(&cfg);
	cfg.local.workload = "mixd-report";
	cfg.local.workload_namespace = "default";
	cfg.local.app = "mixd-report";
	cfg.local.version = "v1";
	for (int i = 1; i < argc; i += 2) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int used = 1;
		if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
			usage();
			return 0;
		}
		if (!v) {
			usage();
			return 2;
		}
		if (!strcmp(o, "--url"))
			cfg.url = v;
		else if (!strcmp(o, "--workload"))
			cfg.local.workload = v;
		else if (!strcmp(o, "--namespace"))
			cfg.local.workload_namespace = v;
		else if (!strcmp(o, "--app"))
			cfg.local.app = v;
		else if (!strcmp(o, "--version"))
			cfg.local.version = v;
		else if (!strcmp(o, "--cluster"))
			cfg.local.cluster = v;
		else if (!strcmp(o, "--principal"))
			cfg.local.principal = v;
		else if (!strcmp(o, "--canonical-service"))
			cfg.local.canonical_service = v;
		else if (!strcmp(o, "--canonical-revision"))
			cfg.local.canonical_revision = v;
		else if (!strcmp(o, "--role"))
			role = !strcmp(v, "destination") ? MIXD_ROLE_DESTINATION : MIXD_ROLE_SOURCE;
		else if (!strcmp(o, "--series")) {
			char name[16];
			snprintf(name, sizeof(name), "s%d", nsers);
			if (!add_series(name, v, role))
				return 2;
		} else if (!strcmp(o, "--rate"))
			rate = atof(v);
		else if (!strcmp(o, "--duration"))
			duration = atof(v);
		else if (!strcmp(o, "--count"))
			count = atoll(v);
		else if (!strcmp(o, "--latency-ms"))
			used = parse_pair(v, lat);
		else if (!strcmp(o, "--request-bytes"))
			used = parse_pair(v, rq);
		else if (!strcmp(o, "--response-bytes"))
			used = parse_pair(v, rs);
		else if (!strcmp(o, "--error-ratio"))
			err_ratio = atof(v);
		else if (!strcmp(o, "--span-ratio"))
			span_ratio = atof(v);
		else if (!strcmp(o, "--seed"))
			rng_state = strtoull(v, NULL, 10);
		else if (!strcmp(o, "--flush-interval-ms"))
			cfg.flush_interval_ms = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(o, "--max-series"))
			cfg.max_series = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(o, "--close-deadline-ms"))
			deadline = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(o, "--script"))
			script = v;
		else
			used = 0;
		if (!used) {
			fprintf(stderr, "mixd-report: bad option or value: %s %s\n", o, v);
			usage();
			return 2;
		}
	}
	if (!script && nsers == 0)
		add_series("s0", "dest_app=server,dest_version=v1,service_name=server", role);
	if (count < 0)
		count = (long long)(rate * duration + 0.5);
	if (rate < 0 || duration < 0 || err_ratio < 0 || err_ratio > 1 || (rate == 0 && count == 0)) {
		usage();
		return 2;
	}
	rc = mixd_reporter_new(&cfg, &r);
	if (rc != MIXD_OK) {
		fprintf(stderr, "mixd-report: %s\n", mixd_strerror(rc));
		return 2;
	}
	rc = mixd_reporter_start(r);
	if (rc == MIXD_OK && script) {
		FILE *f = strcmp(script, "-") ? fopen(script, "r") : stdin;
		if (!f) {
			perror(script);
			mixd_reporter_close(r, 0);
			return 2;
		}
		if (run_script(r, f, role) != 0)
			rc = MIXD_EINVAL;
		if (f != stdin)
			fclose(f);
	} else if (rc == MIXD_OK) {
		rc = bind_all(r) == 0 ? MIXD_OK : MIXD_ENOMEM;
		if (rc == MIXD_OK)
			run_synthetic(r, rate, (uint64_t)count, lat, rq, rs, err_ratio, span_ratio);
	}
	if (rc != MIXD_OK) {
		fprintf(stderr, "mixd-report: %s\n", mixd_strerror(rc));
		mixd_reporter_close(r, 0);
		return 2;
	}
	/* the counters before close: close frees the reporter. Close ships
	 * the rest; its result tells whether everything was acknowledged. */
	int crc = mixd_reporter_close_stats(r, deadline, &st);
	ok = crc == MIXD_OK && st.reports_rejected == 0 && st.reports_lost == 0;
	print_totals(ok, crc, &st);
	return ok ? 0 : 1;
}
