/*
 * ingest.c - batch to store to answer, shared by the receivers (see
 * ingest.h).
 */
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../model/error.h"
#include "../storage/metrics.h"

static void on_commit(void *ctx, int status)
{
	struct mx_ingest_pending *p = ctx;
	if (status == MX_OK) {
		atomic_fetch_add(&p->stats->accepted_spans, p->n_spans);
		p->answer(p);
	} else {
		atomic_fetch_add(&p->stats->refused_spans, p->n_spans);
		atomic_fetch_add(&p->stats->refused_requests, 1);
		if (status == MX_EFULL)
			p->errfmt(p->req, 503, "store full; retry later");
		else
			p->errfmt(p->req, 500, mx_strerror(status));
	}
	free(p);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct mx_batch *mx_ingest_batch_new(size_t body_len)
{
	return mx_batch_new(body_len * 16 + (1u << 20));
}

void mx_ingest_finish(struct mx_store *store, struct mx_batch *batch, int decode_rc,
		      const struct mx_ingest_pending *tmpl,
		      const struct mx_errmsg *err)
{
	atomic_fetch_add(&tmpl->stats->requests, 1);
	if (decode_rc != MX_OK) {
		char msg[320];
		atomic_fetch_add(&tmpl->stats->refused_requests, 1);
		snprintf(msg, sizeof(msg), "%s: %s", mx_strerror(decode_rc),
			 err && err->set ? err->text : "undecodable body");
		tmpl->errfmt(tmpl->req, decode_rc == MX_ENOMEM ? 413 : 400, msg);
		mx_batch_free(batch);
		return;
	}
	struct mx_ingest_pending *p = malloc(sizeof(*p));
	if (!p) {
		atomic_fetch_add(&tmpl->stats->refused_requests, 1);
		tmpl->errfmt(tmpl->req, 503, "out of memory; retry later");
		mx_batch_free(batch);
		return;
	}
	*p = *tmpl;
	p->n_spans = batch->n_spans;
	p->rejected = batch->rejected_spans;
	p->msg[0] = '\0';
	if (p->rejected) {
		atomic_fetch_add(&p->stats->rejected_spans, p->rejected);
		snprintf(p->msg, sizeof(p->msg), "%llu spans rejected: %.200s",
			 (unsigned long long)p->rejected,
			 err && err->set ? err->text : "invalid content");
	}
	batch->received_ns = now_ns();
	int rc = tmpl->report
		? mx_store_submit_report(store, batch, tmpl->report, on_commit, p)
		: mx_store_submit(store, batch, on_commit, p);
	if (rc == MX_OK)
		return; /* on_commit answers; the store owns the batch */
	atomic_fetch_add(&p->stats->refused_spans, batch->n_spans);
	atomic_fetch_add(&p->stats->refused_requests, 1);
	if (rc == MX_EBUSY)
		p->errfmt(p->req, 429, "writer queue full; retry later");
	else if (rc == MX_ESHUTDOWN)
		p->errfmt(p->req, 503, "shutting down; retry later");
	else
		p->errfmt(p->req, 500, mx_strerror(rc));
	mx_batch_free(batch);
	free(p);
}

void mx_ingest_text_errfmt(struct mx_http_req *req, unsigned status, const char *msg)
{
	static const char *const retry[] = { "Retry-After", "1", NULL };
	char text[320];
	int n = snprintf(text, sizeof(text), "%s\n", msg);
	mx_http_respond(req, status, "text/plain; charset=utf-8", text,
			n > 0 ? (size_t)(n < (int)sizeof(text) ? n : (int)sizeof(text) - 1) : 0,
			(status == 429 || status == 503) ? retry : NULL);
}

void mx_ingest_answer_accepted(const struct mx_ingest_pending *p)
{
	mx_http_respond(p->req, 202, NULL, NULL, 0, NULL);
}
