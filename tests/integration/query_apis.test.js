/*
 * query_apis.test.js - the name lists and lookups of both query APIs on the
 * real mixd, over the deterministic data set of lib/dataset.js (loaded
 * through OTLP/JSON) plus a 64-bit trace: Jaeger /api/services,
 * /api/services/{s}/operations, /api/operations?service=&spanKind=, the
 * repeated traceID= parameter of /api/traces, trace by id (16 and 32 digit
 * forms), and Zipkin /api/v2/services, /spans, /remoteServices,
 * /autocompleteKeys and /autocompleteValues (mixd started with
 * --zipkin.autocomplete-keys=http.method), /trace/{id}, /traceMany; every
 * 404 and 400 case with its error form (Jaeger envelope, Zipkin text/plain),
 * Cache-Control on Zipkin's name lists and CORS on its routes.
 */
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startMixd } = require('./lib/mixd');
const { request, getJson, randHex } = require('./lib/util');
const { jaegerTraceId } = require('./lib/jaeger');
const otlp = require('./lib/otlp');
const dataset = require('./lib/dataset');

const KIND_NAME = { 1: 'internal', 2: 'server', 3: 'client' };

function sorted(a) {
	return [...a].sort();
}

function uniq(a) {
	return [...new Set(a)];
}

describe('query APIs: names, lookups, errors', { timeout: 60000 }, () => {
	let m;
	let ds;
	let allSpans;
	const id64 = '0'.repeat(16) + randHex(8); /* a 64-bit trace id, zero-extended */
	const id64short = id64.slice(16);

	before(async () => {
		m = await startMixd({ args: ['--zipkin.autocomplete-keys=http.method'] });
		ds = dataset.build();
		allSpans = ds.traces.flatMap((t) => t.spans);
		const reqs = dataset.otlpRequests(ds);
		reqs.push(otlp.request([
			otlp.span({ traceId: id64, spanId: randHex(8), name: 'short id root', kind: 2 }),
		], { service: 'srch-web' }));
		for (const req of reqs) {
			const res = await request(`${m.url('otlp')}/v1/traces`, {
				method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(req),
			});
			assert.equal(res.status, 200, `load: ${res.body}`);
		}
	});
	after(async () => { if (m) await m.stop(); });

	const jq = (p) => getJson(`${m.url('query')}${p}`);
	const zq = (p, opts) => request(`${m.url('zipkin')}${p}`, opts);
	async function zjson(p) {
		const r = await zq(p);
		assert.equal(r.status, 200, `GET ${p}: ${r.body.toString('utf8').slice(0, 300)}`);
		assert.match(String(r.headers['content-type']), /^application\/json/, `GET ${p}: content-type`);
		return { json: JSON.parse(r.body.toString('utf8')), headers: r.headers };
	}
	function assertZipkinError(r, status, what, re) {
		assert.equal(r.status, status, `${what}: status (body ${JSON.stringify(r.body.toString('utf8').slice(0, 200))})`);
		assert.match(String(r.headers['content-type']), /^text\/plain/, `${what}: text/plain`);
		assert.ok(r.body.length > 0, `${what}: a message`);
		if (re)
			assert.match(r.body.toString('utf8'), re, `${what}: message`);
	}
	function assertJaegerError(res, status, what) {
		assert.equal(res.status, status, `${what}: status (${JSON.stringify(res.json).slice(0, 300)})`);
		assert.equal(res.json.data, null, `${what}: data null`);
		assert.ok(Array.isArray(res.json.errors) && res.json.errors.length > 0, `${what}: errors`);
		assert.equal(res.json.errors[0].code, status, `${what}: errors[0].code`);
		assert.equal(typeof res.json.errors[0].msg, 'string', `${what}: errors[0].msg`);
	}

	it('Jaeger /api/services lists exactly the services', async () => {
		const { status, json } = await jq('/api/services');
		assert.equal(status, 200);
		assert.deepEqual(sorted(json.data), sorted(dataset.SERVICES));
		assert.equal(json.total, dataset.SERVICES.length, 'total');
		assert.equal(json.errors, null);
	});

	it('Jaeger /api/services/{service}/operations', async () => {
		for (const svc of dataset.SERVICES) {
			const { status, json } = await jq(`/api/services/${encodeURIComponent(svc)}/operations`);
			assert.equal(status, 200, svc);
			const names = uniq(allSpans.filter((s) => s.service === svc).map((s) => s.name));
			if (svc === 'srch-web')
				names.push('short id root');
			assert.deepEqual(sorted(json.data), sorted(uniq(names)), `${svc}: operation names`);
			assert.equal(json.total, uniq(names).length, `${svc}: total`);
		}
		/* a service name with a space and a slash, URL-escaped in the path */
		const { status, json } = await jq(`/api/services/${encodeURIComponent('no such/service')}/operations`);
		assert.equal(status, 200);
		assert.deepEqual(json.data, [], 'unknown service: []');
	});

	it('Jaeger /api/operations?service=&spanKind=', async () => {
		const svc = 'srch-web';
		const ops = (kind) => sorted(uniq(allSpans
			.filter((s) => s.service === svc && (kind === undefined || KIND_NAME[s.kind] === kind))
			.map((s) => `${s.name}|${KIND_NAME[s.kind]}`)
			.concat(kind === undefined || kind === 'server' ? ['short id root|server'] : [])));
		let res = await jq(`/api/operations?service=${svc}`);
		assert.equal(res.status, 200);
		assert.deepEqual(sorted(res.json.data.map((o) => `${o.name}|${o.spanKind}`)), ops(undefined), 'all kinds');
		for (const kind of ['server', 'client', 'internal']) {
			res = await jq(`/api/operations?service=${svc}&spanKind=${kind}`);
			assert.equal(res.status, 200, kind);
			assert.deepEqual(sorted(res.json.data.map((o) => `${o.name}|${o.spanKind}`)), ops(kind), `spanKind=${kind}`);
		}
		res = await jq(`/api/operations?service=${svc}&spanKind=producer`);
		assert.deepEqual(res.json.data, [], 'no producer spans');
		assertJaegerError(await jq('/api/operations'), 400, 'no service');
		assertJaegerError(await jq(`/api/operations?service=${svc}&spanKind=sideways`), 400, 'bad spanKind');
	});

	it('Jaeger trace by id: 32 and 16 digit forms, 404, 400', async () => {
		const t = ds.traces[3];
		let res = await jq(`/api/traces/${t.traceId}`);
		assert.equal(res.status, 200);
		assert.equal(res.json.data[0].traceID, jaegerTraceId(t.traceId));
		assert.equal(res.json.data[0].spans.length, t.spans.length);
		res = await jq(`/api/traces/${t.traceId.toUpperCase()}`);
		assert.equal(res.status, 200, 'upper-case hex is accepted');
		for (const form of [id64, id64short]) {
			res = await jq(`/api/traces/${form}`);
			assert.equal(res.status, 200, `64-bit id as ${form.length} digits`);
			assert.equal(res.json.data[0].traceID, id64short, 'written with 16 digits');
		}
		assertJaegerError(await jq(`/api/traces/${randHex(16)}`), 404, 'unknown id');
		assertJaegerError(await jq('/api/traces/not-hex-at-all'), 400, 'bad id');
		assertJaegerError(await jq(`/api/traces/${'a'.repeat(33)}`), 400, '33 digits');
	});

	it('Jaeger /api/traces?traceID= repeated: found traces plus an error per missing id', async () => {
		const a = ds.traces[0].traceId;
		const b = ds.traces[7].traceId;
		const missing = randHex(16);
		const { status, json } = await jq(`/api/traces?traceID=${a}&traceID=${b}&traceID=${missing}`);
		assert.equal(status, 200);
		assert.deepEqual(sorted(json.data.map((t) => t.traceID)), sorted([a, b].map(jaegerTraceId)));
		for (const t of json.data)
			assert.equal(t.spans.length, ds.traces.find((x) => jaegerTraceId(x.traceId) === t.traceID).spans.length);
		assert.ok(Array.isArray(json.errors), `errors: ${JSON.stringify(json.errors)}`);
		assert.equal(json.errors.length, 1);
		assert.equal(json.errors[0].traceID, jaegerTraceId(missing));
		assert.match(json.errors[0].msg, /not found/);
		/* only missing ids: 404 */
		const res = await jq(`/api/traces?traceID=${randHex(16)}`);
		assertJaegerError(res, 404, 'all missing');
		assertJaegerError(await jq('/api/traces?traceID=zz'), 400, 'bad traceID');
	});

	it('Jaeger search: 400 cases', async () => {
		const bad = [
			['no service', '/api/traces'],
			['bad tags JSON', '/api/traces?service=srch-web&tags=%7Bnot-json'],
			['tags not an object of strings', '/api/traces?service=srch-web&tags=%5B1%2C2%5D'],
			['bad tag= form', '/api/traces?service=srch-web&tag=nocolon'],
			['bad minDuration', '/api/traces?service=srch-web&minDuration=fast'],
			['max < min', '/api/traces?service=srch-web&minDuration=2s&maxDuration=1s'],
			['bad limit', '/api/traces?service=srch-web&limit=-1'],
			['bad start', '/api/traces?service=srch-web&start=yesterday'],
			['start after end', `/api/traces?service=srch-web&start=${ds.endUs}&end=${ds.baseUs}`],
		];
		for (const [what, p] of bad)
			assertJaegerError(await jq(p), 400, what);
	});

	it('Zipkin /api/v2/services, /spans, /remoteServices (sorted, Cache-Control)', async () => {
		const svc = await zjson('/api/v2/services');
		assert.deepEqual(svc.json, sorted(dataset.SERVICES), 'services, sorted');
		for (const s of dataset.SERVICES) {
			const names = uniq(allSpans.filter((x) => x.service === s).map((x) => x.name)
				.concat(s === 'srch-web' ? ['short id root'] : []));
			const sp = await zjson(`/api/v2/spans?serviceName=${encodeURIComponent(s)}`);
			assert.deepEqual(sp.json, sorted(names), `${s}: span names, sorted`);
			assert.equal(sp.headers['cache-control'], 'max-age=300, must-revalidate', `${s}: Cache-Control (5 services > 3)`);
			const remote = uniq(allSpans.filter((x) => x.service === s).map(dataset.remoteOf).filter(Boolean));
			const rs = await zjson(`/api/v2/remoteServices?serviceName=${encodeURIComponent(s)}`);
			assert.deepEqual(rs.json, sorted(remote), `${s}: remote services, sorted`);
		}
		assert.deepEqual((await zjson('/api/v2/spans?serviceName=nobody')).json, []);
		assert.deepEqual((await zjson('/api/v2/remoteServices?serviceName=nobody')).json, []);
		assertZipkinError(await zq('/api/v2/spans'), 400, '/spans without serviceName', /serviceName/);
		assertZipkinError(await zq('/api/v2/remoteServices'), 400, '/remoteServices without serviceName', /serviceName/);
	});

	it('Zipkin /api/v2/autocompleteKeys and /autocompleteValues', async () => {
		assert.deepEqual((await zjson('/api/v2/autocompleteKeys')).json, ['http.method']);
		const vals = sorted(uniq(allSpans.map((s) => s.attrs['http.method']).filter(Boolean).map((a) => a.v)));
		assert.deepEqual(vals, ['GET', 'POST'], 'data set sanity');
		assert.deepEqual((await zjson('/api/v2/autocompleteValues?key=http.method')).json, vals);
		assert.deepEqual((await zjson('/api/v2/autocompleteValues?key=user.tier')).json, [], 'a key not configured records nothing');
		assertZipkinError(await zq('/api/v2/autocompleteValues'), 400, 'no key', /key/);
	});

	it('Zipkin /api/v2/trace/{id}: both id forms, 404 text, 400', async () => {
		const t = ds.traces[5];
		const r = await zjson(`/api/v2/trace/${t.traceId}`);
		assert.equal(r.json.length, t.spans.length);
		assert.deepEqual(sorted(r.json.map((s) => s.id)), sorted(t.spans.map((s) => s.spanId)));
		for (const s of r.json)
			assert.equal(s.traceId, jaegerTraceId(t.traceId));
		for (const form of [id64, id64short]) {
			const z = await zjson(`/api/v2/trace/${form}`);
			assert.equal(z.json.length, 1, `64-bit id as ${form.length} digits`);
			assert.equal(z.json[0].traceId, id64short);
		}
		const missing = randHex(16);
		assertZipkinError(await zq(`/api/v2/trace/${missing}`), 404, 'unknown id', new RegExp(`${missing} not found`));
		assertZipkinError(await zq('/api/v2/trace/xyz!'), 400, 'bad id');
		assertZipkinError(await zq(`/api/v2/trace/${'1'.repeat(33)}`), 400, '33 digits');
	});

	it('Zipkin /api/v2/traceMany', async () => {
		const a = ds.traces[1].traceId;
		const b = ds.traces[2].traceId;
		let r = await zjson(`/api/v2/traceMany?traceIds=${a},${b}`);
		assert.deepEqual(sorted(r.json.map((tr) => tr[0].traceId)), sorted([a, b].map(jaegerTraceId)));
		r = await zjson(`/api/v2/traceMany?traceIds=${a},${randHex(16)},${b}`);
		assert.deepEqual(sorted(r.json.map((tr) => tr[0].traceId)), sorted([a, b].map(jaegerTraceId)), 'an unknown id is left out');
		assertZipkinError(await zq(`/api/v2/traceMany?traceIds=${a}`), 400, 'one id');
		assertZipkinError(await zq(`/api/v2/traceMany?traceIds=${a},${a}`), 400, 'a repeated id');
		assertZipkinError(await zq(`/api/v2/traceMany?traceIds=${a},,${b}`), 400, 'an empty value');
		assertZipkinError(await zq('/api/v2/traceMany'), 400, 'no traceIds');
		assertZipkinError(await zq(`/api/v2/traceMany?traceIds=${a},nothex`), 400, 'a bad id');
	});

	it('Zipkin search: 400 cases', async () => {
		const bad = [
			['bad minDuration', '/api/v2/traces?minDuration=fast'],
			['max < min', '/api/v2/traces?minDuration=2000&maxDuration=1000'],
			['bad endTs', '/api/v2/traces?endTs=tomorrow'],
			['endTs 0', '/api/v2/traces?endTs=0'],
			['lookback 0', '/api/v2/traces?lookback=0'],
			['limit 0', '/api/v2/traces?limit=0'],
			['negative limit', '/api/v2/traces?limit=-5'],
		];
		for (const [what, p] of bad)
			assertZipkinError(await zq(p), 400, what);
	});

	it('Zipkin query routes answer CORS', async () => {
		const r = await zq('/api/v2/services', { headers: { Origin: 'http://ui.example' } });
		assert.equal(r.status, 200);
		assert.ok(r.headers['access-control-allow-origin'], 'Access-Control-Allow-Origin on a query answer');
		const pre = await zq('/api/v2/traces', {
			method: 'OPTIONS',
			headers: { Origin: 'http://ui.example', 'Access-Control-Request-Method': 'GET' },
		});
		assert.ok(pre.status >= 200 && pre.status < 300, `preflight status ${pre.status}`);
		assert.ok(pre.headers['access-control-allow-origin'], 'preflight allows the origin');
	});
});
