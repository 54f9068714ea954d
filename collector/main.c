/*
 * main.c - the mixd daemon: parse flags, open the store, bind the listeners,
 * print the bound addresses, serve until SIGTERM/SIGINT, then stop in order:
 * stop accepting, commit what is queued (answering the waiting requests),
 * stop the HTTP server, close the store, exit 0.
 *
 * Signals are blocked in every thread and taken synchronously here with
 * sigwait(), so no handler runs in an arbitrary thread.
 *
 * `mixd backup DIR [--storage.path=...]` copies the store into DIR (a
 * consistent snapshot, also while a mixd is running on it) and exits.
 */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../model/error.h"
#include "../query/dependencies.h"
#include "../query/graph.h"
#include "../query/jaeger_api.h"
#include "../query/ui_api.h"
#include "../query/zipkin_api.h"
#include "../storage/sgraph.h"
#include "../storage/store.h"
#include "admin.h"
#include "config.h"
#include "http.h"
#include "jaeger_receiver.h"
#include "log.h"
#include "otlp_receiver.h"
#include "report_receiver.h"
#include "udp.h"
#include "web_ui.h"
#include "zipkin_receiver.h"

#ifndef MIXD_VERSION
#define MIXD_VERSION "0.1.0"
#endif

/* `mixd backup DIR [flags]`: the flags are mixd's (only --storage.path
 * matters). Exit 0 on success, 1 on failure, 2 on bad usage. */
static int run_backup(int argc, char **argv)
{
	struct mx_config cfg;
	struct mx_store_backup_info info;
	char err[512];
	const char *dir = NULL;
	char **args = calloc((size_t)argc + 1, sizeof(*args));
	int n = 0;

	if (!args)
		return 1;
	args[n++] = argv[0];
	for (int i = 2; i < argc; i++) {
		if (!dir && argv[i][0] != '-')
			dir = argv[i];
		else
			args[n++] = argv[i];
	}
	mx_config_default(&cfg);
	int prc = mx_config_parse(&cfg, n, args, err, sizeof(err));
	free(args); /* the values point into argv, not into args */
	if (prc != 0) {
		fprintf(stderr, "mixd backup: %s\n", err);
		return 2;
	}
	if (!dir || cfg.help) {
		fprintf(cfg.help ? stdout : stderr,
			"usage: mixd backup DIR [--storage.path=PATH]\n"
			"Copies the store at PATH (default ./data) into DIR (created; must be\n"
			"empty) as a consistent, compacted snapshot, also while mixd runs.\n");
		return cfg.help ? 0 : 2;
	}
	int rc = mx_store_backup(cfg.store.path, dir, &info, err, sizeof(err));
	if (rc != MX_OK) {
		fprintf(stderr, "mixd %s\n", err);
		return 1;
	}
	printf("mixd backup: copied %s to %s: schema version %u, %llu spans, "
	       "%llu trace segments, %llu bytes",
	       cfg.store.path, dir, info.schema_version,
	       (unsigned long long)info.spans,
	       (unsigned long long)info.trace_segments,
	       (unsigned long long)info.bytes);
	if (info.spans)
		printf(", arrivals %llu .. %llu (Unix ns)",
		       (unsigned long long)info.oldest_arrival_ns,
		       (unsigned long long)info.newest_arrival_ns);
	printf("\n");
	return 0;
}

#define MAX_LISTENER_ROUTES 64

/* Appends n routes to a listener's table of MAX_LISTENER_ROUTES (more are
 * a programming error: aborts at start). Returns the new count. */
static size_t route_append(struct mx_route *table, size_t used,
			   const struct mx_route *add, size_t n)
{
	if (used + n > MAX_LISTENER_ROUTES)
		abort();
	memcpy(table + used, add, n * sizeof(*add));
	return used + n;
}

int main(int argc, char **argv)
{
	struct mx_config cfg;
	char err[512];
	int exit_code = 1;
	struct mx_store *store = NULL;
	struct mx_http_server *http = NULL;
	struct mx_udp_server *udp = NULL;
	static struct mx_jaeger_receiver jaeger;
	static struct mx_otlp_receiver otlp;
	static struct mx_zipkin_receiver zipkin;
	static struct mx_report_receiver report;
	static struct mx_zipkin_query_ctx zipkin_query;
	static struct mx_route zipkin_routes[MAX_LISTENER_ROUTES];
	static struct mx_route query_all[MAX_LISTENER_ROUTES];
	size_t n_zipkin = 0, n_query_all = 0;
	static struct mx_query_ctx query;
	static struct mx_deps_ctx deps;
	static struct mx_admin admin;
	uint64_t sg_wait_ns = 0;

	if (argc >= 2 && strcmp(argv[1], "backup") == 0)
		return run_backup(argc, argv);
	mx_config_default(&cfg);
	if (mx_config_parse(&cfg, argc, argv, err, sizeof(err)) != 0) {
		fprintf(stderr, "mixd: %s\n", err);
		return 2;
	}
	if (mx_store_parse_duration(cfg.retention ? cfg.retention : "72h",
				    &cfg.store.retention_ns) != MX_OK) {
		fprintf(stderr, "mixd: invalid value '%s' for --storage.retention\n",
			cfg.retention);
		return 2;
	}
	if (mx_store_parse_duration(cfg.idle_timeout ? cfg.idle_timeout : "10m",
				    &cfg.store.metrics_idle_ns) != MX_OK) {
		fprintf(stderr, "mixd: invalid value '%s' for --metrics.idle-timeout\n",
			cfg.idle_timeout);
		return 2;
	}
	if (mx_store_parse_duration(cfg.sg_wait ? cfg.sg_wait : "10s", &sg_wait_ns) != MX_OK) {
		fprintf(stderr, "mixd: invalid value '%s' for --servicegraph.wait\n", cfg.sg_wait);
		return 2;
	}
	if (cfg.help) {
		mx_config_usage(stdout);
		return 0;
	}
	if (cfg.version) {
		printf("mixd %s\n", MIXD_VERSION);
		return 0;
	}
	mx_log_set_level(cfg.log_level);
	/* Batch arenas grow to a few MiB and die with their request. Keep such
	 * chunks on the heap and the heap from shrinking after every request:
	 * otherwise each batch pays for fresh pages (mmap, page faults, munmap),
	 * measured at about a third of protobuf decode time. Memory held stays
	 * bounded by the decode budget and the writer queue. */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);

	/* block the stop signals in every thread created from here on */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	int rc = mx_store_open(&cfg.store, &store, err, sizeof(err));
	if (rc != MX_OK) {
		mx_log(MX_LOG_ERROR, "main", "cannot open the store at %s: %s", cfg.store.path, err);
		goto out;
	}
	mx_store_sgraph_configure(store, sg_wait_ns, cfg.sg_max_items);
	http = mx_http_new(&cfg.http);
	if (!http)
		goto out;

	mx_otlp_receiver_init(&otlp, store, &cfg.decode);
	query.store = store;
	query.max_spans = cfg.query_max_spans;
	query.strict_trace_id = cfg.strict_trace_id;
	query.query_timeout_ms = cfg.query_timeout_ms;
	const struct mx_route *query_routes;
	size_t n_query = mx_jaeger_routes(&query, &query_routes);
	mx_zipkin_receiver_init(&zipkin, store, &cfg.decode);
	zipkin_query.store = store;
	zipkin_query.max_spans = cfg.query_max_spans;
	zipkin_query.strict_trace_id = cfg.strict_trace_id;
	zipkin_query.query_timeout_ms = cfg.query_timeout_ms;
	zipkin_query.autocomplete_keys = cfg.store.autocomplete_keys;
	const struct mx_route *zq_routes;
	size_t n_zq = mx_zipkin_query_routes(&zipkin_query, &zq_routes);
	/* one listener: ingest (POST) and query (GET) routes together */
	n_zipkin = route_append(zipkin_routes, n_zipkin, zipkin.routes, 2);
	n_zipkin = route_append(zipkin_routes, n_zipkin, zq_routes, n_zq);
	/* the query listener: other modules' routes first, as the Jaeger
	 * table ends with its /api/ catch-all (the first match wins) */
	const struct mx_route *dz, *dj; /* dependency links (query/dependencies.h) */
	deps.store = store;
	size_t n_dz = mx_deps_zipkin_routes(&deps, &dz), n_dj = mx_deps_jaeger_routes(&deps, &dj);
	n_zipkin = route_append(zipkin_routes, n_zipkin, dz, n_dz);
	n_query_all = route_append(query_all, n_query_all, dj, n_dj);
	static struct mx_graph_ctx graph_ctx; /* the graph API (query/graph.h) */
	const struct mx_route *gr;
	graph_ctx.store = store;
	size_t n_gr = mx_graph_routes(&graph_ctx, &gr);
	n_query_all = route_append(query_all, n_query_all, gr, n_gr);
	static struct mx_ui_api_ctx ui_api = { 0 }; /* the web UI: /api/namespaces, /, /assets/ */
	static struct mx_web_ui web_ui;
	const struct mx_route *ua, *wu;
	ui_api.store = store;
	size_t n_ua = mx_ui_api_routes(&ui_api, &ua), n_wu = mx_web_ui_routes(&web_ui, mx_web_files, mx_web_n_files, &wu);
	n_query_all = route_append(query_all, n_query_all, ua, n_ua);
	n_query_all = route_append(query_all, n_query_all, wu, n_wu);
	n_query_all = route_append(query_all, n_query_all, query_routes, n_query);
	mx_admin_init(&admin, store, http);
	mx_admin_add_receiver(&admin, "otlp", &otlp.stats);
	mx_admin_add_receiver(&admin, "zipkin", &zipkin.stats);
	mx_jaeger_receiver_init(&jaeger, store, &cfg.decode);
	mx_admin_add_receiver(&admin, "jaeger_http", &jaeger.stats);
	mx_report_receiver_init(&report, store, &cfg.decode);
	mx_admin_add_receiver(&admin, "report", &report.stats);
	udp = mx_udp_new(store, &cfg.decode);
	if (!udp)
		goto out;
	mx_admin_set_extra(&admin, "udp", mx_udp_vars_json, udp);
	mx_admin_set_udp(&admin, udp, mx_udp_listener_stats);

	if (mx_http_listen(http, "otlp", cfg.otlp_addr, otlp.routes, 1, err, sizeof(err)) != MX_OK ||
	    mx_http_listen(http, "zipkin", cfg.zipkin_addr, zipkin_routes, n_zipkin, err, sizeof(err)) != MX_OK ||
	    mx_http_listen(http, "jaeger_collector", cfg.jaeger_collector_addr, jaeger.routes, 1, err, sizeof(err)) != MX_OK ||
	    mx_http_listen(http, "report", cfg.report_addr, report.routes, 1, err, sizeof(err)) != MX_OK ||
	    mx_http_listen(http, "query", cfg.query_addr, query_all, n_query_all, err, sizeof(err)) != MX_OK ||
	    mx_http_listen(http, "web", cfg.web_addr, admin.routes, MX_ADMIN_N_ROUTES, err, sizeof(err)) != MX_OK ||
	    mx_udp_listen(udp, "jaeger_compact", cfg.jaeger_compact_addr, MX_THRIFT_COMPACT, err, sizeof(err)) != MX_OK ||
	    mx_udp_listen(udp, "jaeger_binary", cfg.jaeger_binary_addr, MX_THRIFT_BINARY, err, sizeof(err)) != MX_OK) {
		mx_log(MX_LOG_ERROR, "main", "%s", err);
		goto out;
	}
	if (mx_http_start(http) != MX_OK || mx_udp_start(udp) != MX_OK)
		goto out;

	char bound[2048];
	mx_http_bound_json(http, bound, sizeof(bound));
	mx_udp_bound_json(udp, bound, sizeof(bound));
	printf("mixd listening %s\n", bound);
	fflush(stdout);
	mx_log(MX_LOG_INFO, "main", "mixd %s started: store %s, sync %s, listening %s",
	       MIXD_VERSION, cfg.store.path,
	       cfg.store.sync == MX_SYNC_FULL ? "full" : cfg.store.sync == MX_SYNC_META ? "meta" : "none",
	       bound);

	int sig = 0;
	while (sigwait(&stop, &sig) != 0)
		;
	mx_log(MX_LOG_INFO, "main", "signal %d: stopping", sig);
	exit_code = 0;
out:
	/* no more datagrams; those handed over are still committed */
	mx_udp_stop(udp);
	/* requests already begun finish normally: the writer still runs */
	if (http)
		mx_http_drain(http, 10000);
	if (store)
		mx_store_shutdown(store); /* commits anything left, answers waiters */
	mx_http_free(http, 1000);
	mx_udp_free(udp); /* after the last commit callback */
	mx_store_close(store);
	if (exit_code == 0)
		mx_log(MX_LOG_INFO, "main", "stopped");
	return exit_code;
}
