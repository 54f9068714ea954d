/*
 * prometheus.test.js - native reports in, Istio metrics out, read back by a
 * real Prometheus (2.42, Debian) scraping mixd's /metrics every second
 * with exemplar storage on.
 *
 * Four mixd-report processes (four libmixd instance ids: two reporting as
 * the source side, two as the destination side) record KNOWN traffic in
 * script mode, fed through stdin in phases: a warm-up that touches every
 * series, then the measured traffic (several response codes, latencies in
 * known Envoy buckets, bucket bounds included, byte sizes, TCP series,
 * sampled requests that become exemplars) in two steps. Between the phases
 * the test polls Prometheus until a scrape shows the warm-up totals (t_a),
 * then the first step's (t_m, so the window holds an inner sample), and,
 * after the reporters have exited, the final totals (t_b). Evaluated at
 * t_b over a range of exactly t_b - t_a (2.42 range
 * selectors include both ends), increase() sees the first and last samples
 * on the range's edges and so does not extrapolate: the PromQL answers must
 * equal the measured traffic exactly:
 *   - sum by (response_code) (increase(istio_requests_total[...]))
 *   - sum by (le) of the duration buckets' increase, and histogram_quantile
 *     (0.9) inside the Envoy bucket of the true 0.9 quantile
 *   - istio_request_bytes_sum / istio_response_bytes_sum and the four TCP
 *     counters (increase over the window and cumulative values)
 * plus exemplars on istio_request_duration_milliseconds_bucket carrying
 * the trace ids the reporters sampled (per series, on the right bucket),
 * and `promtool check metrics` finding nothing but its unit lint on the
 * Istio `milliseconds` histogram. Every wait is bounded polling.
 */
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');

const { startMixd } = require('./lib/mixd');
const { request, getJson, waitFor } = require('./lib/util');
const { startPrometheus, promtoolCheckMetrics } = require('./lib/prometheus');
const { reportUrl, startReporter, checkExit, Script, specValue, specKey, labelsKey } =
	require('./lib/report');

/* Envoy's default bounds, as `le` strings */
const BOUNDS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
	300000, 600000, 1800000, 3600000];
const LES = BOUNDS.map(String).concat('+Inf');

const JOB = 'mixd';
const HTTP_NAMES = {
	count: 'istio_requests_total',
	duration_ms_sum: 'istio_request_duration_milliseconds_sum',
	duration_count: 'istio_request_duration_milliseconds_count',
	request_bytes_sum: 'istio_request_bytes_sum',
	request_bytes_count: 'istio_request_bytes_count',
	response_bytes_sum: 'istio_response_bytes_sum',
	response_bytes_count: 'istio_response_bytes_count',
};
const TCP_NAMES = {
	tcp_opened: 'istio_tcp_connections_opened_total',
	tcp_closed: 'istio_tcp_connections_closed_total',
	tcp_sent: 'istio_tcp_sent_bytes_total',
	tcp_received: 'istio_tcp_received_bytes_total',
};
const ALL_NAMES = [...Object.values(HTTP_NAMES), ...Object.values(TCP_NAMES)];
const SEL = `{__name__=~"${ALL_NAMES.join('|')}",job="${JOB}"}`;

const RATINGS = 'service=ratings.default.svc.cluster.local,service_name=ratings,service_namespace=default';
const DETAILS = 'service=details.default.svc.cluster.local,service_name=details,service_namespace=default';
const MYSQL = 'service=mysql.default.svc.cluster.local,service_name=mysql,service_namespace=default';
const REDIS = 'service=redis.default.svc.cluster.local,service_name=redis,service_namespace=default';

/*
 * The reporters and their traffic. A series: [name, spec, measured phase]
 * where the measured phase lists [count, ms, request bytes, response
 * bytes] records, `span` entries (a sampled request of that many ms) and
 * `tcp` entries [opened, closed, sent, received]. The last line of every
 * series with spans is a span, so its last trace id is the series' final
 * exemplar.
 */
const REPORTERS = [
	{
		role: 'source', workload: 'productpage-v1', app: 'productpage',
		series: [
			['r200', `peer_workload=ratings-v1,peer_app=ratings,peer_version=v1,peer_namespace=default,${RATINGS},code=200`,
				{ records: [[40, 3, 310, 1200], [30, 20, 320, 1500], [20, 80, 300, 900], [10, 250, 500, 4000],
					[5, 700, 800, 64000]], spans: [20, 250] }],
			['r503', `peer_workload=ratings-v1,peer_app=ratings,peer_version=v1,peer_namespace=default,${RATINGS},code=503`,
				{ records: [[6, 1, 200, 90], [4, 3000, 210, 95]], spans: [3000] }],
			['d404', `peer_workload=details-v1,peer_app=details,peer_version=v1,peer_namespace=default,${DETAILS},code=404`,
				{ records: [[12, 5, 150, 120], [3, 40, 160, 130]], spans: [40] }],
			['db', `peer_workload=mysql-v1,peer_app=mysql,peer_version=v1,peer_namespace=default,${MYSQL},tcp=1`,
				{ tcp: [[5, 4, 12345, 67890]], spans: [15] }],
		],
	},
	{
		role: 'destination', workload: 'ratings-v1', app: 'ratings',
		series: [
			['in200', `peer_workload=productpage-v1,peer_app=productpage,peer_version=v1,peer_namespace=default,${RATINGS},code=200`,
				{ records: [[35, 2, 300, 1100], [25, 18, 310, 1400], [15, 75, 290, 950], [8, 180, 480, 3900]],
					spans: [180] }],
			['in503', `peer_workload=productpage-v1,peer_app=productpage,peer_version=v1,peer_namespace=default,${RATINGS},code=503`,
				{ records: [[5, 0, 190, 0]] }],
		],
	},
	{
		role: 'source', workload: 'reviews-v2', app: 'reviews',
		series: [
			['r200', `peer_workload=ratings-v1,peer_app=ratings,peer_version=v1,peer_namespace=default,${RATINGS},code=200`,
				{ records: [[30, 4, 330, 1000], [20, 30, 340, 1600], [10, 120, 350, 2000], [6, 400, 900, 30000]],
					spans: [120] }],
			['r500', `peer_workload=ratings-v1,peer_app=ratings,peer_version=v1,peer_namespace=default,${RATINGS},code=500`,
				{ records: [[7, 60, 200, 300], [2, 12000, 210, 310]], spans: [60] }],
			['cache', `peer_workload=redis-v1,peer_app=redis,peer_version=v1,peer_namespace=default,${REDIS},tcp=1`,
				{ tcp: [[3, 3, 4000, 500]] }],
		],
	},
	{
		role: 'destination', workload: 'mysql-v1', app: 'mysql',
		series: [
			['in', `peer_workload=productpage-v1,peer_app=productpage,peer_version=v1,peer_namespace=default,${MYSQL},tcp=1`,
				{ tcp: [[5, 5, 67890, 12345]] }],
		],
	},
];

/* Builds each reporter's script: phase 'warm', then the measured traffic
 * in two phases, 'm1' (each series' first record, a few TCP connections)
 * and 'm2' (the rest), so that the measured window holds a scrape in
 * between. */
function buildScripts() {
	return REPORTERS.map((rep) => {
		const sc = new Script();
		for (const [name, spec] of rep.series)
			sc.define(name, spec, { tcp: specValue(spec, 'tcp') === '1', key: specKey(rep.workload, spec) });
		sc.phase('warm');
		for (const [name, spec] of rep.series) {
			if (specValue(spec, 'tcp') === '1')
				sc.tcp(name, 1, 1, 10, 20);
			else
				sc.record(name, 2, 7, 100, 200);
		}
		const warm = sc.take();
		sc.phase('m1');
		for (const [name, , m] of rep.series) {
			if (m.records)
				sc.record(name, ...m.records[0]);
			if (m.tcp)
				sc.tcp(name, 1, 0, 1000, 2000);
		}
		const m1 = sc.take();
		sc.phase('m2');
		for (const [name, , m] of rep.series) {
			for (const r of (m.records || []).slice(1))
				sc.record(name, ...r);
			for (const t of m.tcp || [])
				sc.tcp(name, ...t);
			for (const ms of m.spans || [])
				sc.span(name, ms);
		}
		return { rep, sc, warm, m1, m2: sc.take() };
	});
}

/* A traced request in script mode also counts as a request of its
 * duration with 0 bytes (HTTP series only): fold that into the books. */
function spanAsRequest(sc) {
	for (const s of sc.series.values()) {
		if (s.meta.tcp)
			continue;
		for (const c of [s.total, ...s.phases.values()]) {
			for (const ms of c.span_ms) {
				c.count++;
				c.duration_ms_sum += ms;
				c.durations.push(ms);
			}
		}
	}
}

/* Expected sums per metric name over the given phases (or all). */
function expectedSums(scripts, phases) {
	const out = new Map(ALL_NAMES.map((n) => [n, 0]));
	for (const { sc } of scripts) {
		for (const s of sc.series.values()) {
			const cells = phases ? phases.map((p) => sc.phaseTotals(s.name, p)) : [s.total];
			for (const c of cells) {
				if (s.meta.tcp) {
					for (const [f, n] of Object.entries(TCP_NAMES))
						out.set(n, out.get(n) + c[f]);
				} else {
					for (const n of [HTTP_NAMES.count, HTTP_NAMES.duration_count,
						HTTP_NAMES.request_bytes_count, HTTP_NAMES.response_bytes_count])
						out.set(n, out.get(n) + c.count);
					for (const f of ['duration_ms_sum', 'request_bytes_sum', 'response_bytes_sum'])
						out.set(HTTP_NAMES[f], out.get(HTTP_NAMES[f]) + c[f]);
				}
			}
		}
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
	return bad.join('; ');
}

async function sumsAt(prom, timeMs) {
	return prom.vectorBy(`sum by (__name__) (${SEL})`, '__name__', timeMs);
}

/* Polls until a scrape shows `expected`; returns the timestamp (ms) of the
 * newest scrape that every series has a sample of, checked to show exactly
 * `expected`. */
async function scrapeShowing(prom, expected, what, timeoutMs) {
	await waitFor(async () => diffMaps(expected, await sumsAt(prom)) === '',
		{ timeoutMs, intervalMs: 200, what: `Prometheus to scrape ${what}` })
		.catch(async (e) => {
			e.message += `\n(${diffMaps(expected, await sumsAt(prom).catch(() => new Map()))})`;
			throw e;
		});
	const m = await prom.matrix(`${SEL}[1m]`);
	let common = null;
	for (const s of m) {
		const ts = new Set(s.samples.map(([t]) => t));
		common = common ? new Set([...common].filter((t) => ts.has(t))) : ts;
	}
	assert.ok(common && common.size > 0, `${what}: a scrape that every series has a sample of`);
	const t = Math.max(...common);
	const d = diffMaps(expected, await sumsAt(prom, t));
	assert.equal(d, '', `${what}: the scrape at ${new Date(t).toISOString()} shows it`);
	return t;
}

function bucketIndex(v) {
	const i = BOUNDS.findIndex((b) => v <= b);
	return i < 0 ? BOUNDS.length : i;
}

describe('Istio metrics scraped by Prometheus', { timeout: 90000 }, () => {
	it('PromQL over a real Prometheus equals the recorded traffic exactly', async (t) => {
		const t0 = Date.now();
		const scripts = buildScripts();
		for (const { sc } of scripts)
			spanAsRequest(sc);

		const mixd = await startMixd();
		const reporters = [];
		let prom = null;
		t.after(async () => {
			for (const r of reporters)
				await r.stop();
			if (prom)
				await prom.stop();
			await mixd.stop();
		});
		const webAddr = mixd.addrs.web.find((a) => a.startsWith('127.0.0.1:'));
		assert.ok(webAddr, `mixd's web listener on 127.0.0.1: ${JSON.stringify(mixd.addrs)}`);
		assert.ok(Array.isArray(mixd.addrs.report), `a report listener: ${JSON.stringify(mixd.addrs)}`);
		prom = await startPrometheus({ targets: [webAddr], job: JOB, intervalS: 1, timeoutS: 1 });
		await waitFor(async () => (await prom.scalar(`up{job="${JOB}"}`)) === 1,
			{ timeoutMs: 15000, intervalMs: 200, what: 'Prometheus to scrape mixd (up == 1)' });

		/* phase 1: the warm-up puts every series in Prometheus */
		for (const { rep, warm } of scripts) {
			const r = startReporter({ url: reportUrl(mixd), role: rep.role, workload: rep.workload,
				app: rep.app, version: 'v1', namespace: 'default', flushMs: 200, script: true });
			reporters.push(r);
			r.write(warm);
		}
		const tA = await scrapeShowing(prom, expectedSums(scripts, ['warm']), 'the warm-up', 20000);

		/* the measured traffic, in two steps with a scrape between them;
		 * the reporters then ship the rest and exit */
		for (const [i, { m1 }] of scripts.entries())
			reporters[i].write(m1);
		const tM = await scrapeShowing(prom, expectedSums(scripts, ['warm', 'm1']), 'the first step', 20000);
		for (const [i, { m2 }] of scripts.entries()) {
			reporters[i].write(m2);
			reporters[i].end();
		}
		const results = [];
		for (const r of reporters)
			results.push(checkExit(r, await r.done(20000)));

		/* the reporters recorded what the scripts say */
		for (const [i, { sc }] of scripts.entries()) {
			const byName = new Map(results[i].series.map((s) => [s.name, s]));
			for (const s of sc.series.values()) {
				const j = byName.get(s.name);
				assert.ok(j, `reporter ${i} lists series ${s.name}`);
				for (const f of ['count', 'duration_ms_sum', 'request_bytes_sum', 'response_bytes_sum',
					'tcp_opened', 'tcp_closed', 'tcp_sent', 'tcp_received', 'spans'])
					assert.equal(j[f], s.total[f], `reporter ${i} series ${s.name}: ${f} in its exit JSON`);
			}
		}

		const tB = await scrapeShowing(prom, expectedSums(scripts), 'the final totals', 20000);
		const range = `${tB - tA}ms`;
		t.diagnostic(`window ${new Date(tA).toISOString()} .. ${new Date(tB).toISOString()} (${range}), ` +
			`step scraped at +${tM - tA} ms`);

		/* the window starts and ends on samples of every series (no
		 * extrapolation in increase()), with the step's scrape between */
		const win = await prom.matrix(`${SEL}[${range}]`, tB);
		assert.ok(win.length > 0, 'series in the window');
		for (const s of win) {
			const id = `${s.metric.__name__}{${labelsKey(s.metric)}}`;
			assert.equal(s.samples[0][0], tA, `${id}: first sample of the window at t_a`);
			assert.equal(s.samples[s.samples.length - 1][0], tB, `${id}: last sample at t_b`);
			assert.ok(s.samples.some(([ts]) => ts === tM), `${id}: a sample at the step's scrape`);
		}

		/* the series set: exactly the recorded label sets */
		const httpKeys = [];
		const tcpKeys = [];
		for (const { sc } of scripts)
			for (const s of sc.series.values())
				(s.meta.tcp ? tcpKeys : httpKeys).push(s.meta.key);
		const httpSeries = await prom.query(`istio_requests_total{job="${JOB}"}`, tB);
		assert.deepEqual(httpSeries.map((r) => labelsKey(r.metric)).sort(), httpKeys.sort(),
			'istio_requests_total series');
		const tcpSeries = await prom.query(`istio_tcp_connections_opened_total{job="${JOB}"}`, tB);
		assert.deepEqual(tcpSeries.map((r) => labelsKey(r.metric)).sort(), tcpKeys.sort(),
			'istio_tcp_connections_opened_total series');
		for (const r of [...httpSeries, ...tcpSeries])
			assert.ok(r.metric.reporter === 'source' || r.metric.reporter === 'destination',
				`reporter label ${r.metric.reporter}`);

		/* measured traffic, from the books */
		const measured = [];
		const perCode = new Map();
		const perCodeM1 = new Map();
		const perSeries = new Map();
		for (const { sc } of scripts) {
			for (const s of sc.series.values()) {
				const c = sc.phasesTotals(s.name, ['m1', 'm2']);
				perSeries.set(s.meta.key, { c, s });
				if (s.meta.tcp)
					continue;
				const code = s.meta.key.split('|')[2];
				perCode.set(code, (perCode.get(code) || 0) + c.count);
				perCodeM1.set(code, (perCodeM1.get(code) || 0) + sc.phaseTotals(s.name, 'm1').count);
				measured.push(...c.durations);
			}
		}

		/* requests per response code */
		const gotCodes = await prom.vectorBy(
			`sum by (response_code) (increase(istio_requests_total{job="${JOB}"}[${range}]))`,
			'response_code', tB);
		assert.equal(diffMaps(perCode, gotCodes), '', 'increase(istio_requests_total) per response_code');
		t.diagnostic(`per response_code: ${JSON.stringify([...gotCodes])}`);
		/* and over the first step alone, ending on its scrape */
		const gotCodesM1 = await prom.vectorBy(
			`sum by (response_code) (increase(istio_requests_total{job="${JOB}"}[${tM - tA}ms]))`,
			'response_code', tM);
		assert.equal(diffMaps(perCodeM1, gotCodesM1), '',
			'increase(istio_requests_total) per response_code over the first step');

		/* per series too */
		const perSeriesGot = new Map();
		for (const r of await prom.query(`increase(istio_requests_total{job="${JOB}"}[${range}])`, tB))
			perSeriesGot.set(labelsKey(r.metric), Number(r.value[1]));
		const perSeriesExp = new Map([...perSeries].filter(([, v]) => !v.s.meta.tcp)
			.map(([k, v]) => [k, v.c.count]));
		assert.equal(diffMaps(perSeriesExp, perSeriesGot), '', 'increase(istio_requests_total) per series');

		/* latency buckets: cumulative per le */
		const expLe = new Map(LES.map((le, i) => [le,
			measured.filter((ms) => i === BOUNDS.length || ms <= BOUNDS[i]).length]));
		const gotLe = await prom.vectorBy(
			`sum by (le) (increase(istio_request_duration_milliseconds_bucket{job="${JOB}"}[${range}]))`,
			'le', tB);
		assert.equal(diffMaps(expLe, gotLe), '', 'increase of the duration buckets per le');

		/* the 0.9 quantile lies in the bucket of the true one */
		const sorted = [...measured].sort((a, b) => a - b);
		const trueQ = sorted[Math.ceil(0.9 * sorted.length) - 1];
		const bi = bucketIndex(trueQ);
		assert.ok(bi < BOUNDS.length, 'the test data keeps the 0.9 quantile below +Inf');
		const lower = bi === 0 ? 0 : BOUNDS[bi - 1];
		const upper = BOUNDS[bi];
		const q = await prom.scalar(`histogram_quantile(0.9, sum by (le) (rate(` +
			`istio_request_duration_milliseconds_bucket{job="${JOB}"}[${range}])))`, tB);
		t.diagnostic(`p90: true ${trueQ} ms in (${lower}, ${upper}]; histogram_quantile ${q}`);
		assert.ok(q > lower && q <= upper, `histogram_quantile(0.9) = ${q} within (${lower}, ${upper}]`);

		/* byte sums and TCP counters: increase over the window and the
		 * cumulative values at t_b */
		const expMeasured = expectedSums(scripts, ['m1', 'm2']);
		const expTotal = expectedSums(scripts);
		for (const name of [HTTP_NAMES.request_bytes_sum, HTTP_NAMES.response_bytes_sum,
			HTTP_NAMES.duration_ms_sum, ...Object.values(TCP_NAMES)]) {
			const inc = await prom.scalar(`sum(increase(${name}{job="${JOB}"}[${range}]))`, tB);
			assert.equal(inc, expMeasured.get(name), `increase(${name})`);
			const cum = await prom.scalar(`sum(${name}{job="${JOB}"})`, tB);
			assert.equal(cum, expTotal.get(name), `${name} at t_b`);
		}
		/* and per reporter role, from the exit JSON */
		const byRole = new Map();
		for (const [i, res] of results.entries())
			for (const s of res.series)
				byRole.set(scripts[i].rep.role, (byRole.get(scripts[i].rep.role) || 0) + s.count);
		const gotRole = await prom.vectorBy(`sum by (reporter) (istio_requests_total{job="${JOB}"})`,
			'reporter', tB);
		assert.equal(diffMaps(byRole, gotRole), '', 'istio_requests_total per reporter');

		/* exemplars: the trace ids the reporters sampled, per series, on
		 * the bucket of their value; every sampled series' last one is
		 * there */
		const sampledIds = new Map(); /* key -> Set of trace ids */
		const lastIds = new Map();
		for (const [i, res] of results.entries()) {
			for (const s of res.series) {
				const key = specKey(scripts[i].rep.workload, s.spec);
				if (specValue(s.spec, 'tcp') === '1')
					continue;
				assert.ok(Array.isArray(s.exemplar_trace_ids),
					`reporter ${i} series ${s.name}: exemplar_trace_ids in the exit JSON`);
				sampledIds.set(key, new Set(s.exemplar_trace_ids));
				if (s.exemplar_trace_ids.length)
					lastIds.set(key, s.exemplar_trace_ids[s.exemplar_trace_ids.length - 1]);
			}
		}
		assert.ok(lastIds.size > 0, 'some series were sampled');
		const exSel = `istio_request_duration_milliseconds_bucket{job="${JOB}"}`;
		let ex = [];
		await waitFor(async () => {
			ex = await prom.exemplars(exSel, t0 - 60000, Date.now() + 60000);
			const seen = new Set();
			for (const e of ex)
				for (const x of e.exemplars)
					seen.add(`${labelsKey(e.seriesLabels)}/${x.labels.trace_id}`);
			return [...lastIds].every(([k, id]) => seen.has(`${k}/${id}`));
		}, { timeoutMs: 15000, intervalMs: 250, what: 'the last sampled trace id of every series as an exemplar' })
			.catch((e) => {
				e.message += `\nexemplars: ${JSON.stringify(ex).slice(0, 2000)}\nexpected: ` +
					JSON.stringify([...lastIds]);
				throw e;
			});
		let nEx = 0;
		for (const e of ex) {
			const key = labelsKey(e.seriesLabels);
			const known = perSeries.get(key);
			assert.ok(known && !known.s.meta.tcp, `exemplar on a recorded HTTP series: ${key}`);
			for (const x of e.exemplars) {
				nEx++;
				const id = x.labels.trace_id;
				assert.match(id, /^[0-9a-f]{32}$/, `exemplar trace_id ${id}`);
				assert.ok(sampledIds.get(key).has(id), `exemplar ${id} on ${key} is one its reporter sampled`);
				const v = Number(x.value);
				assert.ok(known.s.total.span_ms.includes(v), `exemplar value ${v} on ${key} is a sampled duration`);
				assert.equal(e.seriesLabels.le, LES[bucketIndex(v)], `exemplar value ${v} on its bucket`);
			}
		}
		t.diagnostic(`${nEx} exemplars on ${ex.length} bucket series`);

		/* an exemplar leads to its trace: the sampled spans came with the
		 * reports and are stored (acknowledged means durable) */
		for (const [key, id] of lastIds) {
			const r = await getJson(`${mixd.url('query')}/api/traces/${id}`);
			assert.equal(r.status, 200, `trace ${id} (last exemplar of ${key}) is stored`);
			const durs = r.json.data[0].spans.map((sp) => sp.duration / 1000);
			assert.ok(durs.some((d) => perSeries.get(key).s.total.span_ms.includes(d)),
				`trace ${id}: a span of a sampled duration (got ${durs})`);
		}

		/* promtool: nothing but the unit lint of the Istio histogram names */
		const scrape = await request(`${mixd.url('web')}/metrics`);
		assert.equal(scrape.status, 200, 'GET /metrics');
		assert.match(scrape.headers['content-type'], /^text\/plain; version=0\.0\.4/,
			'/metrics without Accept is text 0.0.4');
		const pt = await promtoolCheckMetrics(scrape.body.toString('utf8'));
		const problems = pt.output.split('\n').map((l) => l.trim()).filter((l) => l !== '');
		const unexpected = problems.filter((l) =>
			!/^istio_[a-z_]+ use base unit "seconds" instead of "milliseconds"$/.test(l));
		t.diagnostic(`promtool check metrics: exit ${pt.code}, ${JSON.stringify(problems)}`);
		assert.deepEqual(unexpected, [], `promtool check metrics (exit ${pt.code}):\n${pt.output}`);
		assert.equal(pt.code, problems.length ? 3 : 0, `promtool exit code (output:\n${pt.output})`);
	});
});
