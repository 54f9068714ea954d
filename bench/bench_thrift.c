/*
 * bench_thrift.c - the Jaeger thrift benchmarks.
 *
 * Without --udp-port: decode rate of mixd's Jaeger thrift readers
 * (mx_jaeger_thrift_decode_batch) in the binary and the compact protocol,
 * single thread, bounded by time, on a bare Batch of 512 spans with 20 tags
 * each, written by mixd's own thrift writer. Each rate is printed as
 * `result name=thrift_decode_<proto> spans_per_s=<v>`.
 *
 * With --udp-port P: the UDP ingest load generator. Sends Agent.emitBatch
 * datagrams (about 60 KB each, in --proto compact or binary; a ring of
 * pre-encoded datagrams with distinct trace ids) as fast as one thread can to
 * 127.0.0.1:P for --seconds S and prints the datagrams and spans sent, also
 * as `result name=udp_send datagrams=<n> spans=<n> seconds=<s>`. What mixd
 * committed and dropped is read from its /debug/vars by bench/run.sh.
 *
 * Usage: bench_thrift [--seconds S] [--udp-port P --proto compact|binary]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../codec/jaeger_thrift.h"
#include "../model/error.h"

#define N_TAGS 20
#define DECODE_SPANS 512
#define DGRAM_MAX 60000
#define RING 256

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A batch of `n` spans of trace `trace`, 20 tags each (string, int,
 * double, bool), one resource with a service name and two tags. */
static struct mx_batch *make_batch(uint32_t n, uint64_t trace)
{
	static const char *const words[] = { "GET", "/api/v1/items", "200",
					     "frontend-7f9c", "10.0.3.17" };
	struct mx_batch *b = mx_batch_new(64u << 20);
	if (!b)
		return NULL;
	struct mx_resource *r = mx_arena_calloc(&b->arena, 1, sizeof(*r));
	struct mx_scope *sc = mx_arena_calloc(&b->arena, 1, sizeof(*sc));
	struct mx_attr *ra = mx_arena_calloc(&b->arena, 3, sizeof(*ra));
	if (!r || !sc || !ra)
		goto fail;
	ra[0].key = MX_STR_LIT("service.name");
	ra[0].value.type = MX_VAL_STRING;
	ra[0].value.u.s = MX_STR_LIT("bench-thrift");
	ra[1].key = MX_STR_LIT("hostname");
	ra[1].value.type = MX_VAL_STRING;
	ra[1].value.u.s = MX_STR_LIT("bench-host-01");
	ra[2].key = MX_STR_LIT("client-uuid");
	ra[2].value.type = MX_VAL_STRING;
	ra[2].value.u.s = MX_STR_LIT("6c1d0f0e-5b7a-4f1e-9d2c-3a4b5c6d7e8f");
	r->attrs = (struct mx_attrs){ ra, 3 };
	for (uint32_t i = 0; i < n; i++) {
		struct mx_span *s = mx_batch_add_span(b);
		struct mx_attr *a = mx_arena_calloc(&b->arena, N_TAGS, sizeof(*a));
		if (!s || !a)
			goto fail;
		for (int k = 0; k < 8; k++) {
			s->trace_id[k] = (uint8_t)(0x5a ^ k);
			s->trace_id[8 + k] = (uint8_t)(trace >> (56 - 8 * k));
		}
		uint64_t id = trace * 4096 + i + 1;
		for (int k = 0; k < 8; k++)
			s->span_id[k] = (uint8_t)(id >> (56 - 8 * k));
		if (i)
			for (int k = 0; k < 8; k++)
				s->parent_span_id[k] =
					(uint8_t)((trace * 4096 + 1) >> (56 - 8 * k));
		s->name = i ? MX_STR_LIT("SELECT items") : MX_STR_LIT("GET /api/v1/items");
		s->kind = i ? MX_KIND_CLIENT : MX_KIND_SERVER;
		s->start_ns = 1700000000000000000ull + (uint64_t)i * 1000;
		s->end_ns = s->start_ns + 250000;
		for (uint32_t t = 0; t < N_TAGS; t++) {
			char key[24];
			int kl = snprintf(key, sizeof(key), "attr.key.%u", t);
			a[t].key = mx_batch_str(b, key, (size_t)kl);
			switch (t % 4) {
			case 0:
				a[t].value.type = MX_VAL_STRING;
				a[t].value.u.s = mx_batch_str(b, words[t % 5],
							      strlen(words[t % 5]));
				break;
			case 1:
				a[t].value.type = MX_VAL_INT;
				a[t].value.u.i = (int64_t)(id * 31 + t);
				break;
			case 2:
				a[t].value.type = MX_VAL_DOUBLE;
				a[t].value.u.d = (double)t * 1.5;
				break;
			default:
				a[t].value.type = MX_VAL_BOOL;
				a[t].value.u.b = (t & 1) != 0;
				break;
			}
		}
		s->attrs = (struct mx_attrs){ a, N_TAGS };
		s->resource = r;
		s->scope = sc;
	}
	return b;
fail:
	mx_batch_free(b);
	return NULL;
}

static int bench_decode(enum mx_thrift_proto p, const char *name, double secs)
{
	struct mx_batch *in = make_batch(DECODE_SPANS, 1);
	struct mx_buf body;
	struct mx_decode_limits lim;
	uint32_t consumed = 0;
	uint64_t spans = 0;
	int rc = MX_ENOMEM;
	mx_buf_init(&body, 64u << 20);
	mx_decode_limits_default(&lim);
	if (!in || (rc = mx_jaeger_thrift_encode_batch(p, in, 0, &consumed, &body)))
		goto out;
	double t0 = now_s(), t = t0;
	while (t - t0 < secs) {
		for (int k = 0; k < 16; k++) {
			struct mx_batch *b = mx_batch_new(64u << 20);
			struct mx_errmsg err = { 0 };
			rc = b ? mx_jaeger_thrift_decode_batch(p, body.data, body.len, &lim,
							       b, &err)
			       : MX_ENOMEM;
			if (rc == MX_OK)
				spans += b->n_spans;
			mx_batch_free(b);
			if (rc) {
				fprintf(stderr, "bench_thrift: decode: %s\n", err.text);
				goto out;
			}
		}
		t = now_s();
	}
	double rate = (double)spans / (t - t0);
	printf("  %-44s %10.0f spans/s  (%llu spans in %.2f s; body %zu bytes, %u spans)\n",
	       name, rate, (unsigned long long)spans, t - t0, body.len, consumed);
	printf("result name=%s spans_per_s=%.0f\n",
	       p == MX_THRIFT_BINARY ? "thrift_decode_binary" : "thrift_decode_compact",
	       rate);
	fflush(stdout);
out:
	mx_batch_free(in);
	mx_buf_free(&body);
	return rc;
}

/* Encodes a datagram of at most DGRAM_MAX bytes for trace `trace`, with as
 * many spans as fit (start `*n`, lowered until it fits). */
static int encode_dgram(enum mx_thrift_proto p, uint64_t trace, uint32_t *n,
			struct mx_buf *out)
{
	for (; *n > 0; *n -= *n > 8 ? 4 : 1) {
		struct mx_batch *b = make_batch(*n, trace);
		uint32_t consumed = 0;
		if (!b)
			return MX_ENOMEM;
		mx_buf_free(out);
		mx_buf_init(out, DGRAM_MAX);
		int rc = mx_jaeger_thrift_encode_emit_batch(p, b, 0, &consumed, out);
		mx_batch_free(b);
		if (rc == MX_OK && consumed == *n)
			return MX_OK;
	}
	return MX_ENOMEM;
}

static int udp_send(uint16_t port, enum mx_thrift_proto p, double secs)
{
	struct mx_buf *ring = calloc(RING, sizeof(*ring));
	uint32_t n = 200;
	int fd = -1, rc = MX_ENOMEM;
	uint64_t dgrams = 0, errs = 0;
	if (!ring)
		return rc;
	for (uint32_t i = 0; i < RING; i++) {
		mx_buf_init(&ring[i], DGRAM_MAX);
		if ((rc = encode_dgram(p, (uint64_t)i + 1000, &n, &ring[i])))
			goto out;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		rc = MX_EIO;
		goto out;
	}
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (const struct sockaddr *)&a, sizeof(a)) != 0) {
		rc = MX_EIO;
		goto out;
	}
	double t0 = now_s(), t = t0;
	while (t - t0 < secs) {
		for (int k = 0; k < 32; k++) {
			const struct mx_buf *d = &ring[dgrams % RING];
			if (send(fd, d->data, d->len, 0) == (ssize_t)d->len)
				dgrams++;
			else
				errs++; /* ECONNREFUSED / ENOBUFS: not sent */
		}
		t = now_s();
	}
	double el = t - t0;
	printf("udp send (%s): %llu datagrams of %zu bytes, %llu spans in %.2f s: "
	       "%.0f datagrams/s, %.0f spans/s (%llu send errors)\n",
	       p == MX_THRIFT_BINARY ? "binary" : "compact",
	       (unsigned long long)dgrams, ring[0].len, (unsigned long long)(dgrams * n),
	       el, (double)dgrams / el, (double)(dgrams * n) / el,
	       (unsigned long long)errs);
	printf("result name=udp_send datagrams=%llu spans=%llu seconds=%.3f\n",
	       (unsigned long long)dgrams, (unsigned long long)(dgrams * n), el);
	fflush(stdout);
	rc = MX_OK;
out:
	if (fd >= 0)
		close(fd);
	for (uint32_t i = 0; i < RING; i++)
		mx_buf_free(&ring[i]);
	free(ring);
	return rc;
}

int main(int argc, char **argv)
{
	double secs = 2;
	long port = 0;
	enum mx_thrift_proto proto = MX_THRIFT_COMPACT;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "--seconds") && v) {
			secs = atof(v);
			i++;
		} else if (!strcmp(argv[i], "--udp-port") && v) {
			port = strtol(v, NULL, 10);
			i++;
		} else if (!strcmp(argv[i], "--proto") && v) {
			if (!strcmp(v, "binary"))
				proto = MX_THRIFT_BINARY;
			else if (strcmp(v, "compact") != 0)
				goto usage;
			i++;
		} else {
			goto usage;
		}
	}
	if (secs <= 0 || secs > 3600 || port < 0 || port > 65535)
		goto usage;
	if (port)
		return udp_send((uint16_t)port, proto, secs) == MX_OK ? 0 : 1;
	printf("--- Jaeger thrift decode (512 spans x %d tags, single thread) ---\n", N_TAGS);
	if (bench_decode(MX_THRIFT_BINARY, "mx_jaeger_thrift_decode_batch binary", secs) ||
	    bench_decode(MX_THRIFT_COMPACT, "mx_jaeger_thrift_decode_batch compact", secs))
		return 1;
	return 0;
usage:
	fprintf(stderr, "usage: bench_thrift [--seconds S] [--udp-port P --proto compact|binary]\n");
	return 2;
}
