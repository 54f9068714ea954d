/*
 * otlp_exporters.test.js - the stock OpenTelemetry JS OTLP exporters
 * (exporter-trace-otlp-proto and exporter-trace-otlp-http, SDK 2.11) send a
 * small but complete trace to the real mixd; the query API must give back
 * every field as model/MAPPING.md says, computed from the SDK's own span
 * records (an in-memory exporter beside the OTLP one). Also: /api/services,
 * and one trace sent in parts by two services in separate requests.
 */
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const api = require('@opentelemetry/api');
const { BasicTracerProvider, SimpleSpanProcessor, BatchSpanProcessor, InMemorySpanExporter } =
	require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { ExportResultCode } = require('@opentelemetry/core');
const { OTLPTraceExporter: ProtoExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { OTLPTraceExporter: HttpExporter } = require('@opentelemetry/exporter-trace-otlp-http');

const { startMixd } = require('./lib/mixd');
const { getJson, randHex } = require('./lib/util');
const { assertTraceMatches, jaegerTraceId } = require('./lib/jaeger');

/* Wraps an exporter to record every export result. */
function recording(inner) {
	const results = [];
	return {
		results,
		export(spans, cb) {
			inner.export(spans, (r) => { results.push(r); cb(r); });
		},
		shutdown() { return inner.shutdown(); },
		forceFlush() { return inner.forceFlush ? inner.forceFlush() : Promise.resolve(); },
	};
}

function assertAllExported(rec) {
	assert.ok(rec.results.length > 0, 'the OTLP exporter exported at least once');
	for (const r of rec.results)
		assert.equal(r.code, ExportResultCode.SUCCESS,
			`export failed: ${r.error && (r.error.message || r.error)}`);
}

/* Builds a provider that exports through `otlp` (wrapped) and records the
 * finished spans in memory. */
function makeProvider({ otlp, batch, service, resourceAttrs = {} }) {
	const memory = new InMemorySpanExporter();
	const rec = recording(otlp);
	const proc = batch
		? new BatchSpanProcessor(rec, { scheduledDelayMillis: 50, maxExportBatchSize: 512 })
		: new SimpleSpanProcessor(rec);
	const provider = new BasicTracerProvider({
		resource: resourceFromAttributes({ 'service.name': service, ...resourceAttrs }),
		spanProcessors: [new SimpleSpanProcessor(memory), proc],
	});
	return { provider, memory, rec };
}

/* SERVER root (OK) -> CLIENT child (ERROR + message, event) -> INTERNAL
 * grandchild (link to another trace). Attributes of every type. */
function makeTrace(provider) {
	const tracer = provider.getTracer('mixd-it-tracer', '1.2.3');
	const linkCtx = { traceId: randHex(16), spanId: randHex(8), traceFlags: 1, isRemote: true };
	const root = tracer.startSpan('GET /checkout', {
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
			'double.array': [1.5, 2.25],
			'bool.array': [true, false],
			'utf8.string': 'héllo → wörld',
		},
	});
	root.setStatus({ code: api.SpanStatusCode.OK });
	const rootCtx = api.trace.setSpan(api.context.active(), root);
	const child = tracer.startSpan('charge card', { kind: api.SpanKind.CLIENT, attributes: { 'peer.name': 'bank', retries: 2 } }, rootCtx);
	child.addEvent('retrying', { attempt: 1, reason: 'timeout', backoff: 0.5, final: false, codes: [503, 504] });
	child.addEvent('no attrs');
	child.setStatus({ code: api.SpanStatusCode.ERROR, message: 'card declined' });
	const childCtx = api.trace.setSpan(rootCtx, child);
	const grand = tracer.startSpan('compute tax', {
		kind: api.SpanKind.INTERNAL,
		links: [{ context: linkCtx, attributes: { 'link.attr': 'not carried' } }],
	}, childCtx);
	grand.setAttribute('tax.rate', 0.19);
	grand.end();
	child.end();
	root.end();
	return root.spanContext().traceId;
}

async function getTrace(m, traceId) {
	const { status, json } = await getJson(`${m.url('query')}/api/traces/${traceId}`);
	assert.equal(status, 200, `GET /api/traces/${traceId}: ${JSON.stringify(json)}`);
	assert.ok(Array.isArray(json.data) && json.data.length === 1, 'data is [trace]');
	return json.data[0];
}

const resourceAttrs = {
	'service.version': '9.9.9',
	'deployment.environment': 'it',
	'host.name': 'it-host',
	'process.pid': 4242,
	'cpu.share': 0.75,
	'feature.on': true,
	'regions': ['eu', 'us'],
};

describe('OTLP exporters to mixd', { timeout: 60000 }, () => {
	let m;
	before(async () => { m = await startMixd(); });
	after(async () => { if (m) await m.stop(); });

	const variants = [
		{ name: 'otlp-proto + SimpleSpanProcessor', mk: (url) => new ProtoExporter({ url }), batch: false, service: 'it-proto', json: false },
		{ name: 'otlp-http (JSON) + BatchSpanProcessor', mk: (url) => new HttpExporter({ url }), batch: true, service: 'it-json', json: true },
		{ name: 'otlp-proto gzip + BatchSpanProcessor', mk: (url) => new ProtoExporter({ url, compression: 'gzip' }), batch: true, service: 'it-proto-gzip', json: false },
		{ name: 'otlp-http (JSON) gzip + SimpleSpanProcessor', mk: (url) => new HttpExporter({ url, compression: 'gzip' }), batch: false, service: 'it-json-gzip', json: true },
	];

	for (const v of variants) {
		it(`${v.name}: the trace reads back field by field`, async () => {
			const otlp = v.mk(`${m.url('otlp')}/v1/traces`);
			const { provider, memory, rec } = makeProvider({ otlp, batch: v.batch, service: v.service, resourceAttrs });
			const traceId = makeTrace(provider);
			await provider.forceFlush();
			const spans = memory.getFinishedSpans().slice();
			await provider.shutdown();
			assertAllExported(rec);
			assert.equal(spans.length, 3);

			const trace = await getTrace(m, traceId);
			assertTraceMatches(trace, spans, { json: () => v.json });
			/* one process for the three spans, p1 */
			assert.deepEqual(Object.keys(trace.processes), ['p1']);
			/* the 16-digit form is not the id of this 128-bit trace unless
			 * the high half is zero; the full form is always accepted */
			assert.equal(trace.traceID, jaegerTraceId(traceId));

			const svc = await getJson(`${m.url('query')}/api/services`);
			assert.equal(svc.status, 200);
			assert.ok(Array.isArray(svc.json.data), '/api/services data is an array');
			assert.ok(svc.json.data.includes(v.service), `/api/services lists ${v.service}: ${JSON.stringify(svc.json.data)}`);
		});
	}

	for (const order of ['parent first', 'child first']) {
		it(`a trace sent in parts by two services (${order}) is whole on read`, async () => {
			const url = `${m.url('otlp')}/v1/traces`;
			const tag = order.split(' ')[0];
			const svcA = `split-frontend-${tag}`;
			const svcB = `split-backend-${tag}`;
			const a = makeProvider({ otlp: new ProtoExporter({ url }), batch: false, service: svcA });
			const b = makeProvider({ otlp: new HttpExporter({ url }), batch: false, service: svcB, resourceAttrs: { 'host.name': 'b-host' } });
			const ta = a.provider.getTracer('frontend', '1.0.0');
			const tb = b.provider.getTracer('backend'); /* no version */

			const root = ta.startSpan('front', { kind: api.SpanKind.SERVER });
			/* the backend continues the trace from a remote parent context */
			const remote = api.trace.setSpanContext(api.context.active(), { ...root.spanContext(), isRemote: true });
			const back = tb.startSpan('back', { kind: api.SpanKind.SERVER, attributes: { part: 2 } }, remote);
			const backCtx = api.trace.setSpan(api.context.active(), back);
			const leaf = tb.startSpan('db query', { kind: api.SpanKind.CLIENT }, backCtx);

			/* each end() exports one span in its own request (SimpleSpanProcessor) */
			if (order === 'parent first') {
				root.end();
				await a.provider.forceFlush();
				leaf.end();
				back.end();
				await b.provider.forceFlush();
			} else {
				leaf.end();
				back.end();
				await b.provider.forceFlush();
				root.end();
				await a.provider.forceFlush();
			}
			const spans = [...a.memory.getFinishedSpans(), ...b.memory.getFinishedSpans()];
			await a.provider.shutdown();
			await b.provider.shutdown();
			assertAllExported(a.rec);
			assertAllExported(b.rec);
			assert.equal(b.rec.results.length, 2, 'the backend sent two requests');

			const trace = await getTrace(m, root.spanContext().traceId);
			/* the backend (b) sent OTLP/JSON */
			const bSpans = new Set(b.memory.getFinishedSpans());
			assertTraceMatches(trace, spans, { json: (rs) => bSpans.has(rs) });
			const names = Object.values(trace.processes).map((p) => p.serviceName).sort();
			assert.deepEqual(names, [svcA, svcB].sort());

			const svc = await getJson(`${m.url('query')}/api/services`);
			for (const n of names)
				assert.ok(svc.json.data.includes(n), `/api/services lists ${n}`);
		});
	}

	it('an unknown trace id answers 404 with the Jaeger error envelope', async () => {
		const { status, json } = await getJson(`${m.url('query')}/api/traces/${randHex(16)}`);
		assert.equal(status, 404);
		assert.equal(json.data, null);
		assert.ok(Array.isArray(json.errors) && json.errors[0].code === 404, JSON.stringify(json));
	});
});
