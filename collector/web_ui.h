/*
 * web_ui.h - the web UI's static files on the query listener.
 *
 * The UI (dashboards/web: topology graph, trace search, trace view) is
 * bundled at build time and embedded into mixd as generated C
 * (scripts/embed_web.js writes $(BUILD)/gen/web_assets.c: the table
 * mx_web_files[]). These routes serve it: GET / is index.html, GET
 * /assets/<name> a content-hashed bundle. Every answer carries a strong
 * ETag (If-None-Match answers 304), the Content-Security-Policy below
 * (no inline script, no other origin), X-Content-Type-Options: nosniff and
 * Referrer-Policy: no-referrer; index.html is `Cache-Control: no-cache`
 * (revalidated on every load, so a new mixd's UI shows at once), the
 * hashed assets `public, max-age=31536000, immutable`. A file stored
 * gzipped as well is sent gzipped to clients that accept it (Vary:
 * Accept-Encoding; that variant has its own ETag).
 */
#ifndef MX_WEB_UI_H
#define MX_WEB_UI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

/* The Content-Security-Policy of every UI answer. */
#define MX_WEB_CSP                                                          \
	"default-src 'self'; script-src 'self'; style-src 'self'; "        \
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; "    \
	"base-uri 'none'; frame-ancestors 'none'"

/* One embedded file. */
struct mx_web_file {
	const char *path;         /* URL path: "/index.html", "/assets/..." */
	const char *content_type;
	const char *etag;         /* quoted strong ETag of `data` */
	const char *etag_gz;      /* quoted strong ETag of `gz` */
	bool immutable;           /* content-hashed name: cache for a year */
	const uint8_t *data;
	size_t len;
	const uint8_t *gz;        /* gzip of data, or NULL when not smaller */
	size_t gz_len;
};

/* The generated table (build/gen/web_assets.c); only mixd links it. */
extern const struct mx_web_file mx_web_files[];
extern const size_t mx_web_n_files;

#define MX_WEB_N_ROUTES 2

struct mx_web_ui {
	const struct mx_web_file *files;
	size_t n_files;
	/* private: the route table handed out by mx_web_ui_routes() */
	struct mx_route routes[MX_WEB_N_ROUTES];
};

/* Points `ui` at `files` (n of them; they must outlive the server), fills
 * its routes and points *out at them; returns the number of routes: GET /
 * (exact) and GET /assets/ (prefix; an unknown name answers 404). Neither
 * overlaps /api/, so their place in a listener's table does not matter. */
size_t mx_web_ui_routes(struct mx_web_ui *ui, const struct mx_web_file *files,
			size_t n, const struct mx_route **out);

/* The file served for URL path `path` ("/" is "/index.html"), or NULL. */
const struct mx_web_file *mx_web_ui_find(const struct mx_web_ui *ui,
					 const char *path);

/* True when an If-None-Match header value (NULL: absent) matches `etag`
 * (a quoted ETag): "*", or a comma-separated list holding it, compared
 * weakly as RFC 9110 wants for If-None-Match (a W/ prefix is ignored). */
bool mx_web_etag_matches(const char *if_none_match, const char *etag);

#endif
