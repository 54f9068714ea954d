/*
 * graph_panel.js - the topology view's side panel and edge table: what a
 * selected node or edge carries (identity, request rates, response codes,
 * latency percentiles, mTLS, throughput) and links to matching traces.
 * Everything is inserted as text (dom.js).
 */
import { h, kvTable } from './dom.js';
import { fmtBytesRate, fmtMs, makeHash } from './format.js';
import { edgeHealth, edgeTraffic, nodeName, okVersion } from './graph_model.js';

const PCTS = ['50', '95', '99'];

function title(d) {
	const v = d.nodeType !== 'box' && d.nodeType !== 'service' && okVersion(d.version) ? ` ${d.version}` : '';
	return `${nodeName(d)}${v}`;
}

export function nodeTitle(d) {
	return d ? title(d) : '?';
}

/* The service name traces of a node are searched by: the first of its
 * app, app.namespace, service, workload that the trace store knows, else
 * its app or service. */
export function traceServiceOf(d, known) {
	const cands = [d.app, d.app && `${d.app}.${d.namespace}`, d.service, d.workload,
		d.destServices && d.destServices[0] && d.destServices[0].name]
		.filter((x) => x && x !== 'unknown');
	if (known)
		for (const c of cands)
			if (known.includes(c))
				return c;
	return cands[0] || '';
}

function tracesLink(label, d, state, known, id) {
	const service = traceServiceOf(d, known);
	if (!service)
		return null;
	return h('a', {
		class: 'button', id,
		href: makeHash('search', '', { service, lookback: state.durationS, limit: 20 }),
	}, label, ' ', h('span', { class: 'mono' }, service));
}

/* Request rates of a node's traffic (Kiali's node `traffic` array). */
function nodeRates(d) {
	const rows = [];
	const names = {
		httpIn: 'HTTP in', httpIn3xx: 'HTTP in 3xx', httpIn4xx: 'HTTP in 4xx',
		httpIn5xx: 'HTTP in 5xx', httpInNoResponse: 'HTTP in, no response', httpOut: 'HTTP out',
		grpcIn: 'gRPC in', grpcInErr: 'gRPC in errors', grpcInNoResponse: 'gRPC in, no response',
		grpcOut: 'gRPC out', tcpIn: 'TCP in', tcpOut: 'TCP out',
	};
	for (const t of d.traffic || [])
		for (const [k, v] of Object.entries(t.rates || {}))
			rows.push([names[k] || k, k.startsWith('tcp') ? fmtBytesRate(v) : `${v} rps`]);
	return rows;
}

/* Response codes of edges, summed by rate: [[code, rps, percent]]. */
function codesOf(edges) {
	const byCode = new Map();
	let total = 0;
	for (const e of edges) {
		const t = edgeTraffic(e.traffic);
		const rate = Number(t.rate) || 0;
		if (t.protocol === 'tcp')
			continue;
		total += rate;
		for (const [code, r] of Object.entries((e.traffic && e.traffic.responses) || {})) {
			const share = Object.values(r.flags || {}).reduce((a, b) => a + (Number(b) || 0), 0);
			byCode.set(code, (byCode.get(code) || 0) + (rate * share) / 100);
		}
	}
	return [...byCode.entries()].sort((a, b) => a[0].localeCompare(b[0]))
		.map(([code, rps]) => [code, rps, total > 0 ? (100 * rps) / total : 0]);
}

function codesTable(edges, id) {
	const rows = codesOf(edges);
	if (!rows.length)
		return h('p', { class: 'hint' }, 'No HTTP or gRPC responses.');
	return h('table', { class: 'grid codes', id },
		h('thead', null, h('tr', null, h('th', null, 'Code'), h('th', null, 'Rate'), h('th', null, 'Share'))),
		h('tbody', null, rows.map(([code, rps, pct]) => h('tr', { dataset: { code } },
			h('td', { class: 'mono' }, code), h('td', null, `${rps.toFixed(2)} rps`),
			h('td', null, `${pct.toFixed(1)}%`)))));
}

function pctCells(pcts, edgeId) {
	return PCTS.map((q) => {
		if (!pcts)
			return h('td', { class: 'hint' }, '…');
		const m = pcts[q];
		const v = m && m.get(edgeId);
		return h('td', { dataset: { q } }, v === undefined ? '-' : fmtMs(v));
	});
}

function latencyTable(edges, nodesById, pcts, id, sideOf) {
	const withRt = edges.filter((e) => edgeTraffic(e.traffic).protocol !== 'tcp');
	if (!withRt.length)
		return h('p', { class: 'hint' }, 'No request latencies (TCP only).');
	return h('table', { class: 'grid latency', id },
		h('thead', null, h('tr', null, h('th', null, sideOf ? 'Edge' : ''),
			PCTS.map((q) => h('th', null, `p${q}`)))),
		h('tbody', null, withRt.map((e) => h('tr', { dataset: { edge: e.id } },
			h('td', null, sideOf ? sideOf(e) : 'latency'),
			pctCells(pcts, e.id)))));
}

/*
 * Renders the panel for a selection. sel: {kind: 'node'|'edge', id}; g:
 * {nodesById: Map, edges: [edge data]}; pcts: {'50': Map, ...} or null
 * while loading; known: trace service names or null; state: the view's.
 */
export function panelContent(sel, g, pcts, known, state, onClose) {
	const close = h('button', { type: 'button', class: 'close', title: 'Close', id: 'panel-close',
		on: { click: onClose } }, '×');
	if (sel.kind === 'node') {
		const d = g.nodesById.get(sel.id);
		if (!d)
			return [close, h('p', { class: 'hint' }, 'This node is no longer in the graph.')];
		const incoming = g.edges.filter((e) => e.target === d.id);
		const outgoing = g.edges.filter((e) => e.source === d.id);
		const flags = ['isRoot', 'isOutside', 'isDead', 'isIdle', 'isInaccessible']
			.filter((f) => d[f]).map((f) => f.slice(2).toLowerCase());
		const rates = nodeRates(d);
		return [
			close,
			h('h2', { id: 'panel-title' }, title(d)),
			kvTable([['Type', d.nodeType], ['Namespace', d.namespace], ['Cluster', d.cluster],
				['Workload', d.workload || '-'], ['App', d.app || '-'], ['Version', d.version || '-'],
				['Service', d.service || '-'], ['Flags', flags.join(', ') || '-'],
				['Edges', `${incoming.length} in, ${outgoing.length} out`]]),
			h('h3', null, 'Request rates'),
			rates.length ? kvTable(rates, 'kv rates') : h('p', { class: 'hint' }, 'No traffic.'),
			h('h3', null, 'Inbound response codes'),
			codesTable(incoming, 'panel-codes'),
			h('h3', null, 'Inbound latency'),
			incoming.length
				? latencyTable(incoming, g.nodesById, pcts, 'panel-latency',
					(e) => `from ${nodeTitle(g.nodesById.get(e.source))}`)
				: h('p', { class: 'hint' }, 'No inbound traffic.'),
			d.nodeType !== 'box' ? h('p', { class: 'actions' },
				tracesLink('Traces of', d, state, known, 'panel-traces')) : null,
		];
	}
	const e = g.edges.find((x) => x.id === sel.id);
	if (!e)
		return [close, h('p', { class: 'hint' }, 'This edge is no longer in the graph.')];
	const src = g.nodesById.get(e.source);
	const dst = g.nodesById.get(e.target);
	const t = edgeTraffic(e.traffic);
	const r = t.rates;
	const rows = [['Protocol', t.protocol || '-'], ['Health', edgeHealth(e)]];
	if (t.protocol === 'tcp') {
		rows.push(['Rate', fmtBytesRate(t.rate)]);
	} else {
		rows.push(['Rate', `${t.rate || 0} rps`]);
		const p = t.protocol;
		rows.push(['Share of source', `${r[`${p}PercentReq`] || '0'}%`]);
		rows.push(['Errors', `${t.err || '0'}%`]);
		for (const k of p === 'http' ? ['http3xx', 'http4xx', 'http5xx', 'httpNoResponse']
			: ['grpcErr', 'grpcNoResponse'])
			if (r[k])
				rows.push([k.replace(/^(http|grpc)/, '').replace('NoResponse', 'no response'), `${r[k]} rps`]);
	}
	if (e.responseTime)
		rows.push([`Response time (p95)`, fmtMs(e.responseTime)]);
	if (e.throughput)
		rows.push(['Throughput', fmtBytesRate(e.throughput)]);
	if (e.isMTLS !== undefined)
		rows.push(['mTLS', `${e.isMTLS}%`]);
	if (e.sourcePrincipal)
		rows.push(['Source principal', e.sourcePrincipal]);
	if (e.destPrincipal)
		rows.push(['Destination principal', e.destPrincipal]);
	return [
		close,
		h('h2', { id: 'panel-title' }, `${nodeTitle(src)} → ${nodeTitle(dst)}`),
		kvTable(rows),
		h('h3', null, 'Response codes'),
		codesTable([e], 'panel-codes'),
		h('h3', null, 'Latency'),
		latencyTable([e], g.nodesById, pcts, 'panel-latency', null),
		dst ? h('p', { class: 'actions' }, tracesLink('Traces to', dst, state, known, 'panel-traces')) : null,
	];
}

/* The table of every edge under the graph (also what the tests read). */
export function edgeTable(g, onPick) {
	const rows = g.edges.map((e) => {
		const t = edgeTraffic(e.traffic);
		const p = t.protocol;
		return h('tr', { dataset: { edge: e.id, health: edgeHealth(e) },
			on: { click: () => onPick({ kind: 'edge', id: e.id }) } },
		h('td', { class: 'src' }, nodeTitle(g.nodesById.get(e.source))),
		h('td', { class: 'dst' }, nodeTitle(g.nodesById.get(e.target))),
		h('td', null, p || '-'),
		h('td', { class: 'rate' }, t.rate === undefined ? '-' : p === 'tcp' ? fmtBytesRate(t.rate) : `${t.rate} rps`),
		h('td', { class: 'req' }, p === 'tcp' ? '-' : `${(t.rates[`${p}PercentReq`]) || '0'}%`),
		h('td', { class: 'err' }, p === 'tcp' ? '-' : `${t.err || '0'}%`),
		h('td', { class: 'rt' }, e.responseTime ? fmtMs(e.responseTime) : '-'));
	});
	return h('table', { class: 'grid edges', id: 'edge-table' },
		h('thead', null, h('tr', null, ['Source', 'Destination', 'Protocol', 'Rate', '% of source',
			'% errors', 'p95'].map((x) => h('th', null, x)))),
		h('tbody', null, rows));
}
