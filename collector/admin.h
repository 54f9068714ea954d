/*
 * admin.h - the web listener's own endpoints: GET /healthz (the process is
 * alive), GET /readyz (the store is open and its writer runs),
 * GET /debug/vars (self-metrics as one JSON object) and GET /metrics (the
 * Prometheus endpoint: mixd's self-metrics, then the Istio standard
 * metrics from the store).
 *
 * /metrics negotiates the format from Accept (OpenMetrics 1.0 or text
 * 0.0.4, with the matching Content-Type), compresses with gzip when
 * Accept-Encoding allows, and streams: the numbers and the store's series
 * snapshot are taken when the response starts, rendered chunk by chunk as
 * the socket drains, and released when the response ends or the client
 * goes away. At most MX_ADMIN_MAX_RENDERS responses render at once; more
 * are answered 503 with Retry-After: 1.
 */
#ifndef MX_ADMIN_H
#define MX_ADMIN_H

#include <stdatomic.h>
#include <stddef.h>

#include "../model/buf.h"
#include "../storage/store.h"
#include "http.h"
#include "ingest.h"
#include "udp.h"

#define MX_ADMIN_MAX_RECEIVERS 8
#define MX_ADMIN_N_ROUTES 4  /* entries of mx_admin.routes */
#define MX_ADMIN_MAX_RENDERS 4 /* /metrics responses rendering at once */

/* Listener `i`'s name and counters of a UDP server, or NULL past the last
 * listener (the shape of an accessor in collector/udp.h). */
typedef const struct mx_udp_stats *(*mx_admin_udp_stats_fn)(
	const struct mx_udp_server *udp, size_t i, const char **name);

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
	/* the UDP listeners, for /metrics */
	const struct mx_udp_server *udp;
	mx_admin_udp_stats_fn udp_stats;
	/* /metrics */
	_Atomic unsigned renders;         /* responses rendering now */
	_Atomic uint64_t renders_refused; /* answered 503 for that */
	struct mx_route routes[MX_ADMIN_N_ROUTES];
};

/* Fills the route table; the pointers must outlive the HTTP server. */
void mx_admin_init(struct mx_admin *a, struct mx_store *store,
		   struct mx_http_server *http);

/* Adds a receiver's counters to /debug/vars and /metrics (at most
 * MX_ADMIN_MAX_RECEIVERS; more are ignored). `name` must outlive the
 * server. The one named "report" also gives mixd_reports_refused_total. */
void mx_admin_add_receiver(struct mx_admin *a, const char *name,
			   struct mx_receiver_stats *stats);

/* Makes the UDP listeners' counters part of /metrics (as receivers named
 * after the listeners): `fn(udp, i, &name)` is called for i = 0, 1, ...
 * until it returns NULL, on a pool thread for every scrape, so it must be
 * thread-safe. `udp` must outlive the HTTP server. Replaces an earlier
 * one; NULL `fn` turns it off. */
void mx_admin_set_udp(struct mx_admin *a, const struct mx_udp_server *udp,
		      mx_admin_udp_stats_fn fn);

/* Adds one more member `key` to /debug/vars, whose value `fn(ctx, b)`
 * appends to `b` as a JSON value (called on a pool thread for every request,
 * so it must be thread-safe). Replaces an earlier one. `key` must be a plain
 * JSON name and outlive the server. */
void mx_admin_set_extra(struct mx_admin *a, const char *key,
			void (*fn)(void *ctx, struct mx_buf *b), void *ctx);

#endif
