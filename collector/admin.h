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
#include "otlp_receiver.h"

struct mx_admin {
	struct mx_store *store;
	struct mx_http_server *http;
	struct mx_otlp_receiver *otlp;
	struct mx_route routes[3];
};

/* Fills the route table; the pointers must outlive the HTTP server. */
void mx_admin_init(struct mx_admin *a, struct mx_store *store,
		   struct mx_http_server *http, struct mx_otlp_receiver *otlp);

#endif
