/*
 * ui_api.h - small query-listener endpoints the web UI needs beyond the
 * Jaeger and Kiali APIs: GET /api/namespaces, the namespaces that had
 * traffic, in Kiali's shape `[{"name":"ns"},...]` (sorted by name), read
 * from the metrics rollups (storage/metrics.h) over [now - duration, now]:
 * every source workload, destination workload and destination service
 * namespace of a series that changed in that window, "unknown" and empty
 * ones left out. `duration` is a Go duration ("1h", "600s"; default 1h).
 * Bad parameters answer 400 with Kiali's error JSON {"error":"..."}.
 */
#ifndef MX_UI_API_H
#define MX_UI_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../collector/http.h"
#include "../model/buf.h"
#include "../storage/store.h"
#include "params.h"

#define MX_UI_API_N_ROUTES 1
/* Distinct namespaces one answer lists at most (more are left out, and the
 * answer says so in header X-Mixd-Truncated: true). */
#define MX_UI_MAX_NAMESPACES 4096

struct mx_ui_api_ctx {
	struct mx_store *store;
	/* wall clock in Unix ns; NULL: the real one (tests inject theirs) */
	uint64_t (*now_ns)(void);
	/* private: the route table handed out by mx_ui_api_routes() */
	struct mx_route routes[MX_UI_API_N_ROUTES];
};

/* Fills ctx->routes and points *out at them; returns how many: GET
 * /api/namespaces (exact). Place them before a catch-all of the same
 * listener (the Jaeger table ends with one). `ctx` must outlive the
 * server. */
size_t mx_ui_api_routes(struct mx_ui_api_ctx *ctx, const struct mx_route **out);

/* Computes the namespace list without HTTP: parameters `p` (duration),
 * the window ending at `now_ns`. Writes the JSON body (the list, or the
 * error JSON) to `out` (initialised by the caller, with its cap), sets
 * *truncated when namespaces were left out, and returns the HTTP status:
 * 200, 400 or 500 (store failure, memory or response cap). */
unsigned mx_ui_namespaces_answer(struct mx_store *st, const struct mx_params *p,
				 uint64_t now_ns, struct mx_buf *out,
				 bool *truncated);

#endif
