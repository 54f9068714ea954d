/*
 * dependencies.test.js - dependency links and Tempo-named service-graph
 * metrics from traces sent by the stock OpenTelemetry JS exporters, one
 * exporter instance per service as in a real deployment: frontend (OTLP
 * protobuf), checkout (OTLP/JSON, batched), payments (Zipkin v2 JSON) and
 * inventory (Jaeger thrift over HTTP). The requests cross services
 * through remote parent contexts, so client and server halves arrive in
 * different requests, in different formats, in any order. Checkout also
 * calls an uninstrumented "bank" (peer.service) and a database.
 *
 * Then, with a short --servicegraph.wait and bounded polling:
 * GET /api/v2/dependencies (Zipkin) and GET /api/dependencies (Jaeger)
 * name the right parents and children with the right call and error
 * counts, and /metrics' traces_service_graph_* and traces_spanmetrics_*
 * agree with them (and name "user" for the frontend's root spans).
 */
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const api = require('@opentelemetry/api');
const { BasicTracerProvider, SimpleSpanProcessor, BatchSpanProcessor } =
	require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { ExportResultCode } = require('@opentelemetry/core');
const { OTLPTraceExporter: ProtoExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { OTLPTraceExporter: HttpExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { ZipkinExporter } = require('@opentelemetry/exporter-zipkin');
const { JaegerExporter } = require('@opentelemetry/exporter-jaeger');

const { startMixd } = require('./lib/mixd');
const { getJson, waitFor } = require('./lib/util');
const { fetchMetrics, sumBy } = require('./lib/promtext');

const N = 6;       /* requests through the whole chain */
const FAILED = 2;  /* of them, payments answers with an error */

/* Records every export result of an exporter. */
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

function service(name, exporter, batch) {
	const rec = recording(exporter);
	const provider = new BasicTracerProvider({
		resource: resourceFromAttributes({ 'service.name': name }),
		spanProcessors: [batch
			? new BatchSpanProcessor(rec, { scheduledDelayMillis: 50 })
			: new SimpleSpanProcessor(rec)],
	});
	return { name, rec, provider, tracer: provider.getTracer(`it-${name}`, '1.0.0') };
}

/* The context of a span as another process receives it. */
function remote(span) {
	return api.trace.setSpanContext(api.context.active(), { ...span.spanContext(), isRemote: true });
}

function local(span) {
	return api.trace.setSpan(api.context.active(), span);
}

/* One request: frontend -> checkout -> payments, inventory, bank, db. */
function request(s, i) {
	const { SERVER, CLIENT } = api.SpanKind;
	const root = s.frontend.tracer.startSpan('GET /buy', { kind: SERVER });
	const call = s.frontend.tracer.startSpan('POST /checkout', { kind: CLIENT }, local(root));
	const co = s.checkout.tracer.startSpan('POST /checkout', { kind: SERVER }, remote(call));
	const pay = s.checkout.tracer.startSpan('charge', { kind: CLIENT }, local(co));
	const paySrv = s.payments.tracer.startSpan('charge', { kind: SERVER }, remote(pay));
	if (i < FAILED)
		paySrv.setStatus({ code: api.SpanStatusCode.ERROR, message: 'declined' });
	const inv = s.checkout.tracer.startSpan('reserve', { kind: CLIENT }, local(co));
	const invSrv = s.inventory.tracer.startSpan('reserve', { kind: SERVER }, remote(inv));
	const bank = s.checkout.tracer.startSpan('notify', {
		kind: CLIENT, attributes: { 'peer.service': 'bank' },
	}, local(co));
	const db = s.checkout.tracer.startSpan('INSERT orders', {
		kind: CLIENT, attributes: { 'db.system': 'postgresql', 'db.name': 'orders' },
	}, local(co));
	/* servers end (and export) before their clients, sometimes after */
	for (const sp of i % 2 ? [paySrv, pay, invSrv, inv] : [pay, paySrv, inv, invSrv])
		sp.end();
	bank.end();
	db.end();
	co.end();
	call.end();
	root.end();
}

describe('dependency links and service-graph metrics from exporters', { timeout: 90000 }, () => {
	let m;
	before(async () => { m = await startMixd({ args: ['--servicegraph.wait=1s'] }); });
	after(async () => { if (m) await m.stop(); });

	it('names parents, children and counts; /metrics agrees', async () => {
		const s = {
			frontend: service('frontend', new ProtoExporter({ url: `${m.url('otlp')}/v1/traces` }), false),
			checkout: service('checkout', new HttpExporter({ url: `${m.url('otlp')}/v1/traces` }), true),
			payments: service('payments', new ZipkinExporter({ url: `${m.url('zipkin')}/api/v2/spans` }), false),
			inventory: service('inventory', new JaegerExporter({ endpoint: `${m.url('jaeger_collector')}/api/traces` }), false),
		};
		for (let i = 0; i < N; i++)
			request(s, i);
		for (const x of Object.values(s)) {
			await x.provider.forceFlush();
			await x.provider.shutdown();
			assert.ok(x.rec.results.length > 0, `${x.name} exported`);
			for (const r of x.rec.results)
				assert.equal(r.code, ExportResultCode.SUCCESS, `${x.name}: ${r.error && (r.error.message || r.error)}`);
		}

		const endTs = Date.now() + 60000;
		const want = [
			{ parent: 'checkout', child: 'bank', callCount: N },
			{ parent: 'checkout', child: 'inventory', callCount: N },
			{ parent: 'checkout', child: 'orders', callCount: N },
			{ parent: 'checkout', child: 'payments', callCount: N, errorCount: FAILED },
			{ parent: 'frontend', child: 'checkout', callCount: N },
		];
		/* pairs count at once; "bank" only once its client span's wait
		 * ended; the writer stores counts within about a second */
		const zipkin = await waitFor(async () => {
			const r = await getJson(`${m.url('zipkin')}/api/v2/dependencies?endTs=${endTs}`);
			assert.equal(r.status, 200);
			return JSON.stringify(r.json) === JSON.stringify(want) ? r.json : false;
		}, { timeoutMs: 20000, intervalMs: 100, what: `Zipkin dependencies ${JSON.stringify(want)}` });
		assert.ok(Array.isArray(zipkin), 'a bare array');

		const j = await getJson(`${m.url('query')}/api/dependencies?endTs=${endTs}`);
		assert.equal(j.status, 200);
		assert.deepEqual(j.json, {
			data: want.map(({ parent, child, callCount }) => ({ parent, child, callCount })),
			total: 0, limit: 0, offset: 0, errors: null,
		});
		const jp = await getJson(`${m.url('query')}/api/dependencies?endTs=${endTs}&service=payments`);
		assert.deepEqual(jp.json.data, [{ parent: 'checkout', child: 'payments', callCount: N }]);
		const bad = await getJson(`${m.url('query')}/api/dependencies?endTs=soon`);
		assert.equal(bad.status, 400);
		assert.equal(bad.json.errors[0].code, 400);

		/* the Tempo-named series; the frontend's root spans expire into
		 * calls from "user" */
		const edgeKey = (l) => `${l.client}>${l.server}|${l.connection_type}`;
		const { samples } = await waitFor(async () => {
			const r = await fetchMetrics(m.url('web'));
			const t = sumBy(r.samples, 'traces_service_graph_request_total', edgeKey);
			return t.get('user>frontend|virtual_node') === N ? r : false;
		}, { timeoutMs: 20000, intervalMs: 100, what: 'user>frontend on /metrics' });
		const total = sumBy(samples, 'traces_service_graph_request_total', edgeKey);
		const failed = sumBy(samples, 'traces_service_graph_request_failed_total', edgeKey);
		assert.deepEqual(Object.fromEntries(total), {
			'frontend>checkout|': N,
			'checkout>payments|': N,
			'checkout>inventory|': N,
			'checkout>orders|database': N,
			'checkout>bank|virtual_node': N,
			'user>frontend|virtual_node': N,
		});
		assert.deepEqual(Object.fromEntries(failed), { 'checkout>payments|': FAILED });
		/* every link agrees with the metrics summed over connection types */
		const pairKey = (l) => `${l.client}>${l.server}`;
		const calls = sumBy(samples, 'traces_service_graph_request_total', pairKey);
		const errs = sumBy(samples, 'traces_service_graph_request_failed_total', pairKey);
		for (const l of zipkin) {
			assert.equal(calls.get(`${l.parent}>${l.child}`), l.callCount, `${l.parent}>${l.child} calls`);
			assert.equal(errs.get(`${l.parent}>${l.child}`) || 0, l.errorCount || 0,
				`${l.parent}>${l.child} errors`);
		}
		const srvCount = sumBy(samples, 'traces_service_graph_request_server_seconds_count', edgeKey);
		const cliCount = sumBy(samples, 'traces_service_graph_request_client_seconds_count', edgeKey);
		assert.deepEqual(srvCount, total);
		assert.deepEqual(cliCount, total);

		/* span metrics: every span by service, name, kind and status */
		const smKey = (l) => `${l.service}|${l.span_name}|${l.span_kind}|${l.status_code}`;
		const sm = sumBy(samples, 'traces_spanmetrics_calls_total', smKey);
		assert.equal(sm.get('payments|charge|SPAN_KIND_SERVER|STATUS_CODE_ERROR'), FAILED);
		assert.equal(sm.get('payments|charge|SPAN_KIND_SERVER|STATUS_CODE_UNSET'), N - FAILED);
		assert.equal(sm.get('frontend|GET /buy|SPAN_KIND_SERVER|STATUS_CODE_UNSET'), N);
		assert.equal(sm.get('checkout|INSERT orders|SPAN_KIND_CLIENT|STATUS_CODE_UNSET'), N);
		assert.equal(sm.get('inventory|reserve|SPAN_KIND_SERVER|STATUS_CODE_UNSET'), N);
		let spans = 0;
		for (const v of sm.values())
			spans += v;
		assert.equal(spans, 9 * N, 'nine spans per request');
		assert.deepEqual(sumBy(samples, 'traces_spanmetrics_latency_count', smKey), sm);
		const pend = sumBy(samples, 'mixd_servicegraph_pairs_total');
		assert.equal(pend.get(''), 4 * N, 'pairs: frontend-checkout, payments, inventory, db');
	});
});
