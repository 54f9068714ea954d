/*
 * prom_istio.c - renders Istio's standard metrics as Prometheus text 0.0.4
 * or OpenMetrics 1.0, in chunks (see prom.h).
 *
 * Speed: a series' 25 (or 23) labels appear on every line of every family
 * of that series (67 lines for an HTTP series), and a family's lines must
 * be contiguous, so the iterator escapes each series' label block once,
 * up front, and then writes lines by copying: name, block, `le`, number.
 * Each series is written straight into the output buffer after reserving
 * an upper bound of its size.
 */
#include "prom.h"

#include <stdlib.h>
#include <string.h>

#include "../model/error.h"

#define PI_LABELS_MAX (1u << 30) /* cap of the escaped label cache */

enum pi_type { PI_COUNTER, PI_HISTOGRAM };

enum pi_value {
	PI_REQUESTS,
	PI_DURATION,
	PI_REQ_BYTES,
	PI_RESP_BYTES,
	PI_TCP_OPENED,
	PI_TCP_CLOSED,
	PI_TCP_SENT,
	PI_TCP_RECEIVED,
};

struct pi_family {
	const char *name;    /* the sample name (counters: with _total) */
	const char *om_name; /* the OpenMetrics family name */
	const char *help;
	uint8_t kind;        /* enum mx_istio_kind */
	uint8_t type;        /* enum pi_type */
	uint8_t value;       /* enum pi_value */
};

static const struct pi_family pi_families[] = {
	{ "istio_requests_total", "istio_requests",
	  "Requests handled, counted when the request completes.",
	  MX_ISTIO_HTTP, PI_COUNTER, PI_REQUESTS },
	{ "istio_request_duration_milliseconds",
	  "istio_request_duration_milliseconds",
	  "Request completion time in milliseconds.",
	  MX_ISTIO_HTTP, PI_HISTOGRAM, PI_DURATION },
	{ "istio_request_bytes", "istio_request_bytes",
	  "Request size in bytes (headers and body, as received from downstream).",
	  MX_ISTIO_HTTP, PI_HISTOGRAM, PI_REQ_BYTES },
	{ "istio_response_bytes", "istio_response_bytes",
	  "Response size in bytes (headers and body, as sent downstream).",
	  MX_ISTIO_HTTP, PI_HISTOGRAM, PI_RESP_BYTES },
	{ "istio_tcp_connections_opened_total", "istio_tcp_connections_opened",
	  "TCP connections opened.",
	  MX_ISTIO_TCP, PI_COUNTER, PI_TCP_OPENED },
	{ "istio_tcp_connections_closed_total", "istio_tcp_connections_closed",
	  "TCP connections closed.",
	  MX_ISTIO_TCP, PI_COUNTER, PI_TCP_CLOSED },
	{ "istio_tcp_sent_bytes_total", "istio_tcp_sent_bytes",
	  "Bytes sent to downstream on TCP connections.",
	  MX_ISTIO_TCP, PI_COUNTER, PI_TCP_SENT },
	{ "istio_tcp_received_bytes_total", "istio_tcp_received_bytes",
	  "Bytes received from downstream on TCP connections.",
	  MX_ISTIO_TCP, PI_COUNTER, PI_TCP_RECEIVED },
};

#define PI_N_FAMILIES (sizeof(pi_families) / sizeof(pi_families[0]))

/* Longest `le` string ("3600000") plus the `,le="` and `"` around it. */
#define PI_LE_MAX 16
/* Longest number: a u64 (20) or a double (47). */
#define PI_NUM_MAX 48
/* An exemplar: ` # {trace_id="<32>",span_id="<16>"} <value> <ts>`. */
#define PI_EXEMPLAR_MAX (40 + 32 + 16 + PI_NUM_MAX + 32)

static char *pi_put(char *w, const char *s, size_t n)
{
	memcpy(w, s, n);
	return w + n;
}

static char *pi_puts(char *w, const char *s)
{
	return pi_put(w, s, strlen(s));
}

static void pi_header(const struct pi_family *f, enum mx_prom_format fmt,
		      struct mx_buf *out)
{
	const char *type = f->type == PI_COUNTER ? "counter" : "histogram";
	if (fmt == MX_PROM_OPENMETRICS) {
		/* recommended order TYPE, HELP; names without _total */
		mx_buf_printf(out, "# TYPE %s %s\n# HELP %s %s\n", f->om_name,
			      type, f->om_name, f->help);
	} else {
		mx_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name,
			      f->help, f->name, type);
	}
}

static uint64_t pi_counter(const struct mx_istio_series *s, uint8_t v)
{
	switch (v) {
	case PI_REQUESTS:
		return s->count;
	case PI_TCP_OPENED:
		return s->tcp_opened;
	case PI_TCP_CLOSED:
		return s->tcp_closed;
	case PI_TCP_SENT:
		return s->tcp_sent;
	default:
		return s->tcp_received;
	}
}

static const struct mx_prom_hist *pi_hist(const struct mx_istio_series *s,
					  uint8_t v)
{
	if (v == PI_DURATION)
		return &s->duration;
	return v == PI_REQ_BYTES ? &s->request_bytes : &s->response_bytes;
}

/* name{labels}<suffix> with `name` + `sfx` as the metric name. */
static char *pi_open(char *w, const char *name, size_t name_n,
		     const char *sfx, const char *lab, size_t lab_n)
{
	w = pi_put(w, name, name_n);
	w = pi_puts(w, sfx);
	*w++ = '{';
	return pi_put(w, lab, lab_n);
}

static char *pi_exemplar(char *w, const struct mx_exemplar *e)
{
	char hex[33];
	w = pi_puts(w, " # {trace_id=\"");
	mx_id_to_hex(e->trace_id, 16, hex);
	w = pi_put(w, hex, 32);
	if (!mx_id_is_zero(e->span_id, 8)) {
		w = pi_puts(w, "\",span_id=\"");
		mx_id_to_hex(e->span_id, 8, hex);
		w = pi_put(w, hex, 16);
	}
	w = pi_puts(w, "\"} ");
	w += mx_prom_fmt_double(e->value, w);
	if (e->time_ns) { /* seconds, to the millisecond */
		uint64_t ms = e->time_ns / 1000000u;
		*w++ = ' ';
		w += mx_prom_fmt_u64(ms / 1000u, w);
		*w++ = '.';
		uint32_t frac = (uint32_t)(ms % 1000u);
		*w++ = (char)('0' + frac / 100);
		*w++ = (char)('0' + frac / 10 % 10);
		*w++ = (char)('0' + frac % 10);
	}
	return w;
}

/* Writes every line of series `s` in family `f`. */
static int pi_series(const struct mx_prom_iter *it, const struct pi_family *f,
		     const struct mx_istio_series *s, const char *lab,
		     size_t lab_n, struct mx_buf *out)
{
	size_t name_n = strlen(f->name);
	size_t line = name_n + 16 + lab_n + PI_LE_MAX + PI_NUM_MAX;
	size_t bound = f->type == PI_COUNTER ? line :
		(MX_HIST_BUCKETS + 2) * line + PI_EXEMPLAR_MAX;
	if (mx_buf_reserve(out, bound) != MX_OK)
		return MX_ENOMEM;
	char *w0 = (char *)out->data + out->len, *w = w0;

	if (f->type == PI_COUNTER) {
		w = pi_open(w, f->name, name_n, "", lab, lab_n);
		w = pi_put(w, "} ", 2);
		w += mx_prom_fmt_u64(pi_counter(s, f->value), w);
		*w++ = '\n';
		out->len += (size_t)(w - w0);
		return MX_OK;
	}
	const struct mx_prom_hist *h = pi_hist(s, f->value);
	int ex_bucket = -1;
	if (it->fmt == MX_PROM_OPENMETRICS && f->value == PI_DURATION &&
	    s->has_exemplar)
		ex_bucket = (int)mx_hist_bucket_of(s->exemplar.value);
	uint64_t cum = 0;
	for (int i = 0; i < MX_HIST_BUCKETS; i++) {
		uint64_t b = h->buckets[i];
		cum = b > UINT64_MAX - cum ? UINT64_MAX : cum + b;
		w = pi_open(w, f->name, name_n, "_bucket", lab, lab_n);
		w = pi_put(w, ",le=\"", 5);
		w = pi_puts(w, mx_hist_le[i]);
		w = pi_put(w, "\"} ", 3);
		w += mx_prom_fmt_u64(cum, w);
		if (i == ex_bucket)
			w = pi_exemplar(w, &s->exemplar);
		*w++ = '\n';
	}
	w = pi_open(w, f->name, name_n, "_sum", lab, lab_n);
	w = pi_put(w, "} ", 2);
	w += mx_prom_fmt_double(h->sum, w);
	*w++ = '\n';
	w = pi_open(w, f->name, name_n, "_count", lab, lab_n);
	w = pi_put(w, "} ", 2);
	w += mx_prom_fmt_u64(cum, w);
	*w++ = '\n';
	out->len += (size_t)(w - w0);
	return MX_OK;
}

int mx_prom_iter_init(struct mx_prom_iter *it, const struct mx_istio_series *s,
		      size_t n, enum mx_prom_format f)
{
	memset(it, 0, sizeof(*it));
	it->s = s;
	it->n = n;
	it->fmt = (uint8_t)f;
	mx_buf_init(&it->labels, PI_LABELS_MAX);
	if (n >= PI_LABELS_MAX)
		return MX_ENOMEM;
	it->label_off = malloc((n + 1) * sizeof(*it->label_off));
	if (!it->label_off)
		return MX_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		it->label_off[i] = (uint32_t)it->labels.len;
		if (s[i].kind > MX_ISTIO_TCP)
			continue; /* never rendered */
		it->n_kind[s[i].kind]++;
		bool tcp = s[i].kind == MX_ISTIO_TCP;
		const char *const *names = tcp ? mx_istio_tcp_label_names :
			mx_istio_http_label_names;
		int nl = tcp ? MX_ISTIO_TCP_LABELS : MX_ISTIO_HTTP_LABELS;
		for (int j = 0; j < nl; j++) {
			if (j)
				mx_buf_putc(&it->labels, ',');
			mx_buf_puts(&it->labels, names[j]);
			mx_buf_append(&it->labels, "=\"", 2);
			mx_prom_escape_label(&it->labels, s[i].labels[j]);
			mx_buf_putc(&it->labels, '"');
		}
		if (it->labels.failed)
			return MX_ENOMEM;
	}
	it->label_off[n] = (uint32_t)it->labels.len;
	return MX_OK;
}

int mx_prom_iter_next(struct mx_prom_iter *it, struct mx_buf *out, size_t want)
{
	if (it->done)
		return 0;
	size_t start = out->len;
	while (it->fam < PI_N_FAMILIES) {
		const struct pi_family *f = &pi_families[it->fam];
		if (it->n_kind[f->kind] == 0) {
			it->fam++;
			continue;
		}
		if (!it->in_family) {
			pi_header(f, (enum mx_prom_format)it->fmt, out);
			it->in_family = true;
			it->next = 0;
		}
		while (it->next < it->n) {
			size_t i = it->next++;
			if (it->s[i].kind != f->kind)
				continue;
			const char *lab = (const char *)it->labels.data +
				it->label_off[i];
			size_t lab_n = it->label_off[i + 1] - it->label_off[i];
			if (pi_series(it, f, &it->s[i], lab, lab_n, out) != MX_OK ||
			    out->failed) {
				it->done = true;
				return MX_ENOMEM;
			}
			if (out->len - start >= want)
				return 1;
		}
		it->fam++;
		it->in_family = false;
	}
	if (it->fmt == MX_PROM_OPENMETRICS)
		mx_buf_puts(out, "# EOF\n");
	it->done = true;
	return out->failed ? MX_ENOMEM : 0;
}

void mx_prom_iter_free(struct mx_prom_iter *it)
{
	if (!it)
		return;
	mx_buf_free(&it->labels);
	free(it->label_off);
	it->label_off = NULL;
}

int mx_prom_render(const struct mx_istio_series *s, size_t n,
		   enum mx_prom_format f, struct mx_buf *out)
{
	struct mx_prom_iter it;
	int rc = mx_prom_iter_init(&it, s, n, f);
	if (rc == MX_OK) {
		do
			rc = mx_prom_iter_next(&it, out, SIZE_MAX);
		while (rc == 1);
	}
	mx_prom_iter_free(&it);
	return rc;
}
