/*
 * jaeger.test.js - Jaeger thrift into the real mixd: the stock
 * @opentelemetry/exporter-jaeger over its default UDP transport (thrift
 * binary Agent.emitBatch to mixd's --jaeger.agent-binary-listen-address)
 * and over HTTP (POST /api/traces on --jaeger.collector-listen-address),
 * read back through BOTH query APIs (Jaeger GET /api/traces/{id}, Zipkin
 * GET /api/v2/trace/{id}).
 *
 * Expectations are computed from what the exporter sends: its own
 * spanToThrift() of each SDK span (the tags with their thrift types: every
 * number a DOUBLE, arrays String()ed, resource attributes as span tags;
 * times in µs; logs in whole ms). Tags the model absorbs into kind, status
 * and scope (span.kind, error, otel.status_code, otel.status_description,
 * otel.library.*) must each come back once with the value sent; every other
 * tag must come back exactly, with its type.
 *
 * Bad input: garbage, truncated and wrong-content-type bodies get 400/415;
 * a garbage datagram on each UDP port is counted as malformed in
 * /debug/vars; mixd stays alive throughout. UDP has no answer, so reads
 * poll with bounds.
 */
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const dgram = require('node:dgram');
const http = require('node:http');
const api = require('@opentelemetry/api');
const { BasicTracerProvider, SimpleSpanProcessor, InMemorySpanExporter } =
	require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { ExportResultCode } = require('@opentelemetry/core');
const { JaegerExporter } = require('@opentelemetry/exporter-jaeger');
const { spanToThrift } = require('@opentelemetry/exporter-jaeger/build/src/transform');

const { startMixd } = require('./lib/mixd');
const { request, getJson, waitFor } = require('./lib/util');
const { jaegerTraceId, sortTags } = require('./lib/jaeger');

const SERVICE = 'jaeger-it-svc';
const PROCESS_TAGS = [{ key: 'process.tag', value: 'p1' }, { key: 'process.count', value: 3 }];
/* tags the model turns into kind, status or scope */
const ABSORBED = new Set(['span.kind', 'error', 'otel.status_code', 'otel.status_description',
	'otel.library.name', 'otel.library.version', 'otel.scope.name', 'otel.scope.version']);
const KIND_ZIPKIN = { server: 'SERVER', client: 'CLIENT', producer: 'PRODUCER', consumer: 'CONSUMER' };

function v4(list) {
	assert.ok(Array.isArray(list) && list.length > 0, 'listener bound');
	const a = list.find((x) => x.startsWith('127.0.0.1:')) || list[0];
	return Number(a.slice(a.lastIndexOf(':') + 1));
}

/* int64 as an 8-byte big-endian Buffer (thriftrw's form) -> Number */
function i64(b) {
	return typeof b === 'number' ? b : Number(Buffer.from(b).readBigInt64BE(0));
}
function hex64(b) {
	return Buffer.from(b).toString('hex');
}

/* A thrift Tag -> Jaeger UI KeyValue */
function jaegerTag(t) {
	switch (t.vType) {
	case 'STRING': return { key: t.key, type: 'string', value: t.vStr };
	case 'DOUBLE': return { key: t.key, type: 'float64', value: t.vDouble };
	case 'BOOL': return { key: t.key, type: 'bool', value: t.vBool };
	case 'LONG': return { key: t.key, type: 'int64', value: i64(t.vLong) };
	default: return { key: t.key, type: 'binary', value: Buffer.from(t.vBinary).toString('base64') };
	}
}

/* SERVER root (OK) -> CLIENT child (event with attributes, ERROR with a
 * message) -> INTERNAL grandchild with a link to the root. Returns the
 * finished ReadableSpans. */
function makeSpans() {
	const mem = new InMemorySpanExporter();
	const provider = new BasicTracerProvider({
		resource: resourceFromAttributes({ 'service.name': SERVICE, 'host.name': 'jit-host', 'process.pid': 4242 }),
		spanProcessors: [new SimpleSpanProcessor(mem)],
	});
	const tracer = provider.getTracer('mixd-jaeger-it', '7.8.9');
	const root = tracer.startSpan('GET /checkout', {
		kind: api.SpanKind.SERVER,
		attributes: {
			'http.method': 'GET', 'http.status_code': 200, 'neg.int': -42, 'big.int': 2 ** 60,
			ratio: 3.25, 'small.double': 0.1, sampled: true, off: false,
			'str.array': ['a', 'b'], 'utf8.string': 'héllo → wörld',
		},
	});
	root.setStatus({ code: api.SpanStatusCode.OK });
	const rootCtx = api.trace.setSpan(api.context.active(), root);
	const child = tracer.startSpan('charge card', {
		kind: api.SpanKind.CLIENT,
		attributes: { 'peer.service': 'bank-svc', retries: 2 },
	}, rootCtx);
	child.addEvent('retrying', { attempt: 1, reason: 'timeout', backoff: 0.5, final: false });
	child.addEvent('gave up');
	child.setStatus({ code: api.SpanStatusCode.ERROR, message: 'card declined' });
	const childCtx = api.trace.setSpan(rootCtx, child);
	const grand = tracer.startSpan('compute tax', {
		kind: api.SpanKind.INTERNAL,
		links: [{ context: root.spanContext() }],
	}, childCtx);
	grand.setAttribute('tax.rate', 0.19);
	grand.end();
	child.end();
	root.end();
	const spans = mem.getFinishedSpans();
	assert.equal(spans.length, 3);
	return spans;
}

async function exportVia(exporter, spans) {
	const res = await new Promise((resolve) => exporter.export(spans, resolve));
	assert.equal(res.code, ExportResultCode.SUCCESS, `export: ${res.error}`);
	await exporter.shutdown();
}

async function jaegerTrace(m, traceId, n) {
	return waitFor(async () => {
		const r = await getJson(`${m.url('query')}/api/traces/${traceId}`);
		if (r.status !== 200 || !r.json.data || !r.json.data[0])
			return false;
		return r.json.data[0].spans.length >= n ? r.json.data[0] : false;
	}, { timeoutMs: 10000, what: `trace ${traceId} with ${n} spans` });
}

/* Exactly one tag `key` among `tags` (under any of `keys`), with `value`. */
function assertOnce(tags, keys, value, where) {
	const hits = tags.filter((t) => keys.includes(t.key));
	assert.equal(hits.length, 1, `${where}: exactly one of ${keys.join('/')} (got ${JSON.stringify(hits)})`);
	assert.equal(hits[0].value, value, `${where}: ${keys[0]} value`);
}

function assertJaegerTrace(trace, spans) {
	const tid = jaegerTraceId(spans[0].spanContext().traceId);
	assert.equal(trace.traceID, tid, 'traceID');
	assert.equal(trace.spans.length, spans.length, 'span count');
	const got = new Map(trace.spans.map((s) => [s.spanID, s]));
	for (const rs of spans) {
		const th = spanToThrift(rs);
		const id = hex64(th.spanId);
		const where = `span ${rs.name} (${id})`;
		const s = got.get(id);
		assert.ok(s, `${where} missing`);
		assert.equal(s.traceID, tid, `${where}: traceID`);
		assert.equal(s.operationName, th.operationName, `${where}: operationName`);
		const refs = [];
		if (i64(th.parentSpanId) !== 0 && th.parentSpanId.length)
			refs.push({ refType: 'CHILD_OF', traceID: tid, spanID: hex64(th.parentSpanId) });
		for (const r of th.references)
			refs.push({ refType: 'FOLLOWS_FROM',
				traceID: jaegerTraceId(hex64(r.traceIdHigh) + hex64(r.traceIdLow)), spanID: hex64(r.spanId) });
		assert.deepEqual(s.references, refs, `${where}: references`);
		assert.equal(s.startTime, i64(th.startTime), `${where}: startTime (µs)`);
		assert.equal(s.duration, i64(th.duration), `${where}: duration (µs)`);
		assert.equal(s.flags, th.flags, `${where}: flags`);
		const sent = th.tags.map(jaegerTag);
		assert.deepEqual(sortTags(s.tags.filter((t) => !ABSORBED.has(t.key))),
			sortTags(sent.filter((t) => !ABSORBED.has(t.key))), `${where}: tags with types`);
		for (const t of sent) {
			if (t.key === 'otel.library.name')
				assertOnce(s.tags, ['otel.library.name', 'otel.scope.name'], t.value, where);
			else if (t.key === 'otel.library.version')
				assertOnce(s.tags, ['otel.library.version', 'otel.scope.version'], t.value, where);
			else if (ABSORBED.has(t.key))
				assertOnce(s.tags, [t.key], t.value, where);
		}
		assert.deepEqual(s.logs, th.logs.map((l) => ({ timestamp: i64(l.timestamp), fields: l.fields.map(jaegerTag) })),
			`${where}: logs`);
		const p = trace.processes[s.processID];
		assert.ok(p, `${where}: process`);
		assert.equal(p.serviceName, SERVICE, `${where}: serviceName`);
		assert.deepEqual(sortTags(p.tags), sortTags(PROCESS_TAGS.map((t) =>
			(typeof t.value === 'number' ? { key: t.key, type: 'float64', value: t.value } :
				{ key: t.key, type: 'string', value: t.value }))), `${where}: process tags`);
	}
}

async function assertZipkinTrace(m, spans) {
	const tid = jaegerTraceId(spans[0].spanContext().traceId);
	const r = await getJson(`${m.url('zipkin')}/api/v2/trace/${tid}`);
	assert.equal(r.status, 200, 'zipkin trace status');
	assert.equal(r.json.length, spans.length, 'zipkin span count');
	const got = new Map(r.json.map((s) => [s.id, s]));
	for (const rs of spans) {
		const th = spanToThrift(rs);
		const id = hex64(th.spanId);
		const where = `zipkin span ${rs.name} (${id})`;
		const z = got.get(id);
		assert.ok(z, `${where} missing`);
		assert.equal(z.traceId, tid, `${where}: traceId`);
		const parent = i64(th.parentSpanId) !== 0 && th.parentSpanId.length ? hex64(th.parentSpanId) : undefined;
		assert.equal(z.parentId, parent, `${where}: parentId`);
		assert.equal(z.name, th.operationName, `${where}: name`);
		const kindTag = th.tags.find((t) => t.key === 'span.kind');
		assert.equal(z.kind, kindTag ? KIND_ZIPKIN[kindTag.vStr] : undefined, `${where}: kind`);
		assert.equal(z.timestamp, i64(th.startTime), `${where}: timestamp`);
		assert.equal(z.duration, Math.max(1, i64(th.duration)), `${where}: duration`);
		assert.equal(z.localEndpoint.serviceName, SERVICE, `${where}: localEndpoint`);
		for (const t of th.tags) {
			if (ABSORBED.has(t.key))
				continue;
			const text = z.tags && z.tags[t.key];
			assert.equal(typeof text, 'string', `${where}: tag ${t.key} present`);
			if (t.vType === 'DOUBLE')
				assert.equal(Number(text), t.vDouble, `${where}: tag ${t.key}`);
			else if (t.vType === 'BOOL')
				assert.equal(text, String(t.vBool), `${where}: tag ${t.key}`);
			else
				assert.equal(text, t.vStr, `${where}: tag ${t.key}`);
		}
		if (th.tags.some((t) => t.key === 'error'))
			assert.ok(z.tags && 'error' in z.tags, `${where}: error tag`);
		const anns = z.annotations || [];
		assert.equal(anns.length, th.logs.length, `${where}: annotation count`);
		th.logs.forEach((l, i) => {
			assert.equal(anns[i].timestamp, i64(l.timestamp), `${where}: annotation ${i} timestamp`);
			assert.ok(anns[i].value.startsWith(l.fields[0].vStr), `${where}: annotation ${i} value ${anns[i].value}`);
		});
	}
}

/* Captures the body the HTTP exporter sends (a bare binary Batch). */
async function captureBody(spans) {
	let body = null;
	let ctype = null;
	const srv = http.createServer((req, res) => {
		const parts = [];
		req.on('data', (d) => parts.push(d));
		req.on('end', () => { body = Buffer.concat(parts); ctype = req.headers['content-type']; res.writeHead(202); res.end(); });
	});
	await new Promise((r) => srv.listen(0, '127.0.0.1', r));
	const exp = new JaegerExporter({ endpoint: `http://127.0.0.1:${srv.address().port}/api/traces`, tags: PROCESS_TAGS });
	try {
		await exportVia(exp, spans);
	} finally {
		srv.close();
	}
	assert.ok(body && body.length > 0, 'captured a body');
	return { body, ctype };
}

async function vars(m) {
	const r = await getJson(`${m.url('web')}/debug/vars`);
	assert.equal(r.status, 200);
	return r.json;
}

async function alive(m) {
	const r = await request(`${m.url('web')}/healthz`);
	assert.equal(r.status, 200, 'mixd alive');
	assert.equal(m.exited, null, 'mixd still running');
}

function sendUdp(port, buf) {
	return new Promise((resolve, reject) => {
		const s = dgram.createSocket('udp4');
		s.send(buf, port, '127.0.0.1', (err) => { s.close(); if (err) reject(err); else resolve(); });
	});
}

describe('Jaeger thrift ingest (UDP agent and HTTP collector)', { timeout: 90000 }, () => {
	let m;
	before(async () => { m = await startMixd(); });
	after(async () => { if (m) await m.stop(); });

	it('the listen line names the Jaeger listeners', () => {
		for (const k of ['jaeger_collector', 'jaeger_compact', 'jaeger_binary'])
			assert.ok(Array.isArray(m.addrs[k]) && m.addrs[k].length > 0, `${k} in ${JSON.stringify(m.addrs)}`);
	});

	it('exporter-jaeger over UDP (binary emitBatch) reads back through both APIs', async () => {
		const spans = makeSpans();
		const exp = new JaegerExporter({ host: '127.0.0.1', port: v4(m.addrs.jaeger_binary), tags: PROCESS_TAGS });
		await exportVia(exp, spans);
		const trace = await jaegerTrace(m, spans[0].spanContext().traceId, 3);
		assertJaegerTrace(trace, spans);
		await assertZipkinTrace(m, spans);
		const u = (await vars(m)).udp.jaeger_binary;
		assert.ok(u.datagrams >= 1 && u.accepted_spans >= 3, `udp counters ${JSON.stringify(u)}`);
	});

	it('exporter-jaeger over HTTP POST /api/traces reads back through both APIs', async () => {
		const spans = makeSpans();
		const exp = new JaegerExporter({ endpoint: `${m.url('jaeger_collector')}/api/traces`, tags: PROCESS_TAGS });
		await exportVia(exp, spans);
		/* the 202 came after the commit: no polling needed */
		const r = await getJson(`${m.url('query')}/api/traces/${spans[0].spanContext().traceId}`);
		assert.equal(r.status, 200);
		assertJaegerTrace(r.json.data[0], spans);
		await assertZipkinTrace(m, spans);
		const rx = (await vars(m)).receivers.jaeger_http;
		assert.ok(rx.requests >= 1 && rx.accepted_spans >= 3, `jaeger_http counters ${JSON.stringify(rx)}`);
	});

	it('HTTP: content types, query string, bad bodies', async () => {
		const spans = makeSpans();
		const { body, ctype } = await captureBody(spans);
		assert.match(ctype, /^application\/x-thrift/);
		const url = `${m.url('jaeger_collector')}/api/traces`;
		const post = (b, headers, q = '') => request(url + q, { method: 'POST', headers, body: b });
		for (const [headers, q] of [
			[{ 'Content-Type': 'application/x-thrift' }, '?format=jaeger.thrift'],
			[{ 'Content-Type': 'application/vnd.apache.thrift.binary; charset=binary' }, ''],
			[{}, ''],
		]) {
			const r = await post(body, headers, q);
			assert.equal(r.status, 202, `${JSON.stringify(headers)}${q}: ${r.body}`);
			assert.equal(r.body.length, 0, 'empty 202 body');
		}
		const r0 = await getJson(`${m.url('query')}/api/traces/${spans[0].spanContext().traceId}`);
		assertJaegerTrace(r0.json.data[0], spans);

		const TH = { 'Content-Type': 'application/x-thrift' };
		const bad = [
			['garbage', Buffer.from('this is not thrift at all, not even close'), TH, 400],
			['truncated', body.subarray(0, Math.floor(body.length / 2)), TH, 400],
			['empty', Buffer.alloc(0), TH, 400],
			['trailing bytes cut to one', body.subarray(0, 1), TH, 400],
			['json content type', body, { 'Content-Type': 'application/json' }, 415],
			['compact content type', body, { 'Content-Type': 'application/vnd.apache.thrift.compact' }, 415],
		];
		for (const [what, b, headers, status] of bad) {
			const r = await post(b, headers);
			assert.equal(r.status, status, `${what}: ${r.body}`);
			assert.match(String(r.headers['content-type']), /^text\/plain/, `${what}: text/plain`);
			assert.ok(r.body.length > 0, `${what}: names the problem`);
		}
		await alive(m);
	});

	it('UDP: garbage datagrams are counted as malformed and dropped', async () => {
		const before0 = (await vars(m)).udp;
		const junk = Buffer.from([0x82, 0x21, 0x01, 0x09, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x13]);
		await sendUdp(v4(m.addrs.jaeger_compact), junk);
		await sendUdp(v4(m.addrs.jaeger_binary), Buffer.from('garbage, not thrift'));
		await sendUdp(v4(m.addrs.jaeger_binary), Buffer.from([0x80, 0x01, 0x00, 0x04, 0x7f, 0xff, 0xff, 0xff]));
		await waitFor(async () => {
			const u = (await vars(m)).udp;
			return u.jaeger_compact.malformed_datagrams >= before0.jaeger_compact.malformed_datagrams + 1 &&
				u.jaeger_binary.malformed_datagrams >= before0.jaeger_binary.malformed_datagrams + 2;
		}, { timeoutMs: 5000, what: 'malformed datagrams counted' });
		const u = (await vars(m)).udp;
		for (const k of ['datagrams', 'malformed_datagrams', 'accepted_spans', 'dropped_spans', 'kernel_drops'])
			assert.equal(typeof u.jaeger_compact[k], 'number', `udp.jaeger_compact.${k}`);
		await alive(m);
	});
});
