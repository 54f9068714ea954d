/*
 * metrics_endpoint.test.js - GET /metrics on mixd's web listener: the
 * format follows Accept (text 0.0.4 by default, OpenMetrics 1.0 for
 * Prometheus 2.42's Accept header) and the Content-Type always names the
 * format of the body; OpenMetrics ends with exactly one `# EOF`, last,
 * also when the store has no series; Accept-Encoding: gzip gives a gzip
 * body that decodes to the same exposition; HEAD gives the headers only;
 * self-metrics move when spans arrive and when a request is refused; and
 * with Istio series (reported by the libmixd CLI, mixd-report) the whole
 * exposition, several megabytes streamed in chunks, passes
 * `promtool check metrics` (only Istio's own `milliseconds` unit is
 * flagged) and a client going away mid-body frees its render slot.
 */
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const zlib = require('node:zlib');

const { startMixd } = require('./lib/mixd');
const { request, randHex, waitFor } = require('./lib/util');
const otlp = require('./lib/otlp');

const TEXT_CT = 'text/plain; version=0.0.4; charset=utf-8';
const OM_CT = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
/* what Prometheus 2.42 sends on every scrape */
const PROM_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;' +
	'version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const PROMTOOL = process.env.PROMTOOL_BIN || '/usr/bin/promtool';

async function getMetrics(m, headers = {}, method = 'GET') {
	return request(`${m.url('web')}/metrics`, { headers, method });
}

/* The value of the one sample line `series` (name with labels), or undefined. */
function sampleValue(text, series) {
	for (const line of text.split('\n'))
		if (line.startsWith(series + ' '))
			return Number(line.slice(series.length + 1));
	return undefined;
}

async function metricValue(m, series) {
	const r = await getMetrics(m);
	assert.equal(r.status, 200);
	return sampleValue(r.body.toString('utf8'), series);
}

/* Runs promtool; returns its findings except Istio's millisecond unit,
 * or null when promtool is not installed. */
function promtoolFindings(body) {
	if (!fs.existsSync(PROMTOOL))
		return null;
	const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: body, encoding: 'utf8' });
	const lines = (r.stdout + r.stderr).split('\n').filter((l) => l.trim() !== '');
	const left = lines.filter((l) =>
		!/^istio_\S+ use base unit "seconds" instead of "milliseconds"$/.test(l.trim()));
	if (lines.length === 0)
		assert.equal(r.status, 0, 'promtool exits 0 without findings');
	return left;
}

/* Checks the OpenMetrics rules that Prometheus' parser relies on: one
 * TYPE per family before its samples, counter families named without
 * `_total` and their samples with it, `# EOF` once and last. */
function checkOpenMetrics(text) {
	assert.ok(text.endsWith('\n# EOF\n'), 'ends with # EOF and a line feed');
	assert.equal(text.split('\n').filter((l) => l === '# EOF').length, 1, 'one # EOF');
	const types = new Map();
	let fam = null;
	for (const line of text.split('\n')) {
		if (line === '' || line === '# EOF')
			continue;
		const t = /^# TYPE (\S+) (\S+)$/.exec(line);
		if (t) {
			assert.ok(!types.has(t[1]), `family ${t[1]} once`);
			assert.ok(!t[1].endsWith('_total'), `OpenMetrics family without _total: ${line}`);
			types.set(t[1], t[2]);
			fam = { name: t[1], type: t[2] };
			continue;
		}
		if (line.startsWith('#')) {
			assert.match(line, /^# HELP \S+ /, 'only TYPE, HELP and EOF comments');
			continue;
		}
		assert.ok(fam, `sample after a TYPE line: ${line}`);
		const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)[0];
		const ok = fam.type === 'counter' ? name === fam.name + '_total'
			: fam.type === 'histogram' ? ['_bucket', '_sum', '_count'].some((s) => name === fam.name + s)
				: name === fam.name;
		assert.ok(ok, `sample ${name} belongs to family ${fam.name} (${fam.type})`);
	}
	return types;
}

/* An exposition with the values of mixd's own samples blanked (they are
 * live: request counters, store sizes); Istio samples are kept whole. */
function shape(text) {
	return text.split('\n').map((l) => (l.startsWith('mixd_') ? l.replace(/ \S+$/, ' _') : l)).join('\n');
}

/* Runs mixd-report with `script` on stdin against mixd's report
 * listener; resolves to its exit code, stdout and stderr (bounded). */
function runReporter(m, script, t) {
	return new Promise((resolve, reject) => {
		const proc = spawn(process.env.MIXD_REPORT_BIN, [
			'--url', `${m.url('report')}/v1/report`, '--role', 'source', '--workload', 'metrics-it',
			'--flush-interval-ms', '100', '--close-deadline-ms', '10000', '--script', '-',
		], { stdio: ['pipe', 'pipe', 'pipe'] });
		t.after(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); });
		let stdout = '';
		let stderr = '';
		proc.stdout.on('data', (d) => { stdout += d; });
		proc.stderr.on('data', (d) => { stderr += d; });
		proc.stdin.on('error', () => {});
		const timer = setTimeout(() => {
			proc.kill('SIGKILL');
			reject(new Error(`mixd-report did not exit within 30 s\nstderr:\n${stderr}`));
		}, 30000);
		proc.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
		proc.stdin.end(script);
	});
}

describe('GET /metrics', { timeout: 120000 }, () => {
	it('negotiates the format, ends OpenMetrics with # EOF, gzips, answers HEAD', async (t) => {
		const m = await startMixd();
		t.after(() => m.stop());

		/* no Accept: text 0.0.4 */
		const plain = await getMetrics(m);
		assert.equal(plain.status, 200);
		assert.equal(plain.headers['content-type'], TEXT_CT);
		assert.equal(plain.headers['content-encoding'], undefined);
		const text = plain.body.toString('utf8');
		assert.ok(!text.includes('# EOF'), 'no # EOF in text 0.0.4');
		assert.match(text, /^# HELP mixd_receiver_requests_total /, 'self-metrics first');
		assert.match(text, /\n# TYPE mixd_receiver_accepted_spans_total counter\n/);
		assert.equal(sampleValue(text, 'mixd_receiver_accepted_spans_total{receiver="otlp"}'), 0);
		assert.equal(sampleValue(text, 'mixd_receiver_accepted_spans_total{receiver="report"}'), 0);
		assert.equal(sampleValue(text, 'mixd_reports_applied_total'), 0);
		assert.equal(sampleValue(text, 'mixd_series'), 0);
		assert.match(text, /\nmixd_writer_commit_seconds_bucket\{le="\+Inf"\} \d+\n/);
		const findings = promtoolFindings(text);
		if (findings === null)
			t.diagnostic(`promtool not found at ${PROMTOOL}: not run`);
		else
			assert.deepEqual(findings, [], 'promtool check metrics');

		/* Prometheus 2.42's Accept: OpenMetrics; no series yet: still # EOF */
		const om = await getMetrics(m, { Accept: PROM_ACCEPT });
		assert.equal(om.status, 200);
		assert.equal(om.headers['content-type'], OM_CT);
		const omText = om.body.toString('utf8');
		const types = checkOpenMetrics(omText);
		assert.equal(types.get('mixd_receiver_accepted_spans'), 'counter');
		assert.equal(types.get('mixd_writer_commit_seconds'), 'histogram');
		assert.equal(types.get('mixd_series'), 'gauge');
		assert.ok(![...types.keys()].some((k) => k.startsWith('istio_')), 'no Istio family without series');

		/* text explicitly, and a q=0 OpenMetrics entry */
		for (const accept of ['text/plain;version=0.0.4', 'application/openmetrics-text;q=0,text/plain;q=0.5']) {
			const r = await getMetrics(m, { Accept: accept });
			assert.equal(r.headers['content-type'], TEXT_CT, accept);
			assert.ok(!r.body.toString('utf8').includes('# EOF'), accept);
		}

		/* gzip: the same exposition, compressed, in both formats */
		for (const [accept, ct] of [[undefined, TEXT_CT], [PROM_ACCEPT, OM_CT]]) {
			const headers = { 'Accept-Encoding': 'gzip' };
			if (accept)
				headers.Accept = accept;
			const gz = await getMetrics(m, headers);
			assert.equal(gz.status, 200);
			assert.equal(gz.headers['content-type'], ct);
			assert.equal(gz.headers['content-encoding'], 'gzip');
			const unzipped = zlib.gunzipSync(gz.body).toString('utf8');
			const ref = await getMetrics(m, accept ? { Accept: accept } : {});
			assert.equal(shape(unzipped), shape(ref.body.toString('utf8')), `gzip body (${ct})`);
			if (ct === OM_CT)
				checkOpenMetrics(unzipped);
		}
		/* identity only: no gzip */
		const id = await getMetrics(m, { 'Accept-Encoding': 'gzip;q=0, identity' });
		assert.equal(id.headers['content-encoding'], undefined);

		/* HEAD: the same headers, no body */
		const head = await getMetrics(m, { Accept: PROM_ACCEPT, 'Accept-Encoding': 'gzip' }, 'HEAD');
		assert.equal(head.status, 200);
		assert.equal(head.headers['content-type'], OM_CT);
		assert.equal(head.headers['content-encoding'], 'gzip');
		assert.equal(head.body.length, 0);

		/* other methods are refused */
		const post = await request(`${m.url('web')}/metrics`, { method: 'POST', body: 'x' });
		assert.equal(post.status, 405);
	});

	it('self-metrics move when spans arrive and when a request is refused', async (t) => {
		const m = await startMixd();
		t.after(() => m.stop());
		const accepted = 'mixd_receiver_accepted_spans_total{receiver="otlp"}';
		const requests = 'mixd_receiver_requests_total{receiver="otlp"}';
		const refusedReq = 'mixd_receiver_refused_requests_total{receiver="otlp"}';
		assert.equal(await metricValue(m, accepted), 0);
		assert.equal(await metricValue(m, requests), 0);
		const commits0 = await metricValue(m, 'mixd_writer_commit_seconds_count');

		const traceId = randHex(16);
		const spans = Array.from({ length: 3 }, (_, i) => otlp.span({ traceId, spanId: randHex(8), name: `m-${i}` }));
		const r = await request(`${m.url('otlp')}/v1/traces`, {
			method: 'POST', headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify(otlp.request(spans, { service: 'metrics-svc' })),
		});
		assert.equal(r.status, 200, `OTLP export: ${r.body}`);
		await waitFor(async () => (await metricValue(m, accepted)) === 3,
			{ timeoutMs: 10000, what: `${accepted} == 3` });
		assert.equal(await metricValue(m, requests), 1);
		assert.ok(await metricValue(m, 'mixd_writer_commit_seconds_count') > commits0, 'a commit counted');
		assert.ok(await metricValue(m, 'mixd_writer_committed_spans_total') >= 3);
		assert.ok(await metricValue(m, 'mixd_storage_used_bytes') > 0);
		assert.ok(await metricValue(m, 'mixd_storage_oldest_span_timestamp_seconds') > 1.6e9);

		/* an undecodable body: refused, counted */
		const bad = await request(`${m.url('otlp')}/v1/traces`, {
			method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"resourceSpans":',
		});
		assert.equal(bad.status, 400);
		await waitFor(async () => (await metricValue(m, refusedReq)) === 1,
			{ timeoutMs: 10000, what: `${refusedReq} == 1` });
		assert.equal(await metricValue(m, requests), 2);
		assert.equal(await metricValue(m, accepted), 3);
	});

	it('with Istio series: one exposition, promtool-clean, streamed and gzipped', async (t) => {
		const bin = process.env.MIXD_REPORT_BIN;
		if (!bin || !fs.existsSync(bin)) {
			t.skip('MIXD_REPORT_BIN (mixd-report) not available');
			return;
		}
		const m = await startMixd();
		t.after(() => m.stop());
		/* 60 HTTP series and one TCP series: a few megabytes of text */
		const N = 60;
		const lines = [];
		for (let i = 0; i < N; i++)
			lines.push(`series s${i} dest_workload=w${i},service=svc${i}.default.svc.cluster.local`);
		lines.push('series tcp0 dest_workload=tcpw,tcp=1');
		for (let i = 0; i < N; i++)
			lines.push(`record s${i} 3 12 100 200`);
		lines.push('tcp tcp0 1 1 10 20');
		const rep = await runReporter(m, lines.join('\n') + '\n', t);
		assert.equal(rep.code, 0, `mixd-report exit\nstdout:\n${rep.stdout}\nstderr:\n${rep.stderr}`);
		await waitFor(async () => (await metricValue(m, 'mixd_series')) === N + 1,
			{ timeoutMs: 10000, what: `mixd_series == ${N + 1}` });

		const plain = await getMetrics(m);
		assert.equal(plain.headers['content-type'], TEXT_CT);
		const text = plain.body.toString('utf8');
		assert.ok(text.length > 1000000, `a large exposition (${text.length} bytes)`);
		assert.equal(text.split('\n').filter((l) => l.startsWith('istio_requests_total{')).length, N);
		assert.ok(text.indexOf('# HELP mixd_') < text.indexOf('# HELP istio_'), 'self-metrics first');
		assert.equal(sampleValue(text, 'mixd_reports_applied_total') >= 1, true);
		assert.equal(sampleValue(text, 'mixd_receiver_requests_total{receiver="report"}') >= 1, true);
		const findings = promtoolFindings(text);
		if (findings !== null)
			assert.deepEqual(findings, [], 'promtool check metrics: only the milliseconds unit of istio_*');

		const om = await getMetrics(m, { Accept: PROM_ACCEPT });
		assert.equal(om.headers['content-type'], OM_CT);
		const omText = om.body.toString('utf8');
		const types = checkOpenMetrics(omText);
		assert.equal(types.get('istio_requests'), 'counter');
		assert.equal(types.get('istio_request_duration_milliseconds'), 'histogram');
		assert.equal(types.get('istio_tcp_connections_opened'), 'counter');
		assert.ok(omText.lastIndexOf('# TYPE mixd_') < omText.indexOf('# TYPE istio_'), 'self-metrics before Istio');

		const gz = await getMetrics(m, { Accept: PROM_ACCEPT, 'Accept-Encoding': 'gzip' });
		assert.equal(gz.headers['content-encoding'], 'gzip');
		assert.ok(gz.body.length < omText.length / 4, 'gzip shrinks the exposition');
		assert.equal(shape(zlib.gunzipSync(gz.body).toString('utf8')), shape(omText));

		/* a client that goes away after the first bytes frees its slot */
		await new Promise((resolve, reject) => {
			const req = http.get(`${m.url('web')}/metrics`, { agent: false }, (res) => {
				res.once('data', () => { req.destroy(); resolve(); });
				res.on('error', () => {});
			});
			req.on('error', (e) => { if (!req.destroyed) reject(e); });
		});
		await waitFor(async () => (await metricValue(m, 'mixd_metrics_scrapes_inflight')) === 1,
			{ timeoutMs: 10000, what: 'only the asking scrape rendering' });
		assert.equal(await metricValue(m, 'mixd_metrics_scrapes_refused_total'), 0);
	});
});
