/*
 * graph_params.c - the parameters and paths of the graph API (graph.h),
 * checked in the order of Kiali's graph/options.go and appender parsing so
 * that the first bad parameter gives Kiali's message: "Invalid duration
 * [x]", "Invalid graphType [x]", "Invalid boxBy [x]", "Invalid appender
 * [x]", "At least one namespace must be specified via the namespaces query
 * parameter." and so on.
 *
 * Durations are Prometheus durations ("1h30m", "2d", "500ms"; what Kiali
 * parses), and Go durations ("1.5h", "10m0s") are accepted too; the window
 * is the whole seconds of it and must be at least 1 s.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../model/error.h"
#include "graph_int.h"

#define PATH_NS "/api/namespaces/"

/* A parameter as Go's url.Values.Get gives it: "" when absent. */
static const char *param(const struct mx_params *p, const char *name)
{
	const char *v = p->get(p->ctx, name);
	return v ? v : "";
}

static bool present(const struct mx_params *p, const char *name)
{
	const char *one;
	return p->get_all(p->ctx, name, &one, 1) > 0;
}

/* prometheus/common model.ParseDuration: "0", or units y w d h m s ms in
 * that order, each at most once, integer amounts. */
static bool parse_prom_duration(const char *s, uint64_t *ms_out)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {
		{ "y", 365ull * 24 * 3600 * 1000 }, { "w", 7ull * 24 * 3600 * 1000 },
		{ "d", 24ull * 3600 * 1000 }, { "h", 3600ull * 1000 },
		{ "m", 60ull * 1000 }, { "s", 1000 }, { "ms", 1 },
	};
	if (strcmp(s, "0") == 0) {
		*ms_out = 0;
		return true;
	}
	if (!*s)
		return false;
	uint64_t total = 0;
	size_t next = 0; /* the first unit still allowed */
	while (*s) {
		if (*s < '0' || *s > '9')
			return false;
		uint64_t v = 0;
		while (*s >= '0' && *s <= '9') {
			if (v > (UINT64_MAX - 9) / 10)
				return false;
			v = v * 10 + (uint64_t)(*s++ - '0');
		}
		size_t u;
		/* "ms" before "m" */
		if (s[0] == 'm' && s[1] == 's')
			u = 6;
		else {
			for (u = 0; u < 6; u++)
				if (s[0] == units[u].unit[0])
					break;
			if (u == 6)
				return false;
		}
		if (u < next)
			return false;
		s += strlen(units[u].unit);
		next = u + 1;
		if (v > (UINT64_MAX / 2 - total) / units[u].ms)
			return false;
		total += v * units[u].ms;
	}
	*ms_out = total;
	return true;
}

/* strconv.ParseBool */
static bool parse_bool(const char *s, bool *out)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };
	for (size_t i = 0; i < 6; i++) {
		if (strcmp(s, t[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcmp(s, f[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* strconv.ParseInt(s, 10, 64) */
static bool parse_int64(const char *s, int64_t *out)
{
	bool neg = false;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (!*s)
		return false;
	uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		uint64_t d = (uint64_t)(*s - '0');
		if (v > (lim - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* The trimmed element [b, e) of a comma list. */
static struct mx_str trim(const char *b, const char *e)
{
	while (b < e && is_space(*b))
		b++;
	while (e > b && is_space(e[-1]))
		e--;
	return (struct mx_str){ b, (uint32_t)(e - b) };
}

/* Splits the path into o's node fields. Returns 200 or 404. */
static unsigned parse_path(const char *path, char *scratch, size_t len,
			   struct g_opts *o)
{
	char *seg[8];
	size_t n = 0;
	if (strcmp(path, PATH_NS "graph") == 0)
		return 200;
	if (strncmp(path, PATH_NS, strlen(PATH_NS)) != 0 ||
	    strlen(path) >= len)
		return 404;
	strcpy(scratch, path + strlen(PATH_NS));
	for (char *s = scratch; n < 8;) {
		seg[n++] = s;
		char *slash = strchr(s, '/');
		if (!slash)
			break;
		*slash = '\0';
		s = slash + 1;
	}
	for (size_t i = 0; i < n; i++)
		if (!*seg[i])
			return 404;
	if (n < 4 || strcmp(seg[n - 1], "graph") != 0)
		return 404;
	o->node_ns = (struct mx_str){ seg[0], (uint32_t)strlen(seg[0]) };
	o->node_name = (struct mx_str){ seg[2], (uint32_t)strlen(seg[2]) };
	if (n == 4 && strcmp(seg[1], "workloads") == 0)
		o->node = NK_WORKLOAD;
	else if (n == 4 && strcmp(seg[1], "applications") == 0)
		o->node = NK_APP;
	else if (n == 4 && strcmp(seg[1], "services") == 0)
		o->node = NK_SERVICE;
	else if (n == 6 && strcmp(seg[1], "applications") == 0 &&
		 strcmp(seg[3], "versions") == 0) {
		o->node = NK_VERSION;
		o->node_version = (struct mx_str){ seg[4], (uint32_t)strlen(seg[4]) };
	} else
		return 404;
	return 200;
}

static unsigned bad(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static unsigned bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return 400;
}

/* The namespaces: the path's for a node graph, else the list. */
static unsigned parse_namespaces(const struct mx_params *p, struct g_opts *o,
				 char *err, size_t errlen)
{
	if (o->node != NK_NONE) {
		o->ns[0] = o->node_ns;
		o->n_ns = 1;
		return 200;
	}
	const char *list = param(p, "namespaces");
	if (!*list)
		return bad(err, errlen, "At least one namespace must be specified "
			   "via the namespaces query parameter.");
	for (const char *b = list;;) {
		const char *e = strchr(b, ',');
		if (!e)
			e = b + strlen(b);
		struct mx_str s = trim(b, e);
		bool dup = false;
		for (uint32_t i = 0; i < o->n_ns && !dup; i++)
			dup = o->ns[i].len == s.len && memcmp(o->ns[i].ptr, s.ptr, s.len) == 0;
		if (!dup) {
			if (o->n_ns == G_MAX_NS)
				return bad(err, errlen, "Too many namespaces [%s]", list);
			o->ns[o->n_ns++] = s;
		}
		if (!*e)
			break;
		b = e + 1;
	}
	return 200;
}

static unsigned parse_rates(const struct mx_params *p, struct g_opts *o,
			    char *err, size_t errlen)
{
	static const struct {
		const char *name;
		uint8_t v;
	} names[] = {
		{ "none", RATE_NONE }, { "requests", RATE_REQUESTS },
		{ "sent", RATE_SENT }, { "received", RATE_RECEIVED },
		{ "total", RATE_TOTAL },
	};
	const char *amb = param(p, "ambientTraffic");
	if (*amb && strcmp(amb, "none") && strcmp(amb, "total") &&
	    strcmp(amb, "waypoint") && strcmp(amb, "ztunnel"))
		/* (Kiali prints the default here, not the value given) */
		return bad(err, errlen, "Invalid Ambient Traffic [%s]", "total");
	const char *g = param(p, "rateGrpc"), *h = param(p, "rateHttp"),
		   *t = param(p, "rateTcp");
	o->rate_grpc = RATE_REQUESTS;
	o->rate_http = RATE_REQUESTS;
	o->rate_tcp = RATE_SENT;
	if (*g) {
		size_t i;
		for (i = 0; i < 5 && strcmp(g, names[i].name); i++)
			;
		if (i == 5)
			return bad(err, errlen, "Invalid gRPC Rate [%s]", g);
		o->rate_grpc = names[i].v;
	}
	if (*h) {
		if (strcmp(h, "none") == 0)
			o->rate_http = RATE_NONE;
		else if (strcmp(h, "requests") != 0)
			return bad(err, errlen, "Invalid HTTP Rate [%s]", h);
	}
	if (*t) {
		size_t i;
		for (i = 0; i < 5 && (strcmp(t, names[i].name) || i == 1); i++)
			;
		if (i == 5)
			return bad(err, errlen, "Invalid TCP Rate [%s]", t);
		o->rate_tcp = names[i].v;
	}
	return 200;
}

/* appenders, then the parameters of the appenders that run */
static unsigned parse_appenders(const struct mx_params *p, struct g_opts *o,
				char *err, size_t errlen)
{
	static const struct {
		const char *name;
		unsigned bit;
	} known[] = {
		{ "aggregateNode", 0 }, { "deadNode", G_APP_DEAD }, { "idleNode", 0 },
		{ "istio", 0 }, { "meshCheck", 0 }, { "sidecarsCheck", 0 },
		{ "responseTime", G_APP_RT }, { "securityPolicy", G_APP_SEC },
		{ "serviceEntry", 0 }, { "throughput", G_APP_TP },
		{ "workloadEntry", 0 }, { "ambient", 0 }, { "health", 0 },
		{ "labeler", 0 }, { "outsider", 0 }, { "trafficGenerator", 0 },
		{ "", 0 },
	};
	o->appenders = G_APP_DEAD | G_APP_RT | G_APP_SEC | G_APP_TP;
	if (present(p, "appenders")) {
		const char *list = param(p, "appenders");
		o->appenders = 0;
		for (const char *b = list;;) {
			const char *e = strchr(b, ',');
			if (!e)
				e = b + strlen(b);
			struct mx_str s = trim(b, e);
			size_t i, nk = sizeof(known) / sizeof(known[0]);
			for (i = 0; i < nk; i++)
				if (strlen(known[i].name) == s.len &&
				    memcmp(known[i].name, s.ptr, s.len) == 0)
					break;
			if (i == nk) {
				snprintf(err, errlen, "Invalid appender [%.*s]", (int)s.len, s.ptr);
				return 400;
			}
			o->appenders |= known[i].bit;
			if (!*e)
				break;
			b = e + 1;
		}
	}
	o->quantile = 0.95;
	const char *rt = param(p, "responseTime");
	if ((o->appenders & G_APP_RT) && *rt) {
		if (strcmp(rt, "avg") == 0)
			o->quantile = 0;
		else if (strcmp(rt, "50") == 0)
			o->quantile = 0.5;
		else if (strcmp(rt, "95") == 0)
			o->quantile = 0.95;
		else if (strcmp(rt, "99") == 0)
			o->quantile = 0.99;
		else
			return bad(err, errlen, "Invalid responseTime, must be one of: "
				   "avg | 50 | 95 | 99: [%s]", rt);
	}
	const char *tt = param(p, "throughputType");
	if ((o->appenders & G_APP_TP) && *tt) {
		if (strcmp(tt, "request") && strcmp(tt, "response"))
			return bad(err, errlen, "Invalid throughputType, expecting one "
				   "of (request, response). [%s]", tt);
		o->tp_request = strcmp(tt, "request") == 0;
	}
	return 200;
}

unsigned mx_graph_parse(const char *path, const struct mx_params *p,
			int64_t now_s, char *scratch, size_t scratch_len,
			struct g_opts *o, char *err, size_t errlen)
{
	memset(o, 0, sizeof(*o));
	if (parse_path(path ? path : "", scratch, scratch_len, o) != 200) {
		snprintf(err, errlen, "not found");
		return 404;
	}
	const char *cv = param(p, "configVendor");
	if (*cv && strcmp(cv, "common"))
		return bad(err, errlen, "Invalid configVendor [%s]", cv);
	const char *d = param(p, "duration");
	uint64_t ms = 600000, ns;
	if (*d) {
		if (parse_prom_duration(d, &ms))
			;
		else if (mx_parse_go_duration(d, &ns) == MX_OK)
			ms = ns / 1000000;
		else
			return bad(err, errlen, "Invalid duration [%s]", d);
	}
	o->dur_s = ms / 1000;
	if (o->dur_s == 0)
		return bad(err, errlen, "Invalid duration [%s]", d);
	const char *gt = param(p, "graphType");
	o->gtype = GT_WORKLOAD;
	if (strcmp(gt, "app") == 0)
		o->gtype = GT_APP;
	else if (strcmp(gt, "versionedApp") == 0)
		o->gtype = GT_VAPP;
	else if (strcmp(gt, "service") == 0)
		o->gtype = GT_SERVICE;
	else if (*gt && strcmp(gt, "workload"))
		return bad(err, errlen, "Invalid graphType [%s]", gt);
	if ((o->node == NK_APP || o->node == NK_VERSION) && o->gtype != GT_APP &&
	    o->gtype != GT_VAPP)
		return bad(err, errlen, "Invalid graphType [%s]. This node detail "
			   "graph supports only graphType app or versionedApp.",
			   *gt ? gt : "workload");
	const char *bb = param(p, "boxBy");
	if (*bb) {
		for (const char *b = bb;;) {
			const char *e = strchr(b, ',');
			if (!e)
				e = b + strlen(b);
			struct mx_str s = trim(b, e);
			if (!mx_str_eq(s, "app", 3) && !mx_str_eq(s, "cluster", 7) &&
			    !mx_str_eq(s, "namespace", 9))
				return bad(err, errlen, "Invalid boxBy [%s]", bb);
			if (!*e)
				break;
			b = e + 1;
		}
		/* Kiali tests the raw string with strings.Contains */
		o->box_app = strstr(bb, "app") != NULL;
		o->box_ns = strstr(bb, "namespace") != NULL;
		o->box_cluster = strstr(bb, "cluster") != NULL;
	}
	const char *ie = param(p, "includeIdleEdges");
	if (*ie && !parse_bool(ie, &o->idle))
		return bad(err, errlen, "Invalid includeIdleEdges [%s]", ie);
	const char *is = param(p, "injectServiceNodes");
	if (o->gtype != GT_SERVICE && *is && !parse_bool(is, &o->inject))
		return bad(err, errlen, "Invalid injectServiceNodes [%s]", is);
	const char *qt = param(p, "queryTime");
	o->query_time = now_s;
	if (*qt && !parse_int64(qt, &o->query_time))
		return bad(err, errlen, "Invalid queryTime [%s]", qt);
	const char *tv = param(p, "telemetryVendor");
	if (*tv && strcmp(tv, "istio"))
		return bad(err, errlen, "Invalid telemetryVendor [%s]", tv);
	unsigned st = parse_namespaces(p, o, err, errlen);
	if (st == 200)
		st = parse_rates(p, o, err, errlen);
	if (st != 200)
		return st;
	if (o->gtype == GT_SERVICE)
		o->inject = true;
	const char *cl = param(p, "clusterName");
	o->cluster = *cl ? cl : "unknown";
	return parse_appenders(p, o, err, errlen);
}
