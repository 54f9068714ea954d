/*
 * graph.test.js - the Kiali-style graph API of the real daemon
 * (GET /api/namespaces/graph on the query listener) for the scenario of
 * the Istio article: ingress -> alice -> bob v1 (80 %) and bob v2 (20 %),
 * 25 % of bob's answers 404.
 *
 * Five mixd-report processes report the traffic as real sidecars would,
 * each edge from both ends (the ingress gateway and alice's sidecar as
 * the source side; alice's and bob's sidecars as the destination side,
 * with mutual TLS), in script mode: 100 requests through the ingress, 80
 * of them to bob v1 and 20 to bob v2, a quarter of each answered 404 in
 * 3 ms, the rest 200 in 30 ms. Once every reporter has exited (all
 * acknowledged), the test polls the versionedApp graph of namespace
 * `default` over the last 60 s until it shows all of it (the rollups
 * count a commit once its 10 s bucket has ended: bounded, at most 25 s),
 * then checks: exactly those four app nodes (the ingress an outsider and
 * the root) and three edges, ids the SHA-256 of Kiali's id strings; each
 * edge's rate counted once although both proxies reported it;
 * httpPercentReq 80 / 20 and httpPercentErr 25 within 2 points;
 * responseTime inside the Envoy bucket of the true p95; isMTLS 100. Also a
 * bad parameter (400 with Kiali's error JSON) and a node-detail graph.
 */
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const { startMixd } = require('./lib/mixd');
const { request, getJson, waitFor } = require('./lib/util');
const { reportUrl, startReporter, checkExit, Script } = require('./lib/report');

const CLUSTER = 'Kubernetes';
const sha = (s) => crypto.createHash('sha256').update(s).digest('hex');
const spiffe = (ns, sa) => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

const W = {
	ingress: { workload: 'istio-ingressgateway', app: 'istio-ingressgateway', version: 'v1',
		namespace: 'istio-system' },
	alice: { workload: 'alice-v1', app: 'alice', version: 'v1', namespace: 'default' },
	bobV1: { workload: 'bob-v1', app: 'bob', version: 'v1', namespace: 'default' },
	bobV2: { workload: 'bob-v2', app: 'bob', version: 'v2', namespace: 'default' },
};

/* A peer's identity in a mixd-report SPEC (prefix dest_ or src_). */
function peer(prefix, w) {
	return [`${prefix}workload=${w.workload}`, `${prefix}namespace=${w.namespace}`,
		`${prefix}app=${w.app}`, `${prefix}version=${w.version}`,
		`${prefix}canonical_service=${w.app}`, `${prefix}canonical_revision=${w.version}`,
		`${prefix}cluster=${CLUSTER}`, `${prefix}principal=${spiffe(w.namespace, w.app)}`].join(',');
}

function service(w) {
	return `service=${w.app}.${w.namespace}.svc.cluster.local,service_name=${w.app},` +
		`service_namespace=${w.namespace}`;
}

/* The edges: [from, to, ok requests, 404s] */
const EDGES = [
	['ingress', 'alice', 100, 0],
	['alice', 'bobV1', 60, 20],
	['alice', 'bobV2', 15, 5],
];

/* One script per (workload, role): the series it reports (mixd-report
 * wants every series defined before the first record), then the records. */
function scripts() {
	const out = new Map();
	const get = (name, role) => {
		const key = `${name}/${role}`;
		if (!out.has(key))
			out.set(key, { name, role, script: new Script() });
		return out.get(key).script;
	};
	for (const pass of ['define', 'record']) {
		for (const [from, to, ok, nf] of EDGES) {
			for (const role of ['source', 'destination']) {
				const s = get(role === 'source' ? from : to, role);
				const id = role === 'source' ? peer('dest_', W[to]) : peer('src_', W[from]);
				const sec = role === 'source' ? 'security=unknown' : 'security=mutual_tls';
				const base = `${id},${service(W[to])},${sec}`;
				if (pass === 'define') {
					s.define(`${to}-ok-${from}`, `${base},code=200`);
					if (nf)
						s.define(`${to}-nf-${from}`, `${base},code=404`);
				} else {
					s.record(`${to}-ok-${from}`, ok, 30, 400, 2000);
					if (nf)
						s.record(`${to}-nf-${from}`, nf, 3, 400, 100);
				}
			}
		}
	}
	return [...out.values()];
}

const vapp = (w) => sha(`vapp_${CLUSTER}_${w.namespace}_${w.workload}`);

describe('graph API (Kiali)', () => {
	it('shows the article scenario as Kiali would', async (t) => {
		const mixd = await startMixd();
		const reporters = [];
		t.after(async () => {
			for (const r of reporters)
				await r.stop();
			await mixd.stop();
		});

		for (const { name, role, script } of scripts()) {
			const w = W[name];
			const rep = startReporter({
				url: reportUrl(mixd), role, workload: w.workload, app: w.app,
				version: w.version, namespace: w.namespace, script: true,
				args: ['--cluster', CLUSTER, '--canonical-service', w.app,
					'--canonical-revision', w.version,
					'--principal', spiffe(w.namespace, w.app)],
			});
			reporters.push(rep);
			rep.write(script.take());
			rep.end();
		}
		for (const rep of reporters)
			checkExit(rep, await rep.done(20000));

		const base = `${mixd.url('query')}/api/namespaces/graph`;
		const url = `${base}?namespaces=default&graphType=versionedApp&duration=60s`;
		const isComplete = (g) => {
			const e = g.elements.edges.find((x) => x.data.source === vapp(W.ingress));
			return e && e.data.traffic.rates && e.data.traffic.rates.http === '1.67' &&
				g.elements.edges.length === 3 && g;
		};
		const graph = await waitFor(async () => isComplete((await getJson(url)).json),
			{ timeoutMs: 25000, intervalMs: 250, what: 'the whole scenario in the graph' });

		assert.equal(graph.graphType, 'versionedApp');
		assert.equal(graph.duration, 60);
		const nodes = graph.elements.nodes.map((n) => n.data);
		const apps = nodes.filter((n) => n.nodeType !== 'box');
		const want = ['ingress', 'alice', 'bobV1', 'bobV2'];
		assert.deepEqual(apps.map((n) => n.id).sort(), want.map((k) => vapp(W[k])).sort());
		for (const k of want) {
			const n = apps.find((x) => x.id === vapp(W[k]));
			assert.equal(n.nodeType, 'app');
			assert.equal(n.workload, W[k].workload);
			assert.equal(n.app, W[k].app);
			assert.equal(n.version, W[k].version);
			assert.equal(n.cluster, CLUSTER);
			assert.equal(n.healthData, null);
		}
		const ingress = apps.find((x) => x.id === vapp(W.ingress));
		assert.equal(ingress.isRoot, true);
		assert.equal(ingress.isOutside, true);
		/* bob's two versions share an app box */
		const boxes = nodes.filter((n) => n.nodeType === 'box');
		assert.equal(boxes.length, 1);
		assert.equal(boxes[0].id, sha(`box_${CLUSTER}_default_bob`));
		for (const k of ['bobV1', 'bobV2'])
			assert.equal(apps.find((x) => x.id === vapp(W[k])).parent, boxes[0].id);

		const edges = graph.elements.edges.map((e) => e.data);
		const edge = (from, to) => {
			const e = edges.find((x) => x.source === vapp(W[from]) && x.target === vapp(W[to]));
			assert.ok(e, `edge ${from} -> ${to}`);
			assert.equal(e.id, sha(`${vapp(W[from])}.${vapp(W[to])}.http`));
			assert.equal(e.traffic.protocol, 'http');
			return e;
		};
		const near = (v, want, what) =>
			assert.ok(Math.abs(Number(v) - want) <= 2, `${what}: ${v}, want ${want} +- 2`);
		/* rates counted once although both proxies reported each edge */
		assert.equal(edge('ingress', 'alice').traffic.rates.http, '1.67');
		assert.equal(edge('alice', 'bobV1').traffic.rates.http, '1.33');
		assert.equal(edge('alice', 'bobV2').traffic.rates.http, '0.33');
		near(edge('alice', 'bobV1').traffic.rates.httpPercentReq, 80, 'bob v1 share');
		near(edge('alice', 'bobV2').traffic.rates.httpPercentReq, 20, 'bob v2 share');
		near(edge('alice', 'bobV1').traffic.rates.httpPercentErr, 25, 'bob v1 errors');
		near(edge('alice', 'bobV2').traffic.rates.httpPercentErr, 25, 'bob v2 errors');
		assert.equal(edge('ingress', 'alice').traffic.rates.httpPercentErr, undefined);
		for (const to of ['bobV1', 'bobV2']) {
			const e = edge('alice', to);
			/* p95 of 75 % at 30 ms and 25 % at 3 ms: Envoy's (25, 50] bucket */
			const rt = Number(e.responseTime);
			assert.ok(rt >= 25 && rt <= 50, `responseTime ${e.responseTime}`);
			assert.equal(e.isMTLS, '100');
			assert.equal(e.sourcePrincipal, spiffe('default', 'alice'));
			assert.equal(e.destPrincipal, spiffe('default', 'bob'));
			assert.deepEqual(Object.keys(e.traffic.responses).sort(), ['200', '404']);
		}

		/* Kiali's error JSON for a bad parameter */
		const bad = await request(`${base}?namespaces=default&graphType=pods`);
		assert.equal(bad.status, 400);
		assert.deepEqual(JSON.parse(bad.body.toString()), { error: 'Invalid graphType [pods]' });
		/* a node-detail graph: bob v1's incoming traffic */
		const node = (await getJson(`${mixd.url('query')}/api/namespaces/default/workloads/` +
			'bob-v1/graph?duration=60s')).json;
		assert.deepEqual(node.elements.nodes.map((n) => n.data.workload).sort(),
			['alice-v1', 'bob-v1']);
	});
});
