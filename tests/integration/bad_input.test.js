/*
 * bad_input.test.js - hostile and broken requests to POST /v1/traces on the
 * real mixd (started with --http.max-body=1MiB): truncated and garbage
 * protobuf, broken JSON, 10 000-deep nesting in both encodings, a gzip bomb,
 * oversized bodies with Content-Length and chunked, wrong JSON types, bad
 * ids and over-cap values (partial success), wrong content type and method.
 * Every case checks the status and the error body, then that mixd still
 * answers and that a trace stored before all of them still reads back
 * exactly as it did.
 */
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const zlib = require('node:zlib');
const { once } = require('node:events');

const { startMixd } = require('./lib/mixd');
const { request, getJson, randHex } = require('./lib/util');
const otlp = require('./lib/otlp');
const raw = require('./lib/raw');

const MAX_BODY = 1024 * 1024;
const PB = { 'Content-Type': 'application/x-protobuf' };
const JS = { 'Content-Type': 'application/json' };

async function gzipZeros(total) {
	const gz = zlib.createGzip({ level: 9 });
	const out = [];
	gz.on('data', (c) => out.push(c));
	const ended = once(gz, 'end');
	const zero = Buffer.alloc(1024 * 1024);
	for (let n = 0; n < total; n += zero.length)
		if (!gz.write(zero))
			await once(gz, 'drain');
	gz.end();
	await ended;
	return Buffer.concat(out);
}

/* AnyValue{array_value{values{...}}} nested `depth` times around a string,
 * written top-down with precomputed lengths (linear time). */
function nestedAnyValuePb(depth) {
	const inner = otlp.lenField(1, 'x'); /* AnyValue{string_value:"x"} */
	const varLen = (n) => otlp.varint(n).length;
	const anyLens = [inner.length];
	for (let i = 0; i < depth; i++) {
		const any = anyLens[i];
		const arr = 1 + varLen(any) + any; /* ArrayValue{values(1): any} */
		anyLens.push(1 + varLen(arr) + arr); /* AnyValue{array_value(5): arr} */
	}
	const parts = [];
	for (let i = depth; i > 0; i--) {
		const child = anyLens[i - 1];
		const arr = 1 + varLen(child) + child;
		parts.push(otlp.key(5, 2), otlp.varint(arr), otlp.key(1, 2), otlp.varint(child));
	}
	parts.push(inner);
	return Buffer.concat(parts);
}

function nestedJson(depth) {
	return '{"arrayValue":{"values":['.repeat(depth) + '{"stringValue":"x"}' + ']}}'.repeat(depth);
}

/* A request with one span whose attribute `deep` holds `valueJson`. */
function deepRequestJson(valueJson) {
	const req = otlp.request([otlp.span({ traceId: randHex(16), spanId: randHex(8), name: 'deep' })]);
	const text = JSON.stringify(req);
	return text.replace('"attributes":[]', `"attributes":[{"key":"deep","value":${valueJson}}]`);
}

function deepRequestPb(depth) {
	const kv = Buffer.concat([otlp.lenField(1, 'deep'), otlp.lenField(2, nestedAnyValuePb(depth))]);
	const s = otlp.span({ traceId: randHex(16), spanId: randHex(8), name: 'deep' });
	/* ExportTraceServiceRequest{ResourceSpans{ScopeSpans{Span{ids, name, attributes: kv}}}} */
	const span = Buffer.concat([
		otlp.lenField(1, Buffer.from(s.traceId, 'hex')),
		otlp.lenField(2, Buffer.from(s.spanId, 'hex')),
		otlp.lenField(5, 'deep'),
		otlp.fixed64Field(7, s.startTimeUnixNano),
		otlp.fixed64Field(8, s.endTimeUnixNano),
		otlp.lenField(9, kv),
	]);
	return otlp.lenField(1, otlp.lenField(2, otlp.lenField(2, span)));
}

function assertPbStatus(res, status, what) {
	assert.equal(res.status, status, `${what}: status (body ${JSON.stringify(res.body.toString('latin1').slice(0, 200))})`);
	assert.match(String(res.headers['content-type']), /^application\/x-protobuf/, `${what}: content-type`);
	const st = otlp.decodeStatus(res.body);
	assert.ok(st.message.length > 0, `${what}: google.rpc.Status.message is set`);
	return st;
}

function assertJsonStatus(res, status, what) {
	assert.equal(res.status, status, `${what}: status (body ${JSON.stringify(res.body.toString('utf8').slice(0, 200))})`);
	assert.match(String(res.headers['content-type']), /^application\/json/, `${what}: content-type`);
	const st = JSON.parse(res.body.toString('utf8'));
	assert.equal(typeof st.code, 'number', `${what}: Status.code is a number: ${JSON.stringify(st)}`);
	assert.equal(typeof st.message, 'string', `${what}: Status.message is a string`);
	assert.ok(st.message.length > 0, `${what}: Status.message is set`);
	return st;
}

describe('bad input to POST /v1/traces', { timeout: 120000 }, () => {
	let m;
	let otlpUrl;
	let baseline; /* the Jaeger JSON of a trace stored before the bad inputs */
	let baselineId;

	async function post(body, headers) {
		return request(otlpUrl, { method: 'POST', headers, body });
	}

	async function readTrace(id) {
		return getJson(`${m.url('query')}/api/traces/${id}`);
	}

	/* mixd still answers and the stored trace is unchanged. */
	async function assertIntact() {
		assert.equal(m.exited, null, `mixd is still running (stderr:\n${m.stderr})`);
		const ready = await request(`${m.url('web')}/readyz`);
		assert.equal(ready.status, 200, '/readyz after the bad input');
		const { status, json } = await readTrace(baselineId);
		assert.equal(status, 200, 'the earlier trace still reads back');
		assert.deepEqual(json, baseline, 'the earlier trace is unchanged');
	}

	before(async () => {
		m = await startMixd({ args: [`--http.max-body=1MiB`] });
		otlpUrl = `${m.url('otlp')}/v1/traces`;
		baselineId = randHex(16);
		const root = randHex(8);
		const req = otlp.request([
			otlp.span({ traceId: baselineId, spanId: root, name: 'baseline-root', kind: 2,
				attributes: [otlp.str('k', 'v'), { key: 'n', value: { intValue: '7' } }] }),
			otlp.span({ traceId: baselineId, spanId: randHex(8), parentSpanId: root, name: 'baseline-child', kind: 3 }),
		], { service: 'baseline-svc' });
		const res = await post(JSON.stringify(req), JS);
		assert.equal(res.status, 200, `baseline store: ${res.body}`);
		const r = await readTrace(baselineId);
		assert.equal(r.status, 200);
		assert.equal(r.json.data[0].spans.length, 2);
		baseline = r.json;
	});
	after(async () => { if (m) await m.stop(); });

	it('truncated protobuf -> 400 with google.rpc.Status', async () => {
		const good = otlp.encodePb(otlp.request([otlp.span({ traceId: randHex(16), spanId: randHex(8),
			attributes: [otlp.str('some', 'x'.repeat(100))] })]));
		for (const cut of [good.length - 5, Math.floor(good.length / 2), 3]) {
			const res = await post(good.subarray(0, cut), PB);
			assertPbStatus(res, 400, `truncated at ${cut}/${good.length}`);
		}
		await assertIntact();
	});

	it('garbage protobuf -> 400 with google.rpc.Status', async () => {
		const bodies = [
			Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), /* overlong varint */
			Buffer.from([0x0f, 0x01, 0x02, 0x03]), /* wire type 7 */
			Buffer.from('this is not a protobuf message at all, just ascii text......'),
			Buffer.concat([otlp.key(1, 2), otlp.varint(0x7fffffff)]), /* length past the end */
		];
		for (const [i, b] of bodies.entries())
			assertPbStatus(await post(b, PB), 400, `garbage #${i}`);
		await assertIntact();
	});

	it('invalid JSON -> 400 with a JSON Status', async () => {
		for (const body of ['{"resourceSpans":[', 'not json', '{"resourceSpans":[]}}', '\u0000\u0001', '{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"x\\u12"}]}]}]}'])
			assertJsonStatus(await post(body, JS), 400, `body ${JSON.stringify(body)}`);
		await assertIntact();
	});

	it('wrong JSON field types -> 400', async () => {
		const bodies = [
			'{"resourceSpans":5}',
			'{"resourceSpans":"x"}',
			'{"resourceSpans":[{"scopeSpans":{"spans":[]}}]}',
			'[1,2,3]',
		];
		for (const b of bodies)
			assertJsonStatus(await post(b, JS), 400, `body ${b}`);
		await assertIntact();
	});

	it('10 000-deep nesting in JSON -> 400', async () => {
		const body = deepRequestJson(nestedJson(10000));
		assert.ok(body.length < MAX_BODY, 'the body is under the body cap');
		assertJsonStatus(await post(body, JS), 400, 'deep JSON');
		await assertIntact();
	});

	it('10 000-deep nesting in protobuf -> 400', async () => {
		const body = deepRequestPb(10000);
		assert.ok(body.length < MAX_BODY, 'the body is under the body cap');
		/* sanity: our encoder nests correctly (4 levels -> readable) */
		const small = otlp.readFields(nestedAnyValuePb(4));
		assert.equal(small[0].field, 5);
		assertPbStatus(await post(body, PB), 400, 'deep protobuf');
		await assertIntact();
	});

	it('gzip bomb (100 MiB of zeros) -> 413, declared or not', async () => {
		const bomb = await gzipZeros(100 * 1024 * 1024);
		assert.ok(bomb.length < MAX_BODY, `the bomb (${bomb.length} bytes) is under the body cap`);
		assertPbStatus(await post(bomb, { ...PB, 'Content-Encoding': 'gzip' }), 413, 'declared gzip bomb');
		assertJsonStatus(await post(bomb, { ...JS, 'Content-Encoding': 'gzip' }), 413, 'declared gzip bomb (JSON)');
		assertPbStatus(await post(bomb, PB), 413, 'undeclared gzip bomb');
		await assertIntact();
	});

	it('body over --http.max-body with Content-Length -> 413 before the body is sent', async () => {
		const sock = await raw.connect(m.url('otlp'));
		try {
			const rd = raw.responseReader(sock);
			sock.write(raw.head('POST', '/v1/traces', m.url('otlp'),
				{ 'Content-Type': 'application/x-protobuf', 'Content-Length': String(2 * MAX_BODY) }));
			const res = await rd.next(5000);
			assert.equal(res.closed, undefined, `answered (not just closed): ${res.error}`);
			assert.equal(res.status, 413);
		} finally {
			sock.destroy();
		}
		/* and the same with the whole body sent through node:http */
		const res = await post(Buffer.alloc(MAX_BODY + 1, 0x41), PB).catch((e) => ({ error: e }));
		if (!res.error)
			assert.equal(res.status, 413);
		else
			assert.match(res.error.code || '', /ECONNRESET|EPIPE/, `connection error ${res.error}`);
		await assertIntact();
	});

	it('chunked body past the cap -> 413 or connection closed', async (t) => {
		const sock = await raw.connect(m.url('otlp'));
		try {
			const rd = raw.responseReader(sock);
			await raw.writeAll(sock, raw.head('POST', '/v1/traces', m.url('otlp'),
				{ 'Content-Type': 'application/x-protobuf', 'Transfer-Encoding': 'chunked' }));
			const chunk = Buffer.alloc(64 * 1024, 0x41);
			const frame = Buffer.concat([Buffer.from(chunk.length.toString(16) + '\r\n'), chunk, Buffer.from('\r\n')]);
			let sent = 0;
			while (sent < 8 * MAX_BODY && !rd.closed && rd.buffered === 0) {
				if (!(await raw.writeAll(sock, frame)))
					break;
				sent += chunk.length;
			}
			if (!rd.closed && rd.buffered === 0 && sent >= 8 * MAX_BODY)
				await raw.writeAll(sock, '0\r\n\r\n');
			const res = await rd.next(10000);
			t.diagnostic(`after ${sent} chunked bytes: ${res.closed ? 'connection closed' : res.status}`);
			if (res.closed)
				assert.ok(sent > MAX_BODY / 2, `closed only after a good part of the body (${sent} bytes)`);
			else
				assert.equal(res.status, 413, `status after ${sent} chunked bytes`);
		} finally {
			sock.destroy();
		}
		await assertIntact();
	});

	it('zero and short ids -> 200, rejected spans counted, good spans stored (JSON)', async () => {
		const tid = randHex(16);
		const good = [randHex(8), randHex(8)];
		const req = otlp.request([
			otlp.span({ traceId: tid, spanId: good[0], name: 'good-1' }),
			otlp.span({ traceId: '0'.repeat(32), spanId: randHex(8), name: 'zero-trace' }),
			otlp.span({ traceId: tid, spanId: '0'.repeat(16), name: 'zero-span' }),
			otlp.span({ traceId: randHex(4), spanId: randHex(8), name: 'short-trace' }),
			otlp.span({ traceId: tid, spanId: randHex(4), name: 'short-span' }),
			otlp.span({ traceId: tid, spanId: randHex(8), parentSpanId: randHex(3), name: 'short-parent' }),
			otlp.span({ traceId: tid, spanId: good[1], parentSpanId: good[0], name: 'good-2' }),
		]);
		const res = await post(JSON.stringify(req), JS);
		assert.equal(res.status, 200, `status (body ${res.body})`);
		const body = JSON.parse(res.body.toString('utf8'));
		assert.ok(body.partialSuccess, `partialSuccess present: ${res.body}`);
		assert.equal(Number(body.partialSuccess.rejectedSpans), 5, `rejectedSpans: ${res.body}`);
		assert.equal(typeof body.partialSuccess.errorMessage, 'string');
		assert.ok(body.partialSuccess.errorMessage.length > 0, 'errorMessage set');
		const r = await readTrace(tid);
		assert.equal(r.status, 200);
		assert.deepEqual(r.json.data[0].spans.map((s) => s.spanID).sort(), [...good].sort());
		await assertIntact();
	});

	it('zero and short ids -> 200, rejected spans counted, good spans stored (protobuf)', async () => {
		const tid = randHex(16);
		const good = randHex(8);
		const req = otlp.request([
			otlp.span({ traceId: '0'.repeat(32), spanId: randHex(8), name: 'zero-trace' }),
			otlp.span({ traceId: tid, spanId: good, name: 'good' }),
			otlp.span({ traceId: randHex(8), spanId: randHex(8), name: '8-byte-trace' }),
			otlp.span({ traceId: tid, spanId: '0'.repeat(16), name: 'zero-span' }),
			otlp.span({ traceId: tid, spanId: randHex(7), name: 'short-span' }),
		]);
		const res = await post(otlp.encodePb(req), PB);
		assert.equal(res.status, 200);
		const ps = otlp.decodeExportResponse(res.body);
		assert.ok(ps, 'partial_success present');
		assert.equal(ps.rejectedSpans, 4);
		assert.ok(ps.errorMessage.length > 0, 'error_message set');
		const r = await readTrace(tid);
		assert.equal(r.status, 200);
		assert.deepEqual(r.json.data[0].spans.map((s) => s.spanID), [good]);
		await assertIntact();
	});

	it('an attribute value over the value cap -> that span rejected and counted', async () => {
		for (const enc of ['json', 'pb']) {
			const tid = randHex(16);
			const good = randHex(8);
			const req = otlp.request([
				otlp.span({ traceId: tid, spanId: good, name: 'small' }),
				otlp.span({ traceId: tid, spanId: randHex(8), name: 'huge',
					attributes: [otlp.str('blob', 'y'.repeat(300 * 1024))] }),
			]);
			const res = enc === 'json'
				? await post(JSON.stringify(req), JS)
				: await post(otlp.encodePb(req), PB);
			assert.equal(res.status, 200, `${enc}: status`);
			const rejected = enc === 'json'
				? Number((JSON.parse(res.body.toString('utf8')).partialSuccess || {}).rejectedSpans)
				: (otlp.decodeExportResponse(res.body) || {}).rejectedSpans;
			assert.equal(rejected, 1, `${enc}: rejectedSpans (body ${res.body.toString('latin1').slice(0, 200)})`);
			const r = await readTrace(tid);
			assert.equal(r.status, 200, `${enc}: the good span's trace`);
			assert.deepEqual(r.json.data[0].spans.map((s) => s.spanID), [good], `${enc}: only the good span`);
		}
		await assertIntact();
	});

	it('text/plain -> 415; GET and PUT -> 405', async () => {
		const res = await post('hello', { 'Content-Type': 'text/plain' });
		assert.equal(res.status, 415);
		const get = await request(otlpUrl);
		assert.equal(get.status, 405, 'GET /v1/traces');
		const put = await request(otlpUrl, { method: 'PUT', headers: PB, body: Buffer.alloc(0) });
		assert.equal(put.status, 405, 'PUT /v1/traces');
		await assertIntact();
	});

	it('an empty request is a success', async () => {
		const pb = await post(Buffer.alloc(0), PB);
		assert.equal(pb.status, 200);
		assert.equal(pb.body.length, 0, 'empty protobuf answer on full success');
		const js = await post('{}', JS);
		assert.equal(js.status, 200);
		assert.deepEqual(JSON.parse(js.body.toString('utf8')), {});
		await assertIntact();
	});
});
