/*
 * graph_model.js - Kiali graph JSON to what the topology view draws: node
 * and edge labels, edge health (Kiali's default tolerances), cytoscape
 * elements and the cytoscape style. Labels are drawn on the canvas by
 * cytoscape, never parsed as HTML.
 *
 * Labels (what the browser tests read):
 *   node: its name (app, workload or service by node type; a box: its app,
 *         namespace or cluster), then the version on a second line when it
 *         has one ("bob\nv1"), then "(namespace)" for a node outside the
 *         selected namespaces;
 *   edge: HTTP "<http> rps", gRPC "<grpc> rps", TCP "<bytes>/s", with
 *         "\n<percent>% err" when some requests failed; the numbers are
 *         the API's strings as they come.
 */
import { colorIndex, fmtBytesRate, PALETTE } from './format.js';

export const HEALTH_COLOR = {
	healthy: '#3f9c35',
	degraded: '#ec7a08',
	failure: '#cc0000',
	idle: '#8a8d90',
};

/* Kiali's "OK" label value: set and not "unknown" (a version not "latest") */
function ok(v) {
	return Boolean(v) && v !== 'unknown';
}

export function okVersion(v) {
	return ok(v) && v !== 'latest';
}

/* The name of a node, without version. */
export function nodeName(d) {
	switch (d.nodeType) {
	case 'app':
		return ok(d.app) ? d.app : d.workload || 'unknown';
	case 'workload':
		return ok(d.workload) ? d.workload : 'unknown';
	case 'service':
		return ok(d.service) ? d.service : 'unknown';
	case 'box':
		return d.isBox === 'app' ? d.app : d.isBox === 'namespace' ? d.namespace : d.cluster;
	case 'aggregate':
		return d.aggregate || 'aggregate';
	default:
		return d.nodeType === 'unknown' ? 'unknown' : (d.workload || d.app || d.service || d.id);
	}
}

/* The label a node is drawn with (see the file comment). */
export function nodeLabel(d, selectedNamespaces) {
	const lines = [nodeName(d)];
	if (d.nodeType !== 'box' && d.nodeType !== 'service' && okVersion(d.version))
		lines.push(d.version);
	if (d.nodeType !== 'box' && ok(d.namespace) && selectedNamespaces &&
	    !selectedNamespaces.includes(d.namespace))
		lines.push(`(${d.namespace})`);
	return lines.join('\n');
}

/* Per-protocol rate, error percent and a unit of an edge's traffic. */
export function edgeTraffic(t) {
	const rates = (t && t.rates) || {};
	const protocol = (t && t.protocol) || '';
	if (protocol === 'http')
		return { protocol, rate: rates.http, err: rates.httpPercentErr, unit: 'rps', rates };
	if (protocol === 'grpc')
		return { protocol, rate: rates.grpc, err: rates.grpcPercentErr, unit: 'rps', rates };
	if (protocol === 'tcp')
		return { protocol, rate: rates.tcp, err: undefined, unit: 'B/s', rates };
	return { protocol, rate: undefined, err: undefined, unit: '', rates };
}

export function edgeLabel(d) {
	const t = edgeTraffic(d.traffic);
	if (t.rate === undefined)
		return '';
	const main = t.protocol === 'tcp' ? fmtBytesRate(t.rate) : `${t.rate} rps`;
	return t.err !== undefined && Number(t.err) > 0 ? `${main}\n${t.err}% err` : main;
}

/* Shares (percent) of an edge's responses by class, from its `responses`
 * (exact to 0.1 %, unlike small rates rounded to 0.01 rps): 5xx, 4xx and
 * no response ("-"); null when the edge has none. */
function responseShares(t) {
	const resp = t && t.responses;
	if (!resp || !Object.keys(resp).length)
		return null;
	const out = { s5xx: 0, s4xx: 0, none: 0 };
	for (const [code, r] of Object.entries(resp)) {
		const pct = Object.values((r && r.flags) || {}).reduce((a, b) => a + (Number(b) || 0), 0);
		if (code === '-')
			out.none += pct;
		else if (/^5\d\d$/.test(code))
			out.s5xx += pct;
		else if (/^4\d\d$/.test(code))
			out.s4xx += pct;
	}
	return out;
}

/*
 * The health of an edge: the API's healthStatus when it sends one, else
 * Kiali's default tolerances: no response or 5xx (gRPC errors) above 0 %
 * is degraded, from 10 % a failure; 4xx from 10 % degraded, from 20 % a
 * failure. An edge without rate is idle.
 */
export function edgeHealth(d) {
	if (d.healthStatus)
		return { Healthy: 'healthy', Degraded: 'degraded', Failure: 'failure' }[d.healthStatus] || 'healthy';
	const t = edgeTraffic(d.traffic);
	const total = Number(t.rate) || 0;
	if (total <= 0)
		return 'idle';
	const r = t.rates;
	let server = 0;
	let client = 0;
	if (t.protocol === 'http') {
		const sh = responseShares(d.traffic);
		if (sh) {
			server = sh.s5xx + sh.none;
			client = sh.s4xx;
		} else {
			server = (100 * ((Number(r.http5xx) || 0) + (Number(r.httpNoResponse) || 0))) / total;
			client = (100 * (Number(r.http4xx) || 0)) / total;
		}
	} else if (t.protocol === 'grpc') {
		server = Number(r.grpcPercentErr) || 0;
	}
	if (server >= 10 || client >= 20)
		return 'failure';
	if (server > 0 || client >= 10)
		return 'degraded';
	return 'healthy';
}

const RANK = { idle: 0, healthy: 1, degraded: 2, failure: 3 };

export function worse(a, b) {
	return RANK[a] >= RANK[b] ? a : b;
}

/* Cytoscape elements of a Kiali graph answer. */
export function toElements(g, selectedNamespaces, edgeLabels = true) {
	const nodes = ((g.elements && g.elements.nodes) || []).map((n) => n.data);
	const edges = ((g.elements && g.elements.edges) || []).map((e) => e.data);
	const inHealth = new Map();
	for (const e of edges)
		inHealth.set(e.target, worse(inHealth.get(e.target) || 'idle', edgeHealth(e)));
	const out = [];
	for (const d of nodes) {
		const health = inHealth.get(d.id) || 'idle';
		const classes = d.nodeType === 'box' ? ['box'] : [d.nodeType, `h-${health}`];
		if (okVersion(d.version) && d.nodeType !== 'box')
			classes.push(`v${colorIndex(d.version)}`);
		if (d.isRoot)
			classes.push('root');
		if (d.isOutside)
			classes.push('outside');
		if (d.isDead || d.isIdle)
			classes.push('idle');
		out.push({
			group: 'nodes',
			data: {
				id: d.id,
				parent: d.parent || undefined,
				label: nodeLabel(d, selectedNamespaces),
				health,
				kiali: d,
			},
			classes: classes.join(' '),
		});
	}
	for (const d of edges) {
		const health = edgeHealth(d);
		out.push({
			group: 'edges',
			data: {
				id: d.id,
				source: d.source,
				target: d.target,
				label: edgeLabel(d),
				health,
				kiali: d,
			},
			classes: `${(d.traffic && d.traffic.protocol) || ''} ${health}${edgeLabels ? ' lbl' : ''}`,
		});
	}
	return out;
}

/* The cytoscape style: shape by node type (app: round rectangle,
 * workload: ellipse, service: triangle, unknown: diamond), fill by
 * version, border by the health of its incoming traffic; edges coloured
 * by health, labelled when they have class `lbl` (or are selected). A big
 * graph draws its edges as plain lines without arrowheads (haystack, the
 * cheapest) until zoomed in enough to see arrows (class `arw`, or `lbl`, or
 * selected: straight, with arrowheads; no bundling of parallel ones), and
 * its small labels only from a zoom where they can be read: measuring 1000
 * labels and curves costs more than the whole rest of a page load. */
export function graphStyle(big) {
	const font = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
	return [
		{ selector: 'node', style: {
			'label': 'data(label)', 'text-wrap': 'wrap', 'text-valign': 'bottom',
			'text-margin-y': 4, 'font-family': font, 'font-size': 11, 'color': '#1a202c',
			'text-background-color': '#ffffff', 'text-background-opacity': 0.8,
			'text-background-padding': 1,
			'width': 28, 'height': 28, 'background-color': '#ffffff',
			'border-width': 2.5, 'border-color': HEALTH_COLOR.idle,
			'min-zoomed-font-size': big ? 9 : 0,
		} },
		{ selector: 'node.app', style: { 'shape': 'round-rectangle' } },
		{ selector: 'node.workload', style: { 'shape': 'ellipse' } },
		{ selector: 'node.service', style: { 'shape': 'round-triangle', 'width': 30 } },
		{ selector: 'node.unknown', style: { 'shape': 'diamond' } },
		{ selector: 'node.aggregate', style: { 'shape': 'round-pentagon' } },
		{ selector: 'node.outside', style: { 'border-style': 'dashed' } },
		{ selector: 'node.idle', style: { 'opacity': 0.6 } },
		{ selector: ':parent', style: {
			'shape': 'round-rectangle', 'background-color': '#f7fafc', 'background-opacity': 0.6,
			'border-width': 1, 'border-style': 'dashed', 'border-color': '#a0aec0',
			'text-valign': 'top', 'text-halign': 'center', 'text-margin-y': -2, 'padding': 12,
		} },
		{ selector: 'edge', style: {
			'curve-style': big ? 'haystack' : 'bezier', 'target-arrow-shape': 'triangle',
			'arrow-scale': 0.9, 'width': 1.8, 'line-color': HEALTH_COLOR.idle,
			'target-arrow-color': HEALTH_COLOR.idle,
			'text-wrap': 'wrap', 'font-family': font, 'font-size': 9,
			'color': '#2d3748', 'text-background-color': '#ffffff',
			'text-background-opacity': 0.85, 'text-background-padding': 1,
			'text-rotation': 'none', 'min-zoomed-font-size': big ? 7 : 0,
		} },
		{ selector: 'edge.lbl, edge:selected', style: { 'label': 'data(label)' } },
		...(big ? [{ selector: 'edge.arw, edge.lbl, edge:selected', style: { 'curve-style': 'straight' } }] : []),
		{ selector: 'edge.tcp', style: { 'line-style': 'dashed' } },
		/* colours by class, not data mappers: elements with the same
		 * classes share one computed style */
		...Object.entries(HEALTH_COLOR).flatMap(([k, c]) => [
			{ selector: `node.h-${k}`, style: { 'border-color': c } },
			{ selector: `edge.${k}`, style: { 'line-color': c, 'target-arrow-color': c } },
		]),
		...PALETTE.map((c, i) => ({ selector: `node.v${i}`, style: { 'background-color': c } })),
		{ selector: ':selected', style: { 'overlay-color': '#3182ce', 'overlay-opacity': 0.25,
			'overlay-padding': 4 } },
	];
}
