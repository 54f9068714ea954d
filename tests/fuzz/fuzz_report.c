/*
 * fuzz_report.c - libFuzzer target for the native report decoder
 * (codec/report.h): decodes into a batch with a modest arena cap and, on
 * success, checks the decoder's promises (every histogram sums to the
 * request count, labels resolved, spans carry the reporter's resource),
 * lays every aggregate out in Istio's label order and renders the lot in
 * both Prometheus formats, which must succeed and end as each format
 * requires.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../codec/report.h"
#include "../../model/error.h"
#include "../../query/prom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_hist(const struct mx_hist_delta *h, uint64_t count)
{
	uint64_t n = 0;
	if (h->nz >> MX_HIST_BUCKETS)
		abort();
	for (uint32_t i = 0; i < MX_HIST_BUCKETS; i++) {
		/* sparse: exactly the non-zero buckets are stored */
		if (((h->nz >> i) & 1u) != (mx_hist_bucket(h, i) != 0))
			abort();
		n += mx_hist_bucket(h, i);
	}
	if (n != count || !(h->sum >= 0))
		abort();
}

static void check_labels(const struct mx_series_labels *l, bool tcp)
{
	struct mx_str v[MX_ISTIO_HTTP_LABELS];
	mx_istio_labels(l, tcp, v);
	/* only grpc_response_status (HTTP) may be empty */
	for (int i = 0; i < (tcp ? MX_ISTIO_TCP_LABELS : MX_ISTIO_HTTP_LABELS); i++)
		if (v[i].len == 0 && !(!tcp && i == 22))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mx_decode_limits lim;
	struct mx_errmsg err = { 0 };
	struct mx_report *r = NULL;
	struct mx_istio_series *s = NULL;
	struct mx_buf out;
	mx_decode_limits_default(&lim);
	mx_buf_init(&out, 64u << 20);
	struct mx_batch *b = mx_batch_new(4u << 20);
	if (!b)
		goto out;
	if (mx_report_decode(data, size, &lim, b, &r, &err) != MX_OK) {
		if (r)
			abort();
		goto out;
	}
	if (!r || r->batch != b || r->sequence == 0 ||
	    r->first_span + r->n_spans != b->n_spans)
		abort();
	for (uint32_t i = r->first_span; i < b->n_spans; i++)
		if (!b->spans[i].resource || !b->spans[i].scope)
			abort();
	size_t n = (size_t)r->n_requests + r->n_tcp;
	s = calloc(n ? n : 1, sizeof(*s));
	if (!s)
		goto out;
	for (uint32_t i = 0; i < r->n_requests; i++) {
		const struct mx_request_agg *a = &r->requests[i];
		check_hist(&a->duration, a->count);
		check_hist(&a->request_bytes, a->count);
		check_hist(&a->response_bytes, a->count);
		check_labels(&a->labels, false);
		s[i].kind = MX_ISTIO_HTTP;
		mx_istio_labels(&a->labels, false, s[i].labels);
		s[i].count = a->count;
		for (uint32_t k = 0; k < MX_HIST_BUCKETS; k++)
			s[i].duration.buckets[k] = mx_hist_bucket(&a->duration, k);
		s[i].duration.sum = a->duration.sum;
		s[i].request_bytes.sum = a->request_bytes.sum;
		s[i].response_bytes.sum = a->response_bytes.sum;
		s[i].has_exemplar = a->has_exemplar;
		s[i].exemplar = a->exemplar;
	}
	for (uint32_t i = 0; i < r->n_tcp; i++) {
		const struct mx_tcp_agg *t = &r->tcp[i];
		struct mx_istio_series *x = &s[r->n_requests + i];
		check_labels(&t->labels, true);
		x->kind = MX_ISTIO_TCP;
		mx_istio_labels(&t->labels, true, x->labels);
		x->tcp_opened = t->opened;
		x->tcp_received = t->received_bytes;
	}
	if (mx_prom_render(s, n, MX_PROM_TEXT, &out) != MX_OK ||
	    (out.len && out.data[out.len - 1] != '\n'))
		abort();
	mx_buf_reset(&out);
	if (mx_prom_render(s, n, MX_PROM_OPENMETRICS, &out) != MX_OK ||
	    out.len < 6 || memcmp(out.data + out.len - 6, "# EOF\n", 6) != 0)
		abort();
out:
	free(s);
	mx_buf_free(&out);
	mx_batch_free(b);
	return 0;
}
