/*
 * scenario.js - the mesh of the Istio article as live traffic: ingress →
 * alice → bob v1 (80 %) and bob v2 (20 %), with 25 % of bob's answers 404,
 * recorded at a constant rate through mixd-report processes, one per
 * workload and role as real sidecars would report it:
 *
 *   ingress   (source)       ingress → alice            all 200
 *   alice-v1  (destination)  ingress → alice            all 200
 *   alice-v1  (source)       alice → bob-v1 / bob-v2    200 and 404
 *   bob-v1    (destination)  alice → bob-v1             200 and 404
 *   bob-v2    (destination)  alice → bob-v2             200 and 404
 *
 * The traffic is a fixed cycle of CYCLE requests entering at the ingress
 * (request k of a cycle goes to bob v2 when k % 5 == 4, and every fourth
 * request a bob version serves is a 404), so shares and error ratios are
 * exact over whole cycles, and every request has known latencies (whole
 * ms, chosen away from Envoy's bucket bounds: bob answers, alice adds 4 ms
 * and each caller's sidecar 1 ms), so the true percentiles of every edge
 * are known (truePercentile(), envoyBucket()); expectedGraph() describes
 * the versionedApp graph Kiali draws of it.
 *
 * startScenario() spawns the five reporters in script mode and feeds each
 * its script through stdin a little ahead of the wall clock: per tick
 * (tickMs) the records of perTick requests, then `sleep tickMs`, so the
 * reporters themselves keep the pace and the test can run the traffic as
 * long as it needs. stop() stops feeding, lets every reporter ship the
 * rest and exit, and checks their exit JSON; kill() is for t.after.
 * Every reporter's Script (lib/report.js) keeps the books of what it
 * recorded.
 *
 * Identities follow Istio: workload, app, version, canonical service and
 * revision (the ingress has no version: "unknown", revision "latest"),
 * cluster "Kubernetes" (Kiali discards telemetry whose cluster is
 * "unknown"), SPIFFE principals, mutual_tls on the destination side and
 * "unknown" on the source side (Istio's client side always says so).
 */
'use strict';

const { startReporter, checkExit, Script } = require('./report');

const CYCLE = 40; /* requests per cycle at the ingress */

/* The workloads. version '' = none (the ingress gateway's case). */
function identities(namespace, cluster) {
	const mk = (workload, app, version) => ({
		workload, app, version, namespace, cluster,
		canonicalService: app,
		canonicalRevision: version || 'latest',
		principal: `spiffe://cluster.local/ns/${namespace}/sa/${app}`,
	});
	return {
		ingress: mk('ingress', 'ingress', ''),
		alice: mk('alice-v1', 'alice', 'v1'),
		bobV1: mk('bob-v1', 'bob', 'v1'),
		bobV2: mk('bob-v2', 'bob', 'v2'),
	};
}

/* The request cycle: CYCLE requests, each with the bob version it goes
 * to, bob's code and the latency each reporter sees. */
function buildCycle() {
	const out = [];
	let nV1 = 0;
	let nV2 = 0;
	const v2Ms = [40, 60, 70, null, 45, 80, 90, null]; /* null: the 404s */
	for (let k = 0; k < CYCLE; k++) {
		const toV2 = k % 5 === 4;
		const idx = toV2 ? nV2++ : nV1++;
		const code = idx % 4 === 3 ? 404 : 200;
		let bobMs;
		if (toV2)
			bobMs = code === 404 ? 3 : v2Ms[idx % 8];
		else if (code === 404)
			bobMs = 2;
		else if (idx % 8 === 1)
			bobMs = 150 + 10 * Math.floor(idx / 8); /* the slow ones: 150..180 */
		else
			bobMs = 12 + ((idx * 7) % 11); /* 12..22 */
		const aliceMs = bobMs + 1 + 4;
		out.push({
			k,
			bob: toV2 ? 'v2' : 'v1',
			code,
			bobDestMs: bobMs,
			bobSrcMs: bobMs + 1,
			aliceDestMs: aliceMs,
			aliceSrcMs: aliceMs + 1,
			/* bytes: bob's answer, alice's answer */
			bobReq: 420,
			bobResp: code === 404 ? 130 : 2100,
			aliceReq: 610,
			aliceResp: 3400,
		});
	}
	return out;
}

/* Envoy's default bounds (ms), as Istio's histograms use them. */
const BOUNDS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
	300000, 600000, 1800000, 3600000];

/* The Envoy bucket (lower, upper] holding v; upper is Infinity past the
 * last bound. */
function envoyBucket(v) {
	const i = BOUNDS.findIndex((b) => v <= b);
	if (i < 0)
		return { lower: BOUNDS[BOUNDS.length - 1], upper: Infinity };
	return { lower: i === 0 ? 0 : BOUNDS[i - 1], upper: BOUNDS[i] };
}

/* The q-quantile (0 < q <= 1) of a list of numbers, nearest rank. */
function percentile(values, q) {
	const s = [...values].sort((a, b) => a - b);
	return s[Math.max(0, Math.ceil(q * s.length) - 1)];
}

/*
 * The scenario's edges (app graph view). For each: its key, source and
 * destination identity keys, the service called, the share of the
 * source's outgoing requests it carries, its 404 ratio, and the latencies
 * of one cycle as the destination and the source reporter record them.
 */
function edges() {
	const cyc = buildCycle();
	const bobEdge = (v) => {
		const rq = cyc.filter((r) => r.bob === v);
		return {
			key: `alice>bob-${v}`, source: 'alice', dest: v === 'v1' ? 'bobV1' : 'bobV2',
			service: 'bob', share: rq.length / CYCLE,
			errRatio: rq.filter((r) => r.code === 404).length / rq.length,
			destMs: rq.map((r) => r.bobDestMs), srcMs: rq.map((r) => r.bobSrcMs),
		};
	};
	return [
		{
			key: 'ingress>alice', source: 'ingress', dest: 'alice', service: 'alice', share: 1,
			errRatio: 0, destMs: cyc.map((r) => r.aliceDestMs), srcMs: cyc.map((r) => r.aliceSrcMs),
		},
		bobEdge('v1'),
		bobEdge('v2'),
	];
}

/* The true q-quantile of an edge's latency as `reporter` records it. */
function truePercentile(edge, q, reporter = 'destination') {
	return percentile(reporter === 'destination' ? edge.destMs : edge.srcMs, q);
}

/* Kiali's "OK" version: set, not unknown, not latest */
function okVersion(v) {
	return Boolean(v) && v !== 'unknown' && v !== 'latest';
}

/* A graph node's name as the scenario's expectations use it, from its
 * Kiali node data: "alice v1", "ingress", "svc bob", "box bob". */
function nodeLabel(d) {
	if (d.nodeType === 'service')
		return `svc ${d.service}`;
	if (d.nodeType === 'app')
		return okVersion(d.version) ? `${d.app} ${d.version}` : d.app;
	if (d.nodeType === 'box')
		return `box ${d.app || d.namespace || d.cluster}`;
	return `${d.nodeType} ${d.workload || d.app || d.service || d.id}`;
}

/*
 * The versionedApp graph of the scenario's namespace as Kiali draws it,
 * with or without injected service nodes: nodes, a Map from label (see
 * nodeLabel) to {kid: Kiali's id string (the JSON id is its sha256),
 * workload (of a versioned app node, which Kiali keeps)}, including the
 * app box Kiali puts around bob's two versions; edges, a Map from
 * "source>target" label to {of: the edges() keys whose traffic it
 * carries, req: httpPercentReq, err: httpPercentErr}.
 */
function expectedGraph(ids, injectServiceNodes) {
	const C = ids.alice.cluster;
	const ns = ids.alice.namespace;
	const app = (k) => ({ kid: `vapp_${C}_${ns}_${ids[k].workload}`, workload: ids[k].workload });
	const nodes = new Map([
		['ingress', app('ingress')], ['alice v1', app('alice')], ['bob v1', app('bobV1')],
		['bob v2', app('bobV2')], ['box bob', { kid: `box_${C}_${ns}_bob` }],
	]);
	if (!injectServiceNodes) {
		return {
			nodes,
			edges: new Map([
				['ingress>alice v1', { of: ['ingress>alice'], req: 100, err: 0 }],
				['alice v1>bob v1', { of: ['alice>bob-v1'], req: 80, err: 25 }],
				['alice v1>bob v2', { of: ['alice>bob-v2'], req: 20, err: 25 }],
			]),
		};
	}
	nodes.set('svc alice', { kid: `svc_${C}_${ns}_alice` });
	nodes.set('svc bob', { kid: `svc_${C}_${ns}_bob` });
	return {
		nodes,
		edges: new Map([
			['ingress>svc alice', { of: ['ingress>alice'], req: 100, err: 0 }],
			['svc alice>alice v1', { of: ['ingress>alice'], req: 100, err: 0 }],
			['alice v1>svc bob', { of: ['alice>bob-v1', 'alice>bob-v2'], req: 100, err: 25 }],
			['svc bob>bob v1', { of: ['alice>bob-v1'], req: 80, err: 25 }],
			['svc bob>bob v2', { of: ['alice>bob-v2'], req: 20, err: 25 }],
		]),
	};
}

function serviceHost(service, namespace) {
	return `${service}.${namespace}.svc.cluster.local`;
}

/* A mixd-report SPEC for a series towards/from `peer` via `service`. */
function spec(peer, service, namespace, code, destinationSide) {
	return [
		`peer_workload=${peer.workload}`,
		`peer_namespace=${peer.namespace}`,
		`peer_app=${peer.app}`,
		...(peer.version ? [`peer_version=${peer.version}`] : []),
		`peer_canonical_service=${peer.canonicalService}`,
		`peer_canonical_revision=${peer.canonicalRevision}`,
		`peer_cluster=${peer.cluster}`,
		`peer_principal=${peer.principal}`,
		`service=${serviceHost(service, namespace)}`,
		`service_name=${service}`,
		`service_namespace=${namespace}`,
		`code=${code}`,
		`security=${destinationSide ? 'mutual_tls' : 'unknown'}`,
	].join(',');
}

/*
 * The five reporters: {key, role, local, series: [{name, peer, service,
 * code}]}, and per request of the cycle the records each makes:
 * recordsOf(r) -> [[reporterKey, seriesName, ms, reqBytes, respBytes]].
 */
function reporterPlan(ids) {
	const bob = (v) => (v === 'v1' ? ids.bobV1 : ids.bobV2);
	const plan = [
		{ key: 'ingress', role: 'source', local: ids.ingress,
			series: [{ name: 'alice_200', peer: ids.alice, service: 'alice', code: 200 }] },
		{ key: 'alice-in', role: 'destination', local: ids.alice,
			series: [{ name: 'ingress_200', peer: ids.ingress, service: 'alice', code: 200 }] },
		{ key: 'alice-out', role: 'source', local: ids.alice,
			series: ['v1', 'v2'].flatMap((v) => [200, 404].map((code) =>
				({ name: `bob-${v}_${code}`, peer: bob(v), service: 'bob', code }))) },
		{ key: 'bob-v1', role: 'destination', local: ids.bobV1,
			series: [200, 404].map((code) => ({ name: `alice_${code}`, peer: ids.alice, service: 'bob', code })) },
		{ key: 'bob-v2', role: 'destination', local: ids.bobV2,
			series: [200, 404].map((code) => ({ name: `alice_${code}`, peer: ids.alice, service: 'bob', code })) },
	];
	function recordsOf(r) {
		return [
			['ingress', 'alice_200', r.aliceSrcMs, r.aliceReq, r.aliceResp],
			['alice-in', 'ingress_200', r.aliceDestMs, r.aliceReq, r.aliceResp],
			['alice-out', `bob-${r.bob}_${r.code}`, r.bobSrcMs, r.bobReq, r.bobResp],
			[`bob-${r.bob}`, `alice_${r.code}`, r.bobDestMs, r.bobReq, r.bobResp],
		];
	}
	return { plan, recordsOf };
}

/*
 * Starts the traffic. Options: url (the report URL, required), namespace
 * ('demo'), cluster ('Kubernetes'), tickMs (100), perTick (requests per
 * tick at the ingress, 2: 20 requests/s; must divide CYCLE), flushMs (the
 * reporters' flush interval, 200), lookaheadMs (how far the script runs
 * ahead of the wall clock, 2000).
 *
 * Returns {ids, edges, reporters: [{key, role, local, handle, script}],
 * failure() (an Error once a reporter has exited while still fed, else
 * null), stop() (resolves to a Map from reporter key to its exit JSON
 * once all exited with every report acknowledged), kill()}.
 */
function startScenario(opts) {
	const { url, namespace = 'demo', cluster = 'Kubernetes', tickMs = 100, perTick = 2,
		flushMs = 200, lookaheadMs = 2000 } = opts;
	if (!url)
		throw new Error('startScenario: url is required');
	if (CYCLE % perTick !== 0)
		throw new Error(`startScenario: perTick ${perTick} must divide ${CYCLE}`);
	const ids = identities(namespace, cluster);
	const cycle = buildCycle();
	const { plan, recordsOf } = reporterPlan(ids);

	const reporters = plan.map((p) => {
		const script = new Script();
		for (const s of p.series)
			script.define(s.name, spec(s.peer, s.service, namespace, s.code, p.role === 'destination'),
				{ peer: s.peer, service: s.service, code: s.code });
		const l = p.local;
		const args = ['--cluster', l.cluster, '--principal', l.principal,
			'--canonical-service', l.canonicalService, '--canonical-revision', l.canonicalRevision];
		/* startReporter() passes --version only when non-empty: an empty
		 * one (the ingress) is passed here, as libmixd's "unknown" */
		const handle = startReporter({
			url, role: p.role, workload: l.workload, app: l.app, version: l.version,
			namespace: l.namespace, flushMs, script: true,
			args: args.concat(l.version ? [] : ['--version', '']),
		});
		return { ...p, script, handle };
	});
	const byKey = new Map(reporters.map((r) => [r.key, r]));

	for (const r of reporters)
		r.handle.write(r.script.take());

	const t0 = Date.now();
	const lookahead = Math.ceil(lookaheadMs / tickMs);
	let ticks = 0;
	let stopped = false;
	let failure = null;

	function pump() {
		if (stopped)
			return;
		for (const r of reporters) {
			if (r.handle.exited && !failure)
				failure = new Error(`${r.handle.name} exited while fed (${JSON.stringify(r.handle.exited)})` +
					`\nstderr:\n${r.handle.stderr}`);
		}
		if (failure)
			return;
		const target = Math.floor((Date.now() - t0) / tickMs) + lookahead;
		const lines = new Map(reporters.map((r) => [r.key, []]));
		for (; ticks < target; ticks++) {
			/* the records of this tick, merged per reporter, series and values */
			const merged = new Map();
			for (let i = 0; i < perTick; i++) {
				const req = cycle[(ticks * perTick + i) % CYCLE];
				for (const [rk, name, ms, rq, rs] of recordsOf(req)) {
					const mk = `${rk}\0${name}\0${ms}\0${rq}\0${rs}`;
					const m = merged.get(mk);
					if (m)
						m.n++;
					else
						merged.set(mk, { rk, name, ms, rq, rs, n: 1 });
				}
			}
			for (const m of merged.values())
				byKey.get(m.rk).script.record(m.name, m.n, m.ms, m.rq, m.rs);
			for (const r of reporters)
				lines.get(r.key).push(...r.script.take(), `sleep ${tickMs}`);
		}
		for (const r of reporters)
			if (lines.get(r.key).length)
				r.handle.write(lines.get(r.key));
	}

	pump();
	const timer = setInterval(pump, Math.max(50, Math.floor(tickMs * 2)));

	return {
		ids,
		namespace,
		cluster,
		edges: edges(),
		reporters,
		startedAt: t0,
		/* requests recorded per second at the ingress (nominal: the
		 * reporters' sleeps make it a little lower) */
		nominalRate: (perTick * 1000) / tickMs,
		failure: () => failure,
		/* Stops feeding; every reporter finishes its script, ships the
		 * rest and exits. Resolves to Map key -> exit JSON (checked ok). */
		async stop(timeoutMs = 30000) {
			stopped = true;
			clearInterval(timer);
			for (const r of reporters)
				r.handle.end();
			const out = new Map();
			for (const r of reporters)
				out.set(r.key, checkExit(r.handle, await r.handle.done(timeoutMs + lookaheadMs)));
			return out;
		},
		async kill() {
			stopped = true;
			clearInterval(timer);
			for (const r of reporters)
				await r.handle.stop();
		},
	};
}

module.exports = { startScenario, identities, buildCycle, edges, expectedGraph, nodeLabel,
	okVersion, truePercentile, percentile, envoyBucket, serviceHost, BOUNDS, CYCLE };
