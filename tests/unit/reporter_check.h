/*
 * reporter_check.h - decodes the reports libmixd shipped (with the
 * protobuf-c code generated from proto/mixd/report.proto) and sums them
 * per series, applying each (instance id, sequence) once, as mixd does.
 * Header-only helpers for tests/unit/test_reporter*.c.
 */
#ifndef REPORTER_CHECK_H
#define REPORTER_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mixd/report.pb-c.h"

#define RC_MAX_SERIES 512

struct rc_series {
	char key[200]; /* role|peer workload|code|dest name|protocol|overflow */
	uint64_t count, dur_b[20], req_b[20], resp_b[20];
	double dur_sum, req_sum, resp_sum;
	uint64_t tcp_open, tcp_close, tcp_sent, tcp_recv;
};

struct rc_seen {
	uint8_t inst[16];
	uint64_t seq;
	size_t len;
	uint8_t *body; /* the bytes applied, to compare re-sends */
};

struct rc_totals {
	struct rc_series s[RC_MAX_SERIES];
	size_t n;
	struct rc_seen *seen;
	size_t nseen, capseen;
	uint64_t applied, duplicates, spans, dropped_spans, overflow_series;
	int bad;           /* a string index out of range, or a malformed report */
	int dup_mismatch;  /* same (instance, sequence) with different bytes */
	char local_workload[64];
};

static inline const char *rc_str(const Mixd__Report__V1__Report *r, uint32_t i, int *bad)
{
	if (i >= r->n_strings) {
		*bad = 1;
		return "?";
	}
	return r->strings[i];
}

static inline struct rc_series *rc_find(struct rc_totals *t, const Mixd__Report__V1__Report *r,
					const Mixd__Report__V1__Series *s)
{
	char key[200];

	if (!s || !s->peer) {
		t->bad = 1;
		return NULL;
	}
	snprintf(key, sizeof(key), "%d|%s|%u|%s|%s|%d", (int)s->role,
		 rc_str(r, s->peer->workload, &t->bad), s->response_code,
		 rc_str(r, s->destination_service_name, &t->bad),
		 rc_str(r, s->request_protocol, &t->bad), s->overflow ? 1 : 0);
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->s[i].key, key) == 0)
			return &t->s[i];
	if (t->n == RC_MAX_SERIES) {
		t->bad = 1;
		return NULL;
	}
	memset(&t->s[t->n], 0, sizeof(t->s[0]));
	snprintf(t->s[t->n].key, sizeof(t->s[0].key), "%s", key);
	return &t->s[t->n++];
}

/* Looks up a series by key; NULL when never reported. */
static inline const struct rc_series *rc_get(const struct rc_totals *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->s[i].key, key) == 0)
			return &t->s[i];
	return NULL;
}

/* Applies one (gunzipped) report. Returns 0 when applied, 1 for a
 * duplicate (same instance and sequence; bytes compared), -1 when it does
 * not decode. */
static inline int rc_apply(struct rc_totals *t, const uint8_t *body, size_t len)
{
	Mixd__Report__V1__Report *r = mixd__report__v1__report__unpack(NULL, len, body);

	if (!r || r->instance_id.len != 16 || r->sequence == 0 || r->n_strings == 0 ||
	    r->strings[0][0] != '\0') {
		t->bad = 1;
		if (r)
			mixd__report__v1__report__free_unpacked(r, NULL);
		return -1;
	}
	for (size_t i = 0; i < t->nseen; i++) {
		struct rc_seen *e = &t->seen[i];
		if (e->seq == r->sequence && memcmp(e->inst, r->instance_id.data, 16) == 0) {
			if (e->len != len || memcmp(e->body, body, len) != 0)
				t->dup_mismatch = 1;
			t->duplicates++;
			mixd__report__v1__report__free_unpacked(r, NULL);
			return 1;
		}
	}
	if (t->nseen == t->capseen) {
		size_t nc = t->capseen ? t->capseen * 2 : 64;
		struct rc_seen *np = realloc(t->seen, nc * sizeof(*np));
		if (!np)
			abort();
		t->seen = np;
		t->capseen = nc;
	}
	struct rc_seen *e = &t->seen[t->nseen++];
	memcpy(e->inst, r->instance_id.data, 16);
	e->seq = r->sequence;
	e->len = len;
	e->body = malloc(len ? len : 1);
	if (!e->body)
		abort();
	memcpy(e->body, body, len);
	t->applied++;
	if (r->reporter)
		snprintf(t->local_workload, sizeof(t->local_workload), "%s",
			 rc_str(r, r->reporter->workload, &t->bad));
	for (size_t i = 0; i < r->n_requests; i++) {
		const Mixd__Report__V1__RequestDelta *d = r->requests[i];
		struct rc_series *s = rc_find(t, r, d->series);
		if (!s)
			continue;
		if (d->n_duration_buckets != 20 || d->n_request_bytes_buckets != 20 ||
		    d->n_response_bytes_buckets != 20) {
			t->bad = 1;
			continue;
		}
		s->count += d->count;
		for (int b = 0; b < 20; b++) {
			s->dur_b[b] += d->duration_buckets[b];
			s->req_b[b] += d->request_bytes_buckets[b];
			s->resp_b[b] += d->response_bytes_buckets[b];
		}
		s->dur_sum += d->duration_sum;
		s->req_sum += d->request_bytes_sum;
		s->resp_sum += d->response_bytes_sum;
	}
	for (size_t i = 0; i < r->n_tcp; i++) {
		const Mixd__Report__V1__TcpDelta *d = r->tcp[i];
		struct rc_series *s = rc_find(t, r, d->series);
		if (!s)
			continue;
		s->tcp_open += d->connections_opened;
		s->tcp_close += d->connections_closed;
		s->tcp_sent += d->sent_bytes;
		s->tcp_recv += d->received_bytes;
	}
	t->spans += r->n_spans;
	t->dropped_spans += r->dropped_spans;
	if (r->overflow_series > t->overflow_series)
		t->overflow_series = r->overflow_series;
	mixd__report__v1__report__free_unpacked(r, NULL);
	return 0;
}

/* Sequences applied for `inst` are exactly 1..n (no gap). Returns n or
 * -1 when there is a gap. */
static inline long rc_contiguous(const struct rc_totals *t, const uint8_t inst[16])
{
	uint64_t max = 0, n = 0;

	for (size_t i = 0; i < t->nseen; i++) {
		if (memcmp(t->seen[i].inst, inst, 16) != 0)
			continue;
		n++;
		if (t->seen[i].seq > max)
			max = t->seen[i].seq;
	}
	return max == n ? (long)n : -1;
}

static inline void rc_free(struct rc_totals *t)
{
	for (size_t i = 0; i < t->nseen; i++)
		free(t->seen[i].body);
	free(t->seen);
	memset(t, 0, sizeof(*t));
}

#endif
