/*
 * graph.js - the topology view: the Kiali graph of the selected namespaces
 * drawn with cytoscape and laid out left to right (dagre; a big graph
 * without boxes: graph_layout.js's layered layout, which takes a few ms
 * where dagre takes half a second), with namespace,
 * graph type, time window and auto-refresh controls kept in the URL
 * (#/graph?namespaces=a,b&graphType=..&duration=<s>&refresh=<ms, 0 or
 * from 1000>&svc=1; no namespaces: all that had traffic in the last hour),
 * a side panel for the selected node or edge, and a table of every edge.
 *
 * A refresh that brings the same nodes and edges only updates their data
 * (labels, colours) and keeps the layout; new or gone elements lay the
 * graph out again. When the first layout is done, document.body gets
 * data-graph-ready="<elements>" and window.mixdTiming.graphReady (ms since
 * navigation start), which the browser tests and the bench read.
 *
 * Page-load work kept small for big graphs (the goal: 200 nodes and 1000
 * edges drawn within 1 s of navigation, cold cache): boot.js has already
 * asked for the first graph; the layout is computed before cytoscape is
 * made, which gets the positions (preset); edges are drawn without arrows
 * or labels until zoomed in (graphStyle); the edge table is built when
 * opened.
 */
import cytoscape from 'cytoscape';
import dagre from 'cytoscape-dagre';

import * as api from './api.js';
import { clear, h, replace, select } from './dom.js';
import { makeHash } from './format.js';
import { layeredLayout } from './graph_layout.js';
import { DURATIONS, GRAPH_TYPES, namespaceWindowS, REFRESH, stateFrom } from './graph_state.js';
import { graphStyle, HEALTH_COLOR, toElements } from './graph_model.js';
import { edgeTable, panelContent } from './graph_panel.js';

cytoscape.use(dagre);

/* cytoscape adds a <style> element for its container's `position:
 * relative` unless an element with this id exists; the page's CSP refuses
 * inline styles, so the rule is in app.css and this placeholder stands
 * for the element. */
function cytoscapeStylePlaceholder() {
	const id = '__________cytoscape_stylesheet';
	if (!document.getElementById(id))
		document.head.appendChild(h('meta', { id, name: 'cytoscape-style', content: 'in app.css' }));
}

/* past this many elements: labels hidden when zoomed out, edges hidden
 * while panning */
const BIG = 400;
const SIMPLEX_MAX_EDGES = 300;
/* the zooms from which a big graph's edges are labelled, and have arrows */
const LABEL_ZOOM = 0.75;
const ARROW_ZOOM = 0.3;

function hashOf(st) {
	return makeHash('graph', '', {
		namespaces: st.namespaces.join(','), graphType: st.graphType, duration: st.durationS,
		refresh: st.refreshMs, svc: st.injectServiceNodes ? 1 : '',
	});
}

export function graphView(root, params, ctx) {
	const st = stateFrom(params);
	let disposed = false;
	let cy = null;
	let timer = null;
	let inflight = null;
	let known = null;        /* service names of the trace store */
	let allNamespaces = null;
	/* namespaces chosen in the URL or by hand; else all are shown */
	let userPicked = Boolean(params.get('namespaces'));
	let current = { nodesById: new Map(), edges: [], key: '' };
	let selection = null;    /* {kind, id} */
	let pcts = null;         /* {'50': Map, ...} for the current graph */
	let pctsFor = null;
	let firstDone = false;
	let zoomTimer = null;
	let cyBig = false;       /* cy styled for a big graph */

	const nsBox = h('fieldset', { class: 'namespaces', id: 'graph-namespaces' },
		h('legend', null, 'Namespaces'), h('span', { class: 'hint' }, 'loading…'));
	const typeSel = select({ id: 'graph-type', on: { change: () => { st.graphType = typeSel.value; changed(); } } },
		GRAPH_TYPES, st.graphType);
	const durSel = select({ id: 'graph-duration', on: { change: () => { st.durationS = Number(durSel.value); changed(); } } },
		DURATIONS, st.durationS);
	const refSel = select({ id: 'graph-refresh', on: { change: () => { st.refreshMs = Number(refSel.value); changed(); } } },
		REFRESH.some(([v]) => v === st.refreshMs) ? REFRESH
			: REFRESH.concat([[st.refreshMs, `Every ${st.refreshMs / 1000}s`]]), st.refreshMs);
	const svcBox = h('input', { type: 'checkbox', id: 'graph-svc', checked: st.injectServiceNodes,
		on: { change: () => { st.injectServiceNodes = svcBox.checked; changed(); } } });
	const reload = h('button', { type: 'button', id: 'graph-reload', on: { click: () => load() } }, 'Refresh');
	const info = h('span', { class: 'graph-info', id: 'graph-info' });
	const canvas = h('div', { class: 'graph-canvas', id: 'cy', role: 'img', 'aria-label': 'service graph' });
	const empty = h('div', { class: 'graph-empty', id: 'graph-empty', hidden: true });
	const panel = h('aside', { class: 'side-panel', id: 'side-panel', hidden: true });
	/* the edge table (a thousand rows for a big graph) is built when it is
	 * opened: on the summary's click, before the details toggle */
	let tableStale = false;
	const fillTable = () => {
		if (!tableStale)
			return;
		tableStale = false;
		replace(tableBox, tableBox.firstChild, edgeTable(current, pick));
	};
	const tableBox = h('details', { class: 'edge-list', id: 'edge-list',
		on: { toggle: () => { if (tableBox.open) fillTable(); } } },
	h('summary', { on: { click: fillTable } }, 'Edges'), h('div', null));
	const legend = h('span', { class: 'legend' },
		Object.entries(HEALTH_COLOR).map(([k, c]) => h('span', { class: `swatch ${k}`, title: c }, k)));

	replace(root, h('section', { class: 'graph-page' },
		h('form', { class: 'toolbar', on: { submit: (ev) => { ev.preventDefault(); load(); } } },
			nsBox,
			h('label', null, 'Graph ', typeSel),
			h('label', null, 'Window ', durSel),
			h('label', null, 'Refresh ', refSel),
			h('label', { class: 'check' }, svcBox, ' Service nodes'),
			reload, legend),
		info,
		h('div', { class: 'graph-main' }, canvas, empty, panel),
		tableBox));

	function changed() {
		history.replaceState(null, '', hashOf(st));
		load();
	}

	function renderNamespaces() {
		const boxes = allNamespaces.map((ns, i) => {
			const cb = h('input', { type: 'checkbox', id: `ns-${i}`, value: ns,
				checked: st.namespaces.includes(ns), dataset: { ns } });
			cb.addEventListener('change', () => {
				st.namespaces = allNamespaces.filter((_, j) => nsBox.querySelector(`#ns-${j}`).checked);
				userPicked = true;
				changed();
			});
			return h('label', { class: 'check', for: `ns-${i}` }, cb, ` ${ns}`);
		});
		/* a selected namespace without recent traffic stays listed */
		replace(nsBox, h('legend', null, 'Namespaces'),
			boxes.length ? boxes : h('span', { class: 'hint' }, 'none with traffic'));
	}

	function schedule() {
		clearTimeout(timer);
		timer = null;
		if (!disposed && st.refreshMs > 0)
			timer = setTimeout(load, st.refreshMs);
	}

	function showEmpty(msg) {
		empty.hidden = false;
		replace(empty, h('p', null, msg));
		canvas.hidden = true;
	}

	async function load() {
		clearTimeout(timer);
		if (inflight)
			inflight.abort();
		const ctl = new AbortController();
		inflight = ctl;
		ctx.setStatus('Loading graph…');
		try {
			/* with namespaces in the URL, the graph is fetched at once,
			 * beside the namespace list */
			const early = st.namespaces.length ? api.graph(st, ctl.signal) : null;
			if (early)
				early.catch(() => {}); /* awaited below */
			/* the namespace list is read on every load (it is small), so
			 * that new namespaces show up with the auto-refresh */
			const list = await api.namespaces(namespaceWindowS(st), ctl.signal);
			const names = (list || []).map((n) => n.name).filter(Boolean);
			for (const ns of st.namespaces)
				if (!names.includes(ns))
					names.push(ns); /* selected, without recent traffic */
			if (allNamespaces === null || names.join('\n') !== allNamespaces.join('\n')) {
				allNamespaces = names;
				if (!userPicked && !st.namespaces.length && names.length) {
					st.namespaces = names.slice();
					history.replaceState(null, '', hashOf(st));
				}
				renderNamespaces();
			}
			if (!st.namespaces.length) {
				showEmpty(allNamespaces.length ? 'Select a namespace.'
					: 'No namespace has reported traffic in the last hour. Send reports to mixd ' +
					'(POST /v1/report) and they show here.');
				info.textContent = '';
				ctx.setStatus('');
				markReady(0);
				return;
			}
			const g = await (early || api.graph(st, ctl.signal));
			if (ctl.signal.aborted || disposed)
				return;
			performance.mark('mixd-graph-json');
			draw(g);
			ctx.setStatus(`Updated ${new Date().toLocaleTimeString()}`);
		} catch (e) {
			if (ctl.signal.aborted || disposed)
				return;
			ctx.setStatus(`Graph: ${e.message}`, true);
		} finally {
			if (inflight === ctl) {
				inflight = null;
				schedule();
			}
		}
	}

	function markReady(n) {
		if (firstDone)
			return;
		firstDone = true;
		window.mixdTiming = window.mixdTiming || {};
		window.mixdTiming.graphReady = performance.now();
		document.body.dataset.graphReady = String(n);
	}

	function draw(g) {
		const n = ((g.elements && g.elements.nodes) || []).length + ((g.elements && g.elements.edges) || []).length;
		const big = n > BIG;
		/* a big graph's edge labels come with the zoom (zoomed()) */
		const els = toElements(g, st.namespaces, !big || (cy !== null && cy.zoom() >= LABEL_ZOOM));
		const nodes = els.filter((e) => e.group === 'nodes');
		const edges = els.filter((e) => e.group === 'edges');
		/* a big graph without boxes is laid out here, in a few ms, and
		 * handed to cytoscape with its positions (graph_layout.js) */
		const quick = big && !nodes.some((e) => e.data.parent);
		current = {
			nodesById: new Map(nodes.map((n) => [n.data.id, n.data.kiali])),
			edges: edges.map((e) => e.data.kiali),
			key: `${st.graphType}|${st.durationS}|${st.namespaces.join(',')}|${st.injectServiceNodes}`,
		};
		pcts = null;
		pctsFor = null;
		info.textContent = `${nodes.length} nodes, ${edges.length} edges, ` +
			`window ${st.durationS}s, ${st.namespaces.join(', ')}`;
		info.dataset.nodes = String(nodes.length);
		info.dataset.edges = String(edges.length);
		tableBox.firstChild.textContent = `Edges (${edges.length})`;
		tableStale = true;
		if (tableBox.open)
			fillTable();
		else
			replace(tableBox, tableBox.firstChild);
		if (!els.length) {
			showEmpty(`No traffic in ${st.namespaces.join(', ')} in the last ${st.durationS} s.`);
			if (cy)
				cy.elements().remove();
			closePanel();
			markReady(0);
			return;
		}
		empty.hidden = true;
		canvas.hidden = false;
		if (!cy) {
			if (quick)
				placeQuick(nodes, edges);
			performance.mark('mixd-graph-elements');
			cytoscapeStylePlaceholder();
			cyBig = big;
			cy = cytoscape({
				container: canvas,
				elements: els,
				style: graphStyle(big),
				layout: { name: 'preset', fit: false },
				minZoom: 0.05,
				maxZoom: 4,
				wheelSensitivity: 0.3,
				hideEdgesOnViewport: big,
				textureOnViewport: big,
				boxSelectionEnabled: false,
			});
			window.mixdGraph = cy;
			cy.on('tap', 'node, edge', (ev) => pick({ kind: ev.target.isNode() ? 'node' : 'edge', id: ev.target.id() }));
			cy.on('tap', (ev) => { if (ev.target === cy) closePanel(); });
			cy.on('zoom', () => {
				clearTimeout(zoomTimer);
				zoomTimer = setTimeout(zoomed, 120);
			});
			performance.mark('mixd-graph-cy');
			if (quick)
				laidOut(els.length);
			else
				layout(els.length);
		} else {
			const ids = new Set(els.map((e) => e.data.id));
			const same = cy.elements().length === ids.size && cy.elements().every((e) => ids.has(e.id()));
			if (big !== cyBig) /* restyling costs as much as a first draw */
				cy.style(graphStyle(big));
			cyBig = big;
			if (same) {
				cy.batch(() => {
					for (const e of els) {
						const c = cy.getElementById(e.data.id);
						c.data(e.data);
						c.classes(e.classes);
					}
				});
				zoomed(); /* the zoom's classes, which e.classes lack */
			} else {
				if (quick)
					placeQuick(nodes, edges);
				cy.elements().remove();
				cy.add(els);
				if (quick)
					laidOut(els.length);
				else
					layout(els.length);
			}
		}
		if (selection) {
			showPanel();
			loadExtras();
		}
	}

	function layout(n) {
		/* dagre's network-simplex ranking gives the tightest layers but
		 * grows fast with the edges (about 3 s for 1000); past
		 * SIMPLEX_MAX_EDGES the tight-tree ranker (about a tenth of it) */
		const l = cy.layout({
			name: 'dagre', rankDir: 'LR', nodeSep: 24, rankSep: 90, edgeSep: 8,
			ranker: cy.edges().length > SIMPLEX_MAX_EDGES ? 'tight-tree' : 'network-simplex',
			fit: false, animate: false,
		});
		l.one('layoutstop', () => laidOut(n));
		l.run();
	}

	/* Sets the `position` of node elements (not yet in cy) by the layered
	 * layout; sizes as graphStyle draws them. */
	function placeQuick(nodes, edges) {
		const pos = layeredLayout(
			nodes.map((e) => ({ id: e.data.id, w: e.data.kiali.nodeType === 'service' ? 30 : 28, h: 28 })),
			edges.map((e) => e.data));
		for (const e of nodes)
			e.position = pos.get(e.data.id);
	}

	/* After a layout: frames the graph; ready once the laid-out graph has
	 * been drawn: after the next frame (cytoscape draws in
	 * requestAnimationFrame) */
	function laidOut(n) {
		fitNodes();
		zoomed();
		performance.mark('mixd-graph-layout');
		requestAnimationFrame(() => setTimeout(() => markReady(n), 0));
	}

	/* Labels the edges of a big graph once zoomed in far enough to read
	 * them, and unlabels them when zoomed out again; the same for their
	 * arrowheads (graphStyle). */
	function zoomed() {
		if (!cy || cy.elements().length <= BIG)
			return;
		const edges = cy.edges();
		for (const [cls, from] of [['lbl', LABEL_ZOOM], ['arw', ARROW_ZOOM]]) {
			const want = cy.zoom() >= from;
			if (edges.length && edges[0].hasClass(cls) !== want)
				cy.batch(() => edges.toggleClass(cls, want));
		}
	}

	/* Fits the view to the nodes' boxes. cytoscape's own fit measures
	 * every label and edge first (half a second for 1000 edges); node
	 * positions and sizes are enough to frame the graph. */
	function fitNodes() {
		const pad = 28;
		let x0 = Infinity;
		let y0 = Infinity;
		let x1 = -Infinity;
		let y1 = -Infinity;
		cy.nodes().forEach((n) => {
			if (n.isParent())
				return;
			const p = n.position();
			const w = n.width() / 2 + 12;
			const hh = n.height() / 2 + 26; /* the label below */
			x0 = Math.min(x0, p.x - w);
			x1 = Math.max(x1, p.x + w);
			y0 = Math.min(y0, p.y - hh);
			y1 = Math.max(y1, p.y + hh);
		});
		if (!Number.isFinite(x0))
			return;
		const W = cy.width();
		const H = cy.height();
		const zoom = Math.max(cy.minZoom(), Math.min(1.6, cy.maxZoom(),
			(W - 2 * pad) / Math.max(1, x1 - x0), (H - 2 * pad) / Math.max(1, y1 - y0)));
		cy.viewport({ zoom, pan: { x: W / 2 - zoom * (x0 + x1) / 2, y: H / 2 - zoom * (y0 + y1) / 2 } });
	}

	function pick(sel) {
		selection = sel;
		if (cy) {
			cy.elements().unselect();
			cy.getElementById(sel.id).select();
		}
		showPanel();
		/* the panel lies over the graph's right side: bring the picked
		 * element out from under it */
		if (cy) {
			const el = cy.getElementById(sel.id);
			if (el.length) {
				const x = el.isNode() ? el.renderedPosition('x') : el.renderedMidpoint().x;
				const limit = cy.width() - panel.offsetWidth - 40;
				if (x > limit)
					cy.panBy({ x: limit - x, y: 0 });
			}
		}
		loadExtras();
	}

	function closePanel() {
		selection = null;
		panel.hidden = true;
		clear(panel);
		if (cy)
			cy.elements().unselect();
	}

	function showPanel() {
		panel.hidden = false;
		replace(panel, panelContent(selection, current, pcts, known, st, closePanel));
		panel.dataset.kind = selection.kind;
		panel.dataset.id = selection.id;
	}

	/* latency percentiles of the current graph, and the trace services */
	async function loadExtras() {
		const key = current.key;
		const jobs = [];
		if (!known)
			jobs.push(api.services().then((s) => { known = s; }).catch(() => { known = []; }));
		if (pctsFor !== key) {
			pctsFor = key;
			jobs.push(Promise.all(['50', '95', '99'].map((q) =>
				api.graph({ ...st, appenders: 'responseTime', responseTime: q }).then((g) => [q,
					new Map(((g.elements && g.elements.edges) || [])
						.filter((e) => e.data.responseTime !== undefined)
						.map((e) => [e.data.id, e.data.responseTime]))])))
				.then((list) => { if (current.key === key) pcts = Object.fromEntries(list); })
				.catch(() => { if (current.key === key) pcts = { 50: new Map(), 95: new Map(), 99: new Map() }; }));
		}
		await Promise.all(jobs);
		if (!disposed && selection)
			showPanel();
	}

	load();

	return () => {
		disposed = true;
		clearTimeout(timer);
		if (inflight)
			inflight.abort();
		clearTimeout(zoomTimer);
		if (cy) {
			cy.destroy();
			cy = null;
			window.mixdGraph = null;
		}
	};
}
