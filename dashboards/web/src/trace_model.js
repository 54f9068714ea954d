/*
 * trace_model.js - a Jaeger-JSON trace (as GET /api/traces/{id} and the
 * search return it) as the views use it: the span tree (parent = the first
 * CHILD_OF reference to a span of the same trace), spans in waterfall order
 * (depth first, siblings by start time), the root, errors, services.
 */

export function processOf(trace, span) {
	return (trace.processes && trace.processes[span.processID]) || { serviceName: '?', tags: [] };
}

export function serviceOf(trace, span) {
	return processOf(trace, span).serviceName || '?';
}

export function tag(span, key) {
	const t = (span.tags || []).find((x) => x.key === key);
	return t ? t.value : undefined;
}

export function isError(span) {
	const e = tag(span, 'error');
	return e === true || e === 'true' || tag(span, 'otel.status_code') === 'ERROR';
}

export function parentOf(span, byId) {
	for (const r of span.references || [])
		if (r.refType === 'CHILD_OF' && r.traceID === span.traceID && byId.has(r.spanID) && r.spanID !== span.spanID)
			return r.spanID;
	return null;
}

/*
 * The waterfall: {start (µs), end, duration, rows: [{span, depth, parent,
 * children}], byId, services: Map name -> span count, errors, depth}.
 * A span whose parent is missing is a root; roots and siblings are
 * ordered by start time; a cycle (bad data) cannot loop: each span is
 * placed once.
 */
export function buildTrace(trace) {
	const spans = trace.spans || [];
	const byId = new Map();
	for (const s of spans)
		if (!byId.has(s.spanID))
			byId.set(s.spanID, s);
	const children = new Map();
	const roots = [];
	for (const s of byId.values()) {
		const p = parentOf(s, byId);
		if (p === null) {
			roots.push(s);
		} else {
			if (!children.has(p))
				children.set(p, []);
			children.get(p).push(s);
		}
	}
	const byStart = (a, b) => a.startTime - b.startTime || (a.operationName < b.operationName ? -1 : 1);
	roots.sort(byStart);
	for (const list of children.values())
		list.sort(byStart);
	const rows = [];
	const placed = new Set();
	let maxDepth = 0;
	const stack = roots.slice().reverse().map((s) => [s, 0]);
	while (stack.length) {
		const [s, depth] = stack.pop();
		if (placed.has(s.spanID))
			continue;
		placed.add(s.spanID);
		const kids = children.get(s.spanID) || [];
		rows.push({ span: s, depth, nChildren: kids.length });
		maxDepth = Math.max(maxDepth, depth);
		for (let i = kids.length - 1; i >= 0; i--)
			stack.push([kids[i], depth + 1]);
	}
	/* spans only reachable through a cycle */
	for (const s of byId.values())
		if (!placed.has(s.spanID))
			rows.push({ span: s, depth: 0, nChildren: 0 });
	let start = Infinity;
	let end = -Infinity;
	const services = new Map();
	let errors = 0;
	for (const s of byId.values()) {
		start = Math.min(start, s.startTime);
		end = Math.max(end, s.startTime + s.duration);
		const svc = serviceOf(trace, s);
		services.set(svc, (services.get(svc) || 0) + 1);
		if (isError(s))
			errors++;
	}
	if (!byId.size) {
		start = 0;
		end = 0;
	}
	return {
		traceID: trace.traceID, rows, byId, services, errors, start, end,
		duration: end - start, depth: maxDepth + 1, root: roots[0] || rows[0]?.span || null,
	};
}

/* "service: operation" of a trace's root span. */
export function traceTitle(trace, model) {
	const r = model.root;
	return r ? `${serviceOf(trace, r)}: ${r.operationName}` : trace.traceID;
}
