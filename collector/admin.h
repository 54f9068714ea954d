/*
 * admin.h - the web listener's own endpoints: GET /healthz (the process is
 * alive), GET /readyz (the store is open and its writer runs) and
 * GET /debug/vars (self-metrics as one JSON object, until the Prometheus
 * endpoint exists).
 */
#ifndef MX_ADMIN_H
#define MX_ADMIN_H

#include "../storage/store.h"
#include "http.h"
#include "ingest.h"

#define MX_ADMIN_MAX_RECEIVERS 8

struct mx_admin {
	struct mx_store *store;
	struct mx_http_server *http;
	const char *rx_names[MX_ADMIN_MAX_RECEIVERS];
	struct mx_receiver_stats *rx_stats[MX_ADMIN_MAX_RECEIVERS];
	unsigned n_rx;
	struct mx_route routes[3];
};

/* Fills the route table; the pointers must outlive the HTTP server. */
void mx_admin_init(struct mx_admin *a, struct mx_store *store,
		   struct mx_http_server *http);

/* Adds a receiver's counters to /debug/vars (at most MX_ADMIN_MAX_RECEIVERS;
 * more are ignored). `name` must outlive the server. */
void mx_admin_add_receiver(struct mx_admin *a, const char *name,
			   struct mx_receiver_stats *stats);

#endif
