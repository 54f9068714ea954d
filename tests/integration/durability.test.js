/*
 * durability.test.js - what mixd acknowledged survives SIGKILL.
 *
 * mixd runs with the default --storage.sync=full. Four senders in this
 * process POST OTLP/JSON batches (5 traces x 10 spans, unique trace ids) as
 * fast as they can and remember every request answered 200. After the 40th
 * acknowledgement mixd is killed with SIGKILL, restarted on the same data
 * directory (it must open cleanly: listen line, /readyz 200), and every
 * span acknowledged so far, in this and all earlier cycles, must read back
 * through /api/traces/{id}. Five kill/restart cycles, well under a minute.
 */
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const crypto = require('node:crypto');

const { startMixd } = require('./lib/mixd');
const { request, getJson, mapLimit, tmpDir, rmDir } = require('./lib/util');

const SENDERS = 4;
const TRACES_PER_REQ = 5;
const SPANS_PER_TRACE = 10; /* 50 spans per request */
const KILL_AFTER = 40;
const CYCLES = 5;
const RUN = crypto.randomBytes(4).toString('hex');

function hex(n, bytes) {
	return n.toString(16).padStart(bytes * 2, '0');
}

/* One request body and the traces in it ({traceId, spanIds}). */
function makeBatch(cycle, sender, seq) {
	const traces = [];
	const spans = [];
	const now = BigInt(Date.now()) * 1000000n;
	for (let t = 0; t < TRACES_PER_REQ; t++) {
		const traceId = RUN + hex(cycle, 2) + hex(sender, 2) + hex(seq, 4) + hex(t + 1, 4);
		const ids = [];
		for (let s = 0; s < SPANS_PER_TRACE; s++) {
			const spanId = crypto.randomBytes(8).toString('hex').replace(/^0/, '1');
			ids.push(spanId);
			const sp = {
				traceId, spanId, name: `op-${s}`, kind: s === 0 ? 2 : 1,
				startTimeUnixNano: (now + BigInt(s * 1000)).toString(),
				endTimeUnixNano: (now + BigInt(s * 1000 + 500)).toString(),
				attributes: [{ key: 'seq', value: { intValue: String(seq) } }],
			};
			if (s > 0)
				sp.parentSpanId = ids[0];
			spans.push(sp);
		}
		traces.push({ traceId, spanIds: ids });
	}
	const body = JSON.stringify({ resourceSpans: [{
		resource: { attributes: [{ key: 'service.name', value: { stringValue: `durability-${sender}` } }] },
		scopeSpans: [{ scope: { name: 'durability' }, spans }],
	}] });
	return { body, traces };
}

/* Sends until KILL_AFTER requests were acknowledged, then SIGKILLs mixd.
 * Returns the traces of every request answered 200. */
async function sendUntilKilled(m, cycle) {
	const url = `${m.url('otlp')}/v1/traces`;
	const agent = new http.Agent({ keepAlive: true, maxSockets: SENDERS });
	const acked = [];
	let acks = 0;
	let killing = false;
	let throttled = 0;

	async function sender(id) {
		for (let seq = 0; !killing; seq++) {
			const { body, traces } = makeBatch(cycle, id, seq);
			let res;
			try {
				res = await request(url, { method: 'POST', agent, body,
					headers: { 'Content-Type': 'application/json' } });
			} catch (e) {
				if (killing)
					return; /* the connection died with mixd: not acknowledged */
				throw new Error(`sender ${id} request ${seq}: ${e.message}\nstderr:\n${m.stderr}`);
			}
			if (res.status === 429 || res.status === 503) {
				throttled++;
				continue; /* not acknowledged; the next batch goes on */
			}
			assert.equal(res.status, 200, `sender ${id} request ${seq}: ${res.body}`);
			const ans = JSON.parse(res.body.toString('utf8'));
			assert.ok(!ans.partialSuccess || !Number(ans.partialSuccess.rejectedSpans),
				`no span rejected: ${res.body}`);
			acked.push(...traces);
			acks++;
			if (acks >= KILL_AFTER && !killing) {
				killing = true;
				m.proc.kill('SIGKILL');
			}
		}
	}

	try {
		await Promise.all(Array.from({ length: SENDERS }, (_, i) => sender(i)));
	} finally {
		agent.destroy();
	}
	const ex = await m.waitExit(10000);
	assert.equal(ex.signal, 'SIGKILL', 'mixd died of the SIGKILL');
	assert.ok(acks >= KILL_AFTER, `acks ${acks}`);
	return { acked, acks, throttled };
}

async function verifyAll(m, traces) {
	const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
	const base = m.url('query');
	const missing = [];
	try {
		await mapLimit(traces, 8, async (tr) => {
			const { status, json } = await getJson(`${base}/api/traces/${tr.traceId}`, { agent });
			if (status !== 200) {
				missing.push(`${tr.traceId}: status ${status}`);
				return;
			}
			const got = json.data[0].spans.map((s) => s.spanID).sort();
			const want = [...tr.spanIds].sort();
			if (JSON.stringify(got) !== JSON.stringify(want))
				missing.push(`${tr.traceId}: got ${got.length} spans, want ${want.length}`);
		});
	} finally {
		agent.destroy();
	}
	assert.deepEqual(missing.slice(0, 10), [], `${missing.length} acknowledged traces of ${traces.length} ` +
		'not read back whole after SIGKILL + restart');
}

test('every acknowledged span survives SIGKILL (5 kill/restart cycles)', { timeout: 60000 }, async (t) => {
	const started = Date.now();
	const dir = tmpDir(null, 'mixd-durability-');
	let m = null;
	t.after(async () => {
		if (m)
			await m.kill();
		rmDir(dir);
	});

	const all = [];
	m = await startMixd({ dataDir: dir });
	for (let cycle = 0; cycle < CYCLES; cycle++) {
		const { acked, acks, throttled } = await sendUntilKilled(m, cycle);
		all.push(...acked);
		t.diagnostic(`cycle ${cycle}: ${acks} requests acknowledged (${acked.length} traces), ${throttled} throttled`);

		m = await startMixd({ dataDir: dir });
		const ready = await request(`${m.url('web')}/readyz`);
		assert.equal(ready.status, 200, `/readyz after restart ${cycle}`);
		await verifyAll(m, all);
	}
	await m.stop();
	m = null;
	const secs = (Date.now() - started) / 1000;
	t.diagnostic(`${all.length} traces (${all.length * SPANS_PER_TRACE} spans) verified in ${secs.toFixed(1)} s`);
});
