/*
 * metrics.c - Envoy's histogram bounds, Istio's label names and the layout
 * of a label set in Istio's order (see metrics.h).
 */
#include "metrics.h"

#include "error.h"

const double mx_hist_bounds[MX_HIST_BOUNDS] = {
	0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
	60000, 300000, 600000, 1800000, 3600000,
};

const char *const mx_hist_le[MX_HIST_BUCKETS] = {
	"0.5", "1", "5", "10", "25", "50", "100", "250", "500", "1000", "2500",
	"5000", "10000", "30000", "60000", "300000", "600000", "1800000",
	"3600000", "+Inf",
};

#define MX_PEER_LABEL_NAMES                                                  \
	"reporter", "source_workload", "source_canonical_service",            \
	"source_canonical_revision", "source_workload_namespace",             \
	"source_principal", "source_app", "source_version", "source_cluster", \
	"destination_workload", "destination_workload_namespace",             \
	"destination_principal", "destination_app", "destination_version",    \
	"destination_service", "destination_canonical_service",               \
	"destination_canonical_revision", "destination_service_name",         \
	"destination_service_namespace", "destination_cluster"

const char *const mx_istio_http_label_names[MX_ISTIO_HTTP_LABELS] = {
	MX_PEER_LABEL_NAMES, "request_protocol", "response_code",
	"grpc_response_status", "response_flags", "connection_security_policy",
};

const char *const mx_istio_tcp_label_names[MX_ISTIO_TCP_LABELS] = {
	MX_PEER_LABEL_NAMES, "request_protocol", "response_flags",
	"connection_security_policy",
};

uint32_t mx_hist_bucket_of(double v)
{
	for (uint32_t i = 0; i < MX_HIST_BOUNDS; i++)
		if (v <= mx_hist_bounds[i])
			return i;
	return MX_HIST_BUCKETS - 1;
}

int mx_hist_set(struct mx_hist_delta *h, const uint64_t b[MX_HIST_BUCKETS],
		struct mx_arena *arena)
{
	uint32_t nz = 0, n = 0;
	for (uint32_t i = 0; i < MX_HIST_BUCKETS; i++)
		if (b[i]) {
			nz |= 1u << i;
			n++;
		}
	uint64_t *v = NULL;
	if (n && !(v = mx_arena_alloc(arena, n * sizeof(*v))))
		return MX_ENOMEM;
	for (uint32_t i = 0, k = 0; i < MX_HIST_BUCKETS; i++)
		if (b[i])
			v[k++] = b[i];
	h->nz = nz;
	h->vals = v;
	return MX_OK;
}

void mx_istio_labels(const struct mx_series_labels *l, bool tcp,
		     struct mx_str out[MX_ISTIO_HTTP_LABELS])
{
	static const struct mx_workload none;
	const struct mx_workload *local = l->local ? l->local : &none;
	/* without a role (an overflow cell) neither side is known to be the
	 * local workload: both sides take the peer's (absent) identity */
	const struct mx_workload *s =
		l->role == MX_ROLE_SOURCE ? local : &l->peer;
	const struct mx_workload *d =
		l->role == MX_ROLE_DESTINATION ? local : &l->peer;

	if (l->role == MX_ROLE_SOURCE)
		out[0] = MX_STR_LIT("source");
	else if (l->role == MX_ROLE_DESTINATION)
		out[0] = MX_STR_LIT("destination");
	else
		out[0] = MX_STR_LIT("unknown");
	out[1] = s->workload;
	out[2] = s->canonical_service;
	out[3] = s->canonical_revision;
	out[4] = s->workload_namespace;
	out[5] = s->principal;
	out[6] = s->app;
	out[7] = s->version;
	out[8] = s->cluster;
	out[9] = d->workload;
	out[10] = d->workload_namespace;
	out[11] = d->principal;
	out[12] = d->app;
	out[13] = d->version;
	out[14] = l->destination_service;
	out[15] = d->canonical_service;
	out[16] = d->canonical_revision;
	out[17] = l->destination_service_name;
	out[18] = l->destination_service_namespace;
	out[19] = d->cluster;
	out[20] = l->request_protocol;
	if (tcp) {
		out[21] = l->response_flags;
		out[22] = l->connection_security_policy;
		out[23] = MX_STR_LIT("");
		out[24] = MX_STR_LIT("");
	} else {
		out[21] = l->response_code;
		out[22] = l->grpc_response_status;
		out[23] = l->response_flags;
		out[24] = l->connection_security_policy;
	}
}
