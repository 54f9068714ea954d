/*
 * daemon.test.js - mixd as a process: --version, --help, the web endpoints,
 * the listen line (both loopbacks on one port, empty addresses disabling a
 * listener, both flag forms), graceful SIGTERM with a request in flight and
 * during a burst (every request gets an answer: 200, stored, or a retryable
 * 503 with Retry-After; never a dropped connection; mixd exits 0), the
 * flags of receivers still to come, and bad flags.
 */
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');

const { startMixd, runMixd, LISTEN_PREFIX } = require('./lib/mixd');
const http = require('node:http');

const { request, getJson, randHex, tmpDir, rmDir, waitFor } = require('./lib/util');
const otlp = require('./lib/otlp');
const raw = require('./lib/raw');

const FLAGS = [
	'--storage.path', '--storage.sync', '--storage.max-size',
	'--otlp.listen-address', '--query.listen-address', '--web.listen-address',
	'--zipkin.listen-address', '--jaeger.collector-listen-address',
	'--jaeger.agent-compact-listen-address', '--jaeger.agent-binary-listen-address',
	'--report.listen-address', '--http.max-body', '--http.max-decompressed-body',
	'--http.decode-budget', '--log.level', '--help', '--version',
];

/* Flags that keep a run that should fail from touching default ports/dirs. */
function safeArgs(dir) {
	return [`--storage.path=${dir}`, '--otlp.listen-address=localhost:0',
		'--query.listen-address=localhost:0', '--web.listen-address=localhost:0'];
}

describe('mixd daemon', { timeout: 60000 }, () => {
	it('--version prints a version and exits 0', async () => {
		const r = await runMixd(['--version']);
		assert.equal(r.code, 0, `exit code (stderr: ${r.stderr})`);
		assert.match(r.stdout, /mixd/i, 'names mixd');
		assert.match(r.stdout, /\d+\.\d+/, 'has a version number');
		assert.ok(!r.stdout.includes(LISTEN_PREFIX), 'does not start listening');
	});

	it('--help lists every flag and exits 0', async () => {
		const r = await runMixd(['--help']);
		assert.equal(r.code, 0, `exit code (stderr: ${r.stderr})`);
		const out = r.stdout + r.stderr;
		for (const f of FLAGS)
			assert.ok(out.includes(f), `--help mentions ${f}`);
		assert.ok(!out.includes(LISTEN_PREFIX), 'does not start listening');
	});

	it('an unknown flag -> non-zero exit with a message naming it', async (t) => {
		const dir = tmpDir(t);
		const r = await runMixd(['--no-such-flag=1', ...safeArgs(dir)]);
		assert.equal(r.listened, false, 'never listened');
		assert.notEqual(r.code, 0, 'exit code');
		assert.match(r.stderr, /no-such-flag/, `stderr names the flag: ${r.stderr}`);
	});

	it('bad flag values -> non-zero exit with a message', async (t) => {
		const dir = tmpDir(t);
		for (const bad of ['--storage.sync=sometimes', '--http.max-body=lots', '--log.level=chatty',
			'--otlp.listen-address=localhost:notaport']) {
			const r = await runMixd([...safeArgs(dir), bad]);
			assert.equal(r.listened, false, `${bad}: never listened`);
			assert.notEqual(r.code, 0, `${bad}: exit code`);
			assert.ok(r.stderr.trim().length > 0, `${bad}: a message on stderr`);
		}
	});

	it('/healthz and /readyz answer 200; /debug/vars is JSON', async (t) => {
		const m = await startMixd();
		t.after(() => m.stop());
		for (const p of ['/healthz', '/readyz']) {
			const r = await request(`${m.url('web')}${p}`);
			assert.equal(r.status, 200, p);
		}
		const vars = await getJson(`${m.url('web')}/debug/vars`);
		assert.equal(vars.status, 200, '/debug/vars');
		assert.equal(typeof vars.json, 'object');
	});

	it('localhost:0 binds both loopbacks on one port; each answers', async (t) => {
		const m = await startMixd();
		t.after(() => m.stop());
		for (const name of ['otlp', 'query', 'web']) {
			const list = m.addrs[name];
			assert.ok(Array.isArray(list) && list.length >= 1, `${name} listed`);
			assert.ok(list.some((a) => a.startsWith('127.0.0.1:')), `${name} has 127.0.0.1`);
			const ports = new Set(list.map((a) => a.slice(a.lastIndexOf(':') + 1)));
			assert.equal(ports.size, 1, `${name}: one port for all addresses ${list}`);
			assert.ok(Number([...ports][0]) > 0, `${name}: a real port`);
		}
		for (const a of m.addrs.web) {
			const r = await request(`http://${a}/healthz`);
			assert.equal(r.status, 200, `/healthz on ${a}`);
		}
	});

	it('an empty listen address disables that listener; --flag value form works', async (t) => {
		const m = await startMixd({ args: ['--web.listen-address=', '--query.listen-address', 'localhost:0'] });
		t.after(() => m.stop());
		assert.ok(!('web' in m.addrs), `no web listener: ${JSON.stringify(m.addrs)}`);
		assert.ok(Array.isArray(m.addrs.otlp), 'otlp listener present');
		assert.ok(Array.isArray(m.addrs.query), 'query listener present');
		const r = await getJson(`${m.url('query')}/api/services`);
		assert.equal(r.status, 200);

		const m2 = await startMixd({ args: ['--query.listen-address='] });
		t.after(() => m2.stop());
		assert.ok(!('query' in m2.addrs), `no query listener: ${JSON.stringify(m2.addrs)}`);
		assert.ok(Array.isArray(m2.addrs.web), 'web listener present');
	});

	it('SIGTERM with a request in flight: it is answered, stored, and mixd exits 0', async (t) => {
		const dir = tmpDir(null);
		const m = await startMixd({ dataDir: dir });
		let m2 = null;
		t.after(async () => {
			if (!m.exited)
				await m.kill();
			if (m2)
				await m2.stop();
			rmDir(dir);
		});
		const traceId = randHex(16);
		const spanId = randHex(8);
		const body = Buffer.from(JSON.stringify(otlp.request([
			otlp.span({ traceId, spanId, name: 'in-flight', kind: 2 }),
		], { service: 'sigterm-svc' })));

		const sock = await raw.connect(m.url('otlp'));
		t.after(() => sock.destroy());
		const rd = raw.responseReader(sock);
		/* Expect: 100-continue tells us when mixd has taken the request in */
		await raw.writeAll(sock, raw.head('POST', '/v1/traces', m.url('otlp'), {
			'Content-Type': 'application/json',
			'Content-Length': String(body.length),
			'Expect': '100-continue',
		}));
		const cont = await rd.next(5000);
		assert.equal(cont.status, 100, `100 Continue before the body (got ${JSON.stringify(cont)})`);

		m.proc.kill('SIGTERM');
		assert.ok(await raw.writeAll(sock, body), 'the body could still be sent after SIGTERM');
		const res = await rd.next(10000);
		assert.equal(res.closed, undefined, `the in-flight request was answered (not dropped: ${res.error})`);
		/* Its body completed after the signal: mixd either still commits it
		 * (200) or refuses it as retryable (503 + Retry-After); either way
		 * the client has an answer and loses nothing. */
		assert.ok(res.status === 200 || res.status === 503, `answer ${res.status}: ${res.body}`);
		if (res.status === 200) {
			assert.deepEqual(JSON.parse(res.body.toString('utf8')), {});
		} else {
			assert.ok(res.headers['retry-after'], '503 carries Retry-After');
			assert.equal(typeof JSON.parse(res.body.toString('utf8')).message, 'string', 'JSON Status body');
		}
		t.diagnostic(`in-flight request answered ${res.status}`);

		const ex = await m.waitExit(15000);
		assert.deepEqual(ex, { code: 0, signal: null }, `exit after SIGTERM (stderr:\n${m.stderr})`);

		/* what was acknowledged is stored */
		m2 = await startMixd({ dataDir: dir });
		const r = await getJson(`${m2.url('query')}/api/traces/${traceId}`);
		if (res.status === 200) {
			assert.equal(r.status, 200, 'the acknowledged in-flight span is stored');
			assert.deepEqual(r.json.data[0].spans.map((s) => s.spanID), [spanId]);
		}
	});

	it('SIGTERM during a burst: every sent request is answered, every 200 is stored, exit 0', async (t) => {
		const N = 16;
		const dir = tmpDir(null);
		const m = await startMixd({ dataDir: dir });
		let m2 = null;
		const agent = new http.Agent({ keepAlive: true, maxSockets: N });
		t.after(async () => {
			agent.destroy();
			if (!m.exited)
				await m.kill();
			if (m2)
				await m2.stop();
			rmDir(dir);
		});
		const url = `${m.url('otlp')}/v1/traces`;
		const JS = { 'Content-Type': 'application/json' };
		/* open N connections mixd has accepted before the signal */
		const warm = await Promise.all(Array.from({ length: N }, () =>
			request(url, { method: 'POST', headers: JS, body: '{}', agent })));
		assert.ok(warm.every((r) => r.status === 200), 'warm-up requests');

		const sent = [];
		let finished = 0;
		const answers = Array.from({ length: N }, (_, i) => {
			const traceId = randHex(16);
			const spans = Array.from({ length: 50 }, (_, k) => otlp.span({ traceId, spanId: randHex(8), name: `burst-${i}-${k}` }));
			sent.push({ traceId, spanIds: spans.map((s) => s.spanId) });
			return request(url, { method: 'POST', headers: JS, agent, onFinish: () => { finished++; },
				body: JSON.stringify(otlp.request(spans, { service: 'burst-svc' })) })
				.catch((e) => ({ error: e }));
		});
		/* every request is on the wire: the agent's sockets have written them */
		await waitFor(() => finished === N, { timeoutMs: 5000, intervalMs: 1, what: 'all requests written' });
		m.proc.kill('SIGTERM');
		const results = await Promise.all(answers);
		const ex = await m.waitExit(15000);
		assert.deepEqual(ex, { code: 0, signal: null }, `exit after SIGTERM (stderr:\n${m.stderr})`);

		const counts = {};
		for (const [i, r] of results.entries()) {
			assert.equal(r.error, undefined, `request ${i} was answered (not dropped): ${r.error}`);
			counts[r.status] = (counts[r.status] || 0) + 1;
			assert.ok(r.status === 200 || r.status === 503, `request ${i}: status ${r.status} ${r.body}`);
			if (r.status === 503)
				assert.ok(r.headers['retry-after'], `request ${i}: 503 carries Retry-After`);
		}
		t.diagnostic(`burst answers: ${JSON.stringify(counts)}`);

		m2 = await startMixd({ dataDir: dir });
		for (const [i, r] of results.entries()) {
			if (r.status !== 200)
				continue;
			const got = await getJson(`${m2.url('query')}/api/traces/${sent[i].traceId}`);
			assert.equal(got.status, 200, `acknowledged request ${i} is stored`);
			assert.deepEqual(got.json.data[0].spans.map((s) => s.spanID).sort(), [...sent[i].spanIds].sort());
		}
	});

	it('the flags of the receivers still to come are accepted', async () => {
		const m = await startMixd({ args: [
			'--zipkin.listen-address=', '--jaeger.collector-listen-address=',
			'--jaeger.agent-compact-listen-address=', '--jaeger.agent-binary-listen-address=',
			'--report.listen-address=',
		] });
		await m.stop();
	});

	it('SIGINT stops mixd with exit 0 too', async () => {
		const m = await startMixd();
		m.proc.kill('SIGINT');
		const ex = await m.waitExit(15000);
		await m.stop(); /* removes its data dir; asserts exit 0 */
		assert.deepEqual(ex, { code: 0, signal: null });
	});
});
