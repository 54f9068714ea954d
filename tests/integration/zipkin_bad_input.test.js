/*
 * zipkin_bad_input.test.js - hostile and broken requests to the Zipkin
 * receiver of the real mixd (started with --http.max-body=1MiB): the table
 * of bad_input.test.js applied to both v2 encodings (JSON and proto3) plus
 * the v1 specifics. Zipkin has no partial success, so mixd's rules are:
 * a body that does not decode at all -> 400 text/plain naming the problem;
 * spans with invalid ids (or over a cap) are dropped and counted, the rest
 * stored, answer 202; over the body caps -> 413; an unknown
 * Content-Encoding -> 415. After every case mixd still answers and a trace
 * stored before all of them reads back exactly as it did.
 */
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const zlib = require('node:zlib');
const { once } = require('node:events');

const { startMixd } = require('./lib/mixd');
const { request, randHex } = require('./lib/util');
const otlp = require('./lib/otlp');
const raw = require('./lib/raw');
const zipkin = require('./lib/zipkin');

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

function nowUs() {
	return Date.now() * 1000;
}

/* A plain valid v2 span. */
function good(traceId, id, extra = {}) {
	return zipkin.span({
		traceId, id, name: 'good', kind: 'SERVER', timestamp: nowUs(), duration: 150,
		localEndpoint: { serviceName: 'zbad-svc' }, ...extra,
	});
}

function assertText(res, status, what, re) {
	const body = res.body.toString('utf8');
	assert.equal(res.status, status, `${what}: status (body ${JSON.stringify(body.slice(0, 200))})`);
	assert.match(String(res.headers['content-type']), /^text\/plain/, `${what}: text/plain`);
	assert.ok(body.trim().length > 0, `${what}: a message`);
	if (re)
		assert.match(body, re, `${what}: message names the problem`);
}

function assertAccepted(res, what) {
	assert.equal(res.status, 202, `${what}: status (body ${JSON.stringify(res.body.toString('utf8').slice(0, 200))})`);
	assert.equal(res.body.length, 0, `${what}: empty body`);
}

describe('bad input to the Zipkin receiver', { timeout: 120000 }, () => {
	let m;
	let v2Url;
	let v1Url;
	let baselineId;
	let baseline;

	const post = (url, body, headers) => request(url, { method: 'POST', headers, body });
	const readTrace = (id) => request(`${m.url('zipkin')}/api/v2/trace/${id}`);

	async function spanIdsOf(traceId) {
		const r = await readTrace(traceId);
		if (r.status === 404)
			return [];
		assert.equal(r.status, 200, `read ${traceId}: ${r.body}`);
		return JSON.parse(r.body.toString('utf8')).map((s) => s.id).sort();
	}

	async function assertIntact() {
		assert.equal(m.exited, null, `mixd is still running (stderr:\n${m.stderr})`);
		const ready = await request(`${m.url('web')}/readyz`);
		assert.equal(ready.status, 200, '/readyz after the bad input');
		const r = await readTrace(baselineId);
		assert.equal(r.status, 200, 'the earlier trace still reads back');
		assert.deepEqual(JSON.parse(r.body.toString('utf8')), baseline, 'the earlier trace is unchanged');
	}

	before(async () => {
		m = await startMixd({ args: ['--http.max-body=1MiB'] });
		v2Url = `${m.url('zipkin')}/api/v2/spans`;
		v1Url = `${m.url('zipkin')}/api/v1/spans`;
		baselineId = randHex(16);
		const root = randHex(8);
		const res = await post(v2Url, JSON.stringify([
			good(baselineId, root, { name: 'baseline-root', tags: { k: 'v' } }),
			good(baselineId, randHex(8), { name: 'baseline-child', parentId: root, kind: 'CLIENT' }),
		]), JS);
		assertAccepted(res, 'baseline');
		const r = await readTrace(baselineId);
		assert.equal(r.status, 200);
		baseline = JSON.parse(r.body.toString('utf8'));
		assert.equal(baseline.length, 2);
	});
	after(async () => { if (m) await m.stop(); });

	it('truncated proto -> 400', async () => {
		const body = zipkin.encodeProto([good(randHex(16), randHex(8), { tags: { some: 'x'.repeat(100) } })]);
		for (const cut of [body.length - 5, Math.floor(body.length / 2), 3])
			assertText(await post(v2Url, body.subarray(0, cut), PB), 400, `truncated at ${cut}/${body.length}`);
		await assertIntact();
	});

	it('garbage proto -> 400', async () => {
		const bodies = [
			Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
			Buffer.from([0x0f, 0x01, 0x02, 0x03]),
			Buffer.from('this is not a protobuf message at all, just ascii text......'),
			Buffer.concat([otlp.key(1, 2), otlp.varint(0x7fffffff)]),
			/* a span whose endpoint is a varint, not a message */
			otlp.lenField(1, Buffer.concat([otlp.lenField(1, Buffer.alloc(8, 1)), otlp.lenField(3, Buffer.alloc(8, 2)), otlp.varintField(8, 5)])),
		];
		for (const [i, b] of bodies.entries())
			assertText(await post(v2Url, b, PB), 400, `garbage #${i}`);
		await assertIntact();
	});

	it('invalid JSON -> 400', async () => {
		for (const body of ['[', 'not json', '[{}]]', '\u0000\u0001', '[{"traceId":"\\u12"}]', '[{"traceId":"1",}]'])
			assertText(await post(v2Url, body, JS), 400, `body ${JSON.stringify(body)}`);
		await assertIntact();
	});

	it('wrong JSON types -> 400', async () => {
		const tid = randHex(16);
		const id = randHex(8);
		const base = `"traceId":"${tid}","id":"${id}"`;
		const bodies = [
			'{"traceId":"1","id":"2"}',
			'5',
			'"spans"',
			'[1,2,3]',
			'[[]]',
			`[{"traceId":5,"id":"${id}"}]`,
			`[{${base},"tags":[1]}]`,
			`[{${base},"annotations":{}}]`,
			`[{${base},"annotations":[5]}]`,
			`[{${base},"timestamp":true}]`,
			`[{${base},"duration":{}}]`,
			`[{${base},"localEndpoint":5}]`,
			`[{${base},"name":7}]`,
		];
		for (const b of bodies)
			assertText(await post(v2Url, b, JS), 400, `body ${b}`);
		assert.deepEqual(await spanIdsOf(tid), [], 'nothing of those bodies was stored');
		await assertIntact();
	});

	it('10 000-deep nesting in JSON -> 400', async () => {
		const deep = '['.repeat(10000) + '"x"' + ']'.repeat(10000);
		const body = `[{"traceId":"${randHex(16)}","id":"${randHex(8)}","tags":{"deep":${deep}}}]`;
		assert.ok(body.length < MAX_BODY);
		assertText(await post(v2Url, body, JS), 400, 'deep JSON');
		const deepObj = '{"a":'.repeat(10000) + '1' + '}'.repeat(10000);
		assertText(await post(v2Url, `[${deepObj}]`, JS), 400, 'deep JSON object as a span');
		await assertIntact();
	});

	it('10 000-deep unknown proto fields are skipped, not recursed into', async () => {
		/* field 99 (unknown to zipkin.proto3.Span) holding LEN fields nested
		 * 10 000 deep: protobuf skips unknown fields by wire type */
		let nest = otlp.lenField(1, 'x');
		for (let i = 0; i < 10000; i++)
			nest = otlp.lenField(1, nest);
		const tid = randHex(16);
		const id = randHex(8);
		const s = Buffer.concat([zipkin.pbSpan(good(tid, id)), otlp.lenField(99, nest)]);
		assert.ok(s.length < MAX_BODY);
		assertAccepted(await post(v2Url, otlp.lenField(1, s), PB), 'deep unknown field');
		assert.deepEqual(await spanIdsOf(tid), [id]);
		await assertIntact();
	});

	it('gzip bomb (100 MiB of zeros) -> 413, declared or not', async () => {
		const bomb = await gzipZeros(100 * 1024 * 1024);
		assert.ok(bomb.length < MAX_BODY);
		assertText(await post(v2Url, bomb, { ...PB, 'Content-Encoding': 'gzip' }), 413, 'declared gzip bomb (proto)');
		assertText(await post(v2Url, bomb, { ...JS, 'Content-Encoding': 'gzip' }), 413, 'declared gzip bomb (JSON)');
		assertText(await post(v1Url, bomb, { ...JS, 'Content-Encoding': 'gzip' }), 413, 'declared gzip bomb (v1)');
		assertText(await post(v2Url, bomb, JS), 413, 'undeclared gzip bomb');
		await assertIntact();
	});

	it('a malformed gzip body -> 400; an unknown Content-Encoding -> 415', async () => {
		const gz = zlib.gzipSync(JSON.stringify([good(randHex(16), randHex(8))]));
		const broken = Buffer.concat([gz.subarray(0, 10), Buffer.alloc(40, 0x55)]);
		assertText(await post(v2Url, broken, { ...JS, 'Content-Encoding': 'gzip' }), 400, 'broken gzip');
		const r = await post(v2Url, '[]', { ...JS, 'Content-Encoding': 'br' });
		assert.equal(r.status, 415, `unknown Content-Encoding: ${r.body}`);
		await assertIntact();
	});

	it('body over --http.max-body with Content-Length -> 413 before the body is sent', async () => {
		for (const path of ['/api/v2/spans', '/api/v1/spans']) {
			const sock = await raw.connect(m.url('zipkin'));
			try {
				const rd = raw.responseReader(sock);
				sock.write(raw.head('POST', path, m.url('zipkin'),
					{ 'Content-Type': 'application/json', 'Content-Length': String(2 * MAX_BODY) }));
				const res = await rd.next(5000);
				assert.equal(res.closed, undefined, `${path}: answered (not just closed): ${res.error}`);
				assert.equal(res.status, 413, path);
			} finally {
				sock.destroy();
			}
		}
		const res = await post(v2Url, Buffer.alloc(MAX_BODY + 1, 0x20), JS).catch((e) => ({ error: e }));
		if (!res.error)
			assert.equal(res.status, 413);
		else
			assert.match(res.error.code || '', /ECONNRESET|EPIPE/, `connection error ${res.error}`);
		await assertIntact();
	});

	it('chunked body past the cap -> 413 or connection closed', async (t) => {
		const sock = await raw.connect(m.url('zipkin'));
		try {
			const rd = raw.responseReader(sock);
			await raw.writeAll(sock, raw.head('POST', '/api/v2/spans', m.url('zipkin'),
				{ 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }));
			const chunk = Buffer.alloc(64 * 1024, 0x20);
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
				assert.equal(res.status, 413);
		} finally {
			sock.destroy();
		}
		await assertIntact();
	});

	it('zero, bad and over-long ids (JSON) -> 202, those spans dropped, the rest stored', async () => {
		const tid = randHex(16);
		const ok = [randHex(8), randHex(8), randHex(8)];
		const spans = [
			good(tid, ok[0]),
			good('0'.repeat(32), randHex(8), { name: 'zero-trace' }),
			good(tid, '0'.repeat(16), { name: 'zero-span' }),
			good('xyz' + randHex(8), randHex(8), { name: 'not-hex-trace' }),
			good(tid, randHex(9).slice(0, 17), { name: '17-digit-span' }),
			good(randHex(17).slice(0, 33), randHex(8), { name: '33-digit-trace' }),
			{ traceId: tid, name: 'no-id', timestamp: nowUs(), duration: 5 },
			{ id: randHex(8), name: 'no-trace-id', timestamp: nowUs(), duration: 5 },
			good(tid, randHex(8), { name: 'bad-parent', parentId: 'nothex!!' }),
			/* lenient as Zipkin: short ids are left-padded, upper case accepted */
			good(tid, ok[1].replace(/^0+/, '').toUpperCase(), { name: 'upper-case-id' }),
			good(tid, ok[2], { name: 'child', parentId: ok[0] }),
		];
		assertAccepted(await post(v2Url, JSON.stringify(spans), JS), 'mixed ids');
		assert.deepEqual(await spanIdsOf(tid), [...ok].sort(), 'exactly the valid spans are stored');
		await assertIntact();
	});

	it('zero, bad and short ids (proto) -> 202, those spans dropped, the rest stored', async () => {
		const tid = randHex(16);
		const tid64 = randHex(8);
		const ok = randHex(8);
		const ok64 = randHex(8);
		const spans = [
			good('0'.repeat(32), randHex(8), { name: 'zero-trace' }),
			good(tid, ok),
			good(tid, '0'.repeat(16), { name: 'zero-span' }),
			good(randHex(12), randHex(8), { name: '12-byte-trace' }),
			good(tid, randHex(7), { name: '7-byte-span' }),
			good(tid, randHex(8), { name: '5-byte-parent', parentId: randHex(5) }),
			good(tid64, ok64, { name: '8-byte-trace' }),
		];
		assertAccepted(await post(v2Url, zipkin.encodeProto(spans), PB), 'mixed ids');
		assert.deepEqual(await spanIdsOf(tid), [ok]);
		assert.deepEqual(await spanIdsOf(tid64), [ok64], 'an 8-byte trace id is valid');
		await assertIntact();
	});

	it('a tag value over the value cap -> that span dropped, the rest stored', async () => {
		for (const enc of ['json', 'proto']) {
			const tid = randHex(16);
			const small = randHex(8);
			const spans = [good(tid, small), good(tid, randHex(8), { name: 'huge', tags: { blob: 'y'.repeat(300 * 1024) } })];
			const res = enc === 'json'
				? await post(v2Url, JSON.stringify(spans), JS)
				: await post(v2Url, zipkin.encodeProto(spans), PB);
			assertAccepted(res, enc);
			assert.deepEqual(await spanIdsOf(tid), [small], `${enc}: only the small span`);
		}
		await assertIntact();
	});

	it('empty bodies and [] -> 202, nothing stored', async () => {
		assertAccepted(await post(v2Url, '', JS), 'empty JSON');
		assertAccepted(await post(v2Url, '[]', JS), '[]');
		assertAccepted(await post(v2Url, Buffer.alloc(0), PB), 'empty proto');
		assertAccepted(await post(v1Url, '[]', JS), 'v1 []');
		await assertIntact();
	});

	it('PUT and DELETE on the ingest paths -> 405', async () => {
		for (const method of ['PUT', 'DELETE']) {
			const r = await request(v2Url, { method, headers: JS, body: '[]' });
			assert.equal(r.status, 405, `${method} /api/v2/spans`);
		}
		await assertIntact();
	});

	it('a v1 body on /api/v2/spans -> 400 naming JSON_V1; v2 on /api/v1/spans -> 400 naming JSON_V2', async () => {
		const tid = randHex(16);
		const v1 = [{
			traceId: tid, id: randHex(8), name: 'v1',
			annotations: [{ timestamp: nowUs(), value: 'sr', endpoint: { serviceName: 'zbad-v1' } }],
			binaryAnnotations: [{ key: 'k', value: 'v', endpoint: { serviceName: 'zbad-v1' } }],
		}];
		assertText(await post(v2Url, JSON.stringify(v1), JS), 400, 'v1 on v2', /JSON_V1/);
		assertText(await post(v1Url, JSON.stringify([good(tid, randHex(8))]), JS), 400, 'v2 on v1', /JSON_V2/);
		assert.deepEqual(await spanIdsOf(tid), []);
		await assertIntact();
	});

	it('bad v1 annotations and binary annotations -> 400; v1 as protobuf -> 415', async () => {
		const base = `"traceId":"${randHex(16)}","id":"${randHex(8)}","name":"v1"`;
		const bodies = [
			`[{${base},"annotations":{}}]`,
			`[{${base},"annotations":[5]}]`,
			`[{${base},"annotations":[{"timestamp":1,"value":7}]}]`,
			`[{${base},"annotations":[{"timestamp":"soon","value":"sr"}]}]`,
			`[{${base},"annotations":[{"timestamp":1,"value":"sr","endpoint":"host"}]}]`,
			`[{${base},"binaryAnnotations":"k=v"}]`,
			`[{${base},"binaryAnnotations":[{"key":5,"value":"v"}]}]`,
			`[{${base},"debug":"yes"}]`,
			'{"spans":[]}',
		];
		for (const b of bodies)
			assertText(await post(v1Url, b, JS), 400, `v1 body ${b}`);
		const r = await post(v1Url, Buffer.from([0x0a, 0x00]), PB);
		assert.equal(r.status, 415, 'v1 proto');
		await assertIntact();
	});

	it('bad v1 ids -> 202, those spans dropped, the rest stored', async () => {
		const tid = randHex(16);
		const id = randHex(8);
		const ts = nowUs();
		const ann = (v) => ({ timestamp: ts, value: v, endpoint: { serviceName: 'zbad-v1' } });
		const body = [
			{ traceId: tid, id, name: 'ok', annotations: [ann('sr'), { ...ann('ss'), timestamp: ts + 10 }] },
			{ traceId: '0'.repeat(16), id: randHex(8), name: 'zero', annotations: [ann('sr')] },
			{ traceId: tid, id: 'zz', name: 'bad', annotations: [ann('sr')] },
		];
		assertAccepted(await post(v1Url, JSON.stringify(body), JS), 'v1 mixed ids');
		assert.deepEqual(await spanIdsOf(tid), [id]);
		await assertIntact();
	});
});
