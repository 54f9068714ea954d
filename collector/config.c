/*
 * config.c - flag parsing (see config.h). One table drives parsing and
 * `--help`, so the two never disagree.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum flag_kind { F_STR, F_SIZE, F_U32, F_SYNC, F_LOG, F_BOOL };

struct flag {
	const char *name;
	enum flag_kind kind;
	size_t offset;
	const char *def; /* for --help */
	const char *help;
};

#define OFF(m) offsetof(struct mx_config, m)

static const struct flag flags[] = {
	{ "storage.path", F_STR, OFF(store.path), "./data", "Directory of the LMDB store (created if missing)." },
	{ "storage.max-size", F_SIZE, OFF(store.max_size), "8GiB", "Largest size of the store; the LMDB map grows up to it, and past ~90 % the oldest data is evicted." },
	{ "storage.sync", F_SYNC, OFF(store.sync), "full", "Commit durability: full (survives power loss), meta, none (survives a process crash only)." },
	{ "storage.queue-batches", F_U32, OFF(store.queue_max_batches), "1024", "Writer queue bound in batches; past it ingest answers 429." },
	{ "storage.group-batches", F_U32, OFF(store.group_max_batches), "64", "Most batches committed in one transaction." },
	{ "storage.group-ms", F_U32, OFF(store.group_max_ms), "10", "Longest a transaction collects batches, in ms." },
	{ "storage.retention", F_STR, OFF(retention), "72h", "Spans are deleted this long after they arrived (e.g. 72h, 30m, 7d; 0 keeps them until evicted for space)." },
	{ "storage.sweep-spans", F_U32, OFF(store.sweep_spans), "4096", "Fewest spans one retention or eviction step deletes (it also keeps up with ingest)." },
	{ "storage.initial-size", F_SIZE, OFF(store.initial_size), "64MiB", "Map size at start; it doubles on demand up to --storage.max-size." },
	{ "otlp.listen-address", F_STR, OFF(otlp_addr), "localhost:4318", "OTLP/HTTP receiver (POST /v1/traces). Empty disables." },
	{ "query.listen-address", F_STR, OFF(query_addr), "localhost:16686", "Jaeger query API. Empty disables." },
	{ "web.listen-address", F_STR, OFF(web_addr), "localhost:42422", "Health (/healthz, /readyz) and /debug/vars. Empty disables." },
	{ "zipkin.listen-address", F_STR, OFF(zipkin_addr), "localhost:9411", "Zipkin receiver (POST /api/v2/spans, /api/v1/spans) and query API. Empty disables." },
	{ "jaeger.collector-listen-address", F_STR, OFF(jaeger_collector_addr), "localhost:14268", "Jaeger collector: thrift binary Batch over HTTP (POST /api/traces). Empty disables." },
	{ "jaeger.agent-compact-listen-address", F_STR, OFF(jaeger_compact_addr), "localhost:6831", "Jaeger agent: Agent.emitBatch in thrift compact over UDP. Empty disables." },
	{ "jaeger.agent-binary-listen-address", F_STR, OFF(jaeger_binary_addr), "localhost:6832", "Jaeger agent: Agent.emitBatch in thrift binary over UDP. Empty disables." },
	{ "report.listen-address", F_STR, OFF(report_addr), "localhost:9091", "Native libmixd reports (POST /v1/report). Empty disables." },
	{ "metrics.max-series", F_U32, OFF(store.metrics_max_series), "100000", "Most Istio series shown at once; past it new label sets are counted into overflow series." },
	{ "metrics.idle-timeout", F_STR, OFF(idle_timeout), "10m", "A series not updated this long stops being shown (its state is kept until retention); 0 never." },
	{ "servicegraph.wait", F_STR, OFF(sg_wait), "10s", "How long a client or server span waits for its other half before it counts alone (virtual node, user, unpaired)." },
	{ "servicegraph.max-items", F_U32, OFF(sg_max_items), "1000000", "Most spans waiting for their other half (and pairs remembered against repeats); past it spans are dropped from the service graph and counted." },
	{ "zipkin.autocomplete-keys", F_STR, OFF(store.autocomplete_keys), "", "Comma-separated tag keys whose values Zipkin's autocomplete offers." },
	{ "query.timeout", F_U32, OFF(query_timeout_ms), "5000", "Longest a search runs, in ms; past it the answer is flagged truncated." },
	{ "query.max-trace-spans", F_U32, OFF(query_max_spans), "100000", "Most spans returned for one trace." },
	{ "query.strict-trace-id", F_BOOL, OFF(strict_trace_id), "false", "A 64-bit trace id matches only 64-bit traces." },
	{ "http.max-body", F_SIZE, OFF(http.max_body), "16MiB", "Largest request body as sent (413 past it)." },
	{ "http.max-decompressed-body", F_SIZE, OFF(http.max_decompressed), "64MiB", "Largest request body after gzip inflation (413 past it)." },
	{ "http.decode-budget", F_SIZE, OFF(http.decode_budget), "256MiB", "Bytes of request bodies held at once across all requests (429 past it)." },
	{ "http.threads", F_U32, OFF(http.threads), "2", "HTTP worker threads (they also decode)." },
	{ "decode.max-depth", F_U32, OFF(decode.max_depth), "32", "Deepest nesting of attribute values accepted (400 past it)." },
	{ "decode.max-value-bytes", F_U32, OFF(decode.max_value_bytes), "262144", "Largest attribute value or name; a span passing it is rejected." },
	{ "log.level", F_LOG, OFF(log_level), "info", "Lowest level logged: debug, info, warn, error." },
};

void mx_config_default(struct mx_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	mx_store_config_default(&cfg->store);
	mx_http_limits_default(&cfg->http);
	mx_decode_limits_default(&cfg->decode);
	cfg->otlp_addr = "localhost:4318";
	cfg->query_addr = "localhost:16686";
	cfg->web_addr = "localhost:42422";
	cfg->zipkin_addr = "localhost:9411";
	cfg->jaeger_collector_addr = "localhost:14268";
	cfg->jaeger_compact_addr = "localhost:6831";
	cfg->jaeger_binary_addr = "localhost:6832";
	cfg->report_addr = "localhost:9091";
	cfg->query_timeout_ms = 5000;
	cfg->log_level = MX_LOG_INFO;
	cfg->query_max_spans = 100000;
}

int mx_parse_size(const char *s, uint64_t *out)
{
	static const struct { const char *suffix; uint64_t mult; } units[] = {
		{ "", 1 }, { "B", 1 }, { "KiB", 1ull << 10 }, { "MiB", 1ull << 20 },
		{ "GiB", 1ull << 30 }, { "TiB", 1ull << 40 }, { "KB", 1000ull },
		{ "MB", 1000000ull }, { "GB", 1000000000ull }, { "TB", 1000000000000ull },
	};
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].suffix) == 0) {
			if (units[i].mult && v > UINT64_MAX / units[i].mult)
				return -1;
			*out = v * units[i].mult;
			return 0;
		}
	}
	return -1;
}

static int set_flag(struct mx_config *cfg, const struct flag *f, const char *val,
		    char *err, size_t errlen)
{
	void *p = (char *)cfg + f->offset;
	switch (f->kind) {
	case F_STR:
		*(const char **)p = val;
		return 0;
	case F_SIZE: {
		uint64_t v;
		if (mx_parse_size(val, &v) != 0 || v == 0)
			break;
		*(uint64_t *)p = v;
		return 0;
	}
	case F_U32: {
		char *end;
		errno = 0;
		unsigned long v = strtoul(val, &end, 10);
		if (errno || end == val || *end || v > UINT32_MAX || *val == '-')
			break;
		*(uint32_t *)p = (uint32_t)v;
		return 0;
	}
	case F_SYNC:
		if (strcmp(val, "full") == 0)
			*(enum mx_sync_mode *)p = MX_SYNC_FULL;
		else if (strcmp(val, "meta") == 0)
			*(enum mx_sync_mode *)p = MX_SYNC_META;
		else if (strcmp(val, "none") == 0)
			*(enum mx_sync_mode *)p = MX_SYNC_NONE;
		else
			break;
		return 0;
	case F_LOG:
		if (mx_log_parse_level(val, (enum mx_log_level *)p) != 0)
			break;
		return 0;
	case F_BOOL:
		if (strcmp(val, "true") == 0 || strcmp(val, "1") == 0)
			*(bool *)p = true;
		else if (strcmp(val, "false") == 0 || strcmp(val, "0") == 0)
			*(bool *)p = false;
		else
			break;
		return 0;
	}
	snprintf(err, errlen, "invalid value '%s' for --%s", val, f->name);
	return -1;
}

int mx_config_parse(struct mx_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			cfg->help = true;
			continue;
		}
		if (strcmp(arg, "--version") == 0) {
			cfg->version = true;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0) {
			snprintf(err, errlen, "unexpected argument '%s'", arg);
			return -1;
		}
		const char *name = arg + 2;
		const char *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		const struct flag *f = NULL;
		for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++) {
			if (strlen(flags[k].name) == nlen && strncmp(flags[k].name, name, nlen) == 0) {
				f = &flags[k];
				break;
			}
		}
		if (!f) {
			snprintf(err, errlen, "unknown flag '--%.*s' (see --help)", (int)nlen, name);
			return -1;
		}
		const char *val;
		if (eq) {
			val = eq + 1;
		} else if (f->kind == F_BOOL && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)) {
			val = "true";
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			snprintf(err, errlen, "flag --%s needs a value", f->name);
			return -1;
		}
		if (set_flag(cfg, f, val, err, errlen) != 0)
			return -1;
	}
	return 0;
}

void mx_config_usage(FILE *out)
{
	fprintf(out,
		"usage: mixd [flags]\n\n"
		"mixd receives traces (OTLP/HTTP), stores them in LMDB and answers the Jaeger\n"
		"query API. An empty listen address disables that listener; port 0 picks a free\n"
		"port. \"localhost\" binds 127.0.0.1 and ::1. Once bound, mixd prints every bound\n"
		"address on stdout as one machine-readable line (see README).\n\nflags:\n");
	for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
		fprintf(out, "  --%-28s %s (default: %s)\n", flags[k].name, flags[k].help,
			flags[k].def);
	fprintf(out, "  --%-28s %s\n  --%-28s %s\n", "help", "Show this text.", "version",
		"Print the version.");
}
