/*
 * config.h - mixd's command-line flags (Prometheus style:
 * `--name=value` or `--name value`), their defaults and `--help` text.
 */
#ifndef MX_CONFIG_H
#define MX_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../codec/codec.h"
#include "../storage/store.h"
#include "http.h"
#include "log.h"

struct mx_config {
	struct mx_store_config store;
	struct mx_http_limits http;
	struct mx_decode_limits decode;
	const char *otlp_addr;
	const char *query_addr;
	const char *web_addr;
	/* receivers of later releases: accepted so that configurations written
	 * for the full port table start, not yet served */
	const char *zipkin_addr;
	const char *jaeger_collector_addr;
	const char *jaeger_compact_addr;
	const char *jaeger_binary_addr;
	const char *report_addr;
	const char *retention; /* --storage.retention as given; NULL: 72h
				  (main.c parses it into store.retention_ns) */
	const char *idle_timeout; /* --metrics.idle-timeout as given; NULL:
				     10m (main.c parses it) */
	const char *sg_wait;      /* --servicegraph.wait as given; NULL: 10s */
	uint32_t sg_max_items;    /* --servicegraph.max-items */
	enum mx_log_level log_level;
	uint32_t query_max_spans;
	uint32_t query_timeout_ms;
	bool strict_trace_id;
	bool help;
	bool version;
};

/* Fills the defaults. */
void mx_config_default(struct mx_config *cfg);

/* Parses argv into `cfg` (which holds the defaults). Returns 0, or -1 after
 * writing a message naming the bad flag into `err`. String values point into
 * argv. */
int mx_config_parse(struct mx_config *cfg, int argc, char **argv, char *err,
		    size_t errlen);

/* Prints the usage text with every flag and its default. */
void mx_config_usage(FILE *out);

/* Parses "16MiB", "8GiB", "512KiB", "100MB", "1024" into bytes. Returns 0 or
 * -1. */
int mx_parse_size(const char *s, uint64_t *out);

#endif
