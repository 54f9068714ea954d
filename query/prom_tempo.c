/*
 * prom_tempo.c - renders the service-graph snapshot as Tempo's metric
 * families (see prom_tempo.h), family by family and series by series, so
 * that /metrics can stream it in steps like the Istio families.
 *
 * Each series' label block is escaped once into a scratch buffer and then
 * copied into every line of the series (a span-metrics series has 18).
 */
#include "prom_tempo.h"

#include <stdio.h>
#include <string.h>

#include "../model/error.h"

enum fam {
	FAM_SELF = 0,
	FAM_REQ_TOTAL,
	FAM_REQ_FAILED,
	FAM_SERVER_SECONDS,
	FAM_CLIENT_SECONDS,
	FAM_UNPAIRED,
	FAM_DROPPED,
	FAM_SM_CALLS,
	FAM_SM_LATENCY,
	FAM_END
};

static const char *const sg_le[MX_SG_HIST_N] = {
	"0.1", "0.2", "0.4", "0.8", "1.6", "3.2", "6.4", "12.8", "+Inf"
};
static const char *const sm_le[MX_SM_HIST_N] = {
	"0.002", "0.004", "0.008", "0.016", "0.032", "0.064", "0.128", "0.256",
	"0.512", "1.024", "2.048", "4.096", "8.192", "16.384", "+Inf"
};

static const struct {
	const char *name; /* counters without _total */
	const char *type;
	const char *help;
} fams[FAM_END] = {
	[FAM_REQ_TOTAL] = { "traces_service_graph_request", "counter",
		"Total count of requests between two nodes." },
	[FAM_REQ_FAILED] = { "traces_service_graph_request_failed", "counter",
		"Total count of failed requests between two nodes." },
	[FAM_SERVER_SECONDS] = { "traces_service_graph_request_server_seconds",
		"histogram",
		"Time for a request between two nodes as seen from the server." },
	[FAM_CLIENT_SECONDS] = { "traces_service_graph_request_client_seconds",
		"histogram",
		"Time for a request between two nodes as seen from the client." },
	[FAM_UNPAIRED] = { "traces_service_graph_unpaired_spans", "counter",
		"Total count of unpaired spans." },
	[FAM_DROPPED] = { "traces_service_graph_dropped_spans", "counter",
		"Total count of dropped spans." },
	[FAM_SM_CALLS] = { "traces_spanmetrics_calls", "counter",
		"Total count of spans by service, name, kind and status." },
	[FAM_SM_LATENCY] = { "traces_spanmetrics_latency", "histogram",
		"Span durations by service, name, kind and status, in seconds." },
};

static void header(const char *name, const char *type, const char *help,
		   enum mx_prom_format f, struct mx_buf *out)
{
	const char *sfx = strcmp(type, "counter") == 0 ? "_total" : "";
	if (f == MX_PROM_OPENMETRICS)
		mx_buf_printf(out, "# TYPE %s %s\n# HELP %s %s\n", name, type,
			      name, help);
	else
		mx_buf_printf(out, "# HELP %s%s %s\n# TYPE %s%s %s\n", name, sfx,
			      help, name, sfx, type);
}

static void put_u64(struct mx_buf *out, uint64_t v)
{
	char num[24];
	size_t n = mx_prom_fmt_u64(v, num);
	mx_buf_append(out, num, n);
	mx_buf_putc(out, '\n');
}

/* The service graph's own counters (always written). */
static void render_self(const struct mx_sg_stats *st, enum mx_prom_format f,
			struct mx_buf *out)
{
	const struct {
		const char *name, *type, *help;
		uint64_t v;
	} t[] = {
		{ "mixd_servicegraph_pending", "gauge",
		  "Entries of the service graph's pairing table: spans waiting for "
		  "their other half, and pairs remembered until their wait ends.",
		  st->pending },
		{ "mixd_servicegraph_pairs", "counter",
		  "Client and server spans paired into a request.", st->paired },
		{ "mixd_servicegraph_expired_edges", "counter",
		  "Requests counted from a span whose other half did not come "
		  "within the wait (virtual nodes, user).", st->expired_edges },
		{ "mixd_servicegraph_duplicate_spans", "counter",
		  "Spans ignored by the service graph because the same half was "
		  "seen within the wait.", st->duplicates },
		{ "mixd_servicegraph_series_overflow", "counter",
		  "Service-graph and span-metrics updates lost because their "
		  "series table was full.", st->series_overflow },
		{ "mixd_servicegraph_unread_batches", "counter",
		  "Stored batches whose spans the service graph could not read "
		  "(out of memory).", st->facts_failed },
		{ "mixd_dependency_counts_dropped", "counter",
		  "Dependency link counts lost because too many were pending at "
		  "once.", st->dep_dropped },
		{ "mixd_dependency_rows_expired", "counter",
		  "Dependency link rows deleted by retention.", st->dep_rows_expired },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		bool counter = strcmp(t[i].type, "counter") == 0;
		header(t[i].name, t[i].type, t[i].help, f, out);
		mx_buf_printf(out, "%s%s ", t[i].name, counter ? "_total" : "");
		put_u64(out, t[i].v);
	}
}

static const char *kind_label(uint8_t k)
{
	static const char *const names[] = {
		"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
		"SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER",
	};
	return k < 6 ? names[k] : names[0];
}

static const char *status_label(uint8_t s)
{
	static const char *const names[] = {
		"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR",
	};
	return s < 3 ? names[s] : names[0];
}

static void label(struct mx_buf *b, const char *name, struct mx_str v, bool first)
{
	if (!first)
		mx_buf_putc(b, ',');
	mx_buf_puts(b, name);
	mx_buf_puts(b, "=\"");
	mx_prom_escape_label(b, v);
	mx_buf_putc(b, '"');
}

static struct mx_str cs(const char *s)
{
	return (struct mx_str){ s, (uint32_t)strlen(s) };
}

/* The number of series family `fam` has (before filtering), and whether
 * series i is written. */
static size_t fam_size(const struct mx_sg_snap *s, int fam)
{
	switch (fam) {
	case FAM_REQ_TOTAL: case FAM_REQ_FAILED:
	case FAM_SERVER_SECONDS: case FAM_CLIENT_SECONDS:
		return s->n_edges;
	case FAM_UNPAIRED: case FAM_DROPPED:
		return s->n_sides;
	case FAM_SM_CALLS: case FAM_SM_LATENCY:
		return s->n_spans;
	default:
		return 0;
	}
}

static bool shown(const struct mx_sg_snap *s, int fam, size_t i)
{
	switch (fam) {
	case FAM_REQ_FAILED: return s->edges[i].failed > 0;
	case FAM_UNPAIRED: return s->sides[i].unpaired > 0;
	case FAM_DROPPED: return s->sides[i].dropped > 0;
	default: return true;
	}
}

/* The escaped label block of series i of family fam into it->labels. */
static void series_labels(struct mx_prom_tempo_iter *it, int fam, size_t i)
{
	const struct mx_sg_snap *s = it->s;
	struct mx_buf *b = &it->labels;
	mx_buf_reset(b);
	if (fam <= FAM_CLIENT_SECONDS) {
		const struct mx_sg_edge_series *e = &s->edges[i];
		label(b, "client", e->client, true);
		label(b, "server", e->server, false);
		label(b, "connection_type", cs(mx_sg_conn_name(e->conn)), false);
	} else if (fam <= FAM_DROPPED) {
		const struct mx_sg_side_series *d = &s->sides[i];
		label(b, d->server ? "server" : "client", d->service, true);
	} else {
		const struct mx_sm_series *m = &s->spans[i];
		label(b, "service", m->service, true);
		label(b, "span_name", m->span_name, false);
		label(b, "span_kind", cs(kind_label(m->kind)), false);
		label(b, "status_code", cs(status_label(m->status)), false);
	}
}

static void sample(struct mx_buf *out, const char *name, const char *sfx,
		   const struct mx_buf *labels, const char *le, uint64_t v)
{
	mx_buf_puts(out, name);
	mx_buf_puts(out, sfx);
	mx_buf_putc(out, '{');
	mx_buf_append(out, labels->data, labels->len);
	if (le) {
		mx_buf_puts(out, labels->len ? ",le=\"" : "le=\"");
		mx_buf_puts(out, le);
		mx_buf_putc(out, '"');
	}
	mx_buf_puts(out, "} ");
	put_u64(out, v);
}

static void histogram(struct mx_buf *out, const char *name,
		      const struct mx_buf *labels, const uint64_t *b,
		      const char *const *le, int n, uint64_t sum_ns)
{
	uint64_t cum = 0;
	for (int k = 0; k < n; k++) {
		cum = b[k] > UINT64_MAX - cum ? UINT64_MAX : cum + b[k];
		sample(out, name, "_bucket", labels, le[k], cum);
	}
	char num[48];
	mx_prom_fmt_double((double)sum_ns / 1e9, num);
	mx_buf_puts(out, name);
	mx_buf_puts(out, "_sum{");
	mx_buf_append(out, labels->data, labels->len);
	mx_buf_puts(out, "} ");
	mx_buf_puts(out, num);
	mx_buf_putc(out, '\n');
	sample(out, name, "_count", labels, NULL, cum);
}

/* Writes series i of family fam. */
static void render_series(struct mx_prom_tempo_iter *it, int fam, size_t i,
			  struct mx_buf *out)
{
	const struct mx_sg_snap *s = it->s;
	const char *name = fams[fam].name;
	series_labels(it, fam, i);
	switch (fam) {
	case FAM_REQ_TOTAL:
		sample(out, name, "_total", &it->labels, NULL, s->edges[i].requests);
		break;
	case FAM_REQ_FAILED:
		sample(out, name, "_total", &it->labels, NULL, s->edges[i].failed);
		break;
	case FAM_SERVER_SECONDS:
		histogram(out, name, &it->labels, s->edges[i].server_b, sg_le,
			  MX_SG_HIST_N, s->edges[i].server_sum_ns);
		break;
	case FAM_CLIENT_SECONDS:
		histogram(out, name, &it->labels, s->edges[i].client_b, sg_le,
			  MX_SG_HIST_N, s->edges[i].client_sum_ns);
		break;
	case FAM_UNPAIRED:
		sample(out, name, "_total", &it->labels, NULL, s->sides[i].unpaired);
		break;
	case FAM_DROPPED:
		sample(out, name, "_total", &it->labels, NULL, s->sides[i].dropped);
		break;
	case FAM_SM_CALLS:
		sample(out, name, "_total", &it->labels, NULL, s->spans[i].calls);
		break;
	case FAM_SM_LATENCY:
		histogram(out, name, &it->labels, s->spans[i].b, sm_le,
			  MX_SM_HIST_N, s->spans[i].sum_ns);
		break;
	default:
		break;
	}
}

void mx_prom_tempo_iter_init(struct mx_prom_tempo_iter *it,
			     const struct mx_sg_snap *s, enum mx_prom_format f)
{
	memset(it, 0, sizeof(*it));
	it->s = s;
	it->fmt = (uint8_t)f;
	mx_buf_init(&it->labels, 4u * 4096u);
}

int mx_prom_tempo_iter_next(struct mx_prom_tempo_iter *it, struct mx_buf *out,
			    size_t want)
{
	size_t start = out->len;
	enum mx_prom_format f = (enum mx_prom_format)it->fmt;
	while (it->fam < FAM_END && out->len - start < want) {
		int fam = it->fam;
		if (fam == FAM_SELF) {
			render_self(&it->s->stats, f, out);
			it->fam++;
			continue;
		}
		size_t n = fam_size(it->s, fam);
		while (it->next < n && !shown(it->s, fam, it->next))
			it->next++;
		if (it->next >= n) {
			it->fam++;
			it->next = 0;
			it->in_family = false;
			continue;
		}
		if (!it->in_family) {
			header(fams[fam].name, fams[fam].type, fams[fam].help, f, out);
			it->in_family = true;
		}
		render_series(it, fam, it->next++, out);
		if (out->failed || it->labels.failed) {
			it->fam = FAM_END;
			return MX_ENOMEM;
		}
	}
	if (out->failed) {
		it->fam = FAM_END;
		return MX_ENOMEM;
	}
	return it->fam < FAM_END ? 1 : 0;
}

void mx_prom_tempo_iter_free(struct mx_prom_tempo_iter *it)
{
	if (!it)
		return;
	mx_buf_free(&it->labels);
}

int mx_prom_tempo_render(const struct mx_sg_snap *s, enum mx_prom_format f,
			 struct mx_buf *out)
{
	struct mx_prom_tempo_iter it;
	int rc;
	mx_prom_tempo_iter_init(&it, s, f);
	do
		rc = mx_prom_tempo_iter_next(&it, out, SIZE_MAX);
	while (rc == 1);
	mx_prom_tempo_iter_free(&it);
	return rc;
}
