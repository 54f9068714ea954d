/*
 * ui_load.js - the web UI's page load with a large graph: fills a mixd with
 * the traffic of `sources` + `dests` workloads and sources x perSource
 * edges (default 10 + 190 = 200 nodes, 1000 edges, one namespace), then
 * measures in the browser how long the topology page takes from
 * navigation start until the graph is laid out and drawn
 * (window.mixdTiming.graphReady), with the graph API's share.
 *
 * fillLoadGraph() drives one mixd-report process per source workload
 * (reporter="source", one series per destination, every tenth edge also
 * with 503s), waits for every report to be acknowledged, then polls the
 * graph API (bounded) until it shows every edge. measureLoad() loads the
 * page in a given playwright page and returns the timings.
 *
 * Also a command for the benchmarks (prints `result name=ui_graph_load
 * ...` lines; MIXD_BIN and MIXD_REPORT_BIN as for the tests):
 *   node tests/integration/lib/ui_load.js [--runs N] [--browsers B] [--marks]
 * (--browsers: B fresh browsers in turn, each with N loads, the first cold,
 * and the medians; --marks: the UI's performance marks per load).
 */
'use strict';

const { startReporter, checkExit, reportUrl } = require('./report');
const { getJson, waitFor } = require('./util');

const CLUSTER = 'Kubernetes';

function peerSpec(prefix, name, namespace) {
	return [`${prefix}workload=${name}`, `${prefix}namespace=${namespace}`, `${prefix}app=${name}`,
		`${prefix}version=v1`, `${prefix}canonical_service=${name}`, `${prefix}canonical_revision=v1`,
		`${prefix}cluster=${CLUSTER}`].join(',');
}

/* The graph URL of the load namespace (workload graph). */
function loadGraphPath(namespace = 'load', durationS = 600) {
	return `/api/namespaces/graph?namespaces=${namespace}&graphType=workload&duration=${durationS}s`;
}

async function fillLoadGraph(mixd, { sources = 10, dests = 190, perSource = 100, namespace = 'load' } = {}) {
	if (perSource > dests)
		throw new Error('perSource must not exceed dests');
	const step = Math.ceil(dests / sources);
	const reporters = [];
	try {
		for (let i = 0; i < sources; i++) {
			const name = `src-${i}`;
			const rep = startReporter({
				url: reportUrl(mixd), role: 'source', workload: name, app: name, version: 'v1',
				namespace, script: true,
				args: ['--cluster', CLUSTER, '--canonical-service', name, '--canonical-revision', 'v1'],
			});
			reporters.push(rep);
			const lines = [];
			const records = [];
			for (let k = 0; k < perSource; k++) {
				const d = `dst-${(i * step + k) % dests}`;
				const base = `${peerSpec('dest_', d, namespace)},service=${d}.${namespace}.svc.cluster.local,` +
					`service_name=${d},service_namespace=${namespace}`;
				lines.push(`series e${k} ${base},code=200`);
				records.push(`record e${k} ${10 + (k % 7)} ${5 + (k % 40)} 300 1200`);
				if (k % 10 === 0) {
					lines.push(`series x${k} ${base},code=503`);
					records.push(`record x${k} 1 2 300 80`);
				}
			}
			rep.write(lines.concat(records));
			rep.end();
		}
		for (const rep of reporters)
			checkExit(rep, await rep.done(30000));
	} finally {
		for (const rep of reporters)
			await rep.stop();
	}
	const want = sources * perSource;
	const url = mixd.url('query') + loadGraphPath(namespace);
	await waitFor(async () => {
		const g = (await getJson(url)).json;
		return g.elements && g.elements.edges.length === want && g;
	}, { timeoutMs: 30000, intervalMs: 250, what: `${want} edges in the load graph` });
	return { nodes: sources + dests, edges: want, namespace };
}

/* Loads the topology page of the load namespace in `page` and returns
 * {readyMs, graphApiMs, layoutMs, domContentLoadedMs, nodes, edges}. */
async function measureLoad(page, baseUrl, { namespace = 'load', timeoutMs = 30000 } = {}) {
	const url = `${baseUrl}/#/graph?namespaces=${namespace}&graphType=workload&duration=600&refresh=0`;
	await page.goto(url, { waitUntil: 'load', timeout: timeoutMs });
	await page.waitForSelector('body[data-graph-ready]', { timeout: timeoutMs });
	return page.evaluate(() => {
		const nav = performance.getEntriesByType('navigation')[0];
		const res = performance.getEntriesByType('resource')
			.filter((r) => r.name.includes('/api/namespaces/graph'))[0];
		const cy = window.mixdGraph;
		return {
			readyMs: Math.round(window.mixdTiming.graphReady),
			graphApiMs: res ? Math.round(res.responseEnd - res.startTime) : null,
			layoutMs: res ? Math.round(window.mixdTiming.graphReady - res.responseEnd) : null,
			domContentLoadedMs: Math.round(nav.domContentLoadedEventEnd),
			nodes: cy ? cy.nodes().length : 0,
			edges: cy ? cy.edges().length : 0,
			/* the UI's performance marks (ms since navigation start) and
			 * when the app script was fetched, for a breakdown */
			marks: Object.fromEntries(performance.getEntriesByType('mark')
				.map((m) => [m.name.replace(/^mixd-/, ''), Math.round(m.startTime)])),
			scriptEnd: Math.round(Math.max(0, ...performance.getEntriesByType('resource')
				.filter((r) => /\/assets\/.*\.js$/.test(r.name)).map((r) => r.responseEnd))),
		};
	});
}

async function main() {
	const { startMixd } = require('./mixd');
	const { launchBrowser } = require('./browser');
	const arg = (name, d) => {
		const i = process.argv.indexOf(name);
		return i > 0 ? Number(process.argv[i + 1]) : d;
	};
	const runs = arg('--runs', 3);
	/* --browsers B: B fresh browsers one after the other, each with
	 * `runs` loads (the first cold), then the median per kind */
	const browsers = arg('--browsers', 1);
	const mixd = await startMixd({ args: ['--storage.sync=none'] });
	let browser = null;
	const all = { cold: [], warm: [] };
	try {
		const g = await fillLoadGraph(mixd);
		for (let b = 0; b < browsers; b++) {
			browser = await launchBrowser();
			for (let i = 0; i < runs; i++) {
				const { page } = await browser.newPage();
				const t = await measureLoad(page, mixd.url('query'));
				await page.close();
				const kind = i === 0 ? 'cold' : 'warm';
				all[kind].push(t.readyMs);
				console.log(`ui page load, ${g.nodes} nodes / ${g.edges} edges, ${kind} cache: ` +
					`${t.readyMs} ms to the drawn graph (graph API ${t.graphApiMs} ms, layout and drawing ` +
					`${t.layoutMs} ms, DOMContentLoaded ${t.domContentLoadedMs} ms; goal < 1000 ms)`);
				console.log(`result name=ui_graph_load run=${i} cache=${kind} ` +
					`ready_ms=${t.readyMs} api_ms=${t.graphApiMs} layout_ms=${t.layoutMs} nodes=${t.nodes} edges=${t.edges}`);
				if (process.argv.includes('--marks'))
					console.log(`  marks: script_fetched=${t.scriptEnd} dcl=${t.domContentLoadedMs} ` +
						Object.entries(t.marks).map(([k, v]) => `${k}=${v}`).join(' '));
			}
			await browser.close();
			browser = null;
		}
		if (browsers > 1) {
			const med = (a) => { const s = a.slice().sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
			for (const kind of ['cold', 'warm'])
				if (all[kind].length)
					console.log(`result name=ui_graph_load_median cache=${kind} n=${all[kind].length} ` +
						`median_ms=${med(all[kind])} min_ms=${Math.min(...all[kind])} max_ms=${Math.max(...all[kind])}`);
		}
	} finally {
		if (browser)
			await browser.close();
		await mixd.stop();
	}
}

if (require.main === module)
	main().catch((e) => { console.error(e); process.exit(1); });

module.exports = { fillLoadGraph, measureLoad, loadGraphPath };
