/*
 * dataset.js - the deterministic search data set of search.test.js and
 * query_apis.test.js, and the expected answer of a search computed from it
 * with the per-span semantics of storage/search.h.
 *
 * 48 traces, 20 s apart over 16 minutes ending 10 minutes before now, each
 * a SERVER root in srch-web or srch-api, a CLIENT child calling a
 * downstream service (peer.service = srch-db, srch-cache or srch-auth), the
 * SERVER span of that downstream service and, for every fourth trace, an
 * INTERNAL span; tags of every type (strings, ints, bools), an event on
 * some CLIENT spans, distinct durations, and per-service resource
 * attributes (deployment.environment). All times are whole microseconds.
 * Names are lower case (Zipkin lower-cases them).
 *
 * matches(span, cond) is one span satisfying every condition at once;
 * expected(ds, cond, limit) is the matching trace ids, newest first, at
 * most `limit`. A condition: {service, operation, kind, remote, tags:
 * [{key, value} | {key, word: true}], resourceTags (Jaeger: process tags
 * count), minUs, maxUs, startMinUs, startMaxUs}.
 */
'use strict';

const otlp = require('./otlp');
const { randHex } = require('./util');

const KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3 };
const SERVICES = ['srch-web', 'srch-api', 'srch-db', 'srch-cache', 'srch-auth'];
const ENV = { 'srch-web': 'prod', 'srch-api': 'prod', 'srch-db': 'stage', 'srch-cache': 'prod', 'srch-auth': 'stage' };
const OPS = {
	'srch-web': ['get /home', 'get /cart', 'post /checkout'],
	'srch-api': ['list items', 'create order'],
	'srch-db': ['select', 'insert'],
	'srch-cache': ['cache get'],
	'srch-auth': ['verify token'],
};
const DOWN = ['srch-db', 'srch-cache', 'srch-auth'];
const DURS = [150, 1200, 3500, 9000, 25000, 80000, 250000, 700000];
const N_TRACES = 48;
const STEP_US = 20000000;

/* Typed attribute helpers: {type, v}. */
const S = (v) => ({ type: 's', v });
const I = (v) => ({ type: 'i', v });
const B = (v) => ({ type: 'b', v });

function textOf(a) {
	if (!a)
		return undefined;
	return String(a.v);
}

/* Builds the data set; times relative to nowMs (default Date.now()). */
function build(nowMs = Date.now()) {
	const baseUs = (Math.floor(nowMs / 1000) - 26 * 60) * 1000000;
	const traces = [];
	for (let i = 0; i < N_TRACES; i++) {
		const traceId = randHex(16);
		const T = baseUs + i * STEP_US;
		const rootSvc = i % 3 === 2 ? 'srch-api' : 'srch-web';
		const down = DOWN[i % 3];
		const rootDur = DURS[i % DURS.length];
		const spans = [];
		const root = {
			traceId, spanId: randHex(8), parentId: null, service: rootSvc,
			name: OPS[rootSvc][i % OPS[rootSvc].length], kind: KIND.SERVER,
			startUs: T, durUs: rootDur,
			attrs: {
				'http.method': S(i % 2 ? 'POST' : 'GET'),
				'http.status_code': I(i % 7 === 3 ? 500 : 200),
				'retry.enabled': B(i % 4 === 0),
				'user.tier': S(['gold', 'silver', 'bronze'][i % 3]),
			},
			events: [],
		};
		spans.push(root);
		const client = {
			traceId, spanId: randHex(8), parentId: root.spanId, service: rootSvc,
			name: `call ${down}`, kind: KIND.CLIENT, startUs: T + 100,
			durUs: Math.floor(rootDur / 2) + 7,
			attrs: { 'peer.service': S(down), 'net.peer.port': I(5432) },
			events: i % 5 === 0 ? [{ name: 'retrying', timeUs: T + 150, attrs: { attempt: I(1) } }] : [],
		};
		spans.push(client);
		const server = {
			traceId, spanId: randHex(8), parentId: client.spanId, service: down,
			name: OPS[down][i % OPS[down].length], kind: KIND.SERVER, startUs: T + 200,
			durUs: Math.floor(rootDur / 4) + 3,
			attrs: { 'db.rows': I((i * 3) % 17) },
			events: [],
		};
		if (i % 6 === 1)
			server.attrs['cache.miss'] = B(true);
		spans.push(server);
		if (i % 4 === 1) {
			spans.push({
				traceId, spanId: randHex(8), parentId: root.spanId, service: rootSvc,
				name: 'render', kind: KIND.INTERNAL, startUs: T + 300, durUs: 40 + i,
				attrs: { 'template': S(`t${i % 3}`) }, events: [],
			});
		}
		traces.push({ traceId, startUs: T, spans });
	}
	return { traces, baseUs, endUs: baseUs + N_TRACES * STEP_US };
}

function attrJson(key, a) {
	if (a.type === 's')
		return { key, value: { stringValue: a.v } };
	if (a.type === 'i')
		return { key, value: { intValue: String(a.v) } };
	return { key, value: { boolValue: a.v } };
}

function otlpSpan(sp) {
	const start = BigInt(sp.startUs) * 1000n;
	const s = {
		traceId: sp.traceId, spanId: sp.spanId, name: sp.name, kind: sp.kind,
		startTimeUnixNano: start.toString(),
		endTimeUnixNano: (start + BigInt(sp.durUs) * 1000n).toString(),
		attributes: Object.entries(sp.attrs).map(([k, a]) => attrJson(k, a)),
		events: sp.events.map((e) => ({
			timeUnixNano: (BigInt(e.timeUs) * 1000n).toString(), name: e.name,
			attributes: Object.entries(e.attrs || {}).map(([k, a]) => attrJson(k, a)),
		})),
	};
	if (sp.parentId)
		s.parentSpanId = sp.parentId;
	return s;
}

/* OTLP/JSON requests: one per service (a trace arrives in several
 * requests), in the order given. */
function otlpRequests(ds) {
	const by = new Map();
	for (const t of ds.traces)
		for (const sp of t.spans) {
			if (!by.has(sp.service))
				by.set(sp.service, []);
			by.get(sp.service).push(otlpSpan(sp));
		}
	return [...by.entries()].map(([svc, spans]) => otlp.request(spans, {
		service: svc,
		resourceAttrs: [otlp.str('deployment.environment', ENV[svc]), otlp.str('host.name', `${svc}-host`)],
	}));
}

function resourceAttr(svc, key) {
	if (key === 'deployment.environment')
		return S(ENV[svc]);
	if (key === 'host.name')
		return S(`${svc}-host`);
	return undefined;
}

function remoteOf(sp) {
	const p = sp.attrs['peer.service'];
	return p && p.type === 's' ? p.v : undefined;
}

/* One span satisfies every condition of `c`. */
function matches(sp, c) {
	if (c.service && sp.service !== c.service)
		return false;
	if (c.operation && sp.name !== c.operation)
		return false;
	if (c.kind !== undefined && sp.kind !== c.kind)
		return false;
	if (c.remote && remoteOf(sp) !== c.remote)
		return false;
	for (const t of c.tags || []) {
		if (t.word) {
			if (!sp.events.some((e) => e.name === t.key) && !(t.key in sp.attrs))
				return false;
			continue;
		}
		const own = textOf(sp.attrs[t.key]);
		const res = c.resourceTags ? textOf(resourceAttr(sp.service, t.key)) : undefined;
		if (own !== t.value && res !== t.value)
			return false;
	}
	if (c.minUs && sp.durUs < c.minUs)
		return false;
	if (c.maxUs && sp.durUs > c.maxUs)
		return false;
	if (c.startMinUs !== undefined && sp.startUs < c.startMinUs)
		return false;
	if (c.startMaxUs !== undefined && sp.startUs > c.startMaxUs)
		return false;
	return true;
}

/* Trace ids (as given) matching `c`, newest first, at most `limit`. */
function expected(ds, c, limit) {
	return ds.traces
		.filter((t) => t.spans.some((sp) => matches(sp, c)))
		.sort((a, b) => b.startUs - a.startUs)
		.slice(0, limit)
		.map((t) => t.traceId);
}

module.exports = { build, otlpRequests, matches, expected, KIND, SERVICES, OPS, ENV, DOWN, remoteOf };
