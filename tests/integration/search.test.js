/*
 * search.test.js - trace search through both query APIs on the real mixd.
 *
 * Loads the deterministic data set of lib/dataset.js (5 services, SERVER,
 * CLIENT and INTERNAL spans, string/int/bool tags, events, peer.service,
 * distinct durations, start times 20 s apart over 16 minutes) through
 * OTLP/JSON with explicit timestamps, one request per service, then checks
 * that Jaeger's GET /api/traces (service, operation, tags, tag, start, end,
 * minDuration, maxDuration, limit) and Zipkin's GET /api/v2/traces
 * (serviceName, spanName, remoteServiceName, annotationQuery, minDuration,
 * maxDuration, endTs, lookback, limit) return EXACTLY the trace ids the
 * data set predicts with the per-span semantics of storage/search.h (one
 * span meets every condition), newest first, limit honoured, every trace
 * whole.
 */
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startMixd } = require('./lib/mixd');
const { request, getJson } = require('./lib/util');
const { jaegerTraceId } = require('./lib/jaeger');
const dataset = require('./lib/dataset');

const { KIND } = dataset;

describe('trace search (Jaeger /api/traces, Zipkin /api/v2/traces)', { timeout: 90000 }, () => {
	let m;
	let ds;
	const spanCount = new Map(); /* jaeger-form trace id -> spans */

	before(async () => {
		m = await startMixd({ args: ['--zipkin.autocomplete-keys=http.method'] });
		ds = dataset.build();
		for (const t of ds.traces)
			spanCount.set(jaegerTraceId(t.traceId), t.spans.length);
		/* one request per service, the downstream services first */
		const reqs = dataset.otlpRequests(ds).reverse();
		for (const req of reqs) {
			const res = await request(`${m.url('otlp')}/v1/traces`, {
				method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(req),
			});
			assert.equal(res.status, 200, `load: ${res.body}`);
			const body = JSON.parse(res.body.toString('utf8') || '{}');
			assert.ok(!body.partialSuccess || !Number(body.partialSuccess.rejectedSpans),
				`load: no span rejected: ${res.body}`);
		}
	});
	after(async () => { if (m) await m.stop(); });

	const T = (i) => ds.baseUs + i * 20000000; /* start of trace i, µs */

	function qs(params) {
		const u = new URLSearchParams();
		for (const [k, v] of params)
			u.append(k, String(v));
		return u.toString();
	}

	async function jaeger(params) {
		return getJson(`${m.url('query')}/api/traces?${qs(params)}`);
	}

	async function zipkin(params) {
		return getJson(`${m.url('zipkin')}/api/v2/traces?${qs(params)}`);
	}

	/* Checks a Jaeger answer against the expectation. */
	function checkJaeger(what, res, exp) {
		assert.equal(res.status, 200, `${what}: status (${JSON.stringify(res.json).slice(0, 300)})`);
		assert.ok(Array.isArray(res.json.data), `${what}: data is an array`);
		const got = res.json.data.map((t) => t.traceID);
		assert.deepEqual(got, exp.map(jaegerTraceId), `${what}: trace ids, newest first`);
		for (const t of res.json.data)
			assert.equal(t.spans.length, spanCount.get(t.traceID), `${what}: trace ${t.traceID} is whole`);
	}

	function checkZipkin(what, res, exp) {
		assert.equal(res.status, 200, `${what}: status (${JSON.stringify(res.json).slice(0, 300)})`);
		assert.ok(Array.isArray(res.json), `${what}: a list of traces`);
		const got = res.json.map((tr) => {
			assert.ok(Array.isArray(tr) && tr.length > 0, `${what}: each trace is a non-empty list of spans`);
			const ids = new Set(tr.map((s) => s.traceId));
			assert.equal(ids.size, 1, `${what}: the spans of one entry share a trace id`);
			return tr[0].traceId;
		});
		assert.deepEqual(got, exp.map(jaegerTraceId), `${what}: trace ids, newest first`);
		for (const tr of res.json)
			assert.equal(tr.length, spanCount.get(tr[0].traceId), `${what}: trace ${tr[0].traceId} is whole`);
	}

	it('the data set is what the cases below rely on', () => {
		/* enough matches for each case to be meaningful */
		assert.ok(dataset.expected(ds, { service: 'srch-web', tags: [{ key: 'http.status_code', value: '500' }] }, 100).length >= 3);
		assert.ok(dataset.expected(ds, { tags: [{ key: 'retrying', word: true }] }, 100).length >= 5);
		/* a per-span condition that a per-trace reading would wrongly satisfy */
		const perTrace = ds.traces.filter((t) => t.spans.some((s) => s.service === 'srch-web') &&
			t.spans.some((s) => s.attrs['db.rows'] && s.attrs['db.rows'].v === 3));
		assert.ok(perTrace.length > 0, 'some web trace has a db span with db.rows=3');
		assert.deepEqual(dataset.expected(ds, { service: 'srch-web', tags: [{ key: 'db.rows', value: '3' }] }, 100), []);
	});

	const jaegerCases = [
		['service only', [['service', 'srch-web']], { service: 'srch-web' }],
		['service + operation', [['service', 'srch-api'], ['operation', 'create order']],
			{ service: 'srch-api', operation: 'create order' }],
		['service + CLIENT operation', [['service', 'srch-web'], ['operation', 'call srch-cache']],
			{ service: 'srch-web', operation: 'call srch-cache' }],
		['int tag', [['service', 'srch-web'], ['tags', '{"http.status_code":"500"}']],
			{ service: 'srch-web', tags: [{ key: 'http.status_code', value: '500' }] }],
		['bool tag', [['service', 'srch-web'], ['tags', '{"retry.enabled":"true"}']],
			{ service: 'srch-web', tags: [{ key: 'retry.enabled', value: 'true' }] }],
		['two tags on one span', [['service', 'srch-web'], ['tags', '{"http.method":"POST","user.tier":"gold"}']],
			{ service: 'srch-web', tags: [{ key: 'http.method', value: 'POST' }, { key: 'user.tier', value: 'gold' }] }],
		['tag= form, repeated', [['service', 'srch-web'], ['tag', 'http.method:GET'], ['tag', 'user.tier:silver']],
			{ service: 'srch-web', tags: [{ key: 'http.method', value: 'GET' }, { key: 'user.tier', value: 'silver' }] }],
		['resource (process) tag', [['service', 'srch-db'], ['tags', '{"deployment.environment":"stage"}']],
			{ service: 'srch-db', resourceTags: true, tags: [{ key: 'deployment.environment', value: 'stage' }] }],
		['resource tag of another service: none', [['service', 'srch-web'], ['tags', '{"deployment.environment":"stage"}']],
			{ service: 'srch-web', resourceTags: true, tags: [{ key: 'deployment.environment', value: 'stage' }] }],
		['peer.service tag', [['service', 'srch-api'], ['tags', '{"peer.service":"srch-db"}']],
			{ service: 'srch-api', tags: [{ key: 'peer.service', value: 'srch-db' }] }],
		['tag of another span of the trace: none', [['service', 'srch-web'], ['tags', '{"db.rows":"3"}']],
			{ service: 'srch-web', tags: [{ key: 'db.rows', value: '3' }] }],
		['no such value', [['service', 'srch-web'], ['tags', '{"http.status_code":"404"}']],
			{ service: 'srch-web', tags: [{ key: 'http.status_code', value: '404' }] }],
		['min and max duration', [['service', 'srch-web'], ['minDuration', '9ms'], ['maxDuration', '250ms']],
			{ service: 'srch-web', minUs: 9000, maxUs: 250000 }],
		['min duration only (downstream spans)', [['service', 'srch-db'], ['minDuration', '20ms']],
			{ service: 'srch-db', minUs: 20000 }],
		['max duration in µs units', [['service', 'srch-web'], ['maxDuration', '1500us']],
			{ service: 'srch-web', maxUs: 1500 }],
		['duration in seconds', [['service', 'srch-web'], ['minDuration', '0.3s']],
			{ service: 'srch-web', minUs: 300000 }],
	];

	for (const [name, params, cond] of jaegerCases) {
		it(`Jaeger: ${name}`, async () => {
			const window = [['start', ds.baseUs - 1000000], ['end', ds.endUs + 1000000]];
			const res = await jaeger([...params, ...window, ['limit', 100]]);
			checkJaeger(name, res, dataset.expected(ds, cond, 100));
		});
	}

	it('Jaeger: start/end window, limit, default window', async () => {
		const startUs = T(10) + 5000000;
		const endUs = T(30) + 5000000;
		let res = await jaeger([['service', 'srch-web'], ['start', startUs], ['end', endUs], ['limit', 100]]);
		const inWindow = dataset.expected(ds, { service: 'srch-web', startMinUs: startUs, startMaxUs: endUs }, 100);
		checkJaeger('window', res, inWindow);
		assert.ok(inWindow.length >= 10);

		res = await jaeger([['service', 'srch-web'], ['start', startUs], ['end', endUs], ['limit', 4]]);
		checkJaeger('window, limit 4', res, inWindow.slice(0, 4));

		res = await jaeger([['service', 'srch-web'], ['limit', 5]]);
		checkJaeger('default window (last 48 h), limit 5', res, dataset.expected(ds, { service: 'srch-web' }, 5));

		/* a window before every trace */
		res = await jaeger([['service', 'srch-web'], ['start', ds.baseUs - 600000000], ['end', ds.baseUs - 1000000]]);
		checkJaeger('empty window', res, []);
	});

	const zipkinCases = [
		['serviceName (default limit 10)', [['serviceName', 'srch-web']], { service: 'srch-web' }, 10],
		['serviceName, limit 100', [['serviceName', 'srch-web'], ['limit', 100]], { service: 'srch-web' }, 100],
		['serviceName + spanName', [['serviceName', 'srch-api'], ['spanName', 'create order'], ['limit', 100]],
			{ service: 'srch-api', operation: 'create order' }, 100],
		['spanName=all is no filter', [['serviceName', 'srch-api'], ['spanName', 'all'], ['limit', 100]],
			{ service: 'srch-api' }, 100],
		['remoteServiceName', [['serviceName', 'srch-web'], ['remoteServiceName', 'srch-cache'], ['limit', 100]],
			{ service: 'srch-web', remote: 'srch-cache' }, 100],
		['remoteServiceName of another service: none', [['serviceName', 'srch-db'], ['remoteServiceName', 'srch-cache'], ['limit', 100]],
			{ service: 'srch-db', remote: 'srch-cache' }, 100],
		['annotationQuery k=v, no serviceName', [['annotationQuery', 'http.status_code=500'], ['limit', 100]],
			{ tags: [{ key: 'http.status_code', value: '500' }] }, 100],
		['annotationQuery event word', [['annotationQuery', 'retrying'], ['limit', 100]],
			{ tags: [{ key: 'retrying', word: true }] }, 100],
		['annotationQuery tag-key word', [['serviceName', 'srch-cache'], ['annotationQuery', 'cache.miss'], ['limit', 100]],
			{ service: 'srch-cache', tags: [{ key: 'cache.miss', word: true }] }, 100],
		['annotationQuery two terms on one span', [['serviceName', 'srch-web'], ['annotationQuery', 'http.method=POST and user.tier=gold'], ['limit', 100]],
			{ service: 'srch-web', tags: [{ key: 'http.method', value: 'POST' }, { key: 'user.tier', value: 'gold' }] }, 100],
		['annotationQuery bool', [['annotationQuery', 'retry.enabled=true'], ['limit', 100]],
			{ tags: [{ key: 'retry.enabled', value: 'true' }] }, 100],
		['annotationQuery on another span of the trace: none', [['serviceName', 'srch-web'], ['annotationQuery', 'db.rows=3'], ['limit', 100]],
			{ service: 'srch-web', tags: [{ key: 'db.rows', value: '3' }] }, 100],
		['minDuration + maxDuration (µs)', [['serviceName', 'srch-web'], ['minDuration', 9000], ['maxDuration', 250000], ['limit', 100]],
			{ service: 'srch-web', minUs: 9000, maxUs: 250000 }, 100],
		['minDuration, any service', [['minDuration', 300000], ['limit', 100]], { minUs: 300000 }, 100],
		['limit 3', [['serviceName', 'srch-api'], ['limit', 3]], { service: 'srch-api' }, 3],
	];

	for (const [name, params, cond, limit] of zipkinCases) {
		it(`Zipkin: ${name}`, async () => {
			const res = await zipkin(params);
			checkZipkin(name, res, dataset.expected(ds, cond, limit));
		});
	}

	it('Zipkin: endTs/lookback window', async () => {
		const startUs = T(10) + 5000000;
		const endUs = T(30) + 5000000;
		const endTs = endUs / 1000;
		const lookback = (endUs - startUs) / 1000;
		let res = await zipkin([['serviceName', 'srch-web'], ['endTs', endTs], ['lookback', lookback], ['limit', 100]]);
		const inWindow = dataset.expected(ds, { service: 'srch-web', startMinUs: startUs, startMaxUs: endUs }, 100);
		assert.ok(inWindow.length >= 10);
		checkZipkin('window', res, inWindow);
		res = await zipkin([['endTs', endTs], ['lookback', lookback], ['limit', 100]]);
		checkZipkin('window, any service', res, dataset.expected(ds, { startMinUs: startUs, startMaxUs: endUs }, 100));
		/* the default lookback (24 h) before the default endTs (now) holds everything */
		res = await zipkin([['serviceName', 'srch-auth'], ['limit', 100]]);
		checkZipkin('defaults', res, dataset.expected(ds, { service: 'srch-auth' }, 100));
		/* a window that ends before the first trace */
		res = await zipkin([['serviceName', 'srch-web'], ['endTs', (ds.baseUs - 1000000) / 1000], ['lookback', 600000]]);
		checkZipkin('empty window', res, []);
	});

	it('both APIs agree on the same question', async () => {
		const cond = { service: 'srch-web', tags: [{ key: 'http.method', value: 'GET' }], minUs: 3000 };
		const exp = dataset.expected(ds, cond, 100);
		const j = await jaeger([['service', 'srch-web'], ['tags', '{"http.method":"GET"}'], ['minDuration', '3ms'], ['limit', 100]]);
		const z = await zipkin([['serviceName', 'srch-web'], ['annotationQuery', 'http.method=GET'], ['minDuration', 3000], ['limit', 100]]);
		checkJaeger('jaeger', j, exp);
		checkZipkin('zipkin', z, exp);
	});

	it('SERVER/CLIENT kinds are kept apart by the operation lists', async () => {
		/* sanity of the data: the INTERNAL spans exist (kind 1) */
		assert.ok(ds.traces.some((t) => t.spans.some((s) => s.kind === KIND.INTERNAL)));
		const res = await jaeger([['service', 'srch-web'], ['operation', 'render'], ['limit', 100]]);
		checkJaeger('INTERNAL operation', res, dataset.expected(ds, { service: 'srch-web', operation: 'render' }, 100));
	});
});
