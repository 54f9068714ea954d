/*
 * admin.h - the web listener's own endpoints: GET /healthz (the process is
 * alive), GET /readyz (the store is open and its writer runs) and
 * GET /debug/vars (self-metrics as one JSON object, until the Prometheus
 * endpoint exists).
 */
#ifndef MX_ADMIN_H
#define MX_ADMIN_H

#include "../model/buf.h"
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
	/* one extra top-level object in /debug/vars (e.g. the UDP listeners) */
	const char *extra_key;
	void (*extra_fn)(void *ctx, struct mx_buf *b);
	void *extra_ctx;
	struct mx_route routes[3];
};

/* Fills the route table; the pointers must outlive the HTTP server. */
void mx_admin_init(struct mx_admin *a, struct mx_store *store,
		   struct mx_http_server *http);

/* Adds a receiver's counters to /debug/vars (at most MX_ADMIN_MAX_RECEIVERS;
 * more are ignored). `name` must outlive the server. */
void mx_admin_add_receiver(struct mx_admin *a, const char *name,
			   struct mx_receiver_stats *stats);

/* Adds one more member `key` to /debug/vars, whose value `fn(ctx, b)`
 * appends to `b` as a JSON value (called on a pool thread for every request,
 * so it must be thread-safe). Replaces an earlier one. `key` must be a plain
 * JSON name and outlive the server. */
void mx_admin_set_extra(struct mx_admin *a, const char *key,
			void (*fn)(void *ctx, struct mx_buf *b), void *ctx);

#endif
