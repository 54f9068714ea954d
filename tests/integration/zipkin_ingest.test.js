/*
 * zipkin_ingest.test.js - traces into the real mixd over Zipkin and OTLP,
 * read back through BOTH query APIs (Jaeger GET /api/traces/{id} and Zipkin
 * GET /api/v2/trace/{id}) field by field per model/MAPPING.md.
 *
 * 1. The stock exporters (@opentelemetry/exporter-zipkin, -otlp-proto,
 *    -otlp-http, SDK 2.11) send a SERVER root, a CLIENT child with
 *    peer.service, an event with attributes and status ERROR with a
 *    message, and an INTERNAL grandchild, with attributes of every type and
 *    resource attributes. Expectations are computed from the SDK's own span
 *    records, within what each path carries (Zipkin-sent tags are strings;
 *    OTLP-sent ints read back as int64 in Jaeger, as text in Zipkin).
 * 2. Hand-built Zipkin bodies: JSON and proto3 with 64-bit ids, quoted
 *    numbers, a `shared` server span with the client's id (both come back,
 *    identity is (trace, id, kind)), an identical re-sent batch collapsing,
 *    v1 JSON (client+server in one span -> two spans; server-only without
 *    timestamp -> timing from sr/ss), gzip, text/plain (sendBeacon) and no
 *    content type decoded as JSON, 202 answers, CORS preflight, and a trace
 *    split over requests in several encodings arriving in any order.
 */
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const zlib = require('node:zlib');
const api = require('@opentelemetry/api');
const { BasicTracerProvider, SimpleSpanProcessor, BatchSpanProcessor, InMemorySpanExporter } =
	require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { ExportResultCode } = require('@opentelemetry/core');
const { ZipkinExporter } = require('@opentelemetry/exporter-zipkin');
const { OTLPTraceExporter: ProtoExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { OTLPTraceExporter: HttpExporter } = require('@opentelemetry/exporter-trace-otlp-http');

const { startMixd } = require('./lib/mixd');
const { request, getJson, randHex } = require('./lib/util');
const { assertTraceMatches, jaegerTraceId } = require('./lib/jaeger');
const otlp = require('./lib/otlp');
const zipkin = require('./lib/zipkin');

const JS = { 'Content-Type': 'application/json' };
const PB = { 'Content-Type': 'application/x-protobuf' };

function recording(inner) {
	const results = [];
	return {
		results,
		export(spans, cb) { inner.export(spans, (r) => { results.push(r); cb(r); }); },
		shutdown() { return inner.shutdown(); },
		forceFlush() { return inner.forceFlush ? inner.forceFlush() : Promise.resolve(); },
	};
}

const resourceAttrs = {
	'service.version': '3.1.4',
	'deployment.environment': 'zit',
	'host.name': 'zit-host',
	'process.pid': 4242,
	'cpu.share': 0.75,
	'feature.on': true,
};

/* SERVER root (OK) -> CLIENT child (peer.service, event with attributes,
 * ERROR + message) -> INTERNAL grandchild. */
function makeTrace(provider) {
	const tracer = provider.getTracer('mixd-zit-tracer', '4.5.6');
	const root = tracer.startSpan('get /checkout', {
		kind: api.SpanKind.SERVER,
		attributes: {
			'http.method': 'GET',
			'http.status_code': 200,
			'neg.int': -42,
			'big.int': 2 ** 60,
			ratio: 3.25,
			'small.double': 0.1,
			sampled: true,
			off: false,
			'str.array': ['a', 'b', 'c"q'],
			'int.array': [1, 2, 3],
			'bool.array': [true, false],
			'utf8.string': 'héllo → wörld',
		},
	});
	root.setStatus({ code: api.SpanStatusCode.OK });
	const rootCtx = api.trace.setSpan(api.context.active(), root);
	const child = tracer.startSpan('charge card', {
		kind: api.SpanKind.CLIENT,
		attributes: { 'peer.service': 'bank-svc', retries: 2 },
	}, rootCtx);
	child.addEvent('retrying', { attempt: 1, reason: 'timeout', backoff: 0.5, final: false, codes: [503, 504] });
	child.addEvent('gave up');
	child.setStatus({ code: api.SpanStatusCode.ERROR, message: 'card declined' });
	const childCtx = api.trace.setSpan(rootCtx, child);
	const grand = tracer.startSpan('compute tax', { kind: api.SpanKind.INTERNAL }, childCtx);
	grand.setAttribute('tax.rate', 0.19);
	grand.end();
	child.end();
	root.end();
	return root.spanContext().traceId;
}

describe('Zipkin ingest and reading back through both APIs', { timeout: 90000 }, () => {
	let m;
	let v2Url;
	let v1Url;

	before(async () => {
		m = await startMixd();
		v2Url = `${m.url('zipkin')}/api/v2/spans`;
		v1Url = `${m.url('zipkin')}/api/v1/spans`;
	});
	after(async () => { if (m) await m.stop(); });

	const post = (url, body, headers) => request(url, { method: 'POST', headers, body });

	function assertAccepted(res, what) {
		assert.equal(res.status, 202, `${what}: status (body ${JSON.stringify(res.body.toString('utf8').slice(0, 200))})`);
		assert.equal(res.body.length, 0, `${what}: empty body`);
	}

	async function jaegerTrace(id) {
		const { status, json } = await getJson(`${m.url('query')}/api/traces/${id}`);
		assert.equal(status, 200, `Jaeger GET /api/traces/${id}: ${JSON.stringify(json).slice(0, 300)}`);
		assert.equal(json.data.length, 1);
		return json.data[0];
	}

	async function zipkinTrace(id) {
		const r = await request(`${m.url('zipkin')}/api/v2/trace/${id}`);
		assert.equal(r.status, 200, `Zipkin GET /api/v2/trace/${id}: ${r.body.toString('utf8').slice(0, 300)}`);
		assert.match(String(r.headers['content-type']), /^application\/json/);
		return JSON.parse(r.body.toString('utf8'));
	}

	/* The Zipkin spans of a trace keyed by id + kind (the span identity). */
	function byIdKind(spans) {
		const map = new Map();
		for (const s of spans) {
			const k = `${s.id}/${s.kind || ''}`;
			assert.ok(!map.has(k), `span ${k} appears once`);
			map.set(k, s);
		}
		return map;
	}

	/* ---- 1. the stock exporters ---- */

	const exporters = [
		{ name: '@opentelemetry/exporter-zipkin', via: 'zipkin', mk: () => new ZipkinExporter({ url: v2Url }), batch: false },
		{ name: '@opentelemetry/exporter-zipkin (batched)', via: 'zipkin', mk: () => new ZipkinExporter({ url: v2Url }), batch: true },
		{ name: 'exporter-trace-otlp-proto', via: 'otlp', json: false, mk: () => new ProtoExporter({ url: `${m.url('otlp')}/v1/traces` }), batch: true },
		{ name: 'exporter-trace-otlp-http (JSON)', via: 'otlp', json: true, mk: () => new HttpExporter({ url: `${m.url('otlp')}/v1/traces` }), batch: false },
	];

	for (const v of exporters) {
		it(`${v.name}: the trace reads back through Jaeger and Zipkin field by field`, async () => {
			const service = `zit-${v.via}-${v.json ? 'json' : 'bin'}-${v.batch ? 'b' : 's'}`;
			const memory = new InMemorySpanExporter();
			const rec = recording(v.mk());
			const provider = new BasicTracerProvider({
				resource: resourceFromAttributes({ 'service.name': service, ...resourceAttrs }),
				spanProcessors: [new SimpleSpanProcessor(memory), v.batch
					? new BatchSpanProcessor(rec, { scheduledDelayMillis: 50 })
					: new SimpleSpanProcessor(rec)],
			});
			const traceId = makeTrace(provider);
			await provider.forceFlush();
			const spans = memory.getFinishedSpans().slice();
			await provider.shutdown();
			assert.ok(rec.results.length > 0, 'exported');
			for (const r of rec.results)
				assert.equal(r.code, ExportResultCode.SUCCESS, `export failed: ${r.error && r.error.message}`);
			assert.equal(spans.length, 3);

			const jt = await jaegerTrace(traceId);
			const zt = await zipkinTrace(traceId);
			assert.equal(jt.traceID, jaegerTraceId(traceId));
			assert.equal(zt.length, 3, `Zipkin: 3 spans, got ${JSON.stringify(zt).slice(0, 500)}`);
			const zById = new Map(zt.map((s) => [s.id, s]));

			if (v.via === 'otlp') {
				assertTraceMatches(jt, spans, { json: () => !!v.json });
				for (const rs of spans) {
					const exp = zipkin.expectedFromSdk(rs, { json: !!v.json });
					const got = zById.get(exp.id);
					assert.ok(got, `Zipkin span ${exp.name} present`);
					zipkin.assertZipkinSpan(got, exp, `Zipkin ${exp.name}`);
				}
				return;
			}
			/* sent as Zipkin: what the exporter sent, restated from its transform */
			assert.equal(jt.spans.length, 3);
			const jById = new Map(jt.spans.map((s) => [s.spanID, s]));
			for (const rs of spans) {
				const sent = JSON.parse(JSON.stringify(zipkin.sentByExporter(rs, service)));
				const where = `${sent.name} (${sent.id})`;
				const got = zById.get(sent.id);
				assert.ok(got, `Zipkin ${where} present`);
				zipkin.assertZipkinSpan(got, zipkin.echoOfZipkin(sent), `Zipkin ${where}`);
				const js = jById.get(sent.id);
				assert.ok(js, `Jaeger ${where} present`);
				zipkin.assertJaegerFromZipkin(jt, js, zipkin.jaegerOfZipkin(sent), `Jaeger ${where}`);
				assert.equal(js.flags, undefined, `Jaeger ${where}: no flags`);
				assert.equal(js.warnings, null);
			}
			/* one process: the service of the local endpoint */
			assert.deepEqual(Object.values(jt.processes).map((p) => p.serviceName), [service]);
		});
	}

	/* ---- 2. hand-built bodies ---- */

	/* A client span and the shared server span with the same id (B3), with
	 * full endpoints, an annotation, quoted numbers and a 64-bit trace id. */
	function sharedPair(traceId) {
		const cid = randHex(8);
		const root = randHex(8);
		const ts = Date.now() * 1000;
		const client = zipkin.span({
			traceId, id: cid, parentId: root, kind: 'CLIENT', name: 'get /api',
			timestamp: String(ts), duration: '1431',
			localEndpoint: { serviceName: 'zit-frontend', ipv4: '192.168.99.1', port: 3306 },
			remoteEndpoint: { serviceName: 'zit-backend', ipv4: '172.19.0.2', port: 8080 },
			annotations: [{ timestamp: String(ts + 10), value: 'wire send' }],
			tags: { 'http.method': 'GET', 'http.path': '/api' },
		});
		const server = zipkin.span({
			traceId, id: cid, parentId: root, kind: 'SERVER', name: 'get /api',
			timestamp: ts + 100, duration: 1200, shared: true,
			localEndpoint: { serviceName: 'zit-backend', ipv6: '2001:db8::c001', port: 8080 },
			remoteEndpoint: { ipv4: '192.168.99.1', port: 58648 },
			tags: { 'http.status_code': '200', error: 'upstream reset' },
		});
		return [client, server];
	}

	async function checkShared(traceId, sent, what) {
		const zt = await zipkinTrace(traceId);
		assert.equal(zt.length, 2, `${what}: both halves of the shared span: ${JSON.stringify(zt)}`);
		const got = byIdKind(zt);
		for (const s of sent) {
			const exp = zipkin.echoOfZipkin(s);
			zipkin.assertZipkinSpan(got.get(`${exp.id}/${exp.kind}`), exp, `${what}: Zipkin ${exp.kind}`);
		}
		const jt = await jaegerTrace(traceId);
		assert.equal(jt.spans.length, 2, `${what}: Jaeger has both halves`);
		for (const s of sent) {
			const js = jt.spans.find((x) => x.tags.some((t) => t.key === 'span.kind' && t.value === s.kind.toLowerCase()));
			assert.ok(js, `${what}: Jaeger ${s.kind} span`);
			zipkin.assertJaegerFromZipkin(jt, js, zipkin.jaegerOfZipkin(s), `${what}: Jaeger ${s.kind}`);
		}
	}

	it('JSON: 64-bit ids, quoted numbers, a shared server span; 202 with an empty body', async () => {
		const traceId = randHex(8);
		const sent = sharedPair(traceId);
		assertAccepted(await post(v2Url, JSON.stringify(sent), JS), 'shared pair');
		await checkShared(traceId, sent, 'JSON');
		/* the 64-bit trace reads back by its zero-padded 32-digit form too */
		const padded = await zipkinTrace('0'.repeat(16) + traceId);
		assert.equal(padded.length, 2);
		assert.equal(padded[0].traceId, traceId);
		const j = await jaegerTrace('0'.repeat(16) + traceId);
		assert.equal(j.traceID, traceId);
	});

	it('proto3: the same shared pair, and a 128-bit trace', async () => {
		for (const traceId of [randHex(8), randHex(16)]) {
			const sent = sharedPair(traceId).map((s) => ({ ...s, timestamp: Number(s.timestamp), duration: Number(s.duration),
				annotations: s.annotations && s.annotations.map((a) => ({ ...a, timestamp: Number(a.timestamp) })) }));
			assertAccepted(await post(v2Url, zipkin.encodeProto(sent), PB), `proto ${traceId.length * 4}-bit`);
			await checkShared(traceId, sent, `proto ${traceId.length * 4}-bit`);
		}
	});

	it('a re-sent identical batch collapses on read (JSON and proto)', async () => {
		for (const enc of ['json', 'proto']) {
			const traceId = randHex(16);
			const sent = sharedPair(traceId);
			const body = enc === 'json' ? JSON.stringify(sent) : zipkin.encodeProto(sent.map((s) => ({
				...s, timestamp: Number(s.timestamp), duration: Number(s.duration),
				annotations: s.annotations && s.annotations.map((a) => ({ ...a, timestamp: Number(a.timestamp) })),
			})));
			const h = enc === 'json' ? JS : PB;
			assertAccepted(await post(v2Url, body, h), `${enc} first`);
			assertAccepted(await post(v2Url, body, h), `${enc} again`);
			assertAccepted(await post(v2Url, body, h), `${enc} a third time`);
			const zt = await zipkinTrace(traceId);
			assert.equal(zt.length, 2, `${enc}: Zipkin still 2 spans`);
			const jt = await jaegerTrace(traceId);
			assert.equal(jt.spans.length, 2, `${enc}: Jaeger still 2 spans`);
		}
	});

	it('gzip (declared), text/plain (sendBeacon) and no Content-Type are JSON', async () => {
		const cases = [
			['gzip JSON', (b) => zlib.gzipSync(b), { ...JS, 'Content-Encoding': 'gzip' }],
			['text/plain;charset=UTF-8', (b) => b, { 'Content-Type': 'text/plain;charset=UTF-8' }],
			['no Content-Type', (b) => b, {}],
			['gzip proto', null, { ...PB, 'Content-Encoding': 'gzip' }],
		];
		for (const [what, enc, headers] of cases) {
			const traceId = randHex(16);
			const s = zipkin.span({
				traceId, id: randHex(8), kind: 'SERVER', name: what.toLowerCase(), timestamp: Date.now() * 1000,
				duration: 77, localEndpoint: { serviceName: 'zit-beacon' }, tags: { how: what },
			});
			const body = enc ? enc(Buffer.from(JSON.stringify([s]))) : zlib.gzipSync(zipkin.encodeProto([s]));
			assertAccepted(await post(v2Url, body, headers), what);
			const zt = await zipkinTrace(traceId);
			assert.equal(zt.length, 1, what);
			zipkin.assertZipkinSpan(zt[0], zipkin.echoOfZipkin(s), what);
		}
	});

	it('CORS: preflight and headers on the ingest paths', async () => {
		for (const path of ['/api/v2/spans', '/api/v1/spans']) {
			const pre = await request(`${m.url('zipkin')}${path}`, {
				method: 'OPTIONS',
				headers: {
					Origin: 'http://app.example',
					'Access-Control-Request-Method': 'POST',
					'Access-Control-Request-Headers': 'content-type',
				},
			});
			assert.ok(pre.status >= 200 && pre.status < 300, `${path}: preflight status ${pre.status}`);
			const allowOrigin = pre.headers['access-control-allow-origin'];
			assert.ok(allowOrigin === '*' || allowOrigin === 'http://app.example', `${path}: Allow-Origin ${allowOrigin}`);
			assert.match(String(pre.headers['access-control-allow-methods']), /POST/, `${path}: Allow-Methods`);
			/* `*` allows every header for requests without credentials (Fetch) */
			assert.match(String(pre.headers['access-control-allow-headers']).toLowerCase(), /content-type|^\*$/, `${path}: Allow-Headers`);
		}
		const res = await post(v2Url, '[]', { ...JS, Origin: 'http://app.example' });
		assertAccepted(res, 'POST with Origin');
		assert.ok(res.headers['access-control-allow-origin'], 'Access-Control-Allow-Origin on the answer');
	});

	it('v1 JSON: client+server in one span -> a CLIENT span and a shared SERVER span', async () => {
		const traceId = randHex(8);
		const id = randHex(8);
		const parent = randHex(8);
		const t = Date.now() * 1000;
		const fe = { serviceName: 'zit-v1-frontend', ipv4: '10.0.0.1', port: 4000 };
		const be = { serviceName: 'zit-v1-backend', ipv4: '10.0.0.2', port: 8080 };
		const v1 = [{
			traceId, id, parentId: parent, name: 'get /v1', timestamp: t, duration: 1000,
			annotations: [
				{ timestamp: t, value: 'cs', endpoint: fe },
				{ timestamp: t + 100, value: 'sr', endpoint: be },
				{ timestamp: t + 400, value: 'cache miss', endpoint: be },
				{ timestamp: t + 900, value: 'ss', endpoint: be },
				{ timestamp: t + 1000, value: 'cr', endpoint: fe },
			],
			binaryAnnotations: [
				{ key: 'http.path', value: '/v1', endpoint: fe },
				{ key: 'sa', value: true, endpoint: be },
			],
		}];
		assertAccepted(await post(v1Url, JSON.stringify(v1), JS), 'v1 client+server');
		const zt = await zipkinTrace(traceId);
		assert.equal(zt.length, 2, `two v2 spans: ${JSON.stringify(zt)}`);
		const got = byIdKind(zt);
		const c = got.get(`${id}/CLIENT`);
		const s = got.get(`${id}/SERVER`);
		assert.ok(c && s, 'a CLIENT and a SERVER span with the v1 id');
		assert.equal(c.parentId, parent);
		assert.equal(s.parentId, parent);
		assert.equal(c.name, 'get /v1');
		assert.equal(c.timestamp, t, 'client timestamp = cs');
		assert.equal(c.duration, 1000, 'client duration = cr - cs');
		assert.equal(s.timestamp, t + 100, 'server timestamp = sr');
		assert.equal(s.duration, 800, 'server duration = ss - sr');
		assert.equal(s.shared, true, 'the server half is shared');
		assert.equal(c.shared, undefined);
		assert.equal(c.localEndpoint.serviceName, fe.serviceName);
		assert.equal(s.localEndpoint.serviceName, be.serviceName);
		assert.equal(c.remoteEndpoint && c.remoteEndpoint.serviceName, be.serviceName, 'sa -> the client\'s remote endpoint');
		assert.deepEqual(c.tags, { 'http.path': '/v1' }, 'binary annotation -> tag of the client');
		/* core annotations are timing, not annotations; the other one stays on the server */
		assert.equal(c.annotations, undefined, 'client: no annotations left');
		assert.deepEqual(s.annotations, [{ timestamp: t + 400, value: 'cache miss' }]);
		const jt = await jaegerTrace(traceId);
		assert.equal(jt.spans.length, 2);
		assert.deepEqual(jt.spans.map((x) => x.spanID), [id, id]);
		assert.deepEqual(Object.values(jt.processes).map((p) => p.serviceName).sort(), [be.serviceName, fe.serviceName].sort());
	});

	it('v1 JSON: a server-only span without timestamp takes its timing from sr/ss', async () => {
		const traceId = randHex(16);
		const id = randHex(8);
		const t = Date.now() * 1000;
		const be = { serviceName: 'zit-v1-server', ipv4: '10.0.0.3' };
		const v1 = [{
			traceId, id, name: 'handle',
			annotations: [
				{ timestamp: t + 50, value: 'sr', endpoint: be },
				{ timestamp: t + 80, value: 'query done', endpoint: be },
				{ timestamp: t + 350, value: 'ss', endpoint: be },
			],
			binaryAnnotations: [{ key: 'db.rows', value: '12', endpoint: be }],
		}];
		assertAccepted(await post(v1Url, JSON.stringify(v1), JS), 'v1 server-only');
		const zt = await zipkinTrace(traceId);
		assert.equal(zt.length, 1);
		const s = zt[0];
		assert.equal(s.kind, 'SERVER');
		assert.equal(s.timestamp, t + 50, 'timestamp = sr');
		assert.equal(s.duration, 300, 'duration = ss - sr');
		assert.equal(s.localEndpoint.serviceName, be.serviceName);
		assert.deepEqual(s.annotations, [{ timestamp: t + 80, value: 'query done' }]);
		assert.deepEqual(s.tags, { 'db.rows': '12' });
		const jt = await jaegerTrace(traceId);
		assert.equal(jt.spans[0].startTime, t + 50);
		assert.equal(jt.spans[0].duration, 300);
		assert.deepEqual(jt.spans[0].logs, [{ timestamp: t + 80, fields: [{ key: 'event', type: 'string', value: 'query done' }] }]);
	});

	it('a trace split over requests in several encodings, in any order, is whole', async () => {
		for (const order of [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 4, 0, 3, 1]]) {
			const traceId = randHex(16);
			const ids = Array.from({ length: 5 }, () => randHex(8));
			const t = Date.now() * 1000;
			const mk = (i, svc, kind) => zipkin.span({
				traceId, id: ids[i], parentId: i ? ids[i - 1] : undefined, kind, name: `part ${i}`,
				timestamp: t + i * 10, duration: 100 - i, localEndpoint: { serviceName: svc }, tags: { part: String(i) },
			});
			const parts = [
				() => post(v2Url, JSON.stringify([mk(0, 'zit-split-a', 'SERVER')]), JS),
				() => post(v2Url, zipkin.encodeProto([mk(1, 'zit-split-a', 'CLIENT')]), PB),
				() => post(v2Url, zlib.gzipSync(JSON.stringify([mk(2, 'zit-split-b', 'SERVER')])), { ...JS, 'Content-Encoding': 'gzip' }),
				() => post(v1Url, JSON.stringify([{
					traceId, id: ids[3], parentId: ids[2], name: 'part 3',
					annotations: [
						{ timestamp: t + 30, value: 'cs', endpoint: { serviceName: 'zit-split-b' } },
						{ timestamp: t + 127, value: 'cr', endpoint: { serviceName: 'zit-split-b' } },
					],
				}]), JS),
				() => request(`${m.url('otlp')}/v1/traces`, {
					method: 'POST', headers: JS, body: JSON.stringify(otlp.request([otlp.span({
						traceId, spanId: ids[4], parentSpanId: ids[3], name: 'part 4', kind: 2,
						startNs: BigInt(t + 40) * 1000n, durNs: 96000n,
					})], { service: 'zit-split-c' })),
				}),
			];
			for (const i of order) {
				const r = await parts[i]();
				assert.ok(r.status === 202 || r.status === 200, `part ${i}: ${r.status} ${r.body}`);
			}
			const zt = await zipkinTrace(traceId);
			assert.deepEqual(zt.map((s) => s.id).sort(), [...ids].sort(), `order ${order}: Zipkin whole`);
			const jt = await jaegerTrace(traceId);
			assert.deepEqual(jt.spans.map((s) => s.spanID).sort(), [...ids].sort(), `order ${order}: Jaeger whole`);
			for (const s of jt.spans) {
				const i = ids.indexOf(s.spanID);
				assert.deepEqual(s.references, i ? [{ refType: 'CHILD_OF', traceID: jaegerTraceId(traceId), spanID: ids[i - 1] }] : [],
					`part ${i}: parent`);
			}
			const part3 = zt.find((s) => s.id === ids[3]);
			assert.equal(part3.timestamp, t + 30);
			assert.equal(part3.duration, 97);
		}
	});
});
