/*
 * graph_layout.js - a layered left-to-right layout in about linear time,
 * for graphs too big for dagre to lay out within a page load (dagre takes
 * 300-500 ms for 1000 edges even with its cheapest ranker; this takes a
 * few ms). The steps are dagre's, each in its cheapest form:
 *
 *   1. cycles: a depth-first search from the roots reverses back edges;
 *   2. ranks: longest path from the roots, then every root is pulled right
 *      next to its nearest successor (so a caller sits beside its callees);
 *   3. order within a rank: a few barycenter sweeps down and up, with an
 *      edge's far end seen at its relative place in its own rank (no dummy
 *      nodes for edges that skip ranks);
 *   4. coordinates: the biggest rank is stacked around y = 0, every other
 *      rank (outwards from it) is placed at the mean y of its placed
 *      neighbours, kept `step` apart by pushing both ways and averaging.
 *
 * Compound nodes (boxes) are not handled: the caller uses dagre for them.
 */

/*
 * layeredLayout(nodes, edges, opts) -> Map id -> {x, y}
 * nodes: [{id, w, h}] (sizes of the drawn shapes); edges: [{source, target}]
 * (ends not among the nodes and self loops are ignored); opts: rankSep (px
 * between ranks, default 90), nodeSep (px between nodes of a rank, beyond
 * their height, default 34: room for the label under a node), sweeps
 * (default 4). Deterministic: the same input gives the same positions.
 */
export function layeredLayout(nodes, edges, { rankSep = 90, nodeSep = 34, sweeps = 4 } = {}) {
	const n = nodes.length;
	const res = new Map();
	if (!n)
		return res;
	const index = new Map();
	nodes.forEach((d, i) => index.set(d.id, i));
	const es = [];
	for (const e of edges) {
		const s = index.get(e.source);
		const t = index.get(e.target);
		if (s !== undefined && t !== undefined && s !== t)
			es.push(s, t);
	}
	const m = es.length / 2;

	/* adjacency (compressed rows) of the given edges, both ways */
	const csr = (from, to) => {
		const start = new Int32Array(n + 1);
		for (let k = 0; k < m; k++)
			start[from(k) + 1]++;
		for (let i = 0; i < n; i++)
			start[i + 1] += start[i];
		const fill = start.slice(0, n);
		const adj = new Int32Array(m);
		for (let k = 0; k < m; k++)
			adj[fill[from(k)]++] = to(k);
		return { start, adj };
	};
	const each = (g, v, fn) => {
		for (let p = g.start[v]; p < g.start[v + 1]; p++)
			fn(g.adj[p]);
	};

	/* 1. reverse back edges (iterative depth-first search, roots first) */
	const out0 = csr((k) => es[2 * k], (k) => k);
	const indeg0 = new Int32Array(n);
	for (let k = 0; k < m; k++)
		indeg0[es[2 * k + 1]]++;
	const state = new Uint8Array(n); /* 0 new, 1 on the stack, 2 done */
	const reversed = new Uint8Array(m);
	const firstSeen = [];
	const dfs = (root) => {
		const stack = [root];
		const at = [out0.start[root]];
		state[root] = 1;
		firstSeen.push(root);
		while (stack.length) {
			const v = stack[stack.length - 1];
			const p = at[at.length - 1];
			if (p === out0.start[v + 1]) {
				state[v] = 2;
				stack.pop();
				at.pop();
				continue;
			}
			at[at.length - 1] = p + 1;
			const k = out0.adj[p];
			const w = es[2 * k + 1];
			if (state[w] === 1) {
				reversed[k] = 1;
			} else if (state[w] === 0) {
				state[w] = 1;
				firstSeen.push(w);
				stack.push(w);
				at.push(out0.start[w]);
			}
		}
	};
	for (let v = 0; v < n; v++)
		if (indeg0[v] === 0 && state[v] === 0)
			dfs(v);
	for (let v = 0; v < n; v++)
		if (state[v] === 0)
			dfs(v);
	const tail = (k) => es[2 * k + reversed[k]];
	const head = (k) => es[2 * k + 1 - reversed[k]];
	const out = csr(tail, head);
	const inn = csr(head, tail);

	/* 2. ranks: longest path (topological order), roots pulled right */
	const rank = new Int32Array(n);
	const indeg = new Int32Array(n);
	for (let k = 0; k < m; k++)
		indeg[head(k)]++;
	const topo = [];
	for (const v of firstSeen)
		if (indeg[v] === 0)
			topo.push(v);
	for (let i = 0; i < topo.length; i++) {
		const v = topo[i];
		each(out, v, (w) => {
			rank[w] = Math.max(rank[w], rank[v] + 1);
			if (--indeg[w] === 0)
				topo.push(w);
		});
	}
	for (let i = topo.length - 1; i >= 0; i--) {
		const v = topo[i];
		if (inn.start[v] !== inn.start[v + 1] || out.start[v] === out.start[v + 1])
			continue;
		let r = Infinity;
		each(out, v, (w) => { r = Math.min(r, rank[w] - 1); });
		rank[v] = r;
	}
	/* drop empty ranks */
	const used = [...new Set(rank)].sort((a, b) => a - b);
	const dense = new Map(used.map((r, i) => [r, i]));
	const layers = used.map(() => []);
	for (const v of firstSeen) {
		rank[v] = dense.get(rank[v]);
		layers[rank[v]].push(v);
	}

	/* 3. order within the ranks: barycenter sweeps */
	const pos = new Float64Array(n);   /* index in its rank */
	const rel = (v) => (pos[v] + 0.5) / layers[rank[v]].length;
	const number = (layer) => layer.forEach((v, i) => { pos[v] = i; });
	layers.forEach(number);
	const key = new Float64Array(n);
	const sweep = (layer, g) => {
		for (const v of layer) {
			let sum = 0;
			let cnt = 0;
			each(g, v, (w) => { sum += rel(w); cnt++; });
			key[v] = cnt ? sum / cnt : rel(v);
		}
		layer.sort((a, b) => key[a] - key[b] || pos[a] - pos[b]);
		number(layer);
	};
	for (let s = 0; s < sweeps; s++) {
		for (let r = 1; r < layers.length; r++)
			sweep(layers[r], inn);
		for (let r = layers.length - 2; r >= 0; r--)
			sweep(layers[r], out);
	}

	/* 4. coordinates */
	const x = new Float64Array(layers.length);
	let step = 0;
	const widths = layers.map((layer) => layer.reduce((a, v) => Math.max(a, nodes[v].w || 0), 0));
	for (const d of nodes)
		step = Math.max(step, d.h || 0);
	step += nodeSep;
	for (let r = 1; r < layers.length; r++)
		x[r] = x[r - 1] + widths[r - 1] / 2 + rankSep + widths[r] / 2;
	const y = new Float64Array(n);
	const placed = new Uint8Array(n);
	let big = 0;
	layers.forEach((layer, r) => { if (layer.length > layers[big].length) big = r; });
	layers[big].forEach((v, i) => { y[v] = (i - (layers[big].length - 1) / 2) * step; placed[v] = 1; });
	const place = (layer) => {
		const len = layer.length;
		const want = new Float64Array(len);
		let last = NaN;
		layer.forEach((v, i) => {
			let sum = 0;
			let cnt = 0;
			const add = (w) => { if (placed[w]) { sum += y[w]; cnt++; } };
			each(out, v, add);
			each(inn, v, add);
			want[i] = cnt ? sum / cnt : Number.isFinite(last) ? last + step : 0;
			last = want[i];
		});
		const a = new Float64Array(len);
		const b = new Float64Array(len);
		for (let i = 0; i < len; i++)
			a[i] = i ? Math.max(want[i], a[i - 1] + step) : want[i];
		for (let i = len - 1; i >= 0; i--)
			b[i] = i < len - 1 ? Math.min(want[i], b[i + 1] - step) : want[i];
		layer.forEach((v, i) => { y[v] = (a[i] + b[i]) / 2; placed[v] = 1; });
	};
	for (let r = big - 1; r >= 0; r--)
		place(layers[r]);
	for (let r = big + 1; r < layers.length; r++)
		place(layers[r]);

	for (let v = 0; v < n; v++)
		res.set(nodes[v].id, { x: x[rank[v]], y: y[v] });
	return res;
}
