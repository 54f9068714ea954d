/*
 * report_restart.test.js - libmixd keeps recording while mixd is down, and
 * nothing is lost or counted twice.
 *
 * Two mixd-report processes (one reporting as the source side, one as the
 * destination side; each its own instance id) record synthetic traffic at
 * 200 requests/s for 50 s over a few series (HTTP with 5 % errors and a
 * share of sampled requests, and TCP). Once both show up on /metrics, mixd
 * is stopped (SIGTERM) for 30 s and restarted on the same data directory
 * and the same report port (read from the first run's listen line). The
 * reporters retry with backoff and merge their deltas while mixd is down.
 * After they exit (exit 0: every report acknowledged), /metrics must show
 * exactly the totals of their exit JSON, per series: nothing lost, nothing
 * doubled; and every counter read before the stop is <= its value right
 * after the restart (counters continue from LMDB, no reset). The 30 s
 * outage is the scenario itself; every other wait is bounded polling.
 */
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');

const { startMixd } = require('./lib/mixd');
const { tmpDir, rmDir, waitFor } = require('./lib/util');
const { fetchMetrics, sumBy } = require('./lib/promtext');
const { startReporter, checkExit, specValue, specKey, labelsKey } = require('./lib/report');

const OUTAGE_MS = 30000;
const DURATION_S = 50;
const RATE = 200;

const BACKEND = 'service=backend.default.svc.cluster.local,service_name=backend,service_namespace=default';
const AUTH = 'service=auth.default.svc.cluster.local,service_name=auth,service_namespace=default';
const DB = 'service=db.default.svc.cluster.local,service_name=db,service_namespace=default';

const REPORTERS = [
	{
		role: 'source', workload: 'frontend-v1', app: 'frontend', seed: 11,
		series: [
			`peer_workload=backend-v1,peer_app=backend,peer_namespace=default,${BACKEND},weight=3`,
			`peer_workload=auth-v1,peer_app=auth,peer_namespace=default,${AUTH},code=401`,
			`peer_workload=db-v1,peer_app=db,peer_namespace=default,${DB},tcp=1`,
		],
	},
	{
		role: 'destination', workload: 'backend-v1', app: 'backend', seed: 12,
		series: [
			`peer_workload=frontend-v1,peer_app=frontend,peer_namespace=default,${BACKEND},weight=3`,
			`peer_workload=frontend-v1,peer_app=frontend,peer_namespace=default,${BACKEND},code=404`,
		],
	},
];

const COUNTERS = {
	requests: 'istio_requests_total',
	duration_sum: 'istio_request_duration_milliseconds_sum',
	request_bytes_sum: 'istio_request_bytes_sum',
	response_bytes_sum: 'istio_response_bytes_sum',
	tcp_opened: 'istio_tcp_connections_opened_total',
	tcp_closed: 'istio_tcp_connections_closed_total',
	tcp_sent: 'istio_tcp_sent_bytes_total',
	tcp_received: 'istio_tcp_received_bytes_total',
};

/* Every Istio counter on /metrics, keyed "metric name/series key". */
function istioCounters(samples) {
	const out = new Map();
	for (const name of Object.values(COUNTERS))
		for (const [k, v] of sumBy(samples, name, labelsKey))
			out.set(`${name}/${k}`, v);
	return out;
}

/* The counters the reporters' exit JSON implies, keyed as istioCounters(). */
function expectedCounters(results) {
	const out = new Map();
	const add = (name, key, v) => {
		const k = `${name}/${key}`;
		out.set(k, (out.get(k) || 0) + v);
	};
	for (const [i, res] of results.entries()) {
		const w = REPORTERS[i].workload;
		for (const s of res.series) {
			if (specValue(s.spec, 'tcp') === '1') {
				const key = specKey(w, s.spec);
				add(COUNTERS.tcp_opened, key, s.tcp_opened);
				add(COUNTERS.tcp_closed, key, s.tcp_closed);
				add(COUNTERS.tcp_sent, key, s.tcp_sent);
				add(COUNTERS.tcp_received, key, s.tcp_received);
				continue;
			}
			/* a series' count includes its errors, recorded with code 500;
			 * its sums cover both, so compare sums per code-less key */
			add(COUNTERS.requests, specKey(w, s.spec), s.count - s.errors);
			if (s.errors)
				add(COUNTERS.requests, specKey(w, s.spec, '500'), s.errors);
			const base = specKey(w, s.spec, '*');
			add(COUNTERS.duration_sum, base, s.duration_ms_sum);
			add(COUNTERS.request_bytes_sum, base, s.request_bytes_sum);
			add(COUNTERS.response_bytes_sum, base, s.response_bytes_sum);
		}
	}
	return out;
}

/* istioCounters() with the histogram sums folded over response_code. */
function foldSums(got) {
	const out = new Map();
	for (const [k, v] of got) {
		let key = k;
		if (!k.startsWith(`${COUNTERS.requests}/`) && k.split('/')[0].startsWith('istio_re')) {
			const parts = k.split('|');
			parts[2] = '*';
			key = parts.join('|');
		}
		out.set(key, (out.get(key) || 0) + v);
	}
	return out;
}

function diffMaps(expected, got) {
	const bad = [];
	for (const k of new Set([...expected.keys(), ...got.keys()])) {
		const e = expected.get(k) || 0;
		const g = got.get(k) || 0;
		if (e !== g)
			bad.push(`${k}: expected ${e}, got ${g}`);
	}
	return bad.join('\n');
}

describe('reports across a mixd restart', { timeout: 150000 }, () => {
	it('a 30 s outage loses nothing and doubles nothing; counters continue', async (t) => {
		const dir = tmpDir(null);
		let mixd = await startMixd({ dataDir: dir });
		const reporters = [];
		t.after(async () => {
			for (const r of reporters)
				await r.stop();
			if (mixd)
				await mixd.stop();
			rmDir(dir);
		});

		const reportAddr = (mixd.addrs.report || []).find((a) => a.startsWith('127.0.0.1:'));
		assert.ok(reportAddr, `a report listener on 127.0.0.1: ${JSON.stringify(mixd.addrs)}`);
		const port = reportAddr.slice(reportAddr.lastIndexOf(':') + 1);
		const url = `http://127.0.0.1:${port}/v1/report`;

		for (const rep of REPORTERS) {
			const args = ['--rate', String(RATE), '--duration', String(DURATION_S), '--seed', String(rep.seed),
				'--error-ratio', '0.05', '--span-ratio', '0.02',
				'--latency-ms', '20,400', '--request-bytes', '300,2000', '--response-bytes', '1000,50000'];
			for (const s of rep.series)
				args.push('--series', s);
			reporters.push(startReporter({ url, role: rep.role, workload: rep.workload, app: rep.app,
				version: 'v1', namespace: 'default', flushMs: 250,
				/* the retry delay grows to 30 s while mixd is down;
				 * leave room for the last retry after the restart */
				closeDeadlineMs: 60000, args }));
		}

		/* both reporters show up, then the counters before the stop */
		let before = null;
		await waitFor(async () => {
			const { samples } = await fetchMetrics(mixd.url('web'));
			const byRole = sumBy(samples, COUNTERS.requests, (l) => l.reporter);
			before = istioCounters(samples);
			return byRole.get('source') > 0 && byRole.get('destination') > 0;
		}, { timeoutMs: 15000, intervalMs: 100, what: 'requests of both reporters on /metrics' });
		for (const r of reporters)
			assert.equal(r.exited, null, `${r.name} still records when mixd stops (stderr: ${r.stderr})`);

		await mixd.stop();
		mixd = null;
		await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS)); /* the outage itself */
		mixd = await startMixd({ dataDir: dir, args: [`--report.listen-address=localhost:${port}`] });
		assert.ok(mixd.addrs.report.includes(`127.0.0.1:${port}`),
			`the restart listens on the same report port ${port}: ${JSON.stringify(mixd.addrs)}`);

		/* counters continue from where they were */
		const after = istioCounters((await fetchMetrics(mixd.url('web'))).samples);
		for (const [k, v] of before)
			assert.ok((after.get(k) || 0) >= v, `${k}: ${v} before the stop, ${after.get(k)} after the restart`);
		t.diagnostic(`before the stop: ${before.get(`${COUNTERS.requests}/frontend-v1|backend|200`)} ` +
			'frontend->backend 200s');

		/* the reporters finish, every report acknowledged */
		const results = [];
		for (const r of reporters)
			results.push(checkExit(r, await r.done(100000)));
		for (const [i, res] of results.entries()) {
			t.diagnostic(`reporter ${i}: ${res.requests} requests, reports sent ${res.reports_sent}, ` +
				`acked ${res.reports_acked}, retried ${res.reports_retried}`);
			assert.ok(res.reports_retried > 0, `reporter ${i} retried while mixd was down`);
			assert.equal(res.reports_lost, 0, `reporter ${i}: no report lost`);
			assert.equal(res.reports_rejected, 0, `reporter ${i}: no report rejected`);
		}

		/* exactly the recorded totals, per series */
		const expected = expectedCounters(results);
		let got = new Map();
		await waitFor(async () => {
			got = foldSums(istioCounters((await fetchMetrics(mixd.url('web'))).samples));
			return diffMaps(expected, got) === '';
		}, { timeoutMs: 15000, intervalMs: 100, what: '/metrics to show the recorded totals' })
			.catch((e) => {
				e.message += `\n${diffMaps(expected, got)}`;
				throw e;
			});
		/* and they stay there (nothing applied twice later) */
		const final = foldSums(istioCounters((await fetchMetrics(mixd.url('web'))).samples));
		assert.equal(diffMaps(expected, final), '', '/metrics equals the recorded totals');
	});
});
