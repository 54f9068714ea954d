/*
 * web_ui.c - serves the embedded web UI (web_ui.h): finds the file of a
 * path, answers If-None-Match with 304, picks the gzip variant when the
 * client accepts it, and adds the caching and security headers. The bytes
 * are static (compiled into mixd); an answer copies them once into the
 * response.
 */
#include "web_ui.h"

#include <stdbool.h>
#include <string.h>

#include "../query/prom.h"

#define CC_INDEX "no-cache"
#define CC_IMMUTABLE "public, max-age=31536000, immutable"

const struct mx_web_file *mx_web_ui_find(const struct mx_web_ui *ui,
					 const char *path)
{
	if (!ui || !path)
		return NULL;
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	for (size_t i = 0; i < ui->n_files; i++)
		if (strcmp(ui->files[i].path, path) == 0)
			return &ui->files[i];
	return NULL;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

bool mx_web_etag_matches(const char *inm, const char *etag)
{
	if (!inm || !etag)
		return false;
	size_t elen = strlen(etag);
	const char *p = inm;
	while (*p) {
		while (is_ows(*p) || *p == ',')
			p++;
		if (!*p)
			break;
		const char *start = p;
		while (*p && *p != ',')
			p++;
		const char *end = p;
		while (end > start && is_ows(end[-1]))
			end--;
		if (end - start == 1 && *start == '*')
			return true;
		if (end - start > 2 && start[0] == 'W' && start[1] == '/')
			start += 2;
		if ((size_t)(end - start) == elen && memcmp(start, etag, elen) == 0)
			return true;
	}
	return false;
}

static void handle(struct mx_http_req *req, void *ctx)
{
	const struct mx_web_ui *ui = ctx;
	const struct mx_web_file *f = mx_web_ui_find(ui, mx_http_path(req));
	if (!f) {
		mx_http_error(req, 404, "not found");
		return;
	}
	bool gz = f->gz && mx_prom_accepts_gzip(mx_http_header(req, "Accept-Encoding"));
	const char *etag = gz ? f->etag_gz : f->etag;
	const char *other = f->gz ? (gz ? f->etag : f->etag_gz) : NULL;
	const char *inm = mx_http_header(req, "If-None-Match");
	/* a client holding either variant holds the current file: 304, with
	 * the ETag of the variant it holds */
	const char *held = mx_web_etag_matches(inm, etag) ? etag
			   : mx_web_etag_matches(inm, other) ? other : NULL;
	const char *h[2 * 7 + 1];
	size_t n = 0;
	h[n++] = "ETag";
	h[n++] = held ? held : etag;
	h[n++] = "Cache-Control";
	h[n++] = f->immutable ? CC_IMMUTABLE : CC_INDEX;
	if (f->gz) {
		h[n++] = "Vary";
		h[n++] = "Accept-Encoding";
	}
	if (held) {
		h[n] = NULL;
		mx_http_respond(req, 304, NULL, NULL, 0, h);
		return;
	}
	h[n++] = "Content-Security-Policy";
	h[n++] = MX_WEB_CSP;
	h[n++] = "X-Content-Type-Options";
	h[n++] = "nosniff";
	h[n++] = "Referrer-Policy";
	h[n++] = "no-referrer";
	if (gz) {
		h[n++] = "Content-Encoding";
		h[n++] = "gzip";
	}
	h[n] = NULL;
	mx_http_respond(req, 200, f->content_type, gz ? f->gz : f->data,
			gz ? f->gz_len : f->len, h);
}

size_t mx_web_ui_routes(struct mx_web_ui *ui, const struct mx_web_file *files,
			size_t n, const struct mx_route **out)
{
	static const char *const paths[MX_WEB_N_ROUTES] = { "/", "/assets/" };
	ui->files = files;
	ui->n_files = n;
	for (size_t i = 0; i < MX_WEB_N_ROUTES; i++)
		ui->routes[i] = (struct mx_route){
			.method = "GET", .path = paths[i],
			.flags = i ? MX_ROUTE_PREFIX : 0, .fn = handle, .ctx = ui,
		};
	*out = ui->routes;
	return MX_WEB_N_ROUTES;
}
