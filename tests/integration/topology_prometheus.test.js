/*
 * topology_prometheus.test.js - the Kiali-style graph API against real
 * Prometheus: the acceptance scenario of the topology issue.
 *
 * The mesh of the Istio article (lib/scenario.js): ingress → alice → bob v1
 * (80 %) and bob v2 (20 %), 25 % of bob's answers 404, known latencies,
 * 20 requests/s at the ingress, recorded by five mixd-report processes
 * (one per workload and role, as sidecars report it) into one mixd, while
 * a real Prometheus (2.42, Debian) scrapes mixd's /metrics every second.
 * Once Prometheus shows every series, the test picks a window
 * [T0, T1] of WINDOW_S seconds (300: the issue asks for at least 5
 * minutes) on 10 s boundaries starting after that, lets the traffic run
 * until Prometheus has scraped past T1, stops the reporters (each must
 * exit with every report acknowledged) and then asks, for queryTime = T1
 * and duration = WINDOW_S:
 *
 *   - Prometheus what Kiali would ask it: per edge
 *     sum(rate(istio_requests_total{reporter="destination", source and
 *     destination workload}[WINDOW_S s])) - Kiali reads an edge inside
 *     the namespace from destination telemetry (its inbound query runs
 *     first and the source reports of the same time series are dropped as
 *     duplicates), and the same with response_code=~"4.." and the 0.95
 *     quantile of the duration buckets;
 *   - mixd GET /api/namespaces/graph (versionedApp, responseTime=95),
 *     without and with injectServiceNodes.
 *
 * Asserted: the graphs have exactly the scenario's nodes (with Kiali's app
 * box around bob v1 and v2, as a versionedApp graph has) and edges, ids as
 * Kiali computes them (sha256 of its id strings); each edge's
 * traffic.rates.http equals Prometheus' rate within 1 % (http4xx within
 * 1 % or two requests over the window, since 404s come one at a time);
 * httpPercentReq is 80/20 and httpPercentErr 25 within 2 points; the
 * edge's responseTime lies inside the Envoy bucket of the true 0.95
 * quantile of the latencies the scenario records. Prometheus' own view is
 * checked first (source and destination reports agree, shares and error
 * ratios hold), so a failure points at the scenario or at the graph.
 * The graph's findings are collected and reported together, with the
 * measured agreement as diagnostics, including the bounds that the
 * scrapes around T0 and T1 put on the exact count over the window (what
 * mixd's 10 s rollups give): a rate outside them is mixd's error, a rate
 * inside them but off Prometheus' is rate()'s extrapolation.
 *
 * MIXD_TOPOLOGY_WINDOW_S overrides the window for debugging only (e.g. 60
 * for a quick run); the acceptance run uses the default.
 */
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const { startMixd } = require('./lib/mixd');
const { getJson, waitFor } = require('./lib/util');
const { startPrometheus } = require('./lib/prometheus');
const { reportUrl } = require('./lib/report');
const { startScenario, truePercentile, envoyBucket, expectedGraph, nodeLabel } = require('./lib/scenario');

const JOB = 'mixd';
const NS = 'demo';
const WINDOW_S = Number(process.env.MIXD_TOPOLOGY_WINDOW_S || 300);
const RATE_TOL = 0.01; /* relative */
const PCT_TOL = 2; /* percentage points */
const QUANTILE = 0.95;
const N_SERIES = 10; /* istio_requests_total series the scenario makes */

function sha256(s) {
	return crypto.createHash('sha256').update(s).digest('hex');
}

function rate(rates, key) {
	return rates && rates[key] !== undefined ? Number(rates[key]) : 0;
}

/* The graph's nodes by label and edges by "source>target" label; what
 * does not fit goes to problems. */
function indexGraph(json, tag, problems) {
	const nodes = new Map();
	const byId = new Map();
	for (const { data } of json.elements.nodes) {
		const label = nodeLabel(data);
		if (nodes.has(label))
			problems.push(`${tag}: two nodes named ${label}`);
		nodes.set(label, data);
		byId.set(data.id, label);
	}
	const edges = new Map();
	for (const { data } of json.elements.edges) {
		if (!byId.has(data.source) || !byId.has(data.target)) {
			problems.push(`${tag}: edge ${data.id} between nodes not in the graph`);
			continue;
		}
		const label = `${byId.get(data.source)}>${byId.get(data.target)}`;
		if (edges.has(label))
			problems.push(`${tag}: two edges ${label}`);
		edges.set(label, data);
	}
	return { nodes, edges };
}

function relDiff(got, want) {
	return want === 0 ? (got === 0 ? 0 : Infinity) : Math.abs(got - want) / want;
}

function fmt(x, d = 4) {
	return x === null || x === undefined || Number.isNaN(x) ? String(x) : Number(x).toFixed(d);
}

describe('topology graph API against real Prometheus', { timeout: 7 * 60 * 1000 }, () => {
	it('edge rates equal PromQL rate() over the same window; shares, errors, latency', async (t) => {
		const mixd = await startMixd();
		let prom = null;
		let sc = null;
		t.after(async () => {
			if (sc)
				await sc.kill();
			if (prom)
				await prom.stop();
			await mixd.stop();
		});
		const webAddr = mixd.addrs.web.find((a) => a.startsWith('127.0.0.1:'));
		assert.ok(webAddr, `mixd's web listener on 127.0.0.1: ${JSON.stringify(mixd.addrs)}`);
		assert.ok(Array.isArray(mixd.addrs.query), `a query listener: ${JSON.stringify(mixd.addrs)}`);
		prom = await startPrometheus({ targets: [webAddr], job: JOB, intervalS: 1, timeoutS: 1 });
		await waitFor(async () => (await prom.scalar(`up{job="${JOB}"}`)) === 1,
			{ timeoutMs: 15000, intervalMs: 200, what: 'Prometheus to scrape mixd (up == 1)' });

		sc = startScenario({ url: reportUrl(mixd), namespace: NS });
		const ids = sc.ids;
		const base = new Map(sc.edges.map((e) => [e.key, e]));

		/* every series is in Prometheus with traffic */
		const seen = await waitFor(async () => {
			if (sc.failure())
				return 'failed';
			const n = await prom.scalar(`count(istio_requests_total{job="${JOB}"} > 0)`);
			return n === N_SERIES && 'ok';
		}, { timeoutMs: 30000, intervalMs: 250, what: `Prometheus to show ${N_SERIES} series with traffic` });
		if (seen === 'failed')
			throw sc.failure();

		/* the window: on 10 s boundaries, starting at least 2 scrapes
		 * after every series was there */
		const T0 = Math.ceil((Date.now() + 2000) / 10000) * 10000;
		const T1 = T0 + WINDOW_S * 1000;
		t.diagnostic(`traffic from ${new Date(sc.startedAt).toISOString()}, window ` +
			`${new Date(T0).toISOString()} .. ${new Date(T1).toISOString()} (${WINDOW_S} s)`);

		/* run until Prometheus has scraped past T1 (bounded: the window
		 * plus a minute); a reporter that dies ends the wait */
		const ran = await waitFor(async () => {
			if (sc.failure())
				return 'failed';
			if (Date.now() < T1 + 1500)
				return false;
			const last = await prom.scalar(`max(timestamp(up{job="${JOB}"}))`);
			return last !== null && last * 1000 >= T1 + 1000 && 'ok';
		}, { timeoutMs: T1 - Date.now() + 60000, intervalMs: 1000, what: 'Prometheus to scrape past T1' });
		if (ran === 'failed')
			throw sc.failure();

		const exits = await sc.stop();
		for (const [key, j] of exits)
			t.diagnostic(`reporter ${key}: ${j.requests} requests, ${j.reports_acked}/${j.reports_sent} reports acked`);
		sc = null;

		/* ---- what Prometheus computes, the way Kiali asks it ---- */
		const range = `[${WINDOW_S}s]`;
		const sel = (e, reporter, extra = '') => {
			const s = ids[e.source];
			const d = ids[e.dest];
			return `istio_requests_total{job="${JOB}",reporter="${reporter}",` +
				`source_workload_namespace="${s.namespace}",source_workload="${s.workload}",` +
				`destination_workload_namespace="${d.namespace}",destination_workload="${d.workload}"${extra}}`;
		};
		const prom0 = async (expr) => (await prom.scalar(expr, T1)) || 0;
		/* the scraped counter (summed over the selector's series) at the
		 * last scrape at or before T and the first one after T */
		async function around(selector, T) {
			const byTs = new Map();
			for (const m of await prom.matrix(`${selector}[5s]`, T + 2500))
				for (const [ts, v] of m.samples)
					byTs.set(ts, (byTs.get(ts) || 0) + v);
			const ts = [...byTs.keys()].sort((x, y) => x - y);
			const before = ts.filter((x) => x <= T).pop();
			const after = ts.find((x) => x > T);
			return { before: byTs.get(before), after: byTs.get(after) };
		}
		const pr = new Map(); /* base edge key -> numbers */
		for (const e of base.values()) {
			/* what mixd's rollups can give: its count over [T0, T1) lies
			 * between the scrapes that bracket T0 and T1 */
			const a0 = await around(sel(e, 'destination'), T0);
			const a1 = await around(sel(e, 'destination'), T1);
			const p = {
				lo: (a1.before - a0.after) / WINDOW_S,
				hi: (a1.after - a0.before) / WINDOW_S,
				http: await prom0(`sum(rate(${sel(e, 'destination')}${range}))`),
				http4xx: await prom0(`sum(rate(${sel(e, 'destination', ',response_code=~"4.."')}${range}))`),
				httpSrc: await prom0(`sum(rate(${sel(e, 'source')}${range}))`),
				rt: await prom.scalar(`histogram_quantile(${QUANTILE}, sum by (le) (rate(` +
					`${sel(e, 'destination').replace('istio_requests_total', 'istio_request_duration_milliseconds_bucket')}` +
					`${range})))`, T1),
			};
			pr.set(e.key, p);
			t.diagnostic(`prometheus ${e.key}: http ${fmt(p.http)} (source-reported ${fmt(p.httpSrc)}; ` +
				`scrapes bracket the window's count at ${fmt(p.lo)} .. ${fmt(p.hi)}/s), ` +
				`4xx ${fmt(p.http4xx)}, p95 ${fmt(p.rt, 1)} ms; true p95 ${truePercentile(e, QUANTILE)} ms`);
		}

		/* the scenario as Prometheus sees it */
		const v1 = pr.get('alice>bob-v1');
		const v2 = pr.get('alice>bob-v2');
		const ing = pr.get('ingress>alice');
		for (const [k, p] of pr) {
			assert.ok(p.http > 0, `prometheus: traffic on ${k}`);
			assert.ok(relDiff(p.httpSrc, p.http) <= RATE_TOL,
				`prometheus ${k}: source ${p.httpSrc} and destination ${p.http} reports agree within 1 %`);
		}
		assert.ok(relDiff(v1.http + v2.http, ing.http) <= RATE_TOL, 'prometheus: alice calls bob once per request');
		assert.ok(Math.abs(100 * v1.http / (v1.http + v2.http) - 80) <= PCT_TOL, 'prometheus: 80 % to bob v1');
		for (const p of [v1, v2])
			assert.ok(Math.abs(100 * p.http4xx / p.http - 25) <= PCT_TOL, 'prometheus: 25 % 404');
		assert.equal(ing.http4xx, 0, 'prometheus: no errors from alice');

		/* ---- the graphs ---- */
		const graphs = []; /* their JSON, printed when something is off */
		async function graph(inject) {
			const q = new URLSearchParams({
				namespaces: NS, graphType: 'versionedApp', duration: `${WINDOW_S}s`,
				queryTime: String(T1 / 1000), responseTime: String(QUANTILE * 100),
				injectServiceNodes: String(inject),
			});
			const url = `${mixd.url('query')}/api/namespaces/graph?${q}`;
			const r = await getJson(url);
			assert.equal(r.status, 200, `GET ${url}: ${JSON.stringify(r.json).slice(0, 500)}`);
			assert.equal(r.json.timestamp, T1 / 1000, 'timestamp = queryTime');
			assert.equal(r.json.duration, WINDOW_S, 'duration in seconds');
			assert.equal(r.json.graphType, 'versionedApp', 'graphType');
			graphs.push(`graph (injectServiceNodes=${inject}): ${JSON.stringify(r.json)}`);
			return r.json;
		}

		const C = ids.alice.cluster;
		const plain = expectedGraph(ids, false);
		const injected = expectedGraph(ids, true);

		/* everything below is collected, so one run reports every
		 * disagreement with its numbers */
		const problems = [];
		const agreement = [];
		function check(inject, json, { nodes: expNodes, edges: expected }) {
			const tag = inject ? 'injected' : 'plain';
			const g = indexGraph(json, tag, problems);
			const gotN = [...g.nodes.keys()].sort();
			const wantN = [...expNodes.keys()].sort();
			if (JSON.stringify(gotN) !== JSON.stringify(wantN))
				problems.push(`${tag}: nodes ${JSON.stringify(gotN)}, expected ${JSON.stringify(wantN)}`);
			const gotE = [...g.edges.keys()].sort();
			const wantE = [...expected.keys()].sort();
			if (JSON.stringify(gotE) !== JSON.stringify(wantE))
				problems.push(`${tag}: edges ${JSON.stringify(gotE)}, expected ${JSON.stringify(wantE)}`);
			const box = g.nodes.get('box bob');
			for (const [label, d] of g.nodes) {
				const exp = expNodes.get(label);
				if (!exp)
					continue;
				if (d.namespace !== NS || d.cluster !== C)
					problems.push(`${tag} node ${label}: namespace ${d.namespace} cluster ${d.cluster}`);
				if (d.id !== sha256(exp.kid))
					problems.push(`${tag} node ${label}: id ${d.id} is not sha256("${exp.kid}")`);
				if (exp.workload && d.workload !== exp.workload)
					problems.push(`${tag} node ${label}: workload ${d.workload}, expected ${exp.workload}`);
				if (box && /^bob v/.test(label) && d.parent !== box.id)
					problems.push(`${tag} node ${label}: parent ${d.parent}, expected the bob box ${box.id}`);
			}
			for (const [label, exp] of expected) {
				const d = g.edges.get(label);
				if (!d)
					continue;
				if (d.id !== sha256(`${d.source}.${d.target}.http`))
					problems.push(`${tag} edge ${label}: id ${d.id} is not sha256("<source>.<target>.http")`);
				const traffic = d.traffic || {};
				const rates = traffic.rates || {};
				if (traffic.protocol !== 'http' || typeof rates.http !== 'string')
					problems.push(`${tag} edge ${label}: traffic ${JSON.stringify(traffic)} ` +
						'(expected protocol http, rates as strings)');
				const want = exp.of.reduce((sum, k) => sum + pr.get(k).http, 0);
				const want4xx = exp.of.reduce((sum, k) => sum + pr.get(k).http4xx, 0);
				const got = rate(rates, 'http');
				const got4xx = rate(rates, 'http4xx');
				const rd = relDiff(got, want);
				const lo = exp.of.reduce((sum, k) => sum + pr.get(k).lo, 0);
				const hi = exp.of.reduce((sum, k) => sum + pr.get(k).hi, 0);
				agreement.push({ tag, label, got: rates.http, want, rd, got4xx: rates.http4xx, want4xx, lo, hi });
				if (!(rd <= RATE_TOL))
					problems.push(`${tag} ${label}: http ${rates.http} vs prometheus ${fmt(want)} ` +
						`(${fmt(100 * rd, 3)} %)`);
				/* 404s come one at a time: 1 % or two requests over the window */
				if (!(relDiff(got4xx, want4xx) <= RATE_TOL || Math.abs(got4xx - want4xx) * WINDOW_S <= 2))
					problems.push(`${tag} ${label}: http4xx ${rates.http4xx} vs prometheus ${fmt(want4xx)}`);
				const req = rate(rates, 'httpPercentReq');
				if (!(Math.abs(req - exp.req) <= PCT_TOL))
					problems.push(`${tag} ${label}: httpPercentReq ${rates.httpPercentReq}, expected ${exp.req}`);
				const err = rate(rates, 'httpPercentErr');
				if (!(Math.abs(err - exp.err) <= PCT_TOL))
					problems.push(`${tag} ${label}: httpPercentErr ${rates.httpPercentErr}, expected ${exp.err}`);
			}
			return g;
		}

		const gPlain = check(false, await graph(false), plain);
		check(true, await graph(true), injected);

		/* response time of the plain edges: inside the Envoy bucket of the
		 * true quantile */
		for (const [label, exp] of plain.edges) {
			const e = base.get(exp.of[0]);
			const trueQ = truePercentile(e, QUANTILE);
			const { lower, upper } = envoyBucket(trueQ);
			const d = gPlain.edges.get(label);
			if (!d)
				continue;
			const rt = d.responseTime === undefined ? NaN : Number(d.responseTime);
			t.diagnostic(`${label}: responseTime ${d.responseTime} ms, prometheus ${fmt(pr.get(e.key).rt, 1)}, ` +
				`true p95 ${trueQ} in (${lower}, ${upper}]`);
			if (!(rt > lower && rt <= upper))
				problems.push(`plain ${label}: responseTime ${d.responseTime} not in (${lower}, ${upper}] ` +
					`(true p95 ${trueQ} ms)`);
		}

		for (const a of agreement)
			t.diagnostic(`${a.tag} ${a.label}: graph ${a.got} vs prometheus ${fmt(a.want)} req/s: ` +
				`${fmt(100 * a.rd, 3)} %; 4xx ${a.got4xx} vs ${fmt(a.want4xx)}; scrapes bracket ` +
				`${fmt(a.lo)} .. ${fmt(a.hi)}`);
		const worst = agreement.length ? Math.max(...agreement.map((a) => a.rd)) : NaN;
		t.diagnostic(`max relative difference of an edge rate: ${fmt(100 * worst, 3)} %`);
		if (problems.length)
			for (const g of graphs)
				t.diagnostic(g);
		assert.deepEqual(problems, [], 'graph vs Prometheus');
	});
});
